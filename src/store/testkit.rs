//! The store conformance test kit (feature `testkit`).
//!
//! One `pub async fn` per store trait checks an implementation against the
//! [contract](super#contract) that the reference [`MemoryStore`] defines:
//! create, get, update and delete with version conflicts; bulk inserts
//! that are all or nothing; paging that returns every record exactly once
//! in key order for every page size, also while other threads insert and
//! delete; half-open time ranges (start included, end excluded); rejected
//! cursors; concurrent writers from several threads without a lost update;
//! erasure, export and merge. Every check uses fresh random ids and times
//! far from ordinary data, so the functions can run against a store that
//! already holds data, one after the other or side by side.
//!
//! Each function returns `Err(`[`Failure`]`)` naming the check that failed
//! and what it saw. The concurrency checks start scoped OS threads and block
//! the calling thread while they run (they drive the store's futures with
//! [`block_on`]); run the functions from a test thread or a multi-threaded
//! runtime, not from inside a single-threaded executor that the store
//! itself needs.
//!
//! | store trait | check |
//! | --- | --- |
//! | [`CustomerStore`] | [`customer_store`] |
//! | [`InteractionStore`] | [`interaction_store`] |
//! | [`CaseStore`] | [`case_store`] |
//! | [`PurchaseStore`] | [`purchase_store`] |
//! | [`SurveyStore`] | [`survey_store`] |
//! | all five (erasure, export, merge across records) | [`personal_data`] |
//! | [`UnitOfWork`] | [`unit_of_work`] |
//! | everything above | [`all`] |
//!
//! # Checking your own adapter
//!
//! Say your application keeps its data in Postgres and implements the
//! store traits for its own `PgStore`. Its tests then call one function per
//! trait it implements:
//!
//! ```ignore
//! // tests/store_conformance.rs in your crate, with
//! // [dev-dependencies] crmkit = { version = "0.1", features = ["testkit"] }
//! use crmkit::store::testkit;
//! use my_app::PgStore;
//!
//! #[tokio::test(flavor = "multi_thread")]
//! async fn pg_store_conforms() -> Result<(), Box<dyn std::error::Error>> {
//!     let store = PgStore::connect(&std::env::var("TEST_DATABASE_URL")?).await?;
//!     testkit::customer_store(&store).await?;
//!     testkit::interaction_store(&store).await?;
//!     testkit::case_store(&store).await?;
//!     testkit::purchase_store(&store).await?;
//!     testkit::survey_store(&store).await?;
//!     // Erasure must also leave no trace in the raw stored form: hand the
//!     // kit a way to read it (for Postgres, the rows as stored, audit and
//!     // history tables included; VACUUM first if you check table files).
//!     let raw = || my_app::dump_all_rows_as_bytes(&store);
//!     testkit::personal_data(&store, Some(&raw)).await?;
//!     Ok(())
//! }
//! ```
//!
//! and `PgStore` implements each trait by mapping its methods to SQL, for
//! example (with sqlx):
//!
//! ```ignore
//! impl InteractionStore for PgStore {
//!     fn update_interaction(&self, record: Interaction, expected: Version)
//!         -> impl Future<Output = Result<Versioned<Interaction>, StoreError>> + Send
//!     {
//!         async move {
//!             let body = serde_json::to_value(&record).map_err(StoreError::backend)?;
//!             let next = expected.next().map_err(|e| StoreError::backend(e.to_string()))?;
//!             // Compare-and-set on the version: zero rows means a conflict or a miss.
//!             let done = sqlx::query("UPDATE interactions SET body = $1, version = $2 \
//!                                     WHERE id = $3 AND version = $4")
//!                 .bind(body).bind(next.get() as i64)
//!                 .bind(record.id().as_uuid()).bind(expected.get() as i64)
//!                 .execute(&self.pool).await.map_err(StoreError::backend)?;
//!             if done.rows_affected() == 1 {
//!                 return Ok(Versioned::new(record, next));
//!             }
//!             let found: Option<i64> = sqlx::query_scalar("SELECT version FROM interactions WHERE id = $1")
//!                 .bind(record.id().as_uuid()).fetch_optional(&self.pool).await
//!                 .map_err(StoreError::backend)?;
//!             Err(match found {
//!                 Some(v) => StoreError::Conflict { kind: "interactions", id: record.id().to_string(),
//!                                                   expected, found: Version::new(v as u64) },
//!                 None => StoreError::NotFound { kind: "interactions", id: record.id().to_string() },
//!             })
//!         }
//!     }
//!     // ... create, get, delete, bulk insert (one transaction), and listings
//!     // paged with `Cursors::seal` / `Cursors::open` over
//!     // `WHERE ... AND (at, id) > ($a, $b) ORDER BY at, id LIMIT $n + 1`.
//! }
//! ```
//!
//! A complete, runnable version with an application-defined store is the
//! `custom_store` example (`cargo run --example custom_store --features
//! testkit`). The same calls on the reference store:
//!
//! ```
//! use crmkit::store::memory::MemoryStore;
//! use crmkit::store::testkit;
//! use crmkit::store::blocking::block_on;
//!
//! let store = MemoryStore::new();
//! block_on(testkit::survey_store(&store))?;
//! block_on(testkit::unit_of_work(&store))?;
//! Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! [`MemoryStore`]: super::memory::MemoryStore

use std::collections::{BTreeSet, HashMap};
use std::fmt;

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use super::blocking::block_on;
use super::{
    CaseStore, Cursor, CustomerStore, InteractionStore, Key, Page, PageRequest, PurchaseStore,
    Query, Record, RecordId, StoreError, SurveyStore, Transaction, UnitOfWork,
};
use crate::domain::{
    Actor, AgentId, Case, CaseEvent, CaseEventKind, CaseId, Channel, ContactPoint, ContactValue,
    Currency, Customer, CustomerId, CustomerKind, Direction, EmailAddress, Interaction,
    InteractionId, InteractionPurpose, InvitationId, Money, Period, Priority, Purchase, PurchaseId,
    PurchaseKind, ResponseId, Scale, Segment, Subscription, SubscriptionId, Survey, SurveyId,
    SurveyInvitation, SurveyKind, SurveyResponse, Version, Versioned,
};

/// A conformance check failed: which one, and what was seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// What was expected and what was found.
    pub message: String,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "store conformance check failed: {}", self.message)
    }
}

impl std::error::Error for Failure {}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        Self {
            message: format!("unexpected store error: {e}"),
        }
    }
}

impl From<crate::error::ValidationError> for Failure {
    fn from(e: crate::error::ValidationError) -> Self {
        Self {
            message: format!("test data rejected: {e}"),
        }
    }
}

/// The result of a conformance check.
pub type Outcome = Result<(), Failure>;

macro_rules! ensure {
    ($cond:expr, $($fmt:tt)+) => {
        if !$cond {
            return Err(Failure { message: format!($($fmt)+) });
        }
    };
}

fn fail(message: impl Into<String>) -> Failure {
    Failure {
        message: message.into(),
    }
}

/// A random base instant in the years 2200 to 2250, at whole seconds, so
/// time-range checks do not meet other data.
pub(crate) fn base_time() -> Result<DateTime<Utc>, Failure> {
    // 2200-01-01T00:00:00Z is 7_258_118_400 s after the epoch; 50 years of
    // seconds is about 1.58e9.
    let offset = i64::try_from(Uuid::now_v7().as_u128() % 1_500_000_000).unwrap_or(0);
    DateTime::from_timestamp(7_258_118_400 + offset, 0).ok_or_else(|| fail("base time"))
}

pub(crate) fn fresh_segment() -> Result<Segment, Failure> {
    Ok(Segment::new(format!("kit-{}", Uuid::now_v7().simple()))?)
}

pub(crate) fn key_of<R: Record>(v: &Versioned<R>) -> Result<Key, Failure> {
    Ok(Key::of(v.value())?)
}

/// The keys of `records` in key order: the order every listing must have.
pub(crate) fn sorted_keys<'a, R: Record>(
    records: impl IntoIterator<Item = &'a R>,
) -> Result<Vec<Key>, Failure> {
    let mut keys = records
        .into_iter()
        .map(Key::of)
        .collect::<Result<Vec<_>, _>>()?;
    keys.sort();
    Ok(keys)
}

