//! PostgreSQL: a lazy pool whose statements each run in their own (read-only unless allowed)
//! transaction with `SET LOCAL statement_timeout`, cancelled with `pg_cancel_backend` when needed.
//!
//! Why a transaction per statement: `BEGIN READ ONLY` is enforced by the server whatever the
//! statement does (side-effecting functions included), and rolling back at the end also undoes
//! any session-level `SET` the statement made, so nothing leaks to the next query on the same
//! pooled connection. Read-only pools also start sessions with `default_transaction_read_only`.

mod introspect;
mod values;

use crate::acquire::{self, AcquireError};
use crate::classify::{Dialect, classify};
use crate::pump::{self, Budget, Halt, Outcome, Reply};
use crate::{
    Catalog, ColumnMeta, ConnectSpec, EngineError, PoolSettings, PoolStatus, QueryOptions,
    RowStream, ServerInfo, TlsMode,
};
use sqlx::pool::PoolConnection;
use sqlx::postgres::{
    PgConnectOptions, PgConnection, PgPool, PgPoolOptions, PgQueryResult, PgSslMode,
};
use sqlx::{
    AssertSqlSafe, Column, ConnectOptions, Connection, Executor, Postgres, Row, SqlSafeStr,
    Statement,
};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::{Instant, timeout, timeout_at};
use values::{PgShaper, kind_of, type_name};

/// Extra time the server's own `statement_timeout` gets before we cancel from outside.
const SERVER_GRACE: Duration = Duration::from_millis(250);

/// A PostgreSQL database: pool, options for out-of-pool connections, and settings.
#[derive(Clone)]
pub(crate) struct PgDb {
    inner: Arc<Inner>,
}

struct Inner {
    pool: PgPool,
    opts: PgConnectOptions,
    settings: PoolSettings,
    allow_writes: bool,
    password: Option<String>,
}

fn ssl_mode(tls: TlsMode) -> PgSslMode {
    match tls {
        TlsMode::Disable => PgSslMode::Disable,
        TlsMode::Prefer => PgSslMode::Prefer,
        TlsMode::Require => PgSslMode::Require,
        TlsMode::VerifyCa => PgSslMode::VerifyCa,
        TlsMode::VerifyFull => PgSslMode::VerifyFull,
    }
}

impl PgDb {
    /// Builds the lazy pool; fails only on an unusable spec.
    pub(crate) fn connect(spec: ConnectSpec, settings: PoolSettings) -> Result<PgDb, EngineError> {
        let host = spec
            .host
            .as_deref()
            .filter(|h| !h.is_empty())
            .unwrap_or("localhost");
        let mut opts = PgConnectOptions::new_without_pgpass()
            .host(host)
            .port(spec.port.unwrap_or(5432))
            .ssl_mode(ssl_mode(spec.tls))
            .application_name("querypad")
            .disable_statement_logging();
        if let Some(user) = spec.username.as_deref().filter(|u| !u.is_empty()) {
            opts = opts.username(user);
        }
        if let Some(password) = spec.password.as_deref() {
            opts = opts.password(password);
        }
        if let Some(database) = spec.database.as_deref().filter(|d| !d.is_empty()) {
            opts = opts.database(database);
        }
        let mut startup = vec![
            ("bytea_output", "hex"),
            // A session stuck inside one of our transactions is ended by the server.
            ("idle_in_transaction_session_timeout", "300000"),
        ];
        if !spec.allow_writes {
            startup.push(("default_transaction_read_only", "on"));
        }
        opts = opts.options(startup);
        let pool = PgPoolOptions::new()
            .max_connections(settings.max_connections.max(1))
            .acquire_timeout(settings.acquire_timeout)
            .idle_timeout(Some(Duration::from_secs(300)))
            .connect_lazy_with(opts.clone());
        Ok(PgDb {
            inner: Arc::new(Inner {
                pool,
                opts,
                settings,
                allow_writes: spec.allow_writes,
                password: spec.password,
            }),
        })
    }

    /// Version and round-trip time, within `limit`.
    pub(crate) async fn ping(&self, limit: Duration) -> Result<ServerInfo, EngineError> {
        let inner = &self.inner;
        let deadline = Instant::now() + limit;
        let work = async {
            let pool = &inner.pool;
            if pool.size() >= pool.options().get_max_connections() && pool.num_idle() == 0 {
                // Every pooled connection is busy: test with a fresh one instead of waiting.
                let mut conn = acquire::direct(&inner.opts, limit, Dialect::Postgres).await?;
                let info = server_info(&mut conn).await;
                let _ = conn.close().await;
                return info;
            }
            let mut conn = inner.acquire(deadline, limit).await.map_err(|e| match e {
                AcquireError::Limit => no_answer(limit),
                AcquireError::Failed(e) => e,
            })?;
            match timeout_at(deadline, server_info(&mut conn)).await {
                Ok(info) => info,
                Err(_) => {
                    drop(conn.detach());
                    Err(no_answer(limit))
                }
            }
        };
        match timeout_at(deadline, work).await {
            Ok(r) => r.map_err(|e| e.redact(inner.password.as_deref())),
            Err(_) => Err(no_answer(limit)),
        }
    }

