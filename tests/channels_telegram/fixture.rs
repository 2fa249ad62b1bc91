//! The Telegram tests' fixtures: a stand-in for the Bot API that records calls, the server on
//! a test agent, and updates in Telegram's recorded format.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::support::*;

pub(crate) const SECRET: &str = "tg-Secret_42";
pub(crate) const BOT_TOKEN: &str = "123456:ABC-test";
pub(crate) const WEBHOOK: &str = "/channels/telegram/default/webhook";

/// One call received by the Bot API stand-in.
#[derive(Debug, Clone)]
pub(crate) struct Call {
    /// `bot<token>`.
    pub(crate) bot: String,
    pub(crate) method: String,
    pub(crate) body: Value,
}

/// A stand-in for `https://api.telegram.org`: records every call and answers like Telegram
/// (it refuses photos whose URL contains `missing`, as Telegram does for URLs it cannot fetch).
pub(crate) struct BotApi {
    pub(crate) addr: SocketAddr,
    pub(crate) calls: Arc<Mutex<Vec<Call>>>,
}

impl BotApi {
    pub(crate) async fn start() -> BotApi {
        let calls: Arc<Mutex<Vec<Call>>> = Arc::default();
        async fn method(
            State(calls): State<Arc<Mutex<Vec<Call>>>>,
            Path((bot, method)): Path<(String, String)>,
            body: String,
        ) -> (StatusCode, axum::Json<Value>) {
            let body: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
            let refused = method == "sendPhoto"
                && body["photo"]
                    .as_str()
                    .is_some_and(|p| p.contains("missing"));
            let mut calls = calls.lock().unwrap();
            calls.push(Call { bot, method, body });
            if refused {
                let answer = json!({"ok": false, "error_code": 400,
                    "description": "Bad Request: wrong file identifier/HTTP URL specified"});
                return (StatusCode::BAD_REQUEST, axum::Json(answer));
            }
            let answer = json!({"ok": true, "result": {"message_id": 1000 + calls.len()}});
            (StatusCode::OK, axum::Json(answer))
        }
        let app = axum::Router::new()
            .route("/{bot}/{method}", axum::routing::post(method))
            .with_state(calls.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        BotApi { addr, calls }
    }

    pub(crate) fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap().clone()
    }

    /// Waits until at least `n` calls arrived (the reply of a slow turn comes late).
    pub(crate) async fn wait_for(&self, n: usize, within: Duration) -> Vec<Call> {
        let deadline = Instant::now() + within;
        loop {
            let calls = self.calls();
            if calls.len() >= n || Instant::now() > deadline {
                return calls;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// `turnstile serve --agent AGENT` with the Telegram channel pointed at the stand-in.
pub(crate) fn server(agent: &std::path::Path, data: &TempDir, bot: &BotApi) -> Server {
    let base = format!("http://{}", bot.addr);
    Server::start_env(
        &[
            "--agent",
            agent.to_str().unwrap(),
            "--data-dir",
            data.path().join("db").to_str().unwrap(),
        ],
        &[
            ("TURNSTILE_TELEGRAM_SECRET_TOKEN", SECRET),
            ("TURNSTILE_TELEGRAM_BOT_TOKEN", BOT_TOKEN),
            ("TURNSTILE_TELEGRAM_API_BASE", &base),
        ],
    )
}

/// The test shop agent, its slow webhook pointing at `hook` (or nowhere).
pub(crate) fn shop_agent(data: &TempDir, hook: Option<SocketAddr>) -> std::path::PathBuf {
    let yaml = std::fs::read_to_string(repo("tests/agents/telegram.yaml")).unwrap();
    let hook = hook.map_or_else(|| "127.0.0.1:9".to_owned(), |a| a.to_string());
    write(
        data.path(),
        "telegram.yaml",
        &yaml.replace("SLOW_HOOK", &hook),
    )
}

pub(crate) fn chat(id: i64) -> Value {
    json!({"id": id, "first_name": "Ada", "username": "ada_l", "type": "private"})
}

pub(crate) fn from(id: i64) -> Value {
    json!({"id": id, "is_bot": false, "first_name": "Ada", "username": "ada_l",
           "language_code": "en"})
}

/// A text message as Telegram delivers it; a leading `/word` is marked as a bot command.
pub(crate) fn message(update_id: i64, chat_id: i64, text: &str) -> Value {
    let mut update = json!({
        "update_id": update_id,
        "message": {
            "message_id": 100 + update_id, "from": from(chat_id), "chat": chat(chat_id),
            "date": 1_720_552_033, "text": text
        }
    });
    if text.starts_with('/') {
        let command = text.split(' ').next().unwrap();
        let length = command.encode_utf16().count();
        update["message"]["entities"] =
            json!([{"offset": 0, "length": length, "type": "bot_command"}]);
    }
    update
}

/// A press on the button labelled `label` of `sent` (a message turnstile sent).
pub(crate) fn press(update_id: i64, chat_id: i64, sent: &Value, label: &str) -> Value {
    let data = sent["reply_markup"]["inline_keyboard"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|row| row.as_array().unwrap())
        .find(|button| button["text"] == label)
        .unwrap_or_else(|| panic!("no button {label:?} in {sent}"))["callback_data"]
        .clone();
    json!({
        "update_id": update_id,
        "callback_query": {
            "id": format!("cb-{update_id}"), "from": from(chat_id), "chat_instance": "-4711",
            "data": data,
            "message": {
                "message_id": 900, "date": 1_720_552_040, "chat": chat(chat_id),
                "from": {"id": 123456, "is_bot": true, "first_name": "Shop", "username": "ShopBot"},
                "text": sent["text"], "reply_markup": sent["reply_markup"]
            }
        }
    })
}

pub(crate) async fn deliver(server: &Server, update: &Value) -> (u16, Value) {
    deliver_with(server, update, Some(SECRET)).await
}

pub(crate) async fn deliver_with(
    server: &Server,
    update: &Value,
    secret: Option<&str>,
) -> (u16, Value) {
    let headers: Vec<(&str, &str)> = secret
        .map(|s| ("X-Telegram-Bot-Api-Secret-Token", s))
        .into_iter()
        .collect();
    server.post(WEBHOOK, &update.to_string(), &headers).await
}

/// The session of a chat, through the DM API.
pub(crate) async fn session(server: &Server, chat_id: i64) -> Value {
    let (status, state) = server
        .get(&format!("/state/user/telegram:{chat_id}"), &[])
        .await;
    assert_eq!(status, 200, "{state}");
    state
}

/// The labels and callback data of a keyboard, row by row.
pub(crate) fn keyboard(message: &Value) -> Vec<Vec<(String, String)>> {
    message["reply_markup"]["inline_keyboard"]
        .as_array()
        .unwrap_or_else(|| panic!("no keyboard in {message}"))
        .iter()
        .map(|row| {
            row.as_array()
                .unwrap()
                .iter()
                .map(|b| {
                    (
                        b["text"].as_str().unwrap().to_owned(),
                        b["callback_data"].as_str().unwrap().to_owned(),
                    )
                })
                .collect()
        })
        .collect()
}

pub(crate) fn rows(rows: &[&[(&str, &str)]]) -> Vec<Vec<(String, String)>> {
    rows.iter()
        .map(|row| {
            row.iter()
                .map(|(t, d)| ((*t).to_owned(), (*d).to_owned()))
                .collect()
        })
        .collect()
}
