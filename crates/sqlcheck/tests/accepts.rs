//! Read-only SQL that must pass, with the kind and text the engine will run.

use querypad_sqlcheck::{Checked, Dialect, Policy, StatementKind, check};

use Dialect::{Mysql, Postgres, Sqlite};
use StatementKind::{Explain, Metadata, Query};

const ALL: [Dialect; 3] = [Sqlite, Postgres, Mysql];

/// Read-only, no row cap: the text comes back as written (minus trailing semicolons).
fn read(sql: &str, dialect: Dialect) -> Checked {
    check(
        sql,
        dialect,
        &Policy {
            allow_writes: false,
            max_rows: None,
        },
    )
    .unwrap_or_else(|e| panic!("{dialect:?} refused {sql:?}: {e}"))
}

fn assert_passes(dialects: &[Dialect], sql: &str, kind: StatementKind) {
    assert_passes_as(dialects, sql, kind, sql.trim_end().trim_end_matches(';'));
}

/// Like `assert_passes`, with the exact text expected back (trailing comments are cut too).
fn assert_passes_as(dialects: &[Dialect], sql: &str, kind: StatementKind, expected: &str) {
    for &dialect in dialects {
        let checked = read(sql, dialect);
        assert_eq!(checked.kind, kind, "{dialect:?} {sql}");
        assert_eq!(checked.sql, expected, "{dialect:?}");
        assert!(!checked.limit_added);
    }
}

#[test]
fn ordinary_selects() {
    assert_passes(&ALL, "SELECT 1", Query);
    assert_passes(&ALL, "SELECT * FROM users WHERE id = 1;", Query);
    assert_passes(
        &ALL,
        "select name, count(*) from users group by name having count(*) > 1 order by 2 desc",
        Query,
    );
    assert_passes(
        &ALL,
        "SELECT DISTINCT u.name FROM users AS u WHERE u.name LIKE 'a%'",
        Query,
    );
    assert_passes(&ALL, "SELECT (SELECT max(total) FROM orders) AS top", Query);
    assert_passes(
        &ALL,
        "SELECT * FROM users WHERE EXISTS (SELECT 1 FROM orders WHERE orders.user_id = users.id)",
        Query,
    );
}

#[test]
fn joins() {
    assert_passes(
        &ALL,
        "SELECT u.name, o.total FROM users u JOIN orders o ON o.user_id = u.id LEFT JOIN items i ON i.order_id = o.id",
        Query,
    );
    assert_passes(
        &[Postgres, Mysql],
        "SELECT * FROM a CROSS JOIN b RIGHT JOIN c ON c.id = b.id",
        Query,
    );
}

#[test]
fn ctes_including_recursive() {
    assert_passes(
        &ALL,
        "WITH big AS (SELECT * FROM orders WHERE total > 100) SELECT count(*) FROM big",
        Query,
    );
    assert_passes(
        &ALL,
        "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 10) SELECT x FROM n",
        Query,
    );
    assert_passes(
        &[Postgres],
        "WITH a AS MATERIALIZED (SELECT 1) SELECT * FROM a",
        Query,
    );
}

#[test]
fn window_functions() {
    assert_passes(
        &ALL,
        "SELECT name, rank() OVER (PARTITION BY dept ORDER BY salary DESC) AS r FROM emp",
        Query,
    );
    assert_passes(
        &ALL,
        "SELECT sum(x) OVER w FROM t WINDOW w AS (ORDER BY y ROWS BETWEEN 1 PRECEDING AND CURRENT ROW)",
        Query,
    );
}

#[test]
fn set_operations_and_values() {
    assert_passes(&ALL, "SELECT a FROM x UNION SELECT a FROM y", Query);
    assert_passes(
        &ALL,
        "SELECT a FROM x UNION ALL SELECT a FROM y ORDER BY 1",
        Query,
    );
    assert_passes(
        &[Sqlite, Postgres],
        "SELECT a FROM x INTERSECT SELECT a FROM y EXCEPT SELECT a FROM z",
        Query,
    );
    assert_passes(&[Sqlite, Postgres], "VALUES (1, 'a'), (2, 'b')", Query);
}

