//! `deadlocks --watch`: polls the latest deadlock and appends each one not yet in the evidence
//! log. The server keeps only the latest, so a poll interval shorter than the gap between
//! deadlocks is what catches them all.

use std::collections::HashSet;
use std::io::Write;

use anyhow::{Context, Result};

use crate::connect::Session;
use crate::evidence::record::{DeadlockRecord, LoggedDeadlock, RecordedDeadlock};
use crate::evidence::{EvidenceLog, Header, Record, RecordKind};
use crate::innodb_status::{self, Deadlock};
use crate::probe::deadlocks;
use crate::render::{Format, clip};
use crate::workflow::live::{Frames, Pace, Ticker};

/// Polls until Ctrl-C or `--duration`; returns how many deadlocks were recorded.
pub(crate) async fn run(
    session: &mut Session,
    pace: &Pace,
    log: &mut EvidenceLog,
    format: Format,
) -> Result<usize> {
    let (records, _) = if log.path().exists() {
        crate::evidence::read_all(log.path())?
    } else {
        (Vec::new(), 0)
    };
    let mut seen: HashSet<String> = records
        .into_iter()
        .filter_map(|r| match r {
            Record::Deadlock(d) => Some(d.key),
            _ => None,
        })
        .collect();
    let frames = Frames::lines(format);
    let mut ticker = Ticker::start(pace);
    let mut recorded = 0;
    loop {
        let ahead = deadlocks::snapshot(&session.server);
        session.db.prefetch("polling for deadlocks", &ahead).await?;
        let status = deadlocks::innodb_status(session).await?;
        let latest = innodb_status::parse_latest_deadlock(&status);
        let server = format!("{} {}", session.server.flavor_name, session.server.version);
        let mut new = Vec::new();
        // Deadlocks between two polls: the error log has them, the status only the latest. Only
        // those older than the latest count as missed; a newer one is read in full next poll.
        let latest_at = latest
            .as_ref()
            .and_then(|d| d.detected_at.clone())
            .unwrap_or_default();
        for missed in deadlocks::logged_deadlocks(session)
            .await?
            .unwrap_or_default()
        {
            let second: String = missed.logged.chars().take(19).collect();
            if second < latest_at && !recorded_full(&seen, &second) {
                new.push((format!("logged {}", missed.logged), None, Some(missed)));
            }
        }
        if let Some(deadlock) = latest {
            new.push((deadlocks::key(&deadlock), Some(deadlock), None));
        }
        for (key, deadlock, logged) in new {
            if seen.insert(key.clone()) {
                let record = DeadlockRecord {
                    header: Header::new(RecordKind::Deadlock),
                    key,
                    server: server.clone(),
                    deadlock: deadlock.as_ref().map(RecordedDeadlock::from),
                    logged: logged.map(|l| LoggedDeadlock {
                        logged: l.logged,
                        victim: l.victim,
                    }),
                };
                log.append(&record).context("recording a deadlock")?;
                if frames.is_json() {
                    frames.line(&record)?;
                } else {
                    let sentence = line(&record, deadlock.as_ref());
                    frames.frame(|out| Ok(writeln!(out, "{sentence}")?))?;
                }
                recorded += 1;
            }
        }
        if !ticker.next().await {
            return Ok(recorded);
        }
    }
}

/// Whether a full record exists for a deadlock detected in this second (keys start with the time).
fn recorded_full(seen: &HashSet<String>, second: &str) -> bool {
    seen.iter().any(|key| key.starts_with(second))
}

/// A new deadlock in one sentence, from the parsed deadlock (or the error-log entry).
fn line(record: &DeadlockRecord, deadlock: Option<&Deadlock>) -> String {
    match (deadlock, &record.logged) {
        (Some(deadlock), _) => {
            let sides: Vec<String> = deadlock
                .transactions
                .iter()
                .map(|t| {
                    format!(
                        "thread {} ({})",
                        t.thread_id.unwrap_or(0),
                        clip(t.query.as_deref().unwrap_or(""), false)
                    )
                })
                .collect();
            let at = deadlock.detected_at.as_deref().unwrap_or("?");
            format!(
                "{at} deadlock: {}; victim: {}",
                sides.join(" vs "),
                deadlocks::victim_text(deadlock)
            )
        }
        (None, Some(logged)) => format!(
            "{} deadlock (missed between polls; only the error log has it): victim ({})",
            logged.logged,
            logged
                .victim
                .map(|v| v.to_string())
                .unwrap_or_else(|| "?".into())
        ),
        (None, None) => String::new(),
    }
}
