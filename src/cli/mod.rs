//! Every clap type of the command line. The doc comments here are the `--help` text.
//!
//! Connection flags live in one struct ([`ConnectArgs`]) that is global, so they can stand before or
//! after the subcommand, the way `mysql` users type them. `-h` is the host, as in `mysql`; help is
//! `--help` only.

use std::path::PathBuf;

use clap::{ArgAction, Parser, Subcommand};

use crate::render::Format;

mod args;
mod connect;
mod generate;
mod plan;

pub use args::{
    CheckArgs, CompletionShell, ConsoleArgs, DeadlocksArgs, EvidenceArgs, ExplainArgs,
    ExporterArgs, FleetArgs, HistoryArgs, IncidentAction, IncidentArgs, KillArgs, KillFilter,
    LocksArgs, NotifyArgs, ProcesslistArgs, ReplicationArgs, ReportArgs, ThresholdArgs, TopArgs,
    TrxArgs, WatchArgs,
};
pub use connect::{ConnectArgs, mysql_style_args};

pub(crate) use generate::{write_completions, write_man_page, write_man_pages};
pub(crate) use plan::{Connected, Offline, Online, Plan};

/// `mytriage --version`: the crate's version and the commit it was built from (see build.rs).
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("MYTRIAGE_GIT_COMMIT"),
    ")"
);

#[cfg(test)]
mod connect_tests;

/// First-minutes incident triage for MySQL, Aurora MySQL and MariaDB.
///
/// mytriage answers "is it the database, and what is blocking what?" from the server's own tables,
/// on one read-only connection with every statement time-bounded.
#[derive(Debug, Parser)]
#[command(
    name = "mytriage",
    version = VERSION,
    disable_help_flag = true,
    disable_help_subcommand = true
)]
pub struct Cli {
    #[command(flatten)]
    pub connect: ConnectArgs,

    /// Output format: a human table, JSON on stdout, or (`locks` only) Graphviz DOT.
    #[arg(long, global = true, value_enum, default_value_t = Format::Table)]
    pub format: Format,

    #[command(flatten)]
    pub fleet: FleetArgs,

    /// Print help.
    #[arg(long, global = true, action = ArgAction::Help)]
    help: Option<bool>,

    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// The server's flavor, version and what mytriage can read on it (capabilities, privileges).
    #[command(disable_help_flag = true)]
    Server,

    /// Who is connected and what they run, each with its InnoDB transaction; flags idle-in-transaction.
    #[command(visible_alias = "ps", disable_help_flag = true)]
    Processlist(ProcesslistArgs),

    /// The blocker tree: row-lock and metadata-lock waits, root blockers first.
    #[command(visible_alias = "blockers", disable_help_flag = true)]
    Locks(LocksArgs),

    /// Long-running transactions, oldest first.
    #[command(disable_help_flag = true)]
    Trx(TrxArgs),

    /// InnoDB history list length (purge lag) and the transaction that holds purge back.
    #[command(visible_alias = "hll", disable_help_flag = true)]
    History(HistoryArgs),

    /// Replication: each channel's threads, lag (three ways), errors and GTIDs, the applier blocked
    /// by a local session; on a source its replicas and semi-sync; Aurora's instances.
    #[command(visible_alias = "repl", disable_help_flag = true)]
    Replication(ReplicationArgs),

    /// Connections against max_connections, by user, host and db.
    #[command(visible_alias = "conns", disable_help_flag = true)]
    Connections,

    /// The latest deadlock, parsed: both sides, their locks and statements, and the victim.
    #[command(disable_help_flag = true)]
    Deadlocks(DeadlocksArgs),

    /// The plan of the statement a session runs now (EXPLAIN FOR CONNECTION / SHOW EXPLAIN FOR);
    /// read-only.
    #[command(disable_help_flag = true)]
    Explain(ExplainArgs),

    /// Kill a session safely: snapshot it to the evidence log (on disk first), confirm, re-verify
    /// it is the same session, kill it, and record the outcome.
    #[command(disable_help_flag = true)]
    Kill(KillArgs),

    /// List the records of the evidence log.
    #[command(disable_help_flag = true)]
    Evidence(EvidenceArgs),

    /// One screen: is it the database, and what is wrong? Every probe once, each line with a verdict.
    #[command(disable_help_flag = true)]
    Status(ThresholdArgs),

    /// Thresholds for alerting and CI: one summary line, Nagios exit codes (0 OK, 1 WARNING,
    /// 2 CRITICAL, 3 UNKNOWN).
    #[command(disable_help_flag = true)]
    Check(CheckArgs),

    /// The status screen, refreshed, with what changed over a rolling window (NDJSON with --format json).
    #[command(disable_help_flag = true)]
    Watch(WatchArgs),

    /// Database load over a rolling window: average active sessions by wait, SQL, account and db.
    #[command(disable_help_flag = true)]
    Top(TopArgs),

    /// The interactive incident console: the blocker tree, sessions, load, transactions,
    /// deadlock and replication, with a session's plan on Enter and the safe kill on `k`.
    #[command(disable_help_flag = true)]
    Console(ConsoleArgs),

    /// Serve the triage as Prometheus metrics: /metrics, /probe?target=NAME, /status.
    #[command(disable_help_flag = true)]
    Exporter(ExporterArgs),

    /// Bracket an incident in the evidence log: `start`, `note`, `end`.
    #[command(disable_help_flag = true)]
    Incident(IncidentArgs),

    /// The incident document (Symptom / Cause / Response / Prevention) from the evidence log, in
    /// Markdown, or as HTML with pictures (--html).
    #[command(disable_help_flag = true)]
    Report(ReportArgs),

    /// Print the shell completion script for bash, zsh or fish (generated from these very flags).
    #[command(disable_help_flag = true)]
    Completions {
        /// The shell to complete in.
        #[arg(value_enum)]
        shell: CompletionShell,
    },

    /// Print the manual page (roff), generated from these very flags: `mytriage man | man -l -`.
    #[command(disable_help_flag = true)]
    Man {
        /// Write mytriage.1 and a page per subcommand (mytriage-locks.1, ...) into this directory.
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
}

impl Cli {
    /// Parses the process arguments; see [`mysql_style_args`].
    pub fn parse_mysql_style() -> Self {
        Self::parse_from(mysql_style_args(std::env::args_os()))
    }
}
