//! The SQL text as tokens, and where the statement itself ends inside it.
//!
//! Why: we keep the user's own text (their formatting, their comments) and only cut off what
//! follows the statement — trailing semicolons, comments and whitespace — so a LIMIT can be
//! appended safely. Cutting is done on token boundaries from the same tokenizer the parser
//! uses, never by scanning characters, so `';'` inside strings or comments cannot fool it.

use sqlparser::dialect::Dialect as Grammar;
use sqlparser::keywords::Keyword;
use sqlparser::tokenizer::{Location, Token, TokenWithSpan, Tokenizer, TokenizerError, Whitespace};

/// Tokenizes `sql` the way the parser would, keeping whitespace, comments and locations.
pub(crate) fn tokenize(
    grammar: &dyn Grammar,
    sql: &str,
) -> Result<Vec<TokenWithSpan>, TokenizerError> {
    Tokenizer::new(grammar, sql).tokenize_with_location()
}

/// Whitespace or a comment: tokens that never change what a statement means.
pub(crate) fn is_trivia(token: &Token) -> bool {
    matches!(token, Token::Whitespace(_))
}

/// Trivia or a statement separator.
fn is_trivia_or_semicolon(token: &Token) -> bool {
    is_trivia(token) || *token == Token::SemiColon
}

/// True when the input holds nothing but whitespace, comments and semicolons.
pub(crate) fn is_blank(tokens: &[TokenWithSpan]) -> bool {
    tokens.iter().all(|t| is_trivia_or_semicolon(&t.token))
}

/// How many tokens could each add a level to the syntax tree without the parser's recursion
/// limit noticing: binary operators and set operations. sqlparser builds `a + b + c ...` and
/// `SELECT .. UNION SELECT ..` chains in a loop, so their depth is bounded only by the input,
/// while cloning, printing, visiting and dropping the tree recurse once per level.
pub(crate) fn chain_links(tokens: &[TokenWithSpan]) -> usize {
    tokens
        .iter()
        .filter(|t| match &t.token {
            Token::Word(word) => {
                word.quote_style.is_none()
                    && matches!(
                        word.keyword,
                        Keyword::AND
                            | Keyword::OR
                            | Keyword::XOR
                            | Keyword::IS
                            | Keyword::LIKE
                            | Keyword::ILIKE
                            | Keyword::SIMILAR
                            | Keyword::REGEXP
                            | Keyword::RLIKE
                            | Keyword::GLOB
                            | Keyword::MATCH
                            | Keyword::IN
                            | Keyword::BETWEEN
                            | Keyword::COLLATE
                            | Keyword::AT
                            | Keyword::DIV
                            | Keyword::MOD
                            | Keyword::UNION
                            | Keyword::INTERSECT
                            | Keyword::EXCEPT
                            | Keyword::MINUS
                    )
            }
            Token::Whitespace(_)
            | Token::Number(..)
            | Token::Char(_)
            | Token::SingleQuotedString(_)
            | Token::DoubleQuotedString(_)
            | Token::DollarQuotedString(_)
            | Token::NationalStringLiteral(_)
            | Token::EscapedStringLiteral(_)
            | Token::HexStringLiteral(_)
            | Token::Placeholder(_)
            | Token::Comma
            | Token::LParen
            | Token::RParen
            | Token::Period
            | Token::SemiColon => false,
            _ => true,
        })
        .count()
}

/// True when a comment is MariaDB executable code (`/*M! ... */`): MariaDB runs its contents,
/// but sqlparser treats it as a comment, so what it contains was never checked.
pub(crate) fn has_mariadb_code_comment(tokens: &[TokenWithSpan]) -> bool {
    tokens.iter().any(|t| {
        matches!(&t.token, Token::Whitespace(Whitespace::MultiLineComment(c)) if c.starts_with("M!"))
    })
}

