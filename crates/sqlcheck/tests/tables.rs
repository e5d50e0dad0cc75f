//! `Checked.tables`: what a statement references, as a user would name it.

use querypad_sqlcheck::{Dialect, Policy, check};

use Dialect::{Mysql, Postgres, Sqlite};

fn tables(sql: &str, dialect: Dialect) -> Vec<String> {
    let policy = Policy {
        allow_writes: true,
        max_rows: None,
    };
    check(sql, dialect, &policy)
        .unwrap_or_else(|e| panic!("{dialect:?} refused {sql:?}: {e}"))
        .tables
}

#[test]
fn from_and_joins_in_order_of_appearance() {
    assert_eq!(tables("SELECT * FROM users", Sqlite), ["users"]);
    assert_eq!(
        tables(
            "SELECT * FROM users u JOIN orders o ON o.uid = u.id, items",
            Postgres
        ),
        ["users", "orders", "items"]
    );
    // The projection's subquery comes first in the text, so it is listed first.
    assert_eq!(
        tables("SELECT (SELECT max(x) FROM b) FROM a", Mysql),
        ["b", "a"]
    );
}

#[test]
fn subqueries_are_included_and_duplicates_dropped() {
    assert_eq!(
        tables(
            "SELECT * FROM b WHERE x IN (SELECT y FROM a) AND z IN (SELECT y FROM b)",
            Postgres
        ),
        ["b", "a"]
    );
    assert_eq!(
        tables(
            "SELECT * FROM (SELECT * FROM inner_t) AS s JOIN other ON true",
            Postgres
        ),
        ["inner_t", "other"]
    );
}

#[test]
fn cte_names_are_not_tables_but_their_bodies_count() {
    assert_eq!(
        tables(
            "WITH recent AS (SELECT * FROM orders) SELECT * FROM recent JOIN users ON true",
            Sqlite
        ),
        ["orders", "users"]
    );
    assert_eq!(
        tables("WITH x AS (SELECT 1) SELECT * FROM x", Postgres),
        Vec::<String>::new()
    );
    assert_eq!(
        tables(
            "WITH a AS (SELECT 1), b AS (SELECT * FROM a) SELECT * FROM b",
            Postgres
        ),
        Vec::<String>::new()
    );
    assert_eq!(
        tables(
            "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 3) SELECT * FROM n",
            Postgres
        ),
        Vec::<String>::new()
    );
    // A non-recursive CTE named like a table reads the real table inside its own body.
    assert_eq!(
        tables(
            "WITH orders AS (SELECT * FROM orders WHERE total > 9) SELECT * FROM orders",
            Postgres
        ),
        ["orders"]
    );
    // A CTE name is case-insensitive, like the identifiers it stands for.
    assert_eq!(
        tables("WITH Recent AS (SELECT 1) SELECT * FROM RECENT", Postgres),
        Vec::<String>::new()
    );
}

#[test]
fn qualified_and_quoted_names() {
    assert_eq!(
        tables("SELECT * FROM public.users", Postgres),
        ["public.users"]
    );
    assert_eq!(
        tables(r#"SELECT * FROM "My Schema"."My Table""#, Postgres),
        ["My Schema.My Table"]
    );
    assert_eq!(
        tables("SELECT * FROM `shop`.`order items`", Mysql),
        ["shop.order items"]
    );
    assert_eq!(tables("SELECT * FROM [weird name]", Sqlite), ["weird name"]);
}

#[test]
fn table_functions_are_not_tables() {
    assert_eq!(
        tables(
            "SELECT * FROM generate_series(1, 3) g JOIN t ON t.id = g",
            Postgres
        ),
        ["t"]
    );
    assert_eq!(
        tables("SELECT * FROM pragma_table_info('users')", Sqlite),
        Vec::<String>::new()
    );
}

#[test]
fn statements_other_than_queries() {
    assert_eq!(tables("DESCRIBE users", Mysql), ["users"]);
    assert_eq!(tables("SHOW COLUMNS FROM users", Mysql), ["users"]);
    assert_eq!(tables("EXPLAIN SELECT * FROM users", Postgres), ["users"]);
    assert_eq!(
        tables("INSERT INTO audit SELECT * FROM users", Postgres),
        ["audit", "users"]
    );
    assert_eq!(
        tables("DELETE FROM t WHERE id IN (SELECT id FROM u)", Sqlite),
        ["t", "u"]
    );
}
