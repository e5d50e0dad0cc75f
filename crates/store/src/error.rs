//! Store errors, typed so the server maps them to 404/409/500 in one place.

/// What can go wrong with the metadata store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No row with that id.
    #[error("{what} {id} not found")]
    NotFound {
        /// The kind of thing, e.g. `connection`, used in the error code.
        what: &'static str,
        /// The id asked for.
        id: i64,
    },
    /// A uniqueness rule was broken (e.g. a connection name already taken).
    #[error("{0}")]
    Conflict(String),
    /// A value was not acceptable.
    #[error("{0}")]
    Invalid(String),
    /// Encryption key missing or wrong, or a stored secret could not be decrypted.
    #[error("secret storage: {0}")]
    Crypto(String),
    /// The store is shutting down and takes no more writes.
    #[error("the metadata store is shutting down")]
    Closed,
    /// The metadata database itself failed.
    #[error("metadata database error: {0}")]
    Db(#[from] sqlx::Error),
}

impl StoreError {
    /// Maps a unique-constraint violation to `Conflict` with a readable message.
    pub(crate) fn from_write(e: sqlx::Error, conflict: &str) -> StoreError {
        if let sqlx::Error::Database(db) = &e
            && db.is_unique_violation()
        {
            return StoreError::Conflict(conflict.to_string());
        }
        StoreError::Db(e)
    }
}
