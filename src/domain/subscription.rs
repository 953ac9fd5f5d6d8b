//! Subscriptions: recurring revenue with a history of MRR changes.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::{Currency, CustomerId, Money, Segment, SubscriptionId};
use crate::error::ValidationError;

/// A change of monthly recurring revenue, in effect from `effective_at`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct MrrChange {
    /// When the new MRR takes effect.
    pub effective_at: DateTime<Utc>,
    /// The MRR from then on (non-negative).
    pub mrr: Money,
}

/// Whether a cancelled subscription counts as active until the end of the
/// period already paid for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaidUpPolicy {
    /// Active until `paid_through` (if later than the cancellation).
    ActiveUntilPaidThrough,
    /// Inactive from the moment of cancellation.
    EndsAtCancellation,
}

/// A subscription to a plan, with its MRR history and cancellation.
///
/// Rules: the first MRR change is at `started_at`; changes are in
/// non-decreasing time order, in the subscription's currency, non-negative,
/// and before any cancellation; the cancellation is not before the start or
/// the last change, happens once, and `paid_through` (the end, exclusive, of
/// the period paid for) is not before the start. Subscriptions are mutable
/// aggregates, stored as [`Versioned`](crate::domain::Versioned) values.
///
/// # Example
/// ```
/// use chrono::{Duration, TimeZone, Utc};
/// use crmkit::domain::*;
/// use rust_decimal::Decimal;
/// let t0 = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).single().ok_or("invalid time")?;
/// let eur = |n| Money::new(Decimal::from(n), Currency::EUR);
/// let mut s = Subscription::new(SubscriptionId::from_u128(1), CustomerId::from_u128(2),
///     Segment::new("pro")?, t0, eur(50))?;
/// s.change_mrr(t0 + Duration::days(31), eur(80))?;
/// s.cancel(t0 + Duration::days(40), Some(t0 + Duration::days(59)))?;
/// assert_eq!(s.mrr_at(t0 + Duration::days(35)), Some(eur(80)));
/// let t = t0 + Duration::days(45);
/// assert!(s.is_active_at(t, PaidUpPolicy::ActiveUntilPaidThrough));
/// assert!(!s.is_active_at(t, PaidUpPolicy::EndsAtCancellation));
/// assert!(s.change_mrr(t, eur(90)).is_err()); // after cancellation
/// let back: Subscription = serde_json::from_str(&serde_json::to_string(&s)?)?;
/// assert_eq!(back, s);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "SubscriptionRepr", into = "SubscriptionRepr")]
pub struct Subscription {
    id: SubscriptionId,
    customer: CustomerId,
    plan: Segment,
    currency: Currency,
    started_at: DateTime<Utc>,
    mrr_changes: Vec<MrrChange>,
    cancelled_at: Option<DateTime<Utc>>,
    paid_through: Option<DateTime<Utc>>,
}

fn check_mrr(mrr: &Money, currency: Currency) -> Result<(), ValidationError> {
    if mrr.currency() != currency {
        return Err(ValidationError::Inconsistent {
            field: "subscription.mrr",
            reason: format!("MRR in {} but subscription in {currency}", mrr.currency()),
        });
    }
    if mrr.is_negative() {
        return Err(ValidationError::OutOfRange {
            field: "subscription.mrr",
            value: mrr.to_string(),
            range: ">= 0".into(),
        });
    }
    Ok(())
}

impl Subscription {
    /// A subscription started at `started_at` with an initial MRR whose
    /// currency becomes the subscription's.
    ///
    /// # Errors
    /// [`ValidationError::OutOfRange`] if `mrr` is negative.
    pub fn new(
        id: SubscriptionId,
        customer: CustomerId,
        plan: Segment,
        started_at: DateTime<Utc>,
        mrr: Money,
    ) -> Result<Self, ValidationError> {
        check_mrr(&mrr, mrr.currency())?;
        Ok(Self {
            id,
            customer,
            plan,
            currency: mrr.currency(),
            started_at,
            mrr_changes: vec![MrrChange {
                effective_at: started_at,
                mrr,
            }],
            cancelled_at: None,
            paid_through: None,
        })
    }

