//! The customer-relations report, end to end on the embedded SQLite store.
//!
//! ```text
//! cargo run --release --all-features --example report
//! ```
//!
//! With no arguments it generates a synthetic business (about 5,000
//! customers over two years, `crmkit::synth::business`) into
//! `crmkit-report.sqlite`, computes the report from that SQLite file,
//! prints it and writes `report.html`. With `--purchases FILE` (and the
//! other files and format options, see `--help`) it imports your own CSV
//! exports into a fresh SQLite file instead and reports whatever they
//! support, saying what it skipped and why.

use std::error::Error;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc};
use crmkit::domain::{Currency, Period};
use crmkit::import::{Format, IdPolicy, Import, ImportError, Kind, Mapping};
use crmkit::metrics::revenue::FixedRates;
use crmkit::report::{Progress, Report, ReportSettings, Team};
use crmkit::store::sqlite::SqliteStore;
use crmkit::store::{
    CaseStore, PageRequest, PurchaseStore, Query, SurveyStore, blocking::block_on,
};
use crmkit::synth::business::{BusinessSpec, generate};
use indicatif::{ProgressBar, ProgressStyle};
use rust_decimal::Decimal;

const USAGE: &str = "\
crmkit report: the customer-relations report, printed and written as HTML.

USAGE:
    report [OPTIONS]                      a generated business (the demo)
    report --purchases FILE [OPTIONS]     your own CSV exports

FILES (CSV with a header row; columns named like crmkit::import::Kind::fields):
    --customers FILE      customers (needed for the follow-up queue's consent)
    --purchases FILE      sales and refunds
    --responses FILE      survey responses (NPS 0-10, CSAT 1-5, CES 1-7)
    --interactions FILE   contacts on any channel
    --cases FILE          support cases, one row per case event

FORMAT:
    --map KIND.FIELD=COLUMN   the column holding a field, e.g.
                              --map purchases.occurred_at='Order Date'
    --date-format FMT         a chrono format, e.g. '%d.%m.%Y' (repeatable)
    --tz ZONE                 time zone of local times and of the report's
                              months (default UTC)
    --currency CODE           currency of amounts without one, and the
                              report's currency (default EUR)
    --rate CODE=RATE          units of the report currency per unit of CODE,
                              e.g. --rate USD=0.92 (repeatable)
    --decimal-comma           amounts are written 12,50
    --delimiter CHAR          the field separator (default ,)
    --text-ids                ids are any text, not UUIDs
    --strict                  import nothing if any row is rejected

REPORT:
    --from YYYY-MM-DD         first day of the period (default: the month of
                              the earliest record, at most 24 months before
                              --to)
    --to YYYY-MM-DD           day after the period (default: the month after
                              the latest record; the demo: 2026-11-01)
    --db FILE                 the SQLite file, replaced on each run
                              (default crmkit-report.sqlite)
    --html FILE               where the HTML page goes (default report.html)
    -h, --help                this text
";

struct Args {
    files: Vec<(Kind, PathBuf)>,
    maps: Vec<(Kind, String, String)>,
    format: Format,
    currency: Currency,
    rates: Vec<(Currency, Decimal)>,
    strict: bool,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    db: PathBuf,
    html: PathBuf,
}

fn kind(name: &str) -> Option<Kind> {
    Kind::ALL.into_iter().find(|k| k.as_str() == name)
}

fn parse_args() -> Result<Option<Args>, Box<dyn Error>> {
    use lexopt::prelude::*;
    let mut args = Args {
        files: Vec::new(),
        maps: Vec::new(),
        format: Format::default(),
        currency: Currency::EUR,
        rates: Vec::new(),
        strict: false,
        from: None,
        to: None,
        db: PathBuf::from("crmkit-report.sqlite"),
        html: PathBuf::from("report.html"),
    };
    let mut parser = lexopt::Parser::from_env();
    while let Some(arg) = parser.next()? {
        match arg {
            Short('h') | Long("help") => {
                print!("{USAGE}");
                return Ok(None);
            }
            Long("strict") => args.strict = true,
            Long("decimal-comma") => args.format.decimal_separator = ',',
            Long("text-ids") => args.format.ids = IdPolicy::FromText,
            Long("date-format") => args.format.date_formats.push(parser.value()?.string()?),
            Long("tz") => {
                args.format.time_zone = parser
                    .value()?
                    .string()?
                    .parse()
                    .map_err(|e| format!("--tz: {e}"))?;
            }
            Long("currency") => args.currency = Currency::new(&parser.value()?.string()?)?,
            Long("rate") => {
                let v = parser.value()?.string()?;
                let (code, rate) = v.split_once('=').ok_or("--rate CODE=RATE")?;
                let rate: Decimal = rate.parse().map_err(|e| format!("--rate {v}: {e}"))?;
                args.rates.push((Currency::new(code)?, rate));
            }
            Long("delimiter") => {
                let v = parser.value()?.string()?;
                args.format.delimiter = *v.as_bytes().first().ok_or("--delimiter is empty")?;
            }
            Long("map") => {
                let v = parser.value()?.string()?;
                let (field, column) = v.split_once('=').ok_or("--map KIND.FIELD=COLUMN")?;
                let (k, field) = field.split_once('.').ok_or("--map KIND.FIELD=COLUMN")?;
                let k = kind(k).ok_or(format!("--map: unknown kind {k}"))?;
                args.maps.push((k, field.to_owned(), column.to_owned()));
            }
            Long("from") => args.from = Some(parser.value()?.string()?.parse()?),
            Long("to") => args.to = Some(parser.value()?.string()?.parse()?),
            Long("db") => args.db = parser.value()?.into(),
            Long("html") => args.html = parser.value()?.into(),
            Long(name) if kind(name).is_some() => {
                let k = kind(name).ok_or("unknown kind")?;
                args.files.push((k, parser.value()?.into()));
            }
            other => return Err(format!("{}\n\n{USAGE}", other.unexpected()).into()),
        }
    }
    args.format.default_currency = Some(args.currency);
    Ok(Some(args))
}

/// Progress on stderr: a bar on a terminal, plain lines otherwise.
struct Reporter {
    bar: Option<ProgressBar>,
    last: Option<&'static str>,
}

impl Reporter {
    fn new() -> Self {
        Self {
            bar: None,
            last: None,
        }
    }
    fn terminal() -> bool {
        std::io::stderr().is_terminal()
    }
    /// A bar over `total` units for one phase.
    fn phase(&mut self, name: &str, total: u64) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        if Self::terminal() {
            let bar = ProgressBar::new(total);
            if let Ok(style) =
                ProgressStyle::with_template("{msg:28} [{bar:40.cyan/blue}] {pos}/{len} {elapsed}")
            {
                bar.set_style(style.progress_chars("=> "));
            }
            bar.set_message(name.to_owned());
            self.bar = Some(bar);
        } else {
            eprintln!("{name} ...");
        }
    }
    fn set(&self, pos: u64) {
        if let Some(bar) = &self.bar {
            bar.set_position(pos);
        }
    }
    fn step(&mut self, p: Progress) {
        if let Some(bar) = &self.bar {
            bar.set_length(p.steps as u64);
            bar.set_position(p.index.saturating_sub(1) as u64);
            if p.records > 0 {
                bar.set_message(format!("{} ({} read)", p.step, p.records));
            } else {
                bar.set_message(p.step.to_owned());
            }
        } else if self.last != Some(p.step) {
            eprintln!("  step {}/{}: {}", p.index, p.steps, p.step);
        }
        self.last = Some(p.step);
    }
    fn done(&mut self, what: &str, took: Duration) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        eprintln!("{what} in {:.1} s", took.as_secs_f64());
    }
}

