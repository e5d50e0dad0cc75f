//! One pool per user connection, created on first use and dropped when the connection changes,
//! plus the cached schema of each (introspection is slow on big databases; `?refresh=true`
//! re-reads it).

use crate::error::ApiError;
use crate::time::now_iso;
use querypad_engines::{Catalog, ConnectSpec, Database, Kind, PoolSettings, TlsMode};
use querypad_store::{Connection, Store};
use serde::Serialize;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Mutex;

/// A schema read at a known time.
#[derive(Debug, Serialize)]
pub struct CachedCatalog {
    /// When it was read (UTC).
    pub fetched_at: String,
    /// The schema.
    #[serde(flatten)]
    pub catalog: Catalog,
}

struct Entry {
    db: Database,
    catalog: Option<Arc<CachedCatalog>>,
}

/// The registry.
pub struct Databases {
    entries: Mutex<HashMap<i64, Entry>>,
    settings: PoolSettings,
}

/// Builds the engine's connection description from a stored record and its password.
pub fn spec_for(conn: &Connection, password: Option<String>) -> Result<ConnectSpec, ApiError> {
    let kind = parse_kind(&conn.kind)?;
    let tls = parse_tls(&conn.tls_mode)?;
    Ok(ConnectSpec {
        kind,
        host: conn.host.clone(),
        port: conn.port,
        database: conn.database.clone(),
        username: conn.username.clone(),
        password,
        path: conn.path.clone(),
        tls,
        allow_writes: conn.allow_writes,
    })
}

/// Parses a kind name as the API spells it.
pub fn parse_kind(s: &str) -> Result<Kind, ApiError> {
    match s {
        "sqlite" => Ok(Kind::Sqlite),
        "postgres" | "postgresql" => Ok(Kind::Postgres),
        "mysql" | "mariadb" => Ok(Kind::Mysql),
        other => Err(ApiError::invalid(format!(
            "kind must be one of sqlite, postgres, mysql; got {other:?}"
        ))),
    }
}

/// Parses a TLS mode as the API spells it.
pub fn parse_tls(s: &str) -> Result<TlsMode, ApiError> {
    serde_json::from_value(serde_json::Value::String(s.to_string())).map_err(|_| {
        ApiError::invalid(format!(
            "tls_mode must be one of disable, prefer, require, verify-ca, verify-full; got {s:?}"
        ))
    })
}

/// The API spelling of a TLS mode.
pub fn tls_name(t: TlsMode) -> String {
    serde_json::to_value(t)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| "prefer".into())
}

/// The API spelling of a kind.
pub fn kind_name(k: Kind) -> &'static str {
    match k {
        Kind::Sqlite => "sqlite",
        Kind::Postgres => "postgres",
        Kind::Mysql => "mysql",
    }
}

impl Databases {
    /// An empty registry using `settings` for every pool.
    pub fn new(settings: PoolSettings) -> Databases {
        Databases {
            entries: Mutex::new(HashMap::new()),
            settings,
        }
    }

    /// The pool for `conn`, creating it on first use.
    pub async fn get(&self, store: &Store, conn: &Connection) -> Result<Database, ApiError> {
        if let Some(e) = self.entries.lock().await.get(&conn.id) {
            return Ok(e.db.clone());
        }
        let password = store.connection_password(conn.id).await?;
        let spec = spec_for(conn, password)?;
        let db = Database::connect(spec, self.settings)
            .await
            .map_err(|e| ApiError::from(e).for_connection(conn.id, &conn.name))?;
        let mut entries = self.entries.lock().await;
        let entry = entries
            .entry(conn.id)
            .or_insert(Entry { db, catalog: None });
        Ok(entry.db.clone())
    }

    /// Drops the pool and cached schema of a changed or deleted connection.
    pub async fn invalidate(&self, id: i64) {
        let removed = self.entries.lock().await.remove(&id);
        if let Some(e) = removed {
            e.db.close().await;
        }
    }

    /// The cached schema, read on first use or when `refresh` is set.
    pub async fn catalog(
        &self,
        store: &Store,
        conn: &Connection,
        refresh: bool,
        timeout: Duration,
    ) -> Result<Arc<CachedCatalog>, ApiError> {
        if !refresh
            && let Some(Entry {
                catalog: Some(c), ..
            }) = self.entries.lock().await.get(&conn.id)
        {
            return Ok(c.clone());
        }
        let db = self.get(store, conn).await?;
        let catalog = db
            .introspect(timeout)
            .await
            .map_err(|e| ApiError::from(e).for_connection(conn.id, &conn.name))?;
        let cached = Arc::new(CachedCatalog {
            fetched_at: now_iso(),
            catalog,
        });
        if let Some(e) = self.entries.lock().await.get_mut(&conn.id) {
            e.catalog = Some(cached.clone());
        }
        Ok(cached)
    }

    /// Pool figures by connection id, for metrics.
    pub async fn pool_statuses(&self) -> Vec<(i64, querypad_engines::PoolStatus)> {
        self.entries
            .lock()
            .await
            .iter()
            .map(|(id, e)| (*id, e.db.pool_status()))
            .collect()
    }

    /// Closes every pool (shutdown).
    pub async fn close_all(&self) {
        let entries: Vec<Entry> = self.entries.lock().await.drain().map(|(_, e)| e).collect();
        for e in entries {
            e.db.close().await;
        }
    }
}
