//! Grouping any accumulator by any key, and trends over calendar buckets.
//!
//! [`Grouped`] keeps one accumulator per key, each started from a template
//! with [`Accumulator::empty_like`]. The key is anything hashable and
//! ordered: a [`Segment`](crate::domain::Segment), a
//! [`Channel`](crate::domain::Channel), an agent or survey id, a
//! [`CalendarBucket`], or a tuple of them. `Grouped` is itself an
//! accumulator, so grouped partial results merge like any other.
//!
//! Group by what was recorded on each response (the segment and agent at
//! response time), not by today's customer record.
//!
//! [`BucketIndex`] assigns instants to calendar buckets with a binary search
//! over precomputed bucket boundaries, instead of a time-zone conversion per
//! row; [`trend`] lists a metric per bucket with the change from the
//! previous bucket and its significance.

use std::collections::{BTreeMap, HashMap};
use std::hash::Hash;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::domain::{CalendarBucket, Granularity, Period};
use crate::metrics::accumulator::{Accumulator, MergeError};
use crate::metrics::interval::{Change, Confidence, change};
use crate::metrics::score::Estimate;

/// One accumulator per key.
///
/// Memory: one accumulator per distinct key seen.
///
/// # Example
/// NPS per (segment, month):
/// ```
/// use crmkit::domain::{CalendarBucket, Segment};
/// use crmkit::metrics::accumulator::Accumulator;
/// use crmkit::metrics::group::Grouped;
/// use crmkit::metrics::nps::Nps;
/// use rust_decimal::Decimal;
///
/// let smb = Segment::new("smb")?;
/// let jan = CalendarBucket::Month { year: 2026, month: 1 };
/// let feb = CalendarBucket::Month { year: 2026, month: 2 };
/// let mut g = Grouped::new(Nps::standard());
/// g.push(((smb.clone(), jan), 10.into()))?;
/// g.push(((smb.clone(), jan), 0.into()))?;
/// g.push(((smb.clone(), feb), 9.into()))?;
/// let results = g.finish();
/// assert_eq!(results[&(smb.clone(), jan)].score(), Some(Decimal::ZERO));
/// assert_eq!(results[&(smb, feb)].score(), Some(Decimal::from(100)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct Grouped<K, A> {
    template: A,
    groups: HashMap<K, A>,
}

impl<K, A> Grouped<K, A>
where
    K: Hash + Eq + Ord + Clone,
    A: Accumulator + Clone,
{
    /// No groups yet; each new group starts as `template.empty_like()`.
    pub fn new(template: A) -> Self {
        Self {
            template: template.empty_like(),
            groups: HashMap::new(),
        }
    }

    /// The accumulator of `key`, created if missing.
    pub fn entry(&mut self, key: K) -> &mut A {
        let template = &self.template;
        self.groups
            .entry(key)
            .or_insert_with(|| template.empty_like())
    }

    /// The accumulator of `key`, if any observation had it.
    pub fn get(&self, key: &K) -> Option<&A> {
        self.groups.get(key)
    }

    /// Number of groups.
    pub fn len(&self) -> usize {
        self.groups.len()
    }

    /// Whether there are no groups.
    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    /// The groups, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&K, &A)> {
        self.groups.iter()
    }

    /// The template new groups start from.
    pub fn template(&self) -> &A {
        &self.template
    }

    /// Merges `acc` into the group `key` (for partial per-group states).
    ///
    /// # Errors
    /// As [`Accumulator::merge`].
    pub fn merge_group(&mut self, key: K, acc: &A) -> Result<(), MergeError> {
        self.entry(key).merge(acc)
    }

    /// Every group merged into one accumulator (the total over all keys).
    ///
    /// # Errors
    /// As [`Accumulator::merge`].
    pub fn total(&self) -> Result<A, MergeError> {
        let mut total = self.template.empty_like();
        for acc in self.groups.values() {
            total.merge(acc)?;
        }
        Ok(total)
    }
}

impl<K, A> Accumulator for Grouped<K, A>
where
    K: Hash + Eq + Ord + Clone,
    A: Accumulator + Clone,
{
    type Observation = (K, A::Observation);
    type Output = BTreeMap<K, A::Output>;
    type Error = A::Error;

    fn push(&mut self, (key, obs): Self::Observation) -> Result<(), Self::Error> {
        // Validate against an empty accumulator first, so a rejected
        // observation does not leave an empty group behind.
        if let Some(acc) = self.groups.get_mut(&key) {
            return acc.push(obs);
        }
        let mut acc = self.template.empty_like();
        acc.push(obs)?;
        let _previous = self.groups.insert(key, acc);
        Ok(())
    }

    fn merge(&mut self, other: &Self) -> Result<(), MergeError> {
        // The templates must be compatible even when `other` has no groups.
        let mut probe = self.template.empty_like();
        probe.merge(&other.template)?;
        let mut merged = self.groups.clone();
        for (key, acc) in &other.groups {
            let template = &self.template;
            merged
                .entry(key.clone())
                .or_insert_with(|| template.empty_like())
                .merge(acc)?;
        }
        self.groups = merged;
        Ok(())
    }

    fn finish(&self) -> Self::Output {
        self.groups
            .iter()
            .map(|(k, a)| (k.clone(), a.finish()))
            .collect()
    }

    fn empty_like(&self) -> Self {
        Self {
            template: self.template.empty_like(),
            groups: HashMap::new(),
        }
    }
}

