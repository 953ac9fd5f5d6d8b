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

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::activity::{RelationshipError, Transaction};
use super::dense::{
    At, Columnar, DenseMap, Extra, Rec, SHARDS, Shards, Units, add, decimal, pow10, push_columnar,
    push_ledger, rescale, scale_of, units_i64, units_or,
};
use super::ledger::Ledger;
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

/// One customer's compact state (88 bytes): money in integer units of the
/// accumulator's scale, instants as [`At`] (`first` starts at [`At::MAX`],
/// `last` and `acquired` at [`At::MIN`]: none yet).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ValueState {
    revenue: Units,
    margin: Units,
    first: At,
    last: At,
    acquired: At,
    orders: u32,
    margin_complete: bool,
    revenue_scale: u8,
    margin_scale: u8,
}

impl Default for ValueState {
    fn default() -> Self {
        Self {
            revenue: Units::default(),
            margin: Units::default(),
            first: At::MAX,
            last: At::MIN,
            acquired: At::MIN,
            orders: 0,
            margin_complete: true,
            revenue_scale: 0,
            margin_scale: 0,
        }
    }
}

fn of(operation: &'static str) -> RelationshipError {
    RelationshipError::Overflow { operation }
}

impl ValueState {
    fn check(&self, customer: CustomerId) -> Result<(), RelationshipError> {
        match (self.first.get(), self.acquired.get()) {
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

    /// Combines `o`, whose money is in units `10^k` times coarser.
    fn merge(&mut self, o: &ValueState, k: u32) -> Result<(), RelationshipError> {
        let (mut revenue, mut margin) = (o.revenue.get(), o.margin.get());
        rescale(&mut revenue, k)?;
        rescale(&mut margin, k)?;
        self.first = self.first.min(o.first);
        self.last = self.last.max(o.last);
        self.acquired = At::earlier_set(self.acquired, o.acquired);
        self.orders = self.orders.checked_add(o.orders).ok_or(of("order count"))?;
        self.margin_complete &= o.margin_complete;
        self.revenue.add(revenue, "revenue")?;
        self.margin.add(margin, "margin")?;
        self.revenue_scale = self.revenue_scale.max(o.revenue_scale);
        self.margin_scale = self.margin_scale.max(o.margin_scale);
        Ok(())
    }
}

/// A shard's sales and refunds totals, in units, with their scales.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Totals {
    sales: i128,
    refunds: i128,
    sales_scale: u8,
    refunds_scale: u8,
}

impl Extra for Totals {}

/// A transaction as the value kernel needs it (32 bytes).
#[derive(Debug, Clone, Copy)]
struct ValueRow {
    secs: i64,
    units: i64,
    margin: i64,
    nanos: u32,
    sale: bool,
    /// `u8::MAX`: no margin; otherwise the margin's scale.
    margin_scale: u8,
    scale: u8,
}

/// The serialised form of a customer's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct ValueStateRepr {
    first: Option<DateTime<Utc>>,
    last: Option<DateTime<Utc>>,
    acquired: Option<DateTime<Utc>>,
    orders: u32,
    margin_complete: bool,
    revenue: Decimal,
    margin: Decimal,
}

/// The serialised form of [`ValueAccumulator`], also its equality.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct ValueRepr {
    currency: Currency,
    sales: Decimal,
    refunds: Decimal,
    customers: HashMap<CustomerId, ValueStateRepr>,
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
/// Memory: one compact state per customer (88 bytes: first and last
/// purchase, an acquisition instant if recorded, order count, revenue and
/// margin in exact integer units of the largest decimal scale seen) plus
/// its index entry. Large batches go through the columnar kernel (rows
/// become 48-byte records partitioned by customer shard, aggregated over
/// the available cores; the records of up to 16 Mi rows, about 0.8 GB, are
/// buffered at a time).
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
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(into = "ValueRepr", try_from = "ValueRepr")]
pub struct ValueAccumulator {
    currency: Currency,
    /// Money units are `10^-scale`.
    scale: u32,
    customers: Shards<ValueState, Totals>,
}

