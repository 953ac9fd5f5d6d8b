//! RFM (todo).
