//! The query worker's plumbing, shared by the engines: a task owns the connection and pumps
//! rows into a bounded channel in batches, watching the deadline and the consumer.
//!
//! Why a task: the statement must be cancelled on the server and the connection cleaned up
//! even when the caller drops its [`RowStream`] (or the `query` future) halfway; only something
//! that outlives the caller can do that. The bounded channel keeps memory flat: the worker
//! stops reading rows while the consumer is behind, and TCP back-pressure pauses the server.

use crate::{ColumnMeta, EngineError, RowStream, StreamItem};
use futures_util::{Stream, StreamExt};
use serde_json::Value;
use sqlx::Either;
use std::future::Future;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio::time::{Instant, sleep_until, timeout_at};

/// Rows per [`StreamItem::Rows`] batch.
pub(crate) const BATCH_ROWS: usize = 256;
/// Batches the channel holds before the worker waits for the consumer.
const CHANNEL_BATCHES: usize = 4;
/// How long a stopped statement may take to finish on its own before it is cancelled.
const SHORT_DRAIN: Duration = Duration::from_millis(50);
/// How long a cancelled statement may take to report back before its connection is dropped.
const CANCEL_DRAIN: Duration = Duration::from_secs(5);
/// Time limit for the cleanup statements (ROLLBACK, COMMIT) after the user's statement.
pub(crate) const CLEANUP_TIMEOUT: Duration = Duration::from_secs(5);

type Item = Result<StreamItem, EngineError>;

/// The worker's two ways back to the caller: the columns (or an early error) once, then rows.
pub(crate) struct Reply {
    columns: Option<oneshot::Sender<Result<Vec<ColumnMeta>, EngineError>>>,
    tx: mpsc::Sender<Item>,
}

/// Why the worker stopped waiting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Halt {
    /// The statement's time limit or the caller's deadline passed.
    Deadline,
    /// The caller dropped the stream (or the `query` future).
    Gone,
}

/// Spawns the worker `work(reply)` and waits for the columns; the stream then carries the rows.
pub(crate) async fn start<F, Fut>(work: F) -> Result<RowStream, EngineError>
where
    F: FnOnce(Reply) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let (cols_tx, cols_rx) = oneshot::channel();
    let (tx, rx) = mpsc::channel(CHANNEL_BATCHES);
    tokio::spawn(work(Reply {
        columns: Some(cols_tx),
        tx,
    }));
    match cols_rx.await {
        Ok(Ok(columns)) => Ok(RowStream {
            columns,
            rx,
            done: false,
        }),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(EngineError::Other(
            "the query worker stopped without a result".into(),
        )),
    }
}

impl Reply {
    /// Whether the columns have not been sent yet.
    pub(crate) fn columns_pending(&self) -> bool {
        self.columns.is_some()
    }

    /// Sends the columns, which lets `query` return; `Err(Gone)` if the caller went away.
    pub(crate) fn send_columns(&mut self, columns: Vec<ColumnMeta>) -> Result<(), Halt> {
        match self.columns.take() {
            Some(tx) => tx.send(Ok(columns)).map_err(|_| Halt::Gone),
            None => Ok(()),
        }
    }

    /// Reports an error: from `query` itself if the columns were not sent yet, else as the
    /// stream's last item.
    pub(crate) async fn fail(mut self, err: EngineError) {
        match self.columns.take() {
            Some(tx) => {
                let _ = tx.send(Err(err));
            }
            None => {
                let _ = self.tx.send(Err(err)).await;
            }
        }
    }

    /// Delivers the last rows and the summary.
    pub(crate) async fn finish(mut self, rows: Vec<Vec<Value>>, end: StreamItem) {
        if self.send_columns(Vec::new()).is_err() {
            return;
        }
        if !rows.is_empty() && self.tx.send(Ok(StreamItem::Rows(rows))).await.is_err() {
            return;
        }
        let _ = self.tx.send(Ok(end)).await;
    }

    /// Step 1 of every worker: a connection by the caller's deadline or the acquire timeout,
    /// whichever comes first, waited for at most `grace` longer (the engine's own limit fires
    /// first). `Err(Some(e))`: answer `e` (the deadline, a busy pool, or why connecting failed);
    /// `Err(None)`: the caller went away.
    pub(crate) async fn acquire<C, F>(
        &self,
        opts: &crate::exec::QueryOptions,
        started: Instant,
        acquire_timeout: std::time::Duration,
        grace: std::time::Duration,
        acquire: impl FnOnce(Instant) -> F,
    ) -> Result<C, Option<EngineError>>
    where
        F: Future<Output = Result<C, crate::acquire::AcquireError>>,
    {
        use crate::acquire::AcquireError;
        let limit = opts.deadline.min(started + acquire_timeout);
        match self.watch(limit + grace, acquire(limit)).await {
            Ok(Ok(conn)) => Ok(conn),
            Ok(Err(AcquireError::Failed(e))) => Err(Some(e)),
            Ok(Err(AcquireError::Limit)) | Err(Halt::Deadline) if limit >= opts.deadline => {
                Err(Some(EngineError::Timeout(expired_ms(
                    opts.statement_timeout,
                    opts.deadline,
                    started,
                ))))
            }
            Ok(Err(AcquireError::Limit)) | Err(Halt::Deadline) => {
                Err(Some(EngineError::PoolExhausted))
            }
            Err(Halt::Gone) => Err(None),
        }
    }

