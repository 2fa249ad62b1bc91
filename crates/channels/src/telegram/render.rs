//! Traces → Bot API calls: text and speak traces become messages, a choice becomes the inline
//! keyboard of the message it follows, images become photos, cards become photos or messages
//! with their buttons. `end`, `no-reply` (Telegram has no silence timer) and the rest are
//! dropped.

use serde::Serialize;
use serde_json::Value;
use turnstile_engine::trace::{Button, Card};
use turnstile_engine::{Trace, TraceKind};

use super::callback::encode_callback;
use super::text::{split, utf16_len};
use super::update::{InlineKeyboardButton, InlineKeyboardMarkup};
use crate::strip_ssml;

/// The longest message text Telegram accepts (UTF-16 code units); longer texts are split.
pub const MAX_MESSAGE: usize = 4096;
/// The longest photo caption.
pub const MAX_CAPTION: usize = 1024;
/// The text of a message that exists only to carry buttons (Telegram refuses empty text).
pub const CHOICE_PROMPT: &str = "Please choose:";
/// Buttons that share a keyboard row: at most this many…
const ROW_BUTTONS: usize = 3;
/// …whose labels add up to at most this many characters (narrow phones cut longer labels).
const ROW_CHARS: usize = 24;
/// Telegram's limit of buttons per keyboard.
const MAX_BUTTONS: usize = 100;

/// Where a turn's answer goes: the chat, and the forum topic the update came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChatTarget {
    /// The chat's id.
    pub chat_id: i64,
    /// The forum topic, when the update came from one.
    pub thread_id: Option<i64>,
}

/// One Bot API call.
#[derive(Debug, Clone, PartialEq)]
pub enum BotMethod {
    /// `sendMessage`.
    SendMessage(SendMessage),
    /// `sendPhoto`.
    SendPhoto(SendPhoto),
    /// `answerCallbackQuery`.
    AnswerCallbackQuery(AnswerCallbackQuery),
}

/// `sendMessage` parameters (plain text: no `parse_mode`, so nothing in it is markup).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SendMessage {
    /// The chat.
    pub chat_id: i64,
    /// The forum topic.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_thread_id: Option<i64>,
    /// 1–4096 characters.
    pub text: String,
    /// The buttons under the message.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reply_markup: Option<InlineKeyboardMarkup>,
}

/// `sendPhoto` parameters, with the photo given by URL (Telegram fetches it).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SendPhoto {
    /// The chat.
    pub chat_id: i64,
    /// The forum topic.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_thread_id: Option<i64>,
    /// The image's URL.
    pub photo: String,
    /// 0–1024 characters under the photo.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub caption: Option<String>,
    /// The buttons under the photo.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reply_markup: Option<InlineKeyboardMarkup>,
}

/// `answerCallbackQuery` parameters: stops the client's spinner on a pressed button.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AnswerCallbackQuery {
    /// The query's id.
    pub callback_query_id: String,
    /// A notification shown to the user (0–200 characters).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

impl BotMethod {
    /// An answer to a callback query, with an optional notice.
    pub fn answer_callback(id: &str, notice: Option<&str>) -> BotMethod {
        BotMethod::AnswerCallbackQuery(AnswerCallbackQuery {
            callback_query_id: id.to_owned(),
            text: notice.map(str::to_owned),
        })
    }

