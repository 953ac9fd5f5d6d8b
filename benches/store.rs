//! W4 (DESIGN.md): insert 1,000,000 interactions into the SQLite store with
//! one bulk insert, then page through one month of them; beside a plain
//! rusqlite baseline that inserts the same rows into the same schema (the
//! store's own file, so the same tables, indexes and pragmas) with one
//! prepared statement in one transaction, and reads the month with one
//! query.
//!
//! `cargo bench --bench store --features sqlite` runs criterion (10 samples).
//! `CRMKIT_W4_ONCE=store|baseline cargo bench --bench store --features sqlite`
//! runs one insert + paging pass instead and prints rows/s and the peak
//! resident memory (VmHWM) of the process. `CRMKIT_W4_ROWS` changes the
//! row count (default 1,000,000).

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use criterion::{BatchSize, Criterion};
use crmkit::domain::{
    Channel, CustomerId, Direction, Interaction, InteractionId, InteractionPurpose, Period,
};
use crmkit::store::blocking::block_on;
use crmkit::store::sqlite::SqliteStore;
use crmkit::store::{InteractionStore, PageRequest, Query};

const PAGE: usize = 1_000;

fn rows() -> usize {
    std::env::var("CRMKIT_W4_ROWS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000)
}

fn year_start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap()
}

fn march() -> Period {
    Period::new(
        Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap(),
        Utc.with_ymd_and_hms(2026, 4, 1, 0, 0, 0).unwrap(),
    )
    .unwrap()
}

/// Deterministic interactions: 100,000 customers, times spread over 2026
/// (to the nanosecond), a mix of channels, directions and purposes.
fn generate(n: usize) -> Vec<Interaction> {
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let year_ns: u64 = 365 * 24 * 3600 * 1_000_000_000;
    let channels = [
        Channel::Email,
        Channel::Phone,
        Channel::LiveChat,
        Channel::Chatbot,
        Channel::Sms,
    ];
    let purposes = [
        InteractionPurpose::Inquiry,
        InteractionPurpose::Support,
        InteractionPurpose::Sales,
        InteractionPurpose::Complaint,
    ];
    (0..n)
        .map(|i| {
            let r = next();
            let at = year_start() + chrono::Duration::nanoseconds((r % year_ns) as i64);
            Interaction::new(
                InteractionId::from_u128(i as u128 + 1),
                CustomerId::from_u128(u128::from(r >> 40) % 100_000 + 1),
                channels[(r % 5) as usize],
                if r & 1 == 0 {
                    Direction::Inbound
                } else {
                    Direction::Outbound
                },
                purposes[((r >> 8) % 4) as usize],
                at,
            )
        })
        .collect()
}

fn store_insert(path: &Path, rows: Vec<Interaction>) -> SqliteStore {
    let store = SqliteStore::open(path).unwrap();
    let n = rows.len();
    assert_eq!(block_on(store.insert_interactions(rows)).unwrap(), n);
    store
}

fn store_page_month(store: &SqliteStore) -> usize {
    let mut seen = 0;
    let mut req = PageRequest::first(PAGE).unwrap();
    loop {
        let page = block_on(store.interactions(Query::Period(march()), req.clone())).unwrap();
        seen += page.items.len();
        black_box(&page.items);
        match req.next(&page) {
            Some(n) => req = n,
            None => return seen,
        }
    }
}

/// The baseline: the same schema (created by opening the store once), one
/// prepared statement in one transaction, the same JSON documents.
fn baseline_insert(path: &Path, rows: &[Interaction]) -> rusqlite::Connection {
    drop(SqliteStore::open(path).unwrap());
    let mut conn = rusqlite::Connection::open(path).unwrap();
    conn.execute_batch("PRAGMA synchronous = FULL; PRAGMA secure_delete = ON;")
        .unwrap();
    let tx = conn.transaction().unwrap();
    {
        let mut stmt = tx
            .prepare(
                "INSERT INTO interactions (id, at, customer, survey, version, body) \
                 VALUES (?1, ?2, ?3, NULL, 1, ?4)",
            )
            .unwrap();
        for r in rows {
            let at = r.occurred_at().timestamp_nanos_opt().unwrap();
            let body = serde_json::to_string(r).unwrap();
            stmt.execute(rusqlite::params![
                &r.id().as_uuid().as_bytes()[..],
                at,
                &r.customer().as_uuid().as_bytes()[..],
                body
            ])
            .unwrap();
        }
    }
    tx.commit().unwrap();
    conn
}

