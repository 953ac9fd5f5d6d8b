//! [`Record`] for every domain aggregate: ids, listing times, index values,
//! erasure and re-pointing.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;
use uuid::Uuid;

use super::{Record, RecordId};
use crate::domain::{
    Case, CaseId, Customer, CustomerId, Interaction, InteractionId, InvitationId, Purchase,
    PurchaseId, ResponseId, Segment, Subscription, SubscriptionId, Survey, SurveyId,
    SurveyInvitation, SurveyResponse,
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
    CustomerId => Customer,
    InteractionId => Interaction,
    CaseId => Case,
    PurchaseId => Purchase,
    SubscriptionId => Subscription,
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
    fn erase_personal(&mut self, _at: DateTime<Utc>) -> bool {
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
    fn erase_personal(&mut self, _at: DateTime<Utc>) -> bool {
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
    fn erase_personal(&mut self, _at: DateTime<Utc>) -> bool {
        let had = self.comment().is_some();
        SurveyResponse::erase_personal(self);
        had
    }
    fn reassign(&mut self, from: CustomerId, to: CustomerId) -> Result<bool, ValidationError> {
        reassign_field(self, "customer", from, to)
    }
}

impl Record for Customer {
    const KIND: &'static str = "customers";
    const IMMUTABLE: bool = false;
    type Id = CustomerId;
    fn id(&self) -> CustomerId {
        Customer::id(self)
    }
    fn time(&self) -> DateTime<Utc> {
        self.created_at()
    }
    fn customer(&self) -> Option<CustomerId> {
        Some(Customer::id(self))
    }
    fn segments(&self) -> Vec<Segment> {
        Customer::segments(self).iter().cloned().collect()
    }
    fn erase_personal(&mut self, at: DateTime<Utc>) -> bool {
        let before = self.clone();
        self.erase(at);
        *self != before
    }
    fn reassign(&mut self, _: CustomerId, _: CustomerId) -> Result<bool, ValidationError> {
        // The customer record itself is combined by the merge, not re-pointed.
        Ok(false)
    }
}

/// Combines the record of a customer found to be the same person into
/// `keep`: contact points, consent history, segments, tags and attributes
/// `keep` lacks are added; names, preferred channel and locale fill gaps
/// only. Nothing of `other` is lost unless `keep` already holds it.
///
/// # Errors
/// A [`ValidationError`] when the combined customer would be invalid.
pub fn absorb_customer(keep: &mut Customer, other: &Customer) -> Result<(), ValidationError> {
    for cp in other.contact_points() {
        if !keep.contact_points().iter().any(|k| k.value == cp.value) {
            keep.add_contact_point(cp.clone())?;
        }
    }
    for c in other.consents() {
        if !keep.consents().contains(c) {
            keep.record_consent(c.clone())?;
        }
    }
    if keep.display_name().is_none()
        && let Some(n) = other.display_name()
    {
        keep.set_display_name(Some(n.expose().clone()))?;
    }
    if keep.given_name().is_none() && keep.family_name().is_none() {
        let given = other.given_name().map(|n| n.expose().clone());
        let family = other.family_name().map(|n| n.expose().clone());
        if given.is_some() || family.is_some() {
            keep.set_person_name(given, family)?;
        }
    }
    if keep.organisation_name().is_none()
        && let Some(n) = other.organisation_name()
    {
        keep.set_organisation_name(Some(n.expose().clone()))?;
    }
    if keep.preferred_channel().is_none() {
        keep.set_preferred_channel(other.preferred_channel());
    }
    if keep.locale().is_none() {
        keep.set_locale(other.locale().cloned());
    }
    for s in other.segments() {
        let _ = keep.add_segment(s.clone());
    }
    for t in other.tags() {
        let _ = keep.add_tag(t.clone());
    }
    for (k, v) in other.attributes() {
        if !keep.attributes().contains_key(k) {
            keep.set_attribute(k.clone(), v.clone())?;
        }
    }
    Ok(())
}

/// `Record` for an aggregate about one customer, with the listing time
/// from `$time` and erasure through `$erase` (a `&mut self` method of the
/// domain type), or no personal data with `$erase` omitted.
macro_rules! customer_record {
    ($R:ty, $Id:ty, $kind:literal, immutable: $imm:literal, time: $time:ident $(, erase: $erase:ident)?) => {
        impl Record for $R {
            const KIND: &'static str = $kind;
            const IMMUTABLE: bool = $imm;
            type Id = $Id;
            fn id(&self) -> $Id {
                <$R>::id(self)
            }
            fn time(&self) -> DateTime<Utc> {
                self.$time()
            }
            fn customer(&self) -> Option<CustomerId> {
                Some(<$R>::customer(self))
            }
            #[allow(unused_variables)]
            fn erase_personal(&mut self, _at: DateTime<Utc>) -> bool {
                $(
                    let before = self.clone();
                    self.$erase();
                    return *self != before;
                )?
                #[allow(unreachable_code)]
                false
            }
            fn reassign(&mut self, from: CustomerId, to: CustomerId) -> Result<bool, ValidationError> {
                reassign_field(self, "customer", from, to)
            }
        }
    };
}

customer_record!(Interaction, InteractionId, "interactions", immutable: false, time: occurred_at, erase: erase_personal);
customer_record!(Case, CaseId, "cases", immutable: false, time: created_at, erase: erase_personal);
// A purchase holds no personal data (the order reference is the shop's).
customer_record!(Purchase, PurchaseId, "purchases", immutable: true, time: occurred_at);
customer_record!(Subscription, SubscriptionId, "subscriptions", immutable: false, time: started_at);
