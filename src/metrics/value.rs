//! Customer value: historical CLV, AOV, purchase frequency and formula CLV.
//!
//! Definitions (DESIGN.md, "Value metrics"):
//!
//! - Historical CLV of a customer = the sum of their revenue (sales minus
//!   refunds), or of their margin, to date.
//! - AOV = sales amount / number of sales (refunds are not orders and do not
//!   lower the AOV; they do lower historical CLV).
//! - Purchase frequency = number of sales / number of customers with a sale.
//! - Formula CLV = m · r / (1 + d − r) per period (margin m per period,
//!   retention r per period, discount rate d per period): the sum over
//!   periods t ≥ 1 of m · rᵗ / (1 + d)ᵗ; [`formula_clv_finite`] sums the
//!   first T periods. Minus the acquisition cost where given.
//! - Simple CLV = AOV × purchase frequency × lifespan, lifespan = 1 / churn.
//!
//! Undefined inputs (r ≥ 1 + d; churn of 0 for a lifespan) are typed
//! [`RelationshipError::Undefined`] errors, never infinities.
//!
//! [`ValueAccumulator`] keeps one compact state per customer (first and
//! last purchase, order count, revenue, margin) and merges by customer.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::activity::{RelationshipError, Sharded, Transaction, min_opt};
use crate::domain::{Currency, CustomerId, Money};

mod accumulate;

/// What historical CLV sums.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClvBasis {
    /// Revenue: sales minus refunds (the default).
    #[default]
    Revenue,
    /// Margin: the margin of sales minus the margin given back by refunds.
    Margin,
}

/// One customer's compact state (about 80 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct ValueState {
    first: Option<DateTime<Utc>>,
    last: Option<DateTime<Utc>>,
    acquired: Option<DateTime<Utc>>,
    orders: u32,
    margin_complete: bool,
    revenue: Decimal,
    margin: Decimal,
}

impl Default for ValueState {
    fn default() -> Self {
        Self {
            first: None,
            last: None,
            acquired: None,
            orders: 0,
            margin_complete: true,
            revenue: Decimal::ZERO,
            margin: Decimal::ZERO,
        }
    }
}

fn of(operation: &'static str) -> RelationshipError {
    RelationshipError::Overflow { operation }
}

impl ValueState {
    fn check(&self, customer: CustomerId) -> Result<(), RelationshipError> {
        match (self.first, self.acquired) {
            (Some(at), Some(acquired)) if at < acquired => {
                Err(RelationshipError::PurchaseBeforeAcquisition {
                    customer,
                    at,
                    acquired,
                })
            }
            _ => Ok(()),
        }
    }

    fn merge(&mut self, o: &ValueState) -> Result<(), RelationshipError> {
        self.first = min_opt(self.first, o.first);
        self.last = self.last.max(o.last);
        self.acquired = min_opt(self.acquired, o.acquired);
        self.orders = self.orders.checked_add(o.orders).ok_or(of("order count"))?;
        self.margin_complete &= o.margin_complete;
        self.revenue = self.revenue.checked_add(o.revenue).ok_or(of("revenue"))?;
        self.margin = self.margin.checked_add(o.margin).ok_or(of("margin"))?;
        Ok(())
    }
}

/// One customer's historical value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerValue {
    /// The customer.
    pub customer: CustomerId,
    /// Number of sales.
    pub orders: u32,
    /// Historical CLV on revenue: sales minus refunds.
    pub revenue: Money,
    /// Historical CLV on margin, when every transaction carried a margin.
    pub margin: Option<Money>,
    /// First transaction (sale or refund).
    pub first: Option<DateTime<Utc>>,
    /// Last sale.
    pub last_sale: Option<DateTime<Utc>>,
}

impl CustomerValue {
    /// Historical CLV on a basis (`None` on margin when some margin was
    /// missing).
    pub fn historical_clv(&self, basis: ClvBasis) -> Option<Money> {
        match basis {
            ClvBasis::Revenue => Some(self.revenue),
            ClvBasis::Margin => self.margin,
        }
    }
}

/// The value of a set of customers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValueSummary {
    /// Per customer, in no particular order.
    pub customers: Vec<CustomerValue>,
    /// Sum of sales.
    pub sales: Money,
    /// Sum of refunds (negative or zero).
    pub refunds: Money,
    /// Number of sales.
    pub orders: u64,
    /// Customers with at least one sale.
    pub buyers: u64,
}

