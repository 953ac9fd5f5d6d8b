//! Confidence levels, intervals and the significance of a change.
//!
//! All formulas work on `f64` internally and never return NaN or an
//! infinity: degenerate inputs (n = 0, a share of exactly 0 or 1) are handled
//! explicitly, and an interval that cannot be computed is `None`.
//!
//! Quantiles of the standard normal and Student's t distributions come from
//! [`statrs`](https://docs.rs/statrs).

use serde::{Deserialize, Serialize};
use statrs::distribution::{ContinuousCDF, Normal, StudentsT};

use crate::metrics::score::MetricError;

/// A confidence level strictly between 0 and 1 (for example 0.95).
///
/// # Example
/// ```
/// use crmkit::metrics::interval::Confidence;
/// let c = Confidence::new(0.95)?;
/// assert!((c.z() - 1.959964).abs() < 1e-6);
/// assert!(Confidence::new(1.0).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Serialize, Deserialize)]
#[serde(try_from = "f64", into = "f64")]
pub struct Confidence(f64);

impl Confidence {
    /// 90 %.
    pub const P90: Confidence = Confidence(0.90);
    /// 95 %, the usual default.
    pub const P95: Confidence = Confidence(0.95);
    /// 99 %.
    pub const P99: Confidence = Confidence(0.99);

    /// The level `level`, which must be finite and in `(0, 1)`.
    ///
    /// # Errors
    /// [`MetricError::InvalidConfig`] otherwise.
    pub fn new(level: f64) -> Result<Self, MetricError> {
        if level.is_finite() && level > 0.0 && level < 1.0 {
            Ok(Self(level))
        } else {
            Err(MetricError::InvalidConfig {
                what: "confidence",
                reason: format!("{level} is not strictly between 0 and 1"),
            })
        }
    }

    /// The level as a fraction.
    pub fn level(&self) -> f64 {
        self.0
    }

    /// The two-sided standard normal quantile `z = Φ⁻¹(1 - (1 - level)/2)`
    /// (1.959964 for 95 %).
    pub fn z(&self) -> f64 {
        let p = 1.0 - (1.0 - self.0) / 2.0;
        match Normal::new(0.0, 1.0) {
            Ok(n) => finite_or(n.inverse_cdf(p), 0.0),
            Err(_) => 0.0,
        }
    }

    /// The two-sided Student's t quantile with `df` degrees of freedom
    /// (2.262157 for 95 % and 9 df); `None` unless `df > 0`.
    ///
    /// Fractional `df` are allowed (weighted data use the effective sample
    /// size minus one).
    pub fn t(&self, df: f64) -> Option<f64> {
        if !(df.is_finite() && df > 0.0) {
            return None;
        }
        let p = 1.0 - (1.0 - self.0) / 2.0;
        let t = StudentsT::new(0.0, 1.0, df).ok()?.inverse_cdf(p);
        t.is_finite().then_some(t)
    }
}

impl Default for Confidence {
    fn default() -> Self {
        Self::P95
    }
}

impl TryFrom<f64> for Confidence {
    type Error = MetricError;
    fn try_from(v: f64) -> Result<Self, Self::Error> {
        Self::new(v)
    }
}

impl From<Confidence> for f64 {
    fn from(c: Confidence) -> f64 {
        c.0
    }
}

/// A two-sided confidence interval `[lower, upper]` around `centre`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    /// Lower bound.
    pub lower: f64,
    /// Upper bound.
    pub upper: f64,
    /// The point the interval is built around (the estimate, or for the
    /// adjusted Wald interval the adjusted estimate).
    pub centre: f64,
    /// The confidence level.
    pub level: Confidence,
}

impl Interval {
    /// Whether `x` lies in `[lower, upper]`.
    pub fn contains(&self, x: f64) -> bool {
        self.lower <= x && x <= self.upper
    }

    /// Whether the interval excludes 0 (a change is significant).
    pub fn excludes_zero(&self) -> bool {
        self.lower > 0.0 || self.upper < 0.0
    }

