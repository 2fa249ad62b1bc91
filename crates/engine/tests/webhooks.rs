//! Webhook and API steps against a real HTTP server on loopback: success, timeout, non-2xx,
//! followupEvent chains and their cap.

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::*;

fn webhook_agent(url: &str, extra_settings: &str) -> turnstile_engine::Agent {
    agent(&format!(
        r#"
settings:
  webhook: {{ url: "{url}", timeout_ms: 300, headers: {{ x-token: "secret-{{user_id}}" }} }}
{extra_settings}
commands:
  - event: step_two
    jump: two
  - event: step_three
    jump: three
  - event: loop
    jump: looping
flows:
  main:
    steps:
      - id: hook
        webhook: {{ tag: first }}
        on_failure: failed
      - id: after
        say: "After the webhook: {{greeting}}"
        goto: stop
      - id: failed
        say: The webhook failed.
      - id: stop
        end: true
  two:
    steps:
      - say: "Two got {{event.n}}"
      - webhook: {{ tag: second }}
        on_failure: failed_two
      - say: Two done.
      - end: true
      - id: failed_two
        say: Two failed.
  three:
    steps:
      - say: "Three got {{event.n}}"
  looping:
    steps:
      - id: loop_hook
        webhook: {{ tag: loop }}
        on_failure: loop_failed
      - say: Loop ended normally.
      - end: true
      - id: loop_failed
        say: The loop was cut.
"#
    ))
}

#[tokio::test]
async fn webhook_success_posts_the_documented_request_and_says_its_messages() {
    let server = WebhookServer::start(|_, body| {
        Reply::ok(json!({
            "messages": [{"text": format!("Hello from the webhook, turn {}", body["turn"])},
                         {"image": "https://img.test/x.png"}],
            "variables": {"greeting": "hi there"}
        }))
    })
    .await;
    let agent = webhook_agent(&server.url("hook"), "");
    let mut c = Conversation::new(&agent);
    let traces = c.send(launch()).await;
    assert_eq!(traces[0], text("", "Hello from the webhook, turn 1"));
    assert_eq!(traces[1]["type"], "visual");
    assert_eq!(traces[1]["payload"]["image"], "https://img.test/x.png");
    assert_eq!(traces[2], text("after", "After the webhook: hi there"));
    assert_eq!(traces[3], end());

    let received = server.received();
    assert_eq!(received.len(), 1);
    let (path, body) = &received[0];
    assert_eq!(path, "hook");
    assert_eq!(body["userId"], "user-1");
    assert_eq!(body["flow"], "main");
    assert_eq!(body["step"], "hook");
    assert_eq!(body["tag"], "first");
    assert_eq!(body["turn"], 1);
    assert_eq!(body["event"], Value::Null);
    assert_eq!(body["variables"]["sessions"], 1);
}

#[tokio::test]
async fn webhook_timeout_and_non_2xx_take_the_failure_path() {
    let slow = WebhookServer::start(|_, _| Reply {
        status: 200,
        body: json!({"variables": {"greeting": "too late"}}),
        delay: Duration::from_millis(2000),
    })
    .await;
    let agent = webhook_agent(&slow.url("hook"), "");
    let mut c = Conversation::new(&agent);
    let started = std::time::Instant::now();
    let traces = c.send_verbose(launch()).await;
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "the 300 ms timeout applies"
    );
    assert!(traces.iter().any(
        |t| t["type"] == "debug" && t["payload"]["message"] == "webhook call failed: timed out"
    ));
    let said: Vec<&Value> = traces.iter().filter(|t| t["type"] == "text").collect();
    assert_eq!(*said[0], text("failed", "The webhook failed."));
    assert_eq!(c.var("greeting"), Value::Null);

    for status in [404, 500, 503] {
        let failing = WebhookServer::start(move |_, _| Reply {
            status,
            body: json!({}),
            delay: Duration::ZERO,
        })
        .await;
        let agent = webhook_agent(&failing.url("hook"), "");
        let mut c = Conversation::new(&agent);
        let traces = c.send(launch()).await;
        assert_eq!(
            traces,
            vec![text("failed", "The webhook failed."), end()],
            "status {status}"
        );
    }

    // Nothing listening at all: also the failure path.
    let agent = webhook_agent("http://127.0.0.1:9/nothing", "");
    let mut c = Conversation::new(&agent);
    let traces = c.send(launch()).await;
    assert_eq!(traces, vec![text("failed", "The webhook failed."), end()]);
}

