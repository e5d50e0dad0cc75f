//! Reading a question: one left-to-right pass that turns tokens into pieces — values found in the
//! value index, quoted literals, tables and columns named, cue phrases, numbers and dates — and
//! collects the words it could not place.
//!
//! Why one greedy pass with "longest match wins": "invoice date" is a column even though
//! "invoice" alone is a table, and "how many" is a cue even though "many" means nothing alone.

use super::lexicon::{self, Cue, PHRASES};
use super::schema::{Model, meet, meet_partially};
use crate::linking::words::{Token, is_stop, tokens};

/// A column a question word may mean.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ColCand {
    /// Table.
    pub t: usize,
    /// Column.
    pub c: usize,
    /// How well the words meet its name (3 exact … 1 partial).
    pub strength: f32,
}

/// A stored value a question phrase may be.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ValCand {
    /// Table.
    pub t: usize,
    /// Column.
    pub c: usize,
    /// The value as stored.
    pub value: String,
}

/// What a stretch of the question means.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Item {
    /// A table named ("tracks").
    Table {
        /// Table index.
        t: usize,
        /// Whether it was said in the plural.
        plural: bool,
    },
    /// A column named, with every table it may belong to.
    Column(Vec<ColCand>),
    /// "name(s)": whatever names rows of the table it goes with.
    Label,
    /// A value found in the value index.
    Value {
        /// Every column holding it.
        cands: Vec<ValCand>,
        /// Whether it was quoted.
        quoted: bool,
    },
    /// Quoted text not found in the value index.
    Literal(String),
    /// A number.
    Number(f64),
    /// An ISO date (`2012-03-04`).
    Date(String),
    /// A month name.
    Month(u32),
    /// A cue phrase.
    Cue(Cue),
}

/// One piece of the question.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Piece {
    /// What it means.
    pub item: Item,
    /// The words as written.
    pub text: String,
    /// Lower-case words (for concept and unit checks).
    pub words: Vec<String>,
    /// First question token covered.
    pub start: usize,
    /// One past the last question token covered.
    pub end: usize,
}

/// The reading of a question.
#[derive(Debug, Clone, Default)]
pub(crate) struct Analysis {
    /// Pieces in question order.
    pub pieces: Vec<Piece>,
    /// Words that meant nothing the generator knows.
    pub unmapped: Vec<String>,
    /// Words the generator knows it cannot express.
    pub unsupported: Vec<String>,
}

/// Cue words that win over a column of the same name (`total`, `count`, `year`).
const RESERVED: &[&str] = &[
    "total", "count", "year", "years", "month", "months", "average", "sum", "maximum", "minimum",
    "max", "min",
];

struct Cand {
    len: usize,
    rank: u8,
    item: Item,
}

fn number_at(toks: &[Token], i: usize) -> Option<(f64, usize)> {
    let t = &toks[i];
    if !t.word {
        if t.text == "$" && i + 1 < toks.len() {
            return number_at(toks, i + 1).map(|(n, l)| (n, l + 1));
        }
        return None;
    }
    if let Some(n) = lexicon::number_word(&t.lower) {
        return Some((n, 1));
    }
    if !t.text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut text = t.text.clone();
    let mut len = 1;
    // 1,000,000 and 0.99: digits joined by one separator with no spaces.
    while i + len + 1 < toks.len() {
        let sep = &toks[i + len];
        let next = &toks[i + len + 1];
        let adjacent = toks[i + len - 1].end == sep.start && sep.end == next.start;
        let digits = next.text.bytes().all(|b| b.is_ascii_digit());
        if adjacent && digits && sep.text == "," && next.text.len() == 3 && !text.contains('.') {
            text.push_str(&next.text);
            len += 2;
        } else if adjacent && digits && sep.text == "." && !text.contains('.') {
            text.push('.');
            text.push_str(&next.text);
            len += 2;
        } else {
            break;
        }
    }
    text.parse().ok().map(|n| (n, len))
}

