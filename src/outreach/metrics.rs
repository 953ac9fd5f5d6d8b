//! Closed-loop metrics: did detractors hear from us in time, how long did
//! it take, and did their next score recover?
//!
//! Definitions (over the outbox entries of NPS-detractor rules):
//!
//! - **Contacted within target**: entries `sent` whose receipt was accepted
//!   at or before the task's due time. The share is
//!   `100 x within / detractor tasks`, rounded half-even to 2 decimals;
//!   with no detractor task it is `None`, never a division by zero.
//! - **Time to follow-up**: receipt acceptance minus the triggering
//!   response's time, for every `sent` detractor entry; mean and median
//!   (for an even count the mean of the two middle values, truncated to the
//!   nanosecond), maximum.
//! - **Recovery**: for each detractor response, the same customer's next
//!   response on the same scale (the earliest later one; ties by id). Its
//!   change is `next - triggering` score. Reported apart for contacted and
//!   not contacted detractors, so the effect of the follow-up can be seen.

use std::collections::BTreeMap;

use chrono::Duration;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::outbox::{OutboxEntry, TaskState};
use super::planner::SourceRef;
use super::policy::Trigger;
use crate::domain::{ResponseId, SurveyResponse};

/// Times from the triggering response to the transport's receipt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FollowUpTimes {
    /// How many follow-ups were measured.
    pub count: usize,
    /// The mean.
    pub mean: Duration,
    /// The median.
    pub median: Duration,
    /// The longest.
    pub max: Duration,
}

/// How detractors scored next time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recovery {
    /// Detractor responses in this group.
    pub detractors: usize,
    /// Of them, with a later response on the same scale.
    pub with_next_score: usize,
    /// Next score higher.
    pub improved: usize,
    /// Next score equal.
    pub unchanged: usize,
    /// Next score lower.
    pub worse: usize,
    /// Next score above the rule's detractor threshold.
    pub no_longer_detractor: usize,
    /// The mean change in points, rounded half-even to 2 decimals; `None`
    /// without any next score.
    pub mean_change: Option<Decimal>,
}

/// The closed-loop report.
///
/// # Example
/// ```
/// use crmkit::outreach::ClosedLoopReport;
/// let r = ClosedLoopReport::compute(&[], &[]);
/// assert_eq!(r.detractor_tasks, 0);
/// assert_eq!(r.share_within_target, None); // no data, not 0 or NaN
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClosedLoopReport {
    /// Outbox entries planned by NPS-detractor rules.
    pub detractor_tasks: usize,
    /// Of them, sent.
    pub contacted: usize,
    /// Of them, sent by their due time.
    pub contacted_within_target: usize,
    /// `100 x contacted_within_target / detractor_tasks`, 2 decimals.
    pub share_within_target: Option<Decimal>,
    /// Time to follow-up over the sent ones.
    pub time_to_follow_up: Option<FollowUpTimes>,
    /// Recovery of contacted detractors.
    pub recovery_contacted: Recovery,
    /// Recovery of detractors not (yet) contacted.
    pub recovery_not_contacted: Recovery,
}

impl ClosedLoopReport {
    /// Computes the report from outbox entries and survey responses (the
    /// triggering ones and those after them).
    pub fn compute(entries: &[OutboxEntry], responses: &[SurveyResponse]) -> Self {
        let by_id: BTreeMap<ResponseId, &SurveyResponse> =
            responses.iter().map(|r| (r.id(), r)).collect();
        let mut detractor_tasks = 0;
        let mut contacted = 0;
        let mut within = 0;
        let mut times: Vec<i128> = Vec::new();
        let mut rec_yes = Acc::default();
        let mut rec_no = Acc::default();
        for e in entries {
            let Trigger::NpsDetractor { max_score } = e.task.trigger() else {
                continue;
            };
            detractor_tasks += 1;
            let sent_at = match &e.state {
                TaskState::Sent { receipt, .. } => Some(receipt.accepted_at),
                _ => None,
            };
            if let Some(at) = sent_at {
                contacted += 1;
                if at <= e.task.due() {
                    within += 1;
                }
                times.push(i128::from(
                    (at - e.task.triggered_at())
                        .num_nanoseconds()
                        .unwrap_or(i64::MAX),
                ));
            }
            if let SourceRef::Response(id) = e.task.source()
                && let Some(trigger) = by_id.get(id)
            {
                let next = responses
                    .iter()
                    .filter(|r| {
                        r.customer() == trigger.customer()
                            && r.scale() == trigger.scale()
                            && (r.responded_at(), r.id()) > (trigger.responded_at(), trigger.id())
                    })
                    .min_by_key(|r| (r.responded_at(), r.id()));
                let acc = if sent_at.is_some() {
                    &mut rec_yes
                } else {
                    &mut rec_no
                };
                acc.push(
                    i32::from(trigger.score()),
                    next.map(|n| i32::from(n.score())),
                    *max_score,
                );
            }
        }
        let share_within_target = (detractor_tasks > 0).then(|| {
            (Decimal::from(within) * Decimal::ONE_HUNDRED / Decimal::from(detractor_tasks))
                .round_dp(2)
        });
        Self {
            detractor_tasks,
            contacted,
            contacted_within_target: within,
            share_within_target,
            time_to_follow_up: follow_up_times(times),
            recovery_contacted: rec_yes.finish(),
            recovery_not_contacted: rec_no.finish(),
        }
    }
}

fn nanos(n: i128) -> Duration {
    Duration::nanoseconds(i64::try_from(n).unwrap_or(if n < 0 { i64::MIN } else { i64::MAX }))
}

fn follow_up_times(mut t: Vec<i128>) -> Option<FollowUpTimes> {
    if t.is_empty() {
        return None;
    }
    t.sort_unstable();
    let n = t.len();
    let sum: i128 = t.iter().sum();
    let mean = sum / i128::try_from(n).unwrap_or(i128::MAX);
    let mid = n / 2;
    let median = if n % 2 == 1 {
        t.get(mid).copied().unwrap_or_default()
    } else {
        let a = t.get(mid - 1).copied().unwrap_or_default();
        let b = t.get(mid).copied().unwrap_or_default();
        (a + b) / 2
    };
    Some(FollowUpTimes {
        count: n,
        mean: nanos(mean),
        median: nanos(median),
        max: nanos(t.last().copied().unwrap_or_default()),
    })
}

#[derive(Default)]
struct Acc {
    r: Recovery,
    sum: i64,
}

impl Acc {
    fn push(&mut self, score: i32, next: Option<i32>, max_score: i32) {
        self.r.detractors += 1;
        let Some(next) = next else { return };
        self.r.with_next_score += 1;
        let change = next - score;
        self.sum += i64::from(change);
        match change.signum() {
            1 => self.r.improved += 1,
            0 => self.r.unchanged += 1,
            _ => self.r.worse += 1,
        }
        if next > max_score {
            self.r.no_longer_detractor += 1;
        }
    }

    fn finish(mut self) -> Recovery {
        if self.r.with_next_score > 0 {
            self.r.mean_change =
                Some((Decimal::from(self.sum) / Decimal::from(self.r.with_next_score)).round_dp(2));
        }
        self.r
    }
}
