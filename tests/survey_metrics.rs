//! Properties of the survey accumulators (NPS, CSAT, CES): order
//! independence, decomposability, ranges, intervals, the columnar path,
//! weights and serialised states.

use std::collections::BTreeMap;

use crmkit::metrics::accumulator::{Accumulator, PortableState, StateEnvelope};
use crmkit::metrics::ces::Ces;
use crmkit::metrics::columnar::{by_key, by_key_pair};
use crmkit::metrics::csat::Csat;
use crmkit::metrics::group::Grouped;
use crmkit::metrics::interval::Confidence;
use crmkit::metrics::nps::Nps;
use crmkit::metrics::score::{ScoreRange, Scored};
use proptest::prelude::*;
use rust_decimal::Decimal;

fn nps_scores() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(0u8..=10, 0..200)
}

fn five_scores() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(1u8..=5, 0..200)
}

fn seven_scores() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(1u8..=7, 0..200)
}

fn confidence() -> impl Strategy<Value = Confidence> {
    (0.5f64..0.999).prop_map(|c| Confidence::new(c).unwrap())
}

fn fill<A: Accumulator<Observation = Scored>>(mut acc: A, scores: &[u8]) -> A
where
    A::Error: std::fmt::Debug,
{
    for &s in scores {
        acc.push(s.into()).unwrap();
    }
    acc
}

/// Splits `scores` into two accumulators by `mask`, merges them.
fn split_merge<A: Accumulator<Observation = Scored>>(
    template: &A,
    scores: &[u8],
    mask: &[bool],
) -> A
where
    A::Error: std::fmt::Debug,
{
    let mut left = template.empty_like();
    let mut right = template.empty_like();
    for (i, &s) in scores.iter().enumerate() {
        let target = if mask.get(i).copied().unwrap_or(false) {
            &mut left
        } else {
            &mut right
        };
        target.push(s.into()).unwrap();
    }
    left.merge(&right).unwrap();
    left
}

fn approx(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * (1.0 + a.abs().max(b.abs()))
}

