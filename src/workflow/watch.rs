//! `mytriage watch`: the status screen, refreshed every `--interval`, with what changed over a
//! rolling `--window`: blockers that appeared and cleared, the history-list trend, connection
//! counts and new deadlocks. A sample that fails is shown as such and watching goes on; a lost
//! connection is re-opened with backoff.

use std::collections::{BTreeSet, VecDeque};
use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde::Serialize;

use crate::cli::{Format, WatchArgs};
use crate::connect::{ConnectConfig, Session};
use crate::error::one_line;
use crate::render::render;
use crate::render::screen::Screen;
use crate::verdict::Verdict;
use crate::workflow::status::{self, StatusReport};
use crate::workflow::thresholds::Thresholds;

/// One sample, as streamed in NDJSON.
#[derive(Debug, Serialize)]
pub(crate) struct Sample {
    pub at: String,
    pub ok: bool,
    /// Why the sample failed (timeout, lost connection), when it did.
    pub error: Option<String>,
    /// mytriage's connection id for this sample: it changes after a reconnect.
    pub connection_id: Option<u64>,
    pub verdict: Option<Verdict>,
    pub root_blockers: Vec<u64>,
    pub blocked_sessions: usize,
    pub history_list_length: Option<u64>,
    pub threads_connected: Option<u64>,
    pub latest_deadlock: Option<String>,
    /// What changed since the previous sample.
    pub events: Vec<String>,
}

/// Watches until Ctrl-C, `--duration` or `--samples`.
pub(crate) async fn run(
    config: &ConnectConfig,
    first: Session,
    args: &WatchArgs,
    limits: &Thresholds,
    format: Format,
) -> Result<()> {
    let screen = Screen::enter(format == Format::Table && std::io::stdout().is_terminal());
    let started = Instant::now();
    let mut session = Some(first);
    let mut backoff = Duration::from_secs(1);
    let mut next_connect = Instant::now();
    let mut window: VecDeque<(Instant, String)> = VecDeque::new();
    let mut history: VecDeque<(Instant, u64)> = VecDeque::new();
    let mut previous: Option<Sample> = None;
    let mut taken = 0u64;
    loop {
        if session.is_none() && Instant::now() >= next_connect {
            match Session::open(config, &crate::workflow::triage::statements).await {
                Ok(opened) => {
                    session = Some(opened);
                    backoff = Duration::from_secs(1);
                }
                Err(error) => {
                    next_connect = Instant::now() + backoff;
                    backoff = (backoff * 2).min(Duration::from_secs(30));
                    window.push_back((
                        Instant::now(),
                        format!("reconnect failed: {}", one_line(&error)),
                    ));
                }
            }
        }
        let (sample, report) = take(&mut session, limits, previous.as_ref()).await;
        for event in &sample.events {
            window.push_back((
                Instant::now(),
                format!("{} {event}", &sample.at[11..19.min(sample.at.len())]),
            ));
        }
        if let Some(hll) = sample.history_list_length {
            history.push_back((Instant::now(), hll));
        }
        while window
            .front()
            .is_some_and(|(t, _)| t.elapsed() > args.window)
        {
            window.pop_front();
        }
        while history
            .front()
            .is_some_and(|(t, _)| t.elapsed() > args.window)
        {
            history.pop_front();
        }
        show(&screen, format, &sample, report.as_ref(), &window, &history)?;
        previous = Some(sample);
        taken += 1;
        let done = args.samples.is_some_and(|n| taken >= n)
            || args.duration.is_some_and(|d| started.elapsed() >= d);
        if done {
            return Ok(());
        }
        tokio::select! {
            _ = tokio::time::sleep(args.interval) => {}
            _ = tokio::signal::ctrl_c() => return Ok(()),
        }
    }
}

