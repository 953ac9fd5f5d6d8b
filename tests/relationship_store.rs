//! Relationship metrics through the crate-wide `Accumulator` shape and from
//! a store: merging partial accumulators equals one pass (any split, any
//! order), a failed merge leaves the accumulator as it was, and revenue
//! retention read from a store keeps 0 <= GRR <= 100 % and NRR >= GRR.

use chrono::{DateTime, Duration, Utc};
use crmkit::analytics::AnalyticsError;
use crmkit::analytics::relationship::{
    RelationshipSource, RevenueWindow, SeriesSpec, purchase_revenue_retention, relationship_series,
    subscription_revenue_retention,
};
use crmkit::domain::{
    Currency, CustomerId, Granularity, Money, PaidUpPolicy, Period, Purchase, PurchaseId,
    PurchaseKind, Segment, Subscription, SubscriptionId,
};
use crmkit::metrics::accumulator::{Accumulator, MergeError, PortableState, StateEnvelope};
use crmkit::metrics::activity::{ActivitySpan, CustomerActivity, RelationshipError, Transaction};
use crmkit::metrics::cohort::{
    ActivityCohortAccumulator, CohortSpec, PurchaseCohortAccumulator, SubscriptionCohortAccumulator,
};
use crmkit::metrics::retention::{RetentionAccumulator, RetentionOptions};
use crmkit::metrics::revenue::{FixedRates, RevenueAccumulator};
use crmkit::metrics::rfm::{RfmAccumulator, RfmScores};
use crmkit::metrics::value::{ValueAccumulator, ValueSummary};
use crmkit::store::PurchaseStore;
use crmkit::store::blocking::block_on;
use crmkit::store::memory::MemoryStore;
use proptest::prelude::*;
use rust_decimal::Decimal;

fn t0() -> DateTime<Utc> {
    "2026-01-01T00:00:00Z".parse().unwrap()
}
fn day(d: i64) -> DateTime<Utc> {
    t0() + Duration::days(d)
}
fn eur(v: i64) -> Money {
    Money::new(Decimal::from(v), Currency::EUR)
}
fn max_eur() -> Money {
    Money::new(Decimal::MAX, Currency::EUR)
}
fn c(i: u128) -> CustomerId {
    CustomerId::from_u128(i)
}
fn sale(customer: u128, d: i64, v: i64) -> Transaction {
    Transaction::sale(c(customer), day(d), eur(v), None).unwrap()
}
fn spec() -> CohortSpec {
    // Jan 1 .. Apr 15 2026 in months: April is partial.
    CohortSpec::new(
        Period::new(day(0), day(104)).unwrap(),
        Granularity::Month,
        chrono_tz::UTC,
    )
    .unwrap()
}
fn rates() -> FixedRates {
    // 1 USD = 0.5 EUR.
    FixedRates::new()
        .with(Currency::USD, Currency::EUR, Decimal::new(5, 1))
        .unwrap()
}

/// Pushes `obs` into `template`-like accumulators: all into one, and
/// split at `split` into two (the first part in reverse order) that are
/// then merged. Returns (one pass, merged).
fn one_and_merged<A>(template: &A, obs: &[A::Observation], split: usize) -> (A, A)
where
    A: Accumulator,
    A::Observation: Clone,
    A::Error: std::fmt::Debug,
{
    let mut one = template.empty_like();
    for o in obs {
        one.push(o.clone()).unwrap();
    }
    let split = split.min(obs.len());
    let mut a = template.empty_like();
    let mut b = template.empty_like();
    for o in obs[..split].iter().rev() {
        a.push(o.clone()).unwrap();
    }
    for o in &obs[split..] {
        b.push(o.clone()).unwrap();
    }
    a.merge(&b).unwrap();
    (one, a)
}

fn sorted_value(mut v: ValueSummary) -> ValueSummary {
    v.customers.sort_by_key(|c| c.customer);
    v
}
fn sorted_rfm(r: Result<RfmScores, RelationshipError>) -> Result<RfmScores, RelationshipError> {
    r.map(|mut s| {
        s.customers.sort_by_key(|c| c.customer);
        s
    })
}

// ---- a failed merge leaves the accumulator unchanged ----

