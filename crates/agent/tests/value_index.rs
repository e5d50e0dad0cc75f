//! The value index on the demo database: distinct short text values per column, within the caps
//! (values per column, total bytes) and the deadline, and found again in questions.

mod common;

use querypad_agent::linking::words::tokens;
use querypad_agent::{ValueIndex, ValueLimits};
use std::time::Duration;
use tokio::time::Instant;

#[tokio::test]
async fn values_are_sampled_within_the_caps_and_found_in_questions() {
    let target = common::sqlite_target(&querypad_testkit::demo_sqlite()).await;
    let (db, catalog) = (&target.db, &target.catalog);
    let customer = catalog
        .tables
        .iter()
        .position(|t| t.name == "Customer")
        .unwrap();
    let country = catalog.tables[customer]
        .columns
        .iter()
        .position(|c| c.name == "Country")
        .unwrap();

    let full = ValueIndex::build(
        db,
        catalog,
        ValueLimits::default(),
        Instant::now() + Duration::from_secs(20),
    )
    .await;
    assert!(full.complete, "{full:?}");
    let p = full
        .profile(customer, country)
        .expect("Customer.Country sampled");
    assert_eq!(p.values.len(), 24, "24 distinct countries");
    assert!(!p.truncated);
    let hits = full.find(&tokens("customers in the United Kingdom or France", false));
    let found: Vec<(&str, usize, usize)> = hits
        .iter()
        .map(|h| (h.value.as_str(), h.table, h.column))
        .collect();
    assert!(
        found.contains(&("United Kingdom", customer, country)),
        "{found:?}"
    );
    assert!(found.contains(&("France", customer, country)), "{found:?}");
    assert!(
        full.profile(customer, 0).is_none(),
        "integer keys (CustomerId) are not sampled"
    );

    // At most five values per column: kept short, marked truncated.
    let capped = ValueIndex::build(
        db,
        catalog,
        ValueLimits {
            values_per_column: 5,
            ..Default::default()
        },
        Instant::now() + Duration::from_secs(20),
    )
    .await;
    let p = capped.profile(customer, country).unwrap();
    assert!(p.values.len() <= 5 && p.truncated, "{p:?}");
    assert!(capped.bytes < full.bytes);

    // A memory budget stops sampling and says so.
    let small = ValueIndex::build(
        db,
        catalog,
        ValueLimits {
            max_total_bytes: 2_000,
            ..Default::default()
        },
        Instant::now() + Duration::from_secs(20),
    )
    .await;
    assert!(!small.complete);
    assert!(small.profiles().len() < full.profiles().len());

    // A deadline already past: nothing, incomplete, and no error.
    let late = ValueIndex::build(db, catalog, ValueLimits::default(), Instant::now()).await;
    assert!(!late.complete);
    assert!(late.is_empty());
}
