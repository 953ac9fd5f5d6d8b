//! Special functions the models need: ln-gamma, digamma and the Gauss
//! hypergeometric function 2F1 on `0 <= z < 1`.
//!
//! ln-gamma and digamma come from `statrs` (Lanczos approximation, about 16
//! digits for positive arguments); the reflection formula for negative
//! arguments and 2F1 are written here, each tested against values computed
//! with `mpmath` at 30 digits (see the tests at the bottom of this file);
//! trigamma (for the Hessians of the fits) is written here too, tested
//! against its closed forms at integers and half-integers.

use super::BtydError;

/// Largest number of terms a power series may take before it is declared
/// non-convergent. At `z = 0.99996` the geometric factor alone needs about
/// 900,000 terms to fall below 1e-16.
const MAX_TERMS: usize = 1_000_000;

/// Relative size below which a series term no longer changes the sum.
const SERIES_EPS: f64 = 1e-17;

/// Above this `z` the 2F1 series converges slowly and the `1 - z`
/// transformation is used where it applies.
const TRANSFORM_ABOVE: f64 = 0.8;

/// `c - a - b` closer than this to an integer makes the `1 - z`
/// transformation lose `-log10(distance)` digits to cancellation; the
/// series is used there instead.
const NEAR_INTEGER: f64 = 1e-3;

/// `ln Γ(x)` for `x > 0`.
pub fn ln_gamma(x: f64) -> f64 {
    statrs::function::gamma::ln_gamma(x)
}

/// The digamma function `ψ(x) = d/dx ln Γ(x)` for `x > 0`.
pub fn digamma(x: f64) -> f64 {
    statrs::function::gamma::digamma(x)
}

/// The trigamma function `ψ'(x) = d²/dx² ln Γ(x)` for `x > 0`.
///
/// The recurrence `ψ'(x) = ψ'(x + 1) + 1/x²` moves the argument to at
/// least 10, where the asymptotic series
/// `1/x + 1/(2x²) + Σ_k B_2k / x^(2k+1)` (Bernoulli numbers up to `B_14`)
/// is accurate to about 1e-16 relative.
///
/// # Example
/// ```
/// use crmkit::metrics::btyd::special::trigamma;
/// // ψ'(1) = π²/6.
/// let pi2 = std::f64::consts::PI * std::f64::consts::PI;
/// assert!((trigamma(1.0) - pi2 / 6.0).abs() < 1e-14);
/// ```
pub fn trigamma(x: f64) -> f64 {
    if x == f64::INFINITY {
        return 0.0;
    }
    if x.is_nan() || x <= 0.0 {
        return f64::NAN;
    }
    let mut x = x;
    let mut acc = 0.0;
    while x < 10.0 {
        acc += 1.0 / (x * x);
        x += 1.0;
    }
    let z = 1.0 / x;
    let z2 = z * z;
    // B2 = 1/6, B4 = -1/30, B6 = 1/42, B8 = -1/30, B10 = 5/66,
    // B12 = -691/2730, B14 = 7/6.
    let series = 1.0 / 6.0
        + z2 * (-1.0 / 30.0
            + z2 * (1.0 / 42.0
                + z2 * (-1.0 / 30.0
                    + z2 * (5.0 / 66.0 + z2 * (-691.0 / 2730.0 + z2 * 7.0 / 6.0)))));
    acc + z + 0.5 * z2 + z * z2 * series
}

/// `ln B(a, b) = ln Γ(a) + ln Γ(b) - ln Γ(a + b)` for `a, b > 0`.
pub fn ln_beta(a: f64, b: f64) -> f64 {
    ln_gamma(a) + ln_gamma(b) - ln_gamma(a + b)
}

/// `1 / Γ(x)` as `(ln |1/Γ(x)|, sign)` for any real `x`; at the poles
/// (zero and the negative integers) `1/Γ` is zero, returned as sign 0.
fn ln_recip_gamma_signed(x: f64) -> (f64, f64) {
    if x > 0.0 {
        return (-ln_gamma(x), 1.0);
    }
    if x == x.floor() {
        return (0.0, 0.0);
    }
    // Reflection: Γ(x) Γ(1 - x) = π / sin(πx), so
    // 1/Γ(x) = sin(πx) Γ(1 - x) / π with 1 - x > 1.
    let s = (std::f64::consts::PI * x).sin();
    (
        s.abs().ln() + ln_gamma(1.0 - x) - std::f64::consts::PI.ln(),
        s.signum(),
    )
}

