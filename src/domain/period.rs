//! Half-open time periods and calendar buckets in a time zone.
//!
//! A [`Period`] is `[start, end)`: the start instant is inside, the end instant
//! is not, so consecutive periods tile time with no gap and no overlap.
//!
//! Calendar buckets (day, ISO week, month, quarter, year) are defined in a
//! caller-given IANA time zone, because "March" for a shop in Sydney is not
//! March in UTC. A bucket starts at the first instant whose local date is its
//! first day (local midnight, or the end of a clock change gap when midnight
//! does not exist that day) and ends where the next bucket starts. Buckets are
//! therefore contiguous in every zone, including on the days clocks change: a
//! day bucket is 23 or 25 hours long then, and a day skipped by a zone (Samoa,
//! 30 December 2011) is an empty bucket that [`Period::buckets`] leaves out.

use std::fmt;

use chrono::{DateTime, Datelike, Duration, LocalResult, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::error::ValidationError;

/// A half-open interval of time `[start, end)` with `start < end`.
///
/// # Example
/// ```
/// use chrono::{TimeZone, Utc};
/// use crmkit::domain::Period;
/// let q1 = Period::new(
///     Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap(),
///     Utc.with_ymd_and_hms(2026, 4, 1, 0, 0, 0).unwrap(),
/// )?;
/// assert!(q1.contains(q1.start()));
/// assert!(!q1.contains(q1.end()));
/// assert!(Period::new(q1.end(), q1.start()).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "PeriodRepr")]
pub struct Period {
    start: DateTime<Utc>,
    end: DateTime<Utc>,
}

#[derive(Deserialize)]
struct PeriodRepr {
    start: DateTime<Utc>,
    end: DateTime<Utc>,
}

impl TryFrom<PeriodRepr> for Period {
    type Error = ValidationError;
    fn try_from(r: PeriodRepr) -> Result<Self, Self::Error> {
        Period::new(r.start, r.end)
    }
}

impl Period {
    /// The period `[start, end)`.
    ///
    /// # Errors
    /// [`ValidationError::Order`] unless `start < end` (a period of zero
    /// length is rejected too).
    pub fn new(start: DateTime<Utc>, end: DateTime<Utc>) -> Result<Self, ValidationError> {
        if start < end {
            Ok(Self { start, end })
        } else {
            Err(ValidationError::Order {
                field: "period",
                start: start.to_rfc3339(),
                end: end.to_rfc3339(),
            })
        }
    }

    /// The first instant inside the period.
    pub const fn start(&self) -> DateTime<Utc> {
        self.start
    }

    /// The first instant after the period (not inside it).
    pub const fn end(&self) -> DateTime<Utc> {
        self.end
    }

    /// `end - start`, always positive.
    pub fn duration(&self) -> Duration {
        self.end - self.start
    }

    /// Whether `start <= instant < end`.
    pub fn contains(&self, instant: DateTime<Utc>) -> bool {
        self.start <= instant && instant < self.end
    }

    /// The overlap of two periods, if they share any instant.
    ///
    /// # Example
    /// ```
    /// use chrono::{TimeZone, Utc};
    /// use crmkit::domain::Period;
    /// let t = |h| Utc.with_ymd_and_hms(2026, 1, 1, h, 0, 0).unwrap();
    /// let a = Period::new(t(0), t(10))?;
    /// let b = Period::new(t(5), t(20))?;
    /// assert_eq!(a.intersection(&b), Some(Period::new(t(5), t(10))?));
    /// assert_eq!(a.intersection(&Period::new(t(10), t(11))?), None);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn intersection(&self, other: &Period) -> Option<Period> {
        Period::new(self.start.max(other.start), self.end.min(other.end)).ok()
    }

    /// The calendar buckets of `granularity` in `tz` that this period
    /// touches, each with the part of the period inside it, in order.
    ///
    /// The parts tile the period exactly: no instant is in two parts and none
    /// is left out.
    ///
    /// # Example
    /// ```
    /// use chrono::{TimeZone, Utc};
    /// use crmkit::domain::{CalendarBucket, Granularity, Period};
    /// let tz: chrono_tz::Tz = "Europe/Berlin".parse()?;
    /// let p = Period::new(
    ///     Utc.with_ymd_and_hms(2026, 1, 15, 0, 0, 0).unwrap(),
    ///     Utc.with_ymd_and_hms(2026, 3, 15, 0, 0, 0).unwrap(),
    /// )?;
    /// let months: Vec<_> = p.buckets(Granularity::Month, tz).map(|(b, _)| b).collect();
    /// assert_eq!(months, vec![
    ///     CalendarBucket::Month { year: 2026, month: 1 },
    ///     CalendarBucket::Month { year: 2026, month: 2 },
    ///     CalendarBucket::Month { year: 2026, month: 3 },
    /// ]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn buckets(&self, granularity: Granularity, tz: Tz) -> Buckets {
        let first = CalendarBucket::containing(self.start, granularity, tz);
        Buckets {
            period: *self,
            tz,
            next: Some(first),
        }
    }
}

