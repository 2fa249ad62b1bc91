//! The interpreter: one conversation turn of an agent against a session's state.
//!
//! The run loop follows Voiceflow's open-source runtime (`runtime/lib/Runtime/cycleStack.ts` and
//! `cycleHandler.ts` in [voiceflow/general-runtime](https://github.com/voiceflow/general-runtime)):
//! the top frame of the stack runs node after node until a node *waits* for the user (it keeps its id in the frame),
//! the flow finishes (the frame is popped and its caller resumes), the stack changes (a command
//! jumped or pushed), or the conversation ends. Only the first node of a turn sees the request;
//! the rest run in "running" mode. Limits on steps and stack depth keep any agent from looping
//! forever; hitting one ends the turn with an error trace, never a panic.

mod http;
mod input;
mod scope;
mod steps;

pub use http::{
    DEFAULT_WEBHOOK_TIMEOUT_MS, FollowupEvent, MAX_RESPONSE_BYTES, WebhookMessage, WebhookRequest,
    WebhookResponse,
};

use std::time::Instant;

use serde_json::{Map, Value};

use crate::effects::Effects;
use crate::event::EventName;
use crate::program::{Agent, FlowIdx, NodeIdx, NodeRef};
use crate::request::{EventRequest, GeneralRequest, IntentRequest, Request};
use crate::state::{Frame, FrameStorage, Output, SessionState, Storage};
use crate::trace::{Trace, TraceKind, TraceSink};

/// Per-turn limits and identity.
#[derive(Debug, Clone)]
pub struct TurnOptions {
    /// Exposed to the agent as `{user_id}`.
    pub user_id: String,
    /// Nodes one turn may run before it is stopped.
    pub max_steps: u32,
    /// Frames the stack may hold.
    pub max_depth: usize,
    /// Custom actions with these names wait for the client even when the agent says not to
    /// (the DM API's `config.stopTypes`).
    pub stop_types: Vec<String>,
    /// Every custom action waits for the client (`config.stopAll`).
    pub stop_all: bool,
    /// Longest `text` request, in characters: a longer one is refused before anything runs
    /// ([`TurnError::TextTooLong`]). Servers check it at their edge too; this is the bound no
    /// way into a turn can bypass.
    pub max_text_chars: usize,
    /// When the turn must stop ([`TurnError::DeadlineExceeded`]). The CPU-bound parts of a
    /// turn (classifying text, running nodes) read the clock as they go, so the deadline
    /// holds even when nothing awaits; `None`: no deadline.
    pub deadline: Option<Instant>,
}

impl TurnOptions {
    /// The default [`TurnOptions::max_text_chars`], 4,096: a Telegram message's limit, far
    /// above what anyone types or says in one turn.
    pub const DEFAULT_MAX_TEXT_CHARS: usize = 4096;
}

impl Default for TurnOptions {
    fn default() -> Self {
        TurnOptions {
            user_id: String::new(),
            max_steps: 1000,
            max_depth: 60,
            stop_types: Vec::new(),
            stop_all: false,
            max_text_chars: Self::DEFAULT_MAX_TEXT_CHARS,
            deadline: None,
        }
    }
}

/// Why a turn stopped without a result to commit; the session must be left as it was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TurnError {
    /// A `text` request longer than [`TurnOptions::max_text_chars`]; nothing ran.
    #[error("the text is longer than {limit} characters (the `max_text_chars` limit)")]
    TextTooLong {
        /// The limit, in characters.
        limit: usize,
    },
    /// The turn ran past [`TurnOptions::deadline`].
    #[error("the turn ran past its deadline")]
    DeadlineExceeded,
}

/// Whether `text` has more than `limit` characters, in at most `limit + 1` steps.
pub fn text_too_long(text: &str, limit: usize) -> bool {
    // A character is 1 to 4 bytes: the byte length often settles it without counting.
    text.len() > limit
        && (text.len() > limit.saturating_mul(4) || text.chars().nth(limit).is_some())
}

