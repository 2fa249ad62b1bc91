//! Durable session storage for turnstile.
//!
//! Each conversation (a [`SessionKey`]: project + user id) has one state, which this crate
//! treats as an opaque byte blob with a version. The session layer loads it, runs a turn, and
//! [commits](SessionStore::commit) the new state with compare-and-set on the version, so two
//! nodes that both believe they own a session cannot both commit the same version. A commit
//! can carry a [`TurnRecord`] (the turn's response under the client's idempotency key) so that
//! a retried request is answered from the store instead of running twice.
//!
//! In a cluster, the version alone does not stop a node that lost a session's partition from
//! committing the session's next version before the new owner loads it. So each node
//! [claims](SessionStore::claim_partition) the partitions it takes over, which raises the
//! partition's epoch, and fences its commits with a [`Fence`] (partition + epoch): from the
//! moment a claim returns, commits fenced with an older epoch of the partition fail with
//! [`StoreError::Fenced`]. Single-node deployments leave commits unfenced.
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
pub use error::{BackendSource, StoreError};
pub use key::SessionKey;
pub use memory::MemoryStore;
pub use model::{Commit, Fence, StoredSession, TurnRecord};
pub use postgres::PostgresStore;
pub use spec::{StoreSpec, open_store};

/// How many turn records a store keeps per session: committing the 65th record of a session
/// drops its oldest one, so a retry older than the last 64 recorded turns is no longer
/// recognised (the session layer then treats it as a new request).
pub const MAX_TURN_RECORDS_PER_SESSION: usize = 64;

/// Durable, versioned storage of session states.
///
/// Every method validates its keys first and returns [`StoreError::InvalidKey`] for a key
/// (or partition owner) containing NUL. The trait is object-safe: the server holds an
/// `Arc<dyn SessionStore>`.
#[async_trait::async_trait]
pub trait SessionStore: Send + Sync + 'static {
    /// The session, or `None` if it was never committed (or was deleted).
    async fn load(&self, key: &SessionKey) -> Result<Option<StoredSession>, StoreError>;

    /// Atomically: if the stored version equals `commit.expected_version` (0 = absent), writes
    /// the state with version `expected_version + 1` and the turn record (if any), and returns
    /// the new version. Otherwise returns [`StoreError::Conflict`] and writes nothing.
    ///
    /// A fenced commit (`commit.fence` is `Some`) is first checked against its partition's
    /// current epoch (0 if never claimed) in the same atomic step: on a mismatch it returns
    /// [`StoreError::Fenced`] and writes nothing, whatever the version.
    ///
    /// Durable when it returns `Ok` (embedded: fsynced). Committing a record whose idempotency
    /// key is already stored for the session replaces it. Records beyond
    /// [`MAX_TURN_RECORDS_PER_SESSION`] are dropped, oldest first.
    async fn commit(&self, key: &SessionKey, commit: Commit) -> Result<u64, StoreError>;

    /// Makes `owner` (a node id) the owner of `partition` under a new epoch — one more than the
    /// partition's previous epoch, 1 for its first claim — and returns that epoch. From then on a
    /// commit fenced with an older epoch of this partition fails with [`StoreError::Fenced`].
    ///
    /// Durable when it returns (embedded: fsynced; PostgreSQL: committed), and ordered with
    /// commits: a fenced commit applied after the claim returned sees the new epoch, one applied
    /// before it is not undone. Claims of different partitions are independent; claiming again
    /// (even by the same owner) raises the epoch again.
    async fn claim_partition(&self, partition: u32, owner: &str) -> Result<u64, StoreError>;

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
    /// shutdown). Later writes (`commit`, `delete`, `claim_partition`) return
    /// [`StoreError::Closed`]; reads keep working. Calling it again is `Ok`.
    async fn flush(&self) -> Result<(), StoreError>;

    /// How many sessions are stored (for tests and metrics; may scan).
    async fn count(&self) -> Result<u64, StoreError>;
}
