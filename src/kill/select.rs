//! Choosing the victims from the processlist and the blocker tree, and what is never killed.

use anyhow::{Result, anyhow, bail};

use super::Skipped;
use super::plan::{KillPlan, Target};
use crate::connect::Session;
use crate::probe::locks::LocksReport;
use crate::probe::processlist::Thread;

/// Users whose threads are the server's own, never killed.
const PROTECTED_USERS: &[&str] = &["system user", "event_scheduler", "rdsadmin"];
/// Commands of replication and server threads, never killed.
const PROTECTED_COMMANDS: &[&str] = &[
    "Binlog Dump",
    "Binlog Dump GTID",
    "Daemon",
    "Slave_IO",
    "Slave_SQL",
    "Slave_worker",
];

/// The victims chosen, and the sessions matched but left alone.
pub(super) struct Selection {
    pub pids: Vec<u64>,
    pub skipped: Vec<Skipped>,
    /// What the operator should know before a kill asked for by pid (an inferred blocker).
    pub warnings: Vec<String>,
}

/// The victims' pids: the one asked for (refusing protected threads), or the batch selection.
/// A batch never chooses a transaction already rolling back, and `--blockers` chooses only
/// roots with an exact edge unless `--include-inferred`.
pub(super) fn select(
    plan: &KillPlan,
    session: &Session,
    threads: &[Thread],
    locks: &LocksReport,
) -> Result<Selection> {
    let own = session.server.connection_id;
    let roots = &locks.forest.roots;
    match &plan.target {
        Target::One(pid) => {
            if *pid == own {
                bail!(Refusal(format!("{pid} is mytriage's own connection")));
            }
            let thread = threads.iter().find(|t| t.pid == *pid).ok_or_else(|| {
                anyhow!(Refusal(format!("there is no session {pid} on this server")))
            })?;
            if let Some(why) = protected(thread) {
                bail!(Refusal(format!(
                    "session {pid} is {why}; mytriage never kills it"
                )));
            }
            Ok(Selection {
                pids: vec![*pid],
                skipped: Vec::new(),
                warnings: inferred_warning(locks, *pid).into_iter().collect(),
            })
        }
        Target::Batch {
            blockers,
            include_inferred,
            idle_in_trx_older_than,
            filter,
            max,
            ..
        } => {
            let root_pids: Vec<u64> = roots.iter().map(|r| r.info.pid).collect();
            let report = filter.apply(session.server.sources.processlist, threads.to_vec());
            let mut skipped = Vec::new();
            let mut chosen: Vec<u64> = Vec::new();
            for t in report
                .threads
                .iter()
                .filter(|t| t.pid != own && protected(t).is_none())
                .filter(|t| !blockers || root_pids.contains(&t.pid))
                .filter(|t| {
                    idle_in_trx_older_than
                        .is_none_or(|age| t.idle_in_trx && t.trx_age() >= age.as_secs())
                })
            {
                if t.rolling_back() {
                    skipped.push(Skipped {
                        pid: t.pid,
                        reason: format!(
                            "its transaction is already ROLLING BACK ({} rows left); killing it \
                             again changes nothing",
                            t.trx.as_ref().map_or(0, |x| x.rows_modified)
                        ),
                    });
                    continue;
                }
                let root = roots.iter().find(|r| r.info.pid == t.pid);
                if let Some(root) = root.filter(|r| *blockers && !LocksReport::exact_root(r)) {
                    let source = root
                        .waiters
                        .first()
                        .and_then(|w| w.waiting_for.as_ref())
                        .map_or("inference", |w| w.source);
                    if !include_inferred {
                        skipped.push(Skipped {
                            pid: t.pid,
                            reason: format!(
                                "its edges are inferred ({source}), not read from a lock table; \
                                 --include-inferred to act on them"
                            ),
                        });
                        continue;
                    }
                }
                chosen.push(t.pid);
            }
            if *blockers {
                // Biggest blast radius first, as the tree orders them.
                chosen.sort_by_key(|pid| root_pids.iter().position(|r| r == pid));
            }
            chosen.truncate(*max);
            Ok(Selection {
                pids: chosen,
                skipped,
                warnings: Vec::new(),
            })
        }
    }
}

/// A warning for `kill PID` when what makes the session a blocker is only inferred.
fn inferred_warning(locks: &LocksReport, pid: u64) -> Option<String> {
    if let Some(root) = locks.forest.roots.iter().find(|r| r.info.pid == pid)
        && !root.waiters.is_empty()
        && !LocksReport::exact_root(root)
    {
        return Some(format!(
            "{pid} is a blocker only by inference, not read from a lock table; killing it as asked"
        ));
    }
    locks
        .unresolved
        .iter()
        .any(|u| u.candidates.iter().any(|c| c.pid == pid))
        .then(|| {
            format!(
                "{pid} is only a candidate for a lock whose holder this server does not show; \
                 killing it as asked"
            )
        })
}

/// Why a thread must never be killed, if it must not.
pub(crate) fn protected(thread: &Thread) -> Option<String> {
    if let Some(user) = thread
        .user
        .as_deref()
        .filter(|u| PROTECTED_USERS.contains(u))
    {
        return Some(format!("a server thread (user '{user}')"));
    }
    if let Some(command) = thread
        .command
        .as_deref()
        .filter(|c| PROTECTED_COMMANDS.contains(c))
    {
        return Some(format!(
            "a replication or server thread (command '{command}')"
        ));
    }
    None
}

/// A refusal to kill: the user asked for something mytriage never does.
#[derive(Debug)]
pub(crate) struct Refusal(pub String);

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "refusing to kill: {}", self.0)
    }
}

impl std::error::Error for Refusal {}
