//! Fake LLM servers: real HTTP on `127.0.0.1:0`, exact wire format, scripted replies.
//!
//! Why: the LLM client, the agent and the server must be tested against the failures that
//! happen in production (429 with `retry-after`, 529 overloaded, 5xx, a reply that is not JSON, a
//! body that stalls half-way, a connection reset, a slow reply) without a network or a key, and
//! through a real socket so that timeouts, pooling and headers are exercised as in production.
//!
//! Two dialects share one server: [`FakeLlm::anthropic`] speaks the Anthropic Messages API
//! (`POST /v1/messages`; like the real API it answers 401 without a key — `x-api-key`, or
//! `Authorization: Bearer` as newer official SDKs send it — and 400 without
//! `anthropic-version`), and
//! [`FakeLlm::openai`] speaks OpenAI chat completions (`POST /v1/chat/completions`). Replies
//! are scripted as a list of [`Step`]s served in arrival order, or computed per request by a
//! [`Handler`]. Every request is recorded ([`FakeLlm::requests`]).
//!
//! `delay` is slept on the connection's own task, so thousands of delayed requests are served
//! concurrently. Each connection is a socket: a client sending 10,000 requests at once needs
//! about 20,000 file descriptors in one process (client and server ends), so raise `ulimit -n`
//! or run the fake in its own process (`examples/fake_llm_server.rs`).

mod render;
mod server;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub use server::RecordedRequest;

/// What the fake answers to one request.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// 200 with one text block; stop reason `end_turn` (OpenAI: `stop`).
    Text(String),
    /// 200 with an optional text block then a `tool_use` block (id `toolu_<n>`); stop reason
    /// `tool_use` (OpenAI: `message.tool_calls` with the arguments as a JSON string, finish
    /// reason `tool_calls`).
    ToolUse {
        /// Tool name.
        name: String,
        /// Tool input (a JSON object).
        input: serde_json::Value,
        /// Text said before the call.
        text: Option<String>,
    },
    /// Any status with this JSON body (see [`overloaded`], [`rate_limited`], [`server_error`]).
    /// The OpenAI dialect rewrites an Anthropic-shaped error body into OpenAI's
    /// `{"error":{"message","type","code"}}`; other bodies are sent as given.
    Status {
        /// HTTP status.
        status: u16,
        /// JSON body.
        body: serde_json::Value,
        /// `retry-after` header value, sent as given (seconds or an HTTP date, or junk).
        retry_after: Option<String>,
    },
    /// 200 `application/json` whose body is not JSON.
    Malformed,
    /// 200 headers (with the full `content-length`) and the first half of a valid body, then
    /// nothing more until the client goes away.
    StallMidBody,
    /// The connection is closed without any response.
    Reset,
}

/// A reply and how long to wait before sending its headers.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// Wait before the response headers (or before the reset).
    pub delay: Duration,
    /// The reply.
    pub reply: Reply,
}

impl Step {
    /// `reply` at once.
    pub fn now(reply: Reply) -> Step {
        Step {
            delay: Duration::ZERO,
            reply,
        }
    }

    /// `reply` after `delay`.
    pub fn after(delay: Duration, reply: Reply) -> Step {
        Step { delay, reply }
    }
}

/// 529 `{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}`.
pub fn overloaded() -> Reply {
    anthropic_error(529, "overloaded_error", "Overloaded", None)
}

/// 429 `rate_limit_error` with `retry-after: retry_after_secs`.
pub fn rate_limited(retry_after_secs: u64) -> Reply {
    anthropic_error(
        429,
        "rate_limit_error",
        "Number of request tokens has exceeded your per-minute rate limit",
        Some(retry_after_secs.to_string()),
    )
}

/// 500 `api_error`.
pub fn server_error() -> Reply {
    anthropic_error(500, "api_error", "Internal server error", None)
}

/// Any status with an Anthropic-shaped error body of `kind` (e.g. `authentication_error`).
pub fn anthropic_error(
    status: u16,
    kind: &str,
    message: &str,
    retry_after: Option<String>,
) -> Reply {
    Reply::Status {
        status,
        body: serde_json::json!({"type": "error", "error": {"type": kind, "message": message}}),
        retry_after,
    }
}

/// Chooses the reply for a request from its parsed JSON body.
pub type Handler = Arc<dyn Fn(&serde_json::Value) -> Step + Send + Sync>;

/// Which wire format a fake speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    Anthropic,
    OpenAi,
}

/// A running fake server; it stops (connections included) when dropped.
pub struct FakeLlm {
    /// Base URL to configure the client with: `http://127.0.0.1:PORT` for Anthropic (the client
    /// appends `/v1/messages`), `http://127.0.0.1:PORT/v1` for OpenAI.
    pub base_url: String,
    server: server::Running,
}

impl FakeLlm {
    /// An Anthropic fake serving `script` in order; when it runs out every request gets 500
    /// `api_error` "fake script exhausted".
    pub async fn anthropic(script: Vec<Step>) -> FakeLlm {
        FakeLlm::start(Dialect::Anthropic, script_handler(script)).await
    }

    /// An Anthropic fake answering each request with `handler`.
    pub async fn anthropic_with(handler: Handler) -> FakeLlm {
        FakeLlm::start(Dialect::Anthropic, handler).await
    }

    /// An OpenAI-compatible fake serving `script` in order (then 500 "fake script exhausted").
    pub async fn openai(script: Vec<Step>) -> FakeLlm {
        FakeLlm::start(Dialect::OpenAi, script_handler(script)).await
    }

    /// An OpenAI-compatible fake answering each request with `handler`.
    pub async fn openai_with(handler: Handler) -> FakeLlm {
        FakeLlm::start(Dialect::OpenAi, handler).await
    }

    async fn start(dialect: Dialect, handler: Handler) -> FakeLlm {
        let server = server::Running::start(dialect, handler).await;
        let base_url = match dialect {
            Dialect::Anthropic => format!("http://{}", server.addr),
            Dialect::OpenAi => format!("http://{}/v1", server.addr),
        };
        FakeLlm { base_url, server }
    }

    /// Every request received so far, rejected ones included, in arrival order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.server.requests()
    }

    /// How many requests arrived.
    pub fn request_count(&self) -> usize {
        self.server.request_count()
    }

    /// The socket address the server listens on.
    pub fn addr(&self) -> std::net::SocketAddr {
        self.server.addr
    }
}

fn script_handler(script: Vec<Step>) -> Handler {
    let script = Mutex::new(VecDeque::from(script));
    Arc::new(move |_body| {
        let next = script
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .pop_front();
        next.unwrap_or_else(|| {
            Step::now(anthropic_error(
                500,
                "api_error",
                "fake script exhausted",
                None,
            ))
        })
    })
}
