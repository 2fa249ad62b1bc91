//! Requests: what a client asks of one turn, parsed from the DM API's `{type, payload}` shape.

use serde::de::Error as _;
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use crate::event::{EventName, InvalidEventName};
use crate::nlu::ExtractedEntity;

/// One conversation request.
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    /// Reset the conversation and start the agent.
    Launch,
    /// Free text from the user; goes through NLU.
    Text(String),
    /// A pre-classified intent (NLU is skipped).
    Intent(IntentRequest),
    /// A named event with data (Dialogflow-style).
    Event(EventRequest),
    /// The user stayed silent past the `no-reply` timeout.
    NoReply,
    /// A side-effect-only action (e.g. an `open_url` button): nothing runs.
    Action,
    /// Anything else: button paths (`path-…`) and custom action paths (`done`, `success`, …).
    General(GeneralRequest),
}

/// An intent with its entities, as NLU or the client produced it.
#[derive(Debug, Clone, PartialEq)]
pub struct IntentRequest {
    /// The intent's name.
    pub name: String,
    /// The words behind it (`payload.query`, or the user's text when NLU classified it);
    /// becomes `last_utterance`.
    pub query: String,
    /// The entities found, mapped into variables by the matching trigger.
    pub entities: Vec<ExtractedEntity>,
    /// 0–1; `None` means the client did not say (treated as 1).
    pub confidence: Option<f32>,
}

/// A named event and its data.
#[derive(Debug, Clone, PartialEq)]
pub struct EventRequest {
    /// The event's name.
    pub name: EventName,
    /// The event's data, readable as `{event.<key>}` and mappable into variables.
    pub data: Map<String, Value>,
}

/// A request matched by its `type` alone, such as a button click.
#[derive(Debug, Clone, PartialEq)]
pub struct GeneralRequest {
    /// The request's `type` (`path-…`, a custom action path, …).
    pub kind: String,
    /// The clicked button's label (`payload.label`), which becomes `last_utterance`.
    pub label: Option<String>,
}

/// Why a request could not be understood.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RequestError {
    /// Not a JSON object, or no string `type`.
    #[error("the request must be a JSON object with a string `type`")]
    NotAnObject,
    /// An empty or overlong `type`.
    #[error("the request `type` must be a non-empty string of at most 128 characters")]
    BadType,
    /// A `text` request without text.
    #[error("a `text` request needs a string `payload`")]
    TextPayload,
    /// An `intent` request without an intent name.
    #[error("an `intent` request needs `payload.intent.name`")]
    IntentPayload,
    /// An `event` request without a name, or with data that is not an object.
    #[error(
        "an `event` request needs `payload.event.name` and an optional object `payload.event.data`"
    )]
    EventPayload,
    /// An `event` request whose name is not a valid [`EventName`].
    #[error(transparent)]
    EventName(#[from] InvalidEventName),
}

const MAX_TYPE_LEN: usize = 128;

impl Request {
    /// Parses the DM API request shape, e.g. `{"type": "text", "payload": "hi"}`.
    ///
    /// ```
    /// use turnstile_engine::Request;
    /// let request = Request::from_json(&serde_json::json!({
    ///     "type": "event",
    ///     "payload": {"event": {"name": "order_status", "data": {"order_id": "A17"}}}
    /// })).unwrap();
    /// assert!(matches!(request, Request::Event(e) if e.name.as_str() == "order_status"));
    /// ```
    pub fn from_json(value: &Value) -> Result<Request, RequestError> {
        let object = value.as_object().ok_or(RequestError::NotAnObject)?;
        let kind = object
            .get("type")
            .and_then(Value::as_str)
            .ok_or(RequestError::NotAnObject)?;
        if kind.is_empty() || kind.len() > MAX_TYPE_LEN {
            return Err(RequestError::BadType);
        }
        let payload = object.get("payload").unwrap_or(&Value::Null);
        Ok(match kind {
            "launch" => Request::Launch,
            "no-reply" => Request::NoReply,
            "action" => Request::Action,
            "text" => Request::Text(payload.as_str().ok_or(RequestError::TextPayload)?.into()),
            "intent" => Request::Intent(parse_intent(payload)?),
            "event" => Request::Event(parse_event(payload)?),
            _ => Request::General(GeneralRequest {
                kind: kind.to_owned(),
                label: payload
                    .get("label")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
            }),
        })
    }

