//! [`Report::compute`]: reading the store and filling the sections.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use chrono::{DateTime, Duration, Utc};
use rust_decimal::Decimal;

use super::{
    ClvSection, Counts, CustomerValueRow, FollowUpRow, FollowUpSection, Progress, QuarterRetention,
    Report, ReportSettings, RfmSection, ScorePoint, ScoreTrend, Section, TeamService,
};
use crate::analytics::AnalyticsError;
use crate::analytics::relationship::{
    RelationshipSource, RevenueWindow, SeriesSpec, relationship_series,
};
use crate::analytics::service::{ServiceSettings, service_metrics};
use crate::domain::{
    CalendarBucket, Case, Customer, CustomerId, Granularity, Interaction, Period, Purchase, Scale,
    SurveyId, SurveyKind, SurveyResponse,
};
use crate::metrics::activity::{RelationshipError, Transaction};
use crate::metrics::btyd::bgnbd::BgNbdData;
use crate::metrics::btyd::clv::{ClvOptions, lifetime_values};
use crate::metrics::btyd::gamma_gamma::GammaGammaData;
use crate::metrics::btyd::summary::{SummaryOptions, summarize};
use crate::metrics::btyd::{BtydError, FitOptions};
use crate::metrics::ces::Ces;
use crate::metrics::cohort::{CohortSpec, PurchaseCohortAccumulator};
use crate::metrics::csat::{Csat, ShareResult};
use crate::metrics::group::{BucketIndex, trend};
use crate::metrics::interval::{Confidence, Interval};
use crate::metrics::nps::{Nps, NpsResult};
use crate::metrics::response::ResponseAccumulator;
use crate::metrics::retention::RetentionOptions;
use crate::metrics::revenue::ExchangeRates;
use crate::metrics::rfm::{RfmAccumulator, SegmentTable};
use crate::metrics::score::ScoreRange;
use crate::metrics::service::FcrRule;
use crate::outreach::{Delivery, Event, NotPlannedReason, PersonReason, PlanInput, Planner};
use crate::store::{
    CaseStore, CustomerStore, InteractionStore, PageRequest, PurchaseStore, Query, StoreError,
    SurveyStore,
};

const STEPS: usize = 6;

/// Reports progress to the caller's callback.
struct Steps<F: FnMut(Progress)> {
    f: F,
    index: usize,
    step: &'static str,
}

impl<F: FnMut(Progress)> Steps<F> {
    fn start(&mut self, step: &'static str) {
        self.index += 1;
        self.step = step;
        self.records(0);
    }
    fn records(&mut self, records: u64) {
        (self.f)(Progress {
            step: self.step,
            index: self.index,
            steps: STEPS,
            records,
        });
    }
}

/// One accumulator per month, for one survey metric.
struct Monthly<A> {
    template: A,
    months: BTreeMap<CalendarBucket, A>,
    left_out: u64,
}

impl<A: ResponseAccumulator + Clone + EmptyState> Monthly<A> {
    fn new(template: A) -> Self {
        Self {
            template,
            months: BTreeMap::new(),
            left_out: 0,
        }
    }
    fn push(&mut self, month: CalendarBucket, r: &SurveyResponse) {
        let acc = self
            .months
            .entry(month)
            .or_insert_with(|| self.template.clone());
        if acc.push_response(r).is_err() {
            self.left_out += 1;
        }
    }
    fn pushed(&self) -> bool {
        self.months.values().any(|a| !a.is_empty_state())
    }
}

/// Whether an accumulator has seen a valid observation.
trait EmptyState {
    fn is_empty_state(&self) -> bool;
}
impl EmptyState for Nps {
    fn is_empty_state(&self) -> bool {
        self.histogram().n() == 0
    }
}
impl EmptyState for Csat {
    fn is_empty_state(&self) -> bool {
        self.histogram().n() == 0
    }
}
impl EmptyState for Ces {
    fn is_empty_state(&self) -> bool {
        self.histogram().n() == 0
    }
}

/// The survey kind of a response: its survey's, or, for a survey the store
/// does not know (a CSV import), the usual kind of its scale.
fn kind_of(r: &SurveyResponse, surveys: &HashMap<SurveyId, SurveyKind>) -> SurveyKind {
    if let Some(k) = surveys.get(&r.survey()) {
        return *k;
    }
    let scale = r.scale();
    if scale == Scale::nps() {
        SurveyKind::Nps
    } else if scale == Scale::ces() {
        SurveyKind::Ces
    } else {
        SurveyKind::Csat
    }
}

