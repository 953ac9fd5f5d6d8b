//! Simulation from the BG/NBD and Gamma-Gamma generative processes, for
//! tests, benchmarks and synthetic data (feature `synth`).
//!
//! A customer makes a first purchase at time 0, then, while alive, buys as
//! a Poisson process with rate `λ ~ Gamma(r, α)`; after each repeat
//! purchase they die with probability `p ~ Beta(a, b)`. Each purchase is
//! worth `z ~ Gamma(p_gg, ν)` with `ν ~ Gamma(q, v)` per customer.

use rand::{Rng, RngExt};
use rand_distr::{Beta, Distribution, Exp, Gamma};

use super::BtydError;
use super::bgnbd::BgNbdParams;
use super::gamma_gamma::GammaGammaParams;

/// One simulated customer, observed for `age` time units after the first
/// purchase.
#[derive(Debug, Clone, PartialEq)]
pub struct SimulatedCustomer {
    /// Times of the repeat purchases, increasing, in `(0, age]`.
    pub repeat_times: Vec<f64>,
    /// Value of every purchase: the first one, then one per repeat purchase.
    pub amounts: Vec<f64>,
    /// Observation length after the first purchase.
    pub age: f64,
    /// Whether the customer is still alive at the end of the observation.
    pub alive: bool,
}

impl SimulatedCustomer {
    /// Frequency `x`: the number of repeat purchases.
    pub fn frequency(&self) -> f64 {
        self.repeat_times.len() as f64
    }
    /// Recency `t_x`: time of the last repeat purchase (0 if none).
    pub fn recency(&self) -> f64 {
        self.repeat_times.last().copied().unwrap_or(0.0)
    }
    /// Mean value of the repeat purchases (0 if none).
    pub fn monetary_value(&self) -> f64 {
        let repeat = self.amounts.get(1..).unwrap_or(&[]);
        if repeat.is_empty() {
            0.0
        } else {
            repeat.iter().sum::<f64>() / repeat.len() as f64
        }
    }
}

fn sampling_error(_: impl std::fmt::Debug) -> BtydError {
    BtydError::OutOfRange {
        name: "simulation parameter",
        value: f64::NAN,
        range: "a valid distribution parameter",
    }
}

/// Simulates one customer observed for `age` after the first purchase.
///
/// # Errors
/// [`BtydError::OutOfRange`] for a negative or non-finite `age`.
///
/// # Example
/// ```
/// use crmkit::metrics::btyd::{bgnbd::BgNbdParams, gamma_gamma::GammaGammaParams, simulate::simulate_customer};
/// use rand::SeedableRng;
/// let mut rng = rand::rngs::StdRng::seed_from_u64(7);
/// let bg = BgNbdParams::new(0.25, 4.0, 0.8, 2.4)?;
/// let gg = GammaGammaParams::new(6.0, 3.7, 15.0)?;
/// let c = simulate_customer(&mut rng, &bg, &gg, 52.0)?;
/// assert_eq!(c.amounts.len(), c.repeat_times.len() + 1);
/// assert!(c.recency() <= 52.0);
/// Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn simulate_customer<R: Rng + ?Sized>(
    rng: &mut R,
    bgnbd: &BgNbdParams,
    gamma_gamma: &GammaGammaParams,
    age: f64,
) -> Result<SimulatedCustomer, BtydError> {
    let age = super::non_negative("age", age)?;
    let lambda = Gamma::new(bgnbd.r(), 1.0 / bgnbd.alpha())
        .map_err(sampling_error)?
        .sample(rng);
    let p_die = Beta::new(bgnbd.a(), bgnbd.b())
        .map_err(sampling_error)?
        .sample(rng);
    let nu = Gamma::new(gamma_gamma.q(), 1.0 / gamma_gamma.v())
        .map_err(sampling_error)?
        .sample(rng);
    let spend =
        Gamma::new(gamma_gamma.p(), 1.0 / nu.max(f64::MIN_POSITIVE)).map_err(sampling_error)?;
    let mut repeat_times = Vec::new();
    let mut amounts = vec![spend.sample(rng)];
    let mut alive = true;
    if lambda > 0.0 {
        let gap = Exp::new(lambda).map_err(sampling_error)?;
        let mut t = 0.0;
        loop {
            t += gap.sample(rng);
            if t > age {
                break;
            }
            repeat_times.push(t);
            amounts.push(spend.sample(rng));
            if rng.random::<f64>() < p_die {
                alive = false;
                break;
            }
        }
    }
    Ok(SimulatedCustomer {
        repeat_times,
        amounts,
        age,
        alive,
    })
}

