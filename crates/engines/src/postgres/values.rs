//! PostgreSQL text-protocol values to JSON.
//!
//! Why text: `raw_sql` runs on the simple query protocol, where PostgreSQL prints every value
//! as text. Parsing that text by the column's type is cheap and exact (numerics keep their
//! digits), and needs no per-type binary decoders.

use crate::pump::Shape;
use crate::{ColumnMeta, EngineError, value};
use serde_json::Value;
use sqlx::postgres::{PgRow, PgTypeInfo, PgTypeKind};
use sqlx::{Column, Row, TypeInfo, ValueRef};

/// How to shape one column's text.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum PgKind {
    Bool,
    Int,
    Float,
    Json,
    Timestamp,
    Bytea,
    Text,
    /// An array of the element kind, as nested JSON arrays.
    Array(Box<PgKind>),
}

/// The first OID of user-defined objects; below it, types are built in.
const FIRST_NORMAL_OID: u32 = 16384;

/// Whether sqlx resolved the type (an unresolved one must not be asked for its kind).
fn resolved(ty: &PgTypeInfo) -> bool {
    ty.name() != "?"
}

/// The shaping rule for a column type (domains use their base type).
pub(super) fn kind_of(ty: &PgTypeInfo) -> PgKind {
    if !resolved(ty) {
        return PgKind::Text;
    }
    match ty.oid().map(|o| o.0) {
        Some(16) => return PgKind::Bool,
        Some(20 | 21 | 23 | 26) => return PgKind::Int,
        Some(700 | 701) => return PgKind::Float,
        Some(114 | 3802) => return PgKind::Json,
        Some(1114 | 1184) => return PgKind::Timestamp,
        Some(17) => return PgKind::Bytea,
        // box[] separates elements with `;`: keep it as printed
        Some(1020) => return PgKind::Text,
        _ => {}
    }
    match ty.kind() {
        PgTypeKind::Domain(base) => kind_of(base),
        PgTypeKind::Array(elem) if resolved(elem) => PgKind::Array(Box::new(kind_of(elem))),
        _ => PgKind::Text,
    }
}

/// The type name for [`ColumnMeta::db_type`]: built-in types in PostgreSQL's lower-case spelling
/// (`int4`, `numeric`, `timestamptz`, `text[]`), user-defined types as named.
pub(super) fn type_name(ty: &PgTypeInfo) -> String {
    if !resolved(ty) {
        return match ty.oid() {
            Some(oid) => format!("oid:{}", oid.0),
            None => String::new(),
        };
    }
    let name = ty.name();
    match ty.oid() {
        Some(oid) if oid.0 < FIRST_NORMAL_OID => name.to_ascii_lowercase(),
        _ => name.to_owned(),
    }
}

impl PgKind {
    /// The JSON value for a non-null value printed as `s`.
    pub(super) fn shape(&self, s: &str) -> Value {
        match self {
            PgKind::Bool => match s {
                "t" => Value::Bool(true),
                "f" => Value::Bool(false),
                _ => value::text(s),
            },
            PgKind::Int => value::int_text(s),
            PgKind::Float => value::float_text(s),
            PgKind::Json => value::json_text(s),
            PgKind::Timestamp => value::timestamp_text(s),
            PgKind::Bytea => value::pg_bytea(s),
            PgKind::Text => value::text(s),
            PgKind::Array(elem) => parse_array(s, elem).unwrap_or_else(|| value::text(s)),
        }
    }
}

/// Parses PostgreSQL's array output (`{1,2,NULL}`, `{{"a b","c\"d"}}`) into nested JSON arrays;
/// `None` for forms it does not handle (explicit bounds `[0:1]={…}`), which stay strings.
pub(super) fn parse_array(s: &str, elem: &PgKind) -> Option<Value> {
    let mut pos = 0;
    let v = parse_level(s, &mut pos, elem)?;
    (pos == s.len()).then_some(v)
}