/// The serialised form of a [`Grouped`]: the template and the groups as
/// `[key, state]` pairs in key order (so keys need not be strings).
#[derive(Serialize, Deserialize)]
struct GroupedRepr<K, A> {
    template: A,
    groups: Vec<(K, A)>,
}

impl<K, A> Serialize for Grouped<K, A>
where
    K: Serialize + Ord + Clone,
    A: Serialize + Clone,
{
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut groups: Vec<(K, A)> = self
            .groups
            .iter()
            .map(|(k, a)| (k.clone(), a.clone()))
            .collect();
        groups.sort_by(|a, b| a.0.cmp(&b.0));
        GroupedRepr {
            template: self.template.clone(),
            groups,
        }
        .serialize(serializer)
    }
}

impl<'de, K, A> Deserialize<'de> for Grouped<K, A>
where
    K: Deserialize<'de> + Hash + Eq + Ord + Clone,
    A: Deserialize<'de> + Accumulator + Clone,
{
    /// Reads a grouped state back; every group must merge into the
    /// template's configuration (so a group configured differently from the
    /// template is rejected).
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let repr = GroupedRepr::<K, A>::deserialize(deserializer)?;
        let mut out = Grouped::new(repr.template);
        for (k, a) in repr.groups {
            if out.groups.contains_key(&k) {
                return Err(serde::de::Error::custom("a group key appears twice"));
            }
            out.merge_group(k, &a).map_err(serde::de::Error::custom)?;
        }
        Ok(out)
    }
}

/// Calendar buckets of a period, precomputed for fast assignment of
/// instants (a binary search over bucket starts, no time-zone conversion per
/// instant).
///
/// # Example
/// ```
/// use chrono::{TimeZone, Utc};
/// use crmkit::domain::{CalendarBucket, Granularity, Period};
/// use crmkit::metrics::group::BucketIndex;
/// let tz: chrono_tz::Tz = "Australia/Sydney".parse()?;
/// let p = Period::new(
///     Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).single().ok_or("no such instant")?,
///     Utc.with_ymd_and_hms(2026, 7, 1, 0, 0, 0).single().ok_or("no such instant")?,
/// )?;
/// let idx = BucketIndex::new(p, Granularity::Month, tz);
/// // 20:00 UTC on 31 March is 1 April in Sydney.
/// let t = Utc.with_ymd_and_hms(2026, 3, 31, 20, 0, 0).single().ok_or("no such instant")?;
/// assert_eq!(idx.bucket_of(t), Some(CalendarBucket::Month { year: 2026, month: 4 }));
/// assert_eq!(idx.bucket_of(p.end()), None);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BucketIndex {
    period: Period,
    starts: Vec<DateTime<Utc>>,
    buckets: Vec<CalendarBucket>,
}

impl BucketIndex {
    /// The buckets of `granularity` in `tz` that `period` touches (each
    /// clipped to the period).
    pub fn new(period: Period, granularity: Granularity, tz: Tz) -> Self {
        let (buckets, starts) = period
            .buckets(granularity, tz)
            .map(|(b, part)| (b, part.start()))
            .unzip();
        Self {
            period,
            starts,
            buckets,
        }
    }

    /// The period covered.
    pub fn period(&self) -> Period {
        self.period
    }

    /// The buckets, in order.
    pub fn buckets(&self) -> &[CalendarBucket] {
        &self.buckets
    }

    /// The position in [`buckets`](Self::buckets) of the bucket holding
    /// `instant`; `None` outside the period.
    pub fn index_of(&self, instant: DateTime<Utc>) -> Option<usize> {
        if !self.period.contains(instant) {
            return None;
        }
        self.starts
            .partition_point(|s| *s <= instant)
            .checked_sub(1)
    }

    /// The bucket holding `instant`; `None` outside the period.
    pub fn bucket_of(&self, instant: DateTime<Utc>) -> Option<CalendarBucket> {
        self.buckets.get(self.index_of(instant)?).copied()
    }
}

