//! Turning sqlx errors into classified [`EngineError`]s, per engine.
//!
//! Why: callers act on the class (unreachable → check the host; auth → fix the password;
//! read-only → this connection does not allow writes; timeout → simplify the query), so each
//! engine's error numbers / SQLSTATEs are mapped once here. Messages are the database's own,
//! with the password scrubbed out just in case a driver ever echoes it.

use crate::EngineError;
use sqlx::error::DatabaseError;

/// Which engine produced an error, and the statement time limit to report on a timeout.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Dialect {
    Postgres,
    Mysql,
    Sqlite,
}

/// Classifies any sqlx error; `timeout_ms` is reported if the database says the statement was
/// cancelled or timed out.
pub(crate) fn classify(dialect: Dialect, err: sqlx::Error, timeout_ms: u64) -> EngineError {
    match err {
        sqlx::Error::Database(db) => match dialect {
            Dialect::Postgres => postgres(db.as_ref(), timeout_ms),
            Dialect::Mysql => mysql(db.as_ref(), timeout_ms),
            Dialect::Sqlite => sqlite(db.as_ref(), timeout_ms),
        },
        sqlx::Error::Io(e) if is_tls_failure(&e) => EngineError::Tls(e.to_string()),
        sqlx::Error::Io(e) => EngineError::Unreachable(e.to_string()),
        sqlx::Error::Tls(e) => EngineError::Tls(e.to_string()),
        sqlx::Error::Configuration(e) => EngineError::InvalidSpec(e.to_string()),
        sqlx::Error::PoolTimedOut => EngineError::PoolExhausted,
        sqlx::Error::PoolClosed => EngineError::Other("the connection pool is closed".into()),
        sqlx::Error::WorkerCrashed => {
            EngineError::Other("the SQLite worker thread stopped unexpectedly".into())
        }
        other => EngineError::Other(other.to_string()),
    }
}

/// rustls reports handshake and certificate failures as I/O errors (`InvalidData` wrapping its
/// own error); they are TLS problems, not an unreachable server.
fn is_tls_failure(e: &std::io::Error) -> bool {
    if !matches!(
        e.kind(),
        std::io::ErrorKind::InvalidData | std::io::ErrorKind::Other
    ) {
        return false;
    }
    let text = e.to_string().to_ascii_lowercase();
    ["certificate", "handshake", "tls", "alert received"]
        .iter()
        .any(|w| text.contains(w))
}

fn postgres(db: &dyn DatabaseError, timeout_ms: u64) -> EngineError {
    let Some(pg) = db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>() else {
        return EngineError::Query(db.message().to_owned());
    };
    let code = pg.code();
    let message = || match pg.hint() {
        Some(hint) => format!("{} (hint: {hint})", pg.message()),
        None => pg.message().to_owned(),
    };
    match code {
        "28P01" | "28000" => EngineError::AuthFailed(pg.message().to_owned()),
        "3D000" => EngineError::UnknownDatabase(pg.message().to_owned()),
        "25006" => EngineError::ReadOnly(pg.message().to_owned()),
        "57014" => EngineError::Timeout(timeout_ms),
        // admin_shutdown, crash_shutdown, cannot_connect_now, connection exceptions
        "57P01" | "57P02" | "57P03" => EngineError::Unreachable(pg.message().to_owned()),
        c if c.starts_with("08") => EngineError::Unreachable(pg.message().to_owned()),
        _ => EngineError::Query(message()),
    }
}

fn mysql(db: &dyn DatabaseError, timeout_ms: u64) -> EngineError {
    let Some(my) = db.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>() else {
        return EngineError::Query(db.message().to_owned());
    };
    let message = my.message().to_owned();
    match my.number() {
        // access denied for user / for user to database
        1045 | 1044 | 1698 => EngineError::AuthFailed(message),
        1049 => EngineError::UnknownDatabase(message),
        // cannot execute in a READ ONLY transaction; server running with --read-only
        1792 | 1290 | 1836 => EngineError::ReadOnly(message),
        // query interrupted (KILL QUERY), MariaDB max_statement_time, MySQL max_execution_time
        1317 | 1969 | 3024 => EngineError::Timeout(timeout_ms),
        // too many connections, host blocked
        1040 | 1129 | 1130 => EngineError::Unreachable(message),
        _ => EngineError::Query(message),
    }
}

fn sqlite(db: &dyn DatabaseError, timeout_ms: u64) -> EngineError {
    let code = db
        .code()
        .and_then(|c| c.parse::<i32>().ok())
        .unwrap_or_default();
    sqlite_code(code, db.message(), timeout_ms)
}

/// Classifies a SQLite (extended) result code with its message; shared with the raw FFI calls.
pub(crate) fn sqlite_code(code: i32, message: &str, timeout_ms: u64) -> EngineError {
    use libsqlite3_sys as ffi;
    match code & 0xff {
        ffi::SQLITE_READONLY => EngineError::ReadOnly(message.to_owned()),
        ffi::SQLITE_INTERRUPT => EngineError::Timeout(timeout_ms),
        ffi::SQLITE_CANTOPEN => EngineError::UnknownDatabase(message.to_owned()),
        ffi::SQLITE_NOTADB => {
            EngineError::UnknownDatabase(format!("{message} (the file is not a SQLite database)"))
        }
        _ if message.contains("readonly database") => EngineError::ReadOnly(message.to_owned()),
        _ => EngineError::Query(message.to_owned()),
    }
}

impl EngineError {
    /// Replaces every occurrence of `secret` in the message (defence in depth: no driver should
    /// echo a password, but a message must never carry one).
    pub(crate) fn redact(self, secret: Option<&str>) -> EngineError {
        let Some(secret) = secret.filter(|s| s.len() >= 3) else {
            return self;
        };
        let scrub = |m: String| {
            if m.contains(secret) {
                m.replace(secret, "***")
            } else {
                m
            }
        };
        match self {
            EngineError::InvalidSpec(m) => EngineError::InvalidSpec(scrub(m)),
            EngineError::Unreachable(m) => EngineError::Unreachable(scrub(m)),
            EngineError::AuthFailed(m) => EngineError::AuthFailed(scrub(m)),
            EngineError::UnknownDatabase(m) => EngineError::UnknownDatabase(scrub(m)),
            EngineError::Tls(m) => EngineError::Tls(scrub(m)),
            EngineError::ReadOnly(m) => EngineError::ReadOnly(scrub(m)),
            EngineError::Query(m) => EngineError::Query(scrub(m)),
            EngineError::Other(m) => EngineError::Other(scrub(m)),
            e @ (EngineError::Timeout(_) | EngineError::PoolExhausted) => e,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_password() {
        let e = EngineError::Unreachable("failed for pw=s3cret!".into()).redact(Some("s3cret!"));
        assert_eq!(
            e.to_string(),
            "cannot reach the database server: failed for pw=***"
        );
        let e = EngineError::Timeout(5).redact(Some("abc"));
        assert!(matches!(e, EngineError::Timeout(5)));
    }

    #[test]
    fn sqlite_codes() {
        assert!(matches!(
            sqlite_code(8, "attempt to write a readonly database", 1),
            EngineError::ReadOnly(_)
        ));
        assert!(matches!(
            sqlite_code(9, "interrupted", 7),
            EngineError::Timeout(7)
        ));
        assert!(matches!(
            sqlite_code(14, "unable to open", 1),
            EngineError::UnknownDatabase(_)
        ));
        assert!(matches!(
            sqlite_code(1, "no such table: x", 1),
            EngineError::Query(_)
        ));
    }
}
