//! Entity types: custom types with canonical values and synonyms, plus the built-in `number`.
//!
//! Every value and synonym is normalised into a phrase of lexicon word ids at build time and
//! stored in one map keyed by that phrase, so finding entities in a text is a few hash lookups
//! per word (one per possible phrase length) regardless of how many values are defined.

use std::collections::HashMap;

use super::EntityDef;
use super::error::NluBuildError;
use super::lexicon::{Lexicon, WordId, Words};
use super::normalize::{number_value, tokenize};

/// Name of the built-in entity type matching numbers.
pub(super) const NUMBER_TYPE_NAME: &str = "number";

/// Identifier of an entity type: custom types in definition order, then `number`.
pub(super) type TypeId = u32;

/// Which value a phrase stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum EntityValue {
    /// Index of a canonical value of a custom type.
    Custom(u32),
    /// A number; its canonical value is computed from the word itself.
    Number,
}

/// An entity value found in a text: words `start..start + len` of type `ty`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct EntityMatch {
    pub start: usize,
    pub len: usize,
    pub ty: TypeId,
    pub value: EntityValue,
}

impl EntityMatch {
    fn overlaps(&self, other: &EntityMatch) -> bool {
        self.start < other.start + other.len && other.start < self.start + self.len
    }
}

/// All entity types of a model and the phrase map to recognise their values.
#[derive(Debug, Clone, Default)]
pub(super) struct EntityTable {
    names: Vec<String>,
    by_name: HashMap<String, TypeId>,
    /// Canonical values per custom type.
    values: Vec<Vec<String>>,
    /// Normalised phrase → (type, value) pairs in definition order. A phrase can belong to
    /// several types; within one type the first value defined wins.
    phrases: HashMap<Vec<WordId>, Vec<(TypeId, u32)>>,
    /// Longest phrase in words, bounding how far ahead matching looks.
    max_phrase_len: usize,
}

impl EntityTable {
    /// Normalises all values and synonyms, registering their words in `lexicon`.
    pub fn build(defs: &[EntityDef], lexicon: &mut Lexicon) -> Result<Self, NluBuildError> {
        let mut table = EntityTable {
            max_phrase_len: 1,
            ..EntityTable::default()
        };
        for def in defs {
            if def.name == NUMBER_TYPE_NAME {
                return Err(NluBuildError::ReservedEntityType {
                    entity_type: def.name.clone(),
                });
            }
            let ty = table.names.len() as TypeId;
            if table.by_name.insert(def.name.clone(), ty).is_some() {
                return Err(NluBuildError::DuplicateEntityType {
                    entity_type: def.name.clone(),
                });
            }
            table.names.push(def.name.clone());
            let mut values = Vec::with_capacity(def.values.len());
            for (index, value) in def.values.iter().enumerate() {
                let value_id = values.len() as u32;
                values.push(value.value.clone());
                for text in std::iter::once(&value.value).chain(&value.synonyms) {
                    let phrase: Vec<WordId> = tokenize(text)
                        .iter()
                        .map(|token| lexicon.add(&token.norm))
                        .collect();
                    if phrase.is_empty() {
                        return Err(NluBuildError::EmptyEntityValue {
                            entity_type: def.name.clone(),
                            value: index,
                        });
                    }
                    table.max_phrase_len = table.max_phrase_len.max(phrase.len());
                    let owners = table.phrases.entry(phrase).or_default();
                    if !owners.iter().any(|&(t, _)| t == ty) {
                        owners.push((ty, value_id));
                    }
                }
            }
            table.values.push(values);
        }
        Ok(table)
    }

    /// The id of a custom type or of `number`.
    pub fn type_id(&self, name: &str) -> Option<TypeId> {
        if name == NUMBER_TYPE_NAME {
            return Some(self.number_type());
        }
        self.by_name.get(name).copied()
    }

    /// The id of the built-in `number` type (after all custom types).
    pub fn number_type(&self) -> TypeId {
        self.names.len() as TypeId
    }

