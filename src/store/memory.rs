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

use uuid::Uuid;

use super::{Cursors, Key, Query, Record, RecordId, StoreError, Transaction, UnitOfWork};
use crate::domain::{Version, Versioned};

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
}

/// The previous state of one row, to restore on rollback.
struct Undo {
    kind: &'static str,
    id: Uuid,
    before: Option<(Key, Stored)>,
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
            let table = self.state.tables.entry(u.kind).or_default();
            if let Some(key) = table.ids.remove(&u.id) {
                let _ = table.rows.remove(&key);
            }
            if let Some((key, stored)) = u.before {
                let _ = table.ids.insert(u.id, key);
                let _ = table.rows.insert(key, stored);
            }
        }
    }

    fn current(&self, kind: &'static str, id: Uuid) -> Option<(Key, Stored)> {
        let table = self.state.tables.get(kind)?;
        let key = table.ids.get(&id)?;
        table.rows.get(key).map(|s| (*key, s.clone()))
    }

    fn set(&mut self, kind: &'static str, id: Uuid, new: Option<(Key, Stored)>) {
        let before = self.current(kind, id);
        self.undo.push(Undo { kind, id, before });
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
}
