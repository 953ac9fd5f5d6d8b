//! Metric calculators: pure, exact and explainable.
//!
//! Calculators do no I/O and read no clock. Every decomposable statistic is
//! an accumulator: push observations, merge partial accumulators (from other
//! threads, cursors or machines), finish into a result that carries the
//! counts it came from.

pub mod activity;
pub mod cohort;
pub mod retention;
pub mod revenue;
pub mod rfm;
pub mod value;
