//! Bad agents fail to load with a message naming file, line and column; nothing panics.

mod support;

use turnstile_engine::{
    LoadErrorKind, Request, SessionState, TurnOptions, load_agent_str, run_turn,
};

/// Loads `source` and returns `(line, column, message)` of the error.
fn error_of(source: &str) -> (usize, usize, String) {
    let err = load_agent_str("agent.yaml", source)
        .err()
        .unwrap_or_else(|| panic!("should not load:\n{source}"));
    let location = err.location.unwrap_or_else(|| panic!("no location: {err}"));
    let shown = err.to_string();
    assert!(
        shown.starts_with(&format!(
            "agent.yaml:{}:{}: ",
            location.line, location.column
        )),
        "{shown}"
    );
    (location.line, location.column, err.kind.to_string())
}

#[test]
fn unknown_targets_are_located() {
    let (line, column, message) =
        error_of("flows:\n  main:\n    steps:\n      - say: hi\n        goto: nowhere\n");
    assert_eq!((line, column), (5, 15));
    assert_eq!(message, "unknown step or flow `nowhere`");

    let (line, _, message) = error_of(
        "commands:\n  - intent: help\n    push: missing\nintents:\n  help:\n    utterances: [help]\nflows:\n  main:\n    steps:\n      - say: hi\n",
    );
    assert_eq!(line, 3);
    assert_eq!(message, "unknown step or flow `missing`");

    let (line, _, _) = error_of(
        "flows:\n  main:\n    steps:\n      - condition:\n          - if: 'true'\n            goto: ghost\n",
    );
    assert_eq!(line, 6);
}

#[test]
fn duplicate_ids_are_located_at_the_second_one() {
    let (line, column, message) = error_of(
        "flows:\n  main:\n    steps:\n      - id: a\n        say: one\n      - id: a\n        say: two\n",
    );
    assert_eq!((line, column), (6, 13));
    assert!(message.starts_with("duplicate id `a`"), "{message}");

    // A step may not reuse a flow's id either.
    let (line, _, message) = error_of(
        "flows:\n  main:\n    steps:\n      - id: other\n        say: x\n  other:\n    steps:\n      - say: y\n",
    );
    assert_eq!(line, 4);
    assert!(message.contains("`other`"), "{message}");
}

#[test]
fn invalid_event_names_are_located_and_name_the_rule() {
    let (line, column, message) = error_of(
        "commands:\n  - event: order status\n    jump: main\nflows:\n  main:\n    steps:\n      - say: hi\n",
    );
    assert_eq!((line, column), (2, 12));
    assert!(message.contains("1 to 50 characters"), "{message}");

    let (line, _, _) = error_of(
        "flows:\n  main:\n    steps:\n      - choice:\n          - event: \"way-too-long-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"\n",
    );
    assert_eq!(line, 5);
}

#[test]
fn bad_expressions_are_located() {
    let (line, column, message) =
        error_of("flows:\n  main:\n    steps:\n      - set:\n          total: 'price * (1 +'\n");
    assert_eq!((line, column), (5, 18));
    assert!(
        message.starts_with("invalid expression `price * (1 +`"),
        "{message}"
    );

    let (line, _, message) = error_of(
        "flows:\n  main:\n    steps:\n      - condition:\n          - if: 'a > (b'\n            goto: main\n",
    );
    assert_eq!(line, 5);
    assert!(message.contains("a > (b"), "{message}");
}

#[test]
fn format_errors_from_the_parser_are_located() {
    // An unknown field.
    let (line, column, message) =
        error_of("flows:\n  main:\n    steps:\n      - say: hi\n        sya: typo\n");
    assert_eq!(line, 5);
    assert!(column >= 9, "{column}");
    assert!(message.contains("unknown field `sya`"), "{message}");
    // Broken YAML.
    let (line, _, _) = error_of("flows:\n  main:\n    steps: [\n");
    assert!(line >= 3, "{line}");
    // A wrong type.
    let (line, _, message) =
        error_of("flows:\n  main:\n    steps:\n      - say: hi\n        delay_ms: soon\n");
    assert_eq!(line, 5);
    assert!(message.contains("delay_ms"), "{message}");
}

