//! Mergeable accumulators of service metrics, with means, medians and
//! percentiles.
//!
//! Each accumulator has the `push` / `merge` / `finish` shape of the crate's
//! accumulators: partial accumulators (per thread, per page of a store
//! cursor, per machine) merge into the same result as one pass over all
//! cases. Percentiles are of whole seconds: a group of up to
//! [`EXACT_QUANTILES_UP_TO`] durations keeps them all (exact nearest-rank
//! quantiles, and a few hundred bytes for a small group such as one agent's
//! week); a larger one moves them into an [`hdrhistogram`] with three
//! significant digits (exact below 2,048 seconds, within 0.1 % above), which
//! merges without loss. Means, counts, minimum and maximum are exact to the
//! nanosecond.

use std::collections::BTreeMap;

use chrono::Duration;
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use super::ServiceError;
use super::case::{CaseMetrics, Timing};
use super::sla::{CaseSla, SlaCompliance};

/// Distribution of durations: count, exact mean, extremes and mergeable
/// percentiles.
///
/// # Example
/// ```
/// use chrono::Duration;
/// use crmkit::metrics::service::DurationStats;
/// let mut a = DurationStats::new();
/// let mut b = DurationStats::new();
/// for m in [1, 2, 3] { a.push(Duration::minutes(m)); }
/// for m in [4, 100] { b.push(Duration::minutes(m)); }
/// a.merge(&b)?;
/// let s = a.finish();
/// assert_eq!(s.count, 5);
/// assert_eq!(s.mean, Some(Duration::minutes(22))); // 110 / 5
/// assert_eq!(s.median, Some(Duration::minutes(3)));
/// assert_eq!(s.max, Some(Duration::minutes(100)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct DurationStats {
    count: u64,
    sum_ns: i128,
    min: Option<Duration>,
    max: Option<Duration>,
    dist: Dist,
}

/// Up to this many durations, [`DurationStats`] keeps every value and its
/// quantiles are exact; beyond, it keeps a histogram.
pub const EXACT_QUANTILES_UP_TO: usize = 256;

/// Whole seconds: every value while few, a histogram beyond.
#[derive(Debug, Clone)]
enum Dist {
    Exact(Vec<u64>),
    Hist(Box<Histogram<u64>>),
    /// Only inside `finish`: the exact values, sorted.
    Sorted(Vec<u64>),
}

impl Default for Dist {
    fn default() -> Self {
        Self::Exact(Vec::new())
    }
}

fn record(h: &mut Histogram<u64>, secs: u64) {
    if h.record(secs).is_err() {
        h.saturating_record(secs);
    }
}

impl Dist {
    fn push(&mut self, secs: u64) {
        match self {
            Self::Exact(v) | Self::Sorted(v) => {
                v.push(secs);
                if v.len() > EXACT_QUANTILES_UP_TO {
                    self.to_histogram();
                }
            }
            Self::Hist(h) => record(h, secs),
        }
    }

    fn to_histogram(&mut self) {
        if let Self::Exact(v) | Self::Sorted(v) = self
            && let Ok(mut h) = Histogram::<u64>::new(3)
        {
            for &x in v.iter() {
                record(&mut h, x);
            }
            *self = Self::Hist(Box::new(h));
        }
    }

    fn merge(&mut self, other: &Self) -> Result<(), ServiceError> {
        match (&mut *self, other) {
            (Self::Exact(v) | Self::Sorted(v), Self::Exact(o) | Self::Sorted(o)) => {
                v.extend_from_slice(o);
                if v.len() > EXACT_QUANTILES_UP_TO {
                    self.to_histogram();
                }
            }
            (Self::Hist(h), Self::Exact(o) | Self::Sorted(o)) => {
                for &x in o {
                    record(h, x);
                }
            }
            (Self::Exact(_) | Self::Sorted(_), Self::Hist(_)) => {
                let mut theirs = other.clone();
                theirs.merge(self)?;
                *self = theirs;
            }
            (Self::Hist(h), Self::Hist(o)) => h.add(&**o).map_err(|e| ServiceError::Histogram {
                reason: format!("{e:?}"),
            })?,
        }
        Ok(())
    }

    /// Nearest-rank quantile: the value at rank `max(1, ceil(q * n))`.
    fn quantile(&self, q: f64) -> Option<u64> {
        match self {
            Self::Exact(v) | Self::Sorted(v) if v.is_empty() => None,
            Self::Sorted(v) => {
                let rank = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len());
                v.get(rank - 1).copied()
            }
            Self::Exact(v) => {
                let mut sorted = v.clone();
                sorted.sort_unstable();
                let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
                sorted.get(rank - 1).copied()
            }
            Self::Hist(h) if h.is_empty() => None,
            Self::Hist(h) => Some(h.value_at_quantile(q)),
        }
    }
}

