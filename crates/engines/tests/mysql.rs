//! MySQL / MariaDB engine against the real server (`QUERYPAD_TEST_MYSQL_URL`); skips when unset.

mod common;

use common::*;
use querypad_engines::{
    Database, EngineError, Kind, PoolSettings, QueryOptions, StreamItem, TableKind,
};
use serde_json::{Value, json};
use std::time::Duration;
use tokio::time::Instant;

macro_rules! my_url {
    ($db:expr) => {
        match querypad_testkit::mysql_url($db) {
            Some(url) => url,
            None => return,
        }
    };
}

/// How many statements containing `marker` are running (seen from another session).
async fn running(admin: &Database, marker: &str) -> i64 {
    let sql = format!(
        "SELECT count(*) FROM information_schema.PROCESSLIST \
         WHERE INFO LIKE '%{marker}%' AND ID <> CONNECTION_ID()"
    );
    scalar(admin, &sql).await.as_i64().unwrap()
}

#[tokio::test]
async fn ping_reports_flavor_and_version() {
    let db = open(&my_url!("Chinook"), false).await;
    assert_eq!(db.kind(), Kind::Mysql);
    let info = db.ping(Duration::from_secs(5)).await.unwrap();
    assert_eq!(info.flavor, "mariadb", "{info:?}");
    assert!(info.version.contains("MariaDB"), "{info:?}");
}

#[tokio::test]
async fn wrong_port_is_unreachable_fast() {
    let _ = my_url!("Chinook");
    let db = open("mysql://root@127.0.0.1:1/Chinook", false).await;
    let started = Instant::now();
    let err = db.ping(Duration::from_secs(5)).await.unwrap_err();
    assert!(matches!(err, EngineError::Unreachable(_)), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(2));
    let err = run(&db, "SELECT 1", default_opts()).await.unwrap_err();
    assert!(matches!(err, EngineError::Unreachable(_)), "{err:?}");
}

#[tokio::test]
async fn tls_required_but_unavailable() {
    let url = my_url!("Chinook");
    let db = open(&format!("{url}?ssl-mode=DISABLED"), false).await;
    let have_ssl = scalar(&db, "SELECT @@have_ssl").await;
    if have_ssl == json!("YES") {
        eprintln!("SKIP: this server offers TLS");
        return;
    }
    let db = open(&format!("{url}?ssl-mode=REQUIRED"), false).await;
    let err = db.ping(Duration::from_secs(5)).await.unwrap_err();
    assert!(matches!(err, EngineError::Tls(_)), "{err:?}");
}

#[tokio::test]
async fn unknown_database() {
    let db = open(&my_url!("querypad_no_such_db"), false).await;
    let err = db.ping(Duration::from_secs(5)).await.unwrap_err();
    assert!(matches!(err, EngineError::UnknownDatabase(_)), "{err:?}");
}

#[tokio::test]
async fn wrong_password_is_auth_failed_without_echo() {
    let admin = open(&my_url!("querypad_test"), true).await;
    ok(
        &admin,
        "CREATE USER IF NOT EXISTS 'qp_auth'@'%' IDENTIFIED BY 'right'",
    )
    .await;
    ok(
        &admin,
        "CREATE USER IF NOT EXISTS 'qp_auth'@'localhost' IDENTIFIED BY 'right'",
    )
    .await;
    let base = std::env::var("QUERYPAD_TEST_MYSQL_URL").unwrap();
    let hostport = base.rsplit('@').next().unwrap().trim_end_matches('/');
    let db = open(
        &format!("mysql://qp_auth:Wrong-Pass-42@{hostport}/querypad_test"),
        false,
    )
    .await;
    let err = db.ping(Duration::from_secs(5)).await.unwrap_err();
    assert!(matches!(err, EngineError::AuthFailed(_)), "{err:?}");
    assert_eq!(err.code(), "database_auth_failed");
    assert!(!err.to_string().contains("Wrong-Pass-42"), "{err}");
    let err = run(&db, "SELECT 1", default_opts()).await.unwrap_err();
    assert!(matches!(err, EngineError::AuthFailed(_)), "{err:?}");
    let good = open(&format!("mysql://qp_auth:right@{hostport}"), false).await;
    assert!(good.ping(Duration::from_secs(5)).await.is_ok());
}

