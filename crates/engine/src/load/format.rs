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
    /// Agent-wide settings.
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
    /// An intent name: the command fires when the user's text (or an `intent` request) is this intent.
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
    /// A display name (default: the flow's id).
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
    /// Show a card (title, text, image, buttons).
    #[serde(default)]
    pub card: Option<CardFile>,
    /// Show several cards side by side (or as a list).
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
    /// A single string.
    One(String),
    /// Several strings.
    Many(Vec<String>),
}

impl OneOrMany {
    /// The strings, one or many alike.
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
    /// A variable and/or the entities to find.
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
    /// The step or flow to go to when `if` is true.
    pub goto: String,
}

/// An expression, or a plain number or boolean.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum ExprFile {
    /// An expression over variables, e.g. `count + 1` or `size == "large"`.
    Expression(String),
    /// A number, as is.
    Number(f64),
    /// A boolean, as is.
    Bool(bool),
}

/// A call: a flow id, or a flow with inputs and outputs.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum CallFile {
    /// The flow's id, without inputs or outputs.
    Flow(String),
    /// The flow with its inputs and outputs.
    Detailed(CallDetails),
}

/// A call with inputs and outputs.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CallDetails {
    /// The flow's id.
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
    /// The image URL (variables allowed).
    Url(String),
    /// The URL with the image's size.
    Detailed(ImageDetails),
}

/// An image URL with its size.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ImageDetails {
    /// The image URL (variables allowed).
    pub url: String,
    /// Width in pixels; sent to the client when `height` is given too.
    #[serde(default)]
    pub width: Option<u32>,
    /// Height in pixels; sent to the client when `width` is given too.
    #[serde(default)]
    pub height: Option<u32>,
}

/// A card: title, text, optional image and buttons.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CardFile {
    /// The title (variables allowed).
    pub title: String,
    /// The text under the title (variables allowed).
    #[serde(default)]
    pub description: String,
    /// An image URL (variables allowed).
    #[serde(default)]
    pub image: Option<String>,
    /// With buttons the step waits for a click.
    #[serde(default)]
    pub buttons: Vec<ButtonFile>,
}

/// A card button.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ButtonFile {
    /// What the button says; a click sends this label along with the button's path.
    pub label: String,
    /// Where a click goes (default: the next step).
    #[serde(default)]
    pub goto: Option<String>,
    /// A flow a click runs before coming back to the card.
    #[serde(default)]
    pub call: Option<String>,
}

/// A carousel: several cards.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CarouselFile {
    /// `Carousel` (default) or `List`.
    #[serde(default)]
    pub layout: Option<String>,
    /// The cards, in order.
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
    /// Timeout in milliseconds (default: the webhook settings' timeout).
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
    /// The URL (variables allowed).
    pub url: String,
    /// Header name → value (variables allowed).
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
    /// Reprompts, said in turn; once used up, the global no-match prompts follow.
    Prompts(Vec<String>),
    /// Reprompts and where to go after them.
    Detailed(NoMatchDetails),
}

/// No-match reprompts and where to go once they are used up.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NoMatchDetails {
    /// Reprompts, said in turn.
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
    /// Reprompts, said in turn, one per `no-reply` request.
    #[serde(default)]
    pub prompts: Vec<String>,
    /// Where to go once the prompts are used up (default: the flow ends).
    #[serde(default)]
    pub goto: Option<String>,
}
