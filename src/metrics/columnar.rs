//! The columnar fast path: scores and group keys as slices.
//!
//! For large inputs (millions of answers) pushing one [`Scored`] at a time
//! through a hash map of groups is needlessly slow. Here the caller passes
//! a `&[u8]` column of scores and one or two `&[u32]` columns of dense group
//! indexes (`0..groups`); crmkit counts scores per group in a flat table,
//! splitting the rows over threads, and hands back one ordinary accumulator
//! per group. The result equals pushing every row through the per-answer
//! path (the property tests check this), and the accumulators merge with
//! any other accumulator configured the same way.
//!
//! Unweighted only: weighted answers go through the per-answer path.
//!
//! [`Scored`]: crate::metrics::score::Scored

use crate::metrics::ces::Ces;
use crate::metrics::csat::Csat;
use crate::metrics::nps::Nps;
use crate::metrics::score::{MetricError, ScoreHistogram, ScoreRange};

/// Survey accumulators that are a configuration plus a [`ScoreHistogram`],
/// so the columnar path can build them from counts.
pub trait HistogramAccumulator: Sized {
    /// The score range of the accumulator's histogram.
    fn score_range(&self) -> ScoreRange;
    /// An accumulator configured like `self` holding `histogram`.
    ///
    /// # Errors
    /// If the histogram's range differs from the configuration's.
    fn with_histogram(&self, histogram: ScoreHistogram) -> Result<Self, MetricError>;
}

impl HistogramAccumulator for Nps {
    fn score_range(&self) -> ScoreRange {
        self.histogram().range()
    }
    fn with_histogram(&self, histogram: ScoreHistogram) -> Result<Self, MetricError> {
        Nps::with_histogram(self, histogram)
    }
}

impl HistogramAccumulator for Csat {
    fn score_range(&self) -> ScoreRange {
        self.histogram().range()
    }
    fn with_histogram(&self, histogram: ScoreHistogram) -> Result<Self, MetricError> {
        Csat::with_histogram(self, histogram)
    }
}

impl HistogramAccumulator for Ces {
    fn score_range(&self) -> ScoreRange {
        self.histogram().range()
    }
    fn with_histogram(&self, histogram: ScoreHistogram) -> Result<Self, MetricError> {
        Ces::with_histogram(self, histogram)
    }
}

/// How many threads to use: `0` means all available cores.
fn thread_count(threads: usize, rows: usize) -> usize {
    let t = if threads == 0 {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    } else {
        threads
    };
    // Below ~64k rows per thread, spawning costs more than it saves.
    t.min(rows / 65_536 + 1).max(1)
}

/// Where a row was rejected.
enum Bad {
    Score(usize),
    Key(usize),
}

/// Key columns of one chunk: one dense key, or a pair combined as
/// `outer * inner_groups + inner`.
#[derive(Clone, Copy)]
enum KeyCols<'a> {
    One(&'a [u32]),
    Pair {
        outer: &'a [u32],
        inner: &'a [u32],
        outer_groups: usize,
        inner_groups: usize,
    },
}

/// Rows per batch of the two-phase kernel (fits in L1 with its index
/// buffer).
const BATCH: usize = 2048;

