//! The compiled model and how it is built from definitions.

use std::collections::HashMap;
use std::fmt;

use super::entities::{EntityTable, TypeId};
use super::error::NluBuildError;
use super::features::{terms_of, type_term};
use super::index::{QueryTerm, TermId, TfIdfIndex};
use super::lexicon::{Lexicon, WordId, Words};
use super::normalize::{stem, tokenize};
use super::template::{Element, Segment, Template, parse};
use super::{EntityDef, IntentDef, NluConfig};

/// A slot of a compiled intent.
#[derive(Debug, Clone)]
pub(super) struct Slot {
    pub name: String,
    pub ty: TypeId,
}

/// A compiled intent.
#[derive(Debug, Clone)]
pub(super) struct Intent {
    pub name: String,
    pub slots: Vec<Slot>,
}

/// A compiled NLU model: intents, entity types and the precomputed indexes used to classify
/// sentences quickly. Build it once with [`NluModel::build`]; it is immutable afterwards and
/// can be shared between threads.
///
/// Utterances of all intents are numbered in definition order (intent by intent); the lowest
/// number wins every tie, which makes "first defined intent wins" hold everywhere.
#[derive(Clone)]
pub struct NluModel {
    pub(super) intents: Vec<Intent>,
    pub(super) intent_ids: HashMap<String, u32>,
    pub(super) lexicon: Lexicon,
    pub(super) entities: EntityTable,
    /// Stem text → similarity term (type terms come before all stem terms).
    pub(super) stems: HashMap<String, TermId>,
    /// Lexicon word → the term of its stem, when that stem occurs in some utterance.
    pub(super) word_terms: Vec<Option<TermId>>,
    /// One template per utterance, in utterance order.
    pub(super) templates: Vec<Template>,
    /// Utterance → intent index.
    pub(super) template_intent: Vec<u32>,
    /// Utterance → number of distinct literal words.
    pub(super) template_word_count: Vec<u32>,
    /// Lexicon word → utterances using it as a literal word (each once, ascending).
    pub(super) word_templates: Vec<Vec<u32>>,
    /// Utterances made of slots only; they have no literal word to be found by.
    pub(super) wordless_templates: Vec<u32>,
    pub(super) index: TfIdfIndex,
    pub(super) threshold: f32,
}

impl fmt::Debug for NluModel {
    // A summary: the full indexes are large and say nothing useful in a log.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NluModel")
            .field("intents", &self.intents.len())
            .field("entity_types", &self.entities.type_count())
            .field("utterances", &self.templates.len())
            .field("words", &self.lexicon.len())
            .field("threshold", &self.threshold)
            .finish_non_exhaustive()
    }
}

/// Model parts accumulated while compiling utterances.
struct Builder {
    lexicon: Lexicon,
    entities: EntityTable,
    stems: HashMap<String, TermId>,
    templates: Vec<Template>,
    template_intent: Vec<u32>,
    docs: Vec<Vec<TermId>>,
    /// Terms of function words (with repetitions; deduplicated at the end).
    function_terms: Vec<TermId>,
}

impl Builder {
    fn stem_term(&mut self, word: &str) -> TermId {
        let next = (self.entities.type_count() + self.stems.len()) as TermId;
        *self.stems.entry(stem(word).into_owned()).or_insert(next)
    }

    /// Compiles one utterance into a template and its similarity terms.
    fn add_utterance(
        &mut self,
        intent: &IntentDef,
        intent_id: u32,
        slots: &[Slot],
        index: usize,
    ) -> Result<(), NluBuildError> {
        let utterance = &intent.utterances[index];
        let segments = parse(utterance).map_err(|reason| NluBuildError::MalformedUtterance {
            intent: intent.name.clone(),
            utterance: index,
            reason,
        })?;
        let mut elements = Vec::new();
        let mut terms: Vec<QueryTerm> = Vec::new();
        for segment in segments {
            match segment {
                Segment::Slot(name) => {
                    let slot = slots.iter().position(|s| s.name == name).ok_or_else(|| {
                        NluBuildError::UnknownSlot {
                            intent: intent.name.clone(),
                            utterance: index,
                            slot: name.to_owned(),
                        }
                    })?;
                    let ty = slots[slot].ty;
                    elements.push(Element::Slot {
                        slot: slot as u32,
                        ty,
                    });
                    terms.push(QueryTerm {
                        term: Some(type_term(ty)),
                        corrected: false,
                        function_word: false,
                    });
                }
                Segment::Text(text) => {
                    let tokens = tokenize(text);
                    for token in &tokens {
                        elements.push(Element::Word(self.lexicon.add(&token.norm)));
                    }
                    // Literal entity values ("a large pizza") become type terms too, so
                    // utterances and user text are featurised identically.
                    let words = self.lexicon.words(tokens);
                    let stems: Vec<TermId> = words
                        .items
                        .iter()
                        .map(|w| self.stem_term(&w.norm))
                        .collect();
                    terms_of(
                        &self.entities,
                        &words,
                        |i| stems.get(i).copied(),
                        &mut terms,
                    );
                }
            }
        }
        if elements.is_empty() {
            return Err(NluBuildError::EmptyUtterance {
                intent: intent.name.clone(),
                utterance: index,
            });
        }
        self.templates.push(Template { elements });
        self.template_intent.push(intent_id);
        for term in &terms {
            if let (Some(id), true) = (term.term, term.function_word) {
                self.function_terms.push(id);
            }
        }
        self.docs
            .push(terms.iter().filter_map(|t| t.term).collect());
        Ok(())
    }
}

