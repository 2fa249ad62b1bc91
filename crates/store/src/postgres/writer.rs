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
//!
//! The connection is replaced when it is lost (see `link`); a batch waits for a new one until
//! [`CONNECT_WAIT`] after its oldest write was queued, then fails. A batch whose connection is
//! lost before `COMMIT` was sent did not commit, so it runs once more on a new connection. One
//! whose connection is lost after `COMMIT` was sent is in doubt: each transaction reads its own
//! id (`txid_current()`, pipelined with the writes), and the writer asks the server on a new
//! connection whether that transaction committed (`txid_status`). Only `committed` is
//! acknowledged; anything else fails the batch with [`StoreError::Backend`] (callers retry
//! with the same idempotency key, which the turn record makes safe).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::{try_join, try_join_all};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tokio_postgres::{Client, Statement, Transaction};

use super::link::{CONNECT_WAIT, Exclusive, Prepare, is_lost};
use super::{backend, describe};
use crate::{BackendSource, Commit, Fence, MAX_TURN_RECORDS_PER_SESSION, SessionKey, StoreError};

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
    /// `()` → the transaction's id (as `txid_current()` numbers it).
    xid: Statement,
    /// `(transaction id)` → `committed`, `aborted`, `in progress`, or null if too old.
    xid_status: Statement,
}

impl Prepare for Statements {
    async fn prepare(client: &Client) -> Result<Statements, StoreError> {
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
            xid: prepare("SELECT txid_current()").await?,
            xid_status: prepare("SELECT txid_status($1)").await?,
        })
    }
}

/// Applies queued writes in batches, one transaction per batch, until every sender is gone.
/// Each write comes with the moment it was queued.
pub(super) async fn write_loop(
    mut link: Exclusive<Statements>,
    mut queue: mpsc::UnboundedReceiver<(Instant, Write)>,
) {
    while let Some((queued, first)) = queue.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok((_, write)) => batch.push(write),
                Err(_) => break,
            }
        }
        // The first write is the oldest: no write of the batch waits longer for a connection.
        match run(&mut link, &batch, queued + CONNECT_WAIT).await {
            Ok(results) => {
                for (write, result) in batch.into_iter().zip(results) {
                    write.answer(result);
                }
            }
            Err(e) => {
                let (context, source) = parts(e);
                for write in batch {
                    write.answer(Err(StoreError::Backend {
                        context: context.clone(),
                        source: source.clone(),
                    }));
                }
            }
        }
    }
}

/// The context and cause of a [`StoreError::Backend`] (any other error becomes the cause), to
/// build several errors from one failure or to add to its context.
fn parts(error: StoreError) -> (String, Option<BackendSource>) {
    match error {
        StoreError::Backend { context, source } => (context, source),
        other => ("PostgreSQL write".to_owned(), Some(Arc::new(other))),
    }
}

/// The text of a [`StoreError::Backend`] with its causes (without the variant's "storage
/// failure" prefix), for a message that goes into another error's context.
fn message(error: StoreError) -> String {
    match &error {
        StoreError::Backend {
            context,
            source: Some(source),
        } => format!("{context}: {}", describe(&**source)),
        StoreError::Backend { context, .. } => context.clone(),
        other => other.to_string(),
    }
}

/// The answers of a batch's writes, in batch order.
type Answers = Vec<Result<u64, StoreError>>;

/// Why a batch's transaction failed.
enum Failure {
    /// It did not commit: a statement failed or its connection was lost before `COMMIT` was
    /// sent, or the server refused the `COMMIT`.
    Aborted { error: StoreError, lost: bool },
    /// The connection was lost after `COMMIT` was sent: it may have committed.
    InDoubt {
        xid: i64,
        answers: Answers,
        error: StoreError,
    },
}