impl ValueSummary {
    /// Average order value: sales / orders.
    ///
    /// # Errors
    /// [`RelationshipError::NoData`] without orders.
    pub fn aov(&self) -> Result<Money, RelationshipError> {
        if self.orders == 0 {
            return Err(RelationshipError::NoData { what: "no orders" });
        }
        Ok(self.sales.checked_div(Decimal::from(self.orders))?)
    }

    /// Purchase frequency: orders per buying customer.
    ///
    /// # Errors
    /// [`RelationshipError::NoData`] without buyers.
    pub fn purchase_frequency(&self) -> Result<Decimal, RelationshipError> {
        if self.buyers == 0 {
            return Err(RelationshipError::NoData {
                what: "no buying customers",
            });
        }
        Decimal::from(self.orders)
            .checked_div(Decimal::from(self.buyers))
            .ok_or(of("purchase frequency"))
    }
}

/// Accumulates transactions into per-customer value.
///
/// Memory: one compact state per customer (first and last purchase, an
/// acquisition instant if recorded, order count, revenue, margin).
///
/// # Example
/// ```
/// use chrono::{TimeZone, Utc};
/// use crmkit::domain::{Currency, CustomerId, Money};
/// use crmkit::metrics::activity::Transaction;
/// use crmkit::metrics::value::{ClvBasis, ValueAccumulator};
/// use rust_decimal::Decimal;
/// let eur = |v: i64| Money::new(Decimal::from(v), Currency::EUR);
/// let c = CustomerId::from_u128(1);
/// let t = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
/// let mut acc = ValueAccumulator::new(Currency::EUR);
/// acc.push(&Transaction::sale(c, t, eur(30), Some(eur(10)))?)?;
/// acc.push(&Transaction::sale(c, t, eur(50), Some(eur(20)))?)?;
/// acc.push(&Transaction::refund(c, t, eur(30), Some(eur(10)))?)?;
/// let v = acc.finish();
/// assert_eq!(v.customers[0].historical_clv(ClvBasis::Revenue), Some(eur(50)));
/// assert_eq!(v.customers[0].historical_clv(ClvBasis::Margin), Some(eur(20)));
/// assert_eq!(v.aov()?, eur(40)); // (30 + 50) / 2
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ValueAccumulator {
    currency: Currency,
    sales: Decimal,
    refunds: Decimal,
    customers: Sharded<ValueState>,
}

impl ValueAccumulator {
    /// An empty accumulator in `currency`.
    pub fn new(currency: Currency) -> Self {
        Self {
            currency,
            sales: Decimal::ZERO,
            refunds: Decimal::ZERO,
            customers: Sharded::default(),
        }
    }

    /// An empty accumulator expecting about `customers` customers.
    pub fn with_capacity(currency: Currency, customers: usize) -> Self {
        let mut acc = Self::new(currency);
        acc.customers.reserve(customers);
        acc
    }

    /// Adds one transaction.
    ///
    /// # Errors
    /// [`RelationshipError::CurrencyMismatch`] for another currency (convert
    /// first); [`RelationshipError::PurchaseBeforeAcquisition`] when the
    /// customer's recorded acquisition is later; overflow.
    pub fn push(&mut self, t: &Transaction) -> Result<(), RelationshipError> {
        self.check(t)?;
        let (sales, refunds) = self.totals(std::slice::from_ref(t))?;
        apply(self.customers.entry(t.customer()), t)?;
        (self.sales, self.refunds) = (sales, refunds);
        Ok(())
    }

    /// Adds a batch of transactions: the same result as pushing each, but
    /// large batches are aggregated customer shard by shard, over the
    /// available cores.
    ///
    /// # Errors
    /// As [`ValueAccumulator::push`]; a currency mismatch is reported before
    /// anything is added.
    pub fn push_batch(&mut self, rows: &[Transaction]) -> Result<(), RelationshipError> {
        rows.iter().try_for_each(|t| self.check(t))?;
        let (sales, refunds) = self.totals(rows)?;
        self.customers
            .push_batch(rows, Transaction::customer, apply)?;
        (self.sales, self.refunds) = (sales, refunds);
        Ok(())
    }

