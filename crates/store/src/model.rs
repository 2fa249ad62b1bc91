//! The values a store keeps: session states, commits, turn records and fencing tokens.

use crate::StoreError;
use crate::key::validate_idempotency_key;

/// A stored session: opaque state bytes and the version they were committed at (>= 1).
#[derive(Debug, Clone, PartialEq)]
pub struct StoredSession {
    /// The state as the engine serialized it; the store never looks inside.
    pub state: Vec<u8>,
    /// The version this state was committed at: 1 for the first commit, +1 for each later one.
    pub version: u64,
}

/// What a turn leaves behind so that a retry with the same idempotency key can be answered
/// without running the turn again.
///
/// Stores keep at most [`MAX_TURN_RECORDS_PER_SESSION`](crate::MAX_TURN_RECORDS_PER_SESSION)
/// records per session; committing one more drops the oldest.
#[derive(Debug, Clone, PartialEq)]
pub struct TurnRecord {
    /// The client's idempotency key (any text without NUL).
    pub idempotency_key: String,
    /// The turn's response as opaque bytes (the JSON of its traces). Not size-limited here: the
    /// server limits request and response sizes.
    pub response: Vec<u8>,
}

impl TurnRecord {
    /// A record answering retries of `idempotency_key` with `response`.
    pub fn new(idempotency_key: impl Into<String>, response: impl Into<Vec<u8>>) -> Self {
        TurnRecord {
            idempotency_key: idempotency_key.into(),
            response: response.into(),
        }
    }
}

/// A fencing token: the partition a session belongs to and the epoch under which the writer claimed it.
///
/// A node gets the epoch from [`SessionStore::claim_partition`](crate::SessionStore::claim_partition)
/// when it takes the partition over, and puts the token on every [`Commit`] of the partition's
/// sessions. Once another node has claimed the partition (a higher epoch), commits carrying
/// the old epoch fail with [`StoreError::Fenced`] and write nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fence {
    /// The partition the session belongs to (the cluster's `xxh3(key) % partitions`).
    pub partition: u32,
    /// The epoch the writer's claim on `partition` returned. A never-claimed partition is at
    /// epoch 0.
    pub epoch: u64,
}

/// One commit: the new state of a session, the version it was computed from, optionally the
/// record of the turn that produced it, and optionally the writer's [`Fence`].
///
/// ```
/// use turnstile_store::{Commit, Fence, TurnRecord};
///
/// // First turn of a session (expected version 0 = the session does not exist yet).
/// let commit = Commit::new(b"state".to_vec(), 0)
///     .with_record(TurnRecord::new("req-1", b"[]".to_vec()))
///     .with_fence(Fence { partition: 17, epoch: 3 });
/// assert_eq!(commit.expected_version, 0);
/// assert_eq!(commit.fence.map(|f| f.epoch), Some(3));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Commit {
    /// The new state.
    pub state: Vec<u8>,
    /// The version the state was computed from: the commit succeeds only if the session is
    /// still at this version (0 = absent), and the new version is `expected_version + 1`.
    pub expected_version: u64,
    /// The turn record stored atomically with the state, if any.
    pub record: Option<TurnRecord>,
    /// The writer's claim on the session's partition. With `Some`, the commit succeeds only
    /// while the partition is still at this epoch (checked before the version); with `None`
    /// (single-node deployments) no epoch is checked.
    pub fence: Option<Fence>,
}

impl Commit {
    /// A commit of `state` over `expected_version`, without a turn record.
    pub fn new(state: impl Into<Vec<u8>>, expected_version: u64) -> Self {
        Commit {
            state: state.into(),
            expected_version,
            record: None,
            fence: None,
        }
    }

    /// The same commit, storing `record` with it.
    pub fn with_record(mut self, record: TurnRecord) -> Self {
        self.record = Some(record);
        self
    }

    /// The same commit, fenced: it fails with [`StoreError::Fenced`] unless `fence.partition`
    /// is still at `fence.epoch` when it is applied.
    pub fn with_fence(mut self, fence: Fence) -> Self {
        self.fence = Some(fence);
        self
    }

    /// [`StoreError::Fenced`] unless the commit's fence (if any) matches `current`, the
    /// epoch its partition is at.
    pub(crate) fn check_fence(&self, current: impl FnOnce(u32) -> u64) -> Result<(), StoreError> {
        match self.fence {
            None => Ok(()),
            Some(fence) => {
                let current = current(fence.partition);
                if current == fence.epoch {
                    Ok(())
                } else {
                    Err(StoreError::Fenced {
                        partition: fence.partition,
                        epoch: fence.epoch,
                        current,
                    })
                }
            }
        }
    }

    /// The version this commit creates, or an error if `expected_version` is `u64::MAX`.
    pub(crate) fn new_version(&self) -> Result<u64, StoreError> {
        self.expected_version
            .checked_add(1)
            .ok_or_else(|| StoreError::backend_message("session version overflow"))
    }

    /// Checks what can be checked before touching storage: the record's idempotency key and the
    /// version arithmetic.
    pub(crate) fn validate(&self) -> Result<(), StoreError> {
        if let Some(record) = &self.record {
            validate_idempotency_key(&record.idempotency_key)?;
        }
        self.new_version().map(drop)
    }
}
