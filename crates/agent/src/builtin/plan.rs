//! From a read question to a query: decide what to compute (rows, a count, an aggregate, a
//! ranking), over which table, grouped and filtered how — or decline.
//!
//! Why it declines so readily: a wrong answer that looks right is worse than an honest "I
//! could not map these words". Every piece of the question must be used by some part of the
//! query; a leftover piece means the question says something the query would ignore.

use super::analyze::{Analysis, ColCand, Item, Piece, ValCand};
use super::lexicon::{Concept, Cue, DatePart, Dir, Op, comparative_concept, time_unit};
use super::query::{ColRef, Cond, Expr, Func, Lit, Meta, Plan, Query, alias_for, is_date, numeric};
use super::schema::{Model, Ty};
use crate::linking::graph::Step;
use std::collections::BTreeSet;

/// Why the generator declined.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Decline {
    /// The words it could not place.
    pub words: Vec<String>,
    /// A short reason.
    pub reason: String,
}

fn decline(words: Vec<String>, reason: impl Into<String>) -> Decline {
    Decline {
        words,
        reason: reason.into(),
    }
}

/// What is computed.
#[derive(Debug, Clone, PartialEq)]
enum Measure {
    /// Rows.
    Rows,
    /// COUNT(*) of a table's rows.
    Count(usize),
    /// COUNT(DISTINCT col).
    CountDistinct(Vec<ColCand>),
    /// An aggregate of a column.
    Agg(Func, Vec<ColCand>),
}

/// How rows are ranked.
#[derive(Debug, Clone, PartialEq)]
enum Rank {
    /// By a column of the subject (or its concept).
    Column(Vec<ColCand>),
    /// By the number of related rows of a table.
    CountOf(usize),
    /// By the sum of a column of related rows.
    SumOf(Vec<ColCand>),
    /// By a concept of the subject (longest, cheapest).
    Concept(Concept),
    /// By how often a column's values occur.
    Frequency(Vec<ColCand>),
}

/// What the rows are grouped by.
#[derive(Debug, Clone, PartialEq)]
enum Group {
    Table(usize),
    Column(Vec<ColCand>),
    Date(DatePart),
}

/// A filter before its column is resolved.
#[derive(Debug, Clone, PartialEq)]
enum Filter {
    /// Values of one column (a list when joined by "or"/"and"), and whether "by" came before.
    Values(Vec<Vec<ValCand>>, bool),
    Number {
        col: Option<Vec<ColCand>>,
        concept: Option<Concept>,
        op: Op,
        n: f64,
        unit: Option<f64>,
    },
    Between {
        col: Vec<ColCand>,
        lo: f64,
        hi: f64,
    },
    Year {
        col: Option<Vec<ColCand>>,
        op: Op,
        year: i64,
        month: Option<u32>,
    },
    Date {
        col: Option<Vec<ColCand>>,
        op: Op,
        date: String,
    },
    Literal {
        col: Option<Vec<ColCand>>,
        text: String,
    },
    ColumnIs {
        col: Vec<ColCand>,
        n: f64,
    },
    CountOf {
        table: usize,
        op: Op,
        n: f64,
    },
}

struct Planner<'m, 'a> {
    model: &'m Model<'a>,
    p: &'m [Piece],
    used: Vec<bool>,
}

fn is_year(n: f64) -> bool {
    n.fract() == 0.0 && (1900.0..=2100.0).contains(&n)
}

impl<'m, 'a> Planner<'m, 'a> {
    fn item(&self, i: usize) -> Option<&'m Item> {
        self.p.get(i).map(|p| &p.item)
    }

    fn cue(&self, i: usize) -> Option<Cue> {
        match self.item(i) {
            Some(Item::Cue(c)) => Some(*c),
            _ => None,
        }
    }

    fn use_(&mut self, i: usize) {
        if let Some(u) = self.used.get_mut(i) {
            *u = true;
        }
    }

    fn free(&self, i: usize) -> bool {
        i < self.p.len() && !self.used[i]
    }

    /// Column candidates at `i`: a column named, or "total" read as a column named total.
    fn col_at(&self, i: usize) -> Option<Vec<ColCand>> {
        match self.item(i) {
            Some(Item::Column(c)) => Some(c.clone()),
            Some(Item::Cue(Cue::Total)) => {
                let mut cands = Vec::new();
                for (ti, t) in self.model.tables.iter().enumerate() {
                    for (ci, c) in t.cols.iter().enumerate() {
                        if c.stems == ["total"] {
                            cands.push(ColCand {
                                t: ti,
                                c: ci,
                                strength: 3.0,
                            });
                        }
                    }
                }
                (!cands.is_empty()).then_some(cands)
            }
            _ => None,
        }
    }

    fn table_at(&self, i: usize) -> Option<usize> {
        match self.item(i) {
            Some(Item::Table { t, .. }) => Some(*t),
            _ => None,
        }
    }

    fn leftovers(&self) -> Vec<String> {
        (0..self.p.len())
            .filter(|&i| !self.used[i])
            .filter(|&i| !matches!(self.p[i].item, Item::Cue(Cue::And) | Item::Cue(Cue::By)))
            .map(|i| self.p[i].text.clone())
            .collect()
    }
}

/// Plans `a` over `model`.
pub(crate) fn plan(model: &Model, a: &Analysis) -> Result<Plan, Decline> {
    if !a.unsupported.is_empty() {
        return Err(decline(
            a.unsupported.clone(),
            "the question asks for something the built-in generator cannot express",
        ));
    }
    if !a.unmapped.is_empty() {
        return Err(decline(
            a.unmapped.clone(),
            "these words match no table, column or stored value",
        ));
    }
    let mut pl = Planner {
        model,
        p: &a.pieces,
        used: vec![false; a.pieces.len()],
    };
    let n = pl.p.len();
    if n == 0 {
        return Err(decline(Vec::new(), "the question is empty"));
    }
    let tables_in: Vec<usize> = (0..n)
        .filter(|&i| matches!(pl.item(i), Some(Item::Table { .. })))
        .collect();
    let data_pieces = (0..n).any(|i| {
        matches!(
            pl.item(i),
            Some(
                Item::Table { .. }
                    | Item::Column(_)
                    | Item::Value { .. }
                    | Item::Label
                    | Item::Literal(_)
            )
        )
    });
    // Catalog questions.
    if let Some(i) = (0..n).find(|&i| pl.cue(i) == Some(Cue::Tables))
        && !data_pieces
    {
        pl.use_(i);
        let rest = pl.leftovers();
        if rest.is_empty() {
            return Ok(Plan::Meta(Meta::ListTables));
        }
    }
    if let Some(i) = (0..n).find(|&i| pl.cue(i) == Some(Cue::Describe))
        && tables_in.len() == 1
        && let Some(Item::Table { t, .. }) = pl.item(tables_in[0])
    {
        let t = *t;
        let only = (0..n).all(|k| {
            k == i
                || k == tables_in[0]
                || matches!(pl.item(k), Some(Item::Cue(Cue::And | Cue::Describe)))
        });
        if only {
            return Ok(Plan::Meta(Meta::Describe(t)));
        }
    }
    build(&mut pl)
}

