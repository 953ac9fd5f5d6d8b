//! Purchases: sales and refunds, immutable facts.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::{CustomerId, ExternalId, Money, PurchaseId};
use crate::error::ValidationError;

/// Whether a purchase is a sale or a refund.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PurchaseKind {
    /// Money received.
    Sale,
    /// Money given back, optionally for a known sale.
    Refund {
        /// The sale refunded, if known.
        of: Option<PurchaseId>,
    },
}

/// A sale or a refund: an immutable fact (corrections are new refunds).
///
/// `amount` is always non-negative: for a sale the amount received (may be
/// zero), for a refund the amount refunded as a **positive** number.
/// [`Purchase::signed_amount`] gives refunds a negative sign for revenue sums.
/// The optional `margin` is in the same currency, is at most the amount, and
/// for a refund is the margin given back (also signed by
/// [`Purchase::signed_margin`]). A sale's margin may be negative (sold at a loss).
///
/// # Example
/// ```
/// use chrono::{TimeZone, Utc};
/// use crmkit::domain::*;
/// use rust_decimal::Decimal;
/// let at = Utc.with_ymd_and_hms(2026, 3, 1, 9, 0, 0).single().ok_or("invalid time")?;
/// let eur = |cents| Money::new(Decimal::new(cents, 2), Currency::EUR);
/// let sale = Purchase::new(PurchaseId::from_u128(1), CustomerId::from_u128(2), at,
///     PurchaseKind::Sale, eur(4999))?
///     .with_margin(eur(1500))?;
/// let refund = Purchase::new(PurchaseId::from_u128(3), CustomerId::from_u128(2), at,
///     PurchaseKind::Refund { of: Some(sale.id()) }, eur(4999))?;
/// assert_eq!(refund.signed_amount(), eur(-4999));
/// assert!(sale.clone().with_margin(eur(5000)).is_err()); // margin above amount
/// let back: Purchase = serde_json::from_str(&serde_json::to_string(&sale)?)?;
/// assert_eq!(back, sale);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "PurchaseRepr", into = "PurchaseRepr")]
pub struct Purchase {
    id: PurchaseId,
    customer: CustomerId,
    external_id: Option<ExternalId>,
    occurred_at: DateTime<Utc>,
    kind: PurchaseKind,
    amount: Money,
    margin: Option<Money>,
    order_reference: Option<String>,
}

impl Purchase {
    /// The longest order reference accepted, in characters.
    pub const ORDER_REFERENCE_MAX_LEN: usize = 128;

    /// A purchase without external id, margin or order reference.
    ///
    /// # Errors
    /// [`ValidationError::OutOfRange`] if a sale's amount is negative or a
    /// refund's amount is not positive; [`ValidationError::Inconsistent`] if a
    /// refund refers to itself.
    pub fn new(
        id: PurchaseId,
        customer: CustomerId,
        occurred_at: DateTime<Utc>,
        kind: PurchaseKind,
        amount: Money,
    ) -> Result<Self, ValidationError> {
        match kind {
            PurchaseKind::Sale if amount.is_negative() => {
                return Err(ValidationError::OutOfRange {
                    field: "purchase.amount",
                    value: amount.to_string(),
                    range: ">= 0 for a sale".into(),
                });
            }
            PurchaseKind::Refund { of } => {
                if amount.is_negative() || amount.is_zero() {
                    return Err(ValidationError::OutOfRange {
                        field: "purchase.amount",
                        value: amount.to_string(),
                        range: "> 0 for a refund (the amount refunded)".into(),
                    });
                }
                if of == Some(id) {
                    return Err(ValidationError::Inconsistent {
                        field: "purchase.kind",
                        reason: format!("refund {id} refers to itself"),
                    });
                }
            }
            PurchaseKind::Sale => {}
        }
        Ok(Self {
            id,
            customer,
            external_id: None,
            occurred_at,
            kind,
            amount,
            margin: None,
            order_reference: None,
        })
    }

    /// Sets the id in the source system.
    pub fn with_external_id(mut self, external_id: ExternalId) -> Self {
        self.external_id = Some(external_id);
        self
    }

    /// Sets the margin.
    ///
    /// # Errors
    /// [`ValidationError::Inconsistent`] if its currency differs from the
    /// amount's or it exceeds the amount.
    pub fn with_margin(mut self, margin: Money) -> Result<Self, ValidationError> {
        if margin.currency() != self.amount.currency() {
            return Err(ValidationError::Inconsistent {
                field: "purchase.margin",
                reason: format!(
                    "margin in {} but amount in {}",
                    margin.currency(),
                    self.amount.currency()
                ),
            });
        }
        if margin.amount() > self.amount.amount() {
            return Err(ValidationError::Inconsistent {
                field: "purchase.margin",
                reason: format!("margin {margin} exceeds amount {}", self.amount),
            });
        }
        self.margin = Some(margin);
        Ok(self)
    }

