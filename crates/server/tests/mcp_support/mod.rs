//! What the MCP tests over stdio and over HTTP share: an `rmcp` client that records progress
//! notifications, and the checks every transport must pass on the demo database.

#![allow(dead_code)]

use querypad_testkit::fake_llm::{FakeLlm, Reply, Step};
use rmcp::model::{
    CallToolRequestParams, CallToolResult, CancelledNotification, CancelledNotificationParam,
    ClientConfig, ClientRequest, ProgressNotificationParam, ProtocolVersion, Request, ServerResult,
};
use rmcp::service::{NotificationContext, PeerRequestOptions, RunningService};
use rmcp::{ClientHandler, RoleClient};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A client that keeps every progress notification it receives.
#[derive(Clone, Default)]
pub struct Recorder {
    pub progress: Arc<Mutex<Vec<ProgressNotificationParam>>>,
}

impl Recorder {
    pub fn progress_for(
        &self,
        token: &rmcp::model::ProgressToken,
    ) -> Vec<ProgressNotificationParam> {
        self.progress
            .lock()
            .unwrap()
            .iter()
            .filter(|p| &p.progress_token == token)
            .cloned()
            .collect()
    }
}

impl ClientHandler for Recorder {
    async fn on_progress(
        &self,
        params: ProgressNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) {
        self.progress.lock().unwrap().push(params);
    }

    fn get_info(&self) -> ClientConfig {
        let mut c = ClientConfig::default();
        c.protocol_version = ProtocolVersion::V_2025_11_25;
        c
    }
}

pub type Client = RunningService<RoleClient, Recorder>;

/// A fake Anthropic server whose one answer is `SELECT 1 AS one`, after `delay`.
pub async fn fake_llm(delay: Duration) -> FakeLlm {
    FakeLlm::anthropic(vec![Step::after(
        delay,
        Reply::ToolUse {
            name: "submit_sql".into(),
            input: json!({"sql": "SELECT 1 AS one", "explanation": "x"}),
            text: None,
        },
    )])
    .await
}

pub fn args(v: Value) -> rmcp::model::JsonObject {
    match v {
        Value::Object(m) => m,
        _ => panic!("arguments must be an object"),
    }
}

pub async fn call(client: &Client, name: &str, arguments: Value) -> CallToolResult {
    client
        .call_tool(CallToolRequestParams::new(name.to_string()).with_arguments(args(arguments)))
        .await
        .unwrap_or_else(|e| panic!("tools/call {name}: {e}"))
}

/// The structured content of a successful result.
pub fn ok(r: &CallToolResult) -> Value {
    assert_ne!(r.is_error, Some(true), "tool failed: {r:?}");
    r.structured_content.clone().expect("structured content")
}

/// The `{"code","message"}` of a failed result.
pub fn err(r: &CallToolResult) -> Value {
    assert_eq!(r.is_error, Some(true), "expected a tool error: {r:?}");
    let e = r.structured_content.clone().expect("structured error")["error"].clone();
    assert!(e["message"].as_str().is_some_and(|m| !m.is_empty()), "{e}");
    // The text content carries the same body, for clients that ignore structured content.
    let text = r.content[0]
        .as_text()
        .map(|t| t.text.clone())
        .unwrap_or_default();
    assert_eq!(serde_json::from_str::<Value>(&text).unwrap()["error"], e);
    e
}

/// tools/list: the six tools with the documented schemas.
pub async fn check_tools_list(client: &Client) {
    let tools = client.list_all_tools().await.expect("tools/list");
    let names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
    assert_eq!(
        names,
        [
            "list_connections",
            "list_tables",
            "describe_table",
            "sample_values",
            "run_query",
            "text_to_sql"
        ]
    );
    let schema = |n: &str| {
        Value::Object((*tools.iter().find(|t| t.name == n).unwrap().input_schema).clone())
    };
    assert_eq!(schema("list_connections")["properties"], json!({}));
    assert_eq!(schema("list_tables")["required"], json!(["connection"]));
    assert_eq!(
        schema("describe_table")["required"],
        json!(["connection", "table"])
    );
    assert_eq!(
        schema("run_query")["required"],
        json!(["connection", "sql"])
    );
    assert_eq!(
        schema("run_query")["properties"]["max_rows"]["type"],
        "integer"
    );
    assert_eq!(
        schema("text_to_sql")["required"],
        json!(["connection", "question"])
    );
    assert_eq!(
        schema("text_to_sql")["properties"]["notebook"]["type"],
        "integer"
    );
    for t in &tools {
        assert!(t.description.as_deref().is_some_and(|d| !d.is_empty()));
        assert_eq!(t.input_schema["type"], "object");
        assert_eq!(t.input_schema["additionalProperties"], false, "{}", t.name);
    }
}

