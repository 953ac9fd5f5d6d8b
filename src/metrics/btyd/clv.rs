//! Predictive customer lifetime value from a BG/NBD and a Gamma-Gamma model.
//!
//! As `lifetimes`' `GammaGammaFitter.customer_lifetime_value` (its
//! `utils._customer_lifetime_value`): for months `k = 1..=H`, with `f`
//! periods per month,
//!
//! `CLV = margin × Σ_k E[M | x, m] × (E[Y(k f) | x, t_x, T] - E[Y((k-1) f) | x, t_x, T]) / (1 + d)^k`
//!
//! where `E[M | x, m]` is the Gamma-Gamma expected spend per purchase,
//! `E[Y(t) | …]` the BG/NBD conditional expected purchases and `d` the
//! monthly discount rate. `lifetimes` uses `f = 30` for daily data and
//! `4.345` for weekly data; with `margin = 1` the figures are the same.

use super::bgnbd::{BgNbdParams, FastMap, check_observation, fast_map, two_cores};
use super::gamma_gamma::GammaGammaParams;
use super::summary::{CustomerSummary, Summary};
use super::{BtydError, finite, non_negative, positive};

/// Horizon, discounting and margin of a CLV computation.
///
/// # Example
/// ```
/// use crmkit::metrics::btyd::clv::ClvOptions;
/// // 12 months, 1% a month, daily periods (30 a month), 25% margin.
/// let options = ClvOptions::daily(12, 0.01)?.with_margin(0.25)?;
/// assert_eq!(options.periods_per_month(), 30.0);
/// Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClvOptions {
    months: u32,
    monthly_discount_rate: f64,
    periods_per_month: f64,
    margin: f64,
}

impl ClvOptions {
    /// A horizon of `months`, a monthly discount rate (`0.01` = 1%) and the
    /// number of summary periods in a month. Margin 1 (revenue).
    ///
    /// # Errors
    /// [`BtydError::OutOfRange`] for zero months, a discount rate that is not
    /// finite or is `<= -1`, or non-positive periods per month.
    pub fn new(
        months: u32,
        monthly_discount_rate: f64,
        periods_per_month: f64,
    ) -> Result<Self, BtydError> {
        if months == 0 {
            return Err(BtydError::OutOfRange {
                name: "months",
                value: 0.0,
                range: ">= 1",
            });
        }
        if !(monthly_discount_rate.is_finite() && monthly_discount_rate > -1.0) {
            return Err(BtydError::OutOfRange {
                name: "monthly_discount_rate",
                value: monthly_discount_rate,
                range: "finite and > -1",
            });
        }
        Ok(Self {
            months,
            monthly_discount_rate,
            periods_per_month: positive("periods_per_month", periods_per_month)?,
            margin: 1.0,
        })
    }

    /// Daily periods, 30 to a month as in `lifetimes` (`freq = "D"`).
    ///
    /// # Errors
    /// As [`ClvOptions::new`].
    pub fn daily(months: u32, monthly_discount_rate: f64) -> Result<Self, BtydError> {
        Self::new(months, monthly_discount_rate, 30.0)
    }

    /// Sets the margin applied to revenue (`1` = revenue, `0.25` = 25%).
    ///
    /// # Errors
    /// [`BtydError::OutOfRange`] for a negative or non-finite margin.
    pub fn with_margin(mut self, margin: f64) -> Result<Self, BtydError> {
        self.margin = non_negative("margin", margin)?;
        Ok(self)
    }

    /// The horizon in months.
    pub fn months(&self) -> u32 {
        self.months
    }
    /// The monthly discount rate.
    pub fn monthly_discount_rate(&self) -> f64 {
        self.monthly_discount_rate
    }
    /// Summary periods per month.
    pub fn periods_per_month(&self) -> f64 {
        self.periods_per_month
    }
    /// The margin.
    pub fn margin(&self) -> f64 {
        self.margin
    }
}

