//! What Slack sends: slash commands (a form), interactivity (`payload=<json>` in a form) and
//! Events API callbacks (JSON), read into the requests they ask for.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Map, Value};
use turnstile_engine::request::EventRequest;
use turnstile_engine::{EventName, Request};

use super::{SlackError, user_id};

/// Longest idempotency key derived from a Slack id (session keys are at most 256 characters).
const MAX_KEY_ID: usize = 200;

/// Is this form body Slack's `ssl_check` probe of a slash command URL? (It carries no command
/// and, like bolt, is answered without checking a signature.)
pub fn is_ssl_check(body: &[u8]) -> bool {
    serde_urlencoded::from_bytes::<Vec<(String, String)>>(body)
        .map(|fields| fields.iter().any(|(k, v)| k == "ssl_check" && v == "1"))
        .unwrap_or(false)
}

/// A slash command invocation (the form fields turnstile uses; the others are ignored).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct SlashCommand {
    /// The workspace, `T…`.
    pub team_id: String,
    /// Who typed the command, `U…`/`W…`.
    pub user_id: String,
    /// Where it was typed.
    pub channel_id: String,
    /// The command, with its `/`.
    pub command: String,
    /// Everything after the command (may be empty).
    pub text: String,
    /// Where late answers go (up to 5 within 30 minutes).
    pub response_url: String,
    /// Unique per invocation: the idempotency key.
    pub trigger_id: String,
}

impl SlashCommand {
    /// Reads a slash command form body.
    pub fn parse(body: &[u8]) -> Result<SlashCommand, SlackError> {
        let command: SlashCommand =
            serde_urlencoded::from_bytes(body).map_err(|e| SlackError::Form(e.to_string()))?;
        require("team_id", &command.team_id)?;
        require("user_id", &command.user_id)?;
        require("command", &command.command)?;
        Ok(command)
    }

    /// The session's user id, `slack:{team_id}:{user_id}`.
    pub fn user_id(&self) -> String {
        user_id(&self.team_id, &self.user_id)
    }

    /// The event the command sends: the one `commands` maps it to, else the command's name
    /// without its `/`. The data carries `text` (what followed the command), `command` and
    /// `channel_id`.
    pub fn request(&self, commands: &BTreeMap<String, String>) -> Result<Request, SlackError> {
        let name = match commands.get(&self.command) {
            Some(event) => event.as_str(),
            None => self.command.strip_prefix('/').unwrap_or(&self.command),
        };
        let name = EventName::new(name).map_err(|source| SlackError::CommandEvent {
            command: self.command.chars().take(80).collect(),
            source,
        })?;
        let mut data = Map::new();
        data.insert("text".into(), Value::String(self.text.clone()));
        data.insert("command".into(), Value::String(self.command.clone()));
        data.insert("channel_id".into(), Value::String(self.channel_id.clone()));
        Ok(Request::Event(EventRequest { name, data }))
    }

    /// Redeliveries of one invocation share its `trigger_id`; a command without one (never
    /// seen from Slack) gets no key.
    pub fn idempotency_key(&self) -> Option<String> {
        key("slack-command", &[&self.trigger_id])
    }
}

/// An interactivity delivery (`payload=<json>`).
#[derive(Debug, Clone)]
pub struct Interaction {
    /// `block_actions`, `view_submission`, `shortcut`, …
    pub kind: String,
    /// The workspace (the user's own team on Enterprise Grid org-wide installs).
    pub team_id: String,
    /// Who clicked.
    pub user_id: String,
    /// Where answers to the click go (absent for some surfaces, such as app home).
    pub response_url: Option<String>,
    /// The buttons clicked, in order (select menus and other elements are left out).
    pub clicks: Vec<Click>,
}

/// One clicked button: the request its `value` carries.
#[derive(Debug, Clone)]
pub struct Click {
    /// The button's request, as rendered into its `value` ([`super::button_value`]).
    pub request: Value,
    /// Unique per click: redeliveries share it.
    pub idempotency_key: Option<String>,
}

