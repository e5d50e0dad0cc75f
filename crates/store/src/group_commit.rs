//! Group commit for the writes every agent run and every notebook query makes.
//!
//! Why: with WAL and `synchronous=FULL` each commit is an fsync (~0.3 ms here), and SQLite has
//! one writer. When thousands of runs start or finish together, one transaction per write caps
//! the server at a few hundred runs per second and makes run N wait for the N − 1 fsyncs before
//! it. Here one task takes every write that is waiting, applies each (a failing write rolls back
//! alone), commits once, and only then answers each caller — so an
//! acknowledged write is still durable, and a burst of N writes costs N statements but about
//! N / batch fsyncs.

use crate::{NewRun, StoreError};
use sqlx::SqliteConnection;
use tokio::sync::{Mutex, mpsc, oneshot};

/// Most writes in one transaction: bounds how long one commit holds the write lock.
const MAX_BATCH: usize = 512;
/// Writes that may wait for the writer before callers wait to enqueue (backpressure, bounded
/// memory).
const QUEUE: usize = 8192;

/// The answer cell appended to a notebook when a run ends.
#[derive(Debug, Clone)]
pub struct AnswerCell {
    /// Notebook to append to.
    pub notebook_id: i64,
    /// The cell's SQL source (the question as a comment line, then the SQL).
    pub source: String,
    /// Connection for the cell when it differs from the notebook's default.
    pub connection_id: Option<i64>,
    /// Summary of the SQL's execution (the cell's `last_run`), when it ran.
    pub last_run: Option<serde_json::Value>,
}

/// Everything stored when a run ends, written in one transaction so a run is never recorded
/// finished without its answer cell, nor the cell without its run.
#[derive(Debug, Clone)]
pub struct FinishedRun {
    /// Run identifier.
    pub id: String,
    /// `succeeded`, `degraded` or `failed`.
    pub status: String,
    /// The final response; its `cell_id` is set to the appended cell's id.
    pub response: serde_json::Value,
    /// The event log (a JSON array).
    pub events: serde_json::Value,
    /// The answer to append, if the run has SQL and a notebook.
    pub answer: Option<AnswerCell>,
}

/// The writes that go through the group commit.
pub(crate) enum Op {
    InsertRun(NewRun),
    FinishRun(Box<FinishedRun>),
    LastRunOfCell { cell_id: i64, summary: String },
}

pub(crate) enum Done {
    Unit,
    Cell(Option<i64>),
}

type Reply = oneshot::Sender<Result<Done, StoreError>>;

/// The sending side, held by every `Store` clone; the writer task ends when the last one drops.
#[derive(Clone)]
pub(crate) struct GroupCommit {
    tx: mpsc::Sender<(Op, Reply)>,
}

impl GroupCommit {
    pub(crate) fn start(pool: sqlx::SqlitePool, writer: std::sync::Arc<Mutex<()>>) -> Self {
        let (tx, rx) = mpsc::channel(QUEUE);
        tokio::spawn(run(pool, writer, rx));
        GroupCommit { tx }
    }

    /// Queues `op` and waits until the transaction holding it has committed.
    pub(crate) async fn submit(&self, op: Op) -> Result<Done, StoreError> {
        self.enqueue(op).await?.done().await
    }

    /// Queues `op` (waiting only for room in the queue); the write commits in queue order.
    pub(crate) async fn enqueue(&self, op: Op) -> Result<PendingWrite, StoreError> {
        let (reply, done) = oneshot::channel();
        self.tx
            .send((op, reply))
            .await
            .map_err(|_| StoreError::Closed)?;
        Ok(PendingWrite(done))
    }
}

/// A queued write: writes commit in the order they were queued, so a caller can go on and
/// learn later whether (and when) it became durable.
pub struct PendingWrite(oneshot::Receiver<Result<Done, StoreError>>);

impl PendingWrite {
    async fn done(self) -> Result<Done, StoreError> {
        self.0.await.map_err(|_| StoreError::Closed)?
    }

    /// Waits until the write has committed (durable), or failed.
    pub async fn wait(self) -> Result<(), StoreError> {
        self.done().await.map(|_| ())
    }
}

async fn run(
    pool: sqlx::SqlitePool,
    writer: std::sync::Arc<Mutex<()>>,
    mut rx: mpsc::Receiver<(Op, Reply)>,
) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let n = batch.len();
        let results = {
            let _w = writer.lock().await;
            commit_batch(&pool, &mut batch).await
        };
        match results {
            Ok(results) => {
                for ((_, reply), result) in batch.drain(..).zip(results) {
                    let _ = reply.send(result);
                }
            }
            Err(e) => {
                tracing::error!(writes = n, error = %e, "metadata store: group commit failed");
                let msg = e.to_string();
                for (_, reply) in batch.drain(..) {
                    let _ = reply.send(Err(StoreError::Invalid(format!(
                        "the metadata store could not commit: {msg}"
                    ))));
                }
            }
        }
        metrics::histogram!("querypad_store_group_commit_writes").record(n as f64);
    }
}

