//! `turnstile bench`: the HTTP load benchmark behind `docs/benchmarks.md`.
//!
//! It starts, as child processes of this binary, a turnstile server on the sample pizza agent
//! with the embedded store, and a bare axum server whose handler returns a fixed JSON array of
//! the same size. The same load generator then measures, in one run:
//! 1. throughput (closed loop, N connections) of both, alternating rounds, medians and ratio;
//! 2. `Converse` throughput over one gRPC stream and over several;
//! 3. latency (open loop) at half of turnstile's throughput: p50, p99;
//! 4. resident memory per session, from the server's RSS before and after N sessions.
//!
//! With `--postgres URL` it measures the cluster instead ([`cluster`]): turns/s with the
//! PostgreSQL store against the embedded store, and a forwarded turn against a local one.

mod cluster;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::{Value, json};
use turnstile_wire::json_to_request;

/// `turnstile bench` options.
#[derive(Debug, Clone, clap::Args)]
pub struct BenchArgs {
    /// Concurrent connections of the closed-loop phase.
    #[arg(long, default_value_t = 32)]
    pub connections: usize,
    /// Seconds per throughput round and for the latency phase.
    #[arg(long, default_value_t = 5)]
    pub seconds: u64,
    /// Throughput rounds per server (medians are reported).
    #[arg(long, default_value_t = 3)]
    pub rounds: usize,
    /// Sessions created for the memory measurement (0 skips it).
    #[arg(long, default_value_t = 100_000)]
    pub sessions: usize,
    /// The agent (default: the sample pizza agent).
    #[arg(long, default_value = "examples/agents/pizza.yaml")]
    pub agent: PathBuf,
    /// The store of the measured server (`embedded` or `memory`).
    #[arg(long, default_value = "embedded")]
    pub store: String,
    /// Measure the PostgreSQL store and forwarding between two nodes instead, on this
    /// database (its turnstile tables are created if missing).
    #[arg(long)]
    pub postgres: Option<String>,
}

/// The four turns of one pizza order, repeated by every simulated user.
fn conversation() -> [Value; 4] {
    [
        json!({"action": {"type": "launch"}}),
        json!({"action": {"type": "intent", "payload": {"intent": {"name": "order_pizza"}, "query": "Order a pizza", "entities": []}}}),
        json!({"action": {"type": "text", "payload": "a large one"}}),
        json!({"action": {"type": "text", "payload": "Ada"}}),
    ]
}

/// A server child process, killed on drop.
struct ChildServer {
    child: Child,
    addr: SocketAddr,
}

impl Drop for ChildServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn(args: &[&str]) -> anyhow::Result<ChildServer> {
    let exe = std::env::current_exe()?;
    let mut child = Command::new(exe)
        .args(args)
        .env("TURNSTILE_LOG", "error")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .context("cannot start a server")?;
    let stdout = child.stdout.take().context("no stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    let line = lines.next().context("the server printed nothing")??;
    std::thread::spawn(move || lines.for_each(drop));
    let addr = line
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|a| a.parse().ok())
        .with_context(|| format!("unexpected first line: {line}"))?;
    Ok(ChildServer { child, addr })
}

/// Resident set size of a process, in bytes (Linux).
fn rss_bytes(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .context("no VmRSS")?;
    Ok(kb * 1024)
}

pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    let work = std::env::temp_dir().join(format!("turnstile-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work)?;
    let result = run_in(&args, &work).await;
    let _ = std::fs::remove_dir_all(&work);
    result
}

async fn run_in(args: &BenchArgs, work: &Path) -> anyhow::Result<()> {
    let agent = std::fs::canonicalize(&args.agent)
        .with_context(|| format!("cannot find the agent {}", args.agent.display()))?;
    let agent = agent.to_str().context("agent path is not UTF-8")?;
    if let Some(url) = &args.postgres {
        return cluster::run(args, agent, url, work).await;
    }
    let data = work.join("db");
    let server = spawn(&[
        "serve",
        "--agent",
        agent,
        "--listen",
        "127.0.0.1:0",
        "--store",
        &args.store,
        "--data-dir",
        data.to_str().unwrap_or("db"),
    ])?;
    // The bare handler answers with what turnstile answers to a launch.
    let client = client()?;
    let launch = post(&client, server.addr, "probe", &conversation()[0]).await?;
    let bare = spawn(&["bench-bare", "--body", &launch.to_string()])?;
    println!(
        "turnstile at {}, bare axum at {}; {} connections, {} s rounds, {} cores",
        server.addr,
        bare.addr,
        args.connections,
        args.seconds,
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );

    let duration = Duration::from_secs(args.seconds);
    let (mut bare_rates, mut turnstile_rates) = (Vec::new(), Vec::new());
    for round in 0..args.rounds.max(1) {
        let b = closed_loop(
            &client,
            bare.addr,
            args.connections,
            duration,
            &format!("b{round}"),
        )
        .await?;
        let t = closed_loop(
            &client,
            server.addr,
            args.connections,
            duration,
            &format!("t{round}"),
        )
        .await?;
        println!(
            "round {}: bare {b:.0} req/s, turnstile {t:.0} turns/s (ratio {:.2})",
            round + 1,
            t / b
        );
        bare_rates.push(b);
        turnstile_rates.push(t);
    }
    let (b, t) = (median(&mut bare_rates), median(&mut turnstile_rates));
    println!(
        "throughput (median): bare axum {b:.0} req/s, turnstile {t:.0} turns/s, ratio {:.2}",
        t / b
    );

    for (streams, users) in [(1, 64), (4, 16)] {
        let converse_rate = converse(server.addr, streams, users, duration).await?;
        println!(
            "gRPC Converse, {streams} stream(s) x {users} users: {converse_rate:.0} turns/s (HTTP, {} connections: {t:.0} turns/s)",
            args.connections
        );
    }

    let rate = (t / 2.0).max(1.0);
    let (mut scheduled, mut service) = open_loop(&client, server.addr, rate, duration).await?;
    println!(
        "latency at {rate:.0} turns/s (half load, {} turns): from send p50 {:.2} ms, p99 {:.2} ms; from schedule p50 {:.2} ms, p99 {:.2} ms",
        service.len(),
        ms(percentile(&mut service, 0.50)),
        ms(percentile(&mut service, 0.99)),
        ms(percentile(&mut scheduled, 0.50)),
        ms(percentile(&mut scheduled, 0.99)),
    );
    drop(server);
    drop(bare);

    if args.sessions > 0 {
        memory(args, agent, work).await?;
    }
    Ok(())
}

fn client() -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .pool_max_idle_per_host(1024)
        .build()?)
}

async fn post(
    client: &reqwest::Client,
    addr: SocketAddr,
    user: &str,
    body: &Value,
) -> anyhow::Result<Value> {
    let response = client
        .post(format!("http://{addr}/state/user/{user}/interact"))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await?;
    let status = response.status();
    let text = response.text().await?;
    if !status.is_success() {
        bail!("{status}: {text}");
    }
    Ok(serde_json::from_str(&text)?)
}

/// `connections` users each run pizza orders back to back for `duration`; returns turns/s.
async fn closed_loop(
    client: &reqwest::Client,
    addr: SocketAddr,
    connections: usize,
    duration: Duration,
    tag: &str,
) -> anyhow::Result<f64> {
    let users = (0..connections).map(|w| format!("{tag}-{w}")).collect();
    closed_loop_users(client, addr, users, duration).await
}