/// Sums a hypergeometric-type series `Σ_{n>=0} t_n` with `t_0 = first` and
/// `t_{n+1} = t_n · ratio(n)`.
///
/// Returns `None` when a ratio or term is not finite, the series has not
/// converged after [`MAX_TERMS`] terms, or the terms cancel so much
/// (`Σ|t_n| > MAX_CANCELLATION · |Σ t_n|`) that fewer than about eight
/// digits of the sum are right.
fn sum_series(first: f64, min_terms: f64, ratio: impl Fn(f64) -> f64) -> Option<f64> {
    let mut term = first;
    let mut sum = first;
    let mut abs_sum = first.abs();
    let mut quiet = 0;
    for n in 0..MAX_TERMS {
        let nf = n as f64;
        let rho = ratio(nf);
        term *= rho;
        if !term.is_finite() {
            return None;
        }
        sum += term;
        abs_sum += term.abs();
        let done = if term == 0.0 {
            true
        } else if term.abs() <= SERIES_EPS * sum.abs() {
            // Two negligible terms in a row, shrinking, and past the last
            // sign change of a numerator parameter (`min_terms`): from
            // there on the ratios only tend down to z < 1.
            quiet += 1;
            quiet >= 2 && rho.abs() < 1.0 && nf >= min_terms
        } else {
            quiet = 0;
            false
        };
        if done {
            return (abs_sum <= MAX_CANCELLATION * sum.abs() && sum.is_finite()).then_some(sum);
        }
    }
    None
}

/// Largest tolerated ratio of the sum of absolute terms to the absolute sum:
/// cancellation beyond it leaves fewer than about eight correct digits.
const MAX_CANCELLATION: f64 = 1e8;

/// The 2F1 power series `Σ (a)_n (b)_n / ((c)_n n!) z^n`; `None` when a
/// denominator vanishes or [`sum_series`] refuses.
fn hyp2f1_series(a: f64, b: f64, c: f64, z: f64) -> Option<f64> {
    sum_series(1.0, (-a).max(-b).max(-c).max(0.0), |n| {
        (a + n) * (b + n) / ((c + n) * (n + 1.0)) * z
    })
}

/// The Gauss hypergeometric function `2F1(a, b; c; z)` for `0 <= z < 1`.
///
/// The power series is used up to `z = 0.8`; above, where it converges
/// slowly, the `1 - z` connection formula (Abramowitz & Stegun 15.3.6,
/// DLMF 15.8.4) maps the argument to `1 - z < 0.2`, unless `c - a - b` is
/// within 1e-3 of an integer (where the formula's two terms cancel); there
/// the series is summed directly, up to a million terms.
///
/// # Errors
/// [`BtydError::Hypergeometric`] when `z` is outside `[0, 1)`, a parameter
/// is not finite, `c` is zero or a negative integer, or the series does not
/// converge.
pub fn hyp2f1(a: f64, b: f64, c: f64, z: f64) -> Result<f64, BtydError> {
    let err = || BtydError::Hypergeometric { a, b, c, z };
    let finite = a.is_finite() && b.is_finite() && c.is_finite();
    if !finite || !(0.0..1.0).contains(&z) {
        return Err(err());
    }
    if z == 0.0 {
        return Ok(1.0);
    }
    let s = c - a - b;
    if z > TRANSFORM_ABOVE && c > 0.0 && (s - s.round()).abs() > NEAR_INTEGER {
        let w = 1.0 - z;
        let (lg_c, _) = (ln_gamma(c), 1.0);
        // First term: Γ(c)Γ(s)/(Γ(c-a)Γ(c-b)) 2F1(a, b; 1 - s; 1 - z).
        let (lr_s, sg_s) = ln_recip_gamma_signed(s);
        let (lr_ca, sg_ca) = ln_recip_gamma_signed(c - a);
        let (lr_cb, sg_cb) = ln_recip_gamma_signed(c - b);
        let f1 = hyp2f1_series(a, b, 1.0 - s, w).ok_or_else(err)?;
        let t1 = if sg_ca == 0.0 || sg_cb == 0.0 {
            0.0
        } else {
            sg_s * sg_ca * sg_cb * f1 * (lg_c - lr_s + lr_ca + lr_cb).exp()
        };
        // Second term: (1-z)^s Γ(c)Γ(-s)/(Γ(a)Γ(b)) 2F1(c-a, c-b; 1 + s; 1 - z).
        let (lr_ms, sg_ms) = ln_recip_gamma_signed(-s);
        let (lr_a, sg_a) = ln_recip_gamma_signed(a);
        let (lr_b, sg_b) = ln_recip_gamma_signed(b);
        let f2 = hyp2f1_series(c - a, c - b, 1.0 + s, w).ok_or_else(err)?;
        let t2 = if sg_a == 0.0 || sg_b == 0.0 {
            0.0
        } else {
            sg_ms * sg_a * sg_b * f2 * (lg_c - lr_ms + lr_a + lr_b + s * w.ln()).exp()
        };
        let v = t1 + t2;
        let accurate = t1.abs() + t2.abs() <= MAX_CANCELLATION * v.abs();
        return if v.is_finite() && accurate {
            Ok(v)
        } else {
            Err(err())
        };
    }
    hyp2f1_series(a, b, c, z)
        .filter(|v| v.is_finite())
        .ok_or_else(err)
}

