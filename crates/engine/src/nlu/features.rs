//! Turning words into similarity terms, the same way for utterances and for user text.
//!
//! An entity mention ("big", "extra large", "3") becomes the term of its entity type, just like
//! a `{size}` placeholder does, so "I want a big pizza" and "I want a {size} pizza" share every
//! term. Remaining words become their stem's term.

use super::entities::{EntityTable, TypeId};
use super::index::{QueryTerm, TermId};
use super::lexicon::Words;
use super::normalize::is_function_word;

/// The term standing for entity type `ty`: type terms come first in the term space.
pub(super) fn type_term(ty: TypeId) -> TermId {
    ty
}

/// Appends the terms of `words` to `out`. `word_term(i)` gives the term of word `i` when it
/// is not part of an entity mention (`None` for a word unknown to the model).
pub(super) fn terms_of(
    entities: &EntityTable,
    words: &Words,
    mut word_term: impl FnMut(usize) -> Option<TermId>,
    out: &mut Vec<QueryTerm>,
) {
    let mut mentions: Vec<(usize, usize, TypeId)> = Vec::new();
    entities.scan(words, |start, len, ty| mentions.push((start, len, ty)));
    let corrected = |start: usize, len: usize| {
        words
            .items
            .get(start..start + len)
            .is_some_and(|span| span.iter().any(|w| w.corrected))
    };
    let mut next_mention = mentions.iter().peekable();
    let mut at = 0;
    while at < words.len() {
        // Ambiguous mentions (a phrase of several types) emit one term per type, all for the
        // same words, so consume every mention starting here.
        let mut covered = 0;
        while let Some(&&(start, len, ty)) = next_mention.peek() {
            if start != at {
                break;
            }
            out.push(QueryTerm {
                term: Some(type_term(ty)),
                corrected: corrected(start, len),
                function_word: false,
            });
            covered = covered.max(len);
            next_mention.next();
        }
        if covered > 0 {
            at += covered;
            continue;
        }
        out.push(QueryTerm {
            term: word_term(at),
            corrected: corrected(at, 1),
            function_word: words
                .items
                .get(at)
                .is_some_and(|w| is_function_word(&w.norm)),
        });
        at += 1;
    }
}
