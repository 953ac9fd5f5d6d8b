//! The in-memory reference store.
//!
//! One `BTreeMap` per record kind, ordered by [`Key`], behind one
//! [`Mutex`]. Every operation, a unit of work included, takes the lock, does
//! its work synchronously and releases it before its future completes, so
//! the lock is never held across an `.await`, operations are serializable,
//! and the futures complete on their first poll. A unit of work keeps an
//! undo log and replays it if the work fails or panics (a panic is
//! returned as [`StoreError::Backend`], as the SQLite store does).
//!
//! It is the reference the test kit describes: simple enough to be
//! obviously correct, fast enough for tests and small applications; its
//! contents are lost when it is dropped.
//!
//! # Example
//! ```
//! use crmkit::store::memory::MemoryStore;
//! use crmkit::store::{UnitOfWork, Transaction, StoreError};
//! use crmkit::store::blocking::block_on;
//! let store = MemoryStore::new();
//! let n = block_on(store.transaction(|_tx| Ok::<_, StoreError>(1)))?;
//! assert_eq!(n, 1);
//! Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::any::Any;
use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;
use std::panic::{self, AssertUnwindSafe};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{Cursors, Key, Query, Record, RecordId, StoreError, Transaction, UnitOfWork};
use crate::domain::{CustomerId, Interaction, Version, Versioned};
use crate::outreach::outbox::{checked_sent, checked_update, sort_inserts};
use crate::outreach::{
    FollowUpTask, IdempotencyKey, InsertReport, OutboxEntry, OutboxStore, OutreachError, Receipt,
};
use std::future::Future;

#[derive(Clone)]
struct Stored {
    version: Version,
    value: Arc<dyn Any + Send + Sync>,
}

#[derive(Default)]
struct Table {
    rows: BTreeMap<Key, Stored>,
    ids: HashMap<Uuid, Key>,
}

#[derive(Default)]
struct State {
    tables: HashMap<&'static str, Table>,
    outbox: BTreeMap<IdempotencyKey, Versioned<OutboxEntry>>,
}

/// The previous state of one row, to restore on rollback.
enum Undo {
    Row {
        kind: &'static str,
        id: Uuid,
        before: Option<(Key, Stored)>,
    },
    Outbox {
        key: IdempotencyKey,
        before: Option<Box<Versioned<OutboxEntry>>>,
    },
}

/// The in-memory reference store. Cheap to create; share it with `Arc`
/// between threads.
#[derive(Default)]
pub struct MemoryStore {
    state: Mutex<State>,
    cursors: Cursors,
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryStore").finish_non_exhaustive()
    }
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn run<F, T, E>(&self, work: F) -> Result<T, E>
    where
        F: for<'a> FnOnce(&mut MemoryTx<'a>) -> Result<T, E>,
        E: From<StoreError>,
    {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let mut tx = MemoryTx {
            state: &mut state,
            undo: Vec::new(),
        };
        match panic::catch_unwind(AssertUnwindSafe(|| work(&mut tx))) {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => {
                tx.rollback();
                Err(e)
            }
            Err(_) => {
                tx.rollback();
                Err(E::from(StoreError::backend("the unit of work panicked")))
            }
        }
    }
}

impl UnitOfWork for MemoryStore {
    type Tx<'a> = MemoryTx<'a>;

    async fn transaction<F, T, E>(&self, work: F) -> Result<T, E>
    where
        F: for<'a> FnOnce(&mut Self::Tx<'a>) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        self.run(work)
    }

    fn cursors(&self) -> &Cursors {
        &self.cursors
    }
}

/// The transaction handle of [`MemoryStore`].
pub struct MemoryTx<'a> {
    state: &'a mut State,
    undo: Vec<Undo>,
}

impl std::fmt::Debug for MemoryTx<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryTx").finish_non_exhaustive()
    }
}

