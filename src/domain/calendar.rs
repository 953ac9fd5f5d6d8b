//! Business calendars: weekly business hours, holidays and partial days in an
//! IANA time zone, and the business-hours arithmetic on them.
//!
//! A [`BusinessCalendar`] says, for every local date, which local wall-clock
//! intervals are business hours: the weekday's [`DaySchedule`], unless the
//! date is a holiday (closed all day) or a special day with its own
//! intervals (a half day before Christmas, a Saturday opening).
//!
//! # What "business time" means across clock changes
//!
//! An instant is in business hours when its local date and local time in the
//! calendar's zone fall inside one of that date's intervals. Business time
//! between two instants is the amount of *real* (elapsed) time whose instants
//! are in business hours. So a schedule of 24 hours every day measures
//! exactly the elapsed time (23 hours on a spring-forward day, 25 on a
//! fall-back day); a wall-clock hour skipped by a spring-forward change is
//! never business time, and an hour repeated by a fall-back change counts
//! twice if it is in business hours (people work it twice).
//!
//! # Cost
//!
//! The calendar is compiled once, on construction, into per-weekday totals,
//! prefix sums over the holidays and special days, and the zone's offset
//! changes. [`BusinessCalendar::business_duration`] then costs two binary
//! searches whatever the span (no stepping through days or minutes), and
//! [`BusinessCalendar::add_business_time`] a binary search over days.
//!
//! Offsets come from the tz database bundled in `chrono-tz`, sampled daily
//! between 1800 and 2101 (two changes less than a day apart would be missed;
//! none are known); outside that window the offset in force at its edge
//! applies. Instants must lie between 1677-09-22 and 2262-04-11 (the range
//! of nanoseconds in an `i64`), otherwise the arithmetic returns
//! [`BusinessTimeError::OutOfRange`].

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Timelike, Utc, Weekday};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::error::ValidationError;

mod engine;

use engine::Engine;

/// A local wall-clock time of day, to the second, from `00:00` to `24:00`
/// inclusive.
///
/// `24:00` ([`TimeOfDay::END_OF_DAY`]) exists so that an interval can run to
/// the end of the day (`18:00-24:00`); [`NaiveTime`] cannot say that.
/// Text form `HH:MM` or `HH:MM:SS`.
///
/// # Example
/// ```
/// use crmkit::domain::TimeOfDay;
/// let t: TimeOfDay = "09:30".parse()?;
/// assert_eq!(t, TimeOfDay::new(9, 30, 0)?);
/// assert_eq!(t.seconds_from_midnight(), 9 * 3600 + 30 * 60);
/// assert_eq!("24:00".parse::<TimeOfDay>()?, TimeOfDay::END_OF_DAY);
/// assert!(TimeOfDay::END_OF_DAY.to_naive().is_none());
/// assert!("24:01".parse::<TimeOfDay>().is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TimeOfDay(u32);

impl TimeOfDay {
    /// `00:00`, the start of a day.
    pub const MIDNIGHT: Self = Self(0);
    /// `24:00`, the end of a day (the next day's midnight).
    pub const END_OF_DAY: Self = Self(86_400);

    /// The time `hour:minute:second`; `24:00:00` is the end of the day.
    ///
    /// # Errors
    /// [`ValidationError::OutOfRange`] for an hour above 24, a minute or
    /// second above 59, or any time after `24:00:00`.
    pub fn new(hour: u32, minute: u32, second: u32) -> Result<Self, ValidationError> {
        let out = |field: &'static str, value: u32, range: &str| ValidationError::OutOfRange {
            field,
            value: value.to_string(),
            range: range.to_string(),
        };
        if hour > 24 {
            return Err(out("time_of_day.hour", hour, "0..=24"));
        }
        if minute > 59 {
            return Err(out("time_of_day.minute", minute, "0..=59"));
        }
        if second > 59 {
            return Err(out("time_of_day.second", second, "0..=59"));
        }
        let total = hour * 3600 + minute * 60 + second;
        if total > 86_400 {
            return Err(ValidationError::OutOfRange {
                field: "time_of_day",
                value: format!("{hour:02}:{minute:02}:{second:02}"),
                range: "00:00..=24:00".to_string(),
            });
        }
        Ok(Self(total))
    }

    /// The whole seconds of a [`NaiveTime`] (fractions of a second, and a
    /// leap second's extra second, are dropped).
    pub fn from_naive(time: NaiveTime) -> Self {
        Self(time.num_seconds_from_midnight())
    }

    /// Seconds since local midnight, `0..=86_400`.
    pub const fn seconds_from_midnight(self) -> u32 {
        self.0
    }

    /// The time as a [`NaiveTime`]; `None` for `24:00`.
    pub fn to_naive(self) -> Option<NaiveTime> {
        NaiveTime::from_num_seconds_from_midnight_opt(self.0, 0)
    }

    /// Whether this is `24:00`.
    pub const fn is_end_of_day(self) -> bool {
        self.0 == 86_400
    }
}

impl fmt::Display for TimeOfDay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (h, m, s) = (self.0 / 3600, self.0 / 60 % 60, self.0 % 60);
        if s == 0 {
            write!(f, "{h:02}:{m:02}")
        } else {
            write!(f, "{h:02}:{m:02}:{s:02}")
        }
    }
}

impl FromStr for TimeOfDay {
    type Err = ValidationError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let format = || ValidationError::Format {
            field: "time_of_day",
            value: s.to_string(),
            reason: "expected HH:MM or HH:MM:SS",
        };
        let mut parts = s.split(':');
        let mut next = |required: bool| -> Result<u32, ValidationError> {
            match parts.next() {
                Some(p) if p.len() == 2 && p.bytes().all(|b| b.is_ascii_digit()) => {
                    p.parse().map_err(|_| format())
                }
                None if !required => Ok(0),
                _ => Err(format()),
            }
        };
        let (h, m, sec) = (next(true)?, next(true)?, next(false)?);
        if parts.next().is_some() {
            return Err(format());
        }
        Self::new(h, m, sec)
    }
}

