//! Connections that come back: a lost connection is replaced lazily, on the next call that
//! needs it, with bounded backoff, and its statements are prepared again.
//!
//! A connection is lost when its `tokio_postgres::Client` says it is closed, or when a call
//! fails with an error that is not the server's answer to the statement (an I/O error, a
//! closed connection) or that says the session is ending (SQLSTATE class `08`, connection
//! exception, or `57P01`–`57P03`: shutdown, crash, not accepting connections).
//!
//! Reconnecting waits 50 ms after a failed attempt, doubling up to 2 s, and an attempt
//! (connect and prepare) is cut off after [`ATTEMPT_TIMEOUT`]. A caller waits for a connection
//! until its deadline (usually [`CONNECT_WAIT`] from when it asked) and then fails with
//! [`StoreError::Backend`]: while the database is down, calls fail within seconds instead of
//! hanging. Every connection logs its loss once, and every reconnection after a loss is logged
//! once (`tracing::warn!`), naming the server as `host:port/database`, never with the URL's
//! password.

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::time::Instant;
use tokio_postgres::config::Host;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, Config, NoTls, Row, Statement};

use super::{backend, describe};
use crate::StoreError;

/// How long a call waits for a connection while there is none.
pub(super) const CONNECT_WAIT: Duration = Duration::from_secs(5);
/// The longest one reconnection attempt (connect and prepare) may take.
pub(super) const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(3);
/// The wait after the first failed attempt; it doubles after each failure.
const FIRST_BACKOFF: Duration = Duration::from_millis(50);
/// The longest wait between two attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// Statements prepared on every new connection.
pub(super) trait Prepare: Sized + Send + Sync + 'static {
    /// Prepares the statements on `client`.
    fn prepare(client: &Client) -> impl Future<Output = Result<Self, StoreError>> + Send;
}

/// A connection with its prepared statements.
pub(super) struct Connected<S> {
    pub(super) client: Client,
    pub(super) statements: S,
    /// Set when a call saw the connection fail before the client noticed it closed.
    broken: AtomicBool,
}

impl<S> Connected<S> {
    fn usable(&self) -> bool {
        !self.client.is_closed() && !self.broken.load(Ordering::Acquire)
    }
}

/// Whether `error` means that the connection it came on is gone (or going).
pub(super) fn is_lost(error: &tokio_postgres::Error) -> bool {
    if error.is_closed() {
        return true;
    }
    match error.as_db_error() {
        // Not the server's answer: I/O, protocol, closed or timed-out connection.
        None => true,
        Some(db) => {
            let code = db.code().code();
            code.starts_with("08") || matches!(code, "57P01" | "57P02" | "57P03")
        }
    }
}

/// Where to connect: the parsed URL, and how to name the server in logs.
#[derive(Clone)]
pub(super) struct Endpoint {
    config: Config,
    /// `host:port/database`: no user, no password.
    target: String,
}

impl Endpoint {
    /// Parses a `postgres://` URL (or key=value connection string). Without a
    /// `connect_timeout` of its own, connecting gives up after [`ATTEMPT_TIMEOUT`].
    pub(super) fn parse(url: &str) -> Result<Endpoint, StoreError> {
        let mut config: Config = url.parse().map_err(|e| backend("connect", e))?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(ATTEMPT_TIMEOUT);
        }
        let mut target = String::new();
        for (i, host) in config.get_hosts().iter().enumerate() {
            if i > 0 {
                target.push(',');
            }
            match host {
                Host::Tcp(name) => target.push_str(name),
                Host::Unix(path) => target.push_str(&path.display().to_string()),
            }
            if let Some(port) = config.get_ports().get(i).or(config.get_ports().first()) {
                let _ = write!(target, ":{port}");
            }
        }
        let _ = write!(target, "/{}", config.get_dbname().unwrap_or("-"));
        Ok(Endpoint { config, target })
    }

    /// The server as logs name it: `host:port/database`.
    pub(super) fn target(&self) -> &str {
        &self.target
    }

    /// Opens a connection for `role` and prepares its statements. The connection's task logs
    /// (once) when the connection ends with an error.
    pub(super) async fn open<S: Prepare>(
        &self,
        role: &'static str,
    ) -> Result<Connected<S>, StoreError> {
        let (client, connection) = self
            .config
            .connect(NoTls)
            .await
            .map_err(|e| backend("connect", e))?;
        let target = self.target.clone();
        tokio::spawn(async move {
            // Ok means the client was dropped: ours, not a loss.
            if let Err(error) = connection.await {
                tracing::warn!(
                    role,
                    server = %target,
                    error = %describe(&error),
                    "PostgreSQL connection lost; reconnecting on next use"
                );
            }
        });
        let statements = S::prepare(&client).await?;
        Ok(Connected {
            client,
            statements,
            broken: AtomicBool::new(false),
        })
    }
}

