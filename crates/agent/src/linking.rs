//! Schema linking: ranks tables and columns for a question, then picks what goes into the
//! context under a column budget.
//!
//! Why: a database of hundreds of tables does not fit a prompt, and a prompt full of irrelevant
//! tables makes models pick wrong ones. Tables and columns are scored by their names and
//! comments against the question's words (stemmed, with synonyms), by values of the value
//! index the question mentions ("France" → `Customer.Country`), and by foreign-key
//! neighbourhood (the join path between two strong matches). Selection then keeps, table by
//! table in rank order, the columns that matter (matches, keys, the join columns, a label), and
//! fills what budget remains. Deterministic and cheap: it runs on every question.

pub mod graph;
pub mod words;

pub use words::{stem, words};

use crate::values::ValueIndex;
use graph::JoinGraph;
use querypad_engines::Catalog;
use std::collections::HashSet;
use words::{Token, means, tokens};

/// A table's score.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ranked {
    /// Index into `catalog.tables`.
    pub index: usize,
    /// Higher is more relevant.
    pub score: f64,
}

/// How much of the schema the context may hold.
#[derive(Debug, Clone, Copy)]
pub struct LinkBudget {
    /// Columns at most (at least one table is always kept, whatever its size).
    pub max_columns: usize,
}

/// One table placed in the context.
#[derive(Debug, Clone, PartialEq)]
pub struct LinkedTable {
    /// Index into `catalog.tables`.
    pub index: usize,
    /// Its score.
    pub score: f64,
    /// Column indices kept, in schema order.
    pub columns: Vec<usize>,
}

/// What linking chose.
#[derive(Debug, Clone, PartialEq)]
pub struct Linking {
    /// Every table, best first (ties keep schema order).
    pub ranked: Vec<Ranked>,
    /// Tables kept, best first, with their columns.
    pub tables: Vec<LinkedTable>,
    /// Columns kept.
    pub columns_in_context: usize,
    /// Columns in the schema.
    pub columns_total: usize,
    /// Tables left out (catalog indices), best first.
    pub left_out: Vec<usize>,
}

impl Linking {
    /// Whether every column of the schema was kept.
    pub fn whole(&self) -> bool {
        self.columns_in_context == self.columns_total
    }
}

/// Words that name many columns and say little on their own.
const GENERIC: &[&str] = &[
    "id", "name", "nam", "code", "number", "no", "num", "typ", "type", "date", "dat", "valu",
    "key", "info", "detail",
];

fn generic(stem: &str) -> bool {
    GENERIC.contains(&stem)
}

struct Question {
    stems: HashSet<String>,
    toks: Vec<Token>,
    /// Adjacent word pairs run together (`first name` → `firstname`), as written and stemmed.
    joined: HashSet<String>,
}

impl Question {
    fn new(text: &str) -> Question {
        let toks = tokens(text, false);
        let stems = toks
            .iter()
            .filter(|t| t.word && !words::is_stop(&t.lower))
            .map(|t| t.stem.clone())
            .collect();
        let joined = toks
            .windows(2)
            .flat_map(|w| {
                [
                    format!("{}{}", w[0].lower, w[1].lower),
                    format!("{}{}", w[0].stem, w[1].stem),
                ]
            })
            .collect();
        Question {
            stems,
            toks,
            joined,
        }
    }

    fn has(&self, schema_stem: &str) -> bool {
        self.stems.contains(schema_stem) || self.stems.iter().any(|q| means(q, schema_stem))
    }

    /// A compound identifier (`firstname`, `paperid`) against adjacent question words.
    fn has_joined(&self, joined: &str) -> bool {
        joined.len() >= 5 && self.joined.contains(joined)
    }
}

/// A schema name split for matching, once per schema (not once per question).
struct NameWords {
    /// Its words, stemmed.
    words: Vec<String>,
    /// Lower case without separators (`first_name` → `firstname`).
    joined: String,
}

impl NameWords {
    fn new(name: &str) -> NameWords {
        NameWords {
            words: words(name),
            joined: name.to_lowercase().replace(['_', ' '], ""),
        }
    }
}