    /// The method's name in the Bot API URL (`…/bot<token>/<name>`).
    pub fn name(&self) -> &'static str {
        match self {
            BotMethod::SendMessage(_) => "sendMessage",
            BotMethod::SendPhoto(_) => "sendPhoto",
            BotMethod::AnswerCallbackQuery(_) => "answerCallbackQuery",
        }
    }

    /// The JSON body of the Bot API call.
    pub fn params(&self) -> Value {
        let params = match self {
            BotMethod::SendMessage(m) => serde_json::to_value(m),
            BotMethod::SendPhoto(m) => serde_json::to_value(m),
            BotMethod::AnswerCallbackQuery(m) => serde_json::to_value(m),
        };
        params.unwrap_or(Value::Null)
    }

    /// The call as a webhook answer: the parameters plus `method`.
    pub fn webhook_answer(&self) -> Value {
        let mut answer = self.params();
        if let Value::Object(map) = &mut answer {
            map.insert("method".into(), Value::String(self.name().into()));
        }
        answer
    }

    /// What to send when Telegram refuses this call: a photo it cannot fetch goes out as a
    /// message with the link, the caption and the buttons.
    pub fn fallback(&self) -> Option<BotMethod> {
        let BotMethod::SendPhoto(photo) = self else {
            return None;
        };
        let text = match &photo.caption {
            Some(caption) => format!("{caption}\n{}", photo.photo),
            None => photo.photo.clone(),
        };
        Some(BotMethod::SendMessage(SendMessage {
            chat_id: photo.chat_id,
            message_thread_id: photo.message_thread_id,
            text,
            reply_markup: photo.reply_markup.clone(),
        }))
    }

    fn keyboard_slot(&mut self) -> Option<&mut Option<InlineKeyboardMarkup>> {
        match self {
            BotMethod::SendMessage(m) => Some(&mut m.reply_markup),
            BotMethod::SendPhoto(m) => Some(&mut m.reply_markup),
            BotMethod::AnswerCallbackQuery(_) => None,
        }
    }
}

/// The Bot API calls that show a turn's traces in the chat, in order.
pub fn render(traces: &[Trace], to: ChatTarget) -> Vec<BotMethod> {
    let mut out = Vec::new();
    for trace in traces {
        match &trace.kind {
            TraceKind::Text(text) => push_text(&mut out, to, &text.message),
            TraceKind::Speak { message } => push_text(&mut out, to, &strip_ssml(message)),
            TraceKind::Visual(payload) => {
                if let Some(url) = payload["image"].as_str().filter(|u| !u.is_empty()) {
                    out.push(photo(to, url, None));
                }
            }
            TraceKind::Choice { buttons } => attach_keyboard(&mut out, to, buttons),
            TraceKind::Card(card) => push_card(&mut out, to, card),
            TraceKind::Carousel { cards, .. } => {
                for card in cards {
                    push_card(&mut out, to, card);
                }
            }
            _ => {}
        }
    }
    out
}

/// The inline keyboard of a choice: buttons packed into rows, each carrying its request.
pub fn keyboard(buttons: &[Button]) -> InlineKeyboardMarkup {
    let mut rows: Vec<Vec<InlineKeyboardButton>> = Vec::new();
    let mut row_chars = 0;
    for (index, button) in buttons.iter().take(MAX_BUTTONS).enumerate() {
        let label = match button.name.trim() {
            "" => format!("Option {}", index + 1),
            label => label.to_owned(),
        };
        let chars = label.chars().count();
        let data = encode_callback(index, &label, &button.request);
        let item = InlineKeyboardButton {
            text: label,
            callback_data: Some(data),
        };
        match rows.last_mut() {
            Some(row) if row.len() < ROW_BUTTONS && row_chars + chars <= ROW_CHARS => {
                row_chars += chars;
                row.push(item);
            }
            _ => {
                row_chars = chars;
                rows.push(vec![item]);
            }
        }
    }
    InlineKeyboardMarkup {
        inline_keyboard: rows,
    }
}

fn push_text(out: &mut Vec<BotMethod>, to: ChatTarget, text: &str) {
    for piece in split(text, MAX_MESSAGE) {
        out.push(message(to, piece));
    }
}

fn message(to: ChatTarget, text: &str) -> BotMethod {
    BotMethod::SendMessage(SendMessage {
        chat_id: to.chat_id,
        message_thread_id: to.thread_id,
        text: text.to_owned(),
        reply_markup: None,
    })
}

fn photo(to: ChatTarget, url: &str, caption: Option<String>) -> BotMethod {
    BotMethod::SendPhoto(SendPhoto {
        chat_id: to.chat_id,
        message_thread_id: to.thread_id,
        photo: url.to_owned(),
        caption,
        reply_markup: None,
    })
}

