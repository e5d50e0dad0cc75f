//! Shared server state handed to every handler.

use crate::config::Config;
use crate::databases::Databases;
use crate::runs::Runs;
use querypad_store::Store;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

/// Everything a handler needs; cloned cheaply as `Arc<AppState>`.
pub struct AppState {
    /// Effective configuration.
    pub config: Config,
    /// Metadata store.
    pub store: Store,
    /// Pools and cached schemas of user databases.
    pub databases: Databases,
    /// Agent runs in progress and recently finished.
    pub runs: Arc<Runs>,
    /// The LLM generator's settings (shared HTTP client and call permits), when configured.
    pub llm: Option<querypad_agent::LlmSettings>,
    /// Background work (agent runs) that shutdown waits for.
    pub tasks: tokio_util::task::TaskTracker,
    /// Set when shutdown begins, so `/readyz` turns 503 while in-flight work drains.
    pub draining: AtomicBool,
}

/// The handle handlers receive.
pub type SharedState = Arc<AppState>;
