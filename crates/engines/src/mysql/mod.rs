//! MySQL and MariaDB: a lazy pool whose sessions are `READ ONLY` (unless writes are allowed),
//! each statement wrapped in `START TRANSACTION [READ ONLY]`, with the server's statement time
//! limit (`max_statement_time` on MariaDB, `max_execution_time` on MySQL) and `KILL QUERY` from a
//! fresh connection when the caller's deadline passes or it goes away.
//!
//! Why the flavor matters: the two servers spell the time limit differently (seconds vs.
//! milliseconds) and MySQL's only covers `SELECT`, so the worker's own deadline backs it up.
//! Why connections are dropped after a `KILL QUERY`: a kill that arrives just after the
//! statement finished could hit the connection's next statement, so the connection is not reused.

mod introspect;
mod values;

use crate::acquire::{self, AcquireError};
use crate::classify::{Dialect, classify};
use crate::pump::{self, Budget, Halt, Outcome, Reply};
use crate::{
    Catalog, ColumnMeta, ConnectSpec, EngineError, PoolSettings, PoolStatus, QueryOptions,
    RowStream, ServerInfo, TlsMode,
};
use sqlx::mysql::{
    MySql, MySqlConnectOptions, MySqlConnection, MySqlPool, MySqlPoolOptions, MySqlQueryResult,
    MySqlSslMode,
};
use sqlx::pool::PoolConnection;
use sqlx::{
    AssertSqlSafe, Column, ConnectOptions, Connection, Executor, Row, SqlSafeStr, Statement,
};
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::time::{Instant, timeout, timeout_at};
use values::{MyShaper, describe};

/// Extra time the server's own statement time limit gets before we kill from outside.
const SERVER_GRACE: Duration = Duration::from_millis(250);

/// MySQL error 1295: "This command is not supported in the prepared statement protocol yet".
const ER_UNSUPPORTED_PS: u16 = 1295;

/// Which server family answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flavor {
    Mysql,
    Mariadb,
}

impl Flavor {
    fn of(version: &str) -> Flavor {
        if version.to_ascii_lowercase().contains("mariadb") {
            Flavor::Mariadb
        } else {
            Flavor::Mysql
        }
    }

    fn name(self) -> &'static str {
        match self {
            Flavor::Mysql => "mysql",
            Flavor::Mariadb => "mariadb",
        }
    }

    /// The session statement that limits each statement to `ms` milliseconds.
    fn time_limit(self, ms: u64) -> String {
        match self {
            Flavor::Mariadb => format!(
                "SET SESSION max_statement_time = {}.{:03}",
                ms / 1000,
                ms % 1000
            ),
            Flavor::Mysql => format!("SET SESSION max_execution_time = {ms}"),
        }
    }

    /// The session statement that restores the server's default time limit.
    fn lift_time_limit(self) -> &'static str {
        match self {
            Flavor::Mariadb => "SET SESSION max_statement_time = DEFAULT",
            Flavor::Mysql => "SET SESSION max_execution_time = DEFAULT",
        }
    }
}

/// A MySQL or MariaDB database.
#[derive(Clone)]
pub(crate) struct MysqlDb {
    inner: Arc<Inner>,
}

struct Inner {
    pool: MySqlPool,
    opts: MySqlConnectOptions,
    settings: PoolSettings,
    allow_writes: bool,
    password: Option<String>,
    /// Learnt from `VERSION()` when the first connection opens.
    flavor: Arc<OnceLock<Flavor>>,
}

fn ssl_mode(tls: TlsMode) -> MySqlSslMode {
    match tls {
        TlsMode::Disable => MySqlSslMode::Disabled,
        TlsMode::Prefer => MySqlSslMode::Preferred,
        TlsMode::Require => MySqlSslMode::Required,
        TlsMode::VerifyCa => MySqlSslMode::VerifyCa,
        TlsMode::VerifyFull => MySqlSslMode::VerifyIdentity,
    }
}

impl MysqlDb {
    /// Builds the lazy pool; fails only on an unusable spec.
    pub(crate) fn connect(
        spec: ConnectSpec,
        settings: PoolSettings,
    ) -> Result<MysqlDb, EngineError> {
        let host = spec
            .host
            .as_deref()
            .filter(|h| !h.is_empty())
            .unwrap_or("localhost");
        let mut opts = MySqlConnectOptions::new()
            .host(host)
            .port(spec.port.unwrap_or(3306))
            .ssl_mode(ssl_mode(spec.tls))
            // Keep the server's own SQL semantics (`||` stays OR).
            .pipes_as_concat(false)
            .no_engine_substitution(false)
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
        let flavor: Arc<OnceLock<Flavor>> = Arc::default();
        let allow_writes = spec.allow_writes;
        let learnt = flavor.clone();
        let pool = MySqlPoolOptions::new()
            .max_connections(settings.max_connections.max(1))
            .acquire_timeout(settings.acquire_timeout)
            .idle_timeout(Some(Duration::from_secs(300)))
            .after_connect(move |conn, _meta| {
                let learnt = learnt.clone();
                Box::pin(async move {
                    if !allow_writes {
                        sqlx::raw_sql("SET SESSION TRANSACTION READ ONLY")
                            .execute(&mut *conn)
                            .await?;
                    }
                    if learnt.get().is_none() {
                        let row = sqlx::raw_sql("SELECT VERSION()")
                            .fetch_one(&mut *conn)
                            .await?;
                        let version: String = row.try_get_unchecked(0)?;
                        let _ = learnt.set(Flavor::of(&version));
                    }
                    Ok(())
                })
            })
            .connect_lazy_with(opts.clone());
        Ok(MysqlDb {
            inner: Arc::new(Inner {
                pool,
                opts,
                settings,
                allow_writes,
                password: spec.password,
                flavor,
            }),
        })
    }

