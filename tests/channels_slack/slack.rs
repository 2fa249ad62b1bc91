//! Slack's side of the tests: a stand-in for Slack's servers (`response_url`, Web API), and
//! the requests Slack sends, in the formats of recorded deliveries, signed the way Slack signs.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Uri};
use serde_json::{Value, json};
use tokio::sync::Notify;

use crate::support::Server;

pub const SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
pub const TEAM: &str = "T0001";
pub const USER: &str = "U2147483697";

/// Request headers.
pub type Headers = Vec<(String, String)>;

// ---------------------------------------------------------------------------------------------
// Slack's side

/// One request Slack's stand-in received.
#[derive(Debug, Clone)]
pub struct Call {
    pub path: String,
    pub authorization: Option<String>,
    pub content_type: Option<String>,
    pub body: Value,
}

/// A stand-in for Slack: records every request (`response_url` POSTs, Web API calls) and
/// answers like the Web API (`{"ok": true}`).
#[derive(Clone, Default)]
pub struct SlackStandIn {
    calls: Arc<Mutex<Vec<Call>>>,
    arrived: Arc<Notify>,
}

impl SlackStandIn {
    pub async fn start() -> (SocketAddr, SlackStandIn) {
        let stand_in = SlackStandIn::default();
        let app = axum::Router::new()
            .fallback(record)
            .with_state(stand_in.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (addr, stand_in)
    }

    pub fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap().clone()
    }

