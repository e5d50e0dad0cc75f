//! Browser sessions for the web UI: a person signs in once with an API token, and the browser
//! keeps an `HttpOnly; SameSite=Strict` cookie instead of the token. Requests that authenticate
//! by that cookie and change state must also send the session's CSRF token in `X-CSRF-Token`
//! (the page reads it from `GET /api/v1/session`, which another origin cannot read).
//!
//! Sessions live in memory: a restart signs everybody out, and a session ends when the token
//! it was opened with is revoked, when it expires, or on `DELETE /api/v1/session`.

use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::state::SharedState;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::json;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The session cookie's name.
pub const COOKIE: &str = "querypad_session";
/// The header that carries the CSRF token.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// How long a session lasts after sign-in.
const LIFETIME: Duration = Duration::from_secs(12 * 3600);
/// Most sessions kept at once; the oldest are dropped beyond it.
const MAX_SESSIONS: usize = 10_000;

#[derive(Debug, Clone)]
struct Session {
    token_id: i64,
    /// The token's name and creation time: SQLite may give a new token the id of a revoked
    /// one, and a session must not pass to it.
    token_mark: (String, String),
    csrf: String,
    expires: Instant,
}

/// The sessions of one server, shared through a request extension.
#[derive(Debug, Default)]
pub struct Sessions {
    map: Mutex<HashMap<String, Session>>,
}

/// What the auth middleware learned from a session cookie.
#[derive(Debug, Clone)]
pub struct Authenticated {
    /// The API token the session was opened with.
    pub token_id: i64,
    /// The session's CSRF token.
    pub csrf: String,
}

impl Sessions {
    /// An empty set of sessions.
    pub fn new() -> Sessions {
        Sessions::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Session>> {
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Opens a session for a token; returns (session id, CSRF token).
    fn open(
        &self,
        token_id: i64,
        token_mark: (String, String),
    ) -> Result<(String, String), ApiError> {
        let id = random_hex()?;
        let csrf = random_hex()?;
        let now = Instant::now();
        let mut map = self.lock();
        map.retain(|_, s| s.expires > now);
        if map.len() >= MAX_SESSIONS
            && let Some(oldest) = map
                .iter()
                .min_by_key(|(_, s)| s.expires)
                .map(|(k, _)| k.clone())
        {
            map.remove(&oldest);
        }
        map.insert(
            id.clone(),
            Session {
                token_id,
                token_mark,
                csrf: csrf.clone(),
                expires: now + LIFETIME,
            },
        );
        Ok((id, csrf))
    }

    /// The live session named by `id`, if any, with its token's name and creation time.
    fn find(&self, id: &str) -> Option<(Authenticated, (String, String))> {
        let mut map = self.lock();
        match map.get(id) {
            Some(s) if s.expires > Instant::now() => Some((
                Authenticated {
                    token_id: s.token_id,
                    csrf: s.csrf.clone(),
                },
                s.token_mark.clone(),
            )),
            Some(_) => {
                map.remove(id);
                None
            }
            None => None,
        }
    }

    fn close(&self, id: &str) {
        self.lock().remove(id);
    }
}

fn random_hex() -> Result<String, ApiError> {
    let mut raw = [0u8; 32];
    getrandom::getrandom(&mut raw).map_err(ApiError::internal)?;
    Ok(raw.iter().map(|b| format!("{b:02x}")).collect())
}

/// Compares two strings in time that depends only on their lengths.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// The session id from the `Cookie` header, if any.
pub fn cookie_value(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// Whether a method changes state (and so needs the CSRF header under a cookie session).
pub fn is_unsafe(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Checks the request's session cookie: the session must exist, its token must still exist,
/// and a state-changing request must carry the matching CSRF header. `Ok(None)` means there
/// is no usable session; `Err` is a response to send instead (a missing or wrong CSRF token).
pub async fn check(
    state: &SharedState,
    sessions: Option<Arc<Sessions>>,
    method: &Method,
    headers: &HeaderMap,
) -> Result<Option<Authenticated>, Response> {
    let Some(sessions) = sessions else {
        return Ok(None);
    };
    let Some(id) = cookie_value(headers) else {
        return Ok(None);
    };
    let Some((auth, (name, created))) = sessions.find(&id) else {
        return Ok(None);
    };
    match state.store.list_tokens().await {
        Ok(tokens)
            if tokens
                .iter()
                .any(|t| t.id == auth.token_id && t.name == name && t.created_at == created) => {}
        Ok(_) => {
            sessions.close(&id);
            return Ok(None);
        }
        Err(e) => return Err(ApiError::from(e).into_response()),
    }
    if is_unsafe(method) {
        let sent = headers
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if !same(sent, &auth.csrf) {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "csrf_failed",
                "a request signed in by cookie must send the session's CSRF token in X-CSRF-Token",
            )
            .into_response());
        }
    }
    Ok(Some(auth))
}

/// Body of `POST /api/v1/session`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignIn {
    token: String,
}

fn secure(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("https"))
}