/// Reads a whole listing page by page.
pub(crate) async fn collect<R, L>(
    list: &L,
    query: &Query,
    size: usize,
) -> Result<Vec<Versioned<R>>, Failure>
where
    R: Record,
    L: AsyncFn(Query, PageRequest) -> Result<Page<Versioned<R>>, StoreError>,
{
    let mut out = Vec::new();
    let mut request = PageRequest::first(size)?;
    for _ in 0..1_000_000 {
        let page = list(query.clone(), request.clone()).await?;
        ensure!(
            page.items.len() <= size,
            "{query:?}: a page of size {size} held {} items",
            page.items.len()
        );
        ensure!(
            page.next.is_none() || !page.items.is_empty(),
            "{query:?}: an empty page with a next cursor"
        );
        out.extend(page.items.iter().cloned());
        match request.next(&page) {
            Some(next) => request = next,
            None => return Ok(out),
        }
    }
    Err(fail(format!("{query:?}: paging did not end")))
}

/// Pages through `query` with many page sizes; every run must return
/// exactly `expected`, in order.
pub(crate) async fn check_paging<R, L>(
    what: &str,
    list: &L,
    query: &Query,
    expected: &[Key],
) -> Outcome
where
    R: Record,
    L: AsyncFn(Query, PageRequest) -> Result<Page<Versioned<R>>, StoreError>,
{
    let n = expected.len();
    for size in [1, 2, 3, 7, n.max(1), n + 1, 1000] {
        let got = collect(list, query, size).await?;
        let keys = got.iter().map(key_of).collect::<Result<Vec<_>, _>>()?;
        ensure!(
            keys == expected,
            "{what}: paging {query:?} with page size {size} returned {} records, expected {n} (every one once, in key order)",
            keys.len()
        );
    }
    Ok(())
}

/// A cursor of one query must not work for another, and altered or
/// foreign cursors must be rejected.
pub(crate) async fn check_cursor_misuse<R, L>(
    what: &str,
    list: &L,
    query: &Query,
    other: &Query,
) -> Outcome
where
    R: Record,
    L: AsyncFn(Query, PageRequest) -> Result<Page<Versioned<R>>, StoreError>,
{
    let page = list(query.clone(), PageRequest::first(1)?).await?;
    let Some(cursor) = page.next else {
        return Err(fail(format!(
            "{what}: {query:?} needs two records for the cursor check"
        )));
    };
    let r = list(other.clone(), PageRequest::new(1, Some(cursor.clone()))?).await;
    ensure!(
        matches!(r, Err(StoreError::InvalidCursor { .. })),
        "{what}: a cursor of {query:?} used for {other:?} gave {r:?}, expected InvalidCursor"
    );
    let mut text = cursor.as_str().to_owned();
    let last = text.pop().unwrap_or('0');
    text.push(if last == '0' { '1' } else { '0' });
    for bad in [text, "garbage".to_owned(), String::new()] {
        let bad: Cursor = bad.parse().map_err(|_| fail("cursor parse"))?;
        let r = list(query.clone(), PageRequest::new(1, Some(bad))?).await;
        ensure!(
            matches!(r, Err(StoreError::InvalidCursor { .. })),
            "{what}: an altered cursor gave {r:?}, expected InvalidCursor"
        );
    }
    Ok(())
}

fn is_conflict(r: &Result<impl fmt::Debug, StoreError>, expected: Version, found: Version) -> bool {
    matches!(r, Err(StoreError::Conflict { expected: e, found: f, .. }) if *e == expected && *f == found)
}

fn is_not_found<T>(r: &Result<T, StoreError>) -> bool {
    matches!(r, Err(StoreError::NotFound { .. }))
}

fn survey_named(id: SurveyId, name: &str, at: DateTime<Utc>) -> Result<Survey, Failure> {
    Ok(Survey::new(
        id,
        name,
        SurveyKind::Nps,
        Scale::nps(),
        None,
        at,
    )?)
}

fn response(
    survey: SurveyId,
    customer: CustomerId,
    at: DateTime<Utc>,
    score: i32,
    segment: Option<&Segment>,
) -> Result<SurveyResponse, Failure> {
    let r = SurveyResponse::on_scale(ResponseId::new(), survey, Scale::nps(), customer, at, score)?;
    Ok(match segment {
        Some(s) => r.with_segments([s.clone()]),
        None => r,
    })
}

