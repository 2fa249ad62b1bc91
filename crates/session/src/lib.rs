//! turnstile's session layer: one actor per conversation.
//!
//! Every conversation — a `(project, userID)` pair — is owned by one [`ractor`] actor, spawned on
//! first use by the [`Sessions`] registry. The actor runs that conversation's requests one at a
//! time in arrival order; each turn's state is committed to the [`SessionStore`] before the turn
//! is acknowledged (the [`Turn`] ends with its [`TurnResult`]). Traces stream out while the turn runs.
//!
//! In a cluster ([`Sessions::start_placed`]) every commit is fenced with the epoch of this node's
//! claim on the session's partition (see [`Placement`]); sessions of partitions that move away
//! finish their queue and stop ([`Sessions::release_partitions`]).
//!
//! Limits: a bounded queue per session ([`SessionError::QueueFull`]), a turn deadline, a cap on
//! resident sessions (least recently used idle actors are passivated first) and an idle timeout.
//! Passivation is free because state is written through: a passivated session is simply loaded
//! again on its next request. Idempotency keys return the stored result of a turn instead of
//! running it twice.
//!
//! [`SessionStore`]: turnstile_store::SessionStore

#![forbid(unsafe_code)]

mod actor;
mod catalog;
mod config;
mod effects;
mod error;
mod placement;
mod registry;
mod turn;

pub use catalog::{AgentCatalog, DEFAULT_VERSION, PUBLISHED_VERSION, Project};
pub use config::SessionConfig;
pub use effects::{EffectsError, SystemEffects};
pub use error::{BoxError, SessionError};
pub use placement::Placement;
pub use registry::Sessions;
pub use turn::{CollectedTurn, StateOp, Turn, TurnInput, TurnResult, TurnSender};
/// A conversation's identity, `(project, userID)`. It is defined by the store, whose records
/// it keys, and is the same type on every layer above it.
pub use turnstile_store::SessionKey;
pub use turnstile_store::StoreError;
