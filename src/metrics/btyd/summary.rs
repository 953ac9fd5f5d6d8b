//! Per-customer frequency, recency, age and monetary value from transactions.
//!
//! Time is cut into periods of a fixed length (a day by default), with
//! boundaries at `1970-01-05T00:00Z + k × length` (a Monday at midnight UTC,
//! so days are UTC days and seven-day periods are ISO weeks, Monday to
//! Sunday, like pandas' `W` periods). Several purchases in one period count
//! once, with their amounts added.
//!
//! For a customer whose first purchase falls in period `f`, with distinct
//! purchase periods `f = p0 < p1 < … < px`, observed until the period `e`
//! that holds the last instant before the (exclusive) observation end:
//!
//! - frequency `x` = number of repeat purchase periods (distinct periods − 1);
//! - recency `t_x = px − f` (0 without repeat purchases);
//! - age `T = e − f`;
//! - monetary value = mean of the repeat periods' summed amounts (0 without
//!   repeat purchases), as in `lifetimes`' `summary_data_from_transaction_data`.
//!
//! Transactions at or after the observation end are left out (and counted).

use chrono::{DateTime, Datelike, TimeDelta, Timelike, Utc};
use rust_decimal::Decimal;

use super::BtydError;

/// Length of the periods and end of the observation.
///
/// # Example
/// ```
/// use chrono::{TimeDelta, TimeZone, Utc};
/// use crmkit::metrics::btyd::summary::SummaryOptions;
/// let end = Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap();
/// let weekly = SummaryOptions::daily(end).with_period(TimeDelta::weeks(1))?;
/// assert_eq!(weekly.period(), TimeDelta::weeks(1));
/// Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SummaryOptions {
    period: TimeDelta,
    observation_end: DateTime<Utc>,
}

impl SummaryOptions {
    /// One-day periods, observing transactions strictly before `observation_end`.
    pub fn daily(observation_end: DateTime<Utc>) -> Self {
        Self {
            period: TimeDelta::days(1),
            observation_end,
        }
    }

    /// Sets the period length.
    ///
    /// # Errors
    /// [`BtydError::InvalidPeriod`] unless at least one millisecond.
    pub fn with_period(mut self, period: TimeDelta) -> Result<Self, BtydError> {
        if period.num_milliseconds() < 1 {
            return Err(BtydError::InvalidPeriod {
                reason: "the period must be at least one millisecond",
            });
        }
        self.period = period;
        Ok(self)
    }

    /// The period length.
    pub fn period(&self) -> TimeDelta {
        self.period
    }

    /// The (exclusive) end of the observation.
    pub fn observation_end(&self) -> DateTime<Utc> {
        self.observation_end
    }

    /// The index of the period holding `at`.
    fn index(&self, at: DateTime<Utc>) -> i64 {
        period_index(self.period, at)
    }

    /// The index of the period holding the last instant before the end.
    fn end_index(&self) -> i64 {
        period_index(
            self.period,
            self.observation_end - TimeDelta::nanoseconds(1),
        )
    }
}

fn anchor() -> DateTime<Utc> {
    // 1970-01-05 is a Monday; DateTime::UNIX_EPOCH + 4 days.
    DateTime::<Utc>::UNIX_EPOCH + TimeDelta::days(4)
}

/// Milliseconds from the Unix epoch to [`anchor`].
const ANCHOR_MS: i64 = 4 * 86_400_000;

fn period_index(period: TimeDelta, at: DateTime<Utc>) -> i64 {
    let period_ms = period.num_milliseconds().max(1);
    if at.timestamp_subsec_nanos() < 1_000_000_000 {
        // Outside a leap second, the floor of the milliseconds since the
        // anchor is plain integer arithmetic (`timestamp_millis` floors:
        // whole seconds are floored and the sub-second part is >= 0); the
        // general path below costs a calendar computation per call.
        return (at.timestamp_millis() - ANCHOR_MS).div_euclid(period_ms);
    }
    period_index_general(period_ms, at)
}

/// [`period_index`] through `TimeDelta` arithmetic, for any instant
/// (including a leap second).
fn period_index_general(period_ms: i64, at: DateTime<Utc>) -> i64 {
    let since = at - anchor();
    // Floor to whole milliseconds (sub-millisecond parts never cross a
    // period boundary, which is a whole number of milliseconds).
    let mut ms = since.num_milliseconds();
    if since < TimeDelta::milliseconds(ms) {
        ms -= 1;
    }
    ms.div_euclid(period_ms)
}

/// One customer's summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerSummary<K> {
    /// The customer key.
    pub customer: K,
    /// Number of repeat purchase periods.
    pub frequency: u32,
    /// Periods from the first purchase period to the last one.
    pub recency: u32,
    /// Periods from the first purchase period to the end of observation.
    pub age: u32,
    /// Mean summed amount of the repeat purchase periods; zero without
    /// repeat purchases.
    pub monetary_value: Decimal,
    /// When the first purchase happened.
    pub first_purchase: DateTime<Utc>,
}

/// Customer summaries, sorted by customer key.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary<K> {
    customers: Vec<CustomerSummary<K>>,
    options: SummaryOptions,
    excluded: usize,
}

impl<K> Summary<K> {
    /// The customers, sorted by key.
    pub fn customers(&self) -> &[CustomerSummary<K>] {
        &self.customers
    }

    /// The options the summary was made with.
    pub fn options(&self) -> &SummaryOptions {
        &self.options
    }

    /// How many transactions were left out: those at or after the
    /// observation end, and, from [`from_purchases`], refunds.
    pub fn excluded_transactions(&self) -> usize {
        self.excluded
    }

    /// Consumes the summary into its customers.
    pub fn into_customers(self) -> Vec<CustomerSummary<K>> {
        self.customers
    }
}

