//! CSV import: every bad row reported with its line and reason, good rows
//! kept, and exported data read back unchanged.

use chrono::{DateTime, Utc};
use crmkit::domain::*;
use crmkit::error::ValidationError;
use crmkit::import::{
    Batch, CaseRecords, CsvRecords, Format, IdPolicy, ImportError, Kind, Mapping, Reason, Rejection,
};
use rust_decimal::Decimal;

fn uuid(n: u128) -> String {
    uuid::Uuid::from_u128(n).to_string()
}

fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn purchases(csv: &str, format: &Format) -> Result<Batch<Purchase>, ImportError> {
    CsvRecords::<Purchase, _>::new(
        "p.csv",
        csv.as_bytes(),
        &Mapping::new(Kind::Purchases),
        format,
    )?
    .collect_batch()
}

fn lines(rejected: &[Rejection]) -> Vec<(u64, Option<&str>)> {
    rejected
        .iter()
        .map(|r| (r.line, r.column.as_deref()))
        .collect()
}

#[test]
fn every_bad_purchase_row_is_reported_and_good_rows_are_kept() {
    let (c, p) = (uuid(100), |n| uuid(n));
    let csv = format!(
        "id,customer_id,occurred_at,amount,currency\n\
         {p1},{c},2026-01-05T10:00:00Z,49.90,EUR\n\
         {p2},{c},2026-02-30T10:00:00Z,10.00,EUR\n\
         {p3},{c},2026-01-06T10:00:00Z,10.00,XYZ\n\
         {p1},{c},2026-01-07T10:00:00Z,5.00,EUR\n\
         {p4},{c},2026-01-08T10:00:00Z,-5.00,EUR\n\
         \"{p5}\",\"{c}\",\"2026-01-09T10:00:00Z\",\"7.5\",\"EUR\"\n\
         {p6},{c},2026-01-1",
        p1 = p(1),
        p2 = p(2),
        p3 = p(3),
        p4 = p(4),
        p5 = p(5),
        p6 = p(6),
    );
    let b = purchases(&csv, &Format::default()).unwrap();
    // Lines: header 1, good 2, bad date 3, unknown currency 4, duplicate 5,
    // negative sale 6, good (quoted) 7, truncated 8.
    assert_eq!(
        lines(&b.rejected),
        [
            (3, Some("occurred_at")),
            (4, Some("currency")),
            (5, Some("id")),
            (6, Some("amount")),
            (8, None),
        ]
    );
    assert!(matches!(
        &b.rejected[0].reason,
        Reason::Invalid(ValidationError::Format { field: "occurred_at", value, .. }) if value == "2026-02-30T10:00:00Z"
    ));
    assert!(matches!(
        &b.rejected[1].reason,
        Reason::Invalid(ValidationError::Format { field: "currency", value, .. }) if value == "XYZ"
    ));
    assert!(matches!(
        &b.rejected[2].reason,
        Reason::Duplicate { first_line: 2, .. }
    ));
    assert!(matches!(
        &b.rejected[3].reason,
        Reason::Invalid(ValidationError::OutOfRange {
            field: "purchase.amount",
            ..
        })
    ));
    assert_eq!(
        b.rejected[4].reason,
        Reason::CellCount {
            found: 3,
            expected: 5,
            truncated: true
        }
    );
    assert!(b.rejected[4].to_string().contains("p.csv:8:"));
    assert!(b.rejected[4].to_string().contains("truncated"));
    // The good rows, unchanged: 49.90 keeps its two decimals, 7.5 its one.
    assert_eq!(b.valid.len(), 2);
    assert_eq!(
        b.valid[0].amount(),
        Money::new(Decimal::new(4990, 2), Currency::EUR)
    );
    assert_eq!(b.valid[1].amount().amount().to_string(), "7.5");
    assert_eq!(b.valid[1].occurred_at(), at("2026-01-09T10:00:00Z"));
}

#[test]
fn a_short_row_in_the_middle_is_not_called_truncated() {
    let csv = format!(
        "id,customer_id,occurred_at,amount,currency\n{},{},2026-01-05T10:00:00Z\n",
        uuid(1),
        uuid(2)
    );
    let b = purchases(&csv, &Format::default()).unwrap();
    assert_eq!(
        b.rejected[0].reason,
        Reason::CellCount {
            found: 3,
            expected: 5,
            truncated: false
        }
    );
}

