//! The HTTP API on the bundled demo database: fresh-start defaults, the error contract,
//! notebooks and cells, running SQL, write-only passwords and API tokens.

mod common;

use common::{assert_error, start};
use serde_json::json;

#[tokio::test]
async fn a_fresh_start_serves_the_demo_connection_and_notebook() {
    let s = start().await;
    assert_eq!(s.get("/healthz").await.body["status"], "ok");
    assert_eq!(s.get("/readyz").await.body["status"], "ready");

    let conns = s.get("/api/v1/connections").await;
    assert_eq!(conns.status, 200);
    assert_eq!(conns.body[0]["id"], 1);
    assert_eq!(conns.body[0]["kind"], "sqlite");
    assert_eq!(conns.body[0]["allow_writes"], false);

    let nb = s.get("/api/v1/notebooks/1").await;
    assert_eq!(nb.status, 200, "{}", nb.text);
    assert_eq!(nb.body["title"], "Demo");
    assert_eq!(nb.body["connection_id"], 1);
    let cells = nb.body["cells"].as_array().unwrap();
    assert!(cells.len() >= 3);
    assert_eq!(cells[0]["kind"], "markdown");

    // Every SQL cell of the demo runs and returns rows.
    for cell in cells.iter().filter(|c| c["kind"] == "sql") {
        let id = cell["id"].as_i64().unwrap();
        let r = s
            .post(&format!("/api/v1/notebooks/1/cells/{id}/run"), json!({}))
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert!(r.body["row_count"].as_u64().unwrap() > 0, "{}", r.text);
        assert!(r.body["error"].is_null());
    }
    // A restart keeps the same data and does not seed twice.
    let dir = s.data.dir().to_path_buf();
    s.stop().await;
    let again = common::start_with(|c| c.server.data_dir = dir.clone()).await;
    assert_eq!(
        again
            .get("/api/v1/connections")
            .await
            .body
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        again
            .get("/api/v1/notebooks")
            .await
            .body
            .as_array()
            .unwrap()
            .len(),
        1
    );
    again.stop().await;
}

#[tokio::test]
async fn the_error_contract_covers_every_kind_of_bad_request() {
    let s = start().await;
    assert_error(
        &s.get("/api/v1/connections/999").await,
        404,
        "connection_not_found",
    );
    assert_error(
        &s.get("/api/v1/notebooks/999").await,
        404,
        "notebook_not_found",
    );
    assert_error(
        &s.get("/api/v1/notebooks/1/cells/999").await,
        404,
        "cell_not_found",
    );
    assert_error(&s.get("/api/v1/notebooks/abc").await, 404, "not_found");
    assert_error(&s.get("/api/v1/nothing-here").await, 404, "route_not_found");
    assert_error(&s.delete("/api/v1/query").await, 405, "method_not_allowed");

    let malformed = s
        .send(
            s.client
                .post(s.url("/api/v1/notebooks"))
                .header("content-type", "application/json")
                .body("{\"title\": "),
        )
        .await;
    assert_error(&malformed, 400, "malformed_json");

    let unknown = s
        .post("/api/v1/notebooks", json!({"title": "x", "colour": "red"}))
        .await;
    assert_error(&unknown, 422, "invalid_fields");
    assert!(
        unknown.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("colour"),
        "{}",
        unknown.text
    );

    let wrong_type = s
        .post(
            "/api/v1/query",
            json!({"connection_id": "one", "sql": "SELECT 1"}),
        )
        .await;
    assert_error(&wrong_type, 422, "invalid_fields");

    let no_ct = s
        .send(
            s.client
                .post(s.url("/api/v1/notebooks"))
                .body("{\"title\":\"x\"}"),
        )
        .await;
    assert_error(&no_ct, 415, "unsupported_media_type");

    let big = "x".repeat(2 * 1024 * 1024);
    let too_large = s.post("/api/v1/notebooks", json!({"title": big})).await;
    assert_error(&too_large, 413, "body_too_large");

    assert_error(&s.query(999, "SELECT 1").await, 404, "connection_not_found");
    assert_error(&s.query(1, "   ").await, 400, "sql_empty");
    assert_error(&s.query(1, "SELEC nothing").await, 400, "sql_parse_error");
    assert_error(
        &s.query(1, "SELECT 1; SELECT 2").await,
        400,
        "sql_multiple_statements",
    );
    assert_error(
        &s.query(1, "DELETE FROM Track").await,
        403,
        "sql_not_read_only",
    );
    assert_error(
        &s.query(1, "SELECT * FROM no_such_table").await,
        400,
        "sql_error",
    );
    let cap = s
        .post(
            "/api/v1/query",
            json!({"connection_id": 1, "sql": "SELECT 1", "max_rows": 100_000_000}),
        )
        .await;
    assert_error(&cap, 422, "invalid_fields");
    s.stop().await;
}

