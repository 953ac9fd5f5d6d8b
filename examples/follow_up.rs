//! Closed-loop follow-up on a small data set: plan follow-ups for new
//! survey responses and a complaint, store them in the memory store (which
//! is also the outbox), hand them to a transport that prints each message,
//! and read the recorded follow-ups back from each customer's history.
//!
//! Run with `cargo run --example follow_up`.

use std::future::Future;
use std::sync::Mutex;

use chrono::{DateTime, Duration, Utc};
use crmkit::domain::*;
use crmkit::outreach::*;
use crmkit::store::memory::MemoryStore;
use crmkit::store::{CustomerStore, InteractionStore, PageRequest, Query, SurveyStore};

/// The application's transport: here it prints what it would send. It
/// reads a simulated clock so the demo runs through a day in a moment.
struct PrintingTransport {
    clock: Mutex<DateTime<Utc>>,
}

impl Transport for PrintingTransport {
    fn send(
        &self,
        message: &OutboundMessage,
        key: IdempotencyKey,
    ) -> impl Future<Output = Result<Receipt, TransportError>> + Send {
        let via = message
            .channel
            .map_or_else(|| "the staff queue".to_owned(), |c| c.to_string());
        let who = if message.requires_human {
            "a person"
        } else {
            "automated"
        };
        println!(
            "  send [{key}] template {} to customer {} via {via} ({who}), locale {}, due {}",
            message.template,
            message.customer,
            message.locale.as_ref().map_or("-", Locale::as_str),
            message.due,
        );
        let accepted_at = self
            .clock
            .lock()
            .map(|t| *t)
            .map_err(|_| TransportError::Retryable {
                reason: "clock lock poisoned".into(),
            });
        async move {
            Ok(Receipt {
                reference: format!("demo-{key}"),
                accepted_at: accepted_at?,
            })
        }
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let t0: DateTime<Utc> = "2026-03-02T10:00:00Z".parse()?; // Monday
    let since = t0 - Duration::days(400);
    let service = |at| {
        ConsentRecord::new(
            ConsentPurpose::ServiceMessages,
            ConsentStatus::Given,
            at,
            ConsentSource::WebForm,
        )
    };

    let ada = Customer::builder(CustomerId::from_u128(1), CustomerKind::Individual, since)
        .display_name("Ada")
        .contact_point(ContactPoint::new(
            ContactValue::Email(EmailAddress::new("ada@example.com")?),
            true,
            None,
        ))
        .contact_point(ContactPoint::new(
            ContactValue::Phone(PhoneNumber::new("+441632960001")?),
            true,
            None,
        ))
        .preferred_channel(Channel::Sms)
        .locale(Locale::new("en-GB")?)
        .time_zone("Europe/London".parse()?)
        .consent(service(since))
        .build()?;
    let bruno = Customer::builder(CustomerId::from_u128(2), CustomerKind::Individual, since)
        .display_name("Bruno")
        .contact_point(ContactPoint::new(
            ContactValue::Email(EmailAddress::new("bruno@example.com")?),
            true,
            None,
        ))
        .locale(Locale::new("pt-BR")?)
        .time_zone("America/Sao_Paulo".parse()?)
        .consent(service(since))
        .build()?;
    // No contact points and no consent: a task for a person.
    let chen = Customer::builder(CustomerId::from_u128(3), CustomerKind::Individual, since)
        .display_name("Chen")
        .time_zone("Asia/Shanghai".parse()?)
        .build()?;
    let customers = vec![ada, bruno, chen];

    let responses = [
        SurveyResponse::on_scale(
            ResponseId::from_u128(10),
            SurveyId::from_u128(1),
            Scale::nps(),
            CustomerId::from_u128(1),
            t0,
            3,
        )?,
        SurveyResponse::on_scale(
            ResponseId::from_u128(11),
            SurveyId::from_u128(1),
            Scale::nps(),
            CustomerId::from_u128(2),
            t0,
            9,
        )?,
        SurveyResponse::on_scale(
            ResponseId::from_u128(12),
            SurveyId::from_u128(2),
            Scale::csat5(),
            CustomerId::from_u128(3),
            t0,
            1,
        )?,
    ];
    let complaint = Interaction::new(
        InteractionId::from_u128(20),
        CustomerId::from_u128(2),
        Channel::Chatbot,
        Direction::Inbound,
        InteractionPurpose::Complaint,
        t0 + Duration::minutes(5),
    );
    let mut events: Vec<Event<'_>> = responses.iter().map(Event::Response).collect();
    events.push(Event::Interaction(&complaint));

    let calendar =
        BusinessCalendar::weekdays("Europe/London".parse()?, "09:00".parse()?, "17:00".parse()?)?;
    let planner = Planner::new(RuleSet::default(), calendar);
    let now = t0 + Duration::minutes(10);
    let plan = planner.plan(&PlanInput::new(now, &customers, &events))?;
    println!("planned {} tasks:", plan.tasks.len());
    for t in &plan.tasks {
        println!(
            "  {} for {}: {:?}, send after {}, due {}",
            t.rule(),
            t.customer(),
            t.delivery(),
            t.send_after(),
            t.due()
        );
    }
    for n in &plan.not_planned {
        println!(
            "  not planned: {} for {}: {:?}",
            n.rule, n.customer, n.reason
        );
    }

    // The store holds the customers, their history and the outbox, so a
    // follow-up's receipt and its interaction are recorded together.
    let store = MemoryStore::new();
    let _ = futures_executor::block_on(store.insert_customers(customers.clone()))?;
    let _ = futures_executor::block_on(store.insert_responses(responses.to_vec()))?;
    let _ = futures_executor::block_on(store.create_interaction(complaint.clone()))?;
    let stored = futures_executor::block_on(store.insert(plan.tasks.clone()))?;
    // Planning the same events again finds every task already planned.
    let again =
        planner.plan(&PlanInput::new(now, &customers, &events).with_existing(&plan.tasks))?;
    println!(
        "stored {}, re-planning found {} already planned",
        stored.inserted,
        again.already_planned.len()
    );

    // Consent is checked again at send time against the stored customers.
    let directory = StoreDirectory(&store);
    let transport = PrintingTransport {
        clock: Mutex::new(now),
    };
    let dispatcher = Dispatcher::new(&store, &transport, &directory, DispatcherConfig::default());
    println!("dispatching:");
    let mut at = now;
    for _ in 0..24 {
        *transport.clock.lock().map_err(|_| "clock lock poisoned")? = at;
        let report = futures_executor::block_on(dispatcher.run_once(at))?;
        if report != DispatchReport::default() {
            println!("  at {at}: {report:?}");
        }
        at += Duration::hours(1);
    }
    let mut entries: Vec<OutboxEntry> = Vec::new();
    println!("history:");
    for c in &customers {
        entries.extend(
            futures_executor::block_on(store.for_customer(c.id()))?
                .into_iter()
                .map(Versioned::into_inner),
        );
        let history = futures_executor::block_on(
            store.interactions(Query::Customer(c.id()), PageRequest::first(100)?),
        )?;
        for i in history.items.iter().map(Versioned::value) {
            println!(
                "  {}: {} {:?} {:?} via {}",
                c.id(),
                i.occurred_at(),
                i.direction(),
                i.purpose(),
                i.channel()
            );
        }
    }
    let report = ClosedLoopReport::compute(&entries, &responses);
    println!(
        "detractors: {}, contacted within target: {} ({:?} %)",
        report.detractor_tasks, report.contacted_within_target, report.share_within_target
    );
    Ok(())
}