/// Counts one block of rows into `table` (`groups x width` cells, at most
/// `u32::MAX`); returns whether any row was invalid (the caller then
/// discards the table).
///
/// Two phases per batch of rows: a branch-free pass over zipped slices
/// computes each row's cell index in `u32` and folds validity into a flag
/// (the compiler vectorises it), then a tight scalar pass increments the
/// cells. Splitting them keeps the scatter loop to a load and an increment
/// per row.
fn count_block<C: Counter>(
    range: ScoreRange,
    scores: &[u8],
    keys: KeyCols<'_>,
    table: &mut [C],
) -> bool {
    let width = u32::try_from(range.width()).unwrap_or(u32::MAX);
    let min = u32::from(range.min());
    let mut idx = [0u32; BATCH];
    match keys {
        KeyCols::One(k) => {
            let groups = u32::try_from(table.len() / range.width()).unwrap_or(u32::MAX);
            for (sc, kc) in scores.chunks(BATCH).zip(k.chunks(BATCH)) {
                let mut bad = false;
                for ((dst, &score), &key) in idx.iter_mut().zip(sc).zip(kc) {
                    let s = u32::from(score).wrapping_sub(min);
                    bad |= (s >= width) | (key >= groups);
                    *dst = key.wrapping_mul(width).wrapping_add(s);
                }
                if bad {
                    return true;
                }
                scatter(&idx, sc.len(), table);
            }
        }
        KeyCols::Pair {
            outer,
            inner,
            outer_groups,
            inner_groups,
        } => {
            let n_o = u32::try_from(outer_groups).unwrap_or(u32::MAX);
            let n_i = u32::try_from(inner_groups).unwrap_or(u32::MAX);
            let batches = scores
                .chunks(BATCH)
                .zip(outer.chunks(BATCH))
                .zip(inner.chunks(BATCH));
            for ((sc, oc), ic) in batches {
                let mut bad = false;
                for (((dst, &score), &o), &i) in idx.iter_mut().zip(sc).zip(oc).zip(ic) {
                    let s = u32::from(score).wrapping_sub(min);
                    bad |= (s >= width) | (o >= n_o) | (i >= n_i);
                    *dst = o
                        .wrapping_mul(n_i)
                        .wrapping_add(i)
                        .wrapping_mul(width)
                        .wrapping_add(s);
                }
                if bad {
                    return true;
                }
                scatter(&idx, sc.len(), table);
            }
        }
    }
    false
}

fn scatter<C: Counter>(idx: &[u32], len: usize, table: &mut [C]) {
    for &k in idx.iter().take(len) {
        if let Some(c) = table.get_mut(k as usize) {
            c.bump();
        }
    }
}

/// A block counter: `u16` when the table is small (it then fits in L1
/// cache; flushed every `u16::MAX` rows), `u32` otherwise.
trait Counter: Copy + Default {
    /// Most rows a block may count without overflow.
    const BLOCK_ROWS: usize;
    fn bump(&mut self);
    fn take(&mut self) -> u64;
}

impl Counter for u16 {
    const BLOCK_ROWS: usize = u16::MAX as usize;
    fn bump(&mut self) {
        *self = self.wrapping_add(1);
    }
    fn take(&mut self) -> u64 {
        u64::from(std::mem::take(self))
    }
}

impl Counter for u32 {
    const BLOCK_ROWS: usize = u32::MAX as usize;
    fn bump(&mut self) {
        *self = self.wrapping_add(1);
    }
    fn take(&mut self) -> u64 {
        u64::from(std::mem::take(self))
    }
}

/// Counts rows `a..b`. Counters are `u16` (tables up to 65,536 cells) or
/// `u32` per block of rows, a fraction of the cache footprint of `u64`,
/// flushed into `u64` totals. On an invalid row, a second slow pass finds
/// the first one for the error.
fn count_chunk(
    range: ScoreRange,
    scores: &[u8],
    keys: KeyCols<'_>,
    groups: usize,
    a: usize,
    b: usize,
) -> Result<Vec<u64>, (usize, Bad)> {
    if groups.saturating_mul(range.width()) <= 1 << 16 {
        count_chunk_with::<u16>(range, scores, keys, groups, a, b)
    } else {
        count_chunk_with::<u32>(range, scores, keys, groups, a, b)
    }
}

fn count_chunk_with<C: Counter>(
    range: ScoreRange,
    scores: &[u8],
    keys: KeyCols<'_>,
    groups: usize,
    a: usize,
    b: usize,
) -> Result<Vec<u64>, (usize, Bad)> {
    let cells = groups.saturating_mul(range.width());
    let mut total = vec![0u64; cells];
    let mut block = vec![C::default(); cells];
    let block_rows = C::BLOCK_ROWS;
    let mut start = a;
    while start < b {
        let end = b.min(start.saturating_add(block_rows));
        let s = scores.get(start..end).unwrap_or(&[]);
        let k = match keys {
            KeyCols::One(k) => KeyCols::One(k.get(start..end).unwrap_or(&[])),
            KeyCols::Pair {
                outer,
                inner,
                outer_groups,
                inner_groups,
            } => KeyCols::Pair {
                outer: outer.get(start..end).unwrap_or(&[]),
                inner: inner.get(start..end).unwrap_or(&[]),
                outer_groups,
                inner_groups,
            },
        };
        if count_block(range, s, k, &mut block) {
            return Err(first_bad(range, scores, keys, groups, start, end));
        }
        for (t, c) in total.iter_mut().zip(block.iter_mut()) {
            *t += c.take();
        }
        start = end;
    }
    Ok(total)
}

