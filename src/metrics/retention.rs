//! Customer retention and churn over a period `[s, e)`.
//!
//! Definitions (DESIGN.md, "Relationship metrics"):
//!
//! - S = customers active at `s`; E = customers active at `e`;
//!   N = customers not in S with a span starting in `(s, e]` (so nobody is
//!   in both S and N; every customer in E but not in S is in N).
//! - Classic retention `(E - N) / S`; exact retention `|S ∩ E| / S`;
//!   churn `(S - |S ∩ E|) / S = 1 - exact`.
//!
//! Since `E = |S ∩ E| + |N ∩ E|`, classic = exact − `|N \ E|` / S: the two
//! differ by the customers who arrived *and* left inside the period, which
//! the classic formula subtracts although they were never in S. With many of
//! them the classic value can even go below zero. They are reported as their
//! own counts ([`RetentionCounts::acquired_and_lost`],
//! [`RetentionCounts::reactivated_and_lost`]); churn stays over S.
//!
//! Policies are explicit in [`RetentionOptions`]; whether a cancelled but
//! paid-up subscriber is active is decided when spans are built
//! ([`PaidUpPolicy`](super::activity::PaidUpPolicy)).
//!
//! The accumulator is decomposable over customers: push each customer once
//! with all their spans (partition work by customer), merge partial
//! accumulators by adding counts.

use chrono::{DateTime, Duration, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::accumulator::{Accumulator, MergeError, PortableState};
use super::activity::{Activity, CustomerActivity, RelationshipError, merge_error};
use crate::domain::Period;

/// When a customer who was active before, lapsed, and came back inside the
/// period counts as *reactivated* rather than newly *acquired*.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReactivationPolicy {
    /// Every returning customer is a reactivation (the default).
    #[default]
    Always,
    /// A customer returning after a gap (end of their previous span to the
    /// start of the new one) of at most this length is a reactivation; a
    /// longer gap counts as a new acquisition (a "win-back" treated as new).
    Within(Duration),
}

/// Which N the classic formula `(E - N) / S` subtracts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SamePeriodChurnPolicy {
    /// All of N, including customers who arrived and left inside the period:
    /// the textbook formula (the default).
    #[default]
    Subtract,
    /// Only the newcomers still active at `e`; the classic value then equals
    /// the exact one.
    Exclude,
}

/// The explicit policies of a retention computation.
///
/// # Example
/// ```
/// use chrono::Duration;
/// use crmkit::metrics::retention::{ReactivationPolicy, RetentionOptions};
/// let opts = RetentionOptions {
///     reactivation: ReactivationPolicy::Within(Duration::days(90)),
///     ..RetentionOptions::default()
/// };
/// assert_ne!(opts, RetentionOptions::default());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct RetentionOptions {
    /// When a returning customer is a reactivation (default: always).
    pub reactivation: ReactivationPolicy,
    /// Whether the classic formula subtracts customers acquired and lost in
    /// the period (default: it does, as the textbook formula).
    pub same_period_churn: SamePeriodChurnPolicy,
}

/// The counts behind a retention result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct RetentionCounts {
    /// S: active at the start.
    pub start: u64,
    /// E: active at the end.
    pub end: u64,
    /// N: not active at the start, with a span starting in `(s, e]`
    /// (`acquired + reactivated`).
    pub new: u64,
    /// In S and in E.
    pub retained: u64,
    /// In S, not in E.
    pub churned: u64,
    /// In N, first time a customer (or a win-back beyond the reactivation
    /// window).
    pub acquired: u64,
    /// In N, returning customers.
    pub reactivated: u64,
    /// Acquired inside the period and no longer active at `e`.
    pub acquired_and_lost: u64,
    /// Reactivated inside the period and no longer active at `e`.
    pub reactivated_and_lost: u64,
}

impl RetentionCounts {
    /// Adds `other`, all or nothing: on overflow `self` is unchanged.
    fn add(&mut self, other: &RetentionCounts) -> Result<(), RelationshipError> {
        let mut next = *self;
        next.add_each(other)?;
        *self = next;
        Ok(())
    }