/// A metric result's figures for a [`ScorePoint`].
trait PointOf {
    fn point(
        &self,
        level: Confidence,
    ) -> (
        u64,
        Option<Decimal>,
        Option<Interval>,
        Option<Decimal>,
        bool,
    );
}
impl PointOf for NpsResult {
    fn point(
        &self,
        level: Confidence,
    ) -> (
        u64,
        Option<Decimal>,
        Option<Interval>,
        Option<Decimal>,
        bool,
    ) {
        (
            self.n(),
            self.score(),
            self.adjusted_wald(level),
            self.mean().map(|m| m.mean),
            self.small_sample(),
        )
    }
}
impl PointOf for ShareResult {
    fn point(
        &self,
        level: Confidence,
    ) -> (
        u64,
        Option<Decimal>,
        Option<Interval>,
        Option<Decimal>,
        bool,
    ) {
        (
            self.n(),
            self.percent(),
            self.wilson(level),
            self.mean().map(|m| m.mean),
            self.small_sample(),
        )
    }
}

fn score_trend<A>(
    kind: SurveyKind,
    unit: String,
    monthly: &Monthly<A>,
    buckets: &[CalendarBucket],
    level: Confidence,
    none_reason: &str,
) -> Section<ScoreTrend>
where
    A: ResponseAccumulator + Clone + EmptyState,
    A::Output: PointOf + crate::metrics::score::Estimate + Clone,
{
    if !monthly.pushed() {
        return Section::skip(none_reason);
    }
    let results: BTreeMap<CalendarBucket, A::Output> = monthly
        .months
        .iter()
        .filter(|(_, a)| !a.is_empty_state())
        .map(|(k, a)| (*k, a.finish()))
        .collect();
    let months = trend(buckets.iter().copied(), &results, level)
        .into_iter()
        .map(|p| {
            let (n, score, interval, mean, small_sample) = match &p.result {
                Some(r) => r.point(level),
                None => (0, None, None, None, false),
            };
            ScorePoint {
                month: p.bucket,
                n,
                score,
                lower: interval.map(|i| i.lower),
                upper: interval.map(|i| i.upper),
                mean,
                small_sample,
                change: p.change.map(|c| c.difference),
                significant: p.change.is_some_and(|c| c.significant),
            }
        })
        .collect();
    Section::Computed(ScoreTrend {
        kind,
        unit,
        months,
        left_out: monthly.left_out,
    })
}

/// Pages through one listing, calling `f` on each record.
macro_rules! each_page {
    ($store:expr, $list:ident, $query:expr, $size:expr, |$item:ident| $body:block) => {{
        let mut request = PageRequest::first($size)?;
        loop {
            let page = $store.$list($query.clone(), request.clone()).await?;
            for v in page.items.iter() {
                let $item = v.value();
                $body
            }
            match request.next(&page) {
                Some(next) => request = next,
                None => break,
            }
        }
    }};
}

/// Records timed strictly before `end`.
fn before(end: DateTime<Utc>) -> Query {
    Period::new(DateTime::<Utc>::MIN_UTC, end).map_or(Query::All, Query::Period)
}

fn skip_reason(what: &str, e: &dyn std::fmt::Display) -> String {
    format!("{what}: {e}")
}

