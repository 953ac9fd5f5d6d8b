//! Closed-loop follow-up: rules, planner, outbox, dispatcher, metrics.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use chrono::{DateTime, Duration, TimeZone, Utc};
use chrono_tz::Tz;
use crmkit::domain::*;
use crmkit::error::ValidationError;
use crmkit::outreach::policy::may_send;
use crmkit::outreach::*;
use futures_executor::block_on;
use proptest::prelude::*;

type R = Result<(), Box<dyn std::error::Error>>;

fn t(s: &str) -> DateTime<Utc> {
    s.parse().expect("test time")
}

fn email(s: &str) -> ContactPoint {
    ContactPoint::new(
        ContactValue::Email(EmailAddress::new(s).expect("email")),
        true,
        None,
    )
}

fn phone(s: &str) -> ContactPoint {
    ContactPoint::new(
        ContactValue::Phone(PhoneNumber::new(s).expect("phone")),
        true,
        None,
    )
}

fn consent(p: ConsentPurpose, at: DateTime<Utc>) -> ConsentRecord {
    ConsentRecord::new(p, ConsentStatus::Given, at, ConsentSource::WebForm)
}

fn withdraw(p: ConsentPurpose, at: DateTime<Utc>) -> ConsentRecord {
    ConsentRecord::new(p, ConsentStatus::Withdrawn, at, ConsentSource::Unsubscribe)
}

/// A customer with e-mail and phone, consenting to service messages,
/// created on 2026-01-01 (so no check-in is due before 2026-04-01).
fn customer(n: u128, tz: Tz) -> Customer {
    let since = t("2026-01-01T00:00:00Z");
    Customer::builder(CustomerId::from_u128(n), CustomerKind::Individual, since)
        .contact_point(email(&format!("c{n}@example.com")))
        .contact_point(phone("+4930123456"))
        .time_zone(tz)
        .locale(Locale::new("de-DE").expect("locale"))
        .consent(consent(ConsentPurpose::ServiceMessages, since))
        .build()
        .expect("customer")
}

fn nps(n: u128, customer: u128, at: DateTime<Utc>, score: i32) -> SurveyResponse {
    SurveyResponse::on_scale(
        ResponseId::from_u128(n),
        SurveyId::from_u128(1),
        Scale::nps(),
        CustomerId::from_u128(customer),
        at,
        score,
    )
    .expect("response")
}

fn calendar() -> BusinessCalendar {
    BusinessCalendar::weekdays(
        Tz::UTC,
        "09:00".parse().expect("t"),
        "17:00".parse().expect("t"),
    )
    .expect("calendar")
}

fn planner() -> Planner {
    Planner::new(RuleSet::default(), calendar())
}

// ---------------------------------------------------------------- rules

#[test]
fn default_rules_round_trip_and_carry_a_format_version() -> R {
    let json = serde_json::to_value(RuleSet::default())?;
    assert_eq!(json["format_version"], FORMAT_VERSION);
    let back = RuleSet::from_json(&json.to_string())?;
    assert_eq!(back, RuleSet::default());
    Ok(())
}

#[test]
fn unknown_fields_are_rejected_everywhere() -> R {
    let base = serde_json::to_value(RuleSet::default())?;
    let mut top = base.clone();
    top["quiet_hourz"] = serde_json::json!(null);
    let mut in_rule = base.clone();
    in_rule["rules"][0]["priorty"] = serde_json::json!("high");
    let mut in_trigger = base.clone();
    in_trigger["rules"][0]["trigger"] = serde_json::json!({"nps_detractor": {"max_scor": 6}});
    for doc in [top, in_rule, in_trigger] {
        let r = RuleSet::from_json(&doc.to_string());
        assert!(matches!(r, Err(OutreachError::RuleFormat { .. })), "{r:?}");
    }
    Ok(())
}

#[test]
fn other_format_versions_are_rejected() -> R {
    let mut doc = serde_json::to_value(RuleSet::default())?;
    doc["format_version"] = serde_json::json!(2);
    let r = RuleSet::from_json(&doc.to_string());
    assert!(
        matches!(
            r,
            Err(OutreachError::UnsupportedFormatVersion {
                found: 2,
                supported: 1
            })
        ),
        "{r:?}"
    );
    Ok(())
}

