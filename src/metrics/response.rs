//! The per-response path: push [`SurveyResponse`]s into survey
//! accumulators, grouped by what each response recorded.
//!
//! A response is checked against the accumulator's scale (a 1-5 CSAT answer
//! pushed into NPS is a [`MetricError::ScaleMismatch`], even though 5 is on
//! the 0-10 scale), and its weight, if any, becomes the observation's
//! weight. Grouping keys come from the response itself (the segments, agent,
//! team and channel recorded at response time), never from today's customer
//! record.

use std::collections::HashSet;
use std::hash::Hash;

use chrono::{DateTime, Utc};
use rust_decimal::prelude::ToPrimitive;

use crate::domain::{CustomerId, InvitationId, ResponseId, SurveyInvitation, SurveyResponse};
use crate::metrics::accumulator::Accumulator;
use crate::metrics::ces::Ces;
use crate::metrics::csat::Csat;
use crate::metrics::group::Grouped;
use crate::metrics::latest::{LatestPerCustomer, RepeatPolicy};
use crate::metrics::nps::Nps;
use crate::metrics::rate::ResponseRate;
use crate::metrics::score::{MetricError, ScoreRange, Scored};

/// The observation of `response` for an accumulator on `range`.
///
/// # Errors
/// [`MetricError::ScaleMismatch`] when the response's scale is not `range`;
/// [`MetricError::InvalidWeight`] for a weight that does not convert to a
/// finite `f64`.
pub fn scored(range: ScoreRange, response: &SurveyResponse) -> Result<Scored, MetricError> {
    if !range.is_scale(response.scale()) {
        return Err(MetricError::ScaleMismatch {
            expected: format!("{}..={}", range.min(), range.max()),
            found: response.scale().to_string(),
        });
    }
    let score = range.check(i64::from(response.score().get()))?;
    let weight = match response.weight() {
        None => None,
        Some(w) => Some(
            w.to_f64()
                .filter(|x| x.is_finite() && *x > 0.0)
                .ok_or(MetricError::InvalidWeight { weight: f64::NAN })?,
        ),
    };
    Ok(Scored { score, weight })
}

/// Accumulators that take whole survey responses.
pub trait ResponseAccumulator: Accumulator {
    /// Pushes one response.
    ///
    /// # Errors
    /// [`MetricError::ScaleMismatch`] for a response on another scale, and
    /// the accumulator's own errors.
    fn push_response(&mut self, response: &SurveyResponse) -> Result<(), MetricError>;
}

macro_rules! response_accumulator {
    ($t:ty) => {
        impl ResponseAccumulator for $t {
            fn push_response(&mut self, response: &SurveyResponse) -> Result<(), MetricError> {
                let obs = scored(self.histogram().range(), response)?;
                self.push(obs)
            }
        }
    };
}

response_accumulator!(Nps);
response_accumulator!(Csat);
response_accumulator!(Ces);

/// Latest answer per customer, ordered by `(responded_at, response id)`.
impl<A> ResponseAccumulator for LatestPerCustomer<CustomerId, (DateTime<Utc>, ResponseId), A>
where
    A: ResponseAccumulator<Observation = Scored, Error = MetricError>
        + crate::metrics::columnar::HistogramAccumulator,
{
    fn push_response(&mut self, response: &SurveyResponse) -> Result<(), MetricError> {
        let obs = scored(self.template().score_range(), response)?;
        self.push((
            response.customer(),
            (response.responded_at(), response.id()),
            obs,
        ))
    }
}

/// The observation of a response with who answered and when: what
/// [`WithPolicy`] takes.
pub type ResponseObservation = (CustomerId, (DateTime<Utc>, ResponseId), Scored);

/// A survey accumulator with a [`RepeatPolicy`] chosen at run time: every
/// answer, or each customer's latest answer only.
///
/// Memory: the inner accumulator's state for [`RepeatPolicy::All`]; one
/// entry per distinct customer for [`RepeatPolicy::LatestPerCustomer`].
///
/// # Example
/// ```
/// use chrono::{TimeZone, Utc};
/// use crmkit::domain::{CustomerId, ResponseId, Scale, SurveyId, SurveyResponse};
/// use crmkit::metrics::accumulator::Accumulator;
/// use crmkit::metrics::latest::RepeatPolicy;
/// use crmkit::metrics::nps::Nps;
/// use crmkit::metrics::response::{ResponseAccumulator, WithPolicy};
///
/// let ann = CustomerId::from_u128(1);
/// let answer = |id: u128, day: u32, score: i32| -> Result<SurveyResponse, Box<dyn std::error::Error>> {
///     let at = Utc.with_ymd_and_hms(2026, 3, day, 12, 0, 0).single().ok_or("no such instant")?;
///     Ok(SurveyResponse::on_scale(ResponseId::from_u128(id), SurveyId::from_u128(1), Scale::nps(), ann, at, score)?)
/// };
/// let mut all = WithPolicy::new(Nps::standard(), RepeatPolicy::All);
/// let mut latest = WithPolicy::new(Nps::standard(), RepeatPolicy::LatestPerCustomer);
/// for r in [answer(1, 1, 0)?, answer(2, 9, 10)?] {
///     all.push_response(&r)?;
///     latest.push_response(&r)?;
/// }
/// assert_eq!(all.finish().n(), 2);
/// assert_eq!(latest.finish().n(), 1);
/// assert_eq!(latest.finish().promoters(), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub enum WithPolicy<A: Accumulator<Observation = Scored>> {
    /// Every answer counts.
    All(A),
    /// Only each customer's latest answer counts.
    Latest(LatestPerCustomer<CustomerId, (DateTime<Utc>, ResponseId), A>),
}

