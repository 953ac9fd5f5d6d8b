//! The BG/NBD model of repeat purchasing (Fader, Hardie & Lee 2005).
//!
//! While alive, a customer buys as a Poisson process with rate `λ`; after
//! each purchase they die with probability `p`. Across customers
//! `λ ~ Gamma(r, α)` (shape `r`, rate `α`) and `p ~ Beta(a, b)`. Time is in
//! the summary's periods (days by default), so `α` is in periods.
//!
//! The formulas are those of the paper (equations 6, 8, 9 and 10) and of
//! its technical note on P(X(t) = n); they are the ones `lifetimes`'
//! `BetaGeoFitter` implements.

use super::optim::{self, Derivatives, FitOptions, FitReport, Minimum, Order};
use super::sort;
use super::special::{
    beta_reg, bgnbd_bracket, bgnbd_brackets, digamma, ln_beta, ln_gamma, log_add_exp, trigamma,
};
use super::summary::Summary;
use super::{BtydError, finite, non_negative, positive};

/// Fitted or given BG/NBD parameters, all positive and finite.
///
/// # Example
/// ```
/// use crmkit::metrics::btyd::bgnbd::BgNbdParams;
/// // The CDNOW estimates of Fader, Hardie & Lee (2005), time in weeks.
/// let p = BgNbdParams::new(0.243, 4.414, 0.793, 2.426)?;
/// // A new customer buys about 1.2 more times in their first 39 weeks.
/// let e = p.expected_purchases(39.0)?;
/// assert!((e - 1.197).abs() < 1e-3);
/// Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BgNbdParams {
    r: f64,
    alpha: f64,
    a: f64,
    b: f64,
}

impl BgNbdParams {
    /// Builds the parameters: shape `r` and rate `alpha` of the purchase-rate
    /// Gamma, `a` and `b` of the dropout-probability Beta.
    ///
    /// # Errors
    /// [`BtydError::OutOfRange`] unless all four are positive and finite.
    pub fn new(r: f64, alpha: f64, a: f64, b: f64) -> Result<Self, BtydError> {
        Ok(Self {
            r: positive("r", r)?,
            alpha: positive("alpha", alpha)?,
            a: positive("a", a)?,
            b: positive("b", b)?,
        })
    }

    /// Shape of the purchase-rate Gamma.
    pub fn r(&self) -> f64 {
        self.r
    }
    /// Rate (scale in time) of the purchase-rate Gamma, in periods.
    pub fn alpha(&self) -> f64 {
        self.alpha
    }
    /// First parameter of the dropout Beta.
    pub fn a(&self) -> f64 {
        self.a
    }
    /// Second parameter of the dropout Beta.
    pub fn b(&self) -> f64 {
        self.b
    }

    /// `E[X(t)]`: the expected number of purchases of a new customer in
    /// their first `t` periods after the first purchase (paper, eq. 9):
    /// `(a+b-1)/(a-1) · [1 - (α/(α+t))^r · 2F1(r, b; a+b-1; t/(α+t))]`.
    ///
    /// At `a = 1` the formula is `0/0`; its limit is computed exactly (see
    /// [`special`](super::special)), so values on either side of `a = 1`
    /// join continuously.
    ///
    /// # Errors
    /// [`BtydError::OutOfRange`] when `t` is negative or not finite,
    /// [`BtydError::Hypergeometric`] when `t` is so large relative to `α`
    /// that `2F1` cannot be evaluated.
    pub fn expected_purchases(&self, t: f64) -> Result<f64, BtydError> {
        let t = non_negative("t", t)?;
        let z = t / (self.alpha + t);
        let v = bgnbd_bracket(self.r, self.a + self.b - 1.0, self.a - 1.0, z)?;
        finite("expected purchases", v.max(0.0))
    }

    /// `E[Y(t) | x, t_x, T]`: the expected number of purchases in the next
    /// `t` periods of a customer with frequency `x`, recency `t_x` and age
    /// `T` (paper, eq. 10).
    ///
    /// # Errors
    /// [`BtydError::InvalidObservation`] for an impossible `(x, t_x, T)`,
    /// [`BtydError::OutOfRange`] for a negative `t`,
    /// [`BtydError::Hypergeometric`] when `2F1` cannot be evaluated.
    pub fn conditional_expected_purchases(
        &self,
        t: f64,
        x: f64,
        t_x: f64,
        age: f64,
    ) -> Result<f64, BtydError> {
        let t = non_negative("t", t)?;
        check_observation(0, x, t_x, age)?;
        let num = self.conditional_bracket(t, x, age)?;
        Self::conditional_from(num, self.alive(x, t_x, age))
    }

    /// The factor of `E[Y(t) | x, t_x, T]` that depends on `(x, T)` only:
    /// the expectation is this times `P(alive | x, t_x, T)`.
    fn conditional_bracket(&self, t: f64, x: f64, age: f64) -> Result<f64, BtydError> {
        let z = t / (self.alpha + age + t);
        bgnbd_bracket(self.r + x, self.a + self.b + x - 1.0, self.a - 1.0, z)
    }

    /// [`BgNbdParams::conditional_bracket`] at several horizons.
    pub(crate) fn conditional_brackets(
        &self,
        ts: &[f64],
        x: f64,
        age: f64,
    ) -> Result<Vec<f64>, BtydError> {
        let zs = ts
            .iter()
            .map(|&t| non_negative("t", t).map(|t| t / (self.alpha + age + t)))
            .collect::<Result<Vec<_>, _>>()?;
        bgnbd_brackets(self.r + x, self.a + self.b + x - 1.0, self.a - 1.0, &zs)
    }

    /// `E[Y(t) | x, t_x, T]` from its `(x, T)` factor and `P(alive)`.
    pub(crate) fn conditional_from(bracket: f64, alive: f64) -> Result<f64, BtydError> {
        finite("conditional expected purchases", (bracket * alive).max(0.0))
    }

    /// [`BgNbdParams::conditional_expected_purchases`] at several horizons
    /// `ts` for one customer, sharing the work between them (the series
    /// coefficients do not depend on `t`).
    ///
    /// # Errors
    /// As [`BgNbdParams::conditional_expected_purchases`].
    ///
    /// # Example
    /// ```
    /// use crmkit::metrics::btyd::bgnbd::BgNbdParams;
    /// let p = BgNbdParams::new(0.243, 4.414, 0.793, 2.426)?;
    /// let e = p.conditional_expected_purchases_at(&[13.0, 26.0, 39.0], 2.0, 30.43, 38.86)?;
    /// assert!((e[2] - p.conditional_expected_purchases(39.0, 2.0, 30.43, 38.86)?).abs() < 1e-12);
    /// assert!(e[0] < e[1] && e[1] < e[2]);
    /// Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn conditional_expected_purchases_at(
        &self,
        ts: &[f64],
        x: f64,
        t_x: f64,
        age: f64,
    ) -> Result<Vec<f64>, BtydError> {
        check_observation(0, x, t_x, age)?;
        let nums = self.conditional_brackets(ts, x, age)?;
        let alive = self.alive(x, t_x, age);
        nums.into_iter()
            .map(|num| Self::conditional_from(num, alive))
            .collect()
    }

    /// `P(alive | x, t_x, T)` (paper, eq. 11); `1` for a customer with no
    /// repeat purchase (in the model, a death happens only after a purchase).
    ///
    /// # Errors
    /// [`BtydError::InvalidObservation`] for an impossible `(x, t_x, T)`.
    pub fn probability_alive(&self, x: f64, t_x: f64, age: f64) -> Result<f64, BtydError> {
        check_observation(0, x, t_x, age)?;
        Ok(self.alive(x, t_x, age))
    }

    pub(crate) fn alive(&self, x: f64, t_x: f64, age: f64) -> f64 {
        if x == 0.0 {
            return 1.0;
        }
        self.alive_given(x, t_x, age, self.ln_dropout_odds(x))
    }

    /// `ln(a / (b + x - 1))`, the part of `P(alive)`'s log-odds that
    /// depends on `x` only.
    pub(crate) fn ln_dropout_odds(&self, x: f64) -> f64 {
        (self.a / (self.b + x - 1.0)).ln()
    }

    /// `P(alive)` for `x > 0` given [`BgNbdParams::ln_dropout_odds`] of `x`
    /// (computed once for many customers; the same value as `alive`).
    pub(crate) fn alive_given(&self, x: f64, t_x: f64, age: f64, ln_dropout_odds: f64) -> f64 {
        // 1 / (1 + a/(b+x-1) ((α+T)/(α+t_x))^(r+x)) as a logistic in log space.
        let log_odds_dead =
            (self.r + x) * ((self.alpha + age) / (self.alpha + t_x)).ln() + ln_dropout_odds;
        let p = 1.0 / (1.0 + log_odds_dead.exp());
        if p.is_finite() {
            p.clamp(0.0, 1.0)
        } else {
            0.0
        }
    }

    /// `P(X(t) = n)`: the probability that a new customer makes exactly `n`
    /// repeat purchases in `t` periods (Fader, Hardie & Lee, "A Note on
    /// Deriving the Pareto/NBD Model and Related Expressions", BG/NBD eq. 8):
    ///
    /// `Γ(r+n)/(Γ(r) n!) (α/(α+t))^r (t/(α+t))^n B(a, b+n)/B(a, b)`
    /// `+ 1{n>0} B(a+1, b+n-1)/B(a, b) · P(NBD(r, α; t) >= n)`.
    ///
    /// # Errors
    /// [`BtydError::OutOfRange`] for a negative or non-finite `t`.
    pub fn probability_of_purchases(&self, n: u32, t: f64) -> Result<f64, BtydError> {
        let t = non_negative("t", t)?;
        let (r, alpha, a, b) = (self.r, self.alpha, self.a, self.b);
        let nf = f64::from(n);
        if t == 0.0 {
            return Ok(if n == 0 { 1.0 } else { 0.0 });
        }
        let ln_p0 = (alpha / (alpha + t)).ln();
        let ln_z = (t / (alpha + t)).ln();
        let ln_nbd = ln_gamma(r + nf) - ln_gamma(r) - ln_gamma(nf + 1.0) + r * ln_p0 + nf * ln_z;
        let first = (ln_nbd + ln_beta(a, b + nf) - ln_beta(a, b)).exp();
        let second = if n > 0 {
            // P(N >= n) for the negative binomial mixture is I_z(n, r).
            let tail = beta_reg(nf, r, t / (alpha + t));
            (ln_beta(a + 1.0, b + nf - 1.0) - ln_beta(a, b)).exp() * tail
        } else {
            0.0
        };
        finite("probability", (first + second).clamp(0.0, 1.0))
    }

    /// The log-likelihood of one customer (paper, eq. 6), in log space.
    ///
    /// # Errors
    /// [`BtydError::InvalidObservation`] for an impossible `(x, t_x, T)`.
    pub fn log_likelihood(&self, x: f64, t_x: f64, age: f64) -> Result<f64, BtydError> {
        check_observation(0, x, t_x, age)?;
        let (r, alpha, a, b) = (self.r, self.alpha, self.a, self.b);
        let a12 =
            ln_gamma(r + x) - ln_gamma(r) + r * alpha.ln() + ln_gamma(a + b) + ln_gamma(b + x)
                - ln_gamma(b)
                - ln_gamma(a + b + x);
        let a3 = -(r + x) * (alpha + age).ln();
        let ll = if x > 0.0 {
            let a4 = (a / (b + x - 1.0)).ln() - (r + x) * (alpha + t_x).ln();
            a12 + log_add_exp(a3, a4)
        } else {
            a12 + a3
        };
        finite("log-likelihood", ll)
    }
}

