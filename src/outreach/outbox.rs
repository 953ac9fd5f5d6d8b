//! The outbox: tasks are stored before anything is sent, then handed to the
//! transport at least once under their one key.
//!
//! # States
//!
//! ```text
//! planned ──claim──> sending ──receipt──> sent            (terminal)
//!    │                  │ └──error──> failed (retryable) ──claim──> sending
//!    │                  │                └──too many / permanent──> failed (permanent, terminal)
//!    │                  └──lease expired (a crash)──claim──> sending (same key, same message)
//!    └──consent withdrawn / customer erased / superseded──> skipped (terminal)
//! ```
//!
//! # Contract of an [`OutboxStore`]
//!
//! - **Keys.** An entry is identified by its task's [`IdempotencyKey`].
//!   Inserting a task whose key is stored with an identical task changes
//!   nothing; with a different task it fails with
//!   [`OutreachError::KeyReuse`]: one key never stands for two messages.
//!   A bulk insert is all or nothing.
//! - **Versions.** Entries are [`Versioned`]; a write naming a version that
//!   is not the stored one fails with [`OutreachError::Conflict`] and
//!   changes nothing. Concurrent dispatchers therefore never both claim an
//!   entry.
//! - **Transitions** follow the diagram; others fail with
//!   [`OutreachError::Transition`]. `sent`, `skipped` and permanently
//!   `failed` are terminal, so a message whose receipt was recorded is never
//!   handed over again. Only [`OutboxStore::record_sent`] enters `sent`,
//!   and it stores the outbound interaction in the same atomic step.
//! - **Due entries** are those in `planned`, retryable `failed` or
//!   `sending` whose `not_before` is at or before the given instant, in
//!   order of `not_before`, then key.
//! - **Claims.** A dispatcher claims an entry by [`OutboxStore::update`]
//!   from the version it read to `sending`; of several dispatchers that
//!   read the same version, exactly one succeeds and the others get
//!   [`OutreachError::Conflict`] and leave the entry alone. No separate
//!   claim operation is needed.
//! - **Erasure.** A store that also holds the customers (as
//!   [`MemoryStore`](crate::store::memory::MemoryStore) and the SQLite
//!   store do) applies [`OutboxEntry::erase_personal`] to the customer's
//!   entries in the same unit of work as the erasure, so nothing pending is
//!   handed over for an erased customer.
//!
//! # Which outbox
//!
//! - [`MemoryStore`](crate::store::memory::MemoryStore) and
//!   `store::sqlite::SqliteStore` (feature `sqlite`) are outboxes
//!   themselves: entries live beside the customers and their history, the
//!   outbound interaction of a receipt goes into the store's own
//!   interactions in the receipt's transaction, and erasure reaches the
//!   outbox. Use these when crmkit's store holds your customers.
//! - [`MemoryOutbox`] is a stand-alone outbox for when customers and
//!   history live elsewhere (your own database behind a
//!   [`CustomerDirectory`]): it keeps the recorded interactions for you to
//!   copy ([`MemoryOutbox::recorded_interactions`]), and its contents are
//!   lost when it is dropped. It is also the simplest reference of the
//!   contract.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Mutex, RwLock};

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::planner::FollowUpTask;
use super::policy::{QuietHours, Trigger, may_send};
use super::transport::{Receipt, Transport, TransportError};
use super::{IdempotencyKey, OutreachError};
use crate::domain::{
    Customer, CustomerId, Direction, Interaction, InteractionId, InteractionPurpose, Version,
    Versioned,
};

/// Why an entry was skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SkipReason {
    /// Consent for the purpose or channel was withdrawn after planning (or
    /// the contact point was removed).
    ConsentWithdrawn,
    /// The customer's personal data was erased.
    CustomerErased,
    /// The customer no longer exists.
    UnknownCustomer,
    /// A newer task of the same rule for the same customer replaces it.
    Superseded {
        /// The newer task.
        by: IdempotencyKey,
    },
}

