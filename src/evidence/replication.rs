//! The `replication` record: what a replica's channels showed when `replication --record` ran,
//! so the incident report can name a broken replica or a blocked applier. Frozen copies of the
//! probe's types, as for the kill snapshot: renaming a probe field cannot change the file.

use serde::{Deserialize, Serialize};

use super::record::{Header, RecordKind};
use crate::probe::replication::{BlockedApplier, Channel, ReplicationError};
use crate::render::serde_label;
use crate::server::ServerInfo;

/// The `replication` record.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(crate) struct ReplicationRecord {
    #[serde(flatten)]
    pub header: Header,
    pub server: ReplicaStamp,
    pub channels: Vec<RecordedChannel>,
}

/// The replica, as mytriage reached it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(crate) struct ReplicaStamp {
    /// The address mytriage connected to (`host:port`, or the socket).
    pub address: String,
    /// The server's own name for itself (`@@hostname`).
    pub hostname: Option<String>,
    pub flavor: String,
    pub version: String,
}

/// One channel, as recorded.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(crate) struct RecordedChannel {
    /// The default channel is "".
    pub name: String,
    pub source: Option<String>,
    pub io_running: Option<String>,
    pub sql_running: Option<String>,
    /// The worst of the lags known (seconds).
    pub lag_s: Option<f64>,
    pub io_error: Option<RecordedError>,
    pub sql_error: Option<RecordedError>,
    /// The GTID (or binary-log event) the applier failed on.
    pub failing_transaction: Option<String>,
    /// What is wrong with its threads in a few words, as `replication` says it.
    pub broken: Option<String>,
    pub blocked_by: Option<RecordedBlocker>,
}

/// A replication thread's error.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(crate) struct RecordedError {
    pub errno: u64,
    pub message: String,
    pub at: Option<String>,
}

/// The local session the applier waited for.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(crate) struct RecordedBlocker {
    pub applier_pid: u64,
    pub blocker_pid: u64,
    pub blocker_user: Option<String>,
    /// What the blocker ran then, or (idle) what it ran last.
    pub statement: Option<String>,
    pub idle_in_trx: bool,
    /// Whether every edge from the applier up to the blocker was exact.
    pub exact: bool,
}

impl ReplicationRecord {
    /// The record of `channels`, read now from the replica at `address`.
    pub(crate) fn new(address: String, server: &ServerInfo, channels: &[Channel]) -> Self {
        ReplicationRecord {
            header: Header::new(RecordKind::Replication),
            server: ReplicaStamp {
                address,
                hostname: server.hostname.clone(),
                flavor: serde_label(&server.flavor),
                version: server.version.clone(),
            },
            channels: channels.iter().map(RecordedChannel::from).collect(),
        }
    }
}

impl RecordedChannel {
    /// Whether the report has something to say about it: a thread stopped or failing, or the
    /// applier held up by a session.
    pub(crate) fn in_trouble(&self) -> bool {
        self.broken.is_some() || self.blocked_by.is_some()
    }
}

impl From<&Channel> for RecordedChannel {
    fn from(channel: &Channel) -> Self {
        RecordedChannel {
            name: channel.name.clone(),
            source: channel.source.clone(),
            io_running: channel.io_running.clone(),
            sql_running: channel.sql_running.clone(),
            lag_s: channel.lag_s(),
            io_error: channel.io_error.as_ref().map(RecordedError::from),
            sql_error: channel.sql_error.as_ref().map(RecordedError::from),
            failing_transaction: channel.failing_transaction.clone(),
            broken: channel.broken(),
            blocked_by: channel.blocked_by.as_ref().map(RecordedBlocker::from),
        }
    }
}

impl From<&ReplicationError> for RecordedError {
    fn from(error: &ReplicationError) -> Self {
        RecordedError {
            errno: error.errno,
            message: error.message.clone(),
            at: error.at.clone(),
        }
    }
}

impl From<&BlockedApplier> for RecordedBlocker {
    fn from(blocked: &BlockedApplier) -> Self {
        RecordedBlocker {
            applier_pid: blocked.applier_pid,
            blocker_pid: blocked.blocker_pid,
            blocker_user: blocked.blocker_user.clone(),
            statement: blocked
                .statement
                .clone()
                .or_else(|| blocked.last_statement.clone()),
            idle_in_trx: blocked.idle_in_trx,
            exact: blocked.exact,
        }
    }
}
