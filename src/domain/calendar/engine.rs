//! The compiled form of a business calendar and its arithmetic.
//!
//! Two cumulative functions do all the work, both in nanoseconds:
//!
//! - `wall(x)`: business time on the *local wall clock* from a fixed origin
//!   up to the naive local instant `x` (local time read as if it were UTC).
//!   With per-weekday totals it is `weeks * week_total + prefix[weekday] +
//!   (holiday and special-day corrections before x) + (business time of x's
//!   day before x)`: O(log exceptions), whatever the span.
//! - `cumulative(t)`: business time in real time up to the instant `t`.
//!   Between two offset changes the zone maps instants to wall time by a
//!   constant shift, so `cumulative(t) = wall(t + offset) + correction`,
//!   where the correction of each offset segment keeps `cumulative`
//!   continuous across the change (removing the wall time a spring-forward
//!   change skips, adding the time a fall-back change repeats).
//!
//! Business time between two instants is a difference of `cumulative`,
//! hence exactly additive; a due time inverts `cumulative` by binary search
//! over offset segments, then over days.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, LazyLock, RwLock};

use chrono::{DateTime, NaiveDate, Offset, TimeZone, Utc};
use chrono_tz::Tz;

use super::{BusinessTimeError, DUE_SEARCH_HORIZON_DAYS, DaySchedule};

const SEC: i128 = 1_000_000_000;
const DAY: i128 = 86_400 * SEC;
const DAY64: i64 = 86_400_000_000_000;

/// Intervals of one day as `(start, end)` nanoseconds since local midnight.
type Intervals = Vec<(i128, i128)>;

/// The compiled calendar.
pub(super) struct Engine {
    week: [Intervals; 7],
    /// `prefix[r]`: business time of the first `r` days of a week (Monday first).
    prefix: [i128; 8],
    week_total: i128,
    /// Holidays and special days: epoch day, intervals, and the sum of
    /// `(its total - its weekday's total)` over the exceptions before it.
    exc_days: Vec<i64>,
    exc_intervals: Vec<Intervals>,
    exc_before: Vec<i128>,
    zone: Arc<ZoneTable>,
    /// Per offset segment: `cumulative(t) - wall(t + offset)`.
    corr: Vec<i128>,
    /// `cumulative` at each offset change.
    g_at: Vec<i128>,
}

/// Offset changes of a zone: segment `i` is `[at[i-1], at[i])` (seconds),
/// with offset `offsets[i]` (nanoseconds); `offsets.len() == at.len() + 1`.
struct ZoneTable {
    at: Vec<i64>,
    offsets: Vec<i128>,
}

pub(super) enum Due {
    At(i64),
    BeyondHorizon,
    OutOfRange,
}

pub(super) fn to_nanos(t: DateTime<Utc>) -> Result<i128, BusinessTimeError> {
    t.timestamp_nanos_opt()
        .map(i128::from)
        .ok_or(BusinessTimeError::OutOfRange { instant: t })
}

fn intervals(s: &DaySchedule) -> Intervals {
    s.intervals()
        .iter()
        .map(|i| {
            (
                i128::from(i.start().seconds_from_midnight()) * SEC,
                i128::from(i.end().seconds_from_midnight()) * SEC,
            )
        })
        .collect()
}

fn total(iv: &Intervals) -> i128 {
    iv.iter().map(|(s, e)| e - s).sum()
}

/// Business time of a day's intervals before `tod`.
#[inline]
fn within(iv: &[(i128, i128)], tod: i128) -> i128 {
    let mut acc = 0;
    for &(s, e) in iv {
        if s >= tod {
            break;
        }
        acc += e.min(tod) - s;
    }
    acc
}

/// Days since 1970-01-01.
fn epoch_day(d: NaiveDate) -> i64 {
    i64::from(d.num_days_from_ce()) - 719_163
}

use chrono::Datelike;

