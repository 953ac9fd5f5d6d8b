//! The SQLite store runs the whole conformance kit, and survives crashes
//! and bad input.

use std::path::{Path, PathBuf};

use crmkit::store::blocking::block_on;
use crmkit::store::sqlite::SqliteStore;
use crmkit::store::testkit::{self, Failure};

fn file_store() -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("crm.db")).unwrap();
    (dir, store)
}

/// The bytes of the database file and its WAL.
fn raw_bytes(db: &Path) -> std::io::Result<Vec<u8>> {
    let mut bytes = std::fs::read(db)?;
    let mut wal = PathBuf::from(db);
    wal.set_extension("db-wal");
    if wal.exists() {
        bytes.extend(std::fs::read(wal)?);
    }
    Ok(bytes)
}

#[test]
fn customer_store_conforms() -> Result<(), Failure> {
    let (_dir, store) = file_store();
    block_on(testkit::customer_store(&store))
}

#[test]
fn interaction_store_conforms() -> Result<(), Failure> {
    let (_dir, store) = file_store();
    block_on(testkit::interaction_store(&store))
}

#[test]
fn case_store_conforms() -> Result<(), Failure> {
    let (_dir, store) = file_store();
    block_on(testkit::case_store(&store))
}

#[test]
fn purchase_store_conforms() -> Result<(), Failure> {
    let (_dir, store) = file_store();
    block_on(testkit::purchase_store(&store))
}

#[test]
fn survey_store_conforms() -> Result<(), Failure> {
    let (_dir, store) = file_store();
    block_on(testkit::survey_store(&store))
}

#[test]
fn personal_data_conforms_on_the_raw_file() -> Result<(), Failure> {
    let (dir, store) = file_store();
    let db = dir.path().join("crm.db");
    let raw = move || raw_bytes(&db);
    block_on(testkit::personal_data(&store, Some(&raw)))
}

#[test]
fn unit_of_work_conforms() -> Result<(), Failure> {
    let (_dir, store) = file_store();
    block_on(testkit::unit_of_work(&store))
}

#[test]
fn whole_kit_in_memory_database() -> Result<(), Failure> {
    let store = SqliteStore::open_in_memory().unwrap();
    block_on(testkit::all(&store, None))
}

mod crash_and_bad_input {
    use std::path::{Path, PathBuf};
    use std::process::Command;
    use std::time::{Duration, Instant};

    use chrono::{DateTime, TimeZone, Utc};
    use crmkit::domain::{
        Channel, Customer, CustomerId, CustomerKind, Direction, Interaction, InteractionId,
        InteractionPurpose, Versioned,
    };
    use crmkit::store::blocking::block_on;
    use crmkit::store::sqlite::SqliteStore;
    use crmkit::store::{
        CustomerStore, InteractionStore, PageRequest, Query, StoreError, Transaction, UnitOfWork,
    };

    const CHILD_DB: &str = "CRMKIT_CRASH_CHILD_DB";
    const CHILD_MODE: &str = "CRMKIT_CRASH_CHILD_MODE";

    fn t(i: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap() + chrono::Duration::seconds(i)
    }

    fn interaction(n: u128, c: CustomerId, i: i64) -> Interaction {
        Interaction::new(
            InteractionId::from_u128(n),
            c,
            Channel::Phone,
            Direction::Inbound,
            InteractionPurpose::Support,
            t(i),
        )
    }

    fn customer(n: u128) -> Customer {
        Customer::builder(CustomerId::from_u128(n), CustomerKind::Individual, t(0))
            .display_name(format!("Customer {n}"))
            .build()
            .unwrap()
    }

    /// Everything in the store, read page by page.
    type Snapshot = (Vec<Versioned<Customer>>, Vec<Versioned<Interaction>>);

