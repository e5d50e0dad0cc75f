//! The agent over HTTP: the seed's synchronous endpoint (JSON, or SSE when asked), runs as
//! resources, live events with `Last-Event-ID` resume, and cancellation.

use crate::agent_service::{self, Record, StartRun};
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath};
use crate::runs::{Logged, RunHandle};
use crate::state::SharedState;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

fn wants_sse(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/event-stream"))
}

fn last_event_id(headers: &HeaderMap) -> u64 {
    headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

/// `POST /mcp_agent/text-to-sql/`: the seed's contract. Answers the whole response as JSON
/// when the run ends (always within the workflow deadline), or streams the run's events when
/// the client sends `Accept: text/event-stream`.
pub async fn text_to_sql(
    State(state): State<SharedState>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<StartRun>,
) -> Result<Response, ApiError> {
    let handle = agent_service::start(&state, body, Record::Alongside).await?;
    if wants_sse(&headers) {
        return Ok(sse(handle, 0).into_response());
    }
    let wait =
        Duration::from_secs_f64(state.config.agent.workflow_timeout_secs) + Duration::from_secs(1);
    match handle.wait(tokio::time::Instant::now() + wait).await {
        Some(response) => Ok(Json(response).into_response()),
        None => Err(ApiError::new(
            StatusCode::GATEWAY_TIMEOUT,
            "deadline_exceeded",
            format!(
                "the run {} did not finish in time; read it later at /api/v1/agent/runs/{}",
                handle.id, handle.id
            ),
        )),
    }
}

/// `POST /api/v1/agent/runs`: starts a run and answers 202 with its id at once.
pub async fn create_run(
    State(state): State<SharedState>,
    ApiJson(body): ApiJson<StartRun>,
) -> Result<Response, ApiError> {
    let handle = agent_service::start(&state, body, Record::BeforeStart).await?;
    let id = &handle.id;
    Ok((
        StatusCode::ACCEPTED,
        [(header::LOCATION, format!("/api/v1/agent/runs/{id}"))],
        Json(json!({
            "run_id": id,
            "status": "running",
            "url": format!("/api/v1/agent/runs/{id}"),
            "events_url": format!("/api/v1/agent/runs/{id}/events"),
        })),
    )
        .into_response())
}

/// `GET /api/v1/agent/runs/{id}`: the response once finished, else the progress so far.
pub async fn get_run(
    State(state): State<SharedState>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Value>, ApiError> {
    if let Some(h) = state.runs.get(&id) {
        if let Some(r) = h.response() {
            return Ok(Json(r));
        }
        let (events, _) = h.events_after(0);
        return Ok(Json(json!({
            "run_id": id,
            "status": "running",
            "events": events.len(),
            "last_event": events.last().map(|e| e.kind.clone()),
        })));
    }
    match state.store.get_run(&id).await? {
        Some(rec) => Ok(Json(
            rec.response
                .unwrap_or_else(|| json!({"run_id": rec.id, "status": rec.status})),
        )),
        None => Err(ApiError::not_found("run", &id)),
    }
}

/// `GET /api/v1/agent/runs/{id}/events`: SSE. Resumes after `Last-Event-ID`; a finished run's
/// stored events are replayed.
pub async fn run_events(
    State(state): State<SharedState>,
    headers: HeaderMap,
    ApiPath(id): ApiPath<String>,
) -> Result<Response, ApiError> {
    let after = last_event_id(&headers);
    if let Some(h) = state.runs.get(&id) {
        return Ok(sse(h, after).into_response());
    }
    let Some(rec) = state.store.get_run(&id).await? else {
        return Err(ApiError::not_found("run", &id));
    };
    let mut events: Vec<Logged> = rec
        .events
        .and_then(|v| v.as_array().cloned())
        .unwrap_or_default()
        .into_iter()
        .filter_map(|e| {
            Some(Logged {
                seq: e["seq"].as_u64()?,
                kind: e["type"].as_str()?.to_string(),
                data: e["data"].clone(),
            })
        })
        .collect();
    // The stored log ends before `finished`: that event carries the response, which the store
    // keeps once, in its own column. It is rebuilt here as the live stream sent it.
    if let Some(response) = rec.response
        && events.last().is_none_or(|e| e.kind != "finished")
    {
        events.push(Logged {
            seq: events.last().map_or(1, |e| e.seq + 1),
            kind: "finished".into(),
            data: crate::runs::finished_data(response, None),
        });
    }
    events.retain(|e| e.seq > after);
    let stream =
        futures_util::stream::iter(events.into_iter().map(|e| Ok::<_, Infallible>(to_sse(&e))));
    Ok(Sse::new(stream).into_response())
}

/// `POST /api/v1/agent/runs/{id}/cancel`
pub async fn cancel_run(
    State(state): State<SharedState>,
    ApiPath(id): ApiPath<String>,
) -> Result<Response, ApiError> {
    match state.runs.get(&id) {
        Some(h) if h.response().is_none() => {
            h.cancel.cancel();
            Ok((
                StatusCode::ACCEPTED,
                Json(json!({"run_id": id, "cancelling": true})),
            )
                .into_response())
        }
        Some(_) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "run_finished",
            format!("run {id} has already finished"),
        )),
        None => match state.store.get_run(&id).await? {
            Some(_) => Err(ApiError::new(
                StatusCode::CONFLICT,
                "run_finished",
                format!("run {id} has already finished"),
            )),
            None => Err(ApiError::not_found("run", &id)),
        },
    }
}

fn to_sse(e: &Logged) -> SseEvent {
    SseEvent::default()
        .id(e.seq.to_string())
        .event(e.kind.clone())
        .data(e.data.to_string())
}

struct Follow {
    handle: Arc<RunHandle>,
    after: u64,
    buf: VecDeque<Logged>,
    rx: tokio::sync::watch::Receiver<u64>,
    done: bool,
}

/// Follows a live run: sends what is logged after `after`, then waits for more, and ends after
/// `finished`. Keep-alive comments every 15 s keep proxies from timing the stream out.
fn sse(
    handle: Arc<RunHandle>,
    after: u64,
) -> Sse<impl futures_util::Stream<Item = Result<SseEvent, Infallible>>> {
    let rx = handle.subscribe();
    let follow = Follow {
        handle,
        after,
        buf: VecDeque::new(),
        rx,
        done: false,
    };
    let stream = futures_util::stream::unfold(follow, |mut f| async move {
        loop {
            if let Some(e) = f.buf.pop_front() {
                f.after = e.seq;
                return Some((Ok(to_sse(&e)), f));
            }
            if f.done {
                return None;
            }
            let (events, finished) = f.handle.events_after(f.after);
            if !events.is_empty() {
                f.buf.extend(events);
                continue;
            }
            if finished {
                f.done = true;
                continue;
            }
            if f.rx.changed().await.is_err() {
                f.done = true;
            }
        }
    });
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}