fn midnight(d: NaiveDate, tz: chrono_tz::Tz) -> Result<DateTime<Utc>, Box<dyn Error>> {
    let local = d.and_hms_opt(0, 0, 0).ok_or("invalid date")?;
    Ok(tz
        .from_local_datetime(&local)
        .earliest()
        .ok_or_else(|| format!("{d} has no midnight in {tz}"))?
        .to_utc())
}

fn first_of_next_month(t: DateTime<Utc>, tz: chrono_tz::Tz) -> Option<NaiveDate> {
    let d = t.with_timezone(&tz).date_naive();
    let (y, m) = if d.month() == 12 {
        (d.year() + 1, 1)
    } else {
        (d.year(), d.month() + 1)
    };
    NaiveDate::from_ymd_opt(y, m, 1)
}

fn months_before(d: NaiveDate, months: u32) -> Option<NaiveDate> {
    d.checked_sub_months(chrono::Months::new(months))
}

/// The earliest and the latest purchase, response or case in the store.
type Span = Option<(DateTime<Utc>, DateTime<Utc>)>;
fn span(store: &SqliteStore) -> Result<Span, Box<dyn Error>> {
    let mut span: Span = None;
    let mut seen = |t: DateTime<Utc>| {
        span = Some(span.map_or((t, t), |(a, b)| (a.min(t), b.max(t))));
    };
    let mut req = PageRequest::first(5_000)?;
    loop {
        let page = block_on(store.purchases(Query::All, req.clone()))?;
        page.items
            .iter()
            .for_each(|p| seen(p.value().occurred_at()));
        match req.next(&page) {
            Some(n) => req = n,
            None => break,
        }
    }
    let mut req = PageRequest::first(5_000)?;
    loop {
        let page = block_on(store.responses(Query::All, req.clone()))?;
        page.items
            .iter()
            .for_each(|r| seen(r.value().responded_at()));
        match req.next(&page) {
            Some(n) => req = n,
            None => break,
        }
    }
    let mut req = PageRequest::first(5_000)?;
    loop {
        let page = block_on(store.cases(Query::All, req.clone()))?;
        page.items.iter().for_each(|c| seen(c.value().created_at()));
        match req.next(&page) {
            Some(n) => req = n,
            None => break,
        }
    }
    Ok(span)
}

fn fresh_db(path: &PathBuf) -> Result<SqliteStore, Box<dyn Error>> {
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let mut p = path.clone().into_os_string();
        p.push(suffix);
        match std::fs::remove_file(&p) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(format!("cannot replace {}: {e}", path.display()).into()),
        }
    }
    Ok(SqliteStore::open(path)?)
}

