//! Activity spans: who counts as an active customer at an instant.
//!
//! A customer's activity is a set of half-open spans `[start, end)` (an open
//! end means "still active"). Spans come either from contractual data
//! (subscriptions: start, cancellation, paid-through) or from purchases (a
//! purchase at `t` makes the customer active on `[t, t + window)`). A
//! customer's acquisition is the start of their first span.
//!
//! This module also holds [`RelationshipError`], the one error enum shared by
//! the relationship and value metrics ([`retention`](super::retention),
//! [`revenue`](super::revenue), [`cohort`](super::cohort),
//! [`value`](super::value), [`rfm`](super::rfm)).

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use chrono::{DateTime, Duration, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::domain::{Currency, CustomerId, Money, Purchase, Subscription};
use crate::error::MoneyError;

/// An error from the relationship and value metrics (activity, retention,
/// revenue retention, cohorts, CLV, RFM).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RelationshipError {
    /// A span, period or window of zero or negative length.
    #[error("{what} must have a positive length: start {start}, end {end}")]
    EmptyInterval {
        /// What was empty (`span`, `window`, `period`).
        what: &'static str,
        /// Its start.
        start: String,
        /// Its end.
        end: String,
    },
    /// A sale (not a refund) with a negative amount.
    #[error("customer {customer}: a sale at {at} has a negative amount {amount}")]
    NegativeAmount {
        /// The customer.
        customer: CustomerId,
        /// When the sale happened.
        at: DateTime<Utc>,
        /// The rejected amount.
        amount: Decimal,
    },
    /// A negative revenue where only revenue at or above zero makes sense
    /// (a customer's revenue at the start of a period).
    #[error("customer revenue must not be negative: {amount}")]
    NegativeRevenue {
        /// The rejected amount.
        amount: Decimal,
    },
    /// A purchase dated before the customer's recorded acquisition.
    #[error("customer {customer}: purchase at {at} is before their acquisition at {acquired}")]
    PurchaseBeforeAcquisition {
        /// The customer.
        customer: CustomerId,
        /// When the purchase happened.
        at: DateTime<Utc>,
        /// When the customer was acquired.
        acquired: DateTime<Utc>,
    },
    /// An amount in a currency other than the calculator's, without
    /// conversion.
    #[error("amount in {found} given to a calculator in {expected}; convert it first")]
    CurrencyMismatch {
        /// The calculator's (reporting) currency.
        expected: Currency,
        /// The amount's currency.
        found: Currency,
    },
    /// The exchange-rate port has no rate for a pair of currencies.
    #[error("no exchange rate from {from} to {to}")]
    MissingRate {
        /// Source currency.
        from: Currency,
        /// Target currency.
        to: Currency,
    },
    /// An exchange rate that is zero or negative.
    #[error("exchange rate from {from} to {to} must be positive, got {rate}")]
    InvalidRate {
        /// Source currency.
        from: Currency,
        /// Target currency.
        to: Currency,
        /// The rejected rate.
        rate: Decimal,
    },
    /// Arithmetic overflowed `Decimal` or a counter.
    #[error("{operation} overflowed")]
    Overflow {
        /// The operation.
        operation: &'static str,
    },
    /// Money arithmetic failed.
    #[error(transparent)]
    Money(#[from] MoneyError),
    /// The denominator of a rate is zero (no customers at the start, no
    /// start revenue, an empty cohort): there is nothing to report.
    #[error("no data: {what}")]
    NoData {
        /// What was empty.
        what: &'static str,
    },
    /// A formula whose value is undefined or infinite for these inputs.
    #[error("{formula} is undefined: {reason}")]
    Undefined {
        /// The formula.
        formula: &'static str,
        /// Why.
        reason: &'static str,
    },
    /// A parameter outside its allowed range.
    #[error("{parameter} is out of range: {value} is not in {range}")]
    OutOfRange {
        /// The parameter.
        parameter: &'static str,
        /// The rejected value.
        value: String,
        /// The allowed range.
        range: &'static str,
    },
    /// Two accumulators configured differently cannot be merged.
    #[error("cannot merge accumulators with different {what}")]
    ConfigMismatch {
        /// The setting that differs.
        what: &'static str,
    },
}

/// The [`MergeError`](crate::metrics::accumulator::MergeError) of a failed
/// merge of `accumulator`s (for the [`Accumulator`](crate::metrics::accumulator::Accumulator)
/// impls of the relationship metrics).
pub(crate) fn merge_error(
    accumulator: &'static str,
    e: RelationshipError,
) -> crate::metrics::accumulator::MergeError {
    use crate::metrics::accumulator::MergeError;
    match e {
        RelationshipError::Overflow { .. } => MergeError::Overflow { accumulator },
        RelationshipError::ConfigMismatch { what } => {
            MergeError::config(accumulator, format!("different {what}"))
        }
        other => MergeError::Inconsistent {
            accumulator,
            reason: other.to_string(),
        },
    }
}

/// A fast, deterministic hasher for [`CustomerId`] keys (FxHash-style).
///
/// Customer ids are UUIDs chosen by the application, not by an attacker
/// racing a hash table, and the per-customer maps here are the hot loop of
/// the value benchmarks, so a multiplicative hash replaces SipHash.
#[derive(Default, Clone, Copy)]
pub(crate) struct IdHasher(u64);

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        // murmur3's fmix64: spreads every input bit over the low bits that
        // pick the bucket (sequential ids differ only in their last bytes).
        let mut x = self.0;
        x ^= x >> 33;
        x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
        x ^= x >> 33;
        x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        x ^ (x >> 33)
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        for &b in chunks.remainder() {
            self.add(u64::from(b));
        }
    }
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }
}