#[test]
fn contradictory_thresholds_are_typed_errors() -> R {
    let rule = |id: &str, trigger, action| Rule {
        id: RuleId::new(id).expect("id"),
        trigger,
        action,
        purpose: ConsentPurpose::ServiceMessages,
        priority: Priority::Normal,
        target: TargetTime::BusinessHours(8),
    };
    let order = vec![Channel::Email];
    // Two rules judging NPS scores with different "low" thresholds.
    let r = RuleSet::new(
        vec![
            rule(
                "a",
                Trigger::NpsDetractor { max_score: 6 },
                RuleAction::Human,
            ),
            rule(
                "b",
                Trigger::LowScore {
                    scale: Scale::nps(),
                    max_score: 4,
                },
                RuleAction::Human,
            ),
        ],
        None,
        None,
        order.clone(),
    );
    assert!(
        matches!(
            r,
            Err(OutreachError::InvalidRules(
                ValidationError::Inconsistent { .. }
            ))
        ),
        "{r:?}"
    );
    // A detractor threshold reaching into the promoters.
    let r = RuleSet::new(
        vec![rule(
            "a",
            Trigger::NpsDetractor { max_score: 9 },
            RuleAction::Human,
        )],
        None,
        None,
        order.clone(),
    );
    assert!(
        matches!(
            r,
            Err(OutreachError::InvalidRules(
                ValidationError::OutOfRange { .. }
            ))
        ),
        "{r:?}"
    );
    // A "low" CSAT threshold at the top of the scale fires on everything.
    let r = RuleSet::new(
        vec![rule(
            "a",
            Trigger::LowScore {
                scale: Scale::csat5(),
                max_score: 5,
            },
            RuleAction::Human,
        )],
        None,
        None,
        order.clone(),
    );
    assert!(matches!(r, Err(OutreachError::InvalidRules(_))), "{r:?}");
    // A complaint answered by a bot message.
    let r = RuleSet::new(
        vec![rule("a", Trigger::Complaint, RuleAction::Message)],
        None,
        None,
        order.clone(),
    );
    assert!(
        matches!(
            r,
            Err(OutreachError::InvalidRules(
                ValidationError::Inconsistent { .. }
            ))
        ),
        "{r:?}"
    );
    // Duplicate ids, zero cap, duplicate channel.
    let r = RuleSet::new(
        vec![
            rule("a", Trigger::Complaint, RuleAction::Human),
            rule("a", Trigger::CaseReopened, RuleAction::Human),
        ],
        None,
        None,
        order.clone(),
    );
    assert!(matches!(
        r,
        Err(OutreachError::InvalidRules(
            ValidationError::Duplicate { .. }
        ))
    ));
    let r = RuleSet::new(
        vec![],
        None,
        Some(FrequencyCap {
            max_messages: 0,
            per_days: 7,
        }),
        order,
    );
    assert!(matches!(
        r,
        Err(OutreachError::InvalidRules(
            ValidationError::OutOfRange { .. }
        ))
    ));
    let r = RuleSet::new(vec![], None, None, vec![Channel::Sms, Channel::Sms]);
    assert!(matches!(
        r,
        Err(OutreachError::InvalidRules(
            ValidationError::Duplicate { .. }
        ))
    ));
    // The same checks apply to JSON.
    let mut doc = serde_json::to_value(RuleSet::default())?;
    doc["rules"][0]["trigger"] = serde_json::json!({"nps_detractor": {"max_score": 10}});
    assert!(matches!(
        RuleSet::from_json(&doc.to_string()),
        Err(OutreachError::InvalidRules(_))
    ));
    let mut doc = serde_json::to_value(RuleSet::default())?;
    doc["quiet_hours"] = serde_json::json!({"start": "08:00", "end": "08:00"});
    assert!(RuleSet::from_json(&doc.to_string()).is_err());
    Ok(())
}

// ---------------------------------------------------------------- planner

#[test]
fn detractor_gets_a_personal_follow_up_due_in_business_hours() -> R {
    let c = customer(1, Tz::UTC);
    // Friday 2026-03-06 16:00 UTC; 8 business hours on 09-17 weekdays:
    // 1 hour on Friday (16-17) + 7 on Monday (09-16) -> Monday 16:00.
    let r = nps(10, 1, t("2026-03-06T16:00:00Z"), 3);
    let events = [Event::Response(&r)];
    let plan = planner().plan(&PlanInput::new(
        t("2026-03-06T16:05:00Z"),
        std::slice::from_ref(&c),
        &events,
    ))?;
    assert_eq!(plan.tasks.len(), 1);
    let task = &plan.tasks[0];
    assert_eq!(task.due(), t("2026-03-09T16:00:00Z"));
    assert_eq!(task.rule().as_str(), "nps_detractor");
    assert_eq!(
        task.source(),
        &SourceRef::Response(ResponseId::from_u128(10))
    );
    assert_eq!(
        task.delivery(),
        Delivery::Person {
            channel: Some(Channel::Email),
            reason: PersonReason::HumanRequested
        }
    );
    assert!(task.message().requires_human);
    assert_eq!(
        task.message().locale.as_ref().map(Locale::as_str),
        Some("de-DE")
    );
    assert_eq!(
        task.key(),
        IdempotencyKey::derive(
            "nps_detractor",
            "response:00000000-0000-0000-0000-00000000000a"
        )
    );
    // A passive (7) fires nothing.
    let r7 = nps(11, 1, t("2026-03-06T16:00:00Z"), 7);
    let events = [Event::Response(&r7)];
    let plan = planner().plan(&PlanInput::new(
        t("2026-03-06T16:05:00Z"),
        std::slice::from_ref(&c),
        &events,
    ))?;
    assert!(plan.tasks.is_empty() && plan.not_planned.is_empty());
    Ok(())
}

#[test]
fn preferred_channel_then_order_then_a_person() -> R {
    let since = t("2026-01-01T00:00:00Z");
    let now = t("2026-03-04T10:00:00Z");
    let base = |n: u128| {
        Customer::builder(CustomerId::from_u128(n), CustomerKind::Individual, since)
            .consent(consent(ConsentPurpose::ServiceMessages, since))
    };
    // Prefers SMS and has a phone: SMS.
    let a = base(1)
        .contact_point(email("a@example.com"))
        .contact_point(phone("+15550001"))
        .preferred_channel(Channel::Sms)
        .build()?;
    // Prefers SMS without a phone: next in order (e-mail).
    let b = base(2)
        .contact_point(email("b@example.com"))
        .preferred_channel(Channel::Sms)
        .build()?;
    // No contact points at all: a task for a person, never a silent drop.
    let c = base(3).build()?;
    // Contact points but no consent: a task for a person.
    let d = Customer::builder(CustomerId::from_u128(4), CustomerKind::Individual, since)
        .contact_point(email("d@example.com"))
        .build()?;
    let customers = [a, b, c, d];
    let rs: Vec<_> = (1..=4).map(|n| nps(100 + n, n, now, 0)).collect();
    let events: Vec<_> = rs.iter().map(Event::Response).collect();
    let plan = planner().plan(&PlanInput::new(now, &customers, &events))?;
    assert_eq!(plan.tasks.len(), 4);
    let by: BTreeMap<_, _> = plan
        .tasks
        .iter()
        .map(|t| (t.customer(), t.delivery()))
        .collect();
    let person = |ch| Delivery::Person {
        channel: ch,
        reason: PersonReason::HumanRequested,
    };
    assert_eq!(by[&CustomerId::from_u128(1)], person(Some(Channel::Sms)));
    assert_eq!(by[&CustomerId::from_u128(2)], person(Some(Channel::Email)));
    let none = Delivery::Person {
        channel: None,
        reason: PersonReason::NoConsentedChannel,
    };
    assert_eq!(by[&CustomerId::from_u128(3)], none);
    assert_eq!(by[&CustomerId::from_u128(4)], none);
    Ok(())
}

