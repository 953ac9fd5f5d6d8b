//! A small quasi-Newton (BFGS) minimiser on log-parameters.
//!
//! Why hand-written: the models have three or four parameters, all positive,
//! and analytic gradients. Optimising `θ = ln(param)` makes the problem
//! unbounded (the bound `param > 0` holds by construction, as in
//! `lifetimes`), so a dense BFGS with a backtracking (Armijo) line search is
//! about a hundred lines that we test directly. `argmin` was considered: its
//! L-BFGS needs the same log-transform (it has no bounds), and it brings
//! `anyhow`, `web-time`, `paste` and a second `rand_core` into every build of
//! crmkit for no gain at this size.
//!
//! The line search treats a non-finite objective as "too far" and halves the
//! step, and `|θ|` is kept below [`THETA_LIMIT`], so the iterates, and so
//! the returned parameters, are always finite.

use super::BtydError;

/// `|ln param|` never exceeds this: parameters stay in `[e^-30, e^30]`.
pub(crate) const THETA_LIMIT: f64 = 30.0;

/// A fit whose objective stops changing at machine precision counts as
/// converged when its gradient is below this, even if above the requested
/// tolerance: the data determine the optimum no more precisely.
pub(crate) const STALLED_GRADIENT_TOLERANCE: f64 = 1e-6;

/// Options for the maximum-likelihood fits.
///
/// The objective minimised is the one `lifetimes` minimises: the negative
/// mean log-likelihood (weighted by the collapsed rows' counts) plus
/// `penalizer × Σ param²`.
///
/// # Example
/// ```
/// use crmkit::metrics::btyd::FitOptions;
/// let options = FitOptions::default().with_penalizer(0.001)?;
/// assert_eq!(options.penalizer(), 0.001);
/// Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FitOptions {
    penalizer: f64,
    gradient_tolerance: f64,
    max_iterations: u32,
}

impl Default for FitOptions {
    /// No penalty, gradient tolerance 1e-8, at most 500 iterations.
    fn default() -> Self {
        Self {
            penalizer: 0.0,
            gradient_tolerance: 1e-8,
            max_iterations: 500,
        }
    }
}

impl FitOptions {
    /// Sets the L2 penalty coefficient (`>= 0`).
    ///
    /// # Errors
    /// [`BtydError::OutOfRange`] when negative or not finite.
    pub fn with_penalizer(mut self, penalizer: f64) -> Result<Self, BtydError> {
        self.penalizer = super::non_negative("penalizer", penalizer)?;
        Ok(self)
    }

    /// Sets the convergence tolerance: the fit has converged when every
    /// component of the gradient of the objective (the negative *mean*
    /// log-likelihood) with respect to the log-parameters is at most this in
    /// absolute value, or when the objective stops changing at machine
    /// precision with the gradient below 1e-6.
    ///
    /// # Errors
    /// [`BtydError::OutOfRange`] unless positive and finite.
    pub fn with_gradient_tolerance(mut self, tolerance: f64) -> Result<Self, BtydError> {
        self.gradient_tolerance = super::positive("gradient_tolerance", tolerance)?;
        Ok(self)
    }

    /// Sets the largest number of quasi-Newton iterations (at least 1).
    ///
    /// # Errors
    /// [`BtydError::OutOfRange`] when zero.
    pub fn with_max_iterations(mut self, iterations: u32) -> Result<Self, BtydError> {
        if iterations == 0 {
            return Err(BtydError::OutOfRange {
                name: "max_iterations",
                value: 0.0,
                range: ">= 1",
            });
        }
        self.max_iterations = iterations;
        Ok(self)
    }

    /// The L2 penalty coefficient.
    pub fn penalizer(&self) -> f64 {
        self.penalizer
    }

    /// The gradient tolerance.
    pub fn gradient_tolerance(&self) -> f64 {
        self.gradient_tolerance
    }

