//! Compiles an [`AgentFile`] into the program IR, checking every reference.

use std::collections::HashMap;

use super::error::{LoadError, LoadErrorKind, Seg, locate, yaml_path};
use super::format::*;
use crate::event::EventName;
use crate::expr::Expr;
use crate::interp::DEFAULT_WEBHOOK_TIMEOUT_MS;
use crate::nlu::{EntityDef, EntityValueDef, IntentDef, NluConfig, NluModel, SlotDef};
use crate::program::*;

/// The most follow-up events a turn may be configured to chain.
const MAX_FOLLOWUPS_LIMIT: u32 = 20;

type Result<T> = std::result::Result<T, LoadError>;

/// Where an id points.
#[derive(Debug, Clone, Copy)]
enum Place {
    Flow(FlowIdx),
    Step(NodeRef),
}

pub(super) struct Compiler<'a> {
    file: &'a str,
    doc: &'a AgentFile,
    marks: Option<marked_yaml::Node>,
    ids: HashMap<String, Place>,
    /// Step ids by flow, in order (explicit or generated).
    step_ids: Vec<Vec<String>>,
    nlu: Option<NluModel>,
}

impl<'a> Compiler<'a> {
    pub(super) fn new(file: &'a str, source: &str, doc: &'a AgentFile) -> Self {
        Compiler {
            file,
            doc,
            marks: marked_yaml::parse_yaml(0, source).ok(),
            ids: HashMap::new(),
            step_ids: Vec::new(),
            nlu: None,
        }
    }

    pub(super) fn err(&self, at: Vec<Seg>, kind: impl Into<LoadErrorKind>) -> LoadError {
        LoadError {
            file: self.file.to_owned(),
            location: self.marks.as_ref().and_then(|root| locate(root, &at)),
            kind: kind.into(),
        }
    }

    pub(super) fn invalid(&self, at: Vec<Seg>, message: impl Into<String>) -> LoadError {
        self.err(at, LoadErrorKind::Invalid(message.into()))
    }

    pub(super) fn compile(mut self) -> Result<Agent> {
        let doc = self.doc;
        if doc.flows.is_empty() {
            return Err(self.invalid(yaml_path!["flows"], "an agent needs at least one flow"));
        }
        self.collect_ids()?;
        self.nlu = Some(self.build_nlu()?);
        let settings = self.settings()?;
        let commands = self.commands(&doc.commands, yaml_path!["commands"])?;
        let mut flows = Vec::with_capacity(doc.flows.len());
        for (index, (id, flow)) in doc.flows.iter().enumerate() {
            flows.push(self.flow(index as FlowIdx, id, flow, &settings)?);
        }
        let start_flow = match &doc.start {
            None => 0,
            Some(start) => match self.ids.get(start) {
                Some(Place::Flow(f)) => *f,
                _ => {
                    return Err(self.err(
                        yaml_path!["start"],
                        LoadErrorKind::UnknownTarget(start.clone()),
                    ));
                }
            },
        };
        let nlu = self.nlu.take().expect("built above");
        Ok(Agent::new(
            doc.name.clone().unwrap_or_else(|| self.file.to_owned()),
            flows,
            start_flow,
            commands,
            nlu,
            settings,
            doc.variables.clone(),
        ))
    }

    fn collect_ids(&mut self) -> Result<()> {
        for (index, id) in self.doc.flows.keys().enumerate() {
            self.ids.insert(id.clone(), Place::Flow(index as FlowIdx));
        }
        for (flow_index, (flow_id, flow)) in self.doc.flows.iter().enumerate() {
            let mut ids = Vec::with_capacity(flow.steps.len());
            for (i, step) in flow.steps.iter().enumerate() {
                let id = step
                    .id
                    .clone()
                    .unwrap_or_else(|| format!("{flow_id}.{}", i + 1));
                if id.is_empty() {
                    return Err(self.invalid(
                        yaml_path!["flows", flow_id, "steps", i, "id"],
                        "a step id cannot be empty",
                    ));
                }
                let place = Place::Step(NodeRef {
                    flow: flow_index as FlowIdx,
                    node: i as NodeIdx,
                });
                if self.ids.insert(id.clone(), place).is_some() {
                    return Err(self.err(
                        yaml_path!["flows", flow_id, "steps", i, "id"],
                        LoadErrorKind::DuplicateId(id),
                    ));
                }
                ids.push(id);
            }
            self.step_ids.push(ids);
        }
        Ok(())
    }

