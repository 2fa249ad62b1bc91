//! The surface vocabulary (every normalised word the model knows) and typo correction.
//!
//! Typo correction follows SymSpell with a maximum edit distance of 1: at build time every
//! known word of at least [`MIN_TYPO_LEN`] characters is indexed under each of its
//! single-character deletions. At classify time an unknown word and its own single deletions
//! are looked up there, which finds every known word within one insertion, deletion,
//! substitution or transposition with a handful of hash lookups instead of a vocabulary scan.
//!
//! Looking a word up costs its length squared (each of its `n` deletions is a string of `n - 1`
//! characters to build and hash), so words longer than the model's
//! [`max_typo_chars`](super::NluConfig::max_typo_chars) are not looked up at all: one long
//! "word" in a request must not cost seconds of CPU.

use std::collections::HashMap;

use super::normalize::Token;

/// Words shorter than this (in characters) are never corrected nor used as correction
/// targets: short words have too many neighbours at distance 1 ("in" → "is", "on", "an").
pub(super) const MIN_TYPO_LEN: usize = 4;

/// Identifier of a word in the [`Lexicon`], dense from 0 in order of first appearance.
pub(super) type WordId = u32;

/// Marks a word the lexicon does not know in [`Words::ids`]; never a real id.
pub(super) const UNKNOWN: WordId = WordId::MAX;

/// A word of a text being analysed.
#[derive(Debug, Clone)]
pub(super) struct Word {
    /// Normalised form; after a typo correction, the corrected word.
    pub norm: String,
    /// Byte range of the word in the original text, to report what the user wrote.
    pub start: usize,
    pub end: usize,
    /// Whether `norm` was replaced by a typo correction.
    pub corrected: bool,
}

/// The words of a text together with their lexicon ids.
///
/// Ids are kept in their own slice (with [`UNKNOWN`] for unknown words) so multi-word entity
/// phrases can be looked up by sub-slice without allocating.
#[derive(Debug, Clone, Default)]
pub(super) struct Words {
    pub items: Vec<Word>,
    pub ids: Vec<WordId>,
}

impl Words {
    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The lexicon id of word `i`, if known.
    pub fn id(&self, i: usize) -> Option<WordId> {
        self.ids.get(i).copied().filter(|&id| id != UNKNOWN)
    }

    /// Replaces word `i` by the known word `id` (a typo correction).
    pub fn correct(&mut self, i: usize, id: WordId, lexicon: &Lexicon) {
        if let (Some(word), Some(slot)) = (self.items.get_mut(i), self.ids.get_mut(i)) {
            word.norm = lexicon.word(id).to_owned();
            word.corrected = true;
            *slot = id;
        }
    }

    /// The original text covered by words `start..end` (exclusive), as the user wrote it.
    pub fn original<'t>(&self, text: &'t str, start: usize, end: usize) -> &'t str {
        let (Some(first), Some(last)) =
            (self.items.get(start), self.items.get(end.wrapping_sub(1)))
        else {
            return "";
        };
        text.get(first.start..last.end).unwrap_or("")
    }
}

/// Every normalised word that appears in an utterance or an entity value, with typo lookup.
#[derive(Debug, Clone, Default)]
pub(super) struct Lexicon {
    ids: HashMap<String, WordId>,
    words: Vec<String>,
    /// How often each word occurs in the definitions; prefers common words among equally
    /// close corrections.
    frequency: Vec<u32>,
    /// Single-character deletion → words of at least `MIN_TYPO_LEN` characters producing it.
    deletions: HashMap<String, Vec<WordId>>,
    /// Longest word (in characters) [`Lexicon::correct`] looks at.
    max_typo_len: usize,
}

impl Lexicon {
    /// Adds one occurrence of `word`, returning its id.
    pub fn add(&mut self, word: &str) -> WordId {
        let id = match self.ids.get(word) {
            Some(&id) => id,
            None => {
                let id = WordId::try_from(self.words.len()).unwrap_or(WordId::MAX);
                self.ids.insert(word.to_owned(), id);
                self.words.push(word.to_owned());
                self.frequency.push(0);
                id
            }
        };
        if let Some(count) = self.frequency.get_mut(id as usize) {
            *count = count.saturating_add(1);
        }
        id
    }

    /// Builds the deletion index; call once after the last [`Lexicon::add`]. Words longer
    /// than `max_typo_len` characters will not be corrected.
    pub fn build_typo_index(&mut self, max_typo_len: usize) {
        self.max_typo_len = max_typo_len;
        self.deletions.clear();
        for (id, word) in self.words.iter().enumerate() {
            if word.chars().count() < MIN_TYPO_LEN {
                continue;
            }
            let id = id as WordId;
            for deletion in single_deletions(word) {
                let ids = self.deletions.entry(deletion).or_default();
                // A word like "hello" yields "helo" twice; keep each id once per key.
                if ids.last() != Some(&id) {
                    ids.push(id);
                }
            }
        }
    }

    /// Looks up every token, without correcting anything.
    pub fn words(&self, tokens: Vec<Token>) -> Words {
        let ids = tokens
            .iter()
            .map(|t| self.get(&t.norm).unwrap_or(UNKNOWN))
            .collect();
        let items = tokens
            .into_iter()
            .map(|t| Word {
                norm: t.norm,
                start: t.start,
                end: t.end,
                corrected: false,
            })
            .collect();
        Words { items, ids }
    }

    /// The id of a known word.
    pub fn get(&self, word: &str) -> Option<WordId> {
        self.ids.get(word).copied()
    }

