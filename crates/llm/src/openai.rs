//! OpenAI-compatible chat completions: `POST {base}/chat/completions`, optional Bearer key.
//!
//! Mapping from the neutral conversation: system parts become one system message; a tool use
//! becomes an assistant `tool_calls` entry (arguments as a JSON string); a tool result becomes a
//! `tool` message with its `tool_call_id` (prefixed `Error: ` when it failed, since the format
//! has no error flag). With `ProviderConfig::tools` off, no `tools` are sent and earlier tool
//! turns are written as plain text, which servers without tool support accept.

use crate::http;
use crate::retry::{self, HttpCall};
use crate::wire_openai as wire;
use crate::{
    CallLimits, ChatRequest, ChatResponse, LlmError, Part, ProviderConfig, Role, StopReason, Usage,
};
use serde_json::Value;
use std::sync::Arc;

/// Used when [`ProviderConfig::base_url`] is unset.
const DEFAULT_BASE_URL: &str = "https://api.openai.com/v1";

/// An OpenAI-compatible client; clones share the connection pool.
#[derive(Clone)]
pub(crate) struct Client {
    shared: Arc<Shared>,
}

struct Shared {
    http: reqwest::Client,
    url: reqwest::Url,
    headers: reqwest::header::HeaderMap,
    key: Option<String>,
    model: String,
    tools: bool,
}

impl Client {
    /// Checks the configuration and builds the HTTP client; the key is optional (local servers).
    pub(crate) fn new(config: ProviderConfig) -> Result<Client, LlmError> {
        let key = config
            .api_key
            .map(|k| k.trim().to_string())
            .filter(|k| !k.is_empty());
        let url = http::endpoint(
            config.base_url.as_deref(),
            DEFAULT_BASE_URL,
            "/chat/completions",
        )?;
        let mut headers = http::json_headers();
        if let Some(key) = &key {
            http::secret_header(&mut headers, "authorization", &format!("Bearer {key}"))?;
        }
        let shared = Shared {
            http: http::client()?,
            url,
            headers,
            key,
            model: config.model,
            tools: config.tools,
        };
        Ok(Client {
            shared: Arc::new(shared),
        })
    }

    /// The configured model.
    pub(crate) fn model(&self) -> &str {
        &self.shared.model
    }

    /// One chat completion under `limits`.
    pub(crate) async fn chat(
        &self,
        req: &ChatRequest,
        limits: CallLimits,
    ) -> Result<ChatResponse, LlmError> {
        let s = &self.shared;
        let body = serde_json::to_vec(&to_wire(req, &s.model, s.tools))
            .map_err(|e| LlmError::BadRequest(format!("cannot encode the request: {e}")))?;
        let call = HttpCall {
            provider: "openai",
            client: &s.http,
            url: &s.url,
            headers: &s.headers,
            body: &body,
            secret: s.key.as_deref(),
        };
        let reply = retry::send(&call, limits).await?;
        from_wire(&reply.body, &s.model, reply.attempts)
    }
}

/// The wire request for `req`; `tools` says whether the server takes tool definitions.
pub(crate) fn to_wire<'a>(req: &'a ChatRequest, model: &'a str, tools: bool) -> wire::Request<'a> {
    let mut messages = Vec::new();
    let system = join(req.system.iter().map(|p| p.text.as_str()));
    if !system.is_empty() {
        messages.push(plain("system", system));
    }
    for message in &req.messages {
        match message.role {
            Role::User => user_messages(&message.content, tools, &mut messages),
            Role::Assistant => messages.push(assistant_message(&message.content, tools)),
        }
    }
    let tools = if tools {
        req.tools
            .iter()
            .map(|t| wire::Tool {
                kind: "function",
                function: wire::FunctionDef {
                    name: &t.name,
                    description: &t.description,
                    parameters: &t.input_schema,
                },
            })
            .collect()
    } else {
        Vec::new()
    };
    wire::Request {
        model,
        messages,
        tools,
        max_tokens: req.max_tokens,
        temperature: req.temperature,
    }
}

