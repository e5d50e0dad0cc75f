//! Helpers shared by the engine integration tests.
#![allow(dead_code, reason = "each test binary uses a different subset")]

use querypad_engines::{ConnectSpec, Database, EngineError, PoolSettings, QueryOptions, ResultSet};
use std::time::Duration;
use tokio::time::Instant;

/// Options with a row cap, a statement timeout and a generous deadline.
pub fn opts(max_rows: usize, statement_timeout: Duration) -> QueryOptions {
    QueryOptions {
        max_rows,
        statement_timeout,
        deadline: Instant::now() + statement_timeout + Duration::from_secs(60),
    }
}

/// Default test options: 10k rows, 30 s.
pub fn default_opts() -> QueryOptions {
    opts(10_000, Duration::from_secs(30))
}

/// A database from a URL.
pub async fn open(url: &str, allow_writes: bool) -> Database {
    open_with(url, allow_writes, PoolSettings::default()).await
}

/// A database from a URL with pool settings.
pub async fn open_with(url: &str, allow_writes: bool, settings: PoolSettings) -> Database {
    let mut spec = ConnectSpec::from_url(url).expect("valid url");
    spec.allow_writes = allow_writes;
    Database::connect(spec, settings).await.expect("connect")
}

/// A SQLite database on a file path.
pub async fn open_sqlite(path: &std::path::Path, allow_writes: bool) -> Database {
    let mut spec = ConnectSpec::from_url(&format!("sqlite://{}", path.display())).expect("url");
    spec.allow_writes = allow_writes;
    Database::connect(spec, PoolSettings::default())
        .await
        .expect("connect")
}

/// Runs a statement and collects the whole result (errors from `query` or from the stream).
pub async fn run(db: &Database, sql: &str, opts: QueryOptions) -> Result<ResultSet, EngineError> {
    db.query(sql, opts).await?.collect().await
}

/// Runs a statement that must succeed.
pub async fn ok(db: &Database, sql: &str) -> ResultSet {
    match run(db, sql, default_opts()).await {
        Ok(rs) => rs,
        Err(e) => panic!("`{sql}` failed: {e:?}"),
    }
}

/// The single value of a one-row, one-column result.
pub async fn scalar(db: &Database, sql: &str) -> serde_json::Value {
    let rs = ok(db, sql).await;
    assert_eq!(rs.rows.len(), 1, "{sql}: {rs:?}");
    rs.rows[0][0].clone()
}

/// A unique marker for SQL text (to find a statement in the server's process list).
pub fn marker() -> String {
    format!("qpmark{}", querypad_testkit::unique())
}

/// Polls `check` every 100 ms until it returns true or `limit` passes.
pub async fn eventually<F, Fut>(limit: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let until = Instant::now() + limit;
    loop {
        if check().await {
            return true;
        }
        if Instant::now() >= until {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
