//! Typed errors, classified so the server can answer a precise status and a clear message.

/// Everything that can go wrong with a user database. Messages never contain a password.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The connection description is incomplete or malformed.
    #[error("invalid connection settings: {0}")]
    InvalidSpec(String),
    /// Host unknown, connection refused, or no answer within the connect timeout.
    #[error("cannot reach the database server: {0}")]
    Unreachable(String),
    /// The server rejected the user name or password.
    #[error("authentication failed: {0}")]
    AuthFailed(String),
    /// The database (or SQLite file) does not exist.
    #[error("unknown database: {0}")]
    UnknownDatabase(String),
    /// TLS was required and could not be established.
    #[error("TLS failed: {0}")]
    Tls(String),
    /// The statement ran past its statement timeout or the caller's deadline and was cancelled.
    #[error("the statement was cancelled after {0} ms (time limit reached)")]
    Timeout(u64),
    /// No pooled connection became free before the deadline.
    #[error("all connections to this database are busy; try again shortly")]
    PoolExhausted,
    /// The read-only session refused a write.
    #[error("this connection is read-only: {0}")]
    ReadOnly(String),
    /// The database rejected the statement (syntax, unknown column, …); its own message.
    #[error("{0}")]
    Query(String),
    /// Anything else.
    #[error("database error: {0}")]
    Other(String),
}

impl EngineError {
    /// A stable machine-readable code for the API's error contract.
    pub fn code(&self) -> &'static str {
        match self {
            EngineError::InvalidSpec(_) => "invalid_connection",
            EngineError::Unreachable(_) => "database_unreachable",
            EngineError::AuthFailed(_) => "database_auth_failed",
            EngineError::UnknownDatabase(_) => "database_not_found",
            EngineError::Tls(_) => "database_tls_failed",
            EngineError::Timeout(_) => "statement_timeout",
            EngineError::PoolExhausted => "database_busy",
            EngineError::ReadOnly(_) => "read_only",
            EngineError::Query(_) => "sql_error",
            EngineError::Other(_) => "database_error",
        }
    }
}
