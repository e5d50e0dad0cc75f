//! The Querypad server as a library: the binary (`main.rs`) parses the command line and calls
//! [`start`]; integration tests call the same function on port 0, so they test the real thing.

pub mod agent_service;
pub mod config;
pub mod databases;
pub mod demo;
pub mod error;
pub mod extract;
pub mod logging;
pub mod mcp;
pub mod observe;
pub mod routes;
pub mod runs;
pub mod session;
pub mod sqlrun;
pub mod state;
pub mod telemetry;
pub mod time;
pub mod ui;

mod middleware;

use crate::config::Config;
use crate::databases::Databases;
use crate::state::{AppState, SharedState};
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post, put};
use querypad_engines::PoolSettings;
use querypad_store::{SecretBox, Store, StoreError};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// The deadline of the current request, put in its extensions by the deadline middleware and
/// passed down to every database call the request makes.
#[derive(Debug, Clone, Copy)]
pub struct RequestDeadline(pub tokio::time::Instant);

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The data directory could not be created or used.
    #[error("data directory {path}: {source}")]
    DataDir {
        /// The directory.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The metadata store failed to open or migrate.
    #[error("metadata store: {0}")]
    Store(#[from] StoreError),
    /// The configuration is invalid.
    #[error("{0}")]
    Config(#[from] config::ConfigError),
    /// The LLM provider settings are unusable.
    #[error("LLM provider: {0}")]
    Llm(#[from] querypad_llm::LlmError),
    /// A deliberate refusal (e.g. a public address without tokens).
    #[error("{0}")]
    Refused(String),
    /// The listening socket could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
}

/// Opens the data directory and metadata store named by `config`.
pub async fn open_store(config: &Config) -> Result<Store, StartError> {
    let dir = &config.server.data_dir;
    std::fs::create_dir_all(dir).map_err(|source| StartError::DataDir {
        path: dir.display().to_string(),
        source,
    })?;
    let secrets = SecretBox::load_or_create(&config.secret_key_file())?;
    Ok(Store::open(&dir.join("querypad.db"), secrets).await?)
}

/// Builds the shared state: store opened and migrated, demo registered on a fresh start.
pub async fn build_state(config: Config) -> Result<SharedState, StartError> {
    let store = open_store(&config).await?;
    if config.server.demo {
        demo::seed(&store, &config.server.data_dir).await?;
    }
    let settings = PoolSettings {
        max_connections: config.database.pool_max_connections,
        connect_timeout: Duration::from_secs_f64(config.database.connect_timeout_secs),
        acquire_timeout: config.request_timeout(),
    };
    let orphaned = store.fail_orphaned_runs().await?;
    if orphaned > 0 {
        tracing::warn!(
            orphaned,
            "marked runs interrupted by the last stop as failed"
        );
    }
    telemetry::install();
    let llm = agent_service::llm_settings(&config)?;
    match &llm {
        Some(s) => tracing::info!(
            provider = s.provider.name(),
            model = s.provider.model(),
            "agent uses an LLM provider"
        ),
        None => tracing::info!("no LLM provider configured"),
    }
    let runs = Arc::new(runs::Runs::new(config.agent.max_concurrent_runs));
    Ok(Arc::new(AppState {
        config,
        store,
        databases: Databases::new(settings),
        runs,
        llm,
        tasks: tokio_util::task::TaskTracker::new(),
        draining: AtomicBool::new(false),
    }))
}

/// Refuses a non-loopback address while no API token exists: an open SQL endpoint on a
/// network is never a default.
pub async fn check_exposure(state: &SharedState, addr: SocketAddr) -> Result<(), StartError> {
    if !addr.ip().is_loopback() && !state.store.has_tokens().await? {
        return Err(StartError::Refused(format!(
            "refusing to listen on {addr} without API tokens: create one with `querypad token create --name NAME`, or bind 127.0.0.1"
        )));
    }
    Ok(())
}

/// The whole HTTP surface.
pub fn router(state: SharedState) -> Router {
    use routes::{agent, connections, health, notebooks, query};
    let api = Router::new()
        .route(
            "/api/v1/connections",
            get(connections::list).post(connections::create),
        )
        .route(
            "/api/v1/connections/{id}",
            get(connections::get)
                .patch(connections::update)
                .delete(connections::delete),
        )
        .route("/api/v1/connections/{id}/test", post(connections::test))
        .route("/api/v1/connections/{id}/schema", get(connections::schema))
        .route(
            "/api/v1/notebooks",
            get(notebooks::list).post(notebooks::create),
        )
        .route(
            "/api/v1/notebooks/{id}",
            get(notebooks::get)
                .patch(notebooks::update)
                .delete(notebooks::delete),
        )
        .route(
            "/api/v1/notebooks/{id}/cells",
            get(notebooks::list_cells).post(notebooks::create_cell),
        )
        .route(
            "/api/v1/notebooks/{id}/cells/order",
            put(notebooks::reorder_cells),
        )
        .route(
            "/api/v1/notebooks/{id}/cells/{cell_id}",
            get(notebooks::get_cell)
                .patch(notebooks::update_cell)
                .delete(notebooks::delete_cell),
        )
        .route(
            "/api/v1/notebooks/{id}/cells/{cell_id}/run",
            post(notebooks::run_cell),
        )
        .route("/api/v1/query", post(query::run))
        .route("/mcp_agent/text-to-sql/", post(agent::text_to_sql))
        .route("/mcp_agent/text-to-sql", post(agent::text_to_sql))
        .route("/api/v1/agent/runs", post(agent::create_run))
        .route("/api/v1/agent/runs/{id}", get(agent::get_run))
        .route("/api/v1/agent/runs/{id}/events", get(agent::run_events))
        .route("/api/v1/agent/runs/{id}/cancel", post(agent::cancel_run))
        .route(
            "/api/v1/session",
            get(session::status)
                .post(session::sign_in)
                .delete(session::sign_out),
        );
    let web = Router::new()
        .route("/", get(ui::index))
        .route("/favicon.ico", get(ui::favicon))
        .route("/assets/{*path}", get(ui::asset));
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(health::metrics))
        .merge(api)
        // MCP sessions end with the runs' shutdown token (see `Server::serve`).
        .merge(mcp::router(
            state.clone(),
            state.runs.shutdown.child_token(),
        ))
        .merge(web)
        .route_layer(axum::middleware::from_fn(observe::record_route))
        .fallback(middleware::not_found)
        .method_not_allowed_fallback(middleware::method_not_allowed)
        .layer(DefaultBodyLimit::max(state.config.server.max_body_bytes))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            middleware::auth,
        ))
        .layer(axum::Extension(Arc::new(session::Sessions::new())))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            middleware::deadline,
        ))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(
            middleware::panic_response,
        ))
        .layer(axum::middleware::from_fn(observe::observe))
        .with_state(state)
}

