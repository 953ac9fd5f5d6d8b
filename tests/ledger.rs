//! The ledger route equals the batch route: `push_ledger` of a
//! [`Ledger`] gives the same accumulator and results as `push_batch` of its
//! transactions, for the RFM, value and purchase-cohort accumulators.

use chrono::{DateTime, Duration, TimeZone, Utc};
use crmkit::domain::{Currency, CustomerId, Granularity, Money, Period};
use crmkit::metrics::activity::{RelationshipError, Transaction};
use crmkit::metrics::cohort::{CohortSpec, PurchaseCohortAccumulator};
use crmkit::metrics::ledger::Ledger;
use crmkit::metrics::rfm::{RfmAccumulator, SegmentTable};
use crmkit::metrics::value::ValueAccumulator;
use proptest::prelude::*;
use rust_decimal::Decimal;

#[path = "ledger_rows.rs"]
mod rows;
use rows::*;

/// RFM as-of: day 200 (rows go to day 330).
fn as_of() -> DateTime<Utc> {
    base() + Duration::days(200)
}
/// Monthly in Berlin from day 20 (2025-10-21) to day 230 (2026-05-19):
/// crosses the end of summer time in October and its start in March;
/// rows go from day -30 to day 330.
fn monthly_berlin() -> CohortSpec {
    let window = Period::new(base() + Duration::days(20), base() + Duration::days(230)).unwrap();
    CohortSpec::new(window, Granularity::Month, chrono_tz::Europe::Berlin).unwrap()
}
/// Daily in UTC from day 50 to day 120 (70 buckets).
fn daily_utc() -> CohortSpec {
    let window = Period::new(base() + Duration::days(50), base() + Duration::days(120)).unwrap();
    CohortSpec::new(window, Granularity::Day, chrono_tz::UTC).unwrap()
}

fn ledger(rows: &[Transaction]) -> Ledger {
    Ledger::from_transactions(Currency::EUR, rows).unwrap()
}

/// RFM by both routes (with `head` pushed first by batch): the
/// accumulators and their scores are equal.
fn check_rfm(head: &[Transaction], tail: &[Transaction]) -> Result<(), TestCaseError> {
    let mut batch = RfmAccumulator::new(Currency::EUR, as_of());
    batch.push_batch(head).unwrap();
    batch.push_batch(tail).unwrap();
    let mut led = RfmAccumulator::new(Currency::EUR, as_of());
    led.push_batch(head).unwrap();
    led.push_ledger(&ledger(tail)).unwrap();
    prop_assert_eq!(&led, &batch);
    let table = SegmentTable::standard();
    match (led.finish(&table), batch.finish(&table)) {
        (Ok(mut a), Ok(mut b)) => {
            a.customers.sort_by_key(|x| x.customer);
            b.customers.sort_by_key(|x| x.customer);
            prop_assert_eq!(a, b);
        }
        (Err(a), Err(b)) => {
            prop_assert!(matches!(a, RelationshipError::NoData { .. }), "{a:?}");
            prop_assert_eq!(a, b);
        }
        (a, b) => prop_assert!(false, "ledger {a:?}, batch {b:?}"),
    }
    Ok(())
}

fn check_value(head: &[Transaction], tail: &[Transaction]) -> Result<(), TestCaseError> {
    let mut batch = ValueAccumulator::new(Currency::EUR);
    batch.push_batch(head).unwrap();
    batch.push_batch(tail).unwrap();
    let mut led = ValueAccumulator::new(Currency::EUR);
    led.push_batch(head).unwrap();
    led.push_ledger(&ledger(tail)).unwrap();
    prop_assert_eq!(&led, &batch);
    let (mut a, mut b) = (led.finish(), batch.finish());
    a.customers.sort_by_key(|x| x.customer);
    b.customers.sort_by_key(|x| x.customer);
    prop_assert_eq!(a, b);
    Ok(())
}

