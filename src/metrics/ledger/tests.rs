//! Unit and property tests of [`Ledger`](super::Ledger).

use super::*;
use crate::metrics::cohort::{CohortSpec, PurchaseCohortAccumulator};
use crate::metrics::rfm::{RfmAccumulator, SegmentTable};
use crate::metrics::value::ValueAccumulator;
use chrono::{Duration, TimeZone, Utc};
use proptest::prelude::*;

#[path = "../../../tests/ledger_rows.rs"]
mod rows;
use rows::*;

/// A row as comparable values: the decimal strings keep each amount's
/// scale, so `1.50` and `1.5` differ.
type Key = (
    CustomerId,
    DateTime<Utc>,
    bool,
    Decimal,
    String,
    Option<String>,
);

fn key(t: &Transaction) -> Key {
    (
        t.customer(),
        t.at(),
        t.is_sale(),
        t.signed_amount().amount(),
        t.signed_amount().amount().to_string(),
        t.margin().map(|m| m.amount().to_string()),
    )
}

fn sorted(rows: impl IntoIterator<Item = Transaction>) -> Vec<Key> {
    let mut keys: Vec<Key> = rows.into_iter().map(|t| key(&t)).collect();
    keys.sort();
    keys
}

#[test]
fn a_hand_built_ledger_groups_and_gives_its_rows_back() {
    let at = |secs: i64, nanos: u32| {
        base() + Duration::seconds(secs) + Duration::nanoseconds(i64::from(nanos))
    };
    let (ann, bob, cy) = (c(1), c(2), c(3));
    let rows = vec![
        // Ann: a sale of 19.99 (margin 5.5), a refund of 5 (margin 2 given back).
        Transaction::sale(
            ann,
            at(10, 250_000_000),
            eur(Decimal::new(1999, 2)),
            Some(eur(Decimal::new(55, 1))),
        )
        .unwrap(),
        Transaction::sale(bob, at(20, 1), eur(Decimal::new(5, 0)), None).unwrap(),
        Transaction::refund(
            ann,
            at(30, 999_999_999),
            eur(Decimal::new(5, 0)),
            Some(eur(Decimal::new(2, 0))),
        )
        .unwrap(),
        // Bob: a loss-making sale (margin -1.25).
        Transaction::sale(
            bob,
            at(40, 0),
            eur(Decimal::new(300, 2)),
            Some(eur(Decimal::new(-125, 2))),
        )
        .unwrap(),
        // Cy: a refund only, without margin.
        Transaction::refund(cy, at(50, 500), eur(Decimal::new(1, 2)), None).unwrap(),
        // Ann again, at the same instant as her first sale.
        Transaction::sale(ann, at(10, 250_000_000), eur(Decimal::new(0, 0)), None).unwrap(),
    ];
    let ledger = Ledger::from_transactions(Currency::EUR, &rows).unwrap();
    // 6 rows of 3 customers (Ann 3, Bob 2, Cy 1).
    assert_eq!(ledger.len(), 6);
    assert!(!ledger.is_empty());
    assert_eq!(ledger.customer_count(), 3);
    assert_eq!(ledger.currency(), Currency::EUR);
    // The largest scale among 19.99, 5.5, 5, 2, 3.00, -1.25, 0.01, 0: 2.
    assert_eq!(ledger.scale(), 2);
    let back: Vec<Transaction> = ledger.transactions().collect();
    assert_eq!(back.len(), 6);
    assert_eq!(sorted(back.iter().copied()), sorted(rows.iter().copied()));
    // Each customer's rows come back together, in input order.
    let anns: Vec<Transaction> = back
        .iter()
        .copied()
        .filter(|t| t.customer() == ann)
        .collect();
    assert_eq!(anns, vec![rows[0], rows[2], rows[5]]);
    let first_ann = back.iter().position(|t| t.customer() == ann).unwrap();
    assert!(
        back[first_ann..first_ann + 3]
            .iter()
            .all(|t| t.customer() == ann)
    );
    // The refund's margin is given back as stored: -2 (signed like the amount -5).
    assert_eq!(anns[1].margin(), Some(eur(Decimal::from(-2))));
    assert_eq!(anns[1].signed_amount(), eur(Decimal::from(-5)));
    // The scale of each amount survives: 3.00 stays 3.00, 5 stays 5.
    let bobs: Vec<String> = back
        .iter()
        .filter(|t| t.customer() == bob)
        .map(|t| t.signed_amount().amount().to_string())
        .collect();
    assert_eq!(bobs, vec!["5".to_owned(), "3.00".to_owned()]);

    let debug = format!("{ledger:?}");
    assert!(
        debug.contains("EUR") && debug.contains('6') && debug.contains('3'),
        "{debug}"
    );
    for id in [ann, bob, cy] {
        assert!(!debug.contains(&id.to_string()), "{debug}");
        assert!(!debug.contains(&format!("{id:?}")), "{debug}");
    }
    assert!(!debug.contains("19.99"), "{debug}");
}

