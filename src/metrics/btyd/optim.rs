//! A small Newton minimiser on log-parameters.
//!
//! Why hand-written: the models have three or four parameters, all positive,
//! and analytic gradients and Hessians. Optimising `θ = ln(param)` makes the
//! problem unbounded (the bound `param > 0` holds by construction, as in
//! `lifetimes`), so a dense Newton method with a backtracking (Armijo) line
//! search is about a hundred lines that we test directly. It replaced a
//! BFGS of the same shape: with the exact Hessian the CDNOW-like fits take
//! 6-7 iterations instead of 16-24, and the standard errors come from the
//! same Hessian instead of eight more gradients. `argmin` was considered: its
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

    /// Sets the largest number of Newton iterations (at least 1).
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
    /// Newton iterations done.
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

/// How many derivatives an evaluation of a likelihood computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Order {
    /// The value only.
    Value,
    /// Value and gradient.
    Gradient,
    /// Value, gradient and Hessian.
    Hessian,
}

/// An objective's value, gradient and Hessian at one point.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Derivatives<const N: usize> {
    pub value: f64,
    pub gradient: [f64; N],
    pub hessian: [[f64; N]; N],
}

/// The Cholesky factor `L` (lower triangular, `A = L Lᵀ`) of `a + μ I`,
/// `None` unless that matrix is (numerically) positive definite.
#[allow(clippy::needless_range_loop)] // matrix code reads best with indices
fn cholesky<const N: usize>(a: &[[f64; N]; N], mu: f64) -> Option<[[f64; N]; N]> {
    let mut l = [[0.0; N]; N];
    for j in 0..N {
        let mut d = a[j][j] + mu;
        for k in 0..j {
            d -= l[j][k] * l[j][k];
        }
        if !(d.is_finite() && d > 1e-13 * (a[j][j].abs() + mu)) {
            return None;
        }
        let djj = d.sqrt();
        l[j][j] = djj;
        for i in j + 1..N {
            let mut s = a[i][j];
            for k in 0..j {
                s -= l[i][k] * l[j][k];
            }
            l[i][j] = s / djj;
        }
    }
    Some(l)
}

/// Solves `L Lᵀ x = b`.
#[allow(clippy::needless_range_loop)]
fn cholesky_solve<const N: usize>(l: &[[f64; N]; N], b: &[f64; N]) -> [f64; N] {
    let mut y = [0.0; N];
    for i in 0..N {
        let mut s = b[i];
        for k in 0..i {
            s -= l[i][k] * y[k];
        }
        y[i] = s / l[i][i];
    }
    let mut x = [0.0; N];
    for i in (0..N).rev() {
        let mut s = y[i];
        for k in i + 1..N {
            s -= l[k][i] * x[k];
        }
        x[i] = s / l[i][i];
    }
    x
}

/// The Newton direction `-(H + μ I)⁻¹ g` with the smallest shift `μ` of
/// `0, 1e-8 m, 1e-7 m, ...` (`m` the largest diagonal magnitude) that
/// makes `H + μ I` positive definite: the plain Newton step near a
/// minimum, a step towards steepest descent where `H` is indefinite.
fn newton_direction<const N: usize>(h: &[[f64; N]; N], g: &[f64; N]) -> Option<[f64; N]> {
    let scale = (0..N)
        .map(|i| h[i][i].abs())
        .fold(0.0_f64, f64::max)
        .max(1e-12);
    let mut mu = 0.0;
    for _ in 0..40 {
        if let Some(l) = cholesky(h, mu) {
            let d = cholesky_solve(&l, g).map(|v| -v);
            if d.iter().all(|v| v.is_finite()) {
                return Some(d);
            }
        }
        mu = if mu == 0.0 { 1e-8 * scale } else { mu * 10.0 };
    }
    None
}

