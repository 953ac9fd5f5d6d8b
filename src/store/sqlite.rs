//! The SQLite store (feature `sqlite`): the embedded default.
//!
//! - **Off the caller's executor.** The connection lives on its own thread;
//!   every operation is sent to it through a channel and its future resolves
//!   when the thread replies, so an async caller is never blocked, and a
//!   synchronous caller uses [`block_on`](super::blocking::block_on).
//!   [`SqliteStore::open`] itself is synchronous (it opens the file and
//!   migrates the schema); call it at start-up or in `spawn_blocking`.
//! - **Schema.** One table per record kind with the indexed values (time in
//!   nanoseconds, customer, survey, version) as columns and the record as a
//!   JSON document; a side table per kind for segments. Indexes on
//!   `(at, id)`, `(customer, at, id)`, `(survey, at, id)` and
//!   `(segment, at, id)` serve every listing in key order. Money is stored
//!   as decimal text inside the document (exact); timestamps as RFC 3339 with
//!   nanoseconds in the document and as `i64` nanoseconds in the `at` column.
//! - **Outbox.** The store is also an
//!   [`OutboxStore`](crate::outreach::OutboxStore): follow-ups live in the
//!   `outbox` table of the same file (schema version 2), so
//!   [`record_sent`](crate::outreach::OutboxStore::record_sent) moves an
//!   entry to `sent` and inserts the outbound interaction into
//!   `interactions` in one transaction, and
//!   [`erase_customer`](super::CustomerStore::erase_customer) skips the
//!   customer's pending follow-ups in the erasure's own transaction.
//!   Indexes on `(pending, not_before, key)` and `(customer, key)` serve the
//!   due and per-customer queries.
//! - **Migrations.** Versioned migrations are applied on open inside one
//!   transaction and recorded in `crmkit_migrations`; the file is marked
//!   with SQLite's `application_id` (`0x63726d6b`, "crmk") and
//!   `user_version` (the schema version). Opening a file with a newer
//!   schema fails with [`StoreError::NewerSchema`], a SQLite file of another
//!   application with [`StoreError::NotCrmkit`], a file that is not a
//!   database with [`StoreError::Corrupt`]; none of them is modified.
//! - **Durability.** WAL mode, `synchronous = FULL`, every write and every
//!   unit of work in one `BEGIN IMMEDIATE` transaction: a crash (even
//!   SIGKILL) in the middle of a write leaves the database as before it.
//! - **Physical erasure.** `secure_delete = ON` zeroes deleted and
//!   overwritten content, and after every unit of work that erased personal
//!   data the WAL is checkpointed and truncated
//!   (`wal_checkpoint(TRUNCATE)`), so erased values survive neither in free
//!   pages nor in the WAL.
//!
//! # Example
//! ```
//! use crmkit::store::sqlite::SqliteStore;
//! use crmkit::store::{UnitOfWork, StoreError};
//! use crmkit::store::blocking::block_on;
//! let dir = tempfile::tempdir()?;
//! let store = SqliteStore::open(dir.path().join("crm.db"))?;
//! let n = block_on(store.transaction(|_tx| Ok::<_, StoreError>(3)))?;
//! assert_eq!(n, 3);
//! Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::future::Future;
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread::JoinHandle;

use rusqlite::types::Value;
use rusqlite::{Connection, ErrorCode, OptionalExtension, TransactionBehavior, params};

use super::{
    Cursors, Key, Query, Record, RecordId, StoreError, Transaction, UnitOfWork, oneshot,
    period_nanos,
};
use crate::domain::{CustomerId, Version, Versioned};

mod outbox;

/// The `application_id` crmkit writes into its SQLite files ("crmk").
pub const APPLICATION_ID: i64 = 0x6372_6d6b;

/// The record kinds (tables) of the schema.
pub const KINDS: [&str; 8] = [
    "customers",
    "interactions",
    "cases",
    "purchases",
    "subscriptions",
    "surveys",
    "invitations",
    "responses",
];

/// The newest schema version this build knows (2: the outbox table).
pub const SCHEMA_VERSION: i64 = 2;

type Job = Box<dyn FnOnce(&mut Connection) + Send>;

