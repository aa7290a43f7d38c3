//! The safe kill: snapshot the victim, append the snapshot to the evidence log and flush it to
//! disk, confirm, re-verify in the statement just before the kill that it is still the same
//! session, kill it (through `mysql.rds_kill` where plain KILL is not allowed), and record the
//! outcome as a second line linked to the first. If the evidence cannot be written, nothing is
//! killed.

use std::collections::HashMap;
use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use serde::Serialize;

use crate::connect::row::Columns;
use crate::connect::{Session, inline_numbers};
use crate::evidence::record::{
    After, AfterState, BlastRadius, HeldLock, HeldMetadataLock, KillMethod, KillOutcome,
    KillResult, KillSnapshot, ServerStamp, SnapshotThread,
};
use crate::evidence::{EvidenceLog, Header, RecordKind};
use crate::probe::locks::tree::Node;
use crate::probe::locks::{self, LockSession, LocksReport};
use crate::probe::processlist::{self, Filter, Thread};
use crate::queries;
use crate::render::{Block, Report, View, ViewOptions, clip, serde_label, strip_port};
use crate::server::Managed;
use crate::verdict::Verdict;

/// Set to a file path, mytriage creates that file once the snapshot is on disk and waits, before
/// re-verifying and killing, until the file is removed. For tests and incident drills: it makes
/// "evidence first" observable from outside.
pub(crate) const PAUSE_ENV: &str = "MYTRIAGE_PAUSE_BEFORE_KILL";

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

/// What `kill` reports: one line per victim.
#[derive(Debug, Serialize)]
pub(crate) struct KillReport {
    pub evidence: PathBuf,
    pub dry_run: bool,
    pub victims: Vec<Victim>,
    /// Sessions the selection matched but did not choose, and why (an inferred edge, a
    /// transaction already rolling back).
    pub skipped: Vec<Skipped>,
}

/// A session a batch kill left alone.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Skipped {
    pub pid: u64,
    pub reason: String,
}

/// One victim's snapshot summary and outcome.
#[derive(Debug, Serialize)]
pub(crate) struct Victim {
    pub snapshot: KillSnapshot,
    pub outcome: KillOutcome,
}

impl KillReport {
    /// OK when every victim went as asked, WARN when one changed or was not confirmed, CRIT
    /// when a kill failed.
    pub(crate) fn verdict(&self) -> Verdict {
        let results = self.victims.iter().map(|v| v.outcome.result);
        if results.clone().any(|r| r == KillResult::Failed) {
            Verdict::Crit
        } else if results
            .clone()
            .any(|r| matches!(r, KillResult::Changed | KillResult::NotConfirmed))
        {
            Verdict::Warn
        } else {
            Verdict::Ok
        }
    }
}

