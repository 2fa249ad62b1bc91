//! Test harnesses shared by turnstile's test suites; not part of the product.
//!
//! [`PgServer`] starts a private PostgreSQL server for one test (or one test binary): `initdb`
//! in a temporary directory, `postgres` on a free loopback port, stopped and removed when
//! dropped. It is a real database, not a stand-in, so the store's PostgreSQL backend and the
//! multi-node tests run against the same server a deployment uses.
//!
//! The server binaries are looked up on `PATH`, then under `/usr/lib/postgresql/*/bin`. Without
//! them [`PgServer::start`] panics and says what to install: tests that need PostgreSQL fail,
//! they never pass by skipping. PostgreSQL refuses to run as root, so as root the server runs as
//! the `postgres` user (its directory owned by it). The server gets `PR_SET_PDEATHSIG`, so it
//! dies with the test process even when that process is killed.
//!
//! ```no_run
//! use turnstile_testkit::PgServer;
//!
//! let server = PgServer::start();
//! // Each test (or each node of a test cluster) can get a database of its own:
//! let url = server.create_database("cluster_test_1");
//! assert!(url.ends_with("/cluster_test_1"));
//! ```

#![warn(missing_docs)]

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The role `initdb` creates as the superuser (trust authentication: no password).
const USER: &str = "turnstile";

/// How long to wait for the server to accept sessions.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// A private PostgreSQL server, stopped (fast shutdown) and deleted when dropped.
///
/// It listens on `127.0.0.1` only, trusts every local connection, and runs with `fsync=on`
/// so that durability tests mean something.
#[derive(Debug)]
pub struct PgServer {
    child: Child,
    port: u16,
    /// The URL of the server's `postgres` database, as user `turnstile` (a superuser):
    /// `postgres://turnstile@127.0.0.1:<port>/postgres`.
    pub url: String,
    dir: tempfile::TempDir,
}

/// The binary `name`: on `PATH`, else in the newest `/usr/lib/postgresql/<version>/bin`.
fn find(binary: &str) -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|dir| dir.join(binary))
        .find(|p| p.is_file());
    on_path.or_else(|| {
        let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .filter_map(|e| e.ok().map(|e| e.path().join("bin").join(binary)))
            .filter(|p| p.is_file())
            .collect();
        versions.sort();
        versions.pop()
    })
}

/// Like [`find`], but panics with what to install when the binary is missing.
fn require(binary: &str) -> PathBuf {
    find(binary).unwrap_or_else(|| {
        panic!(
            "the PostgreSQL binary `{binary}` was not found on PATH or under \
             /usr/lib/postgresql/*/bin: install the PostgreSQL server and client, e.g. \
             `apt-get install postgresql`"
        )
    })
}

/// Whether this process runs as root.
fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// The uid and gid of `postgres` when this process is root (PostgreSQL refuses root).
fn run_as() -> Option<(u32, u32)> {
    if !is_root() {
        return None;
    }
    let out = Command::new("id").args(["-u", "postgres"]).output().ok()?;
    let uid = String::from_utf8_lossy(&out.stdout).trim().parse().ok()?;
    let out = Command::new("id").args(["-g", "postgres"]).output().ok()?;
    let gid = String::from_utf8_lossy(&out.stdout).trim().parse().ok()?;
    Some((uid, gid))
}

fn command(binary: &Path, user: Option<(u32, u32)>) -> Command {
    let mut command = Command::new(binary);
    if let Some((uid, gid)) = user {
        command.uid(uid).gid(gid);
    }
    command
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind a loopback port")
        .local_addr()
        .expect("the bound address")
        .port()
}

