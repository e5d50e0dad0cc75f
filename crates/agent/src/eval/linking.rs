//! Measuring schema linking alone on Spider and BIRD: does the context hold the tables and
//! columns the gold SQL uses, and how much of the schema did it take?
//!
//! Why without databases: both benchmarks ship schemas (`tables.json`) and gold SQL but not
//! always the data; linking needs only the schema (value-index hits are then absent, which
//! makes these figures a lower bound).

use crate::context::{Context, ContextLimits, Samples};
use crate::linking::{LinkBudget, link};
use querypad_engines::{Catalog, ColumnInfo, ForeignKey, Kind, TableInfo, TableKind};
use serde::Serialize;
use serde_json::Value;
use std::collections::{BTreeSet, HashMap};

/// Why a benchmark file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum LinkEvalError {
    /// Not readable.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// Not the expected JSON.
    #[error("{path}: {message}")]
    Format {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
}

/// One benchmark question.
#[derive(Debug, Clone, PartialEq)]
pub struct LinkQuestion {
    /// Database id.
    pub db_id: String,
    /// Question (with BIRD's evidence appended when present).
    pub question: String,
    /// Gold SQL.
    pub sql: String,
}

fn format_err(path: &str, message: impl Into<String>) -> LinkEvalError {
    LinkEvalError::Format {
        path: path.into(),
        message: message.into(),
    }
}

fn read_json(path: &std::path::Path) -> Result<Value, LinkEvalError> {
    let p = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| LinkEvalError::Io {
        path: p.clone(),
        source,
    })?;
    serde_json::from_str(&text).map_err(|e| format_err(&p, e.to_string()))
}

fn type_name(t: &str) -> String {
    match t {
        "number" | "integer" => "NUMERIC".into(),
        "time" | "date" | "datetime" => "DATE".into(),
        "boolean" => "BOOLEAN".into(),
        "text" => "TEXT".into(),
        other => other.to_uppercase(),
    }
}