/// The SQLite store. Cloning is not offered; share it with `Arc`.
/// Dropping it closes the connection (waiting for queued work to finish).
pub struct SqliteStore {
    jobs: Option<mpsc::Sender<Job>>,
    thread: Option<JoinHandle<()>>,
    cursors: Cursors,
    path: Option<PathBuf>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl Drop for SqliteStore {
    fn drop(&mut self) {
        drop(self.jobs.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Maps a rusqlite error to a store error.
fn backend(e: rusqlite::Error) -> StoreError {
    match e.sqlite_error_code() {
        Some(ErrorCode::NotADatabase) | Some(ErrorCode::DatabaseCorrupt) => StoreError::Corrupt {
            reason: e.to_string(),
        },
        _ => StoreError::backend(e),
    }
}

/// The SQL of schema version 1.
fn migration_1() -> String {
    let mut sql = String::new();
    for t in KINDS {
        sql.push_str(&format!(
            "CREATE TABLE {t} (id BLOB NOT NULL PRIMARY KEY, at INTEGER NOT NULL, customer BLOB, \
             survey BLOB, version INTEGER NOT NULL, body TEXT NOT NULL) STRICT;\n\
             CREATE INDEX {t}_at ON {t}(at, id);\n\
             CREATE INDEX {t}_customer ON {t}(customer, at, id);\n\
             CREATE INDEX {t}_survey ON {t}(survey, at, id);\n\
             CREATE TABLE {t}_segments (segment TEXT NOT NULL, at INTEGER NOT NULL, id BLOB NOT NULL, \
             PRIMARY KEY (segment, at, id)) WITHOUT ROWID, STRICT;\n\
             CREATE INDEX {t}_segments_id ON {t}_segments(id);\n"
        ));
    }
    sql
}

/// The SQL of schema version 2: the outbox, one row per entry keyed by its idempotency key.
/// `pending` is 1 for the states a dispatcher looks at (planned, sending,
/// retryable failed), so `outbox_due` serves the due query as one index
/// range already in `(not_before, key)` order; `outbox_customer` serves
/// `for_customer` and erasure.
const MIGRATION_2: &str = "CREATE TABLE outbox (key BLOB NOT NULL PRIMARY KEY, \
    customer BLOB NOT NULL, state TEXT NOT NULL, pending INTEGER NOT NULL, \
    not_before INTEGER NOT NULL, version INTEGER NOT NULL, body TEXT NOT NULL) STRICT;\n\
    CREATE INDEX outbox_due ON outbox(pending, not_before, key);\n\
    CREATE INDEX outbox_customer ON outbox(customer, key);\n";

impl SqliteStore {
    /// Opens (or creates) the database at `path`, applies pending
    /// migrations and starts the connection thread.
    ///
    /// # Errors
    /// [`StoreError::Corrupt`] (not a database), [`StoreError::NotCrmkit`]
    /// (another application's database), [`StoreError::NewerSchema`], or
    /// [`StoreError::Backend`] (I/O). The file is not modified in the first
    /// three cases.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let path = path.as_ref().to_path_buf();
        let conn = Connection::open(&path).map_err(backend)?;
        Self::start(conn, Some(path))
    }

    /// A private in-memory SQLite database (for tests).
    ///
    /// # Errors
    /// [`StoreError::Backend`] if SQLite cannot start.
    pub fn open_in_memory() -> Result<Self, StoreError> {
        let conn = Connection::open_in_memory().map_err(backend)?;
        Self::start(conn, None)
    }

    /// The database file, `None` for an in-memory database.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    fn start(mut conn: Connection, path: Option<PathBuf>) -> Result<Self, StoreError> {
        prepare(&mut conn, SCHEMA_VERSION)?;
        let (jobs, rx) = mpsc::channel::<Job>();
        let thread = std::thread::Builder::new()
            .name("crmkit-sqlite".to_owned())
            .spawn(move || {
                while let Ok(job) = rx.recv() {
                    job(&mut conn);
                }
            })
            .map_err(StoreError::backend)?;
        Ok(Self {
            jobs: Some(jobs),
            thread: Some(thread),
            cursors: Cursors::new(),
            path,
        })
    }
}

/// Checks the file, sets the pragmas and migrates to schema `target`
/// (always [`SCHEMA_VERSION`] outside tests, which build older files).
fn prepare(conn: &mut Connection, target: i64) -> Result<(), StoreError> {
    conn.busy_timeout(std::time::Duration::from_secs(10))
        .map_err(backend)?;
    // Read-only checks first: nothing is written to a file we reject.
    let app: i64 = conn
        .query_row("PRAGMA application_id", [], |r| r.get(0))
        .map_err(backend)?;
    let objects: i64 = conn
        .query_row("SELECT count(*) FROM sqlite_schema", [], |r| r.get(0))
        .map_err(backend)?;
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(backend)?;
    if app != APPLICATION_ID && (objects > 0 || app != 0 || version != 0) {
        return Err(StoreError::NotCrmkit {
            reason: format!("application_id {app:#x}, {objects} schema objects"),
        });
    }
    if version > target {
        return Err(StoreError::NewerSchema {
            found: version,
            supported: target,
        });
    }
    let mode: String = conn
        .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
        .map_err(backend)?;
    if mode != "wal" && mode != "memory" {
        return Err(StoreError::backend(format!(
            "cannot enable WAL, journal mode is {mode}"
        )));
    }
    conn.execute_batch("PRAGMA synchronous = FULL; PRAGMA secure_delete = ON;")
        .map_err(backend)?;
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(backend)?;
    tx.execute_batch(
        "CREATE TABLE IF NOT EXISTS crmkit_migrations (version INTEGER PRIMARY KEY, \
         description TEXT NOT NULL, applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ')))",
    )
    .map_err(backend)?;
    let migrations: [(i64, &str, String); 2] = [
        (1, "tables and indexes per record kind", migration_1()),
        (2, "outbox of follow-ups", MIGRATION_2.to_owned()),
    ];
    for (v, description, sql) in migrations {
        if v > version && v <= target {
            tx.execute_batch(&sql).map_err(backend)?;
            let _ = tx
                .execute(
                    "INSERT INTO crmkit_migrations (version, description) VALUES (?1, ?2)",
                    params![v, description],
                )
                .map_err(backend)?;
        }
    }
    tx.execute_batch(&format!(
        "PRAGMA application_id = {APPLICATION_ID}; PRAGMA user_version = {};",
        target.max(version)
    ))
    .map_err(backend)?;
    tx.commit().map_err(backend)?;
    Ok(())
}

fn run_unit<F, T, E>(conn: &mut Connection, work: F) -> Result<T, E>
where
    F: for<'a> FnOnce(&mut SqliteTx<'a>) -> Result<T, E>,
    E: From<StoreError>,
{
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(|e| E::from(backend(e)))?;
    let mut handle = SqliteTx {
        conn: &tx,
        erased: false,
    };
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| work(&mut handle)));
    let erased = handle.erased;
    match outcome {
        Ok(Ok(value)) => {
            tx.commit().map_err(|e| E::from(backend(e)))?;
            if erased {
                conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
                    .map_err(|e| E::from(backend(e)))?;
            }
            Ok(value)
        }
        // Dropping `tx` rolls back.
        Ok(Err(e)) => Err(e),
        Err(_) => Err(E::from(StoreError::backend("the unit of work panicked"))),
    }
}

