//! Net Promoter Score.
//!
//! On the 0-10 "how likely are you to recommend" question, promoters answer
//! 9-10, passives 7-8, detractors 0-6 (the breaks are configurable with
//! [`NpsBreaks`]). With `n` answers, `P` promoters and `D` detractors,
//! `NPS = 100 · (P - D) / n`, in `[-100, 100]` (Reichheld 2003).
//!
//! The score is a [`Decimal`] at [`SCORE_DP`](crate::metrics::score::SCORE_DP)
//! places, midpoints away from zero, next to the exact counts. Intervals
//! (Wald and adjusted Wald) are in NPS points; see
//! [`interval`](crate::metrics::interval) for the formulas.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::metrics::accumulator::{Accumulator, MergeError, PortableState};
use crate::metrics::interval::{
    Change, Confidence, Interval, change, nps_adjusted_wald, nps_standard_error, nps_wald,
};
use crate::metrics::score::{
    DEFAULT_MIN_SAMPLE, Estimate, MeanEstimate, MetricError, ScoreHistogram, ScoreRange, Scored,
    percent_exact, weighted_ratio,
};

/// Where detractors end and promoters start.
///
/// A score `<= detractor_max` is a detractor, `>= promoter_min` a promoter,
/// anything between a passive. The standard breaks are 6 and 9.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct NpsBreaks {
    detractor_max: u8,
    promoter_min: u8,
}

impl NpsBreaks {
    /// The standard breaks: detractors 0-6, passives 7-8, promoters 9-10.
    pub const STANDARD: NpsBreaks = NpsBreaks {
        detractor_max: 6,
        promoter_min: 9,
    };

    /// Custom breaks; `detractor_max < promoter_min`.
    ///
    /// # Errors
    /// [`MetricError::InvalidConfig`] otherwise.
    pub fn new(detractor_max: u8, promoter_min: u8) -> Result<Self, MetricError> {
        if detractor_max < promoter_min {
            Ok(Self {
                detractor_max,
                promoter_min,
            })
        } else {
            Err(MetricError::InvalidConfig {
                what: "NPS breaks",
                reason: format!(
                    "detractor_max {detractor_max} must be below promoter_min {promoter_min}"
                ),
            })
        }
    }

    /// Highest detractor score.
    pub fn detractor_max(&self) -> u8 {
        self.detractor_max
    }

    /// Lowest promoter score.
    pub fn promoter_min(&self) -> u8 {
        self.promoter_min
    }
}

impl Default for NpsBreaks {
    fn default() -> Self {
        Self::STANDARD
    }
}

/// The NPS accumulator: a score histogram plus its configuration.
///
/// State: 11 counts (and 11 weight sums when weighted).
///
/// # Example
/// ```
/// use crmkit::metrics::accumulator::Accumulator;
/// use crmkit::metrics::interval::Confidence;
/// use crmkit::metrics::nps::Nps;
/// use rust_decimal::Decimal;
///
/// let mut nps = Nps::standard();
/// for s in [10, 9, 9, 8, 3] {
///     nps.push_score(s)?;
/// }
/// let r = nps.finish();
/// // 3 promoters, 1 detractor of 5: 100 * (3 - 1) / 5 = 40.
/// assert_eq!(r.score(), Some(Decimal::from(40)));
/// assert_eq!((r.promoters(), r.passives(), r.detractors()), (3, 1, 1));
/// assert!(r.small_sample());
/// assert!(r.adjusted_wald(Confidence::P95).is_some());
/// assert!(nps.push_score(11).is_err());
/// assert!(Nps::standard().finish().is_no_data());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "NpsRepr")]
pub struct Nps {
    breaks: NpsBreaks,
    min_sample: u64,
    histogram: ScoreHistogram,
}

#[derive(Deserialize)]
struct NpsRepr {
    breaks: NpsBreaks,
    min_sample: u64,
    histogram: ScoreHistogram,
}

impl TryFrom<NpsRepr> for Nps {
    type Error = MetricError;
    fn try_from(r: NpsRepr) -> Result<Self, Self::Error> {
        let mut nps = Nps::new(r.histogram.range(), r.breaks)?.with_min_sample(r.min_sample);
        nps.histogram = r.histogram;
        Ok(nps)
    }
}

impl Nps {
    /// The standard NPS: 0-10 scale, breaks 6 and 9, minimum sample 30.
    pub fn standard() -> Self {
        Self {
            breaks: NpsBreaks::STANDARD,
            min_sample: DEFAULT_MIN_SAMPLE,
            histogram: ScoreHistogram::new(ScoreRange::ZERO_TO_TEN),
        }
    }