#[derive(Deserialize)]
struct PayloadForm {
    payload: String,
}

#[derive(Deserialize)]
struct RawInteraction {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    team: Option<RawTeam>,
    user: RawUser,
    #[serde(default)]
    response_url: Option<String>,
    #[serde(default)]
    trigger_id: Option<String>,
    #[serde(default)]
    actions: Vec<RawAction>,
}

#[derive(Deserialize)]
struct RawTeam {
    #[serde(default)]
    id: Option<String>,
}

#[derive(Deserialize)]
struct RawUser {
    id: String,
    #[serde(default)]
    team_id: Option<String>,
}

#[derive(Deserialize)]
struct RawAction {
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    action_id: String,
    #[serde(default)]
    value: Option<String>,
    #[serde(default)]
    action_ts: Option<String>,
}

impl Interaction {
    /// Reads an interactivity form body. A clicked button whose value is not a request
    /// turnstile rendered is an error.
    pub fn parse(body: &[u8]) -> Result<Interaction, SlackError> {
        let form: PayloadForm =
            serde_urlencoded::from_bytes(body).map_err(|e| SlackError::Form(e.to_string()))?;
        let raw: RawInteraction = serde_json::from_str(&form.payload)
            .map_err(|e| SlackError::Json(format!("the interactivity `payload`: {e}")))?;
        let team_id = raw
            .team
            .and_then(|t| t.id)
            .filter(|id| !id.is_empty())
            .or(raw.user.team_id)
            .unwrap_or_default();
        require("team.id", &team_id)?;
        require("user.id", &raw.user.id)?;
        let trigger = raw.trigger_id.unwrap_or_default();
        let clicks = raw
            .actions
            .into_iter()
            .filter(|a| a.kind == "button")
            .map(|action| {
                let value = action.value.unwrap_or_default();
                let request = serde_json::from_str::<Value>(&value)
                    .ok()
                    .filter(|request| Request::from_json(request).is_ok())
                    .ok_or_else(|| SlackError::ButtonValue(value.chars().take(80).collect()))?;
                let click_ts = action.action_ts.unwrap_or_else(|| trigger.clone());
                Ok(Click {
                    request,
                    idempotency_key: key("slack-action", &[&click_ts, &action.action_id]),
                })
            })
            .collect::<Result<_, SlackError>>()?;
        Ok(Interaction {
            kind: raw.kind,
            user_id: raw.user.id,
            team_id,
            response_url: raw.response_url.filter(|url| !url.is_empty()),
            clicks,
        })
    }

    /// The session's user id, `slack:{team}:{user}`.
    pub fn user_id(&self) -> String {
        user_id(&self.team_id, &self.user_id)
    }
}

/// An Events API delivery, as far as turnstile is concerned.
#[derive(Debug, Clone, PartialEq)]
pub enum EventsCallback {
    /// Slack checks the Request URL: answer `{"challenge": …}`.
    UrlVerification {
        /// To be echoed.
        challenge: String,
    },
    /// A person wrote to the app.
    Message(MessageEvent),
    /// Anything else (bot messages, edits, other event types, rate-limit notices): acknowledged
    /// and not run.
    Ignored,
}

/// A `message` or `app_mention` written by a person.
#[derive(Debug, Clone, PartialEq)]
pub struct MessageEvent {
    /// The envelope's workspace.
    pub team_id: String,
    /// The writer.
    pub user: String,
    /// Where to reply.
    pub channel: String,
    /// The thread the message is in, to reply in it.
    pub thread_ts: Option<String>,
    /// The text, without a leading mention of the app.
    pub text: String,
    /// Retries carry the same id.
    pub event_id: String,
}

impl MessageEvent {
    /// The session's user id, `slack:{team_id}:{user}`.
    pub fn user_id(&self) -> String {
        user_id(&self.team_id, &self.user)
    }

    /// What the message asks: a text request.
    pub fn request(&self) -> Request {
        Request::Text(self.text.clone())
    }

    /// `slack-event:{event_id}`: Slack's retries (`X-Slack-Retry-Num`) share it.
    pub fn idempotency_key(&self) -> Option<String> {
        key("slack-event", &[&self.event_id])
    }
}

