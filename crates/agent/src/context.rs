//! What the generator sees: the relevant part of the schema, a few sample values, and earlier
//! question→SQL pairs from the notebook.
//!
//! Why ranking and not "the whole schema": a database of hundreds of tables does not fit a
//! prompt, and a prompt full of irrelevant tables makes models pick wrong ones. Small schemas
//! are included whole; large ones keep the tables and columns schema linking ranks best (names,
//! comments, value-index hits, foreign-key neighbours of strong matches) up to a column budget,
//! and the `context_built` event says what was left out.

use crate::linking::{LinkBudget, link};
use crate::values::ValueIndex;
use querypad_engines::{Catalog, Kind, TableInfo};
use std::collections::HashMap;
use std::fmt::Write as _;

/// An earlier question and the SQL that answered it (from the notebook).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Example {
    /// The question.
    pub question: String,
    /// The SQL.
    pub sql: String,
}

/// Limits of the context.
#[derive(Debug, Clone, Copy)]
pub struct ContextLimits {
    /// Columns allowed in the prompt before ranking starts leaving tables out.
    pub max_columns: usize,
    /// Examples kept from the notebook (most recent first).
    pub max_examples: usize,
}

impl Default for ContextLimits {
    fn default() -> Self {
        ContextLimits {
            max_columns: 400,
            max_examples: 5,
        }
    }
}

/// The built context.
#[derive(Debug, Clone)]
pub struct Context {
    /// Engine kind (dialect).
    pub kind: Kind,
    /// Rendered schema section of the prompt (stable for a given schema and selection).
    pub schema_text: String,
    /// Qualified names of the tables in context, best first.
    pub tables: Vec<String>,
    /// Examples included.
    pub examples: Vec<Example>,
    /// Tables in the schema.
    pub tables_total: usize,
    /// Columns in the schema.
    pub columns_total: usize,
    /// Columns in context.
    pub columns_in_context: usize,
    /// Tables left out.
    pub left_out: Vec<String>,
}

/// Sample rows per qualified table name, as JSON values (first few rows).
pub type Samples = HashMap<String, Vec<Vec<serde_json::Value>>>;

/// The dialect's display name for prompts.
pub fn dialect_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Sqlite => "SQLite",
        Kind::Postgres => "PostgreSQL",
        Kind::Mysql => "MySQL/MariaDB",
    }
}

/// Quotes an identifier for `kind`.
pub fn quote_ident(kind: Kind, ident: &str) -> String {
    match kind {
        Kind::Mysql => format!("`{}`", ident.replace('`', "``")),
        Kind::Sqlite | Kind::Postgres => format!("\"{}\"", ident.replace('"', "\"\"")),
    }
}

/// The name a query should use for a table: schema-qualified outside the default schema.
pub fn table_ref(t: &TableInfo) -> String {
    match t.schema.as_deref() {
        None | Some("public") | Some("main") => t.name.clone(),
        Some(s) => format!("{s}.{}", t.name),
    }
}

/// Quoted, qualified reference usable in SQL we build.
pub fn quoted_table_ref(kind: Kind, t: &TableInfo) -> String {
    match t.schema.as_deref() {
        Some(s) if kind == Kind::Postgres && s != "public" => {
            format!("{}.{}", quote_ident(kind, s), quote_ident(kind, &t.name))
        }
        _ => quote_ident(kind, &t.name),
    }
}

impl Context {
    /// Builds the context for `question` over `catalog`: the whole schema when it fits
    /// `limits.max_columns`, else the tables and columns schema linking ranks best.
    pub fn build(
        kind: Kind,
        catalog: &Catalog,
        question: &str,
        examples: &[Example],
        samples: &Samples,
        limits: ContextLimits,
    ) -> Context {
        Self::build_with_values(kind, catalog, question, examples, samples, limits, None)
    }

    /// [`Context::build`] with the value index, so that values the question mentions
    /// ("France") lift the tables and columns holding them.
    pub fn build_with_values(
        kind: Kind,
        catalog: &Catalog,
        question: &str,
        examples: &[Example],
        samples: &Samples,
        limits: ContextLimits,
        values: Option<&ValueIndex>,
    ) -> Context {
        let linking = link(
            catalog,
            question,
            values,
            LinkBudget {
                max_columns: limits.max_columns,
            },
        );
        Self::build_linked(kind, catalog, &linking, examples, samples, limits)
    }

