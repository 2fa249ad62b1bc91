//! turnstile's dialog engine: the agent model, its loaders, NLU and the turn interpreter.
//!
//! The one entry point that matters is [`run_turn`]: it runs one conversation turn of an
//! [`Agent`] against a session's [`SessionState`], emitting [`Trace`]s into a [`TraceSink`] as
//! they are produced. The engine does no I/O: time, randomness and HTTP come in through
//! [`Effects`], so turns are deterministic under test. It knows nothing of actors, HTTP servers
//! or storage; those crates build on it.
//!
//! Module map:
//! * [`program`]: the typed program IR (flows, nodes, commands, settings);
//! * [`load`]: the native YAML format and its compiler ([`load_agent_str`], [`agent_schema`]);
//! * [`interp`]: the interpreter ([`run_turn`]) and the webhook protocol types;
//! * [`nlu`]: intent classification and entity extraction;
//! * [`request`], [`trace`], [`state`], [`event`], [`expr`], [`effects`]: the vocabulary.

#![forbid(unsafe_code)]

pub mod effects;
pub mod event;
pub mod expr;
pub mod interp;
pub mod load;
pub mod nlu;
pub mod program;
pub mod request;
pub mod state;
pub mod trace;

pub use effects::{Effects, HttpError, HttpRequest, HttpResponse};
pub use event::{EventName, InvalidEventName};
pub use expr::Expr;
pub use interp::{TurnError, TurnOptions, TurnOutcome, initial_state, run_turn, text_too_long};
pub use load::{LoadError, LoadErrorKind, agent_schema, load_agent_str};
pub use program::Agent;
pub use request::{Request, RequestError};
pub use state::SessionState;
pub use trace::{Trace, TraceKind, TraceSink};
