//! [`PostgresStore`]: sessions in PostgreSQL, shared by every node of a cluster.
//!
//! A commit is a conditional update on the version (an insert for version 0) in one
//! transaction with its turn record, so a writer holding a stale version fails with
//! [`StoreError::Conflict`] and writes nothing. Writes go through one writer task that puts every
//! queued write into the same transaction (group commit: one round trip to commit for many
//! sessions' turns); reads use a second connection.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::{mpsc, oneshot};
use tokio_postgres::{Client, NoTls};

use crate::key::{SessionKey, validate_idempotency_key};
use crate::model::{Commit, StoredSession, TurnRecord};
use crate::{MAX_TURN_RECORDS_PER_SESSION, SessionStore, StoreError};

/// The schema, created on start if missing.
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS turnstile_sessions (
    project text NOT NULL,
    user_id text NOT NULL,
    version bigint NOT NULL,
    state bytea NOT NULL,
    PRIMARY KEY (project, user_id)
);
CREATE TABLE IF NOT EXISTS turnstile_turns (
    project text NOT NULL,
    user_id text NOT NULL,
    idempotency_key text NOT NULL,
    seq bigint NOT NULL,
    response bytea NOT NULL,
    PRIMARY KEY (project, user_id, idempotency_key)
);
CREATE INDEX IF NOT EXISTS turnstile_turns_by_seq ON turnstile_turns (project, user_id, seq);
";

/// The most writes put into one transaction.
const MAX_BATCH: usize = 256;

enum Write {
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

/// Sessions in PostgreSQL.
pub struct PostgresStore {
    reader: Client,
    writes: Mutex<Option<mpsc::UnboundedSender<Write>>>,
    writer: tokio::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
    closed: AtomicBool,
}

fn backend(context: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(format!("PostgreSQL {context}: {e}"))
}

async fn connect(url: &str) -> Result<Client, StoreError> {
    let (client, connection) = tokio_postgres::connect(url, NoTls)
        .await
        .map_err(|e| backend("connect", e))?;
    // A lost connection shows up as an error on the next call that uses it.
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(client)
}

impl PostgresStore {
    /// Connects (two connections: writes and reads) and creates the schema if missing.
    pub async fn connect(url: &str) -> Result<PostgresStore, StoreError> {
        let writer = connect(url).await?;
        writer
            .batch_execute(SCHEMA)
            .await
            .map_err(|e| backend("schema", e))?;
        let reader = connect(url).await?;
        let (writes, queue) = mpsc::unbounded_channel();
        let task = tokio::spawn(write_loop(writer, queue));
        Ok(PostgresStore {
            reader,
            writes: Mutex::new(Some(writes)),
            writer: tokio::sync::Mutex::new(Some(task)),
            closed: AtomicBool::new(false),
        })
    }

    fn send(&self, write: Write) -> Result<(), StoreError> {
        let writes = self.writes.lock().unwrap_or_else(|e| e.into_inner());
        match writes.as_ref() {
            Some(sender) if !self.closed.load(Ordering::Acquire) => {
                sender.send(write).map_err(|_| StoreError::Closed)
            }
            _ => Err(StoreError::Closed),
        }
    }
}

/// Applies queued writes in batches, one transaction per batch.
async fn write_loop(mut client: Client, mut queue: mpsc::UnboundedReceiver<Write>) {
    while let Some(first) = queue.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(write) => batch.push(write),
                Err(_) => break,
            }
        }
        match apply(&mut client, &batch).await {
            Ok(results) => {
                for (write, result) in batch.into_iter().zip(results) {
                    match (write, result) {
                        (Write::Commit { reply, .. }, result) => {
                            let _ = reply.send(result);
                        }
                        (Write::Delete { reply, .. }, result) => {
                            let _ = reply.send(result.map(|_| ()));
                        }
                    }
                }
            }
            Err(e) => {
                let message = e.to_string();
                for write in batch {
                    match write {
                        Write::Commit { reply, .. } => {
                            let _ = reply.send(Err(StoreError::Backend(message.clone())));
                        }
                        Write::Delete { reply, .. } => {
                            let _ = reply.send(Err(StoreError::Backend(message.clone())));
                        }
                    }
                }
            }
        }
    }
}