impl<A> WithPolicy<A>
where
    A: Accumulator<Observation = Scored>,
{
    /// An empty accumulator configured like `template` under `policy`.
    pub fn new(template: A, policy: RepeatPolicy) -> Self {
        match policy {
            RepeatPolicy::All => Self::All(template.empty_like()),
            RepeatPolicy::LatestPerCustomer => Self::Latest(LatestPerCustomer::new(template)),
        }
    }

    /// The policy.
    pub fn policy(&self) -> RepeatPolicy {
        match self {
            Self::All(_) => RepeatPolicy::All,
            Self::Latest(_) => RepeatPolicy::LatestPerCustomer,
        }
    }
}

impl<A> Accumulator for WithPolicy<A>
where
    A: Accumulator<Observation = Scored>,
{
    type Observation = ResponseObservation;
    type Output = A::Output;
    type Error = A::Error;

    fn push(&mut self, obs: ResponseObservation) -> Result<(), A::Error> {
        match self {
            Self::All(a) => a.push(obs.2),
            Self::Latest(l) => l.push(obs),
        }
    }

    fn merge(&mut self, other: &Self) -> Result<(), crate::metrics::accumulator::MergeError> {
        match (self, other) {
            (Self::All(a), Self::All(b)) => a.merge(b),
            (Self::Latest(a), Self::Latest(b)) => a.merge(b),
            _ => Err(crate::metrics::accumulator::MergeError::config(
                "WithPolicy",
                "different repeat policies",
            )),
        }
    }

    fn finish(&self) -> A::Output {
        match self {
            Self::All(a) => a.finish(),
            Self::Latest(l) => l.finish(),
        }
    }

    fn empty_like(&self) -> Self {
        match self {
            Self::All(a) => Self::All(a.empty_like()),
            Self::Latest(l) => Self::Latest(l.empty_like()),
        }
    }
}

impl<A> ResponseAccumulator for WithPolicy<A>
where
    A: Accumulator<Observation = Scored, Error = MetricError>
        + crate::metrics::columnar::HistogramAccumulator,
{
    fn push_response(&mut self, response: &SurveyResponse) -> Result<(), MetricError> {
        let range = match self {
            Self::All(a) => a.score_range(),
            Self::Latest(l) => l.template().score_range(),
        };
        let obs = scored(range, response)?;
        self.push((
            response.customer(),
            (response.responded_at(), response.id()),
            obs,
        ))
    }
}

/// Pushes every response into the groups `keys` gives it (none, one or
/// several: a response in two segments counts in both segment groups).
///
/// # Errors
/// The first response's error; the ones before it stay pushed.
///
/// # Example
/// NPS per segment recorded on each response:
/// ```
/// use chrono::{TimeZone, Utc};
/// use crmkit::domain::{CustomerId, ResponseId, Scale, Segment, SurveyId, SurveyResponse};
/// use crmkit::metrics::accumulator::Accumulator;
/// use crmkit::metrics::group::Grouped;
/// use crmkit::metrics::nps::Nps;
/// use crmkit::metrics::response::push_grouped;
/// use rust_decimal::Decimal;
///
/// let at = Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).single().ok_or("no such instant")?;
/// let smb = Segment::new("smb")?;
/// let mut responses = Vec::new();
/// for (i, score) in [10, 9, 3].into_iter().enumerate() {
///     let r = SurveyResponse::on_scale(
///         ResponseId::from_u128(i as u128), SurveyId::from_u128(1), Scale::nps(),
///         CustomerId::from_u128(i as u128), at, score,
///     )?
///     .with_segments([smb.clone()]);
///     responses.push(r);
/// }
/// let mut by_segment = Grouped::new(Nps::standard());
/// push_grouped(&mut by_segment, &responses, |r| r.segments().iter().cloned().collect::<Vec<_>>())?;
/// // 2 promoters, 1 detractor of 3: 100/3 = 33.33.
/// assert_eq!(by_segment.finish()[&smb].score(), Some(Decimal::new(3333, 2)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn push_grouped<'a, K, A, I>(
    grouped: &mut Grouped<K, A>,
    responses: impl IntoIterator<Item = &'a SurveyResponse>,
    mut keys: impl FnMut(&SurveyResponse) -> I,
) -> Result<(), MetricError>
where
    K: Hash + Eq + Ord + Clone,
    A: ResponseAccumulator + Clone,
    I: IntoIterator<Item = K>,
{
    for response in responses {
        for key in keys(response) {
            // Validate on a fresh accumulator first, so an error leaves no
            // empty group behind.
            if grouped.get(&key).is_none() {
                let mut probe = grouped.template().empty_like();
                probe.push_response(response)?;
                grouped.merge_group(key, &probe)?;
            } else {
                grouped.entry(key).push_response(response)?;
            }
        }
    }
    Ok(())
}

