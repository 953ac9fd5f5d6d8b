//! Closed-loop follow-up: who to contact, on which consented channel, when,
//! under one stable idempotency key.
//!
//! A survey nobody acts on teaches customers that feedback is ignored. This
//! module plans the follow-up and hands it to the application's own
//! transport (e-mail, SMS, a phone queue):
//!
//! 1. [`RuleSet`] ([`policy`]): follow-up rules as data (serde, with a format
//!    version) and sensible defaults: NPS detractors and low CSAT get a
//!    personal follow-up, complaints and reopened cases a human (never a
//!    bot), cases unresolved past a business-hours threshold are escalated,
//!    quiet customers get a check-in, newsletters go only to the opted-in.
//! 2. [`Planner`] ([`planner`]): turns new events into [`FollowUpTask`]s with
//!    a channel the customer consented to (or a task for a person), a due
//!    time, the customer's locale and a deterministic [`IdempotencyKey`]
//!    derived from the rule and the source event. It keeps quiet hours in
//!    the customer's own time zone and a frequency cap per customer.
//! 3. [`OutboxStore`] ([`outbox`]): tasks are stored before anything is sent;
//!    the [`Dispatcher`] re-checks consent at send time, hands each message
//!    to the [`Transport`] ([`transport`]) at least once and always under its
//!    one key, and records the outbound interaction when the transport
//!    confirms. The stores are outboxes too
//!    ([`MemoryStore`](crate::store::memory::MemoryStore), the SQLite
//!    store): the receipt and the interaction on the customer's history
//!    are then written in one transaction, and erasing a customer skips
//!    their pending follow-ups.
//! 4. [`ClosedLoopReport`] ([`metrics`]): share of detractors contacted
//!    within target, time to follow-up, recovery of the next score.
//!
//! # Example
//! ```
//! use chrono::{DateTime, Utc};
//! use crmkit::domain::*;
//! use crmkit::outreach::*;
//!
//! let t0: DateTime<Utc> = "2026-03-02T10:00:00Z".parse()?;
//! let customer = Customer::builder(CustomerId::from_u128(1), CustomerKind::Individual, t0)
//!     .contact_point(ContactPoint::new(ContactValue::Email(EmailAddress::new("a@example.com")?), true, None))
//!     .consent(ConsentRecord::new(ConsentPurpose::ServiceMessages, ConsentStatus::Given,
//!         t0, ConsentSource::WebForm))
//!     .build()?;
//! let response = SurveyResponse::on_scale(ResponseId::from_u128(9), SurveyId::from_u128(3),
//!     Scale::nps(), customer.id(), t0, 3)?;
//! let calendar = BusinessCalendar::weekdays(chrono_tz::Tz::UTC, "09:00".parse()?, "17:00".parse()?)?;
//! let planner = Planner::new(RuleSet::default(), calendar);
//! let events = [Event::Response(&response)];
//! let plan = planner.plan(&PlanInput::new(t0, std::slice::from_ref(&customer), &events))?;
//! assert_eq!(plan.tasks.len(), 1);
//! assert_eq!(plan.tasks[0].message().channel, Some(Channel::Email));
//! // Planning again gives the same task under the same key.
//! let again = planner.plan(&PlanInput::new(t0, std::slice::from_ref(&customer), &events))?;
//! assert_eq!(again.tasks, plan.tasks);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::domain::{BusinessTimeError, Version};
use crate::error::ValidationError;

pub mod metrics;
pub mod outbox;
pub mod planner;
pub mod policy;
#[cfg(feature = "testkit")]
#[cfg_attr(docsrs, doc(cfg(feature = "testkit")))]
pub mod testkit;
pub mod transport;

pub use metrics::{ClosedLoopReport, FollowUpTimes, Recovery};
pub use outbox::{
    CustomerDirectory, DispatchReport, Dispatcher, DispatcherConfig, InsertReport, MemoryOutbox,
    OutboxEntry, OutboxStore, SkipReason, StoreDirectory, TaskState, check_transition,
};
pub use planner::{
    Delivery, Event, FollowUpTask, NotPlanned, NotPlannedReason, PersonReason, Plan, PlanInput,
    Planner, SourceRef,
};
pub use policy::{
    FORMAT_VERSION, FrequencyCap, QuietHours, Rule, RuleAction, RuleId, RuleSet, TargetTime,
    Trigger,
};
pub use transport::{OutboundMessage, Receipt, Transport, TransportError};

/// The namespace of every crmkit idempotency key (a UUIDv5 namespace).
const KEY_NAMESPACE: Uuid = Uuid::from_u128(0x6a1f_0c3e_9b7d_4e21_8d55_c0ff_ee00_f011);

