//! Write-escape corpus: statements that try to change data on a read-only connection, run
//! through `POST /api/v1/query` on all three engines. Each must be refused with a 4xx error, and
//! afterwards row counts, checksums, sequences and the table list must be exactly as before.
//! The checks are layered (sqlcheck, then the read-only session), and this test does not care
//! which layer stops a statement — only that nothing changes.

mod common;

use common::{TestServer, start};
use serde_json::{Value, json};

/// Statements that must be refused everywhere; `{t}` is the canary table, `{s}` a sequence.
const COMMON: &[&str] = &[
    "SELECT 1; DROP TABLE {t}",
    "COMMIT; DELETE FROM {t}",
    "select 1;delete from {t}",
    "SELECT 1 /* ; */ ; DELETE FROM {t}",
    "SELECT 1 -- trailing comment\n; DELETE FROM {t}",
    "SELECT '; DELETE FROM {t}'; DELETE FROM {t}",
    "DELETE FROM {t}",
    "/* just a comment */ DELETE FROM {t}",
    "UPDATE {t} SET v = v + 1",
    "INSERT INTO {t} (id, v) VALUES (1000, 1)",
    "INSERT INTO {t} (id, v) SELECT id + 1000, v FROM {t}",
    "DROP TABLE {t}",
    "TRUNCATE TABLE {t}",
    "ALTER TABLE {t} ADD COLUMN extra INT",
    "CREATE TABLE escape_new (a INT)",
    "CREATE TABLE escape_copy AS SELECT * FROM {t}",
    "CREATE INDEX escape_idx ON {t} (v)",
    "CREATE VIEW escape_view AS SELECT * FROM {t}",
    "BEGIN",
    "SAVEPOINT sp",
];

const POSTGRES: &[&str] = &[
    "WITH d AS (DELETE FROM {t} RETURNING *) SELECT * FROM d",
    "WITH u AS (UPDATE {t} SET v = 0 RETURNING *) SELECT count(*) FROM u",
    "WITH i AS (INSERT INTO {t} VALUES (99, 99) RETURNING *) SELECT * FROM i",
    "SELECT * INTO escape_into FROM {t}",
    "COPY {t} TO PROGRAM 'touch /tmp/querypad_escape_pwned'",
    "COPY {t} FROM '/etc/hostname'",
    "SET default_transaction_read_only = off",
    "SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE",
    "SELECT set_config('default_transaction_read_only', 'off', false)",
    "SELECT nextval('{s}')",
    "SELECT \"nextval\"('{s}')",
    "SELECT NEXTVAL('{s}')",
    "SELECT setval('{s}', 1000)",
    "SELECT pg_catalog.pg_terminate_backend(1)",
    "SELECT * FROM {t} WHERE pg_cancel_backend(1)",
    "SELECT lo_import('/etc/hostname')",
    "SELECT pg_advisory_lock(1)",
    "SELECT * FROM {t} FOR UPDATE",
    "EXPLAIN ANALYZE DELETE FROM {t}",
    "DO $$ BEGIN DELETE FROM {t}; END $$",
    "GRANT ALL ON {t} TO PUBLIC",
    "CREATE TEMP TABLE escape_tmp (a INT)",
    "LOCK TABLE {t}",
    "VACUUM {t}",
    "PREPARE p AS DELETE FROM {t}",
    "MERGE INTO {t} AS x USING (SELECT 1 AS id) AS y ON x.id = y.id WHEN MATCHED THEN DELETE",
];

const MYSQL: &[&str] = &[
    "SELECT * FROM {t} INTO OUTFILE '/tmp/querypad_escape_out'",
    "SELECT * FROM {t} INTO DUMPFILE '/tmp/querypad_escape_dump'",
    "SELECT v INTO @x FROM {t} LIMIT 1",
    "SELECT LOAD_FILE('/etc/hostname')",
    "SELECT GET_LOCK('querypad', 1)",
    "SET @a = 1",
    "SET SESSION TRANSACTION READ WRITE",
    "SET GLOBAL max_connections = 5",
    "REPLACE INTO {t} (id, v) VALUES (1, 0)",
    "INSERT INTO {t} (id, v) VALUES (1, 0) ON DUPLICATE KEY UPDATE v = 0",
    "LOCK TABLES {t} WRITE",
    "SELECT * FROM {t} FOR UPDATE",
    "RENAME TABLE {t} TO escape_renamed",
    "START TRANSACTION",
];

