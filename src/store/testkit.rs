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
//! | [`SurveyStore`] | [`survey_store`] |
//! | [`UnitOfWork`] | [`unit_of_work`] |
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
//!     testkit::survey_store(&store).await?;
//!     Ok(())
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
    Cursor, Key, Page, PageRequest, Query, Record, RecordId, StoreError, SurveyStore, Transaction,
    UnitOfWork,
};
use crate::domain::{
    Channel, CustomerId, InvitationId, Period, ResponseId, Scale, Segment, Survey, SurveyId,
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
