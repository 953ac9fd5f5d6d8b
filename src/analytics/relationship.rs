//! Relationship and value metrics over a store: retention, revenue
//! retention (GRR, NRR, revenue churn, quick ratio), RFM, historical CLV and
//! cohort tables, computed by paging through a [`PurchaseStore`].
//!
//! Per-bucket series ("retention, churn, GRR and NRR per quarter"), from
//! subscriptions or purchases alike, come from [`relationship_series`].
//! Amounts in several currencies are converted into one reporting currency
//! through an [`ExchangeRates`] port; a missing rate is an error, never a
//! silent mix.
//!
//! Each function reads the purchases (or subscriptions) it needs with a
//! cursor, `page_size` records at a time, converts them with the metrics'
//! adapters ([`Transaction::try_from`] for a [`Purchase`],
//! [`SubscriptionTerm::from`] for a [`Subscription`]) and feeds the
//! accumulators of [`crate::metrics`]. The result does not depend on the
//! page size.
//!
//! Memory: RFM, value and purchase cohorts keep one compact state per
//! customer (as their accumulators do) plus one page. Retention needs each
//! customer's whole activity history up to the period end (to tell an
//! acquisition from a reactivation), so it keeps one activity span per
//! sale (purchases) or per subscription up to that instant.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::AnalyticsError;
use crate::domain::{
    CalendarBucket, Currency, CustomerId, Granularity, Money, PaidUpPolicy, Period, Purchase,
    Subscription,
};
use crate::metrics::activity::{Activity, RelationshipError, SubscriptionTerm, Transaction};
use crate::metrics::cohort::{
    CohortSpec, CohortTable, PurchaseCohortAccumulator, SubscriptionCohortAccumulator,
};
use crate::metrics::retention::{Retention, RetentionAccumulator, RetentionOptions};
use crate::metrics::revenue::{ExchangeRates, RevenueAccumulator, RevenueRetention, mrr_under};
use crate::metrics::rfm::{RfmAccumulator, RfmScores, SegmentTable};
use crate::metrics::value::{ValueAccumulator, ValueSummary};
use crate::store::{PageRequest, PurchaseStore, Query};

/// The query for records timed strictly before `end` (the whole history
/// when no period can end there).
fn before(end: DateTime<Utc>) -> Query {
    Period::new(DateTime::<Utc>::MIN_UTC, end).map_or(Query::All, Query::Period)
}

/// The query for records timed at or before `end`.
fn up_to(end: DateTime<Utc>) -> Query {
    end.checked_add_signed(Duration::nanoseconds(1))
        .map_or(Query::All, before)
}

/// Calls `f` on every purchase of `query`, page by page.
async fn each_purchase<S: PurchaseStore>(
    store: &S,
    query: Query,
    page_size: usize,
    mut f: impl FnMut(&Purchase) -> Result<(), AnalyticsError>,
) -> Result<(), AnalyticsError> {
    let mut request = PageRequest::first(page_size)?;
    loop {
        let page = store.purchases(query.clone(), request.clone()).await?;
        for p in page.items.iter().map(|v| v.value()) {
            f(p)?;
        }
        match request.next(&page) {
            Some(next) => request = next,
            None => return Ok(()),
        }
    }
}

/// Calls `f` on every subscription of `query`, page by page.
async fn each_subscription<S: PurchaseStore>(
    store: &S,
    query: Query,
    page_size: usize,
    mut f: impl FnMut(&Subscription) -> Result<(), AnalyticsError>,
) -> Result<(), AnalyticsError> {
    let mut request = PageRequest::first(page_size)?;
    loop {
        let page = store.subscriptions(query.clone(), request.clone()).await?;
        for s in page.items.iter().map(|v| v.value()) {
            f(s)?;
        }
        match request.next(&page) {
            Some(next) => request = next,
            None => return Ok(()),
        }
    }
}

/// Customer retention over `period` from purchases (non-contractual): a
/// sale at `t` makes its customer active on `[t, t + window)`; refunds make
/// nobody active. Reads every purchase up to and including the period end.
///
/// # Errors
/// [`AnalyticsError::Store`] when a page cannot be read (or the page size
/// is invalid); [`AnalyticsError::Relationship`] for a zero or negative
/// `window`, a purchase the metrics reject, or nobody active at the start
/// ([`RelationshipError::NoData`]).
///
/// # Example
/// ```
/// use chrono::{Duration, TimeZone, Utc};
/// use crmkit::analytics::relationship::purchase_retention;
/// use crmkit::analytics::DEFAULT_PAGE_SIZE;
/// use crmkit::domain::*;
/// use crmkit::metrics::retention::RetentionOptions;
/// use crmkit::store::{blocking::block_on, memory::MemoryStore, PurchaseStore};
/// use rust_decimal::Decimal;
///
/// let store = MemoryStore::new();
/// let jan = |d| Utc.with_ymd_and_hms(2026, 1, d, 12, 0, 0).single().ok_or("no such instant");
/// let eur = |v: i64| Money::new(Decimal::from(v), Currency::EUR);
/// // Customer 1 buys on Jan 1 and Jan 20; customer 2 only on Jan 1.
/// for (i, (c, d)) in [(1, 1), (1, 20), (2, 1)].into_iter().enumerate() {
///     let p = Purchase::new(PurchaseId::from_u128(i as u128), CustomerId::from_u128(c),
///         jan(d)?, PurchaseKind::Sale, eur(10))?;
///     let _stored = block_on(store.record_purchase(p))?;
/// }
/// // Active for 14 days after a sale; period Jan 2 .. Jan 25.
/// let period = Period::new(jan(2)?, jan(25)?)?;
/// let r = block_on(purchase_retention(
///     &store, period, Duration::days(14), RetentionOptions::default(), DEFAULT_PAGE_SIZE,
/// ))?;
/// // Both active on Jan 2; only customer 1 (sale on Jan 20) on Jan 25: 1 / 2.
/// assert_eq!(r.exact, Decimal::new(5, 1));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub async fn purchase_retention<S: PurchaseStore>(
    store: &S,
    period: Period,
    window: Duration,
    options: RetentionOptions,
    page_size: usize,
) -> Result<Retention, AnalyticsError> {
    let mut sales: Vec<(CustomerId, DateTime<Utc>)> = Vec::new();
    each_purchase(store, up_to(period.end()), page_size, |p| {
        let t = Transaction::try_from(p)?;
        if t.is_sale() && t.at() <= period.end() {
            sales.push((t.customer(), t.at()));
        }
        Ok(())
    })
    .await?;
    let activity = Activity::from_purchases(sales, window)?;
    let mut acc = RetentionAccumulator::new(period, options);
    acc.push_all(&activity)?;
    Ok(acc.finish()?)
}

/// Customer retention over `period` from subscriptions (contractual): each
/// subscription is active from its start to its cancellation (or, under
/// [`PaidUpPolicy::ActiveUntilPaidThrough`], to the later paid-through
/// date). Reads every subscription started up to and including the period
/// end.
///
/// # Errors
/// [`AnalyticsError::Store`] when a page cannot be read;
/// [`AnalyticsError::Relationship`] for a subscription cancelled at its
/// start, or nobody active at the start of the period.
pub async fn subscription_retention<S: PurchaseStore>(
    store: &S,
    period: Period,
    policy: PaidUpPolicy,
    options: RetentionOptions,
    page_size: usize,
) -> Result<Retention, AnalyticsError> {
    let mut spans = Vec::new();
    each_subscription(store, up_to(period.end()), page_size, |s| {
        let term = SubscriptionTerm::from(s);
        if term.start <= period.end() {
            spans.push((term.customer, term.span(policy)?));
        }
        Ok(())
    })
    .await?;
    let activity = Activity::from_spans(spans);
    let mut acc = RetentionAccumulator::new(period, options);
    acc.push_all(&activity)?;
    Ok(acc.finish()?)
}

