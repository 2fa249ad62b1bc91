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

/// An outgoing HTTP request (webhook or API step).
#[derive(Debug, Clone, PartialEq)]
pub struct HttpRequest {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
    pub timeout: Duration,
}

/// The answer to an [`HttpRequest`].
#[derive(Debug, Clone, PartialEq)]
pub struct HttpResponse {
    pub status: u16,
    pub body: Vec<u8>,
}

/// Why an HTTP request produced no response.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum HttpError {
    #[error("timed out")]
    Timeout,
    #[error("could not connect: {0}")]
    Connect(String),
    #[error("{0}")]
    Other(String),
}
