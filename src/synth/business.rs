//! A deterministic synthetic business: customers, purchases, subscriptions,
//! surveys, interactions and support cases over a window of months
//! (feature `synth`).
//!
//! [`generate`] turns a [`BusinessSpec`] into a [`Business`]; the same spec
//! (seed included) gives the same business on every run. Everything is
//! built through the domain constructors, so every value is valid, and
//! [`Business::load_into`] writes it into any store.
//!
//! # The generating process
//!
//! - **Customers** are acquired over the window (more towards its end: half
//!   uniformly, half with a density growing linearly), in seven markets
//!   (Germany, France, the United Kingdom, the US east and west coasts,
//!   Japan, Australia), each with its locale, IANA time zone, currency and
//!   support team. About 15 % are businesses. Contact points, consent per
//!   purpose (with source and evidence; some withdrawn later), preferred
//!   channel, segments and an external id come with them; a few have no
//!   contact point at all.
//! - **Purchases** follow the BG/NBD process ([`PurchaseProcess`]): the
//!   first purchase is the acquisition, then the customer buys as a Poisson
//!   process with rate `λ ~ Gamma(r, α)` (per day) and, after each repeat
//!   purchase, drops out with probability `p ~ Beta(a, b)`. Seasonality
//!   (more in November and December) thins a faster process month by month,
//!   so with `seasonality = 0` the process is exactly BG/NBD. Amounts follow
//!   the Gamma-Gamma spend model ([`SpendModel`], in euros), converted into
//!   the customer's currency at the rates of [`Business::rates`]. A few sales
//!   are refunded. A share of the customers ([`BusinessSpec::lead_share`])
//!   never buys. The lifecycle stage of every customer is read off their
//!   purchases at the end of the window.
//! - **Subscriptions**: some customers (mostly businesses) hold a plan whose
//!   MRR may change and which they may cancel.
//! - **Cases** follow some purchases: opened by the customer on a channel,
//!   handled by a bot (chatbot cases; some solved by it, the others escalated)
//!   and by an agent of the customer's regional team, with first reply and
//!   resolution in the team's business hours (log-normal, slower for low
//!   priority and slow agents; the APAC team is slower throughout, the
//!   Americas team is short-staffed from 35 % to 50 % of the window); some
//!   wait on hold for days, a few are forgotten, some are reopened, some
//!   are complaints, and those whose next step falls after the end are
//!   still open. Every case is built through [`Case::record`].
//! - **Surveys**: an NPS invitation after some sales, CSAT and CES invitations
//!   after solved cases, to customers who consented to surveys; a share
//!   answers a few days later. Scores depend on the experience (a slow,
//!   reopened or complaint case lowers CSAT, CES and the customer's next
//!   NPS) and drift over time (a dip from 55 % to 70 % of the window, then
//!   a recovery). Most detractors get an agent's follow-up within a few
//!   business hours, which lifts their next score.
//! - **Interactions** record the cases' contacts (inbound and outbound),
//!   onboarding e-mails, inquiries, newsletters, SMS promotions and sales
//!   calls, the outbound ones only where the customer consented.
//!
//! # Portability
//! Random bits come from Xoshiro256++, whose output is fixed by its
//! specification. Continuous draws use `rand_distr` and `f64` functions
//! (`ln`, `exp`); amounts and times are rounded to cents and milliseconds,
//! so a last-bit difference of a platform's math library is very unlikely
//! to show.

use std::collections::BTreeSet;

use chrono::{DateTime, Datelike, Duration, Months, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use rand::rngs::Xoshiro256PlusPlus;
use rand::{Rng, RngExt, SeedableRng};
use rand_distr::{Beta, Distribution, Gamma, Normal, Poisson};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

use crate::domain::{
    Actor, AgentId, BotId, BusinessCalendar, BusinessTimeError, Case, CaseEvent, CaseEventKind,
    CaseId, Channel, ConsentPurpose, ConsentRecord, ConsentSource, ConsentStatus, ContactPoint,
    ContactValue, Currency, Customer, CustomerId, CustomerKind, DaySchedule, Direction,
    EmailAddress, ExternalId, Handler, Interaction, InteractionId, InteractionPurpose,
    InvitationId, LifecycleStage, Locale, Money, PhoneNumber, Priority, Purchase, PurchaseId,
    PurchaseKind, Rated, ResponseId, Scale, Segment, Sentiment, Subscription, SubscriptionId,
    Survey, SurveyId, SurveyInvitation, SurveyKind, SurveyResponse, TeamId, TextValue, TimeOfDay,
};
use crate::error::ValidationError;
use crate::metrics::activity::RelationshipError;
use crate::metrics::revenue::FixedRates;
use crate::metrics::service::{Clock, SlaPolicy, SlaTarget, SlaTargets};
use crate::store::{Record, StoreError, UnitOfWork};

mod tables;
use tables::*;

/// The BG/NBD purchase process, time unit one day.
///
/// `λ ~ Gamma(r, α)` is the purchase rate while alive (mean `r / α` per
/// day) and `p ~ Beta(a, b)` the dropout probability after each repeat
/// purchase (mean `a / (a + b)`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PurchaseProcess {
    /// Shape of the purchase-rate distribution.
    pub r: f64,
    /// Rate (inverse scale) of the purchase-rate distribution, in days.
    pub alpha: f64,
    /// First shape of the dropout distribution.
    pub a: f64,
    /// Second shape of the dropout distribution.
    pub b: f64,
}

impl PurchaseProcess {
    /// The CDNOW estimates of Fader, Hardie and Lee (2005) (`r = 0.243`,
    /// `α = 4.414` weeks, `a = 0.793`, `b = 2.426`) with the purchase rate
    /// tripled: `α` = 4.414 weeks = 30.9 days becomes 10 days (a mean of
    /// 0.243 / 10 · 365 ≈ 8.9 purchases a year while alive), so a two-year
    /// window shows three to four purchases per buying customer. The shapes,
    /// and so the heterogeneity and the dropout, are CDNOW's.
    pub const REPORT: PurchaseProcess = PurchaseProcess {
        r: 0.243,
        alpha: 10.0,
        a: 0.793,
        b: 2.426,
    };
}

/// The Gamma-Gamma spend model, in euros: each purchase is worth
/// `z ~ Gamma(p, ν)` with `ν ~ Gamma(q, v)` per customer, so the mean spend
/// is `p·v / (q − 1)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SpendModel {
    /// Shape of a purchase's value.
    pub p: f64,
    /// Shape of the customers' rate parameter.
    pub q: f64,
    /// Rate of the customers' rate parameter.
    pub v: f64,
}

impl SpendModel {
    /// Mean spend 6 · 30 / (4 − 1) = 60 EUR per purchase.
    pub const REPORT: SpendModel = SpendModel {
        p: 6.0,
        q: 4.0,
        v: 30.0,
    };
}

/// What to generate.
#[derive(Debug, Clone, PartialEq)]
pub struct BusinessSpec {
    /// Number of customers.
    pub customers: u32,
    /// First instant of the window.
    pub start: DateTime<Utc>,
    /// Window length in calendar months (1-120).
    pub months: u32,
    /// Random seed.
    pub seed: u64,
    /// The currency reports convert into; must be one of the currencies the
    /// generator uses (EUR, USD, GBP, JPY, AUD).
    pub reporting_currency: Currency,
    /// The purchase process.
    pub purchasing: PurchaseProcess,
    /// The spend model (euros).
    pub spend: SpendModel,
    /// Strength of the seasonal pattern, `0..=1` (0: none).
    pub seasonality: f64,
    /// Share of customers who never buy (leads and prospects), `0..=1`.
    pub lead_share: f64,
    /// Probability that a sale is later refunded, `0..=1`.
    pub refund_rate: f64,
    /// Probability that a sale is followed by a support case, `0..=1`.
    pub case_rate: f64,
    /// Probability that a sale or a solved case triggers a survey
    /// invitation (to customers who consented to surveys), `0..=1`.
    pub survey_rate: f64,
    /// Probability that an invitation is answered, `0..=1`.
    pub response_rate: f64,
    /// Agents per support team (1-100).
    pub agents_per_team: u32,
    /// Whether some customers hold subscriptions.
    pub subscriptions: bool,
}

fn utc(y: i32, m: u32, d: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, 0, 0, 0)
        .single()
        .unwrap_or(DateTime::UNIX_EPOCH)
}

impl BusinessSpec {
    /// The README report: 5,000 customers over the 24 months ending
    /// 2026-11-01, reported in euros.
    pub fn report() -> Self {
        Self {
            customers: 5_000,
            start: utc(2024, 11, 1),
            months: 24,
            seed: 20_261_101,
            reporting_currency: Currency::EUR,
            purchasing: PurchaseProcess::REPORT,
            spend: SpendModel::REPORT,
            seasonality: 1.0,
            lead_share: 0.08,
            refund_rate: 0.03,
            case_rate: 0.12,
            survey_rate: 0.6,
            response_rate: 0.35,
            agents_per_team: 6,
            subscriptions: true,
        }
    }

    /// A small business for tests: 250 customers, same window and rates.
    pub fn small() -> Self {
        Self {
            customers: 250,
            seed: 7,
            agents_per_team: 3,
            ..Self::report()
        }
    }

    /// The end of the window (exclusive).
    ///
    /// # Errors
    /// [`SynthError::Spec`] if the end is not representable.
    pub fn end(&self) -> Result<DateTime<Utc>, SynthError> {
        self.start
            .checked_add_months(Months::new(self.months))
            .ok_or_else(|| spec_err("months", self.months, "an end before 2200"))
    }
}

