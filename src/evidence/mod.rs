//! The evidence log: an append-only JSON-lines file, flushed to disk (file and directory) before
//! `append` returns, so what it says was written is on disk before anything is killed.
//!
//! Each line is one record: `{"schema": 1, "id": ..., "kind": ..., "at": ..., ...}`. The file is
//! created `0600` because statements carry data, and is never truncated or rewritten.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The version of the record layout; bumped when a field changes meaning.
pub(crate) const SCHEMA: u32 = 1;

/// Where the log lives unless `--evidence` says otherwise: `$XDG_STATE_HOME/mytriage/evidence.jsonl`,
/// else `~/.local/state/mytriage/evidence.jsonl`.
pub(crate) fn default_path(env: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
    let state = env("XDG_STATE_HOME")
        .filter(|s| !s.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            env("HOME")
                .filter(|h| !h.is_empty())
                .map(|h| Path::new(&h).join(".local/state"))
        })?;
    Some(state.join("mytriage").join("evidence.jsonl"))
}

/// An evidence log opened for appending.
pub(crate) struct EvidenceLog {
    path: PathBuf,
    file: File,
}

impl EvidenceLog {
    /// Opens (creating `0600`, with `0700` parent directories) the log for appending.
    pub(crate) fn open(path: &Path) -> Result<EvidenceLog> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .with_context(|| {
                    format!("cannot create the evidence directory {}", dir.display())
                })?;
        }
        let file = OpenOptions::new()
            .append(true)
            .create(true)
            .mode(0o600)
            .open(path)
            .with_context(|| format!("cannot open the evidence log {}", path.display()))?;
        Ok(EvidenceLog {
            path: path.to_owned(),
            file,
        })
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one record as a line and flushes it to disk, file and directory. Only when this
    /// returns `Ok` is the record durable. An earlier append that failed part-way (a full disk)
    /// may have left half a line: the record then starts on a line of its own, so the half line
    /// stays one unreadable line and never swallows the record.
    pub(crate) fn append(&mut self, record: &impl Serialize) -> Result<()> {
        let mut line = serde_json::to_vec(record).context("encoding an evidence record")?;
        line.push(b'\n');
        let what = || format!("cannot write the evidence log {}", self.path.display());
        if !ends_with_newline(&self.path).with_context(what)? {
            line.insert(0, b'\n');
        }
        self.file.write_all(&line).with_context(what)?;
        self.file.sync_all().with_context(what)?;
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            // A new file's directory entry is durable only once the directory is synced too.
            File::open(dir)
                .and_then(|d| d.sync_all())
                .with_context(what)?;
        }
        Ok(())
    }
}

/// Whether the file is empty or its last byte is a newline.
fn ends_with_newline(path: &Path) -> std::io::Result<bool> {
    use std::io::{Read, Seek, SeekFrom};
    let mut file = File::open(path)?;
    if file.seek(SeekFrom::End(0))? == 0 {
        return Ok(true);
    }
    file.seek(SeekFrom::End(-1))?;
    let mut last = [0u8; 1];
    file.read_exact(&mut last)?;
    Ok(last[0] == b'\n')
}

/// A unique record id: time, process and a counter, so two runs in the same nanosecond differ.
pub(crate) fn new_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!(
        "{nanos:x}-{:x}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// The fields every record starts with.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(crate) struct Header {
    pub schema: u32,
    pub id: String,
    /// `kill.snapshot`, `kill.outcome`, ...
    pub kind: String,
    /// When the record was written, RFC 3339 UTC.
    pub at: String,
}

/// The kinds of record the log holds: the one place their names are written. A line of a kind
/// this version does not know (from a newer one) has no `RecordKind` and is passed over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RecordKind {
    KillSnapshot,
    KillOutcome,
    Deadlock,
    IncidentStart,
    IncidentNote,
    IncidentEnd,
}

impl RecordKind {
    const ALL: [RecordKind; 6] = [
        RecordKind::KillSnapshot,
        RecordKind::KillOutcome,
        RecordKind::Deadlock,
        RecordKind::IncidentStart,
        RecordKind::IncidentNote,
        RecordKind::IncidentEnd,
    ];

    /// The name in the `kind` field.
    pub(crate) fn name(self) -> &'static str {
        match self {
            RecordKind::KillSnapshot => "kill.snapshot",
            RecordKind::KillOutcome => "kill.outcome",
            RecordKind::Deadlock => "deadlock",
            RecordKind::IncidentStart => "incident.start",
            RecordKind::IncidentNote => "incident.note",
            RecordKind::IncidentEnd => "incident.end",
        }
    }

    /// The kind of that name, when this version knows it.
    pub(crate) fn named(name: &str) -> Option<RecordKind> {
        RecordKind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// The kind of a record read back, when this version knows it.
    pub(crate) fn of(record: &Value) -> Option<RecordKind> {
        RecordKind::named(record["kind"].as_str()?)
    }
}

