//! mytriage: first-minutes incident triage for MySQL, Aurora MySQL and MariaDB.
//!
//! The flow is cli → connect (resolve options, open the one session, detect the flavor) →
//! probe (collect a report) → render (table or JSON).

pub mod cli;
mod connect;
mod duration;
pub mod error;
mod evidence;
mod innodb_status;
mod kill;
mod probe;
mod queries;
mod render;
mod server;
mod verdict;
mod workflow;

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result};

use cli::{Cli, Command};
use connect::{Inputs, Session};
pub use error::Exit;

/// Parses an InnoDB status text the way `deadlocks` does, for the property tests in
/// `tests/fuzz_parser.rs`; not part of the interface.
#[doc(hidden)]
pub fn fuzz_innodb_status(text: &str) {
    let _ = innodb_status::parse_latest_deadlock(text);
    let _ = innodb_status::history_list_length(text);
}

/// Runs one command line to completion and says how the process should exit.
pub async fn run(cli: Cli) -> Result<Exit> {
    let is_check = matches!(cli.command, Command::Check(_));
    match run_command(cli).await {
        // Monitoring systems read 3 as UNKNOWN; 2 would page as CRITICAL.
        Err(error) if is_check && !error::is_broken_pipe(&error) => {
            println!("MYTRIAGE UNKNOWN - {}", error::one_line(&error));
            Ok(Exit::Unknown)
        }
        outcome => outcome,
    }
}

async fn run_command(cli: Cli) -> Result<Exit> {
    let env = |name: &str| std::env::var(name).ok();
    let connected = match Plan::new(&cli.command, &env)? {
        // Reading and writing the evidence log needs no server.
        Plan::Offline(offline) => return run_offline(&offline, cli.format),
        Plan::Connected(connected) => *connected,
    };
    // Opened before connecting: if the evidence cannot be written, nothing may be killed.
    let mut log = match &connected {
        Connected::Probe(online) => online
            .evidence_path()
            .map(evidence::EvidenceLog::open)
            .transpose()?,
        Connected::Watch(..) => None,
    };
    let inputs = Inputs {
        args: &cli.connect,
        env: &env,
        home: connect::home_dir(),
        prompt: &connect::prompt_password,
    };
    let resolved = connect::resolve(&inputs)?;
    for warning in &resolved.warnings {
        eprintln!("mytriage: {warning}");
    }
    let plan = |server: &server::ServerInfo| connected.first_snapshot(server);
    let mut session = Session::open(&resolved.config, &plan).await?;
    match &connected {
        Connected::Probe(online) => {
            let outcome = dispatch(online, cli.format, &mut session, log.as_mut()).await;
            session.close().await;
            outcome
        }
        // Watch owns its session: it re-opens it when the connection is lost.
        Connected::Watch(args, limits) => {
            workflow::watch::run(&resolved.config, session, args, limits, cli.format)
                .await
                .map(|()| Exit::Ok)
        }
    }
}

/// A command with its arguments validated: everything that can be wrong with the command line
/// is found here, before anything connects.
enum Plan {
    Offline(Offline),
    Connected(Box<Connected>),
}

/// Commands that connect.
enum Connected {
    /// One look at the server.
    Probe(Online),
    /// `watch` owns its session: it re-opens it when the connection is lost.
    Watch(cli::WatchArgs, workflow::thresholds::Thresholds),
}

/// Commands that only read or write the evidence log.
enum Offline {
    Evidence(PathBuf, cli::EvidenceArgs),
    DeadlockHistory(PathBuf),
    Incident(PathBuf, cli::IncidentAction),
    Report(PathBuf, cli::ReportArgs),
    TopReplay(PathBuf, Option<u32>),
}

/// Commands that need the server.
enum Online {
    Server,
    Processlist(probe::processlist::Filter),
    Locks(cli::LocksArgs),
    Trx(cli::TrxArgs),
    History(cli::HistoryArgs),
    Connections,
    Deadlocks,
    DeadlockWatch(cli::DeadlocksArgs, PathBuf),
    Kill(kill::KillPlan),
    Status(workflow::thresholds::Thresholds),
    Check(workflow::thresholds::Thresholds, Option<PathBuf>),
    Top(cli::TopArgs),
}

impl Connected {
    /// The statements of the command's first snapshot on `server`: they ride in the first
    /// round trip with the detection.
    fn first_snapshot(&self, server: &server::ServerInfo) -> Vec<&'static str> {
        match self {
            Connected::Watch(..) => workflow::triage::statements(server),
            Connected::Probe(online) => match online {
                Online::Server => probe::server::snapshot(server),
                Online::Processlist(_) => probe::processlist::snapshot(server),
                Online::Locks(_) | Online::Kill(_) => probe::locks::snapshot(server),
                Online::Trx(_) => probe::trx::snapshot(server),
                Online::History(args) if args.sample == 1 => probe::history::last_sample(server),
                Online::History(_) => Vec::new(),
                Online::Connections => probe::connections::snapshot(server),
                Online::Deadlocks | Online::DeadlockWatch(..) => probe::deadlocks::snapshot(server),
                Online::Status(_) | Online::Check(..) => workflow::triage::statements(server),
                Online::Top(_) => probe::top::first_sample(server),
            },
        }
    }
}

impl Online {
    /// The evidence log a command appends to, opened before connecting.
    fn evidence_path(&self) -> Option<&std::path::Path> {
        match self {
            Online::Kill(kill) => Some(kill.evidence_path()),
            Online::DeadlockWatch(_, path) => Some(path),
            _ => None,
        }
    }
}

impl Plan {
    fn probe(online: Online) -> Plan {
        Plan::Connected(Box::new(Connected::Probe(online)))
    }

