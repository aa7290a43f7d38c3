//! The log file: appends, the newline guard on a full disk, permissions, reading back.

use std::os::unix::fs::PermissionsExt;

use super::*;

#[test]
fn a_record_after_a_half_written_line_starts_a_line_of_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("evidence.jsonl");
    std::fs::write(&path, b"{\"schema\":1,\"kind\":\"kill.snap").unwrap();
    let mut log = super::EvidenceLog::open(&path).unwrap();
    log.append(&serde_json::json!({"schema": 1, "kind": "incident.note"}))
        .unwrap();
    let (records, unreadable) = super::read_all(&path).unwrap();
    assert_eq!(unreadable, 1, "the half line stays alone");
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].kind_name().as_deref(), Some("incident.note"));
}

/// On a real full disk (a tmpfs of 8 KiB, as root): the append that runs out of space fails,
/// and once there is room again the next record is whole.
#[test]
fn a_full_disk_fails_the_append_and_the_next_record_is_whole() {
    let dir = tempfile::tempdir().unwrap();
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=8k", "tmpfs"])
        .arg(dir.path())
        .status()
        .is_ok_and(|s| s.success());
    if !mounted {
        assert!(
            std::env::var("CI").is_err(),
            "CI runs as root: a tmpfs must mount for the full-disk test"
        );
        eprintln!("skipping the full-disk test: cannot mount a tmpfs (not root?)");
        return;
    }
    struct Unmount<'a>(&'a std::path::Path);
    impl Drop for Unmount<'_> {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount").arg(self.0).status();
        }
    }
    let _unmount = Unmount(dir.path());
    let path = dir.path().join("evidence.jsonl");
    let filler = dir.path().join("filler");
    let mut log = super::EvidenceLog::open(&path).unwrap();
    log.append(&serde_json::json!({"schema": 1, "kind": "incident.start"}))
        .unwrap();
    // Fill the disk, then try a record bigger than what is left.
    let _ = std::fs::write(&filler, vec![b'x'; 8 * 1024]);
    let big = "y".repeat(6 * 1024);
    let failed = log.append(&serde_json::json!({"schema": 1, "kind": "kill.snapshot", "pad": big}));
    assert!(failed.is_err(), "the disk is full");
    std::fs::remove_file(&filler).unwrap();
    log.append(&serde_json::json!({"schema": 1, "kind": "kill.outcome"}))
        .unwrap();
    let (records, _) = super::read_all(&path).unwrap();
    let kinds: Vec<String> = records.iter().filter_map(Record::kind_name).collect();
    let kinds: Vec<&str> = kinds.iter().map(String::as_str).collect();
    assert_eq!(kinds.first(), Some(&"incident.start"));
    assert_eq!(kinds.last(), Some(&"kill.outcome"), "{kinds:?}");
    assert!(
        !kinds.contains(&"kill.snapshot"),
        "the failed record is not whole"
    );
}

#[test]
fn appends_lines_with_mode_0600() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state/mytriage/evidence.jsonl");
    let mut log = EvidenceLog::open(&path).unwrap();
    log.append(&serde_json::json!({"schema": 1, "id": "a"}))
        .unwrap();
    let mut again = EvidenceLog::open(&path).unwrap();
    again
        .append(&serde_json::json!({"schema": 1, "id": "b"}))
        .unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(
        text.lines().count(),
        2,
        "reopening appends, never truncates"
    );
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let dir_mode = std::fs::metadata(path.parent().unwrap())
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(dir_mode, 0o700);
}

#[test]
fn a_full_disk_is_an_error() {
    // /dev/full accepts the open and fails every write with ENOSPC.
    let mut log = EvidenceLog::open(Path::new("/dev/full")).unwrap();
    let error = log.append(&serde_json::json!({"schema": 1})).unwrap_err();
    assert!(
        format!("{error:#}").contains("cannot write the evidence log /dev/full"),
        "{error:#}"
    );
}

#[test]
fn a_file_where_the_directory_should_be_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("not-a-dir");
    std::fs::write(&blocker, "").unwrap();
    assert!(EvidenceLog::open(&blocker.join("evidence.jsonl")).is_err());
}

#[test]
fn ids_are_unique() {
    let ids: std::collections::HashSet<String> = (0..1000).map(|_| new_id()).collect();
    assert_eq!(ids.len(), 1000);
}

#[test]
fn default_path_prefers_xdg_state_home() {
    let env = |name: &str| match name {
        "XDG_STATE_HOME" => Some("/s".to_owned()),
        "HOME" => Some("/h".to_owned()),
        _ => None,
    };
    assert_eq!(
        default_path(&env),
        Some(PathBuf::from("/s/mytriage/evidence.jsonl"))
    );
    let home_only = |name: &str| (name == "HOME").then(|| "/h".to_owned());
    assert_eq!(
        default_path(&home_only),
        Some(PathBuf::from("/h/.local/state/mytriage/evidence.jsonl"))
    );
}

#[test]
fn reading_skips_half_lines() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("e.jsonl");
    std::fs::write(&path, "{\"schema\":1,\"id\":\"a\"}\n{\"schema\":1,\"id\n").unwrap();
    let (records, unreadable) = read_all(&path).unwrap();
    assert_eq!((records.len(), unreadable), (1, 1));
}
