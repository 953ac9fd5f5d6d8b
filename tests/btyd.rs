//! Buy-till-you-die models: closed forms against numerical integration and
//! simulation, the removable singularity at a = 1, property tests, and (with
//! the `synth` feature) parameter recovery from simulated customers.

use crmkit::metrics::btyd::bgnbd::{BgNbdData, BgNbdParams};
use crmkit::metrics::btyd::gamma_gamma::GammaGammaData;
use crmkit::metrics::btyd::{BtydError, FitOptions};
use proptest::prelude::*;

/// `E[X(t)]` of the BG/NBD by direct integration over the dropout
/// probability: given `p`, integrating the Poisson-geometric process over
/// `λ ~ Gamma(r, α)` gives `(1/p) (1 - (α / (α + p t))^r)` (Fader, Hardie &
/// Lee 2005, the step before eq. 9); then average over `p ~ Beta(a, b)`.
///
/// Tanh-sinh (double exponential) quadrature: `p = 1 / (1 + e^(-2s))`,
/// `s = (π/2) sinh(u)`, so `dp = π p (1-p) cosh(u) du`; the endpoint
/// singularities `p^(a-1)` and `(1-p)^(b-1)` decay double-exponentially in
/// `u`, and the trapezoid rule in `u` converges to full precision.
fn expected_by_integration(r: f64, alpha: f64, a: f64, b: f64, t: f64) -> f64 {
    let ln_b = ln_beta(a, b);
    let h = 1.0 / 256.0;
    let mut total = 0.0;
    for k in -1536..=1536 {
        let u = f64::from(k) * h;
        let s = std::f64::consts::FRAC_PI_2 * u.sinh();
        // ln p and ln(1 - p), accurate at both ends.
        let ln_p = -(-2.0 * s).exp().ln_1p();
        let ln_q = -(2.0 * s).exp().ln_1p();
        let p = ln_p.exp();
        // (1/p)(1 - (α/(α+pt))^r) · p^(a-1) q^(b-1) / B · π p q cosh u
        let given_p = -(-r * (p * t / alpha).ln_1p()).exp_m1();
        let density = ((a - 1.0) * ln_p + b * ln_q - ln_b).exp();
        total += given_p * density * std::f64::consts::PI * u.cosh() * h;
    }
    total
}

fn ln_beta(a: f64, b: f64) -> f64 {
    crmkit::metrics::btyd::special::ln_beta(a, b)
}

#[test]
fn expected_purchases_match_numerical_integration() {
    for (r, alpha, a, b, t) in [
        (0.243, 4.414, 0.793, 2.426, 39.0),
        (0.243, 4.414, 0.793, 2.426, 500.0),
        (2.0, 30.0, 1.7, 5.0, 365.0),
        (0.5, 10.0, 3.0, 1.5, 100.0),
        (1.2, 50.0, 1.0, 3.0, 200.0),
        (0.3, 2.0, 0.4, 0.6, 5000.0),
        (40.0, 3.0, 0.5, 2.0, 10.0),
    ] {
        let want = expected_by_integration(r, alpha, a, b, t);
        let got = BgNbdParams::new(r, alpha, a, b)
            .unwrap()
            .expected_purchases(t)
            .unwrap();
        assert!(
            ((got - want) / want).abs() < 1e-8,
            "({r}, {alpha}, {a}, {b}) t = {t}: closed form {got}, integral {want}"
        );
    }
}

#[test]
fn removable_singularity_at_a_equal_one() {
    // At a = 1 the closed form is (b / 0) · 0. The value there and on both
    // sides must agree with the integral (which has no singularity) and vary
    // smoothly: E is analytic in a, so |E(1 ± δ) - E(1)| = O(δ).
    let (r, alpha, b) = (0.8, 12.0, 2.5);
    for t in [0.5, 30.0, 365.0, 3000.0] {
        let at_one = BgNbdParams::new(r, alpha, 1.0, b)
            .unwrap()
            .expected_purchases(t)
            .unwrap();
        let want = expected_by_integration(r, alpha, 1.0, b, t);
        assert!(
            ((at_one - want) / want).abs() < 1e-8,
            "t = {t}: {at_one} vs {want}"
        );
        for delta in [1e-15, 1e-12, 1e-9, 1e-6, 1e-4, 2e-3] {
            for a in [1.0 - delta, 1.0 + delta] {
                let e = BgNbdParams::new(r, alpha, a, b)
                    .unwrap()
                    .expected_purchases(t)
                    .unwrap();
                let rel = ((e - at_one) / at_one).abs();
                assert!(
                    rel < 10.0 * delta + 1e-13,
                    "a = {a}, t = {t}: {e} vs {at_one}"
                );
            }
        }
        // The conditional expectation has the same factor.
        let p = |a| BgNbdParams::new(r, alpha, a, b).unwrap();
        let c1 = p(1.0)
            .conditional_expected_purchases(t, 3.0, 40.0, 60.0)
            .unwrap();
        let c2 = p(1.0 + 1e-9)
            .conditional_expected_purchases(t, 3.0, 40.0, 60.0)
            .unwrap();
        assert!(c1 > 0.0 && ((c1 - c2) / c1).abs() < 1e-8);
    }
}

