//! How cells are written: dates, time zone, currency, decimal separator,
//! lists and ids.

use std::str::FromStr;

use chrono::{DateTime, LocalResult, NaiveDate, NaiveDateTime, SecondsFormat, TimeZone, Utc};
use chrono_tz::Tz;
use rust_decimal::Decimal;
use serde::de::DeserializeOwned;
use uuid::Uuid;

use crate::domain::{Currency, Scale};
use crate::error::ValidationError;

/// What to do with an id cell that is not a UUID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum IdPolicy {
    /// Ids must be UUIDs; any other text is rejected (the default, and what
    /// the exporter writes).
    #[default]
    Uuid,
    /// Ids that are not UUIDs (`C-1042`, `17`) become a deterministic
    /// UUID (version 8) derived from the id's kind and its text, so the same
    /// text names the same customer in every file. UUIDs are kept as they are.
    FromText,
}

/// How the cells of a CSV file are written.
///
/// The defaults read what [`export`](super::export) writes: RFC 3339
/// instants, `.` as decimal separator, `|` between list items, UUID ids,
/// no default currency or scale.
///
/// # Example
/// ```
/// use crmkit::domain::Currency;
/// use crmkit::import::Format;
/// let format = Format {
///     date_formats: vec!["%d.%m.%Y %H:%M".into(), "%d.%m.%Y".into()],
///     time_zone: chrono_tz::Europe::Berlin,
///     default_currency: Some(Currency::EUR),
///     decimal_separator: ',',
///     ..Format::default()
/// };
/// // Midnight in Berlin in winter is 23:00 UTC the day before.
/// let at = format.instant("occurred_at", "05.01.2026")?;
/// assert_eq!(at.to_rfc3339(), "2026-01-04T23:00:00+00:00");
/// assert_eq!(format.decimal("amount", "12,50")?.to_string(), "12.50");
/// assert!(format.decimal("amount", "1.012,50").is_err()); // no thousands separators
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Format {
    /// `chrono` format strings tried in order after RFC 3339. A format with
    /// an offset (`%z`) gives the instant directly; one with date and time
    /// but no offset is read in [`time_zone`](Self::time_zone); a date-only
    /// format means midnight there. A local time that a daylight-saving
    /// change skips or repeats is rejected, never guessed.
    pub date_formats: Vec<String>,
    /// The zone of dates and times written without an offset.
    pub time_zone: Tz,
    /// The currency of amounts when there is no currency column or its cell
    /// is empty. Without one, such rows are rejected.
    pub default_currency: Option<Currency>,
    /// `.` or `,`. With `,`, a `.` in a number is rejected (no thousands
    /// separators are read, so nothing is guessed).
    pub decimal_separator: char,
    /// Separator between the items of a list cell (segments, tags).
    pub list_separator: char,
    /// The scale of survey responses when there is no scale column or its
    /// cell is empty.
    pub default_scale: Option<Scale>,
    /// The field delimiter byte (`,` by default; `;` is common where `,` is
    /// the decimal separator).
    pub delimiter: u8,
    /// What to do with ids that are not UUIDs.
    pub ids: IdPolicy,
}

impl Default for Format {
    fn default() -> Self {
        Self {
            date_formats: Vec::new(),
            time_zone: Tz::UTC,
            default_currency: None,
            decimal_separator: '.',
            list_separator: '|',
            default_scale: None,
            delimiter: b',',
            ids: IdPolicy::Uuid,
        }
    }
}

fn format_err(field: &'static str, value: &str, reason: &'static str) -> ValidationError {
    ValidationError::Format {
        field,
        value: value.to_owned(),
        reason,
    }
}