/// A comment's distinct, non-generic words.
fn comment_words(comment: Option<&str>) -> Vec<String> {
    let mut ws: Vec<String> = comment
        .map(words)
        .unwrap_or_default()
        .into_iter()
        .filter(|w| !generic(w))
        .collect();
    ws.sort_unstable();
    ws.dedup();
    ws
}

struct TableWords {
    name: NameWords,
    comment: Vec<String>,
    columns: Vec<NameWords>,
    column_comments: Vec<Vec<String>>,
}

/// What linking derives from a schema before any question: the join graph and every name and
/// comment split into stemmed words. Built once per cached catalog ([`prepared_for`]); on a
/// 100-table schema, splitting 800 column names per question was most of linking's time.
pub struct Prepared {
    /// Joins between tables (declared and inferred).
    pub graph: JoinGraph,
    tables: Vec<TableWords>,
}

impl Prepared {
    /// Derives everything from `catalog`.
    pub fn new(catalog: &Catalog) -> Prepared {
        let tables = catalog
            .tables
            .iter()
            .map(|t| TableWords {
                name: NameWords::new(&t.name),
                comment: comment_words(t.comment.as_deref()),
                columns: t.columns.iter().map(|c| NameWords::new(&c.name)).collect(),
                column_comments: t
                    .columns
                    .iter()
                    .map(|c| comment_words(c.comment.as_deref()))
                    .collect(),
            })
            .collect();
        Prepared {
            graph: JoinGraph::build(catalog),
            tables,
        }
    }
}

/// Score of a name against the question: 1 when every word matches, a fraction otherwise;
/// matches on generic words only count little.
fn name_score(q: &Question, name: &NameWords) -> f64 {
    let ws = &name.words;
    if ws.is_empty() {
        return 0.0;
    }
    let matched: Vec<&String> = ws.iter().filter(|w| q.has(w)).collect();
    if matched.is_empty() {
        let joined = &name.joined;
        if q.has_joined(joined) {
            return 1.0;
        }
        // Weaker: a question word inside an unsplit name ("language" in `countrylanguage`), or
        // sharing a long prefix with a name word ("weigh" and `weight`).
        let inside = joined.len() >= 8
            && q.stems
                .iter()
                .any(|w| w.len() >= 5 && !generic(w) && joined.contains(w.as_str()));
        let prefix = ws.iter().any(|n| {
            q.stems.iter().any(|w| {
                w.len() >= 4
                    && n.len() >= 4
                    && !generic(w)
                    && (n.starts_with(w.as_str()) || w.starts_with(n.as_str()))
            })
        });
        return if inside || prefix { 0.3 } else { 0.0 };
    }
    let frac = matched.len() as f64 / ws.len() as f64;
    let specific = matched.iter().any(|w| !generic(w));
    match (frac >= 1.0, specific) {
        (true, true) => 1.0 + 0.25 * (ws.len() as f64 - 1.0).min(2.0),
        (true, false) => 0.4,
        (false, true) => 0.6 * frac,
        (false, false) => 0.1 * frac,
    }
}

fn comment_score(q: &Question, comment: &[String]) -> f64 {
    let hits = comment.iter().filter(|w| q.has(w)).count();
    (hits as f64 * 0.3).min(0.9)
}

/// Scores of every table and of every column, from names, comments and value hits.
fn score(
    prepared: &Prepared,
    q: &Question,
    values: Option<&ValueIndex>,
) -> (Vec<f64>, Vec<Vec<f64>>) {
    let mut cols: Vec<Vec<f64>> = prepared
        .tables
        .iter()
        .map(|t| {
            t.columns
                .iter()
                .zip(&t.column_comments)
                .map(|(c, comment)| name_score(q, c) + comment_score(q, comment))
                .collect()
        })
        .collect();
    if let Some(v) = values {
        for h in v.find(&q.toks) {
            let all_stop = q.toks[h.start..h.end]
                .iter()
                .all(|t| !t.word || words::is_stop(&t.lower));
            if all_stop {
                continue;
            }
            let bonus = if h.exact { 1.5 } else { 0.8 };
            if let Some(c) = cols.get_mut(h.table).and_then(|t| t.get_mut(h.column)) {
                *c = c.max(bonus);
            }
        }
    }
    let tables: Vec<f64> = prepared
        .tables
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let mut s = 4.0 * name_score(q, &t.name).min(1.0);
            let mut cs: Vec<f64> = cols[i].clone();
            cs.sort_by(|a, b| b.total_cmp(a));
            if let Some(best) = cs.first() {
                s += 1.5 * best;
            }
            s += cs.iter().skip(1).map(|x| 0.5 * x).sum::<f64>().min(2.0);
            s + comment_score(q, &t.comment)
        })
        .collect();
    (tables, cols)
}

