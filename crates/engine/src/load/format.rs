//! The native agent format as written in YAML. `docs/agent-format.md` is its guide; the JSON
//! Schema published by `turnstile schema` is derived from these types.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// An agent file.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AgentFile {
    /// A display name.
    #[serde(default)]
    pub name: Option<String>,
    /// The flow a conversation starts in (default: the first flow).
    #[serde(default)]
    pub start: Option<String>,
    #[serde(default)]
    pub settings: SettingsFile,
    /// Global variables, set to `0` when a session starts unless already set.
    #[serde(default)]
    pub variables: Vec<String>,
    /// Custom entity types, by name.
    #[serde(default)]
    pub entities: IndexMap<String, EntityFile>,
    /// Intents, by name.
    #[serde(default)]
    pub intents: IndexMap<String, IntentFile>,
    /// Global commands: active everywhere in the conversation.
    #[serde(default)]
    pub commands: Vec<CommandFile>,
    /// Flows, by id. Flow ids and step ids share one namespace.
    pub flows: IndexMap<String, FlowFile>,
}

/// Agent-wide settings.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SettingsFile {
    /// Default delay of text messages in milliseconds (default 1000).
    #[serde(default)]
    pub message_delay_ms: Option<u32>,
    /// Global no-match prompts, used once a step's own reprompts are used up; the question is
    /// asked again after them. Default: "Sorry, I didn’t get that. Please try again."
    #[serde(default)]
    pub no_match: Option<OneOrMany>,
    /// Global no-reply behaviour.
    #[serde(default)]
    pub no_reply: Option<NoReplyFile>,
    /// The fulfillment webhook used by `webhook` steps.
    #[serde(default)]
    pub webhook: Option<WebhookSettingsFile>,
    /// How many `followupEvent`s one turn may chain (default 3).
    #[serde(default)]
    pub max_followups: Option<u32>,
    /// NLU confidence threshold (0–1) below which text matches no intent.
    #[serde(default)]
    pub nlu_threshold: Option<f32>,
    /// A voice agent: reprompts are spoken (`speak` traces) instead of written.
    #[serde(default)]
    pub voice: bool,
}

/// Webhook endpoint settings.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookSettingsFile {
    /// The URL (variables allowed).
    pub url: String,
    /// Timeout in milliseconds (default 5000).
    #[serde(default)]
    pub timeout_ms: Option<u64>,
    /// Extra headers, e.g. authentication (variables allowed).
    #[serde(default)]
    pub headers: IndexMap<String, String>,
}

/// A custom entity type.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EntityFile {
    /// Canonical values and their synonyms: `large: [big, huge]`.
    pub values: IndexMap<String, Vec<String>>,
}

/// An intent.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IntentFile {
    /// Example utterances; `{slot}` marks a slot.
    pub utterances: Vec<String>,
    /// Slot name → entity type (a custom entity or `number`). A slot named like an entity type
    /// needs no declaration.
    #[serde(default)]
    pub slots: IndexMap<String, String>,
}

/// A global or flow-level command. Exactly one trigger (`intent`, `event` or `path`) and one
/// action (`jump` or `push`).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CommandFile {
    #[serde(default)]
    pub intent: Option<String>,
    /// An event name (1–50 characters of letters, digits, `_`, `-`; case-insensitive).
    #[serde(default)]
    pub event: Option<String>,
    /// A request type, e.g. a custom button path.
    #[serde(default)]
    pub path: Option<String>,
    /// Go to this step or flow, leaving the current place.
    #[serde(default)]
    pub jump: Option<String>,
    /// Run this flow (or from this step) and come back.
    #[serde(default)]
    pub push: Option<String>,
    /// Entity name or event data key → variable.
    #[serde(default)]
    pub map: IndexMap<String, String>,
}

/// A flow.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FlowFile {
    #[serde(default)]
    pub name: Option<String>,
    /// Variables local to each run of this flow.
    #[serde(default)]
    pub variables: Vec<String>,
    /// Commands active while this flow is on the stack.
    #[serde(default)]
    pub commands: Vec<CommandFile>,
    /// Steps, run in order unless a step says `goto`.
    pub steps: Vec<StepFile>,
}

