//! The report pipeline end to end: figures checked against values counted
//! by hand from the raw records, the HTML's charts, and the CSV path.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Duration, TimeZone, Utc};
use crmkit::domain::*;
use crmkit::metrics::revenue::FixedRates;
use crmkit::metrics::service::SlaStatus;
use crmkit::report::{Report, ReportSettings, Team};
use crmkit::store::memory::MemoryStore;
use crmkit::store::{CaseStore, CustomerStore, PurchaseStore, SurveyStore, blocking::block_on};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

/// The raw records a report is computed from.
#[derive(Default)]
pub struct Raw {
    pub customers: Vec<Customer>,
    pub surveys: Vec<Survey>,
    pub responses: Vec<SurveyResponse>,
    pub purchases: Vec<Purchase>,
    pub cases: Vec<Case>,
}

impl Raw {
    pub fn load(&self, store: &MemoryStore) {
        for c in &self.customers {
            let _c = block_on(store.create_customer(c.clone())).unwrap();
        }
        for s in &self.surveys {
            let _s = block_on(store.create_survey(s.clone())).unwrap();
        }
        for r in &self.responses {
            let _r = block_on(store.record_response(r.clone())).unwrap();
        }
        for p in &self.purchases {
            let _p = block_on(store.record_purchase(p.clone())).unwrap();
        }
        for c in &self.cases {
            let _c = block_on(store.create_case(c.clone())).unwrap();
        }
    }
}

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap()
}

/// A small hand-made business: 40 customers over the first half of 2026,
/// purchases in EUR, USD (converted at 0.9) and one in GBP (no rate), NPS
/// and CSAT answers, no CES, 20 cases in two teams.
fn hand_made() -> (Raw, ReportSettings) {
    let t0 = t0();
    let day = |d: i64, h: i64| t0 + Duration::days(d) + Duration::hours(h);
    let mut raw = Raw::default();
    for c in 1..=40u128 {
        let email = EmailAddress::new(format!("c{c}@example.com")).unwrap();
        let customer = Customer::builder(
            CustomerId::from_u128(c),
            CustomerKind::Individual,
            t0 - Duration::days(30),
        )
        .contact_point(ContactPoint::new(ContactValue::Email(email), true, None))
        .consent(ConsentRecord::new(
            ConsentPurpose::ServiceMessages,
            ConsentStatus::Given,
            t0 - Duration::days(30),
            ConsentSource::WebForm,
        ))
        .build()
        .unwrap();
        raw.customers.push(customer);
    }
    let nps = Survey::new(
        SurveyId::from_u128(1),
        "Relationship NPS",
        SurveyKind::Nps,
        Scale::nps(),
        None,
        t0,
    )
    .unwrap();
    let csat = Survey::new(
        SurveyId::from_u128(2),
        "Support CSAT",
        SurveyKind::Csat,
        Scale::csat5(),
        None,
        t0,
    )
    .unwrap();
    let mut rid = 0u128;
    for c in 1..=40i64 {
        let customer = CustomerId::from_u128(c as u128);
        rid += 1;
        raw.responses.push(
            SurveyResponse::new(
                ResponseId::from_u128(rid),
                &nps,
                customer,
                day(c * 4 % 178, 10),
                (c % 11) as i32,
            )
            .unwrap(),
        );
        if c % 4 == 0 {
            rid += 1;
            raw.responses.push(
                SurveyResponse::new(
                    ResponseId::from_u128(rid),
                    &csat,
                    customer,
                    day(c * 3 % 178, 11),
                    (c % 5 + 1) as i32,
                )
                .unwrap(),
            );
        }
    }
    raw.surveys = vec![nps, csat];
    let mut pid = 0u128;
    let mut buy = |c: i64, d: i64, amount: i64, currency: Currency, refund: bool| {
        pid += 1;
        let kind = if refund {
            PurchaseKind::Refund { of: None }
        } else {
            PurchaseKind::Sale
        };
        Purchase::new(
            PurchaseId::from_u128(pid),
            CustomerId::from_u128(c as u128),
            day(d, 12),
            kind,
            Money::new(Decimal::from(amount), currency),
        )
        .unwrap()
    };
    for c in 1..=40i64 {
        let currency = if c % 5 == 0 {
            Currency::USD
        } else {
            Currency::EUR
        };
        let first = c * 3 % 150 - 20; // some customers start in December
        raw.purchases.push(buy(c, first, 10 + c, currency, false));
        if c % 2 == 0 {
            raw.purchases
                .push(buy(c, first + 20, 5 + c, currency, false));
        }
        if c % 3 == 0 {
            raw.purchases
                .push(buy(c, first + 60, 20 + c, currency, false));
        }
        if c % 7 == 0 {
            raw.purchases.push(buy(c, first + 2, 4, currency, true));
        }
    }
    raw.purchases.push(buy(1, 30, 99, Currency::GBP, false));
    let (team_a, team_b) = (TeamId::from_u128(100), TeamId::from_u128(200));
    let agent = Actor::Agent(AgentId::from_u128(7));
    for c in 1..=20i64 {
        let created = day(c * 7 % 170, 9);
        let mut case = Case::open(
            CaseId::from_u128(c as u128),
            CustomerId::from_u128(c as u128),
            "help",
            if c % 3 == 0 {
                Priority::High
            } else {
                Priority::Normal
            },
            Channel::Email,
            CaseEvent::new(
                created,
                Actor::Customer,
                CaseEventKind::Created {
                    by_agent: false,
                    public_message: true,
                },
            ),
        )
        .unwrap();
        let team = if c % 2 == 0 { team_a } else { team_b };
        case.record(CaseEvent::new(
            created + Duration::minutes(1),
            Actor::System,
            CaseEventKind::Assigned {
                agent: None,
                team: Some(team),
            },
        ))
        .unwrap();
        case.record(CaseEvent::new(
            created + Duration::hours(c),
            agent,
            CaseEventKind::PublicReply,
        ))
        .unwrap();
        if c % 4 != 0 {
            case.record(CaseEvent::new(
                created + Duration::hours(3 * c),
                agent,
                CaseEventKind::Solved,
            ))
            .unwrap();
        }
        raw.cases.push(case);
    }
    let tz: chrono_tz::Tz = "UTC".parse().unwrap();
    let period = Period::new(t0, Utc.with_ymd_and_hms(2026, 7, 1, 0, 0, 0).unwrap()).unwrap();
    let mut settings = ReportSettings::new(period, tz, Currency::EUR);
    settings.rates = FixedRates::new()
        .with(Currency::USD, Currency::EUR, Decimal::new(9, 1))
        .unwrap();
    settings.activity_window = Duration::days(45);
    settings.top_customers = 5;
    let hours =
        BusinessCalendar::weekdays(tz, "09:00".parse().unwrap(), "17:00".parse().unwrap()).unwrap();
    settings.teams = vec![
        Team {
            id: team_a,
            name: "Team A".into(),
            calendar: hours.clone(),
        },
        Team {
            id: team_b,
            name: "Team B".into(),
            calendar: BusinessCalendar::always(tz),
        },
    ];
    settings.follow_up_days = 60;
    (raw, settings)
}

