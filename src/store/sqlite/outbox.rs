//! [`OutboxStore`] for [`SqliteStore`]: the `outbox` table of schema
//! version 2, in the same database (and so the same transactions) as the
//! records.

use std::future::Future;

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, params};

use super::{SqliteStore, SqliteTx, backend, version_i64};
use crate::domain::{CustomerId, Interaction, Version, Versioned};
use crate::outreach::outbox::{checked_sent, checked_update, sort_inserts};
use crate::outreach::{
    FollowUpTask, IdempotencyKey, InsertReport, OutboxEntry, OutboxStore, OutreachError, Receipt,
};
use crate::store::{StoreError, Transaction, UnitOfWork, nanos};

fn corrupt(reason: String) -> StoreError {
    StoreError::Corrupt { reason }
}

fn decode(version: i64, body: &str) -> Result<Versioned<OutboxEntry>, StoreError> {
    let entry: OutboxEntry = serde_json::from_str(body)
        .map_err(|e| corrupt(format!("a stored outbox entry does not decode: {e}")))?;
    let version = u64::try_from(version)
        .map_err(|_| corrupt(format!("a stored outbox entry has version {version}")))?;
    Ok(Versioned::new(entry, Version::new(version)))
}

/// Nanoseconds of `t`, clamped to the range an `i64` holds (a query bound).
fn clamped_nanos(t: DateTime<Utc>) -> i64 {
    t.timestamp_nanos_opt().unwrap_or(if t.timestamp() < 0 {
        i64::MIN
    } else {
        i64::MAX
    })
}

impl SqliteTx<'_> {
    fn outbox_get(
        &self,
        key: IdempotencyKey,
    ) -> Result<Option<Versioned<OutboxEntry>>, StoreError> {
        let row: Option<(i64, String)> = self
            .conn
            .prepare_cached("SELECT version, body FROM outbox WHERE key = ?1")
            .and_then(|mut s| {
                s.query_row([&key.as_uuid().as_bytes()[..]], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .optional()
            })
            .map_err(backend)?;
        row.map(|(v, body)| decode(v, &body)).transpose()
    }

    fn outbox_list(
        &self,
        sql: &str,
        args: impl rusqlite::Params,
    ) -> Result<Vec<Versioned<OutboxEntry>>, StoreError> {
        let mut stmt = self.conn.prepare_cached(sql).map_err(backend)?;
        let rows = stmt
            .query_map(args, |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))
            .map_err(backend)?;
        let mut out = Vec::new();
        for row in rows {
            let (v, body) = row.map_err(backend)?;
            out.push(decode(v, &body)?);
        }
        Ok(out)
    }

    pub(super) fn outbox_for_customer(
        &self,
        customer: CustomerId,
    ) -> Result<Vec<Versioned<OutboxEntry>>, StoreError> {
        self.outbox_list(
            "SELECT version, body FROM outbox WHERE customer = ?1 ORDER BY key",
            [&customer.as_uuid().as_bytes()[..]],
        )
    }

    /// Writes `entry` (insert when `insert`, else replace) with its index
    /// columns.
    fn outbox_put(&self, entry: &Versioned<OutboxEntry>, insert: bool) -> Result<(), StoreError> {
        let e = entry.value();
        let body = serde_json::to_string(e).map_err(StoreError::backend)?;
        let sql = if insert {
            "INSERT INTO outbox (key, customer, state, pending, not_before, version, body) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
        } else {
            "UPDATE outbox SET customer = ?2, state = ?3, pending = ?4, not_before = ?5, \
             version = ?6, body = ?7 WHERE key = ?1"
        };
        let changed = self
            .conn
            .prepare_cached(sql)
            .and_then(|mut s| {
                s.execute(params![
                    &e.key().as_uuid().as_bytes()[..],
                    &e.task.customer().as_uuid().as_bytes()[..],
                    e.state.name(),
                    i64::from(!e.state.is_terminal()),
                    nanos(e.not_before)
                        .map_err(|x| rusqlite::Error::ToSqlConversionFailure(Box::new(x)))?,
                    version_i64(entry.version())
                        .map_err(|x| rusqlite::Error::ToSqlConversionFailure(Box::new(x)))?,
                    body
                ])
            })
            .map_err(|err| match err {
                rusqlite::Error::ToSqlConversionFailure(inner) => {
                    match inner.downcast::<StoreError>() {
                        Ok(store) => *store,
                        Err(other) => StoreError::Backend(other),
                    }
                }
                other => backend(other),
            })?;
        if changed == 1 {
            Ok(())
        } else {
            Err(StoreError::backend(format!(
                "outbox write of {} changed {changed} rows",
                e.key()
            )))
        }
    }
}

