//! PostgreSQL-specific behaviour: concurrent writers, group commit, durability across
//! connections, fencing against claims from another node, schema migrations (against a
//! private server started by the test kit).

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use common::{assert_conflict, assert_fenced, commit, commit_with_record, fence, load};
use tokio_postgres::{Client, NoTls};
use turnstile_store::{PostgresStore, SessionKey, SessionStore, StoreError};
use turnstile_testkit::PgServer;

/// A plain connection, to look at (or prepare) the database behind the store's back.
async fn raw(url: &str) -> Client {
    let (client, connection) = tokio_postgres::connect(url, NoTls).await.expect("connect");
    tokio::spawn(connection);
    client
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writers_race_on_versions_and_commit_in_groups() {
    let server = PgServer::start();
    let store = Arc::new(PostgresStore::connect(&server.url).await.unwrap());
    // 50 writers that all believe the session is absent: exactly one wins.
    let racers: Vec<_> = (0..50)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .commit(
                        &SessionKey::new("p", "contested"),
                        commit(&format!("w{i}"), 0),
                    )
                    .await
            })
        })
        .collect();
    let mut wins = 0;
    for racer in racers {
        match racer.await.unwrap() {
            Ok(1) => wins += 1,
            Err(StoreError::Conflict {
                expected: 0,
                found: 1,
            }) => {}
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(wins, 1);
    // 200 sessions committed concurrently all land.
    let writers: Vec<_> = (0..200)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .commit(&SessionKey::new("p", format!("u{i}")), commit("s", 0))
                    .await
            })
        })
        .collect();
    for writer in writers {
        assert_eq!(writer.await.unwrap().unwrap(), 1);
    }
    assert_eq!(store.count().await.unwrap(), 201);
    // Another connection (another node) sees every committed write.
    store.flush().await.unwrap();
    let other = PostgresStore::connect(&server.url).await.unwrap();
    assert_eq!(other.count().await.unwrap(), 201);
    let stored = other
        .load(&SessionKey::new("p", "u7"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((stored.state.as_slice(), stored.version), (&b"s"[..], 1));
}

#[tokio::test]
async fn an_unreachable_database_is_a_clear_error() {
    let err = PostgresStore::connect("postgres://nobody@127.0.0.1:9/none")
        .await
        .err()
        .unwrap();
    assert!(
        matches!(err, StoreError::Backend { ref context, .. } if context.contains("connect")),
        "{err}"
    );
}

/// Node A commits many sessions under its epoch while node B (another store on the same
/// database) claims the partition: every commit that started after B's claim returned is
/// fenced, everything A was told is committed is stored, and nothing else is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_fences_every_commit_that_starts_after_it() {
    const PARTITION: u32 = 42;
    const WRITERS: usize = 32;
    let server = PgServer::start();
    let url = server.create_database("fencing_race");
    let node_a = Arc::new(PostgresStore::connect(&url).await.unwrap());
    let node_b = PostgresStore::connect(&url).await.unwrap();
    let old = node_a.claim_partition(PARTITION, "node-a").await.unwrap();
    let claimed = Arc::new(AtomicBool::new(false));
    // Commits acknowledged to A so far.
    let acks = Arc::new(AtomicUsize::new(0));
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let (node_a, claimed) = (Arc::clone(&node_a), Arc::clone(&claimed));
            let acks = Arc::clone(&acks);
            tokio::spawn(async move {
                let key = SessionKey::new("race", format!("user-{w}"));
                let mut acked = 0;
                loop {
                    let after_claim = claimed.load(Ordering::SeqCst);
                    let c = commit_with_record(&format!("{w}-{}", acked + 1), acked, "turn")
                        .with_fence(fence(PARTITION, old));
                    match node_a.commit(&key, c).await {
                        Ok(version) => {
                            assert!(
                                !after_claim,
                                "writer {w}: v{version} started after the claim and succeeded"
                            );
                            acked = version;
                            acks.fetch_add(1, Ordering::SeqCst);
                        }
                        Err(StoreError::Fenced { epoch, current, .. })
                            if epoch == old && current > old =>
                        {
                            return (key, acked);
                        }
                        other => panic!("writer {w}: {other:?}"),
                    }
                }
            })
        })
        .collect();
    // B claims while A is busy committing: once A has committed about three times per writer.
    turnstile_testkit::wait_until(Duration::from_secs(30), "A barely commits", || {
        acks.load(Ordering::SeqCst) >= 3 * WRITERS
    })
    .await;
    let new = node_b.claim_partition(PARTITION, "node-b").await.unwrap();
    claimed.store(true, Ordering::SeqCst);
    assert_eq!(new, old + 1);
    // What B sees right after its claim is final for epoch `old`: nothing fenced with it
    // commits any more, not even a transaction that had checked the epoch before the claim.
    let mut at_claim = Vec::with_capacity(WRITERS);
    for w in 0..WRITERS {
        let key = SessionKey::new("race", format!("user-{w}"));
        at_claim.push(load(&node_b, &key).await.map_or(0, |(_, version)| version));
    }
    let mut total = 0;
    for (writer, seen) in writers.into_iter().zip(at_claim) {
        let (key, acked) = writer.await.unwrap();
        total += acked;
        assert_eq!(
            seen, acked,
            "{key}: B saw v{seen} after its claim, A was acknowledged v{acked}"
        );
        let stored = load(&node_b, &key).await.map_or(0, |(_, version)| version);
        assert_eq!(
            stored, acked,
            "{key}: stored v{stored}, acknowledged v{acked}"
        );
        // The new owner continues from there under its epoch; the old one cannot.
        let c = commit("by-b", acked).with_fence(fence(PARTITION, new));
        assert_eq!(node_b.commit(&key, c).await.unwrap(), acked + 1);
        let c = commit("by-a", acked + 1).with_fence(fence(PARTITION, old));
        assert_fenced(node_a.commit(&key, c).await, PARTITION, old, new);
    }
    assert!(total > 0, "node A committed nothing before the claim");
    eprintln!("{total} commits under epoch {old} before the claim");
}