/// Writes an instant as the exporter does: RFC 3339 in UTC, with as many
/// fractional digits as needed (none, 3, 6 or 9).
pub(crate) fn write_instant(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

impl Format {
    /// Reads an instant: RFC 3339, then each of
    /// [`date_formats`](Self::date_formats).
    ///
    /// # Errors
    /// [`ValidationError::Format`] naming `field`.
    pub fn instant(&self, field: &'static str, s: &str) -> Result<DateTime<Utc>, ValidationError> {
        if let Ok(t) = DateTime::parse_from_rfc3339(s) {
            return Ok(t.with_timezone(&Utc));
        }
        for f in &self.date_formats {
            if let Ok(t) = DateTime::parse_from_str(s, f) {
                return Ok(t.with_timezone(&Utc));
            }
            let local = NaiveDateTime::parse_from_str(s, f).ok().or_else(|| {
                NaiveDate::parse_from_str(s, f)
                    .ok()
                    .and_then(|d| d.and_hms_opt(0, 0, 0))
            });
            if let Some(local) = local {
                return match self.time_zone.from_local_datetime(&local) {
                    LocalResult::Single(t) => Ok(t.with_timezone(&Utc)),
                    LocalResult::Ambiguous(..) => Err(format_err(
                        field,
                        s,
                        "the local time occurs twice (a daylight-saving change); write it with an offset",
                    )),
                    LocalResult::None => Err(format_err(
                        field,
                        s,
                        "the local time does not exist (skipped by a daylight-saving change)",
                    )),
                };
            }
        }
        Err(format_err(
            field,
            s,
            "expected an RFC 3339 instant or one of the configured date formats",
        ))
    }

    /// Reads a decimal number with the configured separator.
    ///
    /// # Errors
    /// [`ValidationError::Format`] naming `field`.
    pub fn decimal(&self, field: &'static str, s: &str) -> Result<Decimal, ValidationError> {
        let bad = || format_err(field, s, "expected a decimal number such as 12.50");
        let text = if self.decimal_separator == '.' {
            if s.contains(',') {
                return Err(bad());
            }
            std::borrow::Cow::Borrowed(s)
        } else {
            if s.contains('.') {
                return Err(bad());
            }
            std::borrow::Cow::Owned(s.replace(self.decimal_separator, "."))
        };
        if text.contains('_') || text.contains(['e', 'E']) || text.trim() != text {
            return Err(bad());
        }
        Decimal::from_str(&text).map_err(|_| bad())
    }

    /// Reads an id: a UUID, or (with [`IdPolicy::FromText`]) any valid
    /// text mapped to a deterministic UUID.
    pub(crate) fn id<I: From<Uuid>>(
        &self,
        field: &'static str,
        kind: &'static str,
        s: &str,
    ) -> Result<I, ValidationError> {
        if let Ok(u) = Uuid::parse_str(s) {
            return Ok(I::from(u));
        }
        match self.ids {
            IdPolicy::Uuid => Err(format_err(field, s, "expected a UUID")),
            IdPolicy::FromText => {
                let _ = crate::domain::ExternalId::new(s).map_err(|_| {
                    format_err(field, s, "expected an id without surrounding white space")
                })?;
                Ok(I::from(derived_id(kind, s)))
            }
        }
    }

    /// Splits a list cell.
    pub(crate) fn list<'a>(&self, s: &'a str) -> impl Iterator<Item = &'a str> + use<'a> {
        s.split(self.list_separator)
    }
}

/// A UUID version 8 from a 128-bit FNV-1a hash of `kind` and `text`.
fn derived_id(kind: &str, text: &str) -> Uuid {
    const OFFSET: u128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d;
    const PRIME: u128 = 0x0000_0000_0100_0000_0000_0000_0000_013b;
    let mut h = OFFSET;
    for b in kind.bytes().chain([0u8]).chain(text.bytes()) {
        h ^= u128::from(b);
        h = h.wrapping_mul(PRIME);
    }
    uuid::Builder::from_custom_bytes(h.to_be_bytes()).into_uuid()
}

/// Reads a snake_case enum through its serde name.
pub(crate) fn named<T: DeserializeOwned>(
    field: &'static str,
    s: &str,
    reason: &'static str,
) -> Result<T, ValidationError> {
    serde_json::from_value(serde_json::Value::String(s.to_owned()))
        .map_err(|_| format_err(field, s, reason))
}

/// The serde name of a snake_case enum value.
pub(crate) fn name_of<T: serde::Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
}

/// Reads `true`/`false` (also `yes`/`no`, `1`/`0`, any case).
pub(crate) fn boolean(field: &'static str, s: &str) -> Result<bool, ValidationError> {
    match s.to_ascii_lowercase().as_str() {
        "true" | "yes" | "1" => Ok(true),
        "false" | "no" | "0" => Ok(false),
        _ => Err(format_err(field, s, "expected true or false")),
    }
}

/// Reads an integer.
pub(crate) fn integer(field: &'static str, s: &str) -> Result<i32, ValidationError> {
    s.parse::<i32>()
        .map_err(|_| format_err(field, s, "expected a whole number"))
}

