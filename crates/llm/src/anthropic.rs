//! Anthropic Messages API: `POST {base}/v1/messages` with `x-api-key` and `anthropic-version`.

use crate::http;
use crate::retry::{self, HttpCall};
use crate::wire_anthropic as wire;
use crate::{
    CallLimits, ChatRequest, ChatResponse, LlmError, Part, ProviderConfig, Role, StopReason, Usage,
};
use reqwest::header::HeaderValue;
use std::sync::Arc;

/// Used when [`ProviderConfig::base_url`] is unset.
const DEFAULT_BASE_URL: &str = "https://api.anthropic.com";
/// The API version this code speaks.
const API_VERSION: &str = "2023-06-01";

/// An Anthropic client; clones share the connection pool.
#[derive(Clone)]
pub(crate) struct Client {
    shared: Arc<Shared>,
}

struct Shared {
    http: reqwest::Client,
    url: reqwest::Url,
    headers: reqwest::header::HeaderMap,
    key: String,
    model: String,
}

impl Client {
    /// Checks the configuration (a key is required) and builds the HTTP client.
    pub(crate) fn new(config: ProviderConfig) -> Result<Client, LlmError> {
        let key = config
            .api_key
            .map(|k| k.trim().to_string())
            .filter(|k| !k.is_empty())
            .ok_or_else(|| LlmError::Config("the Anthropic provider needs an API key".into()))?;
        let url = http::endpoint(config.base_url.as_deref(), DEFAULT_BASE_URL, "/v1/messages")?;
        let mut headers = http::json_headers();
        headers.insert("anthropic-version", HeaderValue::from_static(API_VERSION));
        http::secret_header(&mut headers, "x-api-key", &key)?;
        let shared = Shared {
            http: http::client()?,
            url,
            headers,
            key,
            model: config.model,
        };
        Ok(Client {
            shared: Arc::new(shared),
        })
    }

    /// The configured model.
    pub(crate) fn model(&self) -> &str {
        &self.shared.model
    }

    /// One Messages call under `limits`.
    pub(crate) async fn chat(
        &self,
        req: &ChatRequest,
        limits: CallLimits,
    ) -> Result<ChatResponse, LlmError> {
        let s = &self.shared;
        let body = serde_json::to_vec(&to_wire(req, &s.model))
            .map_err(|e| LlmError::BadRequest(format!("cannot encode the request: {e}")))?;
        let call = HttpCall {
            provider: "anthropic",
            client: &s.http,
            url: &s.url,
            headers: &s.headers,
            body: &body,
            secret: Some(&s.key),
        };
        let reply = retry::send(&call, limits).await?;
        from_wire(&reply.body, &s.model, reply.attempts)
    }
}

/// The wire request for `req`. Empty text blocks are left out (the API rejects them).
pub(crate) fn to_wire<'a>(req: &'a ChatRequest, model: &'a str) -> wire::Request<'a> {
    let system = req
        .system
        .iter()
        .filter(|p| !p.text.is_empty())
        .map(|p| wire::SystemBlock {
            kind: "text",
            text: &p.text,
            cache_control: p.cache.then(wire::CacheControl::ephemeral),
        })
        .collect();
    let messages = req
        .messages
        .iter()
        .map(|m| wire::Message {
            role: match m.role {
                Role::User => "user",
                Role::Assistant => "assistant",
            },
            content: m.content.iter().filter_map(block).collect(),
        })
        .collect();
    let tools = req
        .tools
        .iter()
        .map(|t| wire::Tool {
            name: &t.name,
            description: &t.description,
            input_schema: &t.input_schema,
        })
        .collect();
    wire::Request {
        model,
        max_tokens: req.max_tokens,
        system,
        messages,
        tools,
        temperature: req.temperature,
    }
}

fn block(part: &Part) -> Option<wire::Block<'_>> {
    Some(match part {
        Part::Text { text } if text.is_empty() => return None,
        Part::Text { text } => wire::Block::Text { text },
        Part::ToolUse { id, name, input } => wire::Block::ToolUse { id, name, input },
        Part::ToolResult {
            tool_use_id,
            content,
            is_error,
        } => wire::Block::ToolResult {
            tool_use_id,
            content,
            is_error: *is_error,
        },
    })
}

