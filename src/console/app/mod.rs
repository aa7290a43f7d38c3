//! The console's state: what the latest sample showed, which pane and row are selected, what is
//! collapsed, filtered and sorted, and the dialogs. Keys change it and may ask the sampler for
//! something; nothing here does I/O, so every step is a unit test.

mod keys;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use super::sampler::{Detail, Request, Snapshot, Update};
use crate::evidence::record::{KillOutcome, KillSnapshot};
use crate::probe::locks::LockSession;
use crate::probe::locks::tree::{Node, WaitInfo};
use crate::probe::processlist::{Thread, oldest_first};
use crate::probe::top;
use crate::render::serde_label;
use crate::workflow::live::Window;

/// The panes, in the order of their number keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pane {
    Blockers,
    Sessions,
    Load,
    Transactions,
    Deadlock,
    Replication,
}

impl Pane {
    pub(crate) const ALL: [Pane; 6] = [
        Pane::Blockers,
        Pane::Sessions,
        Pane::Load,
        Pane::Transactions,
        Pane::Deadlock,
        Pane::Replication,
    ];

    pub(crate) fn title(self) -> &'static str {
        match self {
            Pane::Blockers => "Blockers",
            Pane::Sessions => "Sessions",
            Pane::Load => "Load",
            Pane::Transactions => "Transactions",
            Pane::Deadlock => "Deadlock",
            Pane::Replication => "Replication",
        }
    }

    fn index(self) -> usize {
        Pane::ALL.iter().position(|p| *p == self).unwrap_or(0)
    }

    /// Whether its rows are sessions one can select, open and kill.
    fn lists_sessions(self) -> bool {
        matches!(self, Pane::Blockers | Pane::Sessions | Pane::Transactions)
    }
}

/// The processlist's sort orders, in the order `s` cycles through them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SortKey {
    /// Longest in its current command first.
    Time,
    /// Oldest transaction first (the one order every command uses).
    TrxAge,
    Pid,
    Account,
}

impl SortKey {
    pub(crate) fn label(self) -> &'static str {
        match self {
            SortKey::Time => "time",
            SortKey::TrxAge => "trx age",
            SortKey::Pid => "pid",
            SortKey::Account => "account",
        }
    }

    fn next(self) -> SortKey {
        match self {
            SortKey::Time => SortKey::TrxAge,
            SortKey::TrxAge => SortKey::Pid,
            SortKey::Pid => SortKey::Account,
            SortKey::Account => SortKey::Time,
        }
    }
}

/// One line of the blocker tree.
#[derive(Debug, Clone)]
pub(crate) struct TreeRow {
    pub depth: usize,
    pub session: LockSession,
    pub waiting_for: Option<WaitInfo>,
    pub waiters_total: usize,
    pub has_waiters: bool,
    pub collapsed: bool,
    /// A waiter whose blocker the server does not name (listed under "blocker unknown").
    pub unresolved: bool,
    /// Seen earlier in the tree (a session waiting on two blockers): its waiters are not
    /// repeated.
    pub repeated: bool,
}

/// The load over the window, aggregated when a sample arrives: the load pane only reads it,
/// so a frame does not re-count every active session of every sample in the window.
#[derive(Debug, Clone)]
pub(crate) struct LoadSummary {
    pub report: top::TopReport,
    /// Active sessions per sample of each of the first [`LOAD_CLASSES`] wait classes, in the
    /// order of `report.by_wait`.
    pub by_wait: Vec<Vec<usize>>,
}

/// The wait classes the load pane draws a sparkline for.
pub(crate) const LOAD_CLASSES: usize = 5;

impl LoadSummary {
    fn of(loads: &Window<top::Sample>, source: top::TopSource) -> LoadSummary {
        let samples: Vec<top::Sample> = loads.iter().cloned().collect();
        let report = top::aggregate(&samples, None, None, source);
        let by_wait = report
            .by_wait
            .iter()
            .take(LOAD_CLASSES)
            .map(|class| {
                samples
                    .iter()
                    .map(|s| {
                        s.active
                            .iter()
                            .filter(|a| a.wait_class == class.key)
                            .count()
                    })
                    .collect()
            })
            .collect();
        LoadSummary { report, by_wait }
    }
}

/// The steps of a kill from the console. The snapshot is on disk before the dialog asks.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum KillStep {
    /// Writing the snapshot to the evidence log.
    Snapshotting { pid: u64, query_only: bool },
    /// The snapshot is written; the blast radius is shown and y/n asked.
    Confirm {
        snapshot: Box<KillSnapshot>,
        warnings: Vec<String>,
    },
    /// Re-verifying and killing.
    Killing { pid: u64 },
    /// What happened, until a key closes it.
    Done { pid: u64, outcome: Box<KillOutcome> },
    /// Refused or failed before the kill.
    Refused { pid: u64, reason: String },
}

/// What has the keys.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Mode {
    Normal,
    Help,
    /// Typing the processlist filter.
    Filter(String),
    /// Typing an incident note.
    Note(String),
    /// A session's detail, with its plan once read, scrolled by `scroll` lines.
    Detail {
        pid: u64,
        detail: Option<Box<Detail>>,
        scroll: u16,
    },
    Kill(KillStep),
}

