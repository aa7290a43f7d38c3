//! mytriage: first-minutes incident triage for MySQL, Aurora MySQL and MariaDB.
//!
//! The flow is cli → connect (resolve options, open the one session, detect the flavor) →
//! probe (collect a report) → render (table or JSON).

pub mod cli;
mod connect;
mod console;
mod duration;
pub mod error;
mod evidence;
mod exporter;
mod innodb_status;
mod kill;
mod notify;
mod probe;
mod queries;
mod redact;
mod render;
mod server;
mod verdict;
mod workflow;

use std::io::{IsTerminal, Write};

use anyhow::{Context, Result};

use cli::{Cli, Command, Connected, Offline, Online, Plan};
use connect::{Inputs, Session};
pub use error::Exit;
use render::{Format, ViewOptions};
use verdict::Verdict;

/// Parses an InnoDB status text the way `deadlocks` does, for the property tests in
/// `tests/fuzz_parser.rs`; not part of the interface.
#[doc(hidden)]
pub fn fuzz_innodb_status(text: &str) {
    let _ = innodb_status::parse_latest_deadlock(text);
    let _ = innodb_status::history_list_length(text);
}

/// The console's client CPU per sample and per frame, measured on a real sample, for
/// `benches/console.rs`; not part of the interface.
#[doc(hidden)]
pub use console::bench as console_bench;

/// Runs one command line to completion and says how the process should exit.
pub async fn run(cli: Cli) -> Result<Exit> {
    let is_check = matches!(cli.command, Command::Check(_));
    let junit = cli.format == Format::Junit;
    match run_command(cli).await {
        // Monitoring systems read 3 as UNKNOWN; 2 would page as CRITICAL.
        Err(error) if is_check && junit && !error::is_broken_pipe(&error) => {
            let at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
            let mut out = std::io::stdout().lock();
            render::junit::write_error("mytriage check", &at, &error::one_line(&error), &mut out)
                .and_then(|()| out.flush())
                .context("writing the report")?;
            Ok(Exit::Unknown)
        }
        Err(error) if is_check && !error::is_broken_pipe(&error) => {
            println!("MYTRIAGE UNKNOWN - {}", error::one_line(&error));
            Ok(Exit::Unknown)
        }
        outcome => outcome,
    }
}

async fn run_command(cli: Cli) -> Result<Exit> {
    let env = |name: &str| std::env::var(name).ok();
    let format = cli.format;
    let connected = match Plan::new(&cli, &env)? {
        // Reading and writing the evidence log needs no server.
        Plan::Offline(offline) => return run_offline(&offline, &Output::new(format, &cli)),
        Plan::Fleet(fleet) => return run_fleet(&fleet, &cli, &env).await,
        Plan::Exporter(options) => return run_exporter(&options, &cli, &env).await,
        Plan::Connected(connected) => *connected,
    };
    let output = Output::new(format, &cli);
    // Opened before connecting: if the evidence cannot be written, nothing may be killed.
    let mut log = match &connected {
        Connected::Probe(online) => online
            .evidence_path()
            .map(evidence::EvidenceLog::open)
            .transpose()?,
        Connected::Watch(..) => None,
        Connected::Console(options, _) => Some(evidence::EvidenceLog::open(&options.evidence)?),
    };
    let flags = cli.connect.flags();
    let inputs = Inputs {
        flags: &flags,
        env: &env,
        home: connect::home_dir(),
        prompt: &connect::prompt_password,
    };
    let resolved = connect::resolve(&inputs)?;
    for warning in &resolved.warnings {
        eprintln!("mytriage: {warning}");
    }
    // Resolved before connecting, so a missing or bad webhook URL changes nothing.
    let webhook = match connected.notify() {
        Some(request) => Some(webhook(request, &flags, &env)?),
        None => None,
    };
    let plan = |server: &server::ServerInfo| first_snapshot(&connected, server);
    let mut session = Session::open(&resolved.config, &plan).await?;
    match &connected {
        Connected::Probe(online) => {
            let target = Target {
                config: &resolved.config,
                webhook: webhook.as_ref(),
            };
            let outcome = dispatch(online, &output, &mut session, log.as_mut(), &target).await;
            session.close().await;
            outcome
        }
        // Watch owns its session: it re-opens it when the connection is lost.
        Connected::Watch(options, limits) => workflow::watch::run(
            &resolved.config,
            session,
            options,
            limits,
            output.format,
            &output.view,
            webhook,
        )
        .await
        .map(|()| Exit::Ok),
        Connected::Console(options, limits) => {
            let log = log.context("the evidence log is not open")?;
            console::run(&resolved.config, session, options, limits, log)
                .await
                .map(|()| Exit::Ok)
        }
    }
}