    /// `upper - lower`.
    pub fn width(&self) -> f64 {
        self.upper - self.lower
    }
}

fn finite_or(x: f64, fallback: f64) -> f64 {
    if x.is_finite() { x } else { fallback }
}

fn sqrt0(x: f64) -> f64 {
    // Rounding can make a true 0 slightly negative.
    if x > 0.0 { x.sqrt() } else { 0.0 }
}

/// Standard error of NPS as a proportion difference, in NPS points:
/// `100 * sqrt((pP + pD - (pP - pD)^2) / n)`; `None` unless `n > 0`.
pub fn nps_standard_error(p_promoters: f64, p_detractors: f64, n: f64) -> Option<f64> {
    if !(n.is_finite() && n > 0.0) {
        return None;
    }
    let diff = p_promoters - p_detractors;
    Some(100.0 * sqrt0((p_promoters + p_detractors - diff * diff) / n))
}

/// The Wald interval for NPS (shares of promoters and detractors, sample
/// size `n`), in NPS points, clipped to `[-100, 100]`:
/// `NPS ± z · 100 · sqrt((pP + pD - (pP - pD)²) / n)`.
///
/// `None` unless `n > 0`.
///
/// # Example
/// ```
/// use crmkit::metrics::interval::{nps_wald, Confidence};
/// // 6 promoters, 2 passives, 2 detractors: NPS = 40,
/// // se = sqrt((0.6 + 0.2 - 0.4²)/10) = sqrt(0.064) = 0.252982,
/// // half width = 1.959964 * 25.2982 = 49.5836.
/// let i = nps_wald(0.6, 0.2, 10.0, Confidence::P95).ok_or("no value")?;
/// assert!((i.lower - (40.0 - 49.5836)).abs() < 1e-3);
/// assert!((i.upper - 89.5836).abs() < 1e-3);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn nps_wald(
    p_promoters: f64,
    p_detractors: f64,
    n: f64,
    level: Confidence,
) -> Option<Interval> {
    let se = nps_standard_error(p_promoters, p_detractors, n)?;
    let centre = 100.0 * (p_promoters - p_detractors);
    let half = level.z() * se;
    Some(Interval {
        lower: (centre - half).clamp(-100.0, 100.0),
        upper: (centre + half).clamp(-100.0, 100.0),
        centre,
        level,
    })
}

/// The adjusted Wald interval for NPS (Rocks 2016, as MeasuringU applies
/// it), from the promoter and detractor *counts* and the sample size `n`:
/// `n' = n + 3`, `P' = (promoters + 3/4) / n'`, `D' = (detractors + 3/4) / n'`,
/// centred on `NPS' = 100 (P' - D')` with the Wald standard error on `n'`,
/// clipped to `[-100, 100]`. It keeps a width when every answer is the same.
///
/// For weighted data pass weighted counts scaled to the effective sample
/// size (`share · n_eff`). Works for `n = 0` too (then `P' = D' = 1/4`),
/// but crmkit results call it only when there is data.
///
/// # Example
/// ```
/// use crmkit::metrics::interval::{nps_adjusted_wald, Confidence};
/// // 10 promoters of 10: n' = 13, P' = 10.75/13, D' = 0.75/13,
/// // NPS' = 100 * 10/13 = 76.923.
/// let i = nps_adjusted_wald(10.0, 0.0, 10.0, Confidence::P95).ok_or("no value")?;
/// assert!((i.centre - 76.923).abs() < 1e-3);
/// assert!(i.lower < i.centre && i.upper <= 100.0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn nps_adjusted_wald(
    promoters: f64,
    detractors: f64,
    n: f64,
    level: Confidence,
) -> Option<Interval> {
    if !(n.is_finite() && n >= 0.0 && promoters >= 0.0 && detractors >= 0.0) {
        return None;
    }
    let n_adj = n + 3.0;
    let p = (promoters + 0.75) / n_adj;
    let d = (detractors + 0.75) / n_adj;
    let se = nps_standard_error(p, d, n_adj)?;
    let centre = 100.0 * (p - d);
    let half = level.z() * se;
    Some(Interval {
        lower: (centre - half).clamp(-100.0, 100.0),
        upper: (centre + half).clamp(-100.0, 100.0),
        centre,
        level,
    })
}

