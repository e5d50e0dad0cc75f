//! Notebooks and their ordered cells. Positions are kept dense (0, 1, 2, …) inside one
//! transaction per change, so "move cell to position 2" means exactly that.

use crate::{Store, StoreError};
use serde::{Deserialize, Serialize};
use sqlx::Row;

/// A notebook.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Notebook {
    /// Identifier.
    pub id: i64,
    /// Title.
    pub title: String,
    /// Default connection for its SQL cells.
    pub connection_id: Option<i64>,
    /// Number of cells.
    pub cell_count: i64,
    /// Creation time.
    pub created_at: String,
    /// Last update time.
    pub updated_at: String,
}

/// Partial notebook update: `Some(None)` clears the connection.
#[derive(Debug, Clone, Default)]
pub struct NotebookPatch {
    /// New title.
    pub title: Option<String>,
    /// New default connection.
    pub connection_id: Option<Option<i64>>,
}

/// Cell kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CellKind {
    /// SQL run against a connection.
    Sql,
    /// Markdown text.
    Markdown,
}

impl CellKind {
    fn as_str(self) -> &'static str {
        match self {
            CellKind::Sql => "sql",
            CellKind::Markdown => "markdown",
        }
    }
}

/// A cell.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Cell {
    /// Identifier.
    pub id: i64,
    /// Owning notebook.
    pub notebook_id: i64,
    /// 0-based position in the notebook.
    pub position: i64,
    /// `sql` or `markdown`.
    pub kind: CellKind,
    /// The cell's text.
    pub source: String,
    /// Connection override for this cell (else the notebook's).
    pub connection_id: Option<i64>,
    /// Summary of the last run (rows, elapsed, error), as JSON.
    pub last_run: Option<serde_json::Value>,
    /// Creation time.
    pub created_at: String,
    /// Last update time.
    pub updated_at: String,
}

/// A new cell. `position: None` appends.
#[derive(Debug, Clone)]
pub struct NewCell {
    /// Kind.
    pub kind: CellKind,
    /// Text.
    pub source: String,
    /// Where to insert (clamped to the end).
    pub position: Option<i64>,
    /// Connection override.
    pub connection_id: Option<i64>,
}

/// Partial cell update.
#[derive(Debug, Clone, Default)]
pub struct CellPatch {
    /// New kind.
    pub kind: Option<CellKind>,
    /// New text.
    pub source: Option<String>,
    /// Move to this position (clamped).
    pub position: Option<i64>,
    /// New connection override.
    pub connection_id: Option<Option<i64>>,
}

const NB_COLUMNS: &str = "n.id, n.title, n.connection_id, n.created_at, n.updated_at, (SELECT count(*) FROM cells c WHERE c.notebook_id = n.id) AS cell_count";