/// The summary of a [`DurationStats`]; everything but `count` is absent
/// when nothing was pushed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DurationSummary {
    /// Number of durations.
    pub count: u64,
    /// Exact mean (to the nanosecond, rounded toward zero).
    pub mean: Option<Duration>,
    /// Shortest.
    pub min: Option<Duration>,
    /// Median (50th percentile).
    pub median: Option<Duration>,
    /// 90th percentile.
    pub p90: Option<Duration>,
    /// 95th percentile.
    pub p95: Option<Duration>,
    /// 99th percentile.
    pub p99: Option<Duration>,
    /// Longest.
    pub max: Option<Duration>,
}

impl DurationStats {
    /// An empty accumulator.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one duration (a negative one counts as zero).
    pub fn push(&mut self, d: Duration) {
        let d = d.max(Duration::zero());
        self.count += 1;
        self.sum_ns += i128::from(d.num_nanoseconds().unwrap_or(i64::MAX));
        self.min = Some(self.min.map_or(d, |m| m.min(d)));
        self.max = Some(self.max.map_or(d, |m| m.max(d)));
        self.dist.push(u64::try_from(d.num_seconds()).unwrap_or(0));
    }

    /// Adds a partial accumulator.
    ///
    /// # Errors
    /// [`ServiceError::Histogram`] if the histograms cannot be added (not
    /// expected: they resize automatically).
    pub fn merge(&mut self, other: &Self) -> Result<(), ServiceError> {
        self.dist.merge(&other.dist)?;
        self.count += other.count;
        self.sum_ns += other.sum_ns;
        self.min = match (self.min, other.min) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.max = match (self.max, other.max) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        Ok(())
    }

    /// The `q` quantile (`0.0..=1.0`, nearest rank), in whole seconds:
    /// exact up to [`EXACT_QUANTILES_UP_TO`] durations; beyond, exact below
    /// 2,048 seconds and within 0.1 % above (the top of the histogram
    /// bucket, never beyond the largest duration pushed).
    pub fn quantile(&self, q: f64) -> Option<Duration> {
        let secs = self.dist.quantile(q.clamp(0.0, 1.0))?;
        // The histogram reports the top of a bucket; never beyond the true range.
        let d = i64::try_from(secs)
            .ok()
            .and_then(Duration::try_seconds)
            .unwrap_or(Duration::MAX);
        Some(d.clamp(self.min.unwrap_or(d), self.max.unwrap_or(d)))
    }

    /// The summary.
    pub fn finish(&self) -> DurationSummary {
        // Sort small groups once for all the quantiles.
        let sorted;
        let stats = match &self.dist {
            Dist::Exact(v) => {
                let mut v = v.clone();
                v.sort_unstable();
                sorted = Self {
                    dist: Dist::Sorted(v),
                    ..self.clone()
                };
                &sorted
            }
            Dist::Hist(_) | Dist::Sorted(_) => self,
        };
        stats.summary()
    }

    fn summary(&self) -> DurationSummary {
        let mean = (self.count > 0)
            .then(|| i64::try_from(self.sum_ns / i128::from(self.count)).ok())
            .flatten()
            .map(Duration::nanoseconds);
        DurationSummary {
            count: self.count,
            mean,
            min: self.min,
            median: self.quantile(0.5),
            p90: self.quantile(0.9),
            p95: self.quantile(0.95),
            p99: self.quantile(0.99),
            max: self.max,
        }
    }
}

/// A [`DurationStats`] for each clock.
#[derive(Debug, Clone, Default)]
pub struct TimingStats {
    calendar: DurationStats,
    business: DurationStats,
}

/// The summary of a [`TimingStats`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimingSummary {
    /// On the clock.
    pub calendar: DurationSummary,
    /// In business hours.
    pub business: DurationSummary,
}

impl TimingStats {
    /// Adds one timing; `None` is not counted.
    pub fn push(&mut self, t: Option<Timing>) {
        if let Some(t) = t {
            self.calendar.push(t.calendar);
            self.business.push(t.business);
        }
    }

    /// Adds a partial accumulator.
    ///
    /// # Errors
    /// See [`DurationStats::merge`].
    pub fn merge(&mut self, other: &Self) -> Result<(), ServiceError> {
        self.calendar.merge(&other.calendar)?;
        self.business.merge(&other.business)
    }

    /// The summary.
    pub fn finish(&self) -> TimingSummary {
        TimingSummary {
            calendar: self.calendar.finish(),
            business: self.business.finish(),
        }
    }
}

/// A share: `numerator` of `denominator`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Share {
    /// Cases that have the property.
    pub numerator: u64,
    /// Cases it applies to.
    pub denominator: u64,
}

impl Share {
    fn push(&mut self, value: Option<bool>) {
        if let Some(v) = value {
            self.denominator += 1;
            self.numerator += u64::from(v);
        }
    }