fn main() -> std::process::ExitCode {
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), Box<dyn Error>> {
    let Some(args) = parse_args()? else {
        return Ok(());
    };
    let started = Instant::now();
    let mut progress = Reporter::new();
    let store = fresh_db(&args.db)?;
    let tz = args.format.time_zone;

    let mut settings = if args.files.is_empty() {
        // The demo: a generated business.
        let spec = BusinessSpec::report();
        let t = Instant::now();
        progress.phase("generating a business", 1);
        let business = generate(&spec)?;
        progress.done(
            &format!(
                "generated {} customers, {} purchases, {} responses, {} cases",
                business.customers.len(),
                business.purchases.len(),
                business.responses.len(),
                business.cases.len()
            ),
            t.elapsed(),
        );
        let t = Instant::now();
        progress.phase("writing SQLite", business.len() as u64);
        let written = block_on(business.load_into(&store, |done, _| progress.set(done as u64)))?;
        progress.done(
            &format!("wrote {written} records to {}", args.db.display()),
            t.elapsed(),
        );
        let mut settings = ReportSettings::new(
            Period::new(spec.start, business.end)?,
            chrono_tz::UTC,
            spec.reporting_currency,
        );
        settings.rates = business.rates.clone();
        settings.sla = business.sla.clone();
        settings.teams = business
            .teams
            .iter()
            .map(|t| Team {
                id: t.id,
                name: t.name.clone(),
                calendar: t.calendar.clone(),
            })
            .collect();
        settings
    } else {
        // Your own files.
        let t = Instant::now();
        progress.phase("importing CSV", 1);
        let mut import = Import::new(args.format.clone()).strict(args.strict);
        for (k, path) in &args.files {
            let mut mapping = Mapping::new(*k);
            for (_, field, column) in args.maps.iter().filter(|(mk, ..)| mk == k) {
                mapping = mapping.rename(field, column.clone())?;
            }
            import = import.mapped(path, mapping);
        }
        let report = match block_on(import.into_store(&store)) {
            Ok(r) => r,
            Err(ImportError::Rejected { rejections }) => {
                eprintln!(
                    "strict mode: {} rows rejected, nothing imported:",
                    rejections.len()
                );
                for r in rejections.iter().take(50) {
                    eprintln!("  {r}");
                }
                std::process::exit(1);
            }
            Err(e) => return Err(e.into()),
        };
        progress.done(
            &format!(
                "imported {} records into {}",
                report.total(),
                args.db.display()
            ),
            t.elapsed(),
        );
        for (k, n) in &report.imported {
            eprintln!("  {k}: {n}");
        }
        for (k, column) in &report.absent_columns {
            eprintln!("  no column {column:?} in the {k} file: that field takes its default");
        }
        if !report.rejected.is_empty() {
            eprintln!(
                "{} rows rejected (file:line: column: reason):",
                report.rejected.len()
            );
            for r in report.rejected.iter().take(50) {
                eprintln!("  {r}");
            }
            if report.rejected.len() > 50 {
                eprintln!("  ... and {} more", report.rejected.len() - 50);
            }
        }
        let (first, last) =
            span(&store)?.ok_or("no dated records imported: nothing to report on")?;
        let to = match args.to {
            Some(d) => d,
            None => first_of_next_month(last, tz).ok_or("the latest record is out of range")?,
        };
        // At most 24 months, from the month of the earliest record.
        let earliest = first.with_timezone(&tz).date_naive().with_day(1);
        let from = match args.from {
            Some(d) => d,
            None => months_before(to, 24)
                .into_iter()
                .chain(earliest)
                .max()
                .ok_or("--from")?,
        };
        let mut settings = ReportSettings::new(
            Period::new(midnight(from, tz)?, midnight(to, tz)?)?,
            tz,
            args.currency,
        );
        let mut rates = FixedRates::new();
        for (code, rate) in &args.rates {
            rates = rates.with(*code, args.currency, *rate)?;
        }
        settings.rates = rates;
        settings
    };
    if let (Some(from), Some(to)) = (args.from, args.to) {
        settings.period = Period::new(midnight(from, tz)?, midnight(to, tz)?)?;
    }

    let t = Instant::now();
    progress.phase("computing the report", 6);
    let report = block_on(Report::compute_with_progress(&store, &settings, |p| {
        progress.step(p)
    }))?;
    progress.done("computed the report from SQLite", t.elapsed());

    println!("{}", report.to_text());
    let skipped = report.skipped();
    if !skipped.is_empty() {
        println!("\nSkipped:");
        for (name, reason) in skipped {
            println!("  {name}: {reason}");
        }
    }
    std::fs::write(&args.html, report.to_html()?)?;
    let html = std::fs::canonicalize(&args.html).unwrap_or(args.html.clone());
    println!(
        "\nThe report with its charts: {} (open it in a browser)",
        html.display()
    );
    println!("The data: {} (SQLite)", args.db.display());
    eprintln!("total {:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}
