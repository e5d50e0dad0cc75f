//! The database tools, defined once: offered to LLMs that support tool use and served to MCP
//! clients, so the two never drift. Each tool has a name, a description written for a model, a
//! JSON Schema for its input, and one handler.

use crate::context::{quote_ident, quoted_table_ref, table_ref};
use crate::exec;
use querypad_engines::{Catalog, Database, TableInfo};
use querypad_llm::ToolSpec;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// What a tool call may touch.
#[derive(Clone)]
pub struct ToolContext {
    /// The user database.
    pub db: Database,
    /// Its cached schema.
    pub catalog: Arc<Catalog>,
    /// Statement timeout.
    pub statement_timeout: Duration,
    /// The caller's deadline.
    pub deadline: Instant,
    /// Row cap for `run_query`.
    pub max_rows: usize,
}

/// Why a tool call failed; codes match the HTTP API's.
#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    /// No such tool.
    #[error("unknown tool {0:?}")]
    UnknownTool(String),
    /// An argument is missing or of the wrong type.
    #[error("invalid argument: {0}")]
    BadArgument(String),
    /// The table is not in the schema.
    #[error("unknown table {0:?}; call list_tables to see the tables")]
    UnknownTable(String),
    /// The SQL was refused or failed.
    #[error(transparent)]
    Exec(#[from] exec::ExecError),
}

impl ToolError {
    /// Stable code.
    pub fn code(&self) -> &'static str {
        match self {
            ToolError::UnknownTool(_) => "unknown_tool",
            ToolError::BadArgument(_) => "invalid_fields",
            ToolError::UnknownTable(_) => "table_not_found",
            ToolError::Exec(e) => e.code(),
        }
    }
}

/// A tool's definition.
pub struct ToolDef {
    /// Name.
    pub name: &'static str,
    /// Description for a model.
    pub description: &'static str,
    /// Input schema builder.
    pub schema: fn() -> Value,
}

/// The database tools, in the order they are offered.
pub const DATABASE_TOOLS: &[ToolDef] = &[
    ToolDef {
        name: "list_tables",
        description: "List the tables and views of the database with their row estimates.",
        schema: || json!({"type": "object", "properties": {}, "additionalProperties": false}),
    },
    ToolDef {
        name: "describe_table",
        description: "Describe one table: columns with types and nullability, primary and foreign keys, and a few sample rows.",
        schema: || {
            json!({
                "type": "object",
                "properties": {"table": {"type": "string", "description": "Table name as listed by list_tables"}},
                "required": ["table"],
                "additionalProperties": false
            })
        },
    },
    ToolDef {
        name: "sample_values",
        description: "Distinct values of one column (up to 20), to get filter values exactly right (spelling, case).",
        schema: || {
            json!({
                "type": "object",
                "properties": {
                    "table": {"type": "string"},
                    "column": {"type": "string"}
                },
                "required": ["table", "column"],
                "additionalProperties": false
            })
        },
    },
    ToolDef {
        name: "run_query",
        description: "Run one read-only SQL statement and return its columns and rows (capped).",
        schema: || {
            json!({
                "type": "object",
                "properties": {
                    "sql": {"type": "string"},
                    "max_rows": {"type": "integer", "minimum": 1, "maximum": 1000}
                },
                "required": ["sql"],
                "additionalProperties": false
            })
        },
    },
];

/// Specs for the given tool names (unknown names skipped).
pub fn specs(names: &[&str]) -> Vec<ToolSpec> {
    DATABASE_TOOLS
        .iter()
        .filter(|t| names.contains(&t.name))
        .map(|t| ToolSpec {
            name: t.name.into(),
            description: t.description.into(),
            input_schema: (t.schema)(),
        })
        .collect()
}