impl MemoryTx<'_> {
    fn rollback(&mut self) {
        while let Some(u) = self.undo.pop() {
            match u {
                Undo::Row { kind, id, before } => {
                    let table = self.state.tables.entry(kind).or_default();
                    if let Some(key) = table.ids.remove(&id) {
                        let _ = table.rows.remove(&key);
                    }
                    if let Some((key, stored)) = before {
                        let _ = table.ids.insert(id, key);
                        let _ = table.rows.insert(key, stored);
                    }
                }
                Undo::Outbox { key, before } => {
                    let _ = match before {
                        Some(e) => self.state.outbox.insert(key, *e),
                        None => self.state.outbox.remove(&key),
                    };
                }
            }
        }
    }

    /// Stores an outbox entry, remembering the previous one for rollback.
    fn set_outbox(&mut self, entry: Versioned<OutboxEntry>) {
        let key = entry.value().key();
        let before = self.state.outbox.insert(key, entry).map(Box::new);
        self.undo.push(Undo::Outbox { key, before });
    }

    fn outbox_entry(&self, key: IdempotencyKey) -> Result<&Versioned<OutboxEntry>, OutreachError> {
        self.state
            .outbox
            .get(&key)
            .ok_or(OutreachError::NotFound { key })
    }

    fn current(&self, kind: &'static str, id: Uuid) -> Option<(Key, Stored)> {
        let table = self.state.tables.get(kind)?;
        let key = table.ids.get(&id)?;
        table.rows.get(key).map(|s| (*key, s.clone()))
    }

    fn set(&mut self, kind: &'static str, id: Uuid, new: Option<(Key, Stored)>) {
        let before = self.current(kind, id);
        self.undo.push(Undo::Row { kind, id, before });
        let table = self.state.tables.entry(kind).or_default();
        if let Some(old) = table.ids.remove(&id) {
            let _ = table.rows.remove(&old);
        }
        if let Some((key, stored)) = new {
            let _ = table.ids.insert(id, key);
            let _ = table.rows.insert(key, stored);
        }
    }
}

fn read<R: Record>(stored: &Stored) -> Result<Versioned<R>, StoreError> {
    stored
        .value
        .downcast_ref::<R>()
        .map(|r| Versioned::new(r.clone(), stored.version))
        .ok_or_else(|| StoreError::Corrupt {
            reason: format!("a stored {} has another type", R::KIND),
        })
}

impl Transaction for MemoryTx<'_> {
    fn get<I: RecordId>(&mut self, id: I) -> Result<Option<Versioned<I::Record>>, StoreError> {
        self.current(I::Record::KIND, id.uuid())
            .map(|(_, s)| read(&s))
            .transpose()
    }

    fn insert<R: Record>(&mut self, record: R) -> Result<Versioned<R>, StoreError> {
        let key = Key::of(&record)?;
        if self.current(R::KIND, key.id).is_some() {
            return Err(StoreError::AlreadyExists {
                kind: R::KIND,
                id: record.id().to_string(),
            });
        }
        let stored = Stored {
            version: Version::FIRST,
            value: Arc::new(record.clone()),
        };
        self.set(R::KIND, key.id, Some((key, stored)));
        Ok(Versioned::new(record, Version::FIRST))
    }

    fn replace<R: Record>(
        &mut self,
        record: R,
        expected: Version,
    ) -> Result<Versioned<R>, StoreError> {
        let key = Key::of(&record)?;
        let Some((_, old)) = self.current(R::KIND, key.id) else {
            return Err(StoreError::NotFound {
                kind: R::KIND,
                id: record.id().to_string(),
            });
        };
        if old.version != expected {
            return Err(StoreError::Conflict {
                kind: R::KIND,
                id: record.id().to_string(),
                expected,
                found: old.version,
            });
        }
        let version = old
            .version
            .next()
            .map_err(|e| StoreError::backend(e.to_string()))?;
        let stored = Stored {
            version,
            value: Arc::new(record.clone()),
        };
        self.set(R::KIND, key.id, Some((key, stored)));
        Ok(Versioned::new(record, version))
    }

    fn delete<I: RecordId>(&mut self, id: I, expected: Option<Version>) -> Result<(), StoreError> {
        let kind = I::Record::KIND;
        let Some((_, old)) = self.current(kind, id.uuid()) else {
            return Err(StoreError::NotFound {
                kind,
                id: id.to_string(),
            });
        };
        if let Some(expected) = expected
            && old.version != expected
        {
            return Err(StoreError::Conflict {
                kind,
                id: id.to_string(),
                expected,
                found: old.version,
            });
        }
        self.set(kind, id.uuid(), None);
        Ok(())
    }

    fn scan<R: Record>(
        &mut self,
        query: &Query,
        after: Option<Key>,
        limit: usize,
    ) -> Result<Vec<Versioned<R>>, StoreError> {
        let Some(table) = self.state.tables.get(R::KIND) else {
            return Ok(Vec::new());
        };
        let lower = match after {
            Some(k) => Bound::Excluded(k),
            None => Bound::Unbounded,
        };
        let mut out = Vec::new();
        for (key, stored) in table.rows.range((lower, Bound::Unbounded)) {
            if out.len() >= limit {
                break;
            }
            let v = read::<R>(stored)?;
            if query.matches(v.value(), key) {
                out.push(v);
            }
        }
        Ok(out)
    }

    fn erase_outbox(
        &mut self,
        customer: CustomerId,
        at: DateTime<Utc>,
    ) -> Result<usize, StoreError> {
        let mine: Vec<Versioned<OutboxEntry>> = self
            .state
            .outbox
            .values()
            .filter(|e| e.value().task.customer() == customer)
            .cloned()
            .collect();
        let mut n = 0;
        for e in mine {
            let (mut entry, version) = e.into_parts();
            if entry.erase_personal(at) {
                let next = version
                    .next()
                    .map_err(|e| StoreError::backend(e.to_string()))?;
                self.set_outbox(Versioned::new(entry, next));
                n += 1;
            }
        }
        Ok(n)
    }

    fn reassign_outbox(&mut self, from: CustomerId, to: CustomerId) -> Result<usize, StoreError> {
        let theirs: Vec<Versioned<OutboxEntry>> = self
            .state
            .outbox
            .values()
            .filter(|e| e.value().task.customer() == from)
            .cloned()
            .collect();
        let mut n = 0;
        for e in theirs {
            let (mut entry, version) = e.into_parts();
            if entry.reassign(from, to) {
                let next = version
                    .next()
                    .map_err(|e| StoreError::backend(e.to_string()))?;
                self.set_outbox(Versioned::new(entry, next));
                n += 1;
            }
        }
        Ok(n)
    }

    fn export_outbox(
        &mut self,
        customer: CustomerId,
    ) -> Result<Vec<Versioned<OutboxEntry>>, StoreError> {
        Ok(self
            .state
            .outbox
            .values()
            .filter(|e| e.value().task.customer() == customer)
            .cloned()
            .collect())
    }
}

