//! The victim's snapshot: the statements read ahead for every victim in one round trip, and the
//! `kill.snapshot` record built from them.

use std::collections::HashMap;

use anyhow::{Context, Result};

use super::plan::KillPlan;
use super::verify::read_identity;
use crate::connect::row::Columns;
use crate::connect::{Session, inline_numbers};
use crate::evidence::record::{
    BlastRadius, HeldLock, HeldMetadataLock, KillSnapshot, RecordedEdge, ServerStamp,
    SnapshotThread,
};
use crate::evidence::{Header, RecordKind};
use crate::probe::locks::LockSession;
use crate::probe::locks::tree::Node;
use crate::probe::locks::view::describe_wait;
use crate::probe::processlist::Thread;
use crate::queries;
use crate::render::serde_label;

/// The statements of every victim's snapshot, inlined so they ride in one batch: its identity,
/// its row locks (by transaction id) and its metadata locks, and the server clock. What cannot
/// be inlined (a transaction id that is not a number) is read on its own later.
pub(super) fn snapshot_statements(
    session: &Session,
    pids: &[u64],
    threads: &[Thread],
) -> Vec<String> {
    let server = &session.server;
    let mut statements = vec![queries::SERVER_NOW.to_owned()];
    for &pid in pids {
        let pid_text = pid.to_string();
        statements.extend(inline_numbers(server.thread_identity_query(), &[&pid_text]));
        let trx_id = threads
            .iter()
            .find(|t| t.pid == pid)
            .and_then(|t| t.trx.as_ref())
            .map(|t| t.id.as_str());
        if let (Some(trx_id), Some(sql)) = (trx_id, locks_held_query(server)) {
            let ids: Vec<&str> = vec![trx_id; sql.matches('?').count()];
            statements.extend(inline_numbers(sql, &ids));
        }
        if server.capabilities.mdl_instrument {
            statements.extend(inline_numbers(
                queries::METADATA_LOCKS_HELD_P_S,
                &[&pid_text],
            ));
        }
    }
    statements
}

fn locks_held_query(server: &crate::server::ServerInfo) -> Option<&'static str> {
    server.sources.lock_waits.locks_held()
}

/// What was read once before the victims are handled: each snapshot takes its part from here.
pub(super) struct Observed<'a> {
    pub threads: &'a [Thread],
    pub last: Option<&'a HashMap<u64, String>>,
    pub roots: &'a [Node<LockSession>],
}

pub(super) async fn snapshot(
    session: &mut Session,
    plan: &KillPlan,
    pid: u64,
    seen: &Observed<'_>,
    reason: &str,
    dry_run: bool,
    now: &str,
) -> Result<KillSnapshot> {
    let thread = seen
        .threads
        .iter()
        .find(|t| t.pid == pid)
        .cloned()
        .context("the session ended")?;
    let identity = read_identity(session, pid, false).await?;
    let last_statement = match thread.statement {
        Some(_) => None,
        None => seen.last.and_then(|m| m.get(&pid).cloned()),
    };
    let locks = match &thread.trx {
        Some(trx) => held_locks(session, &trx.id).await?,
        None => Vec::new(),
    };
    let metadata_locks = held_metadata_locks(session, pid).await?;
    let server = &session.server;
    Ok(KillSnapshot {
        header: Header::new(RecordKind::KillSnapshot),
        pid,
        query_only: plan.query_only,
        reason: reason.to_owned(),
        dry_run,
        server: ServerStamp {
            flavor: serde_label(&server.flavor),
            version: server.version.clone(),
            hostname: server.hostname.clone(),
            time: now.to_owned(),
        },
        trx_started: identity.as_ref().and_then(|i| i.trx_started.clone()),
        activity: identity.and_then(|i| i.activity),
        last_statement,
        locks,
        metadata_locks,
        blocks: blast_radius(seen.roots, seen.threads, pid),
        thread: SnapshotThread::from(&thread),
    })
}

