//! The Anthropic provider against the fake Messages API over real HTTP: what goes on the wire
//! and how replies and errors come back.

mod common;

use common::{ANTHROPIC_KEY, anthropic, ask, relaxed, text_of};
use querypad_llm::{ChatRequest, LlmError, Message, Part, Role, StopReason, SystemPart, ToolSpec};
use querypad_testkit::fake_llm::{self, FakeLlm, Reply, Step};
use serde_json::json;

#[tokio::test]
async fn text_reply() {
    let fake = FakeLlm::anthropic(vec![Step::now(Reply::Text("SELECT 1;".into()))]).await;
    let r = anthropic(&fake).chat(&ask("one"), relaxed()).await.unwrap();
    assert_eq!(
        r.content,
        vec![Part::Text {
            text: "SELECT 1;".into()
        }]
    );
    assert_eq!(r.stop_reason, StopReason::EndTurn);
    assert_eq!(r.model, "claude-test");
    assert_eq!(r.attempts, 1);
    assert!(
        r.usage.input_tokens > 0 && r.usage.output_tokens > 0,
        "{:?}",
        r.usage
    );
    assert_eq!(fake.request_count(), 1);
}

fn tool_conversation() -> ChatRequest {
    ChatRequest {
        system: vec![
            SystemPart {
                text: "You write SQLite for the Chinook database.".into(),
                cache: false,
            },
            SystemPart {
                text: "Schema: albums(AlbumId, Title, ArtistId)".into(),
                cache: true,
            },
        ],
        messages: vec![
            Message {
                role: Role::User,
                content: vec![Part::Text {
                    text: "How many albums?".into(),
                }],
            },
            Message {
                role: Role::Assistant,
                content: vec![
                    Part::Text {
                        text: "Let me count them.".into(),
                    },
                    Part::ToolUse {
                        id: "toolu_01".into(),
                        name: "run_query".into(),
                        input: json!({"sql": "SELECT count(*) FROM album"}),
                    },
                ],
            },
            Message {
                role: Role::User,
                content: vec![Part::ToolResult {
                    tool_use_id: "toolu_01".into(),
                    content: "no such table: album".into(),
                    is_error: true,
                }],
            },
        ],
        tools: vec![ToolSpec {
            name: "run_query".into(),
            description: "Runs one read-only SQL query".into(),
            input_schema: json!({"type": "object", "properties": {"sql": {"type": "string"}}, "required": ["sql"]}),
        }],
        max_tokens: 1024,
        temperature: Some(0.0),
    }
}

#[tokio::test]
async fn tool_use_round_trip_sends_the_exact_wire_json() {
    let fake = FakeLlm::anthropic(vec![
        Step::now(Reply::ToolUse {
            name: "run_query".into(),
            input: json!({"sql": "SELECT count(*) FROM albums"}),
            text: Some("Retrying with the right table.".into()),
        }),
        Step::now(Reply::Text("There are 347 albums.".into())),
    ])
    .await;
    let provider = anthropic(&fake);
    let req = tool_conversation();

    let r = provider.chat(&req, relaxed()).await.unwrap();
    assert_eq!(r.stop_reason, StopReason::ToolUse);
    assert_eq!(text_of(&r.content), "Retrying with the right table.");
    let Part::ToolUse { id, name, input } = &r.content[1] else {
        panic!("{:?}", r.content)
    };
    assert!(id.starts_with("toolu_"), "{id}");
    assert_eq!(name, "run_query");
    assert_eq!(input, &json!({"sql": "SELECT count(*) FROM albums"}));
    // The cached system prefix is written on first sight...
    assert!(
        r.usage.cache_write_tokens > 0 && r.usage.cache_read_tokens == 0,
        "{:?}",
        r.usage
    );

    let sent = &fake.requests()[0];
    assert_eq!(sent.method, "POST");
    assert_eq!(sent.path, "/v1/messages");
    assert_eq!(sent.header("x-api-key"), Some(ANTHROPIC_KEY));
    assert_eq!(sent.header("anthropic-version"), Some("2023-06-01"));
    assert_eq!(sent.header("content-type"), Some("application/json"));
    assert_eq!(sent.header("authorization"), None);
    assert_eq!(
        sent.body,
        json!({
            "model": "claude-test",
            "max_tokens": 1024,
            "system": [
                {"type": "text", "text": "You write SQLite for the Chinook database."},
                {"type": "text", "text": "Schema: albums(AlbumId, Title, ArtistId)",
                 "cache_control": {"type": "ephemeral"}}
            ],
            "messages": [
                {"role": "user", "content": [{"type": "text", "text": "How many albums?"}]},
                {"role": "assistant", "content": [
                    {"type": "text", "text": "Let me count them."},
                    {"type": "tool_use", "id": "toolu_01", "name": "run_query",
                     "input": {"sql": "SELECT count(*) FROM album"}}
                ]},
                {"role": "user", "content": [
                    {"type": "tool_result", "tool_use_id": "toolu_01",
                     "content": "no such table: album", "is_error": true}
                ]}
            ],
            "tools": [{
                "name": "run_query",
                "description": "Runs one read-only SQL query",
                "input_schema": {"type": "object", "properties": {"sql": {"type": "string"}}, "required": ["sql"]}
            }],
            "temperature": 0.0
        })
    );

    // ...and read on the next turn with the same prefix.
    let mut next = req.clone();
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
    assert_eq!(text_of(&r2.content), "There are 347 albums.");
    assert_eq!(r2.usage.cache_read_tokens, r.usage.cache_write_tokens);
    assert_eq!(r2.usage.cache_write_tokens, 0);
    let last = &fake.requests()[1].body["messages"][4]["content"][0];
    assert_eq!(
        last,
        &json!({"type": "tool_result", "tool_use_id": id, "content": "[[347]]", "is_error": false})
    );
}