#[tokio::test]
async fn introspects_chinook() {
    let db = open(&my_url!("Chinook"), false).await;
    let catalog = db.introspect(Duration::from_secs(10)).await.unwrap();
    let names: Vec<&str> = catalog.tables.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "Album",
            "Artist",
            "Customer",
            "Employee",
            "Genre",
            "Invoice",
            "InvoiceLine",
            "MediaType",
            "Playlist",
            "PlaylistTrack",
            "Track"
        ]
    );
    let track = catalog.tables.iter().find(|t| t.name == "Track").unwrap();
    assert_eq!(track.schema.as_deref(), Some("Chinook"));
    assert_eq!(track.kind, TableKind::Table);
    assert_eq!(track.primary_key, ["TrackId"]);
    assert!(
        track.row_estimate.is_some_and(|n| n > 1000),
        "{:?}",
        track.row_estimate
    );
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
            ("AlbumId".into(), "Album".into(), "AlbumId".into()),
            ("GenreId".into(), "Genre".into(), "GenreId".into()),
            (
                "MediaTypeId".into(),
                "MediaType".into(),
                "MediaTypeId".into()
            ),
        ]
    );
    let col = |n: &str| track.columns.iter().find(|c| c.name == n).unwrap();
    assert!(!col("Name").nullable);
    assert!(col("Composer").nullable);
    assert_eq!(col("Name").data_type, "varchar(200)");
    assert_eq!(col("UnitPrice").data_type, "decimal(10,2)");
    assert_eq!(col("Composer").default, None);
    let pt = catalog
        .tables
        .iter()
        .find(|t| t.name == "PlaylistTrack")
        .unwrap();
    assert_eq!(pt.primary_key, ["PlaylistId", "TrackId"]);
}

#[tokio::test]
async fn type_mapping() {
    let url = my_url!("querypad_test");
    let rw = open(&url, true).await;
    let t = format!("qp_types_{}", querypad_testkit::unique());
    ok(
        &rw,
        &format!(
            "CREATE TABLE {t} (ti TINYINT, bo BOOLEAN, si SMALLINT, i INT, bi BIGINT, ubi BIGINT UNSIGNED, \
             f FLOAT, d DOUBLE, dc DECIMAL(30,5), vc VARCHAR(20), tx TEXT, ch CHAR(3), dt DATE, \
             dtm DATETIME(3), ts TIMESTAMP NULL DEFAULT NULL, tm TIME, yr YEAR, j JSON, bl BLOB, \
             vb VARBINARY(10), bt BIT(8), en ENUM('a','b'), vbin VARCHAR(10) COLLATE utf8mb4_bin)"
        ),
    )
    .await;
    ok(
        &rw,
        &format!(
            "INSERT INTO {t} VALUES (-1, TRUE, 2, 3, 9007199254740993, 18446744073709551615, 1.5, 2.25, \
             1234567890123456789012345.12345, 'hé', 'text', 'ab', '2024-01-02', '2024-01-02 03:04:05.500', \
             '2024-01-02 03:04:05', '03:04:05', 2024, '{{\"a\": 1}}', x'deadbeef', x'0102', b'00000101', \
             'b', 'bin')"
        ),
    )
    .await;
    ok(&rw, &format!("INSERT INTO {t} () VALUES ()")).await;
    let ro = open(&url, false).await;
    let rs = ok(&ro, &format!("SELECT * FROM {t} ORDER BY ti IS NULL")).await;
    let types: Vec<&str> = rs.columns.iter().map(|c| c.db_type.as_str()).collect();
    assert_eq!(
        types,
        [
            "TINYINT",
            "BOOLEAN",
            "SMALLINT",
            "INT",
            "BIGINT",
            "BIGINT UNSIGNED",
            "FLOAT",
            "DOUBLE",
            "DECIMAL",
            "VARCHAR",
            "TEXT",
            "CHAR",
            "DATE",
            "DATETIME",
            "TIMESTAMP",
            "TIME",
            "YEAR",
            "TEXT",
            "BLOB",
            "VARBINARY",
            "BIT",
            "ENUM",
            "VARCHAR"
        ]
    );
    let expected: Vec<Value> = vec![
        json!(-1),
        json!(1), // BOOLEAN is TINYINT(1): stays a number
        json!(2),
        json!(3),
        json!("9007199254740993"),
        json!("18446744073709551615"),
        json!(1.5),
        json!(2.25),
        json!("1234567890123456789012345.12345"),
        json!("hé"),
        json!("text"),
        json!("ab"),
        json!("2024-01-02"),
        json!("2024-01-02T03:04:05.500"),
        json!("2024-01-02T03:04:05"),
        json!("03:04:05"),
        json!(2024),
        json!("{\"a\": 1}"), // MariaDB's JSON is LONGTEXT: a string
        json!("3q2+7w=="),
        json!("AQI="),
        json!(5),
        json!("b"),
        json!("bin"),
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
    ok(&rw, &format!("DROP TABLE {t}")).await;
}

#[tokio::test]
async fn zero_rows_still_have_columns() {
    let db = open(&my_url!("Chinook"), false).await;
    let rs = ok(
        &db,
        "SELECT TrackId, Name, UnitPrice FROM Track WHERE 1 = 0",
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
            ("TrackId", "INT"),
            ("Name", "VARCHAR"),
            ("UnitPrice", "DECIMAL")
        ]
    );
}

#[tokio::test]
async fn statements_without_prepare_support_still_run() {
    let db = open(&my_url!("Chinook"), false).await;
    // Statements the prepared-statement protocol may refuse still run; columns come from rows.
    let rs = ok(&db, "SHOW TABLES").await;
    assert_eq!(rs.rows.len(), 11);
    assert_eq!(rs.columns.len(), 1);
}

