//! Cohort tables: customers grouped by acquisition bucket, followed bucket
//! by bucket.
//!
//! A [`CohortSpec`] fixes the observation window, the calendar granularity
//! and the time zone; its bucket boundaries are computed once and each
//! instant is placed by binary search. Cohort `c` holds the customers
//! acquired in bucket `c`; cell `(c, k)` describes bucket `c + k`:
//!
//! - activity tables ([`ActivityCohortAccumulator`]): the share of the
//!   cohort active at some instant of the bucket (acquisition = start of
//!   the first activity span), so cell `k = 0` is always 100 %;
//! - purchase tables ([`PurchaseCohortAccumulator`]): the share of the
//!   cohort with a sale in the bucket (acquisition = first sale, or a
//!   recorded acquisition), and the revenue retained: the cohort's net
//!   revenue in the bucket (floored at zero) over its net revenue in its
//!   first bucket, `None` when that is not positive. Revenue cells are
//!   `≥ 0` and may exceed 1 (expansion).
//!
//! - subscription tables ([`SubscriptionCohortAccumulator`]): activity
//!   shares as above, and MRR retained: the cohort's MRR at the close of
//!   each bucket over its MRR at the close of its first bucket.
//!
//! Shares are in `[0, 1]`. A cell whose bucket is not entirely inside the
//! observation window is marked `partial`. A cohort with no customers has
//! no cells. Customers acquired before the window are counted apart and
//! are in no cohort; instants at or after the window end are ignored.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use std::collections::HashMap;

use super::activity::{Activity, CustomerActivity, RelationshipError, Transaction};
use super::dense::{
    At, Columnar, DenseMap, Extra, Rec, SHARDS, Shards, Split64, Units, add, decimal, overflow,
    pow10, push_columnar, push_ledger, scale_of, units_i64, units_or,
};
use super::ledger::Ledger;
use crate::domain::{CalendarBucket, Currency, CustomerId, Granularity, Money, Period};

mod accumulate;
mod subscription;
pub use subscription::{Subscriber, SubscriptionCohortAccumulator};

/// The observation window, granularity and time zone of a cohort table.
///
/// # Example
/// ```
/// use chrono::{TimeZone, Utc};
/// use crmkit::domain::{Granularity, Period};
/// use crmkit::metrics::cohort::CohortSpec;
/// let window = Period::new(
///     Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap(),
///     Utc.with_ymd_and_hms(2026, 3, 15, 0, 0, 0).unwrap(),
/// )?;
/// let spec = CohortSpec::new(window, Granularity::Month, chrono_tz::UTC)?;
/// assert_eq!(spec.buckets().len(), 3); // January, February, half of March
/// assert!(spec.is_complete(0) && spec.is_complete(1));
/// assert!(!spec.is_complete(2));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CohortSpec {
    window: Period,
    granularity: Granularity,
    tz: Tz,
    buckets: Vec<CalendarBucket>,
    /// Bucket starts clipped to the window, in seconds, then the window end:
    /// `buckets.len() + 1` boundaries.
    bounds: Vec<i64>,
    complete: Vec<bool>,
    /// Bucket lookup (derived from `bounds`): the bucket holding instant
    /// `bounds[0] + (j << shift)` is `slots[j]`; a slot is at most a
    /// quarter of the mean bucket, so a lookup is a table read and mostly
    /// no, at most a few, steps forward.
    slots: Vec<u32>,
    shift: u32,
}

/// The lookup table of [`CohortSpec::index_of_seconds`]: slots of `2^shift`
/// seconds from `bounds[0]`, at most about four per bucket.
fn slot_table(bounds: &[i64]) -> (Vec<u32>, u32) {
    let (Some(&first), Some(&end)) = (bounds.first(), bounds.last()) else {
        return (Vec::new(), 0);
    };
    let span = u64::try_from(end.saturating_sub(first)).unwrap_or(0);
    let most = (bounds.len().saturating_sub(1) as u64)
        .saturating_mul(4)
        .max(1);
    let mut shift = 0;
    while (span >> shift) + 1 > most && shift < 63 {
        shift += 1;
    }
    let n = (span >> shift) + 1;
    let mut slots = Vec::with_capacity(usize::try_from(n).unwrap_or(0));
    let mut b = 0usize;
    for j in 0..n {
        let at = first.saturating_add(i64::try_from(j << shift).unwrap_or(i64::MAX));
        while b + 2 < bounds.len() && bounds.get(b + 1).is_some_and(|&x| x <= at) {
            b += 1;
        }
        slots.push(u32::try_from(b).unwrap_or(u32::MAX));
    }
    (slots, shift)
}

impl CohortSpec {
    /// The buckets of `window` at `granularity` in `tz`.
    ///
    /// # Errors
    /// [`RelationshipError::OutOfRange`] when the window does not start and
    /// end on whole seconds or is too long for `u32` buckets.
    pub fn new(
        window: Period,
        granularity: Granularity,
        tz: Tz,
    ) -> Result<Self, RelationshipError> {
        let whole = |t: DateTime<Utc>| t.timestamp_subsec_nanos() == 0;
        if !whole(window.start()) || !whole(window.end()) {
            return Err(RelationshipError::OutOfRange {
                parameter: "cohort window",
                value: window.to_string(),
                range: "whole seconds",
            });
        }
        let mut buckets = Vec::new();
        let mut bounds = Vec::new();
        let mut complete = Vec::new();
        for (bucket, part) in window.buckets(granularity, tz) {
            buckets.push(bucket);
            bounds.push(part.start().timestamp());
            complete.push(bucket.period(tz).is_some_and(|p| p == part));
        }
        bounds.push(window.end().timestamp());
        if u32::try_from(buckets.len()).is_err() {
            return Err(RelationshipError::OutOfRange {
                parameter: "cohort buckets",
                value: buckets.len().to_string(),
                range: "up to u32::MAX",
            });
        }
        let (slots, shift) = slot_table(&bounds);
        Ok(Self {
            window,
            granularity,
            tz,
            buckets,
            bounds,
            complete,
            slots,
            shift,
        })
    }

    /// The observation window.
    pub fn window(&self) -> Period {
        self.window
    }

    /// The granularity.
    pub fn granularity(&self) -> Granularity {
        self.granularity
    }

    /// The time zone.
    pub fn tz(&self) -> Tz {
        self.tz
    }

    /// The buckets of the window, in order.
    pub fn buckets(&self) -> &[CalendarBucket] {
        &self.buckets
    }

    /// Whether bucket `i` lies entirely inside the window.
    pub fn is_complete(&self, i: usize) -> bool {
        self.complete.get(i).copied().unwrap_or(false)
    }

