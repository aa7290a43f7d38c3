//! The command line turned into what the rest of the tool works with: every clap type becomes a
//! domain option here, and everything that can be wrong with the command line is found here,
//! before anything connects.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use super::{
    Cli, Command, ConnectArgs, DeadlocksArgs, EvidenceArgs, ExporterArgs, HistoryArgs,
    IncidentAction, KillArgs, KillFilter, NotifyArgs, ProcesslistArgs, ReportArgs, ThresholdArgs,
    TopArgs, WatchArgs,
};
use crate::connect::option_file::Defaults;
use crate::connect::targets::{self, HostEntry};
use crate::connect::{Flags, Layer};
use crate::console;
use crate::evidence;
use crate::exporter;
use crate::kill::{self, KillPlan, Target};
use crate::notify;
use crate::probe::history::Sampling;
use crate::probe::processlist::{Criteria, Filter};
use crate::probe::replication;
use crate::render::Format;
use crate::workflow::fleet::{FleetCommand, FleetPlan};
use crate::workflow::live::Pace;
use crate::workflow::thresholds::{Overrides, Thresholds};
use crate::workflow::{incident, report, top, watch};

/// A command with its arguments validated.
pub(crate) enum Plan {
    Offline(Offline),
    Connected(Box<Connected>),
    /// One command on many hosts.
    Fleet(Box<FleetPlan>),
    /// The Prometheus exporter: it connects at each scrape, not before.
    Exporter(Box<exporter::Options>),
}

/// Commands that connect.
pub(crate) enum Connected {
    /// One look at the server.
    Probe(Online),
    /// `watch` owns its session: it re-opens it when the connection is lost.
    Watch(watch::Options, Thresholds),
    /// So does the console, which also appends kills and notes to the evidence log.
    Console(console::Options, Thresholds),
}

/// Commands that need no server: the evidence log, and what the tool says about itself.
pub(crate) enum Offline {
    Completions(super::CompletionShell),
    ManPage(Option<PathBuf>),
    Evidence(PathBuf, evidence::Query),
    DeadlockHistory(PathBuf),
    Incident(PathBuf, incident::Action),
    /// The evidence log, what the report covers, and where its HTML goes (Markdown on stdout
    /// without it).
    Report(PathBuf, report::Options, Option<report::HtmlOut>),
    TopReplay(PathBuf, Option<u32>),
}

/// Commands that need the server.
pub(crate) enum Online {
    Server,
    Processlist(Filter),
    Locks,
    Trx(std::time::Duration),
    History(Sampling),
    Connections,
    Explain {
        pid: u64,
        json: bool,
    },
    /// With the evidence log `--record` appends to.
    Replication(replication::Options, Option<PathBuf>),
    Deadlocks,
    DeadlockWatch(Pace, PathBuf),
    Kill(KillPlan),
    Status(Thresholds),
    Check(Thresholds, Option<PathBuf>, Option<notify::Request>),
    Top(top::Options),
    /// `incident notice`: the status, posted to the webhook in a language.
    Notice(report::Lang, notify::Request),
}

impl Connected {
    /// The notifications a command posts (`--notify`), to resolve before connecting.
    pub(crate) fn notify(&self) -> Option<&notify::Request> {
        match self {
            Connected::Watch(options, _) => options.notify.as_ref(),
            Connected::Probe(Online::Check(_, _, notify)) => notify.as_ref(),
            Connected::Probe(Online::Notice(_, notify)) => Some(notify),
            Connected::Probe(_) | Connected::Console(..) => None,
        }
    }
}

impl Online {
    /// The evidence log a command appends to, opened before connecting.
    pub(crate) fn evidence_path(&self) -> Option<&Path> {
        match self {
            Online::Kill(kill) => Some(kill.evidence_path()),
            Online::DeadlockWatch(_, path) => Some(path),
            Online::Replication(_, record) => record.as_deref(),
            _ => None,
        }
    }
}

impl Plan {
    fn probe(online: Online) -> Plan {
        Plan::Connected(Box::new(Connected::Probe(online)))
    }