impl Engine {
    pub(super) fn new(
        tz: Tz,
        week: &[DaySchedule; 7],
        holidays: &BTreeSet<NaiveDate>,
        specials: &BTreeMap<NaiveDate, DaySchedule>,
    ) -> Self {
        let week: [Intervals; 7] =
            std::array::from_fn(|i| week.get(i).map(intervals).unwrap_or_default());
        let mut prefix = [0i128; 8];
        for r in 0..7 {
            prefix[r + 1] = prefix[r] + total(&week[r]);
        }
        let week_total = prefix[7];
        let mut exceptions: Vec<(i64, Intervals)> = holidays
            .iter()
            .map(|d| (epoch_day(*d), Vec::new()))
            .chain(specials.iter().map(|(d, s)| (epoch_day(*d), intervals(s))))
            .collect();
        exceptions.sort_by_key(|e| e.0);
        let mut exc_before = Vec::with_capacity(exceptions.len() + 1);
        let mut acc = 0i128;
        exc_before.push(0);
        for (day, iv) in &exceptions {
            let r = (day + 3).rem_euclid(7) as usize;
            acc += total(iv) - week.get(r).map(total).unwrap_or(0);
            exc_before.push(acc);
        }
        let (exc_days, exc_intervals) = exceptions.into_iter().unzip();
        let mut engine = Self {
            week,
            prefix,
            week_total,
            exc_days,
            exc_intervals,
            exc_before,
            zone: zone_table(tz),
            corr: Vec::new(),
            g_at: Vec::new(),
        };
        let zone = engine.zone.clone();
        let mut corr = Vec::with_capacity(zone.offsets.len());
        let mut g_at = Vec::with_capacity(zone.at.len());
        corr.push(0i128);
        for (j, &at) in zone.at.iter().enumerate() {
            let t = i128::from(at) * SEC;
            let (before, after) = match (zone.offsets.get(j), zone.offsets.get(j + 1)) {
                (Some(b), Some(a)) => (*b, *a),
                _ => break,
            };
            let c = corr.last().copied().unwrap_or(0);
            let g = engine.wall(t + before) + c;
            corr.push(g - engine.wall(t + after));
            g_at.push(g);
        }
        engine.corr = corr;
        engine.g_at = g_at;
        engine
    }

    /// The intervals of epoch day `d` and the exception correction before it.
    #[inline]
    fn day(&self, d: i64) -> (&[(i128, i128)], i128) {
        let r = (d + 3).rem_euclid(7) as usize;
        let weekly: &[(i128, i128)] = self.week.get(r).map_or(&[], |v| v.as_slice());
        if self.exc_days.is_empty() {
            return (weekly, 0);
        }
        let idx = self.exc_days.partition_point(|&e| e < d);
        let before = self.exc_before.get(idx).copied().unwrap_or(0);
        match (self.exc_days.get(idx), self.exc_intervals.get(idx)) {
            (Some(&e), Some(iv)) if e == d => (iv.as_slice(), before),
            _ => (weekly, before),
        }
    }

    /// Business time at the start of epoch day `d`.
    #[inline]
    fn day_start(&self, d: i64) -> i128 {
        let m = d + 3;
        let r = m.rem_euclid(7) as usize;
        let (_, before) = self.day(d);
        i128::from(m.div_euclid(7)) * self.week_total
            + self.prefix.get(r).copied().unwrap_or(0)
            + before
    }

    /// Business wall-clock time up to the naive local instant `x`.
    ///
    /// Divisions run on `i64` (a 128-bit division costs several times
    /// more) unless `x` is beyond it, at the very edges of the range.
    #[inline]
    fn wall(&self, x: i128) -> i128 {
        let (d, tod) = match i64::try_from(x) {
            Ok(x) => {
                let d = x.div_euclid(DAY64);
                (d, i128::from(x - d * DAY64))
            }
            Err(_) => {
                let d = x.div_euclid(DAY);
                (d as i64, x - d * DAY)
            }
        };
        let m = d + 3;
        let r = m.rem_euclid(7) as usize;
        let (iv, before) = self.day(d);
        i128::from(m.div_euclid(7)) * self.week_total
            + self.prefix.get(r).copied().unwrap_or(0)
            + before
            + within(iv, tod)
    }

    /// The offset segment of the instant `t` (nanoseconds).
    #[inline]
    fn segment(&self, t: i128) -> usize {
        let secs = match i64::try_from(t) {
            Ok(t) => t.div_euclid(1_000_000_000),
            Err(_) => t
                .div_euclid(SEC)
                .clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64,
        };
        self.zone.at.partition_point(|&at| at <= secs)
    }

    #[inline]
    fn offset(&self, seg: usize) -> i128 {
        self.zone.offsets.get(seg).copied().unwrap_or(0)
    }

