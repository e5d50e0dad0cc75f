//! The Model Context Protocol server: the database tools of `agent::tools` plus
//! `list_connections` and the whole text-to-SQL agent (`text_to_sql`), served over stdio
//! (`querypad mcp`) and streamable HTTP (`/mcp` on `querypad serve`), with the official SDK
//! (`rmcp`).
//!
//! Why here and not in the agent crate: `list_connections` and `text_to_sql` need the metadata
//! store and the run registry, which only the server has. The database tools are the agent's
//! own registry ([`querypad_agent::tools::DATABASE_TOOLS`]) with a `connection` argument added,
//! so MCP clients and the agent's LLM always see the same names, descriptions and schemas.
//!
//! Errors are tool results with `isError: true` whose content is the HTTP API's error body
//! (`{"error":{"code","message"}}`, same codes and messages), so a client can act on the code
//! and a person can read the message; only an unknown tool name is a protocol error, as the MCP
//! specification asks.

use crate::agent_service::{self, StartRun};
use crate::error::ApiError;
use crate::runs::Logged;
use crate::sqlrun;
use crate::state::SharedState;
use axum::Router;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use querypad_agent::exec::ExecError;
use querypad_agent::tools::{self, DATABASE_TOOLS, ToolContext, ToolDef, ToolError};
use querypad_store::Connection;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, Implementation, JsonObject,
    ListToolsResult, PaginatedRequestParams, ProgressNotificationParam, ServerCapabilities,
    ServerConfig, Tool, ToolAnnotations,
};
use rmcp::service::RequestContext;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{ErrorData, RoleServer, ServerHandler, ServiceExt};
use serde_json::{Map, Value, json};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// The tools only the server can serve (they need the store or the run registry). Same shape as
/// the agent's registry so `tools/list` treats all of them alike.
pub const SERVER_TOOLS: &[ToolDef] = &[
    ToolDef {
        name: "list_connections",
        description: "List the databases Querypad can query: id, name, kind (sqlite, postgres, mysql) and where they are. Pass an id as `connection` to the other tools.",
        schema: || json!({"type": "object", "properties": {}, "additionalProperties": false}),
    },
    ToolDef {
        name: "text_to_sql",
        description: "Answer a question in plain words with SQL: Querypad's agent reads the schema, writes a read-only query, runs it (retrying on errors) and returns the SQL, a preview of the rows, a status (succeeded, degraded, failed) and a message. Sends progress notifications while it works; can be cancelled.",
        schema: || {
            json!({
                "type": "object",
                "properties": {
                    "connection": {"type": "integer", "minimum": 1, "description": "Connection id, as listed by list_connections"},
                    "question": {"type": "string", "minLength": 1, "maxLength": 4000, "description": "The question in plain words"},
                    "notebook": {"type": "integer", "minimum": 1, "description": "Notebook to append the answer to as a new cell (its earlier answers are used as examples)"}
                },
                "required": ["connection", "question"],
                "additionalProperties": false
            })
        },
    },
];

/// The `connection` argument every database tool takes over MCP.
fn connection_property() -> Value {
    json!({"type": "integer", "minimum": 1, "description": "Connection id, as listed by list_connections"})
}

/// A database tool's schema with `connection` added (first, and required).
fn with_connection(schema: Value) -> Value {
    let mut schema = schema;
    if let Some(obj) = schema.as_object_mut() {
        let mut props = Map::new();
        props.insert("connection".into(), connection_property());
        if let Some(Value::Object(old)) = obj.remove("properties") {
            props.extend(old);
        }
        obj.insert("properties".into(), Value::Object(props));
        let mut required = vec![Value::from("connection")];
        if let Some(Value::Array(old)) = obj.remove("required") {
            required.extend(old);
        }
        obj.insert("required".into(), Value::Array(required));
    }
    schema
}

fn as_object(v: Value) -> JsonObject {
    match v {
        Value::Object(m) => m,
        _ => JsonObject::new(),
    }
}

