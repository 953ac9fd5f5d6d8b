//! Predictive customer lifetime value: the "buy till you die" models.
//!
//! For a non-contractual business (customers buy when they like and leave
//! without telling), the established way to predict future purchases and
//! value is:
//!
//! 1. [`summary`]: per customer, from the transactions up to an observation
//!    end, the number of *repeat* purchase periods `x` (frequency), the age
//!    of the last purchase `t_x` (recency) and the customer's age `T`, all in
//!    periods (a day by default), and the mean value of the repeat purchases.
//! 2. [`bgnbd`]: the BG/NBD model (Fader, Hardie & Lee 2005, "Counting your
//!    customers the easy way") fitted by maximum likelihood: expected
//!    purchases, the probability that a customer is still alive, the
//!    distribution of the number of purchases.
//! 3. [`gamma_gamma`]: the Gamma-Gamma spend model (Fader, Hardie & Lee
//!    2005, "RFM and CLV"), fitted on repeat customers: the expected average
//!    value of a customer's future purchases.
//! 4. [`clv`]: lifetime value over a horizon, discounted month by month as
//!    the Python library `lifetimes` does, so figures can be compared.
//!
//! Identical `(x, t_x, T)` rows are collapsed with weights before fitting, so
//! a fit costs time in the number of *distinct* rows. The models compute in
//! `f64` and never return NaN or infinity: evaluations that cannot be done
//! accurately are a [`BtydError`].
//!
//! # Example
//! ```
//! use chrono::{TimeZone, Utc};
//! use crmkit::metrics::btyd::{bgnbd::{BgNbdData, BgNbdParams}, summary::{summarize, SummaryOptions}};
//! use rust_decimal::Decimal;
//!
//! let day = |d: u32| Utc.with_ymd_and_hms(2024, 1, d, 12, 0, 0).unwrap();
//! let transactions = vec![
//!     ("ann", day(1), Decimal::new(2000, 2)),
//!     ("ann", day(5), Decimal::new(3000, 2)),
//!     ("bob", day(3), Decimal::new(1000, 2)),
//! ];
//! let options = SummaryOptions::daily(Utc.with_ymd_and_hms(2024, 1, 11, 0, 0, 0).unwrap());
//! let summary = summarize(transactions, &options)?;
//! let ann = &summary.customers()[0];
//! // Days 1 and 5; the last observed day is January 10.
//! assert_eq!((ann.frequency, ann.recency, ann.age), (1, 4, 9));
//!
//! // Predict with known parameters (normally from `BgNbdData::fit`).
//! let params = BgNbdParams::new(0.243, 4.414, 0.793, 2.426)?;
//! let p = params.probability_alive(1.0, 4.0, 10.0)?;
//! assert!(p > 0.0 && p < 1.0);
//! let data = BgNbdData::from_summary(&summary)?;
//! assert_eq!(data.total_weight(), 2.0);
//! Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod bgnbd;
pub mod clv;
pub mod gamma_gamma;
mod optim;
#[cfg(feature = "synth")]
pub mod simulate;
mod sort;
pub mod special;
pub mod summary;

pub use optim::{FitOptions, FitReport};