    fn check(&self, t: &Transaction) -> Result<(), RelationshipError> {
        t.check_currency(self.currency)
    }

    /// Sales and refunds totals after adding `rows`.
    fn totals(&self, rows: &[Transaction]) -> Result<(Decimal, Decimal), RelationshipError> {
        let (mut sales, mut refunds) = (self.sales, self.refunds);
        for t in rows {
            let a = t.signed_amount().amount();
            if t.is_sale() {
                sales = sales.checked_add(a).ok_or(of("sales"))?;
            } else {
                refunds = refunds.checked_add(a).ok_or(of("refunds"))?;
            }
        }
        Ok((sales, refunds))
    }

    /// Records when a customer was acquired (sign-up, first contract), so a
    /// purchase dated earlier is rejected.
    ///
    /// # Errors
    /// [`RelationshipError::PurchaseBeforeAcquisition`] when a purchase
    /// already pushed is earlier.
    pub fn record_acquisition(
        &mut self,
        customer: CustomerId,
        at: DateTime<Utc>,
    ) -> Result<(), RelationshipError> {
        let state = self.customers.entry(customer);
        let mut next = *state;
        next.acquired = min_opt(next.acquired, Some(at));
        next.check(customer)?;
        *state = next;
        Ok(())
    }

    /// Merges another accumulator (the same customer may be in both).
    ///
    /// # Errors
    /// [`RelationshipError::ConfigMismatch`] for another currency;
    /// [`RelationshipError::PurchaseBeforeAcquisition`] when one side's
    /// acquisition is after the other side's purchase; overflow.
    pub fn merge(&mut self, other: &ValueAccumulator) -> Result<(), RelationshipError> {
        if self.currency != other.currency {
            return Err(RelationshipError::ConfigMismatch { what: "currency" });
        }
        // All or nothing: totals first, then customers (which change only
        // when every customer merged), then the totals are stored.
        let sales = self.sales.checked_add(other.sales).ok_or(of("sales"))?;
        let refunds = self
            .refunds
            .checked_add(other.refunds)
            .ok_or(of("refunds"))?;
        self.customers.merge_with(&other.customers, |c, state, o| {
            state.merge(o)?;
            state.check(*c)
        })?;
        (self.sales, self.refunds) = (sales, refunds);
        Ok(())
    }

    /// Number of customers seen.
    pub fn len(&self) -> usize {
        self.customers.len()
    }

    /// Whether no customer was seen.
    pub fn is_empty(&self) -> bool {
        self.customers.len() == 0
    }

    /// The per-customer values and totals. Customers only known from
    /// [`ValueAccumulator::record_acquisition`] appear with zero orders.
    pub fn finish(&self) -> ValueSummary {
        let m = |v| Money::new(v, self.currency);
        let mut orders = 0u64;
        let mut buyers = 0u64;
        let customers = self
            .customers
            .iter()
            .map(|(c, s)| {
                orders += u64::from(s.orders);
                buyers += u64::from(s.orders > 0);
                CustomerValue {
                    customer: *c,
                    orders: s.orders,
                    revenue: m(s.revenue),
                    margin: s.margin_complete.then(|| m(s.margin)),
                    first: s.first,
                    last_sale: s.last,
                }
            })
            .collect();
        ValueSummary {
            customers,
            sales: m(self.sales),
            refunds: m(self.refunds),
            orders,
            buyers,
        }
    }
}

/// Adds one transaction to its customer's state.
fn apply(state: &mut ValueState, t: &Transaction) -> Result<(), RelationshipError> {
    let at = t.at();
    if let Some(acquired) = state.acquired
        && at < acquired
    {
        return Err(RelationshipError::PurchaseBeforeAcquisition {
            customer: t.customer(),
            at,
            acquired,
        });
    }
    state.first = min_opt(state.first, Some(at));
    state.revenue = state
        .revenue
        .checked_add(t.signed_amount().amount())
        .ok_or(of("revenue"))?;
    match t.margin() {
        Some(m) => state.margin = state.margin.checked_add(m.amount()).ok_or(of("margin"))?,
        None => state.margin_complete = false,
    }
    if t.is_sale() {
        state.orders = state.orders.checked_add(1).ok_or(of("order count"))?;
        state.last = state.last.max(Some(at));
    }
    Ok(())
}