/// Every tool `tools/list` serves, in order: `list_connections`, the database tools of the
/// agent's registry (with `connection`), `text_to_sql`.
pub fn tool_list() -> Vec<Tool> {
    let read_only = |title: &str| {
        ToolAnnotations::with_title(title)
            .read_only(true)
            .destructive(false)
            .open_world(false)
    };
    let mut out = Vec::with_capacity(SERVER_TOOLS.len() + DATABASE_TOOLS.len());
    let list = &SERVER_TOOLS[0];
    out.push(
        Tool::new(list.name, list.description, as_object((list.schema)()))
            .with_annotations(read_only("List connections").idempotent(true)),
    );
    for t in DATABASE_TOOLS {
        out.push(
            Tool::new(
                t.name,
                t.description,
                as_object(with_connection((t.schema)())),
            )
            .with_annotations(read_only(&t.name.replace('_', " "))),
        );
    }
    let t2s = &SERVER_TOOLS[1];
    out.push(
        // Not read-only: a run is stored and may append a cell to a notebook.
        Tool::new(t2s.name, t2s.description, as_object((t2s.schema)())).with_annotations(
            ToolAnnotations::with_title("Text to SQL")
                .read_only(false)
                .destructive(false)
                .open_world(false),
        ),
    );
    out
}