/// Collects `(key, amount, at)` for the transactions before `end`, sorted
/// by key, then time (so by key, then period: the period is recomputed from
/// the time where needed, which keeps the rows small).
#[allow(clippy::type_complexity)]
fn collect<K: Ord>(
    transactions: impl IntoIterator<Item = (K, DateTime<Utc>, Decimal)>,
    options: &SummaryOptions,
) -> Result<(Vec<(K, Decimal, DateTime<Utc>)>, usize), BtydError> {
    let transactions = transactions.into_iter();
    let mut rows = Vec::with_capacity(transactions.size_hint().0);
    let mut excluded = 0;
    for (index, (key, at, amount)) in transactions.enumerate() {
        if amount.is_sign_negative() && !amount.is_zero() {
            return Err(BtydError::NegativeAmount { index, amount });
        }
        if at >= options.observation_end {
            excluded += 1;
            continue;
        }
        rows.push((key, amount, at));
    }
    // Input already in this order (a ledger per customer) is only checked.
    rows.sort_unstable_by(|l, r| l.0.cmp(&r.0).then(l.2.cmp(&r.2)));
    Ok((rows, excluded))
}

fn to_u32(name: &'static str, v: i64) -> Result<u32, BtydError> {
    u32::try_from(v).map_err(|_| BtydError::OutOfRange {
        name,
        value: v as f64,
        range: "0..=4294967295 periods",
    })
}

/// Summarises transactions `(customer, at, amount)` as of `options`'
/// observation end. Amounts must not be negative.
///
/// The transactions are collected and sorted by customer, then time (input
/// already in that order is only checked). For transactions already in
/// memory, [`summarize_slice`] gives the same result without copying them.
///
/// # Errors
/// [`BtydError::NegativeAmount`] for a negative amount,
/// [`BtydError::Overflow`] when a customer's amounts overflow `Decimal`.
/// No transaction is not an error: the summary is empty.
///
/// # Example
/// ```
/// use chrono::{TimeZone, Utc};
/// use crmkit::metrics::btyd::summary::{summarize, SummaryOptions};
/// use rust_decimal::Decimal;
/// let at = |d, h| Utc.with_ymd_and_hms(2024, 3, d, h, 0, 0).unwrap();
/// let tx = [
///     (7, at(1, 9), Decimal::from(10)),
///     (7, at(1, 17), Decimal::from(5)),  // same day: one period
///     (7, at(4, 9), Decimal::from(20)),
///     (7, at(8, 9), Decimal::from(40)),
/// ];
/// let s = summarize(tx, &SummaryOptions::daily(Utc.with_ymd_and_hms(2024, 3, 11, 0, 0, 0).unwrap()))?;
/// let c = &s.customers()[0];
/// // Repeat periods: March 4 and 8; last observed day March 10.
/// assert_eq!((c.frequency, c.recency, c.age), (2, 7, 9));
/// assert_eq!(c.monetary_value, Decimal::from(30)); // (20 + 40) / 2
/// Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn summarize<K: Ord>(
    transactions: impl IntoIterator<Item = (K, DateTime<Utc>, Decimal)>,
    options: &SummaryOptions,
) -> Result<Summary<K>, BtydError> {
    let (rows, excluded) = collect(transactions, options)?;
    // The rows are sorted, so the run meets no unordered row, and it meets
    // the errors (overflow, out of range) customer by customer in the
    // same order as the per-row code.
    let capacity = rows.len();
    let customers = match run(
        rows.into_iter().map(|(key, amount, at)| (key, at, amount)),
        options,
        |key| key,
        capacity,
    ) {
        Ok((mut customers, _)) => {
            customers.shrink_to_fit();
            customers
        }
        Err(Stop::Error(e)) => return Err(e),
        Err(Stop::Unordered) => {
            return Err(BtydError::InvalidPeriod {
                reason: "internal: sorted transactions met out of order",
            });
        }
    };
    Ok(Summary {
        customers,
        options: *options,
        excluded,
    })
}

/// Most customers [`run`] reserves room for before it has seen them (the
/// reservation is sized by rows, which can be many per customer).
const MAX_RESERVED_CUSTOMERS: usize = 1 << 21;

/// Row count from which [`summarize_slice`] uses two threads.
const PARALLEL_ROWS: usize = 1 << 17;

/// Summarises transactions held in memory, as [`summarize`] does: the same
/// summary and the same errors, without copying the transactions.
///
/// Transactions ordered by customer, then time (a ledger per customer; rows
/// at or after the observation end may be anywhere) are summarised in one
/// pass, on two threads from 131,072 rows (each summarises the customers of
/// one half: the result does not depend on the number of threads); other
/// input goes through [`summarize`].
///
/// # Errors
/// As [`summarize`].
///
/// # Example
/// ```
/// use chrono::{TimeZone, Utc};
/// use crmkit::metrics::btyd::summary::{summarize, summarize_slice, SummaryOptions};
/// use rust_decimal::Decimal;
/// let at = |d| Utc.with_ymd_and_hms(2024, 3, d, 9, 0, 0).unwrap();
/// let tx = vec![
///     (1u64, at(1), Decimal::new(1000, 2)),
///     (1, at(4), Decimal::new(2050, 2)),
///     (2, at(2), Decimal::new(700, 2)),
/// ];
/// let options = SummaryOptions::daily(Utc.with_ymd_and_hms(2024, 3, 11, 0, 0, 0).unwrap());
/// let summary = summarize_slice(&tx, &options)?;
/// assert_eq!(summary, summarize(tx.iter().cloned(), &options)?);
/// assert_eq!(summary.customers()[0].monetary_value, Decimal::new(2050, 2));
/// Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn summarize_slice<K: Ord + Clone + Send + Sync>(
    transactions: &[(K, DateTime<Utc>, Decimal)],
    options: &SummaryOptions,
) -> Result<Summary<K>, BtydError> {
    let fast = if transactions.len() >= PARALLEL_ROWS && super::bgnbd::two_cores() {
        summarize_halves(transactions, options)
    } else {
        run_slice(transactions, options, transactions.len())
    };
    match fast {
        Some((mut customers, excluded)) => Ok(Summary {
            customers: {
                customers.shrink_to_fit();
                customers
            },
            options: *options,
            excluded,
        }),
        None => summarize(transactions.iter().cloned(), options),
    }
}

