//! What the console costs the client, for `benches/console.rs`: one real sample, taken on a
//! real server exactly as the console's sampler takes it, kept so the incident can be torn down
//! at once; then, in this process, the CPU time of taking that sample in (`App::update`: the rows
//! rebuilt once per sample) and of drawing frames into ratatui's `TestBackend`, pane by pane and
//! size by size. Not part of the interface: `mytriage::console_bench` is `#[doc(hidden)]`.
//!
//! CPU is this thread's (`CLOCK_THREAD_CPUTIME_ID`): nothing here awaits while measuring, so the
//! runtime's other work is not counted, and neither are other processes on a shared machine.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

use super::app::{App, Pane};
use super::sampler::{self, Snapshot, Update};
use super::view::{self, Palette};
use crate::connect::option_file::Defaults;
use crate::connect::{self, Flags, Inputs, Layer, Session};
use crate::render::{self, Format, ViewOptions};
use crate::workflow::thresholds::Thresholds;

/// The panes measured: those whose content grows with the server's sessions.
pub const PANES: [&str; 4] = ["Blockers", "Sessions", "Transactions", "Load"];

/// `console`'s defaults: a sample every 2 s, a load window of 5 minutes.
const INTERVAL: Duration = Duration::from_secs(2);
const WINDOW: Duration = Duration::from_secs(300);
/// How many samples the default window holds once it is full (5 min / 2 s).
pub const FULL_WINDOW: usize = 150;

/// One real console sample, kept to be measured after the incident is gone.
pub struct Sample {
    snapshot: Option<Box<Snapshot>>,
    /// The server, as the console's header names it.
    pub server: String,
    /// Sessions in the sample (the processlist the console lists).
    pub threads: usize,
    /// Rows the blocker tree flattens to, all expanded.
    pub tree_rows: usize,
    /// Sessions with a transaction.
    pub transactions: usize,
    /// Sessions the load sample counts as active.
    pub active: usize,
    /// Connecting and sampling, wall time.
    pub took: Duration,
}

/// Connects to `url` (no option files, nothing from the environment), takes one console sample
/// with [`sampler::take`], and closes the connection.
pub async fn sample(url: &str) -> Result<Sample> {
    let flags = Flags {
        url: Some(url.to_owned()),
        given: Layer {
            // Thousands of sessions and a hot row: give the sample time.
            query_timeout: Some(Duration::from_secs(60)),
            ..Layer::default()
        },
        ask_password: false,
        defaults: Defaults::None,
        login_path: None,
    };
    let inputs = Inputs {
        flags: &flags,
        env: &|_| None,
        home: None,
        prompt: &|| Err(anyhow!("the console bench asks for no password")),
    };
    let config = connect::resolve(&inputs)?.config;
    // The first batch of `Session::open` already carries the sample's statements.
    let started = Instant::now();
    let mut session = Session::open(&config, &sampler::statements).await?;
    let taken = sampler::take(&mut session, &Thresholds::default()).await;
    let took = started.elapsed();
    session.close().await;
    let (report, threads, load) = taken.context("taking the console sample")?;
    let server = format!(
        "{} {}",
        report.triage.server.flavor_name, report.triage.server.version
    );
    let snapshot = Box::new(Snapshot {
        report,
        threads,
        load,
        at: chrono::Utc::now().format("%H:%M:%S").to_string(),
        took,
    });
    let mut app = App::new(INTERVAL, WINDOW);
    app.update(Update::Sampled(snapshot), Instant::now());
    let tree_rows = app.tree.len();
    let transactions = app.transactions.len();
    let snapshot = app.snapshot.take().context("the sample went missing")?;
    Ok(Sample {
        server,
        threads: snapshot.threads.len(),
        tree_rows,
        transactions,
        active: snapshot.load.active.len(),
        took,
        snapshot: Some(snapshot),
    })
}

