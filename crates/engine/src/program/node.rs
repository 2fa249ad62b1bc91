//! Nodes: the steps of a flow.

use serde_json::Value;

use super::{Branch, Next, NodeRef, Template};
use crate::event::EventName;
use crate::expr::Expr;

/// One step of a flow.
#[derive(Debug, Clone)]
pub struct Node {
    /// Unique across the agent: the id traces, state (`stack[].nodeID`) and debug output use.
    pub id: String,
    /// What the node does and where it leads.
    pub kind: NodeKind,
}

/// What a node does. Nodes that wait for the user are [`NodeKind::Choice`],
/// [`NodeKind::Capture`], cards and carousels with buttons, and stopping custom actions.
#[derive(Debug, Clone)]
pub enum NodeKind {
    /// Say one of the variants (picked at random) as a `text` trace.
    Say {
        /// The texts to pick from; an empty list says nothing.
        variants: Vec<SayVariant>,
        /// The trace's `delay` (how long a client waits before showing the next message);
        /// `None` uses the agent's [`Settings::message_delay_ms`](super::Settings).
        delay_ms: Option<u32>,
        /// Where to go next.
        next: Next,
    },
    /// Speak one of the SSML variants as a `speak` trace.
    Speak {
        /// The SSML texts to pick from; an empty list says nothing.
        variants: Vec<Template>,
        /// Where to go next.
        next: Next,
    },
    /// Offer buttons and/or intent alternatives, then wait.
    Choice {
        /// The options, tried in order; the first that matches the request wins.
        options: Vec<ChoiceOption>,
        /// What to do when no option (and no command) matches.
        no_match: NoMatch,
        /// What to do when the user does not answer.
        no_reply: NoReply,
    },
    /// Wait for a reply and store it (or entities from it) in variables.
    Capture {
        /// What to store from the reply.
        target: CaptureTarget,
        /// Quick replies: each sends its label as text.
        quick_replies: Vec<Template>,
        /// What to do when the reply lacks the required entities.
        no_match: NoMatch,
        /// What to do when the user does not answer.
        no_reply: NoReply,
        /// Where to go once the reply is stored.
        next: Next,
    },
    /// Go to the first branch whose expression is true, else `otherwise`.
    Condition {
        /// The branches, in order; an expression that fails to evaluate counts as false (and
        /// emits a debug trace).
        branches: Vec<Branch>,
        /// Where to go when no branch is true.
        otherwise: Next,
    },
    /// Assign variables from expressions, in order.
    Set {
        /// `(variable, expression)`; each expression sees the assignments before it.
        assignments: Vec<(String, Expr)>,
        /// Where to go next.
        next: Next,
    },
    /// Go to one of the targets at random; `no_repeat` cycles through all before repeating.
    Random {
        /// The possible targets; an empty list finishes the flow.
        targets: Vec<Next>,
        /// Take every target once before any repeats (remembered in the session state).
        no_repeat: bool,
    },
    /// Go somewhere else (a `goto` step, or Voiceflow's `start`/`goToNode`).
    Goto {
        /// The target.
        next: Next,
    },
    /// Run another flow and come back (a component): inputs are evaluated in the caller's scope
    /// into the callee's frame variables; outputs are copied back when it finishes.
    Call {
        /// The callee's start node.
        target: NodeRef,
        /// `(callee variable, expression in the caller's scope)`.
        inputs: Vec<(String, Expr)>,
        /// `(callee variable, caller variable)`, copied when the callee finishes.
        outputs: Vec<(String, String)>,
        /// Where the caller continues; always a node of the caller's own flow.
        next: Next,
    },
    /// End the conversation.
    End,
    /// An image (`visual` trace).
    Visual {
        /// The image URL.
        image: Template,
        /// Pixels; the trace carries `dimensions` only when both are known.
        width: Option<u32>,
        /// Pixels; see `width`.
        height: Option<u32>,
        /// Where to go next.
        next: Next,
    },
    /// A card; with buttons it waits for a click.
    Card {
        /// What the card shows.
        card: CardDef,
        /// What to do when a request matches none of the buttons.
        no_match: NoMatch,
        /// Where to go next (at once when the card has no buttons).
        next: Next,
    },
    /// Several cards; with buttons it waits for a click.
    Carousel {
        /// `Carousel` or `List`, passed to the client in the trace.
        layout: String,
        /// The cards, in order.
        cards: Vec<CardDef>,
        /// What to do when a request matches none of the buttons.
        no_match: NoMatch,
        /// Where to go next (at once when no card has buttons).
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
    /// An id unique within the step, used as the text trace's Slate id.
    pub id: String,
    /// The text, with `{variable}` placeholders.
    pub text: Template,
}

/// An option of a choice step. It may show a button (`label`) and reacts to its own button path,
/// to an intent and/or to an event.
#[derive(Debug, Clone)]
pub struct ChoiceOption {
    /// The button's label; `None` for an option that only reacts to an intent or event.
    pub label: Option<Template>,
    /// The request type of this option's button when it has no intent: `path-<step>-<n>`.
    pub path: String,
    /// The intent that chooses this option (its button then sends that intent).
    pub intent: Option<String>,
    /// The event that chooses this option.
    pub event: Option<EventName>,
    /// `(from, to)`: entity name or event data key, copied into variable `to` when chosen.
    pub mappings: Vec<(String, String)>,
    /// What choosing it does.
    pub action: OptionAction,
}

/// What a chosen option does.
#[derive(Debug, Clone, Copy)]
pub enum OptionAction {
    /// Continue at a node (or finish the flow).
    Goto(Next),
    /// Run the flow and come back to this step.
    Push(NodeRef),
}

/// What a capture step stores.
#[derive(Debug, Clone)]
pub enum CaptureTarget {
    /// The whole reply.
    Reply {
        /// The variable that receives the reply's text.
        variable: String,
    },
    /// Entities of the given types found in the reply: `(entity type, variable)`. All are required.
    Entities(Vec<(String, String)>),
}

/// Reprompts when a reply matches nothing.
#[derive(Debug, Clone, Default)]
pub struct NoMatch {
    /// The reprompts, used one per unmatched reply, in order.
    pub prompts: Vec<Template>,
    /// Where to go once the prompts are used up (`None`: keep using the global prompts).
    pub next: Option<Next>,
}

/// Reprompts when the user says nothing.
#[derive(Debug, Clone, Default)]
pub struct NoReply {
    /// Seconds; `None` falls back to the agent's default.
    pub timeout: Option<u32>,
    /// The reprompts, used one per `no-reply` request, in order.
    pub prompts: Vec<Template>,
    /// Where to go once the prompts are used up (`None`: the flow finishes).
    pub next: Option<Next>,
}

/// A card's content.
#[derive(Debug, Clone)]
pub struct CardDef {
    /// Unique within the step; the trace's card id.
    pub id: String,
    /// The card's title.
    pub title: Template,
    /// The card's text.
    pub description: Template,
    /// The image URL, if any.
    pub image: Option<Template>,
    /// Buttons: `(label, request path, action)`.
    pub buttons: Vec<(Template, String, OptionAction)>,
}

/// A custom action: a trace of type `name` with named paths.
#[derive(Debug, Clone)]
pub struct CustomAction {
    /// The trace type, chosen by the agent (`Pay Credit Card`, `handoff`, …).
    pub name: String,
    /// The trace payload; every string in it is a template.
    pub payload: Value,
    /// `(path name, where it goes)`; the client answers with a request of type `path name`.
    pub paths: Vec<(String, Next)>,
    /// Index into `paths` of the path taken when the client does not pick one.
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
    /// Overrides the webhook settings' timeout.
    pub timeout_ms: Option<u64>,
    /// Where to go when the webhook answered (and did not redirect with a follow-up event).
    pub success: Next,
    /// Where to go when the call failed: no answer, a non-2xx status, or a body that is not a
    /// webhook response.
    pub failure: Next,
}

/// An HTTP API call.
#[derive(Debug, Clone)]
pub struct ApiStep {
    /// The HTTP method, upper case (checked by the loader).
    pub method: String,
    /// The URL, with `{variable}` placeholders.
    pub url: Template,
    /// Header names and value templates.
    pub headers: Vec<(String, Template)>,
    /// JSON body; every string in it is a template.
    pub body: Option<Value>,
    /// `(variable, dotted path into the JSON response)`.
    pub save: Vec<(String, String)>,
    /// How long the call may take.
    pub timeout_ms: u64,
    /// Where to go after a 2xx JSON answer, once `save` is applied.
    pub success: Next,
    /// Where to go otherwise (a debug trace says why).
    pub failure: Next,
}