    /// Records a new MRR from `at` on. On error nothing changes.
    ///
    /// # Errors
    /// [`ValidationError::Order`] if `at` is before the last change;
    /// [`ValidationError::Transition`] if the subscription is cancelled;
    /// [`ValidationError::Inconsistent`] for another currency;
    /// [`ValidationError::OutOfRange`] for a negative MRR.
    pub fn change_mrr(&mut self, at: DateTime<Utc>, mrr: Money) -> Result<(), ValidationError> {
        if let Some(c) = self.cancelled_at {
            return Err(ValidationError::Transition {
                field: "subscription.mrr_changes",
                from: format!("cancelled at {}", c.to_rfc3339()),
                to: format!("change at {}", at.to_rfc3339()),
            });
        }
        let last = self.last_change_at();
        if at < last {
            return Err(ValidationError::Order {
                field: "subscription.mrr_changes",
                start: last.to_rfc3339(),
                end: at.to_rfc3339(),
            });
        }
        check_mrr(&mrr, self.currency)?;
        self.mrr_changes.push(MrrChange {
            effective_at: at,
            mrr,
        });
        Ok(())
    }

    /// Cancels the subscription at `at`; `paid_through` is the end
    /// (exclusive) of the period already paid for, if known. On error
    /// nothing changes.
    ///
    /// # Errors
    /// [`ValidationError::Transition`] if already cancelled;
    /// [`ValidationError::Order`] if `at` is before the start or the last
    /// MRR change, or `paid_through` before the start.
    pub fn cancel(
        &mut self,
        at: DateTime<Utc>,
        paid_through: Option<DateTime<Utc>>,
    ) -> Result<(), ValidationError> {
        if let Some(c) = self.cancelled_at {
            return Err(ValidationError::Transition {
                field: "subscription.cancelled_at",
                from: format!("cancelled at {}", c.to_rfc3339()),
                to: format!("cancelled at {}", at.to_rfc3339()),
            });
        }
        let last = self.last_change_at();
        if at < last {
            return Err(ValidationError::Order {
                field: "subscription.cancelled_at",
                start: last.to_rfc3339(),
                end: at.to_rfc3339(),
            });
        }
        if let Some(p) = paid_through
            && p < self.started_at
        {
            return Err(ValidationError::Order {
                field: "subscription.paid_through",
                start: self.started_at.to_rfc3339(),
                end: p.to_rfc3339(),
            });
        }
        self.cancelled_at = Some(at);
        self.paid_through = paid_through;
        Ok(())
    }

    fn last_change_at(&self) -> DateTime<Utc> {
        self.mrr_changes
            .last()
            .map_or(self.started_at, |c| c.effective_at)
    }

    /// The MRR in effect at `instant`: the latest change at or before it;
    /// `None` before the start and from the cancellation on (whatever was
    /// paid in advance, nothing recurs after cancelling).
    pub fn mrr_at(&self, instant: DateTime<Utc>) -> Option<Money> {
        if self.cancelled_at.is_some_and(|c| instant >= c) {
            return None;
        }
        self.mrr_changes
            .iter()
            .rev()
            .find(|c| c.effective_at <= instant)
            .map(|c| c.mrr)
    }

    /// Whether the subscription is active at `instant`: started at or
    /// before it, and not yet ended, where the end is the cancellation or,
    /// under [`PaidUpPolicy::ActiveUntilPaidThrough`], the later of the
    /// cancellation and `paid_through` (both exclusive).
    pub fn is_active_at(&self, instant: DateTime<Utc>, policy: PaidUpPolicy) -> bool {
        if instant < self.started_at {
            return false;
        }
        match self.ended_at(policy) {
            Some(end) => instant < end,
            None => true,
        }
    }

    /// When the subscription ends under `policy`, if cancelled.
    pub fn ended_at(&self, policy: PaidUpPolicy) -> Option<DateTime<Utc>> {
        let c = self.cancelled_at?;
        Some(match (policy, self.paid_through) {
            (PaidUpPolicy::ActiveUntilPaidThrough, Some(p)) => c.max(p),
            _ => c,
        })
    }

