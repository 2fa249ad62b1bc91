//! Nodes: the steps of a flow.

use serde_json::Value;

use super::{Branch, Next, NodeRef, Template};
use crate::event::EventName;
use crate::expr::Expr;

/// One step of a flow.
#[derive(Debug, Clone)]
pub struct Node {
    /// Unique across the agent.
    pub id: String,
    pub kind: NodeKind,
}

/// What a node does. Nodes that wait for the user are [`NodeKind::Choice`],
/// [`NodeKind::Capture`], cards and carousels with buttons, and stopping custom actions.
#[derive(Debug, Clone)]
pub enum NodeKind {
    /// Say one of the variants (picked at random) as a `text` trace.
    Say {
        variants: Vec<SayVariant>,
        delay_ms: Option<u32>,
        next: Next,
    },
    /// Speak one of the SSML variants as a `speak` trace.
    Speak { variants: Vec<Template>, next: Next },
    /// Offer buttons and/or intent alternatives, then wait.
    Choice {
        options: Vec<ChoiceOption>,
        no_match: NoMatch,
        no_reply: NoReply,
    },
    /// Wait for a reply and store it (or entities from it) in variables.
    Capture {
        target: CaptureTarget,
        /// Quick replies: each sends its label as text.
        quick_replies: Vec<Template>,
        no_match: NoMatch,
        no_reply: NoReply,
        next: Next,
    },
    /// Go to the first branch whose expression is true, else `otherwise`.
    Condition {
        branches: Vec<Branch>,
        otherwise: Next,
    },
    /// Assign variables from expressions, in order.
    Set {
        assignments: Vec<(String, Expr)>,
        next: Next,
    },
    /// Go to one of the targets at random; `no_repeat` cycles through all before repeating.
    Random { targets: Vec<Next>, no_repeat: bool },
    /// Go somewhere else (a `goto` step, or Voiceflow's `start`/`goToNode`).
    Goto { next: Next },
    /// Run another flow and come back (a component): inputs are evaluated in the caller's scope
    /// into the callee's frame variables; outputs are copied back when it finishes.
    Call {
        target: NodeRef,
        inputs: Vec<(String, Expr)>,
        outputs: Vec<(String, String)>,
        next: Next,
    },
    /// End the conversation.
    End,
    /// An image (`visual` trace).
    Visual {
        image: Template,
        width: Option<u32>,
        height: Option<u32>,
        next: Next,
    },
    /// A card; with buttons it waits for a click.
    Card {
        card: CardDef,
        no_match: NoMatch,
        next: Next,
    },
    /// Several cards; with buttons it waits for a click.
    Carousel {
        layout: String,
        cards: Vec<CardDef>,
        no_match: NoMatch,
        next: Next,
    },
    /// A custom action trace with named paths.
    Action(CustomAction),
    /// Call the agent's fulfillment webhook.
    Webhook(WebhookStep),
    /// Call an HTTP API and map its response into variables.
    Api(ApiStep),
}

/// One text variant of a say step.
#[derive(Debug, Clone)]
pub struct SayVariant {
    pub id: String,
    pub text: Template,
}

/// An option of a choice step. It may show a button (`label`) and reacts to its own button path,
/// to an intent and/or to an event.
#[derive(Debug, Clone)]
pub struct ChoiceOption {
    pub label: Option<Template>,
    /// The request type of this option's button when it has no intent: `path-<step>-<n>`.
    pub path: String,
    pub intent: Option<String>,
    pub event: Option<EventName>,
    pub mappings: Vec<(String, String)>,
    pub action: OptionAction,
}

/// What a chosen option does.
#[derive(Debug, Clone, Copy)]
pub enum OptionAction {
    Goto(Next),
    /// Run the flow and come back to this step.
    Push(NodeRef),
}

/// What a capture step stores.
#[derive(Debug, Clone)]
pub enum CaptureTarget {
    /// The whole reply.
    Reply { variable: String },
    /// Entities of the given types found in the reply: `(entity type, variable)`. All are required.
    Entities(Vec<(String, String)>),
}

/// Reprompts when a reply matches nothing.
#[derive(Debug, Clone, Default)]
pub struct NoMatch {
    pub prompts: Vec<Template>,
    /// Where to go once the prompts are used up (`None`: keep using the global prompts).
    pub next: Option<Next>,
}

/// Reprompts when the user says nothing.
#[derive(Debug, Clone, Default)]
pub struct NoReply {
    /// Seconds; `None` falls back to the agent's default.
    pub timeout: Option<u32>,
    pub prompts: Vec<Template>,
    /// Where to go once the prompts are used up (`None`: the flow finishes).
    pub next: Option<Next>,
}

/// A card's content.
#[derive(Debug, Clone)]
pub struct CardDef {
    pub id: String,
    pub title: Template,
    pub description: Template,
    pub image: Option<Template>,
    /// Buttons: `(label, request path, action)`.
    pub buttons: Vec<(Template, String, OptionAction)>,
}

/// A custom action: a trace of type `name` with named paths.
#[derive(Debug, Clone)]
pub struct CustomAction {
    pub name: String,
    pub payload: Value,
    /// `(path name, where it goes)`; the client answers with a request of type `path name`.
    pub paths: Vec<(String, Next)>,
    pub default_path: usize,
    /// Wait for the client to pick a path (otherwise continue on the default path at once).
    pub stop: bool,
    /// Where to continue when the action has no paths.
    pub next: Next,
}

impl CustomAction {
    /// Where the default path leads.
    pub fn default_next(&self) -> Next {
        self.paths
            .get(self.default_path)
            .map_or(self.next, |(_, next)| *next)
    }
}

/// A fulfillment webhook call.
#[derive(Debug, Clone)]
pub struct WebhookStep {
    /// Overrides the agent's webhook URL.
    pub url: Option<Template>,
    /// Passed to the webhook so one endpoint can serve many steps.
    pub tag: Option<String>,
    pub timeout_ms: Option<u64>,
    pub success: Next,
    pub failure: Next,
}

/// An HTTP API call.
#[derive(Debug, Clone)]
pub struct ApiStep {
    pub method: String,
    pub url: Template,
    pub headers: Vec<(String, Template)>,
    /// JSON body; every string in it is a template.
    pub body: Option<Value>,
    /// `(variable, dotted path into the JSON response)`.
    pub save: Vec<(String, String)>,
    pub timeout_ms: u64,
    pub success: Next,
    pub failure: Next,
}
