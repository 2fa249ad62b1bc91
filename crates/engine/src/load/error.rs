//! Load errors: what is wrong with an agent file, and where.

use std::fmt;

/// An agent that failed to load, with the place in the file (1-based line and column).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub struct LoadError {
    /// The file's name as the caller gave it to the loader.
    pub file: String,
    /// `None` only when the place cannot be known (e.g. YAML anchors hide it).
    pub location: Option<Location>,
    /// What is wrong.
    pub kind: LoadErrorKind,
}

/// A 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Location {
    /// The line, from 1.
    pub line: usize,
    /// The column, in characters, from 1.
    pub column: usize,
}

/// What is wrong.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LoadErrorKind {
    /// Not valid YAML, or not the agent format (unknown field, wrong type, …).
    #[error("{0}")]
    Syntax(String),
    /// Two flows or steps share an id.
    #[error("duplicate id `{0}`: flow and step ids must be unique across the agent")]
    DuplicateId(String),
    /// A `next`, `goto`, call or command names no flow or step.
    #[error("unknown step or flow `{0}`")]
    UnknownTarget(String),
    /// A trigger or option names an intent the agent does not define.
    #[error("unknown intent `{0}`")]
    UnknownIntent(String),
    /// A capture or slot names an entity type that is neither defined nor built in.
    #[error("unknown entity type `{0}`")]
    UnknownEntityType(String),
    /// An event trigger's name breaks the event name rule.
    #[error(transparent)]
    InvalidEventName(#[from] crate::event::InvalidEventName),
    /// A condition or assignment that does not parse.
    #[error(transparent)]
    BadExpression(#[from] crate::expr::ExprSyntaxError),
    /// The intents and entities do not make an NLU model.
    #[error(transparent)]
    Nlu(#[from] crate::nlu::NluBuildError),
    /// Any other rule of the format (the message says which).
    #[error("{0}")]
    Invalid(String),
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.location {
            Some(Location { line, column }) => {
                write!(f, "{}:{line}:{column}: {}", self.file, self.kind)
            }
            None => write!(f, "{}: {}", self.file, self.kind),
        }
    }
}

/// A step on the way from the document root to a value: a mapping key or a list index.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Seg {
    Key(String),
    Index(usize),
}

impl From<&str> for Seg {
    fn from(key: &str) -> Self {
        Seg::Key(key.to_owned())
    }
}

impl From<&String> for Seg {
    fn from(key: &String) -> Self {
        Seg::Key(key.clone())
    }
}

impl From<usize> for Seg {
    fn from(index: usize) -> Self {
        Seg::Index(index)
    }
}

/// Builds a path from a list of segments: `yaml_path!["flows", id, "steps", 3]`.
macro_rules! yaml_path {
    ($($seg:expr),* $(,)?) => { vec![$($crate::load::error::Seg::from($seg)),*] };
}
pub(crate) use yaml_path;

/// Finds where a path points in the document: the deepest node that exists on the way.
pub(crate) fn locate(root: &marked_yaml::Node, path: &[Seg]) -> Option<Location> {
    let mut node = root;
    let mut best = root.span().start();
    for seg in path {
        let next = match seg {
            Seg::Key(key) => node.as_mapping().and_then(|m| {
                // Point at the key itself when the value is an empty scalar with no position.
                m.get_node(key)
            }),
            Seg::Index(i) => node.as_sequence().and_then(|s| s.get_node(*i)),
        };
        match next {
            Some(n) => {
                node = n;
                if let Some(start) = n.span().start() {
                    best = Some(start);
                }
            }
            None => break,
        }
    }
    best.map(|m| Location {
        line: m.line(),
        column: m.column(),
    })
}
