//! The Dialog Manager API's request bodies and the trace filter its `config` selects.

use serde::Deserialize;
use serde_json::{Map, Value};
use std::borrow::Cow;

use turnstile_engine::{Agent, Request, SessionState, Trace, TraceKind, text_too_long};
use turnstile_session::{AgentCatalog, SessionError, TurnInput};

use crate::error::ApiError;
use crate::extract::EdgeLimits;

/// `config` of an interact request, as Voiceflow's Dialog Manager API defines it (the interact
/// route's `config` object at <https://docs.voiceflow.com/>; in the open-source runtime,
/// `ConfigSchema` of `lib/controllers/stateManagement/requests.ts` in
/// <https://github.com/voiceflow/general-runtime>).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DmConfig {
    /// Accepted for compatibility; turnstile does not synthesise speech.
    #[serde(default)]
    pub tts: bool,
    /// Remove SSML tags from `speak` messages (default true).
    #[serde(default, rename = "stripSSML")]
    pub strip_ssml: Option<bool>,
    /// Every custom action waits for the client (`stopAll`).
    #[serde(default)]
    pub stop_all: bool,
    /// Custom actions of these types wait for the client (`stopTypes`).
    #[serde(default)]
    pub stop_types: Vec<String>,
    /// Trace types left out of the response (default `block`, `debug`, `flow`).
    #[serde(default)]
    pub exclude_types: Option<Vec<String>>,
    /// Accepted for compatibility (turnstile emits no `goto` traces).
    #[serde(default)]
    pub self_delegate: bool,
}

/// The body of `POST /state/user/{userID}/interact` (and of the public route).
#[derive(Debug, Default, Deserialize)]
pub struct InteractBody {
    #[serde(default)]
    pub action: Option<Value>,
    /// The legacy name of `action`.
    #[serde(default)]
    pub request: Option<Value>,
    #[serde(default)]
    pub config: DmConfig,
    #[serde(default)]
    pub state: Option<StateVariables>,
    /// An idempotency key in the body (the `Idempotency-Key` header wins).
    #[serde(default)]
    pub turn_id: Option<String>,
}

/// `state.variables` of an interact body: merged into the session before the turn.
#[derive(Debug, Default, Deserialize)]
pub struct StateVariables {
    #[serde(default)]
    pub variables: Map<String, Value>,
}

/// The body of the v2 streaming route.
#[derive(Debug, Default, Deserialize)]
pub struct StreamBody {
    #[serde(default)]
    pub action: Option<Value>,
    #[serde(default)]
    pub variables: Map<String, Value>,
    #[serde(default)]
    pub config: DmConfig,
    #[serde(default)]
    pub turn_id: Option<String>,
}

/// A turn as the DM API's bodies (and the gRPC API's messages) describe it.
#[derive(Debug)]
pub struct DmTurn<'a> {
    /// The agent version alias.
    pub version: String,
    /// The request, in the DM API's JSON shape (`None`: the body had none, a 400).
    pub action: Option<&'a Value>,
    /// `config`.
    pub config: &'a DmConfig,
    /// Variables merged into the session before the turn.
    pub variables: Map<String, Value>,
    /// The checked idempotency key.
    pub idempotency_key: Option<String>,
}

impl DmTurn<'_> {
    /// The turn to run in `project`: the action parsed and checked against the agent and the
    /// edge's limits.
    pub fn input(
        self,
        catalog: &AgentCatalog,
        project: &str,
        limits: &EdgeLimits,
    ) -> Result<TurnInput, ApiError> {
        let agent = catalog.agent(project, &self.version)?;
        let request = parse_action(self.action, &agent, limits)?;
        Ok(TurnInput {
            request,
            version: self.version,
            variables: self.variables,
            idempotency_key: self.idempotency_key,
            stop_types: self.config.stop_types.clone(),
            stop_all: self.config.stop_all,
        })
    }
}

/// Parses the action of a body and checks it against the agent and the limits: a `text`
/// longer than [`EdgeLimits::max_text_chars`] is refused here, before it is queued.
pub fn parse_action(
    action: Option<&Value>,
    agent: &Agent,
    limits: &EdgeLimits,
) -> Result<Request, ApiError> {
    let action = action.ok_or_else(|| {
        ApiError::BadRequest("the body needs an `action` (or the legacy `request`)".into())
    })?;
    let request = Request::from_json(action).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    check_text(&request, limits)?;
    check_request(&request, agent)?;
    Ok(request)
}

