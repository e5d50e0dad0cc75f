//! User databases behind one small API: connect, introspect, run one statement with limits.
//!
//! Why a crate of its own: every path that touches a user's database (manual cells, the agent,
//! MCP tools) must get the same guarantees — a read-only session unless writes were allowed, a
//! statement timeout enforced by the database itself, a row cap, and cancellation *on the
//! server* when the caller's deadline passes or it goes away (sqlx never does that itself).
//! Keeping those in one place means no caller can forget one.
//!
//! CONTRACT (fixed; the server is written against it):
//! - [`ConnectSpec`] describes a connection (fields or [`ConnectSpec::from_url`]); its `Debug`
//!   never shows the password.
//! - [`Database::connect`] builds a lazily-connecting pool; [`Database::ping`] checks it.
//! - [`Database::introspect`] answers a [`Catalog`].
//! - [`Database::query`] runs one statement and returns a [`RowStream`] as soon as the columns are
//!   known; rows arrive in batches through a bounded channel (memory flat in the row count).
//!   Dropping the stream, or the deadline passing, cancels the statement on the server.

pub mod catalog;
pub mod error;
pub mod exec;
pub mod spec;

mod acquire;
mod classify;
mod mysql;
mod postgres;
mod pump;
mod spec_url;
mod sqlite;
mod value;

pub use catalog::{Catalog, ColumnInfo, ForeignKey, TableInfo, TableKind};
pub use error::EngineError;
pub use exec::{ColumnMeta, QueryOptions, ResultSet, RowStream, StreamItem};
pub use spec::{ConnectSpec, Kind, PoolSettings, TlsMode};

use std::time::Duration;

/// What a successful connection test tells a user.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct ServerInfo {
    /// Engine family as the server reports it: `sqlite`, `postgres`, `mysql` or `mariadb`.
    pub flavor: String,
    /// The server's version string, e.g. `15.19` or `10.11.19-MariaDB-0+deb12u1`.
    pub version: String,
    /// Round-trip time of a trivial query, in milliseconds.
    pub rtt_ms: f64,
}

/// Pool figures for metrics and `/readyz`.
#[derive(Debug, Clone, Copy, serde::Serialize, PartialEq, Eq)]
pub struct PoolStatus {
    /// Connections open (idle and in use).
    pub size: u32,
    /// Connections idle.
    pub idle: u32,
}

/// A connected user database: a small pool plus what cancellation needs. Cheap to clone.
#[derive(Clone)]
pub struct Database {
    inner: Backend,
}

#[derive(Clone)]
enum Backend {
    Sqlite(sqlite::SqliteDb),
    Postgres(postgres::PgDb),
    Mysql(mysql::MysqlDb),
}

impl Database {
    /// Builds the pool. Connects lazily, so creating a connection record never blocks on a
    /// network; errors here are only about the spec itself (bad path, bad options).
    pub async fn connect(
        spec: ConnectSpec,
        settings: PoolSettings,
    ) -> Result<Database, EngineError> {
        let inner = match spec.kind {
            Kind::Sqlite => Backend::Sqlite(sqlite::SqliteDb::connect(spec, settings).await?),
            Kind::Postgres => Backend::Postgres(postgres::PgDb::connect(spec, settings)?),
            Kind::Mysql => Backend::Mysql(mysql::MysqlDb::connect(spec, settings)?),
        };
        Ok(Database { inner })
    }

    /// The engine kind, which picks the SQL dialect for parsing and quoting.
    pub fn kind(&self) -> Kind {
        match &self.inner {
            Backend::Sqlite(_) => Kind::Sqlite,
            Backend::Postgres(_) => Kind::Postgres,
            Backend::Mysql(_) => Kind::Mysql,
        }
    }

    /// Opens (or reuses) a connection and reports the server version and round-trip time,
    /// failing with a classified error (unreachable, auth, unknown database) within `timeout`.
    pub async fn ping(&self, timeout: Duration) -> Result<ServerInfo, EngineError> {
        match &self.inner {
            Backend::Sqlite(db) => db.ping(timeout).await,
            Backend::Postgres(db) => db.ping(timeout).await,
            Backend::Mysql(db) => db.ping(timeout).await,
        }
    }

    /// Reads tables and views, columns with types and nullability, primary and foreign keys,
    /// and row estimates (from statistics, never a full count).
    pub async fn introspect(&self, timeout: Duration) -> Result<Catalog, EngineError> {
        match &self.inner {
            Backend::Sqlite(db) => db.introspect(timeout).await,
            Backend::Postgres(db) => db.introspect(timeout).await,
            Backend::Mysql(db) => db.introspect(timeout).await,
        }
    }

    /// Runs one statement (already checked by `sqlcheck`) inside a read-only session unless the
    /// connection allows writes. Returns once the columns are known or the statement failed.
    pub async fn query(&self, sql: &str, opts: QueryOptions) -> Result<RowStream, EngineError> {
        match &self.inner {
            Backend::Sqlite(db) => db.query(sql, opts).await,
            Backend::Postgres(db) => db.query(sql, opts).await,
            Backend::Mysql(db) => db.query(sql, opts).await,
        }
    }

    /// Pool figures for metrics.
    pub fn pool_status(&self) -> PoolStatus {
        match &self.inner {
            Backend::Sqlite(db) => db.pool_status(),
            Backend::Postgres(db) => db.pool_status(),
            Backend::Mysql(db) => db.pool_status(),
        }
    }

    /// Closes the pool (on connection update or delete).
    pub async fn close(&self) {
        match &self.inner {
            Backend::Sqlite(db) => db.close().await,
            Backend::Postgres(db) => db.close().await,
            Backend::Mysql(db) => db.close().await,
        }
    }
}