    /// The DM API shape of this request (used for `last_event` and webhook payloads); the
    /// same JSON the request serializes to.
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// What the user said or clicked, for `last_utterance`.
    pub fn utterance(&self) -> Option<&str> {
        match self {
            Request::Text(text) => Some(text),
            Request::Intent(intent) => Some(&intent.query),
            Request::General(general) => general.label.as_deref(),
            _ => None,
        }
    }
}

fn parse_intent(payload: &Value) -> Result<IntentRequest, RequestError> {
    let name = payload
        .pointer("/intent/name")
        .and_then(Value::as_str)
        .filter(|name| !name.is_empty())
        .ok_or(RequestError::IntentPayload)?;
    let entities = match payload.get("entities") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| {
                let text = |key: &str| item.get(key).map(value_to_string);
                Some(ExtractedEntity {
                    name: item.get("name")?.as_str()?.to_owned(),
                    value: text("value").unwrap_or_default(),
                    query: text("query").or_else(|| text("value")).unwrap_or_default(),
                })
            })
            .collect::<Option<Vec<_>>>()
            .ok_or(RequestError::IntentPayload)?,
        Some(_) => return Err(RequestError::IntentPayload),
    };
    Ok(IntentRequest {
        name: name.to_owned(),
        query: payload
            .get("query")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        entities,
        confidence: payload
            .get("confidence")
            .and_then(Value::as_f64)
            .map(|c| c.clamp(0.0, 1.0) as f32),
    })
}

fn parse_event(payload: &Value) -> Result<EventRequest, RequestError> {
    let event = payload.get("event").ok_or(RequestError::EventPayload)?;
    let name = event
        .get("name")
        .and_then(Value::as_str)
        .ok_or(RequestError::EventPayload)?;
    let data = match event.get("data") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(data)) => data.clone(),
        Some(_) => return Err(RequestError::EventPayload),
    };
    Ok(EventRequest {
        name: EventName::new(name)?,
        data,
    })
}

/// Variable-friendly text for a JSON value: strings without quotes, numbers as written.
pub(crate) fn value_to_string(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Serializes as the DM API's request JSON, straight from the request: what travels between
/// nodes and into webhook payloads, with no intermediate JSON value.
impl Serialize for Request {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Named<'a> {
            name: &'a str,
        }
        #[derive(Serialize)]
        struct IntentPayload<'a> {
            intent: Named<'a>,
            query: &'a str,
            entities: &'a [ExtractedEntity],
            confidence: Option<f32>,
        }
        #[derive(Serialize)]
        struct EventBody<'a> {
            name: &'a str,
            data: &'a Map<String, Value>,
        }
        #[derive(Serialize)]
        struct EventPayload<'a> {
            event: EventBody<'a>,
        }
        #[derive(Serialize)]
        struct Labelled<'a> {
            label: &'a str,
        }

        let mut map = serializer.serialize_map(None)?;
        match self {
            Request::Launch => map.serialize_entry("type", "launch")?,
            Request::NoReply => map.serialize_entry("type", "no-reply")?,
            Request::Action => map.serialize_entry("type", "action")?,
            Request::Text(text) => {
                map.serialize_entry("type", "text")?;
                map.serialize_entry("payload", text)?;
            }
            Request::Intent(intent) => {
                map.serialize_entry("type", "intent")?;
                map.serialize_entry(
                    "payload",
                    &IntentPayload {
                        intent: Named { name: &intent.name },
                        query: &intent.query,
                        entities: &intent.entities,
                        confidence: intent.confidence,
                    },
                )?;
            }
            Request::Event(event) => {
                map.serialize_entry("type", "event")?;
                map.serialize_entry(
                    "payload",
                    &EventPayload {
                        event: EventBody {
                            name: event.name.as_str(),
                            data: &event.data,
                        },
                    },
                )?;
            }
            Request::General(general) => {
                map.serialize_entry("type", &general.kind)?;
                if let Some(label) = &general.label {
                    map.serialize_entry("payload", &Labelled { label })?;
                }
            }
        }
        map.end()
    }
}

