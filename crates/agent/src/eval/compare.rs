//! Comparing results the way defog's sql-eval does (reimplemented from its documented rules,
//! see `../shared/datasets/README.md`): a prediction is right when
//! - its result equals the gold result after both are normalised — duplicate rows dropped,
//!   column names ignored, columns in a canonical order, rows sorted unless the question asks
//!   for an order; or
//! - every gold column appears among the prediction's columns with the same values (compared
//!   as sorted columns), so extra columns are allowed.
//!
//! NULL equals NULL, numbers compare numerically (3 = 3.0 = "3.00"), floats are rounded to
//! [`DECIMALS`] decimals first.

use serde_json::Value;
use std::cmp::Ordering;

/// Decimals kept when comparing numbers.
pub const DECIMALS: i32 = 3;

/// A normalised cell.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Cell {
    /// NULL (sorts first).
    Null,
    /// A number scaled by 10^DECIMALS and rounded.
    Num(i128),
    /// Text.
    Text(String),
}

fn scaled(x: f64) -> Option<Cell> {
    if !x.is_finite() {
        return None;
    }
    let s = (x * 10f64.powi(DECIMALS)).round();
    if s.abs() >= 1e36 {
        return None;
    }
    Some(Cell::Num(s as i128))
}

fn numeric_text(s: &str) -> Option<f64> {
    let t = s.trim();
    let body = t.strip_prefix(['-', '+']).unwrap_or(t);
    let mut digits = 0;
    let mut dot = false;
    let mut exp = false;
    for (i, c) in body.char_indices() {
        match c {
            '0'..='9' => digits += 1,
            '.' if !dot && !exp => dot = true,
            'e' | 'E' if digits > 0 && !exp && i + 1 < body.len() => exp = true,
            '-' | '+' if exp => {}
            _ => return None,
        }
    }
    if digits == 0 {
        return None;
    }
    t.parse().ok()
}

/// Normalises one JSON value from a result.
pub fn cell(v: &Value) -> Cell {
    match v {
        Value::Null => Cell::Null,
        Value::Bool(b) => Cell::Num(if *b { 10i128.pow(DECIMALS as u32) } else { 0 }),
        Value::Number(n) => n
            .as_f64()
            .and_then(scaled)
            .unwrap_or_else(|| Cell::Text(n.to_string())),
        Value::String(s) => numeric_text(s)
            .and_then(scaled)
            .unwrap_or_else(|| Cell::Text(s.clone())),
        other => Cell::Text(other.to_string()),
    }
}

/// A normalised result: rows of cells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    /// Number of columns.
    pub width: usize,
    /// Rows.
    pub rows: Vec<Vec<Cell>>,
}

impl Table {
    /// Normalises rows of JSON values.
    pub fn from_json(width: usize, rows: &[Vec<Value>]) -> Table {
        Table {
            width,
            rows: rows.iter().map(|r| r.iter().map(cell).collect()).collect(),
        }
    }

    fn dedup(&self) -> Table {
        let mut seen = std::collections::HashSet::new();
        let rows = self
            .rows
            .iter()
            .filter(|r| seen.insert((*r).clone()))
            .cloned()
            .collect();
        Table {
            width: self.width,
            rows,
        }
    }

    fn column(&self, c: usize) -> Vec<Cell> {
        self.rows
            .iter()
            .map(|r| r.get(c).cloned().unwrap_or(Cell::Null))
            .collect()
    }

    fn sorted_column(&self, c: usize) -> Vec<Cell> {
        let mut v = self.column(c);
        v.sort();
        v
    }

    fn project(&self, cols: &[usize]) -> Table {
        Table {
            width: cols.len(),
            rows: self
                .rows
                .iter()
                .map(|r| {
                    cols.iter()
                        .map(|&c| r.get(c).cloned().unwrap_or(Cell::Null))
                        .collect()
                })
                .collect(),
        }
    }
}

/// Whether row order counts: the category is `order_by`, or the question says order, sort or
/// arrange (as whole words).
pub fn order_matters(category: &str, question: &str) -> bool {
    if category.eq_ignore_ascii_case("order_by") {
        return true;
    }
    question.split(|c: char| !c.is_alphanumeric()).any(|w| {
        w.eq_ignore_ascii_case("order")
            || w.eq_ignore_ascii_case("sort")
            || w.eq_ignore_ascii_case("arrange")
    })
}

fn same_rows(a: &Table, b: &Table, ordered: bool) -> bool {
    if a.rows.len() != b.rows.len() {
        return false;
    }
    if ordered {
        a.rows == b.rows
    } else {
        let mut x = a.rows.clone();
        let mut y = b.rows.clone();
        x.sort();
        y.sort();
        x == y
    }
}

fn canonical_order(t: &Table) -> Vec<usize> {
    let mut cols: Vec<usize> = (0..t.width).collect();
    cols.sort_by(|&a, &b| t.sorted_column(a).cmp(&t.sorted_column(b)).then(a.cmp(&b)));
    cols
}

fn permutations(n: usize) -> Vec<Vec<usize>> {
    if n == 0 {
        return vec![Vec::new()];
    }
    let mut out = Vec::new();
    for p in permutations(n - 1) {
        for i in 0..=p.len() {
            let mut q = p.clone();
            q.insert(i, n - 1);
            out.push(q);
        }
    }
    out
}