/// The CLV of one customer with frequency `x`, recency `t_x`, age `T` (in
/// periods) and mean repeat spend `m`.
///
/// # Errors
/// As [`BgNbdParams::conditional_expected_purchases`] and
/// [`GammaGammaParams::conditional_expected_average_spend`].
///
/// # Example
/// ```
/// use crmkit::metrics::btyd::{bgnbd::BgNbdParams, clv::{customer_lifetime_value, ClvOptions},
///     gamma_gamma::GammaGammaParams};
/// let bg = BgNbdParams::new(0.243, 4.414 * 7.0, 0.793, 2.426)?; // α in days
/// let gg = GammaGammaParams::new(6.25, 3.74, 15.44)?;
/// let clv = customer_lifetime_value(&bg, &gg, 2.0, 213.0, 272.0, 30.0, &ClvOptions::daily(12, 0.01)?)?;
/// assert!(clv > 0.0);
/// Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn customer_lifetime_value(
    bgnbd: &BgNbdParams,
    gamma_gamma: &GammaGammaParams,
    x: f64,
    t_x: f64,
    age: f64,
    monetary_value: f64,
    options: &ClvOptions,
) -> Result<f64, BtydError> {
    let spend = gamma_gamma.conditional_expected_average_spend(x, monetary_value)?;
    let purchases = discounted_expected_purchases(bgnbd, x, t_x, age, options)?;
    finite(
        "customer lifetime value",
        options.margin * spend * purchases,
    )
}

/// The purchase part of the CLV:
/// `Σ_k (E[Y(k f) | x, t_x, T] - E[Y((k-1) f) | x, t_x, T]) / (1 + d)^k`.
/// The CLV is this times the expected spend times the margin; it depends
/// only on `(x, t_x, T)`, so customers sharing those share it.
///
/// `E[Y(t) | x, t_x, T]` is `P(alive | x, t_x, T)` times a factor of `(x, T)`
/// only, so the sum is computed as `P(alive)` times the discounted sum of
/// the factors' increments (which [`lifetime_values`] computes once per
/// distinct `(x, T)`).
///
/// # Errors
/// As [`BgNbdParams::conditional_expected_purchases`].
///
/// # Example
/// ```
/// use crmkit::metrics::btyd::{bgnbd::BgNbdParams, clv::{discounted_expected_purchases, ClvOptions}};
/// let bg = BgNbdParams::new(0.243, 30.9, 0.793, 2.426)?;
/// let undiscounted = discounted_expected_purchases(&bg, 2.0, 213.0, 272.0, &ClvOptions::daily(12, 0.0)?)?;
/// let e = bg.conditional_expected_purchases(360.0, 2.0, 213.0, 272.0)?;
/// assert!((undiscounted - e).abs() < 1e-12);
/// Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn discounted_expected_purchases(
    bgnbd: &BgNbdParams,
    x: f64,
    t_x: f64,
    age: f64,
    options: &ClvOptions,
) -> Result<f64, BtydError> {
    check_observation(0, x, t_x, age)?;
    let per_alive = discounted_brackets(bgnbd, &horizons(options), x, age, options)?;
    scaled_by_alive(bgnbd, (x, t_x, age), bgnbd.ln_dropout_odds(x), per_alive)
}

/// The monthly horizons `f, 2f, …, H f` in periods.
fn horizons(options: &ClvOptions) -> Vec<f64> {
    (1..=options.months)
        .map(|k| f64::from(k) * options.periods_per_month)
        .collect()
}

/// `Σ_k (B_k - B_{k-1}) / (1 + d)^k` of the `(x, T)` factors `B_k` of
/// `E[Y(t_k) | x, t_x, T] = P(alive) B_k` at the horizons `ts` (`B_0 = 0`;
/// a factor is taken as at least 0, as the expectation is).
fn discounted_brackets(
    bgnbd: &BgNbdParams,
    ts: &[f64],
    x: f64,
    age: f64,
    options: &ClvOptions,
) -> Result<f64, BtydError> {
    let brackets = bgnbd.conditional_brackets(ts, x, age)?;
    let mut previous = 0.0;
    let mut total = 0.0;
    let mut discount = 1.0;
    for b in brackets {
        let b = b.max(0.0);
        discount /= 1.0 + options.monthly_discount_rate;
        total += (b - previous) * discount;
        previous = b;
    }
    finite("discounted expected purchases", total)
}

/// The purchase part of a customer's CLV from their [`discounted_brackets`]
/// and `ln(a / (b + x - 1))` ([`BgNbdParams::ln_dropout_odds`], unused
/// for `x = 0`).
fn scaled_by_alive(
    bgnbd: &BgNbdParams,
    (x, t_x, age): (f64, f64, f64),
    ln_dropout_odds: f64,
    per_alive: f64,
) -> Result<f64, BtydError> {
    let alive = if x == 0.0 {
        1.0
    } else {
        bgnbd.alive_given(x, t_x, age, ln_dropout_odds)
    };
    finite("discounted expected purchases", alive * per_alive)
}

/// Customers from which [`lifetime_values`] uses two threads.
const PARALLEL_CUSTOMERS: usize = 1 << 16;