    /// The iteration limit.
    pub fn max_iterations(&self) -> u32 {
        self.max_iterations
    }
}

/// How a fit went.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FitReport {
    /// The (unpenalised) log-likelihood of the data at the fitted parameters,
    /// summed over customers.
    pub log_likelihood: f64,
    /// Quasi-Newton iterations done.
    pub iterations: u32,
    /// Whether the gradient criterion was met (see
    /// [`FitOptions::with_gradient_tolerance`]). A fit that stopped early
    /// (iteration limit, or no further decrease possible with the gradient
    /// still large) has `false`, and its parameters are the best point found.
    pub converged: bool,
    /// Largest absolute component of the objective's gradient with respect
    /// to the log-parameters at the returned point.
    pub gradient_norm: f64,
}

impl FitReport {
    /// `Ok(self)` when converged, else [`BtydError::NotConverged`].
    ///
    /// # Errors
    /// [`BtydError::NotConverged`] when the fit did not converge.
    pub fn ensure_converged(&self) -> Result<Self, BtydError> {
        if self.converged {
            Ok(*self)
        } else {
            Err(BtydError::NotConverged {
                iterations: self.iterations,
                gradient_norm: self.gradient_norm,
            })
        }
    }
}

/// The minimiser's answer.
pub(crate) struct Minimum<const N: usize> {
    pub theta: [f64; N],
    pub iterations: u32,
    pub converged: bool,
    pub gradient_norm: f64,
}

fn inf_norm<const N: usize>(g: &[f64; N]) -> f64 {
    g.iter().fold(0.0_f64, |m, v| m.max(v.abs()))
}

fn dot<const N: usize>(x: &[f64; N], y: &[f64; N]) -> f64 {
    x.iter().zip(y).map(|(a, b)| a * b).sum()
}

/// Minimises `f` (value and gradient, `None` where not finite) from `theta0`.
pub(crate) fn bfgs<const N: usize, F>(
    mut f: F,
    theta0: [f64; N],
    options: &FitOptions,
) -> Result<Minimum<N>, BtydError>
where
    F: FnMut(&[f64; N]) -> Option<(f64, [f64; N])>,
{
    let mut theta = theta0;
    let (mut fx, mut g) = f(&theta).ok_or(BtydError::FitFailed {
        reason: "the likelihood is not finite at the starting point",
    })?;
    let mut h = identity::<N>();
    let mut iterations = 0;
    let mut converged = false;
    let mut stalled = false;
    let mut flat_steps = 0;
    while iterations < options.max_iterations {
        if inf_norm(&g) <= options.gradient_tolerance {
            converged = true;
            break;
        }
        iterations += 1;
        let mut d = mat_vec(&h, &g).map(|v| -v);
        let mut slope = dot(&g, &d);
        let mut steepest = h == identity::<N>();
        if slope >= 0.0 || !slope.is_finite() {
            h = identity::<N>();
            d = g.map(|v| -v);
            slope = dot(&g, &d);
            steepest = true;
        }
        // The quasi-Newton step predicts a decrease of about -slope / 2: when
        // that is below the objective's rounding, no line search can see it.
        if -slope <= 1e-14 * fx.abs().max(1.0) && inf_norm(&g) <= STALLED_GRADIENT_TOLERANCE {
            stalled = true;
            break;
        }
        // Never try to move a log-parameter by more than 5 at once.
        let longest = inf_norm(&d);
        let mut step = if longest > 5.0 { 5.0 / longest } else { 1.0 };
        let mut accepted = None;
        // Give up once the step no longer moves any log-parameter by 1e-12.
        while step * inf_norm(&d) >= 1e-12 {
            let mut trial = theta;
            let mut inside = true;
            for (t, di) in trial.iter_mut().zip(&d) {
                *t += step * di;
                inside &= t.abs() <= THETA_LIMIT;
            }
            if inside
                && let Some((ft, gt)) = f(&trial)
                && ft <= fx + 1e-4 * step * slope
            {
                accepted = Some((trial, ft, gt));
                break;
            }
            step *= 0.5;
        }
        let Some((trial, ft, gt)) = accepted else {
            if !steepest {
                // The quasi-Newton direction found no decrease although it
                // predicts one far above rounding (an ill-conditioned
                // inverse-Hessian estimate, e.g. along a ridge to a boundary
                // optimum): restart from steepest descent before giving up.
                h = identity::<N>();
                continue;
            }
            // No decrease is possible even by steepest descent: we are at
            // the optimum to machine precision, or stuck.
            stalled = true;
            break;
        };
        if fx - ft <= 1e-15 * fx.abs().max(1.0) {
            flat_steps += 1;
        } else {
            flat_steps = 0;
        }
        let s: [f64; N] = std::array::from_fn(|i| trial[i] - theta[i]);
        let y: [f64; N] = std::array::from_fn(|i| gt[i] - g[i]);
        let sy = dot(&s, &y);
        if sy > 1e-14 * dot(&s, &s).sqrt() * dot(&y, &y).sqrt() && sy.is_finite() {
            if iterations == 1 {
                // Scale the first inverse-Hessian guess to the curvature seen
                // (Nocedal & Wright, eq. 6.20) before the first update.
                let scale = sy / dot(&y, &y);
                h = identity::<N>().map(|row| row.map(|v| v * scale));
            }
            bfgs_update(&mut h, &s, &y, sy);
        }
        theta = trial;
        fx = ft;
        g = gt;
        if flat_steps >= 3 {
            // The objective no longer changes at machine precision.
            stalled = true;
            break;
        }
    }
    let gradient_norm = inf_norm(&g);
    if gradient_norm <= options.gradient_tolerance
        || (stalled && gradient_norm <= STALLED_GRADIENT_TOLERANCE)
    {
        converged = true;
    }
    Ok(Minimum {
        theta,
        iterations,
        converged,
        gradient_norm,
    })
}