/// Opens new connections, waiting between failed attempts.
pub(super) struct Dialer {
    endpoint: Endpoint,
    role: &'static str,
    /// The wait after the next failure.
    backoff: Duration,
    /// No attempt before this (after a failure).
    next_attempt: Option<Instant>,
    /// Since when the role has had no connection, if it had one before.
    lost_at: Option<Instant>,
    failures: u32,
    last_error: String,
}

impl Dialer {
    pub(super) fn new(endpoint: Endpoint, role: &'static str) -> Dialer {
        Dialer {
            endpoint,
            role,
            backoff: FIRST_BACKOFF,
            next_attempt: None,
            lost_at: None,
            failures: 0,
            last_error: String::new(),
        }
    }

    /// Notes that the connection was given up (the first time since the last success).
    pub(super) fn lost(&mut self) {
        self.lost_at.get_or_insert_with(Instant::now);
    }

    /// A new connection, replacing a lost one: tries at once unless a failed attempt asks to
    /// wait, and keeps trying while the next attempt is due before `deadline`. An attempt that
    /// is due always runs, even past the deadline, so a caller never fails without one.
    pub(super) async fn dial<S: Prepare>(
        &mut self,
        deadline: Instant,
    ) -> Result<Connected<S>, StoreError> {
        self.lost();
        loop {
            if let Some(at) = self.next_attempt
                && at > Instant::now()
            {
                if at > deadline {
                    return Err(self.unavailable());
                }
                tokio::time::sleep_until(at).await;
            }
            let attempt = tokio::time::timeout(ATTEMPT_TIMEOUT, self.endpoint.open(self.role));
            let error = match attempt.await {
                Ok(Ok(connected)) => {
                    if let Some(lost_at) = self.lost_at.take() {
                        tracing::warn!(
                            role = self.role,
                            server = %self.endpoint.target(),
                            down_for = ?lost_at.elapsed(),
                            failed_attempts = self.failures,
                            "PostgreSQL connection re-established"
                        );
                    }
                    self.backoff = FIRST_BACKOFF;
                    self.next_attempt = None;
                    self.failures = 0;
                    return Ok(connected);
                }
                Ok(Err(StoreError::Backend(message))) => message,
                Ok(Err(other)) => other.to_string(),
                Err(_) => format!("no connection within {ATTEMPT_TIMEOUT:?}"),
            };
            tracing::debug!(role = self.role, server = %self.endpoint.target(), %error,
                "PostgreSQL reconnection attempt failed");
            self.lost();
            self.failures += 1;
            self.last_error = error;
            self.next_attempt = Some(Instant::now() + self.backoff);
            self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
        }
    }

    fn unavailable(&self) -> StoreError {
        StoreError::Backend(format!(
            "PostgreSQL {} connection unavailable ({} failed attempts to reconnect): {}",
            self.role, self.failures, self.last_error
        ))
    }
}

/// A connection owned by one task (the writer), replaced when lost.
pub(super) struct Exclusive<S> {
    dialer: Dialer,
    current: Option<Connected<S>>,
}

impl<S: Prepare> Exclusive<S> {
    pub(super) fn new(dialer: Dialer, connected: Connected<S>) -> Exclusive<S> {
        Exclusive {
            dialer,
            current: Some(connected),
        }
    }

    /// The connection, replaced first if it is lost (waiting at most until `deadline` if
    /// reconnecting has to wait).
    pub(super) async fn get(&mut self, deadline: Instant) -> Result<&mut Connected<S>, StoreError> {
        if self.current.as_ref().is_some_and(|c| !c.usable()) {
            self.forget();
        }
        let connected = match self.current.take() {
            Some(connected) => connected,
            None => self.dialer.dial(deadline).await?,
        };
        Ok(self.current.insert(connected))
    }

