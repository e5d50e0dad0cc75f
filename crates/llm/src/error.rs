//! Typed provider errors, so the agent can tell "try later" from "fix your configuration".

/// What can go wrong calling a provider. Messages never contain the API key.
#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub enum LlmError {
    /// The configuration is unusable (bad base URL, missing key for a provider that needs one).
    #[error("LLM provider configuration: {0}")]
    Config(String),
    /// 401/403: the key is wrong or lacks permission.
    #[error("the LLM provider rejected the API key: {0}")]
    Auth(String),
    /// 429 after the retries that time allowed.
    #[error("the LLM provider is rate limiting requests: {0}")]
    RateLimited(String),
    /// 529 `overloaded_error` after the retries that time allowed.
    #[error("the LLM provider is overloaded: {0}")]
    Overloaded(String),
    /// Another 5xx after retries.
    #[error("the LLM provider failed: {0}")]
    Server(String),
    /// 400/404/413 and other client errors: the request itself is wrong (not retried).
    #[error("the LLM provider refused the request: {0}")]
    BadRequest(String),
    /// The per-call timeout or the deadline passed.
    #[error("the LLM call timed out after {0} ms")]
    Timeout(u64),
    /// Connection refused, reset, DNS, TLS, a body cut off mid-way.
    #[error("cannot reach the LLM provider: {0}")]
    Network(String),
    /// The reply was not the expected JSON.
    #[error("the LLM provider sent a malformed reply: {0}")]
    Malformed(String),
}

impl LlmError {
    /// A stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            LlmError::Config(_) => "llm_config",
            LlmError::Auth(_) => "llm_auth",
            LlmError::RateLimited(_) => "llm_rate_limited",
            LlmError::Overloaded(_) => "llm_overloaded",
            LlmError::Server(_) => "llm_server_error",
            LlmError::BadRequest(_) => "llm_bad_request",
            LlmError::Timeout(_) => "llm_timeout",
            LlmError::Network(_) => "llm_unreachable",
            LlmError::Malformed(_) => "llm_malformed_reply",
        }
    }

    /// Whether a later attempt might succeed (used by `agent.fallback`).
    pub fn is_transient(&self) -> bool {
        !matches!(
            self,
            LlmError::Config(_) | LlmError::Auth(_) | LlmError::BadRequest(_)
        )
    }
}