/// A support team: its business hours and agents.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Team {
    /// The team's id.
    pub id: TeamId,
    /// Its name.
    pub name: String,
    /// Its business hours, in its own time zone.
    pub calendar: BusinessCalendar,
    /// Its agents.
    pub agents: Vec<AgentId>,
}

/// A generated business.
#[derive(Debug, Clone, PartialEq)]
pub struct Business {
    /// What it was generated from.
    pub spec: BusinessSpec,
    /// Customers, in acquisition order.
    pub customers: Vec<Customer>,
    /// Sales and refunds, in time order.
    pub purchases: Vec<Purchase>,
    /// Subscriptions, by start.
    pub subscriptions: Vec<Subscription>,
    /// The surveys: post-purchase NPS, support CSAT, support CES.
    pub surveys: Vec<Survey>,
    /// Survey invitations, in time order.
    pub invitations: Vec<SurveyInvitation>,
    /// Survey responses, in time order.
    pub responses: Vec<SurveyResponse>,
    /// Interactions, in time order.
    pub interactions: Vec<Interaction>,
    /// Support cases, by creation.
    pub cases: Vec<Case>,
    /// The support teams.
    pub teams: Vec<Team>,
    /// The bot that answers chatbot cases.
    pub bot: BotId,
    /// The business's service-level targets per priority, on each team's
    /// business clock (see [`sla_policy`]).
    pub sla: SlaPolicy,
    /// Rates from every currency used into the reporting currency.
    pub rates: FixedRates,
    /// The end of the window (exclusive): nothing happens at or after it.
    pub end: DateTime<Utc>,
}

/// Why a business could not be generated.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum SynthError {
    /// A spec field is outside its range.
    #[error("business spec: {field} = {value} is outside {range}")]
    Spec {
        /// The field.
        field: &'static str,
        /// Its value.
        value: String,
        /// The accepted range.
        range: &'static str,
    },
    /// A generated value failed validation (a bug in the generator).
    #[error(transparent)]
    Validation(#[from] ValidationError),
    /// Business-hours arithmetic failed.
    #[error(transparent)]
    BusinessTime(#[from] BusinessTimeError),
    /// An exchange rate could not be set up.
    #[error(transparent)]
    Rates(#[from] RelationshipError),
}

fn spec_err(field: &'static str, value: impl ToString, range: &'static str) -> SynthError {
    SynthError::Spec {
        field,
        value: value.to_string(),
        range,
    }
}

// ---------------------------------------------------------------------------
// Helpers.

/// `t` plus `seconds` (rounded to milliseconds, at least 0, at most about
/// 3,000 years: anything that far is past every window anyway).
fn after(t: DateTime<Utc>, seconds: f64) -> Result<DateTime<Utc>, SynthError> {
    let ms = (seconds.clamp(0.0, 1e11) * 1000.0).round();
    let ms = if ms.is_finite() { ms as i64 } else { 0 };
    t.checked_add_signed(Duration::milliseconds(ms))
        .ok_or_else(|| spec_err("start", t, "instants representable after generation"))
}

const DAY: f64 = 86_400.0;
const HOUR: f64 = 3_600.0;

fn pick<'a, T>(rng: &mut impl Rng, items: &'a [T]) -> Option<&'a T> {
    if items.is_empty() {
        None
    } else {
        items.get(rng.random_range(0..items.len()))
    }
}

fn chance(rng: &mut impl Rng, p: f64) -> bool {
    rng.random::<f64>() < p
}

fn exp_secs(rng: &mut impl Rng, mean_seconds: f64) -> f64 {
    // Inverse transform: -ln(1 - u) · mean, u in [0, 1).
    -(1.0 - rng.random::<f64>()).ln() * mean_seconds
}

/// A log-normal business duration with the given median (seconds) and
/// spread, capped.
fn log_normal_secs(rng: &mut impl Rng, median: f64, sigma: f64, cap: f64) -> f64 {
    let z = Normal::new(0.0, sigma.max(1e-9))
        .map(|n| n.sample(rng))
        .unwrap_or(0.0);
    (median * z.exp()).clamp(60.0, cap)
}

/// `t` moved to a random local time (weighted by [`HOURS`]) of its own
/// local day in `zone`; `t` itself when that time does not exist (a DST
/// gap).
fn daytime(rng: &mut impl Rng, t: DateTime<Utc>, zone: Tz) -> DateTime<Utc> {
    let total: u32 = HOURS.iter().sum();
    let mut k = rng.random_range(0..total.max(1));
    let mut hour = 12;
    for (h, &w) in HOURS.iter().enumerate() {
        if k < w {
            hour = h as u32;
            break;
        }
        k -= w;
    }
    let minute = rng.random_range(0..60);
    let second = rng.random_range(0..60);
    t.with_timezone(&zone)
        .date_naive()
        .and_hms_opt(hour, minute, second)
        .and_then(|n| zone.from_local_datetime(&n).earliest())
        .map_or(t, |d| d.with_timezone(&Utc))
}

fn money(eur: f64, currency: Currency) -> Result<Money, SynthError> {
    let rate = per_eur(currency)
        .and_then(|d| d.to_f64())
        .ok_or_else(|| spec_err("currency", currency, "a generator currency"))?;
    let minor = currency.minor_units().unwrap_or(2).min(4);
    let scale = 10f64.powi(minor as i32);
    let units = (eur * rate * scale).round();
    let units = if units.is_finite() {
        units.clamp(1.0, 1e12) as i64
    } else {
        1
    };
    Ok(Money::new(Decimal::new(units, minor), currency))
}

fn with_fraction(m: Money, fraction: Decimal) -> Money {
    let minor = m.currency().minor_units().unwrap_or(2);
    let amount = m
        .amount()
        .checked_mul(fraction)
        .unwrap_or(m.amount())
        .round_dp(minor);
    Money::new(amount, m.currency())
}

struct Ids {
    customer: u128,
    purchase: u128,
    subscription: u128,
    invitation: u128,
    response: u128,
    interaction: u128,
    case: u128,
}

impl Ids {
    fn next(counter: &mut u128, tag: u128) -> u128 {
        *counter += 1;
        (tag << 96) | *counter
    }
}

/// The drift of satisfaction over the window: a slow improvement, a dip
/// from 55 % to 70 % of the window (a delivery problem) and a recovery.
fn drift(fraction: f64) -> f64 {
    let trend = 0.6 * fraction;
    let dip = if (0.55..0.70).contains(&fraction) {
        -1.6
    } else if fraction >= 0.70 {
        -1.6 * (1.0 - (fraction - 0.70) / 0.15).clamp(0.0, 1.0)
    } else {
        0.0
    };
    trend + dip
}

// ---------------------------------------------------------------------------
// Generation.

struct Ctx<'a> {
    spec: &'a BusinessSpec,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    window: f64,
    teams: &'a [Team],
    bot: BotId,
    nps: &'a Survey,
    csat: &'a Survey,
    ces: &'a Survey,
    /// Per-agent speed factor (multiplies reply times), by team then agent.
    agent_speed: Vec<Vec<f64>>,
    lambda: Gamma<f64>,
    dropout: Beta<f64>,
    nu: Gamma<f64>,
}

impl Ctx<'_> {
    fn fraction(&self, t: DateTime<Utc>) -> f64 {
        ((t - self.start).num_seconds() as f64 / self.window).clamp(0.0, 1.0)
    }

    fn season(&self, t: DateTime<Utc>) -> f64 {
        let m = t.month0() as usize;
        let base = SEASON.get(m).copied().unwrap_or(1.0);
        1.0 + self.spec.seasonality * (base - 1.0)
    }

    fn max_season(&self) -> f64 {
        SEASON
            .iter()
            .map(|b| 1.0 + self.spec.seasonality * (b - 1.0))
            .fold(1.0, f64::max)
    }
}

fn validate(spec: &BusinessSpec) -> Result<(), SynthError> {
    if !(1..=120).contains(&spec.months) {
        return Err(spec_err("months", spec.months, "1..=120"));
    }
    if !(1900..=2200).contains(&spec.start.year()) {
        return Err(spec_err("start", spec.start, "years 1900..=2200"));
    }
    if !(1..=100).contains(&spec.agents_per_team) {
        return Err(spec_err("agents_per_team", spec.agents_per_team, "1..=100"));
    }
    if spec.customers > 10_000_000 {
        return Err(spec_err("customers", spec.customers, "0..=10,000,000"));
    }
    for (field, v) in [
        ("seasonality", spec.seasonality),
        ("lead_share", spec.lead_share),
        ("refund_rate", spec.refund_rate),
        ("case_rate", spec.case_rate),
        ("survey_rate", spec.survey_rate),
        ("response_rate", spec.response_rate),
    ] {
        if !(0.0..=1.0).contains(&v) {
            return Err(spec_err(field, v, "0..=1"));
        }
    }
    let p = spec.purchasing;
    let s = spec.spend;
    for (field, v) in [
        ("purchasing.r", p.r),
        ("purchasing.alpha", p.alpha),
        ("purchasing.a", p.a),
        ("purchasing.b", p.b),
        ("spend.p", s.p),
        ("spend.q", s.q),
        ("spend.v", s.v),
    ] {
        if !(v.is_finite() && v > 0.0 && v < 1e6) {
            return Err(spec_err(field, v, "(0, 1e6)"));
        }
    }
    if per_eur(spec.reporting_currency).is_none() {
        return Err(spec_err(
            "reporting_currency",
            spec.reporting_currency,
            "EUR, USD, GBP, JPY or AUD",
        ));
    }
    Ok(())
}

