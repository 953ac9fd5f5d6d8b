//! The planner: from new events and the customers to follow-up tasks.
//!
//! Planning is a pure function of its input ([`PlanInput`]: the time of
//! planning, the customers, the events and the tasks already planned), so
//! the same input always gives the same [`Plan`], whatever the order of the
//! events, and a task already in the outbox is never planned twice.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::policy::{
    FrequencyCap, QuietHours, Rule, RuleAction, RuleId, RuleSet, Trigger, may_send,
};
use super::transport::OutboundMessage;
use super::{IdempotencyKey, OutreachError};
use crate::domain::{
    BusinessCalendar, Case, CaseEventKind, CaseId, CaseStatus, Channel, Customer, CustomerId,
    Direction, Interaction, InteractionId, InteractionPurpose, Priority, ResponseId, Scale,
    Segment, SurveyResponse,
};

/// Something that happened and may need a follow-up.
#[derive(Debug, Clone, Copy)]
pub enum Event<'a> {
    /// A survey response (NPS detractors, low CSAT).
    Response(&'a SurveyResponse),
    /// An interaction (complaints; also the latest contact for check-ins).
    Interaction(&'a Interaction),
    /// A case (reopened, unresolved).
    Case(&'a Case),
    /// A newsletter issue, sent at `at` to every opted-in customer.
    Newsletter {
        /// The issue's label.
        issue: &'a Segment,
        /// When it goes out.
        at: DateTime<Utc>,
    },
}

/// The event a task follows up: part of its idempotency key.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceRef {
    /// A survey response.
    Response(ResponseId),
    /// An interaction.
    Interaction(InteractionId),
    /// One event of a case, by its position in the case's history.
    CaseEvent {
        /// The case.
        case: CaseId,
        /// The event's index (0 is `Created`).
        index: u32,
    },
    /// A case as a whole (unresolved past its threshold).
    Case(CaseId),
    /// A customer who was never contacted (check-in since creation).
    Customer(CustomerId),
    /// A newsletter issue for one customer.
    Newsletter {
        /// The issue.
        issue: Segment,
        /// The recipient.
        customer: CustomerId,
    },
}

impl fmt::Display for SourceRef {
    /// Stable text used in idempotency keys; never change it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Response(id) => write!(f, "response:{id}"),
            Self::Interaction(id) => write!(f, "interaction:{id}"),
            Self::CaseEvent { case, index } => write!(f, "case:{case}:event:{index}"),
            Self::Case(id) => write!(f, "case:{id}"),
            Self::Customer(id) => write!(f, "customer:{id}"),
            Self::Newsletter { issue, customer } => {
                write!(f, "newsletter:{customer}:{}", issue.as_str())
            }
        }
    }
}

/// Why a task goes to a person rather than out as a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PersonReason {
    /// The rule asks for a human (complaints, reopened cases, detractors).
    HumanRequested,
    /// No channel with consent and a contact point: a person decides.
    NoConsentedChannel,
    /// An internal escalation; the customer is not contacted.
    Escalation,
}

/// How a task reaches the customer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Delivery {
    /// A message on a consented channel.
    Message {
        /// The channel.
        channel: Channel,
    },
    /// A task for a person.
    Person {
        /// The consented channel the person uses, if any.
        channel: Option<Channel>,
        /// Why a person handles it.
        reason: PersonReason,
    },
}

impl Delivery {
    /// The channel on which the customer is contacted, if any.
    pub const fn channel(&self) -> Option<Channel> {
        match self {
            Self::Message { channel } => Some(*channel),
            Self::Person { channel, .. } => *channel,
        }
    }
}

/// One planned follow-up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FollowUpTask {
    key: IdempotencyKey,
    rule: RuleId,
    trigger: Trigger,
    triggered_at: DateTime<Utc>,
    send_after: DateTime<Utc>,
    delivery: Delivery,
    message: OutboundMessage,
}

