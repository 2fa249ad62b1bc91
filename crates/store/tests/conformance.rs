//! The behaviour every `SessionStore` backend must have, run against each backend.

mod common;

use std::sync::Arc;

use common::{TempDir, assert_conflict, assert_fenced, commit, commit_with_record, fence, load};
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
        assert!(matches!(
            store.claim_partition(1, "node-a").await,
            Err(StoreError::Closed)
        ));
        assert_eq!(
            load(store, &k).await,
            Some(("s1".into(), 1)),
            "reads still work"
        );
        store.flush().await.unwrap();
    }

    // Fencing: partition epochs.

    pub async fn claims_count_up_per_partition(store: &dyn SessionStore) {
        assert_eq!(store.claim_partition(7, "node-a").await.unwrap(), 1);
        assert_eq!(store.claim_partition(7, "node-b").await.unwrap(), 2);
        assert_eq!(store.claim_partition(7, "node-a").await.unwrap(), 3);
        // Other partitions have their own epochs, including the extremes of the range.
        assert_eq!(store.claim_partition(8, "node-a").await.unwrap(), 1);
        assert_eq!(store.claim_partition(0, "node-a").await.unwrap(), 1);
        assert_eq!(store.claim_partition(u32::MAX, "node-a").await.unwrap(), 1);
        assert_eq!(store.claim_partition(u32::MAX, "node-b").await.unwrap(), 2);
        assert_eq!(store.claim_partition(7, "node-b").await.unwrap(), 4);
        assert_eq!(store.claim_partition(8, "node-b").await.unwrap(), 2);
        // Owners are text without NUL, like keys.
        assert!(matches!(
            store.claim_partition(9, "bad\0node").await,
            Err(StoreError::InvalidKey(_))
        ));
        assert_eq!(store.claim_partition(9, "ünïcode node").await.unwrap(), 1);
        assert_eq!(store.count().await.unwrap(), 0, "claims are not sessions");
    }

    pub async fn fenced_commit_with_the_current_epoch_succeeds(store: &dyn SessionStore) {
        let k = key("u");
        let epoch = store.claim_partition(5, "node-a").await.unwrap();
        let c = commit_with_record("s1", 0, "r1").with_fence(fence(5, epoch));
        assert_eq!(store.commit(&k, c).await.unwrap(), 1);
        let c = commit("s2", 1).with_fence(fence(5, epoch));
        assert_eq!(store.commit(&k, c).await.unwrap(), 2);
        assert_eq!(load(store, &k).await, Some(("s2".into(), 2)));
        assert!(store.find_turn(&k, "r1").await.unwrap().is_some());
        // A never-claimed partition is at epoch 0.
        let c = commit("t1", 0).with_fence(fence(6, 0));
        assert_eq!(store.commit(&key("t"), c).await.unwrap(), 1);
        let fenced = store
            .commit(&key("t"), commit("t2", 1).with_fence(fence(6, 1)))
            .await;
        assert_fenced(fenced, 6, 1, 0);
    }

    pub async fn stale_epoch_is_fenced_and_writes_nothing(store: &dyn SessionStore) {
        let k = key("u");
        let old = store.claim_partition(5, "node-a").await.unwrap();
        let c = commit_with_record("s1", 0, "r1").with_fence(fence(5, old));
        store.commit(&k, c).await.unwrap();
        let new = store.claim_partition(5, "node-b").await.unwrap();
        assert_eq!(new, old + 1);
        let stale = commit_with_record("stale", 1, "r-stale").with_fence(fence(5, old));
        let result = store.commit(&k, stale).await;
        let err = result.as_ref().unwrap_err();
        assert!(err.is_fenced() && !err.is_conflict(), "{err:?}");
        assert_fenced(result, 5, old, new);
        // The fence is checked before the version: a stale writer with a wrong version too
        // learns that it lost the partition.
        let result = store
            .commit(&k, commit("stale", 9).with_fence(fence(5, old)))
            .await;
        assert_fenced(result, 5, old, new);
        // An epoch from the future is just as wrong.
        let result = store
            .commit(&k, commit("ahead", 1).with_fence(fence(5, new + 1)))
            .await;
        assert_fenced(result, 5, new + 1, new);
        // Nothing was written: state, version and records are as before.
        assert_eq!(load(store, &k).await, Some(("s1".into(), 1)));
        assert_eq!(store.find_turn(&k, "r-stale").await.unwrap(), None);
        assert!(store.find_turn(&k, "r1").await.unwrap().is_some());
        // The new epoch commits; a fenced first commit of another session is refused too.
        let c = commit("s2", 1).with_fence(fence(5, new));
        assert_eq!(store.commit(&k, c).await.unwrap(), 2);
        let other = store
            .commit(&key("other"), commit("o", 0).with_fence(fence(5, old)))
            .await;
        assert_fenced(other, 5, old, new);
        assert_eq!(load(store, &key("other")).await, None);
        assert_eq!(store.count().await.unwrap(), 1);
    }

    pub async fn unfenced_commits_ignore_epochs(store: &dyn SessionStore) {
        let k = key("u");
        store.claim_partition(5, "node-a").await.unwrap();
        store.commit(&k, commit("s1", 0)).await.unwrap();
        store.claim_partition(5, "node-b").await.unwrap();
        assert_eq!(store.commit(&k, commit("s2", 1)).await.unwrap(), 2);
        // Still compare-and-set on the version.
        assert_conflict(store.commit(&k, commit("stale", 1)).await, 1, 2);
        // A session's fence names any partition the caller chose; a claim of another
        // partition does not touch it.
        let epoch = store.claim_partition(6, "node-a").await.unwrap();
        store.claim_partition(5, "node-c").await.unwrap();
        let c = commit("s3", 2).with_fence(fence(6, epoch));
        assert_eq!(store.commit(&k, c).await.unwrap(), 3);
        assert_eq!(load(store, &k).await, Some(("s3".into(), 3)));
    }

    pub async fn two_owners_never_commit_the_same_version(store: &dyn SessionStore) {
        let k = key("contested");
        store.commit(&k, commit("v1", 0)).await.unwrap();
        // Owner A claims the partition and loads the session …
        let epoch_a = store.claim_partition(11, "node-a").await.unwrap();
        let seen_by_a = store.load(&k).await.unwrap().unwrap().version;
        // … then the partition moves to B (A has not noticed), which loads it too.
        let epoch_b = store.claim_partition(11, "node-b").await.unwrap();
        assert!(epoch_b > epoch_a);
        let seen_by_b = store.load(&k).await.unwrap().unwrap().version;
        assert_eq!(seen_by_a, seen_by_b);
        // A's commit of the next version is fenced; B's succeeds.
        let from_a = commit_with_record("by-a", seen_by_a, "turn-a").with_fence(fence(11, epoch_a));
        assert_fenced(store.commit(&k, from_a).await, 11, epoch_a, epoch_b);
        let from_b = commit_with_record("by-b", seen_by_b, "turn-b").with_fence(fence(11, epoch_b));
        assert_eq!(store.commit(&k, from_b).await.unwrap(), seen_by_b + 1);
        // Even if A retries with B's epoch, its version is stale: the CAS refuses it.
        let retry = commit_with_record("by-a", seen_by_a, "turn-a").with_fence(fence(11, epoch_b));
        assert_conflict(store.commit(&k, retry).await, seen_by_a, seen_by_b + 1);
        assert_eq!(load(store, &k).await, Some(("by-b".into(), seen_by_b + 1)));
        assert_eq!(store.find_turn(&k, "turn-a").await.unwrap(), None);
        assert!(store.find_turn(&k, "turn-b").await.unwrap().is_some());
    }
}

fn memory() -> (Arc<dyn SessionStore>, Option<TempDir>) {
    (Arc::new(MemoryStore::new()), None)
}

/// A private PostgreSQL server per test: real, and isolated.
async fn postgres() -> (Arc<dyn SessionStore>, turnstile_testkit::PgServer) {
    let server = turnstile_testkit::PgServer::start();
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
    claims_count_up_per_partition,
    fenced_commit_with_the_current_epoch_succeeds,
    stale_epoch_is_fenced_and_writes_nothing,
    unfenced_commits_ignore_epochs,
    two_owners_never_commit_the_same_version,
);
