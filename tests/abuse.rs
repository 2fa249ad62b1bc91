//! Abuse against the real binary (issue 11, "Hardening"): requests built to burn CPU are
//! answered promptly with the documented error, or with a normal answer, while `/healthz` and
//! other users' turns keep answering. One test per finding. Bounds are generous (the machine
//! is shared); before the fix each of these took tens of seconds or minutes.

mod support;

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::*;
use tokio::task::JoinHandle;
use turnstile_proto::v1::dialog_client::DialogClient;
use turnstile_proto::v1::request::Kind;
use turnstile_proto::v1::{InteractRequest, Request, Text};

/// How long an abusive request may take to be answered.
const PROMPT: Duration = Duration::from_secs(5);
/// How long `/healthz` and another user's turn may take while the abuse runs.
const RESPONSIVE: Duration = Duration::from_secs(1);

fn text_body(text: &str) -> String {
    json!({ "action": { "type": "text", "payload": text } }).to_string()
}

/// Starts `requests` copies of an abusive HTTP interact, each as its own user.
fn abuse_http(
    server: &Server,
    body: &str,
    requests: usize,
) -> Vec<JoinHandle<(u16, Value, Duration)>> {
    (0..requests)
        .map(|i| {
            let client = server.client.clone();
            let url = server.url(&format!("/state/user/abuser{i}/interact"));
            let body = body.to_owned();
            tokio::spawn(async move {
                let started = Instant::now();
                let response = client
                    .post(url)
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await
                    .expect("the server answers");
                let status = response.status().as_u16();
                let text = response.text().await.unwrap_or_default();
                let value = serde_json::from_str(&text).unwrap_or(Value::Null);
                (status, value, started.elapsed())
            })
        })
        .collect()
}