impl FollowUpTask {
    /// The idempotency key (rule and source event).
    pub const fn key(&self) -> IdempotencyKey {
        self.key
    }
    /// The rule that planned it.
    pub const fn rule(&self) -> &RuleId {
        &self.rule
    }
    /// The rule's trigger (the reason).
    pub const fn trigger(&self) -> &Trigger {
        &self.trigger
    }
    /// The customer.
    pub const fn customer(&self) -> CustomerId {
        self.message.customer
    }
    /// Re-points the task from `from` to `to` (a merge of the two
    /// customers); whether it was `from`'s. Key, source and delivery stay:
    /// the merged customer holds `from`'s contact points and consents.
    pub(crate) fn reassign(&mut self, from: CustomerId, to: CustomerId) -> bool {
        if self.message.customer == from {
            self.message.customer = to;
            true
        } else {
            false
        }
    }
    /// The event it follows up.
    pub const fn source(&self) -> &SourceRef {
        &self.message.source
    }
    /// When the triggering event happened (or the threshold was crossed).
    pub const fn triggered_at(&self) -> DateTime<Utc> {
        self.triggered_at
    }
    /// The earliest send time: outside quiet hours, within the frequency cap.
    pub const fn send_after(&self) -> DateTime<Utc> {
        self.send_after
    }
    /// When it is due (the rule's target time after the trigger).
    pub const fn due(&self) -> DateTime<Utc> {
        self.message.due
    }
    /// How it reaches the customer.
    pub const fn delivery(&self) -> Delivery {
        self.delivery
    }
    /// The priority.
    pub const fn priority(&self) -> Priority {
        self.message.priority
    }
    /// The message handed to the transport.
    pub const fn message(&self) -> &OutboundMessage {
        &self.message
    }
    /// Whether it contacts the customer (and so counts for quiet hours and
    /// the frequency cap).
    pub const fn contacts_customer(&self) -> bool {
        self.delivery.channel().is_some()
    }
}

/// Why an event fired a rule but no task was planned. Nothing is dropped
/// silently: every such case is reported here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotPlannedReason {
    /// The event names a customer missing from the input.
    UnknownCustomer,
    /// The customer's personal data was erased.
    CustomerErased,
    /// A purpose that needs an opt-in (newsletter, marketing) without one.
    NoConsent,
    /// The frequency cap left no slot within the search bound.
    FrequencyCapExhausted,
}

/// A rule that fired without a task, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotPlanned {
    /// The rule.
    pub rule: RuleId,
    /// The customer.
    pub customer: CustomerId,
    /// The event.
    pub source: SourceRef,
    /// Why.
    pub reason: NotPlannedReason,
}

/// The planner's output.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    /// New tasks, ordered by send time then key.
    pub tasks: Vec<FollowUpTask>,
    /// Keys that fired again but are already among the existing tasks.
    pub already_planned: Vec<IdempotencyKey>,
    /// Rules that fired without a task.
    pub not_planned: Vec<NotPlanned>,
}

/// What the planner looks at.
#[derive(Debug, Clone, Copy)]
pub struct PlanInput<'a> {
    /// The time of planning: consent is judged and unresolved cases and
    /// silent customers are measured at this instant.
    pub now: DateTime<Utc>,
    /// The customers the events are about (and the newsletter audience).
    pub customers: &'a [Customer],
    /// The new events. For check-ins, include each customer's latest
    /// interaction; a customer without one counts from their creation.
    pub events: &'a [Event<'a>],
    /// Tasks already planned (from the outbox): never planned again, and
    /// counted for the frequency cap.
    pub existing: &'a [FollowUpTask],
}

impl<'a> PlanInput<'a> {
    /// Input without existing tasks.
    pub const fn new(
        now: DateTime<Utc>,
        customers: &'a [Customer],
        events: &'a [Event<'a>],
    ) -> Self {
        Self {
            now,
            customers,
            events,
            existing: &[],
        }
    }

    /// Adds the tasks already planned.
    pub const fn with_existing(mut self, existing: &'a [FollowUpTask]) -> Self {
        self.existing = existing;
        self
    }
}

/// Plans follow-up tasks from a [`RuleSet`] on a [`BusinessCalendar`].
#[derive(Debug, Clone)]
pub struct Planner {
    rules: RuleSet,
    calendar: BusinessCalendar,
}

