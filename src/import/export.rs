//! Writes records as CSV that [`import`](super) reads back unchanged with
//! the default [`Mapping`](super::Mapping) and [`Format`](super::Format).
//!
//! Columns are every field of the kind ([`Kind::fields`]), in that order;
//! instants are RFC 3339 in UTC with as many fractional digits as needed;
//! contact points, attributes and consents are JSON cells. The output
//! contains personal data (names, contact points, comments, case bodies):
//! treat the files accordingly.
//!
//! # Example
//! ```
//! use chrono::{TimeZone, Utc};
//! use crmkit::domain::*;
//! use crmkit::import::{export, CsvRecords, Format, Kind, Mapping};
//! use rust_decimal::Decimal;
//! let at = Utc.with_ymd_and_hms(2026, 3, 1, 9, 0, 0).single().ok_or("invalid time")?;
//! let sale = Purchase::new(PurchaseId::from_u128(1), CustomerId::from_u128(2), at,
//!     PurchaseKind::Sale, Money::new(Decimal::new(4999, 2), Currency::EUR))?;
//! let mut csv = Vec::new();
//! export::write(&mut csv, [&sale])?;
//! let back = CsvRecords::<Purchase, _>::new("p.csv", csv.as_slice(), &Mapping::new(Kind::Purchases),
//!     &Format::default())?.collect_batch()?;
//! assert_eq!(back.valid, vec![sale]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::io::Write;

use super::entities::seconds;
use super::format::{name_of, write_instant};
use super::{Field, Kind};
use crate::domain::{
    Actor, Case, CaseEventKind, Customer, Handler, Interaction, Purchase, PurchaseKind, Rated,
    Segment, SurveyResponse,
};

