//! Customers: who they are, how to reach them, what they agreed to, and
//! erasure of their personal data.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::domain::id::validate_text;
use crate::domain::{Channel, CustomerId, ExternalId, Personal, Segment};
use crate::error::ValidationError;

fn format_err(field: &'static str, value: &str, reason: &'static str) -> ValidationError {
    ValidationError::Format {
        field,
        value: value.to_owned(),
        reason,
    }
}

/// Implements `Debug` as `<redacted>`, `Display`, `TryFrom<String>` and
/// `Into<String>` for a validated string newtype holding personal data.
macro_rules! personal_string {
    ($name:ident) => {
        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("<redacted>")
            }
        }
        impl TryFrom<String> for $name {
            type Error = ValidationError;
            fn try_from(value: String) -> Result<Self, Self::Error> {
                Self::new(value)
            }
        }
        impl From<$name> for String {
            fn from(v: $name) -> Self {
                v.0
            }
        }
        impl $name {
            /// The value as text. Personal data: do not log it.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
    };
}

/// An e-mail address, checked for shape (not deliverability). Personal data:
/// `Debug` prints `<redacted>`.
///
/// Rules: exactly one `@`; a local part of 1-64 printable ASCII characters
/// without spaces; a domain of at least two dot-separated labels, each 1-63
/// letters, digits or hyphens, not starting or ending with a hyphen; at most
/// 254 characters in all. The domain is lower-cased, the local part kept as
/// given (it may be case-sensitive).
///
/// # Example
/// ```
/// use crmkit::domain::EmailAddress;
/// let e = EmailAddress::new("Ada@Example.ORG")?;
/// assert_eq!(e.as_str(), "Ada@example.org");
/// assert!(EmailAddress::new("ada@localhost").is_err());
/// assert!(EmailAddress::new("a@b@example.org").is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EmailAddress(String);
personal_string!(EmailAddress);

impl EmailAddress {
    /// The longest address accepted, in characters.
    pub const MAX_LEN: usize = 254;

    /// Validates an address and lower-cases its domain.
    ///
    /// # Errors
    /// [`ValidationError::Empty`], [`ValidationError::TooLong`] or
    /// [`ValidationError::Format`] (field `email`).
    pub fn new(value: impl Into<String>) -> Result<Self, ValidationError> {
        const F: &str = "email";
        let value = value.into();
        if value.is_empty() {
            return Err(ValidationError::Empty { field: F });
        }
        let len = value.chars().count();
        if len > Self::MAX_LEN {
            return Err(ValidationError::TooLong {
                field: F,
                len,
                max: Self::MAX_LEN,
            });
        }
        let Some((local, domain)) = value.split_once('@') else {
            return Err(format_err(F, &value, "missing @"));
        };
        if domain.contains('@') {
            return Err(format_err(F, &value, "more than one @"));
        }
        if local.is_empty() || local.len() > 64 {
            return Err(format_err(
                F,
                &value,
                "local part must have 1-64 characters",
            ));
        }
        if !local.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(format_err(
                F,
                &value,
                "local part must be printable ASCII without spaces",
            ));
        }
        if !domain.contains('.') {
            return Err(format_err(F, &value, "domain must contain a dot"));
        }
        let label_ok = |l: &str| {
            (1..=63).contains(&l.len())
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        };
        if !domain.split('.').all(label_ok) {
            return Err(format_err(
                F,
                &value,
                "domain labels must be 1-63 letters, digits or inner hyphens",
            ));
        }
        Ok(Self(format!("{local}@{}", domain.to_ascii_lowercase())))
    }
}

/// A phone number in E.164 form: `+`, then 8 to 15 digits, the first not
/// zero. Personal data: `Debug` prints `<redacted>`.
///
/// # Example
/// ```
/// use crmkit::domain::PhoneNumber;
/// let p = PhoneNumber::new("+442071838750")?;
/// assert_eq!(p.as_str(), "+442071838750");
/// assert!(PhoneNumber::new("020 7183 8750").is_err());
/// assert!(PhoneNumber::new("+0123456789").is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PhoneNumber(String);
personal_string!(PhoneNumber);

impl PhoneNumber {
    /// Validates an E.164 number.
    ///
    /// # Errors
    /// [`ValidationError::Format`] (field `phone`).
    pub fn new(value: impl Into<String>) -> Result<Self, ValidationError> {
        let value = value.into();
        let ok = value.strip_prefix('+').is_some_and(|d| {
            (8..=15).contains(&d.len())
                && d.bytes().all(|b| b.is_ascii_digit())
                && !d.starts_with('0')
        });
        if ok {
            Ok(Self(value))
        } else {
            Err(format_err(
                "phone",
                &value,
                "E.164: + then 8-15 digits, the first not 0",
            ))
        }
    }
}

/// An ISO 3166-1 alpha-2 country code (`GB`, `DE`), checked for shape: two
/// upper-case ASCII letters. Not personal data.
///
/// # Example
/// ```
/// use crmkit::domain::CountryCode;
/// assert_eq!(CountryCode::new("DE")?.as_str(), "DE");
/// assert!(CountryCode::new("de").is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CountryCode(String);

impl CountryCode {
    /// Validates a code.
    ///
    /// # Errors
    /// [`ValidationError::Format`] (field `country`).
    pub fn new(value: impl Into<String>) -> Result<Self, ValidationError> {
        let value = value.into();
        if value.len() == 2 && value.bytes().all(|b| b.is_ascii_uppercase()) {
            Ok(Self(value))
        } else {
            Err(format_err(
                "country",
                &value,
                "two upper-case letters (ISO 3166-1 alpha-2)",
            ))
        }
    }

    /// The code.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for CountryCode {
    type Error = ValidationError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl From<CountryCode> for String {
    fn from(c: CountryCode) -> Self {
        c.0
    }
}

/// A postal address. Personal data: `Debug` prints `<redacted>`.
///
/// One to four street lines and the city, each 1-200 characters without
/// control characters or surrounding white space; an optional postal code of
/// 1-20 such characters; a [`CountryCode`].
///
/// # Example
/// ```
/// use crmkit::domain::{CountryCode, PostalAddress};
/// let a = PostalAddress::new(vec!["1 Main St".into()], "Springfield", Some("12345".into()), CountryCode::new("US")?)?;
/// assert_eq!(a.city(), "Springfield");
/// assert!(PostalAddress::new(vec![], "Springfield", None, CountryCode::new("US")?).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "PostalAddressRepr")]
pub struct PostalAddress {
    lines: Vec<String>,
    city: String,
    postal_code: Option<String>,
    country: CountryCode,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PostalAddressRepr {
    lines: Vec<String>,
    city: String,
    #[serde(default)]
    postal_code: Option<String>,
    country: CountryCode,
}

impl TryFrom<PostalAddressRepr> for PostalAddress {
    type Error = ValidationError;
    fn try_from(r: PostalAddressRepr) -> Result<Self, Self::Error> {
        Self::new(r.lines, r.city, r.postal_code, r.country)
    }
}

impl fmt::Debug for PostalAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl PostalAddress {
    /// Validates an address.
    ///
    /// # Errors
    /// [`ValidationError::OutOfRange`] for no or more than four lines, and
    /// the text rules for each part (fields `address_line`, `city`,
    /// `postal_code`).
    pub fn new(
        lines: Vec<String>,
        city: impl Into<String>,
        postal_code: Option<String>,
        country: CountryCode,
    ) -> Result<Self, ValidationError> {
        if !(1..=4).contains(&lines.len()) {
            return Err(ValidationError::OutOfRange {
                field: "address_lines",
                value: lines.len().to_string(),
                range: "1..=4".into(),
            });
        }
        for l in &lines {
            validate_text("address_line", l, 200)?;
        }
        let city = city.into();
        validate_text("city", &city, 200)?;
        if let Some(p) = &postal_code {
            validate_text("postal_code", p, 20)?;
        }
        Ok(Self {
            lines,
            city,
            postal_code,
            country,
        })
    }