fn identity<const N: usize>() -> [[f64; N]; N] {
    std::array::from_fn(|i| std::array::from_fn(|j| if i == j { 1.0 } else { 0.0 }))
}

fn mat_vec<const N: usize>(m: &[[f64; N]; N], v: &[f64; N]) -> [f64; N] {
    std::array::from_fn(|i| dot(&m[i], v))
}

/// The inverse-Hessian BFGS update
/// `H ← (I - ρ s yᵀ) H (I - ρ y sᵀ) + ρ s sᵀ`, `ρ = 1 / (yᵀ s)`.
fn bfgs_update<const N: usize>(h: &mut [[f64; N]; N], s: &[f64; N], y: &[f64; N], sy: f64) {
    let rho = 1.0 / sy;
    let hy = mat_vec(h, y);
    let yhy = dot(y, &hy);
    let factor = (1.0 + rho * yhy) * rho;
    for i in 0..N {
        for j in 0..N {
            h[i][j] += factor * s[i] * s[j] - rho * (hy[i] * s[j] + s[i] * hy[j]);
        }
    }
}

/// Standard errors from the Hessian of the total negative log-likelihood:
/// the square roots of the diagonal of its inverse. `None` when the
/// Hessian is not positive definite (or not finite).
///
/// `grad` is the gradient of the total negative log-likelihood with respect
/// to the natural parameters; the Hessian is its central difference.
#[allow(clippy::needless_range_loop)] // matrix code reads best with indices
pub(crate) fn standard_errors<const N: usize, G>(params: &[f64; N], mut grad: G) -> Option<[f64; N]>
where
    G: FnMut(&[f64; N]) -> Option<[f64; N]>,
{
    let mut hess = [[0.0; N]; N];
    for k in 0..N {
        let h = 1e-5 * params[k];
        let mut up = *params;
        up[k] += h;
        let mut down = *params;
        down[k] -= h;
        let gu = grad(&up)?;
        let gd = grad(&down)?;
        for i in 0..N {
            hess[i][k] = (gu[i] - gd[i]) / (2.0 * h);
        }
    }
    for i in 0..N {
        for j in 0..i {
            let m = 0.5 * (hess[i][j] + hess[j][i]);
            hess[i][j] = m;
            hess[j][i] = m;
        }
    }
    let inv = invert(hess)?;
    let mut se = [0.0; N];
    for i in 0..N {
        let v = inv[i][i];
        if !(v.is_finite() && v > 0.0) {
            return None;
        }
        se[i] = v.sqrt();
    }
    Some(se)
}

