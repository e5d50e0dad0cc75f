//! SQLite schema introspection from `sqlite_master` and the `pragma_*` table functions.
//!
//! Row estimates come from `sqlite_stat1` when `ANALYZE` has run, else from a count capped at
//! [`COUNT_CAP`] rows per table, which is fast on the small files SQLite usually holds.

use crate::{Catalog, ColumnInfo, ForeignKey, TableInfo, TableKind};
use sqlx::sqlite::{SqliteConnection, SqliteRow};
use sqlx::{AssertSqlSafe, Row};
use std::collections::HashMap;

/// Counting stops here: a table with more rows is reported with this estimate.
pub(super) const COUNT_CAP: i64 = 100_000;

/// Quotes an identifier for SQLite (`"` doubled inside).
pub(super) fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn text(row: &SqliteRow, i: usize) -> Result<Option<String>, sqlx::Error> {
    row.try_get_unchecked::<Option<String>, _>(i)
}

fn int(row: &SqliteRow, i: usize) -> Result<i64, sqlx::Error> {
    Ok(row
        .try_get_unchecked::<Option<i64>, _>(i)?
        .unwrap_or_default())
}

/// Reads the main database's tables and views.
pub(super) async fn read(conn: &mut SqliteConnection) -> Result<Catalog, sqlx::Error> {
    let objects = sqlx::query(
        "SELECT name, type FROM sqlite_master
         WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'
         ORDER BY name",
    )
    .fetch_all(&mut *conn)
    .await?;

    let stats = stat1(conn).await?;
    let mut tables = Vec::with_capacity(objects.len());
    for object in &objects {
        let name = text(object, 0)?.unwrap_or_default();
        let is_view = text(object, 1)?.as_deref() == Some("view");

        let mut columns = Vec::new();
        let mut pk: Vec<(i64, String)> = Vec::new();
        for row in sqlx::query(
            r#"SELECT name, type, "notnull", dflt_value, pk FROM pragma_table_info(?1) ORDER BY cid"#,
        )
        .bind(&name)
        .fetch_all(&mut *conn)
        .await?
        {
            let column = text(&row, 0)?.unwrap_or_default();
            let data_type = text(&row, 1)?.unwrap_or_default();
            let pk_pos = int(&row, 4)?;
            if pk_pos > 0 {
                pk.push((pk_pos, column.clone()));
            }
            columns.push((column, data_type, int(&row, 2)? != 0, text(&row, 3)?, pk_pos));
        }
        pk.sort();
        // An INTEGER PRIMARY KEY aliases the rowid and can never be NULL.
        let rowid_alias = pk.len() == 1;
        let columns = columns
            .into_iter()
            .map(|(name, data_type, notnull, default, pk_pos)| {
                let never_null =
                    rowid_alias && pk_pos > 0 && data_type.eq_ignore_ascii_case("INTEGER");
                ColumnInfo {
                    name,
                    data_type,
                    nullable: !notnull && !never_null,
                    default,
                    comment: None,
                }
            })
            .collect();

        let mut foreign_keys: Vec<ForeignKey> = Vec::new();
        let mut last_id = None;
        for row in sqlx::query(
            r#"SELECT id, "table", "from", "to" FROM pragma_foreign_key_list(?1) ORDER BY id, seq"#,
        )
        .bind(&name)
        .fetch_all(&mut *conn)
        .await?
        {
            let id = int(&row, 0)?;
            if last_id != Some(id) {
                foreign_keys.push(ForeignKey {
                    columns: Vec::new(),
                    ref_schema: None,
                    ref_table: text(&row, 1)?.unwrap_or_default(),
                    ref_columns: Vec::new(),
                });
                last_id = Some(id);
            }
            if let Some(fk) = foreign_keys.last_mut() {
                fk.columns.push(text(&row, 2)?.unwrap_or_default());
                // `to` is NULL when the key references the parent's primary key implicitly.
                fk.ref_columns.push(text(&row, 3)?.unwrap_or_default());
            }
        }

        let row_estimate = if is_view {
            None
        } else if let Some(n) = stats.get(&name) {
            Some(*n)
        } else {
            let sql = format!(
                "SELECT count(*) FROM (SELECT 1 FROM {} LIMIT {})",
                quote_ident(&name),
                COUNT_CAP + 1
            );
            let count: i64 = sqlx::query_scalar(AssertSqlSafe(sql))
                .fetch_one(&mut *conn)
                .await?;
            Some(count.min(COUNT_CAP))
        };

        tables.push(TableInfo {
            schema: None,
            name,
            kind: if is_view {
                TableKind::View
            } else {
                TableKind::Table
            },
            columns,
            primary_key: pk.into_iter().map(|(_, c)| c).collect(),
            foreign_keys,
            row_estimate,
            comment: None,
        });
    }

    fill_implicit_references(&mut tables);
    tables.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(Catalog { tables })
}

/// Row counts recorded by `ANALYZE` (the first number of a table's `sqlite_stat1` entries).
async fn stat1(conn: &mut SqliteConnection) -> Result<HashMap<String, i64>, sqlx::Error> {
    let exists: Option<i64> = sqlx::query_scalar(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'sqlite_stat1'",
    )
    .fetch_optional(&mut *conn)
    .await?;
    let mut out = HashMap::new();
    if exists.is_none() {
        return Ok(out);
    }
    for row in sqlx::query("SELECT tbl, stat FROM sqlite_stat1")
        .fetch_all(&mut *conn)
        .await?
    {
        let (Some(table), Some(stat)) = (text(&row, 0)?, text(&row, 1)?) else {
            continue;
        };
        if let Some(n) = stat
            .split_whitespace()
            .next()
            .and_then(|n| n.parse::<i64>().ok())
        {
            let e = out.entry(table).or_insert(n);
            *e = (*e).max(n);
        }
    }
    Ok(out)
}

/// Foreign keys written `REFERENCES parent` (no column list) point at the parent's primary key.
fn fill_implicit_references(tables: &mut [TableInfo]) {
    let pks: HashMap<String, Vec<String>> = tables
        .iter()
        .map(|t| (t.name.to_ascii_lowercase(), t.primary_key.clone()))
        .collect();
    for table in tables.iter_mut() {
        for fk in &mut table.foreign_keys {
            if fk.ref_columns.iter().any(String::is_empty)
                && let Some(pk) = pks.get(&fk.ref_table.to_ascii_lowercase())
                && pk.len() == fk.ref_columns.len()
            {
                fk.ref_columns = pk.clone();
            }
        }
    }
}
