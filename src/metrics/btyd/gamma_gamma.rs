//! The Gamma-Gamma model of spend per transaction (Fader, Hardie & Lee,
//! "RFM and CLV: Using Iso-Value Curves for Customer Base Analysis", 2005;
//! Fader & Hardie, "The Gamma-Gamma Model of Monetary Value", 2013).
//!
//! A customer's transaction values are `Gamma(p, ν)` (shape `p`, rate `ν`);
//! across customers `ν ~ Gamma(q, γ)` (`γ` is called `v` here, as in
//! `lifetimes`). The model assumes spend is independent of purchase
//! frequency: [`GammaGammaFit`] reports the correlation between the two so
//! a caller can see when that assumption fails.

use super::bgnbd::collapse;
use super::optim::{self, Derivatives, FitOptions, FitReport, Minimum, Order};
use super::sort;
use super::special::{digamma, ln_gamma, trigamma};
use super::summary::{CustomerSummary, Summary};
use super::{BtydError, finite, positive};

/// Rows per chunk of a likelihood evaluation (see [`PARALLEL_ROWS`]).
const CHUNK_ROWS: usize = 16_384;

/// From this many distinct rows a likelihood evaluation sums its chunks
/// on several threads.
const PARALLEL_ROWS: usize = 65_536;

/// Absolute frequency–monetary correlation from which
/// [`GammaGammaFit::correlated`] is set: the independence assumption is then
/// doubtful (a "moderate" correlation by the usual rule of thumb).
pub const CORRELATION_WARNING: f64 = 0.3;

/// Gamma-Gamma parameters `(p, q, v)`, all positive and finite.
///
/// # Example
/// ```
/// use crmkit::metrics::btyd::gamma_gamma::GammaGammaParams;
/// // The CDNOW estimates from Fader & Hardie's note.
/// let gg = GammaGammaParams::new(6.25, 3.74, 15.44)?;
/// // A customer with 2 repeat purchases averaging 30 is expected to spend
/// // p (v + x m) / (p x + q - 1) = 6.25 × 75.44 / 15.24 = 30.94 per purchase.
/// let m = gg.conditional_expected_average_spend(2.0, 30.0)?;
/// assert!((m - 30.94).abs() < 0.01);
/// Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GammaGammaParams {
    p: f64,
    q: f64,
    v: f64,
}

impl GammaGammaParams {
    /// Builds the parameters.
    ///
    /// # Errors
    /// [`BtydError::OutOfRange`] unless all three are positive and finite.
    pub fn new(p: f64, q: f64, v: f64) -> Result<Self, BtydError> {
        Ok(Self {
            p: positive("p", p)?,
            q: positive("q", q)?,
            v: positive("v", v)?,
        })
    }

    /// Shape of the per-transaction spend Gamma.
    pub fn p(&self) -> f64 {
        self.p
    }
    /// Shape of the Gamma of the customers' spend rates.
    pub fn q(&self) -> f64 {
        self.q
    }
    /// Rate of the Gamma of the customers' spend rates (`γ` in the papers).
    pub fn v(&self) -> f64 {
        self.v
    }

    /// Expected average spend per transaction of a customer with `x` repeat
    /// purchases of mean value `m`: `p (v + x m) / (p x + q - 1)`, a
    /// weighted mean of the population mean `p v / (q - 1)` and `m`. With
    /// `x = 0`, the population mean (`m` is ignored).
    ///
    /// # Errors
    /// [`BtydError::OutOfRange`] for a negative or non-finite `x` or `m`, or
    /// when `p x + q <= 1` (the expectation does not exist, e.g. `q <= 1`
    /// for a new customer).
    pub fn conditional_expected_average_spend(&self, x: f64, m: f64) -> Result<f64, BtydError> {
        let x = super::non_negative("frequency", x)?;
        let m = super::non_negative("monetary value", m)?;
        let m = if x == 0.0 { 0.0 } else { m };
        let den = self.p * x + self.q - 1.0;
        if den <= 0.0 {
            return Err(BtydError::OutOfRange {
                name: "p x + q - 1",
                value: den,
                range: "> 0 (q <= 1 gives an infinite mean)",
            });
        }
        finite("expected spend", self.p * (self.v + x * m) / den)
    }

