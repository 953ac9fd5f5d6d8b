//! The customer-relations report (feature `report`): how satisfied
//! customers are, whether they stay, what they are worth, how fast they are
//! served and who needs a follow-up, computed from any store.
//!
//! [`Report::compute`] reads a store through its traits (the in-memory
//! store, SQLite, your own adapter) and fills one [`Section`] per topic.
//! A topic the data cannot support is [`Section::Skipped`] with the reason
//! (a CSV import without survey responses says "no survey responses"),
//! never an error: only a failing store is an error.
//!
//! | section | computed from |
//! |---|---|
//! | [`Report::nps`], [`Report::csat`], [`Report::ces`] | responses per month, [`crate::metrics::nps`] / [`csat`](crate::metrics::csat) / [`ces`](crate::metrics::ces), intervals and significant month-to-month changes ([`trend`]) |
//! | [`Report::retention`] | purchases: customer retention and churn, GRR and NRR per quarter ([`relationship_series`](crate::analytics::relationship::relationship_series): each quarter's revenue against the same length before it) |
//! | [`Report::cohorts`] | purchases: monthly acquisition cohorts ([`crate::metrics::cohort`]) |
//! | [`Report::rfm`] | purchases: RFM segments ([`crate::metrics::rfm`], the standard segment table) |
//! | [`Report::clv`] | purchases: BG/NBD and Gamma-Gamma fits, probability alive and predicted CLV ([`crate::metrics::btyd`]) |
//! | [`Report::service`] | cases: first reply, resolution and SLA compliance per team ([`crate::analytics::service`]) |
//! | [`Report::follow_up`] | the last days' responses, interactions and cases through the follow-up [`Planner`] with the default rules |
//!
//! Amounts in other currencies convert into the report currency through
//! the settings' exchange rates ([`FixedRates`]); a purchase without a rate
//! is counted in [`Report::skipped_purchases`] rather than mixed in.
//!
//! [`Report::to_text`] prints aligned tables; [`Report::to_html`] writes a
//! self-contained page with SVG charts (plotters' SVG backend with an
//! embedded DejaVu Sans font: no system library is involved).
//!
//! Memory: one page of records at a time, plus one compact transaction
//! (customer, instant, amount) per purchase of the history (the
//! relationship metrics need each customer's history), one accumulator
//! per month and team, and the responses, cases and interactions of the
//! follow-up window.

mod compute;
mod html;
mod text;

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use rust_decimal::Decimal;
use serde::Serialize;

use crate::domain::{
    BusinessCalendar, CalendarBucket, Currency, CustomerId, Period, Priority, SurveyKind, TeamId,
};
use crate::metrics::cohort::CohortTable;
use crate::metrics::interval::Confidence;
use crate::metrics::revenue::FixedRates;
use crate::metrics::service::{Clock, SlaCompliance, SlaPolicy, SlaTarget, SlaTargets};
use crate::outreach::RuleSet;

#[cfg(doc)]
use crate::{metrics::group::trend, outreach::Planner};

pub use html::ReportError;

/// One topic of a report: computed, or skipped with the reason.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Section<T> {
    /// The figures.
    Computed(T),
    /// The data does not support this topic, and why.
    Skipped {
        /// A sentence for the reader ("no survey responses imported").
        reason: String,
    },
}

impl<T> Section<T> {
    /// The figures, if computed.
    pub fn computed(&self) -> Option<&T> {
        match self {
            Self::Computed(t) => Some(t),
            Self::Skipped { .. } => None,
        }
    }

    /// The reason, if skipped.
    pub fn skipped(&self) -> Option<&str> {
        match self {
            Self::Computed(_) => None,
            Self::Skipped { reason } => Some(reason),
        }
    }

    pub(crate) fn skip(reason: impl Into<String>) -> Self {
        Self::Skipped {
            reason: reason.into(),
        }
    }
}

/// A support team: its id on cases, its name and its business hours.
#[derive(Debug, Clone)]
pub struct Team {
    /// The id cases are assigned to.
    pub id: TeamId,
    /// The name printed in the report.
    pub name: String,
    /// The business hours its times and SLAs are measured in.
    pub calendar: BusinessCalendar,
}