#[tokio::test]
async fn unauthorized_is_not_retried_and_hides_the_key() {
    let fake = FakeLlm::anthropic(vec![
        Step::now(fake_llm::anthropic_error(
            401,
            "authentication_error",
            &format!("invalid x-api-key {ANTHROPIC_KEY}"),
            None,
        )),
        Step::now(Reply::Text("never".into())),
    ])
    .await;
    let err = anthropic(&fake)
        .chat(&ask("hi"), relaxed())
        .await
        .unwrap_err();
    assert!(matches!(err, LlmError::Auth(_)), "{err:?}");
    assert!(!err.is_transient());
    let text = err.to_string();
    assert!(text.contains("authentication_error"), "{text}");
    assert!(!text.contains(ANTHROPIC_KEY), "{text}");
    assert_eq!(fake.request_count(), 1);
}

#[tokio::test]
async fn client_errors_are_not_retried() {
    for status in [400u16, 403, 404, 413] {
        let fake = FakeLlm::anthropic(vec![
            Step::now(fake_llm::anthropic_error(
                status,
                "invalid_request_error",
                "nope",
                None,
            )),
            Step::now(Reply::Text("never".into())),
        ])
        .await;
        let err = anthropic(&fake)
            .chat(&ask("hi"), relaxed())
            .await
            .unwrap_err();
        let want_auth = status == 403;
        assert_eq!(
            matches!(err, LlmError::Auth(_)),
            want_auth,
            "{status}: {err:?}"
        );
        assert_eq!(
            matches!(err, LlmError::BadRequest(_)),
            !want_auth,
            "{status}: {err:?}"
        );
        assert_eq!(fake.request_count(), 1, "{status}");
    }
}

#[tokio::test]
async fn malformed_reply_is_malformed_and_not_retried() {
    let fake = FakeLlm::anthropic(vec![
        Step::now(Reply::Malformed),
        Step::now(Reply::Text("x".into())),
    ])
    .await;
    let err = anthropic(&fake)
        .chat(&ask("hi"), relaxed())
        .await
        .unwrap_err();
    assert!(matches!(err, LlmError::Malformed(_)), "{err:?}");
    assert_eq!(err.code(), "llm_malformed_reply");
    assert_eq!(fake.request_count(), 1);
}

#[tokio::test]
async fn missing_key_is_a_configuration_error() {
    let err = querypad_llm::Provider::new(querypad_llm::ProviderConfig {
        kind: querypad_llm::ProviderKind::Anthropic,
        base_url: None,
        api_key: Some("  ".into()),
        model: "m".into(),
        tools: true,
    })
    .err()
    .unwrap();
    assert!(matches!(err, LlmError::Config(_)), "{err:?}");
}