/// The statement's own text: `sql` without the trailing run of whitespace, comments and
/// semicolons.
///
/// Returns `None` when the cut cannot be proven exact (re-tokenizing the cut text must give the
/// same meaningful tokens); callers then fall back to SQL regenerated from the syntax tree.
pub(crate) fn statement_text<'a>(
    grammar: &dyn Grammar,
    sql: &'a str,
    tokens: &[TokenWithSpan],
) -> Option<&'a str> {
    let last = tokens
        .iter()
        .rposition(|t| !is_trivia_or_semicolon(&t.token))?;
    let cut = match tokens.get(last + 1) {
        Some(next) => byte_offset(sql, next.span.start)?,
        None => sql.len(),
    };
    let text = sql.get(..cut)?;
    // MySQL's executable comments (`/*! ... */`) are expanded into tokens whose locations lie
    // inside the comment, so a cut could land mid-comment. Verify instead of assuming.
    let again = tokenize(grammar, text).ok()?;
    let meaningful = |ts: &[TokenWithSpan]| -> Vec<Token> {
        ts.iter()
            .filter(|t| !is_trivia(&t.token))
            .map(|t| t.token.clone())
            .collect()
    };
    (meaningful(&again) == meaningful(&tokens[..=last])).then_some(text)
}

/// Converts a tokenizer location (1-based line and column, counted in characters) to a byte
/// offset into `sql`.
fn byte_offset(sql: &str, location: Location) -> Option<usize> {
    let (mut line, mut column) = (1u64, 1u64);
    for (offset, c) in sql.char_indices() {
        if line == location.line && column == location.column {
            return Some(offset);
        }
        if c == '\n' {
            line += 1;
            column = 1;
        } else {
            column += 1;
        }
    }
    (line == location.line && column == location.column).then_some(sql.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlparser::dialect::{MySqlDialect, PostgreSqlDialect, SQLiteDialect};

    fn cut<'a>(grammar: &dyn Grammar, sql: &'a str) -> Option<&'a str> {
        let tokens = tokenize(grammar, sql).unwrap();
        statement_text(grammar, sql, &tokens)
    }

    #[test]
    fn cuts_trailing_semicolons_comments_and_whitespace() {
        let pg = PostgreSqlDialect {};
        assert_eq!(cut(&pg, "SELECT 1"), Some("SELECT 1"));
        assert_eq!(cut(&pg, "SELECT 1;"), Some("SELECT 1"));
        assert_eq!(cut(&pg, "SELECT 1 ; ;\n"), Some("SELECT 1"));
        assert_eq!(cut(&pg, "SELECT 1; -- done"), Some("SELECT 1"));
        assert_eq!(cut(&pg, "SELECT 1 /* c */ ;"), Some("SELECT 1"));
        assert_eq!(
            cut(&pg, "  -- lead\nSELECT 'é;'  ;"),
            Some("  -- lead\nSELECT 'é;'")
        );
    }

    #[test]
    fn keeps_multibyte_text_intact() {
        let sqlite = SQLiteDialect {};
        assert_eq!(
            cut(&sqlite, "SELECT 'ünïcødé'\n, \"名前\" FROM t;\n"),
            Some("SELECT 'ünïcødé'\n, \"名前\" FROM t")
        );
    }

    #[test]
    fn never_cuts_inside_a_mysql_executable_comment() {
        let mysql = MySqlDialect {};
        // The `;` inside the executable comment is a trailing separator, but cutting before it
        // would leave the comment open: refuse to cut, the caller reprints from the tree.
        assert_eq!(cut(&mysql, "SELECT 1 /*!50000 + 1 ; */"), None);
        assert_eq!(
            cut(&mysql, "SELECT 1 /*!50000 + 1*/;"),
            Some("SELECT 1 /*!50000 + 1*/")
        );
    }

    #[test]
    fn counts_operator_chains_not_lists() {
        let pg = PostgreSqlDialect {};
        let links = |sql: &str| chain_links(&tokenize(&pg, sql).unwrap());
        assert_eq!(links("SELECT a, 'x', 1 FROM t WHERE b IN (1, 2, 3)"), 1);
        assert_eq!(links("SELECT 1 + 2 * 3 OR x::int = 4 UNION SELECT 5"), 6);
    }

    #[test]
    fn byte_offsets_follow_lines_and_characters() {
        let sql = "ab\ncé\nx";
        assert_eq!(byte_offset(sql, Location { line: 1, column: 1 }), Some(0));
        assert_eq!(byte_offset(sql, Location { line: 2, column: 3 }), Some(6));
        assert_eq!(
            byte_offset(sql, Location { line: 3, column: 2 }),
            Some(sql.len())
        );
        assert_eq!(byte_offset(sql, Location { line: 9, column: 1 }), None);
    }
}