struct Candidate<'r> {
    rule: &'r Rule,
    customer: CustomerId,
    source: SourceRef,
    at: DateTime<Utc>,
}

/// How many times the frequency cap may push a message later.
const CAP_SEARCH_STEPS: usize = 10_000;

impl Planner {
    /// A planner for `rules`, counting business hours on `calendar`.
    pub const fn new(rules: RuleSet, calendar: BusinessCalendar) -> Self {
        Self { rules, calendar }
    }

    /// The rules.
    pub const fn rules(&self) -> &RuleSet {
        &self.rules
    }

    /// Plans the follow-ups for `input`.
    ///
    /// # Errors
    /// [`OutreachError::BusinessTime`] when a due time or an unresolved
    /// case's business age cannot be computed on the calendar (an instant
    /// outside 1677-2262).
    pub fn plan(&self, input: &PlanInput<'_>) -> Result<Plan, OutreachError> {
        let candidates = self.candidates(input)?;
        let customers: BTreeMap<CustomerId, &Customer> =
            input.customers.iter().map(|c| (c.id(), c)).collect();
        let existing: BTreeSet<IdempotencyKey> = input.existing.iter().map(|t| t.key).collect();
        let mut plan = Plan::default();
        let mut built: BTreeMap<IdempotencyKey, FollowUpTask> = BTreeMap::new();
        for c in candidates {
            let key = IdempotencyKey::derive(c.rule.id.as_str(), &c.source.to_string());
            if existing.contains(&key) {
                plan.already_planned.push(key);
                continue;
            }
            if built.contains_key(&key) {
                continue; // the same event given twice
            }
            let not_planned = |reason| NotPlanned {
                rule: c.rule.id.clone(),
                customer: c.customer,
                source: c.source.clone(),
                reason,
            };
            let Some(customer) = customers.get(&c.customer) else {
                plan.not_planned
                    .push(not_planned(NotPlannedReason::UnknownCustomer));
                continue;
            };
            if customer.is_erased() {
                plan.not_planned
                    .push(not_planned(NotPlannedReason::CustomerErased));
                continue;
            }
            let Some(delivery) = self.delivery(c.rule, customer, input.now) else {
                plan.not_planned
                    .push(not_planned(NotPlannedReason::NoConsent));
                continue;
            };
            let due = c.rule.target.due(c.at, &self.calendar)?;
            let message = OutboundMessage {
                customer: c.customer,
                channel: delivery.channel(),
                requires_human: !matches!(delivery, Delivery::Message { .. }),
                template: c.rule.id.clone(),
                purpose: c.rule.purpose.clone(),
                locale: customer.locale().cloned(),
                source: c.source.clone(),
                priority: c.rule.priority,
                due,
            };
            let _ = built.insert(
                key,
                FollowUpTask {
                    key,
                    rule: c.rule.id.clone(),
                    trigger: c.rule.trigger.clone(),
                    triggered_at: c.at,
                    send_after: c.at,
                    delivery,
                    message,
                },
            );
        }
        // Schedule the customer-facing tasks: quiet hours and the cap.
        let mut order: Vec<FollowUpTask> = built.into_values().collect();
        order.sort_by(|a, b| {
            (
                a.customer(),
                a.triggered_at,
                std::cmp::Reverse(a.priority()),
                a.key,
            )
                .cmp(&(
                    b.customer(),
                    b.triggered_at,
                    std::cmp::Reverse(b.priority()),
                    b.key,
                ))
        });
        let mut taken: BTreeMap<CustomerId, Vec<DateTime<Utc>>> = BTreeMap::new();
        for t in input.existing.iter().filter(|t| t.contacts_customer()) {
            taken.entry(t.customer()).or_default().push(t.send_after);
        }
        for mut task in order {
            if task.contacts_customer() {
                let tz = customers
                    .get(&task.customer())
                    .map(|c| c.time_zone())
                    .unwrap_or(chrono_tz::Tz::UTC);
                let times = taken.entry(task.customer()).or_default();
                match place(
                    task.triggered_at,
                    times,
                    self.rules.quiet_hours(),
                    self.rules.frequency_cap(),
                    tz,
                ) {
                    Some(at) => {
                        task.send_after = at;
                        times.push(at);
                    }
                    None => {
                        plan.not_planned.push(NotPlanned {
                            rule: task.rule.clone(),
                            customer: task.customer(),
                            source: task.source().clone(),
                            reason: NotPlannedReason::FrequencyCapExhausted,
                        });
                        continue;
                    }
                }
            }
            plan.tasks.push(task);
        }
        plan.tasks.sort_by_key(|a| (a.send_after, a.key));
        plan.already_planned.sort();
        plan.already_planned.dedup();
        plan.not_planned.sort_by(|a, b| {
            (&a.customer, &a.rule, &a.source).cmp(&(&b.customer, &b.rule, &b.source))
        });
        plan.not_planned.dedup();
        Ok(plan)
    }

