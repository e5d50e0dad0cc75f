//! Decides, before anything reaches a database, whether SQL is one statement of an allowed kind.
//!
//! Why: generated SQL (and a user's cell on a read-only connection) must be a single read-only
//! statement. This check gives a fast, precise error naming what was found ("found DELETE",
//! "found 2 statements"), and adds a LIMIT so a database never produces more rows than we keep.
//! It is NOT the security boundary — the read-only database session is — so it errs on the side
//! of rejecting anything it cannot classify on a read-only connection.
//!
//! CONTRACT (fixed; the server is written against it):
//! `check(sql, dialect, &policy) -> Result<Checked, CheckError>`.

mod classify;
mod disguised;
mod functions;
mod limit;
mod names;
mod parse;
mod pragma;
mod side_effects;
mod source;
mod tables;

use sqlparser::ast::Statement;
use sqlparser::dialect::{Dialect as Grammar, MySqlDialect, PostgreSqlDialect, SQLiteDialect};
use thiserror::Error;

/// Which SQL grammar to parse with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dialect {
    /// SQLite.
    Sqlite,
    /// PostgreSQL.
    Postgres,
    /// MySQL and MariaDB.
    Mysql,
}

/// What the caller allows.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    /// Writable connection: any single statement passes; unparseable SQL passes through
    /// unchanged (the user's database decides). Read-only: only read statements, and SQL that
    /// cannot be parsed is rejected because it cannot be verified.
    pub allow_writes: bool,
    /// Row cap: a top-level `SELECT`/`WITH`/`VALUES`/set operation without a smaller LIMIT gets
    /// `LIMIT max_rows + 1` (the extra row tells the engine the result was truncated).
    pub max_rows: Option<u64>,
}

/// What kind of statement passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatementKind {
    /// SELECT, WITH (no data-modifying parts), VALUES, set operations.
    Query,
    /// EXPLAIN (without ANALYZE of a write).
    Explain,
    /// SHOW / DESCRIBE / read-only PRAGMA and similar metadata commands.
    Metadata,
    /// Anything else (only on writable connections).
    Write,
    /// Could not be parsed; passed through on a writable connection.
    Unparsed,
}

/// SQL that passed the check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    /// The SQL to execute: the input with trailing semicolons removed and, where applicable,
    /// a LIMIT appended (the user's own text is otherwise kept as written).
    pub sql: String,
    /// The statement's kind.
    pub kind: StatementKind,
    /// Tables referenced (as written, unquoted, deduplicated, in order of appearance).
    pub tables: Vec<String>,
    /// Whether a LIMIT was added.
    pub limit_added: bool,
}

/// Why SQL was refused. Every message says what was found, in words a user understands.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CheckError {
    /// Nothing but whitespace and comments.
    #[error("the SQL is empty")]
    Empty,
    /// The parser failed on a read-only connection.
    #[error("could not parse the SQL, so it cannot be verified as read-only: {0}")]
    Parse(String),
    /// More than one statement.
    #[error("only one statement may run at a time; found {0} statements")]
    MultipleStatements(usize),
    /// A statement kind that writes or changes session state.
    #[error("this connection is read-only; found {0}")]
    NotReadOnly(String),
    /// A function with side effects (e.g. `pg_terminate_backend`, `nextval`, `load_file`).
    #[error("this connection is read-only; found the side-effecting function {0}()")]
    ForbiddenFunction(String),
}

impl CheckError {
    /// A stable machine-readable code for the API's error contract.
    pub fn code(&self) -> &'static str {
        match self {
            CheckError::Empty => "sql_empty",
            CheckError::Parse(_) => "sql_parse_error",
            CheckError::MultipleStatements(_) => "sql_multiple_statements",
            CheckError::NotReadOnly(_) | CheckError::ForbiddenFunction(_) => "sql_not_read_only",
        }
    }
}

/// Most operators (binary operators, set operations) one statement may chain.
///
/// Why: sqlparser builds operator chains without its recursion limit, and a tree tens of
/// thousands of levels deep overflows a 2 MB thread stack when it is visited or dropped, which
/// aborts the whole process. 10,000 keeps a wide margin (20,000 still fits in a debug build)
/// while no real query comes close.
const MAX_CHAIN_LINKS: usize = 10_000;

