//! Running generated SQL: always the read-only check first, then the engine with the statement
//! timeout and the run's deadline. Shared by the loop and the `run_query` tool so both carry the
//! same guarantees.

use querypad_engines::{Database, EngineError, QueryOptions, ResultSet};
use querypad_sqlcheck::{CheckError, Checked, Dialect, Policy};
use std::time::Duration;
use tokio::time::Instant;

/// Why generated SQL did not produce rows.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    /// Refused before running.
    #[error(transparent)]
    Check(#[from] CheckError),
    /// Failed on the database.
    #[error(transparent)]
    Engine(#[from] EngineError),
}

impl ExecError {
    /// Stable code (the API's error codes).
    pub fn code(&self) -> &'static str {
        match self {
            ExecError::Check(e) => e.code(),
            ExecError::Engine(e) => e.code(),
        }
    }
}

/// The dialect for an engine kind.
pub fn dialect(kind: querypad_engines::Kind) -> Dialect {
    match kind {
        querypad_engines::Kind::Sqlite => Dialect::Sqlite,
        querypad_engines::Kind::Postgres => Dialect::Postgres,
        querypad_engines::Kind::Mysql => Dialect::Mysql,
    }
}

/// Checks `sql` as read-only (whatever the connection allows: generated SQL never writes) and
/// returns the checked form.
pub fn check_read_only(db: &Database, sql: &str, max_rows: usize) -> Result<Checked, CheckError> {
    querypad_sqlcheck::check(
        sql,
        dialect(db.kind()),
        &Policy {
            allow_writes: false,
            max_rows: Some(max_rows as u64),
        },
    )
}

/// Runs checked SQL and collects at most `max_rows` rows.
pub async fn run(
    db: &Database,
    checked: &Checked,
    max_rows: usize,
    statement_timeout: Duration,
    deadline: Instant,
) -> Result<ResultSet, EngineError> {
    let opts = QueryOptions {
        max_rows,
        statement_timeout,
        deadline,
    };
    db.query(&checked.sql, opts).await?.collect().await
}
