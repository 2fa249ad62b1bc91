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
//!
//! Each of the three connections is replaced when it is lost (the server restarted, the
//! session was terminated, the network failed), lazily and with backoff (see `link`). While
//! there is none, calls fail with [`StoreError::Backend`] after waiting a few seconds for one.

mod link;
mod schema;
mod writer;

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tokio_postgres::{Client, Statement};

use self::link::{Dialer, Endpoint, Exclusive, Prepare, Shared};
use self::writer::{Statements, Write, partition_param, write_loop};
use crate::key::{SessionKey, validate_idempotency_key, validate_owner};
use crate::model::{Commit, StoredSession, TurnRecord};
use crate::{SessionStore, StoreError};

/// Sessions in PostgreSQL.
///
/// [`connect`](PostgresStore::connect) opens three connections (writes, reads, partition
/// claims) and migrates the schema; several nodes may connect to one database at once. Tables:
/// `turnstile_sessions`, `turnstile_turns` (turn records), `turnstile_partitions` (fencing
/// epochs) and `turnstile_schema_version`.
///
/// A lost connection is re-established on the next call that needs it (backoff from 50 ms to
/// 2 s between attempts), so the store outlives restarts of the database. While the database
/// is unreachable, a call waits about 5 s for a connection, then fails with
/// [`StoreError::Backend`]. A commit is never acknowledged unless it is committed: when the
/// connection is lost after `COMMIT` was sent, the writer asks the server (on a new connection)
/// whether that transaction committed, and answers [`StoreError::Backend`] when it did not or
/// when it cannot tell. Reads and claims whose connection is lost under them run once more on a
/// new connection (a claim that had in fact committed then raises the epoch twice: harmless, as
/// nothing was fenced with the epoch in between).
pub struct PostgresStore {
    reader: Shared<ReadStatements>,
    claimer: Shared<ClaimStatement>,
    writes: Mutex<Option<mpsc::UnboundedSender<(Instant, Write)>>>,
    writer: tokio::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
    closed: AtomicBool,
}

/// The reader's statements, prepared on each of its connections.
struct ReadStatements {
    load: Statement,
    find_turn: Statement,
    count: Statement,
}

impl Prepare for ReadStatements {
    async fn prepare(client: &Client) -> Result<ReadStatements, StoreError> {
        Ok(ReadStatements {
            load: prepare(
                client,
                "SELECT version, state FROM turnstile_sessions WHERE project = $1 AND user_id = $2",
            )
            .await?,
            find_turn: prepare(
                client,
                "SELECT response FROM turnstile_turns \
                 WHERE project = $1 AND user_id = $2 AND idempotency_key = $3",
            )
            .await?,
            count: prepare(client, "SELECT count(*) FROM turnstile_sessions").await?,
        })
    }
}

/// The claimer's statement: `(partition, owner)` → the new epoch.
struct ClaimStatement(Statement);

impl Prepare for ClaimStatement {
    async fn prepare(client: &Client) -> Result<ClaimStatement, StoreError> {
        prepare(
            client,
            "INSERT INTO turnstile_partitions (partition, epoch, owner) VALUES ($1, 1, $2) \
             ON CONFLICT (partition) DO UPDATE SET epoch = turnstile_partitions.epoch + 1, \
             owner = excluded.owner, claimed_at = now() RETURNING epoch",
        )
        .await
        .map(ClaimStatement)
    }
}

/// An error with its causes, `error: cause: cause…` (a `tokio_postgres::Error` alone displays
/// as just "db error"; the server's message is its source).
fn describe(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(error) = cause {
        text.push_str(": ");
        text.push_str(&error.to_string());
        cause = error.source();
    }
    text
}

/// A [`StoreError::Backend`] saying what failed, caused by `e`.
fn backend(context: &str, e: tokio_postgres::Error) -> StoreError {
    StoreError::backend(format!("PostgreSQL {context}"), e)
}

async fn prepare(client: &Client, sql: &str) -> Result<Statement, StoreError> {
    client
        .prepare(sql)
        .await
        .map_err(|e| backend("preparing statements", e))
}

impl PostgresStore {
    /// Connects (three connections: writes, reads, claims), creates or upgrades the schema,
    /// and prepares the statements. Fails with [`StoreError::Backend`] if the database cannot
    /// be reached now; after that, lost connections are re-established.
    pub async fn connect(url: &str) -> Result<PostgresStore, StoreError> {
        let endpoint = Endpoint::parse(url)?;
        // The schema comes first: the writer's statements need its tables.
        let mut migrator = endpoint.open::<NoStatements>("migration").await?;
        schema::migrate(&mut migrator.client).await?;
        drop(migrator);
        let writer = endpoint.open::<Statements>("writer").await?;
        let reader = endpoint.open::<ReadStatements>("reader").await?;
        let claimer = endpoint.open::<ClaimStatement>("claimer").await?;
        let (writes, queue) = mpsc::unbounded_channel();
        let writer = Exclusive::new(Dialer::new(endpoint.clone(), "writer"), writer);
        let task = tokio::spawn(write_loop(writer, queue));
        Ok(PostgresStore {
            reader: Shared::new(Dialer::new(endpoint.clone(), "reader"), reader),
            claimer: Shared::new(Dialer::new(endpoint, "claimer"), claimer),
            writes: Mutex::new(Some(writes)),
            writer: tokio::sync::Mutex::new(Some(task)),
            closed: AtomicBool::new(false),
        })
    }

    fn send(&self, write: Write) -> Result<(), StoreError> {
        let writes = self.writes.lock().unwrap_or_else(|e| e.into_inner());
        match writes.as_ref() {
            Some(sender) if !self.closed.load(Ordering::Acquire) => sender
                .send((Instant::now(), write))
                .map_err(|_| StoreError::Closed),
            _ => Err(StoreError::Closed),
        }
    }
}

/// Nothing to prepare (the connection that migrates the schema).
struct NoStatements;

impl Prepare for NoStatements {
    async fn prepare(_: &Client) -> Result<NoStatements, StoreError> {
        Ok(NoStatements)
    }
}

#[async_trait::async_trait]
impl SessionStore for PostgresStore {
    async fn load(&self, key: &SessionKey) -> Result<Option<StoredSession>, StoreError> {
        key.validate()?;
        let row = self
            .reader
            .query_opt("load", |s| &s.load, &[&key.project, &key.user])
            .await?;
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
            .query_opt(
                "claim partition",
                |s| &s.0,
                &[&partition_param(partition), &owner],
            )
            .await?
            .ok_or_else(|| StoreError::backend_message("PostgreSQL claim partition: no epoch"))?;
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
                "find turn",
                |s| &s.find_turn,
                &[&key.project, &key.user, &idempotency_key],
            )
            .await?;
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
            .query_opt("count", |s| &s.count, &[])
            .await?
            .ok_or_else(|| StoreError::backend_message("PostgreSQL count: no row"))?;
        Ok(row.get::<_, i64>(0) as u64)
    }
}
