//! Word normalisation shared by schema linking, the value index and the built-in generator.
//!
//! Why one place: a question word, a table name (`InvoiceLine`, `invoice_line`) and a sampled
//! value must be cut and normalised the same way, or "invoices" would not meet `Invoice` and
//! "Sales Support Agents" would not meet the value `Sales Support Agent`.

use std::collections::HashMap;
use std::sync::OnceLock;

/// One token of a text: a run of letters/digits, or a single other visible character.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    /// The text as written.
    pub text: String,
    /// Lower case.
    pub lower: String,
    /// The normalised stem ([`stem`] of `lower`; punctuation as is).
    pub stem: String,
    /// Byte offset where it starts in the source text.
    pub start: usize,
    /// Byte offset just past its end.
    pub end: usize,
    /// Whether it is a run of letters/digits (not punctuation).
    pub word: bool,
}

/// Cuts `text` into tokens: letter/digit runs (also split at `camelCase` boundaries when
/// `split_camel`) and single punctuation characters; whitespace separates and is dropped.
pub fn tokens(text: &str, split_camel: bool) -> Vec<Token> {
    let mut out = Vec::new();
    let mut start: Option<usize> = None;
    let mut prev_lower = false;
    let push = |out: &mut Vec<Token>, s: usize, e: usize, word: bool| {
        let t = &text[s..e];
        let lower = t.to_lowercase();
        let stem = if word { stem(&lower) } else { lower.clone() };
        out.push(Token {
            text: t.to_string(),
            lower,
            stem,
            start: s,
            end: e,
            word,
        });
    };
    for (i, ch) in text.char_indices() {
        if ch.is_alphanumeric() {
            if split_camel
                && ch.is_uppercase()
                && prev_lower
                && let Some(s) = start
            {
                push(&mut out, s, i, true);
                start = Some(i);
            }
            if start.is_none() {
                start = Some(i);
            }
            prev_lower = ch.is_lowercase() || ch.is_ascii_digit();
        } else {
            if let Some(s) = start.take() {
                push(&mut out, s, i, true);
            }
            prev_lower = false;
            if !ch.is_whitespace() && ch != '_' {
                push(&mut out, i, i + ch.len_utf8(), false);
            }
        }
    }
    if let Some(s) = start {
        push(&mut out, s, text.len(), true);
    }
    out
}

/// Words so common in questions that they never identify a table or column.
pub const STOP: &[&str] = &[
    "a", "an", "the", "of", "in", "on", "for", "to", "and", "or", "by", "with", "is", "are", "was",
    "were", "be", "been", "me", "show", "list", "give", "get", "what", "which", "who", "how",
    "many", "much", "all", "each", "per", "from", "that", "this", "it", "its", "do", "does", "did",
    "there", "their", "have", "has", "had", "i", "my", "we", "our", "find", "tell", "than", "at",
    "s", "as", "into", "any", "some", "please", "can", "you", "your", "them", "they", "these",
    "those", "whose", "where", "when", "whom", "also", "only", "just", "display", "return",
];

/// Whether `lower` is a stop word.
pub fn is_stop(lower: &str) -> bool {
    STOP.contains(&lower)
}

/// Lower-case word stems of a text: splits on non-alphanumerics, `snake_case` and `camelCase`,
/// drops stop words, and stems (plurals and common verb endings).
pub fn words(text: &str) -> Vec<String> {
    tokens(text, true)
        .into_iter()
        .filter(|t| t.word && !is_stop(&t.lower))
        .map(|t| t.stem)
        .collect()
}

/// A light stemmer: plurals, `-ing`, `-ed` and a final `e`/`y`, enough to meet "invoices" with
/// `invoice`, "rated" with `rating`, "categories" with `category`. Words with digits or
/// non-ASCII letters are kept as they are (lower-cased by the caller).
pub fn stem(word: &str) -> String {
    let w = word.trim_matches('\'');
    if w.is_empty() || !w.is_ascii() || w.bytes().any(|b| b.is_ascii_digit()) {
        return w.to_string();
    }
    let mut s = w.to_string();
    let n = s.len();
    if n > 4 && s.ends_with("ies") {
        s.truncate(n - 3);
        s.push('i');
    } else if n > 4
        && (s.ends_with("sses")
            || s.ends_with("xes")
            || s.ends_with("ches")
            || s.ends_with("shes")
            || s.ends_with("zes"))
    {
        s.truncate(n - 2);
    } else if n > 3
        && s.ends_with('s')
        && !s.ends_with("ss")
        && !s.ends_with("us")
        && !s.ends_with("is")
    {
        s.truncate(n - 1);
    }
    let n = s.len();
    if n > 5 && s.ends_with("ing") {
        s.truncate(n - 3);
        undouble(&mut s);
    } else if n > 4 && s.ends_with("ed") && !s.ends_with("eed") {
        s.truncate(n - 2);
        undouble(&mut s);
        if s.ends_with('i') {
            s.pop();
            s.push('y');
        }
    }
    let n = s.len();
    if n > 3 && s.ends_with('e') {
        s.truncate(n - 1);
    }
    let n = s.len();
    if n > 3 && s.ends_with('y') {
        s.truncate(n - 1);
        s.push('i');
    }
    s
}

