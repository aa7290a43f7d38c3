//! The loop every live view runs (`watch`, `top`, `deadlocks --watch`): a ticker that says when
//! to sample and when to stop, a rolling window of what was seen, and a sink that sends each
//! frame to the terminal's screen or as a line of NDJSON.

use std::collections::VecDeque;
use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde::Serialize;

use crate::connect::{ConnectConfig, Session, SnapshotPlan};
use crate::render::Format;
use crate::render::screen::Screen;

/// How often a live view samples, and when it ends on its own (else at Ctrl-C).
#[derive(Debug, Clone, Default)]
pub(crate) struct Pace {
    pub interval: Duration,
    /// Stop after this long (`--duration`).
    pub duration: Option<Duration>,
    /// Stop after this many samples (`--samples`).
    pub samples: Option<u64>,
}

/// The loop's clock: counts samples and decides when the view ends.
pub(crate) struct Ticker {
    pace: Pace,
    started: Instant,
    taken: u64,
}

impl Ticker {
    pub(crate) fn start(pace: &Pace) -> Ticker {
        Ticker {
            pace: pace.clone(),
            started: Instant::now(),
            taken: 0,
        }
    }

    /// Samples taken so far.
    pub(crate) fn taken(&self) -> u64 {
        self.taken
    }

    /// Whether the coming sample is the last one `--duration` leaves time for.
    pub(crate) fn is_last(&self) -> bool {
        self.pace
            .duration
            .is_some_and(|d| self.started.elapsed() + self.pace.interval >= d)
    }

    /// Counts a sample taken, then waits for the next tick. False when the view should end:
    /// `--samples` reached, `--duration` over, or Ctrl-C.
    pub(crate) async fn next(&mut self) -> bool {
        self.taken += 1;
        let done = self.pace.samples.is_some_and(|n| self.taken >= n)
            || self
                .pace
                .duration
                .is_some_and(|d| self.started.elapsed() >= d);
        if done {
            return false;
        }
        tokio::select! {
            _ = tokio::time::sleep(self.pace.interval) => true,
            _ = tokio::signal::ctrl_c() => false,
        }
    }
}

/// What was seen over the last `span`, oldest first.
pub(crate) struct Window<T> {
    span: Duration,
    items: VecDeque<(Instant, T)>,
}

impl<T> Window<T> {
    pub(crate) fn new(span: Duration) -> Window<T> {
        Window {
            span,
            items: VecDeque::new(),
        }
    }

    /// Adds an item seen now, and forgets those older than the span.
    pub(crate) fn push(&mut self, item: T) {
        self.items.push_back((Instant::now(), item));
        self.expire();
    }

    /// Forgets the items older than the span.
    pub(crate) fn expire(&mut self) {
        while self
            .items
            .front()
            .is_some_and(|(t, _)| t.elapsed() > self.span)
        {
            self.items.pop_front();
        }
    }

    pub(crate) fn iter(&self) -> impl DoubleEndedIterator<Item = &T> + ExactSizeIterator {
        self.items.iter().map(|(_, item)| item)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

impl<T: Clone> Window<T> {
    /// The items, oldest first.
    pub(crate) fn to_vec(&self) -> Vec<T> {
        self.iter().cloned().collect()
    }
}

/// Where a live view's frames go: redrawn on the terminal's alternate screen, streamed as
/// NDJSON, or nowhere until the view ends (a table piped to a file).
pub(crate) struct Frames {
    format: Format,
    screen: Screen,
}

impl Frames {
    /// Frames written one after another, never on the alternate screen (`deadlocks --watch`).
    pub(crate) fn lines(format: Format) -> Frames {
        Frames {
            format,
            screen: Screen::enter(false),
        }
    }

    /// A table on a terminal redraws the alternate screen, unless the run is `bounded` (it then
    /// prints once at the end).
    pub(crate) fn open(format: Format, bounded: bool) -> Frames {
        let live_screen = format == Format::Table && !bounded && std::io::stdout().is_terminal();
        Frames {
            format,
            screen: Screen::enter(live_screen),
        }
    }

    /// Whether frames are drawn on the screen.
    pub(crate) fn is_screen(&self) -> bool {
        self.screen.is_active()
    }

    /// Whether the view streams NDJSON.
    pub(crate) fn is_json(&self) -> bool {
        self.format == Format::Json
    }

    /// Writes one NDJSON line.
    pub(crate) fn line(&self, item: &impl Serialize) -> Result<()> {
        let mut out = std::io::stdout().lock();
        serde_json::to_writer(&mut out, item)?;
        writeln!(out)?;
        out.flush().context("writing a sample")
    }

    /// Clears the screen (when it is ours) and draws a frame.
    pub(crate) fn frame(
        &self,
        draw: impl FnOnce(&mut std::io::StdoutLock<'static>) -> Result<()>,
    ) -> Result<()> {
        let mut out = std::io::stdout().lock();
        self.screen.clear(&mut out)?;
        draw(&mut out)?;
        out.flush().context("writing the screen")
    }
}

/// Re-opening a lost connection, for the views that own their session (`watch`, the console): at
/// once, then after 1 s, doubling up to 30 s while it keeps failing.
pub(crate) struct Reconnect {
    delay: Duration,
    next: Instant,
}

/// A re-open that failed: why, and how long until the next try.
pub(crate) struct Refused {
    pub error: anyhow::Error,
    pub retry_in: Duration,
}

impl Reconnect {
    pub(crate) fn new() -> Reconnect {
        Reconnect {
            delay: Duration::from_secs(1),
            next: Instant::now(),
        }
    }

    /// Opens a session into `session` when it has none and the next try is due.
    pub(crate) async fn reopen(
        &mut self,
        session: &mut Option<Session>,
        config: &ConnectConfig,
        plan: SnapshotPlan<'_>,
    ) -> Result<(), Refused> {
        if session.is_some() || Instant::now() < self.next {
            return Ok(());
        }
        match Session::open(config, plan).await {
            Ok(opened) => {
                *session = Some(opened);
                self.delay = Duration::from_secs(1);
                Ok(())
            }
            Err(error) => {
                let retry_in = self.delay;
                self.next = Instant::now() + retry_in;
                self.delay = (retry_in * 2).min(Duration::from_secs(30));
                Err(Refused { error, retry_in })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_forgets_what_is_older_than_its_span() {
        let mut window = Window::new(Duration::from_millis(30));
        window.push(1);
        std::thread::sleep(Duration::from_millis(40));
        window.push(2);
        assert_eq!(window.to_vec(), [2]);
        let mut long = Window::new(Duration::from_secs(60));
        long.push(1);
        long.push(2);
        assert_eq!(long.to_vec(), [1, 2]);
    }

    #[tokio::test]
    async fn the_ticker_stops_after_the_samples_asked_for() {
        let pace = Pace {
            interval: Duration::from_millis(1),
            duration: None,
            samples: Some(3),
        };
        let mut ticker = Ticker::start(&pace);
        let mut ticks = 1;
        while ticker.next().await {
            ticks += 1;
        }
        assert_eq!((ticks, ticker.taken()), (3, 3));
    }

    #[tokio::test]
    async fn the_ticker_stops_when_the_duration_is_over() {
        let pace = Pace {
            interval: Duration::from_millis(5),
            duration: Some(Duration::from_millis(20)),
            samples: None,
        };
        let mut ticker = Ticker::start(&pace);
        let started = Instant::now();
        while ticker.next().await {}
        assert!(started.elapsed() >= Duration::from_millis(20));
        assert!(ticker.taken() >= 3, "{} ticks", ticker.taken());
    }
}