fn blast_radius(roots: &[Node<LockSession>], threads: &[Thread], pid: u64) -> BlastRadius {
    fn find(nodes: &[Node<LockSession>], pid: u64) -> Option<&Node<LockSession>> {
        nodes.iter().find_map(|n| {
            if n.info.pid == pid {
                Some(n)
            } else {
                find(&n.waiters, pid)
            }
        })
    }
    fn collect(node: &Node<LockSession>, out: &mut Vec<u64>, edges: &mut Vec<RecordedEdge>) {
        for waiter in &node.waiters {
            if let Some(wait) = &waiter.waiting_for {
                let edge = RecordedEdge {
                    blocker: node.info.pid,
                    waiter: waiter.info.pid,
                    lock: describe_wait(wait)
                        .trim_end_matches(" (inferred)")
                        .to_owned(),
                    how: serde_label(&wait.how),
                };
                if !edges.contains(&edge) {
                    edges.push(edge);
                }
            }
            // A session under several blockers is walked once.
            if !out.contains(&waiter.info.pid) {
                out.push(waiter.info.pid);
                collect(waiter, out, edges);
            }
        }
    }
    let Some(node) = find(roots, pid) else {
        return BlastRadius::default();
    };
    let (mut waiter_pids, mut edges) = (Vec::new(), Vec::new());
    collect(node, &mut waiter_pids, &mut edges);
    waiter_pids.sort_unstable();
    let appliers = threads
        .iter()
        .filter(|t| waiter_pids.contains(&t.pid) && crate::probe::replication::is_applier(t))
        .map(|t| t.pid)
        .collect();
    BlastRadius {
        waiters_total: node.waiters_total,
        waiter_pids,
        appliers,
        edges,
    }
}

pub(crate) async fn held_locks(session: &mut Session, trx_id: &str) -> Result<Vec<HeldLock>> {
    let what = "reading the victim's locks";
    let Some(sql) = locks_held_query(&session.server) else {
        return Ok(Vec::new());
    };
    let ids = vec![trx_id; sql.matches('?').count()];
    let rows: Vec<mysql_async::Row> = match inline_numbers(sql, &ids) {
        // As read ahead with the other snapshots, when it was.
        Some(inlined) => session.db.query(what, &inlined).await?,
        None => {
            let params: Vec<mysql_async::Value> = ids.iter().map(|id| (*id).into()).collect();
            session.db.exec(what, sql, params).await?
        }
    };
    Ok(rows
        .iter()
        .map(|row| {
            let col = Columns(row);
            HeldLock {
                table: col.text("locked_table").map(|t| t.replace('`', "")),
                index: col.text("locked_index"),
                lock_type: col.text("lock_type"),
                lock_mode: col.text("lock_mode"),
                status: col.text("lock_status"),
                count: col.u64("locks").unwrap_or(0),
            }
        })
        .collect())
}

pub(crate) async fn held_metadata_locks(
    session: &mut Session,
    pid: u64,
) -> Result<Vec<HeldMetadataLock>> {
    if !session.server.capabilities.mdl_instrument {
        return Ok(Vec::new());
    }
    let inlined = inline_numbers(queries::METADATA_LOCKS_HELD_P_S, &[&pid.to_string()])
        .context("a pid is a number")?;
    let rows: Vec<mysql_async::Row> = session
        .db
        .query("reading the victim's metadata locks", &inlined)
        .await?;
    Ok(rows
        .iter()
        .map(|row| {
            let col = Columns(row);
            HeldMetadataLock {
                object_type: col.text("object_type"),
                object: col.text("object_name"),
                lock_type: col.text("lock_type"),
                duration: col.text("lock_duration"),
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::locks::tree::{self, Edge};

    /// The tree under the victim is recorded edge by edge, each once, with its lock and how it
    /// is known; a session waiting for two blockers in the subtree has both edges.
    #[test]
    fn the_blast_radius_records_the_tree_under_the_victim() {
        let edges = [
            Edge::sample(2, 1, "shop.t"),
            Edge::sample(3, 2, "shop.t"),
            Edge::sample(4, 1, "shop.t"),
            Edge::sample(3, 4, "shop.t"),
            Edge::sample(9, 8, "shop.other"),
        ];
        let forest = tree::build(&edges, &|pid| {
            crate::probe::locks::describe(pid, None, None)
        });
        let radius = blast_radius(&forest.roots, &[], 1);
        assert_eq!(radius.waiter_pids, [2, 3, 4]);
        let recorded: Vec<(u64, u64)> =
            radius.edges.iter().map(|e| (e.blocker, e.waiter)).collect();
        assert_eq!(recorded, [(1, 2), (2, 3), (1, 4), (4, 3)]);
        assert!(
            radius
                .edges
                .iter()
                .all(|e| e.lock == "row shop.t PRIMARY X" && e.how == "exact")
        );
    }
}
