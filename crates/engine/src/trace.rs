//! Traces: what a turn says back, in the Voiceflow Dialog Manager API's shapes.
//!
//! A trace serializes as `{"type": …, "payload": …, "time": <ms>}` (plus `paths` and
//! `defaultPath` for custom actions), exactly as DM API clients expect them. The common types are
//! typed so that other front ends (gRPC, channels) can render them without digging in JSON;
//! anything else travels as [`TraceKind::Custom`].

use serde::de::Error as _;
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value, json};

/// One trace: what happened, and when (milliseconds since the Unix epoch).
#[derive(Debug, Clone, PartialEq)]
pub struct Trace {
    /// The trace's type and payload.
    pub kind: TraceKind,
    /// When it was emitted, from [`Effects::now_ms`](crate::Effects::now_ms) (the DM API's
    /// `time`).
    pub time: u64,
}

/// The kinds of trace the engine emits.
#[derive(Debug, Clone, PartialEq)]
pub enum TraceKind {
    /// Chat text: `payload.slate.content`, plain `message` and `delay` (ms).
    Text(TextTrace),
    /// Voice output (SSML in `message`).
    Speak {
        /// The SSML text (DM API clients get it without tags unless they ask `stripSSML: false`).
        message: String,
    },
    /// Buttons the user can press; each carries the request it sends.
    Choice {
        /// The buttons, in display order.
        buttons: Vec<Button>,
    },
    /// An image (`visualType: image`); the payload is passed through.
    Visual(Value),
    /// A card with title, description, image and buttons.
    Card(Card),
    /// Several cards.
    Carousel {
        /// `Carousel` or `List`.
        layout: String,
        /// The cards, in display order.
        cards: Vec<Card>,
    },
    /// The client should send `no-reply` after `timeout` seconds of silence.
    NoReply {
        /// Seconds.
        timeout: u32,
    },
    /// The conversation ended: `explicit` is an End step (`payload: null`); otherwise the flow ran
    /// out (no payload).
    End {
        /// `true` for an End step, `false` when the flow ran out.
        explicit: bool,
    },
    /// Which path the turn took (`jump`, `push`, `choice:1`, `reprompt`, `capture`, …).
    Path {
        /// The path's name.
        path: String,
    },
    /// A flow became the top of the stack.
    Flow {
        /// The flow's id (the DM API's `diagramID`).
        diagram_id: String,
        /// The flow's display name, if any.
        name: Option<String>,
    },
    /// A step is about to run.
    Block {
        /// The node's id.
        block_id: String,
    },
    /// Diagnostics; `extra` fields are merged into the payload (e.g. `executionSequence`).
    Debug {
        /// What produced it (`webhook`, `api`, `condition`, …), the payload's `type`.
        kind: Option<String>,
        /// What happened, for the agent's developer.
        message: String,
        /// More payload fields.
        extra: Map<String, Value>,
    },
    /// A custom action or any other trace type: name, payload and named paths.
    Custom {
        /// The trace type.
        name: String,
        /// The payload, as JSON.
        payload: Value,
        /// The path names the client may answer with (each is a request type).
        paths: Vec<String>,
        /// Index into `paths` of the path taken when the client does not pick one.
        default_path: Option<usize>,
    },
}

/// The payload of a `text` trace.
#[derive(Debug, Clone, PartialEq)]
pub struct TextTrace {
    /// Stable id of the text variant that was said.
    pub id: String,
    /// The text, as plain text (the Slate content is derived from it, one paragraph per line).
    pub message: String,
    /// Milliseconds a client waits after showing it, before the next trace.
    pub delay: u32,
}

/// A button of a `choice`, card or carousel: the label and the request a click sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Button {
    /// The label.
    pub name: String,
    /// The DM API request (`{"type": …, "payload": …}`) the client sends when it is clicked.
    pub request: Value,
}

/// A card, alone (`cardV2`) or inside a carousel.
#[derive(Debug, Clone, PartialEq)]
pub struct Card {
    /// Unique within its step.
    pub id: String,
    /// The title.
    pub title: String,
    /// The text (the DM API sends it as `description.text` plus Slate).
    pub description: String,
    /// The image, if any (`imageUrl`).
    pub image_url: Option<String>,
    /// The buttons, in display order.
    pub buttons: Vec<Button>,
}