/// Puts the buttons under the last message of the turn, or under a message of their own when
/// that one already has buttons (or there is none).
fn attach_keyboard(out: &mut Vec<BotMethod>, to: ChatTarget, buttons: &[Button]) {
    if buttons.is_empty() {
        return;
    }
    let markup = keyboard(buttons);
    if let Some(slot @ None) = out.last_mut().and_then(BotMethod::keyboard_slot) {
        *slot = Some(markup);
        return;
    }
    let mut carrier = message(to, CHOICE_PROMPT);
    if let Some(slot) = carrier.keyboard_slot() {
        *slot = Some(markup);
    }
    out.push(carrier);
}

fn push_card(out: &mut Vec<BotMethod>, to: ChatTarget, card: &Card) {
    let text = [card.title.trim(), card.description.trim()]
        .into_iter()
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join("\n");
    let before = out.len();
    match card.image_url.as_deref().filter(|u| !u.is_empty()) {
        Some(url) if utf16_len(&text) <= MAX_CAPTION => {
            out.push(photo(to, url, (!text.is_empty()).then_some(text)));
        }
        Some(url) => {
            out.push(photo(to, url, None));
            push_text(out, to, &text);
        }
        None => push_text(out, to, &text),
    }
    // A card's buttons belong to that card, never to an earlier message.
    if out.len() == before && !card.buttons.is_empty() {
        out.push(message(to, CHOICE_PROMPT));
    }
    attach_keyboard(out, to, &card.buttons);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use turnstile_engine::trace::TextTrace;

    const TO: ChatTarget = ChatTarget {
        chat_id: 1111111,
        thread_id: None,
    };

    fn trace(kind: TraceKind) -> Trace {
        Trace { kind, time: 1 }
    }

    fn text(message: &str) -> Trace {
        trace(TraceKind::Text(TextTrace {
            id: "t".into(),
            message: message.into(),
            delay: 0,
        }))
    }

    fn button(label: &str, request: Value) -> Button {
        Button {
            name: label.into(),
            request,
        }
    }

    fn pizza_menu() -> Trace {
        trace(TraceKind::Choice {
            buttons: vec![
                button(
                    "Order a pizza",
                    json!({"type": "intent", "payload": {"label": "Order a pizza",
                        "query": "Order a pizza", "entities": [], "intent": {"name": "order_pizza"}}}),
                ),
                button(
                    "Opening hours",
                    json!({"type": "intent", "payload": {"label": "Opening hours",
                        "query": "Opening hours", "entities": [], "intent": {"name": "hours"}}}),
                ),
            ],
        })
    }

    #[test]
    fn a_choice_becomes_the_keyboard_of_the_message_before_it() {
        let methods = render(
            &[
                text("Welcome to Pizza Palace!"),
                pizza_menu(),
                trace(TraceKind::End { explicit: true }),
            ],
            TO,
        );
        assert_eq!(methods.len(), 1);
        assert_eq!(
            methods[0].webhook_answer(),
            json!({"method": "sendMessage", "chat_id": 1111111, "text": "Welcome to Pizza Palace!",
                   "reply_markup": {"inline_keyboard": [
                       [{"text": "Order a pizza", "callback_data": "i:order_pizza"}],
                       [{"text": "Opening hours", "callback_data": "i:hours"}]]}})
        );
        assert_eq!(methods[0].name(), "sendMessage");
        assert!(methods[0].params().get("method").is_none());
    }

    #[test]
    fn short_labels_share_rows() {
        let sizes: Vec<Button> = ["Small", "Medium", "Large", "Family size"]
            .iter()
            .map(|s| button(s, json!({"type": "text", "payload": s})))
            .collect();
        let rows: Vec<Vec<String>> = keyboard(&sizes)
            .inline_keyboard
            .iter()
            .map(|row| row.iter().map(|b| b.text.clone()).collect())
            .collect();
        assert_eq!(
            rows,
            [vec!["Small", "Medium", "Large"], vec!["Family size"]]
        );
    }

    #[test]
    fn buttons_without_a_message_get_one_and_a_second_choice_gets_its_own() {
        let methods = render(&[pizza_menu(), pizza_menu()], TO);
        assert_eq!(methods.len(), 2);
        for method in &methods {
            let params = method.params();
            assert_eq!(params["text"], CHOICE_PROMPT);
            assert_eq!(
                params["reply_markup"]["inline_keyboard"][0][0]["text"],
                "Order a pizza"
            );
        }
    }

    #[test]
    fn speech_images_cards_and_long_text() {
        let card = Card {
            id: "c".into(),
            title: "Espresso".into(),
            description: "Short and strong.".into(),
            image_url: Some("https://example.com/espresso.png".into()),
            buttons: vec![button(
                "Order espresso",
                json!({"type": "path-c-1", "payload": {"label": "Order espresso", "actions": []}}),
            )],
        };
        let plain_card = Card {
            image_url: None,
            buttons: vec![],
            ..card.clone()
        };
        let long = "x".repeat(MAX_MESSAGE + 10);
        let methods = render(
            &[
                trace(TraceKind::Speak {
                    message: "<speak>Hello <break/>there</speak>".into(),
                }),
                trace(TraceKind::Visual(json!({"visualType": "image",
                    "image": "https://example.com/a.png"}))),
                trace(TraceKind::Visual(
                    json!({"visualType": "image", "image": ""}),
                )),
                trace(TraceKind::Carousel {
                    layout: "Carousel".into(),
                    cards: vec![card, plain_card],
                }),
                trace(TraceKind::NoReply { timeout: 10 }),
                text(&long),
                text("   "),
                trace(TraceKind::Custom {
                    name: "calendar".into(),
                    payload: json!({}),
                    paths: vec![],
                    default_path: None,
                }),
            ],
            ChatTarget {
                chat_id: -100,
                thread_id: Some(7),
            },
        );
        let bodies: Vec<Value> = methods.iter().map(BotMethod::webhook_answer).collect();
        assert_eq!(bodies.len(), 6, "{bodies:#?}");
        assert_eq!(
            bodies[0],
            json!({"method": "sendMessage", "chat_id": -100, "message_thread_id": 7,
                   "text": "Hello there"})
        );
        assert_eq!(
            bodies[1],
            json!({"method": "sendPhoto", "chat_id": -100, "message_thread_id": 7,
                   "photo": "https://example.com/a.png"})
        );
        assert_eq!(
            bodies[2],
            json!({"method": "sendPhoto", "chat_id": -100, "message_thread_id": 7,
                   "photo": "https://example.com/espresso.png",
                   "caption": "Espresso\nShort and strong.",
                   "reply_markup": {"inline_keyboard": [[
                       {"text": "Order espresso", "callback_data": "p:path-c-1"}]]}})
        );
        assert_eq!(bodies[3]["text"], "Espresso\nShort and strong.");
        assert!(bodies[3].get("reply_markup").is_none());
        assert_eq!(bodies[4]["text"].as_str().unwrap().len(), MAX_MESSAGE);
        assert_eq!(bodies[5]["text"].as_str().unwrap().len(), 10);
        let fallback = methods[2].fallback().unwrap().webhook_answer();
        assert_eq!(
            fallback["text"],
            "Espresso\nShort and strong.\nhttps://example.com/espresso.png"
        );
        assert_eq!(fallback["reply_markup"], bodies[2]["reply_markup"]);
        assert!(methods[0].fallback().is_none());
    }

    #[test]
    fn callback_answers_carry_an_optional_notice() {
        assert_eq!(
            BotMethod::answer_callback("42", None).webhook_answer(),
            json!({"method": "answerCallbackQuery", "callback_query_id": "42"})
        );
        assert_eq!(
            BotMethod::answer_callback("42", Some("Expired")).params(),
            json!({"callback_query_id": "42", "text": "Expired"})
        );
    }
}
