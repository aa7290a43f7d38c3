//! `mytriage evidence`: the records of the log in a time range, or about one session.

use std::path::{Path, PathBuf};

use anyhow::Result;
use serde::Serialize;

use super::record::{KillOutcome, KillSnapshot, Record};
use super::{parse_time, read_all};
use crate::render::{Block, Report, View, ViewOptions, clip, serde_label};

/// What `mytriage evidence` reports: the matching records.
#[derive(Debug, Serialize)]
pub(crate) struct EvidenceReport {
    pub path: PathBuf,
    /// Lines that were not records (a half-written last line, say).
    pub unreadable_lines: usize,
    pub records: Vec<Record>,
}

/// Which records `mytriage evidence` lists.
#[derive(Debug, Clone, Default)]
pub(crate) struct Query {
    pub since: Option<String>,
    pub until: Option<String>,
    /// Only records about this session.
    pub pid: Option<u64>,
}

/// Reads the log and keeps the records in the time range and about the pid.
pub(crate) fn list(path: &Path, args: &Query) -> Result<EvidenceReport> {
    let since = args.since.as_deref().map(parse_time).transpose()?;
    let until = args.until.as_deref().map(parse_time).transpose()?;
    let (records, unreadable_lines) = read_all(path)?;
    let records = records
        .into_iter()
        .filter(|r| {
            let at = r
                .at()
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok());
            let in_range =
                at.is_none_or(|at| since.is_none_or(|s| at >= s) && until.is_none_or(|u| at < u));
            in_range && args.pid.is_none_or(|pid| r.pid() == Some(pid))
        })
        .collect();
    Ok(EvidenceReport {
        path: path.to_owned(),
        unreadable_lines,
        records,
    })
}

/// The detail column: a snapshot's reason and statement, an outcome's result.
fn detail(record: &Record) -> String {
    match record {
        Record::KillSnapshot(snapshot) => {
            let KillSnapshot {
                reason,
                thread,
                last_statement,
                ..
            } = snapshot.as_ref();
            let statement = thread
                .statement
                .as_deref()
                .or(last_statement.as_deref())
                .unwrap_or("");
            format!("reason: {reason}; {}", clip(statement, false))
        }
        Record::KillOutcome(KillOutcome {
            result,
            method,
            changed,
            ..
        }) => format!(
            "{} {} {}",
            serde_label(result),
            method.as_ref().map(serde_label).unwrap_or_default(),
            changed.join("; ")
        ),
        Record::Replication(record) => {
            let channels: Vec<String> = record
                .channels
                .iter()
                .map(|c| {
                    let name = if c.name.is_empty() {
                        "(default)"
                    } else {
                        &c.name
                    };
                    let state = match (&c.broken, &c.blocked_by) {
                        (Some(broken), _) => broken.clone(),
                        (None, Some(b)) => format!("applier blocked by session {}", b.blocker_pid),
                        (None, None) => "running".to_owned(),
                    };
                    format!("{name}: {state}")
                })
                .collect();
            clip(
                &format!("{} {}", record.server.address, channels.join("; ")),
                false,
            )
        }
        _ => String::new(),
    }
}

/// A field of a line this version does not read, as it was written.
fn text(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    }
}

impl Report for EvidenceReport {
    fn view(&self, _: &ViewOptions) -> View {
        let rows = self
            .records
            .iter()
            .map(|r| match r {
                Record::Unknown(raw) => ["at", "kind", "id", "pid"]
                    .iter()
                    .map(|field| text(&raw[field]))
                    .chain([String::new()])
                    .collect(),
                r => vec![
                    r.at().unwrap_or_default().to_owned(),
                    r.kind_name().unwrap_or_default(),
                    r.id().unwrap_or_default().to_owned(),
                    r.pid().map(|pid| pid.to_string()).unwrap_or_default(),
                    detail(r).trim().to_owned(),
                ],
            })
            .collect();
        let mut blocks = vec![Block::Table {
            title: None,
            header: ["at", "kind", "id", "pid", "detail"]
                .map(str::to_owned)
                .to_vec(),
            rows,
        }];
        blocks.push(Block::Note(format!(
            "{} record(s) from {}",
            self.records.len(),
            self.path.display()
        )));
        if self.unreadable_lines > 0 {
            blocks.push(Block::Note(format!(
                "{} line(s) were not records",
                self.unreadable_lines
            )));
        }
        View { blocks }
    }
}
