//! PostgreSQL schema introspection from the system catalogs.
//!
//! Why the catalogs and not `information_schema`: they give `format_type` names, `reltuples`
//! estimates, comments and key column order in three queries, fast even on large schemas.

use crate::{Catalog, ColumnInfo, ForeignKey, TableInfo, TableKind};
use sqlx::postgres::PgConnection;
use sqlx::{AssertSqlSafe, Row};
use std::collections::HashMap;

/// The relations we describe: tables, partitioned tables, views, materialized views and foreign
/// tables outside system schemas (partitions are left out: their parent stands for them), that
/// the user may read.
const RELS: &str = "WITH rels AS (
    SELECT c.oid, n.nspname, c.relname, c.relkind, c.reltuples
    FROM pg_catalog.pg_class c
    JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f')
      AND NOT c.relispartition
      AND n.nspname NOT IN ('pg_catalog', 'information_schema')
      AND n.nspname NOT LIKE 'pg\\_toast%'
      AND n.nspname NOT LIKE 'pg\\_temp\\_%'
      AND (pg_catalog.has_table_privilege(c.oid, 'SELECT')
           OR pg_catalog.has_any_column_privilege(c.oid, 'SELECT'))
)";

const TABLES: &str = "SELECT r.oid::int8, r.nspname::text, r.relname::text, r.relkind::text,
       r.reltuples::float8, pg_catalog.obj_description(r.oid, 'pg_class')
FROM rels r";

const COLUMNS: &str = "SELECT a.attrelid::int8, a.attname::text,
       pg_catalog.format_type(a.atttypid, a.atttypmod), NOT a.attnotnull,
       pg_catalog.pg_get_expr(d.adbin, d.adrelid),
       pg_catalog.col_description(a.attrelid, a.attnum)
FROM pg_catalog.pg_attribute a
JOIN rels r ON r.oid = a.attrelid
LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attrelid, a.attnum";

const KEYS: &str = "SELECT con.conrelid::int8, con.contype::text,
       ARRAY(SELECT a.attname::text
             FROM unnest(con.conkey) WITH ORDINALITY k(num, ord)
             JOIN pg_catalog.pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.num
             ORDER BY k.ord),
       fn.nspname::text, fc.relname::text,
       ARRAY(SELECT a.attname::text
             FROM unnest(con.confkey) WITH ORDINALITY k(num, ord)
             JOIN pg_catalog.pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.num
             ORDER BY k.ord)
FROM pg_catalog.pg_constraint con
JOIN rels r ON r.oid = con.conrelid
LEFT JOIN pg_catalog.pg_class fc ON fc.oid = con.confrelid
LEFT JOIN pg_catalog.pg_namespace fn ON fn.oid = fc.relnamespace
WHERE con.contype IN ('p', 'f')
ORDER BY con.conrelid, con.contype, con.conname";

/// Reads the catalog inside a read-only transaction limited to `timeout_ms` (left open: the
/// caller rolls it back).
pub(super) async fn read(conn: &mut PgConnection, timeout_ms: u64) -> Result<Catalog, sqlx::Error> {
    sqlx::raw_sql(AssertSqlSafe(format!(
        "BEGIN READ ONLY; SET LOCAL statement_timeout = {timeout_ms}"
    )))
    .execute(&mut *conn)
    .await?;

    let mut tables = Vec::new();
    let mut index: HashMap<i64, usize> = HashMap::new();
    for row in sqlx::query(AssertSqlSafe(format!("{RELS} {TABLES}")))
        .fetch_all(&mut *conn)
        .await?
    {
        let oid: i64 = row.try_get(0)?;
        let relkind: String = row.try_get(3)?;
        let reltuples: f64 = row.try_get(4)?;
        index.insert(oid, tables.len());
        tables.push(TableInfo {
            schema: Some(row.try_get(1)?),
            name: row.try_get(2)?,
            kind: if matches!(relkind.as_str(), "v" | "m") {
                TableKind::View
            } else {
                TableKind::Table
            },
            columns: Vec::new(),
            primary_key: Vec::new(),
            foreign_keys: Vec::new(),
            // -1 means "never analyzed" (PostgreSQL 14+); views have no estimate.
            row_estimate: (reltuples >= 0.0 && relkind != "v").then(|| reltuples.round() as i64),
            comment: row.try_get(5)?,
        });
    }

    for row in sqlx::query(AssertSqlSafe(format!("{RELS} {COLUMNS}")))
        .fetch_all(&mut *conn)
        .await?
    {
        let oid: i64 = row.try_get(0)?;
        let Some(&i) = index.get(&oid) else { continue };
        tables[i].columns.push(ColumnInfo {
            name: row.try_get(1)?,
            data_type: row.try_get(2)?,
            nullable: row.try_get(3)?,
            default: row.try_get(4)?,
            comment: row.try_get(5)?,
        });
    }

    for row in sqlx::query(AssertSqlSafe(format!("{RELS} {KEYS}")))
        .fetch_all(&mut *conn)
        .await?
    {
        let oid: i64 = row.try_get(0)?;
        let Some(&i) = index.get(&oid) else { continue };
        let contype: String = row.try_get(1)?;
        let columns: Vec<String> = row.try_get(2)?;
        if contype == "p" {
            tables[i].primary_key = columns;
        } else {
            let ref_table: Option<String> = row.try_get(4)?;
            tables[i].foreign_keys.push(ForeignKey {
                columns,
                ref_schema: row.try_get(3)?,
                ref_table: ref_table.unwrap_or_default(),
                ref_columns: row.try_get(5)?,
            });
        }
    }

    tables.sort_by(|a, b| (&a.schema, &a.name).cmp(&(&b.schema, &b.name)));
    Ok(Catalog { tables })
}