fn rates(reporting: Currency) -> Result<FixedRates, SynthError> {
    let mut rates = FixedRates::new();
    let to = per_eur(reporting).ok_or_else(|| spec_err("reporting_currency", reporting, ""))?;
    for &(c, _, _) in &PER_EUR {
        if c == reporting {
            continue;
        }
        let from = per_eur(c).ok_or_else(|| spec_err("currency", c, ""))?;
        let rate = to
            .checked_div(from)
            .ok_or_else(|| spec_err("currency", c, "a non-zero rate"))?
            .round_dp(8);
        rates = rates.with(c, reporting, rate)?;
    }
    Ok(rates)
}

fn teams(agents_per_team: u32) -> Result<Vec<Team>, SynthError> {
    let mut out = Vec::with_capacity(TEAMS.len());
    let mut agent = 0u128;
    for (i, &(name, zone, open, close, saturday)) in TEAMS.iter().enumerate() {
        let day = DaySchedule::single(TimeOfDay::new(open, 0, 0)?, TimeOfDay::new(close, 0, 0)?)?;
        let sat = if saturday {
            DaySchedule::single(TimeOfDay::new(10, 0, 0)?, TimeOfDay::new(14, 0, 0)?)?
        } else {
            DaySchedule::closed()
        };
        let week = [
            day.clone(),
            day.clone(),
            day.clone(),
            day.clone(),
            day,
            sat,
            DaySchedule::closed(),
        ];
        let holidays = holidays(zone);
        let calendar = BusinessCalendar::new(zone, week, holidays, [])?;
        let agents = (0..agents_per_team)
            .map(|_| {
                agent += 1;
                AgentId::from_u128((0xA6u128 << 96) | agent)
            })
            .collect();
        out.push(Team {
            id: TeamId::from_u128((0x7Eu128 << 96) | (i as u128 + 1)),
            name: name.to_owned(),
            calendar,
            agents,
        });
    }
    Ok(out)
}

/// New Year's Day and Christmas Day (plus Boxing Day outside the US) of
/// 2000-2099.
fn holidays(zone: Tz) -> Vec<NaiveDate> {
    let us = zone == Tz::America__New_York;
    let mut out = Vec::new();
    for y in 2000..2100 {
        out.extend(NaiveDate::from_ymd_opt(y, 1, 1));
        out.extend(NaiveDate::from_ymd_opt(y, 12, 25));
        if !us {
            out.extend(NaiveDate::from_ymd_opt(y, 12, 26));
        } else {
            out.extend(NaiveDate::from_ymd_opt(y, 7, 4));
        }
    }
    out
}

/// The service-level targets the generated teams work to, in business
/// hours: first reply within 1, 2, 4 and 8 hours and resolution (requester
/// wait time) within 8, 16, 24 and 40 hours for Urgent, High, Normal and
/// Low priority. The generated reply times are log-normal around medians of
/// 0.75, 1.5, 2.5 and 4 business hours (written channels), so most cases
/// meet the first-reply target and a visible minority does not.
///
/// # Errors
/// None in practice ([`SynthError::Validation`] would mean a zero limit).
pub fn sla_policy() -> Result<SlaPolicy, SynthError> {
    let mut policy = SlaPolicy::new();
    for (priority, first, resolution) in [
        (Priority::Urgent, 1, 8),
        (Priority::High, 2, 16),
        (Priority::Normal, 4, 24),
        (Priority::Low, 8, 40),
    ] {
        policy = policy.with(
            priority,
            SlaTargets {
                first_reply: Some(SlaTarget::new(Duration::hours(first), Clock::Business)?),
                next_reply: None,
                resolution: Some(SlaTarget::new(
                    Duration::hours(resolution),
                    Clock::Business,
                )?),
            },
        );
    }
    Ok(policy)
}

fn surveys(start: DateTime<Utc>) -> Result<[Survey; 3], SynthError> {
    Ok([
        Survey::new(
            SurveyId::from_u128((0x5Bu128 << 96) | 1),
            "Post-purchase NPS",
            SurveyKind::Nps,
            Scale::nps(),
            Some("How likely are you to recommend us to a friend or colleague?".to_owned()),
            start,
        )?,
        Survey::new(
            SurveyId::from_u128((0x5Bu128 << 96) | 2),
            "Support CSAT",
            SurveyKind::Csat,
            Scale::csat5(),
            Some("How satisfied are you with how we handled your request?".to_owned()),
            start,
        )?,
        Survey::new(
            SurveyId::from_u128((0x5Bu128 << 96) | 3),
            "Support effort (CES)",
            SurveyKind::Ces,
            Scale::ces(),
            Some("The company made it easy for me to handle my issue.".to_owned()),
            start,
        )?,
    ])
}

/// Generates the business of `spec`.
///
/// # Errors
/// [`SynthError::Spec`] for a field outside its documented range; the other
/// variants only if the generator builds an invalid value (a bug).
///
/// # Example
/// ```
/// use crmkit::synth::business::{BusinessSpec, generate};
/// let spec = BusinessSpec { customers: 50, ..BusinessSpec::small() };
/// let business = generate(&spec)?;
/// assert_eq!(business.customers.len(), 50);
/// assert!(business.purchases.iter().all(|p| p.occurred_at() < business.end));
/// assert_eq!(business, generate(&spec)?); // deterministic
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn generate(spec: &BusinessSpec) -> Result<Business, SynthError> {
    validate(spec)?;
    let end = spec.end()?;
    let start = spec.start;
    let window = (end - start).num_seconds() as f64;
    let teams = teams(spec.agents_per_team)?;
    let [nps, csat, ces] = surveys(start)?;
    let bot = BotId::from_u128((0xB0u128 << 96) | 1);
    let rates = rates(spec.reporting_currency)?;
    let p = spec.purchasing;
    let s = spec.spend;
    let bad = |field: &'static str, v: f64| spec_err(field, v, "a valid distribution parameter");
    let mut master = Xoshiro256PlusPlus::seed_from_u64(spec.seed);
    let agent_speed = teams
        .iter()
        .map(|t| {
            t.agents
                .iter()
                .map(|_| 0.6 + 0.9 * master.random::<f64>())
                .collect()
        })
        .collect();
    let ctx = Ctx {
        spec,
        start,
        end,
        window,
        teams: &teams,
        bot,
        nps: &nps,
        csat: &csat,
        ces: &ces,
        agent_speed,
        lambda: Gamma::new(p.r, 1.0 / p.alpha).map_err(|_| bad("purchasing.r", p.r))?,
        dropout: Beta::new(p.a, p.b).map_err(|_| bad("purchasing.a", p.a))?,
        nu: Gamma::new(s.q, 1.0 / s.v).map_err(|_| bad("spend.q", s.q))?,
    };

    // Acquisition instants, sorted, so ids follow acquisition order.
    let last = (window - DAY).max(0.0);
    let mut acquired: Vec<(f64, u64)> = (0..spec.customers)
        .map(|_| {
            let u = master.random::<f64>();
            let x = if master.random_bool(0.5) { u } else { u.sqrt() };
            (x * last, master.next_u64())
        })
        .collect();
    acquired.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));

    let mut out = Business {
        spec: spec.clone(),
        customers: Vec::with_capacity(spec.customers as usize),
        purchases: Vec::new(),
        subscriptions: Vec::new(),
        surveys: Vec::new(),
        invitations: Vec::new(),
        responses: Vec::new(),
        interactions: Vec::new(),
        cases: Vec::new(),
        teams: Vec::new(),
        bot,
        sla: sla_policy()?,
        rates,
        end,
    };
    let mut ids = Ids {
        customer: 0,
        purchase: 0,
        subscription: 0,
        invitation: 0,
        response: 0,
        interaction: 0,
        case: 0,
    };
    let weights: u32 = MARKETS.iter().map(|m| m.weight).sum();
    for (offset, stream) in acquired {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(stream);
        let mut k = rng.random_range(0..weights.max(1));
        let market = MARKETS
            .iter()
            .find(|m| {
                if k < m.weight {
                    true
                } else {
                    k -= m.weight;
                    false
                }
            })
            .unwrap_or(&MARKETS[0]);
        let at = after(start, offset)?;
        let local = daytime(&mut rng, at, market.zone);
        let at = if local >= start && local < end {
            local
        } else {
            at
        };
        customer_world(&ctx, &mut rng, &mut ids, market, at, &mut out)?;
    }
    out.customers.sort_by_key(|c| (c.acquired_at(), c.id()));
    out.purchases.sort_by_key(|x| (x.occurred_at(), x.id()));
    out.subscriptions.sort_by_key(|x| (x.started_at(), x.id()));
    out.invitations.sort_by_key(|x| (x.sent_at(), x.id()));
    out.responses.sort_by_key(|x| (x.responded_at(), x.id()));
    out.interactions.sort_by_key(|x| (x.occurred_at(), x.id()));
    out.cases.sort_by_key(|x| (x.created_at(), x.id()));
    out.surveys = vec![nps, csat, ces];
    out.teams = teams;
    Ok(out)
}

