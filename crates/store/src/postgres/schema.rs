//! The schema, created and upgraded on start by numbered migrations.
//!
//! `turnstile_schema_version` lists the migrations applied. On start, a node takes a
//! transaction-scoped advisory lock (so nodes starting at once apply each migration exactly
//! once, one after the other), then applies the migrations it knows that the database lacks,
//! and records them, all in one transaction: a failed migration leaves the schema as it was.
//!
//! Migration 1 is the schema from before migrations existed, written with `IF NOT EXISTS`, so
//! a database created then is taken over as it is. A database at a version newer than this
//! build knows is used as it is (later migrations only add).

use tokio_postgres::Client;

use super::backend;
use crate::StoreError;

/// The migrations in order: applying `MIGRATIONS[n - 1]` brings the schema to version `n`.
/// Never change one that has shipped; append a new one.
const MIGRATIONS: &[&str] = &[
    // 1: sessions and their turn records.
    "CREATE TABLE IF NOT EXISTS turnstile_sessions (
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
    CREATE INDEX IF NOT EXISTS turnstile_turns_by_seq ON turnstile_turns (project, user_id, seq);",
    // 2: partition epochs for fencing. A partition without a row is at epoch 0.
    "CREATE TABLE IF NOT EXISTS turnstile_partitions (
        partition integer PRIMARY KEY,
        epoch bigint NOT NULL,
        owner text NOT NULL,
        claimed_at timestamptz NOT NULL DEFAULT now()
    );",
];

/// The advisory lock serialising migrations across nodes (`"turnstil"` in ASCII).
const MIGRATION_LOCK: i64 = 0x7475_726e_7374_696c;

/// Brings the database's schema up to the last of [`MIGRATIONS`].
pub(super) async fn migrate(client: &mut Client) -> Result<(), StoreError> {
    let context = |e| backend("schema migration", e);
    let txn = client.transaction().await.map_err(context)?;
    txn.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await
        .map_err(context)?;
    txn.batch_execute(
        "CREATE TABLE IF NOT EXISTS turnstile_schema_version (
            version integer PRIMARY KEY,
            applied_at timestamptz NOT NULL DEFAULT now()
        )",
    )
    .await
    .map_err(context)?;
    let found: i32 = txn
        .query_one(
            "SELECT coalesce(max(version), 0) FROM turnstile_schema_version",
            &[],
        )
        .await
        .map_err(context)?
        .get(0);
    for (version, sql) in (1..).zip(MIGRATIONS).skip(found.max(0) as usize) {
        txn.batch_execute(sql)
            .await
            .map_err(|e| backend(&format!("schema migration {version}"), e))?;
        txn.execute(
            "INSERT INTO turnstile_schema_version (version) VALUES ($1)",
            &[&version],
        )
        .await
        .map_err(context)?;
    }
    txn.commit().await.map_err(context)
}