/// Distinct rows from which the batch predictions use two threads.
const PARALLEL_PREDICTION_ROWS: usize = 1 << 15;

/// Whether this process may run on at least two cores.
pub(crate) fn two_cores() -> bool {
    std::thread::available_parallelism().is_ok_and(|n| n.get() >= 2)
}

/// Checks one `(x, t_x, T)` observation.
pub(crate) fn check_observation(index: usize, x: f64, t_x: f64, age: f64) -> Result<(), BtydError> {
    let bad = |reason| {
        Err(BtydError::InvalidObservation {
            index,
            x,
            t_x,
            age,
            reason,
        })
    };
    if !(x.is_finite() && t_x.is_finite() && age.is_finite()) {
        return bad("values must be finite");
    }
    if x < 0.0 || t_x < 0.0 || age < 0.0 {
        return bad("values must not be negative");
    }
    if x.fract() != 0.0 {
        return bad("frequency must be a whole number");
    }
    if x > 0.0 && t_x == 0.0 {
        return bad("a customer with repeat purchases must have recency > 0");
    }
    if x == 0.0 && t_x != 0.0 {
        return bad("a customer without repeat purchases must have recency 0");
    }
    if t_x > age {
        return bad("recency must not exceed age");
    }
    Ok(())
}

#[derive(Debug, Clone, Copy)]
struct Row {
    ix: u32,
    it: u32,
    itx: u32,
    /// Index into [`BgNbdData::pairs`], the distinct `(x, t_x)`.
    ixtx: u32,
    w: f64,
}

/// Customers' `(x, t_x, T)` observations, identical rows collapsed with
/// weights, ready to fit.
///
/// # Example
/// ```
/// use crmkit::metrics::btyd::bgnbd::BgNbdData;
/// let data = BgNbdData::new([(0.0, 0.0, 30.0), (2.0, 20.0, 30.0), (0.0, 0.0, 30.0)])?;
/// assert_eq!(data.distinct_rows(), 2);
/// assert_eq!(data.total_weight(), 3.0);
/// Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct BgNbdData {
    rows: Vec<Row>,
    xs: Vec<f64>,
    ages: Vec<f64>,
    recencies: Vec<f64>,
    /// Distinct `(x, t_x)` of the rows as indices into `xs`, `recencies`.
    pairs: Vec<(u32, u32)>,
    total_weight: f64,
    max_age: f64,
}

/// A hash map with a fixed-seed fast hasher: the collapses below hash
/// millions of small integer keys, where SipHash would dominate.
pub(crate) type FastMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::FixedState>;

/// An empty [`FastMap`].
pub(crate) fn fast_map<K, V>() -> FastMap<K, V> {
    FastMap::with_hasher(foldhash::fast::FixedState::default())
}

/// Sorted distinct values of a column (as `f64` bits of non-negative
/// numbers, which sort like the numbers) and each row's index into them.
fn index_column(values: impl Iterator<Item = u64>) -> (Vec<f64>, Vec<u32>) {
    // Number the distinct values in order of appearance, then renumber by
    // rank: a hash per row, a sort of the (few) distinct values only.
    let mut seen: FastMap<u64, u32> = fast_map();
    let mut distinct: Vec<u64> = Vec::new();
    let ids: Vec<u32> = values
        .map(|v| {
            *seen.entry(v).or_insert_with(|| {
                distinct.push(v);
                (distinct.len() - 1) as u32
            })
        })
        .collect();
    let mut order: Vec<(u64, u32)> = distinct.iter().copied().zip(0..).collect();
    order.sort_unstable();
    let mut rank = vec![0u32; order.len()];
    for (r, &(_, id)) in order.iter().enumerate() {
        if let Some(slot) = rank.get_mut(id as usize) {
            *slot = r as u32;
        }
    }
    let index = ids
        .into_iter()
        .map(|id| rank.get(id as usize).copied().unwrap_or(0))
        .collect();
    (
        order.into_iter().map(|(v, _)| f64::from_bits(v)).collect(),
        index,
    )
}

/// Collapses keyed weights: identical keys become one entry whose weight
/// is the sum of theirs (added in input order), sorted by key.
pub(crate) fn collapse<K: Copy + Ord + std::hash::Hash>(
    rows: impl IntoIterator<Item = Result<(K, f64), BtydError>>,
) -> Result<Vec<(K, f64)>, BtydError> {
    let mut weights: FastMap<K, f64> = fast_map();
    for row in rows {
        let (key, w) = row?;
        *weights.entry(key).or_insert(0.0) += w;
    }
    let mut collapsed: Vec<(K, f64)> = weights.into_iter().collect();
    collapsed.sort_unstable_by_key(|l| l.0);
    Ok(collapsed)
}

/// Largest frequency for which the per-x terms of the likelihood are
/// computed as finite sums (see `BgNbdData::per_x_summed`).
const MAX_SUMMED_X: f64 = 100_000.0;

/// Rows per chunk of a likelihood evaluation: each chunk's sums are
/// formed separately and added in chunk order, so the result does not
/// depend on how many threads evaluate the chunks.
const CHUNK_ROWS: usize = 16_384;

/// From this many distinct rows a likelihood evaluation runs its chunks on
/// several threads (a thread start costs tens of microseconds; 65,536 rows
/// take about a millisecond).
const PARALLEL_ROWS: usize = 65_536;

/// A factor that is not a normal number is stored as NaN (its rows take
/// the direct formula).
fn normal_or_nan(v: f64) -> f64 {
    if v.is_normal() { v } else { f64::NAN }
}

/// The per-x terms of the BG/NBD log-likelihood: `A1 + A2` of the paper,
/// `ln(a/(b+x-1))`, `1/(b+x-1)` and the derivatives of `A1 + A2` (first:
/// `dr` including `ln α`, `da`, `db`; second: `hrr`, `haa` = `hab`, `hbb`).
#[derive(Debug, Clone, Copy, Default)]
struct PerX {
    a12: f64,
    lab: f64,
    inv_bx: f64,
    dr: f64,
    da: f64,
    db: f64,
    hrr: f64,
    haa: f64,
    hbb: f64,
}

/// `ln(1 + q)` for `q > 0` from `u = 1 + q` (rounded) and `w = 1/u`:
/// `ln u` corrected for the rounding of `u` to first order,
/// `ln u - ((u - 1) - q) / u`, within a few ulps of `q.ln_1p()` and about
/// half its cost (glibc's `log1p` was a third of the BG/NBD fit).
fn ln_1p_via_ln(q: f64, u: f64, w: f64) -> f64 {
    u.ln() - ((u - 1.0) - q) * w
}

/// Sums of a range of rows: log-likelihood, gradient, Hessian (upper
/// triangle).
#[derive(Debug, Clone, Copy, Default)]
struct Partial {
    ll: f64,
    g: [f64; 4],
    h: [[f64; 4]; 4],
}

impl Partial {
    fn add(&mut self, o: &Partial) {
        self.ll += o.ll;
        for k in 0..4 {
            self.g[k] += o.g[k];
            for l in k..4 {
                self.h[k][l] += o.h[k][l];
            }
        }
    }
}

/// Weighted sums over the rows of one `x` (in a chunk), with
/// `w3 = 1/(1+q)`, `w4 = q/(1+q)` the shares of the two terms of the
/// likelihood, `c = w3 w4`, `dl = ln(α+T) - ln(α+t_x)`,
/// `dd = 1/(α+T) - 1/(α+t_x)`.
#[derive(Debug, Clone, Copy, Default)]
struct Group {
    /// Σ w.
    w: f64,
    /// Σ w (A3 + ln(1 + q)).
    lse: f64,
    /// Σ w (w3 ln(α+T) + w4 ln(α+t_x)).
    l: f64,
    /// Σ w (w3/(α+T) + w4/(α+t_x)).
    i: f64,
    /// Σ w w4.
    w4: f64,
    /// Σ w (w3/(α+T)² + w4/(α+t_x)²).
    i2: f64,
    /// Σ w c, Σ w c dl, Σ w c dl², Σ w c dl dd, Σ w c dd, Σ w c dd².
    c: f64,
    cl: f64,
    cll: f64,
    cld: f64,
    cd: f64,
    cdd: f64,
}