/// What happened in one case, for the surveys that follow it.
struct CaseOutcome {
    solved_at: Option<DateTime<Utc>>,
    /// Business seconds from creation to the first solve.
    resolution: f64,
    reopened: bool,
    complaint: bool,
    agent: Option<(AgentId, TeamId)>,
    channel: Channel,
    id: CaseId,
}

#[allow(clippy::too_many_lines)]
fn customer_world(
    ctx: &Ctx<'_>,
    rng: &mut Xoshiro256PlusPlus,
    ids: &mut Ids,
    market: &Market,
    acquired: DateTime<Utc>,
    out: &mut Business,
) -> Result<(), SynthError> {
    let spec = ctx.spec;
    let n = Ids::next(&mut ids.customer, 0xC0);
    let id = CustomerId::from_u128(n);
    let seq = n & 0xFFFF_FFFF;
    let business = chance(rng, 0.15);
    let kind = if business {
        CustomerKind::Business
    } else {
        CustomerKind::Individual
    };
    let given = pick(rng, &market.given).copied().unwrap_or("Alex");
    let family = pick(rng, &market.family).copied().unwrap_or("Smith");
    let mut b = Customer::builder(id, kind, acquired)
        .external_id(ExternalId::new(format!("CUST-{seq:06}"))?)
        .given_name(given)
        .family_name(family)
        .display_name(format!("{given} {family}"))
        .locale(Locale::new(market.locale)?)
        .time_zone(market.zone);
    let company = format!("{family} {}", market.company_suffix);
    if business {
        b = b.organisation_name(company.clone());
    }
    // Contact points: 3 % none at all, else e-mail (95 %) and phone (60 %).
    let no_contact = chance(rng, 0.03);
    let email = !no_contact && chance(rng, 0.95);
    let phone = !no_contact && (!email || chance(rng, 0.6));
    if email {
        let domain = if business {
            format!(
                "{}.example.com",
                family.to_ascii_lowercase().replace(' ', "-")
            )
        } else {
            pick(rng, &["example.com", "example.net", "example.org"])
                .copied()
                .unwrap_or("example.com")
                .to_owned()
        };
        let address = format!(
            "{}.{}{}@{domain}",
            given.to_ascii_lowercase(),
            family.to_ascii_lowercase(),
            seq
        );
        b = b.contact_point(ContactPoint::new(
            ContactValue::Email(EmailAddress::new(address)?),
            chance(rng, 0.8),
            None,
        ));
    }
    if phone {
        let (prefix, digits) = market.phone;
        let mut number = prefix.to_owned();
        for d in 0..digits {
            // First digit not zero keeps numbers plausible.
            let lo = u32::from(d == 0);
            number.push(char::from(b'0' + rng.random_range(lo..10) as u8));
        }
        b = b.contact_point(ContactPoint::new(
            ContactValue::Phone(PhoneNumber::new(number)?),
            chance(rng, 0.5),
            None,
        ));
    }
    // Preferred channel: one the customer can be reached on.
    let preferred = match (email, phone) {
        (true, true) => *pick(
            rng,
            &[
                Channel::Email,
                Channel::Email,
                Channel::Email,
                Channel::Phone,
                Channel::Sms,
                Channel::LiveChat,
            ],
        )
        .unwrap_or(&Channel::Email),
        (true, false) => *pick(rng, &[Channel::Email, Channel::Email, Channel::LiveChat])
            .unwrap_or(&Channel::Email),
        (false, true) => *pick(rng, &[Channel::Phone, Channel::Sms]).unwrap_or(&Channel::Phone),
        (false, false) => Channel::LiveChat,
    };
    b = b.preferred_channel(preferred);
    let tier = if !business {
        "consumer"
    } else if chance(rng, 0.25) {
        "enterprise"
    } else {
        "smb"
    };
    let segments = [Segment::new(tier)?, Segment::new(market.country)?];
    for s in &segments {
        b = b.segment(s.clone());
    }
    let source = *pick(
        rng,
        &["organic", "paid_search", "referral", "social", "partner"],
    )
    .unwrap_or(&"organic");
    b = b.tag(Segment::new(source)?);

    // Consent at acquisition, some withdrawn later.
    let window_left = (ctx.end - acquired).num_seconds() as f64;
    let mut consents: Vec<ConsentRecord> = Vec::new();
    let form = if chance(rng, 0.5) {
        ConsentSource::DoubleOptIn
    } else {
        ConsentSource::WebForm
    };
    let evidence = |s: &str| TextValue::new(format!("{s} #{seq:06}"));
    if email || phone {
        consents.push(
            ConsentRecord::new(
                ConsentPurpose::ServiceMessages,
                ConsentStatus::Given,
                acquired,
                ConsentSource::WebForm,
            )
            .with_evidence(evidence("terms accepted at sign-up, form")?),
        );
    }
    let mut give = |purpose: ConsentPurpose,
                    p_given: f64,
                    p_withdraw: f64,
                    source: ConsentSource,
                    rng: &mut Xoshiro256PlusPlus|
     -> Result<(), SynthError> {
        if !chance(rng, p_given) {
            return Ok(());
        }
        consents.push(
            ConsentRecord::new(purpose.clone(), ConsentStatus::Given, acquired, source)
                .with_evidence(evidence("consent box ticked, form")?),
        );
        if chance(rng, p_withdraw) {
            let at = after(acquired, rng.random::<f64>() * window_left)?;
            if at < ctx.end {
                consents.push(
                    ConsentRecord::new(
                        purpose,
                        ConsentStatus::Withdrawn,
                        at,
                        ConsentSource::Unsubscribe,
                    )
                    .with_evidence(evidence("unsubscribe link, message")?),
                );
            }
        }
        Ok(())
    };
    if email {
        give(ConsentPurpose::Newsletter, 0.55, 0.2, form, rng)?;
        give(ConsentPurpose::MarketingEmail, 0.45, 0.15, form, rng)?;
    }
    if phone {
        give(ConsentPurpose::Sms, 0.3, 0.2, form, rng)?;
        give(
            ConsentPurpose::PhoneCalls,
            if business { 0.5 } else { 0.15 },
            0.1,
            ConsentSource::Verbal,
            rng,
        )?;
    }
    if email || phone {
        give(ConsentPurpose::Surveys, 0.8, 0.05, form, rng)?;
    }
    for c in consents {
        b = b.consent(c);
    }
    let mut customer = b.build()?;

    // --- Purchases: BG/NBD with seasonal thinning, Gamma-Gamma amounts.
    let buyer = !chance(rng, spec.lead_share);
    let mut sales: Vec<(DateTime<Utc>, PurchaseId, Money)> = Vec::new();
    if buyer {
        let lambda = ctx.lambda.sample(rng) / DAY;
        let p_die = ctx.dropout.sample(rng);
        let nu = ctx.nu.sample(rng).max(1e-9);
        let spend = Gamma::new(spec.spend.p, 1.0 / nu)
            .map_err(|_| spec_err("spend.p", spec.spend.p, "a valid shape"))?;
        let factor = if business { 3.0 } else { 1.0 };
        let mut at = acquired;
        let w_max = ctx.max_season();
        let mut first = true;
        loop {
            if !first {
                // Next candidate of the dominating process, thinned by season.
                if lambda <= 0.0 || !lambda.is_finite() {
                    break;
                }
                at = after(at, exp_secs(rng, 1.0 / (lambda * w_max)))?;
                if at >= ctx.end {
                    break;
                }
                if !chance(rng, ctx.season(at) / w_max) {
                    continue;
                }
            }
            // Customers buy at their local daytime, in order, never before
            // the acquisition; the process time `at` itself is unchanged.
            let at = if first {
                acquired
            } else {
                let previous = sales.last().map_or(acquired, |s| s.0);
                daytime(rng, at, market.zone).max(after(previous, 1.0)?)
            };
            if at >= ctx.end {
                break;
            }
            let amount = money(spend.sample(rng) * factor, market.currency)?;
            let pid = PurchaseId::from_u128(Ids::next(&mut ids.purchase, 0x9A));
            let sale = Purchase::new(pid, id, at, PurchaseKind::Sale, amount)?
                .with_margin(with_fraction(amount, Decimal::new(35, 2)))?;
            out.purchases.push(sale);
            sales.push((at, pid, amount));
            if !first && chance(rng, p_die) {
                break;
            }
            first = false;
        }
    }
    // Refunds.
    let mut refunded: BTreeSet<PurchaseId> = BTreeSet::new();
    for &(at, pid, amount) in &sales {
        if !chance(rng, spec.refund_rate) {
            continue;
        }
        let when = after(at, DAY * (2.0 + 28.0 * rng.random::<f64>()))?;
        if when >= ctx.end {
            continue;
        }
        let refund = if chance(rng, 0.7) {
            amount
        } else {
            let f = Decimal::new(rng.random_range(20..80), 2);
            let m = with_fraction(amount, f);
            if m.amount() > Decimal::ZERO {
                m
            } else {
                amount
            }
        };
        let rid = PurchaseId::from_u128(Ids::next(&mut ids.purchase, 0x9A));
        let r = Purchase::new(
            rid,
            id,
            when,
            PurchaseKind::Refund { of: Some(pid) },
            refund,
        )?
        .with_margin(with_fraction(refund, Decimal::new(35, 2)))?;
        out.purchases.push(r);
        let _ = refunded.insert(pid);
    }

    // Lifecycle at the end of the window, read off the sales.
    let stage = lifecycle(&sales, ctx.end, rng);
    if stage != LifecycleStage::Lead {
        // Walk a valid path through the transition table.
        let path: &[LifecycleStage] = match stage {
            LifecycleStage::Prospect => &[LifecycleStage::Prospect],
            LifecycleStage::Active => &[LifecycleStage::Active],
            LifecycleStage::AtRisk => &[LifecycleStage::Active, LifecycleStage::AtRisk],
            LifecycleStage::Churned => &[LifecycleStage::Active, LifecycleStage::Churned],
            LifecycleStage::Reactivated => &[
                LifecycleStage::Active,
                LifecycleStage::Churned,
                LifecycleStage::Reactivated,
            ],
            LifecycleStage::Lead => &[],
        };
        for &s in path {
            customer.set_lifecycle_stage(s)?;
        }
    }

    // --- Subscriptions.
    if spec.subscriptions && !sales.is_empty() && chance(rng, if business { 0.4 } else { 0.05 }) {
        let (plan, eur) = *pick(rng, &PLANS).unwrap_or(&PLANS[0]);
        let sid = SubscriptionId::from_u128(Ids::next(&mut ids.subscription, 0x5C));
        let mut sub = Subscription::new(
            sid,
            id,
            Segment::new(plan)?,
            acquired,
            money(eur as f64, market.currency)?,
        )?;
        let mut month = acquired;
        let mut changed = false;
        loop {
            month = after(month, 30.0 * DAY)?;
            if month >= ctx.end {
                break;
            }
            if !changed && chance(rng, 0.03) {
                let up = if chance(rng, 0.7) { 1.5 } else { 0.6 };
                sub.change_mrr(month, money(eur as f64 * up, market.currency)?)?;
                changed = true;
            }
            if chance(rng, 0.02) {
                let paid = after(month, 30.0 * DAY)?;
                sub.cancel(month, Some(paid))?;
                break;
            }
        }
        out.subscriptions.push(sub);
    }

    // --- Interactions outside cases.
    let team = ctx.teams.get(market.team).or(ctx.teams.first());
    let agent_of = |rng: &mut Xoshiro256PlusPlus| -> Option<(AgentId, TeamId, usize)> {
        let t = team?;
        let k = rng.random_range(0..t.agents.len().max(1));
        t.agents.get(k).map(|a| (*a, t.id, k))
    };
    if email {
        let onboarding = Interaction::new(
            InteractionId::from_u128(Ids::next(&mut ids.interaction, 0x1A)),
            id,
            Channel::Email,
            Direction::Outbound,
            InteractionPurpose::Onboarding,
            after(acquired, 600.0)?,
        )
        .with_summary("Welcome e-mail")?;
        if onboarding.occurred_at() < ctx.end {
            out.interactions.push(onboarding);
        }
    }
    // Inquiries: about one a year while the customer is around.
    let years = window_left / (365.0 * DAY);
    let inquiries = Poisson::new((0.8 * years).max(1e-6))
        .map(|d| d.sample(rng) as u32)
        .unwrap_or(0);
    for _ in 0..inquiries.min(20) {
        let at = after(acquired, rng.random::<f64>() * window_left)?;
        let at = daytime(rng, at, market.zone).max(acquired);
        if at >= ctx.end {
            continue;
        }
        let channel = *pick(
            rng,
            &[
                preferred,
                Channel::LiveChat,
                Channel::Chatbot,
                Channel::SocialMedia,
                Channel::Email,
                Channel::Phone,
            ],
        )
        .unwrap_or(&preferred);
        let mut i = Interaction::new(
            InteractionId::from_u128(Ids::next(&mut ids.interaction, 0x1A)),
            id,
            channel,
            Direction::Inbound,
            if chance(rng, 0.8) {
                InteractionPurpose::Inquiry
            } else {
                InteractionPurpose::Feedback
            },
            at,
        );
        if channel == Channel::Chatbot {
            i = i.with_handler(Handler::Bot(ctx.bot));
        } else if let Some((agent, team, _)) = agent_of(rng) {
            i = i.with_handler(Handler::Agent {
                agent,
                team: Some(team),
            });
        }
        if channel == Channel::Phone {
            i = i.with_duration(Duration::seconds(rng.random_range(90..900)))?;
        }
        out.interactions.push(i);
    }
    // Newsletters (quarterly), SMS promotions (November) and sales calls,
    // only while the customer consents.
    let mut t = acquired;
    loop {
        t = after(t, 91.0 * DAY)?;
        if t >= ctx.end {
            break;
        }
        if customer.has_consent(&ConsentPurpose::Newsletter, t) {
            out.interactions.push(
                Interaction::new(
                    InteractionId::from_u128(Ids::next(&mut ids.interaction, 0x1A)),
                    id,
                    Channel::Email,
                    Direction::Outbound,
                    InteractionPurpose::Newsletter,
                    t,
                )
                .with_summary("Quarterly newsletter")?,
            );
        }
        if t.month() >= 10 && customer.has_consent(&ConsentPurpose::Sms, t) {
            out.interactions.push(Interaction::new(
                InteractionId::from_u128(Ids::next(&mut ids.interaction, 0x1A)),
                id,
                Channel::Sms,
                Direction::Outbound,
                InteractionPurpose::Sales,
                t,
            ));
        }
        if business && customer.has_consent(&ConsentPurpose::PhoneCalls, t) && chance(rng, 0.5) {
            let mut call = Interaction::new(
                InteractionId::from_u128(Ids::next(&mut ids.interaction, 0x1A)),
                id,
                Channel::Phone,
                Direction::Outbound,
                InteractionPurpose::Sales,
                t,
            )
            .with_duration(Duration::seconds(rng.random_range(120..1800)))?;
            if let Some((agent, team, _)) = agent_of(rng) {
                call = call.with_handler(Handler::Agent {
                    agent,
                    team: Some(team),
                });
            }
            out.interactions.push(call);
        }
    }

    // --- Cases after some sales.
    let mut outcomes: Vec<CaseOutcome> = Vec::new();
    if let Some(team) = team {
        let team_index = market.team;
        for &(at, _, _) in &sales {
            let rate = if business {
                spec.case_rate * 1.8
            } else {
                spec.case_rate
            };
            if !chance(rng, rate.min(1.0)) {
                continue;
            }
            let opened = after(at, exp_secs(rng, 6.0 * DAY))?;
            let opened = daytime(rng, opened, market.zone).max(after(at, 600.0)?);
            if opened >= ctx.end {
                continue;
            }
            let case_channel = if chance(rng, 0.5) && preferred != Channel::Sms {
                preferred
            } else {
                *pick(
                    rng,
                    &[
                        Channel::Email,
                        Channel::Email,
                        Channel::Phone,
                        Channel::LiveChat,
                        Channel::Chatbot,
                        Channel::Chatbot,
                        Channel::SocialMedia,
                        Channel::WebForm,
                    ],
                )
                .unwrap_or(&Channel::Email)
            };
            let outcome = one_case(
                ctx,
                rng,
                ids,
                id,
                team,
                team_index,
                case_channel,
                opened,
                out,
            )?;
            outcomes.push(outcome);
        }
    }

    // --- Surveys.
    let invite_channel = if email { Channel::Email } else { Channel::Sms };
    let mut mood = Normal::new(0.0, 1.1).map(|d| d.sample(rng)).unwrap_or(0.0);
    for &(at, pid, _) in &sales {
        if !chance(rng, spec.survey_rate) {
            continue;
        }
        let sent = after(at, 3.0 * DAY)?;
        if sent >= ctx.end || !customer.has_consent(&ConsentPurpose::Surveys, sent) {
            continue;
        }
        let inv = SurveyInvitation::new(
            InvitationId::from_u128(Ids::next(&mut ids.invitation, 0x1B)),
            ctx.nps.id(),
            id,
            sent,
            invite_channel,
        )
        .with_segments(segments.iter().cloned());
        let inv_id = inv.id();
        out.invitations.push(inv);
        if !chance(rng, spec.response_rate) {
            continue;
        }
        let answered = after(sent, exp_secs(rng, 1.5 * DAY))?;
        let answered = daytime(rng, answered, market.zone).max(after(sent, 60.0)?);
        if answered >= ctx.end {
            continue;
        }
        // Experience: a bad case in the 60 days before lowers the score.
        let penalty: f64 = outcomes
            .iter()
            .filter_map(|o| {
                let recent = o
                    .solved_at
                    .is_some_and(|s| s <= answered && (answered - s).num_days() <= 60);
                recent.then_some(
                    1.2 * f64::from(u8::from(o.resolution > 24.0 * HOUR))
                        + 1.0 * f64::from(u8::from(o.reopened))
                        + 1.0 * f64::from(u8::from(o.complaint)),
                )
            })
            .sum();
        let refund_penalty = if refunded.contains(&pid) { 1.5 } else { 0.0 };
        let noise = Normal::new(0.0, 1.6).map(|d| d.sample(rng)).unwrap_or(0.0);
        let latent = 7.9 + mood + drift(ctx.fraction(answered)) - penalty - refund_penalty + noise;
        let score = latent.round().clamp(0.0, 10.0) as i32;
        let mut r = SurveyResponse::new(
            ResponseId::from_u128(Ids::next(&mut ids.response, 0x1C)),
            ctx.nps,
            id,
            answered,
            score,
        )?
        .with_invitation(inv_id)
        .with_rates(Rated::Purchase(pid))
        .with_segments(segments.iter().cloned())
        .with_channel(invite_channel);
        if chance(rng, 0.25) {
            r = r.with_comment(comment(rng, score >= 9, score <= 6))?;
        }
        out.responses.push(r);
        // Closing the loop: most detractors hear from an agent within a few
        // business hours, and those who do score higher next time.
        if score <= 6 {
            let follow_up = match team {
                Some(team) if chance(rng, 0.6) => {
                    let d = log_normal_secs(rng, 6.0 * HOUR, 0.9, 80.0 * HOUR);
                    let at = team
                        .calendar
                        .add_business_time(answered, Duration::seconds(d as i64))?;
                    (at < ctx.end).then_some((team, at))
                }
                _ => None,
            };
            if let Some((team, at)) = follow_up {
                let (channel, duration) = if phone {
                    (Channel::Phone, Some(rng.random_range(180..900)))
                } else {
                    (Channel::Email, None)
                };
                let k = rng.random_range(0..team.agents.len().max(1));
                let mut i = Interaction::new(
                    InteractionId::from_u128(Ids::next(&mut ids.interaction, 0x1A)),
                    id,
                    channel,
                    Direction::Outbound,
                    InteractionPurpose::FollowUp,
                    at,
                )
                .with_summary("Follow-up on survey feedback")?;
                if let Some(&agent) = team.agents.get(k) {
                    i = i.with_handler(Handler::Agent {
                        agent,
                        team: Some(team.id),
                    });
                }
                if let Some(s) = duration {
                    i = i.with_duration(Duration::seconds(s))?;
                }
                out.interactions.push(i);
                mood += 0.8;
            } else {
                mood -= 0.3;
            }
        }
    }
    for o in &outcomes {
        let Some(solved) = o.solved_at else { continue };
        if !chance(rng, (spec.survey_rate * 1.4).min(1.0)) {
            continue;
        }
        let sent = after(solved, 2.0 * HOUR)?;
        if sent >= ctx.end || !customer.has_consent(&ConsentPurpose::Surveys, sent) {
            continue;
        }
        let slow = f64::from(u8::from(o.resolution > 16.0 * HOUR))
            + f64::from(u8::from(o.resolution > 40.0 * HOUR));
        let hit =
            slow + 1.2 * f64::from(u8::from(o.reopened)) + 0.6 * f64::from(u8::from(o.complaint));
        let with_ces = chance(rng, 0.5);
        let both: &[(&Survey, bool)] = if with_ces {
            &[(ctx.csat, true), (ctx.ces, false)]
        } else {
            &[(ctx.csat, true)]
        };
        let answers = chance(rng, (spec.response_rate * 1.15).min(1.0));
        let answered = after(sent, exp_secs(rng, 0.8 * DAY))?;
        let answered = daytime(rng, answered, market.zone).max(after(sent, 60.0)?);
        for &(survey, is_csat) in both {
            let inv = SurveyInvitation::new(
                InvitationId::from_u128(Ids::next(&mut ids.invitation, 0x1B)),
                survey.id(),
                id,
                sent,
                invite_channel,
            )
            .with_segments(segments.iter().cloned());
            let inv_id = inv.id();
            out.invitations.push(inv);
            if !answers || answered >= ctx.end {
                continue;
            }
            let noise = Normal::new(0.0, 0.8).map(|d| d.sample(rng)).unwrap_or(0.0);
            let d = drift(ctx.fraction(answered)) * 0.3;
            let (score, good, poor) = if is_csat {
                let s = (4.4 + 0.3 * mood + d - 0.7 * hit + noise)
                    .round()
                    .clamp(1.0, 5.0) as i32;
                (s, s >= 5, s <= 2)
            } else {
                let s = (5.9 + 0.3 * mood + d - 1.0 * hit + 1.2 * noise)
                    .round()
                    .clamp(1.0, 7.0) as i32;
                (s, s >= 6, s <= 3)
            };
            let mut r = SurveyResponse::new(
                ResponseId::from_u128(Ids::next(&mut ids.response, 0x1C)),
                survey,
                id,
                answered,
                score,
            )?
            .with_invitation(inv_id)
            .with_rates(Rated::Case(o.id))
            .with_segments(segments.iter().cloned())
            .with_channel(o.channel);
            if let Some((agent, team)) = o.agent {
                r = r.with_agent(agent).with_team(team);
            }
            if is_csat && chance(rng, 0.3) {
                r = r.with_comment(comment(rng, good, poor))?;
            }
            out.responses.push(r);
        }
    }
    out.customers.push(customer);
    Ok(())
}