/// Deserializes the DM API's request JSON, checked as [`Request::from_json`] checks it.
impl<'de> Deserialize<'de> for Request {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        Request::from_json(&value).map_err(D::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_every_request_type() {
        let cases = [
            (json!({"type": "launch"}), Request::Launch),
            (json!({"type": "launch", "payload": null}), Request::Launch),
            (json!({"type": "no-reply"}), Request::NoReply),
            (json!({"type": "action", "payload": {}}), Request::Action),
            (
                json!({"type": "text", "payload": "hi"}),
                Request::Text("hi".into()),
            ),
            (
                json!({"type": "path-abc", "payload": {"label": "Large"}}),
                Request::General(GeneralRequest {
                    kind: "path-abc".into(),
                    label: Some("Large".into()),
                }),
            ),
        ];
        for (json, expected) in cases {
            assert_eq!(Request::from_json(&json).unwrap(), expected, "{json}");
        }
        let intent = Request::from_json(&json!({"type": "intent", "payload": {
            "intent": {"name": "order_pizza"}, "query": "a big one", "confidence": 0.5,
            "entities": [{"name": "size", "value": "large", "query": "big"}]}}))
        .unwrap();
        let Request::Intent(intent) = intent else {
            panic!("not an intent")
        };
        assert_eq!(intent.entities[0].value, "large");
        assert_eq!(intent.confidence, Some(0.5));
    }

    #[test]
    fn rejects_malformed_requests_with_a_reason() {
        let cases = [
            (json!("launch"), RequestError::NotAnObject),
            (json!({"type": 3}), RequestError::NotAnObject),
            (json!({"type": ""}), RequestError::BadType),
            (
                json!({"type": "text", "payload": 3}),
                RequestError::TextPayload,
            ),
            (
                json!({"type": "intent", "payload": {}}),
                RequestError::IntentPayload,
            ),
            (
                json!({"type": "event", "payload": {}}),
                RequestError::EventPayload,
            ),
            (
                json!({"type": "event", "payload": {"event": {"name": "x", "data": 3}}}),
                RequestError::EventPayload,
            ),
        ];
        for (json, expected) in cases {
            assert_eq!(Request::from_json(&json).unwrap_err(), expected, "{json}");
        }
        let err = Request::from_json(
            &json!({"type": "event", "payload": {"event": {"name": "bad name!"}}}),
        )
        .unwrap_err();
        assert!(matches!(err, RequestError::EventName(_)));
    }

    #[test]
    fn serializes_to_the_json_it_parses_from() {
        for json in [
            json!({"type": "launch"}),
            json!({"type": "no-reply"}),
            json!({"type": "action"}),
            json!({"type": "text", "payload": "hi"}),
            json!({"type": "path-abc", "payload": {"label": "Large"}}),
            json!({"type": "done"}),
            json!({"type": "intent", "payload": {
                "intent": {"name": "order_pizza"}, "query": "a big one", "confidence": 0.5,
                "entities": [{"name": "size", "value": "large", "query": "big"}]}}),
            json!({"type": "event", "payload": {"event": {
                "name": "order", "data": {"id": 12345678901234567_u64, "x": 1.5}}}}),
        ] {
            let request = Request::from_json(&json).unwrap();
            let bytes = serde_json::to_vec(&request).unwrap();
            let back: Request = serde_json::from_slice(&bytes).unwrap();
            assert_eq!(back, request, "{json}");
            assert_eq!(
                serde_json::from_slice::<Value>(&bytes).unwrap(),
                request.to_json()
            );
        }
        let refused = serde_json::from_str::<Request>(r#"{"type": ""}"#).unwrap_err();
        assert!(refused.to_string().contains("non-empty"), "{refused}");
    }
}
