//! Join edges between tables: declared foreign keys, plus keys inferred from column names when a
//! schema declares none (many real and benchmark databases do not).
//!
//! Why inferred edges: "how many reviews does each business have" needs `review.business_id =
//! business.business_id` whether or not anyone declared it. Inference is conservative — a column
//! must look like a key and one table must clearly own it — and inferred edges are used only when
//! no declared path exists.

use super::words::stem;
use querypad_engines::{Catalog, TableInfo};
use std::collections::{HashMap, HashSet, VecDeque};

/// One join edge: `from.from_cols = to.to_cols`, where `from` holds the reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edge {
    /// Referencing table (catalog index).
    pub from: usize,
    /// Referencing columns (column indices).
    pub from_cols: Vec<usize>,
    /// Referenced table.
    pub to: usize,
    /// Referenced columns.
    pub to_cols: Vec<usize>,
    /// Declared in the schema (else inferred from names).
    pub declared: bool,
}

/// One step of a join path, walking an edge in either direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    /// Edge index.
    pub edge: usize,
    /// Table the step leaves.
    pub from: usize,
    /// Table the step reaches.
    pub to: usize,
}

/// The join graph of a catalog.
#[derive(Debug, Clone, Default)]
pub struct JoinGraph {
    /// Every edge.
    pub edges: Vec<Edge>,
    /// Edge indices by table.
    adj: Vec<Vec<usize>>,
}

fn find_table(catalog: &Catalog, schema: Option<&str>, name: &str) -> Option<usize> {
    let exact = catalog
        .tables
        .iter()
        .position(|t| t.name == name && (schema.is_none() || t.schema.as_deref() == schema));
    exact.or_else(|| {
        catalog
            .tables
            .iter()
            .position(|t| t.name.eq_ignore_ascii_case(name))
    })
}

fn col_index(t: &TableInfo, name: &str) -> Option<usize> {
    t.columns.iter().position(|c| c.name == name).or_else(|| {
        t.columns
            .iter()
            .position(|c| c.name.eq_ignore_ascii_case(name))
    })
}

/// Whether a column name looks like a key (`…id`, `…_code`, `…key`).
pub fn key_like(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    n.ends_with("id")
        || (n.ends_with("code") && n.len() > 4)
        || n.ends_with("_key")
        || n.ends_with("_no")
}

/// The table's name as one stem-joined word ("invoice_lines" → "invoicline").
fn name_key(t: &TableInfo) -> String {
    super::words::words(&t.name).concat()
}

/// Whether table `t` owns key column `col` by its name: `business.business_id`,
/// `users.user_id`, `airline.airline_code`, or an initial-letter abbreviation that is the
/// table's first column (`author.aid`).
pub fn owns(t: &TableInfo, col: &str) -> bool {
    let c = col.to_ascii_lowercase();
    let key = name_key(t);
    let prefix = c
        .trim_end_matches("_id")
        .trim_end_matches("_code")
        .trim_end_matches("_key")
        .trim_end_matches("id")
        .trim_end_matches('_');
    if !prefix.is_empty() && (stem(prefix) == key || super::words::words(prefix).concat() == key) {
        return true;
    }
    if let Some(pk) = t.primary_key.first()
        && t.primary_key.len() == 1
        && pk.eq_ignore_ascii_case(col)
    {
        return true;
    }
    let first = t.columns.first().map(|c| c.name.to_ascii_lowercase());
    first.as_deref() == Some(c.as_str())
        && c.len() <= 4
        && c.ends_with("id")
        && t.name.to_ascii_lowercase().starts_with(&c[..c.len() - 2])
        && c.len() > 2
}