impl UnitOfWork for SqliteStore {
    type Tx<'a> = SqliteTx<'a>;

    fn transaction<F, T, E>(&self, work: F) -> impl Future<Output = Result<T, E>> + Send
    where
        F: for<'a> FnOnce(&mut Self::Tx<'a>) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        let jobs = self.jobs.clone();
        async move {
            let jobs = jobs.ok_or(StoreError::Closed)?;
            let (reply, answer) = oneshot::channel::<Result<T, E>>();
            let job: Job = Box::new(move |conn: &mut Connection| reply.send(run_unit(conn, work)));
            jobs.send(job).map_err(|_| StoreError::Closed)?;
            answer.await.map_err(|_| E::from(StoreError::Closed))?
        }
    }

    fn cursors(&self) -> &Cursors {
        &self.cursors
    }
}

/// The transaction handle of [`SqliteStore`] (an open `BEGIN IMMEDIATE`
/// transaction on the connection thread).
pub struct SqliteTx<'a> {
    conn: &'a Connection,
    erased: bool,
}

impl std::fmt::Debug for SqliteTx<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteTx").finish_non_exhaustive()
    }
}

fn decode<R: Record>(version: i64, body: &str) -> Result<Versioned<R>, StoreError> {
    let record: R = serde_json::from_str(body).map_err(|e| StoreError::Corrupt {
        reason: format!("a stored {} does not decode: {e}", R::KIND),
    })?;
    let version = u64::try_from(version).map_err(|_| StoreError::Corrupt {
        reason: format!("a stored {} has version {version}", R::KIND),
    })?;
    Ok(Versioned::new(record, Version::new(version)))
}

fn encode<R: Record>(record: &R) -> Result<String, StoreError> {
    serde_json::to_string(record).map_err(StoreError::backend)
}

fn version_i64(v: Version) -> Result<i64, StoreError> {
    i64::try_from(v.get()).map_err(|_| StoreError::backend("version exceeds i64"))
}

