//! The exporter's background load sampler: `top`'s sample every `--sample-interval` on a
//! connection of its own, kept over the rolling `--window`, so a scrape reports the average
//! active sessions by wait class without sampling anything itself. A lost connection is
//! re-opened with backoff; samples that failed are simply missing from the window.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::connect::{ConnectConfig, Session};
use crate::probe::top::{self, Sample};
use crate::workflow::live::Window;

/// How often the sampler samples, and how far back the average reaches.
#[derive(Debug, Clone)]
pub(crate) struct Pace {
    pub interval: Duration,
    pub window: Duration,
}

/// The samples of the window, shared with the scrapes.
#[derive(Clone)]
pub(crate) struct Load {
    window: Arc<Mutex<Window<Sample>>>,
}

impl Load {
    /// Average active sessions by wait class over the window, every class present (at 0 when
    /// idle); `None` before the first sample.
    pub(crate) fn by_wait(&self) -> Option<Vec<(String, f64)>> {
        let samples = {
            let mut window = self.window.lock().ok()?;
            window.expire();
            window.to_vec()
        };
        if samples.is_empty() {
            return None;
        }
        let report = top::aggregate(&samples, None, None, top::TopSource::Processlist);
        let by_wait = top::WAIT_CLASSES
            .iter()
            .map(|class| {
                let aas = report.by_wait.iter().find(|l| l.key == *class);
                ((*class).to_owned(), aas.map_or(0.0, |l| l.aas))
            })
            .collect();
        Some(by_wait)
    }
}

/// Starts sampling `config`'s server in the background (a local task: call it on a `LocalSet`).
pub(crate) fn start(config: ConnectConfig, pace: Pace) -> Load {
    let load = Load {
        window: Arc::new(Mutex::new(Window::new(pace.window))),
    };
    let window = load.window.clone();
    tokio::task::spawn_local(async move {
        let mut session: Option<Session> = None;
        let mut backoff = pace.interval;
        // Said once when sampling starts failing, not at every sample.
        let mut failing = false;
        loop {
            if session.is_none() {
                match Session::open(&config, &top::first_sample).await {
                    Ok(opened) => {
                        session = Some(opened);
                        backoff = pace.interval;
                    }
                    Err(error) => {
                        if !failing {
                            eprintln!(
                                "mytriage: the load sampler cannot connect (mytriage_aas is missing until it can): {}",
                                crate::error::one_line(&error)
                            );
                        }
                        failing = true;
                        // The scrapes report the server down; the sampler only waits longer.
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(Duration::from_secs(30));
                        continue;
                    }
                }
            }
            if let Some(open) = session.as_mut() {
                match take(open).await {
                    Ok(sample) => {
                        failing = false;
                        if let Ok(mut window) = window.lock() {
                            window.push(sample);
                        }
                    }
                    Err(error) => {
                        if !failing {
                            eprintln!(
                                "mytriage: the load sampler failed (mytriage_aas is missing until it recovers): {}",
                                crate::error::one_line(&error)
                            );
                        }
                        failing = true;
                        session = None;
                    }
                }
            }
            tokio::time::sleep(pace.interval).await;
        }
    });
    load
}

/// One sample in one round trip.
async fn take(session: &mut Session) -> anyhow::Result<Sample> {
    if !session.server.capabilities.statement_history {
        let ahead = crate::probe::processlist::snapshot(&session.server);
        session.db.prefetch("sampling the load", &ahead).await?;
    }
    let sample = top::sample(session).await;
    session.db.forget_prefetched();
    sample
}
