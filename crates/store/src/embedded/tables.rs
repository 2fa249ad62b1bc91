//! The redb tables of the embedded store and the operations on them.
//!
//! Keys are redb tuples, which redb encodes with length prefixes, so `("a:b", "c")` and
//! `("a", "b:c")` never collide whatever the parts contain. Tuples compare element by element,
//! which makes `(project, user, 0)..=(project, user, u64::MAX)` exactly one session's range.

use redb::{
    Database, ReadTransaction, ReadableDatabase, ReadableTable, ReadableTableMetadata, Table,
    TableDefinition, WriteTransaction,
};

use crate::{
    Commit, MAX_TURN_RECORDS_PER_SESSION, SessionKey, StoreError, StoredSession, TurnRecord,
};

/// `(project, user)` → `(version, state)`.
const SESSIONS: TableDefinition<(&str, &str), (u64, &[u8])> = TableDefinition::new("sessions");

/// `(project, user, idempotency key)` → `(sequence, response)`. The sequence is the session
/// version the record was committed with (one record per commit at most, so it is unique
/// within the session).
const TURNS: TableDefinition<(&str, &str, &str), (u64, &[u8])> = TableDefinition::new("turns");

/// `(project, user, sequence)` → idempotency key: a session's records in commit order, so
/// that the oldest can be dropped. Every `TURNS` row has exactly one row here.
const TURN_ORDER: TableDefinition<(&str, &str, u64), &str> = TableDefinition::new("turn_order");

/// Partition → its current epoch (the number of times it was claimed). A partition without a
/// row was never claimed: epoch 0.
const PARTITIONS: TableDefinition<u32, u64> = TableDefinition::new("partitions");

/// Creates the tables if the database is new, so that read transactions can open them.
pub(super) fn create(db: &Database) -> Result<(), redb::Error> {
    let txn = db.begin_write()?;
    Tables::open(&txn)?;
    txn.commit()?;
    Ok(())
}

/// The tables, opened in one write transaction.
pub(super) struct Tables<'txn> {
    sessions: Table<'txn, (&'static str, &'static str), (u64, &'static [u8])>,
    turns: Table<'txn, (&'static str, &'static str, &'static str), (u64, &'static [u8])>,
    order: Table<'txn, (&'static str, &'static str, u64), &'static str>,
    partitions: Table<'txn, u32, u64>,
}

impl<'txn> Tables<'txn> {
    pub(super) fn open(txn: &'txn WriteTransaction) -> Result<Self, redb::Error> {
        Ok(Tables {
            sessions: txn.open_table(SESSIONS)?,
            turns: txn.open_table(TURNS)?,
            order: txn.open_table(TURN_ORDER)?,
            partitions: txn.open_table(PARTITIONS)?,
        })
    }

    /// The partition's current epoch (0 = never claimed).
    fn epoch(&self, partition: u32) -> Result<u64, redb::Error> {
        Ok(self.partitions.get(partition)?.map_or(0, |e| e.value()))
    }

    /// Raises the partition's epoch by one and returns it. The outer error is a storage
    /// failure; the inner one an epoch overflow (nothing written).
    pub(super) fn claim(&mut self, partition: u32) -> Result<Result<u64, StoreError>, redb::Error> {
        let Some(epoch) = self.epoch(partition)?.checked_add(1) else {
            return Ok(Err(StoreError::backend_message("partition epoch overflow")));
        };
        self.partitions.insert(partition, epoch)?;
        Ok(Ok(epoch))
    }

    /// Applies one commit if its fence (if any) and expected version match what this
    /// transaction sees. The outer error is a storage failure (the whole transaction must be
    /// abandoned); the inner one is this commit's conflict or fencing.
    pub(super) fn commit(
        &mut self,
        key: &SessionKey,
        commit: &Commit,
    ) -> Result<Result<u64, StoreError>, redb::Error> {
        if let Some(fence) = commit.fence {
            let current = self.epoch(fence.partition)?;
            if let Err(fenced) = commit.check_fence(|_| current) {
                return Ok(Err(fenced));
            }
        }
        let (project, user) = (key.project.as_str(), key.user.as_str());
        let found = self
            .sessions
            .get((project, user))?
            .map_or(0, |stored| stored.value().0);
        if found != commit.expected_version {
            return Ok(Err(StoreError::Conflict {
                expected: commit.expected_version,
                found,
            }));
        }
        let version = match commit.new_version() {
            Ok(version) => version,
            Err(error) => return Ok(Err(error)),
        };
        self.sessions
            .insert((project, user), (version, commit.state.as_slice()))?;
        if let Some(record) = &commit.record {
            self.add_record(key, version, record)?;
        }
        Ok(Ok(version))
    }

