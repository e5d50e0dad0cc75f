//! Runs a fake Anthropic server and a fake OpenAI-compatible server on loopback, for scripts
//! that check the fakes against the official SDKs (`scripts/llm_sdk_check.py`) or drive a
//! benchmark from another process.
//!
//! Prints `anthropic <base url>` and `openai <base url>` on stdout, then serves until killed
//! (or, with `--exit-on-stdin-eof`, until its standard input closes, so a parent that dies
//! does not leave it running). The reply is chosen by a `reply:<kind>` word in the last user
//! message: `text`, `tool`, `529`, `429`, `500`, `malformed`, `stall`, `reset`, `slow`
//! (text after 2 s); without one it answers a short text.

use querypad_testkit::fake_llm::{self, FakeLlm, Handler, Reply, Step};
use serde_json::{Value, json};
use std::io::{BufRead, Write};
use std::sync::Arc;
use std::time::Duration;

#[tokio::main]
async fn main() {
    let anthropic = FakeLlm::anthropic_with(handler()).await;
    let openai = FakeLlm::openai_with(handler()).await;
    {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "anthropic {}", anthropic.base_url);
        let _ = writeln!(out, "openai {}", openai.base_url);
        let _ = out.flush();
    }
    if std::env::args().any(|a| a == "--exit-on-stdin-eof") {
        std::thread::spawn(|| {
            let mut line = String::new();
            while std::io::stdin()
                .lock()
                .read_line(&mut line)
                .is_ok_and(|n| n > 0)
            {
                line.clear();
            }
            std::process::exit(0);
        });
    }
    let _ = tokio::signal::ctrl_c().await;
}

fn handler() -> Handler {
    Arc::new(|body: &Value| {
        let text = last_user_text(body);
        let kind = text
            .split_whitespace()
            .find_map(|w| w.strip_prefix("reply:"))
            .unwrap_or("")
            .trim_end_matches(|c: char| !c.is_ascii_alphanumeric());
        match kind {
            "text" => Step::now(Reply::Text("SELECT 1;".into())),
            "tool" => Step::now(Reply::ToolUse {
                name: "run_query".into(),
                input: json!({"sql": "SELECT count(*) FROM albums", "limit": 10}),
                text: Some("I will run a query.".into()),
            }),
            "529" => Step::now(fake_llm::overloaded()),
            "429" => Step::now(fake_llm::rate_limited(7)),
            "500" => Step::now(fake_llm::server_error()),
            "malformed" => Step::now(Reply::Malformed),
            "stall" => Step::now(Reply::StallMidBody),
            "reset" => Step::now(Reply::Reset),
            "slow" => Step::after(Duration::from_secs(2), Reply::Text("slow".into())),
            _ => Step::now(Reply::Text("ok".into())),
        }
    })
}

/// The text of the last user message: a string (both dialects) or text blocks (Anthropic).
fn last_user_text(body: &Value) -> String {
    let Some(messages) = body.get("messages").and_then(Value::as_array) else {
        return String::new();
    };
    let Some(last) = messages
        .iter()
        .rev()
        .find(|m| m.get("role").and_then(Value::as_str) == Some("user"))
    else {
        return String::new();
    };
    match last.get("content") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(blocks)) => blocks
            .iter()
            .filter_map(|b| b.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join(" "),
        _ => String::new(),
    }
}
