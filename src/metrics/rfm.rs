//! RFM: recency, frequency and monetary value as of a date, scored 1-5 by
//! quintile and mapped to named segments.
//!
//! Per customer with at least one sale before the as-of instant:
//!
//! - recency = whole days from the last sale to the as-of instant
//!   (`floor((as_of − last_sale) / 86 400 s)`), lower is better;
//! - frequency = number of sales;
//! - monetary = sales minus refunds (net revenue).
//!
//! Transactions at or after the as-of instant are ignored.
//!
//! # Scores and the tie rule
//!
//! With `n` scored customers, a value `v` whose *strictly worse* values
//! number `L` (the 0-based "min" rank: SQL `RANK() - 1`, polars
//! `rank("min") - 1`) scores `1 + floor(5 · L / n)`. For frequency and
//! monetary "worse" is smaller; for recency it is more days. Equal values
//! therefore always get equal scores (ties never split by an arbitrary
//! order), and with distinct values each score holds `floor(n/5)` or
//! `ceil(n/5)` customers. The scores are found with four order statistics
//! per measure (`O(n)`), not a sort.
//!
//! # Memory
//! Quintiles do not decompose; the accumulator keeps one compact value per
//! customer (last sale, sale count, net revenue: 32 bytes plus the id), and
//! partial accumulators merge by customer.
//!
//! # Segments
//! A [`SegmentTable`] is data: rules of score ranges to names, first match
//! wins. [`SegmentTable::standard`] is the usual 11-segment table on
//! recency and frequency scores; replace it with your own.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::activity::{RelationshipError, Transaction};
use super::dense::{
    At, Columnar, Rec, Shards, Split64, add, decimal, overflow, par_map, pow10, push_columnar,
    push_ledger, rescale, scale_of, threads_for, units_i64, units_or,
};
use super::ledger::Ledger;
use crate::domain::{Currency, CustomerId, Money};

mod accumulate;

const DAY_SECONDS: i64 = 86_400;

/// One customer's compact RFM state (32 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct RfmState {
    /// Net revenue in units of `10^-scale` of the accumulator.
    monetary: i128,
    /// Last sale, seconds since the epoch (`i64::MIN`: no sale yet).
    last: i64,
    frequency: u32,
    /// The largest decimal scale among the customer's amounts.
    scale: u8,
}

impl Default for RfmState {
    fn default() -> Self {
        Self {
            monetary: 0,
            last: i64::MIN,
            frequency: 0,
            scale: 0,
        }
    }
}

/// The serialised form of a customer's state (the money as a `Decimal`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct RfmStateRepr {
    last: i64,
    frequency: u32,
    monetary: Decimal,
}

/// The serialised form of [`RfmAccumulator`], also its equality.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct RfmRepr {
    currency: Currency,
    as_of: DateTime<Utc>,
    customers: HashMap<CustomerId, RfmStateRepr>,
}

/// An inclusive range of scores `lo..=hi` within `1..=5`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "(u8, u8)", into = "(u8, u8)")]
pub struct ScoreRange {
    lo: u8,
    hi: u8,
}

impl TryFrom<(u8, u8)> for ScoreRange {
    type Error = RelationshipError;
    fn try_from((lo, hi): (u8, u8)) -> Result<Self, Self::Error> {
        ScoreRange::new(lo, hi)
    }
}

impl From<ScoreRange> for (u8, u8) {
    fn from(r: ScoreRange) -> Self {
        (r.lo, r.hi)
    }
}

impl ScoreRange {
    /// `lo..=hi`.
    ///
    /// # Errors
    /// [`RelationshipError::OutOfRange`] unless `1 <= lo <= hi <= 5`.
    pub fn new(lo: u8, hi: u8) -> Result<Self, RelationshipError> {
        if (1..=5).contains(&lo) && (lo..=5).contains(&hi) {
            Ok(Self { lo, hi })
        } else {
            Err(RelationshipError::OutOfRange {
                parameter: "score range",
                value: format!("{lo}..={hi}"),
                range: "1 <= lo <= hi <= 5",
            })
        }
    }

