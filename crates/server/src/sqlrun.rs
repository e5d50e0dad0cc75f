//! Running SQL for a client: check it, run it under the request's deadline, and stream the
//! result as JSON while it is read (memory stays flat however many rows there are).
//!
//! Body shape: `{"connection_id","sql","limit_added","columns":[…],"rows":[[…],…],
//! "row_count","truncated","elapsed_ms","rows_affected"}`. Errors found before the first byte
//! get the error contract with a proper status; an error after rows have been sent (a timeout
//! mid-stream) ends the body with an `"error":{"code","message"}` member instead, since the
//! status line is already gone.

use crate::error::ApiError;
use crate::state::SharedState;
use axum::body::Body;
use axum::body::Bytes;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use querypad_engines::{Kind, QueryOptions, RowStream, StreamItem};
use querypad_sqlcheck::{Checked, Dialect, Policy};
use querypad_store::Connection;
use std::time::Instant as StdInstant;
use tokio::time::Instant;

/// A statement that passed the checks and has started.
pub struct Started {
    /// The connection it runs on.
    pub connection: Connection,
    /// The checked SQL.
    pub checked: Checked,
    /// Its rows.
    pub stream: RowStream,
    /// The first item, read before answering so that an error before any row gets its own
    /// status code instead of a 200 with an error member.
    first: Option<StreamItem>,
    started: StdInstant,
}

/// What to do when the stream ends.
pub enum OnFinish {
    /// Nothing.
    Nothing,
    /// Record the run's summary on a cell.
    CellSummary {
        /// The cell.
        cell_id: i64,
    },
}

/// The SQL dialect for an engine kind.
pub fn dialect(kind: Kind) -> Dialect {
    match kind {
        Kind::Sqlite => Dialect::Sqlite,
        Kind::Postgres => Dialect::Postgres,
        Kind::Mysql => Dialect::Mysql,
    }
}

/// Resolves `max_rows` against the configured default and limit.
pub fn row_cap(state: &SharedState, requested: Option<usize>) -> Result<usize, ApiError> {
    let limit = state.config.database.max_rows_limit;
    match requested {
        None => Ok(state.config.database.default_max_rows),
        Some(0) => Err(ApiError::invalid("max_rows must be at least 1")),
        Some(n) if n > limit => Err(ApiError::invalid(format!(
            "max_rows must be at most {limit} (database.max_rows_limit)"
        ))),
        Some(n) => Ok(n),
    }
}

/// Checks and starts `sql` on connection `connection_id`.
pub async fn start(
    state: &SharedState,
    connection_id: i64,
    sql: &str,
    max_rows: usize,
    deadline: Instant,
) -> Result<Started, ApiError> {
    let connection = state.store.get_connection(connection_id).await?;
    let db = state.databases.get(&state.store, &connection).await?;
    let policy = Policy {
        allow_writes: connection.allow_writes,
        max_rows: Some(max_rows as u64),
    };
    let checked = querypad_sqlcheck::check(sql, dialect(db.kind()), &policy)?;
    let started = StdInstant::now();
    let opts = QueryOptions {
        max_rows,
        statement_timeout: state.config.query_timeout(),
        deadline,
    };
    let for_conn = |e| ApiError::from(e).for_connection(connection.id, &connection.name);
    let mut stream = db.query(&checked.sql, opts).await.map_err(for_conn)?;
    let first = match stream.next().await {
        Some(Ok(item)) => Some(item),
        Some(Err(e)) => return Err(for_conn(e)),
        None => None,
    };
    Ok(Started {
        connection,
        checked,
        stream,
        first,
        started,
    })
}

enum Phase {
    Head,
    Body,
    Done,
}

struct Streamer {
    state: SharedState,
    run: Started,
    phase: Phase,
    first_row: bool,
    rows: u64,
    on_finish: OnFinish,
}