/// Checks `args` against a tool's input schema (the subset our schemas use: object with
/// `properties`, `required`, `additionalProperties: false`, integer/string with bounds), so
/// a bad argument is refused with `invalid_fields` naming it, the same way for every tool.
fn check_args(schema: &JsonObject, args: &JsonObject) -> Result<(), ApiError> {
    let empty = Map::new();
    let props = schema
        .get("properties")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    if let Some(Value::Array(required)) = schema.get("required") {
        for name in required.iter().filter_map(Value::as_str) {
            if args.get(name).is_none_or(Value::is_null) {
                return Err(ApiError::invalid(format!("{name} is required")));
            }
        }
    }
    for (name, value) in args {
        let Some(prop) = props.get(name) else {
            let known: Vec<&str> = props.keys().map(String::as_str).collect();
            return Err(ApiError::invalid(format!(
                "unknown argument {name:?}; this tool takes {}",
                if known.is_empty() {
                    "no arguments".to_string()
                } else {
                    known.join(", ")
                }
            )));
        };
        if value.is_null() {
            continue;
        }
        match prop.get("type").and_then(Value::as_str) {
            Some("integer") => {
                let Some(n) = value.as_i64() else {
                    return Err(ApiError::invalid(format!("{name} must be an integer")));
                };
                let min = prop.get("minimum").and_then(Value::as_i64);
                let max = prop.get("maximum").and_then(Value::as_i64);
                if min.is_some_and(|m| n < m) || max.is_some_and(|m| n > m) {
                    return Err(ApiError::invalid(match (min, max) {
                        (Some(lo), Some(hi)) => format!("{name} must be from {lo} to {hi}"),
                        (Some(lo), None) => format!("{name} must be at least {lo}"),
                        (None, Some(hi)) => format!("{name} must be at most {hi}"),
                        (None, None) => format!("{name} is out of range"),
                    }));
                }
            }
            Some("string") => {
                let Some(s) = value.as_str() else {
                    return Err(ApiError::invalid(format!("{name} must be a string")));
                };
                let len = s.chars().count() as u64;
                if let Some(lo) = prop.get("minLength").and_then(Value::as_u64)
                    && (len < lo || s.trim().is_empty())
                {
                    return Err(ApiError::invalid(format!("{name} must not be empty")));
                }
                if let Some(hi) = prop.get("maxLength").and_then(Value::as_u64)
                    && len > hi
                {
                    return Err(ApiError::invalid(format!(
                        "{name} must be at most {hi} characters"
                    )));
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// The API's error for a failed tool call, with the connection named like `POST /api/v1/query`
/// names it.
fn tool_error(e: ToolError, conn: &Connection) -> ApiError {
    match e {
        ToolError::UnknownTool(_) => {
            ApiError::new(StatusCode::NOT_FOUND, "unknown_tool", e.to_string())
        }
        ToolError::BadArgument(m) => ApiError::invalid(m),
        ToolError::UnknownTable(_) => {
            ApiError::new(StatusCode::NOT_FOUND, "table_not_found", e.to_string())
        }
        ToolError::Exec(ExecError::Check(c)) => ApiError::from(c),
        ToolError::Exec(ExecError::Engine(en)) => {
            ApiError::from(en).for_connection(conn.id, &conn.name)
        }
    }
}

fn deadline_error(timeout: Duration) -> ApiError {
    ApiError::new(
        StatusCode::GATEWAY_TIMEOUT,
        "deadline_exceeded",
        format!(
            "the request did not finish within its {:.1} s deadline (server.request_timeout_secs)",
            timeout.as_secs_f64()
        ),
    )
}

fn cancelled_error() -> ApiError {
    ApiError::new(
        StatusCode::from_u16(499).unwrap_or(StatusCode::BAD_REQUEST),
        "cancelled",
        "the client cancelled the request",
    )
}

/// One line for a progress notification, from a run event.
fn describe(e: &Logged) -> String {
    let d = &e.data;
    let ms = |k: &str| {
        d[k].as_f64()
            .map(|v| format!("{v:.0} ms"))
            .unwrap_or_default()
    };
    let err = |k: &str| d[k].as_str().map(|s| format!(": {s}")).unwrap_or_default();
    match e.kind.as_str() {
        "context_built" => format!(
            "context built: {} of {} tables, {} examples",
            d["tables_in_context"], d["tables_total"], d["examples"]
        ),
        "llm_call" => format!(
            "LLM call (iteration {}) {}{}",
            d["iteration"],
            ms("ms"),
            err("error")
        ),
        "tool_called" => format!(
            "tool {} (iteration {}) {}{}",
            d["tool"].as_str().unwrap_or("?"),
            d["iteration"],
            ms("ms"),
            err("error")
        ),
        "sql_checked" => {
            if d["ok"].as_bool() == Some(true) {
                format!("SQL checked (iteration {}): read-only", d["iteration"])
            } else {
                format!("SQL refused (iteration {}){}", d["iteration"], err("error"))
            }
        }
        "sql_executed" => match d["error"].as_str() {
            Some(e) => format!("SQL failed (iteration {}): {e}", d["iteration"]),
            None => format!(
                "SQL ran (iteration {}): {} rows in {}",
                d["iteration"],
                d["rows"],
                ms("ms")
            ),
        },
        "iteration_failed" => format!(
            "iteration {} failed: {}",
            d["iteration"],
            d["reason"].as_str().unwrap_or("")
        ),
        "finished" => format!(
            "finished: {}: {}",
            d["status"].as_str().unwrap_or("?"),
            d["message"].as_str().unwrap_or("")
        ),
        other => other.to_string(),
    }
}

/// The part of a run's response an MCP client needs: the SQL, a preview, status and message.
fn answer(response: &Value) -> Value {
    let keys = [
        "run_id",
        "status",
        "message",
        "reason",
        "question",
        "connection_id",
        "notebook_id",
        "cell_id",
        "sql",
        "executed_sql",
        "explanation",
        "columns",
        "rows",
        "row_count",
        "truncated",
        "iterations",
        "warnings",
    ];
    Value::Object(
        keys.iter()
            .map(|k| (k.to_string(), response[*k].clone()))
            .collect(),
    )
}

/// The MCP service: one per session (HTTP) or process (stdio), sharing the server's state.
#[derive(Clone)]
pub struct QuerypadMcp {
    state: SharedState,
}

impl QuerypadMcp {
    /// A service over the server's state.
    pub fn new(state: SharedState) -> QuerypadMcp {
        QuerypadMcp { state }
    }

    /// Runs one tool (arguments already checked against its schema).
    async fn dispatch(
        &self,
        name: &str,
        mut args: JsonObject,
        ctx: &RequestContext<RoleServer>,
    ) -> Result<Value, ApiError> {
        let state = &self.state;
        if name == "list_connections" {
            let conns = state.store.list_connections().await?;
            return Ok(json!({"connections": conns}));
        }
        let connection_id = args
            .remove("connection")
            .and_then(|v| v.as_i64())
            .ok_or_else(|| ApiError::invalid("connection is required"))?;
        if name == "text_to_sql" {
            let question = args
                .get("question")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            let notebook_id = args.get("notebook").and_then(Value::as_i64);
            return self
                .text_to_sql(
                    StartRun {
                        query: question,
                        connection_id,
                        notebook_id,
                    },
                    ctx,
                )
                .await;
        }
        let timeout = state.config.request_timeout();
        let deadline = Instant::now() + timeout;
        let work = async {
            let conn = state.store.get_connection(connection_id).await?;
            let db = state.databases.get(&state.store, &conn).await?;
            let catalog = if name == "run_query" {
                // A query needs no schema: do not make it wait for (or fail on) introspection.
                Arc::new(querypad_engines::Catalog::default())
            } else {
                let cached = state
                    .databases
                    .catalog(&state.store, &conn, false, timeout)
                    .await?;
                cached.catalog.clone()
            };
            if name == "run_query" {
                // The API's row cap (database.max_rows_limit) first, with its message.
                let requested = args.get("max_rows").and_then(Value::as_u64);
                sqlrun::row_cap(state, requested.map(|n| n as usize))?;
            }
            let limits = &state.config.database;
            let tctx = ToolContext {
                db,
                catalog,
                statement_timeout: state.config.query_timeout(),
                deadline,
                max_rows: limits.default_max_rows.min(limits.max_rows_limit).min(1000),
            };
            tools::call(name, &Value::Object(args), &tctx)
                .await
                .map_err(|e| tool_error(e, &conn))
        };
        tokio::select! {
            r = tokio::time::timeout_at(deadline, work) => r.unwrap_or_else(|_| Err(deadline_error(timeout))),
            _ = ctx.ct.cancelled() => Err(cancelled_error()),
        }
    }

    /// Runs the agent, relaying its events as progress notifications, until it answers, the
    /// workflow deadline passes, or the client cancels (which cancels the run).
    async fn text_to_sql(
        &self,
        req: StartRun,
        ctx: &RequestContext<RoleServer>,
    ) -> Result<Value, ApiError> {
        let state = &self.state;
        let handle = agent_service::start(state, req, agent_service::Record::Alongside).await?;
        let token = ctx.meta.get_progress_token();
        let notify = |progress: f64, message: String| {
            let peer = ctx.peer.clone();
            let token = token.clone();
            async move {
                if let Some(token) = token {
                    let p = ProgressNotificationParam::new(token, progress).with_message(message);
                    if let Err(e) = peer.notify_progress(p).await {
                        tracing::debug!(error = %e, "could not send an MCP progress notification");
                    }
                }
            }
        };
        notify(0.0, format!("run {} started", handle.id)).await;
        let wait = Duration::from_secs_f64(state.config.agent.workflow_timeout_secs)
            + Duration::from_secs(1);
        let deadline = Instant::now() + wait;
        let mut rx = handle.subscribe();
        let mut seen = 0u64;
        loop {
            rx.borrow_and_update();
            let (events, finished) = handle.events_after(seen);
            for e in &events {
                seen = e.seq;
                notify(e.seq as f64, describe(e)).await;
            }
            if finished {
                break;
            }
            tokio::select! {
                changed = tokio::time::timeout_at(deadline, rx.changed()) => match changed {
                    Ok(Ok(())) => continue,
                    Ok(Err(_)) => break,
                    Err(_) => {
                        return Err(ApiError::new(
                            StatusCode::GATEWAY_TIMEOUT,
                            "deadline_exceeded",
                            format!(
                                "the run {} did not finish in time; read it later at /api/v1/agent/runs/{}",
                                handle.id, handle.id
                            ),
                        ));
                    }
                },
                _ = ctx.ct.cancelled() => {
                    tracing::info!(run_id = %handle.id, "MCP client cancelled the run");
                    handle.cancel.cancel();
                    // The run ends promptly once cancelled; wait so its record says so.
                    let _ = handle.wait(Instant::now() + Duration::from_secs(5)).await;
                    return Err(cancelled_error());
                }
            }
        }
        match handle.response() {
            Some(r) => Ok(answer(&r)),
            None => Err(ApiError::internal(format!(
                "run {} ended without a response",
                handle.id
            ))),
        }
    }
}

impl ServerHandler for QuerypadMcp {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(
                Implementation::new("querypad", env!("CARGO_PKG_VERSION"))
                    .with_title("Querypad"),
            )
            .with_instructions(
                "Querypad answers questions about SQL databases. Call list_connections first; then list_tables, describe_table and sample_values to explore a connection, run_query to run one read-only statement, or text_to_sql to let Querypad's agent write and run the SQL for a question.",
            )
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(tool_list()))
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        tool_list().into_iter().find(|t| t.name == name)
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let Some(tool) = self.get_tool(&request.name) else {
            return Err(ErrorData::invalid_params(
                format!(
                    "unknown tool {:?}; tools/list names the tools",
                    request.name
                ),
                None,
            ));
        };
        let args = request.arguments.unwrap_or_default();
        let outcome = match check_args(&tool.input_schema, &args) {
            Ok(()) => self.dispatch(&request.name, args, &context).await,
            Err(e) => Err(e),
        };
        Ok(match outcome {
            Ok(v) => CallToolResult::structured(v),
            Err(e) => {
                tracing::info!(tool = %request.name, code = %e.code, message = %e.message, "MCP tool call failed");
                CallToolResult::structured_error(e.body())
            }
        }
        .into())
    }
}

/// Why the stdio server stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum McpServeError {
    /// The client never completed the handshake, or the stream broke during it.
    #[error("MCP handshake failed: {0}")]
    Initialize(String),
    /// The service task failed.
    #[error("MCP service failed: {0}")]
    Service(String),
}

/// Serves MCP on stdin/stdout until the client closes stdin. Logs must go to stderr or a file:
/// stdout carries nothing but protocol messages.
pub async fn serve_stdio(state: SharedState) -> Result<(), McpServeError> {
    let running = QuerypadMcp::new(state)
        .serve(rmcp::transport::stdio())
        .await
        .map_err(|e| McpServeError::Initialize(e.to_string()))?;
    let reason = running
        .waiting()
        .await
        .map_err(|e| McpServeError::Service(e.to_string()))?;
    tracing::info!(?reason, "MCP stdio session ended");
    Ok(())
}

/// Who may call `/mcp`: the allowed `Host`/`Origin` names and the body limit.
#[derive(Debug, Clone)]
struct Guard {
    allowed: Arc<Vec<(String, Option<u16>)>>,
    max_body: usize,
}

/// Splits `host[:port]` into a lowercase host without IPv6 brackets and a port.
fn split_authority(s: &str) -> Option<(String, Option<u16>)> {
    let a: axum::http::uri::Authority = s.trim().parse().ok()?;
    let host = a
        .host()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_ascii_lowercase();
    Some((host, a.port_u16()))
}

impl Guard {
    fn new(hosts: &[String], max_body: usize) -> Guard {
        Guard {
            allowed: Arc::new(hosts.iter().filter_map(|h| split_authority(h)).collect()),
            max_body,
        }
    }

    fn allows(&self, authority: &str) -> bool {
        let Some((host, port)) = split_authority(authority) else {
            return false;
        };
        self.allowed
            .iter()
            .any(|(h, p)| *h == host && p.is_none_or(|p| Some(p) == port))
    }
}

fn forbidden(code: &str, message: String) -> Response {
    ApiError::new(StatusCode::FORBIDDEN, code, message).into_response()
}

/// The DNS-rebinding guard and size limit in front of `/mcp`: `Host` must be an allowed name,
/// a browser's `Origin` (when sent) too, and the body must fit `server.max_body_bytes`.
async fn guard(State(g): State<Guard>, req: Request, next: Next) -> Response {
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .or_else(|| req.uri().authority().map(|a| a.to_string()));
    match host {
        Some(h) if g.allows(&h) => {}
        Some(h) => {
            return forbidden(
                "host_not_allowed",
                format!("Host {h:?} is not allowed on /mcp; add it to server.allowed_hosts"),
            );
        }
        None => {
            return forbidden(
                "host_not_allowed",
                "a Host header is required on /mcp".into(),
            );
        }
    }
    if let Some(origin) = req.headers().get(header::ORIGIN) {
        let o = origin.to_str().unwrap_or("");
        let authority = o
            .split_once("://")
            .map(|(_, rest)| rest.split('/').next().unwrap_or(""));
        if !authority.is_some_and(|a| g.allows(a)) {
            return forbidden(
                "origin_not_allowed",
                format!(
                    "Origin {o:?} is not allowed on /mcp; add its host to server.allowed_hosts"
                ),
            );
        }
    }
    let too_big = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
        .is_some_and(|n| n > g.max_body);
    if too_big {
        return ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!(
                "the request body is larger than {} bytes (server.max_body_bytes)",
                g.max_body
            ),
        )
        .into_response();
    }
    next.run(req).await
}

/// `/mcp`: MCP over streamable HTTP (sessions kept in memory), behind the Host/Origin guard.
/// Bearer-token auth is the router's, as for every other route. `shutdown` ends the sessions
/// (and their open event streams) so a graceful stop is not held up by idle clients.
pub fn router(state: SharedState, shutdown: CancellationToken) -> Router<SharedState> {
    let hosts = state.config.allowed_hosts();
    let max_body = state.config.server.max_body_bytes;
    let config = StreamableHttpServerConfig::default()
        // The SDK's own check, on the same list, backs up ours.
        .with_allowed_hosts(hosts.clone())
        .with_max_request_body_bytes(max_body)
        .with_cancellation_token(shutdown);
    let st = state.clone();
    let service = StreamableHttpService::new(
        move || Ok(QuerypadMcp::new(st.clone())),
        Arc::new(LocalSessionManager::default()),
        config,
    );
    Router::new()
        .route_service("/mcp", service)
        .layer(axum::middleware::from_fn_with_state(
            Guard::new(&hosts, max_body),
            guard,
        ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_tool_has_an_object_schema_and_database_tools_take_a_connection() {
        let tools = tool_list();
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
        for t in &tools[1..] {
            assert_eq!(t.input_schema["required"][0], "connection", "{}", t.name);
            assert_eq!(
                t.input_schema["properties"]["connection"]["type"],
                "integer"
            );
        }
        assert_eq!(
            tools[4].input_schema["required"],
            json!(["connection", "sql"])
        );
    }

    #[test]
    fn arguments_are_checked_against_the_schema() {
        let tools = tool_list();
        let describe = &tools[2].input_schema;
        let args = |v: Value| as_object(v);
        assert!(check_args(describe, &args(json!({"connection": 1, "table": "Album"}))).is_ok());
        let e = check_args(describe, &args(json!({"connection": 1}))).unwrap_err();
        assert_eq!(
            (e.code.as_str(), e.message.as_str()),
            ("invalid_fields", "table is required")
        );
        let e =
            check_args(describe, &args(json!({"connection": "one", "table": "x"}))).unwrap_err();
        assert_eq!(e.message, "connection must be an integer");
        let e = check_args(
            describe,
            &args(json!({"connection": 1, "table": "x", "t": 1})),
        )
        .unwrap_err();
        assert!(
            e.message.starts_with("unknown argument \"t\""),
            "{}",
            e.message
        );
        let run = &tools[4].input_schema;
        let e = check_args(
            run,
            &args(json!({"connection": 1, "sql": "x", "max_rows": 0})),
        )
        .unwrap_err();
        assert_eq!(e.message, "max_rows must be from 1 to 1000");
    }

    #[test]
    fn hosts_match_by_name_and_optional_port() {
        let g = Guard::new(
            &[
                "127.0.0.1".into(),
                "localhost".into(),
                "[::1]".into(),
                "db.example:8443".into(),
            ],
            1024,
        );
        assert!(g.allows("127.0.0.1:8000"));
        assert!(g.allows("LOCALHOST"));
        assert!(g.allows("[::1]:9"));
        assert!(g.allows("db.example:8443"));
        assert!(!g.allows("db.example:8000"));
        assert!(!g.allows("evil.example"));
        assert!(!g.allows("127.0.0.1.evil.example:8000"));
    }
}