/// RFM scores and segments as of `as_of`, from every purchase before it,
/// in `currency` (see [`crate::metrics::rfm`] for the definitions and the
/// tie rule).
///
/// # Errors
/// [`AnalyticsError::Store`] when a page cannot be read;
/// [`AnalyticsError::Relationship`] for a purchase in another currency or
/// an overflow.
pub async fn rfm<S: PurchaseStore>(
    store: &S,
    currency: Currency,
    as_of: DateTime<Utc>,
    table: &SegmentTable,
    page_size: usize,
) -> Result<RfmScores, AnalyticsError> {
    let mut acc = RfmAccumulator::new(currency, as_of);
    each_purchase(store, before(as_of), page_size, |p| {
        Ok(acc.push(&Transaction::try_from(p)?)?)
    })
    .await?;
    Ok(acc.finish(table)?)
}

/// Historical value (per-customer revenue and margin, AOV, purchase
/// frequency) of the purchases made in `period`, in `currency`; a
/// customer's historical CLV is
/// [`CustomerValue::historical_clv`](crate::metrics::value::CustomerValue::historical_clv).
///
/// # Errors
/// [`AnalyticsError::Store`] when a page cannot be read;
/// [`AnalyticsError::Relationship`] for a purchase in another currency or
/// an overflow.
pub async fn historical_value<S: PurchaseStore>(
    store: &S,
    currency: Currency,
    period: Period,
    page_size: usize,
) -> Result<ValueSummary, AnalyticsError> {
    let mut acc = ValueAccumulator::new(currency);
    each_purchase(store, Query::Period(period), page_size, |p| {
        Ok(acc.push(&Transaction::try_from(p)?)?)
    })
    .await?;
    Ok(acc.finish())
}

/// A purchase cohort table (share of each acquisition cohort purchasing,
/// and revenue retained, bucket by bucket) over `spec`'s window, in
/// `currency`. Reads every purchase before the window end, so customers
/// whose first sale came before the window are counted apart
/// ([`CohortTable::acquired_before`]).
///
/// # Errors
/// [`AnalyticsError::Store`] when a page cannot be read;
/// [`AnalyticsError::Relationship`] for a purchase in another currency or
/// an overflow.
pub async fn purchase_cohorts<S: PurchaseStore>(
    store: &S,
    spec: CohortSpec,
    currency: Currency,
    page_size: usize,
) -> Result<CohortTable, AnalyticsError> {
    let end = spec.window().end();
    let mut acc = PurchaseCohortAccumulator::new(spec, currency);
    each_purchase(store, before(end), page_size, |p| {
        Ok(acc.push(&Transaction::try_from(p)?)?)
    })
    .await?;
    Ok(acc.finish()?)
}

/// How a customer's revenue "at" an instant is measured from purchases
/// (non-contractual revenue has no MRR; DESIGN.md calls it "period
/// revenue").
///
/// For a period `[s, e)`, a customer's **start revenue** is their net
/// revenue (sales minus refunds, converted into the reporting currency at
/// each purchase's instant) in a window ending at `s`, floored at zero (a
/// window with more refunds than sales counts as no revenue); their **end
/// revenue** is their net revenue in the window of the same kind ending at
/// `e`. Both windows are half-open, like periods.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RevenueWindow {
    /// Trailing windows of a fixed length `L`: `[s - L, s)` and `[e - L, e)`
    /// (for example 90 days for a "trailing quarter" revenue).
    Trailing(Duration),
    /// Windows as long as the period: the period itself `[s, e)` against
    /// the span of the same length just before it, `[s - (e - s), s)`:
    /// "revenue this quarter against the quarter before", per customer.
    PeriodLength,
}

impl RevenueWindow {
    /// The start and end windows for `period`.
    fn windows(self, period: Period) -> Result<(Period, Period), RelationshipError> {
        let (s, e) = (period.start(), period.end());
        let length = match self {
            RevenueWindow::Trailing(length) => length,
            RevenueWindow::PeriodLength => e - s,
        };
        let empty = || RelationshipError::EmptyInterval {
            what: "revenue window",
            start: "0".into(),
            end: length.to_string(),
        };
        if length <= Duration::zero() {
            return Err(empty());
        }
        let back = |t: DateTime<Utc>| {
            let from = t
                .checked_sub_signed(length)
                .ok_or(RelationshipError::Overflow {
                    operation: "revenue window start",
                })?;
            Period::new(from, t).map_err(|_| empty())
        };
        Ok((back(s)?, back(e)?))
    }
}

/// Where the relationship metrics of a [`relationship_series`] come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RelationshipSource {
    /// Contractual: subscriptions. Activity spans run from a
    /// subscription's start to its end under `policy`; revenue is MRR at
    /// the period start and end (see [`subscription_revenue_retention`]).
    Subscriptions {
        /// Whether a cancelled but paid-up subscription still counts
        /// (activity and MRR alike).
        policy: PaidUpPolicy,
    },
    /// Non-contractual: purchases. A sale at `t` makes its customer active
    /// on `[t, t + activity_window)`; revenue is net purchase revenue in
    /// `revenue_window` (see [`purchase_revenue_retention`]).
    Purchases {
        /// How long a sale keeps its customer active.
        activity_window: Duration,
        /// Which purchases make a customer's start and end revenue.
        revenue_window: RevenueWindow,
    },
}

/// What a [`relationship_series`] computes: the source, the window cut
/// into calendar buckets in a time zone, the reporting currency and the
/// retention policies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeriesSpec {
    /// Subscriptions or purchases.
    pub source: RelationshipSource,
    /// The observation window; each bucket's part of it is one period.
    pub window: Period,
    /// Bucket size (for example [`Granularity::Quarter`]).
    pub granularity: Granularity,
    /// The time zone the buckets are cut in.
    pub tz: Tz,
    /// The reporting currency every amount is converted into.
    pub currency: Currency,
    /// Customer retention policies.
    pub options: RetentionOptions,
}

/// One bucket of a [`relationship_series`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SeriesRow {
    /// The calendar bucket.
    pub bucket: CalendarBucket,
    /// The bucket's part of the window: the period measured.
    pub period: Period,
    /// The bucket is not entirely inside the window (its period is cut).
    pub partial: bool,
    /// Customer retention and churn; `None` when nobody was active at the
    /// period start (no data).
    pub retention: Option<Retention>,
    /// GRR, NRR, revenue churn and quick ratio; `None` when no customer
    /// had revenue at the period start (no data).
    pub revenue: Option<RevenueRetention>,
}

