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

use super::activity::{
    Activity, CustomerActivity, RelationshipError, Sharded, Transaction, min_opt,
};
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
        Ok(Self {
            window,
            granularity,
            tz,
            buckets,
            bounds,
            complete,
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
        let p = self.bounds.partition_point(|&b| b <= seconds);
        if p == 0 || p >= self.bounds.len() {
            return None;
        }
        u32::try_from(p - 1).ok()
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

/// One customer's purchase-cohort state: acquisition and per-bucket sales
/// count and net revenue (one entry per bucket with a transaction).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct PurchaseState {
    /// First sale, seconds (`i64::MAX`: none).
    first_sale: Option<DateTime<Utc>>,
    /// First transaction of any kind (for the acquisition check).
    first_any: Option<DateTime<Utc>>,
    acquired: Option<DateTime<Utc>>,
    buckets: Vec<(u32, u32, Decimal)>,
}

impl PurchaseState {
    fn add(&mut self, bucket: u32, sales: u32, revenue: Decimal) -> Result<(), RelationshipError> {
        let of = |op| RelationshipError::Overflow { operation: op };
        match self.buckets.iter_mut().find(|e| e.0 == bucket) {
            Some(e) => {
                e.1 = e.1.checked_add(sales).ok_or(of("cohort sales"))?;
                e.2 = e.2.checked_add(revenue).ok_or(of("cohort revenue"))?;
            }
            None => self.buckets.push((bucket, sales, revenue)),
        }
        Ok(())
    }

    fn check(&self, customer: CustomerId) -> Result<(), RelationshipError> {
        match (self.first_any, self.acquired) {
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

    fn acquisition(&self) -> Option<DateTime<Utc>> {
        self.acquired.or(self.first_sale)
    }
}

/// Adds one transaction (before the window end) to a customer's state.
fn apply_purchase(
    spec: &CohortSpec,
    state: &mut PurchaseState,
    t: &Transaction,
) -> Result<(), RelationshipError> {
    let at = t.at();
    if let Some(acquired) = state.acquired
        && at < acquired
    {
        return Err(RelationshipError::PurchaseBeforeAcquisition {
            customer: t.customer(),
            at,
            acquired,
        });
    }
    state.first_any = min_opt(state.first_any, Some(at));
    let sale = t.is_sale();
    if sale {
        state.first_sale = min_opt(state.first_sale, Some(at));
    }
    if let Some(b) = spec.index_of_seconds(at.timestamp()) {
        state.add(b, u32::from(sale), t.signed_amount().amount())?;
    }
    Ok(())
}

/// Purchase cohorts: share of each cohort purchasing per bucket, and
/// revenue retained.
///
/// Memory: per customer, the acquisition and one small entry per bucket
/// with a transaction. Merges by customer.
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
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PurchaseCohortAccumulator {
    spec: CohortSpec,
    currency: Currency,
    customers: Sharded<PurchaseState>,
}

impl PurchaseCohortAccumulator {
    /// An empty accumulator reporting revenue in `currency`.
    pub fn new(spec: CohortSpec, currency: Currency) -> Self {
        Self {
            spec,
            currency,
            customers: Sharded::default(),
        }
    }

    /// An empty accumulator expecting about `customers` customers.
    pub fn with_capacity(spec: CohortSpec, currency: Currency, customers: usize) -> Self {
        let mut acc = Self::new(spec, currency);
        acc.customers.reserve(customers);
        acc
    }

    /// Adds one transaction. Transactions at or after the window end are
    /// ignored; earlier ones still decide the acquisition.
    ///
    /// # Errors
    /// [`RelationshipError::CurrencyMismatch`];
    /// [`RelationshipError::PurchaseBeforeAcquisition`]; overflow.
    pub fn push(&mut self, t: &Transaction) -> Result<(), RelationshipError> {
        self.check(t)?;
        if t.at() >= self.spec.window.end() {
            return Ok(());
        }
        apply_purchase(&self.spec, self.customers.entry(t.customer()), t)
    }

    /// Adds a batch of transactions: the same result as pushing each, but
    /// large batches are aggregated customer shard by shard, over the
    /// available cores.
    ///
    /// # Errors
    /// As [`PurchaseCohortAccumulator::push`]; a currency mismatch is
    /// reported before anything is added.
    pub fn push_batch(&mut self, rows: &[Transaction]) -> Result<(), RelationshipError> {
        rows.iter().try_for_each(|t| self.check(t))?;
        let spec = &self.spec;
        let end = spec.window.end();
        self.customers
            .push_batch(rows, Transaction::customer, |state, t| {
                if t.at() >= end {
                    Ok(())
                } else {
                    apply_purchase(spec, state, t)
                }
            })
    }

    fn check(&self, t: &Transaction) -> Result<(), RelationshipError> {
        t.check_currency(self.currency)
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
        let state = self.customers.entry(customer);
        let previous = state.acquired;
        state.acquired = min_opt(state.acquired, Some(at));
        if let Err(e) = state.check(customer) {
            state.acquired = previous;
            return Err(e);
        }
        Ok(())
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
        self.customers.merge_with(&other.customers, |c, s, o| {
            s.first_sale = min_opt(s.first_sale, o.first_sale);
            s.first_any = min_opt(s.first_any, o.first_any);
            s.acquired = min_opt(s.acquired, o.acquired);
            for &(b, n, r) in &o.buckets {
                s.add(b, n, r)?;
            }
            s.check(*c)
        })
    }

    /// The table.
    ///
    /// # Errors
    /// Overflow.
    pub fn finish(&self) -> Result<CohortTable, RelationshipError> {
        let n = self.spec.buckets.len();
        let mut grid = Grid::new(n);
        let mut revenue = vec![Decimal::ZERO; n * n];
        let start = self.spec.window.start();
        for s in self.customers.values() {
            let Some(acquired) = s.acquisition() else {
                continue;
            };
            if acquired < start {
                grid.acquired_before += 1;
                continue;
            }
            let Some(c) = self.spec.index_of(acquired) else {
                continue;
            };
            if let Some(size) = grid.sizes.get_mut(c) {
                *size += 1;
            }
            for &(b, sales, rev) in &s.buckets {
                let b = b as usize;
                if b < c {
                    continue;
                }
                if sales > 0
                    && let Some(cell) = grid.counts.get_mut(c * n + b)
                {
                    *cell += 1;
                }
                if let Some(cell) = revenue.get_mut(c * n + b) {
                    *cell = cell.checked_add(rev).ok_or(RelationshipError::Overflow {
                        operation: "cohort revenue",
                    })?;
                }
            }
        }
        build_table(&self.spec, &grid, Some((&revenue, self.currency)))
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
