//! Follow-up rules as data: triggers, actions, purposes, priorities and
//! target times, with quiet hours, a frequency cap and a channel order.
//!
//! A [`RuleSet`] is read from JSON with [`RuleSet::from_json`] (or any serde
//! format); unknown fields, a format version other than [`FORMAT_VERSION`]
//! and contradictory thresholds are typed errors, so a typo in a rule file
//! never silently disables a follow-up.

use std::collections::BTreeSet;
use std::fmt;

use chrono::offset::LocalResult;
use chrono::{DateTime, Duration, NaiveTime, TimeZone, Timelike, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use super::OutreachError;
use crate::domain::{
    BusinessCalendar, Channel, ConsentPurpose, ContactValue, Customer, Priority, Scale, TimeOfDay,
};
use crate::error::ValidationError;

/// The rule-set format version this crmkit reads and writes.
pub const FORMAT_VERSION: u32 = 1;

/// The longest rule id accepted, in characters.
const MAX_RULE_ID_LEN: usize = 64;
/// The longest target time accepted, in hours (one year).
const MAX_TARGET_HOURS: u32 = 8_760;
/// The longest inactivity period accepted, in days (ten years).
const MAX_NO_CONTACT_DAYS: u32 = 3_650;

/// A rule's name: 1 to 64 characters of `a-z`, `0-9`, `_` and `-`. It is
/// part of every idempotency key the rule produces, so renaming a rule
/// starts new keys.
///
/// # Example
/// ```
/// use crmkit::outreach::RuleId;
/// assert_eq!(RuleId::new("nps_detractor")?.as_str(), "nps_detractor");
/// assert!(RuleId::new("NPS detractor").is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RuleId(String);

impl RuleId {
    /// Validates a rule id.
    ///
    /// # Errors
    /// [`ValidationError::Empty`], [`ValidationError::TooLong`] or
    /// [`ValidationError::Format`] (field `rule.id`).
    pub fn new(value: impl Into<String>) -> Result<Self, ValidationError> {
        let value = value.into();
        if value.is_empty() {
            return Err(ValidationError::Empty { field: "rule.id" });
        }
        let len = value.chars().count();
        if len > MAX_RULE_ID_LEN {
            return Err(ValidationError::TooLong {
                field: "rule.id",
                len,
                max: MAX_RULE_ID_LEN,
            });
        }
        if !value
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
        {
            return Err(ValidationError::Format {
                field: "rule.id",
                value,
                reason: "only a-z, 0-9, '_' and '-' are allowed",
            });
        }
        Ok(Self(value))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for RuleId {
    type Error = ValidationError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl From<RuleId> for String {
    fn from(id: RuleId) -> Self {
        id.0
    }
}

impl fmt::Display for RuleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What fires a rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Trigger {
    /// An NPS response (scale 0-10) with a score at or below `max_score`
    /// (the standard detractor range is 0-6).
    NpsDetractor {
        /// The highest score that fires the rule, `0..=8` (9 and 10 are
        /// promoters by definition).
        max_score: i32,
    },
    /// A response on `scale` (a CSAT scale, say) with a score at or below
    /// `max_score`.
    LowScore {
        /// The scale the response must be on.
        scale: Scale,
        /// The highest score that fires the rule; below the scale's top.
        max_score: i32,
    },
    /// An inbound interaction whose purpose is a complaint.
    Complaint,
    /// A case was reopened (each `Reopened` event fires once).
    CaseReopened,
    /// A case that is neither solved nor closed this many business hours
    /// after its creation.
    CaseUnresolved {
        /// The threshold in business hours of the planner's calendar, >= 1.
        after_business_hours: u32,
    },
    /// A customer without any interaction for this many days.
    NoContact {
        /// The inactivity period, `1..=3650` days.
        days: u32,
    },
    /// A newsletter issue: fires for every customer in the plan.
    Newsletter,
}

impl Trigger {
    /// The trigger's name as used in serde (`nps_detractor`).
    pub const fn name(&self) -> &'static str {
        match self {
            Self::NpsDetractor { .. } => "nps_detractor",
            Self::LowScore { .. } => "low_score",
            Self::Complaint => "complaint",
            Self::CaseReopened => "case_reopened",
            Self::CaseUnresolved { .. } => "case_unresolved",
            Self::NoContact { .. } => "no_contact",
            Self::Newsletter => "newsletter",
        }
    }
}

/// What a rule asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleAction {
    /// A message on any consented channel, automated channels included.
    Message,
    /// A person (never a bot) contacts the customer on a consented channel
    /// that is not automated.
    Human,
    /// An internal escalation to a person; the customer is not contacted.
    Escalate,
}

/// How long after the triggering event the follow-up is due.
///
/// # Example
/// ```
/// use chrono::{DateTime, Duration, Utc};
/// use crmkit::domain::BusinessCalendar;
/// use crmkit::outreach::TargetTime;
/// let cal = BusinessCalendar::weekdays(chrono_tz::Tz::UTC, "09:00".parse()?, "17:00".parse()?)?;
/// let friday_4pm: DateTime<Utc> = "2026-03-06T16:00:00Z".parse()?;
/// // One business hour on Friday, three on Monday.
/// assert_eq!(TargetTime::BusinessHours(4).due(friday_4pm, &cal)?,
///     "2026-03-09T12:00:00Z".parse::<DateTime<Utc>>()?);
/// assert_eq!(TargetTime::CalendarHours(4).due(friday_4pm, &cal)?, friday_4pm + Duration::hours(4));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetTime {
    /// Hours of business time on the planner's [`BusinessCalendar`].
    BusinessHours(u32),
    /// Elapsed hours.
    CalendarHours(u32),
}

impl TargetTime {
    /// The due time for an event at `from`.
    ///
    /// # Errors
    /// [`OutreachError::BusinessTime`] if the calendar cannot reach it.
    pub fn due(
        self,
        from: DateTime<Utc>,
        calendar: &BusinessCalendar,
    ) -> Result<DateTime<Utc>, OutreachError> {
        match self {
            Self::BusinessHours(h) => {
                Ok(calendar.add_business_time(from, Duration::hours(i64::from(h)))?)
            }
            Self::CalendarHours(h) => from
                .checked_add_signed(Duration::hours(i64::from(h)))
                .ok_or_else(|| {
                    OutreachError::InvalidRules(ValidationError::OutOfRange {
                        field: "rule.target",
                        value: format!("{from} + {h} hours"),
                        range: "representable instants".into(),
                    })
                }),
        }
    }

    const fn hours(self) -> u32 {
        match self {
            Self::BusinessHours(h) | Self::CalendarHours(h) => h,
        }
    }
}

/// One follow-up rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// The rule's name, part of every key it produces.
    pub id: RuleId,
    /// What fires it.
    pub trigger: Trigger,
    /// What it asks for.
    pub action: RuleAction,
    /// The consent the customer must have given for a message.
    pub purpose: ConsentPurpose,
    /// How urgent its tasks are.
    pub priority: Priority,
    /// When its tasks are due, counted from the triggering event.
    pub target: TargetTime,
}

