//! crmkit's integration tests: one binary, one module per area.
//!
//! Run them all with `cargo test --all-features`; modules that need a cargo
//! feature are compiled only with it.

#[cfg(feature = "proptest")]
mod domain_props;
mod relationship;
