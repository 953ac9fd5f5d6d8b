//! The reference store runs the whole conformance kit.

use crmkit::store::blocking::block_on;
use crmkit::store::memory::MemoryStore;
use crmkit::store::testkit::{self, Failure};

#[test]
fn customer_store_conforms() -> Result<(), Failure> {
    block_on(testkit::customer_store(&MemoryStore::new()))
}

#[test]
fn interaction_store_conforms() -> Result<(), Failure> {
    block_on(testkit::interaction_store(&MemoryStore::new()))
}

#[test]
fn case_store_conforms() -> Result<(), Failure> {
    block_on(testkit::case_store(&MemoryStore::new()))
}

#[test]
fn purchase_store_conforms() -> Result<(), Failure> {
    block_on(testkit::purchase_store(&MemoryStore::new()))
}

#[test]
fn survey_store_conforms() -> Result<(), Failure> {
    block_on(testkit::survey_store(&MemoryStore::new()))
}

#[test]
fn personal_data_conforms() -> Result<(), Failure> {
    block_on(testkit::personal_data(&MemoryStore::new(), None))
}

#[test]
fn unit_of_work_conforms() -> Result<(), Failure> {
    block_on(testkit::unit_of_work(&MemoryStore::new()))
}

#[test]
fn whole_kit_on_one_shared_store() -> Result<(), Failure> {
    // The kit uses fresh ids and times, so it also passes on a store that
    // already holds data, run twice.
    let store = MemoryStore::new();
    block_on(testkit::all(&store, None))?;
    block_on(testkit::all(&store, None))
}
