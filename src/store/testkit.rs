//! The store conformance test kit (feature `testkit`).