    fn merge(&mut self, other: &Self) {
        self.numerator += other.numerator;
        self.denominator += other.denominator;
    }

    /// `numerator / denominator`; `None` when the denominator is zero.
    pub fn rate(&self) -> Option<f64> {
        (self.denominator > 0).then(|| self.numerator as f64 / self.denominator as f64)
    }
}

/// Every service metric over a set of cases: push each case's
/// [`CaseMetrics`] (and optionally its [`CaseSla`]), merge partial
/// accumulators, finish into a [`ServiceSummary`].
///
/// # Example
/// ```
/// use chrono::{Duration, TimeZone, Utc};
/// use crmkit::domain::*;
/// use crmkit::metrics::service::{CaseMetrics, FcrRule, ServiceAccumulator};
/// let t0 = Utc.with_ymd_and_hms(2026, 3, 2, 10, 0, 0).single().ok_or("time")?;
/// let agent = Actor::Agent(AgentId::from_u128(1));
/// let mut case = Case::open(
///     CaseId::from_u128(1), CustomerId::from_u128(2), "Refund", Priority::Normal,
///     Channel::Email,
///     CaseEvent::new(t0, Actor::Customer,
///         CaseEventKind::Created { by_agent: false, public_message: true }),
/// )?;
/// case.record(CaseEvent::new(t0 + Duration::hours(2), agent, CaseEventKind::PublicReply))?;
/// case.record(CaseEvent::new(t0 + Duration::hours(3), agent, CaseEventKind::Solved))?;
/// let calendar = BusinessCalendar::always(chrono_tz::UTC);
/// let mut acc = ServiceAccumulator::new();
/// acc.push(&CaseMetrics::of(&case, &calendar, &FcrRule::default())?);
/// let s = acc.finish();
/// assert_eq!(s.cases, 1);
/// assert_eq!(s.one_touch.rate(), Some(1.0));
/// assert_eq!(s.first_reply.calendar.median, Some(Duration::hours(2)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct ServiceAccumulator {
    cases: u64,
    resolved: u64,
    agent_replies: u64,
    reopens: u64,
    one_touch: Share,
    fcr: Share,
    reopened: Share,
    bot_contained: Share,
    escalated: Share,
    first_reply: TimingStats,
    next_reply: TimingStats,
    first_resolution: TimingStats,
    full_resolution: TimingStats,
    requester_wait: TimingStats,
    agent_wait: TimingStats,
    on_hold: TimingStats,
    time_to_human: TimingStats,
    sla_first_reply: SlaCompliance,
    sla_next_reply: SlaCompliance,
    sla_resolution: SlaCompliance,
}

/// Everything a [`ServiceAccumulator`] knows.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ServiceSummary {
    /// Cases pushed.
    pub cases: u64,
    /// Of which resolved (not reopened since the last solve).
    pub resolved: u64,
    /// Public agent replies over all cases.
    pub agent_replies: u64,
    /// Reopen events over all cases.
    pub reopens: u64,
    /// One-touch resolutions among resolved cases.
    pub one_touch: Share,
    /// First-contact resolutions among resolved cases.
    pub first_contact_resolution: Share,
    /// Cases reopened at least once, among all cases.
    pub reopened: Share,
    /// Bot-contained among resolved cases a bot took part in.
    pub bot_containment: Share,
    /// Escalated to a human among cases a bot took part in.
    pub escalation: Share,
    /// First reply times.
    pub first_reply: TimingSummary,
    /// Next reply times (each reply counts).
    pub next_reply: TimingSummary,
    /// First resolution times.
    pub first_resolution: TimingSummary,
    /// Full resolution times.
    pub full_resolution: TimingSummary,
    /// Requester wait times of resolved cases.
    pub requester_wait: TimingSummary,
    /// Agent wait times of resolved cases.
    pub agent_wait: TimingSummary,
    /// On-hold times of resolved cases.
    pub on_hold: TimingSummary,
    /// Times to reach a human after an escalation.
    pub time_to_human: TimingSummary,
    /// First reply SLA.
    pub sla_first_reply: SlaCompliance,
    /// Next reply SLA.
    pub sla_next_reply: SlaCompliance,
    /// Resolution SLA.
    pub sla_resolution: SlaCompliance,
}

impl ServiceAccumulator {
    /// An empty accumulator.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one case.
    pub fn push(&mut self, m: &CaseMetrics) {
        self.cases += 1;
        self.resolved += u64::from(m.full_resolution.is_some());
        self.agent_replies += u64::from(m.agent_replies);
        self.reopens += u64::from(m.reopens);
        self.one_touch.push(m.one_touch);
        self.fcr.push(m.first_contact_resolution);
        self.reopened.push(Some(m.reopens > 0));
        self.bot_contained.push(m.bot_contained);
        self.escalated.push(m.bot_handled.then_some(m.escalated));
        self.first_reply.push(m.first_reply);
        for t in &m.next_replies {
            self.next_reply.push(Some(*t));
        }
        self.first_resolution.push(m.first_resolution);
        self.full_resolution.push(m.full_resolution);
        self.requester_wait.push(m.requester_wait);
        self.agent_wait.push(m.agent_wait);
        self.on_hold.push(m.on_hold);
        self.time_to_human.push(m.time_to_human);
    }