/// `c · [1 - (1 - z)^r · 2F1(r, c - ε; c; z)] / ε`, the factor of the BG/NBD
/// expected-purchases formulas, without its removable singularity at
/// `ε = a - 1 = 0`.
///
/// With Euler's transformation `2F1(r, b; c; z) = (1-z)^(c-r-b) 2F1(c-r, c-b; c; z)`
/// and `c - b = ε`, `(1-z)^r 2F1(r, b; c; z) = (1-z)^ε 2F1(c - r, ε; c; z)`,
/// and `2F1(c - r, ε; c; z) = 1 + (ε/c) K` with
/// `K = Σ_{n≥1} (c-r)_n (1+ε)_{n-1} / ((c+1)_{n-1} n!) z^n`, so the value is
/// `-c · expm1(ε ln(1-z)) / ε - (1-z)^ε K`: no division by a small `ε`
/// remains (`-expm1(εL)/ε` tends to `-L`), and `c` may be zero or negative
/// (`c > -1`) without a pole.
///
/// For `z > 0.8` and `|ε| > 1e-3` with `c > 0`, `K = c (2F1(c-r, ε; c; z) - 1) / ε`
/// is evaluated with [`hyp2f1`]'s transformation instead of the slow series.
pub(crate) fn bgnbd_bracket(r: f64, c: f64, eps: f64, z: f64) -> Result<f64, BtydError> {
    let err = || BtydError::Hypergeometric {
        a: r,
        b: c - eps,
        c,
        z,
    };
    let finite = r.is_finite() && c.is_finite() && eps.is_finite();
    if !finite || !(0.0..1.0).contains(&z) || c <= -1.0 {
        return Err(err());
    }
    if z == 0.0 {
        return Ok(0.0);
    }
    let l = (-z).ln_1p();
    let first = if eps == 0.0 {
        -c * l
    } else {
        -c * (eps * l).exp_m1() / eps
    };
    let via_k = || -> Option<f64> {
        let k = if z > TRANSFORM_ABOVE && eps.abs() > NEAR_INTEGER && c > 0.0 {
            c * (hyp2f1(c - r, eps, c, z).ok()? - 1.0) / eps
        } else {
            bracket_series(r, c, eps, z)?
        };
        let second = (eps * l).exp() * k;
        let v = first - second;
        let accurate = first.abs() + second.abs() <= MAX_CANCELLATION * v.abs();
        (v.is_finite() && accurate).then_some(v)
    };
    // Where K's terms cancel (r much larger than c), the original form
    // c (1 - Q) / ε with Q = (1-z)^r 2F1(r, b; c; z), whose series has
    // positive terms, is accurate unless ε is tiny.
    let via_q = || -> Option<f64> {
        if c <= 0.0 || eps.abs() < 1e-6 {
            return None;
        }
        let f = hyp2f1(r, c - eps, c, z).ok()?;
        if f <= 0.0 {
            return None;
        }
        let q = (r * l + f.ln()).exp();
        let v = c * (1.0 - q) / eps;
        let accurate = (1.0 - q).abs() >= 1e-8 * q.max(1.0);
        (v.is_finite() && accurate).then_some(v)
    };
    via_k().or_else(via_q).ok_or_else(err)
}