/// Checks a [`SurveyStore`]: survey CRUD and version conflicts; responses
/// and invitations as facts; bulk inserts all or nothing; paging by survey,
/// customer, period and segment for every page size; half-open ranges;
/// rejected cursors; paging while another thread inserts and deletes; and
/// no lost update with four threads renaming one survey.
///
/// # Errors
/// A [`Failure`] naming the first check that failed.
///
/// # Example
/// ```
/// use crmkit::store::{memory::MemoryStore, testkit, blocking::block_on};
/// block_on(testkit::survey_store(&MemoryStore::new()))?;
/// Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub async fn survey_store<S: SurveyStore + ?Sized>(store: &S) -> Outcome {
    let t0 = base_time()?;
    let sec = |s: i64| t0 + Duration::seconds(s);

    // --- CRUD and conflicts on a mutable aggregate.
    let sid = SurveyId::new();
    let survey = survey_named(sid, "kit survey", t0)?;
    let created = store.create_survey(survey.clone()).await?;
    ensure!(
        created.version() == Version::FIRST && created.value() == &survey,
        "create_survey must return the survey at Version::FIRST"
    );
    let got = store.get_survey(sid).await?;
    ensure!(
        got == created,
        "get_survey must return what create_survey stored"
    );
    let again = store.create_survey(survey.clone()).await;
    ensure!(
        matches!(again, Err(StoreError::AlreadyExists { .. })),
        "creating a survey twice gave {again:?}, expected AlreadyExists"
    );
    let mut renamed = survey.clone();
    renamed.rename("kit survey, renamed")?;
    let v2 = store.update_survey(renamed.clone(), Version::FIRST).await?;
    ensure!(
        v2.version() == Version::new(2) && v2.value() == &renamed,
        "update_survey must return the new value at version 2, got {:?}",
        v2.version()
    );
    let stale = store.update_survey(survey.clone(), Version::FIRST).await;
    ensure!(
        is_conflict(&stale, Version::FIRST, Version::new(2)),
        "a stale update gave {stale:?}, expected Conflict {{ expected: v1, found: v2 }}"
    );
    ensure!(
        store.get_survey(sid).await?.value() == &renamed,
        "a rejected update must not change the stored survey"
    );
    let stale = store.delete_survey(sid, Version::FIRST).await;
    ensure!(
        is_conflict(&stale, Version::FIRST, Version::new(2)),
        "a stale delete gave {stale:?}, expected Conflict"
    );
    store.delete_survey(sid, Version::new(2)).await?;
    let gone = store.get_survey(sid).await;
    ensure!(
        is_not_found(&gone),
        "get after delete gave {gone:?}, expected NotFound"
    );
    let gone = store.update_survey(survey.clone(), Version::new(2)).await;
    ensure!(
        is_not_found(&gone),
        "update after delete gave {gone:?}, expected NotFound"
    );
    let gone = store.delete_survey(sid, Version::new(2)).await;
    ensure!(
        is_not_found(&gone),
        "delete after delete gave {gone:?}, expected NotFound"
    );

    // --- Responses: bulk insert, every listing, every page size.
    let sid = SurveyId::new();
    let _ = store
        .create_survey(survey_named(sid, "kit responses", t0)?)
        .await?;
    let (c1, c2) = (CustomerId::new(), CustomerId::new());
    let seg = fresh_segment()?;
    let mut all = Vec::new();
    for i in 0..23i64 {
        // Several responses share an instant (i / 2): ids break the tie.
        let customer = if i % 3 == 0 { c1 } else { c2 };
        let segment = (i % 2 == 0).then_some(&seg);
        all.push(response(
            sid,
            customer,
            sec(i / 2),
            i32::try_from(i % 11).unwrap_or(0),
            segment,
        )?);
    }
    let n = store.insert_responses(all.clone()).await?;
    ensure!(n == 23, "insert_responses returned {n}, expected 23");
    let got = store.get_response(all[4].id()).await?;
    ensure!(
        got.value() == &all[4] && got.version() == Version::FIRST,
        "get_response must return the stored response at Version::FIRST"
    );
    let list = async |q: Query, p: PageRequest| store.responses(q, p).await;
    check_paging(
        "responses by survey",
        &list,
        &Query::Survey(sid),
        &sorted_keys(&all)?,
    )
    .await?;
    let of_c1: Vec<_> = all.iter().filter(|r| r.customer() == c1).collect();
    ensure!(
        of_c1.len() == 8,
        "test data: 8 responses of c1 (i = 0, 3, ..., 21)"
    );
    check_paging(
        "responses by customer",
        &list,
        &Query::Customer(c1),
        &sorted_keys(of_c1)?,
    )
    .await?;
    let in_seg: Vec<_> = all.iter().filter(|r| r.segments().contains(&seg)).collect();
    ensure!(
        in_seg.len() == 12,
        "test data: 12 responses in the segment (even i)"
    );
    check_paging(
        "responses by segment",
        &list,
        &Query::Segment(seg.clone()),
        &sorted_keys(in_seg)?,
    )
    .await?;
    // [t0 + 2 s, t0 + 5 s) holds i / 2 in {2, 3, 4}: i = 4..=9, six responses.
    let window = Period::new(sec(2), sec(5))?;
    let in_window: Vec<_> = all
        .iter()
        .filter(|r| window.contains(r.responded_at()))
        .collect();
    ensure!(
        in_window.len() == 6,
        "test data: six responses in the window"
    );
    check_paging(
        "responses by period",
        &list,
        &Query::Period(window),
        &sorted_keys(in_window)?,
    )
    .await?;
    check_cursor_misuse(
        "responses",
        &list,
        &Query::Survey(sid),
        &Query::Customer(c1),
    )
    .await?;

    // --- Half-open boundaries to the nanosecond.
    let sid_b = SurveyId::new();
    let start = sec(100);
    let end = sec(200);
    let one = Duration::nanoseconds(1);
    let edge = [start - one, start, end - one, end];
    let edge_responses: Vec<_> = edge
        .iter()
        .map(|t| response(sid_b, c1, *t, 5, None))
        .collect::<Result<_, _>>()?;
    let _ = store.insert_responses(edge_responses.clone()).await?;
    let inside = collect(&list, &Query::Period(Period::new(start, end)?), 10).await?;
    let times: Vec<_> = inside.iter().map(|r| r.responded_at()).collect();
    ensure!(
        times == vec![start, end - one],
        "Period [start, end) must hold start and end - 1 ns only, got {times:?}"
    );
    let got = store.get_response(edge_responses[2].id()).await?;
    ensure!(
        got.responded_at() == end - one,
        "timestamps must round-trip to the nanosecond"
    );

    // --- Bulk insert is all or nothing.
    let sid_c = SurveyId::new();
    let mut batch: Vec<_> = (0..3)
        .map(|i| response(sid_c, c2, sec(300 + i), 7, None))
        .collect::<Result<_, _>>()?;
    batch.push(all[0].clone()); // already stored
    batch.push(response(sid_c, c2, sec(310), 7, None)?);
    let r = store.insert_responses(batch.clone()).await;
    ensure!(
        matches!(r, Err(StoreError::AlreadyExists { .. })),
        "a bulk insert with a duplicate id gave {r:?}, expected AlreadyExists"
    );
    let left = collect(&list, &Query::Survey(sid_c), 10).await?;
    ensure!(
        left.is_empty(),
        "a failed bulk insert stored {} of its rows, expected none",
        left.len()
    );

    // --- Facts: invitations.
    let inv = SurveyInvitation::new(InvitationId::new(), sid, c1, sec(1), Channel::Email)
        .with_segments([seg.clone()]);
    let stored = store.record_invitation(inv.clone()).await?;
    ensure!(
        stored.version() == Version::FIRST,
        "record_invitation must return Version::FIRST"
    );
    let again = store.record_invitation(inv.clone()).await;
    ensure!(
        matches!(again, Err(StoreError::AlreadyExists { .. })),
        "recording an invitation twice gave {again:?}"
    );
    let inv_list = async |q: Query, p: PageRequest| store.invitations(q, p).await;
    let invs = collect(&inv_list, &Query::Survey(sid), 5).await?;
    ensure!(
        invs.len() == 1 && invs[0].value() == &inv,
        "invitations by survey must return the one invitation"
    );
    store.delete_invitation(inv.id(), Version::FIRST).await?;
    let gone = store.get_invitation(inv.id()).await;
    ensure!(is_not_found(&gone), "a deleted invitation must be gone");

    // --- Paging while another thread inserts and deletes.
    let sid_d = SurveyId::new();
    let initial: Vec<_> = (0..40)
        .map(|i| response(sid_d, c2, sec(1000 + i), 3, None))
        .collect::<Result<_, _>>()?;
    let _ = store.insert_responses(initial.clone()).await?;
    let removed: BTreeSet<ResponseId> = initial.iter().step_by(3).map(|r| r.id()).collect();
    let added: Vec<_> = (0..40)
        .map(|i| {
            response(
                sid_d,
                c2,
                sec(1000 + i) + Duration::milliseconds(500),
                3,
                None,
            )
        })
        .collect::<Result<_, _>>()?;
    let seen = std::thread::scope(|scope| {
        let writer = scope.spawn(|| -> Result<(), StoreError> {
            for (i, r) in added.iter().enumerate() {
                let _ = block_on(store.record_response(r.clone()))?;
                if let Some(old) = initial.get(i * 3) {
                    block_on(store.delete_response(old.id(), Version::FIRST))?;
                }
            }
            Ok(())
        });
        let seen = block_on(collect(&list, &Query::Survey(sid_d), 3));
        let written = writer.join().map_err(|_| fail("writer thread panicked"));
        written.and_then(|w| w.map_err(Failure::from)).and(seen)
    })?;
    let mut counts: HashMap<ResponseId, usize> = HashMap::new();
    for r in &seen {
        *counts.entry(r.id()).or_default() += 1;
    }
    ensure!(
        counts.values().all(|c| *c == 1),
        "paging during writes returned a record twice"
    );
    for r in &initial {
        if !removed.contains(&r.id()) {
            ensure!(
                counts.contains_key(&r.id()),
                "paging during writes missed a record present throughout"
            );
        }
    }
    let known: BTreeSet<ResponseId> = initial.iter().chain(&added).map(|r| r.id()).collect();
    ensure!(
        counts.keys().all(|id| known.contains(id)),
        "paging returned a record of another survey"
    );

    // --- Concurrent writers: four threads, ten increments each, retrying on
    // conflict: the final counter is exactly 40 at version 41.
    let sid_e = SurveyId::new();
    let _ = store
        .create_survey(survey_named(sid_e, "count 0", t0)?)
        .await?;
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..4)
            .map(|_| {
                scope.spawn(|| -> Outcome {
                    for _ in 0..10 {
                        loop {
                            let current = block_on(store.get_survey(sid_e))?;
                            let n: u32 = current
                                .name()
                                .trim_start_matches("count ")
                                .parse()
                                .map_err(|_| fail("counter name"))?;
                            let mut next = current.value().clone();
                            next.rename(format!("count {}", n + 1))?;
                            match block_on(store.update_survey(next, current.version())) {
                                Ok(_) => break,
                                Err(StoreError::Conflict { .. }) => continue,
                                Err(e) => return Err(e.into()),
                            }
                        }
                    }
                    Ok(())
                })
            })
            .collect();
        workers
            .into_iter()
            .try_for_each(|w| w.join().map_err(|_| fail("worker thread panicked"))?)
    })?;
    let last = store.get_survey(sid_e).await?;
    ensure!(
        last.name() == "count 40" && last.version() == Version::new(41),
        "4 threads x 10 increments must give count 40 at v41, got {:?} at {}",
        last.name(),
        last.version()
    );
    Ok(())
}