proptest! {
    #[test]
    fn order_does_not_matter(scores in nps_scores(), seed in any::<u64>()) {
        let mut shuffled = scores.clone();
        // A deterministic permutation from the seed.
        let n = shuffled.len();
        let mut state = seed | 1;
        for i in (1..n).rev() {
            state ^= state << 13; state ^= state >> 7; state ^= state << 17;
            shuffled.swap(i, (state % (i as u64 + 1)) as usize);
        }
        prop_assert_eq!(fill(Nps::standard(), &scores).finish(), fill(Nps::standard(), &shuffled).finish());
        let five: Vec<u8> = scores.iter().map(|s| s % 5 + 1).collect();
        let five_shuffled: Vec<u8> = shuffled.iter().map(|s| s % 5 + 1).collect();
        let csat = Csat::for_scale(ScoreRange::ONE_TO_FIVE).unwrap();
        prop_assert_eq!(fill(csat.clone(), &five).finish(), fill(csat, &five_shuffled).finish());
    }

    #[test]
    fn merge_of_any_split_equals_one_pass(scores in nps_scores(), mask in prop::collection::vec(any::<bool>(), 200)) {
        let one = fill(Nps::standard(), &scores);
        prop_assert_eq!(split_merge(&Nps::standard(), &scores, &mask).finish(), one.finish());
        let seven: Vec<u8> = scores.iter().map(|s| s % 7 + 1).collect();
        prop_assert_eq!(split_merge(&Ces::standard(), &seven, &mask).finish(), fill(Ces::standard(), &seven).finish());
        let csat = Csat::for_scale(ScoreRange::ONE_TO_SEVEN).unwrap();
        prop_assert_eq!(split_merge(&csat, &seven, &mask).finish(), fill(csat, &seven).finish());
        // Merging an empty accumulator changes nothing.
        let mut again = one.clone();
        again.merge(&one.empty_like()).unwrap();
        prop_assert_eq!(again.finish(), one.finish());
    }

    #[test]
    fn scores_stay_in_range(scores in nps_scores(), five in five_scores()) {
        let r = fill(Nps::standard(), &scores).finish();
        match r.score() {
            None => prop_assert!(scores.is_empty()),
            Some(s) => prop_assert!(s >= Decimal::from(-100) && s <= Decimal::from(100)),
        }
        prop_assert_eq!(r.promoters() + r.passives() + r.detractors(), scores.len() as u64);
        let c = fill(Csat::for_scale(ScoreRange::ONE_TO_FIVE).unwrap(), &five).finish();
        match c.percent() {
            None => prop_assert!(five.is_empty()),
            Some(p) => prop_assert!(p >= Decimal::ZERO && p <= Decimal::from(100)),
        }
    }

    #[test]
    fn intervals_contain_their_estimates(scores in nps_scores(), seven in seven_scores(), level in confidence()) {
        let r = fill(Nps::standard(), &scores).finish();
        if let Some(w) = r.wald(level) {
            let est = 100.0 * (r.promoter_share() - r.detractor_share());
            prop_assert!(w.contains(est), "{w:?} vs {est}");
            prop_assert!(w.lower >= -100.0 && w.upper <= 100.0);
            let a = r.adjusted_wald(level).unwrap();
            prop_assert!(a.contains(a.centre), "{a:?}");
            prop_assert!(a.width() > 0.0);
            if let Some(t) = r.mean().unwrap().t_interval(level) {
                prop_assert!(t.contains(r.mean().unwrap().mean_f64));
            }
        } else {
            prop_assert!(scores.is_empty());
        }
        let c = fill(Ces::standard(), &seven).finish();
        if let Some(w) = c.wilson(level) {
            prop_assert!(w.contains(100.0 * c.share()), "{w:?}");
            prop_assert!(w.lower >= 0.0 && w.upper <= 100.0);
        }
        if let Some(t) = c.mean_interval(level) {
            prop_assert!(t.contains(c.mean().unwrap().mean_f64));
        }
    }

    #[test]
    fn columnar_equals_per_response(
        rows in prop::collection::vec((0u8..=10, 0u32..4, 0u32..3), 0..400),
        threads in 1usize..4,
    ) {
        let scores: Vec<u8> = rows.iter().map(|r| r.0).collect();
        let seg: Vec<u32> = rows.iter().map(|r| r.1).collect();
        let month: Vec<u32> = rows.iter().map(|r| r.2).collect();
        let mut grouped = Grouped::new(Nps::standard());
        for &(s, g, m) in &rows {
            grouped.push(((g, m), s.into())).unwrap();
        }
        let per_response = grouped.finish();
        let columnar = by_key_pair(&Nps::standard(), &scores, &seg, 4, &month, 3, threads).unwrap();
        for g in 0..4u32 {
            for m in 0..3u32 {
                let col = columnar[(g * 3 + m) as usize].finish();
                match per_response.get(&(g, m)) {
                    Some(r) => prop_assert_eq!(&col, r),
                    None => prop_assert!(col.is_no_data()),
                }
            }
        }
        // One key: CSAT on 0-10 scores mapped to 1-5.
        let five: Vec<u8> = scores.iter().map(|s| s % 5 + 1).collect();
        let csat = Csat::for_scale(ScoreRange::ONE_TO_FIVE).unwrap();
        let col = by_key(&csat, &five, &seg, 4, threads).unwrap();
        let mut grouped = Grouped::new(csat);
        for (&s, &g) in five.iter().zip(&seg) {
            grouped.push((g, s.into())).unwrap();
        }
        let per: BTreeMap<u32, _> = grouped.finish();
        for (g, r) in per {
            prop_assert_eq!(&col[g as usize].finish(), &r);
        }
    }

    #[test]
    fn weights_of_one_equal_unweighted(scores in nps_scores(), level in confidence()) {
        let plain = fill(Nps::standard(), &scores).finish();
        let mut w = Nps::standard();
        for &s in &scores {
            w.push(Scored::weighted(s, 1.0)).unwrap();
        }
        let w = w.finish();
        prop_assert_eq!(w.score(), plain.score());
        prop_assert_eq!((w.promoters(), w.passives(), w.detractors()), (plain.promoters(), plain.passives(), plain.detractors()));
        prop_assert_eq!(w.effective_n(), plain.effective_n());
        prop_assert_eq!(w.wald(level), plain.wald(level));
        prop_assert_eq!(w.adjusted_wald(level), plain.adjusted_wald(level));
        prop_assert_eq!(w.mean().map(|m| m.mean), plain.mean().map(|m| m.mean));
        prop_assert_eq!(w.small_sample(), plain.small_sample());
    }

    #[test]
    fn weighted_merge_is_order_independent(
        rows in prop::collection::vec((0u8..=10, 0.1f64..5.0), 1..100),
        mask in prop::collection::vec(any::<bool>(), 100),
    ) {
        let mut one = Nps::standard();
        for &(s, w) in &rows {
            one.push(Scored::weighted(s, w)).unwrap();
        }
        let mut a = Nps::standard();
        let mut b = Nps::standard();
        for (i, &(s, w)) in rows.iter().enumerate().rev() {
            let t = if mask[i] { &mut a } else { &mut b };
            t.push(Scored::weighted(s, w)).unwrap();
        }
        b.merge(&a).unwrap();
        let (x, y) = (one.finish(), b.finish());
        prop_assert!(approx(x.effective_n(), y.effective_n()));
        prop_assert!(approx(x.promoter_share(), y.promoter_share()));
        prop_assert!(approx(x.detractor_share(), y.detractor_share()));
        let kish = {
            let s: f64 = rows.iter().map(|r| r.1).sum();
            let s2: f64 = rows.iter().map(|r| r.1 * r.1).sum();
            s * s / s2
        };
        prop_assert!(approx(x.effective_n(), kish));
    }

    #[test]
    fn serialised_state_merges_like_the_original(a in nps_scores(), b in nps_scores(), seven in seven_scores()) {
        let acc_a = fill(Nps::standard(), &a);
        let acc_b = fill(Nps::standard(), &b);
        let json = serde_json::to_string(&acc_a.to_envelope()).unwrap();
        let back = serde_json::from_str::<StateEnvelope<Nps>>(&json).unwrap().into_state().unwrap();
        prop_assert_eq!(&back, &acc_a);
        let mut m1 = acc_a.clone();
        m1.merge(&acc_b).unwrap();
        let mut m2 = back;
        m2.merge(&acc_b).unwrap();
        prop_assert_eq!(m1.finish(), m2.finish());

        let ces = fill(Ces::standard(), &seven);
        let json = serde_json::to_string(&ces.to_envelope()).unwrap();
        let back: Ces = serde_json::from_str::<StateEnvelope<Ces>>(&json).unwrap().into_state().unwrap();
        prop_assert_eq!(back.finish(), ces.finish());
        // Another kind is refused.
        prop_assert!(serde_json::from_str::<StateEnvelope<Csat>>(&json).unwrap().into_state().is_err());
    }
}

