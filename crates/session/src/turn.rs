//! What a caller sends to a session, and the [`Turn`] that comes back.
//!
//! A turn's contract, written once here for every consumer: its traces arrive in the order the
//! engine produced them, and then the turn ends exactly once — committed ([`TurnResult`]) or
//! failed ([`SessionError`], nothing committed). A session that stops before the turn ended
//! (its actor failed) ends it with [`SessionError::Interrupted`]. A consumer that stops reading
//! does not stop the turn: it still runs and commits, so a retry with the same idempotency key
//! gets its answer.

use std::sync::Arc;

use serde_json::{Map, Value};
use tokio::sync::mpsc;
use turnstile_engine::{Request, SessionState, Trace};

use crate::SessionError;

/// One turn to run.
#[derive(Debug, Clone)]
pub struct TurnInput {
    /// What the user did: the request the engine runs.
    pub request: Request,
    /// The version alias of the project's agent (`development`, `production`).
    pub version: String,
    /// Variables merged into the session before the turn (the DM API's `state.variables`).
    pub variables: Map<String, Value>,
    /// A retry with the same key returns the first result instead of running again.
    pub idempotency_key: Option<String>,
    /// Trace types that end the turn early (the DM API's `config.stopTypes`).
    pub stop_types: Vec<String>,
    /// End the turn at every trace that can wait for the user (`config.stopAll`).
    pub stop_all: bool,
}

impl TurnInput {
    /// A turn on the `development` version with nothing else set.
    pub fn new(request: Request) -> Self {
        TurnInput {
            request,
            version: crate::DEFAULT_VERSION.into(),
            variables: Map::new(),
            idempotency_key: None,
            stop_types: Vec::new(),
            stop_all: false,
        }
    }
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

/// A whole turn, read to its end: what the unary APIs answer.
#[derive(Debug, Clone)]
pub struct CollectedTurn {
    /// Every trace, in order.
    pub traces: Vec<Trace>,
    /// The commit.
    pub result: TurnResult,
}

/// A running turn, as its consumer sees it: traces as they are produced, then one outcome.
///
/// ```
/// use turnstile_engine::{Trace, TraceKind};
/// use turnstile_session::{Turn, TurnResult};
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let (sender, mut turn) = Turn::channel();
/// sender.trace(Trace { kind: TraceKind::Speak { message: "Hello!".into() }, time: 0 });
/// sender.finish(Ok(TurnResult { state: Default::default(), version: 1, replayed: false }));
///
/// assert_eq!(turn.next_trace().await.unwrap().message(), Some("Hello!"));
/// assert!(turn.next_trace().await.is_none());
/// assert_eq!(turn.finish().await.unwrap().version, 1);
/// # });
/// ```
#[derive(Debug)]
pub struct Turn {
    events: mpsc::UnboundedReceiver<Event>,
    /// The outcome, once it has been received (`next_trace` reads past the last trace).
    end: Option<Result<TurnResult, SessionError>>,
}

/// What travels from the producer of a turn to its consumer.
#[derive(Debug)]
enum Event {
    Trace(Trace),
    End(Result<TurnResult, SessionError>),
}

impl Turn {
    /// A turn and the sender that produces it (the session actor, or the reader of a turn
    /// forwarded to another node). Dropping the sender without [`TurnSender::finish`] ends the
    /// turn with [`SessionError::Interrupted`].
    pub fn channel() -> (TurnSender, Turn) {
        let (events, receiver) = mpsc::unbounded_channel();
        (
            TurnSender { events },
            Turn {
                events: receiver,
                end: None,
            },
        )
    }

    /// The next trace, or `None` once the turn has ended ([`Turn::finish`] then tells how).
    pub async fn next_trace(&mut self) -> Option<Trace> {
        if self.end.is_some() {
            return None;
        }
        match self.events.recv().await {
            Some(Event::Trace(trace)) => Some(trace),
            Some(Event::End(outcome)) => {
                self.end = Some(outcome);
                None
            }
            None => {
                self.end = Some(Err(SessionError::Interrupted));
                None
            }
        }
    }

    /// Waits for the turn to end and returns its outcome; traces not read yet are dropped.
    pub async fn finish(mut self) -> Result<TurnResult, SessionError> {
        while self.next_trace().await.is_some() {}
        self.end.take().unwrap_or(Err(SessionError::Interrupted))
    }

    /// Reads the rest of the turn: its traces and its commit.
    pub async fn collect(mut self) -> Result<CollectedTurn, SessionError> {
        let mut traces = Vec::new();
        while let Some(trace) = self.next_trace().await {
            traces.push(trace);
        }
        let result = self.finish().await?;
        Ok(CollectedTurn { traces, result })
    }
}

/// The producing side of a [`Turn`].
#[derive(Debug)]
pub struct TurnSender {
    events: mpsc::UnboundedSender<Event>,
}

impl TurnSender {
    /// Sends a trace. A consumer that went away does not stop the turn, so this never fails.
    pub fn trace(&self, trace: Trace) {
        let _ = self.events.send(Event::Trace(trace));
    }

    /// Ends the turn.
    pub fn finish(self, outcome: Result<TurnResult, SessionError>) {
        let _ = self.events.send(Event::End(outcome));
    }

    /// A turn that fails before it started.
    pub fn failed(error: SessionError) -> Turn {
        let (sender, turn) = Turn::channel();
        sender.finish(Err(error));
        turn
    }
}

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
    Reset {
        /// The version alias whose agent the session restarts on.
        version: String,
    },
    /// Merge variables into it.
    PatchVariables(Map<String, Value>),
}

#[cfg(test)]
mod tests {
    use super::*;
    use turnstile_engine::TraceKind;

    fn said(message: &str) -> Trace {
        Trace {
            kind: TraceKind::Speak {
                message: message.into(),
            },
            time: 0,
        }
    }

    fn committed(version: u64) -> Result<TurnResult, SessionError> {
        Ok(TurnResult {
            state: Arc::default(),
            version,
            replayed: false,
        })
    }

    #[tokio::test]
    async fn a_turn_collects_its_traces_then_its_commit() {
        let (sender, turn) = Turn::channel();
        sender.trace(said("one"));
        sender.trace(said("two"));
        sender.finish(committed(7));
        let collected = turn.collect().await.unwrap();
        let said: Vec<_> = collected.traces.iter().filter_map(Trace::message).collect();
        assert_eq!(said, ["one", "two"]);
        assert_eq!(collected.result.version, 7);
    }

    #[tokio::test]
    async fn a_dropped_sender_interrupts_the_turn() {
        let (sender, mut turn) = Turn::channel();
        sender.trace(said("half"));
        drop(sender);
        assert!(turn.next_trace().await.is_some());
        assert!(turn.next_trace().await.is_none());
        assert!(matches!(
            turn.finish().await,
            Err(SessionError::Interrupted)
        ));
    }

    #[tokio::test]
    async fn finish_skips_unread_traces_and_a_failure_is_the_outcome() {
        let (sender, turn) = Turn::channel();
        sender.trace(said("unread"));
        sender.finish(Err(SessionError::QueueFull { limit: 1 }));
        assert!(matches!(
            turn.finish().await,
            Err(SessionError::QueueFull { limit: 1 })
        ));
        let early = TurnSender::failed(SessionError::ShuttingDown);
        assert!(matches!(
            early.collect().await,
            Err(SessionError::ShuttingDown)
        ));
    }
}
