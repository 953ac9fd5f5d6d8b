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