/// [`run`] over a slice; `None` for anything but a clean ordered run.
fn run_slice<K: Ord + Clone>(
    rows: &[(K, DateTime<Utc>, Decimal)],
    options: &SummaryOptions,
    capacity: usize,
) -> Option<Run<K>> {
    run(
        rows.iter().map(|(key, at, amount)| (key, *at, *amount)),
        options,
        K::clone,
        capacity,
    )
    .ok()
}

/// [`run_slice`] on two threads: the rows are cut where the customer
/// changes near the middle, and the halves' customers must be in order
/// across the cut.
fn summarize_halves<K: Ord + Clone + Send + Sync>(
    rows: &[(K, DateTime<Utc>, Decimal)],
    options: &SummaryOptions,
) -> Option<Run<K>> {
    let mut cut = rows.len() / 2;
    while cut < rows.len() && cut > 0 && rows.get(cut - 1)?.0 == rows.get(cut)?.0 {
        cut += 1;
    }
    let (left, right) = rows.split_at(cut);
    let (first, second) = std::thread::scope(|scope| {
        let second = scope.spawn(|| run_slice(right, options, right.len()));
        // Room for both halves: the second is appended without a move.
        let first = run_slice(left, options, rows.len());
        (first, second.join().ok().flatten())
    });
    let ((mut customers, excluded_left), (rest, excluded_right)) = (first?, second?);
    if let (Some(l), Some(r)) = (customers.last(), rest.first())
        && l.customer >= r.customer
    {
        return None;
    }
    customers.extend(rest);
    Some((customers, excluded_left + excluded_right))
}

/// The customers of a [`run`] and the number of transactions it left out.
type Run<K> = (Vec<CustomerSummary<K>>, usize);

/// Why a [`run`] stopped.
enum Stop {
    /// A row out of order by customer, then time, or a negative amount.
    Unordered,
    /// A customer's summary cannot be made (as in [`summarize`]).
    Error(BtydError),
}

/// Summarises rows ordered by customer, then time, in one pass:
/// transactions at or after the observation end are counted and skipped,
/// every other row extends its customer's [`OpenCustomer`]. `key` turns a
/// row's key into the summary's. The customers are collected in a vector
/// reserved for `capacity` of them (at most one per row), up to
/// [`MAX_RESERVED_CUSTOMERS`]: address space of which only the part used
/// is touched, so the vector is not moved as it grows; the caller shrinks
/// it to fit.
fn run<Q: Ord, K>(
    rows: impl Iterator<Item = (Q, DateTime<Utc>, Decimal)>,
    options: &SummaryOptions,
    key: impl Fn(Q) -> K,
    capacity: usize,
) -> Result<Run<K>, Stop> {
    let end = options.end_index();
    let mut clock = PeriodClock::new(options.period);
    let mut customers = Vec::with_capacity(capacity.min(MAX_RESERVED_CUSTOMERS));
    let mut excluded = 0;
    let mut open: Option<OpenCustomer<Q>> = None;
    for (k, at, amount) in rows {
        if amount.is_sign_negative() && !amount.is_zero() {
            return Err(Stop::Unordered);
        }
        if at >= options.observation_end {
            excluded += 1;
            continue;
        }
        let period = clock.index(&at);
        if let Some(c) = open.as_mut() {
            match k.cmp(&c.key) {
                std::cmp::Ordering::Equal if at >= c.last_at => {
                    c.push(period, at, amount).map_err(Stop::Error)?;
                    continue;
                }
                std::cmp::Ordering::Greater => {}
                _ => return Err(Stop::Unordered),
            }
        }
        if let Some(c) = open.replace(OpenCustomer::new(k, at, period)) {
            customers.push(c.finish(end, &key).map_err(Stop::Error)?);
        }
    }
    if let Some(c) = open {
        customers.push(c.finish(end, &key).map_err(Stop::Error)?);
    }
    Ok((customers, excluded))
}

/// A customer being summarised: their rows so far, in time order.
struct OpenCustomer<Q> {
    key: Q,
    first_at: DateTime<Utc>,
    last_at: DateTime<Utc>,
    first: i64,
    last: i64,
    periods: u32,
    repeat_sum: RunningSum,
}

impl<Q> OpenCustomer<Q> {
    fn new(key: Q, at: DateTime<Utc>, period: i64) -> Self {
        Self {
            key,
            first_at: at,
            last_at: at,
            first: period,
            last: period,
            periods: 0,
            repeat_sum: RunningSum::ZERO,
        }
    }

    #[inline]
    fn push(&mut self, period: i64, at: DateTime<Utc>, amount: Decimal) -> Result<(), BtydError> {
        self.last_at = at;
        if period != self.last {
            self.periods += 1;
            self.last = period;
        }
        if period != self.first {
            self.repeat_sum.add(amount).ok_or(BtydError::Overflow)?;
        }
        Ok(())
    }

    fn finish<K>(self, end: i64, key: impl Fn(Q) -> K) -> Result<CustomerSummary<K>, BtydError> {
        let monetary_value = if self.periods == 0 {
            Decimal::ZERO
        } else {
            self.repeat_sum
                .mean(self.periods)
                .ok_or(BtydError::Overflow)?
        };
        Ok(CustomerSummary {
            customer: key(self.key),
            frequency: self.periods,
            recency: to_u32("recency", self.last - self.first)?,
            age: to_u32("age", end - self.first)?,
            monetary_value,
            first_purchase: self.first_at,
        })
    }
}

