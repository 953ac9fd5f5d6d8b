//! Conformance checks for [`OutboxStore`] implementations (feature
//! `testkit`).
//!
//! [`outbox_store`] checks a store against the contract in the
//! [`outbox`](super::outbox) module docs: idempotent inserts, one task per
//! key, all-or-nothing bulk inserts, version conflicts, the state workflow
//! (nothing after `sent`), the atomic receipt with its interaction, due
//! ordering and limits. [`store_backed_outbox`] checks what a store that is
//! also an outbox adds: the interaction of a receipt lands in the store's
//! history in the same transaction, and erasure skips the customer's
//! pending entries. Both use fresh random ids, so they can run against a
//! store that already holds data.
//!
//! # Example
//! ```
//! use crmkit::outreach::{MemoryOutbox, testkit};
//! futures_executor::block_on(testkit::outbox_store(&MemoryOutbox::new()))?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;

use chrono::{DateTime, Duration, Utc};

use super::outbox::{OutboxEntry, OutboxStore, TaskState};
use super::planner::{Event, FollowUpTask, PlanInput, Planner};
use super::policy::RuleSet;
use super::transport::Receipt;
use super::{IdempotencyKey, OutreachError};
use crate::domain::{
    BusinessCalendar, ConsentPurpose, ConsentRecord, ConsentSource, ConsentStatus, ContactPoint,
    ContactValue, Customer, CustomerId, CustomerKind, Direction, EmailAddress, Interaction,
    InteractionId, InteractionPurpose, ResponseId, Scale, SurveyId, SurveyResponse, Version,
};
use crate::store::{CustomerStore, InteractionStore, StoreError, Transaction, UnitOfWork};

/// A conformance check failed: which one, and what it saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure(pub String);

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "outbox conformance check failed: {}", self.0)
    }
}

impl std::error::Error for Failure {}

impl From<OutreachError> for Failure {
    fn from(e: OutreachError) -> Self {
        Self(format!("unexpected error: {e}"))
    }
}

impl From<crate::error::ValidationError> for Failure {
    fn from(e: crate::error::ValidationError) -> Self {
        Self(format!("fixture failed validation: {e}"))
    }
}

/// The result of a check.
pub type Outcome = Result<(), Failure>;

macro_rules! ensure {
    ($cond:expr, $($msg:tt)+) => {
        if !$cond {
            return Err(Failure(format!($($msg)+)));
        }
    };
}

fn at(s: &str) -> Result<DateTime<Utc>, Failure> {
    s.parse()
        .map_err(|e| Failure(format!("bad fixture time {s}: {e}")))
}

/// Plans `n` detractor follow-ups (one per fresh customer) at a fixed time.
fn tasks(n: usize) -> Result<Vec<FollowUpTask>, Failure> {
    Ok(fixture(n)?.1)
}

/// `n` fresh customers and one detractor follow-up for each, in order.
fn fixture(n: usize) -> Result<(Vec<Customer>, Vec<FollowUpTask>), Failure> {
    let t0 = at("2031-06-02T10:00:00Z")?;
    let mut customers = Vec::new();
    let mut responses = Vec::new();
    for _ in 0..n {
        let id = CustomerId::new();
        customers.push(
            Customer::builder(id, CustomerKind::Individual, t0 - Duration::days(30))
                .contact_point(ContactPoint::new(
                    ContactValue::Email(EmailAddress::new("kit@example.com")?),
                    true,
                    None,
                ))
                .consent(ConsentRecord::new(
                    ConsentPurpose::ServiceMessages,
                    ConsentStatus::Given,
                    t0 - Duration::days(30),
                    ConsentSource::Api,
                ))
                .build()?,
        );
        responses.push(SurveyResponse::on_scale(
            ResponseId::new(),
            SurveyId::new(),
            Scale::nps(),
            id,
            t0,
            2,
        )?);
    }
    let events: Vec<Event<'_>> = responses.iter().map(Event::Response).collect();
    let calendar = BusinessCalendar::always(chrono_tz::Tz::UTC);
    let plan = Planner::new(RuleSet::default(), calendar)
        .plan(&PlanInput::new(t0, &customers, &events))?;
    ensure!(
        plan.tasks.len() == n,
        "fixture: expected {n} planned tasks, got {}",
        plan.tasks.len()
    );
    let mut tasks = Vec::with_capacity(n);
    for c in &customers {
        let t = plan.tasks.iter().find(|t| t.customer() == c.id());
        ensure!(t.is_some(), "fixture: no task for customer {}", c.id());
        if let Some(t) = t {
            tasks.push(t.clone());
        }
    }
    Ok((customers, tasks))
}