    /// Every score, `1..=5`.
    pub const ANY: ScoreRange = ScoreRange { lo: 1, hi: 5 };

    const fn of(lo: u8, hi: u8) -> Self {
        Self { lo, hi }
    }

    /// Whether `score` is in the range.
    pub fn contains(&self, score: u8) -> bool {
        self.lo <= score && score <= self.hi
    }
}

/// A rule: customers whose scores are in all three ranges get `name`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SegmentRule {
    /// The segment name.
    pub name: String,
    /// Recency scores.
    pub recency: ScoreRange,
    /// Frequency scores.
    pub frequency: ScoreRange,
    /// Monetary scores.
    pub monetary: ScoreRange,
}

/// Segments as data: rules tried in order (first match wins) and the name
/// of customers no rule matches.
///
/// # Example
/// ```
/// use crmkit::metrics::rfm::{ScoreRange, SegmentRule, SegmentTable};
/// let table = SegmentTable::new(
///     vec![SegmentRule {
///         name: "VIP".into(),
///         recency: ScoreRange::new(4, 5)?,
///         frequency: ScoreRange::ANY,
///         monetary: ScoreRange::new(5, 5)?,
///     }],
///     "Everyone else",
/// );
/// assert_eq!(table.segment(5, 1, 5), "VIP");
/// assert_eq!(table.segment(3, 5, 5), "Everyone else");
/// assert_eq!(SegmentTable::standard().segment(5, 5, 1), "Champions");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SegmentTable {
    rules: Vec<SegmentRule>,
    fallback: String,
}

impl SegmentTable {
    /// A table of rules with a fallback name.
    pub fn new(rules: Vec<SegmentRule>, fallback: impl Into<String>) -> Self {
        Self {
            rules,
            fallback: fallback.into(),
        }
    }

    /// The standard table on recency (R) and frequency (F) scores, every
    /// (R, F) pair covered (monetary not used):
    ///
    /// | segment | R | F |
    /// |---|---|---|
    /// | Champions | 5 | 4-5 |
    /// | Loyal | 3-4 | 4-5 |
    /// | Can't lose them | 1-2 | 5 |
    /// | At risk | 1-2 | 3-4 |
    /// | Lost | 1 | 1 |
    /// | Hibernating | 1-2 | 1-2 |
    /// | About to sleep | 3 | 1-2 |
    /// | Need attention | 3 | 3 |
    /// | Promising | 4 | 1 |
    /// | New | 5 | 1 |
    /// | Potential loyalists | 4-5 | 2-3 |
    pub fn standard() -> Self {
        let rule = |name: &str, r: (u8, u8), f: (u8, u8)| SegmentRule {
            name: name.to_owned(),
            recency: ScoreRange::of(r.0, r.1),
            frequency: ScoreRange::of(f.0, f.1),
            monetary: ScoreRange::ANY,
        };
        Self::new(
            vec![
                rule("Champions", (5, 5), (4, 5)),
                rule("Loyal", (3, 4), (4, 5)),
                rule("Can't lose them", (1, 2), (5, 5)),
                rule("At risk", (1, 2), (3, 4)),
                rule("Lost", (1, 1), (1, 1)),
                rule("Hibernating", (1, 2), (1, 2)),
                rule("About to sleep", (3, 3), (1, 2)),
                rule("Need attention", (3, 3), (3, 3)),
                rule("Promising", (4, 4), (1, 1)),
                rule("New", (5, 5), (1, 1)),
                rule("Potential loyalists", (4, 5), (2, 3)),
            ],
            "Unclassified",
        )
    }

    /// The rules.
    pub fn rules(&self) -> &[SegmentRule] {
        &self.rules
    }

    fn index(&self, r: u8, f: u8, m: u8) -> usize {
        self.rules
            .iter()
            .position(|x| {
                x.recency.contains(r) && x.frequency.contains(f) && x.monetary.contains(m)
            })
            .unwrap_or(self.rules.len())
    }

    fn name(&self, index: usize) -> &str {
        self.rules
            .get(index)
            .map_or(self.fallback.as_str(), |r| r.name.as_str())
    }

