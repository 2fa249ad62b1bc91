//! Slack: slash commands, interactivity (`block_actions`) and the Events API in; Block Kit out.
//!
//! - Every request is signed ([`signature`]): `X-Slack-Signature` is checked over the raw body
//!   before anything else is read (except the `ssl_check` probe, see [`is_ssl_check`]).
//! - A slash command becomes an event ([`SlashCommand::request`]): the project's
//!   `commands` map names it, else the command without its `/` is the event name; what followed
//!   the command is the event data `text`.
//! - A button click runs the button's request: [`render`] puts the DM API request in each
//!   button's `value` ([`button_value`]), and [`Interaction::parse`] reads it back.
//! - An Events API `message` (or `app_mention`) from a person is a text request
//!   ([`EventsCallback::parse`]).
//! - A session is one person in one workspace: `slack:{team}:{user}` ([`user_id`]).
//! - Redeliveries share an idempotency key (the trigger, the click or the `event_id`), so the
//!   session runs them once.

mod blocks;
mod inbound;
pub mod signature;

pub use blocks::{
    Block, ButtonElement, ENDED, Image, MAX_VALUE, Message, Text, button_value, escape, render,
};
pub use inbound::{Click, EventsCallback, Interaction, MessageEvent, SlashCommand, is_ssl_check};
pub use signature::{SignatureError, sign, verify};

use turnstile_engine::InvalidEventName;

/// Why a Slack payload could not be used. The messages are meant for the app's developer.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SlackError {
    /// The form body could not be read.
    #[error("invalid form body: {0}")]
    Form(String),
    /// A JSON body or payload could not be read.
    #[error("invalid JSON in {0}")]
    Json(String),
    /// A field Slack always sends is missing or empty.
    #[error("the Slack payload has no `{0}`")]
    MissingField(&'static str),
    /// A slash command whose event name (mapped or default) is not a valid event name.
    #[error(
        "the slash command `{command}` has no valid event name ({source}); map it to one in \
         the channel's `commands` (TURNSTILE_SLACK_COMMANDS=/command=EventName in development mode)"
    )]
    CommandEvent {
        /// The command as typed.
        command: String,
        /// Why its event name is invalid.
        source: InvalidEventName,
    },
    /// A clicked button whose `value` is not a request turnstile put there.
    #[error(
        "the clicked button's value {0:?} is not a turnstile request (buttons rendered by \
         turnstile carry DM API request JSON)"
    )]
    ButtonValue(String),
}

/// The session user id of `user` in workspace `team`.
pub fn user_id(team: &str, user: &str) -> String {
    format!("slack:{team}:{user}")
}