impl fmt::Debug for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "[{}, {})",
            self.start.to_rfc3339(),
            self.end.to_rfc3339()
        )
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// Iterator over the calendar buckets of a period; see [`Period::buckets`].
#[derive(Debug, Clone)]
pub struct Buckets {
    period: Period,
    tz: Tz,
    next: Option<CalendarBucket>,
}

impl Iterator for Buckets {
    type Item = (CalendarBucket, Period);

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let bucket = self.next?;
            let start = bucket.start(self.tz);
            if start >= self.period.end {
                self.next = None;
                return None;
            }
            let following = bucket.next();
            let end = following.map_or(self.period.end, |b| b.start(self.tz).min(self.period.end));
            self.next = following;
            if let Ok(part) = Period::new(start.max(self.period.start), end) {
                return Some((bucket, part));
            }
            // An empty bucket (a day a zone skipped): go on to the next one.
        }
    }
}

/// The size of a calendar bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Granularity {
    /// A calendar day.
    Day,
    /// An ISO 8601 week, Monday to Sunday, numbered within its ISO year.
    IsoWeek,
    /// A calendar month.
    Month,
    /// A calendar quarter (January-March is quarter 1).
    Quarter,
    /// A calendar year.
    Year,
}

/// One calendar bucket: a day, ISO week, month, quarter or year.
///
/// A bucket is a label; its instants depend on the time zone, see
/// [`CalendarBucket::period`]. Buckets order chronologically within one
/// granularity.
///
/// # Example
/// ```
/// use chrono::{TimeZone, Utc};
/// use crmkit::domain::{CalendarBucket, Granularity};
/// let tz: chrono_tz::Tz = "Australia/Sydney".parse()?;
/// // 20:00 UTC on 31 March is already 1 April in Sydney.
/// let t = Utc.with_ymd_and_hms(2026, 3, 31, 20, 0, 0).unwrap();
/// assert_eq!(
///     CalendarBucket::containing(t, Granularity::Month, tz),
///     CalendarBucket::Month { year: 2026, month: 4 }
/// );
/// assert_eq!(CalendarBucket::Month { year: 2026, month: 4 }.to_string(), "2026-04");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CalendarBucket {
    /// A calendar day.
    Day(NaiveDate),
    /// An ISO week: ISO week-numbering year and week 1-53.
    IsoWeek {
        /// ISO week-numbering year.
        year: i32,
        /// Week number, 1-53.
        week: u32,
    },
    /// A month.
    Month {
        /// Year.
        year: i32,
        /// Month, 1-12.
        month: u32,
    },
    /// A quarter.
    Quarter {
        /// Year.
        year: i32,
        /// Quarter, 1-4.
        quarter: u32,
    },
    /// A year.
    Year(i32),
}