/// Ranks every table of `catalog` for `question`, best first; ties keep schema order.
pub fn rank_tables(catalog: &Catalog, question: &str) -> Vec<Ranked> {
    link(
        catalog,
        question,
        None,
        LinkBudget {
            max_columns: usize::MAX,
        },
    )
    .ranked
}

/// What linking derives from `catalog` (join graph, split names), built once per catalog and
/// shared by every run that uses the same (cached) schema: the join graph is quadratic in tables
/// sharing a column name, and doing all this on every question made linking most of a run's own
/// time.
pub fn prepared_for(catalog: &std::sync::Arc<Catalog>) -> std::sync::Arc<Prepared> {
    crate::derived::for_catalog(catalog).prepared(catalog)
}

/// Ranks tables and columns for `question` and selects what fits `budget`.
pub fn link(
    catalog: &Catalog,
    question: &str,
    values: Option<&ValueIndex>,
    budget: LinkBudget,
) -> Linking {
    link_with(catalog, &Prepared::new(catalog), question, values, budget)
}

/// [`link`] with what the caller already derived from `catalog` (see [`prepared_for`]).
pub fn link_with(
    catalog: &Catalog,
    prepared: &Prepared,
    question: &str,
    values: Option<&ValueIndex>,
    budget: LinkBudget,
) -> Linking {
    let graph = &prepared.graph;
    let q = Question::new(question);
    let n = catalog.tables.len();
    let (mut tscore, cscore) = score(prepared, &q, values);
    // Foreign-key neighbours of strong matches, and bridges between two strong matches.
    let strong: Vec<bool> = tscore.iter().map(|&s| s >= 2.0).collect();
    let mut bonus = vec![0.0_f64; n];
    for (t, b) in bonus.iter_mut().enumerate() {
        let mut strong_neighbours = HashSet::new();
        for (o, e) in graph.neighbours(t) {
            if strong[o] {
                strong_neighbours.insert(o);
                *b += if graph.edges[e].declared { 0.75 } else { 0.5 };
            }
        }
        if strong_neighbours.len() >= 2 {
            *b += 2.0;
        }
    }
    for (s, b) in tscore.iter_mut().zip(bonus) {
        *s += b.min(3.0_f64);
    }
    let mut ranked: Vec<Ranked> = tscore
        .iter()
        .enumerate()
        .map(|(index, &score)| Ranked { index, score })
        .collect();
    ranked.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.index.cmp(&b.index)));

    let columns_total: usize = catalog.tables.iter().map(|t| t.columns.len()).sum();
    if columns_total <= budget.max_columns {
        let tables = ranked
            .iter()
            .map(|r| LinkedTable {
                index: r.index,
                score: r.score,
                columns: (0..catalog.tables[r.index].columns.len()).collect(),
            })
            .collect();
        return Linking {
            ranked,
            tables,
            columns_in_context: columns_total,
            columns_total,
            left_out: Vec::new(),
        };
    }
    let relevant: HashSet<usize> = ranked
        .iter()
        .filter(|r| r.score > 0.0)
        .map(|r| r.index)
        .collect();
    let mut chosen: Vec<(usize, Vec<usize>)> = Vec::new();
    let mut used = 0usize;
    let label = |t: usize| -> Option<usize> {
        let cols = &prepared.tables[t].columns;
        let w = |i: usize| cols[i].words.as_slice();
        (0..cols.len())
            .find(|&i| matches!(w(i), [x] if x == "nam" || x == "titl"))
            .or_else(|| (0..cols.len()).find(|&i| w(i).iter().any(|x| x == "nam" || x == "titl")))
    };
    // Phase 1: relevant tables with their essential columns, best first.
    let essentials = |t: usize, with_keys: bool| -> Vec<usize> {
        let info = &catalog.tables[t];
        let mut cols: Vec<usize> = (0..info.columns.len())
            .filter(|&c| cscore[t][c] > 0.0)
            .collect();
        if with_keys {
            for (c, col) in info.columns.iter().enumerate() {
                if info.primary_key.iter().any(|p| p == &col.name) {
                    cols.push(c);
                }
            }
            for e in &graph.edges {
                if e.from == t && relevant.contains(&e.to) {
                    cols.extend(&e.from_cols);
                }
                if e.to == t && relevant.contains(&e.from) {
                    cols.extend(&e.to_cols);
                }
            }
        }
        if let Some(l) = label(t) {
            cols.push(l);
        }
        if cols.is_empty() && !info.columns.is_empty() {
            cols.push(0);
        }
        cols.sort_unstable();
        cols.dedup();
        cols
    };
    // Each relevant table first gets its single most telling column, so that a tight budget
    // still shows every table the question touches; then the essentials, best table first.
    let best = |t: usize| -> Option<usize> {
        let info = &catalog.tables[t];
        let n = info.columns.len();
        if n == 0 {
            return None;
        }
        let top = (0..n).max_by(|a, b| cscore[t][*a].total_cmp(&cscore[t][*b]).then(b.cmp(a)))?;
        if cscore[t][top] > 0.0 {
            return Some(top);
        }
        label(t)
            .or_else(|| {
                info.columns
                    .iter()
                    .position(|c| info.primary_key.first() == Some(&c.name))
            })
            .or(Some(0))
    };
    for r in ranked.iter().filter(|r| relevant.contains(&r.index)) {
        if used >= budget.max_columns && !chosen.is_empty() {
            break;
        }
        if let Some(c) = best(r.index) {
            used += 1;
            chosen.push((r.index, vec![c]));
        }
    }
    // Then the tables joined to those (the join path a question needs but does not name).
    let mut neighbours: Vec<usize> = Vec::new();
    for r in &ranked {
        if chosen.iter().any(|(t, _)| *t == r.index) {
            continue;
        }
        if chosen
            .iter()
            .any(|(t, _)| graph.neighbours(*t).any(|(o, _)| o == r.index))
        {
            neighbours.push(r.index);
        }
    }
    for t in neighbours {
        if used >= budget.max_columns {
            break;
        }
        // Its join column is what makes it useful.
        let key = graph
            .edges
            .iter()
            .find_map(|e| {
                if e.from == t && chosen.iter().any(|(c, _)| *c == e.to) {
                    e.from_cols.first().copied()
                } else if e.to == t && chosen.iter().any(|(c, _)| *c == e.from) {
                    e.to_cols.first().copied()
                } else {
                    None
                }
            })
            .or_else(|| best(t));
        if let Some(c) = key {
            used += 1;
            chosen.push((t, vec![c]));
        }
    }
    for (t, cols) in chosen.iter_mut() {
        for c in essentials(*t, true) {
            if used >= budget.max_columns {
                break;
            }
            if !cols.contains(&c) {
                cols.push(c);
                used += 1;
            }
        }
        cols.sort_unstable();
    }
    // Phase 2: fill the remaining budget with more columns of the chosen tables, best first.
    'fill: for (t, cols) in chosen.iter_mut() {
        let mut rest: Vec<usize> = (0..catalog.tables[*t].columns.len())
            .filter(|c| !cols.contains(c))
            .collect();
        rest.sort_by(|a, b| cscore[*t][*b].total_cmp(&cscore[*t][*a]).then(a.cmp(b)));
        for c in rest {
            if used >= budget.max_columns {
                break 'fill;
            }
            cols.push(c);
            used += 1;
        }
        cols.sort_unstable();
    }
    let kept: HashSet<usize> = chosen.iter().map(|(t, _)| *t).collect();
    let score_of = |t: usize| tscore[t];
    let tables: Vec<LinkedTable> = chosen
        .into_iter()
        .map(|(index, columns)| LinkedTable {
            index,
            score: score_of(index),
            columns,
        })
        .collect();
    let left_out = ranked
        .iter()
        .filter(|r| !kept.contains(&r.index))
        .map(|r| r.index)
        .collect();
    Linking {
        ranked,
        tables,
        columns_in_context: used,
        columns_total,
        left_out,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use querypad_engines::{ColumnInfo, ForeignKey, TableInfo, TableKind};

    fn table(name: &str, cols: &[&str], fks: &[(&str, &str, &str)]) -> TableInfo {
        TableInfo {
            schema: None,
            name: name.into(),
            kind: TableKind::Table,
            columns: cols
                .iter()
                .map(|c| ColumnInfo {
                    name: (*c).into(),
                    data_type: "TEXT".into(),
                    nullable: true,
                    default: None,
                    comment: None,
                })
                .collect(),
            primary_key: vec![cols[0].to_string()],
            foreign_keys: fks
                .iter()
                .map(|(c, t, rc)| ForeignKey {
                    columns: vec![(*c).into()],
                    ref_schema: None,
                    ref_table: (*t).into(),
                    ref_columns: vec![(*rc).into()],
                })
                .collect(),
            row_estimate: None,
            comment: None,
        }
    }

    fn chinookish() -> Catalog {
        let mut tables = vec![
            table("Artist", &["ArtistId", "Name"], &[]),
            table(
                "Album",
                &["AlbumId", "Title", "ArtistId"],
                &[("ArtistId", "Artist", "ArtistId")],
            ),
            table(
                "Customer",
                &[
                    "CustomerId",
                    "FirstName",
                    "LastName",
                    "Country",
                    "City",
                    "Email",
                    "Phone",
                    "Fax",
                ],
                &[],
            ),
            table(
                "Invoice",
                &[
                    "InvoiceId",
                    "CustomerId",
                    "InvoiceDate",
                    "BillingCountry",
                    "Total",
                ],
                &[("CustomerId", "Customer", "CustomerId")],
            ),
            table(
                "Track",
                &[
                    "TrackId",
                    "Name",
                    "AlbumId",
                    "Milliseconds",
                    "UnitPrice",
                    "Bytes",
                    "Composer",
                ],
                &[("AlbumId", "Album", "AlbumId")],
            ),
        ];
        for i in 0..30 {
            tables.push(table(
                &format!("Audit{i}"),
                &["AuditId", "Payload", "CreatedAt", "Who"],
                &[],
            ));
        }
        Catalog { tables }
    }

    #[test]
    fn tables_rank_by_names_and_neighbours() {
        let c = chinookish();
        let r = rank_tables(&c, "How many invoices per customer?");
        let top: Vec<&str> = r
            .iter()
            .take(2)
            .map(|x| c.tables[x.index].name.as_str())
            .collect();
        assert!(
            top.contains(&"Invoice") && top.contains(&"Customer"),
            "{top:?}"
        );
    }

    #[test]
    fn values_lift_tables_the_question_does_not_name() {
        let c = chinookish();
        let values = ValueIndex::from_values([(2, 3, vec!["France".into()])]);
        let l = link(
            &c,
            "Who lives in France?",
            Some(&values),
            LinkBudget { max_columns: 20 },
        );
        assert_eq!(l.tables[0].index, 2);
        assert!(l.tables[0].columns.contains(&3));
    }

    #[test]
    fn the_budget_keeps_the_join_path_and_reports_what_was_left_out() {
        let c = chinookish();
        let budget = LinkBudget {
            max_columns: c.tables.iter().map(|t| t.columns.len()).sum::<usize>() / 3,
        };
        let l = link(&c, "Which artist has the longest tracks?", None, budget);
        let names: Vec<&str> = l
            .tables
            .iter()
            .map(|t| c.tables[t.index].name.as_str())
            .collect();
        for want in ["Artist", "Album", "Track"] {
            assert!(names.contains(&want), "{want} missing from {names:?}");
        }
        assert!(l.columns_in_context <= budget.max_columns);
        assert!(!l.left_out.is_empty());
        let track = l
            .tables
            .iter()
            .find(|t| c.tables[t.index].name == "Track")
            .unwrap();
        assert!(track.columns.contains(&3), "Milliseconds is the length");
        assert!(track.columns.contains(&2), "AlbumId is the join column");
    }
}