fn date_at(toks: &[Token], i: usize) -> Option<(String, usize)> {
    if i + 4 >= toks.len() {
        return None;
    }
    let w = &toks[i..i + 5];
    let adjacent = w.windows(2).all(|p| p[0].end == p[1].start);
    let shape = w[0].text.len() == 4
        && w[1].text == "-"
        && w[2].text.len() == 2
        && w[3].text == "-"
        && w[4].text.len() == 2;
    let digits = [0, 2, 4]
        .iter()
        .all(|&k| w[k].text.bytes().all(|b| b.is_ascii_digit()));
    (adjacent && shape && digits).then(|| (format!("{}-{}-{}", w[0].text, w[2].text, w[4].text), 5))
}

/// Quoted spans: `"…"`, `“…”`, and `'…'` when the quotes stand at word boundaries.
fn quoted_spans(text: &str, toks: &[Token]) -> Vec<(usize, usize, String)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < toks.len() {
        let open = toks[i].text.as_str();
        let close = match open {
            "\"" => "\"",
            "“" => "”",
            "'" => "'",
            _ => {
                i += 1;
                continue;
            }
        };
        if open == "'" {
            let before_ok = i == 0 || toks[i - 1].end < toks[i].start;
            if !before_ok {
                i += 1;
                continue;
            }
        }
        let mut j = i + 1;
        let mut found = None;
        while j < toks.len() {
            if toks[j].text == close
                && (close != "'"
                    || j + 1 == toks.len()
                    || toks[j + 1].start > toks[j].end
                    || !toks[j + 1].word)
            {
                found = Some(j);
                break;
            }
            j += 1;
        }
        match found {
            Some(j) if j > i + 1 => {
                out.push((
                    i,
                    j + 1,
                    text[toks[i + 1].start..toks[j - 1].end].to_string(),
                ));
                i = j + 1;
            }
            _ => i += 1,
        }
    }
    out
}

fn content(toks: &[Token]) -> Option<Vec<&str>> {
    let first = toks.first()?;
    let last = toks.last()?;
    if !first.word || !last.word || is_stop(&first.lower) || is_stop(&last.lower) {
        return None;
    }
    let mut out = Vec::new();
    for t in toks {
        if !t.word {
            if t.text == "-" || t.text == "'" {
                continue;
            }
            return None;
        }
        if !is_stop(&t.lower) {
            out.push(t.stem.as_str());
        } else if t.lower != "of" {
            return None;
        }
    }
    Some(out)
}

fn schema_at(model: &Model, toks: &[Token], i: usize) -> Vec<Cand> {
    let mut out = Vec::new();
    for len in (1..=4).rev() {
        if i + len > toks.len() {
            continue;
        }
        let Some(stems) = content(&toks[i..i + len]) else {
            continue;
        };
        if stems.is_empty() {
            continue;
        }
        if len == 1 && (stems[0] == "nam" || toks[i].lower == "names") {
            out.push(Cand {
                len,
                rank: 4,
                item: Item::Label,
            });
            continue;
        }
        // A filler word ("offered", "located") names a table or column only in full.
        let min = if len == 1 && lexicon::is_filler(&toks[i].lower) {
            3.0
        } else {
            2.0
        };
        for (ti, t) in model.tables.iter().enumerate() {
            if meet(&stems, &t.forms).is_some_and(|s| s >= min) {
                let last = &toks[i + len - 1];
                let plural = last.lower != last.stem && last.lower.ends_with('s');
                out.push(Cand {
                    len,
                    rank: 4,
                    item: Item::Table { t: ti, plural },
                });
            }
        }
        let mut cols = Vec::new();
        for (ti, t) in model.tables.iter().enumerate() {
            for (ci, c) in t.cols.iter().enumerate() {
                if let Some(s) = meet(&stems, &c.forms)
                    && s >= min
                {
                    cols.push(ColCand {
                        t: ti,
                        c: ci,
                        strength: s,
                    });
                }
            }
        }
        if !cols.is_empty() {
            // An exact column name outranks a one-word cue; a shortened one ("first" for
            // `FirstName`) does not.
            let exact = cols.iter().any(|c| c.strength >= 3.0);
            out.push(Cand {
                len,
                rank: if exact { 4 } else { 2 },
                item: Item::Column(cols),
            });
        }
    }
    out
}