// Pieces are addressed by position throughout (a cue and the piece after it), so index loops
// read better than iterator chains here.
#[allow(clippy::too_many_lines, clippy::needless_range_loop)]
fn build(pl: &mut Planner) -> Result<Plan, Decline> {
    let n = pl.p.len();
    let mut measure = Measure::Rows;
    let mut measure_at: Option<usize> = None;
    let mut subject: Option<usize> = None;
    let mut group: Option<Group> = None;
    let mut rank: Option<(Rank, Dir)> = None;
    let mut limit: Option<u64> = None;
    let mut filters: Vec<Filter> = Vec::new();
    let mut order: Option<(Option<Vec<ColCand>>, Option<Dir>, bool)> = None; // (column, dir, by label)
    let mut distinct = false;
    let mut relation_tables: Vec<usize> = Vec::new();

    // The thing asked about, when named before a superlative ("which track has the highest…",
    // "which city has the highest-rated…"): then the question ranks rows.
    let first_entity = (0..n).find(|&i| {
        matches!(
            pl.item(i),
            Some(Item::Table { .. } | Item::Column(_) | Item::Label)
        )
    });
    let entity_first = |at: usize| first_entity.is_some_and(|t| t < at);

    // 1. Explicit direction and "alphabetically".
    let mut dir_hint: Option<Dir> = None;
    for i in 0..n {
        match pl.cue(i) {
            Some(Cue::Direction(d)) => {
                dir_hint = Some(d);
                pl.use_(i);
            }
            Some(Cue::Distinct) => {
                distinct = true;
                pl.use_(i);
            }
            _ => {}
        }
    }

    // 2. Limits: "top 5", "first 10", "5 longest", "10 customers".
    let mut top = false;
    for i in 0..n {
        if pl.cue(i) == Some(Cue::First) {
            pl.use_(i);
            if let Some(Item::Number(x)) = pl.item(i + 1)
                && x.fract() == 0.0
                && *x >= 1.0
            {
                limit = Some(*x as u64);
                pl.use_(i + 1);
            } else {
                return Err(decline(vec![pl.p[i].text.clone()], "first by what order?"));
            }
        }
        if pl.cue(i) == Some(Cue::Top) {
            top = true;
            pl.use_(i);
            if let Some(Item::Number(x)) = pl.item(i + 1)
                && x.fract() == 0.0
                && *x >= 1.0
            {
                limit = Some(*x as u64);
                pl.use_(i + 1);
            } else if limit.is_none() {
                limit = Some(1);
            }
        }
    }
    for i in 0..n {
        if let Some(Item::Number(x)) = pl.item(i)
            && pl.free(i)
            && x.fract() == 0.0
            && *x >= 1.0
            && !is_year(*x)
        {
            let next = pl.item(i + 1);
            let before_ranking = matches!(
                next,
                Some(Item::Cue(
                    Cue::Most
                        | Cue::Least
                        | Cue::Max
                        | Cue::Min
                        | Cue::Superlative(..)
                        | Cue::Common
                ))
            );
            let before_table = matches!(next, Some(Item::Table { .. }))
                && !matches!(
                    pl.item(i.wrapping_sub(1)),
                    Some(Item::Cue(Cue::Compare(_) | Cue::Between | Cue::And))
                );
            if before_ranking || before_table {
                limit = Some(*x as u64);
                pl.use_(i);
            }
        }
    }

    // 3. Grouping: "for each X", "per X", "by X" (with an aggregate).
    let has_agg = (0..n).any(|i| {
        matches!(
            pl.cue(i),
            Some(Cue::Count | Cue::Avg | Cue::Sum | Cue::Total | Cue::Max | Cue::Min)
        )
    });
    let has_each = (0..n).any(|i| pl.cue(i) == Some(Cue::Each));
    for i in 0..n {
        let cue = pl.cue(i);
        let is_group = cue == Some(Cue::Each)
            || (cue == Some(Cue::By)
                && has_agg
                && !has_each
                && !(0..i).any(|k| matches!(pl.cue(k), Some(Cue::Top | Cue::OrderBy)))
                && !matches!(pl.item(i + 1), Some(Item::Value { .. })));
        if !is_group || !pl.free(i) {
            continue;
        }
        let arg = match pl.item(i + 1) {
            Some(Item::Table { t, .. }) => Some(Group::Table(*t)),
            Some(Item::Column(c)) => Some(Group::Column(c.clone())),
            Some(Item::Cue(Cue::DatePart(d))) => Some(Group::Date(*d)),
            _ => None,
        };
        if let Some(g) = arg {
            if group.is_some() {
                return Err(decline(
                    vec![pl.p[i].text.clone()],
                    "grouping by more than one thing is not supported",
                ));
            }
            group = Some(g);
            pl.use_(i);
            pl.use_(i + 1);
        }
    }

    // 4. Rankings.
    for i in 0..n {
        if !pl.free(i) {
            continue;
        }
        match pl.cue(i) {
            Some(Cue::Superlative(concept, d)) => {
                pl.use_(i);
                if let Some(c) = pl
                    .col_at(i + 1)
                    .filter(|_| concept == Concept::Date || pl.free(i + 1))
                {
                    pl.use_(i + 1);
                    rank = Some((Rank::Column(c), d));
                } else {
                    rank = Some((Rank::Concept(concept), d));
                }
            }
            Some(Cue::Common) => {
                pl.use_(i);
                let Some(c) = pl.col_at(i + 1) else {
                    return Err(decline(
                        vec![pl.p[i].text.clone()],
                        "\"most common\" needs a column after it",
                    ));
                };
                pl.use_(i + 1);
                rank = Some((Rank::Frequency(c), Dir::Desc));
            }
            Some(cue @ (Cue::Most | Cue::Least)) => {
                let d = if cue == Cue::Most {
                    Dir::Desc
                } else {
                    Dir::Asc
                };
                match pl.item(i + 1) {
                    Some(Item::Table { t, .. }) => {
                        rank = Some((Rank::CountOf(*t), d));
                        relation_tables.push(*t);
                        pl.use_(i);
                        pl.use_(i + 1);
                    }
                    Some(Item::Column(c)) => {
                        rank = Some((Rank::Column(c.clone()), d));
                        pl.use_(i);
                        pl.use_(i + 1);
                    }
                    Some(Item::Cue(Cue::Count)) => {
                        if let Some(Item::Table { t, .. }) = pl.item(i + 2) {
                            rank = Some((Rank::CountOf(*t), d));
                            relation_tables.push(*t);
                            pl.use_(i);
                            pl.use_(i + 1);
                            pl.use_(i + 2);
                        }
                    }
                    _ => {}
                }
            }
            Some(cue @ (Cue::Max | Cue::Min)) if entity_first(i) || limit.is_some() => {
                let d = if cue == Cue::Max { Dir::Desc } else { Dir::Asc };
                if let Some(c) = pl.col_at(i + 1) {
                    rank = Some((Rank::Column(c), d));
                    pl.use_(i);
                    pl.use_(i + 1);
                    continue;
                }
                match pl.item(i + 1) {
                    Some(Item::Cue(Cue::Count)) => {
                        if let Some(Item::Table { t, .. }) = pl.item(i + 2) {
                            rank = Some((Rank::CountOf(*t), d));
                            relation_tables.push(*t);
                            pl.use_(i);
                            pl.use_(i + 1);
                            pl.use_(i + 2);
                        }
                    }
                    Some(Item::Cue(Cue::Total | Cue::Sum)) => {
                        if let Some(c) = pl.col_at(i + 2) {
                            rank = Some((Rank::SumOf(c), d));
                            pl.use_(i);
                            pl.use_(i + 1);
                            pl.use_(i + 2);
                        }
                    }
                    _ => {}
                }
            }
            Some(Cue::By) if limit.is_some() && rank.is_none() => {
                // "top 5 customers by total invoice amount", "top 3 albums by number of tracks".
                if let (Some(Cue::Count), Some(t)) = (pl.cue(i + 1), pl.table_at(i + 2)) {
                    rank = Some((Rank::CountOf(t), Dir::Desc));
                    relation_tables.push(t);
                    for k in i..=i + 2 {
                        pl.use_(k);
                    }
                    continue;
                }
                let mut k = i + 1;
                let summed = matches!(pl.cue(k), Some(Cue::Total | Cue::Sum))
                    && (pl.table_at(k + 1).is_some() || pl.col_at(k + 1).is_some());
                if summed {
                    k += 1;
                }
                let table = pl.table_at(k).filter(|_| pl.col_at(k + 1).is_some());
                if table.is_some() {
                    k += 1;
                }
                if let Some(mut c) = pl.col_at(k) {
                    if let Some(t) = table {
                        c.retain(|x| x.t == t);
                    }
                    rank = Some((
                        if summed {
                            Rank::SumOf(c)
                        } else {
                            Rank::Column(c)
                        },
                        Dir::Desc,
                    ));
                    for x in i..=k {
                        pl.use_(x);
                    }
                }
            }
            _ => {}
        }
    }

    // 5. Ordering ("ordered by X", "sorted in descending order", "alphabetically").
    for i in 0..n {
        if !pl.free(i) {
            continue;
        }
        match pl.cue(i) {
            Some(Cue::OrderBy) => {
                pl.use_(i);
                order = Some(order_arg(pl, i + 1, dir_hint)?);
            }
            Some(Cue::Alphabetical) => {
                pl.use_(i);
                order = Some((None, Some(Dir::Asc), true));
            }
            _ => {}
        }
    }

    // 6. Aggregates.
    for i in 0..n {
        if !pl.free(i) {
            continue;
        }
        let func = match pl.cue(i) {
            Some(Cue::Count) => Func::Count,
            Some(Cue::Avg) => Func::Avg,
            Some(Cue::Sum) => Func::Sum,
            Some(Cue::Total) => Func::Sum,
            Some(Cue::Max) => Func::Max,
            Some(Cue::Min) => Func::Min,
            _ => continue,
        };
        if measure != Measure::Rows {
            return Err(decline(
                vec![pl.p[i].text.clone()],
                "only one aggregate per question is supported",
            ));
        }
        let mut j = i + 1;
        let mut dist = false;
        if pl.cue(j) == Some(Cue::Distinct) {
            dist = true;
            j += 1;
        }
        let is_total = pl.cue(i) == Some(Cue::Total);
        if func == Func::Count {
            if let Some(t) = pl.table_at(j) {
                // "the total count of check-ins" where check-ins carry a `count` column: rows or
                // their sum?
                if pl.p[i].words.iter().any(|w| w == "count")
                    && pl.model.tables[t].cols.iter().any(|c| c.stems == ["count"])
                {
                    return Err(decline(
                        vec![pl.p[i].text.clone()],
                        "\"count\" is also a column of that table",
                    ));
                }
                measure = Measure::Count(t);
                subject = Some(t);
                pl.use_(j);
            } else if let Some(c) = pl.col_at(j) {
                if c.iter().all(|x| x.strength < 2.0) {
                    return Err(decline(
                        vec![pl.p[j].text.clone()],
                        "the counted column is only a partial match",
                    ));
                }
                // "the total number of credits": a sum of a quantity, not distinct values.
                if pl.p[i].words.iter().any(|w| w == "total") {
                    return Err(decline(
                        vec![pl.p[i].text.clone(), pl.p[j].text.clone()],
                        "a total of a column: the number of rows or the sum?",
                    ));
                }
                // "how many countries": distinct values; "the number of credits" is a quantity.
                if c.iter().any(|x| numeric(pl.model, (x.t, x.c))) {
                    return Err(decline(
                        vec![pl.p[j].text.clone()],
                        "a count of a numeric column: the number of rows or their sum?",
                    ));
                }
                measure = Measure::CountDistinct(c);
                pl.use_(j);
            } else {
                return Err(decline(
                    vec![pl.p[i].text.clone()],
                    "could not tell what to count",
                ));
            }
        } else if let (Some(t), Some(c)) = (pl.table_at(j), pl.col_at(j + 1)) {
            let in_t: Vec<ColCand> = c.into_iter().filter(|x| x.t == t).collect();
            if in_t.is_empty() {
                return Err(decline(
                    vec![pl.p[j + 1].text.clone()],
                    "that column is not in the table named before it",
                ));
            }
            measure = Measure::Agg(func, in_t);
            subject = Some(t);
            pl.use_(j);
            pl.use_(j + 1);
        } else if let Some(c) = pl.col_at(j) {
            if c.iter().all(|x| x.strength < 2.0) {
                return Err(decline(
                    vec![pl.p[j].text.clone()],
                    "the aggregated column is only a partial match",
                ));
            }
            measure = Measure::Agg(func, c);
            pl.use_(j);
        } else if let (true, Some(t)) = (is_total, pl.table_at(j)) {
            // "the total of all invoices": a column named like the cue.
            let cols: Vec<ColCand> = pl.model.tables[t]
                .cols
                .iter()
                .enumerate()
                .filter(|(_, c)| c.stems == ["total"] || c.stems == ["amount"])
                .map(|(c, _)| ColCand {
                    t,
                    c,
                    strength: 3.0,
                })
                .collect();
            if cols.len() != 1 {
                return Err(decline(vec![pl.p[i].text.clone()], "total of what?"));
            }
            measure = Measure::Agg(Func::Sum, cols);
            subject = Some(t);
            pl.use_(j);
        } else if is_total {
            // "total" alone is a column named total, if there is one.
            continue;
        } else if let (Func::Max | Func::Min, Some(_), Some((Some(col), d, false))) =
            (func, pl.table_at(j), order.clone())
        {
            // "the highest mountains …, ordered from highest to lowest altitude": a ranking by
            // the order column.
            let d = d.unwrap_or(if func == Func::Max {
                Dir::Desc
            } else {
                Dir::Asc
            });
            rank = Some((Rank::Column(col), d));
            order = None;
            pl.use_(i);
            continue;
        } else {
            return Err(decline(
                vec![pl.p[i].text.clone()],
                "could not tell what to aggregate",
            ));
        }
        if dist {
            pl.use_(i + 1);
            if let Measure::Count(t) = measure {
                let _ = t;
                return Err(decline(
                    vec![pl.p[i + 1].text.clone()],
                    "distinct of a whole table",
                ));
            }
        }
        pl.use_(i);
        measure_at = Some(i);
    }
    // Columns still free ("total" left over is the column named total).
    let cols_at: Vec<Option<Vec<ColCand>>> = (0..n)
        .map(|i| if pl.used[i] { None } else { pl.col_at(i) })
        .collect();

    // 7. Filters.
    // Values, with "X or Y" / "X and Y" of one column as a list.
    let mut i = 0;
    while i < n {
        if let Some(Item::Value { cands, .. }) = pl.item(i)
            && pl.free(i)
        {
            let mut cands = cands.clone();
            // A table or column named right next to the value says where it lives ("the album
            // Let There Be Rock", "country France").
            for k in [i.wrapping_sub(1), i + 1] {
                let touching =
                    k < n && (pl.p[k].end == pl.p[i].start || pl.p[i].end == pl.p[k].start);
                let near: Vec<(usize, Option<usize>)> = match pl.item(k) {
                    Some(Item::Table { t, .. }) if touching => vec![(*t, None)],
                    Some(Item::Column(cs)) if touching => {
                        cs.iter().map(|c| (c.t, Some(c.c))).collect()
                    }
                    _ => continue,
                };
                let fits = |v: &ValCand| {
                    near.iter()
                        .any(|(t, c)| v.t == *t && c.is_none_or(|c| c == v.c))
                };
                if pl.free(k) && cands.iter().any(fits) {
                    cands.retain(fits);
                    // A column naming the value's column is used up; a table stays available
                    // (it may be what the question is about).
                    if matches!(pl.item(k), Some(Item::Column(_))) {
                        pl.use_(k);
                    }
                    break;
                }
            }
            let by = pl.cue(i.wrapping_sub(1)) == Some(Cue::By);
            if by {
                pl.use_(i - 1);
            }
            let mut group_vals = vec![cands.clone()];
            pl.use_(i);
            let mut j = i + 1;
            while matches!(pl.cue(j), Some(Cue::Or | Cue::And))
                || pl.p.get(j).is_some_and(|p| p.text == ",")
            {
                match pl.item(j + 1) {
                    Some(Item::Value { cands: next, .. })
                        if next
                            .iter()
                            .any(|v| cands.iter().any(|c| c.t == v.t && c.c == v.c)) =>
                    {
                        group_vals.push(next.clone());
                        pl.use_(j);
                        pl.use_(j + 1);
                        j += 2;
                    }
                    _ => break,
                }
            }
            filters.push(Filter::Values(group_vals, by));
            i = j;
            continue;
        }
        i += 1;
    }
    let near_col = |pl: &Planner, i: usize| -> Option<(usize, Vec<ColCand>)> {
        // The column a comparison is about: just before it, or one piece further back.
        for k in [i.wrapping_sub(1), i.wrapping_sub(2)] {
            if k < n
                && pl.free(k)
                && let Some(c) = cols_at[k].clone()
            {
                return Some((k, c));
            }
        }
        None
    };
    for i in 0..n {
        if !pl.free(i) {
            continue;
        }
        match pl.cue(i) {
            Some(Cue::Compare(op)) => {
                let concept = comparative_concept(
                    &pl.p[i].words.iter().map(String::as_str).collect::<Vec<_>>(),
                );
                match pl.item(i + 1) {
                    Some(Item::Number(x)) => {
                        let x = *x;
                        pl.use_(i);
                        pl.use_(i + 1);
                        // A unit or a related table may follow.
                        let mut unit = None;
                        if let Some(next) = pl.p.get(i + 2)
                            && next.words.len() == 1
                            && let Some(u) = time_unit(&next.words[0])
                            && !matches!(next.item, Item::Table { .. })
                        {
                            unit = Some(u);
                            pl.use_(i + 2);
                        }
                        if let Some(Item::Table { t, .. }) = pl.item(i + 2)
                            && pl.free(i + 2)
                        {
                            pl.use_(i + 2);
                            filters.push(Filter::CountOf {
                                table: *t,
                                op,
                                n: x,
                            });
                            relation_tables.push(*t);
                            continue;
                        }
                        if let Some(c) = cols_at.get(i + 2).cloned().flatten()
                            && pl.free(i + 2)
                            && concept.is_none()
                        {
                            pl.use_(i + 2);
                            filters.push(Filter::Number {
                                col: Some(c),
                                concept,
                                op,
                                n: x,
                                unit,
                            });
                            continue;
                        }
                        let is_date_word = matches!(
                            pl.p[i].words.first().map(String::as_str),
                            Some("after" | "before" | "since" | "later" | "earlier" | "prior")
                        );
                        let col = if concept.is_some() {
                            None
                        } else {
                            near_col(pl, i).map(|(k, c)| {
                                pl.use_(k);
                                c
                            })
                        };
                        if is_year(x)
                            && (is_date_word
                                || col.as_ref().is_some_and(|c| {
                                    c.iter().any(|cc| {
                                        is_date(pl.model, (cc.t, cc.c))
                                            || pl.model.tables[cc.t].cols[cc.c].stems == ["year"]
                                    })
                                }))
                        {
                            filters.push(Filter::Year {
                                col,
                                op,
                                year: x as i64,
                                month: None,
                            });
                        } else {
                            if is_date_word {
                                return Err(decline(
                                    vec![pl.p[i].text.clone()],
                                    "a date comparison needs a year or a date",
                                ));
                            }
                            filters.push(Filter::Number {
                                col,
                                concept,
                                op,
                                n: x,
                                unit,
                            });
                        }
                    }
                    Some(Item::Date(d)) => {
                        let d = d.clone();
                        pl.use_(i);
                        pl.use_(i + 1);
                        let col = near_col(pl, i).map(|(k, c)| {
                            pl.use_(k);
                            c
                        });
                        filters.push(Filter::Date { col, op, date: d });
                    }
                    _ => {}
                }
            }
            Some(Cue::Between) => {
                if let (Some(Item::Number(lo)), Some(Item::Cue(Cue::And)), Some(Item::Number(hi))) =
                    (pl.item(i + 1), pl.item(i + 2), pl.item(i + 3))
                {
                    let (lo, hi) = (*lo, *hi);
                    if let Some((k, c)) = near_col(pl, i) {
                        for x in i..=i + 3 {
                            pl.use_(x);
                        }
                        pl.use_(k);
                        filters.push(Filter::Between { col: c, lo, hi });
                    }
                }
            }
            Some(Cue::InYear) => match (pl.item(i + 1), pl.item(i + 2)) {
                (Some(Item::Month(m)), Some(Item::Number(y))) if is_year(*y) => {
                    let (m, y) = (*m, *y);
                    pl.use_(i);
                    pl.use_(i + 1);
                    pl.use_(i + 2);
                    filters.push(Filter::Year {
                        col: None,
                        op: Op::Eq,
                        year: y as i64,
                        month: Some(m),
                    });
                }
                (Some(Item::Number(y)), _) if is_year(*y) => {
                    let y = *y;
                    pl.use_(i);
                    pl.use_(i + 1);
                    let col = near_col(pl, i)
                        .filter(|(_, c)| {
                            c.iter().any(|cc| {
                                is_date(pl.model, (cc.t, cc.c))
                                    || pl.model.tables[cc.t].cols[cc.c].stems == ["year"]
                            })
                        })
                        .map(|(k, c)| {
                            pl.use_(k);
                            c
                        });
                    filters.push(Filter::Year {
                        col,
                        op: Op::Eq,
                        year: y as i64,
                        month: None,
                    });
                }
                _ => {}
            },
            Some(Cue::DatePart(part)) => match (part, pl.item(i + 1), pl.item(i + 2)) {
                // "in the year 2020", "in the month of April 2021".
                (DatePart::Year, Some(Item::Number(y)), _) if is_year(*y) => {
                    let y = *y;
                    pl.use_(i);
                    pl.use_(i + 1);
                    filters.push(Filter::Year {
                        col: None,
                        op: Op::Eq,
                        year: y as i64,
                        month: None,
                    });
                }
                (DatePart::Month, Some(Item::Month(m)), Some(Item::Number(y))) if is_year(*y) => {
                    let (m, y) = (*m, *y);
                    for k in i..=i + 2 {
                        pl.use_(k);
                    }
                    filters.push(Filter::Year {
                        col: None,
                        op: Op::Eq,
                        year: y as i64,
                        month: Some(m),
                    });
                }
                _ => {}
            },
            Some(Cue::Named) => {
                if let Some(Item::Literal(text)) = pl.item(i + 1) {
                    let text = text.clone();
                    pl.use_(i);
                    pl.use_(i + 1);
                    filters.push(Filter::Literal { col: None, text });
                }
            }
            _ => {}
        }
    }
    // Column followed by a number ("paper ID 2", "year 2020") or a quoted literal.
    for i in 0..n {
        if !pl.free(i) {
            continue;
        }
        let Some(c) = cols_at[i].clone() else {
            continue;
        };
        match pl.item(i + 1) {
            Some(Item::Number(x)) if pl.free(i + 1) => {
                let x = *x;
                let keyish = c.iter().any(|cc| {
                    let col = &pl.model.tables[cc.t].cols[cc.c];
                    col.key
                        || col.stems == ["year"]
                        || col.ty == Ty::Int
                            && col
                                .stems
                                .iter()
                                .any(|w| w == "id" || w == "number" || w == "num")
                });
                if keyish {
                    pl.use_(i);
                    pl.use_(i + 1);
                    filters.push(Filter::ColumnIs { col: c, n: x });
                }
            }
            Some(Item::Literal(text)) if pl.free(i + 1) => {
                let text = text.clone();
                pl.use_(i);
                pl.use_(i + 1);
                filters.push(Filter::Literal { col: Some(c), text });
            }
            _ => {}
        }
    }

    if order.is_none()
        && let Some(d) = dir_hint
        && rank.is_none()
    {
        order = Some((None, Some(d), false));
    }

    // "top 2 countries by number of customers": a column of the counted table, ranked by how
    // often its values occur.
    if let Some((Rank::CountOf(r), d)) = rank.clone()
        && subject.is_none()
        && !(0..n).any(|i| pl.free(i) && pl.table_at(i).is_some_and(|t| t != r))
        && let Some(i) = (0..n).find(|&i| {
            pl.free(i)
                && cols_at[i]
                    .as_ref()
                    .is_some_and(|c| c.iter().any(|x| x.t == r))
        })
    {
        let c: Vec<ColCand> = cols_at[i]
            .clone()
            .unwrap_or_default()
            .into_iter()
            .filter(|x| x.t == r)
            .collect();
        pl.use_(i);
        rank = Some((Rank::Frequency(c), d));
        relation_tables.retain(|t| *t != r);
        subject = Some(r);
    }

    // "top 3 businesses in terms of review count": a ranking by the one numeric column named.
    if top && rank.is_none() && measure == Measure::Rows && group.is_none() {
        let numeric_cols: Vec<usize> = (0..n)
            .filter(|&i| {
                pl.free(i)
                    && cols_at[i]
                        .as_ref()
                        .is_some_and(|c| c.iter().any(|x| numeric(pl.model, (x.t, x.c))))
            })
            .collect();
        match numeric_cols.as_slice() {
            [i] => {
                rank = Some((
                    Rank::Column(cols_at[*i].clone().unwrap_or_default()),
                    Dir::Desc,
                ));
                pl.use_(*i);
            }
            _ => {
                return Err(decline(
                    vec!["top".into()],
                    "top by what? name the column to rank by",
                ));
            }
        }
    }

    // 8. Subject.
    let mut subject_piece: Option<usize> = None;
    let subject = match subject {
        Some(s) => s,
        None => {
            let from_table = (0..n).find_map(|i| match pl.item(i) {
                Some(Item::Table { t, .. })
                    if pl.free(i)
                        && !relation_tables.contains(t)
                        && group != Some(Group::Table(*t)) =>
                {
                    Some((i, *t))
                }
                _ => None,
            });
            match from_table {
                Some((i, t)) => {
                    pl.use_(i);
                    subject_piece = Some(i);
                    t
                }
                None => {
                    // From the measured column, then the projected or filtered ones.
                    let mut pool: Vec<Vec<ColCand>> = Vec::new();
                    if let Measure::Agg(_, c) | Measure::CountDistinct(c) = &measure {
                        pool.push(c.clone());
                    }
                    if let Some((Rank::Column(c), _)) = &rank {
                        pool.push(c.clone());
                    }
                    pool.extend(
                        (0..n)
                            .filter(|&i| pl.free(i))
                            .filter_map(|i| cols_at[i].clone()),
                    );
                    if let Some(Group::Column(c)) = &group {
                        pool.push(c.clone());
                    }
                    let from_values: Vec<usize> = filters
                        .iter()
                        .filter_map(|f| match f {
                            Filter::Values(v, _) => {
                                Some(v[0].iter().map(|x| x.t).collect::<BTreeSet<usize>>())
                            }
                            _ => None,
                        })
                        .flatten()
                        .collect();
                    subject_from(pl.model, &pool, &from_values).ok_or_else(|| {
                        decline(
                            Vec::new(),
                            "could not tell which table the question is about; name the table",
                        )
                    })?
                }
            }
        }
    };
    let _ = measure_at;
    // Tables said again (plurals repeated, "the Rock genre") are context, not leftovers, when the
    // query uses them.
    let mut mentioned: Vec<usize> = (0..n)
        .filter_map(|i| match pl.item(i) {
            Some(Item::Table { t, .. }) => Some(*t),
            _ => None,
        })
        .collect();
    mentioned.push(subject);
    let res = Resolver {
        model: pl.model,
        subject,
        mentioned: mentioned.clone(),
    };

    // 9. Resolve and assemble.
    let mut q = Query {
        base: subject,
        ..Default::default()
    };
    let mut needed: Vec<usize> = Vec::new();
    let mut conds: Vec<Cond> = Vec::new();
    let mut having: Option<(Expr, Op, f64)> = None;
    for f in &filters {
        match f {
            Filter::Values(groups, by) => {
                let first = res.value(&groups[0], *by).ok_or_else(|| decline(vec![groups[0][0].value.clone()], "the value is stored in several columns and the question does not say which"))?;
                let mut lits = vec![Lit::Str(first.1.clone())];
                for g in &groups[1..] {
                    let v = g.iter().find(|v| (v.t, v.c) == first.0).ok_or_else(|| {
                        decline(vec![], "values of different columns in one list")
                    })?;
                    lits.push(Lit::Str(v.value.clone()));
                }
                needed.push(first.0.0);
                conds.push(Cond::In(first.0, lits));
            }
            Filter::Number {
                col,
                concept,
                op,
                n,
                unit,
            } => {
                let c = match (col, concept) {
                    (Some(c), _) => res
                        .column(c)
                        .ok_or_else(|| decline(vec![], "could not place a compared column"))?,
                    (None, Some(k)) => res
                        .concept(*k)
                        .ok_or_else(|| decline(vec![], "no column carries that comparison"))?,
                    (None, None) => {
                        return Err(decline(vec![], "a number without the column it compares"));
                    }
                };
                if !numeric(pl.model, c) {
                    return Err(decline(
                        vec![pl.model.tables[c.0].cols[c.1].name.clone()],
                        "compared column is not a number",
                    ));
                }
                let value = match unit {
                    None => *n,
                    Some(u) => {
                        let stems = &pl.model.tables[c.0].cols[c.1].stems;
                        if stems.iter().any(|w| w == "millisecond") {
                            n * u
                        } else if stems.iter().any(|w| w == "second") {
                            n * u / 1000.0
                        } else if stems.iter().any(|w| w == "minut") {
                            n * u / 60_000.0
                        } else {
                            return Err(decline(vec![], "a unit the column does not say it uses"));
                        }
                    }
                };
                needed.push(c.0);
                conds.push(Cond::Cmp(c, *op, Lit::Num(value)));
            }
            Filter::Between { col, lo, hi } => {
                let c = res
                    .column(col)
                    .ok_or_else(|| decline(vec![], "could not place a compared column"))?;
                needed.push(c.0);
                conds.push(Cond::Between(c, Lit::Num(*lo), Lit::Num(*hi)));
            }
            Filter::Year {
                col,
                op,
                year,
                month,
            } => {
                let c = match col {
                    Some(c) => res.column(c),
                    None => res.year_column().or_else(|| res.date_column()),
                }
                .ok_or_else(|| {
                    decline(
                        vec![year.to_string()],
                        "no single date column to compare the year with",
                    )
                })?;
                needed.push(c.0);
                let int_year =
                    pl.model.tables[c.0].cols[c.1].stems == ["year"] && numeric(pl.model, c);
                if int_year {
                    if month.is_some() {
                        return Err(decline(vec![], "a month on a year column"));
                    }
                    conds.push(Cond::Cmp(c, *op, Lit::Num(*year as f64)));
                } else {
                    let (lo, hi) = match month {
                        Some(m) => {
                            let (ny, nm) = if *m == 12 {
                                (year + 1, 1)
                            } else {
                                (*year, m + 1)
                            };
                            (
                                format!("{year:04}-{m:02}-01"),
                                format!("{ny:04}-{nm:02}-01"),
                            )
                        }
                        None => (format!("{year:04}-01-01"), format!("{:04}-01-01", year + 1)),
                    };
                    match op {
                        Op::Eq => conds.push(Cond::Range(c, Lit::Str(lo), Lit::Str(hi))),
                        Op::Gt => conds.push(Cond::Cmp(c, Op::Ge, Lit::Str(hi))),
                        Op::Ge => conds.push(Cond::Cmp(c, Op::Ge, Lit::Str(lo))),
                        Op::Lt => conds.push(Cond::Cmp(c, Op::Lt, Lit::Str(lo))),
                        Op::Le => conds.push(Cond::Cmp(c, Op::Lt, Lit::Str(hi))),
                    }
                }
            }
            Filter::Date { col, op, date } => {
                let c = match col {
                    Some(c) => res.column(c),
                    None => res.date_column(),
                }
                .ok_or_else(|| {
                    decline(vec![date.clone()], "no single date column to compare with")
                })?;
                needed.push(c.0);
                conds.push(Cond::Cmp(c, *op, Lit::Str(date.clone())));
            }
            Filter::Literal { col, text } => {
                let c = match col {
                    Some(c) => res.column(c),
                    None => res.label_single(),
                }
                .ok_or_else(|| {
                    decline(
                        vec![text.clone()],
                        "could not tell which column holds the quoted text",
                    )
                })?;
                // Sampled in full and not there: the data spells it differently.
                if let Some(p) = pl.model.values.and_then(|v| v.profile(c.0, c.1))
                    && !p.truncated
                    && !p.values.iter().any(|v| v.eq_ignore_ascii_case(text))
                {
                    return Err(decline(
                        vec![text.clone()],
                        format!(
                            "no {} is stored as that",
                            pl.model.tables[c.0].cols[c.1].name
                        ),
                    ));
                }
                needed.push(c.0);
                conds.push(Cond::In(c, vec![Lit::Str(text.clone())]));
            }
            Filter::ColumnIs { col, n } => {
                let c = res
                    .column(col)
                    .ok_or_else(|| decline(vec![], "could not place a column"))?;
                needed.push(c.0);
                let lit = if numeric(pl.model, c) {
                    Lit::Num(*n)
                } else {
                    Lit::Str(format!("{}", *n as i64))
                };
                conds.push(Cond::In(c, vec![lit]));
            }
            Filter::CountOf { table, op, n } => {
                if having.is_some() {
                    return Err(decline(vec![], "two count conditions"));
                }
                needed.push(*table);
                having = Some((Expr::Agg(Func::Count, None), *op, *n));
            }
        }
    }
    q.conds = conds;

    // Projection from the columns and labels left.
    let mut projection: Vec<ColRef> = Vec::new();
    let mut first_projection_piece: Option<usize> = None;
    for i in 0..n {
        if !pl.free(i) {
            continue;
        }
        if first_projection_piece.is_none()
            && matches!(pl.item(i), Some(Item::Column(_) | Item::Label))
        {
            first_projection_piece = Some(i);
        }
        match pl.item(i) {
            Some(Item::Column(_)) => {
                let c = cols_at[i].clone().unwrap_or_default();
                let c = res.column(&c).ok_or_else(|| {
                    decline(
                        vec![pl.p[i].text.clone()],
                        "could not tell which table this column belongs to",
                    )
                })?;
                pl.use_(i);
                projection.push(c);
            }
            Some(Item::Label) => {
                // The label of the table named next to it, else of the subject.
                let t = match (pl.item(i + 1), pl.item(i.wrapping_sub(1)), &group) {
                    (Some(Item::Table { t, .. }), _, _) | (_, Some(Item::Table { t, .. }), _) => *t,
                    (_, _, Some(Group::Table(g))) => {
                        // "the name and average rating for each business": the group's name,
                        // which the grouped result shows anyway.
                        pl.use_(i);
                        let _ = g;
                        continue;
                    }
                    _ => subject,
                };
                let label = &pl.model.tables[t].label;
                if label.is_empty() {
                    return Err(decline(
                        vec![pl.p[i].text.clone()],
                        "that table has no name column",
                    ));
                }
                pl.use_(i);
                projection.extend(label.iter().map(|&c| (t, c)));
            }
            Some(Item::Cue(Cue::Total)) => {
                if let Some(c) = cols_at[i].clone().and_then(|c| res.column(&c)) {
                    pl.use_(i);
                    projection.push(c);
                }
            }
            _ => {}
        }
    }
    // Flags (`has_final_exam`, `is_open`) named after "have"/"with" are conditions, not output.
    if let Some(&(t, c)) = projection.iter().find(|&&(t, c)| {
        let n = model_name(pl.model, t, c);
        n.starts_with("has_")
            || n.starts_with("is_")
            || n.starts_with("has") && n.len() > 3 && n.as_bytes()[3].is_ascii_uppercase()
    }) {
        return Err(decline(
            vec![pl.model.tables[t].cols[c].name.clone()],
            "a yes/no column: is it a condition or an output?",
        ));
    }
    // "the cities in X and their population": the rows asked for come with their names.
    if measure == Measure::Rows
        && rank.is_none()
        && !projection.is_empty()
        && let Some(si) = subject_piece
        && first_projection_piece.is_some_and(|p| si < p)
    {
        let label = &pl.model.tables[subject].label;
        let has_key = projection.iter().any(|&(t, c)| {
            t == subject && (label.contains(&c) || pl.model.tables[subject].pk.contains(&c))
        });
        if !has_key && !label.is_empty() {
            let mut with_label: Vec<ColRef> = label.iter().map(|&c| (subject, c)).collect();
            with_label.extend(projection.iter().copied());
            projection = with_label;
        }
    }
    for &(t, _) in &projection {
        needed.push(t);
    }
    // Tables named again as context of a value or column already used.
    for i in 0..n {
        if let Some(Item::Table { t, .. }) = pl.item(i)
            && pl.free(i)
            && (needed.contains(t) || *t == subject || relation_tables.contains(t))
        {
            pl.use_(i);
        }
    }
    // Date-part words used as a value's context ("in the year 2012" is handled above).
    let left = pl.leftovers();
    if !left.is_empty() {
        return Err(decline(
            left,
            "the built-in generator could not tell what these words ask for",
        ));
    }

    // Measure and shape.
    let model = pl.model;
    // Grouping keys: the name first (groups then come in name order, as most hand-written
    // queries group), then what identifies the row.
    let label_or_pk = |t: usize| -> Vec<ColRef> {
        let tb = &model.tables[t];
        let mut cols: Vec<ColRef> = tb.label.iter().map(|&c| (t, c)).collect();
        for &c in &tb.ident {
            if !cols.contains(&(t, c)) {
                cols.push((t, c));
            }
        }
        cols
    };
    let display = |t: usize| -> Vec<ColRef> {
        let tb = &model.tables[t];
        // The name, and what identifies the row when that is not the name itself.
        let mut cols: Vec<ColRef> = tb.label.iter().map(|&c| (t, c)).collect();
        for &c in &tb.ident {
            if !cols.contains(&(t, c)) {
                cols.push((t, c));
            }
        }
        cols
    };
    // Ranked rows come with what identifies them ("which airports …? show the connect time").
    let with_identity = |proj: &[ColRef]| -> Vec<ColRef> {
        let tb = &model.tables[subject];
        if proj
            .iter()
            .any(|&(t, c)| t == subject && (tb.label.contains(&c) || tb.ident.contains(&c)))
        {
            return proj.to_vec();
        }
        let mut out: Vec<ColRef> = tb
            .ident
            .iter()
            .chain(tb.label.iter())
            .map(|&c| (subject, c))
            .collect();
        out.dedup();
        for &c in proj {
            if !out.contains(&c) {
                out.push(c);
            }
        }
        out
    };
    let measure_expr = match &measure {
        Measure::Rows => None,
        Measure::Count(t) => {
            needed.push(*t);
            Some(Expr::Agg(Func::Count, None))
        }
        Measure::CountDistinct(c) => {
            let c = res
                .column(c)
                .ok_or_else(|| decline(vec![], "could not place the counted column"))?;
            needed.push(c.0);
            Some(Expr::Agg(Func::CountDistinct, Some(c)))
        }
        Measure::Agg(f, c) => {
            let c = res
                .column(c)
                .ok_or_else(|| decline(vec![], "could not place the aggregated column"))?;
            if *f != Func::Min && *f != Func::Max && !numeric(model, c) {
                return Err(decline(
                    vec![model.tables[c.0].cols[c.1].name.clone()],
                    "that column is not a number",
                ));
            }
            needed.push(c.0);
            Some(Expr::Agg(*f, Some(c)))
        }
    };
    let group_exprs: Vec<Expr> = match &group {
        None => Vec::new(),
        Some(Group::Table(t)) if model.graph.path(subject, *t, model.tables.len()).is_none() => {
            // "lakes in each state" without a join to `state`: the subject's own state column.
            let own: Vec<usize> = (0..model.tables[subject].cols.len())
                .filter(|&c| {
                    super::schema::meet(
                        &model.tables[*t]
                            .stems
                            .iter()
                            .map(String::as_str)
                            .collect::<Vec<_>>(),
                        &model.tables[subject].cols[c].forms,
                    )
                    .is_some()
                })
                .collect();
            if own.len() != 1 {
                return Err(decline(
                    vec![model.tables[*t].name.clone()],
                    format!(
                        "no join path from {} to {}",
                        model.tables[subject].name, model.tables[*t].name
                    ),
                ));
            }
            group = Some(Group::Column(vec![ColCand {
                t: subject,
                c: own[0],
                strength: 2.0,
            }]));
            vec![Expr::Col((subject, own[0]))]
        }
        Some(Group::Table(t)) if direct_name_key(model, subject, *t).is_some() => {
            // "lakes in each state" where `lake.state_name` is the state's name: group by it
            // without a join (rows whose state is missing from `state` still count).
            let c = direct_name_key(model, subject, *t).unwrap_or_default();
            group = Some(Group::Column(vec![ColCand {
                t: subject,
                c,
                strength: 3.0,
            }]));
            vec![Expr::Col((subject, c))]
        }
        Some(Group::Table(t)) => {
            needed.push(*t);
            let cols = label_or_pk(*t);
            if cols.is_empty() {
                return Err(decline(
                    vec![model.tables[*t].name.clone()],
                    "that table has no key or name to group by",
                ));
            }
            cols.into_iter().map(Expr::Col).collect()
        }
        Some(Group::Column(c)) => {
            let c = res
                .column(c)
                .ok_or_else(|| decline(vec![], "could not place the grouping column"))?;
            needed.push(c.0);
            vec![Expr::Col(c)]
        }
        Some(Group::Date(part)) => {
            let named = model.named_column(
                subject,
                if *part == DatePart::Year {
                    "year"
                } else {
                    "month"
                },
            );
            match named {
                Some(c) => vec![Expr::Col((subject, c))],
                None => {
                    let c = res
                        .date_column()
                        .ok_or_else(|| decline(vec![], "no single date column to group by"))?;
                    vec![Expr::DatePart(*part, c)]
                }
            }
        }
    };

    // Joins.
    needed.extend(relation_tables.iter().copied());
    needed.sort_unstable();
    needed.dedup();
    let (joins, fanout) = join_tree(model, subject, &needed)?;
    q.joins = joins;
    if let Some(Expr::Agg(Func::Avg, Some(c))) = &measure_expr
        && c.0 != subject
        && fanout
    {
        // "average rating of businesses" with ratings on reviews: per review or per business?
        return Err(decline(
            vec![model.tables[c.0].cols[c.1].name.clone()],
            "an average over related rows is ambiguous (per row or per group?)",
        ));
    }

    // Joins that only reach the group table repeat a row once per group it belongs to, which
    // is what "per author" means.
    let group_only_join = match &group {
        Some(Group::Table(g)) => match model.graph.path(subject, *g, model.tables.len()) {
            Some((steps, _)) => needed
                .iter()
                .all(|t| *t == subject || steps.iter().any(|s| s.to == *t)),
            None => false,
        },
        _ => false,
    };
    // Assemble by shape.
    let group_display: Vec<Expr> = match &group {
        Some(Group::Table(t)) => display(*t).into_iter().map(Expr::Col).collect(),
        _ => group_exprs.clone(),
    };
    match (&measure_expr, &rank) {
        (Some(m), None) => {
            if having.is_some() && group.is_none() {
                return Err(decline(
                    vec![],
                    "a count of rows that themselves meet a count condition",
                ));
            }
            let m = match m {
                Expr::Agg(Func::Count, None) if fanout => {
                    let pk = &model.tables[subject].ident;
                    if pk.len() != 1 {
                        return Err(decline(
                            vec![],
                            "counting across a join needs a single-column key",
                        ));
                    }
                    Expr::Agg(Func::CountDistinct, Some((subject, pk[0])))
                }
                Expr::Agg(_, Some(c)) if fanout && c.0 == subject && !group_only_join => {
                    return Err(decline(
                        vec![],
                        "the joins would repeat rows of the aggregated table",
                    ));
                }
                other => other.clone(),
            };
            for e in &group_display {
                q.select.push((e.clone(), None));
            }
            q.select.push((m.clone(), alias_for(model, &m)));
            q.group = group_exprs.clone();
            if !q.group.is_empty() {
                for e in &group_display {
                    if !q.group.contains(e) {
                        q.group.push(e.clone());
                    }
                }
            }
            if let Some((col, d, by_label)) = &order {
                let e = if *by_label {
                    group_display.first().cloned()
                } else if let Some(c) = col {
                    res.column(c).map(Expr::Col)
                } else {
                    Some(m.clone())
                };
                let e = e.ok_or_else(|| decline(vec![], "could not place the order column"))?;
                calendar_check(model, &e)?;
                q.order.push((e, d.unwrap_or(Dir::Asc)));
            }
            if group.is_none() && (order.is_some() || limit.is_some()) {
                return Err(decline(vec![], "ordering a single aggregate"));
            }
            q.limit = limit;
            q.having = having;
        }
        (None, Some((r, d))) => {
            if group.is_some() {
                return Err(decline(vec![], "a ranking inside groups"));
            }
            let plural = first_entity.map(|i| match pl.item(i) {
                Some(Item::Table { plural, .. }) => *plural,
                _ => pl.p[i]
                    .words
                    .last()
                    .is_some_and(|w| w.ends_with('s') && crate::linking::words::stem(w) != *w),
            });
            let n = match (limit, plural) {
                (Some(n), _) => Some(n),
                (None, Some(true)) if order.is_some() || dir_hint.is_some() => None,
                (None, Some(true)) => {
                    return Err(decline(
                        vec![],
                        "how many of them? say \"top 5\" or ask for one",
                    ));
                }
                (None, _) => Some(1),
            };
            // A column of a related table ranks by its sum over the related rows ("customers by
            // invoice total"); a sum over the subject's own column is just that column.
            let r = match r {
                Rank::Column(c) if res.column(c).is_some_and(|x| x.0 != subject) => {
                    Rank::SumOf(c.clone())
                }
                Rank::SumOf(c) if res.column(c).is_some_and(|x| x.0 == subject) => {
                    Rank::Column(c.clone())
                }
                other => other.clone(),
            };
            match &r {
                Rank::Column(c) => {
                    let c = res
                        .column(c)
                        .ok_or_else(|| decline(vec![], "could not place the ranking column"))?;
                    if c.0 != subject {
                        return Err(decline(
                            vec![model.tables[c.0].cols[c.1].name.clone()],
                            "ranking by a column of another table",
                        ));
                    }
                    let mut sel: Vec<Expr> = if projection.is_empty() {
                        vec![Expr::Star(subject)]
                    } else {
                        with_identity(&projection)
                            .into_iter()
                            .map(Expr::Col)
                            .collect()
                    };
                    if !projection.is_empty() && !projection.contains(&c) {
                        sel.push(Expr::Col(c));
                    }
                    q.select = sel.into_iter().map(|e| (e, None)).collect();
                    q.distinct = fanout;
                    if fanout {
                        return Err(decline(vec![], "ranking rows across a one-to-many join"));
                    }
                    q.order.push((Expr::Col(c), *d));
                }
                Rank::Concept(k) => {
                    let c = res.concept(*k).ok_or_else(|| {
                        decline(vec![], "no column says which is longest/cheapest/newest")
                    })?;
                    if fanout {
                        return Err(decline(vec![], "ranking rows across a one-to-many join"));
                    }
                    q.select = if projection.is_empty() {
                        vec![(Expr::Star(subject), None)]
                    } else {
                        with_identity(&projection)
                            .into_iter()
                            .map(|c| (Expr::Col(c), None))
                            .collect()
                    };
                    if !projection.is_empty() && !projection.contains(&c) {
                        q.select.push((Expr::Col(c), None));
                    }
                    q.order.push((Expr::Col(c), *d));
                }
                Rank::CountOf(_) | Rank::SumOf(_) => {
                    let metric = match &r {
                        Rank::SumOf(c) => {
                            let c = res.column(c).ok_or_else(|| {
                                decline(vec![], "could not place the summed column")
                            })?;
                            if !numeric(model, c) {
                                return Err(decline(
                                    vec![],
                                    "summing a column that is not a number",
                                ));
                            }
                            // The summed table must be reachable.
                            let mut need = needed.clone();
                            need.push(c.0);
                            need.sort_unstable();
                            need.dedup();
                            let (joins, _) = join_tree(model, subject, &need)?;
                            q.joins = joins;
                            Expr::Agg(Func::Sum, Some(c))
                        }
                        _ => Expr::Agg(Func::Count, None),
                    };
                    // "which street has the most restaurants": the street column is the entity.
                    let tb = &model.tables[subject];
                    let by_column = !projection.is_empty()
                        && projection.iter().all(|&(t, c)| {
                            t == subject && !tb.label.contains(&c) && !tb.pk.contains(&c)
                        });
                    let keys = if by_column {
                        projection.clone()
                    } else {
                        label_or_pk(subject)
                    };
                    if keys.is_empty() {
                        return Err(decline(vec![], "the ranked table has no key or name"));
                    }
                    let shown: Vec<Expr> = if projection.is_empty() {
                        display(subject).into_iter().map(Expr::Col).collect()
                    } else {
                        projection.iter().map(|&c| Expr::Col(c)).collect()
                    };
                    for e in &shown {
                        q.select.push((e.clone(), None));
                    }
                    q.select.push((metric.clone(), alias_for(model, &metric)));
                    q.group = keys.into_iter().map(Expr::Col).collect();
                    for e in &shown {
                        if !q.group.contains(e) {
                            q.group.push(e.clone());
                        }
                    }
                    q.order.push((metric, *d));
                }
                Rank::Frequency(c) => {
                    let c = res
                        .column(c)
                        .ok_or_else(|| decline(vec![], "could not place the column"))?;
                    q.select = vec![
                        (Expr::Col(c), None),
                        (Expr::Agg(Func::Count, None), Some("count".into())),
                    ];
                    q.group = vec![Expr::Col(c)];
                    q.order.push((Expr::Agg(Func::Count, None), *d));
                }
            }
            q.limit = n;
            q.having = having;
        }
        (None, None) => {
            if group.is_some() {
                return Err(decline(vec![], "grouping without anything to compute"));
            }
            if having.is_some() {
                let keys = label_or_pk(subject);
                if keys.is_empty() {
                    return Err(decline(vec![], "the table has no key or name"));
                }
                let shown: Vec<Expr> = if projection.is_empty() {
                    display(subject).into_iter().map(Expr::Col).collect()
                } else {
                    projection.iter().map(|&c| Expr::Col(c)).collect()
                };
                q.select = shown.iter().map(|e| (e.clone(), None)).collect();
                q.select
                    .push((Expr::Agg(Func::Count, None), Some("count".into())));
                q.group = keys.into_iter().map(Expr::Col).collect();
                for e in &shown {
                    if !q.group.contains(e) {
                        q.group.push(e.clone());
                    }
                }
                q.having = having;
            } else if projection.is_empty() {
                q.select = vec![(Expr::Star(subject), None)];
                q.distinct = fanout;
            } else {
                let all_plain = projection.iter().all(|&(t, c)| {
                    !model.tables[t].label.contains(&c) && !model.tables[t].pk.contains(&c)
                });
                q.select = projection.iter().map(|&c| (Expr::Col(c), None)).collect();
                q.distinct = distinct || fanout || all_plain;
            }
            if let Some((col, d, by_label)) = &order {
                let e = if *by_label {
                    display(subject).first().map(|&c| Expr::Col(c))
                } else if let Some(c) = col {
                    res.column(c).map(Expr::Col)
                } else {
                    None
                };
                let e = e.ok_or_else(|| decline(vec![], "could not tell what to order by"))?;
                calendar_check(model, &e)?;
                q.order.push((e, d.unwrap_or(Dir::Asc)));
            }
            q.limit = limit;
        }
        (Some(_), Some(_)) => {
            return Err(decline(
                vec![],
                "an aggregate and a ranking in one question",
            ));
        }
    }
    if distinct && matches!(measure, Measure::Rows) && rank.is_none() {
        q.distinct = true;
    }
    Ok(Plan::Query(q))
}

