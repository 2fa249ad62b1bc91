//! Telegram bots: webhook updates in, Bot API methods out.
//!
//! A bot's webhook (`setWebhook` with a `secret_token`) delivers [`Update`]s. [`verify_secret`]
//! checks the `X-Telegram-Bot-Api-Secret-Token` header in constant time, [`parse_update`] reads
//! the update tolerantly, and [`inbound`] says what it asks for: `/start` is the
//! [`WELCOME_EVENT`] (or a launch), `/command@bot args` the event `command` with data
//! `{text: args}`, other text a text request, a button press the request its `callback_data`
//! encodes ([`encode_callback`]). The session of a chat is `telegram:{chat id}`; the update id
//! is the turn's idempotency key, so a redelivered update does not run twice.
//!
//! [`render`] turns the traces of a turn into Bot API calls ([`BotMethod`]): messages (split
//! past 4096 characters), inline keyboards, photos.

mod callback;
mod input;
mod render;
mod text;
mod update;

pub use callback::{CallbackError, MAX_CALLBACK_DATA, decode_callback, encode_callback};
pub use input::{
    DeadButton, Inbound, TurnRequest, WELCOME_EVENT, idempotency_key, inbound, user_id,
};
pub use render::{
    AnswerCallbackQuery, BotMethod, CHOICE_PROMPT, ChatTarget, MAX_CAPTION, MAX_MESSAGE,
    SendMessage, SendPhoto, keyboard, render,
};
pub use text::{split, utf16_range, utf16_to_byte};
pub use update::{
    CallbackQuery, Chat, InlineKeyboardButton, InlineKeyboardMarkup, Message, MessageEntity,
    Update, User, parse_update,
};

use subtle::ConstantTimeEq;

/// The header in which Telegram repeats the webhook's `secret_token`.
pub const SECRET_HEADER: &str = "x-telegram-bot-api-secret-token";

/// Why a webhook request is not from Telegram.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    /// No `X-Telegram-Bot-Api-Secret-Token` header.
    #[error("missing X-Telegram-Bot-Api-Secret-Token")]
    Missing,
    /// A header that is not the configured secret (or no secret is configured).
    #[error("wrong X-Telegram-Bot-Api-Secret-Token")]
    Wrong,
}

/// Checks the secret header against the configured `secret_token`, in constant time (only the
/// length can leak, and Telegram's tokens are up to 256 characters anyway). An empty configured
/// secret matches nothing.
pub fn verify_secret(expected: &str, header: Option<&[u8]>) -> Result<(), SecretError> {
    let given = header.ok_or(SecretError::Missing)?;
    let same: bool = given.ct_eq(expected.as_bytes()).into();
    if same && !expected.is_empty() {
        Ok(())
    } else {
        Err(SecretError::Wrong)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_secret_must_match_exactly() {
        assert_eq!(verify_secret("s3cret_T-1", Some(b"s3cret_T-1")), Ok(()));
        assert_eq!(verify_secret("s3cret_T-1", None), Err(SecretError::Missing));
        for wrong in [&b""[..], b"s3cret_T-", b"s3cret_T-12", b"S3CRET_T-1"] {
            assert_eq!(
                verify_secret("s3cret_T-1", Some(wrong)),
                Err(SecretError::Wrong)
            );
        }
        assert_eq!(verify_secret("", Some(b"")), Err(SecretError::Wrong));
    }
}