fn check_cohort(
    spec: &CohortSpec,
    head: &[Transaction],
    tail: &[Transaction],
) -> Result<(), TestCaseError> {
    let mut batch = PurchaseCohortAccumulator::new(spec.clone(), Currency::EUR);
    batch.push_batch(head).unwrap();
    batch.push_batch(tail).unwrap();
    let mut led = PurchaseCohortAccumulator::new(spec.clone(), Currency::EUR);
    led.push_batch(head).unwrap();
    led.push_ledger(&ledger(tail)).unwrap();
    prop_assert_eq!(&led, &batch);
    prop_assert_eq!(led.finish(), batch.finish());
    Ok(())
}

proptest! {
    #[test]
    fn rfm_ledger_equals_batch(rows in rows_strategy()) {
        check_rfm(&[], &rows)?;
    }

    #[test]
    fn value_ledger_equals_batch(rows in rows_strategy()) {
        check_value(&[], &rows)?;
    }

    #[test]
    fn cohort_ledger_equals_batch(rows in rows_strategy()) {
        check_cohort(&monthly_berlin(), &[], &rows)?;
        check_cohort(&daily_utc(), &[], &rows)?;
    }

    /// `push_ledger` into an accumulator holding the first `split` rows
    /// merges: the same as one `push_batch` of everything.
    #[test]
    fn ledger_into_a_non_empty_accumulator_merges(
        rows in rows_strategy(),
        split in 0usize..150,
    ) {
        let (head, tail) = rows.split_at(split.min(rows.len()));
        check_rfm(head, tail)?;
        check_value(head, tail)?;
        check_cohort(&monthly_berlin(), head, tail)?;
        check_cohort(&daily_utc(), head, tail)?;
    }

    /// A ledger in USD given to accumulators in EUR: a typed mismatch and
    /// nothing added.
    #[test]
    fn a_ledger_in_another_currency_changes_nothing(
        rows in rows_strategy(),
        usd in rows_strategy(),
    ) {
        let usd: Vec<Transaction> = usd
            .iter()
            .map(|t| {
                let amount = Money::new(t.signed_amount().amount(), Currency::USD);
                Transaction::refund(t.customer(), t.at(), amount, None).unwrap()
            })
            .collect();
        let usd = Ledger::from_transactions(Currency::USD, &usd).unwrap();
        let mismatch = RelationshipError::CurrencyMismatch {
            expected: Currency::EUR,
            found: Currency::USD,
        };

        let mut rfm = RfmAccumulator::new(Currency::EUR, as_of());
        rfm.push_batch(&rows).unwrap();
        let before = rfm.clone();
        prop_assert_eq!(rfm.push_ledger(&usd), Err(mismatch.clone()));
        prop_assert_eq!(&rfm, &before);

        let mut value = ValueAccumulator::new(Currency::EUR);
        value.push_batch(&rows).unwrap();
        let before = value.clone();
        prop_assert_eq!(value.push_ledger(&usd), Err(mismatch.clone()));
        prop_assert_eq!(&value, &before);

        for spec in [monthly_berlin(), daily_utc()] {
            let mut cohort = PurchaseCohortAccumulator::new(spec, Currency::EUR);
            cohort.push_batch(&rows).unwrap();
            let before = cohort.clone();
            prop_assert_eq!(cohort.push_ledger(&usd), Err(mismatch.clone()));
            prop_assert_eq!(&cohort, &before);
        }
    }
}