#[derive(Deserialize)]
struct RawEnvelope {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    challenge: Option<String>,
    #[serde(default)]
    team_id: Option<String>,
    #[serde(default)]
    event_id: Option<String>,
    #[serde(default)]
    event: Option<RawEvent>,
}

#[derive(Deserialize)]
struct RawEvent {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    subtype: Option<String>,
    #[serde(default)]
    bot_id: Option<String>,
    #[serde(default)]
    user: Option<String>,
    #[serde(default)]
    team: Option<String>,
    #[serde(default)]
    channel: Option<String>,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    thread_ts: Option<String>,
}

impl EventsCallback {
    /// Reads an Events API body.
    pub fn parse(body: &[u8]) -> Result<EventsCallback, SlackError> {
        let envelope: RawEnvelope = serde_json::from_slice(body)
            .map_err(|e| SlackError::Json(format!("the Events API body: {e}")))?;
        match envelope.kind.as_str() {
            "url_verification" => {
                let challenge = envelope.challenge.unwrap_or_default();
                require("challenge", &challenge)?;
                Ok(EventsCallback::UrlVerification { challenge })
            }
            "event_callback" => {
                let event = envelope.event.ok_or(SlackError::MissingField("event"))?;
                let from_a_person = matches!(event.kind.as_str(), "message" | "app_mention")
                    && event.subtype.is_none()
                    && event.bot_id.is_none();
                if !from_a_person {
                    return Ok(EventsCallback::Ignored);
                }
                let text = strip_leading_mention(event.text.as_deref().unwrap_or_default());
                if text.is_empty() {
                    return Ok(EventsCallback::Ignored);
                }
                let message = MessageEvent {
                    team_id: envelope.team_id.or(event.team).unwrap_or_default(),
                    user: event.user.unwrap_or_default(),
                    channel: event.channel.unwrap_or_default(),
                    thread_ts: event.thread_ts,
                    text: text.to_owned(),
                    event_id: envelope.event_id.unwrap_or_default(),
                };
                require("team_id", &message.team_id)?;
                require("event.user", &message.user)?;
                require("event.channel", &message.channel)?;
                require("event_id", &message.event_id)?;
                Ok(EventsCallback::Message(message))
            }
            _ => Ok(EventsCallback::Ignored),
        }
    }
}

/// `<@U123> hi` → `hi` (also `<@U123|name>`): a mention of the app is how the message reached
/// it, not what the person said.
fn strip_leading_mention(text: &str) -> &str {
    let text = text.trim();
    match text
        .strip_prefix("<@")
        .and_then(|rest| rest.split_once('>'))
    {
        Some((_, rest)) => rest.trim_start(),
        None => text,
    }
}

fn require(field: &'static str, value: &str) -> Result<(), SlackError> {
    if value.is_empty() {
        Err(SlackError::MissingField(field))
    } else {
        Ok(())
    }
}