/// What the event loop does for a key, beyond changing the state.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Effect {
    Quit,
    Send(Request),
    /// Append an incident note to the evidence log.
    Note(String),
    Pause(bool),
}

/// The whole state of the screen.
pub(crate) struct App {
    pub interval: Duration,
    pub pane: Pane,
    pub snapshot: Option<Box<Snapshot>>,
    /// The load samples over the window, oldest first.
    pub loads: Window<top::Sample>,
    /// The window's load, aggregated when the last sample arrived.
    pub load: Option<LoadSummary>,
    /// When the sample in flight began, if one is.
    pub sampling_since: Option<Instant>,
    pub last_sampled: Option<Instant>,
    /// Why the last sample failed, until one succeeds.
    pub failure: Option<String>,
    pub paused: bool,
    pub mode: Mode,
    /// A line for the footer: the outcome of the last action.
    pub message: Option<String>,
    pub collapsed: BTreeSet<u64>,
    pub filter: String,
    pub sort: SortKey,
    pub tree: Vec<TreeRow>,
    /// Indices into the snapshot's threads, filtered and sorted.
    pub sessions: Vec<usize>,
    /// Indices into the snapshot's threads that have a transaction, oldest first.
    pub transactions: Vec<usize>,
    /// The selected row of each pane.
    selected: [usize; 6],
    /// Rows a page holds, as last drawn (PgUp/PgDn move by it).
    pub page: usize,
}

impl App {
    pub(crate) fn new(interval: Duration, window: Duration) -> App {
        App {
            interval,
            pane: Pane::Blockers,
            snapshot: None,
            loads: Window::new(window),
            load: None,
            sampling_since: None,
            last_sampled: None,
            failure: None,
            paused: false,
            mode: Mode::Normal,
            message: None,
            collapsed: BTreeSet::new(),
            filter: String::new(),
            sort: SortKey::Time,
            tree: Vec::new(),
            sessions: Vec::new(),
            transactions: Vec::new(),
            selected: [0; 6],
            page: 10,
        }
    }

    /// The threads of the latest sample.
    pub(crate) fn threads(&self) -> &[Thread] {
        self.snapshot.as_deref().map_or(&[], |s| &s.threads)
    }

    pub(crate) fn selected(&self, pane: Pane) -> usize {
        self.selected[pane.index()]
    }

    /// How late the sample is: the one in flight has taken longer than the interval, or none
    /// has arrived for two intervals.
    pub(crate) fn late_by(&self, now: Instant) -> Option<Duration> {
        let grace = self.interval;
        let in_flight = self
            .sampling_since
            .map(|since| now.saturating_duration_since(since))
            .filter(|took| *took > grace);
        let stale = self
            .last_sampled
            .map(|at| now.saturating_duration_since(at))
            .filter(|age| *age > grace * 2)
            .map(|age| age - grace);
        in_flight.or(stale).filter(|_| !self.paused)
    }

    /// Takes in what the sampler sent; returns a request when the answer needs one (a kill
    /// snapshot that arrived after its dialog was closed is answered "no", so the log says so).
    pub(crate) fn update(&mut self, update: Update, now: Instant) -> Option<Request> {
        match update {
            Update::Sampling => self.sampling_since = Some(now),
            Update::Sampled(snapshot) => {
                self.sampling_since = None;
                self.last_sampled = Some(now);
                self.failure = None;
                self.loads.push(snapshot.load.clone());
                self.loads.expire();
                let source = top::TopSource::of(&snapshot.report.triage.server);
                self.load = Some(LoadSummary::of(&self.loads, source));
                self.snapshot = Some(snapshot);
                self.rebuild();
            }
            Update::Failed(error) => {
                self.sampling_since = None;
                self.failure = Some(error);
            }
            Update::Detail(detail) => {
                if let Mode::Detail {
                    pid, detail: slot, ..
                } = &mut self.mode
                    && *pid == detail.pid
                {
                    *slot = Some(detail);
                }
            }
            Update::KillSnapshot { snapshot, warnings } => {
                let waiting = matches!(
                    &self.mode,
                    Mode::Kill(KillStep::Snapshotting { pid, .. }) if *pid == snapshot.pid
                );
                if !waiting {
                    return Some(Request::KillConclude { confirmed: false });
                }
                self.mode = Mode::Kill(KillStep::Confirm { snapshot, warnings });
            }
            Update::KillRefused { pid, reason } => {
                self.mode = Mode::Kill(KillStep::Refused { pid, reason });
            }
            Update::KillOutcome(outcome) => {
                self.message = Some(describe_outcome(&outcome));
                if matches!(self.mode, Mode::Kill(_)) {
                    self.mode = Mode::Kill(KillStep::Done {
                        pid: outcome.pid,
                        outcome,
                    });
                }
            }
        }
        None
    }