    fn build_nlu(&self) -> Result<NluModel> {
        let doc = self.doc;
        let entities: Vec<EntityDef> = doc
            .entities
            .iter()
            .map(|(name, entity)| EntityDef {
                name: name.clone(),
                values: entity
                    .values
                    .iter()
                    .map(|(value, synonyms)| EntityValueDef {
                        value: value.clone(),
                        synonyms: synonyms.clone(),
                    })
                    .collect(),
            })
            .collect();
        let intents: Vec<IntentDef> = doc
            .intents
            .iter()
            .map(|(name, intent)| {
                let mut slots: Vec<SlotDef> = intent
                    .slots
                    .iter()
                    .map(|(slot, entity_type)| SlotDef {
                        name: slot.clone(),
                        entity_type: entity_type.clone(),
                    })
                    .collect();
                // `{size}` needs no declaration when `size` is an entity type.
                for utterance in &intent.utterances {
                    for var in Template::parse(utterance).variables() {
                        let known_type = var == "number" || doc.entities.contains_key(var);
                        if known_type && !slots.iter().any(|s| s.name == var) {
                            slots.push(SlotDef {
                                name: var.to_owned(),
                                entity_type: var.to_owned(),
                            });
                        }
                    }
                }
                IntentDef {
                    name: name.clone(),
                    utterances: intent.utterances.clone(),
                    slots,
                }
            })
            .collect();
        let mut config = NluConfig::default();
        if let Some(threshold) = doc.settings.nlu_threshold {
            if !(0.0..=1.0).contains(&threshold) {
                return Err(self.invalid(
                    yaml_path!["settings", "nlu_threshold"],
                    "nlu_threshold must be between 0 and 1",
                ));
            }
            config.threshold = threshold;
        }
        NluModel::build(&intents, &entities, &config).map_err(|e| {
            use crate::nlu::NluBuildError as E;
            let at = match &e {
                E::EmptyUtterance { intent, utterance }
                | E::UnknownSlot {
                    intent, utterance, ..
                }
                | E::MalformedUtterance {
                    intent, utterance, ..
                } => {
                    yaml_path!["intents", intent, "utterances", *utterance]
                }
                E::UnknownEntityType { intent, slot, .. } => {
                    yaml_path!["intents", intent, "slots", slot]
                }
                E::DuplicateSlot { intent, .. } | E::DuplicateIntent { intent } => {
                    yaml_path!["intents", intent]
                }
                E::DuplicateEntityType { entity_type }
                | E::ReservedEntityType { entity_type }
                | E::EmptyEntityValue { entity_type, .. } => yaml_path!["entities", entity_type],
                E::InvalidThreshold { .. } => yaml_path!["settings", "nlu_threshold"],
            };
            self.err(at, LoadErrorKind::Nlu(e))
        })
    }

    pub(super) fn nlu(&self) -> &NluModel {
        self.nlu.as_ref().expect("NLU is built before it is used")
    }

    fn settings(&self) -> Result<Settings> {
        let file = &self.doc.settings;
        let mut settings = Settings::default();
        if let Some(delay) = file.message_delay_ms {
            settings.message_delay_ms = delay;
        }
        if let Some(prompts) = &file.no_match {
            settings.no_match = prompts.items().into_iter().map(Template::parse).collect();
        }
        if let Some(no_reply) = &file.no_reply {
            if no_reply.goto.is_some() {
                return Err(self.invalid(
                    yaml_path!["settings", "no_reply", "goto"],
                    "`goto` belongs on a step's no_reply, not in settings",
                ));
            }
            settings.no_reply = no_reply
                .prompts
                .iter()
                .map(|p| Template::parse(p))
                .collect();
            settings.no_reply_timeout = no_reply.timeout;
        }
        if let Some(webhook) = &file.webhook {
            settings.webhook = Some(WebhookSettings {
                url: Template::parse(&webhook.url),
                timeout_ms: webhook.timeout_ms.unwrap_or(DEFAULT_WEBHOOK_TIMEOUT_MS),
                headers: webhook
                    .headers
                    .iter()
                    .map(|(k, v)| (k.clone(), Template::parse(v)))
                    .collect(),
            });
        }
        if let Some(max) = file.max_followups {
            if max > MAX_FOLLOWUPS_LIMIT {
                return Err(self.invalid(
                    yaml_path!["settings", "max_followups"],
                    format!("max_followups can be at most {MAX_FOLLOWUPS_LIMIT}"),
                ));
            }
            settings.max_followups = max;
        }
        settings.voice = file.voice;
        Ok(settings)
    }

