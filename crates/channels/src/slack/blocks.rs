//! Traces → a Slack message in Block Kit: text and speech become `section`s, a choice an
//! `actions` block of buttons (each button's `value` is the request it sends), images `image`
//! blocks, cards a section with the card's image and buttons, and the end of the conversation a
//! `context` line. Slack's size limits are respected so that Slack never refuses a whole answer
//! because of one oversized part.

use serde::Serialize;
use serde_json::{Value, json};
use turnstile_engine::trace::{Button, Card};
use turnstile_engine::{Trace, TraceKind};

use crate::strip_ssml;

/// Most blocks in one message.
const MAX_BLOCKS: usize = 50;
/// Longest `section` text.
const MAX_SECTION: usize = 3000;
/// Most elements in one `actions` block.
const MAX_BUTTONS: usize = 25;
/// Longest button label.
const MAX_LABEL: usize = 75;
/// Longest button value.
pub const MAX_VALUE: usize = 2000;
/// Longest image URL.
const MAX_IMAGE_URL: usize = 3000;
/// What the `context` line says after the last trace of a conversation.
pub const ENDED: &str = "_The conversation has ended._";

/// A Slack message: the body of a slash command answer, a `response_url` POST or (with a
/// channel) `chat.postMessage`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Message {
    /// `ephemeral` (only the person sees it) or `in_channel`; for answers to commands and
    /// clicks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_type: Option<&'static str>,
    /// `false`: a click's answer is a new message; the one with the buttons stays.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replace_original: Option<bool>,
    /// Where `chat.postMessage` posts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    /// The thread `chat.postMessage` answers in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thread_ts: Option<String>,
    /// The notification and fallback text: the messages of the turn.
    pub text: String,
    /// The Block Kit layout.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub blocks: Vec<Block>,
}

/// One Block Kit layout block.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Block {
    /// A paragraph, with an optional image beside it.
    Section {
        /// The paragraph (`mrkdwn`).
        text: Text,
        /// An image shown beside the text (cards).
        #[serde(skip_serializing_if = "Option::is_none")]
        accessory: Option<Image>,
    },
    /// A row of buttons.
    Actions {
        /// The buttons.
        elements: Vec<ButtonElement>,
    },
    /// A full-width image.
    Image {
        /// Public URL of the image.
        image_url: String,
        /// Text for screen readers.
        alt_text: String,
    },
    /// Small print.
    Context {
        /// The lines.
        elements: Vec<Text>,
    },
    /// A horizontal rule (between carousel cards).
    Divider,
}

/// A text object: `{"type": "mrkdwn" | "plain_text", "text": …}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Text {
    /// `mrkdwn` or `plain_text`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The text.
    pub text: String,
}

/// An image element (a section's accessory).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Image {
    /// Always `image`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Public URL of the image.
    pub image_url: String,
    /// Text for screen readers.
    pub alt_text: String,
}

/// A button element.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ButtonElement {
    /// Always `button`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The label (`plain_text`).
    pub text: Text,
    /// Unique within the message.
    pub action_id: String,
    /// The request a click sends ([`button_value`]).
    pub value: String,
}

impl Message {
    /// A message of plain text and no blocks (acknowledgements, errors).
    pub fn notice(text: &str) -> Message {
        Message {
            text: escape(text),
            ..Message::default()
        }
    }

    /// Nothing to show: Slack refuses a message without text or blocks.
    pub fn is_empty(&self) -> bool {
        self.text.is_empty() && self.blocks.is_empty()
    }

    /// Only the person who typed or clicked sees it.
    pub fn ephemeral(mut self) -> Message {
        self.response_type = Some("ephemeral");
        self
    }

    /// For `chat.postMessage` into `channel` (in a thread when `thread_ts` is given).
    pub fn to_channel(mut self, channel: &str, thread_ts: Option<&str>) -> Message {
        self.channel = Some(channel.to_owned());
        self.thread_ts = thread_ts.map(str::to_owned);
        self
    }
}

