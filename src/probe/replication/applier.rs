//! The applier threads of a replica, and the local session the blocker tree puts above them.

use super::{BlockedApplier, Channel};
use crate::probe::locks::tree::{How, Node};
use crate::probe::locks::{LockSession, LocksReport};
use crate::probe::processlist::Thread;

/// The root blocker above one of the channel's applier threads in the blocker tree.
pub(super) fn blocked_applier(
    channel: &Channel,
    threads: &[Thread],
    locks: &LocksReport,
) -> Option<BlockedApplier> {
    let appliers: Vec<u64> = channel.workers.iter().filter_map(|w| w.pid).collect();
    let appliers: Vec<u64> = if appliers.is_empty() {
        threads
            .iter()
            .filter(|t| is_applier(t))
            .map(|t| t.pid)
            .collect()
    } else {
        appliers
    };
    for root in &locks.forest.roots {
        for &applier in &appliers {
            if let Some(exact) = path_to(root, applier, true) {
                let blocker = &root.info;
                return Some(BlockedApplier {
                    applier_pid: applier,
                    blocker_pid: blocker.pid,
                    blocker_user: blocker.user.clone(),
                    statement: blocker.statement.clone(),
                    last_statement: blocker.last_statement.clone(),
                    idle_in_trx: blocker.idle_in_trx,
                    exact,
                });
            }
        }
    }
    None
}

/// Whether `pid` waits somewhere under `node`, and whether every edge on the way is exact.
fn path_to(node: &Node<LockSession>, pid: u64, exact_so_far: bool) -> Option<bool> {
    node.waiters.iter().find_map(|waiter| {
        let exact = exact_so_far
            && waiter
                .waiting_for
                .as_ref()
                .is_some_and(|w| w.how == How::Exact);
        if waiter.info.pid == pid {
            Some(exact)
        } else {
            path_to(waiter, pid, exact)
        }
    })
}

/// A replication applier thread, by its processlist command (MariaDB, MySQL 5.7) or its user
/// and state (MySQL 8: "system user").
pub(crate) fn is_applier(thread: &Thread) -> bool {
    matches!(
        thread.command.as_deref(),
        Some("Slave_SQL" | "Slave_worker")
    ) || thread.user.as_deref() == Some("system user")
        && thread.state.as_deref().is_some_and(|s| {
            !s.contains("source to send event")
                && !s.contains("master to send event")
                && !s.starts_with("Connecting")
        })
}