/// The same task with different content under the same key.
fn altered(task: &FollowUpTask) -> Result<FollowUpTask, Failure> {
    let mut v = serde_json::to_value(task).map_err(|e| Failure(e.to_string()))?;
    if let Some(m) = v.get_mut("message").and_then(|m| m.as_object_mut()) {
        let _ = m.insert("priority".into(), serde_json::Value::from("low"));
    }
    let t: FollowUpTask = serde_json::from_value(v).map_err(|e| Failure(e.to_string()))?;
    ensure!(t != *task, "fixture: altering the task changed nothing");
    Ok(t)
}

/// Checks an [`OutboxStore`] against the contract.
///
/// # Errors
/// A [`Failure`] naming the first check that did not hold.
pub async fn outbox_store<S: OutboxStore + ?Sized>(store: &S) -> Outcome {
    let ts = tasks(3)?;
    let [a, b, c] = [&ts[0], &ts[1], &ts[2]];
    let key_a = a.key();

    // Idempotent insert.
    let r = store.insert(vec![a.clone(), b.clone()]).await?;
    ensure!(
        r.inserted == 2 && r.unchanged == 0,
        "insert of 2 new tasks reported {r:?}"
    );
    let r = store.insert(vec![a.clone()]).await?;
    ensure!(
        r.inserted == 0 && r.unchanged == 1,
        "inserting the same task again reported {r:?}, expected unchanged"
    );
    let got = store.get(key_a).await?;
    ensure!(
        got.version() == Version::FIRST
            && got.value().state == TaskState::Planned
            && got.value().task == *a
            && got.value().attempts == 0
            && got.value().not_before == a.send_after(),
        "a new entry must be planned at Version::FIRST with the task unchanged, got {got:?}"
    );

    // One key, one message; all or nothing.
    let reuse = store.insert(vec![c.clone(), altered(a)?]).await;
    ensure!(
        matches!(reuse, Err(OutreachError::KeyReuse { key }) if key == key_a),
        "a different task under a stored key gave {reuse:?}, expected KeyReuse"
    );
    let c_after = store.get(c.key()).await;
    ensure!(
        matches!(c_after, Err(OutreachError::NotFound { .. })),
        "a failed bulk insert must insert nothing, but {} was stored",
        c.key()
    );
    let missing = store.get(IdempotencyKey::derive("kit", "missing")).await;
    ensure!(
        matches!(missing, Err(OutreachError::NotFound { .. })),
        "get of an unknown key gave {missing:?}"
    );

    // Claiming: one winner per version.
    let now = a.send_after() + Duration::minutes(1);
    let mut claim = got.value().clone();
    claim.state = TaskState::Sending { since: now };
    claim.attempts = 1;
    claim.not_before = now + Duration::minutes(5);
    let claimed = store.update(claim.clone(), Version::FIRST).await?;
    ensure!(
        claimed.version() == Version::new(2) && claimed.value() == &claim,
        "update must return the new entry at version 2, got {claimed:?}"
    );
    let second = store.update(claim.clone(), Version::FIRST).await;
    ensure!(
        matches!(second, Err(OutreachError::Conflict { expected, found, .. })
            if expected == Version::FIRST && found == Version::new(2)),
        "a second claim at a stale version gave {second:?}, expected Conflict 1 vs 2"
    );

    // Only record_sent enters sent; the task never changes.
    let receipt = Receipt {
        reference: "kit-1".into(),
        accepted_at: now,
    };
    let mut cheat = claim.clone();
    cheat.state = TaskState::Sent {
        receipt: receipt.clone(),
        recorded_at: now,
    };
    let r = store.update(cheat, Version::new(2)).await;
    ensure!(
        matches!(r, Err(OutreachError::Transition { .. })),
        "update into sent gave {r:?}, expected Transition"
    );
    let mut changed_task = claim.clone();
    changed_task.task = altered(a)?;
    let r = store.update(changed_task, Version::new(2)).await;
    ensure!(
        matches!(r, Err(OutreachError::Transition { .. })),
        "update changing the task gave {r:?}, expected Transition"
    );

    let interaction = Interaction::new(
        InteractionId::from_uuid(key_a.as_uuid()),
        a.customer(),
        crate::domain::Channel::Email,
        Direction::Outbound,
        InteractionPurpose::FollowUp,
        now,
    );
    let stale = store
        .record_sent(
            key_a,
            Version::FIRST,
            receipt.clone(),
            now,
            Some(interaction.clone()),
        )
        .await;
    ensure!(
        matches!(stale, Err(OutreachError::Conflict { .. })),
        "record_sent at a stale version gave {stale:?}"
    );
    let sent = store
        .record_sent(
            key_a,
            Version::new(2),
            receipt.clone(),
            now,
            Some(interaction.clone()),
        )
        .await?;
    ensure!(
        sent.version() == Version::new(3)
            && matches!(&sent.value().state, TaskState::Sent { receipt: r, .. } if *r == receipt),
        "record_sent must store the receipt at version 3, got {sent:?}"
    );
    // Nothing after sent.
    for to in [
        TaskState::Planned,
        TaskState::Sending { since: now },
        TaskState::Failed {
            retryable: true,
            error: "kit".into(),
        },
    ] {
        let mut e = sent.value().clone();
        e.state = to.clone();
        let r = store.update(e, Version::new(3)).await;
        ensure!(
            matches!(r, Err(OutreachError::Transition { .. })),
            "sent -> {} gave {r:?}, expected Transition",
            to.name()
        );
    }
    let again = store
        .record_sent(key_a, Version::new(3), receipt, now, None)
        .await;
    ensure!(
        matches!(again, Err(OutreachError::Transition { .. })),
        "recording a receipt twice gave {again:?}, expected Transition"
    );

    // Due entries: not terminal, not_before <= now, ordered, limited.
    let far = b.send_after() + Duration::days(1);
    let due = store.due(far, 1000).await?;
    ensure!(
        due.iter().any(|e| e.value().key() == b.key()),
        "a planned entry past its send time must be due"
    );
    ensure!(
        !due.iter().any(|e| e.value().key() == key_a),
        "a sent entry must never be due again"
    );
    ensure!(
        due.windows(2).all(|w| {
            (w[0].value().not_before, w[0].value().key())
                <= (w[1].value().not_before, w[1].value().key())
        }),
        "due entries must be ordered by not_before, then key"
    );
    ensure!(
        store.due(far, 1).await?.len() <= 1,
        "due must honour its limit"
    );
    let early = store
        .due(b.send_after() - Duration::seconds(1), 1000)
        .await?;
    ensure!(
        !early.iter().any(|e| e.value().key() == b.key()),
        "an entry must not be due before its not_before"
    );

    // A skipped entry is terminal; failures retry until permanent.
    let vb = store.get(b.key()).await?;
    let mut fail = vb.value().clone();
    fail.state = TaskState::Sending { since: far };
    let vb = store.update(fail.clone(), vb.version()).await?;
    fail.state = TaskState::Failed {
        retryable: true,
        error: "kit".into(),
    };
    fail.not_before = far + Duration::minutes(1);
    let vb = store.update(fail.clone(), vb.version()).await?;
    ensure!(
        store
            .due(far + Duration::minutes(1), 1000)
            .await?
            .iter()
            .any(|e| e.value().key() == b.key()),
        "a retryable failure must be due again at its not_before"
    );
    let mut skip = fail.clone();
    skip.state = TaskState::Skipped {
        reason: super::outbox::SkipReason::ConsentWithdrawn,
        at: far,
    };
    let vb = store.update(skip, vb.version()).await?;
    let mut back: OutboxEntry = vb.value().clone();
    back.state = TaskState::Planned;
    let r = store.update(back, vb.version()).await;
    ensure!(
        matches!(r, Err(OutreachError::Transition { .. })),
        "skipped -> planned gave {r:?}, expected Transition"
    );

    // Per customer.
    let mine = store.for_customer(b.customer()).await?;
    ensure!(
        mine.len() == 1
            && mine
                .iter()
                .all(|e| e.value().task.customer() == b.customer()),
        "for_customer must return exactly the customer's entries, got {}",
        mine.len()
    );
    Ok(())
}

