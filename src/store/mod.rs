//! Storage ports: one trait per aggregate, a unit of work, an in-memory
//! reference store, a SQLite store and a conformance test kit.
//!
//! Applications keep their customers in their own database. They plug it in
//! by implementing the store traits, and check their adapter against the
//! reference behaviour with the functions of `store::testkit` (feature
//! `testkit`).
//!
//! - The traits: [`CustomerStore`] (with erasure, export and merge),
//!   [`InteractionStore`], [`CaseStore`], [`PurchaseStore`] (purchases and
//!   subscriptions), [`SurveyStore`] (surveys, invitations, responses), and
//!   [`UnitOfWork`] for work over several records and kinds at once.
//! - [`memory::MemoryStore`]: the reference implementation, `BTreeMap`s
//!   behind one lock.
//! - `sqlite::SqliteStore` (feature `sqlite`): the embedded default, bundled
//!   SQLite, reached through a connection thread.
//! - `testkit` (feature `testkit`): one `pub async fn` per store trait.
//!
//! A store that implements [`UnitOfWork`] (a synchronous [`Transaction`]
//! handle over its backend) gets every store trait for free, as the two
//! shipped stores do; an adapter over an async driver implements the store
//! traits directly instead (see the `custom_store` example).
//!
//! # Example
//!
//! ```
//! use chrono::{DateTime, Utc};
//! use crmkit::domain::*;
//! use crmkit::store::blocking::block_on;
//! use crmkit::store::memory::MemoryStore;
//! use crmkit::store::{CustomerStore, InteractionStore, PageRequest, Query, StoreError};
//!
//! let store = MemoryStore::new();
//! let t0: DateTime<Utc> = "2026-03-01T09:00:00Z".parse()?;
//! let ada = Customer::builder(CustomerId::new(), CustomerKind::Individual, t0)
//!     .display_name("Ada Lovelace")
//!     .build()?;
//! let stored = block_on(store.create_customer(ada.clone()))?;
//! assert_eq!(stored.version(), Version::FIRST);
//!
//! // Optimistic concurrency: an update names the version it replaces.
//! let mut renamed = stored.value().clone();
//! renamed.set_display_name(Some("Ada King".into()))?;
//! let v2 = block_on(store.update_customer(renamed, stored.version()))?;
//! let stale = block_on(store.update_customer(ada, Version::FIRST));
//! assert!(matches!(stale, Err(StoreError::Conflict { .. })));
//!
//! // Record 25 calls, then read March page by page.
//! let calls: Vec<_> = (0..25)
//!     .map(|i| Interaction::new(
//!         InteractionId::new(), v2.id(), Channel::Phone, Direction::Inbound,
//!         InteractionPurpose::Support, t0 + chrono::Duration::hours(i),
//!     ))
//!     .collect();
//! block_on(store.insert_interactions(calls))?;
//! let march = Period::new(t0, "2026-04-01T00:00:00Z".parse()?)?;
//! let mut request = PageRequest::first(10)?;
//! let mut seen = 0;
//! loop {
//!     let page = block_on(store.interactions(Query::Period(march), request.clone()))?;
//!     seen += page.items.len();
//!     match request.next(&page) {
//!         Some(next) => request = next,
//!         None => break,
//!     }
//! }
//! assert_eq!(seen, 25);
//!
//! // The right of access, then the right to erasure.
//! let export = block_on(store.export_customer(v2.id()))?;
//! assert_eq!(export.interactions.len(), 25);
//! block_on(store.erase_customer(v2.id(), t0))?;
//! assert!(block_on(store.get_customer(v2.id()))?.display_name().is_none());
//! Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Contract
//!
//! Every store (shipped or yours) behaves as follows; the test kit checks it.
//!
//! - **Versions.** Creating a record returns it as
//!   [`Versioned`] at [`Version::FIRST`]. Every
//!   successful update returns the next version. An update or delete whose
//!   expected version is not the stored one fails with
//!   [`StoreError::Conflict`] naming both, and changes nothing: never a
//!   silent overwrite. Facts (purchases, invitations, responses) cannot be
//!   updated ([`StoreError::Immutable`]); only erasure and merge rewrite them.
//! - **Atomicity.** Every write is atomic: a bulk insert with one bad row
//!   (a duplicate id, say) inserts nothing. [`UnitOfWork::transaction`] runs
//!   several operations over several aggregates all or nothing, isolated
//!   from concurrent writers (serializable).
//! - **Ordering and paging.** Every listing is ordered by [`Key`]: the
//!   record's time (creation or occurrence, see [`Record::time`]) in
//!   nanoseconds, then its id. A page holds at most the requested number of
//!   items and a [`Cursor`] to the next page, `None` on the last. Paging
//!   continues strictly after the last key returned (keyset paging), so every
//!   record present when paging began and still present at the end is
//!   returned exactly once, whatever the page size; records inserted or
//!   deleted meanwhile are returned at most once. (A record whose time is
//!   changed by an update while someone pages counts as deleted and
//!   re-inserted.)
//! - **Time ranges** are half-open [`Period`]s:
//!   `start <= time < end`.
//! - **Erasure** replaces the personal data of a customer and of every record
//!   about them (through the domain types' erase functions) in one unit of
//!   work, and keeps the anonymous facts the metrics need (scores, amounts,
//!   timestamps, segments). Stores that can, remove the old values physically.
//!   A store that is also an [`OutboxStore`](crate::outreach::OutboxStore)
//!   (both shipped stores are) skips the customer's pending follow-ups in
//!   the same unit of work ([`Transaction::erase_outbox`]).
//! - **Export** returns everything stored about one customer as one serde
//!   document (the right of access), outbox entries included in a store
//!   that is an outbox.
//! - **Merge** re-points every record of one customer to another (outbox
//!   entries included, in a store that is an outbox:
//!   [`Transaction::reassign_outbox`]), combines the two customer records,
//!   and removes the absorbed one, in one unit of work: nothing is lost.
//! - **Timestamps** are stored exactly to the nanosecond; the stores accept
//!   instants between the years 1678 and 2261 (nanoseconds in an `i64`) and
//!   reject others with [`StoreError::Invalid`].
//! - **Money** is stored exactly (decimal text), never as floating point.
//!
//! # Async and sync callers
//!
//! The traits use native `async fn` in traits written as
//! `fn op(..) -> impl Future<Output = ..> + Send`, so static dispatch costs
//! nothing and every future can move to another thread of a work-stealing
//! executor. Stores never block the caller's executor: the memory store
//! finishes without waiting, the SQLite store hands its work to its own
//! connection thread. Synchronous code drives the futures with
//! [`blocking::block_on`]. If you need `Arc<dyn CustomerStore>` (the traits
//! are not object safe because of the `impl Future` returns), wrap your store
//! in an enum of the concrete stores you use, or box the futures with the
//! `async-trait` or `dynosaur` crates in your own object-safe wrapper trait.

