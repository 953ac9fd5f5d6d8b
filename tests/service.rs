//! Service metrics end to end through the public API: a calendar read from
//! JSON, cases built event by event, metrics grouped per priority.

use chrono::{Duration, TimeZone};
use crmkit::domain::*;
use crmkit::metrics::service::*;

#[test]
fn calendar_from_json_and_grouped_metrics() {
    // Mon-Thu 08:00-12:00 and 13:00-17:00, Friday to 15:00, 1 May a holiday,
    // 30 April a half day.
    let json = r#"{
        "time_zone": "Europe/Berlin",
        "week": {
            "monday": [{"start": "08:00", "end": "12:00"}, {"start": "13:00", "end": "17:00"}],
            "tuesday": [{"start": "08:00", "end": "12:00"}, {"start": "13:00", "end": "17:00"}],
            "wednesday": [{"start": "08:00", "end": "12:00"}, {"start": "13:00", "end": "17:00"}],
            "thursday": [{"start": "08:00", "end": "12:00"}, {"start": "13:00", "end": "17:00"}],
            "friday": [{"start": "08:00", "end": "15:00"}]
        },
        "holidays": ["2026-05-01"],
        "special_days": {"2026-04-30": [{"start": "08:00", "end": "12:00"}]}
    }"#;
    let calendar: BusinessCalendar = serde_json::from_str(json).unwrap();
    let tz = calendar.time_zone();
    let at = |d, h, m| tz.with_ymd_and_hms(2026, 4, d, h, m, 0).unwrap().to_utc();
    // Wed 29 April 16:00 -> Mon 4 May 09:00: Wed 1 h + Thu 30th 4 h + Fri 1 May 0
    // + Mon 08:00-09:00 1 h = 6 h.
    let may4 = tz.with_ymd_and_hms(2026, 5, 4, 9, 0, 0).unwrap().to_utc();
    assert_eq!(
        calendar.business_duration(at(29, 16, 0), may4).unwrap(),
        Duration::hours(6)
    );
    assert!(!calendar.is_open(at(29, 12, 30)));

    let agent = Actor::Agent(AgentId::from_u128(3));
    let open = |id, prio, t| {
        Case::open(
            CaseId::from_u128(id),
            CustomerId::from_u128(id),
            "help",
            prio,
            Channel::Email,
            CaseEvent::new(
                t,
                Actor::Customer,
                CaseEventKind::Created {
                    by_agent: false,
                    public_message: true,
                },
            ),
        )
        .unwrap()
    };
    let mut a = open(1, Priority::High, at(29, 16, 0));
    a.record(CaseEvent::new(may4, agent, CaseEventKind::PublicReply))
        .unwrap();
    a.record(CaseEvent::new(
        may4 + Duration::hours(1),
        agent,
        CaseEventKind::Solved,
    ))
    .unwrap();
    let b = open(2, Priority::High, at(28, 9, 0));
    let c = open(3, Priority::Low, at(28, 9, 0));

    let rule = FcrRule::default();
    let mut all: ServiceGroups<Priority> = ServiceGroups::new();
    let mut part1: ServiceGroups<Priority> = ServiceGroups::new();
    let mut part2: ServiceGroups<Priority> = ServiceGroups::new();
    for (i, case) in [&a, &b, &c].into_iter().enumerate() {
        let m = CaseMetrics::of(case, &calendar, &rule).unwrap();
        all.push(case.priority(), &m);
        if i == 0 {
            part1.push(case.priority(), &m)
        } else {
            part2.push(case.priority(), &m)
        }
    }
    part1.merge(&part2).unwrap();
    assert_eq!(part1.finish(), all.finish());
    let high = all.finish()[&Priority::High];
    assert_eq!(high.cases, 2);
    assert_eq!(high.resolved, 1);
    // Only case 1 has replied: its first reply is the 6 business hours above.
    assert_eq!(high.first_reply.business.count, 1);
    assert_eq!(high.first_reply.business.median, Some(Duration::hours(6)));
    assert_eq!(high.one_touch.rate(), Some(1.0));
}

