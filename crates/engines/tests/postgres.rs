//! PostgreSQL engine against the real server (`QUERYPAD_TEST_PG_URL`); skips when unset.

mod common;

use common::*;
use querypad_engines::{
    Database, EngineError, Kind, PoolSettings, QueryOptions, StreamItem, TableKind,
};
use serde_json::{Value, json};
use std::time::Duration;
use tokio::time::Instant;

macro_rules! pg_url {
    ($db:expr) => {
        match querypad_testkit::pg_url($db) {
            Some(url) => url,
            None => return,
        }
    };
}

/// How many statements containing `marker` are running (seen from another session).
async fn running(admin: &Database, marker: &str) -> i64 {
    let sql = format!(
        "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%{marker}%' \
         AND pid <> pg_backend_pid() AND state = 'active'"
    );
    scalar(admin, &sql).await.as_i64().unwrap()
}

#[tokio::test]
async fn ping_reports_version() {
    let db = open(&pg_url!("chinook"), false).await;
    assert_eq!(db.kind(), Kind::Postgres);
    let info = db.ping(Duration::from_secs(5)).await.unwrap();
    assert_eq!(info.flavor, "postgres");
    assert!(info.version.starts_with("15"), "{info:?}");
    assert!(!info.version.contains(' '));
}

#[tokio::test]
async fn wrong_port_is_unreachable_fast() {
    let _ = pg_url!("chinook");
    let db = open("postgres://postgres@127.0.0.1:1/chinook", false).await;
    let started = Instant::now();
    let err = db.ping(Duration::from_secs(5)).await.unwrap_err();
    assert!(matches!(err, EngineError::Unreachable(_)), "{err:?}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    let started = Instant::now();
    let err = run(&db, "SELECT 1", default_opts()).await.unwrap_err();
    assert!(matches!(err, EngineError::Unreachable(_)), "{err:?}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn tls_modes() {
    let url = pg_url!("chinook");
    // The test server has TLS with a self-signed certificate: `require` encrypts without
    // verifying, `verify-full` must refuse the unknown certificate authority.
    let db = open(&format!("{url}?sslmode=require"), false).await;
    assert!(db.ping(Duration::from_secs(5)).await.is_ok());
    assert_eq!(
        scalar(
            &db,
            "SELECT ssl::text FROM pg_stat_ssl WHERE pid = pg_backend_pid()"
        )
        .await,
        json!("true")
    );
    let db = open(&format!("{url}?sslmode=verify-full"), false).await;
    let err = db.ping(Duration::from_secs(5)).await.unwrap_err();
    assert!(matches!(err, EngineError::Tls(_)), "{err:?}");
    assert_eq!(err.code(), "database_tls_failed");
}

#[tokio::test]
async fn unknown_database() {
    let db = open(&pg_url!("querypad_no_such_db"), false).await;
    let err = db.ping(Duration::from_secs(5)).await.unwrap_err();
    assert!(matches!(err, EngineError::UnknownDatabase(_)), "{err:?}");
    assert_eq!(err.code(), "database_not_found");
    let err = run(&db, "SELECT 1", default_opts()).await.unwrap_err();
    assert!(matches!(err, EngineError::UnknownDatabase(_)), "{err:?}");
}

#[tokio::test]
async fn introspects_chinook() {
    let db = open(&pg_url!("chinook"), false).await;
    let catalog = db.introspect(Duration::from_secs(10)).await.unwrap();
    let names: Vec<&str> = catalog.tables.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "album",
            "artist",
            "customer",
            "employee",
            "genre",
            "invoice",
            "invoice_line",
            "media_type",
            "playlist",
            "playlist_track",
            "track"
        ]
    );
    let track = catalog.tables.iter().find(|t| t.name == "track").unwrap();
    assert_eq!(track.schema.as_deref(), Some("public"));
    assert_eq!(track.kind, TableKind::Table);
    assert_eq!(track.primary_key, ["track_id"]);
    let mut fks: Vec<(String, String, String)> = track
        .foreign_keys
        .iter()
        .map(|f| {
            (
                f.columns.join(","),
                f.ref_table.clone(),
                f.ref_columns.join(","),
            )
        })
        .collect();
    fks.sort();
    assert_eq!(
        fks,
        [
            ("album_id".into(), "album".into(), "album_id".into()),
            ("genre_id".into(), "genre".into(), "genre_id".into()),
            (
                "media_type_id".into(),
                "media_type".into(),
                "media_type_id".into()
            ),
        ]
    );
    assert!(
        track
            .foreign_keys
            .iter()
            .all(|f| f.ref_schema.as_deref() == Some("public"))
    );
    let col = |n: &str| track.columns.iter().find(|c| c.name == n).unwrap();
    assert!(!col("name").nullable);
    assert!(col("composer").nullable);
    assert_eq!(col("name").data_type, "character varying(200)");
    assert_eq!(col("unit_price").data_type, "numeric(10,2)");
    assert_eq!(track.columns[0].name, "track_id");
    let pt = catalog
        .tables
        .iter()
        .find(|t| t.name == "playlist_track")
        .unwrap();
    assert_eq!(pt.primary_key, ["playlist_id", "track_id"]);
}