    /// The segment of a score triple.
    pub fn segment(&self, r: u8, f: u8, m: u8) -> &str {
        self.name(self.index(r, f, m))
    }
}

impl Default for SegmentTable {
    fn default() -> Self {
        Self::standard()
    }
}

/// One customer's RFM values and scores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerRfm {
    /// The customer.
    pub customer: CustomerId,
    /// Whole days since the last sale.
    pub recency_days: i64,
    /// Number of sales.
    pub frequency: u32,
    /// Net revenue (sales minus refunds).
    pub monetary: Decimal,
    /// Recency score 1-5 (5: most recent).
    pub r: u8,
    /// Frequency score 1-5 (5: most sales).
    pub f: u8,
    /// Monetary score 1-5 (5: most revenue).
    pub m: u8,
    segment: u16,
}

/// RFM scores of every customer with a sale, and their segments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RfmScores {
    /// Per customer, in no particular order.
    pub customers: Vec<CustomerRfm>,
    /// The reporting currency of `monetary`.
    pub currency: Currency,
    /// The as-of instant.
    pub as_of: DateTime<Utc>,
    table: SegmentTable,
}

impl RfmScores {
    /// The segment name of a customer's scores.
    pub fn segment(&self, c: &CustomerRfm) -> &str {
        self.table.name(usize::from(c.segment))
    }

    /// The monetary value of a customer as money.
    pub fn monetary(&self, c: &CustomerRfm) -> Money {
        Money::new(c.monetary, self.currency)
    }

    /// Number of customers per segment name, in table order (fallback last).
    pub fn segment_sizes(&self) -> Vec<(&str, u64)> {
        let mut sizes = vec![0u64; self.table.rules.len() + 1];
        for c in &self.customers {
            if let Some(s) = sizes.get_mut(usize::from(c.segment)) {
                *s += 1;
            }
        }
        sizes
            .into_iter()
            .enumerate()
            .map(|(i, n)| (self.table.name(i), n))
            .collect()
    }
}

/// Accumulates transactions into per-customer RFM values.
///
/// Each customer gets a dense index on first sight and a 32-byte record
/// (last sale, sale count, net revenue in exact integer units of the
/// largest decimal scale seen), so [`push_batch`](RfmAccumulator::push_batch)
/// is one hash lookup and one flat update per row. Results are exactly
/// those of checked `Decimal` sums.
///
/// # Example
/// ```
/// use chrono::{Duration, TimeZone, Utc};
/// use crmkit::domain::{Currency, CustomerId, Money};
/// use crmkit::metrics::activity::Transaction;
/// use crmkit::metrics::rfm::{RfmAccumulator, SegmentTable};
/// use rust_decimal::Decimal;
/// let as_of = Utc.with_ymd_and_hms(2026, 7, 1, 0, 0, 0).unwrap();
/// let mut acc = RfmAccumulator::new(Currency::EUR, as_of);
/// for i in 0..10u32 {
///     let c = CustomerId::from_u128(u128::from(i));
///     let amount = Money::new(Decimal::from(10 * (i + 1)), Currency::EUR);
///     acc.push(&Transaction::sale(c, as_of - Duration::days(i64::from(i) * 7 + 1), amount, None)?)?;
/// }
/// let scores = acc.finish(&SegmentTable::standard())?;
/// let best = scores.customers.iter().find(|c| c.customer == CustomerId::from_u128(9)).unwrap();
/// assert_eq!((best.r, best.m), (1, 5)); // longest ago, spent most
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(into = "RfmRepr", try_from = "RfmRepr")]
pub struct RfmAccumulator {
    currency: Currency,
    as_of: DateTime<Utc>,
    /// Money units are `10^-scale`.
    scale: u32,
    customers: Shards<RfmState>,
}

/// A transaction as the RFM kernel needs it.
#[derive(Debug, Clone, Copy)]
struct RfmRow {
    secs: Split64,
    units: Split64,
    sale: bool,
    scale: u8,
}

impl PartialEq for RfmAccumulator {
    /// The same configuration and per-customer values (whatever the
    /// internal unit scale or customer order).
    fn eq(&self, other: &Self) -> bool {
        match (self.repr(), other.repr()) {
            (Ok(a), Ok(b)) => a == b,
            _ => false,
        }
    }
}

