//! Empty input, the one-statement rule, parse failures and writable connections.

use querypad_sqlcheck::{CheckError, Checked, Dialect, Policy, StatementKind, check};

use Dialect::{Mysql, Postgres, Sqlite};

const ALL: [Dialect; 3] = [Sqlite, Postgres, Mysql];
const READ_ONLY: Policy = Policy {
    allow_writes: false,
    max_rows: Some(100),
};
const WRITABLE: Policy = Policy {
    allow_writes: true,
    max_rows: Some(100),
};

fn writable(sql: &str, dialect: Dialect) -> Checked {
    check(sql, dialect, &WRITABLE).unwrap_or_else(|e| panic!("{dialect:?} refused {sql:?}: {e}"))
}

#[test]
fn empty_input_on_any_connection() {
    for dialect in ALL {
        for sql in [
            "",
            "   \n\t",
            "-- only a comment",
            "/* just this */",
            ";",
            " ; ; ",
        ] {
            assert_eq!(
                check(sql, dialect, &READ_ONLY),
                Err(CheckError::Empty),
                "{sql:?}"
            );
            assert_eq!(
                check(sql, dialect, &WRITABLE),
                Err(CheckError::Empty),
                "{sql:?}"
            );
        }
    }
    assert_eq!(CheckError::Empty.code(), "sql_empty");
    assert_eq!(CheckError::Empty.to_string(), "the SQL is empty");
}

#[test]
fn one_statement_rule_holds_on_writable_connections() {
    for dialect in ALL {
        let error = check(
            "INSERT INTO t VALUES (1); DELETE FROM t",
            dialect,
            &WRITABLE,
        );
        assert_eq!(error, Err(CheckError::MultipleStatements(2)));
    }
    let error = check("SELECT 1; SELECT 2; SELECT 3", Sqlite, &WRITABLE).unwrap_err();
    assert_eq!(error.code(), "sql_multiple_statements");
    assert!(error.to_string().contains("found 3 statements"), "{error}");
}

#[test]
fn unparseable_sql_is_refused_when_read_only() {
    for dialect in ALL {
        let error = check("SELEC 1 FROM", dialect, &READ_ONLY).unwrap_err();
        let CheckError::Parse(message) = &error else {
            panic!("{dialect:?}: {error:?}");
        };
        assert!(message.contains("SELEC"), "{message}");
        assert_eq!(error.code(), "sql_parse_error");
        assert!(error.to_string().starts_with("could not parse the SQL"));
    }
    // A tokenizer failure (unterminated string) is a parse failure too.
    let error = check("SELECT 'abc", Postgres, &READ_ONLY).unwrap_err();
    assert!(matches!(error, CheckError::Parse(_)), "{error:?}");
}

#[test]
fn unparseable_sql_passes_through_unchanged_when_writable() {
    for (sql, dialect) in [
        ("DO $$ BEGIN DELETE FROM t; END $$;", Postgres),
        ("REINDEX TABLE t", Postgres),
        ("HANDLER t OPEN", Mysql),
        ("SELECT 'abc", Sqlite),
        ("VACUUM INTO '/tmp/copy.db';", Sqlite),
    ] {
        let checked = writable(sql, dialect);
        assert_eq!(checked.kind, StatementKind::Unparsed, "{sql}");
        assert_eq!(checked.sql, sql);
        assert!(checked.tables.is_empty());
        assert!(!checked.limit_added);
    }
}

#[test]
fn writable_connections_accept_any_single_statement() {
    for (sql, dialect, expected) in [
        (
            "DELETE FROM t WHERE id = 1;",
            Postgres,
            "DELETE FROM t WHERE id = 1",
        ),
        ("DROP TABLE t", Sqlite, "DROP TABLE t"),
        ("SET @a = 1", Mysql, "SET @a = 1"),
        (
            "WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d",
            Postgres,
            "WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d",
        ),
        (
            "PRAGMA journal_mode = WAL",
            Sqlite,
            "PRAGMA journal_mode = WAL",
        ),
    ] {
        let checked = writable(sql, dialect);
        assert_eq!(checked.kind, StatementKind::Write, "{sql}");
        assert_eq!(checked.sql, expected);
        assert!(!checked.limit_added);
    }
    // Reads keep their kind (and their cap) on a writable connection.
    let checked = writable("PRAGMA table_info(users)", Sqlite);
    assert_eq!(checked.kind, StatementKind::Metadata);
    let checked = writable("SELECT 1 -- ;\n DELETE FROM t", Sqlite);
    assert_eq!(checked.kind, StatementKind::Query);
    assert_eq!(checked.sql, "SELECT 1 -- ;\n DELETE FROM t\nLIMIT 101");
}

#[test]
fn error_messages_name_what_was_found() {
    let error = check("DELETE FROM t", Sqlite, &READ_ONLY).unwrap_err();
    assert_eq!(error, CheckError::NotReadOnly("DELETE".into()));
    assert_eq!(
        error.to_string(),
        "this connection is read-only; found DELETE"
    );
    assert_eq!(error.code(), "sql_not_read_only");
    let error = check("SELECT nextval('s')", Postgres, &READ_ONLY).unwrap_err();
    assert_eq!(
        error.to_string(),
        "this connection is read-only; found the side-effecting function nextval()"
    );
    assert_eq!(error.code(), "sql_not_read_only");
}

#[test]
fn absurdly_long_operator_chains_are_refused_not_crashed_on() {
    // Deep enough to overflow a 2 MB stack if it were parsed into a tree and walked.
    let sql = format!("SELECT 1{}", " + 1".repeat(60_000));
    let handle = std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || {
            let refused = check(&sql, Postgres, &READ_ONLY);
            let passed = check(&sql, Postgres, &WRITABLE).map(|c| c.kind);
            (refused, passed)
        })
        .unwrap();
    let (refused, passed) = handle.join().unwrap();
    assert!(
        matches!(&refused, Err(CheckError::Parse(m)) if m.contains("operators")),
        "{refused:?}"
    );
    assert_eq!(passed, Ok(StatementKind::Unparsed));
}

#[test]
fn long_but_reasonable_queries_still_pass_on_a_small_stack() {
    let sql = format!(
        "SELECT * FROM t WHERE id IN ({}) AND (a = 1{})",
        (0..5_000)
            .map(|i| i.to_string())
            .collect::<Vec<_>>()
            .join(", "),
        " OR a = 2".repeat(2_000)
    );
    let handle = std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || check(&sql, Postgres, &READ_ONLY).map(|c| c.kind))
        .unwrap();
    assert_eq!(handle.join().unwrap(), Ok(StatementKind::Query));
}
