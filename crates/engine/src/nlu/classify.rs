//! Classification and extraction at run time.

use std::time::Instant;

use super::entities::EntityMatch;
use super::error::DeadlineExceeded;
use super::features::terms_of;
use super::lexicon::{UNKNOWN, Words};
use super::model::{Intent, NluModel};
use super::normalize::{number_value, stem, tokenize};
use super::{Classification, ExtractedEntity};

/// Highest confidence of a near match. A sentence can have exactly an utterance's terms
/// without matching it exactly (other word order, "opening hour" vs "opening hours"); capping
/// keeps 1.0 meaning "exact template match" only.
const NEAR_MATCH_CAP: f32 = 0.99;

impl NluModel {
    /// Classifies `text` into one of the model's intents, with its slot values.
    ///
    /// Never fails: empty or meaningless text gives `intent: None` with confidence 0. Takes
    /// time linear in the text's length (see [`NluConfig::max_typo_chars`]).
    ///
    /// [`NluConfig::max_typo_chars`]: super::NluConfig::max_typo_chars
    pub fn classify(&self, text: &str) -> Classification {
        match self.classify_checked(text, &Clock(None)) {
            Ok(classification) | Err(Partial(classification)) => classification,
        }
    }

    /// [`NluModel::classify`], stopped with [`DeadlineExceeded`] once `deadline` has passed.
    ///
    /// The clock is read between words of the costly stages (spelling correction, scoring),
    /// so a classification overshoots its deadline by at most the cost of one word. `None`:
    /// no deadline.
    pub fn classify_until(
        &self,
        text: &str,
        deadline: Option<Instant>,
    ) -> Result<Classification, DeadlineExceeded> {
        self.classify_checked(text, &Clock(deadline))
            .map_err(|_| DeadlineExceeded)
    }

    fn classify_checked(&self, text: &str, clock: &Clock) -> Result<Classification, Partial> {
        let mut words = self.lexicon.words(tokenize(text));
        if words.is_empty() {
            return Ok(none(0.0));
        }
        clock.check()?;
        if let Some(exact) = self.exact_match(text, &words) {
            return Ok(exact);
        }
        clock.check()?;
        self.correct_typos(&mut words, clock)?;
        let mut terms = Vec::with_capacity(words.len());
        terms_of(
            &self.entities,
            &words,
            |i| self.word_term(&words, i),
            &mut terms,
        );
        clock.check()?;
        let Some((utterance, score)) = self.index.best(&terms) else {
            return Ok(none(0.0));
        };
        let score = score.min(NEAR_MATCH_CAP);
        let intent = self
            .template_intent
            .get(utterance)
            .and_then(|&i| self.intents.get(i as usize));
        Ok(match intent {
            Some(intent) if score >= self.threshold => Classification {
                intent: Some(intent.name.clone()),
                confidence: score,
                entities: self.slot_values(text, &words, intent),
            },
            _ => none(score),
        })
    }

    /// Finds the first value of `entity_type` (a custom type name or `number`) in `text`.
    ///
    /// The entity's `name` is the type name. Typos in values are corrected like in
    /// [`NluModel::classify`]. `None` for an unknown type or when no value occurs.
    pub fn extract(&self, text: &str, entity_type: &str) -> Option<ExtractedEntity> {
        let ty = self.entities.type_id(entity_type)?;
        let mut words = self.lexicon.words(tokenize(text));
        // No deadline: the clock never stops it.
        let _ = self.correct_typos(&mut words, &Clock(None));
        let found = self.entities.find_first(&words, ty, &[])?;
        Some(self.extracted(text, &words, entity_type, &found))
    }

