//! Deterministic synthetic data for examples, tests and benchmarks.
//!
//! One generator, [`Synth`], seeded with a `u64`: the same seed gives the
//! same data on every platform and run (it uses the Xoshiro256++ generator,
//! whose output is fixed by its specification, and only integer arithmetic
//! to turn random bits into values). Later workloads extend this generator
//! rather than keeping private copies, so every benchmark and its peers see
//! identical input.
//!
//! Two larger generators live in submodules:
//! - [`business`]: a whole synthetic business over a window of months —
//!   customers with consent and time zones in seven markets, BG/NBD
//!   purchases with seasonality in several currencies (and the exchange
//!   rates to convert them), subscriptions, support cases handled by bots
//!   and agents in their teams' business hours, NPS/CSAT/CES surveys after
//!   purchases and solved cases, and interactions — loadable into any store
//!   ([`business::Business::load_into`]); the `report` example and the
//!   end-to-end tests run on it;
//! - [`purchases`]: a bare purchase ledger for the value benchmarks (W2).
//!
//! Available with the `synth` feature.
//!
//! # Example
//! ```
//! use crmkit::synth::{SurveySpec, Synth};
//! let spec = SurveySpec { responses: 1_000, segments: 5, months: 3 };
//! let a = Synth::new(7).survey_columns(&spec);
//! let b = Synth::new(7).survey_columns(&spec);
//! assert_eq!(a, b);
//! assert_eq!(a.scores.len(), 1_000);
//! assert!(a.scores.iter().all(|&s| s <= 10));
//! assert!(a.segments.iter().all(|&s| s < 5) && a.months.iter().all(|&m| m < 3));
//! ```

pub mod business;
pub mod purchases;

use rand::rngs::Xoshiro256PlusPlus;
use rand::{Rng, SeedableRng};

/// The seed every crmkit benchmark uses unless it says otherwise.
pub const BENCH_SEED: u64 = 20_260_101;

/// The deterministic generator.
#[derive(Debug, Clone)]
pub struct Synth {
    rng: Xoshiro256PlusPlus,
}

/// The shape of a generated table of survey responses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SurveySpec {
    /// Number of responses.
    pub responses: usize,
    /// Number of customer segments (group keys `0..segments`).
    pub segments: u32,
    /// Number of months (group keys `0..months`).
    pub months: u32,
}

impl SurveySpec {
    /// Benchmark W1 of DESIGN.md: 10,000,000 responses, 50 segments, 24
    /// months.
    pub const W1: SurveySpec = SurveySpec {
        responses: 10_000_000,
        segments: 50,
        months: 24,
    };
}

/// Survey responses in columnar form: row `i` is one 0-10 answer with its
/// segment and month index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SurveyColumns {
    /// The 0-10 "would you recommend" score.
    pub scores: Vec<u8>,
    /// Segment index, `0..segments`.
    pub segments: Vec<u32>,
    /// Month index, `0..months`.
    pub months: Vec<u32>,
    /// Number of segments.
    pub segment_count: u32,
    /// Number of months.
    pub month_count: u32,
}

impl Synth {
    /// A generator from `seed`.
    pub fn new(seed: u64) -> Self {
        Self {
            rng: Xoshiro256PlusPlus::seed_from_u64(seed),
        }
    }

    /// A uniform integer in `0..n` (`n > 0`), by Lemire's multiply-shift
    /// (bias below 2^-32 for the small `n` used here; kept for portability).
    fn below(&mut self, n: u32) -> u32 {
        let x = self.rng.next_u32();
        ((u64::from(x) * u64::from(n.max(1))) >> 32) as u32
    }

    /// Survey responses: segments differ in their mix of promoters,
    /// passives and detractors, and the mix drifts over the months; segment
    /// sizes are uneven (segment `s` is drawn about `1 + s % 7` times as
    /// often as the smallest).
    pub fn survey_columns(&mut self, spec: &SurveySpec) -> SurveyColumns {
        let segments = spec.segments.max(1);
        let months = spec.months.max(1);
        // Cumulative score tables per (segment, month), out of 2^32.
        let mut tables: Vec<[u64; 11]> = Vec::with_capacity((segments * months) as usize);
        for s in 0..segments {
            let base_p = 30 + u64::from(self.below(31)); // 30-60 % promoters
            let base_d = 10 + u64::from(self.below(21)); // 10-30 % detractors
            for m in 0..months {
                // A drift of up to ±5 points over the months.
                let drift = (u64::from(m) * 10 / u64::from(months)) as i64 - 5;
                let p =
                    (base_p as i64 + if s % 2 == 0 { drift } else { -drift }).clamp(1, 90) as u64;
                let d = base_d.min(99 - p);
                let pass = 100 - p - d;
                // Weights per score in 1/1000 of the total.
                let mut w = [0u64; 11];
                // Detractors: 0-4 share a third, 5-6 two thirds.
                for (score, slot) in w.iter_mut().enumerate().take(7) {
                    *slot = if score < 5 { d * 10 / 15 } else { d * 10 / 3 };
                }
                w[7] = pass * 10 / 2;
                w[8] = pass * 10 - w[7];
                w[9] = p * 10 * 2 / 5;
                w[10] = p * 10 - w[9];
                let total: u64 = w.iter().sum::<u64>().max(1);
                let mut cum = [0u64; 11];
                let mut acc = 0u64;
                for (c, &x) in cum.iter_mut().zip(&w) {
                    acc += x;
                    *c = (acc << 32) / total;
                }
                cum[10] = 1 << 32;
                tables.push(cum);
            }
        }
        let seg_weights: Vec<u32> = (0..segments).map(|s| 1 + s % 7).collect();
        let seg_total: u32 = seg_weights.iter().sum();
        let mut seg_lookup = Vec::with_capacity(seg_total as usize);
        for (s, &w) in seg_weights.iter().enumerate() {
            seg_lookup.extend(std::iter::repeat_n(s as u32, w as usize));
        }

        let n = spec.responses;
        let mut out = SurveyColumns {
            scores: Vec::with_capacity(n),
            segments: Vec::with_capacity(n),
            months: Vec::with_capacity(n),
            segment_count: segments,
            month_count: months,
        };
        for _ in 0..n {
            let seg = seg_lookup
                .get(self.below(seg_total) as usize)
                .copied()
                .unwrap_or(0);
            let month = self.below(months);
            let u = u64::from(self.rng.next_u32());
            let score = tables
                .get((seg * months + month) as usize)
                .map_or(0, |t| t.partition_point(|&c| c <= u) as u8)
                .min(10);
            out.scores.push(score);
            out.segments.push(seg);
            out.months.push(month);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_score_and_group_occurs() {
        let c = Synth::new(BENCH_SEED).survey_columns(&SurveySpec {
            responses: 100_000,
            segments: 50,
            months: 24,
        });
        let mut seen = [false; 11];
        for &s in &c.scores {
            seen[s as usize] = true;
        }
        assert!(seen.iter().all(|&x| x));
        let mut groups = vec![false; 50 * 24];
        for (&s, &m) in c.segments.iter().zip(&c.months) {
            groups[(s * 24 + m) as usize] = true;
        }
        assert!(groups.iter().all(|&x| x));
        assert_ne!(
            c,
            Synth::new(BENCH_SEED + 1).survey_columns(&SurveySpec {
                responses: 100_000,
                segments: 50,
                months: 24,
            })
        );
    }
}
