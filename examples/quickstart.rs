//! Quick start: build a customer, an interaction, a survey and its responses,
//! and print them (personal data stays redacted in `Debug`).
//!
//! Run with `cargo run --example quickstart`.

use chrono::{DateTime, Utc};
use crmkit::domain::{
    Channel, ConsentPurpose, ConsentRecord, ConsentSource, ConsentStatus, ContactPoint,
    ContactValue, Customer, CustomerId, CustomerKind, Direction, EmailAddress, Interaction,
    InteractionId, InteractionPurpose, Locale, ResponseId, Scale, Segment, Survey, SurveyId,
    SurveyKind, SurveyResponse,
};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let at = |s: &str| s.parse::<DateTime<Utc>>();
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

    let survey = Survey::new(
        SurveyId::new(),
        "Relationship NPS",
        SurveyKind::Nps,
        Scale::nps(),
        Some("How likely are you to recommend us to a friend?".into()),
        acquired,
    )?;
    println!("survey:      {survey:?}\n");

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
    }
    // NPS = 100 x (promoters - detractors) / n
    let nps = 100 * (promoters - detractors) / scores.len() as i32;
    println!("\nNPS of these {} responses: {nps}", scores.len());

    // Invalid values cannot be built: an 11 on a 0-10 scale is a typed error.
    let err = SurveyResponse::new(ResponseId::new(), &survey, customer.id(), acquired, 11)
        .expect_err("11 is not on the NPS scale");
    println!("rejected:    {err}");
    Ok(())
}