#[test]
fn weighted_state_round_trips() {
    let mut a = Nps::standard();
    a.push(Scored::weighted(10, 2.5)).unwrap();
    a.push(3.into()).unwrap();
    let json = serde_json::to_string(&a.to_envelope()).unwrap();
    let back = serde_json::from_str::<StateEnvelope<Nps>>(&json)
        .unwrap()
        .into_state()
        .unwrap();
    assert_eq!(back, a);
    // Share of promoters 2.5 / 3.5, detractors 1 / 3.5: NPS = 100 * 1.5 / 3.5 = 42.857 -> 42.86.
    assert_eq!(back.finish().score(), Some(Decimal::new(4286, 2)));
}

#[test]
fn different_configurations_do_not_merge() {
    let mut nps = Nps::standard();
    assert!(nps.merge(&Nps::standard().with_min_sample(10)).is_err());
    let mut c5 = Csat::for_scale(ScoreRange::ONE_TO_FIVE).unwrap();
    assert!(
        c5.merge(&Csat::new(ScoreRange::ONE_TO_FIVE, 5).unwrap())
            .is_err()
    );
    let c7 = Csat::for_scale(ScoreRange::ONE_TO_SEVEN).unwrap();
    let json = serde_json::to_string(&c7).unwrap();
    let c7_back: Csat = serde_json::from_str(&json).unwrap();
    assert!(c5.merge(&c7_back).is_err());
    // Waves of the same survey combine freely.
    let mut wave1 = Nps::standard();
    wave1.push_score(10).unwrap();
    let mut wave2 = Nps::standard();
    wave2.push_score(0).unwrap();
    wave1.merge(&wave2).unwrap();
    assert_eq!(wave1.finish().score(), Some(Decimal::ZERO));
}

