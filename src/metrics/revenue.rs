//! Revenue retention: GRR, NRR, gross and net revenue churn, quick ratio.
//!
//! Input: per customer, the revenue (MRR, or revenue of the period) at the
//! start and at the end of a period, in one reporting currency. Each
//! customer falls in exactly one movement:
//!
//! | start | end | movement |
//! |---|---|---|
//! | > 0 | ≤ 0 | churned: `start` (the loss is capped at the start revenue) |
//! | > 0 | < start | contraction: `start - end` |
//! | > 0 | > start | expansion: `end - start` |
//! | 0 | > 0 | new (`end`), or reactivated (`end`) for a returning customer |
//!
//! - GRR = (start − contraction − churned) / start, in `[0, 1]`;
//! - NRR = (start + expansion − contraction − churned) / start, `≥ GRR`;
//! - gross revenue churn = (contraction + churned) / start = 1 − GRR;
//! - net revenue churn = (contraction + churned − expansion) / start = 1 − NRR
//!   (negative when expansion outgrows losses);
//! - quick ratio = (new + reactivated + expansion) / (contraction + churned),
//!   [`QuickRatio::NoLosses`] when nothing was lost (not infinity).
//!
//! Reactivated revenue is reported apart and is not part of NRR, like new
//! revenue. Amounts in other currencies convert through an
//! [`ExchangeRates`] port; an amount in a foreign currency pushed without
//! conversion is a [`RelationshipError::CurrencyMismatch`], never mixed.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::accumulator::{Accumulator, MergeError, PortableState};
use super::activity::{RelationshipError, merge_error};
use crate::domain::{Currency, Money, PaidUpPolicy, Subscription};

/// The exchange-rate port: the application supplies rates (from its ledger,
/// its bank, a rates service).
///
/// # Contract
/// `rate(from, to, at)` is the number of units of `to` per unit of `from`
/// valid at `at`; it is positive; `rate(c, c, _)` is 1. Implementations
/// return [`RelationshipError::MissingRate`] when they have no rate.
pub trait ExchangeRates {
    /// Units of `to` per unit of `from` at `at`.
    ///
    /// # Errors
    /// [`RelationshipError::MissingRate`] when no rate is known.
    fn rate(
        &self,
        from: Currency,
        to: Currency,
        at: DateTime<Utc>,
    ) -> Result<Decimal, RelationshipError>;

    /// Converts `amount` into `to` at `at` (identity for the same currency).
    ///
    /// # Errors
    /// A missing or non-positive rate; overflow.
    fn convert(
        &self,
        amount: Money,
        to: Currency,
        at: DateTime<Utc>,
    ) -> Result<Money, RelationshipError> {
        if amount.currency() == to {
            return Ok(amount);
        }
        let rate = self.rate(amount.currency(), to, at)?;
        if rate <= Decimal::ZERO {
            return Err(RelationshipError::InvalidRate {
                from: amount.currency(),
                to,
                rate,
            });
        }
        let value = amount
            .amount()
            .checked_mul(rate)
            .ok_or(RelationshipError::Overflow {
                operation: "currency conversion",
            })?;
        Ok(Money::new(value, to))
    }
}

/// Fixed exchange rates, the same at every instant (for reports at a
/// budget rate, and for tests).
///
/// A pair given one way is used the other way too, inverted.
///
/// # Example
/// ```
/// use chrono::Utc;
/// use crmkit::domain::{Currency, Money};
/// use crmkit::metrics::revenue::{ExchangeRates, FixedRates};
/// use rust_decimal::Decimal;
/// let rates = FixedRates::new().with(Currency::USD, Currency::EUR, Decimal::new(9, 1))?;
/// let eur = rates.convert(Money::new(Decimal::from(10), Currency::USD), Currency::EUR, Utc::now())?;
/// assert_eq!(eur.amount(), Decimal::from(9));
/// assert!(rates.rate(Currency::GBP, Currency::EUR, Utc::now()).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FixedRates {
    rates: HashMap<(Currency, Currency), Decimal>,
}