impl CalendarBucket {
    /// The bucket of a local date.
    pub fn of_date(date: NaiveDate, granularity: Granularity) -> Self {
        match granularity {
            Granularity::Day => Self::Day(date),
            Granularity::IsoWeek => {
                let w = date.iso_week();
                Self::IsoWeek {
                    year: w.year(),
                    week: w.week(),
                }
            }
            Granularity::Month => Self::Month {
                year: date.year(),
                month: date.month(),
            },
            Granularity::Quarter => Self::Quarter {
                year: date.year(),
                quarter: (date.month() - 1) / 3 + 1,
            },
            Granularity::Year => Self::Year(date.year()),
        }
    }

    /// The bucket that contains `instant` in `tz`: the one whose
    /// `[start, next start)` holds it.
    pub fn containing(instant: DateTime<Utc>, granularity: Granularity, tz: Tz) -> Self {
        let local = instant.with_timezone(&tz).date_naive();
        let mut bucket = Self::of_date(local, granularity);
        // Normally the local date decides. Where a zone turns its clock back
        // across midnight, the local date repeats; boundaries then decide, so
        // that `containing` always agrees with `Period::buckets`.
        for _ in 0..2 {
            match bucket.prev() {
                Some(prev) if bucket.start(tz) > instant => bucket = prev,
                _ => break,
            }
        }
        for _ in 0..2 {
            match bucket.next() {
                Some(next) if next.start(tz) <= instant => bucket = next,
                _ => break,
            }
        }
        bucket
    }

    /// The granularity of this bucket.
    pub fn granularity(&self) -> Granularity {
        match self {
            Self::Day(_) => Granularity::Day,
            Self::IsoWeek { .. } => Granularity::IsoWeek,
            Self::Month { .. } => Granularity::Month,
            Self::Quarter { .. } => Granularity::Quarter,
            Self::Year(_) => Granularity::Year,
        }
    }

    /// The first local date of the bucket (`None` only for dates outside
    /// chrono's range).
    pub fn first_day(&self) -> Option<NaiveDate> {
        match *self {
            Self::Day(d) => Some(d),
            Self::IsoWeek { year, week } => {
                NaiveDate::from_isoywd_opt(year, week, chrono::Weekday::Mon)
            }
            Self::Month { year, month } => NaiveDate::from_ymd_opt(year, month, 1),
            Self::Quarter { year, quarter } => {
                NaiveDate::from_ymd_opt(year, (quarter.clamp(1, 4) - 1) * 3 + 1, 1)
            }
            Self::Year(year) => NaiveDate::from_ymd_opt(year, 1, 1),
        }
    }

    /// The bucket after this one.
    pub fn next(&self) -> Option<Self> {
        Some(match *self {
            Self::Day(d) => Self::Day(d.succ_opt()?),
            Self::IsoWeek { .. } => Self::of_date(
                self.first_day()?.checked_add_days(chrono::Days::new(7))?,
                Granularity::IsoWeek,
            ),
            Self::Month { year, month } if month >= 12 => Self::Month {
                year: year.checked_add(1)?,
                month: 1,
            },
            Self::Month { year, month } => Self::Month {
                year,
                month: month + 1,
            },
            Self::Quarter { year, quarter } if quarter >= 4 => Self::Quarter {
                year: year.checked_add(1)?,
                quarter: 1,
            },
            Self::Quarter { year, quarter } => Self::Quarter {
                year,
                quarter: quarter + 1,
            },
            Self::Year(y) => Self::Year(y.checked_add(1)?),
        })
    }

    /// The bucket before this one.
    pub fn prev(&self) -> Option<Self> {
        Some(match *self {
            Self::Day(d) => Self::Day(d.pred_opt()?),
            Self::IsoWeek { .. } => Self::of_date(
                self.first_day()?.checked_sub_days(chrono::Days::new(7))?,
                Granularity::IsoWeek,
            ),
            Self::Month { year, month } if month <= 1 => Self::Month {
                year: year.checked_sub(1)?,
                month: 12,
            },
            Self::Month { year, month } => Self::Month {
                year,
                month: month - 1,
            },
            Self::Quarter { year, quarter } if quarter <= 1 => Self::Quarter {
                year: year.checked_sub(1)?,
                quarter: 4,
            },
            Self::Quarter { year, quarter } => Self::Quarter {
                year,
                quarter: quarter - 1,
            },
            Self::Year(y) => Self::Year(y.checked_sub(1)?),
        })
    }

