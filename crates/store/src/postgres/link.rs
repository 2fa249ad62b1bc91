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
//!
//! A loss is found either by the connection's task (the server closed it, or sent an error
//! while no statement was waiting) or by a call (the server's error answered a statement, and
//! the connection then simply ends): whichever comes first logs it, through the `Loss` they
//! share.

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::time::Instant;
use tokio_postgres::config::Host;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, Config, NoTls, Row, Statement};

use super::{backend, describe};
use crate::{BackendSource, StoreError};

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

/// The loss of one connection, shared by its task and its callers so that it is logged once.
struct Loss {
    role: &'static str,
    target: String,
    /// The loss has been logged (and the connection must not be used again).
    reported: AtomicBool,
    /// The connection was dropped by us, not lost: its task ending is not a loss.
    retired: AtomicBool,
}

impl Loss {
    /// Logs the loss, unless it already was.
    fn report(&self, error: &str) {
        if !self.reported.swap(true, Ordering::AcqRel) {
            tracing::warn!(
                role = self.role,
                server = %self.target,
                error,
                "PostgreSQL connection lost; reconnecting on next use"
            );
        }
    }
}

/// A connection with its prepared statements.
pub(super) struct Connected<S> {
    pub(super) client: Client,
    pub(super) statements: S,
    loss: Arc<Loss>,
}

impl<S> Connected<S> {
    /// Neither closed nor seen failing by a call.
    fn usable(&self) -> bool {
        !self.client.is_closed() && !self.loss.reported.load(Ordering::Acquire)
    }

    /// Notes that a call saw the connection fail (logging the loss if nothing has yet).
    pub(super) fn lost(&self, error: &str) {
        self.loss.report(error);
    }

    /// Whether it is usable; if not, the loss is logged (once) before it is given up.
    fn check(&self) -> bool {
        if self.usable() {
            return true;
        }
        self.lost("the connection closed");
        false
    }
}

impl<S> Drop for Connected<S> {
    fn drop(&mut self) {
        // Runs before the client is dropped, which ends the connection's task.
        self.loss.retired.store(true, Ordering::Release);
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
    /// the loss when the connection ends without our dropping it (unless a call logged it).
    pub(super) async fn open<S: Prepare>(
        &self,
        role: &'static str,
    ) -> Result<Connected<S>, StoreError> {
        let (client, connection) = self
            .config
            .connect(NoTls)
            .await
            .map_err(|e| backend("connect", e))?;
        let loss = Arc::new(Loss {
            role,
            target: self.target.clone(),
            reported: AtomicBool::new(false),
            retired: AtomicBool::new(false),
        });
        let watched = Arc::clone(&loss);
        tokio::spawn(async move {
            // `Ok` when the client was dropped (ours) but also when the server closed the
            // connection after sending its error to a waiting statement (a loss).
            match connection.await {
                Err(error) => watched.report(&describe(&error)),
                Ok(()) if !watched.retired.load(Ordering::Acquire) => {
                    watched.report("the server closed the connection")
                }
                Ok(()) => {}
            }
        });
        let statements = S::prepare(&client).await?;
        Ok(Connected {
            client,
            statements,
            loss,
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
    /// Why the last attempt failed.
    last_error: Option<BackendSource>,
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
            last_error: None,
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
            let error: StoreError = match attempt.await {
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
                Ok(Err(error)) => error,
                Err(_) => {
                    StoreError::backend_message(format!("no connection within {ATTEMPT_TIMEOUT:?}"))
                }
            };
            tracing::debug!(role = self.role, server = %self.endpoint.target(),
                error = %describe(&error), "PostgreSQL reconnection attempt failed");
            self.lost();
            self.failures += 1;
            self.last_error = Some(Arc::new(error));
            self.next_attempt = Some(Instant::now() + self.backoff);
            self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
        }
    }

    fn unavailable(&self) -> StoreError {
        StoreError::Backend {
            context: format!(
                "PostgreSQL {} connection unavailable ({} failed attempts to reconnect)",
                self.role, self.failures
            ),
            source: self.last_error.clone(),
        }
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
        if self.current.as_ref().is_some_and(|c| !c.check()) {
            self.current = None;
            self.dialer.lost();
        }
        let connected = match self.current.take() {
            Some(connected) => connected,
            None => self.dialer.dial(deadline).await?,
        };
        Ok(self.current.insert(connected))
    }

    /// Gives up the connection (a call on it failed with `why`, which is logged as its loss
    /// unless the loss already was): the next [`get`](Self::get) opens a new one.
    pub(super) fn forget(&mut self, why: &StoreError) {
        if let Some(connected) = self.current.take() {
            connected.lost(&describe(why));
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
            Some(connected) if connected.check() => Ok(Arc::clone(connected)),
            _ => Err(current.take().is_some()),
        }
    }

    async fn get(&self, deadline: Instant) -> Result<Arc<Connected<S>>, StoreError> {
        let had = match self.usable() {
            Ok(connected) => return Ok(connected),
            Err(had) => had,
        };
        let Ok(mut dialer) = tokio::time::timeout_at(deadline, self.dialer.lock()).await else {
            return Err(StoreError::backend_message(format!(
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
                    connected.lost(&describe(&e));
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
            Err(StoreError::Backend { context, .. }) if context.contains("connect")
        ));
    }
}
