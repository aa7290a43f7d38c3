//! The console's one connection, in a task of its own so that a slow or hung server never holds
//! the keys: every `--interval` it takes the snapshot (triage, the sessions and a load sample, in
//! one round trip), and between samples it answers the screen's requests (a session's detail, the
//! two halves of a kill). A lost connection is re-opened with backoff, as `watch` does.

use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};

use crate::connect::{ConnectConfig, Session};
use crate::error::one_line;
use crate::evidence::EvidenceLog;
use crate::evidence::record::{HeldLock, HeldMetadataLock, KillOutcome, KillSnapshot};
use crate::kill::{self, KillPlan, Target};
use crate::probe::explain::{self, ExplainReport};
use crate::probe::processlist::Thread;
use crate::probe::top;
use crate::workflow::live::Reconnect;
use crate::workflow::status::{self, StatusReport};
use crate::workflow::thresholds::Thresholds;
use crate::workflow::triage;

/// One sample, as the screen draws it.
#[derive(Debug)]
pub(crate) struct Snapshot {
    pub report: StatusReport,
    pub threads: Vec<Thread>,
    pub load: top::Sample,
    /// The client's clock when it was taken, `HH:MM:SS` UTC.
    pub at: String,
    /// How long the round trips took.
    pub took: Duration,
}

/// A session's detail: its plan, and the locks it holds.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Detail {
    pub pid: u64,
    /// The plan, or why it could not be read.
    pub explain: Result<ExplainReport, String>,
    pub locks: Result<Vec<HeldLock>, String>,
    pub metadata_locks: Result<Vec<HeldMetadataLock>, String>,
}

/// What the screen asks of the connection.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Request {
    Detail {
        pid: u64,
        /// The session's transaction, whose row locks the detail lists.
        trx_id: Option<String>,
    },
    /// Snapshot the session and write the snapshot to the evidence log; nothing is killed.
    KillBegin { pid: u64, query_only: bool },
    /// The operator's answer for the snapshot just written: re-verify and kill, or record "no".
    KillConclude { confirmed: bool },
}

/// What the connection tells the screen.
#[derive(Debug)]
pub(crate) enum Update {
    /// A sample began.
    Sampling,
    Sampled(Box<Snapshot>),
    /// The sample failed, or there is no connection; it is re-opened with backoff.
    Failed(String),
    Detail(Box<Detail>),
    KillSnapshot {
        snapshot: Box<KillSnapshot>,
        warnings: Vec<String>,
    },
    KillRefused {
        pid: u64,
        reason: String,
    },
    KillOutcome(Box<KillOutcome>),
}

/// Everything the sampler task owns.
pub(crate) struct Sampler {
    pub config: ConnectConfig,
    pub session: Option<Session>,
    pub limits: Thresholds,
    pub interval: Duration,
    pub log: EvidenceLog,
    pub reason: String,
    pub updates: mpsc::UnboundedSender<Update>,
    pub paused: watch::Receiver<bool>,
}

/// The statements of one console sample, in one batch: the triage's and the load sample's.
pub(crate) fn statements(server: &crate::server::ServerInfo) -> Vec<&'static str> {
    let mut ahead = triage::statements(server);
    ahead.extend(top::sample_statement(server));
    ahead
}

/// One sample on `session`: the judged snapshot, the sessions and the load.
pub(crate) async fn take(
    session: &mut Session,
    limits: &Thresholds,
) -> anyhow::Result<(StatusReport, Vec<Thread>, top::Sample)> {
    let ahead = statements(&session.server);
    session.db.prefetch("taking the snapshot", &ahead).await?;
    let taken = async {
        let (triage, threads) = triage::snapshot_with_threads(session).await?;
        let load = top::sample_with(session, &threads).await?;
        Ok((status::judge(triage, limits), threads, load))
    }
    .await;
    session.db.forget_prefetched();
    taken
}

impl Sampler {
    /// Samples and answers requests until the screen goes away.
    pub(crate) async fn run(mut self, mut requests: mpsc::UnboundedReceiver<Request>) {
        let mut pending: Option<(KillPlan, KillSnapshot)> = None;
        let mut reconnect = Reconnect::new();
        let mut next_sample = tokio::time::Instant::now();
        loop {
            tokio::select! {
                request = requests.recv() => {
                    let Some(request) = request else { return };
                    self.answer(request, &mut pending).await;
                }
                () = tokio::time::sleep_until(next_sample) => {
                    if !*self.paused.borrow() {
                        let reopened =
                            reconnect.reopen(&mut self.session, &self.config, &statements).await;
                        if let Err(refused) = reopened {
                            self.send(Update::Failed(format!(
                                "reconnect failed (next try in {}s): {}",
                                refused.retry_in.as_secs(),
                                one_line(&refused.error)
                            )));
                        }
                        self.sample().await;
                    }
                    next_sample = tokio::time::Instant::now() + self.interval;
                }
            }
        }
    }