/// Checks a report's figures against values counted from the raw records.
pub fn check_against_raw(report: &Report, raw: &Raw, settings: &ReportSettings) {
    let tz = settings.tz;
    let period = settings.period;
    let end = period.end();
    let month_of = |t| CalendarBucket::containing(t, Granularity::Month, tz);

    // NPS per month: % promoters (9-10) - % detractors (0-6), counted here.
    let nps_surveys: BTreeSet<SurveyId> = raw
        .surveys
        .iter()
        .filter(|s| s.kind() == SurveyKind::Nps)
        .map(|s| s.id())
        .collect();
    let mut by_month: BTreeMap<CalendarBucket, (i64, i64, i64)> = BTreeMap::new();
    for r in raw
        .responses
        .iter()
        .filter(|r| nps_surveys.contains(&r.survey()) && period.contains(r.responded_at()))
    {
        let e = by_month.entry(month_of(r.responded_at())).or_default();
        let s = r.score().get();
        e.0 += i64::from(s >= 9);
        e.1 += i64::from(s <= 6);
        e.2 += 1;
    }
    let nps = report.nps.computed().expect("NPS computed");
    let mut checked = 0;
    for p in &nps.months {
        match by_month.get(&p.month) {
            Some((prom, det, n)) => {
                assert_eq!(p.n, *n as u64, "{}", p.month);
                let expected = 100.0 * (prom - det) as f64 / *n as f64;
                let got = p.score.unwrap().to_f64().unwrap();
                assert!(
                    (got - expected).abs() < 0.006,
                    "{}: {got} vs {expected}",
                    p.month
                );
                checked += 1;
            }
            None => assert_eq!(p.n, 0),
        }
    }
    assert!(checked > 0);

    // Cohorts: customers whose first sale falls in each month of the period.
    let mut first_sale: HashMap<CustomerId, DateTime<Utc>> = HashMap::new();
    for p in raw
        .purchases
        .iter()
        .filter(|p| !p.is_refund() && p.occurred_at() < end)
        .filter(|p| {
            settings
                .rates
                .rate_known(p.amount().currency(), settings.currency)
        })
    {
        let f = first_sale.entry(p.customer()).or_insert(p.occurred_at());
        *f = (*f).min(p.occurred_at());
    }
    let mut cohort_sizes: BTreeMap<CalendarBucket, u64> = BTreeMap::new();
    let mut before = 0;
    for t in first_sale.values() {
        if *t < period.start() {
            before += 1;
        } else {
            *cohort_sizes.entry(month_of(*t)).or_default() += 1;
        }
    }
    let table = report.cohorts.computed().expect("cohorts computed");
    assert_eq!(table.acquired_before, before);
    let got: BTreeMap<CalendarBucket, u64> = table
        .cohorts
        .iter()
        .filter(|c| c.size > 0)
        .map(|c| (c.bucket, c.size))
        .collect();
    assert_eq!(got, cohort_sizes);

    // RFM: every customer with a sale before the end is in exactly one segment.
    let rfm = report.rfm.computed().expect("RFM computed");
    let with_sale = first_sale.len() as u64;
    assert_eq!(rfm.customers, with_sale);
    assert_eq!(rfm.segments.iter().map(|s| s.1).sum::<u64>(), with_sale);
    assert_eq!(rfm.grid.iter().flatten().sum::<u64>(), with_sale);

    // Retention in each quarter: customers with a sale in the activity
    // window before its start, and of those, with one before its end.
    let window = settings.activity_window;
    let active_at = |c: &CustomerId, at: DateTime<Utc>| {
        raw.purchases.iter().any(|p| {
            p.customer() == *c
                && !p.is_refund()
                && settings
                    .rates
                    .rate_known(p.amount().currency(), settings.currency)
                && p.occurred_at() <= at
                && at < p.occurred_at() + window
        })
    };
    let retention = report.retention.computed().expect("retention computed");
    for q in retention {
        let qp = q.quarter.period(tz).unwrap().intersection(&period).unwrap();
        let start: Vec<&CustomerId> = first_sale
            .keys()
            .filter(|c| active_at(c, qp.start()))
            .collect();
        let retained = start.iter().filter(|c| active_at(c, qp.end())).count() as u64;
        assert_eq!(q.active_start, start.len() as u64, "{}", q.quarter);
        assert_eq!(q.retained, retained, "{}", q.quarter);
        if let (Some(grr), Some(nrr)) = (q.grr, q.nrr) {
            assert!(grr >= Decimal::ZERO && grr <= Decimal::ONE && nrr >= grr);
        }
    }

    // SLA compliance per team, re-evaluated case by case.
    let service = report.service.computed().expect("service computed");
    for team in &settings.teams {
        let (mut met, mut breached) = (0u64, 0u64);
        for case in raw
            .cases
            .iter()
            .filter(|c| c.team() == Some(team.id) && period.contains(c.created_at()))
        {
            let sla = settings.sla.evaluate(case, &team.calendar, end).unwrap();
            for s in [sla.first_reply, sla.resolution].into_iter().flatten() {
                match s {
                    SlaStatus::Met { .. } => met += 1,
                    SlaStatus::Breached { .. } => breached += 1,
                    _ => {}
                }
            }
        }
        let row = service.iter().find(|r| r.team == Some(team.id)).unwrap();
        let mut all = row.sla_first_reply;
        all.merge(&row.sla_resolution);
        assert_eq!((all.met, all.breached), (met, breached), "{}", team.name);
        if met + breached > 0 {
            let expected = met as f64 / (met + breached) as f64;
            assert!((row.compliance().unwrap() - expected).abs() < 1e-12);
        }
    }
}