    /// The street lines.
    pub fn lines(&self) -> &[String] {
        &self.lines
    }
    /// The city.
    pub fn city(&self) -> &str {
        &self.city
    }
    /// The postal code, if any.
    pub fn postal_code(&self) -> Option<&str> {
        self.postal_code.as_deref()
    }
    /// The country.
    pub fn country(&self) -> &CountryCode {
        &self.country
    }
}

/// A handle on a social platform (`platform` = "mastodon", handle =
/// "@ada@example.social"). Personal data: `Debug` prints `<redacted>`.
///
/// # Example
/// ```
/// use crmkit::domain::{Segment, SocialHandle};
/// let h = SocialHandle::new(Segment::new("bluesky")?, "ada.example.com")?;
/// assert_eq!(h.handle(), "ada.example.com");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "SocialHandleRepr")]
pub struct SocialHandle {
    platform: Segment,
    handle: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SocialHandleRepr {
    platform: Segment,
    handle: String,
}

impl TryFrom<SocialHandleRepr> for SocialHandle {
    type Error = ValidationError;
    fn try_from(r: SocialHandleRepr) -> Result<Self, Self::Error> {
        Self::new(r.platform, r.handle)
    }
}

impl fmt::Debug for SocialHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl SocialHandle {
    /// Validates a handle: 1-100 characters, no control characters or
    /// surrounding white space (field `social_handle`).
    ///
    /// # Errors
    /// The text rules of [`ValidationError`].
    pub fn new(platform: Segment, handle: impl Into<String>) -> Result<Self, ValidationError> {
        let handle = handle.into();
        validate_text("social_handle", &handle, 100)?;
        Ok(Self { platform, handle })
    }
    /// The platform label.
    pub fn platform(&self) -> &Segment {
        &self.platform
    }
    /// The handle on that platform.
    pub fn handle(&self) -> &str {
        &self.handle
    }
}

/// One way to reach a customer.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum ContactValue {
    /// An e-mail address.
    Email(EmailAddress),
    /// A phone number.
    Phone(PhoneNumber),
    /// A postal address.
    Postal(PostalAddress),
    /// A social media handle.
    Social(SocialHandle),
}

/// A contact point: the value (personal data), whether the customer proved
/// they control it, and an optional label ("work", "home").
///
/// # Example
/// ```
/// use crmkit::domain::{ContactPoint, ContactValue, EmailAddress};
/// let cp = ContactPoint::new(ContactValue::Email(EmailAddress::new("ada@example.org")?), true, None);
/// assert!(cp.verified);
/// assert!(!format!("{cp:?}").contains("ada"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContactPoint {
    /// The address, number or handle.
    pub value: Personal<ContactValue>,
    /// Whether the customer confirmed it (a clicked link, a code by SMS).
    pub verified: bool,
    /// A label such as "work" or "home".
    #[serde(default)]
    pub label: Option<Segment>,
}

impl ContactPoint {
    /// A contact point.
    pub fn new(value: ContactValue, verified: bool, label: Option<Segment>) -> Self {
        Self {
            value: Personal::new(value),
            verified,
            label,
        }
    }
}

/// A BCP 47 language tag (`en-GB`, `pt-BR`), validated with the
/// `language-tags` crate and stored in canonical form. Not personal data.
///
/// # Example
/// ```
/// use crmkit::domain::Locale;
/// assert_eq!(Locale::new("en-gb")?.as_str(), "en-GB");
/// assert!(Locale::new("not a tag").is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Locale(String);

impl Locale {
    /// Parses, validates and canonicalises a tag.
    ///
    /// # Errors
    /// [`ValidationError::Format`] (field `locale`).
    pub fn new(value: impl Into<String>) -> Result<Self, ValidationError> {
        let value = value.into();
        language_tags::LanguageTag::parse(&value)
            .ok()
            .and_then(|t| t.canonicalize().ok())
            .filter(|t| t.is_valid())
            .map(|t| Self(t.into_string()))
            .ok_or_else(|| format_err("locale", &value, "not a valid BCP 47 language tag"))
    }
    /// The canonical tag.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Locale {
    type Error = ValidationError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl From<Locale> for String {
    fn from(l: Locale) -> Self {
        l.0
    }
}

/// Who the customer is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CustomerKind {
    /// A private person.
    Individual,
    /// A company or other organisation.
    Business,
    /// A colleague in another department (an internal customer).
    Internal,
}

/// Where a customer is in the relationship: a workflow label set by people
/// and rules. Metrics never read it; they use activity spans.
///
/// Allowed moves ([`LifecycleStage::can_transition_to`]); staying in the same
/// stage is always allowed:
///
/// | from        | to                                  |
/// |-------------|-------------------------------------|
/// | Lead        | Prospect, Active                    |
/// | Prospect    | Lead, Active                        |
/// | Active      | AtRisk, Churned                     |
/// | AtRisk      | Active, Churned                     |
/// | Churned     | Reactivated                         |
/// | Reactivated | Active, AtRisk, Churned             |
///
/// # Example
/// ```
/// use crmkit::domain::LifecycleStage::*;
/// assert!(Active.can_transition_to(AtRisk));
/// assert!(!Churned.can_transition_to(Active)); // comes back as Reactivated
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LifecycleStage {
    /// Known contact, not yet qualified.
    Lead,
    /// Qualified, considering a purchase.
    Prospect,
    /// A paying or engaged customer.
    Active,
    /// Showing signs of leaving.
    AtRisk,
    /// Left.
    Churned,
    /// Came back after churning.
    Reactivated,
}

impl LifecycleStage {
    /// Every stage, in declaration order.
    pub const ALL: [LifecycleStage; 6] = [
        Self::Lead,
        Self::Prospect,
        Self::Active,
        Self::AtRisk,
        Self::Churned,
        Self::Reactivated,
    ];

    /// Whether the table in the type's documentation allows `self -> to`.
    pub const fn can_transition_to(self, to: LifecycleStage) -> bool {
        use LifecycleStage::*;
        matches!(
            (self, to),
            (Lead, Lead | Prospect | Active)
                | (Prospect, Prospect | Lead | Active)
                | (Active, Active | AtRisk | Churned)
                | (AtRisk, AtRisk | Active | Churned)
                | (Churned, Churned | Reactivated)
                | (Reactivated, Reactivated | Active | AtRisk | Churned)
        )
    }
}

/// A validated free text (consent evidence, text attributes): 1-2000
/// characters, not only white space, no control characters except line
/// breaks and tabs. Stored inside [`Personal`] because free text may name
/// people.
///
/// # Example
/// ```
/// use crmkit::domain::TextValue;
/// assert_eq!(TextValue::new("signed form #12")?.as_str(), "signed form #12");
/// assert!(TextValue::new("  ").is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TextValue(String);
personal_string!(TextValue);

impl TextValue {
    /// The longest text accepted, in characters.
    pub const MAX_LEN: usize = 2000;