/// Period indices as [`period_index`] computes them, from the calendar
/// date and the time of day, remembering the start of the last year seen:
/// no calendar computation per row, and no division for daily periods.
struct PeriodClock {
    period: TimeDelta,
    period_ms: i64,
    /// The period in whole days, when it is a whole number of days.
    period_days: Option<i64>,
    /// The last two years seen (a customer's purchases often alternate
    /// between two), each with the days from 1970-01-01 to its January 1.
    years: [(i32, i64); 2],
}

impl PeriodClock {
    fn new(period: TimeDelta) -> Self {
        let period_ms = period.num_milliseconds().max(1);
        Self {
            period,
            period_ms,
            period_days: (period_ms % DAY_MS == 0).then_some(period_ms / DAY_MS),
            years: [(1970, 0), (1970, 0)],
        }
    }

    #[inline]
    fn index(&mut self, at: &DateTime<Utc>) -> i64 {
        let naive = at.naive_utc();
        let time = naive.time();
        let nanos = time.nanosecond();
        if nanos >= 1_000_000_000 {
            return period_index(self.period, *at);
        }
        let date = naive.date();
        let year = date.year();
        let year_start = match self.years {
            [(y, start), _] if y == year => start,
            [last, (y, start)] if y == year => {
                self.years = [(y, start), last];
                start
            }
            [last, _] => {
                let start = days_to_year(year);
                self.years = [(year, start), last];
                start
            }
        };
        // Days since the anchor (1970-01-05).
        let days = year_start + i64::from(date.ordinal0()) - 4;
        match self.period_days {
            // Periods of whole days start at midnight: the time of day
            // does not matter.
            Some(1) => days,
            Some(d) => days.div_euclid(d),
            None => {
                let ms = days * DAY_MS
                    + i64::from(time.num_seconds_from_midnight()) * 1000
                    + i64::from(nanos / 1_000_000);
                ms.div_euclid(self.period_ms)
            }
        }
    }
}

/// Milliseconds in a day.
const DAY_MS: i64 = 86_400_000;

/// Days from 1970-01-01 to January 1 of `year` (proleptic Gregorian).
fn days_to_year(year: i32) -> i64 {
    let y = i64::from(year) - 1;
    // Days from 0001-01-01 to January 1 of `year`, less those to 1970.
    365 * y + y.div_euclid(4) - y.div_euclid(100) + y.div_euclid(400) - 719_162
}

/// Largest mantissa of a `Decimal`, plus one.
const MANTISSA_LIMIT: u128 = 1 << 96;

/// A sum of non-negative amounts from zero, equal after every addition
/// (value, mantissa and scale) to the `Decimal::checked_add` chain from
/// `Decimal::ZERO`: while the exact sum fits a `Decimal` at the largest
/// scale of the amounts, it is that sum (which `Decimal` addition of
/// non-negative values gives exactly), kept as an integer; from the first
/// addition that would not fit, or a negative zero, it is the `Decimal`.
#[derive(Debug, Clone, Copy)]
enum RunningSum {
    Exact { mantissa: u128, scale: u32 },
    Decimal(Decimal),
}

impl RunningSum {
    const ZERO: Self = Self::Exact {
        mantissa: 0,
        scale: 0,
    };

    /// Adds `amount`; `None` when `Decimal` overflows.
    #[inline]
    fn add(&mut self, amount: Decimal) -> Option<()> {
        if let Self::Exact { mantissa, scale } = *self {
            if !amount.is_sign_negative() {
                let (m, s) = (amount.mantissa().unsigned_abs(), amount.scale());
                let exact = if s == scale {
                    mantissa.checked_add(m)
                } else if s > scale {
                    mantissa
                        .checked_mul(10u128.checked_pow(s - scale)?)
                        .and_then(|v| v.checked_add(m))
                } else {
                    m.checked_mul(10u128.checked_pow(scale - s)?)
                        .and_then(|v| v.checked_add(mantissa))
                };
                if let Some(v) = exact.filter(|v| *v < MANTISSA_LIMIT) {
                    *self = Self::Exact {
                        mantissa: v,
                        scale: scale.max(s),
                    };
                    return Some(());
                }
            }
            *self = Self::Decimal(self.to_decimal()?);
        }
        if let Self::Decimal(d) = self {
            *d = d.checked_add(amount)?;
        }
        Some(())
    }

    fn to_decimal(self) -> Option<Decimal> {
        match self {
            Self::Exact { mantissa, scale } => {
                Decimal::try_from_i128_with_scale(i128::try_from(mantissa).ok()?, scale).ok()
            }
            Self::Decimal(d) => Some(d),
        }
    }

    /// `sum.checked_div(Decimal::from(n))` for `n >= 1`: a non-zero
    /// mantissa that `n` divides gives that quotient at the same scale, as
    /// `Decimal` division does; anything else is the `Decimal` division.
    fn mean(self, n: u32) -> Option<Decimal> {
        if let Self::Exact { mantissa, scale } = self
            && mantissa != 0
        {
            let q = if let Ok(m) = u64::try_from(mantissa) {
                let n = u64::from(n);
                (m % n == 0).then(|| u128::from(m / n))
            } else {
                let n = u128::from(n);
                (mantissa % n == 0).then(|| mantissa / n)
            };
            if let Some(q) = q {
                return Decimal::try_from_i128_with_scale(i128::try_from(q).ok()?, scale).ok();
            }
        }
        self.to_decimal()?.checked_div(Decimal::from(n))
    }
}

