//! Conversions between the gRPC messages and the engine's requests and traces, and from API
//! errors to gRPC status codes.

use prost_types::value::Kind;
use serde_json::{Map, Value, json};
use tonic::{Code, Status};
use turnstile_engine::{Trace, TraceKind};
use turnstile_proto::v1 as pb;

use crate::dm::{DmConfig, TraceFilter};
use crate::error::ApiError;

/// A `google.protobuf.Struct` as a JSON object.
pub fn struct_to_json(s: Option<&prost_types::Struct>) -> Map<String, Value> {
    s.map(|s| {
        s.fields
            .iter()
            .map(|(k, v)| (k.clone(), value_to_json(v)))
            .collect()
    })
    .unwrap_or_default()
}

/// A `google.protobuf.Value` as JSON (whole numbers come back as integers).
pub fn value_to_json(v: &prost_types::Value) -> Value {
    match &v.kind {
        None | Some(Kind::NullValue(_)) => Value::Null,
        Some(Kind::BoolValue(b)) => Value::Bool(*b),
        Some(Kind::NumberValue(n)) if n.fract() == 0.0 && n.abs() < 9.0e15 => json!(*n as i64),
        Some(Kind::NumberValue(n)) => json!(n),
        Some(Kind::StringValue(s)) => Value::String(s.clone()),
        Some(Kind::ListValue(list)) => {
            Value::Array(list.values.iter().map(value_to_json).collect())
        }
        Some(Kind::StructValue(s)) => Value::Object(struct_to_json(Some(s))),
    }
}

/// JSON as a `google.protobuf.Value`.
pub fn json_to_value(v: &Value) -> prost_types::Value {
    let kind = match v {
        Value::Null => Kind::NullValue(0),
        Value::Bool(b) => Kind::BoolValue(*b),
        Value::Number(n) => Kind::NumberValue(n.as_f64().unwrap_or(0.0)),
        Value::String(s) => Kind::StringValue(s.clone()),
        Value::Array(items) => Kind::ListValue(prost_types::ListValue {
            values: items.iter().map(json_to_value).collect(),
        }),
        Value::Object(map) => Kind::StructValue(json_to_struct(map)),
    };
    prost_types::Value { kind: Some(kind) }
}

pub fn json_to_struct(map: &Map<String, Value>) -> prost_types::Struct {
    prost_types::Struct {
        fields: map
            .iter()
            .map(|(k, v)| (k.clone(), json_to_value(v)))
            .collect(),
    }
}

