//! A wrapper that keeps personal data out of `Debug` output and logs.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Personal data: printed as `<redacted>` by `Debug`, so it never reaches logs
/// through `{:?}`, `tracing` fields or panic messages.
///
/// Serialisation is transparent (the value itself is written), because
/// storage and the right-of-access export need it. Read the value with
/// [`Personal::expose`], a name that makes every access visible in review.
///
/// # Example
/// ```
/// use crmkit::domain::Personal;
/// let name = Personal::new(String::from("Ada Lovelace"));
/// assert_eq!(format!("{name:?}"), "<redacted>");
/// assert_eq!(name.expose(), "Ada Lovelace");
/// ```
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default)]
#[serde(transparent)]
pub struct Personal<T>(T);

impl<T> Personal<T> {
    /// Marks a value as personal data.
    pub const fn new(value: T) -> Self {
        Self(value)
    }

    /// The value itself. Do not log it.
    pub const fn expose(&self) -> &T {
        &self.0
    }

    /// Unwraps the value. Do not log it.
    pub fn into_exposed(self) -> T {
        self.0
    }
}

impl<T> fmt::Debug for Personal<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// The text that replaces erased personal data.
pub const ERASED: &str = "[erased]";
