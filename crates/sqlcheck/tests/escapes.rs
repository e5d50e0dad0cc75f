//! The write-escape corpus: SQL that must never pass on a read-only connection, each with the
//! exact refusal a user would see.

use querypad_sqlcheck::{CheckError, Dialect, Policy, check};

use CheckError::{ForbiddenFunction, MultipleStatements, NotReadOnly, Parse};
use Dialect::{Mysql, Postgres, Sqlite};

const READ_ONLY: Policy = Policy {
    allow_writes: false,
    max_rows: Some(1000),
};

/// What a case must produce. `Parse` cases only check the variant: the message is sqlparser's.
enum Expect {
    Multiple(usize),
    Found(&'static str),
    Function(&'static str),
    Unparseable,
}

/// Runs every case and reports all mismatches at once, naming the dialect and the SQL.
fn assert_refused(cases: &[(Dialect, &str, Expect)]) {
    let mut failures = Vec::new();
    for (dialect, sql, expect) in cases {
        let got = check(sql, *dialect, &READ_ONLY);
        let ok = match (expect, &got) {
            (Expect::Multiple(n), Err(MultipleStatements(m))) => n == m,
            (Expect::Found(kind), Err(e @ NotReadOnly(found))) => {
                found == kind && e.to_string().contains(&format!("found {kind}"))
            }
            (Expect::Function(name), Err(e @ ForbiddenFunction(found))) => {
                found == name && e.to_string().contains(&format!("{name}()"))
            }
            (Expect::Unparseable, Err(Parse(message))) => !message.is_empty(),
            _ => false,
        };
        if ok {
            if let Err(e) = &got {
                assert_eq!(e.code(), expected_code(expect), "{sql}");
            }
        } else {
            failures.push(format!("{dialect:?} {sql:?} -> {got:?}"));
        }
    }
    assert!(
        failures.is_empty(),
        "unexpected results:\n{}",
        failures.join("\n")
    );
}

fn expected_code(expect: &Expect) -> &'static str {
    match expect {
        Expect::Multiple(_) => "sql_multiple_statements",
        Expect::Found(_) | Expect::Function(_) => "sql_not_read_only",
        Expect::Unparseable => "sql_parse_error",
    }
}

#[test]
fn stacked_statements() {
    use Expect::*;
    assert_refused(&[
        (Postgres, "SELECT 1; DROP TABLE t", Multiple(2)),
        (Sqlite, "COMMIT; DELETE FROM t", Multiple(2)),
        (Mysql, "SELECT 1; SELECT 2;", Multiple(2)),
        (Sqlite, "SELECT 1;\n;\nUPDATE t SET a = 1;", Multiple(2)),
        (
            Postgres,
            "BEGIN; SET TRANSACTION READ WRITE; DELETE FROM t; COMMIT",
            Multiple(4),
        ),
        // A bare END after a statement ends sqlparser's own statement loop silently.
        (Postgres, "SELECT 1 END; DROP TABLE t", Multiple(3)),
        // No semicolon at all: the second statement is still a statement.
        (
            Sqlite,
            "SELECT * FROM t WHERE a = 1 -- ;\n DELETE FROM t",
            Multiple(2),
        ),
        // MySQL runs the contents of /*! ... */ comments.
        (Mysql, "SELECT 1 /*!50000 ; DROP TABLE t */", Multiple(2)),
        // PostgreSQL strings are standard-conforming: the backslash does not escape the quote.
        (Postgres, r"SELECT '\'; DROP TABLE t; --'", Multiple(2)),
        (Sqlite, r"SELECT '\'; DROP TABLE t; --'", Multiple(2)),
        // SQLite and MySQL comments do not nest; the first */ ends it.
        (
            Sqlite,
            "SELECT 1 /* /* */ ; DROP TABLE t; -- */",
            Multiple(2),
        ),
        (
            Mysql,
            "SELECT 1 /* /* */ ; DROP TABLE t; -- */",
            Multiple(2),
        ),
    ]);
}

#[test]
fn comment_and_quote_tricks() {
    use Expect::*;
    assert_refused(&[
        // Parses as `SELECT 1 AS delete FROM t`; refused as what it looks like.
        (Postgres, "SELECT 1 -- ;\n DELETE FROM t", Found("DELETE")),
        (Sqlite, "SELECT 1 -- ;\n DELETE FROM t", Found("DELETE")),
        (Mysql, "SELECT 1 -- ;\n DELETE FROM t", Found("DELETE")),
        (Postgres, "SELECT * FROM t -- ;\n DROP TABLE t", Unparseable),
        // MariaDB runs /*M! ... */ but sqlparser sees a comment: unverifiable.
        (
            Mysql,
            "SELECT * FROM t /*M! INTO OUTFILE '/tmp/x' */",
            Unparseable,
        ),
        (
            Mysql,
            "SELECT * FROM t /*! INTO OUTFILE '/tmp/x' */",
            Unparseable,
        ),
        (Postgres, r#"SELECT "nextval"('s')"#, Function("nextval")),
        (Postgres, "SELECT NEXTVAL('s')", Function("nextval")),
        (
            Postgres,
            "SELECT pg_catalog.pg_terminate_backend(1)",
            Function("pg_terminate_backend"),
        ),
        (
            Postgres,
            r#"SELECT "pg_catalog"."pg_terminate_backend"(1)"#,
            Function("pg_terminate_backend"),
        ),
        (
            Postgres,
            "SELECT PG_TERMINATE_BACKEND(1)",
            Function("pg_terminate_backend"),
        ),
    ]);
}

#[test]
fn data_modifying_ctes() {
    use Expect::*;
    assert_refused(&[
        (
            Postgres,
            "WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d",
            Found("DELETE"),
        ),
        (
            Postgres,
            "WITH u AS (UPDATE t SET a = 1 RETURNING *) SELECT * FROM u",
            Found("UPDATE"),
        ),
        (
            Postgres,
            "WITH i AS (INSERT INTO t VALUES (1) RETURNING *) SELECT * FROM i",
            Found("INSERT"),
        ),
        (
            Postgres,
            "WITH ok AS (SELECT 1), d AS (DELETE FROM t RETURNING *) SELECT * FROM ok",
            Found("DELETE"),
        ),
        (
            Postgres,
            "SELECT * FROM (WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d) x",
            Found("DELETE"),
        ),
        (
            Postgres,
            "SELECT 1 UNION ALL SELECT * FROM (DELETE FROM t RETURNING *) d",
            Found("DELETE"),
        ),
    ]);
}

#[test]
fn select_into_and_row_locks() {
    use Expect::*;
    assert_refused(&[
        (
            Postgres,
            "SELECT * INTO new_t FROM t",
            Found("SELECT ... INTO"),
        ),
        (
            Postgres,
            "SELECT * INTO TEMP new_t FROM t",
            Found("SELECT ... INTO"),
        ),
        (
            Postgres,
            "SELECT * FROM (SELECT 1) s WHERE EXISTS (SELECT * INTO x FROM t)",
            Found("SELECT ... INTO"),
        ),
        (Mysql, "SELECT a INTO @x FROM t", Found("SELECT ... INTO")),
        (Mysql, "SELECT 1 INTO @a", Found("SELECT ... INTO")),
        // MySQL's trailing INTO form does not parse in sqlparser 0.64.
        (Mysql, "SELECT * FROM t INTO @x", Unparseable),
        // sqlparser 0.64 cannot parse INTO OUTFILE/DUMPFILE: refused as unverifiable.
        (Mysql, "SELECT * FROM t INTO OUTFILE '/tmp/x'", Unparseable),
        (Mysql, "SELECT * FROM t INTO DUMPFILE '/tmp/x'", Unparseable),
        (Postgres, "SELECT * FROM t FOR UPDATE", Found("FOR UPDATE")),
        (Postgres, "SELECT * FROM t FOR SHARE", Found("FOR SHARE")),
        (
            Postgres,
            "SELECT * FROM (SELECT * FROM t FOR UPDATE) x",
            Found("FOR UPDATE"),
        ),
        (
            Mysql,
            "SELECT * FROM t FOR UPDATE NOWAIT",
            Found("FOR UPDATE"),
        ),
        (Postgres, "SELECT * FROM t FOR NO KEY UPDATE", Unparseable),
        (Mysql, "SELECT * FROM t LOCK IN SHARE MODE", Unparseable),
    ]);
}

#[test]
fn copy_and_files() {
    use Expect::*;
    assert_refused(&[
        (Postgres, "COPY t TO PROGRAM 'rm -rf /'", Found("COPY")),
        (Postgres, "COPY t FROM '/etc/passwd'", Found("COPY")),
        (Postgres, "COPY (SELECT 1) TO STDOUT", Found("COPY")),
        (
            Postgres,
            "SELECT lo_import('/etc/passwd')",
            Function("lo_import"),
        ),
        (
            Postgres,
            "SELECT pg_read_file('/etc/passwd')",
            Function("pg_read_file"),
        ),
        (
            Postgres,
            "SELECT * FROM pg_ls_dir('.')",
            Function("pg_ls_dir"),
        ),
        (
            Mysql,
            "SELECT LOAD_FILE('/etc/passwd')",
            Function("load_file"),
        ),
        (Mysql, "LOAD DATA INFILE '/tmp/x' INTO TABLE t", Unparseable),
        (
            Sqlite,
            "SELECT load_extension('/tmp/evil.so')",
            Function("load_extension"),
        ),
        (
            Sqlite,
            "SELECT writefile('/tmp/x', 'data')",
            Function("writefile"),
        ),
        (
            Sqlite,
            "SELECT readfile('/etc/passwd')",
            Function("readfile"),
        ),
    ]);
}

#[test]
fn sqlite_attach_and_pragmas() {
    use Expect::*;
    assert_refused(&[
        (
            Sqlite,
            "ATTACH DATABASE '/tmp/x.db' AS x",
            Found("ATTACH DATABASE"),
        ),
        (Sqlite, "ATTACH '/tmp/x.db' AS x", Found("ATTACH DATABASE")),
        // sqlparser 0.64 parses DETACH only for DuckDB.
        (Sqlite, "DETACH DATABASE x", Unparseable),
        (
            Sqlite,
            "PRAGMA writable_schema=1",
            Found("PRAGMA writable_schema"),
        ),
        (Sqlite, "PRAGMA query_only = 0", Found("PRAGMA query_only")),
        (
            Sqlite,
            "PRAGMA journal_mode = WAL",
            Found("PRAGMA journal_mode"),
        ),
        (
            Sqlite,
            "PRAGMA main.table_info = 'x'",
            Found("PRAGMA table_info"),
        ),
        (Sqlite, "PRAGMA user_version", Found("PRAGMA user_version")),
        (Sqlite, "PRAGMA optimize", Found("PRAGMA optimize")),
        (
            Sqlite,
            "PRAGMA table_info(users); DROP TABLE users",
            Unparseable,
        ),
        (Sqlite, "VACUUM", Found("VACUUM")),
        (Sqlite, "VACUUM INTO '/tmp/copy.db'", Unparseable),
        (Sqlite, "ANALYZE", Found("ANALYZE")),
        (Sqlite, "REINDEX", Unparseable),
        (Sqlite, "REPLACE INTO t VALUES (1)", Found("REPLACE")),
    ]);
}

#[test]
fn session_state() {
    use Expect::*;
    assert_refused(&[
        (
            Postgres,
            "SET default_transaction_read_only = off",
            Found("SET"),
        ),
        (
            Postgres,
            "SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE",
            Found("SET"),
        ),
        (Postgres, "SET TRANSACTION READ WRITE", Found("SET")),
        (Postgres, "SET ROLE postgres", Found("SET")),
        (Postgres, "RESET ALL", Found("RESET")),
        (Postgres, "DISCARD ALL", Found("DISCARD")),
        (
            Postgres,
            "SELECT set_config('default_transaction_read_only', 'off', false)",
            Function("set_config"),
        ),
        (Mysql, "SET SESSION transaction_read_only = 0", Found("SET")),
        (Mysql, "SET GLOBAL read_only = 0", Found("SET")),
        (Mysql, "SET @a = 1", Found("SET")),
        (Mysql, "USE other_db", Found("USE")),
        (Postgres, "LISTEN c", Found("LISTEN")),
        (Postgres, "NOTIFY c", Found("NOTIFY")),
        (
            Postgres,
            "SELECT pg_notify('c', 'x')",
            Function("pg_notify"),
        ),
    ]);
}

#[test]
fn side_effecting_functions_anywhere() {
    use Expect::*;
    assert_refused(&[
        (Postgres, "SELECT nextval('s')", Function("nextval")),
        (Postgres, "SELECT setval('s', 1)", Function("setval")),
        (
            Postgres,
            "SELECT * FROM t WHERE id IN (SELECT nextval('s'))",
            Function("nextval"),
        ),
        (
            Postgres,
            "WITH x AS (SELECT nextval('s')) SELECT * FROM x",
            Function("nextval"),
        ),
        (
            Postgres,
            "SELECT coalesce(nextval('s'), 1)",
            Function("nextval"),
        ),
        (
            Postgres,
            "SELECT CASE WHEN true THEN pg_cancel_backend(1) END",
            Function("pg_cancel_backend"),
        ),
        (
            Postgres,
            "SELECT a FROM t ORDER BY pg_advisory_lock(1)",
            Function("pg_advisory_lock"),
        ),
        (
            Postgres,
            "SELECT dblink_exec('dbname=x', 'DROP TABLE t')",
            Function("dblink_exec"),
        ),
        (
            Postgres,
            "SELECT * FROM dblink('x', 'select 1') AS t(a int)",
            Function("dblink"),
        ),
        (Postgres, "SELECT txid_current()", Function("txid_current")),
        (
            Postgres,
            "EXPLAIN ANALYZE SELECT nextval('s')",
            Function("nextval"),
        ),
        (Mysql, "SELECT GET_LOCK('x', 10)", Function("get_lock")),
        (Mysql, "SELECT sys_exec('id')", Function("sys_exec")),
        (
            Sqlite,
            "SELECT fts3_tokenizer('x')",
            Function("fts3_tokenizer"),
        ),
    ]);
}

#[test]
fn ddl_and_dml() {
    use Expect::*;
    assert_refused(&[
        (
            Postgres,
            "CREATE TABLE x AS SELECT 1",
            Found("CREATE TABLE ... AS"),
        ),
        (
            Postgres,
            "CREATE TEMP TABLE x (a int)",
            Found("CREATE TEMPORARY TABLE"),
        ),
        (Sqlite, "CREATE TABLE x (a)", Found("CREATE TABLE")),
        (Postgres, "CREATE VIEW v AS SELECT 1", Found("CREATE VIEW")),
        (Postgres, "CREATE INDEX i ON t (a)", Found("CREATE INDEX")),
        (Postgres, "DROP TABLE t", Found("DROP TABLE")),
        (Mysql, "DROP DATABASE d", Found("DROP DATABASE")),
        (Postgres, "TRUNCATE t", Found("TRUNCATE")),
        (
            Postgres,
            "ALTER TABLE t ADD COLUMN b int",
            Found("ALTER TABLE"),
        ),
        (Mysql, "RENAME TABLE a TO b", Found("RENAME TABLE")),
        (Postgres, "GRANT SELECT ON t TO bob", Found("GRANT")),
        (Postgres, "REVOKE SELECT ON t FROM bob", Found("REVOKE")),
        (Postgres, "COMMENT ON TABLE t IS 'x'", Found("COMMENT")),
        (Sqlite, "INSERT INTO t VALUES (1)", Found("INSERT")),
        (Postgres, "UPDATE t SET a = 1", Found("UPDATE")),
        (Mysql, "DELETE FROM t", Found("DELETE")),
        (
            Postgres,
            "MERGE INTO t USING s ON t.a = s.a WHEN MATCHED THEN DELETE",
            Found("MERGE"),
        ),
        (Mysql, "REPLACE INTO t VALUES (1)", Found("REPLACE")),
        (
            Postgres,
            "REFRESH MATERIALIZED VIEW v",
            Found("REFRESH MATERIALIZED VIEW"),
        ),
    ]);
}

#[test]
fn transactions_locks_procedures_and_maintenance() {
    use Expect::*;
    assert_refused(&[
        (Postgres, "BEGIN", Found("BEGIN")),
        (Postgres, "BEGIN READ WRITE", Found("BEGIN")),
        (
            Mysql,
            "START TRANSACTION READ WRITE",
            Found("START TRANSACTION"),
        ),
        (Sqlite, "COMMIT", Found("COMMIT")),
        (Postgres, "END", Found("END")),
        (Postgres, "ROLLBACK", Found("ROLLBACK")),
        (Postgres, "SAVEPOINT a", Found("SAVEPOINT")),
        (Postgres, "RELEASE SAVEPOINT a", Found("RELEASE SAVEPOINT")),
        (Postgres, "LOCK TABLE t", Found("LOCK TABLE")),
        (Mysql, "LOCK TABLES t WRITE", Found("LOCK TABLES")),
        (Mysql, "UNLOCK TABLES", Found("UNLOCK TABLES")),
        (Postgres, "CALL p()", Found("CALL")),
        (Mysql, "CALL p()", Found("CALL")),
        // sqlparser 0.64 has no DO, HANDLER, REINDEX or MySQL `PREPARE ... FROM`.
        (Postgres, "DO $$ BEGIN DELETE FROM t; END $$", Unparseable),
        (Mysql, "DO RELEASE_LOCK('x')", Unparseable),
        (Mysql, "HANDLER t OPEN", Unparseable),
        (Mysql, "PREPARE s FROM 'DELETE FROM t'", Unparseable),
        (Postgres, "REINDEX TABLE t", Unparseable),
        (Postgres, "PREPARE p AS DELETE FROM t", Found("PREPARE")),
        (Postgres, "PREPARE p AS SELECT 1", Found("PREPARE")),
        (Postgres, "EXECUTE p", Found("EXECUTE")),
        (Mysql, "EXECUTE s", Found("EXECUTE")),
        (Postgres, "DEALLOCATE p", Found("DEALLOCATE")),
        (Postgres, "DECLARE c CURSOR FOR SELECT 1", Found("DECLARE")),
        (Postgres, "VACUUM FULL t", Found("VACUUM")),
        (Postgres, "ANALYZE t", Found("ANALYZE")),
        (Mysql, "KILL 5", Found("KILL")),
        (Mysql, "FLUSH PRIVILEGES", Found("FLUSH")),
    ]);
}

#[test]
fn explain_of_writes() {
    use Expect::*;
    assert_refused(&[
        (
            Postgres,
            "EXPLAIN ANALYZE DELETE FROM t",
            Found("EXPLAIN ANALYZE DELETE"),
        ),
        (
            Postgres,
            "EXPLAIN (ANALYZE) DELETE FROM t",
            Found("EXPLAIN ANALYZE DELETE"),
        ),
        (
            Postgres,
            "EXPLAIN (ANALYZE, FORMAT JSON) UPDATE t SET a = 1",
            Found("EXPLAIN ANALYZE UPDATE"),
        ),
        (
            Mysql,
            "EXPLAIN ANALYZE INSERT INTO t VALUES (1)",
            Found("EXPLAIN ANALYZE INSERT"),
        ),
        (Postgres, "EXPLAIN DELETE FROM t", Found("EXPLAIN DELETE")),
        (
            Sqlite,
            "EXPLAIN QUERY PLAN DELETE FROM t",
            Found("EXPLAIN DELETE"),
        ),
    ]);
}

#[test]
fn corpus_is_large_enough() {
    // Guard against the corpus quietly shrinking; keep in step with the tables above.
    let sources = include_str!("escapes.rs");
    let cases = sources
        .lines()
        .filter(|l| {
            let l = l.trim_start();
            l.starts_with("(Postgres,") || l.starts_with("(Sqlite,") || l.starts_with("(Mysql,")
        })
        .count();
    assert!(cases >= 35, "only {cases} one-line cases");
}
