//! The PostgreSQL store across lost connections, against a real server: restarted, its
//! sessions terminated, stopped for a while, or a connection cut right around `COMMIT` (by a
//! relay in front of the server). Nothing here is mocked.
//!
//! What must hold: the store comes back by itself within a bounded time, calls made while the
//! database is down fail with `StoreError::Backend` within seconds (none hangs), and nothing is
//! acknowledged that is not stored.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::{assert_conflict, commit, commit_with_record, fence, load};
use turnstile_store::{PostgresStore, SessionKey, SessionStore, StoreError};
use turnstile_testkit::{Cut, PgProxy, PgServer};

/// How long the store may take to come back once the server is up again.
const RECOVERY: Duration = Duration::from_secs(15);
/// How long a call may take to fail while the server is down (the store waits about 5 s for a
/// connection, and one connection attempt is cut off after 3 s).
const FAIL_WITHIN: Duration = Duration::from_secs(10);

/// Commits `state` over `expected` with the turn record `turn` the way the session layer does:
/// a `Backend` error is retried with the same idempotency key until `RECOVERY` has passed, and
/// a conflict whose stored version carries this turn's record means an earlier attempt that
/// failed did commit. Returns the new version and how many attempts failed.
async fn commit_until_stored(
    store: &dyn SessionStore,
    key: &SessionKey,
    state: &str,
    expected: u64,
    turn: &str,
) -> (u64, u32) {
    let started = Instant::now();
    let mut failures = 0;
    loop {
        match store
            .commit(key, commit_with_record(state, expected, turn))
            .await
        {
            Ok(version) => return (version, failures),
            Err(error @ StoreError::Backend { .. }) => {
                failures += 1;
                assert!(
                    started.elapsed() < RECOVERY,
                    "{key}: still failing after {RECOVERY:?}: {error}"
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(StoreError::Conflict { found, .. })
                if found == expected + 1 && store.find_turn(key, turn).await.unwrap().is_some() =>
            {
                return (found, failures);
            }
            other => panic!("{key}: commit over v{expected}: {other:?}"),
        }
    }
}

/// Runs blocking test-kit work (stopping or starting the server) without stalling the runtime.
fn blocking<T>(work: impl FnOnce() -> T) -> T {
    tokio::task::block_in_place(work)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_comes_back_after_the_server_restarts() {
    let mut server = PgServer::start();
    let store = PostgresStore::connect(&server.create_database("restarted"))
        .await
        .unwrap();
    let key = SessionKey::new("p", "u");
    let other = SessionKey::new("p", "other");
    assert_eq!(
        store
            .commit(&key, commit_with_record("before", 0, "t1"))
            .await
            .unwrap(),
        1
    );
    assert_eq!(store.commit(&other, commit("kept", 0)).await.unwrap(), 1);
    assert_eq!(store.claim_partition(7, "node").await.unwrap(), 1);

    let outage = Instant::now();
    blocking(|| server.restart());
    let up = Instant::now();
    let (version, failures) = commit_until_stored(&store, &key, "after", 1, "t2").await;
    let recovered_at = Instant::now();
    let recovered = recovered_at - up;
    assert_eq!(version, 2);
    // Each connection comes back on its first use: no retries needed for these.
    assert_eq!(load(&store, &key).await, Some(("after".into(), 2)));
    assert_eq!(load(&store, &other).await, Some(("kept".into(), 1)));
    assert!(store.find_turn(&key, "t1").await.unwrap().is_some());
    assert!(store.find_turn(&key, "t2").await.unwrap().is_some());
    assert_eq!(store.count().await.unwrap(), 2);
    // The epoch from before the restart is kept, and the next claim raises it.
    let epoch = store.claim_partition(7, "node").await.unwrap();
    assert_eq!(epoch, 2);
    let fenced = commit("fenced", 2).with_fence(fence(7, epoch));
    assert_eq!(store.commit(&key, fenced).await.unwrap(), 3);
    assert!(recovered < RECOVERY);
    eprintln!(
        "restart: first commit acknowledged {recovered:?} after the server was up again \
         ({:?} after the shutdown began), {failures} failed attempts",
        recovered_at - outage
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_comes_back_when_its_sessions_are_terminated() {
    let server = PgServer::start();
    let store = PostgresStore::connect(&server.create_database("terminated"))
        .await
        .unwrap();
    let key = SessionKey::new("p", "u");
    assert_eq!(
        store
            .commit(&key, commit_with_record("s1", 0, "t1"))
            .await
            .unwrap(),
        1
    );
    assert_eq!(store.claim_partition(3, "node").await.unwrap(), 1);
    for round in 1..=2 {
        let killed = blocking(|| server.terminate_connections("terminated"));
        // The writer, the reader and the claimer (the schema migration's connection is closed
        // right after start).
        assert!(killed >= 3, "round {round}: {killed} sessions terminated");
        let started = Instant::now();
        // Each first call after the kill succeeds: it reconnects on the way.
        let expected = round as u64;
        let turn = format!("t{}", expected + 1);
        let c = commit_with_record(&format!("s{}", expected + 1), expected, &turn);
        assert_eq!(store.commit(&key, c).await.unwrap(), expected + 1);
        let state = format!("s{}", expected + 1);
        assert_eq!(load(&store, &key).await, Some((state, expected + 1)));
        assert!(store.find_turn(&key, "t1").await.unwrap().is_some());
        assert_eq!(
            store.claim_partition(3, "node").await.unwrap(),
            expected + 1
        );
        assert_eq!(store.count().await.unwrap(), 1);
        eprintln!(
            "terminate round {round}: commit, load, claim and count done {:?} after the kill",
            started.elapsed()
        );
    }
    // The store holds exactly its three connections again (no leak, no duplicates).
    assert_eq!(blocking(|| server.terminate_connections("terminated")), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_fail_promptly_while_the_server_is_down_and_nothing_is_lost() {
    let mut server = PgServer::start();
    let store = Arc::new(PostgresStore::connect(server.url()).await.unwrap());
    let key = SessionKey::new("p", "u");
    assert_eq!(
        store
            .commit(&key, commit_with_record("kept", 0, "t1"))
            .await
            .unwrap(),
        1
    );
    blocking(|| server.stop());

    // Commits, a delete, loads and a claim, alone and together, queued over two seconds.
    let started = Instant::now();
    let calls: Vec<_> = (0..40)
        .map(|i| {
            let store = Arc::clone(&store);
            let key = key.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(50 * i)).await;
                let called = Instant::now();
                let result = match i % 5 {
                    0 => store.load(&key).await.map(drop),
                    1 => store.claim_partition(1, "node").await.map(drop),
                    2 => store.delete(&SessionKey::new("p", "x")).await,
                    3 => store
                        .commit(&key, commit_with_record("lost", 1, "t2"))
                        .await
                        .map(drop),
                    _ => {
                        let other = SessionKey::new("p", format!("new-{i}"));
                        store.commit(&other, commit("lost", 0)).await.map(drop)
                    }
                };
                (i, result, called.elapsed())
            })
        })
        .collect();
    let mut slowest = Duration::ZERO;
    for call in calls {
        let (i, result, took) = call.await.unwrap();
        assert!(
            matches!(result, Err(StoreError::Backend { .. })),
            "call {i} while the server is down: {result:?}"
        );
        assert!(took < FAIL_WITHIN, "call {i} took {took:?} to fail");
        slowest = slowest.max(took);
    }
    eprintln!(
        "down: 40 calls over {:?} all failed, the slowest after {slowest:?}",
        started.elapsed()
    );

    blocking(|| server.start_again());
    let up = Instant::now();
    // The reader may be waiting out its backoff: the load waits for it rather than failing.
    assert_eq!(load(&*store, &key).await, Some(("kept".into(), 1)));
    let reads_back = up.elapsed();
    // Nothing attempted while the server was down was stored.
    assert_eq!(store.find_turn(&key, "t2").await.unwrap(), None);
    assert_eq!(store.count().await.unwrap(), 1);
    assert_eq!(store.claim_partition(1, "node").await.unwrap(), 1);
    assert_eq!(
        store
            .commit(&key, commit_with_record("next", 1, "t2"))
            .await
            .unwrap(),
        2
    );
    eprintln!(
        "down: reads back {reads_back:?} after the server was up, writes and claims right after"
    );
}

/// The writer's connection dies right after `COMMIT` reached the server: the transaction did
/// commit, and the store, having asked the server, acknowledges it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_whose_answer_is_lost_is_acknowledged_only_once_known_committed() {
    let server = PgServer::start();
    let proxy = PgProxy::start(server.port());
    let store = PostgresStore::connect(&proxy.url("postgres"))
        .await
        .unwrap();
    let key = SessionKey::new("p", "u");
    assert_eq!(store.commit(&key, commit("s1", 0)).await.unwrap(), 1);

    proxy.cut_at(b"COMMIT\0", Cut::AfterForwarding);
    let started = Instant::now();
    let answer = store.commit(&key, commit_with_record("s2", 1, "t2")).await;
    assert_eq!(proxy.cuts(), 1, "the relay did not cut at COMMIT");
    assert_eq!(answer.unwrap(), 2);
    eprintln!("in doubt, committed: resolved in {:?}", started.elapsed());
    assert_eq!(load(&store, &key).await, Some(("s2".into(), 2)));
    assert!(store.find_turn(&key, "t2").await.unwrap().is_some());

    // A COMMIT that never reached the server: the transaction is rolled back, and the store
    // says the commit failed.
    proxy.cut_at(b"COMMIT\0", Cut::BeforeForwarding);
    let answer = store.commit(&key, commit_with_record("s3", 2, "t3")).await;
    assert_eq!(proxy.cuts(), 2, "the relay did not cut at COMMIT");
    match answer {
        Err(StoreError::Backend { context, source }) => {
            assert!(context.contains("did not commit"), "{context}");
            // The cause is kept, not flattened into the text: the lost connection.
            let source = source.expect("the lost connection as the cause");
            assert!(source.is::<tokio_postgres::Error>(), "{source:?}");
        }
        other => panic!("a commit that never reached the server answered {other:?}"),
    }
    assert_eq!(load(&store, &key).await, Some(("s2".into(), 2)));
    assert_eq!(store.find_turn(&key, "t3").await.unwrap(), None);
    // Retrying with the same idempotency key works.
    let retry = commit_with_record("s3", 2, "t3");
    assert_eq!(store.commit(&key, retry).await.unwrap(), 3);
    assert_conflict(store.commit(&key, commit("stale", 2)).await, 2, 3);
}

/// Writers commit without pause while the sessions are terminated twice and the server is
/// restarted: every acknowledged version is the one stored, in order, none skipped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_commits_are_stored_through_repeated_outages() {
    const WRITERS: usize = 8;
    let mut server = PgServer::start();
    let store = Arc::new(
        PostgresStore::connect(&server.create_database("chaos"))
            .await
            .unwrap(),
    );
    let stop = Arc::new(AtomicBool::new(false));
    // Commits acknowledged so far, by all writers.
    let progress = Arc::new(AtomicU64::new(0));
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let (store, stop) = (Arc::clone(&store), Arc::clone(&stop));
            let progress = Arc::clone(&progress);
            tokio::spawn(async move {
                let key = SessionKey::new("chaos", format!("writer-{w}"));
                let (mut acked, mut failures) = (0, 0);
                while !stop.load(Ordering::SeqCst) {
                    let turn = format!("turn-{}", acked + 1);
                    let state = format!("{w}-{}", acked + 1);
                    // `commit_until_stored` panics if the stored version is not `acked` (a
                    // conflict without this turn's record).
                    let (version, failed) =
                        commit_until_stored(&*store, &key, &state, acked, &turn).await;
                    assert_eq!(version, acked + 1, "{key}");
                    acked = version;
                    failures += failed;
                    progress.fetch_add(1, Ordering::SeqCst);
                }
                (key, acked, failures)
            })
        })
        .collect();
    // Each outage starts once the writers have committed some more since the last one (a fixed
    // pause would be too short for a writer still reconnecting on a busy machine).
    let more_commits = || {
        let progress = Arc::clone(&progress);
        async move {
            let target = progress.load(Ordering::SeqCst) + 2 * WRITERS as u64;
            turnstile_testkit::wait_until(RECOVERY, "the writers stopped committing", || {
                progress.load(Ordering::SeqCst) >= target
            })
            .await;
        }
    };
    more_commits().await;
    assert!(blocking(|| server.terminate_connections("chaos")) >= 3);
    more_commits().await;
    blocking(|| server.restart());
    more_commits().await;
    // Only the writer is back: the reader and the claimer reconnect when next used.
    assert_eq!(blocking(|| server.terminate_connections("chaos")), 1);
    more_commits().await;
    stop.store(true, Ordering::SeqCst);
    let (mut total, mut failed) = (0, 0);
    for writer in writers {
        let (key, acked, failures) = writer.await.unwrap();
        assert!(acked > 0, "{key} committed nothing");
        let state = format!("{}-{acked}", &key.user["writer-".len()..]);
        assert_eq!(load(&*store, &key).await, Some((state, acked)), "{key}");
        let last = format!("turn-{acked}");
        assert!(
            store.find_turn(&key, &last).await.unwrap().is_some(),
            "{key}"
        );
        total += acked;
        failed += failures;
    }
    assert!(
        total > WRITERS as u64,
        "the writers barely committed: {total}"
    );
    eprintln!("outages: {total} commits acknowledged and stored, {failed} failed attempts retried");
}