impl TryFrom<String> for TimeOfDay {
    type Error = ValidationError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        value.parse()
    }
}

impl From<TimeOfDay> for String {
    fn from(t: TimeOfDay) -> Self {
        t.to_string()
    }
}

/// A half-open interval of local wall-clock time `[start, end)` within one
/// day, with `start < end`.
///
/// # Example
/// ```
/// use crmkit::domain::{BusinessInterval, TimeOfDay};
/// let morning = BusinessInterval::new("09:00".parse()?, "12:30".parse()?)?;
/// assert_eq!(morning.duration(), chrono::Duration::minutes(210));
/// assert!(morning.contains("09:00".parse()?));
/// assert!(!morning.contains("12:30".parse()?));
/// // An evening shift to midnight.
/// assert!(BusinessInterval::new("18:00".parse()?, TimeOfDay::END_OF_DAY).is_ok());
/// assert!(BusinessInterval::new("17:00".parse()?, "09:00".parse()?).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "BusinessIntervalRepr")]
pub struct BusinessInterval {
    start: TimeOfDay,
    end: TimeOfDay,
}

#[derive(Deserialize)]
struct BusinessIntervalRepr {
    start: TimeOfDay,
    end: TimeOfDay,
}

impl TryFrom<BusinessIntervalRepr> for BusinessInterval {
    type Error = ValidationError;
    fn try_from(r: BusinessIntervalRepr) -> Result<Self, Self::Error> {
        Self::new(r.start, r.end)
    }
}

impl BusinessInterval {
    /// The interval `[start, end)`.
    ///
    /// # Errors
    /// [`ValidationError::Order`] unless `start < end`.
    pub fn new(start: TimeOfDay, end: TimeOfDay) -> Result<Self, ValidationError> {
        if start < end {
            Ok(Self { start, end })
        } else {
            Err(ValidationError::Order {
                field: "business_interval",
                start: start.to_string(),
                end: end.to_string(),
            })
        }
    }

    /// The first local time inside the interval.
    pub const fn start(&self) -> TimeOfDay {
        self.start
    }

    /// The first local time after the interval.
    pub const fn end(&self) -> TimeOfDay {
        self.end
    }

    /// Its wall-clock length.
    pub fn duration(&self) -> Duration {
        Duration::seconds(i64::from(self.end.0 - self.start.0))
    }

    /// Whether `start <= time < end`.
    pub fn contains(&self, time: TimeOfDay) -> bool {
        self.start <= time && time < self.end
    }
}

impl fmt::Display for BusinessInterval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.start, self.end)
    }
}

/// The business hours of one day: zero or more disjoint intervals, kept in
/// order; adjacent intervals (`09:00-12:00` and `12:00-17:00`) are merged.
///
/// # Example
/// ```
/// use crmkit::domain::{BusinessInterval, DaySchedule};
/// let i = |a: &str, b: &str| BusinessInterval::new(a.parse()?, b.parse()?);
/// let day = DaySchedule::new([i("13:00", "17:00")?, i("08:00", "12:00")?])?;
/// assert_eq!(day.intervals()[0].to_string(), "08:00-12:00");
/// assert_eq!(day.total(), chrono::Duration::hours(8));
/// assert!(DaySchedule::new([i("08:00", "12:00")?, i("11:00", "17:00")?]).is_err());
/// assert!(DaySchedule::closed().is_closed());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "Vec<BusinessInterval>", into = "Vec<BusinessInterval>")]
pub struct DaySchedule {
    intervals: Vec<BusinessInterval>,
}

static CLOSED: DaySchedule = DaySchedule {
    intervals: Vec::new(),
};

impl DaySchedule {
    /// The intervals, in any order.
    ///
    /// # Errors
    /// [`ValidationError::Inconsistent`] if two intervals overlap.
    pub fn new(
        intervals: impl IntoIterator<Item = BusinessInterval>,
    ) -> Result<Self, ValidationError> {
        let mut sorted: Vec<BusinessInterval> = intervals.into_iter().collect();
        sorted.sort();
        let mut merged: Vec<BusinessInterval> = Vec::with_capacity(sorted.len());
        for interval in sorted {
            match merged.last_mut() {
                Some(last) if last.end > interval.start => {
                    return Err(ValidationError::Inconsistent {
                        field: "day_schedule",
                        reason: format!("intervals {last} and {interval} overlap"),
                    });
                }
                Some(last) if last.end == interval.start => last.end = interval.end,
                _ => merged.push(interval),
            }
        }
        Ok(Self { intervals: merged })
    }

    /// A day without business hours.
    pub const fn closed() -> Self {
        Self {
            intervals: Vec::new(),
        }
    }

    /// One interval `[start, end)`.
    ///
    /// # Errors
    /// [`ValidationError::Order`] unless `start < end`.
    pub fn single(start: TimeOfDay, end: TimeOfDay) -> Result<Self, ValidationError> {
        Ok(Self {
            intervals: vec![BusinessInterval::new(start, end)?],
        })
    }

    /// The whole day, `00:00-24:00`.
    pub fn all_day() -> Self {
        Self {
            intervals: vec![BusinessInterval {
                start: TimeOfDay::MIDNIGHT,
                end: TimeOfDay::END_OF_DAY,
            }],
        }
    }

    /// The intervals, in order, disjoint and not adjacent.
    pub fn intervals(&self) -> &[BusinessInterval] {
        &self.intervals
    }

