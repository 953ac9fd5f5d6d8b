use super::strategies::*;
use super::*;
use crate::domain::period::strategies::time_zone;
use chrono::TimeZone;
use proptest::prelude::*;

fn t(s: &str) -> TimeOfDay {
    s.parse().unwrap()
}

fn local(tz: Tz, y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    tz.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap().to_utc()
}

fn nine_to_five(tz: Tz) -> BusinessCalendar {
    BusinessCalendar::weekdays(tz, t("09:00"), t("17:00")).unwrap()
}

#[test]
fn friday_evening_to_monday_morning_is_one_business_hour() {
    let tz = chrono_tz::Europe::Berlin;
    let cal = nine_to_five(tz);
    // Friday 6 March 2026 16:30 -> Monday 9 March 09:30:
    // Friday 16:30-17:00 = 30 min, weekend 0, Monday 09:00-09:30 = 30 min: 1 h.
    let fri = local(tz, 2026, 3, 6, 16, 30);
    let mon = local(tz, 2026, 3, 9, 9, 30);
    assert_eq!(cal.business_duration(fri, mon).unwrap(), Duration::hours(1));
    assert_eq!(cal.add_business_time(fri, Duration::hours(1)).unwrap(), mon);
    // Two full weeks: 10 days x 8 h = 80 h.
    let later = local(tz, 2026, 3, 20, 16, 30);
    assert_eq!(
        cal.business_duration(fri, later).unwrap(),
        Duration::hours(80)
    );
}

#[test]
fn due_time_lands_at_end_of_interval_not_next_morning() {
    let tz = chrono_tz::UTC;
    let cal = nine_to_five(tz);
    // Monday 5 Jan 2026 09:00 + 8 h = Monday 17:00 (the end of the day's hours).
    let mon = local(tz, 2026, 1, 5, 9, 0);
    assert_eq!(
        cal.add_business_time(mon, Duration::hours(8)).unwrap(),
        local(tz, 2026, 1, 5, 17, 0)
    );
    // + 8 h 1 min = Tuesday 09:01.
    assert_eq!(
        cal.add_business_time(mon, Duration::minutes(481)).unwrap(),
        local(tz, 2026, 1, 6, 9, 1)
    );
    // From Saturday, 1 minute = Monday 09:01.
    let sat = local(tz, 2026, 1, 10, 12, 0);
    assert_eq!(
        cal.add_business_time(sat, Duration::minutes(1)).unwrap(),
        local(tz, 2026, 1, 12, 9, 1)
    );
}

#[test]
fn holidays_and_special_days() {
    let tz = chrono_tz::America::New_York;
    let day = DaySchedule::single(t("09:00"), t("17:00")).unwrap();
    let d = |m, dd| NaiveDate::from_ymd_opt(2026, m, dd).unwrap();
    let week = std::array::from_fn(|i| {
        if i < 5 {
            day.clone()
        } else {
            DaySchedule::closed()
        }
    });
    let cal = BusinessCalendar::new(
        tz,
        week,
        [d(12, 25)],
        [(
            d(12, 24),
            DaySchedule::single(t("09:00"), t("12:00")).unwrap(),
        )],
    )
    .unwrap();
    // Wed 23 Dec 09:00 -> Mon 28 Dec 09:00: Wed 8 h + Thu 24th 3 h + Fri 25th 0 = 11 h.
    let a = local(tz, 2026, 12, 23, 9, 0);
    let b = local(tz, 2026, 12, 28, 9, 0);
    assert_eq!(cal.business_duration(a, b).unwrap(), Duration::hours(11));
    // Thu 24th 11:00 + 2 h: 1 h left that day, none Friday, 1 h Monday -> Mon 10:00.
    assert_eq!(
        cal.add_business_time(local(tz, 2026, 12, 24, 11, 0), Duration::hours(2))
            .unwrap(),
        local(tz, 2026, 12, 28, 10, 0)
    );
    assert!(!cal.is_open(local(tz, 2026, 12, 25, 10, 0)));
    assert!(!cal.is_open(local(tz, 2026, 12, 24, 13, 0)));
    assert!(cal.is_open(local(tz, 2026, 12, 24, 11, 59)));
}

#[test]
fn clock_changes_in_a_24_hour_schedule() {
    let tz = chrono_tz::Europe::Paris;
    let cal = BusinessCalendar::always(tz);
    // 29 March 2026: clocks go 02:00 -> 03:00, a 23-hour day.
    let a = local(tz, 2026, 3, 29, 0, 0);
    let b = local(tz, 2026, 3, 30, 0, 0);
    assert_eq!(cal.business_duration(a, b).unwrap(), Duration::hours(23));
    // 25 October 2026: 03:00 -> 02:00, a 25-hour day.
    let a = local(tz, 2026, 10, 25, 0, 0);
    let b = local(tz, 2026, 10, 26, 0, 0);
    assert_eq!(cal.business_duration(a, b).unwrap(), Duration::hours(25));
}