impl Report {
    /// Computes the report from `store` (see the [module docs](super) for
    /// what each section reads).
    ///
    /// # Errors
    /// [`crate::Error::Store`] when the store fails (or the page size is
    /// invalid). A topic the data cannot support is a
    /// [`Section::Skipped`], not an error.
    ///
    /// # Example
    /// ```
    /// use chrono::{TimeZone, Utc};
    /// use crmkit::domain::*;
    /// use crmkit::report::{Report, ReportSettings};
    /// use crmkit::store::{blocking::block_on, memory::MemoryStore, PurchaseStore, SurveyStore};
    /// use rust_decimal::Decimal;
    ///
    /// let store = MemoryStore::new();
    /// let at = |m, d| Utc.with_ymd_and_hms(2026, m, d, 12, 0, 0).single().ok_or("no such instant");
    /// // Three NPS answers in January: 10, 9 and 3 -> (2 - 1) / 3 = 33.33 points.
    /// for (i, score) in [10, 9, 3].into_iter().enumerate() {
    ///     let r = SurveyResponse::on_scale(ResponseId::from_u128(i as u128), SurveyId::from_u128(1),
    ///         Scale::nps(), CustomerId::from_u128(i as u128), at(1, 10)?, score)?;
    ///     let _stored = block_on(store.record_response(r))?;
    /// }
    /// let sale = Purchase::new(PurchaseId::from_u128(1), CustomerId::from_u128(1), at(1, 5)?,
    ///     PurchaseKind::Sale, Money::new(Decimal::from(40), Currency::EUR))?;
    /// let _stored = block_on(store.record_purchase(sale))?;
    ///
    /// let q1 = Period::new(at(1, 1)?, at(4, 1)?)?;
    /// let settings = ReportSettings::new(q1, chrono_tz::UTC, Currency::EUR);
    /// let report = block_on(Report::compute(&store, &settings))?;
    /// let nps = report.nps.computed().ok_or("NPS skipped")?;
    /// assert_eq!(nps.months[0].score, Some(Decimal::new(3333, 2)));
    /// // No cases were recorded: the service section says so.
    /// assert!(report.service.skipped().is_some());
    /// assert!(report.to_text().contains("NPS"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub async fn compute<S>(store: &S, settings: &ReportSettings) -> crate::Result<Report>
    where
        S: CustomerStore + SurveyStore + PurchaseStore + CaseStore + InteractionStore,
    {
        Self::compute_with_progress(store, settings, |_| {}).await
    }

