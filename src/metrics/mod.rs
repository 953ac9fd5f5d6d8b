//! Metric calculators: pure, exact and explainable.
//!
//! Calculators do no I/O and read no clock. Every decomposable statistic is
//! an accumulator: push observations, merge partial accumulators (from other
//! threads, cursors or machines), finish into a result that carries the
//! counts it came from.

pub mod accumulator;
pub mod activity;
pub mod btyd;
pub mod ces;
pub mod cohort;
pub mod columnar;
pub mod csat;
mod dense;
pub mod group;
pub mod interval;
pub mod latest;
pub mod ledger;
pub mod nps;
pub mod rate;
pub mod response;
pub mod retention;
pub mod revenue;
pub mod rfm;
pub mod score;
pub mod service;
pub mod value;