    /// Whether the day has no business hours.
    pub fn is_closed(&self) -> bool {
        self.intervals.is_empty()
    }

    /// The wall-clock business hours of the day.
    pub fn total(&self) -> Duration {
        Duration::seconds(self.total_seconds())
    }

    fn total_seconds(&self) -> i64 {
        self.intervals
            .iter()
            .map(|i| i64::from(i.end.0 - i.start.0))
            .sum()
    }

    /// Whether `time` is inside one of the intervals.
    pub fn contains(&self, time: TimeOfDay) -> bool {
        self.intervals.iter().any(|i| i.contains(time))
    }
}

impl TryFrom<Vec<BusinessInterval>> for DaySchedule {
    type Error = ValidationError;
    fn try_from(value: Vec<BusinessInterval>) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl From<DaySchedule> for Vec<BusinessInterval> {
    fn from(d: DaySchedule) -> Self {
        d.intervals
    }
}

/// Business hours in a time zone: a weekly schedule, holidays and special
/// days, with the arithmetic on them.
///
/// An instant is in business hours when its local date and time fall inside
/// that date's intervals; business time between two instants is the real
/// (elapsed) time whose instants are in business hours. So a 24-hour
/// schedule measures elapsed time (23 hours on a spring-forward day), a
/// wall-clock hour skipped by a clock change is never business time, and an
/// hour repeated by one counts twice if it is in business hours.
///
/// The calendar is compiled on construction (per-weekday totals, prefix sums
/// over holidays and special days, the zone's offset changes from the tz
/// database between 1800 and 2101), so a business duration costs two binary
/// searches whatever the span, and a due time a binary search over days.
///
/// Invariants (checked by [`BusinessCalendar::new`] and by
/// deserialisation): intervals of a day do not overlap; a special day has at
/// least one interval and is not also a holiday; the calendar has some
/// business hours (a calendar that is never open would make every due time
/// undefined).
///
/// # Example
/// ```
/// use chrono::{Duration, TimeZone};
/// use crmkit::domain::BusinessCalendar;
/// let tz: chrono_tz::Tz = "Europe/Berlin".parse()?;
/// // Monday to Friday, 09:00-17:00.
/// let cal = BusinessCalendar::weekdays(tz, "09:00".parse()?, "17:00".parse()?)?;
/// let friday = tz.with_ymd_and_hms(2026, 3, 6, 16, 30, 0).single().ok_or("no such time")?.to_utc();
/// let monday = tz.with_ymd_and_hms(2026, 3, 9, 9, 30, 0).single().ok_or("no such time")?.to_utc();
/// // 30 minutes on Friday and 30 on Monday.
/// assert_eq!(cal.business_duration(friday, monday)?, Duration::hours(1));
/// assert_eq!(cal.add_business_time(friday, Duration::hours(1))?, monday);
/// assert!(cal.is_open(friday));
/// assert!(!cal.is_open(monday - Duration::hours(1)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Serialize, Deserialize)]
#[serde(try_from = "CalendarRepr", into = "CalendarRepr")]
pub struct BusinessCalendar {
    time_zone: Tz,
    week: [DaySchedule; 7],
    holidays: BTreeSet<NaiveDate>,
    special_days: BTreeMap<NaiveDate, DaySchedule>,
    engine: Arc<Engine>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CalendarRepr {
    time_zone: Tz,
    week: WeekRepr,
    #[serde(default)]
    holidays: BTreeSet<NaiveDate>,
    #[serde(default)]
    special_days: BTreeMap<NaiveDate, DaySchedule>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WeekRepr {
    #[serde(default)]
    monday: DaySchedule,
    #[serde(default)]
    tuesday: DaySchedule,
    #[serde(default)]
    wednesday: DaySchedule,
    #[serde(default)]
    thursday: DaySchedule,
    #[serde(default)]
    friday: DaySchedule,
    #[serde(default)]
    saturday: DaySchedule,
    #[serde(default)]
    sunday: DaySchedule,
}

impl TryFrom<CalendarRepr> for BusinessCalendar {
    type Error = ValidationError;
    fn try_from(r: CalendarRepr) -> Result<Self, Self::Error> {
        let w = r.week;
        Self::new(
            r.time_zone,
            [
                w.monday,
                w.tuesday,
                w.wednesday,
                w.thursday,
                w.friday,
                w.saturday,
                w.sunday,
            ],
            r.holidays,
            r.special_days,
        )
    }
}

impl From<BusinessCalendar> for CalendarRepr {
    fn from(c: BusinessCalendar) -> Self {
        let [
            monday,
            tuesday,
            wednesday,
            thursday,
            friday,
            saturday,
            sunday,
        ] = c.week;
        Self {
            time_zone: c.time_zone,
            week: WeekRepr {
                monday,
                tuesday,
                wednesday,
                thursday,
                friday,
                saturday,
                sunday,
            },
            holidays: c.holidays,
            special_days: c.special_days,
        }
    }
}

impl BusinessCalendar {
    /// A calendar from its weekly schedule (Monday first), holidays and
    /// special days.
    ///
    /// Holidays given twice count once.
    ///
    /// # Errors
    /// [`ValidationError::Duplicate`] for a special day given twice,
    /// [`ValidationError::Inconsistent`] for a special day without
    /// intervals or that is also a holiday, and for a calendar without any
    /// business hours.
    ///
    /// # Example
    /// ```
    /// use chrono::NaiveDate;
    /// use crmkit::domain::{BusinessCalendar, DaySchedule};
    /// let nine_to_five = DaySchedule::single("09:00".parse()?, "17:00".parse()?)?;
    /// let closed = DaySchedule::closed();
    /// let d = |m, day| NaiveDate::from_ymd_opt(2026, m, day).unwrap_or_default();
    /// let cal = BusinessCalendar::new(
    ///     "America/New_York".parse()?,
    ///     [
    ///         nine_to_five.clone(), nine_to_five.clone(), nine_to_five.clone(),
    ///         nine_to_five.clone(), nine_to_five.clone(), closed.clone(), closed,
    ///     ],
    ///     [d(12, 25), d(1, 1)],
    ///     [(d(12, 24), DaySchedule::single("09:00".parse()?, "12:00".parse()?)?)],
    /// )?;
    /// assert!(cal.schedule_on(d(12, 25)).is_closed());
    /// assert_eq!(cal.schedule_on(d(12, 24)).total(), chrono::Duration::hours(3));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(
        time_zone: Tz,
        week: [DaySchedule; 7],
        holidays: impl IntoIterator<Item = NaiveDate>,
        special_days: impl IntoIterator<Item = (NaiveDate, DaySchedule)>,
    ) -> Result<Self, ValidationError> {
        let holidays: BTreeSet<NaiveDate> = holidays.into_iter().collect();
        let mut specials = BTreeMap::new();
        for (date, schedule) in special_days {
            if schedule.is_closed() {
                return Err(ValidationError::Inconsistent {
                    field: "business_calendar.special_days",
                    reason: format!("{date} has no business hours; make it a holiday"),
                });
            }
            if holidays.contains(&date) {
                return Err(ValidationError::Inconsistent {
                    field: "business_calendar.special_days",
                    reason: format!("{date} is both a holiday and a special day"),
                });
            }
            if specials.insert(date, schedule).is_some() {
                return Err(ValidationError::Duplicate {
                    field: "business_calendar.special_days",
                    value: date.to_string(),
                });
            }
        }
        if week.iter().all(DaySchedule::is_closed) && specials.is_empty() {
            return Err(ValidationError::Inconsistent {
                field: "business_calendar",
                reason: "the calendar has no business hours at all".to_string(),
            });
        }
        let engine = Arc::new(Engine::new(time_zone, &week, &holidays, &specials));
        Ok(Self {
            time_zone,
            week,
            holidays,
            special_days: specials,
            engine,
        })
    }

    /// Monday to Friday `[start, end)`, no holidays.
    ///
    /// # Errors
    /// [`ValidationError::Order`] unless `start < end`.
    pub fn weekdays(
        time_zone: Tz,
        start: TimeOfDay,
        end: TimeOfDay,
    ) -> Result<Self, ValidationError> {
        let day = DaySchedule::single(start, end)?;
        let week = [
            day.clone(),
            day.clone(),
            day.clone(),
            day.clone(),
            day,
            DaySchedule::closed(),
            DaySchedule::closed(),
        ];
        Self::new(time_zone, week, [], [])
    }

    /// Open around the clock every day: business time equals elapsed time.
    pub fn always(time_zone: Tz) -> Self {
        let week: [DaySchedule; 7] = std::array::from_fn(|_| DaySchedule::all_day());
        let holidays = BTreeSet::new();
        let special_days = BTreeMap::new();
        let engine = Arc::new(Engine::new(time_zone, &week, &holidays, &special_days));
        Self {
            time_zone,
            week,
            holidays,
            special_days,
            engine,
        }
    }

    /// The calendar's IANA time zone.
    pub const fn time_zone(&self) -> Tz {
        self.time_zone
    }

    /// The weekly schedule of `weekday`.
    pub fn weekly(&self, weekday: Weekday) -> &DaySchedule {
        self.week
            .get(weekday.num_days_from_monday() as usize)
            .unwrap_or(&CLOSED)
    }

    /// The holidays, in order.
    pub fn holidays(&self) -> &BTreeSet<NaiveDate> {
        &self.holidays
    }

    /// The special days and their hours, in order.
    pub fn special_days(&self) -> &BTreeMap<NaiveDate, DaySchedule> {
        &self.special_days
    }

    /// The business hours on a local date: closed on a holiday, the special
    /// day's intervals, else the weekday's.
    pub fn schedule_on(&self, date: NaiveDate) -> &DaySchedule {
        use chrono::Datelike;
        if self.holidays.contains(&date) {
            &CLOSED
        } else if let Some(s) = self.special_days.get(&date) {
            s
        } else {
            self.weekly(date.weekday())
        }
    }

    /// Whether `instant` is inside business hours: its local date's schedule
    /// contains its local time.
    pub fn is_open(&self, instant: DateTime<Utc>) -> bool {
        let local = instant.with_timezone(&self.time_zone).naive_local();
        self.schedule_on(local.date())
            .contains(TimeOfDay::from_naive(local.time()))
    }

    /// The business time in `[start, end)`: the elapsed time whose instants
    /// are in business hours.
    ///
    /// Additive (`a..b` plus `b..c` is `a..c`, to the nanosecond), never
    /// negative, never more than `end - start`.
    ///
    /// # Errors
    /// [`BusinessTimeError::Reversed`] if `end < start`;
    /// [`BusinessTimeError::OutOfRange`] for an instant outside 1677-2262.
    pub fn business_duration(
        &self,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> Result<Duration, BusinessTimeError> {
        if end < start {
            return Err(BusinessTimeError::Reversed { start, end });
        }
        let a = engine::to_nanos(start)?;
        let b = engine::to_nanos(end)?;
        let ns = self.engine.cumulative(b) - self.engine.cumulative(a);
        let ns = i64::try_from(ns).map_err(|_| BusinessTimeError::OutOfRange { instant: end })?;
        Ok(Duration::nanoseconds(ns))
    }

    /// The earliest instant at which `duration` of business time has passed
    /// since `start` (a due time). A zero duration gives `start`.
    ///
    /// Looks at most [`DUE_SEARCH_HORIZON_DAYS`] days ahead, so a calendar
    /// that is closed for decades returns an error instead of searching on.
    ///
    /// # Errors
    /// [`BusinessTimeError::NegativeDuration`],
    /// [`BusinessTimeError::BeyondHorizon`],
    /// [`BusinessTimeError::OutOfRange`].
    ///
    /// # Example
    /// ```
    /// use chrono::{Duration, TimeZone};
    /// use crmkit::domain::BusinessCalendar;
    /// let tz: chrono_tz::Tz = "Asia/Tokyo".parse()?;
    /// let cal = BusinessCalendar::weekdays(tz, "09:00".parse()?, "17:00".parse()?)?;
    /// let friday_noon = tz.with_ymd_and_hms(2026, 5, 8, 12, 0, 0).single().ok_or("no such time")?.to_utc();
    /// // 5 hours left on Friday, 3 on Monday.
    /// let due = cal.add_business_time(friday_noon, Duration::hours(8))?;
    /// assert_eq!(due, tz.with_ymd_and_hms(2026, 5, 11, 12, 0, 0).single().ok_or("no such time")?.to_utc());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn add_business_time(
        &self,
        start: DateTime<Utc>,
        duration: Duration,
    ) -> Result<DateTime<Utc>, BusinessTimeError> {
        if duration < Duration::zero() {
            return Err(BusinessTimeError::NegativeDuration { duration });
        }
        let d = duration
            .num_nanoseconds()
            .ok_or(BusinessTimeError::BeyondHorizon {
                start,
                duration,
                horizon_days: DUE_SEARCH_HORIZON_DAYS,
            })?;
        let a = engine::to_nanos(start)?;
        if d == 0 {
            return Ok(start);
        }
        match self.engine.add(a, d) {
            engine::Due::At(ns) => Ok(DateTime::from_timestamp_nanos(ns)),
            engine::Due::BeyondHorizon => Err(BusinessTimeError::BeyondHorizon {
                start,
                duration,
                horizon_days: DUE_SEARCH_HORIZON_DAYS,
            }),
            engine::Due::OutOfRange => Err(BusinessTimeError::OutOfRange { instant: start }),
        }
    }
}

/// How far [`BusinessCalendar::add_business_time`] looks ahead: 100 years.
pub const DUE_SEARCH_HORIZON_DAYS: i64 = 36_525;

impl PartialEq for BusinessCalendar {
    fn eq(&self, other: &Self) -> bool {
        self.time_zone == other.time_zone
            && self.week == other.week
            && self.holidays == other.holidays
            && self.special_days == other.special_days
    }
}

impl Eq for BusinessCalendar {}

impl fmt::Debug for BusinessCalendar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BusinessCalendar")
            .field("time_zone", &self.time_zone)
            .field("week", &self.week)
            .field("holidays", &self.holidays)
            .field("special_days", &self.special_days)
            .finish()
    }
}

