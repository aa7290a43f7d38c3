//! `mytriage top`, live: one sample per tick, recorded and streamed as asked, and the load over
//! the rolling window redrawn on a terminal or printed once at the end.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};

use crate::connect::Session;
use crate::probe::top::{self, Sample, TopReport, TopSource};
use crate::render::{Format, ViewOptions, render};
use crate::workflow::live::{Frames, Pace, Ticker, Window};

/// What `top` was asked for.
#[derive(Debug, Clone)]
pub(crate) struct Options {
    pub pace: Pace,
    /// The rolling window the load is averaged over.
    pub window: Duration,
    /// Append every sample to this file (`--record`).
    pub record: Option<PathBuf>,
    /// The CPU count to draw as a reference line (`--cpus`).
    pub cpus: Option<u32>,
}

/// Samples until Ctrl-C or `--duration`. Returns the load over the window when it is to be
/// printed once at the end (a bounded run, or a table that is not on a terminal).
pub(crate) async fn run(
    session: &mut Session,
    options: &Options,
    format: Format,
) -> Result<Option<TopReport>> {
    // Without PROCESS the server hides other sessions: an empty load would look like a quiet server.
    session.require_process("top")?;
    let mut recording = match &options.record {
        Some(path) => Some(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .with_context(|| format!("cannot open --record {}", path.display()))?,
        ),
        None => None,
    };
    let source = TopSource::of(&session.server);
    let max_connections = session.server.max_connections;
    let load = |window: &Window<Sample>| {
        top::aggregate(
            &window.to_vec(),
            options.cpus,
            max_connections,
            source.clone(),
        )
    };
    let frames = Frames::open(format, options.pace.duration.is_some());
    let mut window = Window::new(options.window);
    let mut ticker = Ticker::start(&options.pace);
    loop {
        let taken = top::take(session, ticker.taken(), ticker.is_last()).await?;
        if let Some(file) = recording.as_mut() {
            serde_json::to_writer(&mut *file, &taken)?;
            file.write_all(b"\n").context("writing the recording")?;
        }
        if frames.is_json() && options.pace.duration.is_none() {
            frames.line(&taken)?;
        }
        window.push(taken);
        if frames.is_screen() {
            let report = load(&window);
            frames.frame(|out| {
                render(&report, Format::Table, &ViewOptions::default(), out)?;
                Ok(())
            })?;
        }
        if !ticker.next().await {
            break;
        }
    }
    let at_the_end =
        options.pace.duration.is_some() || !frames.is_screen() && format == Format::Table;
    Ok(at_the_end.then(|| load(&window)))
}