    /// The index of the bucket holding `seconds` (since the epoch), if
    /// inside the window.
    #[inline]
    fn index_of_seconds(&self, seconds: i64) -> Option<u32> {
        let (&first, &end) = (self.bounds.first()?, self.bounds.last()?);
        if seconds < first || seconds >= end {
            return None;
        }
        let offset = u64::try_from(seconds.checked_sub(first)?).ok()?;
        let slot = usize::try_from(offset >> self.shift).ok()?;
        let mut b = *self.slots.get(slot)? as usize;
        // The slot's bucket, or one a few bounds further.
        while self.bounds.get(b + 1).is_some_and(|&x| x <= seconds) {
            b += 1;
        }
        u32::try_from(b).ok()
    }

    /// The index of the bucket holding `instant`, if inside the window.
    pub fn index_of(&self, instant: DateTime<Utc>) -> Option<usize> {
        // Bounds are whole seconds, so flooring the instant keeps the order.
        self.index_of_seconds(instant.timestamp())
            .map(|i| i as usize)
    }

    fn same_config(&self, other: &CohortSpec) -> Result<(), RelationshipError> {
        if self.window != other.window
            || self.granularity != other.granularity
            || self.tz != other.tz
        {
            return Err(RelationshipError::ConfigMismatch {
                what: "cohort spec",
            });
        }
        Ok(())
    }
}

/// One cell of a cohort table: bucket `c + k` of cohort `c`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CohortCell {
    /// `k`: buckets since acquisition.
    pub offset: u32,
    /// The bucket `c + k`.
    pub bucket: CalendarBucket,
    /// Customers of the cohort active (or purchasing) in the bucket.
    pub customers: u64,
    /// `customers / cohort size`, in `[0, 1]`.
    pub share: Decimal,
    /// Net revenue of the cohort in the bucket, floored at zero (purchase
    /// tables), or its MRR at the bucket close (subscription tables,
    /// [`SubscriptionCohortAccumulator`]); `None` in activity tables.
    pub revenue: Option<Money>,
    /// `revenue / first-bucket revenue`, `≥ 0` (purchase and subscription
    /// tables with positive first-bucket revenue only).
    pub revenue_retained: Option<Decimal>,
    /// The bucket is not entirely observed: the value may still change.
    pub partial: bool,
}

/// One cohort: its acquisition bucket, size and cells (none when empty).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cohort {
    /// The acquisition bucket.
    pub bucket: CalendarBucket,
    /// Customers acquired in it.
    pub size: u64,
    /// Cells `k = 0, 1, ...` up to the last bucket of the window.
    pub cells: Vec<CohortCell>,
}

/// A cohort table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CohortTable {
    /// The granularity.
    pub granularity: Granularity,
    /// One cohort per bucket of the window, in order.
    pub cohorts: Vec<Cohort>,
    /// Customers acquired before the window (in no cohort).
    pub acquired_before: u64,
}

/// Dense counts `[cohort][bucket]` for the upper triangle.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Grid {
    n: usize,
    sizes: Vec<u64>,
    counts: Vec<u64>,
    acquired_before: u64,
}

impl Grid {
    fn new(n: usize) -> Self {
        Self {
            n,
            sizes: vec![0; n],
            counts: vec![0; n * n],
            acquired_before: 0,
        }
    }

    /// Adds `o`, all or nothing: on overflow `self` is unchanged.
    fn merge(&mut self, o: &Grid) -> Result<(), RelationshipError> {
        let of = || RelationshipError::Overflow {
            operation: "cohort count",
        };
        let add = |a: &[u64], b: &[u64]| -> Result<Vec<u64>, RelationshipError> {
            a.iter()
                .zip(b)
                .map(|(x, y)| x.checked_add(*y).ok_or_else(of))
                .collect()
        };
        let sizes = add(&self.sizes, &o.sizes)?;
        let counts = add(&self.counts, &o.counts)?;
        let before = self
            .acquired_before
            .checked_add(o.acquired_before)
            .ok_or_else(of)?;
        (self.sizes, self.counts, self.acquired_before) = (sizes, counts, before);
        Ok(())
    }
}

fn share(count: u64, size: u64) -> Decimal {
    // size > 0 and count <= size here.
    Decimal::from(count)
        .checked_div(Decimal::from(size))
        .unwrap_or(Decimal::ZERO)
}

fn build_table(
    spec: &CohortSpec,
    grid: &Grid,
    revenue: Option<(&[Decimal], Currency)>,
) -> Result<CohortTable, RelationshipError> {
    let n = grid.n;
    let mut cohorts = Vec::with_capacity(n);
    for (c, bucket) in spec.buckets.iter().enumerate() {
        let size = grid.sizes.get(c).copied().unwrap_or(0);
        let mut cells = Vec::new();
        if size > 0 {
            let base = revenue.and_then(|(r, _)| r.get(c * n + c).copied());
            for b in c..n {
                let customers = grid.counts.get(c * n + b).copied().unwrap_or(0);
                let (rev, retained) = match revenue {
                    Some((r, cur)) => {
                        let v = r
                            .get(c * n + b)
                            .copied()
                            .unwrap_or(Decimal::ZERO)
                            .max(Decimal::ZERO);
                        let retained = match base {
                            Some(base) if base > Decimal::ZERO => {
                                Some(v.checked_div(base).ok_or(RelationshipError::Overflow {
                                    operation: "revenue retained",
                                })?)
                            }
                            _ => None,
                        };
                        (Some(Money::new(v, cur)), retained)
                    }
                    None => (None, None),
                };
                cells.push(CohortCell {
                    offset: u32::try_from(b - c).unwrap_or(u32::MAX),
                    bucket: spec.buckets.get(b).copied().unwrap_or(*bucket),
                    customers,
                    share: share(customers, size),
                    revenue: rev,
                    revenue_retained: retained,
                    partial: !spec.is_complete(b),
                });
            }
        }
        cohorts.push(Cohort {
            bucket: *bucket,
            size,
            cells,
        });
    }
    Ok(CohortTable {
        granularity: spec.granularity,
        cohorts,
        acquired_before: grid.acquired_before,
    })
}

