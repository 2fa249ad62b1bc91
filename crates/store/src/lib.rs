//! Durable session storage for turnstile.
//!
//! Each conversation (a [`SessionKey`]: project + user id) has one state, which this crate
//! treats as an opaque byte blob with a version. The session layer loads it, runs a turn, and
//! [commits](SessionStore::commit) the new state with compare-and-set on the version, so two
//! nodes that both believe they own a session cannot both commit the same version. A commit
//! can carry a [`TurnRecord`] (the turn's response under the client's idempotency key) so that
//! a retried request is answered from the store instead of running twice.
//!
//! Backends:
//! - [`MemoryStore`]: a map behind a mutex, for tests and `--store memory`;
//! - [`EmbeddedStore`]: a [redb](https://docs.rs/redb) file with a group-commit writer thread
//!   (one fsync for many sessions' commits), for single-node deployments;
//! - [`PostgresStore`]: PostgreSQL, shared by the nodes of a cluster (group-committing writer).
//!
//! [`open_store`] builds either from a [`StoreSpec`].
//!
//! ```
//! use std::sync::Arc;
//! use turnstile_store::{Commit, MemoryStore, SessionKey, SessionStore, StoreError};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), StoreError> {
//! let store: Arc<dyn SessionStore> = Arc::new(MemoryStore::new());
//! let key = SessionKey::new("acme", "user-1");
//! assert_eq!(store.load(&key).await?, None);
//! assert_eq!(store.commit(&key, Commit::new(b"v1".to_vec(), 0)).await?, 1);
//! // A writer that still believes the session is absent loses:
//! let stale = store.commit(&key, Commit::new(b"other".to_vec(), 0)).await;
//! assert!(matches!(stale, Err(StoreError::Conflict { expected: 0, found: 1 })));
//! # Ok(())
//! # }
//! ```

#![warn(missing_docs)]

mod embedded;
mod error;
mod key;
mod memory;
mod model;
mod postgres;
mod spec;

pub use embedded::{EmbeddedOptions, EmbeddedStore, StoreStats};
pub use error::StoreError;
pub use key::SessionKey;
pub use memory::MemoryStore;
pub use model::{Commit, StoredSession, TurnRecord};
pub use postgres::PostgresStore;
pub use spec::{StoreSpec, open_store};

/// How many turn records a store keeps per session: committing the 65th record of a session
/// drops its oldest one, so a retry older than the last 64 recorded turns is no longer
/// recognised (the session layer then treats it as a new request).
pub const MAX_TURN_RECORDS_PER_SESSION: usize = 64;

/// Durable, versioned storage of session states.
///
/// Every method validates its keys first and returns [`StoreError::InvalidKey`] for a key
/// containing NUL. The trait is object-safe: the server holds an `Arc<dyn SessionStore>`.
#[async_trait::async_trait]
pub trait SessionStore: Send + Sync + 'static {
    /// The session, or `None` if it was never committed (or was deleted).
    async fn load(&self, key: &SessionKey) -> Result<Option<StoredSession>, StoreError>;

    /// Atomically: if the stored version equals `commit.expected_version` (0 = absent), writes
    /// the state with version `expected_version + 1` and the turn record (if any), and returns
    /// the new version. Otherwise returns [`StoreError::Conflict`] and writes nothing.
    ///
    /// Durable when it returns `Ok` (embedded: fsynced). Committing a record whose idempotency
    /// key is already stored for the session replaces it. Records beyond
    /// [`MAX_TURN_RECORDS_PER_SESSION`] are dropped, oldest first.
    async fn commit(&self, key: &SessionKey, commit: Commit) -> Result<u64, StoreError>;

    /// Removes the session and its turn records. Deleting an absent session is `Ok`. The next
    /// commit of the key starts again at expected version 0.
    async fn delete(&self, key: &SessionKey) -> Result<(), StoreError>;

    /// The record of a committed turn with this idempotency key, if the store still keeps it.
    async fn find_turn(
        &self,
        key: &SessionKey,
        idempotency_key: &str,
    ) -> Result<Option<TurnRecord>, StoreError>;

    /// Waits until everything acknowledged is durable and stops background work (graceful
    /// shutdown). Later writes (`commit`, `delete`) return [`StoreError::Closed`]; reads keep
    /// working. Calling it again is `Ok`.
    async fn flush(&self) -> Result<(), StoreError>;

    /// How many sessions are stored (for tests and metrics; may scan).
    async fn count(&self) -> Result<u64, StoreError>;
}
