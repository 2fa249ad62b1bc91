//! Why a session request failed.

use std::time::Duration;

use turnstile_store::StoreError;

/// A request the session layer could not serve. Every variant leaves the session intact.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// The session already has `limit` requests waiting.
    #[error("too many requests are waiting for this session (limit {limit})")]
    QueueFull { limit: usize },
    /// Too many sessions are busy to take a new one.
    #[error("too many active sessions (limit {limit}); try again shortly")]
    Overloaded { limit: usize },
    /// The turn ran past its deadline; nothing was committed.
    #[error("the turn did not finish within {0:?}; nothing was saved")]
    DeadlineExceeded(Duration),
    #[error("unknown project `{0}`")]
    UnknownProject(String),
    #[error("project `{project}` has no `{version}` version")]
    UnknownVersion { project: String, version: String },
    #[error("invalid state: {0}")]
    InvalidState(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The server is shutting down.
    #[error("the server is shutting down")]
    ShuttingDown,
    /// The turn failed inside the runtime (a bug); the session is reloaded from the store.
    #[error("the turn failed: {0}")]
    Internal(String),
}
