//! The voice channel against the real binary: whole calls over the WebSocket and the HTTP
//! webhook (sipgate AI Flow's event shapes), every action checked field by field; tokens,
//! disabled channels, bad events, events outside a call, and redelivered events.

mod support;

use std::net::TcpStream;
use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};
use support::*;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::handshake::HandshakeError;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{self, Message, WebSocket};

const TOKEN: &str = "voice-test-token";
const EVENTS: &str = "/channels/voice/default/events";

fn voice_server(data: &Path) -> Server {
    let agent = repo("tests/agents/voice.yaml");
    Server::start_env(
        &[
            "--agent",
            agent.to_str().unwrap(),
            "--data-dir",
            data.to_str().unwrap(),
        ],
        &[("TURNSTILE_VOICE_TOKEN", TOKEN)],
    )
}

/// An event as the relay sends it: `type`, the call's `session`, and the event's own fields.
fn event(kind: &str, call: &str, fields: Value) -> Value {
    let mut event = json!({
        "type": kind,
        "session": {
            "id": call,
            "account_id": "account-123",
            "phone_number": "+4921100001",
            "direction": "inbound",
            "from_phone_number": "+4930123456",
            "to_phone_number": "+4921100001"
        }
    });
    if let Value::Object(fields) = fields {
        event.as_object_mut().unwrap().extend(fields);
    }
    event
}

fn auth() -> (&'static str, &'static str) {
    ("authorization", "Bearer voice-test-token")
}

/// POSTs an event with the right token; returns the status and the body (`Null` when empty).
async fn post(server: &Server, event: &Value) -> (u16, Value) {
    server.post(EVENTS, &event.to_string(), &[auth()]).await
}

/// The state of a call's conversation (`{}` when there is none).
async fn state_of(server: &Server, call: &str) -> Value {
    let (status, state) = server.get(&format!("/state/user/voice:{call}"), &[]).await;
    assert_eq!(status, 200, "{state}");
    state
}

fn speak(text: &str) -> Value {
    json!({"type": "speak", "text": text})
}

fn listen(timeout_ms: u64) -> Value {
    json!({"type": "listen", "timeout_ms": timeout_ms})
}

fn chime() -> Value {
    json!({"type": "play", "url": "https://example.com/chime.wav"})
}

fn keypad() -> Value {
    json!({"type": "collect_dtmf", "max_digits": 1, "timeout_ms": 8000, "finish_on_key": "#"})
}

/// A WebSocket client (blocking tungstenite on its own TCP stream, with a read timeout so a
/// missing answer fails the test instead of hanging it).
struct Socket(WebSocket<TcpStream>);

