//! What the edge sends to a session, and what comes back.

use std::sync::Arc;

use serde_json::{Map, Value};
use tokio::sync::mpsc;
use turnstile_engine::{Request, SessionState, Trace};

/// One turn to run.
#[derive(Debug, Clone)]
pub struct TurnInput {
    pub request: Request,
    /// The version alias of the project's agent (`development`, `production`).
    pub version: String,
    /// Variables merged into the session before the turn (the DM API's `state.variables`).
    pub variables: Map<String, Value>,
    /// A retry with the same key returns the first result instead of running again.
    pub idempotency_key: Option<String>,
    /// `config.stopTypes`.
    pub stop_types: Vec<String>,
    /// `config.stopAll`.
    pub stop_all: bool,
}

impl TurnInput {
    /// A turn on the `development` version with nothing else set.
    pub fn new(request: Request) -> Self {
        TurnInput {
            request,
            version: "development".into(),
            variables: Map::new(),
            idempotency_key: None,
            stop_types: Vec::new(),
            stop_all: false,
        }
    }
}

/// What a turn streams back.
#[derive(Debug)]
pub enum TurnEvent {
    /// A trace, as soon as the engine produced it.
    Trace(Trace),
    /// The turn is committed (or was answered from the idempotency record).
    Done(TurnResult),
    /// The turn failed; nothing was committed.
    Failed(crate::SessionError),
}

/// The end of a committed turn.
#[derive(Debug, Clone)]
pub struct TurnResult {
    /// The session state after the turn (shared with the session: no copy per turn).
    pub state: Arc<SessionState>,
    /// The stored version of that state.
    pub version: u64,
    /// The answer came from the idempotency record: the turn had already run.
    pub replayed: bool,
}

/// The receiving end of a turn: traces, then exactly one `Done` or `Failed` (if the channel
/// closes without either, the session crashed and the turn was not committed).
pub type TurnStream = mpsc::UnboundedReceiver<TurnEvent>;

/// Operations on a session's state other than turns (the DM API's state routes).
#[derive(Debug, Clone)]
pub enum StateOp {
    /// Read it (`None`: no session).
    Get,
    /// Replace it whole.
    Put(SessionState),
    /// Delete it.
    Delete,
    /// Start a new session at the beginning of the agent's `version`.
    Reset { version: String },
    /// Merge variables into it.
    PatchVariables(Map<String, Value>),
}