/// Checks a [`UnitOfWork`] store: work spanning several kinds commits all
/// or nothing (an error or a panic inside rolls back everything, a created
/// record included); facts cannot be updated; a transaction sees its own
/// writes.
///
/// # Errors
/// A [`Failure`] naming the first check that failed.
///
/// # Example
/// ```
/// use crmkit::store::{memory::MemoryStore, testkit, blocking::block_on};
/// block_on(testkit::unit_of_work(&MemoryStore::new()))?;
/// Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub async fn unit_of_work<S: UnitOfWork + ?Sized>(store: &S) -> Outcome {
    let t0 = base_time()?;
    let sid = SurveyId::new();
    let c = CustomerId::new();
    let survey = survey_named(sid, "kit unit of work", t0)?;
    let r1 = response(sid, c, t0, 9, None)?;
    let r1_id = r1.id();

    // Rolled back by an error after several writes of two kinds.
    let (s2, r2) = (survey.clone(), r1.clone());
    let failed: Result<(), StoreError> = store
        .transaction(move |tx| {
            let _ = tx.insert(s2)?;
            let _ = tx.insert(r2)?;
            let seen = tx.get(r1_id)?;
            if seen.is_none() {
                return Err(StoreError::backend("a transaction must see its own writes"));
            }
            Err(StoreError::Closed)
        })
        .await;
    ensure!(
        matches!(failed, Err(StoreError::Closed)),
        "the unit of work's own error must come back, got {failed:?}"
    );
    let left = store
        .transaction(move |tx| {
            Ok::<_, StoreError>((tx.get(sid)?.is_some(), tx.get(r1_id)?.is_some()))
        })
        .await?;
    ensure!(
        left == (false, false),
        "a failed unit of work left records behind: {left:?}"
    );

    // Rolled back by a panic.
    let (s2, r2) = (survey.clone(), r1.clone());
    let panicked: Result<(), StoreError> = store
        .transaction(move |tx| {
            let _ = tx.insert(s2)?;
            let _ = tx.insert(r2)?;
            #[allow(clippy::panic)]
            {
                std::panic::panic_any("kit: deliberate panic inside a unit of work")
            }
        })
        .await;
    ensure!(panicked.is_err(), "a panicking unit of work must fail");
    let left = store
        .transaction(move |tx| {
            Ok::<_, StoreError>((tx.get(sid)?.is_some(), tx.get(r1_id)?.is_some()))
        })
        .await?;
    ensure!(
        left == (false, false),
        "a panicking unit of work left records behind: {left:?}"
    );

    // Committed together.
    let (s2, r2) = (survey.clone(), r1.clone());
    store
        .transaction(move |tx| {
            let _ = tx.insert(s2)?;
            let _ = tx.insert(r2)?;
            Ok::<_, StoreError>(())
        })
        .await?;
    let both = store
        .transaction(move |tx| Ok::<_, StoreError>((tx.get(sid)?, tx.get(r1_id)?)))
        .await?;
    ensure!(
        both.0.map(|s| s.into_inner()) == Some(survey)
            && both.1.map(|r| r.into_inner()) == Some(r1.clone()),
        "a committed unit of work must store everything it wrote"
    );

    // Facts cannot be updated.
    let r2 = r1.clone();
    let r = store
        .transaction(move |tx| tx.update(r2, Version::FIRST))
        .await;
    ensure!(
        matches!(r, Err(StoreError::Immutable { .. })),
        "updating a survey response gave {r:?}, expected Immutable"
    );
    let _ = RecordId::uuid(r1_id);
    Ok(())
}

fn at(t0: DateTime<Utc>, seconds: i64) -> DateTime<Utc> {
    t0 + Duration::seconds(seconds)
}

/// The checks every record kind passes: create, get, duplicate ids, bulk
/// inserts all or nothing, paging by customer and period with every page
/// size, half-open boundaries to the nanosecond, rejected cursors, delete
/// with version conflicts, and paging while another thread writes.
#[allow(clippy::too_many_arguments)]
async fn kind_checks<R, M, C, G, D, B, L>(
    what: &str,
    make: &M,
    create: &C,
    get: &G,
    delete: &D,
    bulk: &B,
    list: &L,
) -> Outcome
where
    R: Record + PartialEq,
    M: Fn(CustomerId, DateTime<Utc>) -> Result<R, Failure> + Sync,
    C: AsyncFn(R) -> Result<Versioned<R>, StoreError> + Sync,
    G: AsyncFn(R::Id) -> Result<Versioned<R>, StoreError> + Sync,
    D: AsyncFn(R::Id, Version) -> Result<(), StoreError> + Sync,
    B: AsyncFn(Vec<R>) -> Result<usize, StoreError> + Sync,
    L: AsyncFn(Query, PageRequest) -> Result<Page<Versioned<R>>, StoreError> + Sync,
{
    let t0 = base_time()?;
    let (c1, c2) = (CustomerId::new(), CustomerId::new());

    // Create, get, duplicate.
    let first = make(c1, t0)?;
    let stored = create(first.clone()).await?;
    ensure!(
        stored.version() == Version::FIRST && stored.value() == &first,
        "{what}: create must return the record at Version::FIRST"
    );
    let got = get(first.id()).await?;
    ensure!(got == stored, "{what}: get must return what create stored");
    let again = create(first.clone()).await;
    ensure!(
        matches!(again, Err(StoreError::AlreadyExists { .. })),
        "{what}: creating the same id twice gave {again:?}, expected AlreadyExists"
    );

    // Bulk insert; several records share an instant, ids break ties.
    let mut all = vec![first.clone()];
    let mut batch = Vec::new();
    for i in 0..17i64 {
        let customer = if i % 3 == 0 { c1 } else { c2 };
        batch.push(make(customer, at(t0, i / 2))?);
    }
    let n = bulk(batch.clone()).await?;
    ensure!(n == 17, "{what}: bulk insert returned {n}, expected 17");
    all.extend(batch);
    let of = |c: CustomerId| all.iter().filter(move |r| r.customer() == Some(c));
    // c1 has the first record and i = 0, 3, ..., 15: 1 + 6 = 7 records.
    ensure!(of(c1).count() == 7, "{what}: test data, 7 records of c1");
    check_paging(what, list, &Query::Customer(c1), &sorted_keys(of(c1))?).await?;
    check_paging(what, list, &Query::Customer(c2), &sorted_keys(of(c2))?).await?;
    // [t0 + 1 s, t0 + 4 s) holds i / 2 in {1, 2, 3}: i = 2..=7, six records.
    let window = Period::new(at(t0, 1), at(t0, 4))?;
    let inside: Vec<_> = all.iter().filter(|r| window.contains(r.time())).collect();
    ensure!(
        inside.len() == 6,
        "{what}: test data, six records in the window"
    );
    check_paging(what, list, &Query::Period(window), &sorted_keys(inside)?).await?;
    check_cursor_misuse(what, list, &Query::Customer(c1), &Query::Customer(c2)).await?;

    // Half-open boundaries, to the nanosecond.
    let c3 = CustomerId::new();
    let (start, end) = (at(t0, 100), at(t0, 200));
    let one = Duration::nanoseconds(1);
    let edges: Vec<R> = [start - one, start, end - one, end]
        .iter()
        .map(|t| make(c3, *t))
        .collect::<Result<_, _>>()?;
    let _ = bulk(edges.clone()).await?;
    let inside = collect(list, &Query::Period(Period::new(start, end)?), 10).await?;
    let times: Vec<_> = inside.iter().map(|r| r.time()).collect();
    ensure!(
        times == vec![start, end - one],
        "{what}: Period [start, end) must hold start and end - 1 ns only, got {times:?}"
    );
    for e in &edges {
        let back = get(e.id()).await?;
        ensure!(
            back.value() == e,
            "{what}: a record must read back equal, timestamps to the nanosecond"
        );
    }

    // Bulk insert is all or nothing.
    let c4 = CustomerId::new();
    let mut batch: Vec<R> = (0..3)
        .map(|i| make(c4, at(t0, 300 + i)))
        .collect::<Result<_, _>>()?;
    batch.push(first.clone());
    batch.push(make(c4, at(t0, 310))?);
    let r = bulk(batch).await;
    ensure!(
        matches!(r, Err(StoreError::AlreadyExists { .. })),
        "{what}: a bulk insert with a stored id gave {r:?}, expected AlreadyExists"
    );
    let left = collect(list, &Query::Customer(c4), 10).await?;
    ensure!(
        left.is_empty(),
        "{what}: a failed bulk insert stored {} of its rows, expected none",
        left.len()
    );

    // Delete with versions.
    let victim = make(c4, at(t0, 400))?;
    let _ = create(victim.clone()).await?;
    let stale = delete(victim.id(), Version::new(2)).await;
    ensure!(
        is_conflict(&stale, Version::new(2), Version::FIRST),
        "{what}: delete with a wrong version gave {stale:?}, expected Conflict {{ expected: v2, found: v1 }}"
    );
    delete(victim.id(), Version::FIRST).await?;
    let gone = get(victim.id()).await;
    ensure!(
        is_not_found(&gone),
        "{what}: get after delete gave {gone:?}"
    );
    let gone = delete(victim.id(), Version::FIRST).await;
    ensure!(
        is_not_found(&gone),
        "{what}: delete after delete gave {gone:?}"
    );

    // Paging while another thread inserts and deletes.
    let c5 = CustomerId::new();
    let initial: Vec<R> = (0..30)
        .map(|i| make(c5, at(t0, 1000 + i)))
        .collect::<Result<_, _>>()?;
    let _ = bulk(initial.clone()).await?;
    let added: Vec<R> = (0..30)
        .map(|i| make(c5, at(t0, 1000 + i) + Duration::milliseconds(500)))
        .collect::<Result<_, _>>()?;
    let removed: BTreeSet<Key> = initial
        .iter()
        .step_by(3)
        .map(Key::of)
        .collect::<Result<_, _>>()?;
    let seen = std::thread::scope(|scope| {
        let writer = scope.spawn(|| -> Result<(), StoreError> {
            for (i, r) in added.iter().enumerate() {
                let _ = block_on(create(r.clone()))?;
                if let Some(old) = initial.get(i * 3) {
                    block_on(delete(old.id(), Version::FIRST))?;
                }
            }
            Ok(())
        });
        let seen = block_on(collect(list, &Query::Customer(c5), 4));
        let written = writer.join().map_err(|_| fail("writer thread panicked"));
        written.and_then(|w| w.map_err(Failure::from)).and(seen)
    })?;
    let mut counts: HashMap<Key, usize> = HashMap::new();
    for r in &seen {
        *counts.entry(key_of(r)?).or_default() += 1;
    }
    ensure!(
        counts.values().all(|c| *c == 1),
        "{what}: paging during writes returned a record twice"
    );
    let known: BTreeSet<Key> = sorted_keys(initial.iter().chain(&added))?
        .into_iter()
        .collect();
    for k in sorted_keys(&initial)? {
        if !removed.contains(&k) {
            ensure!(
                counts.contains_key(&k),
                "{what}: paging during writes missed a record present throughout"
            );
        }
    }
    ensure!(
        counts.keys().all(|k| known.contains(k)),
        "{what}: paging returned a record of another customer"
    );
    Ok(())
}