/// The per-evaluation tables of the BG/NBD likelihood.
struct Tables<'a> {
    p: [f64; 4],
    c: f64,
    xs: &'a [f64],
    per_x: &'a [PerX],
    age_logs: &'a [(f64, f64)],
    rec_logs: &'a [(f64, f64)],
    v_tab: &'a [f64],
}

impl Tables<'_> {
    /// The sums of one chunk of rows (sorted by x, then T). `G`: with the
    /// gradient, `H`: with the Hessian.
    fn chunk<const G: bool, const H: bool>(&self, rows: &[Row]) -> Option<Partial> {
        let mut out = Partial::default();
        let mut acc = Group::default();
        let mut current: Option<u32> = None;
        let mut group: Option<(u32, u32)> = None;
        let mut u = f64::NAN;
        let r = self.p[0];
        for row in rows {
            if current != Some(row.ix) {
                if let Some(ix) = current {
                    self.flush::<G, H>(ix, &acc, &mut out)?;
                }
                current = Some(row.ix);
                acc = Group::default();
            }
            let x = *self.xs.get(row.ix as usize)?;
            let (l_t, inv_t) = *self.age_logs.get(row.it as usize)?;
            let rx = r + x;
            let a3 = -rx * l_t;
            let w = row.w;
            acc.w += w;
            if x > 0.0 {
                let (l_tx, inv_tx) = *self.rec_logs.get(row.itx as usize)?;
                if group != Some((row.ix, row.it)) {
                    group = Some((row.ix, row.it));
                    let px = self.per_x.get(row.ix as usize)?;
                    u = normal_or_nan((px.lab + rx * (l_t - self.c)).exp());
                }
                let q = u * *self.v_tab.get(row.ixtx as usize)?;
                // ln(e^A3 + e^A4) = A3 + ln(1 + q); w3, w4 = shares of the terms.
                let (lse, w3, w4) = if q.is_normal() {
                    let u = 1.0 + q;
                    let w3 = 1.0 / u;
                    (a3 + ln_1p_via_ln(q, u, w3), w3, q * w3)
                } else {
                    let lab = self.per_x.get(row.ix as usize)?.lab;
                    let a4 = lab - rx * l_tx;
                    let d = a4 - a3;
                    if d > 0.0 {
                        let e = (-d).exp();
                        let w4 = 1.0 / (1.0 + e);
                        (a4 + e.ln_1p(), e * w4, w4)
                    } else {
                        let e = d.exp();
                        let w3 = 1.0 / (1.0 + e);
                        (a3 + e.ln_1p(), w3, e * w3)
                    }
                };
                acc.lse += w * lse;
                if G {
                    acc.l += w * (w3 * l_t + w4 * l_tx);
                    acc.i += w * (w3 * inv_t + w4 * inv_tx);
                    acc.w4 += w * w4;
                }
                if H {
                    acc.i2 += w * (w3 * inv_t * inv_t + w4 * inv_tx * inv_tx);
                    let wc = w * (w3 * w4);
                    let dl = l_t - l_tx;
                    let dd = inv_t - inv_tx;
                    acc.c += wc;
                    acc.cl += wc * dl;
                    acc.cll += wc * dl * dl;
                    acc.cld += wc * dl * dd;
                    acc.cd += wc * dd;
                    acc.cdd += wc * dd * dd;
                }
            } else {
                acc.lse += w * a3;
                if G {
                    acc.l += w * l_t;
                    acc.i += w * inv_t;
                }
                if H {
                    acc.i2 += w * inv_t * inv_t;
                }
            }
        }
        if let Some(ix) = current {
            self.flush::<G, H>(ix, &acc, &mut out)?;
        }
        Some(out)
    }

    /// Adds the contribution of one x's rows: the per-x terms times their
    /// weight and the row sums times the per-x factors.
    fn flush<const G: bool, const H: bool>(
        &self,
        ix: u32,
        s: &Group,
        out: &mut Partial,
    ) -> Option<()> {
        let [r, alpha, a, _] = self.p;
        let x = *self.xs.get(ix as usize)?;
        let t = self.per_x.get(ix as usize)?;
        let rx = r + x;
        let w = s.w;
        out.ll += w * t.a12 + s.lse;
        if G {
            out.g[0] += w * t.dr - s.l;
            out.g[1] += w * r / alpha - rx * s.i;
            out.g[2] += w * t.da + s.w4 / a;
            out.g[3] += w * t.db - t.inv_bx * s.w4;
        }
        if H {
            let h = &mut out.h;
            h[0][0] += w * t.hrr + s.cll;
            h[0][1] += w / alpha - s.i + rx * s.cld;
            h[0][2] += s.cl / a;
            h[0][3] -= t.inv_bx * s.cl;
            h[1][1] += -w * r / (alpha * alpha) + rx * s.i2 + rx * rx * s.cdd;
            h[1][2] += rx * s.cd / a;
            h[1][3] -= rx * t.inv_bx * s.cd;
            h[2][2] += w * t.haa + (s.c - s.w4) / (a * a);
            h[2][3] += w * t.haa - t.inv_bx * s.c / a;
            h[3][3] += w * t.hbb + t.inv_bx * t.inv_bx * (s.w4 + s.c);
        }
        Some(())
    }
}

/// A `(x, T, t_x)` key as `f64` bits.
type BgKey = (u64, u64, u64);

/// Bits per field of a packed `(x, T, t_x)` key: whole numbers below 2^21
/// (about 5,700 years of days) pack into one `u64`.
const PACK_BITS: u32 = 21;

/// `v` as a whole number that fits [`PACK_BITS`] bits, if it is one.
fn packable(v: f64) -> Option<u64> {
    (v >= 0.0 && v < f64::from(1u32 << PACK_BITS) && v.fract() == 0.0).then_some(v as u64)
}

/// Number of bits needed to hold `v`.
fn bit_width(v: u64) -> u32 {
    u64::BITS - v.leading_zeros()
}

/// Stable least-significant-digit radix sort of `(key, weight)` pairs on
/// the low `bits` bits of the key (the others must be zero).
fn radix_sort(v: &mut Vec<(u64, f64)>, bits: u32) {
    let passes = bits.div_ceil(11).max(1);
    let digit = bits.div_ceil(passes).max(1);
    let mask = (1u64 << digit) - 1;
    let mut buf: Vec<(u64, f64)> = vec![(0, 0.0); v.len()];
    let mut counts = vec![0usize; 1 << digit];
    for pass in 0..passes {
        let shift = pass * digit;
        counts.iter_mut().for_each(|c| *c = 0);
        for &(k, _) in v.iter() {
            if let Some(c) = counts.get_mut(((k >> shift) & mask) as usize) {
                *c += 1;
            }
        }
        let mut start = 0;
        for c in counts.iter_mut() {
            let n = *c;
            *c = start;
            start += n;
        }
        for &e in v.iter() {
            if let Some(c) = counts.get_mut(((e.0 >> shift) & mask) as usize) {
                if let Some(slot) = buf.get_mut(*c) {
                    *slot = e;
                }
                *c += 1;
            }
        }
        std::mem::swap(v, &mut buf);
    }
}

/// Validated `(x, t_x, T, weight)` rows collapsed like [`collapse`] (same
/// rows, order and sums, the weights of a key added in input order), by a
/// radix sort of integer keys packed into one `u64` while every value is a
/// whole number of at most [`PACK_BITS`] bits (as from a [`Summary`]), and
/// by [`collapse`] from the first row that is not.
fn collapse_observations(
    rows: impl Iterator<Item = (f64, f64, f64, f64)>,
) -> Result<Vec<(BgKey, f64)>, BtydError> {
    let mut rows = rows.enumerate();
    let mut packed: Vec<(u64, f64)> = Vec::with_capacity(rows.size_hint().0);
    let (mut max_x, mut max_t, mut max_tx) = (0u64, 0u64, 0u64);
    let bits_key = |x: f64, t_x: f64, age: f64| {
        (
            (x + 0.0).to_bits(),
            (age + 0.0).to_bits(),
            (t_x + 0.0).to_bits(),
        )
    };
    while let Some((index, (x, t_x, age, w))) = rows.next() {
        check_observation(index, x, t_x, age)?;
        let w = positive("weight", w)?;
        match (packable(x), packable(age), packable(t_x)) {
            (Some(px), Some(pt), Some(ptx)) => {
                max_x = max_x.max(px);
                max_t = max_t.max(pt);
                max_tx = max_tx.max(ptx);
                packed.push(((px << (2 * PACK_BITS)) | (pt << PACK_BITS) | ptx, w));
            }
            _ => {
                // Not packable: the general collapse of everything.
                let unpack = |k: u64| {
                    let f = |s: u32| ((k >> s) & ((1 << PACK_BITS) - 1)) as f64;
                    (f(2 * PACK_BITS), f(0), f(PACK_BITS))
                };
                let earlier = packed.into_iter().map(|(k, w)| {
                    let (x, t_x, age) = unpack(k);
                    Ok((bits_key(x, t_x, age), w))
                });
                let rest = rows.map(|(index, (x, t_x, age, w))| {
                    check_observation(index, x, t_x, age)?;
                    Ok((bits_key(x, t_x, age), positive("weight", w)?))
                });
                return collapse(
                    earlier
                        .chain(std::iter::once(Ok((bits_key(x, t_x, age), w))))
                        .chain(rest),
                );
            }
        }
    }
    // Repack with the widths the data needs (order is kept), so the sort
    // makes as few passes as possible.
    let (wt, wtx) = (bit_width(max_t), bit_width(max_tx));
    let field = (1u64 << PACK_BITS) - 1;
    for e in packed.iter_mut() {
        let k = e.0;
        e.0 = ((k >> (2 * PACK_BITS)) << (wt + wtx))
            | (((k >> PACK_BITS) & field) << wtx)
            | (k & field);
    }
    radix_sort(&mut packed, bit_width(max_x) + wt + wtx);
    let mut out: Vec<(BgKey, f64)> = Vec::new();
    let mut last: Option<u64> = None;
    for (k, w) in packed {
        match out.last_mut() {
            Some(entry) if last == Some(k) => entry.1 += w,
            _ => {
                let x = (k >> (wt + wtx)) as f64;
                let age = ((k >> wtx) & ((1u64 << wt) - 1)) as f64;
                let t_x = (k & ((1u64 << wtx) - 1)) as f64;
                out.push((bits_key(x, t_x, age), w));
                last = Some(k);
            }
        }
    }
    Ok(out)
}