impl PartialEq for ValueAccumulator {
    /// The same currency, totals and per-customer values (whatever the
    /// internal unit scale or customer order).
    fn eq(&self, other: &Self) -> bool {
        match (self.repr(), other.repr()) {
            (Ok(a), Ok(b)) => a == b,
            _ => false,
        }
    }
}

impl From<ValueAccumulator> for ValueRepr {
    fn from(acc: ValueAccumulator) -> Self {
        // Units always convert back (they came from Decimals of at most
        // `scale` places); should they not, the state is left out.
        acc.repr().unwrap_or_else(|_| ValueRepr {
            currency: acc.currency,
            sales: Decimal::ZERO,
            refunds: Decimal::ZERO,
            customers: HashMap::new(),
        })
    }
}

impl TryFrom<ValueRepr> for ValueAccumulator {
    type Error = RelationshipError;
    fn try_from(r: ValueRepr) -> Result<Self, Self::Error> {
        let mut acc = ValueAccumulator::with_capacity(r.currency, r.customers.len());
        let scale = r
            .customers
            .values()
            .flat_map(|s| [s.revenue.scale(), s.margin.scale()])
            .chain([r.sales.scale(), r.refunds.scale()])
            .max();
        acc.raise_scale(scale)?;
        let s = acc.scale;
        if let Some(t) = acc.customers.extra_mut(0) {
            *t = Totals {
                sales: units_or(r.sales, s)?,
                refunds: units_or(r.refunds, s)?,
                sales_scale: scale_of(r.sales),
                refunds_scale: scale_of(r.refunds),
            };
        }
        for (c, v) in r.customers {
            *acc.customers.entry(c)? = ValueState {
                revenue: Units::new(units_or(v.revenue, s)?),
                margin: Units::new(units_or(v.margin, s)?),
                first: At::from_opt(v.first, At::MAX),
                last: At::from_opt(v.last, At::MIN),
                acquired: At::from_opt(v.acquired, At::MIN),
                orders: v.orders,
                margin_complete: v.margin_complete,
                revenue_scale: scale_of(v.revenue),
                margin_scale: scale_of(v.margin),
            };
        }
        Ok(acc)
    }
}

impl ValueAccumulator {
    /// An empty accumulator in `currency`.
    pub fn new(currency: Currency) -> Self {
        Self {
            currency,
            scale: 0,
            customers: Shards::default(),
        }
    }

    /// An empty accumulator expecting about `customers` customers.
    pub fn with_capacity(currency: Currency, customers: usize) -> Self {
        let mut acc = Self::new(currency);
        acc.customers.reserve(customers);
        acc
    }

    fn totals(&self) -> Totals {
        let mut t = Totals::default();
        for (_, x) in self.customers.parts() {
            // Unit sums of at most i64::MAX per row cannot overflow i128
            // within any realistic row count; saturate rather than wrap.
            t.sales = t.sales.saturating_add(x.sales);
            t.refunds = t.refunds.saturating_add(x.refunds);
            t.sales_scale = t.sales_scale.max(x.sales_scale);
            t.refunds_scale = t.refunds_scale.max(x.refunds_scale);
        }
        t
    }

    fn repr(&self) -> Result<ValueRepr, RelationshipError> {
        let s = self.scale;
        let t = self.totals();
        let customers = self
            .customers
            .iter()
            .map(|(c, v)| {
                Ok((
                    *c,
                    ValueStateRepr {
                        first: v.first.get(),
                        last: v.last.get(),
                        acquired: v.acquired.get(),
                        orders: v.orders,
                        margin_complete: v.margin_complete,
                        revenue: decimal(v.revenue.get(), s, u32::from(v.revenue_scale))?,
                        margin: decimal(v.margin.get(), s, u32::from(v.margin_scale))?,
                    },
                ))
            })
            .collect::<Result<_, RelationshipError>>()?;
        Ok(ValueRepr {
            currency: self.currency,
            sales: decimal(t.sales, s, u32::from(t.sales_scale))?,
            refunds: decimal(t.refunds, s, u32::from(t.refunds_scale))?,
            customers,
        })
    }