proptest! {
    /// One ledger read twice by the same accumulator: the same as its rows
    /// pushed twice (the second read merges).
    #[test]
    fn a_ledger_pushed_twice_equals_its_rows_pushed_twice(rows in rows_strategy()) {
        let ledger = ledger(&rows);
        let mut batch = RfmAccumulator::new(Currency::EUR, as_of());
        let mut led = RfmAccumulator::new(Currency::EUR, as_of());
        for _ in 0..2 {
            batch.push_batch(&rows).unwrap();
            led.push_ledger(&ledger).unwrap();
        }
        prop_assert_eq!(&led, &batch);
        let mut batch = ValueAccumulator::new(Currency::EUR);
        let mut led = ValueAccumulator::new(Currency::EUR);
        for _ in 0..2 {
            batch.push_batch(&rows).unwrap();
            led.push_ledger(&ledger).unwrap();
        }
        prop_assert_eq!(&led, &batch);
        let mut batch = PurchaseCohortAccumulator::new(monthly_berlin(), Currency::EUR);
        let mut led = PurchaseCohortAccumulator::new(monthly_berlin(), Currency::EUR);
        for _ in 0..2 {
            batch.push_batch(&rows).unwrap();
            led.push_ledger(&ledger).unwrap();
        }
        prop_assert_eq!(&led, &batch);
        prop_assert_eq!(led.finish(), batch.finish());
    }
}

/// Whether two results of the same push agree: both `Ok`, or both a
/// purchase before an acquisition (which row is found first may differ).
fn same_outcome(
    a: &Result<(), RelationshipError>,
    b: &Result<(), RelationshipError>,
) -> Result<bool, TestCaseError> {
    match (a, b) {
        (Ok(()), Ok(())) => Ok(true),
        (
            Err(RelationshipError::PurchaseBeforeAcquisition { .. }),
            Err(RelationshipError::PurchaseBeforeAcquisition { .. }),
        ) => Ok(false),
        _ => Err(TestCaseError::fail(format!("ledger {a:?}, batch {b:?}"))),
    }
}

proptest! {
    /// Acquisitions recorded before the push (sales dated earlier are
    /// rejected by both routes) and after it (the same check, the other
    /// way round).
    #[test]
    fn acquisitions_are_checked_alike(
        rows in rows_strategy(),
        acquired in prop::collection::vec((0u128..12, -40i64..340, 0i64..86_400), 0..8),
    ) {
        let acquired: Vec<(CustomerId, DateTime<Utc>)> = acquired
            .iter()
            .map(|&(cu, d, s)| (c(cu), base() + Duration::days(d) + Duration::seconds(s)))
            .collect();
        let ledger = ledger(&rows);

        // Before the push.
        let mut batch = ValueAccumulator::new(Currency::EUR);
        let mut led = ValueAccumulator::new(Currency::EUR);
        for &(cu, at) in &acquired {
            batch.record_acquisition(cu, at).unwrap();
            led.record_acquisition(cu, at).unwrap();
        }
        if same_outcome(&led.push_ledger(&ledger), &batch.push_batch(&rows))? {
            prop_assert_eq!(&led, &batch);
            let (mut a, mut b) = (led.finish(), batch.finish());
            a.customers.sort_by_key(|x| x.customer);
            b.customers.sort_by_key(|x| x.customer);
            prop_assert_eq!(a, b);
        }
        for spec in [monthly_berlin(), daily_utc()] {
            let mut batch = PurchaseCohortAccumulator::new(spec.clone(), Currency::EUR);
            let mut led = PurchaseCohortAccumulator::new(spec, Currency::EUR);
            for &(cu, at) in &acquired {
                batch.record_acquisition(cu, at).unwrap();
                led.record_acquisition(cu, at).unwrap();
            }
            if same_outcome(&led.push_ledger(&ledger), &batch.push_batch(&rows))? {
                prop_assert_eq!(&led, &batch);
                prop_assert_eq!(led.finish(), batch.finish());
            }
        }

        // After the push.
        let mut batch = ValueAccumulator::new(Currency::EUR);
        batch.push_batch(&rows).unwrap();
        let mut led = ValueAccumulator::new(Currency::EUR);
        led.push_ledger(&ledger).unwrap();
        for &(cu, at) in &acquired {
            if same_outcome(&led.record_acquisition(cu, at), &batch.record_acquisition(cu, at))? {
                prop_assert_eq!(&led, &batch);
            }
        }
        for spec in [monthly_berlin(), daily_utc()] {
            let mut batch = PurchaseCohortAccumulator::new(spec.clone(), Currency::EUR);
            batch.push_batch(&rows).unwrap();
            let mut led = PurchaseCohortAccumulator::new(spec, Currency::EUR);
            led.push_ledger(&ledger).unwrap();
            for &(cu, at) in &acquired {
                if same_outcome(&led.record_acquisition(cu, at), &batch.record_acquisition(cu, at))? {
                    prop_assert_eq!(&led, &batch);
                }
            }
            prop_assert_eq!(led.finish(), batch.finish());
        }
    }
}