    /// Waits until `n` calls arrived (panics after `limit`).
    pub async fn wait_for(&self, n: usize, limit: Duration) -> Vec<Call> {
        let deadline = Instant::now() + limit;
        loop {
            let arrived = self.arrived.notified();
            let calls = self.calls();
            if calls.len() >= n {
                return calls;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if tokio::time::timeout(left, arrived).await.is_err() {
                panic!(
                    "Slack's stand-in got {} calls, expected {n}: {calls:?}",
                    calls.len()
                );
            }
        }
    }
}

async fn record(
    State(stand_in): State<SlackStandIn>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> axum::Json<Value> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    stand_in.calls.lock().unwrap().push(Call {
        path: uri.path().to_owned(),
        authorization: header("authorization"),
        content_type: header("content-type"),
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
    });
    stand_in.arrived.notify_waiters();
    axum::Json(json!({"ok": true}))
}

// ---------------------------------------------------------------------------------------------
// Slack's requests

pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// `application/x-www-form-urlencoded`, as Slack encodes its forms.
pub fn form(fields: &[(&str, &str)]) -> String {
    let encode = |s: &str| {
        let mut out = String::new();
        for b in s.bytes() {
            match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'*' => {
                    out.push(b as char)
                }
                b' ' => out.push('+'),
                b => out.push_str(&format!("%{b:02X}")),
            }
        }
        out
    };
    fields
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// A slash command's body, with the fields (and order) of a recorded delivery.
pub fn command_body(command: &str, text: &str, response_url: &str, trigger_id: &str) -> String {
    form(&[
        ("token", "gIkuvaNzQIHg97ATvDxqgjtO"),
        ("team_id", TEAM),
        ("team_domain", "example"),
        ("channel_id", "C2147483705"),
        ("channel_name", "test"),
        ("user_id", USER),
        ("user_name", "Steve"),
        ("command", command),
        ("text", text),
        ("api_app_id", "A123456"),
        ("is_enterprise_install", "false"),
        ("response_url", response_url),
        ("trigger_id", trigger_id),
    ])
}

/// A `block_actions` delivery for a click on `button` (an element of a rendered message).
pub fn click_body(button: &Value, action_ts: &str, response_url: &str) -> String {
    let payload = json!({
        "type": "block_actions",
        "user": {"id": USER, "username": "steve", "name": "steve", "team_id": TEAM},
        "api_app_id": "A123456",
        "token": "gIkuvaNzQIHg97ATvDxqgjtO",
        "container": {"type": "message", "message_ts": "1548261231.000200",
                      "channel_id": "C2147483705", "is_ephemeral": true},
        "trigger_id": "12321423423.333649436676.d8c1bb837935619ccad0f624c448ffb3",
        "team": {"id": TEAM, "domain": "example"},
        "enterprise": null,
        "is_enterprise_install": false,
        "channel": {"id": "C2147483705", "name": "test"},
        "state": {"values": {}},
        "response_url": response_url,
        "actions": [{
            "action_id": button["action_id"],
            "block_id": "Xk2a",
            "text": button["text"],
            "value": button["value"],
            "type": "button",
            "action_ts": action_ts,
        }],
    });
    form(&[("payload", &payload.to_string())])
}

/// An Events API `event_callback` envelope.
pub fn event_body(event_id: &str, event: Value) -> String {
    json!({
        "token": "XXYYZZ",
        "team_id": TEAM,
        "api_app_id": "A123456",
        "event": event,
        "type": "event_callback",
        "authorizations": [{"enterprise_id": null, "team_id": TEAM, "user_id": "U0BOT",
                            "is_bot": true, "is_enterprise_install": false}],
        "event_id": event_id,
        "event_time": now(),
    })
    .to_string()
}

/// A direct message from the test user.
pub fn dm(text: &str, ts: &str) -> Value {
    json!({"type": "message", "channel": "D024BE91L", "user": USER, "text": text,
           "ts": ts, "event_ts": ts, "channel_type": "im", "client_msg_id": format!("m-{ts}")})
}

/// Headers of a request signed with `secret` at `timestamp`.
pub fn signed(secret: &str, timestamp: i64, body: &str) -> Headers {
    let timestamp = timestamp.to_string();
    vec![
        (
            "x-slack-signature".into(),
            turnstile_channels::slack::sign(secret, &timestamp, body.as_bytes()),
        ),
        ("x-slack-request-timestamp".into(), timestamp),
    ]
}

/// The answer to one request: status, body text, body JSON (`Null` if none) and how long it
/// took.
pub struct Answer {
    pub status: u16,
    pub text: String,
    pub json: Value,
    pub took: Duration,
}

pub async fn send(server: &Server, path: &str, body: &str, headers: &[(String, String)]) -> Answer {
    let content_type = if body.starts_with('{') {
        "application/json"
    } else {
        "application/x-www-form-urlencoded"
    };
    let mut request = server
        .client
        .post(server.url(path))
        .header("content-type", content_type)
        .body(body.to_owned());
    for (name, value) in headers {
        request = request.header(name.as_str(), value.as_str());
    }
    let started = Instant::now();
    let response = request.send().await.expect("the server answers");
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    Answer {
        status,
        json: serde_json::from_str(&text).unwrap_or(Value::Null),
        text,
        took: started.elapsed(),
    }
}

/// Sends `body` signed with the right secret, now.
pub async fn send_signed(server: &Server, path: &str, body: &str) -> Answer {
    send(server, path, body, &signed(SECRET, now(), body)).await
}

// Reading Block Kit

/// A `section` block of mrkdwn text.
pub fn section(text: &str) -> Value {
    json!({"type": "section", "text": {"type": "mrkdwn", "text": text}})
}

/// The elements of an actions block, checked to be buttons with unique action ids.
pub fn buttons(block: &Value) -> Vec<Value> {
    assert_eq!(block["type"], "actions", "{block}");
    let elements = block["elements"].as_array().unwrap().clone();
    let mut ids: Vec<&str> = elements
        .iter()
        .map(|b| b["action_id"].as_str().unwrap())
        .collect();
    for button in &elements {
        assert_eq!(button["type"], "button");
        assert_eq!(button["text"]["type"], "plain_text");
    }
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), elements.len(), "action ids are unique: {block}");
    elements
}

/// The buttons' labels.
pub fn labels(buttons: &[Value]) -> Vec<&str> {
    buttons
        .iter()
        .map(|b| b["text"]["text"].as_str().unwrap())
        .collect()
}

/// The request a button's value carries.
pub fn value(button: &Value) -> Value {
    serde_json::from_str(button["value"].as_str().unwrap()).expect("a JSON request")
}

#[tokio::test]
async fn the_signer_is_slacks() {
    // Slack's worked example ("Verifying requests from Slack"): the requests below are signed
    // the way Slack signs.
    let body = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
    assert_eq!(
        signed(SECRET, 1_531_420_618, body)[0].1,
        "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
    );
}