const SQLITE: &[&str] = &[
    "ATTACH DATABASE '/tmp/querypad_escape.db' AS x",
    "PRAGMA writable_schema = 1",
    "PRAGMA query_only = 0",
    "PRAGMA journal_mode = DELETE",
    "VACUUM INTO '/tmp/querypad_escape_vacuum.db'",
    "SELECT load_extension('/tmp/nothing')",
    "REINDEX",
    "ANALYZE",
    "REPLACE INTO {t} (id, v) VALUES (1, 0)",
    "WITH x AS (SELECT 1) DELETE FROM {t}",
    "INSERT OR REPLACE INTO {t} (id, v) VALUES (1, 0)",
    "CREATE TRIGGER escape_trg AFTER INSERT ON {t} BEGIN DELETE FROM {t}; END",
];

/// What a user would check after an attack: same rows, same sum, same tables.
async fn fingerprint(
    s: &TestServer,
    conn: i64,
    t: &str,
    tables_sql: &str,
    extra: Option<&str>,
) -> Value {
    let rows = s
        .query(
            conn,
            &format!("SELECT count(*) AS n, sum(v) AS total, max(id) AS top FROM {t}"),
        )
        .await;
    assert_eq!(rows.status, 200, "{}", rows.text);
    let tables = s.query(conn, tables_sql).await;
    assert_eq!(tables.status, 200, "{}", tables.text);
    let mut fp = json!({"rows": rows.body["rows"], "tables": tables.body["rows"]});
    if let Some(sql) = extra {
        let r = s.query(conn, sql).await;
        assert_eq!(r.status, 200, "{}", r.text);
        fp["extra"] = r.body["rows"].clone();
    }
    fp
}

async fn run_corpus(s: &TestServer, ro: i64, statements: &[&str], t: &str, seq: &str) -> usize {
    let mut n = 0;
    for template in statements {
        let sql = template.replace("{t}", t).replace("{s}", seq);
        let r = s.query(ro, &sql).await;
        assert!(
            (400..500).contains(&r.status),
            "expected a 4xx refusal for {sql:?}, got {}: {}",
            r.status,
            r.text
        );
        let msg = r.body["error"]["message"].as_str().unwrap_or_default();
        assert!(
            !msg.is_empty(),
            "refusal without a message for {sql:?}: {}",
            r.text
        );
        n += 1;
    }
    n
}

#[tokio::test]
async fn no_write_escapes_on_postgres() {
    let Some(url) = querypad_testkit::pg_url("querypad_test") else {
        return;
    };
    let s = start().await;
    let u = querypad_testkit::unique();
    let (t, seq) = (format!("escape_canary_{u}"), format!("escape_seq_{u}"));
    let rw = s
        .post(
            "/api/v1/connections",
            json!({"name": "rw", "url": url, "allow_writes": true}),
        )
        .await
        .body["id"]
        .as_i64()
        .unwrap();
    let ro = s.connect_url("ro", &url).await;
    for sql in [
        format!("CREATE TABLE {t} (id INT PRIMARY KEY, v INT)"),
        format!("INSERT INTO {t} SELECT g, g * 7 FROM generate_series(1, 50) g"),
        format!("CREATE SEQUENCE {seq}"),
    ] {
        let r = s.query(rw, &sql).await;
        assert_eq!(r.status, 200, "{sql}: {}", r.text);
    }
    let tables = "SELECT count(*) FROM information_schema.tables WHERE table_schema NOT IN ('pg_catalog', 'information_schema')";
    let seq_value = format!("SELECT last_value, is_called FROM {seq}");
    let before = fingerprint(&s, ro, &t, tables, Some(&seq_value)).await;
    let n =
        run_corpus(&s, ro, COMMON, &t, &seq).await + run_corpus(&s, ro, POSTGRES, &t, &seq).await;
    assert!(n >= 40, "corpus has {n} cases");
    assert_eq!(
        fingerprint(&s, ro, &t, tables, Some(&seq_value)).await,
        before
    );
    assert!(!std::path::Path::new("/tmp/querypad_escape_pwned").exists());
    s.query(rw, &format!("DROP TABLE {t}")).await;
    s.query(rw, &format!("DROP SEQUENCE {seq}")).await;
    s.stop().await;
}