/// Business-hours arithmetic failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BusinessTimeError {
    /// The end of a span is before its start.
    #[error("business time span ends before it starts: start {start}, end {end}")]
    Reversed {
        /// The given start.
        start: DateTime<Utc>,
        /// The given end.
        end: DateTime<Utc>,
    },
    /// A negative business duration was to be added.
    #[error("cannot add a negative business duration ({duration})")]
    NegativeDuration {
        /// The given duration.
        duration: Duration,
    },
    /// The calendar does not accumulate the duration within the search
    /// horizon (closed for decades, say).
    #[error("{duration} of business time is not reached within {horizon_days} days after {start}")]
    BeyondHorizon {
        /// The start instant.
        start: DateTime<Utc>,
        /// The business duration to add.
        duration: Duration,
        /// The search horizon in days.
        horizon_days: i64,
    },
    /// An instant (or a result) outside 1677-09-22..2262-04-11.
    #[error("instant {instant} is outside the supported range 1677-2262")]
    OutOfRange {
        /// The offending instant.
        instant: DateTime<Utc>,
    },
}

#[cfg(test)]
mod tests {
    use super::strategies::*;
    use super::*;
    use crate::domain::period::strategies::time_zone;
    use chrono::TimeZone;
    use proptest::prelude::*;

