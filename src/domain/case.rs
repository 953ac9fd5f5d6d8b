//! Support cases (tickets) whose status is derived from an append-only
//! history of events.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::interaction::validate_free_text;
use crate::domain::{AgentId, BotId, CaseId, Channel, CustomerId, ERASED, Personal, TeamId};
use crate::error::ValidationError;

const EVENTS: &str = "case.events";

/// How urgent a case is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    /// Low.
    Low,
    /// Normal.
    Normal,
    /// High.
    High,
    /// Urgent.
    Urgent,
}

/// The status of a case, derived from its events (see [`Case`] for the
/// transition table).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaseStatus {
    /// Created, nobody has worked on it yet.
    New,
    /// Being worked on by the company.
    Open,
    /// Waiting on the customer.
    Pending,
    /// Waiting on a third party or internal work.
    OnHold,
    /// Solved; may be reopened.
    Solved,
    /// Closed; terminal.
    Closed,
}

impl CaseStatus {
    /// The snake_case name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::New => "new",
            Self::Open => "open",
            Self::Pending => "pending",
            Self::OnHold => "on_hold",
            Self::Solved => "solved",
            Self::Closed => "closed",
        }
    }

    /// Whether the case still needs work (not solved or closed).
    pub const fn is_unresolved(self) -> bool {
        !matches!(self, Self::Solved | Self::Closed)
    }
}

impl fmt::Display for CaseStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who caused a case event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Actor {
    /// The customer.
    Customer,
    /// A human agent.
    Agent(AgentId),
    /// An automated agent.
    Bot(BotId),
    /// The system (automations, timers).
    System,
}

/// What happened to a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaseEventKind {
    /// The case was created (always the first event, exactly once).
    Created {
        /// Whether an agent created it (the actor must then be an agent).
        by_agent: bool,
        /// Whether the first message is visible to the customer.
        public_message: bool,
    },
    /// An agent replied to the customer (actor: an agent).
    PublicReply,
    /// An internal note, invisible to the customer.
    PrivateNote,
    /// The customer replied (actor: the customer).
    CustomerReply,
    /// A bot replied (actor: a bot).
    BotReply,
    /// A bot handed the case to a human.
    EscalatedToHuman,
    /// An explicit change to [`CaseStatus::Open`], [`CaseStatus::Pending`]
    /// or [`CaseStatus::OnHold`].
    StatusChanged {
        /// The new status.
        to: CaseStatus,
    },
    /// The case was solved.
    Solved,
    /// A solved case was reopened.
    Reopened,
    /// The case was closed (terminal).
    Closed,
    /// The case was (re)assigned; `None` unassigns.
    Assigned {
        /// The agent now responsible.
        agent: Option<AgentId>,
        /// The team now responsible.
        team: Option<TeamId>,
    },
}

impl CaseEventKind {
    fn name(&self) -> &'static str {
        match self {
            Self::Created { .. } => "created",
            Self::PublicReply => "public_reply",
            Self::PrivateNote => "private_note",
            Self::CustomerReply => "customer_reply",
            Self::BotReply => "bot_reply",
            Self::EscalatedToHuman => "escalated_to_human",
            Self::StatusChanged { .. } => "status_changed",
            Self::Solved => "solved",
            Self::Reopened => "reopened",
            Self::Closed => "closed",
            Self::Assigned { .. } => "assigned",
        }
    }
}

/// One fact in a case's history. Events are never edited; corrections are
/// new events.
///
/// # Example
/// ```
/// use chrono::{TimeZone, Utc};
/// use crmkit::domain::*;
/// let at = Utc.with_ymd_and_hms(2026, 3, 1, 9, 0, 0).unwrap();
/// let e = CaseEvent::new(at, Actor::Customer, CaseEventKind::CustomerReply)
///     .with_body("Still broken")?;
/// assert_eq!(e.body().map(|b| b.expose().as_str()), Some("Still broken"));
/// assert!(CaseEvent::new(at, Actor::Customer, CaseEventKind::CustomerReply).with_body(" ").is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "CaseEventRepr", into = "CaseEventRepr")]
pub struct CaseEvent {
    at: DateTime<Utc>,
    actor: Actor,
    kind: CaseEventKind,
    body: Option<Personal<String>>,
}