/// A turn's traces as one Slack message. Trace types without a Slack rendering (`path`,
/// `debug`, `no-reply`, custom actions…) are left out.
pub fn render(traces: &[Trace]) -> Message {
    let mut out = Renderer::default();
    for trace in traces {
        match &trace.kind {
            TraceKind::Text(text) => out.say(&text.message),
            TraceKind::Speak { message } => out.say(&strip_ssml(message)),
            TraceKind::Choice { buttons } => out.buttons(buttons),
            TraceKind::Visual(payload) => out.image(payload),
            TraceKind::Card(card) => out.card(card),
            TraceKind::Carousel { cards, .. } => {
                for (i, card) in cards.iter().enumerate() {
                    if i > 0 {
                        out.blocks.push(Block::Divider);
                    }
                    out.card(card);
                }
            }
            TraceKind::End { .. } => out.blocks.push(Block::Context {
                elements: vec![mrkdwn(ENDED.to_owned())],
            }),
            _ => {}
        }
    }
    out.finish()
}

/// The `value` of a button: the request it sends, as DM API JSON. A request too long for
/// Slack's 2000 characters becomes the button's label as text (which the agent's NLU reads
/// like a typed reply).
pub fn button_value(button: &Button) -> String {
    let value = button.request.to_string();
    if value.chars().count() <= MAX_VALUE {
        return value;
    }
    let label: String = button.name.chars().take(MAX_VALUE / 2).collect();
    json!({"type": "text", "payload": label}).to_string()
}

#[derive(Default)]
struct Renderer {
    blocks: Vec<Block>,
    said: Vec<String>,
    titles: Vec<String>,
    labels: Vec<String>,
    buttons: usize,
}

impl Renderer {
    fn say(&mut self, message: &str) {
        let message = message.trim();
        if message.is_empty() {
            return;
        }
        self.said.push(message.to_owned());
        self.section(&escape(message), None);
    }

    /// One or more sections (a long text is cut at Slack's section limit).
    fn section(&mut self, text: &str, mut accessory: Option<Image>) {
        let chars: Vec<char> = text.chars().collect();
        for chunk in chars.chunks(MAX_SECTION) {
            self.blocks.push(Block::Section {
                text: mrkdwn(chunk.iter().collect()),
                accessory: accessory.take(),
            });
        }
    }

    fn buttons(&mut self, buttons: &[Button]) {
        for row in buttons.chunks(MAX_BUTTONS) {
            let elements = row
                .iter()
                .map(|button| {
                    self.buttons += 1;
                    self.labels.push(button.name.clone());
                    ButtonElement {
                        kind: "button",
                        text: Text {
                            kind: "plain_text",
                            text: label(&button.name),
                        },
                        action_id: format!("turnstile-button-{}", self.buttons),
                        value: button_value(button),
                    }
                })
                .collect();
            self.blocks.push(Block::Actions { elements });
        }
    }

    fn image(&mut self, payload: &Value) {
        let url = payload
            .get("image")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if let Some(image_url) = image_url(url) {
            self.blocks.push(Block::Image {
                alt_text: alt_text(&image_url),
                image_url,
            });
        }
    }

    fn card(&mut self, card: &Card) {
        let image = card.image_url.as_deref().and_then(image_url);
        let text = match (card.title.trim(), card.description.trim()) {
            ("", "") => String::new(),
            (title, "") => format!("*{}*", escape(title)),
            ("", description) => escape(description),
            (title, description) => format!("*{}*\n{}", escape(title), escape(description)),
        };
        if !card.title.trim().is_empty() {
            self.titles.push(card.title.trim().to_owned());
        }
        match (text.is_empty(), image) {
            (false, image) => {
                let accessory = image.map(|image_url| Image {
                    kind: "image",
                    alt_text: if card.title.is_empty() {
                        alt_text(&image_url)
                    } else {
                        card.title.chars().take(2000).collect()
                    },
                    image_url,
                });
                self.section(&text, accessory);
            }
            (true, Some(image_url)) => self.blocks.push(Block::Image {
                alt_text: alt_text(&image_url),
                image_url,
            }),
            (true, None) => {}
        }
        if !card.buttons.is_empty() {
            self.buttons(&card.buttons);
        }
    }

