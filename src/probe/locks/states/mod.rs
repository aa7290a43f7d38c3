//! Waits that no lock table explains on its own, resolved from thread states, statements and
//! whatever lists the holders on this server: metadata-lock waits on MariaDB without
//! performance_schema (its `metadata_lock_info` plugin lists the granted locks), "Waiting for
//! table flush" on every flavor (no lock is pending anywhere), and user locks. Pure: tested on
//! plain thread lists.
//!
//! The rule for every wait here: an edge is `exact` only when a server table names the holder
//! (METADATA_LOCK_INFO, table_handles, `IS_USED_LOCK()`); an edge derived from times and
//! statements is `inferred`; a waiter with neither is left unresolved, with its candidates, and
//! never hangs under a guessed root.

use super::mdl;
use super::tree::{Edge, How, WaitInfo, WaitKind};
use crate::probe::processlist::Thread;

mod flush;
mod plugin;

pub(crate) use flush::table_flush_edges;
use plugin::*;
pub(crate) use plugin::{GrantedLock, plugin_edges};

/// Thread states of a session waiting for a metadata lock, on MySQL and MariaDB.
pub(crate) const MDL_WAIT_STATES: &[&str] = &[
    "Waiting for table metadata lock",
    "Waiting for schema metadata lock",
    "Waiting for global read lock",
    "Waiting for commit lock",
    "Waiting for backup lock",
    "Waiting for stored function metadata lock",
    "Waiting for stored procedure metadata lock",
    "Waiting for trigger metadata lock",
    "Waiting for event metadata lock",
    "Waiting for tablespace metadata lock",
    "User lock",
    "Waiting for user lock",
];

/// The thread state of a session that waits for a table to be flushed.
pub(crate) const TABLE_FLUSH_STATE: &str = "Waiting for table flush";

/// Where edges of this module come from, as `WaitInfo::source` says it.
pub(crate) const SOURCE_MDL_INFO: &str = "information_schema.METADATA_LOCK_INFO";
pub(crate) const SOURCE_QUEUE: &str = "thread states: an earlier request for the same lock";
pub(crate) const SOURCE_HANDLES: &str = "performance_schema.table_handles";
pub(crate) const SOURCE_OLDER_STATEMENT: &str =
    "thread states: a statement on the table running since before the flush";
pub(crate) const SOURCE_FLUSH: &str = "thread states: a FLUSH started before the wait";
pub(crate) const SOURCE_USED_LOCK: &str = "IS_USED_LOCK()";

/// The most candidates listed for a waiter whose blocker is unknown.
const MAX_CANDIDATES: usize = 10;

/// Whether the thread waits for a metadata lock (user locks included).
pub(crate) fn waits_for_mdl(thread: &Thread) -> bool {
    thread
        .state
        .as_deref()
        .is_some_and(|s| MDL_WAIT_STATES.contains(&s))
}

fn waits_for_flush(thread: &Thread) -> bool {
    thread.state.as_deref() == Some(TABLE_FLUSH_STATE)
}

fn waits_for_user_lock(thread: &Thread) -> bool {
    matches!(
        thread.state.as_deref(),
        Some("User lock" | "Waiting for user lock")
    )
}

/// Whether the thread waits for anything this module resolves.
pub(crate) fn waits(thread: &Thread) -> bool {
    waits_for_mdl(thread) || waits_for_flush(thread)
}

/// A waiter whose blocker the server cannot name: shown as "blocker unknown", never as a root.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct UnknownWait {
    pub waiter: u64,
    pub wait: WaitInfo,
    /// Sessions that could hold it, most likely first; candidates, not culprits.
    pub candidates: Vec<u64>,
}

fn wait_info(
    thread: &Thread,
    kind: WaitKind,
    object_type: Option<&str>,
    object: Option<&str>,
    lock_type: Option<&str>,
) -> WaitInfo {
    WaitInfo {
        kind,
        object_type: object_type.map(str::to_owned),
        table: object.map(str::to_owned),
        index: None,
        lock_mode: lock_type
            .map(str::to_owned)
            .or_else(|| thread.state.clone()),
        blocking_lock_mode: None,
        wait_s: thread.time_s,
        held: None,
        how: How::Inferred,
        source: "thread states",
    }
}

