//! An application keeps interactions in its own storage and plugs it into
//! crmkit by implementing one store trait, then proves the adapter correct
//! with the conformance kit.
//!
//! Here the "database" is a `HashMap` behind a `Mutex`; a real adapter
//! (Postgres, DynamoDB, ...) has the same shape: map each operation to the
//! backend, report conflicts and duplicates with `StoreError`, page in
//! `Key` order with sealed cursors.
//!
//! Run it with `cargo run --example custom_store --features testkit`.

use std::collections::HashMap;
use std::future::{Future, ready};
use std::sync::Mutex;

use crmkit::domain::{Interaction, InteractionId, Version, Versioned};
use crmkit::store::blocking::block_on;
use crmkit::store::{
    Cursors, InteractionStore, Key, Page, PageRequest, Query, Record, StoreError, testkit,
};

/// The application's own store.
#[derive(Default)]
struct AppStore {
    rows: Mutex<HashMap<InteractionId, Versioned<Interaction>>>,
    cursors: Cursors,
}

impl AppStore {
    fn rows(&self) -> std::sync::MutexGuard<'_, HashMap<InteractionId, Versioned<Interaction>>> {
        self.rows.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn create(&self, record: Interaction) -> Result<Versioned<Interaction>, StoreError> {
        let _ = Key::of(&record)?; // rejects times the stores cannot order
        let mut rows = self.rows();
        if rows.contains_key(&record.id()) {
            return Err(StoreError::AlreadyExists {
                kind: Interaction::KIND,
                id: record.id().to_string(),
            });
        }
        let stored = Versioned::new(record, Version::FIRST);
        rows.insert(stored.id(), stored.clone());
        Ok(stored)
    }

    fn check_version(
        rows: &HashMap<InteractionId, Versioned<Interaction>>,
        id: InteractionId,
        expected: Version,
    ) -> Result<(), StoreError> {
        let current = rows.get(&id).ok_or_else(|| StoreError::NotFound {
            kind: Interaction::KIND,
            id: id.to_string(),
        })?;
        if current.version() != expected {
            return Err(StoreError::Conflict {
                kind: Interaction::KIND,
                id: id.to_string(),
                expected,
                found: current.version(),
            });
        }
        Ok(())
    }

    fn page(
        &self,
        query: Query,
        request: PageRequest,
    ) -> Result<Page<Versioned<Interaction>>, StoreError> {
        // Where the previous page ended (rejects cursors of other queries).
        let after = match request.cursor() {
            Some(c) => Some(self.cursors.open(Interaction::KIND, &query, c)?),
            None => None,
        };
        // A real adapter does this in its query:
        //   WHERE <query> AND (at, id) > (:after_at, :after_id)
        //   ORDER BY at, id LIMIT :size + 1
        let mut matching = Vec::new();
        for v in self.rows().values() {
            let key = Key::of(v.value())?;
            if query.matches(v.value(), &key) && after.is_none_or(|a| key > a) {
                matching.push((key, v.clone()));
            }
        }
        matching.sort_by_key(|(k, _)| *k);
        let more = matching.len() > request.size();
        matching.truncate(request.size());
        let next = match matching.last() {
            Some((key, _)) if more => Some(self.cursors.seal(Interaction::KIND, &query, *key)),
            _ => None,
        };
        Ok(Page {
            items: matching.into_iter().map(|(_, v)| v).collect(),
            next,
        })
    }
}

impl InteractionStore for AppStore {
    fn create_interaction(
        &self,
        record: Interaction,
    ) -> impl Future<Output = Result<Versioned<Interaction>, StoreError>> + Send {
        // Nothing here waits, so a ready future will do; an adapter over an
        // async driver writes `async move { ... .await ... }` instead.
        ready(self.create(record))
    }

    fn get_interaction(
        &self,
        id: InteractionId,
    ) -> impl Future<Output = Result<Versioned<Interaction>, StoreError>> + Send {
        ready(
            self.rows()
                .get(&id)
                .cloned()
                .ok_or_else(|| StoreError::NotFound {
                    kind: Interaction::KIND,
                    id: id.to_string(),
                }),
        )
    }

    fn update_interaction(
        &self,
        record: Interaction,
        expected: Version,
    ) -> impl Future<Output = Result<Versioned<Interaction>, StoreError>> + Send {
        let result = (|| {
            let _ = Key::of(&record)?;
            let mut rows = self.rows();
            Self::check_version(&rows, record.id(), expected)?;
            let next = expected
                .next()
                .map_err(|e| StoreError::backend(e.to_string()))?;
            let stored = Versioned::new(record, next);
            rows.insert(stored.id(), stored.clone());
            Ok(stored)
        })();
        ready(result)
    }

    fn delete_interaction(
        &self,
        id: InteractionId,
        expected: Version,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        let result = (|| {
            let mut rows = self.rows();
            Self::check_version(&rows, id, expected)?;
            rows.remove(&id);
            Ok(())
        })();
        ready(result)
    }

    fn insert_interactions(
        &self,
        records: Vec<Interaction>,
    ) -> impl Future<Output = Result<usize, StoreError>> + Send {
        // All or nothing: check every row under the lock, then write.
        let result = (|| {
            let mut rows = self.rows();
            let mut seen = std::collections::HashSet::new();
            for r in &records {
                let _ = Key::of(r)?;
                if rows.contains_key(&r.id()) || !seen.insert(r.id()) {
                    return Err(StoreError::AlreadyExists {
                        kind: Interaction::KIND,
                        id: r.id().to_string(),
                    });
                }
            }
            let n = records.len();
            for r in records {
                rows.insert(r.id(), Versioned::new(r, Version::FIRST));
            }
            Ok(n)
        })();
        ready(result)
    }

    fn interactions(
        &self,
        query: Query,
        page: PageRequest,
    ) -> impl Future<Output = Result<Page<Versioned<Interaction>>, StoreError>> + Send {
        ready(self.page(query, page))
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let store = AppStore::default();
    // In the application's tests this is one line in an async test:
    //     testkit::interaction_store(&store).await?;
    block_on(testkit::interaction_store(&store))?;
    println!(
        "AppStore passes crmkit's interaction store conformance kit ({} interactions written by it)",
        store.rows().len()
    );
    Ok(())
}
