//! Faults of a user database, against a private PostgreSQL instance this test starts itself
//! (initdb + pg_ctl from the installed server binaries, on a free loopback port), so the shared
//! server other tests use is never disturbed. The real binary serves.
//!
//! - The instance is down, or stops while Querypad serves: requests fail fast with 503/502
//!   naming the connection, `/readyz` stays 200 (a user database is not Querypad's health), and
//!   once the instance is back, queries succeed again without any action.
//! - The connection's pool is exhausted by slow statements: waiting requests get the deadline
//!   (or busy) error at their request deadline, never a hang; then the pool recovers.
//!
//! Skips, saying so, when initdb is not installed.

mod common;

use common::{PrivatePg, Proc, ProcOptions, Sandbox, bounded, fetch, http_client};
use querypad_testkit::fake_llm::{FakeLlm, Reply, Step};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

async fn create_connection(client: &reqwest::Client, p: &Proc, pg: &PrivatePg, name: &str) -> i64 {
    let r = fetch(
        client
            .post(p.url("/api/v1/connections"))
            .json(&pg.connection_body(name, common::PG_PASSWORD)),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    r.body["id"].as_i64().expect("id")
}

async fn query(
    client: &reqwest::Client,
    p: &Proc,
    id: i64,
    sql: &str,
) -> (common::Reply, Duration) {
    let t = Instant::now();
    let r = fetch(
        client
            .post(p.url("/api/v1/query"))
            .json(&json!({"connection_id": id, "sql": sql})),
    )
    .await;
    (r, t.elapsed())
}

fn message(r: &common::Reply) -> &str {
    r.body["error"]["message"].as_str().unwrap_or_default()
}

/// Asserts that requests on connection `id` fail fast with 503/502 naming it, that its test
/// endpoint does too, and that Querypad itself stays ready.
async fn assert_fails_fast(client: &reqwest::Client, p: &Proc, id: i64, name: &str) {
    for attempt in 0..3 {
        let (r, took) = query(client, p, id, "SELECT 1").await;
        assert!(
            r.status == 503 || r.status == 502,
            "attempt {attempt}: {} {}",
            r.status,
            r.text
        );
        assert!(
            took < Duration::from_secs(5),
            "attempt {attempt} took {took:?}: {}",
            r.text
        );
        assert!(
            message(&r).contains(name),
            "the error names the connection: {}",
            r.text
        );
        assert!(
            !r.body["error"]["code"]
                .as_str()
                .unwrap_or_default()
                .is_empty(),
            "{}",
            r.text
        );
    }
    let t = Instant::now();
    let r = fetch(client.post(p.url(&format!("/api/v1/connections/{id}/test")))).await;
    assert!(
        r.status == 503 || r.status == 502,
        "{} {}",
        r.status,
        r.text
    );
    assert!(
        t.elapsed() < Duration::from_secs(6),
        "connection test took {:?}",
        t.elapsed()
    );
    assert!(message(&r).contains(name), "{}", r.text);
    // A user database being down is not Querypad being unready.
    assert_eq!(fetch(client.get(p.url("/readyz"))).await.status, 200);
}

/// Asserts that queries on `id` succeed again within 10 s, with no action on Querypad's side.
async fn assert_recovers(client: &reqwest::Client, p: &Proc, id: i64) {
    let until = Instant::now() + Duration::from_secs(10);
    let recovered = loop {
        let (r, _) = query(client, p, id, "SELECT 41 + 1 AS answer").await;
        if r.status == 200 {
            break r;
        }
        assert!(
            Instant::now() < until,
            "no recovery within 10 s: {} {}",
            r.status,
            r.text
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(recovered.body["rows"], json!([[42]]));
    let metrics = fetch(client.get(p.url("/metrics"))).await.text;
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("querypad_http_requests_total")
                && l.contains("route=\"/api/v1/query\"")
                && (l.contains("status=\"503\"") || l.contains("status=\"502\""))),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_that_is_down_fails_fast_naming_the_connection_then_is_used_once_up() {
    let Some(pg) = PrivatePg::start() else { return };
    let sandbox = Sandbox::new("pg-down");
    let mut p = Proc::start(&sandbox, &ProcOptions::default());
    let client = http_client();
    bounded(90, async {
        pg.stop_server();
        let id = create_connection(&client, &p, &pg, "down-pg").await;
        assert_fails_fast(&client, &p, id, "down-pg").await;
        pg.start_server();
        assert_recovers(&client, &p, id).await;
        p.sigterm();
        assert_eq!(
            p.wait_exit(Duration::from_secs(15)).and_then(|s| s.code()),
            Some(0)
        );
    })
    .await;
}

/// The same once the pool holds connections: they die with the server, and the next request
/// must not wait for sqlx's reconnect loop.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_stopped_while_in_use_fails_fast_naming_the_connection_then_recovers() {
    let Some(pg) = PrivatePg::start() else { return };
    let sandbox = Sandbox::new("pg-stop");
    let mut p = Proc::start(&sandbox, &ProcOptions::default());
    let client = http_client();
    bounded(90, async {
        let id = create_connection(&client, &p, &pg, "faulty-pg").await;
        let (r, _) = query(&client, &p, id, "SELECT 41 + 1 AS answer").await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["rows"], json!([[42]]));
        pg.stop_server();
        assert_fails_fast(&client, &p, id, "faulty-pg").await;
        pg.start_server();
        assert_recovers(&client, &p, id).await;
        p.sigterm();
        assert_eq!(
            p.wait_exit(Duration::from_secs(15)).and_then(|s| s.code()),
            Some(0)
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exhausted_pool_gives_the_deadline_error_not_a_hang() {
    let Some(pg) = PrivatePg::start() else { return };
    let sandbox = Sandbox::new("pg-pool");
    // Two agent runs hold both pooled connections with an 8 s statement each: unlike API
    // requests (cut at the 3 s request deadline), runs live by the workflow deadline, so the
    // pool stays busy for the whole check instead of freeing up just as a waiter's deadline ends.
    let fake = FakeLlm::anthropic_with(std::sync::Arc::new(|_| {
        Step::now(Reply::ToolUse {
            name: "submit_sql".into(),
            input: json!({"sql": "SELECT pg_sleep(8)"}),
            text: None,
        })
    }))
    .await;
    let config = sandbox.root().join("querypad.toml");
    std::fs::write(
        &config,
        "[database]\npool_max_connections = 2\n\n[agent]\nworkflow_timeout_secs = 20\n",
    )
    .expect("config");
    let mut opts = ProcOptions::with_fake_llm(&fake.base_url);
    opts.global_args = vec!["--config".into(), config.display().to_string()];
    opts.args(&["--request-timeout", "3", "--drain-timeout", "2"]);
    let mut p = Proc::start(&sandbox, &opts);
    let client = http_client();
    bounded(90, async {
        let id = create_connection(&client, &p, &pg, "small-pool").await;
        let mut runs = Vec::new();
        for i in 0..2 {
            let r = fetch(client.post(p.url("/api/v1/agent/runs")).json(&json!({"query": format!("wait {i}"), "connection_id": id}))).await;
            assert_eq!(r.status, 202, "{}", r.text);
            runs.push(r.body["run_id"].as_str().expect("run id").to_string());
        }
        let sleeping = "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query LIKE 'SELECT pg_sleep%'";
        let until = Instant::now() + Duration::from_secs(10);
        while pg.psql(sleeping) != "2" {
            assert!(Instant::now() < until, "the runs did not start their statements: {}", pg.psql(sleeping));
            tokio::time::sleep(Duration::from_millis(50)).await;
        }

        // Waiters: a slow statement and a fast one, at once. Both wait for a connection and
        // get the deadline (or busy) error at their 3 s request deadline.
        let (a, b) = tokio::join!(query(&client, &p, id, "SELECT pg_sleep(10)"), query(&client, &p, id, "SELECT 1"));
        for (r, took) in [a, b] {
            let code = r.body["error"]["code"].as_str().unwrap_or_default().to_string();
            assert!(
                (r.status == 504 && (code == "statement_timeout" || code == "deadline_exceeded"))
                    || (r.status == 503 && code == "database_busy"),
                "{} {}",
                r.status,
                r.text
            );
            assert!(took >= Duration::from_millis(2500), "answered before the deadline ({took:?}): {}", r.text);
            assert!(took < Duration::from_secs(5), "answered {took:?} after a 3 s deadline: {}", r.text);
            assert!(message(&r).contains("small-pool") || code == "deadline_exceeded", "{}", r.text);
            eprintln!("pool exhausted: {} {} after {:.2} s: {}", r.status, code, took.as_secs_f64(), message(&r));
        }
        let m = fetch(client.get(p.url("/metrics"))).await.text;
        let open = format!("querypad_db_pool_connections{{connection_id=\"{id}\",state=\"open\"}} 2");
        assert!(m.lines().any(|l| l == open), "pool figures: {}", m.lines().filter(|l| l.contains("pool")).collect::<Vec<_>>().join("\n"));

        // Cancelling the runs frees the pool (their statements are cancelled on the server).
        for run in &runs {
            let r = fetch(client.post(p.url(&format!("/api/v1/agent/runs/{run}/cancel")))).await;
            assert!(r.status == 202 || r.status == 409, "{}", r.text);
        }
        let until = Instant::now() + Duration::from_secs(10);
        loop {
            let (r, _) = query(&client, &p, id, "SELECT 1 AS ok").await;
            if r.status == 200 {
                assert_eq!(r.body["rows"], json!([[1]]));
                break;
            }
            assert!(Instant::now() < until, "the pool did not recover: {}", r.text);
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        for run in &runs {
            let r = fetch(client.get(p.url(&format!("/api/v1/agent/runs/{run}")))).await;
            let status: &Value = &r.body["status"];
            assert!(status == "degraded" || status == "failed" || status == "succeeded" || status == "running", "{}", r.text);
        }
        p.sigterm();
        assert_eq!(p.wait_exit(Duration::from_secs(20)).and_then(|s| s.code()), Some(0));
    })
    .await;
}
