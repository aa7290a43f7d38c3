//! Judging a snapshot against the thresholds: one finding per check, each with a verdict and a
//! sentence that names the sessions involved.

use crate::probe::connections::ConnectionsReport;
use crate::probe::locks::LockSession;
use crate::probe::locks::LocksReport;
use crate::probe::locks::tree::Node;
use crate::probe::replication::Channel;
use crate::render::{account, now_or_last};
use crate::verdict::Verdict;
use crate::workflow::triage::{Section, Triage, Unavailable};
use serde::Serialize;

use super::Thresholds;

/// One judged line of `status` and `check`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub(crate) struct Finding {
    /// connections, threads_running, blockers, oldest_trx, idle_in_trx, history, deadlock,
    /// replication (on a replica only).
    pub check: &'static str,
    pub verdict: Verdict,
    /// The number judged (percent, sessions, seconds, length).
    pub value: f64,
    /// One sentence, naming pids and statements where there are some.
    pub summary: String,
}

/// Judges a snapshot. `now` is the server's time as seconds since the epoch (for deadlock age).
pub(crate) fn evaluate(
    triage: &Triage,
    t: &Thresholds,
    deadlock_age_s: Option<u64>,
) -> Vec<Finding> {
    let history = match (
        triage.history_list_length,
        triage.unavailable(Section::History),
    ) {
        (Some(length), _) => Finding {
            check: "history",
            verdict: Verdict::of(length, t.hll_warn, t.hll_crit),
            value: length as f64,
            summary: match triage.purge_blockers.first() {
                None => format!("history list length {length}"),
                Some(oldest) => format!(
                    "history list length {length}; held back by {} session(s), oldest {}",
                    triage.purge_blockers.len(),
                    crate::probe::history::describe_blocker(oldest)
                ),
            },
        },
        (None, gap) => not_checked("history", gap),
    };
    let (connections, threads_running) = match &triage.connections {
        Some(c) => (
            connections(c, t),
            Finding {
                check: "threads_running",
                verdict: Verdict::Ok,
                value: c.threads_running as f64,
                summary: format!("{} running", c.threads_running),
            },
        ),
        None => {
            let gap = triage.unavailable(Section::Connections);
            (
                not_checked("connections", gap),
                not_checked("threads_running", gap),
            )
        }
    };
    vec![
        connections,
        threads_running,
        match &triage.locks {
            Some(locks) => blockers(locks, t),
            None => not_checked("blockers", triage.unavailable(Section::Locks)),
        },
        trx_age(
            "oldest_trx",
            triage.oldest_trx.as_ref(),
            t.trx_age_warn_s,
            t.trx_age_crit_s,
            0,
        ),
        trx_age(
            "idle_in_trx",
            triage.oldest_idle_in_trx.as_ref(),
            t.idle_trx_warn_s,
            t.idle_trx_crit_s,
            triage.idle_in_trx,
        ),
        history,
        match triage.unavailable(Section::InnodbStatus) {
            None => deadlock(triage, t, deadlock_age_s),
            gap => not_checked("deadlock", gap),
        },
    ]
    .into_iter()
    .chain(match triage.unavailable(Section::Replication) {
        None => replication(&triage.replication, t),
        gap => Some(not_checked("replication", gap)),
    })
    .collect()
}