/// `{prefix}:{id}:{id}…`, or `None` when the first id is missing.
fn key(prefix: &str, ids: &[&str]) -> Option<String> {
    if ids.first().is_none_or(|id| id.is_empty()) {
        return None;
    }
    let mut key = String::from(prefix);
    for id in ids {
        key.push(':');
        key.extend(id.chars().take(MAX_KEY_ID / ids.len()));
    }
    Some(key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    // Shaped like a recorded delivery (bolt's `SlashCommand` fields).
    const COMMAND: &str = "token=gIkuvaNzQIHg97ATvDxqgjtO&team_id=T0001&team_domain=example\
        &enterprise_id=E0001&enterprise_name=Globular%20Construct%20Inc&channel_id=C2147483705\
        &channel_name=test&user_id=U2147483697&user_name=Steve&command=%2Frecent_transactions\
        &text=last+week&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2F1234%2F5678\
        &trigger_id=13345224609.738474920.8088930838d88f008e0&api_app_id=A123456";

    #[test]
    fn a_slash_command_becomes_its_event() {
        let command = SlashCommand::parse(COMMAND.as_bytes()).unwrap();
        assert_eq!(command.user_id(), "slack:T0001:U2147483697");
        assert_eq!(
            command.response_url,
            "https://hooks.slack.com/commands/1234/5678"
        );
        assert_eq!(
            command.idempotency_key().as_deref(),
            Some("slack-command:13345224609.738474920.8088930838d88f008e0")
        );
        let default = command.request(&BTreeMap::new()).unwrap();
        assert_eq!(
            default.to_json(),
            json!({"type": "event", "payload": {"event": {"name": "recent_transactions", "data": {
                "text": "last week", "command": "/recent_transactions", "channel_id": "C2147483705"}}}})
        );
        let mapped = BTreeMap::from([(
            "/recent_transactions".to_owned(),
            "ShowRecentTransactions".to_owned(),
        )]);
        let Request::Event(event) = command.request(&mapped).unwrap() else {
            panic!("not an event")
        };
        assert_eq!(event.name.as_str(), "ShowRecentTransactions");
        assert_eq!(event.data["text"], "last week");
    }

    #[test]
    fn slash_command_errors_say_what_is_wrong() {
        let err = SlashCommand::parse(b"team_id=T1&command=%2Fx").unwrap_err();
        assert_eq!(err, SlackError::MissingField("user_id"));
        let accented =
            SlashCommand::parse("team_id=T1&user_id=U1&command=%2F%C3%BCber".as_bytes()).unwrap();
        let err = accented.request(&BTreeMap::new()).unwrap_err();
        let message = err.to_string();
        assert!(
            message.contains("/über") && message.contains("commands"),
            "{message}"
        );
        assert!(SlashCommand::parse(b"team_id=%ZZ").is_err());
        assert!(is_ssl_check(b"ssl_check=1&token=abc"));
        assert!(!is_ssl_check(COMMAND.as_bytes()));
        assert!(!is_ssl_check(b"\xff\xfe"));
    }

    #[test]
    fn block_actions_carry_the_clicked_buttons_requests() {
        let request = json!({"type": "intent", "payload": {"intent": {"name": "order_pizza"}}});
        let payload = json!({
            "type": "block_actions",
            "team": {"id": "T9TK3CUKW", "domain": "example"},
            "user": {"id": "UA8RXUSPL", "username": "jtorrance", "team_id": "T9TK3CUKW"},
            "api_app_id": "AABA1ABCD",
            "token": "9s8d9as89d8as9d8as989",
            "container": {"type": "message", "message_ts": "1548261231.000200",
                          "channel_id": "CBR2V3XEX", "is_ephemeral": true},
            "trigger_id": "12321423423.333649436676.d8c1bb837935619ccad0f624c448ffb3",
            "channel": {"id": "CBR2V3XEX", "name": "review-updates"},
            "response_url": "https://hooks.slack.com/actions/AABA1ABCD/1232321423432/D09sSasdasdAS9091209",
            "actions": [
                {"type": "button", "action_id": "choice-1-0", "block_id": "turn",
                 "text": {"type": "plain_text", "text": "Order a pizza", "emoji": true},
                 "value": request.to_string(), "action_ts": "1548426417.840180"},
                {"type": "static_select", "action_id": "menu", "block_id": "turn",
                 "selected_option": {"value": "x"}, "action_ts": "1548426417.840181"}
            ]
        });
        let body = serde_urlencoded::to_string([("payload", payload.to_string())]).unwrap();
        let interaction = Interaction::parse(body.as_bytes()).unwrap();
        assert_eq!(interaction.kind, "block_actions");
        assert_eq!(interaction.user_id(), "slack:T9TK3CUKW:UA8RXUSPL");
        assert!(
            interaction
                .response_url
                .as_deref()
                .unwrap()
                .starts_with("https://hooks.slack.com/actions/")
        );
        assert_eq!(
            interaction.clicks.len(),
            1,
            "the select menu is not a click"
        );
        assert_eq!(interaction.clicks[0].request, request);
        assert_eq!(
            interaction.clicks[0].idempotency_key.as_deref(),
            Some("slack-action:1548426417.840180:choice-1-0")
        );

        let mut foreign = payload.clone();
        foreign["actions"][0]["value"] = json!("approve-42");
        let body = serde_urlencoded::to_string([("payload", foreign.to_string())]).unwrap();
        let err = Interaction::parse(body.as_bytes()).unwrap_err();
        assert_eq!(err, SlackError::ButtonValue("approve-42".into()));
        assert!(matches!(
            Interaction::parse(b"payload=%7Bnope"),
            Err(SlackError::Json(_))
        ));
        assert!(matches!(
            Interaction::parse(b"other=1"),
            Err(SlackError::Form(_))
        ));
    }

    #[test]
    fn events_api_messages_become_text() {
        let verification = json!({"token": "Jhj5dZrVaK7ZwHHjRyZWjbDl",
            "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
            "type": "url_verification"});
        assert_eq!(
            EventsCallback::parse(verification.to_string().as_bytes()).unwrap(),
            EventsCallback::UrlVerification {
                challenge: "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P".into()
            }
        );
        let envelope = |event: Value| {
            json!({"token": "XXYYZZ", "team_id": "T123ABC456", "api_app_id": "A123ABC456",
                "event": event, "type": "event_callback", "event_id": "Ev123ABC456",
                "event_time": 1355517523})
            .to_string()
        };
        let message = envelope(json!({"type": "message", "channel": "D123ABC456",
            "user": "U123ABC456", "text": "Live long and prospect.", "ts": "1355517523.000005",
            "event_ts": "1355517523.000005", "channel_type": "im"}));
        let EventsCallback::Message(message) = EventsCallback::parse(message.as_bytes()).unwrap()
        else {
            panic!("not a message")
        };
        assert_eq!(message.user_id(), "slack:T123ABC456:U123ABC456");
        assert_eq!(message.channel, "D123ABC456");
        assert_eq!(
            message.request(),
            Request::Text("Live long and prospect.".into())
        );
        assert_eq!(
            message.idempotency_key().as_deref(),
            Some("slack-event:Ev123ABC456")
        );

        let mention = envelope(json!({"type": "app_mention", "channel": "C1", "user": "U1",
            "text": "<@U0LAN0Z89|bot> is it  open?", "thread_ts": "1.2", "ts": "1.3"}));
        let EventsCallback::Message(mention) = EventsCallback::parse(mention.as_bytes()).unwrap()
        else {
            panic!("not a mention")
        };
        assert_eq!(mention.text, "is it  open?");
        assert_eq!(mention.thread_ts.as_deref(), Some("1.2"));

        for ignored in [
            json!({"type": "message", "subtype": "bot_message", "bot_id": "B1", "text": "hi", "channel": "C1"}),
            json!({"type": "message", "bot_id": "B1", "user": "U1", "text": "hi", "channel": "C1"}),
            json!({"type": "message", "subtype": "message_changed", "channel": "C1"}),
            json!({"type": "reaction_added", "user": "U1"}),
            json!({"type": "app_mention", "user": "U1", "text": "<@U0LAN0Z89>", "channel": "C1"}),
        ] {
            let body = envelope(ignored.clone());
            assert_eq!(
                EventsCallback::parse(body.as_bytes()).unwrap(),
                EventsCallback::Ignored,
                "{ignored}"
            );
        }
        let no_user = envelope(json!({"type": "message", "text": "hi", "channel": "C1"}));
        assert_eq!(
            EventsCallback::parse(no_user.as_bytes()).unwrap_err(),
            SlackError::MissingField("event.user")
        );
        assert!(matches!(
            EventsCallback::parse(b"[]"),
            Err(SlackError::Json(_))
        ));
        let rate_limited = json!({"token": "x", "type": "app_rate_limited", "team_id": "T1",
            "minute_rate_limited": 1518467820, "api_app_id": "A1"});
        assert_eq!(
            EventsCallback::parse(rate_limited.to_string().as_bytes()).unwrap(),
            EventsCallback::Ignored
        );
    }
}