#[tokio::test]
async fn claims_survive_reconnecting_and_record_the_owner() {
    let server = PgServer::start();
    let key = SessionKey::new("p", "u");
    {
        let first = PostgresStore::connect(server.url()).await.unwrap();
        assert_eq!(first.claim_partition(3, "node-a").await.unwrap(), 1);
        assert_eq!(first.claim_partition(3, "node-b").await.unwrap(), 2);
        first
            .commit(&key, commit("s1", 0).with_fence(fence(3, 2)))
            .await
            .unwrap();
        first.flush().await.unwrap();
    }
    let second = PostgresStore::connect(server.url()).await.unwrap();
    assert_fenced(
        second
            .commit(&key, commit("s2", 1).with_fence(fence(3, 1)))
            .await,
        3,
        1,
        2,
    );
    assert_eq!(second.claim_partition(3, "node-c").await.unwrap(), 3);
    let row = raw(server.url())
        .await
        .query_one(
            "SELECT epoch, owner FROM turnstile_partitions WHERE partition = 3",
            &[],
        )
        .await
        .unwrap();
    assert_eq!((row.get::<_, i64>(0), row.get::<_, &str>(1)), (3, "node-c"));
}

async fn schema_versions(url: &str) -> Vec<i32> {
    let rows = raw(url)
        .await
        .query(
            "SELECT version FROM turnstile_schema_version ORDER BY version",
            &[],
        )
        .await
        .unwrap();
    rows.iter().map(|row| row.get(0)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_starting_together_migrate_the_schema_once() {
    let server = PgServer::start();
    let url = server.create_database("fresh");
    let (a, b, c) = tokio::join!(
        PostgresStore::connect(&url),
        PostgresStore::connect(&url),
        PostgresStore::connect(&url)
    );
    let (a, b, c) = (a.unwrap(), b.unwrap(), c.unwrap());
    assert_eq!(schema_versions(&url).await, [1, 2]);
    let key = SessionKey::new("p", "u");
    a.commit(&key, commit("s", 0)).await.unwrap();
    assert_eq!(b.claim_partition(1, "b").await.unwrap(), 1);
    assert_eq!(c.claim_partition(1, "c").await.unwrap(), 2);
    assert_eq!(load(&c, &key).await, Some(("s".into(), 1)));
    drop((a, b, c));
    // Starting again applies nothing.
    PostgresStore::connect(&url).await.unwrap();
    assert_eq!(schema_versions(&url).await, [1, 2]);
}

/// A database created before migrations existed (sessions and turn records only) is taken
/// over with its data.
#[tokio::test]
async fn a_database_from_before_migrations_is_upgraded_in_place() {
    let server = PgServer::start();
    let url = server.create_database("legacy");
    raw(&url)
        .await
        .batch_execute(
            "CREATE TABLE turnstile_sessions (
                project text NOT NULL, user_id text NOT NULL, version bigint NOT NULL,
                state bytea NOT NULL, PRIMARY KEY (project, user_id));
             CREATE TABLE turnstile_turns (
                project text NOT NULL, user_id text NOT NULL, idempotency_key text NOT NULL,
                seq bigint NOT NULL, response bytea NOT NULL,
                PRIMARY KEY (project, user_id, idempotency_key));
             CREATE INDEX turnstile_turns_by_seq ON turnstile_turns (project, user_id, seq);
             INSERT INTO turnstile_sessions VALUES ('p', 'u', 3, 'old'::bytea);
             INSERT INTO turnstile_turns VALUES ('p', 'u', 'r3', 3, 'resp'::bytea);",
        )
        .await
        .unwrap();
    let store = PostgresStore::connect(&url).await.unwrap();
    assert_eq!(schema_versions(&url).await, [1, 2]);
    let key = SessionKey::new("p", "u");
    assert_eq!(load(&store, &key).await, Some(("old".into(), 3)));
    assert!(store.find_turn(&key, "r3").await.unwrap().is_some());
    let epoch = store.claim_partition(9, "node").await.unwrap();
    let c = commit("new", 3).with_fence(fence(9, epoch));
    assert_eq!(store.commit(&key, c).await.unwrap(), 4);
}

/// Writes to one session queued together (likely in one batch, whose sessions run
/// concurrently) still apply in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_sessions_writes_keep_their_order_within_a_batch() {
    let server = PgServer::start();
    let store = Arc::new(PostgresStore::connect(server.url()).await.unwrap());
    let key = SessionKey::new("p", "ordered");
    // Other sessions' commits around it, so that the batch has many sessions.
    let others: Vec<_> = (0..100)
        .map(|i| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                let key = SessionKey::new("p", format!("other-{i}"));
                store.commit(&key, commit("o", 0)).await
            })
        })
        .collect();
    let (a, b, stale, deleted, again, last) = tokio::join!(
        store.commit(&key, commit("a", 0)),
        store.commit(&key, commit_with_record("b", 1, "rb")),
        store.commit(&key, commit("stale", 1)),
        store.delete(&key),
        store.commit(&key, commit("again", 0)),
        store.commit(&key, commit("last", 1)),
    );
    assert_eq!((a.unwrap(), b.unwrap()), (1, 2));
    assert_conflict(stale, 1, 2);
    deleted.unwrap();
    assert_eq!((again.unwrap(), last.unwrap()), (1, 2));
    for other in others {
        assert_eq!(other.await.unwrap().unwrap(), 1);
    }
    assert_eq!(load(&*store, &key).await, Some(("last".into(), 2)));
    assert_eq!(store.find_turn(&key, "rb").await.unwrap(), None);
}