/// Only on a replica: CRIT when a thread is stopped or failing, else the lag against the
/// thresholds; the summary names the channel, the error and the failing transaction, or the
/// session the applier waits for.
fn replication(channels: &[Channel], t: &Thresholds) -> Option<Finding> {
    let judged: Vec<(Verdict, f64, String)> = channels
        .iter()
        .map(|c| {
            let name = if c.name.is_empty() {
                String::new()
            } else {
                format!("channel {}: ", c.name)
            };
            let lag = c.lag_s();
            let lag_text = lag.map_or_else(|| "lag unknown".to_owned(), |l| format!("lag {l:.0}s"));
            let blocked = c
                .blocked_by
                .as_ref()
                .map(|b| format!("; {}", crate::probe::replication::blocked_text(b, false)))
                .unwrap_or_default();
            match c.broken() {
                Some(broken) => {
                    let failing = c
                        .failing_transaction
                        .as_deref()
                        .map(|f| format!(" at {f}"))
                        .unwrap_or_default();
                    let summary = format!("{name}{broken}{failing}; {lag_text}{blocked}");
                    (Verdict::Crit, lag.unwrap_or(0.0), summary)
                }
                None => {
                    let seconds = lag.unwrap_or(0.0);
                    let verdict = match lag {
                        Some(l) => {
                            Verdict::of(l, t.repl_lag_warn_s as f64, t.repl_lag_crit_s as f64)
                        }
                        None => Verdict::Unknown,
                    };
                    (verdict, seconds, format!("{name}{lag_text}{blocked}"))
                }
            }
        })
        .collect();
    let verdict = judged.iter().map(|(v, _, _)| *v).max()?;
    Some(Finding {
        check: "replication",
        verdict,
        value: judged.iter().map(|(_, l, _)| *l).fold(0.0, f64::max),
        summary: judged
            .into_iter()
            .map(|(_, _, s)| s)
            .collect::<Vec<_>>()
            .join(" | "),
    })
}

/// UNKNOWN: the section this check judges could not be read in time.
fn not_checked(check: &'static str, gap: Option<&Unavailable>) -> Finding {
    Finding {
        check,
        verdict: Verdict::Unknown,
        value: 0.0,
        summary: match gap {
            Some(gap) => format!("not checked: {}", gap.reason),
            None => "not checked".to_owned(),
        },
    }
}

fn connections(c: &ConnectionsReport, t: &Thresholds) -> Finding {
    let top: Vec<String> = c
        .by_user
        .iter()
        .take(3)
        .map(|g| format!("{} {}", g.name, g.total))
        .collect();
    Finding {
        check: "connections",
        verdict: Verdict::of(c.used_pct, t.conn_pct_warn, t.conn_pct_crit),
        value: c.used_pct,
        summary: format!(
            "{} of {} ({}%); top accounts: {}",
            c.threads_connected,
            c.max_connections,
            c.used_pct,
            top.join(", ")
        ),
    }
}

fn max_wait(nodes: &[Node<LockSession>]) -> u64 {
    nodes
        .iter()
        .map(|n| {
            n.waiting_for
                .as_ref()
                .and_then(|w| w.wait_s)
                .unwrap_or(0)
                .max(max_wait(&n.waiters))
        })
        .max()
        .unwrap_or(0)
}

/// The longest lock wait in the forest and among the waiters whose blocker is unknown (s).
pub(crate) fn longest_wait_s(locks: &LocksReport) -> u64 {
    locks
        .unresolved
        .iter()
        .filter_map(|u| u.waiting_for.wait_s)
        .fold(max_wait(&locks.forest.roots), u64::max)
}

/// Root blockers idle in their transaction while others wait: they will not finish by
/// themselves, so `check` calls each one CRIT (and the exporter counts them).
pub(crate) fn idle_roots(locks: &LocksReport) -> usize {
    locks
        .forest
        .roots
        .iter()
        .filter(|r| r.info.idle_in_trx && r.waiters_total > 0)
        .count()
}