#[test]
fn typed_errors_for_invalid_input() {
    for rows in [
        vec![(1.0, 0.0, 10.0)],  // x > 0 with t_x = 0
        vec![(1.0, 11.0, 10.0)], // t_x > T
        vec![(-1.0, 0.0, 10.0)], // negative
        vec![(0.0, 0.0, -1.0)],  // negative
        vec![(1.0, f64::INFINITY, 10.0)],
    ] {
        assert!(matches!(
            BgNbdData::new(rows),
            Err(BtydError::InvalidObservation { index: 0, .. })
        ));
    }
    assert!(matches!(
        BgNbdData::new(Vec::new()),
        Err(BtydError::Empty { .. })
    ));
    assert!(matches!(
        GammaGammaData::new([(0.0, 0.0)]),
        Err(BtydError::Empty { .. })
    ));
    let err: crmkit::Error = BtydError::Empty { what: "customers" }.into();
    assert!(err.to_string().contains("customers"));
}

/// Parameters anywhere the fit can reach: it searches log-parameters within
/// ±30, but data put optima well inside; the properties are checked over
/// `[1e-3, 1e3]` for shapes and `[1e-2, 1e4]` for α.
fn params() -> impl Strategy<Value = BgNbdParams> {
    (-3.0..3.0f64, -2.0..4.0f64, -3.0..3.0f64, -3.0..3.0f64).prop_map(|(r, al, a, b)| {
        BgNbdParams::new(10f64.powf(r), 10f64.powf(al), 10f64.powf(a), 10f64.powf(b)).unwrap()
    })
}

