//! Surveys, their answer scales, invitations and responses.
//!
//! A [`Survey`] (a mutable aggregate) asks one scored question on a [`Scale`];
//! a [`SurveyInvitation`] records that a customer was asked (the base of
//! response rates); a [`SurveyResponse`] is the immutable fact of an answer,
//! with a [`Score`] checked against the survey's scale and the context that
//! was true when the customer answered (segments, agent, team, channel).

use std::collections::BTreeSet;
use std::fmt;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::domain::id::validate_text;
use crate::domain::{
    AgentId, CaseId, Channel, CustomerId, ExternalId, InteractionId, InvitationId, Personal,
    PurchaseId, ResponseId, Segment, SurveyId, TeamId,
};
use crate::error::ValidationError;

/// An inclusive range `min..=max` of allowed integer scores.
///
/// Rules: `min < max`, and both bounds within [`Scale::LIMIT_MIN`]`..=`[`Scale::LIMIT_MAX`]
/// (-100..=100), so every score fits an `i16` and a scale has at most 201 points.
///
/// # Example
/// ```
/// use crmkit::domain::Scale;
/// let nps = Scale::nps();
/// assert_eq!((nps.min(), nps.max()), (0, 10));
/// assert_eq!(nps.score(9)?.get(), 9);
/// assert!(nps.score(11).is_err());
/// assert!(Scale::custom(5, 5).is_err());
/// assert_eq!(nps.to_string(), "0..=10");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "ScaleRepr")]
pub struct Scale {
    min: i16,
    max: i16,
}

#[derive(Deserialize)]
struct ScaleRepr {
    min: i32,
    max: i32,
}

impl TryFrom<ScaleRepr> for Scale {
    type Error = ValidationError;
    fn try_from(r: ScaleRepr) -> Result<Self, Self::Error> {
        Scale::custom(r.min, r.max)
    }
}

impl Scale {
    /// The lowest bound a scale may have.
    pub const LIMIT_MIN: i32 = -100;
    /// The highest bound a scale may have.
    pub const LIMIT_MAX: i32 = 100;

    /// The Net Promoter scale, 0-10.
    pub const fn nps() -> Self {
        Self { min: 0, max: 10 }
    }

    /// A three-point satisfaction scale, 1-3.
    pub const fn csat3() -> Self {
        Self { min: 1, max: 3 }
    }

    /// A five-point satisfaction scale, 1-5.
    pub const fn csat5() -> Self {
        Self { min: 1, max: 5 }
    }

    /// A seven-point satisfaction scale, 1-7.
    pub const fn csat7() -> Self {
        Self { min: 1, max: 7 }
    }

    /// A ten-point satisfaction scale, 1-10.
    pub const fn csat10() -> Self {
        Self { min: 1, max: 10 }
    }

    /// The Customer Effort Score agreement scale, 1-7.
    pub const fn ces() -> Self {
        Self { min: 1, max: 7 }
    }

    /// Any scale `min..=max`.
    ///
    /// # Errors
    /// [`ValidationError::OutOfRange`] (field `scale`) when a bound is outside
    /// -100..=100; [`ValidationError::Order`] (field `scale`) when `min >= max`.
    pub fn custom(min: i32, max: i32) -> Result<Self, ValidationError> {
        for bound in [min, max] {
            if !(Self::LIMIT_MIN..=Self::LIMIT_MAX).contains(&bound) {
                return Err(ValidationError::OutOfRange {
                    field: "scale",
                    value: bound.to_string(),
                    range: format!("{}..={}", Self::LIMIT_MIN, Self::LIMIT_MAX),
                });
            }
        }
        if min >= max {
            return Err(ValidationError::Order {
                field: "scale",
                start: min.to_string(),
                end: max.to_string(),
            });
        }
        // Both bounds are within -100..=100, so they fit an i16.
        match (i16::try_from(min), i16::try_from(max)) {
            (Ok(min), Ok(max)) => Ok(Self { min, max }),
            _ => Err(ValidationError::OutOfRange {
                field: "scale",
                value: format!("{min}..={max}"),
                range: format!("{}..={}", Self::LIMIT_MIN, Self::LIMIT_MAX),
            }),
        }
    }

    /// The lowest allowed score.
    pub const fn min(self) -> i32 {
        self.min as i32
    }

    /// The highest allowed score.
    pub const fn max(self) -> i32 {
        self.max as i32
    }

    /// The number of points on the scale (`max - min + 1`, 2..=201).
    pub const fn points(self) -> u16 {
        (self.max - self.min) as u16 + 1
    }

    /// Whether `value` is an allowed score.
    pub const fn contains(self, value: i32) -> bool {
        value >= self.min as i32 && value <= self.max as i32
    }

    /// Validates a score on this scale.
    ///
    /// # Errors
    /// [`ValidationError::OutOfRange`] with field `score`, the value and the
    /// scale as range (`0..=10`).
    pub fn score(self, value: i32) -> Result<Score, ValidationError> {
        match i16::try_from(value) {
            Ok(v) if self.contains(value) => Ok(Score(v)),
            _ => Err(ValidationError::OutOfRange {
                field: "score",
                value: value.to_string(),
                range: self.to_string(),
            }),
        }
    }
}

impl fmt::Display for Scale {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}..={}", self.min, self.max)
    }
}

/// A score that was valid on the scale it was given for.
///
/// A small `Copy` value (an `i16`), cheap enough for metrics over millions of
/// responses. A score does not carry its scale; the [`SurveyResponse`]
/// holding it does. It serialises as a plain integer; it is read back only as
/// part of a response, which checks it against the response's scale.
///
/// # Example
/// ```
/// use crmkit::domain::Scale;
/// let s = Scale::csat5().score(4)?;
/// assert_eq!(s.get(), 4);
/// assert_eq!(i32::from(s), 4);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Score(i16);

