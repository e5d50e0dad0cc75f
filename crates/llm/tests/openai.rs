//! The OpenAI-compatible provider against the fake chat completions server over real HTTP.

mod common;

use common::{OPENAI_KEY, ask, openai, relaxed, text_of};
use querypad_llm::{ChatRequest, Message, Part, Role, StopReason, SystemPart, ToolSpec};
use querypad_testkit::fake_llm::{self, FakeLlm, Reply, Step};
use serde_json::json;

fn with_tools(mut req: ChatRequest) -> ChatRequest {
    req.tools = vec![ToolSpec {
        name: "run_query".into(),
        description: "Runs one read-only SQL query".into(),
        input_schema: json!({"type": "object", "properties": {"sql": {"type": "string"}}}),
    }];
    req
}

#[tokio::test]
async fn text_reply() {
    let fake = FakeLlm::openai(vec![Step::now(Reply::Text("SELECT 1;".into()))]).await;
    let r = openai(&fake, Some(OPENAI_KEY), true)
        .chat(&ask("one"), relaxed())
        .await
        .unwrap();
    assert_eq!(
        r.content,
        vec![Part::Text {
            text: "SELECT 1;".into()
        }]
    );
    assert_eq!(r.stop_reason, StopReason::EndTurn);
    assert_eq!(r.model, "gpt-test");
    let sent = &fake.requests()[0];
    assert_eq!(sent.path, "/v1/chat/completions");
    assert_eq!(
        sent.header("authorization"),
        Some(format!("Bearer {OPENAI_KEY}").as_str())
    );
    assert_eq!(sent.header("x-api-key"), None);
    assert_eq!(
        sent.body,
        json!({"model": "gpt-test", "messages": [{"role": "user", "content": "one"}], "max_tokens": 256})
    );
}

#[tokio::test]
async fn tool_call_round_trip() {
    let fake = FakeLlm::openai(vec![
        Step::now(Reply::ToolUse {
            name: "run_query".into(),
            input: json!({"sql": "SELECT count(*) FROM albums"}),
            text: None,
        }),
        Step::now(Reply::Text("347".into())),
    ])
    .await;
    let provider = openai(&fake, Some(OPENAI_KEY), true);
    let first = with_tools(ask("How many albums?"));
    let r = provider.chat(&first, relaxed()).await.unwrap();
    assert_eq!(r.stop_reason, StopReason::ToolUse);
    let Part::ToolUse { id, name, input } = &r.content[0] else {
        panic!("{:?}", r.content)
    };
    assert_eq!(
        (name.as_str(), input),
        ("run_query", &json!({"sql": "SELECT count(*) FROM albums"}))
    );
    assert_eq!(
        fake.requests()[0].body["tools"],
        json!([{"type": "function", "function": {"name": "run_query", "description": "Runs one read-only SQL query",
            "parameters": {"type": "object", "properties": {"sql": {"type": "string"}}}}}])
    );

    let mut next = first.clone();
    next.messages.push(Message {
        role: Role::Assistant,
        content: r.content.clone(),
    });
    next.messages.push(Message {
        role: Role::User,
        content: vec![Part::ToolResult {
            tool_use_id: id.clone(),
            content: "[[347]]".into(),
            is_error: false,
        }],
    });
    let r2 = provider.chat(&next, relaxed()).await.unwrap();
    assert_eq!(text_of(&r2.content), "347");
    let messages = &fake.requests()[1].body["messages"];
    assert_eq!(
        messages[1],
        json!({"role": "assistant", "content": null, "tool_calls": [{"id": id, "type": "function",
            "function": {"name": "run_query", "arguments": "{\"sql\":\"SELECT count(*) FROM albums\"}"}}]})
    );
    assert_eq!(
        messages[2],
        json!({"role": "tool", "content": "[[347]]", "tool_call_id": id})
    );
}

#[tokio::test]
async fn usage_maps_cached_prompt_tokens() {
    let fake = FakeLlm::openai(vec![
        Step::now(Reply::Text("a".into())),
        Step::now(Reply::Text("a".into())),
    ])
    .await;
    let provider = openai(&fake, None, true);
    let mut req = ask("count albums");
    req.system = vec![SystemPart {
        text: "You write SQLite. ".repeat(30),
        cache: true,
    }];
    let first = provider.chat(&req, relaxed()).await.unwrap().usage;
    let second = provider.chat(&req, relaxed()).await.unwrap().usage;
    assert_eq!(first.cache_read_tokens, 0);
    assert!(second.cache_read_tokens > 0, "{second:?}");
    // Same prompt both times: prompt_tokens split into fresh + cached.
    assert_eq!(
        second.input_tokens + second.cache_read_tokens,
        first.input_tokens
    );
    assert_eq!(second.cache_write_tokens, 0);
    assert!(first.output_tokens > 0);
    assert_eq!(fake.requests()[0].header("authorization"), None);
}

#[tokio::test]
async fn no_tools_are_sent_when_the_server_has_no_tool_support() {
    let fake = FakeLlm::openai(vec![Step::now(Reply::Text("SELECT 1;".into()))]).await;
    let mut req = with_tools(ask("count"));
    req.messages.push(Message {
        role: Role::Assistant,
        content: vec![Part::ToolUse {
            id: "c1".into(),
            name: "run_query".into(),
            input: json!({"sql": "SELECT 1"}),
        }],
    });
    req.messages.push(Message {
        role: Role::User,
        content: vec![Part::ToolResult {
            tool_use_id: "c1".into(),
            content: "[[1]]".into(),
            is_error: false,
        }],
    });
    openai(&fake, None, false)
        .chat(&req, relaxed())
        .await
        .unwrap();
    let body = &fake.requests()[0].body;
    assert!(body.get("tools").is_none(), "{body}");
    let messages = body["messages"].as_array().unwrap();
    assert!(
        messages
            .iter()
            .all(|m| m["role"] != "tool" && m.get("tool_calls").is_none()),
        "{body}"
    );
}

#[tokio::test]
async fn errors_in_openai_format_are_retried_and_classified() {
    let fake = FakeLlm::openai(vec![
        Step::now(fake_llm::server_error()),
        Step::now(Reply::Text("ok".into())),
        Step::now(fake_llm::anthropic_error(
            401,
            "authentication_error",
            "Incorrect API key provided",
            None,
        )),
    ])
    .await;
    let provider = openai(&fake, Some(OPENAI_KEY), true);
    let r = provider.chat(&ask("hi"), relaxed()).await.unwrap();
    assert_eq!(r.attempts, 2);
    let err = provider.chat(&ask("hi"), relaxed()).await.unwrap_err();
    assert!(
        matches!(&err, querypad_llm::LlmError::Auth(m) if m.contains("Incorrect API key")),
        "{err:?}"
    );
    assert_eq!(fake.request_count(), 3);
}