/// The subject's column that references `t`'s name directly (one edge, to `t`'s first label
/// column), if any.
fn direct_name_key(model: &Model, subject: usize, t: usize) -> Option<usize> {
    let label = *model.tables[t].label.first()?;
    model
        .graph
        .edges
        .iter()
        .find(|e| e.from == subject && e.to == t && e.to_cols == [label] && e.from_cols.len() == 1)
        .map(|e| e.from_cols[0])
}

/// Month or weekday names sort alphabetically, not in calendar order: refuse to order by them.
fn calendar_check(model: &Model, e: &Expr) -> Result<(), Decline> {
    if let Expr::Col((t, c)) = e {
        let col = &model.tables[*t].cols[*c];
        if col.ty == Ty::Text
            && matches!(col.stems.as_slice(), [w] if w == "month" || w == "day" || w == "weekday")
        {
            return Err(decline(
                vec![col.name.clone()],
                "month or day names do not sort in calendar order",
            ));
        }
    }
    Ok(())
}

fn model_name(model: &Model, t: usize, c: usize) -> String {
    model.tables[t].cols[c].name.to_lowercase()
}

/// What "ordered by …" orders by: a column, the label, or (`None`) the measure or ranking.
type OrderArg = (Option<Vec<ColCand>>, Option<Dir>, bool);