impl Streamer {
    async fn next_chunk(&mut self) -> Option<Bytes> {
        match self.phase {
            Phase::Done => None,
            Phase::Head => {
                self.phase = Phase::Body;
                let mut buf = Vec::with_capacity(256);
                buf.extend_from_slice(b"{\"connection_id\":");
                buf.extend_from_slice(self.run.connection.id.to_string().as_bytes());
                buf.extend_from_slice(b",\"sql\":");
                write_json(&mut buf, &self.run.checked.sql);
                buf.extend_from_slice(b",\"limit_added\":");
                buf.extend_from_slice(if self.run.checked.limit_added {
                    b"true"
                } else {
                    b"false"
                });
                buf.extend_from_slice(b",\"columns\":");
                write_json(&mut buf, &self.run.stream.columns);
                buf.extend_from_slice(b",\"rows\":[");
                Some(Bytes::from(buf))
            }
            Phase::Body => {
                let item = match self.run.first.take() {
                    Some(first) => Some(Ok(first)),
                    None => self.run.stream.next().await,
                };
                let mut buf = Vec::new();
                match item {
                    Some(Ok(StreamItem::Rows(rows))) => {
                        buf.reserve(rows.len() * 64);
                        for row in &rows {
                            if !self.first_row {
                                buf.push(b',');
                            }
                            self.first_row = false;
                            write_json(&mut buf, row);
                        }
                        self.rows += rows.len() as u64;
                    }
                    Some(Ok(StreamItem::End {
                        row_count,
                        truncated,
                        elapsed,
                        rows_affected,
                    })) => {
                        self.phase = Phase::Done;
                        let elapsed_ms = elapsed.as_secs_f64() * 1000.0;
                        let tail = serde_json::json!({
                            "row_count": row_count,
                            "truncated": truncated,
                            "elapsed_ms": elapsed_ms,
                            "rows_affected": rows_affected,
                        });
                        self.finish(serde_json::json!({
                            "row_count": row_count, "truncated": truncated,
                            "elapsed_ms": elapsed_ms, "error": null,
                        }))
                        .await;
                        buf.extend_from_slice(b"],");
                        append_members(&mut buf, &tail);
                    }
                    Some(Err(e)) => {
                        self.phase = Phase::Done;
                        let err = ApiError::from(e)
                            .for_connection(self.run.connection.id, &self.run.connection.name);
                        let elapsed_ms = self.run.started.elapsed().as_secs_f64() * 1000.0;
                        self.finish(serde_json::json!({
                            "row_count": self.rows, "truncated": false, "elapsed_ms": elapsed_ms,
                            "error": {"code": err.code, "message": err.message},
                        }))
                        .await;
                        let tail = serde_json::json!({
                            "row_count": self.rows,
                            "truncated": false,
                            "elapsed_ms": elapsed_ms,
                            "error": {"code": err.code, "message": err.message},
                        });
                        buf.extend_from_slice(b"],");
                        append_members(&mut buf, &tail);
                    }
                    None => {
                        self.phase = Phase::Done;
                        buf.extend_from_slice(b"]}");
                    }
                }
                Some(Bytes::from(buf))
            }
        }
    }

    async fn finish(&mut self, mut summary: serde_json::Value) {
        tracing::info!(
            connection_id = self.run.connection.id,
            rows = %summary["row_count"],
            elapsed_ms = %summary["elapsed_ms"],
            error = %summary["error"],
            "statement finished"
        );
        if let OnFinish::CellSummary { cell_id } = self.on_finish {
            summary["ran_at"] = serde_json::Value::String(crate::time::now_iso());
            summary["connection_id"] = self.run.connection.id.into();
            if let Err(e) = self.state.store.set_cell_last_run(cell_id, &summary).await {
                tracing::error!(cell_id, error = %e, "could not record the cell's run summary");
            }
        }
    }
}

fn write_json<T: serde::Serialize + ?Sized>(buf: &mut Vec<u8>, v: &T) {
    if serde_json::to_writer(&mut *buf, v).is_err() {
        buf.extend_from_slice(b"null");
    }
}

/// Writes the members of a JSON object (without its opening brace) and the closing brace.
fn append_members(buf: &mut Vec<u8>, obj: &serde_json::Value) {
    let text = obj.to_string();
    buf.extend_from_slice(text.trim_start_matches('{').as_bytes());
}

/// Streams a started statement as the response body.
pub fn respond(state: SharedState, run: Started, on_finish: OnFinish) -> Response {
    let streamer = Streamer {
        state,
        run,
        phase: Phase::Head,
        first_row: true,
        rows: 0,
        on_finish,
    };
    let body = futures_util::stream::unfold(streamer, |mut s| async move {
        s.next_chunk()
            .await
            .map(|chunk| (Ok::<_, std::convert::Infallible>(chunk), s))
    });
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        Body::from_stream(body),
    )
        .into_response()
}

/// Records a failure to start on a cell, then passes the error on.
pub async fn record_start_failure(state: &SharedState, cell_id: i64, err: ApiError) -> ApiError {
    let summary = serde_json::json!({
        "ran_at": crate::time::now_iso(), "row_count": 0, "truncated": false, "elapsed_ms": 0.0,
        "error": {"code": err.code, "message": err.message},
    });
    if let Err(e) = state.store.set_cell_last_run(cell_id, &summary).await {
        tracing::error!(cell_id, error = %e, "could not record the cell's run summary");
    }
    err
}