    /// Sets the order reference (single line, at most
    /// [`Purchase::ORDER_REFERENCE_MAX_LEN`] characters).
    ///
    /// # Errors
    /// [`ValidationError::Empty`], [`ValidationError::TooLong`] or
    /// [`ValidationError::Format`].
    pub fn with_order_reference(
        mut self,
        reference: impl Into<String>,
    ) -> Result<Self, ValidationError> {
        let reference = reference.into();
        crate::domain::id::validate_text(
            "purchase.order_reference",
            &reference,
            Self::ORDER_REFERENCE_MAX_LEN,
        )?;
        self.order_reference = Some(reference);
        Ok(self)
    }

    /// The amount with refunds negative: what the purchase adds to revenue.
    pub fn signed_amount(&self) -> Money {
        match self.kind {
            PurchaseKind::Sale => self.amount,
            PurchaseKind::Refund { .. } => self.amount.negated(),
        }
    }

    /// The margin with refunds negative, if known.
    pub fn signed_margin(&self) -> Option<Money> {
        self.margin.map(|m| match self.kind {
            PurchaseKind::Sale => m,
            PurchaseKind::Refund { .. } => m.negated(),
        })
    }

    /// Whether this is a refund.
    pub const fn is_refund(&self) -> bool {
        matches!(self.kind, PurchaseKind::Refund { .. })
    }