/// Simulates `n` customers with ages drawn uniformly from
/// `[min_age, max_age]` and returns their `(x, t_x, T, m)`.
///
/// # Errors
/// [`BtydError::OutOfRange`] unless `0 <= min_age <= max_age`, finite.
pub fn simulate_summaries<R: Rng + ?Sized>(
    rng: &mut R,
    bgnbd: &BgNbdParams,
    gamma_gamma: &GammaGammaParams,
    n: usize,
    min_age: f64,
    max_age: f64,
) -> Result<Vec<(f64, f64, f64, f64)>, BtydError> {
    let min_age = super::non_negative("min_age", min_age)?;
    let max_age = super::non_negative("max_age", max_age)?;
    if min_age > max_age {
        return Err(BtydError::OutOfRange {
            name: "min_age",
            value: min_age,
            range: "<= max_age",
        });
    }
    (0..n)
        .map(|_| {
            let age = min_age + (max_age - min_age) * rng.random::<f64>();
            let c = simulate_customer(rng, bgnbd, gamma_gamma, age)?;
            Ok((c.frequency(), c.recency(), c.age, c.monetary_value()))
        })
        .collect()
}

/// Simulates the transactions of `customers` customers (keys `0..customers`)
/// between `start` and `end`: each makes a first purchase at a uniform time
/// in `[start, start + acquisition)`, then buys by the BG/NBD process with
/// time measured in `period`s, each purchase worth a Gamma-Gamma amount
/// rounded to cents (at least 0.01). Transactions come out grouped by
/// customer, in time order.
///
/// # Errors
/// [`BtydError::InvalidPeriod`] unless `period` and `acquisition` are
/// positive and `start + acquisition <= end`.
///
/// # Example
/// ```
/// use chrono::{TimeDelta, TimeZone, Utc};
/// use crmkit::metrics::btyd::{bgnbd::BgNbdParams, gamma_gamma::GammaGammaParams, simulate::simulate_transactions};
/// use rand::SeedableRng;
/// let mut rng = rand::rngs::StdRng::seed_from_u64(1);
/// let bg = BgNbdParams::new(0.243, 30.9, 0.793, 2.426)?;
/// let gg = GammaGammaParams::new(6.25, 3.74, 15.44)?;
/// let start = Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap();
/// let end = start + TimeDelta::days(546);
/// let tx = simulate_transactions(&mut rng, &bg, &gg, 100, start, end, TimeDelta::days(84), TimeDelta::days(1))?;
/// assert!(tx.len() >= 100 && tx.iter().all(|t| t.1 >= start && t.1 < end));
/// Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[allow(clippy::too_many_arguments)]
pub fn simulate_transactions<R: Rng + ?Sized>(
    rng: &mut R,
    bgnbd: &BgNbdParams,
    gamma_gamma: &GammaGammaParams,
    customers: u64,
    start: chrono::DateTime<chrono::Utc>,
    end: chrono::DateTime<chrono::Utc>,
    acquisition: chrono::TimeDelta,
    period: chrono::TimeDelta,
) -> Result<Vec<(u64, chrono::DateTime<chrono::Utc>, rust_decimal::Decimal)>, BtydError> {
    let period_ms = period.num_milliseconds();
    let acquisition_ms = acquisition.num_milliseconds();
    if period_ms < 1 || acquisition_ms < 1 || start + acquisition > end {
        return Err(BtydError::InvalidPeriod {
            reason: "period and acquisition must be positive and fit before the end",
        });
    }
    let cents = |v: f64| rust_decimal::Decimal::new(((v * 100.0).round() as i64).max(1), 2);
    let mut out = Vec::new();
    for key in 0..customers {
        let offset = (rng.random::<f64>() * acquisition_ms as f64) as i64;
        let first = start + chrono::TimeDelta::milliseconds(offset);
        let age = (end - first).num_milliseconds() as f64 / period_ms as f64;
        let c = simulate_customer(rng, bgnbd, gamma_gamma, age)?;
        let mut amounts = c.amounts.iter().copied();
        out.push((key, first, cents(amounts.next().unwrap_or(0.0))));
        for (t, amount) in c.repeat_times.iter().zip(amounts) {
            let at = first + chrono::TimeDelta::milliseconds((t * period_ms as f64) as i64);
            if at < end {
                out.push((key, at, cents(amount)));
            }
        }
    }
    Ok(out)
}