#[test]
fn missing_columns_refuse_the_file_before_any_row() {
    // A header without `amount`, and a body that would not even parse.
    let err = purchases(
        "id,customer_id,occurred_at\n\"unterminated",
        &Format::default(),
    )
    .unwrap_err();
    match err {
        ImportError::MissingColumns { file, columns } => {
            assert_eq!(file, "p.csv");
            assert_eq!(columns, ["amount"]);
        }
        other => panic!("{other}"),
    }
    // With a mapping, the missing column is named as mapped.
    let m = Mapping::new(Kind::Purchases)
        .rename("amount", "Total")
        .unwrap();
    let err = CsvRecords::<Purchase, _>::new(
        "p.csv",
        "id,customer_id,occurred_at,amount\n".as_bytes(),
        &m,
        &Format::default(),
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("missing required columns: Total"),
        "{err}"
    );
}

#[test]
fn mapped_columns_local_dates_and_comma_decimals() {
    let csv = "Order;Client;Date;Total;Cur\nA-1;C-7;05.01.2026 09:30;49,90;\nA-2;C-7;05.01.2026;1.000,00;USD\n";
    let m = Mapping::new(Kind::Purchases)
        .rename("id", "Order")
        .and_then(|m| m.rename("customer_id", "Client"))
        .and_then(|m| m.rename("occurred_at", "Date"))
        .and_then(|m| m.rename("amount", "Total"))
        .and_then(|m| m.rename("currency", "Cur"))
        .unwrap();
    let f = Format {
        date_formats: vec!["%d.%m.%Y %H:%M".into(), "%d.%m.%Y".into()],
        time_zone: chrono_tz::Europe::Berlin,
        default_currency: Some(Currency::EUR),
        decimal_separator: ',',
        delimiter: b';',
        ids: IdPolicy::FromText,
        ..Format::default()
    };
    let b = CsvRecords::<Purchase, _>::new("p.csv", csv.as_bytes(), &m, &f)
        .unwrap()
        .collect_batch()
        .unwrap();
    assert_eq!(b.valid.len(), 1);
    let p = &b.valid[0];
    // 09:30 in Berlin in January (UTC+1) is 08:30 UTC; the empty currency
    // cell takes the default.
    assert_eq!(p.occurred_at(), at("2026-01-05T08:30:00Z"));
    assert_eq!(p.amount(), Money::new(Decimal::new(4990, 2), Currency::EUR));
    // Text ids map to the same customer id in every file.
    assert_eq!(p.customer(), customer_id_of(&f, "C-7"));
    // A thousands separator is not guessed.
    assert_eq!(lines(&b.rejected), [(3, Some("Total"))]);
}

/// The customer id the importer derives from `text`, read from a customers file.
fn customer_id_of(f: &Format, text: &str) -> CustomerId {
    let csv = format!("id;acquired_at\n{text};2026-01-01T00:00:00Z\n");
    let b =
        CsvRecords::<Customer, _>::new("c.csv", csv.as_bytes(), &Mapping::new(Kind::Customers), f)
            .unwrap()
            .collect_batch()
            .unwrap();
    b.valid[0].id()
}

#[test]
fn scores_outside_the_scale_are_rejected() {
    let csv = format!(
        "id,survey_id,customer_id,responded_at,scale,score\n\
         {r1},{s},{c},2026-01-05T10:00:00Z,0..=10,10\n\
         {r2},{s},{c},2026-01-05T10:00:00Z,0..=10,11\n\
         {r3},{s},{c},2026-01-05T10:00:00Z,,4\n\
         {r4},{s},{c},2026-01-05T10:00:00Z,1-5,nine\n",
        r1 = uuid(1),
        r2 = uuid(2),
        r3 = uuid(3),
        r4 = uuid(4),
        s = uuid(50),
        c = uuid(60)
    );
    let read = |f: &Format| {
        CsvRecords::<SurveyResponse, _>::new(
            "r.csv",
            csv.as_bytes(),
            &Mapping::new(Kind::Responses),
            f,
        )
        .unwrap()
        .collect_batch()
        .unwrap()
    };
    let b = read(&Format::default());
    assert_eq!(b.valid.len(), 1);
    assert_eq!(
        lines(&b.rejected),
        [(3, Some("score")), (4, Some("scale")), (5, Some("score"))]
    );
    assert!(matches!(
        &b.rejected[0].reason,
        Reason::Invalid(ValidationError::OutOfRange { value, .. }) if value == "11"
    ));
    // With a default scale the row without one is read on it.
    let b = read(&Format {
        default_scale: Some(Scale::csat5()),
        ..Format::default()
    });
    assert_eq!(b.valid.len(), 2);
    assert_eq!(b.valid[1].scale(), Scale::csat5());
}

