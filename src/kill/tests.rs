//! The pure parts of the safe kill: pid validation, protected threads, re-verification.

use super::parse_pid;
use super::select::protected;
use super::verify::{Identity, changes};
use crate::evidence::Header;
use crate::evidence::record::{BlastRadius, KillSnapshot, ServerStamp, SnapshotThread};
use crate::probe::processlist::{Thread, Trx};

fn thread(user: &str, command: &str, trx: Option<(&str, u64)>, statement: Option<&str>) -> Thread {
    let trx = trx.map(|(id, age)| Trx::sample(id, age));
    Thread {
        statement: statement.map(str::to_owned),
        ..Thread::sample(42, user, command, trx)
    }
}

fn snapshot(thread: Thread, trx_started: Option<&str>) -> KillSnapshot {
    KillSnapshot {
        header: Header::new(crate::evidence::RecordKind::KillSnapshot),
        pid: 42,
        query_only: false,
        reason: "test".into(),
        dry_run: false,
        server: ServerStamp {
            flavor: "mysql-9".into(),
            version: "9.7.4".into(),
            hostname: None,
            time: String::new(),
        },
        thread: SnapshotThread::from(&thread),
        trx_started: trx_started.map(str::to_owned),
        activity: Some(7),
        last_statement: None,
        locks: Vec::new(),
        metadata_locks: Vec::new(),
        blocks: BlastRadius::default(),
    }
}

fn identity(user: &str, trx: Option<(&str, &str)>, statement: Option<&str>) -> Identity {
    Identity {
        user: Some(user.into()),
        host: Some("10.0.0.5:4000".into()),
        command: Some("Sleep".into()),
        statement: statement.map(str::to_owned),
        trx_id: trx.map(|(id, _)| id.to_owned()),
        trx_started: trx.map(|(_, started)| started.to_owned()),
        trx_state: trx.map(|_| "RUNNING".to_owned()),
        trx_rows_modified: None,
        activity: Some(7),
    }
}

#[test]
fn pids_are_validated_before_connecting() {
    assert_eq!(parse_pid("42").unwrap(), 42);
    for bad in [
        "0",
        "-5",
        "abc",
        "4.2",
        "",
        "99999999999999999999",
        "9223372036854775808",
    ] {
        let error = parse_pid(bad).unwrap_err().to_string();
        assert!(error.contains("is not a processlist id"), "{bad}: {error}");
    }
}

#[test]
fn server_and_replication_threads_are_protected() {
    assert!(protected(&thread("system user", "Connect", None, None)).is_some());
    assert!(protected(&thread("event_scheduler", "Daemon", None, None)).is_some());
    assert!(protected(&thread("rdsadmin", "Sleep", None, None)).is_some());
    assert!(protected(&thread("repl", "Binlog Dump GTID", None, None)).is_some());
    assert!(protected(&thread("app", "Slave_SQL", None, None)).is_some());
    assert!(protected(&thread("app", "Sleep", None, None)).is_none());
}

#[test]
fn same_transaction_is_the_same_session() {
    let snap = snapshot(
        thread("app", "Sleep", Some(("100", 30)), None),
        Some("2026-11-22 02:00:00"),
    );
    let now = identity("app", Some(("100", "2026-11-22 02:00:00")), None);
    assert!(changes(&snap, Some(&now)).is_empty());
}

#[test]
fn a_new_transaction_is_a_change() {
    let snap = snapshot(
        thread("app", "Sleep", Some(("100", 30)), None),
        Some("2026-11-22 02:00:00"),
    );
    let now = identity("app", Some(("101", "2026-11-22 02:00:05")), None);
    let changed = changes(&snap, Some(&now));
    assert_eq!(changed.len(), 2, "{changed:?}");
    assert!(changed[0].starts_with("transaction: 100 → 101"));
}

#[test]
fn finished_transaction_is_a_change() {
    let snap = snapshot(
        thread("app", "Sleep", Some(("100", 30)), None),
        Some("2026-11-22 02:00:00"),
    );
    let changed = changes(&snap, Some(&identity("app", None, None)));
    assert!(
        changed.iter().any(|c| c.contains("100 → none")),
        "{changed:?}"
    );
}

#[test]
fn without_a_transaction_the_statement_must_match() {
    let snap = snapshot(
        thread("app", "Query", None, Some("SELECT SLEEP(100)")),
        None,
    );
    assert!(
        changes(
            &snap,
            Some(&identity("app", None, Some("SELECT SLEEP(100)")))
        )
        .is_empty()
    );
    let changed = changes(&snap, Some(&identity("app", None, Some("SELECT 1"))));
    assert_eq!(changed, ["statement: SELECT SLEEP(100) → SELECT 1"]);
}

#[test]
fn another_user_on_the_same_id_is_a_change() {
    let snap = snapshot(thread("app", "Query", None, Some("SELECT 1")), None);
    let changed = changes(&snap, Some(&identity("intruder", None, Some("SELECT 1"))));
    assert_eq!(changed, ["user: app → intruder"]);
}

#[test]
fn any_statement_since_the_snapshot_is_a_change() {
    // INNODB_TRX is cached for 100 ms; the live activity marker is not.
    let snap = snapshot(
        thread("app", "Sleep", Some(("100", 30)), None),
        Some("2026-11-22 02:00:00"),
    );
    let mut now = identity("app", Some(("100", "2026-11-22 02:00:00")), None);
    now.activity = Some(9);
    let changed = changes(&snap, Some(&now));
    assert_eq!(
        changed,
        ["it ran another statement since the snapshot (activity 7 → 9)"]
    );
}

#[test]
fn the_client_port_is_not_part_of_the_identity() {
    let snap = snapshot(thread("app", "Query", None, Some("SELECT 1")), None);
    let mut now = identity("app", None, Some("SELECT 1"));
    now.host = Some("10.0.0.5".into());
    assert!(changes(&snap, Some(&now)).is_empty());
}

#[test]
fn a_gone_session_is_a_change() {
    let snap = snapshot(thread("app", "Query", None, None), None);
    assert_eq!(changes(&snap, None), ["the session has ended"]);
}

#[test]
fn snapshot_serializes_with_the_header_first() {
    let snap = snapshot(
        thread("app", "Sleep", Some(("100", 30)), None),
        Some("2026-11-22 02:00:00"),
    );
    let json = serde_json::to_value(&snap).unwrap();
    assert_eq!(json["schema"], 1);
    assert_eq!(json["kind"], "kill.snapshot");
    assert_eq!(json["thread"]["trx"]["id"], "100");
    assert_eq!(json["trx_started"], "2026-11-22 02:00:00");
}
