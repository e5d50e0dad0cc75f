//! One pool per user connection, created on first use and dropped when the connection changes,
//! plus the cached schema of each (introspection is slow on big databases; `?refresh=true`
//! re-reads it).

use crate::error::ApiError;
use crate::time::now_iso;
use querypad_agent::{ValueIndex, ValueLimits};
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
    /// The schema, shared by every run that uses it (never deep-copied per run).
    #[serde(flatten)]
    pub catalog: Arc<Catalog>,
}

struct Entry {
    db: Database,
    catalog: Option<Arc<CachedCatalog>>,
    /// Sampled column values: built in the background on first use, dropped when the schema
    /// is re-read.
    values: Option<ValuesSlot>,
}

/// A value index being sampled, or ready.
enum ValuesSlot {
    Building(tokio::sync::watch::Receiver<Option<Arc<ValueIndex>>>),
    Ready(Arc<ValueIndex>),
}

/// How long sampling values may take in the background (it never holds up a run longer than
/// the caller's wait).
const VALUES_BUILD_BUDGET: Duration = Duration::from_secs(30);

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
        let entry = entries.entry(conn.id).or_insert(Entry {
            db,
            catalog: None,
            values: None,
        });
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
            catalog: Arc::new(catalog),
        });
        if let Some(e) = self.entries.lock().await.get_mut(&conn.id) {
            e.catalog = Some(cached.clone());
            e.values = None;
        }
        Ok(cached)
    }

    /// The value index of a connection (distinct short text values per column, for schema
    /// linking and the built-in generator). The first call starts sampling in the background
    /// and waits for it until `wait_until`; the index is then kept until the schema is re-read,
    /// so both describe the same database. `None` while it is not ready.
    pub async fn values(
        &self,
        conn_id: i64,
        catalog: &Catalog,
        wait_until: tokio::time::Instant,
    ) -> Option<Arc<ValueIndex>> {
        let mut rx = {
            let mut entries = self.entries.lock().await;
            let e = entries.get_mut(&conn_id)?;
            match &e.values {
                Some(ValuesSlot::Ready(v)) => return Some(v.clone()),
                Some(ValuesSlot::Building(rx)) => {
                    let ready = rx.borrow().clone();
                    if let Some(v) = ready {
                        e.values = Some(ValuesSlot::Ready(v.clone()));
                        return Some(v);
                    }
                    rx.clone()
                }
                None => {
                    let (tx, rx) = tokio::sync::watch::channel(None);
                    let db = e.db.clone();
                    let catalog = catalog.clone();
                    tokio::spawn(async move {
                        let deadline = tokio::time::Instant::now() + VALUES_BUILD_BUDGET;
                        let built =
                            ValueIndex::build(&db, &catalog, ValueLimits::default(), deadline)
                                .await;
                        tracing::debug!(
                            conn_id,
                            values = built.len(),
                            complete = built.complete,
                            ms = built.build_ms,
                            "value index built"
                        );
                        let _ = tx.send(Some(Arc::new(built)));
                    });
                    e.values = Some(ValuesSlot::Building(rx.clone()));
                    rx
                }
            }
        };
        let ready = tokio::time::timeout_at(wait_until, rx.wait_for(Option::is_some)).await;
        match ready {
            Ok(Ok(v)) => v.clone(),
            _ => None,
        }
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