    /// Waits for `fut` unless the deadline passes or the caller goes away first.
    pub(crate) async fn watch<F: Future>(
        &self,
        stop_at: Instant,
        fut: F,
    ) -> Result<F::Output, Halt> {
        tokio::select! {
            biased;
            out = fut => Ok(out),
            _ = self.tx.closed() => Err(Halt::Gone),
            _ = sleep_until(stop_at) => Err(Halt::Deadline),
        }
    }

    /// Hands a full batch to the consumer, waiting for room in the channel.
    async fn send_batch(&self, stop_at: Instant, batch: Vec<Vec<Value>>) -> Result<(), Halt> {
        match self.watch(stop_at, self.tx.reserve()).await? {
            Ok(permit) => {
                permit.send(Ok(StreamItem::Rows(batch)));
                Ok(())
            }
            Err(_) => Err(Halt::Gone),
        }
    }
}

/// Turns an engine's rows into JSON rows.
pub(crate) trait Shape<R> {
    /// One row as one JSON value per column.
    fn shape(&mut self, row: &R) -> Result<Vec<Value>, EngineError>;
    /// The columns as a row describes them (used when preparing could not tell).
    fn columns_of(&self, row: &R) -> Vec<ColumnMeta>;
}

/// How the row loop ended.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// The statement completed and every row was read.
    Done,
    /// `max_rows` rows were delivered and another one exists.
    Truncated,
    /// The statement failed; `ended` tells whether the driver's stream already finished.
    Failed { err: EngineError, ended: bool },
    /// The deadline passed or the consumer went away.
    Halted(Halt),
}

/// What the row loop produced.
pub(crate) struct Pumped {
    pub(crate) outcome: Outcome,
    /// Rows read so far (the last partial batch is in `pending`).
    pub(crate) rows: u64,
    /// Rows not sent yet (sent after the connection is cleaned up).
    pub(crate) pending: Vec<Vec<Value>>,
    /// Sum of rows affected reported by the driver.
    pub(crate) affected: u64,
}

impl Pumped {
    /// Scrubs the password from a failure's message.
    pub(crate) fn redacted(mut self, secret: Option<&str>) -> Pumped {
        if let Outcome::Failed { err, ended } = self.outcome {
            self.outcome = Outcome::Failed {
                err: err.redact(secret),
                ended,
            };
        }
        self
    }
}

/// Reads the driver's stream to the end (or the row cap, an error, the deadline, the consumer
/// leaving), shaping rows and sending full batches.
pub(crate) async fn pump<S, Q, R, Sh, A, C>(
    stream: &mut S,
    shaper: &mut Sh,
    affected_of: A,
    classify: C,
    reply: &mut Reply,
    max_rows: usize,
    stop_at: Instant,
) -> Pumped
where
    S: Stream<Item = Result<Either<Q, R>, sqlx::Error>> + Unpin,
    Sh: Shape<R>,
    A: Fn(&Q) -> u64,
    C: Fn(sqlx::Error) -> EngineError,
{
    let max_rows = max_rows as u64;
    let mut batch: Vec<Vec<Value>> = Vec::with_capacity(BATCH_ROWS.min(max_rows as usize + 1));
    let mut rows = 0u64;
    let mut affected = 0u64;
    let outcome = loop {
        let next = match reply.watch(stop_at, stream.next()).await {
            Ok(next) => next,
            Err(halt) => break Outcome::Halted(halt),
        };
        match next {
            None => break Outcome::Done,
            Some(Err(e)) => {
                break Outcome::Failed {
                    err: classify(e),
                    ended: true,
                };
            }
            Some(Ok(Either::Left(result))) => affected += affected_of(&result),
            Some(Ok(Either::Right(row))) => {
                if reply.columns_pending() && reply.send_columns(shaper.columns_of(&row)).is_err() {
                    break Outcome::Halted(Halt::Gone);
                }
                if rows == max_rows {
                    break Outcome::Truncated;
                }
                match shaper.shape(&row) {
                    Ok(values) => batch.push(values),
                    Err(err) => break Outcome::Failed { err, ended: false },
                }
                rows += 1;
                if batch.len() == BATCH_ROWS {
                    // Rows already buffered by the driver arrive without a pause in which the
                    // deadline branch of `watch` would run: check the clock once per batch.
                    if Instant::now() >= stop_at {
                        break Outcome::Halted(Halt::Deadline);
                    }
                    let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH_ROWS));
                    if let Err(halt) = reply.send_batch(stop_at, full).await {
                        break Outcome::Halted(halt);
                    }
                }
            }
        }
    };
    Pumped {
        outcome,
        rows,
        pending: batch,
        affected,
    }
}

