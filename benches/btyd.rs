//! Benchmark W3 (predictive CLV): purchase summary, BG/NBD + Gamma-Gamma
//! fit, and predictions (P(alive), expected purchases in 30 days per
//! distinct row, 12-month CLV per customer), at 2,357 customers (the size
//! of the CDNOW cohort) and at 1,000,000 customers.
//!
//! ```text
//! cargo bench --features synth --bench btyd
//! ```
//! The peers (lifetimes, btyd) are compared in `bench/peers/run_w3.sh`.

use std::hint::black_box;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use crmkit::metrics::btyd::FitOptions;
use crmkit::metrics::btyd::bgnbd::{BgNbdData, BgNbdParams};
use crmkit::metrics::btyd::clv::{ClvOptions, lifetime_values};
use crmkit::metrics::btyd::gamma_gamma::{GammaGammaData, GammaGammaParams};
use crmkit::metrics::btyd::simulate::simulate_transactions;
use crmkit::metrics::btyd::summary::{Summary, SummaryOptions, summarize_slice};
use rand::SeedableRng;
use rust_decimal::Decimal;

type Transactions = Vec<(u64, DateTime<Utc>, Decimal)>;

/// CDNOW-like transactions: the published CDNOW estimates with α in days,
/// 78 weeks of data, customers acquired in the first 12 weeks. Seed = n.
fn transactions(n: u64) -> (Transactions, DateTime<Utc>) {
    let truth = BgNbdParams::new(0.243, 4.414 * 7.0, 0.793, 2.426).expect("params");
    let gg = GammaGammaParams::new(6.25, 3.74, 15.44).expect("params");
    let start = Utc.with_ymd_and_hms(1997, 1, 1, 0, 0, 0).unwrap();
    let end = start + TimeDelta::weeks(78);
    let mut rng = rand::rngs::StdRng::seed_from_u64(n);
    let tx = simulate_transactions(
        &mut rng,
        &truth,
        &gg,
        n,
        start,
        end,
        TimeDelta::weeks(12),
        TimeDelta::days(1),
    )
    .expect("simulation");
    (tx, end)
}

fn fit(summary: &Summary<u64>) -> (BgNbdData, BgNbdParams, GammaGammaParams) {
    let data = BgNbdData::from_summary(summary).expect("data");
    let bg = data.fit(&FitOptions::default()).expect("fit").params;
    let gg = GammaGammaData::from_summary(summary)
        .expect("data")
        .fit(&FitOptions::default())
        .expect("fit")
        .params;
    (data, bg, gg)
}

fn predict(
    summary: &Summary<u64>,
    data: &BgNbdData,
    bg: &BgNbdParams,
    gg: &GammaGammaParams,
) -> f64 {
    let mut s = 0.0;
    let alive = data.probability_alive(bg);
    let expected = data
        .conditional_expected_purchases(bg, 30.0)
        .expect("expected");
    for (((_, _, _, w), p), e) in data.rows().zip(alive).zip(expected) {
        s += w * (p + e);
    }
    let options = ClvOptions::daily(12, 0.01).expect("options");
    s + lifetime_values(summary, bg, gg, &options)
        .expect("clv")
        .iter()
        .sum::<f64>()
}

fn w3(c: &mut Criterion) {
    for n in [2_357u64, 1_000_000] {
        let (tx, end) = transactions(n);
        let options = SummaryOptions::daily(end);
        let summary = summarize_slice(&tx, &options).expect("summary");
        let (data, bg, gg) = fit(&summary);
        let mut group = c.benchmark_group("w3_predictive");
        if n > 100_000 {
            group
                .sample_size(10)
                .warm_up_time(Duration::from_secs(1))
                .measurement_time(Duration::from_secs(10));
        }
        let _ = group.bench_with_input(BenchmarkId::new("summary", n), &tx, |b, tx| {
            b.iter(|| summarize_slice(black_box(tx), &options).expect("summary"))
        });
        let _ = group.bench_with_input(BenchmarkId::new("fit", n), &summary, |b, s| {
            b.iter(|| fit(black_box(s)))
        });
        let _ = group.bench_with_input(BenchmarkId::new("predict", n), &summary, |b, s| {
            b.iter(|| predict(black_box(s), &data, &bg, &gg))
        });
        let _ = group.bench_with_input(BenchmarkId::new("pipeline", n), &tx, |b, tx| {
            b.iter(|| {
                let s = summarize_slice(black_box(tx), &options).expect("summary");
                let (data, bg, gg) = fit(&s);
                predict(&s, &data, &bg, &gg)
            })
        });
        group.finish();
    }
}

criterion_group!(benches, w3);
criterion_main!(benches);