impl JoinGraph {
    /// Declared foreign keys, then inferred edges for key-like columns no declared edge covers.
    /// Linear in the number of columns (name lookups go through maps), so it stays fast on
    /// schemas of thousands of tables.
    pub fn build(catalog: &Catalog) -> JoinGraph {
        let mut edges = Vec::new();
        for (ti, t) in catalog.tables.iter().enumerate() {
            for fk in &t.foreign_keys {
                let Some(to) = find_table(catalog, fk.ref_schema.as_deref(), &fk.ref_table) else {
                    continue;
                };
                let from_cols: Option<Vec<usize>> =
                    fk.columns.iter().map(|c| col_index(t, c)).collect();
                let target = &catalog.tables[to];
                let to_cols: Option<Vec<usize>> = if fk.ref_columns.is_empty() {
                    target
                        .primary_key
                        .iter()
                        .map(|c| col_index(target, c))
                        .collect()
                } else {
                    fk.ref_columns
                        .iter()
                        .map(|c| col_index(target, c))
                        .collect()
                };
                if let (Some(from_cols), Some(to_cols)) = (from_cols, to_cols)
                    && !from_cols.is_empty()
                    && from_cols.len() == to_cols.len()
                {
                    edges.push(Edge {
                        from: ti,
                        from_cols,
                        to,
                        to_cols,
                        declared: true,
                    });
                }
            }
        }
        let mut covered: HashSet<(usize, usize)> = edges
            .iter()
            .flat_map(|e| e.from_cols.iter().map(move |&c| (e.from, c)))
            .collect();
        // Lookups: columns by lower-case name, tables by their stem-joined name.
        let mut by_col: HashMap<String, Vec<(usize, usize)>> = HashMap::new();
        for (ti, t) in catalog.tables.iter().enumerate() {
            for (ci, c) in t.columns.iter().enumerate() {
                by_col
                    .entry(c.name.to_ascii_lowercase())
                    .or_default()
                    .push((ti, ci));
            }
        }
        let keys: Vec<String> = catalog.tables.iter().map(name_key).collect();
        let mut by_key: HashMap<&str, Vec<usize>> = HashMap::new();
        for (ti, k) in keys.iter().enumerate() {
            by_key.entry(k.as_str()).or_default().push(ti);
        }
        let mut inferred = Vec::new();
        for (ai, a) in catalog.tables.iter().enumerate() {
            for (ci, c) in a.columns.iter().enumerate() {
                if !key_like(&c.name) || covered.contains(&(ai, ci)) || owns(a, &c.name) {
                    continue;
                }
                let lc = c.name.to_ascii_lowercase();
                // Same column name in an owning table.
                for &(bi, bc) in by_col.get(&lc).map(Vec::as_slice).unwrap_or(&[]) {
                    if bi != ai && owns(&catalog.tables[bi], &c.name) {
                        inferred.push(Edge {
                            from: ai,
                            from_cols: vec![ci],
                            to: bi,
                            to_cols: vec![bc],
                            declared: false,
                        });
                    }
                }
                // `<table>_id` → `<table>.id`.
                let prefix = lc.trim_end_matches("id").trim_end_matches('_');
                if !prefix.is_empty() {
                    for &bi in by_key
                        .get(stem(prefix).as_str())
                        .map(Vec::as_slice)
                        .unwrap_or(&[])
                    {
                        if bi != ai
                            && let Some(bc) = col_index(&catalog.tables[bi], "id")
                            && !inferred
                                .iter()
                                .any(|e: &Edge| e.from == ai && e.to == bi && e.from_cols == [ci])
                        {
                            inferred.push(Edge {
                                from: ai,
                                from_cols: vec![ci],
                                to: bi,
                                to_cols: vec![bc],
                                declared: false,
                            });
                        }
                    }
                }
            }
        }
        covered.extend(
            inferred
                .iter()
                .flat_map(|e| e.from_cols.iter().map(move |&c| (e.from, c))),
        );
        // `<x>_name` columns shared by several tables: owned by the table named `<x>`, else by
        // the one table (without a primary key) where it is the first column — a natural key.
        for (ai, a) in catalog.tables.iter().enumerate() {
            for (ci, c) in a.columns.iter().enumerate() {
                let lc = c.name.to_ascii_lowercase();
                if !lc.ends_with("_name") || covered.contains(&(ai, ci)) {
                    continue;
                }
                let prefix = stem(&lc[..lc.len() - 5]);
                let holders: Vec<(usize, usize)> = by_col
                    .get(&lc)
                    .map(Vec::as_slice)
                    .unwrap_or(&[])
                    .iter()
                    .copied()
                    .filter(|(bi, _)| *bi != ai)
                    .collect();
                let by_name: Vec<(usize, usize)> = holders
                    .iter()
                    .copied()
                    .filter(|(bi, _)| keys[*bi] == prefix)
                    .collect();
                let owner = if by_name.len() == 1 {
                    Some(by_name[0])
                } else if keys[ai] == prefix || (ci == 0 && a.primary_key.is_empty()) {
                    None
                } else {
                    let first: Vec<(usize, usize)> = holders
                        .iter()
                        .copied()
                        .filter(|(bi, bc)| *bc == 0 && catalog.tables[*bi].primary_key.is_empty())
                        .collect();
                    (first.len() == 1).then(|| first[0])
                };
                if let Some((bi, bc)) = owner {
                    inferred.push(Edge {
                        from: ai,
                        from_cols: vec![ci],
                        to: bi,
                        to_cols: vec![bc],
                        declared: false,
                    });
                }
            }
        }
        edges.extend(inferred);
        let mut adj = vec![Vec::new(); catalog.tables.len()];
        for (i, e) in edges.iter().enumerate() {
            if e.from < adj.len() && e.to < adj.len() && e.from != e.to {
                adj[e.from].push(i);
                adj[e.to].push(i);
            }
        }
        JoinGraph { edges, adj }
    }

