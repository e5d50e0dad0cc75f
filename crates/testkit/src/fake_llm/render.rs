//! Reply bodies in each dialect's exact wire shape, with plausible token usage.
//!
//! Usage is estimated like a tokenizer would roughly count: a token per 4 bytes of request JSON.
//! Anthropic: the system blocks up to the last one with `cache_control` form a cacheable prefix,
//! reported as `cache_creation_input_tokens` the first time that prefix is seen and as
//! `cache_read_input_tokens` afterwards. OpenAI caches automatically: a system message seen
//! before is reported in `prompt_tokens_details.cached_tokens`.

use super::server::{RecordedRequest, State};
use super::{Dialect, Reply};
use serde_json::{Value, json};
use std::time::{SystemTime, UNIX_EPOCH};

/// A response ready to send.
pub(crate) struct Rendered {
    pub status: u16,
    pub body: Vec<u8>,
    pub retry_after: Option<String>,
    /// Send half of `body`, then stall.
    pub stall: bool,
}

impl Rendered {
    fn json(status: u16, body: &Value) -> Rendered {
        Rendered {
            status,
            body: body.to_string().into_bytes(),
            retry_after: None,
            stall: false,
        }
    }
}

/// The error the real API would give for a request the client got wrong, if any.
pub(crate) fn reject(dialect: Dialect, req: &RecordedRequest) -> Option<Rendered> {
    match dialect {
        Dialect::Anthropic => reject_anthropic(req),
        Dialect::OpenAi => reject_openai(req),
    }
}

fn reject_anthropic(req: &RecordedRequest) -> Option<Rendered> {
    let error = |status: u16, kind: &str, message: &str| {
        Some(Rendered::json(
            status,
            &json!({"type": "error", "error": {"type": kind, "message": message}}),
        ))
    };
    if req.path != "/v1/messages" {
        return error(404, "not_found_error", "Not Found");
    }
    if req.method != "POST" {
        return error(405, "invalid_request_error", "Method Not Allowed");
    }
    // The API takes `x-api-key`; newer official SDKs send the key as `Authorization: Bearer`.
    let bearer = req
        .header("authorization")
        .and_then(|a| a.strip_prefix("Bearer "));
    if req.header("x-api-key").is_none_or(str::is_empty) && bearer.is_none_or(str::is_empty) {
        return error(401, "authentication_error", "x-api-key header is required");
    }
    if req.header("anthropic-version").is_none_or(str::is_empty) {
        return error(
            400,
            "invalid_request_error",
            "anthropic-version: header is required",
        );
    }
    let Some(body) = req.body.as_object() else {
        return error(
            400,
            "invalid_request_error",
            "The request body is not valid JSON.",
        );
    };
    for field in ["model", "max_tokens", "messages"] {
        if !body.contains_key(field) {
            return error(
                400,
                "invalid_request_error",
                &format!("{field}: Field required"),
            );
        }
    }
    None
}

fn reject_openai(req: &RecordedRequest) -> Option<Rendered> {
    let error = |status: u16, kind: &str, message: &str| {
        Some(Rendered::json(
            status,
            &json!({"error": {"message": message, "type": kind, "param": null, "code": null}}),
        ))
    };
    if req.path != "/v1/chat/completions" {
        return error(
            404,
            "invalid_request_error",
            &format!("Invalid URL (POST {})", req.path),
        );
    }
    if req.method != "POST" {
        return error(405, "invalid_request_error", "Method Not Allowed");
    }
    let Some(body) = req.body.as_object() else {
        return error(
            400,
            "invalid_request_error",
            "We could not parse the JSON body of your request.",
        );
    };
    for field in ["model", "messages"] {
        if !body.contains_key(field) {
            return error(
                400,
                "invalid_request_error",
                &format!("Missing required parameter: '{field}'."),
            );
        }
    }
    None
}

/// The scripted reply for a valid request; `None` means reset the connection.
pub(crate) fn reply(
    state: &State,
    request: &Value,
    request_len: usize,
    reply: Reply,
) -> Option<Rendered> {
    let (text, tool, stall) = match reply {
        Reply::Reset => return None,
        Reply::Malformed => {
            return Some(Rendered {
                status: 200,
                body:
                    b"{\"id\": \"msg_broken\", \"type\": \"message\", \"content\": [{\"type\": \"te"
                        .to_vec(),
                retry_after: None,
                stall: false,
            });
        }
        Reply::Status {
            status,
            body,
            retry_after,
        } => {
            let body = match state.dialect {
                Dialect::Anthropic => body,
                Dialect::OpenAi => openai_error_body(body),
            };
            return Some(Rendered {
                retry_after,
                ..Rendered::json(status, &body)
            });
        }
        Reply::Text(text) => (Some(text), None, false),
        Reply::ToolUse { name, input, text } => (text, Some((name, input)), false),
        Reply::StallMidBody => (
            Some("This reply never finishes arriving.".to_string()),
            None,
            true,
        ),
    };
    let model = request
        .get("model")
        .and_then(Value::as_str)
        .unwrap_or("fake-model")
        .to_string();
    let output_len = text.as_ref().map_or(0, String::len)
        + tool
            .as_ref()
            .map_or(0, |(name, input)| name.len() + input.to_string().len());
    let output_tokens = tokens(output_len).max(1);
    let id = state.next_id();
    let body = match state.dialect {
        Dialect::Anthropic => anthropic_message(
            state,
            request,
            request_len,
            id,
            &model,
            text,
            tool,
            output_tokens,
        ),
        Dialect::OpenAi => openai_completion(
            state,
            request,
            request_len,
            id,
            &model,
            text,
            tool,
            output_tokens,
        ),
    };
    Some(Rendered {
        stall,
        ..Rendered::json(200, &body)
    })
}