fn find_table<'a>(catalog: &'a Catalog, name: &str) -> Option<&'a TableInfo> {
    let wanted = name.trim().trim_matches(|c| c == '"' || c == '`');
    catalog
        .tables
        .iter()
        .find(|t| table_ref(t) == wanted || t.name == wanted)
        .or_else(|| {
            catalog.tables.iter().find(|t| {
                table_ref(t).eq_ignore_ascii_case(wanted) || t.name.eq_ignore_ascii_case(wanted)
            })
        })
}

fn str_arg<'a>(input: &'a Value, key: &str) -> Result<&'a str, ToolError> {
    input
        .get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| ToolError::BadArgument(format!("{key} must be a string")))
}

/// Calls tool `name` with `input`.
pub async fn call(name: &str, input: &Value, ctx: &ToolContext) -> Result<Value, ToolError> {
    match name {
        "list_tables" => Ok(json!({
            "tables": ctx.catalog.tables.iter().map(|t| json!({
                "name": table_ref(t),
                "kind": t.kind,
                "row_estimate": t.row_estimate,
                "columns": t.columns.len(),
            })).collect::<Vec<_>>()
        })),
        "describe_table" => {
            let table = str_arg(input, "table")?;
            let t = find_table(&ctx.catalog, table)
                .ok_or_else(|| ToolError::UnknownTable(table.into()))?;
            let sql = format!(
                "SELECT * FROM {} LIMIT 3",
                quoted_table_ref(ctx.db.kind(), t)
            );
            let sample = run_sql(ctx, &sql, 3).await.ok();
            Ok(json!({
                "name": table_ref(t),
                "kind": t.kind,
                "columns": t.columns,
                "primary_key": t.primary_key,
                "foreign_keys": t.foreign_keys,
                "row_estimate": t.row_estimate,
                "sample_rows": sample.map(|r| r.rows),
            }))
        }
        "sample_values" => {
            let table = str_arg(input, "table")?;
            let column = str_arg(input, "column")?;
            let t = find_table(&ctx.catalog, table)
                .ok_or_else(|| ToolError::UnknownTable(table.into()))?;
            let col = t
                .columns
                .iter()
                .find(|c| c.name.eq_ignore_ascii_case(column))
                .ok_or_else(|| {
                    ToolError::BadArgument(format!(
                        "table {} has no column {column:?}",
                        table_ref(t)
                    ))
                })?;
            let kind = ctx.db.kind();
            let c = quote_ident(kind, &col.name);
            let sql = format!(
                "SELECT DISTINCT {c} FROM {} WHERE {c} IS NOT NULL ORDER BY {c} LIMIT 20",
                quoted_table_ref(kind, t)
            );
            let r = run_sql(ctx, &sql, 20).await?;
            Ok(
                json!({"table": table_ref(t), "column": col.name, "values": r.rows.into_iter().filter_map(|mut row| row.pop()).collect::<Vec<_>>()}),
            )
        }
        "run_query" => {
            let sql = str_arg(input, "sql")?;
            let max_rows = match input.get("max_rows") {
                None | Some(Value::Null) => ctx.max_rows,
                Some(v) => v
                    .as_u64()
                    .filter(|n| (1..=1000).contains(n))
                    .ok_or_else(|| {
                        ToolError::BadArgument("max_rows must be an integer from 1 to 1000".into())
                    })? as usize,
            };
            let r = run_sql(ctx, sql, max_rows).await?;
            Ok(serde_json::to_value(r).unwrap_or(Value::Null))
        }
        other => Err(ToolError::UnknownTool(other.into())),
    }
}

async fn run_sql(
    ctx: &ToolContext,
    sql: &str,
    max_rows: usize,
) -> Result<querypad_engines::ResultSet, ToolError> {
    let checked = exec::check_read_only(&ctx.db, sql, max_rows).map_err(exec::ExecError::from)?;
    exec::run(
        &ctx.db,
        &checked,
        max_rows,
        ctx.statement_timeout,
        ctx.deadline,
    )
    .await
    .map_err(|e| ToolError::Exec(e.into()))
}