    /// Version (flavor `mysql` or `mariadb`) and round-trip time, within `limit`.
    pub(crate) async fn ping(&self, limit: Duration) -> Result<ServerInfo, EngineError> {
        let inner = &self.inner;
        let deadline = Instant::now() + limit;
        let work = async {
            let pool = &inner.pool;
            if pool.size() >= pool.options().get_max_connections() && pool.num_idle() == 0 {
                let mut conn = acquire::direct(&inner.opts, limit, Dialect::Mysql).await?;
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

    /// The current database's catalog, within `limit`.
    pub(crate) async fn introspect(&self, limit: Duration) -> Result<Catalog, EngineError> {
        let inner = &self.inner;
        let deadline = Instant::now() + limit;
        let ms = limit.as_millis() as u64;
        let mut conn = inner.acquire(deadline, limit).await.map_err(|e| match e {
            AcquireError::Limit => EngineError::Timeout(ms),
            AcquireError::Failed(e) => e.redact(inner.password.as_deref()),
        })?;
        let flavor = inner.flavor();
        let result = timeout_at(deadline, introspect::read(&mut conn, flavor, ms.max(1))).await;
        match result {
            Ok(Ok(catalog)) => Ok(catalog),
            Ok(Err(e)) => Err(classify(Dialect::Mysql, e, ms).redact(inner.password.as_deref())),
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
    /// The flavor learnt at connect (MySQL until a connection said otherwise).
    fn flavor(&self) -> Flavor {
        self.flavor.get().copied().unwrap_or(Flavor::Mysql)
    }

    async fn acquire(
        &self,
        deadline: Instant,
        probe_limit: Duration,
    ) -> Result<PoolConnection<MySql>, AcquireError> {
        let probe = acquire::probe(
            self.opts.clone(),
            self.settings.connect_timeout.min(probe_limit),
            Dialect::Mysql,
        );
        acquire::pooled(&self.pool, deadline, Dialect::Mysql, Some(probe)).await
    }

    /// Kills the statement running on connection `id`, from a fresh connection.
    async fn cancel(&self, id: u64) {
        let work = async {
            let mut conn =
                acquire::direct(&self.opts, self.settings.connect_timeout, Dialect::Mysql).await?;
            // `id` is a number we read from the server, not user text.
            sqlx::raw_sql(AssertSqlSafe(format!("KILL QUERY {id}")))
                .execute(&mut conn)
                .await
                .map_err(|e| classify(Dialect::Mysql, e, 0))?;
            let _ = conn.close().await;
            Ok::<(), EngineError>(())
        };
        match timeout(self.settings.connect_timeout + pump::CLEANUP_TIMEOUT, work).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                let e = e.redact(self.password.as_deref());
                tracing::warn!(id, error = %e, "could not kill a MySQL statement");
            }
            Err(_) => tracing::warn!(id, "killing a MySQL statement timed out"),
        }
    }
}

async fn server_info(conn: &mut MySqlConnection) -> Result<ServerInfo, EngineError> {
    let started = Instant::now();
    let row = sqlx::raw_sql("SELECT VERSION()")
        .fetch_one(&mut *conn)
        .await
        .map_err(|e| classify(Dialect::Mysql, e, 0))?;
    let rtt_ms = started.elapsed().as_secs_f64() * 1000.0;
    let version: String = row
        .try_get_unchecked(0)
        .map_err(|e| EngineError::Other(format!("reading the server version: {e}")))?;
    Ok(ServerInfo {
        flavor: Flavor::of(&version).name().into(),
        version,
        rtt_ms,
    })
}

/// Ends the statement's transaction (`COMMIT` when writes are allowed and it succeeded) and
/// lifts the session's time limit again, so pings and introspection are not bound by it.
async fn end_transaction(
    conn: &mut MySqlConnection,
    flavor: Flavor,
    commit: bool,
) -> Result<(), EngineError> {
    let sql = match (commit, flavor) {
        (true, Flavor::Mariadb) => "COMMIT; SET SESSION max_statement_time = DEFAULT",
        (false, Flavor::Mariadb) => "ROLLBACK; SET SESSION max_statement_time = DEFAULT",
        (true, Flavor::Mysql) => "COMMIT; SET SESSION max_execution_time = DEFAULT",
        (false, Flavor::Mysql) => "ROLLBACK; SET SESSION max_execution_time = DEFAULT",
    };
    match timeout(
        pump::CLEANUP_TIMEOUT,
        sqlx::raw_sql(sql).execute(&mut *conn),
    )
    .await
    {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(classify(Dialect::Mysql, e, 0)),
        Err(_) => Err(EngineError::Other(
            "ending the transaction did not finish in time".into(),
        )),
    }
}

/// Leaves a connection whose state is unknown out of the pool (closing it).
fn abandon(conn: PoolConnection<MySql>) {
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
    let classify_my = |e: sqlx::Error| classify(Dialect::Mysql, e, budget.ms);

    // 2. The time limit, the transaction, and the connection id for KILL QUERY.
    let begin = if inner.allow_writes {
        "START TRANSACTION"
    } else {
        "START TRANSACTION READ ONLY"
    };
    let flavor = inner.flavor();
    let preamble = format!(
        "{}; {begin}; SELECT CONNECTION_ID()",
        flavor.time_limit(budget.ms)
    );
    let id = match reply
        .watch(
            local_stop,
            sqlx::raw_sql(AssertSqlSafe(preamble)).fetch_all(&mut *conn),
        )
        .await
    {
        Ok(Ok(rows)) => rows
            .first()
            .and_then(|row| row.try_get_unchecked::<String, _>(0).ok())
            .and_then(|id| id.trim().parse::<u64>().ok()),
        Ok(Err(e)) => {
            abandon(conn);
            return fail(reply, classify_my(e)).await;
        }
        Err(halt) => {
            abandon(conn);
            if halt == Halt::Deadline {
                fail(reply, EngineError::Timeout(budget.ms)).await;
            }
            return;
        }
    };
    let Some(id) = id else {
        abandon(conn);
        return fail(
            reply,
            EngineError::Other("could not read the connection id".into()),
        )
        .await;
    };

    // 3. Prepare: the columns (also for empty results), and a single-statement guarantee (the
    //    prepared-statement protocol refuses several statements). Statements that protocol does
    //    not support take their columns from the first row instead.
    let sql_str = AssertSqlSafe(sql).into_sql_str();
    let prepared = reply
        .watch(local_stop, (&mut *conn).prepare(sql_str.clone()))
        .await;
    let columns: Option<Vec<ColumnMeta>> = match prepared {
        Ok(Ok(stmt)) => Some(
            stmt.columns()
                .iter()
                .map(|c| ColumnMeta {
                    name: c.name().to_owned(),
                    db_type: describe(c.type_info()).1,
                })
                .collect(),
        ),
        Ok(Err(sqlx::Error::Database(e)))
            if e.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>()
                .is_some_and(|e| e.number() == ER_UNSUPPORTED_PS) =>
        {
            None
        }
        Ok(Err(e)) => {
            if end_transaction(&mut conn, flavor, false).await.is_err() {
                abandon(conn);
            }
            return fail(reply, classify_my(e)).await;
        }
        Err(halt) => {
            inner.cancel(id).await;
            abandon(conn);
            if halt == Halt::Deadline {
                fail(reply, EngineError::Timeout(budget.ms)).await;
            }
            return;
        }
    };
    let mut has_columns = columns.as_ref().is_some_and(|c| !c.is_empty());
    if let Some(columns) = columns
        && reply.send_columns(columns).is_err()
    {
        if end_transaction(&mut conn, flavor, false).await.is_err() {
            abandon(conn);
        }
        return;
    }

    // 4. Execute on the text protocol and stream the rows.
    let exec_started = Instant::now();
    let mut stream = sqlx::raw_sql(sql_str).fetch_many(&mut *conn);
    let mut shaper = MyShaper::default();
    let pumped = pump::pump(
        &mut stream,
        &mut shaper,
        MySqlQueryResult::rows_affected,
        classify_my,
        &mut reply,
        opts.max_rows,
        local_stop,
    )
    .await;
    has_columns |= pumped.rows > 0;
    let settled = pump::settle(&mut stream, &pumped.outcome, || inner.cancel(id)).await;
    drop(stream);

    // 5. End the transaction; after a KILL QUERY the connection is not reused.
    let succeeded = matches!(pumped.outcome, Outcome::Done | Outcome::Truncated);
    let commit = inner.allow_writes && succeeded && !settled.cancelled;
    let ended = if settled.synced {
        end_transaction(&mut conn, flavor, commit).await
    } else {
        Err(EngineError::Other(
            "the statement did not stop after cancellation".into(),
        ))
    };
    if ended.is_err() || settled.cancelled {
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