impl SqliteTx<'_> {
    fn stored_version(&self, kind: &str, id: &[u8]) -> Result<Option<Version>, StoreError> {
        let v: Option<i64> = self
            .conn
            .prepare_cached(&format!("SELECT version FROM {kind} WHERE id = ?1"))
            .and_then(|mut s| s.query_row([id], |r| r.get(0)).optional())
            .map_err(backend)?;
        v.map(|v| {
            u64::try_from(v)
                .map(Version::new)
                .map_err(|_| StoreError::Corrupt {
                    reason: format!("a stored {kind} has version {v}"),
                })
        })
        .transpose()
    }

    fn write_segments<R: Record>(&self, record: &R, key: &Key) -> Result<(), StoreError> {
        let kind = R::KIND;
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "INSERT OR IGNORE INTO {kind}_segments (segment, at, id) VALUES (?1, ?2, ?3)"
            ))
            .map_err(backend)?;
        for s in record.segments() {
            let _ = stmt
                .execute(params![s.as_str(), key.at, &key.id.as_bytes()[..]])
                .map_err(backend)?;
        }
        Ok(())
    }

    fn delete_segments(&self, kind: &str, id: &[u8]) -> Result<(), StoreError> {
        let _ = self
            .conn
            .prepare_cached(&format!("DELETE FROM {kind}_segments WHERE id = ?1"))
            .and_then(|mut s| s.execute([id]))
            .map_err(backend)?;
        Ok(())
    }
}

