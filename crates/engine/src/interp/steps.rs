//! Nodes in "running" mode: what each step does when the flow reaches it.

use serde_json::{Map, Value, json};

use super::{Step, Turn};
use crate::effects::Effects;
use crate::program::{CardDef, NodeKind, NodeRef, OptionAction};
use crate::state::Output;
use crate::trace::{Button, Card, TextTrace, TraceKind, TraceSink};

impl<E: Effects, S: TraceSink> Turn<'_, E, S> {
    pub(super) async fn handle_running(&mut self, at: NodeRef) -> Step {
        let agent = self.agent;
        let node = agent.node(at);
        match &node.kind {
            NodeKind::Say {
                variants,
                delay_ms,
                next,
            } => {
                if !variants.is_empty() {
                    let variant = &variants[self.pick(variants.len())];
                    let message = self.render(&variant.text);
                    let delay = delay_ms.unwrap_or(agent.settings.message_delay_ms);
                    self.say(variant.id.clone(), message, delay);
                }
                Step::Next(*next)
            }
            NodeKind::Speak { variants, next } => {
                if !variants.is_empty() {
                    let message = self.render(&variants[self.pick(variants.len())]);
                    self.remember(Output::Speak(message.clone()));
                    self.state
                        .variables
                        .insert("last_response".into(), Value::from(message.clone()));
                    self.emit(TraceKind::Speak { message });
                }
                Step::Next(*next)
            }
            NodeKind::Choice { .. } | NodeKind::Capture { .. } => {
                self.state.storage.no_matches = 0;
                self.state.storage.no_replies = 0;
                self.offer_input(at);
                Step::Wait
            }
            NodeKind::Condition {
                branches,
                otherwise,
            } => {
                for branch in branches {
                    match branch.when.eval_bool(|name| self.lookup(name)) {
                        Ok(true) => return Step::Next(branch.next),
                        Ok(false) => {}
                        Err(e) => self.emit_debug("condition", e.to_string()),
                    }
                }
                Step::Next(*otherwise)
            }
            NodeKind::Set { assignments, next } => {
                for (name, expr) in assignments {
                    match expr.eval(|name| self.lookup(name)) {
                        Ok(value) => self.assign(name, value),
                        Err(e) => self.emit_debug("set", e.to_string()),
                    }
                }
                Step::Next(*next)
            }
            NodeKind::Random { targets, no_repeat } => {
                if targets.is_empty() {
                    return Step::Next(None);
                }
                Step::Next(targets[self.pick_random_branch(&node.id, targets.len(), *no_repeat)])
            }
            NodeKind::Goto { next } => Step::Next(*next),
            NodeKind::Call {
                target,
                inputs,
                outputs,
                next,
            } => {
                let mut variables = Map::new();
                for (name, expr) in inputs {
                    match expr.eval(|name| self.lookup(name)) {
                        Ok(value) => {
                            variables.insert(name.clone(), value);
                        }
                        Err(e) => self.emit_debug("call", e.to_string()),
                    }
                }
                // The loader keeps a call's `next` inside the caller's flow.
                self.set_top_node(next.map(|n| n.node));
                if self.push_frame(*target, variables, outputs.clone()) {
                    Step::StackChanged
                } else {
                    Step::End
                }
            }
            NodeKind::End => Step::End,
            NodeKind::Visual {
                image,
                width,
                height,
                next,
            } => {
                let dimensions = match (width, height) {
                    (Some(w), Some(h)) => json!({ "width": w, "height": h }),
                    _ => Value::Null,
                };
                let payload = json!({
                    "visualType": "image",
                    "image": self.render(image),
                    "device": null,
                    "dimensions": dimensions,
                    "canvasVisibility": "full",
                });
                self.emit(TraceKind::Visual(payload));
                Step::Next(*next)
            }
            NodeKind::Card { card, next, .. } => {
                let rendered = self.render_card(card);
                let waits = !card.buttons.is_empty();
                self.emit(TraceKind::Card(rendered));
                self.wait_or_continue(waits, *next)
            }
            NodeKind::Carousel {
                layout,
                cards,
                next,
                ..
            } => {
                let rendered = cards.iter().map(|c| self.render_card(c)).collect();
                let waits = cards.iter().any(|c| !c.buttons.is_empty());
                self.emit(TraceKind::Carousel {
                    layout: layout.clone(),
                    cards: rendered,
                });
                self.wait_or_continue(waits, *next)
            }
            NodeKind::Action(action) => {
                let payload = self.render_json(&action.payload);
                self.emit(TraceKind::Custom {
                    name: action.name.clone(),
                    payload,
                    paths: action.paths.iter().map(|(name, _)| name.clone()).collect(),
                    default_path: Some(action.default_path),
                });
                if self.action_stops(action) {
                    Step::Wait
                } else {
                    Step::Next(action.default_next())
                }
            }
            NodeKind::Webhook(step) => self.call_webhook(at, step).await,
            NodeKind::Api(step) => self.call_api(step).await,
        }
    }

    /// Does this custom action wait for the client (by the agent, or by the request's config)?
    pub(super) fn action_stops(&self, action: &crate::program::CustomAction) -> bool {
        action.stop || self.options.stop_all || self.options.stop_types.contains(&action.name)
    }

    fn wait_or_continue(&mut self, waits: bool, next: Option<NodeRef>) -> Step {
        if waits {
            self.state.storage.no_matches = 0;
            self.state.storage.no_replies = 0;
            Step::Wait
        } else {
            Step::Next(next)
        }
    }

    /// Emits a text trace, remembers it as the frame's output and as `last_response`.
    pub(super) fn say(&mut self, id: String, message: String, delay: u32) {
        self.remember(Output::Text(message.clone()));
        self.state
            .variables
            .insert("last_response".into(), Value::from(message.clone()));
        self.emit_text(id, message, delay);
    }

    pub(super) fn emit_text(&mut self, id: String, message: String, delay: u32) {
        self.emit(TraceKind::Text(TextTrace { id, message, delay }));
    }

    fn remember(&mut self, output: Output) {
        if let Some(frame) = self.stack.last_mut() {
            frame.storage.output = Some(output);
        }
    }

    /// The buttons (and `no-reply` timeout) of a waiting node, shown when it is entered and again
    /// after each reprompt.
    pub(super) fn offer_input(&mut self, at: NodeRef) {
        let agent = self.agent;
        let node = agent.node(at);
        let (buttons, no_reply) = match &node.kind {
            NodeKind::Choice {
                options, no_reply, ..
            } => {
                let buttons: Vec<Button> = options
                    .iter()
                    .filter_map(|option| {
                        let label = self.render(option.label.as_ref()?);
                        let request = match &option.intent {
                            Some(intent) => json!({
                                "type": "intent",
                                "payload": {
                                    "label": label, "query": label, "entities": [],
                                    "intent": { "name": intent },
                                }
                            }),
                            None => json!({ "type": option.path, "payload": { "label": label } }),
                        };
                        Some(Button {
                            name: label,
                            request,
                        })
                    })
                    .collect();
                (buttons, no_reply)
            }
            NodeKind::Capture {
                quick_replies,
                no_reply,
                ..
            } => {
                let buttons = quick_replies
                    .iter()
                    .map(|label| {
                        let label = self.render(label);
                        Button {
                            request: json!({ "type": "text", "payload": label }),
                            name: label,
                        }
                    })
                    .collect();
                (buttons, no_reply)
            }
            _ => return,
        };
        if !buttons.is_empty() {
            self.emit(TraceKind::Choice { buttons });
        }
        let timeout = no_reply.timeout.or(agent.settings.no_reply_timeout);
        if let Some(timeout) = timeout {
            self.emit(TraceKind::NoReply { timeout });
        }
    }

    fn render_card(&self, card: &CardDef) -> Card {
        Card {
            id: card.id.clone(),
            title: self.render(&card.title),
            description: self.render(&card.description),
            image_url: card.image.as_ref().map(|t| self.render(t)),
            buttons: card
                .buttons
                .iter()
                .map(|(label, path, _action)| {
                    let label = self.render(label);
                    Button {
                        request: json!({ "type": path, "payload": { "label": label, "actions": [] } }),
                        name: label,
                    }
                })
                .collect(),
        }
    }

    /// Renders every string inside a JSON value as a template.
    pub(super) fn render_json(&self, value: &Value) -> Value {
        match value {
            Value::String(s) if s.contains('{') => {
                Value::String(self.render(&crate::program::Template::parse(s)))
            }
            Value::Array(items) => {
                Value::Array(items.iter().map(|v| self.render_json(v)).collect())
            }
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| (k.clone(), self.render_json(v)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }

    pub(super) fn pick(&self, n: usize) -> usize {
        if n <= 1 {
            0
        } else {
            self.effects.random_below(n).min(n - 1)
        }
    }

    /// A random branch; with `no_repeat`, every branch is taken once before any repeats.
    fn pick_random_branch(&mut self, node_id: &str, n: usize, no_repeat: bool) -> usize {
        if !no_repeat {
            return self.pick(n);
        }
        let used = self
            .state
            .storage
            .randoms
            .entry(node_id.to_owned())
            .or_default();
        if used.len() >= n {
            used.clear();
        }
        let free: Vec<usize> = (0..n).filter(|i| !used.contains(&(*i as u32))).collect();
        let choice = free[self.effects.random_below(free.len()).min(free.len() - 1)];
        if let Some(used) = self.state.storage.randoms.get_mut(node_id) {
            used.push(choice as u32);
        }
        choice
    }

    /// Runs an option or card button action.
    pub(super) fn run_option(&mut self, action: OptionAction) -> Step {
        match action {
            OptionAction::Goto(next) => Step::Next(next),
            OptionAction::Push(target) => self.push_over_current(target),
        }
    }

    /// Pushes `target` over the current frame, which says its last output again on return.
    pub(super) fn push_over_current(&mut self, target: NodeRef) -> Step {
        if let Some(top) = self.stack.last_mut() {
            top.storage.called_command = true;
        }
        if self.push_frame(target, Map::new(), Vec::new()) {
            Step::StackChanged
        } else {
            Step::End
        }
    }
}