/// Where an outbox entry is in its life.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum TaskState {
    /// Stored, not yet handed over.
    Planned,
    /// Claimed by a dispatcher and being handed over (attempt `attempts`).
    Sending {
        /// When the attempt started.
        since: DateTime<Utc>,
    },
    /// The transport confirmed it; the outbound interaction is recorded.
    Sent {
        /// The transport's receipt.
        receipt: Receipt,
        /// When the receipt was recorded.
        recorded_at: DateTime<Utc>,
    },
    /// The last attempt failed.
    Failed {
        /// Whether it will be tried again (at `not_before`).
        retryable: bool,
        /// The transport's error, as text.
        error: String,
    },
    /// Not sent, on purpose.
    Skipped {
        /// Why.
        reason: SkipReason,
        /// When it was decided.
        at: DateTime<Utc>,
    },
}

impl TaskState {
    /// The state's name (`planned`, `sending`, `sent`, `failed`, `skipped`).
    pub const fn name(&self) -> &'static str {
        match self {
            Self::Planned => "planned",
            Self::Sending { .. } => "sending",
            Self::Sent { .. } => "sent",
            Self::Failed { .. } => "failed",
            Self::Skipped { .. } => "skipped",
        }
    }

    /// Whether nothing more will happen to the entry.
    pub const fn is_terminal(&self) -> bool {
        matches!(
            self,
            Self::Sent { .. }
                | Self::Skipped { .. }
                | Self::Failed {
                    retryable: false,
                    ..
                }
        )
    }
}

/// A task in the outbox with its state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutboxEntry {
    /// The task, as planned (never changed, except that merging its
    /// customer into another re-points it: see [`OutboxEntry::reassign`]).
    pub task: FollowUpTask,
    /// Its state.
    pub state: TaskState,
    /// How many times it was handed to the transport (or claimed for it).
    pub attempts: u32,
    /// The earliest time a dispatcher looks at it again.
    pub not_before: DateTime<Utc>,
}

impl OutboxEntry {
    /// A freshly planned entry.
    pub fn planned(task: FollowUpTask) -> Self {
        let not_before = task.send_after();
        Self {
            task,
            state: TaskState::Planned,
            attempts: 0,
            not_before,
        }
    }

    /// The key.
    pub const fn key(&self) -> IdempotencyKey {
        self.task.key()
    }

    /// Whether a dispatcher should look at it at `now`.
    pub fn is_due(&self, now: DateTime<Utc>) -> bool {
        !self.state.is_terminal() && self.not_before <= now
    }

    /// What erasing the customer's personal data does to the entry, at
    /// `at`; returns whether it changed (and so needs a new version).
    ///
    /// The task itself holds no contact data (the transport resolves the
    /// address from the customer id), so it stays as planned. An entry that
    /// may still be handed over (`planned`, `sending`, retryable `failed`)
    /// becomes `skipped` with [`SkipReason::CustomerErased`], so nothing is
    /// sent to an erased customer; the error text of a permanent failure,
    /// free text from the transport that may quote an address, is replaced
    /// by `<erased>`. `sent` and `skipped` entries are kept as they are
    /// (the anonymous facts the closed-loop metrics read).
    ///
    /// The stores shipped here call it for every entry of the customer in
    /// the same unit of work as
    /// [`CustomerStore::erase_customer`](crate::store::CustomerStore::erase_customer).
    ///
    /// # Example
    /// ```
    /// use chrono::{DateTime, Utc};
    /// use crmkit::outreach::{OutboxEntry, SkipReason, TaskState};
    /// # fn entry() -> Result<OutboxEntry, Box<dyn std::error::Error>> {
    /// #     use crmkit::domain::*;
    /// #     use crmkit::outreach::*;
    /// #     let t0: DateTime<Utc> = "2026-03-02T10:00:00Z".parse()?;
    /// #     let c = Customer::builder(CustomerId::from_u128(1), CustomerKind::Individual, t0)
    /// #         .contact_point(ContactPoint::new(ContactValue::Email(EmailAddress::new("a@example.com")?), true, None))
    /// #         .consent(ConsentRecord::new(ConsentPurpose::ServiceMessages, ConsentStatus::Given, t0, ConsentSource::WebForm))
    /// #         .build()?;
    /// #     let r = SurveyResponse::on_scale(ResponseId::from_u128(9), SurveyId::from_u128(3), Scale::nps(), c.id(), t0, 3)?;
    /// #     let cal = BusinessCalendar::always(chrono_tz::Tz::UTC);
    /// #     let plan = Planner::new(RuleSet::default(), cal).plan(&PlanInput::new(t0, std::slice::from_ref(&c), &[Event::Response(&r)]))?;
    /// #     Ok(OutboxEntry::planned(plan.tasks[0].clone()))
    /// # }
    /// let mut e = entry()?; // a planned follow-up
    /// let at: DateTime<Utc> = "2026-03-03T00:00:00Z".parse()?;
    /// assert!(e.erase_personal(at));
    /// assert_eq!(e.state, TaskState::Skipped { reason: SkipReason::CustomerErased, at });
    /// assert!(!e.erase_personal(at)); // nothing left to change
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn erase_personal(&mut self, at: DateTime<Utc>) -> bool {
        const ERASED: &str = "<erased>";
        match &mut self.state {
            TaskState::Planned
            | TaskState::Sending { .. }
            | TaskState::Failed {
                retryable: true, ..
            } => {
                self.state = TaskState::Skipped {
                    reason: SkipReason::CustomerErased,
                    at,
                };
                true
            }
            TaskState::Failed {
                retryable: false,
                error,
            } if error != ERASED => {
                ERASED.clone_into(error);
                true
            }
            TaskState::Failed { .. } | TaskState::Sent { .. } | TaskState::Skipped { .. } => false,
        }
    }