/// The user-lock waiters and the lock names to ask `IS_USED_LOCK()` about.
pub(crate) fn user_lock_waits(threads: &[Thread]) -> Vec<(u64, String)> {
    threads
        .iter()
        .filter(|t| waits_for_user_lock(t))
        .filter_map(|t| Some((t.pid, user_lock_name(t.statement.as_deref()?)?)))
        .collect()
}

/// Exact edges from `IS_USED_LOCK(name)` answers: `(name, holder pid)`.
pub(crate) fn user_lock_edges(threads: &[Thread], holders: &[(String, u64)]) -> Vec<Edge> {
    let mut edges = Vec::new();
    for (pid, name) in user_lock_waits(threads) {
        let Some(waiter) = threads.iter().find(|t| t.pid == pid) else {
            continue;
        };
        for (_, holder) in holders
            .iter()
            .filter(|(held, holder)| *held == name && *holder != pid)
        {
            let mut wait = wait_info(
                waiter,
                WaitKind::Metadata,
                Some("USER LEVEL LOCK"),
                Some(&name),
                Some("EXCLUSIVE"),
            );
            wait.held = Some(format!("user lock '{name}'"));
            wait.how = How::Exact;
            wait.source = SOURCE_USED_LOCK;
            edges.push(Edge {
                waiter: pid,
                blocker: *holder,
                wait,
            });
        }
    }
    edges
}

/// Every thread waiting for a metadata lock or a flush that no edge explains: blocker unknown.
pub(crate) fn unexplained(threads: &[Thread], edges: &[Edge]) -> Vec<UnknownWait> {
    threads
        .iter()
        .filter(|t| waits(t) && !edges.iter().any(|e| e.waiter == t.pid))
        .map(|t| UnknownWait {
            waiter: t.pid,
            wait: wait_info(
                t,
                if waits_for_flush(t) {
                    WaitKind::TableFlush
                } else {
                    WaitKind::Metadata
                },
                None,
                None,
                None,
            ),
            candidates: candidates(t, threads),
        })
        .collect()
}

/// Sessions that may hold what `waiter` waits for: not waiting for a metadata lock themselves,
/// not system threads, and there before the wait began (an open transaction at least as old, or
/// a command running or idle at least as long). Idle sessions first (an idle transaction, LOCK
/// TABLES, FLUSH TABLES WITH READ LOCK and GET_LOCK holders all sit in Sleep), then running
/// statements, then sessions waiting for a row lock; longest-standing first within each.
pub(crate) fn candidates(waiter: &Thread, threads: &[Thread]) -> Vec<u64> {
    let waited = waiter.time_s.unwrap_or(0);
    let mut found: Vec<&Thread> = threads
        .iter()
        .filter(|t| t.pid != waiter.pid && !waits(t))
        .filter(|t| {
            !matches!(
                t.user.as_deref(),
                Some("system user" | "event_scheduler" | "rdsadmin")
            ) && t.command.as_deref() != Some("Daemon")
        })
        .filter(|t| t.trx_age() >= waited || t.time_s.unwrap_or(0) >= waited)
        .collect();
    let rank = |t: &Thread| {
        if t.command.as_deref() == Some("Sleep") {
            0
        } else if t.trx.as_ref().is_some_and(|x| x.state == "LOCK WAIT") {
            2
        } else {
            1
        }
    };
    found.sort_by_key(|t| {
        (
            rank(t),
            std::cmp::Reverse(t.trx_age().max(t.time_s.unwrap_or(0))),
            t.pid,
        )
    });
    found
        .into_iter()
        .take(MAX_CANDIDATES)
        .map(|t| t.pid)
        .collect()
}

#[cfg(test)]
mod tests;
