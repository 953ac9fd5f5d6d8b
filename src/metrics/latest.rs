//! The policy for customers who answered several times: count every answer
//! ([`RepeatPolicy::All`], just push into the accumulator), or only each
//! customer's latest answer ([`LatestPerCustomer`]).
//!
//! Counting only the latest answer does not decompose into counts: it needs
//! one entry per distinct customer (the customer key, the ordering key and
//! the observation). Use one `LatestPerCustomer` per period (group it by
//! calendar bucket with [`Grouped`](crate::metrics::group::Grouped)) to get
//! "latest per customer per period".

use std::collections::HashMap;
use std::hash::Hash;

use serde::{Deserialize, Serialize};

use crate::metrics::accumulator::{Accumulator, MergeError};

/// Which answers of a customer who answered several times count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RepeatPolicy {
    /// Every answer counts (the default; state stays a few counts).
    #[default]
    All,
    /// Only each customer's latest answer in the period counts (state: one
    /// entry per customer).
    LatestPerCustomer,
}

/// Keeps each customer's latest observation and finishes the inner
/// accumulator over those.
///
/// `C` is the customer key (a `CustomerId`), `T` orders a customer's answers
/// (`(responded_at, ResponseId)` keeps it unique, so the result does not
/// depend on push order; with equal `T` the first one pushed stays).
///
/// Memory: one `(C, T, observation)` per distinct customer.
///
/// # Example
/// ```
/// use crmkit::metrics::accumulator::Accumulator;
/// use crmkit::metrics::latest::LatestPerCustomer;
/// use crmkit::metrics::nps::Nps;
/// use rust_decimal::Decimal;
///
/// let mut latest = LatestPerCustomer::new(Nps::standard());
/// latest.push(("ann", 1, 0.into()))?;  // Ann first said 0 ...
/// latest.push(("ann", 2, 10.into()))?; // ... then 10: only 10 counts
/// latest.push(("bob", 1, 10.into()))?;
/// assert_eq!(latest.finish().score(), Some(Decimal::from(100)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct LatestPerCustomer<C, T, A: Accumulator> {
    template: A,
    latest: HashMap<C, (T, A::Observation)>,
}

impl<C, T, A> LatestPerCustomer<C, T, A>
where
    C: Hash + Eq + Clone,
    T: Ord + Clone,
    A: Accumulator,
    A::Observation: Clone,
{
    /// Nothing seen yet; `template` gives the configuration.
    pub fn new(template: A) -> Self {
        Self {
            template: template.empty_like(),
            latest: HashMap::new(),
        }
    }

    /// The template (the inner accumulator's configuration).
    pub fn template(&self) -> &A {
        &self.template
    }

    /// Number of distinct customers seen.
    pub fn customers(&self) -> usize {
        self.latest.len()
    }

    fn offer(&mut self, customer: C, order: T, obs: A::Observation) {
        match self.latest.get_mut(&customer) {
            Some(current) if current.0 >= order => {}
            Some(current) => *current = (order, obs),
            None => {
                let _none = self.latest.insert(customer, (order, obs));
            }
        }
    }
}

impl<C, T, A> Accumulator for LatestPerCustomer<C, T, A>
where
    C: Hash + Eq + Clone,
    T: Ord + Clone,
    A: Accumulator,
    A::Observation: Clone,
{
    type Observation = (C, T, A::Observation);
    type Output = A::Output;
    type Error = A::Error;

    fn push(&mut self, (customer, order, obs): Self::Observation) -> Result<(), A::Error> {
        // Validate now, so errors surface at push time, not at finish.
        let mut probe = self.template.empty_like();
        probe.push(obs.clone())?;
        self.offer(customer, order, obs);
        Ok(())
    }

    fn merge(&mut self, other: &Self) -> Result<(), MergeError> {
        let mut probe = self.template.empty_like();
        probe.merge(&other.template)?;
        for (c, (t, obs)) in &other.latest {
            self.offer(c.clone(), t.clone(), obs.clone());
        }
        Ok(())
    }

    fn finish(&self) -> A::Output {
        let mut acc = self.template.empty_like();
        for (_, obs) in self.latest.values() {
            // Every stored observation passed validation at push time.
            let _ignored = acc.push(obs.clone());
        }
        acc.finish()
    }

    fn empty_like(&self) -> Self {
        Self {
            template: self.template.empty_like(),
            latest: HashMap::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::nps::Nps;

    #[test]
    fn order_and_split_do_not_matter() {
        let obs = [
            ("a", 3, 0u8),
            ("a", 1, 10),
            ("b", 2, 9),
            ("a", 2, 5),
            ("b", 1, 0),
        ];
        let mut one = LatestPerCustomer::new(Nps::standard());
        for &(c, t, s) in &obs {
            one.push((c, t, s.into())).unwrap();
        }
        let mut left = LatestPerCustomer::new(Nps::standard());
        let mut right = left.empty_like();
        for (i, &(c, t, s)) in obs.iter().rev().enumerate() {
            let target = if i % 2 == 0 { &mut left } else { &mut right };
            target.push((c, t, s.into())).unwrap();
        }
        left.merge(&right).unwrap();
        // Latest: a -> 0 (t 3), b -> 9 (t 2): (1 - 1) / 2 = 0.
        assert_eq!(one.finish(), left.finish());
        assert_eq!(one.finish().n(), 2);
        assert_eq!(one.finish().score(), Some(rust_decimal::Decimal::ZERO));
        assert!(one.push(("c", 1, 11.into())).is_err());
        assert_eq!(one.customers(), 2);
    }
}
