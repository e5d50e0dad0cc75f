//! Cross-cutting request handling: the request deadline, bearer-token access, JSON answers for
//! unknown routes and panics.

use crate::RequestDeadline;
use crate::error::ApiError;
use crate::state::SharedState;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// Gives every request a deadline (`server.request_timeout_secs`) that handlers pass down to
/// the database; if the handler has not produced a response by then, answers 504. Streaming
/// bodies are bounded by the same deadline inside the engine.
pub async fn deadline(State(state): State<SharedState>, mut req: Request, next: Next) -> Response {
    let timeout = state.config.request_timeout();
    let at = tokio::time::Instant::now() + timeout;
    req.extensions_mut().insert(RequestDeadline(at));
    match tokio::time::timeout_at(at, next.run(req)).await {
        Ok(resp) => resp,
        Err(_) => ApiError::new(
            StatusCode::GATEWAY_TIMEOUT,
            "deadline_exceeded",
            format!(
                "the request did not finish within its {:.1} s deadline (server.request_timeout_secs)",
                timeout.as_secs_f64()
            ),
        )
        .into_response(),
    }
}

/// Requires `Authorization: Bearer <token>` (or a web UI session cookie, plus its CSRF token on
/// state-changing requests) on everything but the health probes, the web UI's static files and
/// the sign-in endpoint, whenever at least one API token exists.
pub async fn auth(State(state): State<SharedState>, req: Request, next: Next) -> Response {
    let path = req.uri().path();
    if path == "/healthz"
        || path == "/readyz"
        || path == "/api/v1/session"
        || crate::ui::is_ui_path(path)
    {
        return next.run(req).await;
    }
    match state.store.has_tokens().await {
        Ok(false) => return next.run(req).await,
        Ok(true) => {}
        Err(e) => return ApiError::from(e).into_response(),
    }
    let presented = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let Some(secret) = presented else {
        let sessions = req
            .extensions()
            .get::<std::sync::Arc<crate::session::Sessions>>()
            .cloned();
        match crate::session::check(&state, sessions, req.method(), req.headers()).await {
            Ok(Some(_)) => return next.run(req).await,
            Ok(None) => {}
            Err(resp) => return resp,
        }
        return unauthorized(
            "this server requires an API token: send Authorization: Bearer <token>, or sign in to the web UI",
        );
    };
    match state.store.verify_token(secret).await {
        Ok(Some(_)) => next.run(req).await,
        Ok(None) => unauthorized("the API token is not valid"),
        Err(e) => ApiError::from(e).into_response(),
    }
}

fn unauthorized(message: &str) -> Response {
    let mut resp = ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message).into_response();
    resp.headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    resp
}

/// 404 for routes that do not exist.
pub async fn not_found(req: Request) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "route_not_found",
        format!("no route for {} {}", req.method(), req.uri().path()),
    )
}

/// 405 for a known route with the wrong method.
pub async fn method_not_allowed(req: Request) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("{} is not allowed on {}", req.method(), req.uri().path()),
    )
}

/// A panic in a handler becomes a 500 in the error contract; the detail goes to the log only.
pub fn panic_response(err: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let detail = err
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| err.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "unknown panic".into());
    ApiError::internal(format!("handler panicked: {detail}")).into_response()
}