fn parse_level(s: &str, pos: &mut usize, elem: &PgKind) -> Option<Value> {
    let b = s.as_bytes();
    if b.get(*pos) != Some(&b'{') {
        return None;
    }
    *pos += 1;
    let mut out = Vec::new();
    if b.get(*pos) == Some(&b'}') {
        *pos += 1;
        return Some(Value::Array(out));
    }
    loop {
        match b.get(*pos)? {
            b'{' => out.push(parse_level(s, pos, elem)?),
            b'"' => {
                *pos += 1;
                let mut text = String::new();
                let mut start = *pos;
                loop {
                    match b.get(*pos)? {
                        b'\\' => {
                            text.push_str(&s[start..*pos]);
                            *pos += 1;
                            b.get(*pos)?;
                            start = *pos;
                            *pos += 1;
                        }
                        b'"' => {
                            text.push_str(&s[start..*pos]);
                            *pos += 1;
                            break;
                        }
                        _ => *pos += 1,
                    }
                }
                out.push(elem.shape(&text));
            }
            _ => {
                let start = *pos;
                while !matches!(b.get(*pos)?, b',' | b'}') {
                    *pos += 1;
                }
                let token = &s[start..*pos];
                out.push(if token == "NULL" {
                    Value::Null
                } else {
                    elem.shape(token)
                });
            }
        }
        match b.get(*pos)? {
            b',' => *pos += 1,
            b'}' => {
                *pos += 1;
                return Some(Value::Array(out));
            }
            _ => return None,
        }
    }
}

/// Shapes PostgreSQL rows with per-column kinds computed once.
pub(super) struct PgShaper {
    pub(super) kinds: Vec<PgKind>,
}

impl Shape<PgRow> for PgShaper {
    fn shape(&mut self, row: &PgRow) -> Result<Vec<Value>, EngineError> {
        if row.len() != self.kinds.len() {
            self.kinds = row
                .columns()
                .iter()
                .map(|c| kind_of(c.type_info()))
                .collect();
        }
        let mut out = Vec::with_capacity(self.kinds.len());
        for (i, kind) in self.kinds.iter().enumerate() {
            let raw = row
                .try_get_raw(i)
                .map_err(|e| EngineError::Other(format!("reading column {i}: {e}")))?;
            if raw.is_null() {
                out.push(Value::Null);
                continue;
            }
            let text = raw
                .as_str()
                .map_err(|e| EngineError::Other(format!("reading column {i}: {e}")))?;
            out.push(kind.shape(text));
        }
        Ok(out)
    }

    fn columns_of(&self, row: &PgRow) -> Vec<ColumnMeta> {
        row.columns()
            .iter()
            .map(|c| ColumnMeta {
                name: c.name().to_owned(),
                db_type: type_name(c.type_info()),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn arrays() {
        let int = PgKind::Int;
        assert_eq!(parse_array("{1,2,NULL}", &int), Some(json!([1, 2, null])));
        assert_eq!(parse_array("{}", &int), Some(json!([])));
        assert_eq!(
            parse_array("{{1,2},{3,4}}", &int),
            Some(json!([[1, 2], [3, 4]]))
        );
        let text = PgKind::Text;
        assert_eq!(
            parse_array(r#"{"a b","c\"d","NULL",NULL,plain}"#, &text),
            Some(json!(["a b", "c\"d", "NULL", null, "plain"]))
        );
        assert_eq!(parse_array(r#"{"x\\y"}"#, &text), Some(json!(["x\\y"])));
        assert_eq!(parse_array("[0:1]={1,2}", &int), None);
        assert_eq!(parse_array("{1,2", &int), None);
        let b = PgKind::Bool;
        assert_eq!(parse_array("{t,f}", &b), Some(json!([true, false])));
        let j = PgKind::Json;
        assert_eq!(
            parse_array(r#"{"{\"a\": 1}","[2]"}"#, &j),
            Some(json!([{"a": 1}, [2]]))
        );
    }
}
