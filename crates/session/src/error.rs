//! Why a session request failed.

use std::time::Duration;

use turnstile_store::StoreError;

/// The cause of an error, kept so that logs show the whole chain.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

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
    /// A `text` request longer than the limit, in characters; nothing ran.
    #[error("a text request is limited to {limit} characters (`max_text_chars`)")]
    TextTooLong {
        /// The limit, in characters.
        limit: usize,
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
    #[error("the session's node is unavailable: {reason}")]
    Unavailable {
        /// What was tried and what went wrong.
        reason: String,
        /// The error behind it, when there is one.
        #[source]
        source: Option<BoxError>,
    },
    /// The session stopped (its actor failed) before the turn or state operation ended; nothing
    /// was committed.
    #[error("the session stopped before the request finished; nothing was saved")]
    Interrupted,
    /// The turn failed inside the runtime (a bug); the session is reloaded from the store.
    #[error("the turn failed: {context}")]
    Internal {
        /// What the runtime was doing.
        context: String,
        /// The error behind it, when there is one.
        #[source]
        source: Option<BoxError>,
    },
}

impl SessionError {
    /// An [`Unavailable`](SessionError::Unavailable) error with nothing behind it.
    pub fn unavailable(reason: impl Into<String>) -> SessionError {
        SessionError::Unavailable {
            reason: reason.into(),
            source: None,
        }
    }

    /// An [`Internal`](SessionError::Internal) error with nothing behind it.
    pub fn internal(context: impl Into<String>) -> SessionError {
        SessionError::Internal {
            context: context.into(),
            source: None,
        }
    }

    /// An [`Internal`](SessionError::Internal) error caused by `source`.
    pub fn internal_from(context: impl Into<String>, source: impl Into<BoxError>) -> SessionError {
        SessionError::Internal {
            context: context.into(),
            source: Some(source.into()),
        }
    }

    /// This error and its causes, `: `-separated (what logs and clients are shown).
    ///
    /// ```
    /// use turnstile_session::SessionError;
    ///
    /// let cause = serde_json::from_str::<u8>("x").unwrap_err();
    /// let error = SessionError::internal_from("stored state does not parse", cause);
    /// assert!(error.chain().starts_with("the turn failed: stored state does not parse: expected"));
    /// ```
    pub fn chain(&self) -> String {
        let mut text = self.to_string();
        let mut cause = std::error::Error::source(self);
        while let Some(error) = cause {
            let shown = error.to_string();
            // A transparent wrapper shows its cause's message already.
            if !text.ends_with(&shown) {
                text.push_str(": ");
                text.push_str(&shown);
            }
            cause = error.source();
        }
        text
    }
}
