//! The reference store runs the whole conformance kit.

use crmkit::store::blocking::block_on;
use crmkit::store::memory::MemoryStore;
use crmkit::store::testkit;

#[test]
fn survey_store_conforms() -> Result<(), testkit::Failure> {
    block_on(testkit::survey_store(&MemoryStore::new()))
}

#[test]
fn unit_of_work_conforms() -> Result<(), testkit::Failure> {
    block_on(testkit::unit_of_work(&MemoryStore::new()))
}
