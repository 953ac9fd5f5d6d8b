//! The score histogram behind NPS, CSAT and CES, and their shared types.
//!
//! Survey accumulators keep one count per possible score (a handful of
//! integers), so their state is tiny, exact and mergeable. With weights, they
//! also keep the weight sum per score and the sum of squared weights (for
//! Kish's effective sample size).
//!
//! # Decimal scores
//! Scores (NPS points, CSAT and CES percentages, means) are reported as
//! [`Decimal`] rounded to [`SCORE_DP`] = 2 decimal places, midpoints away
//! from zero (`12.345 -> 12.35`, `-12.345 -> -12.35`). Unweighted scores are
//! computed exactly from the integer counts before that one rounding;
//! weighted scores come from `f64` weight sums.

use rust_decimal::prelude::FromPrimitive;
use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};

use crate::metrics::accumulator::{MergeError, StateError};
use crate::metrics::interval::{Confidence, Interval, t_interval};

/// Decimal places of every reported score, percentage and mean.
pub const SCORE_DP: u32 = 2;

/// Rounds a score to [`SCORE_DP`] places, midpoints away from zero.
pub(crate) fn round_score(d: Decimal) -> Decimal {
    d.round_dp_with_strategy(SCORE_DP, RoundingStrategy::MidpointAwayFromZero)
}

/// `100 * num / den` exactly, rounded to [`SCORE_DP`]; `None` if `den == 0`.
pub(crate) fn percent_exact(num: i128, den: u64) -> Option<Decimal> {
    if den == 0 {
        return None;
    }
    let n = Decimal::from_i128_with_scale(num, 0).checked_mul(Decimal::ONE_HUNDRED)?;
    Some(round_score(n.checked_div(Decimal::from(den))?))
}

/// An `f64` as a rounded score; `None` if not finite.
pub(crate) fn decimal_of(x: f64) -> Option<Decimal> {
    Decimal::from_f64(x).map(round_score)
}

/// `scale * num / den` as a rounded score, divided in `Decimal` from the
/// values of the two `f64` sums, so weight sums that are whole numbers (all
/// weights 1, say) round exactly as the unweighted counts do; `f64`
/// division only where the sums are beyond `Decimal`'s range. `None` for a
/// zero or non-finite denominator.
pub(crate) fn weighted_ratio(num: f64, den: f64, scale: u32) -> Option<Decimal> {
    let exact = Decimal::from_f64(num)
        .zip(Decimal::from_f64(den))
        .and_then(|(n, d)| n.checked_mul(Decimal::from(scale))?.checked_div(d));
    match exact {
        Some(v) => Some(round_score(v)),
        None => decimal_of(f64::from(scale) * num / den),
    }
}