    fn add_record(
        &mut self,
        key: &SessionKey,
        sequence: u64,
        record: &TurnRecord,
    ) -> Result<(), redb::Error> {
        let (project, user) = (key.project.as_str(), key.user.as_str());
        let idempotency_key = record.idempotency_key.as_str();
        let replaced = self
            .turns
            .insert(
                (project, user, idempotency_key),
                (sequence, record.response.as_slice()),
            )?
            .map(|old| old.value().0);
        if let Some(old_sequence) = replaced {
            self.order.remove((project, user, old_sequence))?;
        }
        self.order
            .insert((project, user, sequence), idempotency_key)?;

        let kept = self.order.range(session_range(key))?.count();
        if kept > MAX_TURN_RECORDS_PER_SESSION {
            let evicted = self.records_in_order(key, kept - MAX_TURN_RECORDS_PER_SESSION)?;
            self.remove_records(key, &evicted)?;
        }
        Ok(())
    }

    /// Removes the session and its records; whether anything was there.
    pub(super) fn delete(&mut self, key: &SessionKey) -> Result<bool, redb::Error> {
        let (project, user) = (key.project.as_str(), key.user.as_str());
        let existed = self.sessions.remove((project, user))?.is_some();
        let records = self.records_in_order(key, usize::MAX)?;
        self.remove_records(key, &records)?;
        Ok(existed || !records.is_empty())
    }

    /// The first `limit` `(sequence, idempotency key)` pairs of the session, oldest first.
    fn records_in_order(
        &self,
        key: &SessionKey,
        limit: usize,
    ) -> Result<Vec<(u64, String)>, redb::Error> {
        let mut records = Vec::new();
        for entry in self.order.range(session_range(key))?.take(limit) {
            let (order_key, idempotency_key) = entry?;
            records.push((order_key.value().2, idempotency_key.value().to_owned()));
        }
        Ok(records)
    }

    fn remove_records(
        &mut self,
        key: &SessionKey,
        records: &[(u64, String)],
    ) -> Result<(), redb::Error> {
        let (project, user) = (key.project.as_str(), key.user.as_str());
        for (sequence, idempotency_key) in records {
            self.order.remove((project, user, *sequence))?;
            self.turns
                .remove((project, user, idempotency_key.as_str()))?;
        }
        Ok(())
    }
}

/// All `TURN_ORDER` keys of one session.
fn session_range(key: &SessionKey) -> std::ops::RangeInclusive<(&str, &str, u64)> {
    let (project, user) = (key.project.as_str(), key.user.as_str());
    (project, user, 0)..=(project, user, u64::MAX)
}

/// Reads the session's state.
pub(super) fn load(
    txn: &ReadTransaction,
    key: &SessionKey,
) -> Result<Option<StoredSession>, redb::Error> {
    let sessions = txn.open_table(SESSIONS)?;
    let stored = sessions.get((key.project.as_str(), key.user.as_str()))?;
    Ok(stored.map(|stored| {
        let (version, state) = stored.value();
        StoredSession {
            state: state.to_vec(),
            version,
        }
    }))
}

/// Reads one turn record.
pub(super) fn find_turn(
    txn: &ReadTransaction,
    key: &SessionKey,
    idempotency_key: &str,
) -> Result<Option<TurnRecord>, redb::Error> {
    let turns = txn.open_table(TURNS)?;
    let stored = turns.get((key.project.as_str(), key.user.as_str(), idempotency_key))?;
    Ok(stored.map(|stored| TurnRecord {
        idempotency_key: idempotency_key.to_owned(),
        response: stored.value().1.to_vec(),
    }))
}

/// How many sessions are stored (redb keeps the count: no scan).
pub(super) fn count(txn: &ReadTransaction) -> Result<u64, redb::Error> {
    Ok(txn.open_table(SESSIONS)?.len()?)
}

/// A read transaction on `db`.
pub(super) fn begin_read(db: &Database) -> Result<ReadTransaction, redb::Error> {
    Ok(db.begin_read()?)
}