    /// The channel, or the person, for `rule` and `customer` at `now`;
    /// `None` when the purpose needs an opt-in the customer has not given.
    fn delivery(&self, rule: &Rule, customer: &Customer, now: DateTime<Utc>) -> Option<Delivery> {
        if rule.action == RuleAction::Escalate {
            return Some(Delivery::Person {
                channel: None,
                reason: PersonReason::Escalation,
            });
        }
        let human = rule.action == RuleAction::Human;
        let mut order: Vec<Channel> = Vec::new();
        order.extend(customer.preferred_channel());
        order.extend(self.rules.channel_order().iter().copied());
        let chosen = order
            .into_iter()
            .filter(|c| !(human && c.is_automated()))
            .find(|c| may_send(customer, &rule.purpose, *c, now));
        match (chosen, human) {
            (Some(channel), false) => Some(Delivery::Message { channel }),
            (Some(channel), true) => Some(Delivery::Person {
                channel: Some(channel),
                reason: PersonReason::HumanRequested,
            }),
            (None, _) if needs_opt_in(rule) => None,
            (None, _) => Some(Delivery::Person {
                channel: None,
                reason: PersonReason::NoConsentedChannel,
            }),
        }
    }

    fn candidates<'r>(
        &'r self,
        input: &PlanInput<'_>,
    ) -> Result<Vec<Candidate<'r>>, OutreachError> {
        let mut out = Vec::new();
        let mut last_contact: BTreeMap<CustomerId, (DateTime<Utc>, InteractionId)> =
            BTreeMap::new();
        for event in input.events {
            if let Event::Interaction(i) = event {
                let entry = last_contact
                    .entry(i.customer())
                    .or_insert((i.occurred_at(), i.id()));
                if (i.occurred_at(), i.id()) > *entry {
                    *entry = (i.occurred_at(), i.id());
                }
            }
        }
        for rule in self.rules.rules() {
            let mut push = |customer, source, at| {
                out.push(Candidate {
                    rule,
                    customer,
                    source,
                    at,
                })
            };
            match &rule.trigger {
                Trigger::NpsDetractor { max_score } => {
                    for r in responses(input) {
                        if r.scale() == Scale::nps() && i32::from(r.score()) <= *max_score {
                            push(r.customer(), SourceRef::Response(r.id()), r.responded_at());
                        }
                    }
                }
                Trigger::LowScore { scale, max_score } => {
                    for r in responses(input) {
                        if r.scale() == *scale && i32::from(r.score()) <= *max_score {
                            push(r.customer(), SourceRef::Response(r.id()), r.responded_at());
                        }
                    }
                }
                Trigger::Complaint => {
                    for e in input.events {
                        if let Event::Interaction(i) = e
                            && i.purpose() == InteractionPurpose::Complaint
                            && i.direction() == Direction::Inbound
                        {
                            push(
                                i.customer(),
                                SourceRef::Interaction(i.id()),
                                i.occurred_at(),
                            );
                        }
                    }
                }
                Trigger::CaseReopened => {
                    for case in cases(input) {
                        for (index, e) in case.events().iter().enumerate() {
                            if e.kind() == CaseEventKind::Reopened {
                                let index = u32::try_from(index).unwrap_or(u32::MAX);
                                push(
                                    case.customer(),
                                    SourceRef::CaseEvent {
                                        case: case.id(),
                                        index,
                                    },
                                    e.at(),
                                );
                            }
                        }
                    }
                }
                Trigger::CaseUnresolved {
                    after_business_hours,
                } => {
                    let threshold = chrono::Duration::hours(i64::from(*after_business_hours));
                    for case in cases(input) {
                        if matches!(case.status(), CaseStatus::Solved | CaseStatus::Closed)
                            || case.created_at() > input.now
                        {
                            continue;
                        }
                        let age = self
                            .calendar
                            .business_duration(case.created_at(), input.now)?;
                        if age >= threshold {
                            let at = self
                                .calendar
                                .add_business_time(case.created_at(), threshold)?;
                            push(case.customer(), SourceRef::Case(case.id()), at);
                        }
                    }
                }
                Trigger::NoContact { days } => {
                    let quiet = chrono::Duration::days(i64::from(*days));
                    for c in input.customers {
                        let (since, source) = match last_contact.get(&c.id()) {
                            Some((at, id)) => (*at, SourceRef::Interaction(*id)),
                            None => (c.created_at(), SourceRef::Customer(c.id())),
                        };
                        if let Some(at) = since.checked_add_signed(quiet)
                            && at <= input.now
                        {
                            push(c.id(), source, at);
                        }
                    }
                }
                Trigger::Newsletter => {
                    for e in input.events {
                        if let Event::Newsletter { issue, at } = e {
                            for c in input.customers {
                                push(
                                    c.id(),
                                    SourceRef::Newsletter {
                                        issue: (*issue).clone(),
                                        customer: c.id(),
                                    },
                                    *at,
                                );
                            }
                        }
                    }
                }
            }
        }
        Ok(out)
    }
}

