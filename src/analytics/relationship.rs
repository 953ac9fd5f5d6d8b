//! Relationship and value metrics over a store: retention, RFM, historical
//! CLV and cohort tables, computed by paging through a [`PurchaseStore`].
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

use chrono::{DateTime, Duration, Utc};

use super::AnalyticsError;
use crate::domain::{Currency, CustomerId, PaidUpPolicy, Period, Purchase, Subscription};
use crate::metrics::activity::{Activity, SubscriptionTerm, Transaction};
use crate::metrics::cohort::{CohortSpec, CohortTable, PurchaseCohortAccumulator};
use crate::metrics::retention::{Retention, RetentionAccumulator, RetentionOptions};
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
/// ([`RelationshipError::NoData`](crate::metrics::activity::RelationshipError::NoData)).
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Granularity, Money, PurchaseId, PurchaseKind, Segment, SubscriptionId};
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
