//! The chaos scenario, shared by `tests/chaos.rs` (correctness, with a generous failover
//! bound) and `benches/failover.rs` (failover times): three nodes and PostgreSQL under a load of
//! conversations doing numbered turns with idempotency keys, retried through any node on
//! failure, while nodes are killed (`kill -9`) and restarted.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;
use turnstile_cluster::{Ring, partition_of};

use super::cluster::{Cluster, url_of};
use super::said;

/// Below the 64 turn records a store keeps per session, so every turn can be audited.
pub const MAX_TURNS: u32 = 60;

/// What one client saw.
pub struct ClientLog {
    pub user: String,
    /// Turn number → when its acknowledgement arrived (0 is the launch).
    pub acks: Vec<(u32, Instant)>,
    /// Acknowledged answers that were not the expected one.
    pub violations: Vec<String>,
    pub retries: u32,
    /// How long each turn answered at its first attempt took.
    pub latencies: Vec<Duration>,
}

/// One run of the scenario.
pub struct Run {
    pub logs: Vec<ClientLog>,
    /// Which node was killed, and when.
    pub kills: Vec<(usize, Instant)>,
}

impl Run {
    /// For each kill: how long each session the dead node owned waited for its next
    /// acknowledged turn after the kill, sorted.
    pub fn failovers(&self) -> Vec<(String, Vec<Duration>)> {
        let ring = Ring::new(["n1", "n2", "n3"]);
        self.kills
            .iter()
            .map(|(victim, killed_at)| {
                let id = Cluster::node_id(*victim);
                let mut waits: Vec<Duration> = self
                    .logs
                    .iter()
                    .filter(|l| ring.owner(partition_of("default", &l.user)) == Some(id.as_str()))
                    .filter_map(|l| l.acks.iter().find(|(_, at)| at > killed_at))
                    .map(|(_, at)| at.duration_since(*killed_at))
                    .collect();
                waits.sort();
                (id, waits)
            })
            .collect()
    }

    /// Every turn answered at its first attempt, sorted by how long it took.
    pub fn latencies(&self) -> Vec<Duration> {
        let mut all: Vec<Duration> = self.logs.iter().flat_map(|l| l.latencies.clone()).collect();
        all.sort();
        all
    }
}

async fn client(
    user: String,
    ports: Vec<u16>,
    http: reqwest::Client,
    stop: Arc<AtomicBool>,
    acked: Arc<AtomicUsize>,
) -> ClientLog {
    let mut log = ClientLog {
        user: user.clone(),
        acks: Vec::new(),
        violations: Vec::new(),
        retries: 0,
        latencies: Vec::new(),
    };
    let mut node = partition_of("x", &user) as usize;
    for n in 0..=MAX_TURNS {
        if n > 0 && stop.load(Ordering::Acquire) {
            break;
        }
        let action = if n == 0 {
            json!({"type": "launch"})
        } else {
            json!({"type": "text", "payload": format!("m{n}")})
        };
        let body = json!({ "action": action }).to_string();
        let started = Instant::now();
        let mut first_attempt = true;
        loop {
            let url = url_of(
                ports[node % ports.len()],
                &format!("/state/user/{user}/interact"),
            );
            let response = http
                .post(url)
                .header("content-type", "application/json")
                .header("idempotency-key", format!("{user}-{n}"))
                .body(body.clone())
                .timeout(Duration::from_secs(10))
                .send()
                .await;
            let answered =
                match response {
                    Ok(r) if r.status().is_success() => r.text().await.ok().and_then(|body| {
                        serde_json::from_str::<Vec<serde_json::Value>>(&body).ok()
                    }),
                    _ => None,
                };
            if let Some(traces) = answered {
                let expected = if n == 0 {
                    "ready".to_owned()
                } else {
                    format!("turn {n}: m{n}")
                };
                if said(&traces) != [expected.clone()] {
                    log.violations.push(format!(
                        "{user} turn {n}: expected {expected:?}, got {traces:?}"
                    ));
                }
                log.acks.push((n, Instant::now()));
                if first_attempt {
                    log.latencies.push(started.elapsed());
                }
                acked.fetch_add(1, Ordering::Release);
                break;
            }
            // Through another node next time; a dead node refuses connections.
            log.retries += 1;
            first_attempt = false;
            node += 1;
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "{user} turn {n} never succeeded"
            );
            // The client's retry back-off.
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    log
}

/// Runs a blocking fixture call without stalling the runtime's other tasks.
fn blocking<T>(f: impl FnOnce() -> T) -> T {
    tokio::task::block_in_place(f)
}

/// Waits until the clients have acknowledged `turns` more turns (the load is flowing), for at
/// most `within`.
async fn more_turns(acked: &AtomicUsize, turns: usize, within: Duration) {
    let target = acked.load(Ordering::Acquire) + turns;
    let what = format!("the clients acknowledged fewer than {turns} turns");
    turnstile_testkit::wait_until(within, &what, || acked.load(Ordering::Acquire) >= target).await;
}

/// `sessions` clients against the 3-node `cluster`: kills n1 under load, brings it back, then
/// kills n2 and brings it back. Each step waits until the clients have made progress since the
/// last (rather than for a fixed time), so a slow machine runs the same scenario, only slower.
pub async fn run(cluster: &mut Cluster, sessions: usize) -> Run {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .build()
        .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(AtomicUsize::new(0));
    let clients: Vec<_> = (0..sessions)
        .map(|i| {
            tokio::spawn(client(
                format!("chaos-{i}"),
                cluster.ports.clone(),
                http.clone(),
                stop.clone(),
                acked.clone(),
            ))
        })
        .collect();

    // About 2 turns per session between steps: every session is mid-conversation at a kill,
    // and the dead node's sessions have moved (and been served) before it comes back.
    let step = 2 * sessions;
    let within = Duration::from_secs(60);
    let mut kills = Vec::new();
    more_turns(&acked, step, within).await;
    for victim in [0, 1] {
        blocking(|| cluster.kill_node(victim));
        kills.push((victim, Instant::now()));
        more_turns(&acked, 2 * step, within).await;
        blocking(|| cluster.start_node(victim));
        more_turns(&acked, step, within).await;
    }
    stop.store(true, Ordering::Release);
    let mut logs = Vec::new();
    for c in clients {
        logs.push(c.await.expect("a client task"));
    }
    Run { logs, kills }
}
