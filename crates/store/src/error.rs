//! The error type shared by every backend.

use std::path::PathBuf;
use std::sync::Arc;

/// The error under a [`StoreError::Backend`]. Shared, so that one failure (a lost connection, a
/// failed transaction) can answer every write of a batch and still carry its cause.
pub type BackendSource = Arc<dyn std::error::Error + Send + Sync + 'static>;

/// Why a store operation failed.
///
/// Only [`StoreError::Conflict`] and [`StoreError::Fenced`] are part of normal operation (a
/// stale writer lost the race); every other variant means the operation could not be carried
/// out, and nothing was written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The session is not at `expected` (another writer committed, or it was deleted): nothing
    /// was written. `found` is the stored version, 0 when the session is absent.
    #[error("version conflict: expected {expected}, found {found}")]
    Conflict {
        /// The version the caller based its commit on.
        expected: u64,
        /// The version actually stored (0 = absent).
        found: u64,
    },
    /// The writer's claim on the session's partition is stale: another node claimed it since. Nothing was written.
    ///
    /// Returned by a commit carrying a [`Fence`](crate::Fence) whose epoch is not the
    /// partition's current one. It is checked before the version: a fenced writer learns that
    /// it lost the partition even when its version would also conflict.
    #[error(
        "fenced: partition {partition} is at epoch {current}, the commit carried epoch {epoch}"
    )]
    Fenced {
        /// The partition the commit was fenced with.
        partition: u32,
        /// The epoch the commit carried.
        epoch: u64,
        /// The partition's current epoch (0 = never claimed).
        current: u64,
    },
    /// A session key, idempotency key or partition owner cannot be stored (it contains a NUL character).
    #[error("invalid key: {0}")]
    InvalidKey(String),
    /// The storage engine failed (I/O error, corruption, a lost connection, …). `context` says
    /// what was being done; `source` is the error that made it fail, when there is one (walk
    /// [`std::error::Error::source`] for the whole chain). Build one with
    /// [`StoreError::backend`] or, without an underlying error, [`StoreError::backend_message`].
    #[error("storage failure: {context}")]
    Backend {
        /// What was being done, or what went wrong when there is no `source`.
        context: String,
        /// The cause.
        #[source]
        source: Option<BackendSource>,
    },
    /// A directory or file of the store could not be created or opened.
    #[error("cannot open the store at {}: {source}", path.display())]
    Open {
        /// The path that could not be opened.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The store kind given in the configuration is not one this build knows.
    #[error("unknown store kind `{0}`: expected `memory` or `embedded`, or a `postgres://` URL")]
    UnknownKind(String),
    /// The store was shut down by [`SessionStore::flush`](crate::SessionStore::flush) (or
    /// dropped): writes are refused.
    #[error("the store is shut down")]
    Closed,
}

impl StoreError {
    /// Whether this is a version conflict (the caller should reload and retry, or give up
    /// ownership), as opposed to a failure of the store.
    pub fn is_conflict(&self) -> bool {
        matches!(self, StoreError::Conflict { .. })
    }

    /// Whether this is [`StoreError::Fenced`]: the caller no longer owns the session's
    /// partition and must stop writing it (another node has claimed it).
    pub fn is_fenced(&self) -> bool {
        matches!(self, StoreError::Fenced { .. })
    }

    /// Whether this is [`StoreError::Backend`]: the store could not carry the operation out
    /// (retrying later may work).
    pub fn is_backend(&self) -> bool {
        matches!(self, StoreError::Backend { .. })
    }

    /// A [`StoreError::Backend`]: `context` says what was being done, `source` is why it failed.
    pub fn backend(
        context: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        StoreError::Backend {
            context: context.into(),
            source: Some(Arc::new(source)),
        }
    }

    /// A [`StoreError::Backend`] with only a message: for a failure that has no error value
    /// under it (an overflow, a missing row), or whose cause arrived as text (from a peer).
    pub fn backend_message(message: impl Into<String>) -> Self {
        StoreError::Backend {
            context: message.into(),
            source: None,
        }
    }
}
