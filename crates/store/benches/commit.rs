//! Durable commits per second of the embedded store: one writer in sequence versus 64
//! concurrent committers (group commit), with 1 KiB states; plus, for scale, one bare redb
//! transaction per commit without the writer thread, and the cost of a load. The same for
//! PostgreSQL (`postgres_commit`), against a private server the test kit starts (`fsync=on`).
//!
//! Run: `cargo bench -p turnstile-store -- --warm-up-time 1 --measurement-time 3`
//! (`-- postgres` for the PostgreSQL cases only).
//! Each embedded benchmark prints the writer's commits per fsync when it ends.

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tokio::runtime::Runtime;
use turnstile_store::{
    Commit, EmbeddedOptions, EmbeddedStore, Fence, PostgresStore, SessionKey, SessionStore,
    TurnRecord,
};
use turnstile_testkit::PgServer;

const STATE_BYTES: usize = 1024;

/// A store in a fresh directory under the system temp dir.
fn open(name: &str, options: EmbeddedOptions) -> (Arc<EmbeddedStore>, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(format!(
        "turnstile-store-bench-{name}-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    let store = EmbeddedStore::open(&dir, options).expect("open the store");
    (Arc::new(store), dir)
}

/// What each benchmarked commit carries besides its 1 KiB state.
#[derive(Clone, Copy)]
enum Shape {
    /// Nothing: a single-node commit without an idempotency key.
    Plain,
    /// A fence (partition `user % 16`, epoch 1: claimed once beforehand) and a turn record,
    /// as a cluster node commits a turn with an idempotency key.
    FencedWithRecord,
}

/// The partitions [`Shape::FencedWithRecord`] commits use.
const FENCED_PARTITIONS: u32 = 16;

/// `count` sequential commits to the session `user`, starting from `version`; returns the
/// last version.
async fn commit_chain(
    store: &dyn SessionStore,
    shape: Shape,
    user: usize,
    mut version: u64,
    count: u64,
) -> u64 {
    let key = SessionKey::new("bench", format!("user-{user}"));
    let state = vec![b'x'; STATE_BYTES];
    for _ in 0..count {
        let mut commit = Commit::new(state.clone(), version);
        if let Shape::FencedWithRecord = shape {
            let partition = user as u32 % FENCED_PARTITIONS;
            commit = commit
                .with_fence(Fence {
                    partition,
                    epoch: 1,
                })
                .with_record(TurnRecord::new(format!("turn-{version}"), b"[]".to_vec()));
        }
        version = store
            .commit(&key, commit)
            .await
            .expect("no conflicts: one task per session");
    }
    version
}

fn report(name: &str, store: &EmbeddedStore) {
    let stats = store.stats();
    if stats.commits == 0 {
        return; // filtered out
    }
    eprintln!(
        "{name}: {} commits in {} fsyncs = {:.1} commits per fsync",
        stats.commits,
        stats.batches,
        stats.commits_per_batch()
    );
}

fn sequential(c: &mut Criterion, runtime: &Runtime) {
    let (store, dir) = open("sequential", EmbeddedOptions::default());
    let mut version = 0;
    let mut group = c.benchmark_group("embedded_commit");
    group.throughput(Throughput::Elements(1));
    group.bench_function("1_writer_sequential", |b| {
        b.iter_custom(|iters| {
            let started = Instant::now();
            version = runtime.block_on(commit_chain(&*store, Shape::Plain, 0, version, iters));
            started.elapsed()
        })
    });
    group.finish();
    report("1_writer_sequential", &store);
    drop(store);
    let _ = std::fs::remove_dir_all(dir);
}

/// The floor: one redb write transaction per commit on the calling thread, no writer thread.
fn redb_direct(c: &mut Criterion) {
    use redb::{Database, Durability, ReadableDatabase, TableDefinition};
    const TABLE: TableDefinition<&str, &[u8]> = TableDefinition::new("bench");
    let dir =
        std::env::temp_dir().join(format!("turnstile-store-bench-redb-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("bench dir");
    let db = Database::create(dir.join("direct.redb")).expect("open redb");
    let state = vec![b'x'; STATE_BYTES];
    let commit_one = || {
        let mut txn = db.begin_write().expect("begin");
        txn.set_durability(Durability::Immediate)
            .expect("durability");
        txn.open_table(TABLE)
            .expect("table")
            .insert("key", state.as_slice())
            .expect("insert");
        txn.commit().expect("commit");
    };
    commit_one();
    let mut group = c.benchmark_group("embedded_commit");
    group.throughput(Throughput::Elements(1));
    group.bench_function("redb_direct_txn_per_commit", |b| b.iter(commit_one));
    group.finish();
    let mut group = c.benchmark_group("embedded_read");
    group.bench_function("redb_direct_read_1KiB", |b| {
        b.iter(|| {
            let txn = db.begin_read().expect("begin");
            let table = txn.open_table(TABLE).expect("table");
            table
                .get("key")
                .expect("get")
                .expect("present")
                .value()
                .to_vec()
        })
    });
    group.finish();
    drop(db);
    let _ = std::fs::remove_dir_all(dir);
}

/// `iters` commits in all, spread over `writers` tasks that each commit their own session in
/// sequence, continuing from `versions`; returns how long it took.
fn run_concurrent(
    runtime: &Runtime,
    store: &Arc<dyn SessionStore>,
    shape: Shape,
    versions: &mut [u64],
    iters: u64,
) -> Duration {
    let writers = versions.len() as u64;
    let started = Instant::now();
    let done = runtime.block_on(async {
        let tasks: Vec<_> = (0..versions.len())
            .map(|writer| {
                let store = Arc::clone(store);
                let share = iters / writers + u64::from((writer as u64) < iters % writers);
                let version = versions[writer];
                tokio::spawn(
                    async move { commit_chain(&*store, shape, writer, version, share).await },
                )
            })
            .collect();
        let mut done = Vec::with_capacity(tasks.len());
        for task in tasks {
            done.push(task.await.expect("committer task"));
        }
        done
    });
    let elapsed = started.elapsed();
    versions.copy_from_slice(&done);
    elapsed
}

fn concurrent(c: &mut Criterion, runtime: &Runtime, name: &str, options: EmbeddedOptions) {
    const WRITERS: usize = 64;
    let (store, dir) = open(name, options);
    let shared: Arc<dyn SessionStore> = store.clone();
    let mut versions = vec![0u64; WRITERS];
    let mut group = c.benchmark_group("embedded_commit");
    group.throughput(Throughput::Elements(1));
    group.bench_function(name, |b| {
        b.iter_custom(|iters| run_concurrent(runtime, &shared, Shape::Plain, &mut versions, iters))
    });
    group.finish();
    report(name, &store);
    drop(shared);
    drop(store);
    let _ = std::fs::remove_dir_all(dir);
}

/// A private PostgreSQL server and a store connected to a database of its own.
struct PgBench {
    store: Arc<dyn SessionStore>,
    _server: PgServer,
}

impl PgBench {
    fn start(runtime: &Runtime) -> PgBench {
        let server = PgServer::start();
        let store = runtime
            .block_on(PostgresStore::connect(&server.create_database("bench")))
            .expect("connect to the bench server");
        runtime.block_on(async {
            for partition in 0..FENCED_PARTITIONS {
                let epoch = store.claim_partition(partition, "bench").await;
                assert_eq!(epoch.expect("claim"), 1, "a fresh database");
            }
        });
        PgBench {
            store: Arc::new(store),
            _server: server,
        }
    }
}

/// PostgreSQL: one writer in sequence (one round trip and one WAL flush per commit at best)
/// and 64 concurrent committers (group commit), plain and as a cluster node commits (fenced,
/// with a turn record). Each case starts its own server, and only when criterion runs it (not
/// when it is filtered out).
fn postgres(c: &mut Criterion, runtime: &Runtime) {
    let mut group = c.benchmark_group("postgres_commit");
    group.throughput(Throughput::Elements(1));
    let cases = [
        ("1_writer_sequential", 1, Shape::Plain),
        ("64_concurrent", 64, Shape::Plain),
        (
            "64_concurrent_fenced_with_record",
            64,
            Shape::FencedWithRecord,
        ),
    ];
    for (name, writers, shape) in cases {
        let mut bench: Option<PgBench> = None;
        let mut versions = vec![0u64; writers];
        group.bench_function(name, |b| {
            let store = &bench.get_or_insert_with(|| PgBench::start(runtime)).store;
            b.iter_custom(|iters| run_concurrent(runtime, store, shape, &mut versions, iters))
        });
        if let Some(bench) = bench {
            runtime.block_on(bench.store.flush()).expect("flush");
        }
    }
    group.finish();
}

fn load(c: &mut Criterion, runtime: &Runtime) {
    let (store, dir) = open("load", EmbeddedOptions::default());
    let key = SessionKey::new("bench", "reader");
    runtime
        .block_on(store.commit(&key, Commit::new(vec![b'x'; STATE_BYTES], 0)))
        .expect("seed the session");
    let mut group = c.benchmark_group("embedded_read");
    group.bench_function("load_1KiB_spawn_blocking", |b| {
        b.iter(|| {
            runtime
                .block_on(store.load(&key))
                .expect("load")
                .expect("present")
        })
    });
    group.finish();
    drop(store);
    let _ = std::fs::remove_dir_all(dir);
}

fn benches(c: &mut Criterion) {
    let runtime = Runtime::new().expect("tokio runtime");
    redb_direct(c);
    sequential(c, &runtime);
    concurrent(c, &runtime, "64_concurrent", EmbeddedOptions::default());
    let wait = EmbeddedOptions {
        max_wait: Duration::from_millis(1),
        ..Default::default()
    };
    concurrent(c, &runtime, "64_concurrent_max_wait_1ms", wait);
    load(c, &runtime);
    postgres(c, &runtime);
}

criterion_group!(commit, benches);
criterion_main!(commit);