    /// NPS on another scale or with other breaks.
    ///
    /// # Errors
    /// [`MetricError::InvalidConfig`] unless both breaks lie on the scale.
    pub fn new(range: ScoreRange, breaks: NpsBreaks) -> Result<Self, MetricError> {
        if !range.contains(breaks.detractor_max) || !range.contains(breaks.promoter_min) {
            return Err(MetricError::InvalidConfig {
                what: "NPS breaks",
                reason: format!(
                    "{} and {} must lie on the scale {}..={}",
                    breaks.detractor_max,
                    breaks.promoter_min,
                    range.min(),
                    range.max()
                ),
            });
        }
        Ok(Self {
            breaks,
            min_sample: DEFAULT_MIN_SAMPLE,
            histogram: ScoreHistogram::new(range),
        })
    }

    /// The same accumulator flagging results below `min_sample` answers
    /// (effective answers when weighted).
    pub fn with_min_sample(mut self, min_sample: u64) -> Self {
        self.min_sample = min_sample;
        self
    }

    /// An NPS accumulator configured like `self` holding `histogram`
    /// (the columnar path builds histograms directly).
    ///
    /// # Errors
    /// [`MetricError::Merge`] if the histogram's range differs.
    pub fn with_histogram(&self, histogram: ScoreHistogram) -> Result<Self, MetricError> {
        if histogram.range() != self.histogram.range() {
            return Err(MergeError::config("Nps", "histogram on another score range").into());
        }
        Ok(Self {
            breaks: self.breaks,
            min_sample: self.min_sample,
            histogram,
        })
    }

    /// Adds an unweighted score.
    ///
    /// # Errors
    /// [`MetricError::ScoreOutOfRange`].
    pub fn push_score(&mut self, score: u8) -> Result<(), MetricError> {
        self.histogram.push(score)
    }

    /// Adds a weighted score.
    ///
    /// # Errors
    /// [`MetricError::ScoreOutOfRange`], [`MetricError::InvalidWeight`].
    pub fn push_weighted(&mut self, score: u8, weight: f64) -> Result<(), MetricError> {
        self.histogram.push_weighted(score, weight)
    }

    /// The breaks.
    pub fn breaks(&self) -> NpsBreaks {
        self.breaks
    }

    /// The histogram so far.
    pub fn histogram(&self) -> &ScoreHistogram {
        &self.histogram
    }
}

impl Accumulator for Nps {
    type Observation = Scored;
    type Output = NpsResult;
    type Error = MetricError;

    fn push(&mut self, obs: Scored) -> Result<(), MetricError> {
        self.histogram.push_scored(obs)
    }

    fn merge(&mut self, other: &Self) -> Result<(), MergeError> {
        if self.breaks != other.breaks {
            return Err(MergeError::config("Nps", "different breaks"));
        }
        if self.min_sample != other.min_sample {
            return Err(MergeError::config("Nps", "different minimum samples"));
        }
        self.histogram.merge(&other.histogram, "Nps")
    }

    fn finish(&self) -> NpsResult {
        let b = self.breaks;
        let (promoters, wp) = self.histogram.count_where(|s| s >= b.promoter_min);
        let (detractors, wd) = self.histogram.count_where(|s| s <= b.detractor_max);
        let n = self.histogram.n();
        let total = self.histogram.total_weight();
        let n_eff = self.histogram.effective_n();
        let (p, d) = if n > 0 && total > 0.0 {
            (wp / total, wd / total)
        } else {
            (0.0, 0.0)
        };
        let score = if n == 0 {
            None
        } else if self.histogram.is_weighted() {
            weighted_ratio(wp - wd, total, 100)
        } else {
            percent_exact(i128::from(promoters) - i128::from(detractors), n)
        };
        NpsResult {
            promoters,
            passives: n - promoters - detractors,
            detractors,
            n,
            effective_n: n_eff,
            promoter_share: p,
            detractor_share: d,
            score,
            small_sample: n_eff < self.min_sample as f64,
            mean: self.histogram.mean(),
            histogram: self.histogram.clone(),
        }
    }

    fn empty_like(&self) -> Self {
        Self {
            breaks: self.breaks,
            min_sample: self.min_sample,
            histogram: ScoreHistogram::new(self.histogram.range()),
        }
    }
}

