//! The transport port: the application's own way to send a message (an
//! e-mail service, an SMS gateway, a phone queue for agents).
//!
//! crmkit calls [`Transport::send`] with the message fixed at planning time
//! and its [`IdempotencyKey`]. A message may be handed over more than once
//! (after a timeout, a crash, a failure report after delivery), always with
//! the same key and the same content, so a transport that deduplicates on
//! the key delivers it once. The transport resolves the customer's address
//! from the customer id, so the outbox holds no contact data.

use std::future::Future;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::IdempotencyKey;
use super::planner::SourceRef;
use super::policy::RuleId;
use crate::domain::{Channel, ConsentPurpose, CustomerId, Locale, Priority};

/// One follow-up as the transport receives it. Its content is fixed when
/// the task is planned; retries hand over the identical value.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutboundMessage {
    /// The customer to contact.
    pub customer: CustomerId,
    /// The channel; `None` for a task for a person (no consented channel,
    /// or an internal escalation) that the application routes to its staff.
    pub channel: Option<Channel>,
    /// Whether a person must handle it (never a bot).
    pub requires_human: bool,
    /// The rule that planned it; applications choose their template by it.
    pub template: RuleId,
    /// The consent purpose it is sent under.
    pub purpose: ConsentPurpose,
    /// The customer's locale, if known.
    pub locale: Option<Locale>,
    /// The event it follows up.
    pub source: SourceRef,
    /// How urgent it is.
    pub priority: Priority,
    /// When it is due.
    pub due: DateTime<Utc>,
}

/// The transport's confirmation that it accepted a message.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Receipt {
    /// The transport's own reference (a provider message id, a queue
    /// ticket); not personal data.
    pub reference: String,
    /// When the transport accepted it.
    pub accepted_at: DateTime<Utc>,
}

/// Why a transport did not confirm a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// A temporary failure (a 5xx, a network error): try again later.
    #[error("transport failed, retry later: {reason}")]
    Retryable {
        /// What happened.
        reason: String,
    },
    /// The call timed out: the message may or may not have been delivered.
    /// crmkit hands it over again under the same key.
    #[error("transport timed out")]
    Timeout,
    /// The provider asks to slow down.
    #[error("transport rate limited")]
    RateLimited {
        /// How long to wait, if the provider said.
        retry_after: Option<chrono::Duration>,
    },
    /// The message can never be delivered (an invalid address, a blocked
    /// recipient); it is not retried.
    #[error("transport rejected the message permanently: {reason}")]
    Permanent {
        /// What happened.
        reason: String,
    },
}

impl TransportError {
    /// Whether a later attempt may succeed.
    pub const fn is_retryable(&self) -> bool {
        !matches!(self, Self::Permanent { .. })
    }
}

/// The application's transport.
///
/// Contract: `send` may be called several times with the same key (always
/// with an identical message); an implementation that deduplicates on the
/// key delivers the message once. It returns a [`Receipt`] once it accepted
/// the message, or a classified [`TransportError`].
///
/// # Example
/// ```
/// use std::future::Future;
/// use crmkit::outreach::{IdempotencyKey, OutboundMessage, Receipt, Transport, TransportError};
///
/// struct Print;
/// impl Transport for Print {
///     fn send(&self, message: &OutboundMessage, key: IdempotencyKey)
///         -> impl Future<Output = Result<Receipt, TransportError>> + Send {
///         println!("{key}: {} via {:?}", message.template, message.channel);
///         let receipt = Receipt { reference: key.to_string(), accepted_at: message.due };
///         async move { Ok(receipt) }
///     }
/// }
/// ```
pub trait Transport: Send + Sync {
    /// Hands `message` over under `key`.
    fn send(
        &self,
        message: &OutboundMessage,
        key: IdempotencyKey,
    ) -> impl Future<Output = Result<Receipt, TransportError>> + Send;
}