    /// The catalog, within `limit`.
    pub(crate) async fn introspect(&self, limit: Duration) -> Result<Catalog, EngineError> {
        let inner = &self.inner;
        let deadline = Instant::now() + limit;
        let ms = limit.as_millis() as u64;
        let mut conn = inner.acquire(deadline, limit).await.map_err(|e| match e {
            AcquireError::Limit => EngineError::Timeout(ms),
            AcquireError::Failed(e) => e.redact(inner.password.as_deref()),
        })?;
        let result = timeout_at(deadline, introspect::read(&mut conn, ms.max(1))).await;
        match result {
            Ok(Ok(catalog)) => match end_transaction(&mut conn, false).await {
                Ok(()) => Ok(catalog),
                Err(_) => {
                    drop(conn.detach());
                    Ok(catalog)
                }
            },
            Ok(Err(e)) => {
                if end_transaction(&mut conn, false).await.is_err() {
                    drop(conn.detach());
                }
                Err(classify(Dialect::Postgres, e, ms).redact(inner.password.as_deref()))
            }
            Err(_) => {
                drop(conn.detach());
                Err(EngineError::Timeout(ms))
            }
        }
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

fn no_answer(limit: Duration) -> EngineError {
    EngineError::Unreachable(format!(
        "no answer from the server within {} ms",
        limit.as_millis()
    ))
}

impl Inner {
    /// A pooled connection by `deadline`, probing directly when the pool is empty.
    async fn acquire(
        &self,
        deadline: Instant,
        probe_limit: Duration,
    ) -> Result<PoolConnection<Postgres>, AcquireError> {
        let probe = acquire::probe(
            self.opts.clone(),
            self.settings.connect_timeout.min(probe_limit),
            Dialect::Postgres,
        );
        acquire::pooled(&self.pool, deadline, Dialect::Postgres, Some(probe)).await
    }

    /// Asks the server, from a fresh connection, to cancel whatever backend `pid` is running.
    async fn cancel(&self, pid: i32) {
        let work = async {
            let mut conn =
                acquire::direct(&self.opts, self.settings.connect_timeout, Dialect::Postgres)
                    .await?;
            sqlx::query("SELECT pg_cancel_backend($1)")
                .bind(pid)
                .execute(&mut conn)
                .await
                .map_err(|e| classify(Dialect::Postgres, e, 0))?;
            let _ = conn.close().await;
            Ok::<(), EngineError>(())
        };
        match timeout(self.settings.connect_timeout + pump::CLEANUP_TIMEOUT, work).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                let e = e.redact(self.password.as_deref());
                tracing::warn!(pid, error = %e, "could not cancel a PostgreSQL statement");
            }
            Err(_) => tracing::warn!(pid, "cancelling a PostgreSQL statement timed out"),
        }
    }
}

async fn server_info(conn: &mut PgConnection) -> Result<ServerInfo, EngineError> {
    let started = Instant::now();
    let row = sqlx::raw_sql("SELECT current_setting('server_version')")
        .fetch_one(&mut *conn)
        .await
        .map_err(|e| classify(Dialect::Postgres, e, 0))?;
    let rtt_ms = started.elapsed().as_secs_f64() * 1000.0;
    let version: String = row
        .try_get_unchecked(0)
        .map_err(|e| EngineError::Other(format!("reading the server version: {e}")))?;
    let version = version
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_owned();
    Ok(ServerInfo {
        flavor: "postgres".into(),
        version,
        rtt_ms,
    })
}

/// Ends the statement's transaction: `COMMIT` when writes are allowed and it succeeded.
async fn end_transaction(conn: &mut PgConnection, commit: bool) -> Result<(), EngineError> {
    let sql = if commit { "COMMIT" } else { "ROLLBACK" };
    match timeout(
        pump::CLEANUP_TIMEOUT,
        sqlx::raw_sql(sql).execute(&mut *conn),
    )
    .await
    {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(classify(Dialect::Postgres, e, 0)),
        Err(_) => Err(EngineError::Other(format!("{sql} did not finish in time"))),
    }
}

/// Leaves a connection whose state is unknown out of the pool (closing it).
fn abandon(conn: PoolConnection<Postgres>) {
    drop(conn.detach());
}

