//! Error types shared across the crate.
//!
//! Each operation family has its own small error enum whose variants say what
//! was wrong and with which value; [`Error`] wraps them all for applications
//! that want one type to propagate with `?`.

use crate::domain::{BusinessTimeError, Currency};

/// A value was rejected by a constructor or by deserialisation.
///
/// Every variant names the field and, where there is one, the offending
/// value, so a rejected import row or API request can be reported precisely.
///
/// Note that `value` is the rejected input as given: if the input is personal
/// data (a malformed e-mail address, say), the message contains it. Log these
/// errors where personal data may be logged, or log only [`ValidationError::field`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ValidationError {
    /// A required text field was empty or only white space.
    #[error("{field} must not be empty")]
    Empty {
        /// The field that was empty.
        field: &'static str,
    },
    /// A text field was longer than allowed.
    #[error("{field} is too long: {len} characters, at most {max} allowed")]
    TooLong {
        /// The field that was too long.
        field: &'static str,
        /// Its length in characters.
        len: usize,
        /// The largest length allowed.
        max: usize,
    },
    /// A value did not have the required format.
    #[error("{field} has an invalid format: {value:?} ({reason})")]
    Format {
        /// The field that was malformed.
        field: &'static str,
        /// The rejected value.
        value: String,
        /// What the format requires.
        reason: &'static str,
    },
    /// A number was outside its allowed range.
    #[error("{field} is out of range: {value} is not in {range}")]
    OutOfRange {
        /// The field that was out of range.
        field: &'static str,
        /// The rejected value.
        value: String,
        /// The allowed range, human readable (for example `0..=10`).
        range: String,
    },
    /// A period or interval whose start is not before its end.
    #[error("{field} must start before it ends: start {start}, end {end}")]
    Order {
        /// The field holding the interval.
        field: &'static str,
        /// The given start.
        start: String,
        /// The given end.
        end: String,
    },
    /// A state change that the workflow does not allow.
    #[error("{field} cannot change from {from} to {to}")]
    Transition {
        /// The field whose state was to change.
        field: &'static str,
        /// The current state.
        from: String,
        /// The requested state.
        to: String,
    },
    /// The same value appeared twice where it must be unique.
    #[error("{field} contains {value} more than once")]
    Duplicate {
        /// The field holding the collection.
        field: &'static str,
        /// The repeated value.
        value: String,
    },
    /// Values that are valid alone but contradict each other.
    #[error("{field} is inconsistent: {reason}")]
    Inconsistent {
        /// The field (or record) that is inconsistent.
        field: &'static str,
        /// What contradicts what.
        reason: String,
    },
}

impl ValidationError {
    /// The name of the field that was rejected, without its value.
    ///
    /// Use it where the value may be personal data and must not be logged.
    ///
    /// # Example
    /// ```
    /// use crmkit::domain::EmailAddress;
    /// let err = EmailAddress::new("not-an-email").unwrap_err();
    /// assert_eq!(err.field(), "email");
    /// ```
    pub fn field(&self) -> &'static str {
        match self {
            Self::Empty { field }
            | Self::TooLong { field, .. }
            | Self::Format { field, .. }
            | Self::OutOfRange { field, .. }
            | Self::Order { field, .. }
            | Self::Transition { field, .. }
            | Self::Duplicate { field, .. }
            | Self::Inconsistent { field, .. } => field,
        }
    }
}

/// An arithmetic operation on [`Money`](crate::domain::Money) failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MoneyError {
    /// The two amounts are in different currencies; convert one first.
    #[error("cannot combine amounts in {left} and {right}")]
    CurrencyMismatch {
        /// Currency of the left operand.
        left: Currency,
        /// Currency of the right operand.
        right: Currency,
    },
    /// The result does not fit in a `Decimal` (about 7.9e28).
    #[error("{operation} overflowed")]
    Overflow {
        /// The operation that overflowed (`add`, `sub`, `mul`, `div`, `sum`).
        operation: &'static str,
    },
    /// Division by zero.
    #[error("division of money by zero")]
    DivisionByZero,
}

/// Any error crmkit returns.
///
/// Operations return their own small error type; this enum wraps them so an
/// application can use one error type with `?`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A value was invalid.
    #[error(transparent)]
    Validation(#[from] ValidationError),
    /// Money arithmetic failed.
    #[error(transparent)]
    Money(#[from] MoneyError),
    /// A CSV import failed as a whole.
    #[cfg(feature = "csv")]
    #[error(transparent)]
    Import(#[from] crate::import::ImportError),
    /// A store operation failed.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// A survey metric could not be computed.
    #[error(transparent)]
    Metric(#[from] crate::metrics::score::MetricError),
    /// A metric over a store could not be computed.
    #[error(transparent)]
    Analytics(#[from] crate::analytics::AnalyticsError),
    /// Business-hours arithmetic failed.
    #[error(transparent)]
    BusinessTime(#[from] BusinessTimeError),
    /// A buy-till-you-die model (summary, fit or prediction) failed.
    #[error(transparent)]
    Btyd(#[from] crate::metrics::btyd::BtydError),
    /// Follow-up planning, the outbox or the dispatcher failed.
    #[error(transparent)]
    Outreach(#[from] crate::outreach::OutreachError),
    /// A relationship or value metric (retention, revenue, cohort, CLV, RFM) failed.
    #[error(transparent)]
    Relationship(#[from] crate::metrics::activity::RelationshipError),
    /// Synthetic data could not be generated.
    #[cfg(feature = "synth")]
    #[error(transparent)]
    Synth(#[from] crate::synth::business::SynthError),
}

/// `Result` with crmkit's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
