//! The records of the evidence log: the on-disk format, owned here and nowhere else.
//!
//! Each line is one [`Record`]. Its [`Header`] (`schema`, `id`, `kind`, `at`, `operator`) sits at
//! the top level of the JSON object, the body's fields after it. The kind names are written in
//! this module only ([`RecordKind`]). Types embedded from probes (the processlist's thread, the
//! parsed deadlock) have frozen copies here, so renaming a probe field cannot change the file.
//!
//! A line of a kind this version does not know, or one whose body it cannot read (written by a
//! newer version), is kept whole as [`Record::Unknown`]; readers pass over it.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

pub(crate) use super::replication::ReplicationRecord;
use crate::innodb_status;
use crate::probe::processlist;

/// The version of the record layout; bumped when a field changes meaning.
pub(crate) const SCHEMA: u32 = 1;

/// The kinds of record the log holds: the one place their names are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum RecordKind {
    #[serde(rename = "kill.snapshot")]
    KillSnapshot,
    #[serde(rename = "kill.outcome")]
    KillOutcome,
    #[serde(rename = "deadlock")]
    Deadlock,
    #[serde(rename = "incident.start")]
    IncidentStart,
    #[serde(rename = "incident.note")]
    IncidentNote,
    #[serde(rename = "incident.end")]
    IncidentEnd,
    #[serde(rename = "replication")]
    Replication,
}

/// One line of the log.
///
/// Not `#[serde(tag = "kind")]`: the kind is part of each body's [`Header`], so a body printed on
/// its own (`kill --format json`, the `deadlocks --watch` stream, `incident`) carries its kind,
/// and lines keep today's key order (`schema`, `id`, `kind`, `at`). Reading dispatches on `kind`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub(crate) enum Record {
    /// Boxed: a snapshot is several times the size of any other record.
    KillSnapshot(Box<KillSnapshot>),
    KillOutcome(KillOutcome),
    Deadlock(DeadlockRecord),
    IncidentStart(IncidentRecord),
    IncidentNote(IncidentRecord),
    IncidentEnd(IncidentRecord),
    Replication(ReplicationRecord),
    /// A line of a kind (or a body) this version cannot read, kept as written.
    Unknown(Value),
}

impl<'de> Deserialize<'de> for Record {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Record, D::Error> {
        Ok(Record::from_value(Value::deserialize(deserializer)?))
    }
}

impl Record {
    /// The record a JSON line holds, or [`Record::Unknown`] when this version cannot read it.
    pub(crate) fn from_value(value: Value) -> Record {
        let Some(kind) = value
            .get("kind")
            .and_then(|k| RecordKind::deserialize(k).ok())
        else {
            return Record::Unknown(value);
        };
        let typed = match kind {
            RecordKind::KillSnapshot => {
                KillSnapshot::deserialize(&value).map(|s| Record::KillSnapshot(Box::new(s)))
            }
            RecordKind::KillOutcome => KillOutcome::deserialize(&value).map(Record::KillOutcome),
            RecordKind::Deadlock => DeadlockRecord::deserialize(&value).map(Record::Deadlock),
            RecordKind::IncidentStart => {
                IncidentRecord::deserialize(&value).map(Record::IncidentStart)
            }
            RecordKind::IncidentNote => {
                IncidentRecord::deserialize(&value).map(Record::IncidentNote)
            }
            RecordKind::IncidentEnd => IncidentRecord::deserialize(&value).map(Record::IncidentEnd),
            RecordKind::Replication => {
                ReplicationRecord::deserialize(&value).map(Record::Replication)
            }
        };
        typed.unwrap_or(Record::Unknown(value))
    }

    /// The header, for a record this version reads.
    pub(crate) fn header(&self) -> Option<&Header> {
        match self {
            Record::KillSnapshot(r) => Some(&r.header),
            Record::KillOutcome(r) => Some(&r.header),
            Record::Deadlock(r) => Some(&r.header),
            Record::IncidentStart(r) | Record::IncidentNote(r) | Record::IncidentEnd(r) => {
                Some(&r.header)
            }
            Record::Replication(r) => Some(&r.header),
            Record::Unknown(_) => None,
        }
    }

