//! Subscription cohort tables: activity retention and MRR retained.
//!
//! (The definitions are on [`SubscriptionCohortAccumulator`].)

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;

use super::{ActivityCohortAccumulator, CohortSpec, CohortTable, build_table};
use crate::domain::{Currency, Money, PaidUpPolicy, Subscription};
use crate::metrics::activity::{CustomerActivity, RelationshipError, SubscriptionTerm};
use crate::metrics::revenue::{ExchangeRates, mrr_under};

/// One subscriber as a subscription cohort table sees them: their activity
/// and their MRR at the close of each bucket of the spec, in the reporting
/// currency. Built by [`SubscriptionCohortAccumulator::subscriber`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscriber {
    activity: CustomerActivity,
    currency: Currency,
    /// MRR at the close of bucket `i` (zero before the acquisition bucket).
    mrr: Vec<Decimal>,
}

impl Subscriber {
    /// The customer's activity spans.
    pub fn activity(&self) -> &CustomerActivity {
        &self.activity
    }

    /// The MRR at the close of each bucket, from the acquisition bucket on
    /// (zero before it).
    pub fn mrr_at_close(&self) -> impl Iterator<Item = Money> + '_ {
        self.mrr.iter().map(|v| Money::new(*v, self.currency))
    }
}

/// Subscription cohorts: activity retention and MRR retained per cohort
/// and bucket.
///
/// Customers are grouped by the bucket of their acquisition (the start of
/// their first subscription's activity span, under a
/// [`PaidUpPolicy`]). Cell `(c, k)` of a subscription table holds:
///
/// - `share`: the share of cohort `c` active at some instant of bucket
///   `c + k` (as [`ActivityCohortAccumulator`]; the first cell is 100 %);
/// - `revenue`: the cohort's MRR at the **close** of bucket `c + k` (the
///   instant the bucket ends, or the window end for the last, partial
///   one), in the reporting currency, each subscription's MRR converted at
///   that instant; MRR follows [`mrr_under`];
/// - `revenue_retained`: that MRR over the cohort's MRR at the close of its
///   acquisition bucket (`None` when that is zero); it can exceed 1
///   (expansion).
///
/// A customer acquired and gone within their acquisition bucket counts in
/// the first cell's share but adds no MRR at its close.
///
/// Push each customer once, with all their subscriptions. Memory: the
/// table's cells (two numbers per cohort and bucket); merges by addition.
///
/// # Example
/// ```
/// use chrono::{TimeZone, Utc};
/// use crmkit::domain::*;
/// use crmkit::metrics::cohort::{CohortSpec, SubscriptionCohortAccumulator};
/// use crmkit::metrics::revenue::FixedRates;
/// use rust_decimal::Decimal;
/// let at = |m| Utc.with_ymd_and_hms(2026, m, 1, 0, 0, 0).single().ok_or("no such instant");
/// let eur = |v: i64| Money::new(Decimal::from(v), Currency::EUR);
/// let spec = CohortSpec::new(Period::new(at(1)?, at(4)?)?, Granularity::Month, chrono_tz::UTC)?;
/// let mut acc = SubscriptionCohortAccumulator::new(spec, Currency::EUR, PaidUpPolicy::EndsAtCancellation);
/// // Two January subscribers at 100; one upgrades to 300 in February, the other leaves in March.
/// let mut a = Subscription::new(SubscriptionId::from_u128(1), CustomerId::from_u128(1),
///     Segment::new("pro")?, at(1)?, eur(100))?;
/// a.change_mrr(at(2)?, eur(300))?;
/// let mut b = Subscription::new(SubscriptionId::from_u128(2), CustomerId::from_u128(2),
///     Segment::new("pro")?, at(1)?, eur(100))?;
/// b.cancel(at(3)?, None)?;
/// acc.push_subscriptions(&[a], &FixedRates::new())?;
/// acc.push_subscriptions(&[b], &FixedRates::new())?;
/// let jan = acc.finish()?.cohorts.remove(0);
/// // MRR at the close of January (Feb 1): 300 + 100 = 400; of February
/// // (Mar 1, when b is gone) and of March: 300 -> retained 300 / 400 = 0.75.
/// assert_eq!(jan.cells[1].revenue_retained, Some(Decimal::new(75, 2)));
/// assert_eq!(jan.cells[2].revenue_retained, Some(Decimal::new(75, 2)));
/// // Both active in February; only a in March.
/// assert_eq!((jan.cells[1].share, jan.cells[2].share), (Decimal::ONE, Decimal::new(5, 1)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionCohortAccumulator {
    activity: ActivityCohortAccumulator,
    currency: Currency,
    policy: PaidUpPolicy,
    /// Cohort MRR at bucket closes, `[cohort * n + bucket]`.
    revenue: Vec<Decimal>,
}

impl SubscriptionCohortAccumulator {
    /// An empty accumulator reporting MRR in `currency`, with activity and
    /// MRR under `policy`.
    pub fn new(spec: CohortSpec, currency: Currency, policy: PaidUpPolicy) -> Self {
        let n = spec.buckets.len();
        Self {
            activity: ActivityCohortAccumulator::new(spec),
            currency,
            policy,
            revenue: vec![Decimal::ZERO; n * n],
        }
    }

    /// The spec.
    pub fn spec(&self) -> &CohortSpec {
        &self.activity.spec
    }

