//! The kill dialog, step by step: the snapshot being written, the blast radius to confirm, the
//! re-verification, and the outcome.

use ratatui::text::{Line, Text};

use super::Palette;
use crate::console::app::KillStep;
use crate::evidence::record::KillSnapshot;
use crate::render::{account, now_or_last};
use crate::verdict::Verdict;

pub(super) fn kill_text(step: &KillStep, palette: Palette) -> (String, Text<'static>) {
    match step {
        KillStep::Snapshotting { pid, query_only } => (
            format!(
                " Kill {} {pid} ",
                if *query_only {
                    "the query of"
                } else {
                    "session"
                }
            ),
            Text::from(format!(
                "Writing the snapshot of session {pid} to the evidence log…"
            )),
        ),
        KillStep::Confirm { snapshot, warnings } => {
            let title = if snapshot.query_only {
                format!(" Kill the query of session {}? ", snapshot.pid)
            } else {
                format!(" Kill session {}? ", snapshot.pid)
            };
            (title, confirm_text(snapshot, warnings, palette))
        }
        KillStep::Killing { pid } => (
            format!(" Killing {pid} "),
            Text::from(format!(
                "Re-verifying that {pid} is the session snapshotted, then killing it…"
            )),
        ),
        KillStep::Done { pid, outcome } => (
            format!(" Session {pid} "),
            Text::from(vec![
                Line::styled(
                    crate::console::app::describe_outcome(outcome),
                    palette.heading(),
                ),
                Line::from(""),
                Line::from("The outcome is in the evidence log. Any key closes this."),
            ]),
        ),
        KillStep::Refused { pid, reason } => (
            format!(" Session {pid} not killed "),
            Text::from(vec![
                Line::styled(reason.clone(), palette.alert()),
                Line::from(""),
                Line::from("Any key closes this."),
            ]),
        ),
    }
}

/// The blast radius, as the snapshot on disk recorded it.
fn confirm_text(snapshot: &KillSnapshot, warnings: &[String], palette: Palette) -> Text<'static> {
    let thread = &snapshot.thread;
    let mut lines = vec![Line::from(format!(
        "{} ({}, {}s)",
        account(thread.user.as_deref(), thread.host.as_deref()),
        thread.command.as_deref().unwrap_or("?"),
        thread.time_s.unwrap_or(0)
    ))];
    lines.push(Line::from(match &thread.trx {
        Some(trx) => format!(
            "Transaction {} open {}s ({}), {} rows to roll back",
            trx.id, trx.age_s, trx.state, trx.rows_modified
        ),
        None => "No transaction".to_owned(),
    }));
    let blocks = &snapshot.blocks;
    let mut pids: Vec<String> = blocks
        .waiter_pids
        .iter()
        .take(12)
        .map(u64::to_string)
        .collect();
    if blocks.waiter_pids.len() > 12 {
        pids.push("…".into());
    }
    lines.push(Line::styled(
        format!(
            "Blocks {} session(s){}{}",
            blocks.waiters_total,
            if pids.is_empty() { "" } else { ": " },
            pids.join(", ")
        ),
        palette.verdict(if blocks.waiters_total > 0 {
            Verdict::Crit
        } else {
            Verdict::Ok
        }),
    ));
    if !blocks.appliers.is_empty() {
        lines.push(Line::from(format!(
            "Replication appliers among them: {}",
            blocks
                .appliers
                .iter()
                .map(u64::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    lines.push(Line::from(format!(
        "Holds {} row-lock group(s), {} metadata lock(s)",
        snapshot.locks.len(),
        snapshot.metadata_locks.len()
    )));
    let statement = now_or_last(
        thread.statement.as_deref(),
        snapshot.last_statement.as_deref(),
        false,
    );
    if !statement.is_empty() {
        lines.push(Line::from(statement));
    }
    for warning in warnings {
        lines.push(Line::styled(
            format!("Warning: {warning}"),
            palette.verdict(Verdict::Warn),
        ));
    }
    lines.push(Line::from(""));
    lines.push(Line::styled(
        format!("Snapshot {} is in the evidence log.", snapshot.header.id),
        palette.dim(),
    ));
    lines.push(Line::styled(
        "y kill (after re-verifying it is the same session)   n cancel",
        palette.heading(),
    ));
    Text::from(lines)
}
