//! Agent runs: recorded when they start (so a crash leaves a trace) and completed with the whole
//! response and event log when they end.

use crate::group_commit::{Done, FinishedRun, Op, PendingWrite};
use crate::{Store, StoreError};
use serde::Serialize;
use sqlx::Row;

/// A run as stored.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RunRecord {
    /// Identifier (`run_…`).
    pub id: String,
    /// Connection used.
    pub connection_id: i64,
    /// Notebook, if any.
    pub notebook_id: Option<i64>,
    /// The question.
    pub question: String,
    /// `running`, `succeeded`, `degraded` or `failed`.
    pub status: String,
    /// Provider name.
    pub provider: String,
    /// Model name.
    pub model: String,
    /// The final response (JSON), once finished.
    pub response: Option<serde_json::Value>,
    /// The event log (JSON array), once finished.
    pub events: Option<serde_json::Value>,
    /// The notebook cell created for the answer.
    pub cell_id: Option<i64>,
    /// Start time.
    pub created_at: String,
    /// End time.
    pub finished_at: Option<String>,
}

/// A run being started.
#[derive(Debug, Clone)]
pub struct NewRun {
    /// Identifier.
    pub id: String,
    /// Connection.
    pub connection_id: i64,
    /// Notebook.
    pub notebook_id: Option<i64>,
    /// Question.
    pub question: String,
    /// Provider.
    pub provider: String,
    /// Model.
    pub model: String,
}

fn from_row(row: &sqlx::sqlite::SqliteRow) -> Result<RunRecord, StoreError> {
    let json = |s: Option<String>| s.and_then(|s| serde_json::from_str(&s).ok());
    Ok(RunRecord {
        id: row.try_get("id")?,
        connection_id: row.try_get("connection_id")?,
        notebook_id: row.try_get("notebook_id")?,
        question: row.try_get("question")?,
        status: row.try_get("status")?,
        provider: row.try_get("provider")?,
        model: row.try_get("model")?,
        response: json(row.try_get("response")?),
        events: json(row.try_get("events")?),
        cell_id: row.try_get("cell_id")?,
        created_at: row.try_get("created_at")?,
        finished_at: row.try_get("finished_at")?,
    })
}

impl Store {
    /// Records a run as `running` (durable before it returns, batched with other writes).
    pub async fn insert_run(&self, r: &NewRun) -> Result<(), StoreError> {
        self.queue_insert_run(r).await?.wait().await
    }

    /// Queues the `running` record of a run without waiting for it to commit, so the run can
    /// start at once; a later [`Store::finish_run`] of the same run commits after it.
    pub async fn queue_insert_run(&self, r: &NewRun) -> Result<PendingWrite, StoreError> {
        self.commits.enqueue(Op::InsertRun(r.clone())).await
    }

    /// Completes a run: appends its answer cell (if any) and stores status, response and events,
    /// in one transaction batched with other writes. Returns the appended cell's id (also set as
    /// `cell_id` in the stored response); `None` when there was no answer or its notebook is gone.
    pub async fn finish_run(&self, run: FinishedRun) -> Result<Option<i64>, StoreError> {
        match self.commits.submit(Op::FinishRun(Box::new(run))).await? {
            Done::Cell(id) => Ok(id),
            Done::Unit => Ok(None),
        }
    }

    /// One run, or `None`.
    pub async fn get_run(&self, id: &str) -> Result<Option<RunRecord>, StoreError> {
        let row = sqlx::query("SELECT * FROM runs WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// Marks runs left `running` by a crash or kill as failed, at start-up.
    pub async fn fail_orphaned_runs(&self) -> Result<u64, StoreError> {
        let _w = self.writer.lock().await;
        let done = sqlx::query(
            "UPDATE runs SET status = 'failed', response = json_object('status', 'failed', 'message', 'the server stopped while this run was in progress'), finished_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE status = 'running'",
        )
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }
}
