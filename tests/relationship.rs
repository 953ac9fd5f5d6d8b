//! Relationship and value metrics end to end: domain records in, metrics
//! out, and the batch (sharded, threaded) path equal to row-by-row pushes.

use chrono::{DateTime, Duration, Utc};
use crmkit::domain::{
    Currency, CustomerId, Granularity, Money, PaidUpPolicy, Period, Purchase, PurchaseId,
    PurchaseKind, Segment, Subscription, SubscriptionId,
};
use crmkit::metrics::activity::{Activity, SubscriptionTerm, Transaction};
use crmkit::metrics::cohort::{CohortSpec, PurchaseCohortAccumulator};
use crmkit::metrics::retention::{RetentionAccumulator, RetentionOptions};
use crmkit::metrics::rfm::{RfmAccumulator, SegmentTable};
use crmkit::metrics::value::ValueAccumulator;
use rust_decimal::Decimal;

fn t0() -> DateTime<Utc> {
    "2026-01-01T00:00:00Z".parse().unwrap()
}
fn eur(v: i64) -> Money {
    Money::new(Decimal::from(v), Currency::EUR)
}

#[test]
fn retention_from_domain_subscriptions_under_both_paid_up_policies() {
    let day = |d: i64| t0() + Duration::days(d);
    let sub = |id: u128, start: i64| {
        Subscription::new(
            SubscriptionId::from_u128(id),
            CustomerId::from_u128(id),
            Segment::new("pro").unwrap(),
            day(start),
            eur(50),
        )
        .unwrap()
    };
    let a = sub(1, 0); // active throughout
    let mut b = sub(2, 0);
    // Cancelled on day 20 but paid through day 40.
    b.cancel(day(20), Some(day(40))).unwrap();
    let subs = [a, b];
    let period = Period::new(day(10), day(30)).unwrap();
    let retention = |policy| {
        let activity =
            Activity::from_subscriptions(subs.iter().map(SubscriptionTerm::from), policy).unwrap();
        let mut acc = RetentionAccumulator::new(period, RetentionOptions::default());
        acc.push_all(&activity).unwrap();
        acc.finish().unwrap()
    };
    // Paid-up customers count as active until day 40: S = E = 2, exact = 2/2 = 1.
    assert_eq!(
        retention(PaidUpPolicy::ActiveUntilPaidThrough).exact,
        Decimal::ONE
    );
    // Ending at the cancellation: b is gone at day 30: exact = 1/2.
    assert_eq!(
        retention(PaidUpPolicy::EndsAtCancellation).exact,
        Decimal::new(5, 1)
    );
}

#[test]
fn domain_purchases_feed_value_metrics() {
    let c = CustomerId::from_u128(7);
    let sale = Purchase::new(
        PurchaseId::from_u128(1),
        c,
        t0(),
        PurchaseKind::Sale,
        eur(80),
    )
    .unwrap();
    let refund = Purchase::new(
        PurchaseId::from_u128(2),
        c,
        t0() + Duration::days(1),
        PurchaseKind::Refund {
            of: Some(PurchaseId::from_u128(1)),
        },
        eur(30),
    )
    .unwrap();
    let mut acc = ValueAccumulator::new(Currency::EUR);
    for p in [&sale, &refund] {
        acc.push(&Transaction::try_from(p).unwrap()).unwrap();
    }
    let v = acc.finish();
    // 80 - 30 = 50 historical revenue; one order of 80.
    assert_eq!(v.customers[0].revenue, eur(50));
    assert_eq!(v.aov().unwrap(), eur(80));
}

/// A ledger long enough for the partitioned path (more than 32,768 rows).
fn ledger() -> Vec<Transaction> {
    (0..100_000u64)
        .map(|i| {
            let c = CustomerId::from_u128(u128::from(i * 7919 % 9_973));
            let at = t0() + Duration::hours((i * 37 % 8_000) as i64);
            let amount = eur((i % 97) as i64 + 1);
            if i % 50 == 0 {
                Transaction::refund(c, at, amount, Some(eur(1))).unwrap()
            } else {
                Transaction::sale(c, at, amount, Some(eur(1))).unwrap()
            }
        })
        .collect()
}

#[test]
fn batch_equals_row_by_row() {
    let rows = ledger();
    let as_of = t0() + Duration::days(300);
    let table = SegmentTable::standard();

    let mut one = RfmAccumulator::new(Currency::EUR, as_of);
    rows.iter().for_each(|t| one.push(t).unwrap());
    let mut batch = RfmAccumulator::new(Currency::EUR, as_of);
    batch.push_batch(&rows).unwrap();
    assert_eq!(one, batch);
    let scores = batch.finish(&table).unwrap();
    assert!(scores.customers.iter().all(|c| (1..=5).contains(&c.r)));

    let mut one = ValueAccumulator::new(Currency::EUR);
    rows.iter().for_each(|t| one.push(t).unwrap());
    let mut batch = ValueAccumulator::new(Currency::EUR);
    batch.push_batch(&rows).unwrap();
    assert_eq!(one, batch);

    let spec = CohortSpec::new(
        Period::new(t0(), as_of).unwrap(),
        Granularity::Month,
        chrono_tz::UTC,
    )
    .unwrap();
    let mut one = PurchaseCohortAccumulator::new(spec.clone(), Currency::EUR);
    rows.iter().for_each(|t| one.push(t).unwrap());
    let mut batch = PurchaseCohortAccumulator::new(spec, Currency::EUR);
    batch.push_batch(&rows).unwrap();
    assert_eq!(one.finish().unwrap(), batch.finish().unwrap());
}

#[test]
fn batch_rejects_foreign_currency_before_adding_anything() {
    let mut rows = ledger();
    rows.push(
        Transaction::sale(
            CustomerId::from_u128(1),
            t0(),
            Money::new(Decimal::ONE, Currency::USD),
            None,
        )
        .unwrap(),
    );
    let mut acc = ValueAccumulator::new(Currency::EUR);
    assert!(acc.push_batch(&rows).is_err());
    assert!(acc.is_empty());
}