pub mod blocking;
mod cursor;
mod error;
pub mod memory;
#[cfg(feature = "sqlite")]
mod oneshot;
mod ports;
mod record;
mod records;
#[cfg(feature = "sqlite")]
#[cfg_attr(docsrs, doc(cfg(feature = "sqlite")))]
pub mod sqlite;
#[cfg(feature = "testkit")]
#[cfg_attr(docsrs, doc(cfg(feature = "testkit")))]
pub mod testkit;

pub use cursor::{Cursor, Cursors};
pub use error::StoreError;
pub use ports::*;
pub use record::*;
pub use records::absorb_customer;

use std::future::Future;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::domain::{CustomerId, Period, Segment, SurveyId, Version, Versioned};
use crate::error::ValidationError;

/// The largest page size a store accepts.
pub const MAX_PAGE_SIZE: usize = 10_000;

/// The position of a record in every listing: its time in nanoseconds since
/// the Unix epoch, then its id.
///
/// # Example
/// ```
/// use crmkit::store::Key;
/// let a = Key::new(1, uuid::Uuid::from_u128(9));
/// let b = Key::new(2, uuid::Uuid::from_u128(1));
/// assert!(a < b);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Key {
    /// Nanoseconds since 1970-01-01T00:00:00Z.
    pub at: i64,
    /// The record's id.
    pub id: Uuid,
}

impl Key {
    /// A key from its parts.
    pub const fn new(at: i64, id: Uuid) -> Self {
        Self { at, id }
    }