/// The erasure hook of [`SqliteTx`]: see
/// [`Transaction::erase_outbox`](crate::store::Transaction::erase_outbox).
pub(super) fn erase(
    tx: &mut SqliteTx<'_>,
    customer: CustomerId,
    at: DateTime<Utc>,
) -> Result<usize, StoreError> {
    let mut n = 0;
    for e in tx.outbox_for_customer(customer)? {
        let (mut entry, version) = e.into_parts();
        if entry.erase_personal(at) {
            let next = version
                .next()
                .map_err(|e| StoreError::backend(e.to_string()))?;
            tx.outbox_put(&Versioned::new(entry, next), false)?;
            n += 1;
        }
    }
    Ok(n)
}

/// [`Transaction::reassign_outbox`](crate::store::Transaction::reassign_outbox)
/// for the SQLite store: each entry of `from` at its next version, with its
/// `customer` column.
pub(super) fn reassign(
    tx: &mut SqliteTx<'_>,
    from: CustomerId,
    to: CustomerId,
) -> Result<usize, StoreError> {
    let mut n = 0;
    for e in tx.outbox_for_customer(from)? {
        let (mut entry, version) = e.into_parts();
        if entry.reassign(from, to) {
            let next = version
                .next()
                .map_err(|e| StoreError::backend(e.to_string()))?;
            tx.outbox_put(&Versioned::new(entry, next), false)?;
            n += 1;
        }
    }
    Ok(n)
}

fn found(tx: &SqliteTx<'_>, key: IdempotencyKey) -> Result<Versioned<OutboxEntry>, OutreachError> {
    tx.outbox_get(key)?.ok_or(OutreachError::NotFound { key })
}

/// The SQLite store is also an outbox (schema version 2): entries live in
/// the `outbox` table of the same file, [`OutboxStore::record_sent`] moves
/// an entry to `sent` and inserts the outbound interaction into the
/// store's interactions in one SQLite transaction, and erasing a customer
/// skips their pending entries in the erasure's transaction. Every
/// operation runs on the connection thread as one `BEGIN IMMEDIATE`
/// transaction, so a version check and the write after it cannot be
/// interleaved with another handle's write, even across processes.
///
/// # Example
/// ```
/// use crmkit::outreach::OutboxStore;
/// use crmkit::store::blocking::block_on;
/// use crmkit::store::sqlite::SqliteStore;
/// let dir = tempfile::tempdir()?;
/// let store = SqliteStore::open(dir.path().join("crm.db"))?;
/// assert!(block_on(store.due("2026-01-01T00:00:00Z".parse()?, 10))?.is_empty());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
impl OutboxStore for SqliteStore {
    fn insert(
        &self,
        tasks: Vec<FollowUpTask>,
    ) -> impl Future<Output = Result<InsertReport, OutreachError>> + Send {
        self.transaction(move |tx| {
            let (report, fresh) = sort_inserts(tasks, |key| {
                Ok(tx.outbox_get(key)?.map(|e| e.into_inner().task))
            })?;
            for t in fresh {
                tx.outbox_put(
                    &Versioned::new(OutboxEntry::planned(t), Version::FIRST),
                    true,
                )?;
            }
            Ok(report)
        })
    }

    fn get(
        &self,
        key: IdempotencyKey,
    ) -> impl Future<Output = Result<Versioned<OutboxEntry>, OutreachError>> + Send {
        self.transaction(move |tx| found(tx, key))
    }

    fn due(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<Versioned<OutboxEntry>>, OutreachError>> + Send {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.transaction(move |tx| {
            Ok::<_, OutreachError>(tx.outbox_list(
                "SELECT version, body FROM outbox WHERE pending = 1 AND not_before <= ?1 \
                 ORDER BY not_before, key LIMIT ?2",
                params![clamped_nanos(now), limit],
            )?)
        })
    }

    fn for_customer(
        &self,
        customer: CustomerId,
    ) -> impl Future<Output = Result<Vec<Versioned<OutboxEntry>>, OutreachError>> + Send {
        self.transaction(move |tx| Ok::<_, OutreachError>(tx.outbox_for_customer(customer)?))
    }

    fn update(
        &self,
        entry: OutboxEntry,
        expected: Version,
    ) -> impl Future<Output = Result<Versioned<OutboxEntry>, OutreachError>> + Send {
        self.transaction(move |tx| {
            let next = checked_update(&found(tx, entry.key())?, &entry, expected)?;
            tx.outbox_put(&next, false)?;
            Ok(next)
        })
    }

    fn record_sent(
        &self,
        key: IdempotencyKey,
        expected: Version,
        receipt: Receipt,
        recorded_at: DateTime<Utc>,
        interaction: Option<Interaction>,
    ) -> impl Future<Output = Result<Versioned<OutboxEntry>, OutreachError>> + Send {
        self.transaction(move |tx| {
            let next = checked_sent(&found(tx, key)?, expected, receipt, recorded_at)?;
            if let Some(i) = interaction {
                let _ = tx.insert(i)?;
            }
            tx.outbox_put(&next, false)?;
            Ok(next)
        })
    }
}