/// `Ok(None)` for a "no data" result, other errors as they are.
fn or_no_data<T>(r: Result<T, RelationshipError>) -> Result<Option<T>, RelationshipError> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(RelationshipError::NoData { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Every subscription started up to and including `end`, by customer,
/// and the activity they give under `policy`.
async fn collect_subscriptions<S: PurchaseStore>(
    store: &S,
    end: DateTime<Utc>,
    policy: PaidUpPolicy,
    page_size: usize,
) -> Result<(Activity, HashMap<CustomerId, Vec<Subscription>>), AnalyticsError> {
    let mut spans = Vec::new();
    let mut by_customer: HashMap<CustomerId, Vec<Subscription>> = HashMap::new();
    each_subscription(store, up_to(end), page_size, |s| {
        let term = SubscriptionTerm::from(s);
        if term.start <= end {
            spans.push((term.customer, term.span(policy)?));
            by_customer.entry(s.customer()).or_default().push(s.clone());
        }
        Ok(())
    })
    .await?;
    Ok((Activity::from_spans(spans), by_customer))
}

/// Revenue retention over `period` from subscriptions already read.
fn subscription_revenue(
    by_customer: &HashMap<CustomerId, Vec<Subscription>>,
    period: Period,
    policy: PaidUpPolicy,
    currency: Currency,
    rates: &impl ExchangeRates,
) -> Result<RevenueAccumulator, RelationshipError> {
    let (s, e) = (period.start(), period.end());
    let of = |operation| RelationshipError::Overflow { operation };
    let mut acc = RevenueAccumulator::new(currency);
    for subs in by_customer.values() {
        let (mut start, mut end, mut returning) = (Decimal::ZERO, Decimal::ZERO, false);
        for sub in subs {
            returning |= sub.started_at() < s;
            if let Some(m) = mrr_under(sub, s, policy) {
                let v = rates.convert(m, currency, s)?.amount();
                start = start.checked_add(v).ok_or(of("start MRR"))?;
            }
            if let Some(m) = mrr_under(sub, e, policy) {
                let v = rates.convert(m, currency, e)?.amount();
                end = end.checked_add(v).ok_or(of("end MRR"))?;
            }
        }
        acc.push(
            Money::new(start, currency),
            Money::new(end, currency),
            returning,
        )?;
    }
    Ok(acc)
}

/// One customer's purchases as revenue retention needs them.
#[derive(Debug, Default)]
struct PurchaseHistory {
    /// The first sale, over the whole history read.
    first_sale: Option<DateTime<Utc>>,
    /// Signed amounts in the reporting currency, of purchases at or after
    /// the earliest revenue window start.
    amounts: Vec<(DateTime<Utc>, Decimal)>,
}

/// Purchases read for retention and revenue retention.
struct PurchaseData {
    /// Activity from sales, when asked for.
    activity: Option<Activity>,
    customers: HashMap<CustomerId, PurchaseHistory>,
}

/// Every purchase up to and including `end`: with an `activity_window`,
/// sales become activity spans of that length; purchases at or after
/// `amounts_from` are kept, converted into `currency` at their instant.
async fn collect_purchases<S: PurchaseStore>(
    store: &S,
    end: DateTime<Utc>,
    activity_window: Option<Duration>,
    amounts_from: DateTime<Utc>,
    currency: Currency,
    rates: &impl ExchangeRates,
    page_size: usize,
) -> Result<PurchaseData, AnalyticsError> {
    let mut sales: Vec<(CustomerId, DateTime<Utc>)> = Vec::new();
    let mut customers: HashMap<CustomerId, PurchaseHistory> = HashMap::new();
    each_purchase(store, up_to(end), page_size, |p| {
        let t = Transaction::try_from(p)?;
        let at = t.at();
        if at > end {
            return Ok(());
        }
        let history = customers.entry(t.customer()).or_default();
        if t.is_sale() {
            if activity_window.is_some() {
                sales.push((t.customer(), at));
            }
            history.first_sale = Some(history.first_sale.map_or(at, |f| f.min(at)));
        }
        if at >= amounts_from && at < end {
            let v = rates.convert(t.signed_amount(), currency, at)?.amount();
            history.amounts.push((at, v));
        }
        Ok(())
    })
    .await?;
    let activity = match activity_window {
        Some(window) => Some(Activity::from_purchases(sales, window)?),
        None => None,
    };
    Ok(PurchaseData {
        activity,
        customers,
    })
}

/// Net revenue of a customer in `window`.
fn net_in(history: &PurchaseHistory, window: Period) -> Result<Decimal, RelationshipError> {
    history
        .amounts
        .iter()
        .filter(|(at, _)| window.contains(*at))
        .try_fold(Decimal::ZERO, |sum, (_, v)| {
            sum.checked_add(*v).ok_or(RelationshipError::Overflow {
                operation: "window revenue",
            })
        })
}

/// Revenue retention over `period` from purchases already read.
fn purchase_revenue(
    data: &PurchaseData,
    period: Period,
    window: RevenueWindow,
    currency: Currency,
) -> Result<RevenueAccumulator, RelationshipError> {
    let (before, after) = window.windows(period)?;
    let mut acc = RevenueAccumulator::new(currency);
    for history in data.customers.values() {
        let start = net_in(history, before)?.max(Decimal::ZERO);
        let end = net_in(history, after)?;
        let returning = history.first_sale.is_some_and(|f| f < period.start());
        acc.push(
            Money::new(start, currency),
            Money::new(end, currency),
            returning,
        )?;
    }
    Ok(acc)
}

/// The earliest revenue window start over `periods`.
fn earliest_window_start(
    window: RevenueWindow,
    periods: &[Period],
) -> Result<DateTime<Utc>, RelationshipError> {
    let mut earliest = DateTime::<Utc>::MAX_UTC;
    for p in periods {
        let (before, _) = window.windows(*p)?;
        earliest = earliest.min(before.start());
    }
    Ok(earliest)
}

/// Revenue retention over `period` from subscriptions: each customer's
/// revenue at an instant is the sum of their subscriptions' MRR in effect
/// then, each converted into `currency` through `rates` at that instant
/// (start MRR at the period start `s`, end MRR at the period end `e`).
///
/// Under [`PaidUpPolicy::ActiveUntilPaidThrough`] a cancelled subscription
/// still paid up keeps its last MRR until its paid-through date; under
/// [`PaidUpPolicy::EndsAtCancellation`] its MRR stops at the cancellation.
/// A customer without MRR at `s` but with some at `e` is *reactivated* when
/// one of their subscriptions started before `s` (a lapsed subscriber, or
/// one on a free plan), *new* otherwise; both are reported apart and are
/// not part of NRR. See [`crate::metrics::revenue`] for GRR, NRR, revenue
/// churn and the quick ratio.
///
/// Converting start and end amounts at their own instants lets exchange
/// rate movements show as expansion or contraction; for constant-currency
/// figures pass a port with one rate per pair (such as
/// [`FixedRates`](crate::metrics::revenue::FixedRates)).
///
/// Memory: every subscription started up to `e`.
///
/// # Errors
/// [`AnalyticsError::Store`] when a page cannot be read;
/// [`AnalyticsError::Relationship`] for a missing exchange rate
/// ([`RelationshipError::MissingRate`]), an overflow, or no MRR at the
/// start ([`RelationshipError::NoData`]).
///
/// # Example
/// ```
/// use chrono::{TimeZone, Utc};
/// use crmkit::analytics::relationship::subscription_revenue_retention;
/// use crmkit::analytics::DEFAULT_PAGE_SIZE;
/// use crmkit::domain::*;
/// use crmkit::metrics::revenue::FixedRates;
/// use crmkit::store::{blocking::block_on, memory::MemoryStore, PurchaseStore};
/// use rust_decimal::Decimal;
///
/// let store = MemoryStore::new();
/// let at = |m| Utc.with_ymd_and_hms(2026, m, 1, 0, 0, 0).single().ok_or("no such instant");
/// let money = |v: i64, c| Money::new(Decimal::from(v), c);
/// // Customer 1 pays 100 EUR, upgraded to 150 EUR in February;
/// // customer 2 pays 100 USD and cancels in March.
/// let mut a = Subscription::new(SubscriptionId::from_u128(1), CustomerId::from_u128(1),
///     Segment::new("pro")?, at(1)?, money(100, Currency::EUR))?;
/// a.change_mrr(at(2)?, money(150, Currency::EUR))?;
/// let mut b = Subscription::new(SubscriptionId::from_u128(2), CustomerId::from_u128(2),
///     Segment::new("pro")?, at(1)?, money(100, Currency::USD))?;
/// b.cancel(at(3)?, None)?;
/// let _a = block_on(store.create_subscription(a))?;
/// let _b = block_on(store.create_subscription(b))?;
/// // 1 USD = 0.5 EUR.
/// let rates = FixedRates::new().with(Currency::USD, Currency::EUR, Decimal::new(5, 1))?;
/// let q1 = Period::new(at(1)?, at(4)?)?;
/// let r = block_on(subscription_revenue_retention(
///     &store, q1, PaidUpPolicy::EndsAtCancellation, Currency::EUR, &rates, DEFAULT_PAGE_SIZE,
/// ))?;
/// // start = 100 + 100 x 0.5 = 150 EUR; expansion 50, churned 50.
/// // GRR = (150 - 50) / 150 = 2/3; NRR = (150 + 50 - 50) / 150 = 1.
/// assert_eq!(r.grr, Decimal::from(2) / Decimal::from(3));
/// assert_eq!(r.nrr, Decimal::ONE);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub async fn subscription_revenue_retention<S: PurchaseStore>(
    store: &S,
    period: Period,
    policy: PaidUpPolicy,
    currency: Currency,
    rates: &impl ExchangeRates,
    page_size: usize,
) -> Result<RevenueRetention, AnalyticsError> {
    let (_, by_customer) = collect_subscriptions(store, period.end(), policy, page_size).await?;
    Ok(subscription_revenue(&by_customer, period, policy, currency, rates)?.finish()?)
}

/// Revenue retention over `period` from purchases: per customer, the net
/// revenue of the [`RevenueWindow`] ending at the period start against the
/// one ending at the period end, each purchase converted into `currency`
/// through `rates` at its own instant.
///
/// A customer without start revenue but with end revenue is *reactivated*
/// when they made a sale before the period start, *new* otherwise. See
/// [`crate::metrics::revenue`] for GRR, NRR, revenue churn and the quick
/// ratio.
///
/// Memory: one entry per purchase from the start revenue window on, and
/// each customer's first sale.
///
/// # Errors
/// [`AnalyticsError::Store`] when a page cannot be read;
/// [`AnalyticsError::Relationship`] for a window of zero length, a
/// purchase the metrics reject, a missing exchange rate, an overflow, or
/// no revenue in the start window ([`RelationshipError::NoData`]).
///
/// # Example
/// ```
/// use chrono::{TimeZone, Utc};
/// use crmkit::analytics::relationship::{purchase_revenue_retention, RevenueWindow};
/// use crmkit::analytics::DEFAULT_PAGE_SIZE;
/// use crmkit::domain::*;
/// use crmkit::metrics::revenue::FixedRates;
/// use crmkit::store::{blocking::block_on, memory::MemoryStore, PurchaseStore};
/// use rust_decimal::Decimal;
///
/// let store = MemoryStore::new();
/// let day = |m, d| Utc.with_ymd_and_hms(2026, m, d, 0, 0, 0).single().ok_or("no such instant");
/// let eur = |v: i64| Money::new(Decimal::from(v), Currency::EUR);
/// // Customer 1: 100 in January, 80 in February; customer 2: 50 in January only.
/// for (i, (c, m, v)) in [(1, 1, 100), (1, 2, 80), (2, 1, 50)].into_iter().enumerate() {
///     let p = Purchase::new(PurchaseId::from_u128(i as u128), CustomerId::from_u128(c),
///         day(m, 10)?, PurchaseKind::Sale, eur(v))?;
///     let _p = block_on(store.record_purchase(p))?;
/// }
/// // February against the 31 days before it (January).
/// let feb = Period::new(day(2, 1)?, day(3, 1)?)?;
/// let window = RevenueWindow::Trailing(chrono::Duration::days(28));
/// let r = block_on(purchase_revenue_retention(
///     &store, feb, window, Currency::EUR, &FixedRates::new(), DEFAULT_PAGE_SIZE,
/// ))?;
/// // Trailing 28 days before Feb 1 (Jan 4 - Feb 1): 100 + 50 = 150;
/// // before Mar 1 (Feb 1 - Mar 1): customer 1 80 (contraction 20), customer 2 churned (50).
/// // GRR = NRR = (150 - 20 - 50) / 150 = 8/15.
/// assert_eq!(r.grr, Decimal::from(8) / Decimal::from(15));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub async fn purchase_revenue_retention<S: PurchaseStore>(
    store: &S,
    period: Period,
    window: RevenueWindow,
    currency: Currency,
    rates: &impl ExchangeRates,
    page_size: usize,
) -> Result<RevenueRetention, AnalyticsError> {
    let from = earliest_window_start(window, &[period])?;
    let data =
        collect_purchases(store, period.end(), None, from, currency, rates, page_size).await?;
    Ok(purchase_revenue(&data, period, window, currency)?.finish()?)
}

