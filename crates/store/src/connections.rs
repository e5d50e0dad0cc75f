//! Connection records. The password is sealed before it is written and only ever leaves the
//! store through [`crate::Store::connection_password`], which the server uses to connect.

use crate::{Store, StoreError};
use serde::Serialize;
use sqlx::Row;

/// A stored connection as the API shows it: everything but the password.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Connection {
    /// Identifier.
    pub id: i64,
    /// Unique display name.
    pub name: String,
    /// `sqlite`, `postgres` or `mysql`.
    pub kind: String,
    /// Server host.
    pub host: Option<String>,
    /// Server port.
    pub port: Option<u16>,
    /// Database name.
    pub database: Option<String>,
    /// User name.
    pub username: Option<String>,
    /// Whether a password is stored (the password itself is write-only).
    pub has_password: bool,
    /// SQLite file path.
    pub path: Option<String>,
    /// TLS mode (libpq names).
    pub tls_mode: String,
    /// Whether statements may write.
    pub allow_writes: bool,
    /// Creation time (UTC, ISO-8601).
    pub created_at: String,
    /// Last update time (UTC, ISO-8601).
    pub updated_at: String,
}

/// Fields of a new connection, already validated by the caller.
#[derive(Debug, Clone, Default)]
pub struct NewConnection {
    /// Unique display name.
    pub name: String,
    /// `sqlite`, `postgres` or `mysql`.
    pub kind: String,
    /// Server host.
    pub host: Option<String>,
    /// Server port.
    pub port: Option<u16>,
    /// Database name.
    pub database: Option<String>,
    /// User name.
    pub username: Option<String>,
    /// Password in clear; sealed before it is written.
    pub password: Option<String>,
    /// SQLite file path.
    pub path: Option<String>,
    /// TLS mode.
    pub tls_mode: String,
    /// Whether statements may write.
    pub allow_writes: bool,
}

/// A partial update: `None` keeps a field; `Some(None)` clears a nullable one.
#[derive(Debug, Clone, Default)]
pub struct ConnectionPatch {
    /// New name.
    pub name: Option<String>,
    /// New host.
    pub host: Option<Option<String>>,
    /// New port.
    pub port: Option<Option<u16>>,
    /// New database.
    pub database: Option<Option<String>>,
    /// New user name.
    pub username: Option<Option<String>>,
    /// New password (`Some(None)` removes it).
    pub password: Option<Option<String>>,
    /// New path.
    pub path: Option<Option<String>>,
    /// New TLS mode.
    pub tls_mode: Option<String>,
    /// New write permission.
    pub allow_writes: Option<bool>,
}

const COLUMNS: &str = "id, name, kind, host, port, database, username, password_enc IS NOT NULL AS has_password, path, tls_mode, allow_writes, created_at, updated_at";

fn from_row(row: &sqlx::sqlite::SqliteRow) -> Result<Connection, StoreError> {
    let port: Option<i64> = row.try_get("port")?;
    Ok(Connection {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        kind: row.try_get("kind")?,
        host: row.try_get("host")?,
        port: port.and_then(|p| u16::try_from(p).ok()),
        database: row.try_get("database")?,
        username: row.try_get("username")?,
        has_password: row.try_get("has_password")?,
        path: row.try_get("path")?,
        tls_mode: row.try_get("tls_mode")?,
        allow_writes: row.try_get("allow_writes")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

impl Store {
    /// Lists connections by id.
    pub async fn list_connections(&self) -> Result<Vec<Connection>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM connections ORDER BY id"
        )))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(from_row).collect()
    }

    /// One connection, or `NotFound`.
    pub async fn get_connection(&self, id: i64) -> Result<Connection, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM connections WHERE id = ?"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound {
            what: "connection",
            id,
        })?;
        from_row(&row)
    }

    /// The decrypted password, for connecting only. Never put it in a response or a log.
    pub async fn connection_password(&self, id: i64) -> Result<Option<String>, StoreError> {
        let sealed: Option<Option<Vec<u8>>> =
            sqlx::query_scalar("SELECT password_enc FROM connections WHERE id = ?")
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
        match sealed {
            None => Err(StoreError::NotFound {
                what: "connection",
                id,
            }),
            Some(None) => Ok(None),
            Some(Some(bytes)) => self.secrets.open(&bytes).map(Some),
        }
    }

    /// Inserts a connection; a taken name is `Conflict`.
    pub async fn create_connection(&self, c: NewConnection) -> Result<Connection, StoreError> {
        let _w = self.writer.lock().await;
        let sealed = c
            .password
            .as_deref()
            .map(|p| self.secrets.seal(p))
            .transpose()?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO connections (name, kind, host, port, database, username, password_enc, path, tls_mode, allow_writes) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        )
        .bind(&c.name)
        .bind(&c.kind)
        .bind(&c.host)
        .bind(c.port.map(i64::from))
        .bind(&c.database)
        .bind(&c.username)
        .bind(sealed)
        .bind(&c.path)
        .bind(&c.tls_mode)
        .bind(c.allow_writes)
        .fetch_one(&self.pool)
        .await
        .map_err(|e| StoreError::from_write(e, &format!("a connection named {:?} already exists", c.name)))?;
        self.get_connection(id).await
    }

    /// Applies a partial update in one transaction.
    pub async fn update_connection(
        &self,
        id: i64,
        p: ConnectionPatch,
    ) -> Result<Connection, StoreError> {
        let _w = self.writer.lock().await;
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let exists: Option<i64> = sqlx::query_scalar("SELECT id FROM connections WHERE id = ?")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
        if exists.is_none() {
            return Err(StoreError::NotFound {
                what: "connection",
                id,
            });
        }
        let conflict = format!(
            "a connection named {:?} already exists",
            p.name.clone().unwrap_or_default()
        );
        macro_rules! set {
            ($col:literal, $val:expr) => {
                sqlx::query(concat!(
                    "UPDATE connections SET ",
                    $col,
                    " = ? WHERE id = ?"
                ))
                .bind($val)
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(|e| StoreError::from_write(e, &conflict))?;
            };
        }
        if let Some(v) = p.name {
            set!("name", v);
        }
        if let Some(v) = p.host {
            set!("host", v);
        }
        if let Some(v) = p.port {
            set!("port", v.map(i64::from));
        }
        if let Some(v) = p.database {
            set!("database", v);
        }
        if let Some(v) = p.username {
            set!("username", v);
        }
        if let Some(v) = p.password {
            let sealed = v.as_deref().map(|p| self.secrets.seal(p)).transpose()?;
            set!("password_enc", sealed);
        }
        if let Some(v) = p.path {
            set!("path", v);
        }
        if let Some(v) = p.tls_mode {
            set!("tls_mode", v);
        }
        if let Some(v) = p.allow_writes {
            set!("allow_writes", v);
        }
        sqlx::query("UPDATE connections SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = ?")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        self.get_connection(id).await
    }

    /// Deletes a connection; notebooks and cells that used it keep existing without one.
    pub async fn delete_connection(&self, id: i64) -> Result<(), StoreError> {
        let _w = self.writer.lock().await;
        let done = sqlx::query("DELETE FROM connections WHERE id = ?")
            .bind(id)
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound {
                what: "connection",
                id,
            });
        }
        Ok(())
    }
}
