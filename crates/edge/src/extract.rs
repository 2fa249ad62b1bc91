//! What a handler takes from a request: the server's [`AppState`], and axum extractors for the
//! caller's session, the agent version, the idempotency key, the query string and the body.
//! Each rule is written here once; the gRPC services, which have no axum request, call the
//! same functions ([`keyed_session`], [`idempotency_key`]).

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use axum::body::{Body, Bytes};
use axum::extract::{FromRef, FromRequest, FromRequestParts, Query, RawPathParams, Request};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use tokio_util::task::TaskTracker;
use turnstile_session::{DEFAULT_VERSION, SessionKey};

use crate::auth::Auth;
use crate::error::ApiError;
use crate::turn::Dispatch;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    /// Runs turns and state operations where their session lives.
    pub dispatch: Dispatch,
    /// API keys and the projects they open.
    pub auth: Arc<Auth>,
    /// Request limits.
    pub limits: EdgeLimits,
    /// Renders `/metrics`; `None` when no recorder is installed.
    pub metrics: Option<metrics_exporter_prometheus::PrometheusHandle>,
    /// Cleared when the server starts shutting down (`/readyz` then answers 503).
    pub ready: Arc<AtomicBool>,
    /// Work that outlives its request (answers posted to Slack or Telegram after the
    /// acknowledgement, the turns of a gRPC stream): graceful shutdown waits for it.
    pub tasks: TaskTracker,
}

/// Whether a project's keyless routes (`/public/…`, the web chat) may be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PublicAccess {
    /// No such project.
    Unknown,
    /// The project exists but is not public.
    Closed,
    /// Anyone may talk to the project's agent.
    Open,
}

impl AppState {
    /// Whether `project` exists and is public.
    pub fn public_access(&self, project: &str) -> PublicAccess {
        if !self.dispatch.catalog().contains(project) {
            PublicAccess::Unknown
        } else if self.auth.is_public(project) {
            PublicAccess::Open
        } else {
            PublicAccess::Closed
        }
    }
}

/// Request limits of the edge. [`Default`] is the one place their defaults are written.
#[derive(Debug, Clone)]
pub struct EdgeLimits {
    /// Largest request body accepted, in bytes (413 beyond); WebSocket messages are held to it
    /// too.
    pub max_body_bytes: usize,
    /// Longest `text` request, in characters (400 / `INVALID_ARGUMENT` beyond). The sessions'
    /// engine holds turns to the same limit ([`SessionConfig::max_text_chars`], whose default
    /// this is), whichever way they come in.
    ///
    /// [`SessionConfig::max_text_chars`]: turnstile_session::SessionConfig::max_text_chars
    pub max_text_chars: usize,
}

impl Default for EdgeLimits {
    fn default() -> Self {
        EdgeLimits {
            max_body_bytes: 1024 * 1024,
            max_text_chars: turnstile_session::SessionConfig::default().max_text_chars,
        }
    }
}

/// The longest user id, in bytes.
pub const MAX_USER_ID_BYTES: usize = 128;

/// The longest idempotency key, in bytes.
pub const MAX_IDEMPOTENCY_KEY_BYTES: usize = 256;

/// The session of `user` in `project`, once the user id is checked: 1 to
/// [`MAX_USER_ID_BYTES`] bytes, no whitespace or control characters.
pub fn session_key(project: String, user: &str) -> Result<SessionKey, ApiError> {
    let valid = !user.is_empty()
        && user.len() <= MAX_USER_ID_BYTES
        && !user.chars().any(|c| c.is_whitespace() || c.is_control());
    if valid {
        Ok(SessionKey::new(project, user))
    } else {
        Err(ApiError::BadRequest(format!(
            "invalid userID: 1 to {MAX_USER_ID_BYTES} bytes without spaces or control characters"
        )))
    }
}

/// The session a keyed request addresses: the project its API key opens (which must be
/// `named`, when the request names one), and `user`.
pub fn keyed_session(
    auth: &Auth,
    headers: &HeaderMap,
    named: Option<&str>,
    user: &str,
) -> Result<SessionKey, ApiError> {
    let project = match named {
        Some(project) if !project.is_empty() => auth.check_project(headers, project)?,
        _ => auth.project_of(headers)?,
    };
    session_key(project, user)
}

/// Checks an idempotency key: 1 to [`MAX_IDEMPOTENCY_KEY_BYTES`] bytes.
pub fn idempotency_key(key: String) -> Result<String, ApiError> {
    if key.is_empty() || key.len() > MAX_IDEMPOTENCY_KEY_BYTES {
        return Err(ApiError::BadRequest(format!(
            "an idempotency key is 1 to {MAX_IDEMPOTENCY_KEY_BYTES} visible ASCII characters"
        )));
    }
    Ok(key)
}

/// The path parameter `name` of the matched route.
fn path_param<'p>(params: &'p RawPathParams, name: &str) -> Option<&'p str> {
    params.iter().find(|(key, _)| *key == name).map(|(_, v)| v)
}

async fn path_params<S: Send + Sync>(
    parts: &mut Parts,
    state: &S,
) -> Result<RawPathParams, ApiError> {
    RawPathParams::from_request_parts(parts, state)
        .await
        .map_err(|e| ApiError::BadRequest(format!("invalid path: {}", e.body_text())))
}

/// The session of a keyed route: the user of the path's `{user_id}`, in the project the API key
/// opens; a route with `{project_id}` must name that project (403 otherwise).
pub struct KeyedSession(pub SessionKey);

impl<S> FromRequestParts<S> for KeyedSession
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let params = path_params(parts, state).await?;
        let app = AppState::from_ref(state);
        let user = path_param(&params, "user_id").unwrap_or_default();
        let named = path_param(&params, "project_id");
        keyed_session(&app.auth, &parts.headers, named, user).map(KeyedSession)
    }
}