/// A request message in the DM API's JSON shape (checked later like any HTTP request).
pub fn request_to_json(request: Option<&pb::Request>) -> Result<Value, ApiError> {
    use pb::request::Kind as K;
    let kind = request
        .and_then(|r| r.kind.as_ref())
        .ok_or_else(|| ApiError::BadRequest("`request` needs one of its kinds".into()))?;
    Ok(match kind {
        K::Launch(_) => json!({ "type": "launch" }),
        K::NoReply(_) => json!({ "type": "no-reply" }),
        K::Text(t) => json!({ "type": "text", "payload": t.text }),
        K::Intent(i) => {
            let entities: Vec<Value> = i
                .entities
                .iter()
                .map(|e| json!({ "name": e.name, "value": e.value, "query": e.query }))
                .collect();
            let mut payload = json!({
                "intent": { "name": i.name }, "query": i.query, "entities": entities,
            });
            if let Some(confidence) = i.confidence {
                payload["confidence"] = json!(confidence);
            }
            json!({ "type": "intent", "payload": payload })
        }
        K::Event(e) => json!({
            "type": "event",
            "payload": { "event": { "name": e.name, "data": struct_to_json(e.data.as_ref()) } }
        }),
        K::Button(b) => json!({ "type": b.r#type, "payload": { "label": b.label } }),
        K::Custom(s) => Value::Object(struct_to_json(Some(s))),
    })
}

/// A DM API request (as a button carries it) as a request message.
pub fn json_to_request(request: &Value) -> pb::Request {
    use pb::request::Kind as K;
    let payload = &request["payload"];
    let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    let kind = match request["type"].as_str().unwrap_or_default() {
        "launch" => K::Launch(pb::Launch {}),
        "no-reply" => K::NoReply(pb::NoReply {}),
        "text" => K::Text(pb::Text {
            text: text(payload),
        }),
        "intent" => K::Intent(pb::Intent {
            name: text(&payload["intent"]["name"]),
            query: text(&payload["query"]),
            entities: Vec::new(),
            confidence: None,
        }),
        kind if kind.starts_with("path-") || payload.get("label").is_some() => {
            K::Button(pb::Button {
                r#type: kind.to_owned(),
                label: text(&payload["label"]),
            })
        }
        _ => K::Custom(json_to_struct(request.as_object().unwrap_or(&Map::new()))),
    };
    pb::Request { kind: Some(kind) }
}

/// A trace as a message: the common types typed, the rest as their JSON payload.
pub fn trace_to_pb(trace: &Trace) -> pb::Trace {
    use pb::trace::Payload as P;
    let payload = match &trace.kind {
        TraceKind::Text(t) => P::Text(pb::TextTrace {
            message: t.message.clone(),
            delay: t.delay,
            id: t.id.clone(),
        }),
        TraceKind::Speak { message } => P::Speak(pb::SpeakTrace {
            message: message.clone(),
        }),
        TraceKind::Choice { buttons } => P::Choice(pb::ChoiceTrace {
            buttons: buttons
                .iter()
                .map(|b| pb::ChoiceButton {
                    name: b.name.clone(),
                    request: Some(json_to_request(&b.request)),
                })
                .collect(),
        }),
        TraceKind::Visual(v) => P::Visual(pb::VisualTrace {
            image: v["image"].as_str().unwrap_or_default().to_owned(),
            width: v["dimensions"]["width"].as_u64().map(|w| w as u32),
            height: v["dimensions"]["height"].as_u64().map(|h| h as u32),
        }),
        TraceKind::End { explicit } => P::End(pb::EndTrace {
            explicit: *explicit,
        }),
        TraceKind::NoReply { timeout } => P::NoReply(pb::NoReplyTrace {
            timeout_seconds: *timeout,
        }),
        TraceKind::Path { path } => P::Path(pb::PathTrace { path: path.clone() }),
        _ => P::Other(json_to_value(&trace.payload().unwrap_or(Value::Null))),
    };
    pb::Trace {
        r#type: trace.type_name().to_owned(),
        time: trace.time,
        payload: Some(payload),
    }
}

/// A trace message as the DM API's JSON (the typed kinds; the others carry their payload).
pub fn trace_to_json(trace: &pb::Trace) -> Value {
    use pb::trace::Payload as P;
    let payload = match &trace.payload {
        Some(P::Text(t)) => json!({ "message": t.message, "delay": t.delay }),
        Some(P::Speak(s)) => json!({ "message": s.message }),
        Some(P::Choice(c)) => json!({ "buttons": c.buttons.iter().map(|b| json!({
            "name": b.name,
            "request": request_to_json(b.request.as_ref()).unwrap_or(Value::Null),
        })).collect::<Vec<_>>() }),
        Some(P::Visual(v)) => json!({ "visualType": "image", "image": v.image }),
        Some(P::End(_)) => Value::Null,
        Some(P::NoReply(n)) => json!({ "timeout": n.timeout_seconds }),
        Some(P::Path(p)) => json!({ "path": p.path }),
        Some(P::Other(v)) => value_to_json(v),
        None => Value::Null,
    };
    json!({ "type": trace.r#type, "payload": payload, "time": trace.time })
}

/// The trace filter and custom-action settings a `TurnConfig` asks for.
pub fn dm_config(config: Option<&pb::TurnConfig>) -> DmConfig {
    let config = config.cloned().unwrap_or_default();
    DmConfig {
        strip_ssml: Some(!config.keep_ssml),
        stop_all: config.stop_all,
        stop_types: config.stop_types,
        exclude_types: if config.all_types {
            Some(Vec::new())
        } else if config.exclude_types.is_empty() {
            None
        } else {
            Some(config.exclude_types)
        },
        ..DmConfig::default()
    }
}

pub fn filter(config: &DmConfig) -> TraceFilter {
    TraceFilter::new(config)
}

/// The gRPC status an API error becomes.
impl From<ApiError> for Status {
    fn from(e: ApiError) -> Status {
        let code = match &e {
            ApiError::Unauthorized(_) => Code::Unauthenticated,
            ApiError::Forbidden(_) => Code::PermissionDenied,
            ApiError::BadRequest(_) => Code::InvalidArgument,
            ApiError::NotFound(_) => Code::NotFound,
            ApiError::PayloadTooLarge { .. } | ApiError::TooManyRequests { .. } => {
                Code::ResourceExhausted
            }
            ApiError::Unavailable { .. } => Code::Unavailable,
            ApiError::Timeout(_) => Code::DeadlineExceeded,
            ApiError::Internal(_) => Code::Internal,
        };
        Status::new(code, e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_and_struct_round_trip() {
        let value = json!({"a": 1, "b": [true, null, "x"], "c": {"d": 2.5}});
        let back = Value::Object(struct_to_json(Some(&json_to_struct(
            value.as_object().unwrap(),
        ))));
        assert_eq!(back, value);
    }

    #[test]
    fn button_requests_round_trip_through_messages() {
        for request in [
            json!({"type": "text", "payload": "Large"}),
            json!({"type": "path-menu-1", "payload": {"label": "Red"}}),
            json!({"type": "launch"}),
        ] {
            let message = json_to_request(&request);
            assert_eq!(request_to_json(Some(&message)).unwrap(), request);
        }
    }
}
