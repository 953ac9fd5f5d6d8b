//! Exact amounts of money in one ISO 4217 currency.

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::error::{MoneyError, ValidationError};

/// An ISO 4217 currency code (`EUR`, `USD`, `JPY`, ...), validated against the
/// list of active codes.
///
/// # Example
/// ```
/// use crmkit::domain::Currency;
/// let eur: Currency = "EUR".parse()?;
/// assert_eq!(eur.code(), "EUR");
/// assert_eq!(eur.minor_units(), Some(2));
/// assert!("XYZ".parse::<Currency>().is_err());
/// assert!("eur".parse::<Currency>().is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Currency([u8; 3]);

impl Currency {
    /// Euro.
    pub const EUR: Currency = Currency(*b"EUR");
    /// US dollar.
    pub const USD: Currency = Currency(*b"USD");
    /// Pound sterling.
    pub const GBP: Currency = Currency(*b"GBP");
    /// Japanese yen.
    pub const JPY: Currency = Currency(*b"JPY");
    /// Swiss franc.
    pub const CHF: Currency = Currency(*b"CHF");
    /// Australian dollar.
    pub const AUD: Currency = Currency(*b"AUD");
    /// Canadian dollar.
    pub const CAD: Currency = Currency(*b"CAD");

    /// Parses a three-letter upper-case ISO 4217 code.
    ///
    /// # Errors
    /// [`ValidationError::Format`] when the code is not an active ISO 4217 code.
    pub fn new(code: &str) -> Result<Self, ValidationError> {
        let bytes = code.as_bytes();
        let known = iso_currency::Currency::from_code(code).is_some();
        match <[u8; 3]>::try_from(bytes) {
            Ok(arr) if known && arr.iter().all(u8::is_ascii_uppercase) => Ok(Self(arr)),
            _ => Err(ValidationError::Format {
                field: "currency",
                value: code.to_owned(),
                reason: "expected an ISO 4217 code such as EUR",
            }),
        }
    }

    /// The three-letter code.
    pub fn code(&self) -> &str {
        // The bytes were validated as ASCII upper-case letters on construction.
        std::str::from_utf8(&self.0).unwrap_or("???")
    }

    /// Digits after the decimal point in everyday use (2 for EUR, 0 for JPY),
    /// or `None` for codes without one (gold, test codes).
    pub fn minor_units(&self) -> Option<u32> {
        iso_currency::Currency::from_code(self.code())
            .and_then(|c| c.exponent())
            .map(u32::from)
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl fmt::Debug for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl FromStr for Currency {
    type Err = ValidationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

impl TryFrom<String> for Currency {
    type Error = ValidationError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::new(&value)
    }
}

impl From<Currency> for String {
    fn from(c: Currency) -> Self {
        c.code().to_owned()
    }
}

/// An exact amount of money: a `Decimal` and its currency.
///
/// Arithmetic is checked: combining two currencies is
/// [`MoneyError::CurrencyMismatch`] and a result too large for `Decimal` is
/// [`MoneyError::Overflow`]; nothing wraps, rounds silently or panics.
/// Amounts may be negative (refunds, contraction).
///
/// # Example
/// ```
/// use crmkit::domain::{Currency, Money};
/// use rust_decimal::Decimal;
/// let a = Money::new(Decimal::new(1999, 2), Currency::EUR); // 19.99 EUR
/// let b = Money::new(Decimal::new(1, 2), Currency::EUR);
/// assert_eq!(a.checked_add(&b)?.amount(), Decimal::new(2000, 2));
/// let usd = Money::new(Decimal::ONE, Currency::USD);
/// assert!(a.checked_add(&usd).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Money {
    amount: Decimal,
    currency: Currency,
}

impl Money {
    /// An amount in a currency.
    pub const fn new(amount: Decimal, currency: Currency) -> Self {
        Self { amount, currency }
    }

    /// Zero in a currency.
    pub const fn zero(currency: Currency) -> Self {
        Self::new(Decimal::ZERO, currency)
    }

    /// The amount.
    pub const fn amount(&self) -> Decimal {
        self.amount
    }

