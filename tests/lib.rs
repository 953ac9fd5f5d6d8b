//! crmkit's integration tests: one binary, one module per area.
//!
//! Run them all with `cargo test --all-features`; modules that need a cargo
//! feature are compiled only with it.

#[cfg(feature = "proptest")]
mod domain_props;
#[cfg(feature = "csv")]
mod import;
mod ledger;
#[cfg(all(feature = "sqlite", feature = "testkit"))]
mod outbox_store;
mod outreach;
mod service;
#[cfg(feature = "testkit")]
mod store_memory;
#[cfg(all(feature = "proptest", feature = "sqlite", feature = "testkit"))]
mod store_props;
#[cfg(all(feature = "sqlite", feature = "testkit"))]
mod store_sqlite;
mod survey_metrics;
#[cfg(feature = "synth")]
mod synth_business;

mod btyd;
mod btyd_parallel;
mod relationship;
mod relationship_store;
#[cfg(feature = "report")]
mod report;