/// One sample; on failure the session is dropped, to be re-opened on a later tick.
async fn take(
    session: &mut Option<Session>,
    limits: &Thresholds,
    previous: Option<&Sample>,
) -> (Sample, Option<StatusReport>) {
    let at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let mut sample = Sample {
        at,
        ok: false,
        error: None,
        connection_id: None,
        verdict: None,
        root_blockers: Vec::new(),
        blocked_sessions: 0,
        history_list_length: None,
        threads_connected: None,
        latest_deadlock: None,
        events: Vec::new(),
    };
    let Some(open) = session.as_mut() else {
        sample.error = Some("not connected; reconnecting".to_owned());
        if previous.is_some_and(|p| p.ok) {
            sample.events.push("connection lost".to_owned());
        }
        return (sample, None);
    };
    sample.connection_id = Some(open.server.connection_id);
    match status::collect(open, limits).await {
        Ok(report) => {
            let triage = &report.triage;
            sample.ok = true;
            sample.verdict = Some(report.verdict);
            if let Some(locks) = &triage.locks {
                sample.root_blockers = locks.forest.roots.iter().map(|r| r.info.pid).collect();
                sample.blocked_sessions = locks.forest.blocked_sessions;
            }
            sample.history_list_length = triage.history_list_length;
            sample.threads_connected = triage.connections.as_ref().map(|c| c.threads_connected);
            sample.latest_deadlock = triage
                .latest_deadlock
                .as_ref()
                .map(crate::probe::deadlocks::key);
            sample.events = changes(previous, &sample);
            sample
                .events
                .extend(triage.unavailable.iter().map(ToString::to_string));
            (sample, Some(report))
        }
        Err(error) => {
            sample.error = Some(one_line(&error));
            sample
                .events
                .push(format!("sample failed: {}", one_line(&error)));
            *session = None;
            (sample, None)
        }
    }
}

/// Blockers that appeared or cleared, new deadlocks, a restored connection.
fn changes(previous: Option<&Sample>, now: &Sample) -> Vec<String> {
    let Some(before) = previous else {
        return Vec::new();
    };
    let mut events = Vec::new();
    if !before.ok {
        events.push("connection restored".to_owned());
    }
    let (old, new): (BTreeSet<u64>, BTreeSet<u64>) = (
        before.root_blockers.iter().copied().collect(),
        now.root_blockers.iter().copied().collect(),
    );
    events.extend(new.difference(&old).map(|pid| format!("new blocker {pid}")));
    events.extend(
        old.difference(&new)
            .map(|pid| format!("blocker {pid} cleared")),
    );
    if before.ok && now.latest_deadlock != before.latest_deadlock && now.latest_deadlock.is_some() {
        events.push(format!(
            "new deadlock: {}",
            now.latest_deadlock.as_deref().unwrap_or("?")
        ));
    }
    events
}

fn show(
    screen: &Screen,
    format: Format,
    sample: &Sample,
    report: Option<&StatusReport>,
    window: &VecDeque<(Instant, String)>,
    history: &VecDeque<(Instant, u64)>,
) -> Result<()> {
    let mut out = std::io::stdout().lock();
    if format == Format::Json {
        serde_json::to_writer(&mut out, sample)?;
        writeln!(out)?;
        return out.flush().context("writing a sample");
    }
    screen.clear(&mut out)?;
    writeln!(out, "mytriage watch — {}  (Ctrl-C to quit)\n", sample.at)?;
    match (report, &sample.error) {
        (Some(report), _) => render(report, Format::Table, &mut out)?,
        (None, Some(error)) => writeln!(out, "SAMPLE FAILED: {error}")?,
        (None, None) => {}
    }
    if let (Some((_, first)), Some((_, last))) = (history.front(), history.back()) {
        writeln!(
            out,
            "\nHistory list length over the window: {first} → {last} ({:+})",
            *last as i64 - *first as i64
        )?;
    }
    writeln!(out, "\nChanges in the window:")?;
    if window.is_empty() {
        writeln!(out, "  (none)")?;
    }
    for (_, event) in window {
        writeln!(out, "  {event}")?;
    }
    out.flush().context("writing the screen")
}
