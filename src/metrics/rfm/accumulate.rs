//! The crate-wide [`Accumulator`] shape for [`RfmAccumulator`].

use super::{RfmAccumulator, RfmScores, SegmentTable};
use crate::metrics::accumulator::{Accumulator, MergeError, PortableState};
use crate::metrics::activity::{RelationshipError, Transaction, merge_error};

/// Observation: one transaction (a customer's transactions may be split
/// over several accumulators).
///
/// `finish` scores with the standard segment table
/// ([`SegmentTable::standard`]); to map scores with your own table, call
/// the inherent [`RfmAccumulator::finish`] with it.
///
/// Merge is all or nothing: on overflow or another currency or as-of
/// instant `self` is unchanged; it costs one copy of `self`'s state.
///
/// Memory: quintiles do not decompose, so the state is one compact value
/// per customer (last sale, sale count, net revenue), serialised as such by
/// [`PortableState`]: a portable state grows with the number of customers.
impl Accumulator for RfmAccumulator {
    type Observation = Transaction;
    type Output = Result<RfmScores, RelationshipError>;
    type Error = RelationshipError;

    fn push(&mut self, t: Transaction) -> Result<(), RelationshipError> {
        RfmAccumulator::push(self, &t)
    }

    /// All or nothing: merges into a copy of `self` and keeps it only on
    /// success (one copy of the per-customer state per merge; the inherent
    /// [`RfmAccumulator::merge`] is the fast path without that guarantee).
    fn merge(&mut self, other: &Self) -> Result<(), MergeError> {
        let mut next = self.clone();
        RfmAccumulator::merge(&mut next, other).map_err(|e| merge_error("rfm", e))?;
        *self = next;
        Ok(())
    }

    fn finish(&self) -> Self::Output {
        RfmAccumulator::finish(self, &SegmentTable::standard())
    }

    fn empty_like(&self) -> Self {
        Self::new(self.currency, self.as_of)
    }
}

impl PortableState for RfmAccumulator {
    const KIND: &'static str = "crmkit.rfm";
    const STATE_VERSION: u32 = 1;
}
