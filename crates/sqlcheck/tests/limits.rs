//! The row cap, asserting the exact SQL sent to the database.

use querypad_sqlcheck::{Checked, Dialect, Policy, StatementKind, check};

use Dialect::{Mysql, Postgres, Sqlite};

const ALL: [Dialect; 3] = [Sqlite, Postgres, Mysql];

fn capped(sql: &str, dialect: Dialect, max_rows: u64) -> Checked {
    check(
        sql,
        dialect,
        &Policy {
            allow_writes: false,
            max_rows: Some(max_rows),
        },
    )
    .unwrap_or_else(|e| panic!("{dialect:?} refused {sql:?}: {e}"))
}

fn assert_capped(dialects: &[Dialect], sql: &str, expected: &str, added: bool) {
    for &dialect in dialects {
        let checked = capped(sql, dialect, 100);
        assert_eq!(checked.sql, expected, "{dialect:?} {sql:?}");
        assert_eq!(checked.limit_added, added, "{dialect:?} {sql:?}");
    }
}

#[test]
fn appends_limit_on_a_new_line() {
    assert_capped(&ALL, "SELECT * FROM t", "SELECT * FROM t\nLIMIT 101", true);
    assert_capped(&ALL, "SELECT * FROM t;", "SELECT * FROM t\nLIMIT 101", true);
    assert_capped(
        &ALL,
        "SELECT * FROM t;  -- trailing note",
        "SELECT * FROM t\nLIMIT 101",
        true,
    );
    assert_capped(
        &ALL,
        "SELECT * FROM t -- note",
        "SELECT * FROM t\nLIMIT 101",
        true,
    );
    assert_capped(
        &ALL,
        "SELECT * FROM t /* note */ ;\n",
        "SELECT * FROM t\nLIMIT 101",
        true,
    );
    assert_capped(
        &ALL,
        "select a,\n       b -- the b column\n  from t\n where c = 'x;y'",
        "select a,\n       b -- the b column\n  from t\n where c = 'x;y'\nLIMIT 101",
        true,
    );
}

#[test]
fn caps_the_outermost_query_of_every_query_shape() {
    assert_capped(
        &ALL,
        "SELECT a FROM x UNION SELECT a FROM y",
        "SELECT a FROM x UNION SELECT a FROM y\nLIMIT 101",
        true,
    );
    assert_capped(
        &ALL,
        "WITH c AS (SELECT * FROM t LIMIT 5) SELECT * FROM c",
        "WITH c AS (SELECT * FROM t LIMIT 5) SELECT * FROM c\nLIMIT 101",
        true,
    );
    assert_capped(
        &ALL,
        "SELECT * FROM (SELECT * FROM t LIMIT 5000) s",
        "SELECT * FROM (SELECT * FROM t LIMIT 5000) s\nLIMIT 101",
        true,
    );
    assert_capped(
        &[Sqlite, Postgres],
        "VALUES (1), (2)",
        "VALUES (1), (2)\nLIMIT 101",
        true,
    );
    assert_capped(
        &[Postgres, Mysql],
        "(SELECT 1) UNION (SELECT 2)",
        "(SELECT 1) UNION (SELECT 2)\nLIMIT 101",
        true,
    );
}

#[test]
fn keeps_a_small_enough_limit() {
    assert_capped(
        &ALL,
        "SELECT * FROM t LIMIT 10",
        "SELECT * FROM t LIMIT 10",
        false,
    );
    assert_capped(
        &ALL,
        "SELECT * FROM t LIMIT 101;",
        "SELECT * FROM t LIMIT 101",
        false,
    );
    assert_capped(
        &ALL,
        "SELECT * FROM t LIMIT 10 OFFSET 20",
        "SELECT * FROM t LIMIT 10 OFFSET 20",
        false,
    );
    assert_capped(
        &[Mysql],
        "SELECT * FROM t LIMIT 20, 10",
        "SELECT * FROM t LIMIT 20, 10",
        false,
    );
    assert_capped(
        &[Postgres],
        "SELECT * FROM t FETCH FIRST 10 ROWS ONLY",
        "SELECT * FROM t FETCH FIRST 10 ROWS ONLY",
        false,
    );
}