fn comment(rng: &mut impl Rng, good: bool, poor: bool) -> String {
    let list: &[&str] = if good {
        &GOOD_COMMENTS
    } else if poor {
        &BAD_COMMENTS
    } else {
        &MIXED_COMMENTS
    };
    pick(rng, list).copied().unwrap_or("OK").to_owned()
}

/// The lifecycle stage at `end` implied by the sales: none → Lead or
/// Prospect; last sale within 90 days → Active (Reactivated after a gap of
/// more than 180 days); 90-180 days → AtRisk; older → Churned.
fn lifecycle(
    sales: &[(DateTime<Utc>, PurchaseId, Money)],
    end: DateTime<Utc>,
    rng: &mut impl Rng,
) -> LifecycleStage {
    let Some(&(last, _, _)) = sales.last() else {
        return if chance(rng, 0.4) {
            LifecycleStage::Prospect
        } else {
            LifecycleStage::Lead
        };
    };
    let since = (end - last).num_days();
    let gap = sales
        .windows(2)
        .filter_map(|w| match w {
            [a, b] => Some((b.0 - a.0).num_days()),
            _ => None,
        })
        .max()
        .unwrap_or(0);
    if since <= 90 {
        if gap > 180 {
            LifecycleStage::Reactivated
        } else {
            LifecycleStage::Active
        }
    } else if since <= 180 {
        LifecycleStage::AtRisk
    } else {
        LifecycleStage::Churned
    }
}

