//! The embedded default: on a fresh data directory, the bundled Chinook database becomes
//! connection 1 and notebook 1 ("Demo") holds a few cells to run, so `querypad serve` is useful
//! on a new machine with nothing configured.

use querypad_store::{CellKind, NewCell, NewConnection, Store, StoreError};
use std::path::Path;

/// The Chinook sample database (MIT licence, see `assets/CHINOOK-LICENSE.md`).
const CHINOOK: &[u8] = include_bytes!("../assets/chinook.sqlite");
const CHINOOK_LICENSE: &str = include_str!("../assets/CHINOOK-LICENSE.md");

const CELLS: &[(CellKind, &str)] = &[
    (
        CellKind::Markdown,
        "# Demo: the Chinook music store\n\nA sample database of artists, albums, tracks, customers and invoices. Run a cell, edit it, or ask a question in plain words.",
    ),
    (
        CellKind::Sql,
        "SELECT Name FROM Artist ORDER BY Name LIMIT 10",
    ),
    (
        CellKind::Sql,
        "SELECT g.Name AS genre, count(*) AS tracks\nFROM Track t JOIN Genre g ON g.GenreId = t.GenreId\nGROUP BY g.Name\nORDER BY tracks DESC\nLIMIT 5",
    ),
    (
        CellKind::Sql,
        "SELECT BillingCountry AS country, round(sum(Total), 2) AS revenue\nFROM Invoice\nGROUP BY BillingCountry\nORDER BY revenue DESC",
    ),
];

/// Registers the demo once per data directory. A directory that already has connections but
/// no marker (created before this feature, or by hand) is left alone.
pub async fn seed(store: &Store, data_dir: &Path) -> Result<(), StoreError> {
    if store.meta_get("demo_seeded").await?.is_some() {
        return Ok(());
    }
    if !store.list_connections().await?.is_empty() {
        store.meta_set("demo_seeded", "skipped").await?;
        return Ok(());
    }
    let dir = data_dir.join("demo");
    let path = dir.join("chinook.sqlite");
    let io = |e: std::io::Error| {
        StoreError::Invalid(format!(
            "cannot write the demo database to {}: {e}",
            dir.display()
        ))
    };
    std::fs::create_dir_all(&dir).map_err(io)?;
    if !path.exists() {
        std::fs::write(&path, CHINOOK).map_err(io)?;
        std::fs::write(dir.join("LICENSE.md"), CHINOOK_LICENSE).map_err(io)?;
    }
    let abs = std::fs::canonicalize(&path).map_err(io)?;
    let conn = store
        .create_connection(NewConnection {
            name: "Demo (Chinook)".into(),
            kind: "sqlite".into(),
            path: Some(abs.display().to_string()),
            tls_mode: "prefer".into(),
            ..Default::default()
        })
        .await?;
    let nb = store.create_notebook("Demo", Some(conn.id)).await?;
    for (kind, source) in CELLS {
        store
            .create_cell(
                nb.id,
                NewCell {
                    kind: *kind,
                    source: (*source).into(),
                    position: None,
                    connection_id: None,
                },
            )
            .await?;
    }
    store.meta_set("demo_seeded", "yes").await?;
    tracing::info!(
        connection_id = conn.id,
        notebook_id = nb.id,
        "registered the demo database"
    );
    Ok(())
}