fn baseline_page_month(conn: &rusqlite::Connection) -> usize {
    let (start, end) = (
        march().start().timestamp_nanos_opt().unwrap(),
        march().end().timestamp_nanos_opt().unwrap(),
    );
    let mut stmt = conn
        .prepare("SELECT body FROM interactions WHERE at >= ?1 AND at < ?2 ORDER BY at, id")
        .unwrap();
    let mut rows = stmt.query([start, end]).unwrap();
    let mut seen = 0;
    while let Some(row) = rows.next().unwrap() {
        let body: String = row.get(0).unwrap();
        let i: Interaction = serde_json::from_str(&body).unwrap();
        black_box(i);
        seen += 1;
    }
    seen
}

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn once(which: &str) {
    let n = rows();
    let data = generate(n);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w4.db");
    let gen_rss = peak_rss_mib();
    let t = Instant::now();
    let (insert, month, paged) = if which == "baseline" {
        let conn = baseline_insert(&path, &data);
        let insert = t.elapsed();
        let t = Instant::now();
        let seen = baseline_page_month(&conn);
        (insert, t.elapsed(), seen)
    } else {
        let store = store_insert(&path, data);
        let insert = t.elapsed();
        let t = Instant::now();
        let seen = store_page_month(&store);
        (insert, t.elapsed(), seen)
    };
    println!(
        "{which}: inserted {n} rows in {:.2} s ({:.0} rows/s); paged {paged} March rows in {:.3} s ({:.0} rows/s); \
         peak RSS {:.0} MiB (after generating the rows: {:.0} MiB)",
        insert.as_secs_f64(),
        n as f64 / insert.as_secs_f64(),
        month.as_secs_f64(),
        paged as f64 / month.as_secs_f64(),
        peak_rss_mib(),
        gen_rss,
    );
}

fn bench(c: &mut Criterion) {
    let n = rows();
    let data = generate(n);
    let mut g = c.benchmark_group("w4_store");
    g.sample_size(10)
        .warm_up_time(Duration::from_millis(100))
        .measurement_time(Duration::from_secs(1));
    g.throughput(criterion::Throughput::Elements(n as u64));
    g.bench_function("sqlite_store_bulk_insert", |b| {
        b.iter_batched(
            || (tempfile::tempdir().unwrap(), data.clone()),
            |(dir, rows)| drop(store_insert(&dir.path().join("w4.db"), rows)),
            BatchSize::PerIteration,
        )
    });
    g.bench_function("rusqlite_baseline_insert", |b| {
        b.iter_batched(
            || tempfile::tempdir().unwrap(),
            |dir| drop(baseline_insert(&dir.path().join("w4.db"), &data)),
            BatchSize::PerIteration,
        )
    });
    let dir = tempfile::tempdir().unwrap();
    let store = store_insert(&dir.path().join("w4.db"), data.clone());
    let dir2 = tempfile::tempdir().unwrap();
    let conn = baseline_insert(&dir2.path().join("w4.db"), &data);
    g.throughput(criterion::Throughput::Elements(
        store_page_month(&store) as u64
    ));
    g.bench_function("sqlite_store_page_month", |b| {
        b.iter(|| store_page_month(&store))
    });
    g.bench_function("rusqlite_baseline_read_month", |b| {
        b.iter(|| baseline_page_month(&conn))
    });
    g.finish();
}

fn main() {
    if let Ok(which) = std::env::var("CRMKIT_W4_ONCE") {
        once(&which);
        return;
    }
    let mut c = Criterion::default().configure_from_args();
    bench(&mut c);
    c.final_summary();
}