    fn t(s: &str) -> TimeOfDay {
        s.parse().unwrap()
    }

    fn local(tz: Tz, y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        tz.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap().to_utc()
    }

    fn nine_to_five(tz: Tz) -> BusinessCalendar {
        BusinessCalendar::weekdays(tz, t("09:00"), t("17:00")).unwrap()
    }

    #[test]
    fn friday_evening_to_monday_morning_is_one_business_hour() {
        let tz = chrono_tz::Europe::Berlin;
        let cal = nine_to_five(tz);
        // Friday 6 March 2026 16:30 -> Monday 9 March 09:30:
        // Friday 16:30-17:00 = 30 min, weekend 0, Monday 09:00-09:30 = 30 min: 1 h.
        let fri = local(tz, 2026, 3, 6, 16, 30);
        let mon = local(tz, 2026, 3, 9, 9, 30);
        assert_eq!(cal.business_duration(fri, mon).unwrap(), Duration::hours(1));
        assert_eq!(cal.add_business_time(fri, Duration::hours(1)).unwrap(), mon);
        // Two full weeks: 10 days x 8 h = 80 h.
        let later = local(tz, 2026, 3, 20, 16, 30);
        assert_eq!(
            cal.business_duration(fri, later).unwrap(),
            Duration::hours(80)
        );
    }