/// Whether a rate into `to` is known.
trait RateKnown {
    fn rate_known(&self, from: Currency, to: Currency) -> bool;
}
impl RateKnown for FixedRates {
    fn rate_known(&self, from: Currency, to: Currency) -> bool {
        use crmkit::metrics::revenue::ExchangeRates;
        self.rate(from, to, t0()).is_ok()
    }
}

#[test]
fn hand_made_business_figures_match_the_raw_records() {
    let (raw, settings) = hand_made();
    let store = MemoryStore::new();
    raw.load(&store);
    let mut steps = Vec::new();
    let report = block_on(Report::compute_with_progress(&store, &settings, |p| {
        steps.push(p.step)
    }))
    .unwrap();
    assert!(steps.contains(&"purchases") && steps.contains(&"follow-up queue"));
    // The GBP purchase has no rate: left out and said so; the retention
    // series, which converts every purchase, names the missing rate.
    assert_eq!(report.skipped_purchases.get("GBP"), Some(&1));
    assert!(report.retention.skipped().unwrap().contains("GBP"));
    // With a GBP rate every figure is there.
    let mut settings = settings;
    settings.rates = settings
        .rates
        .clone()
        .with(Currency::GBP, Currency::EUR, Decimal::new(115, 2))
        .unwrap();
    let report = block_on(Report::compute(&store, &settings)).unwrap();
    assert!(report.skipped_purchases.is_empty());
    check_against_raw(&report, &raw, &settings);
    // No CES survey: skipped with a reason.
    assert_eq!(
        report.ces.skipped(),
        Some("no CES (1-7) responses in the period")
    );
    // CSAT: 1-5 scale, 4-5 satisfied; counted by hand over the period.
    let csat = report.csat.computed().unwrap();
    let answers: Vec<i16> = raw
        .responses
        .iter()
        .filter(|r| r.survey() == SurveyId::from_u128(2))
        .map(|r| r.score().get())
        .collect();
    let n: u64 = csat.months.iter().map(|m| m.n).sum();
    assert_eq!(n, answers.len() as u64);
    let clv = report.clv.computed().unwrap();
    assert!(clv.top.len() <= 5 && !clv.top.is_empty());
    assert!(clv.top.windows(2).all(|w| w[0].clv >= w[1].clv));
    assert!(clv.top.iter().all(|c| (0.0..=1.0).contains(&c.p_alive)));
    // Detractors in the last 60 days get follow-ups.
    let follow = report.follow_up.computed().unwrap();
    assert!(!follow.tasks.is_empty());
    assert!(follow.tasks.windows(2).all(|w| w[0].due <= w[1].due));

    let text = report.to_text();
    for heading in [
        "NPS per month",
        "Monthly cohorts",
        "RFM segments",
        "Follow-up queue",
    ] {
        assert!(text.contains(heading), "{heading}");
    }
    assert!(text.contains("CES skipped: no CES (1-7) responses in the period"));
    check_html(&report.to_html().unwrap(), 4);
}