/// The connection flags with a bare `-p` answered now, once, for every host (or exporter target)
/// that shares the credentials.
fn flags_asked_once(cli: &Cli) -> Result<connect::Flags> {
    let mut flags = cli.connect.flags();
    if flags.ask_password {
        flags.given.password = Some(connect::prompt_password()?);
        flags.ask_password = false;
    }
    Ok(flags)
}

/// One command on many hosts, concurrently; exits with the worst host's verdict (a host that
/// could not be read is UNKNOWN).
async fn run_fleet(
    plan: &workflow::fleet::FleetPlan,
    cli: &Cli,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Exit> {
    let flags = flags_asked_once(cli)?;
    let shared = workflow::fleet::Shared {
        flags: &flags,
        env,
        home: connect::home_dir(),
    };
    let report = workflow::fleet::run(plan, &shared).await;
    Output::new(cli.format, cli).emit(&report)?;
    Ok(exit_of(report.verdict))
}

/// The Prometheus exporter: the connection flags name the server of `/metrics`, and every
/// target of the targets file is resolved over them (as a `--hosts` entry is) before it listens.
async fn run_exporter(
    options: &exporter::Options,
    cli: &Cli,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Exit> {
    let flags = flags_asked_once(cli)?;
    let home = connect::home_dir();
    let inputs = Inputs {
        flags: &flags,
        env,
        home: home.clone(),
        prompt: &|| anyhow::bail!("the password was not given"),
    };
    let resolved = connect::resolve(&inputs)?;
    for warning in &resolved.warnings {
        eprintln!("mytriage: {warning}");
    }
    let mut targets = Vec::new();
    for (name, host) in exporter::hosts(options) {
        let own = host.flags(&flags, home.as_deref())?;
        let inputs = Inputs {
            flags: &own,
            env,
            home: home.clone(),
            prompt: &|| anyhow::bail!("the password was not given"),
        };
        let config = connect::resolve(&inputs)
            .with_context(|| format!("target {name}"))?
            .config;
        targets.push((name.to_owned(), config));
    }
    exporter::run(options, resolved.config, targets).await?;
    Ok(Exit::Ok)
}

/// The webhook of `--notify`: `--notify-url`, `MYTRIAGE_NOTIFY_URL`, or `notify-url` in the
/// `[mytriage]` group of the option files the connection reads.
fn webhook(
    request: &notify::Request,
    flags: &connect::Flags,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<notify::Webhook> {
    let from_file = connect::option_file::load(
        &flags.defaults,
        connect::home_dir().as_deref(),
        &["mytriage"],
    )?
    .get("notify-url")
    .and_then(|v| v.value.clone());
    let mut warnings = Vec::new();
    let webhook = notify::Webhook::resolve(request, env, from_file, &mut warnings)?;
    for warning in warnings {
        eprintln!("mytriage: {warning}");
    }
    Ok(webhook)
}

/// What a one-shot command may need about where it runs besides the session.
struct Target<'a> {
    config: &'a connect::ConnectConfig,
    webhook: Option<&'a notify::Webhook>,
}

/// How reports reach stdout: the format, and how a table is drawn.
struct Output {
    format: Format,
    view: ViewOptions,
}

impl Output {
    fn new(format: Format, cli: &Cli) -> Output {
        let full = match &cli.command {
            Command::Processlist(args) => args.full,
            Command::Locks(args) => args.full,
            Command::Trx(args) => args.full,
            _ => false,
        };
        let color = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
        Output {
            format,
            view: ViewOptions { full, color },
        }
    }

    /// Writes a report to stdout; diagnostics never go there.
    fn emit(&self, report: &impl render::Report) -> Result<()> {
        // Stdout is line-buffered: unbuffered, pretty JSON of 5,000 threads took 60,000 writes.
        let mut out = std::io::BufWriter::with_capacity(64 * 1024, std::io::stdout().lock());
        render::render(report, self.format, &self.view, &mut out)
            .and_then(|()| out.flush())
            .context("writing the report")
    }
}

/// The exit code of a verdict: Nagios's, which the README documents for every command that
/// judges (0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN).
fn exit_of(verdict: Verdict) -> Exit {
    match verdict {
        Verdict::Ok => Exit::Ok,
        Verdict::Unknown => Exit::Unknown,
        Verdict::Warn => Exit::Findings,
        Verdict::Crit => Exit::Error,
    }
}

/// The statements of the command's first snapshot on `server`: they ride in the first round
/// trip with the detection.
fn first_snapshot(connected: &Connected, server: &server::ServerInfo) -> Vec<&'static str> {
    match connected {
        Connected::Watch(..) => workflow::triage::statements(server),
        Connected::Console(..) => console::sampler::statements(server),
        Connected::Probe(online) => match online {
            Online::Server => probe::server::snapshot(server),
            Online::Processlist(_) => probe::processlist::snapshot(server),
            Online::Locks | Online::Kill(_) => probe::locks::snapshot(server),
            Online::Trx(_) => probe::trx::snapshot(server),
            Online::History(sampling) if sampling.samples == 1 => {
                probe::history::last_sample(server)
            }
            Online::History(_) => Vec::new(),
            Online::Connections => probe::connections::snapshot(server),
            Online::Replication(..) => probe::replication::snapshot(server),
            Online::Explain { .. } => probe::processlist::snapshot(server),
            Online::Deadlocks | Online::DeadlockWatch(..) => probe::deadlocks::snapshot(server),
            Online::Status(_) | Online::Check(..) => workflow::triage::statements(server),
            Online::Top(_) => probe::top::first_sample(server),
            Online::Notice(..) => workflow::triage::statements(server),
        },
    }
}

fn run_offline(plan: &Offline, output: &Output) -> Result<Exit> {
    match plan {
        Offline::Completions(shell) => cli::write_completions(*shell, &mut std::io::stdout())?,
        Offline::ManPage(None) => cli::write_man_page(&mut std::io::stdout())?,
        Offline::ManPage(Some(dir)) => cli::write_man_pages(dir)?,
        Offline::Evidence(path, query) => output.emit(&evidence::list(path, query)?)?,
        Offline::DeadlockHistory(path) => output.emit(&probe::deadlocks::history(path)?)?,
        Offline::Incident(path, action) => {
            output.emit(&workflow::incident::record(path, action)?)?
        }
        Offline::TopReplay(path, cpus) => {
            let samples = probe::top::read_recording(path)?;
            let source = probe::top::TopSource::Recording(path.clone());
            output.emit(&probe::top::aggregate(&samples, *cpus, None, source))?
        }
        Offline::Report(path, options, Some(html)) => {
            let page = workflow::report::build_html(path, options, html.recording.as_deref())?;
            // Built whole before the file is touched: bad input leaves no half-written page. The
            // internal version (--no-redact) holds the statements' literals: readable by its
            // owner only, as the evidence log is.
            let mut open = std::fs::OpenOptions::new();
            open.write(true).create(true).truncate(true);
            if options.keep_literals {
                std::os::unix::fs::OpenOptionsExt::mode(&mut open, 0o600);
            }
            open.open(&html.file)
                .and_then(|mut file| {
                    if options.keep_literals {
                        // Also when the file was there before, with wider permissions.
                        use std::os::unix::fs::PermissionsExt;
                        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
                    }
                    file.write_all(page.as_bytes())
                })
                .with_context(|| format!("cannot write {}", html.file.display()))?;
            eprintln!("mytriage: wrote the report to {}", html.file.display());
        }
        Offline::Report(path, options, None) => {
            let report = workflow::report::build(path, options)?;
            let mut out = std::io::stdout().lock();
            out.write_all(report.as_bytes())
                .and_then(|()| out.flush())
                .context("writing the report")?;
        }
    }
    Ok(Exit::Ok)
}

/// `replication --record`: the channels, appended to the evidence log for the report.
fn record_replication(
    log: &mut evidence::EvidenceLog,
    target: &Target<'_>,
    server: &server::ServerInfo,
    channels: &[probe::replication::Channel],
) -> Result<()> {
    if channels.is_empty() {
        eprintln!("mytriage: this server replicates from no source; nothing recorded");
        return Ok(());
    }
    let record = evidence::record::ReplicationRecord::new(target.config.target(), server, channels);
    log.append(&record)?;
    let trouble = record.channels.iter().filter(|c| c.in_trouble()).count();
    eprintln!(
        "mytriage: recorded {} channel(s), {trouble} broken or blocked, in {}",
        record.channels.len(),
        log.path().display()
    );
    Ok(())
}

async fn dispatch(
    plan: &Online,
    output: &Output,
    session: &mut Session,
    log: Option<&mut evidence::EvidenceLog>,
    target: &Target<'_>,
) -> Result<Exit> {
    match plan {
        Online::Server => output.emit(&probe::server::collect(session).await?)?,
        Online::Processlist(filter) => {
            output.emit(&probe::processlist::collect(session, filter).await?)?
        }
        Online::Locks => output.emit(&probe::locks::collect(session).await?)?,
        Online::Trx(min_age) => output.emit(&probe::trx::collect(session, *min_age).await?)?,
        Online::History(sampling) => {
            let report = probe::history::collect(session, sampling).await?;
            output.emit(&report)?;
            // Exit code 1 when the length is at or above the warning threshold, CRIT included.
            if report.verdict != Verdict::Ok {
                return Ok(Exit::Findings);
            }
        }
        Online::Connections => output.emit(&probe::connections::collect(session).await?)?,
        Online::Explain { pid, json } => {
            output.emit(&probe::explain::collect(session, *pid, *json).await?)?
        }
        Online::Replication(options, record) => {
            let report = probe::replication::collect(session, options).await?;
            output.emit(&report)?;
            if record.is_some() {
                let log = log.context("the evidence log is not open")?;
                record_replication(log, target, &session.server, &report.channels)?;
            }
        }
        Online::Deadlocks => output.emit(&probe::deadlocks::collect(session).await?)?,
        Online::DeadlockWatch(pace, _) => {
            let log = log.context("the evidence log is not open")?;
            let recorded = workflow::deadlock_watch::run(session, pace, log, output.format).await?;
            eprintln!(
                "mytriage: {recorded} new deadlock(s) recorded in {}",
                log.path().display()
            );
        }
        Online::Kill(kill) => {
            let log = log.context("the evidence log is not open")?;
            let report = kill::run(session, kill, log).await?;
            output.emit(&report)?;
            return Ok(exit_of(report.verdict()));
        }
        Online::Top(options) => {
            if let Some(report) = workflow::top::run(session, options, output.format).await? {
                output.emit(&report)?;
            }
        }
        Online::Status(limits) => {
            output.emit(&workflow::status::collect(session, limits).await?)?
        }
        Online::Notice(lang, _) => {
            let webhook = target.webhook.context("incident notice needs a webhook")?;
            let limits = workflow::thresholds::Thresholds::default();
            let report = workflow::status::collect(session, &limits).await?;
            let server = target.config.target();
            let mut notice = notify::notice::Notice {
                verdict: report.verdict,
                text: notify::notice::text(&report, &server, *lang),
                server,
                posted: false,
            };
            webhook
                .post(&notify::notice::body(&notice, *lang, webhook.style))
                .await?;
            notice.posted = true;
            output.emit(&notice)?;
        }
        Online::Check(limits, state, _) => {
            let notify = target.webhook.map(|webhook| workflow::check::Notify {
                webhook,
                config: target.config,
            });
            let report =
                workflow::check::collect(session, limits, state.as_deref(), notify).await?;
            if output.format == Format::Junit {
                let mut out = std::io::stdout().lock();
                let at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
                render::junit::write("mytriage check", &at, &report.findings, &mut out)
                    .and_then(|()| out.flush())
                    .context("writing the report")?;
                return Ok(exit_of(report.verdict));
            }
            output.emit(&report)?;
            return Ok(exit_of(report.verdict));
        }
    }
    Ok(Exit::Ok)
}