/// Builds one case through the event API; events that would fall at or
/// after the end are not recorded, so such a case stays open.
#[allow(clippy::too_many_arguments, clippy::too_many_lines)]
fn one_case(
    ctx: &Ctx<'_>,
    rng: &mut Xoshiro256PlusPlus,
    ids: &mut Ids,
    customer: CustomerId,
    team: &Team,
    team_index: usize,
    channel: Channel,
    opened: DateTime<Utc>,
    out: &mut Business,
) -> Result<CaseOutcome, SynthError> {
    let cal = &team.calendar;
    let end = ctx.end;
    let complaint = chance(rng, 0.15);
    let subject = if complaint {
        pick(rng, &COMPLAINT_SUBJECTS).copied()
    } else {
        pick(rng, &SUPPORT_SUBJECTS).copied()
    }
    .unwrap_or("Question");
    let priority = if complaint {
        if chance(rng, 0.5) {
            Priority::High
        } else {
            Priority::Normal
        }
    } else {
        *pick(
            rng,
            &[
                Priority::Low,
                Priority::Low,
                Priority::Normal,
                Priority::Normal,
                Priority::Normal,
                Priority::Normal,
                Priority::High,
                Priority::Urgent,
            ],
        )
        .unwrap_or(&Priority::Normal)
    };
    // Phone and live chat happen while the team is open.
    let t0 = if matches!(channel, Channel::Phone | Channel::LiveChat) {
        let open = cal.add_business_time(opened, Duration::minutes(1))?;
        open.checked_sub_signed(Duration::minutes(1))
            .unwrap_or(open)
            .max(opened)
    } else {
        opened
    };
    let t0 = if t0 >= end { opened } else { t0 };
    let case_id = CaseId::from_u128(Ids::next(&mut ids.case, 0xCA));
    let created = CaseEvent::new(
        t0,
        Actor::Customer,
        CaseEventKind::Created {
            by_agent: false,
            public_message: true,
        },
    )
    .with_body(format!("{subject} (order reference follows)"))?;
    let mut case = Case::open(case_id, customer, subject, priority, channel, created)?;
    let mut outcome = CaseOutcome {
        solved_at: None,
        resolution: 0.0,
        reopened: false,
        complaint,
        agent: None,
        channel,
        id: case_id,
    };
    let purpose = if complaint {
        InteractionPurpose::Complaint
    } else {
        InteractionPurpose::Support
    };
    let mut inbound = Interaction::new(
        InteractionId::from_u128(Ids::next(&mut ids.interaction, 0x1A)),
        customer,
        channel,
        Direction::Inbound,
        purpose,
        t0,
    )
    .with_case(case_id)
    .with_summary(subject)?;
    if complaint {
        let s = -(Decimal::new(rng.random_range(20..90), 2));
        inbound = inbound.with_sentiment(Sentiment::new(s)?);
    }
    if channel == Channel::Chatbot {
        inbound = inbound.with_handler(Handler::Bot(ctx.bot));
    }
    if channel == Channel::Phone {
        inbound = inbound.with_duration(Duration::seconds(rng.random_range(120..1200)))?;
    }
    out.interactions.push(inbound);

    // Every step checks the end: past it, the case stays as it is.
    macro_rules! step {
        ($at:expr, $actor:expr, $kind:expr) => {{
            let at: DateTime<Utc> = $at;
            if at >= end {
                out.cases.push(case);
                return Ok(outcome);
            }
            case.record(CaseEvent::new(at, $actor, $kind))?;
            at
        }};
    }
    let mut now = t0;
    if channel == Channel::Chatbot {
        now = step!(
            after(now, 20.0)?,
            Actor::Bot(ctx.bot),
            CaseEventKind::BotReply
        );
        if !complaint && chance(rng, 0.4) {
            now = step!(
                after(now, 180.0)?,
                Actor::Bot(ctx.bot),
                CaseEventKind::Solved
            );
            outcome.solved_at = Some(now);
            outcome.resolution = cal.business_duration(t0, now)?.num_seconds() as f64;
            let _ = step!(after(now, 4.0 * DAY)?, Actor::System, CaseEventKind::Closed);
            out.cases.push(case);
            return Ok(outcome);
        }
        now = step!(
            after(now, 120.0)?,
            Actor::Bot(ctx.bot),
            CaseEventKind::EscalatedToHuman
        );
    }
    let k = rng.random_range(0..team.agents.len().max(1));
    let Some(&agent) = team.agents.get(k) else {
        out.cases.push(case);
        return Ok(outcome);
    };
    let speed = ctx
        .agent_speed
        .get(team_index)
        .and_then(|s| s.get(k))
        .copied()
        .unwrap_or(1.0);
    outcome.agent = Some((agent, team.id));
    let assign_delay = if matches!(channel, Channel::Phone | Channel::LiveChat) {
        30.0
    } else {
        log_normal_secs(rng, 15.0 * 60.0, 0.8, 8.0 * HOUR)
    };
    let assigned_at = cal.add_business_time(now, Duration::seconds(assign_delay as i64))?;
    now = step!(
        assigned_at,
        Actor::System,
        CaseEventKind::Assigned {
            agent: Some(agent),
            team: Some(team.id),
        }
    );
    // First reply: minutes on phone and chat, hours in business time on
    // written channels; slower for low priority, for the Americas team
    // during its staffing gap (35-50 % of the window) and for slow agents.
    let priority_factor = match priority {
        Priority::Urgent => 0.3,
        Priority::High => 0.6,
        Priority::Normal => 1.0,
        Priority::Low => 1.6,
    };
    let f = ctx.fraction(now);
    // Teams differ: the Americas team is quick but short-staffed for a
    // while, APAC is small and slower.
    let team_factor = [1.0, 0.8, 1.5].get(team_index).copied().unwrap_or(1.0);
    let staffing = team_factor
        * if team_index == 1 && (0.35..0.50).contains(&f) {
            3.0
        } else {
            1.0
        };
    // A few written cases fall through the cracks for days.
    let forgotten = if chance(rng, 0.03) { 15.0 } else { 1.0 };
    let first = if matches!(channel, Channel::Phone | Channel::LiveChat) {
        60.0 + 240.0 * rng.random::<f64>()
    } else if forgotten > 1.0 {
        log_normal_secs(rng, 2.5 * HOUR * forgotten, 0.5, 400.0 * HOUR)
    } else {
        log_normal_secs(
            rng,
            2.5 * HOUR * priority_factor * staffing * speed,
            0.9,
            10.0 * 10.0 * HOUR,
        )
    };
    now = step!(
        cal.add_business_time(now, Duration::seconds(first as i64))?,
        Actor::Agent(agent),
        CaseEventKind::PublicReply
    );
    let reply_channel = match channel {
        Channel::Chatbot => Channel::LiveChat,
        Channel::WebForm => Channel::Email,
        c => c,
    };
    out.interactions.push(
        Interaction::new(
            InteractionId::from_u128(Ids::next(&mut ids.interaction, 0x1A)),
            customer,
            reply_channel,
            Direction::Outbound,
            purpose,
            now,
        )
        .with_case(case_id)
        .with_handler(Handler::Agent {
            agent,
            team: Some(team.id),
        }),
    );
    // Back and forth: 0-3 more exchanges.
    let exchanges = {
        let mut n = 0;
        while n < 3 && chance(rng, if complaint { 0.6 } else { 0.4 }) {
            n += 1;
        }
        n
    };
    for _ in 0..exchanges {
        // Most customers answer within hours, some take days.
        let wait = if chance(rng, 0.15) {
            4.0 * DAY
        } else {
            8.0 * HOUR
        };
        now = step!(
            after(now, exp_secs(rng, wait))?,
            Actor::Customer,
            CaseEventKind::CustomerReply
        );
        let d = log_normal_secs(rng, 3.0 * HOUR * staffing * speed, 0.9, 60.0 * HOUR);
        now = step!(
            cal.add_business_time(now, Duration::seconds(d as i64))?,
            Actor::Agent(agent),
            CaseEventKind::PublicReply
        );
    }
    // Some cases wait for a supplier or a repair: on hold for days.
    if chance(rng, 0.08) {
        now = step!(
            after(now, 600.0)?,
            Actor::Agent(agent),
            CaseEventKind::StatusChanged {
                to: crate::domain::CaseStatus::OnHold,
            }
        );
        let d = log_normal_secs(rng, 40.0 * HOUR, 0.8, 400.0 * HOUR);
        now = step!(
            cal.add_business_time(now, Duration::seconds(d as i64))?,
            Actor::Agent(agent),
            CaseEventKind::StatusChanged {
                to: crate::domain::CaseStatus::Open,
            }
        );
    }
    let wrap = log_normal_secs(rng, 1.0 * HOUR, 0.7, 16.0 * HOUR);
    now = step!(
        cal.add_business_time(now, Duration::seconds(wrap as i64))?,
        Actor::Agent(agent),
        CaseEventKind::Solved
    );
    outcome.solved_at = Some(now);
    outcome.resolution = cal.business_duration(t0, now)?.num_seconds() as f64;
    let reopen_p = 0.05 + 0.05 * f64::from(u8::from(complaint));
    if chance(rng, reopen_p) {
        outcome.reopened = true;
        now = step!(
            after(now, exp_secs(rng, 2.0 * DAY).max(600.0))?,
            Actor::Customer,
            CaseEventKind::Reopened
        );
        now = step!(
            after(now, 1.0)?,
            Actor::Customer,
            CaseEventKind::CustomerReply
        );
        let d = log_normal_secs(rng, 4.0 * HOUR * speed, 0.8, 60.0 * HOUR);
        now = step!(
            cal.add_business_time(now, Duration::seconds(d as i64))?,
            Actor::Agent(agent),
            CaseEventKind::PublicReply
        );
        let d = log_normal_secs(rng, 2.0 * HOUR, 0.7, 30.0 * HOUR);
        now = step!(
            cal.add_business_time(now, Duration::seconds(d as i64))?,
            Actor::Agent(agent),
            CaseEventKind::Solved
        );
    }
    let _ = step!(after(now, 4.0 * DAY)?, Actor::System, CaseEventKind::Closed);
    out.cases.push(case);
    Ok(outcome)
}