impl FixedRates {
    /// No rates yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds the rate `from → to` (units of `to` per unit of `from`).
    ///
    /// # Errors
    /// [`RelationshipError::InvalidRate`] for a rate at or below zero.
    pub fn with(
        mut self,
        from: Currency,
        to: Currency,
        rate: Decimal,
    ) -> Result<Self, RelationshipError> {
        if rate <= Decimal::ZERO {
            return Err(RelationshipError::InvalidRate { from, to, rate });
        }
        let _ = self.rates.insert((from, to), rate);
        Ok(self)
    }
}

impl ExchangeRates for FixedRates {
    fn rate(
        &self,
        from: Currency,
        to: Currency,
        _at: DateTime<Utc>,
    ) -> Result<Decimal, RelationshipError> {
        if from == to {
            return Ok(Decimal::ONE);
        }
        if let Some(r) = self.rates.get(&(from, to)) {
            return Ok(*r);
        }
        self.rates
            .get(&(to, from))
            .and_then(|r| Decimal::ONE.checked_div(*r))
            .ok_or(RelationshipError::MissingRate { from, to })
    }
}

/// The MRR of a subscription at `at` under a paid-up policy, or `None`
/// when it is not active then.
///
/// While active it is the MRR in effect ([`Subscription::mrr_at`]); a
/// cancelled subscription still active because it is paid up
/// ([`PaidUpPolicy::ActiveUntilPaidThrough`]) keeps its last MRR before the
/// cancellation until its paid-through date. Under
/// [`PaidUpPolicy::EndsAtCancellation`] nothing recurs from the
/// cancellation on.
///
/// # Example
/// ```
/// use chrono::{Duration, TimeZone, Utc};
/// use crmkit::domain::*;
/// use crmkit::metrics::revenue::mrr_under;
/// use rust_decimal::Decimal;
/// let t0 = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).single().ok_or("no such instant")?;
/// let eur = Money::new(Decimal::from(50), Currency::EUR);
/// let mut s = Subscription::new(SubscriptionId::from_u128(1), CustomerId::from_u128(1),
///     Segment::new("pro")?, t0, eur)?;
/// s.cancel(t0 + Duration::days(10), Some(t0 + Duration::days(31)))?;
/// let t = t0 + Duration::days(20);
/// assert_eq!(mrr_under(&s, t, PaidUpPolicy::ActiveUntilPaidThrough), Some(eur));
/// assert_eq!(mrr_under(&s, t, PaidUpPolicy::EndsAtCancellation), None);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn mrr_under(s: &Subscription, at: DateTime<Utc>, policy: PaidUpPolicy) -> Option<Money> {
    if !s.is_active_at(at, policy) {
        return None;
    }
    s.mrr_at(at)
        .or_else(|| s.mrr_changes().last().map(|c| c.mrr))
}

/// The quick ratio: gains over losses, or undefined without losses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QuickRatio {
    /// (new + reactivated + expansion) / (contraction + churned).
    Ratio(Decimal),
    /// Nothing was lost: the ratio is undefined (not infinite).
    NoLosses,
}

/// Customer counts behind a revenue retention result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct RevenueCounts {
    /// Customers with revenue at the start.
    pub start: u64,
    /// Of those, with more revenue at the end.
    pub expanded: u64,
    /// Of those, with less (but some) revenue at the end.
    pub contracted: u64,
    /// Of those, with no revenue at the end.
    pub churned: u64,
    /// New customers (no revenue at the start, some at the end, never before).
    pub new: u64,
    /// Returning customers with revenue at the end but not at the start.
    pub reactivated: u64,
}

/// The amounts of each movement, in the reporting currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevenueMovements {
    /// Revenue at the start of customers who had some.
    pub start: Money,
    /// Increase of customers who grew.
    pub expansion: Money,
    /// Decrease of customers who shrank but stayed.
    pub contraction: Money,
    /// Start revenue of customers with none left at the end.
    pub churned: Money,
    /// End revenue of new customers.
    pub new: Money,
    /// End revenue of returning customers.
    pub reactivated: Money,
}

/// A revenue retention result. Rates are fractions (`1` = 100 %).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevenueRetention {
    /// Counts.
    pub counts: RevenueCounts,
    /// Amounts.
    pub movements: RevenueMovements,
    /// Gross revenue retention, in `[0, 1]`.
    pub grr: Decimal,
    /// Net revenue retention, `≥ grr`.
    pub nrr: Decimal,
    /// Gross revenue churn `= 1 - grr`.
    pub gross_churn: Decimal,
    /// Net revenue churn `= 1 - nrr` (negative with net expansion).
    pub net_churn: Decimal,
    /// Quick ratio.
    pub quick_ratio: QuickRatio,
}

