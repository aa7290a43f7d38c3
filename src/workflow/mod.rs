//! Workflows compose the probes: they take one snapshot of the server and judge it, and never
//! query on their own.

pub(crate) mod check;
pub(crate) mod incident;
pub(crate) mod report;
pub(crate) mod status;
pub(crate) mod thresholds;
pub(crate) mod triage;
pub(crate) mod watch;
