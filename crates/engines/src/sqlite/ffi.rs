//! The few direct SQLite C calls sqlx does not offer, made on a locked connection handle.
//!
//! Why: a read-only connection must not `ATTACH` other files (it could read Querypad's own
//! metadata database), which only `sqlite3_limit` can forbid; result columns need their
//! declared types (`sqlite3_column_decltype`), which sqlx reduces to its own categories; and a
//! statement that leaves a transaction open must be detected (`sqlite3_get_autocommit`).
//!
//! Safety: every function takes a [`LockedSqliteHandle`], which guarantees that sqlx's worker
//! thread makes no call on the connection meanwhile, so the raw handle is ours to use.

use crate::classify::sqlite_code;
use crate::{ColumnMeta, EngineError};
use libsqlite3_sys as ffi;
use sqlx::sqlite::LockedSqliteHandle;
use std::ffi::{CStr, c_char, c_int};
use std::ptr;

/// Forbids `ATTACH` on this connection and keeps `query_only` on (a statement may have turned
/// it off; the file is opened read-only anyway, this is the second lock).
pub(super) fn lock_down(handle: &mut LockedSqliteHandle<'_>) {
    let db = handle.as_raw_handle().as_ptr();
    // SAFETY: `db` is a live connection we have exclusive use of while the handle is locked; the
    // SQL is a NUL-terminated literal and no callback is passed.
    unsafe {
        ffi::sqlite3_limit(db, ffi::SQLITE_LIMIT_ATTACHED, 0);
        ffi::sqlite3_exec(
            db,
            c"PRAGMA query_only = 1".as_ptr(),
            None,
            ptr::null_mut(),
            ptr::null_mut(),
        );
    }
}

/// Whether a transaction is open on the connection.
pub(super) fn in_transaction(handle: &mut LockedSqliteHandle<'_>) -> bool {
    let db = handle.as_raw_handle().as_ptr();
    // SAFETY: live, exclusively used connection (see module docs).
    unsafe { ffi::sqlite3_get_autocommit(db) == 0 }
}

/// Prepares `sql` without running it: its result columns (name and declared type, empty for
/// expressions), or the error SQLite reports. More than one statement is refused.
pub(super) fn describe(
    handle: &mut LockedSqliteHandle<'_>,
    sql: &str,
    timeout_ms: u64,
) -> Result<Vec<ColumnMeta>, EngineError> {
    if sql.contains('\0') {
        return Err(EngineError::Query(
            "the statement contains a NUL character".into(),
        ));
    }
    let db = handle.as_raw_handle().as_ptr();
    let mut rest = sql;
    let mut columns = None;
    while !rest.trim().is_empty() {
        let len = c_int::try_from(rest.len())
            .map_err(|_| EngineError::Query("the statement is too long".into()))?;
        let mut stmt: *mut ffi::sqlite3_stmt = ptr::null_mut();
        let mut tail: *const c_char = ptr::null();
        // SAFETY: `rest` is valid for `len` bytes; SQLite reads at most that many and writes the
        // statement and tail pointers we pass.
        let rc =
            unsafe { ffi::sqlite3_prepare_v2(db, rest.as_ptr().cast(), len, &mut stmt, &mut tail) };
        if rc != ffi::SQLITE_OK {
            // SAFETY: live connection; errmsg returns a NUL-terminated string owned by SQLite.
            let (code, message) = unsafe {
                (
                    ffi::sqlite3_extended_errcode(db),
                    CStr::from_ptr(ffi::sqlite3_errmsg(db))
                        .to_string_lossy()
                        .into_owned(),
                )
            };
            return Err(match columns {
                Some(_) => several(),
                None => sqlite_code(code, &message, timeout_ms),
            });
        }
        // SAFETY: on success `tail` points into `rest` (at or after its start, at most its end).
        let consumed = if tail.is_null() {
            rest.len()
        } else {
            (tail as usize)
                .saturating_sub(rest.as_ptr() as usize)
                .min(rest.len())
        };
        if !stmt.is_null() {
            if columns.is_some() {
                // SAFETY: `stmt` came from prepare and is finalized exactly once.
                unsafe { ffi::sqlite3_finalize(stmt) };
                return Err(several());
            }
            // SAFETY: `stmt` is a valid prepared statement until finalized below.
            columns = Some(unsafe { read_columns(stmt) });
            // SAFETY: as above.
            unsafe { ffi::sqlite3_finalize(stmt) };
        }
        if consumed == 0 || !rest.is_char_boundary(consumed) {
            break;
        }
        rest = &rest[consumed..];
    }
    Ok(columns.unwrap_or_default())
}

fn several() -> EngineError {
    EngineError::Query("only one statement can run at a time".into())
}

/// # Safety
/// `stmt` must be a valid, not yet finalized prepared statement.
unsafe fn read_columns(stmt: *mut ffi::sqlite3_stmt) -> Vec<ColumnMeta> {
    let text = |p: *const c_char| {
        if p.is_null() {
            String::new()
        } else {
            // SAFETY: SQLite returns NUL-terminated strings valid until the statement is finalized.
            unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
        }
    };
    // SAFETY: valid statement (caller's contract).
    let n = unsafe { ffi::sqlite3_column_count(stmt) };
    (0..n)
        .map(|i| {
            // SAFETY: `i` is within the column count of a valid statement.
            let (name, decl) = unsafe {
                (
                    ffi::sqlite3_column_name(stmt, i),
                    ffi::sqlite3_column_decltype(stmt, i),
                )
            };
            ColumnMeta {
                name: text(name),
                db_type: text(decl),
            }
        })
        .collect()
}
