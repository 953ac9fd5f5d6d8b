//! A purchase ledger grouped by customer: built once, analysed many times.
//!
//! [`RfmAccumulator::push_batch`], [`ValueAccumulator::push_batch`] and
//! [`PurchaseCohortAccumulator::push_batch`] each take a slice of
//! [`Transaction`]s and each do the same expensive work first: read every
//! 72-byte row, convert its `Decimal` and `DateTime`, and group the rows by
//! customer (a partition pass and a hash lookup per row). A [`Ledger`] does
//! that work once: it holds the transactions of one currency as columns
//! (seconds, nanoseconds, amount and margin in exact `i64` units of one
//! decimal scale, sale or refund, each amount's own scale), grouped by
//! customer, and the accumulators' `push_ledger` methods read a customer's
//! rows as one contiguous run with no hash lookup at all: an accumulator
//! filled from a ledger shares the ledger's customer index (it copies it
//! when it first learns a customer the ledger does not have).
//!
//! On workload W2 (1 M customers, 10 M transactions, 2 cores; see
//! BENCHMARKS.md) RFM, historical CLV and monthly cohorts take 0.40 s in
//! all on a ledger, against 0.9-1.1 s from the slice, and building the
//! ledger takes 0.3-0.37 s: it pays off from the second analysis.
//!
//! `push_ledger` gives exactly what `push_batch` of the same transactions
//! gives (the property tests check this for every accumulator), so the
//! ledger is an optimisation for analysing one set of transactions several
//! ways, not another definition.
//!
//! Memory: 32 bytes per transaction and about 45 per customer (id, index
//! entry, row range), against 72 per [`Transaction`]; building it also
//! holds each row as a 48-byte record and a 4-byte index until the columns
//! are filled. An accumulator sharing the ledger's index keeps it alive.
//!
//! Limits: amounts and margins must be `i64` in units of the largest
//! decimal scale among them (at two decimal places, up to
//! 92,233,720,368,547,758.07); larger amounts are a typed
//! [`RelationshipError::Overflow`] at construction, and go through
//! `push_batch`, which handles any `Decimal`.
//!
//! # Example
//! ```
//! use chrono::{DateTime, Utc};
//! use crmkit::domain::{Currency, CustomerId, Money};
//! use crmkit::metrics::activity::Transaction;
//! use crmkit::metrics::ledger::Ledger;
//! use crmkit::metrics::rfm::{RfmAccumulator, SegmentTable};
//! use crmkit::metrics::value::ValueAccumulator;
//! use rust_decimal::Decimal;
//!
//! let at = |s: &str| s.parse::<DateTime<Utc>>();
//! let eur = |v: i64| Money::new(Decimal::new(v, 2), Currency::EUR);
//! let (ann, bob) = (CustomerId::from_u128(1), CustomerId::from_u128(2));
//! let rows = vec![
//!     Transaction::sale(ann, at("2026-01-05T10:00:00Z")?, eur(4_000), None)?,
//!     Transaction::sale(bob, at("2026-02-01T10:00:00Z")?, eur(1_250), None)?,
//!     Transaction::refund(ann, at("2026-02-03T10:00:00Z")?, eur(1_000), None)?,
//! ];
//! let ledger = Ledger::from_transactions(Currency::EUR, &rows)?;
//! assert_eq!((ledger.len(), ledger.customer_count()), (3, 2));
//!
//! // Two analyses of the same ledger.
//! let mut value = ValueAccumulator::new(Currency::EUR);
//! value.push_ledger(&ledger)?;
//! let mut rfm = RfmAccumulator::new(Currency::EUR, at("2026-03-01T00:00:00Z")?);
//! rfm.push_ledger(&ledger)?;
//!
//! // The same as pushing the transactions themselves.
//! let mut direct = ValueAccumulator::new(Currency::EUR);
//! direct.push_batch(&rows)?;
//! assert_eq!(value, direct);
//! let summary = value.finish();
//! let a = summary.customers.iter().find(|c| c.customer == ann).ok_or("no ann")?;
//! assert_eq!(a.revenue, eur(3_000));
//! assert_eq!(rfm.finish(&SegmentTable::standard())?.customers.len(), 2);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! [`RfmAccumulator::push_batch`]: crate::metrics::rfm::RfmAccumulator::push_batch
//! [`ValueAccumulator::push_batch`]: crate::metrics::value::ValueAccumulator::push_batch
//! [`PurchaseCohortAccumulator::push_batch`]: crate::metrics::cohort::PurchaseCohortAccumulator::push_batch

use chrono::DateTime;
use rust_decimal::Decimal;

use super::activity::{RelationshipError, Transaction};
use std::collections::hash_map::Entry;
use std::sync::Arc;

