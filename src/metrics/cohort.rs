//! Cohorts (todo).
