//! Benchmark W3 (predictive CLV), crmkit side of the peer comparison.
//!
//! Generates CDNOW-like transactions with a fixed seed, writes them to
//! `bench/peers/data/w3_<n>.csv` for the Python peers, then times crmkit's
//! three stages on the data in memory (median of `runs`) and writes the
//! timings, the summary and the fitted parameters to
//! `bench/peers/data/w3_<n>_crmkit.json`. It also prints the CPU time of
//! each step (collapses, fits, predictions; the main thread's time from
//! `/proc/thread-self/schedstat`, which registers only steps of several
//! milliseconds; the summary, the CLV and, from 65,536 distinct rows, the
//! fit stage work on more than one thread at 1,000,000 customers, so for
//! them it is the calling thread's share) and how many distinct `(x, T)`
//! the distinct rows share. The JSON's `cpu_seconds` are the process's CPU
//! time per stage over all threads (`/proc/self/stat`, 10 ms ticks),
//! averaged over the runs.
//!
//! ```text
//! cargo run --release --features synth --example btyd_peer -- 2357 7
//! ```
//! `bench/peers/run_w3.sh` runs it and the peers.

use std::error::Error;
use std::fmt::Write as _;
use std::time::Instant;

use chrono::{TimeDelta, TimeZone, Utc};
use crmkit::metrics::btyd::bgnbd::{BgNbdData, BgNbdFit, BgNbdParams};
use crmkit::metrics::btyd::clv::{ClvOptions, lifetime_values};
use crmkit::metrics::btyd::gamma_gamma::{GammaGammaFit, GammaGammaParams};
use crmkit::metrics::btyd::simulate::simulate_transactions;
use crmkit::metrics::btyd::summary::{Summary, SummaryOptions, summarize_slice};
use crmkit::metrics::btyd::{FitOptions, collapse_summary};
use rand::SeedableRng;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

/// Stage 2: collapse the summary's rows and fit both models.
fn fit(
    summary: &Summary<u64>,
    steps: &mut Steps,
) -> Result<(BgNbdData, BgNbdFit, GammaGammaFit), Box<dyn Error>> {
    // Both collapses in one call (on two threads from 100,000 customers).
    let (data, gg_data) = steps.time("collapses", || collapse_summary(summary))?;
    let bg = steps.time("bg fit", || data.fit(&FitOptions::default()))?;
    let gg = steps.time("gg fit", || gg_data.fit(&FitOptions::default()))?;
    Ok((data, bg, gg))
}

/// This thread's time on a CPU in seconds (Linux; 0 elsewhere). On a
/// shared machine it moves much less than wall time with the load.
fn cpu_now() -> f64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(0.0, |ns| ns * 1e-9)
}

/// This process's CPU time in seconds, all threads (including finished
/// ones), from `/proc/self/stat` (Linux; 0 elsewhere): clock ticks of
/// 10 ms, so only meaningful summed over runs.
fn process_cpu_now() -> f64 {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            // Fields after the parenthesised command: utime is the 12th, stime the 13th.
            let rest = s.rsplit_once(')')?.1;
            let f: Vec<&str> = rest.split_whitespace().collect();
            let ticks = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
            Some(ticks / 100.0)
        })
        .unwrap_or(0.0)
}