/// Rule 1: equal after dropping duplicate rows, ignoring column names and order.
pub fn equal(gold: &Table, pred: &Table, ordered: bool) -> bool {
    let g = gold.dedup();
    let p = pred.dedup();
    if g.width != p.width || g.rows.len() != p.rows.len() {
        return false;
    }
    let gc = g.project(&canonical_order(&g));
    let pc = p.project(&canonical_order(&p));
    if same_rows(&gc, &pc, ordered) {
        return true;
    }
    // Columns with equal contents may pair up differently: try every order on small results.
    if p.width <= 6 {
        return permutations(p.width)
            .iter()
            .any(|perm| same_rows(&g, &p.project(perm), ordered));
    }
    false
}

/// Rule 2: every gold column is among the prediction's (as sorted columns), and the matched
/// columns then equal the gold result.
pub fn subset(gold: &Table, pred: &Table, ordered: bool) -> bool {
    if gold.width > pred.width || gold.rows.is_empty() {
        return false;
    }
    let gold_cols: Vec<Vec<Cell>> = (0..gold.width).map(|c| gold.sorted_column(c)).collect();
    let pred_cols: Vec<Vec<Cell>> = (0..pred.width).map(|c| pred.sorted_column(c)).collect();
    let mut chosen: Vec<usize> = Vec::new();
    assign(&gold_cols, &pred_cols, &mut chosen, &|cols: &[usize]| {
        equal(gold, &pred.project(cols), ordered)
    })
}

fn assign(
    gold: &[Vec<Cell>],
    pred: &[Vec<Cell>],
    chosen: &mut Vec<usize>,
    done: &dyn Fn(&[usize]) -> bool,
) -> bool {
    let g = chosen.len();
    if g == gold.len() {
        return done(chosen);
    }
    for p in 0..pred.len() {
        if chosen.contains(&p) || pred[p].cmp(&gold[g]) != Ordering::Equal {
            continue;
        }
        chosen.push(p);
        if assign(gold, pred, chosen, done) {
            return true;
        }
        chosen.pop();
    }
    false
}

/// Whether `pred` answers like `gold` under either rule. Two empty results are equal.
pub fn matches(gold: &Table, pred: &Table, ordered: bool) -> bool {
    if gold.rows.is_empty() && pred.rows.is_empty() {
        return true;
    }
    equal(gold, pred, ordered) || subset(gold, pred, ordered)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn t(rows: Value) -> Table {
        let rows: Vec<Vec<Value>> = serde_json::from_value(rows).unwrap();
        let width = rows.first().map_or(0, Vec::len);
        Table::from_json(width, &rows)
    }

    #[test]
    fn numbers_compare_numerically_and_nulls_equal() {
        assert!(matches(
            &t(json!([[3, null]])),
            &t(json!([[3.0, null]])),
            false
        ));
        assert!(matches(&t(json!([["12.50"]])), &t(json!([[12.5]])), false));
        assert!(matches(
            &t(json!([[0.333333]])),
            &t(json!([[0.3333334]])),
            false
        ));
        assert!(!matches(&t(json!([[0.333]])), &t(json!([[0.334]])), false));
        assert!(!matches(&t(json!([["3a"]])), &t(json!([[3]])), false));
    }

    #[test]
    fn columns_and_duplicates_do_not_matter_rows_order_only_when_asked() {
        let gold = t(json!([["a", 1], ["b", 2]]));
        assert!(matches(
            &gold,
            &t(json!([[2, "b"], [1, "a"], [1, "a"]])),
            false
        ));
        assert!(!matches(&gold, &t(json!([["b", 2], ["a", 1]])), true));
        assert!(matches(&gold, &t(json!([["a", 1], ["b", 2]])), true));
    }

    #[test]
    fn extra_prediction_columns_are_allowed() {
        let gold = t(json!([["a"], ["b"]]));
        assert!(matches(
            &gold,
            &t(json!([[1, "a", "x"], [2, "b", "y"]])),
            false
        ));
        assert!(!matches(&gold, &t(json!([[1, "a"], [2, "c"]])), false));
        // Ordered: the matched column must keep the gold order.
        let gold = t(json!([["b"], ["a"]]));
        assert!(matches(&gold, &t(json!([[2, "b"], [1, "a"]])), true));
        assert!(!matches(&gold, &t(json!([[1, "a"], [2, "b"]])), true));
    }

    #[test]
    fn paired_columns_must_pair_the_same_way() {
        let gold = t(json!([[1, 2], [2, 1]]));
        assert!(matches(&gold, &t(json!([[2, 1], [1, 2]])), false));
        assert!(!matches(
            &t(json!([[1, 1], [2, 2]])),
            &t(json!([[1, 2], [2, 1]])),
            false
        ));
    }

    #[test]
    fn order_words_are_whole_words() {
        assert!(order_matters("", "Sort them by name"));
        assert!(order_matters("order_by", "x"));
        assert!(!order_matters("", "List the orders"));
        assert!(!order_matters("", "ordered alphabetically"));
    }
}
