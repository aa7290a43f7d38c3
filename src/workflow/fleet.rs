//! One command over many hosts (`--hosts`, `--hosts-file`, `--cluster`): every host gets its
//! own connection and timeouts and is read concurrently, at most `--parallel` at a time. A host
//! that is down or slow becomes a row with its error and never sinks the others.

use std::path::PathBuf;

use anyhow::Result;
use futures_util::stream::{self, StreamExt};
use serde::Serialize;

use crate::connect::targets::HostEntry;
use crate::connect::{self, Flags, Inputs, Session};
use crate::error::one_line;
use crate::probe::history::OldestTrx;
use crate::probe::purge::PurgeBlocker;
use crate::probe::replication::{self, Channel, Role};
use crate::render::{Block, Report, View, ViewOptions, clip, now_or_last};
use crate::verdict::Verdict;
use crate::workflow::status::{self, StatusReport};
use crate::workflow::thresholds::Thresholds;

/// Which command runs on every host; each reads the same snapshot, one round trip a host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum FleetCommand {
    Status,
    Check,
    Replication,
    History,
    Locks,
}

/// What a fleet run was asked for.
#[derive(Debug, Clone)]
pub(crate) struct FleetPlan {
    pub command: FleetCommand,
    pub hosts: Vec<HostEntry>,
    /// Add the hosts the first one's replication names (its source, its replicas, Aurora's
    /// instances).
    pub cluster: bool,
    pub parallel: usize,
    pub limits: Thresholds,
}

/// One host's row.
#[derive(Debug, Serialize)]
pub(crate) struct HostResult {
    pub host: String,
    /// How it was found: given, or discovered from another host.
    pub found: String,
    pub ok: bool,
    /// Why it could not be read, in one line.
    pub error: Option<String>,
    pub role: Option<Role>,
    pub verdict: Verdict,
    /// The worst replication lag of its channels (replicas).
    pub lag_s: Option<f64>,
    pub root_blockers: Vec<u64>,
    pub oldest_trx: Option<OldestTrx>,
    pub history_list_length: Option<u64>,
    pub purge_blockers: Vec<PurgeBlocker>,
    pub replication: Vec<Channel>,
    /// The whole `status` of the host.
    pub status: Option<StatusReport>,
}

/// What a fleet run reports.
#[derive(Debug, Serialize)]
pub(crate) struct FleetReport {
    pub command: FleetCommand,
    pub verdict: Verdict,
    pub hosts: Vec<HostResult>,
}

/// Everything a host needs to be read, apart from its entry.
pub(crate) struct Shared<'a> {
    pub flags: &'a Flags,
    pub env: &'a dyn Fn(&str) -> Option<String>,
    pub home: Option<PathBuf>,
}

/// Reads every host; with `--cluster`, first asks the first host who else is in its topology.
pub(crate) async fn run(plan: &FleetPlan, shared: &Shared<'_>) -> FleetReport {
    let mut targets: Vec<(HostEntry, String)> = plan
        .hosts
        .iter()
        .map(|h| (h.clone(), "given".to_owned()))
        .collect();
    let mut results = Vec::new();
    if plan.cluster
        && let Some((seed, _)) = targets.first().cloned()
    {
        let first = read_host(&seed, "given".to_owned(), plan, shared).await;
        for (entry, how) in discovered(&first, &seed) {
            if !targets.iter().any(|(t, _)| t.name() == entry.name()) {
                targets.push((entry, how));
            }
        }
        results.push(first);
        targets.remove(0);
    }
    let mut rest: Vec<HostResult> = stream::iter(targets)
        .map(|(entry, how)| async move { read_host(&entry, how, plan, shared).await })
        .buffered(plan.parallel.max(1))
        .collect()
        .await;
    results.append(&mut rest);
    FleetReport {
        command: plan.command,
        verdict: results.iter().map(|r| r.verdict).max().unwrap_or_default(),
        hosts: results,
    }
}

