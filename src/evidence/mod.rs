//! The evidence log: an append-only JSON-lines file, flushed to disk (file and directory) before
//! `append` returns, so what it says was written is on disk before anything is killed.
//!
//! Each line is one [`Record`] (see [`record`] for the format). The file is created `0600`
//! because statements carry data, and is never truncated or rewritten.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Context, Result};
use serde_json::Value;

mod list;
mod operator;
pub(crate) mod record;
pub(crate) mod replication;

pub(crate) use list::{Query, list};
pub(crate) use record::{Header, Line, Record, RecordKind};

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
    pub(crate) fn append(&mut self, record: &impl Line) -> Result<()> {
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

/// Every record of a log, with the lines that are not JSON counted rather than fatal: a log
/// written by a crashed run may end in half a line.
pub(crate) fn read_all(path: &Path) -> Result<(Vec<Record>, usize)> {
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
            Ok(value) if value.get("schema").is_some() => records.push(Record::from_value(value)),
            _ => unreadable += 1,
        }
    }
    Ok((records, unreadable))
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

#[cfg(test)]
mod tests;

#[cfg(test)]
mod fixture_tests;