/// Gauss-Jordan inversion with partial pivoting; `None` when singular.
fn invert<const N: usize>(mut m: [[f64; N]; N]) -> Option<[[f64; N]; N]> {
    let mut inv = identity::<N>();
    for col in 0..N {
        let pivot = (col..N).max_by(|&a, &b| m[a][col].abs().total_cmp(&m[b][col].abs()))?;
        let p = m[pivot][col];
        if p.abs() <= 1e-300 || !p.is_finite() {
            return None;
        }
        m.swap(col, pivot);
        inv.swap(col, pivot);
        for j in 0..N {
            m[col][j] /= p;
            inv[col][j] /= p;
        }
        for row in 0..N {
            if row != col {
                let f = m[row][col];
                for j in 0..N {
                    m[row][j] -= f * m[col][j];
                    inv[row][j] -= f * inv[col][j];
                }
            }
        }
    }
    Some(inv)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bfgs_minimises_rosenbrock() {
        let rosen = |t: &[f64; 2]| {
            let (x, y) = (t[0], t[1]);
            let f = (1.0 - x).powi(2) + 100.0 * (y - x * x).powi(2);
            let g = [
                -2.0 * (1.0 - x) - 400.0 * x * (y - x * x),
                200.0 * (y - x * x),
            ];
            Some((f, g))
        };
        let opts = FitOptions::default().with_max_iterations(1000).unwrap();
        let m = bfgs(rosen, [-1.2, 1.0], &opts).unwrap();
        assert!(m.converged);
        assert!((m.theta[0] - 1.0).abs() < 1e-7 && (m.theta[1] - 1.0).abs() < 1e-7);
    }

    #[test]
    fn bfgs_stays_finite_where_the_objective_is_not() {
        // f = exp(-θ) is unbounded below only as θ → ∞; the limit stops it.
        let f = |t: &[f64; 1]| Some(((-t[0]).exp(), [-(-t[0]).exp()]));
        let opts = FitOptions::default().with_max_iterations(200).unwrap();
        let m = bfgs(f, [0.0], &opts).unwrap();
        assert!(m.theta[0].is_finite() && m.theta[0] <= THETA_LIMIT);
    }

    #[test]
    fn inverse_of_a_known_matrix() {
        // [[4, 2], [2, 3]]⁻¹ = [[3, -2], [-2, 4]] / 8
        let inv = invert([[4.0, 2.0], [2.0, 3.0]]).unwrap();
        assert!((inv[0][0] - 0.375).abs() < 1e-15);
        assert!((inv[0][1] + 0.25).abs() < 1e-15);
        assert!((inv[1][1] - 0.5).abs() < 1e-15);
        assert!(invert([[1.0, 2.0], [2.0, 4.0]]).is_none());
    }

    #[test]
    fn standard_errors_of_a_quadratic() {
        // Negative log-likelihood 0.5 (x²/σ1² + y²/σ2²): gradient (x/σ1², y/σ2²),
        // Hessian diag(1/σ1², 1/σ2²), so the errors are σ1 = 2 and σ2 = 0.5.
        let se = standard_errors(&[1.0, 1.0], |p| Some([p[0] / 4.0, p[1] / 0.25])).unwrap();
        assert!((se[0] - 2.0).abs() < 1e-8 && (se[1] - 0.5).abs() < 1e-8);
    }
}
