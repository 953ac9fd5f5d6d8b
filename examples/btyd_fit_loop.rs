//! Benchmark W3, fit stage only: repeats crmkit's fit stage (both
//! collapses and both fits) on one simulated summary and prints the mean
//! CPU time of this thread for each step per loop (worker threads of the
//! BG/NBD fit from 65,536 distinct rows are not counted), for profiling (`perf record`) and for
//! per-fit overheads that a single run cannot resolve.
//!
//! ```text
//! cargo build --release --features synth --example btyd_fit_loop
//! target/release/examples/btyd_fit_loop 2357 1000      # n, loops [all|bg|gg]
//! ```
use chrono::{TimeDelta, TimeZone, Utc};
use crmkit::metrics::btyd::FitOptions;
use crmkit::metrics::btyd::bgnbd::{BgNbdData, BgNbdParams};
use crmkit::metrics::btyd::gamma_gamma::{GammaGammaData, GammaGammaParams};
use crmkit::metrics::btyd::simulate::simulate_transactions;
use crmkit::metrics::btyd::summary::{SummaryOptions, summarize};
use rand::SeedableRng;

/// This thread's CPU time in seconds (Linux; 0 elsewhere).
fn cpu_now() -> f64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(0.0, |ns| ns * 1e-9)
}

fn main() {
    let mut args = std::env::args().skip(1);
    let n: u64 = args.next().map(|s| s.parse().unwrap()).unwrap_or(2357);
    let loops: usize = args.next().map(|s| s.parse().unwrap()).unwrap_or(1000);
    let what: String = args.next().unwrap_or_else(|| "all".into());
    let truth = BgNbdParams::new(0.243, 4.414 * 7.0, 0.793, 2.426).unwrap();
    let gg_truth = GammaGammaParams::new(6.25, 3.74, 15.44).unwrap();
    let start = Utc.with_ymd_and_hms(1997, 1, 1, 0, 0, 0).unwrap();
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
    )
    .unwrap();
    let summary = summarize(tx.iter().cloned(), &SummaryOptions::daily(end)).unwrap();
    let mut t = [0.0f64; 4];
    let mut chk = 0.0;
    for _ in 0..loops {
        let t0 = cpu_now();
        let data = BgNbdData::from_summary(&summary).unwrap();
        let t1 = cpu_now();
        if what == "all" || what == "bg" {
            let bg = data.fit(&FitOptions::default()).unwrap();
            chk += bg.params.r();
        }
        let t2 = cpu_now();
        let gd = GammaGammaData::from_summary(&summary).unwrap();
        let t3 = cpu_now();
        if what == "all" || what == "gg" {
            let gg = gd.fit(&FitOptions::default()).unwrap();
            chk += gg.params.p();
        }
        let t4 = cpu_now();
        for (k, d) in [t1 - t0, t2 - t1, t3 - t2, t4 - t3].iter().enumerate() {
            t[k] += *d;
        }
    }
    let l = loops as f64;
    println!(
        "per loop ms: bg collapse {:.4} bg fit {:.4} gg collapse {:.4} gg fit {:.4} total {:.4} (chk {chk})",
        t[0] / l * 1e3,
        t[1] / l * 1e3,
        t[2] / l * 1e3,
        t[3] / l * 1e3,
        t.iter().sum::<f64>() / l * 1e3
    );
}
