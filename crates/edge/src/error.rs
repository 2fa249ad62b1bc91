//! API errors, rendered in the DM API's error shape:
//! `{"code": 401, "status": "Unauthorized", "dateTime": "…", "timestamp": …, "data": "…"}`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use tonic::{Code, Status};
use turnstile_session::SessionError;

/// An error answered to a client (HTTP status and JSON body, or a gRPC status). Each carries
/// the message shown in `data`.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 401: no API key, or one that opens nothing.
    #[error("{0}")]
    Unauthorized(String),
    /// 403: the key does not open the project the request names.
    #[error("{0}")]
    Forbidden(String),
    /// 400: the request is malformed.
    #[error("{0}")]
    BadRequest(String),
    /// 404: no such route, project or version.
    #[error("{0}")]
    NotFound(String),
    /// 413: the body is over the limit.
    #[error("request body larger than {limit} bytes")]
    PayloadTooLarge {
        /// The limit, in bytes.
        limit: usize,
    },
    /// 429: the session's queue is full; retry after `retry_after`.
    #[error("{message}")]
    TooManyRequests {
        /// Why.
        message: String,
        /// When to retry.
        retry_after: Duration,
    },
    /// 503: the server cannot serve the request now; retry after `retry_after`.
    #[error("{message}")]
    Unavailable {
        /// Why.
        message: String,
        /// When to retry.
        retry_after: Duration,
    },
    /// 504: the turn ran past its deadline.
    #[error("{0}")]
    Timeout(String),
    /// 500: a bug; the message is the whole error chain.
    #[error("{0}")]
    Internal(String),
}

impl ApiError {
    /// The HTTP status.
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
            | SessionError::Unavailable { .. }
            | SessionError::Store(_) => ApiError::Unavailable {
                message: e.chain(),
                retry_after: Duration::from_secs(1),
            },
            SessionError::DeadlineExceeded(_) => ApiError::Timeout(e.to_string()),
            SessionError::UnknownProject(_) | SessionError::UnknownVersion { .. } => {
                ApiError::NotFound(e.to_string())
            }
            SessionError::InvalidState(_) | SessionError::TextTooLong { .. } => {
                ApiError::BadRequest(e.to_string())
            }
            SessionError::Internal { .. } | SessionError::Interrupted => {
                tracing::error!(error = %e.chain(), "a request failed inside the runtime");
                ApiError::Internal(e.chain())
            }
        }
    }
}

/// The gRPC status an API error becomes.
impl From<ApiError> for Status {
    fn from(e: ApiError) -> Status {
        let code = match &e {
            ApiError::Unauthorized(_) => Code::Unauthenticated,
            ApiError::Forbidden(_) => Code::PermissionDenied,
            ApiError::BadRequest(_) => Code::InvalidArgument,
            ApiError::NotFound(_) => Code::NotFound,
            ApiError::PayloadTooLarge { .. } | ApiError::TooManyRequests { .. } => {
                Code::ResourceExhausted
            }
            ApiError::Unavailable { .. } => Code::Unavailable,
            ApiError::Timeout(_) => Code::DeadlineExceeded,
            ApiError::Internal(_) => Code::Internal,
        };
        Status::new(code, e.to_string())
    }
}

/// The gRPC status a session error becomes (as its API error would).
pub fn status_of(e: SessionError) -> Status {
    Status::from(ApiError::from(e))
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
