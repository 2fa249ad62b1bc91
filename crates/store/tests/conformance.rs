//! The behaviour every `SessionStore` backend must have, run against each backend.

mod common;

use std::sync::Arc;

use common::{TempDir, assert_conflict, commit, commit_with_record, load};
use turnstile_store::{
    EmbeddedOptions, EmbeddedStore, MAX_TURN_RECORDS_PER_SESSION, MemoryStore, PostgresStore,
    SessionKey, SessionStore, StoreError,
};

mod suite {
    use super::*;

    fn key(user: &str) -> SessionKey {
        SessionKey::new("project", user)
    }

    pub async fn load_absent_is_none(store: &dyn SessionStore) {
        assert_eq!(load(store, &key("nobody")).await, None);
        assert_eq!(store.count().await.unwrap(), 0);
    }

    pub async fn first_commit_creates_version_one(store: &dyn SessionStore) {
        let k = key("u");
        assert_eq!(store.commit(&k, commit("s1", 0)).await.unwrap(), 1);
        assert_eq!(load(store, &k).await, Some(("s1".into(), 1)));
    }

    pub async fn stale_commit_conflicts_and_writes_nothing(store: &dyn SessionStore) {
        let k = key("u");
        store.commit(&k, commit("s1", 0)).await.unwrap();
        assert_conflict(
            store.commit(&k, commit_with_record("stale", 0, "r")).await,
            0,
            1,
        );
        assert_conflict(store.commit(&k, commit("ahead", 5)).await, 5, 1);
        assert_conflict(store.commit(&key("absent"), commit("x", 3)).await, 3, 0);
        assert_eq!(load(store, &k).await, Some(("s1".into(), 1)));
        assert_eq!(store.find_turn(&k, "r").await.unwrap(), None);
        assert_eq!(load(store, &key("absent")).await, None);
        assert_eq!(store.count().await.unwrap(), 1);
    }

    pub async fn commits_advance_the_version(store: &dyn SessionStore) {
        let k = key("u");
        for expected in 0..5 {
            let state = format!("s{}", expected + 1);
            assert_eq!(
                store.commit(&k, commit(&state, expected)).await.unwrap(),
                expected + 1
            );
        }
        assert_eq!(load(store, &k).await, Some(("s5".into(), 5)));
    }

    pub async fn delete_removes_session_and_records(store: &dyn SessionStore) {
        let k = key("u");
        store
            .commit(&k, commit_with_record("s1", 0, "r1"))
            .await
            .unwrap();
        store
            .commit(&k, commit_with_record("s2", 1, "r2"))
            .await
            .unwrap();
        store.delete(&k).await.unwrap();
        assert_eq!(load(store, &k).await, None);
        assert_eq!(store.find_turn(&k, "r1").await.unwrap(), None);
        assert_eq!(store.find_turn(&k, "r2").await.unwrap(), None);
        assert_eq!(store.count().await.unwrap(), 0);
        // The version restarts: the old one is stale now.
        assert_conflict(store.commit(&k, commit("old", 2)).await, 2, 0);
        assert_eq!(store.commit(&k, commit("new", 0)).await.unwrap(), 1);
        assert_eq!(load(store, &k).await, Some(("new".into(), 1)));
        // Deleting an absent session is fine.
        store.delete(&key("never")).await.unwrap();
    }