/// A revenue retention accumulator in one reporting currency.
///
/// # Example
/// ```
/// use crmkit::domain::{Currency, Money};
/// use crmkit::metrics::revenue::{QuickRatio, RevenueAccumulator};
/// use rust_decimal::Decimal;
/// let eur = |v: i64| Money::new(Decimal::from(v), Currency::EUR);
/// let mut acc = RevenueAccumulator::new(Currency::EUR);
/// acc.push(eur(100), eur(120), false)?; // +20 expansion
/// acc.push(eur(100), eur(0), false)?;   // 100 churned
/// let r = acc.finish()?;
/// // GRR = (200 - 0 - 100) / 200 = 0.5; NRR = (200 + 20 - 100) / 200 = 0.6
/// assert_eq!(r.grr, Decimal::new(5, 1));
/// assert_eq!(r.nrr, Decimal::new(6, 1));
/// // quick ratio = 20 / 100 = 0.2
/// assert_eq!(r.quick_ratio, QuickRatio::Ratio(Decimal::new(2, 1)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RevenueRepr")]
pub struct RevenueAccumulator {
    currency: Currency,
    counts: RevenueCounts,
    start: Decimal,
    expansion: Decimal,
    contraction: Decimal,
    churned: Decimal,
    new: Decimal,
    reactivated: Decimal,
}

/// The serialised form, checked on the way in: amounts no sequence of
/// pushes can produce (negative sums, losses above the start revenue,
/// more movements than customers) are rejected.
#[derive(Deserialize)]
struct RevenueRepr {
    currency: Currency,
    counts: RevenueCounts,
    start: Decimal,
    expansion: Decimal,
    contraction: Decimal,
    churned: Decimal,
    new: Decimal,
    reactivated: Decimal,
}

impl TryFrom<RevenueRepr> for RevenueAccumulator {
    type Error = RelationshipError;
    fn try_from(r: RevenueRepr) -> Result<Self, Self::Error> {
        let sums = [
            r.start,
            r.expansion,
            r.contraction,
            r.churned,
            r.new,
            r.reactivated,
        ];
        let c = r.counts;
        let movers = c
            .expanded
            .checked_add(c.contracted)
            .and_then(|m| m.checked_add(c.churned));
        let losses = r.contraction.checked_add(r.churned);
        let valid = sums.iter().all(|v| !v.is_sign_negative())
            && losses.is_some_and(|l| l <= r.start)
            && movers.is_some_and(|m| m <= c.start)
            && (c.start > 0 || r.start.is_zero());
        if !valid {
            return Err(RelationshipError::OutOfRange {
                parameter: "revenue retention state",
                value: format!("{c:?}"),
                range: "sums >= 0, contraction + churned <= start, movements <= customers",
            });
        }
        Ok(Self {
            currency: r.currency,
            counts: r.counts,
            start: r.start,
            expansion: r.expansion,
            contraction: r.contraction,
            churned: r.churned,
            new: r.new,
            reactivated: r.reactivated,
        })
    }
}

/// The crate-wide accumulator shape. Observation: one customer's
/// `(start revenue, end revenue, returning)`, as
/// [`RevenueAccumulator::push`] takes them (push each customer once).
/// `finish` is the inherent [`RevenueAccumulator::finish`]. Push and merge
/// are all or nothing.
///
/// Memory: six sums and six counters; the state is portable
/// ([`PortableState`]).
impl Accumulator for RevenueAccumulator {
    type Observation = (Money, Money, bool);
    type Output = Result<RevenueRetention, RelationshipError>;
    type Error = RelationshipError;

    fn push(
        &mut self,
        (start, end, returning): Self::Observation,
    ) -> Result<(), RelationshipError> {
        RevenueAccumulator::push(self, start, end, returning)
    }

    fn merge(&mut self, other: &Self) -> Result<(), MergeError> {
        RevenueAccumulator::merge(self, other).map_err(|e| merge_error("revenue_retention", e))
    }