impl Score {
    /// The score as a number.
    pub const fn get(self) -> i16 {
        self.0
    }
}

impl From<Score> for i32 {
    fn from(s: Score) -> Self {
        i32::from(s.0)
    }
}

impl From<Score> for f64 {
    fn from(s: Score) -> Self {
        f64::from(s.0)
    }
}

impl fmt::Display for Score {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// What a survey measures; it constrains the survey's [`Scale`].
///
/// - [`SurveyKind::Nps`]: always 0-10.
/// - [`SurveyKind::Ces`]: always 1-7.
/// - [`SurveyKind::Csat`] and [`SurveyKind::Custom`]: any valid scale
///   (CSAT is usually 1-3, 1-5, 1-7 or 1-10).
///
/// # Example
/// ```
/// use crmkit::domain::{Scale, SurveyKind};
/// assert!(SurveyKind::Nps.check_scale(Scale::nps()).is_ok());
/// assert!(SurveyKind::Nps.check_scale(Scale::csat5()).is_err());
/// assert_eq!(SurveyKind::Csat.default_scale(), Some(Scale::csat5()));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SurveyKind {
    /// Net Promoter Score ("How likely are you to recommend ...?"), 0-10.
    Nps,
    /// Customer satisfaction.
    Csat,
    /// Customer Effort Score, 1-7 agreement.
    Ces,
    /// Any other scored question.
    Custom,
}

impl SurveyKind {
    /// Every kind, in declaration order.
    pub const ALL: [SurveyKind; 4] = [
        SurveyKind::Nps,
        SurveyKind::Csat,
        SurveyKind::Ces,
        SurveyKind::Custom,
    ];

    /// The kind's name as used in serde (`nps`).
    pub const fn as_str(self) -> &'static str {
        match self {
            SurveyKind::Nps => "nps",
            SurveyKind::Csat => "csat",
            SurveyKind::Ces => "ces",
            SurveyKind::Custom => "custom",
        }
    }

    /// The usual scale: 0-10 for NPS, 1-5 for CSAT, 1-7 for CES, none for custom.
    pub const fn default_scale(self) -> Option<Scale> {
        match self {
            SurveyKind::Nps => Some(Scale::nps()),
            SurveyKind::Csat => Some(Scale::csat5()),
            SurveyKind::Ces => Some(Scale::ces()),
            SurveyKind::Custom => None,
        }
    }

    /// Checks that `scale` is allowed for this kind.
    ///
    /// # Errors
    /// [`ValidationError::Inconsistent`] (field `scale`) for an NPS survey not
    /// on 0-10 or a CES survey not on 1-7.
    pub fn check_scale(self, scale: Scale) -> Result<(), ValidationError> {
        let required = match self {
            SurveyKind::Nps => Scale::nps(),
            SurveyKind::Ces => Scale::ces(),
            SurveyKind::Csat | SurveyKind::Custom => return Ok(()),
        };
        if scale == required {
            Ok(())
        } else {
            Err(ValidationError::Inconsistent {
                field: "scale",
                reason: format!(
                    "a {} survey must use the scale {required}, not {scale}",
                    self.as_str()
                ),
            })
        }
    }
}

impl fmt::Display for SurveyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A survey: one scored question on a [`Scale`].
///
/// A mutable aggregate (stores return it as
/// [`Versioned`](crate::domain::Versioned)); its name and question text can
/// change, its kind and scale cannot, because recorded responses depend on
/// them. Deserialisation runs the same validation as [`Survey::new`].
///
/// # Example
/// ```
/// use chrono::{DateTime, Utc};
/// use crmkit::domain::{Scale, Survey, SurveyId, SurveyKind};
/// let survey = Survey::new(
///     SurveyId::from_u128(1),
///     "Relationship NPS",
///     SurveyKind::Nps,
///     Scale::nps(),
///     Some("How likely are you to recommend us?".into()),
///     "2026-01-05T09:00:00Z".parse::<DateTime<Utc>>()?,
/// )?;
/// assert_eq!(survey.score(10)?.get(), 10);
/// assert!(survey.score(11).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "SurveyRepr")]
pub struct Survey {
    id: SurveyId,
    name: String,
    kind: SurveyKind,
    scale: Scale,
    question: Option<String>,
    created_at: DateTime<Utc>,
}

#[derive(Deserialize)]
struct SurveyRepr {
    id: SurveyId,
    name: String,
    kind: SurveyKind,
    scale: Scale,
    question: Option<String>,
    created_at: DateTime<Utc>,
}

impl TryFrom<SurveyRepr> for Survey {
    type Error = ValidationError;
    fn try_from(r: SurveyRepr) -> Result<Self, Self::Error> {
        Survey::new(r.id, r.name, r.kind, r.scale, r.question, r.created_at)
    }
}

impl Survey {
    /// The longest survey name accepted, in characters.
    pub const MAX_NAME_LEN: usize = 200;
    /// The longest question text accepted, in characters.
    pub const MAX_QUESTION_LEN: usize = 1_000;

    /// Validates and builds a survey.
    ///
    /// # Errors
    /// - name (field `survey_name`): [`ValidationError::Empty`],
    ///   [`ValidationError::TooLong`] (over 200 characters) or
    ///   [`ValidationError::Format`] (control characters, surrounding white space);
    /// - question (field `question`): empty or over 1,000 characters;
    /// - [`ValidationError::Inconsistent`] when the scale does not suit the kind
    ///   (see [`SurveyKind::check_scale`]).
    pub fn new(
        id: SurveyId,
        name: impl Into<String>,
        kind: SurveyKind,
        scale: Scale,
        question: Option<String>,
        created_at: DateTime<Utc>,
    ) -> Result<Self, ValidationError> {
        let name = name.into();
        validate_text("survey_name", &name, Self::MAX_NAME_LEN)?;
        if let Some(q) = &question {
            validate_question(q)?;
        }
        kind.check_scale(scale)?;
        Ok(Self {
            id,
            name,
            kind,
            scale,
            question,
            created_at,
        })
    }