    pub async fn turn_records_are_found_per_session(store: &dyn SessionStore) {
        let a = SessionKey::new("p1", "same-user");
        let b = SessionKey::new("p2", "same-user");
        store
            .commit(&a, commit_with_record("a", 0, "req-1"))
            .await
            .unwrap();
        store
            .commit(&b, commit_with_record("b", 0, "req-1"))
            .await
            .unwrap();
        store.commit(&b, commit("b2", 1)).await.unwrap(); // no record: keeps the old ones
        let found_a = store.find_turn(&a, "req-1").await.unwrap().unwrap();
        let found_b = store.find_turn(&b, "req-1").await.unwrap().unwrap();
        assert_eq!(found_a.idempotency_key, "req-1");
        assert_eq!(found_a.response, b"response to req-1");
        assert_eq!(found_b.response, b"response to req-1");
        // Same text, but each session has its own record: prove they are separate rows.
        store
            .commit(
                &a,
                commit("a-only", 1).with_record(turnstile_store::TurnRecord::new(
                    "req-1",
                    b"replaced".to_vec(),
                )),
            )
            .await
            .unwrap();
        assert_eq!(
            store
                .find_turn(&a, "req-1")
                .await
                .unwrap()
                .unwrap()
                .response,
            b"replaced"
        );
        assert_eq!(
            store
                .find_turn(&b, "req-1")
                .await
                .unwrap()
                .unwrap()
                .response,
            b"response to req-1"
        );
        assert_eq!(store.find_turn(&a, "req-2").await.unwrap(), None);
        assert_eq!(
            store.find_turn(&key("absent"), "req-1").await.unwrap(),
            None
        );
    }

    pub async fn turn_records_keep_the_newest_64(store: &dyn SessionStore) {
        assert_eq!(MAX_TURN_RECORDS_PER_SESSION, 64);
        let k = key("u");
        let other = key("other");
        store
            .commit(&other, commit_with_record("o", 0, "req-0"))
            .await
            .unwrap();
        for i in 0..=64u64 {
            let idempotency_key = format!("req-{i}");
            store
                .commit(&k, commit_with_record("s", i, &idempotency_key))
                .await
                .unwrap();
        }
        assert_eq!(
            store.find_turn(&k, "req-0").await.unwrap(),
            None,
            "the 65th evicts the oldest"
        );
        for i in 1..=64 {
            let found = store.find_turn(&k, &format!("req-{i}")).await.unwrap();
            assert_eq!(
                found.unwrap().response,
                format!("response to req-{i}").into_bytes()
            );
        }
        assert!(
            store.find_turn(&other, "req-0").await.unwrap().is_some(),
            "other sessions keep theirs"
        );
        // Recording an existing key again makes it the newest without growing the set …
        store
            .commit(&k, commit_with_record("s", 65, "req-1"))
            .await
            .unwrap();
        assert!(store.find_turn(&k, "req-2").await.unwrap().is_some());
        // … so the next new key evicts req-2, the oldest now.
        store
            .commit(&k, commit_with_record("s", 66, "req-65"))
            .await
            .unwrap();
        assert_eq!(store.find_turn(&k, "req-2").await.unwrap(), None);
        assert!(store.find_turn(&k, "req-1").await.unwrap().is_some());
        assert!(store.find_turn(&k, "req-3").await.unwrap().is_some());
        assert!(store.find_turn(&k, "req-65").await.unwrap().is_some());
    }

    pub async fn keys_with_punctuation_and_unicode_stay_apart(store: &dyn SessionStore) {
        let keys = [
            SessionKey::new("a:b", "c"),
            SessionKey::new("a", "b:c"),
            SessionKey::new("a", "b"),
            SessionKey::new("ab", ""),
            SessionKey::new("", "ab"),
            SessionKey::new("team@example.com", "user/42.x"),
            SessionKey::new("プロジェクト", "usér ☃ 🎉"),
        ];
        for (i, k) in keys.iter().enumerate() {
            store
                .commit(
                    k,
                    commit_with_record(&format!("state-{i}"), 0, &format!("r{i}")),
                )
                .await
                .unwrap();
        }
        for (i, k) in keys.iter().enumerate() {
            assert_eq!(
                load(store, k).await,
                Some((format!("state-{i}"), 1)),
                "{k:?}"
            );
            assert!(
                store
                    .find_turn(k, &format!("r{i}"))
                    .await
                    .unwrap()
                    .is_some()
            );
            let j = (i + 1) % keys.len();
            assert_eq!(store.find_turn(k, &format!("r{j}")).await.unwrap(), None);
        }
        assert_eq!(store.count().await.unwrap(), keys.len() as u64);
    }

