//! Text templates with `{variable}` substitution, parsed once at load time.
//!
//! A placeholder is `{name}` or a dotted path such as `{event.order_id}`; each segment is 1–64
//! characters of `[A-Za-z0-9_]` (Voiceflow's rule, extended with dots for event data). A
//! placeholder whose variable does not exist is left as written, as Voiceflow does.

use serde_json::Value;

/// A parsed template.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    parts: Vec<TemplatePart>,
}

/// A piece of a template.
#[derive(Debug, Clone, PartialEq)]
pub enum TemplatePart {
    /// Text copied as it is.
    Literal(String),
    /// A placeholder's variable path (`name`, `event.order_id`), without the braces.
    Variable(String),
}

impl Template {
    /// Parses `source`; text that is not a valid placeholder stays literal.
    ///
    /// ```
    /// use turnstile_engine::program::Template;
    /// use serde_json::json;
    /// let t = Template::parse("Thanks {name}, order {event.id}! {not a var}");
    /// let vars = json!({"name": "Ada", "event": {"id": 7}});
    /// let text = t.render(|path| vars.pointer(&format!("/{}", path.replace('.', "/"))));
    /// assert_eq!(text, "Thanks Ada, order 7! {not a var}");
    /// ```
    pub fn parse(source: &str) -> Template {
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut rest = source;
        while let Some(open) = rest.find('{') {
            literal.push_str(&rest[..open]);
            let after = &rest[open + 1..];
            match after.find('}') {
                Some(close) if is_variable_path(&after[..close]) => {
                    if !literal.is_empty() {
                        parts.push(TemplatePart::Literal(std::mem::take(&mut literal)));
                    }
                    parts.push(TemplatePart::Variable(after[..close].to_owned()));
                    rest = &after[close + 1..];
                }
                _ => {
                    literal.push('{');
                    rest = after;
                }
            }
        }
        literal.push_str(rest);
        if !literal.is_empty() {
            parts.push(TemplatePart::Literal(literal));
        }
        Template { parts }
    }

    /// A template without placeholders.
    pub fn literal(text: &str) -> Template {
        Template {
            parts: vec![TemplatePart::Literal(text.to_owned())],
        }
    }

    /// The pieces, in order; adjacent literals are merged, so a template without placeholders
    /// is one [`TemplatePart::Literal`] (or none, when empty).
    pub fn parts(&self) -> &[TemplatePart] {
        &self.parts
    }

    /// The variables this template reads.
    pub fn variables(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|p| match p {
            TemplatePart::Variable(v) => Some(v.as_str()),
            TemplatePart::Literal(_) => None,
        })
    }

    /// Renders the template, looking variables up with `lookup`.
    pub fn render<'v>(&self, lookup: impl Fn(&str) -> Option<&'v Value>) -> String {
        if let [TemplatePart::Literal(text)] = self.parts.as_slice() {
            return text.clone();
        }
        let mut out = String::new();
        for part in &self.parts {
            match part {
                TemplatePart::Literal(text) => out.push_str(text),
                TemplatePart::Variable(name) => match lookup(name) {
                    Some(value) => push_value(&mut out, value),
                    None => {
                        out.push('{');
                        out.push_str(name);
                        out.push('}');
                    }
                },
            }
        }
        out
    }
}

/// Appends a variable's value as a person reads it: strings bare, whole numbers without a
/// fraction, other numbers with two decimals (Voiceflow's rule), `null` as nothing.
pub(crate) fn push_value(out: &mut String, value: &Value) {
    use std::fmt::Write;
    match value {
        Value::String(s) => out.push_str(s),
        Value::Null => {}
        Value::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => {
                let _ = write!(out, "{i}");
            }
            (None, Some(f)) if f.fract() == 0.0 && f.abs() < 1e15 => {
                let _ = write!(out, "{}", f as i64);
            }
            (None, Some(f)) => {
                let _ = write!(out, "{f:.2}");
            }
            _ => {
                let _ = write!(out, "{n}");
            }
        },
        other => {
            let _ = write!(out, "{other}");
        }
    }
}

fn is_variable_path(text: &str) -> bool {
    !text.is_empty()
        && text.split('.').all(|segment| {
            (1..=64).contains(&segment.len())
                && segment
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_')
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn render(source: &str, vars: &Value) -> String {
        Template::parse(source).render(|name| vars.get(name))
    }

    #[test]
    fn substitutes_known_variables_and_keeps_unknown_ones() {
        let vars = json!({"name": "Ada", "n": 3, "f": 2.5, "whole": 4.0, "nothing": null});
        assert_eq!(render("Hi {name}!", &vars), "Hi Ada!");
        assert_eq!(render("{n} {f} {whole}", &vars), "3 2.50 4");
        assert_eq!(render("[{nothing}] {missing}", &vars), "[] {missing}");
        assert_eq!(render("{ name } {} {a-b} {", &vars), "{ name } {} {a-b} {");
        assert_eq!(render("{{name}}", &vars), "{Ada}");
    }

    #[test]
    fn lists_its_variables() {
        let t = Template::parse("{a} and {event.b} but not {c d}");
        assert_eq!(t.variables().collect::<Vec<_>>(), ["a", "event.b"]);
    }
}
