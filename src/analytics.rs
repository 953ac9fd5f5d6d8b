//! Metrics over a store: "NPS per segment per month for Q3".
//!
//! These functions page through a [`SurveyStore`]'s responses (or
//! invitations) for one period with a cursor, keep only the responses of
//! one survey and push them into a [`Grouped`] accumulator. Memory is
//! bounded by the number of groups plus one page, never the whole table
//! (except where noted: the latest-per-customer policy keeps one entry per
//! customer, and response rates keep the set of answered invitation ids).
//!
//! They run on any executor (or none: a store's futures can be driven by a
//! blocking adapter); they hold no lock across an await.

pub mod relationship;
pub mod service;

use std::collections::HashSet;
use std::hash::Hash;

use crate::domain::{InvitationId, Period, SurveyId, SurveyInvitation, SurveyResponse};
use crate::metrics::accumulator::Accumulator;
use crate::metrics::group::Grouped;
use crate::metrics::rate::ResponseRate;
use crate::metrics::response::{ResponseAccumulator, push_grouped};
use crate::metrics::score::MetricError;
use crate::store::{PageRequest, Query, StoreError, SurveyStore};

/// The default number of responses fetched per page.
pub const DEFAULT_PAGE_SIZE: usize = 1_000;

/// Computing a metric over a store failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AnalyticsError {
    /// The store failed (or the page size was invalid).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A response could not be pushed (another scale, a bad weight).
    #[error(transparent)]
    Metric(#[from] MetricError),
    /// A relationship or value metric rejected its input or had no data.
    #[error(transparent)]
    Relationship(#[from] crate::metrics::activity::RelationshipError),
    /// A case's service metrics or SLA status could not be computed.
    #[error(transparent)]
    Service(#[from] crate::metrics::service::ServiceError),
}

/// Pushes the responses of `survey` recorded in `period` into
/// `template`-configured accumulators grouped by `keys` (see
/// [`push_grouped`]), paging through the store `page_size` responses at a
/// time.
///
/// # Errors
/// [`AnalyticsError::Store`] when a page cannot be read,
/// [`AnalyticsError::Metric`] for a response the accumulator rejects.
///
/// # Example
/// NPS per month, on the in-memory reference store:
/// ```
/// use chrono::{TimeZone, Utc};
/// use crmkit::analytics::{survey_metric, DEFAULT_PAGE_SIZE};
/// use crmkit::domain::*;
/// use crmkit::metrics::accumulator::Accumulator;
/// use crmkit::metrics::group::BucketIndex;
/// use crmkit::metrics::nps::Nps;
/// use crmkit::store::{blocking::block_on, memory::MemoryStore, SurveyStore};
/// use rust_decimal::Decimal;
///
/// let store = MemoryStore::new();
/// let survey = SurveyId::from_u128(1);
/// let at = |m| Utc.with_ymd_and_hms(2026, m, 5, 12, 0, 0).single().ok_or("no such instant");
/// for (i, (month, score)) in [(1, 10), (1, 0), (2, 9)].into_iter().enumerate() {
///     let r = SurveyResponse::on_scale(
///         ResponseId::from_u128(i as u128), survey, Scale::nps(),
///         CustomerId::from_u128(i as u128), at(month)?, score,
///     )?;
///     let _stored = block_on(store.record_response(r))?;
/// }
/// let q1 = Period::new(at(1)?, at(4)?)?;
/// let tz: chrono_tz::Tz = "UTC".parse()?;
/// let months = BucketIndex::new(q1, Granularity::Month, tz);
/// let grouped = block_on(survey_metric(
///     &store, survey, q1, Nps::standard(),
///     |r| months.bucket_of(r.responded_at()), DEFAULT_PAGE_SIZE,
/// ))?;
/// let by_month = grouped.finish();
/// assert_eq!(by_month[&CalendarBucket::Month { year: 2026, month: 1 }].score(), Some(Decimal::ZERO));
/// assert_eq!(by_month[&CalendarBucket::Month { year: 2026, month: 2 }].score(), Some(Decimal::from(100)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub async fn survey_metric<S, A, K, I>(
    store: &S,
    survey: SurveyId,
    period: Period,
    template: A,
    mut keys: impl FnMut(&SurveyResponse) -> I,
    page_size: usize,
) -> Result<Grouped<K, A>, AnalyticsError>
where
    S: SurveyStore,
    A: ResponseAccumulator + Clone,
    K: Hash + Eq + Ord + Clone,
    I: IntoIterator<Item = K>,
{
    let mut grouped = Grouped::new(template);
    let mut request = PageRequest::first(page_size)?;
    loop {
        let page = store
            .responses(Query::Period(period), request.clone())
            .await?;
        let of_survey = page
            .items
            .iter()
            .map(|v| v.value())
            .filter(|r| r.survey() == survey);
        push_grouped(&mut grouped, of_survey, &mut keys)?;
        match request.next(&page) {
            Some(next) => request = next,
            None => break,
        }
    }
    Ok(grouped)
}

/// Response rate of `survey` per group of invitations sent in `period`: an
/// invitation counts as answered when a response of the survey names it
/// (responses are read from `period`'s start on, since answers come after
/// invitations).
///
/// Memory: the set of answered invitation ids of the survey, plus one
/// counter pair per group.
///
/// # Errors
/// [`AnalyticsError::Store`] when a page cannot be read.
pub async fn response_rate<S, K>(
    store: &S,
    survey: SurveyId,
    period: Period,
    mut key: impl FnMut(&SurveyInvitation) -> K,
    page_size: usize,
) -> Result<Grouped<K, ResponseRate>, AnalyticsError>
where
    S: SurveyStore,
    K: Hash + Eq + Ord + Clone,
{
    let mut answered: HashSet<InvitationId> = HashSet::new();
    let mut request = PageRequest::first(page_size)?;
    loop {
        let page = store
            .responses(Query::Survey(survey), request.clone())
            .await?;
        answered.extend(page.items.iter().filter_map(|v| v.value().invitation()));
        match request.next(&page) {
            Some(next) => request = next,
            None => break,
        }
    }
    let mut grouped = Grouped::new(ResponseRate::default());
    let mut request = PageRequest::first(page_size)?;
    loop {
        let page = store
            .invitations(Query::Period(period), request.clone())
            .await?;
        for inv in page
            .items
            .iter()
            .map(|v| v.value())
            .filter(|i| i.survey() == survey)
        {
            grouped.entry(key(inv)).push(answered.contains(&inv.id()))?;
        }
        match request.next(&page) {
            Some(next) => request = next,
            None => break,
        }
    }
    Ok(grouped)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Channel, CustomerId, ResponseId, Scale};
    use crate::metrics::nps::Nps;
    use crate::store::blocking::block_on;
    use crate::store::memory::MemoryStore;
    use chrono::{Duration, TimeZone, Utc};

    #[test]
    fn paging_is_complete_and_keeps_one_survey() {
        let store = MemoryStore::new();
        let t0 = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let (a, b) = (SurveyId::from_u128(1), SurveyId::from_u128(2));
        for i in 0..25u128 {
            let inv = SurveyInvitation::new(
                InvitationId::from_u128(i),
                a,
                CustomerId::from_u128(i),
                t0 + Duration::hours(i as i64),
                Channel::Email,
            );
            let _inv = block_on(store.record_invitation(inv)).unwrap();
            let survey = if i % 5 == 0 { b } else { a };
            let mut r = SurveyResponse::on_scale(
                ResponseId::from_u128(i),
                survey,
                Scale::nps(),
                CustomerId::from_u128(i),
                t0 + Duration::hours(i as i64),
                (i % 11) as i32,
            )
            .unwrap();
            if i % 2 == 0 {
                r = r.with_invitation(InvitationId::from_u128(i));
            }
            let _r = block_on(store.record_response(r)).unwrap();
        }
        let period = Period::new(t0, t0 + Duration::days(2)).unwrap();
        let one = |size| {
            block_on(survey_metric(
                &store,
                a,
                period,
                Nps::standard(),
                |_| Some(()),
                size,
            ))
            .unwrap()
            .finish()
        };
        // 25 responses, 5 of them (i = 0, 5, .., 20) in survey b: 20 in survey a.
        assert_eq!(one(1)[&()].n(), 20);
        assert_eq!(one(1), one(DEFAULT_PAGE_SIZE));
        // Invitations 0..25 of survey a; responses naming them: even i (13).
        let rates = block_on(response_rate(&store, a, period, |_| (), 3)).unwrap();
        let r = rates.finish()[&()];
        // Survey a's responses name invitations 2, 4, 6, 8, 12, 14, 16, 18, 22, 24: 10 of 25.
        assert_eq!((r.invited(), r.responded()), (25, 10));
    }
}