/// While the abuse runs: `/healthz` and a normal turn of another user answer within
/// [`RESPONSIVE`], a few times over.
async fn assert_responsive(server: &Server, user: &str) {
    for round in 0..3 {
        let started = Instant::now();
        let (status, _) = server.get("/healthz", &[]).await;
        let health = started.elapsed();
        assert_eq!(status, 200);
        assert!(
            health < RESPONSIVE,
            "round {round}: /healthz took {health:?}"
        );

        let started = Instant::now();
        let (status, traces) = server
            .post(
                &format!("/state/user/{user}/interact"),
                &text_body("when are you open"),
                &[],
            )
            .await;
        let turn = started.elapsed();
        assert_eq!(status, 200, "{traces}");
        assert!(
            turn < RESPONSIVE,
            "round {round}: a normal turn took {turn:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn launched(server: &Server, user: &str) {
    server.interact(user, json!({"type": "launch"})).await;
}

#[tokio::test]
async fn a_200_kb_word_is_refused_at_once_and_the_server_stays_responsive() {
    let data = TempDir::new("abuse-200kb");
    let server = Server::pizza(data.path());
    launched(&server, "bystander").await;
    let body = text_body(&"a".repeat(200_000));
    let abuse = abuse_http(&server, &body, 2);
    assert_responsive(&server, "bystander").await;
    for request in abuse {
        let (status, error, took) = request.await.unwrap();
        assert_eq!(status, 400, "{error}");
        let message = error["data"].as_str().unwrap_or_default();
        assert!(
            message.contains("4096 characters") && message.contains("max_text_chars"),
            "{message}"
        );
        assert!(took < PROMPT, "the 200 KB word took {took:?}");
    }
}

#[tokio::test]
async fn a_3_mb_word_over_http_is_refused_by_the_body_limit() {
    let data = TempDir::new("abuse-3mb-http");
    let server = Server::pizza(data.path());
    launched(&server, "bystander").await;
    let body = text_body(&"a".repeat(3_000_000));
    let abuse = abuse_http(&server, &body, 1);
    assert_responsive(&server, "bystander").await;
    for request in abuse {
        let (status, error, took) = request.await.unwrap();
        assert_eq!(status, 413, "{error}");
        assert!(took < PROMPT, "the 3 MB word took {took:?}");
    }
}

#[tokio::test]
async fn a_3_mb_word_over_grpc_is_an_invalid_argument_at_once() {
    let data = TempDir::new("abuse-3mb-grpc");
    let server = Server::pizza(data.path());
    launched(&server, "bystander").await;
    let mut client = DialogClient::connect(server.url(""))
        .await
        .expect("gRPC connects");
    let request = InteractRequest {
        user_id: "grpc-abuser".into(),
        request: Some(Request {
            kind: Some(Kind::Text(Text {
                text: "a".repeat(3_000_000),
            })),
        }),
        ..Default::default()
    };
    let abuse = tokio::spawn(async move {
        let started = Instant::now();
        let outcome = client.interact(request).await;
        (outcome, started.elapsed())
    });
    assert_responsive(&server, "bystander").await;
    let (outcome, took) = abuse.await.unwrap();
    let status = outcome.expect_err("the text is over the limit");
    assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");
    assert!(
        status.message().contains("max_text_chars"),
        "{}",
        status.message()
    );
    assert!(took < PROMPT, "the 3 MB word took {took:?} over gRPC");
}

/// A server whose text limit lets a 200 KB word through: what protects it then is that
/// spelling correction leaves long words alone.
fn pizza_with_limits(data: &std::path::Path, limits: &str) -> Server {
    let agent = repo("examples/agents/pizza.yaml");
    let config = write(
        data,
        "turnstile.toml",
        &format!(
            "agent = {agent:?}\ndata_dir = {:?}\n\n[limits]\n{limits}\n",
            data.join("store")
        ),
    );
    Server::start(&["--config", config.to_str().unwrap()])
}

#[tokio::test]
async fn a_long_word_under_the_text_limit_gets_a_normal_answer_promptly() {
    let data = TempDir::new("abuse-long-token");
    let server = pizza_with_limits(data.path(), "max_text_chars = 300000");
    launched(&server, "bystander").await;
    launched(&server, "abuser0").await;
    launched(&server, "abuser1").await;
    let body = text_body(&format!("when are you open {}", "a".repeat(200_000)));
    let abuse = abuse_http(&server, &body, 2);
    assert_responsive(&server, "bystander").await;
    for request in abuse {
        let (status, traces, took) = request.await.unwrap();
        assert_eq!(status, 200, "{traces}");
        assert!(took < PROMPT, "the long word took {took:?}");
        let traces = traces.as_array().cloned().unwrap_or_default();
        assert!(!said(&traces).is_empty(), "{traces:?}");
    }
}

#[tokio::test]
async fn a_cpu_bound_turn_stops_at_its_deadline_and_the_session_goes_on() {
    let data = TempDir::new("abuse-deadline");
    let server = pizza_with_limits(
        data.path(),
        "max_text_chars = 3000000\nmax_body_bytes = 4000000\nturn_deadline_ms = 50",
    );
    launched(&server, "abuser0").await;
    // Half a million unknown words, each one spelling correction looks at: seconds of CPU
    // without a deadline, and nothing in it yields to the runtime.
    let words = ["xqzvb "; 500_000].concat();
    let started = Instant::now();
    let (status, error) = server
        .post("/state/user/abuser0/interact", &text_body(&words), &[])
        .await;
    let took = started.elapsed();
    assert_eq!(status, 504, "{error}");
    assert!(took < PROMPT, "the turn past its deadline took {took:?}");
    // The session's actor is fine: the next turn of the same user is answered.
    let (status, traces) = server
        .post(
            "/state/user/abuser0/interact",
            &text_body("when are you open"),
            &[],
        )
        .await;
    assert_eq!(status, 200, "{traces}");
    let (status, _) = server.get("/healthz", &[]).await;
    assert_eq!(status, 200);
}
