//! The store-backed outboxes: `MemoryStore` and `SqliteStore` as
//! `OutboxStore`s (conformance, persistence, a process that stops between
//! sending and recording, dispatchers racing on several threads).

use std::borrow::Borrow;
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Barrier, Mutex};

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use crmkit::domain::*;
use crmkit::outreach::*;
use crmkit::store::blocking::block_on;
use crmkit::store::memory::MemoryStore;
use crmkit::store::sqlite::SqliteStore;
use crmkit::store::{CustomerStore, InteractionStore, PageRequest, Query, UnitOfWork};
use proptest::prelude::*;

type R = Result<(), Box<dyn std::error::Error>>;

fn t(s: &str) -> DateTime<Utc> {
    s.parse().expect("test time")
}

/// 2026-03-04 is a Wednesday; 10:00 UTC is outside the default quiet hours.
const NOW: &str = "2026-03-04T10:00:00Z";

fn customer(n: u128) -> Customer {
    let since = t("2026-01-01T00:00:00Z");
    Customer::builder(CustomerId::from_u128(n), CustomerKind::Individual, since)
        .display_name(format!("Customer {n}"))
        .contact_point(ContactPoint::new(
            ContactValue::Email(EmailAddress::new(format!("c{n}@example.com")).expect("email")),
            true,
            None,
        ))
        .time_zone(Tz::UTC)
        .consent(ConsentRecord::new(
            ConsentPurpose::ServiceMessages,
            ConsentStatus::Given,
            since,
            ConsentSource::WebForm,
        ))
        .build()
        .expect("customer")
}

/// `n` customers, each with one NPS detractor follow-up planned at `NOW`.
fn plan(n: u128) -> (Vec<Customer>, Vec<FollowUpTask>) {
    let now = t(NOW);
    let customers: Vec<_> = (1..=n).map(customer).collect();
    let responses: Vec<_> = (1..=n)
        .map(|i| {
            SurveyResponse::on_scale(
                ResponseId::from_u128(1000 + i),
                SurveyId::from_u128(1),
                Scale::nps(),
                CustomerId::from_u128(i),
                now,
                2,
            )
            .expect("response")
        })
        .collect();
    let events: Vec<_> = responses.iter().map(Event::Response).collect();
    let planner = Planner::new(RuleSet::default(), BusinessCalendar::always(Tz::UTC));
    let plan = planner
        .plan(&PlanInput::new(now, &customers, &events))
        .expect("plan");
    // One detractor follow-up per customer (hand-checked: score 2 <= 6).
    assert_eq!(plan.tasks.len() as u128, n);
    (customers, plan.tasks)
}

fn config() -> DispatcherConfig {
    DispatcherConfig {
        quiet_hours: None,
        ..DispatcherConfig::default()
    }
}

/// A transport that accepts everything and remembers, per key, the message
/// and how often it was handed over; it flags one key with two messages.
#[derive(Default)]
struct Recording {
    seen: Mutex<BTreeMap<IdempotencyKey, (OutboundMessage, usize)>>,
    key_reused: AtomicBool,
    calls: AtomicUsize,
}

impl Recording {
    fn counts(&self) -> BTreeMap<IdempotencyKey, usize> {
        self.seen
            .lock()
            .expect("lock")
            .iter()
            .map(|(k, (_, n))| (*k, *n))
            .collect()
    }
}

impl Transport for Recording {
    fn send(
        &self,
        message: &OutboundMessage,
        key: IdempotencyKey,
    ) -> impl Future<Output = Result<Receipt, TransportError>> + Send {
        let _ = self.calls.fetch_add(1, Ordering::SeqCst);
        // A slow provider: the racing dispatchers overlap for sure.
        std::thread::sleep(std::time::Duration::from_micros(300));
        {
            let mut seen = self.seen.lock().expect("lock");
            let slot = seen.entry(key).or_insert_with(|| (message.clone(), 0));
            if slot.0 != *message {
                self.key_reused.store(true, Ordering::SeqCst);
            }
            slot.1 += 1;
        }
        let receipt = Receipt {
            reference: format!("r-{key}"),
            accepted_at: message.due.min(t(NOW)),
        };
        async move { Ok(receipt) }
    }
}

/// Delegates to a store but "dies" in `record_sent`: the transport was
/// called, the receipt is never written.
struct DiesBeforeRecording<'a, S>(&'a S);