impl IdHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

/// A map keyed by customer with the fast hasher.
pub(crate) type CustomerMap<V> = HashMap<CustomerId, V, BuildHasherDefault<IdHasher>>;

/// One span of activity `[start, end)`; `end == None` means still active.
///
/// # Example
/// ```
/// use chrono::{TimeZone, Utc};
/// use crmkit::metrics::activity::ActivitySpan;
/// let jan = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
/// let feb = Utc.with_ymd_and_hms(2026, 2, 1, 0, 0, 0).unwrap();
/// let span = ActivitySpan::new(jan, Some(feb))?;
/// assert!(span.contains(jan));
/// assert!(!span.contains(feb));
/// assert!(ActivitySpan::new(feb, Some(feb)).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "SpanRepr")]
pub struct ActivitySpan {
    start: DateTime<Utc>,
    end: Option<DateTime<Utc>>,
}

#[derive(Deserialize)]
struct SpanRepr {
    start: DateTime<Utc>,
    end: Option<DateTime<Utc>>,
}

impl TryFrom<SpanRepr> for ActivitySpan {
    type Error = RelationshipError;
    fn try_from(r: SpanRepr) -> Result<Self, Self::Error> {
        ActivitySpan::new(r.start, r.end)
    }
}

impl ActivitySpan {
    /// The span `[start, end)`, or `[start, ∞)` when `end` is `None`.
    ///
    /// # Errors
    /// [`RelationshipError::EmptyInterval`] unless `start < end`.
    pub fn new(
        start: DateTime<Utc>,
        end: Option<DateTime<Utc>>,
    ) -> Result<Self, RelationshipError> {
        match end {
            Some(end) if end <= start => Err(RelationshipError::EmptyInterval {
                what: "span",
                start: start.to_rfc3339(),
                end: end.to_rfc3339(),
            }),
            _ => Ok(Self { start, end }),
        }
    }

    /// First active instant.
    pub const fn start(&self) -> DateTime<Utc> {
        self.start
    }

    /// First instant no longer active (`None`: still active).
    pub const fn end(&self) -> Option<DateTime<Utc>> {
        self.end
    }

    /// Whether `start <= instant < end`.
    pub fn contains(&self, instant: DateTime<Utc>) -> bool {
        self.start <= instant && self.end.is_none_or(|end| instant < end)
    }

    /// Whether the span shares an instant with `[start, end)`.
    pub fn overlaps(&self, start: DateTime<Utc>, end: DateTime<Utc>) -> bool {
        self.start < end && self.end.is_none_or(|e| start < e)
    }
}