/// The stable key of one follow-up: a UUIDv5 of the rule id and the source
/// event, so planning the same event under the same rule always gives the
/// same key, and a transport that deduplicates on it delivers once.
///
/// # Example
/// ```
/// use crmkit::outreach::IdempotencyKey;
/// let a = IdempotencyKey::derive("nps_detractor", "response:1");
/// assert_eq!(a, IdempotencyKey::derive("nps_detractor", "response:1"));
/// assert_ne!(a, IdempotencyKey::derive("low_csat", "response:1"));
/// let parsed: IdempotencyKey = a.to_string().parse()?;
/// assert_eq!(parsed, a);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct IdempotencyKey(Uuid);

impl IdempotencyKey {
    /// The key of `rule` fired by `source` (both as stable text). The two
    /// parts are joined with a separator that neither a rule id nor a source
    /// reference contains, so different pairs never share their input.
    pub fn derive(rule: &str, source: &str) -> Self {
        let mut name = Vec::with_capacity(rule.len() + source.len() + 1);
        name.extend_from_slice(rule.as_bytes());
        name.push(0x1f);
        name.extend_from_slice(source.as_bytes());
        Self(Uuid::new_v5(&KEY_NAMESPACE, &name))
    }

    /// The UUID inside.
    pub const fn as_uuid(&self) -> Uuid {
        self.0
    }
}

impl fmt::Display for IdempotencyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl std::str::FromStr for IdempotencyKey {
    type Err = ValidationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Uuid::parse_str(s)
            .map(Self)
            .map_err(|_| ValidationError::Format {
                field: "idempotency_key",
                value: s.to_owned(),
                reason: "expected a UUID",
            })
    }
}

/// A follow-up operation failed: a rule set, the planner, the outbox or the
/// dispatcher.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OutreachError {
    /// A rule set (or a rule, quiet hours, a frequency cap) is invalid:
    /// contradictory thresholds, duplicate rule ids, empty values.
    #[error("invalid follow-up rules: {0}")]
    InvalidRules(#[source] ValidationError),
    /// A rule set document could not be read (malformed JSON, an unknown
    /// field, a missing field).
    #[error("cannot read follow-up rules: {reason}")]
    RuleFormat {
        /// What the parser reported.
        reason: String,
    },
    /// A rule set was written in a format version this crmkit does not know.
    #[error("follow-up rules have format version {found}, this crmkit reads {supported}")]
    UnsupportedFormatVersion {
        /// The version in the document.
        found: u32,
        /// The version this build reads.
        supported: u32,
    },
    /// A due time could not be computed on the business calendar.
    #[error(transparent)]
    BusinessTime(#[from] BusinessTimeError),
    /// No outbox entry has this key.
    #[error("no outbox entry with key {key}")]
    NotFound {
        /// The key looked up.
        key: IdempotencyKey,
    },
    /// An outbox entry changed since the caller read it.
    #[error("outbox entry {key} changed meanwhile: expected version {expected}, found {found}")]
    Conflict {
        /// The entry's key.
        key: IdempotencyKey,
        /// The version the caller expected.
        expected: Version,
        /// The version stored.
        found: Version,
    },
    /// A task was inserted under a key that already holds a different task:
    /// one key never stands for two different messages.
    #[error("outbox key {key} already holds a different task")]
    KeyReuse {
        /// The key.
        key: IdempotencyKey,
    },
    /// A state change the outbox workflow does not allow (for example
    /// anything after `sent`).
    #[error("outbox entry {key} cannot change from {from} to {to}")]
    Transition {
        /// The entry's key.
        key: IdempotencyKey,
        /// The current state.
        from: &'static str,
        /// The requested state.
        to: &'static str,
    },
    /// A customer directory or an outbox backend failed.
    #[error("follow-up backend failed: {0}")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync + 'static>),
}

impl OutreachError {
    /// A backend error from any error value.
    pub fn backend(err: impl Into<Box<dyn std::error::Error + Send + Sync + 'static>>) -> Self {
        Self::Backend(err.into())
    }
}

impl From<ValidationError> for OutreachError {
    fn from(e: ValidationError) -> Self {
        Self::InvalidRules(e)
    }
}

impl From<crate::store::StoreError> for OutreachError {
    /// A store failure under an outbox operation (the store-backed outboxes
    /// run in the store's own unit of work).
    fn from(e: crate::store::StoreError) -> Self {
        Self::Backend(Box::new(e))
    }
}