    /// The key of a record.
    ///
    /// # Errors
    /// [`StoreError::Invalid`] when the record's time is outside the
    /// nanosecond range (years 1678 to 2261).
    ///
    /// # Example
    /// ```
    /// use crmkit::store::{Key, Record};
    /// # fn key_of<R: Record>(r: &R) -> Result<Key, crmkit::store::StoreError> { Key::of(r) }
    /// ```
    pub fn of<R: Record>(record: &R) -> Result<Self, StoreError> {
        Ok(Self::new(
            nanos(record.time())?,
            RecordId::uuid(record.id()),
        ))
    }
}

/// Nanoseconds since the epoch of an instant, or an error outside the range
/// an `i64` holds.
///
/// # Example
/// ```
/// use chrono::{DateTime, Utc};
/// let t: DateTime<Utc> = "1970-01-01T00:00:01Z".parse()?;
/// assert_eq!(crmkit::store::nanos(t)?, 1_000_000_000);
/// Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn nanos(t: DateTime<Utc>) -> Result<i64, StoreError> {
    t.timestamp_nanos_opt().ok_or_else(|| {
        StoreError::Invalid(ValidationError::OutOfRange {
            field: "timestamp",
            value: t.to_rfc3339(),
            range: "1678-01-01..2262-01-01".to_owned(),
        })
    })
}

/// The nanosecond bounds `[start, end)` of a period, clamped to the range
/// the stores hold.
pub(crate) fn period_nanos(p: &Period) -> (i64, i64) {
    let clamp = |t: DateTime<Utc>| {
        t.timestamp_nanos_opt().unwrap_or(if t.timestamp() < 0 {
            i64::MIN
        } else {
            i64::MAX
        })
    };
    (clamp(p.start()), clamp(p.end()))
}

/// Which records of one kind a listing returns. Every listing is ordered by
/// [`Key`].
///
/// # Example
/// ```
/// use crmkit::domain::{CustomerId, Period};
/// use crmkit::store::Query;
/// let march = Period::new("2026-03-01T00:00:00Z".parse()?, "2026-04-01T00:00:00Z".parse()?)?;
/// let q = Query::Period(march);
/// assert_ne!(q, Query::Customer(CustomerId::from_u128(1)));
/// Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Query {
    /// Every record of the kind.
    All,
    /// Records about one customer.
    Customer(CustomerId),
    /// Records whose time is in the half-open period.
    Period(Period),
    /// Records of one survey (invitations and responses).
    Survey(SurveyId),
    /// Records in a segment (customers now; responses at response time).
    Segment(Segment),
}

impl Query {
    /// Whether a record with these index values is in the result.
    pub fn matches<R: Record>(&self, record: &R, key: &Key) -> bool {
        match self {
            Query::All => true,
            Query::Customer(c) => record.customer() == Some(*c),
            Query::Period(p) => {
                let (start, end) = period_nanos(p);
                start <= key.at && key.at < end
            }
            Query::Survey(s) => record.survey() == Some(*s),
            Query::Segment(s) => record.segments().iter().any(|x| x == s),
        }
    }
}

/// A request for one page of a listing: a size and, after the first page,
/// the cursor the previous page returned.
///
/// # Example
/// ```
/// use crmkit::store::{PageRequest, StoreError};
/// let first = PageRequest::first(100)?;
/// assert_eq!(first.size(), 100);
/// assert!(matches!(PageRequest::first(0), Err(StoreError::InvalidPageSize { size: 0, .. })));
/// Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    size: usize,
    cursor: Option<Cursor>,
}

impl PageRequest {
    /// The first page, of `size` items.
    ///
    /// # Errors
    /// [`StoreError::InvalidPageSize`] when `size` is 0 or above
    /// [`MAX_PAGE_SIZE`].
    pub fn first(size: usize) -> Result<Self, StoreError> {
        Self::new(size, None)
    }

    /// A page of `size` items after `cursor` (`None` for the first page).
    ///
    /// # Errors
    /// [`StoreError::InvalidPageSize`] when `size` is 0 or above
    /// [`MAX_PAGE_SIZE`].
    pub fn new(size: usize, cursor: Option<Cursor>) -> Result<Self, StoreError> {
        if size == 0 || size > MAX_PAGE_SIZE {
            return Err(StoreError::InvalidPageSize {
                size,
                max: MAX_PAGE_SIZE,
            });
        }
        Ok(Self { size, cursor })
    }

    /// The request for the page after `page`, or `None` if `page` was the
    /// last.
    pub fn next<T>(&self, page: &Page<T>) -> Option<Self> {
        page.next.clone().map(|c| Self {
            size: self.size,
            cursor: Some(c),
        })
    }

