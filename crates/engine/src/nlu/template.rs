//! Utterance templates: parsing `{slot}` placeholders and exact matching against a text.

use super::entities::{EntityMatch, EntityTable, TypeId};
use super::lexicon::{WordId, Words};

/// A piece of an utterance as written: literal text or a `{slot}` placeholder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Segment<'a> {
    Text(&'a str),
    Slot(&'a str),
}

/// Splits an utterance into text and `{slot}` segments; the error is a reason in English.
pub(super) fn parse(utterance: &str) -> Result<Vec<Segment<'_>>, String> {
    let mut segments = Vec::new();
    let mut rest = utterance;
    while let Some(open) = rest.find(['{', '}']) {
        if rest[open..].starts_with('}') {
            return Err("`}` without a matching `{`".to_owned());
        }
        segments.push(Segment::Text(&rest[..open]));
        let after = &rest[open + 1..];
        let close = after
            .find(['{', '}'])
            .filter(|&at| after[at..].starts_with('}'))
            .ok_or_else(|| "`{` without a matching `}`".to_owned())?;
        let name = after[..close].trim();
        if name.is_empty() {
            return Err("empty slot name `{}`".to_owned());
        }
        segments.push(Segment::Slot(name));
        rest = &after[close + 1..];
    }
    segments.push(Segment::Text(rest));
    segments.retain(|segment| !matches!(segment, Segment::Text(text) if text.is_empty()));
    Ok(segments)
}

/// One position of a compiled template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Element {
    /// A literal word that must appear as is (after normalisation).
    Word(WordId),
    /// A slot (index into the intent's slots) filled by one value of entity type `ty`.
    Slot { slot: u32, ty: TypeId },
}

/// A slot filled during an exact match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Fill {
    pub slot: u32,
    pub found: EntityMatch,
}

/// A compiled utterance for exact matching.
#[derive(Debug, Clone)]
pub(super) struct Template {
    pub elements: Vec<Element>,
}

impl Template {
    /// Distinct literal words, sorted; a text lacking any of them cannot match.
    pub fn distinct_words(&self) -> Vec<WordId> {
        let mut words: Vec<WordId> = self
            .elements
            .iter()
            .filter_map(|element| match element {
                Element::Word(id) => Some(*id),
                Element::Slot { .. } => None,
            })
            .collect();
        words.sort_unstable();
        words.dedup();
        words
    }

    /// Whether a text of `len` words could match, given that a slot takes 1 to
    /// `max_phrase_len` words. Cheap rejection before the real match.
    pub fn accepts_len(&self, len: usize, max_phrase_len: usize) -> bool {
        let slots = self
            .elements
            .iter()
            .filter(|e| matches!(e, Element::Slot { .. }))
            .count();
        let literals = self.elements.len() - slots;
        let max = literals.saturating_add(slots.saturating_mul(max_phrase_len));
        (self.elements.len()..=max).contains(&len)
    }

    /// Matches the whole of `words` against the template, returning the slot fills.
    ///
    /// Backtracks over slot fill lengths, longest first, so a multi-word value is preferred
    /// but a shorter one is still tried when the rest of the template needs the words.
    pub fn matches(&self, words: &Words, entities: &EntityTable) -> Option<Vec<Fill>> {
        let mut fills = Vec::new();
        match_from(&self.elements, words, 0, entities, &mut fills).then_some(fills)
    }
}

fn match_from(
    elements: &[Element],
    words: &Words,
    at: usize,
    entities: &EntityTable,
    fills: &mut Vec<Fill>,
) -> bool {
    let Some((first, rest)) = elements.split_first() else {
        return at == words.len();
    };
    if words.len().saturating_sub(at) < elements.len() {
        return false;
    }
    match *first {
        Element::Word(id) => {
            words.id(at) == Some(id) && match_from(rest, words, at + 1, entities, fills)
        }
        Element::Slot { slot, ty } => entities.matches_at(words, at, ty).any(|found| {
            fills.push(Fill { slot, found });
            let matched = match_from(rest, words, at + found.len, entities, fills);
            if !matched {
                fills.pop();
            }
            matched
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_splits_slots() {
        assert_eq!(
            parse("I want a {size} pizza").unwrap(),
            [
                Segment::Text("I want a "),
                Segment::Slot("size"),
                Segment::Text(" pizza")
            ]
        );
        assert_eq!(
            parse("{ a }{b}").unwrap(),
            [Segment::Slot("a"), Segment::Slot("b")]
        );
        assert_eq!(parse("").unwrap(), []);
    }

    #[test]
    fn parse_rejects_bad_braces() {
        assert!(parse("a {size pizza").is_err());
        assert!(parse("a size} pizza").is_err());
        assert!(parse("a {si{ze} pizza").is_err());
        assert!(parse("a {} pizza").is_err());
    }
}
