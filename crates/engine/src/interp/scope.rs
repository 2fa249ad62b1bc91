//! Variables as a node sees them: frame-local, global, built-in and `event.*`.
//!
//! Reads look in the top frame first, then the globals. Writes go to the frame when the flow
//! declares the variable local (or the frame already has it), otherwise to the globals, so a
//! value captured in one flow is visible in the next.

use serde_json::Value;

use super::{Incoming, Turn};
use crate::effects::Effects;
use crate::program::Template;
use crate::request::{IntentRequest, Request};
use crate::trace::TraceSink;

impl<E: Effects, S: TraceSink> Turn<'_, E, S> {
    /// Looks up a variable or `event.<key>`.
    pub(super) fn lookup(&self, name: &str) -> Option<&Value> {
        if let Some(key) = name.strip_prefix("event.") {
            return self.event.as_ref()?.data.get(key);
        }
        self.stack
            .last()
            .and_then(|frame| frame.variables.get(name))
            .or_else(|| self.state.variables.get(name))
    }

    pub(super) fn render(&self, template: &Template) -> String {
        template.render(|name| self.lookup(name))
    }

    /// Writes a variable in the scope rules described in the module docs.
    pub(super) fn assign(&mut self, name: &str, value: Value) {
        if let Some(frame) = self.stack.last_mut() {
            let local = frame.variables.contains_key(name)
                || self
                    .agent
                    .flow(frame.flow)
                    .variables
                    .iter()
                    .any(|v| v == name);
            if local {
                frame.variables.insert(name.to_owned(), value);
                return;
            }
        }
        self.state.variables.insert(name.to_owned(), value);
    }

    /// All variables visible to the current frame (globals overlaid by locals), for webhooks.
    pub(super) fn visible_variables(&self) -> serde_json::Map<String, Value> {
        let mut all = self.state.variables.clone();
        if let Some(frame) = self.stack.last() {
            all.extend(frame.variables.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        all
    }

    /// Sets the built-in variables that describe this request.
    pub(super) fn set_request_variables(&mut self, request: &Request) {
        let vars = &mut self.state.variables;
        vars.insert(
            "timestamp".into(),
            Value::from(self.effects.now_ms() / 1000),
        );
        if !self.options.user_id.is_empty() {
            vars.insert("user_id".into(), Value::from(self.options.user_id.clone()));
        }
        if let Some(utterance) = request.utterance() {
            vars.insert("last_utterance".into(), Value::from(utterance));
        }
        if let Request::Intent(intent) = request {
            vars.insert(
                "intent_confidence".into(),
                confidence_percent(intent.confidence),
            );
        }
        if !matches!(request, Request::Launch) {
            vars.insert("last_event".into(), request.to_json());
        }
    }

    /// Text goes through NLU and becomes an intent request (named `None` when nothing
    /// matched). `None`: the turn's deadline passed first.
    pub(super) fn classify(&mut self, text: &str) -> Option<IntentRequest> {
        let result = self
            .agent
            .nlu
            .classify_until(text, self.options.deadline)
            .ok()?;
        self.state.variables.insert(
            "intent_confidence".into(),
            confidence_percent(Some(result.confidence)),
        );
        Some(IntentRequest {
            name: result.intent.unwrap_or_else(|| "None".to_owned()),
            query: text.to_owned(),
            entities: result.entities,
            confidence: Some(result.confidence),
        })
    }

    /// Copies matched data into variables: `(from, to)` pairs, or by default every entity of an
    /// intent into the variable of the same name.
    pub(super) fn apply_mappings(&mut self, mappings: &[(String, String)], request: &Incoming) {
        match request {
            Incoming::Intent(intent) => {
                let pairs: Vec<(String, Value)> = intent
                    .entities
                    .iter()
                    .filter_map(|entity| {
                        let target = if mappings.is_empty() {
                            Some(&entity.name)
                        } else {
                            mappings
                                .iter()
                                .find(|(from, _)| *from == entity.name)
                                .map(|(_, to)| to)
                        };
                        target.map(|t| (t.clone(), variable_value(&entity.value)))
                    })
                    .collect();
                for (name, value) in pairs {
                    self.assign(&name, value);
                }
            }
            Incoming::Event(event) => {
                for (from, to) in mappings {
                    if let Some(value) = event.data.get(from) {
                        let value = value.clone();
                        self.assign(to, value);
                    }
                }
            }
            Incoming::General(_) | Incoming::NoReply => {}
        }
    }
}

/// `intent_confidence` as Voiceflow reports it: a percentage with two decimals.
fn confidence_percent(confidence: Option<f32>) -> Value {
    let percent = (f64::from(confidence.unwrap_or(1.0)) * 10000.0).round() / 100.0;
    if percent.fract() == 0.0 {
        Value::from(percent as i64)
    } else {
        Value::from(percent)
    }
}

/// Entity values become numbers when they are numeric and do not start with `0` (so ids such as
/// `007` stay strings), as Voiceflow does.
pub(super) fn variable_value(text: &str) -> Value {
    let numeric = !text.starts_with('0') || text == "0" || text.starts_with("0.");
    if numeric {
        if let Ok(i) = text.parse::<i64>() {
            return Value::from(i);
        }
        if let Ok(f) = text.parse::<f64>()
            && f.is_finite()
        {
            return Value::from(f);
        }
    }
    Value::from(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_entity_values_become_numbers_except_leading_zeros() {
        assert_eq!(variable_value("3"), Value::from(3));
        assert_eq!(variable_value("2.5"), Value::from(2.5));
        assert_eq!(variable_value("0"), Value::from(0));
        assert_eq!(variable_value("007"), Value::from("007"));
        assert_eq!(variable_value("large"), Value::from("large"));
        assert_eq!(variable_value("inf"), Value::from("inf"));
    }

    #[test]
    fn confidence_is_a_percentage() {
        assert_eq!(confidence_percent(None), Value::from(100));
        assert_eq!(confidence_percent(Some(0.4567)), Value::from(45.67));
    }
}
