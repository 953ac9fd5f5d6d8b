//! Deterministic synthetic purchases for the value benchmarks (W2) and
//! tests (feature `synth`).
//!
//! Meant to be folded into `crmkit::synth`, the crate's one generator of
//! synthetic data.
//!
//! Each customer `i` (id `CustomerId::from_u128(i)`) is acquired at a
//! uniform instant of the window, stays for an exponential lifetime, and
//! makes `1 + Poisson(mean − 1)` transactions at uniform instants of their
//! lifetime (clipped to the window); the first is a sale (the
//! acquisition), later ones are refunds with a small probability. Amounts
//! are log-normal (median about 35) in cents; the margin is 30 % of the
//! amount. Output is sorted by time (then customer), as a ledger would be.
//! The same seed gives the same data on every platform (xoshiro256++).

use chrono::{DateTime, Duration, Utc};
use rand::{RngExt, SeedableRng, rngs::Xoshiro256PlusPlus};
use rand_distr::{Distribution, Exp, LogNormal, Poisson};
use rust_decimal::Decimal;

use crate::domain::{Currency, CustomerId, Money};
use crate::metrics::activity::{RelationshipError, Transaction};

/// The shape of a generated purchase ledger.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PurchaseSpec {
    /// Number of customers (ids `0..customers`).
    pub customers: u32,
    /// Mean transactions per customer (at least 1).
    pub mean_purchases: f64,
    /// First instant of the window.
    pub start: DateTime<Utc>,
    /// Window length in days.
    pub days: u32,
    /// Mean customer lifetime in days.
    pub mean_lifetime_days: f64,
    /// Probability that a transaction after the first is a refund.
    pub refund_rate: f64,
    /// Currency of every amount.
    pub currency: Currency,
    /// Random seed.
    pub seed: u64,
}

impl PurchaseSpec {
    /// Workload W2 of DESIGN.md: 1,000,000 customers, about 10,000,000
    /// transactions over the three years 2023-2025, in EUR, seed 2.
    pub fn w2() -> Self {
        Self {
            customers: 1_000_000,
            mean_purchases: 10.0,
            start: DateTime::from_timestamp(1_672_531_200, 0).unwrap_or(DateTime::UNIX_EPOCH), // 2023-01-01
            days: 1096,
            mean_lifetime_days: 540.0,
            refund_rate: 0.02,
            currency: Currency::EUR,
            seed: 2,
        }
    }

    /// The end of the window.
    pub fn end(&self) -> DateTime<Utc> {
        self.start + Duration::days(i64::from(self.days))
    }
}

fn bad(parameter: &'static str, value: f64, range: &'static str) -> RelationshipError {
    RelationshipError::OutOfRange {
        parameter,
        value: value.to_string(),
        range,
    }
}

/// Generates the ledger of `spec`, sorted by time then customer.
///
/// # Errors
/// [`RelationshipError::OutOfRange`] for a mean below 1, a non-positive
/// lifetime, a refund rate outside `[0, 1]` or an empty window.
///
/// # Example
/// ```
/// use crmkit::synth::purchases::{PurchaseSpec, purchases};
/// let spec = PurchaseSpec { customers: 100, ..PurchaseSpec::w2() };
/// let ledger = purchases(&spec)?;
/// assert!(ledger.len() > 500);
/// assert_eq!(ledger, purchases(&spec)?); // deterministic
/// assert!(ledger.windows(2).all(|w| w[0].at() <= w[1].at()));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn purchases(spec: &PurchaseSpec) -> Result<Vec<Transaction>, RelationshipError> {
    if spec.mean_purchases.is_nan() || spec.mean_purchases < 1.0 {
        return Err(bad("mean purchases", spec.mean_purchases, "1.."));
    }
    if spec.days == 0 {
        return Err(bad("days", 0.0, "1.."));
    }
    if !(0.0..=1.0).contains(&spec.refund_rate) {
        return Err(bad("refund rate", spec.refund_rate, "0..=1"));
    }
    let lifetime = Exp::new(1.0 / spec.mean_lifetime_days)
        .map_err(|_| bad("mean lifetime days", spec.mean_lifetime_days, "> 0"))?;
    let extra = Poisson::new((spec.mean_purchases - 1.0).max(1e-9))
        .map_err(|_| bad("mean purchases", spec.mean_purchases, "1.."))?;
    let amount = LogNormal::new(3.55f64, 0.7).map_err(|_| bad("amount", 3.55, "finite"))?;
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(spec.seed);
    let window = i64::from(spec.days) * 86_400;
    let start = spec.start.timestamp();
    let expected = (f64::from(spec.customers) * spec.mean_purchases * 1.05) as usize;
    let mut rows: Vec<(i64, u32, bool, i64)> = Vec::with_capacity(expected);
    for i in 0..spec.customers {
        let acquired = rng.random_range(0..window);
        let life = (lifetime.sample(&mut rng) * 86_400.0) as i64;
        let until = acquired.saturating_add(life.max(86_400)).min(window);
        let count = 1 + extra.sample(&mut rng) as u64;
        for k in 0..count {
            let at = if k == 0 {
                acquired
            } else {
                rng.random_range(acquired..until.max(acquired + 1))
            };
            let refund = k > 0 && rng.random_bool(spec.refund_rate);
            let cents = ((amount.sample(&mut rng) * 100.0).round() as i64).clamp(1, 10_000_000);
            rows.push((start + at, i, refund, cents));
        }
    }
    rows.sort_unstable_by_key(|r| (r.0, r.1));
    let mut out = Vec::with_capacity(rows.len());
    for (at, i, refund, cents) in rows {
        let customer = CustomerId::from_u128(u128::from(i));
        let at = DateTime::from_timestamp(at, 0).ok_or(RelationshipError::Overflow {
            operation: "timestamp",
        })?;
        let money = Money::new(Decimal::new(cents, 2), spec.currency);
        let margin = Money::new(Decimal::new(cents * 3 / 10, 2), spec.currency);
        out.push(if refund {
            Transaction::refund(customer, at, money, Some(margin))?
        } else {
            Transaction::sale(customer, at, money, Some(margin))?
        });
    }
    Ok(out)
}
