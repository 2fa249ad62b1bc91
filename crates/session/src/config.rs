//! Limits and timings of the session layer.

use std::time::Duration;

/// How sessions behave under load. [`Default`] gives production-sensible values, and is the one
/// place those defaults are written (the server's `[limits]` falls back to them).
#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// Requests one session may have waiting (beyond this: [`SessionError::QueueFull`]).
    ///
    /// [`SessionError::QueueFull`]: crate::SessionError::QueueFull
    pub max_queue: usize,
    /// Sessions kept in memory; past it, the least recently used idle ones are passivated.
    pub max_resident: usize,
    /// A session idle this long is passivated.
    pub idle_timeout: Duration,
    /// A turn running longer is abandoned (nothing is committed).
    pub turn_deadline: Duration,
    /// Nodes one turn may run.
    pub max_steps: u32,
    /// Longest `text` request, in characters ([`SessionError::TextTooLong`] beyond). The
    /// engine checks it before classifying; the server's edge checks it with the same value.
    ///
    /// [`SessionError::TextTooLong`]: crate::SessionError::TextTooLong
    pub max_text_chars: usize,
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            max_queue: 64,
            max_resident: 100_000,
            idle_timeout: Duration::from_secs(300),
            turn_deadline: Duration::from_secs(15),
            max_steps: turnstile_engine::TurnOptions::default().max_steps,
            max_text_chars: turnstile_engine::TurnOptions::DEFAULT_MAX_TEXT_CHARS,
        }
    }
}