#[test]
fn explain_of_reads() {
    assert_passes(&ALL, "EXPLAIN SELECT * FROM users", Explain);
    assert_passes(
        &[Sqlite],
        "EXPLAIN QUERY PLAN SELECT * FROM users WHERE id = 1",
        Explain,
    );
    assert_passes(
        &[Postgres, Mysql],
        "EXPLAIN ANALYZE SELECT * FROM users",
        Explain,
    );
    assert_passes(
        &[Postgres],
        "EXPLAIN (ANALYZE, FORMAT JSON) SELECT 1",
        Explain,
    );
}

#[test]
fn metadata_commands() {
    assert_passes(&[Mysql], "SHOW TABLES", Metadata);
    assert_passes(&[Mysql], "SHOW FULL TABLES FROM shop", Metadata);
    assert_passes(&[Mysql], "SHOW CREATE TABLE users", Metadata);
    assert_passes(&[Mysql], "SHOW COLUMNS FROM users", Metadata);
    assert_passes(&[Mysql], "DESCRIBE users", Metadata);
    assert_passes(&[Mysql], "DESC users", Metadata);
    assert_passes(&[Mysql], "EXPLAIN users", Metadata);
    assert_passes(&[Postgres], "SHOW search_path", Metadata);
    assert_passes(&[Postgres], "SHOW ALL", Metadata);
}

#[test]
fn sqlite_read_only_pragmas() {
    // `PRAGMA table_info(users)` does not parse in sqlparser 0.64; the fallback handles it.
    assert_passes(&[Sqlite], "PRAGMA table_info(users)", Metadata);
    assert_passes(&[Sqlite], "PRAGMA table_info('users');", Metadata);
    assert_passes(&[Sqlite], "PRAGMA main.index_list(\"users\")", Metadata);
    assert_passes(&[Sqlite], "pragma TABLE_XINFO(users)", Metadata);
    for name in [
        "table_info(t)",
        "table_xinfo(t)",
        "index_list(t)",
        "index_info(i)",
        "index_xinfo(i)",
        "foreign_key_list(t)",
        "database_list",
        "table_list",
        "collation_list",
        "function_list",
        "compile_options",
    ] {
        assert_passes(&[Sqlite], &format!("PRAGMA {name}"), Metadata);
    }
}

#[test]
fn sleeping_is_allowed() {
    assert_passes(&[Postgres], "SELECT pg_sleep(1)", Query);
    assert_passes(&[Mysql], "SELECT SLEEP(1)", Query);
}

#[test]
fn comments_and_strings_that_look_dangerous() {
    assert_passes_as(&ALL, "SELECT 1 /* ; DROP TABLE t */", Query, "SELECT 1");
    assert_passes(&ALL, "SELECT 1 /* ; DROP TABLE t */ + 1", Query);
    assert_passes(&ALL, "SELECT '; DROP TABLE t'", Query);
    assert_passes(&ALL, "SELECT 'DELETE FROM t' AS sql_text", Query);
    assert_passes(&ALL, "-- DELETE FROM t;\nSELECT 1", Query);
    assert_passes_as(
        &[Postgres],
        "SELECT 1 /* /* */ ; DROP TABLE t; -- */",
        Query,
        "SELECT 1",
    );
    assert_passes(&[Postgres], "SELECT $$ ; DROP TABLE t $$", Query);
    assert_passes(&[Mysql], r"SELECT '\'; DROP TABLE t; -- '", Query);
    assert_passes_as(&[Mysql], "SELECT 1 # ; DROP TABLE t", Query, "SELECT 1");
    assert_passes(
        &[Postgres, Sqlite],
        r#"SELECT "delete", "drop" FROM t"#,
        Query,
    );
    assert_passes(&[Mysql], "SELECT `delete` FROM t", Query);
    // MySQL's INSERT() string function is not an INSERT.
    assert_passes(&[Mysql], "SELECT INSERT('abc', 1, 1, 'x')", Query);
}

#[test]
fn keeps_the_users_text() {
    let sql = "select *\n  from users   -- all of them\n where name = 'a;b'  ;  -- done\n";
    let checked = read(sql, Postgres);
    assert_eq!(
        checked.sql,
        "select *\n  from users   -- all of them\n where name = 'a;b'"
    );
    assert_eq!(read("SELECT 1;", Sqlite).sql, "SELECT 1");
    assert_eq!(read("SELECT 1 ;; ", Sqlite).sql, "SELECT 1");
    assert_eq!(read("SELECT 'é' -- ünïcødé\n", Sqlite).sql, "SELECT 'é'");
}
