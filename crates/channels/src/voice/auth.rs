//! The relay's credentials: `Authorization: Bearer <token>`.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Why a caller was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No bearer token in the request.
    #[error("voice events need `Authorization: Bearer <token>`")]
    Missing,
    /// A token that is not the project's.
    #[error("invalid voice token")]
    Invalid,
}

/// Checks an `Authorization` header value against the project's token, in constant time.
///
/// ```
/// use turnstile_channels::voice::{AuthError, verify_bearer};
/// assert_eq!(verify_bearer("s3cret", Some("Bearer s3cret")), Ok(()));
/// assert_eq!(verify_bearer("s3cret", Some("Bearer guess")), Err(AuthError::Invalid));
/// assert_eq!(verify_bearer("s3cret", None), Err(AuthError::Missing));
/// ```
pub fn verify_bearer(token: &str, authorization: Option<&str>) -> Result<(), AuthError> {
    let given = authorization
        .map(str::trim)
        .and_then(|value| {
            let (scheme, credentials) = value.split_once(' ')?;
            // The scheme is case-insensitive (RFC 9110 §11.1).
            scheme
                .eq_ignore_ascii_case("bearer")
                .then_some(credentials.trim())
        })
        .filter(|credentials| !credentials.is_empty())
        .ok_or(AuthError::Missing)?;
    // Digests have one length whatever the token's, so the comparison's time says nothing
    // about the token, not even its length.
    let expected = Sha256::digest(token.as_bytes());
    let given = Sha256::digest(given.as_bytes());
    if !token.is_empty() && bool::from(expected.as_slice().ct_eq(given.as_slice())) {
        Ok(())
    } else {
        Err(AuthError::Invalid)
    }
}
