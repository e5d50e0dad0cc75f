//! `/api/v1/connections`: CRUD, test, schema. Passwords are write-only.

use crate::databases::{kind_name, parse_kind, parse_tls, tls_name};
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::routes::double_option;
use crate::state::SharedState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use querypad_engines::{ConnectSpec, Kind};
use querypad_store::{Connection, ConnectionPatch, NewConnection};
use serde::Deserialize;
use std::time::Duration;

/// Body of `POST /api/v1/connections`: either a `url` or fields (fields override the URL's).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateConnection {
    name: String,
    kind: Option<String>,
    url: Option<String>,
    host: Option<String>,
    port: Option<u16>,
    database: Option<String>,
    username: Option<String>,
    password: Option<String>,
    path: Option<String>,
    tls_mode: Option<String>,
    #[serde(default)]
    allow_writes: bool,
}

/// Body of `PATCH /api/v1/connections/{id}`.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct UpdateConnection {
    name: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    host: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    port: Option<Option<u16>>,
    #[serde(default, deserialize_with = "double_option")]
    database: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    username: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    password: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    path: Option<Option<String>>,
    tls_mode: Option<String>,
    allow_writes: Option<bool>,
}

fn validate_name(name: &str) -> Result<(), ApiError> {
    if name.trim().is_empty() || name.len() > 200 {
        return Err(ApiError::invalid("name must be 1 to 200 characters"));
    }
    Ok(())
}

/// Checks the fields a kind needs, so a broken record is refused at creation, not at first use.
fn validate_fields(kind: Kind, c: &NewConnection) -> Result<(), ApiError> {
    match kind {
        Kind::Sqlite => {
            if c.path.as_deref().is_none_or(|p| p.trim().is_empty()) {
                return Err(ApiError::invalid(
                    "a sqlite connection needs path (the database file)",
                ));
            }
        }
        Kind::Postgres | Kind::Mysql => {
            if c.host.as_deref().is_none_or(|h| h.trim().is_empty()) {
                return Err(ApiError::invalid(format!(
                    "a {} connection needs host",
                    c.kind
                )));
            }
            if c.database.as_deref().is_none_or(|d| d.trim().is_empty()) {
                return Err(ApiError::invalid(format!(
                    "a {} connection needs database",
                    c.kind
                )));
            }
            if c.path.is_some() {
                return Err(ApiError::invalid("path is only for sqlite connections"));
            }
        }
    }
    Ok(())
}

/// `GET /api/v1/connections`
pub async fn list(State(state): State<SharedState>) -> Result<Json<Vec<Connection>>, ApiError> {
    Ok(Json(state.store.list_connections().await?))
}

/// `POST /api/v1/connections`
pub async fn create(
    State(state): State<SharedState>,
    ApiJson(body): ApiJson<CreateConnection>,
) -> Result<impl IntoResponse, ApiError> {
    validate_name(&body.name)?;
    let from_url = match &body.url {
        Some(url) => {
            Some(ConnectSpec::from_url(url).map_err(|e| ApiError::invalid(e.to_string()))?)
        }
        None => None,
    };
    let kind = match (&body.kind, &from_url) {
        (Some(k), _) => parse_kind(k)?,
        (None, Some(spec)) => spec.kind,
        (None, None) => {
            return Err(ApiError::invalid(
                "give kind (sqlite, postgres, mysql) or url",
            ));
        }
    };
    if let Some(spec) = &from_url
        && spec.kind != kind
    {
        return Err(ApiError::invalid("kind does not match the url's scheme"));
    }
    let u = from_url.as_ref();
    let tls = match &body.tls_mode {
        Some(t) => parse_tls(t)?,
        None => u.map(|s| s.tls).unwrap_or_default(),
    };
    let new = NewConnection {
        name: body.name.trim().to_string(),
        kind: kind_name(kind).to_string(),
        host: body.host.or_else(|| u.and_then(|s| s.host.clone())),
        port: body.port.or_else(|| u.and_then(|s| s.port)),
        database: body.database.or_else(|| u.and_then(|s| s.database.clone())),
        username: body.username.or_else(|| u.and_then(|s| s.username.clone())),
        password: body.password.or_else(|| u.and_then(|s| s.password.clone())),
        path: body.path.or_else(|| u.and_then(|s| s.path.clone())),
        tls_mode: tls_name(tls),
        allow_writes: body.allow_writes || u.is_some_and(|s| s.allow_writes),
    };
    validate_fields(kind, &new)?;
    let created = state.store.create_connection(new).await?;
    tracing::info!(connection_id = created.id, kind = %created.kind, "connection created");
    Ok((StatusCode::CREATED, Json(created)))
}

