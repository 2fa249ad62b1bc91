//! The Slack channel against the real binary: signed slash commands, button clicks and Events
//! API deliveries in Slack's recorded formats, answered in Block Kit. A local HTTP server
//! stands in for Slack's side (`response_url` and the Web API's `chat.postMessage`).

mod events;
mod slack;
#[path = "../support/mod.rs"]
mod support;

use std::time::Duration;

use serde_json::{Value, json};
use slack::{
    Headers, SECRET, SlackStandIn, TEAM, USER, buttons, click_body, command_body, dm, event_body,
    form, labels, now, section, send, send_signed, signed, value,
};
use support::{Server, TempDir, repo, slow_webhook, write};

const SESSION: &str = "slack:T0001:U2147483697";
const BOT_TOKEN: &str = "xoxb-17653672481-19874698323-pdFZKVeTuE8sk7oOcBrzbqgy";

/// A server for `agent` with Slack enabled (and `extra` settings), on its own data directory.
struct SlackServer {
    server: Server,
    _data: TempDir,
}

impl std::ops::Deref for SlackServer {
    type Target = Server;

    fn deref(&self) -> &Server {
        &self.server
    }
}

fn slack_server(agent: &str, extra: &[(&str, &str)]) -> SlackServer {
    let mut env = vec![("TURNSTILE_SLACK_SIGNING_SECRET", SECRET)];
    env.extend_from_slice(extra);
    server_with(agent, &env)
}

fn server_with(agent: &str, env: &[(&str, &str)]) -> SlackServer {
    let data = TempDir::new("slack");
    let server = Server::start_env(
        &[
            "--agent",
            agent,
            "--data-dir",
            data.path().to_str().unwrap(),
        ],
        env,
    );
    SlackServer {
        server,
        _data: data,
    }
}

fn pizza() -> String {
    repo("examples/agents/pizza.yaml")
        .to_string_lossy()
        .into_owned()
}

async fn session(server: &Server, user: &str) -> Value {
    let (status, state) = server.get(&format!("/state/user/{user}"), &[]).await;
    assert_eq!(status, 200, "{state}");
    state
}

// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_slash_command_is_answered_in_block_kit() {
    let (slack, stand_in) = SlackStandIn::start().await;
    let server = slack_server(&pizza(), &[]);
    let response_url = format!("http://{slack}/commands/{TEAM}/1234/abcd");
    let body = command_body(
        "/pizza",
        "",
        &response_url,
        "13345224609.738474920.8088930838d88f",
    );
    let answer = send_signed(&server, "/channels/slack/default/commands", &body).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert!(answer.took < Duration::from_secs(3), "{:?}", answer.took);
    let message = answer.json;
    assert_eq!(message["response_type"], "ephemeral");
    assert_eq!(message["text"], "Welcome to Pizza Palace!");
    let blocks = message["blocks"].as_array().unwrap();
    assert_eq!(blocks.len(), 2, "{message}");
    assert_eq!(blocks[0], section("Welcome to Pizza Palace!"));
    let menu = buttons(&blocks[1]);
    assert_eq!(labels(&menu), ["Order a pizza", "Opening hours"]);

    // Each value is exactly the request the DM API's choice trace gives that button.
    let reference = server
        .interact("dm-reference", json!({"type": "launch"}))
        .await;
    let choice = reference.iter().find(|t| t["type"] == "choice").unwrap();
    let expected = choice["payload"]["buttons"].as_array().unwrap();
    assert_eq!(menu.len(), expected.len());
    for (button, reference) in menu.iter().zip(expected) {
        assert_eq!(value(button), reference["request"], "{button}");
    }

    // The turn ran in the user's session; nothing went to response_url.
    let state = session(&server, SESSION).await;
    assert!(state.get("stack").is_some(), "{state}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(stand_in.calls().is_empty(), "{:?}", stand_in.calls());
}

