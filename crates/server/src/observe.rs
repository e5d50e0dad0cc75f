//! Per-request observation: the request id (accepted from `X-Request-Id` or generated, echoed
//! in the response, attached to every log line of the request and of agent runs it starts), one
//! access-log line when the response body ends, and HTTP metrics by matched route.

use crate::logging::ACCESS_TARGET;
use axum::body::Body;
use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderValue, Response};
use axum::middleware::Next;
use http_body::{Body as HttpBody, Frame, SizeHint};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;
use tracing::Instrument;

/// The request id of the current request, in its extensions.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// The matched route, copied into the response by [`record_route`] so the outer middleware can
/// read it after routing.
#[derive(Debug, Clone)]
struct Route(String);

fn valid_id(v: &HeaderValue) -> Option<String> {
    let s = v.to_str().ok()?;
    (!s.is_empty() && s.len() <= 128 && s.bytes().all(|b| b.is_ascii_graphic()))
        .then(|| s.to_string())
}

fn new_id() -> String {
    let mut raw = [0u8; 8];
    let _ = getrandom::getrandom(&mut raw);
    raw.iter().map(|b| format!("{b:02x}")).collect()
}

/// Inner layer (route layer): remembers the matched route template.
pub async fn record_route(req: Request, next: Next) -> axum::response::Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string());
    let mut resp = next.run(req).await;
    if let Some(r) = route {
        resp.extensions_mut().insert(Route(r));
    }
    resp
}

/// Outer layer: request id, span, metrics, access log.
pub async fn observe(mut req: Request, next: Next) -> axum::response::Response {
    let id = req
        .headers()
        .get("x-request-id")
        .and_then(valid_id)
        .unwrap_or_else(new_id);
    req.extensions_mut().insert(RequestId(id.clone()));
    let method = req.method().to_string();
    let span = tracing::info_span!("request", request_id = %id);
    let started = Instant::now();
    metrics::gauge!("querypad_http_requests_in_flight").increment(1.0);
    let mut resp = next.run(req).instrument(span).await;
    let route = resp
        .extensions()
        .get::<Route>()
        .map(|r| r.0.clone())
        .unwrap_or_else(|| "unmatched".into());
    if let Ok(v) = HeaderValue::from_str(&id) {
        resp.headers_mut().insert("x-request-id", v);
    }
    let status = resp.status().as_u16();
    let done = Done {
        id,
        method,
        route,
        status,
        started,
        bytes: 0,
        logged: false,
    };
    resp.map(|body| Body::new(Counted { inner: body, done }))
}

struct Done {
    id: String,
    method: String,
    route: String,
    status: u16,
    started: Instant,
    bytes: u64,
    logged: bool,
}

impl Done {
    fn finish(&mut self, complete: bool) {
        if self.logged {
            return;
        }
        self.logged = true;
        let secs = self.started.elapsed().as_secs_f64();
        let status = self.status.to_string();
        metrics::gauge!("querypad_http_requests_in_flight").decrement(1.0);
        metrics::counter!("querypad_http_requests_total", "route" => self.route.clone(), "method" => self.method.clone(), "status" => status.clone()).increment(1);
        metrics::histogram!("querypad_http_request_duration_seconds", "route" => self.route.clone(), "method" => self.method.clone()).record(secs);
        tracing::info!(
            target: ACCESS_TARGET,
            method = %self.method,
            route = %self.route,
            status = self.status,
            bytes = self.bytes,
            duration_ms = (secs * 1000.0 * 1000.0).round() / 1000.0,
            request_id = %self.id,
            complete,
            "request"
        );
    }
}

struct Counted {
    inner: Body,
    done: Done,
}

impl HttpBody for Counted {
    type Data = axum::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    this.done.bytes += data.len() as u64;
                }
            }
            Poll::Ready(None) => this.done.finish(true),
            Poll::Ready(Some(Err(_))) => this.done.finish(false),
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        let complete = self.inner.is_end_stream();
        self.done.finish(complete);
    }
}

#[allow(dead_code)]
fn _assert_response_type(_: Response<Body>) {}
