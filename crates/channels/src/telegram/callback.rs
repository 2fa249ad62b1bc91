//! `callback_data`: the request of a button, in at most 64 bytes.
//!
//! Telegram gives a callback button 1–64 bytes of data and sends them back when it is pressed,
//! together with the message that carried the keyboard. The label of the pressed button is
//! therefore recoverable from that keyboard and is not repeated in the data. The encoding is
//! `tag` or `tag:body`:
//!
//! | data | request |
//! |---|---|
//! | `l`, `n`, `a` | `launch`, `no-reply`, `action` |
//! | `t:TEXT` | text |
//! | `i:NAME` | intent `NAME`, query = the button's label |
//! | `p:TYPE` | a path such as `path-menu-1`, label = the button's label |
//! | `e:NAME` or `e:NAME:{json}` | event, with its data |
//! | `j:{json}` | any other request, in the DM API's shape |
//! | `x:N:PREFIX` | fallback for a request that does not fit: the label of button `N` of the keyboard, as text (`PREFIX`, the start of the label, when the keyboard is gone) |

use serde_json::{Map, Value, json};
use turnstile_engine::{Request, RequestError};

use super::text::truncate_bytes;
use super::update::InlineKeyboardMarkup;

/// The most bytes of `callback_data` Telegram accepts.
pub const MAX_CALLBACK_DATA: usize = 64;

/// Why a button press cannot become a request.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CallbackError {
    /// A press without `data` (a game button, or a keyboard not made by turnstile).
    #[error("the button carries no callback data")]
    Missing,
    /// Data turnstile did not write.
    #[error("unrecognised callback data {0:?}")]
    Unknown(String),
    /// Data in turnstile's format whose request is invalid.
    #[error("invalid request in callback data: {0}")]
    Request(#[from] RequestError),
}

/// The `callback_data` of a button labelled `label`, number `index` (counted row by row) in its
/// keyboard, that sends `request` (DM API shape). Always 1–64 bytes.
pub fn encode_callback(index: usize, label: &str, request: &Value) -> String {
    let fits = |data: String| (data.len() <= MAX_CALLBACK_DATA).then_some(data);
    let compact = match Request::from_json(request) {
        Ok(Request::Launch) => Some("l".to_owned()),
        Ok(Request::NoReply) => Some("n".to_owned()),
        Ok(Request::Action) => Some("a".to_owned()),
        Ok(Request::Text(text)) => fits(format!("t:{text}")),
        // The label comes back from the keyboard, so only requests whose label part is the
        // button's own label are compact.
        Ok(Request::Intent(intent))
            if intent.entities.is_empty()
                && intent.confidence.is_none()
                && intent.query == label =>
        {
            fits(format!("i:{}", intent.name))
        }
        Ok(Request::General(general)) if general.label.as_deref() == Some(label) => {
            fits(format!("p:{}", general.kind))
        }
        Ok(Request::Event(event)) if event.data.is_empty() => fits(format!("e:{}", event.name)),
        Ok(Request::Event(event)) => {
            fits(format!("e:{}:{}", event.name, Value::Object(event.data)))
        }
        _ => None,
    };
    compact
        .or_else(|| fits(format!("j:{request}")))
        .unwrap_or_else(|| {
            let head = format!("x:{index}:");
            let prefix = truncate_bytes(label, MAX_CALLBACK_DATA.saturating_sub(head.len()));
            head + prefix
        })
}

/// The request of a pressed button: its `data`, and the keyboard of the message it was on
/// (`None` when Telegram no longer has the message).
pub fn decode_callback(
    data: &str,
    keyboard: Option<&InlineKeyboardMarkup>,
) -> Result<Request, CallbackError> {
    let unknown = || CallbackError::Unknown(truncate_bytes(data, MAX_CALLBACK_DATA).to_owned());
    let pressed_label = || {
        keyboard
            .and_then(|k| {
                k.buttons()
                    .find(|b| b.callback_data.as_deref() == Some(data))
            })
            .map(|b| b.text.clone())
    };
    let (tag, body) = data.split_once(':').unwrap_or((data, ""));
    let request = match (tag, body) {
        ("l", "") => json!({ "type": "launch" }),
        ("n", "") => json!({ "type": "no-reply" }),
        ("a", "") => json!({ "type": "action" }),
        ("t", text) => json!({ "type": "text", "payload": text }),
        ("i", name) => json!({
            "type": "intent",
            "payload": { "intent": { "name": name }, "query": pressed_label().unwrap_or_default() }
        }),
        ("p", kind) if !kind.is_empty() && !is_builtin(kind) => match pressed_label() {
            Some(label) => json!({ "type": kind, "payload": { "label": label } }),
            None => json!({ "type": kind }),
        },
        ("e", rest) => {
            let (name, data) = match rest.split_once(':') {
                Some((name, data)) => (
                    name,
                    serde_json::from_str::<Map<String, Value>>(data).map_err(|_| unknown())?,
                ),
                None => (rest, Map::new()),
            };
            json!({ "type": "event", "payload": { "event": { "name": name, "data": data } } })
        }
        ("j", request) => serde_json::from_str(request).map_err(|_| unknown())?,
        ("x", rest) => {
            let (index, prefix) = rest.split_once(':').ok_or_else(unknown)?;
            let index: usize = index.parse().map_err(|_| unknown())?;
            let label = keyboard
                .and_then(|k| k.buttons().nth(index))
                .filter(|b| b.callback_data.as_deref() == Some(data))
                .map(|b| b.text.as_str())
                .unwrap_or(prefix);
            if label.is_empty() {
                return Err(unknown());
            }
            json!({ "type": "text", "payload": label })
        }
        _ => return Err(unknown()),
    };
    Ok(Request::from_json(&request)?)
}