#[tokio::test]
async fn unsigned_forged_and_replayed_requests_are_refused() {
    let (slack, stand_in) = SlackStandIn::start().await;
    let base = format!("http://{slack}/api");
    let server = slack_server(
        &pizza(),
        &[
            ("TURNSTILE_SLACK_BOT_TOKEN", BOT_TOKEN),
            ("TURNSTILE_SLACK_API_BASE", &base),
        ],
    );
    let response_url = format!("http://{slack}/commands/{TEAM}/1/x");
    let command = command_body("/pizza", "", &response_url, "1.2.3");
    let click = click_body(
        &json!({"action_id": "b", "text": {"type": "plain_text", "text": "Order a pizza"},
                "value": json!({"type": "launch"}).to_string()}),
        "1548426417.840180",
        &response_url,
    );
    let message = event_body("Ev0001", dm("hello", "1.000001"));
    let routes = [
        ("/channels/slack/default/commands", &command),
        ("/channels/slack/default/interactivity", &click),
        ("/channels/slack/default/events", &message),
    ];
    for (path, body) in routes {
        let good = signed(SECRET, now(), body);
        let (signature, timestamp) = (good[0].clone(), good[1].clone());
        let tampered = body.replace(USER, "U0ATTACKER");
        let cases: Vec<(&str, String, Headers, &str)> = vec![
            (
                "wrong secret",
                body.to_string(),
                signed("not the secret", now(), body),
                "does not match",
            ),
            ("tampered body", tampered, good.clone(), "does not match"),
            (
                "no signature",
                body.to_string(),
                vec![timestamp.clone()],
                "no X-Slack-Signature",
            ),
            (
                "no timestamp",
                body.to_string(),
                vec![signature.clone()],
                "no X-Slack-Request-Timestamp",
            ),
            (
                "no headers",
                body.to_string(),
                vec![],
                "no X-Slack-Request-Timestamp",
            ),
            // A recorded request replayed six minutes later: its signature is genuine.
            (
                "replayed",
                body.to_string(),
                signed(SECRET, now() - 360, body),
                "more than 5 minutes",
            ),
            (
                "from the future",
                body.to_string(),
                signed(SECRET, now() + 360, body),
                "more than 5 minutes",
            ),
            (
                "another version",
                body.to_string(),
                vec![
                    (
                        "x-slack-signature".into(),
                        signature.1.replace("v0=", "v1="),
                    ),
                    timestamp.clone(),
                ],
                "not a v0 signature",
            ),
        ];
        for (case, body, headers, reason) in cases {
            let answer = send(&server, path, &body, &headers).await;
            assert_eq!(answer.status, 401, "{path} {case}: {}", answer.text);
            assert_eq!(answer.json["code"], 401, "{path} {case}");
            let data = answer.json["data"].as_str().unwrap_or_default();
            assert!(
                data.contains(reason),
                "{path} {case}: {data:?} should say {reason:?}"
            );
        }
    }
    let verification = json!({"token": "Jhj5dZrVaK7ZwHHjRyZWjbDl", "challenge": "c-123",
                               "type": "url_verification"})
    .to_string();
    let answer = send(
        &server,
        "/channels/slack/default/events",
        &verification,
        &[],
    )
    .await;
    assert_eq!(answer.status, 401, "{}", answer.text);
    assert!(!answer.text.contains("c-123"));

    // Nothing ran: no session for the user (or the forged one), nothing posted to Slack. A
    // state read queues behind the session's turns, so it also waits out any turn that did run.
    assert_eq!(session(&server, SESSION).await, json!({}));
    assert_eq!(session(&server, "slack:T0001:U0ATTACKER").await, json!({}));
    assert!(stand_in.calls().is_empty(), "{:?}", stand_in.calls());

    // The same requests, properly signed, do run.
    let answer = send_signed(&server, "/channels/slack/default/commands", &command).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(answer.json["text"], "Welcome to Pizza Palace!");
}

#[tokio::test]
async fn ssl_check_bad_payloads_and_disabled_channels() {
    let server = slack_server(&pizza(), &[]);
    // Slack's probe of a command URL is unsigned and answered with an empty 200.
    let probe = form(&[("ssl_check", "1"), ("token", "gIkuvaNzQIHg97ATvDxqgjtO")]);
    let answer = send(&server, "/channels/slack/default/commands", &probe, &[]).await;
    assert_eq!((answer.status, answer.text.as_str()), (200, ""));

    // Signed but unusable: a clear 400, nothing run.
    let no_user = form(&[
        ("team_id", TEAM),
        ("command", "/pizza"),
        ("trigger_id", "1.2"),
    ]);
    let foreign_button = click_body(
        &json!({"action_id": "approve", "text": {"type": "plain_text", "text": "Approve"},
                "value": "approve-ticket-42"}),
        "1.5",
        "http://127.0.0.1:9/x",
    );
    let unknown_path = click_body(
        &json!({"action_id": "b", "text": {"type": "plain_text", "text": "Fly"},
                "value": json!({"type": "teleport"}).to_string()}),
        "1.6",
        "http://127.0.0.1:9/x",
    );
    let cases = [
        ("commands", no_user, "no `user_id`"),
        (
            "commands",
            form(&[
                ("team_id", TEAM),
                ("team_id", "T2"),
                ("user_id", USER),
                ("command", "/pizza"),
            ]),
            "invalid form body",
        ),
        (
            "commands",
            command_body("/über", "", "http://127.0.0.1:9/x", "1.3"),
            "no valid event name",
        ),
        ("interactivity", foreign_button, "not a turnstile request"),
        (
            "interactivity",
            unknown_path,
            "unknown action type `teleport`",
        ),
        ("interactivity", "payload=%7B".to_owned(), "invalid JSON"),
        ("events", "{\"type\": ".to_owned(), "invalid JSON"),
        (
            "events",
            event_body(
                "Ev9",
                json!({"type": "message", "text": "hi", "channel": "D1"}),
            ),
            "no `event.user`",
        ),
    ];
    for (route, body, reason) in cases {
        let answer = send_signed(&server, &format!("/channels/slack/default/{route}"), &body).await;
        assert_eq!(answer.status, 400, "{route} {body}: {}", answer.text);
        assert_eq!(answer.json["code"], 400);
        let data = answer.json["data"].as_str().unwrap_or_default();
        assert!(
            data.contains(reason),
            "{route}: {data:?} should say {reason:?}"
        );
    }
    assert_eq!(session(&server, SESSION).await, json!({}));

    // An unknown project, and a server without Slack settings.
    let answer = send_signed(&server, "/channels/slack/nope/commands", &probe).await;
    assert_eq!(answer.status, 404, "{}", answer.text);
    let plain = server_with(&pizza(), &[]);
    for route in ["commands", "interactivity", "events"] {
        let answer = send_signed(&plain, &format!("/channels/slack/default/{route}"), &probe).await;
        assert_eq!(answer.status, 404, "{}", answer.text);
        assert_eq!(answer.json["code"], 404);
        let data = answer.json["data"].as_str().unwrap();
        assert!(
            data.contains("Slack") && data.contains("TURNSTILE_SLACK_SIGNING_SECRET"),
            "{data}"
        );
    }
}

