//! The schema as the built-in generator sees it: every table and column with the word forms a
//! question may use for it, a coarse type, a label (what names a row), and the join graph.
//!
//! Why: it works only from the catalog, so it adapts to any naming (`InvoiceLine` on SQLite
//! and MySQL, `invoice_line` on PostgreSQL) and never invents a table or column.

use crate::linking::graph::JoinGraph;
use crate::linking::words::{means, words};
use crate::values::ValueIndex;
use querypad_engines::{Catalog, Kind};

/// Coarse column type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ty {
    /// Integers.
    Int,
    /// Other numbers.
    Real,
    /// Text.
    Text,
    /// Dates and timestamps (also text columns holding ISO dates).
    Date,
    /// Booleans.
    Bool,
    /// Anything else.
    Other,
}

impl Ty {
    /// Whether values compare as numbers.
    pub(crate) fn numeric(self) -> bool {
        matches!(self, Ty::Int | Ty::Real)
    }
}

/// Word forms of one name, with how strongly each identifies it.
#[derive(Debug, Clone)]
pub(crate) struct Forms {
    /// (stems, strength): every stem must be met by a question word.
    pub variants: Vec<(Vec<String>, f32)>,
    /// The name lower-cased without separators, met by a single question word.
    pub joined: String,
}

/// A column.
#[derive(Debug, Clone)]
pub(crate) struct Col {
    /// As in the catalog.
    pub name: String,
    /// Stems of the name.
    pub stems: Vec<String>,
    /// Forms a question may use.
    pub forms: Forms,
    /// Coarse type.
    pub ty: Ty,
    /// Part of a key (primary, foreign, or named like one).
    pub key: bool,
}

/// A table.
#[derive(Debug, Clone)]
pub(crate) struct Table {
    /// As in the catalog.
    pub name: String,
    /// Stems of the name.
    pub stems: Vec<String>,
    /// Forms a question may use.
    pub forms: Forms,
    /// Columns in order.
    pub cols: Vec<Col>,
    /// Primary key columns.
    pub pk: Vec<usize>,
    /// Columns that name a row (`Name`, `FirstName`+`LastName`, `Title`).
    pub label: Vec<usize>,
    /// Columns that identify a row: the primary key, else the key column the table owns by
    /// name (`airport.airport_code`, `business.business_id`).
    pub ident: Vec<usize>,
}

/// The model of one catalog.
pub(crate) struct Model<'a> {
    /// Dialect.
    pub kind: Kind,
    /// The catalog.
    pub catalog: &'a Catalog,
    /// Tables, parallel to `catalog.tables`.
    pub tables: Vec<Table>,
    /// Join edges.
    pub graph: JoinGraph,
    /// Sampled values, when available.
    pub values: Option<&'a ValueIndex>,
}

/// Words that are part of many column names and say little alone.
pub(crate) const GENERIC: &[&str] = &[
    "id", "nam", "cod", "code", "number", "no", "num", "typ", "dat", "valu", "key", "unit",
];

fn ty_of(data_type: &str, date_like: bool) -> Ty {
    let t = data_type.to_ascii_lowercase();
    if t.contains("interval") {
        Ty::Other
    } else if t.contains("bool") {
        Ty::Bool
    } else if t.contains("date") || t.contains("time") {
        Ty::Date
    } else if t.contains("int") || t.contains("serial") || t == "year" {
        Ty::Int
    } else if [
        "real", "double", "float", "numeric", "decimal", "money", "number",
    ]
    .iter()
    .any(|x| t.contains(x))
    {
        Ty::Real
    } else if date_like {
        Ty::Date
    } else if crate::values::is_text_type(&t) {
        Ty::Text
    } else {
        Ty::Other
    }
}

fn forms(name: &str, table_stems: &[String]) -> Forms {
    let stems = words(name);
    let mut variants: Vec<(Vec<String>, f32)> = Vec::new();
    if !stems.is_empty() {
        variants.push((stems.clone(), 3.0));
    }
    // Without the table's own name: `InvoiceDate` in `Invoice` is "the date".
    let mut core = stems.clone();
    if !table_stems.is_empty() && core.len() > table_stems.len() && core.starts_with(table_stems) {
        core.drain(..table_stems.len());
        variants.push((core.clone(), 2.5));
    }
    // Without generic words: `city_name` is "the city", `food_type` "the food".
    let specific: Vec<String> = core
        .iter()
        .filter(|w| !GENERIC.contains(&w.as_str()))
        .cloned()
        .collect();
    if !specific.is_empty() && specific.len() < core.len() {
        variants.push((specific, 2.0));
    }
    Forms {
        variants,
        joined: name.to_lowercase().replace(['_', ' ', '-'], ""),
    }
}

fn label_of(cols: &[Col]) -> Vec<usize> {
    let text =
        |c: &Col| matches!(c.ty, Ty::Text | Ty::Other) && !crate::linking::graph::key_like(&c.name);
    if let Some(i) = cols.iter().position(|c| c.stems == ["nam"]) {
        return vec![i];
    }
    let named: Vec<usize> = (0..cols.len())
        .filter(|&i| {
            text(&cols[i])
                && (cols[i].stems.last().is_some_and(|w| w == "nam")
                    || cols[i].name.to_lowercase().ends_with("name"))
        })
        .collect();
    if !named.is_empty() && named.len() <= 2 {
        return named;
    }
    if let Some(i) = cols.iter().position(|c| c.stems == ["titl"]) {
        return vec![i];
    }
    if let Some(i) = cols
        .iter()
        .position(|c| text(c) && c.stems.iter().any(|w| w == "nam" || w == "titl"))
    {
        return vec![i];
    }
    Vec::new()
}