/// One customer's activity: spans sorted by start, overlapping or touching
/// spans merged, so no two spans share or abut an instant.
///
/// # Example
/// ```
/// use chrono::{Duration, TimeZone, Utc};
/// use crmkit::metrics::activity::{ActivitySpan, CustomerActivity};
/// let t = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
/// let d = Duration::days(1);
/// let a = CustomerActivity::from_spans([
///     ActivitySpan::new(t + d * 5, Some(t + d * 9))?,
///     ActivitySpan::new(t, Some(t + d * 5))?, // touches: merged
/// ]);
/// assert_eq!(a.spans().len(), 1);
/// assert_eq!(a.acquisition(), Some(t));
/// assert!(a.is_active_at(t + d * 8));
/// assert!(!a.is_active_at(t + d * 9));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerActivity {
    spans: Vec<ActivitySpan>,
}

impl CustomerActivity {
    /// Normalises spans in any order: sorts them and merges overlapping or
    /// touching ones.
    pub fn from_spans(spans: impl IntoIterator<Item = ActivitySpan>) -> Self {
        let mut spans: Vec<ActivitySpan> = spans.into_iter().collect();
        spans.sort_unstable();
        let mut merged: Vec<ActivitySpan> = Vec::with_capacity(spans.len());
        for span in spans {
            match merged.last_mut() {
                Some(last) if last.end.is_none_or(|end| span.start <= end) => {
                    last.end = match (last.end, span.end) {
                        (Some(a), Some(b)) => Some(a.max(b)),
                        _ => None,
                    };
                }
                _ => merged.push(span),
            }
        }
        Self { spans: merged }
    }

    /// The spans, sorted, disjoint and not touching.
    pub fn spans(&self) -> &[ActivitySpan] {
        &self.spans
    }

    /// The start of the first span: when the customer was acquired.
    pub fn acquisition(&self) -> Option<DateTime<Utc>> {
        self.spans.first().map(|s| s.start)
    }

    /// Whether some span contains `instant`.
    pub fn is_active_at(&self, instant: DateTime<Utc>) -> bool {
        // The last span starting at or before `instant` is the only candidate.
        let idx = self.spans.partition_point(|s| s.start <= instant);
        idx.checked_sub(1)
            .and_then(|i| self.spans.get(i))
            .is_some_and(|s| s.contains(instant))
    }

    /// Whether some span shares an instant with `[start, end)`.
    pub fn is_active_during(&self, start: DateTime<Utc>, end: DateTime<Utc>) -> bool {
        let idx = self.spans.partition_point(|s| s.start < end);
        idx.checked_sub(1)
            .and_then(|i| self.spans.get(i))
            .is_some_and(|s| s.overlaps(start, end))
    }
}

/// Whether a customer who cancelled but has paid up to a later date is
/// still active until then (the domain's policy, re-exported here). Activity
/// built from subscriptions always takes it explicitly.
pub use crate::domain::PaidUpPolicy;

/// A subscription term as the activity calculator needs it: the customer,
/// when it started, when it was cancelled and until when it is paid.
///
/// Built from a domain [`Subscription`] with `SubscriptionTerm::from`, or
/// by hand; a customer may have several (their spans are merged).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubscriptionTerm {
    /// The subscriber.
    pub customer: CustomerId,
    /// Start of the subscription.
    pub start: DateTime<Utc>,
    /// When it was cancelled, if it was.
    pub cancelled_at: Option<DateTime<Utc>>,
    /// The end of the last paid service period, if known.
    pub paid_through: Option<DateTime<Utc>>,
}

impl SubscriptionTerm {
    /// The activity span of this term under a policy: open while not
    /// cancelled; after a cancellation, it ends at the cancellation or (with
    /// [`PaidUpPolicy::ActiveUntilPaidThrough`]) at the later of the
    /// cancellation and the paid-through date.
    ///
    /// # Errors
    /// [`RelationshipError::EmptyInterval`] when the resulting end is not
    /// after the start (cancelled at or before the start).
    pub fn span(&self, policy: PaidUpPolicy) -> Result<ActivitySpan, RelationshipError> {
        let end = self
            .cancelled_at
            .map(|c| match (policy, self.paid_through) {
                (PaidUpPolicy::ActiveUntilPaidThrough, Some(p)) => c.max(p),
                _ => c,
            });
        ActivitySpan::new(self.start, end)
    }
}