impl<S: OutboxStore> OutboxStore for DiesBeforeRecording<'_, S> {
    fn insert(
        &self,
        tasks: Vec<FollowUpTask>,
    ) -> impl Future<Output = Result<InsertReport, OutreachError>> + Send {
        self.0.insert(tasks)
    }
    fn get(
        &self,
        key: IdempotencyKey,
    ) -> impl Future<Output = Result<Versioned<OutboxEntry>, OutreachError>> + Send {
        self.0.get(key)
    }
    fn due(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<Versioned<OutboxEntry>>, OutreachError>> + Send {
        self.0.due(now, limit)
    }
    fn for_customer(
        &self,
        c: CustomerId,
    ) -> impl Future<Output = Result<Vec<Versioned<OutboxEntry>>, OutreachError>> + Send {
        self.0.for_customer(c)
    }
    fn update(
        &self,
        e: OutboxEntry,
        v: Version,
    ) -> impl Future<Output = Result<Versioned<OutboxEntry>, OutreachError>> + Send {
        self.0.update(e, v)
    }
    async fn record_sent(
        &self,
        _key: IdempotencyKey,
        _expected: Version,
        _receipt: Receipt,
        _at: DateTime<Utc>,
        _interaction: Option<Interaction>,
    ) -> Result<Versioned<OutboxEntry>, OutreachError> {
        Err(OutreachError::backend(
            "the process stopped before recording",
        ))
    }
}

fn follow_ups<S: InteractionStore>(store: &S, customer: CustomerId) -> Vec<Interaction> {
    block_on(store.interactions(
        Query::Customer(customer),
        PageRequest::first(100).expect("page"),
    ))
    .expect("interactions")
    .items
    .into_iter()
    .map(Versioned::into_inner)
    .filter(|i| i.purpose() == InteractionPurpose::FollowUp)
    .collect()
}

// ---------------------------------------------------------------- conformance

#[test]
fn memory_store_outbox_conforms() -> R {
    let store = MemoryStore::new();
    block_on(testkit::outbox_store(&store))?;
    block_on(testkit::store_backed_outbox(&store))?;
    Ok(())
}

#[test]
fn sqlite_store_outbox_conforms() -> R {
    let dir = tempfile::tempdir()?;
    let store = SqliteStore::open(dir.path().join("crm.db"))?;
    block_on(testkit::outbox_store(&store))?;
    block_on(testkit::store_backed_outbox(&store))?;
    // Both kits again on the same file: they use fresh ids.
    block_on(testkit::outbox_store(&store))?;
    block_on(testkit::store_backed_outbox(&store))?;
    Ok(())
}

#[test]
fn sqlite_in_memory_outbox_conforms() -> R {
    let store = SqliteStore::open_in_memory()?;
    block_on(testkit::outbox_store(&store))?;
    block_on(testkit::store_backed_outbox(&store))?;
    Ok(())
}

// ---------------------------------------------------------------- persistence

#[test]
fn entries_and_versions_survive_closing_and_reopening() -> R {
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("crm.db");
    let (_, tasks) = plan(3);
    let now = t(NOW);
    let before: Vec<Versioned<OutboxEntry>> = {
        let store = SqliteStore::open(&db)?;
        let r = block_on(store.insert(tasks.clone()))?;
        assert_eq!((r.inserted, r.unchanged), (3, 0));
        // Claim the first (version 2), then fail it retryably (version 3).
        let (mut e, v) = block_on(store.get(tasks[0].key()))?.into_parts();
        e.state = TaskState::Sending { since: now };
        e.attempts = 1;
        e.not_before = now + Duration::minutes(5);
        let (mut e, v) = block_on(store.update(e, v))?.into_parts();
        e.state = TaskState::Failed {
            retryable: true,
            error: "503".into(),
        };
        e.not_before = now + Duration::minutes(1);
        let failed = block_on(store.update(e, v))?;
        assert_eq!(failed.version(), Version::new(3));
        let mut all = Vec::new();
        for task in &tasks {
            all.push(block_on(store.get(task.key()))?);
        }
        all
    };
    let store = SqliteStore::open(&db)?;
    for old in &before {
        let now_stored = block_on(store.get(old.value().key()))?;
        assert_eq!(&now_stored, old);
    }
    // Versions 3, 1, 1 as written above.
    let versions: Vec<u64> = before.iter().map(|e| e.version().get()).collect();
    assert_eq!(versions, vec![3, 1, 1]);
    // Inserting the same plan after reopening changes nothing.
    let r = block_on(store.insert(tasks))?;
    assert_eq!((r.inserted, r.unchanged), (0, 3));
    // Due at now + 1 minute: the two planned ones (not_before = send_after
    // <= now) and the failed one (not_before = now + 1 minute).
    assert_eq!(
        block_on(store.due(now + Duration::minutes(1), 10))?.len(),
        3
    );
    Ok(())
}