impl CaseEvent {
    /// An event without body text.
    pub const fn new(at: DateTime<Utc>, actor: Actor, kind: CaseEventKind) -> Self {
        Self {
            at,
            actor,
            kind,
            body: None,
        }
    }

    /// Adds body text (personal data).
    ///
    /// # Errors
    /// [`ValidationError::Empty`] if blank, [`ValidationError::TooLong`] over
    /// [`MAX_FREE_TEXT`](crate::domain::MAX_FREE_TEXT) characters.
    pub fn with_body(mut self, body: impl Into<String>) -> Result<Self, ValidationError> {
        let body = body.into();
        validate_free_text("case.event.body", &body)?;
        self.body = Some(Personal::new(body));
        Ok(self)
    }

    /// When it happened.
    pub const fn at(&self) -> DateTime<Utc> {
        self.at
    }
    /// Who caused it.
    pub const fn actor(&self) -> Actor {
        self.actor
    }
    /// What happened.
    pub const fn kind(&self) -> CaseEventKind {
        self.kind
    }
    /// The message or note text (personal data), if any.
    pub const fn body(&self) -> Option<&Personal<String>> {
        self.body.as_ref()
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseEventRepr {
    at: DateTime<Utc>,
    actor: Actor,
    kind: CaseEventKind,
    #[serde(default)]
    body: Option<String>,
}

impl TryFrom<CaseEventRepr> for CaseEvent {
    type Error = ValidationError;
    fn try_from(r: CaseEventRepr) -> Result<Self, Self::Error> {
        let e = CaseEvent::new(r.at, r.actor, r.kind);
        match r.body {
            Some(b) => e.with_body(b),
            None => Ok(e),
        }
    }
}

impl From<CaseEvent> for CaseEventRepr {
    fn from(e: CaseEvent) -> Self {
        Self {
            at: e.at,
            actor: e.actor,
            kind: e.kind,
            body: e.body.map(Personal::into_exposed),
        }
    }
}

/// A support case (ticket). Its status, assignee and team are derived from
/// its append-only event history, and every recorded event is checked.
///
/// Rules enforced by [`Case::record`] (and by deserialisation, which replays
/// the events):
///
/// * events are in non-decreasing time order (else [`ValidationError::Order`]);
/// * the first event is `Created`, and `Created` occurs only once
///   (else [`ValidationError::Transition`] / [`ValidationError::Duplicate`]);
/// * actors match kinds: `PublicReply` by an agent, `CustomerReply` by the
///   customer, `BotReply` by a bot, `Created { by_agent: true }` by an agent
///   and `Created { by_agent: false }` not by an agent
///   (else [`ValidationError::Inconsistent`]);
/// * status transitions follow this table (any other is a
///   [`ValidationError::Transition`]):
///
/// | event | allowed in | resulting status |
/// |---|---|---|
/// | `Created` | (first event) | New |
/// | `PublicReply` | New, Open, Pending, OnHold | Pending |
/// | `CustomerReply` | New, Open, Pending, OnHold | New stays New, OnHold stays OnHold, else Open |
/// | `BotReply` | New, Open, Pending, OnHold | unchanged |
/// | `EscalatedToHuman` | New, Open, Pending, OnHold | Open |
/// | `PrivateNote` | any but Closed | unchanged |
/// | `Assigned` | any but Closed | New becomes Open, else unchanged |
/// | `StatusChanged { to }` | New, Open, Pending, OnHold; `to` ∈ Open, Pending, OnHold | `to` |
/// | `Solved` | New, Open, Pending, OnHold | Solved |
/// | `Reopened` | Solved | Open |
/// | `Closed` | any but Closed | Closed |
///
/// So Closed is terminal, a solved case returns to Open only through
/// `Reopened` (a customer writing after the solve is recorded as `Reopened`
/// then `CustomerReply`), and nothing precedes creation.
///
/// # Example
/// ```
/// use chrono::{Duration, TimeZone, Utc};
/// use crmkit::domain::*;
/// let t0 = Utc.with_ymd_and_hms(2026, 3, 1, 9, 0, 0).unwrap();
/// let agent = Actor::Agent(AgentId::from_u128(7));
/// let created = CaseEventKind::Created { by_agent: false, public_message: true };
/// let mut case = Case::open(
///     CaseId::from_u128(1),
///     CustomerId::from_u128(2),
///     "Invoice missing",
///     Priority::Normal,
///     Channel::Email,
///     CaseEvent::new(t0, Actor::Customer, created),
/// )?;
/// assert_eq!(case.status(), CaseStatus::New);
/// case.record(CaseEvent::new(t0 + Duration::hours(1), agent, CaseEventKind::PublicReply))?;
/// assert_eq!(case.status(), CaseStatus::Pending);
/// case.record(CaseEvent::new(t0 + Duration::hours(2), agent, CaseEventKind::Solved))?;
/// case.record(CaseEvent::new(t0 + Duration::hours(3), Actor::System, CaseEventKind::Closed))?;
/// // Closed is terminal.
/// assert!(case.record(CaseEvent::new(t0 + Duration::hours(4), Actor::Customer,
///     CaseEventKind::CustomerReply)).is_err());
/// assert_eq!(case.created_at(), t0);
/// let back: Case = serde_json::from_str(&serde_json::to_string(&case)?)?;
/// assert_eq!(back, case);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "CaseRepr", into = "CaseRepr")]
pub struct Case {
    id: CaseId,
    customer: CustomerId,
    subject: Personal<String>,
    priority: Priority,
    channel: Channel,
    assignee: Option<AgentId>,
    team: Option<TeamId>,
    events: Vec<CaseEvent>,
    status: CaseStatus,
}

impl Case {
    /// The longest subject accepted, in characters.
    pub const SUBJECT_MAX_LEN: usize = 500;

    /// Opens a case with its `Created` event.
    ///
    /// # Errors
    /// The subject must be a valid single-line text of at most
    /// [`Case::SUBJECT_MAX_LEN`] characters; `created` must be a valid
    /// `Created` event (see [`Case::record`]).
    pub fn open(
        id: CaseId,
        customer: CustomerId,
        subject: impl Into<String>,
        priority: Priority,
        channel: Channel,
        created: CaseEvent,
    ) -> Result<Self, ValidationError> {
        let subject = subject.into();
        crate::domain::id::validate_text("case.subject", &subject, Self::SUBJECT_MAX_LEN)?;
        let mut case = Self {
            id,
            customer,
            subject: Personal::new(subject),
            priority,
            channel,
            assignee: None,
            team: None,
            events: Vec::new(),
            status: CaseStatus::New,
        };
        case.record(created)?;
        Ok(case)
    }

    /// Appends an event after checking it against the history (see the
    /// rules on [`Case`]). On error the case is unchanged.
    ///
    /// # Errors
    /// [`ValidationError::Order`], [`ValidationError::Transition`],
    /// [`ValidationError::Duplicate`] or [`ValidationError::Inconsistent`].
    pub fn record(&mut self, event: CaseEvent) -> Result<(), ValidationError> {
        if let Some(last) = self.events.last() {
            if event.at < last.at {
                return Err(ValidationError::Order {
                    field: EVENTS,
                    start: last.at.to_rfc3339(),
                    end: event.at.to_rfc3339(),
                });
            }
        }
        check_actor(&event)?;
        let from = if self.events.is_empty() {
            None
        } else {
            Some(self.status)
        };
        let to = next_status(from, &event.kind)?;
        if let CaseEventKind::Assigned { agent, team } = event.kind {
            self.assignee = agent;
            self.team = team;
        }
        self.status = to;
        self.events.push(event);
        Ok(())
    }

    /// Changes the priority.
    pub fn set_priority(&mut self, priority: Priority) {
        self.priority = priority;
    }

    /// Removes personal data: the subject becomes [`ERASED`] and every event
    /// body is removed. The events themselves (times, actors, kinds) stay.
    pub fn erase_personal(&mut self) {
        self.subject = Personal::new(ERASED.to_owned());
        for e in &mut self.events {
            e.body = None;
        }
    }

    /// The current status, derived from the events.
    pub const fn status(&self) -> CaseStatus {
        self.status
    }

    /// When the case was created (the time of its `Created` event).
    pub fn created_at(&self) -> DateTime<Utc> {
        // `open` guarantees one event; the fallback is unreachable.
        self.events.first().map(|e| e.at).unwrap_or_default()
    }

    /// The history, oldest first.
    pub fn events(&self) -> &[CaseEvent] {
        &self.events
    }

    /// The id.
    pub const fn id(&self) -> CaseId {
        self.id
    }
    /// The customer.
    pub const fn customer(&self) -> CustomerId {
        self.customer
    }
    /// The subject (personal data).
    pub const fn subject(&self) -> &Personal<String> {
        &self.subject
    }
    /// The priority.
    pub const fn priority(&self) -> Priority {
        self.priority
    }
    /// The channel the case came in through.
    pub const fn channel(&self) -> Channel {
        self.channel
    }
    /// The assigned agent, from the latest `Assigned` event.
    pub const fn assignee(&self) -> Option<AgentId> {
        self.assignee
    }
    /// The assigned team, from the latest `Assigned` event.
    pub const fn team(&self) -> Option<TeamId> {
        self.team
    }
}

fn check_actor(event: &CaseEvent) -> Result<(), ValidationError> {
    let ok = match event.kind {
        CaseEventKind::Created { by_agent, .. } => {
            by_agent == matches!(event.actor, Actor::Agent(_))
        }
        CaseEventKind::PublicReply => matches!(event.actor, Actor::Agent(_)),
        CaseEventKind::CustomerReply => event.actor == Actor::Customer,
        CaseEventKind::BotReply => matches!(event.actor, Actor::Bot(_)),
        _ => true,
    };
    if ok {
        Ok(())
    } else {
        Err(ValidationError::Inconsistent {
            field: EVENTS,
            reason: format!("{} cannot be done by {:?}", event.kind.name(), event.actor),
        })
    }
}

fn next_status(
    from: Option<CaseStatus>,
    kind: &CaseEventKind,
) -> Result<CaseStatus, ValidationError> {
    use CaseStatus::*;
    let transition = |from: &str| ValidationError::Transition {
        field: EVENTS,
        from: from.to_owned(),
        to: kind.name().to_owned(),
    };
    let Some(from) = from else {
        return match kind {
            CaseEventKind::Created { .. } => Ok(New),
            _ => Err(transition("(not created)")),
        };
    };
    let working = matches!(from, New | Open | Pending | OnHold);
    let next = match kind {
        CaseEventKind::Created { .. } => {
            return Err(ValidationError::Duplicate {
                field: EVENTS,
                value: "created".into(),
            });
        }
        CaseEventKind::PublicReply if working => Pending,
        CaseEventKind::CustomerReply if working => match from {
            New | OnHold => from,
            _ => Open,
        },
        CaseEventKind::BotReply if working => from,
        CaseEventKind::EscalatedToHuman if working => Open,
        CaseEventKind::PrivateNote if from != Closed => from,
        CaseEventKind::Assigned { .. } if from != Closed => {
            if from == New {
                Open
            } else {
                from
            }
        }
        CaseEventKind::StatusChanged { to } if working && matches!(to, Open | Pending | OnHold) => {
            *to
        }
        CaseEventKind::Solved if working => Solved,
        CaseEventKind::Reopened if from == Solved => Open,
        CaseEventKind::Closed if from != Closed => Closed,
        _ => return Err(transition(from.as_str())),
    };
    Ok(next)
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseRepr {
    id: CaseId,
    customer: CustomerId,
    subject: String,
    priority: Priority,
    channel: Channel,
    events: Vec<CaseEvent>,
}

impl TryFrom<CaseRepr> for Case {
    type Error = ValidationError;
    fn try_from(r: CaseRepr) -> Result<Self, Self::Error> {
        let mut events = r.events.into_iter();
        let first = events
            .next()
            .ok_or(ValidationError::Empty { field: EVENTS })?;
        let mut case = Case::open(r.id, r.customer, r.subject, r.priority, r.channel, first)?;
        for e in events {
            case.record(e)?;
        }
        Ok(case)
    }
}

impl From<Case> for CaseRepr {
    fn from(c: Case) -> Self {
        Self {
            id: c.id,
            customer: c.customer,
            subject: c.subject.into_exposed(),
            priority: c.priority,
            channel: c.channel,
            events: c.events,
        }
    }
}

#[cfg(any(test, feature = "proptest"))]
pub(crate) mod strategies {
    use super::*;
    use crate::domain::channel::strategies::channel;
    use crate::domain::period::strategies::instant;
    use proptest::prelude::*;

    /// Any priority.
    pub fn priority() -> impl Strategy<Value = Priority> {
        prop::sample::select(vec![
            Priority::Low,
            Priority::Normal,
            Priority::High,
            Priority::Urgent,
        ])
    }

    /// The events allowed next, with a fitting actor (agent `a`, bot `b`).
    fn candidates(
        status: CaseStatus,
        a: AgentId,
        b: BotId,
        t: TeamId,
    ) -> Vec<(Actor, CaseEventKind)> {
        use CaseEventKind as K;
        use CaseStatus::*;
        let mut v = Vec::new();
        let working = matches!(status, New | Open | Pending | OnHold);
        if working {
            v.push((Actor::Agent(a), K::PublicReply));
            v.push((Actor::Customer, K::CustomerReply));
            v.push((Actor::Customer, K::CustomerReply));
            v.push((Actor::Bot(b), K::BotReply));
            v.push((Actor::Bot(b), K::EscalatedToHuman));
            v.push((Actor::Agent(a), K::StatusChanged { to: OnHold }));
            v.push((Actor::System, K::StatusChanged { to: Pending }));
            v.push((Actor::Agent(a), K::Solved));
        }
        if status != Closed {
            v.push((Actor::Agent(a), K::PrivateNote));
            v.push((
                Actor::System,
                K::Assigned {
                    agent: Some(a),
                    team: Some(t),
                },
            ));
            v.push((Actor::System, K::Closed));
        }
        if status == Solved {
            v.push((Actor::Customer, K::Reopened));
            v.push((Actor::System, K::Closed));
        }
        v
    }

    /// A valid case whose history is a realistic walk through the status
    /// table: created by the customer, a bot or an agent, then up to 12
    /// events seconds to days apart (some at the same instant), some with
    /// bodies.
    pub fn case() -> impl Strategy<Value = Case> {
        (
            (
                any::<u128>(),
                any::<u128>(),
                "[A-Za-z][A-Za-z0-9 ]{0,40}[a-z]",
                priority(),
                channel(),
            ),
            (
                instant(),
                0u8..3,
                any::<bool>(),
                any::<u128>(),
                any::<u128>(),
                any::<u128>(),
            ),
            proptest::collection::vec(
                (
                    any::<prop::sample::Index>(),
                    0i64..=3 * 86_400,
                    proptest::option::of("[a-z ]{0,30}[a-z]"),
                ),
                0..12,
            ),
        )
            .prop_map(
                |((id, c, subject, prio, ch), (t0, creator, public, a, b, t), steps)| {
                    let (a, b, team) = (
                        AgentId::from_u128(a),
                        BotId::from_u128(b),
                        TeamId::from_u128(t),
                    );
                    let actor = match creator {
                        0 => Actor::Customer,
                        1 => Actor::Bot(b),
                        _ => Actor::Agent(a),
                    };
                    let created = CaseEvent::new(
                        t0,
                        actor,
                        CaseEventKind::Created {
                            by_agent: creator == 2,
                            public_message: public,
                        },
                    );
                    let mut case = Case {
                        id: CaseId::from_u128(id),
                        customer: CustomerId::from_u128(c),
                        subject: Personal::new(subject),
                        priority: prio,
                        channel: ch,
                        assignee: None,
                        team: None,
                        events: vec![created],
                        status: CaseStatus::New,
                    };
                    let mut at = t0;
                    for (pick, gap, body) in steps {
                        let options = candidates(case.status, a, b, team);
                        if options.is_empty() {
                            break;
                        }
                        let (actor, kind) = options[pick.index(options.len())];
                        at += chrono::Duration::seconds(gap);
                        let mut e = CaseEvent::new(at, actor, kind);
                        e.body = body.map(Personal::new);
                        // Every candidate is valid; `record` checks it anyway.
                        let _ = case.record(e);
                    }
                    case
                },
            )
    }
}
