//! The columnar kernel of the value metrics (RFM, historical CLV, purchase
//! cohorts): dense per-customer state and exact integer money.
//!
//! - [`DenseMap`] gives every customer a dense index `0..n` (one fast hash
//!   lookup of the UUID per row, in first-seen order) and keeps their state
//!   in one flat `Vec`, so a batch is a pass that looks up indexes and a
//!   pass that updates flat records, instead of a hash-map entry per row.
//! - Money is exact integer *units* of `10^-scale` in `i128`, where `scale`
//!   is the largest decimal scale the accumulator has seen: a `Decimal`
//!   converts exactly (its 96-bit mantissa times a power of ten), sums are
//!   checked `i128` additions (an overflow is the typed
//!   [`RelationshipError::Overflow`], never a wrap), and results convert
//!   back to a `Decimal` with the largest scale among the summed amounts,
//!   exactly what checked `Decimal` additions would give.
//! - Instants are `(seconds, nanoseconds)` pairs ([`At`]), ordered like
//!   `DateTime<Utc>`.
//!
//! Memory: one index entry (id and `u32`) plus one state record per
//! customer.

use std::collections::hash_map::Entry;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;

use super::activity::{RelationshipError, Transaction};
use super::ledger::{Ledger, LedgerRow, LedgerShard};
use crate::domain::{Currency, CustomerId};

pub(crate) fn overflow(operation: &'static str) -> RelationshipError {
    RelationshipError::Overflow { operation }
}

/// Hashes a customer id for a [`DenseMap`]'s index with one folded
/// multiply of its two 64-bit halves (the full 128-bit product, its high
/// and low words xored): customer ids are UUIDs, random in their low
/// bits at least (v4, v7), or sequential in tests, and a folded multiply
/// spreads either over both the low bits that pick a bucket and the top
/// bits the table compares first. It is unkeyed, like the crate's other
/// id hasher: the index is internal and ids come from the application,
/// not from untrusted input, so hash flooding is not a concern here.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct FoldHasher(u64);

impl std::hash::Hasher for FoldHasher {
    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }

    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        // A UUID is 16 bytes: two words. (Other lengths: word by word.)
        let mut words = bytes.chunks(8).map(|c| {
            let mut w = [0u8; 8];
            for (d, s) in w.iter_mut().zip(c) {
                *d = *s;
            }
            u64::from_le_bytes(w)
        });
        while let Some(a) = words.next() {
            let b = words.next().unwrap_or(0);
            let p = u128::from(a ^ self.0 ^ 0x243f_6a88_85a3_08d3)
                * u128::from(b ^ 0x1319_8a2e_0370_7344);
            self.0 = (p as u64) ^ ((p >> 64) as u64);
        }
    }

    /// Length prefixes carry nothing for fixed-size ids.
    #[inline]
    fn write_usize(&mut self, _: usize) {}
}

/// A [`DenseMap`]'s index: customer to dense index.
pub(crate) type IndexMap =
    std::collections::HashMap<CustomerId, u32, std::hash::BuildHasherDefault<FoldHasher>>;

/// A [`DenseMap`]'s index, its own or shared with a [`Ledger`] shard
/// until the first new customer (then copied): a map filled from a ledger
/// does not copy the ledger's index.
#[derive(Debug, Clone)]
enum Index {
    Own(IndexMap),
    Shared(std::sync::Arc<IndexMap>),
}

impl Index {
    #[inline]
    fn get(&self) -> &IndexMap {
        match self {
            Index::Own(m) => m,
            Index::Shared(m) => m,
        }
    }

    /// The index to update (copied first if shared).
    #[inline]
    fn to_mut(&mut self) -> &mut IndexMap {
        if let Index::Shared(m) = self {
            *self = Index::Own(IndexMap::clone(m));
        }
        match self {
            Index::Own(m) => m,
            // Not reached: an `Own` was just put in place.
            Index::Shared(m) => std::sync::Arc::make_mut(m),
        }
    }
}

/// Per-customer state in a flat `Vec`, indexed densely in first-seen order.
#[derive(Debug, Clone)]
pub(crate) struct DenseMap<S> {
    index: Index,
    ids: Vec<CustomerId>,
    states: Vec<S>,
}

impl<S> Default for DenseMap<S> {
    fn default() -> Self {
        Self {
            index: Index::Own(IndexMap::default()),
            ids: Vec::new(),
            states: Vec::new(),
        }
    }
}

impl<S: Default> DenseMap<S> {
    /// Reserves room for `additional` more customers.
    pub(crate) fn reserve(&mut self, additional: usize) {
        self.index.to_mut().reserve(additional);
        self.ids.reserve(additional);
        self.states.reserve(additional);
    }

    /// The dense index of `customer`, with an empty state created if new.
    ///
    /// # Errors
    /// [`RelationshipError::Overflow`] beyond `u32::MAX` customers.
    #[inline]
    pub(crate) fn slot(&mut self, customer: CustomerId) -> Result<u32, RelationshipError> {
        let next = self.ids.len();
        match self.index.to_mut().entry(customer) {
            Entry::Occupied(e) => Ok(*e.get()),
            Entry::Vacant(v) => {
                let i = u32::try_from(next).map_err(|_| overflow("customer count"))?;
                let _ = v.insert(i);
                self.ids.push(customer);
                self.states.push(S::default());
                Ok(i)
            }
        }
    }

    /// The state of `customer`, created empty if new.
    ///
    /// # Errors
    /// As [`DenseMap::slot`].
    pub(crate) fn entry(&mut self, customer: CustomerId) -> Result<&mut S, RelationshipError> {
        let i = self.slot(customer)? as usize;
        self.states.get_mut(i).ok_or(overflow("customer index"))
    }
}

impl<S> DenseMap<S> {
    /// Number of customers.
    pub(crate) fn len(&self) -> usize {
        self.ids.len()
    }

    /// The state of `customer`, if seen.
    pub(crate) fn get(&self, customer: &CustomerId) -> Option<&S> {
        self.index
            .get()
            .get(customer)
            .and_then(|&i| self.states.get(i as usize))
    }

    /// Every customer with its state, in index order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&CustomerId, &S)> {
        self.ids.iter().zip(&self.states)
    }

    /// The states, by dense index.
    pub(crate) fn states(&self) -> &[S] {
        &self.states
    }

    /// The states, by dense index, for updating.
    pub(crate) fn states_mut(&mut self) -> &mut [S] {
        &mut self.states
    }
}

impl<S: PartialEq> PartialEq for DenseMap<S> {
    /// The same customers with equal states, in any index order.
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().all(|(c, s)| other.get(c) == Some(s))
    }
}

impl<S: Eq> Eq for DenseMap<S> {}

/// Number of shards of a [`Shards`] map (a power of two).
pub(crate) const SHARDS: usize = 256;

/// Batches shorter than this are applied row by row, without partitioning.
const SMALL_BATCH: usize = if cfg!(test) { 8 } else { 1 << 14 };

/// Rows partitioned at a time: bounds the records buffered by a batch
/// (`CHUNK` records of 36-48 bytes, at most about 0.8 GB, 60 % of the
/// 72-byte rows themselves) whatever the batch length. Each chunk sweeps
/// every customer's state once more, which costs more than buffering: on
/// W2 (10 M rows, 1 M customers) one chunk of 10 M rows took 12 % less
/// CPU time than chunks of 4 Mi rows (8.2-8.5 s against 9.4-9.8 s of
/// `perf stat` user time for `w2 time 3`, 0.3 s more system time for
/// the larger buffers' page faults) and 25 % less than chunks of 1 Mi.
/// With staged partitioning (see [`partition`]) chunks of 4 Mi rows still
/// lost: RFM 0.34 s against 0.27 s, cohorts 0.50-0.51 s against 0.37-0.38
/// s (`w2 time 3`, alternating runs).
const CHUNK: usize = if cfg!(test) { 64 } else { 1 << 24 };

/// Bytes of records staged per shard before they are copied to the
/// shard's buffer (see [`partition`]); tests stage one or two records, so
/// short ledgers copy stages both during and after the pass.
const STAGE_BYTES: usize = if cfg!(test) { 100 } else { 4096 };

