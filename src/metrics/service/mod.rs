//! Service metrics: first reply, next reply, resolution, wait times,
//! one-touch and first-contact resolution, reopens, bot containment and SLA
//! compliance, each in calendar time and in business time.
//!
//! Everything is computed from a case's event history
//! ([`Case::events`](crate::domain::Case::events)) and a
//! [`BusinessCalendar`](crate::domain::BusinessCalendar); nothing reads the
//! clock (SLA status takes the instant to evaluate at).
//!
//! # Definitions
//!
//! - **First reply time**: creation to the first public agent reply
//!   ([`CaseEventKind::PublicReply`](crate::domain::CaseEventKind::PublicReply)).
//!   When an agent opened the case with a public message, that message is
//!   the `Created` event itself and is not a reply; if a history also records
//!   it as a `PublicReply` at the creation instant, that reply is taken to be
//!   the opening message and skipped, so the first reply is the one after it.
//! - **Next reply times**: after the first reply, each time the customer
//!   writes while no customer message is waiting, a clock starts; the next
//!   public agent reply stops it. A solve cancels a running clock.
//! - **First resolution time**: creation to the first `Solved`.
//!   **Full resolution time**: creation to the last `Solved`, present only
//!   while the case is resolved (not reopened since).
//! - **Requester wait time**: time in New, Open and On-hold; **agent wait
//!   time**: time in Pending (waiting on the customer); **on-hold time**:
//!   time in On-hold. Present once the case is fully resolved.
//! - **Agent replies**: number of public agent replies. **Reopens**: number
//!   of `Reopened` events.
//! - **One-touch**: resolved with at most one agent reply.
//!   **First-contact resolution**: see [`FcrRule`].
//! - **Bot containment**: a case a bot took part in, resolved with no
//!   escalation and no agent reply. **Time to human**: the first escalation
//!   to the first public agent reply after it.
//!
//! A metric whose events have not happened is absent (`None`), never zero.
//!
//! # Example
//! ```
//! use chrono::{Duration, TimeZone};
//! use crmkit::domain::*;
//! use crmkit::metrics::service::{CaseMetrics, FcrRule};
//! let tz: chrono_tz::Tz = "Europe/Berlin".parse()?;
//! let calendar = BusinessCalendar::weekdays(tz, "09:00".parse()?, "17:00".parse()?)?;
//! let at = |d, h, m| tz.with_ymd_and_hms(2026, 3, d, h, m, 0).single().ok_or("no such time");
//! let agent = Actor::Agent(AgentId::from_u128(1));
//! let mut case = Case::open(
//!     CaseId::from_u128(1), CustomerId::from_u128(2), "Where is my parcel?",
//!     Priority::Normal, Channel::Email,
//!     CaseEvent::new(at(6, 16, 30)?.to_utc(), Actor::Customer,
//!         CaseEventKind::Created { by_agent: false, public_message: true }),
//! )?;
//! case.record(CaseEvent::new(at(9, 9, 30)?.to_utc(), agent, CaseEventKind::PublicReply))?;
//! let m = CaseMetrics::of(&case, &calendar, &FcrRule::default())?;
//! let first = m.first_reply.ok_or("replied")?;
//! // Friday 16:30 to Monday 09:30: 65 hours on the clock, 1 business hour.
//! assert_eq!(first.calendar, Duration::hours(65));
//! assert_eq!(first.business, Duration::hours(1));
//! assert_eq!(m.full_resolution, None); // not solved yet: absent, not zero
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod aggregate;
mod case;
mod sla;

pub use aggregate::*;
pub use case::*;
pub use sla::*;

use chrono::{DateTime, Utc};

use crate::domain::{BusinessTimeError, CaseStatus};