fn connect(server: &Server, path: &str, token: Option<&str>) -> Result<Socket, u16> {
    let mut request = format!("ws://{}{path}", server.addr)
        .into_client_request()
        .unwrap();
    if let Some(token) = token {
        request
            .headers_mut()
            .insert("authorization", format!("Bearer {token}").parse().unwrap());
    }
    let stream = TcpStream::connect(server.addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    match tungstenite::client::client(request, stream) {
        Ok((socket, _)) => Ok(Socket(socket)),
        Err(HandshakeError::Failure(tungstenite::Error::Http(response))) => {
            Err(response.status().as_u16())
        }
        Err(e) => panic!("the handshake failed: {e}"),
    }
}

impl Socket {
    fn send_text(&mut self, text: &str) {
        self.0.send(Message::text(text)).unwrap();
    }

    /// The next text frame, as JSON.
    fn next_frame(&mut self) -> Value {
        loop {
            match self.0.read().expect("an answer frame") {
                Message::Text(text) => return serde_json::from_str(&text).unwrap(),
                Message::Ping(_) | Message::Pong(_) => continue,
                other => panic!("expected a text frame, got {other:?}"),
            }
        }
    }

    /// Sends an event and returns its answer frame.
    fn ask(&mut self, event: &Value) -> Value {
        self.send_text(&event.to_string());
        self.next_frame()
    }

    /// Expects the server to close the socket normally.
    fn expect_close(&mut self) {
        match self.0.read() {
            Ok(Message::Close(Some(frame))) => {
                assert_eq!(frame.code, CloseCode::Normal);
                assert_eq!(frame.reason.as_str(), "session ended");
            }
            other => panic!("expected the server to close the socket, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_whole_call_over_the_websocket() {
    let data = TempDir::new("voice-ws");
    let server = voice_server(data.path());
    let call = "550e8400-e29b-41d4-a716-446655440000";
    let mut socket = connect(&server, "/channels/voice/default/ws", Some(TOKEN)).unwrap();

    let greeting = socket.ask(&event("session_start", call, json!({})));
    assert_eq!(
        greeting,
        json!({"event": "session_start", "actions": [
            chime(),
            {"type": "speak", "text": "Welcome to Voice Desk, caller +4930123456.",
             "ssml": "<speak>Welcome to <emphasis>Voice Desk</emphasis>, caller +4930123456.</speak>"},
            speak("How can I help you?"),
            listen(7000),
        ]})
    );
    let variables = &state_of(&server, call).await["variables"];
    assert_eq!(variables["direction"], "inbound");
    assert_eq!(variables["from_phone_number"], "+4930123456");
    assert_eq!(variables["to_phone_number"], "+4921100001");
    assert_eq!(variables["phone_number"], "+4921100001");
    assert_eq!(variables["account_id"], "account-123");
    assert_eq!(variables["barged_in"], false);

    let started = socket.ask(&event("user_speech_started", call, json!({})));
    assert_eq!(
        started,
        json!({"event": "user_speech_started", "actions": []})
    );

    let spoken = socket.ask(&event(
        "user_speak",
        call,
        json!({"text": "I want to pay my bill", "barged_in": true}),
    ));
    assert_eq!(
        spoken,
        json!({"event": "user_speak", "actions": [
            speak("Sorry for talking over you."),
            speak("Noted: I want to pay my bill. Press 1 for your balance, or 2 for a person."),
            keypad(),
            listen(6000),
        ]})
    );
    let state = state_of(&server, call).await;
    assert_eq!(state["variables"]["barged_in"], true);
    assert_eq!(state["variables"]["reason"], "I want to pay my bill");

    let pressed = socket.ask(&event("dtmf_received", call, json!({"digit": "1"})));
    assert_eq!(
        pressed,
        json!({"event": "dtmf_received", "actions": [
            speak("You pressed 1. Your balance is 42 euros. Say goodbye to end the call."),
            listen(5000),
        ]})
    );
    assert_eq!(state_of(&server, call).await["variables"]["key"], "1");

    let silence = socket.ask(&event("user_input_timeout", call, json!({})));
    assert_eq!(
        silence,
        json!({"event": "user_input_timeout", "actions": [
            speak("Goodbye!"),
            {"type": "hangup"},
        ]})
    );

    let played = socket.ask(&event("assistant_speech_ended", call, json!({})));
    assert_eq!(
        played,
        json!({"event": "assistant_speech_ended", "actions": []})
    );

    let ended = socket.ask(&event("session_end", call, json!({})));
    assert_eq!(ended, json!({"event": "session_end", "actions": []}));
    socket.expect_close();
    assert_eq!(
        state_of(&server, call).await,
        json!({}),
        "the call is cleaned up"
    );
}

#[tokio::test]
async fn websocket_errors_are_frames_and_the_socket_stays_open() {
    let data = TempDir::new("voice-ws-errors");
    let server = voice_server(data.path());
    let call = "call-ws-errors";
    let mut socket = connect(&server, "/channels/voice/default/ws", Some(TOKEN)).unwrap();

    let error_of = |frame: &Value, event: Value, code: u16| {
        assert_eq!(frame["event"], event, "{frame}");
        assert_eq!(frame["actions"], json!([]), "{frame}");
        assert_eq!(frame["error"]["code"], code, "{frame}");
        frame["error"]["data"].as_str().unwrap().to_owned()
    };

    socket.send_text("{not json");
    let message = error_of(&socket.next_frame(), Value::Null, 400);
    assert!(message.contains("not valid JSON"), "{message}");

    socket.0.send(Message::binary(vec![1, 2, 3])).unwrap();
    let message = error_of(&socket.next_frame(), Value::Null, 400);
    assert!(message.contains("text frames"), "{message}");

    let frame = socket.ask(&event("call_forwarded", call, json!({})));
    let message = error_of(&frame, json!("call_forwarded"), 400);
    assert!(
        message.contains("unknown event type `call_forwarded`"),
        "{message}"
    );

    let frame = socket.ask(&json!({"type": "session_start", "session": {"id": "has space"}}));
    let message = error_of(&frame, json!("session_start"), 400);
    assert!(message.contains("session.id"), "{message}");

    // Speech before the call started: refused, and no conversation is created.
    let frame = socket.ask(&event("user_speak", call, json!({"text": "hello"})));
    let message = error_of(&frame, json!("user_speak"), 404);
    assert!(message.contains("no call in progress"), "{message}");
    assert_eq!(state_of(&server, call).await, json!({}));

    // The socket still works: the call starts, and it belongs to this socket.
    let greeting = socket.ask(&event("session_start", call, json!({})));
    assert_eq!(
        greeting["actions"].as_array().unwrap().len(),
        4,
        "{greeting}"
    );
    let frame = socket.ask(&event("user_speak", "another-call", json!({"text": "hi"})));
    let message = error_of(&frame, json!("user_speak"), 400);
    assert!(
        message.contains("carries call `call-ws-errors`"),
        "{message}"
    );
    assert_eq!(state_of(&server, "another-call").await, json!({}));

    // A redelivered event (same `seq`) is answered from the record, not run again.
    let turns = state_of(&server, call).await["turn"].clone();
    let first = socket.ask(&event(
        "user_speak",
        call,
        json!({"text": "my bill", "seq": 7}),
    ));
    let again = socket.ask(&event(
        "user_speak",
        call,
        json!({"text": "my bill", "seq": 7}),
    ));
    assert_eq!(
        first["actions"][0],
        speak("Noted: my bill. Press 1 for your balance, or 2 for a person.")
    );
    assert_eq!(first.get("replayed"), None);
    assert_eq!(again["actions"], first["actions"]);
    assert_eq!(again["replayed"], true);
    assert_eq!(
        state_of(&server, call).await["turn"],
        json!(turns.as_u64().unwrap() + 1),
        "the redelivery did not run"
    );

    let ended = socket.ask(&event("session_end", call, json!({})));
    assert_eq!(ended, json!({"event": "session_end", "actions": []}));
    socket.expect_close();
}

#[tokio::test]
async fn websocket_needs_the_token_and_an_enabled_channel() {
    let data = TempDir::new("voice-ws-auth");
    let server = voice_server(data.path());
    let path = "/channels/voice/default/ws";
    assert_eq!(connect(&server, path, Some("guess")).err(), Some(401));
    assert_eq!(connect(&server, path, None).err(), Some(401));
    assert_eq!(
        connect(&server, "/channels/voice/nope/ws", Some(TOKEN)).err(),
        Some(404)
    );
    // A plain GET (no upgrade) with the right token is a clear error, not a hang.
    let (status, body) = server.get(path, &[auth()]).await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["data"].as_str().unwrap().contains("WebSocket"),
        "{body}"
    );

    let other = TempDir::new("voice-ws-disabled");
    let agent = repo("tests/agents/voice.yaml");
    let disabled = Server::start(&[
        "--agent",
        agent.to_str().unwrap(),
        "--data-dir",
        other.path().to_str().unwrap(),
    ]);
    assert_eq!(connect(&disabled, path, Some(TOKEN)).err(), Some(404));
}

#[tokio::test]
async fn a_whole_call_over_http() {
    let data = TempDir::new("voice-http");
    let server = voice_server(data.path());
    let call = "7d1f0c3a-http";
    let outbound = |kind: &str, fields: Value| {
        let mut e = event(kind, call, fields);
        e["session"]["direction"] = json!("outbound");
        e
    };

    let (status, greeting) = post(&server, &outbound("session_start", json!({}))).await;
    assert_eq!(status, 200, "{greeting}");
    assert_eq!(
        greeting,
        json!({"actions": [
            chime(),
            speak("Hello +4921100001, this is Voice Desk calling."),
            speak("How can I help you?"),
            listen(7000),
        ]})
    );
    assert_eq!(
        state_of(&server, call).await["variables"]["direction"],
        "outbound"
    );

    let (status, reprompt) = post(&server, &outbound("user_input_timeout", json!({}))).await;
    assert_eq!(status, 200, "{reprompt}");
    assert_eq!(
        reprompt,
        json!({"actions": [
            speak("Sorry, I did not hear you. How can I help you?"),
            listen(7000),
        ]})
    );

    for kind in [
        "user_speech_started",
        "assistant_speak",
        "assistant_speech_ended",
    ] {
        let turns = state_of(&server, call).await["turn"].clone();
        let (status, body) = post(&server, &outbound(kind, json!({"text": "…"}))).await;
        assert_eq!((status, body), (204, Value::Null), "{kind}");
        assert_eq!(
            state_of(&server, call).await["turn"],
            turns,
            "{kind} ran no turn"
        );
    }

    let (status, spoken) = post(&server, &outbound("user_speak", json!({"text": "my bill"}))).await;
    assert_eq!(status, 200, "{spoken}");
    assert_eq!(
        spoken,
        json!({"actions": [
            speak("Noted: my bill. Press 1 for your balance, or 2 for a person."),
            keypad(),
            listen(6000),
        ]})
    );
    assert_eq!(
        state_of(&server, call).await["variables"]["barged_in"],
        false
    );

    let (status, pressed) = post(&server, &outbound("dtmf_received", json!({"digit": "2"}))).await;
    assert_eq!(status, 200, "{pressed}");
    assert_eq!(
        pressed,
        json!({"actions": [
            speak("Transferring you to a person."),
            {"type": "transfer", "to": "+4921100000"},
        ]})
    );

    let (status, body) = post(&server, &outbound("session_end", json!({}))).await;
    assert_eq!((status, body), (204, Value::Null));
    assert_eq!(
        state_of(&server, call).await,
        json!({}),
        "the call is cleaned up"
    );

    // After the end, the call takes no more turns (and none is created); ending again is fine.
    for (kind, fields) in [
        ("user_speak", json!({"text": "hello?"})),
        ("dtmf_received", json!({"digit": "1"})),
        ("user_input_timeout", json!({})),
    ] {
        let (status, body) = post(&server, &outbound(kind, fields)).await;
        assert_eq!(status, 404, "{kind}: {body}");
        assert!(
            body["data"]
                .as_str()
                .unwrap()
                .contains("no call in progress for session `7d1f0c3a-http`"),
            "{body}"
        );
    }
    assert_eq!(state_of(&server, call).await, json!({}));
    let (status, _) = post(&server, &outbound("session_end", json!({}))).await;
    assert_eq!(status, 204);
}

#[tokio::test]
async fn http_refuses_wrong_tokens_and_bad_events_and_changes_nothing() {
    let data = TempDir::new("voice-http-errors");
    let server = voice_server(data.path());
    let call = "call-http-errors";
    let start = event("session_start", call, json!({})).to_string();

    for authorization in [
        Some("Bearer guess"),
        Some("Bearer voice-test-token-2"),
        Some("Basic dm9pY2U6dGVzdA=="),
        Some(TOKEN),
        None,
    ] {
        let headers: Vec<(&str, &str)> = authorization
            .map(|value| ("authorization", value))
            .into_iter()
            .collect();
        let (status, body) = server.post(EVENTS, &start, &headers).await;
        assert_eq!(status, 401, "{authorization:?}: {body}");
        assert_eq!(body["code"], 401);
        assert_eq!(body["status"], "Unauthorized");
        assert!(body["data"].as_str().unwrap().contains("token"), "{body}");
    }
    assert_eq!(
        state_of(&server, call).await,
        json!({}),
        "nothing was executed"
    );

    let bad = [
        ("{not json".to_owned(), "not valid JSON"),
        ("".to_owned(), "not valid JSON"),
        ("[1, 2]".to_owned(), "JSON object with a string `type`"),
        (
            event("call_forwarded", call, json!({})).to_string(),
            "unknown event type `call_forwarded`",
        ),
        (
            json!({"type": "session_start", "session": {}}).to_string(),
            "`session.id` must be",
        ),
        (
            event("user_speak", call, json!({"text": 42})).to_string(),
            "`text` must be the transcript",
        ),
        (
            event("dtmf_received", call, json!({"digit": "x"})).to_string(),
            "`digit` must be the key pressed",
        ),
        (
            event("session_start", call, json!({"seq": -3})).to_string(),
            "`seq` must be",
        ),
    ];
    for (body, expected) in bad {
        let (status, answer) = server.post(EVENTS, &body, &[auth()]).await;
        assert_eq!(status, 400, "{body}: {answer}");
        assert_eq!(answer["code"], 400);
        let message = answer["data"].as_str().unwrap();
        assert!(message.contains(expected), "{body}: {message}");
    }
    assert_eq!(
        state_of(&server, call).await,
        json!({}),
        "nothing was executed"
    );

    let (status, body) = server
        .post("/channels/voice/elsewhere/events", &start, &[auth()])
        .await;
    assert_eq!(status, 404, "{body}");
    assert!(
        body["data"]
            .as_str()
            .unwrap()
            .contains("unknown project `elsewhere`")
    );

    // The server is still healthy after all that.
    let (status, greeting) = post(&server, &event("session_start", call, json!({}))).await;
    assert_eq!(status, 200, "{greeting}");
    assert_eq!(greeting["actions"][0], chime());
}

#[tokio::test]
async fn a_disabled_channel_names_the_setting_that_enables_it() {
    let data = TempDir::new("voice-disabled");
    let agent = repo("tests/agents/voice.yaml");
    let server = Server::start(&[
        "--agent",
        agent.to_str().unwrap(),
        "--data-dir",
        data.path().to_str().unwrap(),
    ]);
    let (status, body) = post(&server, &event("session_start", "c1", json!({}))).await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["code"], 404);
    let message = body["data"].as_str().unwrap();
    assert!(message.contains("voice channel"), "{message}");
    assert!(message.contains("TURNSTILE_VOICE_TOKEN"), "{message}");
    assert!(message.contains("[projects.channels.voice]"), "{message}");
    assert_eq!(state_of(&server, "c1").await, json!({}));
}

#[tokio::test]
async fn redelivered_http_events_run_once() {
    let data = TempDir::new("voice-http-replay");
    let server = voice_server(data.path());
    let call = "call-replay";
    let (status, _) = post(&server, &event("session_start", call, json!({}))).await;
    assert_eq!(status, 200);

    // By `Idempotency-Key` header.
    let speech = event("user_speak", call, json!({"text": "my bill"})).to_string();
    let keyed = [auth(), ("idempotency-key", "relay-delivery-1")];
    let (status, first) = server.post(EVENTS, &speech, &keyed).await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(first.get("replayed"), None);
    let turns = state_of(&server, call).await["turn"].clone();
    let (status, again) = server.post(EVENTS, &speech, &keyed).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["actions"], first["actions"]);
    assert_eq!(again["replayed"], true);
    assert_eq!(state_of(&server, call).await["turn"], turns);

    // By the event's `seq`.
    let press = event(
        "dtmf_received",
        call,
        json!({"digit": "1", "seq": "evt-41"}),
    );
    let (status, first) = post(&server, &press).await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(
        first["actions"][0],
        speak("You pressed 1. Your balance is 42 euros. Say goodbye to end the call.")
    );
    let turns = state_of(&server, call).await["turn"].clone();
    let (status, again) = post(&server, &press).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["actions"], first["actions"]);
    assert_eq!(again["replayed"], true);
    assert_eq!(state_of(&server, call).await["turn"], turns);

    let bad_key = [auth(), ("idempotency-key", "")];
    let (status, body) = server.post(EVENTS, &speech, &bad_key).await;
    assert_eq!(status, 400, "{body}");
}