/// The shard of a customer: a mix of the id independent of the bits the
/// shard's hash table uses (its low bits and top seven bits).
#[inline]
pub(crate) fn shard_of(customer: &CustomerId) -> usize {
    let v = customer.as_uuid().as_u128();
    let x = (v as u64) ^ ((v >> 64) as u64).rotate_left(32);
    (x.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 56) as usize & (SHARDS - 1)
}

/// A shard's extra state (see [`Shards`]).
pub(crate) trait Extra {
    /// `records` records of a batch are about to be applied to the shard
    /// (room for what they add can be reserved once, instead of growing
    /// the state by doubling, a copy each time).
    fn reserve_for(&mut self, records: usize) {
        let _ = records;
    }
}

impl Extra for () {}

/// What [`Shards::push_partitioned`] does with a row.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Rec<R> {
    /// Apply this record to the customer's state.
    Keep(CustomerId, R),
    /// Nothing to apply (e.g. after the as-of instant).
    Skip,
    /// Stop before this row's chunk: the caller handles the rest.
    Stop,
}

/// Per-customer state split into [`SHARDS`] dense maps by customer.
///
/// A large batch is processed in chunks of rows: each thread turns its
/// part of the chunk into compact records (customer, exact integer
/// amounts, seconds) appended to per-shard buffers, then each thread takes
/// a contiguous range of shards and applies their records; a shard's index
/// and states (a few thousand customers per million) stay in the core's
/// cache, and each customer lives in exactly one shard, so no merge is
/// needed. Rows of one customer are applied in input order, and the result
/// (including every customer's index) does not depend on the thread count.
///
/// Each shard also has an `X` of its own (state keyed by the shard's dense
/// indexes, such as per-customer-and-bucket sums).
#[derive(Debug, Clone)]
pub(crate) struct Shards<S, X = ()> {
    shards: Vec<DenseMap<S>>,
    extras: Vec<X>,
}

impl<S, X: Default> Default for Shards<S, X> {
    fn default() -> Self {
        Self {
            shards: (0..SHARDS).map(|_| DenseMap::default()).collect(),
            extras: (0..SHARDS).map(|_| X::default()).collect(),
        }
    }
}

impl<S: PartialEq> PartialEq for Shards<S> {
    fn eq(&self, other: &Self) -> bool {
        self.shards == other.shards
    }
}

impl<S: Eq> Eq for Shards<S> {}

impl<S, X> Shards<S, X> {
    /// Each shard with its extra state.
    pub(crate) fn parts(&self) -> impl Iterator<Item = (&DenseMap<S>, &X)> {
        self.shards.iter().zip(&self.extras)
    }

    /// The extra state of shard `s`, for updating.
    pub(crate) fn extra_mut(&mut self, s: usize) -> Option<&mut X> {
        self.extras.get_mut(s)
    }

    /// Number of customers.
    pub(crate) fn len(&self) -> usize {
        self.shards.iter().map(DenseMap::len).sum()
    }

    /// Every customer with its state, shard by shard.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&CustomerId, &S)> {
        self.shards.iter().flat_map(DenseMap::iter)
    }

    /// Every state, shard by shard.
    pub(crate) fn states_mut(&mut self) -> impl Iterator<Item = &mut S> {
        self.shards.iter_mut().flat_map(DenseMap::states_mut)
    }

    /// Every state, shard by shard.
    pub(crate) fn states(&self) -> impl Iterator<Item = &S> {
        self.shards.iter().flat_map(DenseMap::states)
    }
}

impl<S: Sync, X: Sync> Shards<S, X> {
    /// `f` over contiguous ranges of shards (with their extra states), one
    /// range per thread for many customers (see [`threads_for`]); the
    /// results in shard order.
    ///
    /// # Errors
    /// The first error of `f`, in shard order.
    pub(crate) fn par_parts<O: Send>(
        &self,
        f: impl Fn(&[DenseMap<S>], &[X]) -> Result<O, RelationshipError> + Sync,
    ) -> Result<Vec<O>, RelationshipError> {
        let threads = threads_for(self.len());
        if threads < 2 {
            return Ok(vec![f(&self.shards, &self.extras)?]);
        }
        let per = SHARDS.div_ceil(threads);
        let f = &f;
        std::thread::scope(|scope| {
            let handles: Vec<_> = self
                .shards
                .chunks(per)
                .zip(self.extras.chunks(per))
                .map(|(shards, extras)| scope.spawn(move || f(shards, extras)))
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or(Err(overflow("worker"))))
                .collect()
        })
    }
}

impl<S: Default + Send, X: Extra + Send> Shards<S, X> {
    /// Reserves room for about `customers` more customers.
    pub(crate) fn reserve(&mut self, customers: usize) {
        let per = customers.div_ceil(SHARDS);
        for s in &mut self.shards {
            s.reserve(per);
        }
    }

    /// The shard of `customer` and its dense index there, created if new.
    ///
    /// # Errors
    /// As [`DenseMap::slot`].
    pub(crate) fn slot(&mut self, customer: CustomerId) -> Result<(usize, u32), RelationshipError> {
        let s = shard_of(&customer);
        let shard = self.shards.get_mut(s).ok_or(overflow("shard index"))?;
        Ok((s, shard.slot(customer)?))
    }

    /// The state of `customer`, created empty if new.
    ///
    /// # Errors
    /// As [`DenseMap::slot`].
    #[inline]
    pub(crate) fn entry(&mut self, customer: CustomerId) -> Result<&mut S, RelationshipError> {
        self.shards
            .get_mut(shard_of(&customer))
            .ok_or(overflow("shard index"))?
            .entry(customer)
    }

    /// Applies `apply` to the record of every row that `record` keeps
    /// ([`Rec::Keep`]), with its customer's state and shard's extra state
    /// (see the type's docs for how), the customer and their dense index in
    /// the shard.
    ///
    /// A row for which `record` returns [`Rec::Stop`] (one the caller must
    /// handle another way: another currency, an amount beyond the unit
    /// scale) stops the batch before its chunk is applied: the result is
    /// `Some(k)` where `rows[..k]` are applied and nothing of `rows[k..]`
    /// is, and `rows[k..]` holds the stopping row; `None` when every row is
    /// applied.
    ///
    /// # Errors
    /// The first error of `apply` (rows applied before it stay applied).
    pub(crate) fn push_partitioned<T: Sync, R: Copy + Send + Sync>(
        &mut self,
        rows: &[T],
        record: impl Fn(&T) -> Rec<R> + Sync,
        apply: impl Fn(&mut S, &mut X, &CustomerId, &R, u32) -> Result<(), RelationshipError> + Sync,
    ) -> Result<Option<usize>, RelationshipError> {
        if rows.len() < SMALL_BATCH {
            for (k, row) in rows.iter().enumerate() {
                let (c, r) = match record(row) {
                    Rec::Keep(c, r) => (c, r),
                    Rec::Skip => continue,
                    Rec::Stop => return Ok(Some(k)),
                };
                let (s, i) = self.slot(c)?;
                let state = self
                    .shards
                    .get_mut(s)
                    .and_then(|m| m.states.get_mut(i as usize));
                let (Some(state), Some(extra)) = (state, self.extras.get_mut(s)) else {
                    return Err(overflow("customer index"));
                };
                apply(state, extra, &c, &r, i)?;
            }
            return Ok(None);
        }
        let threads = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .clamp(1, 16);
        let mut parts: Vec<Vec<Vec<(CustomerId, R)>>> = (0..threads)
            .map(|_| (0..SHARDS).map(|_| Vec::new()).collect())
            .collect();
        let mut stages: Vec<Vec<Vec<(CustomerId, R)>>> = (0..threads)
            .map(|_| (0..SHARDS).map(|_| Vec::new()).collect())
            .collect();
        // Room for a chunk's records (a quarter above the even share).
        let per_shard = CHUNK.min(rows.len()).div_ceil(threads * SHARDS) * 5 / 4;
        let per_thread = SHARDS.div_ceil(threads);
        let failed = || overflow("aggregation worker");
        let (record, apply) = (&record, &apply);
        let mut done = 0;
        for chunk in rows.chunks(CHUNK) {
            let part_rows = chunk.len().div_ceil(threads).max(1);
            // A short last chunk may have fewer parts than threads: empty
            // every buffer so no part keeps the previous chunk's records.
            for buf in parts.iter_mut().flatten() {
                buf.clear();
            }
            // Phase 1: each thread partitions its part of the chunk.
            if partition_parts(&mut parts, &mut stages, chunk, part_rows, per_shard, record) {
                return Ok(Some(done));
            }
            // Phase 2: each thread applies the records of its shards, in
            // input order (part by part).
            let parts = &parts;
            std::thread::scope(|scope| {
                let handles: Vec<_> = self
                    .shards
                    .chunks_mut(per_thread)
                    .zip(self.extras.chunks_mut(per_thread))
                    .enumerate()
                    .map(|(t, (chunk, extras))| {
                        scope
                            .spawn(move || apply_parts(chunk, extras, t * per_thread, parts, apply))
                    })
                    .collect();
                handles
                    .into_iter()
                    .try_for_each(|h| h.join().unwrap_or(Err(failed())))
            })?;
            done += chunk.len();
        }
        Ok(None)
    }
}

