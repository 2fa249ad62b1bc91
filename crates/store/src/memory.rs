//! An in-memory store: same semantics as the durable backends, nothing survives the process.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::key::validate_idempotency_key;
use crate::{
    Commit, MAX_TURN_RECORDS_PER_SESSION, SessionKey, SessionStore, StoreError, StoredSession,
    TurnRecord,
};

/// A [`SessionStore`] kept in a `Mutex<HashMap>`, for tests and `--store memory`.
///
/// It has the same compare-and-set, turn-record and shutdown semantics as
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
    sessions: Mutex<HashMap<SessionKey, Entry>>,
    closed: AtomicBool,
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

    fn sessions(&self) -> MutexGuard<'_, HashMap<SessionKey, Entry>> {
        // No code path panics while holding the lock with the map half-updated, so a poisoned
        // map is still consistent.
        self.sessions.lock().unwrap_or_else(PoisonError::into_inner)
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
        Ok(self.sessions().get(key).map(|entry| StoredSession {
            state: entry.state.clone(),
            version: entry.version,
        }))
    }

    async fn commit(&self, key: &SessionKey, commit: Commit) -> Result<u64, StoreError> {
        key.validate()?;
        commit.validate()?;
        self.check_open()?;
        let new_version = commit.new_version()?;
        let mut sessions = self.sessions();
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

    async fn delete(&self, key: &SessionKey) -> Result<(), StoreError> {
        key.validate()?;
        self.check_open()?;
        self.sessions().remove(key);
        Ok(())
    }

    async fn find_turn(
        &self,
        key: &SessionKey,
        idempotency_key: &str,
    ) -> Result<Option<TurnRecord>, StoreError> {
        key.validate()?;
        validate_idempotency_key(idempotency_key)?;
        Ok(self.sessions().get(key).and_then(|entry| {
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
        Ok(self.sessions().len() as u64)
    }
}