#[tokio::test]
async fn introspect_sees_views_comments_and_estimates() {
    let url = pg_url!("querypad_test");
    let db = open(&url, true).await;
    let t = format!("qp_intro_{}", querypad_testkit::unique());
    ok(
        &db,
        &format!("CREATE TABLE {t} (id int PRIMARY KEY, label text NOT NULL DEFAULT 'x')"),
    )
    .await;
    ok(&db, &format!("COMMENT ON TABLE {t} IS 'the table'")).await;
    ok(&db, &format!("COMMENT ON COLUMN {t}.label IS 'the label'")).await;
    ok(&db, &format!("CREATE VIEW {t}_v AS SELECT id FROM {t}")).await;
    ok(
        &db,
        &format!("INSERT INTO {t} SELECT g, 'l' FROM generate_series(1, 50) g"),
    )
    .await;
    ok(&db, &format!("ANALYZE {t}")).await;
    let catalog = open(&url, false)
        .await
        .introspect(Duration::from_secs(10))
        .await
        .unwrap();
    let table = catalog.tables.iter().find(|x| x.name == t).unwrap();
    assert_eq!(table.comment.as_deref(), Some("the table"));
    assert_eq!(table.row_estimate, Some(50));
    let label = &table.columns[1];
    assert_eq!(label.comment.as_deref(), Some("the label"));
    assert_eq!(label.default.as_deref(), Some("'x'::text"));
    assert!(!label.nullable);
    let view = catalog
        .tables
        .iter()
        .find(|x| x.name == format!("{t}_v"))
        .unwrap();
    assert_eq!(view.kind, TableKind::View);
    assert_eq!(view.row_estimate, None);
    ok(&db, &format!("DROP VIEW {t}_v")).await;
    ok(&db, &format!("DROP TABLE {t}")).await;
}

