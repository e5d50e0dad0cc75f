//! Turning database values into JSON, shared by the engines (see the mapping in [`crate::exec`]).
//!
//! Why one place: the three engines print values differently (PostgreSQL and MySQL as text,
//! SQLite as typed storage classes), but the JSON a caller sees must follow one rule set: exact
//! integers only within ±(2^53−1), decimals as the database printed them, ISO-8601 timestamps,
//! base64 binary. Each function allocates only when the result must own a string.

use base64::Engine as _;
use serde_json::{Number, Value};

/// Largest integer every JSON reader (JavaScript included) represents exactly: 2^53 − 1.
pub(crate) const MAX_SAFE_INT: i64 = (1 << 53) - 1;

/// An integer: a JSON number within ±(2^53−1), else the exact digits as a string.
#[inline]
pub(crate) fn int(n: i64) -> Value {
    if (-MAX_SAFE_INT..=MAX_SAFE_INT).contains(&n) {
        Value::Number(Number::from(n))
    } else {
        Value::String(n.to_string())
    }
}

/// An integer printed by the database; anything that does not parse (unsigned beyond `i64`,
/// odd formatting) is kept as the printed string.
#[inline]
pub(crate) fn int_text(s: &str) -> Value {
    match s.parse::<i64>() {
        Ok(n) if (-MAX_SAFE_INT..=MAX_SAFE_INT).contains(&n) => Value::Number(Number::from(n)),
        _ => Value::String(s.to_owned()),
    }
}

/// A float: a JSON number when finite; NaN and infinities become strings (`NaN`, `Infinity`,
/// `-Infinity`), since JSON has no literal for them.
#[inline]
pub(crate) fn float(f: f64) -> Value {
    match Number::from_f64(f) {
        Some(n) => Value::Number(n),
        None if f.is_nan() => Value::String("NaN".to_owned()),
        None if f > 0.0 => Value::String("Infinity".to_owned()),
        None => Value::String("-Infinity".to_owned()),
    }
}

/// A float printed by the database; non-finite or unparsable values stay as printed.
#[inline]
pub(crate) fn float_text(s: &str) -> Value {
    match s.parse::<f64>().ok().and_then(Number::from_f64) {
        Some(n) => Value::Number(n),
        None => Value::String(s.to_owned()),
    }
}

/// JSON text parsed into a value; text that is not valid JSON stays a string.
#[inline]
pub(crate) fn json_text(s: &str) -> Value {
    serde_json::from_str(s).unwrap_or_else(|_| Value::String(s.to_owned()))
}

/// A timestamp printed as `YYYY-MM-DD hh:mm:ss[.f][±hh[:mm]]` made ISO-8601: the first space
/// becomes `T`, and a bare hour offset (`+00`, PostgreSQL's style) gains `:00`. Special values
/// (`infinity`) pass through.
pub(crate) fn timestamp_text(s: &str) -> Value {
    let Some(space) = s.find(' ') else {
        return Value::String(s.to_owned());
    };
    let mut out = String::with_capacity(s.len() + 3);
    out.push_str(&s[..space]);
    out.push('T');
    out.push_str(&s[space + 1..]);
    let b = out.as_bytes();
    let n = b.len();
    if n >= 4
        && (b[n - 3] == b'+' || b[n - 3] == b'-')
        && b[n - 2].is_ascii_digit()
        && b[n - 1].is_ascii_digit()
        && b[n - 4].is_ascii_digit()
        && !out[..n - 3].contains(' ')
    {
        out.push_str(":00");
    }
    Value::String(out)
}

/// Binary as standard base64 (with padding).
#[inline]
pub(crate) fn base64(bytes: &[u8]) -> Value {
    Value::String(base64::engine::general_purpose::STANDARD.encode(bytes))
}

/// PostgreSQL `bytea` in its text form (`\x` + hex) as base64; any other form stays a string.
pub(crate) fn pg_bytea(s: &str) -> Value {
    match s.strip_prefix("\\x").and_then(|h| hex::decode(h).ok()) {
        Some(bytes) => base64(&bytes),
        None => Value::String(s.to_owned()),
    }
}

/// Text as a JSON string.
#[inline]
pub(crate) fn text(s: &str) -> Value {
    Value::String(s.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn integers() {
        assert_eq!(int(42), json!(42));
        assert_eq!(int(MAX_SAFE_INT), json!(9007199254740991i64));
        assert_eq!(int(MAX_SAFE_INT + 1), json!("9007199254740992"));
        assert_eq!(int(-MAX_SAFE_INT - 1), json!("-9007199254740992"));
        assert_eq!(int_text("-17"), json!(-17));
        assert_eq!(
            int_text("9223372036854775807"),
            json!("9223372036854775807")
        );
        assert_eq!(
            int_text("18446744073709551615"),
            json!("18446744073709551615")
        );
    }

    #[test]
    fn floats() {
        assert_eq!(float_text("1.5"), json!(1.5));
        assert_eq!(float_text("NaN"), json!("NaN"));
        assert_eq!(float_text("-Infinity"), json!("-Infinity"));
        assert_eq!(float(f64::INFINITY), json!("Infinity"));
        assert_eq!(float(f64::NAN), json!("NaN"));
        assert_eq!(float(0.25), json!(0.25));
    }

    #[test]
    fn timestamps() {
        assert_eq!(
            timestamp_text("2024-01-02 03:04:05+00"),
            json!("2024-01-02T03:04:05+00:00")
        );
        assert_eq!(
            timestamp_text("2024-01-02 03:04:05.123456-07"),
            json!("2024-01-02T03:04:05.123456-07:00")
        );
        assert_eq!(
            timestamp_text("2024-01-02 03:04:05+05:30"),
            json!("2024-01-02T03:04:05+05:30")
        );
        assert_eq!(
            timestamp_text("2024-01-02 03:04:05"),
            json!("2024-01-02T03:04:05")
        );
        assert_eq!(timestamp_text("infinity"), json!("infinity"));
        assert_eq!(
            timestamp_text("0044-03-15 12:00:00 BC"),
            json!("0044-03-15T12:00:00 BC")
        );
    }

    #[test]
    fn binary_and_json() {
        assert_eq!(pg_bytea("\\xdeadbeef"), json!("3q2+7w=="));
        assert_eq!(pg_bytea("\\x"), json!(""));
        assert_eq!(base64(b"hi"), json!("aGk="));
        assert_eq!(json_text(r#"{"a":[1,2]}"#), json!({"a": [1, 2]}));
        assert_eq!(json_text("not json"), json!("not json"));
    }
}