/// Reads a scale written `min..=max` (as [`Scale`] displays) or `min-max`.
pub(crate) fn scale(field: &'static str, s: &str) -> Result<Scale, ValidationError> {
    let bad = || format_err(field, s, "expected a scale such as 0..=10 or 1-5");
    let (a, b) = match s.split_once("..=") {
        Some(p) => p,
        None => {
            // `min-max`: the separating hyphen is not the sign of `min`.
            let start = usize::from(s.starts_with('-'));
            let pos = s
                .get(start..)
                .and_then(|rest| rest.find('-'))
                .ok_or_else(bad)?;
            (
                s.get(..start + pos).ok_or_else(bad)?,
                s.get(start + pos + 1..).ok_or_else(bad)?,
            )
        }
    };
    let (a, b) = (
        a.parse::<i32>().map_err(|_| bad())?,
        b.parse::<i32>().map_err(|_| bad())?,
    );
    Scale::custom(a, b)
}

/// Reads an IANA time zone name.
pub(crate) fn time_zone(field: &'static str, s: &str) -> Result<Tz, ValidationError> {
    s.parse::<Tz>()
        .map_err(|_| format_err(field, s, "expected an IANA time zone such as Europe/Berlin"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_in_every_supported_shape() {
        let f = Format {
            date_formats: vec![
                "%Y-%m-%d %H:%M:%S %z".into(),
                "%d/%m/%Y %H:%M".into(),
                "%d/%m/%Y".into(),
            ],
            time_zone: chrono_tz::Australia::Sydney,
            ..Format::default()
        };
        let utc = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        assert_eq!(
            f.instant("at", "2026-03-01T09:00:00.5+01:00").unwrap(),
            utc("2026-03-01T08:00:00.5Z")
        );
        assert_eq!(
            f.instant("at", "2026-03-01 09:00:00 +0100").unwrap(),
            utc("2026-03-01T08:00:00Z")
        );
        // Sydney in March is UTC+11 (daylight time): 09:00 local = 22:00 UTC the day before.
        assert_eq!(
            f.instant("at", "01/03/2026 09:00").unwrap(),
            utc("2026-02-28T22:00:00Z")
        );
        assert_eq!(
            f.instant("at", "01/03/2026").unwrap(),
            utc("2026-02-28T13:00:00Z")
        );
        // 2026-04-05 02:30 happens twice in Sydney (clocks go back at 03:00).
        assert!(matches!(
            f.instant("at", "05/04/2026 02:30"),
            Err(ValidationError::Format { field: "at", .. })
        ));
        // 2026-10-04 02:30 does not exist in Sydney (clocks go forward at 02:00).
        assert!(f.instant("at", "04/10/2026 02:30").is_err());
        assert!(f.instant("at", "2026-13-01").is_err());
        assert!(Format::default().instant("at", "01/03/2026").is_err());
    }

    #[test]
    fn decimals_never_guess_separators() {
        let dot = Format::default();
        let comma = Format {
            decimal_separator: ',',
            ..Format::default()
        };
        assert_eq!(dot.decimal("a", "-12.50").unwrap(), Decimal::new(-1250, 2));
        assert_eq!(comma.decimal("a", "12,50").unwrap(), Decimal::new(1250, 2));
        for bad in ["1,5", "1e3", "1_000", " 1", "", "abc"] {
            assert!(dot.decimal("a", bad).is_err(), "{bad}");
        }
        assert!(comma.decimal("a", "1.5").is_err());
    }

    #[test]
    fn ids_from_text_are_stable_and_distinct_per_kind() {
        let f = Format {
            ids: IdPolicy::FromText,
            ..Format::default()
        };
        let a: Uuid = f.id("id", "customer", "C-17").unwrap();
        let b: Uuid = f.id("id", "customer", "C-17").unwrap();
        let c: Uuid = f.id("id", "purchase", "C-17").unwrap();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(a.get_version_num(), 8);
        let u = Uuid::from_u128(5);
        assert_eq!(f.id::<Uuid>("id", "customer", &u.to_string()).unwrap(), u);
        assert!(
            Format::default()
                .id::<Uuid>("id", "customer", "C-17")
                .is_err()
        );
        assert!(f.id::<Uuid>("id", "customer", " C").is_err());
    }

    #[test]
    fn scales_and_small_cells() {
        assert_eq!(scale("s", "0..=10").unwrap(), Scale::nps());
        assert_eq!(scale("s", "1-5").unwrap(), Scale::csat5());
        assert_eq!(scale("s", "-2-2").unwrap(), Scale::custom(-2, 2).unwrap());
        assert!(scale("s", "5-1").is_err());
        assert!(scale("s", "x").is_err());
        assert!(boolean("b", "Yes").unwrap());
        assert!(boolean("b", "maybe").is_err());
        assert!(time_zone("tz", "Mars/Olympus").is_err());
    }
}
