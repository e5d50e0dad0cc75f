//! MySQL / MariaDB text-protocol values to JSON.
//!
//! Why text: `raw_sql` uses the text protocol, where the server prints every value; shaping by
//! the column type keeps decimals exact and needs no per-type binary decoders. Binary strings
//! are told from text by the column's character set (`binary`, collation 63), not by the
//! protocol's BINARY flag, which `_bin` collations also set.

use crate::pump::Shape;
use crate::{ColumnMeta, EngineError, value};
use serde_json::Value;
use sqlx::decode::Decode;
use sqlx::mysql::{MySql, MySqlRow, MySqlTypeInfo};
use sqlx::{Column, Row, TypeInfo, ValueRef};

/// How to shape one column's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum MyKind {
    Int,
    Float,
    Json,
    Timestamp,
    Bit,
    Binary,
    Text,
}

/// Whether the column's character set is `binary` (real bytes, not text).
///
/// sqlx keeps the collation private; its `Debug` output is the only way to read it. If that
/// output ever changes shape, the protocol's BINARY flag (via the type name) decides instead.
fn binary_charset(ty: &MySqlTypeInfo) -> Option<bool> {
    let debug = format!("{ty:?}");
    if debug.contains("collation: Collation(") {
        Some(debug.contains("collation: Collation(63)"))
    } else {
        None
    }
}

fn is_binary_name(name: &str) -> bool {
    matches!(
        name,
        "BINARY" | "VARBINARY" | "TINYBLOB" | "BLOB" | "MEDIUMBLOB" | "LONGBLOB"
    )
}

/// The text type a "binary" name stands for when the column is really text with a `_bin`
/// collation.
fn text_name(name: &str) -> &str {
    match name {
        "BINARY" => "CHAR",
        "VARBINARY" => "VARCHAR",
        "TINYBLOB" => "TINYTEXT",
        "BLOB" => "TEXT",
        "MEDIUMBLOB" => "MEDIUMTEXT",
        "LONGBLOB" => "LONGTEXT",
        other => other,
    }
}

/// The shaping rule and the type name for [`ColumnMeta::db_type`].
pub(super) fn describe(ty: &MySqlTypeInfo) -> (MyKind, String) {
    let name = ty.name();
    if is_binary_name(name) {
        return match binary_charset(ty) {
            Some(false) => (MyKind::Text, text_name(name).to_owned()),
            _ => (MyKind::Binary, name.to_owned()),
        };
    }
    let kind = match name {
        "BOOLEAN" | "TINYINT" | "SMALLINT" | "MEDIUMINT" | "INT" | "BIGINT" | "YEAR"
        | "TINYINT UNSIGNED" | "SMALLINT UNSIGNED" | "MEDIUMINT UNSIGNED" | "INT UNSIGNED"
        | "BIGINT UNSIGNED" => MyKind::Int,
        "FLOAT" | "DOUBLE" => MyKind::Float,
        "JSON" => MyKind::Json,
        "DATETIME" | "TIMESTAMP" => MyKind::Timestamp,
        "BIT" => MyKind::Bit,
        "GEOMETRY" => MyKind::Binary,
        // DECIMAL keeps its printed digits; DATE, TIME, CHAR, ENUM, SET… are text.
        _ => MyKind::Text,
    };
    (kind, name.to_owned())
}

impl MyKind {
    fn shape(self, bytes: &[u8]) -> Value {
        match self {
            MyKind::Binary => value::base64(bytes),
            MyKind::Bit => {
                if bytes.len() <= 8 {
                    let n = bytes.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
                    match i64::try_from(n) {
                        Ok(n) => value::int(n),
                        Err(_) => Value::String(n.to_string()),
                    }
                } else {
                    value::base64(bytes)
                }
            }
            text_kind => match std::str::from_utf8(bytes) {
                Ok(s) => match text_kind {
                    MyKind::Int => value::int_text(s),
                    MyKind::Float => value::float_text(s),
                    MyKind::Json => value::json_text(s),
                    MyKind::Timestamp => value::timestamp_text(s),
                    _ => value::text(s),
                },
                Err(_) => Value::String(String::from_utf8_lossy(bytes).into_owned()),
            },
        }
    }
}

/// Shapes MySQL rows; kinds come from the first row's column definitions.
#[derive(Default)]
pub(super) struct MyShaper {
    kinds: Vec<MyKind>,
}

impl Shape<MySqlRow> for MyShaper {
    fn shape(&mut self, row: &MySqlRow) -> Result<Vec<Value>, EngineError> {
        if row.len() != self.kinds.len() {
            self.kinds = row
                .columns()
                .iter()
                .map(|c| describe(c.type_info()).0)
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
            let bytes = <&[u8] as Decode<MySql>>::decode(raw)
                .map_err(|e| EngineError::Other(format!("reading column {i}: {e}")))?;
            out.push(kind.shape(bytes));
        }
        Ok(out)
    }

    fn columns_of(&self, row: &MySqlRow) -> Vec<ColumnMeta> {
        row.columns()
            .iter()
            .map(|c| ColumnMeta {
                name: c.name().to_owned(),
                db_type: describe(c.type_info()).1,
            })
            .collect()
    }
}
