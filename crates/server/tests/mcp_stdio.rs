//! `querypad mcp` over stdio, driven by the official Rust SDK's client: the real binary is
//! spawned with a private data directory and the fake LLM, exactly as Claude Desktop would.

mod mcp_support;

use mcp_support::{Client, Recorder};
use querypad::config::Config;
use querypad_testkit::fake_llm::FakeLlm;
use rmcp::ServiceExt;
use rmcp::transport::TokioChildProcess;
use std::path::Path;
use std::time::Duration;

async fn spawn(data: &Path, fake: &FakeLlm) -> Client {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_querypad"));
    cmd.arg("mcp")
        .arg("--data-dir")
        .arg(data)
        .env("ANTHROPIC_API_KEY", "sk-test-key-not-real")
        .env("ANTHROPIC_BASE_URL", &fake.base_url)
        .env("QUERYPAD_LOG", "warn")
        .env_remove("QUERYPAD_CONFIG")
        .current_dir(data);
    let (transport, _stderr) = TokioChildProcess::builder(cmd)
        .stderr(std::process::Stdio::inherit())
        .spawn()
        .expect("spawn querypad mcp");
    Recorder::default()
        .serve(transport)
        .await
        .expect("initialize over stdio")
}

#[tokio::test]
async fn stdio_serves_every_tool_and_the_agent() {
    let data = querypad_testkit::temp_dir();
    let fake = mcp_support::fake_llm(Duration::from_millis(300)).await;
    let client = spawn(data.dir(), &fake).await;

    let info = client.peer_info().expect("initialize result");
    assert_eq!(
        info.server_info.as_ref().map(|i| i.name.as_str()),
        Some("querypad")
    );
    assert!(info.capabilities.tools.is_some());

    mcp_support::check_tools_list(&client).await;
    mcp_support::check_database_tools(&client).await;
    mcp_support::check_refusals(&client).await;
    mcp_support::check_text_to_sql(&client).await;
    client.cancel().await.expect("close the session");
}

#[tokio::test]
async fn stdio_cancellation_stops_the_run() {
    let data = querypad_testkit::temp_dir();
    let fake = mcp_support::fake_llm(Duration::from_secs(20)).await;
    let client = spawn(data.dir(), &fake).await;
    let started = std::time::Instant::now();
    let run_id = mcp_support::cancel_text_to_sql(&client).await;

    // The session goes on after the cancellation.
    mcp_support::check_tools_list(&client).await;

    // The run ends as cancelled long before the fake LLM would answer; the stored record says so.
    let mut config = Config::default();
    config.server.data_dir = data.dir().to_path_buf();
    let store = querypad::open_store(&config).await.expect("store");
    let record = loop {
        let r = store
            .get_run(&run_id)
            .await
            .expect("get_run")
            .expect("run stored");
        if r.status != "running" {
            break r;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "run still going"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(record.status, "failed", "{record:?}");
    let response = record.response.expect("response stored");
    assert_eq!(response["reason"], "cancelled", "{response}");
    assert!(started.elapsed() < Duration::from_secs(10));
    store.close().await;
    client.cancel().await.expect("close the session");
}

#[tokio::test]
async fn stdout_carries_nothing_but_protocol() {
    // Raw: an initialize request in, and every line out must be a JSON-RPC message.
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let data = querypad_testkit::temp_dir();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_querypad"))
        .arg("mcp")
        .arg("--data-dir")
        .arg(data.dir())
        .env("QUERYPAD_LOG", "debug")
        .env_remove("ANTHROPIC_API_KEY")
        .env_remove("QUERYPAD_CONFIG")
        .current_dir(data.dir())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    let mut stdin = child.stdin.take().unwrap();
    let init = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"raw","version":"0"}}}"#;
    let list = r#"{"jsonrpc":"2.0","id":2,"method":"tools/list"}"#;
    let initialized = r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#;
    for line in [init, initialized, list] {
        stdin.write_all(line.as_bytes()).await.unwrap();
        stdin.write_all(b"\n").await.unwrap();
    }
    stdin.flush().await.unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut ids = Vec::new();
    while ids.len() < 2 {
        let line = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
            .await
            .expect("answer in time")
            .unwrap()
            .expect("a line");
        let v: serde_json::Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("stdout line is not JSON ({e}): {line}"));
        assert_eq!(v["jsonrpc"], "2.0", "{line}");
        if let Some(id) = v["id"].as_i64() {
            ids.push(id);
        }
    }
    assert_eq!(ids, [1, 2]);
    drop(stdin);
    let status = tokio::time::timeout(Duration::from_secs(20), child.wait())
        .await
        .expect("exits when stdin closes")
        .unwrap();
    assert!(status.success(), "{status}");
    // Nothing after the answers but the end of the stream.
    assert!(lines.next_line().await.unwrap().is_none());
}
