//! SQLite: a lazy pool over one file, opened read-only with `query_only` and no `ATTACH` unless
//! writes are allowed, each statement bounded by a progress handler.
//!
//! Why a progress handler: SQLite runs in-process, so there is no server to ask; the handler
//! SQLite calls every few thousand VM steps returns "stop" once the time limit passes or the
//! worker raises its cancel flag, and SQLite interrupts the statement.

mod ffi;
mod introspect;
mod values;

use crate::acquire::{self, AcquireError};
use crate::classify::{Dialect, classify};
use crate::pump::{self, Budget, Outcome, Reply};
use crate::{
    Catalog, ConnectSpec, EngineError, PoolSettings, PoolStatus, QueryOptions, RowStream,
    ServerInfo,
};
use sqlx::pool::PoolConnection;
use sqlx::sqlite::{
    LockedSqliteHandle, Sqlite, SqliteConnectOptions, SqliteConnection, SqlitePool,
    SqlitePoolOptions, SqliteQueryResult,
};
use sqlx::{AssertSqlSafe, ConnectOptions, Row, SqlSafeStr};
use std::future::Pending;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::time::{Instant, timeout, timeout_at};
use values::SqliteShaper;

/// VM instructions between two progress-handler calls (a few microseconds of work).
const PROGRESS_STEPS: i32 = 4000;
/// Extra time for the progress handler to stop a statement before the worker gives up on it.
const HANDLER_GRACE: Duration = Duration::from_millis(250);

/// A SQLite file.
#[derive(Clone)]
pub(crate) struct SqliteDb {
    inner: Arc<Inner>,
}

struct Inner {
    pool: SqlitePool,
    settings: PoolSettings,
    allow_writes: bool,
}