use super::dense::{
    IndexMap, Parts, Rec, SCALE_PREFIX, SHARDS, Split64, overflow, partition_all, pow10, scale_of,
    scan_rows, threads_for, units_i64,
};
use crate::domain::{Currency, CustomerId, Money};

/// `meta` bit: the row is a sale (else a refund).
const SALE: u32 = 1;
/// `meta` margin scale of a row without a margin.
pub(crate) const NO_MARGIN: u8 = u8::MAX;

/// Transactions in one currency, as columns grouped by customer.
///
/// Built by [`Ledger::from_transactions`]; read by `push_ledger` of
/// [`RfmAccumulator`], [`ValueAccumulator`] and
/// [`PurchaseCohortAccumulator`], with the same result as their
/// `push_batch` of the transactions (see the [module docs](self)).
///
/// Its `Debug` output is a summary (currency and sizes), not the rows.
///
/// [`RfmAccumulator`]: crate::metrics::rfm::RfmAccumulator
/// [`ValueAccumulator`]: crate::metrics::value::ValueAccumulator
/// [`PurchaseCohortAccumulator`]: crate::metrics::cohort::PurchaseCohortAccumulator
#[derive(Clone)]
pub struct Ledger {
    currency: Currency,
    /// Amounts and margins are `i64` units of `10^-scale`.
    scale: u32,
    rows: usize,
    shards: Vec<LedgerShard>,
}

impl std::fmt::Debug for Ledger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ledger")
            .field("currency", &self.currency)
            .field("rows", &self.rows)
            .field("customers", &self.customer_count())
            .finish_non_exhaustive()
    }
}

/// The customers of one kernel shard (the same shard as the accumulators
/// give them) and their rows, in columns: customer `i`'s rows are
/// `ends[i - 1]..ends[i]`, in input order.
#[derive(Debug, Clone, Default)]
pub(crate) struct LedgerShard {
    /// Customer to position in `ids`, as the accumulators' shard index
    /// (shared with the accumulators filled from the ledger).
    index: Arc<IndexMap>,
    ids: Vec<CustomerId>,
    ends: Vec<u32>,
    secs: Vec<i64>,
    nanos: Vec<u32>,
    units: Vec<i64>,
    margins: Vec<i64>,
    /// [`SALE`] bit, the amount's decimal scale in bits 8..16 and the
    /// margin's in bits 16..24 ([`NO_MARGIN`]: none).
    meta: Vec<u32>,
}

/// One ledger row as the kernels read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LedgerRow {
    pub(crate) secs: i64,
    pub(crate) nanos: u32,
    /// The signed amount in units of the ledger's scale.
    pub(crate) units: i64,
    /// The signed margin in units (0 without one).
    pub(crate) margin: i64,
    pub(crate) sale: bool,
    /// The amount's own decimal scale.
    pub(crate) scale: u8,
    /// The margin's own decimal scale ([`NO_MARGIN`]: none).
    pub(crate) margin_scale: u8,
}

impl LedgerShard {
    /// Customer to position in [`LedgerShard::ids`].
    pub(crate) fn index(&self) -> &Arc<IndexMap> {
        &self.index
    }

    /// The shard's customers, in first-seen order.
    pub(crate) fn ids(&self) -> &[CustomerId] {
        &self.ids
    }

    /// Number of rows.
    pub(crate) fn len(&self) -> usize {
        self.secs.len()
    }

    /// The rows of customer `i` (by position in [`LedgerShard::ids`]), in
    /// input order.
    pub(crate) fn rows(&self, i: usize) -> impl Iterator<Item = LedgerRow> + '_ {
        let start = match i.checked_sub(1) {
            Some(p) => self.ends.get(p).map_or(0, |&e| e as usize),
            None => 0,
        };
        let end = self.ends.get(i).map_or(start, |&e| e as usize);
        let r = start..end.max(start);
        let secs = self.secs.get(r.clone()).unwrap_or_default();
        let nanos = self.nanos.get(r.clone()).unwrap_or_default();
        let units = self.units.get(r.clone()).unwrap_or_default();
        let margins = self.margins.get(r.clone()).unwrap_or_default();
        let meta = self.meta.get(r).unwrap_or_default();
        secs.iter()
            .zip(nanos)
            .zip(units)
            .zip(margins)
            .zip(meta)
            .map(|((((&secs, &nanos), &units), &margin), &meta)| LedgerRow {
                secs,
                nanos,
                units,
                margin,
                sale: meta & SALE != 0,
                // Bytes of `meta`, by construction.
                scale: (meta >> 8) as u8,
                margin_scale: (meta >> 16) as u8,
            })
    }
}

/// A row as the build buffers it (the customer aside).
#[derive(Debug, Clone, Copy)]
struct BuildRow {
    secs: Split64,
    units: Split64,
    margin: Split64,
    nanos: u32,
    meta: u32,
}

