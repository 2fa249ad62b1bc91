//! Updates → what to run: commands become events (`/start` the welcome), other text becomes a
//! text request, a button press becomes the button's request.

use std::collections::BTreeMap;

use serde_json::{Map, Value};
use turnstile_engine::{Agent, EventName, Request};

use super::callback::{CallbackError, decode_callback};
use super::render::ChatTarget;
use super::text::utf16_range;
use super::update::{CallbackQuery, Message, Update};

/// The event `/start` sends when the agent handles it (or `WELCOME`); otherwise `/start`
/// launches the agent.
pub const WELCOME_EVENT: &str = "TELEGRAM_WELCOME";

/// What an update asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum Inbound {
    /// Run a turn.
    Turn(TurnRequest),
    /// A button press that maps to no request: answer it (so the spinner stops), run nothing.
    DeadButton {
        /// The callback query to answer.
        callback_query_id: String,
        /// Why nothing runs.
        reason: DeadButton,
    },
    /// Nothing to run: an update of a kind turnstile does not handle.
    Ignore(&'static str),
}

/// Why a pressed button runs nothing.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DeadButton {
    /// Its data cannot be read.
    #[error(transparent)]
    Data(#[from] CallbackError),
    /// Its request names a path the agent no longer has.
    #[error("the agent has no path `{0}`")]
    UnknownPath(String),
    /// It was on a message sent in inline mode: there is no chat to answer in.
    #[error("the button is not in a chat")]
    NoChat,
}

/// A turn to run for an update.
#[derive(Debug, Clone, PartialEq)]
pub struct TurnRequest {
    /// The session's user id: `telegram:{chat id}`.
    pub user_id: String,
    /// `telegram-update:{update_id}`: a redelivered update is answered from the session's
    /// record instead of running again.
    pub idempotency_key: String,
    /// What the user said, commanded or pressed.
    pub request: Request,
    /// Where the answer goes.
    pub reply_to: ChatTarget,
    /// Set for a button press: the query that must be answered.
    pub callback_query_id: Option<String>,
}

/// The session user id of a chat.
pub fn user_id(chat_id: i64) -> String {
    format!("telegram:{chat_id}")
}

/// The idempotency key of an update.
pub fn idempotency_key(update_id: i64) -> String {
    format!("telegram-update:{update_id}")
}

/// What `update` asks of `agent`. `commands` maps bot commands (`/recent_transactions`) to
/// event names; a command not in it becomes the event named after it.
pub fn inbound(update: &Update, agent: &Agent, commands: &BTreeMap<String, String>) -> Inbound {
    if let Some(message) = &update.message {
        return from_message(update.update_id, message, agent, commands);
    }
    if let Some(query) = &update.callback_query {
        return from_callback(update.update_id, query, agent);
    }
    Inbound::Ignore("an update of a kind turnstile does not handle")
}

fn from_message(
    update_id: i64,
    message: &Message,
    agent: &Agent,
    commands: &BTreeMap<String, String>,
) -> Inbound {
    if message.from.as_ref().is_some_and(|u| u.is_bot) {
        return Inbound::Ignore("a message from a bot");
    }
    let Some(text) = message.text.as_deref().filter(|t| !t.trim().is_empty()) else {
        return Inbound::Ignore("a message without text");
    };
    let request = match command(text, message) {
        Some((name, args))
            if mapped(commands, name).is_none() && name.eq_ignore_ascii_case("start") =>
        {
            welcome(args, agent)
        }
        Some((name, args)) => match EventName::new(mapped(commands, name).unwrap_or(name)) {
            Ok(name) => Request::Event(turnstile_engine::request::EventRequest {
                name,
                data: text_data(args),
            }),
            // Not a name an agent could handle: the user's words, as they are.
            Err(_) => Request::Text(text.to_owned()),
        },
        None => Request::Text(text.to_owned()),
    };
    Inbound::Turn(TurnRequest {
        user_id: user_id(message.chat.id),
        idempotency_key: idempotency_key(update_id),
        request,
        reply_to: ChatTarget {
            chat_id: message.chat.id,
            thread_id: message.message_thread_id,
        },
        callback_query_id: None,
    })
}

