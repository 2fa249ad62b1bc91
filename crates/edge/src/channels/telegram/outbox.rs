//! Replies going out to the Bot API: in the order of the updates they answer, one chat at a
//! time, and with the token kept out of every log line.
//!
//! Telegram sends a chat's next update only after the webhook answered the previous one, but a
//! slow turn is answered before its reply is sent, so the reply of the next update could
//! overtake it. Each update therefore takes a [`Slot`] in its chat's line when it arrives, and
//! sends only after the slot before it is done. (Across the nodes of a cluster, updates of one
//! chat reach whichever node the load balancer picks; the line is per node.)

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::http::{StatusCode, header};
use serde_json::Value;
use tokio::sync::oneshot;
use turnstile_channels::TelegramConfig;
use turnstile_channels::telegram::BotMethod;

/// A chat of a project.
type Line = (String, i64);
/// The last slot of every chat with replies in flight: its id, and a receiver that resolves when
/// it is done.
type Lines = HashMap<Line, (u64, oneshot::Receiver<()>)>;

/// The chats of this server with replies in flight (held by `ChannelSettings`).
#[derive(Default)]
pub(crate) struct ReplyLines {
    lines: Mutex<Lines>,
    next_slot: AtomicU64,
}

impl std::fmt::Debug for ReplyLines {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReplyLines")
            .field("chats", &self.lock().len())
            .finish()
    }
}

impl ReplyLines {
    fn lock(&self) -> MutexGuard<'_, Lines> {
        // The map stays consistent even if a holder panicked: every operation is a single call.
        self.lines
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// An update's place in its chat's line. Dropping it (after sending, on failure, or when the
/// request is cancelled) lets the next one go.
pub(super) struct Slot {
    lines: Arc<ReplyLines>,
    line: Line,
    id: u64,
    before: Option<oneshot::Receiver<()>>,
    _done: oneshot::Sender<()>,
}

impl Slot {
    /// Joins the end of the line of `chat_id` in `project`.
    pub(super) fn take(lines: &Arc<ReplyLines>, project: &str, chat_id: i64) -> Slot {
        let (done, receiver) = oneshot::channel();
        let id = lines.next_slot.fetch_add(1, Ordering::Relaxed);
        let line = (project.to_owned(), chat_id);
        let before = lines
            .lock()
            .insert(line.clone(), (id, receiver))
            .map(|(_, before)| before);
        Slot {
            lines: lines.clone(),
            line,
            id,
            before,
            _done: done,
        }
    }

    /// Waits until the replies of earlier updates of the chat are out.
    pub(super) async fn wait_turn(&mut self) {
        if let Some(before) = self.before.take() {
            // Resolves with an error when the earlier slot is dropped: that is the signal.
            let _ = before.await;
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut lines = self.lines.lock();
        if lines.get(&self.line).is_some_and(|(id, _)| *id == self.id) {
            lines.remove(&self.line);
        }
    }
}

/// A Telegram bot's side of the Bot API.
#[derive(Clone)]
pub(super) struct Bot {
    http: reqwest::Client,
    /// `{api_base}/bot{token}`: secret, never logged.
    base: String,
    has_token: bool,
}

/// Why a Bot API call did not go through.
#[derive(Debug, thiserror::Error)]
enum CallError {
    #[error("the Bot API could not be reached: {0}")]
    Transport(String),
    #[error("the Bot API refused {method} ({status}): {description}")]
    Refused {
        method: &'static str,
        status: StatusCode,
        description: String,
    },
}

/// The longest `retry_after` worth waiting for inside one delivery.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(5);

impl Bot {
    pub(super) fn new(http: &reqwest::Client, config: &TelegramConfig) -> Bot {
        Bot {
            http: http.clone(),
            base: format!(
                "{}/bot{}",
                config.api_base.trim_end_matches('/'),
                config.bot_token
            ),
            has_token: !config.bot_token.is_empty(),
        }
    }

    /// Can replies be sent through the Bot API (is a bot token configured)?
    pub(super) fn has_token(&self) -> bool {
        self.has_token
    }

    /// Calls the methods in order. A failed call is logged and does not stop the others (a
    /// photo Telegram cannot fetch goes out as its link instead).
    pub(super) async fn send_all(&self, methods: &[BotMethod]) {
        if !self.has_token {
            if !methods.is_empty() {
                tracing::warn!(
                    dropped = methods.len(),
                    "a Telegram reply needs the Bot API, but no bot token is configured"
                );
            }
            return;
        }
        for method in methods {
            let Err(e) = self.call(method).await else {
                continue;
            };
            tracing::warn!(error = %e, "a Telegram reply was not delivered");
            if let (CallError::Refused { .. }, Some(fallback)) = (&e, method.fallback())
                && let Err(e) = self.call(&fallback).await
            {
                tracing::warn!(error = %e, "the fallback of a Telegram reply was not delivered");
            }
        }
    }

    async fn call(&self, method: &BotMethod) -> Result<(), CallError> {
        let body = serde_json::to_vec(&method.params()).unwrap_or_default();
        let mut retried = false;
        loop {
            let response = self
                .http
                .post(format!("{}/{}", self.base, method.name()))
                .header(header::CONTENT_TYPE, "application/json")
                .body(body.clone())
                .send()
                .await
                // The URL holds the bot token: keep it out of the message.
                .map_err(|e| CallError::Transport(e.without_url().to_string()))?;
            let status = response.status();
            let answer: Value = response
                .bytes()
                .await
                .ok()
                .and_then(|b| serde_json::from_slice(&b).ok())
                .unwrap_or(Value::Null);
            if status.is_success() && answer["ok"] != Value::Bool(false) {
                return Ok(());
            }
            let retry_after = answer["parameters"]["retry_after"]
                .as_u64()
                .map(Duration::from_secs)
                .filter(|wait| *wait <= MAX_RETRY_AFTER);
            match retry_after {
                Some(wait) if status == StatusCode::TOO_MANY_REQUESTS && !retried => {
                    retried = true;
                    tokio::time::sleep(wait).await;
                }
                _ => {
                    return Err(CallError::Refused {
                        method: method.name(),
                        status,
                        description: answer["description"]
                            .as_str()
                            .unwrap_or_default()
                            .to_owned(),
                    });
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn slots_of_a_chat_go_in_the_order_they_were_taken() {
        let lines = Arc::new(ReplyLines::default());
        let first = Slot::take(&lines, "p", 1);
        let mut second = Slot::take(&lines, "p", 1);
        let mut other_chat = Slot::take(&lines, "p", 2);
        other_chat.wait_turn().await;
        {
            // Polled once by hand: still pending while the first slot is held (no sleep
            // needed to find out), ready once it is dropped.
            let mut waiting = std::pin::pin!(second.wait_turn());
            let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
            assert!(
                waiting.as_mut().poll(&mut cx).is_pending(),
                "the second waits for the first"
            );
            drop(first);
            waiting.await;
        }
        assert!(lines.lock().contains_key(&("p".to_owned(), 1)));
        drop(second);
        drop(other_chat);
        let lines = lines.lock();
        assert!(
            !lines.contains_key(&("p".to_owned(), 1)),
            "done lines are removed"
        );
        assert!(!lines.contains_key(&("p".to_owned(), 2)));
    }
}
