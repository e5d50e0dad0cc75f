//! SQLite values to JSON, by each value's storage class.
//!
//! Why the storage class and not the declared type: SQLite columns accept any type (a `NUMERIC`
//! column may hold text), so the value itself says what it is.

use crate::pump::Shape;
use crate::{ColumnMeta, EngineError, value};
use serde_json::Value;
use sqlx::decode::Decode;
use sqlx::sqlite::{Sqlite, SqliteRow, SqliteValueRef};
use sqlx::{Column, Row, TypeInfo, ValueRef};

/// A non-null value's storage class.
enum Class {
    Integer,
    Real,
    Text,
    Blob,
}

/// Shapes SQLite rows.
pub(super) struct SqliteShaper;

fn decode<'r, T: Decode<'r, Sqlite>>(raw: SqliteValueRef<'r>, i: usize) -> Result<T, EngineError> {
    T::decode(raw).map_err(|e| EngineError::Other(format!("reading column {i}: {e}")))
}

impl Shape<SqliteRow> for SqliteShaper {
    fn shape(&mut self, row: &SqliteRow) -> Result<Vec<Value>, EngineError> {
        let n = row.len();
        let mut out = Vec::with_capacity(n);
        for i in 0..n {
            let raw = row
                .try_get_raw(i)
                .map_err(|e| EngineError::Other(format!("reading column {i}: {e}")))?;
            if raw.is_null() {
                out.push(Value::Null);
                continue;
            }
            // For a non-null value this is its storage class.
            let class = match raw.type_info().name() {
                "INTEGER" => Class::Integer,
                "REAL" => Class::Real,
                "BLOB" => Class::Blob,
                _ => Class::Text,
            };
            let v = match class {
                Class::Integer => value::int(decode::<i64>(raw, i)?),
                Class::Real => value::float(decode::<f64>(raw, i)?),
                Class::Blob => value::base64(decode::<&[u8]>(raw, i)?),
                Class::Text => value::text(decode::<&str>(raw, i)?),
            };
            out.push(v);
        }
        Ok(out)
    }

    fn columns_of(&self, row: &SqliteRow) -> Vec<ColumnMeta> {
        row.columns()
            .iter()
            .map(|c| ColumnMeta {
                name: c.name().to_owned(),
                db_type: String::new(),
            })
            .collect()
    }
}
