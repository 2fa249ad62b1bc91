//! Effects: everything a turn needs from the outside world (time, randomness, HTTP).
//!
//! The engine does no I/O itself. The server passes real effects; tests pass a fixed clock and a
//! seeded random source, which makes every turn deterministic.

use std::future::Future;
use std::time::Duration;

/// The outside world, as one turn sees it.
pub trait Effects: Send + Sync {
    /// Milliseconds since the Unix epoch.
    fn now_ms(&self) -> u64;

    /// A uniformly random number in `0..n` (`n > 0`).
    fn random_below(&self, n: usize) -> usize;

    /// Performs an HTTP request. Implementations must give up after `request.timeout` and
    /// answer [`HttpError::Timeout`].
    fn http(
        &self,
        request: HttpRequest,
    ) -> impl Future<Output = Result<HttpResponse, HttpError>> + Send;
}

/// An outgoing HTTP request (webhook or API step), built by the interpreter from the agent's
/// step and handed to [`Effects::http`].
#[derive(Debug, Clone, PartialEq)]
pub struct HttpRequest {
    /// The HTTP method, upper case (`POST` for webhooks; the API step's method, which the
    /// loader checks and upper-cases).
    pub method: String,
    /// The absolute URL, with the step's variables already substituted.
    pub url: String,
    /// Header names and values, in order; a name may repeat.
    pub headers: Vec<(String, String)>,
    /// The request body, if the step sends one (webhooks always send their JSON request).
    pub body: Option<Vec<u8>>,
    /// How long the whole exchange may take; past it the effect answers
    /// [`HttpError::Timeout`].
    pub timeout: Duration,
}

/// The answer to an [`HttpRequest`]: any status counts as an answer, so that the interpreter,
/// not the effect, decides what a 4xx or 5xx means for the step.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpResponse {
    /// The HTTP status code.
    pub status: u16,
    /// The body; effects may stop reading one byte past
    /// [`interp::MAX_RESPONSE_BYTES`](crate::interp::MAX_RESPONSE_BYTES), which the
    /// interpreter then refuses as too large.
    pub body: Vec<u8>,
}

/// The error type an [`HttpError`] keeps as its cause: any error, so that effects can pass on
/// their HTTP client's own error (and its chain of sources) unchanged.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why an HTTP request produced no response. The cause, when there is one, is the error's
/// [`source`](std::error::Error::source), so logs can print the whole chain.
///
/// ```
/// use std::error::Error as _;
/// use turnstile_engine::HttpError;
///
/// let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "connection refused");
/// let error = HttpError::connect(io);
/// assert_eq!(error.to_string(), "could not connect");
/// assert_eq!(error.source().unwrap().to_string(), "connection refused");
/// ```
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// No complete answer arrived within [`HttpRequest::timeout`].
    #[error("timed out")]
    Timeout,
    /// No connection could be made (DNS, refused, TLS handshake, …).
    #[error("could not connect")]
    Connect(#[source] BoxError),
    /// Anything else: an invalid request, a connection lost while reading the answer, …
    #[error("request failed")]
    Other(#[source] BoxError),
}

impl HttpError {
    /// A [`HttpError::Connect`] caused by `cause` (an error, or a message as `&str`/`String`).
    pub fn connect(cause: impl Into<BoxError>) -> HttpError {
        HttpError::Connect(cause.into())
    }

    /// A [`HttpError::Other`] caused by `cause` (an error, or a message as `&str`/`String`).
    pub fn other(cause: impl Into<BoxError>) -> HttpError {
        HttpError::Other(cause.into())
    }
}
