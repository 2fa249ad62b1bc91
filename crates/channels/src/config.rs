//! Per-project channel settings (`[projects.channels]` in turnstile.toml; `TURNSTILE_*`
//! variables in development mode). A channel without its secret is disabled.

use std::collections::BTreeMap;

use serde::Deserialize;

/// The channels of one project. Absent sections are disabled channels.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelsConfig {
    /// Slack: slash commands, buttons and the Events API.
    pub slack: Option<SlackConfig>,
    /// A Telegram bot.
    pub telegram: Option<TelegramConfig>,
    /// Telephony events.
    pub voice: Option<VoiceConfig>,
}

/// A Slack app.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlackConfig {
    /// The app's signing secret (Basic Information → App Credentials): every request's
    /// `X-Slack-Signature` is checked against it.
    pub signing_secret: String,
    /// Slash command → event name, e.g. `"/recent_transactions" = "ShowRecentTransactions"`.
    /// A command not listed becomes the event named after it (without the `/`).
    #[serde(default)]
    pub commands: BTreeMap<String, String>,
    /// The bot token (`xoxb-…`), for replies to Events API messages (`chat.postMessage`).
    /// Without it, messages still run their turns but get no reply.
    #[serde(default)]
    pub bot_token: String,
    /// The Slack Web API's base URL.
    #[serde(default = "default_slack_api")]
    pub api_base: String,
}

/// The Slack Web API's public base URL.
pub fn default_slack_api() -> String {
    "https://slack.com/api".into()
}

/// A Telegram bot.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TelegramConfig {
    /// The `secret_token` given to `setWebhook`: Telegram sends it back in
    /// `X-Telegram-Bot-Api-Secret-Token` with every update.
    pub secret_token: String,
    /// The bot's token (from @BotFather), for Bot API calls (`sendMessage`, …).
    #[serde(default)]
    pub bot_token: String,
    /// The Bot API's base URL.
    #[serde(default = "default_telegram_api")]
    pub api_base: String,
    /// Bot command → event name, e.g. `"/recent_transactions" = "ShowRecentTransactions"`.
    /// A command not listed becomes the event named after it (without the `/`).
    #[serde(default)]
    pub commands: BTreeMap<String, String>,
}

/// The Bot API's public base URL.
pub fn default_telegram_api() -> String {
    "https://api.telegram.org".into()
}

/// Telephony events.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VoiceConfig {
    /// Callers of the voice routes must send `Authorization: Bearer <token>`.
    pub token: String,
}

impl ChannelsConfig {
    /// The development-mode channels, from `TURNSTILE_SLACK_SIGNING_SECRET`,
    /// `TURNSTILE_SLACK_COMMANDS` (`/cmd=Event,/other=Other`), `TURNSTILE_SLACK_BOT_TOKEN`,
    /// `TURNSTILE_SLACK_API_BASE`, `TURNSTILE_TELEGRAM_SECRET_TOKEN`, `TURNSTILE_TELEGRAM_COMMANDS`,
    /// `TURNSTILE_TELEGRAM_BOT_TOKEN`, `TURNSTILE_TELEGRAM_API_BASE` and `TURNSTILE_VOICE_TOKEN`
    /// (read through `var`, so tests can pass their own).
    pub fn from_env(var: impl Fn(&str) -> Option<String>) -> ChannelsConfig {
        let set = |name: &str| var(name).filter(|v| !v.is_empty());
        ChannelsConfig {
            slack: set("TURNSTILE_SLACK_SIGNING_SECRET").map(|signing_secret| SlackConfig {
                signing_secret,
                commands: set("TURNSTILE_SLACK_COMMANDS")
                    .map(|list| command_map(&list))
                    .unwrap_or_default(),
                bot_token: set("TURNSTILE_SLACK_BOT_TOKEN").unwrap_or_default(),
                api_base: set("TURNSTILE_SLACK_API_BASE").unwrap_or_else(default_slack_api),
            }),
            telegram: set("TURNSTILE_TELEGRAM_SECRET_TOKEN").map(|secret_token| TelegramConfig {
                secret_token,
                bot_token: set("TURNSTILE_TELEGRAM_BOT_TOKEN").unwrap_or_default(),
                api_base: set("TURNSTILE_TELEGRAM_API_BASE").unwrap_or_else(default_telegram_api),
                commands: set("TURNSTILE_TELEGRAM_COMMANDS")
                    .map(|list| command_map(&list))
                    .unwrap_or_default(),
            }),
            voice: set("TURNSTILE_VOICE_TOKEN").map(|token| VoiceConfig { token }),
        }
    }
}

/// `/cmd=Event,/other=Other` as a command → event map.
fn command_map(list: &str) -> BTreeMap<String, String> {
    list.split(',')
        .filter_map(|pair| pair.split_once('='))
        .map(|(command, event)| (command.trim().to_owned(), event.trim().to_owned()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn development_channels_come_from_the_environment() {
        let env = |name: &str| {
            match name {
                "TURNSTILE_SLACK_SIGNING_SECRET" => Some("s3cret"),
                "TURNSTILE_SLACK_COMMANDS" => {
                    Some("/recent_transactions=ShowRecentTransactions, /x=Y")
                }
                "TURNSTILE_TELEGRAM_SECRET_TOKEN" => Some("tg"),
                "TURNSTILE_TELEGRAM_COMMANDS" => Some("/balance=ShowBalance"),
                "TURNSTILE_VOICE_TOKEN" => Some(""),
                _ => None,
            }
            .map(str::to_owned)
        };
        let config = ChannelsConfig::from_env(env);
        let slack = config.slack.unwrap();
        assert_eq!(
            slack.commands["/recent_transactions"],
            "ShowRecentTransactions"
        );
        assert_eq!(slack.commands["/x"], "Y");
        let telegram = config.telegram.unwrap();
        assert_eq!(telegram.api_base, "https://api.telegram.org");
        assert_eq!(telegram.commands["/balance"], "ShowBalance");
        assert!(
            config.voice.is_none(),
            "an empty token leaves voice disabled"
        );
    }
}
