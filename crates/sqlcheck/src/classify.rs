//! The read-only decision for one parsed statement.
//!
//! Why an allowlist: sqlparser 0.64 has ~150 statement kinds and gains more every release; a
//! read-only connection accepts only the few known to be reads, so a new kind is refused by
//! default rather than let through.

use sqlparser::ast::Statement;

use crate::names::statement_name;
use crate::{CheckError, StatementKind, pragma, side_effects};

/// What `statement` is if it is read-only, or why it is not.
pub(crate) fn read_only(statement: &Statement) -> Result<StatementKind, CheckError> {
    match statement {
        Statement::Query(query) => {
            side_effects::check(query)?;
            Ok(StatementKind::Query)
        }
        Statement::Explain {
            statement: inner,
            analyze,
            options,
            ..
        } => match inner.as_ref() {
            Statement::Query(query) => {
                // EXPLAIN ANALYZE runs the query, so its side effects count too.
                side_effects::check(query)?;
                Ok(StatementKind::Explain)
            }
            other => {
                let analyze = *analyze
                    || options
                        .iter()
                        .flatten()
                        .any(|o| o.name.value.eq_ignore_ascii_case("analyze"));
                Err(CheckError::NotReadOnly(format!(
                    "EXPLAIN {}{}",
                    if analyze { "ANALYZE " } else { "" },
                    statement_name(other)
                )))
            }
        },
        Statement::ExplainTable { .. }
        | Statement::ShowFunctions { .. }
        | Statement::ShowVariable { .. }
        | Statement::ShowStatus { .. }
        | Statement::ShowVariables { .. }
        | Statement::ShowCreate { .. }
        | Statement::ShowColumns { .. }
        | Statement::ShowCatalogs { .. }
        | Statement::ShowDatabases { .. }
        | Statement::ShowProcessList { .. }
        | Statement::ShowSchemas { .. }
        | Statement::ShowCharset(_)
        | Statement::ShowObjects(_)
        | Statement::ShowTables { .. }
        | Statement::ShowViews { .. }
        | Statement::ShowCollation { .. } => Ok(StatementKind::Metadata),
        Statement::Pragma { .. } => match pragma::from_statement(statement) {
            Some(pragma) => pragma.verdict(),
            None => Err(CheckError::NotReadOnly(statement_name(statement))),
        },
        other => Err(CheckError::NotReadOnly(statement_name(other))),
    }
}
