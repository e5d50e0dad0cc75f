//! The schema of a user database, as introspection reads it.

use serde::{Deserialize, Serialize};

/// All tables and views a connection can see (system schemas excluded).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Catalog {
    /// Tables and views, sorted by schema then name.
    pub tables: Vec<TableInfo>,
}

/// Table or view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TableKind {
    /// A base table.
    Table,
    /// A view (or materialized view).
    View,
}

/// One table or view.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TableInfo {
    /// Schema (PostgreSQL) or database (MySQL) name; `None` for SQLite's main database.
    pub schema: Option<String>,
    /// Table name.
    pub name: String,
    /// Table or view.
    pub kind: TableKind,
    /// Columns in ordinal order.
    pub columns: Vec<ColumnInfo>,
    /// Primary key columns in key order; empty when none.
    pub primary_key: Vec<String>,
    /// Foreign keys going out of this table.
    pub foreign_keys: Vec<ForeignKey>,
    /// Row estimate from statistics (`reltuples`, `TABLE_ROWS`, `sqlite_stat1` or a capped
    /// count for small SQLite tables); `None` when unknown.
    pub row_estimate: Option<i64>,
    /// Table comment, when the engine has one.
    pub comment: Option<String>,
}

/// One column.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ColumnInfo {
    /// Column name.
    pub name: String,
    /// Declared type, as the database spells it.
    pub data_type: String,
    /// Whether NULL is allowed.
    pub nullable: bool,
    /// Default expression, if any.
    pub default: Option<String>,
    /// Column comment, when the engine has one.
    pub comment: Option<String>,
}

/// A foreign key from some columns of a table to columns of another.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ForeignKey {
    /// Referencing columns, in key order.
    pub columns: Vec<String>,
    /// Referenced table's schema.
    pub ref_schema: Option<String>,
    /// Referenced table.
    pub ref_table: String,
    /// Referenced columns, in key order.
    pub ref_columns: Vec<String>,
}