/// One transaction for the batch. A version conflict is an answer, not an error: the other
/// writes of the batch still commit.
async fn apply(
    client: &mut Client,
    batch: &[Write],
) -> Result<Vec<Result<u64, StoreError>>, StoreError> {
    let txn = client
        .transaction()
        .await
        .map_err(|e| backend("begin", e))?;
    let mut results = Vec::with_capacity(batch.len());
    for write in batch {
        let result = match write {
            Write::Commit { key, commit, .. } => {
                let (p, u) = (&key.project, &key.user);
                let written = if commit.expected_version == 0 {
                    txn.execute(
                        "INSERT INTO turnstile_sessions (project, user_id, version, state) \
                         VALUES ($1, $2, 1, $3) ON CONFLICT DO NOTHING",
                        &[p, u, &commit.state],
                    )
                    .await
                } else {
                    txn.execute(
                        "UPDATE turnstile_sessions SET version = version + 1, state = $4 \
                         WHERE project = $1 AND user_id = $2 AND version = $3",
                        &[p, u, &(commit.expected_version as i64), &commit.state],
                    )
                    .await
                }
                .map_err(|e| backend("commit", e))?;
                if written == 1 {
                    let version = commit.expected_version + 1;
                    if let Some(record) = &commit.record {
                        txn.execute(
                            "INSERT INTO turnstile_turns (project, user_id, idempotency_key, seq, response) \
                             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (project, user_id, idempotency_key) \
                             DO UPDATE SET seq = excluded.seq, response = excluded.response",
                            &[p, u, &record.idempotency_key, &(version as i64), &record.response],
                        )
                        .await
                        .map_err(|e| backend("turn record", e))?;
                        txn.execute(
                            "DELETE FROM turnstile_turns WHERE project = $1 AND user_id = $2 AND seq <= \
                             (SELECT seq FROM turnstile_turns WHERE project = $1 AND user_id = $2 \
                              ORDER BY seq DESC OFFSET $3 LIMIT 1)",
                            &[p, u, &(MAX_TURN_RECORDS_PER_SESSION as i64)],
                        )
                        .await
                        .map_err(|e| backend("turn records", e))?;
                    }
                    Ok(version)
                } else {
                    let found = txn
                        .query_opt(
                            "SELECT version FROM turnstile_sessions WHERE project = $1 AND user_id = $2",
                            &[p, u],
                        )
                        .await
                        .map_err(|e| backend("conflict check", e))?
                        .map_or(0, |row| row.get::<_, i64>(0) as u64);
                    Err(StoreError::Conflict {
                        expected: commit.expected_version,
                        found,
                    })
                }
            }
            Write::Delete { key, .. } => {
                let (p, u) = (&key.project, &key.user);
                for table in ["turnstile_sessions", "turnstile_turns"] {
                    txn.execute(
                        &format!("DELETE FROM {table} WHERE project = $1 AND user_id = $2"),
                        &[p, u],
                    )
                    .await
                    .map_err(|e| backend("delete", e))?;
                }
                Ok(0)
            }
        };
        results.push(result);
    }
    txn.commit().await.map_err(|e| backend("commit", e))?;
    Ok(results)
}

#[async_trait::async_trait]
impl SessionStore for PostgresStore {
    async fn load(&self, key: &SessionKey) -> Result<Option<StoredSession>, StoreError> {
        key.validate()?;
        let row = self
            .reader
            .query_opt(
                "SELECT version, state FROM turnstile_sessions WHERE project = $1 AND user_id = $2",
                &[&key.project, &key.user],
            )
            .await
            .map_err(|e| backend("load", e))?;
        Ok(row.map(|row| StoredSession {
            version: row.get::<_, i64>(0) as u64,
            state: row.get(1),
        }))
    }

    async fn commit(&self, key: &SessionKey, commit: Commit) -> Result<u64, StoreError> {
        key.validate()?;
        if let Some(record) = &commit.record {
            validate_idempotency_key(&record.idempotency_key)?;
        }
        let (reply, answer) = oneshot::channel();
        self.send(Write::Commit {
            key: key.clone(),
            commit,
            reply,
        })?;
        answer.await.map_err(|_| StoreError::Closed)?
    }

    async fn delete(&self, key: &SessionKey) -> Result<(), StoreError> {
        key.validate()?;
        let (reply, answer) = oneshot::channel();
        self.send(Write::Delete {
            key: key.clone(),
            reply,
        })?;
        answer.await.map_err(|_| StoreError::Closed)?
    }

    async fn find_turn(
        &self,
        key: &SessionKey,
        idempotency_key: &str,
    ) -> Result<Option<TurnRecord>, StoreError> {
        key.validate()?;
        validate_idempotency_key(idempotency_key)?;
        let row = self
            .reader
            .query_opt(
                "SELECT response FROM turnstile_turns \
                 WHERE project = $1 AND user_id = $2 AND idempotency_key = $3",
                &[&key.project, &key.user, &idempotency_key],
            )
            .await
            .map_err(|e| backend("find turn", e))?;
        Ok(row.map(|row| TurnRecord {
            idempotency_key: idempotency_key.to_owned(),
            response: row.get(0),
        }))
    }

    async fn flush(&self) -> Result<(), StoreError> {
        self.closed.store(true, Ordering::Release);
        // Dropping the sender lets the writer finish what is queued, then stop.
        self.writes.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(task) = self.writer.lock().await.take() {
            let _ = task.await;
        }
        Ok(())
    }

    async fn count(&self) -> Result<u64, StoreError> {
        let row = self
            .reader
            .query_one("SELECT count(*) FROM turnstile_sessions", &[])
            .await
            .map_err(|e| backend("count", e))?;
        Ok(row.get::<_, i64>(0) as u64)
    }
}
