//! The value index: distinct short text values per column, sampled with caps.
//!
//! Why: "customers in France" names no column — the word "France" is a value, and only the data
//! says it lives in `Customer.Country`. Schema linking uses value hits to find tables whose names
//! the question never says; the built-in generator turns them into filters with the exact
//! stored spelling. Sampling is bounded everywhere (rows scanned per column, values kept per
//! column, total bytes, a deadline) so a huge database costs a few seconds once, not minutes;
//! what did not fit is simply absent, and `complete` says so.

use crate::context::{quote_ident, quoted_table_ref};
use crate::linking::words::{Token, tokens};
use querypad_engines::{Catalog, Database, Kind, QueryOptions, TableKind};
use std::collections::HashMap;
use std::time::Duration;
use tokio::time::Instant;

/// Caps of one index build.
#[derive(Debug, Clone, Copy)]
pub struct ValueLimits {
    /// Rows read per column at most (a `LIMIT` inside the sampling query).
    pub rows_per_column: usize,
    /// Distinct values kept per column at most.
    pub values_per_column: usize,
    /// Longest value kept, in characters ("short" values name things; long ones are prose).
    pub max_value_chars: usize,
    /// Memory budget for all kept values, in bytes.
    pub max_total_bytes: usize,
    /// Sampling queries in flight at once.
    pub concurrency: usize,
    /// Statement timeout of each sampling query.
    pub statement_timeout: Duration,
}

impl Default for ValueLimits {
    fn default() -> Self {
        ValueLimits {
            rows_per_column: 20_000,
            values_per_column: 1_000,
            max_value_chars: 64,
            max_total_bytes: 16 * 1024 * 1024,
            concurrency: 4,
            statement_timeout: Duration::from_secs(3),
        }
    }
}

/// What sampling learnt about one column.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnProfile {
    /// Index of the table in the catalog.
    pub table: usize,
    /// Index of the column in the table.
    pub column: usize,
    /// Distinct short values kept.
    pub values: Vec<String>,
    /// Whether more distinct values existed than were kept (or sampling stopped early).
    pub truncated: bool,
    /// Whether most sampled values look like ISO dates (`2012-03-04…`): such a column is a
    /// date even when declared as text.
    pub date_like: bool,
}

/// A value of the index found in a question.
#[derive(Debug, Clone, PartialEq)]
pub struct ValueHit {
    /// First question token covered.
    pub start: usize,
    /// One past the last question token covered.
    pub end: usize,
    /// Table index in the catalog.
    pub table: usize,
    /// Column index in the table.
    pub column: usize,
    /// The value exactly as stored.
    pub value: String,
    /// Whether the question spelled it with the same letters (case-insensitively), not only
    /// the same stems.
    pub exact: bool,
}

struct Entry {
    profile: usize,
    value: usize,
    stems: Vec<String>,
    lowers: Vec<String>,
}

/// Distinct short values of the text columns of one database.
#[derive(Default)]
pub struct ValueIndex {
    profiles: Vec<ColumnProfile>,
    by_column: HashMap<(usize, usize), usize>,
    entries: Vec<Entry>,
    by_first: HashMap<String, Vec<usize>>,
    /// Bytes of values kept.
    pub bytes: usize,
    /// False when a cap or the deadline cut sampling short.
    pub complete: bool,
    /// Milliseconds the build took.
    pub build_ms: f64,
}

impl std::fmt::Debug for ValueIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ValueIndex")
            .field("columns", &self.profiles.len())
            .field("values", &self.entries.len())
            .field("bytes", &self.bytes)
            .field("complete", &self.complete)
            .finish()
    }
}

/// Whether a declared type holds text worth sampling (SQLite columns without a type included).
pub fn is_text_type(data_type: &str) -> bool {
    let t = data_type.to_ascii_lowercase();
    t.is_empty()
        || t.contains("char")
        || t.contains("text")
        || t.contains("clob")
        || t.contains("string")
        || t == "name"
        || t.contains("enum")
        || t == "user-defined"
}

fn looks_like_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 10
        && b[..4].iter().all(u8::is_ascii_digit)
        && b[4] == b'-'
        && b[5..7].iter().all(u8::is_ascii_digit)
        && b[7] == b'-'
        && b[8..10].iter().all(u8::is_ascii_digit)
}

fn numeric(s: &str) -> bool {
    let t = s.trim();
    !t.is_empty() && t.parse::<f64>().is_ok()
}