// ---------------------------------------------------------------------------
// Loading.

/// Records written per transaction by [`Business::load_into`].
pub const LOAD_BATCH: usize = 2_000;

async fn load_kind<S: UnitOfWork, R: Record>(
    store: &S,
    records: &[R],
    done: &mut usize,
    total: usize,
    progress: &mut impl FnMut(usize, usize),
) -> Result<(), StoreError> {
    for chunk in records.chunks(LOAD_BATCH) {
        let batch = chunk.to_vec();
        let n = store
            .transaction(move |tx| crate::store::insert_all(tx, batch))
            .await?;
        *done += n;
        progress(*done, total);
    }
    Ok(())
}

impl Business {
    /// Total number of records: customers, purchases, subscriptions,
    /// surveys, invitations, responses, interactions and cases.
    pub fn len(&self) -> usize {
        self.customers.len()
            + self.purchases.len()
            + self.subscriptions.len()
            + self.surveys.len()
            + self.invitations.len()
            + self.responses.len()
            + self.interactions.len()
            + self.cases.len()
    }

    /// Whether there is no record at all.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Writes every record into `store`, [`LOAD_BATCH`] records per
    /// transaction (customers and surveys first, so references resolve),
    /// calling `progress(done, total)` after each batch. Returns the number
    /// of records written ([`Business::len`]).
    ///
    /// # Errors
    /// The store's error; batches written before it stay written.
    ///
    /// # Example
    /// ```
    /// use crmkit::store::memory::MemoryStore;
    /// use crmkit::synth::business::{BusinessSpec, generate};
    /// let business = generate(&BusinessSpec { customers: 20, ..BusinessSpec::small() })?;
    /// let store = MemoryStore::new();
    /// let mut calls = 0;
    /// let n = futures_executor::block_on(business.load_into(&store, |_, _| calls += 1))?;
    /// assert_eq!(n, business.len());
    /// assert!(calls >= 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub async fn load_into<S: UnitOfWork>(
        &self,
        store: &S,
        mut progress: impl FnMut(usize, usize),
    ) -> Result<usize, StoreError> {
        let total = self.len();
        let mut done = 0;
        let p = &mut progress;
        load_kind(store, &self.customers, &mut done, total, p).await?;
        load_kind(store, &self.surveys, &mut done, total, p).await?;
        load_kind(store, &self.purchases, &mut done, total, p).await?;
        load_kind(store, &self.subscriptions, &mut done, total, p).await?;
        load_kind(store, &self.interactions, &mut done, total, p).await?;
        load_kind(store, &self.cases, &mut done, total, p).await?;
        load_kind(store, &self.invitations, &mut done, total, p).await?;
        load_kind(store, &self.responses, &mut done, total, p).await?;
        Ok(done)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_business_other_seed_other_business() {
        let spec = BusinessSpec {
            customers: 60,
            ..BusinessSpec::small()
        };
        let a = generate(&spec).unwrap();
        assert_eq!(a, generate(&spec).unwrap());
        let b = generate(&BusinessSpec { seed: 8, ..spec }).unwrap();
        assert_ne!(a.purchases, b.purchases);
    }

    #[test]
    fn bad_specs_are_typed_errors() {
        let ok = BusinessSpec::small();
        for spec in [
            BusinessSpec {
                months: 0,
                ..ok.clone()
            },
            BusinessSpec {
                months: 121,
                ..ok.clone()
            },
            BusinessSpec {
                agents_per_team: 0,
                ..ok.clone()
            },
            BusinessSpec {
                refund_rate: 1.5,
                ..ok.clone()
            },
            BusinessSpec {
                response_rate: f64::NAN,
                ..ok.clone()
            },
            BusinessSpec {
                reporting_currency: Currency::CHF,
                ..ok.clone()
            },
            BusinessSpec {
                purchasing: PurchaseProcess {
                    r: 0.0,
                    ..PurchaseProcess::REPORT
                },
                ..ok.clone()
            },
            BusinessSpec {
                spend: SpendModel {
                    v: f64::INFINITY,
                    ..SpendModel::REPORT
                },
                ..ok.clone()
            },
            BusinessSpec {
                start: utc(1800, 1, 1),
                ..ok.clone()
            },
        ] {
            assert!(
                matches!(generate(&spec), Err(SynthError::Spec { .. })),
                "{spec:?}"
            );
        }
    }

    #[test]
    fn report_window_ends_on_2026_11_01() {
        let spec = BusinessSpec::report();
        assert_eq!(spec.end().unwrap(), utc(2026, 11, 1));
        assert_eq!(spec.customers, 5_000);
    }

    #[test]
    fn rates_convert_through_the_euro() {
        use crate::metrics::revenue::ExchangeRates;
        let r = rates(Currency::EUR).unwrap();
        let t = utc(2026, 1, 1);
        // 1 USD = 1 / 1.08 EUR = 0.925925925… → 0.92592593 (8 places).
        assert_eq!(
            r.rate(Currency::USD, Currency::EUR, t).unwrap(),
            Decimal::new(92_592_593, 8)
        );
        // 1 JPY = 1 / 162 EUR = 0.00617283950… → 0.00617284.
        assert_eq!(
            r.rate(Currency::JPY, Currency::EUR, t).unwrap(),
            Decimal::new(617_284, 8)
        );
        // Into GBP: 1 USD = 0.85 / 1.08 GBP = 0.787037037… → 0.78703704.
        let g = rates(Currency::GBP).unwrap();
        assert_eq!(
            g.rate(Currency::USD, Currency::GBP, t).unwrap(),
            Decimal::new(78_703_704, 8)
        );
    }

    #[test]
    fn money_is_rounded_to_minor_units() {
        // 10 EUR = 1,620 JPY (no minor units), 10.80 USD, 8.50 GBP.
        assert_eq!(
            money(10.0, Currency::JPY).unwrap(),
            Money::new(Decimal::new(1620, 0), Currency::JPY)
        );
        assert_eq!(
            money(10.0, Currency::USD).unwrap(),
            Money::new(Decimal::new(1080, 2), Currency::USD)
        );
        assert_eq!(
            money(10.0, Currency::GBP).unwrap(),
            Money::new(Decimal::new(850, 2), Currency::GBP)
        );
        // Never zero: a sale is worth at least one minor unit.
        assert_eq!(
            money(0.0, Currency::EUR).unwrap(),
            Money::new(Decimal::new(1, 2), Currency::EUR)
        );
    }

    #[test]
    fn drift_dips_and_recovers() {
        // trend 0.6·f; dip −1.6 on [0.55, 0.70), fading linearly to 0 at 0.85.
        assert!((drift(0.5) - 0.3).abs() < 1e-12);
        assert!((drift(0.6) - (0.36 - 1.6)).abs() < 1e-12);
        assert!((drift(0.775) - (0.465 - 0.8)).abs() < 1e-12);
        assert!((drift(0.9) - 0.54).abs() < 1e-12);
    }

    #[test]
    fn lifecycle_is_read_off_the_sales() {
        let end = utc(2026, 11, 1);
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
        let eur = Money::new(Decimal::ONE, Currency::EUR);
        let sale = |days_before: i64| {
            (
                end - Duration::days(days_before),
                PurchaseId::from_u128(1),
                eur,
            )
        };
        // Last sale 30 days before the end, gaps of 150 and 120 days.
        assert_eq!(
            lifecycle(&[sale(300), sale(150), sale(30)], end, &mut rng),
            LifecycleStage::Active
        );
        // A gap of 370 days > 180 before the recent sale.
        assert_eq!(
            lifecycle(&[sale(400), sale(30)], end, &mut rng),
            LifecycleStage::Reactivated
        );
        assert_eq!(
            lifecycle(&[sale(300), sale(100)], end, &mut rng),
            LifecycleStage::AtRisk
        );
        assert_eq!(
            lifecycle(&[sale(300)], end, &mut rng),
            LifecycleStage::Churned
        );
        assert!(matches!(
            lifecycle(&[], end, &mut rng),
            LifecycleStage::Lead | LifecycleStage::Prospect
        ));
    }

    #[test]
    fn customers_act_at_their_local_daytime() {
        use chrono::Timelike;
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(3);
        let t = utc(2026, 3, 2) + Duration::hours(3);
        for zone in [Tz::Asia__Tokyo, Tz::America__Los_Angeles] {
            for _ in 0..200 {
                let local = daytime(&mut rng, t, zone).with_timezone(&zone);
                // Same local day; never 02:00-05:59 (weight 0).
                assert_eq!(local.date_naive(), t.with_timezone(&zone).date_naive());
                assert!(!(2..6).contains(&local.hour()), "{local}");
            }
        }
    }

    #[test]
    fn teams_have_their_own_hours() {
        let teams = teams(2).unwrap();
        assert_eq!(teams.len(), 3);
        assert!(teams.iter().all(|t| t.agents.len() == 2));
        // Monday 2026-03-02 07:30 UTC: 08:30 in Berlin (open), 02:30 in New
        // York (closed), 18:30 in Sydney (closed, after 17:00).
        let t = Utc.with_ymd_and_hms(2026, 3, 2, 7, 30, 0).single().unwrap();
        let open: Vec<bool> = teams.iter().map(|x| x.calendar.is_open(t)).collect();
        assert_eq!(open, [true, false, false]);
    }
}

