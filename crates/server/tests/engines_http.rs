//! The same API on PostgreSQL and MariaDB (real servers, Chinook loaded by
//! `scripts/test-services.sh`): connection test, schema, typed results, and statement timeouts
//! that are enforced and cancelled on the database server itself.

mod common;

use common::{assert_error, start_with};
use serde_json::json;
use std::time::{Duration, Instant};

#[tokio::test]
async fn chinook_looks_the_same_on_all_three_engines() {
    let (Some(pg), Some(my)) = (
        querypad_testkit::pg_url("chinook"),
        querypad_testkit::mysql_url("Chinook"),
    ) else {
        return;
    };
    let s = start_with(|_| {}).await;
    let pg_id = s.connect_url("pg", &pg).await;
    let my_id = s.connect_url("maria", &my).await;

    let t = s
        .post(&format!("/api/v1/connections/{pg_id}/test"), json!({}))
        .await;
    assert_eq!(t.status, 200, "{}", t.text);
    assert_eq!(t.body["flavor"], "postgres");
    assert!(
        t.body["version"].as_str().unwrap().starts_with("15"),
        "{}",
        t.text
    );
    let t = s
        .post(&format!("/api/v1/connections/{my_id}/test"), json!({}))
        .await;
    assert_eq!(t.status, 200, "{}", t.text);
    assert_eq!(t.body["flavor"], "mariadb", "{}", t.text);

    let names = |body: &serde_json::Value| {
        let mut v: Vec<String> = body["tables"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].as_str().unwrap().replace('_', "").to_lowercase())
            .collect();
        v.sort();
        v
    };
    let sqlite = names(&s.get("/api/v1/connections/1/schema").await.body);
    let pg_schema = s.get(&format!("/api/v1/connections/{pg_id}/schema")).await;
    assert_eq!(pg_schema.status, 200, "{}", pg_schema.text);
    let my_schema = s.get(&format!("/api/v1/connections/{my_id}/schema")).await;
    assert_eq!(my_schema.status, 200, "{}", my_schema.text);
    assert_eq!(sqlite.len(), 11);
    assert_eq!(names(&pg_schema.body), sqlite);
    assert_eq!(names(&my_schema.body), sqlite);

    // Track has a primary key and three foreign keys on every engine.
    for body in [&pg_schema.body, &my_schema.body] {
        let track = body["tables"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"].as_str().unwrap().eq_ignore_ascii_case("track"))
            .unwrap();
        assert_eq!(track["primary_key"].as_array().unwrap().len(), 1, "{track}");
        assert_eq!(
            track["foreign_keys"].as_array().unwrap().len(),
            3,
            "{track}"
        );
    }

    // The same question answered on each engine gives the same numbers.
    let pg_rows = s.query(pg_id, "SELECT g.name, count(*) AS n FROM track t JOIN genre g ON g.genre_id = t.genre_id GROUP BY g.name ORDER BY n DESC, g.name LIMIT 3").await;
    let my_rows = s.query(my_id, "SELECT g.Name, count(*) AS n FROM Track t JOIN Genre g ON g.GenreId = t.GenreId GROUP BY g.Name ORDER BY n DESC, g.Name LIMIT 3").await;
    let lite_rows = s.query(1, "SELECT g.Name, count(*) AS n FROM Track t JOIN Genre g ON g.GenreId = t.GenreId GROUP BY g.Name ORDER BY n DESC, g.Name LIMIT 3").await;
    assert_eq!(pg_rows.status, 200, "{}", pg_rows.text);
    assert_eq!(
        lite_rows.body["rows"],
        json!([["Rock", 1297], ["Latin", 579], ["Metal", 374]])
    );
    assert_eq!(
        pg_rows.body["rows"], lite_rows.body["rows"],
        "{}",
        pg_rows.text
    );
    assert_eq!(
        my_rows.body["rows"], lite_rows.body["rows"],
        "{}",
        my_rows.text
    );

    // Decimals keep every digit as strings on the server engines.
    let price = s
        .query(pg_id, "SELECT unit_price FROM track WHERE track_id = 1")
        .await;
    assert_eq!(price.body["rows"], json!([["0.99"]]), "{}", price.text);
    assert_eq!(
        price.body["columns"][0]["db_type"]
            .as_str()
            .unwrap()
            .to_lowercase(),
        "numeric"
    );
    let price = s
        .query(my_id, "SELECT UnitPrice FROM Track WHERE TrackId = 1")
        .await;
    assert_eq!(price.body["rows"], json!([["0.99"]]), "{}", price.text);
    s.stop().await;
}

