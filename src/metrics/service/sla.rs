//! Service level agreements: targets per priority and their status.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::ServiceError;
use super::case::{Replay, Timing};
use crate::domain::{BusinessCalendar, BusinessTimeError, Case, CaseEvent, CaseStatus, Priority};
use crate::error::ValidationError;

/// Which clock a target runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Clock {
    /// Elapsed time, around the clock.
    Calendar,
    /// Business time in the calendar given to the evaluation.
    Business,
}

/// A time limit on one clock.
///
/// # Example
/// ```
/// use chrono::Duration;
/// use crmkit::metrics::service::{Clock, SlaTarget};
/// let t = SlaTarget::new(Duration::hours(4), Clock::Business)?;
/// assert_eq!(t.limit(), Duration::hours(4));
/// assert!(SlaTarget::new(Duration::zero(), Clock::Calendar).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "SlaTargetRepr")]
pub struct SlaTarget {
    limit: Duration,
    clock: Clock,
}

#[derive(Deserialize)]
struct SlaTargetRepr {
    limit: Duration,
    clock: Clock,
}

impl TryFrom<SlaTargetRepr> for SlaTarget {
    type Error = ValidationError;
    fn try_from(r: SlaTargetRepr) -> Result<Self, Self::Error> {
        Self::new(r.limit, r.clock)
    }
}

impl SlaTarget {
    /// A target of `limit` on `clock`.
    ///
    /// # Errors
    /// [`ValidationError::OutOfRange`] unless `limit` is positive.
    pub fn new(limit: Duration, clock: Clock) -> Result<Self, ValidationError> {
        if limit > Duration::zero() {
            Ok(Self { limit, clock })
        } else {
            Err(ValidationError::OutOfRange {
                field: "sla_target.limit",
                value: limit.to_string(),
                range: "> 0".to_string(),
            })
        }
    }

    /// The time allowed.
    pub const fn limit(&self) -> Duration {
        self.limit
    }

    /// The clock it runs on.
    pub const fn clock(&self) -> Clock {
        self.clock
    }

    fn pick(&self, t: Timing) -> Duration {
        match self.clock {
            Clock::Calendar => t.calendar,
            Clock::Business => t.business,
        }
    }

    /// The status of a clock that has run `elapsed`; `running` if it still
    /// runs at `as_of`, `paused` if it is stopped for now but not finished.
    fn status(
        &self,
        elapsed: Timing,
        finished: bool,
        running: bool,
        as_of: DateTime<Utc>,
        calendar: &BusinessCalendar,
    ) -> Result<SlaStatus, ServiceError> {
        let elapsed = self.pick(elapsed);
        if elapsed > self.limit {
            return Ok(SlaStatus::Breached { elapsed });
        }
        if finished {
            return Ok(SlaStatus::Met { elapsed });
        }
        let remaining = self.limit - elapsed;
        let due = if running {
            Some(match self.clock {
                Clock::Calendar => as_of
                    .checked_add_signed(remaining)
                    .ok_or(BusinessTimeError::OutOfRange { instant: as_of })?,
                Clock::Business => calendar.add_business_time(as_of, remaining)?,
            })
        } else {
            None
        };
        Ok(SlaStatus::InProgress {
            elapsed,
            remaining,
            due,
        })
    }
}

/// The targets for one priority; a target left out does not apply.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SlaTargets {
    /// Creation to the first public agent reply; never pauses.
    pub first_reply: Option<SlaTarget>,
    /// Each customer message to the agent reply answering it; never pauses.
    pub next_reply: Option<SlaTarget>,
    /// Requester wait time (New, Open, On-hold) until the final solve: the
    /// clock pauses while the case is pending on the customer.
    pub resolution: Option<SlaTarget>,
}

