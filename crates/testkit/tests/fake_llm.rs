//! The fake LLM servers over real HTTP, checked with a plain HTTP client: wire shapes, request
//! validation, scripted failures, concurrency of delayed replies, shutdown on drop.

use querypad_testkit::fake_llm::{self, FakeLlm, Reply, Step};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn messages_body() -> Value {
    json!({"model": "claude-t", "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]})
}

async fn post_anthropic(fake: &FakeLlm, body: &Value) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{}/v1/messages", fake.base_url))
        .header("x-api-key", "k")
        .header("anthropic-version", "2023-06-01")
        .json(body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn anthropic_text_reply_has_the_exact_wire_shape() {
    let fake = FakeLlm::anthropic(vec![Step::now(Reply::Text("hello".into()))]).await;
    let resp = post_anthropic(&fake, &messages_body()).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/json");
    assert!(
        resp.headers()["request-id"]
            .to_str()
            .unwrap()
            .starts_with("req_")
    );
    let body: Value = resp.json().await.unwrap();
    let keys: Vec<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys.len(), 8, "{body}");
    assert!(body["id"].as_str().unwrap().starts_with("msg_"));
    assert_eq!(body["type"], "message");
    assert_eq!(body["role"], "assistant");
    assert_eq!(body["model"], "claude-t");
    assert_eq!(body["content"], json!([{"type": "text", "text": "hello"}]));
    assert_eq!(body["stop_reason"], "end_turn");
    assert_eq!(body["stop_sequence"], Value::Null);
    let usage = &body["usage"];
    for key in [
        "input_tokens",
        "output_tokens",
        "cache_creation_input_tokens",
        "cache_read_input_tokens",
    ] {
        assert!(usage[key].is_u64(), "{key} in {usage}");
    }
    assert!(usage["input_tokens"].as_u64().unwrap() > 0);
}

#[tokio::test]
async fn anthropic_requires_key_and_version_without_using_the_script() {
    let fake = FakeLlm::anthropic(vec![Step::now(Reply::Text("scripted".into()))]).await;
    let client = reqwest::Client::new();
    let url = format!("{}/v1/messages", fake.base_url);

    let resp = client
        .post(&url)
        .header("anthropic-version", "2023-06-01")
        .json(&messages_body())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["type"], "error");
    assert_eq!(body["error"]["type"], "authentication_error");

    let resp = client
        .post(&url)
        .header("x-api-key", "k")
        .json(&messages_body())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["type"], "invalid_request_error");

    let resp = post_anthropic(&fake, &json!({"model": "m", "messages": []})).await;
    assert_eq!(resp.status(), 400, "max_tokens is required");

    let resp = post_anthropic(&fake, &messages_body()).await;
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["content"][0]["text"], "scripted");

    let recorded = fake.requests();
    assert_eq!(recorded.len(), 4);
    assert_eq!(recorded[0].header("x-api-key"), None);
    assert_eq!(recorded[1].header("anthropic-version"), None);
    assert_eq!(recorded[3].header("x-api-key"), Some("k"));
    assert_eq!(recorded[3].body, messages_body());
}

#[tokio::test]
async fn script_runs_in_order_then_reports_exhaustion() {
    let fake = FakeLlm::anthropic(vec![
        Step::now(Reply::ToolUse {
            name: "run_query".into(),
            input: json!({"sql": "SELECT 1"}),
            text: None,
        }),
        Step::now(fake_llm::rate_limited(3)),
        Step::now(fake_llm::overloaded()),
    ])
    .await;
    let body: Value = post_anthropic(&fake, &messages_body())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["stop_reason"], "tool_use");
    assert_eq!(body["content"].as_array().unwrap().len(), 1);
    assert_eq!(body["content"][0]["type"], "tool_use");
    assert!(
        body["content"][0]["id"]
            .as_str()
            .unwrap()
            .starts_with("toolu_")
    );
    assert_eq!(body["content"][0]["input"], json!({"sql": "SELECT 1"}));

    let resp = post_anthropic(&fake, &messages_body()).await;
    assert_eq!(resp.status(), 429);
    assert_eq!(resp.headers()["retry-after"], "3");
    assert_eq!(
        resp.json::<Value>().await.unwrap()["error"]["type"],
        "rate_limit_error"
    );

    let resp = post_anthropic(&fake, &messages_body()).await;
    assert_eq!(resp.status(), 529);
    assert_eq!(
        resp.json::<Value>().await.unwrap(),
        json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})
    );

    let resp = post_anthropic(&fake, &messages_body()).await;
    assert_eq!(resp.status(), 500);
    assert_eq!(
        resp.json::<Value>().await.unwrap()["error"]["message"],
        "fake script exhausted"
    );
    assert_eq!(fake.request_count(), 4);
}

#[tokio::test]
async fn cache_usage_is_written_then_read() {
    let fake = FakeLlm::anthropic_with(Arc::new(|_| Step::now(Reply::Text("ok".into())))).await;
    let mut body = messages_body();
    body["system"] = json!([
        {"type": "text", "text": "stable schema ".repeat(50), "cache_control": {"type": "ephemeral"}},
        {"type": "text", "text": "volatile"}
    ]);
    let first: Value = post_anthropic(&fake, &body).await.json().await.unwrap();
    let second: Value = post_anthropic(&fake, &body).await.json().await.unwrap();
    let (u1, u2) = (&first["usage"], &second["usage"]);
    assert!(
        u1["cache_creation_input_tokens"].as_u64().unwrap() > 100,
        "{u1}"
    );
    assert_eq!(u1["cache_read_input_tokens"], 0);
    assert_eq!(
        u2["cache_read_input_tokens"],
        u1["cache_creation_input_tokens"]
    );
    assert_eq!(u2["cache_creation_input_tokens"], 0);
}