    /// Tries utterances whose literal words all occur in the text, in definition order.
    fn exact_match(&self, text: &str, words: &Words) -> Option<Classification> {
        // Every word of an exact match is a literal or part of a slot value; both are in the
        // lexicon, except numbers.
        let impossible = words
            .ids
            .iter()
            .zip(&words.items)
            .any(|(&id, word)| id == UNKNOWN && number_value(&word.norm).is_none());
        if impossible {
            return None;
        }
        let mut distinct: Vec<u32> = words
            .ids
            .iter()
            .copied()
            .filter(|&id| id != UNKNOWN)
            .collect();
        distinct.sort_unstable();
        distinct.dedup();
        // Count, per utterance, how many of its distinct literal words the text contains.
        let mut seen = vec![0u32; self.templates.len()];
        let mut candidates: Vec<u32> = self.wordless_templates.clone();
        for &id in &distinct {
            for &t in self.word_templates.get(id as usize).into_iter().flatten() {
                let count = &mut seen[t as usize];
                *count += 1;
                if *count == self.template_word_count[t as usize] {
                    candidates.push(t);
                }
            }
        }
        candidates.sort_unstable();
        let max_phrase_len = self.entities.max_phrase_len();
        candidates.into_iter().find_map(|t| {
            let template = self.templates.get(t as usize)?;
            if !template.accepts_len(words.len(), max_phrase_len) {
                return None;
            }
            let fills = template.matches(words, &self.entities)?;
            let intent = self
                .intents
                .get(self.template_intent[t as usize] as usize)?;
            let mut fills: Vec<_> = fills
                .iter()
                .filter_map(|fill| {
                    let slot = intent.slots.get(fill.slot as usize)?;
                    Some((
                        fill.found.start,
                        self.extracted(text, words, &slot.name, &fill.found),
                    ))
                })
                .collect();
            fills.sort_by_key(|&(start, _)| start);
            Some(Classification {
                intent: Some(intent.name.clone()),
                confidence: 1.0,
                entities: fills.into_iter().map(|(_, entity)| entity).collect(),
            })
        })
    }

    /// Replaces unknown words by the closest known word, when one is a single edit away.
    ///
    /// Numbers and words whose stem the model knows ("pizzas") are not typos; words longer
    /// than the model's `max_typo_chars` are not looked at. Stops when `clock` says so.
    fn correct_typos(&self, words: &mut Words, clock: &Clock) -> Result<(), Partial> {
        for i in 0..words.len() {
            if words.id(i).is_some() {
                continue;
            }
            let Some(word) = words.items.get(i) else {
                continue;
            };
            if !self.lexicon.may_correct(&word.norm)
                || number_value(&word.norm).is_some()
                || self.stems.contains_key(stem(&word.norm).as_ref())
            {
                continue;
            }
            clock.check()?;
            if let Some(id) = self.lexicon.correct(&word.norm) {
                words.correct(i, id, &self.lexicon);
            }
        }
        Ok(())
    }

    /// Values for the intent's slots: for each slot in declaration order, the first mention
    /// of its type not already used by an earlier slot. Returned in text order.
    fn slot_values(&self, text: &str, words: &Words, intent: &Intent) -> Vec<ExtractedEntity> {
        let mut taken: Vec<EntityMatch> = Vec::new();
        let mut found: Vec<(usize, ExtractedEntity)> = Vec::new();
        for slot in &intent.slots {
            if let Some(mention) = self.entities.find_first(words, slot.ty, &taken) {
                found.push((
                    mention.start,
                    self.extracted(text, words, &slot.name, &mention),
                ));
                taken.push(mention);
            }
        }
        found.sort_by_key(|&(start, _)| start);
        found.into_iter().map(|(_, entity)| entity).collect()
    }

    fn extracted(
        &self,
        text: &str,
        words: &Words,
        name: &str,
        found: &EntityMatch,
    ) -> ExtractedEntity {
        ExtractedEntity {
            name: name.to_owned(),
            value: self.entities.canonical(words, found),
            query: words
                .original(text, found.start, found.start + found.len)
                .to_owned(),
        }
    }
}

/// The deadline of a classification (`None`: none).
struct Clock(Option<Instant>);

impl Clock {
    /// `Err` once the deadline has passed.
    fn check(&self) -> Result<(), Partial> {
        match self.0 {
            Some(deadline) if Instant::now() >= deadline => Err(Partial(none(0.0))),
            _ => Ok(()),
        }
    }
}

/// A classification cut short by its deadline: the "None" intent, as far as it got.
struct Partial(Classification);

/// The "None" intent with the best score seen.
fn none(confidence: f32) -> Classification {
    Classification {
        intent: None,
        confidence,
        entities: Vec::new(),
    }
}