/// Summarises [`Purchase`](crate::domain::Purchase)s by customer, as
/// [`summarize`] does for plain transactions.
///
/// Sales are the purchase events, with their amounts. Refunds are left out
/// (and counted in [`Summary::excluded_transactions`]): a refund is not a
/// purchase, and netting it into a period would give the spend model
/// non-positive values; subtract refunds from the predicted value
/// separately if they matter. All sales must be in one currency.
///
/// # Errors
/// [`BtydError::MixedCurrencies`] when sales are in more than one
/// currency; otherwise as [`summarize`].
///
/// # Example
/// ```
/// use chrono::{TimeZone, Utc};
/// use crmkit::domain::{Currency, CustomerId, Money, Purchase, PurchaseId, PurchaseKind};
/// use crmkit::metrics::btyd::summary::{from_purchases, SummaryOptions};
/// use rust_decimal::Decimal;
/// let at = |d| Utc.with_ymd_and_hms(2026, 3, d, 9, 0, 0).single().ok_or("invalid time");
/// let eur = |cents| Money::new(Decimal::new(cents, 2), Currency::EUR);
/// let ann = CustomerId::from_u128(1);
/// let purchases = vec![
///     Purchase::new(PurchaseId::from_u128(1), ann, at(1)?, PurchaseKind::Sale, eur(2000))?,
///     Purchase::new(PurchaseId::from_u128(2), ann, at(4)?, PurchaseKind::Sale, eur(3000))?,
///     Purchase::new(PurchaseId::from_u128(3), ann, at(5)?, PurchaseKind::Refund { of: None }, eur(3000))?,
/// ];
/// let end = Utc.with_ymd_and_hms(2026, 3, 11, 0, 0, 0).single().ok_or("invalid time")?;
/// let summary = from_purchases(&purchases, &SummaryOptions::daily(end))?;
/// let c = &summary.customers()[0];
/// assert_eq!((c.customer, c.frequency, c.recency, c.age), (ann, 1, 3, 9));
/// assert_eq!(c.monetary_value, Decimal::new(3000, 2));
/// assert_eq!(summary.excluded_transactions(), 1);
/// Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn from_purchases<'a>(
    purchases: impl IntoIterator<Item = &'a crate::domain::Purchase>,
    options: &SummaryOptions,
) -> Result<Summary<crate::domain::CustomerId>, BtydError> {
    let mut currency = None;
    let mut refunds = 0;
    let mut sales = Vec::new();
    for p in purchases {
        if p.is_refund() {
            refunds += 1;
            continue;
        }
        let amount = p.amount();
        match currency {
            None => currency = Some(amount.currency()),
            Some(c) if c != amount.currency() => {
                return Err(BtydError::MixedCurrencies {
                    first: c.to_string(),
                    other: amount.currency().to_string(),
                });
            }
            Some(_) => {}
        }
        sales.push((p.customer(), p.occurred_at(), amount.amount()));
    }
    let mut summary = summarize(sales, options)?;
    summary.excluded += refunds;
    Ok(summary)
}

/// A customer's calibration summary and what they did in the holdout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalibrationHoldout<K> {
    /// The summary over the calibration window.
    pub calibration: CustomerSummary<K>,
    /// Distinct purchase periods in the holdout window.
    pub holdout_frequency: u32,
    /// Mean summed amount of the holdout purchase periods (0 if none).
    pub holdout_monetary_value: Decimal,
}

/// A calibration / holdout split for validating predictions.
#[derive(Debug, Clone, PartialEq)]
pub struct HoldoutSplit<K> {
    /// Customers whose first purchase is in the calibration window, by key.
    pub customers: Vec<CalibrationHoldout<K>>,
    /// Length of the holdout window in periods (the `t` to predict for).
    pub holdout_periods: u32,
}

