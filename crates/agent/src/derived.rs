//! What runs derive from one cached schema and can share: schema linking's prepared form (join
//! graph, split names) and the sample rows.
//!
//! Why: the server keeps one `Arc<Catalog>` per connection until the schema is re-read; every
//! question on it needs the same join graph (quadratic to build) and split names and mostly the same few sample
//! rows (five round trips to the database). Deriving them once per catalog took them off each
//! run's own time. Entries are keyed by the catalog's allocation and die with it, so a re-read
//! schema starts fresh (samples then describe the same database as the schema).

use crate::context::Samples;
use crate::linking::Prepared;
use querypad_engines::Catalog;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::{Duration, Instant};

/// How long a table's sample rows are reused before they are read again: rows change even
/// when the schema does not, but a sample only illustrates values, so minutes are fine.
const SAMPLE_TTL: Duration = Duration::from_secs(600);

/// Rows of one table (or `None` when reading them failed: not retried until the TTL passes).
type SampleRows = Option<Vec<Vec<serde_json::Value>>>;

/// Shared derivations of one catalog.
#[derive(Default)]
pub struct Derived {
    prepared: OnceLock<Arc<Prepared>>,
    samples: Mutex<HashMap<String, (Instant, SampleRows)>>,
}

impl Derived {
    /// What schema linking derives from the catalog, built on first use.
    pub fn prepared(&self, catalog: &Catalog) -> Arc<Prepared> {
        self.prepared
            .get_or_init(|| Arc::new(Prepared::new(catalog)))
            .clone()
    }

    /// Sample rows still fresh for `tables`, and the tables that must be read.
    pub fn cached_samples(&self, tables: &[String]) -> (Samples, Vec<String>) {
        let now = Instant::now();
        let cache = self.samples.lock().unwrap_or_else(|p| p.into_inner());
        let mut hit = Samples::new();
        let mut miss = Vec::new();
        for t in tables {
            match cache.get(t) {
                Some((at, rows)) if now.duration_since(*at) < SAMPLE_TTL => {
                    if let Some(rows) = rows {
                        hit.insert(t.clone(), rows.clone());
                    }
                }
                _ => miss.push(t.clone()),
            }
        }
        (hit, miss)
    }

    /// Remembers what reading `table`'s sample gave (`None`: it failed).
    pub fn store_sample(&self, table: String, rows: SampleRows) {
        let mut cache = self.samples.lock().unwrap_or_else(|p| p.into_inner());
        cache.insert(table, (Instant::now(), rows));
    }
}

/// The shared derivations of `catalog` (created on first use, dropped with the catalog).
pub fn for_catalog(catalog: &Arc<Catalog>) -> Arc<Derived> {
    type Cache = Mutex<Vec<(Weak<Catalog>, Arc<Derived>)>>;
    static CACHE: OnceLock<Cache> = OnceLock::new();
    let cache = CACHE.get_or_init(|| Mutex::new(Vec::new()));
    let mut entries = cache.lock().unwrap_or_else(|p| p.into_inner());
    entries.retain(|(w, _)| w.strong_count() > 0);
    if let Some((_, d)) = entries
        .iter()
        .find(|(w, _)| std::ptr::eq(w.as_ptr(), Arc::as_ptr(catalog)))
    {
        return d.clone();
    }
    let derived = Arc::new(Derived::default());
    entries.push((Arc::downgrade(catalog), derived.clone()));
    derived
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_are_kept_per_catalog_and_failures_are_remembered() {
        let a = Arc::new(Catalog::default());
        let b = Arc::new(Catalog::default());
        let da = for_catalog(&a);
        da.store_sample("t".into(), Some(vec![vec![serde_json::json!(1)]]));
        da.store_sample("bad".into(), None);
        let (hit, miss) = for_catalog(&a).cached_samples(&["t".into(), "bad".into(), "u".into()]);
        assert_eq!(hit.get("t"), Some(&vec![vec![serde_json::json!(1)]]));
        assert!(!hit.contains_key("bad"), "a failure is not a sample");
        assert_eq!(
            miss,
            vec!["u".to_string()],
            "a remembered failure is not read again"
        );
        let (hit, miss) = for_catalog(&b).cached_samples(&["t".into()]);
        assert!(hit.is_empty());
        assert_eq!(
            miss,
            vec!["t".to_string()],
            "another catalog shares nothing"
        );
        assert!(Arc::ptr_eq(&for_catalog(&a), &da));
    }
}
