//! Test support: deterministic effects with real HTTP, a conversation driver, trace builders and
//! a real webhook server on loopback.
#![allow(dead_code)]

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::post;
use serde_json::{Value, json};
use turnstile_engine::{
    Agent, Effects, HttpError, HttpRequest, HttpResponse, Request, SessionState, TurnOptions,
    TurnOutcome, load_agent_str, run_turn,
};

/// The fixed clock of every test turn.
pub const NOW_MS: u64 = 1_700_000_000_000;

/// A fixed clock, a seeded random source, and real HTTP through reqwest.
pub struct TestEffects {
    rng: AtomicU64,
    client: reqwest::Client,
}

impl TestEffects {
    pub fn new(seed: u64) -> Self {
        // In a workspace build reqwest may come without a default crypto provider.
        let _ = rustls::crypto::ring::default_provider().install_default();
        TestEffects {
            rng: AtomicU64::new(seed),
            client: reqwest::Client::new(),
        }
    }
}

impl Effects for TestEffects {
    fn now_ms(&self) -> u64 {
        NOW_MS
    }

    fn random_below(&self, n: usize) -> usize {
        // splitmix64: deterministic for a given seed and call order.
        let mut z = self
            .rng
            .fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed)
            .wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) % n as u64) as usize
    }

    async fn http(&self, request: HttpRequest) -> Result<HttpResponse, HttpError> {
        let method =
            reqwest::Method::from_bytes(request.method.as_bytes()).map_err(HttpError::other)?;
        let mut builder = self
            .client
            .request(method, &request.url)
            .timeout(request.timeout);
        for (name, value) in &request.headers {
            builder = builder.header(name, value);
        }
        if let Some(body) = request.body {
            builder = builder.body(body);
        }
        let classify = |e: reqwest::Error| {
            if e.is_timeout() {
                HttpError::Timeout
            } else if e.is_connect() {
                HttpError::connect(e)
            } else {
                HttpError::other(e)
            }
        };
        let response = builder.send().await.map_err(classify)?;
        let status = response.status().as_u16();
        let body = response.bytes().await.map_err(classify)?.to_vec();
        Ok(HttpResponse { status, body })
    }
}

/// Loads an agent or fails the test with the located error.
pub fn agent(yaml: &str) -> Agent {
    load_agent_str("test.yaml", yaml).unwrap_or_else(|e| panic!("agent does not load: {e}"))
}

pub fn pizza() -> Agent {
    let source = include_str!("../../../../examples/agents/pizza.yaml");
    load_agent_str("pizza.yaml", source).unwrap_or_else(|e| panic!("{e}"))
}

/// One user's conversation with an agent.
pub struct Conversation<'a> {
    pub agent: &'a Agent,
    pub state: SessionState,
    pub effects: TestEffects,
    pub options: TurnOptions,
    pub last_outcome: TurnOutcome,
}

impl<'a> Conversation<'a> {
    pub fn new(agent: &'a Agent) -> Self {
        Conversation {
            agent,
            state: SessionState::default(),
            effects: TestEffects::new(7),
            options: TurnOptions {
                user_id: "user-1".into(),
                ..TurnOptions::default()
            },
            last_outcome: TurnOutcome::default(),
        }
    }

    /// Sends a DM API request and returns every trace as JSON.
    pub async fn send_verbose(&mut self, request: Value) -> Vec<Value> {
        let request = Request::from_json(&request).expect("valid request");
        let mut traces = Vec::new();
        self.last_outcome = run_turn(
            self.agent,
            &mut self.state,
            request,
            &self.effects,
            &mut traces,
            &self.options,
        )
        .await;
        traces.iter().map(|t| t.to_json()).collect()
    }

    /// Sends a request and returns the traces a DM API client sees by default (without
    /// `block`, `debug` and `flow`).
    pub async fn send(&mut self, request: Value) -> Vec<Value> {
        self.send_verbose(request)
            .await
            .into_iter()
            .filter(|t| !matches!(t["type"].as_str(), Some("block" | "debug" | "flow")))
            .collect()
    }

    /// Runs a table of `(request, expected traces)` and checks each turn exactly.
    pub async fn expect(&mut self, table: Vec<(Value, Vec<Value>)>) {
        for (i, (request, expected)) in table.into_iter().enumerate() {
            let got = self.send(request.clone()).await;
            assert_eq!(
                got,
                expected,
                "turn {} ({request}) gave\n{}\nexpected\n{}",
                i + 1,
                serde_json::to_string_pretty(&got).unwrap(),
                serde_json::to_string_pretty(&expected).unwrap()
            );
        }
    }

    pub fn var(&self, name: &str) -> Value {
        self.state
            .variables
            .get(name)
            .cloned()
            .unwrap_or(Value::Null)
    }
}

// ---- request builders -------------------------------------------------------------------------