    /// The survey's id.
    pub const fn id(&self) -> SurveyId {
        self.id
    }

    /// The survey's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// What the survey measures.
    pub const fn kind(&self) -> SurveyKind {
        self.kind
    }

    /// The scale of its answers.
    pub const fn scale(&self) -> Scale {
        self.scale
    }

    /// The question text, if recorded.
    pub fn question(&self) -> Option<&str> {
        self.question.as_deref()
    }

    /// When the survey was created.
    pub const fn created_at(&self) -> DateTime<Utc> {
        self.created_at
    }

    /// Validates a score on this survey's scale (see [`Scale::score`]).
    ///
    /// # Errors
    /// [`ValidationError::OutOfRange`] with field `score`.
    pub fn score(&self, value: i32) -> Result<Score, ValidationError> {
        self.scale.score(value)
    }

    /// Renames the survey.
    ///
    /// # Errors
    /// As for the name in [`Survey::new`]; the survey is unchanged on error.
    pub fn rename(&mut self, name: impl Into<String>) -> Result<(), ValidationError> {
        let name = name.into();
        validate_text("survey_name", &name, Self::MAX_NAME_LEN)?;
        self.name = name;
        Ok(())
    }

    /// Replaces (or removes) the question text.
    ///
    /// # Errors
    /// As for the question in [`Survey::new`]; the survey is unchanged on error.
    pub fn set_question(&mut self, question: Option<String>) -> Result<(), ValidationError> {
        if let Some(q) = &question {
            validate_question(q)?;
        }
        self.question = question;
        Ok(())
    }
}

fn validate_question(q: &str) -> Result<(), ValidationError> {
    if q.trim().is_empty() {
        return Err(ValidationError::Empty { field: "question" });
    }
    let len = q.chars().count();
    if len > Survey::MAX_QUESTION_LEN {
        return Err(ValidationError::TooLong {
            field: "question",
            len,
            max: Survey::MAX_QUESTION_LEN,
        });
    }
    Ok(())
}

/// The fact that a customer was invited to answer a survey: the denominator
/// of response rates.
///
/// `segments` are the customer's segments when the invitation was sent (may
/// be empty when unknown).
///
/// # Example
/// ```
/// use chrono::{DateTime, Utc};
/// use crmkit::domain::{Channel, CustomerId, InvitationId, Segment, SurveyId, SurveyInvitation};
/// let inv = SurveyInvitation::new(
///     InvitationId::from_u128(1),
///     SurveyId::from_u128(2),
///     CustomerId::from_u128(3),
///     "2026-03-01T08:00:00Z".parse::<DateTime<Utc>>()?,
///     Channel::Email,
/// )
/// .with_segments([Segment::new("vip")?]);
/// assert_eq!(inv.segments().len(), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SurveyInvitation {
    id: InvitationId,
    survey: SurveyId,
    customer: CustomerId,
    sent_at: DateTime<Utc>,
    channel: Channel,
    #[serde(default)]
    segments: BTreeSet<Segment>,
}

impl SurveyInvitation {
    /// Records an invitation (every field is valid by its type).
    pub const fn new(
        id: InvitationId,
        survey: SurveyId,
        customer: CustomerId,
        sent_at: DateTime<Utc>,
        channel: Channel,
    ) -> Self {
        Self {
            id,
            survey,
            customer,
            sent_at,
            channel,
            segments: BTreeSet::new(),
        }
    }

    /// Sets the customer's segments at sending time.
    #[must_use]
    pub fn with_segments(mut self, segments: impl IntoIterator<Item = Segment>) -> Self {
        self.segments = segments.into_iter().collect();
        self
    }

    /// The invitation's id.
    pub const fn id(&self) -> InvitationId {
        self.id
    }

    /// The survey the customer was invited to.
    pub const fn survey(&self) -> SurveyId {
        self.survey
    }

    /// The invited customer.
    pub const fn customer(&self) -> CustomerId {
        self.customer
    }

    /// When it was sent.
    pub const fn sent_at(&self) -> DateTime<Utc> {
        self.sent_at
    }

    /// The channel it was sent on.
    pub const fn channel(&self) -> Channel {
        self.channel
    }

    /// The customer's segments at sending time.
    pub const fn segments(&self) -> &BTreeSet<Segment> {
        &self.segments
    }
}

/// What a survey response rates: the interaction, case or purchase that
/// triggered it (transactional surveys). Relationship surveys rate nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rated {
    /// An interaction (a call, a chat).
    Interaction(InteractionId),
    /// A support case.
    Case(CaseId),
    /// A purchase.
    Purchase(PurchaseId),
}

