//! A tiny forward-only migration runner: numbered SQL scripts embedded in the binary, each
//! applied once inside its own transaction. (sqlx's `migrate!` needs its macros crate, which
//! would compile every database driver a second time; this is 30 lines.)

use crate::StoreError;
use sqlx::SqlitePool;

const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("migrations/0001_initial.sql")),
    (2, include_str!("migrations/0002_runs.sql")),
];

/// The newest schema version this build knows.
pub(crate) const LATEST: i64 = 2;

pub(crate) async fn apply(pool: &SqlitePool) -> Result<(), StoreError> {
    sqlx::raw_sql(
        "CREATE TABLE IF NOT EXISTS _migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')))",
    )
    .execute(pool)
    .await?;
    let current: Option<i64> = sqlx::query_scalar("SELECT max(version) FROM _migrations")
        .fetch_one(pool)
        .await?;
    let current = current.unwrap_or(0);
    if current > LATEST {
        return Err(StoreError::Invalid(format!(
            "the metadata database is at schema version {current}, newer than this build ({LATEST}); upgrade querypad"
        )));
    }
    for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > current) {
        let mut tx = pool.begin().await?;
        sqlx::raw_sql(sqlx::AssertSqlSafe(*sql))
            .execute(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO _migrations (version) VALUES (?)")
            .bind(version)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        tracing::info!(version, "applied metadata migration");
    }
    Ok(())
}
