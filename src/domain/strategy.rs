//! [`proptest`] strategies for every domain type (feature `proptest`).
//!
//! Applications property-test their own code with valid crmkit values:
//!
//! ```
//! use crmkit::domain::strategy;
//! use proptest::prelude::*;
//!
//! proptest!(|(m in strategy::money())| {
//!     prop_assert!(!(m.is_zero() && m.is_negative()));
//! });
//! ```
//!
//! Every value a strategy produces passes the type's validation, and the
//! crate's own property tests use these same strategies.

pub use super::calendar::strategies::*;
pub use super::case::strategies::*;
pub use super::channel::strategies::*;
pub use super::customer::strategies::*;
pub use super::id::strategies::*;
pub use super::interaction::strategies::*;
pub use super::money::strategies::*;
pub use super::period::strategies::*;
pub use super::purchase::strategies::*;
pub use super::subscription::strategies::*;
pub use super::survey::strategies::*;
