//! Loaders: agent files into the program IR.
//!
//! The native format is YAML, one file per agent (`docs/agent-format.md`). Errors name the file,
//! line and column of the problem.

mod compile;
mod error;
pub mod format;
mod steps;

pub use error::{LoadError, LoadErrorKind, Location};

use crate::program::Agent;

/// Loads an agent from YAML source. `file` names the source in errors.
///
/// ```
/// use turnstile_engine::load_agent_str;
/// let err = load_agent_str("bad.yaml", "flows:\n  main:\n    steps:\n      - goto: nowhere\n")
///     .unwrap_err();
/// assert_eq!(err.to_string(), "bad.yaml:4:15: unknown step or flow `nowhere`");
/// ```
pub fn load_agent_str(file: &str, source: &str) -> Result<Agent, LoadError> {
    let doc: format::AgentFile = serde_norway::from_str(source).map_err(|e| {
        let message = e.to_string();
        // serde_norway appends " at line L column C"; the location is reported separately.
        let message = match message.rfind(" at line ") {
            Some(at) => message[..at].to_owned(),
            None => message,
        };
        LoadError {
            file: file.to_owned(),
            location: e.location().map(|l| Location {
                line: l.line(),
                column: l.column(),
            }),
            kind: LoadErrorKind::Syntax(message),
        }
    })?;
    compile::Compiler::new(file, source, &doc).compile()
}

/// The JSON Schema of the native agent format, for editors.
pub fn agent_schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(format::AgentFile)).unwrap_or_default()
}