/// One transaction for the whole batch. Each op is a single statement, or (finishing a run)
/// statements that stand alone, so SQLite's statement-level rollback isolates a failing op
/// without savepoints (which cost three more statements per op). Only constraint violations
/// are an op's own failure; anything else (disk full, I/O error) may have ended the transaction
/// itself, so the whole batch fails and rolls back. The outer error is for the transaction.
async fn commit_batch(
    pool: &sqlx::SqlitePool,
    batch: &mut [(Op, Reply)],
) -> Result<Vec<Result<Done, StoreError>>, StoreError> {
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    let mut results = Vec::with_capacity(batch.len());
    for (op, _) in batch.iter_mut() {
        match apply(&mut tx, op).await {
            Ok(done) => results.push(Ok(done)),
            Err(StoreError::Db(e)) if !is_constraint(&e) => return Err(StoreError::Db(e)),
            Err(e) => results.push(Err(e)),
        }
    }
    tx.commit().await?;
    Ok(results)
}

fn is_constraint(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.is_unique_violation()
        || db.is_foreign_key_violation()
        || db.is_check_violation())
}

async fn apply(conn: &mut SqliteConnection, op: &mut Op) -> Result<Done, StoreError> {
    match op {
        Op::InsertRun(r) => {
            sqlx::query(
                "INSERT INTO runs (id, connection_id, notebook_id, question, status, provider, model) VALUES (?, ?, ?, ?, 'running', ?, ?)",
            )
            .bind(&r.id)
            .bind(r.connection_id)
            .bind(r.notebook_id)
            .bind(&r.question)
            .bind(&r.provider)
            .bind(&r.model)
            .execute(&mut *conn)
            .await?;
            Ok(Done::Unit)
        }
        Op::LastRunOfCell { cell_id, summary } => {
            sqlx::query("UPDATE cells SET last_run = ? WHERE id = ?")
                .bind(&*summary)
                .bind(*cell_id)
                .execute(&mut *conn)
                .await?;
            Ok(Done::Unit)
        }
        Op::FinishRun(f) => {
            let cell_id = match &f.answer {
                Some(a) => append_answer(conn, &f.id, a).await?,
                None => None,
            };
            f.response["cell_id"] = cell_id.into();
            sqlx::query(
                "UPDATE runs SET status = ?, response = ?, events = ?, cell_id = ?, finished_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = ?",
            )
            .bind(&f.status)
            .bind(f.response.to_string())
            .bind(f.events.to_string())
            .bind(cell_id)
            .bind(&f.id)
            .execute(&mut *conn)
            .await?;
            Ok(Done::Cell(cell_id))
        }
    }
}

/// Appends the answer cell (one statement: nothing to undo when it fails). A notebook deleted
/// while the run was going loses the cell, never the run's record.
async fn append_answer(
    conn: &mut SqliteConnection,
    run_id: &str,
    a: &AnswerCell,
) -> Result<Option<i64>, StoreError> {
    let id: Result<Option<i64>, _> = sqlx::query_scalar(
        "INSERT INTO cells (notebook_id, position, kind, source, connection_id, last_run)
         SELECT n.id, (SELECT count(*) FROM cells WHERE notebook_id = n.id), 'sql', ?, ?, ?
         FROM notebooks n WHERE n.id = ? RETURNING id",
    )
    .bind(&a.source)
    .bind(a.connection_id)
    .bind(a.last_run.as_ref().map(|v| v.to_string()))
    .bind(a.notebook_id)
    .fetch_optional(&mut *conn)
    .await;
    match id {
        Ok(Some(id)) => {
            // The notebook's "updated" time (a constraint cannot fail here; anything else
            // ends the batch like any other I/O error).
            let touched = sqlx::query(
                "UPDATE notebooks SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = ?",
            )
            .bind(a.notebook_id)
            .execute(&mut *conn)
            .await;
            match touched {
                Err(e) if !is_constraint(&e) => Err(e.into()),
                _ => Ok(Some(id)),
            }
        }
        Ok(None) => {
            tracing::warn!(
                run_id,
                notebook_id = a.notebook_id,
                "the run's notebook is gone; its answer was not appended"
            );
            Ok(None)
        }
        // E.g. the cell's connection was deleted meanwhile: the run is still recorded.
        Err(e) if is_constraint(&e) => {
            tracing::error!(run_id, notebook_id = a.notebook_id, error = %e, "could not append the answer cell");
            Ok(None)
        }
        Err(e) => Err(e.into()),
    }
}
