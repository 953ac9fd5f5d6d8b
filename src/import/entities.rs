//! The columns of customer, purchase, response and interaction files, and
//! how a row becomes a domain value.

use std::collections::{BTreeMap, BTreeSet};

use rust_decimal::Decimal;
use uuid::Uuid;

use super::format::{boolean, integer, named, scale, time_zone};
use super::{CellError, Field, Importable, Kind, Reason, Row};
use crate::domain::{
    AttributeKey, AttributeValue, Channel, ConsentRecord, ContactPoint, ContactValue, Currency,
    Customer, CustomerKind, EmailAddress, ExternalId, Handler, Interaction, Locale, Money,
    PhoneNumber, Purchase, PurchaseKind, Rated, Segment, Sentiment, SurveyResponse,
};
use crate::error::ValidationError;

const fn req(name: &'static str, doc: &'static str) -> Field {
    Field {
        name,
        required: true,
        doc,
    }
}

const fn opt(name: &'static str, doc: &'static str) -> Field {
    Field {
        name,
        required: false,
        doc,
    }
}

pub(super) const CUSTOMER_FIELDS: &[Field] = &[
    req(
        "id",
        "the customer id (a UUID, or any text with IdPolicy::FromText)",
    ),
    opt("external_id", "the id in your own system"),
    opt("kind", "individual (default), business or internal"),
    opt("display_name", "the name to show"),
    opt("given_name", "the given name"),
    opt("family_name", "the family name"),
    opt(
        "organisation_name",
        "the organisation name (business customers only)",
    ),
    opt(
        "email",
        "an e-mail address, added as an unverified contact point",
    ),
    opt(
        "phone",
        "an E.164 phone number, added as an unverified contact point",
    ),
    opt(
        "contact_points",
        "every contact point as a JSON array (what the exporter writes)",
    ),
    opt("preferred_channel", "email, phone, live_chat, ..."),
    opt("locale", "a BCP 47 language tag"),
    opt(
        "time_zone",
        "an IANA time zone; default: the format's time zone",
    ),
    opt(
        "lifecycle_stage",
        "lead (default), prospect, active, at_risk, churned or reactivated",
    ),
    opt("segments", "segment labels separated by the list separator"),
    opt("tags", "tag labels separated by the list separator"),
    opt("attributes", "custom attributes as a JSON object"),
    opt(
        "consents",
        "the consent history as a JSON array, oldest first",
    ),
    req("acquired_at", "when the customer was acquired"),
    opt(
        "created_at",
        "when the record was created; default: acquired_at",
    ),
    opt("erased_at", "when the customer's personal data was erased"),
];

pub(super) const PURCHASE_FIELDS: &[Field] = &[
    req("id", "the purchase id"),
    req("customer_id", "the customer's id"),
    opt("external_id", "the id in your own system"),
    req("occurred_at", "when it happened"),
    opt("kind", "sale (default) or refund"),
    opt("refund_of", "for a refund, the id of the sale refunded"),
    req(
        "amount",
        "the amount, non-negative (a refund's amount is the positive amount given back)",
    ),
    opt(
        "currency",
        "an ISO 4217 code; default: the format's default currency",
    ),
    opt("margin", "the margin, in the same currency"),
    opt("order_reference", "the order number"),
];

pub(super) const RESPONSE_FIELDS: &[Field] = &[
    req("id", "the response id"),
    req("survey_id", "the survey's id"),
    req("customer_id", "the customer's id"),
    opt("external_id", "the id in your own system"),
    opt("invitation_id", "the invitation answered"),
    req("responded_at", "when the customer answered"),
    opt(
        "scale",
        "the survey's scale, 0..=10 or 1-5; default: the format's default scale",
    ),
    req("score", "the score, a whole number on the scale"),
    opt("comment", "the customer's comment"),
    opt(
        "rates",
        "what is rated: interaction:ID, case:ID or purchase:ID",
    ),
    opt(
        "segments",
        "the customer's segments when answering, list separated",
    ),
    opt("agent_id", "the agent responsible when answering"),
    opt("team_id", "the team responsible when answering"),
    opt("channel", "the channel the answer came in on"),
    opt("weight", "a positive post-stratification weight"),
];