    /// [`Context::build`] from a [`crate::linking::Linking`] the caller already computed (the
    /// runner links once per run and uses the ranking for sample rows too).
    pub fn build_linked(
        kind: Kind,
        catalog: &Catalog,
        linking: &crate::linking::Linking,
        examples: &[Example],
        samples: &Samples,
        limits: ContextLimits,
    ) -> Context {
        let left_out: Vec<String> = linking
            .left_out
            .iter()
            .map(|&i| table_ref(&catalog.tables[i]))
            .collect();
        // Render in a stable order (schema order) so the cached prompt prefix stays the same
        // for questions that select the same tables.
        let mut in_order: Vec<&crate::linking::LinkedTable> = linking.tables.iter().collect();
        in_order.sort_unstable_by_key(|t| t.index);
        let mut text = String::with_capacity(linking.columns_in_context * 48);
        let _ = writeln!(text, "Database dialect: {}", dialect_name(kind));
        for t in &in_order {
            render_table(&mut text, &catalog.tables[t.index], samples, &t.columns);
        }
        let examples: Vec<Example> = examples
            .iter()
            .rev()
            .take(limits.max_examples)
            .cloned()
            .collect();
        Context {
            kind,
            schema_text: text,
            tables: linking
                .tables
                .iter()
                .map(|t| table_ref(&catalog.tables[t.index]))
                .collect(),
            examples,
            tables_total: catalog.tables.len(),
            columns_total: linking.columns_total,
            columns_in_context: linking.columns_in_context,
            left_out,
        }
    }
}

fn render_table(out: &mut String, t: &TableInfo, samples: &Samples, shown: &[usize]) {
    let kind = match t.kind {
        querypad_engines::TableKind::Table => "TABLE",
        querypad_engines::TableKind::View => "VIEW",
    };
    let name = table_ref(t);
    let _ = write!(out, "\n{kind} {name}");
    if let Some(n) = t.row_estimate {
        let _ = write!(out, " (~{n} rows)");
    }
    if let Some(c) = t.comment.as_deref().filter(|c| !c.is_empty()) {
        let _ = write!(out, " -- {c}");
    }
    out.push('\n');
    let sample_rows = samples.get(&name);
    for (ci, c) in t.columns.iter().enumerate() {
        if !shown.contains(&ci) {
            continue;
        }
        let _ = write!(out, "  {} {}", c.name, c.data_type);
        if !c.nullable {
            out.push_str(" NOT NULL");
        }
        if t.primary_key.iter().any(|p| p == &c.name) {
            out.push_str(" PRIMARY KEY");
        }
        for fk in &t.foreign_keys {
            if let Some(pos) = fk.columns.iter().position(|x| x == &c.name) {
                let target = fk.ref_columns.get(pos).map(String::as_str).unwrap_or("?");
                let _ = write!(out, " REFERENCES {}({target})", fk.ref_table);
            }
        }
        if let Some(c) = c.comment.as_deref().filter(|c| !c.is_empty()) {
            let _ = write!(out, " -- {c}");
        }
        if let Some(rows) = sample_rows {
            let mut vals: Vec<String> = Vec::new();
            for row in rows {
                if let Some(v) = row.get(ci) {
                    let s = match v {
                        serde_json::Value::Null => continue,
                        serde_json::Value::String(s) if s.chars().count() > 40 => continue,
                        serde_json::Value::String(s) => format!("'{s}'"),
                        other => other.to_string(),
                    };
                    if !vals.contains(&s) {
                        vals.push(s);
                    }
                }
            }
            if !vals.is_empty() {
                let _ = write!(out, " e.g. {}", vals.join(", "));
            }
        }
        out.push('\n');
    }
    let hidden = t.columns.len().saturating_sub(shown.len());
    if hidden > 0 {
        let _ = writeln!(out, "  (+{hidden} more columns: describe_table)");
    }
}