    /// Rebuilds the rows from the latest sample after it, the collapse, the filter or the sort
    /// changed: drawing a frame then only reads them.
    pub(crate) fn rebuild(&mut self) {
        let Some(snapshot) = self.snapshot.as_deref() else {
            return;
        };
        let mut tree = Vec::new();
        if let Some(locks) = &snapshot.report.triage.locks {
            let mut shown = BTreeSet::new();
            for root in &locks.forest.roots {
                flatten(root, 0, &self.collapsed, &mut shown, &mut tree);
            }
            for unknown in &locks.unresolved {
                tree.push(TreeRow {
                    depth: 0,
                    session: unknown.session.clone(),
                    waiting_for: Some(unknown.waiting_for.clone()),
                    waiters_total: 0,
                    has_waiters: false,
                    collapsed: false,
                    unresolved: true,
                    repeated: false,
                });
            }
        }
        self.tree = tree;
        let threads = &snapshot.threads;
        let needle = self.filter.to_lowercase();
        let mut sessions: Vec<usize> = (0..threads.len())
            .filter(|&i| needle.is_empty() || matches_filter(&threads[i], &needle))
            .collect();
        match self.sort {
            SortKey::Time => sessions.sort_by_key(|&i| {
                (
                    std::cmp::Reverse(threads[i].time_s.unwrap_or(0)),
                    threads[i].pid,
                )
            }),
            SortKey::TrxAge => sessions.sort_by(|&a, &b| oldest_first(&threads[a], &threads[b])),
            SortKey::Pid => sessions.sort_by_key(|&i| threads[i].pid),
            SortKey::Account => sessions.sort_by(|&a, &b| {
                let key = |t: &Thread| (t.user.clone(), t.host_name().map(str::to_owned), t.pid);
                key(&threads[a]).cmp(&key(&threads[b]))
            }),
        }
        self.sessions = sessions;
        let mut transactions: Vec<usize> = (0..threads.len())
            .filter(|&i| threads[i].trx.is_some())
            .collect();
        transactions.sort_by(|&a, &b| oldest_first(&threads[a], &threads[b]));
        self.transactions = transactions;
        for pane in [Pane::Blockers, Pane::Sessions, Pane::Transactions] {
            let rows = self.rows(pane);
            let slot = &mut self.selected[pane.index()];
            *slot = (*slot).min(rows.saturating_sub(1));
        }
    }

    /// How many selectable rows a pane has.
    pub(crate) fn rows(&self, pane: Pane) -> usize {
        match pane {
            Pane::Blockers => self.tree.len(),
            Pane::Sessions => self.sessions.len(),
            Pane::Transactions => self.transactions.len(),
            _ => 0,
        }
    }

    /// The session of the selected row, in a pane that lists sessions.
    pub(crate) fn selected_pid(&self) -> Option<u64> {
        let row = self.selected(self.pane);
        match self.pane {
            Pane::Blockers => self.tree.get(row).map(|r| r.session.pid),
            Pane::Sessions => self.sessions.get(row).map(|&i| self.threads()[i].pid),
            Pane::Transactions => self.transactions.get(row).map(|&i| self.threads()[i].pid),
            _ => None,
        }
    }
}

fn flatten(
    node: &Node<LockSession>,
    depth: usize,
    collapsed: &BTreeSet<u64>,
    shown: &mut BTreeSet<u64>,
    rows: &mut Vec<TreeRow>,
) {
    let pid = node.info.pid;
    let repeated = !shown.insert(pid);
    let folded = collapsed.contains(&pid);
    rows.push(TreeRow {
        depth,
        session: node.info.clone(),
        waiting_for: node.waiting_for.as_deref().cloned(),
        waiters_total: node.waiters_total,
        has_waiters: !node.waiters.is_empty(),
        collapsed: folded,
        unresolved: false,
        repeated,
    });
    if !repeated && !folded {
        for waiter in &node.waiters {
            flatten(waiter, depth + 1, collapsed, shown, rows);
        }
    }
}

fn matches_filter(thread: &Thread, needle: &str) -> bool {
    let pid = thread.pid.to_string();
    [
        Some(pid.as_str()),
        thread.user.as_deref(),
        thread.host.as_deref(),
        thread.db.as_deref(),
        thread.command.as_deref(),
        thread.state.as_deref(),
        thread.statement.as_deref(),
    ]
    .into_iter()
    .flatten()
    .any(|field| field.to_lowercase().contains(needle))
}

/// The footer's line for a kill's outcome.
pub(crate) fn describe_outcome(outcome: &KillOutcome) -> String {
    let result = serde_label(&outcome.result);
    let mut line = format!("session {}: {result}", outcome.pid);
    if let Some(method) = &outcome.method {
        line.push_str(&format!(" by {}", serde_label(method)));
    }
    if let Some(after) = &outcome.after {
        line.push_str(&format!(", now {}", serde_label(&after.state)));
    }
    if !outcome.changed.is_empty() {
        line.push_str(&format!(" ({})", outcome.changed.join("; ")));
    }
    if let Some(error) = &outcome.error {
        line.push_str(&format!(": {error}"));
    }
    line
}