#[test]
fn complaints_reopened_and_unresolved_cases_reach_people() -> R {
    let c = customer(1, Tz::UTC);
    let t0 = t("2026-03-02T09:00:00Z"); // Monday
    let complaint = Interaction::new(
        InteractionId::from_u128(5),
        c.id(),
        Channel::Chatbot,
        Direction::Inbound,
        InteractionPurpose::Complaint,
        t0,
    );
    let agent = Actor::Agent(AgentId::from_u128(9));
    let mut reopened = Case::open(
        CaseId::from_u128(7),
        c.id(),
        "Broken",
        Priority::Normal,
        Channel::Email,
        CaseEvent::new(
            t0,
            Actor::Customer,
            CaseEventKind::Created {
                by_agent: false,
                public_message: true,
            },
        ),
    )?;
    reopened.record(CaseEvent::new(
        t0 + Duration::hours(1),
        agent,
        CaseEventKind::Solved,
    ))?;
    reopened.record(CaseEvent::new(
        t0 + Duration::hours(2),
        Actor::Customer,
        CaseEventKind::Reopened,
    ))?;
    let stale = Case::open(
        CaseId::from_u128(8),
        c.id(),
        "Waiting",
        Priority::Normal,
        Channel::Email,
        CaseEvent::new(
            t0,
            Actor::Customer,
            CaseEventKind::Created {
                by_agent: false,
                public_message: true,
            },
        ),
    )?;
    // Thursday 10:00: 3 business days + 1 hour = 25 business hours >= 24.
    let now = t("2026-03-05T10:00:00Z");
    let events = [
        Event::Interaction(&complaint),
        Event::Case(&reopened),
        Event::Case(&stale),
    ];
    let plan = planner().plan(&PlanInput::new(now, std::slice::from_ref(&c), &events))?;
    let rule = |id: &str, source: SourceRef| {
        plan.tasks
            .iter()
            .find(|t| t.rule().as_str() == id && *t.source() == source)
            .ok_or("task")
    };
    let complaint_task = rule(
        "complaint",
        SourceRef::Interaction(InteractionId::from_u128(5)),
    )?;
    assert!(complaint_task.message().requires_human);
    assert_ne!(complaint_task.delivery().channel(), Some(Channel::Chatbot));
    assert_eq!(complaint_task.due(), t0 + Duration::hours(4));
    let reopen = rule(
        "case_reopened",
        SourceRef::CaseEvent {
            case: CaseId::from_u128(7),
            index: 2,
        },
    )?;
    assert_eq!(reopen.triggered_at(), t0 + Duration::hours(2));
    let esc = rule("case_unresolved", SourceRef::Case(CaseId::from_u128(8)))?;
    assert_eq!(
        esc.delivery(),
        Delivery::Person {
            channel: None,
            reason: PersonReason::Escalation
        }
    );
    // Threshold crossed after 24 business hours:
    // Mon 9-17 (8) + Tue (8) + Wed (8) = 24 -> Wednesday 17:00.
    assert_eq!(esc.triggered_at(), t("2026-03-04T17:00:00Z"));
    // Due 2 business hours later: Thursday 11:00.
    assert_eq!(esc.due(), t("2026-03-05T11:00:00Z"));
    // The reopened case (open again, created Monday 09:00) is unresolved
    // too: complaint, reopen and two escalations.
    assert!(rule("case_unresolved", SourceRef::Case(CaseId::from_u128(7))).is_ok());
    assert_eq!(plan.tasks.len(), 4);
    Ok(())
}

#[test]
fn newsletters_go_only_to_the_opted_in_and_silence_gets_a_check_in() -> R {
    let now = t("2026-06-01T10:00:00Z");
    let mut opted = customer(1, Tz::UTC);
    opted.record_consent(consent(
        ConsentPurpose::Newsletter,
        t("2026-01-01T00:00:00Z"),
    ))?;
    let not_opted = customer(2, Tz::UTC);
    let issue = Segment::new("june")?;
    let recent = Interaction::new(
        InteractionId::from_u128(3),
        CustomerId::from_u128(1),
        Channel::Email,
        Direction::Inbound,
        InteractionPurpose::Support,
        now - Duration::days(10),
    );
    let events = [
        Event::Newsletter {
            issue: &issue,
            at: now,
        },
        Event::Interaction(&recent),
    ];
    let customers = [opted, not_opted];
    let plan = planner().plan(&PlanInput::new(now, &customers, &events))?;
    let news: Vec<_> = plan
        .tasks
        .iter()
        .filter(|t| t.rule().as_str() == "newsletter")
        .collect();
    assert_eq!(news.len(), 1);
    assert_eq!(news[0].customer(), CustomerId::from_u128(1));
    assert!(
        plan.not_planned
            .iter()
            .any(|n| n.customer == CustomerId::from_u128(2)
                && n.rule.as_str() == "newsletter"
                && n.reason == NotPlannedReason::NoConsent)
    );
    // Customer 2 has had no interaction since creation (2026-01-01), more
    // than 90 days: a check-in; customer 1 spoke to us 10 days ago: none.
    let checks: Vec<_> = plan
        .tasks
        .iter()
        .filter(|t| t.rule().as_str() == "check_in")
        .collect();
    assert_eq!(checks.len(), 1);
    assert_eq!(checks[0].customer(), CustomerId::from_u128(2));
    // 2026-01-01 + 90 days = 2026-04-01.
    assert_eq!(checks[0].triggered_at(), t("2026-04-01T00:00:00Z"));
    Ok(())
}

#[test]
fn unknown_and_erased_customers_are_reported_not_dropped() -> R {
    let now = t("2026-03-04T10:00:00Z");
    let mut erased = customer(1, Tz::UTC);
    erased.erase(now - Duration::days(1));
    let r1 = nps(1, 1, now, 0);
    let r2 = nps(2, 99, now, 0);
    let events = [Event::Response(&r1), Event::Response(&r2)];
    let plan = planner().plan(&PlanInput::new(now, std::slice::from_ref(&erased), &events))?;
    assert!(
        plan.tasks
            .iter()
            .all(|t| t.rule().as_str() != "nps_detractor")
    );
    let reasons: BTreeSet<_> = plan
        .not_planned
        .iter()
        .filter(|n| n.rule.as_str() == "nps_detractor")
        .map(|n| format!("{:?}", n.reason))
        .collect();
    assert!(
        reasons.contains("CustomerErased") && reasons.contains("UnknownCustomer"),
        "{reasons:?}"
    );
    Ok(())
}