impl<S: Default + Send, X: Default + Extra + Send> Shards<S, X> {
    /// The shards of the rows of `ledger` that `record` keeps, applied with
    /// `apply` as [`Shards::push_partitioned`] would apply them: the ledger
    /// groups rows by the same shards, so each thread takes a range of
    /// shards and reads each customer's rows as one run, with no index
    /// lookup (a shard shares the ledger's index when every customer has a
    /// kept row, else indexes the ones that do).
    ///
    /// # Errors
    /// The first error of `apply`, in shard order.
    pub(crate) fn from_ledger<R>(
        ledger: &Ledger,
        record: impl Fn(&LedgerRow) -> Option<R> + Sync,
        apply: impl Fn(&mut S, &mut X, &CustomerId, &R, u32) -> Result<(), RelationshipError> + Sync,
    ) -> Result<Self, RelationshipError> {
        let mut out = Self::default();
        let sources = ledger.shards();
        let threads = threads_for(ledger.len());
        let per = SHARDS.div_ceil(threads.max(1));
        let (record, apply) = (&record, &apply);
        let fill = move |maps: &mut [DenseMap<S>], extras: &mut [X], src: &[LedgerShard]| {
            for ((map, extra), src) in maps.iter_mut().zip(extras.iter_mut()).zip(src) {
                from_ledger_shard(map, extra, src, record, apply)?;
            }
            Ok::<(), RelationshipError>(())
        };
        if threads < 2 {
            fill(&mut out.shards, &mut out.extras, sources)?;
            return Ok(out);
        }
        std::thread::scope(|scope| {
            let handles: Vec<_> = out
                .shards
                .chunks_mut(per)
                .zip(out.extras.chunks_mut(per))
                .zip(sources.chunks(per))
                .map(|((maps, extras), src)| scope.spawn(move || fill(maps, extras, src)))
                .collect();
            handles
                .into_iter()
                .try_for_each(|h| h.join().unwrap_or(Err(overflow("ledger worker"))))
        })?;
        Ok(out)
    }
}

/// One shard of [`Shards::from_ledger`].
#[inline(never)]
fn from_ledger_shard<S: Default, X: Extra, R>(
    map: &mut DenseMap<S>,
    extra: &mut X,
    src: &LedgerShard,
    record: &impl Fn(&LedgerRow) -> Option<R>,
    apply: &impl Fn(&mut S, &mut X, &CustomerId, &R, u32) -> Result<(), RelationshipError>,
) -> Result<(), RelationshipError> {
    let all = src.ids();
    extra.reserve_for(src.len());
    let (mut ids, mut states) = (Vec::with_capacity(all.len()), Vec::with_capacity(all.len()));
    for (k, c) in all.iter().enumerate() {
        // The customer's dense index, if a row is kept.
        let i = u32::try_from(states.len()).map_err(|_| overflow("customer count"))?;
        let mut state: Option<&mut S> = None;
        for row in src.rows(k) {
            let Some(r) = record(&row) else { continue };
            let s = match state {
                Some(s) => s,
                None => {
                    ids.push(*c);
                    states.push(S::default());
                    states.last_mut().ok_or(overflow("customer index"))?
                }
            };
            apply(s, extra, c, &r, i)?;
            state = Some(s);
        }
    }
    // Every customer kept (the usual case): the ledger's index, shared
    // until a new customer comes; else one insert per kept customer.
    let index = if ids.len() == all.len() {
        Index::Shared(std::sync::Arc::clone(src.index()))
    } else {
        let mut index = IndexMap::default();
        index.reserve(ids.len());
        for (i, c) in ids.iter().enumerate() {
            let i = u32::try_from(i).map_err(|_| overflow("customer count"))?;
            let _ = index.insert(*c, i);
        }
        Index::Own(index)
    };
    *map = DenseMap { index, ids, states };
    Ok(())
}

/// Per part of the input (one per thread, in input order), per shard: the
/// records kept, in input order.
pub(crate) type Parts<R> = Vec<Vec<Vec<(CustomerId, R)>>>;

/// Per part of `rows` (one per thread, in input order), per shard: the
/// records `record` keeps, in input order; `None` when a row stops it.
/// Phase 1 of [`Shards::push_partitioned`] over the whole of `rows` at
/// once (no chunks: the caller keeps every record anyway).
pub(crate) fn partition_all<T: Sync, R: Copy + Send>(
    rows: &[T],
    record: impl Fn(&T) -> Rec<R> + Sync,
) -> Option<Parts<R>> {
    let threads = threads_for(rows.len());
    let part_rows = rows.len().div_ceil(threads).max(1);
    let per_shard = rows.len().div_ceil(threads * SHARDS) * 5 / 4;
    let mut parts: Parts<R> = rows
        .chunks(part_rows)
        .map(|_| (0..SHARDS).map(|_| Vec::new()).collect())
        .collect();
    let mut stages: Parts<R> = parts
        .iter()
        .map(|_| (0..SHARDS).map(|_| Vec::new()).collect())
        .collect();
    let stopped = partition_parts(&mut parts, &mut stages, rows, part_rows, per_shard, &record);
    (!stopped).then_some(parts)
}

/// [`partition`] of each `part_rows` rows of `rows` into the part and
/// stage of the same position, one thread each (inline for one part);
/// whether a row stopped it.
fn partition_parts<T: Sync, R: Copy + Send>(
    parts: &mut [Vec<Vec<(CustomerId, R)>>],
    stages: &mut [Vec<Vec<(CustomerId, R)>>],
    rows: &[T],
    part_rows: usize,
    per_shard: usize,
    record: &(impl Fn(&T) -> Rec<R> + Sync),
) -> bool {
    let threads = parts.len();
    let work = parts
        .iter_mut()
        .zip(stages.iter_mut())
        .zip(rows.chunks(part_rows.max(1)));
    if threads < 2 {
        return work
            .map(|((part, stage), sub)| partition(part, stage, sub, per_shard, record))
            .fold(false, |a, b| a | b);
    }
    std::thread::scope(|scope| {
        let handles: Vec<_> = work
            .map(|((part, stage), sub)| {
                scope.spawn(move || partition(part, stage, sub, per_shard, record))
            })
            .collect();
        // Every thread joined, whether or not one stopped.
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or(true))
            .fold(false, |a, b| a | b)
    })
}

/// Phase 1 of [`Shards::push_partitioned`]: the records of `rows` into
/// per-shard buffers; whether a row stopped it.
///
/// Records are staged per shard in `stage` (about [`STAGE_BYTES`] each,
/// 1 MiB per thread in all: it stays in the core's L2 cache) and copied
/// to the shard's buffer a few kilobytes at a time. Writing each record
/// straight to its shard's buffer scatters the writes over 256 streams
/// that miss the cache a line at a time; on W2 staging took this pass
/// from 0.215-0.248 s to 0.114-0.130 s (2 cores).
#[inline(never)]
fn partition<T, R: Copy>(
    part: &mut [Vec<(CustomerId, R)>],
    stage: &mut [Vec<(CustomerId, R)>],
    rows: &[T],
    per_shard: usize,
    record: &impl Fn(&T) -> Rec<R>,
) -> bool {
    for buf in part.iter_mut() {
        buf.clear();
        buf.reserve(per_shard);
    }
    let full = (STAGE_BYTES / std::mem::size_of::<(CustomerId, R)>()).max(1);
    for st in stage.iter_mut() {
        st.clear();
        st.reserve(full);
    }
    for row in rows {
        match record(row) {
            Rec::Keep(c, r) => {
                let s = shard_of(&c);
                if let (Some(st), Some(buf)) = (stage.get_mut(s), part.get_mut(s)) {
                    st.push((c, r));
                    if st.len() >= full {
                        buf.extend_from_slice(st);
                        st.clear();
                    }
                }
            }
            Rec::Skip => {}
            Rec::Stop => return true,
        }
    }
    for (st, buf) in stage.iter_mut().zip(part.iter_mut()) {
        buf.extend_from_slice(st);
        st.clear();
    }
    false
}

