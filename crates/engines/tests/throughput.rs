//! Manual throughput check (run in release): 100k PostgreSQL rows to JSON, to compare with
//! `psql --csv -c '<same query>' > /dev/null`.
//! `cargo test --release -p querypad-engines --test throughput -- --ignored --nocapture`

mod common;
use common::*;
use std::time::Duration;
use tokio::time::Instant;

#[tokio::test]
#[ignore = "manual benchmark"]
async fn pg_100k_rows_to_json() {
    let Some(url) = querypad_testkit::pg_url("chinook") else {
        return;
    };
    let db = open(&url, false).await;
    let sql = "SELECT g AS id, g * 1.5 AS price, 'row number ' || g AS label, \
               timestamp '2024-01-01' + g * interval '1 second' AS ts, g % 2 = 0 AS even \
               FROM generate_series(1, 100000) g";
    ok(&db, "SELECT 1").await;
    for _ in 0..5 {
        let t = Instant::now();
        let mut s = db
            .query(sql, opts(100_000, Duration::from_secs(30)))
            .await
            .unwrap();
        let mut bytes = 0usize;
        while let Some(item) = s.next().await {
            if let querypad_engines::StreamItem::Rows(rows) = item.unwrap() {
                bytes += serde_json::to_vec(&rows).unwrap().len();
            }
        }
        eprintln!(
            "BENCH pg 100k rows -> {bytes} bytes JSON in {:?}",
            t.elapsed()
        );
    }
}
