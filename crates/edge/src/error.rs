//! API errors, rendered in the DM API's error shape:
//! `{"code": 401, "status": "Unauthorized", "dateTime": "…", "timestamp": …, "data": "…"}`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use turnstile_session::SessionError;

/// An error answered to a client. Each carries the message shown in `data`.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    NotFound(String),
    #[error("request body larger than {limit} bytes")]
    PayloadTooLarge { limit: usize },
    #[error("{message}")]
    TooManyRequests {
        message: String,
        retry_after: Duration,
    },
    #[error("{message}")]
    Unavailable {
        message: String,
        retry_after: Duration,
    },
    #[error("{0}")]
    Timeout(String),
    #[error("{0}")]
    Internal(String),
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Timeout(_) => StatusCode::GATEWAY_TIMEOUT,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The JSON body.
    pub fn body(&self) -> serde_json::Value {
        let status = self.status();
        let now = SystemTime::now();
        let millis = now
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis() as u64;
        json!({
            "code": status.as_u16(),
            "status": status.canonical_reason().unwrap_or("Error"),
            "dateTime": humantime::format_rfc3339_millis(now).to_string(),
            "timestamp": millis,
            "data": self.to_string(),
        })
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status(), axum::Json(self.body())).into_response();
        if let ApiError::PayloadTooLarge { .. } = &self {
            // The rest of the body was never read: the connection cannot carry another request,
            // and the client must know before it tries.
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        if let ApiError::TooManyRequests { retry_after, .. }
        | ApiError::Unavailable { retry_after, .. } = &self
        {
            let seconds = retry_after.as_secs().max(1).to_string();
            if let Ok(value) = HeaderValue::from_str(&seconds) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
        }
        response
    }
}

impl From<SessionError> for ApiError {
    fn from(e: SessionError) -> Self {
        match &e {
            SessionError::QueueFull { .. } => ApiError::TooManyRequests {
                message: e.to_string(),
                retry_after: Duration::from_secs(1),
            },
            SessionError::Overloaded { .. }
            | SessionError::ShuttingDown
            | SessionError::Moved
            | SessionError::Unavailable(_)
            | SessionError::Store(_) => ApiError::Unavailable {
                message: e.to_string(),
                retry_after: Duration::from_secs(1),
            },
            SessionError::DeadlineExceeded(_) => ApiError::Timeout(e.to_string()),
            SessionError::UnknownProject(_) | SessionError::UnknownVersion { .. } => {
                ApiError::NotFound(e.to_string())
            }
            SessionError::InvalidState(_) => ApiError::BadRequest(e.to_string()),
            SessionError::Internal(_) => ApiError::Internal(e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_have_the_dm_api_shape() {
        let body = ApiError::Unauthorized("Auth Key Required".into()).body();
        assert_eq!(body["code"], 401);
        assert_eq!(body["status"], "Unauthorized");
        assert_eq!(body["data"], "Auth Key Required");
        assert!(body["timestamp"].as_u64().unwrap() > 1_600_000_000_000);
        let date = body["dateTime"].as_str().unwrap();
        assert!(date.ends_with('Z') && date.len() == 24, "{date}");
    }
}
