//! The queries the built-in generator can build, and their SQL per dialect.
//!
//! Why a small intermediate form: the planner decides *what* to compute; rendering alone knows
//! identifier quoting (`"x"` vs `` `x` ``), string escaping (MySQL treats backslashes as
//! escapes) and date functions (`strftime` / `EXTRACT` / `YEAR`), so every dialect gets the same
//! logic.

use super::lexicon::{DatePart, Dir, Op};
use super::schema::{Model, Ty};
use crate::context::{quote_ident, quoted_table_ref};
use crate::linking::graph::Step;
use querypad_engines::Kind;
use std::fmt::Write as _;

/// An aggregate function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Func {
    /// COUNT
    Count,
    /// COUNT(DISTINCT …)
    CountDistinct,
    /// AVG
    Avg,
    /// SUM
    Sum,
    /// MIN
    Min,
    /// MAX
    Max,
}

impl Func {
    fn sql(self) -> &'static str {
        match self {
            Func::Count | Func::CountDistinct => "COUNT",
            Func::Avg => "AVG",
            Func::Sum => "SUM",
            Func::Min => "MIN",
            Func::Max => "MAX",
        }
    }

    fn word(self) -> &'static str {
        match self {
            Func::Count | Func::CountDistinct => "count",
            Func::Avg => "average",
            Func::Sum => "total",
            Func::Min => "min",
            Func::Max => "max",
        }
    }
}

/// A column of a table.
pub(crate) type ColRef = (usize, usize);

/// An expression in a query.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Expr {
    /// A column.
    Col(ColRef),
    /// Every column of a table.
    Star(usize),
    /// An aggregate; `None` is `COUNT(*)`.
    Agg(Func, Option<ColRef>),
    /// A part of a date column.
    DatePart(DatePart, ColRef),
}

/// A literal.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Lit {
    /// A number.
    Num(f64),
    /// A string.
    Str(String),
}

/// A condition in WHERE.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Cond {
    /// `col op lit`.
    Cmp(ColRef, Op, Lit),
    /// `col IN (…)`.
    In(ColRef, Vec<Lit>),
    /// `col BETWEEN lo AND hi`.
    Between(ColRef, Lit, Lit),
    /// `col >= lo AND col < hi` (dates).
    Range(ColRef, Lit, Lit),
}

/// A SELECT the planner built.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Query {
    /// The FROM table.
    pub base: usize,
    /// Joins, in order: each step reaches a new table from one already joined.
    pub joins: Vec<Step>,
    /// Output columns with aliases.
    pub select: Vec<(Expr, Option<String>)>,
    /// SELECT DISTINCT.
    pub distinct: bool,
    /// WHERE, joined by AND.
    pub conds: Vec<Cond>,
    /// GROUP BY.
    pub group: Vec<Expr>,
    /// HAVING `expr op number`.
    pub having: Option<(Expr, Op, f64)>,
    /// ORDER BY.
    pub order: Vec<(Expr, Dir)>,
    /// LIMIT.
    pub limit: Option<u64>,
}

/// Catalog questions answered from the database's own metadata.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Meta {
    /// The tables.
    ListTables,
    /// One table's columns.
    Describe(usize),
}

/// What the planner produced.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Plan {
    /// A metadata query.
    Meta(Meta),
    /// A data query.
    Query(Query),
}

/// Quotes a string literal for `kind`.
pub(crate) fn string_lit(kind: Kind, s: &str) -> String {
    let mut out = s.replace('\'', "''");
    if kind == Kind::Mysql {
        out = out.replace('\\', "\\\\");
    }
    format!("'{out}'")
}

fn num_lit(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 9.0e15 {
        format!("{}", n as i64)
    } else {
        format!("{n}")
    }
}

fn lit(kind: Kind, l: &Lit) -> String {
    match l {
        Lit::Num(n) => num_lit(*n),
        Lit::Str(s) => string_lit(kind, s),
    }
}

/// A readable alias from words ("average_unit_price").
pub(crate) fn alias_for(model: &Model, e: &Expr) -> Option<String> {
    let name = |(t, c): ColRef| model.tables[t].cols[c].name.to_lowercase();
    match e {
        Expr::Agg(Func::Count, None) => Some("count".into()),
        Expr::Agg(f, Some(c)) => Some(format!("{}_{}", f.word(), name(*c))),
        Expr::DatePart(DatePart::Year, _) => Some("year".into()),
        Expr::DatePart(DatePart::Month, _) => Some("month".into()),
        _ => None,
    }
}

