//! Customer Effort Score (CES): on the 1-7 agreement scale ("the company
//! made it easy for me to handle my issue"), the mean score and the
//! percentage of answers at 5-7.
//!
//! The result is a [`ShareResult`] like CSAT's: the percentage as a
//! [`Decimal`](rust_decimal::Decimal) at 2 places (midpoints away from
//! zero), its Wilson interval, and the mean with its t interval.

use serde::{Deserialize, Serialize};

use crate::metrics::accumulator::{Accumulator, MergeError, PortableState};
use crate::metrics::csat::{ShareResult, ThresholdShare, threshold_share_metric};
use crate::metrics::score::{MetricError, ScoreHistogram, ScoreRange, Scored};

/// The CES accumulator.
///
/// State: 7 counts (and 7 weight sums when weighted).
///
/// # Example
/// ```
/// use crmkit::metrics::accumulator::Accumulator;
/// use crmkit::metrics::ces::Ces;
/// use rust_decimal::Decimal;
///
/// let mut ces = Ces::standard();
/// for s in [7, 5, 4, 2] {
///     ces.push_score(s)?;
/// }
/// let r = ces.finish();
/// // 2 of 4 at 5-7: 50 %; mean (7 + 5 + 4 + 2) / 4 = 4.5.
/// assert_eq!(r.percent(), Some(Decimal::from(50)));
/// assert_eq!(r.mean().ok_or("no value")?.mean, Decimal::new(45, 1));
/// assert!(ces.push_score(0).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Ces(ThresholdShare);

impl Ces {
    /// The standard CES: 1-7 scale, 5-7 counted, minimum sample 30.
    pub fn standard() -> Self {
        Self(ThresholdShare::known_valid(ScoreRange::ONE_TO_SEVEN, 5))
    }

    /// CES on another scale or with another threshold (answers
    /// `>= threshold` count as low effort).
    ///
    /// # Errors
    /// [`MetricError::InvalidConfig`] unless the threshold is on the scale.
    pub fn new(range: ScoreRange, threshold: u8) -> Result<Self, MetricError> {
        ThresholdShare::new(range, threshold, "CES threshold").map(Self)
    }
}

threshold_share_metric!(Ces, "Ces", "CES", "crmkit.ces");

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::interval::Confidence;
    use rust_decimal::Decimal;

    #[test]
    fn by_hand() {
        // All 7s: 100 %, mean 7. All 1s: 0 %, mean 1.
        let mut a = Ces::standard();
        let mut b = Ces::standard();
        for _ in 0..3 {
            a.push_score(7).unwrap();
            b.push_score(1).unwrap();
        }
        assert_eq!(a.finish().percent(), Some(Decimal::from(100)));
        assert_eq!(b.finish().mean().unwrap().mean, Decimal::ONE);
        // Merged: 3 of 6 -> 50 %, mean 4; sd = sqrt(6 * 9 / 5) = 3.286335.
        a.merge(&b).unwrap();
        let r = a.finish();
        assert_eq!(r.percent(), Some(Decimal::from(50)));
        assert!((r.mean().unwrap().sd.unwrap() - (54.0f64 / 5.0).sqrt()).abs() < 1e-12);
        assert!(r.wilson(Confidence::P95).unwrap().contains(50.0));
        assert!(Ces::standard().finish().is_no_data());
    }
}