impl From<&Subscription> for SubscriptionTerm {
    fn from(s: &Subscription) -> Self {
        Self {
            customer: s.customer(),
            start: s.started_at(),
            cancelled_at: s.cancelled_at(),
            paid_through: s.paid_through(),
        }
    }
}

/// Whether a purchase is a sale or a refund.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TransactionKind {
    /// A sale: adds revenue and counts as a purchase.
    Sale,
    /// A refund: subtracts revenue and is not a purchase.
    Refund,
}

/// One purchase fact as the value metrics need it: customer, instant, kind,
/// amount and (optionally) margin.
///
/// Amounts are stored signed: sales positive, refunds negative. A sale with
/// a negative amount is rejected (a correction is a refund).
///
/// # Example
/// ```
/// use chrono::{TimeZone, Utc};
/// use crmkit::domain::{Currency, CustomerId, Money};
/// use crmkit::metrics::activity::Transaction;
/// use rust_decimal::Decimal;
/// let c = CustomerId::from_u128(1);
/// let t = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
/// let eur = |v: i64| Money::new(Decimal::from(v), Currency::EUR);
/// assert!(Transaction::sale(c, t, eur(-5), None).is_err());
/// let refund = Transaction::refund(c, t, eur(5), None)?;
/// assert_eq!(refund.signed_amount().amount(), Decimal::from(-5));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transaction {
    customer: CustomerId,
    at: DateTime<Utc>,
    kind: TransactionKind,
    amount: Money,
    margin: Option<Decimal>,
}

impl Transaction {
    /// A sale of `amount` (at or above zero) with an optional margin in the
    /// same currency (a margin may be negative: a loss-making sale).
    ///
    /// # Errors
    /// [`RelationshipError::NegativeAmount`] for a negative amount;
    /// [`RelationshipError::CurrencyMismatch`] for a margin in another currency.
    pub fn sale(
        customer: CustomerId,
        at: DateTime<Utc>,
        amount: Money,
        margin: Option<Money>,
    ) -> Result<Self, RelationshipError> {
        if amount.is_negative() {
            return Err(RelationshipError::NegativeAmount {
                customer,
                at,
                amount: amount.amount(),
            });
        }
        let margin = check_margin(amount.currency(), margin)?;
        Ok(Self {
            customer,
            at,
            kind: TransactionKind::Sale,
            amount,
            margin,
        })
    }

    /// A refund of `amount` (given as a positive or negative amount; it is
    /// stored negative), with the margin given back, if known (stored with
    /// its sign flipped, as the domain's `signed_margin`).
    ///
    /// # Errors
    /// [`RelationshipError::CurrencyMismatch`] for a margin in another currency.
    pub fn refund(
        customer: CustomerId,
        at: DateTime<Utc>,
        amount: Money,
        margin: Option<Money>,
    ) -> Result<Self, RelationshipError> {
        let margin = check_margin(amount.currency(), margin)?.map(|m| -m);
        Ok(Self {
            customer,
            at,
            kind: TransactionKind::Refund,
            amount: Money::new(-amount.amount().abs(), amount.currency()),
            margin,
        })
    }

    /// The customer.
    pub const fn customer(&self) -> CustomerId {
        self.customer
    }

    /// When it happened.
    pub const fn at(&self) -> DateTime<Utc> {
        self.at
    }

    /// Sale or refund.
    pub const fn kind(&self) -> TransactionKind {
        self.kind
    }

    /// The amount, positive for sales and negative for refunds.
    pub const fn signed_amount(&self) -> Money {
        self.amount
    }

    /// The margin, signed like the amount, if known.
    pub fn margin(&self) -> Option<Money> {
        self.margin.map(|m| Money::new(m, self.amount.currency()))
    }

    /// Whether this is a sale.
    pub fn is_sale(&self) -> bool {
        self.kind == TransactionKind::Sale
    }

    /// `Ok` when the amount is in `expected`, the calculator's currency.
    pub(crate) fn check_currency(&self, expected: Currency) -> Result<(), RelationshipError> {
        let found = self.amount.currency();
        if found == expected {
            Ok(())
        } else {
            Err(RelationshipError::CurrencyMismatch { expected, found })
        }
    }
}

impl TryFrom<&Purchase> for Transaction {
    type Error = RelationshipError;