    /// [`Report::compute`], calling `progress` at the start of each step
    /// and after each page read.
    ///
    /// # Errors
    /// As [`Report::compute`].
    pub async fn compute_with_progress<S, F>(
        store: &S,
        settings: &ReportSettings,
        progress: F,
    ) -> crate::Result<Report>
    where
        S: CustomerStore + SurveyStore + PurchaseStore + CaseStore + InteractionStore,
        F: FnMut(Progress) + Send,
    {
        let mut steps = Steps {
            f: progress,
            index: 0,
            step: "",
        };
        let period = settings.period;
        let end = period.end();
        let tz = settings.tz;
        let level = settings.confidence;
        let size = settings.page_size;
        let mut counts = Counts::default();
        let follow_start = Duration::try_days(settings.follow_up_days.max(1))
            .and_then(|d| end.checked_sub_signed(d))
            .map_or(period.start(), |t| t.max(period.start()));
        let window = Period::new(follow_start, end).unwrap_or(period);

        // 1. Survey responses.
        steps.start("survey responses");
        let mut surveys: HashMap<SurveyId, SurveyKind> = HashMap::new();
        each_page!(store, surveys, Query::All, size, |s| {
            let _previous = surveys.insert(s.id(), s.kind());
        });
        let months = BucketIndex::new(period, Granularity::Month, tz);
        let mut nps = Monthly::new(Nps::standard());
        let mut csat: Option<Monthly<Csat>> = None;
        let mut ces = Monthly::new(Ces::standard());
        let mut recent: Vec<SurveyResponse> = Vec::new();
        let mut unusable = 0u64;
        each_page!(store, responses, Query::Period(period), size, |r| {
            counts.responses += 1;
            let Some(month) = months.bucket_of(r.responded_at()) else {
                continue;
            };
            match kind_of(r, &surveys) {
                SurveyKind::Nps => nps.push(month, r),
                SurveyKind::Ces => ces.push(month, r),
                SurveyKind::Csat => {
                    if csat.is_none() {
                        csat = ScoreRange::try_from(r.scale())
                            .and_then(Csat::for_scale)
                            .ok()
                            .map(Monthly::new);
                    }
                    match csat.as_mut() {
                        Some(m) => m.push(month, r),
                        None => unusable += 1,
                    }
                }
                SurveyKind::Custom => {}
            }
            if window.contains(r.responded_at()) {
                recent.push(r.clone());
            }
            if counts.responses.is_multiple_of(size as u64) {
                steps.records(counts.responses);
            }
        });
        let none = if counts.responses == 0 {
            "no survey responses in the period".to_owned()
        } else {
            String::new()
        };
        let reason = |what: &str| {
            if none.is_empty() {
                format!("no {what} responses in the period")
            } else {
                none.clone()
            }
        };
        let buckets = months.buckets();
        let nps_section = score_trend(
            SurveyKind::Nps,
            "NPS points (-100 to 100)".into(),
            &nps,
            buckets,
            level,
            &reason("NPS (0-10)"),
        );
        let csat_section = match &csat {
            Some(m) => {
                let range = m.template.histogram().range();
                score_trend(
                    SurveyKind::Csat,
                    format!(
                        "% satisfied ({}-{} of {}-{})",
                        m.template.threshold(),
                        range.max(),
                        range.min(),
                        range.max()
                    ),
                    m,
                    buckets,
                    level,
                    &reason("CSAT"),
                )
            }
            None if unusable > 0 => Section::skip(format!(
                "{unusable} CSAT responses on a scale without a satisfaction threshold"
            )),
            None => Section::skip(reason("CSAT")),
        };
        let ces_section = score_trend(
            SurveyKind::Ces,
            "% easy (5-7 of 1-7)".into(),
            &ces,
            buckets,
            level,
            &reason("CES (1-7)"),
        );

        // 2. Purchases, in the report currency.
        steps.start("purchases");
        let mut txs: Vec<Transaction> = Vec::new();
        let mut skipped_purchases: BTreeMap<String, u64> = BTreeMap::new();
        each_page!(store, purchases, before(end), size, |p| {
            counts.purchases += 1;
            match convert(p, settings) {
                Ok(t) => txs.push(t),
                Err(_) => {
                    *skipped_purchases
                        .entry(p.amount().currency().to_string())
                        .or_default() += 1;
                }
            }
            if counts.purchases.is_multiple_of(size as u64) {
                steps.records(counts.purchases);
            }
        });

        // 3. Retention, revenue, cohorts, RFM.
        steps.start("retention, cohorts and RFM");
        let retention = if txs.iter().any(|t| t.is_sale()) {
            quarters(store, &txs, settings).await?
        } else {
            Section::skip("no sales up to the period end")
        };
        let cohorts = cohorts(&txs, settings);
        let rfm = rfm(&txs, settings);

        // 4. CLV.
        steps.start("customer value models");
        let clv = clv(&txs, settings);
        drop(txs);

        // 5. Cases.
        steps.start("cases");
        let mut service_rows = Vec::new();
        let fcr = FcrRule::default();
        let known: HashSet<_> = settings.teams.iter().map(|t| t.id).collect();
        for team in &settings.teams {
            let s = ServiceSettings {
                calendar: &team.calendar,
                fcr,
                sla: &settings.sla,
                as_of: end,
            };
            let id = team.id;
            let groups = service_metrics(
                store,
                period,
                s,
                |c: &Case| (c.team() == Some(id)).then_some(()),
                size,
            )
            .await?;
            if let Some(summary) = groups.finish().get(&()) {
                service_rows.push(team_row(Some(id), team.name.clone(), summary));
            }
        }
        let s = ServiceSettings {
            calendar: &settings.calendar,
            fcr,
            sla: &settings.sla,
            as_of: end,
        };
        let groups = service_metrics(
            store,
            period,
            s,
            |c: &Case| (!c.team().is_some_and(|t| known.contains(&t))).then_some(()),
            size,
        )
        .await?;
        if let Some(summary) = groups.finish().get(&()) {
            service_rows.push(team_row(None, "unassigned".into(), summary));
        }
        counts.cases = service_rows.iter().map(|r| r.cases).sum();
        let service = if service_rows.is_empty() {
            Section::skip("no cases created in the period")
        } else {
            Section::Computed(service_rows)
        };

        // 6. Follow-up queue.
        steps.start("follow-up queue");
        let mut cases: Vec<Case> = Vec::new();
        each_page!(store, cases, Query::Period(window), size, |c| {
            cases.push(c.clone());
        });
        let mut interactions: Vec<Interaction> = Vec::new();
        each_page!(store, interactions, Query::Period(window), size, |i| {
            interactions.push(i.clone());
        });
        counts.interactions = interactions.len() as u64;
        let follow_up = follow_up(store, settings, window, &recent, &interactions, &cases).await?;

        Ok(Report {
            period,
            tz,
            currency: settings.currency,
            confidence: level.level(),
            activity_window_days: settings.activity_window.num_days(),
            counts,
            skipped_purchases,
            nps: nps_section,
            csat: csat_section,
            ces: ces_section,
            retention,
            cohorts,
            rfm,
            clv,
            service,
            follow_up,
        })
    }
}

