//! The customer-relations domain: customers, interactions, cases, purchases,
//! subscriptions, surveys, money, periods and business calendars.
//!
//! Every type validates on construction and on deserialisation (serde goes
//! through the same `TryFrom` as the constructors), so a value that exists is
//! valid. Rejections are [`ValidationError`](crate::error::ValidationError)s
//! naming the field and the value.
//!
//! Personal data (names, contact points, addresses, free text) is wrapped in
//! [`Personal`], which `Debug` prints as `<redacted>`; `erase` operations
//! replace it and keep the anonymous facts metrics need.
//!
//! Mutable aggregates (customers, interactions, cases, subscriptions,
//! surveys) are stored as [`Versioned`] values for optimistic concurrency;
//! facts (purchases, survey responses, case events) are immutable once
//! recorded, and corrections are new facts.

mod calendar;
mod case;
mod channel;
mod customer;
mod id;
mod interaction;
mod money;
mod period;
mod personal;
mod purchase;
mod subscription;
mod survey;
mod version;

#[cfg(any(test, feature = "proptest"))]
pub mod strategy;

pub use calendar::*;
pub(crate) use case::next_status as case_status_after;
pub use case::*;
pub use channel::*;
pub use customer::*;
pub use id::*;
pub use interaction::*;
pub use money::*;
pub use period::*;
pub use personal::*;
pub use purchase::*;
pub use subscription::*;
pub use survey::*;
pub use version::*;
