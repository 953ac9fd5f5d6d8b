//! Benchmark W1 (DESIGN.md) outside criterion, for the peer comparison in
//! `bench/peers/survey/run.sh`.
//!
//! `cargo run --release --features synth --example w1_survey -- export DIR`
//! writes the generated columns as raw little-endian files
//! (`scores.u8`, `segments.u32`, `months.u32`) for the peers;
//! `... -- time RUNS` times crmkit (NPS and CSAT per segment x month) and the
//! floor (one single-threaded pass summing score, segment and month) on the
//! same data in memory and prints one JSON line per contender with the
//! median in milliseconds.

use std::hint::black_box;
use std::io::Write;
use std::time::Instant;

use crmkit::metrics::accumulator::Accumulator;
use crmkit::metrics::columnar::by_key_pair;
use crmkit::metrics::csat::Csat;
use crmkit::metrics::nps::Nps;
use crmkit::metrics::score::ScoreRange;
use crmkit::synth::{BENCH_SEED, SurveyColumns, SurveySpec, Synth};

/// NPS and CSAT (share at 8-10) with their means per segment x month: one
/// counting pass, then a finish per group.
fn crmkit_w1(c: &SurveyColumns, threads: usize) -> Result<f64, Box<dyn std::error::Error>> {
    let nps = by_key_pair(
        &Nps::standard(),
        &c.scores,
        &c.segments,
        c.segment_count as usize,
        &c.months,
        c.month_count as usize,
        threads,
    )?;
    let csat_template = Csat::new(ScoreRange::ZERO_TO_TEN, 8)?;
    let mut check = 0.0;
    for g in &nps {
        let n = g.finish();
        let csat = csat_template
            .with_histogram(g.histogram().clone())?
            .finish();
        check += n.estimate_f64() + csat.share();
    }
    Ok(check)
}

trait EstimateF64 {
    fn estimate_f64(&self) -> f64;
}

impl EstimateF64 for crmkit::metrics::nps::NpsResult {
    fn estimate_f64(&self) -> f64 {
        100.0 * (self.promoter_share() - self.detractor_share())
    }
}

/// The floor: one single-threaded pass summing the three columns.
fn floor(c: &SurveyColumns) -> u64 {
    c.scores
        .iter()
        .zip(&c.segments)
        .zip(&c.months)
        .map(|((&s, &g), &m)| u64::from(s) + u64::from(g) + u64::from(m))
        .sum()
}

fn median_ms(runs: usize, mut f: impl FnMut()) -> f64 {
    let mut times: Vec<f64> = (0..runs.max(1))
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let data = Synth::new(BENCH_SEED).survey_columns(&SurveySpec::W1);
    match args.get(1).map(String::as_str) {
        Some("export") => {
            let dir = std::path::PathBuf::from(args.get(2).ok_or("export needs a directory")?);
            std::fs::create_dir_all(&dir)?;
            std::fs::write(dir.join("scores.u8"), &data.scores)?;
            for (name, col) in [
                ("segments.u32", &data.segments),
                ("months.u32", &data.months),
            ] {
                let mut f = std::io::BufWriter::new(std::fs::File::create(dir.join(name))?);
                for v in col {
                    f.write_all(&v.to_le_bytes())?;
                }
                f.flush()?;
            }
            println!("wrote {} rows to {}", data.scores.len(), dir.display());
        }
        Some("time") => {
            let runs: usize = args.get(2).map_or(Ok(11), |s| s.parse())?;
            let _warm = crmkit_w1(&data, 0)?;
            let crm = median_ms(runs, || {
                let _ = black_box(crmkit_w1(black_box(&data), 0));
            });
            let crm1 = median_ms(runs, || {
                let _ = black_box(crmkit_w1(black_box(&data), 1));
            });
            let fl = median_ms(runs, || {
                let _ = black_box(floor(black_box(&data)));
            });
            println!("{{\"contender\": \"crmkit\", \"median_ms\": {crm:.3}}}");
            println!("{{\"contender\": \"crmkit (1 thread)\", \"median_ms\": {crm1:.3}}}");
            println!("{{\"contender\": \"floor\", \"median_ms\": {fl:.3}}}");
            // Checksums so the peers can verify they computed the same groups.
            let nps = by_key_pair(
                &Nps::standard(),
                &data.scores,
                &data.segments,
                50,
                &data.months,
                24,
                0,
            )?;
            let first = nps.first().map(|g| g.finish());
            if let Some(r) = first {
                println!(
                    "{{\"check\": \"segment 0 month 0\", \"n\": {}, \"nps\": \"{}\"}}",
                    r.n(),
                    r.score().unwrap_or_default()
                );
            }
        }
        _ => return Err("usage: w1_survey export DIR | time RUNS".into()),
    }
    Ok(())
}