/// Minimises `f` (value, gradient and Hessian; `None` where not finite)
/// from `theta0` by Newton's method with a backtracking (Armijo) line
/// search, the Hessian shifted to positive definite where it is not
/// ([`newton_direction`]), and a steepest-descent step when a Newton
/// step finds no decrease. Near the optimum it converges quadratically:
/// a handful of iterations where BFGS takes twenty.
///
/// Returns the minimum and the derivatives at it.
pub(crate) fn newton<const N: usize, F>(
    mut f: F,
    theta0: [f64; N],
    options: &FitOptions,
) -> Result<(Minimum<N>, Derivatives<N>), BtydError>
where
    F: FnMut(&[f64; N]) -> Option<Derivatives<N>>,
{
    let mut theta = theta0;
    let mut cur = f(&theta).ok_or(BtydError::FitFailed {
        reason: "the likelihood is not finite at the starting point",
    })?;
    let mut iterations = 0;
    let mut converged = false;
    let mut stalled = false;
    let mut flat_steps = 0;
    let mut steepest = false;
    while iterations < options.max_iterations {
        let g = cur.gradient;
        if inf_norm(&g) <= options.gradient_tolerance {
            converged = true;
            break;
        }
        iterations += 1;
        let newton_step = if steepest {
            None
        } else {
            newton_direction(&cur.hessian, &g).filter(|d| dot(&g, d) < 0.0)
        };
        let is_newton = newton_step.is_some();
        let d = newton_step.unwrap_or_else(|| g.map(|v| -v));
        steepest = false;
        let slope = dot(&g, &d);
        let fx = cur.value;
        let rounding = 1e-14 * fx.abs().max(1.0);
        // The step predicts a decrease of about -slope / 2. When that is
        // near the objective's rounding, no line search can see it: a
        // Newton step is then judged by the gradient it leads to (near the
        // optimum each step squares the gradient's size), any other step
        // ends the search.
        if -slope <= 100.0 * rounding && is_newton {
            let trial: [f64; N] = std::array::from_fn(|i| theta[i] + d[i]);
            if trial.iter().all(|t| t.abs() <= THETA_LIMIT)
                && let Some(next) = f(&trial)
                && next.value <= fx + 10.0 * rounding
                && inf_norm(&next.gradient) < inf_norm(&g)
            {
                theta = trial;
                cur = next;
                flat_steps = 0;
                continue;
            }
        }
        if -slope <= rounding && inf_norm(&g) <= STALLED_GRADIENT_TOLERANCE {
            stalled = true;
            break;
        }
        // Never try to move a log-parameter by more than 5 at once.
        let longest = inf_norm(&d);
        let mut step = if longest > 5.0 { 5.0 / longest } else { 1.0 };
        let mut accepted = None;
        while step * longest >= 1e-12 {
            let mut trial = theta;
            let mut inside = true;
            for (t, di) in trial.iter_mut().zip(&d) {
                *t += step * di;
                inside &= t.abs() <= THETA_LIMIT;
            }
            if inside
                && let Some(next) = f(&trial)
                && next.value <= fx + 1e-4 * step * slope
            {
                accepted = Some((trial, next));
                break;
            }
            step *= 0.5;
        }
        let Some((trial, next)) = accepted else {
            if is_newton {
                // No decrease along the Newton direction although it
                // predicts one above rounding: try steepest descent.
                steepest = true;
                continue;
            }
            stalled = true;
            break;
        };
        if fx - next.value <= 1e-15 * fx.abs().max(1.0) {
            flat_steps += 1;
        } else {
            flat_steps = 0;
        }
        theta = trial;
        cur = next;
        if flat_steps >= 3 {
            stalled = true;
            break;
        }
    }
    let gradient_norm = inf_norm(&cur.gradient);
    if gradient_norm <= options.gradient_tolerance
        || (stalled && gradient_norm <= STALLED_GRADIENT_TOLERANCE)
    {
        converged = true;
    }
    Ok((
        Minimum {
            theta,
            iterations,
            converged,
            gradient_norm,
        },
        cur,
    ))
}