/// The checks of a mutable kind: update with versions and conflicts, and
/// four threads bumping one record ten times each with no lost update.
async fn mutable_checks<R, M, C, G, U, Bump, Count>(
    what: &str,
    make: &M,
    create: &C,
    get: &G,
    update: &U,
    bump: &Bump,
    count: &Count,
) -> Outcome
where
    R: Record + PartialEq,
    M: Fn(CustomerId, DateTime<Utc>) -> Result<R, Failure> + Sync,
    C: AsyncFn(R) -> Result<Versioned<R>, StoreError> + Sync,
    G: AsyncFn(R::Id) -> Result<Versioned<R>, StoreError> + Sync,
    U: AsyncFn(R, Version) -> Result<Versioned<R>, StoreError> + Sync,
    Bump: Fn(&R) -> Result<R, Failure> + Sync,
    Count: Fn(&R) -> usize + Sync,
{
    let t0 = base_time()?;
    let record = make(CustomerId::new(), t0)?;
    let _ = create(record.clone()).await?;
    let changed = bump(&record)?;
    let v2 = update(changed.clone(), Version::FIRST).await?;
    ensure!(
        v2.version() == Version::new(2) && v2.value() == &changed,
        "{what}: update must return the new value at version 2"
    );
    let stale = update(record.clone(), Version::FIRST).await;
    ensure!(
        is_conflict(&stale, Version::FIRST, Version::new(2)),
        "{what}: a stale update gave {stale:?}, expected Conflict {{ expected: v1, found: v2 }}"
    );
    ensure!(
        get(record.id()).await?.value() == &changed,
        "{what}: a rejected update must not change the stored record"
    );
    let unknown = make(CustomerId::new(), t0)?;
    let r = update(unknown, Version::FIRST).await;
    ensure!(
        is_not_found(&r),
        "{what}: updating an unknown record gave {r:?}"
    );

    let start = count(&changed);
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..4)
            .map(|_| {
                scope.spawn(|| -> Outcome {
                    for _ in 0..10 {
                        loop {
                            let current = block_on(get(record.id()))?;
                            let next = bump(current.value())?;
                            match block_on(update(next, current.version())) {
                                Ok(_) => break,
                                Err(StoreError::Conflict { .. }) => continue,
                                Err(e) => return Err(e.into()),
                            }
                        }
                    }
                    Ok(())
                })
            })
            .collect();
        workers
            .into_iter()
            .try_for_each(|w| w.join().map_err(|_| fail("worker thread panicked"))?)
    })?;
    let last = get(record.id()).await?;
    ensure!(
        count(last.value()) == start + 40 && last.version() == Version::new(42),
        "{what}: 4 threads x 10 updates must add 40 at v42, got {} more at {}",
        count(last.value()).saturating_sub(start),
        last.version()
    );
    Ok(())
}

fn kit_customer(id: CustomerId, created: DateTime<Utc>) -> Result<Customer, Failure> {
    Ok(Customer::builder(id, CustomerKind::Individual, created)
        .display_name("count 0")
        .build()?)
}