    /// Log-likelihood of one customer's `x` repeat purchases averaging `m`.
    ///
    /// # Errors
    /// [`BtydError::OutOfRange`] unless `x >= 1` and `m > 0`, finite.
    pub fn log_likelihood(&self, x: f64, m: f64) -> Result<f64, BtydError> {
        let x = positive("frequency", x)?;
        let m = positive("monetary value", m)?;
        let (p, q, v) = (self.p, self.q, self.v);
        let px = p * x;
        let ll = ln_gamma(px + q) - ln_gamma(px) - ln_gamma(q)
            + q * v.ln()
            + (px - 1.0) * m.ln()
            + px * x.ln()
            - (px + q) * (x * m + v).ln();
        finite("log-likelihood", ll)
    }
}

#[derive(Debug, Clone, Copy)]
struct Row {
    ix: u32,
    ln_m: f64,
    xm: f64,
    w: f64,
}

/// Repeat customers' `(x, m)`, identical rows collapsed with weights.
///
/// # Example
/// ```
/// use crmkit::metrics::btyd::gamma_gamma::GammaGammaData;
/// // The customer without repeat purchases is skipped.
/// let data = GammaGammaData::new([(1.0, 20.0), (0.0, 0.0), (3.0, 41.5), (1.0, 20.0)])?;
/// assert_eq!(data.total_weight(), 3.0);
/// assert_eq!(data.distinct_rows(), 2);
/// Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct GammaGammaData {
    rows: Vec<Row>,
    xs: Vec<f64>,
    total_weight: f64,
    correlation: Option<f64>,
}

impl GammaGammaData {
    /// `(frequency, monetary value)` per customer; customers with `x = 0`
    /// are skipped (the model is fitted on repeat customers).
    ///
    /// # Errors
    /// [`BtydError::InvalidObservation`] for a negative, fractional or
    /// non-finite frequency, [`BtydError::InvalidMonetaryValue`] for a
    /// repeat customer whose value is not positive and finite,
    /// [`BtydError::Empty`] when no customer has a repeat purchase.
    pub fn new(rows: impl IntoIterator<Item = (f64, f64)>) -> Result<Self, BtydError> {
        Self::weighted(rows.into_iter().map(|(x, m)| (x, m, 1.0)))
    }

    /// Like [`GammaGammaData::new`] for rows already collapsed: `(x, m, count)`.
    ///
    /// # Errors
    /// As [`GammaGammaData::new`], and [`BtydError::OutOfRange`] for a weight
    /// that is not positive and finite.
    pub fn weighted(rows: impl IntoIterator<Item = (f64, f64, f64)>) -> Result<Self, BtydError> {
        let repeat = rows
            .into_iter()
            .enumerate()
            .filter_map(|(index, (x, m, w))| {
                if !x.is_finite() || x < 0.0 || x.fract() != 0.0 {
                    return Some(Err(BtydError::InvalidObservation {
                        index,
                        x,
                        t_x: f64::NAN,
                        age: f64::NAN,
                        reason: "frequency must be a finite whole number >= 0",
                    }));
                }
                if x == 0.0 {
                    return None;
                }
                if !(m.is_finite() && m > 0.0) {
                    return Some(Err(BtydError::InvalidMonetaryValue { index, value: m }));
                }
                Some(positive("weight", w).map(|w| ((x.to_bits(), m.to_bits()), w)))
            });
        Self::from_collapsed(collapse(repeat)?)
    }

    /// The data from collapsed `((x, m) as f64 bits, weight)` rows of
    /// repeat customers, sorted by `x`, then `m`.
    fn from_collapsed(collapsed: Vec<((u64, u64), f64)>) -> Result<Self, BtydError> {
        if collapsed.is_empty() {
            return Err(BtydError::Empty {
                what: "repeat customers",
            });
        }
        let mut rows: Vec<Row> = Vec::with_capacity(collapsed.len());
        let mut xs: Vec<f64> = Vec::new();
        for (key, w) in collapsed {
            let x = f64::from_bits(key.0);
            let m = f64::from_bits(key.1);
            if xs.last().map(|v| v.to_bits()) != Some(key.0) {
                xs.push(x);
            }
            rows.push(Row {
                ix: (xs.len() - 1) as u32,
                ln_m: m.ln(),
                xm: x * m,
                w,
            });
        }
        let total_weight = rows.iter().map(|r| r.w).sum();
        let mut data = Self {
            rows,
            xs,
            total_weight,
            correlation: None,
        };
        data.correlation = data.pearson();
        Ok(data)
    }

