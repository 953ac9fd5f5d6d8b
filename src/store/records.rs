//! [`Record`] for every domain aggregate: ids, listing times, index values,
//! erasure and re-pointing.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;
use uuid::Uuid;

use super::{Record, RecordId};
use crate::domain::{
    CustomerId, InvitationId, ResponseId, Segment, Survey, SurveyId, SurveyInvitation,
    SurveyResponse,
};
use crate::error::ValidationError;

macro_rules! record_id {
    ($($id:ty => $record:ty),* $(,)?) => {$(
        impl RecordId for $id {
            type Record = $record;
            fn uuid(self) -> Uuid {
                self.as_uuid()
            }
            fn from_uuid(uuid: Uuid) -> Self {
                <$id>::from_uuid(uuid)
            }
        }
    )*};
}

record_id!(
    SurveyId => Survey,
    InvitationId => SurveyInvitation,
    ResponseId => SurveyResponse,
);

/// Re-points the `field` of a record from `from` to `to` through its serde
/// form, so the domain validation runs on the result.
pub(crate) fn reassign_field<R: Serialize + DeserializeOwned>(
    record: &mut R,
    field: &'static str,
    from: CustomerId,
    to: CustomerId,
) -> Result<bool, ValidationError> {
    let invalid = |reason: String| ValidationError::Inconsistent { field, reason };
    let mut json = serde_json::to_value(&*record).map_err(|e| invalid(e.to_string()))?;
    let from_json = serde_json::to_value(from).map_err(|e| invalid(e.to_string()))?;
    let to_json = serde_json::to_value(to).map_err(|e| invalid(e.to_string()))?;
    let Some(slot) = json.get_mut(field) else {
        return Ok(false);
    };
    if *slot != from_json {
        return Ok(false);
    }
    *slot = to_json;
    *record = serde_json::from_value(json).map_err(|e| invalid(e.to_string()))?;
    Ok(true)
}

impl Record for Survey {
    const KIND: &'static str = "surveys";
    const IMMUTABLE: bool = false;
    type Id = SurveyId;
    fn id(&self) -> SurveyId {
        Survey::id(self)
    }
    fn time(&self) -> DateTime<Utc> {
        self.created_at()
    }
    fn survey(&self) -> Option<SurveyId> {
        Some(Survey::id(self))
    }
    fn erase_personal(&mut self) -> bool {
        false
    }
    fn reassign(&mut self, _: CustomerId, _: CustomerId) -> Result<bool, ValidationError> {
        Ok(false)
    }
}

impl Record for SurveyInvitation {
    const KIND: &'static str = "invitations";
    const IMMUTABLE: bool = true;
    type Id = InvitationId;
    fn id(&self) -> InvitationId {
        SurveyInvitation::id(self)
    }
    fn time(&self) -> DateTime<Utc> {
        self.sent_at()
    }
    fn customer(&self) -> Option<CustomerId> {
        Some(SurveyInvitation::customer(self))
    }
    fn survey(&self) -> Option<SurveyId> {
        Some(SurveyInvitation::survey(self))
    }
    fn segments(&self) -> Vec<Segment> {
        SurveyInvitation::segments(self).iter().cloned().collect()
    }
    fn erase_personal(&mut self) -> bool {
        // An invitation holds no personal data: ids, time, channel, segments.
        false
    }
    fn reassign(&mut self, from: CustomerId, to: CustomerId) -> Result<bool, ValidationError> {
        reassign_field(self, "customer", from, to)
    }
}

impl Record for SurveyResponse {
    const KIND: &'static str = "responses";
    const IMMUTABLE: bool = true;
    type Id = ResponseId;
    fn id(&self) -> ResponseId {
        SurveyResponse::id(self)
    }
    fn time(&self) -> DateTime<Utc> {
        self.responded_at()
    }
    fn customer(&self) -> Option<CustomerId> {
        Some(SurveyResponse::customer(self))
    }
    fn survey(&self) -> Option<SurveyId> {
        Some(SurveyResponse::survey(self))
    }
    fn segments(&self) -> Vec<Segment> {
        SurveyResponse::segments(self).iter().cloned().collect()
    }
    fn erase_personal(&mut self) -> bool {
        let had = self.comment().is_some();
        SurveyResponse::erase_personal(self);
        had
    }
    fn reassign(&mut self, from: CustomerId, to: CustomerId) -> Result<bool, ValidationError> {
        reassign_field(self, "customer", from, to)
    }
}
