//! `mytriage locks`: the blocker tree. Row-lock waits and metadata-lock waits become one forest,
//! root blockers first, each with what it ran last even when it is idle now.

mod mdl;
mod read;
mod states;
pub(crate) mod tree;
pub(crate) mod view;

use std::collections::HashMap;

use anyhow::Result;
use serde::Serialize;

use crate::connect::Session;
use crate::probe::processlist::{self, Thread};
use crate::queries;
use crate::server::{LockWaitSource, MdlSource, ServerInfo};
use read::{mdl_edges, plugin_locks, row_lock_edges, table_handles, user_lock_edges};
use tree::{Forest, How, Node, WaitInfo};

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

    /// The root a message names first: an idle one holding others up before a busy one, then
    /// the forest's order (the one holding up the most first).
    pub(crate) fn first_root(&self) -> Option<&Node<LockSession>> {
        let roots = &self.forest.roots;
        roots
            .iter()
            .find(|r| r.info.idle_in_trx && r.waiters_total > 0)
            .or_else(|| roots.first())
    }

    /// How a root is known to hold its waiters up, for a sentence that names it: `None` when
    /// one direct edge is exact, else the rule its first edge was inferred by.
    pub(crate) fn inferred_by(node: &Node<LockSession>) -> Option<&'static str> {
        if Self::exact_root(node) {
            return None;
        }
        node.waiters
            .iter()
            .find_map(|w| w.waiting_for.as_ref())
            .map(|w| w.source)
    }
}

#[cfg(test)]
impl LocksReport {
    /// The report of `forest` as read on `server` through performance_schema, for tests.
    pub(crate) fn sample(server: &ServerInfo, forest: Forest<LockSession>) -> LocksReport {
        LocksReport {
            sources: LockSources {
                row_locks: server.sources.lock_waits,
                metadata_locks: MdlSource::PerformanceSchema,
                last_statements: Some("performance_schema.events_statements_current"),
            },
            forest,
            unresolved: Vec::new(),
            writes_frozen: false,
            notes: Vec::new(),
        }
    }
}

impl LockSession {
    /// A transaction rolling back: killing it again frees nothing.
    pub(crate) fn rolling_back(&self) -> bool {
        self.trx_state.as_deref() == Some("ROLLING BACK")
    }
}

pub(crate) fn describe(pid: u64, thread: Option<&Thread>, last: Option<&String>) -> LockSession {
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