/// Activity cohorts: push each customer's activity once; counts merge by
/// addition.
///
/// # Example
/// ```
/// use chrono::{TimeZone, Utc};
/// use crmkit::domain::{Granularity, Period};
/// use crmkit::metrics::activity::{ActivitySpan, CustomerActivity};
/// use crmkit::metrics::cohort::{ActivityCohortAccumulator, CohortSpec};
/// let t = |m: u32| Utc.with_ymd_and_hms(2026, m, 1, 0, 0, 0).unwrap();
/// let spec = CohortSpec::new(Period::new(t(1), t(4))?, Granularity::Month, chrono_tz::UTC)?;
/// let mut acc = ActivityCohortAccumulator::new(spec);
/// acc.push(&CustomerActivity::from_spans([ActivitySpan::new(t(1), Some(t(2)))?]))?;
/// acc.push(&CustomerActivity::from_spans([ActivitySpan::new(t(1), None)?]))?;
/// let table = acc.finish()?;
/// let jan = &table.cohorts[0];
/// assert_eq!(jan.size, 2);
/// assert_eq!(jan.cells[0].share, rust_decimal::Decimal::ONE);
/// assert_eq!(jan.cells[1].share, rust_decimal::Decimal::new(5, 1));
/// assert!(table.cohorts[1].cells.is_empty()); // nobody acquired in February
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActivityCohortAccumulator {
    spec: CohortSpec,
    grid: Grid,
}

impl ActivityCohortAccumulator {
    /// An empty accumulator.
    pub fn new(spec: CohortSpec) -> Self {
        let n = spec.buckets.len();
        Self {
            spec,
            grid: Grid::new(n),
        }
    }

    /// Adds one customer (each customer once, with all their spans).
    ///
    /// # Errors
    /// [`RelationshipError::Overflow`].
    pub fn push(&mut self, activity: &CustomerActivity) -> Result<(), RelationshipError> {
        let Some(acquired) = activity.acquisition() else {
            return Ok(());
        };
        let window = self.spec.window;
        if acquired < window.start() {
            self.grid.acquired_before = self.grid.acquired_before.saturating_add(1);
            return Ok(());
        }
        let Some(c) = self.spec.index_of(acquired) else {
            return Ok(());
        };
        let n = self.grid.n;
        if let Some(s) = self.grid.sizes.get_mut(c) {
            *s = s.checked_add(1).ok_or(RelationshipError::Overflow {
                operation: "cohort size",
            })?;
        }
        for b in c..n {
            let (Some(&lo), Some(&hi)) = (self.spec.bounds.get(b), self.spec.bounds.get(b + 1))
            else {
                continue;
            };
            let (Some(lo), Some(hi)) = (
                DateTime::from_timestamp(lo, 0),
                DateTime::from_timestamp(hi, 0),
            ) else {
                continue;
            };
            if activity.is_active_during(lo, hi)
                && let Some(cell) = self.grid.counts.get_mut(c * n + b)
            {
                *cell = cell.saturating_add(1);
            }
        }
        Ok(())
    }

    /// Pushes every customer of an [`Activity`].
    ///
    /// # Errors
    /// As `push`.
    pub fn push_all(&mut self, activity: &Activity) -> Result<(), RelationshipError> {
        for (_, a) in activity.iter() {
            self.push(a)?;
        }
        Ok(())
    }

    /// Adds another accumulator (customers must not be in both).
    ///
    /// # Errors
    /// [`RelationshipError::ConfigMismatch`] for another spec; overflow.
    pub fn merge(&mut self, other: &ActivityCohortAccumulator) -> Result<(), RelationshipError> {
        self.spec.same_config(&other.spec)?;
        self.grid.merge(&other.grid)
    }

    /// The table (shares of each cohort active per bucket).
    ///
    /// # Errors
    /// Overflow.
    pub fn finish(&self) -> Result<CohortTable, RelationshipError> {
        build_table(&self.spec, &self.grid, None)
    }
}

/// One customer's purchase-cohort state (80 bytes; `first_sale` and
/// `first_any` start at [`At::MAX`], `acquired` at [`At::MIN`]: none yet).
///
/// The customer's sums in the bucket of their latest transaction stay
/// here (the open cell); when a transaction in another bucket arrives, the
/// open cell goes to the shard's [`CellLog`]. For rows in time order (a
/// ledger) each customer-and-bucket pair is logged once, without hashing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct PurchaseState {
    /// First sale.
    first_sale: At,
    /// First transaction of any kind (for the acquisition check).
    first_any: At,
    acquired: At,
    open: Cell,
    /// The bucket of `open` (`u32::MAX`: none).
    open_bucket: u32,
}

impl Default for PurchaseState {
    fn default() -> Self {
        Self {
            first_sale: At::MAX,
            first_any: At::MAX,
            acquired: At::MIN,
            open: Cell::default(),
            open_bucket: u32::MAX,
        }
    }
}

impl PurchaseState {
    fn check(&self, customer: CustomerId) -> Result<(), RelationshipError> {
        match (self.first_any.get(), self.acquired.get()) {
            (Some(at), Some(acquired)) if at < acquired => {
                Err(RelationshipError::PurchaseBeforeAcquisition {
                    customer,
                    at,
                    acquired,
                })
            }
            _ => Ok(()),
        }
    }

    /// The acquisition: the recorded one, else the first sale.
    fn acquisition(&self) -> Option<At> {
        if self.acquired != At::MIN {
            Some(self.acquired)
        } else if self.first_sale != At::MAX {
            Some(self.first_sale)
        } else {
            None
        }
    }
}

/// One customer's sales count and net revenue (in units) in one bucket.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Cell {
    revenue: Units,
    sales: u32,
    /// The largest decimal scale among the amounts.
    scale: u8,
}

impl Cell {
    #[inline]
    fn add(&mut self, sales: u32, revenue: i128, scale: u8) -> Result<(), RelationshipError> {
        self.sales = self
            .sales
            .checked_add(sales)
            .ok_or(overflow("cohort sales"))?;
        self.revenue.add(revenue, "cohort revenue")?;
        self.scale = self.scale.max(scale);
        Ok(())
    }
}

/// A shard's closed per-customer-and-bucket cells, keyed by
/// `dense index << 32 | bucket`; a key may repeat (when a customer's rows
/// come out of time order) until the log is compacted.
#[derive(Debug, Clone, Default)]
struct CellLog {
    cells: Vec<(u64, Cell)>,
    /// Length after the last compaction.
    compacted: usize,
    /// The bucket found last, with its bounds in seconds (see
    /// [`CellLog::bucket`]).
    last: Option<(i64, i64, u32)>,
}

impl CellLog {
    /// The bucket of `seconds` in `spec`'s window (`u32::MAX` outside):
    /// the bucket found last when `seconds` is within its bounds, as it
    /// mostly is when rows come in time order, else a binary search.
    #[inline]
    fn bucket(&mut self, spec: &CohortSpec, seconds: i64) -> u32 {
        if let Some((lo, hi, b)) = self.last
            && lo <= seconds
            && seconds < hi
        {
            return b;
        }
        let Some(b) = spec.index_of_seconds(seconds) else {
            return u32::MAX;
        };
        let i = b as usize;
        if let (Some(&lo), Some(&hi)) = (spec.bounds.get(i), spec.bounds.get(i + 1)) {
            self.last = Some((lo, hi, b));
        }
        b
    }