impl Rule {
    fn validate(&self) -> Result<(), ValidationError> {
        let t = self.target.hours();
        if t == 0 || t > MAX_TARGET_HOURS {
            return Err(ValidationError::OutOfRange {
                field: "rule.target",
                value: t.to_string(),
                range: format!("1..={MAX_TARGET_HOURS} hours"),
            });
        }
        match &self.trigger {
            Trigger::NpsDetractor { max_score } if !(0..=8).contains(max_score) => {
                return Err(ValidationError::OutOfRange {
                    field: "rule.trigger.max_score",
                    value: max_score.to_string(),
                    range: "0..=8 (9 and 10 are promoters)".into(),
                });
            }
            Trigger::LowScore { scale, max_score }
                if *max_score < Scale::min(*scale) || *max_score >= Scale::max(*scale) =>
            {
                return Err(ValidationError::OutOfRange {
                    field: "rule.trigger.max_score",
                    value: max_score.to_string(),
                    range: format!(
                        "{}..{} (below the top of {scale})",
                        Scale::min(*scale),
                        Scale::max(*scale)
                    ),
                });
            }
            Trigger::CaseUnresolved {
                after_business_hours,
            } if *after_business_hours == 0 || *after_business_hours > MAX_TARGET_HOURS => {
                return Err(ValidationError::OutOfRange {
                    field: "rule.trigger.after_business_hours",
                    value: after_business_hours.to_string(),
                    range: format!("1..={MAX_TARGET_HOURS}"),
                });
            }
            Trigger::NoContact { days } if *days == 0 || *days > MAX_NO_CONTACT_DAYS => {
                return Err(ValidationError::OutOfRange {
                    field: "rule.trigger.days",
                    value: days.to_string(),
                    range: format!("1..={MAX_NO_CONTACT_DAYS}"),
                });
            }
            _ => {}
        }
        let inconsistent = |reason: String| ValidationError::Inconsistent {
            field: "rule.action",
            reason,
        };
        match (&self.trigger, self.action) {
            (Trigger::Complaint | Trigger::CaseReopened, RuleAction::Message) => {
                return Err(inconsistent(format!(
                    "rule {}: a {} must reach a human, not an automated message",
                    self.id,
                    self.trigger.name()
                )));
            }
            (Trigger::CaseUnresolved { .. }, a) if a != RuleAction::Escalate => {
                return Err(inconsistent(format!(
                    "rule {}: an unresolved case is escalated (action escalate)",
                    self.id
                )));
            }
            (Trigger::Newsletter, a) if a != RuleAction::Message => {
                return Err(inconsistent(format!(
                    "rule {}: a newsletter is a message",
                    self.id
                )));
            }
            _ => {}
        }
        if matches!(self.trigger, Trigger::Newsletter) && self.purpose != ConsentPurpose::Newsletter
        {
            return Err(ValidationError::Inconsistent {
                field: "rule.purpose",
                reason: format!(
                    "rule {}: newsletters go only to customers who opted in to the newsletter",
                    self.id
                ),
            });
        }
        Ok(())
    }
}

