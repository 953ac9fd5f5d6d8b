//! Customer Satisfaction (CSAT): the percentage of answers at or above a
//! threshold on the survey's scale, with the mean score alongside.
//!
//! Default thresholds (the "top box" convention): 1-3 -> 3, 1-5 -> 4 (4-5),
//! 1-7 -> 6 (6-7), 1-10 -> 9 (9-10; use [`Csat::new`] with 8 for 8-10).
//! The percentage is a [`Decimal`] at
//! [`SCORE_DP`](crate::metrics::score::SCORE_DP) places, midpoints away from
//! zero, next to the exact counts; its interval is Wilson's
//! ([`wilson`](crate::metrics::interval::wilson())), the mean's a t interval.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::metrics::accumulator::{Accumulator, MergeError, PortableState};
use crate::metrics::interval::{Change, Confidence, Interval, change, wilson};
use crate::metrics::score::{
    DEFAULT_MIN_SAMPLE, Estimate, MeanEstimate, MetricError, ScoreHistogram, ScoreRange, Scored,
    decimal_of, percent_exact,
};

/// The shared state of CSAT and CES: a histogram, a threshold and a minimum
/// sample.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "ShareRepr")]
pub(crate) struct ThresholdShare {
    threshold: u8,
    min_sample: u64,
    histogram: ScoreHistogram,
}

#[derive(Deserialize)]
struct ShareRepr {
    threshold: u8,
    min_sample: u64,
    histogram: ScoreHistogram,
}

impl TryFrom<ShareRepr> for ThresholdShare {
    type Error = MetricError;
    fn try_from(r: ShareRepr) -> Result<Self, Self::Error> {
        let mut s = ThresholdShare::new(r.histogram.range(), r.threshold, "threshold")?;
        s.min_sample = r.min_sample;
        s.histogram = r.histogram;
        Ok(s)
    }
}

impl ThresholdShare {
    pub(crate) fn new(
        range: ScoreRange,
        threshold: u8,
        what: &'static str,
    ) -> Result<Self, MetricError> {
        if !range.contains(threshold) {
            return Err(MetricError::InvalidConfig {
                what,
                reason: format!(
                    "{threshold} is not on the scale {}..={}",
                    range.min(),
                    range.max()
                ),
            });
        }
        Ok(Self {
            threshold,
            min_sample: DEFAULT_MIN_SAMPLE,
            histogram: ScoreHistogram::new(range),
        })
    }

    /// For constant configurations known to be valid (threshold on the
    /// scale).
    pub(crate) fn known_valid(range: ScoreRange, threshold: u8) -> Self {
        Self {
            threshold,
            min_sample: DEFAULT_MIN_SAMPLE,
            histogram: ScoreHistogram::new(range),
        }
    }

    pub(crate) fn histogram(&self) -> &ScoreHistogram {
        &self.histogram
    }

    pub(crate) fn histogram_mut(&mut self) -> &mut ScoreHistogram {
        &mut self.histogram
    }

    pub(crate) fn set_min_sample(&mut self, n: u64) {
        self.min_sample = n;
    }

    pub(crate) fn threshold(&self) -> u8 {
        self.threshold
    }

    pub(crate) fn with_histogram(
        &self,
        histogram: ScoreHistogram,
        name: &'static str,
    ) -> Result<Self, MetricError> {
        if histogram.range() != self.histogram.range() {
            return Err(MergeError::config(name, "histogram on another score range").into());
        }
        Ok(Self {
            threshold: self.threshold,
            min_sample: self.min_sample,
            histogram,
        })
    }

    pub(crate) fn merge(&mut self, other: &Self, name: &'static str) -> Result<(), MergeError> {
        if self.threshold != other.threshold {
            return Err(MergeError::config(name, "different thresholds"));
        }
        if self.min_sample != other.min_sample {
            return Err(MergeError::config(name, "different minimum samples"));
        }
        self.histogram.merge(&other.histogram, name)
    }

    pub(crate) fn empty_like(&self) -> Self {
        Self {
            threshold: self.threshold,
            min_sample: self.min_sample,
            histogram: ScoreHistogram::new(self.histogram.range()),
        }
    }