impl From<RfmAccumulator> for RfmRepr {
    fn from(acc: RfmAccumulator) -> Self {
        // A state always converts back: its units came from Decimals of at
        // most `scale` places. Should one not, it is left out.
        acc.repr().unwrap_or_else(|_| RfmRepr {
            currency: acc.currency,
            as_of: acc.as_of,
            customers: HashMap::new(),
        })
    }
}

impl TryFrom<RfmRepr> for RfmAccumulator {
    type Error = RelationshipError;
    fn try_from(r: RfmRepr) -> Result<Self, Self::Error> {
        let mut acc = RfmAccumulator::with_capacity(r.currency, r.as_of, r.customers.len());
        acc.raise_scale(r.customers.values().map(|s| s.monetary.scale()).max())?;
        for (c, s) in r.customers {
            let monetary = units_or(s.monetary, acc.scale)?;
            *acc.customers.entry(c)? = RfmState {
                monetary,
                last: s.last,
                frequency: s.frequency,
                scale: scale_of(s.monetary),
            };
        }
        Ok(acc)
    }
}

impl RfmAccumulator {
    /// An empty accumulator in `currency` as of `as_of`.
    pub fn new(currency: Currency, as_of: DateTime<Utc>) -> Self {
        Self {
            currency,
            as_of,
            scale: 0,
            customers: Shards::default(),
        }
    }

    /// An empty accumulator expecting about `customers` customers.
    pub fn with_capacity(currency: Currency, as_of: DateTime<Utc>, customers: usize) -> Self {
        let mut acc = Self::new(currency, as_of);
        acc.customers.reserve(customers);
        acc
    }

    fn repr(&self) -> Result<RfmRepr, RelationshipError> {
        let customers = self
            .customers
            .iter()
            .map(|(c, s)| {
                let monetary = decimal(s.monetary, self.scale, u32::from(s.scale))?;
                Ok((
                    *c,
                    RfmStateRepr {
                        last: s.last,
                        frequency: s.frequency,
                        monetary,
                    },
                ))
            })
            .collect::<Result<_, RelationshipError>>()?;
        Ok(RfmRepr {
            currency: self.currency,
            as_of: self.as_of,
            customers,
        })
    }

    /// Raises the unit scale to `scale` (if higher), rescaling every state.
    fn raise_scale(&mut self, scale: Option<u32>) -> Result<(), RelationshipError> {
        let Some(scale) = scale.filter(|&s| s > self.scale) else {
            return Ok(());
        };
        let k = scale - self.scale;
        // Check every state first so a failure changes nothing.
        let p = pow10(k).ok_or(overflow("amount in integer units"))?;
        if self
            .customers
            .states()
            .any(|s| s.monetary.checked_mul(p).is_none())
        {
            return Err(overflow("amount in integer units"));
        }
        for s in self.customers.states_mut() {
            rescale(&mut s.monetary, k)?;
        }
        self.scale = scale;
        Ok(())
    }

    /// Adds one transaction (ignored when at or after the as-of instant).
    ///
    /// # Errors
    /// [`RelationshipError::CurrencyMismatch`]; overflow.
    pub fn push(&mut self, t: &Transaction) -> Result<(), RelationshipError> {
        self.push_batch(std::slice::from_ref(t))
    }

    /// Adds a batch of transactions: the same result as pushing each.
    ///
    /// Large batches go through the columnar kernel: rows become compact
    /// 36-byte records (customer, seconds, amount in `i64` units)
    /// partitioned by customer shard, and the shards are aggregated over
    /// the available cores. The records of up to 16 Mi rows (about 0.6 GB)
    /// are buffered at a time. Into an empty accumulator the rows are read
    /// once (the currency and scale checks are part of that pass); into
    /// one with data, they are checked first.
    ///
    /// # Errors
    /// As [`RfmAccumulator::push`]; a currency mismatch is reported before
    /// anything is added.
    pub fn push_batch(&mut self, rows: &[Transaction]) -> Result<(), RelationshipError> {
        push_columnar(self, rows)
    }