// ---------------------------------------------------------------- crash

#[test]
fn a_process_that_stops_between_sending_and_recording_sends_the_same_message_again() -> R {
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("crm.db");
    let (customers, tasks) = plan(1);
    let key = tasks[0].key();
    let now = t(NOW);
    let transport = Recording::default();
    {
        let store = SqliteStore::open(&db)?;
        let _ = block_on(store.create_customer(customers[0].clone()))?;
        let _ = block_on(store.insert(tasks.clone()))?;
        let dying = DiesBeforeRecording(&store);
        let directory = StoreDirectory(&store);
        let r = block_on(Dispatcher::new(&dying, &transport, &directory, config()).run_once(now));
        assert!(r.is_err(), "the run must end with the failed recording");
        // The process dies: the store is dropped without a receipt.
    }
    assert_eq!(transport.calls.load(Ordering::SeqCst), 1);

    let store = SqliteStore::open(&db)?;
    let e = block_on(store.get(key))?;
    // Claimed once (version 2), left sending until the 5-minute lease ends.
    assert_eq!(e.version(), Version::new(2));
    assert_eq!(e.value().attempts, 1);
    assert!(matches!(e.value().state, TaskState::Sending { .. }));
    assert!(follow_ups(&store, customers[0].id()).is_empty());
    let directory = StoreDirectory(&store);
    let d = Dispatcher::new(&store, &transport, &directory, config());
    // Within the lease nobody touches it.
    assert_eq!(
        block_on(d.run_once(now + Duration::minutes(4)))?,
        DispatchReport::default()
    );
    assert_eq!(transport.calls.load(Ordering::SeqCst), 1);
    // After the lease: handed over again, same key, identical message.
    let report = block_on(d.run_once(now + Duration::minutes(6)))?;
    assert_eq!(report.sent, 1);
    assert_eq!(transport.calls.load(Ordering::SeqCst), 2);
    assert!(!transport.key_reused.load(Ordering::SeqCst));
    assert_eq!(transport.counts(), BTreeMap::from([(key, 2)]));
    let e = block_on(store.get(key))?;
    assert!(matches!(e.value().state, TaskState::Sent { .. }));
    // Claim (3), receipt (4).
    assert_eq!(e.version(), Version::new(4));
    let recorded = follow_ups(&store, customers[0].id());
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0].id(), InteractionId::from_uuid(key.as_uuid()));
    assert_eq!(recorded[0].direction(), Direction::Outbound);
    // Once recorded, never handed over again, also after reopening.
    drop(store);
    let store = SqliteStore::open(&db)?;
    let directory = StoreDirectory(&store);
    let d = Dispatcher::new(&store, &transport, &directory, config());
    for days in 1..=3 {
        let _ = block_on(d.run_once(now + Duration::days(days)))?;
    }
    assert_eq!(transport.calls.load(Ordering::SeqCst), 2);
    Ok(())
}

// ---------------------------------------------------------------- racing dispatchers

/// What a race left behind, for the checks.
struct RaceOutcome {
    sent: usize,
    conflicts: usize,
}

/// `threads` dispatchers, each on its own thread with its own `block_on`,
/// start together on the same due entries at the same instant, each a few
/// runs in a row.
fn race<O, B, D>(
    outbox_for: impl Fn(usize) -> B + Sync,
    directory: &D,
    transport: &Recording,
    threads: usize,
) -> RaceOutcome
where
    O: OutboxStore,
    B: Borrow<O>,
    D: CustomerDirectory,
{
    let start = Barrier::new(threads);
    let sent = AtomicUsize::new(0);
    let conflicts = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for i in 0..threads {
            let (start, sent, conflicts, outbox_for) = (&start, &sent, &conflicts, &outbox_for);
            let _ = s.spawn(move || {
                let outbox = outbox_for(i);
                let d = Dispatcher::new(outbox.borrow(), transport, directory, config());
                let _ = start.wait();
                for _ in 0..3 {
                    let r = block_on(d.run_once(t(NOW))).expect("run");
                    let _ = sent.fetch_add(r.sent, Ordering::SeqCst);
                    let _ = conflicts.fetch_add(r.conflicts, Ordering::SeqCst);
                }
            });
        }
    });
    RaceOutcome {
        sent: sent.load(Ordering::SeqCst),
        conflicts: conflicts.load(Ordering::SeqCst),
    }
}