/// A customer's answer to a survey: an immutable fact.
///
/// The score is checked against the survey's scale when the response is
/// built, and the scale is stored in the response (field `scale`): a
/// response read back alone cannot look up its survey, so deserialisation
/// checks the score against the stored scale and rejects JSON whose score is
/// outside it. The context fields (segments, agent, team, channel) are as
/// they were when the customer answered, so history does not shift later.
///
/// The comment is [`Personal`] free text: `Debug` prints `<redacted>`, and
/// [`SurveyResponse::erase_personal`] removes it.
///
/// # Example
/// ```
/// use chrono::{DateTime, Utc};
/// use crmkit::domain::*;
/// let survey = Survey::new(
///     SurveyId::from_u128(1), "Support CSAT", SurveyKind::Csat, Scale::csat5(), None,
///     "2026-01-01T00:00:00Z".parse::<DateTime<Utc>>()?,
/// )?;
/// let response = SurveyResponse::new(
///     ResponseId::from_u128(2),
///     &survey,
///     CustomerId::from_u128(3),
///     "2026-02-01T12:00:00Z".parse::<DateTime<Utc>>()?,
///     4,
/// )?
/// .with_comment("Quick and friendly, thanks Sam")?
/// .with_segments([Segment::new("smb")?]);
/// assert_eq!(response.score().get(), 4);
/// assert!(!format!("{response:?}").contains("Sam"));
/// assert!(SurveyResponse::new(
///     ResponseId::from_u128(4), &survey, CustomerId::from_u128(3),
///     "2026-02-01T12:00:00Z".parse::<DateTime<Utc>>()?, 0,
/// ).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "SurveyResponseRepr")]
pub struct SurveyResponse {
    id: ResponseId,
    survey: SurveyId,
    customer: CustomerId,
    external_id: Option<ExternalId>,
    invitation: Option<InvitationId>,
    responded_at: DateTime<Utc>,
    scale: Scale,
    score: Score,
    comment: Option<Personal<String>>,
    rates: Option<Rated>,
    segments: BTreeSet<Segment>,
    agent: Option<AgentId>,
    team: Option<TeamId>,
    channel: Option<Channel>,
    weight: Option<Decimal>,
}

#[derive(Deserialize)]
struct SurveyResponseRepr {
    id: ResponseId,
    survey: SurveyId,
    customer: CustomerId,
    #[serde(default)]
    external_id: Option<ExternalId>,
    #[serde(default)]
    invitation: Option<InvitationId>,
    responded_at: DateTime<Utc>,
    scale: Scale,
    score: i32,
    #[serde(default)]
    comment: Option<String>,
    #[serde(default)]
    rates: Option<Rated>,
    #[serde(default)]
    segments: BTreeSet<Segment>,
    #[serde(default)]
    agent: Option<AgentId>,
    #[serde(default)]
    team: Option<TeamId>,
    #[serde(default)]
    channel: Option<Channel>,
    #[serde(default)]
    weight: Option<Decimal>,
}

impl TryFrom<SurveyResponseRepr> for SurveyResponse {
    type Error = ValidationError;
    fn try_from(r: SurveyResponseRepr) -> Result<Self, Self::Error> {
        let mut response =
            SurveyResponse::on_scale(r.id, r.survey, r.scale, r.customer, r.responded_at, r.score)?;
        if let Some(c) = r.comment {
            response = response.with_comment(c)?;
        }
        if let Some(w) = r.weight {
            response = response.with_weight(w)?;
        }
        response.external_id = r.external_id;
        response.invitation = r.invitation;
        response.rates = r.rates;
        response.segments = r.segments;
        response.agent = r.agent;
        response.team = r.team;
        response.channel = r.channel;
        Ok(response)
    }
}

impl SurveyResponse {
    /// The longest comment accepted, in characters.
    pub const MAX_COMMENT_LEN: usize = 10_000;

    /// A response to `survey` with `score`, checked against the survey's scale.
    /// Optional context is added with the `with_*` methods.
    ///
    /// # Errors
    /// [`ValidationError::OutOfRange`] (field `score`) when the score is not on
    /// the survey's scale.
    pub fn new(
        id: ResponseId,
        survey: &Survey,
        customer: CustomerId,
        responded_at: DateTime<Utc>,
        score: i32,
    ) -> Result<Self, ValidationError> {
        Self::on_scale(
            id,
            survey.id(),
            survey.scale(),
            customer,
            responded_at,
            score,
        )
    }

    /// Like [`SurveyResponse::new`] when only the survey's id and scale are at
    /// hand (imports, stores).
    ///
    /// # Errors
    /// [`ValidationError::OutOfRange`] (field `score`) when the score is not on `scale`.
    pub fn on_scale(
        id: ResponseId,
        survey: SurveyId,
        scale: Scale,
        customer: CustomerId,
        responded_at: DateTime<Utc>,
        score: i32,
    ) -> Result<Self, ValidationError> {
        let score = scale.score(score)?;
        Ok(Self {
            id,
            survey,
            customer,
            external_id: None,
            invitation: None,
            responded_at,
            scale,
            score,
            comment: None,
            rates: None,
            segments: BTreeSet::new(),
            agent: None,
            team: None,
            channel: None,
            weight: None,
        })
    }

    /// Adds the customer's free-text comment (personal data).
    ///
    /// # Errors
    /// [`ValidationError::Empty`] for an empty or blank comment (use no comment
    /// instead), [`ValidationError::TooLong`] over 10,000 characters; both with
    /// field `comment`.
    pub fn with_comment(mut self, comment: impl Into<String>) -> Result<Self, ValidationError> {
        let comment = comment.into();
        if comment.trim().is_empty() {
            return Err(ValidationError::Empty { field: "comment" });
        }
        let len = comment.chars().count();
        if len > Self::MAX_COMMENT_LEN {
            return Err(ValidationError::TooLong {
                field: "comment",
                len,
                max: Self::MAX_COMMENT_LEN,
            });
        }
        self.comment = Some(Personal::new(comment));
        Ok(self)
    }

    /// Adds a post-stratification weight.
    ///
    /// # Errors
    /// [`ValidationError::OutOfRange`] (field `weight`) unless `weight > 0`.
    pub fn with_weight(mut self, weight: Decimal) -> Result<Self, ValidationError> {
        if weight <= Decimal::ZERO {
            return Err(ValidationError::OutOfRange {
                field: "weight",
                value: weight.to_string(),
                range: "> 0".into(),
            });
        }
        self.weight = Some(weight);
        Ok(self)
    }

