//! `google.protobuf.Struct` and `Value` ⇄ JSON.

use prost_types::value::Kind;
use serde_json::{Map, Value, json};

/// A `google.protobuf.Struct` as a JSON object (`None`: an empty object).
pub fn struct_to_json(s: Option<&prost_types::Struct>) -> Map<String, Value> {
    s.map(|s| {
        s.fields
            .iter()
            .map(|(k, v)| (k.clone(), value_to_json(v)))
            .collect()
    })
    .unwrap_or_default()
}

/// A `google.protobuf.Value` as JSON. Protobuf numbers are doubles: whole ones come back as
/// integers, as a JSON client would have sent them.
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

/// A JSON object as a `google.protobuf.Struct`.
pub fn json_to_struct(map: &Map<String, Value>) -> prost_types::Struct {
    prost_types::Struct {
        fields: map
            .iter()
            .map(|(k, v)| (k.clone(), json_to_value(v)))
            .collect(),
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
}
