//! Webhook (fulfillment) and API steps.
//!
//! A webhook step POSTs a [`WebhookRequest`] to the agent's webhook. The [`WebhookResponse`] may
//! carry messages (said as traces), variables to merge, and a `followupEvent`, which runs at once,
//! inside the same turn, as an event request (Dialogflow semantics: the response's messages are
//! then ignored). Follow-ups chain up to the agent's `max_followups`; each hop is recorded in the
//! `executionSequence` of a debug trace. A timeout, a non-2xx status or an unreadable body takes
//! the step's failure path.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::{Incoming, Step, Turn};
use crate::effects::{Effects, HttpRequest};
use crate::event::EventName;
use crate::program::{ApiStep, NodeRef, WebhookStep};
use crate::request::EventRequest;
use crate::trace::{TraceKind, TraceSink};

/// Default webhook timeout (Dialogflow's).
pub const DEFAULT_WEBHOOK_TIMEOUT_MS: u64 = 5000;

/// Largest webhook or API response body read.
pub const MAX_RESPONSE_BYTES: usize = 64 * 1024;

/// The JSON a webhook step POSTs.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct WebhookRequest {
    /// The session's user id.
    pub user_id: String,
    /// The session's turn counter.
    pub turn: u64,
    /// The id of the flow the step is in.
    pub flow: String,
    /// The webhook step's id.
    pub step: String,
    /// The step's tag, so one endpoint can tell its steps apart.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    /// The user's last utterance.
    pub query: String,
    /// The last intent and its confidence (0–1), when the turn had one.
    pub intent: Option<Value>,
    /// The current event (`{name, data}`), when the turn was triggered by one.
    pub event: Option<Value>,
    /// All variables visible to the step.
    pub variables: Map<String, Value>,
}

/// What a webhook answers. Every field is optional.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct WebhookResponse {
    /// Messages to say, in order (ignored when `followup_event` is set).
    #[serde(default)]
    pub messages: Vec<WebhookMessage>,
    /// Dialogflow's plain answer, said after `messages`.
    #[serde(default)]
    pub fulfillment_text: Option<String>,
    /// Variables to set, merged into the session's before anything else happens.
    #[serde(default)]
    pub variables: Map<String, Value>,
    /// An event to run at once instead of continuing (Dialogflow's `followupEventInput`).
    #[serde(default, alias = "followupEventInput")]
    pub followup_event: Option<FollowupEvent>,
}

/// A message in a webhook response.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub enum WebhookMessage {
    /// `{"text": "…"}`: a text trace.
    Text(String),
    /// `{"speak": "…"}`: a speak trace, SSML allowed.
    Speak(String),
    /// `{"image": "https://…"}`: a visual trace.
    Image(String),
    /// `{"trace": {"type": …, "payload": …}}`: any trace, passed through.
    Trace {
        /// The trace type.
        #[serde(rename = "type")]
        kind: String,
        /// The trace payload.
        #[serde(default)]
        payload: Value,
    },
}

/// An event to run next, with its data (`parameters` is accepted for Dialogflow v2).
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct FollowupEvent {
    /// The event's name (checked like any event name before it runs).
    pub name: String,
    /// The event's data, readable as `{event.<key>}`.
    #[serde(default, alias = "parameters")]
    pub data: Map<String, Value>,
}