pub(super) const INTERACTION_FIELDS: &[Field] = &[
    req("id", "the interaction id"),
    req("customer_id", "the customer's id"),
    req(
        "channel",
        "email, phone, live_chat, chatbot, social_media, sms, in_person, fax, web_form or letter",
    ),
    req("direction", "inbound or outbound"),
    req(
        "purpose",
        "inquiry, complaint, support, sales, follow_up, feedback, onboarding or newsletter",
    ),
    req("occurred_at", "when it happened"),
    opt(
        "duration_seconds",
        "how long it lasted, in seconds (up to 9 decimals)",
    ),
    opt("agent_id", "the agent who handled it"),
    opt("team_id", "the agent's team (only with an agent)"),
    opt("bot_id", "the bot that handled it (not with an agent)"),
    opt("case_id", "the case it belongs to"),
    opt("summary", "a summary (personal data)"),
    opt("sentiment", "a score from -1 to 1"),
];

fn segments(row: &Row<'_>, field: &'static str) -> Result<BTreeSet<Segment>, CellError> {
    Ok(row
        .cell(field, |s| {
            row.format
                .list(s)
                .map(Segment::new)
                .collect::<Result<BTreeSet<_>, _>>()
        })?
        .unwrap_or_default())
}

fn json<T: serde::de::DeserializeOwned>(
    field: &'static str,
    s: &str,
) -> Result<T, ValidationError> {
    serde_json::from_str(s).map_err(|e| ValidationError::Inconsistent {
        field,
        reason: format!("not valid JSON for this column: {e}"),
    })
}

fn ext(row: &Row<'_>) -> Result<Option<ExternalId>, CellError> {
    row.cell("external_id", |s| ExternalId::new(s))
}

fn id<I: From<Uuid>>(
    row: &Row<'_>,
    field: &'static str,
    kind: &'static str,
) -> Result<I, CellError> {
    row.required(field, |s| row.format.id(field, kind, s))
}

fn opt_id<I: From<Uuid>>(
    row: &Row<'_>,
    field: &'static str,
    kind: &'static str,
) -> Result<Option<I>, CellError> {
    row.cell(field, |s| row.format.id(field, kind, s))
}

impl Importable for Customer {
    const KIND: Kind = Kind::Customers;

    fn unique_id(&self) -> Uuid {
        self.id().as_uuid()
    }

