//! `/api/v1/notebooks` and their cells, including running a SQL cell.

use crate::RequestDeadline;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath};
use crate::routes::double_option;
use crate::sqlrun;
use crate::state::SharedState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use querypad_store::{Cell, CellKind, CellPatch, NewCell, Notebook, NotebookPatch};
use serde::Deserialize;

const MAX_TITLE: usize = 500;
const MAX_SOURCE: usize = 512 * 1024;

/// Body of `POST /api/v1/notebooks`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateNotebook {
    title: String,
    connection_id: Option<i64>,
}

/// Body of `PATCH /api/v1/notebooks/{id}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateNotebook {
    title: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    connection_id: Option<Option<i64>>,
}

/// Body of `POST /api/v1/notebooks/{id}/cells`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateCell {
    kind: CellKind,
    #[serde(default)]
    source: String,
    position: Option<i64>,
    connection_id: Option<i64>,
}

/// Body of `PATCH /api/v1/notebooks/{id}/cells/{cell_id}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateCell {
    kind: Option<CellKind>,
    source: Option<String>,
    position: Option<i64>,
    #[serde(default, deserialize_with = "double_option")]
    connection_id: Option<Option<i64>>,
}

/// Body of `PUT /api/v1/notebooks/{id}/cells/order`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CellOrder {
    cell_ids: Vec<i64>,
}

/// Body of `POST …/cells/{cell_id}/run` (optional).
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RunCell {
    max_rows: Option<usize>,
}

fn check_title(t: &str) -> Result<(), ApiError> {
    if t.trim().is_empty() || t.len() > MAX_TITLE {
        return Err(ApiError::invalid(format!(
            "title must be 1 to {MAX_TITLE} characters"
        )));
    }
    Ok(())
}

fn check_source(s: &str) -> Result<(), ApiError> {
    if s.len() > MAX_SOURCE {
        return Err(ApiError::invalid(format!(
            "source must be at most {MAX_SOURCE} bytes"
        )));
    }
    Ok(())
}

/// Maps "the referenced connection does not exist" on a notebook or cell write to 422, since
/// the notebook itself was found.
fn referenced(e: querypad_store::StoreError) -> ApiError {
    match e {
        querypad_store::StoreError::NotFound {
            what: "connection",
            id,
        } => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "connection_not_found",
            format!("connection {id} not found"),
        ),
        other => other.into(),
    }
}

/// `GET /api/v1/notebooks`
pub async fn list(State(state): State<SharedState>) -> Result<Json<Vec<Notebook>>, ApiError> {
    Ok(Json(state.store.list_notebooks().await?))
}

/// `POST /api/v1/notebooks`
pub async fn create(
    State(state): State<SharedState>,
    ApiJson(body): ApiJson<CreateNotebook>,
) -> Result<impl IntoResponse, ApiError> {
    check_title(&body.title)?;
    let nb = state
        .store
        .create_notebook(body.title.trim(), body.connection_id)
        .await
        .map_err(referenced)?;
    Ok((StatusCode::CREATED, Json(nb)))
}

/// `GET /api/v1/notebooks/{id}`: the notebook with its cells.
pub async fn get(
    State(state): State<SharedState>,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let nb = state.store.get_notebook(id).await?;
    let cells = state.store.list_cells(id).await?;
    let mut body = serde_json::to_value(nb).map_err(ApiError::internal)?;
    body["cells"] = serde_json::to_value(cells).map_err(ApiError::internal)?;
    Ok(Json(body))
}

/// `PATCH /api/v1/notebooks/{id}`
pub async fn update(
    State(state): State<SharedState>,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<UpdateNotebook>,
) -> Result<Json<Notebook>, ApiError> {
    if let Some(t) = &body.title {
        check_title(t)?;
    }
    state.store.get_notebook(id).await?;
    let patch = NotebookPatch {
        title: body.title.map(|t| t.trim().to_string()),
        connection_id: body.connection_id,
    };
    Ok(Json(
        state
            .store
            .update_notebook(id, patch)
            .await
            .map_err(referenced)?,
    ))
}