/// What a report covers and how it measures.
///
/// [`ReportSettings::new`] gives the defaults; change any field.
#[derive(Debug, Clone)]
pub struct ReportSettings {
    /// The period reported on: months, quarters and cohorts are the
    /// calendar buckets of this period in `tz`.
    pub period: Period,
    /// The business's time zone (calendar months and quarters).
    pub tz: Tz,
    /// The reporting currency.
    pub currency: Currency,
    /// Exchange rates into the reporting currency.
    pub rates: FixedRates,
    /// The confidence level of intervals and change tests (95%).
    pub confidence: Confidence,
    /// How long a sale keeps its customer active, for retention (90 days).
    pub activity_window: Duration,
    /// Support teams (cases of other teams, or none, report as
    /// "unassigned" on `calendar`).
    pub teams: Vec<Team>,
    /// Business hours for unassigned cases and follow-up due times.
    pub calendar: BusinessCalendar,
    /// SLA targets per priority ([`ReportSettings::standard_sla`]).
    pub sla: SlaPolicy,
    /// How many customers the CLV table lists (10).
    pub top_customers: usize,
    /// The CLV horizon in months (12).
    pub clv_months: u32,
    /// The monthly discount rate of the CLV (1%).
    pub monthly_discount_rate: f64,
    /// The follow-up queue plans the events of this many last days of the
    /// period (14).
    pub follow_up_days: i64,
    /// The follow-up rules: [`RuleSet::default`] without its check-in and
    /// newsletter rules, which need every customer's whole contact history
    /// (a report reads only the last days).
    pub rules: RuleSet,
    /// Records read per page (1,000).
    pub page_size: usize,
}

impl ReportSettings {
    /// Defaults for `period` in `tz`, reporting in `currency`: 95%
    /// intervals, a 90-day activity window, no teams (every case is
    /// "unassigned", measured on weekdays 09:00-17:00 in `tz`), the
    /// [standard SLA](ReportSettings::standard_sla), the top 10
    /// customers' 12-month CLV at 1% a month, a 14-day follow-up window
    /// with the default rules for responses, complaints and cases, pages of
    /// 1,000.
    pub fn new(period: Period, tz: Tz, currency: Currency) -> Self {
        Self {
            period,
            tz,
            currency,
            rates: FixedRates::new(),
            confidence: Confidence::P95,
            activity_window: Duration::days(90),
            teams: Vec::new(),
            calendar: office_hours(tz),
            sla: Self::standard_sla(),
            top_customers: 10,
            clv_months: 12,
            monthly_discount_rate: 0.01,
            follow_up_days: 14,
            rules: follow_up_rules(),
            page_size: crate::analytics::DEFAULT_PAGE_SIZE,
        }
    }

    /// Common SLA targets in business hours: first reply within 1, 4, 8
    /// and 24 hours and resolution within 8, 24, 40 and 80 hours for
    /// urgent, high, normal and low priority.
    pub fn standard_sla() -> SlaPolicy {
        let hours = |h| SlaTarget::new(Duration::hours(h), Clock::Business).ok();
        [
            (Priority::Urgent, 1, 8),
            (Priority::High, 4, 24),
            (Priority::Normal, 8, 40),
            (Priority::Low, 24, 80),
        ]
        .into_iter()
        .fold(SlaPolicy::new(), |policy, (p, reply, solve)| {
            policy.with(
                p,
                SlaTargets {
                    first_reply: hours(reply),
                    next_reply: None,
                    resolution: hours(solve),
                },
            )
        })
    }
}

/// The default rules without those that need the whole contact history.
fn follow_up_rules() -> RuleSet {
    use crate::outreach::Trigger;
    let all = RuleSet::default();
    let rules = all
        .rules()
        .iter()
        .filter(|r| !matches!(r.trigger, Trigger::NoContact { .. } | Trigger::Newsletter))
        .cloned()
        .collect();
    RuleSet::new(
        rules,
        all.quiet_hours(),
        all.frequency_cap(),
        all.channel_order().to_vec(),
    )
    .unwrap_or(all)
}

/// Weekdays 09:00-17:00 in `tz` (always open if that cannot be built).
fn office_hours(tz: Tz) -> BusinessCalendar {
    use crate::domain::TimeOfDay;
    match (TimeOfDay::new(9, 0, 0), TimeOfDay::new(17, 0, 0)) {
        (Ok(a), Ok(b)) => {
            BusinessCalendar::weekdays(tz, a, b).unwrap_or_else(|_| BusinessCalendar::always(tz))
        }
        _ => BusinessCalendar::always(tz),
    }
}

/// Where a long step of [`Report::compute_with_progress`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Progress {
    /// The step's name ("survey responses", "purchases", ...).
    pub step: &'static str,
    /// The step's number, from 1.
    pub index: usize,
    /// The number of steps.
    pub steps: usize,
    /// Records read so far in this step.
    pub records: u64,
}