mod per_response {
    use super::*;
    use chrono::{Duration, TimeZone, Utc};
    use crmkit::domain::{
        CalendarBucket, CustomerId, Granularity, Period, ResponseId, Scale, Segment, SurveyId,
        SurveyResponse,
    };
    use crmkit::metrics::group::{BucketIndex, trend};
    use crmkit::metrics::response::{ResponseAccumulator, push_grouped};

    fn year() -> Period {
        Period::new(
            Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0).unwrap(),
        )
        .unwrap()
    }

    proptest! {
        /// Responses grouped by (segment, month in Berlin) through the
        /// per-response path equal the columnar path over the same rows.
        #[test]
        fn columnar_equals_per_response_path(
            rows in prop::collection::vec((0i32..=10, 0u32..3, 0i64..365 * 24 * 60), 0..300),
        ) {
            let tz: chrono_tz::Tz = "Europe/Berlin".parse().unwrap();
            let period = year();
            let months = BucketIndex::new(period, Granularity::Month, tz);
            let segments: Vec<Segment> = (0..3).map(|i| Segment::new(format!("s{i}")).unwrap()).collect();
            let mut responses = Vec::new();
            let (mut scores, mut seg_col, mut month_col) = (Vec::new(), Vec::new(), Vec::new());
            for (i, &(score, seg, minute)) in rows.iter().enumerate() {
                let at = period.start() + Duration::minutes(minute);
                let r = SurveyResponse::on_scale(
                    ResponseId::from_u128(i as u128),
                    SurveyId::from_u128(1),
                    Scale::nps(),
                    CustomerId::from_u128(i as u128),
                    at,
                    score,
                )
                .unwrap()
                .with_segments([segments[seg as usize].clone()]);
                responses.push(r);
                scores.push(score as u8);
                seg_col.push(seg);
                month_col.push(months.index_of(at).unwrap() as u32);
            }
            let n_months = months.buckets().len();
            let mut grouped = Grouped::new(Nps::standard());
            push_grouped(&mut grouped, &responses, |r| {
                let month = months.bucket_of(r.responded_at());
                r.segments().iter().filter_map(move |s| Some((s.clone(), month?))).collect::<Vec<_>>()
            })
            .unwrap();
            let per_response = grouped.finish();
            let columnar = by_key_pair(&Nps::standard(), &scores, &seg_col, 3, &month_col, n_months, 2).unwrap();
            for (s, segment) in segments.iter().enumerate() {
                for (m, bucket) in months.buckets().iter().enumerate() {
                    let col = columnar[s * n_months + m].finish();
                    match per_response.get(&(segment.clone(), *bucket)) {
                        Some(r) => prop_assert_eq!(&col, r),
                        None => prop_assert!(col.is_no_data()),
                    }
                }
            }
        }
    }

    #[test]
    fn monthly_trend_flags_a_significant_change() {
        let tz: chrono_tz::Tz = "UTC".parse().unwrap();
        let months = BucketIndex::new(year(), Granularity::Month, tz);
        let mut responses = Vec::new();
        // January: 40 answers, 10 promoters and 20 detractors (NPS -25);
        // February: 40 answers, 30 promoters and 5 detractors (NPS 62.5);
        // March: nothing.
        let mut push = |i: u128, month: u32, score: i32| {
            let at = Utc.with_ymd_and_hms(2026, month, 10, 0, 0, 0).unwrap();
            responses.push(
                SurveyResponse::on_scale(
                    ResponseId::from_u128(i),
                    SurveyId::from_u128(1),
                    Scale::nps(),
                    CustomerId::from_u128(i),
                    at,
                    score,
                )
                .unwrap(),
            );
        };
        for i in 0..40u128 {
            push(
                i,
                1,
                if i < 10 {
                    10
                } else if i < 30 {
                    2
                } else {
                    8
                },
            );
            push(
                100 + i,
                2,
                if i < 30 {
                    9
                } else if i < 35 {
                    0
                } else {
                    7
                },
            );
        }
        let mut g = Grouped::new(Nps::standard());
        push_grouped(&mut g, &responses, |r| months.bucket_of(r.responded_at())).unwrap();
        let results = g.finish();
        let t = trend(months.buckets().iter().copied(), &results, Confidence::P95);
        assert_eq!(t.len(), 12);
        assert_eq!(
            t[0].bucket,
            CalendarBucket::Month {
                year: 2026,
                month: 1
            }
        );
        assert_eq!(
            t[0].result.as_ref().unwrap().score(),
            Some(Decimal::from(-25))
        );
        assert_eq!(
            t[1].result.as_ref().unwrap().score(),
            Some(Decimal::new(625, 1))
        );
        // se1 = 100 sqrt((0.25 + 0.5 - 0.0625)/40) = 13.1101; se2 = 100 sqrt((0.75 + 0.125 - 0.390625)/40) = 11.0045;
        // se = 17.1163, half = 33.547; difference 87.5 -> [53.95, 121.05], significant.
        let c = t[1].change.unwrap();
        assert!((c.difference - 87.5).abs() < 1e-9);
        assert!((c.interval.lower - 53.953).abs() < 1e-2);
        assert!(c.significant);
        assert!(t[2].result.is_none() && t[2].change.is_none());
    }

    #[test]
    fn push_response_rejects_other_scales() {
        let at = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let r = SurveyResponse::on_scale(
            ResponseId::from_u128(1),
            SurveyId::from_u128(1),
            Scale::ces(),
            CustomerId::from_u128(1),
            at,
            7,
        )
        .unwrap();
        assert!(Nps::standard().push_response(&r).is_err());
        let mut ces = Ces::standard();
        ces.push_response(&r).unwrap();
        assert_eq!(ces.finish().percent(), Some(Decimal::from(100)));
    }
}