/// The event a command is mapped to (keys may be written with or without the `/`).
fn mapped<'m>(commands: &'m BTreeMap<String, String>, name: &str) -> Option<&'m str> {
    commands
        .get(&format!("/{name}"))
        .or_else(|| commands.get(name))
        .map(String::as_str)
}

/// The first `bot_command` entity of a message: the command's name (without `/` and
/// `@botname`) and the text after it. Entity positions are UTF-16 code units; an entity that
/// does not fit the text is not a command.
fn command<'t>(text: &'t str, message: &Message) -> Option<(&'t str, &'t str)> {
    let entity = message.entities.iter().find(|e| e.kind == "bot_command")?;
    let range = utf16_range(text, entity.offset, entity.length)?;
    let command = text[range.start..range.end].strip_prefix('/')?;
    let name = command.split_once('@').map_or(command, |(name, _bot)| name);
    if name.is_empty() {
        return None;
    }
    Some((name, text[range.end..].trim()))
}

/// `/start`: the welcome event when the agent has a trigger for it (the engine falls back to
/// `WELCOME`), otherwise a launch. A deep-link payload travels as the event's `text`.
fn welcome(payload: &str, agent: &Agent) -> Request {
    let names = [WELCOME_EVENT, "WELCOME"].map(EventName::new);
    let handled = names
        .iter()
        .any(|name| name.as_ref().is_ok_and(|n| agent.handles_event(n)));
    match &names[0] {
        Ok(name) if handled => Request::Event(turnstile_engine::request::EventRequest {
            name: name.clone(),
            data: text_data(payload),
        }),
        _ => Request::Launch,
    }
}

fn text_data(text: &str) -> Map<String, Value> {
    let mut data = Map::new();
    data.insert("text".into(), Value::String(text.to_owned()));
    data
}