struct Renderer<'m, 'a> {
    model: &'m Model<'a>,
    aliases: Vec<(usize, String)>,
}

impl Renderer<'_, '_> {
    fn kind(&self) -> Kind {
        self.model.kind
    }

    fn q(&self, ident: &str) -> String {
        quote_ident(self.kind(), ident)
    }

    fn col(&self, (t, c): ColRef) -> String {
        let name = self.q(&self.model.tables[t].cols[c].name);
        match self.aliases.iter().find(|(x, _)| *x == t) {
            Some((_, a)) if self.aliases.len() > 1 => format!("{a}.{name}"),
            _ => name,
        }
    }

    fn expr(&self, e: &Expr) -> String {
        match e {
            Expr::Col(c) => self.col(*c),
            Expr::Star(t) => match self.aliases.iter().find(|(x, _)| x == t) {
                Some((_, a)) if self.aliases.len() > 1 => format!("{a}.*"),
                _ => "*".into(),
            },
            Expr::Agg(Func::Count, None) => "COUNT(*)".into(),
            Expr::Agg(Func::CountDistinct, Some(c)) => format!("COUNT(DISTINCT {})", self.col(*c)),
            Expr::Agg(f, Some(c)) => format!("{}({})", f.sql(), self.col(*c)),
            Expr::Agg(f, None) => format!("{}(*)", f.sql()),
            Expr::DatePart(part, c) => self.date_part(*part, *c),
        }
    }

    fn date_part(&self, part: DatePart, c: ColRef) -> String {
        let col = self.col(c);
        let declared = &self.model.catalog.tables[c.0].columns[c.1]
            .data_type
            .to_ascii_lowercase();
        match (self.kind(), part) {
            (Kind::Sqlite, DatePart::Year) => format!("CAST(strftime('%Y', {col}) AS INTEGER)"),
            (Kind::Sqlite, DatePart::Month) => format!("CAST(strftime('%m', {col}) AS INTEGER)"),
            (Kind::Postgres, p) => {
                let field = if p == DatePart::Year { "YEAR" } else { "MONTH" };
                let arg = if declared.contains("date") || declared.contains("time") {
                    col
                } else {
                    format!("CAST({col} AS DATE)")
                };
                format!("CAST(EXTRACT({field} FROM {arg}) AS INTEGER)")
            }
            (Kind::Mysql, DatePart::Year) => format!("YEAR({col})"),
            (Kind::Mysql, DatePart::Month) => format!("MONTH({col})"),
        }
    }

    fn cond(&self, c: &Cond) -> String {
        let k = self.kind();
        match c {
            Cond::Cmp(col, op, l) => format!("{} {} {}", self.col(*col), op.sql(), lit(k, l)),
            Cond::In(col, ls) if ls.len() == 1 => {
                format!("{} = {}", self.col(*col), lit(k, &ls[0]))
            }
            Cond::In(col, ls) => {
                format!(
                    "{} IN ({})",
                    self.col(*col),
                    ls.iter().map(|l| lit(k, l)).collect::<Vec<_>>().join(", ")
                )
            }
            Cond::Between(col, lo, hi) => format!(
                "{} BETWEEN {} AND {}",
                self.col(*col),
                lit(k, lo),
                lit(k, hi)
            ),
            Cond::Range(col, lo, hi) => {
                let c = self.col(*col);
                format!("{c} >= {} AND {c} < {}", lit(k, lo), lit(k, hi))
            }
        }
    }
}

/// Renders `plan` as SQL for the model's dialect.
pub(crate) fn render(model: &Model, plan: &Plan) -> String {
    match plan {
        Plan::Meta(m) => render_meta(model, m),
        Plan::Query(q) => render_query(model, q),
    }
}

