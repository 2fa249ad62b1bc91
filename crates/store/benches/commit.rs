//! Durable commits per second of the embedded store: one writer in sequence versus 64
//! concurrent committers (group commit), with 1 KiB states; plus, for scale, one bare redb
//! transaction per commit without the writer thread, and the cost of a load.
//!
//! Run: `cargo bench -p turnstile-store -- --warm-up-time 1 --measurement-time 3`.
//! Each benchmark prints the writer's commits per fsync when it ends.

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tokio::runtime::Runtime;
use turnstile_store::{Commit, EmbeddedOptions, EmbeddedStore, SessionKey, SessionStore};

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

/// `count` sequential commits to the session `user`, starting from `version`; returns the
/// last version.
async fn commit_chain(store: &EmbeddedStore, user: usize, mut version: u64, count: u64) -> u64 {
    let key = SessionKey::new("bench", format!("user-{user}"));
    let state = vec![b'x'; STATE_BYTES];
    for _ in 0..count {
        version = store
            .commit(&key, Commit::new(state.clone(), version))
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
            version = runtime.block_on(commit_chain(&store, 0, version, iters));
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

fn concurrent(c: &mut Criterion, runtime: &Runtime, name: &str, options: EmbeddedOptions) {
    const WRITERS: usize = 64;
    let (store, dir) = open(name, options);
    let mut versions = vec![0u64; WRITERS];
    let mut group = c.benchmark_group("embedded_commit");
    group.throughput(Throughput::Elements(1));
    group.bench_function(name, |b| {
        b.iter_custom(|iters| {
            // `iters` commits in all, spread over 64 tasks that each commit in sequence.
            let started = Instant::now();
            versions = runtime.block_on(async {
                let tasks: Vec<_> = (0..WRITERS)
                    .map(|writer| {
                        let store = Arc::clone(&store);
                        let share = iters / WRITERS as u64
                            + u64::from((writer as u64) < iters % WRITERS as u64);
                        let version = versions[writer];
                        tokio::spawn(
                            async move { commit_chain(&store, writer, version, share).await },
                        )
                    })
                    .collect();
                let mut done = Vec::with_capacity(WRITERS);
                for task in tasks {
                    done.push(task.await.expect("committer task"));
                }
                done
            });
            started.elapsed()
        })
    });
    group.finish();
    report(name, &store);
    drop(store);
    let _ = std::fs::remove_dir_all(dir);
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
}

criterion_group!(commit, benches);
criterion_main!(commit);