fn set_cookie(value: &str, max_age: u64, secure: bool) -> Result<HeaderValue, ApiError> {
    let flags = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{COOKIE}={value}; HttpOnly; SameSite=Strict; Path=/; Max-Age={max_age}{flags}"
    ))
    .map_err(ApiError::internal)
}

/// `POST /api/v1/session`: exchanges an API token for a cookie session; answers the CSRF token.
pub async fn sign_in(
    State(state): State<SharedState>,
    Extension(sessions): Extension<Arc<Sessions>>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<SignIn>,
) -> Result<Response, ApiError> {
    if !state.store.has_tokens().await? {
        return Ok(Json(json!({"auth_required": false, "signed_in": false})).into_response());
    }
    let Some(token_id) = state.store.verify_token(body.token.trim()).await? else {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "the API token is not valid",
        ));
    };
    let Some(token) = state
        .store
        .list_tokens()
        .await?
        .into_iter()
        .find(|t| t.id == token_id)
    else {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "the API token is not valid",
        ));
    };
    let (id, csrf) = sessions.open(token_id, (token.name, token.created_at))?;
    let cookie = set_cookie(&id, LIFETIME.as_secs(), secure(&headers))?;
    tracing::info!(token_id, "web session opened");
    Ok((
        [(header::SET_COOKIE, cookie)],
        Json(json!({"auth_required": true, "signed_in": true, "csrf_token": csrf})),
    )
        .into_response())
}

/// `GET /api/v1/session`: whether sign-in is needed, whether this browser is signed in, and
/// the CSRF token of its session.
pub async fn status(
    State(state): State<SharedState>,
    Extension(sessions): Extension<Arc<Sessions>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if !state.store.has_tokens().await? {
        return Ok(Json(json!({"auth_required": false, "signed_in": false})).into_response());
    }
    match check(&state, Some(sessions), &Method::GET, &headers).await {
        Ok(Some(auth)) => Ok(Json(
            json!({"auth_required": true, "signed_in": true, "csrf_token": auth.csrf}),
        )
        .into_response()),
        Ok(None) | Err(_) => {
            Ok(Json(json!({"auth_required": true, "signed_in": false})).into_response())
        }
    }
}