/// What went wrong in the buy-till-you-die models.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum BtydError {
    /// There was no row to fit or summarise.
    #[error("no {what} to work on")]
    Empty {
        /// What was empty (`customers`, `repeat customers`, `transactions`).
        what: &'static str,
    },
    /// An `(x, t_x, T)` observation is impossible: negative or non-finite,
    /// `x > 0` with `t_x = 0`, or `t_x > T`.
    #[error("observation {index} (x = {x}, t_x = {t_x}, T = {age}) is invalid: {reason}")]
    InvalidObservation {
        /// Position of the row in the input.
        index: usize,
        /// Frequency: number of repeat purchases.
        x: f64,
        /// Recency: time of the last purchase since the first.
        t_x: f64,
        /// Age: time since the first purchase.
        age: f64,
        /// Which rule was broken.
        reason: &'static str,
    },
    /// A monetary value is not positive and finite where the spend model
    /// needs one (customers with at least one repeat purchase).
    #[error("monetary value {value} of row {index} must be positive and finite")]
    InvalidMonetaryValue {
        /// Position of the row in the input.
        index: usize,
        /// The rejected value.
        value: f64,
    },
    /// A model parameter or argument is out of its domain.
    #[error("{name} = {value} is out of range: must be {range}")]
    OutOfRange {
        /// The parameter or argument.
        name: &'static str,
        /// The rejected value.
        value: f64,
        /// The allowed range, human readable.
        range: &'static str,
    },
    /// A transaction amount was negative (record refunds against the
    /// purchase they reverse before summarising).
    #[error("transaction {index} has a negative amount {amount}")]
    NegativeAmount {
        /// Position of the transaction in the input.
        index: usize,
        /// The rejected amount.
        amount: rust_decimal::Decimal,
    },
    /// Purchases in more than one currency were summarised together.
    #[error("purchases are in {first} and {other}: summarise one currency at a time")]
    MixedCurrencies {
        /// The first currency seen.
        first: String,
        /// Another currency.
        other: String,
    },
    /// A sum of amounts overflowed `Decimal`.
    #[error("monetary sum overflowed")]
    Overflow,
    /// The period length is not a positive duration, or the observation end
    /// is not after the calibration end.
    #[error("invalid period: {reason}")]
    InvalidPeriod {
        /// What is wrong.
        reason: &'static str,
    },
    /// The Gauss hypergeometric function could not be evaluated accurately
    /// at these arguments (outside `0 <= z < 1`, or no convergence).
    #[error("2F1({a}, {b}; {c}; {z}) cannot be evaluated")]
    Hypergeometric {
        /// First numerator parameter.
        a: f64,
        /// Second numerator parameter.
        b: f64,
        /// Denominator parameter.
        c: f64,
        /// Argument.
        z: f64,
    },
    /// The likelihood could not be evaluated at the starting point of a fit,
    /// or the fit did not reach a finite optimum.
    #[error("the fit failed: {reason}")]
    FitFailed {
        /// What happened.
        reason: &'static str,
    },
    /// The fit stopped without meeting its convergence criterion; the
    /// report holds where it stopped.
    #[error(
        "the fit did not converge after {iterations} iterations (gradient norm {gradient_norm:e})"
    )]
    NotConverged {
        /// Iterations done.
        iterations: u32,
        /// Largest absolute gradient component when it stopped.
        gradient_norm: f64,
    },
}

/// The number of threads to split `work` items over: 1 below `threshold`,
/// else the machine's parallelism (at most 8).
pub(crate) fn worker_threads(work: usize, threshold: usize) -> usize {
    static THREADS: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    if work < threshold {
        return 1;
    }
    *THREADS.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get().min(8)))
}

/// `f` of every item, in order, computed on up to `threads` threads (this
/// one included) over contiguous runs of items; `None` if a worker
/// panicked. The results do not depend on the number of threads.
pub(crate) fn map_in_order<T: Sync, R: Send>(
    items: &[T],
    threads: usize,
    f: impl Fn(&T) -> R + Sync,
) -> Option<Vec<R>> {
    if threads < 2 || items.len() < 2 {
        return Some(items.iter().map(&f).collect());
    }
    let per_thread = items.len().div_ceil(threads);
    let mut runs = items.chunks(per_thread);
    let first = runs.next().unwrap_or_default();
    let f = &f;
    std::thread::scope(|scope| {
        let handles: Vec<_> = runs
            .map(|run| scope.spawn(move || run.iter().map(f).collect::<Vec<R>>()))
            .collect();
        // This thread takes the first run.
        let mut out: Vec<R> = first.iter().map(f).collect();
        for h in handles {
            out.extend(h.join().ok()?);
        }
        Some(out)
    })
}

/// From this many customers [`collapse_summary`] builds the two data sets
/// on two threads.
const PARALLEL_CUSTOMERS: usize = 100_000;

