//! The values a store keeps: session states, commits and turn records.

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

/// One commit: the new state of a session, the version it was computed from, and optionally
/// the record of the turn that produced it.
///
/// ```
/// use turnstile_store::{Commit, TurnRecord};
///
/// // First turn of a session (expected version 0 = the session does not exist yet).
/// let commit = Commit::new(b"state".to_vec(), 0)
///     .with_record(TurnRecord::new("req-1", b"[]".to_vec()));
/// assert_eq!(commit.expected_version, 0);
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
}

impl Commit {
    /// A commit of `state` over `expected_version`, without a turn record.
    pub fn new(state: impl Into<Vec<u8>>, expected_version: u64) -> Self {
        Commit {
            state: state.into(),
            expected_version,
            record: None,
        }
    }

    /// The same commit, storing `record` with it.
    pub fn with_record(mut self, record: TurnRecord) -> Self {
        self.record = Some(record);
        self
    }

    /// The version this commit creates, or an error if `expected_version` is `u64::MAX`.
    pub(crate) fn new_version(&self) -> Result<u64, StoreError> {
        self.expected_version
            .checked_add(1)
            .ok_or_else(|| StoreError::Backend("session version overflow".to_owned()))
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
