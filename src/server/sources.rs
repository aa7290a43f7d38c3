//! Where each probe reads from on this server, decided once from the capabilities. The
//! statement each source reads with is in `queries/sources.rs`.

use serde::Serialize;

use super::{Capabilities, ServerInfo};

/// Where a probe reads from, decided once from the capabilities.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum LockWaitSource {
    #[serde(rename = "performance_schema.data_lock_waits")]
    DataLockWaits,
    #[serde(rename = "information_schema.INNODB_LOCK_WAITS")]
    InnodbLockWaits,
    #[serde(rename = "none")]
    None,
}

impl LockWaitSource {
    /// The table the waits are read from, as the JSON names it.
    pub(crate) fn table(self) -> &'static str {
        match self {
            LockWaitSource::DataLockWaits => "performance_schema.data_lock_waits",
            LockWaitSource::InnodbLockWaits => "information_schema.INNODB_LOCK_WAITS",
            LockWaitSource::None => "none",
        }
    }
}

/// Where the processlist comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ProcesslistSource {
    /// Non-blocking (MySQL 8.0.22+).
    #[serde(rename = "performance_schema.processlist")]
    PsProcesslist,
    /// Non-blocking, from performance_schema.threads.
    #[serde(rename = "performance_schema.threads")]
    PsThreads,
    /// Takes the global mutex on older servers; the fallback.
    #[serde(rename = "information_schema.PROCESSLIST")]
    InformationSchema,
}

/// Where metadata-lock holders come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum MdlSource {
    /// Every granted and pending lock, with its type: exact.
    #[serde(rename = "performance_schema.metadata_locks")]
    PerformanceSchema,
    /// MariaDB's plugin: every granted lock (pending requests are known from thread states).
    #[serde(rename = "information_schema.METADATA_LOCK_INFO")]
    MetadataLockInfo,
    /// Only the waiters are known, by their thread state; holders are unknown.
    #[serde(rename = "thread states")]
    ThreadStates,
}

impl MdlSource {
    /// What makes holders visible on a server that has no source for them, as one statement.
    pub(crate) fn remedy(self, server: &ServerInfo) -> Option<String> {
        if self != MdlSource::ThreadStates {
            return None;
        }
        Some(if server.flavor.is_mariadb() {
            "INSTALL SONAME 'metadata_lock_info' names every holder (information_schema.METADATA_LOCK_INFO)"
                .to_owned()
        } else if server.capabilities.performance_schema {
            "UPDATE performance_schema.setup_instruments SET ENABLED = 'YES' \
             WHERE NAME = 'wait/lock/metadata/sql/mdl' names every holder"
                .to_owned()
        } else {
            "performance_schema is off: restart with performance_schema=ON (and the \
             wait/lock/metadata/sql/mdl instrument) to name the holders"
                .to_owned()
        })
    }
}

/// The sources each probe uses on this server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Sources {
    pub lock_waits: LockWaitSource,
    pub processlist: ProcesslistSource,
    /// Metadata-lock holders.
    pub metadata_locks: MdlSource,
}

pub(super) fn sources_of(caps: &Capabilities) -> Sources {
    Sources {
        lock_waits: if caps.data_lock_waits {
            LockWaitSource::DataLockWaits
        } else if caps.innodb_lock_waits {
            LockWaitSource::InnodbLockWaits
        } else {
            LockWaitSource::None
        },
        processlist: if caps.ps_processlist {
            ProcesslistSource::PsProcesslist
        } else if caps.performance_schema {
            ProcesslistSource::PsThreads
        } else {
            ProcesslistSource::InformationSchema
        },
        metadata_locks: if caps.mdl_instrument {
            MdlSource::PerformanceSchema
        } else if caps.metadata_lock_info {
            MdlSource::MetadataLockInfo
        } else {
            MdlSource::ThreadStates
        },
    }
}