#[tokio::test]
async fn commands_map_to_events_with_their_text() {
    let agent = repo("tests/agents/slack_bank.yaml");
    let server = slack_server(
        agent.to_str().unwrap(),
        &[(
            "TURNSTILE_SLACK_COMMANDS",
            "/recent_transactions=ShowRecentTransactions",
        )],
    );
    let url = "https://hooks.slack.com/commands/T0001/1/x";
    let path = "/channels/slack/default/commands";

    let body = command_body("/recent_transactions", "last week", url, "1.1.a");
    let answer = send_signed(&server, path, &body).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    // The event's command runs first, then the new conversation starts.
    assert_eq!(
        answer.json,
        json!({
            "response_type": "ephemeral",
            "text": "Recent transactions (last week): coffee 3.50, books 12.00.\nWelcome to the bank.",
            "blocks": [
                section("Recent transactions (last week): coffee 3.50, books 12.00."),
                section("Welcome to the bank."),
            ],
        })
    );
    let state = session(&server, SESSION).await;
    assert_eq!(state["variables"]["period"], "last week", "{state}");

    // Not in the map: the command's own name is the event. When its flow is done, the
    // conversation repeats its question.
    let body = command_body("/balance", "please", url, "1.1.b");
    let answer = send_signed(&server, path, &body).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(
        answer.json["blocks"],
        json!([
            section("Your balance is 100.00 (asked with /balance please)."),
            section("Welcome to the bank."),
        ])
    );
    assert_eq!(
        answer.json["text"],
        "Your balance is 100.00 (asked with /balance please).\nWelcome to the bank."
    );
}

#[tokio::test]
async fn a_slow_command_is_acknowledged_and_answered_at_response_url() {
    let hook = slow_webhook(Duration::from_secs(3)).await;
    let dir = TempDir::new("slack-slow");
    let agent = write(
        dir.path(),
        "slack_report.yaml",
        &format!(
            "settings:\n  webhook: {{ url: \"http://{hook}/hook\", timeout_ms: 10000 }}\n\
             variables: [runs]\n\
             flows:\n  main:\n    steps:\n\
             \x20     - set: {{ runs: \"runs + 1\" }}\n\
             \x20     - say: \"Report {{runs}} is being prepared.\"\n\
             \x20     - webhook: {{}}\n\
             \x20     - say: \"Report {{runs}} is ready.\"\n\
             \x20     - id: wait\n        capture: reply\n"
        ),
    );
    let (slack, stand_in) = SlackStandIn::start().await;
    let server = slack_server(agent.to_str().unwrap(), &[]);
    let response_url = format!("http://{slack}/commands/{TEAM}/397700885554/96rGlfmibIGlgcZRskX");
    let body = command_body(
        "/report",
        "",
        &response_url,
        "398738663015.47445629121.803a0bc8",
    );

    let answer = send_signed(&server, "/channels/slack/default/commands", &body).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert!(
        answer.took < Duration::from_millis(2800),
        "acknowledged within Slack's 3 s: {:?}",
        answer.took
    );
    assert_eq!(
        answer.json,
        json!({"response_type": "ephemeral", "text": "Working on it…"})
    );
    // Slack redelivers the same invocation: it waits for the first run and gets an empty
    // acknowledgement (the answer is on its way to response_url; on a slow machine, the
    // "working" acknowledgement), and nothing runs again.
    let again = send_signed(&server, "/channels/slack/default/commands", &body).await;
    assert_eq!(again.status, 200, "{}", again.text);
    assert!(
        again.text.is_empty() || again.json == answer.json,
        "{}",
        again.text
    );

    let calls = stand_in.wait_for(1, Duration::from_secs(10)).await;
    let call = &calls[0];
    assert_eq!(
        call.path,
        format!("/commands/{TEAM}/397700885554/96rGlfmibIGlgcZRskX")
    );
    assert_eq!(
        call.content_type.as_deref(),
        Some("application/json; charset=utf-8")
    );
    assert_eq!(call.authorization, None);
    assert_eq!(
        call.body,
        json!({
            "response_type": "ephemeral",
            "replace_original": false,
            "text": "Report 1 is being prepared.\nReport 1 is ready.",
            "blocks": [section("Report 1 is being prepared."), section("Report 1 is ready.")],
        })
    );
    // One answer, one run. The state read queues behind the session's turns: had the
    // redelivery run again, `runs` would be 2 (and a second answer would follow it).
    let state = session(&server, SESSION).await;
    assert_eq!(state["variables"]["runs"], 1, "{state}");
    assert_eq!(stand_in.calls().len(), 1, "{:?}", stand_in.calls());
}

