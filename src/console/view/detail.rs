//! A session's detail: its statement, its transaction, who blocks it and whom it blocks, the
//! locks it holds and its plan.

use ratatui::text::{Line, Text};

use super::Palette;
use crate::console::app::App;
use crate::console::sampler::Detail;
use crate::probe::explain::ExplainReport;
use crate::probe::locks::LockSession;
use crate::probe::locks::tree::Node;
use crate::probe::locks::view::describe_wait;
use crate::render::{account, serde_label};
use crate::verdict::Verdict;

/// Where `pid` sits in the blocker tree: its node, and the sessions it waits for.
fn place(roots: &[Node<LockSession>], pid: u64) -> (Option<&Node<LockSession>>, Vec<u64>) {
    fn walk<'a>(
        nodes: &'a [Node<LockSession>],
        parent: Option<u64>,
        pid: u64,
        found: &mut Option<&'a Node<LockSession>>,
        blockers: &mut Vec<u64>,
    ) {
        for node in nodes {
            if node.info.pid == pid {
                found.get_or_insert(node);
                blockers.extend(parent.filter(|p| !blockers.contains(p)));
            }
            walk(&node.waiters, Some(node.info.pid), pid, found, blockers);
        }
    }
    let (mut found, mut blockers) = (None, Vec::new());
    walk(roots, None, pid, &mut found, &mut blockers);
    (found, blockers)
}

pub(super) fn detail_text(
    app: &App,
    pid: u64,
    detail: Option<&Detail>,
    palette: Palette,
) -> Text<'static> {
    let mut lines = Vec::new();
    let Some(thread) = app.threads().iter().find(|t| t.pid == pid) else {
        return Text::from(format!("Session {pid} is no longer on the server."));
    };
    lines.push(Line::styled(
        format!(
            "{}  db {}  {} for {}s  {}",
            account(thread.user.as_deref(), thread.host.as_deref()),
            thread.db.as_deref().unwrap_or("(none)"),
            thread.command.as_deref().unwrap_or("?"),
            thread.time_s.unwrap_or(0),
            thread.state.as_deref().unwrap_or("")
        ),
        palette.heading(),
    ));
    match &thread.trx {
        Some(trx) => lines.push(Line::from(format!(
            "Transaction {} {} for {}s{}, {} rows locked, {} modified{}",
            trx.id,
            trx.state,
            trx.age_s,
            trx.isolation
                .as_deref()
                .map(|i| format!(" ({i})"))
                .unwrap_or_default(),
            trx.rows_locked,
            trx.rows_modified,
            if thread.idle_in_trx {
                "; IDLE IN TRX"
            } else {
                ""
            }
        ))),
        None => lines.push(Line::from("No transaction.")),
    }
    let locks = app
        .snapshot
        .as_deref()
        .and_then(|s| s.report.triage.locks.as_ref());
    let (node, blockers) = locks.map_or((None, Vec::new()), |l| place(&l.forest.roots, pid));
    let last = node.and_then(|n| n.info.last_statement.clone());
    lines.push(Line::from(""));
    match (&thread.statement, last) {
        (Some(statement), _) => {
            lines.push(Line::styled("Statement", palette.heading()));
            lines.push(Line::from(statement.clone()));
        }
        (None, Some(last)) => {
            lines.push(Line::styled(
                "Last statement (it runs nothing now)",
                palette.heading(),
            ));
            lines.push(Line::from(last));
        }
        (None, None) => lines.push(Line::from("It runs nothing now.")),
    }
    lines.push(Line::from(""));
    if blockers.is_empty() {
        lines.push(Line::from("Blocked by: nobody"));
    } else {
        let wait = node
            .and_then(|n| n.waiting_for.as_deref())
            .map(|w| {
                format!(
                    " ({}, {} from {})",
                    describe_wait(w),
                    serde_label(&w.how),
                    w.source
                )
            })
            .unwrap_or_default();
        let pids: Vec<String> = blockers.iter().map(u64::to_string).collect();
        lines.push(Line::styled(
            format!("Blocked by: {}{wait}", pids.join(", ")),
            palette.verdict(Verdict::Warn),
        ));
    }
    match node.filter(|n| n.waiters_total > 0) {
        Some(n) => {
            let direct: Vec<String> = n.waiters.iter().map(|w| w.info.pid.to_string()).collect();
            lines.push(Line::styled(
                format!(
                    "Blocks: {} session(s); directly {}",
                    n.waiters_total,
                    direct.join(", ")
                ),
                palette.verdict(Verdict::Crit),
            ));
        }
        None => lines.push(Line::from("Blocks: nobody")),
    }
    let Some(detail) = detail else {
        lines.push(Line::from(""));
        lines.push(Line::styled(
            "Reading the plan and the locks…",
            palette.dim(),
        ));
        return Text::from(lines);
    };
    lines.push(Line::from(""));
    lines.push(Line::styled("Locks held", palette.heading()));
    match &detail.locks {
        Ok(held) if held.is_empty() => lines.push(Line::from("  no row locks")),
        Ok(held) => lines.extend(held.iter().map(|l| {
            Line::from(format!(
                "  {} {} {} {} {} ×{}",
                l.table.as_deref().unwrap_or("?"),
                l.index.as_deref().unwrap_or(""),
                l.lock_type.as_deref().unwrap_or(""),
                l.lock_mode.as_deref().unwrap_or(""),
                l.status.as_deref().unwrap_or(""),
                l.count
            ))
        })),
        Err(error) => lines.push(Line::styled(format!("  not read: {error}"), palette.dim())),
    }
    match &detail.metadata_locks {
        Ok(held) => lines.extend(held.iter().map(|l| {
            Line::from(format!(
                "  metadata {} {} {} {}",
                l.object_type.as_deref().unwrap_or(""),
                l.object.as_deref().unwrap_or(""),
                l.lock_type.as_deref().unwrap_or(""),
                l.duration.as_deref().unwrap_or("")
            ))
        })),
        Err(error) => lines.push(Line::styled(
            format!("  metadata locks not read: {error}"),
            palette.dim(),
        )),
    }
    lines.push(Line::from(""));
    match &detail.explain {
        Ok(report) => {
            lines.push(Line::styled(
                format!("Plan ({})", report.source),
                palette.heading(),
            ));
            lines.extend(plan_lines(report, palette));
        }
        Err(error) => lines.push(Line::styled(
            format!("Plan not read: {error}"),
            palette.dim(),
        )),
    }
    Text::from(lines)
}

/// The plan as the server gave it: the tree or JSON text, the classic rows one per line, or
/// the one-line reason there is none.
fn plan_lines(report: &ExplainReport, palette: Palette) -> Vec<Line<'static>> {
    if let Some(reason) = &report.reason {
        return vec![Line::styled(format!("No plan: {reason}"), palette.dim())];
    }
    if let Some(plan) = &report.plan {
        return plan.lines().map(|l| Line::from(l.to_owned())).collect();
    }
    report
        .rows
        .iter()
        .map(|row| {
            let cells: Vec<String> = row
                .iter()
                .filter(|(_, value)| !value.is_empty() && value != "NULL")
                .map(|(name, value)| format!("{name}={value}"))
                .collect();
            Line::from(format!("  {}", cells.join("  ")))
        })
        .collect()
}