/// Tool results first (they must follow the assistant's `tool_calls`), then the user's text.
fn user_messages(parts: &[Part], tools: bool, out: &mut Vec<wire::Message>) {
    let mut texts = Vec::new();
    for part in parts {
        match part {
            Part::Text { text } => texts.push(text.clone()),
            Part::ToolResult {
                tool_use_id,
                content,
                is_error,
            } if tools => out.push(wire::Message {
                role: "tool",
                content: Some(if *is_error {
                    format!("Error: {content}")
                } else {
                    content.clone()
                }),
                tool_calls: Vec::new(),
                tool_call_id: Some(tool_use_id.clone()),
            }),
            Part::ToolResult {
                tool_use_id,
                content,
                is_error,
            } => {
                let what = if *is_error { "failed" } else { "result" };
                texts.push(format!("Tool call {tool_use_id} {what}:\n{content}"));
            }
            // A tool use in a user turn has no meaning; keep it readable rather than drop it.
            Part::ToolUse { name, input, .. } => texts.push(format!("Tool call {name}: {input}")),
        }
    }
    let text = join(texts.iter().map(String::as_str));
    if !text.is_empty() {
        out.push(plain("user", text));
    }
}

fn assistant_message(parts: &[Part], tools: bool) -> wire::Message {
    let mut texts = Vec::new();
    let mut tool_calls = Vec::new();
    for part in parts {
        match part {
            Part::Text { text } => texts.push(text.clone()),
            Part::ToolUse { id, name, input } if tools => tool_calls.push(wire::ToolCall {
                id: id.clone(),
                kind: "function",
                function: wire::FunctionCall {
                    name: name.clone(),
                    arguments: input.to_string(),
                },
            }),
            Part::ToolUse { name, input, .. } => texts.push(format!("Tool call {name}: {input}")),
            Part::ToolResult { content, .. } => texts.push(content.clone()),
        }
    }
    let text = join(texts.iter().map(String::as_str));
    let content = if text.is_empty() && !tool_calls.is_empty() {
        None
    } else {
        Some(text)
    };
    wire::Message {
        role: "assistant",
        content,
        tool_calls,
        tool_call_id: None,
    }
}

fn plain(role: &'static str, text: String) -> wire::Message {
    wire::Message {
        role,
        content: Some(text),
        tool_calls: Vec::new(),
        tool_call_id: None,
    }
}

fn join<'a>(texts: impl Iterator<Item = &'a str>) -> String {
    texts
        .filter(|t| !t.is_empty())
        .collect::<Vec<_>>()
        .join("\n\n")
}

/// Reads a 2xx reply body.
pub(crate) fn from_wire(body: &[u8], model: &str, attempts: u32) -> Result<ChatResponse, LlmError> {
    let reply: wire::Response = serde_json::from_slice(body)
        .map_err(|e| LlmError::Malformed(format!("not a chat completion: {e}")))?;
    if let Some(error) = reply.error {
        return Err(LlmError::Malformed(format!(
            "an error object in a 2xx reply: {error}"
        )));
    }
    let choice = reply
        .choices
        .and_then(|c| c.into_iter().next())
        .ok_or_else(|| LlmError::Malformed("the reply has no choices".into()))?;
    let message = choice.message.unwrap_or_default();
    let mut content = Vec::new();
    let text = message_text(message.content)
        .or(message.refusal)
        .unwrap_or_default();
    if !text.is_empty() {
        content.push(Part::Text { text });
    }
    for (i, call) in message
        .tool_calls
        .unwrap_or_default()
        .into_iter()
        .enumerate()
    {
        let function = call.function.unwrap_or_default();
        let name = function.name.unwrap_or_default();
        content.push(Part::ToolUse {
            id: call
                .id
                .filter(|id| !id.is_empty())
                .unwrap_or_else(|| format!("call_{i}")),
            input: arguments(&name, function.arguments)?,
            name,
        });
    }
    let usage = reply.usage.unwrap_or_default();
    let cached = usage
        .prompt_tokens_details
        .and_then(|d| d.cached_tokens)
        .unwrap_or(0);
    Ok(ChatResponse {
        content,
        stop_reason: match choice.finish_reason.as_deref() {
            Some("stop") => StopReason::EndTurn,
            Some("tool_calls" | "function_call") => StopReason::ToolUse,
            Some("length") => StopReason::MaxTokens,
            _ => StopReason::Other(choice.finish_reason.unwrap_or_default()),
        },
        usage: Usage {
            input_tokens: usage.prompt_tokens.unwrap_or(0).saturating_sub(cached),
            output_tokens: usage.completion_tokens.unwrap_or(0),
            cache_read_tokens: cached,
            cache_write_tokens: 0,
        },
        model: reply
            .model
            .filter(|m| !m.is_empty())
            .unwrap_or_else(|| model.to_string()),
        attempts,
    })
}

