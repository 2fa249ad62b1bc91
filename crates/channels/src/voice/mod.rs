//! Telephony events in, voice actions out.
//!
//! A telephony relay (sipgate AI Flow's event set) sends one JSON event per thing that happens
//! on a call — `session_start`, `user_speak`, `dtmf_received`, … —, each with the call's
//! `session` object. [`VoiceEvent::parse`] reads one, [`VoiceEvent::handling`] says what it
//! means for the conversation of `voice:{session.id}` (a turn, an acknowledgement, or the end
//! of the call), and [`render`] turns the turn's traces into [`Action`]s for the relay.
//!
//! Callers authenticate with `Authorization: Bearer <token>` ([`verify_bearer`]).

mod actions;
mod auth;

pub use actions::{Action, Rendered, Skipped, render};
pub use auth::{AuthError, verify_bearer};

use serde_json::{Map, Value};
use turnstile_engine::request::EventRequest;
use turnstile_engine::{EventName, Request};

/// Every event type this channel understands, as relays spell them.
pub const EVENT_TYPES: [&str; 8] = [
    "session_start",
    "user_speech_started",
    "user_speak",
    "dtmf_received",
    "assistant_speak",
    "assistant_speech_ended",
    "user_input_timeout",
    "session_end",
];

/// The session fields of `session_start` that become conversation variables.
pub const SESSION_VARIABLES: [&str; 5] = [
    "direction",
    "from_phone_number",
    "to_phone_number",
    "phone_number",
    "account_id",
];

/// [`SESSION_VARIABLES`] as error messages name them.
const SESSION_FIELD_PATHS: [&str; 5] = [
    "session.direction",
    "session.from_phone_number",
    "session.to_phone_number",
    "session.phone_number",
    "session.account_id",
];

/// The event that DTMF key presses become, with data `{"digit": …}`.
pub const DTMF_EVENT: &str = "dtmf";

/// The variable that tells the agent whether the caller's last utterance interrupted it.
pub const BARGED_IN_VARIABLE: &str = "barged_in";

/// Longest `session.id`: `voice:` plus the id must fit a 128-character user id.
const MAX_SESSION_ID: usize = 128 - "voice:".len();

/// Longest `seq` (it becomes part of an idempotency key of at most 256 characters).
const MAX_SEQ: usize = 200;

/// Most keys one `dtmf_received` may carry (relays send one key per event; some collect).
const MAX_DIGITS: usize = 64;

/// Why an event was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VoiceError {
    /// The body is not JSON.
    #[error("the event is not valid JSON: {0}")]
    Json(String),
    /// The JSON has no string `type`.
    #[error("an event is a JSON object with a string `type`")]
    NotAnEvent,
    /// A `type` this channel does not know.
    #[error("unknown event type `{0}`; the voice channel understands {types}", types = EVENT_TYPES.join(", "))]
    UnknownType(String),
    /// No usable `session.id`.
    #[error(
        "`session.id` must be a string of 1 to {MAX_SESSION_ID} characters without spaces or \
         control characters"
    )]
    SessionId,
    /// A field of the wrong type or shape.
    #[error("`{field}` must be {expected}")]
    Field {
        /// The field, as a JSON path.
        field: &'static str,
        /// What it must be.
        expected: &'static str,
    },
}

/// What happened on the call.
#[derive(Debug, Clone, PartialEq)]
pub enum EventKind {
    /// The call began.
    SessionStart,
    /// The caller started to speak (before the transcript).
    UserSpeechStarted,
    /// The caller said something: the transcript, and whether it interrupted the assistant.
    UserSpeak {
        /// The transcript.
        text: String,
        /// The caller talked over the assistant.
        barged_in: bool,
    },
    /// The caller pressed a key (or keys, for relays that collect them).
    DtmfReceived {
        /// `0`–`9`, `*`, `#`, `A`–`D`.
        digit: String,
    },
    /// The assistant spoke.
    AssistantSpeak,
    /// The assistant's speech finished playing.
    AssistantSpeechEnded,
    /// The caller stayed silent until the relay's timeout.
    UserInputTimeout,
    /// The call ended.
    SessionEnd,
}

