//! Request ids and HTTP metrics, as an operator would check them.

mod common;

use common::start;

#[tokio::test]
async fn request_ids_are_echoed_or_generated() {
    let s = start().await;
    let resp = s
        .client
        .get(s.url("/api/v1/notebooks"))
        .header("x-request-id", "abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["x-request-id"], "abc-123");
    let resp = s
        .client
        .get(s.url("/api/v1/notebooks"))
        .send()
        .await
        .unwrap();
    let generated = resp.headers()["x-request-id"].to_str().unwrap().to_string();
    assert_eq!(generated.len(), 16, "{generated}");
    // Junk is replaced, not echoed.
    let resp = s
        .client
        .get(s.url("/healthz"))
        .header("x-request-id", "has spaces")
        .send()
        .await
        .unwrap();
    assert_ne!(resp.headers()["x-request-id"], "has spaces");
    s.stop().await;
}

#[tokio::test]
async fn http_metrics_are_labelled_by_matched_route_not_raw_path() {
    let s = start().await;
    for _ in 0..3 {
        assert_eq!(s.get("/api/v1/notebooks/1").await.status, 200);
    }
    assert_eq!(s.get("/api/v1/notebooks/424242").await.status, 404);
    let m = s.get("/metrics").await.text;
    let line = m
        .lines()
        .find(|l| {
            l.starts_with("querypad_http_requests_total")
                && l.contains("route=\"/api/v1/notebooks/{id}\"")
                && l.contains("status=\"200\"")
        })
        .unwrap_or_else(|| panic!("no per-route counter:\n{m}"));
    let count: f64 = line.rsplit(' ').next().unwrap().parse().unwrap();
    assert!(count >= 3.0, "{line}");
    assert!(m.contains("status=\"404\""), "{m}");
    assert!(!m.contains("424242"), "raw ids never become labels");
    assert!(
        m.contains("querypad_http_request_duration_seconds_bucket"),
        "{m}"
    );
    assert!(m.contains("querypad_http_requests_in_flight"), "{m}");
    assert!(m.contains("querypad_build_info"), "{m}");
    s.stop().await;
}