impl SqliteDb {
    /// Builds the lazy pool; fails only when the spec has no path. A missing file is reported by
    /// the first ping or query as [`EngineError::UnknownDatabase`] (it is never created).
    pub(crate) async fn connect(
        spec: ConnectSpec,
        settings: PoolSettings,
    ) -> Result<SqliteDb, EngineError> {
        let Some(path) = spec.path.as_deref().filter(|p| !p.trim().is_empty()) else {
            return Err(EngineError::InvalidSpec(
                "a SQLite connection needs a file path".into(),
            ));
        };
        let allow_writes = spec.allow_writes;
        let mut opts = SqliteConnectOptions::new()
            .filename(path)
            .read_only(!allow_writes)
            .create_if_missing(false)
            .disable_statement_logging();
        if !allow_writes {
            opts = opts.pragma("query_only", "1");
        }
        let pool = SqlitePoolOptions::new()
            .max_connections(settings.max_connections.max(1))
            .acquire_timeout(settings.acquire_timeout)
            // An in-process connection cannot go stale like a network one; the test would be
            // one more round trip to the connection's thread per query.
            .test_before_acquire(false)
            .idle_timeout(Some(Duration::from_secs(300)))
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if !allow_writes {
                        let mut handle = conn.lock_handle().await?;
                        ffi::lock_down(&mut handle);
                    }
                    Ok(())
                })
            })
            .connect_lazy_with(opts);
        Ok(SqliteDb {
            inner: Arc::new(Inner {
                pool,
                settings,
                allow_writes,
            }),
        })
    }

    /// SQLite's version and the time of a trivial query, within `limit`.
    pub(crate) async fn ping(&self, limit: Duration) -> Result<ServerInfo, EngineError> {
        let deadline = Instant::now() + limit;
        let work = async {
            let mut conn = self.inner.acquire(deadline).await.map_err(|e| match e {
                AcquireError::Limit => EngineError::PoolExhausted,
                AcquireError::Failed(e) => e,
            })?;
            let started = Instant::now();
            let row = sqlx::raw_sql("SELECT sqlite_version()")
                .fetch_one(&mut *conn)
                .await
                .map_err(|e| classify(Dialect::Sqlite, e, 0))?;
            let rtt_ms = started.elapsed().as_secs_f64() * 1000.0;
            let version: String = row
                .try_get_unchecked(0)
                .map_err(|e| EngineError::Other(format!("reading the SQLite version: {e}")))?;
            Ok(ServerInfo {
                flavor: "sqlite".into(),
                version,
                rtt_ms,
            })
        };
        match timeout_at(deadline, work).await {
            Ok(r) => r,
            Err(_) => Err(EngineError::Unreachable(format!(
                "the database did not answer within {} ms",
                limit.as_millis()
            ))),
        }
    }

    /// The catalog, within `limit`.
    pub(crate) async fn introspect(&self, limit: Duration) -> Result<Catalog, EngineError> {
        let deadline = Instant::now() + limit;
        let ms = limit.as_millis() as u64;
        let mut conn = self.inner.acquire(deadline).await.map_err(|e| match e {
            AcquireError::Limit => EngineError::Timeout(ms),
            AcquireError::Failed(e) => e,
        })?;
        let stop = Arc::new(AtomicBool::new(false));
        let armed = match conn.lock_handle().await {
            Ok(mut handle) => {
                arm(&mut handle, &stop, deadline, false);
                Ok(())
            }
            Err(e) => Err(classify(Dialect::Sqlite, e, 0)),
        };
        if let Err(e) = armed {
            drop(conn.detach());
            return Err(e);
        }
        let result = timeout_at(deadline + HANDLER_GRACE, introspect::read(&mut conn)).await;
        let result = match result {
            Ok(r) => r.map_err(|e| classify(Dialect::Sqlite, e, ms)),
            Err(_) => Err(EngineError::Timeout(ms)),
        };
        if disarm(&mut conn).await.is_err() {
            drop(conn.detach());
        }
        result
    }

    /// Runs one statement in a worker task; see [`crate::Database::query`].
    pub(crate) async fn query(
        &self,
        sql: &str,
        opts: QueryOptions,
    ) -> Result<RowStream, EngineError> {
        let inner = self.inner.clone();
        let sql: Arc<str> = Arc::from(sql);
        pump::start(move |reply| run(inner, sql, opts, reply)).await
    }

    /// Pool figures.
    pub(crate) fn pool_status(&self) -> PoolStatus {
        PoolStatus {
            size: self.inner.pool.size(),
            idle: self.inner.pool.num_idle() as u32,
        }
    }

    /// Closes the pool: new queries fail at once; idle connections are closed, and connections
    /// still streaming are closed when their statement ends (waiting at most a few seconds here).
    pub(crate) async fn close(&self) {
        let _ = timeout(pump::CLEANUP_TIMEOUT, self.inner.pool.close()).await;
    }
}

impl Inner {
    async fn acquire(&self, deadline: Instant) -> Result<PoolConnection<Sqlite>, AcquireError> {
        // Opening a file fails at once with a clear error: no probe needed.
        acquire::pooled(
            &self.pool,
            deadline,
            Dialect::Sqlite,
            None::<Pending<EngineError>>,
        )
        .await
    }
}

/// Installs the progress handler that interrupts the connection's statements once `stop_at`
/// passes or `stop` is raised, and (read-only) re-asserts the lock-down.
fn arm(
    handle: &mut LockedSqliteHandle<'_>,
    stop: &Arc<AtomicBool>,
    stop_at: Instant,
    lock_down: bool,
) {
    let stop = stop.clone();
    let stop_at = stop_at.into_std();
    handle.set_progress_handler(PROGRESS_STEPS, move || {
        !stop.load(Ordering::Relaxed) && std::time::Instant::now() < stop_at
    });
    if lock_down {
        ffi::lock_down(handle);
    }
}