    /// The summary's customers as `(frequency, monetary value)`.
    ///
    /// # Errors
    /// As [`GammaGammaData::new`]; a monetary value beyond `f64` is
    /// [`BtydError::InvalidMonetaryValue`].
    pub fn from_summary<K>(summary: &Summary<K>) -> Result<Self, BtydError> {
        let repeat = RepeatScan::of(summary.customers(), 0)?;
        Self::from_scans(repeat, RepeatScan::default())
    }

    /// The data set of the repeat customers scanned in two parts (the
    /// summary's customers in order: `first`, then `second`), as
    /// [`GammaGammaData::from_summary`] makes it from all of them.
    pub(crate) fn from_scans(first: RepeatScan, second: RepeatScan) -> Result<Self, BtydError> {
        // (m as f64 bits, x) of the repeat customers, radix sorted by x,
        // then m, equal neighbours counted: the rows, order and weights of
        // `new`, without a hash map.
        let max_x = first.max_x.max(second.max_x);
        let min_m = first.min_m.min(second.min_m);
        let max_m = first.max_m.max(second.max_m);
        // Positive f64 bits sort like the numbers (the sign bit is 0).
        // When x and the offset of m's bits from the smallest fit one u64
        // (they do for money: m within a few binary orders of magnitude),
        // sort that key once; else by m, then (stably) by x.
        let wx = sort::bit_width(u64::from(max_x));
        let wm = sort::bit_width(max_m.saturating_sub(min_m));
        let collapsed: Vec<((u64, u64), f64)> = if wx + wm <= u64::BITS {
            let mut keys: Vec<u64> = first
                .repeat
                .iter()
                .chain(second.repeat.iter())
                .map(|&(m, x)| (u64::from(x) << wm) | (m - min_m))
                .collect();
            drop((first, second));
            sort::radix_sort_by(&mut keys, wx + wm, |&k| k);
            let low = (1u64 << wm) - 1;
            sort::run_lengths(&keys)
                .into_iter()
                .map(|(k, n)| {
                    let x = f64::from((k >> wm) as u32);
                    ((x.to_bits(), (k & low) + min_m), n as f64)
                })
                .collect()
        } else {
            let mut repeat = first.repeat;
            repeat.extend(second.repeat);
            sort::radix_sort_by(&mut repeat, 63, |e| e.0);
            sort::radix_sort_by(&mut repeat, wx, |e| u64::from(e.1));
            sort::run_lengths(&repeat)
                .into_iter()
                .map(|((m, x), n)| ((f64::from(x).to_bits(), m), n as f64))
                .collect()
        };
        Self::from_collapsed(collapsed)
    }

    /// Number of distinct `(x, m)` rows.
    pub fn distinct_rows(&self) -> usize {
        self.rows.len()
    }

    /// Number of repeat customers (sum of the weights).
    pub fn total_weight(&self) -> f64 {
        self.total_weight
    }

