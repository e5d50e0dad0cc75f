//! SQLite engine against the bundled Chinook file (copies for anything that writes).

mod common;

use common::*;
use querypad_engines::{
    ConnectSpec, Database, EngineError, Kind, PoolSettings, StreamItem, TableKind,
};
use serde_json::json;
use std::time::Duration;
use tokio::time::Instant;

async fn chinook() -> Database {
    open_sqlite(&querypad_testkit::demo_sqlite(), false).await
}

#[tokio::test]
async fn ping_reports_version() {
    let db = chinook().await;
    assert_eq!(db.kind(), Kind::Sqlite);
    let info = db.ping(Duration::from_secs(5)).await.unwrap();
    assert_eq!(info.flavor, "sqlite");
    assert!(info.version.starts_with('3'), "{info:?}");
    assert!(info.rtt_ms >= 0.0);
}

#[tokio::test]
async fn missing_file_is_unknown_database_and_not_created() {
    let dir = querypad_testkit::temp_dir();
    let path = dir.path().join("nope.sqlite");
    let db = open_sqlite(&path, false).await;
    let err = db.ping(Duration::from_secs(5)).await.unwrap_err();
    assert!(matches!(err, EngineError::UnknownDatabase(_)), "{err:?}");
    let err = run(&db, "SELECT 1", default_opts()).await.unwrap_err();
    assert!(matches!(err, EngineError::UnknownDatabase(_)), "{err:?}");
    assert!(!path.exists());
    // Writable connections do not create the file either.
    let db = open_sqlite(&path, true).await;
    assert!(matches!(
        db.ping(Duration::from_secs(5)).await,
        Err(EngineError::UnknownDatabase(_))
    ));
    assert!(!path.exists());
}

#[tokio::test]
async fn connect_needs_a_path() {
    let mut spec = ConnectSpec::from_url("sqlite:x.db").unwrap();
    spec.path = None;
    let err = Database::connect(spec, PoolSettings::default())
        .await
        .err()
        .unwrap();
    assert!(matches!(err, EngineError::InvalidSpec(_)), "{err:?}");
}

#[tokio::test]
async fn introspects_chinook() {
    let db = chinook().await;
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
    assert_eq!(track.kind, TableKind::Table);
    assert_eq!(track.schema, None);
    assert_eq!(track.primary_key, ["TrackId"]);
    assert_eq!(track.row_estimate, Some(3503));
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
    assert!(!col("TrackId").nullable);
    assert_eq!(col("Name").data_type, "NVARCHAR(200)");
    assert_eq!(col("UnitPrice").data_type, "NUMERIC(10,2)");
    let playlist_track = catalog
        .tables
        .iter()
        .find(|t| t.name == "PlaylistTrack")
        .unwrap();
    assert_eq!(playlist_track.primary_key, ["PlaylistId", "TrackId"]);
}

#[tokio::test]
async fn values_by_storage_class() {
    let file = querypad_testkit::demo_sqlite_copy();
    let rw = open_sqlite(file.path(), true).await;
    ok(&rw, "CREATE TABLE types (i INTEGER, big BIGINT, r REAL, t TEXT, b BLOB, n NUMERIC(10,2), d DATE, anything)")
        .await;
    ok(
        &rw,
        "INSERT INTO types VALUES (42, 9007199254740993, 1.5, 'héllo', x'deadbeef', 12.5, '2024-01-02', 'x'), \
         (NULL, -9007199254740991, 1e309, '', x'', NULL, NULL, 7)",
    )
    .await;
    let ro = open_sqlite(file.path(), false).await;
    let rs = ok(
        &ro,
        "SELECT i, big, r, t, b, n, d, anything, i + 1 AS expr FROM types ORDER BY rowid",
    )
    .await;
    let types: Vec<(&str, &str)> = rs
        .columns
        .iter()
        .map(|c| (c.name.as_str(), c.db_type.as_str()))
        .collect();
    assert_eq!(
        types,
        [
            ("i", "INTEGER"),
            ("big", "BIGINT"),
            ("r", "REAL"),
            ("t", "TEXT"),
            ("b", "BLOB"),
            ("n", "NUMERIC(10,2)"),
            ("d", "DATE"),
            ("anything", ""),
            ("expr", "")
        ]
    );
    assert_eq!(
        rs.rows[0],
        [
            json!(42),
            json!("9007199254740993"),
            json!(1.5),
            json!("héllo"),
            json!("3q2+7w=="),
            json!(12.5),
            json!("2024-01-02"),
            json!("x"),
            json!(43)
        ]
    );
    assert_eq!(
        rs.rows[1],
        [
            json!(null),
            json!(-9007199254740991i64),
            json!("Infinity"),
            json!(""),
            json!(""),
            json!(null),
            json!(null),
            json!(7),
            json!(null)
        ]
    );
}