/// Checks that `agent` knows the request's type. Every request passes here: the public APIs'
/// (through [`parse_action`]) and, on their owner, those forwarded by other nodes.
pub fn check_request(request: &Request, agent: &Agent) -> Result<(), ApiError> {
    match request {
        Request::General(general) if !agent.knows_request_type(&general.kind) => {
            Err(ApiError::BadRequest(format!(
                "unknown action type `{}`: expected launch, text, intent, event, no-reply, \
                 action, a button path (path-…) or a path of one of the agent's custom actions",
                general.kind
            )))
        }
        _ => Ok(()),
    }
}

/// Refuses a `text` request over [`EdgeLimits::max_text_chars`], with the error the session
/// layer would give (every way in reports the limit the same way).
pub fn check_text(request: &Request, limits: &EdgeLimits) -> Result<(), ApiError> {
    match request {
        Request::Text(text) if text_too_long(text, limits.max_text_chars) => {
            Err(ApiError::from(SessionError::TextTooLong {
                limit: limits.max_text_chars,
            }))
        }
        _ => Ok(()),
    }
}

/// Checks a state body the way the DM API does: `stack` (frames with `diagramID`), `storage`
/// and `variables` are required objects.
pub fn parse_state(body: Value) -> Result<SessionState, ApiError> {
    let invalid = |why: &str| ApiError::BadRequest(format!("invalid state: {why}"));
    let object: &Map<String, Value> = body.as_object().ok_or_else(|| invalid("not an object"))?;
    for field in ["stack", "storage", "variables"] {
        if !object.contains_key(field) {
            return Err(invalid(&format!("`{field}` is required")));
        }
    }
    let frames = object["stack"]
        .as_array()
        .ok_or_else(|| invalid("`stack` must be an array"))?;
    for (i, frame) in frames.iter().enumerate() {
        if !frame.get("diagramID").is_some_and(Value::is_string) {
            return Err(invalid(&format!("stack[{i}].diagramID must be a string")));
        }
    }
    serde_json::from_value(body).map_err(|e| invalid(&e.to_string()))
}

/// Selects and shapes the traces a client asked for.
#[derive(Debug, Clone)]
pub struct TraceFilter {
    exclude: Vec<String>,
    strip_ssml: bool,
}

impl TraceFilter {
    /// The filter a request's `config` selects.
    pub fn new(config: &DmConfig) -> Self {
        TraceFilter {
            exclude: config
                .exclude_types
                .clone()
                .unwrap_or_else(|| vec!["block".into(), "debug".into(), "flow".into()]),
            strip_ssml: config.strip_ssml.unwrap_or(true),
        }
    }

    /// The trace as the client receives it, or `None` when its type is excluded. Only a
    /// `speak` trace whose SSML is stripped is copied.
    pub fn apply<'t>(&self, trace: &'t Trace) -> Option<Cow<'t, Trace>> {
        if self.exclude.iter().any(|t| t == trace.type_name()) {
            return None;
        }
        match &trace.kind {
            TraceKind::Speak { message } if self.strip_ssml && message.contains('<') => {
                Some(Cow::Owned(Trace {
                    kind: TraceKind::Speak {
                        message: strip_tags(message),
                    },
                    time: trace.time,
                }))
            }
            _ => Some(Cow::Borrowed(trace)),
        }
    }

    /// The traces the client receives, in order.
    pub fn apply_all<'t>(&self, traces: &'t [Trace]) -> Vec<Cow<'t, Trace>> {
        traces.iter().filter_map(|t| self.apply(t)).collect()
    }
}

/// Removes `<…>` tags, as the DM API's `stripSSML` does (`/<\/?[^>]+(>|$)/g`).
fn strip_tags(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('<') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let closing = after.find('>');
        match (after.chars().next(), closing) {
            // `<` followed by nothing or `>` is not a tag.
            (None | Some('>'), _) => {
                out.push('<');
                rest = after;
            }
            (Some(_), Some(close)) => rest = &after[close + 1..],
            (Some(_), None) => rest = "",
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_ssml_like_the_dm_api() {
        assert_eq!(
            strip_tags(r#"<speak>Hi <break time="1s"/>there</speak>"#),
            "Hi there"
        );
        // Like the regex: `<` up to the next `>` goes, even across text; `<>` is not a tag.
        assert_eq!(strip_tags("1 < 2 and <>"), "1 ");
        assert_eq!(strip_tags("a <> b"), "a <> b");
        assert_eq!(strip_tags("cut <voice"), "cut ");
    }
}