    /// Validates a text.
    ///
    /// # Errors
    /// [`ValidationError::Empty`], [`ValidationError::TooLong`] or
    /// [`ValidationError::Format`] (field `text`).
    pub fn new(value: impl Into<String>) -> Result<Self, ValidationError> {
        let value = value.into();
        if value.trim().is_empty() {
            return Err(ValidationError::Empty { field: "text" });
        }
        let len = value.chars().count();
        if len > Self::MAX_LEN {
            return Err(ValidationError::TooLong {
                field: "text",
                len,
                max: Self::MAX_LEN,
            });
        }
        if value
            .chars()
            .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
        {
            return Err(format_err(
                "text",
                &value,
                "control characters are not allowed",
            ));
        }
        Ok(Self(value))
    }
}

/// The value of a custom attribute. Text is free text and therefore
/// personal data (removed by [`Customer::erase`]); numbers, flags and dates
/// are kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "value", rename_all = "snake_case")]
pub enum AttributeValue {
    /// Free text (personal data).
    Text(Personal<TextValue>),
    /// An exact number.
    Number(Decimal),
    /// A flag.
    Bool(bool),
    /// A calendar date.
    Date(NaiveDate),
}

/// A custom attribute key: an ASCII lower-case letter, then up to 63 lower-case
/// letters, digits or underscores (`plan_tier`). Not personal data.
///
/// # Example
/// ```
/// use crmkit::domain::AttributeKey;
/// assert!(AttributeKey::new("plan_tier").is_ok());
/// assert!(AttributeKey::new("Plan Tier").is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AttributeKey(String);

impl AttributeKey {
    /// Validates a key.
    ///
    /// # Errors
    /// [`ValidationError::Format`] (field `attribute_key`).
    pub fn new(value: impl Into<String>) -> Result<Self, ValidationError> {
        let value = value.into();
        let mut b = value.bytes();
        let ok = b.next().is_some_and(|c| c.is_ascii_lowercase())
            && value.len() <= 64
            && b.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_');
        if ok {
            Ok(Self(value))
        } else {
            Err(format_err(
                "attribute_key",
                &value,
                "a lower-case letter, then up to 63 of a-z, 0-9, _",
            ))
        }
    }
    /// The key.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for AttributeKey {
    type Error = ValidationError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl From<AttributeKey> for String {
    fn from(k: AttributeKey) -> Self {
        k.0
    }
}

/// What a consent is for.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConsentPurpose {
    /// Marketing by e-mail.
    MarketingEmail,
    /// A newsletter.
    Newsletter,
    /// Marketing by SMS.
    Sms,
    /// Marketing phone calls.
    PhoneCalls,
    /// Survey invitations.
    Surveys,
    /// Service messages beyond what a contract requires.
    ServiceMessages,
    /// Profiling and personalisation.
    Profiling,
    /// An application-defined purpose.
    Custom(Segment),
}

impl ConsentPurpose {
    /// The purpose that marketing on `channel` needs, if the channel has one:
    /// e-mail needs [`MarketingEmail`](Self::MarketingEmail), SMS
    /// [`Sms`](Self::Sms), phone [`PhoneCalls`](Self::PhoneCalls).
    ///
    /// # Example
    /// ```
    /// use crmkit::domain::{Channel, ConsentPurpose};
    /// assert_eq!(ConsentPurpose::marketing_for(Channel::Sms), Some(ConsentPurpose::Sms));
    /// assert_eq!(ConsentPurpose::marketing_for(Channel::InPerson), None);
    /// ```
    pub fn marketing_for(channel: Channel) -> Option<Self> {
        match channel {
            Channel::Email => Some(Self::MarketingEmail),
            Channel::Sms => Some(Self::Sms),
            Channel::Phone => Some(Self::PhoneCalls),
            _ => None,
        }
    }
}

/// Whether consent was given or withdrawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConsentStatus {
    /// Consent given.
    Given,
    /// Consent withdrawn (or refused).
    Withdrawn,
}

/// How a consent was given or withdrawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConsentSource {
    /// A web form.
    WebForm,
    /// Double opt-in: a confirmed link in an e-mail.
    DoubleOptIn,
    /// Said on the phone or in person.
    Verbal,
    /// A signed paper form.
    Paper,
    /// An unsubscribe link.
    Unsubscribe,
    /// An API call by the application.
    Api,
    /// Imported from another system.
    Imported,
}

/// One consent decision: the proof a regulator asks for.
///
/// # Example
/// ```
/// use chrono::{DateTime, Utc};
/// use crmkit::domain::{ConsentPurpose, ConsentRecord, ConsentSource, ConsentStatus, TextValue};
/// let at: DateTime<Utc> = "2026-01-05T09:00:00Z".parse()?;
/// let r = ConsentRecord::new(ConsentPurpose::Newsletter, ConsentStatus::Given, at, ConsentSource::DoubleOptIn)
///     .with_evidence(TextValue::new("confirmation link 7f3a clicked")?);
/// assert!(r.evidence.is_some());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsentRecord {
    /// What the consent is for.
    pub purpose: ConsentPurpose,
    /// Given or withdrawn.
    pub status: ConsentStatus,
    /// When.
    pub at: DateTime<Utc>,
    /// How.
    pub source: ConsentSource,
    /// Free-text evidence (form id, call notes); personal data, removed by
    /// [`Customer::erase`].
    #[serde(default)]
    pub evidence: Option<Personal<TextValue>>,
}

impl ConsentRecord {
    /// A record without evidence text.
    pub fn new(
        purpose: ConsentPurpose,
        status: ConsentStatus,
        at: DateTime<Utc>,
        source: ConsentSource,
    ) -> Self {
        Self {
            purpose,
            status,
            at,
            source,
            evidence: None,
        }
    }

    /// Adds evidence text.
    pub fn with_evidence(mut self, evidence: TextValue) -> Self {
        self.evidence = Some(Personal::new(evidence));
        self
    }
}

