//! Per-case service metrics from the event history.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::ServiceError;
use crate::domain::{Actor, BusinessCalendar, Case, CaseEvent, CaseEventKind, CaseStatus};

/// A duration measured on the clock and in business hours.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Timing {
    /// Elapsed (wall) time.
    pub calendar: Duration,
    /// Business time in the calendar used.
    pub business: Duration,
}

impl Timing {
    /// The time from `start` to `end` (`start <= end`) both ways.
    ///
    /// # Errors
    /// [`ServiceError::BusinessTime`] if `end < start` or an instant is out
    /// of the calendar's range.
    pub fn between(
        calendar: &BusinessCalendar,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> Result<Self, ServiceError> {
        Ok(Self {
            calendar: end - start,
            business: calendar.business_duration(start, end)?,
        })
    }

    fn add(&mut self, other: Timing) {
        self.calendar += other.calendar;
        self.business += other.business;
    }
}

/// The rule that decides first-contact resolution (FCR).
///
/// A resolved case counts as resolved on first contact when it has at most
/// `max_agent_replies` public agent replies, was never reopened (unless
/// `allow_reopen`), and the customer did not write again after the first
/// agent reply (unless `allow_customer_follow_up`). The default is the
/// strict reading: one reply, no follow-up, no reopen.
///
/// # Example
/// ```
/// use crmkit::metrics::service::FcrRule;
/// let lenient = FcrRule { max_agent_replies: 2, ..FcrRule::default() };
/// assert!(!lenient.allow_reopen);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FcrRule {
    /// The most public agent replies a first-contact resolution may have.
    pub max_agent_replies: u32,
    /// Whether a customer message after the first agent reply is allowed.
    pub allow_customer_follow_up: bool,
    /// Whether a reopened case may still count.
    pub allow_reopen: bool,
}

impl Default for FcrRule {
    fn default() -> Self {
        Self {
            max_agent_replies: 1,
            allow_customer_follow_up: false,
            allow_reopen: false,
        }
    }
}

/// The service metrics of one case; see the [module docs](super) for the
/// definitions. Absent values are events that have not happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseMetrics {
    /// When the case was created.
    pub created_at: DateTime<Utc>,
    /// The status after the last event.
    pub status: CaseStatus,
    /// Creation to the first public agent reply.
    pub first_reply: Option<Timing>,
    /// Each customer message (after the first reply) to the agent reply answering it.
    pub next_replies: Vec<Timing>,
    /// Creation to the first solve.
    pub first_resolution: Option<Timing>,
    /// Creation to the final solve; absent unless the case is resolved now.
    pub full_resolution: Option<Timing>,
    /// Time in New, Open and On-hold, once resolved.
    pub requester_wait: Option<Timing>,
    /// Time in Pending, once resolved.
    pub agent_wait: Option<Timing>,
    /// Time in On-hold, once resolved.
    pub on_hold: Option<Timing>,
    /// Public agent replies.
    pub agent_replies: u32,
    /// `Reopened` events.
    pub reopens: u32,
    /// Resolved with at most one agent reply; absent unless resolved.
    pub one_touch: Option<bool>,
    /// Resolved on first contact by the [`FcrRule`]; absent unless resolved.
    pub first_contact_resolution: Option<bool>,
    /// Whether a bot replied or escalated.
    pub bot_handled: bool,
    /// Whether the case was escalated from a bot to a human.
    pub escalated: bool,
    /// For a resolved case a bot took part in: resolved without a human.
    pub bot_contained: Option<bool>,
    /// The first escalation to the first public agent reply after it.
    pub time_to_human: Option<Timing>,
}

impl CaseMetrics {
    /// The metrics of a case.
    ///
    /// # Errors
    /// [`ServiceError::BusinessTime`] for instants outside the calendar's
    /// range (a [`Case`] is otherwise always a valid history).
    pub fn of(
        case: &Case,
        calendar: &BusinessCalendar,
        rule: &FcrRule,
    ) -> Result<Self, ServiceError> {
        Self::from_events(case.events(), calendar, rule)
    }