/// The memory store is also an outbox: entries live beside the records, and
/// [`OutboxStore::record_sent`] stores the outbound interaction in the
/// store's own interactions (so the customer's history shows it) in the
/// same unit of work. Erasing a customer skips their pending entries.
///
/// # Example
/// ```
/// use crmkit::outreach::OutboxStore;
/// use crmkit::store::memory::MemoryStore;
/// use crmkit::store::blocking::block_on;
/// let store = MemoryStore::new();
/// assert!(block_on(store.due("2026-01-01T00:00:00Z".parse()?, 10))?.is_empty());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
impl OutboxStore for MemoryStore {
    fn insert(
        &self,
        tasks: Vec<FollowUpTask>,
    ) -> impl Future<Output = Result<InsertReport, OutreachError>> + Send {
        let r = self.run(move |tx| {
            let (report, fresh) = sort_inserts(tasks, |key| {
                Ok(tx.state.outbox.get(&key).map(|e| e.value().task.clone()))
            })?;
            for t in fresh {
                tx.set_outbox(Versioned::new(OutboxEntry::planned(t), Version::FIRST));
            }
            Ok(report)
        });
        async move { r }
    }

    fn get(
        &self,
        key: IdempotencyKey,
    ) -> impl Future<Output = Result<Versioned<OutboxEntry>, OutreachError>> + Send {
        let r = self.run(move |tx| tx.outbox_entry(key).cloned());
        async move { r }
    }

    fn due(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<Versioned<OutboxEntry>>, OutreachError>> + Send {
        let r = self.run(move |tx| {
            let mut v: Vec<_> = tx
                .state
                .outbox
                .values()
                .filter(|e| e.value().is_due(now))
                .cloned()
                .collect();
            v.sort_by_key(|e| (e.value().not_before, e.value().key()));
            v.truncate(limit);
            Ok::<_, OutreachError>(v)
        });
        async move { r }
    }

    fn for_customer(
        &self,
        customer: CustomerId,
    ) -> impl Future<Output = Result<Vec<Versioned<OutboxEntry>>, OutreachError>> + Send {
        let r = self.run(move |tx| {
            Ok::<_, OutreachError>(
                tx.state
                    .outbox
                    .values()
                    .filter(|e| e.value().task.customer() == customer)
                    .cloned()
                    .collect(),
            )
        });
        async move { r }
    }

    fn update(
        &self,
        entry: OutboxEntry,
        expected: Version,
    ) -> impl Future<Output = Result<Versioned<OutboxEntry>, OutreachError>> + Send {
        let r = self.run(move |tx| {
            let next = checked_update(tx.outbox_entry(entry.key())?, &entry, expected)?;
            tx.set_outbox(next.clone());
            Ok(next)
        });
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
        let r = self.run(move |tx| {
            let next = checked_sent(tx.outbox_entry(key)?, expected, receipt, recorded_at)?;
            if let Some(i) = interaction {
                let _ = tx.insert(i)?;
            }
            tx.set_outbox(next.clone());
            Ok(next)
        });
        async move { r }
    }
}