#[tokio::test]
async fn button_clicks_run_the_buttons_request() {
    let (slack, stand_in) = SlackStandIn::start().await;
    let base = format!("http://{slack}/api");
    let server = slack_server(
        &pizza(),
        &[
            ("TURNSTILE_SLACK_BOT_TOKEN", BOT_TOKEN),
            ("TURNSTILE_SLACK_API_BASE", &base),
        ],
    );
    let response_url = |n: u32| format!("http://{slack}/actions/{TEAM}/{n}/xyz");
    let body = command_body("/pizza", "", &response_url(0), "1.1.1");
    let answer = send_signed(&server, "/channels/slack/default/commands", &body).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let menu = buttons(&answer.json["blocks"][1]);

    // "Order a pizza": acknowledged at once, answered at the click's response_url.
    let click = click_body(&menu[0], "1548426417.840180", &response_url(1));
    let answer = send_signed(&server, "/channels/slack/default/interactivity", &click).await;
    assert_eq!((answer.status, answer.text.as_str()), (200, ""));
    let calls = stand_in.wait_for(1, Duration::from_secs(5)).await;
    assert_eq!(calls[0].path, format!("/actions/{TEAM}/1/xyz"));
    let message = &calls[0].body;
    assert_eq!(message["response_type"], "ephemeral");
    assert_eq!(message["replace_original"], false);
    assert_eq!(message["text"], "What size would you like?");
    assert_eq!(message["blocks"][0], section("What size would you like?"));
    let sizes = buttons(&message["blocks"][1]);
    assert_eq!(labels(&sizes), ["Small", "Medium", "Large"]);
    assert_eq!(
        value(&sizes[2]),
        json!({"type": "text", "payload": "Large"})
    );

    // "Large", then the same click delivered again: it runs once.
    let click = click_body(&sizes[2], "1548426420.000001", &response_url(2));
    let answer = send_signed(&server, "/channels/slack/default/interactivity", &click).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let calls = stand_in.wait_for(2, Duration::from_secs(5)).await;
    assert_eq!(calls[1].path, format!("/actions/{TEAM}/2/xyz"));
    assert_eq!(
        calls[1].body["blocks"],
        json!([section("Great, a large pizza. What is your name?")])
    );
    let before = session(&server, SESSION).await;
    let answer = send_signed(&server, "/channels/slack/default/interactivity", &click).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    // The state read queues behind any turn the click started: none did.
    assert_eq!(session(&server, SESSION).await, before);
    assert_eq!(stand_in.calls().len(), 2, "{:?}", stand_in.calls());

    // The name is typed as a direct message (Events API): the conversation ends.
    let dm_answer = event_body("Ev0100", dm("Ada", "1548426430.000001"));
    let answer = send_signed(&server, "/channels/slack/default/events", &dm_answer).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let calls = stand_in.wait_for(3, Duration::from_secs(5)).await;
    assert_eq!(calls[2].path, "/api/chat.postMessage");
    assert_eq!(
        calls[2].body,
        json!({
            "channel": "D024BE91L",
            "text": "Thanks Ada, your large pizza is on its way!",
            "blocks": [
                section("Thanks Ada, your large pizza is on its way!"),
                {"type": "context", "elements": [
                    {"type": "mrkdwn", "text": "_The conversation has ended._"}]},
            ],
        })
    );
}
