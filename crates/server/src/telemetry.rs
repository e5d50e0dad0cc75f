//! Metrics: one Prometheus recorder per process (installed once, shared by every server in the
//! process — tests start several), rendered at `/metrics`.

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

const SECONDS_BUCKETS: &[f64] = &[
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 40.0, 60.0,
];

/// Installs the recorder on first call; later calls reuse it.
pub fn install() -> Option<PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), SECONDS_BUCKETS)
                .and_then(|b| {
                    b.set_buckets_for_metric(
                        Matcher::Full("querypad_agent_iterations".into()),
                        &[1.0, 2.0, 3.0, 4.0, 5.0, 7.0, 10.0],
                    )
                });
            match builder.and_then(|b| b.install_recorder()) {
                Ok(h) => {
                    metrics::gauge!("querypad_build_info", "version" => env!("CARGO_PKG_VERSION"))
                        .set(1.0);
                    Some(h)
                }
                Err(e) => {
                    tracing::warn!(error = %e, "metrics recorder not installed");
                    None
                }
            }
        })
        .clone()
}

/// The metrics in Prometheus text format.
pub fn render() -> String {
    install().map(|h| h.render()).unwrap_or_default()
}