/// Checks `sql` under `policy` for `dialect`.
///
/// Order of decisions: empty input, then parsing (with the SQLite PRAGMA fallback), then the
/// one-statement rule (on every connection), then the read-only rules (read-only connections
/// only), then the row cap (queries only). Unparseable SQL is refused on a read-only connection
/// and passed through unchanged on a writable one.
pub fn check(sql: &str, dialect: Dialect, policy: &Policy) -> Result<Checked, CheckError> {
    let grammar = grammar(dialect);
    let tokens = match source::tokenize(grammar, sql) {
        Ok(tokens) => tokens,
        Err(error) => return unparsed(sql, policy, error.to_string()),
    };
    if source::is_blank(&tokens) {
        return Err(CheckError::Empty);
    }
    if source::chain_links(&tokens) > MAX_CHAIN_LINKS {
        return unparsed(
            sql,
            policy,
            format!("the SQL has more than {MAX_CHAIN_LINKS} operators, too many to verify"),
        );
    }
    if dialect == Dialect::Mysql
        && !policy.allow_writes
        && source::has_mariadb_code_comment(&tokens)
    {
        return Err(CheckError::Parse(
            "MariaDB executable comments (/*M! ... */) cannot be verified".to_owned(),
        ));
    }
    let mut statements = match parse::statements(grammar, tokens.clone()) {
        Ok(statements) => statements,
        Err(error) => {
            if dialect == Dialect::Sqlite
                && let Some(pragma) = pragma::from_tokens(&tokens)
            {
                return pragma_checked(&pragma, grammar, sql, &tokens, policy);
            }
            return unparsed(sql, policy, parse::message(&error));
        }
    };
    if statements.len() > 1 {
        return Err(CheckError::MultipleStatements(statements.len()));
    }
    let Some(mut statement) = statements.pop() else {
        return Err(CheckError::Empty);
    };
    let kind = match classify::read_only(&statement) {
        Ok(kind) => kind,
        Err(refusal) if !policy.allow_writes => return Err(refusal),
        Err(_) => StatementKind::Write,
    };
    if !policy.allow_writes
        && matches!(kind, StatementKind::Query | StatementKind::Explain)
        && let Some(keyword) = disguised::write_keyword(&tokens)
    {
        return Err(CheckError::NotReadOnly(keyword));
    }
    let tables = tables::referenced(&statement);
    let text = match source::statement_text(grammar, sql, &tokens) {
        Some(text) => text.to_owned(),
        None => statement.to_string(),
    };
    let (sql, limit_added) = match (kind, &mut statement, policy.max_rows) {
        (StatementKind::Query, Statement::Query(query), Some(max_rows)) => {
            limit::cap(grammar, &text, query, max_rows)
        }
        _ => (text, false),
    };
    Ok(Checked {
        sql,
        kind,
        tables,
        limit_added,
    })
}

/// A SQLite PRAGMA recognised from tokens after sqlparser failed on it.
fn pragma_checked(
    pragma: &pragma::Pragma,
    grammar: &dyn Grammar,
    sql: &str,
    tokens: &[sqlparser::tokenizer::TokenWithSpan],
    policy: &Policy,
) -> Result<Checked, CheckError> {
    let kind = match pragma.verdict() {
        Ok(kind) => kind,
        Err(refusal) if !policy.allow_writes => return Err(refusal),
        Err(_) => StatementKind::Write,
    };
    let text = source::statement_text(grammar, sql, tokens).unwrap_or(sql);
    Ok(Checked {
        sql: text.to_owned(),
        kind,
        tables: Vec::new(),
        limit_added: false,
    })
}

/// SQL the parser could not read: refused when read-only (it cannot be verified), passed
/// through untouched when writable (the user's database is the judge).
fn unparsed(sql: &str, policy: &Policy, message: String) -> Result<Checked, CheckError> {
    if !policy.allow_writes {
        return Err(CheckError::Parse(message));
    }
    Ok(Checked {
        sql: sql.to_owned(),
        kind: StatementKind::Unparsed,
        tables: Vec::new(),
        limit_added: false,
    })
}

/// The sqlparser grammar for a dialect.
fn grammar(dialect: Dialect) -> &'static dyn Grammar {
    static SQLITE: SQLiteDialect = SQLiteDialect {};
    static POSTGRES: PostgreSqlDialect = PostgreSqlDialect {};
    static MYSQL: MySqlDialect = MySqlDialect {};
    match dialect {
        Dialect::Sqlite => &SQLITE,
        Dialect::Postgres => &POSTGRES,
        Dialect::Mysql => &MYSQL,
    }
}