/// The invariants of a race over `tasks` whose final entries are `entries`.
fn check_race(
    tasks: &[FollowUpTask],
    entries: &BTreeMap<IdempotencyKey, Versioned<OutboxEntry>>,
    transport: &Recording,
    outcome: &RaceOutcome,
    interactions: usize,
) {
    // One key, one message; every message handed over exactly once (all
    // sends succeed and the lease never expires at one instant).
    assert!(!transport.key_reused.load(Ordering::SeqCst));
    let expected: BTreeMap<_, _> = tasks.iter().map(|t| (t.key(), 1)).collect();
    assert_eq!(transport.counts(), expected);
    // No entry lost, each sent once: claim (2) then receipt (3).
    assert_eq!(entries.len(), tasks.len());
    for task in tasks {
        let e = &entries[&task.key()];
        assert!(matches!(e.value().state, TaskState::Sent { .. }), "{e:?}");
        assert_eq!(e.value().attempts, 1);
        assert_eq!(e.version(), Version::new(3));
    }
    assert_eq!(outcome.sent, tasks.len());
    assert_eq!(interactions, tasks.len());
    eprintln!(
        "race over {} entries: {} claims lost on a version",
        tasks.len(),
        outcome.conflicts
    );
    // Every loser lost on a version; a loser never reached the transport.
    assert!(
        outcome.conflicts <= tasks.len() * 3 * 8,
        "{}",
        outcome.conflicts
    );
}

fn entries_of<O: OutboxStore>(
    outbox: &O,
    tasks: &[FollowUpTask],
) -> BTreeMap<IdempotencyKey, Versioned<OutboxEntry>> {
    tasks
        .iter()
        .map(|t| (t.key(), block_on(outbox.get(t.key())).expect("get")))
        .collect()
}

fn race_on_memory_store(n: u128, threads: usize) {
    let (customers, tasks) = plan(n);
    let store = MemoryStore::new();
    let _ = block_on(store.insert_customers(customers.clone())).expect("customers");
    let _ = block_on(store.insert(tasks.clone())).expect("insert");
    let transport = Recording::default();
    let directory = StoreDirectory(&store);
    let outcome = race::<MemoryStore, _, _>(|_| &store, &directory, &transport, threads);
    let recorded: usize = customers
        .iter()
        .map(|c| follow_ups(&store, c.id()).len())
        .sum();
    check_race(
        &tasks,
        &entries_of(&store, &tasks),
        &transport,
        &outcome,
        recorded,
    );
}

fn race_on_memory_outbox(n: u128, threads: usize) {
    let (customers, tasks) = plan(n);
    let outbox = MemoryOutbox::new();
    let _ = block_on(outbox.insert(tasks.clone())).expect("insert");
    let transport = Recording::default();
    let directory: BTreeMap<_, _> = customers.into_iter().map(|c| (c.id(), c)).collect();
    let outcome = race::<MemoryOutbox, _, _>(|_| &outbox, &directory, &transport, threads);
    let recorded = outbox.recorded_interactions().expect("recorded").len();
    check_race(
        &tasks,
        &entries_of(&outbox, &tasks),
        &transport,
        &outcome,
        recorded,
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn racing_dispatchers_on_the_memory_store_send_each_entry_once(
        n in 1u128..25,
        threads in 2usize..6,
    ) {
        race_on_memory_store(n, threads);
    }

    #[test]
    fn racing_dispatchers_on_the_memory_outbox_send_each_entry_once(
        n in 1u128..25,
        threads in 2usize..6,
    ) {
        race_on_memory_outbox(n, threads);
    }
}

/// An outbox handle per thread or one shared by all.
enum Handles {
    Shared,
    PerThread,
}

fn race_on_sqlite(n: u128, threads: usize, handles: Handles) {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("crm.db");
    let (customers, tasks) = plan(n);
    let store = SqliteStore::open(&db).expect("open");
    let _ = block_on(store.insert_customers(customers.clone())).expect("customers");
    let _ = block_on(store.insert(tasks.clone())).expect("insert");
    let transport = Recording::default();
    let directory = StoreDirectory(&store);
    let outcome = match handles {
        Handles::Shared => race::<SqliteHandle<'_>, _, _>(
            |_| SqliteHandle(Some(&store), None),
            &directory,
            &transport,
            threads,
        ),
        // Separate connections on one file, as separate processes would be.
        Handles::PerThread => race::<SqliteHandle<'_>, _, _>(
            |_| SqliteHandle(None, Some(SqliteStore::open(&db).expect("open"))),
            &directory,
            &transport,
            threads,
        ),
    };
    let recorded: usize = customers
        .iter()
        .map(|c| follow_ups(&store, c.id()).len())
        .sum();
    check_race(
        &tasks,
        &entries_of(&store, &tasks),
        &transport,
        &outcome,
        recorded,
    );
}