/// The session of a keyless widget route (`/public/{project_id}/…`): the project must exist
/// (404) and be public (401).
pub struct PublicSession(pub SessionKey);

impl<S> FromRequestParts<S> for PublicSession
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let params = path_params(parts, state).await?;
        let project = path_param(&params, "project_id").unwrap_or_default();
        public_project(&AppState::from_ref(state), project)?;
        let user = path_param(&params, "user_id").unwrap_or_default();
        session_key(project.to_owned(), user).map(PublicSession)
    }
}

/// A project whose keyless widget routes may be used: 404 when it does not exist, 401 when it
/// is not public.
pub fn public_project(state: &AppState, project: &str) -> Result<(), ApiError> {
    match state.public_access(project) {
        PublicAccess::Unknown => Err(ApiError::NotFound(format!("unknown project `{project}`"))),
        PublicAccess::Closed => Err(ApiError::Unauthorized("no access to project".into())),
        PublicAccess::Open => Ok(()),
    }
}

/// The version alias a request names in its `versionID` header, if any.
pub fn version_header(headers: &HeaderMap) -> Option<String> {
    headers
        .get("versionid")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

/// The agent version of a DM API request: its `versionID` header, by default `development`.
pub struct Version(pub String);

impl<S: Send + Sync> FromRequestParts<S> for Version {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        Ok(Version(
            version_header(&parts.headers).unwrap_or_else(|| DEFAULT_VERSION.to_owned()),
        ))
    }
}

/// The `Idempotency-Key` header, checked ([`idempotency_key`]); `None` without one. A request
/// may also carry its key in the body (the DM API's `turn_id`): [`IdempotencyKey::or_body`].
pub struct IdempotencyKey(pub Option<String>);

impl IdempotencyKey {
    /// The `Idempotency-Key` header of `headers`, checked.
    pub fn from_headers(headers: &HeaderMap) -> Result<IdempotencyKey, ApiError> {
        let Some(value) = headers.get("idempotency-key") else {
            return Ok(IdempotencyKey(None));
        };
        // Not visible ASCII: refused like any other bad key.
        let key = value.to_str().unwrap_or_default().to_owned();
        idempotency_key(key).map(|key| IdempotencyKey(Some(key)))
    }

    /// The header's key, else the body's (checked like the header's).
    pub fn or_body(self, body: Option<String>) -> Result<Option<String>, ApiError> {
        match self.0 {
            Some(key) => Ok(Some(key)),
            None => body.map(idempotency_key).transpose(),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for IdempotencyKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        IdempotencyKey::from_headers(&parts.headers)
    }
}

/// The request's query string, deserialized; a bad one is answered like every other bad
/// request (a DM-shaped JSON error) instead of axum's plain-text rejection.
pub struct QueryString<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for QueryString<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        Query::<T>::try_from_uri(&parts.uri)
            .map(|Query(value)| QueryString(value))
            .map_err(|e| ApiError::BadRequest(format!("invalid query string: {}", e.body_text())))
    }
}

/// A JSON body, limited to [`EdgeLimits::max_body_bytes`]. The `Content-Type` is not required
/// to be JSON (many DM API clients omit it).
pub struct JsonBody<T>(pub T);

impl<T, S> FromRequest<S> for JsonBody<T>
where
    T: DeserializeOwned,
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let RawBody(bytes) = RawBody::from_request(request, state).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(ApiError::BadRequest(
                "the request body must be a JSON object".into(),
            ));
        }
        serde_json::from_slice(&bytes)
            .map(JsonBody)
            .map_err(|e| ApiError::BadRequest(format!("invalid JSON body: {e}")))
    }
}

/// The raw body, limited to [`EdgeLimits::max_body_bytes`] (signatures are checked over these
/// exact bytes).
pub struct RawBody(pub Bytes);

impl<S> FromRequest<S> for RawBody
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let limit = AppState::from_ref(state).limits.max_body_bytes;
        read_limited(request.into_body(), limit).await.map(RawBody)
    }
}

/// Reads a body, refusing more than `limit` bytes.
pub(crate) async fn read_limited(body: Body, limit: usize) -> Result<Bytes, ApiError> {
    axum::body::to_bytes(body, limit).await.map_err(|e| {
        // axum reports the limit through http-body-util's `LengthLimitError`, whose message is
        // stable; the 413 test pins it.
        if e.to_string().contains("length limit exceeded") {
            ApiError::PayloadTooLarge { limit }
        } else {
            ApiError::BadRequest(format!("could not read the request body: {e}"))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_ids_are_checked() {
        for ok in ["u1", "slack:T1:U2", "a@b.c", &"x".repeat(128)] {
            assert!(session_key("p".into(), ok).is_ok(), "{ok}");
        }
        for bad in ["", "has space", "tab\t", &"x".repeat(129), "nul\0"] {
            assert!(session_key("p".into(), bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn idempotency_keys_are_checked_once_for_every_source() {
        assert_eq!(idempotency_key("k-1".into()).unwrap(), "k-1");
        assert!(idempotency_key(String::new()).is_err());
        assert!(idempotency_key("x".repeat(257)).is_err());
        let header = IdempotencyKey(None);
        assert_eq!(
            header.or_body(Some("b".into())).unwrap().as_deref(),
            Some("b")
        );
        assert!(IdempotencyKey(None).or_body(Some(String::new())).is_err());
        let header = IdempotencyKey(Some("h".into()));
        assert_eq!(
            header.or_body(Some("b".into())).unwrap().as_deref(),
            Some("h")
        );
    }
}