#[tokio::test]
async fn notebooks_and_cells_can_be_created_edited_reordered_and_deleted() {
    let s = start().await;
    let nb = s
        .post(
            "/api/v1/notebooks",
            json!({"title": "Sales", "connection_id": 1}),
        )
        .await;
    assert_eq!(nb.status, 201, "{}", nb.text);
    let id = nb.body["id"].as_i64().unwrap();
    let path = format!("/api/v1/notebooks/{id}/cells");

    let a = s
        .post(&path, json!({"kind": "sql", "source": "SELECT 1 AS a"}))
        .await
        .body["id"]
        .as_i64()
        .unwrap();
    let b = s
        .post(&path, json!({"kind": "markdown", "source": "# notes"}))
        .await
        .body["id"]
        .as_i64()
        .unwrap();
    let c = s
        .post(
            &path,
            json!({"kind": "sql", "source": "SELECT 3", "position": 0}),
        )
        .await
        .body["id"]
        .as_i64()
        .unwrap();
    let order = |r: &common::Reply| {
        r.body
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_i64().unwrap())
            .collect::<Vec<_>>()
    };
    assert_eq!(order(&s.get(&path).await), vec![c, a, b]);

    let moved = s
        .patch(
            &format!("{path}/{c}"),
            json!({"position": 2, "source": "SELECT 3 AS c"}),
        )
        .await;
    assert_eq!(moved.status, 200, "{}", moved.text);
    assert_eq!(moved.body["position"], 2);
    assert_eq!(order(&s.get(&path).await), vec![a, b, c]);

    let reordered = s
        .put(&format!("{path}/order"), json!({"cell_ids": [b, c, a]}))
        .await;
    assert_eq!(order(&reordered), vec![b, c, a]);
    assert_error(
        &s.put(&format!("{path}/order"), json!({"cell_ids": [b, c]}))
            .await,
        422,
        "invalid_fields",
    );

    // A markdown cell does not run; a SQL cell runs and keeps its summary.
    assert_error(
        &s.post(&format!("{path}/{b}/run"), json!({})).await,
        422,
        "cell_not_sql",
    );
    let run = s.post(&format!("{path}/{c}/run"), json!({})).await;
    assert_eq!(run.body["rows"], json!([[3]]), "{}", run.text);
    assert_eq!(run.body["columns"][0]["name"], "c");
    let cell = s.get(&format!("{path}/{c}")).await;
    assert_eq!(cell.body["last_run"]["row_count"], 1, "{}", cell.text);
    assert!(cell.body["last_run"]["error"].is_null());

    // A failing run is recorded too.
    s.patch(
        &format!("{path}/{a}"),
        json!({"source": "SELECT nope FROM Track"}),
    )
    .await;
    assert_error(
        &s.post(&format!("{path}/{a}/run"), json!({})).await,
        400,
        "sql_error",
    );
    let cell = s.get(&format!("{path}/{a}")).await;
    assert_eq!(
        cell.body["last_run"]["error"]["code"], "sql_error",
        "{}",
        cell.text
    );

    let renamed = s
        .patch(
            &format!("/api/v1/notebooks/{id}"),
            json!({"title": "Sales 2026", "connection_id": null}),
        )
        .await;
    assert_eq!(renamed.body["title"], "Sales 2026");
    assert!(renamed.body["connection_id"].is_null());
    assert_error(
        &s.post(&format!("{path}/{c}/run"), json!({})).await,
        422,
        "no_connection",
    );
    assert_error(
        &s.patch(
            &format!("/api/v1/notebooks/{id}"),
            json!({"connection_id": 42}),
        )
        .await,
        422,
        "connection_not_found",
    );

    assert_eq!(s.delete(&format!("{path}/{a}")).await.status, 204);
    assert_eq!(order(&s.get(&path).await), vec![b, c]);
    assert_eq!(
        s.delete(&format!("/api/v1/notebooks/{id}")).await.status,
        204
    );
    assert_error(&s.get(&path).await, 404, "notebook_not_found");
    s.stop().await;
}