    /// Number of entity types including `number`.
    pub fn type_count(&self) -> usize {
        self.names.len() + 1
    }

    /// The longest value or synonym, in words.
    pub fn max_phrase_len(&self) -> usize {
        self.max_phrase_len
    }

    /// Names of the custom entity types, in definition order.
    pub fn custom_names(&self) -> impl Iterator<Item = &str> {
        self.names.iter().map(String::as_str)
    }

    /// The longest value of type `ty` starting at word `start`.
    pub fn match_at(&self, words: &Words, start: usize, ty: TypeId) -> Option<EntityMatch> {
        self.matches_at(words, start, ty).next()
    }

    /// Every value of type `ty` starting at word `start`, longest first. Exact template
    /// matching needs the shorter ones too, in case the template goes on with the words a
    /// longer value would have taken.
    pub fn matches_at<'a>(
        &'a self,
        words: &'a Words,
        start: usize,
        ty: TypeId,
    ) -> impl Iterator<Item = EntityMatch> + 'a {
        let number = (ty == self.number_type())
            .then(|| words.items.get(start))
            .flatten()
            .filter(|word| number_value(&word.norm).is_some())
            .map(|_| EntityMatch {
                start,
                len: 1,
                ty,
                value: EntityValue::Number,
            });
        let custom = self
            .owners_at(words, start)
            .filter_map(move |(len, owners)| {
                let &(_, value) = owners.iter().find(|&&(t, _)| t == ty)?;
                Some(EntityMatch {
                    start,
                    len,
                    ty,
                    value: EntityValue::Custom(value),
                })
            });
        number.into_iter().chain(custom)
    }

    /// Phrases starting at word `start`, longest first, with the types they belong to.
    fn owners_at<'a>(
        &'a self,
        words: &'a Words,
        start: usize,
    ) -> impl Iterator<Item = (usize, &'a [(TypeId, u32)])> + 'a {
        let available = words.len().saturating_sub(start).min(self.max_phrase_len);
        (1..=available).rev().filter_map(move |len| {
            let key = words.ids.get(start..start + len)?;
            self.phrases.get(key).map(|owners| (len, owners.as_slice()))
        })
    }

    /// Splits `words` greedily (leftmost, then longest) into entity mentions, calling
    /// `emit(start, len, ty)` for every type a mention can be. Used for similarity features,
    /// where a mention stands for its type rather than for its words.
    pub fn scan(&self, words: &Words, mut emit: impl FnMut(usize, usize, TypeId)) {
        let mut at = 0;
        while at < words.len() {
            if let Some((len, owners)) = self.owners_at(words, at).next() {
                for &(ty, _) in owners {
                    emit(at, len, ty);
                }
                at += len;
                continue;
            }
            // Only numbers in digits: "one" in "one big pizza" or "which one" is too often not
            // the kind of number an utterance's `{number}` slot stands for.
            let digits = words.items.get(at).is_some_and(|w| {
                w.norm.starts_with(|c: char| c.is_ascii_digit()) && number_value(&w.norm).is_some()
            });
            if digits {
                emit(at, 1, self.number_type());
            }
            at += 1;
        }
    }

    /// The first value of type `ty` in `words` that overlaps none of `taken`.
    pub fn find_first(
        &self,
        words: &Words,
        ty: TypeId,
        taken: &[EntityMatch],
    ) -> Option<EntityMatch> {
        (0..words.len())
            .filter_map(|start| self.match_at(words, start, ty))
            .find(|found| !taken.iter().any(|t| t.overlaps(found)))
    }

    /// The canonical value of a match: the defined value, or the number in digits.
    pub fn canonical(&self, words: &Words, found: &EntityMatch) -> String {
        match found.value {
            EntityValue::Custom(value) => self
                .values
                .get(found.ty as usize)
                .and_then(|values| values.get(value as usize))
                .cloned()
                .unwrap_or_default(),
            EntityValue::Number => words
                .items
                .get(found.start)
                .and_then(|word| number_value(&word.norm))
                .unwrap_or_default()
                .to_owned(),
        }
    }
}