impl PgServer {
    /// Initialises a database cluster in a temporary directory and starts `postgres` on a free
    /// loopback port; returns once the server accepts sessions.
    ///
    /// Panics if the binaries are missing (saying what to install), if run as root without a
    /// `postgres` user, or if the server does not come up within 30 s.
    pub fn start() -> PgServer {
        let initdb = require("initdb");
        let postgres = require("postgres");
        let user = run_as();
        if is_root() {
            assert!(
                user.is_some(),
                "running as root needs a `postgres` user to run the server"
            );
        }
        let dir = tempfile::Builder::new()
            .prefix("turnstile-pg-")
            .tempdir()
            .expect("a temporary directory");
        let data = dir.path().join("data");
        if let Some((uid, gid)) = user {
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid))
                .expect("give the server directory to `postgres`");
        }
        let data_arg = data.to_str().expect("a UTF-8 temporary path");
        let status = command(&initdb, user)
            .args(["-D", data_arg, "-A", "trust", "-U", USER, "--no-sync"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("initdb runs");
        assert!(status.success(), "initdb failed in {}", data.display());
        let port = free_port();
        let mut server = command(&postgres, user);
        server
            .args(["-D", data_arg, "-p", &port.to_string()])
            .args(["-c", "listen_addresses=127.0.0.1"])
            .args([
                "-c",
                &format!("unix_socket_directories={}", dir.path().display()),
            ])
            .args(["-c", "fsync=on"])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // The server dies with the test process, whatever happens to it.
        // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec.
        unsafe {
            server.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let child = server.spawn().expect("postgres starts");
        let mut server = PgServer {
            child,
            port,
            url: url_for(port, "postgres"),
            dir,
        };
        server.wait_until_ready();
        server
    }

    /// Waits until the server accepts sessions: its port opens a moment before it does
    /// (connections in between are refused with "the database system is starting up").
    fn wait_until_ready(&mut self) {
        let pg_isready = require("pg_isready");
        let started = Instant::now();
        loop {
            let ready = Command::new(&pg_isready)
                .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
                .args(["-U", USER, "-d", "postgres", "-t", "1"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .expect("pg_isready runs");
            if ready.success() {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("postgres exited while starting: {status}");
            }
            assert!(started.elapsed() < START_TIMEOUT, "postgres did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The URL of the server's `postgres` database (the same as the [`url`](Self::url) field).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The loopback port the server listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Creates a new, empty database `name` on this server and returns its URL, so that tests
    /// sharing one server (or the nodes of one test cluster) stay isolated.
    ///
    /// `name` must be 1 to 63 ASCII letters, digits, `_` or `-`. Panics if it is not, or if the
    /// database cannot be created (for example because it already exists).
    pub fn create_database(&self, name: &str) -> String {
        check_database_name(name);
        let output = Command::new(require("createdb"))
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
            .args(["-U", USER, "--", name])
            .stdin(Stdio::null())
            .output()
            .expect("createdb runs");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            output.status.success(),
            "createdb {name} failed: {}",
            stderr.trim()
        );
        url_for(self.port, name)
    }

    /// The server's temporary directory (its data directory is `data` inside it).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

/// Panics unless `name` is a database name that needs no quoting in SQL or in a URL.
fn check_database_name(name: &str) {
    assert!(
        (1..=63).contains(&name.len())
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'),
        "database name {name:?}: use 1 to 63 ASCII letters, digits, `_` or `-`"
    );
}

/// The URL of `database` on the server at `port`.
fn url_for(port: u16, database: &str) -> String {
    format!("postgres://{USER}@127.0.0.1:{port}/{database}")
}

impl Drop for PgServer {
    fn drop(&mut self) {
        // SIGINT is a fast shutdown: it disconnects clients (SIGTERM would wait for them).
        // SAFETY: kill has no memory-safety preconditions; the pid is our own child's.
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGINT);
        }
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_binaries_on_path_or_under_usr_lib() {
        // `sh` is on PATH everywhere; a made-up name is nowhere.
        assert!(find("sh").is_some());
        assert!(find("turnstile-no-such-binary").is_none());
    }

    #[test]
    #[should_panic(expected = "use 1 to 63 ASCII letters")]
    fn rejects_database_names_that_need_quoting() {
        check_database_name("fine_name-1");
        check_database_name("bad name; DROP");
    }

    #[test]
    fn starts_a_server_and_creates_isolated_databases() {
        let server = PgServer::start();
        assert_eq!(server.url(), server.url);
        assert!(server.url.starts_with("postgres://turnstile@127.0.0.1:"));
        assert!(
            server
                .url
                .ends_with(&format!(":{}/postgres", server.port()))
        );
        assert!(server.dir().join("data").join("PG_VERSION").is_file());
        let a = server.create_database("testkit_a");
        let b = server.create_database("testkit-b");
        assert!(a.ends_with("/testkit_a"), "{a}");
        assert!(b.ends_with("/testkit-b"), "{b}");
        // The databases really exist: listing them with psql shows both.
        let psql = require("psql");
        let output = Command::new(psql)
            .args(["-h", "127.0.0.1", "-p", &server.port().to_string()])
            .args(["-U", USER, "-d", "postgres", "-At", "-c"])
            .arg("SELECT datname FROM pg_database ORDER BY datname")
            .output()
            .expect("psql runs");
        assert!(output.status.success());
        let names = String::from_utf8_lossy(&output.stdout);
        assert!(names.lines().any(|n| n == "testkit_a"), "{names}");
        assert!(names.lines().any(|n| n == "testkit-b"), "{names}");
        let pid = server.child.id();
        drop(server);
        // The server is gone once dropped.
        // SAFETY: signal 0 only checks that the process exists.
        let alive = unsafe { libc::kill(pid as i32, 0) } == 0;
        assert!(!alive, "postgres {pid} still runs after drop");
    }

    #[test]
    #[should_panic(expected = "createdb testkit_dup failed")]
    fn creating_an_existing_database_panics() {
        let server = PgServer::start();
        server.create_database("testkit_dup");
        server.create_database("testkit_dup");
    }
}
