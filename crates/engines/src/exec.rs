//! Query execution types: options in, a stream of row batches out.
//!
//! # How values become JSON
//!
//! Every engine follows the same rules, so a result looks the same whichever database ran it:
//!
//! | Database value | JSON |
//! |---|---|
//! | NULL | `null` |
//! | integers (`int2/4/8`, `TINYINT`…`BIGINT [UNSIGNED]`, `YEAR`, SQLite `INTEGER`) | number within ±(2^53−1), else a string of the exact digits (`"9007199254740993"`) |
//! | `real` / `double` / `FLOAT` / `DOUBLE` / SQLite `REAL` | number; `NaN`, `Infinity`, `-Infinity` as strings |
//! | `numeric` / `DECIMAL` / `money` | string exactly as the database printed it (`"12.50"`) |
//! | PostgreSQL `bool` | `true` / `false` |
//! | MySQL `BOOLEAN` / `TINYINT(1)` | number (`0` / `1`): MySQL has no real boolean type |
//! | `json` / `jsonb` / MySQL `JSON` | the parsed JSON value (MariaDB's `JSON` is `LONGTEXT`: a string) |
//! | `timestamp`, `timestamptz`, `DATETIME`, `TIMESTAMP` | ISO-8601 string: `2024-01-02T03:04:05+00:00` (PostgreSQL sessions run in UTC, MySQL sessions at `+00:00`) |
//! | `date`, `time`, `timetz`, `interval`, `TIME` | string as printed (`2024-01-02`, `03:04:05`, `1 day 02:00:00`) |
//! | `bytea`, `BLOB`, `BINARY`, `VARBINARY`, `GEOMETRY`, SQLite `BLOB` | base64 string (standard alphabet, padded) |
//! | MySQL `BIT(n)` | number (up to 64 bits; beyond 2^53 a string) |
//! | PostgreSQL arrays | nested JSON arrays, elements mapped by these rules (`box[]` and arrays with explicit bounds stay strings) |
//! | `uuid`, text types, enums, `inet`, ranges, composite and everything else | string as printed |
//!
//! SQLite values are mapped by each value's storage class (`INTEGER`, `REAL`, `TEXT`, `BLOB`),
//! since its columns accept any type; dates stored as text stay text.
//!
//! [`ColumnMeta::db_type`] is the database's own type name: PostgreSQL's internal names in lower
//! case (`int4`, `numeric`, `timestamptz`, `text[]`, user types as named), MySQL's protocol type
//! (`BIGINT`, `DECIMAL`, `VARCHAR`, `BOOLEAN` for `TINYINT(1)`), SQLite's declared column type
//! (`NVARCHAR(200)`), empty for expressions.

use crate::EngineError;
use serde::{Deserialize, Serialize};
use std::time::Duration;
use tokio::time::Instant;

/// Limits for one statement.
#[derive(Debug, Clone, Copy)]
pub struct QueryOptions {
    /// Rows to deliver at most; when more exist the stream ends with `truncated: true`.
    pub max_rows: usize,
    /// Statement timeout enforced by the database (PostgreSQL `statement_timeout`, MySQL
    /// `max_execution_time` / MariaDB `max_statement_time`, SQLite progress handler).
    pub statement_timeout: Duration,
    /// The caller's deadline: when it passes, the statement is cancelled on the server and
    /// the stream yields [`EngineError::Timeout`]. The effective timeout is the smaller one.
    pub deadline: Instant,
}

/// A result column: its name and the database's own type name (e.g. `int4`, `NUMERIC`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ColumnMeta {
    /// Column name as the database reports it.
    pub name: String,
    /// Type name as the database reports it; empty when unknown (SQLite expressions).
    pub db_type: String,
}

/// One item of a [`RowStream`].
#[derive(Debug)]
pub enum StreamItem {
    /// Some rows; each row has one JSON value per column. Integers within ±(2^53−1), floats,
    /// booleans and JSON are JSON; larger integers and decimals are strings; dates and times are
    /// ISO-8601 strings; NULL is null; binary is base64.
    Rows(Vec<Vec<serde_json::Value>>),
    /// The end: how many rows were delivered, whether more existed, statement time, and
    /// rows affected for statements that do not return rows.
    End {
        /// Rows delivered.
        row_count: u64,
        /// Whether the row cap cut the result.
        truncated: bool,
        /// Wall time from start of execution to the end of the stream.
        elapsed: Duration,
        /// Rows affected (writes), when the engine reports it.
        rows_affected: Option<u64>,
    },
}

/// Rows of a running statement. Dropping it before the end cancels the statement on the server.
pub struct RowStream {
    /// Result columns (known before the first row, also for empty results where the engine
    /// can tell).
    pub columns: Vec<ColumnMeta>,
    pub(crate) rx: tokio::sync::mpsc::Receiver<Result<StreamItem, EngineError>>,
    pub(crate) done: bool,
}

impl RowStream {
    /// The next item; `None` after `End` or an error.
    pub async fn next(&mut self) -> Option<Result<StreamItem, EngineError>> {
        if self.done {
            return None;
        }
        let item = self.rx.recv().await;
        match &item {
            Some(Ok(StreamItem::End { .. })) | Some(Err(_)) | None => self.done = true,
            _ => {}
        }
        match item {
            Some(x) => Some(x),
            None => Some(Err(EngineError::Other(
                "the query worker stopped without a result".into(),
            ))),
        }
    }

    /// Collects everything into memory (fine for capped previews; use [`RowStream::next`] to stream).
    pub async fn collect(mut self) -> Result<ResultSet, EngineError> {
        let mut rows = Vec::new();
        while let Some(item) = self.next().await {
            match item? {
                StreamItem::Rows(mut batch) => rows.append(&mut batch),
                StreamItem::End {
                    row_count,
                    truncated,
                    elapsed,
                    rows_affected,
                } => {
                    return Ok(ResultSet {
                        columns: std::mem::take(&mut self.columns),
                        rows,
                        row_count,
                        truncated,
                        elapsed_ms: elapsed.as_secs_f64() * 1000.0,
                        rows_affected,
                    });
                }
            }
        }
        Err(EngineError::Other(
            "the query ended without a summary".into(),
        ))
    }
}

/// A whole (capped) result in memory.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ResultSet {
    /// Result columns.
    pub columns: Vec<ColumnMeta>,
    /// Rows, one JSON value per column.
    pub rows: Vec<Vec<serde_json::Value>>,
    /// Rows delivered.
    pub row_count: u64,
    /// Whether the row cap cut the result.
    pub truncated: bool,
    /// Statement time in milliseconds.
    pub elapsed_ms: f64,
    /// Rows affected, for writes.
    pub rows_affected: Option<u64>,
}
