//! `mytriage watch`: the status screen, refreshed every `--interval`, with what changed over a
//! rolling `--window`: blockers that appeared and cleared, the history-list trend, connection
//! counts and new deadlocks. A sample that fails is shown as such and watching goes on; a lost
//! connection is re-opened with backoff.

use std::collections::BTreeSet;
use std::io::Write;
use std::time::Duration;

use anyhow::Result;
use serde::Serialize;

use crate::connect::{ConnectConfig, Session};
use crate::error::one_line;
use crate::notify::{self, Outbox, Webhook};
use crate::render::{Format, ViewOptions, render};
use crate::verdict::Verdict;
use crate::workflow::live::{Frames, Pace, Reconnect, Ticker, Window};
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
    /// Notifications (`--notify`) not delivered so far, retries included.
    pub notifications_failed: u64,
}

/// What `watch` was asked for.
#[derive(Debug, Clone)]
pub(crate) struct Options {
    pub pace: Pace,
    /// How far back "what changed" reaches.
    pub window: Duration,
    /// Post changes of verdict to a webhook (`--notify`); resolved into a [`Webhook`] before
    /// connecting.
    pub notify: Option<notify::Request>,
}

/// Watches until Ctrl-C, `--duration` or `--samples`. With a `webhook`, each change of verdict
/// is posted in the background, so a slow webhook never delays a sample.
pub(crate) async fn run(
    config: &ConnectConfig,
    first: Session,
    options: &Options,
    limits: &Thresholds,
    format: Format,
    view: &ViewOptions,
    webhook: Option<Webhook>,
) -> Result<()> {
    let outbox = webhook.map(|w| (w.style, Outbox::start(w)));
    let mut posted: Option<Verdict> = None;
    let frames = Frames::open(format, false);
    let mut ticker = Ticker::start(&options.pace);
    let mut session = Some(first);
    let mut reconnect = Reconnect::new();
    let mut window: Window<String> = Window::new(options.window);
    let mut history: Window<u64> = Window::new(options.window);
    let mut previous: Option<Sample> = None;
    loop {
        let plan = &crate::workflow::triage::statements;
        if let Err(refused) = reconnect.reopen(&mut session, config, plan).await {
            window.push(format!("reconnect failed: {}", one_line(&refused.error)));
        }
        let (mut sample, report) = take(&mut session, limits, previous.as_ref()).await;
        if let (Some((style, outbox)), Some(report)) = (&outbox, &report) {
            if notify::changed(posted, report.verdict) {
                let change = notify::Change {
                    verdict: report.verdict,
                    previous: posted,
                    server: config.target(),
                    command: notify::command_for(config),
                    by: "watch",
                    report,
                };
                outbox.send(notify::payload(&change, *style));
            }
            posted = Some(report.verdict);
            sample.notifications_failed = outbox.failed();
        }
        for event in &sample.events {
            window.push(format!(
                "{} {event}",
                &sample.at[11..19.min(sample.at.len())]
            ));
        }
        if let Some(hll) = sample.history_list_length {
            history.push(hll);
        }
        window.expire();
        history.expire();
        if frames.is_json() {
            frames.line(&sample)?;
        } else {
            frames.frame(|out| show(out, view, &sample, report.as_ref(), &window, &history))?;
        }
        previous = Some(sample);
        if !ticker.next().await {
            if let Some((_, outbox)) = outbox {
                // What is queued still goes out (or is given up, and said so) before exiting.
                outbox.finish(Duration::from_secs(10)).await;
            }
            return Ok(());
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
        notifications_failed: 0,
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
    out: &mut impl Write,
    view: &ViewOptions,
    sample: &Sample,
    report: Option<&StatusReport>,
    window: &Window<String>,
    history: &Window<u64>,
) -> Result<()> {
    writeln!(out, "mytriage watch — {}  (Ctrl-C to quit)\n", sample.at)?;
    match (report, &sample.error) {
        (Some(report), _) => render(report, Format::Table, view, out)?,
        (None, Some(error)) => writeln!(out, "SAMPLE FAILED: {error}")?,
        (None, None) => {}
    }
    if let (Some(first), Some(last)) = (history.iter().next(), history.iter().next_back()) {
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
    for event in window.iter() {
        writeln!(out, "  {event}")?;
    }
    Ok(())
}