#[test]
fn an_empty_slice_is_an_empty_ledger() {
    let ledger = Ledger::from_transactions(Currency::USD, &[]).unwrap();
    assert!(ledger.is_empty());
    assert_eq!((ledger.len(), ledger.customer_count()), (0, 0));
    assert_eq!(ledger.currency(), Currency::USD);
    assert_eq!(ledger.transactions().count(), 0);
    // Read by an accumulator it adds nothing.
    let mut value = ValueAccumulator::new(Currency::USD);
    value.push_ledger(&ledger).unwrap();
    assert_eq!(value, ValueAccumulator::new(Currency::USD));
}

#[test]
fn a_row_in_another_currency_is_a_mismatch() {
    let usd = Money::new(Decimal::new(100, 2), Currency::USD);
    let mut rows: Vec<Transaction> = (0..20)
        .map(|i| {
            Transaction::sale(
                c(i % 5),
                base() + Duration::days(i as i64),
                eur(Decimal::ONE),
                None,
            )
            .unwrap()
        })
        .collect();
    // Once at the end of a small batch, once in the middle of a partitioned one.
    for at in [3, 17] {
        let mut rows = rows.clone();
        rows.truncate(at + 1);
        rows[at] = Transaction::sale(c(1), base(), usd, None).unwrap();
        assert_eq!(
            Ledger::from_transactions(Currency::EUR, &rows).unwrap_err(),
            RelationshipError::CurrencyMismatch {
                expected: Currency::EUR,
                found: Currency::USD
            }
        );
    }
    rows[12] = Transaction::refund(c(2), base(), usd, None).unwrap();
    assert!(matches!(
        Ledger::from_transactions(Currency::EUR, &rows),
        Err(RelationshipError::CurrencyMismatch {
            expected: Currency::EUR,
            found: Currency::USD
        })
    ));
}