/// Writing CSV failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExportError {
    /// The writer or the CSV encoder failed.
    #[error("writing CSV failed: {0}")]
    Csv(#[from] csv::Error),
    /// A JSON cell could not be encoded.
    #[error("encoding a JSON cell failed: {0}")]
    Json(#[from] serde_json::Error),
    /// A label contains the list separator, so the list cell could not be
    /// read back.
    #[error("{field}: the label {label:?} contains the list separator {separator:?}")]
    Separator {
        /// The list field.
        field: &'static str,
        /// The label.
        label: String,
        /// The separator.
        separator: char,
    },
    /// Flushing the writer failed.
    #[error("writing CSV failed: {0}")]
    Io(#[from] std::io::Error),
}

/// A record kind the exporter writes.
pub trait Exportable: super::private::Sealed {
    /// The kind of file.
    const KIND: Kind;
    /// The rows of one record (cases have one per event), each with one
    /// cell per field of [`Self::KIND`].
    #[doc(hidden)]
    fn rows(&self) -> Result<Vec<Vec<String>>, ExportError>;
}

/// Cells of one row, set by field name.
struct Cells {
    fields: &'static [Field],
    cells: Vec<String>,
}

impl Cells {
    fn new(kind: Kind) -> Self {
        let fields = kind.fields();
        Self {
            fields,
            cells: vec![String::new(); fields.len()],
        }
    }

    fn set(&mut self, field: &str, value: impl ToString) {
        if let Some(i) = self.fields.iter().position(|f| f.name == field)
            && let Some(c) = self.cells.get_mut(i)
        {
            *c = value.to_string();
        }
    }

    fn opt(&mut self, field: &str, value: Option<impl ToString>) {
        if let Some(v) = value {
            self.set(field, v);
        }
    }
}

const SEPARATOR: char = '|';

fn list<'a>(
    field: &'static str,
    labels: impl IntoIterator<Item = &'a Segment>,
) -> Result<String, ExportError> {
    let mut out = String::new();
    for (i, l) in labels.into_iter().enumerate() {
        if l.as_str().contains(SEPARATOR) {
            return Err(ExportError::Separator {
                field,
                label: l.as_str().to_owned(),
                separator: SEPARATOR,
            });
        }
        if i > 0 {
            out.push(SEPARATOR);
        }
        out.push_str(l.as_str());
    }
    Ok(out)
}

impl Exportable for Customer {
    const KIND: Kind = Kind::Customers;
    fn rows(&self) -> Result<Vec<Vec<String>>, ExportError> {
        let mut c = Cells::new(Self::KIND);
        c.set("id", self.id());
        c.opt("external_id", self.external_id());
        c.set("kind", name_of(&self.kind()));
        c.opt("display_name", self.display_name().map(|n| n.expose()));
        c.opt("given_name", self.given_name().map(|n| n.expose()));
        c.opt("family_name", self.family_name().map(|n| n.expose()));
        c.opt(
            "organisation_name",
            self.organisation_name().map(|n| n.expose()),
        );
        if !self.contact_points().is_empty() {
            c.set(
                "contact_points",
                serde_json::to_string(self.contact_points())?,
            );
        }
        c.opt("preferred_channel", self.preferred_channel());
        c.opt("locale", self.locale().map(|l| l.as_str()));
        c.set("time_zone", self.time_zone().name());
        c.set("lifecycle_stage", name_of(&self.lifecycle_stage()));
        c.set("segments", list("segments", self.segments())?);
        c.set("tags", list("tags", self.tags())?);
        if !self.attributes().is_empty() {
            c.set("attributes", serde_json::to_string(self.attributes())?);
        }
        if !self.consents().is_empty() {
            c.set("consents", serde_json::to_string(self.consents())?);
        }
        c.set("acquired_at", write_instant(self.acquired_at()));
        c.set("created_at", write_instant(self.created_at()));
        c.opt("erased_at", self.erased_at().map(write_instant));
        Ok(vec![c.cells])
    }
}

impl Exportable for Purchase {
    const KIND: Kind = Kind::Purchases;
    fn rows(&self) -> Result<Vec<Vec<String>>, ExportError> {
        let mut c = Cells::new(Self::KIND);
        c.set("id", self.id());
        c.set("customer_id", self.customer());
        c.opt("external_id", self.external_id());
        c.set("occurred_at", write_instant(self.occurred_at()));
        match self.kind() {
            PurchaseKind::Sale => c.set("kind", "sale"),
            PurchaseKind::Refund { of } => {
                c.set("kind", "refund");
                c.opt("refund_of", of);
            }
        }
        c.set("amount", self.amount().amount());
        c.set("currency", self.amount().currency());
        c.opt("margin", self.margin().map(|m| m.amount()));
        c.opt("order_reference", self.order_reference());
        Ok(vec![c.cells])
    }
}

impl Exportable for SurveyResponse {
    const KIND: Kind = Kind::Responses;
    fn rows(&self) -> Result<Vec<Vec<String>>, ExportError> {
        let mut c = Cells::new(Self::KIND);
        c.set("id", self.id());
        c.set("survey_id", self.survey());
        c.set("customer_id", self.customer());
        c.opt("external_id", self.external_id());
        c.opt("invitation_id", self.invitation());
        c.set("responded_at", write_instant(self.responded_at()));
        c.set("scale", self.scale());
        c.set("score", self.score());
        c.opt("comment", self.comment().map(|t| t.expose()));
        c.opt(
            "rates",
            self.rates().map(|r| match r {
                Rated::Interaction(i) => format!("interaction:{i}"),
                Rated::Case(i) => format!("case:{i}"),
                Rated::Purchase(i) => format!("purchase:{i}"),
            }),
        );
        c.set("segments", list("segments", self.segments())?);
        c.opt("agent_id", self.agent());
        c.opt("team_id", self.team());
        c.opt("channel", self.channel());
        c.opt("weight", self.weight());
        Ok(vec![c.cells])
    }
}

impl Exportable for Interaction {
    const KIND: Kind = Kind::Interactions;
    fn rows(&self) -> Result<Vec<Vec<String>>, ExportError> {
        let mut c = Cells::new(Self::KIND);
        c.set("id", self.id());
        c.set("customer_id", self.customer());
        c.set("channel", self.channel());
        c.set("direction", name_of(&self.direction()));
        c.set("purpose", name_of(&self.purpose()));
        c.set("occurred_at", write_instant(self.occurred_at()));
        c.opt("duration_seconds", self.duration().map(seconds));
        match self.handled_by() {
            Some(Handler::Agent { agent, team }) => {
                c.set("agent_id", agent);
                c.opt("team_id", team);
            }
            Some(Handler::Bot(b)) => c.set("bot_id", b),
            None => {}
        }
        c.opt("case_id", self.case());
        c.opt("summary", self.summary().map(|s| s.expose()));
        c.opt("sentiment", self.sentiment().map(|s| s.score()));
        Ok(vec![c.cells])
    }
}

impl Exportable for Case {
    const KIND: Kind = Kind::Cases;
    fn rows(&self) -> Result<Vec<Vec<String>>, ExportError> {
        let mut rows = Vec::with_capacity(self.events().len());
        for (i, e) in self.events().iter().enumerate() {
            let mut c = Cells::new(Self::KIND);
            c.set("case_id", self.id());
            if i == 0 {
                c.set("customer_id", self.customer());
                c.set("subject", self.subject().expose());
                c.set("priority", name_of(&self.priority()));
                c.set("channel", self.channel());
            }
            c.set("at", write_instant(e.at()));
            match e.actor() {
                Actor::Customer => c.set("actor", "customer"),
                Actor::System => c.set("actor", "system"),
                Actor::Agent(a) => {
                    c.set("actor", "agent");
                    c.set("actor_id", a);
                }
                Actor::Bot(b) => {
                    c.set("actor", "bot");
                    c.set("actor_id", b);
                }
            }
            match e.kind() {
                CaseEventKind::Created { public_message, .. } => {
                    c.set("event", "created");
                    c.set("public_message", public_message);
                }
                CaseEventKind::StatusChanged { to } => {
                    c.set("event", "status_changed");
                    c.set("status", to);
                }
                CaseEventKind::Assigned { agent, team } => {
                    c.set("event", "assigned");
                    c.opt("agent_id", agent);
                    c.opt("team_id", team);
                }
                other => c.set("event", name_of(&other)),
            }
            c.opt("body", e.body().map(|b| b.expose()));
            rows.push(c.cells);
        }
        Ok(rows)
    }
}

/// Writes `records` as one CSV file with a header row.
///
/// # Errors
/// [`ExportError`] when writing fails or a list label contains `|`.
pub fn write<'a, T: Exportable + 'a, W: Write>(
    out: W,
    records: impl IntoIterator<Item = &'a T>,
) -> Result<(), ExportError> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record(T::KIND.fields().iter().map(|f| f.name))?;
    for r in records {
        for row in r.rows()? {
            w.write_record(&row)?;
        }
    }
    w.flush()?;
    Ok(())
}