fn first_bad(
    range: ScoreRange,
    scores: &[u8],
    keys: KeyCols<'_>,
    groups: usize,
    a: usize,
    b: usize,
) -> (usize, Bad) {
    for row in a..b {
        if !scores.get(row).is_some_and(|&s| range.contains(s)) {
            return (row, Bad::Score(row));
        }
        let ok = match keys {
            KeyCols::One(k) => k.get(row).is_some_and(|&k| (k as usize) < groups),
            KeyCols::Pair {
                outer,
                inner,
                outer_groups,
                inner_groups,
            } => {
                outer.get(row).is_some_and(|&o| (o as usize) < outer_groups)
                    && inner.get(row).is_some_and(|&i| (i as usize) < inner_groups)
            }
        };
        if !ok {
            return (row, Bad::Key(row));
        }
    }
    (b, Bad::Key(b))
}

/// Runs `count` over row ranges on threads and sums the tables.
fn parallel<F>(rows: usize, threads: usize, cells: usize, count: F) -> Result<Vec<u64>, Bad>
where
    F: Fn(usize, usize) -> Result<Vec<u64>, (usize, Bad)> + Sync,
{
    let t = thread_count(threads, rows);
    let step = rows.div_ceil(t).max(1);
    let results: Vec<Result<Vec<u64>, (usize, Bad)>> = if t == 1 {
        vec![count(0, rows)]
    } else {
        std::thread::scope(|scope| {
            let count = &count;
            let handles: Vec<_> = (0..rows)
                .step_by(step)
                .map(|start| scope.spawn(move || count(start, (start + step).min(rows))))
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|_| Ok(Vec::new())))
                .collect()
        })
    };
    let mut total = vec![0u64; cells];
    let mut first_bad: Option<(usize, Bad)> = None;
    for r in results {
        match r {
            Ok(table) => {
                for (a, b) in total.iter_mut().zip(&table) {
                    // At most `rows` in total: cannot overflow u64.
                    *a += *b;
                }
            }
            Err((row, bad)) => {
                if first_bad.as_ref().is_none_or(|(r, _)| row < *r) {
                    first_bad = Some((row, bad));
                }
            }
        }
    }
    match first_bad {
        Some((_, bad)) => Err(bad),
        None => Ok(total),
    }
}

fn into_accumulators<A: HistogramAccumulator>(
    template: &A,
    table: Vec<u64>,
    groups: usize,
) -> Result<Vec<A>, MetricError> {
    let range = template.score_range();
    let width = range.width();
    let mut out = Vec::with_capacity(groups);
    for counts in table.chunks(width) {
        out.push(template.with_histogram(ScoreHistogram::from_counts(range, counts.to_vec())?)?);
    }
    // A table with zero groups has no chunks; keep `groups` entries anyway.
    while out.len() < groups {
        out.push(template.with_histogram(ScoreHistogram::new(range))?);
    }
    Ok(out)
}