    /// Re-points the entry from customer `from` to `to`, in any state, when
    /// `from` is merged into `to`; whether it was `from`'s. The key stays:
    /// it is derived from the rule and the source event, so planning the
    /// re-pointed event again finds this entry instead of a second message.
    ///
    /// The stores shipped here call it for every entry of the absorbed
    /// customer in the same unit of work as
    /// [`CustomerStore::merge_customers`](crate::store::CustomerStore::merge_customers).
    ///
    /// # Example
    /// ```
    /// use chrono::{DateTime, Utc};
    /// use crmkit::domain::CustomerId;
    /// use crmkit::outreach::{OutboxEntry, TaskState};
    /// # fn entry() -> Result<OutboxEntry, Box<dyn std::error::Error>> {
    /// #     use crmkit::domain::*;
    /// #     use crmkit::outreach::*;
    /// #     let t0: DateTime<Utc> = "2026-03-02T10:00:00Z".parse()?;
    /// #     let c = Customer::builder(CustomerId::from_u128(1), CustomerKind::Individual, t0)
    /// #         .contact_point(ContactPoint::new(ContactValue::Email(EmailAddress::new("a@example.com")?), true, None))
    /// #         .consent(ConsentRecord::new(ConsentPurpose::ServiceMessages, ConsentStatus::Given, t0, ConsentSource::WebForm))
    /// #         .build()?;
    /// #     let r = SurveyResponse::on_scale(ResponseId::from_u128(9), SurveyId::from_u128(3), Scale::nps(), c.id(), t0, 3)?;
    /// #     let cal = BusinessCalendar::always(chrono_tz::Tz::UTC);
    /// #     let plan = Planner::new(RuleSet::default(), cal).plan(&PlanInput::new(t0, std::slice::from_ref(&c), &[Event::Response(&r)]))?;
    /// #     Ok(OutboxEntry::planned(plan.tasks[0].clone()))
    /// # }
    /// let mut e = entry()?; // a planned follow-up of customer 1
    /// let (from, keep, key) = (CustomerId::from_u128(1), CustomerId::from_u128(2), e.key());
    /// assert!(e.reassign(from, keep));
    /// assert_eq!((e.task.customer(), e.key(), &e.state), (keep, key, &TaskState::Planned));
    /// assert!(!e.reassign(from, keep)); // no longer customer 1's
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn reassign(&mut self, from: CustomerId, to: CustomerId) -> bool {
        self.task.reassign(from, to)
    }
}

/// Checks a state change against the workflow (see the module docs). Every
/// store calls it, so all stores agree.
///
/// # Errors
/// [`OutreachError::Transition`].
pub fn check_transition(
    key: IdempotencyKey,
    from: &TaskState,
    to: &TaskState,
) -> Result<(), OutreachError> {
    use TaskState as S;
    let ok = match (from, to) {
        (_, S::Sent { .. }) => matches!(from, S::Sending { .. }),
        (S::Planned, S::Planned | S::Sending { .. } | S::Skipped { .. }) => true,
        (S::Sending { .. }, S::Sending { .. } | S::Failed { .. } | S::Skipped { .. }) => true,
        (
            S::Failed {
                retryable: true, ..
            },
            S::Failed { .. } | S::Sending { .. } | S::Skipped { .. },
        ) => true,
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(OutreachError::Transition {
            key,
            from: from.name(),
            to: to.name(),
        })
    }
}