/// [`bgnbd_bracket`] at several `z` at once (the CLV's monthly horizons).
///
/// The coefficients of the series `K` do not depend on `z`, so where every
/// `z` is in the series region and the terms are all of one sign
/// (`c >= r`), the coefficients are computed once, as far as the largest
/// `z` needs them (the others converge faster), and each `z`'s sum is then
/// evaluated by Horner's rule, all `z` in one loop (no dependency between
/// them, no branch: it vectorises). Anything else falls back to
/// [`bgnbd_bracket`] per `z`.
pub(crate) fn bgnbd_brackets(r: f64, c: f64, eps: f64, zs: &[f64]) -> Result<Vec<f64>, BtydError> {
    let one_by_one = || zs.iter().map(|&z| bgnbd_bracket(r, c, eps, z)).collect();
    let fits = zs.iter().all(|z| (0.0..=TRANSFORM_ABOVE).contains(z));
    if !fits || c < r || c <= 0.0 || !(r.is_finite() && c.is_finite() && eps.is_finite()) {
        return one_by_one();
    }
    let z_max = zs.iter().copied().fold(0.0, f64::max);
    // Coefficients until the largest z's terms are negligible (the test
    // of `sum_series`: two negligible terms in a row, shrinking).
    let mut coefs: Vec<f64> = Vec::with_capacity(64);
    let mut coef = c - r;
    let mut power = z_max;
    let mut sum = 0.0;
    let mut quiet = 0;
    let mut converged = false;
    for n in 1..MAX_TERMS {
        coefs.push(coef);
        let term = coef * power;
        sum += term;
        power *= z_max;
        let nf = n as f64;
        let rho = (c - r + nf) * (eps + nf) / ((c + nf) * (nf + 1.0));
        coef *= rho;
        if coef == 0.0 || !coef.is_finite() || term == 0.0 {
            converged = coef == 0.0 || term == 0.0;
            break;
        }
        if term.abs() <= SERIES_EPS * sum.abs() {
            quiet += 1;
            if quiet >= 2 && rho < 1.0 {
                converged = true;
                break;
            }
        } else {
            quiet = 0;
        }
    }
    if !converged {
        return one_by_one();
    }
    // K(z) = z (c_1 + z (c_2 + z (c_3 + ...))).
    let mut sums = vec![0.0; zs.len()];
    for &coef in coefs.iter().rev() {
        for (s, &z) in sums.iter_mut().zip(zs) {
            *s = *s * z + coef;
        }
    }
    let mut out = Vec::with_capacity(zs.len());
    for (&z, s) in zs.iter().zip(sums) {
        if z == 0.0 {
            out.push(0.0);
            continue;
        }
        let k = s * z;
        let l = (-z).ln_1p();
        let em1 = (eps * l).exp_m1();
        let first = if eps == 0.0 { -c * l } else { -c * em1 / eps };
        // (1 - z)^ε = e^(εl), from the `expm1` already computed.
        let second = (em1 + 1.0) * k;
        let v = first - second;
        if v.is_finite() && first.abs() + second.abs() <= MAX_CANCELLATION * v.abs() {
            out.push(v);
        } else {
            out.push(bgnbd_bracket(r, c, eps, z)?);
        }
    }
    Ok(out)
}

/// The series `K` of [`bgnbd_bracket`]: first term `(c - r) z`, then
/// `term_{n+1} / term_n = (c-r+n)(ε+n) / ((c+n)(n+1)) z` for `n >= 1`.
fn bracket_series(r: f64, c: f64, eps: f64, z: f64) -> Option<f64> {
    let first = (c - r) * z;
    if first == 0.0 {
        return Some(0.0);
    }
    sum_series(first, (r - c).max(-c).max(0.0), |n| {
        let n = n + 1.0;
        (c - r + n) * (eps + n) / ((c + n) * (n + 1.0)) * z
    })
}

/// `ln(e^x + e^y)` without overflow.
pub(crate) fn log_add_exp(x: f64, y: f64) -> f64 {
    let (hi, lo) = if x >= y { (x, y) } else { (y, x) };
    hi + (lo - hi).exp().ln_1p()
}

/// The regularized incomplete beta function `I_x(a, b)`.
pub(crate) fn beta_reg(a: f64, b: f64, x: f64) -> f64 {
    statrs::function::beta::beta_reg(a, b, x)
}