impl Transaction for SqliteTx<'_> {
    fn get<I: RecordId>(&mut self, id: I) -> Result<Option<Versioned<I::Record>>, StoreError> {
        let kind = I::Record::KIND;
        let row: Option<(i64, String)> = self
            .conn
            .prepare_cached(&format!("SELECT version, body FROM {kind} WHERE id = ?1"))
            .and_then(|mut s| {
                s.query_row([&id.uuid().as_bytes()[..]], |r| Ok((r.get(0)?, r.get(1)?)))
                    .optional()
            })
            .map_err(backend)?;
        row.map(|(v, body)| decode(v, &body)).transpose()
    }

    fn insert<R: Record>(&mut self, record: R) -> Result<Versioned<R>, StoreError> {
        let kind = R::KIND;
        let key = Key::of(&record)?;
        let body = encode(&record)?;
        let customer = record.customer().map(|c| c.as_uuid());
        let survey = record.survey().map(|s| s.as_uuid());
        let inserted = self
            .conn
            .prepare_cached(&format!(
                "INSERT INTO {kind} (id, at, customer, survey, version, body) VALUES (?1, ?2, ?3, ?4, 1, ?5)"
            ))
            .and_then(|mut s| {
                s.execute(params![
                    &key.id.as_bytes()[..],
                    key.at,
                    customer.as_ref().map(|u| &u.as_bytes()[..]),
                    survey.as_ref().map(|u| &u.as_bytes()[..]),
                    body
                ])
            });
        match inserted {
            Ok(_) => {}
            Err(e) if e.sqlite_error_code() == Some(ErrorCode::ConstraintViolation) => {
                return Err(StoreError::AlreadyExists {
                    kind,
                    id: record.id().to_string(),
                });
            }
            Err(e) => return Err(backend(e)),
        }
        self.write_segments(&record, &key)?;
        Ok(Versioned::new(record, Version::FIRST))
    }

    fn replace<R: Record>(
        &mut self,
        record: R,
        expected: Version,
    ) -> Result<Versioned<R>, StoreError> {
        let kind = R::KIND;
        let key = Key::of(&record)?;
        let id = key.id.as_bytes();
        let Some(found) = self.stored_version(kind, id)? else {
            return Err(StoreError::NotFound {
                kind,
                id: record.id().to_string(),
            });
        };
        if found != expected {
            return Err(StoreError::Conflict {
                kind,
                id: record.id().to_string(),
                expected,
                found,
            });
        }
        let version = found
            .next()
            .map_err(|e| StoreError::backend(e.to_string()))?;
        let body = encode(&record)?;
        let customer = record.customer().map(|c| c.as_uuid());
        let survey = record.survey().map(|s| s.as_uuid());
        let _ = self
            .conn
            .prepare_cached(&format!(
                "UPDATE {kind} SET at = ?2, customer = ?3, survey = ?4, version = ?5, body = ?6 WHERE id = ?1"
            ))
            .and_then(|mut s| {
                s.execute(params![
                    &id[..],
                    key.at,
                    customer.as_ref().map(|u| &u.as_bytes()[..]),
                    survey.as_ref().map(|u| &u.as_bytes()[..]),
                    version_i64(version).map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?,
                    body
                ])
            })
            .map_err(backend)?;
        self.delete_segments(kind, id)?;
        self.write_segments(&record, &key)?;
        Ok(Versioned::new(record, version))
    }

    fn delete<I: RecordId>(&mut self, id: I, expected: Option<Version>) -> Result<(), StoreError> {
        let kind = I::Record::KIND;
        let uuid = id.uuid();
        let bytes = uuid.as_bytes();
        let Some(found) = self.stored_version(kind, bytes)? else {
            return Err(StoreError::NotFound {
                kind,
                id: id.to_string(),
            });
        };
        if let Some(expected) = expected
            && expected != found
        {
            return Err(StoreError::Conflict {
                kind,
                id: id.to_string(),
                expected,
                found,
            });
        }
        let _ = self
            .conn
            .prepare_cached(&format!("DELETE FROM {kind} WHERE id = ?1"))
            .and_then(|mut s| s.execute([&bytes[..]]))
            .map_err(backend)?;
        self.delete_segments(kind, bytes)
    }

    fn scan<R: Record>(
        &mut self,
        query: &Query,
        after: Option<Key>,
        limit: usize,
    ) -> Result<Vec<Versioned<R>>, StoreError> {
        let kind = R::KIND;
        let mut args: Vec<Value> = Vec::new();
        let (from, at, id, mut filter) = match query {
            Query::Segment(s) => {
                args.push(Value::Text(s.as_str().to_owned()));
                (
                    format!("{kind}_segments s JOIN {kind} t ON t.id = s.id"),
                    "s.at",
                    "s.id",
                    "s.segment = ?1".to_owned(),
                )
            }
            Query::Customer(c) => {
                args.push(Value::Blob(c.as_bytes().to_vec()));
                (
                    format!("{kind} t"),
                    "t.at",
                    "t.id",
                    "t.customer = ?1".to_owned(),
                )
            }
            Query::Survey(s) => {
                args.push(Value::Blob(s.as_bytes().to_vec()));
                (
                    format!("{kind} t"),
                    "t.at",
                    "t.id",
                    "t.survey = ?1".to_owned(),
                )
            }
            Query::Period(p) => {
                let (start, end) = period_nanos(p);
                // Start the index range at the cursor, not at the period's
                // start, so each page costs its own size only.
                let start = after.map_or(start, |k| k.at.max(start));
                args.push(Value::Integer(start));
                args.push(Value::Integer(end));
                (
                    format!("{kind} t"),
                    "t.at",
                    "t.id",
                    "t.at >= ?1 AND t.at < ?2".to_owned(),
                )
            }
            Query::All => (format!("{kind} t"), "t.at", "t.id", "1".to_owned()),
        };
        if let Some(k) = after {
            let n = args.len();
            // `at >= ?` bounds the index range; the row value breaks ties.
            filter.push_str(&format!(
                " AND {at} >= ?{a} AND ({at}, {id}) > (?{a}, ?{b})",
                a = n + 1,
                b = n + 2
            ));
            args.push(Value::Integer(k.at));
            args.push(Value::Blob(k.id.as_bytes().to_vec()));
        }
        args.push(Value::Integer(i64::try_from(limit).unwrap_or(i64::MAX)));
        let sql = format!(
            "SELECT t.version, t.body FROM {from} WHERE {filter} ORDER BY {at}, {id} LIMIT ?{}",
            args.len()
        );
        let mut stmt = self.conn.prepare_cached(&sql).map_err(backend)?;
        let rows = stmt
            .query_map(rusqlite::params_from_iter(args), |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
            })
            .map_err(backend)?;
        let mut out = Vec::new();
        for row in rows {
            let (v, body) = row.map_err(backend)?;
            out.push(decode(v, &body)?);
        }
        Ok(out)
    }

    fn erased(&mut self) {
        self.erased = true;
    }

    fn erase_outbox(
        &mut self,
        customer: CustomerId,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Result<usize, StoreError> {
        outbox::erase(self, customer, at)
    }

    fn reassign_outbox(&mut self, from: CustomerId, to: CustomerId) -> Result<usize, StoreError> {
        outbox::reassign(self, from, to)
    }

    fn export_outbox(
        &mut self,
        customer: CustomerId,
    ) -> Result<Vec<Versioned<crate::outreach::OutboxEntry>>, StoreError> {
        self.outbox_for_customer(customer)
    }
}
