//! [`PostgresStore`]: sessions in PostgreSQL, shared by every node of a cluster.
//!
//! A commit is a conditional update on the version (an insert for version 0) in one
//! transaction with its turn record, so a writer holding a stale version fails with
//! [`StoreError::Conflict`] and writes nothing; a fenced commit also checks its partition's
//! epoch in that transaction ([`StoreError::Fenced`]). Writes go through one writer task that
//! puts every queued write into the same transaction, pipelining their statements (group
//! commit: a few round trips for many sessions' turns; see `writer`). Reads use a second
//! connection, partition claims a third. The schema is created and upgraded on start (see
//! `schema`).

mod schema;
mod writer;

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::{mpsc, oneshot};
use tokio_postgres::{Client, NoTls, Statement};

use self::writer::{Statements, Write, partition_param, write_loop};
use crate::key::{SessionKey, validate_idempotency_key, validate_owner};
use crate::model::{Commit, StoredSession, TurnRecord};
use crate::{SessionStore, StoreError};

/// Sessions in PostgreSQL.
///
/// [`connect`](PostgresStore::connect) opens three connections (writes, reads, partition
/// claims) and migrates the schema; several nodes may connect to one database at once. Tables:
/// `turnstile_sessions`, `turnstile_turns` (turn records), `turnstile_partitions` (fencing
/// epochs) and `turnstile_schema_version`. A lost connection is not re-established: the
/// operations that need it fail with [`StoreError::Backend`].
pub struct PostgresStore {
    reader: Client,
    reads: ReadStatements,
    claimer: Client,
    claim: Statement,
    writes: Mutex<Option<mpsc::UnboundedSender<Write>>>,
    writer: tokio::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
    closed: AtomicBool,
}

/// The reader's statements, prepared once.
struct ReadStatements {
    load: Statement,
    find_turn: Statement,
    count: Statement,
}

/// A [`StoreError::Backend`] saying what failed and why: the server's own message when it sent
/// one (a `tokio_postgres::Error` alone displays as just "db error").
fn backend(context: &str, e: tokio_postgres::Error) -> StoreError {
    let detail = match std::error::Error::source(&e) {
        Some(source) => format!("{e}: {source}"),
        None => e.to_string(),
    };
    StoreError::Backend(format!("PostgreSQL {context}: {detail}"))
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

async fn prepare(client: &Client, sql: &str) -> Result<Statement, StoreError> {
    client
        .prepare(sql)
        .await
        .map_err(|e| backend("preparing statements", e))
}

impl PostgresStore {
    /// Connects (three connections: writes, reads, claims), creates or upgrades the schema,
    /// and prepares the statements.
    pub async fn connect(url: &str) -> Result<PostgresStore, StoreError> {
        let mut writer = connect(url).await?;
        schema::migrate(&mut writer).await?;
        let statements = Statements::prepare(&writer).await?;
        let reader = connect(url).await?;
        let reads = ReadStatements {
            load: prepare(
                &reader,
                "SELECT version, state FROM turnstile_sessions WHERE project = $1 AND user_id = $2",
            )
            .await?,
            find_turn: prepare(
                &reader,
                "SELECT response FROM turnstile_turns \
                 WHERE project = $1 AND user_id = $2 AND idempotency_key = $3",
            )
            .await?,
            count: prepare(&reader, "SELECT count(*) FROM turnstile_sessions").await?,
        };
        let claimer = connect(url).await?;
        let claim = prepare(
            &claimer,
            "INSERT INTO turnstile_partitions (partition, epoch, owner) VALUES ($1, 1, $2) \
             ON CONFLICT (partition) DO UPDATE SET epoch = turnstile_partitions.epoch + 1, \
             owner = excluded.owner, claimed_at = now() RETURNING epoch",
        )
        .await?;
        let (writes, queue) = mpsc::unbounded_channel();
        let task = tokio::spawn(write_loop(writer, statements, queue));
        Ok(PostgresStore {
            reader,
            reads,
            claimer,
            claim,
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

#[async_trait::async_trait]
impl SessionStore for PostgresStore {
    async fn load(&self, key: &SessionKey) -> Result<Option<StoredSession>, StoreError> {
        key.validate()?;
        let row = self
            .reader
            .query_opt(&self.reads.load, &[&key.project, &key.user])
            .await
            .map_err(|e| backend("load", e))?;
        Ok(row.map(|row| StoredSession {
            version: row.get::<_, i64>(0) as u64,
            state: row.get(1),
        }))
    }

    async fn commit(&self, key: &SessionKey, commit: Commit) -> Result<u64, StoreError> {
        key.validate()?;
        commit.validate()?;
        let (reply, answer) = oneshot::channel();
        self.send(Write::Commit {
            key: key.clone(),
            commit,
            reply,
        })?;
        answer.await.map_err(|_| StoreError::Closed)?
    }

    async fn claim_partition(&self, partition: u32, owner: &str) -> Result<u64, StoreError> {
        validate_owner(owner)?;
        if self.closed.load(Ordering::Acquire) {
            return Err(StoreError::Closed);
        }
        // One statement, committed on its own. It waits for the writer's transactions that
        // hold the partition's row `FOR SHARE` (fenced commits that saw the old epoch).
        let row = self
            .claimer
            .query_one(&self.claim, &[&partition_param(partition), &owner])
            .await
            .map_err(|e| backend("claim partition", e))?;
        Ok(row.get::<_, i64>(0) as u64)
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
                &self.reads.find_turn,
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
            .query_one(&self.reads.count, &[])
            .await
            .map_err(|e| backend("count", e))?;
        Ok(row.get::<_, i64>(0) as u64)
    }
}