#[test]
fn skipped_and_repeated_hours_in_business_hours() {
    let tz = chrono_tz::Europe::Paris;
    // Open 01:00-05:00 every day.
    let week = std::array::from_fn(|_| DaySchedule::single(t("01:00"), t("05:00")).unwrap());
    let cal = BusinessCalendar::new(tz, week, [], []).unwrap();
    let day = |m, d| (local(tz, 2026, m, d, 0, 0), local(tz, 2026, m, d + 1, 0, 0));
    // Spring forward: 02:00-03:00 does not exist: 4 h - 1 h = 3 h.
    let (a, b) = day(3, 29);
    assert_eq!(cal.business_duration(a, b).unwrap(), Duration::hours(3));
    // Fall back: 02:00-03:00 happens twice: 4 h + 1 h = 5 h.
    let (a, b) = day(10, 25);
    assert_eq!(cal.business_duration(a, b).unwrap(), Duration::hours(5));
    // A due time across the gap: from 01:30, 1 h of business time is 03:30 local
    // (01:30-02:00 then 03:00-03:30).
    let start = local(tz, 2026, 3, 29, 1, 30);
    assert_eq!(
        cal.add_business_time(start, Duration::hours(1)).unwrap(),
        local(tz, 2026, 3, 29, 3, 30)
    );
}

#[test]
fn invalid_calendars_are_rejected() {
    let err = BusinessInterval::new(t("17:00"), t("09:00")).unwrap_err();
    assert!(matches!(err, ValidationError::Order { .. }));
    let a = BusinessInterval::new(t("09:00"), t("12:00")).unwrap();
    let b = BusinessInterval::new(t("11:00"), t("13:00")).unwrap();
    assert!(matches!(
        DaySchedule::new([a, b]).unwrap_err(),
        ValidationError::Inconsistent { .. }
    ));
    let closed: [DaySchedule; 7] = std::array::from_fn(|_| DaySchedule::closed());
    assert!(matches!(
        BusinessCalendar::new(chrono_tz::UTC, closed, [], []).unwrap_err(),
        ValidationError::Inconsistent { .. }
    ));
    // Serde goes through the same checks.
    let json = r#"{"time_zone":"UTC","week":{"monday":[{"start":"17:00","end":"09:00"}]}}"#;
    assert!(serde_json::from_str::<BusinessCalendar>(json).is_err());
    let json = r#"{"time_zone":"UTC","week":{}}"#;
    assert!(serde_json::from_str::<BusinessCalendar>(json).is_err());
    let json = r#"{"time_zone":"UTC","week":{"monday":[{"start":"09:00","end":"24:00"}]}}"#;
    let cal: BusinessCalendar = serde_json::from_str(json).unwrap();
    assert_eq!(cal.weekly(Weekday::Mon).total(), Duration::hours(15));
}

#[test]
fn closed_for_a_century_is_a_typed_error_not_a_hang() {
    // Open on one special day only.
    let closed: [DaySchedule; 7] = std::array::from_fn(|_| DaySchedule::closed());
    let day = NaiveDate::from_ymd_opt(2020, 6, 1).unwrap();
    let cal = BusinessCalendar::new(
        chrono_tz::UTC,
        closed,
        [],
        [(day, DaySchedule::single(t("09:00"), t("10:00")).unwrap())],
    )
    .unwrap();
    let after = local(chrono_tz::UTC, 2021, 1, 1, 0, 0);
    assert!(matches!(
        cal.add_business_time(after, Duration::minutes(1)),
        Err(BusinessTimeError::BeyondHorizon { .. })
    ));
    let before = local(chrono_tz::UTC, 2019, 1, 1, 0, 0);
    assert_eq!(
        cal.add_business_time(before, Duration::minutes(30))
            .unwrap(),
        local(chrono_tz::UTC, 2020, 6, 1, 9, 30)
    );
    // Every day a holiday for five years, then business as usual.
    let start = NaiveDate::from_ymd_opt(2030, 1, 1).unwrap();
    let holidays = (0..5 * 366).map(|i| start + Duration::days(i));
    let cal = BusinessCalendar::new(
        chrono_tz::UTC,
        std::array::from_fn(|_| DaySchedule::single(t("09:00"), t("17:00")).unwrap()),
        holidays,
        [],
    )
    .unwrap();
    let from = local(chrono_tz::UTC, 2030, 1, 1, 0, 0);
    // 1 Jan 2030 + 1830 days = 5 Jan 2035, the first open day.
    assert_eq!(
        cal.add_business_time(from, Duration::hours(1)).unwrap(),
        local(chrono_tz::UTC, 2035, 1, 5, 10, 0)
    );
    assert!(matches!(
        cal.add_business_time(from, Duration::hours(-1)),
        Err(BusinessTimeError::NegativeDuration { .. })
    ));
    assert!(matches!(
        cal.business_duration(from, from - Duration::hours(1)),
        Err(BusinessTimeError::Reversed { .. })
    ));
}

