//! Shared helpers of the agent's integration tests: opening databases read-only with their
//! schema and value index, as the server does.

#![allow(dead_code)]

use querypad_agent::eval::EvalTarget;
use querypad_agent::{ValueIndex, ValueLimits};
use querypad_engines::{ConnectSpec, Database, Kind, PoolSettings, TlsMode};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// Opens a SQLite file read-only with its catalog and value index.
pub async fn sqlite_target(path: &Path) -> EvalTarget {
    let spec = ConnectSpec {
        kind: Kind::Sqlite,
        host: None,
        port: None,
        database: None,
        username: None,
        password: None,
        path: Some(path.display().to_string()),
        tls: TlsMode::Disable,
        allow_writes: false,
    };
    target(spec).await
}

/// Opens a database from a URL read-only with its catalog and value index.
pub async fn url_target(url: &str) -> EvalTarget {
    let spec = ConnectSpec::from_url(url).expect("valid URL");
    target(spec).await
}

async fn target(mut spec: ConnectSpec) -> EvalTarget {
    spec.allow_writes = false;
    let what = format!("{:?}", spec.database.as_deref().or(spec.path.as_deref()));
    let db = Database::connect(spec, PoolSettings::default())
        .await
        .expect("connect");
    let catalog = db.introspect(Duration::from_secs(20)).await.unwrap_or_else(|e| {
        panic!("cannot read the schema of {what}: {e} (PostgreSQL defog databases: run scripts/load-defog.sh)")
    });
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let values = ValueIndex::build(&db, &catalog, ValueLimits::default(), deadline).await;
    EvalTarget {
        db,
        catalog: Arc::new(catalog),
        values: Some(Arc::new(values)),
    }
}

/// The agent crate's test data folder.
pub fn data(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}