/// Both models' inputs from one summary: the BG/NBD `(x, t_x, T)` rows
/// ([`BgNbdData::from_summary`](bgnbd::BgNbdData::from_summary)) and the
/// Gamma-Gamma `(x, m)` rows of the repeat customers
/// ([`GammaGammaData::from_summary`](gamma_gamma::GammaGammaData::from_summary)),
/// equal to those two constructors' results. From 100,000 customers the two
/// collapses run on two threads, the calling thread also converting the
/// monetary values of the last quarter of the customers for the
/// Gamma-Gamma collapse (the longer of the two), so that both threads
/// finish at about the same time.
///
/// # Errors
/// As the two constructors: [`BtydError::Empty`] for a summary without
/// customers or without repeat customers,
/// [`BtydError::InvalidMonetaryValue`] for a repeat customer's value that
/// is not a positive `f64`.
///
/// # Example
/// ```
/// use chrono::{TimeZone, Utc};
/// use crmkit::metrics::btyd::collapse_summary;
/// use crmkit::metrics::btyd::summary::{summarize, SummaryOptions};
/// use rust_decimal::Decimal;
///
/// let day = |d: u32| Utc.with_ymd_and_hms(2024, 1, d, 12, 0, 0).unwrap();
/// let transactions = vec![
///     ("ann", day(1), Decimal::new(2000, 2)),
///     ("ann", day(5), Decimal::new(3000, 2)),
///     ("bob", day(3), Decimal::new(1000, 2)),
/// ];
/// let options = SummaryOptions::daily(Utc.with_ymd_and_hms(2024, 1, 11, 0, 0, 0).unwrap());
/// let summary = summarize(transactions, &options)?;
/// let (bg, gg) = collapse_summary(&summary)?;
/// assert_eq!((bg.total_weight(), gg.total_weight()), (2.0, 1.0));
/// Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn collapse_summary<K: Sync>(
    summary: &summary::Summary<K>,
) -> Result<(bgnbd::BgNbdData, gamma_gamma::GammaGammaData), BtydError> {
    use bgnbd::BgNbdData;
    use gamma_gamma::GammaGammaData;
    if worker_threads(summary.customers().len(), PARALLEL_CUSTOMERS) < 2 {
        return Ok((
            BgNbdData::from_summary(summary)?,
            GammaGammaData::from_summary(summary)?,
        ));
    }
    // The Gamma-Gamma collapse (scan and convert the monetary values, then
    // sort) takes longer than the BG/NBD one; this thread scans the last
    // quarter of its customers first and hands them over, so both threads
    // finish at about the same time.
    let customers = summary.customers();
    let cut = customers.len() - customers.len() / GG_SCAN_SHARE;
    let (head, tail) = customers.split_at(cut);
    let (bg, gg) = std::thread::scope(|scope| {
        let (send, receive) = std::sync::mpsc::sync_channel(1);
        let gg = scope.spawn(move || {
            let first = gamma_gamma::RepeatScan::of(head, 0);
            let second = receive
                .recv()
                .unwrap_or_else(|_| gamma_gamma::RepeatScan::of(tail, cut));
            GammaGammaData::from_scans(first?, second?)
        });
        // The worker may have stopped (it does not panic); then it scans
        // the tail itself, or this thread collapses below.
        let _ = send.send(gamma_gamma::RepeatScan::of(tail, cut));
        let bg = BgNbdData::from_summary(summary);
        let gg = gg
            .join()
            .unwrap_or_else(|_| GammaGammaData::from_summary(summary));
        (bg, gg)
    });
    Ok((bg?, gg?))
}

/// [`collapse_summary`] scans `1 / GG_SCAN_SHARE` of the customers for the
/// Gamma-Gamma collapse on the calling thread.
const GG_SCAN_SHARE: usize = 4;

/// Checks that a value is finite and strictly positive.
pub(crate) fn positive(name: &'static str, value: f64) -> Result<f64, BtydError> {
    if value.is_finite() && value > 0.0 {
        Ok(value)
    } else {
        Err(BtydError::OutOfRange {
            name,
            value,
            range: "finite and > 0",
        })
    }
}

/// Checks that a value is finite and not negative.
pub(crate) fn non_negative(name: &'static str, value: f64) -> Result<f64, BtydError> {
    if value.is_finite() && value >= 0.0 {
        Ok(value)
    } else {
        Err(BtydError::OutOfRange {
            name,
            value,
            range: "finite and >= 0",
        })
    }
}

