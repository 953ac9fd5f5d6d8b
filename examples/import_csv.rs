//! Imports your own CSV exports into a SQLite file and says what it kept,
//! what it skipped and why.
//!
//! ```text
//! cargo run --release --features csv,sqlite --example import_csv -- \
//!     --customers customers.csv --purchases orders.csv \
//!     --date-format '%d.%m.%Y' --tz Europe/Berlin --currency EUR --decimal-comma \
//!     --delimiter ';' --text-ids --db crm.sqlite [--strict]
//! ```
//!
//! Column names default to the field names (`crmkit::import::Kind::fields`);
//! rename one with `--map purchases.occurred_at='Order Date'`.

use std::error::Error;

use crmkit::domain::Currency;
use crmkit::import::{Format, IdPolicy, Import, Kind, Mapping};
use crmkit::store::blocking::block_on;
use crmkit::store::sqlite::SqliteStore;

fn kind(name: &str) -> Option<Kind> {
    Kind::ALL.into_iter().find(|k| k.as_str() == name)
}

fn main() -> Result<(), Box<dyn Error>> {
    let mut format = Format::default();
    let mut files: Vec<(Kind, String)> = Vec::new();
    let mut maps: Vec<(Kind, String, String)> = Vec::new();
    let mut db = String::from("crm.sqlite");
    let mut strict = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--strict" => strict = true,
            "--decimal-comma" => format.decimal_separator = ',',
            "--text-ids" => format.ids = IdPolicy::FromText,
            "--date-format" => format.date_formats.push(value()?),
            "--tz" => format.time_zone = value()?.parse().map_err(|e| format!("--tz: {e}"))?,
            "--currency" => format.default_currency = Some(Currency::new(&value()?)?),
            "--delimiter" => {
                format.delimiter = *value()?.as_bytes().first().ok_or("--delimiter is empty")?;
            }
            "--db" => db = value()?,
            "--map" => {
                let v = value()?;
                let (field, column) = v.split_once('=').ok_or("--map kind.field=Column")?;
                let (k, field) = field.split_once('.').ok_or("--map kind.field=Column")?;
                let k = kind(k).ok_or(format!("unknown kind {k}"))?;
                maps.push((k, field.to_owned(), column.to_owned()));
            }
            flag => {
                let k = flag
                    .strip_prefix("--")
                    .and_then(kind)
                    .ok_or(format!("unknown option {flag}"))?;
                files.push((k, value()?));
            }
        }
    }
    if files.is_empty() {
        return Err("give at least one file: --customers, --purchases, --responses, --interactions or --cases".into());
    }
    let mut import = Import::new(format).strict(strict);
    for (k, path) in files {
        let mut mapping = Mapping::new(k);
        for (_, field, column) in maps.iter().filter(|(mk, ..)| *mk == k) {
            mapping = mapping.rename(field, column.clone())?;
        }
        import = import.mapped(path, mapping);
    }
    let store = SqliteStore::open(&db)?;
    let report = match block_on(import.into_store(&store)) {
        Ok(r) => r,
        Err(crmkit::import::ImportError::Rejected { rejections }) => {
            println!(
                "strict mode: {} rows rejected, nothing imported",
                rejections.len()
            );
            for r in rejections.iter().take(20) {
                println!("  {r}");
            }
            std::process::exit(1);
        }
        Err(e) => return Err(e.into()),
    };
    println!("imported into {db}:");
    for (k, n) in &report.imported {
        println!("  {k}: {n}");
    }
    for (k, column) in &report.absent_columns {
        println!(
            "no column {column:?} in the {k} file: that field takes its default or stays empty"
        );
    }
    println!("{} rows skipped", report.rejected.len());
    for r in report.rejected.iter().take(50) {
        println!("  {r}");
    }
    if report.rejected.len() > 50 {
        println!("  ... and {} more", report.rejected.len() - 50);
    }
    Ok(())
}