/// Splits transactions at `calibration_end`: a summary of the calibration
/// window `[.., calibration_end)` and, for those customers, the purchases in
/// `[calibration_end, observation_end)`, as `lifetimes`'
/// `calibration_and_holdout_data` does. Customers who first buy in the
/// holdout are left out. Choose a `calibration_end` on a period boundary:
/// a period cut in two counts on both sides.
///
/// # Errors
/// [`BtydError::InvalidPeriod`] unless `calibration_end < observation_end`;
/// otherwise as [`summarize`].
///
/// # Example
/// ```
/// use chrono::{TimeZone, Utc};
/// use crmkit::metrics::btyd::summary::{calibration_holdout, SummaryOptions};
/// use rust_decimal::Decimal;
/// let at = |d| Utc.with_ymd_and_hms(2024, 3, d, 9, 0, 0).unwrap();
/// let tx = [("a", at(1), Decimal::ONE), ("a", at(3), Decimal::TEN), ("a", at(12), Decimal::TWO)];
/// let options = SummaryOptions::daily(Utc.with_ymd_and_hms(2024, 3, 15, 0, 0, 0).unwrap());
/// let split = calibration_holdout(tx, &options, Utc.with_ymd_and_hms(2024, 3, 10, 0, 0, 0).unwrap())?;
/// assert_eq!(split.holdout_periods, 5); // March 10 to 14
/// let a = &split.customers[0];
/// assert_eq!((a.calibration.frequency, a.calibration.age, a.holdout_frequency), (1, 8, 1));
/// Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn calibration_holdout<K: Ord>(
    transactions: impl IntoIterator<Item = (K, DateTime<Utc>, Decimal)>,
    options: &SummaryOptions,
    calibration_end: DateTime<Utc>,
) -> Result<HoldoutSplit<K>, BtydError> {
    if calibration_end >= options.observation_end {
        return Err(BtydError::InvalidPeriod {
            reason: "the calibration end must be before the observation end",
        });
    }
    let cal_options = SummaryOptions {
        period: options.period,
        observation_end: calibration_end,
    };
    let (rows, _) = collect(transactions, options)?;
    let mut calibration_rows = Vec::new();
    let mut holdout: Vec<(usize, i64, Decimal)> = Vec::new();
    // Rows are sorted by key then time: split each key's rows.
    let mut keys_seen = 0usize;
    let mut it = rows.into_iter().peekable();
    while let Some(row) = it.next() {
        let mut group = vec![row];
        while let Some(n) = it.next_if(|n| group.first().is_some_and(|g| g.0 == n.0)) {
            group.push(n);
        }
        if !group.iter().any(|r| r.2 < calibration_end) {
            continue;
        }
        for (key, amount, at) in group {
            if at < calibration_end {
                calibration_rows.push((key, at, amount));
            } else {
                holdout.push((keys_seen, options.index(at), amount));
            }
        }
        keys_seen += 1;
    }
    let summary = summarize(calibration_rows, &cal_options)?;
    let mut customers = Vec::with_capacity(summary.customers.len());
    let mut h = holdout.into_iter().peekable();
    for (i, calibration) in summary.customers.into_iter().enumerate() {
        let mut periods = 0u32;
        let mut last = None;
        let mut sum = Decimal::ZERO;
        while let Some((_, p, amount)) = h.next_if(|r| r.0 == i) {
            if last != Some(p) {
                periods += 1;
                last = Some(p);
            }
            sum = sum.checked_add(amount).ok_or(BtydError::Overflow)?;
        }
        let holdout_monetary_value = if periods == 0 {
            Decimal::ZERO
        } else {
            sum.checked_div(Decimal::from(periods))
                .ok_or(BtydError::Overflow)?
        };
        customers.push(CalibrationHoldout {
            calibration,
            holdout_frequency: periods,
            holdout_monetary_value,
        });
    }
    let holdout_periods = to_u32("holdout", options.end_index() - cal_options.end_index())?;
    Ok(HoldoutSplit {
        customers,
        holdout_periods,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use proptest::prelude::*;

    fn at(d: u32, h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 1, d, h, 0, 0).unwrap()
    }

    #[test]
    fn daily_periods_are_utc_days() {
        let p = TimeDelta::days(1);
        assert_eq!(period_index(p, at(2, 0)) - period_index(p, at(1, 23)), 1);
        assert_eq!(period_index(p, at(1, 0)), period_index(p, at(1, 23)));
        // Before the anchor, floor (not truncation).
        let before = DateTime::<Utc>::UNIX_EPOCH;
        assert_eq!(period_index(p, before), -4);
        assert_eq!(period_index(p, before - TimeDelta::nanoseconds(1)), -5);
    }

    #[test]
    fn weekly_periods_start_on_monday() {
        let p = TimeDelta::weeks(1);
        // 2024-01-01 is a Monday, 2024-01-07 a Sunday.
        assert_eq!(period_index(p, at(1, 0)), period_index(p, at(7, 23)));
        assert_eq!(period_index(p, at(8, 0)), period_index(p, at(7, 23)) + 1);
    }

    proptest::proptest! {
        /// The integer fast path of `period_index` equals the `TimeDelta`
        /// computation for any instant and period, either side of the epoch.
        #[test]
        fn fast_period_index_equals_general(
            secs in -20_000_000_000i64..20_000_000_000,
            nanos in 0u32..1_000_000_000,
            period_ms in 1i64..2_000_000_000_000,
        ) {
            let at = DateTime::<Utc>::from_timestamp(secs, nanos).unwrap();
            let period = TimeDelta::milliseconds(period_ms);
            proptest::prop_assert_eq!(period_index(period, at), period_index_general(period_ms, at));
            let day = TimeDelta::days(1);
            proptest::prop_assert_eq!(
                period_index(day, at),
                period_index_general(day.num_milliseconds(), at)
            );
        }
    }

    #[test]
    fn leap_second_uses_the_general_path() {
        // 2016-12-31T23:59:60.5Z: chrono stores it as 23:59:59 with 1.5e9 ns.
        let leap = chrono::NaiveDate::from_ymd_opt(2016, 12, 31)
            .unwrap()
            .and_hms_milli_opt(23, 59, 59, 1_500)
            .unwrap()
            .and_utc();
        let day = TimeDelta::days(1);
        assert_eq!(
            period_index(day, leap),
            period_index_general(86_400_000, leap)
        );
        // Duration arithmetic puts 23:59:60.5 1.5 s after 23:59:59, i.e.
        // in 2017-01-01 (as before the fast path): 7 × 365 + 1 (2020) = 2556
        // days before 2024-01-01.
        assert_eq!(period_index(day, leap), period_index(day, at(1, 0)) - 2556);
    }

    /// The per-row summary code before the one-pass run (oracle): sorted
    /// rows, `period_index` per row, `Decimal` arithmetic.
    fn summarize_reference<K: Ord>(
        transactions: impl IntoIterator<Item = (K, DateTime<Utc>, Decimal)>,
        options: &SummaryOptions,
    ) -> Result<Summary<K>, BtydError> {
        let (rows, excluded) = collect(transactions, options)?;
        let end = options.end_index();
        let mut customers = Vec::new();
        let mut it = rows.into_iter().peekable();
        while let Some((key, _, first_at)) = it.next() {
            let first = options.index(first_at);
            let mut last = first;
            let mut periods = 0u32;
            let mut repeat_sum = Decimal::ZERO;
            while let Some((_, amount, at)) = it.next_if(|n| n.0 == key) {
                let period = options.index(at);
                if period != last {
                    periods += 1;
                    last = period;
                }
                if period != first {
                    repeat_sum = repeat_sum.checked_add(amount).ok_or(BtydError::Overflow)?;
                }
            }
            let monetary_value = if periods == 0 {
                Decimal::ZERO
            } else {
                repeat_sum
                    .checked_div(Decimal::from(periods))
                    .ok_or(BtydError::Overflow)?
            };
            customers.push(CustomerSummary {
                customer: key,
                frequency: periods,
                recency: to_u32("recency", last - first)?,
                age: to_u32("age", end - first)?,
                monetary_value,
                first_purchase: first_at,
            });
        }
        Ok(Summary {
            customers,
            options: *options,
            excluded,
        })
    }

    /// Equal summaries, the monetary values also in representation
    /// (mantissa and scale, which `PartialEq` on `Decimal` ignores).
    fn same<K: Ord + std::fmt::Debug>(
        got: &Result<Summary<K>, BtydError>,
        want: &Result<Summary<K>, BtydError>,
    ) -> Result<(), proptest::test_runner::TestCaseError> {
        proptest::prop_assert_eq!(got, want);
        if let (Ok(g), Ok(w)) = (got, want) {
            for (g, w) in g.customers().iter().zip(w.customers()) {
                proptest::prop_assert_eq!(
                    g.monetary_value.serialize(),
                    w.monetary_value.serialize(),
                    "{} vs {}",
                    g.monetary_value,
                    w.monetary_value
                );
            }
        }
        Ok(())
    }

    type Ledger = Vec<(u8, DateTime<Utc>, Decimal)>;

    /// Ledgers of up to 12 customers over about 40 days around 2024-01-01
    /// (some rows at or after the end, some in a leap second), amounts of
    /// scale 0 to 6 from zero (and negative zero) to near `Decimal`'s
    /// largest mantissa, sometimes a negative one; periods of whole days or
    /// any number of milliseconds.
    fn ledgers() -> impl proptest::strategy::Strategy<Value = (Ledger, SummaryOptions)> {
        use proptest::prelude::*;
        let amount = prop_oneof![
            (0i64..100_000, 0u32..3).prop_map(|(m, s)| Decimal::new(m, s)),
            (0u64..u64::MAX, 0u32..7)
                .prop_map(|(m, s)| Decimal::from_i128_with_scale(i128::from(m), s)),
            (0u128..(1u128 << 96), 0u32..7)
                .prop_map(|(m, s)| Decimal::from_i128_with_scale(m as i128, s)),
            Just(Decimal::ZERO),
            Just({
                let mut z = Decimal::new(0, 2);
                z.set_sign_negative(true);
                z
            }),
            Just(Decimal::new(-5, 1)),
        ];
        let weights_amount = prop_oneof![8 => (0i64..100_000, 0u32..3).prop_map(|(m, s)| Decimal::new(m, s)), 2 => amount];
        let start = 1_703_980_800i64; // 2023-12-31T00:00:00Z
        let at = prop_oneof![
            20 => (0i64..40 * 86_400, 0u32..1_000_000_000)
                .prop_map(move |(s, n)| DateTime::<Utc>::from_timestamp(start + s, n).unwrap()),
            1 => (0i64..40, 0u32..1_000_000_000).prop_map(move |(d, n)| {
                DateTime::<Utc>::from_timestamp(start + d * 86_400 + 86_399, 1_000_000_000 + n).unwrap()
            }),
        ];
        let period = prop_oneof![
            Just(TimeDelta::days(1)),
            Just(TimeDelta::weeks(1)),
            (1i64..30).prop_map(TimeDelta::days),
            (1i64..3 * 86_400_000).prop_map(TimeDelta::milliseconds),
        ];
        (
            proptest::collection::vec((0u8..12, at, weights_amount), 0..120),
            period,
            30i64..42,
        )
            .prop_map(move |(tx, period, end_day)| {
                let end = DateTime::<Utc>::from_timestamp(start + end_day * 86_400, 0).unwrap();
                let options = SummaryOptions::daily(end).with_period(period).unwrap();
                (tx, options)
            })
    }

    proptest::proptest! {
        #![proptest_config(proptest::test_runner::Config::with_cases(400))]

        /// The one-pass summaries (from sorted rows in `summarize`, from
        /// the slice in `summarize_slice`, serial and on two threads) equal
        /// the per-row reference, errors included, on arbitrary ledgers in
        /// arbitrary order and in customer-then-time order.
        #[test]
        fn one_pass_summaries_equal_the_reference((tx, options) in ledgers()) {
            let want = summarize_reference(tx.iter().cloned(), &options);
            same(&summarize(tx.iter().cloned(), &options), &want)?;
            same(&summarize_slice(&tx, &options), &want)?;
            let mut sorted = tx.clone();
            sorted.sort_by_key(|r| (r.0, r.1));
            // (Sorting moves a negative amount: the error names its new index.)
            let want = summarize_reference(sorted.iter().cloned(), &options);
            same(&summarize_slice(&sorted, &options), &want)?;
            let with = |f: fn(&Ledger, &SummaryOptions) -> Option<Run<u8>>| {
                f(&sorted, &options).map(|(customers, excluded)| Summary { customers, options, excluded })
            };
            let serial = with(|r, o| run_slice(r, o, r.len()));
            let halves = with(|r, o| summarize_halves(r, o));
            if want.is_ok() {
                // Sorted input without a negative amount or an error takes
                // the one-pass path.
                proptest::prop_assert!(serial.is_some());
                same(&serial.clone().ok_or(BtydError::Overflow), &want)?;
            }
            if let Some(h) = halves {
                same(&Ok(h), &want)?;
            }
            if let Some(s) = serial {
                same(&Ok(s), &want)?;
            }
        }

        /// `PeriodClock` equals `period_index` for any instant and period.
        #[test]
        fn period_clock_equals_period_index(
            secs in -20_000_000_000i64..20_000_000_000,
            nanos in 0u32..2_000_000_000,
            period_ms in prop_oneof![1i64..2_000_000_000_000, (1i64..400).prop_map(|d| d * DAY_MS)],
            warm in -20_000_000_000i64..20_000_000_000,
        ) {
            use proptest::prelude::*;
            let nanos = if nanos >= 1_000_000_000 && secs.rem_euclid(60) != 59 { nanos - 1_000_000_000 } else { nanos };
            let at = DateTime::<Utc>::from_timestamp(secs, nanos).unwrap();
            let period = TimeDelta::milliseconds(period_ms);
            let mut clock = PeriodClock::new(period);
            // A clock that has seen another year first.
            let _ = clock.index(&DateTime::<Utc>::from_timestamp(warm, 0).unwrap());
            prop_assert_eq!(clock.index(&at), period_index(period, at));
        }

        /// `RunningSum` equals the `Decimal::checked_add` chain from zero
        /// and `checked_div` by the count, in value and representation.
        #[test]
        fn running_sum_equals_decimal_arithmetic(
            amounts in proptest::collection::vec(
                proptest::prop_oneof![
                    (0u64..1_000_000, 0u32..4).prop_map(|(m, s)| Decimal::from_i128_with_scale(i128::from(m), s)),
                    (0u128..(1u128 << 96), 0u32..29).prop_map(|(m, s)| Decimal::from_i128_with_scale(m as i128, s)),
                ],
                0..6,
            ),
            n in 1u32..50,
        ) {
            use proptest::prelude::*;
            let mut fast = RunningSum::ZERO;
            let mut slow = Some(Decimal::ZERO);
            for a in amounts {
                let ok = fast.add(a).is_some();
                slow = slow.and_then(|s| s.checked_add(a));
                prop_assert_eq!(ok, slow.is_some());
                if !ok {
                    return Ok(());
                }
                let f = fast.to_decimal().unwrap();
                prop_assert_eq!(f.serialize(), slow.unwrap().serialize());
            }
            let want = slow.unwrap().checked_div(Decimal::from(n));
            let got = fast.mean(n);
            prop_assert_eq!(got.map(|d| d.serialize()), want.map(|d| d.serialize()));
        }
    }

    #[test]
    fn summary_by_hand() {
        let tx = vec![
            ("b", at(5, 10), Decimal::from(7)),
            ("a", at(1, 9), Decimal::from(10)),
            ("a", at(3, 9), Decimal::from(4)),
            ("a", at(3, 20), Decimal::from(6)),
            ("a", at(6, 9), Decimal::from(20)),
            ("a", at(20, 9), Decimal::from(99)), // after the end
        ];
        let s = summarize(tx, &SummaryOptions::daily(at(11, 0))).unwrap();
        assert_eq!(s.excluded_transactions(), 1);
        let a = &s.customers()[0];
        // days 1, 3, 6 → x = 2, t_x = 5, T = 10 - 1 = 9,
        // monetary = ((4 + 6) + 20) / 2 = 15.
        assert_eq!(a.customer, "a");
        assert_eq!((a.frequency, a.recency, a.age), (2, 5, 9));
        assert_eq!(a.monetary_value, Decimal::from(15));
        let b = &s.customers()[1];
        assert_eq!((b.frequency, b.recency, b.age), (0, 0, 5));
        assert_eq!(b.monetary_value, Decimal::ZERO);
    }

    #[test]
    fn negative_amounts_are_rejected() {
        let tx = vec![("a", at(1, 0), Decimal::from(-1))];
        assert!(matches!(
            summarize(tx, &SummaryOptions::daily(at(5, 0))),
            Err(BtydError::NegativeAmount { index: 0, .. })
        ));
    }

    #[test]
    fn purchases_in_two_currencies_are_rejected() {
        use crate::domain::{Currency, CustomerId, Money, Purchase, PurchaseId, PurchaseKind};
        let p = |id, c| {
            Purchase::new(
                PurchaseId::from_u128(id),
                CustomerId::from_u128(1),
                at(1, 0),
                PurchaseKind::Sale,
                Money::new(Decimal::ONE, c),
            )
            .unwrap()
        };
        let purchases = [p(1, Currency::EUR), p(2, Currency::USD)];
        assert!(matches!(
            from_purchases(&purchases, &SummaryOptions::daily(at(5, 0))),
            Err(BtydError::MixedCurrencies { .. })
        ));
    }

    #[test]
    fn holdout_split_by_hand() {
        let tx = vec![
            ("a", at(1, 9), Decimal::from(1)),
            ("a", at(4, 9), Decimal::from(3)),
            ("a", at(12, 9), Decimal::from(5)),
            ("a", at(12, 19), Decimal::from(5)),
            ("a", at(14, 9), Decimal::from(2)),
            ("b", at(12, 9), Decimal::from(8)), // first buys in the holdout
            ("c", at(2, 9), Decimal::from(8)),
        ];
        let split = calibration_holdout(tx, &SummaryOptions::daily(at(16, 0)), at(10, 0)).unwrap();
        // Calibration days 1..=9, holdout days 10..=15: 6 periods.
        assert_eq!(split.holdout_periods, 6);
        assert_eq!(split.customers.len(), 2);
        let a = &split.customers[0];
        assert_eq!(
            (
                a.calibration.frequency,
                a.calibration.recency,
                a.calibration.age
            ),
            (1, 3, 8)
        );
        // Holdout periods: day 12 (5 + 5) and day 14 (2): mean 6.
        assert_eq!(a.holdout_frequency, 2);
        assert_eq!(a.holdout_monetary_value, Decimal::from(6));
        assert_eq!(split.customers[1].calibration.customer, "c");
        assert_eq!(split.customers[1].holdout_frequency, 0);
    }
}