/// A purchase as a transaction in the report currency.
fn convert(p: &Purchase, settings: &ReportSettings) -> Result<Transaction, RelationshipError> {
    let amount = settings
        .rates
        .convert(p.amount(), settings.currency, p.occurred_at())?;
    if p.is_refund() {
        Transaction::refund(p.customer(), p.occurred_at(), amount, None)
    } else {
        Transaction::sale(p.customer(), p.occurred_at(), amount, None)
    }
}

/// Retention, churn, GRR and NRR per quarter from
/// [`relationship_series`] (one more pass over the purchases), with each
/// quarter's net revenue from the converted transactions.
async fn quarters<S: PurchaseStore>(
    store: &S,
    txs: &[Transaction],
    settings: &ReportSettings,
) -> crate::Result<Section<Vec<QuarterRetention>>> {
    let spec = SeriesSpec {
        source: RelationshipSource::Purchases {
            activity_window: settings.activity_window,
            revenue_window: RevenueWindow::PeriodLength,
        },
        window: settings.period,
        granularity: Granularity::Quarter,
        tz: settings.tz,
        currency: settings.currency,
        options: RetentionOptions::default(),
    };
    let rows = match relationship_series(store, &spec, &settings.rates, settings.page_size).await {
        Ok(rows) => rows,
        Err(AnalyticsError::Store(e)) => return Err(e.into()),
        Err(e) => return Ok(Section::skip(skip_reason("retention", &e))),
    };
    if rows.is_empty() {
        return Ok(Section::skip("the period holds no quarter"));
    }
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let revenue = txs
            .iter()
            .filter(|t| row.period.contains(t.at()))
            .fold(Decimal::ZERO, |sum, t| {
                sum.checked_add(t.signed_amount().amount()).unwrap_or(sum)
            });
        let c = row.retention.as_ref().map(|r| r.counts);
        out.push(QuarterRetention {
            quarter: row.bucket,
            partial: row.partial,
            active_start: c.map_or(0, |c| c.start),
            active_end: c.map_or(0, |c| c.end),
            acquired: c.map_or(0, |c| c.new),
            retained: c.map_or(0, |c| c.retained),
            churned: c.map_or(0, |c| c.churned),
            retention: row.retention.as_ref().map(|r| r.exact),
            churn: row.retention.as_ref().map(|r| r.churn),
            revenue,
            grr: row.revenue.as_ref().map(|r| r.grr),
            nrr: row.revenue.as_ref().map(|r| r.nrr),
        });
    }
    Ok(Section::Computed(out))
}

fn cohorts(
    txs: &[Transaction],
    settings: &ReportSettings,
) -> Section<crate::metrics::cohort::CohortTable> {
    let spec = match CohortSpec::new(settings.period, Granularity::Month, settings.tz) {
        Ok(s) => s,
        Err(e) => return Section::skip(skip_reason("cohorts", &e)),
    };
    let mut acc = PurchaseCohortAccumulator::new(spec, settings.currency);
    for t in txs.iter().filter(|t| t.at() < settings.period.end()) {
        if let Err(e) = acc.push(t) {
            return Section::skip(skip_reason("cohorts", &e));
        }
    }
    match acc.finish() {
        Ok(t) if t.cohorts.iter().any(|c| c.size > 0) => Section::Computed(t),
        Ok(_) => Section::skip("no customer made a first purchase in the period"),
        Err(e) => Section::skip(skip_reason("cohorts", &e)),
    }
}

