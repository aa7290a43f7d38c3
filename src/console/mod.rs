//! `mytriage console`: the full-screen incident console. The header judges the server as
//! `status` does; the panes show the blocker tree, the sessions, the load, the transactions, the
//! latest deadlock and replication; Enter opens a session with its plan, and `k` kills it through
//! the same evidence-first path as `mytriage kill`.
//!
//! Two halves: the [`sampler`] task owns the one connection; the event loop here owns the
//! terminal, the keys and the [`app`] state, and draws with [`view`]. A hung server holds only
//! the sampler, so the keys stay live and the header says how late the sample is.

pub(crate) mod app;
pub mod bench;
pub(crate) mod sampler;
pub(crate) mod view;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use crossterm::event::{Event, EventStream, KeyEventKind};
use futures_util::StreamExt;
use tokio::sync::{mpsc, watch};

use crate::connect::{ConnectConfig, Session};
use crate::evidence::EvidenceLog;
use crate::workflow::incident;
use crate::workflow::thresholds::Thresholds;
use app::{App, Effect};
use sampler::Sampler;
use view::Palette;

/// What `console` was asked for.
#[derive(Debug, Clone)]
pub(crate) struct Options {
    pub interval: Duration,
    /// How far back the load pane reaches.
    pub window: Duration,
    /// The evidence log kills and notes go to.
    pub evidence: PathBuf,
    /// Recorded with each kill.
    pub reason: String,
}

/// How often the screen is redrawn without an event, so the lateness counter moves.
const REDRAW: Duration = Duration::from_millis(250);

/// Runs the console until `q`, Ctrl-C or SIGTERM. The terminal is restored however it ends,
/// a panic included (ratatui's hook).
pub(crate) async fn run(
    config: &ConnectConfig,
    first: Session,
    options: &Options,
    limits: &Thresholds,
    log: EvidenceLog,
) -> Result<()> {
    use std::io::IsTerminal;
    if !std::io::stdout().is_terminal() || !std::io::stdin().is_terminal() {
        bail!(
            "console needs a terminal; for a pipe or a script use `mytriage watch` (NDJSON with --format json)"
        );
    }
    let palette = Palette {
        color: std::env::var_os("NO_COLOR").is_none(),
    };
    let (request_tx, request_rx) = mpsc::unbounded_channel();
    let (update_tx, update_rx) = mpsc::unbounded_channel();
    let (pause_tx, pause_rx) = watch::channel(false);
    let sampler = Sampler {
        config: config.clone(),
        session: Some(first),
        limits: limits.clone(),
        interval: options.interval,
        log,
        reason: options.reason.clone(),
        updates: update_tx,
        paused: pause_rx,
    };
    // The session's futures are not Send: the sampler runs on this thread, beside the screen.
    let tasks = tokio::task::LocalSet::new();
    tasks
        .run_until(screen(
            sampler, request_rx, request_tx, update_rx, pause_tx, options, palette,
        ))
        .await
}

/// The event loop: draws, reads keys and the sampler's updates, until the console quits.
async fn screen(
    sampler: Sampler,
    request_rx: mpsc::UnboundedReceiver<sampler::Request>,
    request_tx: mpsc::UnboundedSender<sampler::Request>,
    mut update_rx: mpsc::UnboundedReceiver<sampler::Update>,
    pause_tx: watch::Sender<bool>,
    options: &Options,
    palette: Palette,
) -> Result<()> {
    let sampling = tokio::task::spawn_local(sampler.run(request_rx));
    let mut terminal = ratatui::init();
    let mut app = App::new(options.interval, options.window);
    let outcome = async {
        let mut keys = EventStream::new();
        let mut redraw = tokio::time::interval(REDRAW);
        use tokio::signal::unix::{SignalKind, signal};
        let mut terminate = signal(SignalKind::terminate()).context("listening for SIGTERM")?;
        // In raw mode Ctrl-C is a key; SIGINT still comes from `kill -INT`.
        let mut interrupt = signal(SignalKind::interrupt()).context("listening for SIGINT")?;
        loop {
            terminal
                .draw(|frame| view::draw(frame, &mut app, Instant::now(), palette))
                .context("drawing the console")?;
            tokio::select! {
                event = keys.next() => {
                    let Some(event) = event else { return Ok(()) };
                    let Event::Key(key) = event.context("reading the keyboard")? else {
                        continue; // a resize redraws at the top of the loop
                    };
                    if key.kind != KeyEventKind::Press {
                        continue;
                    }
                    match app.key(key) {
                        Some(Effect::Quit) => return Ok(()),
                        Some(Effect::Send(request)) => {
                            let _ = request_tx.send(request);
                        }
                        Some(Effect::Note(text)) => {
                            app.message = Some(note(&options.evidence, text));
                        }
                        Some(Effect::Pause(paused)) => {
                            let _ = pause_tx.send(paused);
                        }
                        None => {}
                    }
                }
                update = update_rx.recv() => {
                    let Some(update) = update else {
                        bail!("the sampler stopped");
                    };
                    if let Some(request) = app.update(update, Instant::now()) {
                        let _ = request_tx.send(request);
                    }
                }
                _ = redraw.tick() => {}
                _ = terminate.recv() => return Ok(()),
                _ = interrupt.recv() => return Ok(()),
            }
        }
    }
    .await;
    ratatui::restore();
    // A kill under way is let finish (a dialog left open answers "no"), so the log has the
    // outcome of every snapshot; otherwise a sample in flight on a hung server is abandoned.
    let finishing = match app.mode {
        app::Mode::Kill(app::KillStep::Confirm { .. }) => {
            let _ = request_tx.send(sampler::Request::KillConclude { confirmed: false });
            true
        }
        app::Mode::Kill(app::KillStep::Snapshotting { .. } | app::KillStep::Killing { .. }) => true,
        _ => false,
    };
    drop(request_tx);
    if finishing {
        let _ = tokio::time::timeout(Duration::from_secs(10), sampling).await;
    } else {
        sampling.abort();
    }
    outcome
}

/// Appends an incident note; the footer says where it went, or why not.
fn note(evidence: &std::path::Path, text: String) -> String {
    match incident::record(evidence, &incident::Action::Note { text }) {
        Ok(record) => format!("note added to incident {}", record.incident),
        Err(error) => format!("note not added: {}", crate::error::one_line(&error)),
    }
}

#[cfg(test)]
mod tests;