/// Schemas of a Spider/BIRD `tables.json`, by database id. Natural column names that differ
/// from the real ones become column comments (as a documented database would have).
pub fn parse_tables(v: &Value, path: &str) -> Result<HashMap<String, Catalog>, LinkEvalError> {
    let arr = v
        .as_array()
        .ok_or_else(|| format_err(path, "expected a JSON array of databases"))?;
    let mut out = HashMap::new();
    for db in arr {
        let id = db["db_id"]
            .as_str()
            .ok_or_else(|| format_err(path, "a database has no db_id"))?
            .to_string();
        let names: Vec<String> = db["table_names_original"]
            .as_array()
            .ok_or_else(|| format_err(path, format!("{id}: no table_names_original")))?
            .iter()
            .map(|x| x.as_str().unwrap_or_default().to_string())
            .collect();
        let mut tables: Vec<TableInfo> = names
            .iter()
            .map(|n| TableInfo {
                schema: None,
                name: n.clone(),
                kind: TableKind::Table,
                columns: Vec::new(),
                primary_key: Vec::new(),
                foreign_keys: Vec::new(),
                row_estimate: None,
                comment: None,
            })
            .collect();
        let originals = db["column_names_original"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let naturals = db["column_names"].as_array().cloned().unwrap_or_default();
        let types = db["column_types"].as_array().cloned().unwrap_or_default();
        // Column index → (table, position in table).
        let mut at: Vec<Option<(usize, usize)>> = Vec::with_capacity(originals.len());
        for (i, c) in originals.iter().enumerate() {
            let t = c[0].as_i64().unwrap_or(-1);
            let name = c[1].as_str().unwrap_or_default();
            if t < 0 || t as usize >= tables.len() {
                at.push(None);
                continue;
            }
            let natural = naturals
                .get(i)
                .and_then(|n| n[1].as_str())
                .unwrap_or_default();
            let norm = |s: &str| s.to_lowercase().replace(['_', ' '], "");
            let comment =
                (!natural.is_empty() && norm(natural) != norm(name)).then(|| natural.to_string());
            let table = &mut tables[t as usize];
            at.push(Some((t as usize, table.columns.len())));
            table.columns.push(ColumnInfo {
                name: name.to_string(),
                data_type: type_name(types.get(i).and_then(Value::as_str).unwrap_or("text")),
                nullable: true,
                default: None,
                comment,
            });
        }
        let col = |i: &Value| -> Option<(usize, usize)> {
            i.as_u64()
                .and_then(|i| at.get(i as usize).copied().flatten())
        };
        for pk in db["primary_keys"].as_array().cloned().unwrap_or_default() {
            let cols: Vec<(usize, usize)> = match &pk {
                Value::Array(a) => a.iter().filter_map(col).collect(),
                other => col(other).into_iter().collect(),
            };
            for (t, c) in cols {
                let name = tables[t].columns[c].name.clone();
                tables[t].primary_key.push(name);
            }
        }
        for fk in db["foreign_keys"].as_array().cloned().unwrap_or_default() {
            let (Some((t, c)), Some((rt, rc))) = (col(&fk[0]), col(&fk[1])) else {
                continue;
            };
            let ref_table = tables[rt].name.clone();
            let ref_col = tables[rt].columns[rc].name.clone();
            let name = tables[t].columns[c].name.clone();
            tables[t].foreign_keys.push(ForeignKey {
                columns: vec![name],
                ref_schema: None,
                ref_table,
                ref_columns: vec![ref_col],
            });
        }
        out.insert(id, Catalog { tables });
    }
    Ok(out)
}

/// Questions of a Spider `dev.json` or a BIRD `mini_dev_*.json` (evidence appended).
pub fn parse_questions(
    v: &Value,
    path: &str,
    with_evidence: bool,
) -> Result<Vec<LinkQuestion>, LinkEvalError> {
    let arr = v
        .as_array()
        .ok_or_else(|| format_err(path, "expected a JSON array of questions"))?;
    let mut out = Vec::with_capacity(arr.len());
    for (i, q) in arr.iter().enumerate() {
        let db_id = q["db_id"]
            .as_str()
            .ok_or_else(|| format_err(path, format!("question {i} has no db_id")))?;
        let question = q["question"]
            .as_str()
            .ok_or_else(|| format_err(path, format!("question {i} has no question")))?;
        let sql = q["query"]
            .as_str()
            .or_else(|| q["SQL"].as_str())
            .ok_or_else(|| format_err(path, format!("question {i} has no query/SQL")))?;
        let mut text = question.to_string();
        if with_evidence && let Some(e) = q["evidence"].as_str().filter(|e| !e.is_empty()) {
            text.push(' ');
            text.push_str(e);
        }
        out.push(LinkQuestion {
            db_id: db_id.into(),
            question: text,
            sql: sql.into(),
        });
    }
    Ok(out)
}

/// Loads both files.
pub fn load(
    tables: &std::path::Path,
    questions: &std::path::Path,
    with_evidence: bool,
) -> Result<(HashMap<String, Catalog>, Vec<LinkQuestion>), LinkEvalError> {
    let t = parse_tables(&read_json(tables)?, &tables.display().to_string())?;
    let q = parse_questions(
        &read_json(questions)?,
        &questions.display().to_string(),
        with_evidence,
    )?;
    Ok((t, q))
}

/// SQL identifiers in order: bare words, `"x"`, `` `x` ``, `[x]`; string literals skipped.
fn identifiers(sql: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut chars = sql.char_indices().peekable();
    while let Some((_, ch)) = chars.next() {
        match ch {
            '\'' => {
                while let Some((_, c)) = chars.next() {
                    if c == '\'' {
                        if chars.peek().is_some_and(|(_, n)| *n == '\'') {
                            chars.next();
                            continue;
                        }
                        break;
                    }
                }
            }
            '"' | '`' | '[' => {
                let close = if ch == '[' { ']' } else { ch };
                let mut s = String::new();
                for (_, c) in chars.by_ref() {
                    if c == close {
                        break;
                    }
                    s.push(c);
                }
                out.push(s);
            }
            c if c.is_alphabetic() || c == '_' => {
                let mut s = String::from(c);
                while let Some((_, n)) = chars.peek() {
                    if n.is_alphanumeric() || *n == '_' {
                        s.push(*n);
                        chars.next();
                    } else {
                        break;
                    }
                }
                out.push(s);
            }
            _ => {}
        }
    }
    out
}

/// Tables and columns a gold query uses (catalog indices): identifiers matching table names,
/// then column names of those tables.
pub fn gold_elements(catalog: &Catalog, sql: &str) -> (BTreeSet<usize>, BTreeSet<(usize, usize)>) {
    let ids = identifiers(sql);
    let lower: Vec<String> = ids.iter().map(|s| s.to_lowercase()).collect();
    let mut tables = BTreeSet::new();
    for id in &lower {
        if let Some(t) = catalog
            .tables
            .iter()
            .position(|t| t.name.to_lowercase() == *id)
        {
            tables.insert(t);
        }
    }
    let mut cols = BTreeSet::new();
    for id in &lower {
        for &t in &tables {
            if let Some(c) = catalog.tables[t]
                .columns
                .iter()
                .position(|c| c.name.to_lowercase() == *id)
            {
                cols.insert((t, c));
            }
        }
    }
    (tables, cols)
}

/// One question's linking figures.
#[derive(Debug, Clone, Serialize)]
pub struct LinkResult {
    /// Database id.
    pub db_id: String,
    /// Gold tables found in context / gold tables.
    pub table_recall: f64,
    /// Gold columns found in context / gold columns (1 when the query names none).
    pub column_recall: f64,
    /// Columns in context / columns in the schema.
    pub column_share: f64,
    /// Gold tables left out.
    pub missed_tables: Vec<String>,
    /// Estimated prompt tokens of the linked schema.
    pub tokens: usize,
    /// Estimated prompt tokens of the whole schema.
    pub full_tokens: usize,
}

/// Rough token count of prompt text (4 characters a token, as tokenizers average on schema text).
pub fn tokens(text: &str) -> usize {
    text.len().div_ceil(4)
}

/// Links one question under a budget of `share` of the schema's columns.
pub fn link_one(catalog: &Catalog, q: &LinkQuestion, share: f64) -> LinkResult {
    let total: usize = catalog.tables.iter().map(|t| t.columns.len()).sum();
    let budget = ((total as f64 * share).floor() as usize).max(1);
    let l = link(
        catalog,
        &q.question,
        None,
        LinkBudget {
            max_columns: budget,
        },
    );
    let (gt, gc) = gold_elements(catalog, &q.sql);
    let in_ctx = |t: usize| l.tables.iter().find(|x| x.index == t);
    let found_t = gt.iter().filter(|t| in_ctx(**t).is_some()).count();
    let found_c = gc
        .iter()
        .filter(|(t, c)| in_ctx(*t).is_some_and(|x| x.columns.contains(c)))
        .count();
    let ratio = |a: usize, b: usize| if b == 0 { 1.0 } else { a as f64 / b as f64 };
    let samples = Samples::new();
    let ctx = Context::build(
        Kind::Sqlite,
        catalog,
        &q.question,
        &[],
        &samples,
        ContextLimits {
            max_columns: budget,
            max_examples: 0,
        },
    );
    let full = Context::build(
        Kind::Sqlite,
        catalog,
        &q.question,
        &[],
        &samples,
        ContextLimits {
            max_columns: usize::MAX,
            max_examples: 0,
        },
    );
    LinkResult {
        db_id: q.db_id.clone(),
        table_recall: ratio(found_t, gt.len()),
        column_recall: ratio(found_c, gc.len()),
        column_share: ratio(l.columns_in_context, total),
        missed_tables: gt
            .iter()
            .filter(|t| in_ctx(**t).is_none())
            .map(|&t| catalog.tables[t].name.clone())
            .collect(),
        tokens: tokens(&ctx.schema_text),
        full_tokens: tokens(&full.schema_text),
    }
}

/// Averages over questions.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct LinkSummary {
    /// Questions linked.
    pub questions: usize,
    /// Questions whose database was not in `tables.json`.
    pub unknown_db: usize,
    /// Mean gold-table recall.
    pub table_recall: f64,
    /// Share of questions with every gold table in context.
    pub all_tables: f64,
    /// Mean gold-column recall.
    pub column_recall: f64,
    /// Mean share of schema columns in context.
    pub column_share: f64,
    /// Largest share of schema columns in context.
    pub max_column_share: f64,
    /// Mean prompt tokens of the linked schema.
    pub tokens: f64,
    /// Mean prompt tokens of the whole schema.
    pub full_tokens: f64,
}