    /// Sets the application's own key for this response.
    #[must_use]
    pub fn with_external_id(mut self, external_id: ExternalId) -> Self {
        self.external_id = Some(external_id);
        self
    }

    /// Links the invitation this response answers.
    #[must_use]
    pub fn with_invitation(mut self, invitation: InvitationId) -> Self {
        self.invitation = Some(invitation);
        self
    }

    /// Sets what the response rates.
    #[must_use]
    pub fn with_rates(mut self, rates: Rated) -> Self {
        self.rates = Some(rates);
        self
    }

    /// Sets the customer's segments at response time.
    #[must_use]
    pub fn with_segments(mut self, segments: impl IntoIterator<Item = Segment>) -> Self {
        self.segments = segments.into_iter().collect();
        self
    }

    /// Sets the agent responsible at response time.
    #[must_use]
    pub fn with_agent(mut self, agent: AgentId) -> Self {
        self.agent = Some(agent);
        self
    }

    /// Sets the team responsible at response time.
    #[must_use]
    pub fn with_team(mut self, team: TeamId) -> Self {
        self.team = Some(team);
        self
    }

    /// Sets the channel the response came in on.
    #[must_use]
    pub fn with_channel(mut self, channel: Channel) -> Self {
        self.channel = Some(channel);
        self
    }

    /// The response's id.
    pub const fn id(&self) -> ResponseId {
        self.id
    }

    /// The survey answered.
    pub const fn survey(&self) -> SurveyId {
        self.survey
    }

    /// The customer who answered.
    pub const fn customer(&self) -> CustomerId {
        self.customer
    }

    /// The application's own key, if any.
    pub const fn external_id(&self) -> Option<&ExternalId> {
        self.external_id.as_ref()
    }

    /// The invitation answered, if known.
    pub const fn invitation(&self) -> Option<InvitationId> {
        self.invitation
    }

    /// When the customer answered.
    pub const fn responded_at(&self) -> DateTime<Utc> {
        self.responded_at
    }

    /// The survey's scale, as recorded with the response.
    pub const fn scale(&self) -> Scale {
        self.scale
    }

    /// The score (always on [`SurveyResponse::scale`]).
    pub const fn score(&self) -> Score {
        self.score
    }

    /// The free-text comment, if any (personal data).
    pub const fn comment(&self) -> Option<&Personal<String>> {
        self.comment.as_ref()
    }

    /// What the response rates, if anything.
    pub const fn rates(&self) -> Option<Rated> {
        self.rates
    }

    /// The customer's segments at response time.
    pub const fn segments(&self) -> &BTreeSet<Segment> {
        &self.segments
    }

    /// The agent at response time, if any.
    pub const fn agent(&self) -> Option<AgentId> {
        self.agent
    }

    /// The team at response time, if any.
    pub const fn team(&self) -> Option<TeamId> {
        self.team
    }

    /// The channel of the response, if known.
    pub const fn channel(&self) -> Option<Channel> {
        self.channel
    }

    /// The post-stratification weight, if any (always > 0).
    pub const fn weight(&self) -> Option<Decimal> {
        self.weight
    }

    /// Removes the personal data (the comment), keeping the score, times,
    /// segments and other anonymous facts metrics need.
    pub fn erase_personal(&mut self) {
        self.comment = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use rust_decimal_macros::dec;

    fn at(day: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, day, 12, 0, 0).unwrap()
    }

    fn mk_survey(kind: SurveyKind, scale: Scale) -> Survey {
        Survey::new(SurveyId::from_u128(1), "Survey", kind, scale, None, at(1)).unwrap()
    }

    fn mk_response(s: &Survey, score: i32) -> Result<SurveyResponse, ValidationError> {
        SurveyResponse::new(
            ResponseId::from_u128(9),
            s,
            CustomerId::from_u128(5),
            at(2),
            score,
        )
    }

    #[test]
    fn standard_scales() {
        let pairs = [
            (Scale::nps(), 0, 10),
            (Scale::csat3(), 1, 3),
            (Scale::csat5(), 1, 5),
            (Scale::csat7(), 1, 7),
            (Scale::csat10(), 1, 10),
            (Scale::ces(), 1, 7),
        ];
        for (s, min, max) in pairs {
            assert_eq!((s.min(), s.max()), (min, max));
            assert_eq!(Scale::custom(min, max).unwrap(), s);
        }
        // 0..=10 has 10 - 0 + 1 = 11 points.
        assert_eq!(Scale::nps().points(), 11);
        // -100..=100 has 100 - (-100) + 1 = 201 points.
        assert_eq!(Scale::custom(-100, 100).unwrap().points(), 201);
    }

    #[test]
    fn score_11_on_nps_is_rejected_with_the_exact_error() {
        assert_eq!(
            Scale::nps().score(11).unwrap_err(),
            ValidationError::OutOfRange {
                field: "score",
                value: "11".into(),
                range: "0..=10".into()
            }
        );
        assert_eq!(
            Scale::nps().score(-1).unwrap_err(),
            ValidationError::OutOfRange {
                field: "score",
                value: "-1".into(),
                range: "0..=10".into()
            }
        );
        assert_eq!(Scale::nps().score(0).unwrap().get(), 0);
        assert_eq!(Scale::nps().score(10).unwrap().get(), 10);
    }

    #[test]
    fn score_0_on_csat5_is_rejected() {
        assert_eq!(
            Scale::csat5().score(0).unwrap_err(),
            ValidationError::OutOfRange {
                field: "score",
                value: "0".into(),
                range: "1..=5".into()
            }
        );
        assert_eq!(
            Scale::csat5().score(6).unwrap_err(),
            ValidationError::OutOfRange {
                field: "score",
                value: "6".into(),
                range: "1..=5".into()
            }
        );
    }