/// An entry moved to `sending` (a claim) at `now`.
async fn claim<S: OutboxStore + ?Sized>(
    store: &S,
    key: IdempotencyKey,
    now: DateTime<Utc>,
) -> Result<crate::domain::Versioned<OutboxEntry>, Failure> {
    let (mut e, v) = store.get(key).await?.into_parts();
    e.state = TaskState::Sending { since: now };
    e.attempts += 1;
    e.not_before = now + Duration::minutes(5);
    Ok(store.update(e, v).await?)
}

fn follow_up(id: InteractionId, customer: CustomerId, at: DateTime<Utc>) -> Interaction {
    Interaction::new(
        id,
        customer,
        crate::domain::Channel::Email,
        Direction::Outbound,
        InteractionPurpose::FollowUp,
        at,
    )
}

/// Checks a store that is also an outbox (as [`MemoryStore`] and
/// `SqliteStore` are): [`OutboxStore::record_sent`] puts the interaction
/// into the store's own history, or neither it nor the receipt is kept;
/// erasing a customer skips their pending entries, redacts the error text
/// of a permanent failure and keeps sent entries, in the erasure's unit of
/// work (a unit of work that fails after [`Transaction::erase_outbox`]
/// changes nothing); an export holds the customer's entries; merging a
/// customer into another re-points their entries to the survivor (same
/// key, next version, still due). Run [`outbox_store`] on it too.
///
/// [`MemoryStore`]: crate::store::memory::MemoryStore
///
/// # Errors
/// A [`Failure`] naming the first check that did not hold.
///
/// # Example
/// ```
/// use crmkit::outreach::testkit;
/// use crmkit::store::memory::MemoryStore;
/// let store = MemoryStore::new();
/// futures_executor::block_on(testkit::outbox_store(&store))?;
/// futures_executor::block_on(testkit::store_backed_outbox(&store))?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub async fn store_backed_outbox<S: OutboxStore + UnitOfWork>(store: &S) -> Outcome {
    let (customers, ts) = fixture(5)?;
    for c in &customers {
        let _ = store
            .create_customer(c.clone())
            .await
            .map_err(|e| Failure(format!("create_customer: {e}")))?;
    }
    let _ = store.insert(ts.clone()).await?;
    // sent, sending, planned, permanently failed, planned (untouched).
    let [sent, sending, planned, failed, other] = [&ts[0], &ts[1], &ts[2], &ts[3], &ts[4]];
    let now = sent.send_after() + Duration::minutes(1);

    // The receipt and the interaction land together in the store.
    let v = claim(store, sent.key(), now).await?.version();
    let stale = follow_up(InteractionId::new(), sent.customer(), now);
    let r = store
        .record_sent(
            sent.key(),
            Version::FIRST,
            Receipt {
                reference: "kit".into(),
                accepted_at: now,
            },
            now,
            Some(stale.clone()),
        )
        .await;
    ensure!(
        matches!(r, Err(OutreachError::Conflict { .. })),
        "record_sent at a stale version gave {r:?}"
    );
    ensure!(
        matches!(
            store.get_interaction(stale.id()).await,
            Err(StoreError::NotFound { .. })
        ),
        "a failed record_sent must not store its interaction"
    );
    let i = follow_up(
        InteractionId::from_uuid(sent.key().as_uuid()),
        sent.customer(),
        now,
    );
    let _ = store
        .record_sent(
            sent.key(),
            v,
            Receipt {
                reference: "kit".into(),
                accepted_at: now,
            },
            now,
            Some(i.clone()),
        )
        .await?;
    let history = store
        .interactions(
            crate::store::Query::Customer(sent.customer()),
            crate::store::PageRequest::first(10).map_err(|e| Failure(e.to_string()))?,
        )
        .await
        .map_err(|e| Failure(format!("interactions: {e}")))?;
    ensure!(
        history.items.len() == 1 && history.items[0].value() == &i,
        "record_sent must put the follow-up into the customer's history, found {:?}",
        history.items
    );

    // An interaction that cannot be stored keeps the entry as it was.
    let claimed = claim(store, sending.key(), now).await?;
    let taken = follow_up(InteractionId::new(), sending.customer(), now);
    let _ = store
        .create_interaction(taken.clone())
        .await
        .map_err(|e| Failure(format!("create_interaction: {e}")))?;
    let r = store
        .record_sent(
            sending.key(),
            claimed.version(),
            Receipt {
                reference: "kit".into(),
                accepted_at: now,
            },
            now,
            Some(taken),
        )
        .await;
    ensure!(
        r.is_err(),
        "record_sent with an interaction id already stored must fail, gave {r:?}"
    );
    let after = store.get(sending.key()).await?;
    ensure!(
        after == claimed,
        "a failed record_sent must leave the entry unchanged, found {after:?}"
    );

    // A permanent failure whose error text quotes an address.
    let (mut e, v) = claim(store, failed.key(), now).await?.into_parts();
    e.state = TaskState::Failed {
        retryable: false,
        error: "bounced: kit@example.com".into(),
    };
    let _ = store.update(e, v).await?;

    // A unit of work that fails after erase_outbox keeps every entry.
    let before = store.get(planned.key()).await?;
    let customer = planned.customer();
    let rolled: Result<usize, StoreError> = store
        .transaction(move |tx| {
            let _ = tx.erase_outbox(customer, now)?;
            Err(StoreError::Closed)
        })
        .await;
    ensure!(rolled.is_err(), "the failing unit of work succeeded");
    let again = store.get(planned.key()).await?;
    ensure!(
        again == before,
        "a rolled-back erasure changed the outbox: {before:?} -> {again:?}"
    );

    // The right of access includes the customer's outbox entries.
    let export = store
        .export_customer(other.customer())
        .await
        .map_err(|e| Failure(format!("export_customer: {e}")))?;
    let untouched_entry = store.get(other.key()).await?;
    ensure!(
        export.outbox == vec![untouched_entry],
        "an export must hold exactly the customer's outbox entries, got {:?}",
        export.outbox
    );

    // Erasure: pending -> skipped, permanent failure redacted, sent kept.
    let erased_at = now + Duration::hours(1);
    let untouched = store.get(other.key()).await?;
    let sent_before = store.get(sent.key()).await?;
    for t in [sent, sending, planned, failed] {
        let _ = store
            .erase_customer(t.customer(), erased_at)
            .await
            .map_err(|e| Failure(format!("erase_customer: {e}")))?;
    }
    for (t, was) in [(sending, claimed.version()), (planned, before.version())] {
        let e = store.get(t.key()).await?;
        ensure!(
            e.version() == Version::new(was.get() + 1)
                && e.value().state
                    == TaskState::Skipped {
                        reason: super::outbox::SkipReason::CustomerErased,
                        at: erased_at,
                    },
            "a pending entry of an erased customer must be skipped at the next version, got {e:?}"
        );
        ensure!(
            e.value().task == *t,
            "erasure must not change the planned task"
        );
    }
    let f = store.get(failed.key()).await?;
    ensure!(
        matches!(&f.value().state, TaskState::Failed { retryable: false, error } if error == "<erased>"),
        "a permanent failure of an erased customer must lose its error text, got {f:?}"
    );
    ensure!(
        store.get(sent.key()).await? == sent_before,
        "erasure must keep a sent entry as it is"
    );
    ensure!(
        store.get(other.key()).await? == untouched,
        "erasure must not touch another customer's entries"
    );
    let due = store.due(erased_at + Duration::days(30), 10_000).await?;
    ensure!(
        !due.iter().any(|e| [sent, sending, planned, failed]
            .iter()
            .any(|t| t.key() == e.value().key())),
        "no entry of an erased customer may be due"
    );

    // Merge: the absorbed customer's entry follows them to the survivor,
    // under the same key, at the next version, in the same state, still
    // due, and in the survivor's export.
    let (keep, _) = fixture(1)?;
    let keep = keep
        .into_iter()
        .next()
        .ok_or_else(|| Failure("fixture: no customer".into()))?;
    let keep_id = keep.id();
    let _ = store
        .create_customer(keep)
        .await
        .map_err(|e| Failure(format!("create_customer: {e}")))?;
    let before = store.get(other.key()).await?;
    let report = store
        .merge_customers(keep_id, other.customer())
        .await
        .map_err(|e| Failure(format!("merge_customers: {e}")))?;
    let after = store.get(other.key()).await?;
    let mut expected = before.value().clone();
    ensure!(
        expected.reassign(other.customer(), keep_id),
        "the entry was not the absorbed customer's"
    );
    ensure!(
        after.version() == Version::new(before.version().get() + 1) && after.value() == &expected,
        "a merge must re-point the absorbed customer's entry at its next version, got {after:?}"
    );
    ensure!(
        report.moved >= 1,
        "the merge report must count the re-pointed entry, got {}",
        report.moved
    );
    let export = store
        .export_customer(keep_id)
        .await
        .map_err(|e| Failure(format!("export_customer: {e}")))?;
    ensure!(
        export.outbox == vec![after.clone()],
        "the survivor's export must hold the re-pointed entry, got {:?}",
        export.outbox
    );
    let due = store.due(erased_at + Duration::days(30), 10_000).await?;
    ensure!(
        due.iter()
            .any(|e| e.value().key() == other.key() && e.value().task.customer() == keep_id),
        "the re-pointed entry must still be due, for the survivor"
    );
    Ok(())
}
