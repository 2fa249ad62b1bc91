//! The embedded backend: one redb file, written by a group-commit thread.

mod tables;
mod writer;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::thread::JoinHandle;
use std::time::Duration;

use redb::{Database, ReadTransaction};
use tokio::sync::oneshot;

use self::writer::{Counters, Request, Writer};
use crate::key::{validate_idempotency_key, validate_owner};
use crate::{Commit, SessionKey, SessionStore, StoreError, StoredSession, TurnRecord};

/// Tuning of the [`EmbeddedStore`]'s group-commit writer.
///
/// Build it with struct update syntax so that later fields keep their defaults:
///
/// ```
/// use std::time::Duration;
/// use turnstile_store::EmbeddedOptions;
///
/// let options = EmbeddedOptions { max_wait: Duration::from_micros(500), ..Default::default() };
/// assert_eq!(options.max_batch, 256);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmbeddedOptions {
    /// The most writes applied in one transaction (one fsync). Default 256; 0 counts as 1.
    pub max_batch: usize,
    /// How long the writer waits for more writes once it has one and the queue is empty.
    ///
    /// Default 0: the writer never waits. Batches still form on their own, because writes that
    /// arrive while a batch is being fsynced queue up and all go into the next batch; a
    /// sequential caller then pays no extra latency. A positive wait only helps when writers
    /// are few and the fsync is fast, and it adds up to that much latency to every commit.
    pub max_wait: Duration,
    /// The most memory redb's page cache may use. Default 16 MiB: the cache only speeds up
    /// loading a session that is not resident and reading leaf pages the OS page cache holds
    /// anyway, so it is kept small next to the sessions resident in the actors.
    pub cache_bytes: usize,
}

impl Default for EmbeddedOptions {
    fn default() -> Self {
        EmbeddedOptions {
            max_batch: 256,
            max_wait: Duration::ZERO,
            cache_bytes: 16 * 1024 * 1024,
        }
    }
}

/// What the [`EmbeddedStore`]'s writer has done since the store was opened.
///
/// `commits / batches` is the number of commits per fsync.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoreStats {
    /// Commits written and acknowledged.
    pub commits: u64,
    /// Commits refused with [`StoreError::Conflict`].
    pub conflicts: u64,
    /// Commits refused with [`StoreError::Fenced`].
    pub fenced: u64,
    /// Deletes carried out (including of absent sessions).
    pub deletes: u64,
    /// Partition claims written ([`SessionStore::claim_partition`]).
    pub claims: u64,
    /// Write transactions committed, i.e. fsyncs. A batch that changed nothing (only
    /// refused commits or deletes of absent sessions) is not committed and not counted.
    pub batches: u64,
}

impl StoreStats {
    /// Average commits per fsync (0 before the first batch).
    pub fn commits_per_batch(&self) -> f64 {
        if self.batches == 0 {
            0.0
        } else {
            self.commits as f64 / self.batches as f64
        }
    }
}

/// A [`SessionStore`] in one redb file (`dir/sessions.redb`), for single-node deployments.
///
/// Writes go through one writer thread that commits many of them per fsync (see
/// [`EmbeddedOptions`]); a commit returns `Ok` only after its batch is on disk, so a process
/// killed at any moment loses no acknowledged commit. Reads run in redb read transactions
/// (MVCC: they never wait for the writer) on tokio's blocking pool, since a read may go to
/// disk. Requires a tokio runtime.
///
/// The caller's future may be dropped while its commit is queued: the commit is then still
/// applied, but nobody learns of it; reload before retrying.
///
/// Dropping the store stops the writer after the batch in progress (blocking the dropping
/// thread for at most that long); queued writes not yet started are answered
/// [`StoreError::Closed`]. Call [`SessionStore::flush`] first to finish them.
///
/// ```no_run
/// use std::path::Path;
/// use turnstile_store::{Commit, EmbeddedOptions, EmbeddedStore, SessionKey, SessionStore};
///
/// # #[tokio::main]
/// # async fn main() -> Result<(), turnstile_store::StoreError> {
/// let store = EmbeddedStore::open(Path::new("/var/lib/turnstile"), EmbeddedOptions::default())?;
/// let version = store.commit(&SessionKey::new("p", "u"), Commit::new(b"state".to_vec(), 0)).await?;
/// println!("committed v{version}; {:.1} commits per fsync", store.stats().commits_per_batch());
/// store.flush().await?;
/// # Ok(())
/// # }
/// ```
pub struct EmbeddedStore {
    db: Arc<Database>,
    path: PathBuf,
    requests: mpsc::Sender<Request>,
    counters: Arc<Counters>,
    closing: AtomicBool,
    writer: Option<JoinHandle<()>>,
}

impl EmbeddedStore {
    /// The database file's name inside the store directory.
    pub const FILE_NAME: &'static str = "sessions.redb";