#[cfg(test)]
mod figures {
    use super::*;
    use crate::domain::CaseStatus;

    #[test]
    #[ignore]
    fn print_report_figures() {
        let b = generate(&BusinessSpec::report()).unwrap();
        let open: Vec<_> = b
            .cases
            .iter()
            .filter(|c| !matches!(c.status(), CaseStatus::Solved | CaseStatus::Closed))
            .map(|c| c.status())
            .collect();
        eprintln!(
            "total {} purchases {} cases {} open {:?}",
            b.len(),
            b.purchases.len(),
            b.cases.len(),
            open
        );
        for t in &b.teams {
            let mut first = Vec::new();
            for c in b.cases.iter().filter(|c| c.team() == Some(t.id)) {
                if let Some(e) = c
                    .events()
                    .iter()
                    .find(|e| e.kind() == CaseEventKind::PublicReply)
                {
                    first.push(
                        t.calendar
                            .business_duration(c.created_at(), e.at())
                            .unwrap()
                            .num_minutes(),
                    );
                }
            }
            first.sort();
            let q = |p: f64| {
                first
                    .get(((first.len() as f64 - 1.0) * p) as usize)
                    .copied()
                    .unwrap_or(0)
            };
            eprintln!(
                "{}: n {} first reply min p25 {} p50 {} p75 {} p90 {} within 4h {:.2}",
                t.name,
                first.len(),
                q(0.25),
                q(0.5),
                q(0.75),
                q(0.9),
                first.iter().filter(|&&m| m <= 240).count() as f64 / first.len() as f64
            );
            let mut quarters = std::collections::BTreeMap::new();
            for c in b.cases.iter().filter(|c| c.team() == Some(t.id)) {
                if let Some(e) = c
                    .events()
                    .iter()
                    .find(|e| e.kind() == CaseEventKind::PublicReply)
                {
                    let m = t
                        .calendar
                        .business_duration(c.created_at(), e.at())
                        .unwrap()
                        .num_minutes();
                    let q = quarters
                        .entry((c.created_at() - b.spec.start).num_days() / 91)
                        .or_insert((0, 0));
                    q.0 += 1;
                    q.1 += i32::from(m <= 240);
                }
            }
            eprintln!(
                "  {:?}",
                quarters
                    .values()
                    .map(|(n, k)| k * 100 / n)
                    .collect::<Vec<_>>()
            );
        }
        let mut months = std::collections::BTreeMap::new();
        for r in b
            .responses
            .iter()
            .filter(|r| r.survey() == b.surveys[0].id())
        {
            let e = months
                .entry(r.responded_at().format("%Y-%m").to_string())
                .or_insert((0, 0));
            e.0 += 1;
            let s = r.score().get();
            e.1 += i32::from(s >= 9) - i32::from(s <= 6);
        }
        for (m, (n, net)) in months {
            eprintln!("{m}: n {n} nps {}", net * 100 / n);
        }
    }
}