fn check_rate(parameter: &'static str, v: Decimal) -> Result<(), RelationshipError> {
    if v < Decimal::ZERO || v > Decimal::ONE {
        return Err(RelationshipError::OutOfRange {
            parameter,
            value: v.to_string(),
            range: "0..=1",
        });
    }
    Ok(())
}

fn check_discount(d: Decimal) -> Result<(), RelationshipError> {
    if d < Decimal::ZERO {
        return Err(RelationshipError::OutOfRange {
            parameter: "discount rate",
            value: d.to_string(),
            range: "0..",
        });
    }
    Ok(())
}

/// Formula CLV: `m · r / (1 + d − r) − acquisition_cost`, for margin `m`
/// per period, retention `r ∈ [0, 1]` and discount rate `d ≥ 0` per period.
///
/// # Errors
/// [`RelationshipError::OutOfRange`] for `r` outside `[0, 1]` or `d < 0`;
/// [`RelationshipError::Undefined`] when `r ≥ 1 + d` (the infinite sum
/// diverges: `r = 1` with `d = 0`); overflow.
///
/// # Example
/// ```
/// use crmkit::metrics::value::formula_clv;
/// use rust_decimal::Decimal;
/// // m = 100, r = 0.8, d = 0.1: 100 · 0.8 / 0.3 = 266.66…; minus 50 acquisition cost.
/// let clv = formula_clv(Decimal::from(100), Decimal::new(8, 1), Decimal::new(1, 1), Some(Decimal::from(50)))?;
/// assert_eq!(clv.round_dp(2), Decimal::new(21667, 2));
/// assert!(formula_clv(Decimal::from(100), Decimal::ONE, Decimal::ZERO, None).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn formula_clv(
    margin: Decimal,
    retention: Decimal,
    discount: Decimal,
    acquisition_cost: Option<Decimal>,
) -> Result<Decimal, RelationshipError> {
    check_rate("retention", retention)?;
    check_discount(discount)?;
    let denom = (Decimal::ONE + discount)
        .checked_sub(retention)
        .ok_or(of("formula clv"))?;
    if denom <= Decimal::ZERO {
        return Err(RelationshipError::Undefined {
            formula: "formula CLV m·r/(1+d−r)",
            reason: "retention r ≥ 1 + d: the sum diverges",
        });
    }
    let v = margin
        .checked_mul(retention)
        .and_then(|x| x.checked_div(denom))
        .ok_or(of("formula clv"))?;
    v.checked_sub(acquisition_cost.unwrap_or(Decimal::ZERO))
        .ok_or(of("formula clv"))
}

/// Finite-horizon formula CLV: `Σ_{t=1..T} m · rᵗ / (1 + d)ᵗ −
/// acquisition_cost` (defined for every `r ∈ [0, 1]`, `d ≥ 0`; it tends to
/// [`formula_clv`] as `T` grows).
///
/// # Errors
/// [`RelationshipError::OutOfRange`] for `r` outside `[0, 1]` or `d < 0`;
/// overflow.
///
/// # Example
/// ```
/// use crmkit::metrics::value::formula_clv_finite;
/// use rust_decimal::Decimal;
/// // m = 100, r = 0.5, d = 0, 2 periods: 100·0.5 + 100·0.25 = 75.
/// let clv = formula_clv_finite(Decimal::from(100), Decimal::new(5, 1), Decimal::ZERO, 2, None)?;
/// assert_eq!(clv, Decimal::from(75));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn formula_clv_finite(
    margin: Decimal,
    retention: Decimal,
    discount: Decimal,
    periods: u32,
    acquisition_cost: Option<Decimal>,
) -> Result<Decimal, RelationshipError> {
    check_rate("retention", retention)?;
    check_discount(discount)?;
    let q = retention
        .checked_div(Decimal::ONE + discount)
        .ok_or(of("formula clv"))?;
    let mut term = Decimal::ONE;
    let mut sum = Decimal::ZERO;
    for _ in 0..periods {
        term = term.checked_mul(q).ok_or(of("formula clv"))?;
        if term.is_zero() {
            break;
        }
        sum = sum.checked_add(term).ok_or(of("formula clv"))?;
    }
    margin
        .checked_mul(sum)
        .and_then(|v| v.checked_sub(acquisition_cost.unwrap_or(Decimal::ZERO)))
        .ok_or(of("formula clv"))
}