/// Response rate per group: one observation per invitation, answered when
/// a response names it ([`SurveyResponse::invitation`]).
///
/// Memory: the set of answered invitation ids, plus one counter pair per
/// group.
///
/// # Example
/// ```
/// use chrono::{TimeZone, Utc};
/// use crmkit::domain::*;
/// use crmkit::metrics::accumulator::Accumulator;
/// use crmkit::metrics::response::response_rates;
/// use rust_decimal::Decimal;
///
/// let at = Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).single().ok_or("no such instant")?;
/// let survey = SurveyId::from_u128(1);
/// let invitations: Vec<_> = (0..4u128)
///     .map(|i| SurveyInvitation::new(InvitationId::from_u128(i), survey, CustomerId::from_u128(i), at, Channel::Email))
///     .collect();
/// let answer = SurveyResponse::on_scale(
///     ResponseId::from_u128(9), survey, Scale::nps(), CustomerId::from_u128(0), at, 10,
/// )?
/// .with_invitation(InvitationId::from_u128(0));
/// let rates = response_rates(&invitations, [&answer], |i| i.survey());
/// // 1 of 4 invitations answered: 25 %.
/// assert_eq!(rates.finish()[&survey].percent(), Some(Decimal::from(25)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn response_rates<'a, 'b, K>(
    invitations: impl IntoIterator<Item = &'a SurveyInvitation>,
    responses: impl IntoIterator<Item = &'b SurveyResponse>,
    mut key: impl FnMut(&SurveyInvitation) -> K,
) -> Grouped<K, ResponseRate>
where
    K: Hash + Eq + Ord + Clone,
{
    let answered: HashSet<InvitationId> = responses
        .into_iter()
        .filter_map(|r| r.invitation())
        .collect();
    let mut grouped = Grouped::new(ResponseRate::default());
    for inv in invitations {
        // Pushing a bool into a response rate only fails after 2^64
        // invitations.
        let _ignored = grouped.entry(key(inv)).push(answered.contains(&inv.id()));
    }
    grouped
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Scale, SurveyId};
    use chrono::TimeZone;
    use rust_decimal::Decimal;

    fn response(i: u128, scale: Scale, score: i32) -> SurveyResponse {
        let at =
            Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap() + chrono::Duration::hours(i as i64);
        SurveyResponse::on_scale(
            ResponseId::from_u128(i),
            SurveyId::from_u128(1),
            scale,
            CustomerId::from_u128(i % 2),
            at,
            score,
        )
        .unwrap()
    }

    #[test]
    fn scale_is_checked() {
        let mut nps = Nps::standard();
        let r = response(1, Scale::csat5(), 5);
        assert!(matches!(
            nps.push_response(&r),
            Err(MetricError::ScaleMismatch { .. })
        ));
        nps.push_response(&response(1, Scale::nps(), 9)).unwrap();
        assert_eq!(nps.finish().n(), 1);
    }

    #[test]
    fn weights_come_along() {
        // 10 with weight 3, 0 with weight 1: (3 - 1) / 4 = 50.
        let mut nps = Nps::standard();
        let a = response(1, Scale::nps(), 10)
            .with_weight(Decimal::from(3))
            .unwrap();
        let b = response(2, Scale::nps(), 0);
        nps.push_response(&a).unwrap();
        nps.push_response(&b).unwrap();
        assert_eq!(nps.finish().score(), Some(Decimal::from(50)));
    }

    #[test]
    fn latest_per_customer() {
        // Customer 0 answers 0 then (later) 10; customer 1 answers 9 then 3.
        let mut latest = LatestPerCustomer::new(Nps::standard());
        for (i, s) in [(0, 0), (1, 9), (2, 10), (3, 3)] {
            latest.push_response(&response(i, Scale::nps(), s)).unwrap();
        }
        // Latest: 10 and 3 -> (1 - 1) / 2 = 0.
        let r = latest.finish();
        assert_eq!((r.n(), r.score()), (2, Some(Decimal::ZERO)));
    }
}