#[tokio::test]
async fn type_mapping() {
    let url = pg_url!("querypad_test");
    let rw = open(&url, true).await;
    let t = format!("qp_types_{}", querypad_testkit::unique());
    ok(
        &rw,
        &format!(
            "CREATE TABLE {t} (i2 smallint, i4 integer, i8 bigint, big bigint, f4 real, f8 double precision, \
             num numeric(30,5), b boolean, tx text, vc varchar(10), ch char(3), d date, ts timestamp, \
             tstz timestamptz, tm time, j json, jb jsonb, by bytea, u uuid, ia int[], ta text[], \
             nan float8, inf float8, iv interval, mood_arr bool[], jnull jsonb)"
        ),
    )
    .await;
    ok(
        &rw,
        &format!(
            "INSERT INTO {t} VALUES (1, -2, 3, 9007199254740993, 1.5, 2.25, 12345678901234567890.12345, true, \
             'hé \"q\"', 'vc', 'ab', '2024-01-02', '2024-01-02 03:04:05.5', '2024-01-02 03:04:05+00', \
             '03:04:05', '{{\"a\": 1}}', '{{\"b\": [1, 2]}}', '\\xdeadbeef', \
             'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{{1,2,NULL}}', '{{\"x y\",z}}', 'NaN', '-Infinity', \
             '1 day 02:00:00', '{{t,f}}', 'null')"
        ),
    )
    .await;
    ok(&rw, &format!("INSERT INTO {t} DEFAULT VALUES")).await;
    let ro = open(&url, false).await;
    let rs = ok(&ro, &format!("SELECT * FROM {t} ORDER BY i2 NULLS LAST")).await;
    let types: Vec<&str> = rs.columns.iter().map(|c| c.db_type.as_str()).collect();
    assert_eq!(
        types,
        [
            "int2",
            "int4",
            "int8",
            "int8",
            "float4",
            "float8",
            "numeric",
            "bool",
            "text",
            "varchar",
            "char",
            "date",
            "timestamp",
            "timestamptz",
            "time",
            "json",
            "jsonb",
            "bytea",
            "uuid",
            "int4[]",
            "text[]",
            "float8",
            "float8",
            "interval",
            "bool[]",
            "jsonb"
        ]
    );
    let expected: Vec<Value> = vec![
        json!(1),
        json!(-2),
        json!(3),
        json!("9007199254740993"),
        json!(1.5),
        json!(2.25),
        json!("12345678901234567890.12345"),
        json!(true),
        json!("hé \"q\""),
        json!("vc"),
        json!("ab "),
        json!("2024-01-02"),
        json!("2024-01-02T03:04:05.5"),
        json!("2024-01-02T03:04:05+00:00"),
        json!("03:04:05"),
        json!({"a": 1}),
        json!({"b": [1, 2]}),
        json!("3q2+7w=="),
        json!("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
        json!([1, 2, null]),
        json!(["x y", "z"]),
        json!("NaN"),
        json!("-Infinity"),
        json!("1 day 02:00:00"),
        json!([true, false]),
        json!(null),
    ];
    for (i, (got, want)) in rs.rows[0].iter().zip(&expected).enumerate() {
        assert_eq!(
            got, want,
            "column {} ({})",
            rs.columns[i].name, rs.columns[i].db_type
        );
    }
    assert_eq!(rs.rows[0].len(), expected.len());
    assert!(rs.rows[1].iter().all(Value::is_null), "{:?}", rs.rows[1]);
    // Expressions and literals too.
    let rs = ok(&ro, "SELECT 1 AS one, 2.50::numeric AS dec, 'x' AS txt, NULL AS nothing, now() > '2000-01-01' AS later").await;
    assert_eq!(
        rs.rows[0],
        [
            json!(1),
            json!("2.50"),
            json!("x"),
            json!(null),
            json!(true)
        ]
    );
    ok(&rw, &format!("DROP TABLE {t}")).await;
}

#[tokio::test]
async fn zero_rows_still_have_columns() {
    let db = open(&pg_url!("chinook"), false).await;
    let rs = ok(
        &db,
        "SELECT track_id, name, unit_price FROM track WHERE false",
    )
    .await;
    assert!(rs.rows.is_empty());
    let cols: Vec<(&str, &str)> = rs
        .columns
        .iter()
        .map(|c| (c.name.as_str(), c.db_type.as_str()))
        .collect();
    assert_eq!(
        cols,
        [
            ("track_id", "int4"),
            ("name", "varchar"),
            ("unit_price", "numeric")
        ]
    );
    assert_eq!(rs.rows_affected, None);
}

#[tokio::test]
async fn row_cap_truncates() {
    let db = open(&pg_url!("chinook"), false).await;
    let rs = run(
        &db,
        "SELECT * FROM track ORDER BY track_id",
        opts(10, Duration::from_secs(10)),
    )
    .await
    .unwrap();
    assert_eq!(rs.rows.len(), 10);
    assert!(rs.truncated);
    assert_eq!(rs.rows[9][0], json!(10));
    let rs = run(
        &db,
        "SELECT * FROM genre",
        opts(25, Duration::from_secs(10)),
    )
    .await
    .unwrap();
    assert_eq!(rs.row_count, 25);
    assert!(!rs.truncated);
    // A huge result cut at the cap is stopped on the server, quickly.
    let started = Instant::now();
    // (generate_series would materialize first; a cross join streams.)
    let rs = run(
        &db,
        "SELECT a.track_id FROM track a, track b, track c",
        opts(5, Duration::from_secs(30)),
    )
    .await
    .unwrap();
    assert!(rs.truncated);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(scalar(&db, "SELECT 1").await, json!(1));
}

#[tokio::test]
async fn streams_100k_rows_in_batches() {
    let db = open(&pg_url!("chinook"), false).await;
    let sql = "SELECT g, 'row ' || g AS label FROM generate_series(1, 100000) g";
    let mut stream = db
        .query(sql, opts(100_000, Duration::from_secs(30)))
        .await
        .unwrap();
    assert_eq!(stream.columns.len(), 2);
    let (mut batches, mut rows) = (0, 0u64);
    loop {
        match stream.next().await.unwrap().unwrap() {
            StreamItem::Rows(b) => {
                batches += 1;
                rows += b.len() as u64;
            }
            StreamItem::End {
                row_count,
                truncated,
                ..
            } => {
                assert_eq!(row_count, 100_000);
                assert!(!truncated);
                break;
            }
        }
    }
    assert_eq!(rows, 100_000);
    assert!(batches > 10, "{batches}");
    let rs = run(
        &db,
        &sql.replace("100000", "100001"),
        opts(100_000, Duration::from_secs(30)),
    )
    .await
    .unwrap();
    assert_eq!(rs.row_count, 100_000);
    assert!(rs.truncated);
}

#[tokio::test]
async fn statement_timeout_cancels_on_the_server() {
    let url = pg_url!("chinook");
    let settings = PoolSettings {
        max_connections: 1,
        ..PoolSettings::default()
    };
    let db = open_with(&url, false, settings).await;
    let admin = open(&url, false).await;
    let mark = marker();
    let started = Instant::now();
    let err = run(
        &db,
        &format!("SELECT pg_sleep(30), '{mark}'"),
        opts(10, Duration::from_secs(1)),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err, EngineError::Timeout(ms) if (900..=1000).contains(&ms)),
        "{err:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(running(&admin, &mark).await, 0);
    // The pool (one connection) recovers, and the time limit did not stick to the session.
    let rs = run(
        &db,
        "SELECT pg_sleep(1.2), 'ok'",
        opts(10, Duration::from_secs(10)),
    )
    .await
    .unwrap();
    assert_eq!(rs.rows[0][1], json!("ok"));
}

#[tokio::test]
async fn caller_deadline_cancels_on_the_server() {
    let url = pg_url!("chinook");
    let db = open(&url, false).await;
    let admin = open(&url, false).await;
    let mark = marker();
    let o = QueryOptions {
        max_rows: 10,
        statement_timeout: Duration::from_secs(60),
        deadline: Instant::now() + Duration::from_millis(800),
    };
    let started = Instant::now();
    let err = run(&db, &format!("SELECT pg_sleep(30), '{mark}'"), o)
        .await
        .unwrap_err();
    assert!(matches!(err, EngineError::Timeout(_)), "{err:?}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert!(
        eventually(Duration::from_secs(2), || async {
            running(&admin, &mark).await == 0
        })
        .await
    );
    // A deadline already passed: Timeout at once.
    let o = QueryOptions {
        max_rows: 1,
        statement_timeout: Duration::from_secs(5),
        deadline: Instant::now(),
    };
    assert!(matches!(
        run(&db, "SELECT 1", o).await,
        Err(EngineError::Timeout(_))
    ));
}

#[tokio::test]
async fn dropping_the_stream_cancels_on_the_server() {
    let url = pg_url!("chinook");
    let settings = PoolSettings {
        max_connections: 1,
        ..PoolSettings::default()
    };
    let db = open_with(&url, false, settings).await;
    let admin = open(&url, false).await;
    let mark = marker();
    let stream = db
        .query(
            &format!("SELECT pg_sleep(30), '{mark}'"),
            opts(10, Duration::from_secs(60)),
        )
        .await
        .unwrap();
    assert!(
        eventually(Duration::from_secs(3), || async {
            running(&admin, &mark).await == 1
        })
        .await
    );
    drop(stream);
    assert!(
        eventually(Duration::from_secs(3), || async {
            running(&admin, &mark).await == 0
        })
        .await,
        "still running after the stream was dropped"
    );
    assert_eq!(scalar(&db, "SELECT 2").await, json!(2));
}

#[tokio::test]
async fn busy_pool_reports_exhausted() {
    let url = pg_url!("chinook");
    let settings = PoolSettings {
        max_connections: 1,
        acquire_timeout: Duration::from_millis(300),
        ..PoolSettings::default()
    };
    let db = open_with(&url, false, settings).await;
    let held = db
        .query("SELECT pg_sleep(5)", opts(10, Duration::from_secs(10)))
        .await
        .unwrap();
    let err = run(&db, "SELECT 1", default_opts()).await.unwrap_err();
    assert!(matches!(err, EngineError::PoolExhausted), "{err:?}");
    // Ping still answers (from a fresh connection) while the pool is busy.
    assert!(db.ping(Duration::from_secs(5)).await.is_ok());
    drop(held);
    assert!(
        eventually(Duration::from_secs(3), || async {
            run(&db, "SELECT 1", default_opts()).await.is_ok()
        })
        .await
    );
}

#[tokio::test]
async fn read_only_refuses_writes_and_changes_nothing() {
    let url = pg_url!("querypad_test");
    let rw = open(&url, true).await;
    let ro = open(&url, false).await;
    let t = format!("qp_ro_{}", querypad_testkit::unique());
    ok(&rw, &format!("CREATE TABLE {t} (x int)")).await;
    assert_eq!(
        ok(&rw, &format!("INSERT INTO {t} VALUES (1), (2)"))
            .await
            .rows_affected,
        Some(2)
    );
    for sql in [
        format!("CREATE TABLE {t}_evil (x int)"),
        format!("INSERT INTO {t} VALUES (3)"),
        format!("DELETE FROM {t}"),
        format!("UPDATE {t} SET x = 0"),
        format!("DROP TABLE {t}"),
        format!("WITH d AS (DELETE FROM {t} RETURNING x) SELECT * FROM d"),
    ] {
        let err = run(&ro, &sql, default_opts()).await.unwrap_err();
        assert!(matches!(err, EngineError::ReadOnly(_)), "{sql}: {err:?}");
    }
    // Several statements cannot smuggle a COMMIT in.
    let err = run(
        &ro,
        &format!("COMMIT; INSERT INTO {t} VALUES (9)"),
        default_opts(),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, EngineError::Query(_)), "{err:?}");
    assert_eq!(
        scalar(&ro, &format!("SELECT count(*) FROM {t}")).await,
        json!(2)
    );
    ok(&rw, &format!("DROP TABLE {t}")).await;
}

