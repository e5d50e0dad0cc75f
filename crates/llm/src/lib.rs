//! Chat providers behind one provider-neutral API, with deadlines that hold.
//!
//! Why our own small client and not an SDK: no Rust Anthropic SDK is maintained well enough, and
//! what we need is narrow — one `chat` call that never outlives its deadline, retries only
//! while time remains, reports token usage (cache included), and tolerates unknown fields and
//! new enum values in replies (lenient serde types with `#[serde(default)]` and `Other`).
//!
//! CONTRACT (fixed; the agent is written against it):
//! - [`Provider`] is built from [`ProviderConfig`]; [`Provider::chat`] takes a [`ChatRequest`] and
//!   a [`CallLimits`] and answers a [`ChatResponse`] or a typed [`LlmError`].
//! - A provider-neutral conversation: [`Message`]s of [`Part`]s (text, tool use, tool result);
//!   [`SystemPart`] with a `cache` flag (Anthropic `cache_control: {"type":"ephemeral"}` on that
//!   block; ignored by OpenAI-compatible servers); [`ToolSpec`] with a JSON Schema.

pub mod error;
pub mod types;

mod anthropic;
mod http;
mod http_error;
mod openai;
mod retry;
mod wire_anthropic;
mod wire_openai;

pub use error::LlmError;
pub use types::{
    CallLimits, ChatRequest, ChatResponse, Message, Part, ProviderConfig, ProviderKind, Role,
    StopReason, SystemPart, ToolSpec, Usage,
};

/// A configured chat provider. Cheap to clone (shares one HTTP connection pool).
#[derive(Clone)]
pub struct Provider {
    inner: Inner,
}

#[derive(Clone)]
enum Inner {
    Anthropic(anthropic::Client),
    OpenAi(openai::Client),
}

impl Provider {
    /// Builds the HTTP client for `config`.
    pub fn new(config: ProviderConfig) -> Result<Provider, LlmError> {
        let inner = match config.kind {
            ProviderKind::Anthropic => Inner::Anthropic(anthropic::Client::new(config)?),
            ProviderKind::OpenAi => Inner::OpenAi(openai::Client::new(config)?),
        };
        Ok(Provider { inner })
    }

    /// `anthropic` or `openai`, for logs, metrics and run records.
    pub fn name(&self) -> &'static str {
        match &self.inner {
            Inner::Anthropic(_) => "anthropic",
            Inner::OpenAi(_) => "openai",
        }
    }

    /// The model asked for.
    pub fn model(&self) -> &str {
        match &self.inner {
            Inner::Anthropic(c) => c.model(),
            Inner::OpenAi(c) => c.model(),
        }
    }

    /// One chat completion. Each HTTP attempt is bounded by `limits.per_call_timeout` and the
    /// whole call (retries and backoff included) by `limits.deadline`; when the deadline passes
    /// the in-flight request is dropped and [`LlmError::Timeout`] returned. Retries on 429, 529
    /// and 5xx (and connection errors) with exponential backoff that honours `retry-after`, only
    /// while the remaining time allows the wait plus a useful attempt.
    pub async fn chat(
        &self,
        req: &ChatRequest,
        limits: CallLimits,
    ) -> Result<ChatResponse, LlmError> {
        match &self.inner {
            Inner::Anthropic(c) => c.chat(req, limits).await,
            Inner::OpenAi(c) => c.chat(req, limits).await,
        }
    }
}
