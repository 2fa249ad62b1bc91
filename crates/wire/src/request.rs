//! The gRPC `Request` message ⇄ the DM API's request JSON (`{"type": …, "payload": …}`), the
//! shape the engine parses and buttons carry.

use serde_json::{Map, Value, json};
use turnstile_proto::v1 as pb;

use crate::value::{json_to_struct, struct_to_json};

/// A request message that names none of its kinds.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`request` needs one of its kinds")]
pub struct NoRequestKind;

/// A request message in the DM API's JSON shape (the edge then checks it like any HTTP
/// request).
///
/// ```
/// use turnstile_proto::v1::{request::Kind, Request, Text};
///
/// let message = Request { kind: Some(Kind::Text(Text { text: "hi".into() })) };
/// let json = turnstile_wire::request_to_json(Some(&message)).unwrap();
/// assert_eq!(json, serde_json::json!({"type": "text", "payload": "hi"}));
/// ```
pub fn request_to_json(request: Option<&pb::Request>) -> Result<Value, NoRequestKind> {
    use pb::request::Kind as K;
    let kind = request.and_then(|r| r.kind.as_ref()).ok_or(NoRequestKind)?;
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

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn a_request_without_a_kind_is_refused() {
        assert_eq!(request_to_json(None), Err(NoRequestKind));
        assert_eq!(
            request_to_json(Some(&pb::Request { kind: None })),
            Err(NoRequestKind)
        );
    }
}