    pub(crate) fn new(cli: &Cli, env: &dyn Fn(&str) -> Option<String>) -> Result<Plan> {
        let fleet = &cli.fleet;
        let many_hosts = !fleet.hosts.is_empty() || fleet.hosts_file.is_some() || fleet.cluster;
        if cli.format == Format::Junit {
            if !matches!(cli.command, Command::Check(_)) {
                bail!("--format junit is for check only (one test case per check)");
            }
            if many_hosts {
                bail!("--format junit checks one server; with --hosts, use --format json");
            }
        }
        if cli.format == Format::Dot && (many_hosts || !matches!(cli.command, Command::Locks(_))) {
            bail!(
                "--format dot draws the blocker tree of one server: use it with `locks` (without --hosts); other commands print table or json"
            );
        }
        if fleet.hosts.is_empty() && fleet.hosts_file.is_none() && !fleet.cluster {
            return Plan::single(&cli.command, env);
        }
        let (command, limits) = match &cli.command {
            Command::Status(args) => (FleetCommand::Status, thresholds(args)?),
            Command::Check(args) => (FleetCommand::Check, thresholds(&args.thresholds)?),
            Command::Replication(args) if args.record => bail!(
                "replication --record writes one replica's channels to the evidence log; run it on each replica, without --hosts or --cluster"
            ),
            Command::Replication(_) => (FleetCommand::Replication, Thresholds::default()),
            Command::History(_) => (FleetCommand::History, Thresholds::default()),
            Command::Locks(_) => (FleetCommand::Locks, Thresholds::default()),
            _ => bail!(
                "--hosts, --hosts-file and --cluster work with status, check, replication, history and locks"
            ),
        };
        let mut hosts = targets::read_hosts(&fleet.hosts, fleet.hosts_file.as_ref())?;
        if hosts.is_empty() {
            // --cluster alone starts from the host the connection flags name.
            let flags = cli.connect.flags();
            hosts.push(match flags.url {
                Some(url) => HostEntry::Url(url),
                None => HostEntry::Address {
                    host: flags.given.host.unwrap_or_else(|| "localhost".to_owned()),
                    port: flags.given.port,
                },
            });
        }
        Ok(Plan::Fleet(Box::new(FleetPlan {
            command,
            hosts,
            cluster: fleet.cluster,
            parallel: usize::from(fleet.parallel),
            limits,
        })))
    }

    fn single(command: &Command, env: &dyn Fn(&str) -> Option<String>) -> Result<Plan> {
        let log = |flag: &Option<PathBuf>| -> Result<PathBuf> {
            flag.clone()
                .or_else(|| evidence::default_path(env))
                .context("no evidence log path: set --evidence, XDG_STATE_HOME or HOME")
        };
        Ok(match command {
            Command::Server => Plan::probe(Online::Server),
            Command::Processlist(args) => {
                Plan::probe(Online::Processlist(Filter::new(criteria(args))?))
            }
            Command::Locks(_) => Plan::probe(Online::Locks),
            Command::Trx(args) => Plan::probe(Online::Trx(args.min_age)),
            Command::History(args) => Plan::probe(Online::History(sampling(args)?)),
            Command::Connections => Plan::probe(Online::Connections),
            Command::Explain(args) => Plan::probe(Online::Explain {
                pid: kill::parse_pid(&args.pid)?,
                json: args.json,
            }),
            Command::Replication(args) => Plan::probe(Online::Replication(
                replication::Options {
                    heartbeat_table: args
                        .heartbeat_table
                        .as_deref()
                        .map(str::parse)
                        .transpose()
                        .map_err(anyhow::Error::msg)?,
                },
                args.record.then(|| log(&args.evidence)).transpose()?,
            )),
            Command::Deadlocks(args) if args.history => {
                Plan::Offline(Offline::DeadlockHistory(log(&args.evidence)?))
            }
            Command::Deadlocks(args) if args.watch => Plan::probe(Online::DeadlockWatch(
                deadlock_pace(args),
                log(&args.evidence)?,
            )),
            Command::Deadlocks(_) => Plan::probe(Online::Deadlocks),
            Command::Watch(args) => Plan::Connected(Box::new(Connected::Watch(
                watch_options(args),
                thresholds(&args.thresholds)?,
            ))),
            Command::Console(args) => Plan::Connected(Box::new(Connected::Console(
                console::Options {
                    interval: args.interval,
                    window: args.window,
                    evidence: log(&args.evidence)?,
                    reason: args.reason.clone(),
                },
                thresholds(&args.thresholds)?,
            ))),
            Command::Status(args) => Plan::probe(Online::Status(thresholds(args)?)),
            Command::Check(args) => {
                let notify = notify_request(&args.notify);
                if notify.is_some() && args.state.is_none() {
                    bail!(
                        "check --notify needs --state FILE: the last verdict posted is kept there, so that only changes are posted"
                    );
                }
                Plan::probe(Online::Check(
                    thresholds(&args.thresholds)?,
                    args.state.clone(),
                    notify,
                ))
            }
            Command::Kill(args) => {
                Plan::probe(Online::Kill(kill_plan(args, evidence::default_path(env))?))
            }
            Command::Evidence(args) => {
                Plan::Offline(Offline::Evidence(log(&args.evidence)?, query(args)))
            }
            Command::Incident(args) => match &args.action {
                IncidentAction::Notice {
                    lang,
                    notify_url,
                    notify_format,
                } => Plan::probe(Online::Notice(
                    lang.unwrap_or_else(report::default_lang),
                    notify::Request {
                        style: *notify_format,
                        url: notify_url.clone(),
                    },
                )),
                _ => Plan::Offline(Offline::Incident(
                    log(&args.evidence)?,
                    action(&args.action),
                )),
            },
            Command::Top(args) => match &args.replay {
                Some(path) => Plan::Offline(Offline::TopReplay(path.clone(), args.cpus)),
                None => Plan::probe(Online::Top(top_options(args))),
            },
            Command::Report(args) => Plan::Offline(Offline::Report(
                log(&args.evidence)?,
                report_options(args),
                html_out(args)?,
            )),
            Command::Completions { shell } => Plan::Offline(Offline::Completions(*shell)),
            Command::Man { dir } => Plan::Offline(Offline::ManPage(dir.clone())),
            Command::Exporter(args) => Plan::Exporter(Box::new(exporter_options(args)?)),
        })
    }
}

