//! Opaque, tamper-evident page cursors.

use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::{BuildHasher, Hash};
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{Key, Query, StoreError};

const FORMAT: u8 = 1;
/// format byte + query fingerprint + at + id + mac
const LEN: usize = 1 + 8 + 8 + 16 + 8;

/// Where the next page starts: an opaque token issued by a store with a
/// page, to be passed back unchanged in the next [`PageRequest`](super::PageRequest).
///
/// A cursor encodes the query it belongs to and the last key returned,
/// sealed with a keyed checksum. A cursor that was altered, comes from
/// another store handle, or belongs to another query is rejected with
/// [`StoreError::InvalidCursor`]. Cursors are strings (`Display`/`FromStr`,
/// serde as a string), so they can travel through an HTTP API; they stay
/// valid as long as the store handle that issued them.
///
/// # Example
/// ```
/// use crmkit::store::Cursor;
/// let c: Cursor = "not a cursor".parse()?; // parsing only checks the shape later
/// assert_eq!(c.as_str(), "not a cursor");
/// Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Cursor(String);

impl Cursor {
    /// The cursor as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Cursor({})", self.0)
    }
}

impl fmt::Display for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for Cursor {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self(s.to_owned()))
    }
}

/// Issues and checks [`Cursor`]s for one store handle.
///
/// Store implementations (including your own adapters) keep one `Cursors`
/// and use [`Cursors::seal`] for the `next` cursor of a page and
/// [`Cursors::open`] to read a cursor passed back. The key of the checksum is
/// random per `Cursors` value, so a cursor cannot be forged or carried to
/// another store handle.
///
/// # Example
/// ```
/// use crmkit::domain::CustomerId;
/// use crmkit::store::{Cursors, Key, Query, StoreError};
/// let cursors = Cursors::new();
/// let key = Key::new(1_000, uuid::Uuid::from_u128(7));
/// let q = Query::Customer(CustomerId::from_u128(1));
/// let c = cursors.seal("interactions", &q, key);
/// assert_eq!(cursors.open("interactions", &q, &c)?, key);
/// let other = Query::Customer(CustomerId::from_u128(2));
/// assert!(matches!(cursors.open("interactions", &other, &c), Err(StoreError::InvalidCursor { .. })));
/// Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, Default)]
pub struct Cursors {
    state: RandomState,
}

impl Cursors {
    /// A codec with a fresh random key.
    pub fn new() -> Self {
        Self::default()
    }

    fn fingerprint(&self, kind: &str, query: &Query) -> u64 {
        self.state.hash_one((kind, query))
    }

    fn mac(&self, bytes: &[u8]) -> u64 {
        self.state.hash_one(("crmkit-cursor", bytes))
    }

    /// Seals the last key of a page of `query` over the records of `kind`.
    pub fn seal(&self, kind: &str, query: &Query, key: Key) -> Cursor {
        let mut bytes = Vec::with_capacity(LEN);
        bytes.push(FORMAT);
        bytes.extend_from_slice(&self.fingerprint(kind, query).to_be_bytes());
        bytes.extend_from_slice(&key.at.to_be_bytes());
        bytes.extend_from_slice(key.id.as_bytes());
        let mac = self.mac(&bytes);
        bytes.extend_from_slice(&mac.to_be_bytes());
        let mut text = String::with_capacity(LEN * 2);
        for b in bytes {
            text.push(char::from(HEX[usize::from(b >> 4)]));
            text.push(char::from(HEX[usize::from(b & 15)]));
        }
        Cursor(text)
    }

    /// Checks a cursor and returns the key it continues after.
    ///
    /// # Errors
    /// [`StoreError::InvalidCursor`] when the cursor is malformed, altered,
    /// issued by another `Cursors`, or issued for another query or kind.
    pub fn open(&self, kind: &str, query: &Query, cursor: &Cursor) -> Result<Key, StoreError> {
        let malformed = StoreError::InvalidCursor {
            reason: "malformed cursor",
        };
        let text = cursor.0.as_bytes();
        if text.len() != LEN * 2 {
            return Err(malformed);
        }
        let mut bytes = [0u8; LEN];
        for (slot, pair) in bytes.iter_mut().zip(text.chunks_exact(2)) {
            let (Some(hi), Some(lo)) = (
                pair.first().and_then(|c| unhex(*c)),
                pair.get(1).and_then(|c| unhex(*c)),
            ) else {
                return Err(malformed);
            };
            *slot = (hi << 4) | lo;
        }
        let (body, mac) = bytes.split_at(LEN - 8);
        if body.first() != Some(&FORMAT) || mac != self.mac(body).to_be_bytes() {
            return Err(StoreError::InvalidCursor {
                reason: "cursor was altered or issued by another store handle",
            });
        }
        let word = |range: std::ops::Range<usize>| -> [u8; 8] {
            let mut w = [0u8; 8];
            if let Some(src) = body.get(range) {
                w.copy_from_slice(src);
            }
            w
        };
        if u64::from_be_bytes(word(1..9)) != self.fingerprint(kind, query) {
            return Err(StoreError::InvalidCursor {
                reason: "cursor belongs to another query",
            });
        }
        let at = i64::from_be_bytes(word(9..17));
        let mut id = [0u8; 16];
        if let Some(src) = body.get(17..33) {
            id.copy_from_slice(src);
        }
        Ok(Key::new(at, Uuid::from_bytes(id)))
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

fn unhex(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::CustomerId;

    #[test]
    fn round_trip_and_tamper() {
        let c = Cursors::new();
        let q = Query::All;
        let key = Key::new(-5, Uuid::from_u128(99));
        let cur = c.seal("customers", &q, key);
        assert_eq!(c.open("customers", &q, &cur).unwrap(), key);
        // another kind
        assert!(c.open("interactions", &q, &cur).is_err());
        // another query
        let q2 = Query::Customer(CustomerId::from_u128(1));
        assert!(c.open("customers", &q2, &cur).is_err());
        // another handle
        assert!(Cursors::new().open("customers", &q, &cur).is_err());
        // every single-character change is caught
        let s = cur.as_str().to_owned();
        for i in 0..s.len() {
            let mut b = s.clone().into_bytes();
            b[i] = if b[i] == b'0' { b'1' } else { b'0' };
            let t = Cursor(String::from_utf8(b).unwrap());
            assert!(c.open("customers", &q, &t).is_err(), "position {i}");
        }
        assert!(c.open("customers", &q, &Cursor("zz".into())).is_err());
    }
}