    pub(crate) fn finish(&self) -> ShareResult {
        let t = self.threshold;
        let (hits, w_hits) = self.histogram.count_where(|s| s >= t);
        let n = self.histogram.n();
        let total = self.histogram.total_weight();
        let share = if n > 0 && total > 0.0 {
            (w_hits / total).clamp(0.0, 1.0)
        } else {
            0.0
        };
        let n_eff = self.histogram.effective_n();
        let percent = if n == 0 {
            None
        } else if self.histogram.is_weighted() {
            decimal_of(100.0 * share)
        } else {
            percent_exact(i128::from(hits), n)
        };
        ShareResult {
            threshold: t,
            hits,
            n,
            effective_n: n_eff,
            share,
            percent,
            small_sample: n_eff < self.min_sample as f64,
            mean: self.histogram.mean(),
            histogram: self.histogram.clone(),
        }
    }
}

/// The result of a [`Csat`] or [`Ces`](crate::metrics::ces::Ces)
/// accumulator: the share of answers at or above a threshold, and the mean.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ShareResult {
    threshold: u8,
    hits: u64,
    n: u64,
    effective_n: f64,
    share: f64,
    percent: Option<Decimal>,
    small_sample: bool,
    mean: Option<MeanEstimate>,
    histogram: ScoreHistogram,
}

impl ShareResult {
    /// Whether there were no answers: then the percentage, the mean and
    /// every interval are `None`.
    pub fn is_no_data(&self) -> bool {
        self.n == 0
    }

    /// The percentage at or above the threshold, in `[0, 100]` at 2
    /// decimal places; `None` without data.
    pub fn percent(&self) -> Option<Decimal> {
        self.percent
    }

    /// The threshold: answers `>= threshold` count.
    pub fn threshold(&self) -> u8 {
        self.threshold
    }

    /// Number of answers at or above the threshold (satisfied, low effort).
    pub fn hits(&self) -> u64 {
        self.hits
    }

    /// Number of answers.
    pub fn n(&self) -> u64 {
        self.n
    }

    /// Effective sample size (Kish) when weighted, else `n`.
    pub fn effective_n(&self) -> f64 {
        self.effective_n
    }

    /// The (weighted) share at or above the threshold, in `[0, 1]` (0
    /// without data).
    pub fn share(&self) -> f64 {
        self.share
    }

    /// Whether the (effective) sample is below the configured minimum.
    pub fn small_sample(&self) -> bool {
        self.small_sample
    }

    /// The mean score and its spread; `None` without data.
    pub fn mean(&self) -> Option<&MeanEstimate> {
        self.mean.as_ref()
    }

    /// Counts per score.
    pub fn histogram(&self) -> &ScoreHistogram {
        &self.histogram
    }

    /// The Wilson interval of the percentage (on the effective sample
    /// size); `None` without data.
    pub fn wilson(&self, level: Confidence) -> Option<Interval> {
        if self.is_no_data() {
            return None;
        }
        wilson(self.share, self.effective_n, level)
    }

    /// The t interval of the mean; `None` unless the effective sample
    /// exceeds 1.
    pub fn mean_interval(&self, level: Confidence) -> Option<Interval> {
        self.mean.as_ref()?.t_interval(level)
    }

    /// The change of the percentage from `self` (earlier) to `later`, with
    /// the Wald standard error `100 · sqrt(p(1-p)/n)` of each; significant
    /// when the interval of the difference excludes 0. `None` if either has
    /// no data.
    pub fn change_to(&self, later: &ShareResult, level: Confidence) -> Option<Change> {
        change(
            self.estimate()?,
            self.standard_error()?,
            later.estimate()?,
            later.standard_error()?,
            level,
        )
    }
}

impl Estimate for ShareResult {
    fn estimate(&self) -> Option<f64> {
        (!self.is_no_data()).then_some(100.0 * self.share)
    }

    fn standard_error(&self) -> Option<f64> {
        if self.is_no_data() || self.effective_n <= 0.0 {
            return None;
        }
        let v = self.share * (1.0 - self.share) / self.effective_n;
        Some(100.0 * v.max(0.0).sqrt())
    }
}

