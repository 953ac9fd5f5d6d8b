//! Service metrics benchmarks.
//!
//! - `business_duration`: business time between instant pairs (spans up to
//!   two weeks, Monday-Friday 09:00-17:00 in Europe/Berlin), 1,000,000 pairs
//!   per criterion iteration; then one timed pass over 10,000,000 pairs.
//! - `cases_per_agent_week`: every service metric and SLA status of
//!   generated cases (realistic event histories), grouped per agent per ISO
//!   week in business hours: 100,000 cases per criterion iteration, then one
//!   timed pass over 1,000,000 cases.
//!
//! `CRMKIT_SERVICE_SAMPLE=path cargo bench --bench service` only writes the
//! 10,000-pair peer sample (drawn from the same sequence where the zone has
//! no clock change) as CSV and exits; `bench/peers/service/run.sh` does that.

use std::hint::black_box;
use std::io::Write;
use std::time::{Duration as StdDuration, Instant};

use chrono::{DateTime, Duration, TimeZone, Utc};
use chrono_tz::Tz;
use criterion::{Criterion, Throughput};
use crmkit::domain::{
    Actor, AgentId, BotId, BusinessCalendar, CalendarBucket, Case, CaseEvent, CaseEventKind,
    CaseId, CaseStatus, Channel, CustomerId, Granularity, Priority, TeamId,
};
use crmkit::metrics::service::{
    CaseMetrics, Clock, FcrRule, ServiceGroups, SlaPolicy, SlaTarget, SlaTargets,
};

const ZONE: Tz = chrono_tz::Europe::Berlin;
const SEED: u64 = 0x5e41_11ce;

/// splitmix64: a tiny deterministic generator, so the sample is reproducible
/// without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn chance(&mut self, p: f64) -> bool {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }
}

fn calendar() -> BusinessCalendar {
    BusinessCalendar::weekdays(ZONE, "09:00".parse().unwrap(), "17:00".parse().unwrap()).unwrap()
}

/// Instant pairs: starts uniform over 2024-2026 to the second, spans up to
/// two weeks.
fn pairs(rng: &mut Rng, n: usize) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
    let from = Utc
        .with_ymd_and_hms(2024, 1, 1, 0, 0, 0)
        .unwrap()
        .timestamp();
    let years = 3 * 365 * 86_400;
    (0..n)
        .map(|_| {
            let a = from + rng.below(years) as i64;
            let b = a + rng.below(14 * 86_400 + 1) as i64;
            (
                DateTime::from_timestamp(a, 0).unwrap(),
                DateTime::from_timestamp(b, 0).unwrap(),
            )
        })
        .collect()
}

fn export_sample(path: &str) {
    let cal = calendar();
    let mut rng = Rng(SEED);
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    writeln!(out, "start_local,end_local,crmkit_seconds").unwrap();
    let mut written = 0;
    while written < 10_000 {
        for (a, b) in pairs(&mut rng, 1000) {
            let (la, lb) = (a.with_timezone(&ZONE), b.with_timezone(&ZONE));
            // No clock change inside the pair (Berlin changes at most once in two weeks).
            if la.offset().to_string() != lb.offset().to_string() || written >= 10_000 {
                continue;
            }
            let d = cal.business_duration(a, b).unwrap();
            writeln!(
                out,
                "{},{},{}",
                la.naive_local().format("%Y-%m-%d %H:%M:%S"),
                lb.naive_local().format("%Y-%m-%d %H:%M:%S"),
                d.num_seconds()
            )
            .unwrap();
            written += 1;
        }
    }
}

fn bench_business_duration(c: &mut Criterion) {
    let cal = calendar();
    let mut rng = Rng(SEED);
    let sample = pairs(&mut rng, 1_000_000);
    let mut group = c.benchmark_group("service");
    group.throughput(Throughput::Elements(sample.len() as u64));
    group.sample_size(10);
    group.bench_function("business_duration/1M_pairs", |b| {
        b.iter(|| {
            let mut total = Duration::zero();
            for &(a, e) in &sample {
                total += cal.business_duration(black_box(a), black_box(e)).unwrap();
            }
            total
        })
    });
    group.finish();
    drop(sample);

    // One pass over 10,000,000 pairs (the first 1M are the criterion sample),
    // generated in chunks outside the timing.
    let mut rng = Rng(SEED);
    let mut elapsed = StdDuration::ZERO;
    let mut total = Duration::zero();
    for _ in 0..10 {
        let chunk = pairs(&mut rng, 1_000_000);
        let t = Instant::now();
        for &(a, e) in &chunk {
            total += cal.business_duration(black_box(a), black_box(e)).unwrap();
        }
        elapsed += t.elapsed();
    }
    println!(
        "business_duration over 10,000,000 pairs: {:.3} s, {:.1} ns per pair (total {} h)",
        elapsed.as_secs_f64(),
        elapsed.as_secs_f64() * 1e9 / 1e7,
        total.num_hours()
    );
}