    /// The `kind` field as written (an unknown record's too, when it has one).
    pub(crate) fn kind_name(&self) -> Option<String> {
        match (self.header(), self) {
            (Some(header), _) => Some(crate::render::serde_label(&header.kind)),
            (None, Record::Unknown(raw)) => raw["kind"].as_str().map(str::to_owned),
            (None, _) => None,
        }
    }

    /// When it was written, as written (an unknown record's too, when it has one).
    pub(crate) fn at(&self) -> Option<&str> {
        match (self.header(), self) {
            (Some(header), _) => Some(&header.at),
            (None, Record::Unknown(raw)) => raw["at"].as_str(),
            (None, _) => None,
        }
    }

    /// Its id, as written.
    pub(crate) fn id(&self) -> Option<&str> {
        match (self.header(), self) {
            (Some(header), _) => Some(&header.id),
            (None, Record::Unknown(raw)) => raw["id"].as_str(),
            (None, _) => None,
        }
    }

    /// The session a kill record is about (an unknown record's `pid`, when it is a number).
    pub(crate) fn pid(&self) -> Option<u64> {
        match self {
            Record::KillSnapshot(r) => Some(r.pid),
            Record::KillOutcome(r) => Some(r.pid),
            Record::Unknown(raw) => raw["pid"].as_u64(),
            _ => None,
        }
    }
}

/// What [`super::EvidenceLog::append`] writes: a record of this module (in unit tests, any JSON).
pub(crate) trait Line: Serialize {}

impl Line for Record {}
impl Line for KillSnapshot {}
impl Line for KillOutcome {}
impl Line for DeadlockRecord {}
impl Line for IncidentRecord {}
impl Line for ReplicationRecord {}
#[cfg(test)]
impl Line for Value {}

/// The fields every record starts with.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(crate) struct Header {
    pub schema: u32,
    pub id: String,
    pub kind: RecordKind,
    /// When the record was written, RFC 3339 UTC.
    pub at: String,
    /// Who ran mytriage. Absent from lines written before it moved into the header (only kill
    /// snapshots carried it, as an object; incident records as the OS user's name alone).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "read_operator"
    )]
    pub operator: Option<Operator>,
}

impl Header {
    /// A header stamped now, by the current operator.
    pub(crate) fn new(kind: RecordKind) -> Header {
        Header {
            schema: SCHEMA,
            id: super::new_id(),
            kind,
            at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            operator: Some(Operator::current()),
        }
    }
}

/// Who ran mytriage: the OS user and the host it ran on.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub(crate) struct Operator {
    pub os_user: Option<String>,
    pub host: Option<String>,
}

/// The operator as an object, or as an old incident record's bare user name.
fn read_operator<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Operator>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Written {
        Full(Operator),
        UserName(String),
    }
    Ok(
        Option::<Written>::deserialize(deserializer)?.map(|written| match written {
            Written::Full(operator) => operator,
            Written::UserName(name) => Operator {
                os_user: Some(name),
                host: None,
            },
        }),
    )
}

/// The server as it was when a snapshot was taken.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(crate) struct ServerStamp {
    /// The flavor's name, such as `mysql-9` (a string here: a flavor added later must not make
    /// this version drop the record).
    pub flavor: String,
    pub version: String,
    pub hostname: Option<String>,
    /// The server's clock.
    pub time: String,
}

/// The `kill.snapshot` record: everything known about the victim before the kill.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(crate) struct KillSnapshot {
    #[serde(flatten)]
    pub header: Header,
    pub pid: u64,
    pub query_only: bool,
    pub reason: String,
    pub dry_run: bool,
    pub server: ServerStamp,
    pub thread: SnapshotThread,
    /// `trx_started` of its transaction, part of its identity.
    pub trx_started: Option<String>,
    /// A live marker of the session's activity (statement event id, or MariaDB's QUERY_ID); it
    /// changes when the session runs anything.
    pub activity: Option<u64>,
    pub last_statement: Option<String>,
    /// Row and table locks (MySQL 8.0+: all of them; 5.7/MariaDB: those involved in waits).
    pub locks: Vec<HeldLock>,
    pub metadata_locks: Vec<HeldMetadataLock>,
    pub blocks: BlastRadius,
}