    #[test]
    fn due_time_lands_at_end_of_interval_not_next_morning() {
        let tz = chrono_tz::UTC;
        let cal = nine_to_five(tz);
        // Monday 5 Jan 2026 09:00 + 8 h = Monday 17:00 (the end of the day's hours).
        let mon = local(tz, 2026, 1, 5, 9, 0);
        assert_eq!(
            cal.add_business_time(mon, Duration::hours(8)).unwrap(),
            local(tz, 2026, 1, 5, 17, 0)
        );
        // + 8 h 1 min = Tuesday 09:01.
        assert_eq!(
            cal.add_business_time(mon, Duration::minutes(481)).unwrap(),
            local(tz, 2026, 1, 6, 9, 1)
        );
        // From Saturday, 1 minute = Monday 09:01.
        let sat = local(tz, 2026, 1, 10, 12, 0);
        assert_eq!(
            cal.add_business_time(sat, Duration::minutes(1)).unwrap(),
            local(tz, 2026, 1, 12, 9, 1)
        );
    }

    #[test]
    fn holidays_and_special_days() {
        let tz = chrono_tz::America::New_York;
        let day = DaySchedule::single(t("09:00"), t("17:00")).unwrap();
        let d = |m, dd| NaiveDate::from_ymd_opt(2026, m, dd).unwrap();
        let week = std::array::from_fn(|i| {
            if i < 5 {
                day.clone()
            } else {
                DaySchedule::closed()
            }
        });
        let cal = BusinessCalendar::new(
            tz,
            week,
            [d(12, 25)],
            [(
                d(12, 24),
                DaySchedule::single(t("09:00"), t("12:00")).unwrap(),
            )],
        )
        .unwrap();
        // Wed 23 Dec 09:00 -> Mon 28 Dec 09:00: Wed 8 h + Thu 24th 3 h + Fri 25th 0 = 11 h.
        let a = local(tz, 2026, 12, 23, 9, 0);
        let b = local(tz, 2026, 12, 28, 9, 0);
        assert_eq!(cal.business_duration(a, b).unwrap(), Duration::hours(11));
        // Thu 24th 11:00 + 2 h: 1 h left that day, none Friday, 1 h Monday -> Mon 10:00.
        assert_eq!(
            cal.add_business_time(local(tz, 2026, 12, 24, 11, 0), Duration::hours(2))
                .unwrap(),
            local(tz, 2026, 12, 28, 10, 0)
        );
        assert!(!cal.is_open(local(tz, 2026, 12, 25, 10, 0)));
        assert!(!cal.is_open(local(tz, 2026, 12, 24, 13, 0)));
        assert!(cal.is_open(local(tz, 2026, 12, 24, 11, 59)));
    }

    #[test]
    fn clock_changes_in_a_24_hour_schedule() {
        let tz = chrono_tz::Europe::Paris;
        let cal = BusinessCalendar::always(tz);
        // 29 March 2026: clocks go 02:00 -> 03:00, a 23-hour day.
        let a = local(tz, 2026, 3, 29, 0, 0);
        let b = local(tz, 2026, 3, 30, 0, 0);
        assert_eq!(cal.business_duration(a, b).unwrap(), Duration::hours(23));
        // 25 October 2026: 03:00 -> 02:00, a 25-hour day.
        let a = local(tz, 2026, 10, 25, 0, 0);
        let b = local(tz, 2026, 10, 26, 0, 0);
        assert_eq!(cal.business_duration(a, b).unwrap(), Duration::hours(25));
    }

    #[test]
    fn skipped_and_repeated_hours_in_business_hours() {
        let tz = chrono_tz::Europe::Paris;
        // Open 01:00-05:00 every day.
        let week = std::array::from_fn(|_| DaySchedule::single(t("01:00"), t("05:00")).unwrap());
        let cal = BusinessCalendar::new(tz, week, [], []).unwrap();
        let day = |m, d| (local(tz, 2026, m, d, 0, 0), local(tz, 2026, m, d + 1, 0, 0));
        // Spring forward: 02:00-03:00 does not exist: 4 h - 1 h = 3 h.
        let (a, b) = day(3, 29);
        assert_eq!(cal.business_duration(a, b).unwrap(), Duration::hours(3));
        // Fall back: 02:00-03:00 happens twice: 4 h + 1 h = 5 h.
        let (a, b) = day(10, 25);
        assert_eq!(cal.business_duration(a, b).unwrap(), Duration::hours(5));
        // A due time across the gap: from 01:30, 1 h of business time is 03:30 local
        // (01:30-02:00 then 03:00-03:30).
        let start = local(tz, 2026, 3, 29, 1, 30);
        assert_eq!(
            cal.add_business_time(start, Duration::hours(1)).unwrap(),
            local(tz, 2026, 3, 29, 3, 30)
        );
    }

    #[test]
    fn invalid_calendars_are_rejected() {
        let err = BusinessInterval::new(t("17:00"), t("09:00")).unwrap_err();
        assert!(matches!(err, ValidationError::Order { .. }));
        let a = BusinessInterval::new(t("09:00"), t("12:00")).unwrap();
        let b = BusinessInterval::new(t("11:00"), t("13:00")).unwrap();
        assert!(matches!(
            DaySchedule::new([a, b]).unwrap_err(),
            ValidationError::Inconsistent { .. }
        ));
        let closed: [DaySchedule; 7] = std::array::from_fn(|_| DaySchedule::closed());
        assert!(matches!(
            BusinessCalendar::new(chrono_tz::UTC, closed, [], []).unwrap_err(),
            ValidationError::Inconsistent { .. }
        ));
        // Serde goes through the same checks.
        let json = r#"{"time_zone":"UTC","week":{"monday":[{"start":"17:00","end":"09:00"}]}}"#;
        assert!(serde_json::from_str::<BusinessCalendar>(json).is_err());
        let json = r#"{"time_zone":"UTC","week":{}}"#;
        assert!(serde_json::from_str::<BusinessCalendar>(json).is_err());
        let json = r#"{"time_zone":"UTC","week":{"monday":[{"start":"09:00","end":"24:00"}]}}"#;
        let cal: BusinessCalendar = serde_json::from_str(json).unwrap();
        assert_eq!(cal.weekly(Weekday::Mon).total(), Duration::hours(15));
    }

