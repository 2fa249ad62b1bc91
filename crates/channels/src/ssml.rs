//! SSML as plain words, for platforms that show text: Slack, Telegram, and a voice provider
//! that wants text next to the SSML.
//!
//! (The DM API's own `stripSSML` option is a different contract — it only deletes tags, as
//! Voiceflow does — and stays in the edge.)

/// The words of an SSML document: tags removed (`<break>`, `<p>`, `<s>` leave a space),
/// entities decoded, whitespace collapsed.
///
/// ```
/// use turnstile_channels::strip_ssml;
/// assert_eq!(
///     strip_ssml("<speak>Fish &amp; chips,<break time=\"1s\"/>please: <emphasis>now</emphasis>.</speak>"),
///     "Fish & chips, please: now."
/// );
/// ```
pub fn strip_ssml(ssml: &str) -> String {
    let mut words = String::with_capacity(ssml.len());
    let mut rest = ssml;
    while let Some(open) = rest.find('<') {
        words.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        // `<` not followed by a name is text (SSML should escape it, people don't).
        if !after.starts_with(|c: char| c.is_ascii_alphabetic() || c == '/' || c == '?' || c == '!')
        {
            words.push('<');
            rest = after;
            continue;
        }
        let Some(close) = after.find('>') else {
            rest = "";
            break;
        };
        let name = after[..close]
            .trim_start_matches('/')
            .split(|c: char| c.is_whitespace() || c == '/')
            .next()
            .unwrap_or_default();
        if matches!(name, "break" | "p" | "s" | "speak") {
            words.push(' ');
        }
        rest = &after[close + 1..];
    }
    words.push_str(rest);
    decode_entities(&words)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

fn decode_entities(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let after = &rest[amp + 1..];
        let decoded = after.find(';').filter(|&end| end <= 10).and_then(|end| {
            let entity = &after[..end];
            let c = match entity {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                _ => entity
                    .strip_prefix("#x")
                    .or_else(|| entity.strip_prefix("#X"))
                    .and_then(|hex| u32::from_str_radix(hex, 16).ok())
                    .or_else(|| entity.strip_prefix('#').and_then(|dec| dec.parse().ok()))
                    .and_then(char::from_u32),
            }?;
            Some((c, end))
        });
        match decoded {
            Some((c, end)) => {
                out.push(c);
                rest = &after[end + 1..];
            }
            None => {
                out.push('&');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ssml_becomes_plain_words() {
        let cases = [
            ("<speak>Hello</speak>", "Hello"),
            ("Hi<break time=\"500ms\"/>there", "Hi there"),
            ("<speak><p>One.</p><p>Two.</p></speak>", "One. Two."),
            ("<s>A</s><s>B</s>", "A B"),
            ("x &lt; y &#38; &#x41; &bogus; & z", "x < y & A &bogus; & z"),
            ("1 < 2 <", "1 < 2 <"),
            ("1 < 2 and <>", "1 < 2 and <>"),
            ("a < b", "a < b"),
            ("cut <prosody rate=\"slow\"", "cut"),
            ("<?xml version=\"1.0\"?><speak>Ok</speak>", "Ok"),
            ("  spaced \n out  ", "spaced out"),
            (
                r#"<speak>Enjoy your <emphasis>latte</emphasis>!<break time="1s"/>Bye &amp; thanks</speak>"#,
                "Enjoy your latte! Bye & thanks",
            ),
        ];
        for (ssml, words) in cases {
            assert_eq!(strip_ssml(ssml), words, "{ssml}");
        }
    }
}