impl PortableState for Nps {
    const KIND: &'static str = "crmkit.nps";
    const STATE_VERSION: u32 = 1;
}

/// The result of an [`Nps`] accumulator.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NpsResult {
    promoters: u64,
    passives: u64,
    detractors: u64,
    n: u64,
    effective_n: f64,
    promoter_share: f64,
    detractor_share: f64,
    score: Option<Decimal>,
    small_sample: bool,
    mean: Option<MeanEstimate>,
    histogram: ScoreHistogram,
}

impl NpsResult {
    /// Whether there were no answers: then [`score`](Self::score) and every
    /// interval are `None`.
    pub fn is_no_data(&self) -> bool {
        self.n == 0
    }

    /// NPS in `[-100, 100]` at 2 decimal places; `None` without data.
    pub fn score(&self) -> Option<Decimal> {
        self.score
    }

    /// Number of promoters.
    pub fn promoters(&self) -> u64 {
        self.promoters
    }

    /// Number of passives.
    pub fn passives(&self) -> u64 {
        self.passives
    }

    /// Number of detractors.
    pub fn detractors(&self) -> u64 {
        self.detractors
    }

    /// Number of answers.
    pub fn n(&self) -> u64 {
        self.n
    }

    /// Effective sample size (Kish) when weighted, else `n`.
    pub fn effective_n(&self) -> f64 {
        self.effective_n
    }

    /// (Weighted) share of promoters in `[0, 1]` (0 without data).
    pub fn promoter_share(&self) -> f64 {
        self.promoter_share
    }

    /// (Weighted) share of detractors in `[0, 1]` (0 without data).
    pub fn detractor_share(&self) -> f64 {
        self.detractor_share
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

    /// The Wald standard error in NPS points; `None` without data.
    pub fn standard_error(&self) -> Option<f64> {
        if self.is_no_data() {
            return None;
        }
        nps_standard_error(self.promoter_share, self.detractor_share, self.effective_n)
    }

    /// The Wald interval in NPS points, clipped to `[-100, 100]`; `None`
    /// without data. See [`nps_wald`].
    pub fn wald(&self, level: Confidence) -> Option<Interval> {
        if self.is_no_data() {
            return None;
        }
        nps_wald(
            self.promoter_share,
            self.detractor_share,
            self.effective_n,
            level,
        )
    }

    /// The adjusted Wald interval (Rocks 2016) in NPS points; `None`
    /// without data. Weighted answers use the shares times the effective
    /// sample size as counts. See [`nps_adjusted_wald`].
    pub fn adjusted_wald(&self, level: Confidence) -> Option<Interval> {
        if self.is_no_data() {
            return None;
        }
        let n = self.effective_n;
        nps_adjusted_wald(self.promoter_share * n, self.detractor_share * n, n, level)
    }

    /// The change from `self` (earlier) to `later`, significant when its
    /// interval (standard error `sqrt(se1² + se2²)`, Wald) excludes 0;
    /// `None` if either has no data.
    pub fn change_to(&self, later: &NpsResult, level: Confidence) -> Option<Change> {
        change(
            self.estimate()?,
            self.standard_error()?,
            later.estimate()?,
            later.standard_error()?,
            level,
        )
    }
}

impl Estimate for NpsResult {
    fn estimate(&self) -> Option<f64> {
        if self.is_no_data() {
            None
        } else {
            Some(100.0 * (self.promoter_share - self.detractor_share))
        }
    }