fn render_meta(model: &Model, m: &Meta) -> String {
    let kind = model.kind;
    match m {
        Meta::ListTables => match kind {
            Kind::Sqlite => "SELECT name AS table_name, type FROM sqlite_master WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name".into(),
            Kind::Postgres => "SELECT table_schema, table_name, table_type FROM information_schema.tables WHERE table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY table_schema, table_name".into(),
            Kind::Mysql => "SELECT table_name, table_type FROM information_schema.tables WHERE table_schema = DATABASE() ORDER BY table_name".into(),
        },
        Meta::Describe(t) => {
            let info = &model.catalog.tables[*t];
            let name = string_lit(kind, &info.name);
            match kind {
                Kind::Sqlite => format!(
                    "SELECT name AS column_name, type AS data_type, \"notnull\" AS not_null, pk AS primary_key FROM pragma_table_info({name}) ORDER BY cid"
                ),
                Kind::Postgres => format!(
                    "SELECT column_name, data_type, is_nullable FROM information_schema.columns WHERE table_schema = {} AND table_name = {name} ORDER BY ordinal_position",
                    string_lit(kind, info.schema.as_deref().unwrap_or("public"))
                ),
                Kind::Mysql => format!(
                    "SELECT column_name, data_type, is_nullable FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = {name} ORDER BY ordinal_position"
                ),
            }
        }
    }
}

fn render_query(model: &Model, q: &Query) -> String {
    let kind = model.kind;
    let mut aliases = vec![(q.base, "t0".to_string())];
    for s in &q.joins {
        let n = aliases.len();
        aliases.push((s.to, format!("t{n}")));
    }
    let r = Renderer { model, aliases };
    let mut sql = String::from("SELECT ");
    if q.distinct {
        sql.push_str("DISTINCT ");
    }
    let items: Vec<String> = q
        .select
        .iter()
        .map(|(e, a)| match a {
            Some(a) => format!("{} AS {}", r.expr(e), r.q(a)),
            None => r.expr(e),
        })
        .collect();
    sql.push_str(&items.join(", "));
    let base = quoted_table_ref(kind, &model.catalog.tables[q.base]);
    let _ = write!(sql, " FROM {base}");
    if !q.joins.is_empty() {
        let _ = write!(sql, " AS t0");
        for (i, s) in q.joins.iter().enumerate() {
            let e = &model.graph.edges[s.edge];
            let t = quoted_table_ref(kind, &model.catalog.tables[s.to]);
            let (here, there) = if e.from == s.to {
                (&e.from_cols, &e.to_cols)
            } else {
                (&e.to_cols, &e.from_cols)
            };
            let on: Vec<String> = here
                .iter()
                .zip(there.iter())
                .map(|(a, b)| format!("{} = {}", r.col((s.to, *a)), r.col((s.from, *b))))
                .collect();
            let _ = write!(sql, " JOIN {t} AS t{} ON {}", i + 1, on.join(" AND "));
        }
    }
    if !q.conds.is_empty() {
        let conds: Vec<String> = q.conds.iter().map(|c| r.cond(c)).collect();
        let _ = write!(sql, " WHERE {}", conds.join(" AND "));
    }
    if !q.group.is_empty() {
        let g: Vec<String> = q.group.iter().map(|e| r.expr(e)).collect();
        let _ = write!(sql, " GROUP BY {}", g.join(", "));
    }
    if let Some((e, op, n)) = &q.having {
        let _ = write!(sql, " HAVING {} {} {}", r.expr(e), op.sql(), num_lit(*n));
    }
    if !q.order.is_empty() {
        let o: Vec<String> = q
            .order
            .iter()
            .map(|(e, d)| {
                let nulls = if kind == Kind::Postgres && *d == Dir::Desc {
                    " NULLS LAST"
                } else {
                    ""
                };
                format!(
                    "{} {}{nulls}",
                    r.expr(e),
                    if *d == Dir::Desc { "DESC" } else { "ASC" }
                )
            })
            .collect();
        let _ = write!(sql, " ORDER BY {}", o.join(", "));
    }
    if let Some(n) = q.limit {
        let _ = write!(sql, " LIMIT {n}");
    }
    sql
}

/// Whether a column holds numbers (for comparisons and aggregates other than COUNT).
pub(crate) fn numeric(model: &Model, (t, c): ColRef) -> bool {
    model.tables[t].cols[c].ty.numeric()
}

/// Whether a column holds dates.
pub(crate) fn is_date(model: &Model, (t, c): ColRef) -> bool {
    model.tables[t].cols[c].ty == Ty::Date
}