#[tokio::test]
async fn no_write_escapes_on_mariadb() {
    let Some(url) = querypad_testkit::mysql_url("querypad_test") else {
        return;
    };
    let s = start().await;
    let t = format!("escape_canary_{}", querypad_testkit::unique());
    let rw = s
        .post(
            "/api/v1/connections",
            json!({"name": "rw", "url": url, "allow_writes": true}),
        )
        .await
        .body["id"]
        .as_i64()
        .unwrap();
    let ro = s.connect_url("ro", &url).await;
    for sql in [
        format!("CREATE TABLE {t} (id INT PRIMARY KEY, v INT)"),
        format!("INSERT INTO {t} SELECT seq, seq * 7 FROM seq_1_to_50"),
    ] {
        let r = s.query(rw, &sql).await;
        assert_eq!(r.status, 200, "{sql}: {}", r.text);
    }
    let tables = "SELECT count(*) FROM information_schema.tables WHERE table_schema = DATABASE()";
    let before = fingerprint(&s, ro, &t, tables, None).await;
    let n = run_corpus(&s, ro, COMMON, &t, "").await + run_corpus(&s, ro, MYSQL, &t, "").await;
    assert!(n >= 30, "corpus has {n} cases");
    assert_eq!(fingerprint(&s, ro, &t, tables, None).await, before);
    for f in ["/tmp/querypad_escape_out", "/tmp/querypad_escape_dump"] {
        assert!(!std::path::Path::new(f).exists(), "{f} was written");
    }
    s.query(rw, &format!("DROP TABLE {t}")).await;
    s.stop().await;
}

#[tokio::test]
async fn no_write_escapes_on_sqlite() {
    let s = start().await;
    let copy = querypad_testkit::demo_sqlite_copy();
    let path = copy.path().display().to_string();
    let rw = s
        .post(
            "/api/v1/connections",
            json!({"name": "rw", "kind": "sqlite", "path": path, "allow_writes": true}),
        )
        .await
        .body["id"]
        .as_i64()
        .unwrap();
    let ro = s
        .post(
            "/api/v1/connections",
            json!({"name": "ro", "kind": "sqlite", "path": path}),
        )
        .await
        .body["id"]
        .as_i64()
        .unwrap();
    let t = "escape_canary";
    for sql in [
        format!("CREATE TABLE {t} (id INTEGER PRIMARY KEY, v INTEGER)"),
        format!("INSERT INTO {t} SELECT TrackId, TrackId * 7 FROM Track WHERE TrackId <= 50"),
    ] {
        let r = s.query(rw, &sql).await;
        assert_eq!(r.status, 200, "{sql}: {}", r.text);
    }
    let tables = "SELECT count(*) FROM sqlite_schema";
    let track = "SELECT count(*), sum(Milliseconds) FROM Track";
    let before = fingerprint(&s, ro, t, tables, Some(track)).await;
    let n = run_corpus(&s, ro, COMMON, t, "").await + run_corpus(&s, ro, SQLITE, t, "").await;
    assert!(n >= 30, "corpus has {n} cases");
    assert_eq!(fingerprint(&s, ro, t, tables, Some(track)).await, before);
    for f in ["/tmp/querypad_escape.db", "/tmp/querypad_escape_vacuum.db"] {
        assert!(!std::path::Path::new(f).exists(), "{f} was written");
    }
    s.stop().await;
}