/// Computing service metrics failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ServiceError {
    /// The event history is empty.
    #[error("the case history has no events")]
    EmptyHistory,
    /// The history does not start with exactly one `Created` event (an
    /// event before the creation, or a second creation).
    #[error("event {index} ({kind}) is not allowed there: a case history starts with one creation")]
    NotCreatedFirst {
        /// Position of the offending event.
        index: usize,
        /// Its kind.
        kind: &'static str,
    },
    /// An event is earlier than the one before it.
    #[error("event {index} at {at} is earlier than the event before it ({previous})")]
    OutOfOrder {
        /// Position of the offending event.
        index: usize,
        /// The previous event's instant.
        previous: DateTime<Utc>,
        /// The offending event's instant.
        at: DateTime<Utc>,
    },
    /// An event that the case's status does not allow (a reopen of a case
    /// that is not solved, anything after closing).
    #[error("event {index} ({kind}) is not allowed in status {status}")]
    Transition {
        /// Position of the offending event.
        index: usize,
        /// Its kind.
        kind: &'static str,
        /// The status the case was in.
        status: CaseStatus,
    },
    /// The instant to evaluate at is before the case was created.
    #[error("cannot evaluate at {as_of}: the case was created at {created}")]
    BeforeCreation {
        /// The requested instant.
        as_of: DateTime<Utc>,
        /// The creation instant.
        created: DateTime<Utc>,
    },
    /// Merging two histograms failed.
    #[error("merging duration histograms failed: {reason}")]
    Histogram {
        /// The histogram library's message.
        reason: String,
    },
    /// Business-hours arithmetic failed.
    #[error(transparent)]
    BusinessTime(#[from] BusinessTimeError),
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::strategy::{business_calendar, case};
    use crate::domain::*;
    use chrono::{DateTime, Utc};
    use chrono::{Duration, TimeZone};
    use chrono_tz::Tz;
    use proptest::prelude::*;

    const AGENT: Actor = Actor::Agent(AgentId::from_u128(7));
    const BOT: Actor = Actor::Bot(BotId::from_u128(9));

    fn berlin() -> Tz {
        chrono_tz::Europe::Berlin
    }

    /// 2026-03-02 is a Monday.
    fn at(day: u32, h: u32, m: u32) -> DateTime<Utc> {
        berlin()
            .with_ymd_and_hms(2026, 3, day, h, m, 0)
            .unwrap()
            .to_utc()
    }

    fn cal() -> BusinessCalendar {
        BusinessCalendar::weekdays(berlin(), "09:00".parse().unwrap(), "17:00".parse().unwrap())
            .unwrap()
    }

    fn ev(t: DateTime<Utc>, actor: Actor, kind: CaseEventKind) -> CaseEvent {
        CaseEvent::new(t, actor, kind)
    }

    fn created(t: DateTime<Utc>) -> CaseEvent {
        ev(
            t,
            Actor::Customer,
            CaseEventKind::Created {
                by_agent: false,
                public_message: true,
            },
        )
    }

    fn case_of(events: Vec<CaseEvent>, priority: Priority) -> Case {
        let mut it = events.into_iter();
        let mut c = Case::open(
            CaseId::from_u128(1),
            CustomerId::from_u128(2),
            "subject",
            priority,
            Channel::Email,
            it.next().unwrap(),
        )
        .unwrap();
        for e in it {
            c.record(e).unwrap();
        }
        c
    }

    fn metrics(c: &Case) -> CaseMetrics {
        CaseMetrics::of(c, &cal(), &FcrRule::default()).unwrap()
    }

    fn h(n: i64) -> Duration {
        Duration::hours(n)
    }

    #[test]
    fn friday_evening_case_has_one_business_hour_of_first_reply() {
        // Fri 6 March 16:30 -> Mon 9 March 09:30: 30 min Friday + 30 min Monday = 1 h;
        // on the clock 7.5 h + 48 h + 9.5 h = 65 h.
        let c = case_of(
            vec![
                created(at(6, 16, 30)),
                ev(at(9, 9, 30), AGENT, CaseEventKind::PublicReply),
            ],
            Priority::Normal,
        );
        let m = metrics(&c);
        assert_eq!(
            m.first_reply,
            Some(Timing {
                calendar: h(65),
                business: h(1)
            })
        );
        assert_eq!(m.agent_replies, 1);
        assert_eq!(m.full_resolution, None);
        assert_eq!(m.requester_wait, None);
        assert_eq!(m.one_touch, None);
    }

    #[test]
    fn agent_opened_case_counts_the_reply_after_the_opening_message() {
        let opening = ev(
            at(2, 10, 0),
            AGENT,
            CaseEventKind::Created {
                by_agent: true,
                public_message: true,
            },
        );
        // The opening message is also recorded as a public reply at the creation
        // instant: it is not the first reply. Customer answers at 11:00, the agent
        // replies at 12:00: first reply = 10:00 -> 12:00 = 2 h.
        let c = case_of(
            vec![
                opening,
                ev(at(2, 10, 0), AGENT, CaseEventKind::PublicReply),
                ev(at(2, 11, 0), Actor::Customer, CaseEventKind::CustomerReply),
                ev(at(2, 12, 0), AGENT, CaseEventKind::PublicReply),
                ev(at(2, 12, 30), AGENT, CaseEventKind::Solved),
            ],
            Priority::Normal,
        );
        let m = metrics(&c);
        assert_eq!(m.first_reply.unwrap().calendar, h(2));
        assert_eq!(m.first_reply.unwrap().business, h(2));
        assert_eq!(m.agent_replies, 1);
        assert_eq!(m.one_touch, Some(true));
        // The customer wrote after the opening message, not after a first reply.
        assert!(m.next_replies.is_empty());
        assert_eq!(m.first_contact_resolution, Some(true));
    }

    #[test]
    fn reopened_case() {
        // Mon 09:00 created; 10:00 reply (Pending); 11:00 solved;
        // Tue 09:00 reopened + customer reply (Open); 09:30 reply (Pending); 10:00 solved.
        let c = case_of(
            vec![
                created(at(2, 9, 0)),
                ev(at(2, 10, 0), AGENT, CaseEventKind::PublicReply),
                ev(at(2, 11, 0), AGENT, CaseEventKind::Solved),
                ev(at(3, 9, 0), Actor::Customer, CaseEventKind::Reopened),
                ev(at(3, 9, 0), Actor::Customer, CaseEventKind::CustomerReply),
                ev(at(3, 9, 30), AGENT, CaseEventKind::PublicReply),
                ev(at(3, 10, 0), AGENT, CaseEventKind::Solved),
            ],
            Priority::Normal,
        );
        let m = metrics(&c);
        // First resolution Mon 09:00 -> 11:00 = 2 h both ways.
        assert_eq!(
            m.first_resolution,
            Some(Timing {
                calendar: h(2),
                business: h(2)
            })
        );
        // Full resolution Mon 09:00 -> Tue 10:00: 25 h; business 8 h Monday + 1 h Tuesday = 9 h.
        assert_eq!(
            m.full_resolution,
            Some(Timing {
                calendar: h(25),
                business: h(9)
            })
        );
        assert_eq!(m.reopens, 1);
        assert_eq!(m.agent_replies, 2);
        // Next reply: customer Tue 09:00 -> agent 09:30.
        let half = Duration::minutes(30);
        assert_eq!(
            m.next_replies,
            vec![Timing {
                calendar: half,
                business: half
            }]
        );
        // Requester wait: New 09:00-10:00 (1 h) + Open Tue 09:00-09:30 (0.5 h) = 1.5 h.
        // Agent wait: Pending 10:00-11:00 (1 h) + Tue 09:30-10:00 (0.5 h) = 1.5 h.
        let ninety = Duration::minutes(90);
        assert_eq!(
            m.requester_wait,
            Some(Timing {
                calendar: ninety,
                business: ninety
            })
        );
        assert_eq!(
            m.agent_wait,
            Some(Timing {
                calendar: ninety,
                business: ninety
            })
        );
        assert_eq!(m.on_hold, Some(Timing::default()));
        assert_eq!(m.one_touch, Some(false));
        assert_eq!(m.first_contact_resolution, Some(false));
        // Reopened and not solved again: full resolution is absent again.
        let mut open_again = c.clone();
        open_again
            .record(ev(at(4, 9, 0), Actor::Customer, CaseEventKind::Reopened))
            .unwrap();
        let m = metrics(&open_again);
        assert_eq!(m.full_resolution, None);
        assert_eq!(
            m.first_resolution,
            Some(Timing {
                calendar: h(2),
                business: h(2)
            })
        );
        assert_eq!(m.reopens, 2);
    }

    #[test]
    fn bots_containment_and_time_to_human() {
        let bot_created = ev(
            at(2, 9, 0),
            Actor::Customer,
            CaseEventKind::Created {
                by_agent: false,
                public_message: true,
            },
        );
        let contained = case_of(
            vec![
                bot_created.clone(),
                ev(at(2, 9, 1), BOT, CaseEventKind::BotReply),
                ev(at(2, 9, 2), BOT, CaseEventKind::Solved),
            ],
            Priority::Low,
        );
        let m = metrics(&contained);
        assert_eq!(m.bot_contained, Some(true));
        assert_eq!(m.first_reply, None);
        assert_eq!(m.time_to_human, None);
        // Escalated at 09:05, agent answers at 09:45: 40 minutes to a human.
        let escalated = case_of(
            vec![
                bot_created,
                ev(at(2, 9, 1), BOT, CaseEventKind::BotReply),
                ev(at(2, 9, 5), BOT, CaseEventKind::EscalatedToHuman),
                ev(at(2, 9, 45), AGENT, CaseEventKind::PublicReply),
                ev(at(2, 10, 0), AGENT, CaseEventKind::Solved),
            ],
            Priority::Low,
        );
        let m = metrics(&escalated);
        assert_eq!(m.bot_contained, Some(false));
        let forty = Duration::minutes(40);
        assert_eq!(
            m.time_to_human,
            Some(Timing {
                calendar: forty,
                business: forty
            })
        );
        let mut acc = ServiceAccumulator::new();
        acc.push(&metrics(&contained));
        acc.push(&m);
        let s = acc.finish();
        assert_eq!(
            s.bot_containment,
            Share {
                numerator: 1,
                denominator: 2
            }
        );
        assert_eq!(
            s.escalation,
            Share {
                numerator: 1,
                denominator: 2
            }
        );
    }

    fn policy() -> SlaPolicy {
        SlaPolicy::new()
            .with(
                Priority::Normal,
                SlaTargets {
                    first_reply: Some(SlaTarget::new(h(2), Clock::Business).unwrap()),
                    next_reply: Some(SlaTarget::new(h(1), Clock::Calendar).unwrap()),
                    resolution: Some(SlaTarget::new(h(4), Clock::Business).unwrap()),
                },
            )
            .with(
                Priority::Urgent,
                SlaTargets {
                    first_reply: Some(
                        SlaTarget::new(Duration::minutes(30), Clock::Calendar).unwrap(),
                    ),
                    ..SlaTargets::default()
                },
            )
    }

    /// Mon 09:00 created; 10:00 agent asks for details (Pending);
    /// Wed 09:00 customer answers (Open); Wed 10:00 solved.
    fn pending_case(priority: Priority) -> Case {
        case_of(
            vec![
                created(at(2, 9, 0)),
                ev(at(2, 10, 0), AGENT, CaseEventKind::PublicReply),
                ev(at(4, 9, 0), Actor::Customer, CaseEventKind::CustomerReply),
                ev(at(4, 10, 0), AGENT, CaseEventKind::Solved),
            ],
            priority,
        )
    }

    #[test]
    fn sla_met_and_resolution_clock_paused_while_pending() {
        let c = pending_case(Priority::Normal);
        let sla = policy().evaluate(&c, &cal(), at(6, 12, 0)).unwrap();
        // First reply 1 business hour <= 2.
        assert_eq!(sla.first_reply, Some(SlaStatus::Met { elapsed: h(1) }));
        // Resolution counts New Mon 09-10 (1 h) + Open Wed 09-10 (1 h) = 2 h <= 4 h,
        // although Mon 09:00 -> Wed 10:00 holds 8 + 8 + 1 = 17 business hours.
        assert_eq!(sla.resolution, Some(SlaStatus::Met { elapsed: h(2) }));
        // The customer's Wed message was answered by the solve, not a reply: no next reply.
        assert_eq!(sla.next_reply, None);
        // Tuesday noon: 1 h used, 3 h left, the clock is paused (pending) so no due time.
        let sla = policy().evaluate(&c, &cal(), at(3, 12, 0)).unwrap();
        assert_eq!(
            sla.resolution,
            Some(SlaStatus::InProgress {
                elapsed: h(1),
                remaining: h(3),
                due: None
            })
        );
        // Mon 09:20: first reply running, 20 min used, due at 11:00.
        let sla = policy().evaluate(&c, &cal(), at(2, 9, 20)).unwrap();
        assert_eq!(
            sla.first_reply,
            Some(SlaStatus::InProgress {
                elapsed: Duration::minutes(20),
                remaining: Duration::minutes(100),
                due: Some(at(2, 11, 0))
            })
        );
        // Wed 09:30: resolution running again: 1 h + 30 min used, due 12:00.
        let sla = policy().evaluate(&c, &cal(), at(4, 9, 30)).unwrap();
        assert_eq!(
            sla.resolution,
            Some(SlaStatus::InProgress {
                elapsed: Duration::minutes(90),
                remaining: Duration::minutes(150),
                due: Some(at(4, 12, 0))
            })
        );
        // Next reply: waiting since Wed 09:00, 30 min of 1 h calendar used.
        assert_eq!(
            sla.next_reply,
            Some(SlaStatus::InProgress {
                elapsed: Duration::minutes(30),
                remaining: Duration::minutes(30),
                due: Some(at(4, 10, 0))
            })
        );
    }

    #[test]
    fn sla_breached_and_compliance() {
        // Urgent: 30 min calendar to first reply; it took 1 h.
        let c = pending_case(Priority::Urgent);
        let sla = policy().evaluate(&c, &cal(), at(6, 12, 0)).unwrap();
        assert_eq!(sla.first_reply, Some(SlaStatus::Breached { elapsed: h(1) }));
        assert_eq!(sla.resolution, None); // no target for urgent resolution
        // Still unanswered at 09:45: breached already (45 min > 30 min).
        let fresh = case_of(vec![created(at(2, 9, 0))], Priority::Urgent);
        let sla = policy().evaluate(&fresh, &cal(), at(2, 9, 45)).unwrap();
        assert_eq!(
            sla.first_reply,
            Some(SlaStatus::Breached {
                elapsed: Duration::minutes(45)
            })
        );
        let mut acc = ServiceAccumulator::new();
        acc.push_sla(
            &policy()
                .evaluate(&pending_case(Priority::Normal), &cal(), at(6, 12, 0))
                .unwrap(),
        );
        acc.push_sla(&sla);
        acc.push_sla(&policy().evaluate(&fresh, &cal(), at(2, 9, 10)).unwrap());
        let s = acc.finish();
        // First reply: met, breached, in progress -> 1 / (1 + 1).
        assert_eq!(
            s.sla_first_reply,
            SlaCompliance {
                met: 1,
                breached: 1,
                in_progress: 1
            }
        );
        assert_eq!(s.sla_first_reply.compliance(), Some(0.5));
        assert!(policy().evaluate(&c, &cal(), at(1, 9, 0)).is_err());
    }

    #[test]
    fn bad_histories_are_typed_errors() {
        let rule = FcrRule::default();
        let out_of_order = [
            created(at(2, 10, 0)),
            ev(at(2, 9, 0), AGENT, CaseEventKind::PublicReply),
        ];
        assert!(matches!(
            CaseMetrics::from_events(&out_of_order, &cal(), &rule),
            Err(ServiceError::OutOfOrder { index: 1, .. })
        ));
        let solve_first = [
            ev(at(2, 9, 0), AGENT, CaseEventKind::Solved),
            created(at(2, 10, 0)),
        ];
        assert!(matches!(
            CaseMetrics::from_events(&solve_first, &cal(), &rule),
            Err(ServiceError::NotCreatedFirst { index: 0, .. })
        ));
        let twice = [created(at(2, 9, 0)), created(at(2, 10, 0))];
        assert!(matches!(
            CaseMetrics::from_events(&twice, &cal(), &rule),
            Err(ServiceError::NotCreatedFirst { index: 1, .. })
        ));
        let reopen_open = [
            created(at(2, 9, 0)),
            ev(at(2, 10, 0), Actor::Customer, CaseEventKind::Reopened),
        ];
        assert!(matches!(
            CaseMetrics::from_events(&reopen_open, &cal(), &rule),
            Err(ServiceError::Transition { index: 1, .. })
        ));
        assert_eq!(
            CaseMetrics::from_events(&[], &cal(), &rule),
            Err(ServiceError::EmptyHistory)
        );
    }

    fn all_timings(m: &CaseMetrics) -> Vec<Timing> {
        let mut v: Vec<Timing> = [
            m.first_reply,
            m.first_resolution,
            m.full_resolution,
            m.requester_wait,
            m.agent_wait,
            m.on_hold,
            m.time_to_human,
        ]
        .into_iter()
        .flatten()
        .collect();
        v.extend(m.next_replies.iter().copied());
        v
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        #[test]
        fn metrics_are_consistent(c in case(), calendar in business_calendar()) {
            let m = CaseMetrics::of(&c, &calendar, &FcrRule::default()).unwrap();
            // The replay agrees with the case's own status.
            prop_assert_eq!(m.status, c.status());
            for t in all_timings(&m) {
                prop_assert!(t.business >= Duration::zero());
                prop_assert!(t.business <= t.calendar);
            }
            if let (Some(first), Some(full)) = (m.first_resolution, m.full_resolution) {
                prop_assert!(first.calendar <= full.calendar);
            }
            if let Some(full) = m.full_resolution {
                // Time in the working statuses adds up to the resolution time when never reopened.
                let req = m.requester_wait.unwrap();
                let agent = m.agent_wait.unwrap();
                if m.reopens == 0 {
                    prop_assert_eq!(req.calendar + agent.calendar, full.calendar);
                    prop_assert_eq!(req.business + agent.business, full.business);
                } else {
                    prop_assert!(req.calendar + agent.calendar <= full.calendar);
                }
                prop_assert!(m.on_hold.unwrap().calendar <= req.calendar);
            }
            prop_assert_eq!(m.one_touch.is_some(), m.full_resolution.is_some());
        }

        #[test]
        fn merged_accumulators_equal_one_pass(
            cases in prop::collection::vec(case(), 0..30),
            split in any::<prop::sample::Index>(),
        ) {
            let calendar = BusinessCalendar::always(chrono_tz::UTC);
            let rule = FcrRule::default();
            let ms: Vec<CaseMetrics> =
                cases.iter().map(|c| CaseMetrics::of(c, &calendar, &rule).unwrap()).collect();
            let k = if ms.is_empty() { 0 } else { split.index(ms.len() + 1) };
            let mut whole = ServiceAccumulator::new();
            let (mut left, mut right) = (ServiceAccumulator::new(), ServiceAccumulator::new());
            for (i, m) in ms.iter().enumerate() {
                whole.push(m);
                if i < k { left.push(m) } else { right.push(m) }
            }
            left.merge(&right).unwrap();
            prop_assert_eq!(left.finish(), whole.finish());
        }

        #[test]
        fn duration_stats_merge_like_one_pass_across_the_exact_limit(
            secs in prop::collection::vec(0i64..10_000_000, 0..700),
            split in any::<prop::sample::Index>(),
        ) {
            let k = split.index(secs.len() + 1);
            let (mut whole, mut left, mut right) =
                (DurationStats::new(), DurationStats::new(), DurationStats::new());
            for (i, s) in secs.iter().enumerate() {
                whole.push(Duration::seconds(*s));
                if i < k { left.push(Duration::seconds(*s)) } else { right.push(Duration::seconds(*s)) }
            }
            left.merge(&right).unwrap();
            prop_assert_eq!(left.finish(), whole.finish());
            if !secs.is_empty() && secs.len() <= EXACT_QUANTILES_UP_TO {
                // Exact nearest rank: the median is the value at rank ceil(n / 2).
                let mut sorted = secs.clone();
                sorted.sort_unstable();
                let median = sorted[secs.len().div_ceil(2) - 1];
                prop_assert_eq!(whole.finish().median, Some(Duration::seconds(median)));
            }
        }

        #[test]
        fn sla_statuses_are_consistent(c in case(), later in 0i64..30 * 86_400) {
            let calendar = BusinessCalendar::always(chrono_tz::UTC);
            let target = SlaTarget::new(h(8), Clock::Business).unwrap();
            let policy = SlaPolicy::new().with(c.priority(), SlaTargets {
                first_reply: Some(target),
                next_reply: Some(target),
                resolution: Some(target),
            });
            let as_of = c.events().last().unwrap().at() + Duration::seconds(later);
            let sla = policy.evaluate(&c, &calendar, as_of).unwrap();
            for s in [sla.first_reply, sla.next_reply, sla.resolution].into_iter().flatten() {
                match s {
                    SlaStatus::Met { elapsed } => prop_assert!(elapsed <= h(8)),
                    SlaStatus::Breached { elapsed } => prop_assert!(elapsed > h(8)),
                    SlaStatus::InProgress { elapsed, remaining, .. } => {
                        prop_assert_eq!(elapsed + remaining, h(8));
                    }
                }
            }
            // Resolution elapsed equals the requester wait of a resolved case.
            let m = CaseMetrics::of(&c, &calendar, &FcrRule::default()).unwrap();
            if let (Some(SlaStatus::Met { elapsed }), Some(w)) = (sla.resolution, m.requester_wait) {
                prop_assert_eq!(elapsed, w.business);
            }
        }
    }
}