impl Trace {
    /// The DM API `type` of this trace.
    pub fn type_name(&self) -> &str {
        match &self.kind {
            TraceKind::Text(_) => "text",
            TraceKind::Speak { .. } => "speak",
            TraceKind::Choice { .. } => "choice",
            TraceKind::Visual(_) => "visual",
            TraceKind::Card(_) => "cardV2",
            TraceKind::Carousel { .. } => "carousel",
            TraceKind::NoReply { .. } => "no-reply",
            TraceKind::End { .. } => "end",
            TraceKind::Path { .. } => "path",
            TraceKind::Flow { .. } => "flow",
            TraceKind::Block { .. } => "block",
            TraceKind::Debug { .. } => "debug",
            TraceKind::Custom { name, .. } => name,
        }
    }

    /// The DM API `payload` of this trace (`None` when the trace has no payload at all).
    pub fn payload(&self) -> Option<Value> {
        if matches!(self.kind, TraceKind::End { explicit: false }) {
            return None;
        }
        serde_json::to_value(Payload(&self.kind)).ok()
    }

    /// The plain text a person would read or hear, for text and speak traces.
    pub fn message(&self) -> Option<&str> {
        match &self.kind {
            TraceKind::Text(t) => Some(&t.message),
            TraceKind::Speak { message } => Some(message),
            _ => None,
        }
    }

    /// This trace as a JSON value (the DM API wire shape).
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

/// A trace's payload, serialized straight from the typed trace (no intermediate JSON value:
/// this runs for every trace of every turn).
struct Payload<'a>(&'a TraceKind);

/// Slate rich-text content for a plain message: one paragraph per line.
struct Slate<'a>(&'a str);

#[derive(Serialize)]
struct Paragraph<'a> {
    children: [Leaf<'a>; 1],
}

#[derive(Serialize)]
struct Leaf<'a> {
    text: &'a str,
}

impl Serialize for Slate<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.split('\n').map(|line| Paragraph {
            children: [Leaf { text: line }],
        }))
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TextSlate<'a> {
    id: &'a str,
    content: Slate<'a>,
    message_delay_milliseconds: u32,
}

#[derive(Serialize)]
struct TextPayload<'a> {
    slate: TextSlate<'a>,
    message: &'a str,
    delay: u32,
}

#[derive(Serialize)]
struct Description<'a> {
    slate: Slate<'a>,
    text: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CardPayload<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a str>,
    title: &'a str,
    image_url: &'a Option<String>,
    description: Description<'a>,
    buttons: &'a [Button],
}

impl<'a> CardPayload<'a> {
    fn new(card: &'a Card, with_id: bool) -> Self {
        CardPayload {
            id: with_id.then_some(card.id.as_str()),
            title: &card.title,
            image_url: &card.image_url,
            description: Description {
                slate: Slate(&card.description),
                text: &card.description,
            },
            buttons: &card.buttons,
        }
    }
}

impl Serialize for Payload<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            TraceKind::Text(t) => TextPayload {
                slate: TextSlate {
                    id: &t.id,
                    content: Slate(&t.message),
                    message_delay_milliseconds: t.delay,
                },
                message: &t.message,
                delay: t.delay,
            }
            .serialize(serializer),
            TraceKind::Speak { message } => {
                let mut map = serializer.serialize_map(Some(2))?;
                map.serialize_entry("message", message)?;
                map.serialize_entry("type", "message")?;
                map.end()
            }
            TraceKind::Choice { buttons } => {
                let mut map = serializer.serialize_map(Some(1))?;
                map.serialize_entry("buttons", buttons)?;
                map.end()
            }
            TraceKind::Visual(v) => v.serialize(serializer),
            TraceKind::Card(card) => CardPayload::new(card, false).serialize(serializer),
            TraceKind::Carousel { layout, cards } => {
                let mut map = serializer.serialize_map(Some(2))?;
                map.serialize_entry("layout", layout)?;
                let cards: Vec<CardPayload> =
                    cards.iter().map(|c| CardPayload::new(c, true)).collect();
                map.serialize_entry("cards", &cards)?;
                map.end()
            }
            TraceKind::NoReply { timeout } => {
                let mut map = serializer.serialize_map(Some(1))?;
                map.serialize_entry("timeout", timeout)?;
                map.end()
            }
            TraceKind::End { .. } => serializer.serialize_unit(),
            TraceKind::Path { path } => {
                let mut map = serializer.serialize_map(Some(1))?;
                map.serialize_entry("path", path)?;
                map.end()
            }
            TraceKind::Flow { diagram_id, name } => {
                let mut map = serializer.serialize_map(None)?;
                map.serialize_entry("diagramID", diagram_id)?;
                if let Some(name) = name {
                    map.serialize_entry("name", name)?;
                }
                map.end()
            }
            TraceKind::Block { block_id } => {
                let mut map = serializer.serialize_map(Some(1))?;
                map.serialize_entry("blockID", block_id)?;
                map.end()
            }
            TraceKind::Debug {
                kind,
                message,
                extra,
            } => {
                let mut map = serializer.serialize_map(None)?;
                for (key, value) in extra {
                    if key != "type" && key != "message" {
                        map.serialize_entry(key, value)?;
                    }
                }
                if let Some(kind) = kind {
                    map.serialize_entry("type", kind)?;
                }
                map.serialize_entry("message", message)?;
                map.end()
            }
            TraceKind::Custom { payload, .. } => payload.serialize(serializer),
        }
    }
}