impl<E: Effects, S: TraceSink> Turn<'_, E, S> {
    pub(super) async fn call_webhook(&mut self, at: NodeRef, step: &WebhookStep) -> Step {
        let agent = self.agent;
        let settings = agent.settings.webhook.as_ref();
        let Some(url) = step.url.as_ref().or(settings.map(|s| &s.url)) else {
            self.emit_debug("webhook", "no webhook URL is configured".into());
            return Step::Next(step.failure);
        };
        let timeout_ms = step
            .timeout_ms
            .or(settings.map(|s| s.timeout_ms))
            .unwrap_or(DEFAULT_WEBHOOK_TIMEOUT_MS);
        let mut headers = vec![("content-type".to_owned(), "application/json".to_owned())];
        for (name, value) in settings.map(|s| s.headers.as_slice()).unwrap_or_default() {
            headers.push((name.clone(), self.render(value)));
        }
        let body = self.webhook_request(at, step);
        let request = HttpRequest {
            method: "POST".into(),
            url: self.render(url),
            headers,
            body: serde_json::to_vec(&body).ok(),
            timeout: Duration::from_millis(timeout_ms),
        };
        let response: WebhookResponse = match self.fetch_json(request).await {
            Ok(value) => match serde_json::from_value(value) {
                Ok(response) => response,
                Err(e) => {
                    self.emit_debug("webhook", format!("webhook response not understood: {e}"));
                    return Step::Next(step.failure);
                }
            },
            Err(reason) => {
                self.emit_debug("webhook", format!("webhook call failed: {reason}"));
                return Step::Next(step.failure);
            }
        };
        for (name, value) in response.variables {
            self.assign(&name, value);
        }
        match response.followup_event {
            Some(followup) => self.follow_up(at, step, followup),
            None => {
                for message in response.messages {
                    self.say_webhook_message(message);
                }
                if let Some(text) = response.fulfillment_text.filter(|t| !t.is_empty()) {
                    self.say_webhook_message(WebhookMessage::Text(text));
                }
                Step::Next(step.success)
            }
        }
    }

    fn webhook_request(&self, at: NodeRef, step: &WebhookStep) -> WebhookRequest {
        let vars = &self.state.variables;
        let last = vars.get("last_event");
        let intent = last
            .filter(|e| e["type"] == "intent")
            .map(|e| json!({ "name": e["payload"]["intent"]["name"], "confidence": e["payload"]["confidence"] }));
        WebhookRequest {
            user_id: self.options.user_id.clone(),
            turn: self.state.turn,
            flow: self.agent.flow(at.flow).id.clone(),
            step: self.agent.node(at).id.clone(),
            tag: step.tag.clone(),
            query: vars
                .get("last_utterance")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            intent,
            event: self
                .event
                .as_ref()
                .map(|e| json!({ "name": e.name.as_str(), "data": e.data })),
            variables: self.visible_variables(),
        }
    }

    /// Runs a `followupEvent` as an event request, right away.
    fn follow_up(&mut self, at: NodeRef, step: &WebhookStep, followup: FollowupEvent) -> Step {
        let limit = self.agent.settings.max_followups;
        if self.followups >= limit {
            self.emit(TraceKind::Custom {
                name: "error".into(),
                payload: json!({
                    "code": "followup_limit",
                    "message": format!(
                        "followupEvent `{}` not run: a turn may chain at most {limit} follow-up events",
                        followup.name
                    ),
                }),
                paths: Vec::new(),
                default_path: None,
            });
            return Step::Next(step.failure);
        }
        let name = match EventName::new(&followup.name) {
            Ok(name) => name,
            Err(e) => {
                self.emit_debug("webhook", format!("followupEvent refused: {e}"));
                return Step::Next(step.failure);
            }
        };
        self.followups += 1;
        self.execution_sequence.push(json!({
            "step": self.agent.node(at).id,
            "webhookTriggeringEvent": name.as_str(),
        }));
        let mut extra = Map::new();
        extra.insert(
            "executionSequence".into(),
            Value::Array(self.execution_sequence.clone()),
        );
        self.emit(TraceKind::Debug {
            kind: Some("followupEvent".into()),
            message: format!("webhook asked for event `{}`", name.as_str()),
            extra,
        });
        let event = EventRequest {
            name,
            data: followup.data,
        };
        self.event = Some(event.clone());
        // Whatever the event triggers returns here: after the webhook, on its success path.
        match step.success {
            Some(next) if next.flow == at.flow => self.set_top_node(Some(next.node)),
            Some(_) => {}
            None => self.set_top_node(None),
        }
        if self.try_commands(&Incoming::Event(event.clone())) {
            Step::StackChanged
        } else {
            self.emit_debug(
                "webhook",
                format!("followupEvent `{}` matched no trigger", event.name.as_str()),
            );
            Step::Next(step.success)
        }
    }

    fn say_webhook_message(&mut self, message: WebhookMessage) {
        match message {
            WebhookMessage::Text(text) => {
                let delay = self.agent.settings.message_delay_ms;
                self.say(String::new(), text, delay);
            }
            WebhookMessage::Speak(message) => self.emit(TraceKind::Speak { message }),
            WebhookMessage::Image(url) => self.emit(TraceKind::Visual(json!({
                "visualType": "image", "image": url, "device": null,
                "dimensions": null, "canvasVisibility": "full",
            }))),
            WebhookMessage::Trace { kind, payload } => self.emit(TraceKind::Custom {
                name: kind,
                payload,
                paths: Vec::new(),
                default_path: None,
            }),
        }
    }

    pub(super) async fn call_api(&mut self, step: &ApiStep) -> Step {
        let headers = step
            .headers
            .iter()
            .map(|(name, value)| (name.clone(), self.render(value)))
            .collect::<Vec<_>>();
        let body = step
            .body
            .as_ref()
            .map(|b| serde_json::to_vec(&self.render_json(b)).unwrap_or_default());
        let mut request = HttpRequest {
            method: step.method.clone(),
            url: self.render(&step.url),
            headers,
            body,
            timeout: Duration::from_millis(step.timeout_ms),
        };
        if request.body.is_some()
            && !request
                .headers
                .iter()
                .any(|(n, _)| n.eq_ignore_ascii_case("content-type"))
        {
            request
                .headers
                .push(("content-type".into(), "application/json".into()));
        }
        match self.fetch_json(request).await {
            Ok(response) => {
                for (variable, path) in &step.save {
                    let value = json_path(&response, path).cloned().unwrap_or(Value::Null);
                    self.assign(variable, value);
                }
                Step::Next(step.success)
            }
            Err(reason) => {
                self.emit_debug("api", format!("API call failed: {reason}"));
                Step::Next(step.failure)
            }
        }
    }

    /// Performs a request and reads a JSON body (an empty body reads as `null`).
    async fn fetch_json(&self, request: HttpRequest) -> Result<Value, String> {
        let response = self
            .effects
            .http(request)
            .await
            .map_err(|e| error_chain(&e))?;
        if !(200..300).contains(&response.status) {
            return Err(format!("HTTP status {}", response.status));
        }
        if response.body.len() > MAX_RESPONSE_BYTES {
            return Err(format!("response larger than {MAX_RESPONSE_BYTES} bytes"));
        }
        if response.body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Value::Null);
        }
        serde_json::from_slice(&response.body).map_err(|e| format!("response is not JSON: {e}"))
    }
}

