//! Which statement each source reads with. Every question a probe asks of a source is one method
//! here, matching every variant without a catch-all: a new source does not compile until each
//! of its statements exists.

use super::*;
use crate::server::{Flavor, LockWaitSource, ProcesslistSource, ServerInfo, Version};

/// The release that renamed SHOW SLAVE STATUS and SHOW SLAVE HOSTS.
const MYSQL_8_0_22: Version = Version {
    major: 8,
    minor: 0,
    patch: 22,
};

impl LockWaitSource {
    /// Every row-lock wait with its blocker; `None` where the server has no lock-wait table.
    pub(crate) fn waits(self) -> Option<&'static str> {
        match self {
            LockWaitSource::DataLockWaits => Some(LOCK_WAITS_P_S),
            LockWaitSource::InnodbLockWaits => Some(LOCK_WAITS_I_S),
            LockWaitSource::None => None,
        }
    }

    /// The queue edges of the given waiters (`?` is their trx ids): a shared request queued
    /// behind an exclusive one.
    pub(crate) fn queued_waits(self) -> Option<&'static str> {
        match self {
            LockWaitSource::DataLockWaits => Some(LOCK_WAITS_QUEUED_P_S),
            LockWaitSource::InnodbLockWaits => Some(LOCK_WAITS_QUEUED_I_S),
            LockWaitSource::None => None,
        }
    }

    /// The locks one transaction holds (`?` is its trx id), for the kill snapshot.
    pub(crate) fn locks_held(self) -> Option<&'static str> {
        match self {
            LockWaitSource::DataLockWaits => Some(LOCKS_HELD_P_S),
            LockWaitSource::InnodbLockWaits => Some(LOCKS_HELD_I_S),
            LockWaitSource::None => None,
        }
    }
}

impl ProcesslistSource {
    /// Every thread with its InnoDB transaction.
    pub(crate) fn threads(self) -> &'static str {
        match self {
            ProcesslistSource::PsProcesslist => PROCESSLIST_PS_PROCESSLIST,
            ProcesslistSource::PsThreads => PROCESSLIST_PS_THREADS,
            ProcesslistSource::InformationSchema => PROCESSLIST_I_S,
        }
    }
}

impl Flavor {
    /// The history list length, from INNODB_METRICS.
    pub(crate) fn history_list_length_query(self) -> &'static str {
        match self.is_mariadb() {
            true => HISTORY_LIST_LENGTH_MARIADB,
            false => HISTORY_LIST_LENGTH_MYSQL,
        }
    }

    /// Reads the session set-up back.
    pub(crate) fn session_check_query(self) -> &'static str {
        match self.is_mariadb() {
            true => SESSION_CHECK_MARIADB,
            false => SESSION_CHECK_MYSQL,
        }
    }
}

impl ServerInfo {
    /// The replica status: every channel, in this server's spelling.
    pub(crate) fn replica_status_query(&self) -> &'static str {
        match self.flavor {
            Flavor::MariaDb10 | Flavor::MariaDb11 => REPLICA_STATUS_MARIADB,
            Flavor::MySql57 | Flavor::AuroraMySql2 => REPLICA_STATUS_LEGACY,
            Flavor::MySql80 | Flavor::AuroraMySql3 if self.version_number < MYSQL_8_0_22 => {
                REPLICA_STATUS_LEGACY
            }
            Flavor::MySql80 | Flavor::AuroraMySql3 | Flavor::MySql84 | Flavor::MySql9 => {
                REPLICA_STATUS_MYSQL
            }
        }
    }

    /// The replicas registered with this source; Aurora's readers are not binlog replicas.
    pub(crate) fn replicas_query(&self) -> Option<&'static str> {
        match self.flavor {
            Flavor::AuroraMySql2 | Flavor::AuroraMySql3 => None,
            Flavor::MariaDb10 | Flavor::MariaDb11 | Flavor::MySql57 => Some(REPLICAS_LEGACY),
            Flavor::MySql80 if self.version_number < MYSQL_8_0_22 => Some(REPLICAS_LEGACY),
            Flavor::MySql80 | Flavor::MySql84 | Flavor::MySql9 => Some(REPLICAS_MYSQL),
        }
    }

    /// One session's identity for the kill's re-verification, with the best live activity
    /// marker this server has: MariaDB's QUERY_ID, the statement event id, or none.
    pub(crate) fn thread_identity_query(&self) -> &'static str {
        match (self.flavor.is_mariadb(), self.sources.processlist) {
            (true, _) => THREAD_IDENTITY_MARIADB,
            (false, ProcesslistSource::PsProcesslist) => THREAD_IDENTITY_P_S,
            (false, ProcesslistSource::PsThreads | ProcesslistSource::InformationSchema) => {
                THREAD_IDENTITY_I_S
            }
        }
    }
}