/// What to measure, and how often.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Frames drawn per pane and size (after one unmeasured frame).
    pub frames: usize,
    /// Times the sample is taken in, each into a fresh state.
    pub updates: usize,
    /// Load samples in the window when the sample arrives, this one included: the load pane
    /// averages over all of them. [`FULL_WINDOW`] is the default window, full.
    pub window_samples: usize,
    /// Terminal sizes, `(columns, rows)`.
    pub sizes: Vec<(u16, u16)>,
}

/// CPU per frame of one pane at one size.
#[derive(Debug, Clone)]
pub struct FrameCost {
    pub pane: &'static str,
    pub width: u16,
    pub height: u16,
    pub per_frame: Duration,
}

/// What one measurement of a sample found.
#[derive(Debug, Clone)]
pub struct Costs {
    /// CPU of `App::update` with the sample: what the console does once per sample.
    pub update: Duration,
    pub frames: Vec<FrameCost>,
    /// CPU of rendering `status`'s table for the same snapshot, once: what printing the text
    /// view of this sample costs, for scale.
    pub status_table: Duration,
}

/// Measures `sample` as `plan` says. The sample is put back afterwards, to be measured again.
pub fn measure(sample: &mut Sample, plan: &Plan) -> Result<Costs> {
    let mut snapshot = sample.snapshot.take().context("the sample is not there")?;
    let mut update = Duration::ZERO;
    let updates = plan.updates.max(1);
    for _ in 0..updates {
        let mut app = filled(&snapshot, plan.window_samples);
        let started = thread_cpu();
        app.update(Update::Sampled(snapshot), Instant::now());
        update += thread_cpu().saturating_sub(started);
        snapshot = app.snapshot.take().context("the sample went missing")?;
    }
    let update = update / updates as u32;

    let mut status_table = Duration::ZERO;
    let mut out = Vec::with_capacity(64 * 1024);
    let view = ViewOptions {
        full: false,
        color: false,
    };
    for _ in 0..updates {
        out.clear();
        let started = thread_cpu();
        render::render(&snapshot.report, Format::Table, &view, &mut out)
            .context("rendering the status table")?;
        status_table += thread_cpu().saturating_sub(started);
    }
    let status_table = status_table / updates as u32;

    let mut app = filled(&snapshot, plan.window_samples);
    app.update(Update::Sampled(snapshot), Instant::now());
    let frames = draw_frames(&mut app, plan);
    sample.snapshot = app.snapshot.take();
    Ok(Costs {
        update,
        frames: frames?,
        status_table,
    })
}

/// A fresh state whose load window already holds `window_samples - 1` copies of this sample's
/// load, as it would after that many samples like it.
fn filled(snapshot: &Snapshot, window_samples: usize) -> App {
    let mut app = App::new(INTERVAL, WINDOW);
    for _ in 1..window_samples {
        app.loads.push(snapshot.load.clone());
    }
    app
}

fn draw_frames(app: &mut App, plan: &Plan) -> Result<Vec<FrameCost>> {
    let palette = Palette { color: true };
    let frames = plan.frames.max(1);
    let mut costs = Vec::new();
    for pane in PANES {
        app.pane = Pane::ALL
            .into_iter()
            .find(|p| p.title() == pane)
            .context("no such pane")?;
        for &(width, height) in &plan.sizes {
            let Ok(mut terminal) = Terminal::new(TestBackend::new(width, height));
            let now = Instant::now();
            let mut draw = || {
                // TestBackend never fails.
                let _ = terminal.draw(|frame| view::draw(frame, app, now, palette));
            };
            draw();
            let started = thread_cpu();
            for _ in 0..frames {
                draw();
            }
            let spent = thread_cpu().saturating_sub(started);
            costs.push(FrameCost {
                pane,
                width,
                height,
                per_frame: spent / frames as u32,
            });
        }
    }
    Ok(costs)
}

/// The CPU time this thread has used.
fn thread_cpu() -> Duration {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a live timespec the call writes into; the clock always exists on Linux.
    let status = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now) };
    if status != 0 {
        return Duration::ZERO;
    }
    Duration::new(
        u64::try_from(now.tv_sec).unwrap_or(0),
        u32::try_from(now.tv_nsec).unwrap_or(0),
    )
}