    /// The first instant of the bucket in `tz`.
    pub fn start(&self, tz: Tz) -> DateTime<Utc> {
        match self.first_day() {
            Some(day) => start_of_local_day(day, tz),
            None => DateTime::<Utc>::MAX_UTC,
        }
    }

    /// The instants of the bucket in `tz`: `[start, next bucket's start)`;
    /// `None` for a bucket the zone skipped entirely.
    ///
    /// # Example
    /// ```
    /// use chrono::{Duration, NaiveDate};
    /// use crmkit::domain::CalendarBucket;
    /// let tz: chrono_tz::Tz = "Europe/Paris".parse()?;
    /// // Clocks went forward on 29 March 2026 in Paris: a 23-hour day.
    /// let day = CalendarBucket::Day(NaiveDate::from_ymd_opt(2026, 3, 29).unwrap());
    /// assert_eq!(day.period(tz).unwrap().duration(), Duration::hours(23));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn period(&self, tz: Tz) -> Option<Period> {
        let end = self.next()?.start(tz);
        Period::new(self.start(tz), end).ok()
    }
}

impl fmt::Display for CalendarBucket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Day(d) => write!(f, "{d}"),
            Self::IsoWeek { year, week } => write!(f, "{year}-W{week:02}"),
            Self::Month { year, month } => write!(f, "{year}-{month:02}"),
            Self::Quarter { year, quarter } => write!(f, "{year}-Q{quarter}"),
            Self::Year(y) => write!(f, "{y}"),
        }
    }
}

/// The first instant whose local date in `tz` is `day`: local midnight, the
/// earlier of two midnights when clocks turn back, or the end of the gap when
/// clocks skip midnight.
pub(crate) fn start_of_local_day(day: NaiveDate, tz: Tz) -> DateTime<Utc> {
    let midnight = day.and_time(chrono::NaiveTime::MIN);
    // Gaps in the tz database last at most a day (Samoa skipped 30 December
    // 2011); step through them a minute at a time (transitions fall on whole
    // minutes).
    let mut local = midnight;
    for _ in 0..=(25 * 60) {
        match tz.from_local_datetime(&local) {
            LocalResult::Single(t) => return t.with_timezone(&Utc),
            LocalResult::Ambiguous(earliest, _) => return earliest.with_timezone(&Utc),
            LocalResult::None => local += Duration::minutes(1),
        }
    }
    // Unreachable for real zones: fall back to midnight at UTC offset zero.
    midnight.and_utc()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, 0, 0).unwrap()
    }

    #[test]
    fn period_rejects_empty_and_reversed() {
        let t = utc(2026, 1, 1, 0);
        assert!(matches!(
            Period::new(t, t),
            Err(ValidationError::Order {
                field: "period",
                ..
            })
        ));
        let json = r#"{"start":"2026-02-01T00:00:00Z","end":"2026-01-01T00:00:00Z"}"#;
        assert!(serde_json::from_str::<Period>(json).is_err());
    }

    #[test]
    fn dst_days_have_23_and_25_hours() {
        let tz: Tz = "America/New_York".parse().unwrap();
        let spring = CalendarBucket::Day(NaiveDate::from_ymd_opt(2026, 3, 8).unwrap());
        let autumn = CalendarBucket::Day(NaiveDate::from_ymd_opt(2026, 11, 1).unwrap());
        assert_eq!(spring.period(tz).unwrap().duration(), Duration::hours(23));
        assert_eq!(autumn.period(tz).unwrap().duration(), Duration::hours(25));
        // New York midnight is 05:00 UTC in winter.
        assert_eq!(spring.start(tz), utc(2026, 3, 8, 5));
    }

    #[test]
    fn skipped_day_is_left_out() {
        let tz: Tz = "Pacific/Apia".parse().unwrap();
        let p = Period::new(utc(2011, 12, 29, 0), utc(2012, 1, 2, 0)).unwrap();
        let days: Vec<_> = p
            .buckets(Granularity::Day, tz)
            .map(|(b, _)| b.to_string())
            .collect();
        assert!(!days.contains(&"2011-12-30".to_string()), "{days:?}");
        assert!(days.contains(&"2011-12-31".to_string()));
    }

    #[test]
    fn iso_weeks_cross_years() {
        // 29 December 2025 is Monday of ISO week 2026-W01.
        let d = NaiveDate::from_ymd_opt(2025, 12, 29).unwrap();
        assert_eq!(
            CalendarBucket::of_date(d, Granularity::IsoWeek),
            CalendarBucket::IsoWeek {
                year: 2026,
                week: 1
            }
        );
        let w53 = CalendarBucket::IsoWeek {
            year: 2026,
            week: 53,
        };
        assert_eq!(
            w53.next(),
            Some(CalendarBucket::IsoWeek {
                year: 2027,
                week: 1
            })
        );
        assert_eq!(
            CalendarBucket::IsoWeek {
                year: 2027,
                week: 1
            }
            .prev(),
            Some(w53)
        );
    }

    #[test]
    fn quarters_and_years() {
        let tz = chrono_tz::UTC;
        let p = Period::new(utc(2025, 11, 1, 0), utc(2026, 5, 1, 0)).unwrap();
        let qs: Vec<_> = p
            .buckets(Granularity::Quarter, tz)
            .map(|(b, _)| b.to_string())
            .collect();
        assert_eq!(qs, ["2025-Q4", "2026-Q1", "2026-Q2"]);
        let ys: Vec<_> = p
            .buckets(Granularity::Year, tz)
            .map(|(b, part)| (b.to_string(), part))
            .collect();
        assert_eq!(
            ys[0].1,
            Period::new(utc(2025, 11, 1, 0), utc(2026, 1, 1, 0)).unwrap()
        );
        assert_eq!(
            ys[1].1,
            Period::new(utc(2026, 1, 1, 0), utc(2026, 5, 1, 0)).unwrap()
        );
    }
}