/// The CLV of every customer of a summary, in the summary's order.
///
/// The purchase part ([`discounted_expected_purchases`]) is `P(alive)`
/// times a factor of `(x, T)`, computed once per distinct `(x, T)` (found
/// through a hash map, no sort); the values are those of
/// [`customer_lifetime_value`] customer by customer. From 65,536
/// customers the two halves of the summary are valued on two threads
/// (each with its own maps: the values do not depend on the number of
/// threads).
///
/// # Errors
/// As [`customer_lifetime_value`], for the first customer (in the
/// summary's order) that has one; a monetary value beyond `f64` is
/// [`BtydError::InvalidMonetaryValue`].
pub fn lifetime_values<K: Sync>(
    summary: &Summary<K>,
    bgnbd: &BgNbdParams,
    gamma_gamma: &GammaGammaParams,
    options: &ClvOptions,
) -> Result<Vec<f64>, BtydError> {
    let customers = summary.customers();
    let models = Models {
        bgnbd,
        gamma_gamma,
        options,
        horizons: horizons(options),
    };
    if customers.len() < PARALLEL_CUSTOMERS || !two_cores() {
        return models.values(customers, 0);
    }
    let (left, right) = customers.split_at(customers.len() / 2);
    let (first, second) = std::thread::scope(|scope| {
        let second = scope.spawn(|| models.values(right, left.len()));
        (models.values(left, 0), second.join())
    });
    let mut values = first?;
    match second {
        Ok(rest) => values.extend(rest?),
        // The worker does not panic (no indexing, no unwrap); value the
        // half here if it did.
        Err(_) => values.extend(models.values(right, left.len())?),
    }
    Ok(values)
}

/// What [`lifetime_values`] values customers with.
struct Models<'a> {
    bgnbd: &'a BgNbdParams,
    gamma_gamma: &'a GammaGammaParams,
    options: &'a ClvOptions,
    horizons: Vec<f64>,
}