/// Checks a [`CustomerStore`] on its own: the checks of every kind
/// (create, get, bulk, paging by period and segment, boundaries, cursors,
/// delete, paging during writes), updates with no lost update, and erasure,
/// export and merge of customer records.
///
/// # Errors
/// A [`Failure`] naming the first check that failed.
///
/// # Example
/// ```
/// use crmkit::store::{memory::MemoryStore, testkit, blocking::block_on};
/// block_on(testkit::customer_store(&MemoryStore::new()))?;
/// Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub async fn customer_store<S: CustomerStore + ?Sized>(store: &S) -> Outcome {
    let what = "customers";
    // A customer's records are its own: `Query::Customer(id)` lists the
    // customer itself, so `make` ignores the given customer id for ids and
    // lists every kit customer under one fresh segment instead.
    let create = async |r: Customer| store.create_customer(r).await;
    let get = async |id: CustomerId| store.get_customer(id).await;
    let delete = async |id: CustomerId, v: Version| store.delete_customer(id, v).await;
    let bulk = async |rs: Vec<Customer>| store.insert_customers(rs).await;
    let list = async |q: Query, p: PageRequest| store.customers(q, p).await;
    let update = async |r: Customer, v: Version| store.update_customer(r, v).await;

    // Customers are about themselves: check their own listings here.
    let t0 = base_time()?;
    let seg = fresh_segment()?;
    let mut all = Vec::new();
    for i in 0..15i64 {
        let mut c = kit_customer(CustomerId::new(), at(t0, i / 2))?;
        if i % 2 == 0 {
            let _ = c.add_segment(seg.clone());
        }
        all.push(c);
    }
    let _ = bulk(all.clone()).await?;
    let in_seg: Vec<_> = all.iter().filter(|c| c.segments().contains(&seg)).collect();
    ensure!(
        in_seg.len() == 8,
        "test data: 8 customers in the segment (even i)"
    );
    check_paging(
        what,
        &list,
        &Query::Segment(seg.clone()),
        &sorted_keys(in_seg)?,
    )
    .await?;
    // [t0 + 1 s, t0 + 3 s) holds i / 2 in {1, 2}: i = 2..=5, four customers.
    let window = Period::new(at(t0, 1), at(t0, 3))?;
    let inside: Vec<_> = all
        .iter()
        .filter(|c| window.contains(c.created_at()))
        .collect();
    ensure!(inside.len() == 4, "test data: four customers in the window");
    check_paging(what, &list, &Query::Period(window), &sorted_keys(inside)?).await?;
    let one = &all[0];
    let own = collect(&list, &Query::Customer(one.id()), 5).await?;
    ensure!(
        own.len() == 1 && own[0].value() == one,
        "customers by customer must list the customer itself"
    );
    check_cursor_misuse(
        what,
        &list,
        &Query::Segment(seg.clone()),
        &Query::Period(window),
    )
    .await?;

    // The generic checks, with each "record of customer c" being a
    // customer whose id is c (so listings by customer hold one record).
    let make = |_c: CustomerId, t: DateTime<Utc>| kit_customer(CustomerId::new(), t);
    kind_checks_by_time(what, &make, &create, &get, &delete, &bulk, &list).await?;
    let bump = |c: &Customer| -> Result<Customer, Failure> {
        let n = counter(c.display_name().map(|n| n.expose().as_str()))?;
        let mut next = c.clone();
        next.set_display_name(Some(format!("count {}", n + 1)))?;
        Ok(next)
    };
    let count = |c: &Customer| counter(c.display_name().map(|n| n.expose().as_str())).unwrap_or(0);
    mutable_checks(what, &make, &create, &get, &update, &bump, &count).await?;

    // Erasure of the customer record.
    let secret = format!("Quaerens {}", Uuid::now_v7().simple());
    let email = format!("kit-{}@example.org", Uuid::now_v7().simple());
    let id = CustomerId::new();
    let c = Customer::builder(id, CustomerKind::Individual, t0)
        .display_name(secret.clone())
        .contact_point(ContactPoint::new(
            ContactValue::Email(EmailAddress::new(&email)?),
            true,
            None,
        ))
        .segment(seg.clone())
        .build()?;
    let _ = create(c.clone()).await?;
    let report = store.erase_customer(id, at(t0, 5)).await?;
    ensure!(
        report.records >= 1,
        "erase_customer must report the customer as changed"
    );
    let erased = get(id).await?;
    ensure!(
        erased.is_erased()
            && erased.display_name().is_none()
            && erased.contact_points().is_empty()
            && erased.version() == Version::new(2)
            && erased.segments().contains(&seg)
            && erased.created_at() == t0,
        "an erased customer must keep no name or contact point, keep segments and times, at v2"
    );
    let export = store.export_customer(id).await?;
    let text = serde_json::to_string(&export).map_err(|e| fail(e.to_string()))?;
    ensure!(
        !text.contains(&secret) && !text.contains(&email),
        "the export of an erased customer still holds personal data"
    );
    let r = store.erase_customer(CustomerId::new(), t0).await;
    ensure!(is_not_found(&r), "erasing an unknown customer gave {r:?}");
    let r = store.export_customer(CustomerId::new()).await;
    ensure!(is_not_found(&r), "exporting an unknown customer gave {r:?}");

    // Merge of two customer records.
    let (keep, absorbed) = (CustomerId::new(), CustomerId::new());
    let seg2 = fresh_segment()?;
    let k = kit_customer(keep, t0)?;
    let a = Customer::builder(absorbed, CustomerKind::Individual, at(t0, 1))
        .contact_point(ContactPoint::new(
            ContactValue::Email(EmailAddress::new(&email)?),
            false,
            None,
        ))
        .segment(seg2.clone())
        .build()?;
    let _ = bulk(vec![k, a]).await?;
    let merged = store.merge_customers(keep, absorbed).await?;
    ensure!(
        merged.customer.contact_points().len() == 1
            && merged.customer.segments().contains(&seg2)
            && merged.customer.display_name().map(|n| n.expose().as_str()) == Some("count 0"),
        "the surviving customer must hold the absorbed one's contact point and segment"
    );
    ensure!(
        get(keep).await?.version() == Version::new(2),
        "the surviving customer must be at v2 after the merge"
    );
    let gone = get(absorbed).await;
    ensure!(
        is_not_found(&gone),
        "the absorbed customer must be gone, got {gone:?}"
    );
    let r = store.merge_customers(keep, keep).await;
    ensure!(
        matches!(r, Err(StoreError::Invalid(_))),
        "merging a customer into itself gave {r:?}, expected Invalid"
    );
    let r = store.merge_customers(keep, CustomerId::new()).await;
    ensure!(is_not_found(&r), "merging an unknown customer gave {r:?}");
    Ok(())
}

fn counter(name: Option<&str>) -> Result<usize, Failure> {
    name.and_then(|n| n.strip_prefix("count "))
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| fail("kit counter"))
}

/// [`kind_checks`] for customers, which are listed by their own id.
async fn kind_checks_by_time<M, C, G, D, B, L>(
    what: &str,
    make: &M,
    create: &C,
    get: &G,
    delete: &D,
    bulk: &B,
    list: &L,
) -> Outcome
where
    M: Fn(CustomerId, DateTime<Utc>) -> Result<Customer, Failure> + Sync,
    C: AsyncFn(Customer) -> Result<Versioned<Customer>, StoreError> + Sync,
    G: AsyncFn(CustomerId) -> Result<Versioned<Customer>, StoreError> + Sync,
    D: AsyncFn(CustomerId, Version) -> Result<(), StoreError> + Sync,
    B: AsyncFn(Vec<Customer>) -> Result<usize, StoreError> + Sync,
    L: AsyncFn(Query, PageRequest) -> Result<Page<Versioned<Customer>>, StoreError> + Sync,
{
    let t0 = base_time()?;
    let first = make(CustomerId::new(), t0)?;
    let stored = create(first.clone()).await?;
    ensure!(
        stored.version() == Version::FIRST && stored.value() == &first,
        "{what}: create must return the record at Version::FIRST"
    );
    ensure!(
        get(first.id()).await? == stored,
        "{what}: get must return what create stored"
    );
    let again = create(first.clone()).await;
    ensure!(
        matches!(again, Err(StoreError::AlreadyExists { .. })),
        "{what}: creating the same id twice gave {again:?}"
    );
    // Boundaries.
    let (start, end) = (at(t0, 100), at(t0, 200));
    let one = Duration::nanoseconds(1);
    let edges: Vec<Customer> = [start - one, start, end - one, end]
        .iter()
        .map(|t| make(CustomerId::new(), *t))
        .collect::<Result<_, _>>()?;
    let _ = bulk(edges.clone()).await?;
    let inside = collect(list, &Query::Period(Period::new(start, end)?), 10).await?;
    let times: Vec<_> = inside.iter().map(|r| r.created_at()).collect();
    ensure!(
        times == vec![start, end - one],
        "{what}: Period [start, end) must hold start and end - 1 ns only, got {times:?}"
    );
    // All or nothing.
    let fresh = make(CustomerId::new(), at(t0, 300))?;
    let r = bulk(vec![fresh.clone(), first.clone()]).await;
    ensure!(
        matches!(r, Err(StoreError::AlreadyExists { .. })),
        "{what}: a bulk insert with a stored id gave {r:?}"
    );
    let left = get(fresh.id()).await;
    ensure!(
        is_not_found(&left),
        "{what}: a failed bulk insert stored a row"
    );
    // Delete.
    let stale = delete(first.id(), Version::new(2)).await;
    ensure!(
        is_conflict(&stale, Version::new(2), Version::FIRST),
        "{what}: delete with a wrong version gave {stale:?}"
    );
    delete(first.id(), Version::FIRST).await?;
    let gone = get(first.id()).await;
    ensure!(
        is_not_found(&gone),
        "{what}: get after delete gave {gone:?}"
    );
    Ok(())
}

fn kit_interaction(c: CustomerId, t: DateTime<Utc>) -> Result<Interaction, Failure> {
    Ok(Interaction::new(
        InteractionId::new(),
        c,
        Channel::Email,
        Direction::Inbound,
        InteractionPurpose::Support,
        t,
    ))
}

