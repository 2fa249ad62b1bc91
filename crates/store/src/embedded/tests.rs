//! Unit tests of the writer's batching, driven directly (no thread, no runtime).

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use redb::Database;
use tokio::sync::oneshot;

use super::tables;
use super::writer::{Counters, Request, Writer};
use crate::{Commit, Fence, SessionKey, StoreError, StoreStats, TurnRecord};

/// A fresh directory under the system temp dir, removed on drop.
struct TempDir(std::path::PathBuf);

impl TempDir {
    fn new() -> Self {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("turnstile-store-unit-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

struct Fixture {
    _dir: TempDir,
    db: Arc<Database>,
    counters: Arc<Counters>,
    sender: mpsc::Sender<Request>,
    writer: Writer,
}

fn fixture(max_batch: usize, max_wait: Duration) -> Fixture {
    let dir = TempDir::new();
    let db = Arc::new(Database::create(dir.0.join("test.redb")).unwrap());
    tables::create(&db).unwrap();
    let counters = Arc::new(Counters::default());
    let (sender, requests) = mpsc::channel();
    let writer = Writer {
        db: Arc::clone(&db),
        requests,
        max_batch,
        max_wait,
        counters: Arc::clone(&counters),
    };
    Fixture {
        _dir: dir,
        db,
        counters,
        sender,
        writer,
    }
}

type Answer = oneshot::Receiver<Result<u64, StoreError>>;

fn commit_request(key: &SessionKey, expected: u64, state: &str) -> (Request, Answer) {
    let (reply, answer) = oneshot::channel();
    let commit = Commit::new(state.as_bytes().to_vec(), expected).with_record(TurnRecord::new(
        format!("turn-{state}"),
        state.as_bytes().to_vec(),
    ));
    let key = key.clone();
    (Request::Commit { key, commit, reply }, answer)
}

fn version(answer: Answer) -> Result<u64, StoreError> {
    answer
        .blocking_recv()
        .expect("the writer answers every request")
}

#[test]
fn one_batch_applies_commits_in_arrival_order() {
    let f = fixture(16, Duration::ZERO);
    let (key, other) = (SessionKey::new("p", "u"), SessionKey::new("p", "v"));
    let plan = [
        (&key, 0, "a"),
        (&key, 1, "b"),
        (&key, 1, "stale"),
        (&other, 0, "c"),
        (&key, 2, "d"),
    ];
    let (mut batch, answers): (Vec<_>, Vec<_>) = plan
        .into_iter()
        .map(|(key, expected, state)| commit_request(key, expected, state))
        .unzip();

    f.writer.process(&mut batch);

    let results: Vec<_> = answers.into_iter().map(version).collect();
    assert!(matches!(results[0], Ok(1)));
    assert!(matches!(results[1], Ok(2)));
    assert!(matches!(
        results[2],
        Err(StoreError::Conflict {
            expected: 1,
            found: 2
        })
    ));
    assert!(matches!(results[3], Ok(1)));
    assert!(matches!(results[4], Ok(3)));
    let expected_stats = StoreStats {
        commits: 4,
        conflicts: 1,
        fenced: 0,
        deletes: 0,
        claims: 0,
        batches: 1,
    };
    assert_eq!(f.counters.snapshot(), expected_stats);

    let txn = tables::begin_read(&f.db).unwrap();
    let stored = tables::load(&txn, &key).unwrap().unwrap();
    assert_eq!((stored.state.as_slice(), stored.version), (&b"d"[..], 3));
    assert!(
        tables::find_turn(&txn, &key, "turn-stale")
            .unwrap()
            .is_none()
    );
    assert!(tables::find_turn(&txn, &key, "turn-b").unwrap().is_some());
}

#[test]
fn claims_and_fenced_commits_apply_in_arrival_order_within_a_batch() {
    let f = fixture(16, Duration::ZERO);
    let key = SessionKey::new("p", "u");
    let fenced = |expected: u64, epoch: u64| {
        let (reply, answer) = oneshot::channel();
        let commit = Commit::new(format!("e{epoch}").into_bytes(), expected).with_fence(Fence {
            partition: 7,
            epoch,
        });
        let key = key.clone();
        (Request::Commit { key, commit, reply }, answer)
    };
    let claim = |partition: u32| {
        let (reply, answer) = oneshot::channel();
        (Request::Claim { partition, reply }, answer)
    };
    let mut batch = Vec::new();
    let mut answers = Vec::new();
    for (request, answer) in [
        fenced(0, 0), // never claimed: epoch 0 matches
        claim(7),     // -> 1
        fenced(1, 0), // stale now
        fenced(1, 1),
        claim(8), // another partition: its own count
        claim(7), // -> 2
        fenced(2, 1),
    ] {
        batch.push(request);
        answers.push(answer);
    }

    f.writer.process(&mut batch);

    let results: Vec<_> = answers.into_iter().map(version).collect();
    assert!(matches!(results[0], Ok(1)), "{results:?}");
    assert!(matches!(results[1], Ok(1)), "{results:?}");
    assert!(
        matches!(
            results[2],
            Err(StoreError::Fenced {
                partition: 7,
                epoch: 0,
                current: 1
            })
        ),
        "{results:?}"
    );
    assert!(matches!(results[3], Ok(2)), "{results:?}");
    assert!(matches!(results[4], Ok(1)), "{results:?}");
    assert!(matches!(results[5], Ok(2)), "{results:?}");
    assert!(
        matches!(results[6], Err(StoreError::Fenced { current: 2, .. })),
        "{results:?}"
    );
    let expected_stats = StoreStats {
        commits: 2,
        conflicts: 0,
        fenced: 2,
        deletes: 0,
        claims: 3,
        batches: 1,
    };
    assert_eq!(f.counters.snapshot(), expected_stats);
    let txn = tables::begin_read(&f.db).unwrap();
    let stored = tables::load(&txn, &key).unwrap().unwrap();
    assert_eq!((stored.state.as_slice(), stored.version), (&b"e1"[..], 2));
}

#[test]
fn a_batch_that_changes_nothing_is_not_fsynced() {
    let f = fixture(16, Duration::ZERO);
    let key = SessionKey::new("p", "u");
    let (request, answer) = commit_request(&key, 3, "x");
    let (reply, deleted) = oneshot::channel();
    let mut batch = vec![request, Request::Delete { key, reply }];
    f.writer.process(&mut batch);
    assert!(matches!(
        version(answer),
        Err(StoreError::Conflict {
            expected: 3,
            found: 0
        })
    ));
    assert!(deleted.blocking_recv().unwrap().is_ok());
    let expected_stats = StoreStats {
        commits: 0,
        conflicts: 1,
        fenced: 0,
        deletes: 1,
        claims: 0,
        batches: 0,
    };
    assert_eq!(f.counters.snapshot(), expected_stats);
}

#[test]
fn collect_honours_max_batch_and_stops_at_shutdown() {
    let f = fixture(3, Duration::ZERO);
    let key = SessionKey::new("p", "u");
    let mut answers = Vec::new();
    for expected in 0..5 {
        let (request, answer) = commit_request(&key, expected, &expected.to_string());
        f.sender.send(request).unwrap();
        answers.push(answer);
    }
    let (reply, _stopped) = oneshot::channel();
    f.sender.send(Request::Shutdown { reply }).unwrap();
    let (request, _late) = commit_request(&key, 5, "late");
    f.sender.send(request).unwrap();

    let mut batch = vec![f.writer.requests.recv().unwrap()];
    assert!(!f.writer.collect(&mut batch), "a full batch is not a stop");
    assert_eq!(batch.len(), 3);
    batch.clear();
    batch.push(f.writer.requests.recv().unwrap());
    assert!(f.writer.collect(&mut batch), "the shutdown ends the batch");
    assert_eq!(
        batch.len(),
        3,
        "two commits and the shutdown, not the late commit"
    );
    assert!(matches!(batch.last(), Some(Request::Shutdown { .. })));
}

#[test]
fn collect_waits_up_to_max_wait_for_more() {
    let f = fixture(8, Duration::from_millis(300));
    let key = SessionKey::new("p", "u");
    let (first, _a) = commit_request(&key, 0, "a");
    let (second, _b) = commit_request(&key, 1, "b");
    let sender = f.sender.clone();
    let late = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(20));
        sender.send(second).unwrap();
    });
    let started = Instant::now();
    let mut batch = vec![first];
    assert!(!f.writer.collect(&mut batch));
    late.join().unwrap();
    assert_eq!(
        batch.len(),
        2,
        "the request sent during the wait joins the batch"
    );
    assert!(started.elapsed() >= Duration::from_millis(300));
}