/// Every database tool on the demo database (connection 1, Chinook).
pub async fn check_database_tools(client: &Client) {
    let conns = ok(&call(client, "list_connections", json!({})).await);
    assert_eq!(conns["connections"][0]["id"], 1, "{conns}");
    assert!(conns.to_string().find("password\":\"").is_none());

    let tables = ok(&call(client, "list_tables", json!({"connection": 1})).await);
    let names: Vec<&str> = tables["tables"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert!(
        names.contains(&"Album") && names.contains(&"Genre"),
        "{names:?}"
    );

    let album = ok(&call(
        client,
        "describe_table",
        json!({"connection": 1, "table": "Album"}),
    )
    .await);
    assert_eq!(album["name"], "Album");
    assert!(album["columns"].to_string().contains("Title"), "{album}");
    assert_eq!(album["sample_rows"].as_array().map(Vec::len), Some(3));

    let genres = ok(&call(
        client,
        "sample_values",
        json!({"connection": 1, "table": "Genre", "column": "Name"}),
    )
    .await);
    assert!(genres["values"].to_string().contains("Rock"), "{genres}");

    let rows = ok(&call(
        client,
        "run_query",
        json!({"connection": 1, "sql": "SELECT Name FROM Genre ORDER BY Name", "max_rows": 3}),
    )
    .await);
    assert_eq!(rows["rows"].as_array().map(Vec::len), Some(3), "{rows}");
    assert_eq!(rows["rows"][0][0], "Alternative");
    assert_eq!(rows["truncated"], true);
}

/// Refusals are tool errors with the HTTP API's codes; the session survives them.
pub async fn check_refusals(client: &Client) {
    let e = err(&call(
        client,
        "run_query",
        json!({"connection": 1, "sql": "DELETE FROM Genre"}),
    )
    .await);
    assert_eq!(e["code"], "sql_not_read_only", "{e}");
    let e = err(&call(
        client,
        "run_query",
        json!({"connection": 1, "sql": "SELECT 1; SELECT 2"}),
    )
    .await);
    assert_eq!(e["code"], "sql_multiple_statements", "{e}");
    let e = err(&call(client, "describe_table", json!({"connection": 1})).await);
    assert_eq!(e["code"], "invalid_fields");
    assert_eq!(e["message"], "table is required");
    let e = err(&call(client, "list_tables", json!({"connection": "one"})).await);
    assert_eq!(e["code"], "invalid_fields");
    assert_eq!(e["message"], "connection must be an integer");
    let e = err(&call(
        client,
        "run_query",
        json!({"connection": 1, "sql": "SELECT 1", "max_rows": 0}),
    )
    .await);
    assert_eq!(e["code"], "invalid_fields");
    let e = err(&call(client, "list_tables", json!({"connection": 999})).await);
    assert_eq!(e["code"], "connection_not_found");
    assert_eq!(e["message"], "connection 999 not found");
    let e = err(&call(
        client,
        "describe_table",
        json!({"connection": 1, "table": "Nope"}),
    )
    .await);
    assert_eq!(e["code"], "table_not_found");
    let e = err(&call(
        client,
        "text_to_sql",
        json!({"connection": 1, "question": "  "}),
    )
    .await);
    assert_eq!(e["code"], "invalid_fields");
    // An unknown tool is a protocol error, as the MCP specification asks.
    assert!(
        client
            .call_tool(CallToolRequestParams::new("drop_everything"))
            .await
            .is_err()
    );
    // Still usable afterwards.
    ok(&call(client, "list_connections", json!({})).await);
}

/// Starts `text_to_sql` as a cancellable request carrying a progress token.
pub async fn start_text_to_sql(
    client: &Client,
    question: &str,
) -> rmcp::service::RequestHandle<RoleClient> {
    let params = CallToolRequestParams::new("text_to_sql").with_arguments(args(
        json!({"connection": 1, "question": question, "notebook": 1}),
    ));
    client
        .send_cancellable_request(
            ClientRequest::CallToolRequest(Request::new(params)),
            PeerRequestOptions::no_options(),
        )
        .await
        .expect("tools/call sent")
}

/// text_to_sql against the fake LLM: the answer, with progress notifications before it.
pub async fn check_text_to_sql(client: &Client) {
    let handle = start_text_to_sql(client, "what is one?").await;
    let token = handle.progress_token.clone();
    let resp = tokio::time::timeout(Duration::from_secs(30), handle.await_response())
        .await
        .expect("answered in time")
        .expect("response");
    let ServerResult::CallToolResult(result) = resp else {
        panic!("unexpected response {resp:?}");
    };
    // Notifications sent before the response were handed to the client before it.
    let progress = client.service().progress_for(&token);
    let answer = ok(&result);
    assert_eq!(answer["status"], "succeeded", "{answer}");
    assert_eq!(answer["sql"], "SELECT 1 AS one");
    assert_eq!(answer["row_count"], 1, "{answer}");
    assert!(answer["message"].as_str().is_some_and(|m| !m.is_empty()));
    assert!(answer["cell_id"].as_i64().is_some(), "{answer}");
    assert!(progress.len() >= 2, "progress: {progress:?}");
    let values: Vec<f64> = progress.iter().map(|p| p.progress).collect();
    assert!(values.windows(2).all(|w| w[0] < w[1]), "{values:?}");
    assert!(
        progress.iter().any(|p| p
            .message
            .as_deref()
            .is_some_and(|m| m.starts_with("finished: succeeded"))),
        "{progress:?}"
    );
}

/// Starts a slow run, waits for its first progress notification, cancels it; returns the run
/// id named in that notification.
pub async fn cancel_text_to_sql(client: &Client) -> String {
    let handle = start_text_to_sql(client, "a slow question").await;
    let token = handle.progress_token.clone();
    let id = handle.id.clone();
    let started = tokio::time::Instant::now();
    let run_id = loop {
        let p = client.service().progress_for(&token);
        if let Some(m) = p.first().and_then(|p| p.message.clone()) {
            break m
                .strip_prefix("run ")
                .and_then(|r| r.split_whitespace().next())
                .expect("run id in the first progress message")
                .to_string();
        }
        assert!(started.elapsed() < Duration::from_secs(10), "no progress");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    client
        .send_notification(
            CancelledNotification::new(CancelledNotificationParam::new(
                Some(id),
                Some("test cancels".into()),
            ))
            .into(),
        )
        .await
        .expect("cancel sent");
    run_id
}