    /// Whether the counts can come from pushing customers: each customer
    /// is in exactly one of retained, churned, acquired, reactivated (or
    /// none), and E = retained + the newcomers still active.
    fn is_consistent(&self) -> bool {
        let newcomers_kept = self
            .acquired
            .checked_sub(self.acquired_and_lost)
            .zip(self.reactivated.checked_sub(self.reactivated_and_lost))
            .and_then(|(a, r)| a.checked_add(r));
        self.retained.checked_add(self.churned) == Some(self.start)
            && self.acquired.checked_add(self.reactivated) == Some(self.new)
            && newcomers_kept.and_then(|k| k.checked_add(self.retained)) == Some(self.end)
    }

    fn add_each(&mut self, other: &RetentionCounts) -> Result<(), RelationshipError> {
        let add = |a: &mut u64, b: u64| -> Result<(), RelationshipError> {
            *a = a.checked_add(b).ok_or(RelationshipError::Overflow {
                operation: "retention count",
            })?;
            Ok(())
        };
        add(&mut self.start, other.start)?;
        add(&mut self.end, other.end)?;
        add(&mut self.new, other.new)?;
        add(&mut self.retained, other.retained)?;
        add(&mut self.churned, other.churned)?;
        add(&mut self.acquired, other.acquired)?;
        add(&mut self.reactivated, other.reactivated)?;
        add(&mut self.acquired_and_lost, other.acquired_and_lost)?;
        add(&mut self.reactivated_and_lost, other.reactivated_and_lost)?;
        Ok(())
    }
}

/// Retention and churn over a period, with the counts behind them.
///
/// Rates are fractions (`1` = 100 %) as exact decimals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Retention {
    /// The counts.
    pub counts: RetentionCounts,
    /// `(E - N) / S` (N per [`SamePeriodChurnPolicy`]); may be negative.
    pub classic: Decimal,
    /// `|S ∩ E| / S`, in `[0, 1]`.
    pub exact: Decimal,
    /// `1 - exact = (S - |S ∩ E|) / S`, in `[0, 1]`.
    pub churn: Decimal,
}

/// A retention accumulator for one period and one set of options.
///
/// # Example
/// ```
/// use chrono::{Duration, TimeZone, Utc};
/// use crmkit::domain::Period;
/// use crmkit::metrics::activity::{ActivitySpan, CustomerActivity};
/// use crmkit::metrics::retention::{RetentionAccumulator, RetentionOptions};
/// let s = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
/// let e = s + Duration::days(31);
/// let mut acc = RetentionAccumulator::new(Period::new(s, e)?, RetentionOptions::default());
/// // Active throughout: retained.
/// acc.push(&CustomerActivity::from_spans([ActivitySpan::new(s - Duration::days(9), None)?]))?;
/// // Active at s, gone by e: churned.
/// acc.push(&CustomerActivity::from_spans([ActivitySpan::new(s, Some(s + Duration::days(3)))?]))?;
/// let r = acc.finish()?;
/// assert_eq!(r.exact, rust_decimal::Decimal::new(5, 1)); // 1 / 2
/// assert_eq!(r.counts.churned, 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RetentionRepr")]
pub struct RetentionAccumulator {
    period: Period,
    options: RetentionOptions,
    counts: RetentionCounts,
}

/// The serialised form, checked on the way in: counts that no sequence of
/// pushes can produce are rejected.
#[derive(Deserialize)]
struct RetentionRepr {
    period: Period,
    options: RetentionOptions,
    counts: RetentionCounts,
}

impl TryFrom<RetentionRepr> for RetentionAccumulator {
    type Error = RelationshipError;
    fn try_from(r: RetentionRepr) -> Result<Self, Self::Error> {
        if !r.counts.is_consistent() {
            return Err(RelationshipError::OutOfRange {
                parameter: "retention counts",
                value: format!("{:?}", r.counts),
                range: "counts of pushed customers (S = retained + churned, N = acquired + reactivated, E = retained + newcomers kept)",
            });
        }
        Ok(Self {
            period: r.period,
            options: r.options,
            counts: r.counts,
        })
    }
}

/// The crate-wide accumulator shape. Observation: one customer's whole
/// activity (push each customer once). `finish` is the inherent
/// [`RetentionAccumulator::finish`], a "no data" error when S = 0. Merge is
/// all or nothing.
///
/// Memory: nine counters, whatever the number of customers; the state is
/// portable ([`PortableState`]).
impl Accumulator for RetentionAccumulator {
    type Observation = CustomerActivity;
    type Output = Result<Retention, RelationshipError>;
    type Error = RelationshipError;