fn notebook_from_row(row: &sqlx::sqlite::SqliteRow) -> Result<Notebook, StoreError> {
    Ok(Notebook {
        id: row.try_get("id")?,
        title: row.try_get("title")?,
        connection_id: row.try_get("connection_id")?,
        cell_count: row.try_get("cell_count")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

const CELL_COLUMNS: &str =
    "id, notebook_id, position, kind, source, connection_id, last_run, created_at, updated_at";

fn cell_from_row(row: &sqlx::sqlite::SqliteRow) -> Result<Cell, StoreError> {
    let kind: String = row.try_get("kind")?;
    let last_run: Option<String> = row.try_get("last_run")?;
    Ok(Cell {
        id: row.try_get("id")?,
        notebook_id: row.try_get("notebook_id")?,
        position: row.try_get("position")?,
        kind: if kind == "markdown" {
            CellKind::Markdown
        } else {
            CellKind::Sql
        },
        source: row.try_get("source")?,
        connection_id: row.try_get("connection_id")?,
        last_run: last_run.and_then(|s| serde_json::from_str(&s).ok()),
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

async fn renumber(
    tx: &mut sqlx::SqliteConnection,
    notebook_id: i64,
    order: &[i64],
) -> Result<(), StoreError> {
    for (pos, id) in order.iter().enumerate() {
        sqlx::query("UPDATE cells SET position = ? WHERE id = ? AND notebook_id = ?")
            .bind(pos as i64)
            .bind(id)
            .bind(notebook_id)
            .execute(&mut *tx)
            .await?;
    }
    Ok(())
}

async fn cell_order(
    tx: &mut sqlx::SqliteConnection,
    notebook_id: i64,
) -> Result<Vec<i64>, StoreError> {
    Ok(
        sqlx::query_scalar("SELECT id FROM cells WHERE notebook_id = ? ORDER BY position, id")
            .bind(notebook_id)
            .fetch_all(&mut *tx)
            .await?,
    )
}

async fn touch(tx: &mut sqlx::SqliteConnection, notebook_id: i64) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE notebooks SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = ?",
    )
    .bind(notebook_id)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

fn clamp_position(pos: i64, len: usize) -> usize {
    pos.clamp(0, len as i64) as usize
}

impl Store {
    /// Lists notebooks by id.
    pub async fn list_notebooks(&self) -> Result<Vec<Notebook>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {NB_COLUMNS} FROM notebooks n ORDER BY n.id"
        )))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(notebook_from_row).collect()
    }

    /// One notebook, or `NotFound`.
    pub async fn get_notebook(&self, id: i64) -> Result<Notebook, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {NB_COLUMNS} FROM notebooks n WHERE n.id = ?"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound {
            what: "notebook",
            id,
        })?;
        notebook_from_row(&row)
    }

    /// Creates a notebook. The connection, when given, must exist.
    pub async fn create_notebook(
        &self,
        title: &str,
        connection_id: Option<i64>,
    ) -> Result<Notebook, StoreError> {
        let _w = self.writer.lock().await;
        if let Some(cid) = connection_id {
            self.get_connection(cid).await?;
        }
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO notebooks (title, connection_id) VALUES (?, ?) RETURNING id",
        )
        .bind(title)
        .bind(connection_id)
        .fetch_one(&self.pool)
        .await?;
        self.get_notebook(id).await
    }

    /// Updates title and/or default connection.
    pub async fn update_notebook(&self, id: i64, p: NotebookPatch) -> Result<Notebook, StoreError> {
        let _w = self.writer.lock().await;
        self.get_notebook(id).await?;
        if let Some(Some(cid)) = p.connection_id {
            self.get_connection(cid).await?;
        }
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        if let Some(title) = p.title {
            sqlx::query("UPDATE notebooks SET title = ? WHERE id = ?")
                .bind(title)
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        if let Some(cid) = p.connection_id {
            sqlx::query("UPDATE notebooks SET connection_id = ? WHERE id = ?")
                .bind(cid)
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        touch(&mut tx, id).await?;
        tx.commit().await?;
        self.get_notebook(id).await
    }

    /// Deletes a notebook and its cells.
    pub async fn delete_notebook(&self, id: i64) -> Result<(), StoreError> {
        let _w = self.writer.lock().await;
        let done = sqlx::query("DELETE FROM notebooks WHERE id = ?")
            .bind(id)
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound {
                what: "notebook",
                id,
            });
        }
        Ok(())
    }

    /// The notebook's cells in order.
    pub async fn list_cells(&self, notebook_id: i64) -> Result<Vec<Cell>, StoreError> {
        self.get_notebook(notebook_id).await?;
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {CELL_COLUMNS} FROM cells WHERE notebook_id = ? ORDER BY position, id"
        )))
        .bind(notebook_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(cell_from_row).collect()
    }

    /// A notebook with its last `limit` SQL cells, newest last: the agent's examples (and the
    /// notebook's default connection for the answer cell), read without loading a long notebook
    /// whole on every question.
    pub async fn recent_sql_cells(
        &self,
        notebook_id: i64,
        limit: i64,
    ) -> Result<(Notebook, Vec<Cell>), StoreError> {
        // One statement, one row: the cells come back as one JSON array. Every row a statement
        // streams is a hand-off between the connection's thread and the caller, and this read
        // is on every agent request.
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {NB_COLUMNS}, (SELECT json_group_array(json_object(
                 'id', id, 'notebook_id', notebook_id, 'position', position, 'kind', kind,
                 'source', source, 'connection_id', connection_id,
                 'last_run', CASE WHEN json_valid(last_run) THEN json(last_run) END,
                 'created_at', created_at, 'updated_at', updated_at))
               FROM (SELECT * FROM cells WHERE notebook_id = n.id AND kind = 'sql'
                     ORDER BY position DESC LIMIT ?)) AS recent
             FROM notebooks n WHERE n.id = ?"
        )))
        .bind(limit)
        .bind(notebook_id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound {
            what: "notebook",
            id: notebook_id,
        })?;
        let notebook = notebook_from_row(&row)?;
        let recent: String = row.try_get("recent")?;
        let mut cells: Vec<Cell> = serde_json::from_str(&recent)
            .map_err(|e| StoreError::Invalid(format!("stored cells could not be read: {e}")))?;
        cells.sort_by_key(|c| c.position);
        Ok((notebook, cells))
    }

    /// One cell of a notebook, or `NotFound`.
    pub async fn get_cell(&self, notebook_id: i64, cell_id: i64) -> Result<Cell, StoreError> {
        self.get_notebook(notebook_id).await?;
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {CELL_COLUMNS} FROM cells WHERE id = ? AND notebook_id = ?"
        )))
        .bind(cell_id)
        .bind(notebook_id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound {
            what: "cell",
            id: cell_id,
        })?;
        cell_from_row(&row)
    }

    /// Inserts a cell at `position` (or at the end), shifting later cells down.
    pub async fn create_cell(&self, notebook_id: i64, c: NewCell) -> Result<Cell, StoreError> {
        let _w = self.writer.lock().await;
        self.get_notebook(notebook_id).await?;
        if let Some(cid) = c.connection_id {
            self.get_connection(cid).await?;
        }
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let len: i64 = sqlx::query_scalar("SELECT count(*) FROM cells WHERE notebook_id = ?")
            .bind(notebook_id)
            .fetch_one(&mut *tx)
            .await?;
        // Appending (the common case: every agent answer) needs no renumbering, so its cost does
        // not grow with the notebook; inserting in the middle shifts the cells after it.
        let at = c.position.map_or(len, |p| p.clamp(0, len));
        if at < len {
            sqlx::query(
                "UPDATE cells SET position = position + 1 WHERE notebook_id = ? AND position >= ?",
            )
            .bind(notebook_id)
            .bind(at)
            .execute(&mut *tx)
            .await?;
        }
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO cells (notebook_id, position, kind, source, connection_id) VALUES (?, ?, ?, ?, ?) RETURNING id",
        )
        .bind(notebook_id)
        .bind(at)
        .bind(c.kind.as_str())
        .bind(&c.source)
        .bind(c.connection_id)
        .fetch_one(&mut *tx)
        .await?;
        touch(&mut tx, notebook_id).await?;
        tx.commit().await?;
        self.get_cell(notebook_id, id).await
    }

    /// Updates a cell; a new position moves it.
    pub async fn update_cell(
        &self,
        notebook_id: i64,
        cell_id: i64,
        p: CellPatch,
    ) -> Result<Cell, StoreError> {
        let _w = self.writer.lock().await;
        self.get_cell(notebook_id, cell_id).await?;
        if let Some(Some(cid)) = p.connection_id {
            self.get_connection(cid).await?;
        }
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        if let Some(kind) = p.kind {
            sqlx::query("UPDATE cells SET kind = ? WHERE id = ?")
                .bind(kind.as_str())
                .bind(cell_id)
                .execute(&mut *tx)
                .await?;
        }
        if let Some(source) = &p.source {
            sqlx::query("UPDATE cells SET source = ? WHERE id = ?")
                .bind(source)
                .bind(cell_id)
                .execute(&mut *tx)
                .await?;
        }
        if let Some(cid) = p.connection_id {
            sqlx::query("UPDATE cells SET connection_id = ? WHERE id = ?")
                .bind(cid)
                .bind(cell_id)
                .execute(&mut *tx)
                .await?;
        }
        if let Some(pos) = p.position {
            let mut order = cell_order(&mut tx, notebook_id).await?;
            order.retain(|id| *id != cell_id);
            let at = clamp_position(pos, order.len());
            order.insert(at, cell_id);
            renumber(&mut tx, notebook_id, &order).await?;
        }
        sqlx::query(
            "UPDATE cells SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = ?",
        )
        .bind(cell_id)
        .execute(&mut *tx)
        .await?;
        touch(&mut tx, notebook_id).await?;
        tx.commit().await?;
        self.get_cell(notebook_id, cell_id).await
    }

    /// Sets the order of all cells at once; `cell_ids` must be exactly the notebook's cells.
    pub async fn reorder_cells(
        &self,
        notebook_id: i64,
        cell_ids: &[i64],
    ) -> Result<Vec<Cell>, StoreError> {
        let _w = self.writer.lock().await;
        self.get_notebook(notebook_id).await?;
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let mut current = cell_order(&mut tx, notebook_id).await?;
        let mut wanted = cell_ids.to_vec();
        current.sort_unstable();
        wanted.sort_unstable();
        if current != wanted {
            return Err(StoreError::Invalid(
                "cell_ids must list every cell of the notebook exactly once".into(),
            ));
        }
        renumber(&mut tx, notebook_id, cell_ids).await?;
        touch(&mut tx, notebook_id).await?;
        tx.commit().await?;
        self.list_cells(notebook_id).await
    }

    /// Deletes a cell and closes the gap.
    pub async fn delete_cell(&self, notebook_id: i64, cell_id: i64) -> Result<(), StoreError> {
        let _w = self.writer.lock().await;
        self.get_cell(notebook_id, cell_id).await?;
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        sqlx::query("DELETE FROM cells WHERE id = ?")
            .bind(cell_id)
            .execute(&mut *tx)
            .await?;
        let order = cell_order(&mut tx, notebook_id).await?;
        renumber(&mut tx, notebook_id, &order).await?;
        touch(&mut tx, notebook_id).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Records the summary of a cell's last run (batched with other writes; durable on return).
    pub async fn set_cell_last_run(
        &self,
        cell_id: i64,
        summary: &serde_json::Value,
    ) -> Result<(), StoreError> {
        self.commits
            .submit(crate::group_commit::Op::LastRunOfCell {
                cell_id,
                summary: summary.to_string(),
            })
            .await?;
        Ok(())
    }
}
