//! Naming a statement in the words a user would use: "DELETE", "DROP TABLE", "SET".
//!
//! Why: a refusal must say what was found. sqlparser has ~150 statement variants; the ones a
//! user is likely to meet are named explicitly, the rest fall back to the leading keywords of
//! the statement as sqlparser prints it.

use sqlparser::ast::Statement;
use sqlparser::keywords::Keyword;
use sqlparser::tokenizer::Token;

/// The uppercase words naming what kind of statement `statement` is.
pub(crate) fn statement_name(statement: &Statement) -> String {
    let name = match statement {
        Statement::Query(_) => "SELECT",
        Statement::Insert(insert) => {
            let replace = insert.replace_into
                || matches!(&insert.insert_token.0.token,
                    Token::Word(w) if w.keyword == Keyword::REPLACE);
            if replace { "REPLACE" } else { "INSERT" }
        }
        Statement::Update(_) => "UPDATE",
        Statement::Delete(_) => "DELETE",
        Statement::Merge(_) => "MERGE",
        Statement::Truncate(_) => "TRUNCATE",
        Statement::Copy { .. } | Statement::CopyIntoSnowflake { .. } => "COPY",
        Statement::Set(_) => "SET",
        Statement::Reset(_) => "RESET",
        Statement::Discard { .. } => "DISCARD",
        Statement::Use(_) => "USE",
        Statement::Call(_) => "CALL",
        Statement::Grant(_) | Statement::GrantRole(_) => "GRANT",
        Statement::Revoke(_) | Statement::RevokeRole(_) => "REVOKE",
        Statement::Deny(_) => "DENY",
        Statement::StartTransaction { begin: true, .. } => "BEGIN",
        Statement::StartTransaction { .. } => "START TRANSACTION",
        Statement::Commit { end: true, .. } => "END",
        Statement::Commit { .. } => "COMMIT",
        Statement::Rollback { .. } => "ROLLBACK",
        Statement::Savepoint { .. } => "SAVEPOINT",
        Statement::ReleaseSavepoint { .. } => "RELEASE SAVEPOINT",
        Statement::Prepare { .. } => "PREPARE",
        Statement::Execute { .. } => "EXECUTE",
        Statement::Deallocate { .. } => "DEALLOCATE",
        Statement::Declare { .. } => "DECLARE",
        Statement::Fetch { .. } => "FETCH",
        Statement::Open(_) => "OPEN",
        Statement::Close { .. } => "CLOSE",
        Statement::Lock(_) => "LOCK TABLE",
        Statement::LockTables { .. } => "LOCK TABLES",
        Statement::UnlockTables => "UNLOCK TABLES",
        Statement::Vacuum(_) => "VACUUM",
        Statement::Analyze(_) => "ANALYZE",
        Statement::AttachDatabase { .. } | Statement::AttachDuckDBDatabase { .. } => {
            "ATTACH DATABASE"
        }
        Statement::DetachDuckDBDatabase { .. } => "DETACH DATABASE",
        Statement::Pragma { name, .. } => {
            let last = name.0.last().and_then(|p| p.as_ident());
            return match last {
                Some(ident) => format!("PRAGMA {}", ident.value.to_lowercase()),
                None => "PRAGMA".to_owned(),
            };
        }
        Statement::Explain { statement, .. } => {
            return format!("EXPLAIN {}", statement_name(statement));
        }
        Statement::ExplainTable { .. } => "DESCRIBE",
        Statement::CreateTable(create) => {
            return format!(
                "CREATE {}TABLE{}",
                if create.temporary { "TEMPORARY " } else { "" },
                if create.query.is_some() {
                    " ... AS"
                } else {
                    ""
                }
            );
        }
        Statement::CreateView(view) if view.materialized => "CREATE MATERIALIZED VIEW",
        Statement::CreateView(_) => "CREATE VIEW",
        Statement::CreateVirtualTable { .. } => "CREATE VIRTUAL TABLE",
        Statement::CreateIndex(_) => "CREATE INDEX",
        Statement::CreateSequence { .. } => "CREATE SEQUENCE",
        Statement::CreateFunction(_) => "CREATE FUNCTION",
        Statement::CreateProcedure { .. } => "CREATE PROCEDURE",
        Statement::CreateTrigger(_) => "CREATE TRIGGER",
        Statement::CreateSchema { .. } => "CREATE SCHEMA",
        Statement::CreateDatabase { .. } => "CREATE DATABASE",
        Statement::CreateExtension(_) => "CREATE EXTENSION",
        Statement::CreateRole(_) => "CREATE ROLE",
        Statement::CreateUser(_) => "CREATE USER",
        Statement::CreateType { .. } => "CREATE TYPE",
        Statement::CreateDomain(_) => "CREATE DOMAIN",
        Statement::AlterTable(_) => "ALTER TABLE",
        Statement::AlterIndex { .. } => "ALTER INDEX",
        Statement::AlterView(_) => "ALTER VIEW",
        Statement::AlterSchema(_) => "ALTER SCHEMA",
        Statement::AlterRole { .. } => "ALTER ROLE",
        Statement::AlterUser(_) => "ALTER USER",
        Statement::AlterFunction(_) => "ALTER FUNCTION",
        Statement::AlterType(_) => "ALTER TYPE",
        Statement::Drop { object_type, .. } => return format!("DROP {object_type}"),
        Statement::DropFunction(_) => "DROP FUNCTION",
        Statement::DropProcedure { .. } => "DROP PROCEDURE",
        Statement::DropTrigger(_) => "DROP TRIGGER",
        Statement::DropExtension(_) => "DROP EXTENSION",
        Statement::DropDomain(_) => "DROP DOMAIN",
        Statement::RenameTable(_) => "RENAME TABLE",
        Statement::Comment { .. } => "COMMENT",
        Statement::RefreshMaterializedView(_) => "REFRESH MATERIALIZED VIEW",
        Statement::LISTEN { .. } => "LISTEN",
        Statement::UNLISTEN { .. } => "UNLISTEN",
        Statement::NOTIFY { .. } => "NOTIFY",
        Statement::Kill { .. } => "KILL",
        Statement::Flush { .. } => "FLUSH",
        Statement::LoadData { .. } => "LOAD DATA",
        Statement::Install { .. } => "INSTALL",
        Statement::Load { .. } => "LOAD",
        other => return leading_keywords(&other.to_string()),
    };
    name.to_owned()
}

/// The first (at most two) all-uppercase words of `printed`, sqlparser's rendering of a
/// statement, which always starts with its keywords.
fn leading_keywords(printed: &str) -> String {
    let words: Vec<&str> = printed
        .split_whitespace()
        .take(2)
        .take_while(|w| !w.is_empty() && w.chars().all(|c| c.is_ascii_uppercase() || c == '_'))
        .collect();
    if words.is_empty() {
        "a statement that is not a query".to_owned()
    } else {
        words.join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leading_keywords_stop_at_identifiers() {
        assert_eq!(leading_keywords("CREATE OPERATOR foo"), "CREATE OPERATOR");
        assert_eq!(leading_keywords("MSCK REPAIR TABLE t"), "MSCK REPAIR");
        assert_eq!(leading_keywords("ASSERT x"), "ASSERT");
        assert_eq!(leading_keywords("x"), "a statement that is not a query");
    }
}