/// A customer: identity, names, contact points, preferences, lifecycle
/// label, segments, custom attributes and consent history.
///
/// Invariants (checked by [`CustomerBuilder::build`], every setter and
/// deserialisation):
/// - names are 1-200 characters without control characters or surrounding
///   white space; an organisation name only for [`CustomerKind::Business`];
/// - no contact value appears twice;
/// - consent records of one purpose are in non-decreasing time order
///   (the history is append-only; a late-arriving older record is an error,
///   [`ValidationError::Order`]);
/// - an erased customer holds no personal data.
///
/// Deserialisation rejects unknown fields (so a misspelt field is an error,
/// not silently dropped). The lifecycle stage is not checked against the
/// transition table on deserialisation: a stored stage is a fact.
///
/// # Example
/// ```
/// use chrono::{DateTime, Utc};
/// use crmkit::domain::*;
/// let t0: DateTime<Utc> = "2026-01-05T09:00:00Z".parse()?;
/// let mut c = Customer::builder(CustomerId::from_u128(1), CustomerKind::Individual, t0)
///     .given_name("Ada")
///     .family_name("Lovelace")
///     .contact_point(ContactPoint::new(ContactValue::Email(EmailAddress::new("ada@example.org")?), true, None))
///     .locale(Locale::new("en-GB")?)
///     .build()?;
/// c.record_consent(ConsentRecord::new(ConsentPurpose::Newsletter, ConsentStatus::Given, t0, ConsentSource::WebForm))?;
/// assert!(c.has_consent(&ConsentPurpose::Newsletter, t0));
/// c.set_lifecycle_stage(LifecycleStage::Active)?;
/// assert!(c.set_lifecycle_stage(LifecycleStage::Reactivated).is_err());
/// assert!(!format!("{c:?}").contains("Lovelace"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "CustomerRepr")]
pub struct Customer {
    id: CustomerId,
    external_id: Option<ExternalId>,
    kind: CustomerKind,
    display_name: Option<Personal<String>>,
    given_name: Option<Personal<String>>,
    family_name: Option<Personal<String>>,
    organisation_name: Option<Personal<String>>,
    contact_points: Vec<ContactPoint>,
    preferred_channel: Option<Channel>,
    locale: Option<Locale>,
    time_zone: Tz,
    lifecycle_stage: LifecycleStage,
    segments: BTreeSet<Segment>,
    tags: BTreeSet<Segment>,
    attributes: BTreeMap<AttributeKey, AttributeValue>,
    consents: Vec<ConsentRecord>,
    acquired_at: DateTime<Utc>,
    created_at: DateTime<Utc>,
    erased_at: Option<DateTime<Utc>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CustomerRepr {
    id: CustomerId,
    #[serde(default)]
    external_id: Option<ExternalId>,
    kind: CustomerKind,
    #[serde(default)]
    display_name: Option<Personal<String>>,
    #[serde(default)]
    given_name: Option<Personal<String>>,
    #[serde(default)]
    family_name: Option<Personal<String>>,
    #[serde(default)]
    organisation_name: Option<Personal<String>>,
    #[serde(default)]
    contact_points: Vec<ContactPoint>,
    #[serde(default)]
    preferred_channel: Option<Channel>,
    #[serde(default)]
    locale: Option<Locale>,
    time_zone: Tz,
    lifecycle_stage: LifecycleStage,
    #[serde(default)]
    segments: BTreeSet<Segment>,
    #[serde(default)]
    tags: BTreeSet<Segment>,
    #[serde(default)]
    attributes: BTreeMap<AttributeKey, AttributeValue>,
    #[serde(default)]
    consents: Vec<ConsentRecord>,
    acquired_at: DateTime<Utc>,
    created_at: DateTime<Utc>,
    #[serde(default)]
    erased_at: Option<DateTime<Utc>>,
}

impl TryFrom<CustomerRepr> for Customer {
    type Error = ValidationError;
    fn try_from(r: CustomerRepr) -> Result<Self, Self::Error> {
        let c = Customer {
            id: r.id,
            external_id: r.external_id,
            kind: r.kind,
            display_name: r.display_name,
            given_name: r.given_name,
            family_name: r.family_name,
            organisation_name: r.organisation_name,
            contact_points: r.contact_points,
            preferred_channel: r.preferred_channel,
            locale: r.locale,
            time_zone: r.time_zone,
            lifecycle_stage: r.lifecycle_stage,
            segments: r.segments,
            tags: r.tags,
            attributes: r.attributes,
            consents: r.consents,
            acquired_at: r.acquired_at,
            created_at: r.created_at,
            erased_at: r.erased_at,
        };
        c.validate()?;
        Ok(c)
    }
}

/// Builds a [`Customer`]; [`build`](Self::build) checks every invariant.
#[derive(Debug, Clone)]
#[must_use]
pub struct CustomerBuilder(Customer);

impl CustomerBuilder {
    /// Sets the application's own key.
    pub fn external_id(mut self, id: ExternalId) -> Self {
        self.0.external_id = Some(id);
        self
    }
    /// Sets the name to show ("Ada L.", "ACME Ltd").
    pub fn display_name(mut self, name: impl Into<String>) -> Self {
        self.0.display_name = Some(Personal::new(name.into()));
        self
    }
    /// Sets the given name.
    pub fn given_name(mut self, name: impl Into<String>) -> Self {
        self.0.given_name = Some(Personal::new(name.into()));
        self
    }
    /// Sets the family name.
    pub fn family_name(mut self, name: impl Into<String>) -> Self {
        self.0.family_name = Some(Personal::new(name.into()));
        self
    }
    /// Sets the organisation name (businesses only).
    pub fn organisation_name(mut self, name: impl Into<String>) -> Self {
        self.0.organisation_name = Some(Personal::new(name.into()));
        self
    }
    /// Adds a contact point.
    pub fn contact_point(mut self, cp: ContactPoint) -> Self {
        self.0.contact_points.push(cp);
        self
    }
    /// Sets the preferred channel.
    pub fn preferred_channel(mut self, channel: Channel) -> Self {
        self.0.preferred_channel = Some(channel);
        self
    }
    /// Sets the locale.
    pub fn locale(mut self, locale: Locale) -> Self {
        self.0.locale = Some(locale);
        self
    }
    /// Sets the time zone (default UTC).
    pub fn time_zone(mut self, tz: Tz) -> Self {
        self.0.time_zone = tz;
        self
    }
    /// Sets the initial lifecycle stage (default [`LifecycleStage::Lead`]);
    /// any stage may be the first.
    pub fn lifecycle_stage(mut self, stage: LifecycleStage) -> Self {
        self.0.lifecycle_stage = stage;
        self
    }
    /// Adds a segment.
    pub fn segment(mut self, s: Segment) -> Self {
        let _ = self.0.segments.insert(s);
        self
    }
    /// Adds a tag.
    pub fn tag(mut self, t: Segment) -> Self {
        let _ = self.0.tags.insert(t);
        self
    }
    /// Sets a custom attribute.
    pub fn attribute(mut self, key: AttributeKey, value: AttributeValue) -> Self {
        let _ = self.0.attributes.insert(key, value);
        self
    }
    /// Appends a consent record.
    pub fn consent(mut self, r: ConsentRecord) -> Self {
        self.0.consents.push(r);
        self
    }
    /// Sets when the record was created (default: the acquisition time).
    pub fn created_at(mut self, at: DateTime<Utc>) -> Self {
        self.0.created_at = at;
        self
    }
    /// Checks every invariant listed on [`Customer`].
    ///
    /// # Errors
    /// The first [`ValidationError`] found.
    pub fn build(self) -> Result<Customer, ValidationError> {
        self.0.validate()?;
        Ok(self.0)
    }
}

impl Customer {
    /// The longest name accepted, in characters.
    pub const MAX_NAME_LEN: usize = 200;

    /// Starts a customer acquired at `acquired_at`: stage Lead, time zone UTC,
    /// created at `acquired_at`, no personal data yet.
    pub fn builder(
        id: CustomerId,
        kind: CustomerKind,
        acquired_at: DateTime<Utc>,
    ) -> CustomerBuilder {
        CustomerBuilder(Customer {
            id,
            external_id: None,
            kind,
            display_name: None,
            given_name: None,
            family_name: None,
            organisation_name: None,
            contact_points: Vec::new(),
            preferred_channel: None,
            locale: None,
            time_zone: Tz::UTC,
            lifecycle_stage: LifecycleStage::Lead,
            segments: BTreeSet::new(),
            tags: BTreeSet::new(),
            attributes: BTreeMap::new(),
            consents: Vec::new(),
            acquired_at,
            created_at: acquired_at,
            erased_at: None,
        })
    }

    fn validate(&self) -> Result<(), ValidationError> {
        for (field, name) in [
            ("display_name", &self.display_name),
            ("given_name", &self.given_name),
            ("family_name", &self.family_name),
            ("organisation_name", &self.organisation_name),
        ] {
            if let Some(n) = name {
                validate_text(field, n.expose(), Self::MAX_NAME_LEN)?;
            }
        }
        if self.organisation_name.is_some() && self.kind != CustomerKind::Business {
            return Err(ValidationError::Inconsistent {
                field: "organisation_name",
                reason: format!(
                    "only business customers have one, this one is {:?}",
                    self.kind
                ),
            });
        }
        for (i, cp) in self.contact_points.iter().enumerate() {
            if self.contact_points[..i].iter().any(|o| o.value == cp.value) {
                return Err(ValidationError::Duplicate {
                    field: "contact_points",
                    value: format!("contact point #{i}"),
                });
            }
        }
        let mut latest: BTreeMap<&ConsentPurpose, DateTime<Utc>> = BTreeMap::new();
        for r in &self.consents {
            if let Some(prev) = latest.insert(&r.purpose, r.at)
                && r.at < prev
            {
                return Err(ValidationError::Order {
                    field: "consents",
                    start: prev.to_rfc3339(),
                    end: r.at.to_rfc3339(),
                });
            }
        }
        if self.erased_at.is_some() && self.has_personal_data() {
            return Err(ValidationError::Inconsistent {
                field: "erased_at",
                reason: "an erased customer still holds personal data".into(),
            });
        }
        Ok(())
    }

    fn has_personal_data(&self) -> bool {
        self.display_name.is_some()
            || self.given_name.is_some()
            || self.family_name.is_some()
            || self.organisation_name.is_some()
            || !self.contact_points.is_empty()
            || self
                .attributes
                .values()
                .any(|v| matches!(v, AttributeValue::Text(_)))
            || self.consents.iter().any(|r| r.evidence.is_some())
    }

    /// Applies `change` to a copy and keeps it only if it validates.
    fn try_change(&mut self, change: impl FnOnce(&mut Customer)) -> Result<(), ValidationError> {
        let mut next = self.clone();
        change(&mut next);
        next.validate()?;
        *self = next;
        Ok(())
    }