#[tokio::test]
async fn malformed_reset_and_stall() {
    let fake = FakeLlm::anthropic(vec![
        Step::now(Reply::Malformed),
        Step::now(Reply::Reset),
        Step::now(Reply::StallMidBody),
    ])
    .await;
    let resp = post_anthropic(&fake, &messages_body()).await;
    assert_eq!(resp.status(), 200);
    let text = resp.text().await.unwrap();
    assert!(serde_json::from_str::<Value>(&text).is_err(), "{text}");

    let err = reqwest::Client::new()
        .post(format!("{}/v1/messages", fake.base_url))
        .header("x-api-key", "k")
        .header("anthropic-version", "2023-06-01")
        .json(&messages_body())
        .send()
        .await
        .unwrap_err();
    assert!(!err.is_timeout(), "{err}");

    let resp = post_anthropic(&fake, &messages_body()).await;
    assert_eq!(resp.status(), 200);
    let length: usize = resp.headers()["content-length"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let mut resp = resp;
    let first = resp.chunk().await.unwrap().unwrap();
    assert_eq!(first.len(), length / 2);
    let rest = tokio::time::timeout(Duration::from_millis(300), resp.chunk()).await;
    assert!(rest.is_err(), "the rest of a stalled body arrived");
}

#[tokio::test]
async fn delayed_replies_are_served_concurrently() {
    let fake = FakeLlm::anthropic_with(Arc::new(|_| {
        Step::after(Duration::from_secs(1), Reply::Text("ok".into()))
    }))
    .await;
    let client = reqwest::Client::new();
    let url = format!("{}/v1/messages", fake.base_url);
    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..300 {
        let request = client
            .post(&url)
            .header("x-api-key", "k")
            .header("anthropic-version", "2023-06-01")
            .json(&messages_body());
        tasks.spawn(async move { request.send().await.map(|r| r.status().as_u16()) });
    }
    while let Some(status) = tasks.join_next().await {
        assert_eq!(status.unwrap().unwrap(), 200);
    }
    let took = start.elapsed();
    assert!(
        took < Duration::from_millis(2_500),
        "300 delayed requests took {took:?}"
    );
    assert_eq!(fake.request_count(), 300);
}

#[tokio::test]
async fn openai_wire_shapes() {
    let fake = FakeLlm::openai(vec![
        Step::now(Reply::ToolUse {
            name: "run_query".into(),
            input: json!({"sql": "SELECT 1"}),
            text: None,
        }),
        Step::now(fake_llm::rate_limited(2)),
        Step::now(Reply::Text("done".into())),
    ])
    .await;
    assert!(fake.base_url.ends_with("/v1"));
    let client = reqwest::Client::new();
    let url = format!("{}/chat/completions", fake.base_url);
    let body = json!({"model": "gpt-t", "messages": [{"role": "user", "content": "hi"}]});

    let reply: Value = client
        .post(&url)
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(reply["object"], "chat.completion");
    assert_eq!(reply["model"], "gpt-t");
    let choice = &reply["choices"][0];
    assert_eq!(choice["finish_reason"], "tool_calls");
    assert_eq!(choice["message"]["content"], Value::Null);
    let call = &choice["message"]["tool_calls"][0];
    assert_eq!(call["type"], "function");
    assert_eq!(call["function"]["name"], "run_query");
    let arguments = call["function"]["arguments"].as_str().unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(arguments).unwrap(),
        json!({"sql": "SELECT 1"})
    );
    assert!(reply["usage"]["prompt_tokens"].as_u64().unwrap() > 0);

    let resp = client.post(&url).json(&body).send().await.unwrap();
    assert_eq!(resp.status(), 429);
    assert_eq!(resp.headers()["retry-after"], "2");
    let error: Value = resp.json().await.unwrap();
    assert_eq!(error["error"]["code"], "rate_limit_exceeded");
    assert!(error["error"]["message"].is_string());

    let reply: Value = client
        .post(&url)
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(reply["choices"][0]["message"]["content"], "done");
    assert_eq!(reply["choices"][0]["finish_reason"], "stop");

    let resp = client
        .post(format!("{}/completions", fake.base_url))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
}

#[tokio::test]
async fn dropping_the_fake_stops_it() {
    let fake = FakeLlm::anthropic(vec![Step::now(Reply::StallMidBody)]).await;
    let addr = fake.addr();
    drop(fake);
    tokio::task::yield_now().await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "still accepting after drop"
    );
}

/// Load check, run with `cargo test -p querypad-testkit -- --ignored`: 4,000 requests whose
/// replies each take 2 s are all in flight at once (one process holds both ends of every
/// socket, so the count stays well under the default 20,000 descriptors).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "load check: a few seconds and about 8,000 sockets"]
async fn thousands_of_delayed_replies_overlap() {
    let fake = FakeLlm::anthropic_with(Arc::new(|_| {
        Step::after(Duration::from_secs(2), Reply::Text("ok".into()))
    }))
    .await;
    let client = reqwest::Client::new();
    let url = format!("{}/v1/messages", fake.base_url);
    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..4_000 {
        let request = client
            .post(&url)
            .header("x-api-key", "k")
            .header("anthropic-version", "2023-06-01")
            .json(&messages_body());
        tasks.spawn(async move { request.send().await.map(|r| r.status().as_u16()) });
    }
    while let Some(status) = tasks.join_next().await {
        assert_eq!(status.unwrap().unwrap(), 200);
    }
    let took = start.elapsed();
    eprintln!("4000 requests with 2 s replies took {took:?}");
    assert!(took < Duration::from_secs(6), "took {took:?}");
}
