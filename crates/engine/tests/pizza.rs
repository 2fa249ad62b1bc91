//! The whole Pizza Palace conversation, by buttons and by typed text.

mod support;

use serde_json::json;
use support::*;

fn welcome() -> Vec<serde_json::Value> {
    vec![
        text("welcome", "Welcome to Pizza Palace!"),
        choice(&[
            (
                "Order a pizza",
                intent_button("Order a pizza", "order_pizza"),
            ),
            ("Opening hours", intent_button("Opening hours", "hours")),
        ]),
    ]
}

fn size_question() -> Vec<serde_json::Value> {
    vec![
        text("ask_size", "What size would you like?"),
        choice(&[
            ("Small", quick_reply("Small")),
            ("Medium", quick_reply("Medium")),
            ("Large", quick_reply("Large")),
        ]),
    ]
}

fn concat(parts: Vec<Vec<serde_json::Value>>) -> Vec<serde_json::Value> {
    parts.into_iter().flatten().collect()
}

#[tokio::test]
async fn pizza_order_by_buttons() {
    let agent = pizza();
    let mut c = Conversation::new(&agent);
    c.expect(vec![
        (launch(), welcome()),
        // "Opening hours" runs the hours flow and comes back to the menu.
        (
            intent_button("Opening hours", "hours"),
            concat(vec![
                vec![
                    path("choice:2"),
                    text("hours.1", "We are open every day from 11am to 11pm."),
                ],
                vec![text("", "Welcome to Pizza Palace!")],
                welcome()[1..].to_vec(),
            ]),
        ),
        (
            intent_button("Order a pizza", "order_pizza"),
            concat(vec![vec![path("choice:1")], size_question()]),
        ),
        (
            quick_reply("Medium"),
            vec![
                path("capture"),
                text("ask_name", "Great, a medium pizza. What is your name?"),
            ],
        ),
        (
            text_req("Ada"),
            vec![
                path("capture"),
                text("confirm", "Thanks Ada, your medium pizza is on its way!"),
                end(),
            ],
        ),
    ])
    .await;
    assert!(c.last_outcome.ended);
    assert!(c.state.stack.is_empty());
    assert_eq!(c.var("size"), json!("medium"));
}

#[tokio::test]
async fn pizza_order_by_typed_text_with_detours() {
    let agent = pizza();
    let mut c = Conversation::new(&agent);
    c.expect(vec![
        (launch(), welcome()),
        (
            text_req("I want a large pizza"),
            concat(vec![vec![path("choice:1")], size_question()]),
        ),
        // Anything else is a no-match: the prompt, then the question again.
        (
            text_req("banana"),
            concat(vec![
                vec![path("reprompt"), text("", "Sorry, I didn't get that.")],
                vec![text("", "What size would you like?")],
                size_question()[1..].to_vec(),
            ]),
        ),
        // A global intent in the middle: answered, then back to the question.
        (
            text_req("when are you open?"),
            concat(vec![
                vec![
                    path("push"),
                    text("hours.1", "We are open every day from 11am to 11pm."),
                ],
                vec![text("", "What size would you like?")],
                size_question()[1..].to_vec(),
            ]),
        ),
        // A synonym: "big" is large.
        (
            text_req("a big one please"),
            vec![
                path("capture"),
                text("ask_name", "Great, a large pizza. What is your name?"),
            ],
        ),
        (
            text_req("Grace Hopper"),
            vec![
                path("capture"),
                text(
                    "confirm",
                    "Thanks Grace Hopper, your large pizza is on its way!",
                ),
                end(),
            ],
        ),
    ])
    .await;
    assert_eq!(c.var("name"), json!("Grace Hopper"));
    assert_eq!(c.var("last_utterance"), json!("Grace Hopper"));
}

#[tokio::test]
async fn order_status_event_with_data_returns_to_the_menu() {
    let agent = pizza();
    let mut c = Conversation::new(&agent);
    c.send(launch()).await;
    c.expect(vec![(
        event_req("ORDER_STATUS", json!({"order_id": "A17"})),
        concat(vec![
            vec![
                path("push"),
                text("order_status.1", "Order A17 is in the oven."),
            ],
            vec![text("", "Welcome to Pizza Palace!")],
            welcome()[1..].to_vec(),
        ]),
    )])
    .await;
    assert_eq!(c.var("order_id"), json!("A17"));
}

#[tokio::test]
async fn a_new_conversation_starts_after_the_end() {
    let agent = pizza();
    let mut c = Conversation::new(&agent);
    c.send(launch()).await;
    assert_eq!(c.var("sessions"), json!(1));
    c.send(intent_button("Order a pizza", "order_pizza")).await;
    c.send(quick_reply("Small")).await;
    c.send(text_req("Bob")).await;
    assert!(c.state.stack.is_empty());
    // Any request after the end starts the agent again, as a new session.
    let traces = c.send(text_req("hello")).await;
    assert_eq!(traces, welcome());
    assert_eq!(c.var("sessions"), json!(2));
}