/// `DELETE /api/v1/notebooks/{id}`
pub async fn delete(
    State(state): State<SharedState>,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode, ApiError> {
    state.store.delete_notebook(id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/v1/notebooks/{id}/cells`
pub async fn list_cells(
    State(state): State<SharedState>,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<Vec<Cell>>, ApiError> {
    Ok(Json(state.store.list_cells(id).await?))
}

/// `POST /api/v1/notebooks/{id}/cells`
pub async fn create_cell(
    State(state): State<SharedState>,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<CreateCell>,
) -> Result<impl IntoResponse, ApiError> {
    check_source(&body.source)?;
    state.store.get_notebook(id).await?;
    let cell = state
        .store
        .create_cell(
            id,
            NewCell {
                kind: body.kind,
                source: body.source,
                position: body.position,
                connection_id: body.connection_id,
            },
        )
        .await
        .map_err(referenced)?;
    Ok((StatusCode::CREATED, Json(cell)))
}

/// `GET /api/v1/notebooks/{id}/cells/{cell_id}`
pub async fn get_cell(
    State(state): State<SharedState>,
    ApiPath((id, cell_id)): ApiPath<(i64, i64)>,
) -> Result<Json<Cell>, ApiError> {
    Ok(Json(state.store.get_cell(id, cell_id).await?))
}

/// `PATCH /api/v1/notebooks/{id}/cells/{cell_id}`
pub async fn update_cell(
    State(state): State<SharedState>,
    ApiPath((id, cell_id)): ApiPath<(i64, i64)>,
    ApiJson(body): ApiJson<UpdateCell>,
) -> Result<Json<Cell>, ApiError> {
    if let Some(s) = &body.source {
        check_source(s)?;
    }
    state.store.get_cell(id, cell_id).await?;
    let patch = CellPatch {
        kind: body.kind,
        source: body.source,
        position: body.position,
        connection_id: body.connection_id,
    };
    Ok(Json(
        state
            .store
            .update_cell(id, cell_id, patch)
            .await
            .map_err(referenced)?,
    ))
}

/// `DELETE /api/v1/notebooks/{id}/cells/{cell_id}`
pub async fn delete_cell(
    State(state): State<SharedState>,
    ApiPath((id, cell_id)): ApiPath<(i64, i64)>,
) -> Result<StatusCode, ApiError> {
    state.store.delete_cell(id, cell_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `PUT /api/v1/notebooks/{id}/cells/order`
pub async fn reorder_cells(
    State(state): State<SharedState>,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<CellOrder>,
) -> Result<Json<Vec<Cell>>, ApiError> {
    Ok(Json(state.store.reorder_cells(id, &body.cell_ids).await?))
}

/// `POST /api/v1/notebooks/{id}/cells/{cell_id}/run`: runs a SQL cell on its connection (or the
/// notebook's), streams the result, and records a summary on the cell.
pub async fn run_cell(
    State(state): State<SharedState>,
    Extension(deadline): Extension<RequestDeadline>,
    ApiPath((id, cell_id)): ApiPath<(i64, i64)>,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let body: RunCell = crate::extract::optional_json(&body)?;
    let nb = state.store.get_notebook(id).await?;
    let cell = state.store.get_cell(id, cell_id).await?;
    if cell.kind != CellKind::Sql {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "cell_not_sql",
            format!("cell {cell_id} is a markdown cell; only SQL cells run"),
        ));
    }
    let Some(connection_id) = cell.connection_id.or(nb.connection_id) else {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "no_connection",
            "neither the cell nor the notebook has a connection; set the notebook's connection_id",
        ));
    };
    let max_rows = sqlrun::row_cap(&state, body.max_rows)?;
    match sqlrun::start(&state, connection_id, &cell.source, max_rows, deadline.0).await {
        Ok(run) => Ok(sqlrun::respond(
            state.clone(),
            run,
            sqlrun::OnFinish::CellSummary { cell_id },
        )),
        Err(e) => Err(sqlrun::record_start_failure(&state, cell_id, e).await),
    }
}
