//! The web chat page: one self-contained HTML file (inline CSS and JavaScript; no build step, no
//! CDN, no external fonts) that a browser loads from `GET /chat/{project}`.
//!
//! The page keeps a user id in `localStorage`, launches the conversation on load and sends every
//! request to the project's keyless stream route (`POST /chat/{project}/user/{userID}/stream`),
//! drawing each trace as its Server-Sent Event arrives. Optionally a page button sends a custom
//! event — the "Checkout button → event" pattern — configured by query parameters:
//!
//! ```text
//! /chat/default?event=order_status&label=Track%20my%20order&data=%7B%22order_id%22%3A%22A17%22%7D
//! ```
//!
//! This module parses those parameters ([`PageOptions`]) and renders the page with its
//! Content-Security-Policy ([`render`]); the route lives in `turnstile-edge`.

use std::sync::OnceLock;

use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use turnstile_engine::{EventName, InvalidEventName};

const TEMPLATE: &str = include_str!("page.html");
const STYLE: &str = include_str!("page.css");
const SCRIPT: &str = include_str!("page.js");

/// The longest event button label, in characters.
pub const MAX_LABEL_CHARS: usize = 80;
/// The largest event data, in bytes of JSON.
pub const MAX_DATA_BYTES: usize = 4096;

/// Query parameters of the page that cannot make a page.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PageError {
    /// The query string is not `application/x-www-form-urlencoded`.
    #[error("invalid query string: {0}")]
    Query(String),
    /// A parameter appears more than once.
    #[error("the query parameter `{0}` is given more than once")]
    Repeated(String),
    /// `label` or `data` without `event`.
    #[error("`label` and `data` describe the event button: they need `event` (the event's name)")]
    NoEvent,
    /// `event` is not a valid event name.
    #[error("`event`: {0}")]
    EventName(#[from] InvalidEventName),
    /// The label is empty or too long.
    #[error("`label` is 1 to {MAX_LABEL_CHARS} characters")]
    Label,
    /// `data` is not a JSON object.
    #[error("`data` must be a JSON object, e.g. {{\"order_id\":\"A17\"}}: {0}")]
    Data(String),
    /// `data` is too large.
    #[error("`data` is at most {MAX_DATA_BYTES} bytes")]
    DataTooLarge,
}

/// A page button that sends an event.
#[derive(Debug, Clone, PartialEq)]
pub struct EventButton {
    /// The event's name.
    pub name: String,
    /// What the button says (default: the event's name).
    pub label: String,
    /// The event's data.
    pub data: Map<String, Value>,
}

impl EventButton {
    /// The request a click sends (the DM API's event request).
    pub fn request(&self) -> Value {
        json!({ "type": "event", "payload": { "event": { "name": self.name, "data": self.data } } })
    }
}

/// What a page's query string asks for.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PageOptions {
    /// The event button, when `event` is given.
    pub event_button: Option<EventButton>,
}

impl PageOptions {
    /// Reads `event` (an event name), `label` (the button's text) and `data` (a JSON object) from
    /// a query string. Other parameters are ignored, so that links may carry their own (e.g.
    /// campaign tags).
    pub fn from_query(query: &str) -> Result<PageOptions, PageError> {
        let pairs: Vec<(String, String)> =
            serde_urlencoded::from_str(query).map_err(|e| PageError::Query(e.to_string()))?;
        let one = |name: &str| -> Result<Option<&str>, PageError> {
            let mut found = pairs.iter().filter(|(k, _)| k == name).map(|(_, v)| v);
            match (found.next(), found.next()) {
                (_, Some(_)) => Err(PageError::Repeated(name.to_owned())),
                (value, None) => Ok(value.map(String::as_str)),
            }
        };
        let (event, label, data) = (one("event")?, one("label")?, one("data")?);
        let Some(event) = event else {
            if label.is_some() || data.is_some() {
                return Err(PageError::NoEvent);
            }
            return Ok(PageOptions::default());
        };
        let name = EventName::new(event)?.as_str().to_owned();
        let label = match label.map(str::trim) {
            None => name.clone(),
            Some(l) if l.is_empty() || l.chars().count() > MAX_LABEL_CHARS => {
                return Err(PageError::Label);
            }
            Some(l) => l.to_owned(),
        };
        let data = match data {
            None => Map::new(),
            Some(d) if d.len() > MAX_DATA_BYTES => return Err(PageError::DataTooLarge),
            Some(d) => match serde_json::from_str::<Value>(d) {
                Ok(Value::Object(map)) => map,
                Ok(other) => return Err(PageError::Data(format!("got {other}"))),
                Err(e) => return Err(PageError::Data(e.to_string())),
            },
        };
        Ok(PageOptions {
            event_button: Some(EventButton { name, label, data }),
        })
    }
}

/// A rendered page and the Content-Security-Policy to send with it.
#[derive(Debug, Clone)]
pub struct ChatPage {
    /// The HTML document.
    pub html: String,
    /// The `Content-Security-Policy` header value: the page's own inline script and style (by
    /// hash), requests to its own origin, images from anywhere (agents show images by URL).
    pub content_security_policy: &'static str,
}

/// Renders the page of `project`, titled `title` (e.g. the agent's name).
pub fn render(project: &str, title: &str, options: &PageOptions) -> ChatPage {
    let config = json!({
        "project": project,
        "event": options.event_button.as_ref().map(|b| json!({
            "name": b.name,
            "label": b.label,
            "data": b.data,
        })),
    });
    let title = escape_html(title);
    let config = script_safe_json(&config);
    let html = fill(TEMPLATE, |name| match name {
        "title" => Some(&title),
        "style" => Some(STYLE),
        "script" => Some(SCRIPT),
        "config" => Some(&config),
        _ => None,
    });
    ChatPage {
        html,
        content_security_policy: content_security_policy(),
    }
}

fn content_security_policy() -> &'static str {
    static POLICY: OnceLock<String> = OnceLock::new();
    POLICY.get_or_init(|| {
        // The config block is `application/json`, which the browser never runs: only the script
        // itself needs a hash.
        format!(
            "default-src 'none'; script-src 'sha256-{}'; style-src 'sha256-{}'; \
             img-src http: https: data: blob:; connect-src 'self'; base-uri 'none'; \
             form-action 'none'",
            base64(&Sha256::digest(SCRIPT.as_bytes())),
            base64(&Sha256::digest(STYLE.as_bytes())),
        )
    })
}

/// Replaces each `{{name}}` of the template once, in one pass, so that inserted text is never
/// searched for placeholders itself.
fn fill<'a>(template: &str, value: impl Fn(&str) -> Option<&'a str>) -> String {
    let mut out = String::with_capacity(template.len() + STYLE.len() + SCRIPT.len() + 256);
    let mut rest = template;
    while let Some(open) = rest.find("{{") {
        let Some(close) = rest[open..].find("}}") else {
            break;
        };
        out.push_str(&rest[..open]);
        let name = &rest[open + 2..open + close];
        match value(name) {
            Some(v) => out.push_str(v),
            None => out.push_str(&rest[open..open + close + 2]),
        }
        rest = &rest[open + close + 2..];
    }
    out.push_str(rest);
    out
}

fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// JSON that cannot end the `<script>` element it sits in (`</script>`, `<!--`): `<`, `>` and
/// `&` become `\u` escapes, which JSON.parse reads back as the same characters.
fn script_safe_json(value: &Value) -> String {
    value
        .to_string()
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}

/// Standard base64 with padding (CSP hash sources).
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests;