/// Links every question and averages.
pub fn evaluate(
    catalogs: &HashMap<String, Catalog>,
    questions: &[LinkQuestion],
    share: f64,
) -> (LinkSummary, Vec<LinkResult>) {
    let mut s = LinkSummary::default();
    let mut results = Vec::with_capacity(questions.len());
    for q in questions {
        let Some(catalog) = catalogs.get(&q.db_id) else {
            s.unknown_db += 1;
            continue;
        };
        results.push(link_one(catalog, q, share));
    }
    summarize_into(&mut s, &results);
    (s, results)
}

/// Links every question against ONE schema holding all the benchmark's databases (each as its
/// own schema, hundreds of tables), under the context builder's column budget: what schema
/// linking does for a very large database.
pub fn evaluate_merged(
    catalogs: &HashMap<String, Catalog>,
    questions: &[LinkQuestion],
    max_columns: usize,
) -> (LinkSummary, Vec<LinkResult>) {
    let mut ids: Vec<&String> = catalogs.keys().collect();
    ids.sort();
    let mut merged = Catalog::default();
    let mut offset: HashMap<&str, usize> = HashMap::new();
    for id in ids {
        offset.insert(id.as_str(), merged.tables.len());
        for t in &catalogs[id].tables {
            let mut t = t.clone();
            t.schema = Some(id.clone());
            for fk in &mut t.foreign_keys {
                fk.ref_schema = Some(id.clone());
            }
            merged.tables.push(t);
        }
    }
    let total: usize = merged.tables.iter().map(|t| t.columns.len()).sum();
    let prepared = crate::linking::Prepared::new(&merged);
    let samples = Samples::new();
    let full_tokens = {
        let full = Context::build(
            Kind::Postgres,
            &merged,
            "",
            &[],
            &samples,
            ContextLimits {
                max_columns: usize::MAX,
                max_examples: 0,
            },
        );
        tokens(&full.schema_text)
    };
    let mut s = LinkSummary::default();
    let mut results = Vec::new();
    for q in questions {
        let (Some(catalog), Some(&base)) = (catalogs.get(&q.db_id), offset.get(q.db_id.as_str()))
        else {
            s.unknown_db += 1;
            continue;
        };
        let l = crate::linking::link_with(
            &merged,
            &prepared,
            &q.question,
            None,
            LinkBudget { max_columns },
        );
        let (gt, gc) = gold_elements(catalog, &q.sql);
        let in_ctx = |t: usize| l.tables.iter().find(|x| x.index == base + t);
        let found_t = gt.iter().filter(|t| in_ctx(**t).is_some()).count();
        let found_c = gc
            .iter()
            .filter(|(t, c)| in_ctx(*t).is_some_and(|x| x.columns.contains(c)))
            .count();
        let ratio = |a: usize, b: usize| if b == 0 { 1.0 } else { a as f64 / b as f64 };
        // The rendered prompt: the chosen tables with their chosen columns (as the context
        // builder renders them), estimated without rebuilding the join graph.
        let chars: usize = l
            .tables
            .iter()
            .map(|t| {
                let info = &merged.tables[t.index];
                24 + info.name.len()
                    + info.schema.as_deref().map_or(0, str::len)
                    + t.columns
                        .iter()
                        .map(|&c| 8 + info.columns[c].name.len() + info.columns[c].data_type.len())
                        .sum::<usize>()
            })
            .sum();
        results.push(LinkResult {
            db_id: q.db_id.clone(),
            table_recall: ratio(found_t, gt.len()),
            column_recall: ratio(found_c, gc.len()),
            column_share: ratio(l.columns_in_context, total),
            missed_tables: gt
                .iter()
                .filter(|t| in_ctx(**t).is_none())
                .map(|&t| catalog.tables[t].name.clone())
                .collect(),
            tokens: chars.div_ceil(4),
            full_tokens,
        });
    }
    summarize_into(&mut s, &results);
    (s, results)
}

