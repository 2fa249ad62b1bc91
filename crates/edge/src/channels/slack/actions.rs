//! `POST /channels/slack/{project}/interactivity`: button clicks.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use turnstile_channels::slack::Interaction;

use super::{bad_request, respond_later, signed_request, turn_input};
use crate::channels::ChannelSettings;
use crate::dm::parse_action;
use crate::error::ApiError;
use crate::extract::{AppState, session_key};

/// Checks the clicked buttons' requests, acknowledges, then runs them in order and posts each
/// answer to the payload's `response_url`. Other interactions (select menus, modals,
/// shortcuts) are acknowledged and not run: turnstile renders none of them.
pub(super) async fn interactivity(
    State(state): State<AppState>,
    State(settings): State<Arc<ChannelSettings>>,
    Path(project): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let (_, body) = signed_request(&state, &settings, &project, &headers, body).await?;
    let interaction = Interaction::parse(&body).map_err(bad_request)?;
    if interaction.kind != "block_actions" || interaction.clicks.is_empty() {
        return Ok(StatusCode::OK.into_response());
    }
    let key = session_key(project.clone(), &interaction.user_id())?;
    // Checked like a DM API action, before Slack is told that the click was taken.
    let agent = state
        .dispatch
        .catalog()
        .agent(&project, crate::channels::CHANNEL_VERSION)?;
    let inputs = interaction
        .clicks
        .into_iter()
        .map(|click| {
            let request = parse_action(Some(&click.request), &agent, &state.limits)?;
            Ok(turn_input(request, click.idempotency_key))
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    let response_url = interaction.response_url.unwrap_or_default();
    let dispatch = state.dispatch.clone();
    state.tasks.spawn(async move {
        for input in inputs {
            let outcome = dispatch.run(key.clone(), input).await;
            respond_later(&settings, &response_url, outcome).await;
        }
    });
    Ok(StatusCode::OK.into_response())
}