/// Customer retention and revenue retention for each calendar bucket of a
/// window ("retention, churn, GRR and NRR per quarter of 2026 in
/// Europe/Berlin"), from subscriptions or purchases, reading the store
/// once.
///
/// Each bucket's part of the window is one period `[s, e)`: its
/// [`Retention`] is computed as by [`subscription_retention`] or
/// [`purchase_retention`], its [`RevenueRetention`] as by
/// [`subscription_revenue_retention`] or [`purchase_revenue_retention`]. A
/// bucket without customers (or revenue) at its start has `None` there, not
/// zeros; a bucket cut by the window is marked `partial`.
///
/// Memory: as the single-period functions, for the whole window.
///
/// # Errors
/// As the single-period functions (except "no data", which is `None`).
///
/// # Example
/// ```
/// use chrono::{TimeZone, Utc};
/// use crmkit::analytics::relationship::{relationship_series, RelationshipSource, SeriesSpec};
/// use crmkit::analytics::DEFAULT_PAGE_SIZE;
/// use crmkit::domain::*;
/// use crmkit::metrics::retention::RetentionOptions;
/// use crmkit::metrics::revenue::FixedRates;
/// use crmkit::store::{blocking::block_on, memory::MemoryStore, PurchaseStore};
/// use rust_decimal::Decimal;
///
/// let store = MemoryStore::new();
/// let at = |y, m| Utc.with_ymd_and_hms(y, m, 1, 0, 0, 0).single().ok_or("no such instant");
/// let eur = |v: i64| Money::new(Decimal::from(v), Currency::EUR);
/// let mut a = Subscription::new(SubscriptionId::from_u128(1), CustomerId::from_u128(1),
///     Segment::new("pro")?, at(2025, 12)?, eur(100))?;
/// a.cancel(at(2026, 5)?, None)?; // lost in Q2
/// let _a = block_on(store.create_subscription(a))?;
/// let spec = SeriesSpec {
///     source: RelationshipSource::Subscriptions { policy: PaidUpPolicy::EndsAtCancellation },
///     window: Period::new(at(2026, 1)?, at(2026, 7)?)?,
///     granularity: Granularity::Quarter,
///     tz: "UTC".parse()?,
///     currency: Currency::EUR,
///     options: RetentionOptions::default(),
/// };
/// let rows = block_on(relationship_series(&store, &spec, &FixedRates::new(), DEFAULT_PAGE_SIZE))?;
/// assert_eq!(rows.len(), 2);
/// // Q1: kept (100 % retention, GRR 1); Q2: lost (0 %, GRR 0).
/// assert_eq!(rows[0].retention.map(|r| r.exact), Some(Decimal::ONE));
/// assert_eq!(rows[0].revenue.map(|r| r.grr), Some(Decimal::ONE));
/// assert_eq!(rows[1].retention.map(|r| r.churn), Some(Decimal::ONE));
/// assert_eq!(rows[1].revenue.map(|r| r.grr), Some(Decimal::ZERO));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub async fn relationship_series<S: PurchaseStore>(
    store: &S,
    spec: &SeriesSpec,
    rates: &impl ExchangeRates,
    page_size: usize,
) -> Result<Vec<SeriesRow>, AnalyticsError> {
    let parts: Vec<(CalendarBucket, Period, bool)> = spec
        .window
        .buckets(spec.granularity, spec.tz)
        .map(|(bucket, part)| {
            let partial = bucket.period(spec.tz) != Some(part);
            (bucket, part, partial)
        })
        .collect();
    let periods: Vec<Period> = parts.iter().map(|(_, p, _)| *p).collect();
    let end = spec.window.end();
    let mut rows = Vec::with_capacity(parts.len());
    let row = |(bucket, period, partial): (CalendarBucket, Period, bool),
               activity: &Activity,
               revenue: Result<RevenueAccumulator, RelationshipError>|
     -> Result<SeriesRow, RelationshipError> {
        let mut acc = RetentionAccumulator::new(period, spec.options);
        acc.push_all(activity)?;
        Ok(SeriesRow {
            bucket,
            period,
            partial,
            retention: or_no_data(acc.finish())?,
            revenue: or_no_data(revenue?.finish())?,
        })
    };
    match spec.source {
        RelationshipSource::Subscriptions { policy } => {
            let (activity, by_customer) =
                collect_subscriptions(store, end, policy, page_size).await?;
            for part in parts {
                let revenue =
                    subscription_revenue(&by_customer, part.1, policy, spec.currency, rates);
                rows.push(row(part, &activity, revenue)?);
            }
        }
        RelationshipSource::Purchases {
            activity_window,
            revenue_window,
        } => {
            let from = earliest_window_start(revenue_window, &periods)?;
            let mut data = collect_purchases(
                store,
                end,
                Some(activity_window),
                from,
                spec.currency,
                rates,
                page_size,
            )
            .await?;
            let activity = data.activity.take().unwrap_or_default();
            for part in parts {
                let revenue = purchase_revenue(&data, part.1, revenue_window, spec.currency);
                rows.push(row(part, &activity, revenue)?);
            }
        }
    }
    Ok(rows)
}