/// The Wilson score interval for a proportion `p` of `n`, in percent:
/// centre `(p + z²/2n) / (1 + z²/n)`, half width
/// `z / (1 + z²/n) · sqrt(p(1-p)/n + z²/4n²)` (Wilson 1927). The reported
/// `centre` is the estimate `100 p`, which the interval always contains.
///
/// `None` unless `n > 0` and `0 <= p <= 1`.
///
/// # Example
/// ```
/// use crmkit::metrics::interval::{wilson, Confidence};
/// // 8 of 10 satisfied at 95 %: the textbook Wilson interval is [49.02, 94.33] %.
/// let i = wilson(0.8, 10.0, Confidence::P95).ok_or("no value")?;
/// assert!((i.lower - 49.016).abs() < 1e-2 && (i.upper - 94.331).abs() < 1e-2);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn wilson(p: f64, n: f64, level: Confidence) -> Option<Interval> {
    if !(n.is_finite() && n > 0.0 && (0.0..=1.0).contains(&p)) {
        return None;
    }
    let z = level.z();
    let z2 = z * z;
    let denom = 1.0 + z2 / n;
    let mid = (p + z2 / (2.0 * n)) / denom;
    let half = z / denom * sqrt0(p * (1.0 - p) / n + z2 / (4.0 * n * n));
    Some(Interval {
        lower: (100.0 * (mid - half)).clamp(0.0, 100.0 * p),
        upper: (100.0 * (mid + half)).clamp(100.0 * p, 100.0),
        centre: 100.0 * p,
        level,
    })
}

/// The t interval for a mean: `mean ± t(df = n - 1) · sd / sqrt(n)`, with
/// `sd` the sample standard deviation. `None` unless `n > 1`.
///
/// # Example
/// ```
/// use crmkit::metrics::interval::{t_interval, Confidence};
/// // mean 5, sd 2, n = 10: t(0.975, 9) = 2.262157, half = 2.262157 * 2 / sqrt(10) = 1.430714.
/// let i = t_interval(5.0, 2.0, 10.0, Confidence::P95).ok_or("no value")?;
/// assert!((i.upper - 6.430714).abs() < 1e-5);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn t_interval(mean: f64, sd: f64, n: f64, level: Confidence) -> Option<Interval> {
    if !(n.is_finite() && n > 1.0 && mean.is_finite() && sd.is_finite() && sd >= 0.0) {
        return None;
    }
    let t = level.t(n - 1.0)?;
    let half = t * sd / n.sqrt();
    Some(Interval {
        lower: mean - half,
        upper: mean + half,
        centre: mean,
        level,
    })
}

/// A change of an estimate between two periods and whether it is
/// significant.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Change {
    /// `later - earlier`.
    pub difference: f64,
    /// `sqrt(se_earlier² + se_later²)`.
    pub standard_error: f64,
    /// `difference ± z · standard_error`.
    pub interval: Interval,
    /// Whether the interval excludes 0.
    pub significant: bool,
}

