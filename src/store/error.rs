//! The error type of every store operation.

use crate::domain::Version;
use crate::error::ValidationError;

/// A store operation failed.
///
/// Every variant documents when it happens. Stores never return a partly
/// applied write together with an error: when an operation (or a unit of
/// work) fails, nothing it attempted is visible.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// No record of this kind has this id (get, update, delete, erase,
    /// export, merge).
    #[error("no {kind} with id {id}")]
    NotFound {
        /// The record kind (table), e.g. `customers`.
        kind: &'static str,
        /// The id that was looked up.
        id: String,
    },
    /// An update or delete named a version that is not the stored one:
    /// someone else changed the record since the caller read it. Read it
    /// again, re-apply the change, and retry.
    #[error("{kind} {id} changed meanwhile: expected version {expected}, found {found}")]
    Conflict {
        /// The record kind (table).
        kind: &'static str,
        /// The record's id.
        id: String,
        /// The version the caller expected to replace.
        expected: Version,
        /// The version actually stored.
        found: Version,
    },
    /// A create or bulk insert used an id that is already stored.
    #[error("{kind} {id} already exists")]
    AlreadyExists {
        /// The record kind (table).
        kind: &'static str,
        /// The duplicate id.
        id: String,
    },
    /// An update tried to change a fact (a purchase, a survey response, an
    /// invitation): facts are immutable, record a correction instead.
    #[error("{kind} {id} is an immutable fact and cannot be updated")]
    Immutable {
        /// The record kind (table).
        kind: &'static str,
        /// The record's id.
        id: String,
    },
    /// A page cursor could not be used: it is malformed, was altered, was
    /// issued by another store handle, or belongs to another query.
    #[error("invalid page cursor: {reason}")]
    InvalidCursor {
        /// Why the cursor was rejected.
        reason: &'static str,
    },
    /// A page size of zero, or above [`MAX_PAGE_SIZE`](super::MAX_PAGE_SIZE).
    #[error("invalid page size {size}: must be between 1 and {max}")]
    InvalidPageSize {
        /// The requested size.
        size: usize,
        /// The largest size allowed.
        max: usize,
    },
    /// A value cannot be stored (for example a timestamp outside the
    /// nanosecond range of the stores, years 1678 to 2261), or stored data
    /// failed validation when read back.
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// The file is not a database, or the database is damaged.
    #[error("the database is corrupt or not a database: {reason}")]
    Corrupt {
        /// What was found.
        reason: String,
    },
    /// The file is a valid SQLite database, but not one written by crmkit;
    /// it was left untouched.
    #[error("the database was not written by crmkit: {reason}")]
    NotCrmkit {
        /// What was found instead.
        reason: String,
    },
    /// The database was written by a newer crmkit with a schema this
    /// version does not know; it was left untouched.
    #[error("the database has schema version {found}, this crmkit supports up to {supported}")]
    NewerSchema {
        /// The schema version found in the file.
        found: i64,
        /// The newest schema version this build knows.
        supported: i64,
    },
    /// The store was closed (its connection thread ended) before the
    /// operation completed.
    #[error("the store is closed")]
    Closed,
    /// The backend failed (I/O error, disk full, lock timeout, ...).
    #[error("storage backend failed: {0}")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync + 'static>),
}

impl StoreError {
    /// A backend error from any error value.
    pub fn backend(err: impl Into<Box<dyn std::error::Error + Send + Sync + 'static>>) -> Self {
        Self::Backend(err.into())
    }
}