impl Ledger {
    /// Groups `rows` by customer into a ledger in `currency`.
    ///
    /// Over the available cores, the rows are read once: the first 4,096
    /// set the decimal scale, and the currency and scale of every row are
    /// checked in the pass that partitions them by customer shard; should a
    /// later row have more decimal places, every row is scanned and
    /// partitioned again. Each shard's records are then grouped by customer
    /// (first-seen order, rows in input order).
    ///
    /// # Errors
    /// - [`RelationshipError::CurrencyMismatch`] for a row in another
    ///   currency;
    /// - [`RelationshipError::Overflow`] when an amount or margin is not an
    ///   `i64` in units of the largest decimal scale among them, or a
    ///   shard would hold more than `u32::MAX` rows.
    pub fn from_transactions(
        currency: Currency,
        rows: &[Transaction],
    ) -> Result<Ledger, RelationshipError> {
        // The unit scale of the first rows: a later row with more decimal
        // places (or in another currency, or beyond `i64` units) stops the
        // pass, and then every row is scanned and partitioned again. The
        // rows are read once when the first rows set the scale, as they
        // usually do.
        let head = rows.get(..SCALE_PREFIX).unwrap_or(rows);
        let mut scale = scan_rows(head, currency, true)?.max_scale();
        let parts = match partition_all(rows, |t| build_row(t, currency, scale)) {
            Some(parts) => parts,
            None => {
                let scan = scan_rows(rows, currency, true)?;
                scale = scan.max_scale();
                if !scan.fits_i64(scale) {
                    return Err(overflow("ledger amount in i64 units"));
                }
                partition_all(rows, |t| build_row(t, currency, scale))
                    .ok_or(overflow("ledger amount in i64 units"))?
            }
        };
        // Each shard's records grouped by customer, shard ranges over the
        // cores.
        let threads = threads_for(rows.len());
        let per = SHARDS.div_ceil(threads);
        let parts = &parts;
        let group_range = move |range: std::ops::Range<usize>| {
            range
                .map(|s| group(s, parts))
                .collect::<Result<Vec<_>, RelationshipError>>()
        };
        let built: Vec<LedgerShard> = if threads < 2 {
            group_range(0..SHARDS)?
        } else {
            std::thread::scope(|scope| {
                let handles: Vec<_> = (0..SHARDS)
                    .step_by(per)
                    .map(|a| scope.spawn(move || group_range(a..(a + per).min(SHARDS))))
                    .collect();
                let mut out = Vec::with_capacity(SHARDS);
                for h in handles {
                    out.extend(h.join().unwrap_or(Err(overflow("ledger worker")))?);
                }
                Ok::<_, RelationshipError>(out)
            })?
        };
        Ok(Ledger {
            currency,
            scale,
            rows: rows.len(),
            shards: built,
        })
    }

    /// The currency of every amount.
    pub fn currency(&self) -> Currency {
        self.currency
    }

    /// Number of transactions.
    pub fn len(&self) -> usize {
        self.rows
    }

    /// Whether the ledger holds no transaction.
    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// Number of distinct customers.
    pub fn customer_count(&self) -> usize {
        self.shards.iter().map(|s| s.ids.len()).sum()
    }

    /// The transactions back, customer by customer (each customer's in
    /// input order): equal to the rows the ledger was built from, up to
    /// order.
    ///
    /// # Example
    /// ```
    /// use chrono::{DateTime, Utc};
    /// use crmkit::domain::{Currency, CustomerId, Money};
    /// use crmkit::metrics::activity::Transaction;
    /// use crmkit::metrics::ledger::Ledger;
    /// use rust_decimal::Decimal;
    /// let at: DateTime<Utc> = "2026-01-05T10:00:00Z".parse()?;
    /// let sale = Transaction::sale(CustomerId::from_u128(1), at,
    ///     Money::new(Decimal::new(1999, 2), Currency::EUR), None)?;
    /// let ledger = Ledger::from_transactions(Currency::EUR, &[sale])?;
    /// assert_eq!(ledger.transactions().collect::<Vec<_>>(), vec![sale]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn transactions(&self) -> impl Iterator<Item = Transaction> + '_ {
        self.shards.iter().flat_map(move |s| {
            s.ids
                .iter()
                .enumerate()
                .flat_map(move |(i, &c)| s.rows(i).filter_map(move |r| self.transaction(c, &r)))
        })
    }

    /// Row `r` of customer `c` as a transaction (`None` cannot happen for
    /// rows the ledger built).
    fn transaction(&self, c: CustomerId, r: &LedgerRow) -> Option<Transaction> {
        let at = DateTime::from_timestamp(r.secs, r.nanos)?;
        let money = |units: i64, scale: u8| {
            let k = self.scale.checked_sub(u32::from(scale))?;
            let p = i64::try_from(pow10(k)?).ok()?;
            let v = Decimal::try_from_i128_with_scale(i128::from(units / p), u32::from(scale));
            Some(Money::new(v.ok()?, self.currency))
        };
        let amount = money(r.units, r.scale)?;
        let margin = if r.margin_scale == NO_MARGIN {
            None
        } else {
            Some(money(r.margin, r.margin_scale)?)
        };
        if r.sale {
            Transaction::sale(c, at, amount, margin).ok()
        } else {
            // `refund` stores the margin negated: give it back as given.
            let margin = margin.map(|m| Money::new(-m.amount(), m.currency()));
            Transaction::refund(c, at, amount, margin).ok()
        }
    }

    /// The unit scale: amounts are `i64` units of `10^-scale`.
    pub(crate) fn scale(&self) -> u32 {
        self.scale
    }

    /// The shards, in kernel shard order.
    pub(crate) fn shards(&self) -> &[LedgerShard] {
        &self.shards
    }
}