    #[test]
    fn closed_for_a_century_is_a_typed_error_not_a_hang() {
        // Open on one special day only.
        let closed: [DaySchedule; 7] = std::array::from_fn(|_| DaySchedule::closed());
        let day = NaiveDate::from_ymd_opt(2020, 6, 1).unwrap();
        let cal = BusinessCalendar::new(
            chrono_tz::UTC,
            closed,
            [],
            [(day, DaySchedule::single(t("09:00"), t("10:00")).unwrap())],
        )
        .unwrap();
        let after = local(chrono_tz::UTC, 2021, 1, 1, 0, 0);
        assert!(matches!(
            cal.add_business_time(after, Duration::minutes(1)),
            Err(BusinessTimeError::BeyondHorizon { .. })
        ));
        let before = local(chrono_tz::UTC, 2019, 1, 1, 0, 0);
        assert_eq!(
            cal.add_business_time(before, Duration::minutes(30))
                .unwrap(),
            local(chrono_tz::UTC, 2020, 6, 1, 9, 30)
        );
        // Every day a holiday for five years, then business as usual.
        let start = NaiveDate::from_ymd_opt(2030, 1, 1).unwrap();
        let holidays = (0..5 * 366).map(|i| start + Duration::days(i));
        let cal = BusinessCalendar::new(
            chrono_tz::UTC,
            std::array::from_fn(|_| DaySchedule::single(t("09:00"), t("17:00")).unwrap()),
            holidays,
            [],
        )
        .unwrap();
        let from = local(chrono_tz::UTC, 2030, 1, 1, 0, 0);
        // 1 Jan 2030 + 1830 days = 5 Jan 2035, the first open day.
        assert_eq!(
            cal.add_business_time(from, Duration::hours(1)).unwrap(),
            local(chrono_tz::UTC, 2035, 1, 5, 10, 0)
        );
        assert!(matches!(
            cal.add_business_time(from, Duration::hours(-1)),
            Err(BusinessTimeError::NegativeDuration { .. })
        ));
        assert!(matches!(
            cal.business_duration(from, from - Duration::hours(1)),
            Err(BusinessTimeError::Reversed { .. })
        ));
    }

    #[test]
    fn time_of_day_text() {
        assert_eq!(t("09:05").to_string(), "09:05");
        assert_eq!(t("09:05:07").to_string(), "09:05:07");
        for bad in [
            "9:00",
            "09",
            "09:60",
            "24:00:01",
            "25:00",
            "09:00:00:00",
            "",
        ] {
            assert!(bad.parse::<TimeOfDay>().is_err(), "{bad}");
        }
    }

    /// An instant between 2000 and 2040.
    fn instant() -> impl Strategy<Value = DateTime<Utc>> {
        (946_684_800i64..2_208_988_800i64, 0u32..1_000_000_000)
            .prop_map(|(s, ns)| DateTime::from_timestamp(s, ns).unwrap())
    }

    /// Up to two weeks, often whole minutes.
    fn span() -> impl Strategy<Value = Duration> {
        prop_oneof![
            (0i64..20_160).prop_map(Duration::minutes),
            (0i64..14 * 86_400_000_000_000).prop_map(Duration::nanoseconds),
            (0i64..3 * 365 * 86_400).prop_map(Duration::seconds),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn additive_nonnegative_and_bounded(
            cal in business_calendar(), a in instant(), x in span(), y in span()
        ) {
            let b = a + x;
            let c = b + y;
            let ab = cal.business_duration(a, b).unwrap();
            let bc = cal.business_duration(b, c).unwrap();
            let ac = cal.business_duration(a, c).unwrap();
            prop_assert_eq!(ab + bc, ac);
            prop_assert!(ab >= Duration::zero());
            prop_assert!(ab <= b - a);
            prop_assert!(ac <= c - a);
        }

        #[test]
        fn add_then_measure_round_trips(cal in business_calendar(), a in instant(), d in span()) {
            let due = match cal.add_business_time(a, d) {
                Ok(due) => due,
                Err(BusinessTimeError::BeyondHorizon { horizon_days, .. }) => {
                    // Right only when the horizon holds less than `d` of
                    // business time: a calendar closed every week and open
                    // on a few special days, say.
                    let end = a + Duration::days(horizon_days);
                    prop_assert!(cal.business_duration(a, end).unwrap() < d);
                    return Ok(());
                }
                Err(e) => return Err(TestCaseError::fail(e.to_string())),
            };
            prop_assert!(due >= a);
            prop_assert_eq!(cal.business_duration(a, due).unwrap(), d);
            // The earliest such instant: one nanosecond earlier is not enough.
            if d > Duration::zero() {
                let before = due - Duration::nanoseconds(1);
                prop_assert!(cal.business_duration(a, before).unwrap() < d);
            }
        }

        #[test]
        fn open_instants_are_exactly_those_that_accrue(cal in business_calendar(), a in instant()) {
            let next = a + Duration::nanoseconds(1);
            let accrues = cal.business_duration(a, next).unwrap() == Duration::nanoseconds(1);
            prop_assert_eq!(cal.is_open(a), accrues);
        }

        #[test]
        fn a_24_hour_schedule_is_elapsed_time(tz in time_zone(), a in instant(), x in span()) {
            let cal = BusinessCalendar::always(tz);
            let b = a + x;
            prop_assert_eq!(cal.business_duration(a, b).unwrap(), x);
            prop_assert_eq!(cal.add_business_time(a, x).unwrap(), b);
        }

        #[test]
        fn dst_zone_equals_fixed_zone_away_from_the_changeover(
            cal in business_calendar_with(
                prop::sample::select(vec![
                    chrono_tz::Europe::Berlin,
                    chrono_tz::Europe::London,
                    chrono_tz::America::New_York,
                    chrono_tz::Australia::Sydney,
                ]),
                20, // intervals from 05:00
            ),
            day in 0i64..14_600, // 2000-2040
            len in 0i64..800,
            (h1, m1, h2, m2) in (5u32..24, 0u32..60, 5u32..24, 0u32..60),
        ) {
            let base = NaiveDate::from_ymd_opt(2000, 1, 1).unwrap();
            let wa = (base + Duration::days(day)).and_hms_opt(h1, m1, 0).unwrap();
            let wb = (base + Duration::days(day + len)).and_hms_opt(h2, m2, 0).unwrap();
            prop_assume!(wa <= wb);
            let fixed = BusinessCalendar::new(
                chrono_tz::Etc::GMTPlus3,
                std::array::from_fn(|i| cal.weekly(Weekday::try_from(i as u8).unwrap()).clone()),
                cal.holidays().iter().copied(),
                cal.special_days().clone(),
            ).unwrap();
            let tz = cal.time_zone();
            let in_zone = |z: Tz, w: chrono::NaiveDateTime| z.from_local_datetime(&w).single().unwrap().to_utc();
            let dst = cal.business_duration(in_zone(tz, wa), in_zone(tz, wb)).unwrap();
            let fix = fixed
                .business_duration(in_zone(fixed.time_zone(), wa), in_zone(fixed.time_zone(), wb))
                .unwrap();
            prop_assert_eq!(dst, fix);
        }

        #[test]
        fn serde_round_trips(cal in business_calendar()) {
            let json = serde_json::to_string(&cal).unwrap();
            let back: BusinessCalendar = serde_json::from_str(&json).unwrap();
            prop_assert_eq!(back, cal);
        }
    }
}

#[cfg(any(test, feature = "proptest"))]
pub(crate) mod strategies {
    use super::*;
    use crate::domain::period::strategies::time_zone;
    use proptest::prelude::*;