/// What [`OutboxStore::insert`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InsertReport {
    /// New entries.
    pub inserted: usize,
    /// Tasks already stored identically.
    pub unchanged: usize,
}

/// Stores outbox entries. See the [module docs](self) for the contract;
/// `outreach::testkit::outbox_store` (feature `testkit`) checks it.
pub trait OutboxStore: Send + Sync {
    /// Stores new tasks as `planned`, all or nothing.
    ///
    /// # Errors
    /// [`OutreachError::KeyReuse`] if a key holds a different task.
    fn insert(
        &self,
        tasks: Vec<FollowUpTask>,
    ) -> impl Future<Output = Result<InsertReport, OutreachError>> + Send;

    /// The entry with this key.
    ///
    /// # Errors
    /// [`OutreachError::NotFound`].
    fn get(
        &self,
        key: IdempotencyKey,
    ) -> impl Future<Output = Result<Versioned<OutboxEntry>, OutreachError>> + Send;

    /// At most `limit` due entries at `now`, by `not_before` then key.
    fn due(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<Versioned<OutboxEntry>>, OutreachError>> + Send;

    /// Every entry of one customer, by key.
    fn for_customer(
        &self,
        customer: CustomerId,
    ) -> impl Future<Output = Result<Vec<Versioned<OutboxEntry>>, OutreachError>> + Send;

    /// Replaces the state, attempts and `not_before` of an entry whose
    /// stored version is `expected` (the task itself never changes).
    ///
    /// # Errors
    /// [`OutreachError::Conflict`], [`OutreachError::NotFound`],
    /// [`OutreachError::Transition`] (also for a change of the task, and
    /// for entering `sent`, which only [`OutboxStore::record_sent`] does).
    fn update(
        &self,
        entry: OutboxEntry,
        expected: Version,
    ) -> impl Future<Output = Result<Versioned<OutboxEntry>, OutreachError>> + Send;

    /// Atomically moves a `sending` entry to `sent` with `receipt` and
    /// stores `interaction` (the outbound follow-up on the customer's
    /// history), or does neither.
    ///
    /// # Errors
    /// As [`OutboxStore::update`].
    fn record_sent(
        &self,
        key: IdempotencyKey,
        expected: Version,
        receipt: Receipt,
        recorded_at: DateTime<Utc>,
        interaction: Option<Interaction>,
    ) -> impl Future<Output = Result<Versioned<OutboxEntry>, OutreachError>> + Send;
}

/// A stand-alone [`OutboxStore`]: entries and recorded interactions in
/// `BTreeMap`s behind one lock, for applications whose customers and
/// history live outside crmkit's stores (see "Which outbox" in the
/// [module docs](self); when the customers are in a crmkit store, use the
/// store itself as the outbox).
#[derive(Debug, Default)]
pub struct MemoryOutbox {
    state: Mutex<MemoryState>,
}

#[derive(Debug, Default)]
struct MemoryState {
    entries: BTreeMap<IdempotencyKey, Versioned<OutboxEntry>>,
    interactions: BTreeMap<InteractionId, Interaction>,
}

fn poisoned<T>(_: T) -> OutreachError {
    OutreachError::backend("the memory outbox lock was poisoned by a panicking thread")
}

impl MemoryOutbox {
    /// An empty outbox.
    pub fn new() -> Self {
        Self::default()
    }

    /// The outbound interactions recorded with receipts, by id.
    ///
    /// # Errors
    /// [`OutreachError::Backend`] if the lock was poisoned.
    pub fn recorded_interactions(&self) -> Result<Vec<Interaction>, OutreachError> {
        let s = self.state.lock().map_err(poisoned)?;
        Ok(s.interactions.values().cloned().collect())
    }

    /// Every entry, by key.
    ///
    /// # Errors
    /// [`OutreachError::Backend`] if the lock was poisoned.
    pub fn entries(&self) -> Result<Vec<Versioned<OutboxEntry>>, OutreachError> {
        let s = self.state.lock().map_err(poisoned)?;
        Ok(s.entries.values().cloned().collect())
    }