impl Header {
    pub(crate) fn new(kind: RecordKind) -> Header {
        Header {
            schema: SCHEMA,
            id: new_id(),
            kind: kind.name().to_owned(),
            at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        }
    }
}

/// Every record of a log, with the lines that are not JSON counted rather than fatal: a log
/// written by a crashed run may end in half a line.
pub(crate) fn read_all(path: &Path) -> Result<(Vec<Value>, usize)> {
    let file = File::open(path)
        .with_context(|| format!("cannot read the evidence log {}", path.display()))?;
    let mut records = Vec::new();
    let mut unreadable = 0;
    for line in BufReader::new(file).lines() {
        let line = line.with_context(|| format!("reading {}", path.display()))?;
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Value>(&line) {
            Ok(value) if value.get("schema").is_some() => records.push(value),
            _ => unreadable += 1,
        }
    }
    Ok((records, unreadable))
}

#[cfg(test)]
mod tests {
    use super::RecordKind;

    #[test]
    fn every_kind_reads_back_by_its_name_and_newer_kinds_are_unknown() {
        for kind in RecordKind::ALL {
            let record = serde_json::json!({"kind": kind.name()});
            assert_eq!(RecordKind::of(&record), Some(kind));
        }
        assert_eq!(
            RecordKind::of(&serde_json::json!({"kind": "replica.lag"})),
            None
        );
        assert_eq!(RecordKind::of(&serde_json::json!({"schema": 1})), None);
    }
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
        assert_eq!(records[0]["kind"], "incident.note");
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
        let failed =
            log.append(&serde_json::json!({"schema": 1, "kind": "kill.snapshot", "pad": big}));
        assert!(failed.is_err(), "the disk is full");
        std::fs::remove_file(&filler).unwrap();
        log.append(&serde_json::json!({"schema": 1, "kind": "kill.outcome"}))
            .unwrap();
        let (records, _) = super::read_all(&path).unwrap();
        let kinds: Vec<&str> = records.iter().filter_map(|r| r["kind"].as_str()).collect();
        assert_eq!(kinds.first(), Some(&"incident.start"));
        assert_eq!(kinds.last(), Some(&"kill.outcome"), "{kinds:?}");
        assert!(
            !kinds.contains(&"kill.snapshot"),
            "the failed record is not whole"
        );
    }

    use std::os::unix::fs::PermissionsExt;

    use super::*;

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
}

/// What `mytriage evidence` reports: the matching records, as written.
#[derive(Debug, Serialize)]
pub(crate) struct EvidenceReport {
    pub path: PathBuf,
    /// Lines that were not records (a half-written last line, say).
    pub unreadable_lines: usize,
    pub records: Vec<Value>,
}

/// A time bound: RFC 3339, or an age before now such as `2h`.
pub(crate) fn parse_time(text: &str) -> Result<chrono::DateTime<chrono::Utc>> {
    if let Ok(at) = chrono::DateTime::parse_from_rfc3339(text) {
        return Ok(at.with_timezone(&chrono::Utc));
    }
    let age = crate::duration::parse_duration(text).map_err(|_| {
        anyhow::anyhow!("'{text}' is neither an RFC 3339 time nor an age such as 2h")
    })?;
    let age = chrono::Duration::from_std(age).context("age out of range")?;
    Ok(chrono::Utc::now() - age)
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
            let at = r["at"]
                .as_str()
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok());
            let in_range =
                at.is_none_or(|at| since.is_none_or(|s| at >= s) && until.is_none_or(|u| at < u));
            in_range && args.pid.is_none_or(|pid| r["pid"] == pid)
        })
        .collect();
    Ok(EvidenceReport {
        path: path.to_owned(),
        unreadable_lines,
        records,
    })
}

impl crate::render::Report for EvidenceReport {
    fn view(&self, _: &crate::render::ViewOptions) -> crate::render::View {
        use crate::render::{Block, View, clip};
        let text = |v: &Value| {
            v.as_str().map(str::to_owned).unwrap_or_else(|| {
                if v.is_null() {
                    String::new()
                } else {
                    v.to_string()
                }
            })
        };
        let rows = self
            .records
            .iter()
            .map(|r| {
                let statement = r["thread"]["statement"]
                    .as_str()
                    .or(r["last_statement"].as_str())
                    .unwrap_or("");
                let detail = match RecordKind::of(r) {
                    Some(RecordKind::KillSnapshot) => {
                        format!("reason: {}; {}", text(&r["reason"]), clip(statement, false))
                    }
                    Some(RecordKind::KillOutcome) => {
                        let changed = r["changed"]
                            .as_array()
                            .map(|c| c.iter().map(text).collect::<Vec<_>>().join("; "));
                        format!(
                            "{} {} {}",
                            text(&r["result"]),
                            text(&r["method"]),
                            changed.unwrap_or_default()
                        )
                    }
                    _ => String::new(),
                };
                vec![
                    text(&r["at"]),
                    text(&r["kind"]),
                    text(&r["id"]),
                    text(&r["pid"]),
                    detail.trim().to_owned(),
                ]
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