    fn standard_error(&self) -> Option<f64> {
        NpsResult::standard_error(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nps_of(scores: &[u8]) -> NpsResult {
        let mut a = Nps::standard();
        for &s in scores {
            a.push_score(s).unwrap();
        }
        a.finish()
    }

    #[test]
    fn all_promoters() {
        // 4 promoters of 4: 100 * (4 - 0) / 4 = 100.
        let r = nps_of(&[9, 10, 10, 9]);
        assert_eq!(r.score(), Some(Decimal::from(100)));
        // Wald: se = sqrt((1 + 0 - 1)/4) = 0, interval [100, 100].
        let w = r.wald(Confidence::P95).unwrap();
        assert_eq!((w.lower, w.upper), (100.0, 100.0));
        // Adjusted: n' = 7, P' = 4.75/7, D' = 0.75/7, NPS' = 100 * 4/7 = 57.142857.
        let a = r.adjusted_wald(Confidence::P95).unwrap();
        assert!((a.centre - 400.0 / 7.0).abs() < 1e-9);
        assert!(a.width() > 0.0);
    }

    #[test]
    fn all_detractors() {
        // 3 detractors of 3: 100 * (0 - 3) / 3 = -100.
        let r = nps_of(&[0, 6, 3]);
        assert_eq!(r.score(), Some(Decimal::from(-100)));
        assert_eq!((r.promoters(), r.passives(), r.detractors()), (0, 0, 3));
    }

    #[test]
    fn single_answer() {
        // n = 1, a passive: NPS = 100 * (0 - 0) / 1 = 0; mean 7, no sd.
        let r = nps_of(&[7]);
        assert_eq!(r.score(), Some(Decimal::ZERO));
        assert_eq!(r.mean().unwrap().mean, Decimal::from(7));
        assert_eq!(r.mean().unwrap().t_interval(Confidence::P95), None);
        assert!(r.small_sample());
    }

    #[test]
    fn small_sample_by_hand() {
        // 10, 9, 8, 7, 6, 5: P = 2, D = 2 -> NPS 0.
        let r = nps_of(&[10, 9, 8, 7, 6, 5]);
        assert_eq!(r.score(), Some(Decimal::ZERO));
        // 10, 9, 1: P = 2, D = 1, n = 3 -> 100/3 = 33.333.. -> 33.33.
        let r = nps_of(&[10, 9, 1]);
        assert_eq!(r.score(), Some(Decimal::new(3333, 2)));
        // Wald: p = 2/3, d = 1/3, se = sqrt((1 - 1/9)/3) = sqrt(0.296296) = 0.544331;
        // half = 1.959964 * 54.4331 = 106.687 -> clipped to [-73.35, 100].
        let w = r.wald(Confidence::P95).unwrap();
        assert!((w.lower - (33.3333 - 106.687)).abs() < 1e-2);
        assert_eq!(w.upper, 100.0);
        // 9, 0, 0, 0, 0, 0, 0, 0: P = 1, D = 7, n = 8 -> -600/8 = -75.
        let r = nps_of(&[9, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(r.score(), Some(Decimal::from(-75)));
    }

    #[test]
    fn empty_is_no_data() {
        let r = Nps::standard().finish();
        assert!(r.is_no_data());
        assert_eq!(r.score(), None);
        assert_eq!(r.wald(Confidence::P95), None);
        assert_eq!(r.adjusted_wald(Confidence::P95), None);
        assert_eq!(r.mean(), None);
    }

    #[test]
    fn custom_breaks_and_mismatch() {
        // Breaks 5 / 8: 8 is a promoter, 6 a passive, 5 a detractor: (1 - 1)/3 = 0.
        let mut a = Nps::new(ScoreRange::ZERO_TO_TEN, NpsBreaks::new(5, 8).unwrap()).unwrap();
        for s in [8, 6, 5] {
            a.push_score(s).unwrap();
        }
        let r = a.finish();
        assert_eq!((r.promoters(), r.passives(), r.detractors()), (1, 1, 1));
        let b = Nps::standard();
        assert!(matches!(
            a.merge(&b),
            Err(MergeError::ConfigMismatch { .. })
        ));
        assert!(NpsBreaks::new(9, 6).is_err());
        assert!(Nps::new(ScoreRange::ONE_TO_FIVE, NpsBreaks::STANDARD).is_err());
    }

    #[test]
    fn weighted_by_hand() {
        // 10 (w 3), 0 (w 1): P share 3/4, D share 1/4 -> NPS 50; n_eff = 16/10 = 1.6.
        let mut a = Nps::standard();
        a.push_weighted(10, 3.0).unwrap();
        a.push_weighted(0, 1.0).unwrap();
        let r = a.finish();
        assert_eq!(r.score(), Some(Decimal::from(50)));
        assert!((r.effective_n() - 1.6).abs() < 1e-12);
        assert_eq!(r.n(), 2);
    }

    #[test]
    fn change_between_periods() {
        // 40 answers all promoters vs 40 all detractors: diff -200, se 0 -> significant.
        let a = nps_of(&[10; 40]);
        let b = nps_of(&[0; 40]);
        let c = a.change_to(&b, Confidence::P95).unwrap();
        assert_eq!(c.difference, -200.0);
        assert!(c.significant);
        // Identical mixes: diff 0 -> not significant.
        let c = nps_of(&[10, 0, 8])
            .change_to(&nps_of(&[10, 0, 8]), Confidence::P95)
            .unwrap();
        assert!(!c.significant);
        assert_eq!(nps_of(&[]).change_to(&a, Confidence::P95), None);
    }
}