#[test]
fn an_amount_too_large_for_i64_units_is_an_overflow() {
    // 10^20 at scale 0 fits a Decimal; at the ledger's scale 2 it is
    // 10^22 units, above i64::MAX (about 9.2 * 10^18).
    let huge = eur(Decimal::from_i128_with_scale(10i128.pow(20), 0));
    let cents = eur(Decimal::new(1999, 2));
    for n in [2usize, 30] {
        let mut rows: Vec<Transaction> = (0..n)
            .map(|i| Transaction::sale(c(i as u128), base(), cents, None).unwrap())
            .collect();
        rows[n / 2] = Transaction::sale(c(99), base(), huge, None).unwrap();
        assert!(matches!(
            Ledger::from_transactions(Currency::EUR, &rows),
            Err(RelationshipError::Overflow { .. })
        ));
        // The same through a margin and a refund.
        rows[n / 2] = Transaction::refund(c(99), base(), cents, Some(huge)).unwrap();
        assert!(matches!(
            Ledger::from_transactions(Currency::EUR, &rows),
            Err(RelationshipError::Overflow { .. })
        ));
    }
    // 10^18 alone at scale 0 is 10^18 units (< 9.2 * 10^18): it fits.
    let big = eur(Decimal::from_i128_with_scale(10i128.pow(18), 0));
    let rows = [Transaction::sale(c(1), base(), big, None).unwrap()];
    let ledger = Ledger::from_transactions(Currency::EUR, &rows).unwrap();
    assert_eq!(ledger.transactions().collect::<Vec<_>>(), rows.to_vec());
    // With cents beside it the scale is 2: 10^20 units, too many.
    let rows = [
        Transaction::sale(c(1), base(), big, None).unwrap(),
        Transaction::sale(c(2), base(), cents, None).unwrap(),
    ];
    assert!(matches!(
        Ledger::from_transactions(Currency::EUR, &rows),
        Err(RelationshipError::Overflow { .. })
    ));
}

proptest! {
    #[test]
    fn transactions_give_the_rows_back(rows in rows_strategy()) {
        let ledger = Ledger::from_transactions(Currency::EUR, &rows).unwrap();
        prop_assert_eq!(ledger.len(), rows.len());
        prop_assert_eq!(ledger.is_empty(), rows.is_empty());
        let mut ids: Vec<CustomerId> = rows.iter().map(|t| t.customer()).collect();
        ids.sort();
        ids.dedup();
        prop_assert_eq!(ledger.customer_count(), ids.len());
        let back: Vec<Transaction> = ledger.transactions().collect();
        prop_assert_eq!(sorted(back.iter().copied()), sorted(rows.iter().copied()));
        // Each customer's rows: one contiguous run, in input order.
        let mut seen: Vec<CustomerId> = Vec::new();
        for (k, t) in back.iter().enumerate() {
            if k == 0 || back[k - 1].customer() != t.customer() {
                prop_assert!(!seen.contains(&t.customer()));
                seen.push(t.customer());
            }
        }
        for id in ids {
            let a: Vec<Transaction> = rows.iter().copied().filter(|t| t.customer() == id).collect();
            let b: Vec<Transaction> = back.iter().copied().filter(|t| t.customer() == id).collect();
            prop_assert_eq!(sorted(a.iter().copied()), sorted(b.iter().copied()));
            prop_assert_eq!(a, b);
        }
    }

    /// The accumulators' ledger route equals their batch route with the
    /// test-sized kernel thresholds (several threads and chunks above 8
    /// and 64 rows), into empty and non-empty accumulators.
    #[test]
    fn push_ledger_equals_push_batch_with_small_thresholds(
        rows in rows_strategy(),
        split in 0usize..150,
    ) {
        let split = split.min(rows.len());
        let (head, tail) = rows.split_at(split);
        let ledger = Ledger::from_transactions(Currency::EUR, &rows).unwrap();
        let tail_ledger = Ledger::from_transactions(Currency::EUR, tail).unwrap();

        let as_of = base() + Duration::days(200);
        let mut batch = RfmAccumulator::new(Currency::EUR, as_of);
        batch.push_batch(&rows).unwrap();
        let mut led = RfmAccumulator::new(Currency::EUR, as_of);
        led.push_ledger(&ledger).unwrap();
        prop_assert_eq!(&led, &batch);
        let mut merged = RfmAccumulator::new(Currency::EUR, as_of);
        merged.push_batch(head).unwrap();
        merged.push_ledger(&tail_ledger).unwrap();
        prop_assert_eq!(&merged, &batch);
        let table = SegmentTable::standard();
        match (led.finish(&table), batch.finish(&table)) {
            (Ok(mut a), Ok(mut b)) => {
                a.customers.sort_by_key(|x| x.customer);
                b.customers.sort_by_key(|x| x.customer);
                prop_assert_eq!(a, b);
            }
            (a, b) => prop_assert_eq!(a.err(), b.err()),
        }

        let mut batch = ValueAccumulator::new(Currency::EUR);
        batch.push_batch(&rows).unwrap();
        let mut led = ValueAccumulator::new(Currency::EUR);
        led.push_ledger(&ledger).unwrap();
        prop_assert_eq!(&led, &batch);
        let mut merged = ValueAccumulator::new(Currency::EUR);
        merged.push_batch(head).unwrap();
        merged.push_ledger(&tail_ledger).unwrap();
        prop_assert_eq!(&merged, &batch);
        let (mut a, mut b) = (led.finish(), batch.finish());
        a.customers.sort_by_key(|x| x.customer);
        b.customers.sort_by_key(|x| x.customer);
        prop_assert_eq!(a, b);

        let window = crate::domain::Period::new(base() + Duration::days(20), base() + Duration::days(230)).unwrap();
        let spec = CohortSpec::new(window, crate::domain::Granularity::Month, chrono_tz::Europe::Berlin).unwrap();
        let mut batch = PurchaseCohortAccumulator::new(spec.clone(), Currency::EUR);
        batch.push_batch(&rows).unwrap();
        let mut led = PurchaseCohortAccumulator::new(spec.clone(), Currency::EUR);
        led.push_ledger(&ledger).unwrap();
        prop_assert_eq!(&led, &batch);
        let mut merged = PurchaseCohortAccumulator::new(spec, Currency::EUR);
        merged.push_batch(head).unwrap();
        merged.push_ledger(&tail_ledger).unwrap();
        prop_assert_eq!(&merged, &batch);
        prop_assert_eq!(led.finish(), batch.finish());
    }
}

