//! Property tests of the domain's value types: periods, calendar buckets, money.

use chrono::Duration;
use crmkit::domain::strategy::{granularity, instant, money, period, time_zone};
use crmkit::domain::{CalendarBucket, Money, Period};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// The bucket parts of a period tile it: the first starts at the period's
    /// start, each ends where the next starts, the last ends at the period's
    /// end, and every part is non-empty and inside its bucket.
    #[test]
    fn buckets_tile_a_period_exactly(p in period(), g in granularity(), tz in time_zone()) {
        let parts: Vec<_> = p.buckets(g, tz).take(2_000).collect();
        prop_assume!(parts.len() < 2_000);
        prop_assert!(!parts.is_empty());
        prop_assert_eq!(parts[0].1.start(), p.start());
        prop_assert_eq!(parts[parts.len() - 1].1.end(), p.end());
        for pair in parts.windows(2) {
            prop_assert_eq!(pair[0].1.end(), pair[1].1.start());
            prop_assert!(pair[0].0 < pair[1].0, "buckets in order");
        }
        for (bucket, part) in &parts {
            prop_assert_eq!(bucket.granularity(), g);
            let whole = bucket.period(tz).expect("a bucket that holds instants is not empty");
            prop_assert!(whole.start() <= part.start() && part.end() <= whole.end());
            // Every instant is in the bucket `containing` names.
            prop_assert_eq!(CalendarBucket::containing(part.start(), g, tz), *bucket);
            prop_assert_eq!(
                CalendarBucket::containing(part.end() - Duration::nanoseconds(1), g, tz),
                *bucket
            );
        }
    }

    /// Day buckets in any zone last between 0 and 49 hours (a zone may skip or
    /// repeat almost a whole day), and consecutive buckets share their boundary.
    #[test]
    fn consecutive_buckets_are_contiguous(t in instant(), g in granularity(), tz in time_zone()) {
        let b = CalendarBucket::containing(t, g, tz);
        let whole = b.period(tz).expect("the bucket holding t is not empty");
        prop_assert!(whole.contains(t));
        let next = b.next().expect("within range");
        prop_assert_eq!(whole.end(), next.start(tz));
        if g == crmkit::domain::Granularity::Day {
            prop_assert!(whole.duration() <= Duration::hours(49));
        }
    }

    /// Money arithmetic never panics: it returns a value or a typed error.
    #[test]
    fn money_arithmetic_never_panics(a in money(), b in money(), k in any::<i64>(), s in 0u32..28) {
        let factor = rust_decimal::Decimal::new(k, s);
        let _ = a.checked_add(&b);
        let _ = a.checked_sub(&b);
        let _ = a.checked_mul(factor);
        let _ = a.checked_div(factor);
        let _ = Money::sum(a.currency(), [&a, &b]);
        if a.currency() == b.currency() {
            let sum = a.checked_add(&b).expect("small amounts do not overflow");
            prop_assert_eq!(sum.checked_sub(&b).expect("no overflow").amount(), a.amount());
        } else {
            prop_assert!(a.checked_add(&b).is_err());
        }
    }

    /// A period round-trips through JSON, and JSON with start >= end is rejected.
    #[test]
    fn period_json(p in period()) {
        let json = serde_json::to_string(&p).expect("serialises");
        prop_assert_eq!(serde_json::from_str::<Period>(&json).expect("valid"), p);
        let reversed = format!(
            r#"{{"start":"{}","end":"{}"}}"#,
            p.end().to_rfc3339(),
            p.start().to_rfc3339()
        );
        prop_assert!(serde_json::from_str::<Period>(&reversed).is_err());
    }
}