#[cfg(test)]
#[allow(clippy::excessive_precision)] // reference values are printed to 17 digits
mod tests {
    use super::*;

    fn close(got: f64, want: f64, rel: f64) {
        let err = ((got - want) / want).abs();
        assert!(
            err <= rel,
            "got {got:e}, want {want:e}, relative error {err:e}"
        );
    }

    // Reference values: mpmath 1.3.0 with mp.dps = 30,
    // `mpmath.loggamma(x)` and `mpmath.digamma(x)`, printed with 17 digits.
    #[test]
    fn ln_gamma_matches_mpmath() {
        for (x, want) in [
            (0.001, 6.9071788853838537),
            (0.2433, 1.3167390722877256),
            (3.5, 1.2009736023470742),
            (10.0, 12.80182748008147),
            (150.25, 601.26150403249973),
            (1234.5, 7550.5509010778949),
        ] {
            close(ln_gamma(x), want, 1e-14);
        }
    }

    #[test]
    fn digamma_matches_mpmath() {
        for (x, want) in [
            (0.2433, -4.3456576556290562),
            (1.0, -0.57721566490153286),
            (3.5, 1.1031566406452432),
            (150.25, 5.0089690950212172),
        ] {
            close(digamma(x), want, 1e-13);
        }
    }

    #[test]
    fn trigamma_matches_closed_forms() {
        // ψ'(1) = π²/6, ψ'(n+1) = π²/6 - Σ_{k=1..n} 1/k²,
        // ψ'(1/2) = π²/2, ψ'(n+1/2) = π²/2 - 4 Σ_{k=1..n} 1/(2k-1)²,
        // ψ'(1/4) = π² + 8G (G = Catalan's constant 0.91596559417721901505).
        let pi2 = std::f64::consts::PI * std::f64::consts::PI;
        close(trigamma(1.0), pi2 / 6.0, 1e-15);
        close(trigamma(0.5), pi2 / 2.0, 1e-15);
        close(trigamma(0.25), pi2 + 8.0 * 0.91596559417721901505, 1e-15);
        let (mut int, mut half) = (pi2 / 6.0, pi2 / 2.0);
        for n in 1..=60 {
            let k = f64::from(n);
            int -= 1.0 / (k * k);
            half -= 4.0 / ((2.0 * k - 1.0) * (2.0 * k - 1.0));
            close(trigamma(k + 1.0), int, 1e-13);
            close(trigamma(k + 0.5), half, 1e-13);
        }
        // Large arguments: ψ'(x) = 1/x + 1/(2x²) + 1/(6x³) - ... → 1/x.
        close(trigamma(1e8), 1e-8 + 0.5e-16, 1e-15);
        // Tiny: ψ'(x) = 1/x² + π²/6 + O(x).
        close(trigamma(1e-6), 1e12 + pi2 / 6.0, 1e-15);
        assert!(trigamma(0.0).is_nan() && trigamma(-1.0).is_nan());
    }

    #[test]
    fn recip_gamma_reflection_has_sign_and_poles() {
        // Γ(-0.5) = -2 sqrt(π) = -3.5449077018110321
        let (l, s) = ln_recip_gamma_signed(-0.5);
        close(s * (-l).exp(), -3.5449077018110321, 1e-14);
        // Γ(-1.5) = 4 sqrt(π) / 3 = 2.3632718012073547
        let (l, s) = ln_recip_gamma_signed(-1.5);
        close(s * (-l).exp(), 2.3632718012073547, 1e-14);
        assert_eq!(ln_recip_gamma_signed(-2.0).1, 0.0);
        assert_eq!(ln_recip_gamma_signed(0.0).1, 0.0);
    }