/// Every chart is an inline `<svg>` with drawn elements, and nothing is
/// loaded from elsewhere.
pub fn check_html(html: &str, charts: usize) {
    let svgs: Vec<&str> = html
        .split("<svg")
        .skip(1)
        .map(|s| s.split("</svg>").next().unwrap())
        .collect();
    assert_eq!(svgs.len(), charts);
    assert_eq!(html.matches("</svg>").count(), charts);
    for svg in &svgs {
        let drawn = [
            "<rect",
            "<path",
            "<polyline",
            "<polygon",
            "<circle",
            "<text",
            "<line",
        ]
        .iter()
        .map(|e| svg.matches(e).count())
        .sum::<usize>();
        assert!(drawn > 5, "an empty chart: {svg}");
    }
    for external in ["src=", "href=", "url(", "@import", "<link", "<script"] {
        assert!(!html.contains(external), "{external}");
    }
}

#[test]
fn an_empty_store_skips_every_section_with_a_reason() {
    let (_, settings) = hand_made();
    let report = block_on(Report::compute(&MemoryStore::new(), &settings)).unwrap();
    let skipped = report.skipped();
    assert_eq!(skipped.len(), 9, "{skipped:?}");
    assert_eq!(
        report.nps.skipped(),
        Some("no survey responses in the period")
    );
    check_html(&report.to_html().unwrap(), 0);
}