/// What happened in a turn, besides its traces.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TurnOutcome {
    /// The conversation is over; the next request starts a new session.
    pub ended: bool,
    /// Nodes run.
    pub steps: u32,
    /// `followupEvent`s handled.
    pub followups: u32,
    /// Set when the turn stopped without a result: its traces and `state` must be dropped.
    pub error: Option<TurnError>,
}

/// Runs one turn: `request` against `state`, emitting traces into `sink` as they happen.
///
/// Errors inside the turn (a failing webhook, a bad expression, a limit) become traces; the turn
/// always leaves `state` consistent, ready to be committed — except when
/// [`TurnOutcome::error`] is set (a text over [`TurnOptions::max_text_chars`], a passed
/// [`TurnOptions::deadline`]): then nothing of the turn may be kept.
///
/// ```
/// use turnstile_engine::{load_agent_str, run_turn, Request, SessionState, TurnOptions};
/// # use turnstile_engine::effects::*;
/// # struct Fixed;
/// # impl Effects for Fixed {
/// #     fn now_ms(&self) -> u64 { 0 }
/// #     fn random_below(&self, _: usize) -> usize { 0 }
/// #     async fn http(&self, _: HttpRequest) -> Result<HttpResponse, HttpError> { Err(HttpError::Timeout) }
/// # }
/// let agent = load_agent_str("hello.yaml", "flows:\n  main:\n    steps:\n      - say: Hello {user_id}!\n").unwrap();
/// let mut state = SessionState::default();
/// let mut traces = Vec::new();
/// let options = TurnOptions { user_id: "ada".into(), ..Default::default() };
/// # let effects = Fixed;
/// let outcome = futures_lite_block_on(run_turn(&agent, &mut state, Request::Launch, &effects, &mut traces, &options));
/// // Bookkeeping traces (`flow`, `block`) come too; what the agent says is in the text traces.
/// let said: Vec<_> = traces.iter().filter_map(|t| t.message()).collect();
/// assert_eq!(said, ["Hello ada!"]);
/// assert!(outcome.ended);
/// # fn futures_lite_block_on<F: std::future::Future>(f: F) -> F::Output {
/// #     let waker = std::task::Waker::noop();
/// #     let mut cx = std::task::Context::from_waker(&waker);
/// #     let mut f = std::pin::pin!(f);
/// #     loop { if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; } }
/// # }
/// ```
pub async fn run_turn<E: Effects, S: TraceSink>(
    agent: &Agent,
    state: &mut SessionState,
    request: Request,
    effects: &E,
    sink: &mut S,
    options: &TurnOptions,
) -> TurnOutcome {
    if request == Request::Action {
        return TurnOutcome::default();
    }
    if let Request::Text(text) = &request
        && text_too_long(text, options.max_text_chars)
    {
        return TurnOutcome {
            error: Some(TurnError::TextTooLong {
                limit: options.max_text_chars,
            }),
            ..TurnOutcome::default()
        };
    }
    let mut turn = Turn {
        agent,
        stack: Vec::new(),
        state,
        effects,
        sink,
        options,
        event: None,
        steps: 0,
        followups: 0,
        execution_sequence: Vec::new(),
        ended: false,
        past_deadline: false,
    };
    turn.run(request).await;
    TurnOutcome {
        ended: turn.state.stack.is_empty(),
        steps: turn.steps,
        followups: turn.followups,
        error: turn.past_deadline.then_some(TurnError::DeadlineExceeded),
    }
}

/// The state of a session that was reset without running a turn (the DM API's
/// `POST /state/user/{userID}`): a new session positioned at the start of the agent.
pub fn initial_state(agent: &Agent, user_id: &str) -> SessionState {
    let mut variables = Map::new();
    variables.insert("sessions".into(), Value::from(1));
    if !user_id.is_empty() {
        variables.insert("user_id".into(), Value::from(user_id));
    }
    for name in &agent.variables {
        variables.insert(name.clone(), Value::from(0));
    }
    let flow = agent.flow(agent.start_flow);
    let stack = flow
        .start
        .map(|start| Frame {
            flow: flow.id.clone(),
            node: Some(flow.nodes[start.node as usize].id.clone()),
            storage: FrameStorage::default(),
            variables: flow
                .variables
                .iter()
                .map(|v| (v.clone(), Value::from(0)))
                .collect(),
        })
        .into_iter()
        .collect();
    SessionState {
        stack,
        storage: Storage::default(),
        variables,
        turn: 0,
    }
}