    fn insert_now(&self, tasks: Vec<FollowUpTask>) -> Result<InsertReport, OutreachError> {
        let mut s = self.state.lock().map_err(poisoned)?;
        let (report, fresh) = sort_inserts(tasks, |key| {
            Ok(s.entries.get(&key).map(|e| e.value().task.clone()))
        })?;
        for t in fresh {
            let _ = s.entries.insert(
                t.key(),
                Versioned::new(OutboxEntry::planned(t), Version::FIRST),
            );
        }
        Ok(report)
    }

    fn update_now(
        &self,
        entry: OutboxEntry,
        expected: Version,
    ) -> Result<Versioned<OutboxEntry>, OutreachError> {
        let mut s = self.state.lock().map_err(poisoned)?;
        let key = entry.key();
        let e = s
            .entries
            .get_mut(&key)
            .ok_or(OutreachError::NotFound { key })?;
        let next = checked_update(e, &entry, expected)?;
        *e = next.clone();
        Ok(next)
    }

    fn record_now(
        &self,
        key: IdempotencyKey,
        expected: Version,
        receipt: Receipt,
        recorded_at: DateTime<Utc>,
        interaction: Option<Interaction>,
    ) -> Result<Versioned<OutboxEntry>, OutreachError> {
        let mut guard = self.state.lock().map_err(poisoned)?;
        let s = &mut *guard;
        if let Some(i) = &interaction
            && s.interactions.contains_key(&i.id())
        {
            return Err(OutreachError::backend(format!(
                "interaction {} is already recorded",
                i.id()
            )));
        }
        let e = s
            .entries
            .get_mut(&key)
            .ok_or(OutreachError::NotFound { key })?;
        let next = checked_sent(e, expected, receipt, recorded_at)?;
        *e = next.clone();
        if let Some(i) = interaction {
            let _ = s.interactions.insert(i.id(), i);
        }
        Ok(next)
    }
}

/// Splits tasks to insert into the report and the new tasks (in key order,
/// without duplicates), given a lookup of the task stored under a key.
/// Shared by every outbox shipped here, so all agree on idempotency.
///
/// # Errors
/// [`OutreachError::KeyReuse`] when a key holds (or the batch repeats it
/// with) a different task; the lookup's errors.
pub(crate) fn sort_inserts(
    tasks: Vec<FollowUpTask>,
    mut stored: impl FnMut(IdempotencyKey) -> Result<Option<FollowUpTask>, OutreachError>,
) -> Result<(InsertReport, Vec<FollowUpTask>), OutreachError> {
    let mut report = InsertReport::default();
    let mut fresh: BTreeMap<IdempotencyKey, FollowUpTask> = BTreeMap::new();
    for t in tasks {
        let key = t.key();
        let old = match fresh.get(&key) {
            Some(f) => Some(f.clone()),
            None => stored(key)?,
        };
        match old {
            Some(old) if old == t => report.unchanged += 1,
            Some(_) => return Err(OutreachError::KeyReuse { key }),
            None => {
                let _ = fresh.insert(key, t);
            }
        }
    }
    report.inserted = fresh.len();
    Ok((report, fresh.into_values().collect()))
}

fn version_check(
    stored: &Versioned<OutboxEntry>,
    expected: Version,
) -> Result<Version, OutreachError> {
    let key = stored.value().key();
    if stored.version() != expected {
        return Err(OutreachError::Conflict {
            key,
            expected,
            found: stored.version(),
        });
    }
    expected.next().map_err(OutreachError::backend)
}

/// The entry that [`OutboxStore::update`] stores in place of `stored`, or
/// why it may not: a stale version, a changed task, entering `sent`, a
/// transition the workflow forbids.
///
/// # Errors
/// [`OutreachError::Conflict`], [`OutreachError::Transition`].
pub(crate) fn checked_update(
    stored: &Versioned<OutboxEntry>,
    entry: &OutboxEntry,
    expected: Version,
) -> Result<Versioned<OutboxEntry>, OutreachError> {
    let key = stored.value().key();
    let next = version_check(stored, expected)?;
    if stored.value().task != entry.task || matches!(entry.state, TaskState::Sent { .. }) {
        return Err(OutreachError::Transition {
            key,
            from: stored.value().state.name(),
            to: entry.state.name(),
        });
    }
    check_transition(key, &stored.value().state, &entry.state)?;
    Ok(Versioned::new(entry.clone(), next))
}

/// The entry that [`OutboxStore::record_sent`] stores in place of
/// `stored`, or why it may not.
///
/// # Errors
/// [`OutreachError::Conflict`], [`OutreachError::Transition`].
pub(crate) fn checked_sent(
    stored: &Versioned<OutboxEntry>,
    expected: Version,
    receipt: Receipt,
    recorded_at: DateTime<Utc>,
) -> Result<Versioned<OutboxEntry>, OutreachError> {
    let key = stored.value().key();
    let next = version_check(stored, expected)?;
    let to = TaskState::Sent {
        receipt,
        recorded_at,
    };
    check_transition(key, &stored.value().state, &to)?;
    let mut value = stored.value().clone();
    value.state = to;
    Ok(Versioned::new(value, next))
}

impl OutboxStore for MemoryOutbox {
    fn insert(
        &self,
        tasks: Vec<FollowUpTask>,
    ) -> impl Future<Output = Result<InsertReport, OutreachError>> + Send {
        let r = self.insert_now(tasks);
        async move { r }
    }

