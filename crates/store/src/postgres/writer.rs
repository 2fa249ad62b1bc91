//! The writer task: group commit with pipelined statements.
//!
//! The task takes every queued write (up to [`MAX_BATCH`]) and applies them in one
//! transaction. Writes to different sessions are independent, so their statements are issued
//! concurrently on the one connection, which pipelines them: a batch costs a few round trips
//! whatever its size, not a few per write. The writes of one session keep their arrival order
//! (they run one after the other), so two commits of a session in one batch behave as if run
//! in sequence. A conflicting or fenced commit is an answer, not an error: the other writes of
//! the batch still commit. If a statement fails, the whole batch fails with it.
//!
//! A fenced commit first locks its partition's row `FOR SHARE` and compares the epoch. A claim
//! (an update of that row, on another connection) therefore waits for every transaction that
//! checked the old epoch, and every transaction that checks after the claim sees the new one:
//! once a claim has returned, no commit fenced with an older epoch can succeed.

use std::collections::BTreeMap;

use futures_util::future::try_join_all;
use tokio::sync::{mpsc, oneshot};
use tokio_postgres::{Client, Statement, Transaction};

use super::backend;
use crate::{Commit, Fence, MAX_TURN_RECORDS_PER_SESSION, SessionKey, StoreError};

/// The most writes put into one transaction.
const MAX_BATCH: usize = 256;

/// A write queued for the writer task, with the channel its answer goes back on.
pub(super) enum Write {
    Commit {
        key: SessionKey,
        commit: Commit,
        reply: oneshot::Sender<Result<u64, StoreError>>,
    },
    Delete {
        key: SessionKey,
        reply: oneshot::Sender<Result<(), StoreError>>,
    },
}

impl Write {
    fn key(&self) -> &SessionKey {
        match self {
            Write::Commit { key, .. } | Write::Delete { key, .. } => key,
        }
    }

    fn answer(self, result: Result<u64, StoreError>) {
        // A caller that went away does not need its answer.
        match self {
            Write::Commit { reply, .. } => {
                let _ = reply.send(result);
            }
            Write::Delete { reply, .. } => {
                let _ = reply.send(result.map(drop));
            }
        }
    }
}

/// The writer's statements, prepared once on its connection.
pub(super) struct Statements {
    /// `(partition)` → the partition's epoch, row locked `FOR SHARE`.
    fence: Statement,
    /// `(partition)`: creates the partition's row at epoch 0 if it has none; returns a row only
    /// if it did.
    fence_row: Statement,
    /// `(project, user, state)`: creates a session at version 1 unless it exists.
    insert: Statement,
    /// `(project, user, expected version, state)`: the compare-and-set.
    update: Statement,
    /// `(project, user)` → version.
    version: Statement,
    /// `(project, user, idempotency key, seq, response)`: stores or replaces a turn record.
    record: Statement,
    /// `(project, user, kept)`: drops the session's records beyond the newest `kept`.
    trim: Statement,
    delete_session: Statement,
    delete_turns: Statement,
}

impl Statements {
    pub(super) async fn prepare(client: &Client) -> Result<Statements, StoreError> {
        let prepare = |sql: &'static str| async move {
            client
                .prepare(sql)
                .await
                .map_err(|e| backend("preparing statements", e))
        };
        Ok(Statements {
            fence: prepare("SELECT epoch FROM turnstile_partitions WHERE partition = $1 FOR SHARE")
                .await?,
            fence_row: prepare(
                "INSERT INTO turnstile_partitions (partition, epoch, owner) VALUES ($1, 0, '') \
                 ON CONFLICT (partition) DO NOTHING RETURNING epoch",
            )
            .await?,
            insert: prepare(
                "INSERT INTO turnstile_sessions (project, user_id, version, state) \
                 VALUES ($1, $2, 1, $3) ON CONFLICT DO NOTHING",
            )
            .await?,
            update: prepare(
                "UPDATE turnstile_sessions SET version = version + 1, state = $4 \
                 WHERE project = $1 AND user_id = $2 AND version = $3",
            )
            .await?,
            version: prepare(
                "SELECT version FROM turnstile_sessions WHERE project = $1 AND user_id = $2",
            )
            .await?,
            record: prepare(
                "INSERT INTO turnstile_turns (project, user_id, idempotency_key, seq, response) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (project, user_id, idempotency_key) \
                 DO UPDATE SET seq = excluded.seq, response = excluded.response",
            )
            .await?,
            trim: prepare(
                "DELETE FROM turnstile_turns WHERE project = $1 AND user_id = $2 AND seq <= \
                 (SELECT seq FROM turnstile_turns WHERE project = $1 AND user_id = $2 \
                  ORDER BY seq DESC OFFSET $3 LIMIT 1)",
            )
            .await?,
            delete_session: prepare(
                "DELETE FROM turnstile_sessions WHERE project = $1 AND user_id = $2",
            )
            .await?,
            delete_turns: prepare(
                "DELETE FROM turnstile_turns WHERE project = $1 AND user_id = $2",
            )
            .await?,
        })
    }
}

/// Applies queued writes in batches, one transaction per batch, until every sender is gone.
pub(super) async fn write_loop(
    mut client: Client,
    statements: Statements,
    mut queue: mpsc::UnboundedReceiver<Write>,
) {
    while let Some(first) = queue.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(write) => batch.push(write),
                Err(_) => break,
            }
        }
        match apply(&mut client, &statements, &batch).await {
            Ok(results) => {
                for (write, result) in batch.into_iter().zip(results) {
                    write.answer(result);
                }
            }
            Err(e) => {
                let message = e.to_string();
                for write in batch {
                    write.answer(Err(StoreError::Backend(message.clone())));
                }
            }
        }
    }
}