#[tokio::test]
async fn row_cap_truncates() {
    let db = open(&my_url!("Chinook"), false).await;
    let rs = run(
        &db,
        "SELECT * FROM Track ORDER BY TrackId",
        opts(10, Duration::from_secs(10)),
    )
    .await
    .unwrap();
    assert_eq!(rs.rows.len(), 10);
    assert!(rs.truncated);
    let rs = run(
        &db,
        "SELECT * FROM Genre",
        opts(25, Duration::from_secs(10)),
    )
    .await
    .unwrap();
    assert_eq!(rs.row_count, 25);
    assert!(!rs.truncated);
    let started = Instant::now();
    let rs = run(
        &db,
        "SELECT a.TrackId FROM Track a, Track b, Track c",
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
    let db = open(&my_url!("Chinook"), false).await;
    // (MariaDB caps recursive CTEs at max_recursive_iterations = 1000 by default.)
    let sql = "SELECT a.TrackId, CONCAT('row ', b.TrackId) FROM Track a, Track b LIMIT 100000";
    let mut stream = db
        .query(sql, opts(100_000, Duration::from_secs(30)))
        .await
        .unwrap();
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
async fn statement_timeout_kills_on_the_server() {
    let url = my_url!("Chinook");
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
        &format!("SELECT SLEEP(30), '{mark}'"),
        opts(10, Duration::from_secs(1)),
    )
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
    // The pool recovers and the limit does not stick to the session.
    let rs = run(
        &db,
        "SELECT SLEEP(1.2), 'ok'",
        opts(10, Duration::from_secs(10)),
    )
    .await
    .unwrap();
    assert_eq!(rs.rows[0], [json!(0), json!("ok")]);
}

#[tokio::test]
async fn caller_deadline_kills_on_the_server() {
    let url = my_url!("Chinook");
    let db = open(&url, false).await;
    let admin = open(&url, false).await;
    let mark = marker();
    let o = QueryOptions {
        max_rows: 10,
        statement_timeout: Duration::from_secs(60),
        deadline: Instant::now() + Duration::from_millis(800),
    };
    let err = run(&db, &format!("SELECT SLEEP(30), '{mark}'"), o)
        .await
        .unwrap_err();
    assert!(matches!(err, EngineError::Timeout(_)), "{err:?}");
    assert!(
        eventually(Duration::from_secs(2), || async {
            running(&admin, &mark).await == 0
        })
        .await
    );
}

#[tokio::test]
async fn dropping_the_stream_kills_on_the_server() {
    let url = my_url!("Chinook");
    let settings = PoolSettings {
        max_connections: 1,
        ..PoolSettings::default()
    };
    let db = open_with(&url, false, settings).await;
    let admin = open(&url, false).await;
    let mark = marker();
    let stream = db
        .query(
            &format!("SELECT SLEEP(30), '{mark}'"),
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
async fn read_only_refuses_writes_and_changes_nothing() {
    let url = my_url!("querypad_test");
    let rw = open(&url, true).await;
    let ro = open(&url, false).await;
    let t = format!("qp_ro_{}", querypad_testkit::unique());
    ok(&rw, &format!("CREATE TABLE {t} (x INT)")).await;
    assert_eq!(
        ok(&rw, &format!("INSERT INTO {t} VALUES (1), (2)"))
            .await
            .rows_affected,
        Some(2)
    );
    for sql in [
        format!("CREATE TABLE {t}_evil (x INT)"),
        format!("INSERT INTO {t} VALUES (3)"),
        format!("DELETE FROM {t}"),
        format!("UPDATE {t} SET x = 0"),
        format!("DROP TABLE {t}"),
    ] {
        let err = run(&ro, &sql, default_opts()).await.unwrap_err();
        assert!(matches!(err, EngineError::ReadOnly(_)), "{sql}: {err:?}");
    }
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
    let rs = ok(&ro, &format!("SHOW TABLES LIKE '{t}%'")).await;
    assert_eq!(rs.rows.len(), 1, "{rs:?}");
    ok(&rw, &format!("DROP TABLE {t}")).await;
}

#[tokio::test]
async fn writes_allowed_when_enabled() {
    let db = open(&my_url!("querypad_test"), true).await;
    let t = format!("qp_rw_{}", querypad_testkit::unique());
    ok(&db, &format!("CREATE TABLE {t} (x INT)")).await;
    assert_eq!(
        ok(&db, &format!("INSERT INTO {t} VALUES (1), (2), (3)"))
            .await
            .rows_affected,
        Some(3)
    );
    assert_eq!(
        scalar(&db, &format!("SELECT CAST(SUM(x) AS SIGNED) FROM {t}")).await,
        json!(6)
    );
    ok(&db, &format!("DROP TABLE {t}")).await;
}

#[tokio::test]
async fn errors_are_the_databases_own() {
    let db = open(&my_url!("Chinook"), false).await;
    let err = run(&db, "SELECT nope FROM Track", default_opts())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, EngineError::Query(m) if m.contains("nope")),
        "{err:?}"
    );
    assert_eq!(scalar(&db, "SELECT COUNT(*) FROM Genre").await, json!(25));
}
