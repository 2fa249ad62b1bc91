//! Voice actions: what the relay should do on the call, rendered from a turn's traces.

use serde::Serialize;
use serde_json::Value;
use turnstile_engine::trace::Card;
use turnstile_engine::{Trace, TraceKind};

/// One thing for the relay to do, in order. Serialized with a `type` tag:
/// `{"type": "speak", "text": "Hello"}`, `{"type": "hangup"}`, …
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Action {
    /// Say this (from `text` and `speak` traces, and cards).
    Speak {
        /// Plain text for any text-to-speech engine (SSML tags removed).
        text: String,
        /// The agent's SSML, as written, when it used markup.
        #[serde(skip_serializing_if = "Option::is_none")]
        ssml: Option<String>,
    },
    /// Play an audio file (a custom action `play` with `{url}`).
    Play {
        /// Where the audio is.
        url: String,
    },
    /// Collect keypad digits (a custom action `collect_dtmf`); they come back as
    /// `dtmf_received` events.
    CollectDtmf {
        /// Stop after this many keys.
        max_digits: u32,
        /// Stop after this long without a key.
        timeout_ms: u64,
        /// Stop at this key (`#`, `*`, or empty for none); it is not part of the digits.
        finish_on_key: String,
    },
    /// Transfer the call (a custom action `transfer` with `{to}`).
    Transfer {
        /// The number (or SIP address) to transfer to.
        to: String,
    },
    /// Listen for the caller; after `timeout_ms` of silence send `user_input_timeout`
    /// (from `no-reply` traces).
    Listen {
        /// Silence allowed before `user_input_timeout`.
        timeout_ms: u64,
    },
    /// Hang up (from the `end` trace).
    Hangup,
}

/// A trace that asked for an action but could not become one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// The trace's type (`play`, `collect_dtmf`, `transfer`).
    pub trace: String,
    /// What is wrong with its payload.
    pub reason: String,
}

/// A turn's actions, and the traces that were meant as actions but were malformed (the turn has
/// run: the caller hears the rest, the operator reads why something is missing).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Rendered {
    /// The actions, in trace order.
    pub actions: Vec<Action>,
    /// Malformed action traces.
    pub skipped: Vec<Skipped>,
}

/// `collect_dtmf` defaults: one key, five seconds, finished by `#`.
const DEFAULT_MAX_DIGITS: u64 = 1;
const DEFAULT_DTMF_TIMEOUT_MS: u64 = 5_000;
const DEFAULT_FINISH_ON_KEY: &str = "#";
const MAX_MAX_DIGITS: u64 = 64;
/// Ten minutes: longer is a mistake in the agent, not a plan.
const MAX_TIMEOUT_MS: u64 = 600_000;

/// Renders a turn's traces as voice actions.
///
/// `text` and `speak` traces are spoken; cards speak their title and description; `no-reply`
/// listens; `end` hangs up (and nothing after it is rendered); the custom actions `play`,
/// `collect_dtmf` and `transfer` become their actions. Choices, images, paths and diagnostics
/// have nothing to say on a phone and are left out.
pub fn render(traces: &[Trace]) -> Rendered {
    let mut rendered = Rendered::default();
    for trace in traces {
        match &trace.kind {
            TraceKind::Text(text) => rendered.speak(text.message.trim(), None),
            TraceKind::Speak { message } => {
                let ssml = message.contains('<').then(|| message.clone());
                rendered.speak(&crate::strip_ssml(message), ssml);
            }
            TraceKind::Card(card) => rendered.speak(&card_text(card), None),
            TraceKind::Carousel { cards, .. } => {
                for card in cards {
                    rendered.speak(&card_text(card), None);
                }
            }
            TraceKind::NoReply { timeout } => rendered.actions.push(Action::Listen {
                timeout_ms: u64::from(*timeout) * 1000,
            }),
            TraceKind::End { .. } => {
                rendered.actions.push(Action::Hangup);
                break;
            }
            TraceKind::Custom { name, payload, .. } => {
                let action = match name.as_str() {
                    "play" => play(payload),
                    "collect_dtmf" => collect_dtmf(payload),
                    "transfer" => transfer(payload),
                    _ => continue,
                };
                match action {
                    Ok(action) => rendered.actions.push(action),
                    Err(reason) => rendered.skipped.push(Skipped {
                        trace: name.clone(),
                        reason,
                    }),
                }
            }
            TraceKind::Choice { .. }
            | TraceKind::Visual(_)
            | TraceKind::Path { .. }
            | TraceKind::Flow { .. }
            | TraceKind::Block { .. }
            | TraceKind::Debug { .. } => {}
        }
    }
    rendered
}

impl Rendered {
    fn speak(&mut self, text: &str, ssml: Option<String>) {
        if !text.is_empty() {
            self.actions.push(Action::Speak {
                text: text.to_owned(),
                ssml,
            });
        }
    }
}

fn card_text(card: &Card) -> String {
    let title = card.title.trim();
    let description = card.description.trim();
    match (title.is_empty(), description.is_empty()) {
        (_, true) => title.to_owned(),
        (true, false) => description.to_owned(),
        // A pause between title and description, unless the title already ends a sentence.
        (false, false) if title.ends_with(['.', '!', '?', ':']) => {
            format!("{title} {description}")
        }
        (false, false) => format!("{title}. {description}"),
    }
}

fn play(payload: &Value) -> Result<Action, String> {
    Ok(Action::Play {
        url: required_string(payload, "url")?,
    })
}

fn transfer(payload: &Value) -> Result<Action, String> {
    Ok(Action::Transfer {
        to: required_string(payload, "to")?,
    })
}

fn collect_dtmf(payload: &Value) -> Result<Action, String> {
    let max_digits = number(payload, "max_digits", DEFAULT_MAX_DIGITS, MAX_MAX_DIGITS)?;
    let timeout_ms = number(
        payload,
        "timeout_ms",
        DEFAULT_DTMF_TIMEOUT_MS,
        MAX_TIMEOUT_MS,
    )?;
    let finish_on_key = match payload.get("finish_on_key") {
        None | Some(Value::Null) => DEFAULT_FINISH_ON_KEY.to_owned(),
        Some(Value::String(key)) if key.is_empty() || key == "#" || key == "*" => key.clone(),
        Some(other) => {
            return Err(format!(
                "`finish_on_key` must be \"#\", \"*\" or \"\", not {other}"
            ));
        }
    };
    Ok(Action::CollectDtmf {
        max_digits: max_digits as u32,
        timeout_ms,
        finish_on_key,
    })
}

fn required_string(payload: &Value, field: &str) -> Result<String, String> {
    payload
        .get(field)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| format!("the payload needs a non-empty string `{field}`"))
}

/// A positive whole number up to `max`; templates render numbers as strings, so `"4"` counts.
fn number(payload: &Value, field: &str, default: u64, max: u64) -> Result<u64, String> {
    let value = match payload.get(field) {
        None | Some(Value::Null) => return Ok(default),
        Some(Value::Number(n)) => n.as_u64(),
        Some(Value::String(s)) => s.trim().parse().ok(),
        Some(_) => None,
    };
    value
        .filter(|n| (1..=max).contains(n))
        .ok_or_else(|| format!("`{field}` must be a whole number from 1 to {max}"))
}
