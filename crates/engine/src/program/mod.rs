//! The typed program IR: what an agent *is* once loaded, whatever format it came from.
//!
//! The shape follows the compiled program model of Voiceflow's open-source runtime
//! (`Program`/`Node` in [voiceflow/general-runtime](https://github.com/voiceflow/general-runtime)
//! and `@voiceflow/base-types`; the `.vfr` export's `programs`, see Voiceflow's
//! [API reference](https://docs.voiceflow.com/)) so that both the native YAML format and `.vfr`
//! exports compile into it:
//! * an agent is a set of [`Flow`]s (Voiceflow "diagrams"), each a graph of [`Node`]s with ids;
//! * edges are direct node references ([`Next`]), like Voiceflow's `nextId`;
//! * the agent's global [`Command`]s are the base frame's commands; each flow has its own
//!   commands, active while the flow is on the stack;
//! * a frame waits on a node by keeping its id (see `interp`).

mod node;
mod template;

use std::collections::HashMap;

pub use node::{
    ApiStep, CaptureTarget, CardDef, ChoiceOption, CustomAction, NoMatch, NoReply, Node, NodeKind,
    OptionAction, SayVariant, WebhookStep,
};
pub use template::{Template, TemplatePart};

use crate::event::EventName;
use crate::expr::Expr;
use crate::nlu::NluModel;

/// Index of a flow in [`Agent::flows`].
pub type FlowIdx = u32;
/// Index of a node in [`Flow::nodes`].
pub type NodeIdx = u32;

/// A node anywhere in the agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NodeRef {
    /// The flow, in [`Agent::flows`].
    pub flow: FlowIdx,
    /// The node, in that flow's [`Flow::nodes`].
    pub node: NodeIdx,
}

/// Where to go after a node: a node (possibly in another flow), or `None` to finish the flow.
pub type Next = Option<NodeRef>;

/// A loaded agent.
#[derive(Debug)]
pub struct Agent {
    /// The agent's display name (the web chat page's title, for one).
    pub name: String,
    /// Every flow; [`FlowIdx`] indexes into it.
    pub flows: Vec<Flow>,
    /// The flow a conversation starts in.
    pub start_flow: FlowIdx,
    /// Global commands: the base frame's commands, consulted after every flow's own.
    pub commands: Vec<Command>,
    /// The intents and entities that `text` requests are classified with.
    pub nlu: NluModel,
    /// Agent-wide settings.
    pub settings: Settings,
    /// Declared global variables, initialised to `0` when a session starts.
    pub variables: Vec<String>,
    flow_index: HashMap<String, FlowIdx>,
}

/// A flow: a graph of nodes with one entry point.
#[derive(Debug)]
pub struct Flow {
    /// Unique across the agent; the state's `stack[].diagramID`.
    pub id: String,
    /// A display name, if the agent gives one.
    pub name: Option<String>,
    /// The first node (`None`: the flow is empty and finishes at once).
    pub start: Next,
    /// The nodes; [`NodeIdx`] indexes into it.
    pub nodes: Vec<Node>,
    /// Commands active while the flow is on the stack, consulted before the agent's.
    pub commands: Vec<Command>,
    /// Frame-local variables: writes to these names stay in the flow's frame.
    pub variables: Vec<String>,
    node_index: HashMap<String, NodeIdx>,
}

/// A global or flow-level command: a trigger and what it does.
#[derive(Debug, Clone)]
pub struct Command {
    /// What the command reacts to.
    pub trigger: Trigger,
    /// What it does then.
    pub action: CommandAction,
    /// `(from, to)`: entity name or event data key, copied into variable `to`.
    pub mappings: Vec<(String, String)>,
}

/// What a command or a choice option reacts to.
#[derive(Debug, Clone, PartialEq)]
pub enum Trigger {
    /// An intent, by name (from NLU or an `intent` request).
    Intent(String),
    /// A named event (an `event` request or a webhook's `followupEvent`).
    Event(EventName),
    /// A general request type, e.g. a button path.
    Path(String),
}

/// What a matched command does.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum CommandAction {
    /// Leave the current place for the target (the stack is cut back to the command's frame).
    Jump(NodeRef),
    /// Run the target flow on top of the current one and come back afterwards.
    Push(NodeRef),
}

/// Agent-wide settings.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Default `delay` of text traces, in milliseconds.
    pub message_delay_ms: u32,
    /// Global no-match prompts, said in turn once a step's own reprompts are used up.
    pub no_match: Vec<Template>,
    /// Global no-reply prompts.
    pub no_reply: Vec<Template>,
    /// The default no-reply timeout in seconds (`None`: no `no-reply` trace unless a step sets one).
    pub no_reply_timeout: Option<u32>,
    /// The fulfillment webhook.
    pub webhook: Option<WebhookSettings>,
    /// How many `followupEvent`s one turn may chain.
    pub max_followups: u32,
    /// Prompts are spoken (`speak`) rather than written (`text`).
    pub voice: bool,
}