#[tokio::test]
async fn session_settings_do_not_leak() {
    let url = pg_url!("chinook");
    let settings = PoolSettings {
        max_connections: 1,
        ..PoolSettings::default()
    };
    let db = open_with(&url, false, settings).await;
    ok(&db, "SET default_transaction_read_only = off").await;
    ok(&db, "SET search_path = pg_catalog").await;
    assert_eq!(
        scalar(&db, "SHOW default_transaction_read_only").await,
        json!("on")
    );
    assert_eq!(
        scalar(&db, "SHOW search_path").await,
        json!("\"$user\", public")
    );
    assert_eq!(scalar(&db, "SHOW transaction_read_only").await, json!("on"));
    let err = run(&db, "CREATE TEMP TABLE t (x int)", default_opts())
        .await
        .unwrap_err();
    assert!(matches!(err, EngineError::ReadOnly(_)), "{err:?}");
}

#[tokio::test]
async fn errors_are_the_databases_own() {
    let db = open(&pg_url!("chinook"), false).await;
    let err = run(&db, "SELECT nope FROM track", default_opts())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, EngineError::Query(m) if m.contains("nope")),
        "{err:?}"
    );
    let err = run(&db, "SELECT 1/0", default_opts()).await.unwrap_err();
    assert!(
        matches!(&err, EngineError::Query(m) if m.contains("division by zero")),
        "{err:?}"
    );
    // The connection is fine after errors.
    assert_eq!(scalar(&db, "SELECT count(*) FROM genre").await, json!(25));
}

