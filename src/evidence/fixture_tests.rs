//! The record format against a log written before the records were typed, and the readers'
//! passing over what they cannot read.

use std::path::Path;

use serde_json::Value;

use super::list::EvidenceReport;
use super::record::{KillResult, Operator};
use super::{Record, RecordKind, read_all};
use crate::render::Report;

/// Written live on MySQL 9.7 by the version before the typed records (see `workflow::report`'s
/// test of the same file), with what that version's `evidence` and `deadlocks --history` printed.
const V1_FIXTURE: &str = "fixtures/evidence/evidence-v1.mysql-9.7.jsonl";

fn table(report: &impl Report) -> String {
    let mut out = Vec::new();
    let options = crate::render::ViewOptions::default();
    crate::render::render(report, crate::render::Format::Table, &options, &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

#[test]
fn every_line_of_the_old_log_reads_as_its_kind_and_writes_back_the_same() {
    let text = std::fs::read_to_string(V1_FIXTURE).unwrap();
    let mut kinds = std::collections::BTreeSet::new();
    for line in text.lines() {
        let written: Value = serde_json::from_str(line).unwrap();
        let record: Record = serde_json::from_str(line).unwrap();
        let header = record.header().unwrap_or_else(|| panic!("unread: {line}"));
        kinds.insert(crate::render::serde_label(&header.kind));
        let mut expected = written.clone();
        if expected["operator"].is_string() {
            // Incident records named the operator by the OS user alone; the header holds both.
            expected["operator"] =
                serde_json::json!({"os_user": written["operator"], "host": null});
        }
        assert_eq!(serde_json::to_value(&record).unwrap(), expected, "{line}");
    }
    assert_eq!(kinds.len(), 6, "every kind is in the fixture: {kinds:?}");
}

#[test]
fn the_old_log_lists_as_it_did() {
    let (records, unreadable_lines) = read_all(Path::new(V1_FIXTURE)).unwrap();
    let results: Vec<KillResult> = records
        .iter()
        .filter_map(|r| match r {
            Record::KillOutcome(o) => Some(o.result),
            _ => None,
        })
        .collect();
    assert_eq!(
        results.len(),
        6,
        "dry-run, not-confirmed, changed, failed, two kills"
    );
    let report = EvidenceReport {
        path: V1_FIXTURE.into(),
        unreadable_lines,
        records,
    };
    let written = "fixtures/evidence/evidence-v1.mysql-9.7.evidence.txt";
    assert_eq!(table(&report), std::fs::read_to_string(written).unwrap());
}

#[test]
fn the_old_log_shows_its_deadlock_history_as_it_did() {
    let history = crate::probe::deadlocks::history(Path::new(V1_FIXTURE)).unwrap();
    let written = "fixtures/evidence/evidence-v1.mysql-9.7.history.txt";
    assert_eq!(table(&history), std::fs::read_to_string(written).unwrap());
}

#[test]
fn an_old_incident_operator_is_the_os_user() {
    let line = r#"{"schema":1,"id":"a","kind":"incident.note","at":"2026-12-01T23:26:47.442Z","incident":"s","title":null,"text":"paged","operator":"oncall"}"#;
    let Ok(Record::IncidentNote(note)) = serde_json::from_str::<Record>(line) else {
        panic!("an incident note");
    };
    assert_eq!(
        note.header.operator,
        Some(Operator {
            os_user: Some("oncall".into()),
            host: None
        })
    );
    let without = line.replace(r#","operator":"oncall""#, "");
    let Ok(Record::IncidentNote(note)) = serde_json::from_str::<Record>(&without) else {
        panic!("an incident note without an operator");
    };
    assert_eq!(note.header.operator, None);
}

#[test]
fn lines_of_newer_kinds_or_bodies_are_kept_whole_and_passed_over() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("e.jsonl");
    let newer_kind = r#"{"schema":2,"id":"n","kind":"replica.lag","at":"2026-12-01T23:26:47.442Z","pid":7,"seconds":30}"#;
    let newer_result = r#"{"schema":2,"id":"o","kind":"kill.outcome","at":"2026-12-01T23:26:48.000Z","snapshot_id":"x","pid":7,"result":"queued","method":null,"error":null,"changed":[],"after":null}"#;
    std::fs::write(&path, format!("{newer_kind}\n{newer_result}\nnot json\n")).unwrap();
    let (records, unreadable) = read_all(&path).unwrap();
    assert_eq!(
        unreadable, 1,
        "a line that is not JSON is unreadable, as before"
    );
    for (record, line) in records.iter().zip([newer_kind, newer_result]) {
        let Record::Unknown(raw) = record else {
            panic!("not readable by this version: {record:?}");
        };
        assert_eq!(
            raw,
            &serde_json::from_str::<Value>(line).unwrap(),
            "kept whole"
        );
        assert_eq!(record.pid(), Some(7));
    }
    assert_eq!(records[0].kind_name().as_deref(), Some("replica.lag"));
    assert_eq!(
        crate::workflow::incident::open_incident(&records),
        None,
        "readers pass over them"
    );
}

#[test]
fn a_new_record_names_its_kind_and_operator_in_the_header() {
    let header = super::Header::new(RecordKind::Deadlock);
    let json = serde_json::to_value(&header).unwrap();
    assert_eq!(json["kind"], "deadlock");
    assert_eq!(json["schema"], 1);
    assert!(json["operator"].is_object(), "{json}");
}
