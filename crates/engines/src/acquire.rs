//! Getting a connection: from the pool within a limit, or a fresh one outside it.
//!
//! Why not just `pool.acquire()`: sqlx retries a refused connection until the acquire timeout
//! and then only says "pool timed out", which would turn "nothing listens on that port" into a
//! 10-second wait and a misleading "busy". When a connection is not handed out quickly, a direct
//! connect attempt runs alongside and its classified error wins. This holds also when the pool
//! still counts connections: a server that stopped leaves dead ones behind, and waiting on them
//! would hang every request until its deadline. (A merely busy pool costs one short-lived probe
//! connection per request that waited longer than [`PROBE_AFTER`].) Fresh connections outside
//! the pool are also what cancellation needs: the pool may be exhausted.

use crate::EngineError;
use crate::classify::{Dialect, classify};
use sqlx::pool::{Pool, PoolConnection};
use sqlx::{ConnectOptions, Connection};
use std::future::Future;
use std::time::Duration;
use tokio::time::{Instant, sleep, timeout, timeout_at};

/// How long a first acquire may take before a direct probe looks for the reason.
const PROBE_AFTER: Duration = Duration::from_millis(250);

/// Why no pooled connection was obtained.
#[derive(Debug)]
pub(crate) enum AcquireError {
    /// The limit passed while waiting (pool busy or server silent).
    Limit,
    /// Connecting failed with a classified error.
    Failed(EngineError),
}

/// A pooled connection, waiting at most until `limit`; `probe` (a direct connect attempt that
/// resolves only on failure) may answer first with the real reason.
pub(crate) async fn pooled<DB, P>(
    pool: &Pool<DB>,
    limit: Instant,
    dialect: Dialect,
    probe: Option<P>,
) -> Result<PoolConnection<DB>, AcquireError>
where
    DB: sqlx::Database,
    P: Future<Output = EngineError>,
{
    let map = |r: Result<Result<PoolConnection<DB>, sqlx::Error>, _>| match r {
        Ok(Ok(conn)) => Ok(conn),
        Ok(Err(sqlx::Error::PoolTimedOut)) | Err(_) => Err(AcquireError::Limit),
        Ok(Err(e)) => Err(AcquireError::Failed(classify(dialect, e, 0))),
    };
    let acquire = timeout_at(limit, pool.acquire());
    match probe {
        Some(probe) => {
            tokio::pin!(acquire);
            let delayed = async {
                sleep(PROBE_AFTER).await;
                probe.await
            };
            tokio::select! {
                r = &mut acquire => map(r),
                e = delayed => Err(AcquireError::Failed(e)),
            }
        }
        None => map(acquire.await),
    }
}

/// A fresh connection outside the pool, classified errors, bounded by `limit`.
pub(crate) async fn direct<O>(
    opts: &O,
    limit: Duration,
    dialect: Dialect,
) -> Result<O::Connection, EngineError>
where
    O: ConnectOptions,
    O::Connection: Sized,
{
    match timeout(limit, opts.connect()).await {
        Ok(Ok(conn)) => Ok(conn),
        Ok(Err(e)) => Err(classify(dialect, e, 0)),
        Err(_) => Err(EngineError::Unreachable(format!(
            "no answer from the server within {} ms",
            limit.as_millis()
        ))),
    }
}

/// A direct connect attempt that resolves only if it fails (with the classified reason); a
/// successful test connection is closed and the future then never resolves.
pub(crate) async fn probe<O>(opts: O, limit: Duration, dialect: Dialect) -> EngineError
where
    O: ConnectOptions,
    O::Connection: Sized,
{
    match direct(&opts, limit, dialect).await {
        Ok(conn) => {
            let _ = conn.close().await;
            std::future::pending().await
        }
        Err(e) => e,
    }
}