/// The change from `(earlier, se_earlier)` to `(later, se_later)`:
/// difference `later - earlier`, standard error `sqrt(se1² + se2²)`,
/// significant when `difference ± z · se` excludes 0.
///
/// `None` if any input is not finite.
///
/// # Example
/// ```
/// use crmkit::metrics::interval::{change, Confidence};
/// // 30 -> 50 with se 5 and 5: se = 7.0711, half = 13.859, interval [6.14, 33.86].
/// let c = change(30.0, 5.0, 50.0, 5.0, Confidence::P95).ok_or("no value")?;
/// assert!(c.significant);
/// assert!((c.interval.lower - 6.141).abs() < 1e-3);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn change(
    earlier: f64,
    se_earlier: f64,
    later: f64,
    se_later: f64,
    level: Confidence,
) -> Option<Change> {
    if ![earlier, se_earlier, later, se_later]
        .iter()
        .all(|x| x.is_finite())
    {
        return None;
    }
    let difference = later - earlier;
    let standard_error = (se_earlier * se_earlier + se_later * se_later).sqrt();
    let half = level.z() * standard_error;
    let interval = Interval {
        lower: difference - half,
        upper: difference + half,
        centre: difference,
        level,
    };
    Some(Change {
        difference,
        standard_error,
        interval,
        significant: interval.excludes_zero(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_match_tables() {
        // Normal table: z(0.90) = 1.644854, z(0.95) = 1.959964, z(0.99) = 2.575829.
        assert!((Confidence::P90.z() - 1.644854).abs() < 1e-6);
        assert!((Confidence::P95.z() - 1.959964).abs() < 1e-6);
        assert!((Confidence::P99.z() - 2.575829).abs() < 1e-6);
        // t table: t(0.975, 1) = 12.7062, t(0.975, 29) = 2.04523, t(0.995, 5) = 4.03214.
        assert!((Confidence::P95.t(1.0).unwrap() - 12.7062).abs() < 1e-3);
        assert!((Confidence::P95.t(29.0).unwrap() - 2.04523).abs() < 1e-4);
        assert!((Confidence::P99.t(5.0).unwrap() - 4.03214).abs() < 1e-4);
        assert_eq!(Confidence::P95.t(0.0), None);
    }

    #[test]
    fn degenerate_inputs_are_none_not_nan() {
        assert_eq!(nps_wald(0.0, 0.0, 0.0, Confidence::P95), None);
        assert_eq!(wilson(0.5, 0.0, Confidence::P95), None);
        assert_eq!(t_interval(3.0, 0.0, 1.0, Confidence::P95), None);
        assert_eq!(change(f64::NAN, 1.0, 0.0, 1.0, Confidence::P95), None);
    }

    #[test]
    fn wald_all_promoters_has_no_width_adjusted_has() {
        // p = 1, d = 0: se = sqrt((1 + 0 - 1)/5) = 0.
        let w = nps_wald(1.0, 0.0, 5.0, Confidence::P95).unwrap();
        assert_eq!((w.lower, w.upper), (100.0, 100.0));
        // n' = 8, P' = 5.75/8 = 0.71875, D' = 0.75/8 = 0.09375, NPS' = 62.5;
        // se = sqrt((0.8125 - 0.625²)/8) = sqrt(0.421875/8) = sqrt(0.05273438) = 0.229640;
        // half = 1.959964 * 22.9640 = 45.008.
        let a = nps_adjusted_wald(5.0, 0.0, 5.0, Confidence::P95).unwrap();
        assert!((a.centre - 62.5).abs() < 1e-9);
        assert!((a.lower - (62.5 - 45.008)).abs() < 1e-2);
        assert_eq!(a.upper, 100.0);
    }

    #[test]
    fn wilson_extremes() {
        // p = 0, n = 10, z² = 3.841459: upper = z²/n / (1 + z²/n) = 0.3841459/1.3841459 = 27.753 %.
        let i = wilson(0.0, 10.0, Confidence::P95).unwrap();
        assert_eq!(i.lower, 0.0);
        assert!((i.upper - 27.753).abs() < 1e-2);
    }

    #[test]
    fn change_without_difference_is_not_significant() {
        let c = change(40.0, 0.0, 40.0, 0.0, Confidence::P95).unwrap();
        assert!(!c.significant);
        let c = change(40.0, 0.0, 41.0, 0.0, Confidence::P95).unwrap();
        assert!(c.significant);
    }
}