#[test]
fn customers_from_simple_columns() {
    let csv = "id,kind,given_name,email,phone,segments,acquired_at,lifecycle_stage\n\
        C1,individual,Ada,ada@example.org,+442071838750,vip|emea,2025-03-01T00:00:00Z,active\n\
        C2,individual,Bob,not-an-email,,,2025-03-01T00:00:00Z,\n\
        C3,robot,Cy,,,,2025-03-01T00:00:00Z,\n";
    let f = Format {
        ids: IdPolicy::FromText,
        time_zone: chrono_tz::Europe::London,
        ..Format::default()
    };
    let r =
        CsvRecords::<Customer, _>::new("c.csv", csv.as_bytes(), &Mapping::new(Kind::Customers), &f)
            .unwrap();
    assert!(r.absent_columns().contains(&"consents".to_owned()));
    let b = r.collect_batch().unwrap();
    assert_eq!(lines(&b.rejected), [(3, Some("email")), (4, Some("kind"))]);
    let ada = &b.valid[0];
    assert_eq!(ada.contact_points().len(), 2);
    assert_eq!(ada.segments().len(), 2);
    assert_eq!(ada.time_zone(), chrono_tz::Europe::London);
    assert_eq!(ada.lifecycle_stage(), LifecycleStage::Active);
}

fn case_csv(rows: &[&str]) -> String {
    let mut s =
        String::from("case_id,customer_id,subject,channel,at,event,actor,actor_id,status\n");
    for r in rows {
        s.push_str(r);
        s.push('\n');
    }
    s
}

#[test]
fn a_case_with_one_bad_event_is_rejected_whole_and_the_others_kept() {
    let (k1, k2, k3, c, a) = (uuid(1), uuid(2), uuid(3), uuid(9), uuid(7));
    let csv = case_csv(&[
        &format!("{k1},{c},Printer,email,2026-03-01T09:00:00Z,created,customer,,"),
        &format!("{k1},,,,2026-03-01T10:00:00Z,public_reply,agent,{a},"),
        &format!("{k1},,,,2026-03-01T11:00:00Z,solved,agent,{a},"),
        // Case 2: its second event goes back in time.
        &format!("{k2},{c},Invoice,phone,2026-03-02T09:00:00Z,created,customer,,"),
        &format!("{k2},,,,2026-03-01T09:00:00Z,customer_reply,customer,,"),
        &format!("{k2},,,,2026-03-02T10:00:00Z,solved,agent,{a},"),
        // Case 3: fine, with a status change.
        &format!("{k3},{c},Login,live_chat,2026-03-03T09:00:00Z,created,agent,{a},"),
        &format!("{k3},,,,2026-03-03T09:05:00Z,status_changed,agent,{a},on_hold"),
        // Case 1 again, after another case: a duplicate.
        &format!("{k1},{c},Printer,email,2026-03-04T09:00:00Z,created,customer,,"),
    ]);
    let b = CaseRecords::new(
        "cases.csv",
        csv.as_bytes(),
        &Mapping::new(Kind::Cases),
        &Format::default(),
    )
    .unwrap()
    .collect_batch()
    .unwrap();
    assert_eq!(b.valid.len(), 2);
    assert_eq!(b.valid[0].status(), CaseStatus::Solved);
    assert_eq!(b.valid[1].status(), CaseStatus::OnHold);
    // Lines 5-7 are case 2: line 6 is at fault, 5 and 7 go with it.
    assert_eq!(
        lines(&b.rejected),
        [(5, None), (6, None), (7, None), (10, Some("case_id"))]
    );
    assert!(matches!(
        b.rejected[0].reason,
        Reason::CaseRejected { line: 6, .. }
    ));
    assert!(matches!(
        b.rejected[1].reason,
        Reason::Invalid(ValidationError::Order { .. })
    ));
    assert!(matches!(
        b.rejected[2].reason,
        Reason::CaseRejected { line: 6, .. }
    ));
    assert!(matches!(
        b.rejected[3].reason,
        Reason::Duplicate { first_line: 2, .. }
    ));
}