fn order_arg(pl: &mut Planner, at: usize, dir_hint: Option<Dir>) -> Result<OrderArg, Decline> {
    let mut k = at;
    if pl.cue(k) == Some(Cue::By) && pl.free(k) {
        pl.use_(k);
        k += 1;
    }
    // "by the highest average rating": the direction word, then the measure.
    let mut dir = dir_hint;
    if let Some(c @ (Cue::Max | Cue::Min)) = pl.cue(k).filter(|_| pl.free(k)) {
        dir = Some(if c == Cue::Max { Dir::Desc } else { Dir::Asc });
        pl.use_(k);
        k += 1;
    }
    match pl.item(k) {
        Some(Item::Cue(Cue::Count)) if pl.free(k) => {
            pl.use_(k);
            if pl.table_at(k + 1).is_some() || pl.col_at(k + 1).is_some() {
                pl.use_(k + 1);
            }
            Ok((None, dir.or(Some(Dir::Desc)), false))
        }
        Some(Item::Cue(Cue::Avg | Cue::Sum | Cue::Total))
            if pl.free(k) && pl.col_at(k + 1).is_some() =>
        {
            pl.use_(k);
            pl.use_(k + 1);
            Ok((None, dir, false))
        }
        Some(Item::Label) if pl.free(k) => {
            pl.use_(k);
            Ok((None, dir, true))
        }
        Some(Item::Table { t, .. })
            if pl.free(k) && matches!(pl.item(k + 1), Some(Item::Column(_) | Item::Label)) =>
        {
            let t = *t;
            pl.use_(k);
            pl.use_(k + 1);
            match pl.col_at(k + 1) {
                Some(c) => Ok((
                    Some(c.into_iter().filter(|x| x.t == t).collect()),
                    dir,
                    false,
                )),
                None => Ok((None, dir, true)),
            }
        }
        _ if pl.free(k) && pl.col_at(k).is_some() => {
            pl.use_(k);
            Ok((pl.col_at(k), dir, false))
        }
        Some(Item::Cue(Cue::Direction(d))) => Ok((None, Some(*d), false)),
        Some(Item::Cue(Cue::DatePart(_))) if pl.free(k) => {
            // "ordered by the month": the grouped date part.
            pl.use_(k);
            Ok((None, dir, true))
        }
        Some(Item::Cue(Cue::Alphabetical)) => {
            pl.use_(k);
            Ok((None, Some(Dir::Asc), true))
        }
        None => Ok((None, dir, false)),
        Some(_) if dir.is_some() => Ok((None, dir, false)),
        Some(_) => Err(decline(
            vec![pl.p[at.saturating_sub(1)].text.clone()],
            "could not tell what to order by",
        )),
    }
}