impl NluModel {
    /// Compiles intents and entity types into a model.
    ///
    /// Fails on the first definition problem found: a malformed or empty utterance, an
    /// undeclared slot, an unknown entity type, a duplicate name, an empty entity value, or a
    /// threshold outside `[0, 1]`.
    pub fn build(
        intents: &[IntentDef],
        entities: &[EntityDef],
        config: &NluConfig,
    ) -> Result<Self, NluBuildError> {
        if !(0.0..=1.0).contains(&config.threshold) {
            return Err(NluBuildError::InvalidThreshold {
                threshold: config.threshold,
            });
        }
        let mut lexicon = Lexicon::default();
        let entities = EntityTable::build(entities, &mut lexicon)?;
        let mut builder = Builder {
            lexicon,
            entities,
            stems: HashMap::new(),
            templates: Vec::new(),
            template_intent: Vec::new(),
            docs: Vec::new(),
            function_terms: Vec::new(),
        };
        let mut compiled = Vec::with_capacity(intents.len());
        let mut intent_ids = HashMap::with_capacity(intents.len());
        for (intent_id, intent) in intents.iter().enumerate() {
            let intent_id = intent_id as u32;
            if intent_ids.insert(intent.name.clone(), intent_id).is_some() {
                return Err(NluBuildError::DuplicateIntent {
                    intent: intent.name.clone(),
                });
            }
            let slots = compile_slots(intent, &builder.entities)?;
            for index in 0..intent.utterances.len() {
                builder.add_utterance(intent, intent_id, &slots, index)?;
            }
            compiled.push(Intent {
                name: intent.name.clone(),
                slots,
            });
        }

        let Builder {
            mut lexicon,
            entities,
            stems,
            templates,
            template_intent,
            docs,
            mut function_terms,
        } = builder;
        function_terms.sort_unstable();
        function_terms.dedup();
        lexicon.build_typo_index(config.max_typo_chars);
        let word_terms = (0..lexicon.len())
            .map(|id| {
                stems
                    .get(stem(lexicon.word(id as WordId)).as_ref())
                    .copied()
            })
            .collect();
        let term_count = entities.type_count() + stems.len();
        let index = TfIdfIndex::build(term_count, &docs, &function_terms);

        let mut word_templates = vec![Vec::new(); lexicon.len()];
        let mut template_word_count = Vec::with_capacity(templates.len());
        let mut wordless_templates = Vec::new();
        for (id, template) in templates.iter().enumerate() {
            let words = template.distinct_words();
            for &word in &words {
                word_templates[word as usize].push(id as u32);
            }
            if words.is_empty() {
                wordless_templates.push(id as u32);
            }
            template_word_count.push(words.len() as u32);
        }

        Ok(NluModel {
            intents: compiled,
            intent_ids,
            lexicon,
            entities,
            stems,
            word_terms,
            templates,
            template_intent,
            template_word_count,
            word_templates,
            wordless_templates,
            index,
            threshold: config.threshold,
        })
    }

    /// Whether an intent of this name exists.
    pub fn has_intent(&self, name: &str) -> bool {
        self.intent_ids.contains_key(name)
    }

    /// Intent names in definition order.
    pub fn intent_names(&self) -> impl Iterator<Item = &str> {
        self.intents.iter().map(|intent| intent.name.as_str())
    }

    /// Whether `name` is a custom entity type or the built-in `number`.
    pub fn has_entity_type(&self, name: &str) -> bool {
        self.entities.type_id(name).is_some()
    }

    /// Same as [`NluModel::has_entity_type`] (the name used in the original contract).
    pub fn entity_type_exists(&self, name: &str) -> bool {
        self.has_entity_type(name)
    }

    /// Custom entity type names in definition order (`number` is always available too).
    pub fn entity_type_names(&self) -> impl Iterator<Item = &str> {
        self.entities.custom_names()
    }

    /// The minimum near-match confidence this model was built with.
    pub fn threshold(&self) -> f32 {
        self.threshold
    }

    /// The similarity term of a word of user text outside entity mentions, if any.
    pub(super) fn word_term(&self, words: &Words, i: usize) -> Option<TermId> {
        match words.id(i) {
            Some(id) => self.word_terms.get(id as usize).copied().flatten(),
            None => {
                let word = words.items.get(i)?;
                self.stems.get(stem(&word.norm).as_ref()).copied()
            }
        }
    }
}

/// Checks an intent's slots and resolves their entity types.
fn compile_slots(intent: &IntentDef, entities: &EntityTable) -> Result<Vec<Slot>, NluBuildError> {
    let mut slots: Vec<Slot> = Vec::with_capacity(intent.slots.len());
    for slot in &intent.slots {
        if slots.iter().any(|s| s.name == slot.name) {
            return Err(NluBuildError::DuplicateSlot {
                intent: intent.name.clone(),
                slot: slot.name.clone(),
            });
        }
        let ty = entities.type_id(&slot.entity_type).ok_or_else(|| {
            NluBuildError::UnknownEntityType {
                intent: intent.name.clone(),
                slot: slot.name.clone(),
                entity_type: slot.entity_type.clone(),
            }
        })?;
        slots.push(Slot {
            name: slot.name.clone(),
            ty,
        });
    }
    Ok(slots)
}