/// CRIT when a root blocker sits idle in its transaction while others wait (it will not finish
/// by itself), or past the CRIT thresholds; WARN past the WARN thresholds.
fn blockers(locks: &LocksReport, t: &Thresholds) -> Finding {
    let forest = &locks.forest;
    let blocked = forest.blocked_sessions as u64;
    let longest = longest_wait_s(locks);
    let idle_root = idle_roots(locks) > 0;
    let frozen = locks.writes_frozen;
    let verdict =
        if frozen || idle_root || blocked >= t.blocked_crit || longest >= t.lock_wait_crit_s {
            Verdict::Crit
        } else if blocked >= t.blocked_warn.max(1) || longest >= t.lock_wait_warn_s && blocked > 0 {
            Verdict::Warn
        } else {
            Verdict::Ok
        };
    let frozen = if frozen { "WRITES FROZEN; " } else { "" };
    let summary = match (forest.roots.first(), locks.unresolved.first()) {
        (None, None) => "no lock waits".to_owned(),
        (None, Some(unknown)) => {
            format!(
                "{frozen}{blocked} blocked (longest wait {longest}s); blocker unknown for {} ({}); \
                 candidates: {}{}",
                unknown.session.pid,
                unknown.session.state.as_deref().unwrap_or("waiting"),
                unknown.candidate_pids(),
                unknown
                    .remedy
                    .as_deref()
                    .map(|r| format!("; {r}"))
                    .unwrap_or_default()
            )
        }
        (Some(root), _) => {
            let info = &root.info;
            let what = match now_or_last(
                info.statement.as_deref(),
                info.last_statement.as_deref(),
                false,
            ) {
                known if !known.is_empty() => known,
                _ => "statement unknown".to_owned(),
            };
            let idle = if info.rolling_back() {
                format!(
                    ", ROLLING BACK ({} rows left)",
                    info.trx_rows_modified.unwrap_or(0)
                )
            } else if info.idle_in_trx {
                ", idle in transaction".to_owned()
            } else {
                String::new()
            };
            let held = root
                .waiters
                .iter()
                .find_map(|w| w.waiting_for.as_ref()?.held.clone())
                .map(|h| format!(" ({h})"))
                .unwrap_or_default();
            let inferred = LocksReport::inferred_by(root)
                .map(|source| format!(" (inferred from {source})"))
                .unwrap_or_default();
            format!(
                "{frozen}{blocked} blocked (longest wait {longest}s); root {} {}{idle}{held} holds up {}{inferred}: {what}",
                info.pid,
                account(info.user.as_deref(), info.host.as_deref()),
                root.waiters_total
            )
        }
    };
    Finding {
        check: "blockers",
        verdict,
        value: blocked as f64,
        summary,
    }
}

fn trx_age(
    check: &'static str,
    trx: Option<&crate::probe::history::OldestTrx>,
    warn: u64,
    crit: u64,
    count: usize,
) -> Finding {
    let Some(trx) = trx else {
        return Finding {
            check,
            verdict: Verdict::Ok,
            value: 0.0,
            summary: "none".to_owned(),
        };
    };
    let what = now_or_last(
        trx.statement.as_deref(),
        trx.last_statement.as_deref(),
        false,
    );
    let count = if count > 1 {
        format!("{count} sessions; oldest ")
    } else {
        String::new()
    };
    Finding {
        check,
        verdict: Verdict::of(trx.age_s, warn, crit),
        value: trx.age_s as f64,
        summary: format!(
            "{count}pid {} {} open {}s {what}",
            trx.pid,
            account(trx.user.as_deref(), trx.host.as_deref()),
            trx.age_s
        )
        .trim_end()
        .to_owned(),
    }
}

fn deadlock(triage: &Triage, t: &Thresholds, age_s: Option<u64>) -> Finding {
    match (&triage.latest_deadlock, age_s) {
        (None, _) => Finding {
            check: "deadlock",
            verdict: Verdict::Ok,
            value: 0.0,
            summary: "none since start-up".to_owned(),
        },
        (Some(deadlock), age) => {
            let recent = age.is_some_and(|a| a < t.deadlock_window_s);
            let when = deadlock
                .detected_at
                .clone()
                .unwrap_or_else(|| "unknown time".to_owned());
            let threads: Vec<String> = deadlock
                .transactions
                .iter()
                .filter_map(|x| x.thread_id)
                .map(|id| id.to_string())
                .collect();
            Finding {
                check: "deadlock",
                verdict: if recent { Verdict::Warn } else { Verdict::Ok },
                value: if recent { 1.0 } else { 0.0 },
                summary: format!("latest at {when} between threads {}", threads.join(", ")),
            }
        }
    }
}

/// The worst verdict of a set of findings.
pub(crate) fn worst(findings: &[Finding]) -> Verdict {
    findings.iter().map(|f| f.verdict).max().unwrap_or_default()
}
