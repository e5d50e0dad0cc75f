//! The metadata store under concurrent writers: clients adding cells to the same notebook at
//! the same time must all succeed (SQLite serialises writers; a writer waits its turn within
//! the busy timeout instead of failing).
//!
//! It caught a real bug: with a deferred `BEGIN`, a transaction that read the cell order and
//! then wrote got SQLITE_BUSY at once (no busy handler) when another writer committed in
//! between; the store now opens writing transactions with `BEGIN IMMEDIATE`.

mod common;

use serde_json::json;

const WRITERS: usize = 4;
const CELLS_EACH: usize = 25;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_cell_writes_all_succeed() {
    let s = std::sync::Arc::new(common::start().await);
    let tasks: Vec<_> = (0..WRITERS)
        .map(|w| {
            let s = s.clone();
            tokio::spawn(async move {
                let mut failures = Vec::new();
                for k in 0..CELLS_EACH {
                    let r = s
                        .post(
                            "/api/v1/notebooks/1/cells",
                            json!({"kind": "sql", "source": format!("SELECT {w}{k}")}),
                        )
                        .await;
                    if r.status != 201 {
                        failures.push(format!("{} {}", r.status, r.text));
                    }
                }
                failures
            })
        })
        .collect();
    let mut failures = Vec::new();
    for t in tasks {
        failures.extend(t.await.expect("writer"));
    }
    assert!(
        failures.is_empty(),
        "{} of {} concurrent cell writes failed, e.g. {}",
        failures.len(),
        WRITERS * CELLS_EACH,
        failures[0]
    );
    let cells = s.get("/api/v1/notebooks/1/cells").await;
    assert_eq!(
        cells.body.as_array().map(Vec::len),
        Some(4 + WRITERS * CELLS_EACH),
        "demo cells + ours"
    );
    if let Ok(s) = std::sync::Arc::try_unwrap(s) {
        s.stop().await;
    }
}