/// Collects every event logged by the test binary, as `LEVEL field=value …` text.
struct Collector(std::sync::Mutex<Vec<String>>);

impl tracing::Subscriber for &'static Collector {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        struct Text(String);
        impl tracing::field::Visit for Text {
            fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                self.0 += &format!("{}={value:?} ", field.name());
            }
        }
        let mut text = Text(format!("{} ", event.metadata().level()));
        event.record(&mut text);
        self.0.lock().unwrap().push(text.0);
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

/// The binary's collector: global, because the store logs from tasks that may run on any
/// thread (a thread-local default subscriber misses those). Each test picks out its own lines.
fn logged() -> &'static Collector {
    static COLLECTOR: std::sync::OnceLock<&'static Collector> = std::sync::OnceLock::new();
    COLLECTOR.get_or_init(|| {
        let collector: &'static Collector =
            Box::leak(Box::new(Collector(std::sync::Mutex::new(Vec::new()))));
        tracing::subscriber::set_global_default(collector).expect("the only global subscriber");
        collector
    })
}

/// Losing its three connections, the store warns once per lost connection and once per
/// reconnection, naming the server without the URL's password.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_connections_and_reconnections_are_logged_once_without_the_password() {
    let logged = logged();
    let server = PgServer::start();
    server.create_database("logged");
    // The test server trusts every connection: the password is only there to be kept secret.
    let url = format!(
        "postgres://turnstile:hunter2-secret@127.0.0.1:{}/logged",
        server.port()
    );
    let store = PostgresStore::connect(&url).await.unwrap();
    let key = SessionKey::new("p", "u");
    store.commit(&key, commit("s1", 0)).await.unwrap();
    assert!(blocking(|| server.terminate_connections("logged")) >= 3);
    assert_eq!(store.commit(&key, commit("s2", 1)).await.unwrap(), 2);
    assert_eq!(load(&store, &key).await, Some(("s2".into(), 2)));
    assert_eq!(store.claim_partition(1, "node").await.unwrap(), 1);
    // This test's warnings: the ones about its database (other tests use other databases).
    let warnings = || -> Vec<String> {
        let lines = logged.0.lock().unwrap();
        lines
            .iter()
            .filter(|l| l.starts_with("WARN") && l.contains("/logged"))
            .cloned()
            .collect()
    };
    let count =
        |warnings: &[String], what: &str| warnings.iter().filter(|l| l.contains(what)).count();
    // Each reconnection was logged before its call returned; a loss found by a call was too,
    // but one found only by a connection's task may come a little later.
    let started = Instant::now();
    let warnings = loop {
        let warnings = warnings();
        if count(&warnings, "connection lost") >= 3 || started.elapsed() > RECOVERY {
            break warnings;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let lost = count(&warnings, "connection lost");
    let back = count(&warnings, "re-established");
    assert_eq!((lost, back, warnings.len()), (3, 3, 6), "{warnings:#?}");
    for role in ["writer", "reader", "claimer"] {
        let role = format!("role=\"{role}\"");
        assert_eq!(
            warnings.iter().filter(|l| l.contains(&role)).count(),
            2,
            "{warnings:#?}"
        );
    }
    let server_name = format!("server=127.0.0.1:{}/logged", server.port());
    assert!(
        warnings.iter().all(|l| l.contains(&server_name)),
        "{warnings:#?}"
    );
    let all = logged.0.lock().unwrap();
    assert!(!all.iter().any(|l| l.contains("hunter2")), "{all:#?}");
}