    /// The calculators' view of a domain purchase (refund amounts and
    /// margins become negative).
    ///
    /// # Example
    /// ```
    /// use chrono::{DateTime, Utc};
    /// use crmkit::domain::{Currency, CustomerId, Money, Purchase, PurchaseId, PurchaseKind};
    /// use crmkit::metrics::activity::Transaction;
    /// use rust_decimal::Decimal;
    /// let at: DateTime<Utc> = "2026-01-05T09:00:00Z".parse()?;
    /// let p = Purchase::new(PurchaseId::from_u128(1), CustomerId::from_u128(2), at,
    ///     PurchaseKind::Sale, Money::new(Decimal::from(12), Currency::EUR))?;
    /// let t = Transaction::try_from(&p)?;
    /// assert!(t.is_sale());
    /// assert_eq!(t.signed_amount(), p.signed_amount());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn try_from(p: &Purchase) -> Result<Self, Self::Error> {
        if p.is_refund() {
            Transaction::refund(p.customer(), p.occurred_at(), p.amount(), p.margin())
        } else {
            Transaction::sale(p.customer(), p.occurred_at(), p.amount(), p.margin())
        }
    }
}

fn check_margin(
    currency: Currency,
    margin: Option<Money>,
) -> Result<Option<Decimal>, RelationshipError> {
    match margin {
        Some(m) if m.currency() != currency => Err(RelationshipError::CurrencyMismatch {
            expected: currency,
            found: m.currency(),
        }),
        Some(m) => Ok(Some(m.amount())),
        None => Ok(None),
    }
}

/// The activity of many customers.
///
/// # Example
/// ```
/// use chrono::{Duration, TimeZone, Utc};
/// use crmkit::domain::CustomerId;
/// use crmkit::metrics::activity::Activity;
/// let t = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
/// let c = CustomerId::from_u128(1);
/// // Active for 30 days after each purchase.
/// let activity = Activity::from_purchases([(c, t), (c, t + Duration::days(20))], Duration::days(30))?;
/// assert!(activity.is_active_at(c, t + Duration::days(49)));
/// assert!(!activity.is_active_at(c, t + Duration::days(50)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct Activity {
    customers: CustomerMap<CustomerActivity>,
}

impl Activity {
    /// Activity from per-customer spans (in any order).
    pub fn from_spans(spans: impl IntoIterator<Item = (CustomerId, ActivitySpan)>) -> Self {
        let mut raw: CustomerMap<Vec<ActivitySpan>> = CustomerMap::default();
        for (c, s) in spans {
            raw.entry(c).or_default().push(s);
        }
        Self {
            customers: raw
                .into_iter()
                .map(|(c, s)| (c, CustomerActivity::from_spans(s)))
                .collect(),
        }
    }

    /// Non-contractual activity: a purchase at `t` makes its customer active
    /// on `[t, t + window)`.
    ///
    /// # Errors
    /// [`RelationshipError::EmptyInterval`] for a window of zero or negative
    /// length; [`RelationshipError::Overflow`] when `t + window` is out of
    /// range.
    pub fn from_purchases(
        purchases: impl IntoIterator<Item = (CustomerId, DateTime<Utc>)>,
        window: Duration,
    ) -> Result<Self, RelationshipError> {
        if window <= Duration::zero() {
            return Err(RelationshipError::EmptyInterval {
                what: "window",
                start: "0".into(),
                end: window.to_string(),
            });
        }
        let mut spans = Vec::new();
        for (c, t) in purchases {
            let end = t
                .checked_add_signed(window)
                .ok_or(RelationshipError::Overflow {
                    operation: "purchase + window",
                })?;
            spans.push((c, ActivitySpan::new(t, Some(end))?));
        }
        Ok(Self::from_spans(spans))
    }