/// Everything that can go wrong computing survey metrics.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum MetricError {
    /// A score outside the accumulator's scale.
    #[error("score {score} is outside the scale {min}..={max}")]
    ScoreOutOfRange {
        /// The rejected score.
        score: i64,
        /// The scale's lowest score.
        min: u8,
        /// The scale's highest score.
        max: u8,
    },
    /// A weight that is not finite and positive.
    #[error("weight {weight} must be finite and greater than 0")]
    InvalidWeight {
        /// The rejected weight.
        weight: f64,
    },
    /// A configuration value (scale, breaks, threshold, confidence) is
    /// invalid.
    #[error("invalid {what}: {reason}")]
    InvalidConfig {
        /// What was configured.
        what: &'static str,
        /// Why it is invalid.
        reason: String,
    },
    /// A group key in a columnar input is not below the number of groups.
    #[error("key {key} at row {row} is not below the number of groups {groups}")]
    KeyOutOfRange {
        /// The row.
        row: usize,
        /// The key.
        key: u32,
        /// The number of groups.
        groups: usize,
    },
    /// Columns of a columnar input have different lengths.
    #[error("columns have different lengths: {left} and {right}")]
    LengthMismatch {
        /// One length.
        left: usize,
        /// The other.
        right: usize,
    },
    /// A response on another scale than the accumulator's.
    #[error("response on the scale {found} pushed into an accumulator on {expected}")]
    ScaleMismatch {
        /// The accumulator's scale.
        expected: String,
        /// The response's scale.
        found: String,
    },
    /// A count overflowed.
    #[error("a count overflowed")]
    Overflow,
    /// Two accumulators could not be merged.
    #[error(transparent)]
    Merge(#[from] MergeError),
    /// A serialised state could not be read.
    #[error(transparent)]
    State(#[from] StateError),
}

/// The inclusive range of scores a survey question allows, `min..=max`.
///
/// # Example
/// ```
/// use crmkit::metrics::score::ScoreRange;
/// let r = ScoreRange::new(1, 5)?;
/// assert!(r.contains(5) && !r.contains(0));
/// assert_eq!(ScoreRange::ZERO_TO_TEN.width(), 11);
/// assert!(ScoreRange::new(5, 5).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "RangeRepr")]
pub struct ScoreRange {
    min: u8,
    max: u8,
}

#[derive(Deserialize)]
struct RangeRepr {
    min: u8,
    max: u8,
}

impl TryFrom<RangeRepr> for ScoreRange {
    type Error = MetricError;
    fn try_from(r: RangeRepr) -> Result<Self, Self::Error> {
        ScoreRange::new(r.min, r.max)
    }
}

impl ScoreRange {
    /// 0-10, the NPS question.
    pub const ZERO_TO_TEN: ScoreRange = ScoreRange { min: 0, max: 10 };
    /// 1-3.
    pub const ONE_TO_THREE: ScoreRange = ScoreRange { min: 1, max: 3 };
    /// 1-5, the usual CSAT question.
    pub const ONE_TO_FIVE: ScoreRange = ScoreRange { min: 1, max: 5 };
    /// 1-7, the CES question.
    pub const ONE_TO_SEVEN: ScoreRange = ScoreRange { min: 1, max: 7 };
    /// 1-10.
    pub const ONE_TO_TEN: ScoreRange = ScoreRange { min: 1, max: 10 };

    /// The scale `min..=max`, `min < max <= 100`.
    ///
    /// # Errors
    /// [`MetricError::InvalidConfig`] otherwise.
    pub fn new(min: u8, max: u8) -> Result<Self, MetricError> {
        if min < max && max <= 100 {
            Ok(Self { min, max })
        } else {
            Err(MetricError::InvalidConfig {
                what: "score range",
                reason: format!("{min}..={max} needs min < max <= 100"),
            })
        }
    }

    /// Lowest score.
    pub const fn min(&self) -> u8 {
        self.min
    }

    /// Highest score.
    pub const fn max(&self) -> u8 {
        self.max
    }

    /// Number of possible scores.
    pub const fn width(&self) -> usize {
        (self.max - self.min) as usize + 1
    }

    /// Whether `score` is on the scale.
    pub const fn contains(&self, score: u8) -> bool {
        self.min <= score && score <= self.max
    }

    /// The score as a checked `u8`.
    ///
    /// # Errors
    /// [`MetricError::ScoreOutOfRange`].
    pub fn check(&self, score: i64) -> Result<u8, MetricError> {
        match u8::try_from(score) {
            Ok(s) if self.contains(s) => Ok(s),
            _ => Err(MetricError::ScoreOutOfRange {
                score,
                min: self.min,
                max: self.max,
            }),
        }
    }
}

impl TryFrom<crate::domain::Scale> for ScoreRange {
    type Error = MetricError;

    /// The range of a domain [`Scale`](crate::domain::Scale).
    ///
    /// # Errors
    /// [`MetricError::InvalidConfig`] for scales with negative scores
    /// (survey accumulators count scores `0..=100`).
    fn try_from(scale: crate::domain::Scale) -> Result<Self, Self::Error> {
        match (u8::try_from(scale.min()), u8::try_from(scale.max())) {
            (Ok(min), Ok(max)) => ScoreRange::new(min, max),
            _ => Err(MetricError::InvalidConfig {
                what: "score range",
                reason: format!("the scale {scale} has negative scores"),
            }),
        }
    }
}

impl ScoreRange {
    /// Whether a domain [`Scale`](crate::domain::Scale) is this range.
    pub fn is_scale(&self, scale: crate::domain::Scale) -> bool {
        scale.min() == i32::from(self.min) && scale.max() == i32::from(self.max)
    }
}

/// One survey answer as an accumulator observation: a score and an
/// optional weight (a post-stratification weight; `None` counts as 1).
///
/// # Example
/// ```
/// use crmkit::metrics::score::Scored;
/// let a: Scored = 9.into();
/// assert_eq!(a, Scored { score: 9, weight: None });
/// assert_eq!(Scored::weighted(9, 1.5).weight, Some(1.5));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Scored {
    /// The score.
    pub score: u8,
    /// The weight, if weighted.
    pub weight: Option<f64>,
}