/// Phase 2 of [`Shards::push_partitioned`]: applies the buffered records
/// of shards `first..first + shards.len()`, part by part (input order).
#[inline(never)]
fn apply_parts<S: Default, X: Extra, R>(
    shards: &mut [DenseMap<S>],
    extras: &mut [X],
    first: usize,
    parts: &[Vec<Vec<(CustomerId, R)>>],
    apply: &impl Fn(&mut S, &mut X, &CustomerId, &R, u32) -> Result<(), RelationshipError>,
) -> Result<(), RelationshipError> {
    for (j, (shard, extra)) in shards.iter_mut().zip(extras.iter_mut()).enumerate() {
        let s = first + j;
        extra.reserve_for(parts.iter().map(|p| p.get(s).map_or(0, Vec::len)).sum());
        for part in parts {
            for (c, r) in part.get(s).map_or(&[][..], Vec::as_slice) {
                let i = shard.slot(*c)?;
                let state = shard
                    .states
                    .get_mut(i as usize)
                    .ok_or(overflow("customer index"))?;
                apply(state, extra, c, r, i)?;
            }
        }
    }
    Ok(())
}

/// An `i128` as two 64-bit words: 8-byte alignment instead of 16, so the
/// records holding it carry less padding (a cohort cell is 24 bytes and a
/// logged cell 32, not 32 and 48; a CLV state 88 bytes, not 96).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Units {
    lo: u64,
    hi: i64,
}

impl Units {
    #[inline]
    pub(crate) fn new(v: i128) -> Self {
        // Truncations by design: the two halves of `v`.
        Self {
            lo: v as u64,
            hi: (v >> 64) as i64,
        }
    }

    #[inline]
    pub(crate) fn get(self) -> i128 {
        (i128::from(self.hi) << 64) | i128::from(self.lo)
    }

    /// Multiplies by `10^k` (see [`rescale`]).
    pub(crate) fn rescale(&mut self, k: u32) -> Result<(), RelationshipError> {
        let mut v = self.get();
        rescale(&mut v, k)?;
        *self = Self::new(v);
        Ok(())
    }

    /// Checked `self += b` (see [`add`]).
    #[inline]
    pub(crate) fn add(
        &mut self,
        b: i128,
        operation: &'static str,
    ) -> Result<(), RelationshipError> {
        let mut v = self.get();
        add(&mut v, b, operation)?;
        *self = Self::new(v);
        Ok(())
    }
}

/// An `i64` as two 32-bit words: 4-byte alignment, so a buffered record
/// (a 16-byte id and a few fields) carries no padding for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Split64([u32; 2]);

impl Split64 {
    #[inline]
    pub(crate) fn new(v: i64) -> Self {
        let b = v.to_le_bytes();
        Self([
            u32::from_le_bytes([b[0], b[1], b[2], b[3]]),
            u32::from_le_bytes([b[4], b[5], b[6], b[7]]),
        ])
    }

    #[inline]
    pub(crate) fn get(self) -> i64 {
        (i64::from(self.0[1] as i32) << 32) | i64::from(self.0[0])
    }
}

/// Powers of ten `10^0..=10^28` (a `Decimal` scale is at most 28).
const POW10: [i128; 29] = {
    let mut p = [1i128; 29];
    let mut i = 1;
    while i < 29 {
        p[i] = p[i - 1] * 10;
        i += 1;
    }
    p
};

/// `10^k`, if `k <= 28`.
#[inline]
pub(crate) fn pow10(k: u32) -> Option<i128> {
    POW10.get(k as usize).copied()
}

/// `d` in integer units of `10^-scale`, exactly; `None` if `d` has more
/// decimal places than `scale` or the result overflows `i128`.
#[inline]
pub(crate) fn units(d: Decimal, scale: u32) -> Option<i128> {
    let m = d.mantissa();
    match scale.checked_sub(d.scale())? {
        0 => Some(m),
        k => m.checked_mul(pow10(k)?),
    }
}

/// [`units`] or the typed overflow error.
#[inline]
pub(crate) fn units_or(d: Decimal, scale: u32) -> Result<i128, RelationshipError> {
    units(d, scale).ok_or(overflow("amount in integer units"))
}

/// Back from units of `10^-unit_scale` to a `Decimal` with `scale` decimal
/// places (`scale <= unit_scale`, and `v` a sum of amounts with at most
/// `scale` places, so the division is exact).
///
/// # Errors
/// [`RelationshipError::Overflow`] when the value does not fit a `Decimal`.
pub(crate) fn decimal(v: i128, unit_scale: u32, scale: u32) -> Result<Decimal, RelationshipError> {
    let k = unit_scale
        .checked_sub(scale)
        .and_then(pow10)
        .ok_or(overflow("decimal scale"))?;
    // Most sums are at the unit scale, or small: no 128-bit division.
    let q = if k == 1 {
        v
    } else if let (Ok(a), Ok(b)) = (i64::try_from(v), i64::try_from(k)) {
        i128::from(a / b)
    } else {
        v / k
    };
    Decimal::try_from_i128_with_scale(q, scale).map_err(|_| overflow("decimal conversion"))
}

/// Number of threads for a parallel pass over `n` items: 1 below
/// [`SMALL_BATCH`], else the available cores (at most 16).
pub(crate) fn threads_for(n: usize) -> usize {
    if n < SMALL_BATCH {
        1
    } else {
        std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .clamp(1, 16)
    }
}

/// `f` over `items` in order, on up to [`threads_for`] threads (each
/// maps a contiguous part; the parts are concatenated).
///
/// # Errors
/// The first error of `f`, in item order.
pub(crate) fn par_map<I: Sync, O: Send>(
    items: &[I],
    f: impl Fn(&I) -> Result<O, RelationshipError> + Sync,
) -> Result<Vec<O>, RelationshipError> {
    let threads = threads_for(items.len());
    if threads < 2 {
        return items.iter().map(f).collect();
    }
    let per = items.len().div_ceil(threads);
    let f = &f;
    std::thread::scope(|scope| {
        let handles: Vec<_> = items
            .chunks(per)
            .map(|part| scope.spawn(move || part.iter().map(f).collect::<Result<Vec<O>, _>>()))
            .collect();
        let mut out: Vec<O> = Vec::new();
        for h in handles {
            let part = h.join().unwrap_or(Err(overflow("worker")))?;
            if out.is_empty() {
                out = part;
                out.reserve(items.len().saturating_sub(out.len()));
            } else {
                out.extend(part);
            }
        }
        Ok(out)
    })
}

/// Multiplies units by `10^k` (raising the unit scale by `k`).
///
/// # Errors
/// [`RelationshipError::Overflow`].
pub(crate) fn rescale(v: &mut i128, k: u32) -> Result<(), RelationshipError> {
    *v = pow10(k)
        .and_then(|p| v.checked_mul(p))
        .ok_or(overflow("amount in integer units"))?;
    Ok(())
}

/// The largest `Decimal` mantissa, `2^96 − 1`.
const DECIMAL_MAX_MANTISSA: u128 = (1 << 96) - 1;

/// Checked `a += b`: a sum whose units exceed a `Decimal` mantissa
/// (`2^96 − 1`) is the typed overflow error, as with checked `Decimal`
/// additions, so every sum converts back to a `Decimal` (at a scale at most
/// the units' scale).
#[inline]
pub(crate) fn add(a: &mut i128, b: i128, operation: &'static str) -> Result<(), RelationshipError> {
    match a.checked_add(b) {
        Some(v) if v.unsigned_abs() <= DECIMAL_MAX_MANTISSA => {
            *a = v;
            Ok(())
        }
        _ => Err(overflow(operation)),
    }
}

/// The decimal scales and largest mantissa of a batch's amounts: whether
/// they all fit `i64` units.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AmountScan {
    max_scale: u32,
    min_scale: u32,
    max_abs: u128,
}

