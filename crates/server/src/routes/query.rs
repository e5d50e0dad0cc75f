//! `POST /api/v1/query`: ad-hoc SQL on a connection, same checks and limits as a cell.

use crate::RequestDeadline;
use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::sqlrun;
use crate::state::SharedState;
use axum::Extension;
use axum::extract::State;
use axum::response::Response;
use serde::Deserialize;

/// Request body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueryRequest {
    connection_id: i64,
    sql: String,
    max_rows: Option<usize>,
}

/// Runs the statement and streams its result.
pub async fn run(
    State(state): State<SharedState>,
    Extension(deadline): Extension<RequestDeadline>,
    ApiJson(body): ApiJson<QueryRequest>,
) -> Result<Response, ApiError> {
    let max_rows = sqlrun::row_cap(&state, body.max_rows)?;
    let started =
        sqlrun::start(&state, body.connection_id, &body.sql, max_rows, deadline.0).await?;
    Ok(sqlrun::respond(
        state.clone(),
        started,
        sqlrun::OnFinish::Nothing,
    ))
}
