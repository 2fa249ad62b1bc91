//! The engine's traces ⇄ the gRPC `Trace` message.

use serde_json::{Value, json};
use turnstile_engine::{Trace, TraceKind};
use turnstile_proto::v1 as pb;

use crate::request::{json_to_request, request_to_json};
use crate::value::{json_to_value, value_to_json};

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

/// A trace message as the DM API's JSON (the typed kinds; the others carry their payload): what
/// a gRPC client shows as a DM API client would.
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
