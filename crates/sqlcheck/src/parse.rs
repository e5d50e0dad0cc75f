//! Splitting the token stream into statements.
//!
//! Why not `Parser::parse_statements`: in sqlparser 0.64 it silently stops at a bare `END`
//! after a statement (`SELECT 1 END; DROP TABLE t` comes back as one statement with the rest
//! ignored), and it reports a statement glued to the next without a semicolon
//! (`SELECT * FROM t WHERE a = 1 -- ;\n DELETE FROM t`) as a parse error rather than as two
//! statements. This loop
//! consumes every token: anything after a statement must be a separator or another statement.

use sqlparser::ast::Statement;
use sqlparser::dialect::Dialect as Grammar;
use sqlparser::parser::{Parser, ParserError};
use sqlparser::tokenizer::{Token, TokenWithSpan};

/// Parses all statements in `tokens`, requiring the parser to reach the end of the input.
pub(crate) fn statements(
    grammar: &dyn Grammar,
    tokens: Vec<TokenWithSpan>,
) -> Result<Vec<Statement>, ParserError> {
    let mut parser = Parser::new(grammar).with_tokens_with_locations(tokens);
    let mut statements = Vec::new();
    let mut delimited = true;
    loop {
        while parser.consume_token(&Token::SemiColon) {
            delimited = true;
        }
        let next = parser.peek_token();
        if next.token == Token::EOF {
            break;
        }
        match parser.parse_statement() {
            Ok(statement) => statements.push(statement),
            Err(error) if delimited => return Err(error),
            // Junk after a statement that is not itself a statement: report it the way the
            // parser would, pointing at where the first statement should have ended.
            Err(_) => return parser.expected("end of statement", next),
        }
        delimited = false;
    }
    Ok(statements)
}

/// The parser's message without the generic "sql parser error: " prefix.
pub(crate) fn message(error: &ParserError) -> String {
    match error {
        ParserError::TokenizerError(m) | ParserError::ParserError(m) => m.clone(),
        ParserError::RecursionLimitExceeded => "the SQL is nested too deeply".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::tokenize;
    use sqlparser::dialect::PostgreSqlDialect;

    fn count(sql: &str) -> Result<usize, String> {
        let pg = PostgreSqlDialect {};
        statements(&pg, tokenize(&pg, sql).unwrap())
            .map(|s| s.len())
            .map_err(|e| message(&e))
    }

    #[test]
    fn counts_separated_statements() {
        assert_eq!(count("SELECT 1"), Ok(1));
        assert_eq!(count("SELECT 1;;"), Ok(1));
        assert_eq!(count("SELECT 1; SELECT 2"), Ok(2));
        assert_eq!(count(";"), Ok(0));
    }

    #[test]
    fn statements_without_separator_are_still_statements() {
        assert_eq!(
            count("SELECT * FROM t WHERE a = 1 -- ;\n DELETE FROM t"),
            Ok(2)
        );
        assert_eq!(count("SELECT 1 END; DROP TABLE t"), Ok(3));
    }

    #[test]
    fn trailing_junk_is_a_parse_error() {
        let err = count("SELECT * FROM t FOR NO KEY UPDATE").unwrap_err();
        assert!(err.contains("Expected"), "{err}");
        let err = count("SELECT 1 banana split").unwrap_err();
        assert!(err.contains("end of statement"), "{err}");
    }
}