    /// Non-contractual activity from sales (refunds do not make anyone
    /// active), `window` as in [`Activity::from_purchases`].
    ///
    /// # Errors
    /// As [`Activity::from_purchases`].
    pub fn from_transactions<'a>(
        transactions: impl IntoIterator<Item = &'a Transaction>,
        window: Duration,
    ) -> Result<Self, RelationshipError> {
        Self::from_purchases(
            transactions
                .into_iter()
                .filter(|t| t.is_sale())
                .map(|t| (t.customer, t.at)),
            window,
        )
    }

    /// Contractual activity from subscription terms under a paid-up policy.
    ///
    /// # Errors
    /// [`RelationshipError::EmptyInterval`] for a term cancelled at or
    /// before its start (under the policy).
    pub fn from_subscriptions(
        terms: impl IntoIterator<Item = SubscriptionTerm>,
        policy: PaidUpPolicy,
    ) -> Result<Self, RelationshipError> {
        let mut spans = Vec::new();
        for term in terms {
            spans.push((term.customer, term.span(policy)?));
        }
        Ok(Self::from_spans(spans))
    }

    /// One customer's activity, if they have any.
    pub fn customer(&self, customer: CustomerId) -> Option<&CustomerActivity> {
        self.customers.get(&customer)
    }

    /// Whether `customer` is active at `instant`.
    pub fn is_active_at(&self, customer: CustomerId, instant: DateTime<Utc>) -> bool {
        self.customers
            .get(&customer)
            .is_some_and(|a| a.is_active_at(instant))
    }

    /// Every customer with their activity (in no particular order).
    pub fn iter(&self) -> impl Iterator<Item = (&CustomerId, &CustomerActivity)> {
        self.customers.iter()
    }

    /// Number of customers with any activity.
    pub fn len(&self) -> usize {
        self.customers.len()
    }

    /// Whether no customer has any activity.
    pub fn is_empty(&self) -> bool {
        self.customers.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn day(d: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap() + Duration::days(d)
    }

    #[test]
    fn spans_merge_and_lookup() {
        let a = CustomerActivity::from_spans([
            ActivitySpan::new(day(10), Some(day(20))).unwrap(),
            ActivitySpan::new(day(0), Some(day(5))).unwrap(),
            ActivitySpan::new(day(15), Some(day(25))).unwrap(),
            ActivitySpan::new(day(30), None).unwrap(),
        ]);
        // [0,5) [10,25) [30,∞)
        assert_eq!(a.spans().len(), 3);
        assert!(a.is_active_at(day(4)));
        assert!(!a.is_active_at(day(5)));
        assert!(a.is_active_at(day(24)));
        assert!(!a.is_active_at(day(25)));
        assert!(a.is_active_at(day(1000)));
        assert!(a.is_active_during(day(5), day(11)));
        assert!(!a.is_active_during(day(5), day(10)));
        assert!(!a.is_active_during(day(25), day(30)));
        assert_eq!(a.acquisition(), Some(day(0)));
    }

    #[test]
    fn purchase_window_and_errors() {
        let c = CustomerId::from_u128(1);
        assert!(matches!(
            Activity::from_purchases([(c, day(0))], Duration::zero()),
            Err(RelationshipError::EmptyInterval { .. })
        ));
        // Purchases on days 0 and 40 with a 30-day window: [0,30) and [40,70).
        let a = Activity::from_purchases([(c, day(40)), (c, day(0))], Duration::days(30)).unwrap();
        assert_eq!(a.customer(c).unwrap().spans().len(), 2);
        assert!(!a.is_active_at(c, day(35)));
    }

    #[test]
    fn paid_up_policy() {
        let term = SubscriptionTerm {
            customer: CustomerId::from_u128(1),
            start: day(0),
            cancelled_at: Some(day(10)),
            paid_through: Some(day(31)),
        };
        assert_eq!(
            term.span(PaidUpPolicy::ActiveUntilPaidThrough)
                .unwrap()
                .end(),
            Some(day(31))
        );
        assert_eq!(
            term.span(PaidUpPolicy::EndsAtCancellation).unwrap().end(),
            Some(day(10))
        );
        let bad = SubscriptionTerm {
            cancelled_at: Some(day(0)),
            paid_through: None,
            ..term
        };
        assert!(bad.span(PaidUpPolicy::ActiveUntilPaidThrough).is_err());
    }

    #[test]
    fn serde_validates_spans() {
        let bad = r#"{"start":"2026-01-02T00:00:00Z","end":"2026-01-01T00:00:00Z"}"#;
        assert!(serde_json::from_str::<ActivitySpan>(bad).is_err());
    }
}