/// One accumulator per group: row `i` has score `scores[i]` and group
/// `keys[i]` in `0..groups`. `threads == 0` uses every core.
///
/// # Errors
/// [`MetricError::LengthMismatch`], [`MetricError::ScoreOutOfRange`] or
/// [`MetricError::KeyOutOfRange`] for the first bad row.
///
/// # Example
/// ```
/// use crmkit::metrics::accumulator::Accumulator;
/// use crmkit::metrics::columnar::by_key;
/// use crmkit::metrics::nps::Nps;
/// use rust_decimal::Decimal;
/// let scores = [10, 0, 9, 9, 7];
/// let keys = [0, 0, 1, 1, 1];
/// let groups = by_key(&Nps::standard(), &scores, &keys, 2, 0)?;
/// assert_eq!(groups[0].finish().score(), Some(Decimal::ZERO));
/// // 2 promoters and a passive: 100 * 2 / 3 = 66.67.
/// assert_eq!(groups[1].finish().score(), Some(Decimal::new(6667, 2)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn by_key<A: HistogramAccumulator>(
    template: &A,
    scores: &[u8],
    keys: &[u32],
    groups: usize,
    threads: usize,
) -> Result<Vec<A>, MetricError> {
    if scores.len() != keys.len() {
        return Err(MetricError::LengthMismatch {
            left: scores.len(),
            right: keys.len(),
        });
    }
    let range = template.score_range();
    let cells = checked_cells(groups, range)?;
    let table = parallel(scores.len(), threads, cells, |a, b| {
        count_chunk(range, scores, KeyCols::One(keys), groups, a, b)
    })
    .map_err(|bad| row_error(bad, range, scores, |r| keys.get(r).copied(), groups))?;
    into_accumulators(template, table, groups)
}

/// One accumulator per pair of groups: row `i` is in group
/// `outer[i] * inner_groups + inner[i]` (for example segment x month), with
/// `outer[i] < outer_groups` and `inner[i] < inner_groups`. `threads == 0`
/// uses every core.
///
/// # Errors
/// [`MetricError::LengthMismatch`], [`MetricError::ScoreOutOfRange`] or
/// [`MetricError::KeyOutOfRange`] (naming the combined key) for the first
/// bad row.
///
/// # Example
/// ```
/// use crmkit::metrics::accumulator::Accumulator;
/// use crmkit::metrics::columnar::by_key_pair;
/// use crmkit::metrics::csat::Csat;
/// use crmkit::metrics::score::ScoreRange;
/// let scores = [5, 1, 4, 4];
/// let segment = [0, 0, 1, 1];
/// let month = [0, 1, 1, 1];
/// let g = by_key_pair(&Csat::for_scale(ScoreRange::ONE_TO_FIVE)?, &scores, &segment, 2, &month, 2, 1)?;
/// assert_eq!(g.len(), 4);
/// assert_eq!(g[1 * 2 + 1].finish().hits(), 2); // segment 1, month 1
/// assert!(g[1 * 2 + 0].finish().is_no_data());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn by_key_pair<A: HistogramAccumulator>(
    template: &A,
    scores: &[u8],
    outer: &[u32],
    outer_groups: usize,
    inner: &[u32],
    inner_groups: usize,
    threads: usize,
) -> Result<Vec<A>, MetricError> {
    for len in [outer.len(), inner.len()] {
        if scores.len() != len {
            return Err(MetricError::LengthMismatch {
                left: scores.len(),
                right: len,
            });
        }
    }
    let groups = outer_groups.saturating_mul(inner_groups);
    let range = template.score_range();
    let cells = checked_cells(groups, range)?;
    let cols = KeyCols::Pair {
        outer,
        inner,
        outer_groups,
        inner_groups,
    };
    let table = parallel(scores.len(), threads, cells, |a, b| {
        count_chunk(range, scores, cols, groups, a, b)
    })
    .map_err(|bad| {
        let key_at = |r: usize| {
            let (o, i) = (*outer.get(r)?, *inner.get(r)?);
            Some(
                o.saturating_mul(u32::try_from(inner_groups).unwrap_or(u32::MAX))
                    .saturating_add(i),
            )
        };
        row_error(bad, range, scores, key_at, groups)
    })?;
    into_accumulators(template, table, groups)
}

/// The table size, which must fit the `u32` cell indexes of the kernel.
fn checked_cells(groups: usize, range: ScoreRange) -> Result<usize, MetricError> {
    groups
        .checked_mul(range.width())
        .filter(|&c| c <= u32::MAX as usize)
        .ok_or_else(|| MetricError::InvalidConfig {
            what: "columnar groups",
            reason: format!(
                "{groups} groups x {} scores exceed 2^32 cells",
                range.width()
            ),
        })
}