/// Removes the progress handler and rolls back a transaction a statement left open, so the
/// connection goes back to the pool as it came.
async fn disarm(conn: &mut SqliteConnection) -> Result<(), EngineError> {
    let open = {
        let mut handle = conn
            .lock_handle()
            .await
            .map_err(|e| classify(Dialect::Sqlite, e, 0))?;
        handle.remove_progress_handler();
        ffi::in_transaction(&mut handle)
    };
    if open {
        match timeout(
            pump::CLEANUP_TIMEOUT,
            sqlx::raw_sql("ROLLBACK").execute(&mut *conn),
        )
        .await
        {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => return Err(classify(Dialect::Sqlite, e, 0)),
            Err(_) => return Err(EngineError::Other("ROLLBACK did not finish in time".into())),
        }
    }
    Ok(())
}

/// The worker: acquire, arm the handler, describe (columns), stream rows, disarm, report.
async fn run(inner: Arc<Inner>, sql: Arc<str>, opts: QueryOptions, mut reply: Reply) {
    let started = Instant::now();
    let expired = || {
        EngineError::Timeout(pump::expired_ms(
            opts.statement_timeout,
            opts.deadline,
            started,
        ))
    };

    // 1. A connection, by the deadline or the acquire timeout.
    let acquired = reply
        .acquire(
            &opts,
            started,
            inner.settings.acquire_timeout,
            HANDLER_GRACE,
            |limit| inner.acquire(limit),
        )
        .await;
    let mut conn = match acquired {
        Ok(conn) => conn,
        Err(Some(e)) => return reply.fail(e).await,
        Err(None) => return,
    };
    let Some(budget) = Budget::from_now(opts.statement_timeout, opts.deadline) else {
        return reply.fail(expired()).await;
    };
    let local_stop = budget.stop_at + HANDLER_GRACE;

    // 2. The progress handler, then the columns (prepared without running; one statement only).
    let stop = Arc::new(AtomicBool::new(false));
    // One lock of the handle for both: each lock is a round trip to the connection's thread.
    let described = async {
        let mut handle = conn
            .lock_handle()
            .await
            .map_err(|e| classify(Dialect::Sqlite, e, 0))?;
        arm(&mut handle, &stop, budget.stop_at, !inner.allow_writes);
        ffi::describe(&mut handle, &sql, budget.ms)
    }
    .await;
    let columns = match described {
        Ok(columns) => columns,
        Err(e) => {
            if disarm(&mut conn).await.is_err() {
                drop(conn.detach());
            }
            return reply.fail(e).await;
        }
    };
    let has_columns = !columns.is_empty();
    if reply.send_columns(columns).is_err() {
        if disarm(&mut conn).await.is_err() {
            drop(conn.detach());
        }
        return;
    }

    // 3. Execute and stream the rows.
    let exec_started = Instant::now();
    let mut stream = sqlx::raw_sql(AssertSqlSafe(sql).into_sql_str()).fetch_many(&mut *conn);
    let pumped = pump::pump(
        &mut stream,
        &mut SqliteShaper,
        SqliteQueryResult::rows_affected,
        |e| classify(Dialect::Sqlite, e, budget.ms),
        &mut reply,
        opts.max_rows,
        local_stop,
    )
    .await;
    let settled = pump::settle(&mut stream, &pumped.outcome, || async {
        stop.store(true, Ordering::Relaxed);
    })
    .await;
    drop(stream);

    // 4. Put the connection back as it came (or drop it).
    let disarmed = if settled.synced {
        disarm(&mut conn).await
    } else {
        Err(EngineError::Other(
            "the statement did not stop after interruption".into(),
        ))
    };
    if disarmed.is_err() {
        drop(conn.detach());
    } else {
        drop(conn);
    }
    let succeeded = matches!(pumped.outcome, Outcome::Done | Outcome::Truncated);
    let cleanup = if inner.allow_writes && succeeded && settled.cancelled {
        Err(EngineError::Query(
            "the statement was stopped at the row limit before it finished, so its changes were \
             rolled back"
                .into(),
        ))
    } else {
        Ok(())
    };
    pump::report(reply, pumped, has_columns, exec_started, budget.ms, cleanup).await;
}