    /// Resolves a step or flow id.
    pub(super) fn target(&self, name: &str, at: Vec<Seg>) -> Result<NodeRef> {
        match self.ids.get(name) {
            Some(Place::Step(node)) => Ok(*node),
            Some(Place::Flow(flow)) => {
                if self.doc.flows[*flow as usize].steps.is_empty() {
                    Err(self.invalid(at, format!("flow `{name}` has no steps")))
                } else {
                    Ok(NodeRef {
                        flow: *flow,
                        node: 0,
                    })
                }
            }
            None => Err(self.err(at, LoadErrorKind::UnknownTarget(name.to_owned()))),
        }
    }

    pub(super) fn intent(&self, name: &str, at: Vec<Seg>) -> Result<String> {
        if self.nlu().has_intent(name) {
            Ok(name.to_owned())
        } else {
            Err(self.err(at, LoadErrorKind::UnknownIntent(name.to_owned())))
        }
    }

    pub(super) fn event(&self, name: &str, at: Vec<Seg>) -> Result<EventName> {
        EventName::new(name).map_err(|e| self.err(at, e))
    }

    pub(super) fn expr(&self, source: &ExprFile, at: Vec<Seg>) -> Result<Expr> {
        let text = match source {
            ExprFile::Expression(s) => s.clone(),
            ExprFile::Number(n) => n.to_string(),
            ExprFile::Bool(b) => b.to_string(),
        };
        Expr::parse(&text).map_err(|e| self.err(at, e))
    }

    fn commands(&self, commands: &[CommandFile], at: Vec<Seg>) -> Result<Vec<Command>> {
        let mut out = Vec::with_capacity(commands.len());
        for (i, command) in commands.iter().enumerate() {
            let here = |field: &str| {
                let mut p = at.clone();
                p.push(Seg::Index(i));
                p.push(Seg::from(field));
                p
            };
            let trigger = match (&command.intent, &command.event, &command.path) {
                (Some(intent), None, None) => Trigger::Intent(self.intent(intent, here("intent"))?),
                (None, Some(event), None) => Trigger::Event(self.event(event, here("event"))?),
                (None, None, Some(path)) => Trigger::Path(path.clone()),
                _ => {
                    return Err(self.invalid(
                        here(""),
                        "a command needs exactly one trigger: `intent`, `event` or `path`",
                    ));
                }
            };
            let action = match (&command.jump, &command.push) {
                (Some(jump), None) => CommandAction::Jump(self.target(jump, here("jump"))?),
                (None, Some(push)) => CommandAction::Push(self.target(push, here("push"))?),
                _ => {
                    return Err(self.invalid(
                        here(""),
                        "a command needs exactly one action: `jump` or `push`",
                    ));
                }
            };
            out.push(Command {
                trigger,
                action,
                mappings: pairs(&command.map),
            });
        }
        Ok(out)
    }

    fn flow(&self, index: FlowIdx, id: &str, flow: &FlowFile, settings: &Settings) -> Result<Flow> {
        let commands = self.commands(&flow.commands, yaml_path!["flows", id, "commands"])?;
        let mut nodes = Vec::with_capacity(flow.steps.len());
        for (i, step) in flow.steps.iter().enumerate() {
            let ctx = StepContext {
                flow: index,
                flow_id: id,
                index: i,
                step_id: &self.step_ids[index as usize][i],
                default_next: (i + 1 < flow.steps.len()).then_some(NodeRef {
                    flow: index,
                    node: i as NodeIdx + 1,
                }),
            };
            let kind = self.step(&ctx, step, settings)?;
            nodes.push(Node {
                id: ctx.step_id.to_owned(),
                kind,
            });
        }
        let start = (!nodes.is_empty()).then_some(NodeRef {
            flow: index,
            node: 0,
        });
        Ok(Flow::new(
            id.to_owned(),
            flow.name.clone(),
            start,
            nodes,
            commands,
            flow.variables.clone(),
        ))
    }
}

/// Where a step sits, for its compilation.
pub(super) struct StepContext<'c> {
    pub flow: FlowIdx,
    pub flow_id: &'c str,
    pub index: usize,
    pub step_id: &'c str,
    /// The following step in the list, if any.
    pub default_next: Next,
}

impl StepContext<'_> {
    pub fn path(&self, fields: &[&str]) -> Vec<Seg> {
        let mut p = yaml_path!["flows", self.flow_id, "steps", self.index];
        p.extend(fields.iter().map(|f| Seg::from(*f)));
        p
    }
}

pub(super) fn pairs(map: &indexmap::IndexMap<String, String>) -> Vec<(String, String)> {
    map.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}
