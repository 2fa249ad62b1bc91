//! An in-memory store: same semantics as the durable backends, nothing survives the process.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::key::{validate_idempotency_key, validate_owner};
use crate::{
    Commit, MAX_TURN_RECORDS_PER_SESSION, SessionKey, SessionStore, StoreError, StoredSession,
    TurnRecord,
};

/// A [`SessionStore`] kept in a `Mutex<HashMap>`, for tests and `--store memory`.
///
/// It has the same compare-and-set, fencing, turn-record and shutdown semantics as
/// [`EmbeddedStore`](crate::EmbeddedStore); "durable" here means "visible to later calls".
///
/// ```
/// use turnstile_store::{Commit, MemoryStore, SessionKey, SessionStore, TurnRecord};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), turnstile_store::StoreError> {
/// let store = MemoryStore::new();
/// let key = SessionKey::new("p", "u");
/// let commit = Commit::new(b"s".to_vec(), 0).with_record(TurnRecord::new("req-1", b"ok".to_vec()));
/// store.commit(&key, commit).await?;
/// let record = store.find_turn(&key, "req-1").await?.unwrap();
/// assert_eq!(record.response, b"ok");
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Default)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
    closed: AtomicBool,
}

/// Sessions and partition epochs under one lock, so that a fenced commit's epoch check and its
/// write are one step with respect to claims.
#[derive(Debug, Default)]
struct Inner {
    sessions: HashMap<SessionKey, Entry>,
    /// Partition → its current epoch; absent = 0 (never claimed).
    epochs: HashMap<u32, u64>,
}

#[derive(Debug)]
struct Entry {
    state: Vec<u8>,
    version: u64,
    /// Oldest first; at most `MAX_TURN_RECORDS_PER_SESSION`.
    records: VecDeque<TurnRecord>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn inner(&self) -> MutexGuard<'_, Inner> {
        // No code path panics while holding the lock with the maps half-updated, so a poisoned
        // lock still guards consistent maps.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn check_open(&self) -> Result<(), StoreError> {
        if self.closed.load(Ordering::Acquire) {
            return Err(StoreError::Closed);
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl SessionStore for MemoryStore {
    async fn load(&self, key: &SessionKey) -> Result<Option<StoredSession>, StoreError> {
        key.validate()?;
        Ok(self.inner().sessions.get(key).map(|entry| StoredSession {
            state: entry.state.clone(),
            version: entry.version,
        }))
    }

    async fn commit(&self, key: &SessionKey, commit: Commit) -> Result<u64, StoreError> {
        key.validate()?;
        commit.validate()?;
        self.check_open()?;
        let new_version = commit.new_version()?;
        let mut inner = self.inner();
        let Inner { sessions, epochs } = &mut *inner;
        commit.check_fence(|partition| epochs.get(&partition).copied().unwrap_or(0))?;
        let found = sessions.get(key).map_or(0, |entry| entry.version);
        if found != commit.expected_version {
            return Err(StoreError::Conflict {
                expected: commit.expected_version,
                found,
            });
        }
        let entry = sessions.entry(key.clone()).or_insert_with(|| Entry {
            state: Vec::new(),
            version: 0,
            records: VecDeque::new(),
        });
        entry.state = commit.state;
        entry.version = new_version;
        if let Some(record) = commit.record {
            entry
                .records
                .retain(|old| old.idempotency_key != record.idempotency_key);
            entry.records.push_back(record);
            while entry.records.len() > MAX_TURN_RECORDS_PER_SESSION {
                entry.records.pop_front();
            }
        }
        Ok(new_version)
    }

    async fn claim_partition(&self, partition: u32, owner: &str) -> Result<u64, StoreError> {
        validate_owner(owner)?;
        self.check_open()?;
        let mut inner = self.inner();
        let epoch = inner.epochs.entry(partition).or_insert(0);
        *epoch = epoch
            .checked_add(1)
            .ok_or_else(|| StoreError::backend_message("partition epoch overflow"))?;
        Ok(*epoch)
    }

    async fn delete(&self, key: &SessionKey) -> Result<(), StoreError> {
        key.validate()?;
        self.check_open()?;
        self.inner().sessions.remove(key);
        Ok(())
    }

    async fn find_turn(
        &self,
        key: &SessionKey,
        idempotency_key: &str,
    ) -> Result<Option<TurnRecord>, StoreError> {
        key.validate()?;
        validate_idempotency_key(idempotency_key)?;
        Ok(self.inner().sessions.get(key).and_then(|entry| {
            entry
                .records
                .iter()
                .find(|record| record.idempotency_key == idempotency_key)
                .cloned()
        }))
    }

    async fn flush(&self) -> Result<(), StoreError> {
        self.closed.store(true, Ordering::Release);
        Ok(())
    }

    async fn count(&self) -> Result<u64, StoreError> {
        Ok(self.inner().sessions.len() as u64)
    }
}