/// A statement that failed, and what it was for.
struct Failed(&'static str, tokio_postgres::Error);

fn failed(context: &'static str) -> impl Fn(tokio_postgres::Error) -> Failed {
    move |e| Failed(context, e)
}

impl From<Failed> for Failure {
    fn from(Failed(context, e): Failed) -> Failure {
        Failure::Aborted {
            lost: is_lost(&e),
            error: backend(context, e),
        }
    }
}

/// Applies the batch, reconnecting if needed; `Ok` only if its transaction committed.
async fn run(
    link: &mut Exclusive<Statements>,
    batch: &[Write],
    deadline: Instant,
) -> Result<Answers, StoreError> {
    let mut again = true;
    loop {
        let connected = link.get(deadline).await?;
        let applied = apply(&mut connected.client, &connected.statements, batch).await;
        let closed = connected.client.is_closed();
        match applied {
            Ok(answers) => return Ok(answers),
            Err(Failure::Aborted { error, lost }) => {
                if !(lost || closed) {
                    return Err(error);
                }
                link.forget(&error);
                // No COMMIT was sent on the lost connection: running the batch again on a new
                // one cannot apply it twice.
                if !again {
                    return Err(error);
                }
                again = false;
            }
            Err(Failure::InDoubt {
                xid,
                answers,
                error,
            }) => {
                link.forget(&error);
                let (context, source) = parts(error);
                return match outcome(link, xid, deadline).await {
                    Ok(true) => Ok(answers),
                    Ok(false) => Err(StoreError::Backend {
                        context: format!("{context} (the transaction did not commit)"),
                        source,
                    }),
                    Err(why) => Err(StoreError::Backend {
                        context: format!(
                            "{context}; whether the transaction committed is unknown: {why}"
                        ),
                        source,
                    }),
                };
            }
        }
    }
}

/// Whether the transaction `xid`, whose connection was lost after `COMMIT` was sent,
/// committed: asked on a new connection. `Err` says why it cannot be told.
async fn outcome(
    link: &mut Exclusive<Statements>,
    xid: i64,
    deadline: Instant,
) -> Result<bool, String> {
    loop {
        let connected = link.get(deadline).await.map_err(message)?;
        let status = connected
            .client
            .query_one(&connected.statements.xid_status, &[&xid])
            .await;
        let status: Option<String> = match status {
            Ok(row) => row.get(0),
            Err(e) => {
                let lost = is_lost(&e);
                let error = backend("transaction status", e);
                if lost {
                    link.forget(&error);
                }
                return Err(message(error));
            }
        };
        match status.as_deref() {
            Some("committed") => return Ok(true),
            Some("aborted") => return Ok(false),
            // Its session has not finished ending yet.
            Some("in progress") if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            other => return Err(format!("transaction {xid} is {other:?}")),
        }
    }
}

/// One transaction for the batch; the answer of each write, in batch order.
async fn apply(
    client: &mut Client,
    statements: &Statements,
    batch: &[Write],
) -> Result<Answers, Failure> {
    let txn = client.transaction().await.map_err(failed("begin"))?;
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
        Ok::<_, Failed>(answers)
    });
    let xid = async {
        let row = shared.query_one(&statements.xid, &[]).await;
        Ok::<i64, Failed>(row.map_err(failed("transaction id"))?.get(0))
    };
    let (xid, answers) = try_join(xid, try_join_all(per_session)).await?;
    let mut answers: Vec<_> = answers.into_iter().flatten().collect();
    answers.sort_unstable_by_key(|(index, _)| *index);
    let answers = answers.into_iter().map(|(_, answer)| answer).collect();
    match txn.commit().await {
        Ok(()) => Ok(answers),
        // The server answered: the transaction is rolled back.
        Err(e) if !is_lost(&e) => Err(Failed("commit", e).into()),
        Err(e) => Err(Failure::InDoubt {
            xid,
            answers,
            error: backend("commit", e),
        }),
    }
}

/// The outer error fails the whole transaction; the inner one is this write's own answer
/// (a version conflict or a stale fence).
type Applied = Result<Result<u64, StoreError>, Failed>;

async fn apply_one(txn: &Transaction<'_>, statements: &Statements, write: &Write) -> Applied {
    match write {
        Write::Commit { key, commit, .. } => apply_commit(txn, statements, key, commit).await,
        Write::Delete { key, .. } => {
            let (p, u) = (&key.project, &key.user);
            for statement in [&statements.delete_session, &statements.delete_turns] {
                txn.execute(statement, &[p, u])
                    .await
                    .map_err(failed("delete"))?;
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
    .map_err(failed("commit"))?;
    if written != 1 {
        let found = txn
            .query_opt(&statements.version, &[p, u])
            .await
            .map_err(failed("conflict check"))?
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
        .map_err(failed("turn record"))?;
        let kept = MAX_TURN_RECORDS_PER_SESSION as i64;
        txn.execute(&statements.trim, &[p, u, &kept])
            .await
            .map_err(failed("turn records"))?;
    }
    Ok(Ok(version))
}

/// The fence's partition's current epoch, with its row locked `FOR SHARE` until the
/// transaction ends, so that no claim of the partition commits in between.
async fn locked_epoch(
    txn: &Transaction<'_>,
    statements: &Statements,
    fence: Fence,
) -> Result<u64, Failed> {
    let partition = partition_param(fence.partition);
    let read = async || {
        txn.query_opt(&statements.fence, &[&partition])
            .await
            .map(|row| row.map(|row| row.get::<_, i64>(0) as u64))
            .map_err(failed("fence check"))
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
        .map_err(failed("fence check"))?;
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