/// Reads a 2xx reply body.
pub(crate) fn from_wire(body: &[u8], model: &str, attempts: u32) -> Result<ChatResponse, LlmError> {
    let reply: wire::Response = serde_json::from_slice(body)
        .map_err(|e| LlmError::Malformed(format!("not a Messages API reply: {e}")))?;
    if reply.kind.as_deref() == Some("error") || reply.error.is_some() {
        let detail = reply.error.map(|e| e.to_string()).unwrap_or_default();
        return Err(LlmError::Malformed(format!(
            "an error object in a 2xx reply: {detail}"
        )));
    }
    let blocks = reply
        .content
        .ok_or_else(|| LlmError::Malformed("the reply has no content".into()))?;
    let content = blocks
        .into_iter()
        .filter_map(|b| match b {
            wire::ResponseBlock::Text { text } => Some(Part::Text {
                text: text.unwrap_or_default(),
            }),
            wire::ResponseBlock::ToolUse { id, name, input } => Some(Part::ToolUse {
                id: id.unwrap_or_default(),
                name: name.unwrap_or_default(),
                input: match input {
                    None | Some(serde_json::Value::Null) => serde_json::json!({}),
                    Some(v) => v,
                },
            }),
            wire::ResponseBlock::Other => None,
        })
        .collect();
    let usage = reply.usage.unwrap_or_default();
    Ok(ChatResponse {
        content,
        stop_reason: stop_reason(reply.stop_reason),
        usage: Usage {
            input_tokens: usage.input_tokens.unwrap_or(0),
            output_tokens: usage.output_tokens.unwrap_or(0),
            cache_read_tokens: usage.cache_read_input_tokens.unwrap_or(0),
            cache_write_tokens: usage.cache_creation_input_tokens.unwrap_or(0),
        },
        model: reply
            .model
            .filter(|m| !m.is_empty())
            .unwrap_or_else(|| model.to_string()),
        attempts,
    })
}