    fn push(&mut self, activity: CustomerActivity) -> Result<(), RelationshipError> {
        RetentionAccumulator::push(self, &activity)
    }

    fn merge(&mut self, other: &Self) -> Result<(), MergeError> {
        RetentionAccumulator::merge(self, other).map_err(|e| merge_error("retention", e))
    }

    fn finish(&self) -> Self::Output {
        RetentionAccumulator::finish(self)
    }

    fn empty_like(&self) -> Self {
        Self::new(self.period, self.options)
    }
}

impl PortableState for RetentionAccumulator {
    const KIND: &'static str = "crmkit.retention";
    const STATE_VERSION: u32 = 1;
}

impl RetentionAccumulator {
    /// An empty accumulator for `period` (a [`Period`] always has positive
    /// length; `Period::new` rejects a zero-length one).
    pub fn new(period: Period, options: RetentionOptions) -> Self {
        Self {
            period,
            options,
            counts: RetentionCounts::default(),
        }
    }

    /// The period.
    pub fn period(&self) -> Period {
        self.period
    }

    /// Classifies one customer (push each customer once, with all spans).
    ///
    /// # Errors
    /// [`RelationshipError::Overflow`] when a counter overflows.
    pub fn push(&mut self, activity: &CustomerActivity) -> Result<(), RelationshipError> {
        let c = classify(
            activity,
            self.period.start(),
            self.period.end(),
            &self.options,
        );
        self.counts.add(&c)
    }

    /// Pushes every customer of an [`Activity`].
    ///
    /// # Errors
    /// As [`RetentionAccumulator::push`].
    pub fn push_all(&mut self, activity: &Activity) -> Result<(), RelationshipError> {
        for (_, a) in activity.iter() {
            self.push(a)?;
        }
        Ok(())
    }

    /// Adds another accumulator's counts (customers must not be in both).
    /// On error `self` is unchanged.
    ///
    /// # Errors
    /// [`RelationshipError::ConfigMismatch`] for another period or other
    /// options; [`RelationshipError::Overflow`].
    pub fn merge(&mut self, other: &RetentionAccumulator) -> Result<(), RelationshipError> {
        if self.period != other.period {
            return Err(RelationshipError::ConfigMismatch { what: "period" });
        }
        if self.options != other.options {
            return Err(RelationshipError::ConfigMismatch { what: "options" });
        }
        self.counts.add(&other.counts)
    }

    /// The counts so far.
    pub fn counts(&self) -> RetentionCounts {
        self.counts
    }

    /// The retention result.
    ///
    /// # Errors
    /// [`RelationshipError::NoData`] when nobody was active at the start
    /// (S = 0).
    pub fn finish(&self) -> Result<Retention, RelationshipError> {
        let c = self.counts;
        if c.start == 0 {
            return Err(RelationshipError::NoData {
                what: "no customer active at the start of the period",
            });
        }
        let s = Decimal::from(c.start);
        let subtracted = match self.options.same_period_churn {
            SamePeriodChurnPolicy::Subtract => c.new,
            SamePeriodChurnPolicy::Exclude => c
                .new
                .saturating_sub(c.acquired_and_lost)
                .saturating_sub(c.reactivated_and_lost),
        };
        let numerator = Decimal::from(c.end) - Decimal::from(subtracted);
        let div = |n: Decimal| {
            n.checked_div(s).ok_or(RelationshipError::Overflow {
                operation: "retention",
            })
        };
        let exact = div(Decimal::from(c.retained))?;
        Ok(Retention {
            counts: c,
            classic: div(numerator)?,
            exact,
            churn: Decimal::ONE - exact,
        })
    }
}