/// One step. It has exactly one kind key (`say`, `speak`, `choice`, `capture`, `condition`,
/// `set`, `random`, `call`, `end`, `image`, `card`, `carousel`, `action`, `webhook`, `api`) or
/// only a `goto`. `goto` on any other step names the step to continue with.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StepFile {
    /// Unique across the agent; needed to be a `goto` target.
    #[serde(default)]
    pub id: Option<String>,
    /// Text, or variants picked at random. `{var}` is substituted.
    #[serde(default)]
    pub say: Option<OneOrMany>,
    /// Delay of this message in milliseconds.
    #[serde(default)]
    pub delay_ms: Option<u32>,
    /// SSML, or variants picked at random.
    #[serde(default)]
    pub speak: Option<OneOrMany>,
    /// Options to choose from; the step waits for the user.
    #[serde(default)]
    pub choice: Option<Vec<ChoiceFile>>,
    /// Store the user's reply; the step waits for the user.
    #[serde(default)]
    pub capture: Option<CaptureFile>,
    /// Quick replies shown with a capture step; each sends its label as text.
    #[serde(default)]
    pub buttons: Vec<String>,
    /// Branches tried in order; the first whose `if` is true is taken.
    #[serde(default)]
    pub condition: Option<Vec<BranchFile>>,
    /// Where a condition goes when no branch is true (default: the next step).
    #[serde(default, rename = "else")]
    pub otherwise: Option<String>,
    /// Variable → expression, evaluated in order.
    #[serde(default)]
    pub set: Option<IndexMap<String, ExprFile>>,
    /// Targets, one picked at random.
    #[serde(default)]
    pub random: Option<Vec<String>>,
    /// With `random`: take every target once before repeating.
    #[serde(default)]
    pub no_repeat: bool,
    /// Run a flow and come back (a component).
    #[serde(default)]
    pub call: Option<CallFile>,
    /// End the conversation.
    #[serde(default)]
    pub end: Option<bool>,
    /// Show an image.
    #[serde(default)]
    pub image: Option<ImageFile>,
    #[serde(default)]
    pub card: Option<CardFile>,
    #[serde(default)]
    pub carousel: Option<CarouselFile>,
    /// A custom action trace with named paths.
    #[serde(default)]
    pub action: Option<ActionFile>,
    /// Call the fulfillment webhook.
    #[serde(default)]
    pub webhook: Option<WebhookFile>,
    /// Call an HTTP API.
    #[serde(default)]
    pub api: Option<ApiFile>,
    /// Next step or flow.
    #[serde(default)]
    pub goto: Option<String>,
    /// Where a webhook or API step goes when the call fails (default: the next step).
    #[serde(default)]
    pub on_failure: Option<String>,
    /// Reprompts when a reply matches nothing.
    #[serde(default)]
    pub no_match: Option<NoMatchFile>,
    /// Reprompts when the user says nothing.
    #[serde(default)]
    pub no_reply: Option<NoReplyFile>,
}

/// A string or a list of strings.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    pub fn items(&self) -> Vec<&str> {
        match self {
            OneOrMany::One(s) => vec![s.as_str()],
            OneOrMany::Many(v) => v.iter().map(String::as_str).collect(),
        }
    }
}

/// An option of a choice step.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChoiceFile {
    /// The button label; without one the option has no button (an intent alternative).
    #[serde(default)]
    pub label: Option<String>,
    /// An intent that picks this option (its button then sends this intent).
    #[serde(default)]
    pub intent: Option<String>,
    /// An event that picks this option.
    #[serde(default)]
    pub event: Option<String>,
    /// Entity name or event data key → variable.
    #[serde(default)]
    pub map: IndexMap<String, String>,
    /// Where to go (default: the next step).
    #[serde(default)]
    pub goto: Option<String>,
    /// Run this flow, then come back to the choice.
    #[serde(default)]
    pub call: Option<String>,
}

/// What a capture step stores.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum CaptureFile {
    /// The whole reply into this variable.
    Variable(String),
    Detailed(CaptureDetails),
}