/// A bound, not yet serving, server.
pub struct Server {
    listener: tokio::net::TcpListener,
    state: SharedState,
}

/// Binds `config.server.bind` (port 0 picks a free one), after the exposure check.
pub async fn start(config: Config) -> Result<Server, StartError> {
    let addr = config.bind_addr()?;
    let state = build_state(config).await?;
    check_exposure(&state, addr).await?;
    let listener = listen(addr, state.config.server.listen_backlog)
        .map_err(|source| StartError::Bind { addr, source })?;
    Ok(Server { listener, state })
}

/// Binds with our own backlog (tokio's `bind` fixes it at 1024, too few for a burst of
/// thousands of agent requests: the overflow loses SYNs and clients stall in retransmits).
fn listen(addr: SocketAddr, backlog: u32) -> std::io::Result<tokio::net::TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(backlog)
}

impl Server {
    /// The address actually bound.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// The shared state (tests use it to inspect the store).
    pub fn state(&self) -> SharedState {
        self.state.clone()
    }

    /// Serves until `shutdown` resolves. Then: stop accepting, answer `/readyz` with 503 on
    /// open connections, let requests and agent runs finish within `server.drain_timeout_secs`,
    /// cancel the runs still going (they answer `degraded`/`failed`, and their SSE streams get
    /// the final event), and close the pools and the store.
    pub async fn serve(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        use hyper_util::rt::{TokioIo, TokioTimer};
        let state = self.state.clone();
        let app = router(state.clone());
        let graceful = hyper_util::server::graceful::GracefulShutdown::new();
        let limit = Arc::new(tokio::sync::Semaphore::new(
            state.config.server.max_connections,
        ));
        let keep_alive = Duration::from_secs_f64(state.config.server.keep_alive_secs);
        let _ = sd_notify::notify(&[sd_notify::NotifyState::Ready]);
        let watchdog = spawn_watchdog(state.clone());
        tokio::pin!(shutdown);
        loop {
            let permit = tokio::select! {
                biased;
                _ = &mut shutdown => break,
                p = limit.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
            };
            let stream = tokio::select! {
                biased;
                _ = &mut shutdown => break,
                r = self.listener.accept() => match r {
                    Ok((stream, _peer)) => stream,
                    Err(e) => {
                        // Out of file descriptors and the like: back off instead of spinning.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
            };
            let _ = stream.set_nodelay(true);
            let svc = hyper_util::service::TowerToHyperService::new(app.clone());
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .keep_alive(true)
                .header_read_timeout(keep_alive);
            let conn = graceful.watch(builder.serve_connection(TokioIo::new(stream), svc));
            tokio::spawn(async move {
                let _ = conn.await;
                drop(permit);
            });
        }
        drop(self.listener);
        state.draining.store(true, Ordering::SeqCst);
        let _ = sd_notify::notify(&[sd_notify::NotifyState::Stopping]);
        let drain = Duration::from_secs_f64(state.config.server.drain_timeout_secs);
        tracing::info!(
            drain_secs = drain.as_secs_f64(),
            runs = state.runs.active(),
            "shutting down: no new connections; draining"
        );
        let deadline = tokio::time::Instant::now() + drain;
        state.tasks.close();
        let connections = graceful.shutdown();
        let runs = async {
            if tokio::time::timeout_at(deadline, state.tasks.wait())
                .await
                .is_ok()
            {
                // Every run has answered: end the MCP sessions, whose open event streams would
                // otherwise hold their connections until the drain timeout.
                state.runs.shutdown.cancel();
            } else {
                tracing::warn!(
                    runs = state.runs.active(),
                    "drain timeout reached: cancelling the runs still going"
                );
                state.runs.shutdown.cancel();
                let _ = tokio::time::timeout(Duration::from_secs(5), state.tasks.wait()).await;
            }
        };
        let _ = tokio::time::timeout_at(deadline + Duration::from_secs(6), async {
            tokio::join!(runs, connections)
        })
        .await;
        if let Some(w) = watchdog {
            w.abort();
        }
        state.databases.close_all().await;
        state.store.close().await;
        tracing::info!("stopped");
        Ok(())
    }
}

/// Under systemd with `WatchdogSec`, pings the watchdog at half the interval while the metadata
/// store answers; a wedged process stops pinging and systemd restarts it.
fn spawn_watchdog(state: SharedState) -> Option<tokio::task::JoinHandle<()>> {
    let interval = sd_notify::watchdog_enabled()?;
    let every = interval / 2;
    Some(tokio::spawn(async move {
        loop {
            tokio::time::sleep(every).await;
            match tokio::time::timeout(every, state.store.health()).await {
                Ok(Ok(())) => {
                    let _ = sd_notify::notify(&[sd_notify::NotifyState::Watchdog]);
                }
                Ok(Err(e)) => {
                    tracing::error!(error = %e, "watchdog: metadata store unhealthy; not pinging")
                }
                Err(_) => tracing::error!("watchdog: metadata store did not answer; not pinging"),
            }
        }
    }))
}
