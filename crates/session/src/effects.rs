//! The real outside world for turns: the system clock, a thread-local random generator and an
//! HTTP client (rustls) for webhook and API steps.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rand::RngExt;
use turnstile_engine::{Effects, HttpError, HttpRequest, HttpResponse, interp::MAX_RESPONSE_BYTES};

/// Effects backed by the system.
#[derive(Debug, Clone)]
pub struct SystemEffects {
    client: reqwest::Client,
}

/// Why the effects could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum EffectsError {
    /// TLS needs a process-wide rustls crypto provider, which the program chooses and installs
    /// (e.g. `rustls::crypto::ring::default_provider().install_default()`) before it starts
    /// sessions: a library does not choose one for the whole process.
    #[error("no rustls crypto provider is installed for this process")]
    NoCryptoProvider,
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client")]
    Client(#[from] reqwest::Error),
}

impl EffectsError {
    /// `Err(NoCryptoProvider)` unless the program installed a rustls crypto provider: reqwest,
    /// built without one of its own, panics when it builds a client without it.
    pub fn check_crypto_provider() -> Result<(), EffectsError> {
        match rustls::crypto::CryptoProvider::get_default() {
            Some(_) => Ok(()),
            None => Err(EffectsError::NoCryptoProvider),
        }
    }
}

impl SystemEffects {
    /// Builds the shared HTTP client (connection pooling across all sessions).
    pub fn new() -> Result<Self, EffectsError> {
        EffectsError::check_crypto_provider()?;
        let client = reqwest::Client::builder()
            .user_agent(concat!("turnstile/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(5))
            .build()?;
        Ok(SystemEffects { client })
    }
}

impl Effects for SystemEffects {
    fn now_ms(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64)
    }

    fn random_below(&self, n: usize) -> usize {
        rand::rng().random_range(0..n.max(1))
    }

    async fn http(&self, request: HttpRequest) -> Result<HttpResponse, HttpError> {
        let method =
            reqwest::Method::from_bytes(request.method.as_bytes()).map_err(HttpError::other)?;
        let mut builder = self
            .client
            .request(method, &request.url)
            .timeout(request.timeout);
        for (name, value) in &request.headers {
            builder = builder.header(name, value);
        }
        if let Some(body) = request.body {
            builder = builder.body(body);
        }
        let mut response = builder.send().await.map_err(classify)?;
        let status = response.status().as_u16();
        // Read at most one byte past the limit, so an oversized body is detected without
        // buffering it whole.
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(classify)? {
            body.extend_from_slice(&chunk);
            if body.len() > MAX_RESPONSE_BYTES {
                break;
            }
        }
        Ok(HttpResponse { status, body })
    }
}

fn classify(e: reqwest::Error) -> HttpError {
    if e.is_timeout() {
        HttpError::Timeout
    } else if e.is_connect() {
        HttpError::connect(e)
    } else {
        HttpError::other(e)
    }
}