/// The call an event belongs to (its `session` object). Only `id` is required.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CallSession {
    /// The relay's id of the call.
    pub id: String,
    /// The other fields given (`direction`, phone numbers, `account_id`), as strings.
    pub fields: Map<String, Value>,
}

/// One telephony event.
#[derive(Debug, Clone, PartialEq)]
pub struct VoiceEvent {
    /// What happened.
    pub kind: EventKind,
    /// The call.
    pub session: CallSession,
    /// The relay's sequence number or event id, if it sends one: a redelivered event with the
    /// same `seq` is answered from the session's record instead of running again.
    pub seq: Option<String>,
}

/// What an event means for the conversation.
#[derive(Debug, Clone, PartialEq)]
pub enum Handling {
    /// Run a turn with this request, merging `variables` into the session first.
    Turn {
        /// The conversation request.
        request: Request,
        /// Variables merged into the session before the turn.
        variables: Map<String, Value>,
        /// The turn starts the call (`session_start`); any other turn needs a call in progress.
        opens_call: bool,
    },
    /// Nothing to run: the event is acknowledged with no actions.
    Acknowledge,
    /// The call is over: the conversation is deleted; no action is allowed.
    EndCall,
}

impl VoiceEvent {
    /// Parses one event (an HTTP body or a WebSocket text frame).
    ///
    /// ```
    /// use turnstile_channels::voice::{EventKind, VoiceEvent};
    /// let event = VoiceEvent::parse(br#"{"type": "user_speak", "text": "Hello",
    ///     "barged_in": true, "session": {"id": "550e8400"}}"#).unwrap();
    /// assert_eq!(event.user_id(), "voice:550e8400");
    /// assert_eq!(event.kind, EventKind::UserSpeak { text: "Hello".into(), barged_in: true });
    /// ```
    pub fn parse(bytes: &[u8]) -> Result<VoiceEvent, VoiceError> {
        let value: Value =
            serde_json::from_slice(bytes).map_err(|e| VoiceError::Json(e.to_string()))?;
        let object = value.as_object().ok_or(VoiceError::NotAnEvent)?;
        let kind = object
            .get("type")
            .and_then(Value::as_str)
            .ok_or(VoiceError::NotAnEvent)?;
        let kind = match kind {
            "session_start" => EventKind::SessionStart,
            "user_speech_started" => EventKind::UserSpeechStarted,
            "user_speak" => EventKind::UserSpeak {
                text: object
                    .get("text")
                    .and_then(Value::as_str)
                    .ok_or(VoiceError::Field {
                        field: "text",
                        expected: "the transcript, a string",
                    })?
                    .to_owned(),
                barged_in: match object.get("barged_in") {
                    None | Some(Value::Null) => false,
                    Some(Value::Bool(b)) => *b,
                    Some(_) => {
                        return Err(VoiceError::Field {
                            field: "barged_in",
                            expected: "a boolean",
                        });
                    }
                },
            },
            "dtmf_received" => EventKind::DtmfReceived {
                digit: parse_digit(object.get("digit").or_else(|| object.get("digits")))?,
            },
            "assistant_speak" => EventKind::AssistantSpeak,
            "assistant_speech_ended" => EventKind::AssistantSpeechEnded,
            "user_input_timeout" => EventKind::UserInputTimeout,
            "session_end" => EventKind::SessionEnd,
            other => return Err(VoiceError::UnknownType(other.to_owned())),
        };
        Ok(VoiceEvent {
            kind,
            session: parse_session(object.get("session"))?,
            seq: parse_seq(object.get("seq"))?,
        })
    }