#[test]
fn quiet_hours_hold_in_the_customers_zone() -> R {
    // 23:30 in Sydney (AEDT, UTC+11) on 2026-03-02 is 12:30 UTC.
    let c = customer(1, "Australia/Sydney".parse()?);
    let at = t("2026-03-02T12:30:00Z");
    let r = nps(1, 1, at, 2);
    let events = [Event::Response(&r)];
    let plan = planner().plan(&PlanInput::new(at, std::slice::from_ref(&c), &events))?;
    // Quiet until 08:00 Sydney on 2026-03-03 = 21:00 UTC on 2026-03-02.
    assert_eq!(plan.tasks[0].send_after(), t("2026-03-02T21:00:00Z"));
    Ok(())
}

#[test]
fn quiet_hours_end_inside_a_spring_forward_gap() -> R {
    // Berlin springs forward on 2026-03-29 at 02:00 -> 03:00. Quiet hours
    // ending at 02:30 end at the first instant after the gap: 03:00 CEST
    // = 01:00 UTC.
    let tz: Tz = "Europe/Berlin".parse()?;
    let q = QuietHours::new("22:00".parse()?, "02:30".parse()?)?;
    let late = tz
        .with_ymd_and_hms(2026, 3, 28, 23, 0, 0)
        .single()
        .ok_or("t")?
        .to_utc();
    assert_eq!(q.next_allowed(late, tz), t("2026-03-29T01:00:00Z"));
    // Falling back on 2026-10-25 (03:00 -> 02:00): quiet hours ending at
    // 02:30 end at its first occurrence, 02:30 CEST = 00:30 UTC.
    let late = tz
        .with_ymd_and_hms(2026, 10, 24, 23, 0, 0)
        .single()
        .ok_or("t")?
        .to_utc();
    assert_eq!(q.next_allowed(late, tz), t("2026-10-25T00:30:00Z"));
    // From inside the repeated hour after 02:30 CEST has passed (02:10 CET
    // = 01:10 UTC), 02:30 CET = 01:30 UTC.
    assert_eq!(
        q.next_allowed(t("2026-10-25T01:10:00Z"), tz),
        t("2026-10-25T01:30:00Z")
    );
    Ok(())
}

// ---------------------------------------------------------------- outbox and faults

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Behaviour {
    Accept,
    Retryable,
    Timeout,
    Permanent,
    DeliverThenFail,
    DeliverThenCrash,
}

/// A transport that follows a script and checks that one key is always one
/// message.
#[derive(Default)]
struct FakeTransport {
    script: Mutex<VecDeque<Behaviour>>,
    seen: Mutex<BTreeMap<IdempotencyKey, OutboundMessage>>,
    calls: Mutex<Vec<(IdempotencyKey, DateTime<Utc>)>>,
    delivered: Mutex<BTreeSet<IdempotencyKey>>,
    key_reused: AtomicBool,
    crash_next_record: Arc<AtomicBool>,
    now: Mutex<DateTime<Utc>>,
}

impl Transport for FakeTransport {
    fn send(
        &self,
        message: &OutboundMessage,
        key: IdempotencyKey,
    ) -> impl Future<Output = Result<Receipt, TransportError>> + Send {
        let now = *self.now.lock().expect("lock");
        {
            let mut seen = self.seen.lock().expect("lock");
            if let Some(old) = seen.get(&key) {
                if old != message {
                    self.key_reused.store(true, Ordering::SeqCst);
                }
            } else {
                let _ = seen.insert(key, message.clone());
            }
        }
        self.calls.lock().expect("lock").push((key, now));
        let b = self
            .script
            .lock()
            .expect("lock")
            .pop_front()
            .unwrap_or(Behaviour::Accept);
        let mut delivered = self.delivered.lock().expect("lock");
        let receipt = Receipt {
            reference: format!("r-{key}"),
            accepted_at: now,
        };
        let r = match b {
            Behaviour::Accept => {
                let _ = delivered.insert(key);
                Ok(receipt)
            }
            Behaviour::Retryable => Err(TransportError::Retryable {
                reason: "503".into(),
            }),
            Behaviour::Timeout => {
                let _ = delivered.insert(key);
                Err(TransportError::Timeout)
            }
            Behaviour::Permanent => Err(TransportError::Permanent {
                reason: "bounced".into(),
            }),
            Behaviour::DeliverThenFail => {
                let _ = delivered.insert(key);
                Err(TransportError::Retryable {
                    reason: "lost ack".into(),
                })
            }
            Behaviour::DeliverThenCrash => {
                let _ = delivered.insert(key);
                self.crash_next_record.store(true, Ordering::SeqCst);
                Ok(receipt)
            }
        };
        async move { r }
    }
}

/// An outbox whose process "stops" between sending and recording: the
/// receipt is never written when the crash flag is set.
struct CrashingOutbox {
    inner: MemoryOutbox,
    crash: Arc<AtomicBool>,
}