    /// Tables joined to `t` by one edge, with the edge index.
    pub fn neighbours(&self, t: usize) -> impl Iterator<Item = (usize, usize)> + '_ {
        self.adj.get(t).into_iter().flatten().map(move |&i| {
            let e = &self.edges[i];
            (if e.from == t { e.to } else { e.from }, i)
        })
    }

    /// The shortest join path from `a` to `b` (declared edges first; inferred ones only when
    /// declared ones do not connect them), and whether it is the only shortest one.
    pub fn path(&self, a: usize, b: usize, tables: usize) -> Option<(Vec<Step>, bool)> {
        if a == b {
            return Some((Vec::new(), true));
        }
        self.bfs(a, b, tables, true)
            .or_else(|| self.bfs(a, b, tables, false))
    }

    fn bfs(
        &self,
        a: usize,
        b: usize,
        tables: usize,
        declared_only: bool,
    ) -> Option<(Vec<Step>, bool)> {
        let mut dist = vec![usize::MAX; tables];
        let mut count = vec![0u32; tables];
        let mut prev: Vec<Option<Step>> = vec![None; tables];
        dist[a] = 0;
        count[a] = 1;
        let mut queue = VecDeque::from([a]);
        while let Some(t) = queue.pop_front() {
            for &i in self.adj.get(t).map(Vec::as_slice).unwrap_or(&[]) {
                let e = &self.edges[i];
                if declared_only && !e.declared {
                    continue;
                }
                let next = if e.from == t { e.to } else { e.from };
                if next == t || next >= tables {
                    continue;
                }
                if dist[next] == usize::MAX {
                    dist[next] = dist[t] + 1;
                    count[next] = count[t];
                    prev[next] = Some(Step {
                        edge: i,
                        from: t,
                        to: next,
                    });
                    queue.push_back(next);
                } else if dist[next] == dist[t] + 1 {
                    count[next] = count[next].saturating_add(count[t]);
                }
            }
        }
        if dist[b] == usize::MAX {
            return None;
        }
        let mut steps = Vec::new();
        let mut at = b;
        while let Some(s) = prev[at] {
            steps.push(s);
            at = s.from;
        }
        steps.reverse();
        Some((steps, count[b] == 1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use querypad_engines::{ColumnInfo, TableKind};

    fn table(name: &str, cols: &[&str]) -> TableInfo {
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
            primary_key: Vec::new(),
            foreign_keys: Vec::new(),
            row_estimate: None,
            comment: None,
        }
    }

    #[test]
    fn keys_are_inferred_from_owning_tables() {
        let catalog = Catalog {
            tables: vec![
                table("business", &["bid", "business_id", "name"]),
                table("review", &["rid", "business_id", "user_id", "rating"]),
                table("users", &["uid", "user_id", "name"]),
                table("restaurant", &["id", "name"]),
                table("location", &["restaurant_id", "street_name"]),
                table("author", &["aid", "name"]),
                table("writes", &["aid", "pid"]),
            ],
        };
        let g = JoinGraph::build(&catalog);
        let pairs: Vec<(usize, usize)> = g.edges.iter().map(|e| (e.from, e.to)).collect();
        assert!(pairs.contains(&(1, 0)), "{pairs:?}");
        assert!(pairs.contains(&(1, 2)), "{pairs:?}");
        assert!(pairs.contains(&(4, 3)), "{pairs:?}");
        assert!(pairs.contains(&(6, 5)), "{pairs:?}");
        let (path, unique) = g.path(0, 2, catalog.tables.len()).unwrap();
        assert_eq!(path.len(), 2);
        assert!(unique);
    }
}
