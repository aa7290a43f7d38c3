//! The console's text panes: the load with its sparklines, the latest deadlock and replication.

use ratatui::style::Style;
use ratatui::text::{Line, Text};

use super::Palette;
use crate::console::app::{App, LoadSummary};
use crate::console::sampler::Snapshot;
use crate::probe::deadlocks::victim_text;
use crate::probe::top;
use crate::render::clip;
use crate::verdict::Verdict;

/// Average active sessions over the window: the total and each wait class as a sparkline, then
/// the statements carrying the load.
pub(super) fn load_text(app: &App, palette: Palette) -> Text<'static> {
    let Some(LoadSummary { report, by_wait }) = &app.load else {
        return Text::from("No load sample yet.");
    };
    let mut lines = vec![Line::styled(
        format!(
            "Average active sessions over the last {} sample(s): {:.2}",
            report.samples, report.aas
        ),
        palette.heading(),
    )];
    lines.push(Line::from(format!(
        "{:<14} {:>6}  {}",
        "all",
        format!("{:.2}", report.aas),
        top::sparkline(&report.series, None)
    )));
    let reference = report.series.iter().copied().max().map(|m| m as f64);
    for (class, series) in report.by_wait.iter().zip(by_wait) {
        lines.push(Line::from(format!(
            "{:<14} {:>6}  {}",
            class.key,
            format!("{:.2}", class.aas),
            top::sparkline(series, reference)
        )));
    }
    lines.push(Line::from(""));
    lines.push(Line::styled("Top SQL by load (AAS)", palette.heading()));
    if report.by_sql.is_empty() {
        lines.push(Line::styled("  nothing active", palette.dim()));
    }
    for sql in report.by_sql.iter().take(8) {
        lines.push(Line::from(format!(
            "{:>6}  {}",
            format!("{:.2}", sql.aas),
            clip(&sql.key, false)
        )));
    }
    Text::from(lines)
}

pub(super) fn deadlock_text(snapshot: &Snapshot, palette: Palette) -> Text<'static> {
    let Some(deadlock) = &snapshot.report.triage.latest_deadlock else {
        return Text::from("No deadlock since the server started (InnoDB keeps only the latest).");
    };
    let mut lines = vec![
        Line::styled(
            format!(
                "Latest deadlock, detected at {}",
                deadlock.detected_at.as_deref().unwrap_or("?")
            ),
            palette.heading(),
        ),
        Line::from(format!("Rolled back: {}", victim_text(deadlock))),
    ];
    for trx in &deadlock.transactions {
        let victim = deadlock.victim == Some(trx.number);
        lines.push(Line::from(""));
        lines.push(Line::styled(
            format!(
                "({}) thread {}  trx {}  {}@{}  active {}s{}",
                trx.number,
                trx.thread_id.map_or("?".into(), |t| t.to_string()),
                trx.trx_id.map_or("?".into(), |t| t.to_string()),
                trx.user.as_deref().unwrap_or("?"),
                trx.host.as_deref().unwrap_or("?"),
                trx.active_secs.unwrap_or(0),
                if victim { "  ← rolled back" } else { "" }
            ),
            if victim {
                palette.verdict(Verdict::Warn)
            } else {
                Style::new()
            },
        ));
        if let Some(query) = &trx.query {
            lines.push(Line::from(format!("    {}", clip(query, false))));
        }
        let holds = trx.holds.iter().map(|lock| ("holds", lock));
        let waits = trx.waits_for.iter().map(|lock| ("waits for", lock));
        for (what, lock) in holds.chain(waits) {
            lines.push(Line::from(format!(
                "    {what} {} {} {}",
                lock.table.as_deref().unwrap_or("?"),
                lock.index.as_deref().unwrap_or(""),
                lock.mode
            )));
        }
    }
    Text::from(lines)
}

pub(super) fn replication_text(snapshot: &Snapshot, palette: Palette) -> Text<'static> {
    let triage = &snapshot.report.triage;
    let mut lines = Vec::new();
    for channel in &triage.replication {
        let name = if channel.name.is_empty() {
            "(default)"
        } else {
            &channel.name
        };
        let lag = channel
            .lag_s()
            .map_or("lag unknown".to_owned(), |l| format!("lag {l:.0}s"));
        lines.push(Line::styled(
            format!(
                "Channel {name} from {}: IO {}, SQL {}, {lag}",
                channel.source.as_deref().unwrap_or("?"),
                channel.io_running.as_deref().unwrap_or("?"),
                channel.sql_running.as_deref().unwrap_or("?"),
            ),
            palette.heading(),
        ));
        if let Some(broken) = channel.broken() {
            lines.push(Line::styled(format!("  {broken}"), palette.alert()));
        }
        if let Some(blocked) = &channel.blocked_by {
            lines.push(Line::styled(
                format!("  applier blocked by session {}", blocked.blocker_pid),
                palette.alert(),
            ));
        }
        if let Some(failing) = &channel.failing_transaction {
            lines.push(Line::from(format!("  failing transaction: {failing}")));
        }
    }
    for replica in &triage.replicas {
        lines.push(Line::from(format!(
            "Replica {}:{} (server id {}) read by session {}",
            replica.host.as_deref().unwrap_or("?"),
            replica.port.map_or("?".into(), |p| p.to_string()),
            replica.server_id.map_or("?".into(), |s| s.to_string()),
            replica.pid.map_or("?".into(), |p| p.to_string()),
        )));
    }
    for instance in &triage.aurora {
        lines.push(Line::from(format!(
            "Aurora {} {}: lag {}, updated {}",
            instance.role.label(),
            instance.server_id,
            instance
                .lag_ms
                .map_or("unknown".to_owned(), |ms| format!("{ms:.0} ms")),
            instance.last_update.as_deref().unwrap_or("?"),
        )));
    }
    if lines.is_empty() {
        lines.push(Line::from(
            "This server neither replicates from a source nor has replicas connected.",
        ));
    }
    Text::from(lines)
}