pub fn launch() -> Value {
    json!({"type": "launch"})
}
pub fn text_req(text: &str) -> Value {
    json!({"type": "text", "payload": text})
}
pub fn intent_req(name: &str, entities: Value) -> Value {
    json!({"type": "intent", "payload": {"intent": {"name": name}, "query": "", "entities": entities}})
}
pub fn event_req(name: &str, data: Value) -> Value {
    json!({"type": "event", "payload": {"event": {"name": name, "data": data}}})
}
pub fn path_req(kind: &str, label: &str) -> Value {
    json!({"type": kind, "payload": {"label": label}})
}
pub fn no_reply() -> Value {
    json!({"type": "no-reply"})
}

// ---- trace builders (the exact DM API shapes) -------------------------------------------------

pub fn text(id: &str, message: &str) -> Value {
    text_delay(id, message, 1000)
}
pub fn text_delay(id: &str, message: &str, delay: u64) -> Value {
    let content: Vec<Value> = message
        .split('\n')
        .map(|line| json!({"children": [{"text": line}]}))
        .collect();
    json!({"type": "text", "time": NOW_MS, "payload": {
        "slate": {"id": id, "content": content, "messageDelayMilliseconds": delay},
        "message": message, "delay": delay}})
}
pub fn speak(message: &str) -> Value {
    json!({"type": "speak", "time": NOW_MS, "payload": {"message": message, "type": "message"}})
}
pub fn path(path: &str) -> Value {
    json!({"type": "path", "time": NOW_MS, "payload": {"path": path}})
}
pub fn end() -> Value {
    json!({"type": "end", "time": NOW_MS, "payload": null})
}
pub fn end_of_flow() -> Value {
    json!({"type": "end", "time": NOW_MS})
}
pub fn no_reply_trace(timeout: u64) -> Value {
    json!({"type": "no-reply", "time": NOW_MS, "payload": {"timeout": timeout}})
}
/// A choice trace; each button is `(label, request)`.
pub fn choice(buttons: &[(&str, Value)]) -> Value {
    let buttons: Vec<Value> = buttons
        .iter()
        .map(|(name, request)| json!({"name": name, "request": request}))
        .collect();
    json!({"type": "choice", "time": NOW_MS, "payload": {"buttons": buttons}})
}
/// The request a labelled option with an intent sends.
pub fn intent_button(label: &str, intent: &str) -> Value {
    json!({"type": "intent", "payload": {"label": label, "query": label, "entities": [],
           "intent": {"name": intent}}})
}
/// The request of a quick reply (sends its label as text).
pub fn quick_reply(label: &str) -> Value {
    json!({"type": "text", "payload": label})
}
pub fn error_trace(code: &str) -> impl Fn(&Value) -> bool + '_ {
    move |t: &Value| t["type"] == "error" && t["payload"]["code"] == code
}

// ---- a real webhook server on loopback --------------------------------------------------------

/// What the webhook server answers: status, JSON body, and how long it waits first.
#[derive(Clone)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
    pub delay: Duration,
}

impl Reply {
    pub fn ok(body: Value) -> Self {
        Reply {
            status: 200,
            body,
            delay: Duration::ZERO,
        }
    }
}

type Handler = dyn Fn(&str, &Value) -> Reply + Send + Sync;

#[derive(Clone)]
struct ServerState {
    handler: Arc<Handler>,
    received: Arc<Mutex<Vec<(String, Value)>>>,
}

/// An HTTP server on 127.0.0.1 that records requests and answers through a closure.
pub struct WebhookServer {
    pub addr: SocketAddr,
    received: Arc<Mutex<Vec<(String, Value)>>>,
}

impl WebhookServer {
    pub async fn start(handler: impl Fn(&str, &Value) -> Reply + Send + Sync + 'static) -> Self {
        let received = Arc::new(Mutex::new(Vec::new()));
        let state = ServerState {
            handler: Arc::new(handler),
            received: received.clone(),
        };
        let app = Router::new()
            .route("/{*path}", post(serve).get(serve_get))
            .with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        WebhookServer { addr, received }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}/{path}", self.addr)
    }

    /// The requests received so far: `(path, JSON body)`.
    pub fn received(&self) -> Vec<(String, Value)> {
        self.received.lock().unwrap().clone()
    }
}

fn serve(
    State(state): State<ServerState>,
    Path(path): Path<String>,
    body: String,
) -> Pin<Box<dyn Future<Output = (StatusCode, String)> + Send>> {
    let body: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    state
        .received
        .lock()
        .unwrap()
        .push((path.clone(), body.clone()));
    let reply = (state.handler)(&path, &body);
    Box::pin(async move {
        tokio::time::sleep(reply.delay).await;
        (
            StatusCode::from_u16(reply.status).unwrap(),
            reply.body.to_string(),
        )
    })
}

async fn serve_get(state: State<ServerState>, path: Path<String>) -> (StatusCode, String) {
    serve(state, path, String::new()).await
}
