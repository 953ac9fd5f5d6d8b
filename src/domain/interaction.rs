//! Interactions: one contact between a customer and the company.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::domain::{AgentId, BotId, CaseId, Channel, CustomerId, InteractionId, Personal, TeamId};
use crate::error::ValidationError;

/// Longest free text accepted (interaction summaries, case bodies), in characters.
pub const MAX_FREE_TEXT: usize = 10_000;

/// Validates free text: not blank, at most [`MAX_FREE_TEXT`] characters.
/// Line breaks and tabs are allowed; the text is not echoed in errors.
pub(crate) fn validate_free_text(field: &'static str, value: &str) -> Result<(), ValidationError> {
    if value.trim().is_empty() {
        return Err(ValidationError::Empty { field });
    }
    let len = value.chars().count();
    if len > MAX_FREE_TEXT {
        return Err(ValidationError::TooLong {
            field,
            len,
            max: MAX_FREE_TEXT,
        });
    }
    Ok(())
}

/// Who started the contact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// The customer contacted the company.
    Inbound,
    /// The company contacted the customer.
    Outbound,
}

/// Why the contact happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InteractionPurpose {
    /// A question.
    Inquiry,
    /// A complaint.
    Complaint,
    /// Help with a problem.
    Support,
    /// Selling.
    Sales,
    /// Following up an earlier contact.
    FollowUp,
    /// Feedback given or asked for.
    Feedback,
    /// Getting a new customer started.
    Onboarding,
    /// A newsletter or other mass mailing.
    Newsletter,
}

/// Who handled an interaction on the company's side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Handler {
    /// A human agent, possibly in a team.
    Agent {
        /// The agent.
        agent: AgentId,
        /// The agent's team, if known.
        team: Option<TeamId>,
    },
    /// An automated agent (chat bot, voice bot).
    Bot(BotId),
}

/// The sentiment of an interaction: a score in `[-1, 1]`, where `-1` is most
/// negative, `0` neutral and `1` most positive.
///
/// A score (rather than an enum of labels) keeps what sentiment models
/// produce and still lets reports bucket it.
///
/// # Example
/// ```
/// use crmkit::domain::Sentiment;
/// use rust_decimal::Decimal;
/// let s = Sentiment::new(Decimal::new(-5, 1))?; // -0.5
/// assert!(s.is_negative());
/// assert!(Sentiment::new(Decimal::TWO).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "Decimal", into = "Decimal")]
pub struct Sentiment(Decimal);

impl Sentiment {
    /// A neutral sentiment (0).
    pub const NEUTRAL: Sentiment = Sentiment(Decimal::ZERO);

    /// Validates a score.
    ///
    /// # Errors
    /// [`ValidationError::OutOfRange`] outside `[-1, 1]`.
    pub fn new(score: Decimal) -> Result<Self, ValidationError> {
        if score < Decimal::NEGATIVE_ONE || score > Decimal::ONE {
            return Err(ValidationError::OutOfRange {
                field: "sentiment",
                value: score.to_string(),
                range: "-1..=1".into(),
            });
        }
        Ok(Self(score))
    }

    /// The score.
    pub const fn score(&self) -> Decimal {
        self.0
    }

    /// Whether the score is below zero.
    pub fn is_negative(&self) -> bool {
        self.0 < Decimal::ZERO
    }

    /// Whether the score is above zero.
    pub fn is_positive(&self) -> bool {
        self.0 > Decimal::ZERO
    }
}

impl TryFrom<Decimal> for Sentiment {
    type Error = ValidationError;
    fn try_from(value: Decimal) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl From<Sentiment> for Decimal {
    fn from(s: Sentiment) -> Self {
        s.0
    }
}

/// One contact between a customer and the company: a call, a chat, an
/// e-mail, a visit.
///
/// Interactions are mutable aggregates (a summary or sentiment may be added
/// later); stores keep them as [`Versioned`](crate::domain::Versioned) values.
/// The summary is personal data and [`Interaction::erase_personal`] removes it.
///
/// The duration is serialised as whole nanoseconds (`duration_ns`), which is
/// exact; it must be non-negative and at most [`Interaction::MAX_DURATION_DAYS`] days.
///
/// # Example
/// ```
/// use chrono::{Duration, TimeZone, Utc};
/// use crmkit::domain::*;
/// let at = Utc.with_ymd_and_hms(2026, 3, 1, 9, 30, 0).single().ok_or("invalid time")?;
/// let i = Interaction::new(
///     InteractionId::from_u128(1),
///     CustomerId::from_u128(2),
///     Channel::Phone,
///     Direction::Inbound,
///     InteractionPurpose::Support,
///     at,
/// )
/// .with_duration(Duration::minutes(7))?
/// .with_summary("Printer offline; reset fixed it")?;
/// assert_eq!(i.duration(), Some(Duration::minutes(7)));
/// assert!(Interaction::new(i.id(), i.customer(), Channel::Phone, Direction::Inbound,
///     InteractionPurpose::Support, at).with_duration(Duration::seconds(-1)).is_err());
/// let back: Interaction = serde_json::from_str(&serde_json::to_string(&i)?)?;
/// assert_eq!(back, i);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "InteractionRepr", into = "InteractionRepr")]
pub struct Interaction {
    id: InteractionId,
    customer: CustomerId,
    channel: Channel,
    direction: Direction,
    purpose: InteractionPurpose,
    occurred_at: DateTime<Utc>,
    duration: Option<chrono::Duration>,
    handled_by: Option<Handler>,
    case: Option<CaseId>,
    summary: Option<Personal<String>>,
    sentiment: Option<Sentiment>,
}

impl Interaction {
    /// The longest duration accepted, in days.
    pub const MAX_DURATION_DAYS: i64 = 31;

