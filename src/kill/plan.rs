//! What to kill, as the command line's plan validated it before anything connects.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Result, bail};

use crate::probe::processlist::Filter;

/// What to kill, validated before anything connects (by the command line's plan).
pub(crate) struct KillPlan {
    pub target: Target,
    pub query_only: bool,
    /// Asked for on the terminal when not given.
    pub reason: Option<String>,
    /// Skip the confirmation.
    pub yes: bool,
    pub dry_run: bool,
    /// Wait for a rollback to finish before reporting.
    pub wait: bool,
    pub evidence: PathBuf,
}

/// One session by pid, or a batch chosen from the blocker tree and the processlist.
pub(crate) enum Target {
    One(u64),
    Batch {
        /// Root blockers.
        blockers: bool,
        /// Roots known only by inference too.
        include_inferred: bool,
        idle_in_trx_older_than: Option<Duration>,
        filter: Filter,
        /// Kill rather than list (a batch is a dry run unless `--execute`).
        execute: bool,
        max: usize,
    },
}

impl KillPlan {
    /// The evidence log, opened before connecting: a log that cannot even be opened stops here.
    pub(crate) fn evidence_path(&self) -> &std::path::Path {
        &self.evidence
    }
}

/// A processlist id: a positive whole number that fits the server's id type.
pub(crate) fn parse_pid(text: &str) -> Result<u64> {
    match text.trim().parse::<u64>() {
        Ok(pid) if pid > 0 && pid <= i64::MAX as u64 => Ok(pid),
        _ => bail!(
            "'{text}' is not a processlist id (a whole number from 1 to {})",
            i64::MAX
        ),
    }
}