/// The methods and trait impls CSAT and CES share: both are a
/// [`ThresholdShare`] behind a newtype.
macro_rules! threshold_share_metric {
    ($T:ident, $name:literal, $label:literal, $kind:literal) => {
        impl $T {
            /// The same accumulator flagging results below `min_sample`
            /// (effective) answers.
            pub fn with_min_sample(mut self, min_sample: u64) -> Self {
                self.0.set_min_sample(min_sample);
                self
            }

            #[doc = concat!("A ", $label, " accumulator configured like `self` holding `histogram`.")]
            ///
            /// # Errors
            /// [`MetricError::Merge`] if the histogram's range differs.
            pub fn with_histogram(&self, histogram: ScoreHistogram) -> Result<Self, MetricError> {
                self.0.with_histogram(histogram, $name).map(Self)
            }

            /// Adds an unweighted score.
            ///
            /// # Errors
            /// [`MetricError::ScoreOutOfRange`].
            pub fn push_score(&mut self, score: u8) -> Result<(), MetricError> {
                self.0.histogram_mut().push(score)
            }

            /// Adds a weighted score.
            ///
            /// # Errors
            /// [`MetricError::ScoreOutOfRange`], [`MetricError::InvalidWeight`].
            pub fn push_weighted(&mut self, score: u8, weight: f64) -> Result<(), MetricError> {
                self.0.histogram_mut().push_weighted(score, weight)
            }

            /// The threshold: answers at or above it count.
            pub fn threshold(&self) -> u8 {
                self.0.threshold()
            }

            /// The histogram so far.
            pub fn histogram(&self) -> &ScoreHistogram {
                self.0.histogram()
            }
        }

        impl Accumulator for $T {
            type Observation = Scored;
            type Output = ShareResult;
            type Error = MetricError;

            fn push(&mut self, obs: Scored) -> Result<(), MetricError> {
                self.0.histogram_mut().push_scored(obs)
            }

            fn merge(&mut self, other: &Self) -> Result<(), MergeError> {
                self.0.merge(&other.0, $name)
            }

            fn finish(&self) -> ShareResult {
                self.0.finish()
            }

            fn empty_like(&self) -> Self {
                Self(self.0.empty_like())
            }
        }

        impl PortableState for $T {
            const KIND: &'static str = $kind;
            const STATE_VERSION: u32 = 1;
        }
    };
}
pub(crate) use threshold_share_metric;

/// The CSAT accumulator.
///
/// State: one count per score (and one weight sum per score when weighted).
///
/// # Example
/// ```
/// use crmkit::metrics::accumulator::Accumulator;
/// use crmkit::metrics::csat::Csat;
/// use crmkit::metrics::interval::Confidence;
/// use crmkit::metrics::score::ScoreRange;
/// use rust_decimal::Decimal;
///
/// let mut csat = Csat::for_scale(ScoreRange::ONE_TO_FIVE)?; // 4-5 satisfied
/// for s in [5, 4, 4, 2] {
///     csat.push_score(s)?;
/// }
/// let r = csat.finish();
/// // 3 of 4 at 4 or more: 75 %; mean (5 + 4 + 4 + 2) / 4 = 3.75.
/// assert_eq!(r.percent(), Some(Decimal::from(75)));
/// assert_eq!(r.mean().ok_or("no value")?.mean, Decimal::new(375, 2));
/// assert!(r.wilson(Confidence::P95).ok_or("no value")?.contains(75.0));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Csat(ThresholdShare);

impl Csat {
    /// CSAT on `range` with the default threshold for that scale (1-3 ->
    /// 3, 1-5 -> 4, 1-7 -> 6, 1-10 -> 9).
    ///
    /// # Errors
    /// [`MetricError::InvalidConfig`] for a scale without a default; use
    /// [`Csat::new`] then.
    pub fn for_scale(range: ScoreRange) -> Result<Self, MetricError> {
        let threshold = match (range.min(), range.max()) {
            (1, 3) => 3,
            (1, 5) => 4,
            (1, 7) => 6,
            (1, 10) => 9,
            (min, max) => {
                return Err(MetricError::InvalidConfig {
                    what: "CSAT threshold",
                    reason: format!("no default threshold for the scale {min}..={max}"),
                });
            }
        };
        Self::new(range, threshold)
    }

    /// CSAT on `range` counting answers `>= threshold` as satisfied.
    ///
    /// # Errors
    /// [`MetricError::InvalidConfig`] unless the threshold is on the scale.
    pub fn new(range: ScoreRange, threshold: u8) -> Result<Self, MetricError> {
        ThresholdShare::new(range, threshold, "CSAT threshold").map(Self)
    }
}

