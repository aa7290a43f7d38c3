//! Probes: each reads one aspect of the server through the session and returns a plain report.
//! A probe never prints.

pub(crate) mod connections;
pub(crate) mod deadlocks;
pub(crate) mod explain;
pub(crate) mod history;
pub(crate) mod locks;
pub(crate) mod processlist;
pub(crate) mod purge;
pub(crate) mod replication;
pub(crate) mod server;
pub(crate) mod top;
pub(crate) mod trx;