    fn finish(mut self) -> Message {
        if self.blocks.len() > MAX_BLOCKS {
            let hidden = self.blocks.len() - (MAX_BLOCKS - 1);
            self.blocks.truncate(MAX_BLOCKS - 1);
            self.blocks.push(Block::Context {
                elements: vec![mrkdwn(format!("_({hidden} more blocks not shown)_"))],
            });
        }
        let fallback = if !self.said.is_empty() {
            self.said.join("\n")
        } else if !self.titles.is_empty() {
            self.titles.join("\n")
        } else {
            self.labels.join(" · ")
        };
        Message {
            text: escape(&fallback),
            blocks: self.blocks,
            ..Message::default()
        }
    }
}

fn mrkdwn(text: String) -> Text {
    Text {
        kind: "mrkdwn",
        text,
    }
}

/// A button label within Slack's 75 characters (and never empty, which Slack refuses).
fn label(name: &str) -> String {
    let name = name.trim();
    if name.is_empty() {
        return "Select".into();
    }
    if name.chars().count() <= MAX_LABEL {
        return name.to_owned();
    }
    let mut cut: String = name.chars().take(MAX_LABEL - 1).collect();
    cut.push('…');
    cut
}

/// Slack fetches images itself and refuses the whole message for a URL it cannot use, so only
/// public web URLs pass.
fn image_url(url: &str) -> Option<String> {
    let url = url.trim();
    let web = url.starts_with("https://") || url.starts_with("http://");
    (web && url.len() <= MAX_IMAGE_URL).then(|| url.to_owned())
}

/// The file name of an image, for screen readers.
fn alt_text(url: &str) -> String {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    let name = path.rsplit('/').next().unwrap_or_default();
    if name.is_empty() {
        "image".into()
    } else {
        name.chars().take(2000).collect()
    }
}