    /// The currency.
    pub const fn currency(&self) -> Currency {
        self.currency
    }

    /// Whether the amount is below zero.
    pub fn is_negative(&self) -> bool {
        self.amount.is_sign_negative() && !self.amount.is_zero()
    }

    /// Whether the amount is zero.
    pub fn is_zero(&self) -> bool {
        self.amount.is_zero()
    }

    fn same_currency(&self, other: &Money) -> Result<(), MoneyError> {
        if self.currency == other.currency {
            Ok(())
        } else {
            Err(MoneyError::CurrencyMismatch {
                left: self.currency,
                right: other.currency,
            })
        }
    }

    /// `self + other`.
    ///
    /// # Errors
    /// Different currencies, or overflow.
    pub fn checked_add(&self, other: &Money) -> Result<Money, MoneyError> {
        self.same_currency(other)?;
        self.amount
            .checked_add(other.amount)
            .map(|a| Money::new(a, self.currency))
            .ok_or(MoneyError::Overflow { operation: "add" })
    }

    /// `self - other`.
    ///
    /// # Errors
    /// Different currencies, or overflow.
    pub fn checked_sub(&self, other: &Money) -> Result<Money, MoneyError> {
        self.same_currency(other)?;
        self.amount
            .checked_sub(other.amount)
            .map(|a| Money::new(a, self.currency))
            .ok_or(MoneyError::Overflow { operation: "sub" })
    }

    /// `self × factor` (a quantity, a rate, an exchange rate into the same currency).
    ///
    /// # Errors
    /// Overflow.
    pub fn checked_mul(&self, factor: Decimal) -> Result<Money, MoneyError> {
        self.amount
            .checked_mul(factor)
            .map(|a| Money::new(a, self.currency))
            .ok_or(MoneyError::Overflow { operation: "mul" })
    }

    /// `self ÷ divisor`.
    ///
    /// # Errors
    /// Division by zero, or overflow.
    pub fn checked_div(&self, divisor: Decimal) -> Result<Money, MoneyError> {
        if divisor.is_zero() {
            return Err(MoneyError::DivisionByZero);
        }
        self.amount
            .checked_div(divisor)
            .map(|a| Money::new(a, self.currency))
            .ok_or(MoneyError::Overflow { operation: "div" })
    }

    /// The amount with its sign flipped.
    pub fn negated(&self) -> Money {
        Money::new(-self.amount, self.currency)
    }

    /// The larger of two amounts in the same currency.
    ///
    /// # Errors
    /// Different currencies.
    pub fn max(&self, other: &Money) -> Result<Money, MoneyError> {
        self.same_currency(other)?;
        Ok(if other.amount > self.amount {
            *other
        } else {
            *self
        })
    }

    /// The smaller of two amounts in the same currency.
    ///
    /// # Errors
    /// Different currencies.
    pub fn min(&self, other: &Money) -> Result<Money, MoneyError> {
        self.same_currency(other)?;
        Ok(if other.amount < self.amount {
            *other
        } else {
            *self
        })
    }

    /// The sum of amounts, all in `currency` (zero for no amounts).
    ///
    /// # Errors
    /// An amount in another currency, or overflow.
    ///
    /// # Example
    /// ```
    /// use crmkit::domain::{Currency, Money};
    /// use rust_decimal::Decimal;
    /// let items = [Money::new(Decimal::ONE, Currency::GBP), Money::new(Decimal::TWO, Currency::GBP)];
    /// assert_eq!(Money::sum(Currency::GBP, &items)?.amount(), Decimal::from(3));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn sum<'a>(
        currency: Currency,
        items: impl IntoIterator<Item = &'a Money>,
    ) -> Result<Money, MoneyError> {
        items
            .into_iter()
            .try_fold(Money::zero(currency), |acc, m| acc.checked_add(m))
    }

    /// Rounds to the currency's minor units (banker's rounding, as accounting
    /// systems do); currencies without minor units keep their amount.
    pub fn round_to_minor_units(&self) -> Money {
        match self.currency.minor_units() {
            Some(dp) => Money::new(self.amount.round_dp(dp), self.currency),
            None => *self,
        }
    }
}