/// Checks an [`InteractionStore`]: the checks of every kind (create, get,
/// bulk all or nothing, paging by customer and period with every page
/// size, boundaries, cursors, delete, paging during writes) and updates
/// with no lost update.
///
/// # Errors
/// A [`Failure`] naming the first check that failed.
///
/// # Example
/// ```
/// use crmkit::store::{memory::MemoryStore, testkit, blocking::block_on};
/// block_on(testkit::interaction_store(&MemoryStore::new()))?;
/// Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub async fn interaction_store<S: InteractionStore + ?Sized>(store: &S) -> Outcome {
    let create = async |r: Interaction| store.create_interaction(r).await;
    let get = async |id: InteractionId| store.get_interaction(id).await;
    let delete = async |id: InteractionId, v: Version| store.delete_interaction(id, v).await;
    let bulk = async |rs: Vec<Interaction>| store.insert_interactions(rs).await;
    let list = async |q: Query, p: PageRequest| store.interactions(q, p).await;
    let update = async |r: Interaction, v: Version| store.update_interaction(r, v).await;
    kind_checks(
        "interactions",
        &kit_interaction,
        &create,
        &get,
        &delete,
        &bulk,
        &list,
    )
    .await?;
    // The counter is the duration in seconds.
    let count = |r: &Interaction| {
        r.duration()
            .map_or(0, |d| usize::try_from(d.num_seconds()).unwrap_or(0))
    };
    let bump = |r: &Interaction| -> Result<Interaction, Failure> {
        let mut next = r.clone();
        let n = i64::try_from(count(r)).map_err(|_| fail("counter"))?;
        next.set_duration(Some(Duration::seconds(n + 1)))?;
        Ok(next)
    };
    mutable_checks(
        "interactions",
        &kit_interaction,
        &create,
        &get,
        &update,
        &bump,
        &count,
    )
    .await
}

fn kit_case(c: CustomerId, t: DateTime<Utc>) -> Result<Case, Failure> {
    let created = CaseEvent::new(
        t,
        Actor::Customer,
        CaseEventKind::Created {
            by_agent: false,
            public_message: true,
        },
    );
    Ok(Case::open(
        CaseId::new(),
        c,
        "kit case",
        Priority::Normal,
        Channel::Email,
        created,
    )?)
}

/// Checks a [`CaseStore`]: the checks of every kind, and recording events
/// as updates with no lost event when four threads record at once.
///
/// # Errors
/// A [`Failure`] naming the first check that failed.
///
/// # Example
/// ```
/// use crmkit::store::{memory::MemoryStore, testkit, blocking::block_on};
/// block_on(testkit::case_store(&MemoryStore::new()))?;
/// Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub async fn case_store<S: CaseStore + ?Sized>(store: &S) -> Outcome {
    let create = async |r: Case| store.create_case(r).await;
    let get = async |id: CaseId| store.get_case(id).await;
    let delete = async |id: CaseId, v: Version| store.delete_case(id, v).await;
    let bulk = async |rs: Vec<Case>| store.insert_cases(rs).await;
    let list = async |q: Query, p: PageRequest| store.cases(q, p).await;
    let update = async |r: Case, v: Version| store.update_case(r, v).await;
    kind_checks("cases", &kit_case, &create, &get, &delete, &bulk, &list).await?;
    // The counter is the number of events; each new one a second later.
    let count = |r: &Case| r.events().len();
    let bump = |r: &Case| -> Result<Case, Failure> {
        let mut next = r.clone();
        let last = r
            .events()
            .last()
            .map(|e| e.at())
            .ok_or_else(|| fail("case events"))?;
        next.record(CaseEvent::new(
            last + Duration::seconds(1),
            Actor::Agent(AgentId::from_u128(1)),
            CaseEventKind::PrivateNote,
        ))?;
        Ok(next)
    };
    mutable_checks("cases", &kit_case, &create, &get, &update, &bump, &count).await
}

fn eur() -> Result<Currency, Failure> {
    Ok(Currency::new("EUR")?)
}

fn kit_purchase(c: CustomerId, t: DateTime<Utc>) -> Result<Purchase, Failure> {
    // An amount with more digits than any float holds exactly.
    let amount = "12345678901234.56789"
        .parse()
        .map_err(|_| fail("decimal literal"))?;
    Ok(Purchase::new(
        PurchaseId::new(),
        c,
        t,
        PurchaseKind::Sale,
        Money::new(amount, eur()?),
    )?)
}

fn kit_subscription(c: CustomerId, t: DateTime<Utc>) -> Result<Subscription, Failure> {
    let plan = Segment::new("kit plan")?;
    let mrr = "49.99".parse().map_err(|_| fail("decimal literal"))?;
    Ok(Subscription::new(
        SubscriptionId::new(),
        c,
        plan,
        t,
        Money::new(mrr, eur()?),
    )?)
}

/// Checks a [`PurchaseStore`]: the checks of every kind for purchases
/// (facts, with amounts that must come back exactly) and subscriptions,
/// and MRR changes as updates with no lost change.
///
/// # Errors
/// A [`Failure`] naming the first check that failed.
///
/// # Example
/// ```
/// use crmkit::store::{memory::MemoryStore, testkit, blocking::block_on};
/// block_on(testkit::purchase_store(&MemoryStore::new()))?;
/// Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub async fn purchase_store<S: PurchaseStore + ?Sized>(store: &S) -> Outcome {
    let create = async |r: Purchase| store.record_purchase(r).await;
    let get = async |id: PurchaseId| store.get_purchase(id).await;
    let delete = async |id: PurchaseId, v: Version| store.delete_purchase(id, v).await;
    let bulk = async |rs: Vec<Purchase>| store.insert_purchases(rs).await;
    let list = async |q: Query, p: PageRequest| store.purchases(q, p).await;
    kind_checks(
        "purchases",
        &kit_purchase,
        &create,
        &get,
        &delete,
        &bulk,
        &list,
    )
    .await?;

    let create = async |r: Subscription| store.create_subscription(r).await;
    let get = async |id: SubscriptionId| store.get_subscription(id).await;
    let delete = async |id: SubscriptionId, v: Version| store.delete_subscription(id, v).await;
    let bulk = async |rs: Vec<Subscription>| store.insert_subscriptions(rs).await;
    let list = async |q: Query, p: PageRequest| store.subscriptions(q, p).await;
    let update = async |r: Subscription, v: Version| store.update_subscription(r, v).await;
    kind_checks(
        "subscriptions",
        &kit_subscription,
        &create,
        &get,
        &delete,
        &bulk,
        &list,
    )
    .await?;
    // The counter is the number of MRR changes, each a day after the last.
    let count = |r: &Subscription| r.mrr_changes().len();
    let bump = |r: &Subscription| -> Result<Subscription, Failure> {
        let mut next = r.clone();
        let last = r
            .mrr_changes()
            .last()
            .map(|c| c.effective_at)
            .ok_or_else(|| fail("mrr changes"))?;
        let mrr = Money::new(rust_decimal::Decimal::from(count(r)), eur()?);
        next.change_mrr(last + Duration::days(1), mrr)?;
        Ok(next)
    };
    mutable_checks(
        "subscriptions",
        &kit_subscription,
        &create,
        &get,
        &update,
        &bump,
        &count,
    )
    .await
}

/// Reads the raw stored form of a store (for SQLite: the bytes of the
/// database file and its WAL), for [`personal_data`] to scan.
pub type RawBytes = dyn Fn() -> std::io::Result<Vec<u8>> + Sync;

