//! How a connection is described: engine kind, address, credentials, TLS and write permission.

use crate::EngineError;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Engine family. `Mysql` covers MySQL and MariaDB (told apart by `VERSION()` at run time).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// A SQLite file.
    Sqlite,
    /// PostgreSQL.
    Postgres,
    /// MySQL or MariaDB.
    Mysql,
}

/// TLS mode, named as in libpq; mapped to the closest MySQL `ssl-mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TlsMode {
    /// Never use TLS.
    Disable,
    /// TLS when the server offers it (the default, as in libpq).
    #[default]
    Prefer,
    /// TLS required, certificate not verified.
    Require,
    /// TLS required, certificate chain verified.
    VerifyCa,
    /// TLS required, chain and host name verified.
    VerifyFull,
}

/// Everything needed to open a user database. The password is held here only in memory; the
/// store keeps it encrypted, and `Debug` prints `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct ConnectSpec {
    /// Engine family.
    pub kind: Kind,
    /// Host name or address (servers only).
    pub host: Option<String>,
    /// TCP port (servers only); the engine's default when `None`.
    pub port: Option<u16>,
    /// Database name (servers only).
    pub database: Option<String>,
    /// User name (servers only).
    pub username: Option<String>,
    /// Password (servers only). Never logged, never returned.
    pub password: Option<String>,
    /// File path (SQLite only).
    pub path: Option<String>,
    /// TLS mode (servers only).
    pub tls: TlsMode,
    /// Whether statements may write. When false the session itself is read-only.
    pub allow_writes: bool,
}

impl std::fmt::Debug for ConnectSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectSpec")
            .field("kind", &self.kind)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("database", &self.database)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("path", &self.path)
            .field("tls", &self.tls)
            .field("allow_writes", &self.allow_writes)
            .finish()
    }
}

impl ConnectSpec {
    /// Parses `postgres://user:pass@host:port/db?sslmode=require`, `mysql://…`, `mariadb://…`
    /// or `sqlite:///abs/path` / `sqlite://relative/path` / `sqlite:path`. Percent-encoded user
    /// and password are decoded. Errors never echo the password.
    pub fn from_url(url: &str) -> Result<ConnectSpec, EngineError> {
        crate::spec_url::parse(url)
    }
}

/// Pool and timeout settings applied to every connection of a [`crate::Database`].
#[derive(Debug, Clone, Copy)]
pub struct PoolSettings {
    /// Maximum open connections per user database.
    pub max_connections: u32,
    /// How long to wait for a TCP connect + handshake before reporting the server unreachable.
    pub connect_timeout: Duration,
    /// How long a caller may wait for a free pooled connection.
    pub acquire_timeout: Duration,
}

impl Default for PoolSettings {
    fn default() -> Self {
        PoolSettings {
            max_connections: 5,
            connect_timeout: Duration::from_secs(5),
            acquire_timeout: Duration::from_secs(10),
        }
    }
}