#[tokio::test]
async fn followup_event_runs_at_once_and_ignores_the_messages() {
    let server = WebhookServer::start(|_, body| match body["tag"].as_str() {
        Some("first") => Reply::ok(json!({
            "messages": [{"text": "ignored because of the followup"}],
            "fulfillmentText": "also ignored",
            "variables": {"greeting": "set before the followup"},
            "followupEvent": {"name": "STEP_TWO", "data": {"n": 2}}
        })),
        _ => Reply::ok(
            json!({"messages": [{"text": format!("second saw n={}", body["event"]["data"]["n"])}]}),
        ),
    })
    .await;
    let agent = webhook_agent(&server.url("hook"), "");
    let mut c = Conversation::new(&agent);
    let traces = c.send_verbose(launch()).await;
    let visible: Vec<Value> = traces
        .iter()
        .filter(|t| matches!(t["type"].as_str(), Some("text" | "path" | "end")))
        .cloned()
        .collect();
    assert_eq!(
        visible,
        vec![
            path("jump"),
            text("two.1", "Two got 2"),
            text("", "second saw n=2"),
            text("two.3", "Two done."),
            end(),
        ]
    );
    assert_eq!(c.var("greeting"), json!("set before the followup"));
    assert_eq!(c.last_outcome.followups, 1);
    let sequence = traces
        .iter()
        .find(|t| t["payload"]["type"] == "followupEvent")
        .expect("a debug trace records the hop");
    assert_eq!(
        sequence["payload"]["executionSequence"],
        json!([{"step": "hook", "webhookTriggeringEvent": "STEP_TWO"}])
    );
}

#[tokio::test]
async fn followup_chains_are_capped_with_an_error_trace() {
    // Every call asks for the `loop` event again: an endless chain.
    let server = WebhookServer::start(|_, _| {
        Reply::ok(
            json!({"followupEventInput": {"name": "loop", "parameters": {}, "languageCode": "en"}}),
        )
    })
    .await;
    let agent = webhook_agent(&server.url("hook"), "  max_followups: 2");
    let mut c = Conversation::new(&agent);
    c.send(launch()).await; // main's webhook → loop (1)
    let traces = c.send_verbose(launch()).await;
    let error = traces
        .iter()
        .find(|t| error_trace("followup_limit")(t))
        .expect("an error trace names the limit");
    assert!(
        error["payload"]["message"]
            .as_str()
            .unwrap()
            .contains("at most 2")
    );
    let hops: Vec<&Value> = traces
        .iter()
        .filter(|t| t["payload"]["type"] == "followupEvent")
        .collect();
    assert_eq!(hops.len(), 2);
    assert_eq!(
        hops[1]["payload"]["executionSequence"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let said: Vec<&Value> = traces.iter().filter(|t| t["type"] == "text").collect();
    assert_eq!(
        *said.last().unwrap(),
        &text("loop_failed", "The loop was cut.")
    );
    assert_eq!(c.last_outcome.followups, 2);
    // Per turn: main's call (hop 1), the loop's call (hop 2), the loop's call whose follow-up
    // is refused.
    assert_eq!(server.received().len(), 2 * 3);
}

#[tokio::test]
async fn default_cap_is_three_followups() {
    let server =
        WebhookServer::start(|_, _| Reply::ok(json!({"followupEvent": {"name": "loop"}}))).await;
    let agent = webhook_agent(&server.url("hook"), "");
    let mut c = Conversation::new(&agent);
    let traces = c.send_verbose(launch()).await;
    assert_eq!(c.last_outcome.followups, 3);
    assert!(traces.iter().any(|t| error_trace("followup_limit")(t)));
}

#[tokio::test]
async fn api_step_substitutes_variables_and_maps_the_response() {
    let server = WebhookServer::start(|path, body| match path {
        "orders/A17" => Reply::ok(
            json!({"order": {"status": "baking", "items": [{"name": "margherita"}]},
                                         "echo": body}),
        ),
        _ => Reply {
            status: 500,
            body: json!({}),
            delay: Duration::ZERO,
        },
    })
    .await;
    let agent = agent(&format!(
        r#"
flows:
  main:
    steps:
      - set: {{ order: '"A17"' }}
      - api:
          method: post
          url: "{base}/orders/{{order}}"
          headers: {{ authorization: "Bearer {{user_id}}" }}
          body: {{ who: "{{user_id}}", n: 3 }}
          save: {{ status: order.status, first: order.items.0.name, echoed: echo.who }}
        on_failure: broken
      - say: "{{status}} {{first}} {{echoed}}"
      - set: {{ order: '"nope"' }}
      - api: {{ url: "{base}/orders/{{order}}" }}
        on_failure: broken
      - say: not reached
      - id: broken
        say: API failed.
"#,
        base = server.url("").trim_end_matches('/')
    ));
    let mut c = Conversation::new(&agent);
    let traces = c.send(launch()).await;
    assert_eq!(
        traces,
        vec![
            text("main.3", "baking margherita user-1"),
            text("broken", "API failed."),
            end_of_flow()
        ]
    );
    let received = server.received();
    assert_eq!(received[0].0, "orders/A17");
    assert_eq!(received[0].1, json!({"who": "user-1", "n": 3}));
}