    /// An interaction with the required facts only; add the optional ones
    /// with the `with_*` methods.
    pub fn new(
        id: InteractionId,
        customer: CustomerId,
        channel: Channel,
        direction: Direction,
        purpose: InteractionPurpose,
        occurred_at: DateTime<Utc>,
    ) -> Self {
        Self {
            id,
            customer,
            channel,
            direction,
            purpose,
            occurred_at,
            duration: None,
            handled_by: None,
            case: None,
            summary: None,
            sentiment: None,
        }
    }

    /// Sets how long the contact lasted.
    ///
    /// # Errors
    /// [`ValidationError::OutOfRange`] if negative or longer than
    /// [`Interaction::MAX_DURATION_DAYS`] days.
    pub fn with_duration(mut self, duration: chrono::Duration) -> Result<Self, ValidationError> {
        self.set_duration(Some(duration))?;
        Ok(self)
    }

    /// Sets or clears the duration.
    ///
    /// # Errors
    /// As [`Interaction::with_duration`]; on error nothing changes.
    pub fn set_duration(
        &mut self,
        duration: Option<chrono::Duration>,
    ) -> Result<(), ValidationError> {
        let max = chrono::Duration::days(Self::MAX_DURATION_DAYS);
        if let Some(d) = duration
            && (d < chrono::Duration::zero() || d > max)
        {
            return Err(ValidationError::OutOfRange {
                field: "interaction.duration",
                value: d.to_string(),
                range: format!("0..={} days", Self::MAX_DURATION_DAYS),
            });
        }
        self.duration = duration;
        Ok(())
    }

    /// Sets who handled the contact.
    pub fn with_handler(mut self, handler: Handler) -> Self {
        self.handled_by = Some(handler);
        self
    }

    /// Links the interaction to a support case.
    pub fn with_case(mut self, case: CaseId) -> Self {
        self.case = Some(case);
        self
    }

    /// Adds a free-text summary (personal data).
    ///
    /// # Errors
    /// [`ValidationError::Empty`] if blank, [`ValidationError::TooLong`] over
    /// [`MAX_FREE_TEXT`] characters.
    pub fn with_summary(mut self, summary: impl Into<String>) -> Result<Self, ValidationError> {
        self.set_summary(Some(summary.into()))?;
        Ok(self)
    }

    /// Sets or clears the summary.
    ///
    /// # Errors
    /// As [`Interaction::with_summary`]; on error nothing changes.
    pub fn set_summary(&mut self, summary: Option<String>) -> Result<(), ValidationError> {
        if let Some(s) = &summary {
            validate_free_text("interaction.summary", s)?;
        }
        self.summary = summary.map(Personal::new);
        Ok(())
    }

    /// Sets the sentiment.
    pub fn with_sentiment(mut self, sentiment: Sentiment) -> Self {
        self.sentiment = Some(sentiment);
        self
    }

    /// Sets or clears the sentiment.
    pub fn set_sentiment(&mut self, sentiment: Option<Sentiment>) {
        self.sentiment = sentiment;
    }

    /// Sets or clears the handler.
    pub fn set_handler(&mut self, handler: Option<Handler>) {
        self.handled_by = handler;
    }

    /// Sets or clears the linked case.
    pub fn set_case(&mut self, case: Option<CaseId>) {
        self.case = case;
    }

    /// Removes personal data (the summary), keeping the anonymous facts.
    pub fn erase_personal(&mut self) {
        self.summary = None;
    }

