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
