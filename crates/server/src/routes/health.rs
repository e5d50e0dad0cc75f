//! `/healthz` (the process answers) and `/readyz` (it can serve: store reachable, migrations
//! applied, not draining).

use crate::state::SharedState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use std::sync::atomic::Ordering;

/// Liveness.
pub async fn healthz() -> Json<serde_json::Value> {
    Json(serde_json::json!({"status": "ok", "version": env!("CARGO_PKG_VERSION")}))
}

/// Readiness.
pub async fn readyz(State(state): State<SharedState>) -> (StatusCode, Json<serde_json::Value>) {
    if state.draining.load(Ordering::SeqCst) {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(serde_json::json!({"status": "draining"})),
        );
    }
    match state.store.health().await {
        Ok(()) => (StatusCode::OK, Json(serde_json::json!({"status": "ready"}))),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(
                    serde_json::json!({"status": "unavailable", "reason": "metadata store unavailable"}),
                ),
            )
        }
    }
}

/// Prometheus metrics, with pool figures per user connection refreshed at scrape time.
pub async fn metrics(State(state): State<SharedState>) -> impl axum::response::IntoResponse {
    for (id, status) in state.databases.pool_statuses().await {
        let id = id.to_string();
        metrics::gauge!("querypad_db_pool_connections", "connection_id" => id.clone(), "state" => "open").set(f64::from(status.size));
        metrics::gauge!("querypad_db_pool_connections", "connection_id" => id, "state" => "idle")
            .set(f64::from(status.idle));
    }
    metrics::gauge!("querypad_agent_runs_active").set(state.runs.active() as f64);
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        crate::telemetry::render(),
    )
}