    /// The id.
    pub fn id(&self) -> CustomerId {
        self.id
    }
    /// The application's own key, if any. Kept after erasure so the erasure
    /// can be matched back to the application's records.
    pub fn external_id(&self) -> Option<&ExternalId> {
        self.external_id.as_ref()
    }
    /// Individual, business or internal.
    pub fn kind(&self) -> CustomerKind {
        self.kind
    }
    /// The display name.
    pub fn display_name(&self) -> Option<&Personal<String>> {
        self.display_name.as_ref()
    }
    /// The given name.
    pub fn given_name(&self) -> Option<&Personal<String>> {
        self.given_name.as_ref()
    }
    /// The family name.
    pub fn family_name(&self) -> Option<&Personal<String>> {
        self.family_name.as_ref()
    }
    /// The organisation name (businesses).
    pub fn organisation_name(&self) -> Option<&Personal<String>> {
        self.organisation_name.as_ref()
    }
    /// The contact points, in the order added.
    pub fn contact_points(&self) -> &[ContactPoint] {
        &self.contact_points
    }
    /// The preferred channel.
    pub fn preferred_channel(&self) -> Option<Channel> {
        self.preferred_channel
    }
    /// The locale.
    pub fn locale(&self) -> Option<&Locale> {
        self.locale.as_ref()
    }
    /// The time zone.
    pub fn time_zone(&self) -> Tz {
        self.time_zone
    }
    /// The lifecycle label.
    pub fn lifecycle_stage(&self) -> LifecycleStage {
        self.lifecycle_stage
    }
    /// The segments.
    pub fn segments(&self) -> &BTreeSet<Segment> {
        &self.segments
    }
    /// The tags.
    pub fn tags(&self) -> &BTreeSet<Segment> {
        &self.tags
    }
    /// The custom attributes.
    pub fn attributes(&self) -> &BTreeMap<AttributeKey, AttributeValue> {
        &self.attributes
    }
    /// The consent history, in the order recorded.
    pub fn consents(&self) -> &[ConsentRecord] {
        &self.consents
    }
    /// When the customer was acquired.
    pub fn acquired_at(&self) -> DateTime<Utc> {
        self.acquired_at
    }
    /// When the record was created.
    pub fn created_at(&self) -> DateTime<Utc> {
        self.created_at
    }
    /// When personal data was erased, if it was.
    pub fn erased_at(&self) -> Option<DateTime<Utc>> {
        self.erased_at
    }
    /// Whether personal data was erased.
    pub fn is_erased(&self) -> bool {
        self.erased_at.is_some()
    }

    /// Moves to another lifecycle stage if the table on [`LifecycleStage`]
    /// allows it.
    ///
    /// # Errors
    /// [`ValidationError::Transition`] (field `lifecycle_stage`).
    pub fn set_lifecycle_stage(&mut self, to: LifecycleStage) -> Result<(), ValidationError> {
        if !self.lifecycle_stage.can_transition_to(to) {
            return Err(ValidationError::Transition {
                field: "lifecycle_stage",
                from: format!("{:?}", self.lifecycle_stage),
                to: format!("{to:?}"),
            });
        }
        self.lifecycle_stage = to;
        Ok(())
    }

    /// Sets or clears the display name.
    ///
    /// # Errors
    /// The name rules, or [`ValidationError::Inconsistent`] after erasure.
    pub fn set_display_name(&mut self, name: Option<String>) -> Result<(), ValidationError> {
        self.try_change(|c| c.display_name = name.map(Personal::new))
    }

    /// Sets or clears given and family name.
    ///
    /// # Errors
    /// The name rules, or [`ValidationError::Inconsistent`] after erasure.
    pub fn set_person_name(
        &mut self,
        given: Option<String>,
        family: Option<String>,
    ) -> Result<(), ValidationError> {
        self.try_change(|c| {
            c.given_name = given.map(Personal::new);
            c.family_name = family.map(Personal::new);
        })
    }

    /// Sets or clears the organisation name.
    ///
    /// # Errors
    /// The name rules, [`ValidationError::Inconsistent`] for a customer that
    /// is not a business or is erased.
    pub fn set_organisation_name(&mut self, name: Option<String>) -> Result<(), ValidationError> {
        self.try_change(|c| c.organisation_name = name.map(Personal::new))
    }

    /// Adds a contact point.
    ///
    /// # Errors
    /// [`ValidationError::Duplicate`] if the value is already there,
    /// [`ValidationError::Inconsistent`] after erasure.
    pub fn add_contact_point(&mut self, cp: ContactPoint) -> Result<(), ValidationError> {
        self.try_change(|c| c.contact_points.push(cp))
    }

    /// Removes the contact point with this value; returns whether one was there.
    pub fn remove_contact_point(&mut self, value: &ContactValue) -> bool {
        let before = self.contact_points.len();
        self.contact_points.retain(|cp| cp.value.expose() != value);
        before != self.contact_points.len()
    }

    /// Sets or clears the preferred channel.
    pub fn set_preferred_channel(&mut self, channel: Option<Channel>) {
        self.preferred_channel = channel;
    }
    /// Sets or clears the locale.
    pub fn set_locale(&mut self, locale: Option<Locale>) {
        self.locale = locale;
    }
    /// Sets the time zone.
    pub fn set_time_zone(&mut self, tz: Tz) {
        self.time_zone = tz;
    }
    /// Adds a segment; returns whether it was new.
    pub fn add_segment(&mut self, s: Segment) -> bool {
        self.segments.insert(s)
    }
    /// Removes a segment; returns whether it was there.
    pub fn remove_segment(&mut self, s: &Segment) -> bool {
        self.segments.remove(s)
    }
    /// Adds a tag; returns whether it was new.
    pub fn add_tag(&mut self, t: Segment) -> bool {
        self.tags.insert(t)
    }
    /// Removes a tag; returns whether it was there.
    pub fn remove_tag(&mut self, t: &Segment) -> bool {
        self.tags.remove(t)
    }

    /// Sets a custom attribute.
    ///
    /// # Errors
    /// [`ValidationError::Inconsistent`] for a text value after erasure.
    pub fn set_attribute(
        &mut self,
        key: AttributeKey,
        value: AttributeValue,
    ) -> Result<(), ValidationError> {
        self.try_change(|c| {
            let _ = c.attributes.insert(key, value);
        })
    }

    /// Removes a custom attribute, returning its value.
    pub fn remove_attribute(&mut self, key: &AttributeKey) -> Option<AttributeValue> {
        self.attributes.remove(key)
    }

    /// Appends a consent decision to the history.
    ///
    /// # Errors
    /// [`ValidationError::Order`] if it is older than the latest record for
    /// the same purpose, [`ValidationError::Inconsistent`] for evidence text
    /// after erasure.
    pub fn record_consent(&mut self, record: ConsentRecord) -> Result<(), ValidationError> {
        self.try_change(|c| c.consents.push(record))
    }

    /// The consent status for `purpose` as of `at`: the latest record at or
    /// before `at` (the last recorded one on a tie), or `None` if nothing
    /// was recorded by then.
    pub fn consent_status(
        &self,
        purpose: &ConsentPurpose,
        at: DateTime<Utc>,
    ) -> Option<ConsentStatus> {
        self.consents
            .iter()
            .rev()
            .find(|r| &r.purpose == purpose && r.at <= at)
            .map(|r| r.status)
    }

    /// Whether consent for `purpose` was in force at `at` (given and not
    /// withdrawn since).
    pub fn has_consent(&self, purpose: &ConsentPurpose, at: DateTime<Utc>) -> bool {
        self.consent_status(purpose, at) == Some(ConsentStatus::Given)
    }