    fn send(&self, update: Update) {
        // The screen is gone only when the console is quitting.
        let _ = self.updates.send(update);
    }

    async fn sample(&mut self) {
        if self.session.is_none() {
            return;
        }
        self.send(Update::Sampling);
        let started = Instant::now();
        let Some(session) = self.session.as_mut() else {
            return;
        };
        match take(session, &self.limits).await {
            Ok((report, threads, load)) => self.send(Update::Sampled(Box::new(Snapshot {
                report,
                threads,
                load,
                at: chrono::Utc::now().format("%H:%M:%S").to_string(),
                took: started.elapsed(),
            }))),
            Err(error) => {
                self.session = None;
                self.send(Update::Failed(format!(
                    "sample failed: {}; reconnecting",
                    one_line(&error)
                )));
            }
        }
    }

    async fn answer(&mut self, request: Request, pending: &mut Option<(KillPlan, KillSnapshot)>) {
        let Some(session) = self.session.as_mut() else {
            // Every request gets its answer, or the screen would wait for it forever.
            let lost = "not connected (reconnecting)".to_owned();
            let update = match request {
                Request::Detail { pid, .. } => Update::Detail(Box::new(Detail {
                    pid,
                    explain: Err(lost.clone()),
                    locks: Err(lost.clone()),
                    metadata_locks: Err(lost),
                })),
                Request::KillBegin { pid, .. } => Update::KillRefused {
                    pid,
                    reason: format!("{lost}: nothing was snapshotted or killed"),
                },
                Request::KillConclude { .. } => match pending.take() {
                    Some((_, snapshot)) => Update::KillRefused {
                        pid: snapshot.pid,
                        reason: format!(
                            "{lost}: nothing was killed; the snapshot is in the evidence log"
                        ),
                    },
                    None => return,
                },
            };
            self.send(update);
            return;
        };
        match request {
            Request::Detail { pid, trx_id } => {
                let detail = detail(session, pid, trx_id.as_deref()).await;
                self.send(Update::Detail(Box::new(detail)));
            }
            Request::KillBegin { pid, query_only } => {
                let plan = KillPlan {
                    target: Target::One(pid),
                    query_only,
                    reason: Some(self.reason.clone()),
                    yes: true,
                    dry_run: false,
                    wait: false,
                    evidence: self.log.path().to_owned(),
                };
                match kill::record_snapshot(session, &plan, &self.reason, &mut self.log).await {
                    Ok((snapshot, warnings)) => {
                        *pending = Some((plan, snapshot.clone()));
                        self.send(Update::KillSnapshot {
                            snapshot: Box::new(snapshot),
                            warnings,
                        });
                    }
                    Err(error) => self.send(Update::KillRefused {
                        pid,
                        reason: one_line(&error),
                    }),
                }
            }
            Request::KillConclude { confirmed } => {
                let Some((plan, snapshot)) = pending.take() else {
                    return;
                };
                match kill::conclude(session, &plan, &snapshot, false, confirmed, &mut self.log)
                    .await
                {
                    Ok(outcome) => self.send(Update::KillOutcome(Box::new(outcome))),
                    Err(error) => self.send(Update::KillRefused {
                        pid: snapshot.pid,
                        reason: format!(
                            "the kill did not complete (its snapshot is in the evidence log): {}",
                            one_line(&error)
                        ),
                    }),
                }
            }
        }
    }
}

/// The plan of what the session runs, and the locks it holds; each part says why when it could
/// not be read.
async fn detail(session: &mut Session, pid: u64, trx_id: Option<&str>) -> Detail {
    let explain = explain::collect(session, pid, false)
        .await
        .map_err(|e| one_line(&e));
    let locks = match trx_id {
        Some(trx_id) => kill::held_locks(session, trx_id)
            .await
            .map_err(|e| one_line(&e)),
        None => Ok(Vec::new()),
    };
    let metadata_locks = kill::held_metadata_locks(session, pid)
        .await
        .map_err(|e| one_line(&e));
    Detail {
        pid,
        explain,
        locks,
        metadata_locks,
    }
}