impl Serialize for Trace {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("type", self.type_name())?;
        if !matches!(self.kind, TraceKind::End { explicit: false }) {
            map.serialize_entry("payload", &Payload(&self.kind))?;
        }
        if let TraceKind::Custom {
            paths,
            default_path,
            ..
        } = &self.kind
        {
            let paths: Vec<Value> = paths
                .iter()
                .map(|p| json!({ "label": p, "event": { "type": p } }))
                .collect();
            map.serialize_entry("paths", &paths)?;
            map.serialize_entry("defaultPath", default_path)?;
        }
        map.serialize_entry("time", &self.time)?;
        map.end()
    }
}

/// The wire shape, used to read traces back (from the store, or by clients).
#[derive(Deserialize)]
struct WireTrace {
    #[serde(rename = "type")]
    kind: String,
    /// `Some(Null)` for `"payload": null`, `None` when the key is absent.
    #[serde(default, deserialize_with = "present")]
    payload: Option<Value>,
    #[serde(default)]
    time: u64,
    #[serde(default)]
    paths: Vec<WirePath>,
    #[serde(default, rename = "defaultPath")]
    default_path: Option<usize>,
}

fn present<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(deserializer).map(Some)
}

#[derive(Deserialize)]
struct WirePath {
    #[serde(default)]
    label: Option<String>,
    #[serde(default)]
    event: Option<Value>,
}

impl<'de> Deserialize<'de> for Trace {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let wire = WireTrace::deserialize(deserializer)?;
        let payload = wire.payload.clone().unwrap_or(Value::Null);
        let text = |key: &str| payload.get(key).and_then(Value::as_str).map(str::to_owned);
        let kind = match wire.kind.as_str() {
            "text" => TraceKind::Text(TextTrace {
                id: payload["slate"]["id"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                message: text("message").unwrap_or_default(),
                delay: payload["delay"].as_u64().unwrap_or(0) as u32,
            }),
            "speak" => TraceKind::Speak {
                message: text("message").unwrap_or_default(),
            },
            "choice" => TraceKind::Choice {
                buttons: serde_json::from_value(payload["buttons"].clone())
                    .map_err(D::Error::custom)?,
            },
            "visual" => TraceKind::Visual(payload),
            "cardV2" => TraceKind::Card(card_from_json(&payload).map_err(D::Error::custom)?),
            "carousel" => TraceKind::Carousel {
                layout: text("layout").unwrap_or_else(|| "Carousel".into()),
                cards: payload["cards"]
                    .as_array()
                    .map(|cards| cards.iter().map(card_from_json).collect())
                    .transpose()
                    .map_err(D::Error::custom)?
                    .unwrap_or_default(),
            },
            "no-reply" => TraceKind::NoReply {
                timeout: payload["timeout"].as_u64().unwrap_or(0) as u32,
            },
            "end" => TraceKind::End {
                explicit: wire.payload.is_some(),
            },
            "path" => TraceKind::Path {
                path: text("path").unwrap_or_default(),
            },
            "flow" => TraceKind::Flow {
                diagram_id: text("diagramID").unwrap_or_default(),
                name: text("name"),
            },
            "block" => TraceKind::Block {
                block_id: text("blockID").unwrap_or_default(),
            },
            "debug" => {
                let mut extra = payload.as_object().cloned().unwrap_or_default();
                let kind = extra
                    .remove("type")
                    .and_then(|v| v.as_str().map(str::to_owned));
                let message = extra
                    .remove("message")
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default();
                TraceKind::Debug {
                    kind,
                    message,
                    extra,
                }
            }
            _ => TraceKind::Custom {
                name: wire.kind,
                payload,
                paths: wire
                    .paths
                    .into_iter()
                    .map(|p| {
                        p.label
                            .or_else(|| p.event.and_then(|e| e["type"].as_str().map(str::to_owned)))
                            .unwrap_or_default()
                    })
                    .collect(),
                default_path: wire.default_path,
            },
        };
        Ok(Trace {
            kind,
            time: wire.time,
        })
    }
}