impl BgNbdData {
    /// Validates and collapses `(x, t_x, T)` observations, one per customer.
    ///
    /// # Errors
    /// [`BtydError::Empty`] for no rows, [`BtydError::InvalidObservation`]
    /// (naming the row) for an impossible one.
    pub fn new(rows: impl IntoIterator<Item = (f64, f64, f64)>) -> Result<Self, BtydError> {
        Self::weighted(rows.into_iter().map(|(x, t_x, age)| (x, t_x, age, 1.0)))
    }

    /// Like [`BgNbdData::new`] for rows already collapsed: `(x, t_x, T, count)`.
    ///
    /// # Errors
    /// As [`BgNbdData::new`], and [`BtydError::OutOfRange`] for a weight that
    /// is not positive and finite.
    pub fn weighted(
        rows: impl IntoIterator<Item = (f64, f64, f64, f64)>,
    ) -> Result<Self, BtydError> {
        Self::from_collapsed(collapse_observations(rows.into_iter())?)
    }

    /// The data from collapsed rows sorted by `(x, T, t_x)`.
    fn from_collapsed(collapsed: Vec<(BgKey, f64)>) -> Result<Self, BtydError> {
        if collapsed.is_empty() {
            return Err(BtydError::Empty { what: "customers" });
        }
        // Sorted by x first: the x column is already in order.
        let mut xs: Vec<f64> = Vec::new();
        let mut ix = Vec::with_capacity(collapsed.len());
        for (key, _) in &collapsed {
            if xs.last().map(|v| v.to_bits()) != Some(key.0) {
                xs.push(f64::from_bits(key.0));
            }
            ix.push((xs.len() - 1) as u32);
        }
        let (ages, it) = index_column(collapsed.iter().map(|r| r.0.1));
        let (recencies, itx) = index_column(collapsed.iter().map(|r| r.0.2));
        let total_weight = collapsed.iter().map(|r| r.1).sum();
        let max_age = ages.last().copied().unwrap_or(0.0);
        let mut pair_ids: FastMap<(u32, u32), u32> = fast_map();
        let mut pairs: Vec<(u32, u32)> = Vec::new();
        let rows = collapsed
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let ix = ix.get(i).copied().unwrap_or(0);
                let itx = itx.get(i).copied().unwrap_or(0);
                let ixtx = *pair_ids.entry((ix, itx)).or_insert_with(|| {
                    pairs.push((ix, itx));
                    (pairs.len() - 1) as u32
                });
                Row {
                    ix,
                    it: it.get(i).copied().unwrap_or(0),
                    itx,
                    ixtx,
                    w: r.1,
                }
            })
            .collect();
        Ok(Self {
            rows,
            xs,
            ages,
            recencies,
            pairs,
            total_weight,
            max_age,
        })
    }

    /// The summary's customers as `(frequency, recency, age)` in periods.
    ///
    /// # Errors
    /// [`BtydError::Empty`] for a summary without customers.
    pub fn from_summary<K>(summary: &Summary<K>) -> Result<Self, BtydError> {
        let general = || {
            Self::new(summary.customers().iter().map(|c| {
                (
                    f64::from(c.frequency),
                    f64::from(c.recency),
                    f64::from(c.age),
                )
            }))
        };
        let customers = summary.customers();
        // Whole numbers: pack (x, T, t_x) into one integer key, radix sort,
        // count equal neighbours (the rows, order and weights of `new`).
        let mut keys: Vec<u64> = Vec::with_capacity(customers.len());
        let (mut max_x, mut max_t) = (0u64, 0u64);
        let limit = 1u32 << PACK_BITS;
        for c in customers {
            let (x, t_x, age) = (c.frequency, c.recency, c.age);
            if (x == 0) != (t_x == 0) || t_x > age || x >= limit || age >= limit {
                // Invalid (the general path names the row) or too large.
                return general();
            }
            let (x, t_x, age) = (u64::from(x), u64::from(t_x), u64::from(age));
            max_x = max_x.max(x);
            max_t = max_t.max(age);
            keys.push((x << (2 * PACK_BITS)) | (age << PACK_BITS) | t_x);
        }
        // t_x <= T: both fit the width of the largest T.
        let (wx, wt) = (sort::bit_width(max_x), sort::bit_width(max_t));
        let field = (1u64 << PACK_BITS) - 1;
        let repack = |k: u64| {
            ((k >> (2 * PACK_BITS)) << (2 * wt)) | (((k >> PACK_BITS) & field) << wt) | (k & field)
        };
        let unpack = |k: u64| {
            let f = |v: u64| (v & ((1u64 << wt) - 1)) as f64;
            let x = (k >> (2 * wt)) as f64;
            (
                (x + 0.0).to_bits(),
                (f(k >> wt) + 0.0).to_bits(),
                (f(k) + 0.0).to_bits(),
            )
        };
        let collapsed: Vec<(BgKey, f64)> = if wx + 2 * wt <= u32::BITS {
            let mut small: Vec<u32> = keys.iter().map(|&k| repack(k) as u32).collect();
            drop(keys);
            sort::radix_sort_by(&mut small, wx + 2 * wt, |&k| u64::from(k));
            sort::run_lengths(&small)
                .into_iter()
                .map(|(k, n)| (unpack(u64::from(k)), n as f64))
                .collect()
        } else {
            keys.iter_mut().for_each(|k| *k = repack(*k));
            sort::radix_sort_by(&mut keys, wx + 2 * wt, |&k| k);
            sort::run_lengths(&keys)
                .into_iter()
                .map(|(k, n)| (unpack(k), n as f64))
                .collect()
        };
        Self::from_collapsed(collapsed)
    }

    /// Number of distinct `(x, t_x, T)` rows.
    pub fn distinct_rows(&self) -> usize {
        self.rows.len()
    }

    /// Number of customers (sum of the weights).
    pub fn total_weight(&self) -> f64 {
        self.total_weight
    }

    /// The collapsed rows as `(x, t_x, T, weight)`, sorted by `x`, then `T`,
    /// then `t_x`.
    pub fn rows(&self) -> impl Iterator<Item = (f64, f64, f64, f64)> + '_ {
        self.rows.iter().map(|r| {
            (
                self.xs.get(r.ix as usize).copied().unwrap_or(0.0),
                self.recencies.get(r.itx as usize).copied().unwrap_or(0.0),
                self.ages.get(r.it as usize).copied().unwrap_or(0.0),
                r.w,
            )
        })
    }

    /// `P(alive | x, t_x, T)` ([`BgNbdParams::probability_alive`]) of every
    /// distinct row, in the order of [`BgNbdData::rows`].
    ///
    /// # Example
    /// ```
    /// use crmkit::metrics::btyd::bgnbd::{BgNbdData, BgNbdParams};
    /// let data = BgNbdData::new([(0.0, 0.0, 30.0), (2.0, 20.0, 30.0), (0.0, 0.0, 30.0)])?;
    /// let params = BgNbdParams::new(0.243, 30.9, 0.793, 2.426)?;
    /// let alive = data.probability_alive(&params);
    /// assert_eq!(alive[0], 1.0); // the row (0, 0, 30), two customers
    /// assert_eq!(alive[1], params.probability_alive(2.0, 20.0, 30.0)?);
    /// Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn probability_alive(&self, params: &BgNbdParams) -> Vec<f64> {
        let alive = self.on_halves(|rows| {
            Ok::<_, std::convert::Infallible>(
                rows.iter()
                    .map(|r| {
                        let (x, t_x, age) = self.values(r);
                        params.alive(x, t_x, age)
                    })
                    .collect(),
            )
        });
        alive.unwrap_or_else(|never| match never {})
    }

    /// A row's `(x, t_x, T)`.
    fn values(&self, r: &Row) -> (f64, f64, f64) {
        (
            self.xs.get(r.ix as usize).copied().unwrap_or(0.0),
            self.recencies.get(r.itx as usize).copied().unwrap_or(0.0),
            self.ages.get(r.it as usize).copied().unwrap_or(0.0),
        )
    }

    /// `per_rows` of all rows, in two halves on two threads from
    /// [`PARALLEL_PREDICTION_ROWS`] rows (`per_rows` must give the same
    /// value for a row whichever rows it is given with, so the result does
    /// not depend on the number of threads).
    fn on_halves<E: Send>(
        &self,
        per_rows: impl Fn(&[Row]) -> Result<Vec<f64>, E> + Sync,
    ) -> Result<Vec<f64>, E> {
        // (`available_parallelism` reads cgroup files: ask only when large.)
        if self.rows.len() < PARALLEL_PREDICTION_ROWS || !two_cores() {
            return per_rows(&self.rows);
        }
        let (left, right) = self.rows.split_at(self.rows.len() / 2);
        let (first, second) = std::thread::scope(|scope| {
            let second = scope.spawn(|| per_rows(right));
            (per_rows(left), second.join())
        });
        let mut out = first?;
        match second {
            Ok(rest) => out.extend(rest?),
            // `per_rows` does not panic; should it have, redo the half here.
            Err(_) => out.extend(per_rows(right)?),
        }
        Ok(out)
    }

    /// `E[Y(t) | x, t_x, T]` ([`BgNbdParams::conditional_expected_purchases`])
    /// of every distinct row, in the order of [`BgNbdData::rows`], with the
    /// same values. The hypergeometric factor depends on `(x, T)` only and
    /// rows are sorted by `x`, then `T`, so it is computed once per distinct
    /// `(x, T)` (a million simulated CDNOW-like customers give 216,556
    /// distinct rows but only 3,912 distinct `(x, T)`).
    ///
    /// # Errors
    /// As [`BgNbdParams::conditional_expected_purchases`].
    ///
    /// # Example
    /// ```
    /// use crmkit::metrics::btyd::bgnbd::{BgNbdData, BgNbdParams};
    /// let data = BgNbdData::new([(2.0, 20.0, 30.0), (2.0, 25.0, 30.0), (0.0, 0.0, 30.0)])?;
    /// let params = BgNbdParams::new(0.243, 30.9, 0.793, 2.426)?;
    /// let e = data.conditional_expected_purchases(&params, 30.0)?;
    /// for ((x, t_x, age, _), e) in data.rows().zip(e) {
    ///     assert_eq!(e, params.conditional_expected_purchases(30.0, x, t_x, age)?);
    /// }
    /// Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn conditional_expected_purchases(
        &self,
        params: &BgNbdParams,
        t: f64,
    ) -> Result<Vec<f64>, BtydError> {
        let t = non_negative("t", t)?;
        self.on_halves(|rows| {
            let mut out = Vec::with_capacity(rows.len());
            let mut shared: Option<((u32, u32), f64)> = None;
            for row in rows {
                let (x, t_x, age) = self.values(row);
                let bracket = match shared {
                    Some((key, v)) if key == (row.ix, row.it) => v,
                    _ => {
                        let v = params.conditional_bracket(t, x, age)?;
                        shared = Some(((row.ix, row.it), v));
                        v
                    }
                };
                out.push(BgNbdParams::conditional_from(
                    bracket,
                    params.alive(x, t_x, age),
                )?);
            }
            Ok(out)
        })
    }

    /// The total log-likelihood of the data under `params`.
    ///
    /// # Errors
    /// [`BtydError::OutOfRange`] if it is not finite (parameters far outside
    /// anything the data supports).
    pub fn log_likelihood(&self, params: &BgNbdParams) -> Result<f64, BtydError> {
        let p = [params.r, params.alpha, params.a, params.b];
        let ll = self.evaluate(&p, 1.0, false).map(|(ll, _)| ll);
        finite("log-likelihood", ll.unwrap_or(f64::NAN))
    }

    /// The per-x terms from `lnΓ`, `ψ` and `ψ'` differences (any x).
    fn per_x_gamma(&self, r: f64, ln_alpha: f64, a: f64, b: f64, order: Order) -> Vec<PerX> {
        let (lg_r, lg_b, lg_ab) = (ln_gamma(r), ln_gamma(b), ln_gamma(a + b));
        let grad = order >= Order::Gradient;
        let hess = order >= Order::Hessian;
        let (dg_r, dg_b, dg_ab) = if grad {
            (digamma(r), digamma(b), digamma(a + b))
        } else {
            (0.0, 0.0, 0.0)
        };
        let (tg_r, tg_b, tg_ab) = if hess {
            (trigamma(r), trigamma(b), trigamma(a + b))
        } else {
            (0.0, 0.0, 0.0)
        };
        self.xs
            .iter()
            .map(|&x| {
                let a12 = ln_gamma(r + x) - lg_r + r * ln_alpha + lg_ab + ln_gamma(b + x)
                    - lg_b
                    - ln_gamma(a + b + x);
                let (lab, inv_bx) = if x > 0.0 {
                    ((a / (b + x - 1.0)).ln(), 1.0 / (b + x - 1.0))
                } else {
                    (0.0, 0.0)
                };
                let mut t = PerX {
                    a12,
                    lab,
                    inv_bx,
                    ..PerX::default()
                };
                if grad {
                    let dg_abx = digamma(a + b + x);
                    t.dr = digamma(r + x) - dg_r + ln_alpha;
                    t.da = dg_ab - dg_abx;
                    t.db = dg_ab + digamma(b + x) - dg_b - dg_abx;
                }
                if hess {
                    let tg_abx = trigamma(a + b + x);
                    t.hrr = trigamma(r + x) - tg_r;
                    t.haa = tg_ab - tg_abx;
                    t.hbb = tg_ab + trigamma(b + x) - tg_b - tg_abx;
                }
                t
            })
            .collect()
    }

    /// The per-x terms for whole x up to [`MAX_SUMMED_X`] as finite sums
    /// (`lnΓ(s+x) - lnΓ(s) = Σ_{k<x} ln(s+k)`, `ψ(s+x) - ψ(s) = Σ 1/(s+k)`,
    /// `ψ'(s+x) - ψ'(s) = -Σ 1/(s+k)²`), accumulated over the sorted x.
    /// Unlike the differences of `lnΓ` and `ψ` they do not cancel when `a`
    /// and `b` are large (a fit running to the boundary `a, b → ∞`, where
    /// the differences lost 8 digits and the gradient drowned in rounding).
    fn per_x_summed(&self, r: f64, ln_alpha: f64, a: f64, b: f64, order: Order) -> Vec<PerX> {
        // Running sums up to k: Σ ln(r+k), Σ ln((b+k)/(a+b+k)), Σ 1/(r+k),
        // Σ 1/(a+b+k), Σ a/((b+k)(a+b+k)) = Σ 1/(b+k) - 1/(a+b+k), and for
        // the Hessian Σ 1/(r+k)², Σ 1/(a+b+k)² and
        // Σ 1/(a+b+k)² - 1/(b+k)² = -Σ a(a+2b+2k)/((b+k)²(a+b+k)²).
        let (mut l_r, mut l_bab, mut d_r, mut d_ab, mut d_bab) = (0.0, 0.0, 0.0, 0.0, 0.0);
        let (mut h_r, mut h_ab, mut h_bab) = (0.0, 0.0, 0.0);
        let hess = order >= Order::Hessian;
        let mut k = 0.0;
        self.xs
            .iter()
            .map(|&x| {
                while k < x {
                    let (rk, bk, abk) = (r + k, b + k, a + b + k);
                    l_r += rk.ln();
                    l_bab -= (a / bk).ln_1p();
                    d_r += 1.0 / rk;
                    d_ab += 1.0 / abk;
                    d_bab += a / (bk * abk);
                    if hess {
                        h_r += 1.0 / (rk * rk);
                        h_ab += 1.0 / (abk * abk);
                        h_bab += a * (a + 2.0 * bk) / ((bk * bk) * (abk * abk));
                    }
                    k += 1.0;
                }
                let (lab, inv_bx) = if x > 0.0 {
                    ((a / (b + x - 1.0)).ln(), 1.0 / (b + x - 1.0))
                } else {
                    (0.0, 0.0)
                };
                PerX {
                    a12: l_r + r * ln_alpha + l_bab,
                    lab,
                    inv_bx,
                    dr: d_r + ln_alpha,
                    da: -d_ab,
                    db: d_bab,
                    hrr: -h_r,
                    haa: h_ab,
                    hbb: -h_bab,
                }
            })
            .collect()
    }

    /// Total log-likelihood and its gradient with respect to `(r, α, a, b)`,
    /// with times multiplied by `scale` (and `α` in scaled units).
    fn evaluate(&self, p: &[f64; 4], scale: f64, grad: bool) -> Option<(f64, [f64; 4])> {
        let order = if grad { Order::Gradient } else { Order::Value };
        self.derivatives(p, scale, order)
            .map(|d| (d.value, d.gradient))
    }

    /// Total log-likelihood with its gradient and Hessian (as `order`
    /// asks; the others are zero) with respect to `(r, α, a, b)`, with
    /// times multiplied by `scale` (and `α` in scaled units).
    fn derivatives(&self, p: &[f64; 4], scale: f64, order: Order) -> Option<Derivatives<4>> {
        let threads = super::worker_threads(self.rows.len(), PARALLEL_ROWS);
        self.derivatives_on(p, scale, order, threads)
    }

    /// [`BgNbdData::derivatives`] on `threads` threads (the result is the
    /// same, bit for bit, for any number).
    #[allow(clippy::needless_range_loop)] // matrix code reads best with indices
    fn derivatives_on(
        &self,
        p: &[f64; 4],
        scale: f64,
        order: Order,
        threads: usize,
    ) -> Option<Derivatives<4>> {
        let [r, alpha, a, b] = *p;
        let ln_alpha = alpha.ln();
        let per_x: Vec<PerX> = if self.xs.last().is_some_and(|&m| m <= MAX_SUMMED_X) {
            self.per_x_summed(r, ln_alpha, a, b, order)
        } else {
            self.per_x_gamma(r, ln_alpha, a, b, order)
        };
        let logs = |v: &[f64]| -> Vec<(f64, f64)> {
            v.iter()
                .map(|&t| {
                    let s = alpha + scale * t;
                    (s.ln(), 1.0 / s)
                })
                .collect()
        };
        let age_logs = logs(&self.ages);
        let rec_logs = logs(&self.recencies);
        // e^(A4 - A3) = a/(b+x-1) ((α+T)/(α+t_x))^(r+x) = U(x, T) · V(x, t_x)
        // with U = exp(ln(a/(b+x-1)) + (r+x)(ln(α+T) - c)) once per distinct
        // (x, T) (the rows are sorted by x, then T) and
        // V = exp(-(r+x)(ln(α+t_x) - c)) once per distinct (x, t_x): no exp
        // per row. `c`, the middle of the logs' range, keeps both factors
        // near 1; a factor that is not a normal number is stored as NaN and
        // its rows take the direct formula.
        let c = 0.5 * (ln_alpha + (alpha + scale * self.max_age).ln());
        let v_tab: Vec<f64> = self
            .pairs
            .iter()
            .map(|&(ix, itx)| {
                let x = self.xs.get(ix as usize).copied().unwrap_or(f64::NAN);
                let l_tx = rec_logs.get(itx as usize).map_or(f64::NAN, |v| v.0);
                normal_or_nan((-(r + x) * (l_tx - c)).exp())
            })
            .collect();
        let tables = Tables {
            p: *p,
            c,
            xs: &self.xs,
            per_x: &per_x,
            age_logs: &age_logs,
            rec_logs: &rec_logs,
            v_tab: &v_tab,
        };
        let eval = |chunk: &[Row]| match order {
            Order::Value => tables.chunk::<false, false>(chunk),
            Order::Gradient => tables.chunk::<true, false>(chunk),
            Order::Hessian => tables.chunk::<true, true>(chunk),
        };
        let chunks: Vec<&[Row]> = self.rows.chunks(CHUNK_ROWS).collect();
        // The chunks' sums are added in chunk order whatever the threads.
        let parts = super::map_in_order(&chunks, threads, |c| eval(c))?;
        let mut total = Partial::default();
        for part in parts {
            total.add(&part?);
        }
        let Partial { ll, g, mut h } = total;
        for i in 0..4 {
            for j in 0..i {
                h[i][j] = h[j][i];
            }
        }
        let finite = ll.is_finite()
            && g.iter().all(|v| v.is_finite())
            && h.iter().flatten().all(|v| v.is_finite());
        finite.then_some(Derivatives {
            value: ll,
            gradient: g,
            hessian: h,
        })
    }
    /// Fits `(r, α, a, b)` by maximum likelihood.
    ///
    /// As in `lifetimes`, times are scaled so the largest age is 10 while
    /// fitting (the penalty, if any, applies to the scaled `α`), and the
    /// search runs on log-parameters from `(1, 1, 1, 1)` by Newton's method
    /// with the analytic Hessian (see `optim::newton`). Standard errors are
    /// the square roots of the diagonal of the inverse of the analytic
    /// Hessian of the total negative log-likelihood at the optimum; `None`
    /// if that Hessian is not positive definite.
    ///
    /// # Errors
    /// [`BtydError::FitFailed`] when the likelihood cannot be evaluated at
    /// the start. A fit that stops without converging is `Ok` with
    /// `report.converged == false`.
    ///
    /// # Example
    /// ```
    /// use crmkit::metrics::btyd::{bgnbd::BgNbdData, FitOptions};
    /// let rows = [(0.0, 0.0, 38.0), (2.0, 30.4, 38.9), (1.0, 1.7, 38.9), (0.0, 0.0, 38.9),
    ///             (5.0, 35.0, 37.0), (3.0, 12.0, 36.0), (0.0, 0.0, 36.0), (1.0, 20.0, 36.0)];
    /// let fit = BgNbdData::new(rows)?.fit(&FitOptions::default())?;
    /// assert!(fit.report.converged);
    /// assert!(fit.params.r() > 0.0 && fit.report.log_likelihood < 0.0);
    /// Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn fit(&self, options: &FitOptions) -> Result<BgNbdFit, BtydError> {
        let scale = if self.max_age > 0.0 {
            10.0 / self.max_age
        } else {
            1.0
        };
        let w = self.total_weight;
        let lambda = options.penalizer();
        let objective = |theta: &[f64; 4]| {
            let p = theta.map(f64::exp);
            let d = self.derivatives(&p, scale, Order::Hessian)?;
            optim::log_objective(&d, &p, w, lambda)
        };
        let (
            Minimum {
                theta,
                iterations,
                converged,
                gradient_norm,
            },
            at,
        ) = optim::newton(objective, [0.0; 4], options)?;
        let scaled = theta.map(f64::exp);
        let [r, alpha_scaled, a, b] = scaled;
        let params =
            BgNbdParams::new(r, alpha_scaled / scale, a, b).map_err(|_| BtydError::FitFailed {
                reason: "the optimum is not finite",
            })?;
        // With times and α scaled by s the log-likelihood changes by
        // -ln(s) Σ w x only (r ln(sα) - (r+x) ln(s(α+T)) = ... - x ln s),
        // and the Hessian in (r, sα, a, b) is that in (r, α, a, b) with the
        // α row and column divided by s: the errors of α scale back by 1/s.
        let penalty: f64 = scaled.iter().map(|v| v * v).sum();
        let sum_wx: f64 = self.rows().map(|(x, _, _, w)| w * x).sum();
        let log_likelihood = finite(
            "log-likelihood",
            -(at.value - lambda * penalty) * w + scale.ln() * sum_wx,
        )?;
        let hessian = optim::natural_hessian(&at, &scaled, w, lambda);
        let std_errors = optim::standard_errors_from_hessian(&hessian).map(|mut se| {
            se[1] /= scale;
            se
        });
        Ok(BgNbdFit {
            params,
            std_errors,
            report: FitReport {
                log_likelihood,
                iterations,
                converged,
                gradient_norm,
            },
        })
    }
}

