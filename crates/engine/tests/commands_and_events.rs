//! Launch reset, commands (jump, push and return), events and their data, WELCOME rules.

mod support;

use serde_json::{Value, json};
use support::*;
use turnstile_engine::{Request, RequestError};

const AGENT: &str = r#"
intents:
  help:
    utterances: ["help", "I need help"]
  restart:
    utterances: ["start over", "restart"]
  cancel:
    utterances: ["cancel that"]
commands:
  - intent: help
    push: help
  - intent: restart
    jump: main
  - event: promo
    push: promo
    map: { code: promo_code }
  - path: open_faq
    jump: faq
flows:
  main:
    steps:
      - id: greet
        say: Hello!
      - id: ask_name
        say: Your name?
      - id: name
        capture: name
      - id: ask_city
        say: "Thanks {name}. Your city?"
      - id: city
        capture: city
      - say: "{name} from {city}"
  help:
    steps:
      - say: "I can help. Data: {event.code}"
  promo:
    steps:
      - say: "Promo {promo_code} (event data {event.code}, percent {event.percent})"
  faq:
    commands:
      - intent: cancel
        jump: faq_bye
    steps:
      - say: FAQ here. Ask away.
      - capture: question
      - say: "Noted: {question}"
      - id: faq_bye
        say: Leaving the FAQ.
"#;

#[tokio::test]
async fn push_runs_a_flow_and_returns_to_the_waiting_step() {
    let agent = agent(AGENT);
    let mut c = Conversation::new(&agent);
    c.expect(vec![
        (
            launch(),
            vec![text("greet", "Hello!"), text("ask_name", "Your name?")],
        ),
        (
            text_req("I need help"),
            vec![
                path("push"),
                text("help.1", "I can help. Data: {event.code}"),
                // Back where the user was: the question again, still waiting on `name`.
                text("", "Your name?"),
            ],
        ),
        (
            text_req("Ada"),
            vec![path("capture"), text("ask_city", "Thanks Ada. Your city?")],
        ),
    ])
    .await;
    assert_eq!(c.state.stack.len(), 1);
    assert_eq!(c.state.stack[0].node.as_deref(), Some("city"));
}

#[tokio::test]
async fn jump_leaves_the_current_place_and_flow_commands_only_apply_in_their_flow() {
    let agent = agent(AGENT);
    let mut c = Conversation::new(&agent);
    c.send(launch()).await;
    c.send(text_req("Ada")).await;
    c.expect(vec![
        (
            text_req("start over"),
            vec![
                path("jump"),
                text("greet", "Hello!"),
                text("ask_name", "Your name?"),
            ],
        ),
        // `cancel` is a command of the faq flow only: here the capture takes it as a name.
        (
            text_req("cancel that"),
            vec![
                path("capture"),
                text("ask_city", "Thanks cancel that. Your city?"),
            ],
        ),
        (
            json!({"type": "open_faq"}),
            vec![path("jump"), text("faq.1", "FAQ here. Ask away.")],
        ),
        (
            text_req("cancel that"),
            vec![
                path("jump"),
                text("faq_bye", "Leaving the FAQ."),
                end_of_flow(),
            ],
        ),
    ])
    .await;
}

#[tokio::test]
async fn launch_resets_the_stack_and_storage_but_keeps_variables() {
    let agent = agent(AGENT);
    let mut c = Conversation::new(&agent);
    c.send(launch()).await;
    c.send(text_req("Ada")).await;
    c.send(text_req("")).await; // a no-match: the counter moves
    assert_eq!(c.state.storage.no_matches, 1);
    assert_eq!(c.var("sessions"), json!(1));
    let traces = c.send(launch()).await;
    assert_eq!(
        traces,
        vec![text("greet", "Hello!"), text("ask_name", "Your name?")]
    );
    assert_eq!(c.state.storage.no_matches, 0);
    assert_eq!(c.var("name"), json!("Ada"), "variables survive a launch");
    assert_eq!(c.var("sessions"), json!(2));
    assert_eq!(c.state.stack[0].node.as_deref(), Some("name"));
}

#[tokio::test]
async fn event_data_is_readable_and_mapped_and_names_ignore_case() {
    let agent = agent(AGENT);
    let mut c = Conversation::new(&agent);
    c.send(launch()).await;
    c.expect(vec![(
        event_req("PROMO", json!({"code": "SPRING", "percent": 15})),
        vec![
            path("push"),
            text("promo.1", "Promo SPRING (event data SPRING, percent 15)"),
            text("", "Your name?"),
        ],
    )])
    .await;
    assert_eq!(c.var("promo_code"), json!("SPRING"));
    assert_eq!(
        c.var("last_event"),
        json!({"type": "event", "payload": {"event": {"name": "PROMO",
            "data": {"code": "SPRING", "percent": 15}}}})
    );
    // Event data lives for its turn only.
    let traces = c.send(text_req("help")).await;
    assert_eq!(traces[1], text("help.1", "I can help. Data: {event.code}"));
}

