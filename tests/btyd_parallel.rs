//! The buy-till-you-die paths that use two threads on large inputs give
//! exactly the values of the one-thread paths: the summary of a ledger in
//! memory, the batch predictions per distinct row and the CLV batch.

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use crmkit::metrics::btyd::bgnbd::{BgNbdData, BgNbdParams};
use crmkit::metrics::btyd::clv::{ClvOptions, customer_lifetime_value, lifetime_values};
use crmkit::metrics::btyd::gamma_gamma::GammaGammaParams;
use crmkit::metrics::btyd::summary::{SummaryOptions, summarize, summarize_slice};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

/// A deterministic ledger of 80,000 customers in customer-then-time order
/// (about 200,000 transactions, more than the 131,072 rows from which the
/// summary uses two threads), with a few rows after the observation end,
/// amounts in cents and some in tenths of a cent.
fn ledger() -> (Vec<(u64, DateTime<Utc>, Decimal)>, SummaryOptions) {
    let start = Utc.with_ymd_and_hms(2023, 1, 1, 0, 0, 0).unwrap();
    let end = start + TimeDelta::days(500);
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move |n: u64| {
        // xorshift64*: deterministic, good enough to spread the values.
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        state.wrapping_mul(0x2545_F491_4F6C_DD1D) % n
    };
    let mut tx = Vec::new();
    for customer in 0..80_000u64 {
        let mut at = start + TimeDelta::minutes(next(90 * 24 * 60) as i64);
        for _ in 0..=next(5) {
            let amount = if next(10) == 0 {
                Decimal::new(next(100_000) as i64, 3)
            } else {
                Decimal::new(next(20_000) as i64, 2)
            };
            tx.push((customer, at, amount));
            at += TimeDelta::minutes(next(200 * 24 * 60) as i64);
        }
    }
    (tx, SummaryOptions::daily(end))
}

#[test]
fn two_thread_summary_equals_the_sorting_summary() {
    let (tx, options) = ledger();
    assert!(tx.len() >= 1 << 17);
    let fast = summarize_slice(&tx, &options).unwrap();
    // Reversed input is not in customer-then-time order: summarize_slice
    // falls back to the sorting path, like summarize.
    let reversed: Vec<_> = tx.iter().rev().cloned().collect();
    let sorted = summarize(reversed.iter().cloned(), &options).unwrap();
    assert_eq!(fast, sorted);
    assert_eq!(summarize_slice(&reversed, &options).unwrap(), sorted);
    assert!(fast.excluded_transactions() > 0);
    for (f, s) in fast.customers().iter().zip(sorted.customers()) {
        assert_eq!(f.monetary_value.serialize(), s.monetary_value.serialize());
    }
}

#[test]
fn two_thread_predictions_equal_one_by_one() {
    let (tx, options) = ledger();
    let summary = summarize_slice(&tx, &options).unwrap();
    let bg = BgNbdParams::new(0.3, 25.0, 0.8, 2.5).unwrap();
    let gg = GammaGammaParams::new(6.0, 4.0, 15.0).unwrap();
    let clv = ClvOptions::daily(12, 0.01).unwrap();

    // 80,000 customers: two threads from 65,536.
    let values = lifetime_values(&summary, &bg, &gg, &clv).unwrap();
    assert_eq!(values.len(), summary.customers().len());
    for (c, v) in summary.customers().iter().zip(&values) {
        let one = customer_lifetime_value(
            &bg,
            &gg,
            f64::from(c.frequency),
            f64::from(c.recency),
            f64::from(c.age),
            c.monetary_value.to_f64().unwrap(),
            &clv,
        )
        .unwrap();
        assert_eq!(*v, one);
    }

    // Distinct rows with whole-number x, T and t_x <= T: more than the
    // 32,768 from which the row predictions use two threads.
    let rows = (0..40_000u32).map(|i| {
        // (i mod 50, i / 50) differ for every i below 50 × 800.
        let x = f64::from(1 + i % 50);
        let t_x = f64::from(1 + i / 50);
        let age = f64::from(800 + i % 7);
        (x, t_x, age)
    });
    let data = BgNbdData::new(rows.chain([(0.0, 0.0, 30.0)])).unwrap();
    assert!(data.distinct_rows() >= 1 << 15);
    let alive = data.probability_alive(&bg);
    let expected = data.conditional_expected_purchases(&bg, 30.0).unwrap();
    for (((x, t_x, age, _), p), e) in data.rows().zip(alive).zip(expected) {
        assert_eq!(p, bg.probability_alive(x, t_x, age).unwrap());
        assert_eq!(
            e,
            bg.conditional_expected_purchases(30.0, x, t_x, age)
                .unwrap()
        );
    }
}
