//! Request bodies: JSON read under the size limit, with clear errors.

use axum::body::Body;
use axum::extract::{FromRequest, Request};
use serde::de::DeserializeOwned;

use crate::AppState;
use crate::error::ApiError;

/// A JSON body, limited to [`crate::EdgeLimits::max_body_bytes`]. The `Content-Type` is not
/// required to be JSON (many DM API clients omit it).
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, ApiError> {
        let limit = state.limits.max_body_bytes;
        let bytes = read_limited(request.into_body(), limit).await?;
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

/// Reads a body, refusing more than `limit` bytes.
pub async fn read_limited(body: Body, limit: usize) -> Result<axum::body::Bytes, ApiError> {
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