    /// The id.
    pub const fn id(&self) -> SubscriptionId {
        self.id
    }
    /// The customer.
    pub const fn customer(&self) -> CustomerId {
        self.customer
    }
    /// The plan.
    pub const fn plan(&self) -> &Segment {
        &self.plan
    }
    /// The currency of every MRR.
    pub const fn currency(&self) -> Currency {
        self.currency
    }
    /// When it started.
    pub const fn started_at(&self) -> DateTime<Utc> {
        self.started_at
    }
    /// The MRR history, oldest first; the first is at the start.
    pub fn mrr_changes(&self) -> &[MrrChange] {
        &self.mrr_changes
    }
    /// When it was cancelled, if it was.
    pub const fn cancelled_at(&self) -> Option<DateTime<Utc>> {
        self.cancelled_at
    }
    /// The end (exclusive) of the period paid for, if cancelled and known.
    pub const fn paid_through(&self) -> Option<DateTime<Utc>> {
        self.paid_through
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SubscriptionRepr {
    id: SubscriptionId,
    customer: CustomerId,
    plan: Segment,
    currency: Currency,
    started_at: DateTime<Utc>,
    mrr_changes: Vec<MrrChange>,
    #[serde(default)]
    cancelled_at: Option<DateTime<Utc>>,
    #[serde(default)]
    paid_through: Option<DateTime<Utc>>,
}

impl TryFrom<SubscriptionRepr> for Subscription {
    type Error = ValidationError;
    fn try_from(r: SubscriptionRepr) -> Result<Self, Self::Error> {
        let mut changes = r.mrr_changes.into_iter();
        let first = changes.next().ok_or(ValidationError::Empty {
            field: "subscription.mrr_changes",
        })?;
        if first.effective_at != r.started_at {
            return Err(ValidationError::Inconsistent {
                field: "subscription.mrr_changes",
                reason: "the first MRR change must be at started_at".into(),
            });
        }
        check_mrr(&first.mrr, r.currency)?;
        let mut s = Subscription::new(r.id, r.customer, r.plan, r.started_at, first.mrr)?;
        for c in changes {
            s.change_mrr(c.effective_at, c.mrr)?;
        }
        match (r.cancelled_at, r.paid_through) {
            (Some(at), p) => s.cancel(at, p)?,
            (None, Some(_)) => {
                return Err(ValidationError::Inconsistent {
                    field: "subscription.paid_through",
                    reason: "paid_through is only recorded with a cancellation".into(),
                });
            }
            (None, None) => {}
        }
        Ok(s)
    }
}

impl From<Subscription> for SubscriptionRepr {
    fn from(s: Subscription) -> Self {
        Self {
            id: s.id,
            customer: s.customer,
            plan: s.plan,
            currency: s.currency,
            started_at: s.started_at,
            mrr_changes: s.mrr_changes,
            cancelled_at: s.cancelled_at,
            paid_through: s.paid_through,
        }
    }
}

#[cfg(any(test, feature = "proptest"))]
pub(crate) mod strategies {
    use super::*;
    use crate::domain::channel::strategies::segment;
    use crate::domain::money::strategies::{currency, money_in};
    use crate::domain::period::strategies::instant;
    use proptest::prelude::*;

    /// A valid subscription: up to 5 MRR changes at increasing times,
    /// cancelled or not, with or without `paid_through`.
    pub fn subscription() -> impl Strategy<Value = Subscription> {
        (currency(), instant()).prop_flat_map(|(cur, start)| {
            (
                any::<u128>(),
                any::<u128>(),
                segment(),
                money_in(cur),
                proptest::collection::vec((0i64..=90 * 86_400, money_in(cur)), 0..5),
                proptest::option::of((
                    0i64..=365 * 86_400,
                    proptest::option::of(0i64..=400 * 86_400),
                )),
            )
                .prop_map(move |(id, c, plan, mrr0, changes, cancel)| {
                    let mut mrr_changes = vec![MrrChange {
                        effective_at: start,
                        mrr: mrr0,
                    }];
                    let mut t = start;
                    for (gap, mrr) in changes {
                        t += chrono::Duration::seconds(gap);
                        mrr_changes.push(MrrChange {
                            effective_at: t,
                            mrr,
                        });
                    }
                    let (cancelled_at, paid_through) = match cancel {
                        Some((gap, paid)) => (
                            Some(t + chrono::Duration::seconds(gap)),
                            paid.map(|p| start + chrono::Duration::seconds(p)),
                        ),
                        None => (None, None),
                    };
                    Subscription {
                        id: SubscriptionId::from_u128(id),
                        customer: CustomerId::from_u128(c),
                        plan,
                        currency: cur,
                        started_at: start,
                        mrr_changes,
                        cancelled_at,
                        paid_through,
                    }
                })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone};
    use proptest::prelude::*;
    use rust_decimal::Decimal;

    fn t(d: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap() + Duration::days(d)
    }
    fn eur(n: i64) -> Money {
        Money::new(Decimal::from(n), Currency::EUR)
    }
    fn sub() -> Subscription {
        Subscription::new(
            SubscriptionId::from_u128(1),
            CustomerId::from_u128(2),
            Segment::new("pro").unwrap(),
            t(0),
            eur(50),
        )
        .unwrap()
    }

    #[test]
    fn initial_mrr_must_be_non_negative() {
        let r = Subscription::new(
            SubscriptionId::from_u128(1),
            CustomerId::from_u128(2),
            Segment::new("pro").unwrap(),
            t(0),
            eur(-1),
        );
        assert!(matches!(r.unwrap_err(), ValidationError::OutOfRange { .. }));
    }

    #[test]
    fn mrr_changes_are_ordered_same_currency_non_negative() {
        let mut s = sub();
        s.change_mrr(t(10), eur(80)).unwrap();
        // Same instant as the last change is allowed (non-decreasing).
        s.change_mrr(t(10), eur(70)).unwrap();
        assert!(matches!(
            s.change_mrr(t(9), eur(60)).unwrap_err(),
            ValidationError::Order { .. }
        ));
        assert!(matches!(
            s.change_mrr(t(11), Money::new(Decimal::ONE, Currency::USD))
                .unwrap_err(),
            ValidationError::Inconsistent { .. }
        ));
        assert!(matches!(
            s.change_mrr(t(11), eur(-1)).unwrap_err(),
            ValidationError::OutOfRange { .. }
        ));
        assert_eq!(s.mrr_changes().len(), 3);
        // The later of two changes at one instant wins.
        assert_eq!(s.mrr_at(t(10)), Some(eur(70)));
    }

    #[test]
    fn mrr_at_follows_the_history() {
        let mut s = sub();
        s.change_mrr(t(10), eur(80)).unwrap();
        s.change_mrr(t(20), eur(0)).unwrap();
        s.cancel(t(30), None).unwrap();
        assert_eq!(s.mrr_at(t(-1)), None);
        assert_eq!(s.mrr_at(t(0)), Some(eur(50)));
        assert_eq!(s.mrr_at(t(10) - Duration::nanoseconds(1)), Some(eur(50)));
        assert_eq!(s.mrr_at(t(10)), Some(eur(80)));
        assert_eq!(s.mrr_at(t(25)), Some(eur(0)));
        assert_eq!(s.mrr_at(t(30)), None);
    }

    #[test]
    fn cancel_rules() {
        let mut s = sub();
        s.change_mrr(t(10), eur(80)).unwrap();
        // Cancel before the start (and before the last change) is an Order error.
        assert!(matches!(
            s.cancel(t(-1), None).unwrap_err(),
            ValidationError::Order { .. }
        ));
        assert!(matches!(
            s.cancel(t(5), None).unwrap_err(),
            ValidationError::Order { .. }
        ));
        assert!(matches!(
            s.cancel(t(12), Some(t(-1))).unwrap_err(),
            ValidationError::Order {
                field: "subscription.paid_through",
                ..
            }
        ));
        assert_eq!(s.cancelled_at(), None, "failed cancels change nothing");
        s.cancel(t(12), Some(t(40))).unwrap();
        assert!(matches!(
            s.cancel(t(13), None).unwrap_err(),
            ValidationError::Transition { .. }
        ));
        assert!(matches!(
            s.change_mrr(t(13), eur(1)).unwrap_err(),
            ValidationError::Transition { .. }
        ));
    }

    #[test]
    fn activity_depends_on_policy() {
        let mut s = sub();
        assert!(!s.is_active_at(t(-1), PaidUpPolicy::EndsAtCancellation));
        assert!(s.is_active_at(t(0), PaidUpPolicy::EndsAtCancellation));
        assert!(s.is_active_at(t(1000), PaidUpPolicy::EndsAtCancellation));
        s.cancel(t(12), Some(t(40))).unwrap();
        let (a, e) = (
            PaidUpPolicy::ActiveUntilPaidThrough,
            PaidUpPolicy::EndsAtCancellation,
        );
        assert!(s.is_active_at(t(11), e));
        assert!(!s.is_active_at(t(12), e));
        assert!(s.is_active_at(t(39), a));
        assert!(!s.is_active_at(t(40), a));
        assert_eq!(s.ended_at(a), Some(t(40)));
        // paid_through before the cancellation: the cancellation ends it.
        let mut s2 = sub();
        s2.cancel(t(12), Some(t(5))).unwrap();
        assert_eq!(s2.ended_at(a), Some(t(12)));
    }

    #[test]
    fn json_validates() {
        let mut s = sub();
        s.change_mrr(t(10), eur(80)).unwrap();
        let v = serde_json::to_value(&s).unwrap();
        assert_eq!(
            serde_json::from_value::<Subscription>(v.clone()).unwrap(),
            s
        );
        let mut bad = v.clone();
        bad["mrr_changes"][0]["effective_at"] = serde_json::json!("2026-01-02T00:00:00Z");
        assert!(serde_json::from_value::<Subscription>(bad).is_err());
        let mut bad = v.clone();
        bad["mrr_changes"] = serde_json::json!([]);
        assert!(serde_json::from_value::<Subscription>(bad).is_err());
        let mut bad = v.clone();
        bad["currency"] = serde_json::json!("USD");
        assert!(serde_json::from_value::<Subscription>(bad).is_err());
        let mut bad = v.clone();
        bad["paid_through"] = serde_json::json!("2026-02-01T00:00:00Z");
        assert!(serde_json::from_value::<Subscription>(bad).is_err());
        let mut bad = v;
        bad["mrr_changes"].as_array_mut().unwrap().swap(0, 1);
        assert!(serde_json::from_value::<Subscription>(bad).is_err());
    }

    proptest! {
        #[test]
        fn json_round_trip(s in strategies::subscription()) {
            let json = serde_json::to_string(&s).unwrap();
            prop_assert_eq!(serde_json::from_str::<Subscription>(&json).unwrap(), s);
        }

        #[test]
        fn arbitrary_json_never_panics(s in ".{0,200}", x in strategies::subscription(), cut in any::<prop::sample::Index>()) {
            let _ = serde_json::from_str::<Subscription>(&s);
            let json = serde_json::to_string(&x).unwrap();
            let mut cut_at = cut.index(json.len() + 1);
            while !json.is_char_boundary(cut_at) { cut_at -= 1; }
            let _ = serde_json::from_str::<Subscription>(&json[..cut_at]);
        }

        #[test]
        fn shuffled_mrr_histories_equal_the_original_or_are_rejected(s in strategies::subscription(), seed in any::<u64>()) {
            let mut changes = s.mrr_changes().to_vec();
            let mut state = seed | 1;
            for i in (1..changes.len()).rev() {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                changes.swap(i, (state % (i as u64 + 1)) as usize);
            }
            let mut v = serde_json::to_value(&s).unwrap();
            v["mrr_changes"] = serde_json::to_value(&changes).unwrap();
            if let Ok(back) = serde_json::from_value::<Subscription>(v) {
                let times = |x: &Subscription| x.mrr_changes().iter().map(|c| c.effective_at).collect::<Vec<_>>();
                prop_assert_eq!(times(&back), times(&s));
                if s.mrr_changes().windows(2).all(|w| w[0].effective_at < w[1].effective_at) {
                    prop_assert_eq!(back, s);
                }
            }
        }

        #[test]
        fn active_under_paid_through_whenever_active_at_cancellation(s in strategies::subscription(), d in -400i64..800) {
            let at = s.started_at() + Duration::days(d);
            if s.is_active_at(at, PaidUpPolicy::EndsAtCancellation) {
                prop_assert!(s.is_active_at(at, PaidUpPolicy::ActiveUntilPaidThrough));
                prop_assert!(s.mrr_at(at).is_some());
            }
        }
    }
}