fn summarize_into(s: &mut LinkSummary, results: &[LinkResult]) {
    let n = results.len().max(1) as f64;
    s.questions = results.len();
    s.table_recall = results.iter().map(|r| r.table_recall).sum::<f64>() / n;
    s.all_tables = results.iter().filter(|r| r.table_recall >= 1.0).count() as f64 / n;
    s.column_recall = results.iter().map(|r| r.column_recall).sum::<f64>() / n;
    s.column_share = results.iter().map(|r| r.column_share).sum::<f64>() / n;
    s.max_column_share = results.iter().map(|r| r.column_share).fold(0.0, f64::max);
    s.tokens = results.iter().map(|r| r.tokens as f64).sum::<f64>() / n;
    s.full_tokens = results.iter().map(|r| r.full_tokens as f64).sum::<f64>() / n;
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spider() -> Value {
        json!([{
            "db_id": "concert",
            "table_names_original": ["singer", "concert", "singer_in_concert"],
            "table_names": ["singer", "concert", "singer in concert"],
            "column_names_original": [[-1, "*"], [0, "Singer_ID"], [0, "Name"], [0, "Age"], [1, "concert_ID"], [1, "Year"], [2, "concert_ID"], [2, "Singer_ID"]],
            "column_names": [[-1, "*"], [0, "singer id"], [0, "name"], [0, "age"], [1, "concert id"], [1, "year"], [2, "concert id"], [2, "singer id"]],
            "column_types": ["text", "number", "text", "number", "number", "text", "number", "number"],
            "primary_keys": [1, 4, [6, 7]],
            "foreign_keys": [[6, 4], [7, 1]]
        }])
    }

    #[test]
    fn schemas_and_gold_elements_are_read() {
        let c = parse_tables(&spider(), "t.json").unwrap();
        let cat = &c["concert"];
        assert_eq!(cat.tables[2].primary_key, vec!["concert_ID", "Singer_ID"]);
        assert_eq!(cat.tables[2].foreign_keys.len(), 2);
        let (t, cols) = gold_elements(
            cat,
            "SELECT T1.Name FROM singer AS T1 JOIN singer_in_concert AS T2 ON T1.Singer_ID = T2.Singer_ID WHERE T1.Name = 'concert'",
        );
        assert_eq!(t.into_iter().collect::<Vec<_>>(), vec![0, 2]);
        assert!(cols.contains(&(0, 1)) && cols.contains(&(2, 1)));
    }

    #[test]
    fn linking_finds_the_join_table() {
        let c = parse_tables(&spider(), "t.json").unwrap();
        let q = LinkQuestion {
            db_id: "concert".into(),
            question: "What are the names of singers who performed in a concert in 2014?".into(),
            sql: "SELECT T2.Name FROM singer_in_concert AS T1 JOIN singer AS T2 ON T1.Singer_ID = T2.Singer_ID JOIN concert AS T3 ON T1.concert_ID = T3.concert_ID WHERE T3.Year = 2014".into(),
        };
        let r = link_one(&c["concert"], &q, 1.0);
        assert_eq!(r.table_recall, 1.0);
    }
}