/// Local times in the customer's own time zone when no message may be
/// scheduled: `[start, end)`, wrapping midnight when `start > end`
/// (`21:00-08:00`).
///
/// # Example
/// ```
/// use crmkit::outreach::QuietHours;
/// let q = QuietHours::new("21:00".parse()?, "08:00".parse()?)?;
/// assert!(q.contains("23:30".parse()?) && q.contains("07:59".parse()?));
/// assert!(!q.contains("08:00".parse()?));
/// assert!(QuietHours::new("08:00".parse()?, "08:00".parse()?).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "QuietHoursRepr")]
pub struct QuietHours {
    start: TimeOfDay,
    end: TimeOfDay,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct QuietHoursRepr {
    start: TimeOfDay,
    end: TimeOfDay,
}

impl TryFrom<QuietHoursRepr> for QuietHours {
    type Error = ValidationError;
    fn try_from(r: QuietHoursRepr) -> Result<Self, Self::Error> {
        Self::new(r.start, r.end)
    }
}

impl QuietHours {
    /// Quiet hours `[start, end)` in local time.
    ///
    /// # Errors
    /// [`ValidationError::Inconsistent`] (field `quiet_hours`) when the
    /// interval is empty or covers the whole day (`start == end`, or 00:00
    /// to 24:00): no message could ever be scheduled.
    pub fn new(start: TimeOfDay, end: TimeOfDay) -> Result<Self, ValidationError> {
        let s = start.seconds_from_midnight() % 86_400;
        let e = end.seconds_from_midnight() % 86_400;
        if s == e {
            return Err(ValidationError::Inconsistent {
                field: "quiet_hours",
                reason: format!(
                    "{start}-{end} is empty or the whole day; no message could ever be sent"
                ),
            });
        }
        Ok(Self { start, end })
    }

    /// The start (local).
    pub const fn start(&self) -> TimeOfDay {
        self.start
    }

    /// The end (local, excluded).
    pub const fn end(&self) -> TimeOfDay {
        self.end
    }

    /// Whether `at` falls in quiet hours in the time zone `tz`.
    pub fn is_quiet(&self, at: DateTime<Utc>, tz: Tz) -> bool {
        self.contains(TimeOfDay::from_naive(at.with_timezone(&tz).time()))
    }

    /// The earliest instant at or after `at` that is not quiet in `tz`.
    ///
    /// Safe across clock changes: a quiet period ending at a wall-clock
    /// time skipped by a spring-forward ends at the first instant after the
    /// gap; one ending at a repeated time ends at its first occurrence after
    /// `at`.
    ///
    /// # Example
    /// ```
    /// use chrono::{DateTime, Utc};
    /// use crmkit::outreach::QuietHours;
    /// let q = QuietHours::new("21:00".parse()?, "08:00".parse()?)?;
    /// let tz: chrono_tz::Tz = "America/New_York".parse()?;
    /// // 23:00 in New York (EST, UTC-5) on 2026-01-05 -> 08:00 the next day.
    /// let late: DateTime<Utc> = "2026-01-06T04:00:00Z".parse()?;
    /// assert_eq!(q.next_allowed(late, tz), "2026-01-06T13:00:00Z".parse::<DateTime<Utc>>()?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn next_allowed(&self, at: DateTime<Utc>, tz: Tz) -> DateTime<Utc> {
        let mut t = at;
        // Each step moves to the end of the current quiet period; two steps
        // suffice in any real zone, the bound only guards odd tz data.
        for _ in 0..8 {
            if !self.is_quiet(t, tz) {
                return t;
            }
            t = self.end_after(t, tz);
        }
        t
    }

