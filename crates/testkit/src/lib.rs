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
//! Outages can be staged: [`PgServer::stop`] and [`PgServer::start_again`] (or
//! [`PgServer::restart`]) take the server down and bring it back on the same port with the same
//! data, and [`PgServer::terminate_connections`] kills the sessions of one database while the
//! server stays up. [`PgProxy`] relays connections to a server and can cut one at a chosen
//! message (say, right after a `COMMIT` reached the server, before its answer comes back).
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

mod proxy;
mod wait;

pub use proxy::{Cut, PgProxy};
pub use wait::wait_until;

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
    /// The running server; `None` while [stopped](PgServer::stop).
    child: Option<Child>,
    /// The uid and gid the server runs as (when this process is root).
    user: Option<(u32, u32)>,
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
        // Checked before initdb, so that a missing server says so at once.
        require("postgres");
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
        let mut server = PgServer {
            child: None,
            user,
            port: free_port(),
            url: String::new(),
            dir,
        };
        server.url = url_for(server.port, "postgres");
        server.start_again();
        server
    }

    /// Starts the server again after [`stop`](Self::stop): same port, same data directory, so
    /// everything committed before the stop is there. Returns once it accepts sessions.
    ///
    /// Panics if the server is running, or if it does not come up within 30 s.
    pub fn start_again(&mut self) {
        assert!(
            self.child.is_none(),
            "the PostgreSQL server is already running"
        );
        let data = self.dir.path().join("data");
        let data_arg = data.to_str().expect("a UTF-8 temporary path");
        let mut server = command(&require("postgres"), self.user);
        server
            .args(["-D", data_arg, "-p", &self.port.to_string()])
            .args(["-c", "listen_addresses=127.0.0.1"])
            .args([
                "-c",
                &format!("unix_socket_directories={}", self.dir.path().display()),
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
        self.child = Some(server.spawn().expect("postgres starts"));
        self.wait_until_ready();
    }

    /// Stops the server with a fast shutdown (every client is disconnected, committed data is
    /// kept) and waits until it has exited. Does nothing if it is already stopped.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // SIGINT is a fast shutdown: it disconnects clients (SIGTERM would wait for them).
            // SAFETY: kill has no memory-safety preconditions; the pid is our own child's.
            unsafe {
                libc::kill(child.id() as i32, libc::SIGINT);
            }
            let _ = child.wait();
        }
    }

    /// [Stops](Self::stop) the server and [starts it again](Self::start_again) on the same port
    /// with the same data: every connection to it is lost, nothing committed is.
    pub fn restart(&mut self) {
        self.stop();
        self.start_again();
    }

    /// Whether the server runs (it is not [stopped](Self::stop)).
    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// Terminates every client connection to `database` (`pg_terminate_backend`) while the
    /// server stays up, waits until those sessions have ended, and returns how many there were.
    ///
    /// Panics if the server is stopped, if `database` is not a name
    /// [`create_database`](Self::create_database) accepts, or if `psql` fails.
    pub fn terminate_connections(&self, database: &str) -> usize {
        assert!(self.is_running(), "the PostgreSQL server is stopped");
        check_database_name(database);
        // The two-argument form waits (up to 10 s) until each session has ended.
        let sql = format!(
            "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid, 10000)) \
             FROM pg_stat_activity \
             WHERE datname = '{database}' AND pid <> pg_backend_pid() \
             AND backend_type = 'client backend'"
        );
        let output = Command::new(require("psql"))
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
            .args(["-U", USER, "-d", "postgres", "-At", "-c", &sql])
            .stdin(Stdio::null())
            .output()
            .expect("psql runs");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "terminating the connections to {database} failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        );
        stdout
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("psql answered {stdout:?}"))
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
            let child = self.child.as_mut().expect("the server was started");
            if let Ok(Some(status)) = child.try_wait() {
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
        self.stop();
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
        let pid = server.child.as_ref().expect("running").id();
        drop(server);
        // The server is gone once dropped.
        // SAFETY: signal 0 only checks that the process exists.
        let alive = unsafe { libc::kill(pid as i32, 0) } == 0;
        assert!(!alive, "postgres {pid} still runs after drop");
    }

    /// `psql` on `database` running `sql`, with its output.
    fn psql(server: &PgServer, database: &str, sql: &str) -> std::process::Output {
        Command::new(require("psql"))
            .args(["-h", "127.0.0.1", "-p", &server.port().to_string()])
            .args(["-U", USER, "-d", database, "-At", "-c", sql])
            .stdin(Stdio::null())
            .output()
            .expect("psql runs")
    }

    #[test]
    fn stops_and_starts_again_on_the_same_port_with_the_same_data() {
        let mut server = PgServer::start();
        let (port, url) = (server.port(), server.url.clone());
        server.create_database("kept");
        let created = psql(
            &server,
            "kept",
            "CREATE TABLE t (v int); INSERT INTO t VALUES (7)",
        );
        assert!(created.status.success());
        server.stop();
        assert!(!server.is_running());
        assert!(!psql(&server, "kept", "SELECT 1").status.success());
        server.stop(); // a second stop does nothing
        server.start_again();
        assert!(server.is_running());
        assert_eq!((server.port(), server.url.as_str()), (port, url.as_str()));
        let read = psql(&server, "kept", "SELECT v FROM t");
        assert_eq!(String::from_utf8_lossy(&read.stdout).trim(), "7");
        server.restart();
        let read = psql(&server, "kept", "SELECT v FROM t");
        assert_eq!(String::from_utf8_lossy(&read.stdout).trim(), "7");
    }

    #[test]
    fn terminates_the_connections_of_one_database() {
        let server = PgServer::start();
        server.create_database("victim");
        assert_eq!(server.terminate_connections("victim"), 0);
        let mut sleeper = Command::new(require("psql"))
            .args(["-h", "127.0.0.1", "-p", &server.port().to_string()])
            .args(["-U", USER, "-d", "victim", "-c", "SELECT pg_sleep(60)"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("psql runs");
        let started = Instant::now();
        loop {
            let sql = "SELECT count(*) FROM pg_stat_activity WHERE datname = 'victim'";
            let seen = psql(&server, "postgres", sql);
            if String::from_utf8_lossy(&seen.stdout).trim() == "1" {
                break;
            }
            assert!(started.elapsed() < START_TIMEOUT, "psql never connected");
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(server.terminate_connections("victim"), 1);
        // The session is gone at once, not after its minute of sleep.
        let status = sleeper.wait().expect("psql exits");
        assert!(!status.success());
        assert!(started.elapsed() < Duration::from_secs(30));
        assert!(server.is_running());
    }

    #[test]
    fn the_proxy_relays_and_cuts_at_the_armed_marker() {
        let server = PgServer::start();
        let proxy = PgProxy::start(server.port());
        assert!(
            proxy
                .url("postgres")
                .ends_with(&format!(":{}/postgres", proxy.port()))
        );
        let through = |sql: &str| {
            Command::new(require("psql"))
                .args(["-h", "127.0.0.1", "-p", &proxy.port().to_string()])
                .args(["-U", USER, "-d", "postgres", "-At", "-c", sql])
                .stdin(Stdio::null())
                .output()
                .expect("psql runs")
        };
        let answer = through("SELECT 40 + 2");
        assert_eq!(String::from_utf8_lossy(&answer.stdout).trim(), "42");
        proxy.cut_at(b"CREATE TABLE never", Cut::BeforeForwarding);
        assert!(!through("CREATE TABLE never (v int)").status.success());
        proxy.cut_at(b"CREATE TABLE made", Cut::AfterForwarding);
        assert!(!through("CREATE TABLE made (v int)").status.success());
        assert_eq!(proxy.cuts(), 2);
        // The server acted on the forwarded statement only (it may take a moment to finish).
        let started = Instant::now();
        let tables = loop {
            let sql = "SELECT string_agg(relname, ',') FROM pg_class \
                       WHERE relname IN ('never', 'made')";
            let tables = psql(&server, "postgres", sql);
            let tables = String::from_utf8_lossy(&tables.stdout).trim().to_owned();
            if !tables.is_empty() || started.elapsed() > Duration::from_secs(10) {
                break tables;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        assert_eq!(tables, "made");
        // Disarmed after tripping: the relay works again.
        let answer = through("SELECT 'CREATE TABLE made'");
        assert!(answer.status.success());
    }

    #[test]
    #[should_panic(expected = "createdb testkit_dup failed")]
    fn creating_an_existing_database_panics() {
        let server = PgServer::start();
        server.create_database("testkit_dup");
        server.create_database("testkit_dup");
    }
}