/// A BG/NBD maximum-likelihood fit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BgNbdFit {
    /// The fitted parameters.
    pub params: BgNbdParams,
    /// Standard errors of `(r, α, a, b)` from the observed information
    /// (inverse Hessian of the negative log-likelihood); `None` when the
    /// Hessian is not positive definite (a flat or boundary optimum).
    pub std_errors: Option<[f64; 4]>,
    /// Log-likelihood, iterations and convergence.
    pub report: FitReport,
}

#[cfg(test)]
#[allow(clippy::excessive_precision)] // reference values are printed to 17 digits
mod tests {
    use super::*;
    use crate::metrics::btyd::optim::tests::check_hessian_against_gradient;

    fn cdnow() -> BgNbdParams {
        BgNbdParams::new(0.243, 4.414, 0.793, 2.426).unwrap()
    }

    #[test]
    fn expected_purchases_matches_paper_figure() {
        // Fader, Hardie & Lee (2005) CDNOW estimates, time in weeks. Reference
        // value from mpmath 1.3.0 (dps 30) of eq. 9 at t = 39:
        // (a+b-1)/(a-1) (1 - (α/(α+t))^r 2F1(r, b; a+b-1; t/(α+t))).
        let e = cdnow().expected_purchases(39.0).unwrap();
        assert!((e - 1.1967231933208169).abs() < 1e-10, "{e}");
        assert_eq!(cdnow().expected_purchases(0.0).unwrap(), 0.0);
    }