/// A survey metric in one month.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScorePoint {
    /// The month.
    pub month: CalendarBucket,
    /// Valid responses.
    pub n: u64,
    /// The score (NPS points; CSAT and CES: percent at or above the
    /// threshold), `None` without responses.
    pub score: Option<Decimal>,
    /// The interval's lower bound (NPS: adjusted Wald; shares: Wilson).
    pub lower: Option<f64>,
    /// The interval's upper bound.
    pub upper: Option<f64>,
    /// The mean score on the survey's scale.
    pub mean: Option<Decimal>,
    /// Fewer responses than the minimum sample (30).
    pub small_sample: bool,
    /// The change from the previous month, in the score's unit.
    pub change: Option<f64>,
    /// Whether that change is significant at the settings' confidence.
    pub significant: bool,
}

/// A survey metric per month of the period.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScoreTrend {
    /// NPS, CSAT or CES.
    pub kind: SurveyKind,
    /// What the score means ("NPS points", "% satisfied (4-5 of 1-5)").
    pub unit: String,
    /// Every month of the period, in order (empty months have `n = 0`).
    pub months: Vec<ScorePoint>,
    /// Responses left out: on another scale than the metric's (a CSAT on
    /// 1-5 and one on 1-10 cannot share a percentage), or with an unusable
    /// weight.
    pub left_out: u64,
}

/// Retention and revenue retention in one quarter.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QuarterRetention {
    /// The quarter.
    pub quarter: CalendarBucket,
    /// Whether only part of the quarter is in the period (its figures are
    /// over that part).
    pub partial: bool,
    /// Customers active at its start (a sale in the activity window before).
    pub active_start: u64,
    /// Customers active at its end.
    pub active_end: u64,
    /// Customers acquired in it.
    pub acquired: u64,
    /// Active at both ends.
    pub retained: u64,
    /// Active at the start, not at the end.
    pub churned: u64,
    /// `retained / active_start`, `None` without customers at the start.
    pub retention: Option<Decimal>,
    /// `churned / active_start`.
    pub churn: Option<Decimal>,
    /// Net revenue of the quarter in the report currency.
    pub revenue: Decimal,
    /// Gross revenue retention: the revenue in the quarter of the customers
    /// who had revenue in the same length of time before it (`None`
    /// without revenue before).
    pub grr: Option<Decimal>,
    /// Net revenue retention against the previous quarter's customers.
    pub nrr: Option<Decimal>,
}

/// RFM segment sizes as of the period end.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RfmSection {
    /// Customers with a sale before the period end.
    pub customers: u64,
    /// Customers per segment, largest first (ties by name).
    pub segments: Vec<(String, u64)>,
    /// Customers per recency score (row, 5 = most recent first) and
    /// frequency score (column, 1 to 5).
    pub grid: [[u64; 5]; 5],
    /// The segment of each grid cell at the middle monetary score (3).
    pub grid_segments: [[String; 5]; 5],
}

/// One customer's predicted value.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CustomerValueRow {
    /// The customer.
    pub customer: CustomerId,
    /// Repeat purchase days.
    pub frequency: u32,
    /// Days from the first to the last purchase.
    pub recency: u32,
    /// Days from the first purchase to the period end.
    pub age: u32,
    /// Mean value of the repeat purchases.
    pub monetary: Decimal,
    /// Probability the customer is still active (BG/NBD).
    pub p_alive: f64,
    /// Expected purchases over the horizon.
    pub expected_purchases: f64,
    /// Predicted, discounted value over the horizon.
    pub clv: f64,
    /// Revenue to date (historical CLV).
    pub historical: Decimal,
}

/// Predicted customer lifetime value.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClvSection {
    /// Customers summarised.
    pub customers: u64,
    /// Of whom bought again (the Gamma-Gamma sample).
    pub repeat_customers: u64,
    /// BG/NBD parameters `(r, alpha, a, b)` (alpha in days).
    pub bgnbd: [f64; 4],
    /// Gamma-Gamma parameters `(p, q, v)`.
    pub gamma_gamma: [f64; 3],
    /// Horizon in months.
    pub months: u32,
    /// The sum of every customer's predicted value.
    pub total: f64,
    /// Mean probability alive.
    pub mean_p_alive: f64,
    /// Whether both fits met their gradient criterion (when not, the
    /// parameters are the best point found, and the text says so).
    pub converged: bool,
    /// The top customers by predicted value.
    pub top: Vec<CustomerValueRow>,
}