    /// Erases personal data: names, contact points, text attributes and
    /// consent evidence are removed. Kept: id, external id, kind, locale,
    /// time zone, preferred channel, lifecycle stage, segments, tags,
    /// non-text attributes, consent decisions with their times and sources
    /// (the proof), acquisition and creation times. Erasing twice keeps the
    /// first erasure time.
    ///
    /// # Example
    /// ```
    /// use chrono::{DateTime, Utc};
    /// use crmkit::domain::*;
    /// let t0: DateTime<Utc> = "2026-01-05T09:00:00Z".parse()?;
    /// let mut c = Customer::builder(CustomerId::from_u128(1), CustomerKind::Individual, t0)
    ///     .display_name("Ada Lovelace")
    ///     .build()?;
    /// c.erase(t0);
    /// assert!(c.is_erased() && c.display_name().is_none());
    /// assert!(!serde_json::to_string(&c)?.contains("Ada"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn erase(&mut self, at: DateTime<Utc>) {
        self.display_name = None;
        self.given_name = None;
        self.family_name = None;
        self.organisation_name = None;
        self.contact_points.clear();
        self.attributes
            .retain(|_, v| !matches!(v, AttributeValue::Text(_)));
        for r in &mut self.consents {
            r.evidence = None;
        }
        self.erased_at = Some(self.erased_at.unwrap_or(at));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(day: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, day, 12, 0, 0).unwrap()
    }

    fn email(s: &str) -> ContactPoint {
        ContactPoint::new(
            ContactValue::Email(EmailAddress::new(s).unwrap()),
            false,
            None,
        )
    }

    fn consent(p: ConsentPurpose, s: ConsentStatus, day: u32) -> ConsentRecord {
        ConsentRecord::new(p, s, t(day), ConsentSource::WebForm)
    }

    fn base() -> CustomerBuilder {
        Customer::builder(CustomerId::from_u128(7), CustomerKind::Individual, t(1))
    }

    #[test]
    fn email_rules() {
        for bad in [
            "",
            "plain",
            "a@b@example.org",
            "@example.org",
            "ada@localhost",
            "ada@-x.org",
            "ada@x-.org",
            "ada@x..org",
            "ada@.org",
            "ada@example.org.",
            "a da@example.org",
            "ada@exa_mple.org",
            "ädä@example.org",
        ] {
            assert!(EmailAddress::new(bad).is_err(), "{bad:?} accepted");
        }
        // 65-character local part is one too many; 64 is fine.
        assert!(EmailAddress::new(format!("{}@x.org", "a".repeat(65))).is_err());
        assert!(EmailAddress::new(format!("{}@x.org", "a".repeat(64))).is_ok());
        // 64-char label is too long.
        assert!(EmailAddress::new(format!("a@{}.org", "b".repeat(64))).is_err());
        // Total length: 1 + 1 + 4 * 63 + 3 dots... build 255 > 254.
        let long = format!(
            "a@{}.{}.{}.{}",
            "b".repeat(63),
            "c".repeat(63),
            "d".repeat(63),
            "e".repeat(61)
        );
        assert_eq!(long.len(), 2 + 63 * 3 + 61 + 3); // 255
        assert!(matches!(
            EmailAddress::new(long),
            Err(ValidationError::TooLong { max: 254, .. })
        ));
        assert_eq!(
            EmailAddress::new("Ada.L@Example.ORG").unwrap().as_str(),
            "Ada.L@example.org"
        );
        assert_eq!(EmailAddress::new("x").unwrap_err().field(), "email");
    }

    #[test]
    fn phone_rules() {
        for bad in [
            "",
            "4412345678",
            "+0123456789",
            "+1234567",
            "+1234567890123456",
            "+44 20 7183",
            "+44a2345678",
        ] {
            assert!(PhoneNumber::new(bad).is_err(), "{bad:?} accepted");
        }
        assert!(PhoneNumber::new("+12345678").is_ok()); // 8 digits
        assert!(PhoneNumber::new("+123456789012345").is_ok()); // 15 digits
    }

    #[test]
    fn locale_country_key_rules() {
        assert_eq!(Locale::new("EN-gb").unwrap().as_str(), "en-GB");
        for bad in ["", "english!", "en--GB", "e"] {
            assert!(Locale::new(bad).is_err(), "{bad:?} accepted");
        }
        for bad in ["de", "DEU", "D1", "", "É1"] {
            assert!(CountryCode::new(bad).is_err(), "{bad:?} accepted");
        }
        for bad in ["", "1a", "A", "a-b", "a b", &"a".repeat(65)] {
            assert!(AttributeKey::new(bad).is_err(), "{bad:?} accepted");
        }
        assert!(AttributeKey::new("a".repeat(64)).is_ok());
        assert!(serde_json::from_str::<Locale>("\"xx yy\"").is_err());
    }

    #[test]
    fn address_and_text_rules() {
        let us = CountryCode::new("US").unwrap();
        assert!(PostalAddress::new(vec!["a".into(); 5], "c", None, us.clone()).is_err());
        assert!(PostalAddress::new(vec![" a".into()], "c", None, us.clone()).is_err());
        assert!(PostalAddress::new(vec!["a".into()], "c", Some("".into()), us).is_err());
        assert!(TextValue::new("a\u{7}b").is_err());
        assert!(TextValue::new("line one\nline two").is_ok());
        assert!(TextValue::new("x".repeat(2001)).is_err());
        assert!(SocialHandle::new(Segment::new("x").unwrap(), "").is_err());
    }

    #[test]
    fn lifecycle_transitions() {
        use LifecycleStage::*;
        let mut c = base().build().unwrap();
        c.set_lifecycle_stage(Active).unwrap();
        let err = c.set_lifecycle_stage(Lead).unwrap_err();
        assert_eq!(
            err,
            ValidationError::Transition {
                field: "lifecycle_stage",
                from: "Active".into(),
                to: "Lead".into()
            }
        );
        c.set_lifecycle_stage(Churned).unwrap();
        assert!(c.set_lifecycle_stage(Active).is_err());
        c.set_lifecycle_stage(Reactivated).unwrap();
        c.set_lifecycle_stage(Active).unwrap();
        // Count of allowed ordered pairs from the table: 3+3+3+3+2+4 = 18.
        let allowed = LifecycleStage::ALL
            .iter()
            .flat_map(|a| {
                LifecycleStage::ALL
                    .iter()
                    .map(move |b| a.can_transition_to(*b))
            })
            .filter(|x| *x)
            .count();
        assert_eq!(allowed, 18);
    }

    #[test]
    fn invariants_rejected() {
        assert!(matches!(
            base()
                .contact_point(email("a@x.org"))
                .contact_point(email("a@X.org"))
                .build(),
            Err(ValidationError::Duplicate { .. })
        ));
        assert!(matches!(
            base().organisation_name("ACME").build(),
            Err(ValidationError::Inconsistent { .. })
        ));
        assert!(
            Customer::builder(CustomerId::from_u128(1), CustomerKind::Business, t(1))
                .organisation_name("ACME")
                .build()
                .is_ok()
        );
        assert!(matches!(
            base().given_name(" Ada").build(),
            Err(ValidationError::Format { .. })
        ));
        assert!(matches!(
            base().family_name("").build(),
            Err(ValidationError::Empty { .. })
        ));
        let err = base()
            .consent(consent(ConsentPurpose::Sms, ConsentStatus::Given, 5))
            .consent(consent(ConsentPurpose::Newsletter, ConsentStatus::Given, 2)) // other purpose: fine
            .consent(consent(ConsentPurpose::Sms, ConsentStatus::Withdrawn, 4))
            .build()
            .unwrap_err();
        assert_eq!(
            err,
            ValidationError::Order {
                field: "consents",
                start: t(5).to_rfc3339(),
                end: t(4).to_rfc3339()
            }
        );
        let mut c = base().build().unwrap();
        c.record_consent(consent(ConsentPurpose::Sms, ConsentStatus::Given, 5))
            .unwrap();
        assert!(
            c.record_consent(consent(ConsentPurpose::Sms, ConsentStatus::Given, 4))
                .is_err()
        );
        assert_eq!(
            c.consents().len(),
            1,
            "a rejected change leaves the customer unchanged"
        );
    }