fn undouble(s: &mut String) {
    let b = s.as_bytes();
    let n = b.len();
    if n >= 2
        && b[n - 1] == b[n - 2]
        && !matches!(b[n - 1], b'l' | b's' | b'z' | b'e' | b'o')
        && !b"aiu".contains(&b[n - 1])
    {
        s.pop();
    }
}

/// Groups of words that mean the same thing in questions about data. Each group is stemmed at
/// first use; a question word meets a schema word when both fall in one group.
const SYNONYMS: &[&[&str]] = &[
    &["song", "track", "tune", "recording"],
    &["artist", "singer", "band", "musician", "performer"],
    &["customer", "client", "buyer", "purchaser"],
    &["employee", "staff", "worker"],
    &["price", "cost", "fee"],
    &["length", "duration", "millisecond", "long"],
    &["size", "byte"],
    &[
        "total", "revenue", "sales", "sale", "income", "spent", "spend", "spending", "amount",
    ],
    &["birth", "born", "birthday"],
    &["hire", "hired", "employed"],
    &["email", "mail"],
    &["phone", "telephone"],
    &["country", "nation"],
    &["city", "town"],
    &["paper", "publication", "article"],
    &["author", "writer"],
    &["film", "movie"],
    &["start", "begin", "beginning"],
    &["rating", "rated", "score"],
    &["name", "named", "called"],
    &["title", "titled"],
    &["type", "kind"],
    &["number", "num"],
    &["food", "cuisine"],
    &["year", "annual"],
];

fn synonym_map() -> &'static HashMap<String, Vec<String>> {
    static MAP: OnceLock<HashMap<String, Vec<String>>> = OnceLock::new();
    MAP.get_or_init(|| {
        let mut map: HashMap<String, Vec<String>> = HashMap::new();
        for group in SYNONYMS {
            let stems: Vec<String> = group.iter().map(|w| stem(w)).collect();
            for s in &stems {
                let entry = map.entry(s.clone()).or_default();
                for o in &stems {
                    if o != s && !entry.contains(o) {
                        entry.push(o.clone());
                    }
                }
            }
        }
        map
    })
}

/// Stems that mean the same as stem `s` (not including `s`).
pub fn synonyms(s: &str) -> &'static [String] {
    synonym_map().get(s).map(Vec::as_slice).unwrap_or(&[])
}

/// Whether question stem `q` may stand for schema stem `s` (equal or synonyms).
pub fn means(q: &str, s: &str) -> bool {
    q == s || synonyms(q).iter().any(|x| x == s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_split_identifiers_and_stem() {
        assert_eq!(words("InvoiceLine"), vec!["invoic", "lin"]);
        assert_eq!(words("unit_price"), vec!["unit", "pric"]);
        assert_eq!(
            words("How many invoices per country?"),
            vec!["invoic", "countri"]
        );
        assert_eq!(words("INVOICE_LINE"), vec!["invoic", "lin"]);
    }

    #[test]
    fn stems_meet_their_variants() {
        for (a, b) in [
            ("categories", "category"),
            ("movies", "movie"),
            ("rated", "rating"),
            ("rating", "rate"),
            ("hired", "hire"),
            ("boxes", "box"),
            ("addresses", "address"),
            ("employees", "employee"),
            ("studied", "study"),
            ("shipped", "shipping"),
            ("cities", "city"),
        ] {
            assert_eq!(stem(a), stem(b), "{a} vs {b}");
        }
        assert_eq!(stem("status"), "status");
        assert_eq!(stem("billing"), "bill");
        assert_eq!(stem("2012"), "2012");
        assert_eq!(stem("São"), "São");
    }

    #[test]
    fn tokens_keep_punctuation_and_offsets() {
        let t = tokens("albums by AC/DC's", false);
        let texts: Vec<&str> = t.iter().map(|t| t.text.as_str()).collect();
        assert_eq!(texts, vec!["albums", "by", "AC", "/", "DC", "'", "s"]);
        assert_eq!(&"albums by AC/DC's"[t[2].start..t[4].end], "AC/DC");
        assert_eq!(tokens("MediaTypeId", true).len(), 3);
        assert_eq!(tokens("MediaTypeId", false).len(), 1);
    }

    #[test]
    fn synonyms_are_symmetric() {
        assert!(means(&stem("songs"), &stem("track")));
        assert!(means(&stem("track"), &stem("song")));
        assert!(!means(&stem("track"), &stem("album")));
    }
}
