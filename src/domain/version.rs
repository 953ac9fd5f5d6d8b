//! Optimistic concurrency: versions and versioned values.

use std::fmt;
use std::ops::Deref;

use serde::{Deserialize, Serialize};

/// The version of a stored mutable aggregate.
///
/// A store gives a newly created record [`Version::FIRST`] and increments it on
/// every successful update. An update names the version it was based on; if the
/// stored version differs, the update is a conflict, never a silent overwrite.
///
/// # Example
/// ```
/// use crmkit::domain::Version;
/// let v = Version::FIRST;
/// assert_eq!(v.get(), 1);
/// assert_eq!(v.next()?.get(), 2);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Version(u64);

impl Version {
    /// The version of a freshly created record.
    pub const FIRST: Version = Version(1);

    /// Wraps a raw version number (as read back from storage).
    pub const fn new(value: u64) -> Self {
        Self(value)
    }

    /// The raw number.
    pub const fn get(self) -> u64 {
        self.0
    }

    /// The version after this one.
    ///
    /// # Errors
    /// [`VersionOverflow`] after 2^64 - 1 updates.
    pub fn next(self) -> Result<Self, VersionOverflow> {
        self.0.checked_add(1).map(Self).ok_or(VersionOverflow)
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "v{}", self.0)
    }
}

/// A version number cannot be incremented any further.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("version number overflowed")]
pub struct VersionOverflow;

/// A mutable aggregate together with the version it was read at.
///
/// Stores return `Versioned<T>`; to update, pass the value and
/// [`Versioned::version`] back, and the store rejects the write if someone
/// else updated the record in between.
///
/// # Example
/// ```
/// use crmkit::domain::{Version, Versioned};
/// let v = Versioned::new("record", Version::FIRST);
/// assert_eq!(*v, "record");
/// assert_eq!(v.version(), Version::FIRST);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Versioned<T> {
    value: T,
    version: Version,
}

impl<T> Versioned<T> {
    /// Pairs a value with its version.
    pub const fn new(value: T, version: Version) -> Self {
        Self { value, version }
    }

    /// The version the value was read at.
    pub const fn version(&self) -> Version {
        self.version
    }

    /// The value.
    pub const fn value(&self) -> &T {
        &self.value
    }

    /// The value, mutably (for preparing an update).
    pub fn value_mut(&mut self) -> &mut T {
        &mut self.value
    }

    /// Splits into value and version.
    pub fn into_parts(self) -> (T, Version) {
        (self.value, self.version)
    }

    /// The value, dropping the version.
    pub fn into_inner(self) -> T {
        self.value
    }
}

impl<T> Deref for Versioned<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}