/// The SQL that samples one column: distinct non-null values among the first rows.
pub fn sampling_sql(
    kind: Kind,
    catalog: &Catalog,
    table: usize,
    column: usize,
    limits: &ValueLimits,
) -> Option<String> {
    let t = catalog.tables.get(table)?;
    let c = quote_ident(kind, &t.columns.get(column)?.name);
    Some(format!(
        "SELECT DISTINCT s.{c} FROM (SELECT {c} FROM {} LIMIT {}) s WHERE s.{c} IS NOT NULL LIMIT {}",
        quoted_table_ref(kind, t),
        limits.rows_per_column,
        limits.values_per_column + 1
    ))
}

impl ValueIndex {
    /// Samples the text columns of `catalog`'s tables (views are skipped: they may be costly)
    /// until done, a cap is reached, or `deadline` passes. Never fails: a column whose query
    /// fails is left out and the index is marked incomplete.
    pub async fn build(
        db: &Database,
        catalog: &Catalog,
        limits: ValueLimits,
        deadline: Instant,
    ) -> ValueIndex {
        let started = Instant::now();
        let kind = db.kind();
        let mut jobs: Vec<(usize, usize, String)> = Vec::new();
        for (ti, t) in catalog.tables.iter().enumerate() {
            if t.kind == TableKind::View {
                continue;
            }
            for (ci, c) in t.columns.iter().enumerate() {
                if is_text_type(&c.data_type)
                    && let Some(sql) = sampling_sql(kind, catalog, ti, ci, &limits)
                {
                    jobs.push((ti, ci, sql));
                }
            }
        }
        let mut builder = Builder::new(limits);
        let mut pending = jobs.into_iter();
        let mut set = tokio::task::JoinSet::new();
        let concurrency = limits.concurrency.max(1);
        loop {
            while set.len() < concurrency && Instant::now() < deadline {
                let Some((ti, ci, sql)) = pending.next() else {
                    break;
                };
                let db = db.clone();
                let opts = QueryOptions {
                    max_rows: limits.values_per_column + 1,
                    statement_timeout: limits.statement_timeout,
                    deadline,
                };
                set.spawn(async move {
                    let rows = match db.query(&sql, opts).await {
                        Ok(stream) => stream.collect().await.ok().map(|rs| rs.rows),
                        Err(_) => None,
                    };
                    (ti, ci, rows)
                });
            }
            let joined = tokio::select! {
                j = set.join_next() => j,
                _ = tokio::time::sleep_until(deadline) => None,
            };
            let Some(joined) = joined else { break };
            match joined {
                Ok((ti, ci, Some(rows))) => {
                    let values = rows.into_iter().filter_map(|mut r| match r.pop() {
                        Some(serde_json::Value::String(s)) => Some(s),
                        _ => None,
                    });
                    if !builder.add(ti, ci, values) {
                        break;
                    }
                }
                _ => builder.index.complete = false,
            }
        }
        if pending.next().is_some() || !set.is_empty() {
            builder.index.complete = false;
        }
        set.abort_all();
        let mut index = builder.finish();
        index.build_ms = started.elapsed().as_secs_f64() * 1000.0;
        index
    }

    /// An index from given values (tests, and callers that already hold samples).
    pub fn from_values(
        columns: impl IntoIterator<Item = (usize, usize, Vec<String>)>,
    ) -> ValueIndex {
        let mut b = Builder::new(ValueLimits {
            max_total_bytes: usize::MAX,
            ..Default::default()
        });
        for (t, c, v) in columns {
            b.add(t, c, v.into_iter());
        }
        b.finish()
    }

    /// Every sampled column.
    pub fn profiles(&self) -> &[ColumnProfile] {
        &self.profiles
    }

    /// The profile of one column, when it was sampled.
    pub fn profile(&self, table: usize, column: usize) -> Option<&ColumnProfile> {
        self.by_column
            .get(&(table, column))
            .map(|&i| &self.profiles[i])
    }

