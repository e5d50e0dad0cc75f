//! The one error contract of the whole server: a status code plus
//! `{"error":{"code":"connection_not_found","message":"..."}}`. Every library error is mapped
//! here and nowhere else, so codes stay consistent across the API, the UI and MCP.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use querypad_engines::EngineError;
use querypad_sqlcheck::CheckError;
use querypad_store::StoreError;

/// An error answered to a client.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable machine-readable code.
    pub code: String,
    /// A sentence for people. Never contains a secret or a stack trace.
    pub message: String,
    /// Seconds for a `Retry-After` header, when retrying later can help.
    pub retry_after: Option<u64>,
}

impl ApiError {
    /// Builds an error.
    pub fn new(
        status: StatusCode,
        code: impl Into<String>,
        message: impl Into<String>,
    ) -> ApiError {
        ApiError {
            status,
            code: code.into(),
            message: message.into(),
            retry_after: None,
        }
    }

    /// 422 with `invalid_fields`.
    pub fn invalid(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_fields", message)
    }

    /// 404 for an unknown id.
    pub fn not_found(what: &str, id: impl std::fmt::Display) -> ApiError {
        ApiError::new(
            StatusCode::NOT_FOUND,
            format!("{what}_not_found"),
            format!("{what} {id} not found"),
        )
    }

    /// 500 for a fault on our side; the detail goes to the log, not the client.
    pub fn internal(detail: impl std::fmt::Display) -> ApiError {
        tracing::error!(error = %detail, "internal error");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "an internal error occurred; see the server log",
        )
    }

    /// The JSON body.
    pub fn body(&self) -> serde_json::Value {
        serde_json::json!({"error": {"code": self.code, "message": self.message}})
    }

    /// Prefixes the message with the connection it concerns, so a user knows which one failed.
    pub fn for_connection(mut self, id: i64, name: &str) -> ApiError {
        self.message = format!("connection {id} ({name:?}): {}", self.message);
        self
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status.as_u16(),
            self.code,
            self.message
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut resp = (self.status, axum::Json(self.body())).into_response();
        if let Some(secs) = self.retry_after {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        resp
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        match e {
            StoreError::NotFound { what, id } => ApiError::not_found(what, id),
            StoreError::Conflict(m) => ApiError::new(StatusCode::CONFLICT, "conflict", m),
            StoreError::Invalid(m) => ApiError::invalid(m),
            other => ApiError::internal(other),
        }
    }
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> ApiError {
        let status = match &e {
            EngineError::InvalidSpec(_) => StatusCode::UNPROCESSABLE_ENTITY,
            EngineError::Unreachable(_) => StatusCode::SERVICE_UNAVAILABLE,
            EngineError::AuthFailed(_) | EngineError::UnknownDatabase(_) | EngineError::Tls(_) => {
                StatusCode::BAD_GATEWAY
            }
            EngineError::Timeout(_) => StatusCode::GATEWAY_TIMEOUT,
            EngineError::PoolExhausted => StatusCode::SERVICE_UNAVAILABLE,
            EngineError::ReadOnly(_) => StatusCode::FORBIDDEN,
            EngineError::Query(_) => StatusCode::BAD_REQUEST,
            EngineError::Other(_) => StatusCode::BAD_GATEWAY,
        };
        let mut err = ApiError::new(status, e.code(), e.to_string());
        if matches!(e, EngineError::PoolExhausted | EngineError::Unreachable(_)) {
            err.retry_after = Some(2);
        }
        err
    }
}

impl From<CheckError> for ApiError {
    fn from(e: CheckError) -> ApiError {
        let status = match &e {
            CheckError::NotReadOnly(_) | CheckError::ForbiddenFunction(_) => StatusCode::FORBIDDEN,
            _ => StatusCode::BAD_REQUEST,
        };
        ApiError::new(status, e.code(), e.to_string())
    }
}
