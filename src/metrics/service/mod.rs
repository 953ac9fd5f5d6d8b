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
mod tests;