    #[test]
    fn conditional_expectation_matches_paper() {
        // The paper's example: x = 2, t_x = 30.43, T = 38.86, t = 39 weeks
        // gives 1.226 expected purchases; mpmath 1.3.0 (dps 30) of eq. 10
        // with the rounded parameters gives the reference below.
        let e = cdnow()
            .conditional_expected_purchases(39.0, 2.0, 30.43, 38.86)
            .unwrap();
        assert!((e - 1.2260281747671445).abs() < 1e-10, "{e}");
    }

    #[test]
    fn probability_alive_is_one_without_repeat_purchases() {
        assert_eq!(cdnow().probability_alive(0.0, 0.0, 50.0).unwrap(), 1.0);
        let p = cdnow().probability_alive(2.0, 30.43, 38.86).unwrap();
        // 1/(1 + 0.793/(2.426+1) ((4.414+38.86)/(4.414+30.43))^(2.243)), by hand:
        // ratio = 43.274/34.844 = 1.24194; ^2.243 = 1.62655; × 0.23147 = 0.37650.
        assert!((p - 1.0 / 1.37650).abs() < 1e-4, "{p}");
    }

    #[test]
    fn invalid_observations_are_typed_errors() {
        let p = cdnow();
        for (x, t_x, age) in [
            (1.0, 0.0, 5.0),
            (1.0, 6.0, 5.0),
            (-1.0, 0.0, 5.0),
            (1.5, 1.0, 5.0),
            (0.0, 1.0, 5.0),
            (f64::NAN, 0.0, 1.0),
        ] {
            assert!(matches!(
                p.probability_alive(x, t_x, age),
                Err(BtydError::InvalidObservation { .. })
            ));
        }
        assert!(matches!(
            BgNbdData::new(std::iter::empty()),
            Err(BtydError::Empty { .. })
        ));
    }

    #[test]
    fn probabilities_of_n_purchases_sum_to_one() {
        let p = cdnow();
        for t in [1.0, 39.0, 78.0] {
            let total: f64 = (0..400)
                .map(|n| p.probability_of_purchases(n, t).unwrap())
                .sum();
            assert!((total - 1.0).abs() < 1e-9, "t = {t}: {total}");
            // and their mean is E[X(t)]
            let mean: f64 = (0..400)
                .map(|n| f64::from(n) * p.probability_of_purchases(n, t).unwrap())
                .sum();
            assert!((mean - p.expected_purchases(t).unwrap()).abs() < 1e-8);
        }
    }

    /// Four customers: one with no repeat purchase, three with some.
    fn four_customers() -> BgNbdData {
        BgNbdData::new([
            (0.0, 0.0, 38.0),
            (2.0, 30.4, 38.9),
            (1.0, 1.7, 38.9),
            (5.0, 35.0, 37.0),
        ])
        .unwrap()
    }