impl<'a> Model<'a> {
    /// Builds the model of `catalog`.
    pub(crate) fn new(
        kind: Kind,
        catalog: &'a Catalog,
        values: Option<&'a ValueIndex>,
    ) -> Model<'a> {
        let graph = JoinGraph::build(catalog);
        let mut tables = Vec::with_capacity(catalog.tables.len());
        for (ti, t) in catalog.tables.iter().enumerate() {
            let tstems = words(&t.name);
            let mut cols = Vec::with_capacity(t.columns.len());
            for (ci, c) in t.columns.iter().enumerate() {
                let date_like = values
                    .and_then(|v| v.profile(ti, ci))
                    .is_some_and(|p| p.date_like);
                let in_pk = t.primary_key.iter().any(|p| p == &c.name);
                let in_fk = graph.edges.iter().any(|e| {
                    (e.from == ti && e.from_cols.contains(&ci))
                        || (e.to == ti && e.to_cols.contains(&ci))
                });
                let key = in_pk || in_fk || crate::linking::graph::key_like(&c.name);
                cols.push(Col {
                    name: c.name.clone(),
                    stems: words(&c.name),
                    forms: forms(&c.name, &tstems),
                    ty: ty_of(&c.data_type, date_like),
                    key,
                });
            }
            let pk = t
                .primary_key
                .iter()
                .filter_map(|p| t.columns.iter().position(|c| &c.name == p))
                .collect();
            let label = label_of(&cols);
            let ident: Vec<usize> = if t.primary_key.is_empty() {
                t.columns
                    .iter()
                    .position(|c| {
                        crate::linking::graph::key_like(&c.name)
                            && crate::linking::graph::owns(t, &c.name)
                    })
                    .into_iter()
                    .collect()
            } else {
                t.primary_key
                    .iter()
                    .filter_map(|p| t.columns.iter().position(|c| &c.name == p))
                    .collect()
            };
            tables.push(Table {
                name: t.name.clone(),
                stems: tstems.clone(),
                forms: forms(&t.name, &[]),
                cols,
                pk,
                label,
                ident,
            });
        }
        Model {
            kind,
            catalog,
            tables,
            graph,
            values,
        }
    }

    /// Columns of table `t` that carry a concept (by their stems).
    pub(crate) fn concept_columns(&self, t: usize, stems: &[&str]) -> Vec<usize> {
        let table = &self.tables[t];
        (0..table.cols.len())
            .filter(|&c| {
                table.cols[c].ty.numeric()
                    && table.cols[c]
                        .stems
                        .iter()
                        .any(|w| stems.iter().any(|s| means(w, s) || w.starts_with(s)))
            })
            .collect()
    }

    /// Date columns of table `t`.
    pub(crate) fn date_columns(&self, t: usize) -> Vec<usize> {
        (0..self.tables[t].cols.len())
            .filter(|&c| self.tables[t].cols[c].ty == Ty::Date)
            .collect()
    }

    /// An integer column of `t` named exactly `stem` (e.g. `year`).
    pub(crate) fn named_column(&self, t: usize, stem: &str) -> Option<usize> {
        self.tables[t].cols.iter().position(|c| c.stems == [stem])
    }
}

/// How well `stems` (question words, stop words removed) meet `forms`: the best variant's
/// strength when every variant word is met by a distinct question word and no question word is
/// left over.
pub(crate) fn meet(stems: &[&str], forms: &Forms) -> Option<f32> {
    if stems.len() == 1 && stems[0].len() >= 4 && stems[0].replace(['_', '-'], "") == forms.joined {
        return Some(3.0);
    }
    // "paper ID" for `paperid`, "check-ins" for `checkin`.
    if stems.len() > 1 && forms.joined.len() >= 5 {
        let glued = stems.concat();
        if glued == forms.joined
            || crate::linking::words::stem(&glued) == crate::linking::words::stem(&forms.joined)
        {
            return Some(3.0);
        }
    }
    let mut best: Option<f32> = None;
    for (variant, strength) in &forms.variants {
        if variant.len() != stems.len() {
            continue;
        }
        let mut used = vec![false; variant.len()];
        let ok = stems.iter().all(|q| {
            if let Some(i) = (0..variant.len()).find(|&i| !used[i] && means(q, &variant[i])) {
                used[i] = true;
                true
            } else {
                false
            }
        });
        if ok && best.is_none_or(|b| *strength > b) {
            best = Some(*strength);
        }
    }
    best
}

/// A weak match: every question word is one of the name's words, and at least one of them is
/// specific (`country` for `BillingCountry`).
pub(crate) fn meet_partially(stems: &[&str], col: &Col) -> bool {
    !stems.is_empty()
        && stems.iter().all(|q| col.stems.iter().any(|w| means(q, w)))
        && stems.iter().any(|q| !GENERIC.contains(q))
}