#[test]
fn lowers_a_larger_or_unknown_limit() {
    assert_capped(
        &ALL,
        "SELECT * FROM t LIMIT 5000",
        "SELECT * FROM t LIMIT 101",
        true,
    );
    assert_capped(
        &ALL,
        "SELECT * FROM t LIMIT 102",
        "SELECT * FROM t LIMIT 101",
        true,
    );
    assert_capped(
        &ALL,
        "SELECT * FROM t LIMIT 500 OFFSET 20",
        "SELECT * FROM t LIMIT 101 OFFSET 20",
        true,
    );
    assert_capped(
        &ALL,
        "SELECT * FROM t LIMIT 10 + 1000",
        "SELECT * FROM t LIMIT 101",
        true,
    );
    assert_capped(
        &[Sqlite],
        "SELECT * FROM t LIMIT -1",
        "SELECT * FROM t LIMIT 101",
        true,
    );
    assert_capped(
        &[Postgres],
        "SELECT * FROM t LIMIT $1",
        "SELECT * FROM t LIMIT 101",
        true,
    );
    assert_capped(
        &[Mysql],
        "SELECT * FROM t LIMIT 20, 5000",
        "SELECT * FROM t LIMIT 20, 101",
        true,
    );
    assert_capped(
        &[Postgres],
        "SELECT * FROM t LIMIT ALL",
        "SELECT * FROM t LIMIT 101",
        true,
    );
    assert_capped(
        &[Postgres],
        "SELECT * FROM t OFFSET 5",
        "SELECT * FROM t LIMIT 101 OFFSET 5",
        true,
    );
    assert_capped(
        &[Postgres],
        "SELECT * FROM t FETCH FIRST 500 ROWS ONLY",
        "SELECT * FROM t FETCH FIRST 101 ROWS ONLY",
        true,
    );
    // Reprinting from the syntax tree drops comments; that only happens in this case.
    assert_capped(
        &ALL,
        "SELECT /* hi */ a FROM t LIMIT 5000",
        "SELECT a FROM t LIMIT 101",
        true,
    );
}

#[test]
fn no_cap_without_max_rows_or_for_non_queries() {
    let uncapped = |sql: &str, dialect| {
        check(
            sql,
            dialect,
            &Policy {
                allow_writes: false,
                max_rows: None,
            },
        )
        .unwrap()
    };
    let checked = uncapped("SELECT * FROM t", Postgres);
    assert_eq!(
        (checked.sql.as_str(), checked.limit_added),
        ("SELECT * FROM t", false)
    );
    for (sql, dialect) in [
        ("EXPLAIN SELECT * FROM t", Postgres),
        ("SHOW TABLES", Mysql),
        ("PRAGMA table_info(t)", Sqlite),
    ] {
        let checked = capped(sql, dialect, 100);
        assert_eq!(checked.sql, sql);
        assert!(!checked.limit_added, "{sql}");
        assert_ne!(checked.kind, StatementKind::Query);
    }
}

#[test]
fn no_cap_on_writes_even_when_allowed() {
    let writable = Policy {
        allow_writes: true,
        max_rows: Some(100),
    };
    for sql in [
        "SELECT nextval('s')",
        "SELECT * INTO t2 FROM t",
        "SELECT * FROM t FOR UPDATE",
        "DELETE FROM t",
    ] {
        let checked = check(sql, Postgres, &writable).unwrap();
        assert_eq!(checked.kind, StatementKind::Write, "{sql}");
        assert_eq!(checked.sql, sql);
        assert!(!checked.limit_added);
    }
    let checked = check("SELECT * FROM t", Postgres, &writable).unwrap();
    assert_eq!(checked.sql, "SELECT * FROM t\nLIMIT 101");
}

#[test]
fn huge_max_rows_does_not_overflow() {
    let checked = capped("SELECT 1", Sqlite, u64::MAX);
    assert_eq!(checked.sql, format!("SELECT 1\nLIMIT {}", u64::MAX));
    let checked = capped("SELECT 1 LIMIT 5", Sqlite, 0);
    assert_eq!(checked.sql, "SELECT 1 LIMIT 1");
}