fn from_callback(update_id: i64, query: &CallbackQuery, agent: &Agent) -> Inbound {
    let dead = |reason: DeadButton| Inbound::DeadButton {
        callback_query_id: query.id.clone(),
        reason,
    };
    let Some(message) = &query.message else {
        return dead(DeadButton::NoChat);
    };
    let Some(data) = query.data.as_deref() else {
        return dead(CallbackError::Missing.into());
    };
    let request = match decode_callback(data, message.reply_markup.as_ref()) {
        Ok(request) => request,
        Err(e) => return dead(e.into()),
    };
    if let Request::General(general) = &request
        && !agent.knows_request_type(&general.kind)
    {
        return dead(DeadButton::UnknownPath(general.kind.clone()));
    }
    Inbound::Turn(TurnRequest {
        user_id: user_id(message.chat.id),
        idempotency_key: idempotency_key(update_id),
        request,
        reply_to: ChatTarget {
            chat_id: message.chat.id,
            thread_id: message.message_thread_id,
        },
        callback_query_id: Some(query.id.clone()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telegram::update::parse_update;
    use serde_json::json;

    const SHOP: &str = r#"
name: Shop
commands:
  - event: order_status
    push: status
flows:
  main:
    steps:
      - say: Hi
      - id: menu
        choice:
          - label: Status
            goto: status
  status:
    steps:
      - say: "Order {event.text}"
"#;

    fn agent(yaml: &str) -> Agent {
        turnstile_engine::load_agent_str("test.yaml", yaml).unwrap()
    }

    fn message(update_id: i64, text: &str, entities: Value) -> Update {
        parse_update(&json!({
            "update_id": update_id,
            "message": {
                "message_id": 5, "date": 1441645532, "text": text, "entities": entities,
                "from": {"id": 42, "is_bot": false, "first_name": "Ada"},
                "chat": {"id": 42, "type": "private", "first_name": "Ada"}
            }
        }))
        .unwrap()
    }

    fn turn(inbound: Inbound) -> TurnRequest {
        match inbound {
            Inbound::Turn(turn) => turn,
            other => panic!("not a turn: {other:?}"),
        }
    }

    fn event(name: &str, text: &str) -> Request {
        Request::from_json(&json!({"type": "event",
            "payload": {"event": {"name": name, "data": {"text": text}}}}))
        .unwrap()
    }

    #[test]
    fn start_launches_unless_the_agent_handles_the_welcome() {
        let entities = json!([{"type": "bot_command", "offset": 0, "length": 6}]);
        let update = message(10000, "/start promo42", entities);
        let plain = turn(inbound(&update, &agent(SHOP)));
        assert_eq!(plain.request, Request::Launch);
        assert_eq!(plain.user_id, "telegram:42");
        assert_eq!(plain.idempotency_key, "telegram-update:10000");
        assert_eq!(
            plain.reply_to,
            ChatTarget {
                chat_id: 42,
                thread_id: None
            }
        );
        for trigger in ["TELEGRAM_WELCOME", "welcome"] {
            let handles = SHOP.replace(
                "commands:\n",
                &format!("commands:\n  - event: {trigger}\n    jump: status\n"),
            );
            let request = turn(inbound(&update, &agent(&handles))).request;
            assert_eq!(request, event("TELEGRAM_WELCOME", "promo42"), "{trigger}");
        }
    }

    /// The default command mapping.
    fn inbound(update: &Update, agent: &Agent) -> Inbound {
        super::inbound(update, agent, &BTreeMap::new())
    }

    #[test]
    fn configured_commands_map_to_their_events() {
        let shop = agent(SHOP);
        let commands: BTreeMap<String, String> = [
            (
                "/recent_transactions".to_owned(),
                "ShowRecentTransactions".to_owned(),
            ),
            ("start".to_owned(), "Hello".to_owned()),
        ]
        .into();
        let update = message(
            1,
            "/recent_transactions@BankBot last week",
            json!([{"type": "bot_command", "offset": 0, "length": 28}]),
        );
        assert_eq!(
            turn(super::inbound(&update, &shop, &commands)).request,
            event("ShowRecentTransactions", "last week")
        );
        // A mapped `/start` is that event, not the welcome.
        let update = message(
            2,
            "/start",
            json!([{"type": "bot_command", "offset": 0, "length": 6}]),
        );
        assert_eq!(
            turn(super::inbound(&update, &shop, &commands)).request,
            event("Hello", "")
        );
    }

    #[test]
    fn commands_become_events_with_their_text() {
        let shop = agent(SHOP);
        let update = message(
            1,
            "/order_status@PizzaBot  A17 ",
            json!([{"type": "bot_command", "offset": 0, "length": 22}]),
        );
        assert_eq!(
            turn(inbound(&update, &shop)).request,
            event("order_status", "A17")
        );
        // Emoji before the command and in the arguments: offsets count UTF-16 units (🍕 = 2).
        let update = message(
            2,
            "🍕🍕 /order_status@PizzaBot 🍕A17",
            json!([{"type": "bot_command", "offset": 5, "length": 22}]),
        );
        assert_eq!(
            turn(inbound(&update, &shop)).request,
            event("order_status", "🍕A17")
        );
        let update = message(
            3,
            "/help",
            json!([{"type": "bot_command", "offset": 0, "length": 5}]),
        );
        assert_eq!(turn(inbound(&update, &shop)).request, event("help", ""));
    }

    #[test]
    fn text_that_is_not_a_usable_command_is_text() {
        let shop = agent(SHOP);
        let cases = [
            ("hello there", json!([])),
            (
                "see https://x.io",
                json!([{"type": "url", "offset": 4, "length": 12}]),
            ),
            // The entity points into the middle of the emoji, or past the end.
            (
                "🍕/x",
                json!([{"type": "bot_command", "offset": 1, "length": 2}]),
            ),
            (
                "/x",
                json!([{"type": "bot_command", "offset": 0, "length": 9}]),
            ),
            // Not a command at that position, or a name events cannot have.
            (
                "hi /x",
                json!([{"type": "bot_command", "offset": 0, "length": 2}]),
            ),
            (
                "/@bot",
                json!([{"type": "bot_command", "offset": 0, "length": 5}]),
            ),
        ];
        let long = format!("/{}", "n".repeat(51));
        let cases = cases.into_iter().chain([(
            long.as_str(),
            json!([{"type": "bot_command", "offset": 0, "length": long.len()}]),
        )]);
        for (text, entities) in cases {
            let request = turn(inbound(&message(4, text, entities), &shop)).request;
            assert_eq!(request, Request::Text(text.into()), "{text}");
        }
    }

    #[test]
    fn updates_without_a_turn_are_ignored() {
        let shop = agent(SHOP);
        let ignored = [
            json!({"update_id": 1, "edited_message": {"chat": {"id": 1}, "text": "x"}}),
            json!({"update_id": 2, "message": {"chat": {"id": 1}, "photo": []}}),
            json!({"update_id": 3, "message": {"chat": {"id": 1}, "text": "  "}}),
            json!({"update_id": 4, "message": {"chat": {"id": 1}, "text": "x",
                   "from": {"id": 9, "is_bot": true, "first_name": "B"}}}),
        ];
        for update in ignored {
            let inbound = inbound(&parse_update(&update).unwrap(), &shop);
            assert!(
                matches!(inbound, Inbound::Ignore(_)),
                "{update}: {inbound:?}"
            );
        }
    }

    fn press(data: Option<&str>, keyboard: Value) -> Update {
        let mut query = json!({
            "id": "4382bfdwdsb323b2d9", "chat_instance": "-87", "from": {"id": 42, "is_bot": false,
            "first_name": "Ada"},
            "message": {"message_id": 9, "date": 1, "chat": {"id": 42, "type": "private"},
                        "message_thread_id": 3, "text": "Hi", "reply_markup": keyboard}
        });
        if let Some(data) = data {
            query["data"] = json!(data);
        }
        parse_update(&json!({"update_id": 77, "callback_query": query})).unwrap()
    }

    #[test]
    fn button_presses_become_their_requests() {
        let shop = agent(SHOP);
        let keyboard =
            json!({"inline_keyboard": [[{"text": "Status", "callback_data": "p:path-menu-1"}]]});
        let pressed = turn(inbound(
            &press(Some("p:path-menu-1"), keyboard.clone()),
            &shop,
        ));
        assert_eq!(
            pressed.request,
            Request::from_json(&json!({"type": "path-menu-1", "payload": {"label": "Status"}}))
                .unwrap()
        );
        assert_eq!(
            pressed.callback_query_id.as_deref(),
            Some("4382bfdwdsb323b2d9")
        );
        assert_eq!(
            pressed.reply_to,
            ChatTarget {
                chat_id: 42,
                thread_id: Some(3)
            }
        );
        assert_eq!(pressed.idempotency_key, "telegram-update:77");
        for (data, reason) in [
            (None, DeadButton::Data(CallbackError::Missing)),
            (Some("p:gone"), DeadButton::UnknownPath("gone".into())),
            (
                Some("??"),
                DeadButton::Data(CallbackError::Unknown("??".into())),
            ),
        ] {
            assert_eq!(
                inbound(&press(data, keyboard.clone()), &shop),
                Inbound::DeadButton {
                    callback_query_id: "4382bfdwdsb323b2d9".into(),
                    reason
                }
            );
        }
        let inline = parse_update(&json!({"update_id": 78, "callback_query": {
            "id": "q", "from": {"id": 42}, "inline_message_id": "AAA", "data": "l"}}))
        .unwrap();
        assert!(matches!(
            inbound(&inline, &shop),
            Inbound::DeadButton {
                reason: DeadButton::NoChat,
                ..
            }
        ));
    }
}
