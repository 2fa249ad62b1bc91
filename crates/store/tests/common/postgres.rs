//! A private PostgreSQL server for tests: `initdb` in a temporary directory, `postgres` on a free
//! loopback port, removed when dropped. A real database, not a stand-in.
//!
//! The server binaries are looked up on `PATH`, then under `/usr/lib/postgresql/*/bin`. Without
//! them the tests fail and say what to install: they never pass by skipping. PostgreSQL refuses to
//! run as root, so as root the server runs as the `postgres` user (its directory owned by it).

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct PgServer {
    child: Child,
    pub url: String,
    _dir: tempfile::TempDir,
}

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

/// The uid and gid of `postgres` when this process is root (PostgreSQL refuses root).
fn run_as() -> Option<(u32, u32)> {
    if unsafe { libc::geteuid() } != 0 {
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
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl PgServer {
    pub fn start() -> PgServer {
        let missing = "PostgreSQL server binaries (initdb, postgres) were not found on PATH or \
                       under /usr/lib/postgresql/*/bin: install them, e.g. `apt-get install \
                       postgresql`";
        let initdb = find("initdb").expect(missing);
        let postgres = find("postgres").expect(missing);
        let user = run_as();
        if unsafe { libc::geteuid() } == 0 {
            assert!(
                user.is_some(),
                "running as root needs a `postgres` user to run the server"
            );
        }
        let dir = tempfile::Builder::new()
            .prefix("turnstile-pg-")
            .tempdir()
            .unwrap();
        let data = dir.path().join("data");
        if let Some((uid, gid)) = user {
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid)).unwrap();
        }
        let status = command(&initdb, user)
            .args([
                "-D",
                data.to_str().unwrap(),
                "-A",
                "trust",
                "-U",
                "turnstile",
                "--no-sync",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("initdb runs");
        assert!(status.success(), "initdb failed in {}", data.display());
        let port = free_port();
        let mut server = command(&postgres, user);
        server
            .args(["-D", data.to_str().unwrap(), "-p", &port.to_string()])
            .args(["-c", "listen_addresses=127.0.0.1"])
            .args([
                "-c",
                &format!("unix_socket_directories={}", dir.path().display()),
            ])
            .args(["-c", "fsync=on"])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // The server dies with the test process, whatever happens to it.
        unsafe {
            server.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let child = server.spawn().expect("postgres starts");
        let url = format!("postgres://turnstile@127.0.0.1:{port}/postgres");
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "postgres did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        PgServer {
            child,
            url,
            _dir: dir,
        }
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        unsafe {
            // SIGINT is a fast shutdown: it disconnects clients (SIGTERM would wait for them).
            libc::kill(self.child.id() as i32, libc::SIGINT);
        }
        let _ = self.child.wait();
    }
}
