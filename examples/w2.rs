//! Workload W2 outside criterion, for the peer comparison in
//! `bench/peers/relationship/`.
//!
//! - `cargo run --release --features synth --example w2 -- export DIR`
//!   writes the generated ledger as `DIR/w2_purchases.csv`
//!   (customer, epoch seconds, kind, amount, margin) and the as-of instant.
//! - `cargo run --release --features synth --example w2 -- time REPEATS`
//!   prints the median seconds of RFM, historical CLV and monthly cohorts
//!   as JSON, plus check values the peers must reproduce (`W2_PHASES=1`:
//!   each run's `push_batch` and `finish` seconds on stderr).

use std::io::{BufWriter, Write};
use std::time::Instant;

use crmkit::domain::{Granularity, Period};
use crmkit::metrics::activity::TransactionKind;
use crmkit::metrics::cohort::{CohortSpec, PurchaseCohortAccumulator};
use crmkit::metrics::ledger::Ledger;
use crmkit::metrics::rfm::{RfmAccumulator, SegmentTable};
use crmkit::metrics::value::ValueAccumulator;
use crmkit::synth::purchases::{PurchaseSpec, purchases};

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let customers = std::env::var("W2_CUSTOMERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let spec = PurchaseSpec {
        customers,
        ..PurchaseSpec::w2()
    };
    let rows = purchases(&spec)?;
    let as_of = spec.end();
    match args.get(1).map(String::as_str) {
        Some("export") => {
            let dir = std::path::PathBuf::from(args.get(2).ok_or("export DIR")?);
            std::fs::create_dir_all(&dir)?;
            let mut w = BufWriter::new(std::fs::File::create(dir.join("w2_purchases.csv"))?);
            writeln!(w, "customer,ts,refund,amount,margin")?;
            for t in &rows {
                writeln!(
                    w,
                    "{},{},{},{},{}",
                    t.customer().as_uuid().as_u128(),
                    t.at().timestamp(),
                    u8::from(t.kind() == TransactionKind::Refund),
                    t.signed_amount().amount(),
                    t.margin().map(|m| m.amount()).unwrap_or_default(),
                )?;
            }
            // On disk before anything is timed: otherwise the kernel writes
            // the ~400 MB back while the next timed runs use the two cores.
            w.into_inner().map_err(|e| e.into_error())?.sync_all()?;
            std::fs::write(
                dir.join("w2_meta.json"),
                format!(
                    "{{\"start\": {}, \"as_of\": {}, \"rows\": {}, \"customers\": {}}}\n",
                    spec.start.timestamp(),
                    as_of.timestamp(),
                    rows.len(),
                    customers
                ),
            )?;
            eprintln!("wrote {} rows to {}", rows.len(), dir.display());
        }
        Some("time") => {
            let repeats: usize = args.get(2).and_then(|v| v.parse().ok()).unwrap_or(5);
            let n = customers as usize;
            let cohorts = CohortSpec::new(
                Period::new(spec.start, spec.end())?,
                Granularity::Month,
                chrono_tz::UTC,
            )?;
            let table = SegmentTable::standard();
            let (mut rfm, mut clv, mut coh) = (Vec::new(), Vec::new(), Vec::new());
            let (mut build, mut lrfm, mut lclv, mut lcoh) =
                (Vec::new(), Vec::new(), Vec::new(), Vec::new());
            let mut checks = String::new();
            // (task, push_batch, finish) of every run, printed to stderr
            // with W2_PHASES=1.
            let mut phases = Vec::new();
            for r in 0..repeats {
                let t0 = Instant::now();
                let mut acc = RfmAccumulator::with_capacity(spec.currency, as_of, n);
                acc.push_batch(&rows)?;
                let t1 = Instant::now();
                let scores = acc.finish(&table)?;
                rfm.push(t0.elapsed().as_secs_f64());
                phases.push(("rfm", t1 - t0, t1.elapsed()));

                let t0 = Instant::now();
                let mut acc = ValueAccumulator::with_capacity(spec.currency, n);
                acc.push_batch(&rows)?;
                let t1 = Instant::now();
                let value = acc.finish();
                clv.push(t0.elapsed().as_secs_f64());
                phases.push(("clv", t1 - t0, t1.elapsed()));

                let t0 = Instant::now();
                let mut acc =
                    PurchaseCohortAccumulator::with_capacity(cohorts.clone(), spec.currency, n);
                acc.push_batch(&rows)?;
                let t1 = Instant::now();
                let cohort = acc.finish()?;
                coh.push(t0.elapsed().as_secs_f64());
                phases.push(("cohorts", t1 - t0, t1.elapsed()));

                // The same three tasks on a ledger built once.
                let t0 = Instant::now();
                let ledger = Ledger::from_transactions(spec.currency, &rows)?;
                build.push(t0.elapsed().as_secs_f64());
                let t0 = Instant::now();
                let mut acc = RfmAccumulator::new(spec.currency, as_of);
                acc.push_ledger(&ledger)?;
                let l_scores = acc.finish(&table)?;
                lrfm.push(t0.elapsed().as_secs_f64());
                let t0 = Instant::now();
                let mut acc = ValueAccumulator::new(spec.currency);
                acc.push_ledger(&ledger)?;
                let l_value = acc.finish();
                lclv.push(t0.elapsed().as_secs_f64());
                let t0 = Instant::now();
                let mut acc = PurchaseCohortAccumulator::new(cohorts.clone(), spec.currency);
                acc.push_ledger(&ledger)?;
                let l_cohort = acc.finish()?;
                lcoh.push(t0.elapsed().as_secs_f64());
                drop(ledger);
                if r == 0 {
                    // Both routes give the same results.
                    let sorted = |mut v: Vec<_>| {
                        v.sort_by_key(|c: &crmkit::metrics::rfm::CustomerRfm| c.customer);
                        v
                    };
                    let by_customer = |mut v: Vec<crmkit::metrics::value::CustomerValue>| {
                        v.sort_by_key(|c| c.customer);
                        v
                    };
                    if sorted(l_scores.customers.clone()) != sorted(scores.customers.clone())
                        || by_customer(l_value.customers.clone())
                            != by_customer(value.customers.clone())
                        || (l_value.sales, l_value.refunds, l_value.orders)
                            != (value.sales, value.refunds, value.orders)
                        || l_cohort != cohort
                    {
                        return Err("ledger results differ from push_batch".into());
                    }
                }
                if r == 0 {
                    let sum_r: u64 = scores.customers.iter().map(|c| u64::from(c.r)).sum();
                    let sum_f: u64 = scores.customers.iter().map(|c| u64::from(c.f)).sum();
                    let sum_m: u64 = scores.customers.iter().map(|c| u64::from(c.m)).sum();
                    let revenue: rust_decimal::Decimal =
                        value.customers.iter().map(|c| c.revenue.amount()).sum();
                    let cells: u64 = cohort
                        .cohorts
                        .iter()
                        .flat_map(|c| &c.cells)
                        .map(|c| c.customers)
                        .sum();
                    checks = format!(
                        "{{\"scored\": {}, \"sum_r\": {sum_r}, \"sum_f\": {sum_f}, \"sum_m\": {sum_m}, \"total_revenue\": \"{revenue}\", \"cohort_cell_customers\": {cells}}}",
                        scores.customers.len()
                    );
                }
            }
            if std::env::var_os("W2_PHASES").is_some() {
                for (task, push, finish) in &phases {
                    eprintln!(
                        "{task:8} push_batch {:.3} s  finish {:.3} s",
                        push.as_secs_f64(),
                        finish.as_secs_f64()
                    );
                }
            }
            println!(
                "{{\"rows\": {}, \"rfm\": {}, \"clv\": {}, \"cohorts\": {}, \"ledger_build\": {}, \"ledger_rfm\": {}, \"ledger_clv\": {}, \"ledger_cohorts\": {}, \"checks\": {checks}}}",
                rows.len(),
                median(rfm),
                median(clv),
                median(coh),
                median(build),
                median(lrfm),
                median(lclv),
                median(lcoh)
            );
        }
        _ => return Err("usage: w2 export DIR | w2 time REPEATS".into()),
    }
    Ok(())
}