#[tokio::test]
async fn writes_allowed_when_enabled() {
    let db = open(&pg_url!("querypad_test"), true).await;
    let t = format!("qp_rw_{}", querypad_testkit::unique());
    let rs = ok(&db, &format!("CREATE TABLE {t} (x int)")).await;
    assert!(rs.columns.is_empty());
    assert_eq!(
        ok(
            &db,
            &format!("INSERT INTO {t} SELECT generate_series(1, 5)")
        )
        .await
        .rows_affected,
        Some(5)
    );
    let rs = ok(
        &db,
        &format!("UPDATE {t} SET x = x * 10 WHERE x <= 2 RETURNING x"),
    )
    .await;
    assert_eq!(rs.rows, [[json!(10)], [json!(20)]]);
    assert_eq!(
        scalar(&db, &format!("SELECT sum(x) FROM {t}")).await,
        json!(42)
    );
    // A failed statement changes nothing.
    assert!(
        run(
            &db,
            &format!("INSERT INTO {t} VALUES (1), ('x')"),
            default_opts()
        )
        .await
        .is_err()
    );
    assert_eq!(
        scalar(&db, &format!("SELECT count(*) FROM {t}")).await,
        json!(5)
    );
    ok(&db, &format!("DROP TABLE {t}")).await;
}
