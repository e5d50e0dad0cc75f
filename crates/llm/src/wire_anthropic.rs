//! Anthropic Messages API wire types.
//!
//! Requests are written exactly (borrowing from the neutral [`crate::ChatRequest`]); replies are
//! read leniently: every field optional, unknown content block types kept as
//! [`ResponseBlock::Other`] and skipped, unknown `stop_reason` values kept as text, so a new API
//! feature does not break an old build.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `POST /v1/messages` body.
#[derive(Debug, Serialize)]
pub(crate) struct Request<'a> {
    pub model: &'a str,
    pub max_tokens: u32,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub system: Vec<SystemBlock<'a>>,
    pub messages: Vec<Message<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<Tool<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f32>,
}

/// One text block of the system prompt.
#[derive(Debug, Serialize)]
pub(crate) struct SystemBlock<'a> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub text: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache_control: Option<CacheControl>,
}

/// `{"type":"ephemeral"}`: a prompt-cache breakpoint after this block.
#[derive(Debug, Serialize)]
pub(crate) struct CacheControl {
    #[serde(rename = "type")]
    pub kind: &'static str,
}

impl CacheControl {
    /// The only cache type the API has.
    pub fn ephemeral() -> CacheControl {
        CacheControl { kind: "ephemeral" }
    }
}

/// A conversation turn.
#[derive(Debug, Serialize)]
pub(crate) struct Message<'a> {
    pub role: &'static str,
    pub content: Vec<Block<'a>>,
}

/// A request content block.
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(crate) enum Block<'a> {
    Text {
        text: &'a str,
    },
    ToolUse {
        id: &'a str,
        name: &'a str,
        input: &'a Value,
    },
    ToolResult {
        tool_use_id: &'a str,
        content: &'a str,
        is_error: bool,
    },
}

/// A tool definition.
#[derive(Debug, Serialize)]
pub(crate) struct Tool<'a> {
    pub name: &'a str,
    pub description: &'a str,
    pub input_schema: &'a Value,
}

/// A reply, read leniently.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Response {
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub model: Option<String>,
    pub content: Option<Vec<ResponseBlock>>,
    pub stop_reason: Option<String>,
    pub usage: Option<ResponseUsage>,
    pub error: Option<Value>,
}

/// A reply content block.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(crate) enum ResponseBlock {
    Text {
        #[serde(default)]
        text: Option<String>,
    },
    ToolUse {
        #[serde(default)]
        id: Option<String>,
        #[serde(default)]
        name: Option<String>,
        #[serde(default)]
        input: Option<Value>,
    },
    /// Thinking, server tool results, citations-only blocks, anything newer than this code.
    #[serde(other)]
    Other,
}

/// Token counts; the cache fields are absent or null on older models.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct ResponseUsage {
    pub input_tokens: Option<u64>,
    pub output_tokens: Option<u64>,
    pub cache_creation_input_tokens: Option<u64>,
    pub cache_read_input_tokens: Option<u64>,
}