impl Scored {
    /// A weighted answer.
    pub const fn weighted(score: u8, weight: f64) -> Self {
        Self {
            score,
            weight: Some(weight),
        }
    }
}

impl From<u8> for Scored {
    fn from(score: u8) -> Self {
        Self {
            score,
            weight: None,
        }
    }
}

/// Per-score weight sums of a weighted histogram.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct WeightSums {
    per_score: Vec<f64>,
    sum_sq: f64,
}

/// Counts (and optionally weight sums) per score on a [`ScoreRange`]: the
/// exact, mergeable state behind every survey accumulator.
///
/// Unweighted and weighted answers mix: once any weighted answer arrives,
/// earlier unweighted ones count with weight 1. Weights of 1 therefore give
/// exactly the unweighted result.
///
/// Memory: one `u64` per score, plus one `f64` per score when weighted.
///
/// # Example
/// ```
/// use crmkit::metrics::score::{ScoreHistogram, ScoreRange};
/// let mut h = ScoreHistogram::new(ScoreRange::ONE_TO_FIVE);
/// h.push(5)?;
/// h.push(3)?;
/// assert_eq!(h.n(), 2);
/// assert_eq!(h.count(5), 1);
/// assert!(h.push(6).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "HistRepr")]
pub struct ScoreHistogram {
    range: ScoreRange,
    counts: Vec<u64>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    weights: Option<WeightSums>,
}

#[derive(Deserialize)]
struct HistRepr {
    range: ScoreRange,
    counts: Vec<u64>,
    #[serde(default)]
    weights: Option<WeightSums>,
}

impl TryFrom<HistRepr> for ScoreHistogram {
    type Error = MetricError;
    fn try_from(r: HistRepr) -> Result<Self, Self::Error> {
        let bad = |reason: &str| MetricError::InvalidConfig {
            what: "score histogram",
            reason: reason.to_owned(),
        };
        if r.counts.len() != r.range.width() {
            return Err(bad("counts do not match the range"));
        }
        if let Some(w) = &r.weights {
            if w.per_score.len() != r.range.width() {
                return Err(bad("weights do not match the range"));
            }
            let ok = |x: f64| x.is_finite() && x >= 0.0;
            if !w.per_score.iter().all(|&x| ok(x)) || !ok(w.sum_sq) {
                return Err(bad("weights must be finite and non-negative"));
            }
            let any_bad = w
                .per_score
                .iter()
                .zip(&r.counts)
                .any(|(&wt, &c)| (c == 0) != (wt == 0.0));
            if any_bad {
                return Err(bad(
                    "a weight sum without answers, or answers without weight",
                ));
            }
        }
        let _total = r
            .counts
            .iter()
            .try_fold(0u64, |acc, &c| acc.checked_add(c))
            .ok_or(MetricError::Overflow)?;
        Ok(Self {
            range: r.range,
            counts: r.counts,
            weights: r.weights,
        })
    }
}

impl ScoreHistogram {
    /// An empty histogram on `range`.
    pub fn new(range: ScoreRange) -> Self {
        Self {
            range,
            counts: vec![0; range.width()],
            weights: None,
        }
    }

    /// An unweighted histogram from counts per score (index 0 is
    /// `range.min()`).
    ///
    /// # Errors
    /// [`MetricError::InvalidConfig`] if `counts` does not have one entry
    /// per score; [`MetricError::Overflow`] if the total overflows.
    pub fn from_counts(range: ScoreRange, counts: Vec<u64>) -> Result<Self, MetricError> {
        Self::try_from(HistRepr {
            range,
            counts,
            weights: None,
        })
    }

