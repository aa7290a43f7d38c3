//! `mytriage locks`: the blocker tree. Row-lock waits and metadata-lock waits become one forest,
//! root blockers first, each with what it ran last even when it is idle now.

mod mdl;
mod states;
pub(crate) mod tree;

use std::collections::{HashMap, HashSet};

use anyhow::Result;
use mysql_async::Params;
use serde::Serialize;

use crate::connect::Session;
use crate::connect::row::Columns;
use crate::probe::processlist::{self, Thread};
use crate::queries;
use crate::render::{Block, Report, View, ViewOptions, now_or_last, serde_label};
use crate::server::{LockWaitSource, MdlSource, ServerInfo};
use states::GrantedLock;
use tree::{Edge, Forest, How, Node, WaitInfo, WaitKind};

/// What the tree shows about each session.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct LockSession {
    pub pid: u64,
    pub user: Option<String>,
    pub host: Option<String>,
    pub db: Option<String>,
    pub command: Option<String>,
    pub state: Option<String>,
    pub idle_in_trx: bool,
    pub trx_id: Option<String>,
    pub trx_state: Option<String>,
    pub trx_age_s: Option<u64>,
    pub trx_rows_locked: Option<u64>,
    pub trx_rows_modified: Option<u64>,
    /// What it runs now.
    pub statement: Option<String>,
    /// What it ran last, when it runs nothing now (performance_schema only).
    pub last_statement: Option<String>,
}

/// Where the edges came from.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct LockSources {
    pub row_locks: LockWaitSource,
    pub metadata_locks: MdlSource,
    pub last_statements: Option<&'static str>,
}

/// A session that waits for a lock whose holder this server does not name. It is never drawn
/// under a guessed root: its candidates are listed as candidates, with the remedy that would
/// name the holder on this server.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct UnknownBlocker {
    #[serde(flatten)]
    pub session: LockSession,
    pub waiting_for: WaitInfo,
    /// Always `null`: the blocker is unknown.
    pub blocker: Option<u64>,
    /// Sessions there before the wait began that could hold it, longest-standing first.
    pub candidates: Vec<LockSession>,
    /// What would name the holder exactly on this server.
    pub remedy: Option<String>,
}

/// What `locks` reports.
#[derive(Debug, Serialize)]
pub(crate) struct LocksReport {
    pub sources: LockSources,
    #[serde(flatten)]
    pub forest: Forest<LockSession>,
    /// Waiters whose blocker is unknown (counted in `blocked_sessions`).
    pub unresolved: Vec<UnknownBlocker>,
    /// A global read lock or a backup lock has writers waiting: every write on the server is
    /// frozen.
    pub writes_frozen: bool,
    /// Caveats about this server's sources.
    pub notes: Vec<String>,
}

/// Thread states of writers frozen by a global read lock or a backup lock.
const FROZEN_STATES: &[&str] = &[
    "Waiting for global read lock",
    "Waiting for commit lock",
    "Waiting for backup lock",
];

/// What [`collect_with`] always runs, for a snapshot to read ahead (the lookups it makes only
/// for waits found are not).
pub(crate) fn statements(server: &ServerInfo) -> Vec<&'static str> {
    let mut statements = Vec::new();
    statements.extend(server.sources.lock_waits.waits());
    // The plugin's table is read only when a session waits on a metadata lock.
    if server.sources.metadata_locks == MdlSource::PerformanceSchema {
        statements.push(queries::MDL_WAITS_P_S);
    }
    statements
}

/// What `locks` (and the kill selection) read, in one batch: the threads, the last statements
/// and the waits.
pub(crate) fn snapshot(server: &ServerInfo) -> Vec<&'static str> {
    let mut ahead = processlist::statements(server);
    ahead.extend(statements(server));
    ahead
}

/// Reads the waits and builds the tree.
pub(crate) async fn collect(session: &mut Session) -> Result<LocksReport> {
    let ahead = snapshot(&session.server);
    session
        .db
        .prefetch("reading the lock waits", &ahead)
        .await?;
    let threads = processlist::threads(session).await?;
    let last = processlist::last_statements(session).await?;
    collect_with(session, &threads, last.as_ref()).await
}