/// The table a question is about when it names none: the one table all the pooled columns (or
/// values) point to most strongly.
fn subject_from(model: &Model, pool: &[Vec<ColCand>], value_tables: &[usize]) -> Option<usize> {
    if let Some(first) = pool.first() {
        let best = first.iter().map(|c| c.strength).fold(0.0f32, f32::max);
        let tables: BTreeSet<usize> = first
            .iter()
            .filter(|c| c.strength >= best)
            .map(|c| c.t)
            .collect();
        if tables.len() == 1 {
            return tables.into_iter().next();
        }
        // Several tables have it: the one the other columns and the values agree on.
        let agreed: Vec<usize> = tables
            .into_iter()
            .filter(|t| pool[1..].iter().all(|p| p.iter().any(|c| c.t == *t)))
            .filter(|t| value_tables.is_empty() || value_tables.contains(t))
            .collect();
        if agreed.len() == 1 && (pool.len() > 1 || !value_tables.is_empty()) {
            return Some(agreed[0]);
        }
        let _ = model;
        return None;
    }
    let set: BTreeSet<usize> = value_tables.iter().copied().collect();
    if set.len() == 1 {
        set.into_iter().next()
    } else {
        None
    }
}

/// Resolves candidate columns against the subject and the tables the question names.
struct Resolver<'m, 'a> {
    model: &'m Model<'a>,
    subject: usize,
    mentioned: Vec<usize>,
}