    /// Adds every transaction of `ledger`: the same result as
    /// [`RfmAccumulator::push_batch`] of its transactions, without re-reading and
    /// grouping them (see [`crate::metrics::ledger`]). Into an empty
    /// accumulator the state is built from the ledger directly; into one
    /// with data, it is built apart and merged.
    ///
    /// # Errors
    /// [`RelationshipError::CurrencyMismatch`] for a ledger in another
    /// currency (nothing is added); overflow.
    pub fn push_ledger(&mut self, ledger: &Ledger) -> Result<(), RelationshipError> {
        push_ledger(self, ledger, |acc| {
            let as_of = At::of(acc.as_of);
            let customers = Shards::from_ledger(
                ledger,
                |r| {
                    (At::new(r.secs, r.nanos) < as_of).then_some(RfmRow {
                        secs: Split64::new(r.secs),
                        units: Split64::new(r.units),
                        sale: r.sale,
                        scale: r.scale,
                    })
                },
                |s, _, _, r, _| apply_row(s, r),
            )?;
            Ok(RfmAccumulator {
                currency: acc.currency,
                as_of: acc.as_of,
                scale: ledger.scale(),
                customers,
            })
        })
    }

    /// Merges another accumulator (customers may be in both).
    ///
    /// # Errors
    /// [`RelationshipError::ConfigMismatch`] for another currency or as-of
    /// instant; overflow.
    pub fn merge(&mut self, other: &RfmAccumulator) -> Result<(), RelationshipError> {
        if self.currency != other.currency {
            return Err(RelationshipError::ConfigMismatch { what: "currency" });
        }
        if self.as_of != other.as_of {
            return Err(RelationshipError::ConfigMismatch {
                what: "as-of instant",
            });
        }
        self.raise_scale(Some(other.scale))?;
        let k = self.scale - other.scale;
        for (c, o) in other.customers.iter() {
            let mut monetary = o.monetary;
            rescale(&mut monetary, k)?;
            let s = self.customers.entry(*c)?;
            s.last = s.last.max(o.last);
            s.frequency = s
                .frequency
                .checked_add(o.frequency)
                .ok_or(overflow("rfm frequency"))?;
            add(&mut s.monetary, monetary, "rfm monetary")?;
            s.scale = s.scale.max(o.scale);
        }
        Ok(())
    }

    /// Scores every customer with at least one sale and maps them to
    /// segments (customers with only refunds are left out).
    ///
    /// Memory: the scored customers' values and one copy of each measure
    /// for the order statistics.
    ///
    /// # Errors
    /// [`RelationshipError::NoData`] when no customer has a sale; overflow
    /// when a net revenue does not fit a `Decimal`.
    pub fn finish(&self, table: &SegmentTable) -> Result<RfmScores, RelationshipError> {
        let as_of = self.as_of.timestamp();
        let days = |s: &RfmState| as_of.saturating_sub(s.last).div_euclid(DAY_SECONDS);
        let live: Vec<(&CustomerId, &RfmState)> = self
            .customers
            .iter()
            .filter(|(_, s)| s.frequency > 0)
            .collect();
        if live.is_empty() {
            return Err(RelationshipError::NoData {
                what: "no customer with a sale before the as-of instant",
            });
        }
        // Recency: fewer days is better, so score the negated days.
        let live = &live;
        let recency = || Thresholds::of(live.iter().map(|(_, s)| -days(s)).collect());
        let frequency = || Thresholds::of(live.iter().map(|(_, s)| s.frequency).collect());
        let monetary = || Thresholds::of(live.iter().map(|(_, s)| s.monetary).collect());
        let (r, f, m) = if threads_for(live.len()) < 2 {
            (recency(), frequency(), monetary())
        } else {
            // The three order statistics are independent.
            std::thread::scope(|scope| {
                let f = scope.spawn(frequency);
                let m = scope.spawn(monetary);
                let r = recency();
                match (f.join(), m.join()) {
                    (Ok(f), Ok(m)) => Ok((r, f, m)),
                    _ => Err(overflow("rfm worker")),
                }
            })?
        };
        // Segment lookup: precompute all 125 triples.
        let mut lookup = [0u16; 125];
        for (i, slot) in lookup.iter_mut().enumerate() {
            let (ri, fi, mi) = (i / 25, (i / 5) % 5, i % 5);
            // ri, fi, mi < 5, so the casts are exact.
            let idx = table.index(ri as u8 + 1, fi as u8 + 1, mi as u8 + 1);
            *slot = u16::try_from(idx).unwrap_or(u16::MAX);
        }
        let customers = par_map(live, |&(c, s)| {
            let recency_days = days(s);
            let (rs, fs, ms) = (
                r.score(&-recency_days),
                f.score(&s.frequency),
                m.score(&s.monetary),
            );
            let i = usize::from(rs - 1) * 25 + usize::from(fs - 1) * 5 + usize::from(ms - 1);
            Ok(CustomerRfm {
                customer: *c,
                recency_days,
                frequency: s.frequency,
                monetary: decimal(s.monetary, self.scale, u32::from(s.scale))?,
                r: rs,
                f: fs,
                m: ms,
                segment: lookup.get(i).copied().unwrap_or(u16::MAX),
            })
        })?;
        Ok(RfmScores {
            customers,
            currency: self.currency,
            as_of: self.as_of,
            table: table.clone(),
        })
    }
}