/// Where the webhook step posts, and how long it waits.
#[derive(Debug, Clone)]
pub struct WebhookSettings {
    /// The endpoint, with `{variable}` placeholders.
    pub url: Template,
    /// How long a call may take before the step fails.
    pub timeout_ms: u64,
    /// Headers sent with every call (authentication, typically).
    pub headers: Vec<(String, Template)>,
}

/// The default global no-match prompt (Voiceflow's).
pub const DEFAULT_NO_MATCH: &str = "Sorry, I didn’t get that. Please try again.";

impl Default for Settings {
    fn default() -> Self {
        Settings {
            message_delay_ms: 1000,
            no_match: vec![Template::literal(DEFAULT_NO_MATCH)],
            no_reply: Vec::new(),
            no_reply_timeout: None,
            webhook: None,
            max_followups: 3,
            voice: false,
        }
    }
}

impl Agent {
    /// Assembles an agent; loaders call this once every reference is resolved.
    pub fn new(
        name: String,
        flows: Vec<Flow>,
        start_flow: FlowIdx,
        commands: Vec<Command>,
        nlu: NluModel,
        settings: Settings,
        variables: Vec<String>,
    ) -> Agent {
        let flow_index = flows
            .iter()
            .enumerate()
            .map(|(i, flow)| (flow.id.clone(), i as FlowIdx))
            .collect();
        Agent {
            name,
            flows,
            start_flow,
            commands,
            nlu,
            settings,
            variables,
            flow_index,
        }
    }

    /// The flow with this id.
    pub fn flow_index(&self, id: &str) -> Option<FlowIdx> {
        self.flow_index.get(id).copied()
    }

    /// The flow at `idx`; panics if it is not an index of [`Agent::flows`] (loaders only make
    /// valid ones).
    pub fn flow(&self, idx: FlowIdx) -> &Flow {
        &self.flows[idx as usize]
    }

    /// The node at `at`; panics if `at` does not come from this agent.
    pub fn node(&self, at: NodeRef) -> &Node {
        &self.flow(at.flow).nodes[at.node as usize]
    }

    /// Does any command or choice option react to this event (exact, case-insensitive name)?
    pub fn handles_event(&self, name: &EventName) -> bool {
        let is_it = |t: &Trigger| matches!(t, Trigger::Event(e) if e == name);
        self.commands.iter().any(|c| is_it(&c.trigger))
            || self.flows.iter().any(|flow| {
                flow.commands.iter().any(|c| is_it(&c.trigger))
                    || flow.nodes.iter().any(|node| match &node.kind {
                        NodeKind::Choice { options, .. } => {
                            options.iter().any(|o| o.event.as_ref() == Some(name))
                        }
                        _ => false,
                    })
            })
    }
}

impl Agent {
    /// Does a general request of this type mean anything to the agent? Button paths
    /// (`path-…`), command paths and custom action paths do; anything else is a client mistake.
    pub fn knows_request_type(&self, kind: &str) -> bool {
        let is_path = |t: &Trigger| matches!(t, Trigger::Path(p) if p == kind);
        kind.starts_with("path-")
            || self.commands.iter().any(|c| is_path(&c.trigger))
            || self.flows.iter().any(|flow| {
                flow.commands.iter().any(|c| is_path(&c.trigger))
                    || flow.nodes.iter().any(|node| match &node.kind {
                        NodeKind::Action(action) => action.paths.iter().any(|(p, _)| p == kind),
                        _ => false,
                    })
            })
    }
}

impl Flow {
    /// Assembles a flow and indexes its nodes by id.
    pub fn new(
        id: String,
        name: Option<String>,
        start: Next,
        nodes: Vec<Node>,
        commands: Vec<Command>,
        variables: Vec<String>,
    ) -> Flow {
        let node_index = nodes
            .iter()
            .enumerate()
            .map(|(i, node)| (node.id.clone(), i as NodeIdx))
            .collect();
        Flow {
            id,
            name,
            start,
            nodes,
            commands,
            variables,
            node_index,
        }
    }

    /// The node with this id.
    pub fn node_index(&self, id: &str) -> Option<NodeIdx> {
        self.node_index.get(id).copied()
    }
}

/// An expression used by a condition branch.
#[derive(Debug, Clone)]
pub struct Branch {
    /// The condition.
    pub when: Expr,
    /// Where to go when it is true.
    pub next: Next,
}