/// Slack's three control characters in text: `&`, `<` and `>` (`<` would start a link or a
/// mention).
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use turnstile_engine::trace::TextTrace;

    fn trace(kind: TraceKind) -> Trace {
        Trace { kind, time: 0 }
    }

    fn text(message: &str) -> Trace {
        trace(TraceKind::Text(TextTrace {
            id: "t".into(),
            message: message.into(),
            delay: 0,
        }))
    }

    fn button(name: &str, request: Value) -> Button {
        Button {
            name: name.into(),
            request,
        }
    }

    #[test]
    fn a_turn_renders_field_by_field() {
        let order = json!({"type": "intent", "payload": {"intent": {"name": "order_pizza"}}});
        let hours = json!({"type": "path-menu-2", "payload": {"label": "Opening hours"}});
        let traces = [
            text("Welcome to <Pizza> & co!"),
            trace(TraceKind::Speak {
                message: "<speak>Hi <break time=\"1s\"/>there</speak>".into(),
            }),
            trace(TraceKind::Path {
                path: "jump".into(),
            }),
            trace(TraceKind::Choice {
                buttons: vec![
                    button("Order a pizza", order.clone()),
                    button("Opening hours", hours.clone()),
                ],
            }),
            trace(TraceKind::Visual(json!({"visualType": "image",
                "image": "https://example.com/img/pizza.png?w=2", "dimensions": null}))),
            trace(TraceKind::Visual(
                json!({"visualType": "image", "image": "file:///etc/passwd"}),
            )),
            trace(TraceKind::End { explicit: true }),
        ];
        let message = serde_json::to_value(render(&traces).ephemeral()).unwrap();
        assert_eq!(
            message,
            json!({
                "response_type": "ephemeral",
                "text": "Welcome to &lt;Pizza&gt; &amp; co!\nHi there",
                "blocks": [
                    {"type": "section", "text": {"type": "mrkdwn", "text": "Welcome to &lt;Pizza&gt; &amp; co!"}},
                    {"type": "section", "text": {"type": "mrkdwn", "text": "Hi there"}},
                    {"type": "actions", "elements": [
                        {"type": "button", "text": {"type": "plain_text", "text": "Order a pizza"},
                         "action_id": "turnstile-button-1", "value": order.to_string()},
                        {"type": "button", "text": {"type": "plain_text", "text": "Opening hours"},
                         "action_id": "turnstile-button-2", "value": hours.to_string()},
                    ]},
                    {"type": "image", "image_url": "https://example.com/img/pizza.png?w=2", "alt_text": "pizza.png"},
                    {"type": "context", "elements": [{"type": "mrkdwn", "text": ENDED}]},
                ]
            })
        );
    }

    #[test]
    fn cards_and_carousels() {
        let card = |title: &str, image: Option<&str>| Card {
            id: title.into(),
            title: title.into(),
            description: format!("About {title}"),
            image_url: image.map(str::to_owned),
            buttons: vec![button(&format!("Pick {title}"), json!({"type": "path-x"}))],
        };
        let traces = [trace(TraceKind::Carousel {
            layout: "Carousel".into(),
            cards: vec![
                card("Espresso", Some("https://example.com/e.png")),
                card("Latte", None),
            ],
        })];
        let message = render(&traces);
        let json = serde_json::to_value(&message).unwrap();
        assert_eq!(message.text, "Espresso\nLatte");
        assert_eq!(
            json["blocks"][0]["text"]["text"],
            "*Espresso*\nAbout Espresso"
        );
        assert_eq!(
            json["blocks"][0]["accessory"],
            json!({"type": "image", "image_url": "https://example.com/e.png", "alt_text": "Espresso"})
        );
        assert_eq!(
            json["blocks"][1]["elements"][0]["text"]["text"],
            "Pick Espresso"
        );
        assert_eq!(json["blocks"][2], json!({"type": "divider"}));
        assert!(json["blocks"][3].get("accessory").is_none());
        assert_eq!(
            json["blocks"][4]["elements"][0]["action_id"],
            "turnstile-button-2"
        );
        assert_eq!(json["blocks"].as_array().unwrap().len(), 5);
    }

    #[test]
    fn slack_limits_are_kept() {
        let long = "x".repeat(MAX_SECTION + 10);
        let many: Vec<Button> = (0..30)
            .map(|i| {
                button(
                    &format!("{i} {}", "long label ".repeat(10)),
                    json!({"type": "path-x"}),
                )
            })
            .collect();
        let big_request = json!({"type": "intent", "payload": {"intent": {"name": "x"}, "query": "q".repeat(3000)}});
        let mut traces = vec![
            text(&long),
            trace(TraceKind::Choice { buttons: many }),
            trace(TraceKind::Choice {
                buttons: vec![button("", big_request)],
            }),
        ];
        let message = render(&traces);
        let json = serde_json::to_value(&message).unwrap();
        let blocks = json["blocks"].as_array().unwrap();
        assert_eq!(
            blocks[0]["text"]["text"].as_str().unwrap().len(),
            MAX_SECTION
        );
        assert_eq!(blocks[1]["text"]["text"].as_str().unwrap().len(), 10);
        assert_eq!(blocks[2]["elements"].as_array().unwrap().len(), MAX_BUTTONS);
        assert_eq!(blocks[3]["elements"].as_array().unwrap().len(), 5);
        let label = blocks[2]["elements"][0]["text"]["text"].as_str().unwrap();
        assert_eq!(label.chars().count(), MAX_LABEL);
        assert!(label.ends_with('…'));
        let fallback = &blocks[4]["elements"][0];
        assert_eq!(fallback["text"]["text"], "Select");
        assert_eq!(
            fallback["value"],
            json!({"type": "text", "payload": ""}).to_string()
        );

        traces = (0..60).map(|i| text(&format!("line {i}"))).collect();
        let message = render(&traces);
        assert_eq!(message.blocks.len(), MAX_BLOCKS);
        assert_eq!(
            message.blocks[MAX_BLOCKS - 1],
            Block::Context {
                elements: vec![mrkdwn("_(11 more blocks not shown)_".into())]
            }
        );
    }

    #[test]
    fn nothing_to_show_is_an_empty_message() {
        let traces = [trace(TraceKind::Path { path: "x".into() }), text("  ")];
        assert!(render(&traces).is_empty());
        let notice = serde_json::to_value(Message::notice("Working on it…").ephemeral()).unwrap();
        assert_eq!(
            notice,
            json!({"response_type": "ephemeral", "text": "Working on it…"})
        );
        let posted =
            serde_json::to_value(render(&[text("hi")]).to_channel("D1", Some("1.2"))).unwrap();
        assert_eq!(posted["channel"], "D1");
        assert_eq!(posted["thread_ts"], "1.2");
    }
}