impl Columnar for RfmAccumulator {
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
        RfmAccumulator::raise_scale(self, scale)
    }

    fn push_fast(&mut self, rows: &[Transaction]) -> Result<Option<usize>, RelationshipError> {
        let (as_of, scale, currency) = (self.as_of, self.scale, self.currency);
        self.customers.push_partitioned(
            rows,
            |t| {
                let amount = t.signed_amount();
                if amount.currency() != currency {
                    return Rec::Stop;
                }
                let at = t.at();
                if at >= as_of {
                    return Rec::Skip;
                }
                let amount = amount.amount();
                let Some(units) = units_i64(amount, scale) else {
                    return Rec::Stop;
                };
                let row = RfmRow {
                    secs: Split64::new(at.timestamp()),
                    units: Split64::new(units),
                    sale: t.is_sale(),
                    scale: scale_of(amount),
                };
                Rec::Keep(t.customer(), row)
            },
            |s, _, _, r, _| apply_row(s, r),
        )
    }

    fn merge_from(&mut self, other: &Self) -> Result<(), RelationshipError> {
        self.merge(other)
    }

    fn push_slow(&mut self, rows: &[Transaction]) -> Result<(), RelationshipError> {
        let (as_of, scale) = (self.as_of, self.scale);
        for t in rows.iter().filter(|t| t.at() < as_of) {
            apply(self.customers.entry(t.customer())?, t, scale)?;
        }
        Ok(())
    }
}

/// Adds one compact row (before the as-of instant) to a customer's state.
#[inline]
fn apply_row(s: &mut RfmState, r: &RfmRow) -> Result<(), RelationshipError> {
    add(&mut s.monetary, i128::from(r.units.get()), "rfm monetary")?;
    s.scale = s.scale.max(r.scale);
    if r.sale {
        s.frequency = s
            .frequency
            .checked_add(1)
            .ok_or(overflow("rfm frequency"))?;
        s.last = s.last.max(r.secs.get());
    }
    Ok(())
}

/// Adds one transaction (before the as-of instant) to a customer's state;
/// units are `10^-scale`.
#[inline]
fn apply(s: &mut RfmState, t: &Transaction, scale: u32) -> Result<(), RelationshipError> {
    let amount = t.signed_amount().amount();
    add(&mut s.monetary, units_or(amount, scale)?, "rfm monetary")?;
    s.scale = s.scale.max(scale_of(amount));
    if t.is_sale() {
        s.frequency = s
            .frequency
            .checked_add(1)
            .ok_or(overflow("rfm frequency"))?;
        s.last = s.last.max(t.at().timestamp());
    }
    Ok(())
}