#[tokio::test]
async fn an_event_can_open_a_conversation_one_shot() {
    let agent = agent(AGENT);
    let mut c = Conversation::new(&agent);
    let traces = c.send(event_req("promo", json!({"code": "X1"}))).await;
    assert_eq!(
        traces,
        vec![
            path("push"),
            text(
                "promo.1",
                "Promo X1 (event data X1, percent {event.percent})"
            ),
            text("greet", "Hello!"),
            text("ask_name", "Your name?"),
        ]
    );
    // An unknown event at the start simply starts the conversation.
    let mut c = Conversation::new(&agent);
    let traces = c.send(event_req("unknown_thing", json!({}))).await;
    assert_eq!(
        traces,
        vec![text("greet", "Hello!"), text("ask_name", "Your name?")]
    );
}

#[tokio::test]
async fn welcome_events_launch_unless_the_agent_handles_them() {
    let agent = agent(AGENT);
    let mut c = Conversation::new(&agent);
    c.send(launch()).await;
    c.send(text_req("Ada")).await;
    for name in ["WELCOME", "telegram_welcome", "SLACK_WELCOME"] {
        let traces = c.send(event_req(name, json!({}))).await;
        assert_eq!(
            traces,
            vec![text("greet", "Hello!"), text("ask_name", "Your name?")],
            "{name} restarts the conversation"
        );
    }
    let handled = agent_with_commands(
        "  - event: TELEGRAM_WELCOME\n    jump: tg\n",
        "  tg:\n    steps:\n      - say: Hi from Telegram\n",
    );
    let mut c = Conversation::new(&handled);
    c.send(launch()).await;
    let traces = c.send(event_req("telegram_welcome", json!({}))).await;
    assert_eq!(
        traces,
        vec![
            path("jump"),
            text("tg.1", "Hi from Telegram"),
            end_of_flow()
        ]
    );
    // A platform welcome falls back to a WELCOME trigger.
    let generic = agent_with_commands(
        "  - event: WELCOME\n    jump: w\n",
        "  w:\n    steps:\n      - say: Generic welcome\n",
    );
    let mut c = Conversation::new(&generic);
    c.send(launch()).await;
    let traces = c.send(event_req("SKYPE_WELCOME", json!({}))).await;
    assert_eq!(
        traces,
        vec![path("jump"), text("w.1", "Generic welcome"), end_of_flow()]
    );
}

fn agent_with_commands(commands: &str, flows: &str) -> turnstile_engine::Agent {
    agent(&format!(
        "commands:\n{commands}flows:\n  main:\n    steps:\n      - say: main\n      - capture: x\n{flows}"
    ))
}

#[test]
fn invalid_event_names_are_rejected_naming_the_rule() {
    for name in [
        "",
        "has space",
        "dots.not.allowed",
        &"x".repeat(51),
        "ünïcode",
    ] {
        let err = Request::from_json(&event_req(name, json!({}))).unwrap_err();
        let RequestError::EventName(e) = &err else {
            panic!("{name:?}: {err:?}")
        };
        assert!(
            e.to_string().contains("1 to 50 characters of letters"),
            "{e}"
        );
    }
    assert!(Request::from_json(&event_req(&"x".repeat(50), json!({}))).is_ok());
    assert!(Request::from_json(&event_req("a-b_C9", json!({}))).is_ok());
}

#[tokio::test]
async fn intent_requests_skip_nlu_and_map_their_entities() {
    let agent = agent(
        r#"
entities:
  size:
    values: { large: [big] }
intents:
  order:
    utterances: ["{size} pizza"]
commands:
  - intent: order
    jump: got
flows:
  main:
    steps:
      - capture: x
  got:
    steps:
      - say: "{size} ({intent_confidence}%)"
"#,
    );
    let mut c = Conversation::new(&agent);
    c.send(launch()).await;
    let request = json!({"type": "intent", "payload": {"intent": {"name": "order"}, "query": "whatever",
        "entities": [{"name": "size", "value": "large"}], "confidence": 0.42}});
    let traces = c.send(request).await;
    assert_eq!(traces[1], text("got.1", "large (42%)"));
    assert_eq!(c.var("last_utterance"), json!("whatever"));
}

#[tokio::test]
async fn a_state_from_a_changed_agent_restarts_cleanly() {
    let agent = agent(AGENT);
    let mut c = Conversation::new(&agent);
    c.send(launch()).await;
    c.state.stack[0].node = Some("removed_step".into());
    let traces = c.send_verbose(text_req("Ada")).await;
    assert!(traces.iter().any(|t| {
        t["type"] == "debug"
            && t["payload"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("removed_step"))
    }));
    let said: Vec<&Value> = traces.iter().filter(|t| t["type"] == "text").collect();
    assert_eq!(said[0]["payload"]["message"], "Hello!");
}