/// Each of `users` runs pizza orders back to back, on its own connection, for `duration`;
/// returns turns/s.
async fn closed_loop_users(
    client: &reqwest::Client,
    addr: SocketAddr,
    users: Vec<String>,
    duration: Duration,
) -> anyhow::Result<f64> {
    let done = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + duration;
    let started = Instant::now();
    let workers: Vec<_> = users
        .into_iter()
        .map(|user| {
            let (client, done) = (client.clone(), done.clone());
            tokio::spawn(async move {
                let turns = conversation();
                let mut i = 0usize;
                while Instant::now() < deadline {
                    post(&client, addr, &user, &turns[i % 4]).await?;
                    done.fetch_add(1, Ordering::Relaxed);
                    i += 1;
                }
                anyhow::Ok(())
            })
        })
        .collect();
    for worker in workers {
        worker.await??;
    }
    Ok(done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64())
}

/// Sends turns at a fixed `rate` for `duration` (open loop: latency counts from each turn's
/// scheduled send time, so queueing in the server cannot hide). 64 workers share the schedule;
/// worker `w` sends turns `w, w + 64, …` for its own users, so each user's turns stay in order.
async fn open_loop(
    client: &reqwest::Client,
    addr: SocketAddr,
    rate: f64,
    duration: Duration,
) -> anyhow::Result<(Vec<Duration>, Vec<Duration>)> {
    const WORKERS: usize = 64;
    let total = (rate * duration.as_secs_f64()) as usize;
    let start = tokio::time::Instant::now();
    let workers: Vec<_> = (0..WORKERS)
        .map(|w| {
            let client = client.clone();
            tokio::spawn(async move {
                let turns = conversation();
                let mut latencies = Vec::with_capacity(total / WORKERS + 1);
                for (n, i) in (w..total).step_by(WORKERS).enumerate() {
                    let at = start + Duration::from_secs_f64(i as f64 / rate);
                    tokio::time::sleep_until(at).await;
                    // Each worker rotates over 8 users, one full order each.
                    let user = format!("lat-{w}-{}", (n / 4) % 8);
                    let sent = tokio::time::Instant::now();
                    post(&client, addr, &user, &turns[n % 4]).await?;
                    latencies.push((at.elapsed(), sent.elapsed()));
                }
                anyhow::Ok(latencies)
            })
        })
        .collect();
    let (mut scheduled, mut service) = (Vec::with_capacity(total), Vec::with_capacity(total));
    for worker in workers {
        for (from_schedule, from_send) in worker.await?? {
            scheduled.push(from_schedule);
            service.push(from_send);
        }
    }
    Ok((scheduled, service))
}

/// Turns/s over `streams` concurrent `Converse` streams, each carrying `users` conversations
/// that send their next turn as soon as the previous one is committed.
async fn converse(
    addr: SocketAddr,
    streams: usize,
    users: usize,
    duration: Duration,
) -> anyhow::Result<f64> {
    use turnstile_proto::v1::converse_response::Event;
    use turnstile_proto::v1::dialog_client::DialogClient;
    use turnstile_proto::v1::{ConverseRequest, InteractRequest};

    let done = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = started + duration;
    let tasks: Vec<_> = (0..streams)
        .map(|s| {
            let done = done.clone();
            tokio::spawn(async move {
                let turns = conversation();
                let request = |user: usize, step: usize| ConverseRequest {
                    correlation_id: user.to_string(),
                    turn: Some(InteractRequest {
                        user_id: format!("grpc-{s}-{user}"),
                        request: Some(json_to_request(&turns[step % 4]["action"])),
                        ..Default::default()
                    }),
                };
                let mut client = DialogClient::connect(format!("http://{addr}")).await?;
                let (tx, rx) = tokio::sync::mpsc::channel(users * 2);
                for user in 0..users {
                    tx.send(request(user, 0)).await?;
                }
                let mut answers = client
                    .converse(tokio_stream::wrappers::ReceiverStream::new(rx))
                    .await?
                    .into_inner();
                let mut steps = vec![0usize; users];
                let mut in_flight = users;
                while in_flight > 0 {
                    let answer = answers.message().await?.context("the stream ended early")?;
                    match answer.event {
                        Some(Event::Committed(_)) => {
                            done.fetch_add(1, Ordering::Relaxed);
                            let user: usize = answer.correlation_id.parse()?;
                            steps[user] += 1;
                            if Instant::now() < deadline {
                                tx.send(request(user, steps[user])).await?;
                            } else {
                                in_flight -= 1;
                            }
                        }
                        Some(Event::Error(e)) => bail!("turn failed: {e:?}"),
                        _ => {}
                    }
                }
                anyhow::Ok(())
            })
        })
        .collect();
    for task in tasks {
        task.await??;
    }
    Ok(done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64())
}