    /// The reporting currency.
    pub fn currency(&self) -> Currency {
        self.currency
    }

    /// The paid-up policy.
    pub fn policy(&self) -> PaidUpPolicy {
        self.policy
    }

    fn spec_n(&self) -> usize {
        self.activity.spec.buckets.len()
    }

    /// The close of bucket `b`: its end, clipped to the window.
    fn close(&self, b: usize) -> Option<DateTime<Utc>> {
        let secs = self.activity.spec.bounds.get(b + 1)?;
        DateTime::from_timestamp(*secs, 0)
    }

    /// One customer's [`Subscriber`] row from all their subscriptions,
    /// converting MRR into the reporting currency through `rates` at each
    /// bucket close.
    ///
    /// # Errors
    /// [`RelationshipError::EmptyInterval`] for a subscription that ends at
    /// its start under the policy; [`RelationshipError::MissingRate`];
    /// overflow.
    pub fn subscriber(
        &self,
        subscriptions: &[Subscription],
        rates: &impl ExchangeRates,
    ) -> Result<Subscriber, RelationshipError> {
        let mut spans = Vec::with_capacity(subscriptions.len());
        for s in subscriptions {
            spans.push(SubscriptionTerm::from(s).span(self.policy)?);
        }
        let activity = CustomerActivity::from_spans(spans);
        let n = self.spec_n();
        let mut mrr = vec![Decimal::ZERO; n];
        let first = activity
            .acquisition()
            .and_then(|a| self.activity.spec.index_of(a));
        if let Some(c) = first {
            for (b, slot) in mrr.iter_mut().enumerate().skip(c) {
                let Some(close) = self.close(b) else {
                    continue;
                };
                for s in subscriptions {
                    if let Some(m) = mrr_under(s, close, self.policy) {
                        let v = rates.convert(m, self.currency, close)?.amount();
                        *slot = slot.checked_add(v).ok_or(RelationshipError::Overflow {
                            operation: "cohort MRR",
                        })?;
                    }
                }
            }
        }
        Ok(Subscriber {
            activity,
            currency: self.currency,
            mrr,
        })
    }

    /// Adds one customer (each customer once). On error nothing changes.
    ///
    /// # Errors
    /// [`RelationshipError::CurrencyMismatch`] for a row built for another
    /// reporting currency; [`RelationshipError::ConfigMismatch`] for a row
    /// built for another spec; overflow.
    pub fn push(&mut self, subscriber: &Subscriber) -> Result<(), RelationshipError> {
        if subscriber.currency != self.currency {
            return Err(RelationshipError::CurrencyMismatch {
                expected: self.currency,
                found: subscriber.currency,
            });
        }
        let n = self.spec_n();
        if subscriber.mrr.len() != n {
            return Err(RelationshipError::ConfigMismatch {
                what: "cohort spec",
            });
        }
        let cohort = subscriber
            .activity
            .acquisition()
            .filter(|a| *a >= self.activity.spec.window.start())
            .and_then(|a| self.activity.spec.index_of(a));
        let mut updated = Vec::new();
        if let Some(c) = cohort {
            for (b, v) in subscriber.mrr.iter().enumerate().skip(c) {
                let i = c * n + b;
                let cell = self.revenue.get(i).copied().unwrap_or(Decimal::ZERO);
                let sum = cell.checked_add(*v).ok_or(RelationshipError::Overflow {
                    operation: "cohort MRR",
                })?;
                updated.push((i, sum));
            }
        }
        self.activity.push(&subscriber.activity)?;
        for (i, v) in updated {
            if let Some(cell) = self.revenue.get_mut(i) {
                *cell = v;
            }
        }
        Ok(())
    }

    /// [`subscriber`](Self::subscriber) then [`push`](Self::push).
    ///
    /// # Errors
    /// As both.
    pub fn push_subscriptions(
        &mut self,
        subscriptions: &[Subscription],
        rates: &impl ExchangeRates,
    ) -> Result<(), RelationshipError> {
        let row = self.subscriber(subscriptions, rates)?;
        self.push(&row)
    }

    /// Adds another accumulator (customers must not be in both). On error
    /// nothing changes.
    ///
    /// # Errors
    /// [`RelationshipError::ConfigMismatch`] for another spec, currency or
    /// policy; overflow.
    pub fn merge(
        &mut self,
        other: &SubscriptionCohortAccumulator,
    ) -> Result<(), RelationshipError> {
        self.activity.spec.same_config(&other.activity.spec)?;
        if self.currency != other.currency {
            return Err(RelationshipError::ConfigMismatch { what: "currency" });
        }
        if self.policy != other.policy {
            return Err(RelationshipError::ConfigMismatch {
                what: "paid-up policy",
            });
        }
        let revenue = self
            .revenue
            .iter()
            .zip(&other.revenue)
            .map(|(a, b)| {
                a.checked_add(*b).ok_or(RelationshipError::Overflow {
                    operation: "cohort MRR",
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut activity = self.activity.clone();
        activity.merge(&other.activity)?;
        self.activity = activity;
        self.revenue = revenue;
        Ok(())
    }

    /// The table: activity shares and MRR retained.
    ///
    /// # Errors
    /// Overflow.
    pub fn finish(&self) -> Result<CohortTable, RelationshipError> {
        build_table(
            &self.activity.spec,
            &self.activity.grid,
            Some((&self.revenue, self.currency)),
        )
    }
}