    /// The collapsed rows as `(x, m, weight)`.
    pub fn rows(&self) -> impl Iterator<Item = (f64, f64, f64)> + '_ {
        self.rows.iter().map(|r| {
            let x = self.xs.get(r.ix as usize).copied().unwrap_or(1.0);
            (x, r.xm / x, r.w)
        })
    }

    /// The weighted Pearson correlation of frequency and monetary value
    /// among repeat customers; `None` when either is constant.
    pub fn frequency_monetary_correlation(&self) -> Option<f64> {
        self.correlation
    }

    fn pearson(&self) -> Option<f64> {
        let w = self.total_weight;
        let rows: Vec<(f64, f64, f64)> = self.rows().collect();
        let mx = rows.iter().map(|r| r.0 * r.2).sum::<f64>() / w;
        let mm = rows.iter().map(|r| r.1 * r.2).sum::<f64>() / w;
        let (mut sxx, mut smm, mut sxm) = (0.0, 0.0, 0.0);
        for (x, m, wt) in rows {
            sxx += wt * (x - mx) * (x - mx);
            smm += wt * (m - mm) * (m - mm);
            sxm += wt * (x - mx) * (m - mm);
        }
        let c = sxm / (sxx * smm).sqrt();
        (sxx > 0.0 && smm > 0.0 && c.is_finite()).then(|| c.clamp(-1.0, 1.0))
    }

    /// The total log-likelihood under `params`.
    ///
    /// # Errors
    /// [`BtydError::OutOfRange`] if it is not finite.
    pub fn log_likelihood(&self, params: &GammaGammaParams) -> Result<f64, BtydError> {
        let ll = self
            .evaluate(&[params.p, params.q, params.v], false)
            .map(|(ll, _)| ll);
        finite("log-likelihood", ll.unwrap_or(f64::NAN))
    }

    fn evaluate(&self, params: &[f64; 3], grad: bool) -> Option<(f64, [f64; 3])> {
        let order = if grad { Order::Gradient } else { Order::Value };
        self.derivatives(params, order)
            .map(|d| (d.value, d.gradient))
    }

    /// Total log-likelihood with its gradient and Hessian (as `order`
    /// asks; the others are zero) with respect to `(p, q, v)`.
    ///
    /// Rows are sorted by `x`; per distinct `x` the rows contribute only
    /// through `Σ w`, `Σ w ln m`, `Σ w ln(x m + v)`, `Σ w/(x m + v)` and
    /// `Σ w/(x m + v)²`, so a row costs one `ln` and one division:
    ///
    /// `ll = W (lnΓ(px+q) - lnΓ(px) - lnΓ(q) + q ln v + px ln x)
    ///      + (px - 1) Σ w ln m - (px + q) Σ w ln(xm + v)`.
    fn derivatives(&self, params: &[f64; 3], order: Order) -> Option<Derivatives<3>> {
        let threads = super::worker_threads(self.rows.len(), PARALLEL_ROWS);
        self.derivatives_on(params, order, threads)
    }

    /// [`GammaGammaData::derivatives`] on `threads` threads (the result is
    /// the same, bit for bit, for any number).
    fn derivatives_on(
        &self,
        params: &[f64; 3],
        order: Order,
        threads: usize,
    ) -> Option<Derivatives<3>> {
        let [p, q, v] = *params;
        let grad = order >= Order::Gradient;
        let hess = order >= Order::Hessian;
        let (lg_q, ln_v) = (ln_gamma(q), v.ln());
        let dg_q = if grad { digamma(q) } else { 0.0 };
        let tg_q = if hess { trigamma(q) } else { 0.0 };
        let mut ll = 0.0;
        let mut g = [0.0; 3];
        let mut h = [[0.0; 3]; 3];
        let mut flush = |ix: u32, s: &[f64; 5]| -> Option<()> {
            let [w, s_lnm, s_z, s_iz, s_iz2] = *s;
            let x = *self.xs.get(ix as usize)?;
            let px = p * x;
            let ln_x = x.ln();
            let lg = ln_gamma(px + q) - ln_gamma(px);
            ll += w * (lg - lg_q + q * ln_v + px * ln_x) + (px - 1.0) * s_lnm - (px + q) * s_z;
            if grad {
                let (d1, d2) = (digamma(px + q), digamma(px));
                g[0] += x * (w * (d1 - d2 + ln_x) + s_lnm - s_z);
                g[1] += w * (d1 - dg_q + ln_v) - s_z;
                g[2] += w * q / v - (px + q) * s_iz;
            }
            if hess {
                let (t1, t2) = (trigamma(px + q), trigamma(px));
                h[0][0] += x * x * w * (t1 - t2);
                h[0][1] += x * w * t1;
                h[0][2] -= x * s_iz;
                h[1][1] += w * (t1 - tg_q);
                h[1][2] += w / v - s_iz;
                h[2][2] += -w * q / (v * v) + (px + q) * s_iz2;
            }
            Some(())
        };
        // Per-x row sums by chunk (in parallel for large data), merged in
        // chunk order, then one flush per x: the same for any threads.
        let row_sums = |rows: &&[Row]| -> Vec<(u32, [f64; 5])> {
            let mut out: Vec<(u32, [f64; 5])> = Vec::new();
            for row in rows.iter() {
                if out.last().map(|g| g.0) != Some(row.ix) {
                    out.push((row.ix, [0.0; 5]));
                }
                if let Some((_, sums)) = out.last_mut() {
                    let w = row.w;
                    let xmv = row.xm + v;
                    sums[0] += w;
                    sums[1] += w * row.ln_m;
                    sums[2] += w * xmv.ln();
                    if grad {
                        let iz = 1.0 / xmv;
                        sums[3] += w * iz;
                        sums[4] += w * iz * iz;
                    }
                }
            }
            out
        };
        let chunks: Vec<&[Row]> = self.rows.chunks(CHUNK_ROWS).collect();
        let parts = super::map_in_order(&chunks, threads, row_sums)?;
        let mut groups: Vec<(u32, [f64; 5])> = Vec::new();
        for (ix, sums) in parts.into_iter().flatten() {
            match groups.last_mut() {
                Some((last, acc)) if *last == ix => {
                    for (a, s) in acc.iter_mut().zip(sums) {
                        *a += s;
                    }
                }
                _ => groups.push((ix, sums)),
            }
        }
        for (ix, sums) in &groups {
            flush(*ix, sums)?;
        }
        h[1][0] = h[0][1];
        h[2][0] = h[0][2];
        h[2][1] = h[1][2];
        let finite = ll.is_finite()
            && g.iter().all(|v| v.is_finite())
            && h.iter().flatten().all(|v| v.is_finite());
        finite.then_some(Derivatives {
            value: ll,
            gradient: g,
            hessian: h,
        })
    }

    /// Fits `(p, q, v)` by maximum likelihood on log-parameters, starting
    /// from `p = 1`, `q = 1`, `v` = the mean monetary value, with the
    /// penalty `penalizer × (p² + q² + v²)` as in `lifetimes`.
    ///
    /// # Errors
    /// [`BtydError::FitFailed`] when the likelihood cannot be evaluated at
    /// the start. A fit that stops without converging is `Ok` with
    /// `report.converged == false`.
    ///
    /// # Example
    /// ```
    /// use crmkit::metrics::btyd::{gamma_gamma::GammaGammaData, FitOptions};
    /// let data = GammaGammaData::new([(1.0, 20.0), (3.0, 41.5), (2.0, 12.0), (5.0, 33.0), (1.0, 60.0)])?;
    /// let fit = data.fit(&FitOptions::default())?;
    /// assert!(fit.params.p() > 0.0);
    /// assert!(!fit.report.log_likelihood.is_nan());
    /// Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn fit(&self, options: &FitOptions) -> Result<GammaGammaFit, BtydError> {
        let w = self.total_weight;
        let lambda = options.penalizer();
        let mean_m = self.rows().map(|r| r.1 * r.2).sum::<f64>() / w;
        let objective = |theta: &[f64; 3]| {
            let p = theta.map(f64::exp);
            let d = self.derivatives(&p, Order::Hessian)?;
            optim::log_objective(&d, &p, w, lambda)
        };
        let start = [0.0, 0.0, mean_m.max(1e-12).ln()];
        let (
            Minimum {
                theta,
                iterations,
                converged,
                gradient_norm,
            },
            at,
        ) = optim::newton(objective, start, options)?;
        let natural = theta.map(f64::exp);
        let [p, q, v] = natural;
        let params = GammaGammaParams::new(p, q, v).map_err(|_| BtydError::FitFailed {
            reason: "the optimum is not finite",
        })?;
        let std_errors =
            optim::standard_errors_from_hessian(&optim::natural_hessian(&at, &natural, w, lambda));
        let penalty: f64 = natural.iter().map(|v| v * v).sum();
        let log_likelihood = finite("log-likelihood", -(at.value - lambda * penalty) * w)?;
        let correlation = self.correlation;
        Ok(GammaGammaFit {
            params,
            std_errors,
            report: FitReport {
                log_likelihood,
                iterations,
                converged,
                gradient_norm,
            },
            frequency_monetary_correlation: correlation,
            correlated: correlation.is_some_and(|c| c.abs() >= CORRELATION_WARNING),
        })
    }
}

