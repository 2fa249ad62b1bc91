//! Why a cluster operation failed.

use std::net::SocketAddr;
use std::time::Duration;

/// The cause an error of this crate keeps: any error, with its own chain of sources.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// A failure of membership or configuration.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClusterError {
    /// The configuration cannot work (an empty node id, …).
    #[error("invalid cluster configuration: {0}")]
    Config(String),
    /// Gossip could not start (the UDP address is taken, …).
    #[error("cannot start gossip on {addr}")]
    Gossip {
        /// The gossip listen address.
        addr: SocketAddr,
        /// What went wrong (chitchat's error, with its chain).
        #[source]
        source: BoxError,
    },
    /// The view did not reach the expected shape in time.
    #[error("the cluster view did not settle within {0:?}")]
    Timeout(Duration),
}
