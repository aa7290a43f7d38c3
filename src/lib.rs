//! mytriage: first-minutes incident triage for MySQL, Aurora MySQL and MariaDB.
//!
//! The flow is cli → connect (resolve options, open the one session, detect the flavor) →
//! probe (collect a report) → render (table or JSON).

pub mod cli;
mod connect;
pub mod error;
mod probe;
mod queries;
mod render;
mod server;

use std::io::Write;

use anyhow::{Context, Result};

use cli::{Cli, Command};
use connect::{Inputs, Session};
pub use error::Exit;

/// Runs one command line to completion and says how the process should exit.
pub async fn run(cli: Cli) -> Result<Exit> {
    let env = |name: &str| std::env::var(name).ok();
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
    let mut session = Session::open(&resolved.config).await?;
    let outcome = dispatch(&cli, &mut session).await;
    session.close().await;
    outcome
}

async fn dispatch(cli: &Cli, session: &mut Session) -> Result<Exit> {
    match cli.command {
        Command::Server => emit(&probe::server::collect(session).await?, cli.format)?,
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