#[test]
fn interactions_with_handlers_and_exact_durations() {
    let csv = format!(
        "id,customer_id,channel,direction,purpose,occurred_at,duration_seconds,agent_id,team_id,bot_id,sentiment\n\
         {i1},{c},phone,inbound,support,2026-03-01T09:00:00Z,420.000000001,{a},{t},,-0.5\n\
         {i2},{c},chatbot,inbound,inquiry,2026-03-01T09:00:00Z,0.0000000001,,,,\n\
         {i3},{c},chatbot,inbound,inquiry,2026-03-01T09:00:00Z,,,{t},{b},\n\
         {i4},{c},chatbot,sideways,inquiry,2026-03-01T09:00:00Z,,,,,2\n",
        i1 = uuid(1),
        i2 = uuid(2),
        i3 = uuid(3),
        i4 = uuid(4),
        c = uuid(9),
        a = uuid(7),
        t = uuid(8),
        b = uuid(6)
    );
    let b = CsvRecords::<Interaction, _>::new(
        "i.csv",
        csv.as_bytes(),
        &Mapping::new(Kind::Interactions),
        &Format::default(),
    )
    .unwrap()
    .collect_batch()
    .unwrap();
    assert_eq!(b.valid.len(), 1);
    assert_eq!(
        b.valid[0].duration(),
        Some(chrono::Duration::seconds(420) + chrono::Duration::nanoseconds(1))
    );
    assert_eq!(
        lines(&b.rejected),
        [
            (3, Some("duration_seconds")),
            (4, Some("team_id")),
            (5, Some("direction"))
        ]
    );
}

/// Any valid data set, exported and imported back with the defaults, is
/// identical to what was exported.
#[cfg(feature = "proptest")]
mod round_trip {
    use super::*;
    use crmkit::import::export;
    use proptest::prelude::*;
    use std::collections::HashSet;

    /// Keeps the first record of each id (generated ids may collide).
    fn unique<T, K: std::hash::Hash + Eq>(v: Vec<T>, key: impl Fn(&T) -> K) -> Vec<T> {
        let mut seen = HashSet::new();
        v.into_iter().filter(|x| seen.insert(key(x))).collect()
    }

    fn back<T: crmkit::import::Importable + export::Exportable>(
        kind: Kind,
        items: &[T],
    ) -> Batch<T> {
        let mut csv = Vec::new();
        export::write(&mut csv, items).unwrap();
        CsvRecords::<T, _>::new(
            "x.csv",
            csv.as_slice(),
            &Mapping::new(kind),
            &Format::default(),
        )
        .unwrap()
        .collect_batch()
        .unwrap()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn export_then_import_is_identity(
            customers in prop::collection::vec((strategy::customer(), any::<bool>()), 0..6),
            purchases in prop::collection::vec(strategy::purchase(), 0..8),
            responses in prop::collection::vec(strategy::survey_response(), 0..8),
            interactions in prop::collection::vec(strategy::interaction(), 0..8),
            cases in prop::collection::vec(strategy::case(), 0..6),
        ) {
            let customers: Vec<Customer> = unique(
                customers.into_iter().map(|(mut c, erase)| {
                    if erase {
                        c.erase(c.created_at());
                    }
                    c
                }).collect(),
                Customer::id,
            );
            let b = back(Kind::Customers, &customers);
            prop_assert!(b.rejected.is_empty(), "{:?}", b.rejected);
            prop_assert_eq!(b.valid, customers);

            let purchases = unique(purchases, Purchase::id);
            let b = back(Kind::Purchases, &purchases);
            prop_assert!(b.rejected.is_empty(), "{:?}", b.rejected);
            prop_assert_eq!(b.valid, purchases);

            let responses = unique(responses, SurveyResponse::id);
            let b = back(Kind::Responses, &responses);
            prop_assert!(b.rejected.is_empty(), "{:?}", b.rejected);
            prop_assert_eq!(b.valid, responses);

            let interactions = unique(interactions, Interaction::id);
            let b = back(Kind::Interactions, &interactions);
            prop_assert!(b.rejected.is_empty(), "{:?}", b.rejected);
            prop_assert_eq!(b.valid, interactions);

            let cases = unique(cases, Case::id);
            let mut csv = Vec::new();
            export::write(&mut csv, &cases).unwrap();
            let b = CaseRecords::new("cases.csv", csv.as_slice(), &Mapping::new(Kind::Cases), &Format::default())
                .unwrap()
                .collect_batch()
                .unwrap();
            prop_assert!(b.rejected.is_empty(), "{:?}", b.rejected);
            prop_assert_eq!(b.valid, cases);
        }
    }
}

