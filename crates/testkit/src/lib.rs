//! Test support shared by every crate's tests: where the real database servers and datasets are.
//!
//! Tests that need a server read its URL from the environment that `.ci/run` (through
//! `scripts/test-services.sh`) sets. Without it they skip, saying so on stderr, so `cargo test`
//! still works on a laptop with no databases.
//!
//! [`fake_llm`] runs fake Anthropic and OpenAI-compatible servers on loopback for LLM tests.

pub mod fake_llm;

use std::path::PathBuf;

/// PostgreSQL base URL (no database) from `QUERYPAD_TEST_PG_URL`, joined with `database`.
/// Returns `None` and prints a skip line when the variable is unset, so callers can `return`.
pub fn pg_url(database: &str) -> Option<String> {
    server_url("QUERYPAD_TEST_PG_URL", database)
}

/// MariaDB/MySQL base URL (no database) from `QUERYPAD_TEST_MYSQL_URL`, joined with `database`.
pub fn mysql_url(database: &str) -> Option<String> {
    server_url("QUERYPAD_TEST_MYSQL_URL", database)
}

fn server_url(var: &str, database: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(base) if !base.is_empty() => {
            Some(format!("{}/{}", base.trim_end_matches('/'), database))
        }
        _ => {
            eprintln!("SKIP: {var} is not set (run scripts/test-services.sh); skipping this test");
            None
        }
    }
}

/// The repository root, found from this crate's manifest directory.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The bundled demo database shipped with the product (Chinook, SQLite).
pub fn demo_sqlite() -> PathBuf {
    repo_root().join("crates/server/assets/chinook.sqlite")
}

/// Copies the demo database to a fresh temporary file, for tests that write or must not share.
pub fn demo_sqlite_copy() -> tempfile_path::TempPath {
    let dir =
        std::env::temp_dir().join(format!("querypad-test-{}-{}", std::process::id(), unique()));
    std::fs::create_dir_all(&dir).expect("create temp dir");
    let path = dir.join("chinook.sqlite");
    std::fs::copy(demo_sqlite(), &path).expect("copy demo database");
    tempfile_path::TempPath { dir, path }
}

/// A process-unique number for naming scratch tables, files and databases.
pub fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos() as u64)
        .unwrap_or(0);
    (NEXT.fetch_add(1, Ordering::Relaxed) << 32) ^ nanos
}

/// The shared datasets folder (`../shared/datasets`), or `QUERYPAD_DATASETS` when set.
pub fn datasets_dir() -> PathBuf {
    std::env::var_os("QUERYPAD_DATASETS")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("../shared/datasets"))
}

/// A temporary directory removed on drop.
pub mod tempfile_path {
    use std::path::{Path, PathBuf};

    /// A file inside a private temporary directory; the directory is removed on drop.
    pub struct TempPath {
        pub(crate) dir: PathBuf,
        pub(crate) path: PathBuf,
    }

    impl TempPath {
        /// The file's path.
        pub fn path(&self) -> &Path {
            &self.path
        }
        /// The private directory holding the file.
        pub fn dir(&self) -> &Path {
            &self.dir
        }
    }

    impl Drop for TempPath {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// A fresh temporary directory removed on drop.
pub fn temp_dir() -> tempfile_path::TempPath {
    let dir =
        std::env::temp_dir().join(format!("querypad-test-{}-{}", std::process::id(), unique()));
    std::fs::create_dir_all(&dir).expect("create temp dir");
    tempfile_path::TempPath {
        path: dir.clone(),
        dir,
    }
}
