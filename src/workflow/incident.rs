//! `mytriage incident start|note|end`: bracket an incident in the evidence log, with notes.

use std::path::Path;

use anyhow::{Result, bail};

use crate::evidence::record::IncidentRecord;
use crate::evidence::{self, EvidenceLog, Header, Record, RecordKind};
use crate::render::{Block, Report, View, ViewOptions};

/// What to record about the incident.
#[derive(Debug, Clone)]
pub(crate) enum Action {
    Start { title: Option<String> },
    Note { text: String },
    End,
}

/// The incident still open in the log: its start record's id and title.
pub(crate) fn open_incident(records: &[Record]) -> Option<(String, Option<String>)> {
    let mut open: Option<(String, Option<String>)> = None;
    for record in records {
        match record {
            Record::IncidentStart(start) => {
                open = Some((start.header.id.clone(), start.title.clone()));
            }
            Record::IncidentEnd(end)
                if open.as_ref().is_some_and(|(id, _)| end.incident == *id) =>
            {
                open = None
            }
            _ => {}
        }
    }
    open
}

/// Appends the record for `action`, after checking that it makes sense (one open incident at a time).
pub(crate) fn record(path: &Path, action: &Action) -> Result<IncidentRecord> {
    let records = if path.exists() {
        evidence::read_all(path)?.0
    } else {
        Vec::new()
    };
    let open = open_incident(&records);
    let record = match (action, open) {
        (Action::Start { .. }, Some((id, _))) => {
            bail!("incident {id} is still open; end it first with `mytriage incident end`")
        }
        (Action::Start { title }, None) => {
            let header = Header::new(RecordKind::IncidentStart);
            IncidentRecord {
                incident: header.id.clone(),
                header,
                title: title.clone(),
                text: None,
            }
        }
        (_, None) => {
            bail!("no incident is open; start one with `mytriage incident start --title ...`")
        }
        (Action::Note { text }, Some((id, title))) => IncidentRecord {
            header: Header::new(RecordKind::IncidentNote),
            incident: id,
            title,
            text: Some(text.clone()),
        },
        (Action::End, Some((id, title))) => IncidentRecord {
            header: Header::new(RecordKind::IncidentEnd),
            incident: id,
            title,
            text: None,
        },
    };
    EvidenceLog::open(path)?.append(&record)?;
    Ok(record)
}

impl Report for IncidentRecord {
    fn view(&self, _: &ViewOptions) -> View {
        let what = match self.header.kind {
            RecordKind::IncidentStart => "started",
            RecordKind::IncidentNote => "noted",
            _ => "ended",
        };
        View {
            blocks: vec![Block::Note(format!(
                "incident {} {what} at {}{}",
                self.incident,
                self.header.at,
                self.text
                    .as_deref()
                    .map(|t| format!(": {t}"))
                    .unwrap_or_default()
            ))],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_note_end_and_their_refusals() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("e.jsonl");
        assert!(record(&path, &Action::End).is_err(), "nothing open yet");
        let started = record(
            &path,
            &Action::Start {
                title: Some("slow checkout".into()),
            },
        )
        .unwrap();
        assert!(
            record(&path, &Action::Start { title: None }).is_err(),
            "one at a time"
        );
        let note = record(
            &path,
            &Action::Note {
                text: "paged".into(),
            },
        )
        .unwrap();
        assert_eq!(note.incident, started.header.id);
        assert_eq!(note.title.as_deref(), Some("slow checkout"));
        record(&path, &Action::End).unwrap();
        let (records, _) = evidence::read_all(&path).unwrap();
        assert_eq!(records.len(), 3);
        assert_eq!(open_incident(&records), None);
    }
}