    pub async fn nul_in_keys_is_rejected(store: &dyn SessionStore) {
        fn invalid<T: std::fmt::Debug>(result: Result<T, StoreError>) {
            assert!(
                matches!(result, Err(StoreError::InvalidKey(_))),
                "{result:?}"
            );
        }
        for bad in [SessionKey::new("p\0", "u"), SessionKey::new("p", "u\0x")] {
            invalid(store.load(&bad).await);
            invalid(store.commit(&bad, commit("s", 0)).await);
            invalid(store.delete(&bad).await);
            invalid(store.find_turn(&bad, "r").await);
        }
        let k = key("u");
        invalid(
            store
                .commit(&k, commit_with_record("s", 0, "bad\0key"))
                .await,
        );
        invalid(store.find_turn(&k, "bad\0key").await);
        assert_eq!(store.count().await.unwrap(), 0, "nothing was written");
    }

    pub async fn count_follows_commits_and_deletes(store: &dyn SessionStore) {
        for user in ["a", "b", "c"] {
            store.commit(&key(user), commit("s", 0)).await.unwrap();
        }
        store.commit(&key("a"), commit("s", 1)).await.unwrap();
        assert_eq!(store.count().await.unwrap(), 3);
        store.delete(&key("b")).await.unwrap();
        assert_eq!(store.count().await.unwrap(), 2);
    }

    pub async fn writes_after_flush_are_refused(store: &dyn SessionStore) {
        let k = key("u");
        store.commit(&k, commit("s1", 0)).await.unwrap();
        store.flush().await.unwrap();
        assert!(matches!(
            store.commit(&k, commit("s2", 1)).await,
            Err(StoreError::Closed)
        ));
        assert!(matches!(store.delete(&k).await, Err(StoreError::Closed)));
        assert_eq!(
            load(store, &k).await,
            Some(("s1".into(), 1)),
            "reads still work"
        );
        store.flush().await.unwrap();
    }
}

fn memory() -> (Arc<dyn SessionStore>, Option<TempDir>) {
    (Arc::new(MemoryStore::new()), None)
}

/// A private PostgreSQL server per test: real, and isolated.
async fn postgres() -> (Arc<dyn SessionStore>, common::postgres::PgServer) {
    let server = common::postgres::PgServer::start();
    let store = PostgresStore::connect(&server.url).await.expect("connect");
    (Arc::new(store), server)
}

fn embedded() -> (Arc<dyn SessionStore>, Option<TempDir>) {
    let dir = TempDir::new("conformance");
    let store = EmbeddedStore::open(dir.path(), EmbeddedOptions::default()).expect("open");
    (Arc::new(store), Some(dir))
}

/// One `#[tokio::test]` per suite function, in a module per backend.
macro_rules! conformance {
    ($backend:ident: $($name:ident),* $(,)?) => {
        mod $backend {
            $(
                #[tokio::test]
                async fn $name() {
                    let (store, dir) = super::$backend();
                    super::suite::$name(&*store).await;
                    drop(store);
                    drop(dir);
                }
            )*
        }
    };
}

macro_rules! all_backends {
    ($($name:ident),* $(,)?) => {
        conformance!(memory: $($name),*);
        conformance!(embedded: $($name),*);
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    let (store, server) = super::postgres().await;
                    super::suite::$name(&*store).await;
                    drop(store);
                    drop(server);
                }
            )*
        }
    };
}

all_backends!(
    load_absent_is_none,
    first_commit_creates_version_one,
    stale_commit_conflicts_and_writes_nothing,
    commits_advance_the_version,
    delete_removes_session_and_records,
    turn_records_are_found_per_session,
    turn_records_keep_the_newest_64,
    keys_with_punctuation_and_unicode_stay_apart,
    nul_in_keys_is_rejected,
    count_follows_commits_and_deletes,
    writes_after_flush_are_refused,
);
