//! Workflows compose the probes: they take snapshots of the server and judge them, run the live
//! views' loops, and read the evidence log back into reports.

pub(crate) mod check;
pub(crate) mod deadlock_watch;
pub(crate) mod fleet;
pub(crate) mod incident;
pub(crate) mod live;
pub(crate) mod report;
pub(crate) mod status;
pub(crate) mod thresholds;
pub(crate) mod top;
pub(crate) mod triage;
pub(crate) mod watch;