    /// The page size.
    pub fn size(&self) -> usize {
        self.size
    }

    /// The cursor, `None` for the first page.
    pub fn cursor(&self) -> Option<&Cursor> {
        self.cursor.as_ref()
    }
}

/// One page of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    /// The items, in [`Key`] order; at most the requested size.
    pub items: Vec<T>,
    /// The cursor to the next page; `None` when this is the last page.
    pub next: Option<Cursor>,
}

/// Synchronous operations inside a unit of work.
///
/// A handle is lent to the closure given to [`UnitOfWork::transaction`];
/// everything done through it commits together when the closure returns
/// `Ok`, and is rolled back when it returns `Err` (or panics). The methods
/// are generic over the record kind, so one handle reaches every aggregate.
///
/// # Example
/// ```
/// use crmkit::store::{Transaction, UnitOfWork, StoreError};
/// use crmkit::store::memory::MemoryStore;
/// use crmkit::store::blocking::block_on;
/// let store = MemoryStore::new();
/// let r: Result<(), StoreError> = block_on(store.transaction(|tx| {
///     // tx.insert(customer)?; tx.insert(interaction)?; ...
///     Ok(())
/// }));
/// r?;
/// Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait Transaction {
    /// The record with this id, if stored.
    fn get<I: RecordId>(&mut self, id: I) -> Result<Option<Versioned<I::Record>>, StoreError>;

    /// Inserts a new record at [`Version::FIRST`].
    ///
    /// # Errors
    /// [`StoreError::AlreadyExists`] if the id is taken.
    fn insert<R: Record>(&mut self, record: R) -> Result<Versioned<R>, StoreError>;

    /// Replaces a stored record of any kind, facts included, if its version
    /// is `expected`, and returns it at the next version. Used by
    /// [`Transaction::update`], erasure and merge.
    ///
    /// # Errors
    /// [`StoreError::NotFound`], [`StoreError::Conflict`].
    fn replace<R: Record>(
        &mut self,
        record: R,
        expected: Version,
    ) -> Result<Versioned<R>, StoreError>;

    /// Deletes a record; with `Some(expected)`, only if that is its version.
    ///
    /// # Errors
    /// [`StoreError::NotFound`], [`StoreError::Conflict`].
    fn delete<I: RecordId>(&mut self, id: I, expected: Option<Version>) -> Result<(), StoreError>;

    /// Up to `limit` records matching `query`, in [`Key`] order, strictly
    /// after `after`.
    fn scan<R: Record>(
        &mut self,
        query: &Query,
        after: Option<Key>,
        limit: usize,
    ) -> Result<Vec<Versioned<R>>, StoreError>;

    /// Updates a mutable record if its version is `expected`.
    ///
    /// # Errors
    /// [`StoreError::Immutable`] for facts, [`StoreError::NotFound`],
    /// [`StoreError::Conflict`].
    fn update<R: Record>(
        &mut self,
        record: R,
        expected: Version,
    ) -> Result<Versioned<R>, StoreError> {
        if R::IMMUTABLE {
            return Err(StoreError::Immutable {
                kind: R::KIND,
                id: record.id().to_string(),
            });
        }
        self.replace(record, expected)
    }

    /// Tells the store that this unit of work removed personal data, so
    /// that it purges old copies after commit where it can (SQLite
    /// checkpoints and truncates its WAL). The default does nothing.
    fn erased(&mut self) {}

    /// Applies [`OutboxEntry::erase_personal`](crate::outreach::OutboxEntry::erase_personal)
    /// to every outbox entry of `customer` held in this store (pending
    /// follow-ups become skipped: customer erased), each at its next
    /// version; returns how many changed. [`erase_customer_in`] calls it,
    /// so erasure and the outbox change commit together. The default does
    /// nothing: a store that does not implement
    /// [`OutboxStore`](crate::outreach::OutboxStore) holds no entries.
    ///
    /// # Errors
    /// Backend failures.
    fn erase_outbox(
        &mut self,
        customer: CustomerId,
        at: DateTime<Utc>,
    ) -> Result<usize, StoreError> {
        let _ = (customer, at);
        Ok(0)
    }

    /// Re-points every outbox entry of `from` held in this store to `to`
    /// ([`OutboxEntry::reassign`](crate::outreach::OutboxEntry::reassign)),
    /// each at its next version; returns how many changed.
    /// [`merge_customers_in`] calls it, so the merge and the outbox change
    /// commit together, and the absorbed customer's follow-ups are sent to
    /// (and erased with) the survivor. The default does nothing: a store
    /// that does not implement
    /// [`OutboxStore`](crate::outreach::OutboxStore) holds no entries.
    ///
    /// # Errors
    /// Backend failures.
    fn reassign_outbox(&mut self, from: CustomerId, to: CustomerId) -> Result<usize, StoreError> {
        let _ = (from, to);
        Ok(0)
    }

    /// Every outbox entry of `customer` held in this store, by key, for
    /// [`export_customer_in`] (the right of access). The default returns
    /// none: a store that does not implement
    /// [`OutboxStore`](crate::outreach::OutboxStore) holds no entries.
    ///
    /// # Errors
    /// Backend failures.
    fn export_outbox(
        &mut self,
        customer: CustomerId,
    ) -> Result<Vec<Versioned<crate::outreach::OutboxEntry>>, StoreError> {
        let _ = customer;
        Ok(Vec::new())
    }

    /// Every record matching `query` (inside a unit of work, where the
    /// snapshot cannot move).
    fn scan_all<R: Record>(&mut self, query: &Query) -> Result<Vec<Versioned<R>>, StoreError> {
        let mut out = Vec::new();
        let mut after = None;
        loop {
            let batch = self.scan::<R>(query, after, 1024)?;
            let full = batch.len() == 1024;
            if let Some(last) = batch.last() {
                after = Some(Key::of(last.value())?);
            }
            out.extend(batch);
            if !full {
                return Ok(out);
            }
        }
    }
}

