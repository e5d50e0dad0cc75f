//! SQLite's PRAGMA: a handful only read metadata; the rest change the database or session.
//!
//! Why a token-level fallback: sqlparser 0.64 only accepts a number or a quoted string as a
//! PRAGMA argument, so the everyday `PRAGMA table_info(users)` does not parse. The fallback
//! recognises exactly `PRAGMA [schema.]name [(arg) | = value]` and nothing else.

use sqlparser::ast::Statement;
use sqlparser::keywords::Keyword;
use sqlparser::tokenizer::{Token, TokenWithSpan};

use crate::source::is_trivia;
use crate::{CheckError, StatementKind};

/// PRAGMAs that only read metadata when called without `= value`.
const READ_ONLY: &[&str] = &[
    "table_info",
    "table_xinfo",
    "index_list",
    "index_info",
    "index_xinfo",
    "foreign_key_list",
    "database_list",
    "table_list",
    "collation_list",
    "function_list",
    "compile_options",
];

/// A PRAGMA as far as the read-only decision needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pragma {
    /// The pragma's name, lowercase, without schema.
    name: String,
    /// Whether it is written `PRAGMA name = value` (which sets something).
    assigns: bool,
}

impl Pragma {
    /// Read-only verdict: whitelisted names without assignment are metadata, anything else is
    /// refused naming the pragma ("found PRAGMA writable_schema").
    pub(crate) fn verdict(&self) -> Result<StatementKind, CheckError> {
        if !self.assigns && READ_ONLY.contains(&self.name.as_str()) {
            Ok(StatementKind::Metadata)
        } else {
            Err(CheckError::NotReadOnly(format!("PRAGMA {}", self.name)))
        }
    }
}

/// The PRAGMA in a parsed statement.
pub(crate) fn from_statement(statement: &Statement) -> Option<Pragma> {
    let Statement::Pragma { name, is_eq, .. } = statement else {
        return None;
    };
    Some(Pragma {
        name: name.0.last()?.as_ident()?.value.to_lowercase(),
        assigns: *is_eq,
    })
}

/// Recognises `PRAGMA [schema.]name [(arg) | = value...] [;...]` in raw tokens.
pub(crate) fn from_tokens(tokens: &[TokenWithSpan]) -> Option<Pragma> {
    let mut meaningful: Vec<&Token> = tokens
        .iter()
        .map(|t| &t.token)
        .filter(|t| !is_trivia(t))
        .collect();
    while meaningful.last() == Some(&&Token::SemiColon) {
        meaningful.pop();
    }
    let [Token::Word(pragma), rest @ ..] = meaningful.as_slice() else {
        return None;
    };
    if pragma.keyword != Keyword::PRAGMA {
        return None;
    }
    let (name, rest) = match rest {
        [
            Token::Word(_schema),
            Token::Period,
            Token::Word(name),
            rest @ ..,
        ] => (name, rest),
        [Token::Word(name), rest @ ..] => (name, rest),
        _ => return None,
    };
    let assigns = match rest {
        [] => false,
        [Token::LParen, arg, Token::RParen] if is_pragma_argument(arg) => false,
        [Token::Eq, value @ ..] if !value.is_empty() && !value.contains(&&Token::SemiColon) => true,
        _ => return None,
    };
    Some(Pragma {
        name: name.value.to_lowercase(),
        assigns,
    })
}

/// A single identifier, string or number, as SQLite accepts between a PRAGMA's parentheses.
fn is_pragma_argument(token: &Token) -> bool {
    matches!(
        token,
        Token::Word(_)
            | Token::SingleQuotedString(_)
            | Token::DoubleQuotedString(_)
            | Token::Number(_, _)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::tokenize;
    use sqlparser::dialect::SQLiteDialect;

    fn tokens_pragma(sql: &str) -> Option<Pragma> {
        from_tokens(&tokenize(&SQLiteDialect {}, sql).unwrap())
    }

    fn pragma(name: &str, assigns: bool) -> Option<Pragma> {
        Some(Pragma {
            name: name.into(),
            assigns,
        })
    }

    #[test]
    fn recognises_the_forms_sqlparser_rejects() {
        assert_eq!(
            tokens_pragma("PRAGMA table_info(users)"),
            pragma("table_info", false)
        );
        assert_eq!(
            tokens_pragma("pragma main.TABLE_INFO(users);"),
            pragma("table_info", false)
        );
        assert_eq!(
            tokens_pragma("PRAGMA journal_mode = WAL"),
            pragma("journal_mode", true)
        );
        assert_eq!(
            tokens_pragma("PRAGMA database_list"),
            pragma("database_list", false)
        );
    }

    #[test]
    fn refuses_anything_else() {
        assert_eq!(
            tokens_pragma("PRAGMA table_info(users); DROP TABLE t"),
            None
        );
        assert_eq!(tokens_pragma("PRAGMA a = 1; DROP TABLE t"), None);
        assert_eq!(tokens_pragma("PRAGMA table_info(a, b)"), None);
        assert_eq!(tokens_pragma("SELECT 1"), None);
        assert_eq!(tokens_pragma("PRAGMA"), None);
    }

    #[test]
    fn verdicts() {
        assert_eq!(
            pragma("table_info", false).unwrap().verdict(),
            Ok(StatementKind::Metadata)
        );
        assert_eq!(
            pragma("table_info", true).unwrap().verdict(),
            Err(CheckError::NotReadOnly("PRAGMA table_info".into()))
        );
        assert_eq!(
            pragma("user_version", false).unwrap().verdict(),
            Err(CheckError::NotReadOnly("PRAGMA user_version".into()))
        );
    }
}
