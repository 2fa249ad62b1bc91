//! End-to-end test support: the real `turnstile` binary on a free loopback port, an HTTP client,
//! and a webhook server.
#![allow(dead_code)]

pub mod chaos;
pub mod cluster;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

/// A fresh temporary directory (removed on drop), named after the test for debugging.
pub struct TempDir(tempfile::TempDir);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        TempDir(
            tempfile::Builder::new()
                .prefix(&format!("turnstile-e2e-{name}-"))
                .tempdir()
                .expect("a temporary directory"),
        )
    }

    pub fn path(&self) -> &Path {
        self.0.path()
    }
}

pub fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// A running `turnstile serve`.
pub struct Server {
    pub child: Child,
    pub addr: SocketAddr,
    pub client: reqwest::Client,
    args: Vec<String>,
    env: Vec<(String, String)>,
}

impl Server {
    /// Starts `turnstile serve ARGS --listen 127.0.0.1:0` (unless ARGS has its own `--listen`)
    /// and waits until it listens.
    pub fn start(args: &[&str]) -> Server {
        Server::start_env(args, &[])
    }

    /// [`Server::start`] with extra environment variables (e.g. channel secrets).
    pub fn start_env(args: &[&str], env: &[(&str, &str)]) -> Server {
        // The workspace builds reqwest without a default crypto provider.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let mut command = Command::new(env!("CARGO_BIN_EXE_turnstile"));
        // If the test process dies, its servers die with it (no orphans holding ports).
        unsafe {
            command.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        command.arg("serve").args(&args);
        if !args.iter().any(|a| a == "--listen") {
            command.args(["--listen", "127.0.0.1:0"]);
        }
        command.envs(env.iter().copied());
        let mut child = command
            // `TEST_SERVER_LOG=turnstile_edge::cluster=debug` (say) to see what the servers do.
            .env(
                "TURNSTILE_LOG",
                std::env::var("TEST_SERVER_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the binary starts");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            if let Some(Ok(line)) = lines.next() {
                let _ = tx.send(line);
            }
            // Keep draining so the server never blocks on a full pipe.
            for _ in lines {}
        });
        let line = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("the server prints its address");
        let addr = line
            .split("http://")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("unexpected first line: {line}"));
        Server {
            child,
            addr,
            client: reqwest::Client::builder()
                .pool_max_idle_per_host(256)
                .build()
                .unwrap(),
            args,
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    /// The pizza agent in development mode with the embedded store in `data`.
    pub fn pizza(data: &Path) -> Server {
        let agent = repo("examples/agents/pizza.yaml");
        Server::start(&[
            "--agent",
            agent.to_str().unwrap(),
            "--data-dir",
            data.to_str().unwrap(),
        ])
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// POSTs JSON text; returns status and parsed body (`Null` if empty or not JSON).
    pub async fn post(&self, path: &str, body: &str, headers: &[(&str, &str)]) -> (u16, Value) {
        self.send(reqwest::Method::POST, path, Some(body), headers)
            .await
    }

    pub async fn get(&self, path: &str, headers: &[(&str, &str)]) -> (u16, Value) {
        self.send(reqwest::Method::GET, path, None, headers).await
    }

    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&str>,
        headers: &[(&str, &str)],
    ) -> (u16, Value) {
        let mut request = self.client.request(method, self.url(path));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body.to_owned());
        }
        let response = request.send().await.expect("the server answers");
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// Sends an action to `/state/user/{user}/interact`; returns the traces (asserts 200).
    pub async fn interact(&self, user: &str, action: Value) -> Vec<Value> {
        let body = serde_json::json!({ "action": action }).to_string();
        let (status, traces) = self
            .post(&format!("/state/user/{user}/interact"), &body, &[])
            .await;
        assert_eq!(status, 200, "{traces}");
        traces.as_array().cloned().unwrap_or_default()
    }

    /// SIGKILL: no chance to flush anything.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then waits for the exit status.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        self.child.wait().unwrap()
    }

    /// Starts the same command again (same data directory), on a new port.
    pub fn restart(&mut self) {
        self.kill9();
        let args: Vec<&str> = self.args.iter().map(String::as_str).collect();
        let env: Vec<(&str, &str)> = self
            .env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        *self = Server::start_env(&args, &env);
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The messages of the text traces, in order.
pub fn said(traces: &[Value]) -> Vec<String> {
    traces
        .iter()
        .filter(|t| t["type"] == "text")
        .filter_map(|t| t["payload"]["message"].as_str().map(str::to_owned))
        .collect()
}

/// A webhook stand-in on loopback whose answer waits `delay` (for slow turns).
pub async fn slow_webhook(delay: Duration) -> SocketAddr {
    SlowWebhook::start(delay).await.addr
}

/// [`slow_webhook`], counting the calls it has received: a test waits for a slow turn to be
/// under way (its webhook called) rather than sleeping and hoping it is.
pub struct SlowWebhook {
    pub addr: SocketAddr,
    calls: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl SlowWebhook {
    pub async fn start(delay: Duration) -> SlowWebhook {
        use axum::routing::post;
        use std::sync::atomic::Ordering;
        let calls = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = calls.clone();
        let app = axum::Router::new().route(
            "/hook",
            post(move || {
                counted.fetch_add(1, Ordering::SeqCst);
                async move {
                    // The slowness is the behaviour under test.
                    tokio::time::sleep(delay).await;
                    axum::Json(serde_json::json!({ "messages": [] }))
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        SlowWebhook { addr, calls }
    }

    /// The calls received so far.
    pub fn calls(&self) -> usize {
        self.calls.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Waits until the webhook has received `n` calls (for at most `limit`).
    pub async fn wait_for_calls(&self, n: usize, limit: Duration) {
        let what = format!("the webhook got fewer than {n} calls");
        turnstile_testkit::wait_until(limit, &what, || {
            self.calls.load(std::sync::atomic::Ordering::SeqCst) >= n
        })
        .await;
    }
}

/// Writes a file into `dir` and returns its path.
pub fn write(dir: &Path, name: &str, contents: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, contents).unwrap();
    path
}

/// A server with two keyed projects, `alpha` (key `VF.DM.alpha.secret`) and `beta`
/// (`VF.DM.beta.secret`, public), both running the pizza agent.
pub fn two_projects(data: &Path) -> Server {
    let agent = repo("examples/agents/pizza.yaml");
    let config = format!(
        "[[projects]]\nid = \"alpha\"\nagent = {agent:?}\napi_keys = [\"VF.DM.alpha.secret\"]\n\n\
         [[projects]]\nid = \"beta\"\nagent = {agent:?}\napi_keys = [\"VF.DM.beta.secret\"]\npublic = true\n"
    );
    let config = write(data, "turnstile.toml", &config);
    Server::start(&[
        "--config",
        config.to_str().unwrap(),
        "--data-dir",
        data.join("db").to_str().unwrap(),
    ])
}

/// Agent steps that append the reply captured in `item` to `log` and say the log, then wait
/// again at `wait` (a serial history: each turn sees what the previous one left).
pub const LOG_STEPS: &str = r#"      - id: append
        condition:
          - if: log == ()
            goto: first
      - set: { log: 'log + "," + item' }
        goto: tell
      - id: first
        set: { log: item }
      - id: tell
        say: "{log}"
        goto: wait
"#;