/// Checks erasure, export and merge across every kind of record about a
/// customer, in a store that implements every store trait.
///
/// - Export returns the customer and each of their records once, personal
///   data included (the right of access).
/// - Erasure removes the name, contact points, interaction summary, case
///   subject and event bodies, and response comments, and keeps scores,
///   amounts, times and segments; another customer's data stays. With
///   `raw`, the raw stored form must contain none of the erased values
///   (and must contain the other customer's comment, proving the scan
///   reads real data).
/// - Merge re-points every record of the absorbed customer, bumping each
///   version once, and loses none.
///
/// # Errors
/// A [`Failure`] naming the first check that failed.
///
/// # Example
/// ```
/// use crmkit::store::{memory::MemoryStore, testkit, blocking::block_on};
/// block_on(testkit::personal_data(&MemoryStore::new(), None))?;
/// Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub async fn personal_data<S>(store: &S, raw: Option<&RawBytes>) -> Outcome
where
    S: CustomerStore + InteractionStore + CaseStore + PurchaseStore + SurveyStore + ?Sized,
{
    let t0 = base_time()?;
    let tag = Uuid::now_v7().simple().to_string();
    let name = format!("Zyxwvut Quaerens {tag}");
    let email = format!("erase-me-{tag}@example.org");
    let summary = format!("summary about {tag} by phone");
    let subject = format!("subject {tag} broken");
    let body = format!("event body {tag} private");
    let comment = format!("comment {tag} rude");
    let kept = format!("other customer's comment {tag} stays");
    let secrets = [&name, &email, &summary, &subject, &body, &comment];

    let (id, other) = (CustomerId::new(), CustomerId::new());
    let sid = SurveyId::new();
    let seg = fresh_segment()?;
    let customer = Customer::builder(id, CustomerKind::Individual, t0)
        .display_name(name.clone())
        .contact_point(ContactPoint::new(
            ContactValue::Email(EmailAddress::new(&email)?),
            true,
            None,
        ))
        .segment(seg.clone())
        .build()?;
    let _ = store.create_customer(customer).await?;
    let _ = store.create_customer(kit_customer(other, t0)?).await?;
    let _ = store
        .create_survey(survey_named(sid, "kit erasure", t0)?)
        .await?;
    let interaction = kit_interaction(id, at(t0, 1))?.with_summary(summary.clone())?;
    let _ = store.create_interaction(interaction.clone()).await?;
    let created = CaseEvent::new(
        at(t0, 2),
        Actor::Customer,
        CaseEventKind::Created {
            by_agent: false,
            public_message: true,
        },
    )
    .with_body(body.clone())?;
    let case = Case::open(
        CaseId::new(),
        id,
        subject.clone(),
        Priority::High,
        Channel::Email,
        created,
    )?;
    let _ = store.create_case(case.clone()).await?;
    let purchase = kit_purchase(id, at(t0, 3))?;
    let _ = store.record_purchase(purchase.clone()).await?;
    let _ = store
        .create_subscription(kit_subscription(id, at(t0, 3))?)
        .await?;
    let invitation = SurveyInvitation::new(InvitationId::new(), sid, id, at(t0, 4), Channel::Sms)
        .with_segments([seg.clone()]);
    let _ = store.record_invitation(invitation).await?;
    let answer = response(sid, id, at(t0, 5), 3, Some(&seg))?.with_comment(comment.clone())?;
    let _ = store.record_response(answer.clone()).await?;
    let others = response(sid, other, at(t0, 6), 10, None)?.with_comment(kept.clone())?;
    let _ = store.record_response(others.clone()).await?;

    // Export: everything, once.
    let export = store.export_customer(id).await?;
    ensure!(
        export.interactions.len() == 1
            && export.cases.len() == 1
            && export.purchases.len() == 1
            && export.subscriptions.len() == 1
            && export.invitations.len() == 1
            && export.responses.len() == 1
            && export.len() == 7,
        "the export must hold the customer and each of their six records once"
    );
    let text = serde_json::to_string(&export).map_err(|e| fail(e.to_string()))?;
    for s in secrets {
        ensure!(
            text.contains(s.as_str()),
            "the export must hold the customer's personal data"
        );
    }
    ensure!(
        !text.contains(&kept),
        "the export must not hold another customer's data"
    );
    let back: super::CustomerExport =
        serde_json::from_str(&text).map_err(|e| fail(e.to_string()))?;
    ensure!(back == export, "the export must round-trip through JSON");

    // Erasure.
    let report = store.erase_customer(id, at(t0, 10)).await?;
    // Changed: the customer, the interaction (summary), the case (subject,
    // body) and the response (comment); purchases, subscriptions and
    // invitations hold no personal data.
    ensure!(
        report.records == 4,
        "erasure must change 4 records (customer, interaction, case, response), reported {}",
        report.records
    );
    let export = store.export_customer(id).await?;
    let text = serde_json::to_string(&export).map_err(|e| fail(e.to_string()))?;
    for s in secrets {
        ensure!(
            !text.contains(s.as_str()),
            "personal data survived erasure in the export"
        );
    }
    ensure!(export.len() == 7, "erasure must keep every record");
    let r = store.get_response(answer.id()).await?;
    ensure!(
        r.score() == answer.score()
            && r.responded_at() == answer.responded_at()
            && r.segments() == answer.segments()
            && r.comment().is_none(),
        "an erased response keeps score, time and segments and loses its comment"
    );
    let i = store.get_interaction(interaction.id()).await?;
    ensure!(
        i.occurred_at() == interaction.occurred_at() && i.summary().is_none(),
        "an erased interaction keeps its time and loses its summary"
    );
    let p = store.get_purchase(purchase.id()).await?;
    ensure!(p.value() == &purchase, "erasure must not change a purchase");
    let c = store.get_case(case.id()).await?;
    ensure!(
        c.events().len() == case.events().len() && c.status() == case.status(),
        "an erased case keeps its events and status"
    );
    let o = store.get_response(others.id()).await?;
    ensure!(
        o.value() == &others,
        "erasing one customer must not touch another customer's response"
    );
    if let Some(raw) = raw {
        let bytes = raw().map_err(|e| fail(format!("reading the raw store: {e}")))?;
        ensure!(
            contains(&bytes, kept.as_bytes()),
            "the raw stored form does not hold another customer's comment: the raw check reads nothing"
        );
        for s in secrets {
            ensure!(
                !contains(&bytes, s.as_bytes()),
                "an erased value survives in the raw stored form (free pages or log)"
            );
        }
    }

    // Merge across records.
    let (keep, absorbed) = (CustomerId::new(), CustomerId::new());
    let _ = store
        .insert_customers(vec![kit_customer(keep, t0)?, kit_customer(absorbed, t0)?])
        .await?;
    let _ = store
        .create_interaction(kit_interaction(keep, at(t0, 20))?)
        .await?;
    let moved_interaction = kit_interaction(absorbed, at(t0, 21))?;
    let _ = store.create_interaction(moved_interaction.clone()).await?;
    let _ = store.create_case(kit_case(absorbed, at(t0, 22))?).await?;
    let moved_purchase = kit_purchase(absorbed, at(t0, 23))?;
    let _ = store.record_purchase(moved_purchase.clone()).await?;
    let _ = store
        .create_subscription(kit_subscription(absorbed, at(t0, 24))?)
        .await?;
    let _ = store
        .record_invitation(SurveyInvitation::new(
            InvitationId::new(),
            sid,
            absorbed,
            at(t0, 25),
            Channel::Email,
        ))
        .await?;
    let moved_response = response(sid, absorbed, at(t0, 26), 8, None)?;
    let _ = store.record_response(moved_response.clone()).await?;
    let report = store.merge_customers(keep, absorbed).await?;
    ensure!(
        report.moved == 6,
        "merge must re-point 6 records, reported {}",
        report.moved
    );
    let export = store.export_customer(keep).await?;
    ensure!(
        export.interactions.len() == 2
            && export.cases.len() == 1
            && export.purchases.len() == 1
            && export.subscriptions.len() == 1
            && export.invitations.len() == 1
            && export.responses.len() == 1,
        "after the merge the surviving customer must hold all 7 records"
    );
    let p = store.get_purchase(moved_purchase.id()).await?;
    ensure!(
        p.customer() == keep
            && p.amount() == moved_purchase.amount()
            && p.version() == Version::new(2),
        "a re-pointed purchase keeps its amount, names the surviving customer, at v2"
    );
    let r = store.get_response(moved_response.id()).await?;
    ensure!(
        r.customer() == keep && r.score() == moved_response.score(),
        "a re-pointed response keeps its score and names the surviving customer"
    );
    let left = store
        .interactions(Query::Customer(absorbed), PageRequest::first(10)?)
        .await?;
    ensure!(
        left.items.is_empty(),
        "no interaction may still name the absorbed customer"
    );
    let gone = store.get_customer(absorbed).await;
    ensure!(is_not_found(&gone), "the absorbed customer must be gone");
    let _ = RecordId::uuid(moved_interaction.id());
    Ok(())
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

/// Runs every check of this kit against a store that implements every
/// store trait and [`UnitOfWork`] (as the stores shipped with crmkit do).
///
/// # Errors
/// A [`Failure`] naming the first check that failed.
///
/// # Example
/// ```
/// use crmkit::store::{memory::MemoryStore, testkit, blocking::block_on};
/// block_on(testkit::all(&MemoryStore::new(), None))?;
/// Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub async fn all<S>(store: &S, raw: Option<&RawBytes>) -> Outcome
where
    S: CustomerStore
        + InteractionStore
        + CaseStore
        + PurchaseStore
        + SurveyStore
        + UnitOfWork
        + ?Sized,
{
    customer_store(store).await?;
    interaction_store(store).await?;
    case_store(store).await?;
    purchase_store(store).await?;
    survey_store(store).await?;
    personal_data(store, raw).await?;
    unit_of_work(store).await
}
