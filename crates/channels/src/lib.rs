//! turnstile's channels: how people on Slack, Telegram, the phone and a web page reach an agent.
//!
//! Each platform module turns the platform's payloads into conversation [`Request`]s (a command
//! becomes an event, a reply becomes text, a button click becomes the button's request), derives
//! the session's user id, verifies the platform's signature or secret, and renders the turn's
//! [`Trace`]s in the platform's own format. The modules keep no state: the HTTP routes (in
//! `turnstile-edge`) run the turns through the session layer, and duplicate deliveries are
//! recognised through the session's idempotency keys.
//!
//! - [`slack`]: slash commands, interactivity (`block_actions`) and the Events API; Block Kit.
//! - [`telegram`]: bot webhooks (`Update`s) and Bot API methods.
//! - [`voice`]: telephony events in, voice actions out.
//! - [`webchat`]: the self-contained chat page.
//!
//! What is enabled, per project, is a [`ChannelsConfig`].
//!
//! [`Request`]: turnstile_engine::Request
//! [`Trace`]: turnstile_engine::Trace

#![forbid(unsafe_code)]

mod config;
pub mod slack;
mod ssml;
pub mod telegram;
pub mod voice;
pub mod webchat;

pub use config::{ChannelsConfig, SlackConfig, TelegramConfig, VoiceConfig};
pub use ssml::strip_ssml;
