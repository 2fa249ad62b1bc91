//! Compiles one step of a flow into a node.

use super::compile::{Compiler, StepContext, pairs};
use super::error::LoadError;
use super::format::*;
use crate::interp::DEFAULT_WEBHOOK_TIMEOUT_MS;
use crate::program::*;

type Result<T> = std::result::Result<T, LoadError>;

/// The keys that say what a step is.
const KIND_KEYS: &[&str] = &[
    "say",
    "speak",
    "choice",
    "capture",
    "condition",
    "set",
    "random",
    "call",
    "end",
    "image",
    "card",
    "carousel",
    "action",
    "webhook",
    "api",
];

const HTTP_METHODS: &[&str] = &["GET", "POST", "PUT", "PATCH", "DELETE"];

impl Compiler<'_> {
    pub(super) fn step(
        &self,
        ctx: &StepContext,
        step: &StepFile,
        settings: &Settings,
    ) -> Result<NodeKind> {
        let present: Vec<&str> = KIND_KEYS
            .iter()
            .copied()
            .filter(|key| has_key(step, key))
            .collect();
        let kind = match present.as_slice() {
            [kind] => *kind,
            [] if step.goto.is_some() => "goto",
            [] => {
                return Err(self.invalid(
                    ctx.path(&[]),
                    format!(
                        "a step needs one of: {}, or only a `goto`",
                        KIND_KEYS.join(", ")
                    ),
                ));
            }
            [first, second, ..] => {
                return Err(self.invalid(
                    ctx.path(&[second]),
                    format!("a step has one kind, but this one has both `{first}` and `{second}`"),
                ));
            }
        };
        self.check_extras(ctx, step, kind)?;
        let next = match &step.goto {
            Some(goto) => Some(self.target(goto, ctx.path(&["goto"]))?),
            None => ctx.default_next,
        };
        let failure = match &step.on_failure {
            Some(target) => Some(self.target(target, ctx.path(&["on_failure"]))?),
            None => ctx.default_next,
        };
        Ok(match kind {
            "say" => {
                let texts = one_or_many(step.say.as_ref());
                let single = texts.len() == 1;
                let variants = texts
                    .iter()
                    .enumerate()
                    .map(|(i, text)| SayVariant {
                        // A variant's id is stable across loads: the step id, plus its number
                        // when there are several.
                        id: if single {
                            ctx.step_id.to_owned()
                        } else {
                            format!("{}#{}", ctx.step_id, i + 1)
                        },
                        text: Template::parse(text),
                    })
                    .collect();
                NodeKind::Say {
                    variants,
                    delay_ms: step.delay_ms,
                    next,
                }
            }
            "speak" => NodeKind::Speak {
                variants: one_or_many(step.speak.as_ref())
                    .iter()
                    .map(|t| Template::parse(t))
                    .collect(),
                next,
            },
            "choice" => self.choice(ctx, step, next)?,
            "capture" => NodeKind::Capture {
                target: self.capture(ctx, step.capture.as_ref().expect("kind key"))?,
                quick_replies: step.buttons.iter().map(|b| Template::parse(b)).collect(),
                no_match: self.no_match(ctx, step)?,
                no_reply: self.no_reply(ctx, step)?,
                next,
            },
            "condition" => {
                let mut branches = Vec::new();
                for (i, branch) in step.condition.iter().flatten().enumerate() {
                    let at = |field: &str| {
                        let mut p = ctx.path(&["condition"]);
                        p.push(i.into());
                        p.push(field.into());
                        p
                    };
                    branches.push(Branch {
                        when: self.expr(&ExprFile::Expression(branch.when.clone()), at("if"))?,
                        next: Some(self.target(&branch.goto, at("goto"))?),
                    });
                }
                let otherwise = match &step.otherwise {
                    Some(target) => Some(self.target(target, ctx.path(&["else"]))?),
                    None => next,
                };
                NodeKind::Condition {
                    branches,
                    otherwise,
                }
            }
            "set" => {
                let mut assignments = Vec::new();
                for (name, expr) in step.set.iter().flatten() {
                    assignments.push((name.clone(), self.expr(expr, ctx.path(&["set", name]))?));
                }
                NodeKind::Set { assignments, next }
            }
            "random" => {
                let mut targets = Vec::new();
                for (i, target) in step.random.iter().flatten().enumerate() {
                    let mut at = ctx.path(&["random"]);
                    at.push(i.into());
                    targets.push(Some(self.target(target, at)?));
                }
                NodeKind::Random {
                    targets,
                    no_repeat: step.no_repeat,
                }
            }
            "call" => self.call(ctx, step.call.as_ref().expect("kind key"), next)?,
            "end" => {
                if step.end != Some(true) {
                    return Err(self.invalid(ctx.path(&["end"]), "`end` must be `true`"));
                }
                NodeKind::End
            }
            "image" => {
                let (url, width, height) = match step.image.as_ref().expect("kind key") {
                    ImageFile::Url(url) => (url.clone(), None, None),
                    ImageFile::Detailed(d) => (d.url.clone(), d.width, d.height),
                };
                NodeKind::Visual {
                    image: Template::parse(&url),
                    width,
                    height,
                    next,
                }
            }
            "card" => NodeKind::Card {
                card: self.card(ctx, step.card.as_ref().expect("kind key"), None, next)?,
                no_match: self.no_match(ctx, step)?,
                next,
            },
            "carousel" => {
                let carousel = step.carousel.as_ref().expect("kind key");
                let layout = carousel.layout.clone().unwrap_or_else(|| "Carousel".into());
                if layout != "Carousel" && layout != "List" {
                    return Err(self.invalid(
                        ctx.path(&["carousel", "layout"]),
                        "layout is `Carousel` or `List`",
                    ));
                }
                let mut cards = Vec::new();
                for (i, card) in carousel.cards.iter().enumerate() {
                    cards.push(self.card(ctx, card, Some(i), next)?);
                }
                NodeKind::Carousel {
                    layout,
                    cards,
                    no_match: self.no_match(ctx, step)?,
                    next,
                }
            }
            "action" => self.action(ctx, step.action.as_ref().expect("kind key"), next)?,
            "webhook" => {
                let webhook = step.webhook.as_ref().expect("kind key");
                if webhook.url.is_none() && settings.webhook.is_none() {
                    return Err(self.invalid(
                        ctx.path(&["webhook"]),
                        "a webhook step needs `settings.webhook.url` or a `url` of its own",
                    ));
                }
                self.same_flow(ctx, next, "goto")?;
                NodeKind::Webhook(WebhookStep {
                    url: webhook.url.as_deref().map(Template::parse),
                    tag: webhook.tag.clone(),
                    timeout_ms: webhook.timeout_ms,
                    success: next,
                    failure,
                })
            }
            "api" => {
                let api = step.api.as_ref().expect("kind key");
                let method = api.method.as_deref().unwrap_or("GET").to_ascii_uppercase();
                if !HTTP_METHODS.contains(&method.as_str()) {
                    return Err(self.invalid(
                        ctx.path(&["api", "method"]),
                        format!("method is one of {}", HTTP_METHODS.join(", ")),
                    ));
                }
                NodeKind::Api(ApiStep {
                    method,
                    url: Template::parse(&api.url),
                    headers: api
                        .headers
                        .iter()
                        .map(|(k, v)| (k.clone(), Template::parse(v)))
                        .collect(),
                    body: api.body.clone(),
                    save: pairs(&api.save),
                    timeout_ms: api.timeout_ms.unwrap_or(DEFAULT_WEBHOOK_TIMEOUT_MS),
                    success: next,
                    failure,
                })
            }
            _ => NodeKind::Goto { next },
        })
    }

    /// Fields that only some step kinds take.
    fn check_extras(&self, ctx: &StepContext, step: &StepFile, kind: &str) -> Result<()> {
        let rules: &[(&str, bool, &[&str])] = &[
            ("delay_ms", step.delay_ms.is_some(), &["say"]),
            ("buttons", !step.buttons.is_empty(), &["capture"]),
            ("else", step.otherwise.is_some(), &["condition"]),
            ("no_repeat", step.no_repeat, &["random"]),
            ("on_failure", step.on_failure.is_some(), &["webhook", "api"]),
            (
                "no_match",
                step.no_match.is_some(),
                &["choice", "capture", "card", "carousel"],
            ),
            ("no_reply", step.no_reply.is_some(), &["choice", "capture"]),
            (
                "goto",
                step.goto.is_some() && matches!(kind, "end" | "random" | "condition"),
                &[],
            ),
        ];
        for (field, present, allowed) in rules {
            if *present && !allowed.contains(&kind) {
                return Err(self.invalid(
                    ctx.path(&[field]),
                    format!("`{field}` does not apply to a `{kind}` step"),
                ));
            }
        }
        Ok(())
    }

    fn choice(&self, ctx: &StepContext, step: &StepFile, next: Next) -> Result<NodeKind> {
        let mut options = Vec::new();
        for (i, option) in step.choice.iter().flatten().enumerate() {
            let at = |field: &str| {
                let mut p = ctx.path(&["choice"]);
                p.push(i.into());
                if !field.is_empty() {
                    p.push(field.into());
                }
                p
            };
            if option.label.is_none() && option.intent.is_none() && option.event.is_none() {
                return Err(self.invalid(
                    at(""),
                    "an option needs a `label`, an `intent` or an `event`",
                ));
            }
            let action =
                self.option_action(option.goto.as_deref(), option.call.as_deref(), next, &at)?;
            options.push(ChoiceOption {
                label: option.label.as_deref().map(Template::parse),
                path: format!("path-{}-{}", ctx.step_id, i + 1),
                intent: option
                    .intent
                    .as_deref()
                    .map(|name| self.intent(name, at("intent")))
                    .transpose()?,
                event: option
                    .event
                    .as_deref()
                    .map(|name| self.event(name, at("event")))
                    .transpose()?,
                mappings: pairs(&option.map),
                action,
            });
        }
        Ok(NodeKind::Choice {
            options,
            no_match: self.no_match(ctx, step)?,
            no_reply: self.no_reply(ctx, step)?,
        })
    }

    fn option_action(
        &self,
        goto: Option<&str>,
        call: Option<&str>,
        next: Next,
        at: &dyn Fn(&str) -> Vec<super::error::Seg>,
    ) -> Result<OptionAction> {
        Ok(match (goto, call) {
            (Some(_), Some(_)) => {
                return Err(self.invalid(at("call"), "an option has `goto` or `call`, not both"));
            }
            (Some(goto), None) => OptionAction::Goto(Some(self.target(goto, at("goto"))?)),
            (None, Some(call)) => OptionAction::Push(self.target(call, at("call"))?),
            (None, None) => OptionAction::Goto(next),
        })
    }

    fn capture(&self, ctx: &StepContext, capture: &CaptureFile) -> Result<CaptureTarget> {
        let details = match capture {
            CaptureFile::Variable(variable) => {
                return Ok(CaptureTarget::Reply {
                    variable: variable.clone(),
                });
            }
            CaptureFile::Detailed(details) => details,
        };
        let mut wanted: Vec<(String, String)> = Vec::new();
        if let Some(entity) = &details.entity {
            let variable = details.variable.clone().unwrap_or_else(|| entity.clone());
            wanted.push((entity.clone(), variable));
        }
        wanted.extend(pairs(&details.entities));
        if wanted.is_empty() {
            return match &details.variable {
                Some(variable) => Ok(CaptureTarget::Reply {
                    variable: variable.clone(),
                }),
                None => Err(self.invalid(
                    ctx.path(&["capture"]),
                    "a capture needs a `variable`, an `entity` or `entities`",
                )),
            };
        }
        for (entity, _) in &wanted {
            if !self.nlu().has_entity_type(entity) {
                return Err(self.err(
                    ctx.path(&["capture"]),
                    super::error::LoadErrorKind::UnknownEntityType(entity.clone()),
                ));
            }
        }
        Ok(CaptureTarget::Entities(wanted))
    }

    fn call(&self, ctx: &StepContext, call: &CallFile, next: Next) -> Result<NodeKind> {
        let (flow, inputs, outputs) = match call {
            CallFile::Flow(flow) => (flow, None, None),
            CallFile::Detailed(d) => (&d.flow, Some(&d.inputs), Some(&d.outputs)),
        };
        let target = self.target(flow, ctx.path(&["call"]))?;
        self.same_flow(ctx, next, "goto")?;
        let mut compiled_inputs = Vec::new();
        for (name, expr) in inputs.into_iter().flatten() {
            compiled_inputs.push((
                name.clone(),
                self.expr(expr, ctx.path(&["call", "inputs", name]))?,
            ));
        }
        Ok(NodeKind::Call {
            target,
            inputs: compiled_inputs,
            outputs: outputs.map(pairs).unwrap_or_default(),
            next,
        })
    }

    fn card(
        &self,
        ctx: &StepContext,
        card: &CardFile,
        index: Option<usize>,
        next: Next,
    ) -> Result<CardDef> {
        let id = match index {
            Some(i) => format!("{}-{}", ctx.step_id, i + 1),
            None => ctx.step_id.to_owned(),
        };
        let mut buttons = Vec::new();
        for (i, button) in card.buttons.iter().enumerate() {
            let at = |field: &str| {
                let mut p = match index {
                    Some(c) => {
                        let mut p = ctx.path(&["carousel", "cards"]);
                        p.push(c.into());
                        p
                    }
                    None => ctx.path(&["card"]),
                };
                p.push("buttons".into());
                p.push(i.into());
                p.push(field.into());
                p
            };
            let action =
                self.option_action(button.goto.as_deref(), button.call.as_deref(), next, &at)?;
            buttons.push((
                Template::parse(&button.label),
                format!("path-{id}-{}", i + 1),
                action,
            ));
        }
        Ok(CardDef {
            id,
            title: Template::parse(&card.title),
            description: Template::parse(&card.description),
            image: card.image.as_deref().map(Template::parse),
            buttons,
        })
    }

    fn action(&self, ctx: &StepContext, action: &ActionFile, next: Next) -> Result<NodeKind> {
        if action.name.is_empty() {
            return Err(self.invalid(ctx.path(&["action", "name"]), "an action needs a `name`"));
        }
        let mut paths = Vec::new();
        for (name, target) in &action.paths {
            let target = match target {
                Some(t) => Some(self.target(t, ctx.path(&["action", "paths", name]))?),
                None => next,
            };
            paths.push((name.clone(), target));
        }
        let default_path = match &action.default {
            None => 0,
            Some(name) => action.paths.get_index_of(name).ok_or_else(|| {
                self.invalid(
                    ctx.path(&["action", "default"]),
                    format!("`{name}` is not one of this action's paths"),
                )
            })?,
        };
        Ok(NodeKind::Action(CustomAction {
            name: action.name.clone(),
            payload: action.payload.clone(),
            paths,
            default_path,
            stop: action.stop,
            next,
        }))
    }

    fn no_match(&self, ctx: &StepContext, step: &StepFile) -> Result<NoMatch> {
        Ok(match &step.no_match {
            None => NoMatch::default(),
            Some(NoMatchFile::Prompts(prompts)) => NoMatch {
                prompts: prompts.iter().map(|p| Template::parse(p)).collect(),
                next: None,
            },
            Some(NoMatchFile::Detailed(d)) => NoMatch {
                prompts: d.prompts.iter().map(|p| Template::parse(p)).collect(),
                next: d
                    .goto
                    .as_deref()
                    .map(|t| self.target(t, ctx.path(&["no_match", "goto"])).map(Some))
                    .transpose()?,
            },
        })
    }

    fn no_reply(&self, ctx: &StepContext, step: &StepFile) -> Result<NoReply> {
        let Some(file) = &step.no_reply else {
            return Ok(NoReply::default());
        };
        Ok(NoReply {
            timeout: file.timeout,
            prompts: file.prompts.iter().map(|p| Template::parse(p)).collect(),
            next: file
                .goto
                .as_deref()
                .map(|t| self.target(t, ctx.path(&["no_reply", "goto"])).map(Some))
                .transpose()?,
        })
    }

    /// Steps that come back to their flow (calls, webhooks) must continue inside it.
    fn same_flow(&self, ctx: &StepContext, next: Next, field: &str) -> Result<()> {
        match next {
            Some(n) if n.flow != ctx.flow => Err(self.invalid(
                ctx.path(&[field]),
                "after this kind of step, `goto` must name a step of the same flow",
            )),
            _ => Ok(()),
        }
    }
}

fn one_or_many(value: Option<&OneOrMany>) -> Vec<&str> {
    value.map(OneOrMany::items).unwrap_or_default()
}

fn has_key(step: &StepFile, key: &str) -> bool {
    match key {
        "say" => step.say.is_some(),
        "speak" => step.speak.is_some(),
        "choice" => step.choice.is_some(),
        "capture" => step.capture.is_some(),
        "condition" => step.condition.is_some(),
        "set" => step.set.is_some(),
        "random" => step.random.is_some(),
        "call" => step.call.is_some(),
        "end" => step.end.is_some(),
        "image" => step.image.is_some(),
        "card" => step.card.is_some(),
        "carousel" => step.carousel.is_some(),
        "action" => step.action.is_some(),
        "webhook" => step.webhook.is_some(),
        "api" => step.api.is_some(),
        _ => false,
    }
}