fn responses<'a>(input: &PlanInput<'a>) -> impl Iterator<Item = &'a SurveyResponse> {
    input.events.iter().filter_map(|e| match e {
        Event::Response(r) => Some(*r),
        _ => None,
    })
}

fn cases<'a>(input: &PlanInput<'a>) -> impl Iterator<Item = &'a Case> {
    input.events.iter().filter_map(|e| match e {
        Event::Case(c) => Some(*c),
        _ => None,
    })
}

/// Purposes a customer must opt in to: without consent there is no task at
/// all (a person must not contact them for it either).
fn needs_opt_in(rule: &Rule) -> bool {
    use crate::domain::ConsentPurpose as P;
    matches!(
        rule.purpose,
        P::Newsletter | P::MarketingEmail | P::Sms | P::PhoneCalls | P::Profiling
    )
}

/// The earliest instant at or after `from` outside quiet hours at which one
/// more message keeps every window of the cap within its limit, given the
/// customer's other message times. `None` if the search bound is reached.
fn place(
    from: DateTime<Utc>,
    taken: &[DateTime<Utc>],
    quiet: Option<QuietHours>,
    cap: Option<FrequencyCap>,
    tz: chrono_tz::Tz,
) -> Option<DateTime<Utc>> {
    let mut t = from;
    for _ in 0..CAP_SEARCH_STEPS {
        if let Some(q) = quiet {
            t = q.next_allowed(t, tz);
        }
        let Some(cap) = cap else {
            return Some(t);
        };
        let w = cap.window();
        let limit = usize::try_from(cap.max_messages).unwrap_or(usize::MAX);
        // The fullest window containing t starts at a message time p <= t.
        let mut bump: Option<DateTime<Utc>> = None;
        for &p in taken.iter().chain(std::iter::once(&t)) {
            let end = p + w;
            if p <= t && t < end {
                let n = taken.iter().filter(|&&x| x >= p && x < end).count() + 1;
                if n > limit {
                    bump = Some(bump.map_or(end, |b| b.min(end)));
                }
            }
        }
        match bump {
            None => return Some(t),
            Some(b) => t = b,
        }
    }
    None
}
