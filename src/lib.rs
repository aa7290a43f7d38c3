//! mytriage: first-minutes incident triage for MySQL, Aurora MySQL and MariaDB.
//!
//! The flow is cli → connect (resolve options, open the one session, detect the flavor) →
//! probe (collect a report) → render (table or JSON).

pub mod cli;
mod connect;
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

use anyhow::{Context, Result};

use cli::{Cli, Command};
use connect::{Inputs, Session};
pub use error::Exit;

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
    let inputs = Inputs {
        args: &cli.connect,
        env: &env,
        home: connect::home_dir(),
        prompt: &connect::prompt_password,
    };
    let plan = Plan::new(&cli.command, &env)?;
    if let Plan::Evidence(path, args) = &plan {
        // Reading the log needs no server.
        emit(&evidence::list(path, args)?, cli.format)?;
        return Ok(Exit::Ok);
    }
    // Opened before connecting: if the evidence cannot be written, nothing may be killed.
    let mut log = match &plan {
        Plan::Kill(kill) => Some(kill.open_evidence()?),
        _ => None,
    };
    let resolved = connect::resolve(&inputs)?;
    for warning in &resolved.warnings {
        eprintln!("mytriage: {warning}");
    }
    let mut session = Session::open(&resolved.config).await?;
    let outcome = dispatch(&plan, cli.format, &mut session, log.as_mut()).await;
    session.close().await;
    outcome
}

/// A command with its arguments validated: everything that can be wrong with the command line
/// is found here, before anything connects.
enum Plan {
    Server,
    Processlist(probe::processlist::Filter),
    Locks(cli::LocksArgs),
    Trx(cli::TrxArgs),
    History(cli::HistoryArgs),
    Connections,
    Deadlocks,
    Kill(kill::KillPlan),
    Evidence(std::path::PathBuf, cli::EvidenceArgs),
    Status(workflow::thresholds::Thresholds),
    Check(workflow::thresholds::Thresholds, Option<std::path::PathBuf>),
}

impl Plan {
    fn new(command: &Command, env: &dyn Fn(&str) -> Option<String>) -> Result<Plan> {
        Ok(match command {
            Command::Server => Plan::Server,
            Command::Processlist(args) => Plan::Processlist(probe::processlist::Filter::new(args)?),
            Command::Locks(args) => Plan::Locks(args.clone()),
            Command::Trx(args) => Plan::Trx(args.clone()),
            Command::History(args) => {
                anyhow::ensure!(
                    args.warn <= args.crit,
                    "--warn {} is above --crit {}",
                    args.warn,
                    args.crit
                );
                Plan::History(args.clone())
            }
            Command::Connections => Plan::Connections,
            Command::Deadlocks => Plan::Deadlocks,
            Command::Status(args) => Plan::Status(workflow::thresholds::Thresholds::resolve(args)?),
            Command::Check(args) => Plan::Check(
                workflow::thresholds::Thresholds::resolve(&args.thresholds)?,
                args.state.clone(),
            ),
            Command::Kill(args) => {
                Plan::Kill(kill::KillPlan::new(args, evidence::default_path(env))?)
            }
            Command::Evidence(args) => {
                let path = args
                    .evidence
                    .clone()
                    .or_else(|| evidence::default_path(env));
                Plan::Evidence(
                    path.context("no evidence log path: set --evidence, XDG_STATE_HOME or HOME")?,
                    args.clone(),
                )
            }
        })
    }
}

async fn dispatch(
    plan: &Plan,
    format: cli::Format,
    session: &mut Session,
    log: Option<&mut evidence::EvidenceLog>,
) -> Result<Exit> {
    match plan {
        Plan::Server => emit(&probe::server::collect(session).await?, format)?,
        Plan::Processlist(filter) => {
            emit(&probe::processlist::collect(session, filter).await?, format)?
        }
        Plan::Locks(args) => emit(&probe::locks::collect(session, args).await?, format)?,
        Plan::Trx(args) => emit(&probe::trx::collect(session, args).await?, format)?,
        Plan::History(args) => {
            let report = probe::history::collect(session, args).await?;
            emit(&report, format)?;
            if report.breached() {
                return Ok(Exit::Findings);
            }
        }
        Plan::Connections => emit(&probe::connections::collect(session).await?, format)?,
        Plan::Deadlocks => emit(&probe::deadlocks::collect(session).await?, format)?,
        Plan::Kill(kill) => {
            let log = log.context("the evidence log is not open")?;
            let report = kill::run(session, kill, log).await?;
            emit(&report, format)?;
            return Ok(report.exit());
        }
        Plan::Evidence(path, args) => emit(&evidence::list(path, args)?, format)?,
        Plan::Status(limits) => emit(&workflow::status::collect(session, limits).await?, format)?,
        Plan::Check(limits, state) => {
            let report = workflow::check::collect(session, limits, state.as_deref()).await?;
            emit(&report, format)?;
            return Ok(report.exit());
        }
    }
    Ok(Exit::Ok)
}

/// Writes a report to stdout; diagnostics never go there.
fn emit(report: &impl render::Report, format: cli::Format) -> Result<()> {
    let mut out = std::io::stdout().lock();
    render::render(report, format, &mut out)
        .and_then(|()| out.flush())
        .context("writing the report")
}