impl OutboxStore for CrashingOutbox {
    fn insert(
        &self,
        tasks: Vec<FollowUpTask>,
    ) -> impl Future<Output = Result<InsertReport, OutreachError>> + Send {
        self.inner.insert(tasks)
    }
    fn get(
        &self,
        key: IdempotencyKey,
    ) -> impl Future<Output = Result<Versioned<OutboxEntry>, OutreachError>> + Send {
        self.inner.get(key)
    }
    fn due(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<Versioned<OutboxEntry>>, OutreachError>> + Send {
        self.inner.due(now, limit)
    }
    fn for_customer(
        &self,
        c: CustomerId,
    ) -> impl Future<Output = Result<Vec<Versioned<OutboxEntry>>, OutreachError>> + Send {
        self.inner.for_customer(c)
    }
    fn update(
        &self,
        e: OutboxEntry,
        v: Version,
    ) -> impl Future<Output = Result<Versioned<OutboxEntry>, OutreachError>> + Send {
        self.inner.update(e, v)
    }
    fn record_sent(
        &self,
        key: IdempotencyKey,
        expected: Version,
        receipt: Receipt,
        at: DateTime<Utc>,
        interaction: Option<Interaction>,
    ) -> impl Future<Output = Result<Versioned<OutboxEntry>, OutreachError>> + Send {
        let crashed = self.crash.swap(false, Ordering::SeqCst);
        let inner = (!crashed).then(|| {
            self.inner
                .record_sent(key, expected, receipt, at, interaction)
        });
        async move {
            match inner {
                Some(f) => f.await,
                None => Err(OutreachError::backend("process stopped before recording")),
            }
        }
    }
}

#[cfg(feature = "testkit")]
#[test]
fn memory_outbox_conforms() -> R {
    block_on(crmkit::outreach::testkit::outbox_store(&MemoryOutbox::new()))?;
    Ok(())
}

fn behaviour() -> impl Strategy<Value = Behaviour> {
    prop_oneof![
        3 => Just(Behaviour::Accept),
        2 => Just(Behaviour::Retryable),
        1 => Just(Behaviour::Timeout),
        1 => Just(Behaviour::Permanent),
        1 => Just(Behaviour::DeliverThenFail),
        1 => Just(Behaviour::DeliverThenCrash),
    ]
}

/// Plans `n` detractor follow-ups and runs the dispatcher hourly under a
/// transport script; returns the outbox, the transport and the tasks.
fn run_faulty(
    n: u128,
    script: Vec<Behaviour>,
) -> (CrashingOutbox, FakeTransport, Vec<FollowUpTask>) {
    let now = t("2026-03-04T10:00:00Z");
    let customers: Vec<_> = (1..=n).map(|i| customer(i, Tz::UTC)).collect();
    let rs: Vec<_> = (1..=n).map(|i| nps(i, i, now, 1)).collect();
    let events: Vec<_> = rs.iter().map(Event::Response).collect();
    let plan = planner()
        .plan(&PlanInput::new(now, &customers, &events))
        .expect("plan");
    let transport = FakeTransport::default();
    let outbox = CrashingOutbox {
        inner: MemoryOutbox::new(),
        crash: transport.crash_next_record.clone(),
    };
    *transport.script.lock().expect("lock") = script.into();
    let _ = block_on(outbox.insert(plan.tasks.clone())).expect("insert");
    // Inserting again (a second planning run) changes nothing.
    let again = block_on(outbox.insert(plan.tasks.clone())).expect("insert");
    assert_eq!(again.inserted, 0);
    let directory: BTreeMap<_, _> = customers.into_iter().map(|c| (c.id(), c)).collect();
    let config = DispatcherConfig {
        quiet_hours: None,
        ..DispatcherConfig::default()
    };
    let dispatcher = Dispatcher::new(&outbox, &transport, &directory, config);
    for hour in 0..48 {
        let at = now + Duration::hours(hour);
        *transport.now.lock().expect("lock") = at;
        // A crash ends the run; the next run starts after the lease.
        let _ = block_on(dispatcher.run_once(at));
    }
    (outbox, transport, plan.tasks)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn faults_lose_nothing_and_never_resend_confirmed(
        n in 1u128..6,
        script in prop::collection::vec(behaviour(), 0..40),
    ) {
        let (outbox, transport, tasks) = run_faulty(n, script);
        // The transport never saw one key with two messages.
        prop_assert!(!transport.key_reused.load(Ordering::SeqCst));
        let entries: BTreeMap<_, _> = outbox
            .inner
            .entries()
            .expect("entries")
            .into_iter()
            .map(|e| (e.value().key(), e.into_inner()))
            .collect();
        let interactions = outbox.inner.recorded_interactions().expect("interactions");
        let calls = transport.calls.lock().expect("lock").clone();
        for task in &tasks {
            // No task lost: every one is stored and reached a final state.
            let e = entries.get(&task.key());
            prop_assert!(e.is_some(), "task {} lost", task.key());
            let e = e.expect("checked");
            prop_assert!(e.state.is_terminal(), "task {} still {:?}", task.key(), e.state);
            prop_assert_eq!(&e.task, task);
            match &e.state {
                TaskState::Sent { recorded_at, .. } => {
                    // Handed over at least once, never after its receipt.
                    let mine: Vec<_> = calls.iter().filter(|(k, _)| *k == task.key()).collect();
                    prop_assert!(!mine.is_empty());
                    prop_assert!(mine.iter().all(|(_, at)| at <= recorded_at));
                    // Exactly one outbound follow-up recorded for it.
                    let recorded: Vec<_> = interactions
                        .iter()
                        .filter(|i| i.id() == InteractionId::from_uuid(task.key().as_uuid()))
                        .collect();
                    prop_assert_eq!(recorded.len(), 1);
                    prop_assert_eq!(recorded[0].purpose(), InteractionPurpose::FollowUp);
                    prop_assert_eq!(recorded[0].direction(), Direction::Outbound);
                }
                TaskState::Failed { retryable: false, .. } => {
                    prop_assert!(e.attempts >= 1);
                }
                other => prop_assert!(false, "unexpected final state {:?}", other),
            }
        }
        prop_assert_eq!(interactions.len(), entries.values().filter(|e| matches!(e.state, TaskState::Sent { .. })).count());
    }
}

#[test]
fn retries_back_off_exponentially_and_become_permanent() -> R {
    let (outbox, transport, tasks) = run_faulty(1, vec![Behaviour::Retryable; 20]);
    let e = block_on(outbox.get(tasks[0].key()))?.into_inner();
    // 8 attempts (the default), then permanent.
    assert_eq!(e.attempts, 8);
    assert!(matches!(
        e.state,
        TaskState::Failed {
            retryable: false,
            ..
        }
    ));
    let calls = transport.calls.lock().expect("lock").clone();
    assert_eq!(calls.len(), 8);
    // Waits of 1, 2, 4, 8, 16, 32, 64 minutes, each rounded up to the next
    // hourly run: attempts at hours 0, 1, 2, 3, 4, 5, 6, 8 (64 minutes
    // after hour 6 is 07:04, so hour 8).
    let hours: Vec<i64> = calls
        .iter()
        .map(|(_, at)| (*at - t("2026-03-04T10:00:00Z")).num_hours())
        .collect();
    assert_eq!(hours, vec![0, 1, 2, 3, 4, 5, 6, 8]);
    Ok(())
}

#[test]
fn a_crash_after_sending_hands_the_same_message_over_again() -> R {
    let (outbox, transport, tasks) = run_faulty(1, vec![Behaviour::DeliverThenCrash]);
    let calls = transport.calls.lock().expect("lock").clone();
    // Sent at hour 0, not recorded; handed over again at hour 1 (lease 5
    // minutes) under the same key and recorded then.
    assert_eq!(calls.len(), 2);
    assert!(calls.iter().all(|(k, _)| *k == tasks[0].key()));
    assert!(!transport.key_reused.load(Ordering::SeqCst));
    let e = block_on(outbox.get(tasks[0].key()))?.into_inner();
    assert!(matches!(e.state, TaskState::Sent { .. }));
    assert_eq!(transport.delivered.lock().expect("lock").len(), 1);
    Ok(())
}

#[test]
fn consent_withdrawn_after_planning_skips_and_erasure_skips() -> R {
    let now = t("2026-03-04T10:00:00Z");
    let mut a = customer(1, Tz::UTC);
    let b = customer(2, Tz::UTC);
    let rs = [nps(1, 1, now, 0), nps(2, 2, now, 0)];
    let events: Vec<_> = rs.iter().map(Event::Response).collect();
    let plan = planner().plan(&PlanInput::new(now, &[a.clone(), b.clone()], &events))?;
    let outbox = MemoryOutbox::new();
    let _ = block_on(outbox.insert(plan.tasks.clone()))?;
    a.record_consent(withdraw(
        ConsentPurpose::ServiceMessages,
        now + Duration::minutes(1),
    ))?;
    let mut b2 = b.clone();
    b2.erase(now + Duration::minutes(1));
    let directory = RwLock::new(BTreeMap::from([(a.id(), a), (b2.id(), b2)]));
    let transport = FakeTransport::default();
    *transport.now.lock().expect("lock") = now + Duration::hours(1);
    let report = block_on(
        Dispatcher::new(&outbox, &transport, &directory, DispatcherConfig::default())
            .run_once(now + Duration::hours(1)),
    )?;
    assert_eq!(report.skipped, 2);
    assert!(transport.calls.lock().expect("lock").is_empty());
    let reasons: BTreeSet<_> = outbox
        .entries()?
        .into_iter()
        .filter_map(|e| match e.into_inner().state {
            TaskState::Skipped { reason, .. } => Some(format!("{reason:?}")),
            _ => None,
        })
        .collect();
    assert_eq!(
        reasons,
        BTreeSet::from(["ConsentWithdrawn".to_owned(), "CustomerErased".to_owned()])
    );
    Ok(())
}

#[test]
fn a_newer_detractor_response_supersedes_an_unsent_follow_up() -> R {
    let now = t("2026-03-04T10:00:00Z");
    let c = customer(1, Tz::UTC);
    let rs = [nps(1, 1, now, 0), nps(2, 1, now + Duration::minutes(30), 3)];
    let events: Vec<_> = rs.iter().map(Event::Response).collect();
    let plan = planner().plan(&PlanInput::new(
        now + Duration::hours(1),
        std::slice::from_ref(&c),
        &events,
    ))?;
    assert_eq!(plan.tasks.len(), 2);
    let outbox = MemoryOutbox::new();
    let _ = block_on(outbox.insert(plan.tasks.clone()))?;
    let directory = BTreeMap::from([(c.id(), c)]);
    let transport = FakeTransport::default();
    let at = now + Duration::hours(2);
    *transport.now.lock().expect("lock") = at;
    let report = block_on(
        Dispatcher::new(&outbox, &transport, &directory, DispatcherConfig::default()).run_once(at),
    )?;
    assert_eq!((report.sent, report.skipped), (1, 1));
    let newer = plan
        .tasks
        .iter()
        .find(|t| t.source() == &SourceRef::Response(ResponseId::from_u128(2)))
        .ok_or("newer")?;
    assert_eq!(transport.calls.lock().expect("lock")[0].0, newer.key());
    Ok(())
}

#[test]
fn the_dispatcher_defers_in_quiet_hours() -> R {
    let c = customer(1, "America/New_York".parse()?);
    let at = t("2026-03-04T15:00:00Z"); // 10:00 in New York
    let r = nps(1, 1, at, 0);
    let events = [Event::Response(&r)];
    let plan = planner().plan(&PlanInput::new(at, std::slice::from_ref(&c), &events))?;
    let outbox = MemoryOutbox::new();
    let _ = block_on(outbox.insert(plan.tasks.clone()))?;
    let directory = BTreeMap::from([(c.id(), c)]);
    let transport = FakeTransport::default();
    // The dispatcher only runs at 03:00 UTC = 22:00 in New York (EST).
    let late = t("2026-03-05T03:00:00Z");
    *transport.now.lock().expect("lock") = late;
    let d = Dispatcher::new(&outbox, &transport, &directory, DispatcherConfig::default());
    let report = block_on(d.run_once(late))?;
    assert_eq!(report.deferred, 1);
    assert!(transport.calls.lock().expect("lock").is_empty());
    let e = block_on(outbox.get(plan.tasks[0].key()))?.into_inner();
    // Deferred to 08:00 New York = 13:00 UTC.
    assert_eq!(e.not_before, t("2026-03-05T13:00:00Z"));
    Ok(())
}

// ---------------------------------------------------------------- properties

const ZONES: [&str; 9] = [
    "UTC",
    "Europe/Berlin",
    "Europe/London",
    "America/New_York",
    "America/St_Johns",
    "Australia/Sydney",
    "Australia/Lord_Howe",
    "Asia/Kolkata",
    "Pacific/Chatham",
];

fn zone() -> impl Strategy<Value = Tz> {
    prop::sample::select(ZONES.to_vec()).prop_map(|z| z.parse().expect("zone"))
}

/// Instants through 2026, so every zone's clock changes are crossed.
fn instant() -> impl Strategy<Value = DateTime<Utc>> {
    (0i64..365 * 24 * 60).prop_map(|m| t("2026-01-01T00:00:00Z") + Duration::minutes(m))
}

fn time_of_day() -> impl Strategy<Value = TimeOfDay> {
    (0u32..24, prop::sample::select(vec![0u32, 15, 30, 45]))
        .prop_map(|(h, m)| TimeOfDay::new(h, m, 0).expect("t"))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn next_allowed_is_the_first_instant_outside_quiet_hours(
        tz in zone(), at in instant(), start in time_of_day(), end in time_of_day(),
    ) {
        prop_assume!(start != end);
        let q = QuietHours::new(start, end).expect("quiet");
        let next = q.next_allowed(at, tz);
        prop_assert!(next >= at);
        prop_assert!(!q.is_quiet(next, tz));
        if next > at {
            // Minimal: the second before is still quiet.
            prop_assert!(q.is_quiet(next - Duration::seconds(1), tz));
        }
    }

    #[test]
    fn planning_is_deterministic_idempotent_and_keeps_quiet_hours_and_the_cap(
        zones in prop::collection::vec(zone(), 1..4),
        events in prop::collection::vec((0usize..4, instant(), 0i32..=10), 0..16),
        newsletter in prop::option::of(instant()),
        split in 0usize..16,
    ) {
        let customers: Vec<_> = zones.iter().enumerate().map(|(i, z)| {
            let mut c = customer(i as u128 + 1, *z);
            if i % 2 == 0 {
                c.record_consent(consent(ConsentPurpose::Newsletter, t("2025-06-01T00:00:00Z"))).expect("consent");
            }
            c
        }).collect();
        let rs: Vec<_> = events.iter().enumerate().map(|(i, (c, at, s))| {
            nps(i as u128 + 1, (*c % customers.len()) as u128 + 1, *at, *s)
        }).collect();
        let issue = Segment::new("issue").expect("segment");
        let mut evs: Vec<Event<'_>> = rs.iter().map(Event::Response).collect();
        if let Some(at) = newsletter {
            evs.push(Event::Newsletter { issue: &issue, at });
        }
        let now = t("2027-01-01T00:00:00Z");
        let p = planner();
        let plan = p.plan(&PlanInput::new(now, &customers, &evs)).expect("plan");
        // Deterministic, whatever the order of the events.
        let mut reversed = evs.clone();
        reversed.reverse();
        let again = p.plan(&PlanInput::new(now, &customers, &reversed)).expect("plan");
        prop_assert_eq!(&plan, &again);
        // Idempotent: with its own tasks as existing, nothing new.
        let rerun = p.plan(&PlanInput::new(now, &customers, &evs).with_existing(&plan.tasks)).expect("plan");
        prop_assert!(rerun.tasks.is_empty());
        let keys: BTreeSet<_> = plan.tasks.iter().map(FollowUpTask::key).collect();
        prop_assert_eq!(rerun.already_planned.iter().copied().collect::<BTreeSet<_>>(), keys.clone());
        prop_assert_eq!(keys.len(), plan.tasks.len());
        // Planning in two batches keeps the cap too.
        let cut = split.min(evs.len());
        let first = p.plan(&PlanInput::new(now, &customers, &evs[..cut])).expect("plan");
        let second = p.plan(&PlanInput::new(now, &customers, &evs[cut..]).with_existing(&first.tasks)).expect("plan");
        let rules = RuleSet::default();
        let q = rules.quiet_hours().expect("default quiet hours");
        let cap = rules.frequency_cap().expect("default cap");
        for tasks in [plan.tasks.clone(), [first.tasks.clone(), second.tasks.clone()].concat()] {
            for c in &customers {
                let mut times: Vec<_> = tasks.iter()
                    .filter(|t| t.customer() == c.id() && t.contacts_customer())
                    .map(FollowUpTask::send_after)
                    .collect();
                times.sort();
                for &s in &times {
                    // Never in the customer's quiet hours.
                    prop_assert!(!q.is_quiet(s, c.time_zone()), "{} quiet in {}", s, c.time_zone());
                    // The cap holds in every window starting at a message.
                    let n = times.iter().filter(|&&x| x >= s && x < s + cap.window()).count();
                    prop_assert!(n <= cap.max_messages as usize, "{} messages from {}", n, s);
                }
            }
        }
        for task in &plan.tasks {
            prop_assert!(task.send_after() >= task.triggered_at());
            // Newsletters only to the opted-in.
            if task.rule().as_str() == "newsletter" {
                let c = customers.iter().find(|c| c.id() == task.customer()).expect("customer");
                prop_assert!(c.has_consent(&ConsentPurpose::Newsletter, now));
            }
        }
    }

    #[test]
    fn no_message_without_consent_at_send_time(
        withdraw_at in prop::collection::vec(prop::option::of(0i64..72), 1..6),
        runs in prop::collection::vec(0i64..72, 1..8),
    ) {
        let now = t("2026-03-04T10:00:00Z");
        let customers: Vec<_> = (1..=withdraw_at.len() as u128).map(|i| customer(i, Tz::UTC)).collect();
        let rs: Vec<_> = (1..=withdraw_at.len() as u128).map(|i| nps(i, i, now, 0)).collect();
        let events: Vec<_> = rs.iter().map(Event::Response).collect();
        let plan = planner().plan(&PlanInput::new(now, &customers, &events)).expect("plan");
        let outbox = MemoryOutbox::new();
        let _ = block_on(outbox.insert(plan.tasks.clone())).expect("insert");
        // Consent withdrawn at some hour after planning (recorded ahead, in
        // force from then on).
        let directory: BTreeMap<_, _> = customers.iter().zip(&withdraw_at).map(|(c, w)| {
            let mut c = c.clone();
            if let Some(h) = w {
                c.record_consent(withdraw(ConsentPurpose::ServiceMessages, now + Duration::hours(*h))).expect("consent");
            }
            (c.id(), c)
        }).collect();
        let transport = FakeTransport::default();
        let config = DispatcherConfig { quiet_hours: None, ..DispatcherConfig::default() };
        let d = Dispatcher::new(&outbox, &transport, &directory, config);
        let mut runs = runs;
        runs.sort();
        for h in runs {
            let at = now + Duration::hours(h);
            *transport.now.lock().expect("lock") = at;
            let _ = block_on(d.run_once(at)).expect("run");
        }
        let messages = transport.seen.lock().expect("lock").clone();
        for (key, at) in transport.calls.lock().expect("lock").iter() {
            let m = &messages[key];
            let c = &directory[&m.customer];
            let ch = m.channel.expect("a message with a channel");
            prop_assert!(may_send(c, &m.purpose, ch, *at), "sent at {} without consent", at);
        }
    }
}

// ---------------------------------------------------------------- metrics

#[test]
fn closed_loop_metrics_from_hand_computed_cases() -> R {
    let t0 = t("2026-03-02T10:00:00Z"); // Monday
    let customers: Vec<_> = (1..=3).map(|i| customer(i, Tz::UTC)).collect();
    let first = [nps(1, 1, t0, 2), nps(2, 2, t0, 5), nps(3, 3, t0, 6)];
    let events: Vec<_> = first.iter().map(Event::Response).collect();
    let plan = planner().plan(&PlanInput::new(t0, &customers, &events))?;
    // Due 8 business hours later: Monday 10:00 + 7 h (to 17:00) + 1 h
    // Tuesday = Tuesday 10:00.
    assert!(
        plan.tasks
            .iter()
            .all(|task| task.due() == t("2026-03-03T10:00:00Z"))
    );
    let sent = |task: &FollowUpTask, at: DateTime<Utc>| OutboxEntry {
        task: task.clone(),
        state: TaskState::Sent {
            receipt: Receipt {
                reference: "r".into(),
                accepted_at: at,
            },
            recorded_at: at,
        },
        attempts: 1,
        not_before: at,
    };
    let find = |n: u128| {
        plan.tasks
            .iter()
            .find(|t| {
                t.customer() == CustomerId::from_u128(n) && t.rule().as_str() == "nps_detractor"
            })
            .ok_or("task")
    };
    let entries = vec![
        sent(find(1)?, t0 + Duration::hours(2)),  // within target
        sent(find(2)?, t0 + Duration::hours(30)), // late (Tuesday 16:00)
        OutboxEntry::planned(find(3)?.clone()),   // not contacted
    ];
    let later = t0 + Duration::days(30);
    let responses = [
        first.to_vec(),
        vec![
            nps(11, 1, later, 9),
            nps(12, 1, later + Duration::days(1), 0),
            nps(13, 2, later, 4),
            nps(14, 3, later, 6),
        ],
    ]
    .concat();
    let r = ClosedLoopReport::compute(&entries, &responses);
    assert_eq!(
        (r.detractor_tasks, r.contacted, r.contacted_within_target),
        (3, 2, 1)
    );
    // 100 x 1 / 3 = 33.333... -> 33.33
    assert_eq!(
        r.share_within_target,
        Some(rust_decimal::Decimal::new(3333, 2))
    );
    let times = r.time_to_follow_up.ok_or("times")?;
    // 2 h and 30 h: mean = median = 16 h, max 30 h.
    assert_eq!(
        (times.count, times.mean, times.median, times.max),
        (
            2,
            Duration::hours(16),
            Duration::hours(16),
            Duration::hours(30)
        )
    );
    // Contacted: customer 1 went 2 -> 9 (+7, no longer a detractor; the
    // later 0 is not the *next* score), customer 2 went 5 -> 4 (-1).
    // Mean change (7 - 1) / 2 = 3.
    let c = r.recovery_contacted;
    assert_eq!(
        (
            c.detractors,
            c.with_next_score,
            c.improved,
            c.worse,
            c.no_longer_detractor
        ),
        (2, 2, 1, 1, 1)
    );
    assert_eq!(c.mean_change, Some(rust_decimal::Decimal::new(300, 2)));
    // Not contacted: customer 3 stayed at 6.
    let n = r.recovery_not_contacted;
    assert_eq!(
        (n.detractors, n.unchanged, n.no_longer_detractor),
        (1, 1, 0)
    );
    assert_eq!(n.mean_change, Some(rust_decimal::Decimal::ZERO));
    Ok(())
}

#[test]
fn the_dispatcher_reads_consent_from_a_customer_store() -> R {
    use crmkit::store::CustomerStore;
    use crmkit::store::memory::MemoryStore;
    let now = t("2026-03-04T10:00:00Z");
    let store = MemoryStore::new();
    let stored = block_on(store.create_customer(customer(1, Tz::UTC)))?;
    let r = nps(1, 1, now, 0);
    let events = [Event::Response(&r)];
    let plan = planner().plan(&PlanInput::new(
        now,
        std::slice::from_ref(stored.value()),
        &events,
    ))?;
    let outbox = MemoryOutbox::new();
    let _ = block_on(outbox.insert(plan.tasks.clone()))?;
    // Consent withdrawn in the store after planning.
    let (mut current, version) = stored.into_parts();
    current.record_consent(withdraw(
        ConsentPurpose::ServiceMessages,
        now + Duration::minutes(1),
    ))?;
    let _ = block_on(store.update_customer(current, version))?;
    let transport = FakeTransport::default();
    let directory = StoreDirectory(&store);
    let d = Dispatcher::new(&outbox, &transport, &directory, DispatcherConfig::default());
    let report = block_on(d.run_once(now + Duration::hours(1)))?;
    assert_eq!(report.skipped, 1);
    assert!(transport.calls.lock().expect("lock").is_empty());
    Ok(())
}