/// `content` as a string, or the text parts of an array.
fn message_text(content: Option<Value>) -> Option<String> {
    match content? {
        Value::String(s) => Some(s),
        Value::Array(parts) => Some(
            parts
                .iter()
                .filter_map(|p| p.get("text").and_then(Value::as_str))
                .collect::<Vec<_>>()
                .join(""),
        ),
        _ => None,
    }
}

/// Tool arguments: a JSON-encoded string per the spec, or an object from lenient servers.
fn arguments(name: &str, arguments: Option<Value>) -> Result<Value, LlmError> {
    match arguments {
        None | Some(Value::Null) => Ok(serde_json::json!({})),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(serde_json::json!({})),
        Some(Value::String(s)) => serde_json::from_str(&s).map_err(|e| {
            LlmError::Malformed(format!("arguments of tool call {name:?} are not JSON: {e}"))
        }),
        Some(v @ Value::Object(_)) => Ok(v),
        Some(other) => Err(LlmError::Malformed(format!(
            "arguments of tool call {name:?} are neither a string nor an object: {other}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Message, SystemPart, ToolSpec};
    use serde_json::json;

    fn conversation() -> ChatRequest {
        ChatRequest {
            system: vec![
                SystemPart {
                    text: "You write SQLite.".into(),
                    cache: false,
                },
                SystemPart {
                    text: "Schema: t(a)".into(),
                    cache: true,
                },
            ],
            messages: vec![
                Message {
                    role: Role::User,
                    content: vec![Part::Text {
                        text: "count t".into(),
                    }],
                },
                Message {
                    role: Role::Assistant,
                    content: vec![Part::ToolUse {
                        id: "call_1".into(),
                        name: "run_query".into(),
                        input: json!({"sql": "SELECT count(*) FROM t"}),
                    }],
                },
                Message {
                    role: Role::User,
                    content: vec![
                        Part::ToolResult {
                            tool_use_id: "call_1".into(),
                            content: "no such table: t".into(),
                            is_error: true,
                        },
                        Part::Text {
                            text: "try again".into(),
                        },
                    ],
                },
            ],
            tools: vec![ToolSpec {
                name: "run_query".into(),
                description: "Runs one read-only query".into(),
                input_schema: json!({"type":"object"}),
            }],
            max_tokens: 256,
            temperature: None,
        }
    }

    #[test]
    fn request_with_tools() {
        let req = conversation();
        let got = serde_json::to_value(to_wire(&req, "gpt-x", true)).unwrap();
        let want = json!({
            "model": "gpt-x",
            "messages": [
                {"role": "system", "content": "You write SQLite.\n\nSchema: t(a)"},
                {"role": "user", "content": "count t"},
                {"role": "assistant", "content": null, "tool_calls": [{
                    "id": "call_1", "type": "function",
                    "function": {"name": "run_query", "arguments": "{\"sql\":\"SELECT count(*) FROM t\"}"}
                }]},
                {"role": "tool", "content": "Error: no such table: t", "tool_call_id": "call_1"},
                {"role": "user", "content": "try again"}
            ],
            "tools": [{"type": "function", "function": {
                "name": "run_query", "description": "Runs one read-only query", "parameters": {"type":"object"}}}],
            "max_tokens": 256
        });
        assert_eq!(got, want);
    }

    #[test]
    fn request_without_tool_support_is_plain_text() {
        let req = conversation();
        let got = serde_json::to_value(to_wire(&req, "llama", false)).unwrap();
        assert!(got.get("tools").is_none());
        let messages = got["messages"].as_array().unwrap();
        assert!(
            messages
                .iter()
                .all(|m| m.get("tool_calls").is_none() && m["role"] != "tool")
        );
        assert_eq!(
            messages[2]["content"],
            r#"Tool call run_query: {"sql":"SELECT count(*) FROM t"}"#
        );
        assert_eq!(
            messages[3]["content"],
            "Tool call call_1 failed:\nno such table: t\n\ntry again"
        );
    }

    #[test]
    fn reply_with_tool_call_and_cached_usage() {
        let body = json!({
            "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "gpt-y",
            "choices": [{"index": 0, "finish_reason": "tool_calls", "logprobs": null, "message": {
                "role": "assistant", "content": "Running it.", "refusal": null,
                "tool_calls": [{"id": "call_7", "type": "function",
                    "function": {"name": "run_query", "arguments": "{\"sql\": \"SELECT 1\"}"}}]}}],
            "usage": {"prompt_tokens": 100, "completion_tokens": 9, "total_tokens": 109,
                      "prompt_tokens_details": {"cached_tokens": 64}}
        });
        let r = from_wire(body.to_string().as_bytes(), "asked", 1).unwrap();
        assert_eq!(
            r.content,
            vec![
                Part::Text {
                    text: "Running it.".into()
                },
                Part::ToolUse {
                    id: "call_7".into(),
                    name: "run_query".into(),
                    input: json!({"sql": "SELECT 1"})
                },
            ]
        );
        assert_eq!(r.stop_reason, StopReason::ToolUse);
        assert_eq!(
            r.usage,
            Usage {
                input_tokens: 36,
                output_tokens: 9,
                cache_read_tokens: 64,
                cache_write_tokens: 0
            }
        );
        assert_eq!(r.model, "gpt-y");
    }

    #[test]
    fn lenient_and_malformed_replies() {
        // Object arguments, array content, no usage, unknown finish reason.
        let body = json!({"choices": [{"finish_reason": "content_filter", "message": {
            "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}],
            "tool_calls": [{"function": {"name": "f", "arguments": {"x": 1}}}]}}]});
        let r = from_wire(body.to_string().as_bytes(), "m", 1).unwrap();
        assert_eq!(r.content[0], Part::Text { text: "ab".into() });
        assert_eq!(
            r.content[1],
            Part::ToolUse {
                id: "call_0".into(),
                name: "f".into(),
                input: json!({"x": 1})
            }
        );
        assert_eq!(r.stop_reason, StopReason::Other("content_filter".into()));
        assert_eq!(r.model, "m");

        let bad_args = json!({"choices": [{"message": {"tool_calls": [{"id": "c", "function": {"name": "f", "arguments": "{\"x\": "}}]}}]});
        assert!(matches!(
            from_wire(bad_args.to_string().as_bytes(), "m", 1),
            Err(LlmError::Malformed(_))
        ));
        assert!(matches!(
            from_wire(b"{\"choices\":[]}", "m", 1),
            Err(LlmError::Malformed(_))
        ));
        assert!(matches!(
            from_wire(b"not json", "m", 1),
            Err(LlmError::Malformed(_))
        ));
    }
}
