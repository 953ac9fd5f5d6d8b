//! Unit and property tests of [`Ledger`](super::Ledger).

use super::*;
