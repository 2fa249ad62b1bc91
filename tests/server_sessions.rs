//! Session guarantees over HTTP against the real binary: one turn at a time in arrival order,
//! durability across `kill -9`, idempotent retries, SSE streaming, graceful shutdown.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::*;

/// An agent that appends each reply to `log` and says the log; with `webhook`, every turn first
/// waits on the webhook (a slow turn).
fn log_agent(dir: &std::path::Path, webhook: Option<std::net::SocketAddr>) -> std::path::PathBuf {
    let (settings, step) = match webhook {
        Some(addr) => (
            format!("settings:\n  webhook: {{ url: \"http://{addr}/hook\", timeout_ms: 10000 }}\n"),
            "      - webhook: {}\n",
        ),
        None => (String::new(), ""),
    };
    let yaml = format!(
        "{settings}flows:\n  main:\n    steps:\n      - id: wait\n        capture: item\n{step}{LOG_STEPS}"
    );
    write(dir, "log.yaml", &yaml)
}

fn serve_agent(agent: &std::path::Path, data: &std::path::Path) -> Server {
    Server::start(&[
        "--agent",
        agent.to_str().unwrap(),
        "--data-dir",
        data.join("db").to_str().unwrap(),
    ])
}

async fn say_text(server: &Server, user: &str, text: &str) -> String {
    let traces = server
        .interact(user, json!({"type": "text", "payload": text}))
        .await;
    said(&traces).join("|")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_of_one_user_run_one_at_a_time_while_others_run_in_parallel() {
    let dir = TempDir::new("order");
    let hook = slow_webhook(Duration::from_millis(20)).await;
    let server = Arc::new(serve_agent(&log_agent(dir.path(), Some(hook)), dir.path()));
    server.interact("hot", json!({"type": "launch"})).await;

    let started = Instant::now();
    let hot: Vec<_> = (0..50)
        .map(|i| {
            let server = server.clone();
            tokio::spawn(async move {
                let log = say_text(&server, "hot", &format!("r{i}")).await;
                (log, started.elapsed())
            })
        })
        .collect();
    let others: Vec<_> = (0..200)
        .map(|i| {
            let server = server.clone();
            tokio::spawn(async move {
                let user = format!("other-{i}");
                server.interact(&user, json!({"type": "launch"})).await;
                let log = say_text(&server, &user, &format!("only-{i}")).await;
                assert_eq!(
                    log,
                    format!("only-{i}"),
                    "{user} saw another session's state"
                );
                started.elapsed()
            })
        })
        .collect();
    let mut logs = Vec::new();
    let mut hot_done = Duration::ZERO;
    for task in hot {
        let (log, at) = task.await.unwrap();
        hot_done = hot_done.max(at);
        logs.push(log.split(',').map(str::to_owned).collect::<Vec<_>>());
    }
    let mut others_done = Duration::ZERO;
    for task in others {
        others_done = others_done.max(task.await.unwrap());
    }
    // Every turn saw exactly the state the previous one left: the 50 logs are the prefixes of
    // one history of length 50, each request appearing once.
    logs.sort_by_key(Vec::len);
    let history = logs.last().unwrap().clone();
    for (n, log) in logs.iter().enumerate() {
        assert_eq!(log.len(), n + 1, "turn {n} saw {log:?}");
        assert_eq!(log[..], history[..n + 1]);
    }
    let mut sorted = history.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), 50, "{history:?}");
    // The hot session's 50 slow turns are serial (≥ 50 × 20 ms); the other users were not
    // queued behind them.
    assert!(hot_done >= Duration::from_millis(1000), "{hot_done:?}");
    assert!(
        others_done < hot_done,
        "others {others_done:?} vs hot {hot_done:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_requests_run_in_arrival_order() {
    let dir = TempDir::new("arrival");
    let hook = slow_webhook(Duration::from_millis(150)).await;
    let server = Arc::new(serve_agent(&log_agent(dir.path(), Some(hook)), dir.path()));
    server.interact("q", json!({"type": "launch"})).await;
    // Requests 60 ms apart, each turn 150 ms: they queue, and must run in the order they came.
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let server = server.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(60 * i)).await;
                say_text(&server, "q", &format!("m{i}")).await
            })
        })
        .collect();
    let mut last = String::new();
    for task in tasks {
        last = task.await.unwrap();
    }
    assert_eq!(last, "m0,m1,m2,m3,m4,m5,m6,m7");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_limit_answers_429_with_retry_after() {
    let dir = TempDir::new("queue");
    let hook = slow_webhook(Duration::from_millis(300)).await;
    let agent = log_agent(dir.path(), Some(hook));
    let config = write(
        dir.path(),
        "turnstile.toml",
        &format!("agent = \"{}\"\n[limits]\nmax_queue = 2\n", agent.display()),
    );
    let server = Arc::new(Server::start(&[
        "--config",
        config.to_str().unwrap(),
        "--data-dir",
        dir.path().join("db").to_str().unwrap(),
    ]));
    server.interact("busy", json!({"type": "launch"})).await;
    let tasks: Vec<_> = (0..6)
        .map(|i| {
            let server = server.clone();
            tokio::spawn(async move {
                let body =
                    json!({"action": {"type": "text", "payload": format!("t{i}")}}).to_string();
                let response = server
                    .client
                    .post(server.url("/state/user/busy/interact"))
                    .body(body)
                    .send()
                    .await
                    .unwrap();
                let retry = response.headers().get("retry-after").cloned();
                (response.status().as_u16(), retry)
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for task in tasks {
        statuses.push(task.await.unwrap());
    }
    let rejected: Vec<_> = statuses.iter().filter(|(s, _)| *s == 429).collect();
    assert!(!rejected.is_empty(), "{statuses:?}");
    assert!(rejected.iter().all(|(_, retry)| retry.is_some()));
    assert!(
        statuses.iter().all(|(s, _)| *s == 200 || *s == 429),
        "{statuses:?}"
    );
    // What was accepted ran; the session is fine.
    let accepted = statuses.iter().filter(|(s, _)| *s == 200).count();
    let (_, state) = server.get("/state/user/busy", &[]).await;
    assert_eq!(state["turn"], 1 + accepted as u64);
}

/// An agent that counts turns: `n` goes up by one per request and is said.
const COUNTER: &str = r#"
variables: [n]
flows:
  main:
    steps:
      - id: count
        set: { n: n + 1 }
      - say: "{n}"
      - capture: anything
        goto: count
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_turns_survive_kill_9() {
    let dir = TempDir::new("kill9");
    let agent = write(dir.path(), "counter.yaml", COUNTER);
    let mut server = serve_agent(&agent, dir.path());
    // 40 users turn as fast as they can; each remembers the last count acknowledged to it.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    // Turns acknowledged so far, by all users.
    let progress = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let users: Vec<_> = (0..40)
        .map(|u| {
            let (client, base) = (server.client.clone(), server.url(""));
            let stop = stop.clone();
            let progress = progress.clone();
            tokio::spawn(async move {
                let user = format!("k{u}");
                let mut acked = 0u64;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let action = if acked == 0 {
                        json!({"type": "launch"})
                    } else {
                        json!({"type": "text", "payload": "+"})
                    };
                    let sent = client
                        .post(format!("{base}/state/user/{user}/interact"))
                        .body(json!({ "action": action }).to_string())
                        .send()
                        .await;
                    let Ok(response) = sent else { break };
                    let Ok(text) = response.text().await else {
                        break;
                    };
                    let Ok(traces) = serde_json::from_str::<Value>(&text) else {
                        break;
                    };
                    if let Some(n) = said(traces.as_array().unwrap()).first() {
                        acked = n.parse().unwrap();
                        progress.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                }
                (user, acked)
            })
        })
        .collect();
    // Kill while turns are in flight: once every user has had a few turns acknowledged.
    turnstile_testkit::wait_until(
        Duration::from_secs(60),
        "the users barely made progress",
        || progress.load(std::sync::atomic::Ordering::Relaxed) >= 40 * 5,
    )
    .await;
    server.kill9();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut acked = Vec::new();
    for user in users {
        acked.push(user.await.unwrap());
    }
    let total: u64 = acked.iter().map(|(_, n)| n).sum();
    assert!(total > 40, "the load ran ({total} turns acknowledged)");
    server.restart();
    for (user, n) in acked {
        let (_, state) = server.get(&format!("/state/user/{user}"), &[]).await;
        let stored = state["variables"]["n"].as_u64().unwrap_or(0);
        // Every acknowledged turn is there; at most the one in flight at the kill is extra.
        assert!(
            stored == n || stored == n + 1,
            "{user}: acknowledged {n}, stored {stored}"
        );
    }
}

#[tokio::test]
async fn a_retried_request_with_the_same_idempotency_key_runs_once() {
    let data = TempDir::new("idem");
    let server = Server::pizza(data.path());
    server.interact("i1", json!({"type": "launch"})).await;
    let body = r#"{"action": {"type": "text", "payload": "I want a pizza"}}"#;
    let key = [("idempotency-key", "order-1")];
    let (status, first) = server.post("/state/user/i1/interact", body, &key).await;
    assert_eq!(status, 200);
    assert_eq!(
        said(first.as_array().unwrap()),
        ["What size would you like?"]
    );
    let (_, state) = server.get("/state/user/i1", &[]).await;
    assert_eq!(state["turn"], 2);
    // The retry (even with another body) gets the first answer, byte for byte; no new turn.
    let retry = r#"{"action": {"type": "text", "payload": "when are you open"}}"#;
    let (status, again) = server.post("/state/user/i1/interact", retry, &key).await;
    assert_eq!(status, 200);
    assert_eq!(first, again);
    let (_, state) = server.get("/state/user/i1", &[]).await;
    assert_eq!(state["turn"], 2, "the retry did not run a turn");
    // `turn_id` in the body works the same way; a new key runs a new turn.
    let with_id = r#"{"action": {"type": "text", "payload": "big"}, "turn_id": "t-3"}"#;
    let (_, third) = server.post("/state/user/i1/interact", with_id, &[]).await;
    let (_, third_again) = server.post("/state/user/i1/interact", with_id, &[]).await;
    assert_eq!(third, third_again);
    let (_, state) = server.get("/state/user/i1", &[]).await;
    assert_eq!(state["turn"], 3);
    assert_eq!(state["variables"]["size"], "large");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sse_streams_traces_before_the_turn_ends() {
    let dir = TempDir::new("sse");
    let hook = slow_webhook(Duration::from_millis(1000)).await;
    let yaml = format!(
        "settings:\n  webhook: {{ url: \"http://{hook}/hook\" }}\nflows:\n  main:\n    steps:\n      - say: Working on it\n      - webhook: {{}}\n      - say: Done\n"
    );
    let agent = write(dir.path(), "slow.yaml", &yaml);
    let server = serve_agent(&agent, dir.path());
    let started = Instant::now();
    let mut response = server
        .client
        .post(server.url("/v2/project/default/user/s1/interact/stream"))
        .header("accept", "text/event-stream")
        .body(r#"{"action": {"type": "launch"}}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let mut text = String::new();
    let mut first_trace_at = None;
    while let Some(chunk) = response.chunk().await.unwrap() {
        text.push_str(&String::from_utf8_lossy(&chunk));
        if first_trace_at.is_none() && text.contains("event: trace") {
            first_trace_at = Some(started.elapsed());
        }
    }
    let ended_at = started.elapsed();
    let first = first_trace_at.expect("a trace event");
    assert!(
        first < Duration::from_millis(700),
        "first trace after {first:?}"
    );
    assert!(
        ended_at >= Duration::from_millis(1000),
        "ended after {ended_at:?}"
    );
    // Events: trace, trace, …, end — ids counting from 1, data = the trace itself.
    let events: Vec<(String, String, String)> = text
        .split("\n\n")
        .filter(|e| !e.trim().is_empty() && !e.starts_with(':'))
        .map(|e| {
            let field = |name: &str| {
                e.lines()
                    .find_map(|l| l.strip_prefix(&format!("{name}:")))
                    .map(|v| v.trim().to_owned())
                    .unwrap_or_default()
            };
            (field("event"), field("id"), field("data"))
        })
        .collect();
    let names: Vec<&str> = events.iter().map(|e| e.0.as_str()).collect();
    assert_eq!(names, ["trace", "trace", "trace", "end"], "{text}");
    assert_eq!(events[0].1, "1");
    let first: Value = serde_json::from_str(&events[0].2).unwrap();
    assert_eq!(first["payload"]["message"], "Working on it");
    let last: Value = serde_json::from_str(&events[1].2).unwrap();
    assert_eq!(last["payload"]["message"], "Done");
    // The streamed turn was committed like any other.
    let (_, state) = server.get("/state/user/s1", &[]).await;
    assert_eq!(state["variables"]["last_response"], "Done");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_finishes_running_turns_then_exits_cleanly() {
    let dir = TempDir::new("sigterm");
    let hook = SlowWebhook::start(Duration::from_millis(800)).await;
    let mut server = serve_agent(&log_agent(dir.path(), Some(hook.addr)), dir.path());
    server.interact("g", json!({"type": "launch"})).await;
    let before = hook.calls();
    let (client, url) = (server.client.clone(), server.url("/state/user/g/interact"));
    let running = tokio::spawn(async move {
        let response = client
            .post(url)
            .body(r#"{"action": {"type": "text", "payload": "last words"}}"#)
            .send()
            .await
            .unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    });
    // SIGTERM once the turn is running: waiting on its webhook.
    hook.wait_for_calls(before + 1, Duration::from_secs(10))
        .await;
    let status = tokio::task::spawn_blocking(move || {
        let status = server.terminate();
        (status, server)
    });
    let (code, body) = running.await.unwrap();
    assert_eq!(code, 200, "{body}");
    assert!(body.contains("last words"), "{body}");
    let (status, mut server) = status.await.unwrap();
    assert!(status.success(), "exit status {status:?}");
    server.restart();
    let (_, state) = server.get("/state/user/g", &[]).await;
    assert_eq!(state["variables"]["log"], "last words");
}