#[test]
fn revenue_merge_overflow_leaves_state_unchanged() {
    let mut a = RevenueAccumulator::new(Currency::EUR);
    Accumulator::push(&mut a, (eur(10), eur(5), false)).unwrap();
    Accumulator::push(&mut a, (max_eur(), max_eur(), false)).unwrap_err(); // start sum overflows
    let mut b = a.empty_like();
    Accumulator::push(&mut b, (max_eur(), max_eur(), false)).unwrap();
    let before = a.clone();
    // a's counts would go up before its start sum (10 + MAX) overflows.
    assert_eq!(
        Accumulator::merge(&mut a, &b),
        Err(MergeError::Overflow {
            accumulator: "revenue_retention"
        })
    );
    assert_eq!(a, before);
    // And a push that overflows changes nothing either.
    assert!(a.push(max_eur(), max_eur(), false).is_err());
    assert_eq!(a, before);
    // Another reporting currency is a configuration mismatch.
    let usd = RevenueAccumulator::new(Currency::USD);
    assert!(matches!(
        Accumulator::merge(&mut a, &usd),
        Err(MergeError::ConfigMismatch { .. })
    ));
    assert_eq!(a, before);
}

#[test]
fn retention_merge_overflow_leaves_state_unchanged() {
    let period = Period::new(day(0), day(30)).unwrap();
    // A state near the u64 limit, read back through its validated envelope:
    // N = acquired + reactivated = 0 + MAX, all of them reactivated and lost.
    let max = u64::MAX;
    let json = format!(
        r#"{{"kind":"crmkit.retention","format_version":1,"state":{{
            "period":{period},
            "options":{options},
            "counts":{{"start":0,"end":0,"new":{max},"retained":0,"churned":0,
                "acquired":0,"reactivated":{max},"acquired_and_lost":0,"reactivated_and_lost":{max}}}}}}}"#,
        period = serde_json::to_string(&period).unwrap(),
        options = serde_json::to_string(&RetentionOptions::default()).unwrap(),
    );
    let env: StateEnvelope<RetentionAccumulator> = serde_json::from_str(&json).unwrap();
    let mut a = env.into_state().unwrap();
    let mut b = a.empty_like();
    // One retained customer and one reactivated: S and E go up first, then N overflows.
    b.push(&CustomerActivity::from_spans([ActivitySpan::new(
        day(-5),
        None,
    )
    .unwrap()]))
        .unwrap();
    b.push(&CustomerActivity::from_spans([
        ActivitySpan::new(day(-20), Some(day(-10))).unwrap(),
        ActivitySpan::new(day(10), None).unwrap(),
    ]))
    .unwrap();
    let before = a.clone();
    assert_eq!(
        Accumulator::merge(&mut a, &b),
        Err(MergeError::Overflow {
            accumulator: "retention"
        })
    );
    assert_eq!(a, before);
    // Counts that no pushes can produce are rejected on the way in.
    let bad = json.replace(
        r#""reactivated_and_lost":18446744073709551615"#,
        r#""reactivated_and_lost":0"#,
    );
    assert_ne!(bad, json);
    assert!(serde_json::from_str::<StateEnvelope<RetentionAccumulator>>(&bad).is_err());
}

#[test]
fn value_merge_with_a_contradiction_adds_nobody() {
    // a knows customer 1 was acquired on day 10; b has 1's purchase on day 5
    // and purchases of customers 2..40.
    let mut a = ValueAccumulator::new(Currency::EUR);
    a.record_acquisition(c(1), day(10)).unwrap();
    a.push(&sale(1, 12, 30)).unwrap();
    let mut b = a.empty_like();
    b.push(&sale(1, 5, 10)).unwrap();
    for i in 2..40 {
        b.push(&sale(i, 3, 7)).unwrap();
    }
    let before = a.clone();
    assert!(matches!(
        Accumulator::merge(&mut a, &b),
        Err(MergeError::Inconsistent {
            accumulator: "value",
            ..
        })
    ));
    assert_eq!(a, before);
    assert_eq!(a.len(), 1);
    // Totals overflow: nothing changes either.
    let mut big = a.empty_like();
    big.push(&Transaction::sale(c(2), day(1), max_eur(), None).unwrap())
        .unwrap();
    let mut a2 = a.empty_like();
    a2.push(&Transaction::sale(c(3), day(1), max_eur(), None).unwrap())
        .unwrap();
    let before = a2.clone();
    assert!(matches!(
        Accumulator::merge(&mut a2, &big),
        Err(MergeError::Overflow { .. })
    ));
    assert_eq!(a2, before);
}

