//! Expanding defog gold queries: `;` separates acceptable alternatives, and `{a.x, a.y}` in a
//! SELECT list means "any non-empty subset of these columns".
//!
//! Why expand instead of special-casing the comparison: each variant is a plain query whose
//! result is compared like any other, so the comparison stays one simple rule.

/// The most variants one gold query may expand to (subsets grow as 2^n).
pub const MAX_VARIANTS: usize = 512;

/// Splits `text` at top-level occurrences of `sep` (outside quotes and brackets).
fn split_top(text: &str, sep: char) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut depth = 0i32;
    for ch in text.chars() {
        if let Some(q) = quote {
            cur.push(ch);
            if ch == q {
                quote = None;
            }
            continue;
        }
        match ch {
            '\'' | '"' | '`' => {
                quote = Some(ch);
                cur.push(ch);
            }
            '(' | '{' | '[' => {
                depth += 1;
                cur.push(ch);
            }
            ')' | '}' | ']' => {
                depth -= 1;
                cur.push(ch);
            }
            c if c == sep && depth == 0 => out.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    out.push(cur);
    out
}

/// `{…}` groups outside quotes: (start, end exclusive, items); `{}` has no items.
fn groups(sql: &str) -> Vec<(usize, usize, Vec<String>)> {
    let mut out = Vec::new();
    let mut quote: Option<char> = None;
    let mut start = None;
    for (i, ch) in sql.char_indices() {
        if let Some(q) = quote {
            if ch == q {
                quote = None;
            }
            continue;
        }
        match ch {
            '\'' | '"' | '`' => quote = Some(ch),
            '{' if start.is_none() => start = Some(i),
            '}' => {
                if let Some(s) = start.take() {
                    let items = split_top(&sql[s + 1..i], ',')
                        .into_iter()
                        .map(|x| x.trim().to_string())
                        .filter(|x| !x.is_empty())
                        .collect();
                    out.push((s, i + 1, items));
                }
            }
            _ => {}
        }
    }
    out
}

/// Expands the first non-empty group; every empty `{}` (defog's "the same columns", used in
/// GROUP BY) takes the subset chosen for it.
fn expand_groups(sql: &str, out: &mut Vec<String>) {
    if out.len() >= MAX_VARIANTS {
        return;
    }
    let all = groups(sql);
    let Some((s, _, items)) = all.iter().find(|g| !g.2.is_empty()).cloned() else {
        out.push(sql.to_string());
        return;
    };
    let n = items.len().min(9);
    for mask in 1u32..(1 << n) {
        let chosen = (0..n)
            .filter(|b| mask & (1 << b) != 0)
            .map(|b| items[b].as_str())
            .collect::<Vec<_>>()
            .join(", ");
        let mut variant = String::with_capacity(sql.len());
        let mut at = 0;
        for (gs, ge, gitems) in &all {
            if *gs == s || gitems.is_empty() {
                variant.push_str(&sql[at..*gs]);
                variant.push_str(&chosen);
                at = *ge;
            }
        }
        variant.push_str(&sql[at..]);
        expand_groups(&variant, out);
        if out.len() >= MAX_VARIANTS {
            return;
        }
    }
}

/// Every acceptable gold query: alternatives split at `;`, then `{…}` subsets expanded.
pub fn expand(gold: &str) -> Vec<String> {
    let mut out = Vec::new();
    for alt in split_top(gold, ';') {
        let alt = alt.trim();
        if alt.is_empty() {
            continue;
        }
        expand_groups(alt, &mut out);
    }
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alternatives_and_subsets_expand() {
        let v = expand("SELECT {a.x, a.y} FROM a;SELECT b FROM c WHERE s = 'p;q';");
        assert_eq!(
            v,
            vec![
                "SELECT a.x FROM a".to_string(),
                "SELECT a.y FROM a".into(),
                "SELECT a.x, a.y FROM a".into(),
                "SELECT b FROM c WHERE s = 'p;q'".into()
            ]
        );
    }

    #[test]
    fn empty_braces_repeat_the_chosen_columns() {
        let v = expand("SELECT {a, b}, COUNT(*) FROM t GROUP BY {}");
        assert_eq!(
            v,
            vec![
                "SELECT a, COUNT(*) FROM t GROUP BY a".to_string(),
                "SELECT b, COUNT(*) FROM t GROUP BY b".into(),
                "SELECT a, b, COUNT(*) FROM t GROUP BY a, b".into()
            ]
        );
    }

    #[test]
    fn two_groups_multiply_and_quotes_are_left_alone() {
        let v = expand("SELECT {a, b}, {c, d} FROM t WHERE x = '{not, this}'");
        assert_eq!(v.len(), 9);
        assert!(v.iter().all(|s| s.ends_with("'{not, this}'")));
    }
}
