//! Logging: an application log and an access log, each to stderr (journald under systemd) or to
//! a file rotated daily with a retention count, as text or JSON.
//!
//! Access lines use the target `querypad::access`, so they go to their own destination and the
//! application log stays readable.

use crate::config::LogConfig;
use std::path::Path;
use tracing_appender::non_blocking::WorkerGuard;
use tracing_appender::rolling::{RollingFileAppender, Rotation};
use tracing_subscriber::Layer;
use tracing_subscriber::filter::{EnvFilter, filter_fn};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// The tracing target of access-log lines.
pub const ACCESS_TARGET: &str = "querypad::access";

/// Keeps the background log writers alive; dropping it flushes them.
pub struct LogGuards(#[allow(dead_code)] Vec<WorkerGuard>);

/// Why logging could not start.
#[derive(Debug, thiserror::Error)]
#[error("cannot open log file {path}: {message}")]
pub struct LogError {
    /// The file.
    pub path: String,
    /// The cause.
    pub message: String,
}

type BoxedWriter = tracing_appender::non_blocking::NonBlocking;

fn writer_for(
    dest: &str,
    retention: usize,
    guards: &mut Vec<WorkerGuard>,
) -> Result<BoxedWriter, LogError> {
    let (writer, guard) = if dest == "-" {
        tracing_appender::non_blocking(std::io::stderr())
    } else {
        let path = Path::new(dest);
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("querypad.log");
        let (prefix, suffix) = match name.rsplit_once('.') {
            Some((p, s)) => (p.to_string(), s.to_string()),
            None => (name.to_string(), "log".to_string()),
        };
        std::fs::create_dir_all(dir).map_err(|e| LogError {
            path: dest.into(),
            message: e.to_string(),
        })?;
        let appender = RollingFileAppender::builder()
            .rotation(Rotation::DAILY)
            .filename_prefix(prefix)
            .filename_suffix(suffix)
            .max_log_files(retention)
            .build(dir)
            .map_err(|e| LogError {
                path: dest.into(),
                message: e.to_string(),
            })?;
        tracing_appender::non_blocking(appender)
    };
    guards.push(guard);
    Ok(writer)
}

/// Installs the global subscriber. Call once, from the binary.
pub fn init(cfg: &LogConfig) -> Result<LogGuards, LogError> {
    let mut guards = Vec::new();
    let json = cfg.format == "json";
    let level = EnvFilter::try_new(&cfg.level).unwrap_or_else(|_| EnvFilter::new("info"));
    let app_writer = writer_for(&cfg.app_log, cfg.retention_files, &mut guards)?;
    let to_terminal = cfg.app_log == "-";
    let app_layer = if json {
        tracing_subscriber::fmt::layer()
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .with_writer(app_writer)
            .boxed()
    } else {
        tracing_subscriber::fmt::layer()
            .with_ansi(false)
            .with_writer(app_writer)
            .boxed()
    };
    let _ = to_terminal;
    let app_layer = app_layer
        .with_filter(filter_fn(|m| m.target() != ACCESS_TARGET))
        .with_filter(level);
    let access_layer = if cfg.access_log == "off" {
        None
    } else {
        let w = writer_for(&cfg.access_log, cfg.retention_files, &mut guards)?;
        let layer = if json {
            tracing_subscriber::fmt::layer()
                .json()
                .with_current_span(false)
                .with_span_list(false)
                .with_writer(w)
                .boxed()
        } else {
            tracing_subscriber::fmt::layer()
                .with_ansi(false)
                .with_writer(w)
                .boxed()
        };
        Some(layer.with_filter(filter_fn(|m| m.target() == ACCESS_TARGET)))
    };
    let _ = tracing_subscriber::registry()
        .with(app_layer)
        .with(access_layer)
        .try_init();
    Ok(LogGuards(guards))
}