/// Returns the value if it is finite, else an out-of-range error naming it:
/// the models never hand out NaN or infinity.
pub(crate) fn finite(name: &'static str, value: f64) -> Result<f64, BtydError> {
    if value.is_finite() {
        Ok(value)
    } else {
        Err(BtydError::OutOfRange {
            name,
            value,
            range: "finite (the evaluation overflowed)",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::bgnbd::BgNbdData;
    use super::gamma_gamma::GammaGammaData;
    use super::summary::{Summary, SummaryOptions, summarize};
    use super::*;
    use chrono::{TimeDelta, TimeZone, Utc};
    use proptest::prelude::*;
    use rust_decimal::Decimal;
    use rust_decimal::prelude::ToPrimitive;

    type Rows4 = Vec<[u64; 4]>;
    type Rows3 = Vec<[u64; 3]>;

    fn bits(bg: &BgNbdData, gg: &GammaGammaData) -> (Rows4, Rows3) {
        (
            bg.rows()
                .map(|r| [r.0, r.1, r.2, r.3].map(f64::to_bits))
                .collect(),
            gg.rows()
                .map(|r| [r.0, r.1, r.2].map(f64::to_bits))
                .collect(),
        )
    }

    /// The summary's rows through the general constructors (f64 rows,
    /// hash-map collapse, the library's Decimal conversion).
    fn general(summary: &Summary<u32>) -> (BgNbdData, Result<GammaGammaData, BtydError>) {
        let c = summary.customers();
        let bg = BgNbdData::new(c.iter().map(|c| {
            (
                f64::from(c.frequency),
                f64::from(c.recency),
                f64::from(c.age),
            )
        }))
        .unwrap();
        let gg = GammaGammaData::new(c.iter().map(|c| {
            (
                f64::from(c.frequency),
                c.monetary_value.to_f64().unwrap_or(f64::NAN),
            )
        }));
        (bg, gg)
    }

    fn summary_of(tx: Vec<(u32, i64, i64)>) -> Summary<u32> {
        let start = Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap();
        let end = start + TimeDelta::days(400);
        let tx = tx.into_iter().map(|(k, minutes, cents)| {
            (
                k,
                start + TimeDelta::minutes(minutes),
                Decimal::new(cents, 2),
            )
        });
        summarize(tx, &SummaryOptions::daily(end)).unwrap()
    }

    proptest! {
        /// The summary fast paths (packed radix collapses, fast Decimal
        /// conversion) and `collapse_summary` give the rows, order and
        /// weights of the general constructors, bit for bit.
        #[test]
        fn summary_collapses_equal_the_general_constructors(
            tx in proptest::collection::vec((0u32..60, 0i64..500_000, 1i64..100_000), 1..300)
        ) {
            let summary = summary_of(tx);
            let (bg0, gg0) = general(&summary);
            let bg = BgNbdData::from_summary(&summary).unwrap();
            match (GammaGammaData::from_summary(&summary), gg0) {
                (Ok(gg), Ok(gg0)) => {
                    prop_assert_eq!(bits(&bg, &gg), bits(&bg0, &gg0));
                    let (bg2, gg2) = collapse_summary(&summary).unwrap();
                    prop_assert_eq!(bits(&bg2, &gg2), bits(&bg0, &gg0));
                }
                (Err(e), Err(e0)) => {
                    prop_assert_eq!(&e, &e0);
                    prop_assert_eq!(collapse_summary(&summary).err(), Some(e0));
                }
                (a, b) => prop_assert!(false, "{:?} vs {:?}", a.err(), b.err()),
            }
        }
    }

    #[test]
    fn collapse_summary_on_two_threads_equals_the_constructors() {
        // 120,000 customers: above PARALLEL_CUSTOMERS.
        let tx = (0..240_000u32)
            .map(|i| {
                let k = i % 120_000;
                let minutes = i64::from((k * 7919 + i / 120_000 * 104_729) % 570_000);
                (k, minutes, 100 + i64::from(i % 9_973))
            })
            .collect();
        let summary = summary_of(tx);
        assert!(summary.customers().len() >= PARALLEL_CUSTOMERS);
        let (bg0, gg0) = general(&summary);
        let (bg, gg) = collapse_summary(&summary).unwrap();
        assert_eq!(bits(&bg, &gg), bits(&bg0, &gg0.unwrap()));
    }

    #[test]
    fn collapse_summary_on_two_threads_reports_the_first_invalid_value() {
        // 120,000 customers, each buying twice 104,729 minutes (72 days)
        // apart (their first minute is k * 7919 mod 570,000, at most
        // 465,271 for these keys, so the second is before the end at
        // 576,000): customer 100,000 (in the last quarter, which the
        // calling thread scans) and then also customer 50,000 (in the
        // worker's part) spend zero, an invalid mean spend.
        let tx = |zero: &[u32]| {
            let rows = (0..240_000u32)
                .map(|i| {
                    let k = i % 120_000;
                    let minutes = i64::from((k * 7919 + i / 120_000 * 104_729) % 570_000);
                    let cents = if zero.contains(&k) { 0 } else { 100 };
                    (k, minutes, cents)
                })
                .collect();
            summary_of(rows)
        };
        for (zero, first) in [(&[100_000][..], 100_000), (&[50_000, 100_000][..], 50_000)] {
            let summary = tx(zero);
            let want = GammaGammaData::from_summary(&summary).err();
            assert!(
                matches!(want, Some(BtydError::InvalidMonetaryValue { index, value }) if index == first && value == 0.0),
                "{want:?}"
            );
            assert_eq!(collapse_summary(&summary).err(), want);
        }
    }
}