#[test]
fn strict_mode_reads_nothing_when_a_row_is_rejected() {
    let dir = std::env::temp_dir().join(format!("crmkit-import-strict-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let customers = dir.join("customers.csv");
    let purchases = dir.join("purchases.csv");
    std::fs::write(
        &customers,
        format!("id,acquired_at\n{},2025-01-01T00:00:00Z\n", uuid(1)),
    )
    .unwrap();
    std::fs::write(
        &purchases,
        format!(
            "id,customer_id,occurred_at,amount,currency\n{},{},2026-01-05T10:00:00Z,1.00,EUR\n{},{},2026-01-05T10:00:00Z,1.00,\n",
            uuid(2),
            uuid(1),
            uuid(3),
            uuid(1)
        ),
    )
    .unwrap();
    let import = crmkit::import::Import::new(Format::default())
        .file(Kind::Customers, &customers)
        .file(Kind::Purchases, &purchases);
    let d = import.read().unwrap();
    assert_eq!((d.customers.len(), d.purchases.len()), (1, 1));
    assert_eq!(lines(&d.rejected), [(3, Some("currency"))]);
    assert!(
        d.absent_columns
            .contains(&(Kind::Purchases, "margin".to_owned()))
    );
    match import.strict(true).read() {
        Err(ImportError::Rejected { rejections }) => assert_eq!(rejections, d.rejected),
        other => panic!("{other:?}"),
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn unreadable_rows_are_reported_and_reading_goes_on() {
    let head = "id,customer_id,occurred_at,amount,currency\n";
    let good = |n| format!("{},{},2026-01-05T10:00:00Z,1.00,EUR\n", uuid(n), uuid(99));
    let mut bytes = head.as_bytes().to_vec();
    bytes.extend(good(1).as_bytes());
    // Line 3: not UTF-8.
    bytes.extend(format!("{},{},2026-01-05T10:00:00Z,1.00,EU", uuid(2), uuid(99)).as_bytes());
    bytes.extend([0xff, b'\n']);
    bytes.extend(good(3).as_bytes());
    // Line 5: the file ends inside a quoted cell.
    bytes.extend(format!("{},{},2026-01-05T10:00:00Z,\"1.0", uuid(4), uuid(99)).as_bytes());
    let b = CsvRecords::<Purchase, _>::new(
        "p.csv",
        bytes.as_slice(),
        &Mapping::new(Kind::Purchases),
        &Format::default(),
    )
    .unwrap()
    .collect_batch()
    .unwrap();
    assert_eq!(b.valid.len(), 2);
    assert_eq!(lines(&b.rejected), [(3, None), (5, None)]);
    assert!(matches!(b.rejected[0].reason, Reason::Malformed(_)));
    assert_eq!(
        b.rejected[1].reason,
        Reason::CellCount {
            found: 4,
            expected: 5,
            truncated: true
        }
    );
}

/// Rows made on the fly, so a large file never exists in memory.
struct Generated {
    next: u128,
    rows: u128,
    buf: Vec<u8>,
    pos: usize,
}

impl std::io::Read for Generated {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        if self.pos == self.buf.len() {
            self.buf.clear();
            self.pos = 0;
            if self.next == 0 {
                self.buf
                    .extend(b"id,customer_id,occurred_at,amount,currency\n");
            } else if self.next > self.rows {
                return Ok(0);
            } else {
                self.buf.extend(
                    format!(
                        "{},{},2026-01-05T10:00:00Z,{}.99,EUR\n",
                        uuid(self.next),
                        uuid(self.next % 1000),
                        self.next % 500
                    )
                    .as_bytes(),
                );
            }
            self.next += 1;
        }
        let n = out.len().min(self.buf.len() - self.pos);
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

#[test]
fn large_files_stream_row_by_row() {
    let input = Generated {
        next: 0,
        rows: 200_000,
        buf: Vec::new(),
        pos: 0,
    };
    let records = CsvRecords::<Purchase, _>::new(
        "big.csv",
        input,
        &Mapping::new(Kind::Purchases),
        &Format::default(),
    )
    .unwrap();
    let (mut valid, mut cents) = (0u64, Decimal::ZERO);
    for p in records {
        match p.unwrap() {
            crmkit::import::Parsed::Valid { value, .. } => {
                valid += 1;
                cents += value.amount().amount();
            }
            crmkit::import::Parsed::Rejected(r) => panic!("{r}"),
        }
    }
    assert_eq!(valid, 200_000);
    // Sum of (n mod 500) + 0.99 for n = 1..=200000: 400 full cycles of
    // 0..=499 (sum 124750 each) = 49,900,000, plus 0.99 x 200,000 = 198,000.
    assert_eq!(cents, Decimal::new(49_900_000 + 198_000, 0));
}

/// Importing into a store: one unit of work, strict mode writing nothing.
mod into_store {
    use super::*;
    use crmkit::import::Import;
    use crmkit::store::blocking::block_on;
    use crmkit::store::memory::MemoryStore;
    use crmkit::store::{Query, StoreError, Transaction, UnitOfWork};

    fn files(dir: &std::path::Path) -> Import {
        std::fs::create_dir_all(dir).unwrap();
        let customers = dir.join("customers.csv");
        let purchases = dir.join("purchases.csv");
        std::fs::write(
            &customers,
            format!(
                "id,acquired_at\n{},2025-01-01T00:00:00Z\n{},2025-02-01T00:00:00Z\n",
                uuid(1),
                uuid(2)
            ),
        )
        .unwrap();
        // Line 3 has no currency; line 4 is good.
        std::fs::write(
            &purchases,
            format!(
                "id,customer_id,occurred_at,amount,currency\n\
                 {},{},2026-01-05T10:00:00Z,1.00,EUR\n\
                 {},{},2026-01-05T10:00:00Z,1.00,\n\
                 {},{},2026-01-06T10:00:00Z,2.50,EUR\n",
                uuid(10),
                uuid(1),
                uuid(11),
                uuid(1),
                uuid(12),
                uuid(2)
            ),
        )
        .unwrap();
        Import::new(Format::default())
            .file(Kind::Customers, &customers)
            .file(Kind::Purchases, &purchases)
    }

    fn counts<S: UnitOfWork>(store: &S) -> (usize, usize) {
        block_on(store.transaction(|tx| {
            let c = tx.scan_all::<Customer>(&Query::All)?.len();
            let p = tx.scan_all::<Purchase>(&Query::All)?.len();
            Ok::<_, StoreError>((c, p))
        }))
        .unwrap()
    }

    fn check<S: UnitOfWork>(store: &S, name: &str) {
        let dir = std::env::temp_dir().join(format!("crmkit-import-{name}-{}", std::process::id()));
        let import = files(&dir);
        // Strict: one bad row, nothing written.
        match block_on(import.clone().strict(true).into_store(store)) {
            Err(ImportError::Rejected { rejections }) => {
                assert_eq!(lines(&rejections), [(3, Some("currency"))]);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(counts(store), (0, 0));
        // Lenient: the valid rows in one unit of work, the bad one reported.
        let report = block_on(import.into_store(store)).unwrap();
        assert_eq!(report.imported.get(&Kind::Customers), Some(&2));
        assert_eq!(report.imported.get(&Kind::Purchases), Some(&2));
        assert_eq!(lines(&report.rejected), [(3, Some("currency"))]);
        assert_eq!(counts(store), (2, 2));
        // Importing again: every record is already stored and reported so.
        let again = block_on(files(&dir).into_store(store)).unwrap();
        assert_eq!(again.total(), 0);
        assert_eq!(again.rejected.len(), 5);
        assert!(
            again
                .rejected
                .iter()
                .any(|r| matches!(r.reason, Reason::Store(_)))
        );
        assert_eq!(counts(store), (2, 2));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn memory_store() {
        check(&MemoryStore::new(), "memory");
    }

    #[cfg(feature = "sqlite")]
    #[test]
    fn sqlite_store() {
        let dir =
            std::env::temp_dir().join(format!("crmkit-import-sqlite-db-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let store = crmkit::store::sqlite::SqliteStore::open(dir.join("crm.db")).unwrap();
        check(&store, "sqlite");
        drop(store);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