#[tokio::test]
async fn results_keep_their_types_and_respect_the_row_cap() {
    let s = start().await;
    let r = s
        .post("/api/v1/query", json!({"connection_id": 1, "sql": "SELECT TrackId, Name, UnitPrice, NULL AS missing FROM Track ORDER BY TrackId", "max_rows": 5}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["row_count"], 5);
    assert_eq!(r.body["truncated"], true);
    assert_eq!(r.body["limit_added"], true);
    assert_eq!(
        r.body["rows"][0],
        json!([1, "For Those About To Rock (We Salute You)", 0.99, null])
    );
    assert_eq!(r.body["columns"][1]["name"], "Name");

    let exact = s
        .post(
            "/api/v1/query",
            json!({"connection_id": 1, "sql": "SELECT GenreId FROM Genre", "max_rows": 25}),
        )
        .await;
    assert_eq!(exact.body["row_count"], 25);
    assert_eq!(
        exact.body["truncated"], false,
        "Chinook has exactly 25 genres"
    );
    s.stop().await;
}

#[tokio::test]
async fn passwords_are_write_only_everywhere() {
    let s = start().await;
    let secret = "pa55-w0rd-never-shown";
    let r = s
        .post(
            "/api/v1/connections",
            json!({"name": "pg", "kind": "postgres", "host": "127.0.0.1", "port": 5432, "database": "chinook", "username": "postgres", "password": secret}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["has_password"], true);
    let id = r.body["id"].as_i64().unwrap();
    let by_url = s
        .post(
            "/api/v1/connections",
            json!({"name": "pg2", "url": format!("postgres://u:{secret}@127.0.0.1:1/x")}),
        )
        .await;
    assert_eq!(by_url.status, 201);
    for text in [
        r.text.clone(),
        by_url.text.clone(),
        s.get("/api/v1/connections").await.text,
        s.get(&format!("/api/v1/connections/{id}")).await.text,
        s.post(
            &format!("/api/v1/connections/{}/test", by_url.body["id"]),
            json!({}),
        )
        .await
        .text,
        s.patch(
            &format!("/api/v1/connections/{id}"),
            json!({"name": "pg-renamed"}),
        )
        .await
        .text,
    ] {
        assert!(!text.contains(secret), "password leaked: {text}");
        assert!(
            !text.contains("password\":\""),
            "password field present: {text}"
        );
    }
    // Not in the metadata database files in clear either (WAL included).
    for name in ["querypad.db", "querypad.db-wal"] {
        if let Ok(bytes) = std::fs::read(s.data.dir().join(name)) {
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "{name} holds the password in clear"
            );
        }
    }
    s.stop().await;
}

#[tokio::test]
async fn connections_are_validated_and_editable() {
    let s = start().await;
    assert_error(
        &s.post(
            "/api/v1/connections",
            json!({"name": "x", "kind": "oracle"}),
        )
        .await,
        422,
        "invalid_fields",
    );
    assert_error(
        &s.post(
            "/api/v1/connections",
            json!({"name": "x", "kind": "sqlite"}),
        )
        .await,
        422,
        "invalid_fields",
    );
    assert_error(
        &s.post(
            "/api/v1/connections",
            json!({"name": "x", "kind": "postgres", "host": "h"}),
        )
        .await,
        422,
        "invalid_fields",
    );
    assert_error(
        &s.post(
            "/api/v1/connections",
            json!({"name": "x", "url": "ftp://nope"}),
        )
        .await,
        422,
        "invalid_fields",
    );
    assert_error(
        &s.post(
            "/api/v1/connections",
            json!({"name": "Demo (Chinook)", "kind": "sqlite", "path": "/tmp/x.db"}),
        )
        .await,
        409,
        "conflict",
    );

    let missing = s
        .post(
            "/api/v1/connections",
            json!({"name": "missing", "kind": "sqlite", "path": "/nonexistent/file.sqlite"}),
        )
        .await;
    let id = missing.body["id"].as_i64().unwrap();
    let test = s
        .post(&format!("/api/v1/connections/{id}/test"), json!({}))
        .await;
    assert!(test.status >= 500, "{}", test.text);
    assert_eq!(
        test.body["error"]["code"], "database_not_found",
        "{}",
        test.text
    );
    assert!(
        test.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("\"missing\""),
        "names the connection: {}",
        test.text
    );

    let demo = querypad_testkit::demo_sqlite().canonicalize().unwrap();
    let fixed = s
        .patch(
            &format!("/api/v1/connections/{id}"),
            json!({"path": demo.display().to_string()}),
        )
        .await;
    assert_eq!(fixed.status, 200, "{}", fixed.text);
    let test = s
        .post(&format!("/api/v1/connections/{id}/test"), json!({}))
        .await;
    assert_eq!(test.status, 200, "{}", test.text);
    assert_eq!(test.body["flavor"], "sqlite");

    let schema = s.get(&format!("/api/v1/connections/{id}/schema")).await;
    assert_eq!(schema.status, 200, "{}", schema.text);
    assert_eq!(schema.body["tables"].as_array().unwrap().len(), 11);
    let fetched = schema.body["fetched_at"].clone();
    assert_eq!(
        s.get(&format!("/api/v1/connections/{id}/schema"))
            .await
            .body["fetched_at"],
        fetched,
        "cached"
    );
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    assert_ne!(
        s.get(&format!("/api/v1/connections/{id}/schema?refresh=true"))
            .await
            .body["fetched_at"],
        fetched
    );

    assert_eq!(
        s.delete(&format!("/api/v1/connections/{id}")).await.status,
        204
    );
    assert_error(
        &s.get(&format!("/api/v1/connections/{id}")).await,
        404,
        "connection_not_found",
    );
    s.stop().await;
}

#[tokio::test]
async fn api_tokens_guard_everything_but_health_once_one_exists() {
    let s = start().await;
    assert_eq!(
        s.get("/api/v1/notebooks").await.status,
        200,
        "open while no token exists"
    );
    let token = s.state.store.create_token("ci").await.unwrap();
    assert_error(&s.get("/api/v1/notebooks").await, 401, "unauthorized");
    let wrong = s
        .send(
            s.client
                .get(s.url("/api/v1/notebooks"))
                .bearer_auth("qp_wrong"),
        )
        .await;
    assert_error(&wrong, 401, "unauthorized");
    let ok = s
        .send(
            s.client
                .get(s.url("/api/v1/notebooks"))
                .bearer_auth(&token.secret),
        )
        .await;
    assert_eq!(ok.status, 200);
    assert_eq!(s.get("/healthz").await.status, 200);
    assert_eq!(s.get("/readyz").await.status, 200);
    s.stop().await;
}

#[tokio::test]
async fn a_public_address_without_tokens_is_refused() {
    let data = querypad_testkit::temp_dir();
    let mut config = querypad::config::Config::default();
    config.server.bind = "0.0.0.0:0".into();
    config.server.data_dir = data.dir().to_path_buf();
    let err = querypad::start(config).await.err().expect("refused");
    assert!(
        err.to_string()
            .contains("refusing to listen on 0.0.0.0:0 without API tokens"),
        "{err}"
    );
}