/// Request types with their own tag (a `p:` body naming one would parse as something else).
fn is_builtin(kind: &str) -> bool {
    matches!(
        kind,
        "launch" | "text" | "intent" | "event" | "no-reply" | "action"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telegram::update::InlineKeyboardButton;

    fn keyboard(buttons: &[(&str, &str)]) -> InlineKeyboardMarkup {
        InlineKeyboardMarkup {
            inline_keyboard: vec![
                buttons
                    .iter()
                    .map(|(text, data)| InlineKeyboardButton {
                        text: (*text).to_owned(),
                        callback_data: Some((*data).to_owned()),
                    })
                    .collect(),
            ],
        }
    }

    #[test]
    fn every_kind_of_button_request_round_trips() {
        let long_name = "n".repeat(70);
        let cases: Vec<(&str, Value, &str)> = vec![
            (
                "Order a pizza",
                json!({"type": "intent", "payload": {"label": "Order a pizza",
                    "query": "Order a pizza", "entities": [], "intent": {"name": "order_pizza"}}}),
                "i:order_pizza",
            ),
            (
                "Opening hours",
                json!({"type": "path-menu-2", "payload": {"label": "Opening hours"}}),
                "p:path-menu-2",
            ),
            (
                "Espresso",
                json!({"type": "path-card-1", "payload": {"label": "Espresso", "actions": []}}),
                "p:path-card-1",
            ),
            (
                "Large",
                json!({"type": "text", "payload": "Large"}),
                "t:Large",
            ),
            (
                "Status",
                json!({"type": "event", "payload": {"event": {"name": "order_status",
                    "data": {"order_id": "A17"}}}}),
                r#"e:order_status:{"order_id":"A17"}"#,
            ),
            (
                "Checkout",
                json!({"type": "event", "payload": {"event": {"name": "checkout"}}}),
                "e:checkout",
            ),
            ("Restart", json!({"type": "launch"}), "l"),
            ("Later", json!({"type": "no-reply"}), "n"),
            (
                "Big",
                json!({"type": "intent", "payload": {"intent": {"name": "order"}, "query": "big",
                    "entities": [{"name": "size", "value": "large"}]}}),
                "x:8:Big",
            ),
            (
                "Unlabelled path",
                json!({"type": "done"}),
                r#"j:{"type":"done"}"#,
            ),
            (
                "Pay",
                json!({"type": "success", "payload": {"label": "Paid"}}),
                "j:",
            ),
            (
                "Too long",
                json!({"type": "intent", "payload": {"intent": {"name": long_name},
                    "query": "Too long"}}),
                "x:11:Too long",
            ),
        ];
        let buttons: Vec<(&str, String)> = cases
            .iter()
            .enumerate()
            .map(|(index, (label, request, _))| (*label, encode_callback(index, label, request)))
            .collect();
        let pairs: Vec<(&str, &str)> = buttons.iter().map(|(l, d)| (*l, d.as_str())).collect();
        let keyboard = keyboard(&pairs);
        for ((label, request, expected), (_, data)) in cases.iter().zip(&buttons) {
            if expected.starts_with("j:") {
                // JSON as the request was written (key order is serde_json's business).
                assert_eq!(
                    serde_json::from_str::<Value>(&data[2..]).unwrap(),
                    *request,
                    "{label}"
                );
            } else {
                assert_eq!(data, expected, "{label}");
            }
            assert!((1..=MAX_CALLBACK_DATA).contains(&data.len()));
            let decoded = decode_callback(data, Some(&keyboard)).unwrap();
            if data.starts_with("x:") && *label == "Big" {
                // The entities did not fit: only the label survives.
                assert_eq!(decoded, Request::Text("Big".to_owned()));
            } else if data.starts_with("x:") {
                assert_eq!(decoded, Request::Text((*label).to_owned()));
            } else {
                assert_eq!(decoded, Request::from_json(request).unwrap(), "{label}");
            }
        }
    }

    #[test]
    fn long_text_falls_back_to_the_label_even_without_the_keyboard() {
        let label = "Deliver it to the back door, second floor, ring twice — thank you 🍕";
        let request = json!({"type": "text", "payload": label});
        let data = encode_callback(3, label, &request);
        assert!(data.len() <= MAX_CALLBACK_DATA, "{data}");
        assert!(
            data.starts_with("x:3:Deliver it to the back door"),
            "{data}"
        );
        let with_keyboard = keyboard(&[("a", "t:a"), ("b", "t:b"), ("c", "t:c"), (label, &data)]);
        assert_eq!(
            decode_callback(&data, Some(&with_keyboard)).unwrap(),
            Request::Text(label.to_owned())
        );
        let Request::Text(prefix) = decode_callback(&data, None).unwrap() else {
            panic!("not text")
        };
        assert!(label.starts_with(&prefix) && prefix.len() > 40, "{prefix}");
    }

    #[test]
    fn labels_come_from_the_keyboard_when_it_is_there() {
        let Request::Intent(intent) = decode_callback("i:hours", None).unwrap() else {
            panic!("not an intent")
        };
        assert_eq!((intent.name.as_str(), intent.query.as_str()), ("hours", ""));
        let Request::General(path) = decode_callback("p:path-x-1", None).unwrap() else {
            panic!("not a path")
        };
        assert_eq!(path.label, None);
    }

    #[test]
    fn foreign_or_broken_data_is_refused() {
        for data in [
            "",
            "zz",
            "l:extra",
            "p:",
            "p:text",
            "x:",
            "x:a:b",
            "x:0:",
            "e:bad name",
            "e:ok:[1]",
            "j:{",
            r#"j:{"type":3}"#,
            "i:",
        ] {
            assert!(decode_callback(data, None).is_err(), "{data:?}");
        }
    }
}