/// A subscription cohort table over `spec`'s window: per acquisition
/// cohort, the share active in each later bucket and the MRR retained at
/// each bucket close, in `currency` (converted through `rates` at each
/// close), under `policy`; see
/// [`SubscriptionCohortAccumulator`].
/// Reads every subscription started up to the window end, so customers
/// acquired before the window are counted apart
/// ([`CohortTable::acquired_before`]).
///
/// Memory: every subscription read, grouped by customer, plus the table.
///
/// # Errors
/// [`AnalyticsError::Store`] when a page cannot be read;
/// [`AnalyticsError::Relationship`] for a subscription that ends at its
/// start under the policy, a missing exchange rate, or an overflow.
///
/// # Example
/// ```
/// use chrono::{TimeZone, Utc};
/// use crmkit::analytics::relationship::subscription_cohorts;
/// use crmkit::analytics::DEFAULT_PAGE_SIZE;
/// use crmkit::domain::*;
/// use crmkit::metrics::cohort::CohortSpec;
/// use crmkit::metrics::revenue::FixedRates;
/// use crmkit::store::{blocking::block_on, memory::MemoryStore, PurchaseStore};
/// use rust_decimal::Decimal;
///
/// let store = MemoryStore::new();
/// let at = |m| Utc.with_ymd_and_hms(2026, m, 1, 0, 0, 0).single().ok_or("no such instant");
/// let eur = |v: i64| Money::new(Decimal::from(v), Currency::EUR);
/// let mut s = Subscription::new(SubscriptionId::from_u128(1), CustomerId::from_u128(1),
///     Segment::new("pro")?, at(1)?, eur(100))?;
/// s.cancel(at(2)?, None)?;
/// let _s = block_on(store.create_subscription(s))?;
/// let spec = CohortSpec::new(Period::new(at(1)?, at(3)?)?, Granularity::Month, chrono_tz::UTC)?;
/// let table = block_on(subscription_cohorts(
///     &store, spec, PaidUpPolicy::EndsAtCancellation, Currency::EUR, &FixedRates::new(), DEFAULT_PAGE_SIZE,
/// ))?;
/// let jan = &table.cohorts[0];
/// assert_eq!(jan.size, 1);
/// // Gone on Feb 1: active in January only, no MRR at January's close.
/// assert_eq!((jan.cells[0].share, jan.cells[1].share), (Decimal::ONE, Decimal::ZERO));
/// assert_eq!(jan.cells[0].revenue_retained, None);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub async fn subscription_cohorts<S: PurchaseStore>(
    store: &S,
    spec: CohortSpec,
    policy: PaidUpPolicy,
    currency: Currency,
    rates: &impl ExchangeRates,
    page_size: usize,
) -> Result<CohortTable, AnalyticsError> {
    let (_, by_customer) =
        collect_subscriptions(store, spec.window().end(), policy, page_size).await?;
    let mut acc = SubscriptionCohortAccumulator::new(spec, currency, policy);
    for subs in by_customer.values() {
        acc.push_subscriptions(subs, rates)?;
    }
    Ok(acc.finish()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{PurchaseId, PurchaseKind, Segment, SubscriptionId};
    use crate::metrics::revenue::{FixedRates, QuickRatio};
    use crate::store::blocking::block_on;
    use crate::store::memory::MemoryStore;
    use chrono::TimeZone;
    use rust_decimal::Decimal;

    fn day(d: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap() + Duration::days(d)
    }

    fn eur(v: i64) -> Money {
        Money::new(Decimal::from(v), Currency::EUR)
    }

    /// Purchases: (customer, day, amount, refund?).
    const PURCHASES: [(u128, i64, i64, bool); 9] = [
        (1, 0, 10, false),
        (1, 25, 20, false),
        (2, 5, 30, false),
        (3, 40, 15, false),
        (3, 45, 5, true),
        (4, -20, 50, false),
        (5, 35, 8, false),
        (5, 70, 12, false),
        (6, 90, 99, false), // after every period below
    ];

    fn store() -> MemoryStore {
        let store = MemoryStore::new();
        for (i, (c, d, amount, refund)) in PURCHASES.into_iter().enumerate() {
            let kind = if refund {
                PurchaseKind::Refund { of: None }
            } else {
                PurchaseKind::Sale
            };
            let p = Purchase::new(
                PurchaseId::from_u128(i as u128),
                CustomerId::from_u128(c),
                day(d),
                kind,
                eur(amount),
            )
            .unwrap();
            let _p = block_on(store.record_purchase(p)).unwrap();
        }
        // Subscriptions: c1 [0, ∞), c2 [0, 20), c3 [10, 50) paid to 70, c4 [40, ∞).
        let subs = [
            (1, 0, None, None),
            (2, 0, Some(20), None),
            (3, 10, Some(50), Some(70)),
            (4, 40, None, None),
        ];
        for (i, (c, start, cancel, paid)) in subs.into_iter().enumerate() {
            let mut s = Subscription::new(
                SubscriptionId::from_u128(i as u128),
                CustomerId::from_u128(c),
                Segment::new("basic").unwrap(),
                day(start),
                eur(10),
            )
            .unwrap();
            if let Some(at) = cancel {
                s.cancel(day(at), paid.map(day)).unwrap();
            }
            let _s = block_on(store.create_subscription(s)).unwrap();
        }
        store
    }

    #[test]
    fn purchase_retention_by_hand_and_page_size_independent() {
        let store = store();
        let period = Period::new(day(10), day(40)).unwrap();
        let run = |size| {
            block_on(purchase_retention(
                &store,
                period,
                Duration::days(30),
                RetentionOptions::default(),
                size,
            ))
            .unwrap()
        };
        let r = run(1);
        assert_eq!(r, run(1_000));
        // 30-day window. Spans: c1 [0,55); c2 [5,35); c3 [40,70) (refund
        // makes no one active); c4 [-20,10); c5 [35,65) and [70,100).
        // At s = day 10: c1, c2 (c4 ends at 10, excluded) -> S = 2.
        // At e = day 40: c1, c3 (starts at 40), c5 -> E = 3.
        // N: c3 (start 40 in (10, 40]) and c5 (start 35): both new, N = 2.
        // retained = c1 = 1; churned = c2 = 1.
        // exact = 1 / 2; classic = (3 - 2) / 2 = 1 / 2.
        assert_eq!(
            (
                r.counts.start,
                r.counts.end,
                r.counts.new,
                r.counts.retained
            ),
            (2, 3, 2, 1)
        );
        assert_eq!(r.exact, Decimal::new(5, 1));
        assert_eq!(r.classic, Decimal::new(5, 1));
    }

    #[test]
    fn subscription_retention_by_hand() {
        let store = store();
        let period = Period::new(day(15), day(60)).unwrap();
        let run = |size, policy| {
            block_on(subscription_retention(
                &store,
                period,
                policy,
                RetentionOptions::default(),
                size,
            ))
            .unwrap()
        };
        let r = run(1, PaidUpPolicy::EndsAtCancellation);
        assert_eq!(r, run(500, PaidUpPolicy::EndsAtCancellation));
        // At 15: c1, c2, c3 (S = 3); at 60: c1, c4 (c3 cancelled at 50).
        // retained = c1 -> exact = 1/3 (rounded Decimal division).
        assert_eq!((r.counts.start, r.counts.retained), (3, 1));
        assert_eq!(r.exact, Decimal::ONE / Decimal::from(3));
        // Paid through day 70: c3 is still active at 60 -> 2/3.
        let paid = run(2, PaidUpPolicy::ActiveUntilPaidThrough);
        assert_eq!(paid.counts.retained, 2);
    }

    #[test]
    fn rfm_value_and_cohorts_do_not_depend_on_page_size() {
        let store = store();
        let table = SegmentTable::standard();
        let as_of = day(60);
        let rfm_of = |size| block_on(rfm(&store, Currency::EUR, as_of, &table, size)).unwrap();
        assert_eq!(rfm_of(1), rfm_of(1_000));
        // Customers with a sale before day 60: c1..c5 (c6 buys on day 90).
        assert_eq!(rfm_of(3).customers.len(), 5);

        let period = Period::new(day(0), day(60)).unwrap();
        let value_of =
            |size| block_on(historical_value(&store, Currency::EUR, period, size)).unwrap();
        let v = value_of(1);
        assert_eq!(v, value_of(1_000));
        // Sales in [0, 60): 10 + 20 + 30 + 15 + 8 = 83; refunds: 5.
        assert_eq!(v.sales, eur(83));
        assert_eq!(v.orders, 5);

        let tz: chrono_tz::Tz = "UTC".parse().unwrap();
        let spec = CohortSpec::new(
            Period::new(day(0), day(90)).unwrap(),
            Granularity::Month,
            tz,
        )
        .unwrap();
        let cohorts_of =
            |size| block_on(purchase_cohorts(&store, spec.clone(), Currency::EUR, size)).unwrap();
        let t = cohorts_of(1);
        assert_eq!(t, cohorts_of(1_000));
        // c4's first sale is on day -20 (December 2025): acquired before.
        assert_eq!(t.acquired_before, 1);
    }

    fn money(v: i64, c: Currency) -> Money {
        Money::new(Decimal::from(v), c)
    }

    /// 1 USD = 0.5 EUR, 1 GBP = 1.2 EUR.
    fn rates() -> FixedRates {
        FixedRates::new()
            .with(Currency::USD, Currency::EUR, Decimal::new(5, 1))
            .unwrap()
            .with(Currency::GBP, Currency::EUR, Decimal::new(12, 1))
            .unwrap()
    }

    /// Subscriptions for revenue retention over [day 15, day 60).
    fn revenue_subscriptions() -> MemoryStore {
        let store = MemoryStore::new();
        let mut id = 0u128;
        let mut add = |c: u128,
                       start: i64,
                       mrr: Money,
                       changes: &[(i64, i64)],
                       cancel: Option<(i64, Option<i64>)>| {
            id += 1;
            let mut s = Subscription::new(
                SubscriptionId::from_u128(id),
                CustomerId::from_u128(c),
                Segment::new("pro").unwrap(),
                day(start),
                mrr,
            )
            .unwrap();
            for &(at, v) in changes {
                s.change_mrr(day(at), money(v, mrr.currency())).unwrap();
            }
            if let Some((at, paid)) = cancel {
                s.cancel(day(at), paid.map(day)).unwrap();
            }
            let _s = block_on(store.create_subscription(s)).unwrap();
        };
        // c1: 100 EUR, 130 from day 30: expansion 30.
        add(1, 0, eur(100), &[(30, 130)], None);
        // c2: 200 USD (= 100 EUR), 100 USD (= 50 EUR) from day 40: contraction 50.
        add(2, 0, money(200, Currency::USD), &[(40, 100)], None);
        // c3: 80 EUR, cancelled day 50, paid through day 70.
        add(3, 0, eur(80), &[], Some((50, Some(70))));
        // c4: 40 EUR from day 20: new.
        add(4, 20, eur(40), &[], None);
        // c5: 60 EUR cancelled on day 10, back with 70 EUR on day 30: reactivated.
        add(5, 0, eur(60), &[], Some((10, None)));
        add(5, 30, eur(70), &[], None);
        // c6: 10 EUR and 10 GBP (= 12 EUR): 22 EUR at both ends, flat.
        add(6, 0, eur(10), &[], None);
        add(6, 5, money(10, Currency::GBP), &[], None);
        store
    }

    #[test]
    fn subscription_revenue_retention_by_hand() {
        let store = revenue_subscriptions();
        let period = Period::new(day(15), day(60)).unwrap();
        let run = |policy, size| {
            block_on(subscription_revenue_retention(
                &store,
                period,
                policy,
                Currency::EUR,
                &rates(),
                size,
            ))
        };
        let r = run(PaidUpPolicy::EndsAtCancellation, 1).unwrap();
        assert_eq!(r, run(PaidUpPolicy::EndsAtCancellation, 100).unwrap());
        // Start MRR at day 15: c1 100 + c2 100 + c3 80 + c6 22 = 302 (c4 starts
        // on day 20, c5 lapsed on day 10).
        // At day 60: c1 130 (+30), c2 50 (-50), c3 0 (cancelled: -80),
        // c4 40 (new), c5 70 (reactivated: a subscription started before day 15), c6 22.
        assert_eq!(r.movements.start, eur(302));
        assert_eq!(r.movements.expansion, eur(30));
        assert_eq!(r.movements.contraction, eur(50));
        assert_eq!(r.movements.churned, eur(80));
        assert_eq!(r.movements.new, eur(40));
        assert_eq!(r.movements.reactivated, eur(70));
        assert_eq!(
            (
                r.counts.start,
                r.counts.expanded,
                r.counts.contracted,
                r.counts.churned,
                r.counts.new,
                r.counts.reactivated
            ),
            (4, 1, 1, 1, 1, 1)
        );
        // GRR = (302 - 50 - 80) / 302 = 172 / 302; NRR = (302 + 30 - 130) / 302 = 202 / 302.
        assert_eq!(r.grr, Decimal::from(172) / Decimal::from(302));
        assert_eq!(r.nrr, Decimal::from(202) / Decimal::from(302));
        // Quick ratio = (40 + 70 + 30) / (50 + 80) = 140 / 130.
        assert_eq!(
            r.quick_ratio,
            QuickRatio::Ratio(Decimal::from(140) / Decimal::from(130))
        );
        // Paid up to day 70, c3 keeps its 80 at day 60: flat.
        // GRR = (302 - 50) / 302; NRR = (302 + 30 - 50) / 302; quick = 140 / 50.
        let paid = run(PaidUpPolicy::ActiveUntilPaidThrough, 3).unwrap();
        assert_eq!(paid.grr, Decimal::from(252) / Decimal::from(302));
        assert_eq!(paid.nrr, Decimal::from(282) / Decimal::from(302));
        assert_eq!(
            paid.quick_ratio,
            QuickRatio::Ratio(Decimal::from(140) / Decimal::from(50))
        );
        // Without a GBP rate, c6's GBP subscription cannot be converted.
        let usd_only = FixedRates::new()
            .with(Currency::USD, Currency::EUR, Decimal::new(5, 1))
            .unwrap();
        assert!(matches!(
            block_on(subscription_revenue_retention(
                &store,
                period,
                PaidUpPolicy::EndsAtCancellation,
                Currency::EUR,
                &usd_only,
                10,
            )),
            Err(AnalyticsError::Relationship(
                RelationshipError::MissingRate {
                    from: Currency::GBP,
                    to: Currency::EUR
                }
            ))
        ));
        // Before anyone subscribed: no data, not 0 %.
        let early = Period::new(day(-10), day(-5)).unwrap();
        assert!(matches!(
            block_on(subscription_revenue_retention(
                &store,
                early,
                PaidUpPolicy::EndsAtCancellation,
                Currency::EUR,
                &rates(),
                10,
            )),
            Err(AnalyticsError::Relationship(
                RelationshipError::NoData { .. }
            ))
        ));
    }

    /// Purchases for revenue retention over [day 30, day 60).
    fn revenue_purchases() -> MemoryStore {
        let store = MemoryStore::new();
        // (customer, day, amount, currency, refund?)
        let rows: [(u128, i64, i64, Currency, bool); 12] = [
            (1, 5, 100, Currency::EUR, false),
            (1, 40, 150, Currency::EUR, false),
            (2, 10, 200, Currency::USD, false), // = 100 EUR
            (2, 45, 60, Currency::EUR, false),
            (3, 20, 80, Currency::EUR, false),
            (3, 35, 80, Currency::EUR, true),
            (4, 50, 30, Currency::EUR, false),
            (5, -10, 25, Currency::EUR, false),
            (5, 55, 40, Currency::EUR, false),
            (6, 25, 50, Currency::EUR, false),
            (6, 28, 70, Currency::EUR, true),
            (7, 60, 999, Currency::EUR, false), // at the period end: outside [30, 60)
        ];
        for (i, (c, d, v, cur, refund)) in rows.into_iter().enumerate() {
            let kind = if refund {
                PurchaseKind::Refund { of: None }
            } else {
                PurchaseKind::Sale
            };
            let p = Purchase::new(
                PurchaseId::from_u128(i as u128),
                CustomerId::from_u128(c),
                day(d),
                kind,
                money(v, cur),
            )
            .unwrap();
            let _p = block_on(store.record_purchase(p)).unwrap();
        }
        store
    }

    #[test]
    fn purchase_revenue_retention_by_hand() {
        let store = revenue_purchases();
        let period = Period::new(day(30), day(60)).unwrap();
        let run = |window, size| {
            block_on(purchase_revenue_retention(
                &store,
                period,
                window,
                Currency::EUR,
                &rates(),
                size,
            ))
        };
        let r = run(RevenueWindow::PeriodLength, 1).unwrap();
        assert_eq!(r, run(RevenueWindow::PeriodLength, 1_000).unwrap());
        // Start window [0, 30), end window [30, 60):
        // c1 100 -> 150 (+50); c2 100 -> 60 (-40); c3 80 -> -80, floored 0 (churned 80);
        // c4 0 -> 30 (new); c5 0 -> 40 (reactivated: sale on day -10);
        // c6 50 - 70 = -20 floored to 0 -> 0 (no movement); c7 buys on day 60 (outside).
        assert_eq!(r.movements.start, eur(280));
        assert_eq!(r.movements.expansion, eur(50));
        assert_eq!(r.movements.contraction, eur(40));
        assert_eq!(r.movements.churned, eur(80));
        assert_eq!(r.movements.new, eur(30));
        assert_eq!(r.movements.reactivated, eur(40));
        // GRR = (280 - 40 - 80) / 280 = 160 / 280; NRR = (280 + 50 - 120) / 280 = 0.75.
        assert_eq!(r.grr, Decimal::from(160) / Decimal::from(280));
        assert_eq!(r.nrr, Decimal::new(75, 2));
        // Quick = (30 + 40 + 50) / (40 + 80) = 1.
        assert_eq!(r.quick_ratio, QuickRatio::Ratio(Decimal::ONE));

        // Trailing 10 days: [20, 30) against [50, 60).
        // c3 80 -> 0 (churned); c6 -20 -> 0; c4 new 30; c5 reactivated 40.
        // GRR = NRR = 0 / 80; quick = 70 / 80.
        let t = run(RevenueWindow::Trailing(Duration::days(10)), 2).unwrap();
        assert_eq!(t.movements.start, eur(80));
        assert_eq!(t.grr, Decimal::ZERO);
        assert_eq!(t.nrr, Decimal::ZERO);
        assert_eq!(
            t.quick_ratio,
            QuickRatio::Ratio(Decimal::from(70) / Decimal::from(80))
        );
        assert!(matches!(
            run(RevenueWindow::Trailing(Duration::zero()), 2),
            Err(AnalyticsError::Relationship(
                RelationshipError::EmptyInterval { .. }
            ))
        ));
        // No USD rate: c2's sale cannot be converted, never mixed.
        assert!(matches!(
            block_on(purchase_revenue_retention(
                &store,
                period,
                RevenueWindow::PeriodLength,
                Currency::EUR,
                &FixedRates::new(),
                5,
            )),
            Err(AnalyticsError::Relationship(
                RelationshipError::MissingRate { .. }
            ))
        ));
    }

    #[test]
    fn series_rows_equal_the_single_period_functions() {
        let tz: Tz = "UTC".parse().unwrap();
        // day(0) = Jan 1; Jan = [0, 31), Feb = [31, 59), window ends Mar 15 = day 73.
        let window = Period::new(day(0), day(73)).unwrap();
        let options = RetentionOptions::default();
        let store = revenue_subscriptions();
        let policy = PaidUpPolicy::ActiveUntilPaidThrough;
        let spec = SeriesSpec {
            source: RelationshipSource::Subscriptions { policy },
            window,
            granularity: Granularity::Month,
            tz,
            currency: Currency::EUR,
            options,
        };
        let rows = block_on(relationship_series(&store, &spec, &rates(), 2)).unwrap();
        assert_eq!(
            rows,
            block_on(relationship_series(&store, &spec, &rates(), 500)).unwrap()
        );
        assert_eq!(
            rows.iter()
                .map(|r| (r.bucket, r.partial))
                .collect::<Vec<_>>(),
            vec![
                (
                    CalendarBucket::Month {
                        year: 2026,
                        month: 1
                    },
                    false
                ),
                (
                    CalendarBucket::Month {
                        year: 2026,
                        month: 2
                    },
                    false
                ),
                (
                    CalendarBucket::Month {
                        year: 2026,
                        month: 3
                    },
                    true
                ),
            ]
        );
        assert_eq!(rows[2].period, Period::new(day(59), day(73)).unwrap());
        for row in &rows {
            let ret = block_on(subscription_retention(
                &store, row.period, policy, options, 3,
            ));
            assert_eq!(row.retention, ret.ok());
            let rev = block_on(subscription_revenue_retention(
                &store,
                row.period,
                policy,
                Currency::EUR,
                &rates(),
                3,
            ));
            assert_eq!(row.revenue, rev.ok());
        }
        // January [0, 31): at day 0 c1, c2, c3, c5, c6 (S = 5); c5 lapses on day 10
        // but is back on day 30, so all five are active on day 31: churn = 0 / 5.
        // MRR at 0: 100 + 100 + 80 + 60 + 10 = 350 (c6's GBP one starts on day 5);
        // at 31: c1 130 (+30), c5 70 (+10), c6 22 (+12): expansion 52, NRR = 402 / 350.
        let jan = rows[0].retention.unwrap();
        assert_eq!((jan.counts.start, jan.counts.churned), (5, 0));
        assert_eq!(jan.churn, Decimal::ZERO);
        let jan = rows[0].revenue.unwrap();
        assert_eq!(jan.movements.start, eur(350));
        assert_eq!(jan.movements.expansion, eur(52));
        assert_eq!(jan.nrr, Decimal::from(402) / Decimal::from(350));

        let store = revenue_purchases();
        let source = RelationshipSource::Purchases {
            activity_window: Duration::days(30),
            revenue_window: RevenueWindow::PeriodLength,
        };
        let spec = SeriesSpec { source, ..spec };
        let rows = block_on(relationship_series(&store, &spec, &rates(), 4)).unwrap();
        assert_eq!(rows.len(), 3);
        for row in &rows {
            let ret = block_on(purchase_retention(
                &store,
                row.period,
                Duration::days(30),
                options,
                7,
            ));
            assert_eq!(row.retention, ret.ok());
            let rev = block_on(purchase_revenue_retention(
                &store,
                row.period,
                RevenueWindow::PeriodLength,
                Currency::EUR,
                &rates(),
                7,
            ));
            assert_eq!(row.revenue, rev.ok());
        }
        // January [0, 31) against the 31 days before it [-31, 0): only c5 (25 on day -10).
        // In January: c5 nothing -> churned; GRR = 0.
        assert_eq!(rows[0].revenue.map(|r| r.grr), Some(Decimal::ZERO));
    }

    #[test]
    fn subscription_cohorts_by_hand() {
        let store = revenue_subscriptions();
        // c8: 20 EUR from day 40 (February), cancelled on day 65.
        // c9: from day -5: acquired before the window.
        let mut s8 = Subscription::new(
            SubscriptionId::from_u128(80),
            CustomerId::from_u128(8),
            Segment::new("pro").unwrap(),
            day(40),
            eur(20),
        )
        .unwrap();
        s8.cancel(day(65), None).unwrap();
        let s9 = Subscription::new(
            SubscriptionId::from_u128(90),
            CustomerId::from_u128(9),
            Segment::new("pro").unwrap(),
            day(-5),
            eur(5),
        )
        .unwrap();
        for s in [s8, s9] {
            let _s = block_on(store.create_subscription(s)).unwrap();
        }
        let tz: Tz = "UTC".parse().unwrap();
        // Jan [0, 31), Feb [31, 59), Mar [59, 73) (partial); closes on days 31, 59, 73.
        let spec = CohortSpec::new(
            Period::new(day(0), day(73)).unwrap(),
            Granularity::Month,
            tz,
        )
        .unwrap();
        let run = |policy, size| {
            block_on(subscription_cohorts(
                &store,
                spec.clone(),
                policy,
                Currency::EUR,
                &rates(),
                size,
            ))
            .unwrap()
        };
        let t = run(PaidUpPolicy::EndsAtCancellation, 1);
        assert_eq!(t, run(PaidUpPolicy::EndsAtCancellation, 1_000));
        assert_eq!(t.acquired_before, 1);
        let jan = &t.cohorts[0];
        // January cohort: c1..c6 (c5's first span starts on day 0).
        assert_eq!(jan.size, 6);
        // Active in Jan: all; Feb: all (c3 until 50, c5 back from 30); Mar: not c3.
        let six = Decimal::from(6);
        let shares: Vec<Decimal> = jan.cells.iter().map(|c| c.share).collect();
        assert_eq!(
            shares,
            vec![Decimal::ONE, Decimal::ONE, Decimal::from(5) / six]
        );
        // MRR at day 31: c1 130 + c2 100 + c3 80 + c4 40 + c5 70 + c6 22 = 442.
        // At 59 and 73: c1 130 + c2 50 + c4 40 + c5 70 + c6 22 = 312 (c3 cancelled).
        let revenue: Vec<Option<Money>> = jan.cells.iter().map(|c| c.revenue).collect();
        assert_eq!(
            revenue,
            vec![Some(eur(442)), Some(eur(312)), Some(eur(312))]
        );
        let kept = Decimal::from(312) / Decimal::from(442);
        let retained: Vec<Option<Decimal>> = jan.cells.iter().map(|c| c.revenue_retained).collect();
        assert_eq!(retained, vec![Some(Decimal::ONE), Some(kept), Some(kept)]);
        assert_eq!(
            jan.cells.iter().map(|c| c.partial).collect::<Vec<_>>(),
            vec![false, false, true]
        );
        // February cohort: c8, active in Feb and Mar; MRR 20 at day 59, 0 at 73.
        let feb = &t.cohorts[1];
        assert_eq!(feb.size, 1);
        assert_eq!(feb.cells[1].share, Decimal::ONE);
        assert_eq!(feb.cells[1].revenue_retained, Some(Decimal::ZERO));
        assert!(t.cohorts[2].cells.is_empty());

        // Paid up to day 70, c3 is active in March and keeps 80 at day 59:
        // Feb 392 / 442, Mar 312 / 442, March share 6 / 6.
        let paid = run(PaidUpPolicy::ActiveUntilPaidThrough, 3);
        let jan = &paid.cohorts[0];
        assert_eq!(jan.cells[2].share, Decimal::ONE);
        assert_eq!(
            jan.cells[1].revenue_retained,
            Some(Decimal::from(392) / Decimal::from(442))
        );
        assert_eq!(jan.cells[2].revenue_retained, Some(kept));
        // Without rates, the USD and GBP subscriptions cannot be reported in EUR.
        assert!(matches!(
            block_on(subscription_cohorts(
                &store,
                spec,
                PaidUpPolicy::EndsAtCancellation,
                Currency::EUR,
                &FixedRates::new(),
                10,
            )),
            Err(AnalyticsError::Relationship(
                RelationshipError::MissingRate { .. }
            ))
        ));
    }

    #[test]
    fn series_quarters_are_cut_in_the_time_zone() {
        let store = MemoryStore::new();
        let at = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        // 100 EUR from Dec 2025, cancelled on 31 March 23:00 UTC, which is
        // already 1 April 01:00 in Berlin (summer time).
        let mut s = Subscription::new(
            SubscriptionId::from_u128(1),
            CustomerId::from_u128(1),
            Segment::new("pro").unwrap(),
            at("2025-12-01T00:00:00Z"),
            eur(100),
        )
        .unwrap();
        s.cancel(at("2026-03-31T23:00:00Z"), None).unwrap();
        let _s = block_on(store.create_subscription(s)).unwrap();
        let series = |tz: &str| {
            let tz: Tz = tz.parse().unwrap();
            let spec = SeriesSpec {
                source: RelationshipSource::Subscriptions {
                    policy: PaidUpPolicy::EndsAtCancellation,
                },
                window: Period::new(at("2025-12-31T23:00:00Z"), at("2026-06-30T22:00:00Z"))
                    .unwrap(),
                granularity: Granularity::Quarter,
                tz,
                currency: Currency::EUR,
                options: RetentionOptions::default(),
            };
            block_on(relationship_series(&store, &spec, &FixedRates::new(), 10)).unwrap()
        };
        // Berlin: Q1 = [Dec 31 23:00Z, Mar 31 22:00Z), Q2 = [Mar 31 22:00Z, Jun 30 22:00Z).
        // Active at the end of Q1 (22:00Z < 23:00Z): retained in Q1, lost in Q2.
        let berlin = series("Europe/Berlin");
        assert_eq!(berlin.len(), 2);
        assert!(berlin.iter().all(|r| !r.partial));
        assert_eq!(berlin[0].retention.map(|r| r.exact), Some(Decimal::ONE));
        assert_eq!(berlin[0].revenue.map(|r| r.grr), Some(Decimal::ONE));
        assert_eq!(berlin[1].retention.map(|r| r.churn), Some(Decimal::ONE));
        assert_eq!(
            berlin[1].revenue.map(|r| r.movements.churned),
            Some(eur(100))
        );
        // In UTC the same window cuts Q4 2025 (one hour), Q1 and Q2 (partial):
        // Q1 ends Apr 1 00:00Z, after the cancellation, so the loss falls in Q1,
        // and nobody is left at the start of Q2 (no data, not 0 %).
        let utc = series("UTC");
        assert_eq!(utc.len(), 3);
        assert_eq!(utc[1].retention.map(|r| r.churn), Some(Decimal::ONE));
        assert_eq!(utc[2].retention, None);
        assert_eq!(utc[2].revenue, None);
        assert!(utc[0].partial && utc[2].partial && !utc[1].partial);
    }

    #[test]
    fn invalid_page_size_is_a_store_error() {
        let store = store();
        let period = Period::new(day(0), day(10)).unwrap();
        assert!(matches!(
            block_on(historical_value(&store, Currency::EUR, period, 0)),
            Err(AnalyticsError::Store(_))
        ));
    }
}