/// A capture of the whole reply (`variable`) or of entities (`entity` / `entities`).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CaptureDetails {
    /// With `entity`: the variable for it (default: the entity name). Alone: the whole reply.
    #[serde(default)]
    pub variable: Option<String>,
    /// One entity type to find in the reply.
    #[serde(default)]
    pub entity: Option<String>,
    /// Several entity types → variables; all are required.
    #[serde(default)]
    pub entities: IndexMap<String, String>,
}

/// A condition branch.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BranchFile {
    /// An expression.
    #[serde(rename = "if")]
    pub when: String,
    pub goto: String,
}

/// An expression, or a plain number or boolean.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum ExprFile {
    Expression(String),
    Number(f64),
    Bool(bool),
}

/// A call: a flow id, or a flow with inputs and outputs.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum CallFile {
    Flow(String),
    Detailed(CallDetails),
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CallDetails {
    pub flow: String,
    /// Callee variable → expression evaluated in the caller.
    #[serde(default)]
    pub inputs: IndexMap<String, ExprFile>,
    /// Callee variable → caller variable, copied when the flow finishes.
    #[serde(default)]
    pub outputs: IndexMap<String, String>,
}

/// An image: a URL, or a URL with dimensions.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum ImageFile {
    Url(String),
    Detailed(ImageDetails),
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ImageDetails {
    pub url: String,
    #[serde(default)]
    pub width: Option<u32>,
    #[serde(default)]
    pub height: Option<u32>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CardFile {
    pub title: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub image: Option<String>,
    /// With buttons the step waits for a click.
    #[serde(default)]
    pub buttons: Vec<ButtonFile>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ButtonFile {
    pub label: String,
    #[serde(default)]
    pub goto: Option<String>,
    #[serde(default)]
    pub call: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CarouselFile {
    /// `Carousel` (default) or `List`.
    #[serde(default)]
    pub layout: Option<String>,
    pub cards: Vec<CardFile>,
}

/// A custom action.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ActionFile {
    /// The trace type.
    pub name: String,
    /// The trace payload; strings in it are templates.
    #[serde(default)]
    pub payload: Value,
    /// Path name → target; the client answers with a request of that type.
    #[serde(default)]
    pub paths: IndexMap<String, Option<String>>,
    /// The path taken when the client answers anything else (default: the first).
    #[serde(default)]
    pub default: Option<String>,
    /// Wait for the client's answer (default true).
    #[serde(default = "yes")]
    pub stop: bool,
}

fn yes() -> bool {
    true
}

/// A webhook call (`webhook: {}` uses the agent's webhook settings).
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookFile {
    /// Overrides the agent's webhook URL.
    #[serde(default)]
    pub url: Option<String>,
    /// Sent to the webhook as `tag`.
    #[serde(default)]
    pub tag: Option<String>,
    #[serde(default)]
    pub timeout_ms: Option<u64>,
}

/// An HTTP API call.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ApiFile {
    /// GET (default), POST, PUT, PATCH or DELETE.
    #[serde(default)]
    pub method: Option<String>,
    pub url: String,
    #[serde(default)]
    pub headers: IndexMap<String, String>,
    /// A JSON body; strings in it are templates.
    #[serde(default)]
    pub body: Option<Value>,
    /// Variable → dotted path into the JSON response (`data.items.0.name`).
    #[serde(default)]
    pub save: IndexMap<String, String>,
    /// Timeout in milliseconds (default 5000).
    #[serde(default)]
    pub timeout_ms: Option<u64>,
}

/// No-match reprompts: a list of prompts, or prompts and a target.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum NoMatchFile {
    Prompts(Vec<String>),
    Detailed(NoMatchDetails),
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NoMatchDetails {
    #[serde(default)]
    pub prompts: Vec<String>,
    /// Where to go once the prompts are used up.
    #[serde(default)]
    pub goto: Option<String>,
}

/// No-reply behaviour.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NoReplyFile {
    /// Seconds of silence before the client should send `no-reply`.
    #[serde(default)]
    pub timeout: Option<u32>,
    #[serde(default)]
    pub prompts: Vec<String>,
    /// Where to go once the prompts are used up (default: the flow ends).
    #[serde(default)]
    pub goto: Option<String>,
}