mod policy {
    use super::*;
    use chrono::{Duration, TimeZone, Utc};
    use crmkit::domain::{CustomerId, ResponseId, Scale, SurveyId, SurveyResponse};
    use crmkit::metrics::latest::RepeatPolicy;
    use crmkit::metrics::rate::ResponseRate;
    use crmkit::metrics::response::{ResponseAccumulator, WithPolicy};

    fn responses(rows: &[(u8, u8, u16)]) -> Vec<SurveyResponse> {
        let t0 = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        rows.iter()
            .enumerate()
            .map(|(i, &(score, customer, minute))| {
                SurveyResponse::on_scale(
                    ResponseId::from_u128(i as u128),
                    SurveyId::from_u128(1),
                    Scale::nps(),
                    CustomerId::from_u128(u128::from(customer)),
                    t0 + Duration::minutes(i64::from(minute)),
                    i32::from(score),
                )
                .unwrap()
            })
            .collect()
    }

    proptest! {
        #[test]
        fn latest_per_customer_is_order_and_split_independent(
            rows in prop::collection::vec((0u8..=10, 0u8..8, 0u16..50), 0..80),
            mask in prop::collection::vec(any::<bool>(), 80),
        ) {
            let rs = responses(&rows);
            let mut one = WithPolicy::new(Nps::standard(), RepeatPolicy::LatestPerCustomer);
            for r in &rs {
                one.push_response(r).unwrap();
            }
            let mut a = one.empty_like();
            let mut b = one.empty_like();
            for (i, r) in rs.iter().enumerate().rev() {
                let t = if mask[i] { &mut a } else { &mut b };
                t.push_response(r).unwrap();
            }
            a.merge(&b).unwrap();
            let (x, y) = (one.finish(), a.finish());
            prop_assert_eq!(&x, &y);
            // One answer per customer who answered at all.
            let customers: std::collections::BTreeSet<u8> = rows.iter().map(|r| r.1).collect();
            prop_assert_eq!(x.n(), customers.len() as u64);
            // All answers: n = number of rows.
            let mut all = WithPolicy::new(Nps::standard(), RepeatPolicy::All);
            for r in &rs {
                all.push_response(r).unwrap();
            }
            prop_assert_eq!(all.finish().n(), rows.len() as u64);
            prop_assert!(all.merge(&one).is_err());
        }

        #[test]
        fn response_rate_merges_like_one_pass(answers in prop::collection::vec(any::<bool>(), 0..100), cut in 0usize..100) {
            let cut = cut.min(answers.len());
            let mut one = ResponseRate::default();
            one.extend_from(answers.iter().copied()).unwrap();
            let mut a = ResponseRate::default();
            a.extend_from(answers[..cut].iter().copied()).unwrap();
            let mut b = ResponseRate::default();
            b.extend_from(answers[cut..].iter().copied()).unwrap();
            a.merge(&b).unwrap();
            prop_assert_eq!(a.finish(), one.finish());
            if let Some(p) = one.finish().percent() {
                prop_assert!(p >= Decimal::ZERO && p <= Decimal::from(100));
            }
        }
    }
}