fn stop_reason(reason: Option<String>) -> StopReason {
    match reason.as_deref() {
        Some("end_turn") => StopReason::EndTurn,
        Some("tool_use") => StopReason::ToolUse,
        Some("max_tokens") => StopReason::MaxTokens,
        Some("stop_sequence") => StopReason::StopSequence,
        _ => StopReason::Other(reason.unwrap_or_default()),
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
                    content: vec![
                        Part::Text {
                            text: "Let me run it.".into(),
                        },
                        Part::ToolUse {
                            id: "toolu_1".into(),
                            name: "run_query".into(),
                            input: json!({"sql": "SELECT count(*) FROM t"}),
                        },
                    ],
                },
                Message {
                    role: Role::User,
                    content: vec![Part::ToolResult {
                        tool_use_id: "toolu_1".into(),
                        content: "no such table: t".into(),
                        is_error: true,
                    }],
                },
            ],
            tools: vec![ToolSpec {
                name: "run_query".into(),
                description: "Runs one read-only query".into(),
                input_schema: json!({"type":"object","properties":{"sql":{"type":"string"}},"required":["sql"]}),
            }],
            max_tokens: 512,
            temperature: Some(0.5),
        }
    }

    #[test]
    fn request_json_is_the_messages_api_shape() {
        let req = conversation();
        let got = serde_json::to_value(to_wire(&req, "claude-x")).unwrap();
        let want = json!({
            "model": "claude-x",
            "max_tokens": 512,
            "system": [
                {"type": "text", "text": "You write SQLite."},
                {"type": "text", "text": "Schema: t(a)", "cache_control": {"type": "ephemeral"}}
            ],
            "messages": [
                {"role": "user", "content": [{"type": "text", "text": "count t"}]},
                {"role": "assistant", "content": [
                    {"type": "text", "text": "Let me run it."},
                    {"type": "tool_use", "id": "toolu_1", "name": "run_query",
                     "input": {"sql": "SELECT count(*) FROM t"}}
                ]},
                {"role": "user", "content": [
                    {"type": "tool_result", "tool_use_id": "toolu_1",
                     "content": "no such table: t", "is_error": true}
                ]}
            ],
            "tools": [{
                "name": "run_query",
                "description": "Runs one read-only query",
                "input_schema": {"type":"object","properties":{"sql":{"type":"string"}},"required":["sql"]}
            }],
            "temperature": 0.5
        });
        assert_eq!(got, want);
    }

    #[test]
    fn optional_fields_are_left_out() {
        let req = ChatRequest {
            messages: vec![Message {
                role: Role::User,
                content: vec![
                    Part::Text {
                        text: String::new(),
                    },
                    Part::Text { text: "hi".into() },
                ],
            }],
            max_tokens: 10,
            ..ChatRequest::default()
        };
        let got = serde_json::to_value(to_wire(&req, "m")).unwrap();
        assert_eq!(
            got,
            json!({"model":"m","max_tokens":10,"messages":[{"role":"user","content":[{"type":"text","text":"hi"}]}]})
        );
    }

    #[test]
    fn reply_with_unknown_blocks_and_stop_reason() {
        let body = json!({
            "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-y",
            "content": [
                {"type": "thinking", "thinking": "hmm", "signature": "abc"},
                {"type": "text", "text": "Here:", "citations": null},
                {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {}},
                {"type": "tool_use", "id": "toolu_9", "name": "run_query", "input": {"sql": "SELECT 1"}}
            ],
            "stop_reason": "pause_turn",
            "stop_sequence": null,
            "usage": {"input_tokens": 12, "output_tokens": 7,
                      "cache_creation_input_tokens": 100, "cache_read_input_tokens": 50,
                      "cache_creation": {"ephemeral_5m_input_tokens": 100}, "service_tier": "standard"},
            "brand_new_field": [1, 2, 3]
        });
        let r = from_wire(&serde_json::to_vec(&body).unwrap(), "asked", 2).unwrap();
        assert_eq!(
            r.content,
            vec![
                Part::Text {
                    text: "Here:".into()
                },
                Part::ToolUse {
                    id: "toolu_9".into(),
                    name: "run_query".into(),
                    input: json!({"sql": "SELECT 1"})
                },
            ]
        );
        assert_eq!(r.stop_reason, StopReason::Other("pause_turn".into()));
        assert_eq!(
            r.usage,
            Usage {
                input_tokens: 12,
                output_tokens: 7,
                cache_read_tokens: 50,
                cache_write_tokens: 100
            }
        );
        assert_eq!(r.model, "claude-y");
        assert_eq!(r.attempts, 2);
    }

    #[test]
    fn known_stop_reasons_and_null_usage() {
        for (wire, want) in [
            ("end_turn", StopReason::EndTurn),
            ("tool_use", StopReason::ToolUse),
            ("max_tokens", StopReason::MaxTokens),
            ("stop_sequence", StopReason::StopSequence),
            ("refusal", StopReason::Other("refusal".into())),
        ] {
            let body = json!({"content": [], "stop_reason": wire,
                "usage": {"input_tokens": 1, "output_tokens": 2,
                          "cache_creation_input_tokens": null, "cache_read_input_tokens": null}});
            let r = from_wire(body.to_string().as_bytes(), "m", 1).unwrap();
            assert_eq!(r.stop_reason, want);
            assert_eq!(r.usage.cache_read_tokens, 0);
            assert_eq!(r.model, "m");
        }
    }

    #[test]
    fn malformed_replies() {
        assert!(matches!(
            from_wire(b"<html>", "m", 1),
            Err(LlmError::Malformed(_))
        ));
        assert!(matches!(
            from_wire(b"{\"id\":\"x\"}", "m", 1),
            Err(LlmError::Malformed(_))
        ));
        assert!(matches!(
            from_wire(b"{\"content\":[{\"text\":\"no type\"}]}", "m", 1),
            Err(LlmError::Malformed(_))
        ));
        let err = br#"{"type":"error","error":{"type":"api_error","message":"x"}}"#;
        assert!(matches!(
            from_wire(err, "m", 1),
            Err(LlmError::Malformed(_))
        ));
    }
}