/// A Gamma-Gamma maximum-likelihood fit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GammaGammaFit {
    /// The fitted parameters.
    pub params: GammaGammaParams,
    /// Standard errors of `(p, q, v)`; `None` when the Hessian is not
    /// positive definite.
    pub std_errors: Option<[f64; 3]>,
    /// Log-likelihood, iterations and convergence.
    pub report: FitReport,
    /// Weighted Pearson correlation of frequency and monetary value among
    /// the repeat customers fitted; `None` when either is constant.
    pub frequency_monetary_correlation: Option<f64>,
    /// Warning: `|correlation| >= 0.3` ([`CORRELATION_WARNING`]); the
    /// model's assumption that spend does not depend on frequency is doubtful
    /// and its predictions should not be trusted without a holdout check.
    pub correlated: bool,
}

/// The repeat customers of part of a summary, for
/// [`GammaGammaData::from_scans`]: `(m as f64 bits, x)` per repeat
/// customer in order, with the largest `x` and the range of m's bits.
#[derive(Debug)]
pub(crate) struct RepeatScan {
    repeat: Vec<(u64, u32)>,
    max_x: u32,
    min_m: u64,
    max_m: u64,
}

impl Default for RepeatScan {
    fn default() -> Self {
        Self {
            repeat: Vec::new(),
            max_x: 0,
            min_m: u64::MAX,
            max_m: 0,
        }
    }
}

