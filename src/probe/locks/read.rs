//! The lock tables read: row-lock waits with their queue edges, metadata-lock waits, MariaDB's
//! plugin, user-lock holders and table handles. Each reader is one statement.

use std::collections::HashSet;

use anyhow::Result;
use mysql_async::Params;

use super::mdl;
use super::states::{self, GrantedLock};
use super::tree::{Edge, How, WaitInfo, WaitKind};
use crate::connect::Session;
use crate::connect::row::Columns;
use crate::probe::processlist::Thread;
use crate::queries;

/// Granted metadata locks from MariaDB's plugin.
pub(super) async fn plugin_locks(session: &mut Session) -> Result<Vec<GrantedLock>> {
    let rows: Vec<mysql_async::Row> = session
        .db
        .query("reading METADATA_LOCK_INFO", queries::METADATA_LOCK_INFO)
        .await?;
    Ok(rows
        .iter()
        .filter_map(|row| {
            let col = Columns(row);
            Some(GrantedLock::from_plugin(
                col.u64("pid")?,
                col.text("lock_mode")?,
                &col.text("lock_type").unwrap_or_default(),
                col.text("table_schema"),
                col.text("table_name"),
            ))
        })
        .collect())
}

/// Who holds the user locks that sessions wait for, by `IS_USED_LOCK()`: one statement per
/// distinct lock name (rarely more than one), only while someone waits.
pub(super) async fn user_lock_edges(
    session: &mut Session,
    threads: &[Thread],
) -> Result<Vec<Edge>> {
    let mut names: Vec<String> = states::user_lock_waits(threads)
        .into_iter()
        .map(|(_, name)| name)
        .collect();
    names.sort_unstable();
    names.dedup();
    names.truncate(10);
    let mut holders = Vec::new();
    for name in names {
        let rows: Vec<Option<u64>> = session
            .db
            .exec(
                "reading a user lock's holder",
                queries::USER_LOCK_HOLDER,
                Params::from((name.clone(),)),
            )
            .await?;
        if let Some(Some(holder)) = rows.first() {
            holders.push((name, *holder));
        }
    }
    Ok(states::user_lock_edges(threads, &holders))
}

/// `(pid, schema.table)` of open table handles, where performance_schema keeps them.
pub(super) async fn table_handles(session: &mut Session) -> Result<Option<Vec<(u64, String)>>> {
    if !session.server.capabilities.table_handles {
        return Ok(None);
    }
    session
        .db
        .query_if_permitted::<(u64, String)>("reading table handles", queries::TABLE_HANDLES_P_S)
        .await
}

/// Row-lock waits. The server returns only edges to granted locks; a waiter with none (a shared
/// request queued behind an exclusive one) is asked for again, for its place in the queue.
pub(super) async fn row_lock_edges(session: &mut Session, threads: &[Thread]) -> Result<Vec<Edge>> {
    let source = session.server.sources.lock_waits;
    let (Some(granted), Some(queued)) = (source.waits(), source.queued_waits()) else {
        return Ok(Vec::new());
    };
    let what = "reading row-lock waits";
    let mut edges = lock_wait_rows(session, what, granted, Params::Empty).await?;
    let explained: HashSet<u64> = edges.iter().map(|(_, edge)| edge.waiter).collect();
    let unexplained: Vec<String> = threads
        .iter()
        .filter(|t| t.trx.as_ref().is_some_and(|x| x.state == "LOCK WAIT"))
        .filter(|t| !explained.contains(&t.pid))
        .map(|t| t.pid.to_string())
        .collect();
    if !unexplained.is_empty() {
        // The one further round trip a snapshot makes for row locks, and only when a waiter has
        // no granted blocker (a request queued behind another request): it depends on the
        // waits the snapshot found, so it cannot ride in the snapshot's batch.
        let pids = Params::from((unexplained.join(","),));
        edges.extend(lock_wait_rows(session, what, queued, pids).await?);
    }
    Ok(drop_queue_edges(edges))
}

/// Row-lock wait edges, each marked whether its blocking lock is only queued ahead.
pub(super) async fn lock_wait_rows(
    session: &mut Session,
    what: &str,
    sql: &str,
    params: Params,
) -> Result<Vec<(bool, Edge)>> {
    let rows: Vec<mysql_async::Row> = session.db.exec(what, sql, params).await?;
    let source = session.server.sources.lock_waits.table();
    Ok(rows
        .iter()
        .filter_map(|row| {
            let col = Columns(row);
            let queued = col
                .text("blocking_lock_status")
                .is_some_and(|s| s.eq_ignore_ascii_case("WAITING"));
            Some((
                queued,
                Edge {
                    waiter: col.u64("waiting_pid")?,
                    blocker: col.u64("blocking_pid")?,
                    wait: WaitInfo {
                        kind: WaitKind::Row,
                        object_type: None,
                        table: col.text("locked_table").map(|t| t.replace('`', "")),
                        index: col.text("locked_index"),
                        lock_mode: col.text("waiting_mode"),
                        // As for metadata locks: a request ahead in the queue, not a grant.
                        blocking_lock_mode: col.text("blocking_mode").map(|mode| {
                            if queued {
                                format!("{mode} (queued)")
                            } else {
                                mode
                            }
                        }),
                        wait_s: col.u64("wait_s"),
                        held: None,
                        how: How::Exact,
                        source,
                    },
                },
            ))
        })
        .collect())
}

/// InnoDB reports a row-lock waiter as blocked both by the granted lock and by every request
/// queued ahead of it on the same row. The queue is not the cause: keep a waiter's edges to
/// granted locks, and its queue edges only when no granted blocker is visible.
fn drop_queue_edges(edges: Vec<(bool, Edge)>) -> Vec<Edge> {
    let has_granted: HashSet<u64> = edges
        .iter()
        .filter(|(queued, _)| !queued)
        .map(|(_, e)| e.waiter)
        .collect();
    edges
        .into_iter()
        .filter(|(queued, edge)| !queued || !has_granted.contains(&edge.waiter))
        .map(|(_, edge)| edge)
        .collect()
}

pub(super) async fn mdl_edges(session: &mut Session) -> Result<Vec<Edge>> {
    let rows: Vec<mysql_async::Row> = session
        .db
        .query("reading metadata-lock waits", queries::MDL_WAITS_P_S)
        .await?;
    Ok(rows
        .iter()
        .filter_map(|row| {
            let col = Columns(row);
            let object_type = col.text("object_type").unwrap_or_default();
            let requested = col.text("waiting_type")?;
            let other = col.text("other_type")?;
            let granted = col.text("other_status").is_some_and(|s| s == "GRANTED");
            if !mdl::blocks(&object_type, &requested, &other, granted) {
                return None;
            }
            let object = col.text("object_name").filter(|o| !o.is_empty());
            Some(Edge {
                waiter: col.u64("waiting_pid")?,
                blocker: col.u64("other_pid")?,
                wait: WaitInfo {
                    kind: WaitKind::Metadata,
                    held: Some(mdl::held(&object_type, object.as_deref(), &other, granted)),
                    object_type: Some(object_type),
                    table: object,
                    index: None,
                    lock_mode: Some(requested),
                    blocking_lock_mode: Some(if granted {
                        other
                    } else {
                        format!("{other} (queued)")
                    }),
                    wait_s: col.u64("wait_s"),
                    how: How::Exact,
                    source: "performance_schema.metadata_locks",
                },
            })
        })
        .collect())
}