/// The counts (each 0 or 1) of one customer.
fn classify(
    activity: &CustomerActivity,
    s: DateTime<Utc>,
    e: DateTime<Utc>,
    options: &RetentionOptions,
) -> RetentionCounts {
    let mut c = RetentionCounts::default();
    let at_s = activity.is_active_at(s);
    let at_e = activity.is_active_at(e);
    c.end = u64::from(at_e);
    if at_s {
        c.start = 1;
        if at_e {
            c.retained = 1;
        } else {
            c.churned = 1;
        }
        return c;
    }
    let spans = activity.spans();
    // First span starting in (s, e].
    let idx = spans.partition_point(|sp| sp.start() <= s);
    let Some(first_new) = spans.get(idx).filter(|sp| sp.start() <= e) else {
        return c;
    };
    c.new = 1;
    let previous_end = idx
        .checked_sub(1)
        .and_then(|i| spans.get(i))
        .and_then(|sp| sp.end());
    let reactivated = match (previous_end, options.reactivation) {
        (None, _) => false,
        (Some(_), ReactivationPolicy::Always) => true,
        (Some(end), ReactivationPolicy::Within(window)) => first_new.start() - end <= window,
    };
    match (reactivated, at_e) {
        (true, true) => c.reactivated = 1,
        (true, false) => {
            c.reactivated = 1;
            c.reactivated_and_lost = 1;
        }
        (false, true) => c.acquired = 1,
        (false, false) => {
            c.acquired = 1;
            c.acquired_and_lost = 1;
        }
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::activity::ActivitySpan;
    use chrono::TimeZone;
    use proptest::prelude::*;

    fn day(d: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap() + Duration::days(d)
    }

    fn cust(spans: &[(i64, Option<i64>)]) -> CustomerActivity {
        CustomerActivity::from_spans(
            spans
                .iter()
                .map(|&(a, b)| ActivitySpan::new(day(a), b.map(day)).unwrap()),
        )
    }

    fn period() -> Period {
        // [day 100, day 200)
        Period::new(day(100), day(200)).unwrap()
    }

    #[test]
    fn classic_and_exact_disagree_on_acquired_and_lost() {
        let mut acc = RetentionAccumulator::new(period(), RetentionOptions::default());
        acc.push(&cust(&[(0, None)])).unwrap(); // A: in S and E → retained
        acc.push(&cust(&[(0, Some(150))])).unwrap(); // B: in S, not E → churned
        acc.push(&cust(&[(120, Some(160))])).unwrap(); // C: acquired day 120, lost day 160
        acc.push(&cust(&[(130, None)])).unwrap(); // D: acquired day 130, active at e
        acc.push(&cust(&[(300, None)])).unwrap(); // F: after the period, ignored
        let r = acc.finish().unwrap();
        // S = {A, B} = 2, E = {A, D} = 2, N = {C, D} = 2.
        // classic = (E - N) / S = (2 - 2) / 2 = 0
        // exact = |S ∩ E| / S = |{A}| / 2 = 0.5; churn = 1 / 2 = 0.5.
        // They differ by |N \ E| / S = |{C}| / 2 = 0.5: C came and went inside.
        assert_eq!(r.counts.start, 2);
        assert_eq!(r.counts.end, 2);
        assert_eq!(r.counts.new, 2);
        assert_eq!(r.counts.acquired, 2);
        assert_eq!(r.counts.acquired_and_lost, 1);
        assert_eq!(r.classic, Decimal::ZERO);
        assert_eq!(r.exact, Decimal::new(5, 1));
        assert_eq!(r.churn, Decimal::new(5, 1));
    }

    #[test]
    fn classic_can_go_negative_and_exclude_policy() {
        // S = {A} retained; three customers acquired and lost inside.
        let spans: Vec<CustomerActivity> = vec![
            cust(&[(0, None)]),
            cust(&[(110, Some(120))]),
            cust(&[(130, Some(140))]),
            cust(&[(150, Some(160))]),
        ];
        let mut acc = RetentionAccumulator::new(period(), RetentionOptions::default());
        spans.iter().for_each(|s| acc.push(s).unwrap());
        // classic = (E - N) / S = (1 - 3) / 1 = -2; exact = 1 / 1 = 1.
        let r = acc.finish().unwrap();
        assert_eq!(r.classic, Decimal::from(-2));
        assert_eq!(r.exact, Decimal::ONE);
        let opts = RetentionOptions {
            same_period_churn: SamePeriodChurnPolicy::Exclude,
            ..Default::default()
        };
        let mut acc = RetentionAccumulator::new(period(), opts);
        spans.iter().for_each(|s| acc.push(s).unwrap());
        // N counted = 3 - 3 lost = 0 → (1 - 0) / 1 = 1.
        assert_eq!(acc.finish().unwrap().classic, Decimal::ONE);
    }

    #[test]
    fn reactivation_window() {
        // Lapsed on day 50, back on day 150: gap 100 days.
        let c = cust(&[(0, Some(50)), (150, None)]);
        let mut always = RetentionAccumulator::new(period(), RetentionOptions::default());
        always.push(&c).unwrap();
        assert_eq!(always.counts().reactivated, 1);
        assert_eq!(always.counts().acquired, 0);
        let mut short = RetentionAccumulator::new(
            period(),
            RetentionOptions {
                reactivation: ReactivationPolicy::Within(Duration::days(90)),
                ..Default::default()
            },
        );
        short.push(&c).unwrap();
        assert_eq!(short.counts().reactivated, 0);
        assert_eq!(short.counts().acquired, 1);
    }

    #[test]
    fn span_starting_at_e_is_new_and_in_e() {
        // N is (s, e]: a span starting exactly at e is new and active at e.
        let mut acc = RetentionAccumulator::new(period(), RetentionOptions::default());
        acc.push(&cust(&[(200, None)])).unwrap();
        acc.push(&cust(&[(100, None)])).unwrap(); // starts at s: in S, not N
        let c = acc.counts();
        assert_eq!((c.start, c.end, c.new, c.retained), (1, 2, 1, 1));
    }

    #[test]
    fn no_data_and_mismatch() {
        let acc = RetentionAccumulator::new(period(), RetentionOptions::default());
        assert!(matches!(
            acc.finish(),
            Err(RelationshipError::NoData { .. })
        ));
        let mut other = RetentionAccumulator::new(
            Period::new(day(0), day(1)).unwrap(),
            RetentionOptions::default(),
        );
        assert!(other.merge(&acc).is_err());
        // Zero-length periods cannot be built.
        assert!(Period::new(day(5), day(5)).is_err());
    }

    fn arb_customer() -> impl Strategy<Value = CustomerActivity> {
        prop::collection::vec((0i64..300, prop::option::of(1i64..120)), 0..4).prop_map(|v| {
            CustomerActivity::from_spans(
                v.into_iter()
                    .map(|(a, len)| ActivitySpan::new(day(a), len.map(|l| day(a + l))).unwrap()),
            )
        })
    }

    proptest! {
        #[test]
        fn exact_plus_churn_is_one_and_merge_is_one_pass(
            customers in prop::collection::vec(arb_customer(), 0..40),
            split in 0usize..40,
        ) {
            let opts = RetentionOptions::default();
            let mut one = RetentionAccumulator::new(period(), opts);
            customers.iter().for_each(|c| one.push(c).unwrap());
            let split = split.min(customers.len());
            let mut a = RetentionAccumulator::new(period(), opts);
            let mut b = RetentionAccumulator::new(period(), opts);
            customers[..split].iter().for_each(|c| a.push(c).unwrap());
            // Reverse order in the second part: order independence.
            customers[split..].iter().rev().for_each(|c| b.push(c).unwrap());
            a.merge(&b).unwrap();
            prop_assert_eq!(a.counts(), one.counts());
            let c = one.counts();
            prop_assert_eq!(c.start, c.retained + c.churned);
            prop_assert_eq!(c.end, c.retained + c.new - c.acquired_and_lost - c.reactivated_and_lost);
            match one.finish() {
                Ok(r) => {
                    prop_assert_eq!(r.exact + r.churn, Decimal::ONE);
                    prop_assert!(r.exact >= Decimal::ZERO && r.exact <= Decimal::ONE);
                    prop_assert!(r.classic <= r.exact);
                }
                Err(e) => {
                    let no_data = matches!(e, RelationshipError::NoData { .. });
                    prop_assert!(no_data && c.start == 0);
                }
            }
        }

        #[test]
        fn nobody_leaves_means_full_retention(starts in prop::collection::vec(0i64..100, 1..30)) {
            // Every customer starts by s and never ends.
            let mut acc = RetentionAccumulator::new(period(), RetentionOptions::default());
            for s in &starts {
                acc.push(&cust(&[(*s, None)])).unwrap();
            }
            let r = acc.finish().unwrap();
            prop_assert_eq!(r.exact, Decimal::ONE);
            prop_assert_eq!(r.classic, Decimal::ONE);
            prop_assert_eq!(r.churn, Decimal::ZERO);
        }
    }
}
