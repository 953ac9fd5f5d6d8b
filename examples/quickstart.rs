//! Quick start: build a customer, an interaction, a survey and its responses,
//! store them in the embedded SQLite store, read them back and compute the
//! survey's NPS with its confidence interval from the store. Personal data
//! stays redacted in `Debug`.
//!
//! Run with `cargo run --all-features --example quickstart` (it needs the
//! `sqlite` feature).

use chrono::{DateTime, Utc};
use crmkit::analytics::{DEFAULT_PAGE_SIZE, survey_metric};
use crmkit::domain::{
    Channel, ConsentPurpose, ConsentRecord, ConsentSource, ConsentStatus, ContactPoint,
    ContactValue, Customer, CustomerId, CustomerKind, Direction, EmailAddress, Interaction,
    InteractionId, InteractionPurpose, Locale, Period, ResponseId, Scale, Segment, Survey,
    SurveyId, SurveyKind, SurveyResponse,
};
use crmkit::metrics::accumulator::Accumulator;
use crmkit::metrics::nps::Nps;
use crmkit::store::blocking::block_on;
use crmkit::store::sqlite::SqliteStore;
use crmkit::store::{CustomerStore, InteractionStore, SurveyStore};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let at = |s: &str| s.parse::<DateTime<Utc>>();
    let dir = std::env::temp_dir().join(format!("crmkit-quickstart-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("crm.sqlite");
    let store = SqliteStore::open(&path)?;
    println!("store:       {}\n", path.display());
    let acquired = at("2026-03-02T09:15:00Z")?;

    let customer = Customer::builder(CustomerId::new(), CustomerKind::Individual, acquired)
        .display_name("Ada Lovelace")
        .contact_point(ContactPoint::new(
            ContactValue::Email(EmailAddress::new("ada@example.com")?),
            true,
            None,
        ))
        .preferred_channel(Channel::Email)
        .locale(Locale::new("en-GB")?)
        .time_zone("Europe/London".parse()?)
        .segment(Segment::new("consumer")?)
        .consent(ConsentRecord::new(
            ConsentPurpose::Surveys,
            ConsentStatus::Given,
            acquired,
            ConsentSource::DoubleOptIn,
        ))
        .build()?;
    println!("customer:    {customer:?}\n");
    let customer = block_on(store.create_customer(customer))?;
    println!("stored at    {}\n", customer.version());

    let call = Interaction::new(
        InteractionId::new(),
        customer.id(),
        Channel::Phone,
        Direction::Inbound,
        InteractionPurpose::Support,
        at("2026-03-10T14:00:00Z")?,
    )
    .with_duration(chrono::Duration::minutes(7))?
    .with_summary("Asked how to change her delivery address")?;
    println!("interaction: {call:?}\n");
    let _stored = block_on(store.create_interaction(call))?;

    let survey = Survey::new(
        SurveyId::new(),
        "Relationship NPS",
        SurveyKind::Nps,
        Scale::nps(),
        Some("How likely are you to recommend us to a friend?".into()),
        acquired,
    )?;
    println!("survey:      {survey:?}\n");
    let _stored = block_on(store.create_survey(survey.clone()))?;

    let mut promoters = 0;
    let mut detractors = 0;
    let scores = [10, 9, 7, 3, 10];
    for (i, score) in scores.into_iter().enumerate() {
        let response = SurveyResponse::new(
            ResponseId::new(),
            &survey,
            customer.id(),
            at("2026-03-11T08:00:00Z")? + chrono::Duration::days(i as i64),
            score,
        )?
        .with_channel(Channel::Email);
        match score {
            9..=10 => promoters += 1,
            0..=6 => detractors += 1,
            _ => {}
        }
        println!("response:    score {score}, id {}", response.id());
        let _stored = block_on(store.record_response(response))?;
    }
    // By hand: NPS = 100 x (promoters - detractors) / n = 100 x (3 - 1) / 5 = 40.
    let by_hand = 100 * (promoters - detractors) / scores.len() as i32;

    // From the store: page through the survey's responses of March 2026.
    let march = Period::new(at("2026-03-01T00:00:00Z")?, at("2026-04-01T00:00:00Z")?)?;
    let grouped = block_on(survey_metric(
        &store,
        survey.id(),
        march,
        Nps::standard(),
        |_| ["all"],
        DEFAULT_PAGE_SIZE,
    ))?;
    for (_, result) in grouped.finish() {
        println!("\nNPS from the store: {result:?}");
        assert_eq!(result.score(), Some(rust_decimal::Decimal::from(by_hand)));
    }
    println!("NPS by hand:        {by_hand}");

    // Invalid values cannot be built: an 11 on a 0-10 scale is a typed error.
    let err = SurveyResponse::new(ResponseId::new(), &survey, customer.id(), acquired, 11)
        .expect_err("11 is not on the NPS scale");
    println!("rejected:    {err}");
    drop(store);
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