/// As [`collect`], on a thread snapshot and last statements already read (by `status` or `kill`).
pub(crate) async fn collect_with(
    session: &mut Session,
    threads: &[Thread],
    last: Option<&HashMap<u64, String>>,
) -> Result<LocksReport> {
    let mut edges = row_lock_edges(session, threads).await?;
    let mut notes = Vec::new();
    let mdl_source = session.server.sources.metadata_locks;
    let mdl_waiting = threads.iter().any(states::waits_for_mdl);
    match mdl_source {
        MdlSource::PerformanceSchema => edges.extend(mdl_edges(session).await?),
        MdlSource::MetadataLockInfo if mdl_waiting => {
            let granted = plugin_locks(session).await?;
            edges.extend(states::plugin_edges(threads, &granted));
        }
        MdlSource::MetadataLockInfo | MdlSource::ThreadStates => {}
    }
    if mdl_source != MdlSource::PerformanceSchema {
        edges.extend(user_lock_edges(session, threads).await?);
    }
    if threads
        .iter()
        .any(|t| t.state.as_deref() == Some(states::TABLE_FLUSH_STATE))
    {
        let handles = table_handles(session).await?;
        edges.extend(states::table_flush_edges(threads, handles.as_deref()));
    }
    if last.is_none() && !edges.is_empty() {
        notes.push(if session.server.capabilities.performance_schema {
            "last statements of idle blockers need the events_statements_current consumer \
             (UPDATE performance_schema.setup_consumers SET ENABLED = 'YES' \
             WHERE NAME = 'events_statements_current')"
                .to_owned()
        } else {
            "last statements of idle blockers are not recorded: performance_schema is off on \
             this server (performance_schema=ON at start-up records them)"
                .to_owned()
        });
    }
    let by_pid: HashMap<u64, &Thread> = threads.iter().map(|t| (t.pid, t)).collect();
    // INNODB_LOCK_WAITS and INNODB_TRX are served from a cache up to 100 ms old (and older while
    // someone keeps reading them). A wait whose waiter has disconnected is over; so is one whose
    // blocker has, since its locks went with it. Blocker 0 stays: a transaction no session owns
    // (XA PREPARED, recovered after a crash) really does hold locks.
    edges.retain(|edge| {
        by_pid.contains_key(&edge.waiter)
            && (edge.blocker == 0 || by_pid.contains_key(&edge.blocker))
    });
    let describe = |pid: u64| {
        describe(
            pid,
            by_pid.get(&pid).copied(),
            last.and_then(|m| m.get(&pid)),
        )
    };
    let remedy = mdl_source.remedy(&session.server);
    let unresolved: Vec<UnknownBlocker> = states::unexplained(threads, &edges)
        .into_iter()
        .map(|unknown| UnknownBlocker {
            session: describe(unknown.waiter),
            waiting_for: unknown.wait,
            blocker: None,
            candidates: unknown.candidates.into_iter().map(describe).collect(),
            remedy: remedy.clone(),
        })
        .collect();
    if !unresolved.is_empty() {
        notes.push(format!(
            "{} session(s) wait for a lock whose holder this server does not show: blocker \
             unknown, candidates listed; {}",
            unresolved.len(),
            remedy
                .as_deref()
                .unwrap_or("no source on this server names the holder")
        ));
    }
    let mut forest = tree::build(&edges, &describe);
    forest.blocked_sessions += unresolved.len();
    // Roots holding up as many: the oldest transaction first, in the order every command uses.
    forest.roots.sort_by(|a, b| {
        b.waiters_total.cmp(&a.waiters_total).then_with(|| {
            match (by_pid.get(&a.info.pid), by_pid.get(&b.info.pid)) {
                (Some(x), Some(y)) => processlist::oldest_first(x, y),
                _ => a.info.pid.cmp(&b.info.pid),
            }
        })
    });
    let server = &session.server;
    Ok(LocksReport {
        sources: LockSources {
            row_locks: server.sources.lock_waits,
            metadata_locks: mdl_source,
            last_statements: server
                .capabilities
                .statement_history
                .then_some("performance_schema.events_statements_current"),
        },
        forest,
        unresolved,
        writes_frozen: threads.iter().any(|t| {
            t.state
                .as_deref()
                .is_some_and(|s| FROZEN_STATES.contains(&s))
        }),
        notes,
    })
}