/// The outer error fails the whole transaction; the inner one is this write's own answer
/// (a version conflict or a stale fence).
type Applied = Result<Result<u64, StoreError>, StoreError>;

/// One transaction for the batch; the answer of each write, in batch order.
async fn apply(
    client: &mut Client,
    statements: &Statements,
    batch: &[Write],
) -> Result<Vec<Result<u64, StoreError>>, StoreError> {
    let txn = client
        .transaction()
        .await
        .map_err(|e| backend("begin", e))?;
    // Each session's writes in arrival order; sessions in key order, which is also the order
    // their first statements reach the server (a consistent lock order across nodes).
    let mut sessions: BTreeMap<&SessionKey, Vec<usize>> = BTreeMap::new();
    for (index, write) in batch.iter().enumerate() {
        sessions.entry(write.key()).or_default().push(index);
    }
    let shared = &txn;
    let per_session = sessions.into_values().map(|indices| async move {
        let mut answers = Vec::with_capacity(indices.len());
        for index in indices {
            answers.push((index, apply_one(shared, statements, &batch[index]).await?));
        }
        Ok::<_, StoreError>(answers)
    });
    let mut answers: Vec<_> = try_join_all(per_session)
        .await?
        .into_iter()
        .flatten()
        .collect();
    answers.sort_unstable_by_key(|(index, _)| *index);
    txn.commit().await.map_err(|e| backend("commit", e))?;
    Ok(answers.into_iter().map(|(_, answer)| answer).collect())
}

async fn apply_one(txn: &Transaction<'_>, statements: &Statements, write: &Write) -> Applied {
    match write {
        Write::Commit { key, commit, .. } => apply_commit(txn, statements, key, commit).await,
        Write::Delete { key, .. } => {
            let (p, u) = (&key.project, &key.user);
            for statement in [&statements.delete_session, &statements.delete_turns] {
                txn.execute(statement, &[p, u])
                    .await
                    .map_err(|e| backend("delete", e))?;
            }
            Ok(Ok(0))
        }
    }
}

async fn apply_commit(
    txn: &Transaction<'_>,
    statements: &Statements,
    key: &SessionKey,
    commit: &Commit,
) -> Applied {
    if let Some(fence) = commit.fence {
        let current = locked_epoch(txn, statements, fence).await?;
        if let Err(fenced) = commit.check_fence(|_| current) {
            return Ok(Err(fenced));
        }
    }
    let version = match commit.new_version() {
        Ok(version) => version,
        Err(error) => return Ok(Err(error)),
    };
    let (p, u) = (&key.project, &key.user);
    let written = if commit.expected_version == 0 {
        txn.execute(&statements.insert, &[p, u, &commit.state])
            .await
    } else {
        let expected = commit.expected_version as i64;
        txn.execute(&statements.update, &[p, u, &expected, &commit.state])
            .await
    }
    .map_err(|e| backend("commit", e))?;
    if written != 1 {
        let found = txn
            .query_opt(&statements.version, &[p, u])
            .await
            .map_err(|e| backend("conflict check", e))?
            .map_or(0, |row| row.get::<_, i64>(0) as u64);
        return Ok(Err(StoreError::Conflict {
            expected: commit.expected_version,
            found,
        }));
    }
    if let Some(record) = &commit.record {
        let seq = version as i64;
        txn.execute(
            &statements.record,
            &[p, u, &record.idempotency_key, &seq, &record.response],
        )
        .await
        .map_err(|e| backend("turn record", e))?;
        let kept = MAX_TURN_RECORDS_PER_SESSION as i64;
        txn.execute(&statements.trim, &[p, u, &kept])
            .await
            .map_err(|e| backend("turn records", e))?;
    }
    Ok(Ok(version))
}

/// The fence's partition's current epoch, with its row locked `FOR SHARE` until the
/// transaction ends, so that no claim of the partition commits in between.
async fn locked_epoch(
    txn: &Transaction<'_>,
    statements: &Statements,
    fence: Fence,
) -> Result<u64, StoreError> {
    let partition = partition_param(fence.partition);
    let read = async || {
        txn.query_opt(&statements.fence, &[&partition])
            .await
            .map(|row| row.map(|row| row.get::<_, i64>(0) as u64))
            .map_err(|e| backend("fence check", e))
    };
    if let Some(epoch) = read().await? {
        return Ok(epoch);
    }
    if fence.epoch != 0 {
        // A never-claimed partition: the commit is refused, and a concurrent first claim
        // cannot make that wrong.
        return Ok(0);
    }
    // Never claimed and the commit expects exactly that: there is no row to lock, so create
    // one at epoch 0 (a first claim then waits for this transaction). If another transaction
    // created it meanwhile, lock and read that one.
    let created = txn
        .query_opt(&statements.fence_row, &[&partition])
        .await
        .map_err(|e| backend("fence check", e))?;
    if created.is_some() {
        return Ok(0);
    }
    Ok(read().await?.unwrap_or(0))
}

/// A partition number as the `integer` column stores it: bit for bit, so every `u32` has its
/// own row (partitions above `i32::MAX` are stored negative).
pub(super) fn partition_param(partition: u32) -> i32 {
    partition as i32
}
