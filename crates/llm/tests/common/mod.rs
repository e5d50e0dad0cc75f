//! Helpers shared by the integration tests: providers pointed at a fake, limits, requests.
#![allow(dead_code)]

use querypad_llm::{
    CallLimits, ChatRequest, Message, Part, Provider, ProviderConfig, ProviderKind, Role,
};
use querypad_testkit::fake_llm::FakeLlm;
use std::time::Duration;
use tokio::time::Instant;

/// The key the tests send; asserted on the wire and never expected in error texts.
pub const ANTHROPIC_KEY: &str = "sk-ant-test-0123456789";
/// The OpenAI key the tests send.
pub const OPENAI_KEY: &str = "sk-openai-test-0123456789";

/// An Anthropic provider aimed at `fake`.
pub fn anthropic(fake: &FakeLlm) -> Provider {
    Provider::new(ProviderConfig {
        kind: ProviderKind::Anthropic,
        base_url: Some(fake.base_url.clone()),
        api_key: Some(ANTHROPIC_KEY.into()),
        model: "claude-test".into(),
        tools: true,
    })
    .unwrap()
}

/// An OpenAI-compatible provider aimed at `fake`.
pub fn openai(fake: &FakeLlm, key: Option<&str>, tools: bool) -> Provider {
    Provider::new(ProviderConfig {
        kind: ProviderKind::OpenAi,
        base_url: Some(fake.base_url.clone()),
        api_key: key.map(str::to_string),
        model: "gpt-test".into(),
        tools,
    })
    .unwrap()
}

/// Per-call timeout and a deadline from now, in milliseconds.
pub fn limits(per_call_ms: u64, deadline_ms: u64) -> CallLimits {
    CallLimits {
        per_call_timeout: Duration::from_millis(per_call_ms),
        deadline: Instant::now() + Duration::from_millis(deadline_ms),
    }
}

/// Generous limits for tests that are not about time.
pub fn relaxed() -> CallLimits {
    limits(5_000, 10_000)
}

/// A one-message request.
pub fn ask(text: &str) -> ChatRequest {
    ChatRequest {
        messages: vec![Message {
            role: Role::User,
            content: vec![Part::Text { text: text.into() }],
        }],
        max_tokens: 256,
        ..ChatRequest::default()
    }
}

/// The text parts of a reply, joined.
pub fn text_of(content: &[Part]) -> String {
    content
        .iter()
        .filter_map(|p| match p {
            Part::Text { text } => Some(text.as_str()),
            _ => None,
        })
        .collect()
}