#[test]
fn step_kind_rules_are_located() {
    let (line, _, message) =
        error_of("flows:\n  main:\n    steps:\n      - say: hi\n        end: true\n");
    assert_eq!(line, 5);
    assert!(message.contains("both `say` and `end`"), "{message}");

    let (line, _, message) = error_of("flows:\n  main:\n    steps:\n      - id: lonely\n");
    assert_eq!(line, 4);
    assert!(message.starts_with("a step needs one of"), "{message}");

    let (line, _, message) =
        error_of("flows:\n  main:\n    steps:\n      - say: hi\n        buttons: [a]\n");
    assert_eq!(line, 5);
    assert_eq!(message, "`buttons` does not apply to a `say` step");

    let (_, _, message) = error_of("flows:\n  main:\n    steps:\n      - webhook: {}\n");
    assert!(message.contains("settings.webhook.url"), "{message}");
}

#[test]
fn intent_and_entity_references_are_checked() {
    let (line, _, message) = error_of(
        "flows:\n  main:\n    steps:\n      - choice:\n          - intent: nope\n            label: x\n",
    );
    assert_eq!(line, 5);
    assert_eq!(message, "unknown intent `nope`");

    let (line, _, message) = error_of(
        "intents:\n  order:\n    utterances:\n      - fine\n      - 'I want {colour}'\nflows:\n  main:\n    steps:\n      - say: hi\n",
    );
    assert_eq!(line, 5);
    assert!(message.contains("colour"), "{message}");

    let (line, _, message) =
        error_of("flows:\n  main:\n    steps:\n      - capture: { entity: flavour }\n");
    assert_eq!(line, 4);
    assert_eq!(message, "unknown entity type `flavour`");
}

#[test]
fn error_kinds_are_typed() {
    let err =
        load_agent_str("a.yaml", "flows:\n  main:\n    steps:\n      - goto: x\n").unwrap_err();
    assert!(matches!(err.kind, LoadErrorKind::UnknownTarget(ref t) if t == "x"));
    let err = load_agent_str("a.yaml", "flows: {}\n").unwrap_err();
    assert!(matches!(err.kind, LoadErrorKind::Invalid(_)));
}

#[test]
fn the_sample_agent_and_the_documented_example_load() {
    for (name, source) in [
        (
            "pizza.yaml",
            include_str!("../../../examples/agents/pizza.yaml"),
        ),
        ("doc example", &documented_example()),
    ] {
        if let Err(e) = load_agent_str(name, source) {
            panic!("{name}: {e}");
        }
    }
}

/// The complete example in docs/agent-format.md (the first ```yaml block).
fn documented_example() -> String {
    let doc = include_str!("../../../docs/agent-format.md");
    let start = doc.find("```yaml\n").expect("a yaml block") + "```yaml\n".len();
    let end = start + doc[start..].find("```").expect("closed block");
    doc[start..end].to_owned()
}

/// Arbitrary bytes and arbitrary requests never panic the loader or the engine.
#[tokio::test]
async fn nothing_panics_on_garbage() {
    let garbage = [
        "",
        "---",
        "[]",
        "flows: 3",
        "flows:\n  main: []",
        "\u{0}\u{1}",
        "flows:\n  main:\n    steps:\n      - say: [1, {a: b}]\n",
        "&a [*a]",
        "flows: &x\n  main:\n    steps:\n      - say: hi\nother: *x\n",
        "{{{{",
        "flows:\n  m:\n    steps:\n      - goto: m\n",
    ];
    for source in garbage {
        let _ = load_agent_str("g.yaml", source);
    }
    // An agent that loops forever is stopped by the step limit.
    let agent = support::agent("flows:\n  m:\n    steps:\n      - id: spin\n        goto: spin\n");
    let effects = support::TestEffects::new(1);
    let mut state = SessionState::default();
    let mut traces = Vec::new();
    let outcome = run_turn(
        &agent,
        &mut state,
        Request::Launch,
        &effects,
        &mut traces,
        &TurnOptions::default(),
    )
    .await;
    assert!(outcome.ended);
    assert!(
        traces
            .iter()
            .any(|t| support::error_trace("step_limit")(&t.to_json()))
    );
    // Pathological text for the NLU and odd requests at a waiting step.
    let pizza = support::pizza();
    let mut c = support::Conversation::new(&pizza);
    c.send(support::launch()).await;
    for text in [
        "",
        " ",
        "🍕🍕🍕",
        &"pizza ".repeat(2000),
        "\u{202e}\u{0}",
        "ÉÇÀ large ???",
    ] {
        c.send(support::text_req(text)).await;
    }
    for request in [
        serde_json::json!({"type": "path-unknown"}),
        serde_json::json!({"type": "intent", "payload": {"intent": {"name": "nope"}}}),
        support::event_req("nobody_listens", serde_json::json!({"deep": {"a": [1, 2]}})),
        support::no_reply(),
    ] {
        c.send(request).await;
    }
}