impl ConnectArgs {
    /// The connection flags as the resolver layers them over the environment and option files.
    pub(crate) fn flags(&self) -> Flags {
        Flags {
            url: self.url.clone(),
            given: Layer {
                host: self.host.clone(),
                port: self.port,
                user: self.user.clone(),
                password: self.password.clone().flatten(),
                database: None,
                socket: self.socket.clone(),
                ssl_mode: self.ssl_mode,
                ssl_ca: self.ssl_ca.clone(),
                connect_timeout: self.connect_timeout,
                query_timeout: self.query_timeout,
            },
            ask_password: matches!(self.password, Some(None)),
            defaults: if self.no_defaults {
                Defaults::None
            } else if let Some(file) = &self.defaults_file {
                Defaults::Only(file.clone())
            } else {
                Defaults::Standard {
                    extra: self.defaults_extra_file.clone(),
                }
            },
            login_path: self.login_path.clone(),
        }
    }
}

fn criteria(args: &ProcesslistArgs) -> Criteria {
    Criteria {
        user: args.match_user.clone(),
        host: args.match_host.clone(),
        db: args.match_db.clone(),
        command: args.match_command.clone(),
        min_time: args.min_time,
        pattern: args.pattern.clone(),
        active: args.active,
        sort: args.sort,
    }
}

fn sampling(args: &HistoryArgs) -> Result<Sampling> {
    anyhow::ensure!(
        args.warn <= args.crit,
        "--warn {} is above --crit {}",
        args.warn,
        args.crit
    );
    Ok(Sampling {
        samples: args.sample,
        interval: args.interval,
        warn: args.warn,
        crit: args.crit,
    })
}

fn deadlock_pace(args: &DeadlocksArgs) -> Pace {
    Pace {
        interval: args.interval,
        duration: args.duration,
        samples: None,
    }
}

fn notify_request(args: &NotifyArgs) -> Option<notify::Request> {
    args.notify.then(|| notify::Request {
        style: args.notify_format,
        url: args.notify_url.clone(),
    })
}

fn watch_options(args: &WatchArgs) -> watch::Options {
    watch::Options {
        notify: notify_request(&args.notify),
        pace: Pace {
            interval: args.interval,
            duration: args.duration,
            samples: args.samples,
        },
        window: args.window,
    }
}

fn exporter_options(args: &ExporterArgs) -> Result<exporter::Options> {
    let listen = args.listen.parse().map_err(|_| {
        anyhow::anyhow!(
            "--listen '{}' is not an address and port, e.g. 127.0.0.1:9104",
            args.listen
        )
    })?;
    let targets = match &args.targets {
        Some(path) => exporter::targets::read(path)?,
        None => Vec::new(),
    };
    Ok(exporter::Options {
        listen,
        targets,
        scrape_timeout: args.scrape_timeout,
        sampler: (!args.no_aas).then_some(exporter::SamplerPace {
            interval: args.sample_interval,
            window: args.window,
        }),
        limits: thresholds(&args.thresholds)?,
    })
}

fn top_options(args: &TopArgs) -> top::Options {
    top::Options {
        pace: Pace {
            interval: args.interval,
            duration: args.duration,
            samples: None,
        },
        window: args.window,
        record: args.record.clone(),
        cpus: args.cpus,
    }
}

