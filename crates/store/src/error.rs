//! The error type shared by every backend.

use std::path::PathBuf;

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
    /// The storage engine failed (I/O error, corruption, …). The message says what was being done.
    #[error("storage failure: {0}")]
    Backend(String),
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

    /// A [`StoreError::Backend`] whose message is `context: error`.
    pub(crate) fn backend(context: &str, error: impl std::fmt::Display) -> Self {
        StoreError::Backend(format!("{context}: {error}"))
    }
}