/// An SLA policy: targets per case priority.
///
/// # Example
/// ```
/// use chrono::{Duration, TimeZone, Utc};
/// use crmkit::domain::*;
/// use crmkit::metrics::service::{Clock, SlaPolicy, SlaStatus, SlaTarget, SlaTargets};
/// let policy = SlaPolicy::new().with(Priority::Urgent, SlaTargets {
///     first_reply: Some(SlaTarget::new(Duration::hours(1), Clock::Calendar)?),
///     ..SlaTargets::default()
/// });
/// let t0 = Utc.with_ymd_and_hms(2026, 3, 2, 10, 0, 0).single().ok_or("time")?;
/// let case = Case::open(
///     CaseId::from_u128(1), CustomerId::from_u128(2), "Site down", Priority::Urgent,
///     Channel::Phone,
///     CaseEvent::new(t0, Actor::Customer,
///         CaseEventKind::Created { by_agent: false, public_message: true }),
/// )?;
/// let calendar = BusinessCalendar::always(chrono_tz::UTC);
/// let sla = policy.evaluate(&case, &calendar, t0 + Duration::minutes(45))?;
/// assert!(matches!(sla.first_reply,
///     Some(SlaStatus::InProgress { remaining, .. }) if remaining == Duration::minutes(15)));
/// let later = policy.evaluate(&case, &calendar, t0 + Duration::minutes(61))?;
/// assert!(matches!(later.first_reply, Some(SlaStatus::Breached { .. })));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlaPolicy {
    targets: BTreeMap<Priority, SlaTargets>,
}

/// Where one SLA target stands for one case at an instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SlaStatus {
    /// Achieved within the limit.
    Met {
        /// Time used, on the target's clock.
        elapsed: Duration,
    },
    /// The limit was exceeded (whether achieved late or not yet achieved).
    Breached {
        /// Time used so far, on the target's clock.
        elapsed: Duration,
    },
    /// Not achieved yet, still within the limit.
    InProgress {
        /// Time used so far, on the target's clock.
        elapsed: Duration,
        /// Time left, on the target's clock.
        remaining: Duration,
        /// When it breaches if the clock keeps running; `None` while the
        /// clock is paused (a resolution clock while pending).
        due: Option<DateTime<Utc>>,
    },
}

/// The SLA status of one case per target (absent where no target applies:
/// no target for the priority, no reply was needed, or the case was closed
/// without a solve).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseSla {
    /// First reply target.
    pub first_reply: Option<SlaStatus>,
    /// Next reply target: breached if any next reply breached, in progress
    /// while a customer message waits within the limit, else met.
    pub next_reply: Option<SlaStatus>,
    /// Resolution target.
    pub resolution: Option<SlaStatus>,
}

impl SlaPolicy {
    /// A policy with no targets.
    pub fn new() -> Self {
        Self::default()
    }

    /// This policy with `targets` for `priority` (replacing earlier ones).
    pub fn with(mut self, priority: Priority, targets: SlaTargets) -> Self {
        let _ = self.targets.insert(priority, targets);
        self
    }

    /// The targets for `priority` (none if not set).
    pub fn targets(&self, priority: Priority) -> SlaTargets {
        self.targets.get(&priority).copied().unwrap_or_default()
    }

    /// The status of `case` at `as_of`, from the events up to `as_of`.
    ///
    /// # Errors
    /// [`ServiceError::BeforeCreation`] if `as_of` is before the case was
    /// created; [`ServiceError::BusinessTime`].
    pub fn evaluate(
        &self,
        case: &Case,
        calendar: &BusinessCalendar,
        as_of: DateTime<Utc>,
    ) -> Result<CaseSla, ServiceError> {
        self.evaluate_events(case.priority(), case.events(), calendar, as_of)
    }

