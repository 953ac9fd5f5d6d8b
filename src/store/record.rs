//! What a store needs to know about each aggregate.

use std::fmt::{Debug, Display};
use std::hash::Hash;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;
use uuid::Uuid;

use crate::domain::{CustomerId, Segment, SurveyId};
use crate::error::ValidationError;

/// A stored aggregate: its id, its position in listings and the index values
/// the queries use, and how erasure and merge change it.
///
/// crmkit implements it for every domain aggregate; store implementations
/// use it to stay generic over the kinds they store.
pub trait Record: Clone + Debug + Serialize + DeserializeOwned + Send + Sync + 'static {
    /// The name of the record kind (the table), e.g. `customers`.
    const KIND: &'static str;
    /// Facts cannot be updated (only erased or re-pointed by a merge).
    const IMMUTABLE: bool;
    /// The id type.
    type Id: RecordId<Record = Self>;

    /// The record's id.
    fn id(&self) -> Self::Id;
    /// The instant that orders listings and that time ranges select on (when
    /// the record was created or the event happened). It must not change in
    /// an update for paging guarantees to hold across that update.
    fn time(&self) -> DateTime<Utc>;
    /// The customer the record is about, if any.
    fn customer(&self) -> Option<CustomerId> {
        None
    }
    /// The survey the record belongs to, if any.
    fn survey(&self) -> Option<SurveyId> {
        None
    }
    /// The segments the record is in (customers now, responses at the time
    /// of the response).
    fn segments(&self) -> Vec<Segment> {
        Vec::new()
    }
    /// Replaces the personal data with erased placeholders and keeps the
    /// anonymous facts; `at` is the time of the erasure. Returns whether
    /// anything changed.
    fn erase_personal(&mut self, at: DateTime<Utc>) -> bool;
    /// Re-points the record from customer `from` to customer `to` (merge).
    /// Returns whether anything changed.
    ///
    /// # Errors
    /// A [`ValidationError`] when the re-pointed record would be invalid.
    fn reassign(&mut self, from: CustomerId, to: CustomerId) -> Result<bool, ValidationError>;
}

/// The id type of a [`Record`], mapping back to it (so `tx.get(id)` knows
/// which kind to read).
pub trait RecordId: Copy + Eq + Ord + Hash + Debug + Display + Send + Sync + 'static {
    /// The record kind this id names.
    type Record: Record<Id = Self>;
    /// The id as a UUID.
    fn uuid(self) -> Uuid;
    /// The id from a UUID.
    fn from_uuid(uuid: Uuid) -> Self;
}
