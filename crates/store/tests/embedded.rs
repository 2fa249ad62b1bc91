//! The embedded store: durability across reopen, survival of `kill -9`, group commit.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{TempDir, assert_conflict, assert_fenced, commit, commit_with_record, fence, load};
use turnstile_store::{
    EmbeddedOptions, EmbeddedStore, SessionKey, SessionStore, StoreError, StoreSpec, open_store,
};

fn open(dir: &TempDir) -> EmbeddedStore {
    EmbeddedStore::open(dir.path(), EmbeddedOptions::default()).expect("open the store")
}

#[tokio::test]
async fn commits_survive_flush_and_reopen() {
    let dir = TempDir::new("reopen");
    let key = SessionKey::new("p", "u");
    {
        let store = open(&dir);
        assert!(store.path().ends_with("sessions.redb"));
        store
            .commit(&key, commit_with_record("s1", 0, "r1"))
            .await
            .unwrap();
        store.commit(&key, commit("s2", 1)).await.unwrap();
        store.flush().await.unwrap();
    }
    let store = open(&dir);
    assert_eq!(load(&store, &key).await, Some(("s2".into(), 2)));
    assert!(store.find_turn(&key, "r1").await.unwrap().is_some());
    assert_eq!(store.count().await.unwrap(), 1);
    assert_conflict(store.commit(&key, commit("stale", 1)).await, 1, 2);
}

#[tokio::test]
async fn claims_survive_reopen() {
    let dir = TempDir::new("claims");
    let key = SessionKey::new("p", "u");
    {
        let store = open(&dir);
        assert_eq!(store.claim_partition(3, "node-a").await.unwrap(), 1);
        assert_eq!(store.claim_partition(3, "node-a").await.unwrap(), 2);
        assert_eq!(store.claim_partition(4, "node-a").await.unwrap(), 1);
        let c = commit("s1", 0).with_fence(fence(3, 2));
        store.commit(&key, c).await.unwrap();
        assert_eq!(store.stats().claims, 3);
        // Dropped without flush: a claim is durable when it returns.
    }
    let store = open(&dir);
    assert_fenced(
        store
            .commit(&key, commit("s2", 1).with_fence(fence(3, 1)))
            .await,
        3,
        1,
        2,
    );
    assert_eq!(store.stats().fenced, 1);
    assert_eq!(store.claim_partition(3, "node-a").await.unwrap(), 3);
    assert_eq!(store.claim_partition(4, "node-a").await.unwrap(), 2);
    assert_eq!(load(&store, &key).await, Some(("s1".into(), 1)));
}

#[tokio::test]
async fn commits_survive_drop_without_flush() {
    let dir = TempDir::new("drop");
    let key = SessionKey::new("p", "u");
    let store = open(&dir);
    store.commit(&key, commit("s1", 0)).await.unwrap();
    let started = Instant::now();
    drop(store);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "drop must not hang"
    );
    let store = open(&dir);
    assert_eq!(load(&store, &key).await, Some(("s1".into(), 1)));
}

#[tokio::test]
async fn a_second_open_of_the_same_file_fails_clearly() {
    let dir = TempDir::new("locked");
    let _first = open(&dir);
    let err = EmbeddedStore::open(dir.path(), EmbeddedOptions::default()).unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, StoreError::Backend { .. }), "{message}");
    assert!(message.contains("sessions.redb"), "{message}");
}