#[cfg(any(test, feature = "proptest"))]
pub(crate) mod strategies {
    use super::*;
    use proptest::prelude::*;

    /// An instant between 1990 and 2060, to the nanosecond.
    pub fn instant() -> impl Strategy<Value = DateTime<Utc>> {
        (631_152_000i64..2_840_140_800i64, 0u32..1_000_000_000)
            .prop_map(|(s, ns)| DateTime::from_timestamp(s, ns).unwrap_or_default())
    }

    /// A time zone, drawn from zones with and without DST, half-hour offsets
    /// and a skipped day.
    pub fn time_zone() -> impl Strategy<Value = Tz> {
        prop::sample::select(vec![
            chrono_tz::UTC,
            chrono_tz::Europe::Berlin,
            chrono_tz::Europe::London,
            chrono_tz::America::New_York,
            chrono_tz::America::Sao_Paulo,
            chrono_tz::America::Havana,
            chrono_tz::Asia::Kolkata,
            chrono_tz::Asia::Beirut,
            chrono_tz::Asia::Tokyo,
            chrono_tz::Australia::Sydney,
            chrono_tz::Australia::Lord_Howe,
            chrono_tz::Pacific::Apia,
            chrono_tz::Pacific::Chatham,
        ])
    }

    /// A period of up to about two years.
    pub fn period() -> impl Strategy<Value = Period> {
        (instant(), 1i64..(2 * 366 * 86_400_000_000_000i64)).prop_map(|(start, len)| {
            let end = start + Duration::nanoseconds(len);
            Period::new(start, end).unwrap_or_else(|_| Period {
                start,
                end: start + Duration::seconds(1),
            })
        })
    }

    /// Any calendar granularity.
    pub fn granularity() -> impl Strategy<Value = Granularity> {
        prop::sample::select(vec![
            Granularity::Day,
            Granularity::IsoWeek,
            Granularity::Month,
            Granularity::Quarter,
            Granularity::Year,
        ])
    }
}