impl UnknownBlocker {
    /// The candidates' pids for one line of text: `4408, 4409`, or `none`.
    pub(crate) fn candidate_pids(&self) -> String {
        if self.candidates.is_empty() {
            return "none".to_owned();
        }
        let pids: Vec<String> = self.candidates.iter().map(|c| c.pid.to_string()).collect();
        pids.join(", ")
    }
}

impl LocksReport {
    /// Whether a root holds up at least one direct waiter by an exact edge: what `kill
    /// --blockers` may act on.
    pub(crate) fn exact_root(node: &Node<LockSession>) -> bool {
        node.waiters
            .iter()
            .any(|w| w.waiting_for.as_ref().is_some_and(|x| x.how == How::Exact))
    }
}

/// Granted metadata locks from MariaDB's plugin.
async fn plugin_locks(session: &mut Session) -> Result<Vec<GrantedLock>> {
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
async fn user_lock_edges(session: &mut Session, threads: &[Thread]) -> Result<Vec<Edge>> {
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
async fn table_handles(session: &mut Session) -> Result<Option<Vec<(u64, String)>>> {
    if !session.server.capabilities.table_handles {
        return Ok(None);
    }
    session
        .db
        .query_if_permitted::<(u64, String)>("reading table handles", queries::TABLE_HANDLES_P_S)
        .await
}

fn describe(pid: u64, thread: Option<&Thread>, last: Option<&String>) -> LockSession {
    let trx = thread.and_then(|t| t.trx.as_ref());
    let statement = thread.and_then(|t| t.statement.clone());
    LockSession {
        pid,
        user: thread.and_then(|t| t.user.clone()),
        host: thread.and_then(|t| t.host.clone()),
        db: thread.and_then(|t| t.db.clone()),
        command: thread.and_then(|t| t.command.clone()),
        state: thread.and_then(|t| t.state.clone()),
        idle_in_trx: thread.is_some_and(|t| t.idle_in_trx),
        trx_id: trx.map(|t| t.id.clone()),
        trx_state: trx.map(|t| t.state.clone()),
        trx_age_s: trx.map(|t| t.age_s),
        trx_rows_locked: trx.map(|t| t.rows_locked),
        trx_rows_modified: trx.map(|t| t.rows_modified),
        last_statement: if statement.is_none() {
            last.cloned()
        } else {
            None
        },
        statement,
    }
}

/// Row-lock waits. The server returns only edges to granted locks; a waiter with none (a shared
/// request queued behind an exclusive one) is asked for again, for its place in the queue.
async fn row_lock_edges(session: &mut Session, threads: &[Thread]) -> Result<Vec<Edge>> {
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
async fn lock_wait_rows(
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

async fn mdl_edges(session: &mut Session) -> Result<Vec<Edge>> {
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

impl Report for LocksReport {
    fn view(&self, options: &ViewOptions) -> View {
        let mut rows = Vec::new();
        let mut shown = std::collections::HashSet::new();
        for root in &self.forest.roots {
            flatten(root, 0, options.full, &mut shown, &mut rows);
        }
        for unknown in &self.unresolved {
            rows.push(vec![
                "?".to_owned(),
                "blocker unknown".to_owned(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                format!("candidates: {}", unknown.candidate_pids()),
            ]);
            let node = Node {
                info: unknown.session.clone(),
                waiting_for: Some(Box::new(unknown.waiting_for.clone())),
                waiters_total: 0,
                waiters: Vec::new(),
            };
            flatten(&node, 1, options.full, &mut shown, &mut rows);
        }
        let mut blocks = Vec::new();
        if self.writes_frozen {
            blocks.push(Block::Note(
                "WRITES FROZEN: a global read lock or backup lock holds every writer".to_owned(),
            ));
        }
        if rows.is_empty() {
            blocks.push(Block::Note("No lock waits: nothing is blocked.".to_owned()));
        } else {
            let header = [
                "pid",
                "user@host",
                "trx age",
                "rows locked",
                "waits for",
                "waiting",
                "holds up",
                "statement",
            ];
            blocks.push(Block::Table {
                title: None,
                header: header.map(str::to_owned).to_vec(),
                rows,
            });
            blocks.push(Block::Note(format!(
                "{} root blocker(s), {} blocked session(s) (row locks: {}, metadata locks: {})",
                self.forest.roots.len(),
                self.forest.blocked_sessions,
                serde_label(&self.sources.row_locks),
                serde_label(&self.sources.metadata_locks)
            )));
        }
        for cycle in &self.forest.cycles {
            let pids: Vec<String> = cycle.iter().map(u64::to_string).collect();
            blocks.push(Block::Note(format!(
                "CYCLE (deadlock in progress): {}",
                pids.join(" ⇄ ")
            )));
        }
        if self.forest.truncated {
            blocks.push(Block::Note(format!(
                "tree cut at {} nodes; use --format json",
                tree::NODE_BUDGET
            )));
        }
        blocks.extend(self.notes.iter().map(|n| Block::Note(format!("note: {n}"))));
        View { blocks }
    }
}

/// One table row per node, indented by depth. A session that waits for several blockers is
/// drawn in full under the first and as a reference under the others.
fn flatten(
    node: &Node<LockSession>,
    depth: usize,
    full: bool,
    shown: &mut std::collections::HashSet<u64>,
    rows: &mut Vec<Vec<String>>,
) {
    let info = &node.info;
    let first_time = shown.insert(info.pid);
    let indent = if depth == 0 {
        String::new()
    } else {
        format!("{}└ ", "  ".repeat(depth - 1))
    };
    let who = crate::render::account(info.user.as_deref(), info.host.as_deref());
    let age = match (info.trx_age_s, info.idle_in_trx) {
        _ if info.rolling_back() => format!(
            "ROLLING BACK ({} rows left)",
            info.trx_rows_modified.unwrap_or(0)
        ),
        (Some(age), true) => format!("{age}s IDLE"),
        (Some(age), false) => format!("{age}s"),
        (None, _) => String::new(),
    };
    let waits = node
        .waiting_for
        .as_ref()
        .map(|w| describe_wait(w))
        .unwrap_or_default();
    let waiting = node
        .waiting_for
        .as_ref()
        .and_then(|w| w.wait_s)
        .map(|s| format!("{s}s"))
        .unwrap_or_default();
    let statement = if first_time {
        now_or_last(
            info.statement.as_deref(),
            info.last_statement.as_deref(),
            full,
        )
    } else {
        "(shown above)".to_owned()
    };
    rows.push(vec![
        format!("{indent}{}", info.pid),
        who,
        age,
        info.trx_rows_locked
            .map(|r| r.to_string())
            .unwrap_or_default(),
        waits,
        waiting,
        node.waiters_total.to_string(),
        statement,
    ]);
    if first_time {
        for child in &node.waiters {
            flatten(child, depth + 1, full, shown, rows);
        }
    }
}

fn describe_wait(wait: &WaitInfo) -> String {
    let kind = match wait.kind {
        WaitKind::Row => "row",
        WaitKind::Metadata => "MDL",
        WaitKind::TableFlush => "flush",
    };
    let inferred = if wait.how == How::Inferred {
        " (inferred)"
    } else {
        ""
    };
    if let Some(held) = &wait.held {
        return format!("{kind}: {held}{inferred}");
    }
    let place = [wait.table.as_deref(), wait.index.as_deref()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    let mode = wait.lock_mode.as_deref().unwrap_or("");
    format!("{kind} {place} {mode}{inferred}")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

impl LockSession {
    /// A transaction rolling back: killing it again frees nothing.
    pub(crate) fn rolling_back(&self) -> bool {
        self.trx_state.as_deref() == Some("ROLLING BACK")
    }
}