/// Service figures of one team over the cases created in the period.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TeamService {
    /// The team (`None`: unassigned or unknown team).
    pub team: Option<TeamId>,
    /// Its name.
    pub name: String,
    /// Cases created in the period.
    pub cases: u64,
    /// Of which resolved.
    pub resolved: u64,
    /// Median first reply, business seconds.
    pub first_reply_median: Option<i64>,
    /// Median full resolution, business seconds.
    pub resolution_median: Option<i64>,
    /// Median first reply, calendar seconds.
    pub first_reply_median_calendar: Option<i64>,
    /// Median full resolution, calendar seconds.
    pub resolution_median_calendar: Option<i64>,
    /// First-reply SLA counts as of the period end.
    pub sla_first_reply: SlaCompliance,
    /// Resolution SLA counts as of the period end.
    pub sla_resolution: SlaCompliance,
}

impl TeamService {
    /// Met over decided targets, both kinds together; `None` when nothing
    /// is decided.
    pub fn compliance(&self) -> Option<f64> {
        let mut all = self.sla_first_reply;
        all.merge(&self.sla_resolution);
        all.compliance()
    }
}

/// One planned follow-up.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FollowUpRow {
    /// When it is due.
    pub due: DateTime<Utc>,
    /// The customer.
    pub customer: CustomerId,
    /// The rule that planned it.
    pub rule: String,
    /// How it reaches the customer ("email", "person (phone)", ...).
    pub delivery: String,
    /// Its priority.
    pub priority: Priority,
}

/// The follow-up queue planned from the last days of the period.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FollowUpSection {
    /// The window whose events were planned.
    pub window: Period,
    /// Events looked at.
    pub events: u64,
    /// The tasks, by due time.
    pub tasks: Vec<FollowUpRow>,
    /// Rules that fired without a task (no consent, erased customer, ...),
    /// by reason.
    pub not_planned: BTreeMap<String, u64>,
}

/// What was read from the store.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Survey responses in the period.
    pub responses: u64,
    /// Purchases up to the period end.
    pub purchases: u64,
    /// Cases created in the period.
    pub cases: u64,
    /// Interactions in the follow-up window.
    pub interactions: u64,
}

/// The customer-relations report: plain data, one section per topic.
///
/// Serialises with serde (for a JSON export); [`Report::to_text`] and
/// [`Report::to_html`] render it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// The period reported on.
    pub period: Period,
    /// Its time zone.
    pub tz: Tz,
    /// The reporting currency.
    pub currency: Currency,
    /// The confidence level of intervals, e.g. 0.95.
    pub confidence: f64,
    /// Days a sale keeps its customer active, for retention.
    pub activity_window_days: i64,
    /// What was read.
    pub counts: Counts,
    /// Purchases left out: in a currency without an exchange rate, by
    /// currency code.
    pub skipped_purchases: BTreeMap<String, u64>,
    /// NPS per month.
    pub nps: Section<ScoreTrend>,
    /// CSAT per month.
    pub csat: Section<ScoreTrend>,
    /// CES per month.
    pub ces: Section<ScoreTrend>,
    /// Retention, churn, GRR and NRR per quarter.
    pub retention: Section<Vec<QuarterRetention>>,
    /// Monthly purchase cohorts.
    pub cohorts: Section<CohortTable>,
    /// RFM segment sizes.
    pub rfm: Section<RfmSection>,
    /// Predicted CLV and probability alive.
    pub clv: Section<ClvSection>,
    /// Service per team.
    pub service: Section<Vec<TeamService>>,
    /// The follow-up queue.
    pub follow_up: Section<FollowUpSection>,
}

impl Report {
    /// The sections' names and whether each was skipped (with the reason),
    /// in report order.
    pub fn skipped(&self) -> Vec<(&'static str, &str)> {
        [
            ("NPS", self.nps.skipped()),
            ("CSAT", self.csat.skipped()),
            ("CES", self.ces.skipped()),
            ("Retention", self.retention.skipped()),
            ("Cohorts", self.cohorts.skipped()),
            ("RFM", self.rfm.skipped()),
            ("CLV", self.clv.skipped()),
            ("Service", self.service.skipped()),
            ("Follow-up", self.follow_up.skipped()),
        ]
        .into_iter()
        .filter_map(|(name, r)| r.map(|r| (name, r)))
        .collect()
    }
}
