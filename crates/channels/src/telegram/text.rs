//! Text helpers: Telegram measures text in UTF-16 code units (entity offsets, message limits),
//! Rust strings in UTF-8 bytes.

/// The byte index in `text` of the UTF-16 position `units`. `None` when it lies past the end
/// or inside a character (half of a surrogate pair).
pub fn utf16_to_byte(text: &str, units: usize) -> Option<usize> {
    let mut seen = 0;
    for (byte, c) in text.char_indices() {
        if seen == units {
            return Some(byte);
        }
        if seen > units {
            return None;
        }
        seen += c.len_utf16();
    }
    (seen == units).then_some(text.len())
}

/// The part of `text` an entity covers (`offset`/`length` in UTF-16 code units), as a byte
/// range. `None` when the entity does not fit the text.
pub fn utf16_range(text: &str, offset: usize, length: usize) -> Option<std::ops::Range<usize>> {
    let start = utf16_to_byte(text, offset)?;
    let end = start + utf16_to_byte(&text[start..], length)?;
    Some(start..end)
}

/// The length of `text` in UTF-16 code units.
pub fn utf16_len(text: &str) -> usize {
    text.chars().map(char::len_utf16).sum()
}

/// Splits `text` into pieces of at most `max` UTF-16 code units, preferring to cut after a
/// newline, then after a space, and only then inside a word. Pieces are trimmed; empty pieces
/// are dropped.
pub fn split(text: &str, max: usize) -> Vec<&str> {
    let max = max.max(2);
    let mut pieces = Vec::new();
    let mut rest = text.trim();
    while utf16_len(rest) > max {
        // The longest prefix that fits.
        let mut fit = 0;
        let mut units = 0;
        for (byte, c) in rest.char_indices() {
            if units + c.len_utf16() > max {
                break;
            }
            units += c.len_utf16();
            fit = byte + c.len_utf8();
        }
        let window = &rest[..fit];
        let cut = window
            .rfind('\n')
            .or_else(|| window.rfind(' '))
            .filter(|&at| at > 0)
            .map(|at| at + 1)
            .unwrap_or(fit);
        let piece = rest[..cut].trim();
        if !piece.is_empty() {
            pieces.push(piece);
        }
        rest = rest[cut..].trim_start();
    }
    if !rest.is_empty() {
        pieces.push(rest);
    }
    pieces
}

/// `text` cut to at most `max` bytes, at a character boundary.
pub fn truncate_bytes(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf16_positions_become_byte_indices() {
        // 🍕 is two UTF-16 units and four bytes; é is one unit and two bytes.
        let text = "🍕é /cmd";
        assert_eq!(utf16_to_byte(text, 0), Some(0));
        assert_eq!(utf16_to_byte(text, 1), None, "inside the surrogate pair");
        assert_eq!(utf16_to_byte(text, 2), Some(4));
        assert_eq!(utf16_to_byte(text, 3), Some(6));
        assert_eq!(utf16_to_byte(text, 8), Some(text.len()));
        assert_eq!(utf16_to_byte(text, 9), None);
        assert_eq!(utf16_range(text, 4, 4).map(|r| &text[r]), Some("/cmd"));
        assert_eq!(utf16_range(text, 4, 5), None);
        assert_eq!(utf16_len(text), 8);
    }

    #[test]
    fn long_text_splits_at_newlines_then_spaces_then_anywhere() {
        assert_eq!(split("one two\nthree four", 12), ["one two", "three four"]);
        assert_eq!(split("one two three", 9), ["one two", "three"]);
        assert_eq!(split("abcdefghij", 4), ["abcd", "efgh", "ij"]);
        assert_eq!(split("  ", 4096), Vec::<&str>::new());
        // Limits count UTF-16 units: three pizzas are six units.
        assert_eq!(split("🍕🍕🍕", 4), ["🍕🍕", "🍕"]);
        let long = "word ".repeat(2000);
        let pieces = split(&long, 4096);
        assert_eq!(pieces.len(), 3);
        assert!(pieces.iter().all(|p| utf16_len(p) <= 4096));
        assert_eq!(pieces.concat().len() + pieces.len() - 1, long.trim().len());
    }

    #[test]
    fn truncation_respects_characters() {
        assert_eq!(truncate_bytes("héllo", 2), "h");
        assert_eq!(truncate_bytes("héllo", 3), "hé");
        assert_eq!(truncate_bytes("hi", 64), "hi");
    }
}