    /// [`SlaPolicy::evaluate`] for a raw history.
    ///
    /// # Errors
    /// As [`CaseMetrics::from_events`](super::CaseMetrics::from_events), and
    /// [`ServiceError::BeforeCreation`].
    pub fn evaluate_events(
        &self,
        priority: Priority,
        events: &[CaseEvent],
        calendar: &BusinessCalendar,
        as_of: DateTime<Utc>,
    ) -> Result<CaseSla, ServiceError> {
        let targets = self.targets(priority);
        let r = Replay::run(events, calendar, Some(as_of))?;
        let done = matches!(r.status, CaseStatus::Solved | CaseStatus::Closed);
        let first_reply = match (targets.first_reply, r.first_reply) {
            (None, _) => None,
            (Some(t), Some(at)) => Some(t.status(
                Timing::between(calendar, r.created, at)?,
                true,
                false,
                as_of,
                calendar,
            )?),
            // Solved or closed without a reply: no reply was owed.
            (Some(_), None) if done => None,
            (Some(t), None) => Some(t.status(
                Timing::between(calendar, r.created, as_of)?,
                false,
                true,
                as_of,
                calendar,
            )?),
        };
        let next_reply = match targets.next_reply {
            None => None,
            Some(t) => {
                let mut worst: Option<SlaStatus> = None;
                for timing in &r.next_replies {
                    let s = t.status(*timing, true, false, as_of, calendar)?;
                    worst = Some(worse(worst, s));
                }
                if let Some(start) = r.waiting_since {
                    let s = t.status(
                        Timing::between(calendar, start, as_of)?,
                        false,
                        true,
                        as_of,
                        calendar,
                    )?;
                    worst = Some(worse(worst, s));
                }
                worst
            }
        };
        let resolution = match targets.resolution {
            None => None,
            Some(t) if r.final_solve.is_some() => {
                Some(t.status(r.requester_wait, true, false, as_of, calendar)?)
            }
            // Closed without a solve: no resolution to measure.
            Some(_) if done => None,
            Some(t) => {
                let running = r.status != CaseStatus::Pending;
                Some(t.status(r.requester_wait, false, running, as_of, calendar)?)
            }
        };
        Ok(CaseSla {
            first_reply,
            next_reply,
            resolution,
        })
    }
}

/// Breached beats in progress beats met.
fn worse(a: Option<SlaStatus>, b: SlaStatus) -> SlaStatus {
    let rank = |s: &SlaStatus| match s {
        SlaStatus::Met { .. } => 0,
        SlaStatus::InProgress { .. } => 1,
        SlaStatus::Breached { .. } => 2,
    };
    match a {
        Some(a) if rank(&a) >= rank(&b) => a,
        _ => b,
    }
}

/// Counts of SLA statuses; compliance = met / (met + breached).
///
/// # Example
/// ```
/// use chrono::Duration;
/// use crmkit::metrics::service::{SlaCompliance, SlaStatus};
/// let mut c = SlaCompliance::default();
/// c.push(Some(SlaStatus::Met { elapsed: Duration::hours(1) }));
/// c.push(Some(SlaStatus::Met { elapsed: Duration::hours(2) }));
/// c.push(Some(SlaStatus::Breached { elapsed: Duration::hours(9) }));
/// c.push(Some(SlaStatus::InProgress { elapsed: Duration::zero(), remaining: Duration::hours(1), due: None }));
/// c.push(None);
/// // 2 met / (2 met + 1 breached); in progress and absent do not count.
/// assert_eq!(c.compliance(), Some(2.0 / 3.0));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SlaCompliance {
    /// Targets met.
    pub met: u64,
    /// Targets breached.
    pub breached: u64,
    /// Targets still in progress.
    pub in_progress: u64,
}

impl SlaCompliance {
    /// Counts one status (absent counts nowhere).
    pub fn push(&mut self, status: Option<SlaStatus>) {
        match status {
            Some(SlaStatus::Met { .. }) => self.met += 1,
            Some(SlaStatus::Breached { .. }) => self.breached += 1,
            Some(SlaStatus::InProgress { .. }) => self.in_progress += 1,
            None => {}
        }
    }

    /// Adds another partial count.
    pub fn merge(&mut self, other: &Self) {
        self.met += other.met;
        self.breached += other.breached;
        self.in_progress += other.in_progress;
    }

    /// `met / (met + breached)`; `None` when nothing is decided yet.
    pub fn compliance(&self) -> Option<f64> {
        let decided = self.met + self.breached;
        (decided > 0).then(|| self.met as f64 / decided as f64)
    }
}
