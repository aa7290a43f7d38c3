//! Which statement each source reads with. Every question a probe asks of a source is one method
//! here, matching every variant without a catch-all: a new source does not compile until each
//! of its statements exists.

use super::*;
use crate::server::{Flavor, LockWaitSource, ProcesslistSource, ServerInfo};

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