/// Whether the statement is over on the connection, and whether the server was asked to cancel.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Settled {
    /// The driver's stream finished: the connection is between statements again.
    pub(crate) synced: bool,
    /// A cancel was sent to the server.
    pub(crate) cancelled: bool,
}

/// Brings the statement to an end after the row loop: waits briefly for it to finish on its own
/// when the caller merely stopped reading, otherwise (or if that takes too long) cancels it on
/// the server with `cancel` and waits for the driver to report the cancellation.
pub(crate) async fn settle<S, T, F, Fut>(stream: &mut S, outcome: &Outcome, cancel: F) -> Settled
where
    S: Stream<Item = T> + Unpin,
    F: FnOnce() -> Fut,
    Fut: Future<Output = ()>,
{
    let try_short = match outcome {
        Outcome::Done | Outcome::Failed { ended: true, .. } => {
            return Settled {
                synced: true,
                cancelled: false,
            };
        }
        Outcome::Truncated | Outcome::Halted(Halt::Gone) | Outcome::Failed { ended: false, .. } => {
            true
        }
        Outcome::Halted(Halt::Deadline) => false,
    };
    if try_short && drain(stream, SHORT_DRAIN).await {
        return Settled {
            synced: true,
            cancelled: false,
        };
    }
    cancel().await;
    Settled {
        synced: drain(stream, CANCEL_DRAIN).await,
        cancelled: true,
    }
}

/// Reads and discards the rest of the stream; `true` if it ended within `limit`.
///
/// The clock is checked by hand: a driver parsing rows it already buffered never returns
/// `Pending`, so a plain `timeout` around the loop would never get to fire.
async fn drain<S: Stream<Item = T> + Unpin, T>(stream: &mut S, limit: Duration) -> bool {
    let until = Instant::now() + limit;
    let mut seen = 0u32;
    loop {
        match timeout_at(until, stream.next()).await {
            Ok(None) => return true,
            Ok(Some(_)) => {}
            Err(_) => return false,
        }
        seen = seen.wrapping_add(1);
        if seen.is_multiple_of(256) {
            if Instant::now() >= until {
                return false;
            }
            tokio::task::yield_now().await;
        }
    }
}

/// Sends the end of a statement to the caller: the last rows and the summary, or the error.
pub(crate) async fn report(
    reply: Reply,
    pumped: Pumped,
    has_columns: bool,
    started: Instant,
    timeout_ms: u64,
    cleanup: Result<(), EngineError>,
) {
    let Pumped {
        outcome,
        rows,
        pending,
        affected,
    } = pumped;
    let truncated = match outcome {
        Outcome::Done => false,
        Outcome::Truncated => true,
        Outcome::Failed { err, .. } => return reply.fail(err).await,
        Outcome::Halted(Halt::Deadline) => {
            return reply.fail(EngineError::Timeout(timeout_ms)).await;
        }
        Outcome::Halted(Halt::Gone) => return,
    };
    if let Err(e) = cleanup {
        return reply.fail(e).await;
    }
    let end = StreamItem::End {
        row_count: rows,
        truncated,
        elapsed: started.elapsed(),
        rows_affected: (!has_columns).then_some(affected),
    };
    reply.finish(pending, end).await;
}

/// The statement's time budget: it ends at the earlier of `now + statement_timeout` and the
/// caller's deadline.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Budget {
    /// When the statement must be over.
    pub(crate) stop_at: Instant,
    /// The same, as milliseconds from now (at least 1: 0 means "no limit" to the databases).
    pub(crate) ms: u64,
}

impl Budget {
    /// The budget from now; `None` when the deadline already passed.
    pub(crate) fn from_now(statement_timeout: Duration, deadline: Instant) -> Option<Budget> {
        let now = Instant::now();
        let stop_at = deadline.min(now + statement_timeout);
        let left = stop_at.checked_duration_since(now)?;
        if left.is_zero() {
            return None;
        }
        Some(Budget {
            stop_at,
            ms: (left.as_millis() as u64).max(1),
        })
    }
}

/// The timeout to report when the deadline had already passed before anything ran.
pub(crate) fn expired_ms(statement_timeout: Duration, deadline: Instant, started: Instant) -> u64 {
    let left = deadline.saturating_duration_since(started);
    left.min(statement_timeout).as_millis() as u64
}
