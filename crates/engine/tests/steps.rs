//! Conversation tests for every step type: request in, exact traces out.

mod support;

use serde_json::{Value, json};
use support::*;

#[tokio::test]
async fn say_substitutes_variables_picks_variants_and_honours_delay() {
    let agent = agent(
        r#"
variables: [count]
flows:
  main:
    steps:
      - id: hi
        say: "Hi {user_id}, count is {count}, unknown stays {nope}."
        delay_ms: 250
      - id: pick
        say: [one, two, three]
      - id: multi
        say: "line 1\nline 2"
"#,
    );
    let mut c = Conversation::new(&agent);
    let traces = c.send(launch()).await;
    assert_eq!(
        traces[0],
        text_delay("hi", "Hi user-1, count is 0, unknown stays {nope}.", 250)
    );
    // A variant is picked by the seeded random source: one of the three, with its id.
    let picked = traces[1]["payload"]["message"].as_str().unwrap().to_owned();
    let n = ["one", "two", "three"]
        .iter()
        .position(|v| *v == picked)
        .unwrap();
    assert_eq!(traces[1], text(&format!("pick#{}", n + 1), &picked));
    assert_eq!(traces[2], text("multi", "line 1\nline 2"));
    assert_eq!(traces[3], end_of_flow());
    assert_eq!(c.var("last_response"), json!("line 1\nline 2"));
}

#[tokio::test]
async fn random_variants_cover_all_options_over_many_sessions() {
    let agent = agent("flows:\n  main:\n    steps:\n      - say: [a, b, c]\n");
    let mut seen = std::collections::BTreeSet::new();
    let mut c = Conversation::new(&agent);
    for _ in 0..60 {
        let traces = c.send(launch()).await;
        seen.insert(traces[0]["payload"]["message"].as_str().unwrap().to_owned());
    }
    assert_eq!(seen.len(), 3, "{seen:?}");
}

