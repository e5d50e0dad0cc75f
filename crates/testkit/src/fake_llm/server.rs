//! The HTTP side of the fake: hyper HTTP/1.1 on a tokio listener, one task per connection.
//!
//! hyper gives a real HTTP implementation (keep-alive, chunked requests, exact headers) while
//! still letting a reply reset the connection (the service fails, so hyper drops the socket
//! without writing anything) or stall mid-body (a body that yields half and then waits).

use super::render::{self, Rendered};
use super::{Dialect, Handler};
use http_body_util::BodyExt;
use hyper::body::{Body, Bytes, Frame, Incoming, SizeHint};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use std::collections::{BTreeMap, HashSet};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

/// Request headers kept in [`RecordedRequest::headers`].
const RECORDED_HEADERS: [&str; 4] = [
    "x-api-key",
    "anthropic-version",
    "authorization",
    "content-type",
];

/// One request as the fake received it.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedRequest {
    /// HTTP method.
    pub method: String,
    /// Path (without query).
    pub path: String,
    /// Selected headers (`x-api-key`, `anthropic-version`, `authorization`, `content-type`),
    /// lower-case names, present ones only.
    pub headers: BTreeMap<String, String>,
    /// The body parsed as JSON (`Null` when it was not JSON).
    pub body: serde_json::Value,
}

impl RecordedRequest {
    /// A recorded header by lower-case name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }
}

/// Shared by all connections of one fake.
pub(crate) struct State {
    pub dialect: Dialect,
    handler: Handler,
    requests: Mutex<Vec<RecordedRequest>>,
    next_id: AtomicU64,
    cache_prefixes: Mutex<HashSet<String>>,
}

impl State {
    /// A fresh number for ids (`msg_…`, `toolu_<n>`, `req_…`).
    pub fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Records a cacheable prefix; true the first time it is seen (a cache write).
    pub fn first_sight_of(&self, prefix: &str) -> bool {
        lock(&self.cache_prefixes).insert(prefix.to_string())
    }
}

/// The listening server; dropping it stops the accept loop and every connection.
pub(crate) struct Running {
    pub addr: SocketAddr,
    state: Arc<State>,
    task: JoinHandle<()>,
}

impl Running {
    pub async fn start(dialect: Dialect, handler: Handler) -> Running {
        let listener = listen().expect("listen on 127.0.0.1:0");
        let addr = listener.local_addr().expect("local address");
        let state = Arc::new(State {
            dialect,
            handler,
            requests: Mutex::new(Vec::new()),
            next_id: AtomicU64::new(0),
            cache_prefixes: Mutex::new(HashSet::new()),
        });
        let task = tokio::spawn(accept_loop(listener, Arc::clone(&state)));
        Running { addr, state, task }
    }

    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.state.requests).clone()
    }

    pub fn request_count(&self) -> usize {
        lock(&self.state.requests).len()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        // The accept task owns the JoinSet of connections: aborting it drops (aborts) them all.
        self.task.abort();
    }
}

/// A loopback listener with a deep accept backlog, so a burst of thousands of connections is
/// queued instead of dropped (the kernel caps it at `net.core.somaxconn`).
fn listen() -> std::io::Result<TcpListener> {
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.set_reuseaddr(true)?;
    socket.bind(SocketAddr::from(([127, 0, 0, 1], 0)))?;
    socket.listen(65_535)
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

async fn accept_loop(listener: TcpListener, state: Arc<State>) {
    let mut connections = JoinSet::new();
    loop {
        while connections.try_join_next().is_some() {}
        match listener.accept().await {
            Ok((stream, _)) => {
                connections.spawn(serve_connection(stream, Arc::clone(&state)));
            }
            // Out of file descriptors and the like: wait for connections to finish.
            Err(_) => tokio::time::sleep(std::time::Duration::from_millis(5)).await,
        }
    }
}

async fn serve_connection(stream: TcpStream, state: Arc<State>) {
    let _ = stream.set_nodelay(true);
    let service = hyper::service::service_fn(move |req| handle(Arc::clone(&state), req));
    let _ = hyper::server::conn::http1::Builder::new()
        .keep_alive(true)
        .serve_connection(TokioIo::new(stream), service)
        .await;
}

/// Returned by the service to make hyper drop the connection without a response.
#[derive(Debug)]
struct ResetConnection;

impl std::fmt::Display for ResetConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("scripted connection reset")
    }
}

impl std::error::Error for ResetConnection {}

async fn handle(
    state: Arc<State>,
    req: Request<Incoming>,
) -> Result<Response<FakeBody>, ResetConnection> {
    let method = req.method().as_str().to_string();
    let path = req.uri().path().to_string();
    let headers: BTreeMap<String, String> = RECORDED_HEADERS
        .iter()
        .filter_map(|name| {
            let value = req.headers().get(*name)?.to_str().ok()?;
            Some((name.to_string(), value.to_string()))
        })
        .collect();
    let bytes = match req.into_body().collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => return Err(ResetConnection),
    };
    let body = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
    let recorded = RecordedRequest {
        method,
        path,
        headers,
        body,
    };
    lock(&state.requests).push(recorded.clone());

    if let Some(rejection) = render::reject(state.dialect, &recorded) {
        return Ok(response(rejection, &state));
    }
    let step = (state.handler)(&recorded.body);
    if !step.delay.is_zero() {
        tokio::time::sleep(step.delay).await;
    }
    match render::reply(&state, &recorded.body, bytes.len(), step.reply) {
        Some(rendered) => Ok(response(rendered, &state)),
        None => Err(ResetConnection),
    }
}

fn response(rendered: Rendered, state: &State) -> Response<FakeBody> {
    let total = rendered.body.len() as u64;
    let body = if rendered.stall {
        let half = rendered.body.len() / 2;
        FakeBody::Stall {
            first: Some(Bytes::from(rendered.body[..half].to_vec())),
            total,
        }
    } else {
        FakeBody::Full(Some(Bytes::from(rendered.body)))
    };
    let request_id_header = match state.dialect {
        Dialect::Anthropic => "request-id",
        Dialect::OpenAi => "x-request-id",
    };
    let mut builder = Response::builder()
        .status(rendered.status)
        .header("content-type", "application/json")
        .header("content-length", total)
        .header(
            request_id_header,
            format!("req_fake{:012}", state.next_id()),
        );
    if let Some(retry_after) = rendered.retry_after {
        builder = builder.header("retry-after", retry_after);
    }
    builder.body(body).expect("a valid fake response")
}

/// A response body: whole, or half and then silence.
enum FakeBody {
    Full(Option<Bytes>),
    Stall { first: Option<Bytes>, total: u64 },
}

impl Body for FakeBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        match self.get_mut() {
            FakeBody::Full(data) => Poll::Ready(data.take().map(|d| Ok(Frame::data(d)))),
            FakeBody::Stall { first, .. } => match first.take() {
                Some(d) => Poll::Ready(Some(Ok(Frame::data(d)))),
                // Never completes; the connection task ends when the client goes or the fake drops.
                None => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self, FakeBody::Full(None))
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            FakeBody::Full(data) => {
                SizeHint::with_exact(data.as_ref().map_or(0, |d| d.len() as u64))
            }
            FakeBody::Stall { total, .. } => SizeHint::with_exact(*total),
        }
    }
}