impl Default for AmountScan {
    fn default() -> Self {
        Self {
            max_scale: 0,
            min_scale: 28,
            max_abs: 0,
        }
    }
}

impl AmountScan {
    /// Takes `d` into account.
    #[inline]
    pub(crate) fn add(&mut self, d: Decimal) {
        let s = d.scale();
        self.max_scale = self.max_scale.max(s);
        self.min_scale = self.min_scale.min(s);
        self.max_abs = self.max_abs.max(d.mantissa().unsigned_abs());
    }

    /// The largest scale seen.
    pub(crate) fn max_scale(&self) -> u32 {
        self.max_scale
    }

    /// Whether every amount seen is an `i64` in units of `10^-unit_scale`
    /// (`unit_scale` at least [`AmountScan::max_scale`]): `|m| · 10^(unit_scale − scale)`
    /// is at most `max_abs · 10^(unit_scale − min_scale)`.
    pub(crate) fn fits_i64(&self, unit_scale: u32) -> bool {
        unit_scale
            .checked_sub(self.min_scale.min(unit_scale))
            .and_then(pow10)
            .and_then(|p| i128::try_from(self.max_abs).ok()?.checked_mul(p))
            .is_some_and(|v| v <= i128::from(i64::MAX))
    }
}

impl AmountScan {
    fn join(self, o: AmountScan) -> AmountScan {
        AmountScan {
            max_scale: self.max_scale.max(o.max_scale),
            min_scale: self.min_scale.min(o.min_scale),
            max_abs: self.max_abs.max(o.max_abs),
        }
    }
}

/// Checks that every row is in `currency` and scans the amounts (and the
/// margins, if `margins`), over the available cores for a large batch.
///
/// # Errors
/// [`RelationshipError::CurrencyMismatch`] for the first row in another
/// currency.
pub(crate) fn scan_rows(
    rows: &[Transaction],
    currency: Currency,
    margins: bool,
) -> Result<AmountScan, RelationshipError> {
    let scan = |rows: &[Transaction]| -> Result<AmountScan, RelationshipError> {
        let mut s = AmountScan::default();
        for t in rows {
            t.check_currency(currency)?;
            s.add(t.signed_amount().amount());
            if margins && let Some(m) = t.margin() {
                s.add(m.amount());
            }
        }
        Ok(s)
    };
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    if rows.len() < SMALL_BATCH || threads < 2 {
        return scan(rows);
    }
    let per = rows.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let handles: Vec<_> = rows
            .chunks(per)
            .map(|part| scope.spawn(move || scan(part)))
            .collect();
        handles
            .into_iter()
            .try_fold(AmountScan::default(), |acc, h| {
                let s = h.join().unwrap_or(Err(overflow("scan worker")))?;
                Ok(acc.join(s))
            })
    })
}

/// Powers of ten that fit an `i64`: `10^0..=10^18`.
const POW10_64: [i64; 19] = {
    let mut p = [1i64; 19];
    let mut i = 1;
    while i < 19 {
        p[i] = p[i - 1] * 10;
        i += 1;
    }
    p
};

/// `d` in `i64` units of `10^-scale`, exactly; `None` if `d` has more
/// decimal places than `scale` or the units do not fit an `i64` (the same
/// as `units(d, scale)` converted to `i64`, with 64-bit arithmetic).
#[inline]
pub(crate) fn units_i64(d: Decimal, scale: u32) -> Option<i64> {
    let k = scale.checked_sub(d.scale())?;
    let m = i64::try_from(d.mantissa()).ok()?;
    if m == 0 {
        return Some(0);
    }
    m.checked_mul(*POW10_64.get(k as usize)?)
}

/// Rows scanned for the unit scale before the first pass of a batch into
/// an empty accumulator (later rows with more decimal places stop the
/// pass and the rest of the batch is scanned: see [`Rec::Stop`]).
pub(crate) const SCALE_PREFIX: usize = if cfg!(test) { 4 } else { 4096 };

/// An accumulator fed by [`push_columnar`]: money in integer units of a
/// unit scale, a fast pass in `i64` units and a row-by-row `i128` path.
pub(crate) trait Columnar {
    /// Whether margins count towards the unit scale.
    const MARGINS: bool;
    /// The accumulator's currency.
    fn currency(&self) -> Currency;
    /// Whether nothing was added yet (no customer, no total).
    fn is_empty(&self) -> bool;
    /// The unit scale.
    fn scale(&self) -> u32;
    /// Back to empty, with unit scale `scale`.
    fn reset(&mut self, scale: u32);
    /// Raises the unit scale to `scale` (if higher), rescaling the state.
    fn raise_scale(&mut self, scale: Option<u32>) -> Result<(), RelationshipError>;
    /// The kernel pass at the current unit scale: [`Rec::Stop`] for a row
    /// in another currency or with an amount that is not an `i64` in
    /// units; the result of [`Shards::push_partitioned`].
    fn push_fast(&mut self, rows: &[Transaction]) -> Result<Option<usize>, RelationshipError>;
    /// Row by row in `i128` units (the unit scale covers every amount).
    fn push_slow(&mut self, rows: &[Transaction]) -> Result<(), RelationshipError>;
    /// The accumulator's `merge`.
    fn merge_from(&mut self, other: &Self) -> Result<(), RelationshipError>;
}

/// `push_ledger` of the columnar accumulators: `fresh` builds an
/// accumulator configured like `acc` from the ledger alone (at the
/// ledger's unit scale), which replaces an empty `acc` and merges into one
/// with data.
///
/// # Errors
/// [`RelationshipError::CurrencyMismatch`] for a ledger in another currency
/// (nothing is added); those of `fresh` and of the merge.
pub(crate) fn push_ledger<A: Columnar>(
    acc: &mut A,
    ledger: &Ledger,
    fresh: impl FnOnce(&A) -> Result<A, RelationshipError>,
) -> Result<(), RelationshipError> {
    let found = ledger.currency();
    if found != acc.currency() {
        return Err(RelationshipError::CurrencyMismatch {
            expected: acc.currency(),
            found,
        });
    }
    let fresh = fresh(acc)?;
    if acc.is_empty() {
        *acc = fresh;
        Ok(())
    } else {
        acc.merge_from(&fresh)
    }
}

/// `push_batch` of the columnar accumulators: the same result as pushing
/// each row, and a currency mismatch is reported before anything is
/// added.
///
/// An empty accumulator (the usual one-shot use) takes the unit scale of
/// the first [`SCALE_PREFIX`] rows and checks the currency and the scale
/// of every row inside the aggregation pass, so the rows are read once; a
/// row in another currency empties it again before the error is returned,
/// and a row with more decimal places (or an amount beyond `i64` units)
/// stops the pass before its chunk: the rest is scanned, the scale
/// raised, and the rest goes through the pass again or, beyond `i64`
/// units, row by row. An accumulator with data scans the whole batch
/// first (currency and scale), then takes the same passes.
///
/// # Errors
/// [`RelationshipError::CurrencyMismatch`] for the first row in another
/// currency; the accumulator's errors.
pub(crate) fn push_columnar<A: Columnar>(
    acc: &mut A,
    rows: &[Transaction],
) -> Result<(), RelationshipError> {
    let (empty, scale) = (acc.is_empty(), acc.scale());
    let head = if empty {
        rows.get(..SCALE_PREFIX).unwrap_or(rows)
    } else {
        rows
    };
    let scan = scan_rows(head, acc.currency(), A::MARGINS)?;
    acc.raise_scale(Some(scan.max_scale()))?;
    let Some(k) = acc.push_fast(rows)? else {
        return Ok(());
    };
    // A row stopped the pass: scan the rest (nothing of it is added yet).
    let rest = rows.get(k..).unwrap_or_default();
    let scan = match scan_rows(rest, acc.currency(), A::MARGINS) {
        Ok(scan) => scan,
        Err(e) => {
            if empty {
                acc.reset(scale);
            }
            return Err(e);
        }
    };
    acc.raise_scale(Some(scan.max_scale()))?;
    let rest = if scan.fits_i64(acc.scale()) {
        // Every row fits now; should one still stop, it goes row by row.
        match acc.push_fast(rest)? {
            None => return Ok(()),
            Some(k) => rest.get(k..).unwrap_or_default(),
        }
    } else {
        rest
    };
    acc.push_slow(rest)
}