fn card_from_json(value: &Value) -> Result<Card, serde_json::Error> {
    Ok(Card {
        id: value["id"].as_str().unwrap_or_default().to_owned(),
        title: value["title"].as_str().unwrap_or_default().to_owned(),
        description: value["description"]["text"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        image_url: value["imageUrl"].as_str().map(str::to_owned),
        buttons: serde_json::from_value(value["buttons"].clone()).unwrap_or_default(),
    })
}

/// Where a turn puts its traces, as they are produced.
///
/// The engine calls [`TraceSink::emit`] the moment a trace exists, so a sink that forwards into a
/// channel streams a turn to its client while the turn is still running (e.g. waiting on a
/// webhook).
pub trait TraceSink: Send {
    /// Takes one trace, in the order the turn produced it. It cannot fail: a sink whose client
    /// went away drops the trace, and the turn still runs to its commit.
    fn emit(&mut self, trace: Trace);
}

impl TraceSink for Vec<Trace> {
    fn emit(&mut self, trace: Trace) {
        self.push(trace);
    }
}

impl<F: FnMut(Trace) + Send> TraceSink for F {
    fn emit(&mut self, trace: Trace) {
        self(trace)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_trace_has_the_dm_api_shape_and_round_trips() {
        let trace = Trace {
            kind: TraceKind::Text(TextTrace {
                id: "t1".into(),
                message: "Hello there!".into(),
                delay: 1000,
            }),
            time: 1720552033000,
        };
        let json = trace.to_json();
        assert_eq!(
            json,
            json!({"type": "text", "time": 1720552033000u64, "payload": {
                "slate": {"id": "t1", "content": [{"children": [{"text": "Hello there!"}]}],
                          "messageDelayMilliseconds": 1000},
                "message": "Hello there!", "delay": 1000}})
        );
        assert_eq!(serde_json::from_value::<Trace>(json).unwrap(), trace);
    }

    #[test]
    fn end_traces_distinguish_null_from_absent_payload() {
        let explicit = Trace {
            kind: TraceKind::End { explicit: true },
            time: 1,
        };
        let natural = Trace {
            kind: TraceKind::End { explicit: false },
            time: 1,
        };
        assert_eq!(
            explicit.to_json(),
            json!({"type": "end", "payload": null, "time": 1})
        );
        assert_eq!(natural.to_json(), json!({"type": "end", "time": 1}));
        for t in [explicit, natural] {
            assert_eq!(serde_json::from_value::<Trace>(t.to_json()).unwrap(), t);
        }
    }

    #[test]
    fn custom_traces_carry_paths() {
        let trace = Trace {
            kind: TraceKind::Custom {
                name: "calendar".into(),
                payload: json!({"today": 1}),
                paths: vec!["done".into(), "cancel".into()],
                default_path: Some(0),
            },
            time: 5,
        };
        assert_eq!(
            trace.to_json(),
            json!({"type": "calendar", "payload": {"today": 1}, "defaultPath": 0, "time": 5,
                   "paths": [{"label": "done", "event": {"type": "done"}},
                             {"label": "cancel", "event": {"type": "cancel"}}]})
        );
        assert_eq!(
            serde_json::from_value::<Trace>(trace.to_json()).unwrap(),
            trace
        );
    }
}