impl fmt::Debug for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.amount, self.currency)
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.amount, self.currency)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn currency_validation() {
        assert_eq!(Currency::new("JPY").unwrap().minor_units(), Some(0));
        for bad in ["", "EU", "EURO", "eur", "QQQ", "E1R"] {
            let err = Currency::new(bad).unwrap_err();
            assert_eq!(err.field(), "currency", "{bad}");
        }
        assert!(serde_json::from_str::<Currency>("\"ABC\"").is_err());
        assert_eq!(
            serde_json::from_str::<Currency>("\"CHF\"").unwrap(),
            Currency::CHF
        );
    }

    #[test]
    fn arithmetic_is_exact_and_checked() {
        let a = Money::new(dec!(0.1), Currency::EUR);
        let b = Money::new(dec!(0.2), Currency::EUR);
        assert_eq!(a.checked_add(&b).unwrap().amount(), dec!(0.3));
        assert_eq!(a.checked_sub(&b).unwrap().amount(), dec!(-0.1));
        assert!(a.checked_sub(&b).unwrap().is_negative());
        let big = Money::new(Decimal::MAX, Currency::EUR);
        let one = Money::new(Decimal::ONE, Currency::EUR);
        assert_eq!(
            big.checked_add(&one).unwrap_err(),
            MoneyError::Overflow { operation: "add" }
        );
        assert_eq!(
            big.checked_mul(dec!(2)).unwrap_err(),
            MoneyError::Overflow { operation: "mul" }
        );
        assert_eq!(
            a.checked_div(Decimal::ZERO).unwrap_err(),
            MoneyError::DivisionByZero
        );
        let usd = Money::new(dec!(1), Currency::USD);
        assert_eq!(
            a.checked_add(&usd).unwrap_err(),
            MoneyError::CurrencyMismatch {
                left: Currency::EUR,
                right: Currency::USD
            }
        );
    }

    #[test]
    fn rounding_uses_minor_units() {
        let m = Money::new(dec!(10.125), Currency::EUR).round_to_minor_units();
        assert_eq!(m.amount(), dec!(10.12));
        let y = Money::new(dec!(10.5), Currency::JPY).round_to_minor_units();
        assert_eq!(y.amount(), dec!(10));
    }

    #[test]
    fn json_keeps_exact_amounts() {
        let m = Money::new(dec!(12345678901234567890.12), Currency::USD);
        let json = serde_json::to_string(&m).unwrap();
        assert_eq!(
            json,
            r#"{"amount":"12345678901234567890.12","currency":"USD"}"#
        );
        assert_eq!(serde_json::from_str::<Money>(&json).unwrap(), m);
    }
}

#[cfg(any(test, feature = "proptest"))]
pub(crate) mod strategies {
    use super::*;
    use proptest::prelude::*;

    /// A common currency.
    pub fn currency() -> impl Strategy<Value = Currency> {
        prop::sample::select(vec![
            Currency::EUR,
            Currency::USD,
            Currency::GBP,
            Currency::JPY,
            Currency::CHF,
            Currency::AUD,
            Currency::CAD,
        ])
    }

    /// An amount between -10^12 and 10^12 with up to 4 decimal places.
    pub fn decimal_amount() -> impl Strategy<Value = Decimal> {
        (
            -10_000_000_000_000_000_i64..=10_000_000_000_000_000_i64,
            0u32..=4,
        )
            .prop_map(|(units, scale)| Decimal::new(units, scale))
    }

    /// Any amount of money (positive, zero or negative).
    pub fn money() -> impl Strategy<Value = Money> {
        (decimal_amount(), currency()).prop_map(|(a, c)| Money::new(a, c))
    }

    /// A non-negative amount in the given currency.
    pub fn money_in(currency: Currency) -> impl Strategy<Value = Money> {
        (0i64..=100_000_000i64, 0u32..=2)
            .prop_map(move |(u, s)| Money::new(Decimal::new(u, s), currency))
    }
}