    /// Raises the unit scale to `scale` (if higher), rescaling every amount.
    fn raise_scale(&mut self, scale: Option<u32>) -> Result<(), RelationshipError> {
        let Some(scale) = scale.filter(|&s| s > self.scale) else {
            return Ok(());
        };
        let k = scale - self.scale;
        let p = pow10(k).ok_or(of("amount in integer units"))?;
        let fits = |v: i128| v.checked_mul(p).is_some();
        // Check everything first so a failure changes nothing.
        if !self
            .customers
            .states()
            .all(|s| fits(s.revenue.get()) && fits(s.margin.get()))
            || !self
                .customers
                .parts()
                .all(|(_, t)| fits(t.sales) && fits(t.refunds))
        {
            return Err(of("amount in integer units"));
        }
        for s in self.customers.states_mut() {
            s.revenue.rescale(k)?;
            s.margin.rescale(k)?;
        }
        for i in 0..SHARDS {
            if let Some(t) = self.customers.extra_mut(i) {
                rescale(&mut t.sales, k)?;
                rescale(&mut t.refunds, k)?;
            }
        }
        self.scale = scale;
        Ok(())
    }

    /// Adds one transaction.
    ///
    /// # Errors
    /// [`RelationshipError::CurrencyMismatch`] for another currency (convert
    /// first); [`RelationshipError::PurchaseBeforeAcquisition`] when the
    /// customer's recorded acquisition is later; overflow.
    pub fn push(&mut self, t: &Transaction) -> Result<(), RelationshipError> {
        self.push_batch(std::slice::from_ref(t))
    }

    /// Adds a batch of transactions: the same result as pushing each (large
    /// batches through the columnar kernel, over the available cores).
    ///
    /// # Errors
    /// As [`ValueAccumulator::push`]; a currency mismatch is reported before
    /// anything is added.
    pub fn push_batch(&mut self, rows: &[Transaction]) -> Result<(), RelationshipError> {
        push_columnar(self, rows)?;
        self.check_totals()
    }

    /// The sales and refunds totals (summed over shards) convert back to
    /// `Decimal`s.
    fn check_totals(&self) -> Result<(), RelationshipError> {
        let t = self.totals();
        let _ = decimal(t.sales, self.scale, u32::from(t.sales_scale))?;
        let _ = decimal(t.refunds, self.scale, u32::from(t.refunds_scale))?;
        Ok(())
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
        let state = self.customers.entry(customer)?;
        let mut next = *state;
        next.acquired = At::earlier_set(next.acquired, At::of(at));
        next.check(customer)?;
        *state = next;
        Ok(())
    }

