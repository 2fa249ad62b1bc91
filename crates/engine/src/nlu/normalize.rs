//! Text normalisation: tokenisation, stemming and number recognition.
//!
//! Everything the NLU compares goes through [`tokenize`] first, both the example utterances
//! at build time and the user's text at classify time, so the two sides always agree on what a
//! "word" is.

use std::borrow::Cow;

use rust_stemmers::{Algorithm, Stemmer};

/// One word of a text: its normalised form plus where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Token {
    /// Lowercased, apostrophes removed (`"Didn't"` → `"didnt"`).
    pub norm: String,
    /// Byte offset of the first character in the original text.
    pub start: usize,
    /// Byte offset just past the last character in the original text.
    pub end: usize,
}

/// Characters treated as an apostrophe inside a word. They are dropped rather than splitting
/// the word, so "didn't", "didn’t" and "didnt" all normalise to the same token.
fn is_apostrophe(c: char) -> bool {
    matches!(c, '\'' | '’' | 'ʼ' | '‘' | '`')
}

/// Splits `text` into normalised word tokens.
///
/// * Words are maximal runs of Unicode alphanumeric characters, lowercased with Unicode rules.
/// * An apostrophe between two word characters is dropped and the word continues.
/// * A `.` between digits of an all-digit word is kept, so "2.5" stays one number token.
/// * Everything else (punctuation, symbols, emoji, whitespace) separates words.
pub(super) fn tokenize(text: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut current: Option<Token> = None;
    let mut chars = text.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        let next = chars.peek().map(|&(_, n)| n);
        if c.is_alphanumeric() {
            let token = current.get_or_insert_with(|| Token {
                norm: String::new(),
                start: at,
                end: at,
            });
            token.norm.extend(c.to_lowercase());
            token.end = at + c.len_utf8();
            continue;
        }
        if let Some(token) = current.as_mut() {
            let next_is_word = next.is_some_and(char::is_alphanumeric);
            if is_apostrophe(c) && next_is_word {
                continue;
            }
            let decimal_point = c == '.'
                && next.is_some_and(|n| n.is_ascii_digit())
                && token.norm.bytes().all(|b| b.is_ascii_digit());
            if decimal_point {
                token.norm.push('.');
                continue;
            }
        }
        if let Some(token) = current.take() {
            tokens.push(token);
        }
    }
    tokens.extend(current);
    tokens
}

/// English stem of a normalised word ("opening" → "open", "pizzas" → "pizza").
///
/// Only ASCII words are stemmed: the English algorithm means nothing for other scripts, and
/// leaving them alone keeps non-English input cheap and predictable.
pub(super) fn stem(word: &str) -> Cow<'_, str> {
    if word.len() < 3 || !word.bytes().all(|b| b.is_ascii_alphabetic()) {
        return Cow::Borrowed(word);
    }
    // Creating the stemmer only selects a function pointer, so doing it per call is free.
    Stemmer::create(Algorithm::English).stem(word)
}

/// English function words: pronouns, articles, auxiliaries, prepositions, politeness.
///
/// Sorted for binary search. Question words ("when", "where", "how") are deliberately absent:
/// they often carry the intent.
const FUNCTION_WORDS: [&str; 74] = [
    "a", "am", "an", "and", "any", "are", "as", "at", "be", "been", "but", "by", "could", "did",
    "do", "does", "for", "from", "he", "her", "here", "him", "his", "i", "id", "if", "ill", "im",
    "in", "is", "it", "its", "ive", "just", "me", "might", "mine", "my", "of", "on", "or", "our",
    "please", "pls", "plz", "she", "should", "so", "some", "that", "the", "their", "them", "there",
    "these", "they", "this", "those", "to", "us", "was", "we", "were", "will", "with", "would",
    "you", "youd", "youll", "your", "youre", "yours", "yourself", "youve",
];

/// Whether a normalised word is an English function word, which says little about intent.
///
/// In a small agent, IDF alone overrates such words (with ten utterances "can i" looks as
/// rare as "refund"), so the similarity gives them a fixed low weight on top of IDF.
pub(super) fn is_function_word(norm: &str) -> bool {
    FUNCTION_WORDS.binary_search(&norm).is_ok()
}