/// An accumulator filled from a ledger shares the ledger's customer index
/// until it learns a new customer; then it has its own, and neither the
/// ledger nor another accumulator filled from it sees the change.
#[test]
fn a_shared_index_is_copied_on_the_first_new_customer() {
    let day = |d: i64| base() + Duration::days(d);
    let sale = |cu: u128, d: i64| {
        Transaction::sale(c(cu), day(d), eur(Decimal::new(100 + d, 2)), None).unwrap()
    };
    // More rows than the test kernel's small batch, so the build and the
    // pass take the partitioned path.
    let first: Vec<Transaction> = (0..40).map(|k| sale(k % 9, k as i64)).collect();
    let later: Vec<Transaction> = (0..30).map(|k| sale(k % 13 + 5, 50 + k as i64)).collect();
    let ledger = Ledger::from_transactions(Currency::EUR, &first).unwrap();
    let shared = |l: &Ledger| {
        l.shards()
            .iter()
            .map(|s| Arc::strong_count(s.index()))
            .max()
    };

    let mut a = ValueAccumulator::new(Currency::EUR);
    a.push_ledger(&ledger).unwrap();
    let mut b = ValueAccumulator::new(Currency::EUR);
    b.push_ledger(&ledger).unwrap();
    assert_eq!(shared(&ledger), Some(3), "the ledger and both accumulators");
    assert_eq!(a, b);

    // New customers (5..18) and known ones (5..9) into `a` only.
    a.push_batch(&later).unwrap();
    let mut want = ValueAccumulator::new(Currency::EUR);
    want.push_batch(&first).unwrap();
    want.push_batch(&later).unwrap();
    assert_eq!(a, want);
    assert_eq!(a.len(), 18);
    // `b` and the ledger are as they were.
    let mut only_first = ValueAccumulator::new(Currency::EUR);
    only_first.push_batch(&first).unwrap();
    assert_eq!(b, only_first);
    assert_eq!(b.len(), 9);
    assert_eq!(ledger.customer_count(), 9);
    assert_eq!(sorted(ledger.transactions()), sorted(first.iter().copied()));
    drop((a, b));
    assert_eq!(shared(&ledger), Some(1));
}