    // Reference values: mpmath 1.3.0, mp.dps = 30, `mpmath.hyp2f1(a, b, c, z)`.
    // The arguments cover the BG/NBD uses (a = r (+x), b = b (+x),
    // c = a + b (+x) - 1), both the series region and the transformed one,
    // near-integer c - a - b and a negative c - a - b.
    #[test]
    fn hyp2f1_matches_mpmath() {
        let cases = [
            (0.243, 2.783, 2.573, 0.3, 1.0993209958907598),
            (0.243, 2.783, 2.573, 0.85, 1.7030936927454031),
            (0.243, 2.783, 2.573, 0.99, 4.2995052748412495),
            (0.243, 2.783, 2.573, 0.9999, 29.527188745074803),
            (5.243, 7.783, 7.573, 0.95, 11511810.108385054),
            (1.5, 2.0, 4.0, 0.95, 4.3668104795457206),
            (1.5, 2.0, 3.5, 0.95, 6.5711770307643761),
            (1.5, 2.0, 3.5005, 0.95, 6.567945748750393),
            (2.0, 3.0, 1.5, 0.9, 4516.006595644985),
            (0.5, 0.5, 1.0, 0.999, 3.081960708698816),
        ];
        for (a, b, c, z, want) in cases {
            let got = hyp2f1(a, b, c, z).unwrap();
            close(got, want, 1e-11);
        }
    }

    #[test]
    fn hyp2f1_elementary_identities() {
        // 2F1(1, 1; 2; z) = -ln(1 - z) / z
        for z in [0.1, 0.5, 0.85, 0.97] {
            close(hyp2f1(1.0, 1.0, 2.0, z).unwrap(), -(-z).ln_1p() / z, 1e-13);
        }
        // 2F1(a, b; b; z) = (1 - z)^-a
        for z in [0.2, 0.9, 0.999] {
            close(
                hyp2f1(0.7, 1.3, 1.3, z).unwrap(),
                (1.0 - z).powf(-0.7),
                1e-12,
            );
        }
    }

    #[test]
    fn hyp2f1_rejects_outside_domain() {
        assert!(hyp2f1(1.0, 1.0, 2.0, 1.0).is_err());
        assert!(hyp2f1(1.0, 1.0, 2.0, -0.1).is_err());
        assert!(hyp2f1(1.0, 1.0, -2.0, 0.5).is_err());
        assert!(hyp2f1(f64::NAN, 1.0, 2.0, 0.5).is_err());
    }

    #[test]
    fn bracket_matches_direct_formula_away_from_singularity() {
        // c [1 - (1-z)^r 2F1(r, b; c; z)] / ε with b = c - ε, computed directly.
        for (r, c, eps, z) in [
            (0.243_f64, 2.573_f64, -0.21_f64, 0.3_f64),
            (0.243, 2.573, -0.21, 0.9),
            (2.0, 5.0, 0.8, 0.5),
            (2.0, 5.0, 0.8, 0.95),
            (0.7, 1.2, 1.5, 0.99),
        ] {
            let direct = c * (1.0 - (1.0 - z).powf(r) * hyp2f1(r, c - eps, c, z).unwrap()) / eps;
            close(bgnbd_bracket(r, c, eps, z).unwrap(), direct, 1e-10);
        }
    }

    #[test]
    fn bracket_is_continuous_through_eps_zero() {
        for z in [0.1, 0.6, 0.9, 0.99] {
            let at0 = bgnbd_bracket(0.5, 2.0, 0.0, z).unwrap();
            for eps in [1e-12, -1e-12, 1e-8, -1e-8] {
                close(bgnbd_bracket(0.5, 2.0, eps, z).unwrap(), at0, 1e-6);
            }
            // Either side of the 1e-3 switch between series and transformation.
            let lo = bgnbd_bracket(0.5, 2.0, 0.000_999, z).unwrap();
            let hi = bgnbd_bracket(0.5, 2.0, 0.001_001, z).unwrap();
            close(lo, hi, 1e-5);
        }
    }

    #[test]
    fn many_brackets_equal_one_at_a_time() {
        let zs = [0.0, 0.01, 0.2, 0.5, 0.79, 0.8];
        for (r, c, eps) in [(2.2, 5.1, -0.2), (0.3, 0.7, 0.0), (0.5, 3.0, 1.5)] {
            let many = bgnbd_brackets(r, c, eps, &zs).unwrap();
            for (&z, m) in zs.iter().zip(many) {
                let one = bgnbd_bracket(r, c, eps, z).unwrap();
                assert!(
                    (m - one).abs() <= 1e-13 * one.abs(),
                    "{r} {c} {eps} {z}: {m} vs {one}"
                );
            }
        }
    }

    #[test]
    fn log_add_exp_is_stable() {
        close(log_add_exp(1000.0, 1000.0), 1000.0 + 2f64.ln(), 1e-15);
        close(
            log_add_exp(-1000.0, -1001.0),
            -1000.0 + (-1f64).exp().ln_1p(),
            1e-15,
        );
    }
}