    /// The id.
    pub const fn id(&self) -> PurchaseId {
        self.id
    }
    /// The customer.
    pub const fn customer(&self) -> CustomerId {
        self.customer
    }
    /// The id in the source system, if any.
    pub const fn external_id(&self) -> Option<&ExternalId> {
        self.external_id.as_ref()
    }
    /// When it happened.
    pub const fn occurred_at(&self) -> DateTime<Utc> {
        self.occurred_at
    }
    /// Sale or refund.
    pub const fn kind(&self) -> PurchaseKind {
        self.kind
    }
    /// The amount, never negative (see the type's documentation).
    pub const fn amount(&self) -> Money {
        self.amount
    }
    /// The margin, if known.
    pub const fn margin(&self) -> Option<Money> {
        self.margin
    }
    /// The order reference, if any.
    pub fn order_reference(&self) -> Option<&str> {
        self.order_reference.as_deref()
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PurchaseRepr {
    id: PurchaseId,
    customer: CustomerId,
    #[serde(default)]
    external_id: Option<ExternalId>,
    occurred_at: DateTime<Utc>,
    kind: PurchaseKind,
    amount: Money,
    #[serde(default)]
    margin: Option<Money>,
    #[serde(default)]
    order_reference: Option<String>,
}

impl TryFrom<PurchaseRepr> for Purchase {
    type Error = ValidationError;
    fn try_from(r: PurchaseRepr) -> Result<Self, Self::Error> {
        let mut p = Purchase::new(r.id, r.customer, r.occurred_at, r.kind, r.amount)?;
        p.external_id = r.external_id;
        if let Some(m) = r.margin {
            p = p.with_margin(m)?;
        }
        if let Some(o) = r.order_reference {
            p = p.with_order_reference(o)?;
        }
        Ok(p)
    }
}

impl From<Purchase> for PurchaseRepr {
    fn from(p: Purchase) -> Self {
        Self {
            id: p.id,
            customer: p.customer,
            external_id: p.external_id,
            occurred_at: p.occurred_at,
            kind: p.kind,
            amount: p.amount,
            margin: p.margin,
            order_reference: p.order_reference,
        }
    }
}

#[cfg(any(test, feature = "proptest"))]
pub(crate) mod strategies {
    use super::*;
    use crate::domain::id::strategies::external_id;
    use crate::domain::money::strategies::currency;
    use crate::domain::period::strategies::instant;
    use proptest::prelude::*;
    use rust_decimal::Decimal;

    /// A valid sale or refund, with any mix of optional fields.
    pub fn purchase() -> impl Strategy<Value = Purchase> {
        (
            (any::<u128>(), any::<u128>(), instant(), currency()),
            prop_oneof![
                Just(None),
                Just(Some(None)),
                any::<u128>().prop_map(|o| Some(Some(o)))
            ],
            (1i64..=10_000_000, 0u32..=2, any::<bool>()),
            proptest::option::of((-100i64..=100, any::<bool>())),
            proptest::option::of(external_id()),
            proptest::option::of("[A-Z]{2}-[0-9]{1,10}"),
        )
            .prop_map(
                |((id, c, at, cur), refund, (units, scale, zero), margin, ext, order)| {
                    let kind = match refund {
                        None => PurchaseKind::Sale,
                        Some(of) => PurchaseKind::Refund {
                            // A refund never refers to itself.
                            of: of.filter(|o| *o != id).map(PurchaseId::from_u128),
                        },
                    };
                    let units = if zero && kind == PurchaseKind::Sale {
                        0
                    } else {
                        units
                    };
                    let amount = Money::new(Decimal::new(units, scale), cur);
                    // Margin as a percentage of the amount: -100 %..=100 %, so never above it.
                    let margin = margin.map(|(pct, _)| {
                        Money::new((amount.amount() * Decimal::new(pct, 2)).round_dp(4), cur)
                    });
                    Purchase {
                        id: PurchaseId::from_u128(id),
                        customer: CustomerId::from_u128(c),
                        external_id: ext,
                        occurred_at: at,
                        kind,
                        amount,
                        margin,
                        order_reference: order,
                    }
                },
            )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Currency;
    use chrono::TimeZone;
    use proptest::prelude::*;
    use rust_decimal_macros::dec;

    fn at() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 1, 9, 0, 0).unwrap()
    }
    fn eur(d: rust_decimal::Decimal) -> Money {
        Money::new(d, Currency::EUR)
    }
    fn p(kind: PurchaseKind, amount: Money) -> Result<Purchase, ValidationError> {
        Purchase::new(
            PurchaseId::from_u128(1),
            CustomerId::from_u128(2),
            at(),
            kind,
            amount,
        )
    }
    const REFUND: PurchaseKind = PurchaseKind::Refund { of: None };

    #[test]
    fn sale_amounts_are_non_negative() {
        assert!(p(PurchaseKind::Sale, eur(dec!(0))).is_ok());
        assert!(matches!(
            p(PurchaseKind::Sale, eur(dec!(-0.01))).unwrap_err(),
            ValidationError::OutOfRange {
                field: "purchase.amount",
                ..
            }
        ));
    }

    #[test]
    fn refunds_are_positive_and_signed_negative() {
        assert!(p(REFUND, eur(dec!(0))).is_err());
        assert!(p(REFUND, eur(dec!(-5))).is_err());
        let r = p(REFUND, eur(dec!(5)))
            .unwrap()
            .with_margin(eur(dec!(2)))
            .unwrap();
        assert!(r.is_refund());
        assert_eq!(r.amount(), eur(dec!(5)));
        assert_eq!(r.signed_amount(), eur(dec!(-5)));
        assert_eq!(r.signed_margin(), Some(eur(dec!(-2))));
        let s = p(PurchaseKind::Sale, eur(dec!(5))).unwrap();
        assert_eq!(s.signed_amount(), eur(dec!(5)));
        assert!(matches!(
            p(
                PurchaseKind::Refund {
                    of: Some(PurchaseId::from_u128(1))
                },
                eur(dec!(5))
            )
            .unwrap_err(),
            ValidationError::Inconsistent {
                field: "purchase.kind",
                ..
            }
        ));
    }

    #[test]
    fn margin_same_currency_and_at_most_amount() {
        let s = p(PurchaseKind::Sale, eur(dec!(10))).unwrap();
        assert!(matches!(
            s.clone()
                .with_margin(Money::new(dec!(1), Currency::USD))
                .unwrap_err(),
            ValidationError::Inconsistent {
                field: "purchase.margin",
                ..
            }
        ));
        assert!(s.clone().with_margin(eur(dec!(10.01))).is_err());
        assert!(s.clone().with_margin(eur(dec!(10))).is_ok());
        // A loss-making sale has a negative margin.
        assert!(s.with_margin(eur(dec!(-3))).is_ok());
    }

    #[test]
    fn order_reference_is_a_single_line_label() {
        let s = p(PurchaseKind::Sale, eur(dec!(1))).unwrap();
        assert!(s.clone().with_order_reference("").is_err());
        assert!(s.clone().with_order_reference("A\nB").is_err());
        assert!(s.clone().with_order_reference("x".repeat(129)).is_err());
        assert_eq!(
            s.with_order_reference("SO-1").unwrap().order_reference(),
            Some("SO-1")
        );
    }

    #[test]
    fn json_validates() {
        let s = p(PurchaseKind::Sale, eur(dec!(10))).unwrap();
        let mut v = serde_json::to_value(&s).unwrap();
        v["margin"] = serde_json::json!({"amount": "11", "currency": "EUR"});
        assert!(serde_json::from_value::<Purchase>(v.clone()).is_err());
        v["margin"] = serde_json::json!(null);
        v["kind"] = serde_json::json!({"refund": {"of": null}});
        v["amount"] = serde_json::json!({"amount": "-1", "currency": "EUR"});
        assert!(serde_json::from_value::<Purchase>(v).is_err());
    }

    proptest! {
        #[test]
        fn json_round_trip(x in strategies::purchase()) {
            let json = serde_json::to_string(&x).unwrap();
            prop_assert_eq!(serde_json::from_str::<Purchase>(&json).unwrap(), x);
        }

        #[test]
        fn arbitrary_json_never_panics(s in ".{0,200}", x in strategies::purchase(), cut in any::<prop::sample::Index>()) {
            let _ = serde_json::from_str::<Purchase>(&s);
            let json = serde_json::to_string(&x).unwrap();
            let mut cut_at = cut.index(json.len() + 1);
            while !json.is_char_boundary(cut_at) { cut_at -= 1; }
            let _ = serde_json::from_str::<Purchase>(&json[..cut_at]);
        }

        #[test]
        fn signed_amount_is_never_positive_for_refunds(x in strategies::purchase()) {
            prop_assert_eq!(x.signed_amount().is_negative(), x.is_refund());
        }
    }
}