    #[test]
    fn analytic_gradient_matches_finite_differences() {
        let data = four_customers();
        let p = [0.5, 3.0, 0.8, 2.5];
        let (_, g) = data.evaluate(&p, 0.3, true).unwrap();
        for k in 0..4 {
            let h = 1e-6 * p[k];
            let mut up = p;
            up[k] += h;
            let mut dn = p;
            dn[k] -= h;
            let fd = (data.evaluate(&up, 0.3, false).unwrap().0
                - data.evaluate(&dn, 0.3, false).unwrap().0)
                / (2.0 * h);
            assert!(
                (fd - g[k]).abs() < 1e-6 * (1.0 + g[k].abs()),
                "{k}: {fd} vs {}",
                g[k]
            );
        }
    }

    /// The likelihood and gradient as computed before the U·V tables: one
    /// exp and one ln_1p per row (the test oracle).
    fn reference_evaluate(
        data: &BgNbdData,
        p: &[f64; 4],
        scale: f64,
        grad: bool,
    ) -> Option<(f64, [f64; 4])> {
        let [r, alpha, a, b] = *p;
        let ln_alpha = alpha.ln();
        let (lg_r, lg_b, lg_ab) = (ln_gamma(r), ln_gamma(b), ln_gamma(a + b));
        let (dg_r, dg_b, dg_ab) = if grad {
            (digamma(r), digamma(b), digamma(a + b))
        } else {
            (0.0, 0.0, 0.0)
        };
        // Per distinct x: [A1 + A2, ln(a/(b+x-1)), dr, da, db, 1/(b+x-1)].
        let per_x: Vec<[f64; 6]> = data
            .xs
            .iter()
            .map(|&x| {
                let a12 = ln_gamma(r + x) - lg_r + r * ln_alpha + lg_ab + ln_gamma(b + x)
                    - lg_b
                    - ln_gamma(a + b + x);
                let (lab, inv_bx) = if x > 0.0 {
                    ((a / (b + x - 1.0)).ln(), 1.0 / (b + x - 1.0))
                } else {
                    (0.0, 0.0)
                };
                if grad {
                    let dg_abx = digamma(a + b + x);
                    [
                        a12,
                        lab,
                        digamma(r + x) - dg_r + ln_alpha,
                        dg_ab - dg_abx,
                        dg_ab + digamma(b + x) - dg_b - dg_abx,
                        inv_bx,
                    ]
                } else {
                    [a12, lab, 0.0, 0.0, 0.0, inv_bx]
                }
            })
            .collect();
        let logs = |v: &[f64]| -> Vec<(f64, f64)> {
            v.iter()
                .map(|&t| {
                    let s = alpha + scale * t;
                    (s.ln(), 1.0 / s)
                })
                .collect()
        };
        let age_logs = logs(&data.ages);
        let rec_logs = logs(&data.recencies);
        let mut ll = 0.0;
        let mut g = [0.0; 4];
        for row in &data.rows {
            let x = *data.xs.get(row.ix as usize)?;
            let px = per_x.get(row.ix as usize)?;
            let (l_t, inv_t) = *age_logs.get(row.it as usize)?;
            let rx = r + x;
            let a3 = -rx * l_t;
            if x > 0.0 {
                let (l_tx, inv_tx) = *rec_logs.get(row.itx as usize)?;
                let a4 = px[1] - rx * l_tx;
                let d = a4 - a3;
                // ln(e^A3 + e^A4) = A3 + ln(1 + e^d); w4 = share of the A4 term.
                let (lse, w4) = if d > 0.0 {
                    let e = (-d).exp();
                    (a4 + e.ln_1p(), 1.0 / (1.0 + e))
                } else {
                    let e = d.exp();
                    (a3 + e.ln_1p(), e / (1.0 + e))
                };
                ll += row.w * (px[0] + lse);
                if grad {
                    let w3 = 1.0 - w4;
                    g[0] += row.w * (px[2] - w3 * l_t - w4 * l_tx);
                    g[1] += row.w * (r / alpha - rx * (w3 * inv_t + w4 * inv_tx));
                    g[2] += row.w * (px[3] + w4 / a);
                    g[3] += row.w * (px[4] - w4 * px[5]);
                }
            } else {
                ll += row.w * (px[0] + a3);
                if grad {
                    g[0] += row.w * (px[2] - l_t);
                    g[1] += row.w * (r / alpha - rx * inv_t);
                    g[2] += row.w * px[3];
                    g[3] += row.w * px[4];
                }
            }
        }
        if ll.is_finite() && g.iter().all(|v| v.is_finite()) {
            Some((ll, g))
        } else {
            None
        }
    }

    /// The collapse as it was before the hash map: sort every row by its
    /// `(x, T, t_x)` bits, add the weights of equal neighbours.
    fn reference_collapse(rows: &[(f64, f64, f64, f64)]) -> Vec<(f64, f64, f64, f64)> {
        let mut raw: Vec<([u64; 3], f64)> = rows
            .iter()
            .map(|&(x, t_x, age, w)| {
                let key = [
                    (x + 0.0).to_bits(),
                    (age + 0.0).to_bits(),
                    (t_x + 0.0).to_bits(),
                ];
                (key, w)
            })
            .collect();
        raw.sort_by_key(|r| r.0);
        let mut out: Vec<([u64; 3], f64)> = Vec::new();
        for (key, w) in raw {
            match out.last_mut() {
                Some(last) if last.0 == key => last.1 += w,
                _ => out.push((key, w)),
            }
        }
        out.into_iter()
            .map(|(k, w)| {
                let [x, age, t_x] = k.map(f64::from_bits);
                (x, t_x, age, w)
            })
            .collect()
    }

    /// Valid `(x, t_x, T, weight)` rows drawn from small pools, so that
    /// many coincide (and `-0.0` meets `0.0`).
    fn pooled_rows() -> impl Strategy<Value = Vec<(f64, f64, f64, f64)>> {
        let ages = [0.0, 1.5, 7.0, 38.0, 38.9, 1e6];
        let row = (
            0usize..6,
            0u32..4,
            0.0f64..1.0,
            1u32..4,
            proptest::bool::ANY,
        )
            .prop_map(move |(ia, x, share, w, neg_zero)| {
                let age = ages[ia];
                let zero = if neg_zero { -0.0 } else { 0.0 };
                if x == 0 || age == 0.0 {
                    (zero, zero, age, f64::from(w))
                } else {
                    // t_x in (0, T], on a coarse grid so rows repeat.
                    let t_x = age * ((share * 4.0).floor() + 1.0) / 4.0;
                    (f64::from(x), t_x, age, f64::from(w))
                }
            });
        proptest::collection::vec(row, 1..200)
    }

    /// Valid whole-number `(x, t_x, T, weight)` rows (as from a summary,
    /// the packed radix path), with an occasional fractional or huge row
    /// part-way (the fallback from the packed path).
    fn integer_rows() -> impl Strategy<Value = Vec<(f64, f64, f64, f64)>> {
        let row = (0u32..3000, 0u32..40, 0u32..3000, 1u32..4, 0u32..50).prop_map(
            |(age, x, tx, w, odd)| {
                let age = match odd {
                    0 => f64::from(age) + 0.5,
                    1 => f64::from(age) + 3e6,
                    _ => f64::from(age),
                };
                if x == 0 || age == 0.0 {
                    (0.0, 0.0, age, f64::from(w))
                } else {
                    let t_x = (f64::from(tx) % age.floor()).max(1.0).min(age);
                    (f64::from(x), t_x, age, f64::from(w))
                }
            },
        );
        proptest::collection::vec(row, 1..300)
    }

    use proptest::prelude::*;