impl Resolver<'_, '_> {
    fn distance(&self, t: usize) -> Option<usize> {
        self.model
            .graph
            .path(self.subject, t, self.model.tables.len())
            .map(|(p, _)| p.len())
    }

    fn score(&self, t: usize, strength: f32) -> Option<f32> {
        let d = self.distance(t)?;
        let mut s = strength;
        if t == self.subject {
            s += 10.0;
        } else if self.mentioned.contains(&t) {
            s += 5.0;
        }
        Some(s - 2.0 * d as f32)
    }

    fn column(&self, cands: &[ColCand]) -> Option<ColRef> {
        let mut scored: Vec<(f32, ColRef)> = cands
            .iter()
            .filter_map(|c| self.score(c.t, c.strength).map(|s| (s, (c.t, c.c))))
            .collect();
        scored.sort_by(|a, b| b.0.total_cmp(&a.0));
        scored.dedup_by(|a, b| a.1 == b.1);
        match scored.as_slice() {
            [] => None,
            [(_, c)] => Some(*c),
            [(a, c), (b, _), ..] if a > b => Some(*c),
            _ => None,
        }
    }

    fn value(&self, cands: &[ValCand], by: bool) -> Option<(ColRef, String)> {
        let mut scored: Vec<(f32, ColRef, &str)> = cands
            .iter()
            .filter_map(|v| {
                let label = self.model.tables[v.t].label.contains(&v.c);
                // "albums by Queen": the name of a related row, not a column of the subject.
                let bonus = match (by, label, v.t == self.subject) {
                    (true, true, false) => 15.0,
                    (_, true, _) => 0.5,
                    _ => 0.0,
                };
                let up = self.upward(v.t);
                self.score(v.t, 3.0).map(|s| {
                    (
                        s + bonus + if up { 1.0 } else { 0.0 },
                        (v.t, v.c),
                        v.value.as_str(),
                    )
                })
            })
            .collect();
        scored.sort_by(|a, b| b.0.total_cmp(&a.0));
        match scored.as_slice() {
            [] => None,
            [(_, c, v)] => Some((*c, (*v).to_string())),
            [(a, c, v), (b, _, _), ..] if a > b => Some((*c, (*v).to_string())),
            _ => None,
        }
    }