    #[test]
    fn huge_scores_do_not_wrap() {
        // 65_545 as i16 would wrap to 9; it must be rejected, not accepted as 9.
        assert!(Scale::nps().score(65_545).is_err());
        assert!(Scale::nps().score(i32::MIN).is_err());
        assert!(Scale::nps().score(i32::MAX).is_err());
    }

    #[test]
    fn custom_scale_rules() {
        assert_eq!(
            Scale::custom(5, 5).unwrap_err(),
            ValidationError::Order {
                field: "scale",
                start: "5".into(),
                end: "5".into()
            }
        );
        assert_eq!(
            Scale::custom(7, 1).unwrap_err(),
            ValidationError::Order {
                field: "scale",
                start: "7".into(),
                end: "1".into()
            }
        );
        assert_eq!(
            Scale::custom(-101, 0).unwrap_err(),
            ValidationError::OutOfRange {
                field: "scale",
                value: "-101".into(),
                range: "-100..=100".into()
            }
        );
        assert_eq!(
            Scale::custom(0, 101).unwrap_err(),
            ValidationError::OutOfRange {
                field: "scale",
                value: "101".into(),
                range: "-100..=100".into()
            }
        );
        assert!(Scale::custom(-100, 100).is_ok());
        assert!(serde_json::from_str::<Scale>(r#"{"min":3,"max":2}"#).is_err());
        assert_eq!(
            serde_json::from_str::<Scale>(r#"{"min":0,"max":10}"#).unwrap(),
            Scale::nps()
        );
    }

    #[test]
    fn kind_constrains_scale() {
        assert_eq!(
            SurveyKind::Nps.check_scale(Scale::csat10()).unwrap_err(),
            ValidationError::Inconsistent {
                field: "scale",
                reason: "a nps survey must use the scale 0..=10, not 1..=10".into()
            }
        );
        assert!(SurveyKind::Ces.check_scale(Scale::csat5()).is_err());
        assert!(SurveyKind::Ces.check_scale(Scale::ces()).is_ok());
        assert!(SurveyKind::Csat.check_scale(Scale::csat3()).is_ok());
        assert!(
            SurveyKind::Csat
                .check_scale(Scale::custom(0, 4).unwrap())
                .is_ok()
        );
        assert!(
            SurveyKind::Custom
                .check_scale(Scale::custom(-3, 3).unwrap())
                .is_ok()
        );
        assert!(
            Survey::new(
                SurveyId::from_u128(1),
                "x",
                SurveyKind::Nps,
                Scale::csat5(),
                None,
                at(1)
            )
            .is_err()
        );
    }

    #[test]
    fn survey_name_and_question_rules() {
        let new = |name: &str, q: Option<&str>| {
            Survey::new(
                SurveyId::from_u128(1),
                name,
                SurveyKind::Csat,
                Scale::csat5(),
                q.map(String::from),
                at(1),
            )
        };
        assert_eq!(
            new(" ", None).unwrap_err(),
            ValidationError::Empty {
                field: "survey_name"
            }
        );
        assert_eq!(
            new(&"a".repeat(201), None).unwrap_err(),
            ValidationError::TooLong {
                field: "survey_name",
                len: 201,
                max: 200
            }
        );
        assert!(new(&"a".repeat(200), None).is_ok());
        assert!(matches!(
            new("NPS\n", None).unwrap_err(),
            ValidationError::Format {
                field: "survey_name",
                ..
            }
        ));
        assert_eq!(
            new("ok", Some("")).unwrap_err(),
            ValidationError::Empty { field: "question" }
        );
        assert_eq!(
            new("ok", Some(&"q".repeat(1001))).unwrap_err(),
            ValidationError::TooLong {
                field: "question",
                len: 1001,
                max: 1000
            }
        );
        let mut s = new("ok", Some("How was it?")).unwrap();
        assert!(s.rename("").is_err());
        assert_eq!(s.name(), "ok");
        s.rename("Renamed").unwrap();
        assert_eq!(s.name(), "Renamed");
        assert!(s.set_question(Some("  ".into())).is_err());
        assert_eq!(s.question(), Some("How was it?"));
        s.set_question(None).unwrap();
        assert_eq!(s.question(), None);
    }

    #[test]
    fn survey_json_is_validated() {
        let ok = r#"{"id":"00000000-0000-0000-0000-000000000001","name":"N","kind":"nps",
            "scale":{"min":0,"max":10},"question":null,"created_at":"2026-01-01T00:00:00Z"}"#;
        let s: Survey = serde_json::from_str(ok).unwrap();
        assert_eq!(s.kind(), SurveyKind::Nps);
        let bad = ok.replace(r#""max":10"#, r#""max":5"#);
        assert!(serde_json::from_str::<Survey>(&bad).is_err());
    }

    #[test]
    fn response_score_checked_against_survey() {
        let nps = mk_survey(SurveyKind::Nps, Scale::nps());
        assert_eq!(
            mk_response(&nps, 11).unwrap_err(),
            ValidationError::OutOfRange {
                field: "score",
                value: "11".into(),
                range: "0..=10".into()
            }
        );
        let csat = mk_survey(SurveyKind::Csat, Scale::csat5());
        assert!(mk_response(&csat, 0).is_err());
        let r = mk_response(&csat, 5).unwrap();
        assert_eq!(r.score().get(), 5);
        assert_eq!(r.scale(), Scale::csat5());
        assert_eq!(r.survey(), SurveyId::from_u128(1));
    }

    #[test]
    fn weight_must_be_positive() {
        let s = mk_survey(SurveyKind::Nps, Scale::nps());
        for w in [dec!(0), dec!(-1), dec!(-0.0001)] {
            assert_eq!(
                mk_response(&s, 9).unwrap().with_weight(w).unwrap_err(),
                ValidationError::OutOfRange {
                    field: "weight",
                    value: w.to_string(),
                    range: "> 0".into()
                }
            );
        }
        let r = mk_response(&s, 9).unwrap().with_weight(dec!(0.25)).unwrap();
        assert_eq!(r.weight(), Some(dec!(0.25)));
    }

    #[test]
    fn comment_rules_and_redaction() {
        let s = mk_survey(SurveyKind::Nps, Scale::nps());
        assert_eq!(
            mk_response(&s, 9)
                .unwrap()
                .with_comment("x".repeat(10_001))
                .unwrap_err(),
            ValidationError::TooLong {
                field: "comment",
                len: 10_001,
                max: 10_000
            }
        );
        assert_eq!(
            mk_response(&s, 9).unwrap().with_comment("   ").unwrap_err(),
            ValidationError::Empty { field: "comment" }
        );
        // 10,000 multi-byte characters are allowed: the limit counts characters.
        assert!(
            mk_response(&s, 9)
                .unwrap()
                .with_comment("é".repeat(10_000))
                .is_ok()
        );
        let mut r = mk_response(&s, 9)
            .unwrap()
            .with_comment("Ada Lovelace loved it")
            .unwrap()
            .with_segments([Segment::new("vip").unwrap()]);
        let debug = format!("{r:?}");
        assert!(!debug.contains("Ada"), "{debug}");
        assert!(debug.contains("<redacted>"));
        r.erase_personal();
        assert!(r.comment().is_none());
        assert_eq!(r.score().get(), 9);
        assert_eq!(r.responded_at(), at(2));
        assert_eq!(r.segments().len(), 1);
    }

    #[test]
    fn response_json_checks_score_against_stored_scale() {
        let s = mk_survey(SurveyKind::Csat, Scale::csat5());
        let r = mk_response(&s, 4)
            .unwrap()
            .with_comment("fine")
            .unwrap()
            .with_rates(Rated::Case(CaseId::from_u128(3)))
            .with_weight(dec!(1.5))
            .unwrap();
        let json = serde_json::to_string(&r).unwrap();
        assert!(json.contains(r#""scale":{"min":1,"max":5}"#), "{json}");
        assert!(json.contains(r#""score":4"#), "{json}");
        assert_eq!(serde_json::from_str::<SurveyResponse>(&json).unwrap(), r);
        let bad = json.replace(r#""score":4"#, r#""score":6"#);
        let err = serde_json::from_str::<SurveyResponse>(&bad).unwrap_err();
        assert!(err.to_string().contains("score is out of range"), "{err}");
        let bad_weight = json.replace(r#""weight":"1.5""#, r#""weight":"0""#);
        assert!(serde_json::from_str::<SurveyResponse>(&bad_weight).is_err());
        let long = json.replace(r#""fine""#, &format!("\"{}\"", "x".repeat(10_001)));
        assert!(serde_json::from_str::<SurveyResponse>(&long).is_err());
    }

    #[test]
    fn invitation_round_trips() {
        let inv = SurveyInvitation::new(
            InvitationId::from_u128(1),
            SurveyId::from_u128(2),
            CustomerId::from_u128(3),
            at(3),
            Channel::Sms,
        );
        let json = serde_json::to_string(&inv).unwrap();
        assert_eq!(
            serde_json::from_str::<SurveyInvitation>(&json).unwrap(),
            inv
        );
        assert!(inv.segments().is_empty());
    }

    mod props {
        use super::super::strategies::*;
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn survey_json_round_trip(s in survey()) {
                let json = serde_json::to_string(&s).unwrap();
                prop_assert_eq!(serde_json::from_str::<Survey>(&json).unwrap(), s);
            }

            #[test]
            fn response_json_round_trip(r in survey_response()) {
                prop_assert!(r.scale().contains(i32::from(r.score())));
                let json = serde_json::to_string(&r).unwrap();
                prop_assert_eq!(serde_json::from_str::<SurveyResponse>(&json).unwrap(), r);
            }

            #[test]
            fn invitation_json_round_trip(i in survey_invitation()) {
                let json = serde_json::to_string(&i).unwrap();
                prop_assert_eq!(serde_json::from_str::<SurveyInvitation>(&json).unwrap(), i);
            }

            #[test]
            fn out_of_scale_scores_rejected(scale in scale(), v in any::<i32>()) {
                let inside = scale.min() <= v && v <= scale.max();
                prop_assert_eq!(scale.score(v).is_ok(), inside);
                if let Ok(s) = scale.score(v) {
                    prop_assert_eq!(i32::from(s), v);
                }
            }

            #[test]
            fn scale_validation(min in -200i32..200, max in -200i32..200) {
                let ok = (-100..=100).contains(&min) && (-100..=100).contains(&max) && min < max;
                prop_assert_eq!(Scale::custom(min, max).is_ok(), ok);
            }

            #[test]
            fn arbitrary_response_json_never_yields_out_of_scale_score(
                r in survey_response(),
                min in -150i32..150,
                max in -150i32..150,
                score in -300i32..300,
                garbage in ".{0,20}",
            ) {
                let mut v = serde_json::to_value(&r).unwrap();
                v["scale"] = serde_json::json!({"min": min, "max": max});
                v["score"] = serde_json::json!(score);
                let parsed = serde_json::from_value::<SurveyResponse>(v.clone());
                let valid = Scale::custom(min, max).map(|s| s.contains(score)).unwrap_or(false);
                prop_assert_eq!(parsed.is_ok(), valid);
                if let Ok(p) = parsed {
                    prop_assert!(p.scale().contains(i32::from(p.score())));
                }
                // Garbage in arbitrary fields never panics.
                v["comment"] = serde_json::json!(garbage.clone());
                let _ = serde_json::from_value::<SurveyResponse>(v.clone());
                v["score"] = serde_json::json!(garbage);
                prop_assert!(serde_json::from_value::<SurveyResponse>(v).is_err());
            }

            #[test]
            fn arbitrary_text_never_panics(text in ".{0,200}") {
                let _ = serde_json::from_str::<SurveyResponse>(&text);
                let _ = serde_json::from_str::<Survey>(&text);
                let _ = serde_json::from_str::<Scale>(&text);
            }

            #[test]
            fn erase_keeps_anonymous_facts(r in survey_response()) {
                let mut e = r.clone();
                e.erase_personal();
                prop_assert!(e.comment().is_none());
                prop_assert_eq!(e.score(), r.score());
                prop_assert_eq!(e.responded_at(), r.responded_at());
                prop_assert_eq!(e.segments(), r.segments());
                prop_assert_eq!(e.weight(), r.weight());
            }
        }
    }
}

#[cfg(any(test, feature = "proptest"))]
pub(crate) mod strategies {
    use super::*;
    use crate::domain::strategy::{
        agent_id, channel, customer_id, external_id, instant, segment, team_id,
    };
    use proptest::prelude::*;

    /// A valid scale: mostly the standard ones, sometimes a custom range.
    pub fn scale() -> impl Strategy<Value = Scale> {
        prop_oneof![
            3 => prop::sample::select(vec![
                Scale::nps(),
                Scale::csat3(),
                Scale::csat5(),
                Scale::csat7(),
                Scale::csat10(),
                Scale::ces(),
            ]),
            1 => (-100i32..100)
                .prop_flat_map(|min| (Just(min), (min + 1)..=100))
                .prop_filter_map("valid scale", |(min, max)| Scale::custom(min, max).ok()),
        ]
    }

    /// A survey kind with a scale that suits it.
    pub fn survey_kind_and_scale() -> impl Strategy<Value = (SurveyKind, Scale)> {
        prop_oneof![
            Just((SurveyKind::Nps, Scale::nps())),
            Just((SurveyKind::Ces, Scale::ces())),
            scale().prop_map(|s| (SurveyKind::Csat, s)),
            scale().prop_map(|s| (SurveyKind::Custom, s)),
        ]
    }

    /// A valid survey.
    pub fn survey() -> impl Strategy<Value = Survey> {
        (
            any::<u128>(),
            "[A-Za-z][A-Za-z0-9 ]{0,30}[A-Za-z0-9]",
            survey_kind_and_scale(),
            prop::option::of("[A-Za-z][A-Za-z ?,]{0,60}"),
            instant(),
        )
            .prop_filter_map("valid survey", |(id, name, (kind, scale), q, at)| {
                Survey::new(SurveyId::from_u128(id), name, kind, scale, q, at).ok()
            })
    }

    /// What a response may rate.
    pub fn rated() -> impl Strategy<Value = Rated> {
        prop_oneof![
            any::<u128>().prop_map(|v| Rated::Interaction(InteractionId::from_u128(v))),
            any::<u128>().prop_map(|v| Rated::Case(CaseId::from_u128(v))),
            any::<u128>().prop_map(|v| Rated::Purchase(PurchaseId::from_u128(v))),
        ]
    }

    /// A valid response to `survey`, with random optional context.
    pub fn response_for(survey: &Survey) -> impl Strategy<Value = SurveyResponse> + use<> {
        let (id, scale) = (survey.id(), survey.scale());
        (
            (
                any::<u128>(),
                customer_id(),
                instant(),
                scale.min()..=scale.max(),
                prop::option::of("[A-Za-z][A-Za-z .,!]{0,80}"),
                prop::option::of((1u32..10_000).prop_map(|w| Decimal::new(i64::from(w), 2))),
            ),
            (
                prop::option::of(external_id()),
                prop::option::of(any::<u128>()),
                prop::option::of(rated()),
                prop::collection::btree_set(segment(), 0..3),
                prop::option::of(agent_id()),
                prop::option::of(team_id()),
                prop::option::of(channel()),
            ),
        )
            .prop_filter_map(
                "valid response",
                move |(
                    (rid, customer, at, score, comment, weight),
                    (ext, inv, rates, segments, agent, team, ch),
                )| {
                    let mut r = SurveyResponse::on_scale(
                        ResponseId::from_u128(rid),
                        id,
                        scale,
                        customer,
                        at,
                        score,
                    )
                    .ok()?
                    .with_segments(segments);
                    if let Some(c) = comment {
                        r = r.with_comment(c).ok()?;
                    }
                    if let Some(w) = weight {
                        r = r.with_weight(w).ok()?;
                    }
                    r.external_id = ext;
                    r.invitation = inv.map(InvitationId::from_u128);
                    r.rates = rates;
                    r.agent = agent;
                    r.team = team;
                    r.channel = ch;
                    Some(r)
                },
            )
    }

    /// A valid response to a generated survey.
    pub fn survey_response() -> impl Strategy<Value = SurveyResponse> {
        survey().prop_flat_map(|s| response_for(&s))
    }

    /// A survey invitation.
    pub fn survey_invitation() -> impl Strategy<Value = SurveyInvitation> {
        (
            any::<u128>(),
            any::<u128>(),
            customer_id(),
            instant(),
            channel(),
            prop::collection::btree_set(segment(), 0..3),
        )
            .prop_map(|(id, survey, customer, at, ch, segments)| {
                SurveyInvitation::new(
                    InvitationId::from_u128(id),
                    SurveyId::from_u128(survey),
                    customer,
                    at,
                    ch,
                )
                .with_segments(segments)
            })
    }
}