/// Per-step CPU times within the stages, by step name, one entry per run.
#[derive(Default)]
struct Steps(Vec<(&'static str, Vec<f64>)>);

impl Steps {
    fn time<T>(&mut self, name: &'static str, f: impl FnOnce() -> T) -> T {
        let t0 = cpu_now();
        let out = f();
        let s = cpu_now() - t0;
        match self.0.iter_mut().find(|(n, _)| *n == name) {
            Some((_, v)) => v.push(s),
            None => self.0.push((name, vec![s])),
        }
        out
    }
}

/// Stage 3: P(alive) and expected purchases in the next 30 days per
/// distinct `(x, t_x, T)` row, and the 12-month CLV at 1% a month for
/// every customer; returns the customer-weighted sums as a checksum.
fn predict(
    summary: &Summary<u64>,
    data: &BgNbdData,
    bg: &BgNbdParams,
    gg: &GammaGammaParams,
    steps: &mut Steps,
) -> Result<[f64; 3], Box<dyn Error>> {
    let mut sums = [0.0; 3];
    steps.time("rows: alive + E[30d]", || -> Result<(), Box<dyn Error>> {
        let alive = data.probability_alive(bg);
        let expected = data.conditional_expected_purchases(bg, 30.0)?;
        for (((_, _, _, w), p), e) in data.rows().zip(alive).zip(expected) {
            sums[0] += w * p;
            sums[1] += w * e;
        }
        Ok(())
    })?;
    let values = steps.time("clv per customer", || {
        lifetime_values(summary, bg, gg, &ClvOptions::daily(12, 0.01)?)
    })?;
    sums[2] = values.iter().sum();
    Ok(sums)
}

fn main() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args().skip(1);
    let n: u64 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(2357);
    let runs: usize = args.next().map(|s| s.parse()).transpose()?.unwrap_or(7);
    let dir = std::path::Path::new("bench/peers/data");
    std::fs::create_dir_all(dir)?;

    // CDNOW estimates (Fader, Hardie & Lee 2005) with α in days; 78 weeks
    // of data, customers acquired in the first 12 weeks.
    let truth = BgNbdParams::new(0.243, 4.414 * 7.0, 0.793, 2.426)?;
    let gg_truth = GammaGammaParams::new(6.25, 3.74, 15.44)?;
    let start = Utc
        .with_ymd_and_hms(1997, 1, 1, 0, 0, 0)
        .single()
        .ok_or("start")?;
    let end = start + TimeDelta::weeks(78);
    let mut rng = rand::rngs::StdRng::seed_from_u64(n);
    let tx = simulate_transactions(
        &mut rng,
        &truth,
        &gg_truth,
        n,
        start,
        end,
        TimeDelta::weeks(12),
        TimeDelta::days(1),
    )?;
    let mut csv = String::with_capacity(tx.len() * 40);
    csv.push_str("customer_id,at,amount\n");
    for (k, at, amount) in &tx {
        writeln!(csv, "{k},{},{amount}", at.format("%Y-%m-%d %H:%M:%S%.3f"))?;
    }
    // Written to disk before the timed runs: otherwise the kernel writes
    // the ~100 MB back while they run, on the same two cores.
    let file = std::fs::File::create(dir.join(format!("w3_{n}.csv")))?;
    std::io::Write::write_all(&mut &file, csv.as_bytes())?;
    file.sync_all()?;

    let options = SummaryOptions::daily(end);
    let mut times = [Vec::new(), Vec::new(), Vec::new()];
    let mut result = None;
    let mut steps = Steps::default();
    let mut process_cpu = [0.0; 3];
    for _ in 0..runs {
        let c0 = process_cpu_now();
        let t0 = Instant::now();
        let summary = steps.time("summary", || summarize_slice(&tx, &options))?;
        let t1 = Instant::now();
        let c1 = process_cpu_now();
        let (data, bg, gg) = fit(&summary, &mut steps)?;
        let t2 = Instant::now();
        let c2 = process_cpu_now();
        let sums = predict(&summary, &data, &bg.params, &gg.params, &mut steps)?;
        let distinct = data.distinct_rows();
        let t3 = Instant::now();
        let c3 = process_cpu_now();
        process_cpu[0] += c1 - c0;
        process_cpu[1] += c2 - c1;
        process_cpu[2] += c3 - c2;
        times[0].push((t1 - t0).as_secs_f64());
        times[1].push((t2 - t1).as_secs_f64());
        times[2].push((t3 - t2).as_secs_f64());
        result = Some((summary, bg, gg, distinct, sums));
    }
    let (summary, bg, gg, distinct, sums) = result.ok_or("runs must be >= 1")?;
    // Rows come sorted by x, then T: equal (x, T) are adjacent.
    let result_rows: Vec<(f64, f64, f64)> = BgNbdData::from_summary(&summary)?
        .rows()
        .map(|(x, t_x, age, _)| (x, t_x, age))
        .collect();
    let [summary_s, fit_s, predict_s] = times.map(median);
    // Stage CPU times of the process (all threads), mean per run.
    let cpu = process_cpu.map(|c| c / runs as f64);

    let p = bg.params;
    let q = gg.params;
    let mut json = String::new();
    write!(
        json,
        "{{\"customers\": {n}, \"transactions\": {}, \"distinct_rows\": {distinct}, \"runs\": {runs},\n \
         \"observation_end\": \"{}\",\n \
         \"seconds\": {{\"summary\": {summary_s:e}, \"fit\": {fit_s:e}, \"predict\": {predict_s:e}}},\n \
         \"cpu_seconds\": {{\"summary\": {:e}, \"fit\": {:e}, \"predict\": {:e}}},\n \
         \"bgnbd\": {{\"r\": {}, \"alpha\": {}, \"a\": {}, \"b\": {}, \"ll\": {}, \"iterations\": {}, \"converged\": {}}},\n \
         \"gamma_gamma\": {{\"p\": {}, \"q\": {}, \"v\": {}, \"ll\": {}, \"iterations\": {}, \"converged\": {}}},\n \
         \"sums\": {{\"p_alive\": {}, \"expected_30\": {}, \"clv_12\": {}}},\n \
         \"summary_rows\": [",
        tx.len(),
        end.format("%Y-%m-%d %H:%M:%S"),
        cpu[0],
        cpu[1],
        cpu[2],
        p.r(),
        p.alpha(),
        p.a(),
        p.b(),
        bg.report.log_likelihood,
        bg.report.iterations,
        bg.report.converged,
        q.p(),
        q.q(),
        q.v(),
        gg.report.log_likelihood,
        gg.report.iterations,
        gg.report.converged,
        sums[0],
        sums[1],
        sums[2],
    )?;
    // The first 1000 customers' summaries, for the peers to check theirs.
    for (i, c) in summary.customers().iter().take(1000).enumerate() {
        let sep = if i == 0 { "" } else { "," };
        write!(
            json,
            "{sep}[{}, {}, {}, {}, \"{}\"]",
            c.customer, c.frequency, c.recency, c.age, c.monetary_value
        )?;
    }
    json.push_str("]}\n");
    std::fs::write(dir.join(format!("w3_{n}_crmkit.json")), json)?;
    println!(
        "crmkit W3 n={n}: {} transactions, {distinct} distinct rows; summary {summary_s:.4}s fit {fit_s:.4}s predict {predict_s:.4}s",
        tx.len()
    );
    let mut pairs: Vec<(u64, u64)> = result_rows
        .iter()
        .map(|&(x, _, age)| (x.to_bits(), age.to_bits()))
        .collect();
    pairs.dedup();
    let mut line = format!(
        "  {} distinct (x, T) of the {distinct} rows; process CPU s per run (all threads): summary {:.4} fit {:.4} predict {:.4}; calling thread's CPU s (medians):",
        pairs.len(),
        cpu[0],
        cpu[1],
        cpu[2]
    );
    for (name, v) in steps.0 {
        write!(line, " {name} {:.4};", median(v))?;
    }
    println!("{line}");
    // The fit stage uses worker threads at this size; their CPU time is in
    // the process total only (10 ms ticks: read it over many runs).
    println!(
        "  fit stage process CPU (all threads) {:.4} s per run, mean of {runs}",
        cpu[1]
    );
    println!(
        "  bgnbd r={:.4} alpha={:.4} a={:.4} b={:.4} ({} it, converged {}, gradient {:.1e}); gg p={:.4} q={:.4} v={:.4} ({} it, gradient {:.1e})",
        p.r(),
        p.alpha(),
        p.a(),
        p.b(),
        bg.report.iterations,
        bg.report.converged,
        bg.report.gradient_norm,
        q.p(),
        q.q(),
        q.v(),
        gg.report.iterations,
        gg.report.gradient_norm
    );
    Ok(())
}
