//! Provider-neutral request and response types.

use serde::{Deserialize, Serialize};
use std::time::Duration;
use tokio::time::Instant;

/// Which wire protocol a provider speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProviderKind {
    /// Anthropic Messages API (`POST {base}/v1/messages`).
    Anthropic,
    /// OpenAI-compatible chat completions (`POST {base}/chat/completions`; base usually ends in
    /// `/v1`): OpenAI, Ollama, vLLM, llama.cpp server.
    #[serde(rename = "openai")]
    OpenAi,
}

/// How to reach a provider.
#[derive(Clone)]
pub struct ProviderConfig {
    /// Protocol.
    pub kind: ProviderKind,
    /// Base URL. Anthropic default `https://api.anthropic.com`; OpenAI default
    /// `https://api.openai.com/v1`.
    pub base_url: Option<String>,
    /// API key (Anthropic: `x-api-key`; OpenAI: `Authorization: Bearer`, optional for local
    /// servers). Never logged.
    pub api_key: Option<String>,
    /// Model name.
    pub model: String,
    /// Whether the server supports tool calls (OpenAI-compatible servers may not; then tools are
    /// described in the system prompt and the SQL is read from the text).
    pub tools: bool,
}

impl std::fmt::Debug for ProviderConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderConfig")
            .field("kind", &self.kind)
            .field("base_url", &self.base_url)
            .field("api_key", &self.api_key.as_ref().map(|_| "***"))
            .field("model", &self.model)
            .field("tools", &self.tools)
            .finish()
    }
}

/// Time limits for one [`crate::Provider::chat`].
#[derive(Debug, Clone, Copy)]
pub struct CallLimits {
    /// Bound on each HTTP attempt (default 20 s in the agent).
    pub per_call_timeout: Duration,
    /// Bound on the whole call including retries (the workflow deadline).
    pub deadline: Instant,
}

/// One part of the system prompt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SystemPart {
    /// Text.
    pub text: String,
    /// Mark as a cache breakpoint (stable prefix such as the schema).
    pub cache: bool,
}

/// Who speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// The user (and tool results).
    User,
    /// The model.
    Assistant,
}

/// Content of a message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Part {
    /// Plain text.
    Text {
        /// The text.
        text: String,
    },
    /// The model asks to call a tool.
    ToolUse {
        /// Call id, echoed in the result.
        id: String,
        /// Tool name.
        name: String,
        /// Arguments (a JSON object).
        input: serde_json::Value,
    },
    /// Our answer to a tool call.
    ToolResult {
        /// The call id.
        tool_use_id: String,
        /// Result text (JSON or prose).
        content: String,
        /// Whether the tool failed.
        is_error: bool,
    },
}

/// A turn in the conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    /// Speaker.
    pub role: Role,
    /// Content parts.
    pub content: Vec<Part>,
}

/// A tool offered to the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolSpec {
    /// Name.
    pub name: String,
    /// What it does, for the model.
    pub description: String,
    /// JSON Schema of the input object.
    pub input_schema: serde_json::Value,
}

/// A chat request.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ChatRequest {
    /// System prompt parts, stable ones first.
    pub system: Vec<SystemPart>,
    /// Conversation so far.
    pub messages: Vec<Message>,
    /// Tools offered (may be empty).
    pub tools: Vec<ToolSpec>,
    /// Output token cap.
    pub max_tokens: u32,
    /// Sampling temperature (`None`: provider default).
    pub temperature: Option<f32>,
}

/// Why the model stopped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// Natural end.
    EndTurn,
    /// It wants tool results.
    ToolUse,
    /// Hit `max_tokens`.
    MaxTokens,
    /// A stop sequence.
    StopSequence,
    /// Anything else the provider said.
    Other(String),
}

/// Token usage of one call (summed over a run by the agent).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// Input tokens not read from or written to the cache.
    pub input_tokens: u64,
    /// Output tokens.
    pub output_tokens: u64,
    /// Input tokens read from the prompt cache.
    pub cache_read_tokens: u64,
    /// Input tokens written to the prompt cache.
    pub cache_write_tokens: u64,
}

impl Usage {
    /// Adds another call's usage.
    pub fn add(&mut self, other: Usage) {
        self.input_tokens += other.input_tokens;
        self.output_tokens += other.output_tokens;
        self.cache_read_tokens += other.cache_read_tokens;
        self.cache_write_tokens += other.cache_write_tokens;
    }

    /// All tokens, for budgets.
    pub fn total(&self) -> u64 {
        self.input_tokens + self.output_tokens + self.cache_read_tokens + self.cache_write_tokens
    }
}

/// A chat response.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatResponse {
    /// Content parts (text and tool uses), in order.
    pub content: Vec<Part>,
    /// Why it stopped.
    pub stop_reason: StopReason,
    /// Token usage.
    pub usage: Usage,
    /// The model that answered.
    pub model: String,
    /// Attempts made (1 + retries), for logs.
    pub attempts: u32,
}