    /// Opens (or creates) the store in `dir`, creating the directory if needed, and starts its
    /// writer thread. Fails if another process (or another `EmbeddedStore`) has the file open.
    pub fn open(dir: &Path, options: EmbeddedOptions) -> Result<Self, StoreError> {
        std::fs::create_dir_all(dir).map_err(|source| StoreError::Open {
            path: dir.to_path_buf(),
            source,
        })?;
        let path = dir.join(Self::FILE_NAME);
        let context = || format!("opening {}", path.display());
        let db = Database::builder()
            .set_cache_size(options.cache_bytes)
            .create(&path)
            .map_err(|e| StoreError::backend(context(), e))?;
        tables::create(&db).map_err(|e| StoreError::backend(context(), e))?;
        let db = Arc::new(db);
        let counters = Arc::new(Counters::default());
        let (requests, receiver) = mpsc::channel();
        let writer = Writer {
            db: Arc::clone(&db),
            requests: receiver,
            max_batch: options.max_batch.max(1),
            max_wait: options.max_wait,
            counters: Arc::clone(&counters),
        }
        .spawn()
        .map_err(|source| StoreError::Open {
            path: path.clone(),
            source,
        })?;
        Ok(EmbeddedStore {
            db,
            path,
            requests,
            counters,
            closing: AtomicBool::new(false),
            writer: Some(writer),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The writer's counters so far.
    pub fn stats(&self) -> StoreStats {
        self.counters.snapshot()
    }

    /// Queues a write and waits for its answer.
    async fn write<T>(
        &self,
        request: impl FnOnce(oneshot::Sender<Result<T, StoreError>>) -> Request,
    ) -> Result<T, StoreError> {
        if self.closing.load(Ordering::Acquire) {
            return Err(StoreError::Closed);
        }
        let (reply, answer) = oneshot::channel();
        self.requests
            .send(request(reply))
            .map_err(|_| StoreError::Closed)?;
        // The writer drops unanswered requests only when it stops.
        answer.await.map_err(|_| StoreError::Closed)?
    }

    /// Runs `read` in a read transaction on the blocking pool.
    async fn read<T: Send + 'static>(
        &self,
        what: &'static str,
        read: impl FnOnce(&ReadTransaction) -> Result<T, redb::Error> + Send + 'static,
    ) -> Result<T, StoreError> {
        let db = Arc::clone(&self.db);
        tokio::task::spawn_blocking(move || read(&tables::begin_read(&db)?))
            .await
            .map_err(|e| StoreError::backend(what, e))?
            .map_err(|e| StoreError::backend(what, e))
    }
}

#[async_trait::async_trait]
impl SessionStore for EmbeddedStore {
    async fn load(&self, key: &SessionKey) -> Result<Option<StoredSession>, StoreError> {
        key.validate()?;
        let key = key.clone();
        self.read("loading a session", move |txn| tables::load(txn, &key))
            .await
    }

    async fn commit(&self, key: &SessionKey, commit: Commit) -> Result<u64, StoreError> {
        key.validate()?;
        commit.validate()?;
        let key = key.clone();
        self.write(|reply| Request::Commit { key, commit, reply })
            .await
    }

    async fn claim_partition(&self, partition: u32, owner: &str) -> Result<u64, StoreError> {
        // The embedded store is single-node: the owner is checked, not stored.
        validate_owner(owner)?;
        self.write(|reply| Request::Claim { partition, reply })
            .await
    }

    async fn delete(&self, key: &SessionKey) -> Result<(), StoreError> {
        key.validate()?;
        let key = key.clone();
        self.write(|reply| Request::Delete { key, reply }).await
    }

    async fn find_turn(
        &self,
        key: &SessionKey,
        idempotency_key: &str,
    ) -> Result<Option<TurnRecord>, StoreError> {
        key.validate()?;
        validate_idempotency_key(idempotency_key)?;
        let (key, idempotency_key) = (key.clone(), idempotency_key.to_owned());
        self.read("reading a turn record", move |txn| {
            tables::find_turn(txn, &key, &idempotency_key)
        })
        .await
    }

    async fn flush(&self) -> Result<(), StoreError> {
        self.closing.store(true, Ordering::Release);
        let (reply, done) = oneshot::channel();
        if self.requests.send(Request::Shutdown { reply }).is_ok() {
            // An error means the writer had already stopped (an earlier flush): either way,
            // it has finished its last batch when this returns.
            let _ = done.await;
        }
        Ok(())
    }

    async fn count(&self) -> Result<u64, StoreError> {
        self.read("counting sessions", tables::count).await
    }
}

impl Drop for EmbeddedStore {
    fn drop(&mut self) {
        self.closing.store(true, Ordering::Release);
        let (reply, _) = oneshot::channel();
        let _ = self.requests.send(Request::Shutdown { reply });
        if let Some(writer) = self.writer.take() {
            // Err means the writer panicked; its callers already got `Closed`.
            let _ = writer.join();
        }
    }
}

impl fmt::Debug for EmbeddedStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmbeddedStore")
            .field("path", &self.path)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests;