#[tokio::test]
async fn zero_rows_still_have_columns() {
    let db = chinook().await;
    let rs = ok(&db, "SELECT TrackId, Name FROM Track WHERE 1 = 0").await;
    assert!(rs.rows.is_empty());
    assert_eq!(rs.columns.len(), 2);
    assert_eq!(rs.columns[1].name, "Name");
    assert_eq!(rs.columns[1].db_type, "NVARCHAR(200)");
    assert!(!rs.truncated);
    assert_eq!(rs.rows_affected, None);
}

#[tokio::test]
async fn row_cap_truncates() {
    let db = chinook().await;
    let rs = run(
        &db,
        "SELECT * FROM Track",
        opts(10, Duration::from_secs(10)),
    )
    .await
    .unwrap();
    assert_eq!(rs.rows.len(), 10);
    assert_eq!(rs.row_count, 10);
    assert!(rs.truncated);
    let rs = run(
        &db,
        "SELECT * FROM Genre",
        opts(25, Duration::from_secs(10)),
    )
    .await
    .unwrap();
    assert_eq!(rs.row_count, 25);
    assert!(!rs.truncated, "exactly max_rows rows is not truncated");
}

#[tokio::test]
async fn streams_100k_rows_in_batches() {
    let db = chinook().await;
    let sql = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 100000) \
               SELECT x, 'row ' || x FROM c";
    let mut stream = db
        .query(sql, opts(100_000, Duration::from_secs(30)))
        .await
        .unwrap();
    let (mut batches, mut rows, mut last) = (0, 0u64, json!(null));
    loop {
        match stream.next().await.unwrap().unwrap() {
            StreamItem::Rows(b) => {
                batches += 1;
                rows += b.len() as u64;
                last = b.last().unwrap()[0].clone();
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
    assert_eq!(last, json!(100_000));
    assert!(batches > 10, "{batches} batches");
    assert!(stream.next().await.is_none());
    // One more row than the cap: truncated.
    let sql = sql.replace("100000", "100001");
    let rs = run(&db, &sql, opts(100_000, Duration::from_secs(30)))
        .await
        .unwrap();
    assert_eq!(rs.row_count, 100_000);
    assert!(rs.truncated);
}

#[tokio::test]
async fn long_statement_times_out_and_pool_recovers() {
    let file = querypad_testkit::demo_sqlite_copy();
    let mut spec = ConnectSpec::from_url(&format!("sqlite://{}", file.path().display())).unwrap();
    spec.allow_writes = false;
    let settings = PoolSettings {
        max_connections: 1,
        ..PoolSettings::default()
    };
    let db = Database::connect(spec, settings).await.unwrap();
    let sql =
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c";
    let started = Instant::now();
    let err = run(&db, sql, opts(10, Duration::from_secs(1)))
        .await
        .unwrap_err();
    assert!(
        matches!(err, EngineError::Timeout(ms) if (900..=1000).contains(&ms)),
        "{err:?}"
    );
    assert!(
        started.elapsed() < Duration::from_millis(2500),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(err.code(), "statement_timeout");
    // The same (only) pooled connection works afterwards, without a stale time limit.
    assert_eq!(scalar(&db, "SELECT count(*) FROM Genre").await, json!(25));
    let catalog = db.introspect(Duration::from_secs(10)).await.unwrap();
    assert_eq!(catalog.tables.len(), 11);
}

#[tokio::test]
async fn caller_deadline_cancels() {
    let db = chinook().await;
    let sql =
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c";
    let o = querypad_engines::QueryOptions {
        max_rows: 10,
        statement_timeout: Duration::from_secs(30),
        deadline: Instant::now() + Duration::from_millis(700),
    };
    let started = Instant::now();
    let err = run(&db, sql, o).await.unwrap_err();
    assert!(matches!(err, EngineError::Timeout(_)), "{err:?}");
    assert!(started.elapsed() < Duration::from_millis(2000));
}

#[tokio::test]
async fn dropping_the_stream_stops_the_statement() {
    let settings = PoolSettings {
        max_connections: 1,
        ..PoolSettings::default()
    };
    let mut spec = ConnectSpec::from_url(&format!(
        "sqlite://{}",
        querypad_testkit::demo_sqlite().display()
    ))
    .unwrap();
    spec.allow_writes = false;
    let db = Database::connect(spec, settings).await.unwrap();
    let sql =
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c";
    let stream = db
        .query(sql, opts(10, Duration::from_secs(60)))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    drop(stream);
    // The only connection is free again soon (the statement was interrupted, not left running).
    let started = Instant::now();
    assert_eq!(scalar(&db, "SELECT 1").await, json!(1));
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn read_only_refuses_writes_and_changes_nothing() {
    let file = querypad_testkit::demo_sqlite_copy();
    let db = open_sqlite(file.path(), false).await;
    let before = scalar(&db, "SELECT count(*) FROM Genre").await;
    for sql in [
        "CREATE TABLE evil (x INTEGER)",
        "INSERT INTO Genre (GenreId, Name) VALUES (999, 'Evil')",
        "DELETE FROM Genre",
        "UPDATE Genre SET Name = 'x'",
        "DROP TABLE Genre",
    ] {
        let err = run(&db, sql, default_opts()).await.unwrap_err();
        assert!(matches!(err, EngineError::ReadOnly(_)), "{sql}: {err:?}");
        assert_eq!(err.code(), "read_only");
    }
    // Turning query_only off does not make the connection writable.
    let _ = run(&db, "PRAGMA query_only = 0", default_opts()).await;
    let err = run(&db, "DELETE FROM Genre", default_opts())
        .await
        .unwrap_err();
    assert!(matches!(err, EngineError::ReadOnly(_)), "{err:?}");
    // Other files cannot be attached.
    let other = querypad_testkit::demo_sqlite_copy();
    let err = run(
        &db,
        &format!("ATTACH '{}' AS other", other.path().display()),
        default_opts(),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err, EngineError::Query(_) | EngineError::ReadOnly(_)),
        "{err:?}"
    );
    assert_eq!(scalar(&db, "SELECT count(*) FROM Genre").await, before);
}

#[tokio::test]
async fn writes_allowed_when_enabled() {
    let file = querypad_testkit::demo_sqlite_copy();
    let db = open_sqlite(file.path(), true).await;
    let rs = ok(&db, "CREATE TABLE scratch (x INTEGER)").await;
    assert!(rs.columns.is_empty());
    let rs = ok(&db, "INSERT INTO scratch VALUES (1), (2), (3)").await;
    assert_eq!(rs.rows_affected, Some(3));
    assert!(rs.rows.is_empty());
    assert_eq!(scalar(&db, "SELECT count(*) FROM scratch").await, json!(3));
    // A statement that leaves a transaction open does not leak it into the next query.
    ok(&db, "BEGIN").await;
    assert_eq!(ok(&db, "DELETE FROM scratch").await.rows_affected, Some(3));
    assert_eq!(scalar(&db, "SELECT count(*) FROM scratch").await, json!(0));
}

#[tokio::test]
async fn one_statement_at_a_time() {
    let db = chinook().await;
    let err = run(&db, "SELECT 1; SELECT 2", default_opts())
        .await
        .unwrap_err();
    assert!(matches!(err, EngineError::Query(_)), "{err:?}");
    let err = run(&db, "SELECT * FROM no_such_table", default_opts())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, EngineError::Query(m) if m.contains("no_such_table")),
        "{err:?}"
    );
    // A trailing semicolon and comments are fine.
    assert_eq!(scalar(&db, "SELECT 1; -- done").await, json!(1));
}

#[tokio::test]
async fn pool_status_and_close() {
    let db = chinook().await;
    assert_eq!(
        db.pool_status().size,
        0,
        "lazy: no connection before first use"
    );
    ok(&db, "SELECT 1").await;
    assert!(db.pool_status().size >= 1);
    // The connection goes back to the pool asynchronously.
    assert!(
        eventually(Duration::from_secs(2), || async {
            db.pool_status().idle >= 1
        })
        .await
    );
    db.close().await;
    assert!(run(&db, "SELECT 1", default_opts()).await.is_err());
}
