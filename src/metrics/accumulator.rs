//! The one shape every calculator has: push, merge, finish.
//!
//! An [`Accumulator`] is a small, mergeable summary of observations:
//!
//! - [`push`](Accumulator::push) one observation, rejecting an invalid one
//!   with the accumulator's own typed error (the accumulator is unchanged
//!   then);
//! - [`merge`](Accumulator::merge) another accumulator of the same type,
//!   built from other observations (on another thread, another page of a
//!   store cursor, another machine); merging two accumulators *configured*
//!   differently (another scale, other breaks) is a [`MergeError`];
//! - [`finish`](Accumulator::finish) into a result that carries the counts it
//!   came from, without consuming the accumulator, so a caller can finish,
//!   push more and finish again;
//! - [`empty_like`](Accumulator::empty_like) creates an empty accumulator
//!   with the same configuration, which is how the grouping helper
//!   ([`crate::metrics::group`]) starts a new group from a template.
//!
//! The contract every implementation keeps (and states in property tests):
//!
//! 1. **Order independence**: the result does not depend on the order of
//!    pushes.
//! 2. **Decomposability**: splitting the observations anywhere, pushing each
//!    part into an `empty_like` accumulator and merging the parts gives the
//!    same result as pushing everything into one.
//! 3. **Identity**: merging an `empty_like` accumulator changes nothing.
//! 4. **No NaN**: an empty accumulator finishes into an explicit "no data"
//!    result, never a division by zero.
//!
//! Accumulators whose state can travel between processes implement
//! [`PortableState`]: a stable `KIND` name and a `STATE_VERSION`, wrapped in
//! a [`StateEnvelope`] when serialised, so a reader rejects a state of
//! another kind or an unknown format version instead of misreading it.
//!
//! # Example
//! A toy accumulator counting observations, to show the shape:
//! ```
//! use crmkit::metrics::accumulator::{Accumulator, MergeError};
//!
//! #[derive(Debug, Default)]
//! struct Count { limit: u64, n: u64 }
//!
//! impl Accumulator for Count {
//!     type Observation = ();
//!     type Output = u64;
//!     type Error = std::convert::Infallible;
//!     fn push(&mut self, _: ()) -> Result<(), Self::Error> { self.n += 1; Ok(()) }
//!     fn merge(&mut self, other: &Self) -> Result<(), MergeError> {
//!         if self.limit != other.limit {
//!             return Err(MergeError::config("Count", "different limits"));
//!         }
//!         self.n = self.n.checked_add(other.n).ok_or(MergeError::Overflow { accumulator: "Count" })?;
//!         Ok(())
//!     }
//!     fn finish(&self) -> u64 { self.n }
//!     fn empty_like(&self) -> Self { Count { limit: self.limit, n: 0 } }
//! }
//!
//! let mut a = Count::default();
//! a.push(())?;
//! let mut b = a.empty_like();
//! b.push(())?;
//! a.merge(&b)?;
//! assert_eq!(a.finish(), 2);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// A mergeable summary of observations; see the [module docs](self) for the
/// contract.
pub trait Accumulator: Sized {
    /// One observation, as pushed.
    type Observation;
    /// What [`finish`](Accumulator::finish) returns.
    type Output;
    /// Why an observation was rejected by [`push`](Accumulator::push).
    type Error: std::error::Error;

    /// Adds one observation.
    ///
    /// # Errors
    /// An invalid observation (a score outside the scale, a negative
    /// weight, ...); the accumulator is left unchanged then.
    fn push(&mut self, obs: Self::Observation) -> Result<(), Self::Error>;

    /// Adds everything `other` has seen, as if its observations had been
    /// pushed here.
    ///
    /// # Errors
    /// [`MergeError::ConfigMismatch`] when the two are configured
    /// differently (scale, breaks, thresholds), [`MergeError::Overflow`]
    /// when a count would overflow. `self` is unchanged on error.
    fn merge(&mut self, other: &Self) -> Result<(), MergeError>;

    /// The result over everything pushed and merged so far.
    ///
    /// Never NaN and never a panic: an empty accumulator gives an explicit
    /// "no data" result.
    fn finish(&self) -> Self::Output;

    /// An empty accumulator configured like this one (same scale, breaks,
    /// options); merging it into anything changes nothing.
    fn empty_like(&self) -> Self;

    /// Pushes every observation of an iterator, stopping at the first
    /// rejected one.
    ///
    /// # Errors
    /// The first observation's error; the ones before it stay pushed.
    fn extend_from<I>(&mut self, observations: I) -> Result<(), Self::Error>
    where
        I: IntoIterator<Item = Self::Observation>,
    {
        for obs in observations {
            self.push(obs)?;
        }
        Ok(())
    }
}

