//! Benchmark W1 (DESIGN.md): NPS and CSAT per segment x month over
//! 10,000,000 generated responses, and the floor (one single-threaded pass
//! summing score, segment and month).
//!
//! `cargo bench --features synth --bench survey`

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use crmkit::metrics::accumulator::Accumulator;
use crmkit::metrics::columnar::by_key_pair;
use crmkit::metrics::csat::Csat;
use crmkit::metrics::nps::Nps;
use crmkit::metrics::score::ScoreRange;
use crmkit::synth::{BENCH_SEED, SurveySpec, Synth};

fn w1(c: &mut Criterion) {
    let data = Synth::new(BENCH_SEED).survey_columns(&SurveySpec::W1);
    let (segs, months) = (data.segment_count as usize, data.month_count as usize);
    let csat = Csat::new(ScoreRange::ZERO_TO_TEN, 8).expect("threshold on the scale");
    let mut group = c.benchmark_group("w1_survey");
    group.sample_size(10);
    group.bench_function("crmkit_nps_csat_segment_month", |b| {
        b.iter(|| {
            let nps = by_key_pair(
                &Nps::standard(),
                black_box(&data.scores),
                black_box(&data.segments),
                segs,
                black_box(&data.months),
                months,
                0,
            )
            .expect("valid columns");
            nps.iter()
                .map(|g| {
                    let c = csat
                        .with_histogram(g.histogram().clone())
                        .expect("same range");
                    (g.finish(), c.finish())
                })
                .collect::<Vec<_>>()
        })
    });
    group.bench_function("crmkit_single_thread", |b| {
        b.iter(|| {
            by_key_pair(
                &Nps::standard(),
                black_box(&data.scores),
                black_box(&data.segments),
                segs,
                black_box(&data.months),
                months,
                1,
            )
            .expect("valid columns")
        })
    });
    group.bench_function("floor_sum_columns", |b| {
        b.iter(|| {
            black_box(&data.scores)
                .iter()
                .zip(black_box(&data.segments))
                .zip(black_box(&data.months))
                .map(|((&s, &g), &m)| u64::from(s) + u64::from(g) + u64::from(m))
                .sum::<u64>()
        })
    });
    group.finish();
}

criterion_group!(benches, w1);
criterion_main!(benches);