    /// Number of values kept.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing was kept.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Values found in `toks` (question tokens from [`tokens`]), every match at every position:
    /// token sequences equal case-insensitively, or equal by stems (`exact: false`).
    pub fn find(&self, toks: &[Token]) -> Vec<ValueHit> {
        let mut hits = Vec::new();
        for i in 0..toks.len() {
            let Some(cands) = self.by_first.get(&toks[i].stem) else {
                continue;
            };
            for &e in cands {
                let entry = &self.entries[e];
                let n = entry.stems.len();
                if i + n > toks.len() {
                    continue;
                }
                let q = &toks[i..i + n];
                if !q.iter().zip(&entry.stems).all(|(t, s)| &t.stem == s) {
                    continue;
                }
                let exact = q.iter().zip(&entry.lowers).all(|(t, l)| &t.lower == l);
                let p = &self.profiles[entry.profile];
                hits.push(ValueHit {
                    start: i,
                    end: i + n,
                    table: p.table,
                    column: p.column,
                    value: p.values[entry.value].clone(),
                    exact,
                });
            }
        }
        hits
    }
}

struct Builder {
    limits: ValueLimits,
    index: ValueIndex,
}

impl Builder {
    fn new(limits: ValueLimits) -> Builder {
        Builder {
            limits,
            index: ValueIndex {
                complete: true,
                ..Default::default()
            },
        }
    }

    /// Adds a column's values; false when the memory budget is spent.
    fn add(&mut self, table: usize, column: usize, values: impl Iterator<Item = String>) -> bool {
        let mut kept: Vec<String> = Vec::new();
        let mut seen = 0usize;
        let mut dates = 0usize;
        let mut truncated = false;
        for v in values {
            seen += 1;
            if seen > self.limits.values_per_column {
                truncated = true;
                break;
            }
            if looks_like_date(&v) {
                dates += 1;
            }
            if v.trim().is_empty() || v.chars().count() > self.limits.max_value_chars {
                continue;
            }
            kept.push(v);
        }
        let date_like = seen > 0 && dates * 5 >= seen * 4;
        let profile = self.index.profiles.len();
        let mut bytes = 0usize;
        if !date_like {
            for (vi, v) in kept.iter().enumerate() {
                if numeric(v) {
                    continue;
                }
                let toks = tokens(v, false);
                if toks.is_empty() || toks.len() > 12 {
                    continue;
                }
                let stems: Vec<String> = toks.iter().map(|t| t.stem.clone()).collect();
                let lowers: Vec<String> = toks.iter().map(|t| t.lower.clone()).collect();
                let e = self.index.entries.len();
                self.index
                    .by_first
                    .entry(stems[0].clone())
                    .or_default()
                    .push(e);
                bytes += v.len() * 3 + 64;
                self.index.entries.push(Entry {
                    profile,
                    value: vi,
                    stems,
                    lowers,
                });
            }
        }
        self.index.bytes += bytes + kept.iter().map(String::len).sum::<usize>();
        self.index.by_column.insert((table, column), profile);
        self.index.profiles.push(ColumnProfile {
            table,
            column,
            values: if date_like { Vec::new() } else { kept },
            truncated,
            date_like,
        });
        if self.index.bytes > self.limits.max_total_bytes {
            self.index.complete = false;
            return false;
        }
        true
    }

    fn finish(self) -> ValueIndex {
        self.index
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_found_by_tokens_and_stems() {
        let idx = ValueIndex::from_values([
            (
                0,
                1,
                vec!["France".to_string(), "United Kingdom".into(), "1234".into()],
            ),
            (1, 2, vec!["Sales Support Agent".into(), "AC/DC".into()]),
            (
                2,
                0,
                vec!["2012-01-01 00:00:00".into(), "2013-02-01 00:00:00".into()],
            ),
        ]);
        let q = tokens(
            "customers in france or the united kingdom, by AC/DC and Sales Support Agents",
            false,
        );
        let hits = idx.find(&q);
        let values: Vec<(&str, bool)> = hits.iter().map(|h| (h.value.as_str(), h.exact)).collect();
        assert_eq!(
            values,
            vec![
                ("France", true),
                ("United Kingdom", true),
                ("AC/DC", true),
                ("Sales Support Agent", false)
            ]
        );
        assert!(idx.profile(2, 0).unwrap().date_like);
        assert!(
            idx.find(&tokens("1234", false)).is_empty(),
            "numbers are not values"
        );
    }

    #[test]
    fn text_types_are_recognised() {
        for t in [
            "NVARCHAR(40)",
            "text",
            "character varying(40)",
            "",
            "varchar(10)",
        ] {
            assert!(is_text_type(t), "{t}");
        }
        for t in [
            "INTEGER",
            "numeric(10,2)",
            "timestamp without time zone",
            "real",
        ] {
            assert!(!is_text_type(t), "{t}");
        }
    }
}