    /// Sums cells of equal keys (sorting by key) once the log is longer
    /// than twice its compacted length plus one cell per customer and
    /// bucket (so it must hold repeated keys): the log stays within three
    /// times the most distinct pairs there can be.
    fn maybe_compact(&mut self, customers: usize, buckets: usize) -> Result<(), RelationshipError> {
        let bound = customers.saturating_mul(buckets.max(1));
        if self.cells.len() <= bound.saturating_add(2 * self.compacted) {
            return Ok(());
        }
        self.cells.sort_unstable_by_key(|e| e.0);
        let mut out: Vec<(u64, Cell)> = Vec::with_capacity(self.cells.len() / 2);
        for &(k, c) in &self.cells {
            match out.last_mut() {
                Some((lk, lc)) if *lk == k => lc.add(c.sales, c.revenue.get(), c.scale)?,
                _ => out.push((k, c)),
            }
        }
        self.compacted = out.len();
        self.cells = out;
        Ok(())
    }
}

impl Extra for CellLog {
    /// Each record closes at most one cell.
    fn reserve_for(&mut self, records: usize) {
        self.cells.reserve(records);
    }
}

/// Every cell of a shard: the log, then each customer's open cell.
fn shard_cells<'a>(
    shard: &'a DenseMap<PurchaseState>,
    log: &'a CellLog,
) -> impl Iterator<Item = (u64, &'a Cell)> {
    let open = shard
        .states()
        .iter()
        .enumerate()
        .filter(|(_, s)| s.open_bucket != u32::MAX)
        .map(|(i, s)| (cell_key(i as u32, s.open_bucket), &s.open));
    log.cells.iter().map(|(k, c)| (*k, c)).chain(open)
}

#[inline]
fn cell_key(index: u32, bucket: u32) -> u64 {
    (u64::from(index) << 32) | u64::from(bucket)
}

/// A transaction as the cohort kernel needs it (24 bytes, 4-byte
/// alignment: a buffered record is 40 bytes; the bucket is found when
/// the record is applied).
#[derive(Debug, Clone, Copy)]
struct CohortRow {
    secs: Split64,
    units: Split64,
    nanos: u32,
    sale: bool,
    scale: u8,
}

/// Adds one compact row (before the window end) to a customer's state and
/// cells.
#[inline]
fn apply_row(
    state: &mut PurchaseState,
    log: &mut CellLog,
    customer: &CustomerId,
    r: &CohortRow,
    index: u32,
    bucket: u32,
) -> Result<(), RelationshipError> {
    let at = At::new(r.secs.get(), r.nanos);
    if at < state.acquired {
        return Err(match (at.get(), state.acquired.get()) {
            (Some(at), Some(acquired)) => RelationshipError::PurchaseBeforeAcquisition {
                customer: *customer,
                at,
                acquired,
            },
            _ => overflow("instant"),
        });
    }
    state.first_any = state.first_any.min(at);
    if r.sale {
        state.first_sale = state.first_sale.min(at);
    }
    if bucket != u32::MAX {
        if state.open_bucket != bucket {
            if state.open_bucket != u32::MAX {
                log.cells
                    .push((cell_key(index, state.open_bucket), state.open));
            }
            state.open_bucket = bucket;
            state.open = Cell::default();
        }
        state
            .open
            .add(u32::from(r.sale), i128::from(r.units.get()), r.scale)?;
    }
    Ok(())
}

/// Purchase cohorts: share of each cohort purchasing per bucket, and
/// revenue retained.
///
/// Memory: per customer, an 80-byte state (first sale, first transaction,
/// recorded acquisition, sums of the bucket of their latest transaction)
/// and its index entry, plus one 32-byte cell per other bucket in which
/// they have a transaction (sales count and net revenue in exact integer
/// units; see the log's compaction for rows out of time order). Large
/// batches go through the columnar kernel (rows become 40-byte records
/// partitioned by customer shard and aggregated over the available cores;
/// the records of up to 16 Mi rows, about 0.7 GB, are buffered at a time,
/// and room for one cell per record is reserved in each shard's log, in
/// address space only: untouched reserve takes no memory). Merges by
/// customer.
///
/// # Example
/// ```
/// use chrono::{TimeZone, Utc};
/// use crmkit::domain::{Currency, CustomerId, Granularity, Money, Period};
/// use crmkit::metrics::activity::Transaction;
/// use crmkit::metrics::cohort::{CohortSpec, PurchaseCohortAccumulator};
/// use rust_decimal::Decimal;
/// let t = |m: u32| Utc.with_ymd_and_hms(2026, m, 10, 0, 0, 0).unwrap();
/// let eur = |v: i64| Money::new(Decimal::from(v), Currency::EUR);
/// let window = Period::new(Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap(), Utc.with_ymd_and_hms(2026, 4, 1, 0, 0, 0).unwrap())?;
/// let mut acc = PurchaseCohortAccumulator::new(CohortSpec::new(window, Granularity::Month, chrono_tz::UTC)?, Currency::EUR);
/// let (a, b) = (CustomerId::from_u128(1), CustomerId::from_u128(2));
/// acc.push(&Transaction::sale(a, t(1), eur(100), None)?)?;
/// acc.push(&Transaction::sale(b, t(1), eur(100), None)?)?;
/// acc.push(&Transaction::sale(a, t(3), eur(150), None)?)?;
/// let table = acc.finish()?;
/// let jan = &table.cohorts[0];
/// assert_eq!(jan.cells[1].share, Decimal::ZERO); // nobody bought in February
/// assert_eq!(jan.cells[2].share, Decimal::new(5, 1)); // a bought in March
/// assert_eq!(jan.cells[2].revenue_retained, Some(Decimal::new(75, 2))); // 150 / 200
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct PurchaseCohortAccumulator {
    spec: CohortSpec,
    currency: Currency,
    /// Money units are `10^-scale`.
    scale: u32,
    customers: Shards<PurchaseState, CellLog>,
}

/// Per customer: state, and per bucket (sales, revenue).
type Canonical = HashMap<CustomerId, (PurchaseState, Vec<(u32, u32, Decimal)>)>;

impl PartialEq for PurchaseCohortAccumulator {
    /// The same configuration and per-customer values (whatever the
    /// internal unit scale or customer order).
    fn eq(&self, other: &Self) -> bool {
        self.spec == other.spec
            && self.currency == other.currency
            && matches!((self.canonical(), other.canonical()), (Ok(a), Ok(b)) if a == b)
    }
}

impl Eq for PurchaseCohortAccumulator {}

