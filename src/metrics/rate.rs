//! Survey response rate: responses per invitation.
//!
//! Push one observation per invitation sent (`true` when it was answered);
//! group it by survey (and any other key) with
//! [`Grouped`](crate::metrics::group::Grouped). The rate is a percentage at
//! 2 decimal places (midpoints away from zero) with a Wilson interval.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::metrics::accumulator::{Accumulator, MergeError, PortableState};
use crate::metrics::interval::{Confidence, Interval, wilson};
use crate::metrics::score::{MetricError, percent_exact};

/// The response-rate accumulator: invitations and how many were answered.
///
/// # Example
/// ```
/// use crmkit::metrics::accumulator::Accumulator;
/// use crmkit::metrics::rate::ResponseRate;
/// use rust_decimal::Decimal;
/// let mut r = ResponseRate::default();
/// for answered in [true, false, false, true, false, false, false, false] {
///     r.push(answered)?;
/// }
/// // 2 of 8 invitations answered: 25 %.
/// assert_eq!(r.finish().percent(), Some(Decimal::from(25)));
/// assert_eq!(ResponseRate::default().finish().percent(), None);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RateRepr")]
pub struct ResponseRate {
    invited: u64,
    responded: u64,
}

#[derive(Deserialize)]
struct RateRepr {
    invited: u64,
    responded: u64,
}

impl TryFrom<RateRepr> for ResponseRate {
    type Error = MetricError;
    fn try_from(r: RateRepr) -> Result<Self, Self::Error> {
        ResponseRate::from_counts(r.invited, r.responded)
    }
}

impl ResponseRate {
    /// From counts.
    ///
    /// # Errors
    /// [`MetricError::InvalidConfig`] if more responses than invitations.
    pub fn from_counts(invited: u64, responded: u64) -> Result<Self, MetricError> {
        if responded > invited {
            return Err(MetricError::InvalidConfig {
                what: "response rate",
                reason: format!("{responded} responses to {invited} invitations"),
            });
        }
        Ok(Self { invited, responded })
    }
}

impl Accumulator for ResponseRate {
    /// Whether the invitation was answered.
    type Observation = bool;
    type Output = RateResult;
    type Error = MetricError;

    fn push(&mut self, answered: bool) -> Result<(), MetricError> {
        let invited = self.invited.checked_add(1).ok_or(MetricError::Overflow)?;
        self.responded += u64::from(answered);
        self.invited = invited;
        Ok(())
    }

    fn merge(&mut self, other: &Self) -> Result<(), MergeError> {
        let overflow = MergeError::Overflow {
            accumulator: "ResponseRate",
        };
        let invited = self
            .invited
            .checked_add(other.invited)
            .ok_or(overflow.clone())?;
        let responded = self
            .responded
            .checked_add(other.responded)
            .ok_or(overflow)?;
        *self = Self { invited, responded };
        Ok(())
    }

    fn finish(&self) -> RateResult {
        RateResult {
            invited: self.invited,
            responded: self.responded,
            percent: percent_exact(i128::from(self.responded), self.invited),
        }
    }

    fn empty_like(&self) -> Self {
        Self::default()
    }
}

impl PortableState for ResponseRate {
    const KIND: &'static str = "crmkit.response_rate";
    const STATE_VERSION: u32 = 1;
}

/// The result of a [`ResponseRate`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RateResult {
    invited: u64,
    responded: u64,
    percent: Option<Decimal>,
}

impl RateResult {
    /// Invitations sent.
    pub fn invited(&self) -> u64 {
        self.invited
    }

    /// Invitations answered.
    pub fn responded(&self) -> u64 {
        self.responded
    }

    /// `100 · responded / invited` at 2 places; `None` without
    /// invitations.
    pub fn percent(&self) -> Option<Decimal> {
        self.percent
    }

    /// The Wilson interval of the rate; `None` without invitations.
    pub fn wilson(&self, level: Confidence) -> Option<Interval> {
        if self.invited == 0 {
            return None;
        }
        wilson(
            self.responded as f64 / self.invited as f64,
            self.invited as f64,
            level,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn by_hand() {
        // 1 of 3: 33.333.. -> 33.33 %.
        let mut r = ResponseRate::default();
        for a in [true, false, false] {
            r.push(a).unwrap();
        }
        assert_eq!(r.finish().percent(), Some(Decimal::new(3333, 2)));
        assert!(
            r.finish()
                .wilson(Confidence::P95)
                .unwrap()
                .contains(100.0 / 3.0)
        );
        assert!(ResponseRate::from_counts(1, 2).is_err());
        let bad = r#"{"invited":1,"responded":2}"#;
        assert!(serde_json::from_str::<ResponseRate>(bad).is_err());
    }
}
