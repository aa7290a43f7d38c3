//! `mytriage status`: one screen that answers "is it the database, and what is wrong?".

use anyhow::Result;
use serde::Serialize;

use crate::connect::Session;
use crate::render::{Block, Report, View, ViewOptions};
use crate::verdict::Verdict;
use crate::workflow::thresholds::{self, Finding, Thresholds};
use crate::workflow::triage::{self, Triage};

/// What `status` reports: the verdicts, the thresholds used, and the snapshot they judged.
#[derive(Debug, Serialize)]
pub(crate) struct StatusReport {
    pub verdict: Verdict,
    pub findings: Vec<Finding>,
    pub thresholds: Thresholds,
    pub triage: Triage,
}

/// Takes the snapshot and judges it.
pub(crate) async fn collect(session: &mut Session, limits: &Thresholds) -> Result<StatusReport> {
    Ok(judge(triage::collect(session).await?, limits))
}

/// Judges a snapshot taken elsewhere (the console's).
pub(crate) fn judge(triage: Triage, limits: &Thresholds) -> StatusReport {
    let findings = thresholds::evaluate(&triage, limits, triage.deadlock_age_s());
    StatusReport {
        verdict: thresholds::worst(&findings),
        findings,
        thresholds: limits.clone(),
        triage,
    }
}

/// A verdict, coloured on a terminal, plain when piped.
pub(crate) fn paint(verdict: Verdict, color: bool) -> String {
    use crossterm::style::Stylize;
    let label = verdict.label();
    match (color, verdict) {
        (false, _) => label.to_owned(),
        (true, Verdict::Ok) => label.green().to_string(),
        (true, Verdict::Unknown) => label.magenta().to_string(),
        (true, Verdict::Warn) => label.yellow().to_string(),
        (true, Verdict::Crit) => label.red().bold().to_string(),
    }
}

impl Report for StatusReport {
    fn view(&self, options: &ViewOptions) -> View {
        let server = &self.triage.server;
        let uptime = self
            .triage
            .connections
            .as_ref()
            .and_then(|c| c.uptime_s)
            .map(human_duration)
            .unwrap_or_else(|| "?".into());
        let mut fields = vec![(
            "Server".to_owned(),
            format!(
                "{} {} on {}, up {uptime}",
                server.flavor_name,
                server.version,
                server.hostname.as_deref().unwrap_or("?")
            ),
        )];
        fields.extend(self.findings.iter().map(|f| {
            (
                // Padded outside the colour codes, which would count as width.
                format!(
                    "{}{:pad$} {}",
                    paint(f.verdict, options.color),
                    "",
                    f.check,
                    pad = 5usize.saturating_sub(f.verdict.label().len())
                ),
                f.summary.clone(),
            )
        }));
        let mut blocks = vec![Block::Fields {
            title: None,
            fields,
        }];
        for gap in &self.triage.unavailable {
            blocks.push(Block::Note(gap.to_string()));
        }
        blocks.push(Block::Note(format!(
            "Overall: {}",
            paint(self.verdict, options.color)
        )));
        View { blocks }
    }
}

pub(crate) fn human_duration(seconds: u64) -> String {
    match seconds {
        0..60 => format!("{seconds}s"),
        60..3600 => format!("{}m", seconds / 60),
        3600..86_400 => format!("{}h{}m", seconds / 3600, seconds % 3600 / 60),
        _ => format!("{}d{}h", seconds / 86_400, seconds % 86_400 / 3600),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_at_a_glance() {
        assert_eq!(human_duration(42), "42s");
        assert_eq!(human_duration(600), "10m");
        assert_eq!(human_duration(3_900), "1h5m");
        assert_eq!(human_duration(90_000), "1d1h");
    }

    #[test]
    fn verdicts_are_plain_when_piped() {
        assert_eq!(paint(Verdict::Crit, false), "CRIT");
        let painted = paint(Verdict::Crit, true);
        assert!(
            painted.starts_with('\x1b') && painted.contains("CRIT"),
            "{painted:?}"
        );
    }
}
