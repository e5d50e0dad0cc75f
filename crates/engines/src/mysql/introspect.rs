//! MySQL / MariaDB schema introspection of the current database via `information_schema`.
//!
//! Why the text protocol here too: `information_schema` column types differ between MySQL and
//! MariaDB versions (`BIGINT UNSIGNED` vs `BIGINT`, various collations); reading every field as
//! text sidesteps sqlx's strict type checks. The only input, the database, is `DATABASE()`.

use super::Flavor;
use crate::{Catalog, ColumnInfo, ForeignKey, TableInfo, TableKind};
use sqlx::mysql::{MySqlConnection, MySqlRow};
use sqlx::{AssertSqlSafe, Row};
use std::collections::HashMap;

const TABLES: &str = "SELECT TABLE_SCHEMA, TABLE_NAME, TABLE_TYPE, TABLE_ROWS, TABLE_COMMENT
FROM information_schema.TABLES
WHERE TABLE_SCHEMA = DATABASE()
  AND TABLE_TYPE IN ('BASE TABLE', 'VIEW', 'SYSTEM VERSIONED')
ORDER BY TABLE_NAME";

const COLUMNS: &str = "SELECT TABLE_NAME, COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE, COLUMN_DEFAULT,
       COLUMN_COMMENT
FROM information_schema.COLUMNS
WHERE TABLE_SCHEMA = DATABASE()
ORDER BY TABLE_NAME, ORDINAL_POSITION";

const KEYS: &str = "SELECT k.TABLE_NAME, c.CONSTRAINT_TYPE, k.CONSTRAINT_NAME, k.COLUMN_NAME,
       k.REFERENCED_TABLE_SCHEMA, k.REFERENCED_TABLE_NAME, k.REFERENCED_COLUMN_NAME
FROM information_schema.KEY_COLUMN_USAGE k
JOIN information_schema.TABLE_CONSTRAINTS c
  ON c.CONSTRAINT_SCHEMA = k.CONSTRAINT_SCHEMA
 AND c.CONSTRAINT_NAME = k.CONSTRAINT_NAME
 AND c.TABLE_SCHEMA = k.TABLE_SCHEMA
 AND c.TABLE_NAME = k.TABLE_NAME
WHERE k.TABLE_SCHEMA = DATABASE()
  AND c.CONSTRAINT_TYPE IN ('PRIMARY KEY', 'FOREIGN KEY')
ORDER BY k.TABLE_NAME, c.CONSTRAINT_TYPE DESC, k.CONSTRAINT_NAME, k.ORDINAL_POSITION";

fn text(row: &MySqlRow, i: usize) -> Result<Option<String>, sqlx::Error> {
    row.try_get_unchecked::<Option<String>, _>(i)
}

fn required(row: &MySqlRow, i: usize) -> Result<String, sqlx::Error> {
    Ok(text(row, i)?.unwrap_or_default())
}

fn non_empty(s: Option<String>) -> Option<String> {
    s.filter(|s| !s.is_empty())
}

/// Reads the catalog of the current database, each query limited to `timeout_ms` (the session
/// limit is lifted again at the end).
pub(super) async fn read(
    conn: &mut MySqlConnection,
    flavor: Flavor,
    timeout_ms: u64,
) -> Result<Catalog, sqlx::Error> {
    sqlx::raw_sql(AssertSqlSafe(flavor.time_limit(timeout_ms)))
        .execute(&mut *conn)
        .await?;
    let result = read_all(conn).await;
    let _ = sqlx::raw_sql(flavor.lift_time_limit())
        .execute(&mut *conn)
        .await;
    result
}

async fn read_all(conn: &mut MySqlConnection) -> Result<Catalog, sqlx::Error> {
    let mut tables = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for row in sqlx::raw_sql(TABLES).fetch_all(&mut *conn).await? {
        let name = required(&row, 1)?;
        let is_view = required(&row, 2)? == "VIEW";
        index.insert(name.clone(), tables.len());
        tables.push(TableInfo {
            schema: text(&row, 0)?,
            name,
            kind: if is_view {
                TableKind::View
            } else {
                TableKind::Table
            },
            columns: Vec::new(),
            primary_key: Vec::new(),
            foreign_keys: Vec::new(),
            row_estimate: if is_view {
                None
            } else {
                text(&row, 3)?.and_then(|n| n.parse::<i64>().ok())
            },
            comment: if is_view {
                None
            } else {
                non_empty(text(&row, 4)?)
            },
        });
    }

    for row in sqlx::raw_sql(COLUMNS).fetch_all(&mut *conn).await? {
        let Some(&i) = index.get(&required(&row, 0)?) else {
            continue;
        };
        tables[i].columns.push(ColumnInfo {
            name: required(&row, 1)?,
            data_type: required(&row, 2)?,
            nullable: required(&row, 3)? == "YES",
            // MariaDB prints a missing default of a nullable column as the word NULL.
            default: text(&row, 4)?.filter(|d| d != "NULL"),
            comment: non_empty(text(&row, 5)?),
        });
    }

    let mut current: Option<(usize, String)> = None;
    for row in sqlx::raw_sql(KEYS).fetch_all(&mut *conn).await? {
        let Some(&i) = index.get(&required(&row, 0)?) else {
            continue;
        };
        let kind = required(&row, 1)?;
        let constraint = required(&row, 2)?;
        let column = required(&row, 3)?;
        if kind == "PRIMARY KEY" {
            tables[i].primary_key.push(column);
            continue;
        }
        let same = current
            .as_ref()
            .is_some_and(|(t, c)| *t == i && *c == constraint);
        if !same {
            tables[i].foreign_keys.push(ForeignKey {
                columns: Vec::new(),
                ref_schema: text(&row, 4)?,
                ref_table: required(&row, 5)?,
                ref_columns: Vec::new(),
            });
            current = Some((i, constraint));
        }
        if let Some(fk) = tables[i].foreign_keys.last_mut() {
            fk.columns.push(column);
            fk.ref_columns.push(required(&row, 6)?);
        }
    }

    tables.sort_by(|a, b| (&a.schema, &a.name).cmp(&(&b.schema, &b.name)));
    Ok(Catalog { tables })
}