    /// Adds every transaction of `ledger`: the same result as
    /// [`ValueAccumulator::push_batch`] of its transactions, without re-reading and
    /// grouping them (see [`crate::metrics::ledger`]). Into an empty
    /// accumulator the state is built from the ledger directly; into one
    /// with data, it is built apart and merged.
    ///
    /// # Errors
    /// [`RelationshipError::CurrencyMismatch`] for a ledger in another
    /// currency (nothing is added);
    /// [`RelationshipError::PurchaseBeforeAcquisition`] as with `merge`; overflow.
    pub fn push_ledger(&mut self, ledger: &Ledger) -> Result<(), RelationshipError> {
        push_ledger(self, ledger, |acc| {
            let customers = Shards::from_ledger(
                ledger,
                |r| {
                    Some(ValueRow {
                        secs: r.secs,
                        units: r.units,
                        margin: r.margin,
                        nanos: r.nanos,
                        sale: r.sale,
                        margin_scale: r.margin_scale,
                        scale: r.scale,
                    })
                },
                apply_row,
            )?;
            Ok(ValueAccumulator {
                currency: acc.currency,
                scale: ledger.scale(),
                customers,
            })
        })
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
        self.raise_scale(Some(other.scale))?;
        let k = self.scale - other.scale;
        for (i, (_, o)) in other.customers.parts().enumerate() {
            let (mut sales, mut refunds) = (o.sales, o.refunds);
            rescale(&mut sales, k)?;
            rescale(&mut refunds, k)?;
            let t = self.customers.extra_mut(i).ok_or(of("shard"))?;
            add(&mut t.sales, sales, "sales")?;
            add(&mut t.refunds, refunds, "refunds")?;
            t.sales_scale = t.sales_scale.max(o.sales_scale);
            t.refunds_scale = t.refunds_scale.max(o.refunds_scale);
        }
        for (c, o) in other.customers.iter() {
            let state = self.customers.entry(*c)?;
            state.merge(o, k)?;
            state.check(*c)?;
        }
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
    ///
    /// (Every sum is within a `Decimal` mantissa, checked when added, so
    /// the conversions back cannot fail; zero stands in if one did.)
    pub fn finish(&self) -> ValueSummary {
        let s = self.scale;
        let m = |v: i128, scale: u8| {
            Money::new(
                decimal(v, s, u32::from(scale)).unwrap_or(Decimal::ZERO),
                self.currency,
            )
        };
        let value = |(c, v): (&CustomerId, &ValueState)| CustomerValue {
            customer: *c,
            orders: v.orders,
            revenue: m(v.revenue.get(), v.revenue_scale),
            margin: v.margin_complete.then(|| m(v.margin.get(), v.margin_scale)),
            first: v.first.get(),
            last_sale: v.last.get(),
        };
        // Shard ranges over the cores, concatenated in shard order.
        let parts = self
            .customers
            .par_parts(|shards, _| {
                let n = shards.iter().map(DenseMap::len).sum();
                let mut out = Vec::with_capacity(n);
                out.extend(shards.iter().flat_map(DenseMap::iter).map(value));
                Ok(out)
            })
            .unwrap_or_default();
        let mut parts = parts.into_iter();
        let mut customers: Vec<CustomerValue> = parts.next().unwrap_or_default();
        customers.reserve(self.customers.len().saturating_sub(customers.len()));
        for part in parts {
            customers.extend(part);
        }
        let (mut orders, mut buyers) = (0u64, 0u64);
        for v in &customers {
            orders += u64::from(v.orders);
            buyers += u64::from(v.orders > 0);
        }
        let t = self.totals();
        ValueSummary {
            customers,
            sales: m(t.sales, t.sales_scale),
            refunds: m(t.refunds, t.refunds_scale),
            orders,
            buyers,
        }
    }
}

impl Columnar for ValueAccumulator {
    const MARGINS: bool = true;

    fn currency(&self) -> Currency {
        self.currency
    }

    fn is_empty(&self) -> bool {
        self.customers.len() == 0 && self.totals() == Totals::default()
    }

    fn scale(&self) -> u32 {
        self.scale
    }

    fn reset(&mut self, scale: u32) {
        self.customers = Shards::default();
        self.scale = scale;
    }

    fn raise_scale(&mut self, scale: Option<u32>) -> Result<(), RelationshipError> {
        ValueAccumulator::raise_scale(self, scale)
    }

    fn push_fast(&mut self, rows: &[Transaction]) -> Result<Option<usize>, RelationshipError> {
        let (scale, currency) = (self.scale, self.currency);
        self.customers.push_partitioned(
            rows,
            |t| {
                let amount = t.signed_amount();
                if amount.currency() != currency {
                    return Rec::Stop;
                }
                let amount = amount.amount();
                let (margin, margin_scale) = match t.margin() {
                    Some(m) => match units_i64(m.amount(), scale) {
                        Some(v) => (v, scale_of(m.amount())),
                        None => return Rec::Stop,
                    },
                    None => (0, u8::MAX),
                };
                let Some(units) = units_i64(amount, scale) else {
                    return Rec::Stop;
                };
                let at = t.at();
                let row = ValueRow {
                    secs: at.timestamp(),
                    units,
                    margin,
                    nanos: at.timestamp_subsec_nanos(),
                    sale: t.is_sale(),
                    margin_scale,
                    scale: scale_of(amount),
                };
                Rec::Keep(t.customer(), row)
            },
            apply_row,
        )
    }