#[tokio::test]
async fn open_store_builds_both_backends() {
    let dir = TempDir::new("spec");
    let spec = StoreSpec::parse("embedded", &dir.path().join("nested")).unwrap();
    let store = open_store(&spec).await.unwrap();
    store
        .commit(&SessionKey::new("p", "u"), commit("s", 0))
        .await
        .unwrap();
    assert!(dir.path().join("nested").join("sessions.redb").exists());
    let memory = open_store(&StoreSpec::Memory).await.unwrap();
    assert_eq!(memory.count().await.unwrap(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_commits_share_fsyncs() {
    let dir = TempDir::new("group");
    let store = Arc::new(open(&dir));
    let tasks: Vec<_> = (0..200)
        .map(|i| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                let key = SessionKey::new("p", format!("user-{i}"));
                store.commit(&key, commit_with_record("s", 0, "r")).await
            })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap().unwrap(), 1);
    }
    let stats = store.stats();
    assert_eq!(stats.commits, 200);
    assert!(
        stats.batches >= 1 && stats.batches < stats.commits,
        "no batching: {stats:?}"
    );
    assert_eq!(store.count().await.unwrap(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_commits_on_one_key_have_one_winner() {
    let dir = TempDir::new("race");
    let store = Arc::new(open(&dir));
    let key = SessionKey::new("p", "contended");
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let (store, key) = (Arc::clone(&store), key.clone());
            tokio::spawn(async move { store.commit(&key, commit(&format!("writer-{i}"), 0)).await })
        })
        .collect();
    let mut winners = Vec::new();
    for (i, task) in tasks.into_iter().enumerate() {
        match task.await.unwrap() {
            Ok(version) => winners.push((i, version)),
            result => assert_conflict(result, 0, 1),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one winner: {winners:?}");
    let (winner, version) = winners[0];
    assert_eq!(version, 1);
    assert_eq!(
        load(&*store, &key).await,
        Some((format!("writer-{winner}"), 1))
    );
    let stats = store.stats();
    assert_eq!((stats.commits, stats.conflicts), (1, 49));
}

/// Set to a directory, this makes `crash_child` commit until killed.
const CHILD_ENV: &str = "TURNSTILE_STORE_CRASH_CHILD_DIR";
const CHILD_SESSIONS: usize = 8;

/// Not a test on its own: the child process of `acknowledged_commits_survive_kill_9`. Without
/// the environment variable it does nothing.
#[test]
fn crash_child() {
    let Some(dir) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async move {
        let store =
            Arc::new(EmbeddedStore::open(dir.as_ref(), EmbeddedOptions::default()).unwrap());
        let tasks: Vec<_> = (0..CHILD_SESSIONS)
            .map(|session| {
                let store = Arc::clone(&store);
                tokio::spawn(async move {
                    let key = SessionKey::new("crash", format!("user-{session}"));
                    for version in 1.. {
                        let state = format!("state-{version}");
                        let record = format!("turn-{version}");
                        let c = commit_with_record(&state, version - 1, &record);
                        assert_eq!(store.commit(&key, c).await.unwrap(), version);
                        // Only now is the commit acknowledged.
                        let mut out = std::io::stdout().lock();
                        writeln!(out, "ACK {session} {version}").unwrap();
                        out.flush().unwrap();
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
    });
}

#[tokio::test]
async fn acknowledged_commits_survive_kill_9() {
    let dir = TempDir::new("crash");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "crash_child", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the child");
    let mut acked = [0u64; CHILD_SESSIONS];
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let started = Instant::now();
    let mut total = 0;
    // Kill it mid-run: after enough acknowledgements, or after 2 s on a very slow disk.
    while total < 2_000 && started.elapsed() < Duration::from_secs(2) {
        let Some(line) = lines.next() else { break };
        if let Some((session, version)) = parse_ack(&line.unwrap()) {
            acked[session] = acked[session].max(version);
            total += 1;
        }
    }
    child.kill().expect("SIGKILL the child");
    // Acknowledgements written before the kill are still in the pipe.
    for line in lines {
        if let Some((session, version)) = parse_ack(&line.unwrap()) {
            acked[session] = acked[session].max(version);
            total += 1;
        }
    }
    let status = child.wait().unwrap();
    assert!(
        !status.success(),
        "the child must have been killed, not finished: {status:?}"
    );
    assert!(total > 0, "the child acknowledged nothing");

    let store = open(&dir);
    let mut stored = [0u64; CHILD_SESSIONS];
    for (session, &last_acked) in acked.iter().enumerate() {
        let key = SessionKey::new("crash", format!("user-{session}"));
        let (state, version) = load(&store, &key).await.unwrap_or_default();
        stored[session] = version;
        assert!(
            version >= last_acked,
            "session {session}: stored v{version} < acked v{last_acked}"
        );
        if version > 0 {
            assert_eq!(
                state,
                format!("state-{version}"),
                "state and version are committed together"
            );
            let record = store
                .find_turn(&key, &format!("turn-{version}"))
                .await
                .unwrap();
            assert!(
                record.is_some(),
                "session {session}: the record of v{version} is missing"
            );
        }
    }
    eprintln!("{total} acknowledgements before the kill; acked {acked:?}, stored {stored:?}");
}

fn parse_ack(line: &str) -> Option<(usize, u64)> {
    let mut parts = line.strip_prefix("ACK ")?.split(' ');
    Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
}
