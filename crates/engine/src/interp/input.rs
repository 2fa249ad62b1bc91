//! Nodes in "request" mode: matching the user's request against choices, captures and
//! commands, and the no-match / no-reply reprompts. The rules are those of Voiceflow's
//! open-source runtime ([voiceflow/general-runtime](https://github.com/voiceflow/general-runtime),
//! `lib/services/runtime/handlers/`: `event.ts` and `command/` for matching and jump/push
//! commands, `noMatch.ts`, `noReply.ts`): commands are searched from the top frame down, a
//! step's own reprompts come before the agent's global ones, and the counters reset when an
//! input step is entered again.

use serde_json::Value;

use super::scope::variable_value;
use super::{Incoming, Step, Turn};
use crate::effects::Effects;
use crate::program::{
    CaptureTarget, ChoiceOption, Command, CommandAction, NoMatch, NoReply, NodeKind, NodeRef,
    Template, Trigger,
};
use crate::trace::TraceSink;

impl<E: Effects, S: TraceSink> Turn<'_, E, S> {
    pub(super) async fn handle_request(&mut self, at: NodeRef, request: Incoming) -> Step {
        let agent = self.agent;
        let node = agent.node(at);
        if matches!(request, Incoming::NoReply) {
            return match waiting_reprompts(&node.kind) {
                Some((_, no_reply)) => self.no_reply(at, no_reply),
                None => self.handle_running(at).await,
            };
        }
        match &node.kind {
            NodeKind::Choice {
                options, no_match, ..
            } => {
                if let Some((i, option)) = options
                    .iter()
                    .enumerate()
                    .find(|(_, o)| option_fires(o, &request))
                {
                    self.emit_path(format!("choice:{}", i + 1));
                    self.apply_mappings(&option.mappings, &request);
                    return self.run_option(option.action);
                }
                if self.try_commands(&request) {
                    return Step::StackChanged;
                }
                self.no_match(at, no_match)
            }
            NodeKind::Capture {
                target,
                no_match,
                next,
                ..
            } => {
                if self.try_commands(&request) {
                    return Step::StackChanged;
                }
                if self.capture(target, &request) {
                    self.emit_path("capture");
                    return Step::Next(*next);
                }
                self.no_match(at, no_match)
            }
            NodeKind::Card { card, no_match, .. } => {
                let cards = std::slice::from_ref(card);
                self.match_card_buttons(at, cards, no_match, &request)
            }
            NodeKind::Carousel {
                cards, no_match, ..
            } => self.match_card_buttons(at, cards, no_match, &request),
            NodeKind::Action(action) if self.action_stops(action) => {
                if let Incoming::General(general) = &request
                    && let Some((_, next)) = action.paths.iter().find(|(p, _)| *p == general.kind)
                {
                    self.emit_path(general.kind.clone());
                    return Step::Next(*next);
                }
                if self.try_commands(&request) {
                    return Step::StackChanged;
                }
                Step::Next(action.default_next())
            }
            // A request at a node that does not wait: commands may take it, otherwise the node
            // just runs.
            _ => {
                if self.try_commands(&request) {
                    Step::StackChanged
                } else {
                    self.handle_running(at).await
                }
            }
        }
    }

    fn match_card_buttons(
        &mut self,
        at: NodeRef,
        cards: &[crate::program::CardDef],
        no_match: &NoMatch,
        request: &Incoming,
    ) -> Step {
        if let Incoming::General(general) = request
            && let Some((_, _, action)) = cards
                .iter()
                .flat_map(|c| c.buttons.iter())
                .find(|(_, path, _)| *path == general.kind)
        {
            return self.run_option(*action);
        }
        if self.try_commands(request) {
            return Step::StackChanged;
        }
        self.no_match(at, no_match)
    }

    /// Stores what a capture step asks for; false when the reply does not have it.
    fn capture(&mut self, target: &CaptureTarget, request: &Incoming) -> bool {
        let reply = match request {
            Incoming::Intent(intent) => intent.query.trim(),
            Incoming::General(general) => general.label.as_deref().unwrap_or("").trim(),
            Incoming::Event(_) | Incoming::NoReply => return false,
        };
        match target {
            CaptureTarget::Reply { variable } => {
                if reply.is_empty() {
                    return false;
                }
                let value = Value::from(reply);
                self.assign(variable, value);
                true
            }
            CaptureTarget::Entities(wanted) => {
                let nlu = &self.agent.nlu;
                let mut found = Vec::with_capacity(wanted.len());
                for (entity_type, variable) in wanted {
                    let given = match request {
                        Incoming::Intent(intent) => intent
                            .entities
                            .iter()
                            .find(|e| e.name == *entity_type || e.name == *variable)
                            .map(|e| e.value.clone()),
                        _ => None,
                    };
                    match given.or_else(|| nlu.extract(reply, entity_type).map(|e| e.value)) {
                        Some(value) => found.push((variable, variable_value(&value))),
                        None => return false,
                    }
                }
                for (variable, value) in found {
                    self.assign(variable, value);
                }
                true
            }
        }
    }

    /// Looks for a command that takes `request`, from the top frame down to the global
    /// commands, and runs the first one found.
    pub(super) fn try_commands(&mut self, request: &Incoming) -> bool {
        let agent = self.agent;
        let in_frames = self
            .stack
            .iter()
            .enumerate()
            .rev()
            .find_map(|(depth, frame)| {
                agent
                    .flow(frame.flow)
                    .commands
                    .iter()
                    .find(|c| fires(&c.trigger, request))
                    .map(|c| (Some(depth), c))
            });
        let found = in_frames.or_else(|| {
            agent
                .commands
                .iter()
                .find(|c| fires(&c.trigger, request))
                .map(|c| (None, c))
        });
        match found {
            Some((depth, command)) => {
                self.run_command(depth, command, request);
                true
            }
            None => false,
        }
    }

    fn run_command(&mut self, depth: Option<usize>, command: &Command, request: &Incoming) {
        self.apply_mappings(&command.mappings, request);
        match command.action {
            CommandAction::Jump(target) => {
                self.emit_path("jump");
                // Back to the frame that owns the command (all the way for a global one).
                self.stack.truncate(depth.map_or(0, |d| d + 1));
                match self.stack.last_mut() {
                    Some(top) if top.flow == target.flow => top.node = Some(target.node),
                    _ => {
                        self.push_frame(target, serde_json::Map::new(), Vec::new());
                    }
                }
            }
            CommandAction::Push(target) => {
                self.emit_path("push");
                self.push_over_current(target);
            }
        }
    }

    /// No-match: the step's own reprompts, then its `no_match` target, else the global
    /// prompts followed by the question again. The step keeps waiting.
    fn no_match(&mut self, at: NodeRef, no_match: &NoMatch) -> Step {
        let agent = self.agent;
        let count = self.state.storage.no_matches as usize;
        if let Some(prompt) = no_match.prompts.get(count) {
            self.reprompt(at, prompt, false);
            self.state.storage.no_matches += 1;
            return Step::Wait;
        }
        if let Some(next) = no_match.next {
            self.state.storage.no_matches = 0;
            self.emit_path("choice:else");
            return Step::Next(next);
        }
        let global = &agent.settings.no_match;
        if global.is_empty() {
            self.emit_path("choice:else");
            return Step::Next(None);
        }
        let prompt = &global[(count - no_match.prompts.len()) % global.len()];
        self.reprompt(at, prompt, true);
        self.state.storage.no_matches += 1;
        Step::Wait
    }

    /// No-reply: the step's reprompts, then the global ones, then its `no_reply` target (or the
    /// end of the flow).
    fn no_reply(&mut self, at: NodeRef, no_reply: &NoReply) -> Step {
        let agent = self.agent;
        let count = self.state.storage.no_replies as usize;
        let global = &agent.settings.no_reply;
        let prompt = no_reply.prompts.get(count).map(|p| (p, false)).or_else(|| {
            global
                .get(count - no_reply.prompts.len())
                .map(|p| (p, true))
        });
        if let Some((prompt, repeat_question)) = prompt {
            self.reprompt(at, prompt, repeat_question);
            self.state.storage.no_replies += 1;
            return Step::Wait;
        }
        self.state.storage.no_replies = 0;
        self.emit_path("choice:noReply");
        Step::Next(no_reply.next.unwrap_or(None))
    }

    /// Says a reprompt, optionally the question again, and offers the step's input again.
    fn reprompt(&mut self, at: NodeRef, prompt: &Template, repeat_question: bool) {
        self.emit_path("reprompt");
        let message = self.render(prompt);
        if self.agent.settings.voice {
            self.emit(crate::trace::TraceKind::Speak { message });
        } else {
            let delay = self.agent.settings.message_delay_ms;
            self.emit_text(String::new(), message, delay);
        }
        if repeat_question
            && let Some(output) = self.stack.last().and_then(|f| f.storage.output.clone())
        {
            self.emit_output(&output);
        }
        self.offer_input(at);
    }
}