    /// Business time in real time up to the instant `t` (nanoseconds).
    #[inline]
    pub(super) fn cumulative(&self, t: i128) -> i128 {
        let seg = self.segment(t);
        self.wall(t + self.offset(seg)) + self.corr.get(seg).copied().unwrap_or(0)
    }

    /// The earliest instant `t` with `cumulative(t) = cumulative(a) + d`, `d > 0`.
    pub(super) fn add(&self, a: i128, d: i64) -> Due {
        let target = self.cumulative(a) + i128::from(d);
        let max = i128::from(i64::MAX);
        let limit = (a + i128::from(DUE_SEARCH_HORIZON_DAYS) * DAY).min(max);
        if self.cumulative(limit) < target {
            return if limit == max {
                Due::OutOfRange
            } else {
                Due::BeyondHorizon
            };
        }
        // Offset changes at which less than the target has accumulated: the
        // answer lies after all of them, and by the change after them.
        let k = self.g_at.partition_point(|&g| g < target);
        let seg_start = k
            .checked_sub(1)
            .and_then(|j| self.zone.at.get(j))
            .map(|&s| i128::from(s) * SEC);
        let seg_end = self.zone.at.get(k).map(|&s| i128::from(s) * SEC);
        let lower = seg_start.map_or(a, |s| s.max(a));
        let upper = seg_end.map_or(limit, |e| e.min(limit));
        let o = self.offset(k);
        let y = target - self.corr.get(k).copied().unwrap_or(0);
        // The first day e whose start has accumulated y; the answer is in
        // day e - 1 (possibly at its very end).
        let mut lo = (lower + o).div_euclid(DAY) as i64;
        let mut hi = (upper + o).div_euclid(DAY) as i64 + 1;
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if self.day_start(mid) >= y {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        let day = lo - 1;
        let mut acc = self.day_start(day);
        let (iv, _) = self.day(day);
        let mut x = i128::from(lo) * DAY;
        for &(s, e) in iv {
            if acc + (e - s) >= y {
                x = i128::from(day) * DAY + s + (y - acc);
                break;
            }
            acc += e - s;
        }
        match i64::try_from(x - o) {
            Ok(t) => Due::At(t),
            Err(_) => Due::OutOfRange,
        }
    }
}

/// Offset changes of `tz`, sampled daily from 1800 to 2101 and refined to
/// the second; cached per zone for the life of the process.
fn zone_table(tz: Tz) -> Arc<ZoneTable> {
    static CACHE: LazyLock<RwLock<HashMap<Tz, Arc<ZoneTable>>>> = LazyLock::new(Default::default);
    if let Ok(cache) = CACHE.read()
        && let Some(t) = cache.get(&tz)
    {
        return t.clone();
    }
    let table = Arc::new(build_zone_table(tz));
    if let Ok(mut cache) = CACHE.write() {
        let _ = cache.insert(tz, table.clone());
    }
    table
}

fn offset_at(tz: Tz, secs: i64) -> i64 {
    DateTime::from_timestamp(secs, 0).map_or(0, |t| {
        i64::from(
            tz.offset_from_utc_datetime(&t.naive_utc())
                .fix()
                .local_minus_utc(),
        )
    })
}

fn build_zone_table(tz: Tz) -> ZoneTable {
    const FROM: i64 = -5_364_662_400; // 1800-01-01T00:00:00Z
    const TO: i64 = 4_133_980_800; // 2101-01-01T00:00:00Z
    const STEP: i64 = 86_400;
    let mut at = Vec::new();
    let mut offsets = Vec::new();
    let mut prev = offset_at(tz, FROM);
    offsets.push(i128::from(prev) * SEC);
    let mut s = FROM;
    while s < TO {
        let next = s + STEP;
        let off = offset_at(tz, next);
        if off != prev {
            // The first second in (s, next] with the new offset.
            let (mut lo, mut hi) = (s + 1, next);
            while lo < hi {
                let mid = lo + (hi - lo) / 2;
                if offset_at(tz, mid) == prev {
                    lo = mid + 1;
                } else {
                    hi = mid;
                }
            }
            let change = offset_at(tz, lo);
            at.push(lo);
            offsets.push(i128::from(change) * SEC);
            prev = change;
            if change != off {
                // Two changes within a day: continue from the first one.
                s = lo;
                continue;
            }
        }
        s = next;
    }
    ZoneTable { at, offsets }
}