/// Runs the plan: select victims, then snapshot, record, confirm, verify, kill and record each.
pub(crate) async fn run(
    session: &mut Session,
    plan: &KillPlan,
    log: &mut EvidenceLog,
) -> Result<KillReport> {
    session.require_process("kill")?;
    // The selection reads its snapshot in one round trip.
    let ahead = locks::snapshot(&session.server);
    session
        .db
        .prefetch("taking the kill snapshot", &ahead)
        .await?;
    let threads = processlist::threads(session).await?;
    let last = processlist::last_statements(session).await?;
    let locks = locks::collect_with(session, &threads, last.as_ref()).await?;
    session.db.forget_prefetched();
    let seen = Observed {
        threads: &threads,
        last: last.as_ref(),
        roots: &locks.forest.roots,
    };
    let Selection { pids, skipped } = select(plan, session, &threads, &locks)?;
    for skip in &skipped {
        eprintln!("mytriage: not choosing {}: {}", skip.pid, skip.reason);
    }
    let batch_dry_run = matches!(plan.target, Target::Batch { execute: false, .. });
    let dry_run = plan.dry_run || batch_dry_run;
    let reason = match &plan.reason {
        Some(reason) => reason.clone(),
        None => ask("Reason for the kill (goes into the evidence log): ")?,
    };
    // Every victim's snapshot in one round trip, taken at the moment of the selection. The
    // re-verification just before each KILL is not read ahead: it stays its own round trip and
    // reads the session as it is then (`identity`, through `Db::query_live`). That is a safety
    // rule, not a cost to optimise away: the check must gate the kill.
    let mut now = String::new();
    if !pids.is_empty() {
        let ahead = snapshot_statements(session, &pids, &threads);
        let ahead: Vec<&str> = ahead.iter().map(String::as_str).collect();
        session
            .db
            .prefetch("snapshotting the victims", &ahead)
            .await?;
        let clock: Vec<String> = session
            .db
            .query("reading the server clock", queries::SERVER_NOW)
            .await?;
        now = clock.into_iter().next().unwrap_or_default();
    }
    let mut victims = Vec::new();
    for pid in pids {
        let snapshot = snapshot(session, plan, pid, &seen, &reason, dry_run, &now).await?;
        log.append(&snapshot)
            .context("the snapshot could not be written, so nothing was killed")?;
        let mut outcome = act(session, plan, &snapshot, dry_run).await?;
        outcome.header = Header::new(RecordKind::KillOutcome); // stamped when written, after the kill
        match (outcome.result, &outcome.error) {
            (KillResult::Changed, _) => eprintln!(
                "mytriage: not killing {pid}: it is not the session snapshotted: {}",
                outcome.changed.join("; ")
            ),
            (KillResult::Failed, Some(error)) => {
                eprintln!("mytriage: killing {pid} failed: {error}")
            }
            _ => {}
        }
        log.append(&outcome)
            .context("the outcome could not be written to the evidence log")?;
        victims.push(Victim { snapshot, outcome });
    }
    session.db.forget_prefetched();
    Ok(KillReport {
        evidence: log.path().to_owned(),
        dry_run,
        victims,
        skipped,
    })
}