    /// The text of a word id.
    pub fn word(&self, id: WordId) -> &str {
        self.words.get(id as usize).map_or("", String::as_str)
    }

    /// Number of distinct words.
    pub fn len(&self) -> usize {
        self.words.len()
    }

    /// The known word closest to an unknown `word` at edit distance 1, if any.
    ///
    /// Only alphabetic words of [`MIN_TYPO_LEN`] to `max_typo_len` characters are corrected
    /// (numbers, codes and overlong words are left alone), so a call costs at most
    /// `max_typo_len²` character copies. Among several candidates the most frequent wins,
    /// then the first defined, so the result never depends on hash map iteration order.
    pub fn correct(&self, word: &str) -> Option<WordId> {
        if !self.may_correct(word) || !word.chars().all(char::is_alphabetic) {
            return None;
        }
        let mut best: Option<WordId> = None;
        let mut consider = |id: WordId| {
            let better = match best {
                None => true,
                Some(b) => {
                    let (fi, fb) = (self.frequency[id as usize], self.frequency[b as usize]);
                    fi > fb || (fi == fb && id < b)
                }
            };
            // Shared deletions can also pair words two edits apart ("xbcd"/"bcde"): verify.
            if better && strsim::osa_distance(word, self.word(id)) == 1 {
                best = Some(id);
            }
        };
        // `word` has a missing character: it is a deletion of a known word.
        if let Some(ids) = self.deletions.get(word) {
            ids.iter().copied().for_each(&mut consider);
        }
        for deletion in single_deletions(word) {
            // `word` has an extra character: one of its deletions is a known word.
            if let Some(&id) = self.ids.get(&deletion) {
                consider(id);
            }
            // Substitution or transposition: both sides share a deletion.
            if let Some(ids) = self.deletions.get(&deletion) {
                ids.iter().copied().for_each(&mut consider);
            }
        }
        best
    }

    /// Whether `word` has a length [`Lexicon::correct`] looks at. Costs at most
    /// `max_typo_len` steps whatever the word's length.
    pub fn may_correct(&self, word: &str) -> bool {
        // Each character is at least one byte: a short byte length settles it at once.
        if word.len() < MIN_TYPO_LEN {
            return false;
        }
        let mut chars = word.chars();
        let within = chars.by_ref().take(self.max_typo_len).count();
        within >= MIN_TYPO_LEN && chars.next().is_none()
    }
}

/// Every string obtained by removing one character from `word` (duplicates included).
fn single_deletions(word: &str) -> impl Iterator<Item = String> + '_ {
    word.char_indices().map(move |(at, c)| {
        let mut deleted = String::with_capacity(word.len());
        deleted.push_str(&word[..at]);
        deleted.push_str(&word[at + c.len_utf8()..]);
        deleted
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lexicon(words: &[&str]) -> Lexicon {
        let mut lexicon = Lexicon::default();
        for word in words {
            lexicon.add(word);
        }
        lexicon.build_typo_index(crate::nlu::NluConfig::DEFAULT_MAX_TYPO_CHARS);
        lexicon
    }

    fn corrected(lexicon: &Lexicon, word: &str) -> Option<String> {
        lexicon.correct(word).map(|id| lexicon.word(id).to_owned())
    }

    #[test]
    fn corrects_all_single_edits() {
        let lex = lexicon(&["opening", "hours", "when"]);
        assert_eq!(corrected(&lex, "opnening").as_deref(), Some("opening")); // insertion
        assert_eq!(corrected(&lex, "opning").as_deref(), Some("opening")); // deletion
        assert_eq!(corrected(&lex, "hoors").as_deref(), Some("hours")); // substitution
        assert_eq!(corrected(&lex, "whne").as_deref(), Some("when")); // transposition
    }

    #[test]
    fn ignores_short_far_and_non_alphabetic_words() {
        let lex = lexicon(&["opening", "hours", "when", "1234"]);
        assert_eq!(corrected(&lex, "whn"), None);
        assert_eq!(corrected(&lex, "banana"), None);
        assert_eq!(corrected(&lex, "1235"), None);
        assert_eq!(corrected(&lex, "xours"), Some("hours".to_owned()));
        assert_eq!(corrected(&lex, "xoursx"), None);
    }

    #[test]
    fn leaves_words_over_the_cap_alone() {
        let long_known = "a".repeat(40);
        let lex = lexicon(&["opening", &long_known]);
        // One edit from a known word, but longer than the cap: not looked at.
        assert_eq!(corrected(&lex, &"a".repeat(41)), None);
        assert_eq!(corrected(&lex, &"a".repeat(39)), None);
        // At the cap, still corrected.
        let mut at_cap = "a".repeat(31);
        at_cap.push('b');
        let lex = lexicon(&[&"a".repeat(32)]);
        assert_eq!(corrected(&lex, &at_cap), Some("a".repeat(32)));
        assert!(lex.may_correct("abcd") && !lex.may_correct("abc"));
        assert!(!lex.may_correct(&"é".repeat(33)) && lex.may_correct(&"é".repeat(32)));
    }

    #[test]
    fn prefers_frequent_then_first_words() {
        let lex = lexicon(&["cart", "card", "card"]);
        assert_eq!(corrected(&lex, "carx").as_deref(), Some("card"));
        let lex = lexicon(&["cart", "card"]);
        assert_eq!(corrected(&lex, "carx").as_deref(), Some("cart"));
    }
}
