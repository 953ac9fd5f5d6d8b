//! # crmkit
//!
//! Customer relations as a library: a validated domain model, exact and
//! explainable customer metrics, storage and transport ports.
//!
//! ## A guided tour
//!
//! - [`domain`]: customers with their contact points, consent and time zone;
//!   interactions on every channel; support cases; purchases and
//!   subscriptions; surveys and their responses; [`Money`](domain::Money),
//!   [`Period`](domain::Period) and calendar buckets in any time zone. Invalid
//!   values cannot be constructed, and personal data never shows in `Debug`.
//! - [`metrics`]: calculators as mergeable accumulators.
//! - [`outreach`]: closed-loop follow-up: rules as data, a deterministic
//!   planner (consented channels, quiet hours in the customer's zone, a
//!   frequency cap, stable idempotency keys), an outbox handing messages to
//!   the application's [`Transport`](outreach::Transport) at least once
//!   under one key, and closed-loop metrics.
//! - [`store`]: one storage trait per aggregate with a written contract
//!   (versions and conflicts, atomic units of work, keyset paging, erasure,
//!   export, merge), the in-memory reference store, the SQLite store and a
//!   conformance kit for your own adapters.
//! - [`error`]: one small error enum per operation family, wrapped by
//!   [`Error`].
//!
//! The design, the exact metric definitions and the benchmark workloads are
//! in `DESIGN.md` in the repository.
//!
//! ## Cargo features
//!
//! - `proptest`: [`proptest`](https://docs.rs/proptest) strategies for every
//!   domain type in `crmkit::domain::strategy`, so your own property tests can
//!   draw valid crmkit values.
//! - `csv`: `crmkit::import`, reading customers, purchases, survey
//!   responses, interactions and cases from CSV files with a column mapping,
//!   every rejected row reported with its line and reason; and the exporter
//!   writing them back.
//! - `sqlite`: `crmkit::store::sqlite::SqliteStore`, the embedded store
//!   (rusqlite with SQLite bundled: builds with only the Rust toolchain).
//! - `testkit`: `crmkit::store::testkit` and `crmkit::outreach::testkit`,
//!   the conformance checks every store shipped here passes; call them
//!   from your adapter's tests.
//! - `report`: `crmkit::report`, the customer-relations report computed
//!   from any store (NPS, CSAT, CES, retention, GRR/NRR, cohorts, RFM,
//!   CLV, service and SLAs, the follow-up queue), printed as text or
//!   written as one self-contained HTML page with SVG charts (plotters,
//!   pure Rust: an embedded DejaVu Sans font, no fontconfig).
//! - `synth`: `crmkit::synth`, a deterministic (seeded) generator of
//!   synthetic data for examples, tests and benchmarks, and
//!   `crmkit::metrics::btyd::simulate`, which draws customers and
//!   transactions from the BG/NBD and Gamma-Gamma processes, and
//!   `crmkit::synth::purchases`, purchase ledgers for the value metrics.

#![deny(missing_docs, unused_results)]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod analytics;
pub mod domain;
pub mod error;
#[cfg(feature = "csv")]
#[cfg_attr(docsrs, doc(cfg(feature = "csv")))]
pub mod import;
pub mod metrics;
pub mod outreach;
#[cfg(feature = "report")]
#[cfg_attr(docsrs, doc(cfg(feature = "report")))]
pub mod report;
pub mod store;
#[cfg(feature = "synth")]
pub mod synth;

pub use error::{Error, Result};

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
