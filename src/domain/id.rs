//! Typed identifiers and the application's own external keys.
//!
//! Every aggregate has its own id type, so a [`CustomerId`] can never be passed
//! where a [`CaseId`] is expected. Ids are UUIDs; [`CustomerId::new`] and its
//! siblings create time-ordered UUIDv7 values, which keep B-tree indexes of the
//! stores compact. Ids serialise as the hyphenated UUID string.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::ValidationError;

macro_rules! define_id {
    ($(#[$meta:meta])* $name:ident, $field:literal) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// A new, time-ordered (UUIDv7) id.
            #[allow(clippy::new_without_default)]
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }

            /// Wraps an existing UUID.
            pub const fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }

            /// Builds an id from a 128-bit number: deterministic ids for tests
            /// and generated data.
            pub const fn from_u128(value: u128) -> Self {
                Self(Uuid::from_u128(value))
            }

            /// The UUID inside.
            pub const fn as_uuid(&self) -> Uuid {
                self.0
            }

            /// The 16 bytes of the UUID, big-endian (for storage keys).
            pub const fn as_bytes(&self) -> &[u8; 16] {
                self.0.as_bytes()
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }

        impl FromStr for $name {
            type Err = ValidationError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self).map_err(|_| ValidationError::Format {
                    field: $field,
                    value: s.to_owned(),
                    reason: "expected a UUID",
                })
            }
        }

        impl From<Uuid> for $name {
            fn from(uuid: Uuid) -> Self {
                Self(uuid)
            }
        }
    };
}

define_id!(
    /// Identifies a [`Customer`](crate::domain::Customer).
    ///
    /// # Example
    /// ```
    /// use crmkit::domain::CustomerId;
    /// let id = CustomerId::from_u128(7);
    /// let parsed: CustomerId = id.to_string().parse()?;
    /// assert_eq!(parsed, id);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    CustomerId,
    "customer_id"
);
define_id!(
    /// Identifies an [`Interaction`](crate::domain::Interaction).
    ///
    /// # Example
    /// ```
    /// use crmkit::domain::InteractionId;
    /// assert_ne!(InteractionId::new(), InteractionId::new());
    /// ```
    InteractionId,
    "interaction_id"
);
define_id!(
    /// Identifies a support [`Case`](crate::domain::Case).
    ///
    /// # Example
    /// ```
    /// use crmkit::domain::CaseId;
    /// assert_eq!(CaseId::from_u128(1), CaseId::from_u128(1));
    /// ```
    CaseId,
    "case_id"
);
define_id!(
    /// Identifies a [`Purchase`](crate::domain::Purchase).
    ///
    /// # Example
    /// ```
    /// use crmkit::domain::PurchaseId;
    /// let id = PurchaseId::from_u128(3);
    /// assert_eq!(id.as_uuid().as_u128(), 3);
    /// ```
    PurchaseId,
    "purchase_id"
);
define_id!(
    /// Identifies a [`Subscription`](crate::domain::Subscription).
    ///
    /// # Example
    /// ```
    /// use crmkit::domain::SubscriptionId;
    /// let id = SubscriptionId::new();
    /// assert_eq!(id.to_string().len(), 36);
    /// ```
    SubscriptionId,
    "subscription_id"
);
define_id!(
    /// Identifies a [`Survey`](crate::domain::Survey).
    ///
    /// # Example
    /// ```
    /// use crmkit::domain::SurveyId;
    /// assert!("not a uuid".parse::<SurveyId>().is_err());
    /// ```
    SurveyId,
    "survey_id"
);
define_id!(
    /// Identifies a [`SurveyInvitation`](crate::domain::SurveyInvitation).
    ///
    /// # Example
    /// ```
    /// use crmkit::domain::InvitationId;
    /// let id = InvitationId::from_u128(9);
    /// assert_eq!(format!("{id:?}"), format!("InvitationId({id})"));
    /// ```
    InvitationId,
    "invitation_id"
);
define_id!(
    /// Identifies a [`SurveyResponse`](crate::domain::SurveyResponse).
    ///
    /// # Example
    /// ```
    /// use crmkit::domain::ResponseId;
    /// let id = ResponseId::from_u128(11);
    /// assert_eq!(id, ResponseId::from_uuid(id.as_uuid()));
    /// ```
    ResponseId,
    "response_id"
);
define_id!(
    /// Identifies an agent: a person who answers customers.
    ///
    /// # Example
    /// ```
    /// use crmkit::domain::AgentId;
    /// let agent = AgentId::from_u128(1);
    /// assert_eq!(agent.as_bytes().len(), 16);
    /// ```
    AgentId,
    "agent_id"
);
define_id!(
    /// Identifies a team of agents.
    ///
    /// # Example
    /// ```
    /// use crmkit::domain::TeamId;
    /// assert!(TeamId::from_u128(1) < TeamId::from_u128(2));
    /// ```
    TeamId,
    "team_id"
);
define_id!(
    /// Identifies a bot that answers customers (a chatbot, an IVR).
    ///
    /// # Example
    /// ```
    /// use crmkit::domain::BotId;
    /// let bot = BotId::from_u128(5);
    /// assert_eq!(bot.to_string(), "00000000-0000-0000-0000-000000000005");
    /// ```
    BotId,
    "bot_id"
);