    fn get(
        &self,
        key: IdempotencyKey,
    ) -> impl Future<Output = Result<Versioned<OutboxEntry>, OutreachError>> + Send {
        let r = self.state.lock().map_err(poisoned).and_then(|s| {
            s.entries
                .get(&key)
                .cloned()
                .ok_or(OutreachError::NotFound { key })
        });
        async move { r }
    }

    fn due(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<Versioned<OutboxEntry>>, OutreachError>> + Send {
        let r = self.state.lock().map_err(poisoned).map(|s| {
            let mut v: Vec<_> = s
                .entries
                .values()
                .filter(|e| e.value().is_due(now))
                .cloned()
                .collect();
            v.sort_by_key(|e| (e.value().not_before, e.value().key()));
            v.truncate(limit);
            v
        });
        async move { r }
    }

    fn for_customer(
        &self,
        customer: CustomerId,
    ) -> impl Future<Output = Result<Vec<Versioned<OutboxEntry>>, OutreachError>> + Send {
        let r = self.state.lock().map_err(poisoned).map(|s| {
            s.entries
                .values()
                .filter(|e| e.value().task.customer() == customer)
                .cloned()
                .collect()
        });
        async move { r }
    }

    fn update(
        &self,
        entry: OutboxEntry,
        expected: Version,
    ) -> impl Future<Output = Result<Versioned<OutboxEntry>, OutreachError>> + Send {
        let r = self.update_now(entry, expected);
        async move { r }
    }

    fn record_sent(
        &self,
        key: IdempotencyKey,
        expected: Version,
        receipt: Receipt,
        recorded_at: DateTime<Utc>,
        interaction: Option<Interaction>,
    ) -> impl Future<Output = Result<Versioned<OutboxEntry>, OutreachError>> + Send {
        let r = self.record_now(key, expected, receipt, recorded_at, interaction);
        async move { r }
    }
}

/// Where the dispatcher reads the customer's current consent, contact
/// points and time zone at send time.
pub trait CustomerDirectory: Send + Sync {
    /// The customer as of now, `None` if unknown.
    fn customer(
        &self,
        id: CustomerId,
    ) -> impl Future<Output = Result<Option<Customer>, OutreachError>> + Send;
}

impl CustomerDirectory for BTreeMap<CustomerId, Customer> {
    fn customer(
        &self,
        id: CustomerId,
    ) -> impl Future<Output = Result<Option<Customer>, OutreachError>> + Send {
        let r = self.get(&id).cloned();
        async move { Ok(r) }
    }
}

impl CustomerDirectory for RwLock<BTreeMap<CustomerId, Customer>> {
    fn customer(
        &self,
        id: CustomerId,
    ) -> impl Future<Output = Result<Option<Customer>, OutreachError>> + Send {
        let r = self
            .read()
            .map_err(|_| OutreachError::backend("customer directory lock poisoned"))
            .map(|m| m.get(&id).cloned());
        async move { r }
    }
}

/// Reads customers from any [`CustomerStore`](crate::store::CustomerStore)
/// (the memory store, the SQLite store, your own adapter), so the
/// dispatcher checks consent against the stored customer at send time.
#[derive(Debug, Clone, Copy)]
pub struct StoreDirectory<'a, S>(pub &'a S);

impl<S: crate::store::CustomerStore> CustomerDirectory for StoreDirectory<'_, S> {
    fn customer(
        &self,
        id: CustomerId,
    ) -> impl Future<Output = Result<Option<Customer>, OutreachError>> + Send {
        let read = self.0.get_customer(id);
        async move {
            match read.await {
                Ok(c) => Ok(Some(c.into_inner())),
                Err(crate::store::StoreError::NotFound { .. }) => Ok(None),
                Err(e) => Err(OutreachError::backend(e)),
            }
        }
    }
}