    /// The end of the quiet period containing `at` (which is quiet).
    fn end_after(&self, at: DateTime<Utc>, tz: Tz) -> DateTime<Utc> {
        let local = at.with_timezone(&tz);
        let now_s = local.time().num_seconds_from_midnight();
        let s = self.start.seconds_from_midnight() % 86_400;
        let e = self.end.seconds_from_midnight();
        let mut date = local.date_naive();
        if s >= e % 86_400 && now_s >= s {
            // A period wrapping midnight, entered before midnight.
            date = date.succ_opt().unwrap_or(date);
        }
        for day in 0..3 {
            let Some(d) = date.checked_add_days(chrono::Days::new(day)) else {
                break;
            };
            let wall = d.and_time(NaiveTime::MIN) + Duration::seconds(i64::from(e));
            // Step forward through a clock-change gap a minute at a time.
            for minutes in 0..=180 {
                let w = wall + Duration::minutes(minutes);
                let found = match tz.from_local_datetime(&w) {
                    LocalResult::Single(x) => Some(x.to_utc()).filter(|x| *x > at),
                    LocalResult::Ambiguous(a, b) => {
                        [a.to_utc(), b.to_utc()].into_iter().find(|x| *x > at)
                    }
                    LocalResult::None => continue,
                };
                match found {
                    Some(x) => return x,
                    None => break,
                }
            }
        }
        // Unreachable for real zones; move on by an hour so callers progress.
        at + Duration::hours(1)
    }

    /// Whether a local time of day is quiet.
    pub fn contains(&self, time: TimeOfDay) -> bool {
        let t = time.seconds_from_midnight() % 86_400;
        let s = self.start.seconds_from_midnight() % 86_400;
        let e = self.end.seconds_from_midnight() % 86_400;
        if s < e {
            s <= t && t < e
        } else {
            t >= s || t < e
        }
    }
}

/// At most `max_messages` messages to one customer in any window of
/// `per_days` days (escalations and tasks without a message do not count).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FrequencyCap {
    /// Messages allowed per window, >= 1.
    pub max_messages: u32,
    /// The window in days, `1..=365`.
    pub per_days: u32,
}

impl FrequencyCap {
    fn validate(&self) -> Result<(), ValidationError> {
        if self.max_messages == 0 {
            return Err(ValidationError::OutOfRange {
                field: "frequency_cap.max_messages",
                value: "0".into(),
                range: "1..".into(),
            });
        }
        if !(1..=365).contains(&self.per_days) {
            return Err(ValidationError::OutOfRange {
                field: "frequency_cap.per_days",
                value: self.per_days.to_string(),
                range: "1..=365".into(),
            });
        }
        Ok(())
    }

    /// The window as a duration.
    pub fn window(&self) -> Duration {
        Duration::days(i64::from(self.per_days))
    }
}