    fn from_row(row: &Row<'_>) -> Result<Self, CellError> {
        let f = row.format;
        let kind = row
            .cell("kind", |s| {
                named::<CustomerKind>("kind", s, "expected individual, business or internal")
            })?
            .unwrap_or(CustomerKind::Individual);
        let acquired = row.required("acquired_at", |s| f.instant("acquired_at", s))?;
        let mut b = Customer::builder(id(row, "id", "customer")?, kind, acquired).time_zone(
            row.cell("time_zone", |s| time_zone("time_zone", s))?
                .unwrap_or(f.time_zone),
        );
        if let Some(e) = ext(row)? {
            b = b.external_id(e);
        }
        if let Some(n) = row.text("display_name") {
            b = b.display_name(n);
        }
        if let Some(n) = row.text("given_name") {
            b = b.given_name(n);
        }
        if let Some(n) = row.text("family_name") {
            b = b.family_name(n);
        }
        if let Some(n) = row.text("organisation_name") {
            b = b.organisation_name(n);
        }
        for cp in row
            .cell("contact_points", |s| {
                json::<Vec<ContactPoint>>("contact_points", s)
            })?
            .unwrap_or_default()
        {
            b = b.contact_point(cp);
        }
        if let Some(e) = row.cell("email", |s| EmailAddress::new(s))? {
            b = b.contact_point(ContactPoint::new(ContactValue::Email(e), false, None));
        }
        if let Some(p) = row.cell("phone", |s| PhoneNumber::new(s))? {
            b = b.contact_point(ContactPoint::new(ContactValue::Phone(p), false, None));
        }
        if let Some(c) = row.cell("preferred_channel", str::parse::<Channel>)? {
            b = b.preferred_channel(c);
        }
        if let Some(l) = row.cell("locale", |s| Locale::new(s))? {
            b = b.locale(l);
        }
        if let Some(st) = row.cell("lifecycle_stage", |s| {
            named(
                "lifecycle_stage",
                s,
                "expected lead, prospect, active, at_risk, churned or reactivated",
            )
        })? {
            b = b.lifecycle_stage(st);
        }
        for s in segments(row, "segments")? {
            b = b.segment(s);
        }
        for t in segments(row, "tags")? {
            b = b.tag(t);
        }
        for (k, v) in row
            .cell("attributes", |s| {
                json::<BTreeMap<AttributeKey, AttributeValue>>("attributes", s)
            })?
            .unwrap_or_default()
        {
            b = b.attribute(k, v);
        }
        for c in row
            .cell("consents", |s| json::<Vec<ConsentRecord>>("consents", s))?
            .unwrap_or_default()
        {
            b = b.consent(c);
        }
        if let Some(c) = row.cell("created_at", |s| f.instant("created_at", s))? {
            b = b.created_at(c);
        }
        let mut c = b.build().map_err(CellError::row)?;
        if let Some(at) = row.cell("erased_at", |s| f.instant("erased_at", s))? {
            // Erasing here must not remove anything: an erased customer with
            // personal data in the file is a contradiction, not something to
            // clean up silently.
            let personal = c.display_name().is_some()
                || c.given_name().is_some()
                || c.family_name().is_some()
                || c.organisation_name().is_some()
                || !c.contact_points().is_empty()
                || c.attributes()
                    .values()
                    .any(|v| matches!(v, AttributeValue::Text(_)))
                || c.consents().iter().any(|r| r.evidence.is_some());
            if personal {
                return Err(CellError {
                    field: Some("erased_at"),
                    reason: Reason::Invalid(ValidationError::Inconsistent {
                        field: "erased_at",
                        reason: "an erased customer still holds personal data".into(),
                    }),
                });
            }
            c.erase(at);
        }
        Ok(c)
    }
}

fn money(
    row: &Row<'_>,
    field: &'static str,
    currency: Option<Currency>,
) -> Result<Option<Money>, CellError> {
    let Some(amount) = row.cell(field, |s| row.format.decimal(field, s))? else {
        return Ok(None);
    };
    let currency = currency.ok_or(CellError {
        field: Some("currency"),
        reason: Reason::Invalid(ValidationError::Empty { field: "currency" }),
    })?;
    Ok(Some(Money::new(amount, currency)))
}

impl Importable for Purchase {
    const KIND: Kind = Kind::Purchases;

    fn unique_id(&self) -> Uuid {
        self.id().as_uuid()
    }