/// One host: its own connection, its own timeouts; any failure becomes its row's error.
async fn read_host(
    entry: &HostEntry,
    found: String,
    plan: &FleetPlan,
    shared: &Shared<'_>,
) -> HostResult {
    let name = entry.name();
    match status_of(entry, plan, shared).await {
        Ok(report) => row(name, found, report),
        Err(error) => HostResult {
            host: name,
            found,
            ok: false,
            error: Some(one_line(&error)),
            role: None,
            verdict: Verdict::Unknown,
            lag_s: None,
            root_blockers: Vec::new(),
            oldest_trx: None,
            history_list_length: None,
            purge_blockers: Vec::new(),
            replication: Vec::new(),
            status: None,
        },
    }
}

async fn status_of(
    entry: &HostEntry,
    plan: &FleetPlan,
    shared: &Shared<'_>,
) -> Result<StatusReport> {
    let flags = entry.flags(shared.flags, shared.home.as_deref())?;
    let inputs = Inputs {
        flags: &flags,
        env: shared.env,
        home: shared.home.clone(),
        // Asked once before the run, when -p was bare.
        prompt: &|| anyhow::bail!("the password was not given"),
    };
    let resolved = connect::resolve(&inputs)?;
    let mut session = Session::open(&resolved.config, &crate::workflow::triage::statements).await?;
    let report = status::collect(&mut session, &plan.limits).await;
    session.close().await;
    report
}

fn row(host: String, found: String, report: StatusReport) -> HostResult {
    let triage = &report.triage;
    let server = &triage.server;
    let role = if server.managed == Some(crate::server::Managed::Aurora) {
        if server.read_only {
            Role::Reader
        } else {
            Role::Writer
        }
    } else {
        match (!triage.replication.is_empty(), !triage.replicas.is_empty()) {
            (true, true) => Role::Relay,
            (true, false) => Role::Replica,
            (false, true) => Role::Source,
            (false, false) => Role::Standalone,
        }
    };
    HostResult {
        host,
        found,
        ok: true,
        error: None,
        role: Some(role),
        verdict: report.verdict,
        lag_s: triage
            .replication
            .iter()
            .filter_map(Channel::lag_s)
            .reduce(f64::max),
        root_blockers: triage
            .locks
            .as_ref()
            .map(|l| l.forest.roots.iter().map(|r| r.info.pid).collect())
            .unwrap_or_default(),
        oldest_trx: triage.oldest_trx.clone(),
        history_list_length: triage.history_list_length,
        purge_blockers: triage.purge_blockers.clone(),
        replication: triage.replication.clone(),
        status: Some(report),
    }
}

/// The hosts a host's replication names: a replica's source, a source's registered replicas.
fn discovered(first: &HostResult, seed: &HostEntry) -> Vec<(HostEntry, String)> {
    let mut found = Vec::new();
    for channel in &first.replication {
        if let Some(Ok(entry)) = channel.source.as_deref().map(str::parse::<HostEntry>) {
            found.push((entry, format!("source of {}", first.host)));
        }
    }
    let replicas = first
        .status
        .as_ref()
        .map(|s| s.triage.replicas.clone())
        .unwrap_or_default();
    for replica in replicas {
        let (Some(host), Some(port)) = (replica.host, replica.port) else {
            continue;
        };
        if let Ok(entry) = format!("{host}:{port}").parse::<HostEntry>() {
            found.push((entry, format!("replica of {}", first.host)));
        }
    }
    // Aurora: every instance of the cluster, by its endpoint, on the seed's port.
    let (seed_host, seed_port) = match seed {
        HostEntry::Address { host, port } => (host.clone(), *port),
        _ => return found,
    };
    let instances = first
        .status
        .as_ref()
        .map(|s| s.triage.aurora.clone())
        .unwrap_or_default();
    for instance in instances {
        let Some(host) = replication::aurora_endpoint(&instance.server_id, &seed_host) else {
            continue;
        };
        let entry = HostEntry::Address {
            host,
            port: seed_port,
        };
        found.push((entry, format!("{} of the cluster", instance.role.label())));
    }
    found
}