    fn finish(&self) -> Self::Output {
        RevenueAccumulator::finish(self)
    }

    fn empty_like(&self) -> Self {
        Self::new(self.currency)
    }
}

impl PortableState for RevenueAccumulator {
    const KIND: &'static str = "crmkit.revenue_retention";
    const STATE_VERSION: u32 = 1;
}

fn add(acc: &mut Decimal, v: Decimal) -> Result<(), RelationshipError> {
    *acc = acc.checked_add(v).ok_or(RelationshipError::Overflow {
        operation: "revenue sum",
    })?;
    Ok(())
}

fn inc(acc: &mut u64, v: u64) -> Result<(), RelationshipError> {
    *acc = acc.checked_add(v).ok_or(RelationshipError::Overflow {
        operation: "revenue count",
    })?;
    Ok(())
}

impl RevenueAccumulator {
    /// An empty accumulator reporting in `currency`.
    pub fn new(currency: Currency) -> Self {
        Self {
            currency,
            counts: RevenueCounts::default(),
            start: Decimal::ZERO,
            expansion: Decimal::ZERO,
            contraction: Decimal::ZERO,
            churned: Decimal::ZERO,
            new: Decimal::ZERO,
            reactivated: Decimal::ZERO,
        }
    }

    /// The reporting currency.
    pub fn currency(&self) -> Currency {
        self.currency
    }

    fn amount(&self, m: Money) -> Result<Decimal, RelationshipError> {
        if m.currency() == self.currency {
            Ok(m.amount())
        } else {
            Err(RelationshipError::CurrencyMismatch {
                expected: self.currency,
                found: m.currency(),
            })
        }
    }

    /// One customer's revenue at the start and at the end of the period;
    /// `returning` says whether a customer without start revenue had been a
    /// customer before (a reactivation) or is new. A negative end revenue
    /// (net refunds) counts as zero: the loss is capped at the start revenue.
    /// On error nothing changes.
    ///
    /// # Errors
    /// [`RelationshipError::CurrencyMismatch`] for an amount not in the
    /// reporting currency; [`RelationshipError::NegativeRevenue`] for a
    /// negative start revenue; [`RelationshipError::Overflow`].
    pub fn push(
        &mut self,
        start: Money,
        end: Money,
        returning: bool,
    ) -> Result<(), RelationshipError> {
        // All or nothing: classify into a copy (a dozen numbers), then store.
        let mut next = self.clone();
        next.push_each(start, end, returning)?;
        *self = next;
        Ok(())
    }

    fn push_each(
        &mut self,
        start: Money,
        end: Money,
        returning: bool,
    ) -> Result<(), RelationshipError> {
        let s = self.amount(start)?;
        let e = self.amount(end)?.max(Decimal::ZERO);
        if s < Decimal::ZERO {
            return Err(RelationshipError::NegativeRevenue { amount: s });
        }
        if s.is_zero() {
            if e > Decimal::ZERO {
                if returning {
                    inc(&mut self.counts.reactivated, 1)?;
                    add(&mut self.reactivated, e)?;
                } else {
                    inc(&mut self.counts.new, 1)?;
                    add(&mut self.new, e)?;
                }
            }
            return Ok(());
        }
        inc(&mut self.counts.start, 1)?;
        add(&mut self.start, s)?;
        if e.is_zero() {
            inc(&mut self.counts.churned, 1)?;
            add(&mut self.churned, s)?;
        } else if e < s {
            inc(&mut self.counts.contracted, 1)?;
            add(&mut self.contraction, s - e)?;
        } else if e > s {
            let up = e.checked_sub(s).ok_or(RelationshipError::Overflow {
                operation: "expansion",
            })?;
            inc(&mut self.counts.expanded, 1)?;
            add(&mut self.expansion, up)?;
        }
        Ok(())
    }

    /// Like [`RevenueAccumulator::push`], converting each amount into the
    /// reporting currency first (the start amount at `start_at`, the end
    /// amount at `end_at`).
    ///
    /// # Errors
    /// As `push`, and the port's errors.
    pub fn push_converted(
        &mut self,
        start: Money,
        end: Money,
        returning: bool,
        rates: &impl ExchangeRates,
        start_at: DateTime<Utc>,
        end_at: DateTime<Utc>,
    ) -> Result<(), RelationshipError> {
        let s = rates.convert(start, self.currency, start_at)?;
        let e = rates.convert(end, self.currency, end_at)?;
        self.push(s, e, returning)
    }