/// Standard errors from the Hessian of the total negative log-likelihood
/// in the natural parameters: the square roots of the diagonal of its
/// inverse; `None` unless it is positive definite and finite.
#[allow(clippy::needless_range_loop)]
pub(crate) fn standard_errors_from_hessian<const N: usize>(
    hessian: &[[f64; N]; N],
) -> Option<[f64; N]> {
    let mut h = *hessian;
    for i in 0..N {
        for j in 0..i {
            let m = 0.5 * (h[i][j] + h[j][i]);
            h[i][j] = m;
            h[j][i] = m;
        }
    }
    let inv = invert(h)?;
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

/// The Hessian of `-ll` in the natural parameters `p = e^θ` from the
/// derivatives of the fit objective `f(θ) = -ll(e^θ) / w + λ Σ p²`:
/// `∂²f/∂θk∂θl = p_k p_l (-∂²ll/∂p_k∂p_l / w + 2λ δ_kl) + δ_kl ∂f/∂θk`.
#[allow(clippy::needless_range_loop)]
pub(crate) fn natural_hessian<const N: usize>(
    d: &Derivatives<N>,
    params: &[f64; N],
    weight: f64,
    penalizer: f64,
) -> [[f64; N]; N] {
    let mut h = [[0.0; N]; N];
    for k in 0..N {
        for l in 0..N {
            let mut v = d.hessian[k][l];
            if k == l {
                v -= d.gradient[k];
            }
            v /= params[k] * params[l];
            if k == l {
                v -= 2.0 * penalizer;
            }
            h[k][l] = v * weight;
        }
    }
    h
}

/// The fit objective `-ll / w + λ Σ p²` on log-parameters `θ = ln p`,
/// from the log-likelihood's derivatives `d` in `p`:
/// `∂f/∂θk = p_k (-∂ll/∂p_k / w + 2λ p_k)` and
/// `∂²f/∂θk∂θl = p_k p_l (-∂²ll/∂p_k∂p_l / w + 2λ δ_kl) + δ_kl ∂f/∂θk`;
/// `None` unless all are finite.
pub(crate) fn log_objective<const N: usize>(
    d: &Derivatives<N>,
    p: &[f64; N],
    w: f64,
    lambda: f64,
) -> Option<Derivatives<N>> {
    let pen: f64 = p.iter().map(|v| v * v).sum();
    let gradient: [f64; N] =
        std::array::from_fn(|k| p[k] * (-d.gradient[k] / w + 2.0 * lambda * p[k]));
    let hessian: [[f64; N]; N] = std::array::from_fn(|k| {
        std::array::from_fn(|l| {
            let diag = if k == l { 1.0 } else { 0.0 };
            p[k] * p[l] * (-d.hessian[k][l] / w + 2.0 * lambda * diag) + diag * gradient[k]
        })
    });
    let value = -d.value / w + lambda * pen;
    let finite = value.is_finite()
        && gradient.iter().all(|v| v.is_finite())
        && hessian.iter().flatten().all(|v| v.is_finite());
    finite.then_some(Derivatives {
        value,
        gradient,
        hessian,
    })
}

fn identity<const N: usize>() -> [[f64; N]; N] {
    std::array::from_fn(|i| std::array::from_fn(|j| if i == j { 1.0 } else { 0.0 }))
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
pub(crate) mod tests {
    use super::*;

    /// Checks an analytic Hessian `d` at `p` against central differences
    /// of the analytic gradient `grad`, entry by entry, to `tol` relative to
    /// the entry's scale `sqrt(|H_ii H_kk|) + |H_ik|` plus the natural size
    /// of a second derivative, `weight / (p_i p_k) / 100` (entries that
    /// cancel to about zero, such as `-r/α² + r/α²` for one row with
    /// `T = 0`, are compared against that). Also checks symmetry. A
    /// perturbed point where `grad` is `None` skips that column when
    /// `skip_undefined`, else fails.
    #[allow(clippy::needless_range_loop)] // matrix code reads best with indices
    pub(crate) fn check_hessian_against_gradient<const N: usize>(
        d: &Derivatives<N>,
        p: &[f64; N],
        weight: f64,
        tol: f64,
        skip_undefined: bool,
        grad: impl Fn(&[f64; N]) -> Option<[f64; N]>,
    ) -> Result<(), String> {
        for k in 0..N {
            let h = 1e-5 * p[k];
            let mut up = *p;
            up[k] += h;
            let mut dn = *p;
            dn[k] -= h;
            let (gu, gd) = match (grad(&up), grad(&dn)) {
                (Some(gu), Some(gd)) => (gu, gd),
                _ if skip_undefined => continue,
                _ => return Err(format!("gradient undefined next to p[{k}]")),
            };
            for i in 0..N {
                let fd = (gu[i] - gd[i]) / (2.0 * h);
                let size = (d.hessian[i][i] * d.hessian[k][k]).abs().sqrt()
                    + d.hessian[i][k].abs()
                    + 1e-2 * weight / (p[i] * p[k]);
                if (fd - d.hessian[i][k]).abs() > tol * size.max(1e-300) {
                    return Err(format!(
                        "H[{i}][{k}] = {} vs differences {fd}",
                        d.hessian[i][k]
                    ));
                }
                if d.hessian[i][k] != d.hessian[k][i] {
                    return Err(format!("H[{i}][{k}] not symmetric"));
                }
            }
        }
        Ok(())
    }

    /// The standard errors as computed before the analytic Hessians (the test
    /// oracle): from the Hessian of the total negative log-likelihood,
    /// the square roots of the diagonal of its inverse. `None` when the
    /// Hessian is not positive definite (or not finite).
    ///
    /// `grad` is the gradient of the total negative log-likelihood with respect
    /// to the natural parameters; the Hessian is its central difference.
    #[allow(clippy::needless_range_loop)] // matrix code reads best with indices
    pub(crate) fn fd_standard_errors<const N: usize, G>(
        params: &[f64; N],
        mut grad: G,
    ) -> Option<[f64; N]>
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
        // The differences replace the analytic Hessian; the inversion is
        // the one the fits use.
        standard_errors_from_hessian(&hess)
    }

    fn rosenbrock(t: &[f64; 2]) -> Option<Derivatives<2>> {
        let (x, y) = (t[0], t[1]);
        Some(Derivatives {
            value: (1.0 - x).powi(2) + 100.0 * (y - x * x).powi(2),
            gradient: [
                -2.0 * (1.0 - x) - 400.0 * x * (y - x * x),
                200.0 * (y - x * x),
            ],
            hessian: [
                [2.0 - 400.0 * (y - 3.0 * x * x), -400.0 * x],
                [-400.0 * x, 200.0],
            ],
        })
    }

    #[test]
    fn newton_minimises_rosenbrock() {
        // The Hessian is indefinite on the way (at (-1.2, 1) its first
        // diagonal is 2 - 400(1 - 4.32) > 0 but at (0, 1) it is -398):
        // the shifted Newton step and the line search get through.
        for start in [[-1.2, 1.0], [0.0, 1.0], [2.0, -1.0]] {
            let (m, at) = newton(rosenbrock, start, &FitOptions::default()).unwrap();
            assert!(m.converged, "{start:?}: {}", m.gradient_norm);
            assert!((m.theta[0] - 1.0).abs() < 1e-7 && (m.theta[1] - 1.0).abs() < 1e-7);
            assert!(m.iterations < 100, "{}", m.iterations);
            assert_eq!(Some(at), rosenbrock(&m.theta));
        }
    }

    #[test]
    fn newton_takes_one_step_on_a_quadratic() {
        // f = (θ0 - 1)² + 3 (θ1 + 2)² + θ0 θ1: one Newton step lands on the
        // minimum, where 2(θ0 - 1) + θ1 = 0 and 6(θ1 + 2) + θ0 = 0, i.e.
        // θ0 = 24/11, θ1 = -26/11.
        let f = |t: &[f64; 2]| {
            Some(Derivatives {
                value: (t[0] - 1.0).powi(2) + 3.0 * (t[1] + 2.0).powi(2) + t[0] * t[1],
                gradient: [2.0 * (t[0] - 1.0) + t[1], 6.0 * (t[1] + 2.0) + t[0]],
                hessian: [[2.0, 1.0], [1.0, 6.0]],
            })
        };
        let (m, _) = newton(f, [0.0, 0.0], &FitOptions::default()).unwrap();
        assert!(m.converged);
        assert_eq!(m.iterations, 1);
        assert!((m.theta[0] - 24.0 / 11.0).abs() < 1e-12);
        assert!((m.theta[1] + 26.0 / 11.0).abs() < 1e-12);
    }

    #[test]
    fn newton_stays_finite_where_the_objective_is_not() {
        // f = exp(-θ) is unbounded below only as θ → ∞; the limit stops it.
        let f = |t: &[f64; 1]| {
            let e = (-t[0]).exp();
            Some(Derivatives {
                value: e,
                gradient: [-e],
                hessian: [[e]],
            })
        };
        let opts = FitOptions::default().with_max_iterations(200).unwrap();
        let (m, _) = newton(f, [0.0], &opts).unwrap();
        assert!(m.theta[0].is_finite() && m.theta[0] <= THETA_LIMIT);
    }

    #[test]
    fn newton_direction_shifts_an_indefinite_hessian() {
        // H = diag(1, -1): not positive definite; the shifted step still
        // descends (g·d < 0), and for a positive definite H it is -H⁻¹g.
        let g = [1.0, 1.0];
        let d = newton_direction(&[[1.0, 0.0], [0.0, -1.0]], &g).unwrap();
        assert!(dot(&g, &d) < 0.0);
        let d = newton_direction(&[[2.0, 0.0], [0.0, 4.0]], &g).unwrap();
        assert!((d[0] + 0.5).abs() < 1e-15 && (d[1] + 0.25).abs() < 1e-15);
    }

    #[test]
    fn cholesky_solves_a_known_system() {
        // [[4, 2], [2, 3]] x = [2, 1]: x = [[3, -2], [-2, 4]] / 8 · [2, 1] = [0.5, 0].
        let l = cholesky(&[[4.0, 2.0], [2.0, 3.0]], 0.0).unwrap();
        let x = cholesky_solve(&l, &[2.0, 1.0]);
        assert!((x[0] - 0.5).abs() < 1e-15 && x[1].abs() < 1e-15);
        assert!(cholesky(&[[1.0, 2.0], [2.0, 1.0]], 0.0).is_none());
    }

    #[test]
    fn log_objective_chain_rule_by_hand() {
        // ll(p) = -p² / 2 (one parameter), w = 2, λ = 0.5, at θ = ln 2 (p = 2):
        // f(θ) = -ll/w + λ p² = p²/4 + p²/2 = 0.75 e^(2θ): f = 3,
        // f' = 1.5 e^(2θ) = 6, f'' = 3 e^(2θ) = 12.
        let d = Derivatives {
            value: -2.0,
            gradient: [-2.0],
            hessian: [[-1.0]],
        };
        let o = log_objective(&d, &[2.0], 2.0, 0.5).unwrap();
        assert!((o.value - 3.0).abs() < 1e-15);
        assert!((o.gradient[0] - 6.0).abs() < 1e-15);
        assert!((o.hessian[0][0] - 12.0).abs() < 1e-15);
        // and back: the Hessian of -ll in p is 1.
        let h = natural_hessian(&o, &[2.0], 2.0, 0.5);
        assert!((h[0][0] - 1.0).abs() < 1e-15);
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
        // Negative log-likelihood 0.5 (x²/σ1² + y²/σ2²): Hessian
        // diag(1/σ1², 1/σ2²), so the errors are σ1 = 2 and σ2 = 0.5.
        let se = standard_errors_from_hessian(&[[0.25, 0.0], [0.0, 4.0]]).unwrap();
        assert!((se[0] - 2.0).abs() < 1e-15 && (se[1] - 0.5).abs() < 1e-15);
        let fd = fd_standard_errors(&[1.0, 1.0], |p| Some([p[0] / 4.0, p[1] / 0.25])).unwrap();
        assert!((fd[0] - 2.0).abs() < 1e-8 && (fd[1] - 0.5).abs() < 1e-8);
        assert!(standard_errors_from_hessian(&[[1.0, 0.0], [0.0, -1.0]]).is_none());
    }
}