impl Report for FleetReport {
    fn view(&self, options: &ViewOptions) -> View {
        let mut blocks = vec![Block::Table {
            title: None,
            header: [
                "HOST",
                "ROLE",
                "VERDICT",
                "LAG",
                "ROOT BLOCKERS",
                "OLDEST TRX",
                "HLL",
                "ERROR",
            ]
            .map(str::to_owned)
            .to_vec(),
            rows: self
                .hosts
                .iter()
                .map(|h| {
                    vec![
                        h.host.clone(),
                        h.role.map(|r| r.label().to_owned()).unwrap_or_default(),
                        status::paint(h.verdict, options.color),
                        h.lag_s.map(|l| format!("{l:.0}s")).unwrap_or_default(),
                        h.root_blockers
                            .iter()
                            .map(u64::to_string)
                            .collect::<Vec<_>>()
                            .join(" "),
                        h.oldest_trx
                            .as_ref()
                            .map(|t| format!("{}s (pid {})", t.age_s, t.pid))
                            .unwrap_or_default(),
                        h.history_list_length
                            .map(|n| n.to_string())
                            .unwrap_or_default(),
                        h.error
                            .as_deref()
                            .map(|e| clip(e, options.full))
                            .unwrap_or_default(),
                    ]
                })
                .collect(),
        }];
        // The table keeps a host's error short; here it is whole, with its hint.
        blocks.extend(self.hosts.iter().filter_map(|h| {
            let error = h.error.as_ref()?;
            (clip(error, options.full) != *error)
                .then(|| Block::Note(format!("{}: {error}", h.host)))
        }));
        match self.command {
            FleetCommand::History => blocks.push(purge_table(&self.hosts, options.full)),
            FleetCommand::Replication => blocks.extend(self.hosts.iter().flat_map(|h| {
                h.replication.iter().filter_map(|c| {
                    let problem = c.broken().or_else(|| {
                        c.blocked_by
                            .as_ref()
                            .map(|b| replication::blocked_text(b, options.full))
                    })?;
                    Some(Block::Note(format!("{}: {problem}", h.host)))
                })
            })),
            FleetCommand::Locks | FleetCommand::Status | FleetCommand::Check => {
                blocks.extend(self.hosts.iter().filter_map(|h| {
                    let status = h.status.as_ref()?;
                    let worst = status
                        .findings
                        .iter()
                        .filter(|f| f.verdict != Verdict::Ok)
                        .max_by_key(|f| f.verdict)?;
                    Some(Block::Note(format!(
                        "{}: {} {} {}",
                        h.host,
                        worst.verdict.label(),
                        worst.check,
                        worst.summary
                    )))
                }))
            }
        }
        View { blocks }
    }
}

/// Every host's purge blockers, wherever they live (on Aurora a reader holds back the writer).
fn purge_table(hosts: &[HostResult], full: bool) -> Block {
    Block::Table {
        title: Some("Purge blockers".to_owned()),
        header: ["HOST", "PID", "AGE", "HOLDS", "HOW", "STATEMENT"]
            .map(str::to_owned)
            .to_vec(),
        rows: hosts
            .iter()
            .flat_map(|h| {
                h.purge_blockers.iter().map(move |b| {
                    vec![
                        h.host.clone(),
                        b.pid.to_string(),
                        format!("{}s", b.age_s),
                        crate::render::serde_label(&b.holds),
                        crate::render::serde_label(&b.how),
                        clip(
                            &now_or_last(b.statement.as_deref(), b.last_statement.as_deref(), full),
                            full,
                        ),
                    ]
                })
            })
            .collect(),
    }
}