fn thresholds(args: &ThresholdArgs) -> Result<Thresholds> {
    let overrides = Overrides {
        lock_wait_warn: args.lock_wait_warn,
        lock_wait_crit: args.lock_wait_crit,
        blocked_warn: args.blocked_warn,
        blocked_crit: args.blocked_crit,
        trx_age_warn: args.trx_age_warn,
        trx_age_crit: args.trx_age_crit,
        idle_trx_warn: args.idle_trx_warn,
        idle_trx_crit: args.idle_trx_crit,
        hll_warn: args.hll_warn,
        hll_crit: args.hll_crit,
        conn_pct_warn: args.conn_pct_warn,
        conn_pct_crit: args.conn_pct_crit,
        deadlock_window: args.deadlock_window,
        repl_lag_warn: args.repl_lag_warn,
        repl_lag_crit: args.repl_lag_crit,
    };
    Thresholds::resolve(args.config.as_deref(), &overrides)
}

fn query(args: &EvidenceArgs) -> evidence::Query {
    evidence::Query {
        since: args.since.clone(),
        until: args.until.clone(),
        pid: args.pid,
    }
}

fn action(action: &IncidentAction) -> incident::Action {
    match action {
        IncidentAction::Start { title } => incident::Action::Start {
            title: title.clone(),
        },
        IncidentAction::Note { text } => incident::Action::Note { text: text.clone() },
        IncidentAction::End => incident::Action::End,
        // Posted, not recorded: the plan sends it to the server's status instead.
        IncidentAction::Notice { .. } => unreachable!("incident notice is not an offline action"),
    }
}

fn report_options(args: &ReportArgs) -> report::Options {
    report::Options {
        incident: args.incident.clone(),
        since: args.since.clone(),
        until: args.until.clone(),
        lang: args.lang,
        keep_literals: args.no_redact,
    }
}

/// Where `report --html` writes, with the recording it draws the load from.
fn html_out(args: &ReportArgs) -> Result<Option<report::HtmlOut>> {
    match (&args.html, &args.recording) {
        (None, Some(_)) => {
            bail!("--recording draws the load in the HTML report's timeline: add --html FILE")
        }
        (None, None) => Ok(None),
        (Some(file), recording) => {
            if file.is_dir() {
                bail!(
                    "--html {} is a directory: name the file to write",
                    file.display()
                );
            }
            Ok(Some(report::HtmlOut {
                file: file.clone(),
                recording: recording.clone(),
            }))
        }
    }
}

/// Checks `kill`'s command line: a pid or a batch selection, a valid pid, a reason where no
/// terminal can ask for one, and an evidence path.
fn kill_plan(args: &KillArgs, default_evidence: Option<PathBuf>) -> Result<KillPlan> {
    let batch = args.blockers || args.idle_in_trx_older_than.is_some() || has_filters(&args.filter);
    let target = match (&args.pid, batch) {
        (Some(pid), _) => Target::One(kill::parse_pid(pid)?),
        (None, true) => Target::Batch {
            blockers: args.blockers,
            include_inferred: args.include_inferred,
            idle_in_trx_older_than: args.idle_in_trx_older_than,
            filter: Filter::new(kill_criteria(&args.filter))?,
            execute: args.execute,
            max: args.max as usize,
        },
        (None, false) => bail!(
            "say what to kill: a PID, or --blockers, --idle-in-trx-older-than or --match-* filters"
        ),
    };
    if args.reason.is_none() && !std::io::stdin().is_terminal() {
        bail!(
            "--reason is required when there is no terminal to ask for it; it goes into the evidence log"
        );
    }
    let evidence = args
        .evidence
        .clone()
        .or(default_evidence)
        .context("no evidence log path: set --evidence, XDG_STATE_HOME or HOME")?;
    Ok(KillPlan {
        target,
        query_only: args.query,
        reason: args.reason.clone(),
        yes: args.yes,
        dry_run: args.dry_run,
        wait: args.wait,
        evidence,
    })
}

fn has_filters(f: &KillFilter) -> bool {
    f.match_user.is_some()
        || f.match_host.is_some()
        || f.match_db.is_some()
        || f.match_command.is_some()
        || f.pattern.is_some()
        || f.min_time.is_some()
}

fn kill_criteria(f: &KillFilter) -> Criteria {
    Criteria {
        user: f.match_user.clone(),
        host: f.match_host.clone(),
        db: f.match_db.clone(),
        command: f.match_command.clone(),
        min_time: f.min_time,
        pattern: f.pattern.clone(),
        ..Criteria::default()
    }
}