#[test]
fn rfm_and_purchase_cohort_merge_overflow_adds_nobody() {
    let as_of = day(200);
    let mut a = RfmAccumulator::new(Currency::EUR, as_of);
    a.push(&Transaction::sale(c(1), day(1), max_eur(), None).unwrap())
        .unwrap();
    let mut b = a.empty_like();
    // Customer 1's monetary value overflows; customers 2..60 are fine.
    b.push(&Transaction::sale(c(1), day(2), max_eur(), None).unwrap())
        .unwrap();
    for i in 2..60 {
        b.push(&sale(i, 3, 5)).unwrap();
    }
    let before = a.clone();
    assert_eq!(
        Accumulator::merge(&mut a, &b),
        Err(MergeError::Overflow { accumulator: "rfm" })
    );
    assert_eq!(a, before);
    let other_day = RfmAccumulator::new(Currency::EUR, day(201));
    assert!(matches!(
        Accumulator::merge(&mut a, &other_day),
        Err(MergeError::ConfigMismatch { .. })
    ));
    assert_eq!(a, before);

    let mut a = PurchaseCohortAccumulator::new(spec(), Currency::EUR);
    a.push(&Transaction::sale(c(1), day(1), max_eur(), None).unwrap())
        .unwrap();
    let mut b = a.empty_like();
    b.push(&Transaction::sale(c(1), day(2), max_eur(), None).unwrap())
        .unwrap();
    for i in 2..60 {
        b.push(&sale(i, 3, 5)).unwrap();
    }
    let before = a.clone();
    assert!(matches!(
        Accumulator::merge(&mut a, &b),
        Err(MergeError::Overflow { .. })
    ));
    assert_eq!(a, before);
}

fn subscription(id: u128, customer: u128, start: i64, mrr: Money) -> Subscription {
    Subscription::new(
        SubscriptionId::from_u128(id),
        c(customer),
        Segment::new("pro").unwrap(),
        day(start),
        mrr,
    )
    .unwrap()
}

#[test]
fn subscription_cohort_merge_overflow_and_mismatch_leave_state_unchanged() {
    let acc =
        SubscriptionCohortAccumulator::new(spec(), Currency::EUR, PaidUpPolicy::EndsAtCancellation);
    let mut a = acc.empty_like();
    a.push_subscriptions(&[subscription(1, 1, 3, eur(10))], &rates())
        .unwrap();
    a.push_subscriptions(&[subscription(2, 2, 3, max_eur())], &rates())
        .unwrap_err(); // 10 + MAX overflows the January cell: nothing added
    let mut b = a.empty_like();
    b.push_subscriptions(&[subscription(3, 3, 4, max_eur())], &rates())
        .unwrap();
    let before = a.clone();
    assert!(matches!(
        Accumulator::merge(&mut a, &b),
        Err(MergeError::Overflow { .. })
    ));
    assert_eq!(a, before);
    let paid_up = SubscriptionCohortAccumulator::new(
        spec(),
        Currency::EUR,
        PaidUpPolicy::ActiveUntilPaidThrough,
    );
    assert!(matches!(
        Accumulator::merge(&mut a, &paid_up),
        Err(MergeError::ConfigMismatch { .. })
    ));
    assert_eq!(a, before);
    // A row built for another currency is rejected.
    let usd =
        SubscriptionCohortAccumulator::new(spec(), Currency::USD, PaidUpPolicy::EndsAtCancellation);
    let row = usd
        .subscriber(&[subscription(4, 4, 5, eur(1))], &rates())
        .unwrap();
    assert!(matches!(
        a.push(&row),
        Err(RelationshipError::CurrencyMismatch { .. })
    ));
    assert_eq!(a, before);
}