/// A validated set of follow-up rules with quiet hours, a frequency cap and
/// the order in which channels are tried after the preferred one.
///
/// # Example
/// ```
/// use crmkit::outreach::{OutreachError, RuleSet};
/// let rules = RuleSet::default();
/// let json = serde_json::to_string(&rules)?;
/// assert_eq!(RuleSet::from_json(&json)?, rules);
/// // An unknown field is an error, not silently ignored.
/// let typo = json.replacen("\"quiet_hours\"", "\"quiet_hour\"", 1);
/// assert!(matches!(RuleSet::from_json(&typo), Err(OutreachError::RuleFormat { .. })));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RuleSetRepr", into = "RuleSetRepr")]
pub struct RuleSet {
    rules: Vec<Rule>,
    quiet_hours: Option<QuietHours>,
    frequency_cap: Option<FrequencyCap>,
    channel_order: Vec<Channel>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleSetRepr {
    format_version: u32,
    rules: Vec<Rule>,
    #[serde(default)]
    quiet_hours: Option<QuietHours>,
    #[serde(default)]
    frequency_cap: Option<FrequencyCap>,
    channel_order: Vec<Channel>,
}

impl TryFrom<RuleSetRepr> for RuleSet {
    type Error = OutreachError;
    fn try_from(r: RuleSetRepr) -> Result<Self, Self::Error> {
        if r.format_version != FORMAT_VERSION {
            return Err(OutreachError::UnsupportedFormatVersion {
                found: r.format_version,
                supported: FORMAT_VERSION,
            });
        }
        Self::new(r.rules, r.quiet_hours, r.frequency_cap, r.channel_order)
    }
}

impl From<RuleSet> for RuleSetRepr {
    fn from(r: RuleSet) -> Self {
        Self {
            format_version: FORMAT_VERSION,
            rules: r.rules,
            quiet_hours: r.quiet_hours,
            frequency_cap: r.frequency_cap,
            channel_order: r.channel_order,
        }
    }
}

impl Default for RuleSet {
    /// The defaults: NPS detractors (0-6) and CSAT 1-2 of 5 get a personal
    /// follow-up within 8 and 16 business hours; complaints and reopened
    /// cases a human within 4 business hours; cases open for 24 business
    /// hours are escalated within 2; customers without contact for 90 days
    /// get a check-in message within 72 hours; newsletters go to the
    /// opted-in within 24 hours. Quiet hours 21:00-08:00 local time, at
    /// most 2 messages per customer per 7 days, channels tried in the order
    /// e-mail, SMS, phone, letter after the preferred one.
    fn default() -> Self {
        let rule = |id: &str, trigger, action, purpose, priority, target| Rule {
            id: RuleId(id.to_owned()),
            trigger,
            action,
            purpose,
            priority,
            target,
        };
        let service = ConsentPurpose::ServiceMessages;
        Self {
            rules: vec![
                rule(
                    "nps_detractor",
                    Trigger::NpsDetractor { max_score: 6 },
                    RuleAction::Human,
                    service.clone(),
                    Priority::High,
                    TargetTime::BusinessHours(8),
                ),
                rule(
                    "low_csat",
                    Trigger::LowScore {
                        scale: Scale::csat5(),
                        max_score: 2,
                    },
                    RuleAction::Human,
                    service.clone(),
                    Priority::Normal,
                    TargetTime::BusinessHours(16),
                ),
                rule(
                    "complaint",
                    Trigger::Complaint,
                    RuleAction::Human,
                    service.clone(),
                    Priority::High,
                    TargetTime::BusinessHours(4),
                ),
                rule(
                    "case_reopened",
                    Trigger::CaseReopened,
                    RuleAction::Human,
                    service.clone(),
                    Priority::High,
                    TargetTime::BusinessHours(4),
                ),
                rule(
                    "case_unresolved",
                    Trigger::CaseUnresolved {
                        after_business_hours: 24,
                    },
                    RuleAction::Escalate,
                    service.clone(),
                    Priority::Urgent,
                    TargetTime::BusinessHours(2),
                ),
                rule(
                    "check_in",
                    Trigger::NoContact { days: 90 },
                    RuleAction::Message,
                    service,
                    Priority::Low,
                    TargetTime::CalendarHours(72),
                ),
                rule(
                    "newsletter",
                    Trigger::Newsletter,
                    RuleAction::Message,
                    ConsentPurpose::Newsletter,
                    Priority::Low,
                    TargetTime::CalendarHours(24),
                ),
            ],
            quiet_hours: Some(QuietHours {
                start: TimeOfDay::new(21, 0, 0).unwrap_or(TimeOfDay::MIDNIGHT),
                end: TimeOfDay::new(8, 0, 0).unwrap_or(TimeOfDay::MIDNIGHT),
            }),
            frequency_cap: Some(FrequencyCap {
                max_messages: 2,
                per_days: 7,
            }),
            channel_order: vec![
                Channel::Email,
                Channel::Sms,
                Channel::Phone,
                Channel::Letter,
            ],
        }
    }
}

impl RuleSet {
    /// A rule set from its parts.
    ///
    /// # Errors
    /// [`OutreachError::InvalidRules`] with a [`ValidationError`] naming the
    /// field: a duplicate rule id or channel, a threshold outside its range,
    /// a complaint or reopened case answered by an automated message, an
    /// unresolved case not escalated, a newsletter without the newsletter
    /// purpose, two score rules on the same scale whose thresholds
    /// contradict each other, empty quiet hours or a zero frequency cap.
    pub fn new(
        rules: Vec<Rule>,
        quiet_hours: Option<QuietHours>,
        frequency_cap: Option<FrequencyCap>,
        channel_order: Vec<Channel>,
    ) -> Result<Self, OutreachError> {
        let mut ids = BTreeSet::new();
        for r in &rules {
            r.validate()?;
            if !ids.insert(&r.id) {
                return Err(ValidationError::Duplicate {
                    field: "rules",
                    value: r.id.to_string(),
                }
                .into());
            }
        }
        // Score rules on the same scale must agree on what "low" means.
        let mut thresholds: Vec<(Scale, i32, &RuleId)> = Vec::new();
        for r in &rules {
            let entry = match &r.trigger {
                Trigger::NpsDetractor { max_score } => (Scale::nps(), *max_score, &r.id),
                Trigger::LowScore { scale, max_score } => (*scale, *max_score, &r.id),
                _ => continue,
            };
            if let Some((_, other, other_id)) = thresholds
                .iter()
                .find(|(s, m, _)| *s == entry.0 && *m != entry.1)
            {
                return Err(ValidationError::Inconsistent {
                    field: "rules",
                    reason: format!(
                        "rules {other_id} and {} both judge scores on {} but with thresholds {other} and {}",
                        entry.2, entry.0, entry.1
                    ),
                }
                .into());
            }
            thresholds.push(entry);
        }
        if let Some(cap) = &frequency_cap {
            cap.validate()?;
        }
        let mut seen = BTreeSet::new();
        for c in &channel_order {
            if !seen.insert(*c) {
                return Err(ValidationError::Duplicate {
                    field: "channel_order",
                    value: c.to_string(),
                }
                .into());
            }
        }
        Ok(Self {
            rules,
            quiet_hours,
            frequency_cap,
            channel_order,
        })
    }