    /// The id.
    pub const fn id(&self) -> InteractionId {
        self.id
    }
    /// The customer.
    pub const fn customer(&self) -> CustomerId {
        self.customer
    }
    /// The channel.
    pub const fn channel(&self) -> Channel {
        self.channel
    }
    /// Who started the contact.
    pub const fn direction(&self) -> Direction {
        self.direction
    }
    /// Why the contact happened.
    pub const fn purpose(&self) -> InteractionPurpose {
        self.purpose
    }
    /// When the contact started.
    pub const fn occurred_at(&self) -> DateTime<Utc> {
        self.occurred_at
    }
    /// How long it lasted, if known.
    pub const fn duration(&self) -> Option<chrono::Duration> {
        self.duration
    }
    /// Who handled it, if known.
    pub const fn handled_by(&self) -> Option<Handler> {
        self.handled_by
    }
    /// The linked support case, if any.
    pub const fn case(&self) -> Option<CaseId> {
        self.case
    }
    /// The free-text summary (personal data).
    pub const fn summary(&self) -> Option<&Personal<String>> {
        self.summary.as_ref()
    }
    /// The sentiment, if scored.
    pub const fn sentiment(&self) -> Option<Sentiment> {
        self.sentiment
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct InteractionRepr {
    id: InteractionId,
    customer: CustomerId,
    channel: Channel,
    direction: Direction,
    purpose: InteractionPurpose,
    occurred_at: DateTime<Utc>,
    #[serde(default)]
    duration_ns: Option<i64>,
    #[serde(default)]
    handled_by: Option<Handler>,
    #[serde(default)]
    case: Option<CaseId>,
    #[serde(default)]
    summary: Option<String>,
    #[serde(default)]
    sentiment: Option<Sentiment>,
}

impl TryFrom<InteractionRepr> for Interaction {
    type Error = ValidationError;
    fn try_from(r: InteractionRepr) -> Result<Self, Self::Error> {
        let mut i = Interaction::new(
            r.id,
            r.customer,
            r.channel,
            r.direction,
            r.purpose,
            r.occurred_at,
        );
        i.set_duration(r.duration_ns.map(chrono::Duration::nanoseconds))?;
        i.set_summary(r.summary)?;
        i.handled_by = r.handled_by;
        i.case = r.case;
        i.sentiment = r.sentiment;
        Ok(i)
    }
}

impl From<Interaction> for InteractionRepr {
    fn from(i: Interaction) -> Self {
        Self {
            id: i.id,
            customer: i.customer,
            channel: i.channel,
            direction: i.direction,
            purpose: i.purpose,
            occurred_at: i.occurred_at,
            // Validated durations are at most 31 days, far below i64 nanoseconds (292 years).
            duration_ns: i.duration.and_then(|d| d.num_nanoseconds()),
            handled_by: i.handled_by,
            case: i.case,
            summary: i.summary.map(Personal::into_exposed),
            sentiment: i.sentiment,
        }
    }
}

#[cfg(any(test, feature = "proptest"))]
pub(crate) mod strategies {
    use super::*;
    use crate::domain::channel::strategies::channel;
    use crate::domain::period::strategies::instant;
    use proptest::prelude::*;

    /// Any sentiment score in `[-1, 1]` with up to 2 decimal places.
    pub fn sentiment() -> impl Strategy<Value = Sentiment> {
        (-100i64..=100).prop_map(|n| Sentiment(Decimal::new(n, 2)))
    }

    /// Any handler.
    pub fn handler() -> impl Strategy<Value = Handler> {
        prop_oneof![
            (any::<u128>(), proptest::option::of(any::<u128>())).prop_map(|(a, t)| {
                Handler::Agent {
                    agent: AgentId::from_u128(a),
                    team: t.map(TeamId::from_u128),
                }
            }),
            any::<u128>().prop_map(|b| Handler::Bot(BotId::from_u128(b))),
        ]
    }

    /// A valid free text: printable, may contain line breaks, not blank.
    pub fn free_text() -> impl Strategy<Value = String> {
        "[a-zA-Z0-9äé€ .,!?\n]{0,60}[a-z]"
    }

    /// A valid interaction with any mix of optional fields.
    pub fn interaction() -> impl Strategy<Value = Interaction> {
        let direction = prop_oneof![Just(Direction::Inbound), Just(Direction::Outbound)];
        let purpose = prop::sample::select(vec![
            InteractionPurpose::Inquiry,
            InteractionPurpose::Complaint,
            InteractionPurpose::Support,
            InteractionPurpose::Sales,
            InteractionPurpose::FollowUp,
            InteractionPurpose::Feedback,
            InteractionPurpose::Onboarding,
            InteractionPurpose::Newsletter,
        ]);
        (
            (
                any::<u128>(),
                any::<u128>(),
                channel(),
                direction,
                purpose,
                instant(),
            ),
            (
                proptest::option::of(0i64..=31 * 86_400 * 1_000_000_000),
                proptest::option::of(handler()),
                proptest::option::of(any::<u128>()),
                proptest::option::of(free_text()),
                proptest::option::of(sentiment()),
            ),
        )
            .prop_map(
                |((id, c, ch, d, p, at), (dur, h, case, summary, s))| Interaction {
                    id: InteractionId::from_u128(id),
                    customer: CustomerId::from_u128(c),
                    channel: ch,
                    direction: d,
                    purpose: p,
                    occurred_at: at,
                    duration: dur.map(chrono::Duration::nanoseconds),
                    handled_by: h,
                    case: case.map(CaseId::from_u128),
                    summary: summary.map(Personal::new),
                    sentiment: s,
                },
            )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone};
    use proptest::prelude::*;

    fn base() -> Interaction {
        Interaction::new(
            InteractionId::from_u128(1),
            CustomerId::from_u128(2),
            Channel::Phone,
            Direction::Inbound,
            InteractionPurpose::Complaint,
            Utc.with_ymd_and_hms(2026, 3, 1, 9, 0, 0).unwrap(),
        )
    }

    #[test]
    fn duration_must_be_non_negative_and_bounded() {
        assert!(matches!(
            base().with_duration(Duration::nanoseconds(-1)).unwrap_err(),
            ValidationError::OutOfRange {
                field: "interaction.duration",
                ..
            }
        ));
        assert!(base().with_duration(Duration::days(31)).is_ok());
        assert!(
            base()
                .with_duration(Duration::days(31) + Duration::nanoseconds(1))
                .is_err()
        );
        assert_eq!(
            base().with_duration(Duration::zero()).unwrap().duration(),
            Some(Duration::zero())
        );
    }

    #[test]
    fn summary_rules_redaction_and_erasure() {
        assert_eq!(
            base().with_summary(" \n ").unwrap_err(),
            ValidationError::Empty {
                field: "interaction.summary"
            }
        );
        assert!(matches!(
            base().with_summary("é".repeat(10_001)).unwrap_err(),
            ValidationError::TooLong {
                len: 10_001,
                max: 10_000,
                ..
            }
        ));
        let mut i = base()
            .with_summary("é".repeat(10_000))
            .unwrap()
            .with_summary("Angry about\nthe invoice")
            .unwrap();
        assert!(!format!("{i:?}").contains("Angry"));
        i.erase_personal();
        assert_eq!(i.summary(), None);
    }

    #[test]
    fn sentiment_range_is_inclusive() {
        assert!(Sentiment::new(Decimal::ONE).is_ok());
        assert!(Sentiment::new(Decimal::NEGATIVE_ONE).is_ok());
        // 1.0001 and -1.0001 are just outside.
        assert!(Sentiment::new(Decimal::new(10_001, 4)).is_err());
        assert!(Sentiment::new(Decimal::new(-10_001, 4)).is_err());
        assert!(serde_json::from_str::<Sentiment>("\"1.5\"").is_err());
        assert!(!Sentiment::NEUTRAL.is_positive() && !Sentiment::NEUTRAL.is_negative());
    }

    #[test]
    fn json_validates() {
        let i = base()
            .with_duration(Duration::milliseconds(1500))
            .unwrap()
            .with_handler(Handler::Agent {
                agent: AgentId::from_u128(3),
                team: None,
            });
        let mut v = serde_json::to_value(&i).unwrap();
        // 1500 ms = 1_500_000_000 ns.
        assert_eq!(v["duration_ns"], 1_500_000_000i64);
        assert_eq!(serde_json::from_value::<Interaction>(v.clone()).unwrap(), i);
        v["duration_ns"] = serde_json::json!(-5);
        assert!(serde_json::from_value::<Interaction>(v.clone()).is_err());
        v["duration_ns"] = serde_json::json!(null);
        v["summary"] = serde_json::json!("");
        assert!(serde_json::from_value::<Interaction>(v.clone()).is_err());
        v["summary"] = serde_json::json!(null);
        v["sentiment"] = serde_json::json!("-2");
        assert!(serde_json::from_value::<Interaction>(v).is_err());
    }

    proptest! {
        #[test]
        fn json_round_trip(i in strategies::interaction()) {
            let json = serde_json::to_string(&i).unwrap();
            prop_assert_eq!(serde_json::from_str::<Interaction>(&json).unwrap(), i);
        }

        #[test]
        fn arbitrary_json_never_panics(s in ".{0,200}", i in strategies::interaction(), cut in any::<prop::sample::Index>()) {
            let _ = serde_json::from_str::<Interaction>(&s);
            let json = serde_json::to_string(&i).unwrap();
            let mut cut_at = cut.index(json.len() + 1);
            while !json.is_char_boundary(cut_at) { cut_at -= 1; }
            let _ = serde_json::from_str::<Interaction>(&json[..cut_at]);
        }
    }
}
