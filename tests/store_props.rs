//! Property: whatever the records and the page size, paging any query
//! through either store returns exactly the matching records, each once,
//! in key order (the oracle filters and sorts by the definition).

use crmkit::domain::strategy::survey_response;
use crmkit::domain::{Period, SurveyResponse, Versioned};
use crmkit::store::blocking::block_on;
use crmkit::store::memory::MemoryStore;
use crmkit::store::sqlite::SqliteStore;
use crmkit::store::{Key, PageRequest, Query, StoreError, SurveyStore};
use proptest::prelude::*;

fn page_all<S: SurveyStore>(store: &S, q: &Query, size: usize) -> Vec<Versioned<SurveyResponse>> {
    let mut out = Vec::new();
    let mut req = PageRequest::first(size).unwrap();
    loop {
        let page = block_on(store.responses(q.clone(), req.clone())).unwrap();
        assert!(page.items.len() <= size);
        out.extend(page.items.iter().cloned());
        match req.next(&page) {
            Some(n) => req = n,
            None => return out,
        }
    }
}

fn oracle(all: &[SurveyResponse], q: &Query) -> Vec<SurveyResponse> {
    let mut v: Vec<_> = all
        .iter()
        .filter(|r| match q {
            Query::All => true,
            Query::Customer(c) => r.customer() == *c,
            Query::Survey(s) => r.survey() == *s,
            Query::Segment(s) => r.segments().contains(s),
            Query::Period(p) => p.contains(r.responded_at()),
            _ => unreachable!(),
        })
        .cloned()
        .collect();
    v.sort_by_key(|r| Key::of(r).unwrap());
    v
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn paging_returns_every_match_once_in_key_order(
        responses in proptest::collection::vec(survey_response(), 0..40),
        size in 1usize..12,
        pick in 0usize..40,
    ) {
        // Distinct ids (the strategy may repeat one).
        let mut seen = std::collections::HashSet::new();
        let responses: Vec<_> = responses.into_iter().filter(|r| seen.insert(r.id())).collect();
        let memory = MemoryStore::new();
        let sqlite = SqliteStore::open_in_memory().unwrap();
        let m = block_on(memory.insert_responses(responses.clone()));
        let s = block_on(sqlite.insert_responses(responses.clone()));
        match (&m, &s) {
            (Ok(a), Ok(b)) => prop_assert_eq!(a, b),
            (Err(StoreError::Invalid(_)), Err(StoreError::Invalid(_))) => return Ok(()),
            _ => prop_assert!(false, "the stores disagree: {:?} vs {:?}", m, s),
        }
        let mut queries = vec![Query::All];
        if let Some(r) = responses.get(pick % responses.len().max(1)) {
            queries.push(Query::Customer(r.customer()));
            queries.push(Query::Survey(r.survey()));
            if let Some(seg) = r.segments().iter().next() {
                queries.push(Query::Segment(seg.clone()));
            }
            let t = r.responded_at();
            queries.push(Query::Period(Period::new(t, t + chrono::Duration::days(30)).unwrap()));
        }
        for q in &queries {
            let expected = oracle(&responses, q);
            for got in [page_all(&memory, q, size), page_all(&sqlite, q, size)] {
                let got: Vec<_> = got.into_iter().map(Versioned::into_inner).collect();
                prop_assert_eq!(&got, &expected, "query {:?}, page size {}", q, size);
            }
        }
    }
}