fn partial_at(model: &Model, tok: &Token) -> Option<Item> {
    if !tok.word || is_stop(&tok.lower) || lexicon::is_filler(&tok.lower) {
        return None;
    }
    let stems = [tok.stem.as_str()];
    let mut cols = Vec::new();
    for (ti, t) in model.tables.iter().enumerate() {
        for (ci, c) in t.cols.iter().enumerate() {
            if meet_partially(&stems, c) {
                // The head noun ("GPA" for `total_gpa`, "country" for `BillingCountry`) is good
                // evidence; another word of the name less so.
                let head = c
                    .stems
                    .last()
                    .is_some_and(|w| crate::linking::words::means(stems[0], w));
                cols.push(ColCand {
                    t: ti,
                    c: ci,
                    strength: if head { 2.0 } else { 1.0 },
                });
            }
        }
    }
    (!cols.is_empty()).then_some(Item::Column(cols))
}

fn cue_at(toks: &[Token], i: usize) -> Option<(Cue, usize)> {
    let mut best: Option<(Cue, usize)> = None;
    for (words, cue) in PHRASES {
        let n = words.len();
        if i + n > toks.len() || best.is_some_and(|(_, l)| l >= n) {
            continue;
        }
        if toks[i..i + n]
            .iter()
            .zip(words.iter())
            .all(|(t, w)| t.lower == *w)
        {
            best = Some((*cue, n));
        }
    }
    let (cue, n) = best?;
    // "in"/"during" only before a year or a month; "by" before anything.
    if cue == Cue::InYear {
        let next = toks.get(i + n)?;
        let year = next.text.len() == 4 && next.text.bytes().all(|b| b.is_ascii_digit());
        if !(year || lexicon::month(&next.lower).is_some()) {
            return None;
        }
    }
    Some((cue, n))
}