    /// The metrics of a raw event history (from an import, say), checked
    /// the way [`Case::record`] checks it.
    ///
    /// # Errors
    /// [`ServiceError::EmptyHistory`], [`ServiceError::NotCreatedFirst`]
    /// (a solve before the creation, a second creation),
    /// [`ServiceError::OutOfOrder`], [`ServiceError::Transition`],
    /// [`ServiceError::BusinessTime`].
    pub fn from_events(
        events: &[CaseEvent],
        calendar: &BusinessCalendar,
        rule: &FcrRule,
    ) -> Result<Self, ServiceError> {
        let r = Replay::run(events, calendar, None)?;
        let resolved = r.final_solve.is_some();
        let timing = |at: Option<DateTime<Utc>>| -> Result<Option<Timing>, ServiceError> {
            at.map(|at| Timing::between(calendar, r.created, at))
                .transpose()
        };
        let time_to_human = match (r.escalated_at, r.human_after_escalation) {
            (Some(a), Some(b)) => Some(Timing::between(calendar, a, b)?),
            _ => None,
        };
        let fcr = resolved.then_some(
            r.agent_replies <= rule.max_agent_replies
                && (rule.allow_reopen || r.reopens == 0)
                && (rule.allow_customer_follow_up || r.customer_follow_ups == 0),
        );
        Ok(Self {
            created_at: r.created,
            status: r.status,
            first_reply: timing(r.first_reply)?,
            first_resolution: timing(r.first_solve)?,
            full_resolution: timing(r.final_solve)?,
            requester_wait: resolved.then_some(r.requester_wait),
            agent_wait: resolved.then_some(r.agent_wait),
            on_hold: resolved.then_some(r.on_hold),
            agent_replies: r.agent_replies,
            reopens: r.reopens,
            one_touch: resolved.then_some(r.agent_replies <= 1),
            first_contact_resolution: fcr,
            bot_handled: r.bot_handled,
            escalated: r.escalated_at.is_some(),
            bot_contained: (resolved && r.bot_handled)
                .then_some(r.escalated_at.is_none() && r.agent_replies == 0),
            time_to_human,
            next_replies: r.next_replies,
        })
    }
}

/// One pass over a history, up to an optional instant.
pub(super) struct Replay {
    pub(super) created: DateTime<Utc>,
    pub(super) status: CaseStatus,
    pub(super) first_reply: Option<DateTime<Utc>>,
    pub(super) next_replies: Vec<Timing>,
    /// A customer message waiting for an agent reply (after the first reply).
    pub(super) waiting_since: Option<DateTime<Utc>>,
    pub(super) first_solve: Option<DateTime<Utc>>,
    /// The last solve, while the case has not been reopened since.
    pub(super) final_solve: Option<DateTime<Utc>>,
    pub(super) requester_wait: Timing,
    pub(super) agent_wait: Timing,
    pub(super) on_hold: Timing,
    pub(super) agent_replies: u32,
    pub(super) reopens: u32,
    pub(super) customer_follow_ups: u32,
    pub(super) bot_handled: bool,
    pub(super) escalated_at: Option<DateTime<Utc>>,
    pub(super) human_after_escalation: Option<DateTime<Utc>>,
}