/// A `u8` decimal scale (at most 28).
#[inline]
pub(crate) fn scale_of(d: Decimal) -> u8 {
    // A Decimal's scale is at most 28.
    d.scale() as u8
}

/// An instant as `(seconds, nanoseconds)` since the epoch, ordered like
/// `DateTime<Utc>`; [`At::MAX`] and [`At::MIN`] stand for "none" in a
/// running minimum and maximum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct At {
    secs: i64,
    nanos: u32,
}

impl At {
    /// Later than every `DateTime` (an unset minimum).
    pub(crate) const MAX: At = At {
        secs: i64::MAX,
        nanos: 0,
    };
    /// Earlier than every `DateTime` (an unset maximum).
    pub(crate) const MIN: At = At {
        secs: i64::MIN,
        nanos: 0,
    };

    #[inline]
    pub(crate) fn new(secs: i64, nanos: u32) -> Self {
        Self { secs, nanos }
    }

    #[inline]
    pub(crate) fn of(t: DateTime<Utc>) -> Self {
        Self {
            secs: t.timestamp(),
            nanos: t.timestamp_subsec_nanos(),
        }
    }

    /// Whole seconds since the epoch (floored).
    pub(crate) fn secs(self) -> i64 {
        self.secs
    }

    /// The instant, `None` for the sentinels.
    pub(crate) fn get(self) -> Option<DateTime<Utc>> {
        if self == Self::MAX || self == Self::MIN {
            None
        } else {
            DateTime::from_timestamp(self.secs, self.nanos)
        }
    }

    /// The earlier of two recorded instants, [`At::MIN`] being "none"
    /// (an acquisition not recorded).
    pub(crate) fn earlier_set(a: At, b: At) -> At {
        match (a == At::MIN, b == At::MIN) {
            (true, _) => b,
            (_, true) => a,
            _ => a.min(b),
        }
    }

    /// `Some(t)` as an instant, `None` as `none`.
    pub(crate) fn from_opt(t: Option<DateTime<Utc>>, none: At) -> Self {
        t.map_or(none, Self::of)
    }
}

#[cfg(test)]
mod tests {
    //! The columnar kernel against naive reference implementations written
    //! from the definitions (ordered maps, checked `Decimal` additions, one
    //! row at a time), on arbitrary ledgers: refunds, several customers
    //! with equal values, sub-second instants, mixed decimal scales,
    //! amounts too large for `i64` units, empty input. The test build uses
    //! tiny batch thresholds and chunks, so even short ledgers go through
    //! the partitioned, threaded path.
    use std::collections::BTreeMap;

    use chrono::{Duration, TimeZone};
    use proptest::prelude::*;

    use super::*;
    use crate::domain::{Granularity, Money, Period};
    use crate::metrics::cohort::{CohortSpec, PurchaseCohortAccumulator};
    use crate::metrics::rfm::{RfmAccumulator, SegmentTable};
    use crate::metrics::value::ValueAccumulator;

    const EUR: Currency = Currency::EUR;