/// A realistic history: a bot first on some chats, an assignment, a first
/// reply after minutes to days, a pending round trip, sometimes on hold, a
/// solve, sometimes a reopen, usually a close.
fn generate_case(rng: &mut Rng, id: u128, agents: &[AgentId], teams: &[TeamId]) -> Case {
    let start = Utc
        .with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
        .unwrap()
        .timestamp();
    let mut t = DateTime::from_timestamp(start + rng.below(365 * 86_400) as i64, 0).unwrap();
    let created_at = t;
    let mut step = |rng: &mut Rng, max_minutes: u64| {
        t += Duration::seconds(60 + rng.below(max_minutes * 60) as i64);
        t
    };
    let agent_ix = rng.below(agents.len() as u64) as usize;
    let agent = agents[agent_ix];
    let team = teams[agent_ix % teams.len()];
    let a = Actor::Agent(agent);
    let bot = Actor::Bot(BotId::from_u128(1));
    let channel = [
        Channel::Email,
        Channel::LiveChat,
        Channel::Chatbot,
        Channel::Phone,
    ][rng.below(4) as usize];
    let priority = match rng.below(100) {
        0..=19 => Priority::Low,
        20..=79 => Priority::Normal,
        80..=94 => Priority::High,
        _ => Priority::Urgent,
    };
    let by_agent = channel == Channel::Phone && rng.chance(0.5);
    let creator = if by_agent { a } else { Actor::Customer };
    let created = CaseEvent::new(
        created_at,
        creator,
        CaseEventKind::Created {
            by_agent,
            public_message: true,
        },
    );
    let mut case = Case::open(
        CaseId::from_u128(id),
        CustomerId::from_u128(id % 200_000),
        "generated",
        priority,
        channel,
        created,
    )
    .unwrap();
    let rec =
        |case: &mut Case, at, actor, kind| case.record(CaseEvent::new(at, actor, kind)).unwrap();
    if channel == Channel::Chatbot {
        rec(&mut case, step(rng, 1), bot, CaseEventKind::BotReply);
        if rng.chance(0.5) {
            rec(&mut case, step(rng, 2), bot, CaseEventKind::Solved);
            if rng.chance(0.7) {
                rec(
                    &mut case,
                    step(rng, 3 * 1440),
                    Actor::System,
                    CaseEventKind::Closed,
                );
            }
            return case;
        }
        rec(
            &mut case,
            step(rng, 2),
            bot,
            CaseEventKind::EscalatedToHuman,
        );
    }
    let assign = CaseEventKind::Assigned {
        agent: Some(agent),
        team: Some(team),
    };
    rec(&mut case, step(rng, 30), Actor::System, assign);
    rec(
        &mut case,
        step(rng, 2 * 1440),
        a,
        CaseEventKind::PublicReply,
    );
    let mut rounds = rng.below(3);
    while rounds > 0 {
        rec(
            &mut case,
            step(rng, 2 * 1440),
            Actor::Customer,
            CaseEventKind::CustomerReply,
        );
        if rng.chance(0.1) {
            let hold = CaseEventKind::StatusChanged {
                to: CaseStatus::OnHold,
            };
            rec(&mut case, step(rng, 60), a, hold);
        }
        rec(&mut case, step(rng, 1440), a, CaseEventKind::PublicReply);
        rounds -= 1;
    }
    if rng.chance(0.9) {
        rec(&mut case, step(rng, 1440), a, CaseEventKind::Solved);
        if rng.chance(0.08) {
            rec(
                &mut case,
                step(rng, 3 * 1440),
                Actor::Customer,
                CaseEventKind::Reopened,
            );
            rec(
                &mut case,
                step(rng, 1),
                Actor::Customer,
                CaseEventKind::CustomerReply,
            );
            rec(&mut case, step(rng, 1440), a, CaseEventKind::PublicReply);
            rec(&mut case, step(rng, 1440), a, CaseEventKind::Solved);
        }
        if rng.chance(0.6) {
            rec(
                &mut case,
                step(rng, 4 * 1440),
                Actor::System,
                CaseEventKind::Closed,
            );
        }
    }
    case
}