    fn new(command: &Command, env: &dyn Fn(&str) -> Option<String>) -> Result<Plan> {
        let log = |flag: &Option<PathBuf>| -> Result<PathBuf> {
            flag.clone()
                .or_else(|| evidence::default_path(env))
                .context("no evidence log path: set --evidence, XDG_STATE_HOME or HOME")
        };
        Ok(match command {
            Command::Server => Plan::probe(Online::Server),
            Command::Processlist(args) => {
                Plan::probe(Online::Processlist(probe::processlist::Filter::new(args)?))
            }
            Command::Locks(args) => Plan::probe(Online::Locks(args.clone())),
            Command::Trx(args) => Plan::probe(Online::Trx(args.clone())),
            Command::History(args) => {
                anyhow::ensure!(
                    args.warn <= args.crit,
                    "--warn {} is above --crit {}",
                    args.warn,
                    args.crit
                );
                Plan::probe(Online::History(args.clone()))
            }
            Command::Connections => Plan::probe(Online::Connections),
            Command::Deadlocks(args) if args.history => {
                Plan::Offline(Offline::DeadlockHistory(log(&args.evidence)?))
            }
            Command::Deadlocks(args) if args.watch => {
                Plan::probe(Online::DeadlockWatch(args.clone(), log(&args.evidence)?))
            }
            Command::Deadlocks(_) => Plan::probe(Online::Deadlocks),
            Command::Watch(args) => Plan::Connected(Box::new(Connected::Watch(
                args.clone(),
                workflow::thresholds::Thresholds::resolve(&args.thresholds)?,
            ))),
            Command::Status(args) => Plan::probe(Online::Status(
                workflow::thresholds::Thresholds::resolve(args)?,
            )),
            Command::Check(args) => Plan::probe(Online::Check(
                workflow::thresholds::Thresholds::resolve(&args.thresholds)?,
                args.state.clone(),
            )),
            Command::Kill(args) => Plan::probe(Online::Kill(kill::KillPlan::new(
                args,
                evidence::default_path(env),
            )?)),
            Command::Evidence(args) => {
                Plan::Offline(Offline::Evidence(log(&args.evidence)?, args.clone()))
            }
            Command::Incident(args) => {
                Plan::Offline(Offline::Incident(log(&args.evidence)?, args.action.clone()))
            }
            Command::Top(args) => match &args.replay {
                Some(path) => Plan::Offline(Offline::TopReplay(path.clone(), args.cpus)),
                None => Plan::probe(Online::Top(args.clone())),
            },
            Command::Report(args) => {
                Plan::Offline(Offline::Report(log(&args.evidence)?, args.clone()))
            }
        })
    }
}

fn run_offline(plan: &Offline, format: cli::Format) -> Result<Exit> {
    match plan {
        Offline::Evidence(path, args) => emit(&evidence::list(path, args)?, format)?,
        Offline::DeadlockHistory(path) => emit(&probe::deadlocks::history(path)?, format)?,
        Offline::Incident(path, action) => {
            emit(&workflow::incident::record(path, action)?, format)?
        }
        Offline::TopReplay(path, cpus) => probe::top::replay(path, *cpus, format)?,
        Offline::Report(path, args) => {
            let report = workflow::report::build(path, args)?;
            let mut out = std::io::stdout().lock();
            out.write_all(report.as_bytes())
                .and_then(|()| out.flush())
                .context("writing the report")?;
        }
    }
    Ok(Exit::Ok)
}

async fn dispatch(
    plan: &Online,
    format: cli::Format,
    session: &mut Session,
    log: Option<&mut evidence::EvidenceLog>,
) -> Result<Exit> {
    match plan {
        Online::Server => emit(&probe::server::collect(session).await?, format)?,
        Online::Processlist(filter) => {
            emit(&probe::processlist::collect(session, filter).await?, format)?
        }
        Online::Locks(args) => emit(&probe::locks::collect(session, args).await?, format)?,
        Online::Trx(args) => emit(&probe::trx::collect(session, args).await?, format)?,
        Online::History(args) => {
            let report = probe::history::collect(session, args).await?;
            emit(&report, format)?;
            if report.breached() {
                return Ok(Exit::Findings);
            }
        }
        Online::Connections => emit(&probe::connections::collect(session).await?, format)?,
        Online::Deadlocks => emit(&probe::deadlocks::collect(session).await?, format)?,
        Online::DeadlockWatch(args, _) => {
            let log = log.context("the evidence log is not open")?;
            let recorded = probe::deadlocks::watch(session, args, log, format).await?;
            eprintln!(
                "mytriage: {recorded} new deadlock(s) recorded in {}",
                log.path().display()
            );
        }
        Online::Kill(kill) => {
            let log = log.context("the evidence log is not open")?;
            let report = kill::run(session, kill, log).await?;
            emit(&report, format)?;
            return Ok(report.exit());
        }
        Online::Top(args) => probe::top::run(session, args, format).await?,
        Online::Status(limits) => emit(&workflow::status::collect(session, limits).await?, format)?,
        Online::Check(limits, state) => {
            let report = workflow::check::collect(session, limits, state.as_deref()).await?;
            emit(&report, format)?;
            return Ok(report.exit());
        }
    }
    Ok(Exit::Ok)
}

/// Writes a report to stdout; diagnostics never go there.
pub(crate) fn emit(report: &impl render::Report, format: cli::Format) -> Result<()> {
    // Stdout is line-buffered: unbuffered, pretty JSON of 5,000 threads took 60,000 writes.
    let mut out = std::io::BufWriter::with_capacity(64 * 1024, std::io::stdout().lock());
    render::render(report, format, &mut out)
        .and_then(|()| out.flush())
        .context("writing the report")
}
