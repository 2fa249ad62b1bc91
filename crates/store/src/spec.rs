//! Choosing a backend from configuration.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use crate::{EmbeddedOptions, EmbeddedStore, MemoryStore, PostgresStore, SessionStore, StoreError};

/// Which backend to open, as configured (`--store memory|embedded`).
///
/// The kind is a word (`memory`, `embedded`); the embedded store's directory comes from the
/// server's data directory, so parse with [`StoreSpec::parse`] when you have one. `FromStr`
/// parses the kind alone and puts the embedded store in `./data` (the current directory's
/// `data` folder). Kinds with a URL form (a later `postgres://…`) will be recognised by their
/// scheme; anything unknown is [`StoreError::UnknownKind`], whose message lists the accepted
/// kinds.
///
/// ```
/// use std::path::Path;
/// use turnstile_store::StoreSpec;
///
/// let spec = StoreSpec::parse("embedded", Path::new("/var/lib/turnstile")).unwrap();
/// assert_eq!(spec, StoreSpec::Embedded { dir: "/var/lib/turnstile".into() });
/// assert_eq!("memory".parse::<StoreSpec>().unwrap(), StoreSpec::Memory);
/// let err = "mysql://x".parse::<StoreSpec>().unwrap_err();
/// assert!(err.to_string().contains("expected `memory` or `embedded`"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreSpec {
    /// [`MemoryStore`]: nothing survives a restart.
    Memory,
    /// [`EmbeddedStore`] in `dir` (file `dir/sessions.redb`), with default options.
    Embedded {
        /// The directory holding the database file; created if missing.
        dir: PathBuf,
    },
    /// [`PostgresStore`] at this URL (`postgres://user:password@host:port/database`).
    Postgres {
        /// The connection URL.
        url: String,
    },
}

impl StoreSpec {
    /// The data directory `FromStr` uses for `embedded`.
    pub const DEFAULT_DATA_DIR: &'static str = "data";

    /// Parses a store kind (`memory`, `embedded`, case-insensitive, surrounding spaces ignored,
    /// or a `postgres://…` URL); `embedded` stores its file in `data_dir`.
    pub fn parse(kind: &str, data_dir: &Path) -> Result<Self, StoreError> {
        let trimmed = kind.trim();
        if trimmed.starts_with("postgres://") || trimmed.starts_with("postgresql://") {
            return Ok(StoreSpec::Postgres {
                url: trimmed.to_owned(),
            });
        }
        match trimmed.to_ascii_lowercase().as_str() {
            "memory" => Ok(StoreSpec::Memory),
            "embedded" => Ok(StoreSpec::Embedded {
                dir: data_dir.to_path_buf(),
            }),
            _ => Err(StoreError::UnknownKind(kind.to_owned())),
        }
    }
}

impl FromStr for StoreSpec {
    type Err = StoreError;

    fn from_str(kind: &str) -> Result<Self, StoreError> {
        StoreSpec::parse(kind, Path::new(Self::DEFAULT_DATA_DIR))
    }
}

/// Opens the store `spec` describes, ready to share between tasks.
pub async fn open_store(spec: &StoreSpec) -> Result<Arc<dyn SessionStore>, StoreError> {
    Ok(match spec {
        StoreSpec::Memory => Arc::new(MemoryStore::new()),
        StoreSpec::Embedded { dir } => {
            Arc::new(EmbeddedStore::open(dir, EmbeddedOptions::default())?)
        }
        StoreSpec::Postgres { url } => Arc::new(PostgresStore::connect(url).await?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_known_kinds() {
        let dir = Path::new("/tmp/x");
        assert_eq!(
            StoreSpec::parse(" Memory ", dir).unwrap(),
            StoreSpec::Memory
        );
        assert_eq!(
            StoreSpec::parse("EMBEDDED", dir).unwrap(),
            StoreSpec::Embedded { dir: dir.into() }
        );
        assert_eq!(
            "embedded".parse::<StoreSpec>().unwrap(),
            StoreSpec::Embedded {
                dir: PathBuf::from("data")
            }
        );
    }

    #[test]
    fn unknown_kind_names_accepted_ones() {
        assert_eq!(
            StoreSpec::parse("postgres://u@localhost/db", Path::new(".")).unwrap(),
            StoreSpec::Postgres {
                url: "postgres://u@localhost/db".into()
            }
        );
        for kind in ["", "redis", "mysql://localhost/db"] {
            let err = StoreSpec::parse(kind, Path::new(".")).unwrap_err();
            assert!(matches!(err, StoreError::UnknownKind(_)));
            let message = err.to_string();
            assert!(message.contains(kind), "{message}");
            assert!(message.contains("`memory` or `embedded`"), "{message}");
        }
    }
}