fn rfm(txs: &[Transaction], settings: &ReportSettings) -> Section<RfmSection> {
    let end = settings.period.end();
    let mut acc = RfmAccumulator::new(settings.currency, end);
    for t in txs.iter().filter(|t| t.at() < end) {
        if let Err(e) = acc.push(t) {
            return Section::skip(skip_reason("RFM", &e));
        }
    }
    let table = SegmentTable::standard();
    let scores = match acc.finish(&table) {
        Ok(s) => s,
        Err(e) => return Section::skip(skip_reason("RFM", &e)),
    };
    if scores.customers.is_empty() {
        return Section::skip("no sales before the period end");
    }
    let mut segments: Vec<(String, u64)> = scores
        .segment_sizes()
        .into_iter()
        .map(|(s, n)| (s.to_owned(), n))
        .collect();
    segments.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let mut grid = [[0u64; 5]; 5];
    for c in &scores.customers {
        let row = 5usize.checked_sub(usize::from(c.r));
        let col = usize::from(c.f).checked_sub(1);
        if let Some(cell) = row
            .zip(col)
            .and_then(|(r, f)| grid.get_mut(r).and_then(|g| g.get_mut(f)))
        {
            *cell += 1;
        }
    }
    let grid_segments: [[String; 5]; 5] = std::array::from_fn(|row| {
        std::array::from_fn(|col| {
            // Row 0 is recency 5; column 0 is frequency 1.
            let r = 5 - row as u8;
            let f = col as u8 + 1;
            table.segment(r, f, 3).to_owned()
        })
    });
    Section::Computed(RfmSection {
        customers: scores.customers.len() as u64,
        segments,
        grid,
        grid_segments,
    })
}

/// The smallest sample the purchase models are fitted on: with fewer
/// customers, or fewer who bought again, the maximum-likelihood fit drifts
/// to degenerate parameters.
const MIN_CUSTOMERS: u64 = 30;
const MIN_REPEAT_CUSTOMERS: u64 = 10;

fn clv(txs: &[Transaction], settings: &ReportSettings) -> Section<ClvSection> {
    match clv_fit(txs, settings) {
        Ok(s) if s.customers < MIN_CUSTOMERS || s.repeat_customers < MIN_REPEAT_CUSTOMERS => {
            Section::skip(format!(
                "{} customers, {} of whom bought again: too few to fit the purchase models \
                 (at least {MIN_CUSTOMERS} and {MIN_REPEAT_CUSTOMERS} are needed)",
                s.customers, s.repeat_customers
            ))
        }
        Ok(s) => Section::Computed(s),
        Err(BtydError::Empty { what }) => Section::skip(format!(
            "no {what} to fit the purchase models on (they need customers who bought again)"
        )),
        Err(e) => Section::skip(skip_reason("the purchase models could not be fitted", &e)),
    }
}

fn clv_fit(txs: &[Transaction], settings: &ReportSettings) -> Result<ClvSection, BtydError> {
    let end = settings.period.end();
    let sales = txs
        .iter()
        .filter(|t| t.is_sale() && t.at() < end)
        .map(|t| (t.customer(), t.at(), t.signed_amount().amount()));
    let summary = summarize(sales, &SummaryOptions::daily(end))?;
    let bg = BgNbdData::from_summary(&summary)?.fit(&FitOptions::default())?;
    let gg = GammaGammaData::from_summary(&summary)?.fit(&FitOptions::default())?;
    let converged = bg.report.converged && gg.report.converged;
    let options = ClvOptions::daily(settings.clv_months, settings.monthly_discount_rate)?;
    let values = lifetime_values(&summary, &bg.params, &gg.params, &options)?;
    let mut historical: HashMap<CustomerId, Decimal> = HashMap::new();
    for t in txs.iter().filter(|t| t.at() < end) {
        let h = historical.entry(t.customer()).or_default();
        *h = h.checked_add(t.signed_amount().amount()).unwrap_or(*h);
    }
    let customers = summary.customers();
    let mut order: Vec<usize> = (0..customers.len()).collect();
    let value = |i: &usize| values.get(*i).copied().unwrap_or(0.0);
    order.sort_by(|a, b| value(b).total_cmp(&value(a)).then(a.cmp(b)));
    let horizon = f64::from(settings.clv_months) * options.periods_per_month();
    let mut top = Vec::new();
    for i in order.into_iter().take(settings.top_customers) {
        let Some(c) = customers.get(i) else { continue };
        let (x, t_x, age) = (
            f64::from(c.frequency),
            f64::from(c.recency),
            f64::from(c.age),
        );
        top.push(CustomerValueRow {
            customer: c.customer,
            frequency: c.frequency,
            recency: c.recency,
            age: c.age,
            monetary: c.monetary_value,
            p_alive: bg.params.probability_alive(x, t_x, age)?,
            expected_purchases: bg
                .params
                .conditional_expected_purchases(horizon, x, t_x, age)?,
            clv: value(&i),
            historical: historical.get(&c.customer).copied().unwrap_or_default(),
        });
    }
    let mut p_sum = 0.0;
    for c in customers {
        p_sum += bg.params.probability_alive(
            f64::from(c.frequency),
            f64::from(c.recency),
            f64::from(c.age),
        )?;
    }
    let n = customers.len();
    Ok(ClvSection {
        customers: n as u64,
        repeat_customers: customers.iter().filter(|c| c.frequency > 0).count() as u64,
        bgnbd: [
            bg.params.r(),
            bg.params.alpha(),
            bg.params.a(),
            bg.params.b(),
        ],
        gamma_gamma: [gg.params.p(), gg.params.q(), gg.params.v()],
        months: settings.clv_months,
        total: values.iter().sum(),
        mean_p_alive: if n == 0 { 0.0 } else { p_sum / n as f64 },
        converged,
        top,
    })
}

