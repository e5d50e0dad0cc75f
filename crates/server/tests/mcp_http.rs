//! `/mcp` over streamable HTTP on the in-process server, driven by the official Rust SDK's
//! client: the tools, the agent with progress and cancellation, the bearer token, the
//! Host/Origin guard and the body limit.

mod common;
mod mcp_support;

use common::{TestServer, start_with};
use mcp_support::{Client, Recorder};
use querypad::config::Config;
use querypad_testkit::fake_llm::FakeLlm;
use rmcp::ServiceExt;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use serde_json::{Value, json};
use std::time::Duration;

async fn server(fake: &FakeLlm, tweak: impl FnOnce(&mut Config)) -> TestServer {
    let base = fake.base_url.clone();
    start_with(move |c| {
        c.llm.anthropic_api_key = Some("k".into());
        c.llm.anthropic_base_url = Some(base);
        tweak(c);
    })
    .await
}

async fn connect(s: &TestServer, token: Option<&str>) -> Result<Client, String> {
    let mut config = StreamableHttpClientTransportConfig::with_uri(s.url("/mcp"));
    if let Some(t) = token {
        config = config.auth_header(t.to_string());
    }
    Recorder::default()
        .serve(StreamableHttpClientTransport::from_config(config))
        .await
        .map_err(|e| e.to_string())
}

const INIT: &str = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"raw","version":"0"}}}"#;

/// A raw initialize POST to `/mcp` with extra headers.
async fn raw_post(s: &TestServer, headers: &[(&str, &str)], body: String) -> common::Reply {
    let mut req = s
        .client
        .post(s.url("/mcp"))
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(body);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    s.send(req).await
}

#[tokio::test]
async fn http_serves_every_tool_and_the_agent() {
    let fake = mcp_support::fake_llm(Duration::from_millis(300)).await;
    let s = server(&fake, |_| {}).await;
    let client = connect(&s, None).await.expect("initialize");
    assert_eq!(
        client
            .peer_info()
            .unwrap()
            .server_info
            .as_ref()
            .map(|i| i.name.as_str()),
        Some("querypad")
    );
    mcp_support::check_tools_list(&client).await;
    mcp_support::check_database_tools(&client).await;
    mcp_support::check_refusals(&client).await;
    mcp_support::check_text_to_sql(&client).await;
    client.cancel().await.expect("close");
    s.stop().await;
}

#[tokio::test]
async fn http_cancellation_cancels_the_run() {
    let fake = mcp_support::fake_llm(Duration::from_secs(20)).await;
    let s = server(&fake, |_| {}).await;
    let client = connect(&s, None).await.expect("initialize");
    let started = std::time::Instant::now();
    let run_id = mcp_support::cancel_text_to_sql(&client).await;
    let handle = s.state.runs.get(&run_id).expect("run in the registry");
    let response = handle
        .wait(tokio::time::Instant::now() + Duration::from_secs(10))
        .await
        .expect("run ended");
    assert_eq!(response["status"], "failed", "{response}");
    assert_eq!(response["reason"], "cancelled", "{response}");
    assert!(started.elapsed() < Duration::from_secs(10));
    mcp_support::check_tools_list(&client).await;
    client.cancel().await.expect("close");
    s.stop().await;
}

#[tokio::test]
async fn http_requires_the_token_once_one_exists() {
    let fake = mcp_support::fake_llm(Duration::ZERO).await;
    let s = server(&fake, |_| {}).await;
    let token = s
        .state
        .store
        .create_token("mcp")
        .await
        .expect("token")
        .secret;

    let r = raw_post(&s, &[], INIT.into()).await;
    common::assert_error(&r, 401, "unauthorized");
    let r = raw_post(&s, &[("authorization", "Bearer wrong")], INIT.into()).await;
    common::assert_error(&r, 401, "unauthorized");
    assert!(connect(&s, None).await.is_err());

    let client = connect(&s, Some(&token))
        .await
        .expect("initialize with the token");
    mcp_support::check_tools_list(&client).await;
    let conns = mcp_support::ok(&mcp_support::call(&client, "list_connections", json!({})).await);
    assert_eq!(conns["connections"][0]["id"], 1);
    client.cancel().await.expect("close");
    s.stop().await;
}

#[tokio::test]
async fn http_refuses_foreign_hosts_origins_and_big_bodies() {
    let fake = mcp_support::fake_llm(Duration::ZERO).await;
    let s = server(&fake, |c| {
        c.server.allowed_hosts = vec!["localhost".into(), "mcp.example:8443".into()];
        c.server.max_body_bytes = 4096;
    })
    .await;

    let r = raw_post(&s, &[("host", "evil.example")], INIT.into()).await;
    common::assert_error(&r, 403, "host_not_allowed");
    let r = raw_post(&s, &[("host", "mcp.example:9999")], INIT.into()).await;
    common::assert_error(&r, 403, "host_not_allowed");
    let r = raw_post(&s, &[("origin", "http://evil.example")], INIT.into()).await;
    common::assert_error(&r, 403, "origin_not_allowed");
    let r = raw_post(&s, &[("origin", "null")], INIT.into()).await;
    common::assert_error(&r, 403, "origin_not_allowed");

    // Allowed: a configured name, a loopback name with any port, the bind address.
    for headers in [
        vec![("host", "mcp.example:8443")],
        vec![
            ("host", "localhost:1234"),
            ("origin", "http://localhost:3000"),
        ],
        vec![],
    ] {
        let r = raw_post(&s, &headers, INIT.into()).await;
        assert_eq!(r.status, 200, "{headers:?}: {}", r.text);
        assert!(r.text.contains("\"serverInfo\""), "{}", r.text);
    }

    let big =
        json!({"jsonrpc": "2.0", "id": 1, "method": "ping", "params": {"pad": "x".repeat(8000)}});
    let r = raw_post(&s, &[], big.to_string()).await;
    common::assert_error(&r, 413, "body_too_large");

    // Other routes are not affected by the MCP guard.
    let r = s
        .send(
            s.client
                .get(s.url("/api/v1/connections"))
                .header("host", "evil.example"),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(matches!(r.body, Value::Array(_)));
    s.stop().await;
}

#[tokio::test]
async fn an_open_session_does_not_hold_up_shutdown() {
    let fake = mcp_support::fake_llm(Duration::ZERO).await;
    let s = server(&fake, |_| {}).await;
    let client = connect(&s, None).await.expect("initialize");
    mcp_support::check_tools_list(&client).await;
    // The client keeps its session (and its event stream) open while the server stops.
    let started = std::time::Instant::now();
    tokio::time::timeout(Duration::from_secs(15), s.stop())
        .await
        .expect("stopped without waiting for the drain timeout");
    assert!(started.elapsed() < Duration::from_secs(15));
    drop(client);
}