    /// Adds another accumulator (customers must not be in both). On error
    /// `self` is unchanged.
    ///
    /// # Errors
    /// [`RelationshipError::ConfigMismatch`] for another reporting currency;
    /// overflow.
    pub fn merge(&mut self, other: &RevenueAccumulator) -> Result<(), RelationshipError> {
        if self.currency != other.currency {
            return Err(RelationshipError::ConfigMismatch {
                what: "reporting currency",
            });
        }
        // All or nothing: add into a copy, then store.
        let mut next = self.clone();
        let o = other.counts;
        inc(&mut next.counts.start, o.start)?;
        inc(&mut next.counts.expanded, o.expanded)?;
        inc(&mut next.counts.contracted, o.contracted)?;
        inc(&mut next.counts.churned, o.churned)?;
        inc(&mut next.counts.new, o.new)?;
        inc(&mut next.counts.reactivated, o.reactivated)?;
        add(&mut next.start, other.start)?;
        add(&mut next.expansion, other.expansion)?;
        add(&mut next.contraction, other.contraction)?;
        add(&mut next.churned, other.churned)?;
        add(&mut next.new, other.new)?;
        add(&mut next.reactivated, other.reactivated)?;
        *self = next;
        Ok(())
    }

    /// The result.
    ///
    /// # Errors
    /// [`RelationshipError::NoData`] when no customer had start revenue;
    /// overflow.
    pub fn finish(&self) -> Result<RevenueRetention, RelationshipError> {
        if self.start.is_zero() {
            return Err(RelationshipError::NoData {
                what: "no revenue at the start of the period",
            });
        }
        let of = |op: &'static str| RelationshipError::Overflow { operation: op };
        let losses = self
            .contraction
            .checked_add(self.churned)
            .ok_or(of("losses"))?;
        // Losses are capped per customer, so 0 <= start - losses <= start.
        let kept = self.start.checked_sub(losses).ok_or(of("grr"))?;
        let net = kept.checked_add(self.expansion).ok_or(of("nrr"))?;
        let grr = kept.checked_div(self.start).ok_or(of("grr"))?;
        let nrr = net.checked_div(self.start).ok_or(of("nrr"))?;
        let gains = self
            .new
            .checked_add(self.reactivated)
            .and_then(|g| g.checked_add(self.expansion))
            .ok_or(of("quick ratio"))?;
        let quick_ratio = if losses.is_zero() {
            QuickRatio::NoLosses
        } else {
            QuickRatio::Ratio(gains.checked_div(losses).ok_or(of("quick ratio"))?)
        };
        let m = |v| Money::new(v, self.currency);
        Ok(RevenueRetention {
            counts: self.counts,
            movements: RevenueMovements {
                start: m(self.start),
                expansion: m(self.expansion),
                contraction: m(self.contraction),
                churned: m(self.churned),
                new: m(self.new),
                reactivated: m(self.reactivated),
            },
            grr,
            nrr,
            gross_churn: Decimal::ONE - grr,
            net_churn: Decimal::ONE - nrr,
            quick_ratio,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn eur(v: i64) -> Money {
        Money::new(Decimal::from(v), Currency::EUR)
    }

    #[test]
    fn hand_computed_movements() {
        let mut acc = RevenueAccumulator::new(Currency::EUR);
        acc.push(eur(100), eur(150), false).unwrap(); // expansion 50
        acc.push(eur(200), eur(120), false).unwrap(); // contraction 80
        acc.push(eur(100), eur(0), false).unwrap(); // churned 100
        acc.push(eur(50), eur(-30), false).unwrap(); // net refunds: churned 50 (capped)
        acc.push(eur(0), eur(40), false).unwrap(); // new 40
        acc.push(eur(0), eur(10), true).unwrap(); // reactivated 10
        acc.push(eur(70), eur(70), false).unwrap(); // flat
        let r = acc.finish().unwrap();
        // start = 100 + 200 + 100 + 50 + 70 = 520
        // GRR = (520 - 80 - 150) / 520 = 290 / 520 = 29/52
        // NRR = (520 + 50 - 80 - 150) / 520 = 340 / 520 = 17/26
        // quick = (40 + 10 + 50) / (80 + 150) = 100 / 230 = 10/23
        assert_eq!(r.movements.start, eur(520));
        assert_eq!(r.movements.churned, eur(150));
        assert_eq!(r.movements.contraction, eur(80));
        assert_eq!(r.movements.expansion, eur(50));
        assert_eq!(r.movements.new, eur(40));
        assert_eq!(r.movements.reactivated, eur(10));
        assert_eq!(r.grr, Decimal::from(29) / Decimal::from(52));
        assert_eq!(r.nrr, Decimal::from(17) / Decimal::from(26));
        assert_eq!(r.gross_churn, Decimal::ONE - r.grr);
        assert_eq!(
            r.quick_ratio,
            QuickRatio::Ratio(Decimal::from(10) / Decimal::from(23))
        );
        assert_eq!(r.counts.start, 5);
        assert_eq!(r.counts.churned, 2);
    }

    #[test]
    fn no_losses_no_data_and_currencies() {
        let mut acc = RevenueAccumulator::new(Currency::EUR);
        assert!(matches!(
            acc.finish(),
            Err(RelationshipError::NoData { .. })
        ));
        acc.push(eur(10), eur(12), false).unwrap();
        assert_eq!(acc.finish().unwrap().quick_ratio, QuickRatio::NoLosses);
        let usd = Money::new(Decimal::from(10), Currency::USD);
        assert!(matches!(
            acc.push(usd, eur(1), false),
            Err(RelationshipError::CurrencyMismatch { .. })
        ));
        assert!(matches!(
            acc.push(eur(-1), eur(1), false),
            Err(RelationshipError::NegativeRevenue { .. })
        ));
        let rates = FixedRates::new()
            .with(Currency::EUR, Currency::USD, Decimal::from(2))
            .unwrap();
        let t = Utc::now();
        // 10 USD = 5 EUR at 2 USD per EUR (inverted pair).
        acc.push_converted(usd, usd, false, &rates, t, t).unwrap();
        assert_eq!(acc.finish().unwrap().movements.start, eur(15));
        assert!(
            FixedRates::new()
                .with(Currency::EUR, Currency::USD, Decimal::ZERO)
                .is_err()
        );
        let other = RevenueAccumulator::new(Currency::USD);
        assert!(acc.merge(&other).is_err());
    }

    proptest! {
        #[test]
        fn grr_in_range_nrr_above_and_merge(
            rows in prop::collection::vec((0i64..1000, -100i64..2000, any::<bool>()), 1..50),
            split in 0usize..50,
        ) {
            let mut one = RevenueAccumulator::new(Currency::EUR);
            for &(s, e, r) in &rows {
                one.push(eur(s), eur(e), r).unwrap();
            }
            let split = split.min(rows.len());
            let mut a = RevenueAccumulator::new(Currency::EUR);
            let mut b = RevenueAccumulator::new(Currency::EUR);
            for &(s, e, r) in &rows[..split] { a.push(eur(s), eur(e), r).unwrap(); }
            for &(s, e, r) in rows[split..].iter().rev() { b.push(eur(s), eur(e), r).unwrap(); }
            a.merge(&b).unwrap();
            prop_assert_eq!(&a, &one);
            if let Ok(r) = one.finish() {
                prop_assert!(r.grr >= Decimal::ZERO && r.grr <= Decimal::ONE);
                prop_assert!(r.nrr >= r.grr);
            }
        }

        #[test]
        fn nobody_leaves_is_full_grr(rows in prop::collection::vec(1i64..1000, 1..30)) {
            let mut acc = RevenueAccumulator::new(Currency::EUR);
            for &s in &rows { acc.push(eur(s), eur(s), false).unwrap(); }
            let r = acc.finish().unwrap();
            prop_assert_eq!(r.grr, Decimal::ONE);
            prop_assert_eq!(r.nrr, Decimal::ONE);
            prop_assert_eq!(r.quick_ratio, QuickRatio::NoLosses);
        }
    }
}