    /// Gives up the connection (it failed): the next [`get`](Self::get) opens a new one.
    pub(super) fn forget(&mut self) {
        if self.current.take().is_some() {
            self.dialer.lost();
        }
    }
}

/// A connection shared by concurrent callers (whose statements it pipelines), replaced when
/// lost. One caller reconnects while the others wait for it (each until its own deadline).
pub(super) struct Shared<S> {
    role: &'static str,
    current: std::sync::Mutex<Option<Arc<Connected<S>>>>,
    /// Held while reconnecting.
    dialer: tokio::sync::Mutex<Dialer>,
}

impl<S: Prepare> Shared<S> {
    pub(super) fn new(dialer: Dialer, connected: Connected<S>) -> Shared<S> {
        Shared {
            role: dialer.role,
            current: std::sync::Mutex::new(Some(Arc::new(connected))),
            dialer: tokio::sync::Mutex::new(dialer),
        }
    }

    /// The current connection if it is usable; otherwise forgets it and says whether there
    /// was one.
    fn usable(&self) -> Result<Arc<Connected<S>>, bool> {
        let mut current = self.current.lock().unwrap_or_else(|e| e.into_inner());
        match current.as_ref() {
            Some(connected) if connected.usable() => Ok(Arc::clone(connected)),
            _ => Err(current.take().is_some()),
        }
    }

    async fn get(&self, deadline: Instant) -> Result<Arc<Connected<S>>, StoreError> {
        let had = match self.usable() {
            Ok(connected) => return Ok(connected),
            Err(had) => had,
        };
        let Ok(mut dialer) = tokio::time::timeout_at(deadline, self.dialer.lock()).await else {
            return Err(StoreError::Backend(format!(
                "PostgreSQL {} connection unavailable: still reconnecting after {CONNECT_WAIT:?}",
                self.role
            )));
        };
        // Another caller may have reconnected while this one waited.
        match self.usable() {
            Ok(connected) => return Ok(connected),
            Err(again) if had || again => dialer.lost(),
            Err(_) => {}
        }
        let connected = Arc::new(dialer.dial(deadline).await?);
        *self.current.lock().unwrap_or_else(|e| e.into_inner()) = Some(Arc::clone(&connected));
        Ok(connected)
    }

    /// Runs one statement (`statement` picks it among the connection's), on a new connection if
    /// the current one is lost. A call whose connection is lost under it runs once more on a new
    /// one: only idempotent statements, or statements whose repetition is harmless, go here.
    pub(super) async fn query_opt(
        &self,
        context: &str,
        statement: fn(&S) -> &Statement,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Option<Row>, StoreError> {
        let deadline = Instant::now() + CONNECT_WAIT;
        let mut again = true;
        loop {
            let connected = self.get(deadline).await?;
            match connected
                .client
                .query_opt(statement(&connected.statements), params)
                .await
            {
                Ok(row) => return Ok(row),
                Err(e) if is_lost(&e) || connected.client.is_closed() => {
                    connected.broken.store(true, Ordering::Release);
                    if !again {
                        return Err(backend(context, e));
                    }
                    again = false;
                }
                Err(e) => return Err(backend(context, e)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_target_names_the_server_without_credentials() {
        let endpoint = Endpoint::parse("postgres://ann:s3cret@db.example:6543/sessions").unwrap();
        assert_eq!(endpoint.target(), "db.example:6543/sessions");
        let endpoint = Endpoint::parse("host=a,b port=1,2 user=u password=pw dbname=d").unwrap();
        assert_eq!(endpoint.target(), "a:1,b:2/d");
        assert_eq!(
            endpoint.config.get_connect_timeout(),
            Some(&ATTEMPT_TIMEOUT)
        );
        let endpoint = Endpoint::parse("postgres://h/d?connect_timeout=9").unwrap();
        assert_eq!(
            endpoint.config.get_connect_timeout(),
            Some(&Duration::from_secs(9))
        );
        assert!(matches!(
            Endpoint::parse("postgres://h:notaport/d"),
            Err(StoreError::Backend(m)) if m.contains("connect")
        ));
    }
}