/// Expected lifespan in periods, `1 / churn`.
///
/// # Errors
/// [`RelationshipError::Undefined`] for a churn of 0 (an infinite
/// lifespan); [`RelationshipError::OutOfRange`] outside `[0, 1]`.
///
/// # Example
/// ```
/// use crmkit::metrics::value::lifespan;
/// use rust_decimal::Decimal;
/// assert_eq!(lifespan(Decimal::new(25, 2))?, Decimal::from(4));
/// assert!(lifespan(Decimal::ZERO).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn lifespan(churn: Decimal) -> Result<Decimal, RelationshipError> {
    check_rate("churn", churn)?;
    if churn.is_zero() {
        return Err(RelationshipError::Undefined {
            formula: "lifespan 1/churn",
            reason: "churn is 0: the lifespan is infinite",
        });
    }
    Decimal::ONE.checked_div(churn).ok_or(of("lifespan"))
}

/// Simple CLV: `AOV × purchase frequency × lifespan − acquisition_cost`,
/// lifespan `= 1 / churn` (frequency and churn over the same period
/// length).
///
/// # Errors
/// As [`lifespan`]; overflow.
///
/// # Example
/// ```
/// use crmkit::domain::{Currency, Money};
/// use crmkit::metrics::value::simple_clv;
/// use rust_decimal::Decimal;
/// // AOV 40, 3 orders a year, 20 % churn a year (5 years), CAC 100: 40·3·5 − 100 = 500.
/// let aov = Money::new(Decimal::from(40), Currency::EUR);
/// let clv = simple_clv(aov, Decimal::from(3), Decimal::new(2, 1), Some(Decimal::from(100)))?;
/// assert_eq!(clv.amount(), Decimal::from(500));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn simple_clv(
    aov: Money,
    frequency: Decimal,
    churn: Decimal,
    acquisition_cost: Option<Decimal>,
) -> Result<Money, RelationshipError> {
    let life = lifespan(churn)?;
    let v = aov
        .amount()
        .checked_mul(frequency)
        .and_then(|x| x.checked_mul(life))
        .and_then(|x| x.checked_sub(acquisition_cost.unwrap_or(Decimal::ZERO)))
        .ok_or(of("simple clv"))?;
    Ok(Money::new(v, aov.currency()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone};
    use proptest::prelude::*;

    fn eur(v: i64) -> Money {
        Money::new(Decimal::from(v), Currency::EUR)
    }
    fn day(d: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap() + Duration::days(d)
    }
    fn c(i: u128) -> CustomerId {
        CustomerId::from_u128(i)
    }

    #[test]
    fn historical_clv_aov_frequency() {
        let mut acc = ValueAccumulator::new(Currency::EUR);
        // Customer 1: sales 100 (margin 30), 60 (margin 20), refund 20 (margin 5).
        // Customer 2: sale 40 without margin.
        let ts = [
            Transaction::sale(c(1), day(0), eur(100), Some(eur(30))).unwrap(),
            Transaction::sale(c(1), day(5), eur(60), Some(eur(20))).unwrap(),
            Transaction::refund(c(1), day(6), eur(20), Some(eur(5))).unwrap(),
            Transaction::sale(c(2), day(3), eur(40), None).unwrap(),
        ];
        for t in &ts {
            acc.push(t).unwrap();
        }
        let v = acc.finish();
        let one = v.customers.iter().find(|x| x.customer == c(1)).unwrap();
        let two = v.customers.iter().find(|x| x.customer == c(2)).unwrap();
        // revenue 100 + 60 - 20 = 140; margin 30 + 20 - 5 = 45.
        assert_eq!(one.revenue, eur(140));
        assert_eq!(one.margin, Some(eur(45)));
        assert_eq!(one.orders, 2);
        assert_eq!(one.last_sale, Some(day(5)));
        assert_eq!(two.margin, None);
        // AOV = (100 + 60 + 40) / 3 sales = 200 / 3; frequency = 3 / 2 = 1.5.
        assert_eq!(
            v.aov().unwrap().amount(),
            Decimal::from(200) / Decimal::from(3)
        );
        assert_eq!(v.purchase_frequency().unwrap(), Decimal::new(15, 1));
        assert_eq!(v.refunds, eur(-20));
    }

    #[test]
    fn bad_inputs_are_typed_errors() {
        let mut acc = ValueAccumulator::new(Currency::EUR);
        acc.record_acquisition(c(1), day(10)).unwrap();
        let early = Transaction::sale(c(1), day(9), eur(1), None).unwrap();
        assert!(matches!(
            acc.push(&early),
            Err(RelationshipError::PurchaseBeforeAcquisition { .. })
        ));
        // The other order is caught too.
        let mut acc = ValueAccumulator::new(Currency::EUR);
        acc.push(&early).unwrap();
        assert!(matches!(
            acc.record_acquisition(c(1), day(10)),
            Err(RelationshipError::PurchaseBeforeAcquisition { .. })
        ));
        assert!(matches!(
            Transaction::sale(c(1), day(0), eur(-1), None),
            Err(RelationshipError::NegativeAmount { .. })
        ));
        let usd = Transaction::sale(c(1), day(20), Money::new(Decimal::ONE, Currency::USD), None)
            .unwrap();
        assert!(matches!(
            acc.push(&usd),
            Err(RelationshipError::CurrencyMismatch { .. })
        ));
        assert!(ValueAccumulator::new(Currency::EUR).finish().aov().is_err());
    }

    #[test]
    fn formulas() {
        // m = 10, r = 0.5, d = 0: 10 · 0.5 / 0.5 = 10.
        assert_eq!(
            formula_clv(Decimal::from(10), Decimal::new(5, 1), Decimal::ZERO, None).unwrap(),
            Decimal::from(10)
        );
        // r = 1, d = 0.25: 10 · 1 / 0.25 = 40 (defined: discounting makes it converge).
        assert_eq!(
            formula_clv(Decimal::from(10), Decimal::ONE, Decimal::new(25, 2), None).unwrap(),
            Decimal::from(40)
        );
        assert!(matches!(
            formula_clv(Decimal::from(10), Decimal::ONE, Decimal::ZERO, None),
            Err(RelationshipError::Undefined { .. })
        ));
        assert!(formula_clv(Decimal::from(10), Decimal::new(11, 1), Decimal::ZERO, None).is_err());
        // Finite, r = 1, d = 0, T = 3: 3 · m = 30, minus 5 = 25.
        assert_eq!(
            formula_clv_finite(
                Decimal::from(10),
                Decimal::ONE,
                Decimal::ZERO,
                3,
                Some(Decimal::from(5))
            )
            .unwrap(),
            Decimal::from(25)
        );
        assert!(matches!(
            lifespan(Decimal::ZERO),
            Err(RelationshipError::Undefined { .. })
        ));
    }

    proptest! {
        #[test]
        fn merge_equals_one_pass_in_any_order(
            rows in prop::collection::vec((0u128..8, 0i64..100, 0i64..500, any::<bool>()), 0..60),
            split in 0usize..60,
        ) {
            let ts: Vec<Transaction> = rows.iter().map(|&(cu, d, a, sale)| {
                if sale { Transaction::sale(c(cu), day(d), eur(a), Some(eur(a / 2))).unwrap() }
                else { Transaction::refund(c(cu), day(d), eur(a), None).unwrap() }
            }).collect();
            let mut one = ValueAccumulator::new(Currency::EUR);
            for t in &ts { one.push(t).unwrap(); }
            let split = split.min(ts.len());
            let mut a = ValueAccumulator::new(Currency::EUR);
            let mut b = ValueAccumulator::new(Currency::EUR);
            for t in &ts[..split] { a.push(t).unwrap(); }
            for t in ts[split..].iter().rev() { b.push(t).unwrap(); }
            a.merge(&b).unwrap();
            prop_assert_eq!(a, one);
        }

        #[test]
        fn finite_tends_to_infinite(m in 1i64..1000, r in 0u32..95, d in 1u32..50) {
            let (m, r, d) = (Decimal::from(m), Decimal::new(i64::from(r), 2), Decimal::new(i64::from(d), 2));
            let inf = formula_clv(m, r, d, None).unwrap();
            let fin = formula_clv_finite(m, r, d, 2000, None).unwrap();
            prop_assert!(fin <= inf + Decimal::new(1, 10));
            prop_assert!((inf - fin).abs() < Decimal::new(1, 6));
        }
    }
}
