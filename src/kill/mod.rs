//! The safe kill: snapshot the victim, append the snapshot to the evidence log and flush it to
//! disk, confirm, re-verify in the statement just before the kill that it is still the same
//! session, kill it (through `mysql.rds_kill` where plain KILL is not allowed), and record the
//! outcome as a second line linked to the first. If the evidence cannot be written, nothing is
//! killed.
//!
//! One file per step: [`plan`] (the validated request), [`select`] (choosing victims),
//! [`snapshot`] (what is recorded before), [`verify`] (the identity check that gates the kill),
//! [`execute`] (the kill and the state after), [`prompt`] (the terminal and the drill pause),
//! [`view`] (the table). The record types are the evidence log's ([`crate::evidence::record`]).

use std::path::PathBuf;

use anyhow::{Context, Result};
use serde::Serialize;

use crate::connect::Session;
use crate::evidence::record::{KillOutcome, KillResult, KillSnapshot};
use crate::evidence::{EvidenceLog, Header, RecordKind};
use crate::probe::{locks, processlist};
use crate::queries;
use crate::verdict::Verdict;

mod execute;
mod plan;
mod prompt;
mod select;
mod snapshot;
mod verify;
mod view;

pub(crate) use plan::{KillPlan, Target, parse_pid};
pub(crate) use snapshot::{held_locks, held_metadata_locks};

use execute::act;
use prompt::{ask, confirmed, describe_victim};
use select::{Selection, select};
use snapshot::{Observed, snapshot, snapshot_statements};

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

/// What a kill read before choosing: the sessions, their last statements and the blocker tree,
/// from one round trip, and the victims chosen from them.
struct Survey {
    threads: Vec<processlist::Thread>,
    last: Option<std::collections::HashMap<u64, String>>,
    locks: locks::LocksReport,
    selection: Selection,
}

impl Survey {
    async fn take(session: &mut Session, plan: &KillPlan) -> Result<Survey> {
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
        let selection = select(plan, session, &threads, &locks)?;
        Ok(Survey {
            threads,
            last,
            locks,
            selection,
        })
    }

    fn observed(&self) -> Observed<'_> {
        Observed {
            threads: &self.threads,
            last: self.last.as_ref(),
            roots: &self.locks.forest.roots,
        }
    }

    /// Every victim's snapshot statements in one round trip, taken at the moment of the
    /// selection, and the server's clock. The re-verification just before each KILL is not read
    /// ahead: it stays its own round trip and reads the session as it is then (`identity`,
    /// through `Db::query_live`). That is a safety rule, not a cost to optimise away: the check
    /// must gate the kill.
    async fn read_ahead(&self, session: &mut Session) -> Result<String> {
        let pids = &self.selection.pids;
        if pids.is_empty() {
            return Ok(String::new());
        }
        let ahead = snapshot_statements(session, pids, &self.threads);
        let ahead: Vec<&str> = ahead.iter().map(String::as_str).collect();
        session
            .db
            .prefetch("snapshotting the victims", &ahead)
            .await?;
        let clock: Vec<String> = session
            .db
            .query("reading the server clock", queries::SERVER_NOW)
            .await?;
        Ok(clock.into_iter().next().unwrap_or_default())
    }
}

/// Runs the plan: select victims, then snapshot, record, confirm, verify, kill and record each.
pub(crate) async fn run(
    session: &mut Session,
    plan: &KillPlan,
    log: &mut EvidenceLog,
) -> Result<KillReport> {
    let survey = Survey::take(session, plan).await?;
    for warning in &survey.selection.warnings {
        eprintln!("mytriage: warning: {warning}");
    }
    for skip in &survey.selection.skipped {
        eprintln!("mytriage: not choosing {}: {}", skip.pid, skip.reason);
    }
    let batch_dry_run = matches!(plan.target, Target::Batch { execute: false, .. });
    let dry_run = plan.dry_run || batch_dry_run;
    let reason = match &plan.reason {
        Some(reason) => reason.clone(),
        None => ask("Reason for the kill (goes into the evidence log): ")?,
    };
    let now = survey.read_ahead(session).await?;
    let mut victims = Vec::new();
    for &pid in &survey.selection.pids {
        let seen = survey.observed();
        let snapshot = snapshot(session, plan, pid, &seen, &reason, dry_run, &now).await?;
        log.append(&snapshot)
            .context("the snapshot could not be written, so nothing was killed")?;
        describe_victim(&snapshot);
        let confirmed = dry_run || confirmed(plan, pid)?;
        let outcome = conclude(session, plan, &snapshot, dry_run, confirmed, log).await?;
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
        victims.push(Victim { snapshot, outcome });
    }
    session.db.forget_prefetched();
    Ok(KillReport {
        evidence: log.path().to_owned(),
        dry_run,
        victims,
        skipped: survey.selection.skipped,
    })
}

/// The first half of a kill for a caller that asks on its own screen (the console): select the
/// one session of `plan` (refusing protected threads as `kill PID` does), snapshot it, and write
/// the snapshot to the evidence log. Nothing is killed yet. Also returns the warnings `kill PID`
/// prints (an inferred blocker).
pub(crate) async fn record_snapshot(
    session: &mut Session,
    plan: &KillPlan,
    reason: &str,
    log: &mut EvidenceLog,
) -> Result<(KillSnapshot, Vec<String>)> {
    let survey = Survey::take(session, plan).await?;
    let now = survey.read_ahead(session).await?;
    let Some(&pid) = survey.selection.pids.first() else {
        anyhow::bail!("nothing to kill");
    };
    let seen = survey.observed();
    let taken = snapshot(session, plan, pid, &seen, reason, false, &now).await;
    session.db.forget_prefetched();
    let taken = taken?;
    log.append(&taken)
        .context("the snapshot could not be written, so nothing was killed")?;
    Ok((taken, survey.selection.warnings))
}

/// The second half: with the operator's answer, re-verify and kill (or record that they said
/// no), and write the outcome to the evidence log, linked to its snapshot.
pub(crate) async fn conclude(
    session: &mut Session,
    plan: &KillPlan,
    snapshot: &KillSnapshot,
    dry_run: bool,
    confirmed: bool,
    log: &mut EvidenceLog,
) -> Result<KillOutcome> {
    let mut outcome = act(session, plan, snapshot, dry_run, confirmed).await?;
    outcome.header = Header::new(RecordKind::KillOutcome); // stamped when written, after the kill
    log.append(&outcome)
        .context("the outcome could not be written to the evidence log")?;
    Ok(outcome)
}

#[cfg(test)]
mod tests;
