//! Generated transactions for the ledger tests, shared by the ledger's
//! unit tests (`src/metrics/ledger/tests.rs`, which runs the kernel with
//! its test-sized thresholds) and the integration tests (`tests/ledger.rs`):
//! each includes this file as a module; the includer's imports come in with
//! `use super::*`.

use super::*;

pub(super) fn c(i: u128) -> CustomerId {
    CustomerId::from_u128(i)
}
pub(super) fn eur(d: Decimal) -> Money {
    Money::new(d, Currency::EUR)
}
/// Day 0 of the generated rows.
pub(super) fn base() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 10, 1, 0, 0, 0).unwrap()
}

/// One generated row: customer, day, second of the day, nanosecond, sale,
/// amount units and scale, optional margin units and scale.
pub(super) type Raw = (u128, i64, i64, u32, bool, i64, u32, Option<(i64, u32)>);

pub(super) fn raw_row() -> impl Strategy<Value = Raw> {
    (
        0u128..12,
        -30i64..330,
        0i64..86_400,
        prop_oneof![Just(0u32), 0u32..1_000_000_000],
        any::<bool>(),
        0i64..1_000_000,
        0u32..=3,
        prop::option::of((-200_000i64..1_000_000, 0u32..=3)),
    )
}

pub(super) fn build(raw: &Raw) -> Transaction {
    let &(cu, d, s, ns, sale, units, scale, margin) = raw;
    let at =
        base() + Duration::days(d) + Duration::seconds(s) + Duration::nanoseconds(i64::from(ns));
    let amount = eur(Decimal::new(units, scale));
    let margin = margin.map(|(m, ms)| eur(Decimal::new(m, ms)));
    if sale {
        Transaction::sale(c(cu), at, amount, margin).unwrap()
    } else {
        Transaction::refund(c(cu), at, amount, margin).unwrap()
    }
}

pub(super) fn rows_strategy() -> impl Strategy<Value = Vec<Transaction>> {
    let edge = prop::option::weighted(0.15, prop::sample::select(edges()));
    prop::collection::vec((raw_row(), edge), 0..150).prop_map(|raw| {
        raw.iter()
            .map(|(r, edge)| {
                let t = build(r);
                edge.map_or(t, |at| moved(&t, at))
            })
            .collect()
    })
}

/// Instants on and next to the edges the accumulators test: the RFM as-of,
/// the cohort windows' ends, a Berlin month start, the start of summer
/// time, and instants before 1970 (negative seconds) and far ahead.
pub(super) fn edges() -> Vec<DateTime<Utc>> {
    let ns = Duration::nanoseconds(1);
    let mut out = Vec::new();
    for t in [
        base() + Duration::days(200),
        base() + Duration::days(20),
        base() + Duration::days(230),
        base() + Duration::days(50),
        base() + Duration::days(120),
        // 2026-03-01T00:00 in Berlin (CET, UTC+1).
        Utc.with_ymd_and_hms(2026, 2, 28, 23, 0, 0).unwrap(),
        // 2026-03-29T02:00 CET becomes 03:00 CEST.
        Utc.with_ymd_and_hms(2026, 3, 29, 1, 0, 0).unwrap(),
        Utc.with_ymd_and_hms(1970, 1, 1, 0, 0, 0).unwrap(),
    ] {
        out.extend([t - ns, t, t + ns]);
    }
    out.push(Utc.with_ymd_and_hms(1969, 12, 31, 23, 59, 59).unwrap() + Duration::milliseconds(500));
    out.push(Utc.with_ymd_and_hms(1960, 6, 1, 0, 0, 0).unwrap() + ns);
    out.push(Utc.with_ymd_and_hms(2100, 1, 1, 0, 0, 0).unwrap() - ns);
    out
}

/// `t` moved to `at`.
pub(super) fn moved(t: &Transaction, at: DateTime<Utc>) -> Transaction {
    if t.is_sale() {
        Transaction::sale(t.customer(), at, t.signed_amount(), t.margin()).unwrap()
    } else {
        // `margin()` of a refund is signed like its amount: give it as given.
        let margin = t.margin().map(|m| Money::new(-m.amount(), m.currency()));
        Transaction::refund(t.customer(), at, t.signed_amount(), margin).unwrap()
    }
}