/// Number words understood by the built-in `number` entity, with their digit forms.
const NUMBER_WORDS: [(&str, &str); 21] = [
    ("zero", "0"),
    ("one", "1"),
    ("two", "2"),
    ("three", "3"),
    ("four", "4"),
    ("five", "5"),
    ("six", "6"),
    ("seven", "7"),
    ("eight", "8"),
    ("nine", "9"),
    ("ten", "10"),
    ("eleven", "11"),
    ("twelve", "12"),
    ("thirteen", "13"),
    ("fourteen", "14"),
    ("fifteen", "15"),
    ("sixteen", "16"),
    ("seventeen", "17"),
    ("eighteen", "18"),
    ("nineteen", "19"),
    ("twenty", "20"),
];

/// The canonical value of a normalised token if it is a number: the digits as written for
/// "3" or "2.5", the digit form for the words "zero" to "twenty".
pub(super) fn number_value(norm: &str) -> Option<&str> {
    let mut parts = norm.splitn(2, '.');
    let int = parts.next().unwrap_or_default();
    let is_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let numeric = is_digits(int) && parts.next().is_none_or(is_digits);
    if numeric {
        return Some(norm);
    }
    NUMBER_WORDS
        .iter()
        .find(|(word, _)| *word == norm)
        .map(|&(_, digits)| digits)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norms(text: &str) -> Vec<String> {
        tokenize(text).into_iter().map(|t| t.norm).collect()
    }

    #[test]
    fn tokenize_lowercases_and_drops_punctuation() {
        assert_eq!(norms("Opening hours!"), ["opening", "hours"]);
        assert_eq!(
            norms("  I'd like... a PIZZA?! "),
            ["id", "like", "a", "pizza"]
        );
        assert_eq!(norms("didn’t"), ["didnt"]);
        assert_eq!(norms("ÉCOLE Straße"), ["école", "straße"]);
    }

    #[test]
    fn tokenize_keeps_decimal_numbers() {
        assert_eq!(
            norms("2.5 kg, order 12345."),
            ["2.5", "kg", "order", "12345"]
        );
        assert_eq!(norms("1.2.3"), ["1.2", "3"]);
        assert_eq!(norms("v2.5"), ["v2", "5"]);
    }

    #[test]
    fn tokenize_records_original_offsets() {
        let text = "Hi, BIG pizza";
        let tokens = tokenize(text);
        assert_eq!(&text[tokens[1].start..tokens[1].end], "BIG");
    }

    #[test]
    fn tokenize_survives_odd_input() {
        assert!(norms("").is_empty());
        assert!(norms("!!! ??? 🍕🍕").is_empty());
        assert_eq!(norms("'quoted' 'tis"), ["quoted", "tis"]);
        assert_eq!(norms("pizza🍕time"), ["pizza", "time"]);
        assert_eq!(norms("İstanbul"), ["i̇stanbul"]);
    }

    #[test]
    fn stem_merges_inflections() {
        assert_eq!(stem("opening"), stem("open"));
        assert_eq!(stem("pizzas"), stem("pizza"));
        assert_eq!(stem("日本語"), "日本語");
    }

    #[test]
    fn function_words_are_sorted_and_found() {
        assert!(FUNCTION_WORDS.windows(2).all(|w| w[0] < w[1]));
        assert!(is_function_word("the") && is_function_word("youre"));
        assert!(!is_function_word("when") && !is_function_word("pizza"));
    }

    #[test]
    fn numbers() {
        assert_eq!(number_value("3"), Some("3"));
        assert_eq!(number_value("2.5"), Some("2.5"));
        assert_eq!(number_value("three"), Some("3"));
        assert_eq!(number_value("twenty"), Some("20"));
        assert_eq!(number_value("3x"), None);
        assert_eq!(number_value("pizza"), None);
        assert_eq!(number_value(""), None);
    }
}