fn secs(d: Option<Duration>) -> Option<i64> {
    d.map(|d| d.num_seconds())
}

fn team_row(
    team: Option<crate::domain::TeamId>,
    name: String,
    s: &crate::metrics::service::ServiceSummary,
) -> TeamService {
    TeamService {
        team,
        name,
        cases: s.cases,
        resolved: s.resolved,
        first_reply_median: secs(s.first_reply.business.median),
        resolution_median: secs(s.full_resolution.business.median),
        first_reply_median_calendar: secs(s.first_reply.calendar.median),
        resolution_median_calendar: secs(s.full_resolution.calendar.median),
        sla_first_reply: s.sla_first_reply,
        sla_resolution: s.sla_resolution,
    }
}

async fn follow_up<S: CustomerStore>(
    store: &S,
    settings: &ReportSettings,
    window: Period,
    responses: &[SurveyResponse],
    interactions: &[Interaction],
    cases: &[Case],
) -> Result<Section<FollowUpSection>, StoreError> {
    let ids: BTreeSet<CustomerId> = responses
        .iter()
        .map(|r| r.customer())
        .chain(interactions.iter().map(|i| i.customer()))
        .chain(cases.iter().map(|c| c.customer()))
        .collect();
    if ids.is_empty() {
        return Ok(Section::skip(format!(
            "no responses, interactions or cases in the last {} days",
            settings.follow_up_days
        )));
    }
    let mut customers: Vec<Customer> = Vec::new();
    for id in ids {
        match store.get_customer(id).await {
            Ok(c) => customers.push(c.into_inner()),
            Err(StoreError::NotFound { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    let events: Vec<Event<'_>> = responses
        .iter()
        .map(Event::Response)
        .chain(interactions.iter().map(Event::Interaction))
        .chain(cases.iter().map(Event::Case))
        .collect();
    let planner = Planner::new(settings.rules.clone(), settings.calendar.clone());
    let plan = match planner.plan(&PlanInput::new(window.end(), &customers, &events)) {
        Ok(p) => p,
        Err(e) => return Ok(Section::skip(skip_reason("follow-up planning", &e))),
    };
    let mut tasks: Vec<FollowUpRow> = plan
        .tasks
        .iter()
        .map(|t| FollowUpRow {
            due: t.due(),
            customer: t.customer(),
            rule: t.rule().as_str().to_owned(),
            delivery: match t.delivery() {
                Delivery::Message { channel } => channel.to_string(),
                Delivery::Person { channel, reason } => {
                    let why = match reason {
                        PersonReason::HumanRequested => "person",
                        PersonReason::NoConsentedChannel => "person, no consented channel",
                        PersonReason::Escalation => "escalation",
                    };
                    match channel {
                        Some(c) => format!("{why} ({c})"),
                        None => why.to_owned(),
                    }
                }
            },
            priority: t.priority(),
        })
        .collect();
    tasks.sort_by(|a, b| a.due.cmp(&b.due).then_with(|| a.customer.cmp(&b.customer)));
    let mut not_planned: BTreeMap<String, u64> = BTreeMap::new();
    for n in &plan.not_planned {
        let reason = match n.reason {
            NotPlannedReason::UnknownCustomer => "unknown customer",
            NotPlannedReason::CustomerErased => "customer erased",
            NotPlannedReason::NoConsent => "no consent",
            NotPlannedReason::FrequencyCapExhausted => "frequency cap reached",
        };
        *not_planned.entry(reason.to_owned()).or_default() += 1;
    }
    Ok(Section::Computed(FollowUpSection {
        window,
        events: events.len() as u64,
        tasks,
        not_planned,
    }))
}