/// `GET /api/v1/connections/{id}`
pub async fn get(
    State(state): State<SharedState>,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<Connection>, ApiError> {
    Ok(Json(state.store.get_connection(id).await?))
}

/// `PATCH /api/v1/connections/{id}`
pub async fn update(
    State(state): State<SharedState>,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<UpdateConnection>,
) -> Result<Json<Connection>, ApiError> {
    let current = state.store.get_connection(id).await?;
    if let Some(name) = &body.name {
        validate_name(name)?;
    }
    let tls_mode = body
        .tls_mode
        .as_deref()
        .map(parse_tls)
        .transpose()?
        .map(tls_name);
    // Validate the record as it will be after the patch.
    let kind = parse_kind(&current.kind)?;
    let after = NewConnection {
        name: body.name.clone().unwrap_or(current.name.clone()),
        kind: current.kind.clone(),
        host: body.host.clone().unwrap_or(current.host.clone()),
        port: body.port.unwrap_or(current.port),
        database: body.database.clone().unwrap_or(current.database.clone()),
        username: body.username.clone().unwrap_or(current.username.clone()),
        password: None,
        path: body.path.clone().unwrap_or(current.path.clone()),
        tls_mode: tls_mode.clone().unwrap_or(current.tls_mode.clone()),
        allow_writes: body.allow_writes.unwrap_or(current.allow_writes),
    };
    validate_fields(kind, &after)?;
    let patch = ConnectionPatch {
        name: body.name.map(|n| n.trim().to_string()),
        host: body.host,
        port: body.port,
        database: body.database,
        username: body.username,
        password: body.password,
        path: body.path,
        tls_mode,
        allow_writes: body.allow_writes,
    };
    let updated = state.store.update_connection(id, patch).await?;
    state.databases.invalidate(id).await;
    Ok(Json(updated))
}

/// `DELETE /api/v1/connections/{id}`
pub async fn delete(
    State(state): State<SharedState>,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode, ApiError> {
    state.store.delete_connection(id).await?;
    state.databases.invalidate(id).await;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/v1/connections/{id}/test`: server version and round-trip time, or why not.
pub async fn test(
    State(state): State<SharedState>,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let conn = state.store.get_connection(id).await?;
    let db = state.databases.get(&state.store, &conn).await?;
    let timeout = Duration::from_secs_f64(state.config.database.connect_timeout_secs);
    let info = db
        .ping(timeout)
        .await
        .map_err(|e| ApiError::from(e).for_connection(conn.id, &conn.name))?;
    Ok(Json(serde_json::json!({
        "ok": true,
        "connection_id": id,
        "flavor": info.flavor,
        "version": info.version,
        "rtt_ms": info.rtt_ms,
    })))
}

/// Query string of the schema endpoint.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SchemaQuery {
    #[serde(default)]
    refresh: bool,
}

/// `GET /api/v1/connections/{id}/schema[?refresh=true]`
pub async fn schema(
    State(state): State<SharedState>,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(q): ApiQuery<SchemaQuery>,
) -> Result<impl IntoResponse, ApiError> {
    let conn = state.store.get_connection(id).await?;
    let cached = state
        .databases
        .catalog(&state.store, &conn, q.refresh, state.config.query_timeout())
        .await?;
    let mut body = serde_json::to_value(&*cached).map_err(ApiError::internal)?;
    body["connection_id"] = id.into();
    Ok(Json(body))
}
