//! Querypad's own metadata: connections, notebooks, cells and API tokens, kept in SQLite.
//!
//! Why it is its own crate: the HTTP layer should never write SQL for its own tables, and the
//! durability rules (WAL, `synchronous=FULL`, migrations in transactions, encrypted passwords)
//! live in one place that a test can hold to them.

mod connections;
mod crypto;
mod error;
mod group_commit;
mod migrate;
mod notebooks;
mod runs;
mod tokens;

pub use connections::{Connection, ConnectionPatch, NewConnection};
pub use crypto::SecretBox;
pub use error::StoreError;
pub use group_commit::{AnswerCell, FinishedRun, PendingWrite};
pub use notebooks::{Cell, CellKind, CellPatch, NewCell, Notebook, NotebookPatch};
pub use runs::{NewRun, RunRecord};
pub use tokens::{ApiToken, NewToken};

use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use std::path::Path;
use std::time::Duration;

/// Handle to the metadata database. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    pool: SqlitePool,
    secrets: SecretBox,
    /// Serialises this process's write transactions. SQLite allows one writer at a time; letting
    /// writers queue here (FIFO, no polling) instead of in SQLite's busy handler (which sleeps
    /// and retries) keeps write latency flat when thousands of runs finish together.
    writer: std::sync::Arc<tokio::sync::Mutex<()>>,
    /// The batched writes of runs and notebook queries (one fsync for many).
    commits: group_commit::GroupCommit,
}

impl Store {
    /// Opens (creating if needed) the metadata database at `path`, applies pending migrations,
    /// and keeps `secrets` for encrypting stored database passwords.
    ///
    /// WAL with `synchronous=FULL`: a write acknowledged to a client survives `kill -9` and power
    /// loss; readers never block the writer.
    pub async fn open(path: &Path, secrets: SecretBox) -> Result<Store, StoreError> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(30))
            // In-process connections do not go stale; testing each acquire costs a round trip
            // to the connection's thread on every read and write.
            .test_before_acquire(false)
            .connect_with(options)
            .await?;
        migrate::apply(&pool).await?;
        let writer: std::sync::Arc<tokio::sync::Mutex<()>> = Default::default();
        Ok(Store {
            commits: group_commit::GroupCommit::start(pool.clone(), writer.clone()),
            pool,
            secrets,
            writer,
        })
    }

    /// Checks the database answers and migrations are applied (for `/readyz` and the watchdog).
    pub async fn health(&self) -> Result<(), StoreError> {
        let version: i64 = sqlx::query_scalar("SELECT max(version) FROM _migrations")
            .fetch_one(&self.pool)
            .await?;
        if version < migrate::LATEST {
            return Err(StoreError::Invalid(format!(
                "metadata schema at version {version}, expected {}",
                migrate::LATEST
            )));
        }
        Ok(())
    }

    /// Reads a value from the key/value `meta` table.
    pub async fn meta_get(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(sqlx::query_scalar("SELECT value FROM meta WHERE key = ?")
            .bind(key)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// Writes a value to the key/value `meta` table.
    pub async fn meta_set(&self, key: &str, value: &str) -> Result<(), StoreError> {
        let _w = self.writer.lock().await;
        sqlx::query("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value")
            .bind(key)
            .bind(value)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Closes the pool, checkpointing the WAL.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}