    /// A time of day on a quarter hour, `00:00` to `24:00`.
    pub fn time_of_day() -> impl Strategy<Value = TimeOfDay> {
        (0u32..=96).prop_map(|q| TimeOfDay(q * 900))
    }

    /// A business interval on quarter hours.
    pub fn business_interval() -> impl Strategy<Value = BusinessInterval> {
        (0u32..96, 1u32..=96).prop_map(|(a, len)| {
            let end = (a + len).min(96);
            BusinessInterval {
                start: TimeOfDay(a * 900),
                end: TimeOfDay(end.max(a + 1) * 900),
            }
        })
    }

    /// A day schedule with up to three intervals whose boundaries are
    /// quarter hours in `[from_quarter, 96]` (so a schedule can avoid the
    /// early hours when clocks change).
    pub fn day_schedule_within(from_quarter: u32) -> impl Strategy<Value = DaySchedule> {
        let from = from_quarter.min(95);
        prop::collection::btree_set(from..=96u32, 0..=6).prop_map(|points| {
            let points: Vec<u32> = points.into_iter().collect();
            let intervals = points
                .chunks_exact(2)
                .filter_map(|w| match w {
                    [a, b] => BusinessInterval::new(TimeOfDay(a * 900), TimeOfDay(b * 900)).ok(),
                    _ => None,
                })
                .collect::<Vec<_>>();
            DaySchedule::new(intervals).unwrap_or_default()
        })
    }

    /// A day schedule with up to three intervals on quarter hours.
    pub fn day_schedule() -> impl Strategy<Value = DaySchedule> {
        day_schedule_within(0)
    }

    /// A business calendar in [`time_zone`] with
    /// up to ten holidays and five special days between 2020 and 2031.
    pub fn business_calendar() -> impl Strategy<Value = BusinessCalendar> {
        business_calendar_with(time_zone(), 0)
    }

    /// A calendar in a zone from `zones` whose intervals all start at or
    /// after quarter hour `from_quarter`.
    pub fn business_calendar_with(
        zones: impl Strategy<Value = Tz>,
        from_quarter: u32,
    ) -> impl Strategy<Value = BusinessCalendar> {
        let date = (0i64..4383).prop_map(|d| {
            NaiveDate::from_ymd_opt(2020, 1, 1).unwrap_or_default() + Duration::days(d)
        });
        (
            zones,
            prop::array::uniform7(day_schedule_within(from_quarter)),
            prop::collection::vec(date.clone(), 0..10),
            prop::collection::vec((date, day_schedule_within(from_quarter)), 0..5),
        )
            .prop_map(move |(tz, week, holidays, specials)| {
                let specials: BTreeMap<NaiveDate, DaySchedule> = specials
                    .into_iter()
                    .filter(|(d, s)| !s.is_closed() && !holidays.contains(d))
                    .collect();
                BusinessCalendar::new(tz, week, holidays, specials).unwrap_or_else(|_| {
                    let fallback = DaySchedule::single(TimeOfDay(36 * 900), TimeOfDay(68 * 900))
                        .unwrap_or_default();
                    let week = std::array::from_fn(|i| {
                        if i < 5 {
                            fallback.clone()
                        } else {
                            DaySchedule::closed()
                        }
                    });
                    BusinessCalendar::new(tz, week, [], [])
                        .unwrap_or_else(|_| BusinessCalendar::always(tz))
                })
            })
    }
}