/// The four quintile thresholds of one measure.
///
/// `t[q]` is the value at 0-based sorted index `ceil((q + 1) · n / 5) − 1`;
/// a value scores `1 + #{q : v > t[q]}`, which equals `1 + floor(5 · L / n)`
/// with `L` the number of values strictly below `v`:
/// `floor(5L/n) ≥ q ⟺ L ≥ ceil(q·n/5) ⟺ v > sorted[ceil(q·n/5) − 1]`.
struct Thresholds<T> {
    t: Vec<T>,
}

impl<T: Ord + Copy> Thresholds<T> {
    fn of(mut values: Vec<T>) -> Self {
        let n = values.len();
        let mut t = Vec::with_capacity(4);
        let mut lo = 0usize;
        for q in 1..=4usize {
            let k = (q * n).div_ceil(5);
            let Some(idx) = k.checked_sub(1) else {
                continue;
            };
            if idx < lo || idx >= n {
                // Small n: the same index as the previous quintile.
                if let Some(prev) = t.last().copied() {
                    t.push(prev);
                }
                continue;
            }
            if let Some(rest) = values.get_mut(lo..) {
                let (_, nth, _) = rest.select_nth_unstable(idx - lo);
                t.push(*nth);
            }
            lo = idx;
        }
        Self { t }
    }

    fn score(&self, v: &T) -> u8 {
        // At most 4 thresholds, so the count fits in u8.
        1 + self.t.iter().filter(|t| v > t).count() as u8
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone};
    use proptest::prelude::*;

    #[test]
    fn buffered_records_are_compact() {
        // Id, seconds, units, kind, scale: 16 + 8 + 8 + 1 + 1, 4-aligned.
        assert_eq!(std::mem::size_of::<(CustomerId, RfmRow)>(), 36);
    }