    /// Whether `t` is reached from the subject by following references only (many-to-one).
    fn upward(&self, t: usize) -> bool {
        match self
            .model
            .graph
            .path(self.subject, t, self.model.tables.len())
        {
            Some((steps, _)) if !steps.is_empty() => steps
                .iter()
                .all(|s| self.model.graph.edges[s.edge].from == s.from),
            _ => false,
        }
    }

    fn concept(&self, k: Concept) -> Option<ColRef> {
        if k == Concept::Date {
            return self.date_column();
        }
        let cols = self.model.concept_columns(self.subject, k.stems());
        (cols.len() == 1).then(|| (self.subject, cols[0]))
    }

    /// An integer column named `year` of the subject.
    fn year_column(&self) -> Option<ColRef> {
        let c = self.model.named_column(self.subject, "year")?;
        numeric(self.model, (self.subject, c)).then_some((self.subject, c))
    }

    fn date_column(&self) -> Option<ColRef> {
        let cols = self.model.date_columns(self.subject);
        (cols.len() == 1).then(|| (self.subject, cols[0]))
    }

    fn label_single(&self) -> Option<ColRef> {
        let l = &self.model.tables[self.subject].label;
        (l.len() == 1).then(|| (self.subject, l[0]))
    }
}

/// Joins from `base` reaching every table in `needed`, as one tree of shortest paths. Also says
/// whether any step goes from a referenced row to its referencing rows (rows of `base` repeat).
fn join_tree(model: &Model, base: usize, needed: &[usize]) -> Result<(Vec<Step>, bool), Decline> {
    let mut joined = vec![base];
    let mut steps: Vec<Step> = Vec::new();
    let mut fanout = false;
    for &t in needed {
        if joined.contains(&t) {
            continue;
        }
        let (path, unique) = model
            .graph
            .path(base, t, model.tables.len())
            .ok_or_else(|| {
                decline(
                    vec![model.tables[t].name.clone()],
                    format!(
                        "no join path from {} to {}",
                        model.tables[base].name, model.tables[t].name
                    ),
                )
            })?;
        if !unique && path.len() > 1 {
            return Err(decline(
                vec![model.tables[t].name.clone()],
                "more than one way to join these tables",
            ));
        }
        // Keys guessed from names are trusted for short paths only.
        if path.len() > 2 && path.iter().any(|s| !model.graph.edges[s.edge].declared) {
            return Err(decline(
                vec![model.tables[t].name.clone()],
                "the join path is long and rests on guessed keys",
            ));
        }
        for s in path {
            if joined.contains(&s.to) {
                continue;
            }
            let e = &model.graph.edges[s.edge];
            if e.to == s.from && e.from == s.to {
                fanout = true;
            }
            joined.push(s.to);
            steps.push(s);
        }
    }
    Ok((steps, fanout))
}