/// A borrowed or an owned SQLite store as one outbox type.
struct SqliteHandle<'a>(Option<&'a SqliteStore>, Option<SqliteStore>);

impl SqliteHandle<'_> {
    fn store(&self) -> Result<&SqliteStore, OutreachError> {
        self.0
            .or(self.1.as_ref())
            .ok_or_else(|| OutreachError::backend("no store"))
    }
}

macro_rules! delegate {
    ($self:ident, $op:ident ( $($arg:expr),* )) => {{
        let store = $self.store();
        async move { store?.$op($($arg),*).await }
    }};
}

impl OutboxStore for SqliteHandle<'_> {
    fn insert(
        &self,
        tasks: Vec<FollowUpTask>,
    ) -> impl Future<Output = Result<InsertReport, OutreachError>> + Send {
        delegate!(self, insert(tasks))
    }
    fn get(
        &self,
        key: IdempotencyKey,
    ) -> impl Future<Output = Result<Versioned<OutboxEntry>, OutreachError>> + Send {
        delegate!(self, get(key))
    }
    fn due(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<Versioned<OutboxEntry>>, OutreachError>> + Send {
        delegate!(self, due(now, limit))
    }
    fn for_customer(
        &self,
        c: CustomerId,
    ) -> impl Future<Output = Result<Vec<Versioned<OutboxEntry>>, OutreachError>> + Send {
        delegate!(self, for_customer(c))
    }
    fn update(
        &self,
        e: OutboxEntry,
        v: Version,
    ) -> impl Future<Output = Result<Versioned<OutboxEntry>, OutreachError>> + Send {
        delegate!(self, update(e, v))
    }
    fn record_sent(
        &self,
        key: IdempotencyKey,
        expected: Version,
        receipt: Receipt,
        at: DateTime<Utc>,
        interaction: Option<Interaction>,
    ) -> impl Future<Output = Result<Versioned<OutboxEntry>, OutreachError>> + Send {
        delegate!(self, record_sent(key, expected, receipt, at, interaction))
    }
}

#[test]
fn racing_dispatchers_on_the_memory_store_and_outbox_send_each_entry_once() {
    race_on_memory_store(20, 4);
    race_on_memory_outbox(20, 4);
}

#[test]
fn racing_dispatchers_on_one_sqlite_handle_send_each_entry_once() {
    race_on_sqlite(20, 4, Handles::Shared);
}

#[test]
fn racing_dispatchers_on_separate_sqlite_connections_send_each_entry_once() {
    race_on_sqlite(20, 4, Handles::PerThread);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 6, ..ProptestConfig::default() })]

    #[test]
    fn racing_dispatchers_on_sqlite_send_each_entry_once(
        n in 1u128..12,
        threads in 2usize..5,
        shared in any::<bool>(),
    ) {
        race_on_sqlite(n, threads, if shared { Handles::Shared } else { Handles::PerThread });
    }
}

// ---------------------------------------------------------------- erasure and history

#[test]
fn erasing_a_customer_skips_their_pending_follow_ups_in_both_stores() -> R {
    fn check<S: OutboxStore + UnitOfWork>(store: &S) -> R {
        let (customers, tasks) = plan(2);
        let _ = block_on(store.insert_customers(customers.clone()))?;
        let _ = block_on(store.insert(tasks.clone()))?;
        let at = t(NOW) + Duration::minutes(1);
        let report = block_on(store.erase_customer(customers[0].id(), at))?;
        // The customer record (name, e-mail, consent erased) and the one
        // pending outbox entry: 2 records.
        assert_eq!(report.records, 2);
        let mine = block_on(store.for_customer(customers[0].id()))?;
        assert_eq!(mine.len(), 1);
        assert_eq!(
            mine[0].value().state,
            TaskState::Skipped {
                reason: SkipReason::CustomerErased,
                at
            }
        );
        assert_eq!(mine[0].version(), Version::new(2));
        // The other customer's entry is still planned and due.
        let due = block_on(store.due(t(NOW), 10))?;
        let keys: Vec<_> = due.iter().map(|e| e.value().key()).collect();
        let other = tasks
            .iter()
            .find(|t| t.customer() == customers[1].id())
            .expect("task");
        assert_eq!(keys, vec![other.key()]);
        Ok(())
    }
    check(&MemoryStore::new())?;
    let dir = tempfile::tempdir()?;
    check(&SqliteStore::open(dir.path().join("crm.db"))?)?;
    Ok(())
}

