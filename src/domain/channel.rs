//! Contact channels and short labels shared by several aggregates.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::domain::id::validate_text;
use crate::error::ValidationError;

/// A channel on which a customer and the business interact.
///
/// # Example
/// ```
/// use crmkit::domain::Channel;
/// assert_eq!(Channel::LiveChat.to_string(), "live_chat");
/// assert_eq!(serde_json::to_string(&Channel::Sms)?, "\"sms\"");
/// assert!(Channel::Chatbot.is_automated());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// E-mail.
    Email,
    /// A phone call.
    Phone,
    /// Live chat with a person.
    LiveChat,
    /// A chatbot conversation.
    Chatbot,
    /// A social media platform (messages, mentions, comments).
    SocialMedia,
    /// SMS or other text messages.
    Sms,
    /// In person (a shop, a branch, a visit).
    InPerson,
    /// Fax.
    Fax,
    /// A form on a website.
    WebForm,
    /// A paper letter.
    Letter,
}

impl Channel {
    /// Every channel, in declaration order.
    pub const ALL: [Channel; 10] = [
        Channel::Email,
        Channel::Phone,
        Channel::LiveChat,
        Channel::Chatbot,
        Channel::SocialMedia,
        Channel::Sms,
        Channel::InPerson,
        Channel::Fax,
        Channel::WebForm,
        Channel::Letter,
    ];

    /// The channel's name as used in serde and storage (`live_chat`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Channel::Email => "email",
            Channel::Phone => "phone",
            Channel::LiveChat => "live_chat",
            Channel::Chatbot => "chatbot",
            Channel::SocialMedia => "social_media",
            Channel::Sms => "sms",
            Channel::InPerson => "in_person",
            Channel::Fax => "fax",
            Channel::WebForm => "web_form",
            Channel::Letter => "letter",
        }
    }

    /// Whether a machine, not a person, answers on this channel.
    pub const fn is_automated(self) -> bool {
        matches!(self, Channel::Chatbot)
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Channel {
    type Err = ValidationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Channel::ALL.into_iter().find(|c| c.as_str() == s).ok_or_else(|| ValidationError::Format {
            field: "channel",
            value: s.to_owned(),
            reason: "expected one of email, phone, live_chat, chatbot, social_media, sms, in_person, fax, web_form, letter",
        })
    }
}

/// A segment or tag label ("enterprise", "emea", "vip"): 1-64 characters, no
/// control characters, no surrounding white space. Not personal data.
///
/// # Example
/// ```
/// use crmkit::domain::Segment;
/// let s = Segment::new("enterprise")?;
/// assert_eq!(s.as_str(), "enterprise");
/// assert!(Segment::new("").is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Segment(String);

impl Segment {
    /// The longest label accepted, in characters.
    pub const MAX_LEN: usize = 64;

    /// Validates a label.
    ///
    /// # Errors
    /// [`ValidationError::Empty`], [`ValidationError::TooLong`] or
    /// [`ValidationError::Format`].
    pub fn new(value: impl Into<String>) -> Result<Self, ValidationError> {
        let value = value.into();
        validate_text("segment", &value, Self::MAX_LEN)?;
        Ok(Self(value))
    }

    /// The label.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Segment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for Segment {
    type Error = ValidationError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl From<Segment> for String {
    fn from(s: Segment) -> Self {
        s.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_names_round_trip() {
        for c in Channel::ALL {
            assert_eq!(c.as_str().parse::<Channel>().unwrap(), c);
            assert_eq!(
                serde_json::to_string(&c).unwrap(),
                format!("\"{}\"", c.as_str())
            );
        }
        assert_eq!("pigeon".parse::<Channel>().unwrap_err().field(), "channel");
    }

    #[test]
    fn segment_rules() {
        assert!(Segment::new("a".repeat(65)).is_err());
        assert!(Segment::new("vip\t").is_err());
        assert!(serde_json::from_str::<Segment>("\" x\"").is_err());
    }
}

#[cfg(any(test, feature = "proptest"))]
pub(crate) mod strategies {
    use super::*;
    use proptest::prelude::*;

    /// Any channel.
    pub fn channel() -> impl Strategy<Value = Channel> {
        prop::sample::select(Channel::ALL.to_vec())
    }

    /// A segment label from a small realistic set, so groups collide.
    pub fn segment() -> impl Strategy<Value = Segment> {
        "(enterprise|smb|consumer|emea|apac|amer|vip|trial)"
            .prop_filter_map("valid segment", |s| Segment::new(s).ok())
    }
}