/// `DELETE /api/v1/session`: signs out (ends the session and clears the cookie).
pub async fn sign_out(
    Extension(sessions): Extension<Arc<Sessions>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if let Some(id) = cookie_value(&headers) {
        sessions.close(&id);
    }
    let cookie = set_cookie("", 0, secure(&headers))?;
    Ok((StatusCode::NO_CONTENT, [(header::SET_COOKIE, cookie)]).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_session_cookie_among_others() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; querypad_session=abc ; b=2"),
        );
        assert_eq!(cookie_value(&h).as_deref(), Some("abc"));
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("querypad_session="),
        );
        assert_eq!(cookie_value(&h), None);
    }

    #[test]
    fn sessions_open_find_close() {
        let s = Sessions::new();
        let (id, csrf) = s.open(7, ("a".into(), "t".into())).expect("open");
        let (found, mark) = s.find(&id).expect("found");
        assert_eq!(mark.0, "a");
        assert_eq!(found.token_id, 7);
        assert_eq!(found.csrf, csrf);
        s.close(&id);
        assert!(s.find(&id).is_none());
    }

    /// One request through the whole router; answers (status, headers, JSON body or null).
    async fn send(
        app: &axum::Router,
        method: &str,
        path: &str,
        cookie: Option<&str>,
        csrf: Option<&str>,
        body: Option<serde_json::Value>,
    ) -> (StatusCode, HeaderMap, serde_json::Value) {
        use tower::ServiceExt;
        let mut req = axum::http::Request::builder().method(method).uri(path);
        if let Some(c) = cookie {
            req = req.header(header::COOKIE, format!("{COOKIE}={c}"));
        }
        if let Some(t) = csrf {
            req = req.header(CSRF_HEADER, t);
        }
        let req = match body {
            Some(b) => req
                .header(header::CONTENT_TYPE, "application/json")
                .body(axum::body::Body::from(b.to_string())),
            None => req.body(axum::body::Body::empty()),
        }
        .expect("request");
        let resp = app.clone().oneshot(req).await.expect("response");
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .expect("body");
        let json = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
        (status, headers, json)
    }

    #[tokio::test]
    async fn sign_in_cookie_csrf_and_sign_out() {
        let data = querypad_testkit::temp_dir();
        let mut config = crate::config::Config::default();
        config.server.data_dir = data.dir().to_path_buf();
        config.server.demo = false;
        let state = crate::build_state(config).await.expect("state");
        let secret = state.store.create_token("ui").await.expect("token").secret;
        let app = crate::router(state.clone());

        // The page itself loads without a token; the API does not.
        let (st, h, _) = send(&app, "GET", "/", None, None, None).await;
        assert_eq!(st, StatusCode::OK);
        assert!(
            h[header::CONTENT_TYPE]
                .to_str()
                .expect("ct")
                .starts_with("text/html")
        );
        let (st, _, _) = send(&app, "GET", "/api/v1/notebooks", None, None, None).await;
        assert_eq!(st, StatusCode::UNAUTHORIZED);
        let (_, _, b) = send(&app, "GET", "/api/v1/session", None, None, None).await;
        assert_eq!(b["auth_required"], true);
        assert_eq!(b["signed_in"], false);

        let wrong = serde_json::json!({"token": "qp_wrong"});
        let (st, h, _) = send(&app, "POST", "/api/v1/session", None, None, Some(wrong)).await;
        assert_eq!(st, StatusCode::UNAUTHORIZED);
        assert!(h.get(header::SET_COOKIE).is_none());

        let right = serde_json::json!({"token": secret});
        let (st, h, b) = send(&app, "POST", "/api/v1/session", None, None, Some(right)).await;
        assert_eq!(st, StatusCode::OK);
        let set = h[header::SET_COOKIE].to_str().expect("cookie").to_string();
        assert!(
            set.contains("HttpOnly") && set.contains("SameSite=Strict") && set.contains("Path=/")
        );
        let sid = set
            .strip_prefix("querypad_session=")
            .and_then(|v| v.split(';').next())
            .expect("session id")
            .to_string();
        let csrf = b["csrf_token"].as_str().expect("csrf").to_string();
        assert_ne!(sid, csrf);

        let c = Some(sid.as_str());
        let (st, _, _) = send(&app, "GET", "/api/v1/notebooks", c, None, None).await;
        assert_eq!(st, StatusCode::OK);
        let (_, _, b) = send(&app, "GET", "/api/v1/session", c, None, None).await;
        assert_eq!(b["signed_in"], true);
        assert_eq!(b["csrf_token"].as_str(), Some(csrf.as_str()));

        // State changes by cookie need the CSRF token.
        let nb = serde_json::json!({"title": "t"});
        let (st, _, b) = send(&app, "POST", "/api/v1/notebooks", c, None, Some(nb.clone())).await;
        assert_eq!(st, StatusCode::FORBIDDEN);
        assert_eq!(b["error"]["code"], "csrf_failed");
        let (st, _, _) = send(
            &app,
            "POST",
            "/api/v1/notebooks",
            c,
            Some("nope"),
            Some(nb.clone()),
        )
        .await;
        assert_eq!(st, StatusCode::FORBIDDEN);
        let (st, _, _) = send(
            &app,
            "POST",
            "/api/v1/notebooks",
            c,
            Some(&csrf),
            Some(nb.clone()),
        )
        .await;
        assert_eq!(st, StatusCode::CREATED);

        // A made-up session id is nobody.
        let (st, _, _) = send(&app, "GET", "/api/v1/notebooks", Some("f00"), None, None).await;
        assert_eq!(st, StatusCode::UNAUTHORIZED);

        // Sign out ends the session and clears the cookie.
        let (st, h, _) = send(&app, "DELETE", "/api/v1/session", c, Some(&csrf), None).await;
        assert_eq!(st, StatusCode::NO_CONTENT);
        assert!(
            h[header::SET_COOKIE]
                .to_str()
                .expect("cookie")
                .contains("Max-Age=0")
        );
        let (st, _, _) = send(&app, "GET", "/api/v1/notebooks", c, None, None).await;
        assert_eq!(st, StatusCode::UNAUTHORIZED);

        // Revoking the token ends the sessions opened with it.
        let right = serde_json::json!({"token": secret});
        let (_, h, _) = send(&app, "POST", "/api/v1/session", None, None, Some(right)).await;
        let set = h[header::SET_COOKIE].to_str().expect("cookie").to_string();
        let sid = set
            .strip_prefix("querypad_session=")
            .and_then(|v| v.split(';').next())
            .expect("session id")
            .to_string();
        let c = Some(sid.as_str());
        let (st, _, _) = send(&app, "GET", "/api/v1/notebooks", c, None, None).await;
        assert_eq!(st, StatusCode::OK);
        assert!(state.store.revoke_token("ui").await.expect("revoke"));
        // SQLite may hand the revoked token's id to the next one: the session still ends.
        let _other = state.store.create_token("other").await.expect("token");
        let (st, _, _) = send(&app, "GET", "/api/v1/notebooks", c, None, None).await;
        assert_eq!(st, StatusCode::UNAUTHORIZED);
    }

    #[test]
    fn constant_time_compare() {
        assert!(same("abc", "abc"));
        assert!(!same("abc", "abd"));
        assert!(!same("abc", "ab"));
    }
}