#[tokio::test]
async fn speak_emits_ssml() {
    let agent = agent(
        r#"
flows:
  main:
    steps:
      - speak: '<voice name="Alexa">Hello {user_id}</voice>'
"#,
    );
    let mut c = Conversation::new(&agent);
    c.expect(vec![(
        launch(),
        vec![
            speak(r#"<voice name="Alexa">Hello user-1</voice>"#),
            end_of_flow(),
        ],
    )])
    .await;
}

const CHOICE_AGENT: &str = r#"
entities:
  color:
    values:
      red: [crimson]
      blue: [navy]
intents:
  pick_color:
    utterances: ["I like {color}", "{color} please"]
  help:
    utterances: ["help me", "I need help"]
flows:
  main:
    steps:
      - id: ask
        choice:
          - label: Red
            goto: red
          - label: "{user_id}'s pick"
            intent: pick_color
            map: { color: favourite }
            goto: picked
          - intent: help
            goto: helping
          - event: surprise
            goto: surprised
        no_match: ["Pick a colour, please.", "Red or blue?"]
        no_reply: { timeout: 5, prompts: ["Still there?"] }
      - id: red
        say: Red it is.
        goto: finish
      - id: picked
        say: "You like {favourite}."
        goto: finish
      - id: helping
        say: Just pick one.
        goto: ask
      - id: surprised
        say: Surprise!
      - id: finish
        end: true
"#;

fn ask_traces() -> Vec<Value> {
    vec![
        choice(&[
            ("Red", path_req("path-ask-1", "Red")),
            (
                "user-1's pick",
                intent_button("user-1's pick", "pick_color"),
            ),
        ]),
        no_reply_trace(5),
    ]
}

#[tokio::test]
async fn choice_matches_buttons_intents_and_events() {
    let agent = agent(CHOICE_AGENT);
    let mut c = Conversation::new(&agent);
    c.expect(vec![
        (launch(), ask_traces()),
        (
            path_req("path-ask-1", "Red"),
            vec![path("choice:1"), text("red", "Red it is."), end()],
        ),
    ])
    .await;
    assert_eq!(c.var("last_utterance"), json!("Red"));

    let mut c = Conversation::new(&agent);
    c.send(launch()).await;
    c.expect(vec![
        (
            text_req("navy please"),
            vec![path("choice:2"), text("picked", "You like blue."), end()],
        ),
        (launch(), ask_traces()),
        (
            text_req("I need help"),
            [
                vec![path("choice:3"), text("helping", "Just pick one.")],
                ask_traces(),
            ]
            .concat(),
        ),
        (
            event_req("SURPRISE", json!({})),
            vec![path("choice:4"), text("surprised", "Surprise!"), end()],
        ),
    ])
    .await;
    assert_eq!(c.var("favourite"), json!("blue"));
}

#[tokio::test]
async fn no_match_uses_step_prompts_then_global_ones_and_counts() {
    let agent = agent(CHOICE_AGENT);
    let mut c = Conversation::new(&agent);
    c.send(launch()).await;
    let reprompt =
        |message: &str| [vec![path("reprompt"), text("", message)], ask_traces()].concat();
    c.expect(vec![
        (text_req("what?"), reprompt("Pick a colour, please.")),
        (text_req("hmm"), reprompt("Red or blue?")),
        // Step prompts used up: the global default, then the question would be repeated (the
        // step said nothing before, so only the buttons follow).
        (
            text_req("no idea"),
            reprompt("Sorry, I didn’t get that. Please try again."),
        ),
    ])
    .await;
    assert_eq!(c.state.storage.no_matches, 3);
    // A match resets the counter when the next input step is entered.
    c.send(text_req("help me")).await;
    assert_eq!(c.state.storage.no_matches, 0);
}

#[tokio::test]
async fn no_match_goto_and_no_reply_goto_leave_the_step() {
    let agent = agent(
        r#"
flows:
  main:
    steps:
      - id: q
        say: Yes or no?
      - id: wait
        capture: answer
        no_match: { prompts: [], goto: gave_up }
        no_reply: { timeout: 3, prompts: ["Hello?"], goto: silent }
      - id: gave_up
        say: Giving up.
        goto: done
      - id: silent
        say: You are quiet.
      - id: done
        end: true
"#,
    );
    let mut c = Conversation::new(&agent);
    c.expect(vec![
        (launch(), vec![text("q", "Yes or no?"), no_reply_trace(3)]),
        (
            no_reply(),
            vec![path("reprompt"), text("", "Hello?"), no_reply_trace(3)],
        ),
        (
            no_reply(),
            vec![
                path("choice:noReply"),
                text("silent", "You are quiet."),
                end(),
            ],
        ),
    ])
    .await;
    assert_eq!(c.state.storage.no_replies, 0);
    // An empty reply cannot be captured: no-match, whose goto leaves at once.
    c.send(launch()).await;
    c.expect(vec![(
        text_req("   "),
        vec![path("choice:else"), text("gave_up", "Giving up."), end()],
    )])
    .await;
}

#[tokio::test]
async fn global_no_reply_prompts_follow_the_steps_and_then_the_flow_ends() {
    let agent = agent(
        r#"
settings:
  no_reply: { timeout: 8, prompts: ["Are you there?"] }
flows:
  main:
    steps:
      - say: Name?
      - capture: name
"#,
    );
    let mut c = Conversation::new(&agent);
    c.expect(vec![
        (launch(), vec![text("main.1", "Name?"), no_reply_trace(8)]),
        (
            no_reply(),
            vec![
                path("reprompt"),
                text("", "Are you there?"),
                text("", "Name?"),
                no_reply_trace(8),
            ],
        ),
        (no_reply(), vec![path("choice:noReply"), end_of_flow()]),
    ])
    .await;
}

#[tokio::test]
async fn capture_whole_reply_and_entities() {
    let agent = agent(
        r#"
entities:
  size:
    values:
      small: [tiny]
      large: [big]
intents:
  order:
    utterances: ["{size} pizza with {number} toppings"]
flows:
  main:
    steps:
      - capture: { entities: { size: size, number: toppings } }
        no_match: ["Size and toppings?"]
      - capture: { variable: note }
      - say: "{size} / {toppings} / {note}"
"#,
    );
    let mut c = Conversation::new(&agent);
    c.expect(vec![
        (launch(), vec![]),
        // Only one of the two entities: no match.
        (
            text_req("big"),
            vec![path("reprompt"), text("", "Size and toppings?")],
        ),
        (
            text_req("a tiny pizza with 3 toppings"),
            vec![path("capture")],
        ),
        (
            text_req("  extra cheese  "),
            vec![
                path("capture"),
                text("main.3", "small / 3 / extra cheese"),
                end_of_flow(),
            ],
        ),
    ])
    .await;
    assert_eq!(c.var("toppings"), json!(3));
}

#[tokio::test]
async fn condition_set_and_expressions() {
    let agent = agent(
        r#"
flows:
  main:
    steps:
      - set:
          n: 2
          n2: n * 10
          label: '"n=" + str::from(n2)'
          broken: '"x" * 2'
      - condition:
          - if: n2 > 100
            goto: big
          - if: 'label == "n=20" && missing == ()'
            goto: exact
        else: other
      - id: big
        say: big
      - id: exact
        say: "exact {label}"
        goto: stop
      - id: other
        say: other
      - id: stop
        end: true
"#,
    );
    let mut c = Conversation::new(&agent);
    let traces = c.send_verbose(launch()).await;
    let said: Vec<&str> = traces
        .iter()
        .filter_map(|t| {
            t["payload"]["message"]
                .as_str()
                .filter(|_| t["type"] == "text")
        })
        .collect();
    assert_eq!(said, ["exact n=20"]);
    assert_eq!(c.var("n2"), json!(20));
    // A failing expression leaves the variable alone and says why in a debug trace.
    assert_eq!(c.var("broken"), Value::Null);
    assert!(traces.iter().any(|t| {
        t["type"] == "debug"
            && t["payload"]["type"] == "set"
            && t["payload"]["message"]
                .as_str()
                .unwrap()
                .contains("\"x\" * 2")
    }));
}

#[tokio::test]
async fn random_branch_without_repeats_cycles_through_all() {
    let agent = agent(
        r#"
flows:
  main:
    steps:
      - id: spin
        random: [a, b, c]
        no_repeat: true
      - id: a
        say: A
        goto: again
      - id: b
        say: B
        goto: again
      - id: c
        say: C
      - id: again
        capture: anything
        goto: spin
"#,
    );
    let mut c = Conversation::new(&agent);
    let mut said = vec![c.send(launch()).await[0]["payload"]["message"].clone()];
    for _ in 0..5 {
        let traces = c.send(text_req("again")).await;
        said.push(traces[1]["payload"]["message"].clone());
    }
    let mut first = said[..3].to_vec();
    first.sort_by_key(|v| v.to_string());
    assert_eq!(first, [json!("A"), json!("B"), json!("C")], "{said:?}");
    let mut second = said[3..].to_vec();
    second.sort_by_key(|v| v.to_string());
    assert_eq!(second, [json!("A"), json!("B"), json!("C")], "{said:?}");
}

#[tokio::test]
async fn goto_across_flows_call_with_inputs_outputs_and_return() {
    let agent = agent(
        r#"
flows:
  main:
    steps:
      - set: { base: 5 }
      - call:
          flow: adder
          inputs: { x: base + 1 }
          outputs: { result: total }
      - say: "total {total}, x is {x}"
      - goto: other
  adder:
    variables: [x, result]
    steps:
      - set: { result: x * 2 }
      - say: "adding in a frame: x={x}"
  other:
    steps:
      - say: in other
"#,
    );
    let mut c = Conversation::new(&agent);
    c.expect(vec![(
        launch(),
        vec![
            text("adder.2", "adding in a frame: x=6"),
            // `x` was local to the called flow: the caller does not see it.
            text("main.3", "total 12, x is {x}"),
            text("other.1", "in other"),
            end_of_flow(),
        ],
    )])
    .await;
    assert_eq!(c.var("total"), json!(12));
    assert_eq!(c.var("x"), Value::Null);
}

#[tokio::test]
async fn image_card_and_carousel_traces() {
    let agent = agent(
        r#"
flows:
  main:
    steps:
      - image: { url: "https://img.test/{user_id}.png", width: 800, height: 600 }
      - id: info
        card:
          title: "Hi {user_id}"
          description: A card
          image: https://img.test/card.png
          buttons:
            - label: More
              goto: more
      - id: more
        carousel:
          layout: List
          cards:
            - title: One
              buttons: [{ label: Pick one, goto: done }]
            - title: Two
      - id: done
        say: done
"#,
    );
    let mut c = Conversation::new(&agent);
    let traces = c.send(launch()).await;
    assert_eq!(
        traces,
        vec![
            json!({"type": "visual", "time": NOW_MS, "payload": {"visualType": "image",
                "image": "https://img.test/user-1.png", "device": null,
                "dimensions": {"width": 800, "height": 600}, "canvasVisibility": "full"}}),
            json!({"type": "cardV2", "time": NOW_MS, "payload": {"title": "Hi user-1",
                "imageUrl": "https://img.test/card.png",
                "description": {"slate": [{"children": [{"text": "A card"}]}], "text": "A card"},
                "buttons": [{"name": "More", "request": {"type": "path-info-1",
                    "payload": {"label": "More", "actions": []}}}]}}),
        ]
    );
    let traces = c.send(path_req("path-info-1", "More")).await;
    assert_eq!(traces[0]["type"], "carousel");
    assert_eq!(traces[0]["payload"]["layout"], "List");
    assert_eq!(traces[0]["payload"]["cards"][0]["id"], "more-1");
    assert_eq!(
        traces[0]["payload"]["cards"][0]["buttons"][0]["request"]["type"],
        "path-more-1-1"
    );
    assert_eq!(traces[0]["payload"]["cards"][1]["buttons"], json!([]));
    let traces = c.send(path_req("path-more-1-1", "Pick one")).await;
    assert_eq!(traces, vec![text("done", "done"), end_of_flow()]);
}

#[tokio::test]
async fn custom_action_waits_and_follows_named_paths() {
    let agent = agent(
        r#"
flows:
  main:
    steps:
      - id: pay
        action:
          name: Pay Credit Card
          payload: { amount: "{user_id}-42", currency: EUR }
          paths: { success: paid, failure: failed }
          default: failure
      - id: paid
        say: Paid.
        goto: fin
      - id: failed
        say: Failed.
      - id: fin
        end: true
"#,
    );
    let mut c = Conversation::new(&agent);
    c.expect(vec![
        (
            launch(),
            vec![json!({"type": "Pay Credit Card", "time": NOW_MS,
                "payload": {"amount": "user-1-42", "currency": "EUR"}, "defaultPath": 1,
                "paths": [{"label": "success", "event": {"type": "success"}},
                          {"label": "failure", "event": {"type": "failure"}}]})],
        ),
        (
            json!({"type": "success"}),
            vec![path("success"), text("paid", "Paid."), end()],
        ),
    ])
    .await;
    // Anything else takes the default path.
    c.send(launch()).await;
    let traces = c.send(json!({"type": "whatever"})).await;
    assert_eq!(traces, vec![text("failed", "Failed."), end()]);
}

#[tokio::test]
async fn end_step_ends_the_conversation_and_action_requests_do_nothing() {
    let agent = agent(CHOICE_AGENT);
    let mut c = Conversation::new(&agent);
    c.send(launch()).await;
    let before = c.state.clone();
    assert!(
        c.send(json!({"type": "action", "payload": {}}))
            .await
            .is_empty()
    );
    assert_eq!(c.state, before, "an action request changes nothing");
    let traces = c.send(path_req("path-ask-1", "Red")).await;
    assert_eq!(traces.last(), Some(&end()));
    assert!(c.last_outcome.ended);
}