/// The victim's thread as the snapshot records it: the processlist's `Thread` as it was
/// serialized when the format was fixed, frozen.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(crate) struct SnapshotThread {
    pub pid: u64,
    pub user: Option<String>,
    pub host: Option<String>,
    pub db: Option<String>,
    pub command: Option<String>,
    pub time_s: Option<u64>,
    pub state: Option<String>,
    /// The statement running at the snapshot, whole.
    pub statement: Option<String>,
    /// Command Sleep with an open transaction.
    pub idle_in_trx: bool,
    pub trx: Option<SnapshotTrx>,
}

/// The victim's InnoDB transaction, frozen like [`SnapshotThread`].
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(crate) struct SnapshotTrx {
    pub id: String,
    /// RUNNING, LOCK WAIT, ROLLING BACK or COMMITTING.
    pub state: String,
    pub age_s: u64,
    pub rows_locked: u64,
    pub rows_modified: u64,
    pub isolation: Option<String>,
    /// Seconds waiting for a row lock, when in LOCK WAIT.
    pub lock_wait_s: Option<u64>,
    /// `events_transactions_current.TIMER_START`, where the probe read it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timer_start: Option<u64>,
}

impl From<&processlist::Thread> for SnapshotThread {
    fn from(thread: &processlist::Thread) -> SnapshotThread {
        SnapshotThread {
            pid: thread.pid,
            user: thread.user.clone(),
            host: thread.host.clone(),
            db: thread.db.clone(),
            command: thread.command.clone(),
            time_s: thread.time_s,
            state: thread.state.clone(),
            statement: thread.statement.clone(),
            idle_in_trx: thread.idle_in_trx,
            trx: thread.trx.as_ref().map(|trx| SnapshotTrx {
                id: trx.id.clone(),
                state: trx.state.clone(),
                age_s: trx.age_s,
                rows_locked: trx.rows_locked,
                rows_modified: trx.rows_modified,
                isolation: trx.isolation.clone(),
                lock_wait_s: trx.lock_wait_s,
                timer_start: trx.timer_start,
            }),
        }
    }
}

/// A summary of locks of one kind.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(crate) struct HeldLock {
    pub table: Option<String>,
    pub index: Option<String>,
    pub lock_type: Option<String>,
    pub lock_mode: Option<String>,
    /// GRANTED or WAITING.
    pub status: Option<String>,
    pub count: u64,
}

/// A metadata lock held.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(crate) struct HeldMetadataLock {
    pub object_type: Option<String>,
    pub object: Option<String>,
    pub lock_type: Option<String>,
    pub duration: Option<String>,
}

/// The sessions a victim holds up.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub(crate) struct BlastRadius {
    /// Distinct sessions waiting on it, directly or not.
    pub waiters_total: usize,
    pub waiter_pids: Vec<u64>,
    /// Which of the waiters are replication applier threads: the replica falls behind while
    /// they wait. Absent when none (and in logs written before it was recorded).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub appliers: Vec<u64>,
    /// Who waited for whom under the victim, as the blocker tree had it: what the report's
    /// blocker graph is drawn from. Absent in logs written before it was recorded.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub edges: Vec<RecordedEdge>,
}

/// One edge of the tree under a kill's victim: `waiter` waited for `blocker`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(crate) struct RecordedEdge {
    pub blocker: u64,
    pub waiter: u64,
    /// The lock, in the words `locks` uses ("row shop.t2 PRIMARY X,REC_NOT_GAP").
    pub lock: String,
    /// `exact` or `inferred`; a string, so that a kind of knowing added later still reads.
    pub how: String,
}

/// The `kill.outcome` record, linked to its snapshot.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(crate) struct KillOutcome {
    #[serde(flatten)]
    pub header: Header,
    pub snapshot_id: String,
    pub pid: u64,
    pub result: KillResult,
    pub method: Option<KillMethod>,
    pub error: Option<String>,
    /// What differed from the snapshot at re-verify.
    pub changed: Vec<String>,
    pub after: Option<After>,
}

/// How a kill went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum KillResult {
    Killed,
    DryRun,
    /// Re-verification found another session (or none) behind the pid: not killed.
    Changed,
    NotConfirmed,
    Failed,
}