/// `error`'s message followed by its sources' (`could not connect: tcp connect error: …`), for a
/// debug trace that must say why without a logger to walk the chain.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Follows a dotted path (`data.items.0.name`) into a JSON value.
fn json_path<'v>(value: &'v Value, path: &str) -> Option<&'v Value> {
    path.split('.')
        .filter(|s| !s.is_empty())
        .try_fold(value, |v, segment| match v {
            Value::Object(map) => map.get(segment),
            Value::Array(items) => items.get(segment.parse::<usize>().ok()?),
            _ => None,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_paths_walk_objects_and_arrays() {
        let v = json!({"data": {"items": [{"name": "a"}, {"name": "b"}]}});
        assert_eq!(json_path(&v, "data.items.1.name"), Some(&json!("b")));
        assert_eq!(json_path(&v, "data.items.9.name"), None);
        assert_eq!(json_path(&v, ""), Some(&v));
    }

    #[test]
    fn failed_calls_are_explained_with_their_causes() {
        let refused = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        let error = crate::HttpError::connect(refused);
        assert_eq!(error_chain(&error), "could not connect: refused");
        assert_eq!(error_chain(&crate::HttpError::Timeout), "timed out");
    }

    #[test]
    fn webhook_responses_accept_dialogflow_spellings() {
        let r: WebhookResponse = serde_json::from_value(json!({
            "fulfillmentText": "hi",
            "followupEventInput": {"name": "next", "parameters": {"a": 1}, "languageCode": "en"}
        }))
        .unwrap();
        assert_eq!(r.fulfillment_text.as_deref(), Some("hi"));
        let followup = r.followup_event.unwrap();
        assert_eq!(followup.name, "next");
        assert_eq!(followup.data["a"], 1);
    }
}