    /// The scale.
    pub fn range(&self) -> ScoreRange {
        self.range
    }

    /// Adds one unweighted answer.
    ///
    /// # Errors
    /// [`MetricError::ScoreOutOfRange`], [`MetricError::Overflow`].
    pub fn push(&mut self, score: u8) -> Result<(), MetricError> {
        let i = self.index(score)?;
        self.bump(i, 1.0)
    }

    /// Adds one answer with a weight.
    ///
    /// # Errors
    /// [`MetricError::ScoreOutOfRange`], [`MetricError::InvalidWeight`]
    /// unless the weight is finite and `> 0`, [`MetricError::Overflow`].
    pub fn push_weighted(&mut self, score: u8, weight: f64) -> Result<(), MetricError> {
        let i = self.index(score)?;
        if !(weight.is_finite() && weight > 0.0) {
            return Err(MetricError::InvalidWeight { weight });
        }
        if self.weights.is_none() {
            self.weights = Some(self.unit_weights());
        }
        self.bump(i, weight)
    }

    /// Adds one [`Scored`] answer.
    ///
    /// # Errors
    /// As [`push`](Self::push) and [`push_weighted`](Self::push_weighted).
    pub fn push_scored(&mut self, obs: Scored) -> Result<(), MetricError> {
        match obs.weight {
            None => self.push(obs.score),
            Some(w) => self.push_weighted(obs.score, w),
        }
    }

    fn index(&self, score: u8) -> Result<usize, MetricError> {
        if self.range.contains(score) {
            Ok(usize::from(score - self.range.min))
        } else {
            Err(MetricError::ScoreOutOfRange {
                score: i64::from(score),
                min: self.range.min,
                max: self.range.max,
            })
        }
    }

    fn bump(&mut self, i: usize, weight: f64) -> Result<(), MetricError> {
        let c = self.counts.get_mut(i).ok_or(MetricError::Overflow)?;
        *c = c.checked_add(1).ok_or(MetricError::Overflow)?;
        if let Some(w) = &mut self.weights {
            if let Some(x) = w.per_score.get_mut(i) {
                *x += weight;
            }
            w.sum_sq += weight * weight;
        }
        Ok(())
    }

    fn unit_weights(&self) -> WeightSums {
        WeightSums {
            per_score: self.counts.iter().map(|&c| c as f64).collect(),
            sum_sq: self.counts.iter().map(|&c| c as f64).sum(),
        }
    }

    /// Adds `other`'s answers.
    ///
    /// # Errors
    /// [`MergeError::ConfigMismatch`] for another range,
    /// [`MergeError::Overflow`]; `self` is unchanged on error.
    pub fn merge(&mut self, other: &Self, accumulator: &'static str) -> Result<(), MergeError> {
        if self.range != other.range {
            return Err(MergeError::config(
                accumulator,
                format!(
                    "score range {}..={} vs {}..={}",
                    self.range.min, self.range.max, other.range.min, other.range.max
                ),
            ));
        }
        let mut counts = self.counts.clone();
        for (a, b) in counts.iter_mut().zip(&other.counts) {
            *a = a
                .checked_add(*b)
                .ok_or(MergeError::Overflow { accumulator })?;
        }
        let _total = counts
            .iter()
            .try_fold(0u64, |acc, &c| acc.checked_add(c))
            .ok_or(MergeError::Overflow { accumulator })?;
        if self.weights.is_some() || other.weights.is_some() {
            let mut mine = self.weights.take().unwrap_or_else(|| self.unit_weights());
            let theirs = other
                .weights
                .clone()
                .unwrap_or_else(|| other.unit_weights());
            for (a, b) in mine.per_score.iter_mut().zip(&theirs.per_score) {
                *a += *b;
            }
            mine.sum_sq += theirs.sum_sq;
            self.weights = Some(mine);
        }
        self.counts = counts;
        Ok(())
    }