/// The statements of every victim's snapshot, inlined so they ride in one batch: its identity,
/// its row locks (by transaction id) and its metadata locks, and the server clock. What cannot
/// be inlined (a transaction id that is not a number) is read on its own later.
fn snapshot_statements(session: &Session, pids: &[u64], threads: &[Thread]) -> Vec<String> {
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

/// The victims chosen, and the sessions matched but left alone.
struct Selection {
    pids: Vec<u64>,
    skipped: Vec<Skipped>,
}

/// The victims' pids: the one asked for (refusing protected threads), or the batch selection.
/// A batch never chooses a transaction already rolling back, and `--blockers` chooses only
/// roots with an exact edge unless `--include-inferred`.
fn select(
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
            if let Some(warning) = inferred_warning(locks, *pid) {
                eprintln!("mytriage: warning: {warning}");
            }
            Ok(Selection {
                pids: vec![*pid],
                skipped: Vec::new(),
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

/// What was read once before the victims are handled: each snapshot takes its part from here.
struct Observed<'a> {
    threads: &'a [Thread],
    last: Option<&'a HashMap<u64, String>>,
    roots: &'a [Node<LockSession>],
}

async fn snapshot(
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
        blocks: blast_radius(seen.roots, pid),
        thread: SnapshotThread::from(&thread),
    })
}

fn blast_radius(roots: &[Node<LockSession>], pid: u64) -> BlastRadius {
    fn find(nodes: &[Node<LockSession>], pid: u64) -> Option<&Node<LockSession>> {
        nodes.iter().find_map(|n| {
            if n.info.pid == pid {
                Some(n)
            } else {
                find(&n.waiters, pid)
            }
        })
    }
    fn collect(node: &Node<LockSession>, out: &mut Vec<u64>) {
        for waiter in &node.waiters {
            if !out.contains(&waiter.info.pid) {
                out.push(waiter.info.pid);
            }
            collect(waiter, out);
        }
    }
    let Some(node) = find(roots, pid) else {
        return BlastRadius::default();
    };
    let mut waiter_pids = Vec::new();
    collect(node, &mut waiter_pids);
    waiter_pids.sort_unstable();
    BlastRadius {
        waiters_total: node.waiters_total,
        waiter_pids,
    }
}

async fn held_locks(session: &mut Session, trx_id: &str) -> Result<Vec<HeldLock>> {
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

async fn held_metadata_locks(session: &mut Session, pid: u64) -> Result<Vec<HeldMetadataLock>> {
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

/// A session's identity as the server sees it now.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Identity {
    pub user: Option<String>,
    pub host: Option<String>,
    pub command: Option<String>,
    pub statement: Option<String>,
    pub trx_id: Option<String>,
    pub trx_started: Option<String>,
    pub trx_state: Option<String>,
    pub trx_rows_modified: Option<u64>,
    pub activity: Option<u64>,
}

/// The session as the server sees it now: the re-verification that gates the kill, always
/// read from the server (one round trip; a prepared statement would take two).
async fn identity(session: &mut Session, pid: u64) -> Result<Option<Identity>> {
    read_identity(session, pid, true).await
}

/// A session's identity: `live` from the server, or else as read ahead with the snapshots.
async fn read_identity(session: &mut Session, pid: u64, live: bool) -> Result<Option<Identity>> {
    let sql = session.server.thread_identity_query();
    let inlined = inline_numbers(sql, &[&pid.to_string()]).context("a pid is a number")?;
    let rows: Vec<mysql_async::Row> = if live {
        session
            .db
            .query_live("re-reading the session", &inlined)
            .await?
    } else {
        session.db.query("reading the session", &inlined).await?
    };
    Ok(rows.first().map(|row| {
        let col = Columns(row);
        Identity {
            user: col.text("user"),
            host: col.text("host"),
            command: col.text("command"),
            statement: col.text("info"),
            trx_id: col.text("trx_id"),
            trx_started: col.text("trx_started"),
            trx_state: col.text("trx_state"),
            trx_rows_modified: col.u64("trx_rows_modified"),
            activity: col.u64("activity"),
        }
    }))
}

/// What differs between the snapshot and the session now; empty means "the same session".
pub(crate) fn changes(snapshot: &KillSnapshot, now: Option<&Identity>) -> Vec<String> {
    let Some(now) = now else {
        return vec!["the session has ended".to_owned()];
    };
    let thread = &snapshot.thread;
    let mut changed = Vec::new();
    let mut differ = |what: &str, before: Option<&str>, after: Option<&str>| {
        if before != after {
            changed.push(format!(
                "{what}: {} → {}",
                before.unwrap_or("none"),
                after.unwrap_or("none")
            ));
        }
    };
    differ("user", thread.user.as_deref(), now.user.as_deref());
    // Sources disagree on whether the host carries the client port; the name is what identifies.
    differ(
        "host",
        thread.host.as_deref().map(strip_port),
        now.host.as_deref().map(strip_port),
    );
    match &thread.trx {
        Some(trx) => {
            differ("transaction", Some(trx.id.as_str()), now.trx_id.as_deref());
            differ(
                "transaction start",
                snapshot.trx_started.as_deref(),
                now.trx_started.as_deref(),
            );
        }
        None => {
            differ("transaction", None, now.trx_id.as_deref());
            differ(
                "statement",
                thread.statement.as_deref(),
                now.statement.as_deref(),
            );
        }
    }
    if let (Some(before), Some(after)) = (snapshot.activity, now.activity)
        && before != after
    {
        changed.push(format!(
            "it ran another statement since the snapshot (activity {before} → {after})"
        ));
    }
    changed
}

/// Confirm, re-verify, kill, and look at the session afterwards.
async fn act(
    session: &mut Session,
    plan: &KillPlan,
    snapshot: &KillSnapshot,
    dry_run: bool,
) -> Result<KillOutcome> {
    let outcome = |result| KillOutcome {
        header: Header::new(RecordKind::KillOutcome),
        snapshot_id: snapshot.header.id.clone(),
        pid: snapshot.pid,
        result,
        method: None,
        error: None,
        changed: Vec::new(),
        after: None,
    };
    describe_victim(snapshot);
    if !dry_run && !confirmed(plan, snapshot.pid)? {
        return Ok(outcome(KillResult::NotConfirmed));
    }
    pause_for_drill().await?;
    let now = identity(session, snapshot.pid).await?;
    let changed = changes(snapshot, now.as_ref());
    if !changed.is_empty() {
        return Ok(KillOutcome {
            changed,
            ..outcome(KillResult::Changed)
        });
    }
    if dry_run {
        return Ok(outcome(KillResult::DryRun));
    }
    Ok(match kill(session, snapshot.pid, plan.query_only).await {
        Ok(method) => KillOutcome {
            method: Some(method),
            after: Some(after(session, snapshot.pid, plan.wait, plan.query_only).await?),
            ..outcome(KillResult::Killed)
        },
        Err(error) => KillOutcome {
            error: Some(crate::error::one_line(&error)),
            ..outcome(KillResult::Failed)
        },
    })
}

/// Sends the kill: plain KILL, or the RDS procedures on RDS/Aurora or when KILL is not allowed.
async fn kill(session: &mut Session, pid: u64, query_only: bool) -> Result<KillMethod> {
    let (plain, procedure) = if query_only {
        (KillMethod::KillQuery, KillMethod::RdsKillQuery)
    } else {
        (KillMethod::Kill, KillMethod::RdsKill)
    };
    // A method's name is the statement (or the procedure) that kills.
    let (statement, procedure_name) = (serde_label(&plain), serde_label(&procedure));
    let managed = matches!(session.server.managed, Some(Managed::Rds | Managed::Aurora));
    if !managed {
        // The pid is a validated number, so formatting it into the statement is safe.
        match session
            .db
            .run("killing the session", &format!("{statement} {pid}"))
            .await
        {
            Ok(()) => return Ok(plain),
            Err(error) if !is_kill_denied(&error) => return Err(error),
            Err(error) => {
                let available: Vec<String> = session
                    .db
                    .query("looking for mysql.rds_kill", queries::RDS_KILL_PROCEDURES)
                    .await?;
                if !available
                    .iter()
                    .any(|name| procedure_name.ends_with(name.as_str()))
                {
                    return Err(error.context(
                        "this account may not kill other users' sessions: it needs CONNECTION_ADMIN (or SUPER)",
                    ));
                }
            }
        }
    }
    session
        .db
        .run(
            "killing the session",
            &format!("CALL {procedure_name}({pid})"),
        )
        .await?;
    Ok(procedure)
}

fn is_kill_denied(error: &anyhow::Error) -> bool {
    let denied_codes = [1095, 1227];
    error.chain().any(|cause| {
        matches!(cause.downcast_ref::<mysql_async::Error>(), Some(mysql_async::Error::Server(s)) if denied_codes.contains(&s.code))
    }) || error.downcast_ref::<crate::error::Failure>().is_some_and(crate::error::Failure::is_privilege)
}

/// The session after the kill; with `--wait`, once it is gone or done rolling back.
async fn after(session: &mut Session, pid: u64, wait: bool, query_only: bool) -> Result<After> {
    let mut waited = Duration::ZERO;
    loop {
        // KILL returns at once; the session notices it at its next check.
        tokio::time::sleep(Duration::from_millis(200)).await;
        waited += Duration::from_millis(200);
        let now = identity(session, pid).await?;
        let after = match &now {
            None => After {
                state: AfterState::Gone,
                command: None,
                trx_state: None,
                rows_left: None,
            },
            Some(id) => After {
                state: match (id.trx_state.as_deref(), id.command.as_deref()) {
                    (Some("ROLLING BACK"), _) => AfterState::RollingBack,
                    (_, Some("Killed")) => AfterState::Killed,
                    _ => AfterState::Running,
                },
                command: id.command.clone(),
                trx_state: id.trx_state.clone(),
                rows_left: id.trx_rows_modified,
            },
        };
        // A killed connection goes away; after KILL QUERY the connection stays by design.
        let settling =
            !query_only && after.state != AfterState::Gone && waited < Duration::from_secs(2);
        let rolling = wait && matches!(after.state, AfterState::RollingBack | AfterState::Killed);
        if !(settling || rolling) {
            return Ok(after);
        }
        if rolling && waited.as_secs() % 5 == 0 {
            eprintln!(
                "mytriage: session {pid} is {} ({} rows left)",
                serde_label(&after.state),
                after.rows_left.unwrap_or(0)
            );
        }
    }
}

fn describe_victim(snapshot: &KillSnapshot) {
    let thread = &snapshot.thread;
    let trx = thread
        .trx
        .as_ref()
        .map(|t| {
            format!(
                "transaction {} open {}s, {} rows to roll back",
                t.id, t.age_s, t.rows_modified
            )
        })
        .unwrap_or_else(|| "no transaction".to_owned());
    let statement = thread
        .statement
        .as_deref()
        .or(snapshot.last_statement.as_deref())
        .unwrap_or("");
    eprintln!(
        "mytriage: session {} {}@{} ({}); {trx}; blocks {} session(s); {}",
        snapshot.pid,
        thread.user.as_deref().unwrap_or("?"),
        thread.host.as_deref().unwrap_or("?"),
        thread.command.as_deref().unwrap_or("?"),
        snapshot.blocks.waiters_total,
        clip(statement, false)
    );
}

fn confirmed(plan: &KillPlan, pid: u64) -> Result<bool> {
    if plan.yes {
        return Ok(true);
    }
    if !std::io::stdin().is_terminal() {
        eprintln!(
            "mytriage: not killing {pid}: no terminal to confirm on; pass --yes to kill without asking"
        );
        return Ok(false);
    }
    let answer = ask(&format!("Kill session {pid}? [y/N] "))?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes" | "YES"))
}

fn ask(prompt: &str) -> Result<String> {
    eprint!("{prompt}");
    std::io::stderr().flush().ok();
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("reading the answer")?;
    Ok(line.trim().to_owned())
}

/// The drill hook ([`PAUSE_ENV`]): announce the pause with a file, wait for its removal.
async fn pause_for_drill() -> Result<()> {
    let Some(path) = std::env::var_os(PAUSE_ENV).map(PathBuf::from) else {
        return Ok(());
    };
    std::fs::write(&path, b"paused before the kill\n")
        .with_context(|| format!("{PAUSE_ENV}: writing {}", path.display()))?;
    while path.exists() {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

impl Report for KillReport {
    fn view(&self, _: &ViewOptions) -> View {
        let header = [
            "pid",
            "user@host",
            "trx",
            "blocks",
            "result",
            "method",
            "after",
            "changed / error",
        ];
        let rows = self
            .victims
            .iter()
            .map(|v| {
                let thread = &v.snapshot.thread;
                let after = v.outcome.after.as_ref().map(|a| match a.rows_left {
                    Some(rows) if a.state != AfterState::Gone => {
                        format!("{} ({rows} rows left)", serde_label(&a.state))
                    }
                    _ => serde_label(&a.state),
                });
                vec![
                    v.snapshot.pid.to_string(),
                    format!(
                        "{}@{}",
                        thread.user.as_deref().unwrap_or("?"),
                        thread.host.as_deref().unwrap_or("?")
                    ),
                    thread
                        .trx
                        .as_ref()
                        .map(|t| format!("{}s", t.age_s))
                        .unwrap_or_default(),
                    v.snapshot.blocks.waiters_total.to_string(),
                    serde_label(&v.outcome.result),
                    v.outcome
                        .method
                        .as_ref()
                        .map(serde_label)
                        .unwrap_or_default(),
                    after.unwrap_or_default(),
                    v.outcome
                        .error
                        .clone()
                        .unwrap_or_else(|| v.outcome.changed.join("; ")),
                ]
            })
            .collect();
        let mut blocks = vec![Block::Table {
            title: None,
            header: header.map(str::to_owned).to_vec(),
            rows,
        }];
        if self.victims.is_empty() {
            blocks = vec![Block::Note(
                "No session matched: nothing to kill.".to_owned(),
            )];
        }
        for skip in &self.skipped {
            blocks.push(Block::Note(format!(
                "skipped {}: {}",
                skip.pid, skip.reason
            )));
        }
        if self.dry_run {
            blocks.push(Block::Note(
                "dry run: nothing was killed (batch kills need --execute)".to_owned(),
            ));
        }
        blocks.push(Block::Note(format!(
            "evidence: {}",
            self.evidence.display()
        )));
        View { blocks }
    }
}

#[cfg(test)]
mod tests;
