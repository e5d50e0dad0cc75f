//! OpenAI-compatible chat completions wire types.
//!
//! Compatible servers (Ollama, vLLM, llama.cpp) differ in details, so replies are read
//! leniently: every field optional, `content` as a string or an array of text parts, tool
//! `arguments` as a JSON string (the standard) or an object (some servers).

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `POST /chat/completions` body.
#[derive(Debug, Serialize)]
pub(crate) struct Request<'a> {
    pub model: &'a str,
    pub messages: Vec<Message>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<Tool<'a>>,
    pub max_tokens: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f32>,
}

/// A message; `content` is null only on an assistant turn that just calls tools.
#[derive(Debug, Serialize)]
pub(crate) struct Message {
    pub role: &'static str,
    pub content: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCall>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
}

/// A tool call made earlier by the model.
#[derive(Debug, Serialize)]
pub(crate) struct ToolCall {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub function: FunctionCall,
}

/// Name and JSON-encoded arguments.
#[derive(Debug, Serialize)]
pub(crate) struct FunctionCall {
    pub name: String,
    pub arguments: String,
}

/// `{"type":"function","function":{...}}`.
#[derive(Debug, Serialize)]
pub(crate) struct Tool<'a> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub function: FunctionDef<'a>,
}

/// A function tool definition.
#[derive(Debug, Serialize)]
pub(crate) struct FunctionDef<'a> {
    pub name: &'a str,
    pub description: &'a str,
    pub parameters: &'a Value,
}

/// A reply, read leniently.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Response {
    pub model: Option<String>,
    pub choices: Option<Vec<Choice>>,
    pub usage: Option<ResponseUsage>,
    pub error: Option<Value>,
}

/// One choice (we ask for one).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Choice {
    pub message: Option<ResponseMessage>,
    pub finish_reason: Option<String>,
}

/// The assistant's message.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct ResponseMessage {
    pub content: Option<Value>,
    pub tool_calls: Option<Vec<ResponseToolCall>>,
    pub refusal: Option<String>,
}

/// A tool call in a reply.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct ResponseToolCall {
    pub id: Option<String>,
    pub function: Option<ResponseFunction>,
}

/// Name and arguments of a called function.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct ResponseFunction {
    pub name: Option<String>,
    pub arguments: Option<Value>,
}

/// Token counts.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct ResponseUsage {
    pub prompt_tokens: Option<u64>,
    pub completion_tokens: Option<u64>,
    pub prompt_tokens_details: Option<PromptTokensDetails>,
}

/// Cached part of the prompt.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct PromptTokensDetails {
    pub cached_tokens: Option<u64>,
}