    /// Adds one case's SLA status.
    pub fn push_sla(&mut self, sla: &CaseSla) {
        self.sla_first_reply.push(sla.first_reply);
        self.sla_next_reply.push(sla.next_reply);
        self.sla_resolution.push(sla.resolution);
    }

    /// Adds a partial accumulator.
    ///
    /// # Errors
    /// See [`DurationStats::merge`].
    pub fn merge(&mut self, o: &Self) -> Result<(), ServiceError> {
        self.cases += o.cases;
        self.resolved += o.resolved;
        self.agent_replies += o.agent_replies;
        self.reopens += o.reopens;
        self.one_touch.merge(&o.one_touch);
        self.fcr.merge(&o.fcr);
        self.reopened.merge(&o.reopened);
        self.bot_contained.merge(&o.bot_contained);
        self.escalated.merge(&o.escalated);
        self.first_reply.merge(&o.first_reply)?;
        self.next_reply.merge(&o.next_reply)?;
        self.first_resolution.merge(&o.first_resolution)?;
        self.full_resolution.merge(&o.full_resolution)?;
        self.requester_wait.merge(&o.requester_wait)?;
        self.agent_wait.merge(&o.agent_wait)?;
        self.on_hold.merge(&o.on_hold)?;
        self.time_to_human.merge(&o.time_to_human)?;
        self.sla_first_reply.merge(&o.sla_first_reply);
        self.sla_next_reply.merge(&o.sla_next_reply);
        self.sla_resolution.merge(&o.sla_resolution);
        Ok(())
    }

    /// The summary.
    pub fn finish(&self) -> ServiceSummary {
        ServiceSummary {
            cases: self.cases,
            resolved: self.resolved,
            agent_replies: self.agent_replies,
            reopens: self.reopens,
            one_touch: self.one_touch,
            first_contact_resolution: self.fcr,
            reopened: self.reopened,
            bot_containment: self.bot_contained,
            escalation: self.escalated,
            first_reply: self.first_reply.finish(),
            next_reply: self.next_reply.finish(),
            first_resolution: self.first_resolution.finish(),
            full_resolution: self.full_resolution.finish(),
            requester_wait: self.requester_wait.finish(),
            agent_wait: self.agent_wait.finish(),
            on_hold: self.on_hold.finish(),
            time_to_human: self.time_to_human.finish(),
            sla_first_reply: self.sla_first_reply,
            sla_next_reply: self.sla_next_reply,
            sla_resolution: self.sla_resolution,
        }
    }
}

/// One [`ServiceAccumulator`] per group key (agent, team, channel,
/// priority, a calendar bucket in a zone, or a tuple of them).
///
/// # Example
/// ```
/// use crmkit::domain::Priority;
/// use crmkit::metrics::service::ServiceGroups;
/// let mut by_priority: ServiceGroups<Priority> = ServiceGroups::new();
/// let other = ServiceGroups::new();
/// by_priority.merge(&other)?;
/// assert!(by_priority.finish().is_empty());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct ServiceGroups<K: Ord> {
    // Boxed: an accumulator is over a kilobyte, and B-tree nodes move their values.
    groups: BTreeMap<K, Box<ServiceAccumulator>>,
}

impl<K: Ord> Default for ServiceGroups<K> {
    fn default() -> Self {
        Self {
            groups: BTreeMap::new(),
        }
    }
}

impl<K: Ord + Clone> ServiceGroups<K> {
    /// No groups yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The accumulator of `key`, created empty if new.
    pub fn group(&mut self, key: K) -> &mut ServiceAccumulator {
        self.groups.entry(key).or_default()
    }

    /// Adds one case to the group `key`.
    pub fn push(&mut self, key: K, m: &CaseMetrics) {
        self.group(key).push(m);
    }

    /// Adds partial groups.
    ///
    /// # Errors
    /// See [`DurationStats::merge`].
    pub fn merge(&mut self, other: &Self) -> Result<(), ServiceError> {
        for (k, acc) in &other.groups {
            self.group(k.clone()).merge(acc)?;
        }
        Ok(())
    }

    /// The summary of each group, in key order.
    pub fn finish(&self) -> BTreeMap<K, ServiceSummary> {
        self.groups
            .iter()
            .map(|(k, a)| (k.clone(), a.finish()))
            .collect()
    }
}