/// A request as the nodes see it (text has become an intent; launch has become "running").
#[derive(Debug, Clone)]
enum Incoming {
    Intent(IntentRequest),
    Event(EventRequest),
    General(GeneralRequest),
    NoReply,
}

/// A frame while the turn runs: flow and node resolved to indices.
#[derive(Debug)]
struct RtFrame {
    flow: FlowIdx,
    node: Option<NodeIdx>,
    variables: Map<String, Value>,
    storage: FrameStorage,
}

/// What a node asks the run loop to do next.
enum Step {
    /// Continue at this node (or finish the flow with `None`).
    Next(Option<NodeRef>),
    /// Wait for the user on the current node.
    Wait,
    /// The stack was changed by the node; re-examine the top frame.
    StackChanged,
    /// End the conversation.
    End,
}

/// How a frame's run ended.
enum FrameExit {
    Wait,
    Continue,
}

struct Turn<'a, E, S> {
    agent: &'a Agent,
    state: &'a mut SessionState,
    stack: Vec<RtFrame>,
    effects: &'a E,
    sink: &'a mut S,
    options: &'a TurnOptions,
    /// The current event and its data, readable as `{event.<key>}`.
    event: Option<EventRequest>,
    steps: u32,
    followups: u32,
    execution_sequence: Vec<Value>,
    ended: bool,
    /// The deadline passed: the turn stops where it is, and its result is dropped.
    past_deadline: bool,
}