/// A store that runs several operations over several aggregates as one
/// unit of work, all or nothing.
///
/// The closure gets a synchronous [`Transaction`] handle: it must not
/// await (a unit of work holds the store's write lock or database
/// transaction, and awaiting inside it would hold that across the caller's
/// executor). It runs on the store's own thread where the store has one
/// (SQLite), which is why it must be `Send + 'static`: move what it needs
/// into it, return what you need out of it. Returning `Err` rolls back
/// everything it did.
///
/// # Example
/// ```
/// use crmkit::store::{Transaction, UnitOfWork, StoreError};
/// use crmkit::store::memory::MemoryStore;
/// use crmkit::store::blocking::block_on;
/// let store = MemoryStore::new();
/// let failed: Result<(), StoreError> = block_on(store.transaction(|_tx| {
///     // ... several inserts and updates ...
///     Err(StoreError::Closed) // any error: nothing above is kept
/// }));
/// assert!(failed.is_err());
/// Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait UnitOfWork: Send + Sync {
    /// The transaction handle lent to the closure.
    type Tx<'a>: Transaction;

    /// Runs `work` as one unit of work.
    fn transaction<F, T, E>(&self, work: F) -> impl Future<Output = Result<T, E>> + Send
    where
        F: for<'a> FnOnce(&mut Self::Tx<'a>) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<StoreError> + Send + 'static;

    /// The cursor codec of this store handle.
    fn cursors(&self) -> &Cursors;
}

/// One page of `query` inside a transaction: the shared paging logic of the
/// stores shipped here, usable by adapters that implement [`Transaction`].
///
/// # Errors
/// [`StoreError::InvalidCursor`] for a cursor of another query or handle.
pub fn page_in<R: Record, X: Transaction>(
    tx: &mut X,
    cursors: &Cursors,
    query: &Query,
    request: &PageRequest,
) -> Result<Page<Versioned<R>>, StoreError> {
    let after = match request.cursor() {
        Some(c) => Some(cursors.open(R::KIND, query, c)?),
        None => None,
    };
    let mut items = tx.scan::<R>(query, after, request.size().saturating_add(1))?;
    let next = if items.len() > request.size() {
        items.truncate(request.size());
        match items.last() {
            Some(last) => Some(cursors.seal(R::KIND, query, Key::of(last.value())?)),
            None => None,
        }
    } else {
        None
    };
    Ok(Page { items, next })
}

/// Inserts every record or none.
pub(crate) fn insert_all<R: Record, X: Transaction>(
    tx: &mut X,
    records: Vec<R>,
) -> Result<usize, StoreError> {
    let n = records.len();
    for r in records {
        let _ = tx.insert(r)?;
    }
    Ok(n)
}