    /// Number of answers.
    pub fn n(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// Number of answers with `score` (0 off the scale).
    pub fn count(&self, score: u8) -> u64 {
        self.index(score)
            .ok()
            .and_then(|i| self.counts.get(i).copied())
            .unwrap_or(0)
    }

    /// Counts per score, index 0 being `range().min()`.
    pub fn counts(&self) -> &[u64] {
        &self.counts
    }

    /// Whether any answer carried a weight.
    pub fn is_weighted(&self) -> bool {
        self.weights.is_some()
    }

    /// Weight sum of the answers with `score` (the count when unweighted).
    pub fn weight_of(&self, score: u8) -> f64 {
        let Ok(i) = self.index(score) else {
            return 0.0;
        };
        match &self.weights {
            Some(w) => w.per_score.get(i).copied().unwrap_or(0.0),
            None => self.counts.get(i).copied().unwrap_or(0) as f64,
        }
    }

    /// Sum of weights (the count when unweighted).
    pub fn total_weight(&self) -> f64 {
        match &self.weights {
            Some(w) => w.per_score.iter().sum(),
            None => self.n() as f64,
        }
    }

    /// The effective sample size: `n` unweighted, Kish's `(Σw)² / Σw²`
    /// weighted; 0 when empty.
    pub fn effective_n(&self) -> f64 {
        match &self.weights {
            Some(w) if w.sum_sq > 0.0 => {
                let s = self.total_weight();
                s * s / w.sum_sq
            }
            Some(_) => 0.0,
            None => self.n() as f64,
        }
    }

    /// Scores on the scale with their counts and weight sums, lowest first.
    pub fn iter(&self) -> impl Iterator<Item = (u8, u64, f64)> + '_ {
        let min = self.range.min;
        self.counts.iter().enumerate().map(move |(i, &c)| {
            let s = min.saturating_add(u8::try_from(i).unwrap_or(u8::MAX));
            (s, c, self.weight_of(s))
        })
    }

    /// Count and weight sum of the answers whose score satisfies `pred`.
    pub fn count_where(&self, pred: impl Fn(u8) -> bool) -> (u64, f64) {
        self.iter()
            .filter(|&(s, _, _)| pred(s))
            .fold((0, 0.0), |(c, w), (_, c2, w2)| (c + c2, w + w2))
    }

    /// The mean score with its spread; `None` when empty.
    pub fn mean(&self) -> Option<MeanEstimate> {
        let n = self.n();
        if n == 0 {
            return None;
        }
        let (mean_dec, mean) = if self.weights.is_none() {
            let sum: i128 = self
                .iter()
                .map(|(s, c, _)| i128::from(s) * i128::from(c))
                .sum();
            let exact = Decimal::from_i128_with_scale(sum, 0).checked_div(Decimal::from(n))?;
            (round_score(exact), sum as f64 / n as f64)
        } else {
            let total = self.total_weight();
            let sum = self.iter().map(|(s, _, w)| f64::from(s) * w).sum::<f64>();
            let m = sum / total;
            (weighted_ratio(sum, total, 1)?, m)
        };
        let n_eff = self.effective_n();
        let total = self.total_weight();
        // Weighted population variance Σw(x - m)² / Σw, bias-corrected with
        // the effective sample size: · n_eff / (n_eff - 1).
        let pop_var = self
            .iter()
            .map(|(s, _, w)| w * (f64::from(s) - mean).powi(2))
            .sum::<f64>()
            / total;
        let sd = if n_eff > 1.0 {
            Some((pop_var * n_eff / (n_eff - 1.0)).max(0.0).sqrt())
        } else {
            None
        };
        Some(MeanEstimate {
            mean: mean_dec,
            mean_f64: mean,
            sd,
            effective_n: n_eff,
        })
    }
}

/// A mean score with its spread.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MeanEstimate {
    /// The (weighted) mean, rounded to [`SCORE_DP`].
    pub mean: Decimal,
    /// The mean as `f64`, unrounded.
    pub mean_f64: f64,
    /// The sample standard deviation (weighted: the weighted variance
    /// corrected by `n_eff / (n_eff - 1)`); `None` unless `n_eff > 1`.
    pub sd: Option<f64>,
    /// The (effective) sample size.
    pub effective_n: f64,
}

