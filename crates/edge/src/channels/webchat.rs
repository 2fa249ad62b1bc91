//! The web chat: `GET /chat/{project}` serves the self-contained page
//! (`turnstile_channels::webchat`), and `POST /chat/{project}/user/{userID}/stream` runs its
//! turns — the v2 stream's body, query and events (`trace` events as the engine emits them, then
//! `end`, or `error`), without an API key. Both exist only for public projects
//! (`public = true`; development mode's project is public): anyone who can load the page can
//! talk to the agent, exactly as through the `/public/…` widget routes.

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use turnstile_channels::webchat::{self, PageOptions};
use turnstile_session::DEFAULT_VERSION;

use super::ChannelState;
use crate::dm::StreamBody;
use crate::error::ApiError;
use crate::extract::{AppState, IdempotencyKey, JsonBody, PublicAccess, QueryString, session_key};
use crate::sse::{StreamQuery, stream_turn};

pub(super) fn routes() -> Router<ChannelState> {
    Router::new()
        .route("/chat/{project}", get(page))
        .route("/chat/{project}/user/{user_id}/stream", post(stream))
}

/// The web chat exists for known, public projects; anything else is a 404 that says how to
/// enable it.
fn public_project(state: &AppState, project: &str) -> Result<(), ApiError> {
    match state.public_access(project) {
        PublicAccess::Unknown => Err(ApiError::NotFound(format!("unknown project `{project}`"))),
        PublicAccess::Closed => Err(ApiError::NotFound(format!(
            "the web chat of project `{project}` is not enabled: set `public = true` in its \
             [[projects]] entry of the config file (this also opens its keyless /public routes)"
        ))),
        PublicAccess::Open => Ok(()),
    }
}

/// `GET /chat/{project}`: the page, with its event button from `?event=&label=&data=`.
async fn page(
    State(state): State<AppState>,
    Path(project): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    public_project(&state, &project)?;
    let options = PageOptions::from_query(query.as_deref().unwrap_or(""))
        .map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let title = state
        .dispatch
        .catalog()
        .agent(&project, DEFAULT_VERSION)
        .ok()
        .map(|agent| agent.name.clone())
        .filter(|name| !name.trim().is_empty())
        .unwrap_or_else(|| project.clone());
    let page = webchat::render(&project, &title, &options);
    let mut response = page.html.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(page.content_security_policy),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    // The page is the same for everyone, but a new release must reach returning visitors.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    Ok(response)
}

/// `POST /chat/{project}/user/{userID}/stream`: one turn as Server-Sent Events.
async fn stream(
    State(state): State<AppState>,
    Path((project, user)): Path<(String, String)>,
    QueryString(query): QueryString<StreamQuery>,
    idempotency: IdempotencyKey,
    JsonBody(body): JsonBody<StreamBody>,
) -> Result<impl IntoResponse, ApiError> {
    public_project(&state, &project)?;
    let key = session_key(project, &user)?;
    stream_turn(&state, key, query, idempotency, body).await
}