    fn eur(v: i64) -> Money {
        Money::new(Decimal::from(v), Currency::EUR)
    }
    fn as_of() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 7, 1, 0, 0, 0).unwrap()
    }

    /// Reference scoring by definition: 1 + floor(5 L / n).
    fn by_definition<T: Ord>(values: &[T], v: &T) -> u8 {
        let l = values.iter().filter(|x| *x < v).count();
        (1 + 5 * l / values.len()) as u8
    }

    #[test]
    fn hand_computed_scores_with_ties() {
        // Frequencies of 6 customers: 1 1 1 2 3 8.
        // L (values strictly below): 0 0 0 3 4 5; n = 6.
        // score = 1 + floor(5L/6): 1 1 1 1+floor(15/6)=3 1+floor(20/6)=4 1+floor(25/6)=5.
        let t = Thresholds::of(vec![3u32, 1, 8, 1, 2, 1]);
        let scores: Vec<u8> = [1u32, 1, 1, 2, 3, 8].iter().map(|v| t.score(v)).collect();
        assert_eq!(scores, vec![1, 1, 1, 3, 4, 5]);
        // Ten distinct values: two per quintile.
        let t = Thresholds::of((0..10i64).collect());
        let scores: Vec<u8> = (0..10i64).map(|v| t.score(&v)).collect();
        assert_eq!(scores, vec![1, 1, 2, 2, 3, 3, 4, 4, 5, 5]);
        // One value: L = 0 → score 1.
        assert_eq!(Thresholds::of(vec![7i64]).score(&7), 1);
    }

    #[test]
    fn recency_days_frequency_monetary() {
        let mut acc = RfmAccumulator::new(Currency::EUR, as_of());
        let c = CustomerId::from_u128(1);
        // Last sale 36 hours before as-of → recency floor(1.5) = 1 day.
        acc.push(&Transaction::sale(c, as_of() - Duration::hours(36), eur(30), None).unwrap())
            .unwrap();
        acc.push(&Transaction::sale(c, as_of() - Duration::days(40), eur(20), None).unwrap())
            .unwrap();
        acc.push(&Transaction::refund(c, as_of() - Duration::days(2), eur(5), None).unwrap())
            .unwrap();
        // After as-of: ignored.
        acc.push(&Transaction::sale(c, as_of(), eur(1000), None).unwrap())
            .unwrap();
        // Refund-only customer: left out.
        acc.push(
            &Transaction::refund(
                CustomerId::from_u128(2),
                as_of() - Duration::days(1),
                eur(5),
                None,
            )
            .unwrap(),
        )
        .unwrap();
        let s = acc.finish(&SegmentTable::standard()).unwrap();
        assert_eq!(s.customers.len(), 1);
        let x = s.customers[0];
        // monetary = 30 + 20 - 5 = 45, frequency 2.
        assert_eq!(
            (x.recency_days, x.frequency, x.monetary),
            (1, 2, Decimal::from(45))
        );
        // One customer: every score 1 → (R1, F1) = Lost.
        assert_eq!((x.r, x.f, x.m), (1, 1, 1));
        assert_eq!(s.segment(&x), "Lost");
        assert!(
            RfmAccumulator::new(Currency::EUR, as_of())
                .finish(&SegmentTable::standard())
                .is_err()
        );
    }

    #[test]
    fn standard_table_covers_every_pair() {
        let t = SegmentTable::standard();
        for r in 1..=5 {
            for f in 1..=5 {
                assert_ne!(t.segment(r, f, 3), "Unclassified", "R{r} F{f}");
            }
        }
        assert_eq!(t.segment(1, 5, 1), "Can't lose them");
        assert_eq!(t.segment(2, 1, 1), "Hibernating");
        assert!(ScoreRange::new(0, 3).is_err());
        assert!(ScoreRange::new(4, 3).is_err());
        assert!(serde_json::from_str::<ScoreRange>("[2,6]").is_err());
    }

    proptest! {
        #[test]
        fn thresholds_match_the_definition(values in prop::collection::vec(-20i64..20, 1..80)) {
            let t = Thresholds::of(values.clone());
            for v in &values {
                prop_assert_eq!(t.score(v), by_definition(&values, v));
            }
        }

        #[test]
        fn distinct_values_give_quintiles_within_one(n in 1usize..200, seed in any::<u64>()) {
            // Distinct values in a shuffled order.
            let values: Vec<i64> = (0..n as i64).map(|i| (i * 7919 + seed as i64 % 1000) % (n as i64 * 7919)).collect();
            let t = Thresholds::of(values.clone());
            let mut sizes = [0usize; 5];
            for v in &values {
                let s = t.score(v);
                prop_assert!((1..=5).contains(&s));
                sizes[usize::from(s - 1)] += 1;
            }
            let max = sizes.iter().max().unwrap();
            let min = sizes.iter().min().unwrap();
            prop_assert!(max - min <= 1, "{sizes:?}");
        }

        #[test]
        fn merge_and_order_independence(
            rows in prop::collection::vec((0u128..12, 1i64..300, 0i64..500, any::<bool>()), 1..80),
            split in 0usize..80,
        ) {
            let ts: Vec<Transaction> = rows.iter().map(|&(c, d, a, sale)| {
                let (c, at) = (CustomerId::from_u128(c), as_of() - Duration::days(d));
                if sale { Transaction::sale(c, at, eur(a), None).unwrap() } else { Transaction::refund(c, at, eur(a), None).unwrap() }
            }).collect();
            let mut one = RfmAccumulator::new(Currency::EUR, as_of());
            for t in &ts { one.push(t).unwrap(); }
            let split = split.min(ts.len());
            let mut a = RfmAccumulator::new(Currency::EUR, as_of());
            let mut b = RfmAccumulator::new(Currency::EUR, as_of());
            for t in ts[..split].iter().rev() { a.push(t).unwrap(); }
            for t in &ts[split..] { b.push(t).unwrap(); }
            a.merge(&b).unwrap();
            prop_assert_eq!(&a, &one);
            let table = SegmentTable::standard();
            if let (Ok(x), Ok(y)) = (a.finish(&table), one.finish(&table)) {
                let mut x = x.customers; let mut y = y.customers;
                x.sort_by_key(|c| c.customer); y.sort_by_key(|c| c.customer);
                prop_assert_eq!(&x, &y);
                for c in &x {
                    prop_assert!((1..=5).contains(&c.r) && (1..=5).contains(&c.f) && (1..=5).contains(&c.m));
                }
            }
        }
    }
}