#[tokio::test]
async fn a_slow_statement_is_stopped_by_the_database_and_gone_afterwards() {
    let (Some(pg), Some(my)) = (
        querypad_testkit::pg_url("querypad_test"),
        querypad_testkit::mysql_url("querypad_test"),
    ) else {
        return;
    };
    let s = start_with(|c| c.database.query_timeout_secs = 1.0).await;
    let pg_id = s.connect_url("pg", &pg).await;
    let my_id = s.connect_url("maria", &my).await;
    let marker = querypad_testkit::unique();

    let started = Instant::now();
    let r = s
        .query(pg_id, &format!("SELECT pg_sleep(30), {marker} AS marker"))
        .await;
    assert_error(&r, 504, "statement_timeout");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    let active = s
        .query(pg_id, &format!("SELECT count(*) AS n FROM pg_stat_activity WHERE query LIKE '%{marker} AS marker%' AND pid <> pg_backend_pid()"))
        .await;
    assert_eq!(active.body["rows"], json!([[0]]), "{}", active.text);

    let started = Instant::now();
    let r = s
        .query(my_id, &format!("SELECT SLEEP(30), {marker} AS marker"))
        .await;
    assert_error(&r, 504, "statement_timeout");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    let active = s
        .query(my_id, &format!("SELECT count(*) AS n FROM information_schema.PROCESSLIST WHERE INFO LIKE '%{marker} AS marker%' AND ID <> CONNECTION_ID()"))
        .await;
    assert_eq!(active.body["rows"], json!([[0]]), "{}", active.text);

    let started = Instant::now();
    let r = s.query(1, "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c").await;
    assert_error(&r, 504, "statement_timeout");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );

    // The pools still work afterwards.
    assert_eq!(
        s.query(pg_id, "SELECT 1 AS one").await.body["rows"],
        json!([[1]])
    );
    assert_eq!(
        s.query(my_id, "SELECT 1 AS one").await.body["rows"],
        json!([[1]])
    );
    s.stop().await;
}

#[tokio::test]
async fn a_request_deadline_shorter_than_the_statement_timeout_cancels_on_the_server() {
    let Some(pg) = querypad_testkit::pg_url("querypad_test") else {
        return;
    };
    let s = start_with(|c| {
        c.server.request_timeout_secs = 1.0;
        c.database.query_timeout_secs = 30.0;
    })
    .await;
    let pg_id = s.connect_url("pg", &pg).await;
    let marker = querypad_testkit::unique();
    let started = Instant::now();
    let r = s
        .query(pg_id, &format!("SELECT pg_sleep(30), {marker} AS marker"))
        .await;
    assert!(r.status == 504, "{}", r.text);
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "took {:?}",
        started.elapsed()
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    let active = s
        .query(pg_id, &format!("SELECT count(*) AS n FROM pg_stat_activity WHERE query LIKE '%{marker} AS marker%' AND pid <> pg_backend_pid()"))
        .await;
    assert_eq!(active.body["rows"], json!([[0]]), "{}", active.text);
    s.stop().await;
}

#[tokio::test]
async fn a_client_that_goes_away_cancels_its_query_on_the_server() {
    let Some(pg) = querypad_testkit::pg_url("querypad_test") else {
        return;
    };
    let s = start_with(|c| c.database.query_timeout_secs = 60.0).await;
    let pg_id = s.connect_url("pg", &pg).await;
    let marker = querypad_testkit::unique();
    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_millis(700))
        .build()
        .unwrap();
    let gone = impatient
        .post(s.url("/api/v1/query"))
        .json(&json!({"connection_id": pg_id, "sql": format!("SELECT pg_sleep(60), {marker} AS marker")}))
        .send()
        .await;
    assert!(gone.is_err(), "the client gave up");
    let count = format!(
        "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%{marker} AS marker%' AND pid <> pg_backend_pid()"
    );
    let mut remaining = json!(null);
    for _ in 0..20 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        remaining = s.query(pg_id, &count).await.body["rows"].clone();
        if remaining == json!([[0]]) {
            break;
        }
    }
    assert_eq!(
        remaining,
        json!([[0]]),
        "the statement is still running after the client left"
    );
    s.stop().await;
}