impl PurchaseCohortAccumulator {
    /// An empty accumulator reporting revenue in `currency`.
    pub fn new(spec: CohortSpec, currency: Currency) -> Self {
        Self {
            spec,
            currency,
            scale: 0,
            customers: Shards::default(),
        }
    }

    /// An empty accumulator expecting about `customers` customers.
    pub fn with_capacity(spec: CohortSpec, currency: Currency, customers: usize) -> Self {
        let mut acc = Self::new(spec, currency);
        acc.customers.reserve(customers);
        acc
    }

    fn canonical(&self) -> Result<Canonical, RelationshipError> {
        let mut out = Canonical::new();
        for (shard, log) in self.customers.parts() {
            let ids: Vec<&CustomerId> = shard.iter().map(|(c, _)| c).collect();
            let mut sums: HashMap<u64, Cell> = HashMap::new();
            for (key, cell) in shard_cells(shard, log) {
                sums.entry(key)
                    .or_default()
                    .add(cell.sales, cell.revenue.get(), cell.scale)?;
            }
            for (c, s) in shard.iter() {
                let state = PurchaseState {
                    open: Cell::default(),
                    open_bucket: u32::MAX,
                    ..*s
                };
                let _ = out.insert(*c, (state, Vec::new()));
            }
            for (key, cell) in sums {
                let (i, b) = ((key >> 32) as usize, key as u32);
                let rev = decimal(cell.revenue.get(), self.scale, u32::from(cell.scale))?;
                if let Some(c) = ids.get(i)
                    && let Some((_, v)) = out.get_mut(*c)
                {
                    v.push((b, cell.sales, rev));
                }
            }
        }
        for (_, v) in out.values_mut() {
            v.sort_by_key(|e| e.0);
        }
        Ok(out)
    }

    /// Raises the unit scale to `scale` (if higher), rescaling every cell.
    fn raise_scale(&mut self, scale: Option<u32>) -> Result<(), RelationshipError> {
        let Some(scale) = scale.filter(|&s| s > self.scale) else {
            return Ok(());
        };
        let k = scale - self.scale;
        let p = pow10(k).ok_or(overflow("amount in integer units"))?;
        // Check everything first so a failure changes nothing.
        if self.customers.parts().any(|(shard, log)| {
            shard_cells(shard, log).any(|(_, c)| c.revenue.get().checked_mul(p).is_none())
        }) {
            return Err(overflow("amount in integer units"));
        }
        for i in 0..SHARDS {
            if let Some(log) = self.customers.extra_mut(i) {
                for (_, c) in &mut log.cells {
                    c.revenue.rescale(k)?;
                }
            }
        }
        for s in self.customers.states_mut() {
            s.open.revenue.rescale(k)?;
        }
        self.scale = scale;
        Ok(())
    }

    /// Adds one transaction. Transactions at or after the window end are
    /// ignored; earlier ones still decide the acquisition.
    ///
    /// # Errors
    /// [`RelationshipError::CurrencyMismatch`];
    /// [`RelationshipError::PurchaseBeforeAcquisition`]; overflow.
    pub fn push(&mut self, t: &Transaction) -> Result<(), RelationshipError> {
        self.push_batch(std::slice::from_ref(t))
    }

    /// Adds a batch of transactions: the same result as pushing each (large
    /// batches through the columnar kernel, over the available cores).
    ///
    /// # Errors
    /// As [`PurchaseCohortAccumulator::push`]; a currency mismatch is
    /// reported before anything is added.
    pub fn push_batch(&mut self, rows: &[Transaction]) -> Result<(), RelationshipError> {
        push_columnar(self, rows)?;
        self.compact()
    }

    /// Compacts the shards' cell logs that grew too long.
    fn compact(&mut self) -> Result<(), RelationshipError> {
        let buckets = self.spec.buckets.len();
        let sizes: Vec<usize> = self.customers.parts().map(|(s, _)| s.len()).collect();
        for (i, n) in sizes.into_iter().enumerate() {
            if let Some(log) = self.customers.extra_mut(i) {
                log.maybe_compact(n, buckets)?;
            }
        }
        Ok(())
    }

    /// Records a customer's acquisition (sign-up): it then decides their
    /// cohort, and a purchase dated earlier is an error.
    ///
    /// # Errors
    /// [`RelationshipError::PurchaseBeforeAcquisition`].
    pub fn record_acquisition(
        &mut self,
        customer: CustomerId,
        at: DateTime<Utc>,
    ) -> Result<(), RelationshipError> {
        let state = self.customers.entry(customer)?;
        let mut next = *state;
        next.acquired = At::earlier_set(next.acquired, At::of(at));
        next.check(customer)?;
        *state = next;
        Ok(())
    }

    /// Adds every transaction of `ledger`: the same result as
    /// [`PurchaseCohortAccumulator::push_batch`] of its transactions, without re-reading and
    /// grouping them (see [`crate::metrics::ledger`]). Into an empty
    /// accumulator the state is built from the ledger directly; into one
    /// with data, it is built apart and merged.
    ///
    /// # Errors
    /// [`RelationshipError::CurrencyMismatch`] for a ledger in another
    /// currency (nothing is added);
    /// [`RelationshipError::PurchaseBeforeAcquisition`] as with `merge`; overflow.
    pub fn push_ledger(&mut self, ledger: &Ledger) -> Result<(), RelationshipError> {
        push_ledger(self, ledger, |acc| {
            let spec = &acc.spec;
            let end = At::of(spec.window.end());
            let customers = Shards::from_ledger(
                ledger,
                |r| {
                    (At::new(r.secs, r.nanos) < end).then_some(CohortRow {
                        secs: Split64::new(r.secs),
                        units: Split64::new(r.units),
                        nanos: r.nanos,
                        sale: r.sale,
                        scale: r.scale,
                    })
                },
                |state, log: &mut CellLog, c, r, i| {
                    let bucket = log.bucket(spec, r.secs.get());
                    apply_row(state, log, c, r, i, bucket)
                },
            )?;
            Ok(PurchaseCohortAccumulator {
                spec: acc.spec.clone(),
                currency: acc.currency,
                scale: ledger.scale(),
                customers,
            })
        })
    }