/// A row as the build buffers it, in `i64` units of `10^-scale`;
/// [`Rec::Stop`] for a row in another currency or with an amount or margin
/// that is not an `i64` in those units.
#[inline]
fn build_row(t: &Transaction, currency: Currency, scale: u32) -> Rec<BuildRow> {
    let amount = t.signed_amount();
    if amount.currency() != currency {
        return Rec::Stop;
    }
    let amount = amount.amount();
    let Some(units) = units_i64(amount, scale) else {
        return Rec::Stop;
    };
    let (margin, margin_scale) = match t.margin() {
        Some(m) => match units_i64(m.amount(), scale) {
            Some(v) => (v, scale_of(m.amount())),
            None => return Rec::Stop,
        },
        None => (0, NO_MARGIN),
    };
    let at = t.at();
    let meta =
        u32::from(t.is_sale()) | u32::from(scale_of(amount)) << 8 | u32::from(margin_scale) << 16;
    Rec::Keep(
        t.customer(),
        BuildRow {
            secs: Split64::new(at.timestamp()),
            units: Split64::new(units),
            margin: Split64::new(margin),
            nanos: at.timestamp_subsec_nanos(),
            meta,
        },
    )
}

/// The records of shard `s` (from every part, in input order) grouped by
/// customer: an index in first-seen order, then a stable counting sort.
fn group(s: usize, parts: &Parts<BuildRow>) -> Result<LedgerShard, RelationshipError> {
    let records = || {
        parts
            .iter()
            .flat_map(move |p| p.get(s).map_or(&[][..], Vec::as_slice))
    };
    let len: usize = parts.iter().map(|p| p.get(s).map_or(0, Vec::len)).sum();
    let too_many = || overflow("ledger rows of a shard");
    if u32::try_from(len).is_err() {
        return Err(too_many());
    }
    let mut index = IndexMap::default();
    let mut ids = Vec::new();
    // Rows per customer, then where each customer's next row goes.
    let mut next: Vec<u32> = Vec::new();
    let mut slots: Vec<u32> = Vec::with_capacity(len);
    for (c, _) in records() {
        let i = match index.entry(*c) {
            Entry::Occupied(e) => *e.get(),
            Entry::Vacant(v) => {
                let i = u32::try_from(ids.len()).map_err(|_| too_many())?;
                let _ = v.insert(i);
                ids.push(*c);
                next.push(0);
                i
            }
        };
        if let Some(n) = next.get_mut(i as usize) {
            *n += 1;
        }
        slots.push(i);
    }
    // Counts to starts (the total is `len`, which fits a `u32`).
    let mut at = 0u32;
    for n in &mut next {
        (*n, at) = (at, at + *n);
    }
    let (mut secs, mut nanos, mut units, mut margins, mut meta) = (
        vec![0i64; len],
        vec![0u32; len],
        vec![0i64; len],
        vec![0i64; len],
        vec![0u32; len],
    );
    for ((_, r), &i) in records().zip(&slots) {
        let Some(n) = next.get_mut(i as usize) else {
            continue;
        };
        let k = *n as usize;
        *n += 1;
        let (Some(s), Some(ns), Some(u), Some(m), Some(x)) = (
            secs.get_mut(k),
            nanos.get_mut(k),
            units.get_mut(k),
            margins.get_mut(k),
            meta.get_mut(k),
        ) else {
            return Err(overflow("ledger row index"));
        };
        (*s, *ns, *u, *m, *x) = (r.secs.get(), r.nanos, r.units.get(), r.margin.get(), r.meta);
    }
    // After the scatter each customer's next row is the end of their rows.
    Ok(LedgerShard {
        index: Arc::new(index),
        ids,
        ends: next,
        secs,
        nanos,
        units,
        margins,
        meta,
    })
}

#[cfg(test)]
mod tests;