    fn snapshot(store: &SqliteStore) -> Snapshot {
        let mut customers = Vec::new();
        let mut req = PageRequest::first(500).unwrap();
        loop {
            let page = block_on(store.customers(Query::All, req.clone())).unwrap();
            customers.extend(page.items.iter().cloned());
            match req.next(&page) {
                Some(n) => req = n,
                None => break,
            }
        }
        let mut interactions = Vec::new();
        let mut req = PageRequest::first(500).unwrap();
        loop {
            let page = block_on(store.interactions(Query::All, req.clone())).unwrap();
            interactions.extend(page.items.iter().cloned());
            match req.next(&page) {
                Some(n) => req = n,
                None => break,
            }
        }
        (customers, interactions)
    }

    /// A database with 3 customers and 300 interactions.
    fn seeded(dir: &Path) -> (PathBuf, Snapshot) {
        let db = dir.join("crm.db");
        let store = SqliteStore::open(&db).unwrap();
        let cs: Vec<_> = (1..=3).map(customer).collect();
        block_on(store.insert_customers(cs)).unwrap();
        let is: Vec<_> = (1..=300)
            .map(|n| interaction(n, CustomerId::from_u128(1 + n % 3), n as i64))
            .collect();
        block_on(store.insert_interactions(is)).unwrap();
        let snap = snapshot(&store);
        assert_eq!((snap.0.len(), snap.1.len()), (3, 300));
        (db, snap)
    }

    /// Not a test of its own: the child process of the crash tests. It
    /// does nothing unless started by them with `CHILD_DB` set.
    #[test]
    fn crash_child() {
        let Ok(db) = std::env::var(CHILD_DB) else {
            return;
        };
        let db = PathBuf::from(db);
        let marker = db.with_extension("started");
        let store = SqliteStore::open(&db).unwrap();
        match std::env::var(CHILD_MODE).as_deref() {
            Ok("bulk") => {
                let rows: Vec<_> = (1_000_000..3_000_000u128)
                    .map(|n| interaction(n, CustomerId::from_u128(1), (n % 100_000) as i64))
                    .collect();
                std::fs::write(&marker, b"bulk").unwrap();
                let _ = block_on(store.insert_interactions(rows));
            }
            _ => {
                let _ = block_on(store.transaction(move |tx| {
                    for n in 1_000_000..50_000_000u128 {
                        let _ = tx.insert(customer(n))?;
                        let _ = tx.insert(interaction(n, CustomerId::from_u128(n), 5))?;
                        if n == 1_002_000 {
                            std::fs::write(&marker, b"unit").unwrap();
                        }
                    }
                    Ok::<_, StoreError>(())
                }));
            }
        }
        // Reaching this point means the parent did not kill us in time:
        // the work committed. Tell the parent by exiting with a code.
        std::process::exit(3);
    }

    fn wal_len(db: &Path) -> u64 {
        std::fs::metadata(db.with_extension("db-wal"))
            .map(|m| m.len())
            .unwrap_or(0)
    }