impl Replay {
    /// Replays `events`; with `as_of`, only events at or before it, and the
    /// status time runs on to `as_of`.
    pub(super) fn run(
        events: &[CaseEvent],
        calendar: &BusinessCalendar,
        as_of: Option<DateTime<Utc>>,
    ) -> Result<Self, ServiceError> {
        let first = events.first().ok_or(ServiceError::EmptyHistory)?;
        let (by_agent, public_opening) = match first.kind() {
            CaseEventKind::Created {
                by_agent,
                public_message,
            } => (by_agent, public_message),
            other => {
                return Err(ServiceError::NotCreatedFirst {
                    index: 0,
                    kind: kind_name(&other),
                });
            }
        };
        let created = first.at();
        if let Some(as_of) = as_of
            && as_of < created
        {
            return Err(ServiceError::BeforeCreation { as_of, created });
        }
        let mut r = Self {
            created,
            status: CaseStatus::New,
            first_reply: None,
            next_replies: Vec::new(),
            waiting_since: None,
            first_solve: None,
            final_solve: None,
            requester_wait: Timing::default(),
            agent_wait: Timing::default(),
            on_hold: Timing::default(),
            agent_replies: 0,
            reopens: 0,
            customer_follow_ups: 0,
            bot_handled: matches!(first.actor(), Actor::Bot(_)),
            escalated_at: None,
            human_after_escalation: None,
        };
        let mut since = created;
        let mut previous = created;
        for (index, e) in events.iter().enumerate().skip(1) {
            let at = e.at();
            if at < previous {
                return Err(ServiceError::OutOfOrder {
                    index,
                    previous,
                    at,
                });
            }
            previous = at;
            if as_of.is_some_and(|t| at > t) {
                break;
            }
            let kind = e.kind();
            let next = next_status(r.status, &kind).ok_or_else(|| match kind {
                CaseEventKind::Created { .. } => ServiceError::NotCreatedFirst {
                    index,
                    kind: "created",
                },
                _ => ServiceError::Transition {
                    index,
                    kind: kind_name(&kind),
                    status: r.status,
                },
            })?;
            if next != r.status {
                r.close_status(calendar, since, at)?;
                since = at;
            }
            match kind {
                CaseEventKind::PublicReply => {
                    let opening = by_agent
                        && public_opening
                        && at == created
                        && r.first_reply.is_none()
                        && r.agent_replies == 0
                        && first.actor() == e.actor();
                    if !opening {
                        r.agent_replies += 1;
                        if r.first_reply.is_none() {
                            r.first_reply = Some(at);
                        }
                        if let Some(start) = r.waiting_since.take() {
                            r.next_replies.push(Timing::between(calendar, start, at)?);
                        }
                        if r.escalated_at.is_some() && r.human_after_escalation.is_none() {
                            r.human_after_escalation = Some(at);
                        }
                    }
                }
                CaseEventKind::CustomerReply if r.first_reply.is_some() => {
                    r.customer_follow_ups += 1;
                    if r.waiting_since.is_none() {
                        r.waiting_since = Some(at);
                    }
                }
                CaseEventKind::BotReply => r.bot_handled = true,
                CaseEventKind::EscalatedToHuman => {
                    r.bot_handled = true;
                    if r.escalated_at.is_none() {
                        r.escalated_at = Some(at);
                    }
                }
                CaseEventKind::Solved => {
                    r.waiting_since = None;
                    if r.first_solve.is_none() {
                        r.first_solve = Some(at);
                    }
                    r.final_solve = Some(at);
                }
                CaseEventKind::Reopened => {
                    r.reopens += 1;
                    r.final_solve = None;
                }
                CaseEventKind::Closed => r.waiting_since = None,
                _ => {}
            }
            if matches!(e.actor(), Actor::Bot(_)) {
                r.bot_handled = true;
            }
            r.status = next;
        }
        let end = as_of.unwrap_or(previous).max(since);
        r.close_status(calendar, since, end)?;
        Ok(r)
    }

    /// Adds the time from `start` to `end` spent in the current status.
    fn close_status(
        &mut self,
        calendar: &BusinessCalendar,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> Result<(), ServiceError> {
        if end <= start {
            return Ok(());
        }
        let bucket = match self.status {
            CaseStatus::New | CaseStatus::Open => &mut self.requester_wait,
            CaseStatus::OnHold => {
                let t = Timing::between(calendar, start, end)?;
                self.on_hold.add(t);
                self.requester_wait.add(t);
                return Ok(());
            }
            CaseStatus::Pending => &mut self.agent_wait,
            CaseStatus::Solved | CaseStatus::Closed => return Ok(()),
        };
        bucket.add(Timing::between(calendar, start, end)?);
        Ok(())
    }
}

/// The status after `kind` in status `from`, by the table of
/// [`Case`]; `None` if the event is not allowed.
fn next_status(from: CaseStatus, kind: &CaseEventKind) -> Option<CaseStatus> {
    crate::domain::case_status_after(Some(from), kind).ok()
}

fn kind_name(kind: &CaseEventKind) -> &'static str {
    match kind {
        CaseEventKind::Created { .. } => "created",
        CaseEventKind::PublicReply => "public_reply",
        CaseEventKind::PrivateNote => "private_note",
        CaseEventKind::CustomerReply => "customer_reply",
        CaseEventKind::BotReply => "bot_reply",
        CaseEventKind::EscalatedToHuman => "escalated_to_human",
        CaseEventKind::StatusChanged { .. } => "status_changed",
        CaseEventKind::Solved => "solved",
        CaseEventKind::Reopened => "reopened",
        CaseEventKind::Closed => "closed",
        CaseEventKind::Assigned { .. } => "assigned",
    }
}
