//! Schema linking: ranks tables for a question by word overlap with table and column names and
//! comments, then lifts foreign-key neighbours of strong matches (the join path a question
//! about "customers" and "invoices" needs). Deterministic and allocation-light: it runs on
//! every question, also on schemas of hundreds of tables.

use querypad_engines::Catalog;
use std::collections::HashSet;

/// A table's score.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ranked {
    /// Index into `catalog.tables`.
    pub index: usize,
    /// Higher is more relevant.
    pub score: f64,
}

/// Lower-case word stems of a text: splits on non-alphanumerics, `snake_case` and `camelCase`,
/// drops very common words, and strips plural endings.
pub fn words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut prev_lower = false;
    for ch in text.chars() {
        if ch.is_alphanumeric() {
            if ch.is_uppercase() && prev_lower && !cur.is_empty() {
                push_word(&mut out, &cur);
                cur.clear();
            }
            prev_lower = ch.is_lowercase() || ch.is_ascii_digit();
            cur.extend(ch.to_lowercase());
        } else {
            if !cur.is_empty() {
                push_word(&mut out, &cur);
                cur.clear();
            }
            prev_lower = false;
        }
    }
    if !cur.is_empty() {
        push_word(&mut out, &cur);
    }
    out
}

const STOP: &[&str] = &[
    "a", "an", "the", "of", "in", "on", "for", "to", "and", "or", "by", "with", "is", "are", "was",
    "were", "be", "me", "show", "list", "give", "get", "what", "which", "who", "how", "many",
    "much", "all", "each", "per", "from", "that", "this", "it", "its", "do", "does", "did",
    "there", "their", "have", "has", "id", "i", "my", "we", "our", "find", "tell", "than", "at",
];

fn push_word(out: &mut Vec<String>, w: &str) {
    if STOP.contains(&w) || w.is_empty() {
        return;
    }
    out.push(stem(w));
}

/// A light stemmer: plural and a few common suffixes, enough to match "invoices" to
/// `invoice` and "artists'" to `artist`.
pub fn stem(w: &str) -> String {
    let w = w.trim_end_matches('\'');
    if w.len() > 4 && w.ends_with("ies") {
        return format!("{}y", &w[..w.len() - 3]);
    }
    if w.len() > 4
        && (w.ends_with("sses") || w.ends_with("xes") || w.ends_with("ches") || w.ends_with("shes"))
    {
        return w[..w.len() - 2].to_string();
    }
    if w.len() > 3 && w.ends_with('s') && !w.ends_with("ss") && !w.ends_with("us") {
        return w[..w.len() - 1].to_string();
    }
    w.to_string()
}

/// Ranks every table of `catalog` for `question`, best first; ties keep schema order.
pub fn rank_tables(catalog: &Catalog, question: &str) -> Vec<Ranked> {
    let q: HashSet<String> = words(question).into_iter().collect();
    let mut scores: Vec<f64> = catalog
        .tables
        .iter()
        .map(|t| {
            let mut s = 0.0;
            let name_words = words(&t.name);
            let joined = name_words.concat();
            if q.contains(&stem(&t.name.to_lowercase())) || q.contains(&joined) {
                s += 4.0;
            }
            for w in &name_words {
                if q.contains(w) {
                    s += 2.0;
                }
            }
            let mut col_hits = 0.0;
            for c in &t.columns {
                for w in words(&c.name) {
                    if q.contains(&w) {
                        col_hits += 1.0;
                    }
                }
                if let Some(cm) = &c.comment {
                    for w in words(cm) {
                        if q.contains(&w) {
                            col_hits += 0.25;
                        }
                    }
                }
            }
            s += f64::min(col_hits, 3.0);
            if let Some(cm) = &t.comment {
                for w in words(cm) {
                    if q.contains(&w) {
                        s += 0.5;
                    }
                }
            }
            s
        })
        .collect();
    // Foreign-key neighbours of strong matches get part of their score: the join path.
    let strong: Vec<usize> = (0..scores.len()).filter(|&i| scores[i] >= 2.0).collect();
    let mut bonus = vec![0.0; scores.len()];
    for &i in &strong {
        let t = &catalog.tables[i];
        for fk in &t.foreign_keys {
            if let Some(j) = catalog
                .tables
                .iter()
                .position(|x| x.name.eq_ignore_ascii_case(&fk.ref_table))
            {
                bonus[j] += 1.0;
            }
        }
        for (j, other) in catalog.tables.iter().enumerate() {
            if other
                .foreign_keys
                .iter()
                .any(|fk| fk.ref_table.eq_ignore_ascii_case(&t.name))
            {
                bonus[j] += 0.75;
            }
        }
    }
    for (s, b) in scores.iter_mut().zip(bonus) {
        *s += b;
    }
    let mut ranked: Vec<Ranked> = scores
        .into_iter()
        .enumerate()
        .map(|(index, score)| Ranked { index, score })
        .collect();
    ranked.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.index.cmp(&b.index)));
    ranked
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_split_identifiers_and_stem_plurals() {
        assert_eq!(words("InvoiceLine"), vec!["invoice", "line"]);
        assert_eq!(words("unit_price"), vec!["unit", "price"]);
        assert_eq!(
            words("How many invoices per country?"),
            vec!["invoice", "country"]
        );
        assert_eq!(stem("categories"), "category");
        assert_eq!(stem("boxes"), "box");
        assert_eq!(stem("status"), "status");
    }
}