impl<E: Effects, S: TraceSink> Turn<'_, E, S> {
    async fn run(&mut self, request: Request) {
        self.state.turn += 1;
        self.restore_stack();
        self.set_request_variables(&request);
        let incoming = match request {
            Request::Launch => {
                self.reset_conversation();
                None
            }
            Request::Text(text) => match self.classify(&text) {
                Some(intent) => Some(Incoming::Intent(intent)),
                None => {
                    self.past_deadline = true;
                    return;
                }
            },
            Request::Intent(intent) => Some(Incoming::Intent(intent)),
            Request::Event(event) => match self.welcome_target(&event.name) {
                Some(name) => {
                    let event = EventRequest {
                        name,
                        data: event.data,
                    };
                    self.event = Some(event.clone());
                    Some(Incoming::Event(event))
                }
                None => {
                    self.event = Some(event);
                    self.reset_conversation();
                    None
                }
            },
            Request::General(general) => Some(Incoming::General(general)),
            Request::NoReply => Some(Incoming::NoReply),
            Request::Action => None,
        };
        let incoming = if self.stack.is_empty() {
            self.start_session();
            // A request that opens a conversation may trigger a command ("one-shot"); otherwise
            // the conversation simply starts.
            match incoming {
                Some(request) if !matches!(request, Incoming::NoReply) => {
                    self.try_commands(&request);
                    None
                }
                _ => None,
            }
        } else {
            incoming
        };
        self.cycle(incoming).await;
        if self.stack.is_empty() && !self.ended {
            self.emit(TraceKind::End { explicit: false });
        }
        self.save_stack();
    }

    /// Event names of the `WELCOME` family launch the agent unless it handles the name (or,
    /// for a platform welcome, plain `WELCOME`). Returns the event to run, or `None` to launch.
    fn welcome_target(&self, name: &EventName) -> Option<EventName> {
        if !name.is_welcome() || self.agent.handles_event(name) {
            return Some(name.clone());
        }
        let welcome = EventName::new("WELCOME").ok()?;
        self.agent.handles_event(&welcome).then_some(welcome)
    }

    /// Runs frames until a node waits, the stack empties or the conversation ends.
    async fn cycle(&mut self, mut incoming: Option<Incoming>) {
        while !self.ended {
            let Some(top) = self.stack.last() else { return };
            if top.node.is_none() {
                self.pop_finished_frame();
                incoming = None;
                continue;
            }
            match self.run_frame(incoming.take()).await {
                FrameExit::Wait => return,
                FrameExit::Continue => {}
            }
        }
    }

    async fn run_frame(&mut self, mut incoming: Option<Incoming>) -> FrameExit {
        loop {
            let Some(top) = self.stack.last() else {
                return FrameExit::Continue;
            };
            let (flow, Some(node)) = (top.flow, top.node) else {
                return FrameExit::Continue;
            };
            self.steps += 1;
            if self.options.deadline.is_some_and(|d| Instant::now() >= d) {
                self.past_deadline = true;
                self.ended = true;
                return FrameExit::Continue;
            }
            if self.steps > self.options.max_steps {
                self.fail(
                    "step_limit",
                    format!(
                        "the turn ran {} steps without waiting for the user; it was stopped",
                        self.options.max_steps
                    ),
                );
                return FrameExit::Continue;
            }
            let at = NodeRef { flow, node };
            self.emit(TraceKind::Block {
                block_id: self.agent.node(at).id.clone(),
            });
            let step = match incoming.take() {
                Some(request) => self.handle_request(at, request).await,
                None => self.handle_running(at).await,
            };
            match step {
                Step::Next(Some(next)) if next.flow == flow => self.set_top_node(Some(next.node)),
                Step::Next(Some(next)) => {
                    self.jump_to(next);
                    return FrameExit::Continue;
                }
                Step::Next(None) => {
                    self.set_top_node(None);
                    return FrameExit::Continue;
                }
                Step::Wait => return FrameExit::Wait,
                Step::StackChanged => return FrameExit::Continue,
                Step::End => {
                    self.emit(TraceKind::End { explicit: true });
                    self.stack.clear();
                    self.ended = true;
                    return FrameExit::Continue;
                }
            }
        }
    }

    fn set_top_node(&mut self, node: Option<NodeIdx>) {
        if let Some(top) = self.stack.last_mut() {
            top.node = node;
        }
    }

    /// Leaves the current flow for `target`: back down to the target flow's frame if it is on
    /// the stack, otherwise the top frame is replaced.
    fn jump_to(&mut self, target: NodeRef) {
        if let Some(at) = self.stack.iter().rposition(|f| f.flow == target.flow) {
            self.stack.truncate(at + 1);
            self.set_top_node(Some(target.node));
        } else {
            self.stack.pop();
            self.push_frame(target, Map::new(), Vec::new());
        }
    }

    /// Pushes a frame for `target`'s flow, starting at `target`'s node.
    fn push_frame(
        &mut self,
        target: NodeRef,
        variables: Map<String, Value>,
        output_map: Vec<(String, String)>,
    ) -> bool {
        if self.stack.len() >= self.options.max_depth {
            self.fail(
                "stack_limit",
                format!(
                    "flows nested deeper than {} frames; the turn was stopped",
                    self.options.max_depth
                ),
            );
            return false;
        }
        let flow = self.agent.flow(target.flow);
        let mut variables = variables;
        for name in &flow.variables {
            variables.entry(name.clone()).or_insert(Value::from(0));
        }
        self.stack.push(RtFrame {
            flow: target.flow,
            node: Some(target.node),
            variables,
            storage: FrameStorage {
                output_map,
                ..FrameStorage::default()
            },
        });
        self.emit(TraceKind::Flow {
            diagram_id: flow.id.clone(),
            name: flow.name.clone(),
        });
        true
    }

    /// Pops a finished frame; its caller gets the outputs and, if a command interrupted it,
    /// hears its last output again.
    fn pop_finished_frame(&mut self) {
        let Some(done) = self.stack.pop() else { return };
        for (from, to) in &done.storage.output_map {
            let value = done.variables.get(from).cloned().unwrap_or(Value::Null);
            self.assign(to, value);
        }
        let Some(top) = self.stack.last_mut() else {
            return;
        };
        if std::mem::take(&mut top.storage.called_command)
            && let Some(output) = top.storage.output.clone()
        {
            self.emit_output(&output);
        }
    }

    /// Launch semantics: the stack and storage are reset, variables are kept.
    fn reset_conversation(&mut self) {
        self.stack.clear();
        self.state.storage = Storage::default();
    }

    /// A new session: `sessions` + 1, declared variables initialised, the start flow entered.
    fn start_session(&mut self) {
        let vars = &mut self.state.variables;
        let sessions = vars.get("sessions").and_then(Value::as_u64).unwrap_or(0);
        vars.insert("sessions".into(), Value::from(sessions + 1));
        for name in &self.agent.variables {
            vars.entry(name.clone()).or_insert(Value::from(0));
        }
        self.state.storage = Storage::default();
        // An empty start flow has no start: the conversation ends at once.
        if let Some(start) = self.agent.flow(self.agent.start_flow).start {
            self.push_frame(start, Map::new(), Vec::new());
        }
    }

    /// Ends the turn with an error trace (shown to clients) and ends the conversation.
    fn fail(&mut self, code: &str, message: String) {
        self.emit(TraceKind::Custom {
            name: "error".into(),
            payload: serde_json::json!({ "code": code, "message": message }),
            paths: Vec::new(),
            default_path: None,
        });
        self.emit(TraceKind::End { explicit: true });
        self.stack.clear();
        self.ended = true;
    }

    fn emit(&mut self, kind: TraceKind) {
        let time = self.effects.now_ms();
        self.sink.emit(Trace { kind, time });
    }

    fn emit_output(&mut self, output: &Output) {
        match output {
            Output::Text(message) => {
                let delay = self.agent.settings.message_delay_ms;
                self.emit_text(String::new(), message.clone(), delay);
            }
            Output::Speak(message) => self.emit(TraceKind::Speak {
                message: message.clone(),
            }),
        }
    }

    fn emit_debug(&mut self, kind: &str, message: String) {
        self.emit(TraceKind::Debug {
            kind: Some(kind.to_owned()),
            message,
            extra: Map::new(),
        });
    }

    fn emit_path(&mut self, path: impl Into<String>) {
        self.emit(TraceKind::Path { path: path.into() });
    }

    /// Resolves the persisted stack against the agent. A stack that names flows or nodes the
    /// agent no longer has (it was changed) restarts the conversation.
    fn restore_stack(&mut self) {
        let frames = std::mem::take(&mut self.state.stack);
        let mut stack = Vec::with_capacity(frames.len() + 2);
        for frame in frames {
            let Some(flow) = self.agent.flow_index(&frame.flow) else {
                return self.stale_stack(&frame.flow);
            };
            let node = match &frame.node {
                None => None,
                Some(id) => match self.agent.flow(flow).node_index(id) {
                    Some(node) => Some(node),
                    None => return self.stale_stack(id),
                },
            };
            stack.push(RtFrame {
                flow,
                node,
                variables: frame.variables,
                storage: frame.storage,
            });
        }
        self.stack = stack;
    }

    fn stale_stack(&mut self, missing: &str) {
        self.stack.clear();
        self.emit_debug(
            "state",
            format!("the agent no longer has `{missing}`; the conversation restarts"),
        );
    }

    fn save_stack(&mut self) {
        let agent = self.agent;
        self.state.stack = self
            .stack
            .drain(..)
            .map(|frame| {
                let flow = agent.flow(frame.flow);
                Frame {
                    flow: flow.id.clone(),
                    node: frame.node.map(|n| flow.nodes[n as usize].id.clone()),
                    storage: frame.storage,
                    variables: frame.variables,
                }
            })
            .collect();
    }
}
