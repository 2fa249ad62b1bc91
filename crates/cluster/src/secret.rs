//! The cluster's shared secret. Every `Cluster/Forward` call carries it as gRPC metadata
//! ([`SECRET_METADATA_KEY`]); a node that has one refuses a call without it, or with another.
//!
//! The internal service runs requests as the node that forwarded them already authenticated
//! them: whoever can call it can read and change any project's sessions. The secret keeps that
//! to the nodes. It authenticates callers only: the calls themselves are not encrypted.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tonic::metadata::{AsciiMetadataValue, MetadataMap};

/// The gRPC metadata key a forwarded call carries the secret in.
pub const SECRET_METADATA_KEY: &str = "turnstile-cluster-secret";

/// The shortest secret accepted, in bytes (`openssl rand -hex 32` makes a good one).
pub const MIN_SECRET_BYTES: usize = 16;

/// Why a configured secret cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidSecret {
    /// Shorter than [`MIN_SECRET_BYTES`].
    #[error(
        "the cluster secret has {len} bytes; use at least {MIN_SECRET_BYTES} (for example the \
         output of `openssl rand -hex 32`)"
    )]
    TooShort {
        /// Its length, in bytes.
        len: usize,
    },
    /// It has characters other than visible ASCII (it travels as a gRPC metadata value).
    #[error(
        "the cluster secret may only hold visible ASCII characters (no spaces, line breaks or \
         other control characters)"
    )]
    Characters,
}

/// Why a call was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretRejected {
    /// The call carries no secret.
    #[error(
        "this node's Cluster service needs the cluster secret, and the call carries none (the \
         `{SECRET_METADATA_KEY}` metadata): give every node the same [cluster] secret or \
         TURNSTILE_CLUSTER_SECRET"
    )]
    Missing,
    /// The call carries another secret.
    #[error(
        "the call's cluster secret is not this node's: give every node the same [cluster] \
         secret or TURNSTILE_CLUSTER_SECRET"
    )]
    Wrong,
}

/// A cluster's shared secret. Its [`Debug`](std::fmt::Debug) shows nothing of it.
#[derive(Clone)]
pub struct ClusterSecret {
    /// As sent: marked sensitive, so HTTP/2 never puts it in its header compression tables.
    value: AsciiMetadataValue,
    /// What calls are checked against: digests have one length whatever the secret's, so the
    /// comparison's time says nothing about it, not even its length.
    digest: [u8; 32],
}

impl ClusterSecret {
    /// Checks a configured secret: at least [`MIN_SECRET_BYTES`] of visible ASCII.
    ///
    /// ```
    /// use turnstile_cluster::{ClusterSecret, InvalidSecret};
    /// assert!(ClusterSecret::new("9f1c2d6551e4a0b7c3d8").is_ok());
    /// assert_eq!(ClusterSecret::new("short").err(), Some(InvalidSecret::TooShort { len: 5 }));
    /// assert_eq!(
    ///     ClusterSecret::new("with a space in it").err(),
    ///     Some(InvalidSecret::Characters)
    /// );
    /// ```
    pub fn new(secret: &str) -> Result<ClusterSecret, InvalidSecret> {
        if !secret.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(InvalidSecret::Characters);
        }
        if secret.len() < MIN_SECRET_BYTES {
            return Err(InvalidSecret::TooShort { len: secret.len() });
        }
        let mut value =
            AsciiMetadataValue::try_from(secret).map_err(|_| InvalidSecret::Characters)?;
        value.set_sensitive(true);
        Ok(ClusterSecret {
            value,
            digest: digest(secret.as_bytes()),
        })
    }

    /// Adds the secret to a call's metadata.
    pub fn attach(&self, metadata: &mut MetadataMap) {
        metadata.insert(SECRET_METADATA_KEY, self.value.clone());
    }

    /// Checks the secret a call carries, in constant time.
    ///
    /// ```
    /// use tonic::metadata::MetadataMap;
    /// use turnstile_cluster::{ClusterSecret, SecretRejected};
    /// let secret = ClusterSecret::new("9f1c2d6551e4a0b7c3d8").unwrap();
    /// let mut call = MetadataMap::new();
    /// assert_eq!(secret.verify(&call), Err(SecretRejected::Missing));
    /// ClusterSecret::new("9f1c2d6551e4a0b7c3d9").unwrap().attach(&mut call);
    /// assert_eq!(secret.verify(&call), Err(SecretRejected::Wrong));
    /// secret.attach(&mut call);
    /// assert_eq!(secret.verify(&call), Ok(()));
    /// ```
    pub fn verify(&self, metadata: &MetadataMap) -> Result<(), SecretRejected> {
        let given = metadata
            .get(SECRET_METADATA_KEY)
            .ok_or(SecretRejected::Missing)?;
        if bool::from(digest(given.as_bytes()).ct_eq(&self.digest)) {
            Ok(())
        } else {
            Err(SecretRejected::Wrong)
        }
    }
}

impl std::fmt::Debug for ClusterSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClusterSecret(..)")
    }
}

fn digest(bytes: &[u8]) -> [u8; 32] {
    let mut out = [0; 32];
    out.copy_from_slice(&Sha256::digest(bytes));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_secret_is_not_shown() {
        let secret = ClusterSecret::new("do-not-print-me-0123").unwrap();
        assert_eq!(format!("{secret:?}"), "ClusterSecret(..)");
        let mut call = MetadataMap::new();
        secret.attach(&mut call);
        assert!(call.get(SECRET_METADATA_KEY).unwrap().is_sensitive());
    }

    #[test]
    fn only_the_same_secret_passes() {
        let secret = ClusterSecret::new("0123456789abcdef").unwrap();
        for given in [
            "",
            "0123456789abcde",
            "0123456789abcdef0",
            "0123456789abcdeF",
        ] {
            let mut call = MetadataMap::new();
            call.insert(SECRET_METADATA_KEY, given.parse().unwrap());
            assert_eq!(
                secret.verify(&call),
                Err(SecretRejected::Wrong),
                "{given:?}"
            );
        }
        assert_eq!(
            ClusterSecret::new("tab\tinside-the-secret").err(),
            Some(InvalidSecret::Characters)
        );
        assert_eq!(
            ClusterSecret::new("é-is-not-ascii-at-all").err(),
            Some(InvalidSecret::Characters)
        );
    }
}