    /// Merges another accumulator (the same customer may be in both).
    ///
    /// # Errors
    /// [`RelationshipError::ConfigMismatch`]; as `push`.
    pub fn merge(&mut self, other: &PurchaseCohortAccumulator) -> Result<(), RelationshipError> {
        self.spec.same_config(&other.spec)?;
        if self.currency != other.currency {
            return Err(RelationshipError::ConfigMismatch { what: "currency" });
        }
        self.raise_scale(Some(other.scale))?;
        let k = self.scale - other.scale;
        for (theirs, their_log) in other.customers.parts() {
            // Their dense index -> (our shard, our index).
            let mut map = Vec::with_capacity(theirs.len());
            for (c, o) in theirs.iter() {
                let (s, i) = self.customers.slot(*c)?;
                let state = self.customers.entry(*c)?;
                state.first_sale = state.first_sale.min(o.first_sale);
                state.first_any = state.first_any.min(o.first_any);
                state.acquired = At::earlier_set(state.acquired, o.acquired);
                state.check(*c)?;
                map.push((s, i));
            }
            for (key, cell) in shard_cells(theirs, their_log) {
                let Some(&(s, i)) = map.get((key >> 32) as usize) else {
                    continue;
                };
                let mut cell = *cell;
                cell.revenue.rescale(k)?;
                self.customers
                    .extra_mut(s)
                    .ok_or(overflow("shard"))?
                    .cells
                    .push((cell_key(i, key as u32), cell));
            }
        }
        self.compact()
    }

    /// The table.
    ///
    /// # Errors
    /// Overflow.
    pub fn finish(&self) -> Result<CohortTable, RelationshipError> {
        let n = self.spec.buckets.len();
        // Shard ranges over the cores, then their sums.
        let parts = self
            .customers
            .par_parts(|shards, logs| self.finish_part(shards, logs))?;
        let mut grid = Grid::new(n);
        let mut revenue = vec![(0i128, 0u8); n * n];
        for (g, r) in parts {
            grid.merge(&g)?;
            for ((v, scale), (w, ws)) in revenue.iter_mut().zip(r) {
                add(v, w, "cohort revenue")?;
                *scale = (*scale).max(ws);
            }
        }
        let revenue = revenue
            .into_iter()
            .map(|(v, scale)| decimal(v, self.scale, u32::from(scale)))
            .collect::<Result<Vec<_>, _>>()?;
        build_table(&self.spec, &grid, Some((&revenue, self.currency)))
    }

    /// The counts and revenue sums `[cohort][bucket]` of some shards.
    fn finish_part(
        &self,
        shards: &[DenseMap<PurchaseState>],
        logs: &[CellLog],
    ) -> Result<(Grid, Vec<(i128, u8)>), RelationshipError> {
        let n = self.spec.buckets.len();
        let mut grid = Grid::new(n);
        let mut revenue = vec![(0i128, 0u8); n * n];
        let start = At::of(self.spec.window.start());
        let mut cohorts = Vec::new();
        // Customers with a sale per cell: a bit per bucket when there are
        // at most 64, else the sorted cell keys.
        let mut masks: Vec<u64> = Vec::new();
        let mut keys: Vec<u64> = Vec::new();
        let use_masks = n <= 64;
        for (shard, log) in shards.iter().zip(logs) {
            cohorts.clear();
            masks.clear();
            masks.resize(shard.len(), 0);
            keys.clear();
            for s in shard.states() {
                let mut cohort = u32::MAX;
                if let Some(acquired) = s.acquisition() {
                    if acquired < start {
                        grid.acquired_before += 1;
                    } else if let Some(c) = self.spec.index_of_seconds(acquired.secs()) {
                        if let Some(size) = grid.sizes.get_mut(c as usize) {
                            *size += 1;
                        }
                        cohort = c;
                    }
                }
                cohorts.push(cohort);
            }
            for (key, cell) in shard_cells(shard, log) {
                let (i, b) = ((key >> 32) as usize, key as u32);
                let Some(&c) = cohorts.get(i) else {
                    continue;
                };
                if c == u32::MAX || b < c {
                    continue;
                }
                if cell.sales > 0 {
                    if use_masks {
                        if let Some(m) = masks.get_mut(i) {
                            *m |= 1u64 << b;
                        }
                    } else {
                        keys.push(key);
                    }
                }
                if let Some((v, scale)) = revenue.get_mut(c as usize * n + b as usize) {
                    add(v, cell.revenue.get(), "cohort revenue")?;
                    *scale = (*scale).max(cell.scale);
                }
            }
            let mut count = |i: usize, b: usize| {
                if let Some(&c) = cohorts.get(i)
                    && let Some(cell) = grid.counts.get_mut(c as usize * n + b)
                {
                    *cell += 1;
                }
            };
            if use_masks {
                for (i, &m) in masks.iter().enumerate() {
                    let mut m = m;
                    while m != 0 {
                        count(i, m.trailing_zeros() as usize);
                        m &= m - 1;
                    }
                }
            } else {
                keys.sort_unstable();
                keys.dedup();
                for &key in &keys {
                    count((key >> 32) as usize, (key as u32) as usize);
                }
            }
        }
        Ok((grid, revenue))
    }
}

impl Columnar for PurchaseCohortAccumulator {
    const MARGINS: bool = false;

    fn currency(&self) -> Currency {
        self.currency
    }

    fn is_empty(&self) -> bool {
        self.customers.len() == 0
    }

    fn scale(&self) -> u32 {
        self.scale
    }

    fn reset(&mut self, scale: u32) {
        self.customers = Shards::default();
        self.scale = scale;
    }

    fn raise_scale(&mut self, scale: Option<u32>) -> Result<(), RelationshipError> {
        PurchaseCohortAccumulator::raise_scale(self, scale)
    }

    fn push_fast(&mut self, rows: &[Transaction]) -> Result<Option<usize>, RelationshipError> {
        let (scale, currency) = (self.scale, self.currency);
        let spec = &self.spec;
        let end = spec.window.end();
        self.customers.push_partitioned(
            rows,
            |t| {
                let amount = t.signed_amount();
                if amount.currency() != currency {
                    return Rec::Stop;
                }
                let at = t.at();
                if at >= end {
                    return Rec::Skip;
                }
                let amount = amount.amount();
                let Some(units) = units_i64(amount, scale) else {
                    return Rec::Stop;
                };
                let row = CohortRow {
                    secs: Split64::new(at.timestamp()),
                    units: Split64::new(units),
                    nanos: at.timestamp_subsec_nanos(),
                    sale: t.is_sale(),
                    scale: scale_of(amount),
                };
                Rec::Keep(t.customer(), row)
            },
            |state, log, c, r, i| {
                let bucket = log.bucket(spec, r.secs.get());
                apply_row(state, log, c, r, i, bucket)
            },
        )
    }

    fn merge_from(&mut self, other: &Self) -> Result<(), RelationshipError> {
        self.merge(other)
    }