impl RepeatScan {
    /// Scans `customers`, the first of which is customer `offset` of the
    /// summary. Customers without repeat purchases are skipped unread:
    /// their monetary value is not converted.
    pub(crate) fn of<K>(
        customers: &[CustomerSummary<K>],
        offset: usize,
    ) -> Result<Self, BtydError> {
        let mut scan = Self::default();
        for (i, c) in customers.iter().enumerate() {
            if c.frequency == 0 {
                continue;
            }
            let m = sort::decimal_to_f64(&c.monetary_value);
            if !(m.is_finite() && m > 0.0) {
                return Err(BtydError::InvalidMonetaryValue {
                    index: offset + i,
                    value: m,
                });
            }
            let bits = m.to_bits();
            scan.max_x = scan.max_x.max(c.frequency);
            scan.min_m = scan.min_m.min(bits);
            scan.max_m = scan.max_m.max(bits);
            scan.repeat.push((bits, c.frequency));
        }
        Ok(scan)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::btyd::optim::tests::check_hessian_against_gradient;

    #[test]
    fn analytic_gradient_matches_finite_differences() {
        let data =
            GammaGammaData::new([(1.0, 20.0), (3.0, 41.5), (2.0, 12.0), (5.0, 33.0)]).unwrap();
        let p = [4.0, 3.0, 12.0];
        let (_, g) = data.evaluate(&p, true).unwrap();
        for k in 0..3 {
            let h = 1e-6 * p[k];
            let mut up = p;
            up[k] += h;
            let mut dn = p;
            dn[k] -= h;
            let fd = (data.evaluate(&up, false).unwrap().0 - data.evaluate(&dn, false).unwrap().0)
                / (2.0 * h);
            assert!(
                (fd - g[k]).abs() < 1e-6 * (1.0 + g[k].abs()),
                "{k}: {fd} vs {}",
                g[k]
            );
        }
    }

    /// The analytic Hessian against central differences of the analytic
    /// gradient (see [`check_hessian_against_gradient`]).
    fn check_hessian(data: &GammaGammaData, p: &[f64; 3], tol: f64) -> Result<(), String> {
        let d = data.derivatives(p, Order::Hessian).ok_or("not finite")?;
        let (ll, g) = data.evaluate(p, true).ok_or("gradient")?;
        if ll != d.value || g != d.gradient {
            return Err(format!("value/gradient differ: {ll} {g:?} vs {d:?}"));
        }
        check_hessian_against_gradient(&d, p, data.total_weight(), tol, false, |q| {
            data.evaluate(q, true).map(|(_, g)| g)
        })
    }

    #[cfg(feature = "synth")]
    #[test]
    fn fit_reports_the_likelihood_and_errors_of_the_old_computation() {
        // As for the BG/NBD fit: the reported log-likelihood is the
        // likelihood at the returned parameters; the standard errors from
        // the analytic Hessian equal those from central differences.
        use rand::SeedableRng;
        let bg = crate::metrics::btyd::bgnbd::BgNbdParams::new(0.243, 30.9, 0.793, 2.426).unwrap();
        let truth = GammaGammaParams::new(6.25, 3.74, 15.44).unwrap();
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let rows = crate::metrics::btyd::simulate::simulate_summaries(
            &mut rng, &bg, &truth, 5000, 300.0, 546.0,
        )
        .unwrap();
        let data = GammaGammaData::new(rows.iter().map(|&(x, _, _, m)| (x, m))).unwrap();
        let fit = data.fit(&FitOptions::default()).unwrap();
        assert!(fit.report.converged && fit.report.gradient_norm <= 1e-8);
        let p = fit.params;
        let ll = data.log_likelihood(&p).unwrap();
        assert!((fit.report.log_likelihood - ll).abs() <= 1e-12 * ll.abs());
        let natural = [p.p(), p.q(), p.v()];
        let fd = crate::metrics::btyd::optim::tests::fd_standard_errors(&natural, |x| {
            data.evaluate(x, true).map(|(_, g)| g.map(|v| -v))
        })
        .unwrap();
        let se = fit.std_errors.unwrap();
        for k in 0..3 {
            assert!(
                (se[k] - fd[k]).abs() <= 1e-6 * fd[k],
                "{k}: {} vs {}",
                se[k],
                fd[k]
            );
        }
    }

    use proptest::prelude::*;

    proptest! {
        /// The analytic Hessian equals central differences of the gradient.
        #[test]
        fn hessian_matches_differences_of_the_gradient(
            rows in proptest::collection::vec((1u32..60, 0.5f64..500.0, 1u32..4), 1..80),
            p in 0.05f64..20.0,
            q in 0.05f64..20.0,
            v in 0.05f64..200.0,
        ) {
            let data = GammaGammaData::weighted(
                rows.into_iter().map(|(x, m, w)| (f64::from(x), m, f64::from(w))),
            )
            .unwrap();
            let check = check_hessian(&data, &[p, q, v], 1e-5);
            prop_assert!(check.is_ok(), "{:?}", check);
        }

        /// The hash-map collapse gives the rows, order and weights of the
        /// sort-based one it replaced (sort all `(x, m)` bits, add equal
        /// neighbours), skipping `x = 0`; whole weights keep sums exact.
        #[test]
        fn fast_collapse_equals_sorted_collapse(
            rows in proptest::collection::vec(
                (0u32..4, prop::sample::select(vec![0.5, 12.0, 12.25, 33.0, 1e9]), 1u32..4),
                1..200,
            )
        ) {
            let rows: Vec<(f64, f64, f64)> = rows
                .into_iter()
                .map(|(x, m, w)| (f64::from(x), m, f64::from(w)))
                .collect();
            let mut raw: Vec<([u64; 2], f64)> = rows
                .iter()
                .filter(|r| r.0 > 0.0)
                .map(|&(x, m, w)| ([x.to_bits(), m.to_bits()], w))
                .collect();
            raw.sort_by_key(|r| r.0);
            let mut want: Vec<([u64; 2], f64)> = Vec::new();
            for (key, w) in raw {
                match want.last_mut() {
                    Some(last) if last.0 == key => last.1 += w,
                    _ => want.push((key, w)),
                }
            }
            match GammaGammaData::weighted(rows) {
                Ok(data) => {
                    let got: Vec<(f64, f64, f64)> = data.rows().collect();
                    prop_assert_eq!(got.len(), want.len());
                    for ((x, m, w), (key, want_w)) in got.into_iter().zip(want) {
                        prop_assert_eq!(x.to_bits(), key[0]);
                        // rows() gives m back as (x m) / x.
                        let m_want = f64::from_bits(key[1]);
                        prop_assert_eq!((x * m_want) / x, m);
                        prop_assert_eq!(w, want_w);
                    }
                }
                Err(BtydError::Empty { .. }) => prop_assert!(want.is_empty()),
                Err(e) => prop_assert!(false, "{e}"),
            }
        }
    }

    #[test]
    fn parallel_evaluation_equals_serial_bit_for_bit() {
        // 80,000 distinct rows (5 chunks, x groups split across chunks).
        let rows = (0..80_000u32).map(|i| {
            (
                f64::from(1 + i / 2000),
                5.0 + f64::from(i % 2000) * 0.37,
                f64::from(1 + i % 3),
            )
        });
        let data = GammaGammaData::weighted(rows).unwrap();
        assert!(data.distinct_rows() > PARALLEL_ROWS);
        let p = [6.0, 3.7, 15.0];
        for order in [Order::Value, Order::Gradient, Order::Hessian] {
            let serial = data.derivatives_on(&p, order, 1).unwrap();
            for threads in [2, 3, 8] {
                assert_eq!(data.derivatives_on(&p, order, threads).unwrap(), serial);
            }
        }
        // and the total equals the per-customer log-likelihood summed
        let params = GammaGammaParams::new(6.0, 3.7, 15.0).unwrap();
        let direct: f64 = data
            .rows()
            .map(|(x, m, w)| w * params.log_likelihood(x, m).unwrap())
            .sum();
        let ll = data.derivatives_on(&p, Order::Value, 2).unwrap().value;
        assert!(
            (ll - direct).abs() <= 1e-12 * direct.abs(),
            "{ll} vs {direct}"
        );
    }

    #[test]
    fn likelihood_by_hand() {
        // p = 1, q = 2, v = 1, x = 1, m = 1:
        // lnΓ(3) - lnΓ(1) - lnΓ(2) + 2 ln 1 + 0 ln 1 + 1 ln 1 - 3 ln 2 = ln 2 - 3 ln 2 = -2 ln 2.
        let gg = GammaGammaParams::new(1.0, 2.0, 1.0).unwrap();
        let ll = gg.log_likelihood(1.0, 1.0).unwrap();
        assert!((ll + 2.0 * 2f64.ln()).abs() < 1e-14);
    }

    #[test]
    fn expected_spend_for_new_customer_needs_q_above_one() {
        let gg = GammaGammaParams::new(2.0, 0.5, 10.0).unwrap();
        assert!(gg.conditional_expected_average_spend(0.0, 0.0).is_err());
        // With x = 3: 2 (10 + 3 × 5) / (6 + 0.5 - 1) = 50 / 5.5.
        let m = gg.conditional_expected_average_spend(3.0, 5.0).unwrap();
        assert!((m - 50.0 / 5.5).abs() < 1e-12);
    }

    #[test]
    fn correlation_flag() {
        // Spend rising with frequency: correlation 1.
        let data =
            GammaGammaData::new([(1.0, 10.0), (2.0, 20.0), (3.0, 30.0), (4.0, 40.0)]).unwrap();
        assert!((data.frequency_monetary_correlation().unwrap() - 1.0).abs() < 1e-12);
        let fit = data.fit(&FitOptions::default()).unwrap();
        assert!(fit.correlated);
    }

    #[test]
    fn invalid_rows_are_typed_errors() {
        assert!(matches!(
            GammaGammaData::new([(2.0, 0.0)]),
            Err(BtydError::InvalidMonetaryValue { index: 0, .. })
        ));
        assert!(matches!(
            GammaGammaData::new([(0.0, 0.0)]),
            Err(BtydError::Empty { .. })
        ));
        assert!(matches!(
            GammaGammaData::new([(-1.0, 3.0)]),
            Err(BtydError::InvalidObservation { .. })
        ));
    }
}