impl MeanEstimate {
    /// The t interval `mean ± t(n_eff - 1) · sd / sqrt(n_eff)`; `None`
    /// unless `n_eff > 1`.
    pub fn t_interval(&self, level: Confidence) -> Option<Interval> {
        t_interval(self.mean_f64, self.sd?, self.effective_n, level)
    }

    /// The standard error `sd / sqrt(n_eff)`.
    pub fn standard_error(&self) -> Option<f64> {
        Some(self.sd? / self.effective_n.sqrt())
    }
}

/// Results that have a point estimate and a standard error, so a trend can
/// test changes between buckets.
pub trait Estimate {
    /// The point estimate (NPS points, a percentage, a mean); `None` when
    /// there is no data.
    fn estimate(&self) -> Option<f64>;
    /// Its standard error in the same unit; `None` when there is no data.
    fn standard_error(&self) -> Option<f64>;
}

/// The default minimum sample below which results are flagged.
pub const DEFAULT_MIN_SAMPLE: u64 = 30;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_rounding_is_half_away_from_zero() {
        // 100 * 1/8 = 12.5 exactly; 100 * 1/3 = 33.333.. -> 33.33; 100 * -2/3 = -66.666.. -> -66.67.
        assert_eq!(percent_exact(1, 8), Some(Decimal::new(1250, 2)));
        assert_eq!(percent_exact(1, 3), Some(Decimal::new(3333, 2)));
        assert_eq!(percent_exact(-2, 3), Some(Decimal::new(-6667, 2)));
        // 100 * 1/16 = 6.25; 100 * 1/32 = 3.125 -> 3.13; -3.125 -> -3.13.
        assert_eq!(percent_exact(1, 32), Some(Decimal::new(313, 2)));
        assert_eq!(percent_exact(-1, 32), Some(Decimal::new(-313, 2)));
        assert_eq!(percent_exact(1, 0), None);
    }

    #[test]
    fn mean_and_sd_by_hand() {
        // Scores 1, 2, 3, 4, 5: mean 3, sample variance (4+1+0+1+4)/4 = 2.5.
        let mut h = ScoreHistogram::new(ScoreRange::ONE_TO_FIVE);
        for s in 1..=5 {
            h.push(s).unwrap();
        }
        let m = h.mean().unwrap();
        assert_eq!(m.mean, Decimal::from(3));
        assert!((m.sd.unwrap() - 2.5f64.sqrt()).abs() < 1e-12);
        // n = 1: a mean but no spread and no interval.
        let mut one = ScoreHistogram::new(ScoreRange::ONE_TO_FIVE);
        one.push(4).unwrap();
        let m = one.mean().unwrap();
        assert_eq!(m.mean, Decimal::from(4));
        assert_eq!(m.sd, None);
        assert_eq!(m.t_interval(Confidence::P95), None);
        assert_eq!(ScoreHistogram::new(ScoreRange::ONE_TO_FIVE).mean(), None);
    }

    #[test]
    fn kish_effective_n() {
        // Weights 1, 1, 2: (1+1+2)² / (1+1+4) = 16/6 = 2.667.
        let mut h = ScoreHistogram::new(ScoreRange::ONE_TO_FIVE);
        h.push(1).unwrap();
        h.push_weighted(2, 1.0).unwrap();
        h.push_weighted(3, 2.0).unwrap();
        assert!((h.effective_n() - 16.0 / 6.0).abs() < 1e-12);
        assert!(h.push_weighted(3, 0.0).is_err());
        assert!(h.push_weighted(3, f64::NAN).is_err());
    }

    #[test]
    fn deserialisation_validates() {
        let bad = r#"{"range":{"min":1,"max":5},"counts":[1,2]}"#;
        assert!(serde_json::from_str::<ScoreHistogram>(bad).is_err());
        let bad = r#"{"range":{"min":5,"max":1},"counts":[1]}"#;
        assert!(serde_json::from_str::<ScoreHistogram>(bad).is_err());
        let good = r#"{"range":{"min":1,"max":3},"counts":[1,2,3]}"#;
        assert_eq!(serde_json::from_str::<ScoreHistogram>(good).unwrap().n(), 6);
    }
}
