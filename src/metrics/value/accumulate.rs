//! The crate-wide [`Accumulator`] shape for [`ValueAccumulator`].

use super::{ValueAccumulator, ValueSummary};
use crate::metrics::accumulator::{Accumulator, MergeError, PortableState};
use crate::metrics::activity::{RelationshipError, Transaction, merge_error};

/// Observation: one transaction (a customer's transactions may be split
/// over several accumulators). `finish` is the inherent
/// [`ValueAccumulator::finish`].
///
/// Merge is all or nothing: on overflow, another currency or a recorded
/// acquisition after the other side's purchase
/// ([`MergeError::Inconsistent`]) `self` is unchanged; it costs one copy of
/// `self`'s state.
///
/// Memory: one compact state per customer (about 80 bytes plus the id),
/// serialised as such by [`PortableState`]: a portable state grows with the
/// number of customers.
impl Accumulator for ValueAccumulator {
    type Observation = Transaction;
    type Output = ValueSummary;
    type Error = RelationshipError;

    fn push(&mut self, t: Transaction) -> Result<(), RelationshipError> {
        ValueAccumulator::push(self, &t)
    }

    /// All or nothing: merges into a copy of `self` and keeps it only on
    /// success (one copy of the per-customer state per merge; the inherent
    /// [`ValueAccumulator::merge`] is the fast path without that guarantee).
    fn merge(&mut self, other: &Self) -> Result<(), MergeError> {
        let mut next = self.clone();
        ValueAccumulator::merge(&mut next, other).map_err(|e| merge_error("value", e))?;
        *self = next;
        Ok(())
    }

    fn finish(&self) -> ValueSummary {
        ValueAccumulator::finish(self)
    }

    fn empty_like(&self) -> Self {
        Self::new(self.currency)
    }
}

impl PortableState for ValueAccumulator {
    const KIND: &'static str = "crmkit.value";
    const STATE_VERSION: u32 = 1;
}