/// A linear congruential generator (Knuth's MMIX constants): reproducible
/// pseudo-random rows without a `rand` dependency.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// 20,000 rows (above the kernel's single-threaded batch size of 16,384
/// rows outside unit tests, so both routes take the partitioned path) of
/// 1,500 customers.
fn lcg_rows(n: usize, seed: u64) -> Vec<Transaction> {
    let mut g = Lcg(seed);
    (0..n)
        .map(|_| {
            let raw: Raw = (
                u128::from(g.below(1_500)),
                g.below(360) as i64 - 30,
                g.below(86_400) as i64,
                if g.below(4) == 0 {
                    0
                } else {
                    g.below(1_000_000_000) as u32
                },
                g.below(5) != 0,
                g.below(1_000_000) as i64,
                g.below(4) as u32,
                if g.below(3) == 0 {
                    None
                } else {
                    Some((g.below(1_200_000) as i64 - 200_000, g.below(4) as u32))
                },
            );
            build(&raw)
        })
        .collect()
}

#[test]
fn twenty_thousand_rows_give_the_same_results_by_both_routes() {
    let rows = lcg_rows(20_000, 0x5eed);
    let ledger = ledger(&rows);
    assert_eq!(ledger.len(), 20_000);
    let mut ids: Vec<CustomerId> = rows.iter().map(|t| t.customer()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ledger.customer_count(), ids.len());

    let table = SegmentTable::standard();
    let mut batch = RfmAccumulator::new(Currency::EUR, as_of());
    batch.push_batch(&rows).unwrap();
    let mut led = RfmAccumulator::new(Currency::EUR, as_of());
    led.push_ledger(&ledger).unwrap();
    assert_eq!(led, batch);
    let (mut a, mut b) = (led.finish(&table).unwrap(), batch.finish(&table).unwrap());
    a.customers.sort_by_key(|x| x.customer);
    b.customers.sort_by_key(|x| x.customer);
    assert_eq!(a, b);

    let mut batch = ValueAccumulator::new(Currency::EUR);
    batch.push_batch(&rows).unwrap();
    let mut led = ValueAccumulator::new(Currency::EUR);
    led.push_ledger(&ledger).unwrap();
    assert_eq!(led, batch);
    let (mut a, mut b) = (led.finish(), batch.finish());
    a.customers.sort_by_key(|x| x.customer);
    b.customers.sort_by_key(|x| x.customer);
    assert_eq!(a, b);

    for spec in [monthly_berlin(), daily_utc()] {
        let mut batch = PurchaseCohortAccumulator::new(spec.clone(), Currency::EUR);
        batch.push_batch(&rows).unwrap();
        let mut led = PurchaseCohortAccumulator::new(spec, Currency::EUR);
        led.push_ledger(&ledger).unwrap();
        assert_eq!(led, batch);
        assert_eq!(led.finish().unwrap(), batch.finish().unwrap());
    }

    // Into non-empty accumulators: the first 7,000 rows by batch, the rest
    // as a ledger.
    let (head, tail) = rows.split_at(7_000);
    check_rfm(head, tail).unwrap();
    check_value(head, tail).unwrap();
    check_cohort(&monthly_berlin(), head, tail).unwrap();
}