/// The reprompt settings of a node that waits for the user.
fn waiting_reprompts(kind: &NodeKind) -> Option<(&NoMatch, &NoReply)> {
    match kind {
        NodeKind::Choice {
            no_match, no_reply, ..
        }
        | NodeKind::Capture {
            no_match, no_reply, ..
        } => Some((no_match, no_reply)),
        _ => None,
    }
}

/// Does `trigger` react to `request`? (Compared in place: this runs for every command of every
/// frame a request is offered to.)
fn fires(trigger: &Trigger, request: &Incoming) -> bool {
    match (trigger, request) {
        (Trigger::Intent(name), Incoming::Intent(intent)) => *name == intent.name,
        (Trigger::Event(name), Incoming::Event(event)) => *name == event.name,
        (Trigger::Path(kind), Incoming::General(general)) => *kind == general.kind,
        _ => false,
    }
}

/// Does a choice option react to `request`: its button path, its intent or its event?
fn option_fires(option: &ChoiceOption, request: &Incoming) -> bool {
    match request {
        Incoming::General(general) => general.kind == option.path,
        Incoming::Intent(intent) => option.intent.as_deref() == Some(intent.name.as_str()),
        Incoming::Event(event) => option.event.as_ref() == Some(&event.name),
        Incoming::NoReply => false,
    }
}