    fn crash_in(mode: &str) {
        let dir = tempfile::tempdir().unwrap();
        let (db, before) = seeded(dir.path());
        let wal_before = wal_len(&db);
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "store_sqlite::crash_and_bad_input::crash_child",
                "--nocapture",
            ])
            .env(CHILD_DB, &db)
            .env(CHILD_MODE, mode)
            .spawn()
            .unwrap();
        let marker = db.with_extension("started");
        let deadline = Instant::now() + Duration::from_secs(120);
        while !marker.exists() {
            assert!(
                Instant::now() < deadline,
                "the child never started its write"
            );
            assert!(child.try_wait().unwrap().is_none(), "the child ended early");
            std::thread::sleep(Duration::from_millis(5));
        }
        // Wait until the write is under way: uncommitted pages spill into the WAL.
        while wal_len(&db) <= wal_before + 64 * 1024 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "the write finished before the kill"
        );
        child.kill().unwrap(); // SIGKILL on Unix
        let status = child.wait().unwrap();
        assert!(!status.success());
        assert!(
            wal_len(&db) > wal_before,
            "the killed write left nothing in the WAL: it had not started"
        );

        let store = SqliteStore::open(&db).unwrap();
        let after = snapshot(&store);
        assert_eq!(
            after, before,
            "the database changed after a killed {mode} write"
        );
        // And it still works.
        block_on(store.create_customer(customer(99))).unwrap();
    }

    #[test]
    fn sigkill_during_bulk_insert_leaves_the_database_as_before() {
        crash_in("bulk");
    }

    #[test]
    fn sigkill_during_unit_of_work_leaves_the_database_as_before() {
        crash_in("unit");
    }

    #[test]
    fn failing_row_in_bulk_insert_leaves_the_database_as_before() {
        let dir = tempfile::tempdir().unwrap();
        let (db, before) = seeded(dir.path());
        let store = SqliteStore::open(&db).unwrap();
        // Row 500 repeats an existing id.
        let mut rows: Vec<_> = (10_000..11_000)
            .map(|n| interaction(n, CustomerId::from_u128(1), 7))
            .collect();
        rows[500] = interaction(42, CustomerId::from_u128(1), 7);
        let r = block_on(store.insert_interactions(rows));
        assert!(matches!(r, Err(StoreError::AlreadyExists { .. })), "{r:?}");
        // Row 500 has a time outside the stored range.
        let mut rows: Vec<_> = (20_000..21_000)
            .map(|n| interaction(n, CustomerId::from_u128(1), 7))
            .collect();
        rows[500] = Interaction::new(
            InteractionId::from_u128(20_500),
            CustomerId::from_u128(1),
            Channel::Phone,
            Direction::Inbound,
            InteractionPurpose::Support,
            Utc.with_ymd_and_hms(2300, 1, 1, 0, 0, 0).unwrap(),
        );
        let r = block_on(store.insert_interactions(rows));
        assert!(matches!(r, Err(StoreError::Invalid(_))), "{r:?}");
        drop(store);
        let store = SqliteStore::open(&db).unwrap();
        assert_eq!(snapshot(&store), before);
    }

    fn files_in(dir: &Path) -> Vec<(String, Vec<u8>)> {
        let mut v: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                (
                    e.file_name().to_string_lossy().into_owned(),
                    std::fs::read(e.path()).unwrap(),
                )
            })
            .collect();
        v.sort();
        v
    }

    #[test]
    fn a_file_that_is_not_a_database_is_corrupt_and_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("crm.db");
        let junk: Vec<u8> = (0..8192u32).map(|i| (i * 7 % 251) as u8).collect();
        std::fs::write(&db, &junk).unwrap();
        let before = files_in(dir.path());
        let r = SqliteStore::open(&db);
        assert!(matches!(r, Err(StoreError::Corrupt { .. })), "{r:?}");
        assert_eq!(files_in(dir.path()), before);
    }

    #[test]
    fn another_applications_database_is_not_crmkit_and_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("other.db");
        {
            let conn = rusqlite::Connection::open(&db).unwrap();
            conn.execute_batch("CREATE TABLE notes (body TEXT); INSERT INTO notes VALUES ('hi');")
                .unwrap();
        }
        let before = files_in(dir.path());
        let r = SqliteStore::open(&db);
        assert!(matches!(r, Err(StoreError::NotCrmkit { .. })), "{r:?}");
        assert_eq!(files_in(dir.path()), before);
    }

    #[test]
    fn a_newer_schema_is_a_clear_error_and_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("crm.db");
        drop(SqliteStore::open(&db).unwrap());
        {
            let conn = rusqlite::Connection::open(&db).unwrap();
            conn.execute_batch("PRAGMA user_version = 99; PRAGMA wal_checkpoint(TRUNCATE);")
                .unwrap();
        }
        let before = files_in(dir.path());
        let r = SqliteStore::open(&db);
        assert!(
            matches!(
                r,
                Err(StoreError::NewerSchema {
                    found: 99,
                    supported: 2
                })
            ),
            "{r:?}"
        );
        assert_eq!(files_in(dir.path()), before);
    }

    #[test]
    fn migrations_are_recorded_and_reopening_is_idempotent() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("crm.db");
        drop(SqliteStore::open(&db).unwrap());
        drop(SqliteStore::open(&db).unwrap());
        let conn = rusqlite::Connection::open(&db).unwrap();
        let versions: Vec<i64> = conn
            .prepare("SELECT version FROM crmkit_migrations ORDER BY version")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(versions, vec![1, 2]);
        let mode: String = conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        // Every range query is served by an index: the plan names one.
        for (sql, index) in [
            (
                "SELECT body FROM interactions WHERE at >= 1 AND at < 2 ORDER BY at, id",
                "interactions_at",
            ),
            (
                "SELECT body FROM interactions WHERE customer = x'00' ORDER BY at, id",
                "interactions_customer",
            ),
            (
                "SELECT body FROM responses WHERE survey = x'00' ORDER BY at, id",
                "responses_survey",
            ),
            // The outbox queries, exactly as the store sends them.
            (
                "SELECT version, body FROM outbox WHERE pending = 1 AND not_before <= 5 \
                 ORDER BY not_before, key LIMIT 10",
                "outbox_due",
            ),
            (
                "SELECT version, body FROM outbox WHERE customer = x'00' ORDER BY key",
                "outbox_customer",
            ),
        ] {
            let plan: Vec<String> = conn
                .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
                .unwrap()
                .query_map([], |r| r.get::<_, String>(3))
                .unwrap()
                .map(Result::unwrap)
                .collect();
            assert!(plan.iter().any(|p| p.contains(index)), "{sql}: {plan:?}");
            assert!(
                !plan.iter().any(|p| p.contains("TEMP B-TREE")),
                "{sql} sorts: {plan:?}"
            );
        }
    }

    #[test]
    fn bad_cursors_and_page_sizes_are_typed_errors_and_write_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let (db, before) = seeded(dir.path());
        let store = SqliteStore::open(&db).unwrap();
        assert!(matches!(
            PageRequest::first(0),
            Err(StoreError::InvalidPageSize { size: 0, .. })
        ));
        let page = block_on(store.interactions(
            Query::Customer(CustomerId::from_u128(1)),
            PageRequest::first(5).unwrap(),
        ))
        .unwrap();
        let cursor = page.next.unwrap();
        let other = Query::Customer(CustomerId::from_u128(2));
        let r =
            block_on(store.interactions(other, PageRequest::new(5, Some(cursor.clone())).unwrap()));
        assert!(matches!(r, Err(StoreError::InvalidCursor { .. })), "{r:?}");
        // The same cursor on another kind.
        let r = block_on(store.customers(
            Query::Customer(CustomerId::from_u128(1)),
            PageRequest::new(5, Some(cursor.clone())).unwrap(),
        ));
        assert!(matches!(r, Err(StoreError::InvalidCursor { .. })), "{r:?}");
        let mut tampered = cursor.as_str().to_owned();
        tampered.replace_range(20..21, if &tampered[20..21] == "f" { "e" } else { "f" });
        let r = block_on(store.interactions(
            Query::Customer(CustomerId::from_u128(1)),
            PageRequest::new(5, Some(tampered.parse().unwrap())).unwrap(),
        ));
        assert!(matches!(r, Err(StoreError::InvalidCursor { .. })), "{r:?}");
        // A cursor from another handle on the same file.
        let second = SqliteStore::open(&db).unwrap();
        let r = block_on(second.interactions(
            Query::Customer(CustomerId::from_u128(1)),
            PageRequest::new(5, Some(cursor)).unwrap(),
        ));
        assert!(matches!(r, Err(StoreError::InvalidCursor { .. })), "{r:?}");
        drop(second);
        assert_eq!(snapshot(&store), before);
    }
}