/// Reads `question` against `model`.
pub(crate) fn analyze(model: &Model, question: &str) -> Analysis {
    let toks = tokens(question, false);
    let quoted = quoted_spans(question, &toks);
    let mut hits = model.values.map(|v| v.find(&toks)).unwrap_or_default();
    // A one-word value that is also a common or schema word is no evidence ("one", "name").
    hits.retain(|h| {
        if h.end - h.start > 1 {
            return true;
        }
        let t = &toks[h.start];
        let inside_quotes = quoted.iter().any(|(s, e, _)| *s < h.start && h.end < *e);
        if inside_quotes {
            return true;
        }
        t.word
            && t.lower.chars().count() >= 2
            && h.exact
            && !is_stop(&t.lower)
            && !lexicon::is_filler(&t.lower)
            && !lexicon::is_unsupported(&t.lower)
            && lexicon::number_word(&t.lower).is_none()
            && cue_at(&toks, h.start).is_none()
            && schema_at(model, &toks, h.start).iter().all(|c| c.len != 1)
    });
    let mut a = Analysis::default();
    let mut i = 0;
    while i < toks.len() {
        let mut cands: Vec<Cand> = Vec::new();
        if let Some((s, e, text)) = quoted.iter().find(|(s, _, _)| *s == i) {
            // Quoted: a value when the index knows it exactly, else a literal.
            let inner: Vec<ValCand> = hits
                .iter()
                .filter(|h| h.start == s + 1 && h.end == e - 1)
                .map(|h| ValCand {
                    t: h.table,
                    c: h.column,
                    value: h.value.clone(),
                })
                .collect();
            let item = if inner.is_empty() {
                Item::Literal(text.clone())
            } else {
                Item::Value {
                    cands: inner,
                    quoted: true,
                }
            };
            cands.push(Cand {
                len: e - s,
                rank: 9,
                item,
            });
        }
        let here: Vec<&crate::values::ValueHit> = hits.iter().filter(|h| h.start == i).collect();
        if let Some(longest) = here.iter().map(|h| h.end - h.start).max() {
            let mut vc: Vec<ValCand> = Vec::new();
            for h in here.iter().filter(|h| h.end - h.start == longest) {
                if !vc.iter().any(|v| v.t == h.table && v.c == h.column) {
                    vc.push(ValCand {
                        t: h.table,
                        c: h.column,
                        value: h.value.clone(),
                    });
                }
            }
            cands.push(Cand {
                len: longest,
                rank: 8,
                item: Item::Value {
                    cands: vc,
                    quoted: false,
                },
            });
        }
        if let Some((d, n)) = date_at(&toks, i) {
            cands.push(Cand {
                len: n,
                rank: 7,
                item: Item::Date(d),
            });
        }
        if let Some((n, len)) = number_at(&toks, i) {
            cands.push(Cand {
                len,
                rank: 6,
                item: Item::Number(n),
            });
        }
        let reserved = RESERVED.contains(&toks[i].lower.as_str());
        if let Some((cue, n)) = cue_at(&toks, i) {
            let rank = if reserved || n > 1 { 5 } else { 3 };
            cands.push(Cand {
                len: n,
                rank,
                item: Item::Cue(cue),
            });
        }
        cands.extend(schema_at(model, &toks, i));
        if let Some(m) = lexicon::month(&toks[i].lower)
            && toks
                .get(i + 1)
                .is_some_and(|t| t.text.len() == 4 && t.text.bytes().all(|b| b.is_ascii_digit()))
        {
            cands.push(Cand {
                len: 1,
                rank: 6,
                item: Item::Month(m),
            });
        }
        // Longest first; among equals, the higher rank.
        cands.sort_by(|x, y| y.len.cmp(&x.len).then(y.rank.cmp(&x.rank)));
        if let Some(first) = cands.first() {
            let len = first.len;
            let rank = first.rank;
            // Several tables, or tables and columns, may share one stretch: keep tables first.
            let same: Vec<Cand> = cands
                .into_iter()
                .filter(|c| c.len == len && c.rank == rank)
                .collect();
            let item = merge(same);
            let end = (i + len).min(toks.len());
            a.pieces.push(Piece {
                item,
                text: question[toks[i].start..toks[end - 1].end].to_string(),
                words: toks[i..end].iter().map(|t| t.lower.clone()).collect(),
                start: i,
                end,
            });
            i = end;
            continue;
        }
        let t = &toks[i];
        if let Some(item) = partial_at(model, t) {
            a.pieces.push(Piece {
                item,
                text: t.text.clone(),
                words: vec![t.lower.clone()],
                start: i,
                end: i + 1,
            });
        } else if t.word && !is_stop(&t.lower) && !lexicon::is_filler(&t.lower) {
            if lexicon::is_unsupported(&t.lower) {
                a.unsupported.push(t.text.clone());
            } else {
                a.unmapped.push(t.text.clone());
            }
        }
        i += 1;
    }
    a
}

fn merge(mut same: Vec<Cand>) -> Item {
    if same.len() == 1 {
        return same.remove(0).item;
    }
    // Tables tie: keep the first (schema order); columns tie: union of candidates.
    let mut cols = Vec::new();
    let mut first_other = None;
    for c in same {
        match c.item {
            Item::Column(cs) => cols.extend(cs),
            other if first_other.is_none() => first_other = Some(other),
            _ => {}
        }
    }
    match first_other {
        Some(item) => item,
        None => Item::Column(cols),
    }
}
