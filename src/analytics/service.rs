//! Service metrics over a [`CaseStore`]: "median first reply in business
//! hours per team per week, and SLA compliance as of now".
//!
//! [`service_metrics`] pages through the cases created in a period with a
//! cursor, computes each case's [`CaseMetrics`] (calendar and business
//! time) and [`CaseSla`] status as of an instant, and pushes them into one
//! [`ServiceAccumulator`] per group. Memory is bounded by the number of
//! groups plus one page.

use std::hash::Hash;

use chrono::{DateTime, Utc};

use super::AnalyticsError;
use crate::domain::{BusinessCalendar, Case, Period};
use crate::metrics::service::{CaseMetrics, FcrRule, ServiceGroups, SlaPolicy};
use crate::store::{CaseStore, PageRequest, Query};

#[cfg(doc)]
use crate::metrics::service::{CaseSla, ServiceAccumulator};

/// How [`service_metrics`] measures each case.
#[derive(Debug, Clone, Copy)]
pub struct ServiceSettings<'a> {
    /// The business hours that business times are measured in.
    pub calendar: &'a BusinessCalendar,
    /// The first-contact resolution rule.
    pub fcr: FcrRule,
    /// The SLA targets ([`SlaPolicy::new`] for none: every SLA count stays
    /// zero).
    pub sla: &'a SlaPolicy,
    /// The instant SLA status is evaluated at (from the events up to it).
    /// Cases created after it have no SLA status yet and count in no SLA
    /// figure.
    pub as_of: DateTime<Utc>,
}

/// Service metrics of the cases created in `period`, grouped by `keys`
/// (a case goes into every group its keys name, so `None` skips it and a
/// `Vec` counts it in several groups), paging through the store
/// `page_size` cases at a time.
///
/// Each case's metrics come from its whole stored history; its SLA status
/// from the events up to `settings.as_of`.
///
/// # Errors
/// [`AnalyticsError::Store`] when a page cannot be read (or `page_size` is
/// zero), [`AnalyticsError::Service`] for a case whose instants are outside
/// the calendar's range.
///
/// # Example
/// First reply time per priority, in business hours, on the in-memory
/// reference store:
/// ```
/// use chrono::{Duration, TimeZone};
/// use crmkit::analytics::service::{service_metrics, ServiceSettings};
/// use crmkit::analytics::DEFAULT_PAGE_SIZE;
/// use crmkit::domain::*;
/// use crmkit::metrics::service::{FcrRule, SlaPolicy};
/// use crmkit::store::{blocking::block_on, memory::MemoryStore, CaseStore};
///
/// let tz: chrono_tz::Tz = "Europe/Berlin".parse()?;
/// let calendar = BusinessCalendar::weekdays(tz, "09:00".parse()?, "17:00".parse()?)?;
/// let at = |d, h, m| tz.with_ymd_and_hms(2026, 3, d, h, m, 0).single().ok_or("no such time");
/// let store = MemoryStore::new();
/// let mut case = Case::open(
///     CaseId::from_u128(1), CustomerId::from_u128(2), "Where is my parcel?",
///     Priority::Normal, Channel::Email,
///     CaseEvent::new(at(6, 16, 30)?.to_utc(), Actor::Customer,
///         CaseEventKind::Created { by_agent: false, public_message: true }),
/// )?;
/// case.record(CaseEvent::new(at(9, 9, 30)?.to_utc(),
///     Actor::Agent(AgentId::from_u128(1)), CaseEventKind::PublicReply))?;
/// let _stored = block_on(store.create_case(case))?;
///
/// let march = Period::new(at(1, 0, 0)?.to_utc(), at(31, 0, 0)?.to_utc())?;
/// let settings = ServiceSettings {
///     calendar: &calendar,
///     fcr: FcrRule::default(),
///     sla: &SlaPolicy::new(),
///     as_of: at(31, 0, 0)?.to_utc(),
/// };
/// let groups = block_on(service_metrics(
///     &store, march, settings, |c| Some(c.priority()), DEFAULT_PAGE_SIZE,
/// ))?;
/// let normal = groups.finish()[&Priority::Normal];
/// // Friday 16:30 to Monday 09:30: 30 minutes on Friday, 30 on Monday.
/// assert_eq!(normal.first_reply.business.median, Some(Duration::hours(1)));
/// assert_eq!(normal.first_reply.calendar.median, Some(Duration::hours(65)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub async fn service_metrics<S, K, I>(
    store: &S,
    period: Period,
    settings: ServiceSettings<'_>,
    mut keys: impl FnMut(&Case) -> I,
    page_size: usize,
) -> Result<ServiceGroups<K>, AnalyticsError>
where
    S: CaseStore,
    K: Hash + Eq + Ord + Clone,
    I: IntoIterator<Item = K>,
{
    let mut groups = ServiceGroups::new();
    let mut request = PageRequest::first(page_size)?;
    loop {
        let page = store.cases(Query::Period(period), request.clone()).await?;
        for case in page.items.iter().map(|v| v.value()) {
            let mut keys = keys(case).into_iter().peekable();
            if keys.peek().is_none() {
                continue;
            }
            let metrics = CaseMetrics::of(case, settings.calendar, &settings.fcr)?;
            let sla = if case.created_at() <= settings.as_of {
                Some(
                    settings
                        .sla
                        .evaluate(case, settings.calendar, settings.as_of)?,
                )
            } else {
                None
            };
            for key in keys {
                let acc = groups.group(key);
                acc.push(&metrics);
                if let Some(sla) = &sla {
                    acc.push_sla(sla);
                }
            }
        }
        match request.next(&page) {
            Some(next) => request = next,
            None => break,
        }
    }
    Ok(groups)
}
