//! The crate-wide [`Accumulator`] shape for the cohort accumulators.
//!
//! Cohort states hold a [`CohortSpec`](super::CohortSpec) (bucket boundaries in a time zone)
//! and are not [`PortableState`](crate::metrics::accumulator::PortableState):
//! merge them inside one process.

use super::{
    ActivityCohortAccumulator, CohortTable, PurchaseCohortAccumulator, Subscriber,
    SubscriptionCohortAccumulator,
};
use crate::metrics::accumulator::{Accumulator, MergeError};
use crate::metrics::activity::{CustomerActivity, RelationshipError, Transaction, merge_error};

/// Observation: one customer's whole activity (push each customer once).
/// Memory: the table's counts (cohorts × buckets). Merge is all or nothing.
impl Accumulator for ActivityCohortAccumulator {
    type Observation = CustomerActivity;
    type Output = Result<CohortTable, RelationshipError>;
    type Error = RelationshipError;

    fn push(&mut self, activity: CustomerActivity) -> Result<(), RelationshipError> {
        ActivityCohortAccumulator::push(self, &activity)
    }

    fn merge(&mut self, other: &Self) -> Result<(), MergeError> {
        ActivityCohortAccumulator::merge(self, other).map_err(|e| merge_error("activity_cohort", e))
    }

    fn finish(&self) -> Self::Output {
        ActivityCohortAccumulator::finish(self)
    }

    fn empty_like(&self) -> Self {
        Self::new(self.spec.clone())
    }
}

/// Observation: one transaction (a customer's transactions may be split
/// over several accumulators). Memory: one compact state per customer.
/// Merge is all or nothing (a recorded acquisition after the other side's
/// purchase is [`MergeError::Inconsistent`]).
impl Accumulator for PurchaseCohortAccumulator {
    type Observation = Transaction;
    type Output = Result<CohortTable, RelationshipError>;
    type Error = RelationshipError;

    fn push(&mut self, t: Transaction) -> Result<(), RelationshipError> {
        PurchaseCohortAccumulator::push(self, &t)
    }

    /// All or nothing: merges into a copy of `self` and keeps it only on
    /// success (one copy of the per-customer state per merge; the inherent
    /// [`PurchaseCohortAccumulator::merge`] is the fast path without that
    /// guarantee).
    fn merge(&mut self, other: &Self) -> Result<(), MergeError> {
        let mut next = self.clone();
        PurchaseCohortAccumulator::merge(&mut next, other)
            .map_err(|e| merge_error("purchase_cohort", e))?;
        *self = next;
        Ok(())
    }

    fn finish(&self) -> Self::Output {
        PurchaseCohortAccumulator::finish(self)
    }

    fn empty_like(&self) -> Self {
        Self::new(self.spec.clone(), self.currency)
    }
}

/// Observation: one customer's [`Subscriber`] row (push each customer
/// once). Memory: the table's counts and MRR sums. Merge is all or
/// nothing.
impl Accumulator for SubscriptionCohortAccumulator {
    type Observation = Subscriber;
    type Output = Result<CohortTable, RelationshipError>;
    type Error = RelationshipError;

    fn push(&mut self, subscriber: Subscriber) -> Result<(), RelationshipError> {
        SubscriptionCohortAccumulator::push(self, &subscriber)
    }

    fn merge(&mut self, other: &Self) -> Result<(), MergeError> {
        SubscriptionCohortAccumulator::merge(self, other)
            .map_err(|e| merge_error("subscription_cohort", e))
    }

    fn finish(&self) -> Self::Output {
        SubscriptionCohortAccumulator::finish(self)
    }

    fn empty_like(&self) -> Self {
        Self::new(self.spec().clone(), self.currency(), self.policy())
    }
}