#[test]
fn time_of_day_text() {
    assert_eq!(t("09:05").to_string(), "09:05");
    assert_eq!(t("09:05:07").to_string(), "09:05:07");
    for bad in [
        "9:00",
        "09",
        "09:60",
        "24:00:01",
        "25:00",
        "09:00:00:00",
        "",
    ] {
        assert!(bad.parse::<TimeOfDay>().is_err(), "{bad}");
    }
}

/// An instant between 2000 and 2040.
fn instant() -> impl Strategy<Value = DateTime<Utc>> {
    (946_684_800i64..2_208_988_800i64, 0u32..1_000_000_000)
        .prop_map(|(s, ns)| DateTime::from_timestamp(s, ns).unwrap())
}

/// Up to two weeks, often whole minutes.
fn span() -> impl Strategy<Value = Duration> {
    prop_oneof![
        (0i64..20_160).prop_map(Duration::minutes),
        (0i64..14 * 86_400_000_000_000).prop_map(Duration::nanoseconds),
        (0i64..3 * 365 * 86_400).prop_map(Duration::seconds),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn additive_nonnegative_and_bounded(
        cal in business_calendar(), a in instant(), x in span(), y in span()
    ) {
        let b = a + x;
        let c = b + y;
        let ab = cal.business_duration(a, b).unwrap();
        let bc = cal.business_duration(b, c).unwrap();
        let ac = cal.business_duration(a, c).unwrap();
        prop_assert_eq!(ab + bc, ac);
        prop_assert!(ab >= Duration::zero());
        prop_assert!(ab <= b - a);
        prop_assert!(ac <= c - a);
    }

    #[test]
    fn add_then_measure_round_trips(cal in business_calendar(), a in instant(), d in span()) {
        let due = cal.add_business_time(a, d).unwrap();
        prop_assert!(due >= a);
        prop_assert_eq!(cal.business_duration(a, due).unwrap(), d);
        // The earliest such instant: one nanosecond earlier is not enough.
        if d > Duration::zero() {
            let before = due - Duration::nanoseconds(1);
            prop_assert!(cal.business_duration(a, before).unwrap() < d);
        }
    }

    #[test]
    fn open_instants_are_exactly_those_that_accrue(cal in business_calendar(), a in instant()) {
        let next = a + Duration::nanoseconds(1);
        let accrues = cal.business_duration(a, next).unwrap() == Duration::nanoseconds(1);
        prop_assert_eq!(cal.is_open(a), accrues);
    }

    #[test]
    fn a_24_hour_schedule_is_elapsed_time(tz in time_zone(), a in instant(), x in span()) {
        let cal = BusinessCalendar::always(tz);
        let b = a + x;
        prop_assert_eq!(cal.business_duration(a, b).unwrap(), x);
        prop_assert_eq!(cal.add_business_time(a, x).unwrap(), b);
    }

    #[test]
    fn dst_zone_equals_fixed_zone_away_from_the_changeover(
        cal in business_calendar_with(
            prop::sample::select(vec![
                chrono_tz::Europe::Berlin,
                chrono_tz::Europe::London,
                chrono_tz::America::New_York,
                chrono_tz::Australia::Sydney,
            ]),
            20, // intervals from 05:00
        ),
        day in 0i64..14_600, // 2000-2040
        len in 0i64..800,
        (h1, m1, h2, m2) in (5u32..24, 0u32..60, 5u32..24, 0u32..60),
    ) {
        let base = NaiveDate::from_ymd_opt(2000, 1, 1).unwrap();
        let wa = (base + Duration::days(day)).and_hms_opt(h1, m1, 0).unwrap();
        let wb = (base + Duration::days(day + len)).and_hms_opt(h2, m2, 0).unwrap();
        prop_assume!(wa <= wb);
        let fixed = BusinessCalendar::new(
            chrono_tz::Etc::GMTPlus3,
            std::array::from_fn(|i| cal.weekly(Weekday::try_from(i as u8).unwrap()).clone()),
            cal.holidays().iter().copied(),
            cal.special_days().clone(),
        ).unwrap();
        let tz = cal.time_zone();
        let in_zone = |z: Tz, w: chrono::NaiveDateTime| z.from_local_datetime(&w).single().unwrap().to_utc();
        let dst = cal.business_duration(in_zone(tz, wa), in_zone(tz, wb)).unwrap();
        let fix = fixed
            .business_duration(in_zone(fixed.time_zone(), wa), in_zone(fixed.time_zone(), wb))
            .unwrap();
        prop_assert_eq!(dst, fix);
    }

    #[test]
    fn serde_round_trips(cal in business_calendar()) {
        let json = serde_json::to_string(&cal).unwrap();
        let back: BusinessCalendar = serde_json::from_str(&json).unwrap();
        prop_assert_eq!(back, cal);
    }
}
