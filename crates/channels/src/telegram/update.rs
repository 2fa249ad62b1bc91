//! The Bot API objects a webhook receives, as hand-written tolerant serde types: unknown fields
//! are ignored, and a field that is present but malformed counts as absent, so a new Bot API
//! version or an odd update never makes the whole update unreadable.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

/// One incoming update. Exactly one of the optional parts is set by Telegram; the kinds turnstile
/// does not handle (edited messages, channel posts, inline queries, …) are not modelled.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Update {
    /// Telegram's sequential update id; redeliveries repeat it.
    pub update_id: i64,
    /// A new message.
    #[serde(default, deserialize_with = "lenient")]
    pub message: Option<Message>,
    /// A press on an inline keyboard button.
    #[serde(default, deserialize_with = "lenient")]
    pub callback_query: Option<CallbackQuery>,
}

/// A message (also the inaccessible-message stub of an old callback query: chat, id, date 0).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Message {
    /// The message's id in its chat.
    #[serde(default)]
    pub message_id: i64,
    /// The forum topic the message belongs to; replies go to the same topic.
    #[serde(default, deserialize_with = "lenient")]
    pub message_thread_id: Option<i64>,
    /// The sender (absent in channels).
    #[serde(default, deserialize_with = "lenient")]
    pub from: Option<User>,
    /// The conversation the message belongs to.
    pub chat: Chat,
    /// The text, for text messages.
    #[serde(default, deserialize_with = "lenient")]
    pub text: Option<String>,
    /// Commands, mentions, links… in `text`; offsets in UTF-16 code units.
    #[serde(default, deserialize_with = "lenient_list")]
    pub entities: Vec<MessageEntity>,
    /// The inline keyboard the message carries (how a callback finds the label of its button).
    #[serde(default, deserialize_with = "lenient")]
    pub reply_markup: Option<InlineKeyboardMarkup>,
}

/// A chat: private (`id` = the user's id), group, supergroup or channel.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Chat {
    /// Up to 52 significant bits; negative for groups.
    pub id: i64,
    /// `private`, `group`, `supergroup` or `channel`.
    #[serde(default, rename = "type")]
    pub kind: String,
}

/// A Telegram user or bot.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct User {
    /// The user's id.
    pub id: i64,
    /// Bots' own messages are never turns.
    #[serde(default)]
    pub is_bot: bool,
    /// The user's first name.
    #[serde(default)]
    pub first_name: String,
}

/// A special part of a message's text.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct MessageEntity {
    /// `bot_command`, `mention`, `url`, …
    #[serde(rename = "type")]
    pub kind: String,
    /// Start, in UTF-16 code units.
    pub offset: usize,
    /// Length, in UTF-16 code units.
    pub length: usize,
}

/// A press on a callback button.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct CallbackQuery {
    /// Answered with `answerCallbackQuery` (the client shows a spinner until then).
    pub id: String,
    /// Who pressed.
    pub from: User,
    /// The message with the button (absent for inline-mode messages).
    #[serde(default, deserialize_with = "lenient")]
    pub message: Option<Message>,
    /// The button's `callback_data`.
    #[serde(default, deserialize_with = "lenient")]
    pub data: Option<String>,
}

/// An inline keyboard: rows of buttons under a message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InlineKeyboardMarkup {
    /// The rows, top to bottom.
    pub inline_keyboard: Vec<Vec<InlineKeyboardButton>>,
}

/// A button of an inline keyboard. Only callback buttons are sent; others are read tolerantly.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InlineKeyboardButton {
    /// The label.
    pub text: String,
    /// 1–64 bytes sent back in the callback query.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback_data: Option<String>,
}

impl InlineKeyboardMarkup {
    /// The buttons, row by row.
    pub fn buttons(&self) -> impl Iterator<Item = &InlineKeyboardButton> {
        self.inline_keyboard.iter().flatten()
    }
}

/// Reads an update. `None`: the JSON is not an update (no integer `update_id`).
pub fn parse_update(body: &Value) -> Option<Update> {
    Update::deserialize(body).ok()
}

/// A present but malformed value reads as `None` instead of failing the whole update.
fn lenient<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    let value = Value::deserialize(deserializer)?;
    Ok(serde_json::from_value(value).ok())
}

/// A list whose malformed items are skipped.
fn lenient_list<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    let value = Value::deserialize(deserializer)?;
    Ok(match value {
        Value::Array(items) => items
            .into_iter()
            .filter_map(|item| serde_json::from_value(item).ok())
            .collect(),
        _ => Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_a_recorded_command_message() {
        let update = parse_update(&json!({
            "update_id": 10000,
            "message": {
                "message_id": 1365,
                "from": {"id": 1111111, "is_bot": false, "first_name": "Ada", "language_code": "en"},
                "chat": {"id": 1111111, "type": "private", "first_name": "Ada"},
                "date": 1441645532,
                "text": "/start promo42",
                "entities": [{"type": "bot_command", "offset": 0, "length": 6}]
            }
        }))
        .unwrap();
        let message = update.message.unwrap();
        assert_eq!(update.update_id, 10000);
        assert_eq!(message.chat.id, 1111111);
        assert_eq!(message.chat.kind, "private");
        assert_eq!(message.from.unwrap().first_name, "Ada");
        assert_eq!(message.text.as_deref(), Some("/start promo42"));
        assert_eq!(message.entities[0].kind, "bot_command");
        assert_eq!(
            (message.entities[0].offset, message.entities[0].length),
            (0, 6)
        );
    }

    #[test]
    fn malformed_parts_read_as_absent() {
        let update = parse_update(&json!({
            "update_id": 7,
            "message": {"chat": "not a chat"},
            "callback_query": {"id": "q", "from": {"id": 5}, "message": 3, "data": 4},
            "poll": {"id": "new kind"}
        }))
        .unwrap();
        assert!(update.message.is_none());
        let query = update.callback_query.unwrap();
        assert_eq!(query.id, "q");
        assert!(query.message.is_none() && query.data.is_none());
        let with_bad_entity = parse_update(&json!({
            "update_id": 8,
            "message": {"message_id": 1, "chat": {"id": -100}, "text": "hi",
                        "entities": [{"type": "bold"}, {"type": "url", "offset": 0, "length": 2}]}
        }))
        .unwrap();
        assert_eq!(with_bad_entity.message.unwrap().entities.len(), 1);
    }

    #[test]
    fn bodies_that_are_not_updates_are_recognised() {
        for body in [json!({}), json!([]), json!({"update_id": "1"}), json!("x")] {
            assert!(parse_update(&body).is_none(), "{body}");
        }
    }
}