    /// The event's `type`.
    pub fn type_name(&self) -> &'static str {
        match self.kind {
            EventKind::SessionStart => "session_start",
            EventKind::UserSpeechStarted => "user_speech_started",
            EventKind::UserSpeak { .. } => "user_speak",
            EventKind::DtmfReceived { .. } => "dtmf_received",
            EventKind::AssistantSpeak => "assistant_speak",
            EventKind::AssistantSpeechEnded => "assistant_speech_ended",
            EventKind::UserInputTimeout => "user_input_timeout",
            EventKind::SessionEnd => "session_end",
        }
    }

    /// The conversation's user id: `voice:{session.id}`.
    pub fn user_id(&self) -> String {
        format!("voice:{}", self.session.id)
    }

    /// The idempotency key of the event's turn, from its `seq`.
    pub fn idempotency_key(&self) -> Option<String> {
        self.seq.as_ref().map(|seq| format!("voice-seq-{seq}"))
    }

    /// What the event means for the conversation.
    pub fn handling(&self) -> Handling {
        let turn = |request, variables, opens_call| Handling::Turn {
            request,
            variables,
            opens_call,
        };
        match &self.kind {
            EventKind::SessionStart => {
                let mut variables = self.session.fields.clone();
                // Defined from the first turn, so agents can test it before anyone spoke.
                variables.insert(BARGED_IN_VARIABLE.into(), Value::Bool(false));
                turn(Request::Launch, variables, true)
            }
            EventKind::UserSpeak { text, barged_in } => {
                let variables =
                    Map::from_iter([(BARGED_IN_VARIABLE.to_owned(), Value::Bool(*barged_in))]);
                turn(Request::Text(text.clone()), variables, false)
            }
            EventKind::DtmfReceived { digit } => {
                let event = EventRequest {
                    name: EventName::new(DTMF_EVENT).expect("a valid event name"),
                    data: Map::from_iter([("digit".to_owned(), Value::from(digit.as_str()))]),
                };
                turn(Request::Event(event), Map::new(), false)
            }
            EventKind::UserInputTimeout => turn(Request::NoReply, Map::new(), false),
            EventKind::UserSpeechStarted
            | EventKind::AssistantSpeak
            | EventKind::AssistantSpeechEnded => Handling::Acknowledge,
            EventKind::SessionEnd => Handling::EndCall,
        }
    }
}

fn parse_session(session: Option<&Value>) -> Result<CallSession, VoiceError> {
    let session = session
        .and_then(Value::as_object)
        .ok_or(VoiceError::SessionId)?;
    let id = session
        .get("id")
        .and_then(Value::as_str)
        .filter(|id| {
            !id.is_empty()
                && id.len() <= MAX_SESSION_ID
                && !id.chars().any(|c| c.is_whitespace() || c.is_control())
        })
        .ok_or(VoiceError::SessionId)?;
    let mut fields = Map::new();
    for (name, path) in SESSION_VARIABLES.into_iter().zip(SESSION_FIELD_PATHS) {
        let value = match session.get(name) {
            None | Some(Value::Null) => continue,
            Some(Value::String(s)) => s.clone(),
            // Some relays send phone numbers as numbers; the agent sees them as written.
            Some(Value::Number(n)) => n.to_string(),
            Some(_) => {
                return Err(VoiceError::Field {
                    field: path,
                    expected: "a string",
                });
            }
        };
        fields.insert(name.to_owned(), Value::String(value));
    }
    Ok(CallSession {
        id: id.to_owned(),
        fields,
    })
}

fn parse_digit(digit: Option<&Value>) -> Result<String, VoiceError> {
    let invalid = VoiceError::Field {
        field: "digit",
        expected: "the key pressed: 1 to 64 of 0-9, *, #, A-D",
    };
    let digit = match digit {
        Some(Value::String(s)) => s.trim().to_owned(),
        Some(Value::Number(n)) if n.is_u64() => n.to_string(),
        _ => return Err(invalid),
    };
    let valid = !digit.is_empty()
        && digit.len() <= MAX_DIGITS
        && digit
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '*' | '#' | 'A'..='D' | 'a'..='d'));
    if valid {
        Ok(digit.to_ascii_uppercase())
    } else {
        Err(invalid)
    }
}

fn parse_seq(seq: Option<&Value>) -> Result<Option<String>, VoiceError> {
    let invalid = VoiceError::Field {
        field: "seq",
        expected: "a non-negative integer or a string of 1 to 200 characters",
    };
    match seq {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) if n.is_u64() => Ok(Some(n.to_string())),
        Some(Value::String(s))
            if !s.is_empty() && s.len() <= MAX_SEQ && !s.chars().any(char::is_control) =>
        {
            Ok(Some(s.clone()))
        }
        Some(_) => Err(invalid),
    }
}

#[cfg(test)]
mod tests;