// ---------------------------------------------------------------- migration

#[test]
fn a_schema_1_database_upgrades_to_the_outbox_and_keeps_its_records() -> R {
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("crm.db");
    let (customers, tasks) = plan(1);
    {
        let store = SqliteStore::open(&db)?;
        let _ = block_on(store.create_customer(customers[0].clone()))?;
    }
    {
        // Turn the file back into what crmkit wrote before the outbox
        // existed: migration 1 only (its SQL is unchanged since).
        let conn = rusqlite::Connection::open(&db)?;
        conn.execute_batch(
            "BEGIN; DROP TABLE outbox; DELETE FROM crmkit_migrations WHERE version = 2; \
             PRAGMA user_version = 1; COMMIT; PRAGMA wal_checkpoint(TRUNCATE);",
        )?;
    }
    let store = SqliteStore::open(&db)?;
    assert_eq!(
        block_on(store.get_customer(customers[0].id()))?.into_inner(),
        customers[0]
    );
    let r = block_on(store.insert(tasks.clone()))?;
    assert_eq!(r.inserted, 1);
    drop(store);
    let conn = rusqlite::Connection::open(&db)?;
    let versions: Vec<i64> = conn
        .prepare("SELECT version FROM crmkit_migrations ORDER BY version")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    assert_eq!(versions, vec![1, 2]);
    let user_version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    assert_eq!(user_version, 2);
    let rows: i64 = conn.query_row("SELECT count(*) FROM outbox", [], |r| r.get(0))?;
    assert_eq!(rows, 1);
    Ok(())
}

fn any_state() -> impl Strategy<Value = TaskState> {
    let now = t(NOW);
    prop_oneof![
        Just(TaskState::Planned),
        Just(TaskState::Sending { since: now }),
        (any::<bool>(), "[a-z@. ]{0,12}")
            .prop_map(|(retryable, error)| TaskState::Failed { retryable, error }),
        Just(TaskState::Failed {
            retryable: false,
            error: "<erased>".into()
        }),
        Just(TaskState::Sent {
            receipt: Receipt {
                reference: "r".into(),
                accepted_at: now
            },
            recorded_at: now
        }),
        Just(TaskState::Skipped {
            reason: SkipReason::ConsentWithdrawn,
            at: now
        }),
    ]
}

proptest! {
    #[test]
    fn erasure_leaves_nothing_to_send_and_no_error_text(
        state in any_state(),
        attempts in 0u32..9,
        minutes in 0i64..100_000,
    ) {
        let (_, tasks) = plan(1);
        let mut e = OutboxEntry::planned(tasks[0].clone());
        e.state = state.clone();
        e.attempts = attempts;
        let before = e.clone();
        let at = t(NOW) + Duration::minutes(minutes);
        let changed = e.erase_personal(at);
        // Nothing of an erased customer is ever due again.
        prop_assert!(e.state.is_terminal());
        prop_assert!(!e.is_due(at + Duration::days(3650)));
        // The planned task, the attempts and not_before stay.
        prop_assert_eq!(&e.task, &before.task);
        prop_assert_eq!(e.attempts, before.attempts);
        prop_assert_eq!(e.not_before, before.not_before);
        match &state {
            TaskState::Planned | TaskState::Sending { .. } | TaskState::Failed { retryable: true, .. } => {
                prop_assert!(changed);
                prop_assert_eq!(&e.state, &TaskState::Skipped { reason: SkipReason::CustomerErased, at });
            }
            TaskState::Failed { retryable: false, error } => {
                prop_assert_eq!(changed, error != "<erased>");
                prop_assert_eq!(&e.state, &TaskState::Failed { retryable: false, error: "<erased>".into() });
            }
            _ => {
                prop_assert!(!changed);
                prop_assert_eq!(&e, &before);
            }
        }
        // Erasing again changes nothing.
        let again = e.clone();
        prop_assert!(!e.erase_personal(at + Duration::days(1)));
        prop_assert_eq!(e, again);
    }
}