fn tokens(bytes: usize) -> u64 {
    (bytes as u64).div_ceil(4)
}

#[allow(clippy::too_many_arguments)]
fn anthropic_message(
    state: &State,
    request: &Value,
    request_len: usize,
    id: u64,
    model: &str,
    text: Option<String>,
    tool: Option<(String, Value)>,
    output_tokens: u64,
) -> Value {
    let mut content = Vec::new();
    if let Some(text) = text {
        content.push(json!({"type": "text", "text": text}));
    }
    let stop_reason = match tool {
        Some((name, input)) => {
            content.push(json!({"type": "tool_use", "id": format!("toolu_{id}"), "name": name, "input": input}));
            "tool_use"
        }
        None => "end_turn",
    };
    let total = tokens(request_len).max(1);
    let (mut creation, mut read) = (0, 0);
    if let Some(prefix) = cacheable_prefix(request) {
        let cached = tokens(prefix.len()).min(total.saturating_sub(1));
        if state.first_sight_of(&prefix) {
            creation = cached;
        } else {
            read = cached;
        }
    }
    json!({
        "id": format!("msg_fake{id:016}"),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": null,
        "usage": {
            "input_tokens": total - creation - read,
            "output_tokens": output_tokens,
            "cache_creation_input_tokens": creation,
            "cache_read_input_tokens": read,
        }
    })
}

/// The system blocks up to and including the last one marked `cache_control`, as JSON text.
fn cacheable_prefix(request: &Value) -> Option<String> {
    let system = request.get("system")?.as_array()?;
    let last = system
        .iter()
        .rposition(|block| block.get("cache_control").is_some())?;
    Some(Value::Array(system[..=last].to_vec()).to_string())
}

#[allow(clippy::too_many_arguments)]
fn openai_completion(
    state: &State,
    request: &Value,
    request_len: usize,
    id: u64,
    model: &str,
    text: Option<String>,
    tool: Option<(String, Value)>,
    output_tokens: u64,
) -> Value {
    let (tool_calls, finish_reason) = match tool {
        Some((name, input)) => (
            Some(json!([{
                "id": format!("call_{id}"),
                "type": "function",
                "function": {"name": name, "arguments": input.to_string()}
            }])),
            "tool_calls",
        ),
        None => (None, "stop"),
    };
    let mut message = json!({"role": "assistant", "content": text, "refusal": null});
    if let (Some(calls), Some(m)) = (tool_calls, message.as_object_mut()) {
        m.insert("tool_calls".into(), calls);
    }
    let prompt = tokens(request_len).max(1);
    let system = request
        .get("messages")
        .and_then(|m| m.get(0))
        .filter(|m| m.get("role").and_then(Value::as_str) == Some("system"))
        .and_then(|m| m.get("content"))
        .map(Value::to_string);
    let cached = match system {
        Some(prefix) if !state.first_sight_of(&prefix) => tokens(prefix.len()).min(prompt),
        _ => 0,
    };
    let created = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    json!({
        "id": format!("chatcmpl-fake{id:012}"),
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "message": message, "logprobs": null, "finish_reason": finish_reason}],
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": output_tokens,
            "total_tokens": prompt + output_tokens,
            "prompt_tokens_details": {"cached_tokens": cached, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
                "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}
        },
        "system_fingerprint": "fp_fake"
    })
}

/// Rewrites an Anthropic error body (`{"type":"error","error":{"type","message"}}`) the way an
/// OpenAI server would say it; other bodies pass unchanged.
fn openai_error_body(body: Value) -> Value {
    let is_anthropic = body.get("type").and_then(Value::as_str) == Some("error");
    let Some(error) = body.get("error").filter(|_| is_anthropic) else {
        return body;
    };
    let message = error
        .get("message")
        .and_then(Value::as_str)
        .unwrap_or("error");
    let kind = error
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("server_error");
    let (kind, code) = match kind {
        "rate_limit_error" => ("requests", "rate_limit_exceeded"),
        "overloaded_error" => ("server_error", "overloaded"),
        "api_error" => ("server_error", "server_error"),
        "authentication_error" => ("invalid_request_error", "invalid_api_key"),
        other => (other, other),
    };
    json!({"error": {"message": message, "type": kind, "param": null, "code": code}})
}