    #[test]
    fn consent_as_of() {
        use ConsentStatus::*;
        let p = ConsentPurpose::MarketingEmail;
        let c = base()
            .consent(consent(p.clone(), Given, 3))
            .consent(consent(p.clone(), Withdrawn, 10))
            .consent(consent(p.clone(), Given, 20))
            .build()
            .unwrap();
        assert!(!c.has_consent(&p, t(2))); // nothing yet
        assert!(c.has_consent(&p, t(3))); // given at 3, inclusive
        assert!(c.has_consent(&p, t(9)));
        assert!(!c.has_consent(&p, t(10))); // withdrawn at 10
        assert!(c.has_consent(&p, t(25)));
        assert!(!c.has_consent(&ConsentPurpose::Sms, t(25)));
        assert_eq!(c.consent_status(&p, t(12)), Some(Withdrawn));
    }

    #[test]
    fn json_rejects_invalid_and_unknown() {
        let c = base().contact_point(email("a@x.org")).build().unwrap();
        let mut v = serde_json::to_value(&c).unwrap();
        assert_eq!(serde_json::from_value::<Customer>(v.clone()).unwrap(), c);
        v["nickname"] = "x".into();
        assert!(
            serde_json::from_value::<Customer>(v.clone()).is_err(),
            "unknown fields are rejected"
        );
        let mut v = serde_json::to_value(&c).unwrap();
        v["contact_points"][0]["value"]["value"] = "not-an-email".into();
        assert!(serde_json::from_value::<Customer>(v).is_err());
        let mut v = serde_json::to_value(&c).unwrap();
        v["erased_at"] = serde_json::to_value(t(2)).unwrap();
        assert!(
            serde_json::from_value::<Customer>(v).is_err(),
            "erased but has an e-mail"
        );
    }

    const SECRETS: [&str; 10] = [
        "Zebedee",
        "Quixotic",
        "Xylophone Ltd",
        "zq-secret@example.org",
        "+447700900123",
        "42 Wallaby Way",
        "Sydneyville",
        "@hidden_handle",
        "SecretNotes",
        "EvidenceZeta",
    ];

    fn loaded() -> Customer {
        let au = CountryCode::new("AU").unwrap();
        let contacts = [
            ContactValue::Email(EmailAddress::new(SECRETS[3]).unwrap()),
            ContactValue::Phone(PhoneNumber::new(SECRETS[4]).unwrap()),
            ContactValue::Postal(
                PostalAddress::new(vec![SECRETS[5].into()], SECRETS[6], None, au).unwrap(),
            ),
            ContactValue::Social(
                SocialHandle::new(Segment::new("x").unwrap(), SECRETS[7]).unwrap(),
            ),
        ];
        let mut b = Customer::builder(CustomerId::from_u128(9), CustomerKind::Business, t(1))
            .given_name(SECRETS[0])
            .family_name(SECRETS[1])
            .organisation_name(SECRETS[2])
            .display_name(format!("{} {}", SECRETS[0], SECRETS[1]))
            .attribute(
                AttributeKey::new("notes").unwrap(),
                AttributeValue::Text(Personal::new(TextValue::new(SECRETS[8]).unwrap())),
            )
            .attribute(
                AttributeKey::new("seats").unwrap(),
                AttributeValue::Number(Decimal::from(12)),
            )
            .segment(Segment::new("enterprise").unwrap())
            .consent(
                consent(ConsentPurpose::Newsletter, ConsentStatus::Given, 2)
                    .with_evidence(TextValue::new(SECRETS[9]).unwrap()),
            );
        for v in contacts {
            b = b.contact_point(ContactPoint::new(v, true, None));
        }
        b.build().unwrap()
    }

    #[test]
    fn debug_never_shows_personal_data() {
        let c = loaded();
        let debug = format!("{c:?}");
        let json = serde_json::to_string(&c).unwrap();
        for s in SECRETS {
            assert!(!debug.contains(s), "{s} in Debug");
            assert!(json.contains(s), "{s} missing from JSON before erasure");
        }
    }

    #[test]
    fn erase_removes_personal_data_keeps_facts() {
        let mut c = loaded();
        c.erase(t(15));
        let debug = format!("{c:?}");
        let json = serde_json::to_string(&c).unwrap();
        for s in SECRETS {
            assert!(
                !debug.contains(s) && !json.contains(s),
                "{s} survived erasure"
            );
        }
        assert_eq!(c.erased_at(), Some(t(15)));
        assert!(c.has_consent(&ConsentPurpose::Newsletter, t(3)));
        assert_eq!(c.consents()[0].source, ConsentSource::WebForm);
        assert_eq!(c.segments().len(), 1);
        assert_eq!(c.attributes().len(), 1); // the number stays
        assert_eq!(serde_json::from_str::<Customer>(&json).unwrap(), c);
        assert!(c.add_contact_point(email("b@x.org")).is_err());
        c.erase(t(20));
        assert_eq!(c.erased_at(), Some(t(15)));
    }
}

#[cfg(any(test, feature = "proptest"))]
pub(crate) mod strategies {
    use super::*;
    use crate::domain::strategy::{channel, customer_id, external_id, instant, segment, time_zone};
    use proptest::prelude::*;

    /// A valid e-mail address.
    pub fn email_address() -> impl Strategy<Value = EmailAddress> {
        "[A-Za-z0-9._%+-]{1,20}@[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?\\.[A-Za-z]{2,6}"
            .prop_filter_map("valid e-mail", |s| EmailAddress::new(s).ok())
    }

    /// A valid E.164 phone number.
    pub fn phone_number() -> impl Strategy<Value = PhoneNumber> {
        "\\+[1-9][0-9]{7,14}".prop_filter_map("valid phone", |s| PhoneNumber::new(s).ok())
    }

    /// A shape-valid country code.
    pub fn country_code() -> impl Strategy<Value = CountryCode> {
        "[A-Z]{2}".prop_filter_map("valid country", |s| CountryCode::new(s).ok())
    }

    fn short_text() -> impl Strategy<Value = String> {
        "[A-Za-z0-9][A-Za-z0-9 ,.'-]{0,20}[A-Za-z0-9]"
    }

    /// A valid postal address.
    pub fn postal_address() -> impl Strategy<Value = PostalAddress> {
        (
            prop::collection::vec(short_text(), 1..=4),
            short_text(),
            prop::option::of("[0-9A-Z]{3,8}"),
            country_code(),
        )
            .prop_filter_map("valid address", |(l, c, p, k)| {
                PostalAddress::new(l, c, p, k).ok()
            })
    }

    /// A valid social handle.
    pub fn social_handle() -> impl Strategy<Value = SocialHandle> {
        (segment(), "@?[a-z0-9_.]{1,20}")
            .prop_filter_map("valid handle", |(p, h)| SocialHandle::new(p, h).ok())
    }

    /// Any contact value.
    pub fn contact_value() -> impl Strategy<Value = ContactValue> {
        prop_oneof![
            email_address().prop_map(ContactValue::Email),
            phone_number().prop_map(ContactValue::Phone),
            postal_address().prop_map(ContactValue::Postal),
            social_handle().prop_map(ContactValue::Social),
        ]
    }

    /// Any contact point.
    pub fn contact_point() -> impl Strategy<Value = ContactPoint> {
        (contact_value(), any::<bool>(), prop::option::of(segment()))
            .prop_map(|(v, ok, l)| ContactPoint::new(v, ok, l))
    }

    /// A valid locale from a realistic set.
    pub fn locale() -> impl Strategy<Value = Locale> {
        "(en|de|fr|pt|ja|zh)(-(GB|US|DE|BR|CH))?"
            .prop_filter_map("valid locale", |s| Locale::new(s).ok())
    }

    /// Any lifecycle stage.
    pub fn lifecycle_stage() -> impl Strategy<Value = LifecycleStage> {
        prop::sample::select(LifecycleStage::ALL.to_vec())
    }

    /// Any customer kind.
    pub fn customer_kind() -> impl Strategy<Value = CustomerKind> {
        prop::sample::select(vec![
            CustomerKind::Individual,
            CustomerKind::Business,
            CustomerKind::Internal,
        ])
    }