#[test]
fn portable_states_round_trip() {
    let mut value = ValueAccumulator::new(Currency::EUR);
    let mut rfm = RfmAccumulator::new(Currency::EUR, day(100));
    for t in [sale(1, 1, 10), sale(2, 5, 20), sale(1, 9, 5)] {
        value.push(&t).unwrap();
        rfm.push(&t).unwrap();
    }
    let json = serde_json::to_string(&value.to_envelope()).unwrap();
    let back: ValueAccumulator = serde_json::from_str::<StateEnvelope<ValueAccumulator>>(&json)
        .unwrap()
        .into_state()
        .unwrap();
    assert_eq!(back, value);
    let json = serde_json::to_string(&rfm.to_envelope()).unwrap();
    let back: RfmAccumulator = serde_json::from_str::<StateEnvelope<RfmAccumulator>>(&json)
        .unwrap()
        .into_state()
        .unwrap();
    assert_eq!(back, rfm);
    // A revenue state whose losses exceed its start revenue cannot be read.
    let mut revenue = RevenueAccumulator::new(Currency::EUR);
    revenue.push(eur(100), eur(40), false).unwrap(); // contraction 60
    let json = serde_json::to_string(&revenue.to_envelope()).unwrap();
    let back = serde_json::from_str::<StateEnvelope<RevenueAccumulator>>(&json)
        .unwrap()
        .into_state()
        .unwrap();
    assert_eq!(back, revenue);
    let bad = json.replace(r#""contraction":"60""#, r#""contraction":"160""#);
    assert_ne!(bad, json, "the state serialises the contraction as \"60\"");
    assert!(serde_json::from_str::<StateEnvelope<RevenueAccumulator>>(&bad).is_err());
    assert_eq!(
        <RevenueAccumulator as PortableState>::KIND,
        "crmkit.revenue_retention"
    );
}

// ---- property tests ----

fn arb_activity() -> impl Strategy<Value = CustomerActivity> {
    prop::collection::vec((-40i64..110, prop::option::of(1i64..60)), 1..4).prop_map(|v| {
        CustomerActivity::from_spans(
            v.into_iter()
                .map(|(a, l)| ActivitySpan::new(day(a), l.map(|l| day(a + l))).unwrap()),
        )
    })
}

fn arb_transaction() -> impl Strategy<Value = Transaction> {
    (0u128..12, -20i64..120, 0i64..500, any::<bool>()).prop_map(|(cu, d, v, is_sale)| {
        if is_sale {
            sale(cu, d, v)
        } else {
            Transaction::refund(c(cu), day(d), eur(v), None).unwrap()
        }
    })
}

/// (customer, start day, initial MRR, optional (change day offset, new MRR),
/// optional (cancel offset, paid-through extra days), in USD?).
type SubRow = (
    u128,
    i64,
    i64,
    Option<(i64, i64)>,
    Option<(i64, Option<i64>)>,
    bool,
);

fn arb_subs() -> impl Strategy<Value = Vec<SubRow>> {
    prop::collection::vec(
        (
            0u128..8,
            -30i64..100,
            0i64..300,
            prop::option::of((0i64..60, 0i64..300)),
            prop::option::of((1i64..80, prop::option::of(0i64..40))),
            any::<bool>(),
        ),
        0..14,
    )
}

fn build_sub(i: usize, row: &SubRow) -> Subscription {
    let &(cu, start, mrr, change, cancel, usd) = row;
    let cur = if usd { Currency::USD } else { Currency::EUR };
    let m = |v: i64| Money::new(Decimal::from(v), cur);
    let mut s = subscription(i as u128, cu, start, m(mrr));
    let mut last = start;
    if let Some((off, v)) = change {
        last = start + off;
        s.change_mrr(day(last), m(v)).unwrap();
    }
    if let Some((off, paid)) = cancel {
        let at = last + off;
        s.cancel(day(at), paid.map(|p| day(at + p))).unwrap();
    }
    s
}

fn subscriptions_by_customer(rows: &[SubRow]) -> Vec<Vec<Subscription>> {
    let mut by: std::collections::BTreeMap<u128, Vec<Subscription>> = Default::default();
    for (i, row) in rows.iter().enumerate() {
        by.entry(row.0).or_default().push(build_sub(i, row));
    }
    by.into_values().collect()
}

proptest! {
    #[test]
    fn retention_and_activity_cohorts_merge_equals_one_pass(
        customers in prop::collection::vec(arb_activity(), 0..30),
        split in 0usize..30,
    ) {
        let period = Period::new(day(10), day(40)).unwrap();
        let (one, merged) = one_and_merged(&RetentionAccumulator::new(period, RetentionOptions::default()), &customers, split);
        prop_assert_eq!(&one, &merged);
        if let Ok(r) = one.finish() {
            prop_assert_eq!(r.exact + r.churn, Decimal::ONE);
        }
        let (one, merged) = one_and_merged(&ActivityCohortAccumulator::new(spec()), &customers, split);
        prop_assert_eq!(Accumulator::finish(&one), Accumulator::finish(&merged));
    }

    #[test]
    fn revenue_merge_equals_one_pass_and_stays_in_range(
        rows in prop::collection::vec((0i64..1000, -100i64..2000, any::<bool>()), 0..40),
        split in 0usize..40,
    ) {
        let obs: Vec<(Money, Money, bool)> = rows.iter().map(|&(s, e, r)| (eur(s), eur(e), r)).collect();
        let (one, merged) = one_and_merged(&RevenueAccumulator::new(Currency::EUR), &obs, split);
        prop_assert_eq!(&one, &merged);
        if let Ok(r) = Accumulator::finish(&one) {
            prop_assert!(r.grr >= Decimal::ZERO && r.grr <= Decimal::ONE);
            prop_assert!(r.nrr >= r.grr);
        }
    }

    #[test]
    fn transaction_accumulators_merge_equals_one_pass(
        ts in prop::collection::vec(arb_transaction(), 0..60),
        split in 0usize..60,
    ) {
        let (one, merged) = one_and_merged(&ValueAccumulator::new(Currency::EUR), &ts, split);
        prop_assert_eq!(sorted_value(Accumulator::finish(&one)), sorted_value(Accumulator::finish(&merged)));
        let (one, merged) = one_and_merged(&RfmAccumulator::new(Currency::EUR, day(90)), &ts, split);
        prop_assert_eq!(sorted_rfm(Accumulator::finish(&one)), sorted_rfm(Accumulator::finish(&merged)));
        let (one, merged) = one_and_merged(&PurchaseCohortAccumulator::new(spec(), Currency::EUR), &ts, split);
        prop_assert_eq!(Accumulator::finish(&one), Accumulator::finish(&merged));
    }

    #[test]
    fn subscription_cohorts_merge_equals_one_pass_and_stay_in_range(
        rows in arb_subs(),
        split in 0usize..10,
        paid_up in any::<bool>(),
    ) {
        let policy = if paid_up { PaidUpPolicy::ActiveUntilPaidThrough } else { PaidUpPolicy::EndsAtCancellation };
        let template = SubscriptionCohortAccumulator::new(spec(), Currency::EUR, policy);
        let subscribers: Vec<_> = subscriptions_by_customer(&rows)
            .iter()
            .map(|subs| template.subscriber(subs, &rates()).unwrap())
            .collect();
        let (one, merged) = one_and_merged(&template, &subscribers, split);
        prop_assert_eq!(&one, &merged);
        let table = Accumulator::finish(&one).unwrap();
        for cohort in &table.cohorts {
            prop_assert_eq!(cohort.cells.is_empty(), cohort.size == 0);
            if let Some(first) = cohort.cells.first() {
                prop_assert_eq!(first.share, Decimal::ONE);
            }
            for cell in &cohort.cells {
                prop_assert!(cell.share >= Decimal::ZERO && cell.share <= Decimal::ONE);
                prop_assert!(cell.revenue.is_some_and(|r| !r.is_negative()));
                prop_assert!(cell.revenue_retained.is_none_or(|r| r >= Decimal::ZERO));
            }
        }
    }

    #[test]
    fn failed_merges_leave_state_unchanged(
        ts in prop::collection::vec(arb_transaction(), 0..30),
        rows in prop::collection::vec((0i64..1000, -100i64..2000, any::<bool>()), 0..20),
    ) {
        // Value: the other side recorded every customer's acquisition after
        // the year's end, so any customer with a transaction contradicts it.
        let mut a = ValueAccumulator::new(Currency::EUR);
        for t in &ts { a.push(t).unwrap(); }
        let mut b = a.empty_like();
        for i in 0..12 { b.record_acquisition(c(i), day(400)).unwrap(); }
        let before = a.clone();
        prop_assert_eq!(Accumulator::merge(&mut a, &b).is_err(), !ts.is_empty());
        if !ts.is_empty() { prop_assert_eq!(&a, &before); }
        // Revenue: a side holding the maximum start revenue overflows.
        let mut r = RevenueAccumulator::new(Currency::EUR);
        for &(s, e, ret) in &rows { r.push(eur(s), eur(e), ret).unwrap(); }
        let mut huge = r.empty_like();
        huge.push(max_eur(), eur(0), false).unwrap();
        let before = r.clone();
        let any_start = rows.iter().any(|&(s, _, _)| s > 0);
        prop_assert_eq!(Accumulator::merge(&mut r, &huge).is_err(), any_start);
        if any_start { prop_assert_eq!(&r, &before); }
    }
}

// ---- from a store ----

fn store_with(subs: &[SubRow], purchases: &[(u128, i64, i64, bool, bool)]) -> MemoryStore {
    let store = MemoryStore::new();
    for (i, row) in subs.iter().enumerate() {
        let _s = block_on(store.create_subscription(build_sub(i, row))).unwrap();
    }
    for (i, &(cu, d, v, refund, usd)) in purchases.iter().enumerate() {
        let cur = if usd { Currency::USD } else { Currency::EUR };
        let kind = if refund {
            PurchaseKind::Refund { of: None }
        } else {
            PurchaseKind::Sale
        };
        let p = Purchase::new(
            PurchaseId::from_u128(i as u128),
            c(cu),
            day(d),
            kind,
            Money::new(Decimal::from(v), cur),
        )
        .unwrap();
        let _p = block_on(store.record_purchase(p)).unwrap();
    }
    store
}

fn in_range(
    r: Result<crmkit::metrics::revenue::RevenueRetention, AnalyticsError>,
) -> Result<(), TestCaseError> {
    match r {
        Ok(r) => {
            prop_assert!(
                r.grr >= Decimal::ZERO && r.grr <= Decimal::ONE,
                "GRR {}",
                r.grr
            );
            prop_assert!(r.nrr >= r.grr, "NRR {} < GRR {}", r.nrr, r.grr);
            prop_assert_eq!(r.gross_churn, Decimal::ONE - r.grr);
            Ok(())
        }
        Err(AnalyticsError::Relationship(RelationshipError::NoData { .. })) => Ok(()),
        Err(e) => Err(TestCaseError::fail(e.to_string())),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn revenue_retention_from_a_store_keeps_grr_in_range_and_nrr_above(
        subs in arb_subs(),
        purchases in prop::collection::vec((0u128..8, -60i64..120, 1i64..400, any::<bool>(), any::<bool>()), 0..40),
        s in 0i64..60,
        len in 1i64..60,
        page in 1usize..7,
    ) {
        let store = store_with(&subs, &purchases);
        let period = Period::new(day(s), day(s + len)).unwrap();
        for policy in [PaidUpPolicy::EndsAtCancellation, PaidUpPolicy::ActiveUntilPaidThrough] {
            let r = block_on(subscription_revenue_retention(&store, period, policy, Currency::EUR, &rates(), page));
            // The result does not depend on the page size.
            let again = block_on(subscription_revenue_retention(&store, period, policy, Currency::EUR, &rates(), 1000));
            prop_assert_eq!(r.as_ref().ok(), again.as_ref().ok());
            in_range(r)?;
        }
        for window in [RevenueWindow::PeriodLength, RevenueWindow::Trailing(Duration::days(20))] {
            in_range(block_on(purchase_revenue_retention(&store, period, window, Currency::EUR, &rates(), page)))?;
        }
        // Every row of a series is in range too, and equals its own period's
        // single computation.
        let spec = SeriesSpec {
            source: RelationshipSource::Purchases { activity_window: Duration::days(30), revenue_window: RevenueWindow::PeriodLength },
            window: Period::new(day(0), day(100)).unwrap(),
            granularity: Granularity::Month,
            tz: chrono_tz::UTC,
            currency: Currency::EUR,
            options: RetentionOptions::default(),
        };
        for row in block_on(relationship_series(&store, &spec, &rates(), page)).unwrap() {
            if let Some(r) = row.revenue {
                prop_assert!(r.grr >= Decimal::ZERO && r.grr <= Decimal::ONE);
                prop_assert!(r.nrr >= r.grr);
            }
            if let Some(r) = row.retention {
                prop_assert_eq!(r.exact + r.churn, Decimal::ONE);
            }
            let single = block_on(purchase_revenue_retention(&store, row.period, RevenueWindow::PeriodLength, Currency::EUR, &rates(), page));
            prop_assert_eq!(row.revenue, single.ok());
        }
        let policy = PaidUpPolicy::ActiveUntilPaidThrough;
        let spec = SeriesSpec { source: RelationshipSource::Subscriptions { policy }, ..spec };
        for row in block_on(relationship_series(&store, &spec, &rates(), page)).unwrap() {
            let single = block_on(subscription_revenue_retention(&store, row.period, policy, Currency::EUR, &rates(), page));
            prop_assert_eq!(row.revenue, single.ok());
            if let Some(r) = row.revenue {
                prop_assert!(r.grr >= Decimal::ZERO && r.grr <= Decimal::ONE);
                prop_assert!(r.nrr >= r.grr);
            }
        }
    }
}