    /// Reads a rule set from JSON.
    ///
    /// # Errors
    /// [`OutreachError::RuleFormat`] for malformed JSON, unknown or missing
    /// fields; [`OutreachError::UnsupportedFormatVersion`];
    /// [`OutreachError::InvalidRules`] as [`RuleSet::new`].
    pub fn from_json(json: &str) -> Result<Self, OutreachError> {
        let repr: RuleSetRepr =
            serde_json::from_str(json).map_err(|e| OutreachError::RuleFormat {
                reason: e.to_string(),
            })?;
        Self::try_from(repr)
    }

    /// The rules, in the order given.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// The quiet hours, if any.
    pub const fn quiet_hours(&self) -> Option<QuietHours> {
        self.quiet_hours
    }

    /// The frequency cap, if any.
    pub const fn frequency_cap(&self) -> Option<FrequencyCap> {
        self.frequency_cap
    }

    /// The channels tried after the preferred one, in order.
    pub fn channel_order(&self) -> &[Channel] {
        &self.channel_order
    }
}

/// Whether `customer` has a contact point on which `channel` reaches them.
/// Only e-mail, SMS, phone, letter and social media reach a customer
/// outbound.
pub fn reachable(customer: &Customer, channel: Channel) -> bool {
    customer.contact_points().iter().any(|cp| {
        matches!(
            (channel, cp.value.expose()),
            (Channel::Email, ContactValue::Email(_))
                | (Channel::Sms | Channel::Phone, ContactValue::Phone(_))
                | (Channel::Letter, ContactValue::Postal(_))
                | (Channel::SocialMedia, ContactValue::Social(_))
        )
    })
}

/// Whether consent for `purpose` covers `channel`: a channel-bound purpose
/// (marketing e-mail, SMS, phone calls) covers only its own channel, any
/// other purpose covers every channel.
pub fn purpose_allows(purpose: &ConsentPurpose, channel: Channel) -> bool {
    let bound = Channel::ALL
        .iter()
        .find(|c| ConsentPurpose::marketing_for(**c).as_ref() == Some(purpose));
    match bound {
        Some(c) => *c == channel,
        None => true,
    }
}

/// Whether a message for `purpose` may go to `customer` on `channel` at
/// `at`: not erased, consent in force, the purpose covers the channel and
/// a contact point reaches it.
pub fn may_send(
    customer: &Customer,
    purpose: &ConsentPurpose,
    channel: Channel,
    at: DateTime<Utc>,
) -> bool {
    !customer.is_erased()
        && customer.has_consent(purpose, at)
        && purpose_allows(purpose, channel)
        && reachable(customer, channel)
}
