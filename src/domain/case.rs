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
/// let at = Utc.with_ymd_and_hms(2026, 3, 1, 9, 0, 0).single().ok_or("invalid time")?;
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
/// let t0 = Utc.with_ymd_and_hms(2026, 3, 1, 9, 0, 0).single().ok_or("invalid time")?;
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
        if let Some(last) = self.events.last()
            && event.at < last.at
        {
            return Err(ValidationError::Order {
                field: EVENTS,
                start: last.at.to_rfc3339(),
                end: event.at.to_rfc3339(),
            });
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

/// The status after `kind` in status `from` (`None`: not created yet), by
/// the transition table on [`Case`]. Also used by the service metrics,
/// which replay raw event lists.
pub(crate) fn next_status(
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
        }
        if status == Solved {
            v.push((Actor::Customer, K::Reopened));
            v.push((Actor::System, K::Closed));
        }
        if status == New {
            // Spam and duplicates are closed without being solved.
            v.push((Actor::Agent(a), K::Closed));
        }
        v
    }

    /// A valid case whose history is a realistic walk through the status
    /// table: created by the customer, a bot or an agent, then up to 12
    /// events seconds to days apart (some at the same instant), some with
    /// bodies. Cases are closed only after a solve, or straight from New
    /// (spam); about a quarter end closed.
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

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone};
    use proptest::prelude::*;

    fn t(h: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap() + Duration::hours(h)
    }
    const AGENT: Actor = Actor::Agent(AgentId::from_u128(7));
    const BOT: Actor = Actor::Bot(BotId::from_u128(8));

    fn ev(h: i64, actor: Actor, kind: CaseEventKind) -> CaseEvent {
        CaseEvent::new(t(h), actor, kind)
    }

    fn created() -> CaseEvent {
        ev(
            0,
            Actor::Customer,
            CaseEventKind::Created {
                by_agent: false,
                public_message: true,
            },
        )
    }

    fn new_case() -> Case {
        Case::open(
            CaseId::from_u128(1),
            CustomerId::from_u128(2),
            "Login fails",
            Priority::High,
            Channel::Email,
            created(),
        )
        .unwrap()
    }

    fn transition(from: &str, to: &str) -> ValidationError {
        ValidationError::Transition {
            field: EVENTS,
            from: from.into(),
            to: to.into(),
        }
    }

    #[test]
    fn open_starts_new_with_created_event() {
        let c = new_case();
        assert_eq!(c.status(), CaseStatus::New);
        assert_eq!(c.created_at(), t(0));
        assert_eq!(c.events().len(), 1);
        assert_eq!(c.assignee(), None);
    }

    #[test]
    fn open_rejects_bad_subject_and_non_created_first_event() {
        let open = |subject: &str, first| {
            Case::open(
                CaseId::from_u128(1),
                CustomerId::from_u128(2),
                subject,
                Priority::Low,
                Channel::Email,
                first,
            )
        };
        assert_eq!(
            open(" ", created()).unwrap_err(),
            ValidationError::Empty {
                field: "case.subject"
            }
        );
        assert!(matches!(
            open(&"x".repeat(501), created()).unwrap_err(),
            ValidationError::TooLong {
                len: 501,
                max: 500,
                ..
            }
        ));
        // A solve before creation is impossible.
        assert_eq!(
            open("s", ev(0, AGENT, CaseEventKind::Solved)).unwrap_err(),
            transition("(not created)", "solved")
        );
    }

    #[test]
    fn created_only_once() {
        let mut c = new_case();
        assert_eq!(
            c.record(created()).unwrap_err(),
            ValidationError::Duplicate {
                field: EVENTS,
                value: "created".into()
            }
        );
    }

    #[test]
    fn events_before_the_last_are_rejected_but_equal_times_accepted() {
        let mut c = new_case();
        c.record(ev(2, Actor::Customer, CaseEventKind::CustomerReply))
            .unwrap();
        let err = c
            .record(ev(1, AGENT, CaseEventKind::PublicReply))
            .unwrap_err();
        assert!(matches!(err, ValidationError::Order { field: EVENTS, .. }));
        c.record(ev(2, AGENT, CaseEventKind::PublicReply)).unwrap();
        assert_eq!(c.events().len(), 3);
    }

    #[test]
    fn actors_must_match_kinds() {
        let mut c = new_case();
        for (actor, kind) in [
            (Actor::Customer, CaseEventKind::PublicReply),
            (AGENT, CaseEventKind::CustomerReply),
            (AGENT, CaseEventKind::BotReply),
        ] {
            assert!(matches!(
                c.record(ev(1, actor, kind)).unwrap_err(),
                ValidationError::Inconsistent { .. }
            ));
        }
        let by_agent_from_customer = ev(
            0,
            Actor::Customer,
            CaseEventKind::Created {
                by_agent: true,
                public_message: false,
            },
        );
        assert!(
            Case::open(
                CaseId::from_u128(1),
                CustomerId::from_u128(2),
                "s",
                Priority::Low,
                Channel::Email,
                by_agent_from_customer
            )
            .is_err()
        );
        assert_eq!(c.events().len(), 1, "failed records change nothing");
    }

    #[test]
    fn status_follows_the_table() {
        let mut c = new_case();
        // New + CustomerReply stays New.
        c.record(ev(1, Actor::Customer, CaseEventKind::CustomerReply))
            .unwrap();
        assert_eq!(c.status(), CaseStatus::New);
        // Assigned moves New to Open and sets the assignee.
        c.record(ev(
            1,
            Actor::System,
            CaseEventKind::Assigned {
                agent: Some(AgentId::from_u128(7)),
                team: Some(TeamId::from_u128(9)),
            },
        ))
        .unwrap();
        assert_eq!(c.status(), CaseStatus::Open);
        assert_eq!(c.assignee(), Some(AgentId::from_u128(7)));
        assert_eq!(c.team(), Some(TeamId::from_u128(9)));
        // PublicReply -> Pending; CustomerReply -> Open.
        c.record(ev(2, AGENT, CaseEventKind::PublicReply)).unwrap();
        assert_eq!(c.status(), CaseStatus::Pending);
        c.record(ev(3, Actor::Customer, CaseEventKind::CustomerReply))
            .unwrap();
        assert_eq!(c.status(), CaseStatus::Open);
        // OnHold via StatusChanged; a customer reply keeps it on hold.
        c.record(ev(
            4,
            AGENT,
            CaseEventKind::StatusChanged {
                to: CaseStatus::OnHold,
            },
        ))
        .unwrap();
        c.record(ev(5, Actor::Customer, CaseEventKind::CustomerReply))
            .unwrap();
        assert_eq!(c.status(), CaseStatus::OnHold);
        // StatusChanged cannot target New, Solved or Closed.
        for to in [CaseStatus::New, CaseStatus::Solved, CaseStatus::Closed] {
            assert_eq!(
                c.record(ev(6, AGENT, CaseEventKind::StatusChanged { to }))
                    .unwrap_err(),
                transition("on_hold", "status_changed")
            );
        }
        // Bot reply leaves it; escalation opens it.
        c.record(ev(6, BOT, CaseEventKind::BotReply)).unwrap();
        assert_eq!(c.status(), CaseStatus::OnHold);
        c.record(ev(6, BOT, CaseEventKind::EscalatedToHuman))
            .unwrap();
        assert_eq!(c.status(), CaseStatus::Open);
    }

    #[test]
    fn solved_cases_reopen_only_through_reopened() {
        let mut c = new_case();
        // Reopen of a case that is not solved is rejected.
        assert_eq!(
            c.record(ev(1, Actor::Customer, CaseEventKind::Reopened))
                .unwrap_err(),
            transition("new", "reopened")
        );
        c.record(ev(1, AGENT, CaseEventKind::Solved)).unwrap();
        assert_eq!(c.status(), CaseStatus::Solved);
        assert_eq!(
            c.record(ev(2, AGENT, CaseEventKind::Solved)).unwrap_err(),
            transition("solved", "solved")
        );
        for (actor, kind) in [
            (Actor::Customer, CaseEventKind::CustomerReply),
            (AGENT, CaseEventKind::PublicReply),
            (BOT, CaseEventKind::BotReply),
        ] {
            assert!(matches!(
                c.record(ev(2, actor, kind)).unwrap_err(),
                ValidationError::Transition { .. }
            ));
        }
        // Notes are allowed on a solved case and keep it solved.
        c.record(ev(2, AGENT, CaseEventKind::PrivateNote)).unwrap();
        assert_eq!(c.status(), CaseStatus::Solved);
        // Reopen of a solved case is allowed.
        c.record(ev(3, Actor::Customer, CaseEventKind::Reopened))
            .unwrap();
        assert_eq!(c.status(), CaseStatus::Open);
        c.record(ev(4, Actor::Customer, CaseEventKind::CustomerReply))
            .unwrap();
    }

    #[test]
    fn closed_is_terminal() {
        let mut c = new_case();
        c.record(ev(1, AGENT, CaseEventKind::Solved)).unwrap();
        c.record(ev(2, Actor::System, CaseEventKind::Closed))
            .unwrap();
        assert_eq!(c.status(), CaseStatus::Closed);
        // Reply after close rejected, reopen of closed rejected, and so on.
        for (actor, kind, name) in [
            (
                Actor::Customer,
                CaseEventKind::CustomerReply,
                "customer_reply",
            ),
            (Actor::Customer, CaseEventKind::Reopened, "reopened"),
            (AGENT, CaseEventKind::PrivateNote, "private_note"),
            (Actor::System, CaseEventKind::Closed, "closed"),
            (
                Actor::System,
                CaseEventKind::Assigned {
                    agent: None,
                    team: None,
                },
                "assigned",
            ),
        ] {
            assert_eq!(
                c.record(ev(3, actor, kind)).unwrap_err(),
                transition("closed", name)
            );
        }
        assert_eq!(c.events().len(), 3);
    }

    #[test]
    fn unsolved_cases_may_be_closed_directly() {
        let mut c = new_case();
        c.record(ev(1, Actor::System, CaseEventKind::Closed))
            .unwrap();
        assert_eq!(c.status(), CaseStatus::Closed);
    }

    #[test]
    fn bodies_are_validated_redacted_and_erased() {
        let e = ev(1, AGENT, CaseEventKind::PrivateNote)
            .with_body("call back at 5")
            .unwrap();
        assert!(!format!("{e:?}").contains("call back"));
        assert!(matches!(
            ev(1, AGENT, CaseEventKind::PrivateNote)
                .with_body("x".repeat(10_001))
                .unwrap_err(),
            ValidationError::TooLong {
                len: 10_001,
                max: 10_000,
                ..
            }
        ));
        let mut c = new_case();
        c.record(e).unwrap();
        assert!(!format!("{c:?}").contains("Login"));
        c.erase_personal();
        assert_eq!(c.subject().expose(), ERASED);
        assert!(c.events().iter().all(|e| e.body().is_none()));
        assert_eq!(c.events().len(), 2);
    }

    #[test]
    fn json_replays_events_through_validation() {
        let mut c = new_case();
        c.record(ev(1, AGENT, CaseEventKind::Solved)).unwrap();
        let json = serde_json::to_value(&c).unwrap();
        assert_eq!(serde_json::from_value::<Case>(json.clone()).unwrap(), c);
        // Swap the two events: Solved first is rejected.
        let mut swapped = json.clone();
        let events = swapped["events"].as_array_mut().unwrap();
        events.swap(0, 1);
        assert!(serde_json::from_value::<Case>(swapped).is_err());
        let mut empty = json.clone();
        empty["events"] = serde_json::json!([]);
        assert!(serde_json::from_value::<Case>(empty).is_err());
        let mut blank_body = json;
        blank_body["events"][1]["body"] = serde_json::json!("  ");
        assert!(serde_json::from_value::<Case>(blank_body).is_err());
    }

    proptest! {
        #[test]
        fn generated_cases_round_trip(c in strategies::case()) {
            let json = serde_json::to_string(&c).unwrap();
            prop_assert_eq!(serde_json::from_str::<Case>(&json).unwrap(), c);
        }

        #[test]
        fn arbitrary_json_never_panics(s in ".{0,200}") {
            let _ = serde_json::from_str::<Case>(&s);
            let _ = serde_json::from_str::<CaseEvent>(&s);
        }

        #[test]
        fn shuffled_histories_equal_the_original_or_are_rejected(
            c in strategies::case(),
            seed in any::<u64>(),
        ) {
            let mut events = c.events().to_vec();
            // Fisher-Yates with a xorshift generator seeded by proptest.
            let mut state = seed | 1;
            for i in (1..events.len()).rev() {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                events.swap(i, (state % (i as u64 + 1)) as usize);
            }
            let mut json = serde_json::to_value(&c).unwrap();
            json["events"] = serde_json::to_value(&events).unwrap();
            if let Ok(back) = serde_json::from_value::<Case>(json) {
                // Accepted histories are in time order, so only events at
                // the same instant can have moved; with distinct times the
                // result must be the original.
                let times = |c: &Case| c.events().iter().map(CaseEvent::at).collect::<Vec<_>>();
                prop_assert_eq!(times(&back), times(&c));
                let distinct = c.events().windows(2).all(|w| w[0].at() < w[1].at());
                if distinct {
                    prop_assert_eq!(back, c);
                }
            }
        }

        #[test]
        fn arbitrary_events_are_rejected_without_change_or_accepted_validly(
            c in strategies::case(),
            gap in -86_400i64..86_400,
            actor in prop_oneof![
                Just(Actor::Customer), Just(AGENT), Just(BOT), Just(Actor::System)
            ],
            kind in prop::sample::select(vec![
                CaseEventKind::Created { by_agent: true, public_message: false },
                CaseEventKind::PublicReply,
                CaseEventKind::PrivateNote,
                CaseEventKind::CustomerReply,
                CaseEventKind::BotReply,
                CaseEventKind::EscalatedToHuman,
                CaseEventKind::StatusChanged { to: CaseStatus::New },
                CaseEventKind::StatusChanged { to: CaseStatus::Pending },
                CaseEventKind::StatusChanged { to: CaseStatus::Closed },
                CaseEventKind::Solved,
                CaseEventKind::Reopened,
                CaseEventKind::Closed,
                CaseEventKind::Assigned { agent: None, team: None },
            ]),
        ) {
            let last = c.events().last().unwrap().at();
            let event = CaseEvent::new(last + Duration::seconds(gap), actor, kind);
            let mut after = c.clone();
            match after.record(event) {
                Err(_) => prop_assert_eq!(after, c),
                Ok(()) => {
                    prop_assert!(gap >= 0);
                    prop_assert!(c.status() != CaseStatus::Closed);
                    let json = serde_json::to_string(&after).unwrap();
                    prop_assert_eq!(serde_json::from_str::<Case>(&json).unwrap(), after);
                }
            }
        }

        #[test]
        fn a_prefix_of_a_valid_history_plus_an_event_after_close_is_rejected(c in strategies::case()) {
            prop_assume!(c.status() == CaseStatus::Closed);
            let mut c = c;
            let last = c.events().last().unwrap().at();
            prop_assert!(c.record(CaseEvent::new(last, AGENT, CaseEventKind::PrivateNote)).is_err());
        }
    }
}