    /// A valid free text.
    pub fn text_value() -> impl Strategy<Value = TextValue> {
        "[A-Za-z0-9 .,\n]{0,30}[A-Za-z]".prop_filter_map("valid text", |s| TextValue::new(s).ok())
    }

    /// A valid attribute key.
    pub fn attribute_key() -> impl Strategy<Value = AttributeKey> {
        "[a-z][a-z0-9_]{0,12}".prop_filter_map("valid key", |s| AttributeKey::new(s).ok())
    }

    /// Any attribute value.
    pub fn attribute_value() -> impl Strategy<Value = AttributeValue> {
        prop_oneof![
            text_value().prop_map(|t| AttributeValue::Text(Personal::new(t))),
            (any::<i64>(), 0u32..6).prop_map(|(m, s)| AttributeValue::Number(Decimal::new(m, s))),
            any::<bool>().prop_map(AttributeValue::Bool),
            (-100_000i64..100_000).prop_filter_map("valid date", |d| {
                NaiveDate::from_num_days_from_ce_opt(730_000 + d as i32).map(AttributeValue::Date)
            }),
        ]
    }

    /// Any consent purpose.
    pub fn consent_purpose() -> impl Strategy<Value = ConsentPurpose> {
        use ConsentPurpose::*;
        prop_oneof![
            prop::sample::select(vec![
                MarketingEmail,
                Newsletter,
                Sms,
                PhoneCalls,
                Surveys,
                ServiceMessages,
                Profiling
            ]),
            segment().prop_map(Custom),
        ]
    }

    /// Any consent record.
    pub fn consent_record() -> impl Strategy<Value = ConsentRecord> {
        use ConsentSource::*;
        (
            consent_purpose(),
            prop::sample::select(vec![ConsentStatus::Given, ConsentStatus::Withdrawn]),
            instant(),
            prop::sample::select(vec![
                WebForm,
                DoubleOptIn,
                Verbal,
                Paper,
                Unsubscribe,
                Api,
                Imported,
            ]),
            prop::option::of(text_value()),
        )
            .prop_map(|(p, s, at, src, ev)| ConsentRecord {
                evidence: ev.map(Personal::new),
                ..ConsentRecord::new(p, s, at, src)
            })
    }

    fn name() -> impl Strategy<Value = Option<String>> {
        prop::option::of(short_text())
    }

    /// A valid customer (never erased; erase one to get an erased customer).
    pub fn customer() -> impl Strategy<Value = Customer> {
        let who = (
            customer_id(),
            prop::option::of(external_id()),
            customer_kind(),
            name(),
            name(),
            name(),
            name(),
        );
        let contact = (
            prop::collection::vec(contact_point(), 0..4),
            prop::option::of(channel()),
            prop::option::of(locale()),
            time_zone(),
            lifecycle_stage(),
        );
        let labels = (
            prop::collection::btree_set(segment(), 0..3),
            prop::collection::btree_set(segment(), 0..3),
            prop::collection::btree_map(attribute_key(), attribute_value(), 0..4),
            prop::collection::vec(consent_record(), 0..6),
            instant(),
            instant(),
        );
        (who, contact, labels).prop_map(
            |(
                (id, ext, kind, dn, gn, fam, org),
                (mut cps, ch, loc, tz, st),
                (seg, tags, attrs, mut cons, acq, cre),
            )| {
                let mut seen = Vec::new();
                cps.retain(|cp| {
                    let new = !seen.contains(&cp.value);
                    seen.push(cp.value.clone());
                    new
                });
                cons.sort_by_key(|r| r.at);
                Customer {
                    id,
                    external_id: ext,
                    kind,
                    display_name: dn.map(Personal::new),
                    given_name: gn.map(Personal::new),
                    family_name: fam.map(Personal::new),
                    organisation_name: org
                        .filter(|_| kind == CustomerKind::Business)
                        .map(Personal::new),
                    contact_points: cps,
                    preferred_channel: ch,
                    locale: loc,
                    time_zone: tz,
                    lifecycle_stage: st,
                    segments: seg,
                    tags,
                    attributes: attrs,
                    consents: cons,
                    acquired_at: acq,
                    created_at: cre,
                    erased_at: None,
                }
            },
        )
    }

    #[cfg(test)]
    mod props {
        use super::*;
        use serde_json::Value;

        fn json() -> impl Strategy<Value = Value> {
            let leaf = prop_oneof![
                Just(Value::Null),
                any::<bool>().prop_map(Value::from),
                any::<i64>().prop_map(Value::from),
                any::<f64>().prop_map(Value::from),
                ".{0,12}".prop_map(Value::from),
                Just(Value::from("a@b.co")),
                Just(Value::from("+12345678")),
                Just(Value::from("2026-01-01T00:00:00Z")),
            ];
            leaf.prop_recursive(3, 24, 5, |inner| {
                prop_oneof![
                    prop::collection::vec(inner.clone(), 0..5).prop_map(Value::from),
                    prop::collection::btree_map(
                        prop::sample::select(vec![
                            "id",
                            "kind",
                            "time_zone",
                            "lifecycle_stage",
                            "acquired_at",
                            "created_at",
                            "contact_points",
                            "consents",
                            "value",
                            "type",
                            "attributes",
                            "x",
                        ])
                        .prop_map(String::from),
                        inner,
                        0..6
                    )
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
                ]
            })
        }

        fn revalidates(s: &str) {
            if let Ok(c) = serde_json::from_str::<Customer>(s) {
                assert!(c.validate().is_ok());
                let again = serde_json::to_string(&c).unwrap();
                assert_eq!(serde_json::from_str::<Customer>(&again).unwrap(), c);
            }
        }

        proptest! {
            #[test]
            fn generated_customers_are_valid_and_round_trip(c in customer()) {
                prop_assert!(c.validate().is_ok());
                let s = serde_json::to_string(&c).unwrap();
                prop_assert_eq!(serde_json::from_str::<Customer>(&s).unwrap(), c);
            }

            #[test]
            fn arbitrary_strings_never_panic(s in any::<String>()) {
                revalidates(&s);
            }

            #[test]
            fn arbitrary_json_never_panics(v in json()) {
                revalidates(&v.to_string());
            }

            #[test]
            fn mutated_customer_json_never_panics(c in customer(), field in 0usize..19, v in json()) {
                let mut obj = serde_json::to_value(&c).unwrap();
                if let Some(map) = obj.as_object_mut() {
                    let key = map.keys().nth(field).cloned().unwrap();
                    let _ = map.insert(key, v);
                }
                revalidates(&obj.to_string());
            }

            #[test]
            fn erase_leaves_no_personal_data(mut c in customer(), at in instant()) {
                let before = c.contact_points().to_vec();
                c.erase(at);
                prop_assert!(c.validate().is_ok());
                prop_assert!(!c.has_personal_data());
                let s = serde_json::to_string(&c).unwrap();
                for cp in &before {
                    let secret = match cp.value.expose() {
                        ContactValue::Email(e) => e.as_str().to_owned(),
                        ContactValue::Phone(p) => p.as_str().to_owned(),
                        ContactValue::Postal(a) => a.city().to_owned(),
                        ContactValue::Social(h) => h.handle().to_owned(),
                    };
                    prop_assert!(!s.contains(&secret) || secret.len() < 6);
                }
                prop_assert_eq!(serde_json::from_str::<Customer>(&s).unwrap(), c);
            }

            #[test]
            fn consent_status_matches_last_record(c in customer(), at in instant()) {
                for p in c.consents().iter().map(|r| r.purpose.clone()) {
                    let last = c.consents().iter().filter(|r| r.purpose == p && r.at <= at).fold(None, |_, r| Some(r));
                    prop_assert_eq!(c.has_consent(&p, at), last.is_some_and(|r| r.status == ConsentStatus::Given));
                }
            }
        }
    }
}
