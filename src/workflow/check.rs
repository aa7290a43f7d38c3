//! `mytriage check`: the findings of `status` as one Nagios-style line and exit code, with the
//! deadlocks since the last run remembered in a state file.

use std::path::Path;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::connect::Session;
use crate::verdict::Verdict;
use crate::workflow::thresholds::{self, Finding, Thresholds};
use crate::workflow::triage::{self, Section};

/// What `check` reports.
#[derive(Debug, Serialize)]
pub(crate) struct CheckReport {
    /// OK, WARNING or CRITICAL.
    pub status: &'static str,
    pub verdict: Verdict,
    /// The one-line summary printed for alerting systems.
    pub summary: String,
    pub findings: Vec<Finding>,
}

/// What the state file keeps between runs.
#[derive(Debug, Default, Serialize, Deserialize)]
struct State {
    last_deadlock: Option<String>,
}

/// Takes the snapshot, judges it, and turns "a deadlock since the last check" into a WARN.
pub(crate) async fn collect(
    session: &mut Session,
    limits: &Thresholds,
    state: Option<&Path>,
) -> Result<CheckReport> {
    let triage = triage::collect(session).await?;
    let mut findings = thresholds::evaluate(&triage, limits, triage.deadlock_age_s());
    // When the InnoDB status was not read, the state is left as it was for the next run.
    let state = state.filter(|_| triage.unavailable(Section::InnodbStatus).is_none());
    if let Some(path) = state {
        let latest = triage
            .latest_deadlock
            .as_ref()
            .map(crate::probe::deadlocks::key);
        let previous = read_state(path)?;
        if let Some(finding) = findings.iter_mut().find(|f| f.check == "deadlock") {
            let previous_key = previous.as_ref().and_then(|s| s.last_deadlock.clone());
            let new = latest.is_some() && previous.is_some() && latest != previous_key;
            finding.verdict = if new { Verdict::Warn } else { Verdict::Ok };
            finding.value = if new { 1.0 } else { 0.0 };
            if new {
                finding.summary = format!("new since the last check: {}", finding.summary);
            }
        }
        write_state(
            path,
            &State {
                last_deadlock: latest,
            },
        )?;
    }
    let verdict = thresholds::worst(&findings);
    let status = match verdict {
        Verdict::Ok => "OK",
        Verdict::Unknown => "UNKNOWN",
        Verdict::Warn => "WARNING",
        Verdict::Crit => "CRITICAL",
    };
    let worst: Vec<String> = findings
        .iter()
        .filter(|f| f.verdict == verdict && verdict != Verdict::Ok)
        .map(|f| format!("{}: {}", f.check, f.summary))
        .collect();
    let perfdata: Vec<String> = findings
        .iter()
        .map(|f| format!("{}={}", f.check, f.value))
        .collect();
    let headline = if worst.is_empty() {
        "all checks within thresholds".to_owned()
    } else {
        worst.join("; ")
    };
    let summary = format!("MYTRIAGE {status} - {headline} | {}", perfdata.join(" "));
    Ok(CheckReport {
        status,
        verdict,
        summary,
        findings,
    })
}

/// `None` when there is no state yet: the first run sets the baseline.
fn read_state(path: &Path) -> Result<Option<State>> {
    match std::fs::read_to_string(path) {
        Ok(text) => serde_json::from_str(&text)
            .map(Some)
            .with_context(|| format!("{} is not a check state file", path.display())),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(error).with_context(|| format!("cannot read {}", path.display())),
    }
}

fn write_state(path: &Path, state: &State) -> Result<()> {
    let text = serde_json::to_string(state)?;
    std::fs::write(path, text)
        .with_context(|| format!("cannot write the check state {}", path.display()))
}

impl crate::render::Report for CheckReport {
    fn view(&self, _: &crate::render::ViewOptions) -> crate::render::View {
        crate::render::View {
            blocks: vec![crate::render::Block::Note(self.summary.clone())],
        }
    }
}
