//! PostgreSQL-specific behaviour: concurrent writers, group commit, durability across
//! connections (against a private server started by the harness).

mod common;

use std::sync::Arc;

use common::commit;
use common::postgres::PgServer;
use turnstile_store::{PostgresStore, SessionKey, SessionStore, StoreError};

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
        matches!(err, StoreError::Backend(ref m) if m.contains("connect")),
        "{err}"
    );
}