/// `crmkit::analytics::service::service_metrics` over a `MemoryStore`:
/// paging does not change the result, cases outside the period are left out,
/// and first reply figures match hand arithmetic.
#[test]
fn service_metrics_over_the_case_store() {
    use crmkit::analytics::service::{ServiceSettings, service_metrics};
    use crmkit::store::{CaseStore, blocking::block_on, memory::MemoryStore};

    // Monday to Friday 09:00-17:00 UTC. 2 March 2026 is a Monday.
    let calendar = BusinessCalendar::weekdays(
        chrono_tz::UTC,
        "09:00".parse().unwrap(),
        "17:00".parse().unwrap(),
    )
    .unwrap();
    let at = |m, d, h, min| chrono::Utc.with_ymd_and_hms(2026, m, d, h, min, 0).unwrap();
    let agent = Actor::Agent(AgentId::from_u128(9));
    let open = |id, prio, t| {
        Case::open(
            CaseId::from_u128(id),
            CustomerId::from_u128(id),
            "help",
            prio,
            Channel::Email,
            CaseEvent::new(
                t,
                Actor::Customer,
                CaseEventKind::Created {
                    by_agent: false,
                    public_message: true,
                },
            ),
        )
        .unwrap()
    };
    let store = MemoryStore::new();
    // 1: High, Mon 2 Mar 10:00, replied 10:30, solved 11:00.
    let mut c1 = open(1, Priority::High, at(3, 2, 10, 0));
    c1.record(CaseEvent::new(
        at(3, 2, 10, 30),
        agent,
        CaseEventKind::PublicReply,
    ))
    .unwrap();
    c1.record(CaseEvent::new(
        at(3, 2, 11, 0),
        agent,
        CaseEventKind::Solved,
    ))
    .unwrap();
    // 2: High, Fri 6 Mar 16:00, replied Mon 9 Mar 10:00.
    let mut c2 = open(2, Priority::High, at(3, 6, 16, 0));
    c2.record(CaseEvent::new(
        at(3, 9, 10, 0),
        agent,
        CaseEventKind::PublicReply,
    ))
    .unwrap();
    // 3: Low, Tue 3 Mar 12:00, no reply yet.
    let c3 = open(3, Priority::Low, at(3, 3, 12, 0));
    // 4: Low, 1 April: outside the period.
    let mut c4 = open(4, Priority::Low, at(4, 1, 10, 0));
    c4.record(CaseEvent::new(
        at(4, 1, 10, 5),
        agent,
        CaseEventKind::PublicReply,
    ))
    .unwrap();
    for c in [c1, c2, c3, c4] {
        let _stored = block_on(store.create_case(c)).unwrap();
    }

    let one_business_hour = SlaTarget::new(Duration::hours(1), Clock::Business).unwrap();
    let sla = SlaPolicy::new().with(
        Priority::High,
        SlaTargets {
            first_reply: Some(one_business_hour),
            ..SlaTargets::default()
        },
    );
    let period = Period::new(at(3, 2, 0, 0), at(3, 16, 0, 0)).unwrap();
    let settings = ServiceSettings {
        calendar: &calendar,
        fcr: FcrRule::default(),
        sla: &sla,
        as_of: at(3, 16, 0, 0),
    };
    let run = |size| {
        block_on(service_metrics(
            &store,
            period,
            settings,
            |c| Some(c.priority()),
            size,
        ))
        .unwrap()
        .finish()
    };
    let by_priority = run(1);
    assert_eq!(by_priority, run(1_000));
    assert_eq!(by_priority, run(2));
    assert_eq!(by_priority.len(), 2);

    let high = by_priority[&Priority::High];
    assert_eq!(high.cases, 2);
    assert_eq!(high.first_reply.business.count, 2);
    // Business: case 1 30 min; case 2 Fri 16:00-17:00 + Mon 09:00-10:00 = 2 h.
    // Mean (30 min + 120 min) / 2 = 75 min.
    assert_eq!(high.first_reply.business.mean, Some(Duration::minutes(75)));
    assert_eq!(high.first_reply.business.min, Some(Duration::minutes(30)));
    assert_eq!(high.first_reply.business.max, Some(Duration::hours(2)));
    // Calendar: 30 min and Fri 16:00 -> Mon 10:00 = 66 h; mean 33 h 15 min.
    assert_eq!(
        high.first_reply.calendar.mean,
        Some(Duration::minutes(33 * 60 + 15))
    );
    assert_eq!(high.first_reply.calendar.max, Some(Duration::hours(66)));
    // SLA 1 business hour: case 1 met (30 min), case 2 breached (2 h).
    assert_eq!(
        (high.sla_first_reply.met, high.sla_first_reply.breached),
        (1, 1)
    );
    assert_eq!(high.sla_first_reply.compliance(), Some(0.5));
    // Only case 1 is resolved: one touch, 1 of 1.
    assert_eq!(high.resolved, 1);
    assert_eq!(high.one_touch.rate(), Some(1.0));

    // Low: only case 3 (case 4 is in April); not replied: absent, not zero.
    let low = by_priority[&Priority::Low];
    assert_eq!(low.cases, 1);
    assert_eq!(low.first_reply.business.count, 0);
    assert_eq!(low.first_reply.business.mean, None);
    assert_eq!(low.sla_first_reply.met + low.sla_first_reply.breached, 0);

    // A key function returning nothing skips every case.
    let none = block_on(service_metrics(&store, period, settings, |_| None::<()>, 1)).unwrap();
    assert!(none.finish().is_empty());
    // Page size zero is a store error.
    assert!(block_on(service_metrics(&store, period, settings, |_| Some(()), 0)).is_err());
}