/// One bucket of a [`trend`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrendPoint<K, R> {
    /// The bucket.
    pub bucket: K,
    /// Its result; `None` if nothing fell into it.
    pub result: Option<R>,
    /// The change from the previous bucket, `None` for the first bucket or
    /// when either bucket has no data.
    pub change: Option<Change>,
}

/// A metric per bucket, in the order of `buckets`, with the change from the
/// previous bucket and whether it is significant (the interval of the
/// difference, standard error `sqrt(se1² + se2²)`, excludes 0).
///
/// Pass every bucket of the period (for example
/// [`BucketIndex::buckets`]) so that empty buckets show as gaps instead of
/// silently joining their neighbours.
///
/// # Example
/// ```
/// use std::collections::BTreeMap;
/// use crmkit::metrics::accumulator::Accumulator;
/// use crmkit::metrics::group::trend;
/// use crmkit::metrics::interval::Confidence;
/// use crmkit::metrics::nps::Nps;
///
/// let mut jan = Nps::standard();
/// let mut feb = Nps::standard();
/// for _ in 0..50 {
///     jan.push_score(0)?;
///     feb.push_score(10)?;
/// }
/// let results = BTreeMap::from([(1, jan.finish()), (2, feb.finish())]);
/// let t = trend([1, 2, 3], &results, Confidence::P95);
/// assert!(t[0].change.is_none());
/// assert!(t[1].change.ok_or("no value")?.significant);
/// assert!(t[2].result.is_none() && t[2].change.is_none());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn trend<K, R>(
    buckets: impl IntoIterator<Item = K>,
    results: &BTreeMap<K, R>,
    level: Confidence,
) -> Vec<TrendPoint<K, R>>
where
    K: Ord,
    R: Estimate + Clone,
{
    let mut out: Vec<TrendPoint<K, R>> = Vec::new();
    let mut previous: Option<R> = None;
    for bucket in buckets {
        let result = results.get(&bucket).cloned();
        let change = match (&previous, &result) {
            (Some(a), Some(b)) => (|| {
                change(
                    a.estimate()?,
                    a.standard_error()?,
                    b.estimate()?,
                    b.standard_error()?,
                    level,
                )
            })(),
            _ => None,
        };
        previous.clone_from(&result);
        out.push(TrendPoint {
            bucket,
            result,
            change,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::nps::Nps;
    use chrono::TimeZone;

    #[test]
    fn rejected_push_leaves_no_group() {
        let mut g = Grouped::new(Nps::standard());
        assert!(g.push(("a", 11.into())).is_err());
        assert!(g.is_empty());
        g.push(("a", 10.into())).unwrap();
        assert_eq!(g.len(), 1);
    }

    #[test]
    fn serialised_groups_merge_like_the_original() {
        let mut a = Grouped::new(Nps::standard());
        a.push(((2u8, 'x'), 10.into())).unwrap();
        a.push(((1u8, 'y'), 3.into())).unwrap();
        let json = serde_json::to_string(&a).unwrap();
        let back: Grouped<(u8, char), Nps> = serde_json::from_str(&json).unwrap();
        assert_eq!(back.finish(), a.finish());
        let mut m1 = a.clone();
        m1.merge(&back).unwrap();
        let mut m2 = back.clone();
        m2.merge(&a).unwrap();
        assert_eq!(m1.finish(), m2.finish());
        assert_eq!(m1.finish()[&(2, 'x')].n(), 2);
        // A group on another configuration is rejected.
        let bad = json.replacen("\"min_sample\":30", "\"min_sample\":7", 2);
        assert!(serde_json::from_str::<Grouped<(u8, char), Nps>>(&bad).is_err());
    }

    #[test]
    fn merge_checks_templates() {
        let mut a: Grouped<&str, Nps> = Grouped::new(Nps::standard());
        let b = Grouped::new(Nps::standard().with_min_sample(5));
        assert!(a.merge(&b).is_err());
    }

    #[test]
    fn bucket_index_agrees_with_containing() {
        let tz: Tz = "America/New_York".parse().unwrap();
        let start = Utc.with_ymd_and_hms(2025, 12, 20, 0, 0, 0).unwrap();
        let end = Utc.with_ymd_and_hms(2026, 4, 10, 0, 0, 0).unwrap();
        let p = Period::new(start, end).unwrap();
        for g in [Granularity::Day, Granularity::IsoWeek, Granularity::Month] {
            let idx = BucketIndex::new(p, g, tz);
            let mut t = start;
            while t < end {
                assert_eq!(idx.bucket_of(t), Some(CalendarBucket::containing(t, g, tz)));
                t += chrono::Duration::minutes(137);
            }
        }
    }
}