impl Models<'_> {
    /// The CLVs of `customers`, the first of which is customer `offset`
    /// of the summary.
    fn values<K>(
        &self,
        customers: &[CustomerSummary<K>],
        offset: usize,
    ) -> Result<Vec<f64>, BtydError> {
        // The discounted factors by (x, T): a few thousand, a small map.
        // The purchase part is P(alive) times the factor: one `exp` per
        // customer with repeat purchases, which costs about what a lookup
        // in a map of the distinct (x, t_x, T) did (a cache miss), since
        // most customers with repeat purchases have a row of their own.
        let mut per_alive: FastMap<u64, (f64, f64)> = fast_map();
        let mut values = Vec::with_capacity(customers.len());
        for (i, c) in customers.iter().enumerate() {
            let (x, t_x, age) = (
                f64::from(c.frequency),
                f64::from(c.recency),
                f64::from(c.age),
            );
            check_observation(offset + i, x, t_x, age)?;
            let xt = (u64::from(c.frequency) << 32) | u64::from(c.age);
            let (d, ln_odds) = match per_alive.get(&xt) {
                Some(&v) => v,
                None => {
                    let d = discounted_brackets(self.bgnbd, &self.horizons, x, age, self.options)?;
                    let v = (d, self.bgnbd.ln_dropout_odds(x));
                    let _ = per_alive.insert(xt, v);
                    v
                }
            };
            let part = scaled_by_alive(self.bgnbd, (x, t_x, age), ln_odds, d)?;
            // Without repeat purchases the spend model ignores `m` (and the
            // summary's value is zero): skip the conversion.
            // `sort::decimal_to_f64` is `Decimal::to_f64` bit for bit
            // without its 128-bit divisions (NaN where that gives `None`).
            let m = if c.frequency == 0 {
                0.0
            } else {
                let m = super::sort::decimal_to_f64(&c.monetary_value);
                if m.is_nan() {
                    return Err(BtydError::InvalidMonetaryValue {
                        index: offset + i,
                        value: f64::NAN,
                    });
                }
                m
            };
            let spend = self.gamma_gamma.conditional_expected_average_spend(x, m)?;
            values.push(finite(
                "customer lifetime value",
                self.options.margin * spend * part,
            )?);
        }
        Ok(values)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal::prelude::ToPrimitive;

    #[test]
    fn one_month_is_spend_times_purchases_discounted() {
        let bg = BgNbdParams::new(0.5, 10.0, 0.8, 2.5).unwrap();
        let gg = GammaGammaParams::new(6.0, 4.0, 15.0).unwrap();
        let options = ClvOptions::new(1, 0.1, 30.0)
            .unwrap()
            .with_margin(0.5)
            .unwrap();
        let clv = customer_lifetime_value(&bg, &gg, 3.0, 40.0, 60.0, 20.0, &options).unwrap();
        let e = bg
            .conditional_expected_purchases(30.0, 3.0, 40.0, 60.0)
            .unwrap();
        // spend = 6 (15 + 60) / (18 + 3) = 450 / 21
        let want = 0.5 * (450.0 / 21.0) * e / 1.1;
        assert!((clv - want).abs() < 1e-12 * want);
    }

    #[test]
    fn batch_equals_one_by_one() {
        use chrono::{TimeZone, Utc};
        use rust_decimal::Decimal;
        let at = |d| Utc.with_ymd_and_hms(2024, 1, d, 9, 0, 0).unwrap();
        let tx = [
            (1, at(1), Decimal::from(10)),
            (1, at(5), Decimal::from(20)),
            (2, at(2), Decimal::from(10)),
            (2, at(6), Decimal::from(30)), // one day younger than customer 1
            (3, at(1), Decimal::from(7)),
            (3, at(5), Decimal::from(40)), // same (x, t_x, T) as customer 1
        ];
        let end = Utc.with_ymd_and_hms(2024, 1, 20, 0, 0, 0).unwrap();
        let summary = crate::metrics::btyd::summary::summarize(
            tx,
            &crate::metrics::btyd::summary::SummaryOptions::daily(end),
        )
        .unwrap();
        let bg = BgNbdParams::new(0.5, 10.0, 0.8, 2.5).unwrap();
        let gg = GammaGammaParams::new(6.0, 4.0, 15.0).unwrap();
        let options = ClvOptions::daily(6, 0.02).unwrap();
        let batch = lifetime_values(&summary, &bg, &gg, &options).unwrap();
        for (c, v) in summary.customers().iter().zip(&batch) {
            let one = customer_lifetime_value(
                &bg,
                &gg,
                f64::from(c.frequency),
                f64::from(c.recency),
                f64::from(c.age),
                c.monetary_value.to_f64().unwrap(),
                &options,
            )
            .unwrap();
            assert_eq!(*v, one);
        }
        assert!(batch[0] < batch[2]); // customer 3 spends more
    }

    proptest::proptest! {
        /// The batch (distinct rows by hash, brackets shared per (x, T))
        /// equals the one-customer function exactly, on random ledgers.
        #[test]
        fn batch_equals_one_by_one_on_random_ledgers(
            tx in proptest::collection::vec((0u64..30, 0i64..60 * 24, 1i64..100_000), 1..300),
            r in 0.1f64..2.0,
            alpha in 1.0f64..60.0,
            a in 0.2f64..2.0,
            b in 0.5f64..4.0,
        ) {
            use chrono::{TimeDelta, TimeZone, Utc};
            use rust_decimal::Decimal;
            let start = Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap();
            let tx: Vec<_> = tx
                .into_iter()
                .map(|(k, hours, cents)| (k, start + TimeDelta::hours(hours), Decimal::new(cents, 2)))
                .collect();
            let options = crate::metrics::btyd::summary::SummaryOptions::daily(start + TimeDelta::days(61));
            let summary = crate::metrics::btyd::summary::summarize(tx, &options).unwrap();
            let bg = BgNbdParams::new(r, alpha, a, b).unwrap();
            let gg = GammaGammaParams::new(6.0, 4.0, 15.0).unwrap();
            let clv = ClvOptions::daily(12, 0.01).unwrap();
            let batch = lifetime_values(&summary, &bg, &gg, &clv).unwrap();
            proptest::prop_assert_eq!(batch.len(), summary.customers().len());
            for (c, v) in summary.customers().iter().zip(&batch) {
                let one = customer_lifetime_value(
                    &bg,
                    &gg,
                    f64::from(c.frequency),
                    f64::from(c.recency),
                    f64::from(c.age),
                    c.monetary_value.to_f64().unwrap(),
                    &clv,
                )
                .unwrap();
                proptest::prop_assert_eq!(*v, one);
            }
        }
    }

    #[test]
    fn invalid_options_are_rejected() {
        assert!(ClvOptions::daily(0, 0.01).is_err());
        assert!(ClvOptions::daily(12, -1.0).is_err());
        assert!(ClvOptions::daily(12, f64::NAN).is_err());
        assert!(ClvOptions::new(12, 0.01, 0.0).is_err());
        assert!(
            ClvOptions::daily(12, 0.01)
                .unwrap()
                .with_margin(-0.1)
                .is_err()
        );
    }
}