/// A valid `(x, t_x, T)`.
fn observation() -> impl Strategy<Value = (f64, f64, f64)> {
    (0u32..300, 0.0..1.0f64, 0.0..2000.0f64).prop_map(|(x, frac, age)| {
        if x == 0 || age == 0.0 {
            (0.0, 0.0, age)
        } else {
            (f64::from(x), (frac * age).max(age * 1e-6), age)
        }
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn probability_alive_is_a_probability(p in params(), (x, t_x, age) in observation()) {
        let alive = p.probability_alive(x, t_x, age).unwrap();
        prop_assert!((0.0..=1.0).contains(&alive));
        if x == 0.0 {
            prop_assert_eq!(alive, 1.0);
        }
    }

    #[test]
    fn expected_purchases_are_finite_non_negative_and_non_decreasing(
        p in params(),
        (x, t_x, age) in observation(),
        t1 in 0.0..1000.0f64,
        dt in 0.0..1000.0f64,
    ) {
        let t2 = t1 + dt;
        // Either a finite value or a typed error, never NaN or infinity.
        match (p.expected_purchases(t1), p.expected_purchases(t2)) {
            (Ok(e1), Ok(e2)) => {
                prop_assert!(e1.is_finite() && e2.is_finite() && e1 >= 0.0);
                prop_assert!(e2 >= e1 * (1.0 - 1e-7) - 1e-12, "{} > {}", e1, e2);
            }
            (Err(e), _) | (_, Err(e)) => {
                prop_assert!(matches!(e, BtydError::Hypergeometric { .. }), "{:?}", e);
            }
        }
        match (
            p.conditional_expected_purchases(t1, x, t_x, age),
            p.conditional_expected_purchases(t2, x, t_x, age),
        ) {
            (Ok(e1), Ok(e2)) => {
                prop_assert!(e1.is_finite() && e2.is_finite() && e1 >= 0.0);
                prop_assert!(e2 >= e1 * (1.0 - 1e-7) - 1e-12, "{} > {}", e1, e2);
            }
            (Err(e), _) | (_, Err(e)) => {
                prop_assert!(matches!(e, BtydError::Hypergeometric { .. }), "{:?}", e);
            }
        }
    }

    #[test]
    fn probabilities_of_n_are_probabilities(p in params(), n in 0u32..50, t in 0.0..1000.0f64) {
        let q = p.probability_of_purchases(n, t).unwrap();
        prop_assert!((0.0..=1.0).contains(&q));
    }

    #[test]
    fn likelihood_is_finite_or_typed(p in params(), (x, t_x, age) in observation()) {
        match p.log_likelihood(x, t_x, age) {
            Ok(ll) => prop_assert!(ll.is_finite()),
            Err(e) => prop_assert!(matches!(e, BtydError::OutOfRange { .. }), "{:?}", e),
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Any valid data set fits to finite parameters and likelihood (or a
    /// typed error): the optimiser never hands out NaN or infinity.
    #[test]
    fn fits_never_return_nan(rows in prop::collection::vec(observation(), 1..40)) {
        let data = BgNbdData::new(rows).unwrap();
        match data.fit(&FitOptions::default()) {
            Ok(fit) => {
                let p = fit.params;
                for v in [p.r(), p.alpha(), p.a(), p.b(), fit.report.log_likelihood, fit.report.gradient_norm] {
                    prop_assert!(v.is_finite());
                }
                if let Some(se) = fit.std_errors {
                    prop_assert!(se.iter().all(|v| v.is_finite() && *v > 0.0));
                }
            }
            Err(e) => prop_assert!(matches!(e, BtydError::FitFailed { .. } | BtydError::OutOfRange { .. }), "{:?}", e),
        }
    }

    #[test]
    fn gamma_gamma_fits_never_return_nan(
        rows in prop::collection::vec((1u32..50, 0.01..1000.0f64), 1..40)
    ) {
        let data = GammaGammaData::new(rows.into_iter().map(|(x, m)| (f64::from(x), m))).unwrap();
        match data.fit(&FitOptions::default()) {
            Ok(fit) => {
                let p = fit.params;
                for v in [p.p(), p.q(), p.v(), fit.report.log_likelihood] {
                    prop_assert!(v.is_finite());
                }
            }
            Err(e) => prop_assert!(matches!(e, BtydError::FitFailed { .. } | BtydError::OutOfRange { .. }), "{:?}", e),
        }
    }
}

#[cfg(feature = "synth")]
mod simulated {
    use super::*;
    use crmkit::metrics::btyd::gamma_gamma::GammaGammaParams;
    use crmkit::metrics::btyd::simulate::{simulate_customer, simulate_summaries};
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    /// Parameter recovery. 50,000 customers per set, fixed seeds.
    ///
    /// Tolerance: the maximum-likelihood estimator is asymptotically normal
    /// with the covariance that the fit reports (inverse observed
    /// information), so each estimate must lie within 4 of its standard
    /// errors of the truth (a two-sided 4σ band: a chance of about 6e-5 per
    /// parameter of a false failure for a new seed). So that the band is
    /// not vacuous, the standard errors themselves must be below 25% of
    /// the true value (a, b of the BG/NBD are the least determined).
    #[test]
    fn bgnbd_and_gamma_gamma_recover_their_parameters() {
        let sets = [
            // CDNOW-like, weeks, ages 27 to 39 weeks.
            (
                (0.243, 4.414, 0.793, 2.426),
                (6.25, 3.74, 15.44),
                (27.0, 39.0),
            ),
            // Daily data, a = 1 exactly (the singular point of E[X(t)]).
            ((1.5, 20.0, 1.0, 4.0), (2.0, 5.0, 40.0), (100.0, 365.0)),
            // Frequent buyers who rarely leave.
            ((0.5, 10.0, 2.0, 8.0), (10.0, 2.5, 3.0), (50.0, 200.0)),
        ];
        for (seed, ((r, alpha, a, b), (p, q, v), (lo, hi))) in sets.into_iter().enumerate() {
            let truth = BgNbdParams::new(r, alpha, a, b).unwrap();
            let gg_truth = GammaGammaParams::new(p, q, v).unwrap();
            let mut rng = StdRng::seed_from_u64(1000 + seed as u64);
            let rows = simulate_summaries(&mut rng, &truth, &gg_truth, 50_000, lo, hi).unwrap();
            let data = BgNbdData::new(rows.iter().map(|&(x, t_x, age, _)| (x, t_x, age))).unwrap();
            let fit = data.fit(&FitOptions::default()).unwrap();
            assert!(fit.report.converged, "set {seed}: {:?}", fit.report);
            let se = fit.std_errors.expect("standard errors");
            let got = [
                fit.params.r(),
                fit.params.alpha(),
                fit.params.a(),
                fit.params.b(),
            ];
            for (k, want) in [r, alpha, a, b].into_iter().enumerate() {
                assert!(
                    se[k] < 0.25 * want,
                    "set {seed} param {k}: se {} too wide",
                    se[k]
                );
                assert!(
                    (got[k] - want).abs() < 4.0 * se[k],
                    "set {seed} param {k}: {} vs {want} (se {})",
                    got[k],
                    se[k]
                );
            }
            let gg_data = GammaGammaData::new(rows.iter().map(|&(x, _, _, m)| (x, m))).unwrap();
            let gg = gg_data.fit(&FitOptions::default()).unwrap();
            assert!(gg.report.converged, "set {seed}: {:?}", gg.report);
            // Simulated spend is independent of frequency.
            assert!(
                !gg.correlated,
                "set {seed}: {:?}",
                gg.frequency_monetary_correlation
            );
            let se = gg.std_errors.expect("standard errors");
            let got = [gg.params.p(), gg.params.q(), gg.params.v()];
            for (k, want) in [p, q, v].into_iter().enumerate() {
                assert!(
                    se[k] < 0.25 * want,
                    "set {seed} gg param {k}: se {} too wide",
                    se[k]
                );
                assert!(
                    (got[k] - want).abs() < 4.0 * se[k],
                    "set {seed} gg param {k}: {} vs {want} (se {})",
                    got[k],
                    se[k]
                );
            }
        }
    }

    /// Closed forms against simulation. For n customers the simulated mean
    /// has standard error sd/√n; each check allows 4 of them.
    #[test]
    fn closed_forms_match_simulation() {
        let truth = BgNbdParams::new(0.6, 8.0, 0.9, 3.0).unwrap();
        let gg = GammaGammaParams::new(3.0, 4.0, 20.0).unwrap();
        let mut rng = StdRng::seed_from_u64(42);
        let n = 200_000;
        let (age, horizon) = (30.0, 40.0);
        let (mut x_sum, mut x_sq) = (0.0, 0.0);
        let mut counts = [0usize; 4];
        let (mut alive_sum, mut p_alive_sum, mut d_alive_sq) = (0.0, 0.0, 0.0);
        let (mut future_sum, mut expected_future_sum, mut d_future_sq) = (0.0, 0.0, 0.0);
        for _ in 0..n {
            let c = simulate_customer(&mut rng, &truth, &gg, age + horizon).unwrap();
            // Split the history at `age`: observed part and future part.
            let observed: Vec<f64> = c
                .repeat_times
                .iter()
                .copied()
                .filter(|&t| t <= age)
                .collect();
            let x = observed.len() as f64;
            let t_x = observed.last().copied().unwrap_or(0.0);
            let future = c.repeat_times.len() as f64 - x;
            x_sum += x;
            x_sq += x * x;
            if let Some(slot) = counts.get_mut(observed.len()) {
                *slot += 1;
            }
            // Alive at `age` ⇔ more purchases followed, or alive at the end.
            let alive_at_age = if future > 0.0 || c.alive { 1.0 } else { 0.0 };
            let p_alive = truth.probability_alive(x, t_x, age).unwrap();
            alive_sum += alive_at_age;
            p_alive_sum += p_alive;
            d_alive_sq += (alive_at_age - p_alive).powi(2);
            let e_future = truth
                .conditional_expected_purchases(horizon, x, t_x, age)
                .unwrap();
            future_sum += future;
            expected_future_sum += e_future;
            d_future_sq += (future - e_future).powi(2);
        }
        let nf = n as f64;
        // E[X(age)] for a new customer.
        let mean = x_sum / nf;
        let se = ((x_sq / nf - mean * mean) / nf).sqrt();
        let e = truth.expected_purchases(age).unwrap();
        assert!(
            (mean - e).abs() < 4.0 * se,
            "E[X]: sim {mean}, formula {e}, se {se}"
        );
        // P(X(age) = n) for n = 0..3.
        for (k, &count) in counts.iter().enumerate() {
            let share = count as f64 / nf;
            let prob = truth.probability_of_purchases(k as u32, age).unwrap();
            let se = (prob * (1.0 - prob) / nf).sqrt();
            assert!(
                (share - prob).abs() < 4.0 * se,
                "P(X={k}): sim {share}, formula {prob}"
            );
        }
        // E[P(alive | data)] = P(alive); E[E[Y | data]] = E[Y].
        let se = (d_alive_sq / nf).sqrt() / nf.sqrt();
        assert!(((alive_sum - p_alive_sum) / nf).abs() < 4.0 * se);
        let se = (d_future_sq / nf).sqrt() / nf.sqrt();
        assert!(((future_sum - expected_future_sum) / nf).abs() < 4.0 * se);
    }
}
