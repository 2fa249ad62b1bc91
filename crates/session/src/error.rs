//! Why a session request failed.

use std::time::Duration;

use turnstile_store::StoreError;

/// A request the session layer could not serve. Every variant leaves the session intact.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// The session already has `limit` requests waiting.
    #[error("too many requests are waiting for this session (limit {limit})")]
    QueueFull {
        /// The configured queue length.
        limit: usize,
    },
    /// Too many sessions are busy to take a new one.
    #[error("too many active sessions (limit {limit}); try again shortly")]
    Overloaded {
        /// The configured cap on resident sessions.
        limit: usize,
    },
    /// The turn ran past its deadline; nothing was committed.
    #[error("the turn did not finish within {0:?}; nothing was saved")]
    DeadlineExceeded(Duration),
    /// No project with this id.
    #[error("unknown project `{0}`")]
    UnknownProject(String),
    /// The project has no agent under this version alias.
    #[error("project `{project}` has no `{version}` version")]
    UnknownVersion {
        /// The project.
        project: String,
        /// The version alias asked for.
        version: String,
    },
    /// A state given by the client does not fit the agent.
    #[error("invalid state: {0}")]
    InvalidState(String),
    /// The store failed, or refused a stale commit (a version conflict or a fenced claim).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The server is shutting down.
    #[error("the server is shutting down")]
    ShuttingDown,
    /// This node no longer owns the session (the cluster view changed): retry the request,
    /// with the same idempotency key, and it reaches the new owner.
    #[error("the session moved to another node; retry the request")]
    Moved,
    /// The node owning the session cannot be reached right now (it failed, or views are
    /// changing): retry shortly, with the same idempotency key.
    #[error("the session's node is unavailable: {0}")]
    Unavailable(String),
    /// The turn failed inside the runtime (a bug); the session is reloaded from the store.
    #[error("the turn failed: {0}")]
    Internal(String),
}