    fn merge_from(&mut self, other: &Self) -> Result<(), RelationshipError> {
        self.merge(other)
    }

    fn push_slow(&mut self, rows: &[Transaction]) -> Result<(), RelationshipError> {
        let scale = self.scale;
        for t in rows {
            let row = ValueRow {
                secs: 0,
                units: 0,
                margin: 0,
                nanos: 0,
                sale: t.is_sale(),
                margin_scale: t.margin().map_or(u8::MAX, |m| scale_of(m.amount())),
                scale: scale_of(t.signed_amount().amount()),
            };
            let (s, _) = self.customers.slot(t.customer())?;
            let amount = units_or(t.signed_amount().amount(), scale)?;
            let margin = t
                .margin()
                .map(|m| units_or(m.amount(), scale))
                .transpose()?;
            apply(self.customers.entry(t.customer())?, t, amount, margin)?;
            let totals = self.customers.extra_mut(s).ok_or(of("shard"))?;
            add_totals(totals, &row, amount)?;
        }
        Ok(())
    }
}

/// Adds a row's amount to a shard's sales or refunds total.
#[inline]
fn add_totals(t: &mut Totals, r: &ValueRow, amount: i128) -> Result<(), RelationshipError> {
    if r.sale {
        add(&mut t.sales, amount, "sales")?;
        t.sales_scale = t.sales_scale.max(r.scale);
    } else {
        add(&mut t.refunds, amount, "refunds")?;
        t.refunds_scale = t.refunds_scale.max(r.scale);
    }
    Ok(())
}

/// Adds one compact row to its customer's state and its shard's totals.
#[inline]
fn apply_row(
    state: &mut ValueState,
    totals: &mut Totals,
    customer: &CustomerId,
    r: &ValueRow,
    _: u32,
) -> Result<(), RelationshipError> {
    let at = At::new(r.secs, r.nanos);
    if at < state.acquired {
        return Err(before_acquisition(*customer, at, state.acquired));
    }
    add_totals(totals, r, i128::from(r.units))?;
    state.first = state.first.min(at);
    state.revenue.add(i128::from(r.units), "revenue")?;
    state.revenue_scale = state.revenue_scale.max(r.scale);
    if r.margin_scale == u8::MAX {
        state.margin_complete = false;
    } else {
        state.margin.add(i128::from(r.margin), "margin")?;
        state.margin_scale = state.margin_scale.max(r.margin_scale);
    }
    if r.sale {
        state.orders = state.orders.checked_add(1).ok_or(of("order count"))?;
        state.last = state.last.max(at);
    }
    Ok(())
}

fn before_acquisition(customer: CustomerId, at: At, acquired: At) -> RelationshipError {
    match (at.get(), acquired.get()) {
        (Some(at), Some(acquired)) => RelationshipError::PurchaseBeforeAcquisition {
            customer,
            at,
            acquired,
        },
        _ => of("instant"),
    }
}

/// Adds one transaction (amounts already in units) to its customer's state.
fn apply(
    state: &mut ValueState,
    t: &Transaction,
    amount: i128,
    margin: Option<i128>,
) -> Result<(), RelationshipError> {
    let at = At::of(t.at());
    if at < state.acquired {
        return Err(before_acquisition(t.customer(), at, state.acquired));
    }
    state.first = state.first.min(at);
    state.revenue.add(amount, "revenue")?;
    state.revenue_scale = state
        .revenue_scale
        .max(scale_of(t.signed_amount().amount()));
    match (margin, t.margin()) {
        (Some(v), Some(m)) => {
            state.margin.add(v, "margin")?;
            state.margin_scale = state.margin_scale.max(scale_of(m.amount()));
        }
        _ => state.margin_complete = false,
    }
    if t.is_sale() {
        state.orders = state.orders.checked_add(1).ok_or(of("order count"))?;
        state.last = state.last.max(at);
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
    fn the_state_is_compact() {
        // Revenue and margin (2 x 16, 8-aligned), three instants (3 x 16),
        // order count, completeness flag, two scales: 87, padded to 88.
        assert_eq!(std::mem::size_of::<ValueState>(), 88);
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
