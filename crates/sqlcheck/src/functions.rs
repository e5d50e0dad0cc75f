//! Functions that change something even when called from a SELECT.
//!
//! Why: `SELECT pg_terminate_backend(1)` or `SELECT nextval('s')` is syntactically a query.
//! A read-only session stops some of these, not all (sequences, advisory locks, file access
//! for privileged users), so a query calling one is refused on a read-only connection.
//! Names are compared lowercase and unqualified, so `"NEXTVAL"`, `NEXTVAL` and
//! `pg_catalog.nextval` are all caught. `pg_sleep`/`sleep` are deliberately allowed: they only
//! wait (and tests use them to exercise timeouts).

use sqlparser::ast::ObjectName;

/// Side-effecting functions of PostgreSQL, MySQL/MariaDB and SQLite (lowercase).
const DENYLIST: &[&str] = &[
    // PostgreSQL: sequences and transaction ids.
    "nextval",
    "setval",
    "txid_current",
    "pg_current_xact_id",
    // PostgreSQL: server and session control.
    "pg_terminate_backend",
    "pg_cancel_backend",
    "pg_reload_conf",
    "pg_rotate_logfile",
    "set_config",
    "pg_switch_wal",
    "pg_create_restore_point",
    "pg_promote",
    "pg_backup_start",
    "pg_backup_stop",
    "pg_start_backup",
    "pg_stop_backup",
    "pg_wal_replay_pause",
    "pg_wal_replay_resume",
    "pg_log_backend_memory_contexts",
    "pg_create_physical_replication_slot",
    "pg_create_logical_replication_slot",
    "pg_drop_replication_slot",
    "pg_logical_emit_message",
    "pg_notify",
    // PostgreSQL: server files and large objects.
    "pg_read_file",
    "pg_read_binary_file",
    "pg_ls_dir",
    "pg_stat_file",
    "pg_file_write",
    "pg_file_unlink",
    "pg_file_rename",
    "lo_import",
    "lo_export",
    "lo_unlink",
    "lo_create",
    "lo_creat",
    "lo_from_bytea",
    "lo_put",
    "lo_truncate",
    // PostgreSQL: other servers.
    "dblink",
    "dblink_exec",
    "dblink_connect",
    "dblink_connect_u",
    "dblink_send_query",
    // PostgreSQL: advisory locks.
    "pg_advisory_lock",
    "pg_advisory_lock_shared",
    "pg_advisory_xact_lock",
    "pg_advisory_xact_lock_shared",
    "pg_try_advisory_lock",
    "pg_try_advisory_lock_shared",
    "pg_try_advisory_xact_lock",
    "pg_try_advisory_xact_lock_shared",
    "pg_advisory_unlock",
    "pg_advisory_unlock_shared",
    "pg_advisory_unlock_all",
    // MySQL / MariaDB.
    "load_file",
    "get_lock",
    "release_lock",
    "release_all_locks",
    "sys_exec",
    "sys_eval",
    // SQLite (extensions and the CLI's file functions).
    "load_extension",
    "writefile",
    "readfile",
    "edit",
    "fts3_tokenizer",
];

/// The lowercase name of the function when it is on the denylist.
pub(crate) fn forbidden(name: &ObjectName) -> Option<String> {
    let ident = name.0.last()?.as_ident()?;
    let lower = ident.value.to_lowercase();
    DENYLIST.contains(&lower.as_str()).then_some(lower)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlparser::ast::Ident;

    fn name(parts: &[Ident]) -> ObjectName {
        ObjectName::from(parts.to_vec())
    }

    #[test]
    fn matches_case_insensitively_and_unqualified() {
        assert_eq!(
            forbidden(&name(&[Ident::new("NextVal")])),
            Some("nextval".into())
        );
        assert_eq!(
            forbidden(&name(&[
                Ident::new("pg_catalog"),
                Ident::new("pg_terminate_backend")
            ])),
            Some("pg_terminate_backend".into())
        );
        assert_eq!(
            forbidden(&name(&[Ident::with_quote('"', "nextval")])),
            Some("nextval".into())
        );
    }

    #[test]
    fn allows_ordinary_and_sleeping_functions() {
        for f in ["count", "pg_sleep", "sleep", "currval", "now", "lower"] {
            assert_eq!(forbidden(&name(&[Ident::new(f)])), None, "{f}");
        }
    }

    #[test]
    fn denylist_is_lowercase_and_unique() {
        for (i, f) in DENYLIST.iter().enumerate() {
            assert_eq!(*f, f.to_lowercase());
            assert!(!DENYLIST[..i].contains(f), "{f} listed twice");
        }
    }
}
