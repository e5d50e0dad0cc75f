//! Write keywords that the parser accepted as names.
//!
//! Why: sqlparser (like PostgreSQL's own bare column labels) accepts many keywords as aliases,
//! so `SELECT 1 -- ;\n DELETE FROM t` parses as `SELECT 1 AS "DELETE" FROM t`. That is
//! harmless where the database agrees, but it is exactly what a smuggled second statement
//! looks like, and MySQL/SQLite would read the text differently. On a read-only connection a
//! query containing an unquoted write keyword is refused; quoting the name (`"delete"`) is
//! the way to use such a column.

use sqlparser::keywords::Keyword;
use sqlparser::tokenizer::{Token, TokenWithSpan};

use crate::source::is_trivia;

/// Keywords that start a writing statement and are never needed unquoted in a read query.
const WRITE_KEYWORDS: &[Keyword] = &[
    Keyword::INSERT,
    Keyword::UPDATE,
    Keyword::DELETE,
    Keyword::MERGE,
    Keyword::DROP,
    Keyword::CREATE,
    Keyword::ALTER,
    Keyword::TRUNCATE,
    Keyword::GRANT,
    Keyword::REVOKE,
];

/// The first unquoted write keyword in `tokens` that is not a function call (MySQL has an
/// `INSERT(str, pos, len, new)` string function), uppercase.
pub(crate) fn write_keyword(tokens: &[TokenWithSpan]) -> Option<String> {
    let meaningful: Vec<&Token> = tokens
        .iter()
        .map(|t| &t.token)
        .filter(|t| !is_trivia(t))
        .collect();
    meaningful.iter().enumerate().find_map(|(i, token)| {
        let Token::Word(word) = token else {
            return None;
        };
        let called = meaningful.get(i + 1) == Some(&&Token::LParen);
        (word.quote_style.is_none() && WRITE_KEYWORDS.contains(&word.keyword) && !called)
            .then(|| word.value.to_uppercase())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::tokenize;
    use sqlparser::dialect::{MySqlDialect, PostgreSqlDialect};

    fn found(sql: &str) -> Option<String> {
        write_keyword(&tokenize(&PostgreSqlDialect {}, sql).unwrap())
    }

    #[test]
    fn finds_keywords_used_as_names() {
        assert_eq!(
            found("SELECT 1 -- ;\n delete FROM t"),
            Some("DELETE".into())
        );
        assert_eq!(found("SELECT 1 drop"), Some("DROP".into()));
    }

    #[test]
    fn ignores_quoted_names_strings_comments_and_calls() {
        assert_eq!(
            found(r#"SELECT "delete", 'DROP TABLE t' /* UPDATE */ FROM t"#),
            None
        );
        assert_eq!(found("SELECT created, updated_at FROM t"), None);
        let mysql = tokenize(&MySqlDialect {}, "SELECT INSERT('abc', 1, 1, 'x')").unwrap();
        assert_eq!(write_keyword(&mysql), None);
    }
}