/// The CSV path of the `report` example: a business's own exports without
/// survey responses, imported into a store, give every section but the
/// survey ones, which say why they were skipped.
#[cfg(feature = "csv")]
#[test]
fn csv_exports_without_surveys_skip_the_survey_sections() {
    use crmkit::import::{Format, Import, Kind, export};
    let (raw, mut settings) = hand_made();
    settings.rates = settings
        .rates
        .clone()
        .with(Currency::GBP, Currency::EUR, Decimal::new(115, 2))
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name);
    let file = |name: &str| std::fs::File::create(path(name)).unwrap();
    export::write(file("customers.csv"), &raw.customers).unwrap();
    export::write(file("purchases.csv"), &raw.purchases).unwrap();
    export::write(file("cases.csv"), &raw.cases).unwrap();
    let import = Import::new(Format::default())
        .file(Kind::Customers, path("customers.csv"))
        .file(Kind::Purchases, path("purchases.csv"))
        .file(Kind::Cases, path("cases.csv"));
    let store = MemoryStore::new();
    let imported = block_on(import.into_store(&store)).unwrap();
    assert!(imported.rejected.is_empty(), "{:?}", imported.rejected);
    assert_eq!(imported.imported[&Kind::Purchases], raw.purchases.len());

    let report = block_on(Report::compute(&store, &settings)).unwrap();
    for section in [&report.nps, &report.csat, &report.ces] {
        assert_eq!(section.skipped(), Some("no survey responses in the period"));
    }
    assert!(report.retention.computed().is_some());
    assert!(report.cohorts.computed().is_some());
    assert!(report.rfm.computed().is_some());
    assert!(report.clv.computed().is_some());
    assert!(report.service.computed().is_some());
    // The same figures as from the records themselves, surveys aside.
    let mut without_surveys = Raw {
        customers: raw.customers.clone(),
        purchases: raw.purchases.clone(),
        cases: raw.cases.clone(),
        ..Raw::default()
    };
    without_surveys.surveys.clear();
    let direct = MemoryStore::new();
    without_surveys.load(&direct);
    let expected = block_on(Report::compute(&direct, &settings)).unwrap();
    assert_eq!(report, expected);
    assert!(
        report
            .to_text()
            .contains("NPS skipped: no survey responses in the period")
    );
    // Charts for cohorts, RFM and SLA; none for the skipped NPS.
    check_html(&report.to_html().unwrap(), 3);
}

/// The settings the `report` example uses for a generated business.
#[cfg(feature = "synth")]
fn business_settings(b: &crmkit::synth::business::Business) -> ReportSettings {
    let mut settings = ReportSettings::new(
        Period::new(b.spec.start, b.end).unwrap(),
        chrono_tz::UTC,
        b.spec.reporting_currency,
    );
    settings.rates = b.rates.clone();
    settings.sla = b.sla.clone();
    settings.teams = b
        .teams
        .iter()
        .map(|t| Team {
            id: t.id,
            name: t.name.clone(),
            calendar: t.calendar.clone(),
        })
        .collect();
    settings
}

/// The pipeline on a small generated business: every figure checked
/// against counts from the generated vectors; the same report from SQLite.
#[cfg(feature = "synth")]
#[test]
fn generated_business_figures_match_the_generated_records() {
    use crmkit::synth::business::{BusinessSpec, generate};
    let business = generate(&BusinessSpec::small()).unwrap();
    let store = MemoryStore::new();
    let loaded = block_on(business.load_into(&store, |_, _| {})).unwrap();
    assert_eq!(loaded, business.len());
    let settings = business_settings(&business);
    let report = block_on(Report::compute(&store, &settings)).unwrap();
    let raw = Raw {
        customers: business.customers.clone(),
        surveys: business.surveys.clone(),
        responses: business.responses.clone(),
        purchases: business.purchases.clone(),
        cases: business.cases.clone(),
    };
    check_against_raw(&report, &raw, &settings);
    assert!(report.skipped().is_empty(), "{:?}", report.skipped());
    assert!(report.skipped_purchases.is_empty());
    check_html(&report.to_html().unwrap(), 4);

    #[cfg(feature = "sqlite")]
    {
        let dir = tempfile::tempdir().unwrap();
        let sqlite =
            crmkit::store::sqlite::SqliteStore::open(dir.path().join("report.sqlite")).unwrap();
        let _n = block_on(business.load_into(&sqlite, |_, _| {})).unwrap();
        let from_sqlite = block_on(Report::compute(&sqlite, &settings)).unwrap();
        assert_eq!(from_sqlite, report);
    }
}