/// Two accumulators could not be merged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MergeError {
    /// The accumulators are configured differently (another scale, other
    /// breaks or thresholds, other options), so their counts mean different
    /// things.
    #[error("cannot merge {accumulator} accumulators configured differently: {reason}")]
    ConfigMismatch {
        /// The accumulator type (for example `Nps`).
        accumulator: &'static str,
        /// What differs, human readable.
        reason: String,
    },
    /// A count or sum would overflow.
    #[error("merging {accumulator} accumulators overflowed")]
    Overflow {
        /// The accumulator type.
        accumulator: &'static str,
    },
    /// The two states contradict each other (for example one side's
    /// recorded acquisition of a customer is after the other side's
    /// purchase by that customer).
    #[error("cannot merge {accumulator} accumulators: {reason}")]
    Inconsistent {
        /// The accumulator type.
        accumulator: &'static str,
        /// What contradicts, human readable.
        reason: String,
    },
}

impl MergeError {
    /// A [`MergeError::ConfigMismatch`] for `accumulator` saying `reason`.
    pub fn config(accumulator: &'static str, reason: impl Into<String>) -> Self {
        Self::ConfigMismatch {
            accumulator,
            reason: reason.into(),
        }
    }
}

/// An accumulator whose state can be serialised and read back elsewhere.
///
/// The state itself derives `Serialize`/`Deserialize` (with deserialisation
/// validating, like every crmkit type); this trait adds the stable name and
/// format version that a [`StateEnvelope`] carries.
pub trait PortableState: Accumulator + Serialize + DeserializeOwned {
    /// A stable name of the accumulator kind (for example `crmkit.nps`).
    const KIND: &'static str;
    /// The version of the serialised state format; bumped whenever the
    /// serialised fields change meaning.
    const STATE_VERSION: u32;

    /// This state in an envelope naming its kind and format version.
    ///
    /// # Example
    /// ```
    /// use crmkit::metrics::accumulator::{Accumulator, MergeError, PortableState, StateEnvelope};
    ///
    /// #[derive(Debug, serde::Serialize, serde::Deserialize)]
    /// struct Sum(u64);
    /// impl Accumulator for Sum {
    ///     type Observation = u64;
    ///     type Output = u64;
    ///     type Error = std::convert::Infallible;
    ///     fn push(&mut self, x: u64) -> Result<(), Self::Error> { self.0 += x; Ok(()) }
    ///     fn merge(&mut self, o: &Self) -> Result<(), MergeError> { self.0 += o.0; Ok(()) }
    ///     fn finish(&self) -> u64 { self.0 }
    ///     fn empty_like(&self) -> Self { Sum(0) }
    /// }
    /// impl PortableState for Sum {
    ///     const KIND: &'static str = "example.sum";
    ///     const STATE_VERSION: u32 = 1;
    /// }
    ///
    /// let a = Sum(5);
    /// let json = serde_json::to_string(&a.to_envelope())?;
    /// let env: StateEnvelope<Sum> = serde_json::from_str(&json)?;
    /// let mut back = env.into_state()?;
    /// back.merge(&a)?;
    /// assert_eq!(back.finish(), 10);
    /// let wrong = r#"{"kind":"example.other","format_version":1,"state":3}"#;
    /// assert!(serde_json::from_str::<StateEnvelope<Sum>>(wrong)?.into_state().is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn to_envelope(&self) -> StateEnvelope<&Self> {
        StateEnvelope {
            kind: Self::KIND.to_owned(),
            format_version: Self::STATE_VERSION,
            state: self,
        }
    }
}

/// A serialised accumulator state with its kind and format version.
///
/// Serialise `acc.to_envelope()`; deserialise a `StateEnvelope<A>` and call
/// [`into_state`](StateEnvelope::into_state), which rejects another kind or
/// format version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StateEnvelope<S> {
    /// The accumulator kind, [`PortableState::KIND`].
    pub kind: String,
    /// The state format version, [`PortableState::STATE_VERSION`].
    pub format_version: u32,
    /// The accumulator state.
    pub state: S,
}

impl<A: PortableState> StateEnvelope<A> {
    /// The accumulator, if the envelope holds the kind and format version
    /// this build understands.
    ///
    /// # Errors
    /// [`StateError::Kind`] or [`StateError::Version`].
    pub fn into_state(self) -> Result<A, StateError> {
        if self.kind != A::KIND {
            return Err(StateError::Kind {
                expected: A::KIND,
                found: self.kind,
            });
        }
        if self.format_version != A::STATE_VERSION {
            return Err(StateError::Version {
                kind: A::KIND,
                expected: A::STATE_VERSION,
                found: self.format_version,
            });
        }
        Ok(self.state)
    }
}

/// A serialised accumulator state could not be read back.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StateError {
    /// The envelope holds another kind of accumulator.
    #[error("expected accumulator state {expected}, found {found}")]
    Kind {
        /// The kind this call reads.
        expected: &'static str,
        /// The kind in the envelope.
        found: String,
    },
    /// The envelope's format version is not the one this build writes.
    #[error("{kind} state format version {found} is not supported (expected {expected})")]
    Version {
        /// The accumulator kind.
        kind: &'static str,
        /// The version this build reads.
        expected: u32,
        /// The version in the envelope.
        found: u32,
    },
}