/// The application's own key for a record (its CRM's contact id, its shop's
/// order number), kept beside crmkit's id so records can be matched back.
///
/// Between 1 and 255 characters, no control characters, no leading or
/// trailing white space.
///
/// # Example
/// ```
/// use crmkit::domain::ExternalId;
/// let key = ExternalId::new("shop-order-1042")?;
/// assert_eq!(key.as_str(), "shop-order-1042");
/// assert!(ExternalId::new("").is_err());
/// assert!(ExternalId::new(" padded ").is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ExternalId(String);

impl ExternalId {
    /// The longest external id accepted, in characters.
    pub const MAX_LEN: usize = 255;

    /// Validates and wraps an external id.
    ///
    /// # Errors
    /// [`ValidationError::Empty`], [`ValidationError::TooLong`], or
    /// [`ValidationError::Format`] for control characters or surrounding white space.
    pub fn new(value: impl Into<String>) -> Result<Self, ValidationError> {
        let value = value.into();
        validate_text("external_id", &value, Self::MAX_LEN)?;
        Ok(Self(value))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ExternalId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for ExternalId {
    type Error = ValidationError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl From<ExternalId> for String {
    fn from(id: ExternalId) -> Self {
        id.0
    }
}

/// Shared rule for short single-line texts (names, labels, keys): not empty,
/// at most `max` characters, no control characters, no surrounding white space.
pub(crate) fn validate_text(
    field: &'static str,
    value: &str,
    max: usize,
) -> Result<(), ValidationError> {
    if value.trim().is_empty() {
        return Err(ValidationError::Empty { field });
    }
    let len = value.chars().count();
    if len > max {
        return Err(ValidationError::TooLong { field, len, max });
    }
    if value.chars().any(char::is_control) {
        return Err(ValidationError::Format {
            field,
            value: value.to_owned(),
            reason: "control characters are not allowed",
        });
    }
    if value.trim() != value {
        return Err(ValidationError::Format {
            field,
            value: value.to_owned(),
            reason: "leading or trailing white space is not allowed",
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_through_text_and_json() {
        let id = CustomerId::from_u128(0x1234);
        assert_eq!(id.to_string().parse::<CustomerId>().unwrap(), id);
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, "\"00000000-0000-0000-0000-000000001234\"");
        assert_eq!(serde_json::from_str::<CustomerId>(&json).unwrap(), id);
    }

    #[test]
    fn id_parse_error_names_field_and_value() {
        let err = "xyz".parse::<CaseId>().unwrap_err();
        assert_eq!(
            err,
            ValidationError::Format {
                field: "case_id",
                value: "xyz".into(),
                reason: "expected a UUID"
            }
        );
    }

    #[test]
    fn new_ids_are_time_ordered() {
        let a = PurchaseId::new();
        let b = PurchaseId::new();
        assert!(a < b);
    }

    #[test]
    fn external_id_rules() {
        assert_eq!(
            ExternalId::new("  ").unwrap_err(),
            ValidationError::Empty {
                field: "external_id"
            }
        );
        assert!(matches!(
            ExternalId::new("a".repeat(256)).unwrap_err(),
            ValidationError::TooLong {
                len: 256,
                max: 255,
                ..
            }
        ));
        assert!(matches!(
            ExternalId::new("a\nb").unwrap_err(),
            ValidationError::Format { .. }
        ));
        assert!(ExternalId::new("a".repeat(255)).is_ok());
        assert!(serde_json::from_str::<ExternalId>("\"\"").is_err());
    }
}

#[cfg(any(test, feature = "proptest"))]
pub(crate) mod strategies {
    use super::*;
    use proptest::prelude::*;

    /// Any customer id.
    pub fn customer_id() -> impl Strategy<Value = CustomerId> {
        any::<u128>().prop_map(CustomerId::from_u128)
    }

    /// Any agent id.
    pub fn agent_id() -> impl Strategy<Value = AgentId> {
        any::<u128>().prop_map(AgentId::from_u128)
    }

    /// Any team id.
    pub fn team_id() -> impl Strategy<Value = TeamId> {
        any::<u128>().prop_map(TeamId::from_u128)
    }

    /// A valid external id: 1-40 printable ASCII characters, trimmed.
    pub fn external_id() -> impl Strategy<Value = ExternalId> {
        "[A-Za-z0-9][A-Za-z0-9 _./-]{0,38}[A-Za-z0-9]?"
            .prop_filter_map("valid external id", |s| ExternalId::new(s).ok())
    }
}
