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
    /// The last verdict posted by `--notify`; a state file from before it has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    last_notified: Option<Verdict>,
}

/// Where `check --notify` posts, and how the message names the server.
pub(crate) struct Notify<'a> {
    pub webhook: &'a crate::notify::Webhook,
    pub config: &'a crate::connect::ConnectConfig,
}

/// Takes the snapshot, judges it, and turns "a deadlock since the last check" into a WARN. With
/// `notify`, a verdict other than the last one posted (kept in the state file) is posted; a post
/// that fails is said on stderr and tried again at the next run, and never changes the exit code.
pub(crate) async fn collect(
    session: &mut Session,
    limits: &Thresholds,
    state: Option<&Path>,
    notify: Option<Notify<'_>>,
) -> Result<CheckReport> {
    let triage = triage::collect(session).await?;
    let mut findings = thresholds::evaluate(&triage, limits, triage.deadlock_age_s());
    let stored = match state {
        Some(path) => read_state(path)?,
        None => None,
    };
    let last_notified = stored.as_ref().and_then(|s| s.last_notified);
    // When the InnoDB status was not read, the deadlock is left as it was for the next run.
    let deadlocks_read = triage.unavailable(Section::InnodbStatus).is_none();
    let mut last_deadlock = stored.as_ref().and_then(|s| s.last_deadlock.clone());
    if state.is_some() && deadlocks_read {
        let latest = triage
            .latest_deadlock
            .as_ref()
            .map(crate::probe::deadlocks::key);
        let previous = stored.as_ref();
        if let Some(finding) = findings.iter_mut().find(|f| f.check == "deadlock") {
            let previous_key = previous.as_ref().and_then(|s| s.last_deadlock.clone());
            let new = latest.is_some() && previous.is_some() && latest != previous_key;
            finding.verdict = if new { Verdict::Warn } else { Verdict::Ok };
            finding.value = if new { 1.0 } else { 0.0 };
            if new {
                finding.summary = format!("new since the last check: {}", finding.summary);
            }
        }
        last_deadlock = latest;
    }
    let verdict = thresholds::worst(&findings);
    let mut notified = last_notified;
    if let Some(notify) = &notify
        && crate::notify::changed(last_notified, verdict)
    {
        let report = crate::workflow::status::StatusReport {
            verdict,
            findings: findings.clone(),
            thresholds: limits.clone(),
            triage,
        };
        let change = crate::notify::Change {
            verdict,
            previous: last_notified,
            server: notify.config.target(),
            command: crate::notify::command_for(notify.config),
            by: "check",
            report: &report,
        };
        let body = crate::notify::payload(&change, notify.webhook.style);
        match notify.webhook.post(&body).await {
            Ok(()) => notified = Some(verdict),
            Err(error) => eprintln!("mytriage: {}", crate::error::one_line(&error)),
        }
    } else if notify.is_some() {
        notified = Some(verdict);
    }
    if let Some(path) = state
        && (deadlocks_read || notified != last_notified)
    {
        write_state(
            path,
            &State {
                last_deadlock,
                last_notified: notified,
            },
        )?;
    }
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