/// How the [`Dispatcher`] retries and paces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DispatcherConfig {
    /// How long a claimed (`sending`) entry is left alone before another
    /// run assumes its dispatcher stopped and hands it over again.
    pub lease: Duration,
    /// Attempts before a retryable failure becomes permanent.
    pub max_attempts: u32,
    /// The wait after the first failure; doubled after each further one.
    pub backoff_base: Duration,
    /// The longest wait between attempts.
    pub backoff_max: Duration,
    /// Entries looked at per run.
    pub batch: usize,
    /// Quiet hours checked again at send time in the customer's zone.
    pub quiet_hours: Option<QuietHours>,
}

impl Default for DispatcherConfig {
    /// Lease 5 minutes, 8 attempts, backoff 1 minute doubling up to 6
    /// hours, 100 entries a run, quiet hours 21:00-08:00.
    fn default() -> Self {
        Self {
            lease: Duration::minutes(5),
            max_attempts: 8,
            backoff_base: Duration::minutes(1),
            backoff_max: Duration::hours(6),
            batch: 100,
            quiet_hours: super::RuleSet::default().quiet_hours(),
        }
    }
}

impl DispatcherConfig {
    /// The wait after the `attempts`-th failed attempt: `backoff_base x
    /// 2^(attempts - 1)`, at most `backoff_max`.
    ///
    /// # Example
    /// ```
    /// use chrono::Duration;
    /// use crmkit::outreach::DispatcherConfig;
    /// let c = DispatcherConfig::default();
    /// assert_eq!(c.backoff(1), Duration::minutes(1));
    /// assert_eq!(c.backoff(3), Duration::minutes(4)); // 1 x 2^2
    /// assert_eq!(c.backoff(30), Duration::hours(6));  // capped
    /// ```
    pub fn backoff(&self, attempts: u32) -> Duration {
        let shift = attempts.saturating_sub(1).min(30);
        self.backoff_base
            .checked_mul(1_i32 << shift)
            .map_or(self.backoff_max, |d| d.min(self.backoff_max))
    }
}

/// What one [`Dispatcher::run_once`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DispatchReport {
    /// Confirmed by the transport and recorded.
    pub sent: usize,
    /// Failed, to be retried.
    pub retrying: usize,
    /// Failed for good.
    pub failed: usize,
    /// Skipped (consent, erasure, superseded).
    pub skipped: usize,
    /// Postponed to the end of the customer's quiet hours.
    pub deferred: usize,
    /// Claimed by someone else meanwhile.
    pub conflicts: usize,
}

/// Hands due outbox entries to the transport.
#[derive(Debug)]
pub struct Dispatcher<'a, O, T, D> {
    outbox: &'a O,
    transport: &'a T,
    customers: &'a D,
    config: DispatcherConfig,
}

impl<'a, O: OutboxStore, T: Transport, D: CustomerDirectory> Dispatcher<'a, O, T, D> {
    /// A dispatcher over an outbox, a transport and a customer directory.
    pub const fn new(
        outbox: &'a O,
        transport: &'a T,
        customers: &'a D,
        config: DispatcherConfig,
    ) -> Self {
        Self {
            outbox,
            transport,
            customers,
            config,
        }
    }