threshold_share_metric!(Csat, "Csat", "CSAT", "crmkit.csat");

#[cfg(test)]
mod tests {
    use super::*;

    fn csat(range: ScoreRange, scores: &[u8]) -> ShareResult {
        let mut a = Csat::for_scale(range).unwrap();
        for &s in scores {
            a.push_score(s).unwrap();
        }
        a.finish()
    }

    #[test]
    fn default_thresholds() {
        assert_eq!(
            Csat::for_scale(ScoreRange::ONE_TO_THREE)
                .unwrap()
                .threshold(),
            3
        );
        assert_eq!(
            Csat::for_scale(ScoreRange::ONE_TO_FIVE)
                .unwrap()
                .threshold(),
            4
        );
        assert_eq!(
            Csat::for_scale(ScoreRange::ONE_TO_SEVEN)
                .unwrap()
                .threshold(),
            6
        );
        assert_eq!(
            Csat::for_scale(ScoreRange::ONE_TO_TEN).unwrap().threshold(),
            9
        );
        assert!(Csat::for_scale(ScoreRange::ZERO_TO_TEN).is_err());
        assert!(Csat::new(ScoreRange::ONE_TO_FIVE, 6).is_err());
    }

    #[test]
    fn all_satisfied_none_satisfied_and_one() {
        // 5, 5, 4 on 1-5: 3/3 = 100 %.
        assert_eq!(
            csat(ScoreRange::ONE_TO_FIVE, &[5, 5, 4]).percent(),
            Some(Decimal::from(100))
        );
        // 1, 2, 3 on 1-5: 0/3 = 0 %.
        let r = csat(ScoreRange::ONE_TO_FIVE, &[1, 2, 3]);
        assert_eq!(r.percent(), Some(Decimal::ZERO));
        // Wilson at p = 0, n = 3: upper = (z²/n)/(1 + z²/n) = 1.280486/2.280486 = 56.15 %.
        let w = r.wilson(Confidence::P95).unwrap();
        assert_eq!(w.lower, 0.0);
        assert!((w.upper - 56.149).abs() < 1e-2);
        // n = 1: 5 -> 100 %, mean 5.
        let r = csat(ScoreRange::ONE_TO_FIVE, &[5]);
        assert_eq!(r.percent(), Some(Decimal::from(100)));
        assert_eq!(r.mean().unwrap().mean, Decimal::from(5));
        assert!(r.small_sample());
    }

    #[test]
    fn eight_to_ten_on_a_ten_point_scale() {
        // Threshold 8 on 1-10: 8, 9, 7 -> 2/3 = 66.666.. -> 66.67 %.
        let mut a = Csat::new(ScoreRange::ONE_TO_TEN, 8).unwrap();
        for s in [8, 9, 7] {
            a.push_score(s).unwrap();
        }
        assert_eq!(a.finish().percent(), Some(Decimal::new(6667, 2)));
        let b = Csat::for_scale(ScoreRange::ONE_TO_TEN).unwrap();
        assert!(a.merge(&b).is_err());
    }

    #[test]
    fn empty_is_no_data() {
        let r = Csat::for_scale(ScoreRange::ONE_TO_FIVE).unwrap().finish();
        assert!(r.is_no_data());
        assert_eq!(r.percent(), None);
        assert_eq!(r.wilson(Confidence::P95), None);
        assert_eq!(r.mean_interval(Confidence::P95), None);
    }

    #[test]
    fn mean_t_interval_by_hand() {
        // 1-5 scale, scores 2, 4, 4, 4, 5, 5, 3, 5: sum 32, mean 4;
        // squared deviations 4+0+0+0+1+1+1+1 = 8, s² = 8/7, sd = 1.069045;
        // se = 1.069045 / sqrt(8) = 0.377964; t(0.975, 7) = 2.364624; half = 0.893740.
        let r = csat(ScoreRange::ONE_TO_FIVE, &[2, 4, 4, 4, 5, 5, 3, 5]);
        let i = r.mean_interval(Confidence::P95).unwrap();
        assert!((i.lower - (4.0 - 0.893740)).abs() < 1e-5);
        assert!((i.upper - (4.0 + 0.893740)).abs() < 1e-5);
    }
}