struct CaseBench {
    cal: BusinessCalendar,
    policy: SlaPolicy,
    rule: FcrRule,
    as_of: DateTime<Utc>,
    agents: Vec<AgentId>,
    teams: Vec<TeamId>,
}

impl CaseBench {
    fn new() -> Self {
        let hours = |h| SlaTarget::new(Duration::hours(h), Clock::Business).unwrap();
        let targets = SlaTargets {
            first_reply: Some(hours(4)),
            next_reply: Some(hours(8)),
            resolution: Some(hours(24)),
        };
        Self {
            cal: calendar(),
            policy: [
                Priority::Low,
                Priority::Normal,
                Priority::High,
                Priority::Urgent,
            ]
            .into_iter()
            .fold(SlaPolicy::new(), |p, pr| p.with(pr, targets)),
            rule: FcrRule::default(),
            as_of: Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0).unwrap(),
            agents: (0..500).map(|i| AgentId::from_u128(1000 + i)).collect(),
            teams: (0..20).map(|i| TeamId::from_u128(5000 + i)).collect(),
        }
    }

    fn cases(&self, rng: &mut Rng, first_id: u128, n: u128) -> Vec<Case> {
        (first_id..first_id + n)
            .map(|i| generate_case(rng, i, &self.agents, &self.teams))
            .collect()
    }

    /// Every metric and SLA status of `cases`, per agent per ISO week (Berlin).
    fn run(&self, cases: &[Case], groups: &mut ServiceGroups<(Option<AgentId>, CalendarBucket)>) {
        for case in cases {
            let m = CaseMetrics::of(case, &self.cal, &self.rule).unwrap();
            let week = CalendarBucket::containing(m.created_at, Granularity::IsoWeek, ZONE);
            let sla = self.policy.evaluate(case, &self.cal, self.as_of).unwrap();
            let acc = groups.group((case.assignee(), week));
            acc.push(&m);
            acc.push_sla(&sla);
        }
    }
}

fn bench_cases(c: &mut Criterion) {
    let b = CaseBench::new();
    let mut rng = Rng(SEED ^ 0xca5e);
    let n: u128 = std::env::var("CRMKIT_SERVICE_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let t = Instant::now();
    let sample = b.cases(&mut rng, 0, n);
    println!("generated {n} cases in {:.2} s", t.elapsed().as_secs_f64());
    let mut group = c.benchmark_group("service");
    group.throughput(Throughput::Elements(sample.len() as u64));
    group.sample_size(10);
    group.bench_function(format!("cases_per_agent_week/{n}_cases"), |bench| {
        bench.iter(|| {
            let mut groups = ServiceGroups::new();
            b.run(&sample, &mut groups);
            groups.finish().len()
        })
    });
    group.finish();
    drop(sample);
    if n < 100_000 {
        return;
    }

    // One pass over 1,000,000 cases, generated in chunks of 100,000 outside
    // the timing (all of them at once would hold about a gigabyte).
    let mut rng = Rng(SEED ^ 0xca5e);
    let mut groups = ServiceGroups::new();
    let (mut elapsed, mut events) = (StdDuration::ZERO, 0usize);
    for chunk in 0..10u128 {
        let cases = b.cases(&mut rng, chunk * 100_000, 100_000);
        events += cases.iter().map(|c| c.events().len()).sum::<usize>();
        let t = Instant::now();
        b.run(&cases, &mut groups);
        elapsed += t.elapsed();
    }
    let t = Instant::now();
    let summaries = groups.finish();
    elapsed += t.elapsed();
    println!(
        "service metrics of 1,000,000 cases ({events} events) per agent per week: {:.3} s, {:.0} ns per case, {} groups",
        elapsed.as_secs_f64(),
        elapsed.as_secs_f64() * 1e9 / 1e6,
        summaries.len()
    );
}

fn main() {
    if let Ok(path) = std::env::var("CRMKIT_SERVICE_SAMPLE") {
        export_sample(&path);
        return;
    }
    let mut c = Criterion::default().configure_from_args();
    let only_pairs = std::env::var("CRMKIT_SERVICE_ONLY").ok();
    if only_pairs.as_deref() != Some("cases") {
        bench_business_duration(&mut c);
    }
    if only_pairs.as_deref() != Some("pairs") {
        bench_cases(&mut c);
    }
    c.final_summary();
}