/// Resident memory per session: RSS of a fresh server before and after `sessions` launches.
async fn memory(args: &BenchArgs, agent: &str, work: &Path) -> anyhow::Result<()> {
    let config = work.join("memory.toml");
    std::fs::write(
        &config,
        format!(
            "agent = {agent:?}\n[limits]\nmax_resident_sessions = {}\n",
            args.sessions + 1000
        ),
    )?;
    let data = work.join("memory-db");
    let server = spawn(&[
        "serve",
        "--config",
        config.to_str().unwrap_or_default(),
        "--listen",
        "127.0.0.1:0",
        "--data-dir",
        data.to_str().unwrap_or("db"),
    ])?;
    let client = client()?;
    // Warm up: one session, so lazily built things (runtime, caches, pools) are counted before.
    post(&client, server.addr, "warmup", &conversation()[0]).await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = rss_bytes(server.child.id())?;
    let next = Arc::new(AtomicU64::new(0));
    let n = args.sessions as u64;
    let workers: Vec<_> = (0..64)
        .map(|_| {
            let (client, next) = (client.clone(), next.clone());
            let addr = server.addr;
            tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n {
                        return anyhow::Ok(());
                    }
                    post(&client, addr, &format!("m{i}"), &conversation()[0]).await?;
                }
            })
        })
        .collect();
    for worker in workers {
        worker.await??;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = rss_bytes(server.child.id())?;
    let state_json = client
        .get(format!("http://{}/state/user/m0", server.addr))
        .send()
        .await?
        .text()
        .await?;
    let ready: Value = serde_json::from_str(
        &client
            .get(format!("http://{}/readyz", server.addr))
            .send()
            .await?
            .text()
            .await?,
    )?;
    let per = (after.saturating_sub(before)) as f64 / n as f64;
    let state = state_footprint(&state_json, args.sessions)?;
    println!(
        "memory: {} resident sessions, RSS {:.1} MiB -> {:.1} MiB: {:.2} KB per session, of which \
         its state {:.2} KB ({} bytes as JSON); {:.2} KB on top of the state",
        ready["residentSessions"],
        before as f64 / 1048576.0,
        after as f64 / 1048576.0,
        per / 1000.0,
        state / 1000.0,
        state_json.len(),
        (per - state) / 1000.0
    );
    Ok(())
}

/// The memory one session's state takes as the server holds it (a parsed `SessionState` behind
/// an `Arc`), measured by holding `n` of them in this process.
fn state_footprint(state_json: &str, n: usize) -> anyhow::Result<f64> {
    let pid = std::process::id();
    let before = rss_bytes(pid)?;
    let held: Vec<Arc<turnstile_engine::SessionState>> = (0..n)
        .map(|_| serde_json::from_str(state_json).map(Arc::new))
        .collect::<Result<_, _>>()?;
    let after = rss_bytes(pid)?;
    drop(held);
    Ok(after.saturating_sub(before) as f64 / n as f64)
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn percentile(values: &mut [Duration], p: f64) -> Duration {
    values.sort();
    let index = ((values.len() as f64 * p).ceil() as usize).saturating_sub(1);
    values.get(index).copied().unwrap_or_default()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// `turnstile bench-bare`: the reference server, an axum handler returning a fixed body.
pub async fn bare_server(body: String) -> anyhow::Result<()> {
    use axum::routing::post;
    let body: &'static str = Box::leak(body.into_boxed_str());
    let app = axum::Router::new().route(
        "/state/user/{user}/interact",
        post(move || async move { ([("content-type", "application/json")], body) }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    println!("bare axum listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}