    fn from_row(row: &Row<'_>) -> Result<Self, CellError> {
        let f = row.format;
        let pid = id(row, "id", "purchase")?;
        let customer = id(row, "customer_id", "customer")?;
        let at = row.required("occurred_at", |s| f.instant("occurred_at", s))?;
        let refund = row
            .cell("kind", |s| match s {
                "sale" => Ok(false),
                "refund" => Ok(true),
                _ => Err(ValidationError::Format {
                    field: "kind",
                    value: s.to_owned(),
                    reason: "expected sale or refund",
                }),
            })?
            .unwrap_or(false);
        let of = opt_id(row, "refund_of", "purchase")?;
        if of.is_some() && !refund {
            return Err(CellError {
                field: Some("refund_of"),
                reason: Reason::Invalid(ValidationError::Inconsistent {
                    field: "refund_of",
                    reason: "only a refund refunds a sale".into(),
                }),
            });
        }
        let kind = if refund {
            PurchaseKind::Refund { of }
        } else {
            PurchaseKind::Sale
        };
        let currency = row.cell("currency", Currency::new)?.or(f.default_currency);
        let amount = money(row, "amount", currency)?.ok_or(CellError {
            field: Some("amount"),
            reason: Reason::Invalid(ValidationError::Empty { field: "amount" }),
        })?;
        let mut p = Purchase::new(pid, customer, at, kind, amount).map_err(|e| CellError {
            field: Some("amount"),
            reason: Reason::Invalid(e),
        })?;
        if let Some(e) = ext(row)? {
            p = p.with_external_id(e);
        }
        if let Some(m) = money(row, "margin", currency)? {
            p = p.with_margin(m).map_err(|e| CellError {
                field: Some("margin"),
                reason: Reason::Invalid(e),
            })?;
        }
        if let Some(o) = row.text("order_reference") {
            p = p.with_order_reference(o).map_err(|e| CellError {
                field: Some("order_reference"),
                reason: Reason::Invalid(e),
            })?;
        }
        Ok(p)
    }
}

fn rated(row: &Row<'_>, s: &str) -> Result<Rated, ValidationError> {
    let bad = || ValidationError::Format {
        field: "rates",
        value: s.to_owned(),
        reason: "expected interaction:ID, case:ID or purchase:ID",
    };
    let (kind, id) = s.split_once(':').ok_or_else(bad)?;
    let f = row.format;
    match kind {
        "interaction" => Ok(Rated::Interaction(f.id("rates", "interaction", id)?)),
        "case" => Ok(Rated::Case(f.id("rates", "case", id)?)),
        "purchase" => Ok(Rated::Purchase(f.id("rates", "purchase", id)?)),
        _ => Err(bad()),
    }
}

impl Importable for SurveyResponse {
    const KIND: Kind = Kind::Responses;

    fn unique_id(&self) -> Uuid {
        self.id().as_uuid()
    }

    fn from_row(row: &Row<'_>) -> Result<Self, CellError> {
        let f = row.format;
        let rid = id(row, "id", "response")?;
        let survey = id(row, "survey_id", "survey")?;
        let customer = id(row, "customer_id", "customer")?;
        let at = row.required("responded_at", |s| f.instant("responded_at", s))?;
        let sc = row
            .cell("scale", |s| scale("scale", s))?
            .or(f.default_scale)
            .ok_or(CellError {
                field: Some("scale"),
                reason: Reason::Invalid(ValidationError::Empty { field: "scale" }),
            })?;
        let score = row.required("score", |s| integer("score", s))?;
        let mut r =
            SurveyResponse::on_scale(rid, survey, sc, customer, at, score).map_err(|e| {
                CellError {
                    field: Some("score"),
                    reason: Reason::Invalid(e),
                }
            })?;
        if let Some(c) = row.text("comment") {
            r = r.with_comment(c).map_err(|e| CellError {
                field: Some("comment"),
                reason: Reason::Invalid(e),
            })?;
        }
        if let Some(w) = row.cell("weight", |s| f.decimal("weight", s))? {
            r = r.with_weight(w).map_err(|e| CellError {
                field: Some("weight"),
                reason: Reason::Invalid(e),
            })?;
        }
        if let Some(e) = ext(row)? {
            r = r.with_external_id(e);
        }
        if let Some(i) = opt_id(row, "invitation_id", "invitation")? {
            r = r.with_invitation(i);
        }
        if let Some(x) = row.cell("rates", |s| rated(row, s))? {
            r = r.with_rates(x);
        }
        r = r.with_segments(segments(row, "segments")?);
        if let Some(a) = opt_id(row, "agent_id", "agent")? {
            r = r.with_agent(a);
        }
        if let Some(t) = opt_id(row, "team_id", "team")? {
            r = r.with_team(t);
        }
        if let Some(c) = row.cell("channel", str::parse::<Channel>)? {
            r = r.with_channel(c);
        }
        Ok(r)
    }
}