    proptest! {
        /// The hash-map collapse gives the rows, order and weights of the
        /// sort-based one (whole weights: sums exact in any order).
        #[test]
        fn fast_collapse_equals_sorted_collapse(rows in pooled_rows()) {
            let data = BgNbdData::weighted(rows.iter().copied()).unwrap();
            let got: Vec<_> = data.rows().collect();
            let want = reference_collapse(&rows);
            prop_assert_eq!(got.len(), data.distinct_rows());
            let bits = |v: &[(f64, f64, f64, f64)]| -> Vec<[u64; 4]> {
                v.iter().map(|r| [r.0.to_bits(), r.1.to_bits(), r.2.to_bits(), r.3.to_bits()]).collect()
            };
            prop_assert_eq!(bits(&got), bits(&want));
            let total: f64 = rows.iter().map(|r| r.3).sum();
            prop_assert_eq!(data.total_weight(), total);
        }

        /// The packed radix collapse (and its fallback) gives the rows,
        /// order and weights of the sort-based one.
        #[test]
        fn packed_collapse_equals_sorted_collapse(rows in integer_rows()) {
            let data = BgNbdData::weighted(rows.iter().copied()).unwrap();
            let got: Vec<_> = data.rows().collect();
            let want = reference_collapse(&rows);
            let bits = |v: &[(f64, f64, f64, f64)]| -> Vec<[u64; 4]> {
                v.iter().map(|r| [r.0.to_bits(), r.1.to_bits(), r.2.to_bits(), r.3.to_bits()]).collect()
            };
            prop_assert_eq!(bits(&got), bits(&want));
        }

        /// The table-based likelihood and gradient (exp factored into
        /// per-(x, T) and per-(x, t_x) tables) equal the per-row formulas
        /// of the oracle to 1e-12 relative, on rows with fractional and
        /// whole times, over parameters wide enough that the factors
        /// overflow and the direct fallback runs.
        #[test]
        fn table_likelihood_equals_per_row_formulas(
            rows in prop_oneof![pooled_rows(), integer_rows()],
            r in 0.01f64..30.0,
            alpha in 0.01f64..200.0,
            a in 0.05f64..5.0,
            b in 0.05f64..10.0,
            scale in prop_oneof![Just(1.0), 0.001f64..2.0],
        ) {
            let data = BgNbdData::weighted(rows).unwrap();
            let p = [r, alpha, a, b];
            let w = data.total_weight();
            let close = |new: f64, old: f64| (new - old).abs() <= 1e-12 * (old.abs() + w);
            match (data.evaluate(&p, scale, true), reference_evaluate(&data, &p, scale, true)) {
                (Some((ll, g)), Some((ll0, g0))) => {
                    prop_assert!(close(ll, ll0), "ll {} vs {}", ll, ll0);
                    for k in 0..4 {
                        prop_assert!(close(g[k], g0[k]), "g[{}] {} vs {}", k, g[k], g0[k]);
                    }
                    let (ll_only, _) = data.evaluate(&p, scale, false).unwrap();
                    prop_assert!(close(ll_only, ll0));
                }
                (new, old) => prop_assert!(new.is_none() && old.is_none(), "{:?} vs {:?}", new, old),
            }
            // and the per-customer log-likelihood of the paper, row by row
            let params = BgNbdParams::new(r, alpha, a, b).unwrap();
            if let Ok(total) = data.log_likelihood(&params) {
                let direct: f64 = data
                    .rows()
                    .map(|(x, t_x, age, w)| w * params.log_likelihood(x, t_x, age).unwrap())
                    .sum();
                prop_assert!(close(total, direct), "{} vs {}", total, direct);
            }
        }

        /// The analytic Hessian equals central differences of the analytic
        /// gradient (and the value and gradient of the Hessian evaluation
        /// equal the gradient-only one's exactly).
        #[test]
        fn hessian_matches_differences_of_the_gradient(
            rows in prop_oneof![pooled_rows(), integer_rows()],
            r in 0.05f64..5.0,
            alpha in 0.1f64..100.0,
            a in 0.1f64..3.0,
            b in 0.1f64..5.0,
            scale in prop_oneof![Just(1.0), 0.01f64..2.0],
        ) {
            let data = BgNbdData::weighted(rows).unwrap();
            let check = check_hessian(&data, &[r, alpha, a, b], scale, 1e-5);
            prop_assert!(check.is_ok(), "{:?}", check);
        }

        /// Batch predictions over the distinct rows equal the one-row
        /// functions exactly.
        #[test]
        fn batch_predictions_equal_one_by_one(
            rows in pooled_rows(),
            r in 0.05f64..5.0,
            alpha in 0.1f64..100.0,
            a in 0.1f64..3.0,
            b in 0.1f64..5.0,
            t in 0.0f64..400.0,
        ) {
            let data = BgNbdData::weighted(rows).unwrap();
            let p = BgNbdParams::new(r, alpha, a, b).unwrap();
            let alive = data.probability_alive(&p);
            for ((x, t_x, age, _), batch) in data.rows().zip(&alive) {
                prop_assert_eq!(*batch, p.probability_alive(x, t_x, age).unwrap());
            }
            let one: Vec<Result<f64, BtydError>> = data
                .rows()
                .map(|(x, t_x, age, _)| p.conditional_expected_purchases(t, x, t_x, age))
                .collect();
            match data.conditional_expected_purchases(&p, t) {
                Ok(batch) => {
                    prop_assert_eq!(batch.len(), one.len());
                    for (b, o) in batch.into_iter().zip(one) {
                        prop_assert_eq!(Ok(b), o);
                    }
                }
                Err(_) => prop_assert!(one.iter().any(Result::is_err)),
            }
        }
    }

    /// Checks the analytic Hessian of `data` at `p` against central
    /// differences of the analytic gradient (see
    /// [`check_hessian_against_gradient`]); points where the likelihood is
    /// undefined are skipped.
    fn check_hessian(data: &BgNbdData, p: &[f64; 4], scale: f64, tol: f64) -> Result<(), String> {
        let Some(d) = data.derivatives(p, scale, Order::Hessian) else {
            return Ok(());
        };
        let (ll, g) = data.evaluate(p, scale, true).ok_or("gradient")?;
        if ll != d.value || g != d.gradient {
            return Err(format!("value/gradient differ: {ll} {g:?} vs {d:?}"));
        }
        check_hessian_against_gradient(&d, p, data.total_weight(), tol, true, |q| {
            data.evaluate(q, scale, true).map(|(_, g)| g)
        })
    }

    #[test]
    fn hessian_matches_differences_for_huge_frequencies() {
        // x above MAX_SUMMED_X takes the lnΓ/ψ/ψ' differences.
        let data = BgNbdData::new([
            (0.0, 0.0, 38.0),
            (2.0, 30.4, 38.9),
            (150_000.0, 30.0, 38.9),
            (200_000.0, 35.0, 37.0),
        ])
        .unwrap();
        check_hessian(&data, &[0.5, 3.0, 0.8, 2.5], 0.3, 1e-6).unwrap();
        let data = four_customers();
        check_hessian(&data, &[0.5, 3.0, 0.8, 2.5], 0.3, 1e-6).unwrap();
    }

    #[cfg(feature = "synth")]
    #[test]
    fn fit_reports_the_likelihood_and_errors_of_the_old_computation() {
        // A fit's log-likelihood (from the scaled evaluation) equals the
        // likelihood at the returned parameters, and its standard errors
        // (analytic Hessian) equal those from central differences of the
        // gradient, as computed before, to the differences' accuracy.
        use rand::SeedableRng;
        let truth = BgNbdParams::new(0.243, 30.9, 0.793, 2.426).unwrap();
        let gg =
            crate::metrics::btyd::gamma_gamma::GammaGammaParams::new(6.25, 3.74, 15.44).unwrap();
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let rows = crate::metrics::btyd::simulate::simulate_summaries(
            &mut rng, &truth, &gg, 5000, 300.0, 546.0,
        )
        .unwrap();
        let data = BgNbdData::new(rows.iter().map(|&(x, t_x, age, _)| (x, t_x, age))).unwrap();
        let fit = data.fit(&FitOptions::default()).unwrap();
        assert!(fit.report.converged && fit.report.gradient_norm <= 1e-8);
        let p = fit.params;
        let ll = data.log_likelihood(&p).unwrap();
        assert!(
            (fit.report.log_likelihood - ll).abs() <= 1e-12 * ll.abs(),
            "{} vs {ll}",
            fit.report.log_likelihood
        );
        let natural = [p.r(), p.alpha(), p.a(), p.b()];
        let fd = crate::metrics::btyd::optim::tests::fd_standard_errors(&natural, |q| {
            data.evaluate(q, 1.0, true).map(|(_, g)| g.map(|v| -v))
        })
        .unwrap();
        let se = fit.std_errors.unwrap();
        for k in 0..4 {
            assert!(
                (se[k] - fd[k]).abs() <= 1e-6 * fd[k],
                "{k}: {} vs {}",
                se[k],
                fd[k]
            );
        }
    }

    #[test]
    fn parallel_evaluation_equals_serial_bit_for_bit() {
        // 80,000 distinct rows (more than PARALLEL_ROWS, 5 chunks): the
        // chunks' sums are added in chunk order whatever the threads.
        let rows = (0..80_000u32).map(|i| {
            let age = f64::from(1 + i % 1000);
            let x = f64::from(i / 1000 % 80);
            let t_x = if x == 0.0 {
                0.0
            } else {
                f64::from(1 + (i * 7919) % 1000).min(age)
            };
            (x, t_x, age, f64::from(1 + i % 3))
        });
        let data = BgNbdData::weighted(rows).unwrap();
        assert!(data.distinct_rows() > PARALLEL_ROWS);
        let p = [0.3, 40.0, 0.8, 2.5];
        for order in [Order::Value, Order::Gradient, Order::Hessian] {
            let serial = data.derivatives_on(&p, 0.01, order, 1).unwrap();
            for threads in [2, 3, 8] {
                assert_eq!(
                    data.derivatives_on(&p, 0.01, order, threads).unwrap(),
                    serial
                );
            }
        }
        let (ll, g) = reference_evaluate(&data, &p, 0.01, true).unwrap();
        let d = data.derivatives_on(&p, 0.01, Order::Gradient, 2).unwrap();
        let w = data.total_weight();
        assert!((d.value - ll).abs() <= 1e-12 * (ll.abs() + w));
        for (k, (new, old)) in d.gradient.iter().zip(g).enumerate() {
            assert!((new - old).abs() <= 1e-12 * (old.abs() + w), "{k}");
        }
    }

    #[test]
    fn ln_1p_via_ln_is_within_a_few_ulps() {
        let mut q = 1e-300;
        while q < 1e300 {
            for f in [1.0, 1.2345, 3.7, 7.1] {
                let v = q * f;
                let u = 1.0 + v;
                let got = ln_1p_via_ln(v, u, 1.0 / u);
                let want = v.ln_1p();
                assert!(
                    (got - want).abs() <= 4.0 * f64::EPSILON * want.abs(),
                    "{v}: {got} vs {want}"
                );
            }
            q *= 1.7;
        }
    }

    #[test]
    fn collapsed_likelihood_equals_row_sum() {
        let rows = [(0.0, 0.0, 38.0), (2.0, 30.4, 38.9), (0.0, 0.0, 38.0)];
        let data = BgNbdData::new(rows).unwrap();
        let p = cdnow();
        let direct: f64 = rows
            .iter()
            .map(|&(x, t, a)| p.log_likelihood(x, t, a).unwrap())
            .sum();
        assert!((data.log_likelihood(&p).unwrap() - direct).abs() < 1e-12);
        assert_eq!(data.distinct_rows(), 2);
    }
}