    /// Looks at every entry due at `now` (up to the batch size): re-checks
    /// the customer and consent, defers in quiet hours, claims the entry,
    /// hands the stored message to the transport under its key and records
    /// the result.
    ///
    /// # Errors
    /// Outbox or directory failures other than a lost claim; the entry
    /// being worked on is then left `sending` and is handed over again
    /// (same key, same message) once its lease expires.
    pub async fn run_once(&self, now: DateTime<Utc>) -> Result<DispatchReport, OutreachError> {
        let mut report = DispatchReport::default();
        for entry in self.outbox.due(now, self.config.batch).await? {
            match self.dispatch(entry, now, &mut report).await {
                Ok(()) | Err(OutreachError::Conflict { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(report)
    }

    async fn dispatch(
        &self,
        entry: Versioned<OutboxEntry>,
        now: DateTime<Utc>,
        report: &mut DispatchReport,
    ) -> Result<(), OutreachError> {
        let (mut e, version) = entry.into_parts();
        let task = e.task.clone();
        let customer = self.customers.customer(task.customer()).await?;
        let skip = match &customer {
            None => Some(SkipReason::UnknownCustomer),
            Some(c) if c.is_erased() => Some(SkipReason::CustomerErased),
            Some(c) => match task.delivery().channel() {
                Some(ch) if !may_send(c, &task.message().purpose, ch, now) => {
                    Some(SkipReason::ConsentWithdrawn)
                }
                _ => self.superseded_by(&task).await?,
            },
        };
        if let Some(reason) = skip {
            e.state = TaskState::Skipped { reason, at: now };
            return self.write(e, version, report, |r| r.skipped += 1).await;
        }
        if let (Some(q), Some(c), Some(_)) = (
            self.config.quiet_hours,
            &customer,
            task.delivery().channel(),
        ) && q.is_quiet(now, c.time_zone())
        {
            e.not_before = q.next_allowed(now, c.time_zone());
            return self.write(e, version, report, |r| r.deferred += 1).await;
        }
        // Claim it: a concurrent dispatcher loses with a conflict here.
        e.state = TaskState::Sending { since: now };
        e.attempts = e.attempts.saturating_add(1);
        e.not_before = now + self.config.lease;
        let claimed = match self.outbox.update(e, version).await {
            Ok(c) => c,
            Err(err @ OutreachError::Conflict { .. }) => {
                report.conflicts += 1;
                return Err(err);
            }
            Err(err) => return Err(err),
        };
        let (mut e, version) = claimed.into_parts();
        match self.transport.send(task.message(), task.key()).await {
            Ok(receipt) => {
                let interaction = task.delivery().channel().map(|ch| {
                    Interaction::new(
                        InteractionId::from_uuid(task.key().as_uuid()),
                        task.customer(),
                        ch,
                        Direction::Outbound,
                        InteractionPurpose::FollowUp,
                        receipt.accepted_at,
                    )
                });
                let _ = self
                    .outbox
                    .record_sent(task.key(), version, receipt, now, interaction)
                    .await?;
                report.sent += 1;
                Ok(())
            }
            Err(err) => {
                let retryable = err.is_retryable() && e.attempts < self.config.max_attempts;
                let mut wait = self.config.backoff(e.attempts);
                if let TransportError::RateLimited {
                    retry_after: Some(after),
                } = &err
                {
                    wait = wait.max(*after);
                }
                e.state = TaskState::Failed {
                    retryable,
                    error: err.to_string(),
                };
                e.not_before = now + wait;
                if retryable {
                    self.write(e, version, report, |r| r.retrying += 1).await
                } else {
                    self.write(e, version, report, |r| r.failed += 1).await
                }
            }
        }
    }

    async fn write(
        &self,
        e: OutboxEntry,
        version: Version,
        report: &mut DispatchReport,
        count: impl FnOnce(&mut DispatchReport),
    ) -> Result<(), OutreachError> {
        match self.outbox.update(e, version).await {
            Ok(_) => {
                count(report);
                Ok(())
            }
            Err(err @ OutreachError::Conflict { .. }) => {
                report.conflicts += 1;
                Err(err)
            }
            Err(err) => Err(err),
        }
    }

    /// A newer task of the same rule for the same customer that is not
    /// skipped, for rules where only the latest matters (scores, check-ins,
    /// newsletters).
    async fn superseded_by(
        &self,
        task: &FollowUpTask,
    ) -> Result<Option<SkipReason>, OutreachError> {
        if !matches!(
            task.trigger(),
            Trigger::NpsDetractor { .. }
                | Trigger::LowScore { .. }
                | Trigger::NoContact { .. }
                | Trigger::Newsletter
        ) {
            return Ok(None);
        }
        let newer = self
            .outbox
            .for_customer(task.customer())
            .await?
            .into_iter()
            .filter(|o| {
                let t = &o.value().task;
                t.rule() == task.rule()
                    && (t.triggered_at(), t.key()) > (task.triggered_at(), task.key())
                    && !matches!(o.value().state, TaskState::Skipped { .. })
            })
            .map(|o| o.value().key())
            .max();
        Ok(newer.map(|by| SkipReason::Superseded { by }))
    }
}
