//! The row cap: make sure a query cannot return more than `max_rows + 1` rows.
//!
//! Why `+ 1`: the extra row tells the engine the result was truncated. Why append text rather
//! than regenerate: the user's formatting and comments are theirs; only when a LIMIT/FETCH
//! already exists and is too large (or not a literal) is the query reprinted from the syntax
//! tree with just that clause changed.

use sqlparser::ast::{Expr, LimitClause, Query, Statement, Value};
use sqlparser::dialect::Dialect as Grammar;
use sqlparser::keywords::Keyword;
use sqlparser::tokenizer::Token;

use crate::{parse, source};

/// `text` with the cap applied, and whether the cap changed anything.
///
/// `text` is the statement's own text (no trailing semicolons or comments) and `query` its
/// parsed form, which is changed in place when the query has to be reprinted (no deep copy:
/// syntax trees can be deep enough for a copy to matter).
pub(crate) fn cap(
    grammar: &dyn Grammar,
    text: &str,
    query: &mut Query,
    max_rows: u64,
) -> (String, bool) {
    let cap = max_rows.saturating_add(1);
    if query.limit_clause.is_none() && query.fetch.is_none() {
        // On a new line, so a trailing `--` comment inside `text` cannot swallow it.
        let appended = format!("{text}\nLIMIT {cap}");
        if !has_hidden_limit(grammar, text) && has_cap(grammar, &appended, cap) {
            return (appended, true);
        }
        // Something the tree does not show is in the way (PostgreSQL's `LIMIT ALL` parses to
        // no limit at all): reprint the query with the limit set instead.
        query.limit_clause = Some(LimitClause::LimitOffset {
            limit: Some(number(cap)),
            offset: None,
            limit_by: Vec::new(),
        });
        return (query.to_string(), true);
    }
    let mut changed = false;
    match &mut query.limit_clause {
        // `limit` is None for `OFFSET n` alone and for PostgreSQL's `LIMIT ALL`.
        Some(LimitClause::LimitOffset { limit, .. })
            if !limit.as_ref().is_some_and(|e| within(e, cap)) =>
        {
            *limit = Some(number(cap));
            changed = true;
        }
        Some(LimitClause::OffsetCommaLimit { limit, .. }) if !within(limit, cap) => {
            *limit = number(cap);
            changed = true;
        }
        _ => {}
    }
    if let Some(fetch) = &mut query.fetch {
        // `FETCH FIRST ROW ONLY` has no quantity: one row.
        let rows_ok = fetch.quantity.as_ref().is_none_or(|e| within(e, cap));
        if fetch.percent || fetch.with_ties || !rows_ok {
            fetch.quantity = Some(number(cap));
            fetch.percent = false;
            fetch.with_ties = false;
            changed = true;
        }
    }
    if changed {
        (query.to_string(), true)
    } else {
        (text.to_owned(), false)
    }
}

/// Whether `text` has a LIMIT/OFFSET/FETCH outside parentheses that the tree does not show
/// (`LIMIT ALL` parses to no limit at all). Unreadable text counts as hiding one.
fn has_hidden_limit(grammar: &dyn Grammar, text: &str) -> bool {
    let Ok(tokens) = source::tokenize(grammar, text) else {
        return true;
    };
    let mut depth = 0usize;
    for token in tokens {
        match token.token {
            Token::LParen => depth += 1,
            Token::RParen => depth = depth.saturating_sub(1),
            Token::Word(word)
                if depth == 0
                    && word.quote_style.is_none()
                    && matches!(
                        word.keyword,
                        Keyword::LIMIT | Keyword::OFFSET | Keyword::FETCH
                    ) =>
            {
                return true;
            }
            _ => {}
        }
    }
    false
}

/// Whether `sql` parses as exactly one query whose outermost LIMIT is `cap`.
fn has_cap(grammar: &dyn Grammar, sql: &str, cap: u64) -> bool {
    let Ok(tokens) = source::tokenize(grammar, sql) else {
        return false;
    };
    let Ok(statements) = parse::statements(grammar, tokens) else {
        return false;
    };
    match statements.as_slice() {
        [Statement::Query(query)] => matches!(
            &query.limit_clause,
            Some(LimitClause::LimitOffset { limit: Some(limit), offset: None, .. })
                if within(limit, cap) && !within(limit, cap.saturating_sub(1))
        ),
        _ => false,
    }
}

/// Whether `expr` is an integer literal no larger than `cap`.
fn within(expr: &Expr, cap: u64) -> bool {
    match expr {
        Expr::Value(v) => match &v.value {
            Value::Number(n, _) => n.to_string().parse::<u64>().is_ok_and(|n| n <= cap),
            _ => false,
        },
        _ => false,
    }
}

/// An integer literal.
fn number(n: u64) -> Expr {
    Expr::value(Value::Number(n.to_string(), false))
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlparser::dialect::PostgreSqlDialect;

    #[test]
    fn only_small_integer_literals_are_within_the_cap() {
        assert!(within(&number(5), 5));
        assert!(!within(&number(6), 5));
        assert!(!within(&Expr::value(Value::Placeholder("$1".into())), 5));
        assert!(!within(&Expr::value(Value::Number("1.5".into(), false)), 5));
    }

    #[test]
    fn finds_limits_the_tree_does_not_show() {
        let pg = PostgreSqlDialect {};
        assert!(has_hidden_limit(&pg, "SELECT 1 LIMIT ALL"));
        assert!(!has_hidden_limit(&pg, "SELECT (SELECT 1 LIMIT 1)"));
        assert!(!has_hidden_limit(&pg, r#"SELECT "limit" FROM t"#));
        assert!(has_hidden_limit(&pg, "SELECT 'unterminated"));
    }

    #[test]
    fn the_appended_limit_must_be_the_outermost() {
        let pg = PostgreSqlDialect {};
        assert!(has_cap(&pg, "SELECT 1\nLIMIT 11", 11));
        assert!(!has_cap(&pg, "SELECT 1\nLIMIT 11", 12));
        assert!(!has_cap(&pg, "SELECT 1; SELECT 2\nLIMIT 11", 11));
    }
}