fn row_error(
    bad: Bad,
    range: ScoreRange,
    scores: &[u8],
    key_at: impl Fn(usize) -> Option<u32>,
    groups: usize,
) -> MetricError {
    match bad {
        Bad::Score(row) => MetricError::ScoreOutOfRange {
            score: scores.get(row).map_or(-1, |&s| i64::from(s)),
            min: range.min(),
            max: range.max(),
        },
        Bad::Key(row) => MetricError::KeyOutOfRange {
            row,
            key: key_at(row).unwrap_or(u32::MAX),
            groups,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_the_first_bad_row() {
        let t = Nps::standard();
        assert!(matches!(
            by_key(&t, &[1, 2], &[0], 1, 1),
            Err(MetricError::LengthMismatch { .. })
        ));
        assert!(matches!(
            by_key(&t, &[1, 11], &[0, 0], 1, 1),
            Err(MetricError::ScoreOutOfRange { score: 11, .. })
        ));
        assert!(matches!(
            by_key(&t, &[1, 2, 3], &[0, 0, 5], 2, 1),
            Err(MetricError::KeyOutOfRange {
                row: 2,
                key: 5,
                groups: 2
            })
        ));
        assert!(matches!(
            by_key_pair(&t, &[1], &[0], 1, &[3], 2, 1),
            Err(MetricError::KeyOutOfRange { row: 0, .. })
        ));
    }

    #[test]
    fn huge_tables_are_refused_before_allocating() {
        assert!(matches!(
            by_key(&Nps::standard(), &[1], &[0], 1 << 30, 1),
            Err(MetricError::InvalidConfig { .. })
        ));
        assert!(by_key_pair(&Nps::standard(), &[1], &[0], usize::MAX, &[0], 2, 1).is_err());
    }

    #[test]
    fn batches_equal_per_row_pushes() {
        use crate::metrics::accumulator::Accumulator;
        // More rows than one batch, with a bad row far past the first batch.
        let n = 5 * BATCH + 17;
        let scores: Vec<u8> = (0..n).map(|i| (i * 5 % 11) as u8).collect();
        let outer: Vec<u32> = (0..n).map(|i| (i % 3) as u32).collect();
        let inner: Vec<u32> = (0..n).map(|i| (i * 7 % 5) as u32).collect();
        let col = by_key_pair(&Nps::standard(), &scores, &outer, 3, &inner, 5, 1).unwrap();
        let mut per_row = vec![Nps::standard(); 15];
        for i in 0..n {
            per_row[(outer[i] * 5 + inner[i]) as usize]
                .push_score(scores[i])
                .unwrap();
        }
        assert_eq!(col, per_row);
        let mut bad = scores.clone();
        bad[4 * BATCH + 3] = 12;
        assert!(matches!(
            by_key_pair(&Nps::standard(), &bad, &outer, 3, &inner, 5, 2),
            Err(MetricError::ScoreOutOfRange { score: 12, .. })
        ));
        let _ = Nps::standard().finish();
    }

    #[test]
    fn large_tables_use_wide_counters_and_agree() {
        use crate::metrics::accumulator::Accumulator;
        // 7000 groups x 11 scores = 77,000 cells: the u32 path.
        let n = 70_000;
        let scores: Vec<u8> = (0..n).map(|i| (i * 3 % 11) as u8).collect();
        let keys: Vec<u32> = (0..n).map(|i| (i * 31 % 7000) as u32).collect();
        let col = by_key(&Nps::standard(), &scores, &keys, 7000, 1).unwrap();
        let mut per_row = vec![Nps::standard(); 7000];
        for i in 0..n {
            per_row[keys[i] as usize].push(scores[i].into()).unwrap();
        }
        assert_eq!(col, per_row);
    }

    #[test]
    fn threads_agree() {
        let n = 300_000;
        let scores: Vec<u8> = (0..n).map(|i| (i * 7 % 11) as u8).collect();
        let keys: Vec<u32> = (0..n).map(|i| (i * 13 % 17) as u32).collect();
        let one = by_key(&Nps::standard(), &scores, &keys, 17, 1).unwrap();
        let many = by_key(&Nps::standard(), &scores, &keys, 17, 4).unwrap();
        assert_eq!(one, many);
    }
}
