//! Failover time of a 3-node cluster: the chaos scenario of `tests/chaos.rs` (200 sessions
//! doing turns, n1 then n2 killed with `kill -9` and restarted, clients retrying through any
//! node), run a few times; prints min / median / max of the time from the kill to each of the
//! dead node's sessions' next acknowledged turn, and the latency of ordinary turns for scale.
//!
//! `cargo bench --bench failover` (`FAILOVER_RUNS=5` for more runs, `FAILOVER_SESSIONS` for
//! another load). Needs PostgreSQL's server binaries, like the cluster tests.

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::Duration;

use support::chaos;
use support::cluster::Cluster;

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// `[min median max]` of sorted `values`.
fn summary(values: &[Duration]) -> String {
    match values {
        [] => "no samples".to_owned(),
        _ => format!(
            "[{:.2?} {:.2?} {:.2?}] (n = {})",
            values[0],
            values[values.len() / 2],
            values[values.len() - 1],
            values.len()
        ),
    }
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` runs this too, with no reason to.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runs = env_or("FAILOVER_RUNS", 3);
    let sessions = env_or("FAILOVER_SESSIONS", 200);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (mut all_failovers, mut all_latencies) = (Vec::new(), Vec::new());
    for round in 1..=runs {
        runtime.block_on(async {
            let mut cluster = Cluster::start_with("failover", 3, "tests/agents/counter.yaml").await;
            let run = chaos::run(&mut cluster, sessions).await;
            for (id, waits) in run.failovers() {
                println!("run {round}, kill -9 of {id}: failover {}", summary(&waits));
                all_failovers.extend(waits);
            }
            let latencies = run.latencies();
            println!(
                "run {round}: turns at the first attempt {}",
                summary(&latencies)
            );
            all_latencies.extend(latencies);
        });
    }
    all_failovers.sort();
    all_latencies.sort();
    println!(
        "failover/kill9_3_nodes_{sessions}_sessions: {}",
        summary(&all_failovers)
    );
    println!(
        "failover/turn_latency_under_load: {}",
        summary(&all_latencies)
    );
}