/// The statement that killed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum KillMethod {
    #[serde(rename = "KILL")]
    Kill,
    #[serde(rename = "KILL QUERY")]
    KillQuery,
    #[serde(rename = "mysql.rds_kill")]
    RdsKill,
    #[serde(rename = "mysql.rds_kill_query")]
    RdsKillQuery,
}

/// What the session looked like after the kill.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(crate) struct After {
    pub state: AfterState,
    pub command: Option<String>,
    pub trx_state: Option<String>,
    /// Rows still to undo while rolling back.
    pub rows_left: Option<u64>,
}

/// Where the session stood after the kill.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum AfterState {
    Gone,
    #[serde(rename = "rolling back")]
    RollingBack,
    Killed,
    Running,
}

/// The `deadlock` record.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(crate) struct DeadlockRecord {
    #[serde(flatten)]
    pub header: Header,
    /// The probe's deadlock key; used to record each deadlock once.
    pub key: String,
    pub server: String,
    /// The parsed deadlock; `null` for one known only from performance_schema.error_log (it
    /// happened between two polls and was replaced as the latest before it could be read).
    pub deadlock: Option<RecordedDeadlock>,
    /// The error-log entry, for a deadlock known only from there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logged: Option<LoggedDeadlock>,
}

/// A deadlock as recorded: the parser's `innodb_status::Deadlock` as it was serialized when the
/// format was fixed, frozen.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(crate) struct RecordedDeadlock {
    pub detected_at: Option<String>,
    /// The printing layout (`mysql-5.7`, `mysql-8`, `mariadb`); a string so that a layout added
    /// later does not make this version drop the record.
    pub format: String,
    pub transactions: Vec<RecordedDeadlockTrx>,
    pub victim: Option<u32>,
    pub victim_reported: Option<u32>,
}

/// One transaction of a recorded deadlock.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(crate) struct RecordedDeadlockTrx {
    pub number: u32,
    pub trx_id: Option<u64>,
    pub thread_id: Option<u64>,
    pub query_id: Option<u64>,
    pub user: Option<String>,
    pub host: Option<String>,
    pub active_secs: Option<u64>,
    pub lock_structs: Option<u64>,
    pub row_locks: Option<u64>,
    pub undo_entries: Option<u64>,
    pub query: Option<String>,
    pub holds: Vec<RecordedLock>,
    pub waits_for: Vec<RecordedLock>,
}

/// One lock of a recorded deadlock.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(crate) struct RecordedLock {
    pub lock_type: String,
    pub table: Option<String>,
    pub index: Option<String>,
    pub mode: String,
    pub waiting: bool,
}

/// A deadlock known only from the server's error log.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(crate) struct LoggedDeadlock {
    pub logged: String,
    pub victim: Option<u32>,
}

impl From<&innodb_status::Deadlock> for RecordedDeadlock {
    fn from(deadlock: &innodb_status::Deadlock) -> RecordedDeadlock {
        let lock = |l: &innodb_status::LockInfo| RecordedLock {
            lock_type: l.lock_type.clone(),
            table: l.table.clone(),
            index: l.index.clone(),
            mode: l.mode.clone(),
            waiting: l.waiting,
        };
        RecordedDeadlock {
            detected_at: deadlock.detected_at.clone(),
            format: crate::render::serde_label(&deadlock.format),
            transactions: deadlock
                .transactions
                .iter()
                .map(|t| RecordedDeadlockTrx {
                    number: t.number,
                    trx_id: t.trx_id,
                    thread_id: t.thread_id,
                    query_id: t.query_id,
                    user: t.user.clone(),
                    host: t.host.clone(),
                    active_secs: t.active_secs,
                    lock_structs: t.lock_structs,
                    row_locks: t.row_locks,
                    undo_entries: t.undo_entries,
                    query: t.query.clone(),
                    holds: t.holds.iter().map(lock).collect(),
                    waits_for: t.waits_for.iter().map(lock).collect(),
                })
                .collect(),
            victim: deadlock.victim,
            victim_reported: deadlock.victim_reported,
        }
    }
}

/// An `incident.start`, `incident.note` or `incident.end` record (the header says which).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(crate) struct IncidentRecord {
    #[serde(flatten)]
    pub header: Header,
    /// The id of the `incident.start` record.
    pub incident: String,
    pub title: Option<String>,
    pub text: Option<String>,
}