fn duration(field: &'static str, seconds: Decimal) -> Result<chrono::Duration, ValidationError> {
    let nanos = seconds
        .checked_mul(Decimal::from(1_000_000_000u32))
        .filter(|n| n.fract().is_zero())
        .and_then(|n| i64::try_from(n).ok())
        .ok_or_else(|| ValidationError::Format {
            field,
            value: seconds.to_string(),
            reason: "expected seconds with at most 9 decimals",
        })?;
    Ok(chrono::Duration::nanoseconds(nanos))
}

/// Seconds as the exporter writes them: exact, without trailing zeros.
pub(super) fn seconds(d: chrono::Duration) -> String {
    d.num_nanoseconds()
        .map(|n| Decimal::new(n, 9).normalize().to_string())
        .unwrap_or_default()
}

impl Importable for Interaction {
    const KIND: Kind = Kind::Interactions;

    fn unique_id(&self) -> Uuid {
        self.id().as_uuid()
    }

    fn from_row(row: &Row<'_>) -> Result<Self, CellError> {
        let f = row.format;
        let iid = id(row, "id", "interaction")?;
        let customer = id(row, "customer_id", "customer")?;
        let channel = row.required("channel", str::parse::<Channel>)?;
        let direction = row.required("direction", |s| {
            named("direction", s, "expected inbound or outbound")
        })?;
        let purpose = row.required("purpose", |s| {
            named(
                "purpose",
                s,
                "expected inquiry, complaint, support, sales, follow_up, feedback, onboarding or newsletter",
            )
        })?;
        let at = row.required("occurred_at", |s| f.instant("occurred_at", s))?;
        let mut i = Interaction::new(iid, customer, channel, direction, purpose, at);
        if let Some(d) = row.cell("duration_seconds", |s| {
            duration("duration_seconds", f.decimal("duration_seconds", s)?)
        })? {
            i = i.with_duration(d).map_err(|e| CellError {
                field: Some("duration_seconds"),
                reason: Reason::Invalid(e),
            })?;
        }
        let agent = opt_id(row, "agent_id", "agent")?;
        let team = opt_id(row, "team_id", "team")?;
        let bot = opt_id(row, "bot_id", "bot")?;
        let handler = match (agent, team, bot) {
            (None, None, None) => None,
            (Some(agent), team, None) => Some(Handler::Agent { agent, team }),
            (None, None, Some(b)) => Some(Handler::Bot(b)),
            (None, Some(_), _) => {
                return Err(CellError {
                    field: Some("team_id"),
                    reason: Reason::Invalid(ValidationError::Inconsistent {
                        field: "team_id",
                        reason: "a team is recorded only with its agent".into(),
                    }),
                });
            }
            (Some(_), _, Some(_)) => {
                return Err(CellError {
                    field: Some("bot_id"),
                    reason: Reason::Invalid(ValidationError::Inconsistent {
                        field: "bot_id",
                        reason: "an interaction is handled by an agent or a bot, not both".into(),
                    }),
                });
            }
        };
        if let Some(h) = handler {
            i = i.with_handler(h);
        }
        if let Some(c) = opt_id(row, "case_id", "case")? {
            i = i.with_case(c);
        }
        if let Some(s) = row.text("summary") {
            i = i.with_summary(s).map_err(|e| CellError {
                field: Some("summary"),
                reason: Reason::Invalid(e),
            })?;
        }
        if let Some(s) = row.cell("sentiment", |s| Sentiment::new(f.decimal("sentiment", s)?))? {
            i = i.with_sentiment(s);
        }
        Ok(i)
    }
}

/// Keeps `boolean` used by both row parsers.
pub(super) fn flag(row: &Row<'_>, field: &'static str) -> Result<Option<bool>, CellError> {
    row.cell(field, |s| boolean(field, s))
}