    fn start() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap()
    }
    /// As-of instant and cohort window end: 2026-05-01.
    fn end() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 5, 1, 0, 0, 0).unwrap()
    }
    fn spec() -> CohortSpec {
        CohortSpec::new(
            Period::new(start(), end()).unwrap(),
            Granularity::Month,
            chrono_tz::UTC,
        )
        .unwrap()
    }

    /// A row: customer (one of a few random ids), instant (December 2025
    /// to mid-May 2026, so before, inside and after the window), kind,
    /// amount (mantissa and scale) and optional margin.
    /// Customer slot, seconds from the window start, nanoseconds, sale,
    /// (mantissa, scale) of the amount, and of the margin if any.
    type Row = (usize, i64, u32, bool, (i64, u32), Option<(i64, u32)>);

    fn row() -> impl Strategy<Value = Row> {
        let amount = prop_oneof![
            8 => (0i64..20, 0u32..3),
            2 => (0i64..100_000, 0u32..5),
            1 => (0i64..i64::MAX, 0u32..3),
        ];
        (
            0usize..6,
            -31 * 86_400i64..135 * 86_400,
            prop_oneof![4 => Just(0u32), 1 => 0u32..1_000_000_000],
            any::<bool>(),
            amount,
            prop::option::of((-50i64..50, 0u32..3)),
        )
    }

    fn ledger(ids: &[u128], rows: &[Row]) -> Vec<Transaction> {
        rows.iter()
            .map(|&(c, secs, nanos, sale, (m, s), margin)| {
                let c = CustomerId::from_u128(ids[c % ids.len()]);
                let at =
                    start() + Duration::seconds(secs) + Duration::nanoseconds(i64::from(nanos));
                let amount = Money::new(Decimal::new(m, s), EUR);
                let margin = margin.map(|(m, s)| Money::new(Decimal::new(m, s), EUR));
                if sale {
                    Transaction::sale(c, at, amount, margin).unwrap()
                } else {
                    Transaction::refund(c, at, amount, margin).unwrap()
                }
            })
            .collect()
    }

    /// Decimals equal in value. (The kernel's results carry the largest
    /// scale among the summed amounts; checked `Decimal` additions mostly
    /// do too, except that adding to a zero may keep the other operand's
    /// scale, so representations are not compared.)
    fn same(a: Decimal, b: Decimal) -> bool {
        a == b
    }

    fn score_by_definition<T: Ord>(all: &[T], v: &T) -> u8 {
        let l = all.iter().filter(|x| *x < v).count();
        (1 + 5 * l / all.len()) as u8
    }

    /// RFM by definition: per customer (recency days, frequency, monetary)
    /// and scores `1 + floor(5 L / n)`.
    fn rfm_reference(rows: &[Transaction]) -> Vec<(CustomerId, i64, u32, Decimal, u8, u8, u8)> {
        let mut m: BTreeMap<CustomerId, (i64, u32, Decimal)> = BTreeMap::new();
        for t in rows.iter().filter(|t| t.at() < end()) {
            let e = m
                .entry(t.customer())
                .or_insert((i64::MIN, 0, Decimal::ZERO));
            e.2 = e.2.checked_add(t.signed_amount().amount()).unwrap();
            if t.is_sale() {
                e.0 = e.0.max(t.at().timestamp());
                e.1 += 1;
            }
        }
        let live: Vec<_> = m
            .into_iter()
            .filter(|(_, v)| v.1 > 0)
            .map(|(c, (last, f, mon))| (c, (end().timestamp() - last).div_euclid(86_400), f, mon))
            .collect();
        let r: Vec<i64> = live.iter().map(|x| -x.1).collect();
        let f: Vec<u32> = live.iter().map(|x| x.2).collect();
        let mo: Vec<Decimal> = live.iter().map(|x| x.3).collect();
        live.iter()
            .map(|&(c, d, fr, mon)| {
                let scores = (
                    score_by_definition(&r, &-d),
                    score_by_definition(&f, &fr),
                    score_by_definition(&mo, &mon),
                );
                (c, d, fr, mon, scores.0, scores.1, scores.2)
            })
            .collect()
    }

    type ValueRef = (
        BTreeMap<
            CustomerId,
            (
                u32,
                Decimal,
                Option<Decimal>,
                Option<DateTime<Utc>>,
                Option<DateTime<Utc>>,
            ),
        >,
        Decimal,
        Decimal,
    );

    /// Historical value by definition.
    fn value_reference(rows: &[Transaction]) -> ValueRef {
        let mut m = BTreeMap::new();
        let (mut sales, mut refunds) = (Decimal::ZERO, Decimal::ZERO);
        for t in rows {
            let a = t.signed_amount().amount();
            if t.is_sale() {
                sales = sales.checked_add(a).unwrap();
            } else {
                refunds = refunds.checked_add(a).unwrap();
            }
            let e = m.entry(t.customer()).or_insert((
                0u32,
                Decimal::ZERO,
                Some(Decimal::ZERO),
                None,
                None,
            ));
            e.1 = e.1.checked_add(a).unwrap();
            e.2 = match (e.2, t.margin()) {
                (Some(x), Some(y)) => Some(x.checked_add(y.amount()).unwrap()),
                _ => None,
            };
            e.3 = Some(e.3.map_or(t.at(), |f: DateTime<Utc>| f.min(t.at())));
            if t.is_sale() {
                e.0 += 1;
                e.4 = Some(e.4.map_or(t.at(), |l: DateTime<Utc>| l.max(t.at())));
            }
        }
        (m, sales, refunds)
    }

    /// Cohort cells by definition: (size, [(offset, customers, revenue,
    /// retained)]) per cohort, and the customers acquired before.
    #[allow(clippy::type_complexity)]
    fn cohort_reference(
        rows: &[Transaction],
    ) -> (Vec<(u64, Vec<(u32, u64, Decimal, Option<Decimal>)>)>, u64) {
        let spec = spec();
        let n = spec.buckets().len();
        let mut first: BTreeMap<CustomerId, DateTime<Utc>> = BTreeMap::new();
        let mut cells: BTreeMap<(CustomerId, usize), (u32, Decimal)> = BTreeMap::new();
        for t in rows.iter().filter(|t| t.at() < end()) {
            if t.is_sale() {
                let f = first.entry(t.customer()).or_insert(t.at());
                *f = (*f).min(t.at());
            }
            if let Some(b) = spec.index_of(t.at()) {
                let e = cells.entry((t.customer(), b)).or_insert((0, Decimal::ZERO));
                e.0 += u32::from(t.is_sale());
                e.1 = e.1.checked_add(t.signed_amount().amount()).unwrap();
            }
        }
        let mut sizes = vec![0u64; n];
        let mut before = 0;
        let mut cohort = BTreeMap::new();
        for (c, at) in &first {
            if *at < start() {
                before += 1;
            } else if let Some(i) = spec.index_of(*at) {
                sizes[i] += 1;
                let _ = cohort.insert(*c, i);
            }
        }
        let mut counts = vec![0u64; n * n];
        let mut revenue = vec![Decimal::ZERO; n * n];
        for ((c, b), (sales, rev)) in &cells {
            let Some(&k) = cohort.get(c) else { continue };
            if *b < k {
                continue;
            }
            counts[k * n + b] += u64::from(*sales > 0);
            revenue[k * n + b] = revenue[k * n + b].checked_add(*rev).unwrap();
        }
        let table = (0..n)
            .map(|k| {
                if sizes[k] == 0 {
                    return (0, Vec::new());
                }
                let base = revenue[k * n + k];
                let cells = (k..n)
                    .map(|b| {
                        let v = revenue[k * n + b].max(Decimal::ZERO);
                        let retained = (base > Decimal::ZERO).then(|| v.checked_div(base).unwrap());
                        ((b - k) as u32, counts[k * n + b], v, retained)
                    })
                    .collect();
                (sizes[k], cells)
            })
            .collect();
        (table, before)
    }

    fn rfm_of(rows: &[Transaction]) -> RfmAccumulator {
        let mut acc = RfmAccumulator::new(EUR, end());
        acc.push_batch(rows).unwrap();
        acc
    }
    fn value_of(rows: &[Transaction]) -> ValueAccumulator {
        let mut acc = ValueAccumulator::new(EUR);
        acc.push_batch(rows).unwrap();
        acc
    }
    fn cohort_of(rows: &[Transaction]) -> PurchaseCohortAccumulator {
        let mut acc = PurchaseCohortAccumulator::new(spec(), EUR);
        acc.push_batch(rows).unwrap();
        acc
    }

    fn check_rfm(acc: &RfmAccumulator, rows: &[Transaction]) -> Result<(), TestCaseError> {
        let expected = rfm_reference(rows);
        match acc.finish(&SegmentTable::standard()) {
            Err(_) => prop_assert!(expected.is_empty()),
            Ok(s) => {
                let mut got: Vec<_> = s
                    .customers
                    .iter()
                    .map(|c| {
                        (
                            c.customer,
                            c.recency_days,
                            c.frequency,
                            c.monetary,
                            c.r,
                            c.f,
                            c.m,
                        )
                    })
                    .collect();
                got.sort_by_key(|x| x.0);
                prop_assert_eq!(&got, &expected);
                for (g, e) in got.iter().zip(&expected) {
                    prop_assert!(same(g.3, e.3), "{} vs {}", g.3, e.3);
                }
            }
        }
        Ok(())
    }

    fn check_value(acc: &ValueAccumulator, rows: &[Transaction]) -> Result<(), TestCaseError> {
        let (m, sales, refunds) = value_reference(rows);
        let v = acc.finish();
        prop_assert!(same(v.sales.amount(), sales) && same(v.refunds.amount(), refunds));
        prop_assert_eq!(v.customers.len(), m.len());
        prop_assert_eq!(v.orders, m.values().map(|e| u64::from(e.0)).sum::<u64>());
        for c in &v.customers {
            let e = m.get(&c.customer).unwrap();
            prop_assert_eq!((c.orders, c.first, c.last_sale), (e.0, e.3, e.4));
            prop_assert!(
                same(c.revenue.amount(), e.1),
                "{} vs {}",
                c.revenue.amount(),
                e.1
            );
            match (c.margin, e.2) {
                (Some(a), Some(b)) => prop_assert!(same(a.amount(), b)),
                (None, None) => {}
                (a, b) => prop_assert!(false, "margin {a:?} vs {b:?}"),
            }
        }
        Ok(())
    }

    fn check_cohorts(
        acc: &PurchaseCohortAccumulator,
        rows: &[Transaction],
    ) -> Result<(), TestCaseError> {
        let (expected, before) = cohort_reference(rows);
        let t = acc.finish().unwrap();
        prop_assert_eq!(t.acquired_before, before);
        prop_assert_eq!(t.cohorts.len(), expected.len());
        for (c, (size, cells)) in t.cohorts.iter().zip(&expected) {
            prop_assert_eq!(c.size, *size);
            prop_assert_eq!(c.cells.len(), cells.len());
            for (g, e) in c.cells.iter().zip(cells) {
                let rev = g.revenue.unwrap().amount();
                prop_assert_eq!((g.offset, g.customers, rev, g.revenue_retained), *e);
                prop_assert!(same(rev, e.2), "{} vs {}", rev, e.2);
            }
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(96))]

        #[test]
        fn kernel_equals_the_definitions(
            ids in prop::collection::vec(any::<u128>(), 1..6),
            rows in prop::collection::vec(row(), 0..160),
        ) {
            let rows = ledger(&ids, &rows);
            check_rfm(&rfm_of(&rows), &rows)?;
            check_value(&value_of(&rows), &rows)?;
            check_cohorts(&cohort_of(&rows), &rows)?;
        }

        #[test]
        fn split_merge_and_order_independence(
            ids in prop::collection::vec(any::<u128>(), 1..6),
            rows in prop::collection::vec(row(), 0..120),
            split in 0usize..120,
        ) {
            let rows = ledger(&ids, &rows);
            let split = split.min(rows.len());
            let (head, tail) = rows.split_at(split);
            let reversed: Vec<Transaction> = head.iter().rev().copied().collect();

            let (one, mut a) = (rfm_of(&rows), rfm_of(&reversed));
            a.merge(&rfm_of(tail)).unwrap();
            prop_assert_eq!(&a, &one);
            check_rfm(&a, &rows)?;

            let (one, mut a) = (value_of(&rows), value_of(&reversed));
            a.merge(&value_of(tail)).unwrap();
            prop_assert_eq!(&a, &one);
            check_value(&a, &rows)?;

            let (one, mut a) = (cohort_of(&rows), cohort_of(&reversed));
            a.merge(&cohort_of(tail)).unwrap();
            prop_assert_eq!(&a, &one);
            check_cohorts(&a, &rows)?;
            prop_assert_eq!(a.finish().unwrap(), one.finish().unwrap());
        }

        #[test]
        fn row_by_row_equals_batch_and_serde_round_trips(
            ids in prop::collection::vec(any::<u128>(), 1..6),
            rows in prop::collection::vec(row(), 0..60),
        ) {
            let rows = ledger(&ids, &rows);
            let mut r = RfmAccumulator::new(EUR, end());
            let mut v = ValueAccumulator::new(EUR);
            let mut c = PurchaseCohortAccumulator::new(spec(), EUR);
            for t in &rows {
                r.push(t).unwrap();
                v.push(t).unwrap();
                c.push(t).unwrap();
            }
            prop_assert_eq!(&r, &rfm_of(&rows));
            prop_assert_eq!(&v, &value_of(&rows));
            prop_assert_eq!(&c, &cohort_of(&rows));
            let back: RfmAccumulator = serde_json::from_str(&serde_json::to_string(&r).unwrap()).unwrap();
            prop_assert_eq!(&back, &r);
            let back: ValueAccumulator = serde_json::from_str(&serde_json::to_string(&v).unwrap()).unwrap();
            prop_assert_eq!(&back, &v);
        }
    }

    #[test]
    fn shards_apply_rows_of_a_customer_in_input_order() {
        // Many chunks and both threads; an order-sensitive fold per customer.
        let rows: Vec<(CustomerId, u64)> = (0..20_000u64)
            .map(|i| (CustomerId::from_u128(u128::from(i * 7919 % 500)), i))
            .collect();
        let mut one: BTreeMap<CustomerId, (u64, u64)> = BTreeMap::new();
        for (c, v) in &rows {
            let s = one.entry(*c).or_default();
            s.0 += 1;
            s.1 = s.1.wrapping_mul(31).wrapping_add(*v);
        }
        let mut batch: Shards<(u64, u64)> = Shards::default();
        let stopped = batch
            .push_partitioned(
                &rows,
                |r| Rec::Keep(r.0, r.1),
                |s, _, _, v, _| {
                    s.0 += 1;
                    s.1 = s.1.wrapping_mul(31).wrapping_add(*v);
                    Ok(())
                },
            )
            .unwrap();
        assert_eq!(stopped, None);
        assert_eq!(batch.len(), 500);
        let got: BTreeMap<CustomerId, (u64, u64)> = batch.iter().map(|(c, s)| (*c, *s)).collect();
        assert_eq!(got, one);
    }

    #[test]
    fn a_short_last_chunk_does_not_reapply_earlier_records() {
        // CHUNK + 1 rows (test CHUNK = 64): the last chunk has one row, so
        // fewer parts than threads; each row must count once: 65 in total.
        let rows: Vec<(CustomerId, u64)> = (0..65u64)
            .map(|i| (CustomerId::from_u128(u128::from(i % 3)), 1))
            .collect();
        let mut batch: Shards<u64> = Shards::default();
        let stopped = batch
            .push_partitioned(
                &rows,
                |r| Rec::Keep(r.0, r.1),
                |s, _, _, v, _| {
                    *s += v;
                    Ok(())
                },
            )
            .unwrap();
        assert_eq!(stopped, None);
        assert_eq!(batch.states().sum::<u64>(), 65);
    }

    /// A ledger that makes the fused pass stop: the first rows (the scale
    /// prefix is 4 rows in tests) have whole amounts, then come amounts
    /// with 1 and 3 decimal places, then amounts beyond `i64` units at
    /// scale 3, then small amounts again; refunds and margins throughout.
    fn stopping_ledger() -> Vec<Transaction> {
        let ids = [1u128, 2, 3, 4, 5];
        let rows: Vec<Row> = (0..200i64)
            .map(|i| {
                let amount = match i {
                    0..40 => (i % 17, 0),
                    40..80 => (i * 3 % 29, 1),
                    80..120 => (i * 7 % 31, 3),
                    120..125 => (i64::MAX - i, 0),
                    _ => (i % 13, 2),
                };
                let margin = (i % 3 == 0).then_some((i % 11 - 5, (i % 4) as u32));
                (
                    (i * 7 % 5) as usize,
                    (i * 86_400 * 3 / 4) - 31 * 86_400,
                    0,
                    i % 9 != 0,
                    amount,
                    margin,
                )
            })
            .collect();
        ledger(&ids, &rows)
    }

    #[test]
    fn fused_pass_falls_back_on_larger_scales_and_i64_overflow() {
        let rows = stopping_ledger();
        check_rfm(&rfm_of(&rows), &rows).unwrap();
        check_value(&value_of(&rows), &rows).unwrap();
        check_cohorts(&cohort_of(&rows), &rows).unwrap();
        // Into accumulators with data (scanned first): the same results.
        let (head, tail) = rows.split_at(50);
        let mut r = rfm_of(head);
        r.push_batch(tail).unwrap();
        assert_eq!(r, rfm_of(&rows));
        let mut v = value_of(head);
        v.push_batch(tail).unwrap();
        assert_eq!(v, value_of(&rows));
        let mut c = cohort_of(head);
        c.push_batch(tail).unwrap();
        assert_eq!(c, cohort_of(&rows));
    }

    #[test]
    fn a_currency_mismatch_anywhere_adds_nothing() {
        let rows = stopping_ledger();
        let usd = Transaction::sale(
            CustomerId::from_u128(9),
            start(),
            Money::new(Decimal::ONE, Currency::USD),
            None,
        )
        .unwrap();
        let mismatch = |e: RelationshipError| {
            assert!(
                matches!(
                    e,
                    RelationshipError::CurrencyMismatch {
                        expected: EUR,
                        found: Currency::USD
                    }
                ),
                "{e:?}"
            );
        };
        // At the start, inside the scale prefix, after it, after the
        // scale and i64 stops, and last.
        for at in [0, 2, 30, 100, 150, rows.len()] {
            let mut bad = rows.clone();
            bad.insert(at, usd);
            // Empty accumulators stay empty.
            let mut r = RfmAccumulator::new(EUR, end());
            mismatch(r.push_batch(&bad).unwrap_err());
            assert_eq!(r, RfmAccumulator::new(EUR, end()));
            let mut v = ValueAccumulator::new(EUR);
            mismatch(v.push_batch(&bad).unwrap_err());
            assert_eq!(v, ValueAccumulator::new(EUR));
            let mut c = PurchaseCohortAccumulator::new(spec(), EUR);
            mismatch(c.push_batch(&bad).unwrap_err());
            assert_eq!(c, PurchaseCohortAccumulator::new(spec(), EUR));
            // Accumulators with data keep it, and still take good rows.
            let (head, tail) = bad.split_at(at.min(10));
            let mut r = rfm_of(head);
            let before = r.clone();
            mismatch(r.push_batch(tail).unwrap_err());
            assert_eq!(r, before);
            let mut v = value_of(head);
            let before = v.clone();
            mismatch(v.push_batch(tail).unwrap_err());
            assert_eq!(v, before);
            let mut c = cohort_of(head);
            let before = c.clone();
            mismatch(c.push_batch(tail).unwrap_err());
            assert_eq!(c, before);
            r.push_batch(&rows).unwrap();
            check_rfm(&r, &[head, &rows[..]].concat()).unwrap();
        }
    }

    #[test]
    fn earlier_set_treats_min_as_none() {
        let (a, b) = (At::new(5, 0), At::new(5, 1));
        assert_eq!(At::earlier_set(At::MIN, b), b);
        assert_eq!(At::earlier_set(a, At::MIN), a);
        assert_eq!(At::earlier_set(b, a), a);
        assert_eq!(At::earlier_set(At::MIN, At::MIN), At::MIN);
    }

    #[test]
    fn split_words_round_trip() {
        for v in [
            0i64,
            1,
            -1,
            i64::MAX,
            i64::MIN,
            1 << 32,
            -(1 << 32),
            86_400 * 20_000,
        ] {
            assert_eq!(Split64::new(v).get(), v);
        }
        assert_eq!(std::mem::align_of::<Split64>(), 4);
    }

    #[test]
    fn units_are_exact_and_checked() {
        // 12.5 at scale 3 is 12500 units; 0.001 does not fit scale 2.
        assert_eq!(units(Decimal::new(125, 1), 3), Some(12_500));
        assert_eq!(units(Decimal::new(1, 3), 2), None);
        // Back with the largest scale of the summands: 12500 units at scale 3 → 12.50.
        let d = decimal(12_500, 3, 2).unwrap();
        assert_eq!((d, d.scale()), (Decimal::new(1250, 2), 2));
        assert!(decimal(i128::MAX, 0, 0).is_err());
        // Sums stay within a Decimal mantissa: 2^96 − 1 is fine, one more is an overflow.
        let mut v = (1i128 << 96) - 2;
        add(&mut v, 1, "test").unwrap();
        assert!(add(&mut v, 1, "test").is_err());
        assert!(decimal(v, 0, 0).is_ok());
        let mut v = i128::MAX / 10;
        assert!(rescale(&mut v, 2).is_err());
        let mut scan = AmountScan::default();
        scan.add(Decimal::new(i64::MAX, 0));
        assert!(scan.fits_i64(0) && !scan.fits_i64(1));
    }
}