/// The worker: acquire, begin, prepare (columns), stream rows, end, report.
async fn run(inner: Arc<Inner>, sql: Arc<str>, opts: QueryOptions, mut reply: Reply) {
    let started = Instant::now();
    let secret = inner.password.clone();
    let fail = |reply: Reply, e: EngineError| reply.fail(e.redact(secret.as_deref()));
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
            SERVER_GRACE,
            |limit| inner.acquire(limit, inner.settings.connect_timeout),
        )
        .await;
    let mut conn = match acquired {
        Ok(conn) => conn,
        Err(Some(e)) => return fail(reply, e).await,
        Err(None) => return,
    };
    let Some(budget) = Budget::from_now(opts.statement_timeout, opts.deadline) else {
        return fail(reply, expired()).await;
    };
    let local_stop = budget.stop_at + SERVER_GRACE;
    let classify_pg = |e: sqlx::Error| classify(Dialect::Postgres, e, budget.ms);

    // 2. The transaction, its time limit, and the backend pid for cancellation.
    let begin = if inner.allow_writes {
        "BEGIN"
    } else {
        "BEGIN READ ONLY"
    };
    let preamble = format!(
        "{begin}; SET LOCAL statement_timeout = {}; SELECT pg_backend_pid()",
        budget.ms
    );
    let pid = match reply
        .watch(
            local_stop,
            sqlx::raw_sql(AssertSqlSafe(preamble)).fetch_all(&mut *conn),
        )
        .await
    {
        Ok(Ok(rows)) => rows
            .first()
            .and_then(|row| row.try_get_unchecked::<String, _>(0).ok())
            .and_then(|pid| pid.trim().parse::<i32>().ok()),
        Ok(Err(e)) => {
            abandon(conn);
            return fail(reply, classify_pg(e)).await;
        }
        Err(halt) => {
            abandon(conn);
            if halt == Halt::Deadline {
                fail(reply, EngineError::Timeout(budget.ms)).await;
            }
            return;
        }
    };
    let Some(pid) = pid else {
        abandon(conn);
        return fail(
            reply,
            EngineError::Other("could not read the backend process id".into()),
        )
        .await;
    };

    // 3. Prepare: the columns (also for empty results), and a single-statement guarantee (the
    //    extended protocol refuses several statements, so `COMMIT; …` cannot escape).
    let sql_str = AssertSqlSafe(sql).into_sql_str();
    let prepared = reply
        .watch(local_stop, (&mut *conn).prepare(sql_str.clone()))
        .await;
    let (columns, kinds) = match prepared {
        Ok(Ok(stmt)) => {
            let columns: Vec<ColumnMeta> = stmt
                .columns()
                .iter()
                .map(|c| ColumnMeta {
                    name: c.name().to_owned(),
                    db_type: type_name(c.type_info()),
                })
                .collect();
            let kinds = stmt
                .columns()
                .iter()
                .map(|c| kind_of(c.type_info()))
                .collect::<Vec<_>>();
            (columns, kinds)
        }
        Ok(Err(e)) => {
            if end_transaction(&mut conn, false).await.is_err() {
                abandon(conn);
            }
            return fail(reply, classify_pg(e)).await;
        }
        Err(halt) => {
            inner.cancel(pid).await;
            abandon(conn);
            if halt == Halt::Deadline {
                fail(reply, EngineError::Timeout(budget.ms)).await;
            }
            return;
        }
    };
    let has_columns = !columns.is_empty();
    if reply.send_columns(columns).is_err() {
        if end_transaction(&mut conn, false).await.is_err() {
            abandon(conn);
        }
        return;
    }

    // 4. Execute on the simple (text) protocol and stream the rows.
    let exec_started = Instant::now();
    let mut stream = sqlx::raw_sql(sql_str).fetch_many(&mut *conn);
    let mut shaper = PgShaper { kinds };
    let pumped = pump::pump(
        &mut stream,
        &mut shaper,
        PgQueryResult::rows_affected,
        classify_pg,
        &mut reply,
        opts.max_rows,
        local_stop,
    )
    .await;
    let settled = pump::settle(&mut stream, &pumped.outcome, || inner.cancel(pid)).await;
    drop(stream);

    // 5. End the transaction; a connection in an unknown state never goes back to the pool.
    let succeeded = matches!(pumped.outcome, Outcome::Done | Outcome::Truncated);
    let commit = inner.allow_writes && succeeded && !settled.cancelled;
    let ended = if settled.synced {
        end_transaction(&mut conn, commit).await
    } else {
        Err(EngineError::Other(
            "the statement did not stop after cancellation".into(),
        ))
    };
    if ended.is_err() {
        abandon(conn);
    } else {
        drop(conn);
    }
    let cleanup = if inner.allow_writes && succeeded && settled.cancelled {
        Err(EngineError::Query(
            "the statement was stopped at the row limit before it finished, so its changes were \
             rolled back"
                .into(),
        ))
    } else if commit {
        ended
    } else {
        Ok(())
    };
    let cleanup = cleanup.map_err(|e| e.redact(secret.as_deref()));
    let pumped = pumped.redacted(secret.as_deref());
    pump::report(reply, pumped, has_columns, exec_started, budget.ms, cleanup).await;
}