    fn push_slow(&mut self, rows: &[Transaction]) -> Result<(), RelationshipError> {
        let (scale, spec) = (self.scale, &self.spec);
        let end = spec.window.end();
        // Amounts beyond i64 units: the same steps, one row at a time,
        // with the cell's amount in i128.
        for t in rows.iter().filter(|t| t.at() < end) {
            let at = t.at();
            let amount = t.signed_amount().amount();
            let units = units_or(amount, scale)?;
            let bucket = spec.index_of_seconds(at.timestamp()).unwrap_or(u32::MAX);
            let row = CohortRow {
                secs: Split64::new(at.timestamp()),
                units: Split64::new(0),
                nanos: at.timestamp_subsec_nanos(),
                sale: t.is_sale(),
                scale: scale_of(amount),
            };
            let (s, i) = self.customers.slot(t.customer())?;
            let mut log = CellLog::default();
            let state = self.customers.entry(t.customer())?;
            // No open cell: the cell goes to the log below, in i128.
            apply_row(state, &mut log, &t.customer(), &row, i, u32::MAX)?;
            if bucket != u32::MAX {
                log.cells.push((
                    cell_key(i, bucket),
                    Cell {
                        revenue: Units::new(units),
                        sales: u32::from(row.sale),
                        scale: row.scale,
                    },
                ));
            }
            self.customers
                .extra_mut(s)
                .ok_or(overflow("shard"))?
                .cells
                .append(&mut log.cells);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::activity::ActivitySpan;
    use chrono::{Duration, TimeZone};
    use proptest::prelude::*;

    fn t(m: u32, d: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, m, d, 0, 0, 0).unwrap()
    }
    fn eur(v: i64) -> Money {
        Money::new(Decimal::from(v), Currency::EUR)
    }
    fn spec() -> CohortSpec {
        // January to mid-April 2026: April is partial.
        CohortSpec::new(
            Period::new(t(1, 1), t(4, 15)).unwrap(),
            Granularity::Month,
            chrono_tz::UTC,
        )
        .unwrap()
    }

    #[test]
    fn units_split_in_two_words_round_trip() {
        for v in [
            0i128,
            1,
            -1,
            i128::MAX,
            i128::MIN,
            1 << 64,
            -(1 << 64),
            (1 << 96) - 1,
        ] {
            assert_eq!(Units::new(v).get(), v);
        }
        assert_eq!(std::mem::size_of::<Cell>(), 24);
        assert_eq!(std::mem::size_of::<(u64, Cell)>(), 32);
        // A buffered record: id, seconds, units, nanoseconds, kind, scale.
        assert_eq!(std::mem::size_of::<(CustomerId, CohortRow)>(), 40);
    }

    #[test]
    fn purchase_table_hand_computed() {
        let mut acc = PurchaseCohortAccumulator::new(spec(), Currency::EUR);
        let c = |i| CustomerId::from_u128(i);
        // January cohort: 1, 2, 3. February cohort: 4.
        let rows = [
            Transaction::sale(c(1), t(1, 5), eur(100), None).unwrap(),
            Transaction::sale(c(2), t(1, 20), eur(50), None).unwrap(),
            Transaction::sale(c(3), t(1, 31), eur(50), None).unwrap(),
            Transaction::sale(c(1), t(2, 3), eur(80), None).unwrap(),
            Transaction::refund(c(1), t(2, 4), eur(10), None).unwrap(),
            Transaction::sale(c(2), t(3, 3), eur(300), None).unwrap(),
            Transaction::sale(c(1), t(4, 3), eur(20), None).unwrap(),
            Transaction::sale(c(4), t(2, 9), eur(10), None).unwrap(),
            Transaction::sale(c(4), t(4, 20), eur(10), None).unwrap(), // after window: ignored
        ];
        for r in &rows {
            acc.push(r).unwrap();
        }
        let table = acc.finish().unwrap();
        let jan = &table.cohorts[0];
        assert_eq!(jan.size, 3);
        // Jan revenue 200; Feb: customer 1 only, 80 - 10 = 70 → 1/3, 70/200 = 0.35.
        // Mar: customer 2, 300 → 1/3, 1.5. Apr (partial): customer 1, 20 → 0.1.
        let shares: Vec<Decimal> = jan.cells.iter().map(|x| x.share).collect();
        let third = Decimal::ONE / Decimal::from(3);
        assert_eq!(shares, vec![Decimal::ONE, third, third, third]);
        let rev: Vec<Option<Decimal>> = jan.cells.iter().map(|x| x.revenue_retained).collect();
        assert_eq!(
            rev,
            vec![
                Some(Decimal::ONE),
                Some(Decimal::new(35, 2)),
                Some(Decimal::new(15, 1)),
                Some(Decimal::new(1, 1))
            ]
        );
        let partial: Vec<bool> = jan.cells.iter().map(|x| x.partial).collect();
        assert_eq!(partial, vec![false, false, false, true]);
        let feb = &table.cohorts[1];
        assert_eq!(feb.size, 1);
        assert_eq!(feb.cells.len(), 3);
        assert_eq!(feb.cells[2].share, Decimal::ZERO);
        assert!(table.cohorts[2].cells.is_empty());
        assert_eq!(table.cohorts[2].size, 0);
    }

    #[test]
    fn acquisition_errors_and_before_window() {
        let mut acc = PurchaseCohortAccumulator::new(spec(), Currency::EUR);
        let c = CustomerId::from_u128(1);
        acc.record_acquisition(c, t(2, 1)).unwrap();
        assert!(matches!(
            acc.push(&Transaction::sale(c, t(1, 9), eur(1), None).unwrap()),
            Err(RelationshipError::PurchaseBeforeAcquisition { .. })
        ));
        // Acquired in December 2025: before the window.
        let d = CustomerId::from_u128(2);
        acc.push(&Transaction::sale(d, t(1, 1) - Duration::days(3), eur(5), None).unwrap())
            .unwrap();
        acc.push(&Transaction::sale(d, t(1, 9), eur(5), None).unwrap())
            .unwrap();
        let table = acc.finish().unwrap();
        assert_eq!(table.acquired_before, 1);
        // Customer 1's recorded acquisition puts them in February with no sale yet.
        assert_eq!(table.cohorts[1].size, 1);
        assert_eq!(table.cohorts[1].cells[0].share, Decimal::ZERO);
    }

    #[test]
    fn sydney_months_and_partial_first_bucket() {
        let tz: Tz = "Australia/Sydney".parse().unwrap();
        // Window starting mid-month UTC: the first bucket is partial.
        let s = CohortSpec::new(
            Period::new(t(1, 10), t(3, 1)).unwrap(),
            Granularity::Month,
            tz,
        )
        .unwrap();
        assert!(!s.is_complete(0));
        // 31 Jan 20:00 UTC is 1 Feb in Sydney.
        let i = s
            .index_of(Utc.with_ymd_and_hms(2026, 1, 31, 20, 0, 0).unwrap())
            .unwrap();
        assert_eq!(
            s.buckets()[i],
            CalendarBucket::Month {
                year: 2026,
                month: 2
            }
        );
    }

    fn arb_activity() -> impl Strategy<Value = CustomerActivity> {
        prop::collection::vec((0i64..110, prop::option::of(1i64..60)), 1..4).prop_map(|v| {
            CustomerActivity::from_spans(v.into_iter().map(|(a, l)| {
                let s = t(1, 1) + Duration::days(a);
                ActivitySpan::new(s, l.map(|l| s + Duration::days(l))).unwrap()
            }))
        })
    }

    /// The bucket of `secs` by binary search over the bounds (`u32::MAX`
    /// outside the window): the definition the lookups must agree with.
    fn searched(spec: &CohortSpec, secs: i64) -> u32 {
        let p = spec.bounds.partition_point(|&b| b <= secs);
        if p == 0 || p >= spec.bounds.len() {
            u32::MAX
        } else {
            (p - 1) as u32
        }
    }

    proptest! {
        /// The bucket table, on every granularity (short first and last
        /// buckets included), agrees with the binary search.
        #[test]
        fn table_lookup_is_the_searched_bucket(
            start in -400i64 * 86_400..400 * 86_400,
            len in 1i64..3 * 365 * 86_400,
            g in 0usize..5,
            probes in proptest::collection::vec(-2i64 * 86_400..3 * 366 * 86_400, 1..100),
        ) {
            let g = [Granularity::Day, Granularity::IsoWeek, Granularity::Month, Granularity::Quarter, Granularity::Year][g];
            let from = t(1, 1) + chrono::Duration::seconds(start);
            let window = Period::new(from, from + chrono::Duration::seconds(len)).unwrap();
            let spec = CohortSpec::new(window, g, chrono_tz::America::New_York).unwrap();
            prop_assert!(spec.slots.len() <= 4 * spec.buckets.len() + 1);
            // Each slot holds the bucket of its start.
            for (j, &b) in spec.slots.iter().enumerate() {
                let at = spec.bounds[0] + ((j as i64) << spec.shift);
                if at < *spec.bounds.last().unwrap() {
                    prop_assert_eq!(b, searched(&spec, at));
                }
            }
            let first = from.timestamp();
            let bounds = spec.bounds.clone();
            let probes = probes.iter().map(|&p| first + p - 86_400)
                .chain(bounds.iter().flat_map(|&b| [b - 1, b, b + 1]));
            for secs in probes {
                prop_assert_eq!(spec.index_of_seconds(secs).unwrap_or(u32::MAX), searched(&spec, secs));
            }
        }

        /// The shard's cached bucket agrees with the binary search for any
        /// sequence of instants (in order, backwards, outside the window,
        /// on the bounds), in a zone with daylight saving time.
        #[test]
        fn cached_bucket_is_the_searched_bucket(
            steps in proptest::collection::vec(-40i64 * 86_400..40 * 86_400, 1..200),
            start in -20i64 * 86_400..130 * 86_400,
        ) {
            let spec = CohortSpec::new(
                Period::new(t(1, 1), t(4, 15)).unwrap(),
                Granularity::IsoWeek,
                chrono_tz::Europe::Berlin,
            )
            .unwrap();
            let mut log = CellLog::default();
            let mut secs = t(1, 1).timestamp() + start;
            for (k, step) in steps.iter().enumerate() {
                // Every fifth instant exactly on a bucket bound.
                if k % 5 == 4 && let Some(&b) = spec.bounds.get(k % spec.bounds.len()) {
                    secs = b;
                }
                let want = searched(&spec, secs);
                prop_assert_eq!(spec.index_of_seconds(secs).unwrap_or(u32::MAX), want);
                prop_assert_eq!(log.bucket(&spec, secs), want);
                secs += step;
            }
        }
    }

    proptest! {
        #[test]
        fn activity_cells_in_range_first_is_full_and_merge(
            customers in prop::collection::vec(arb_activity(), 0..30),
            split in 0usize..30,
        ) {
            let mut one = ActivityCohortAccumulator::new(spec());
            for c in &customers { one.push(c).unwrap(); }
            let split = split.min(customers.len());
            let mut a = ActivityCohortAccumulator::new(spec());
            let mut b = ActivityCohortAccumulator::new(spec());
            for c in customers[..split].iter().rev() { a.push(c).unwrap(); }
            for c in &customers[split..] { b.push(c).unwrap(); }
            a.merge(&b).unwrap();
            prop_assert_eq!(&a, &one);
            let table = one.finish().unwrap();
            for cohort in &table.cohorts {
                prop_assert_eq!(cohort.cells.is_empty(), cohort.size == 0);
                if let Some(first) = cohort.cells.first() {
                    prop_assert_eq!(first.share, Decimal::ONE);
                }
                for cell in &cohort.cells {
                    prop_assert!(cell.share >= Decimal::ZERO && cell.share <= Decimal::ONE);
                }
            }
        }

        #[test]
        fn purchase_cells_in_range_and_merge(
            rows in prop::collection::vec((0u128..10, 0i64..120, 0i64..300, any::<bool>()), 0..60),
            split in 0usize..60,
        ) {
            let ts: Vec<Transaction> = rows.iter().map(|&(c, d, a, sale)| {
                let (c, at) = (CustomerId::from_u128(c), t(1, 1) + Duration::days(d));
                if sale { Transaction::sale(c, at, eur(a), None).unwrap() } else { Transaction::refund(c, at, eur(a), None).unwrap() }
            }).collect();
            let mut one = PurchaseCohortAccumulator::new(spec(), Currency::EUR);
            for x in &ts { one.push(x).unwrap(); }
            let split = split.min(ts.len());
            let mut a = PurchaseCohortAccumulator::new(spec(), Currency::EUR);
            let mut b = PurchaseCohortAccumulator::new(spec(), Currency::EUR);
            for x in ts[..split].iter().rev() { a.push(x).unwrap(); }
            for x in &ts[split..] { b.push(x).unwrap(); }
            a.merge(&b).unwrap();
            let ta = a.finish().unwrap();
            let t1 = one.finish().unwrap();
            prop_assert_eq!(&ta, &t1);
            for cohort in &t1.cohorts {
                if let Some(first) = cohort.cells.first() {
                    prop_assert_eq!(first.share, Decimal::ONE);
                }
                for cell in &cohort.cells {
                    prop_assert!(cell.share >= Decimal::ZERO && cell.share <= Decimal::ONE);
                    prop_assert!(cell.revenue.is_some_and(|r| !r.is_negative()));
                    prop_assert!(cell.revenue_retained.is_none_or(|r| r >= Decimal::ZERO));
                }
            }
        }
    }
}
