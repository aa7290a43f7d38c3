//! The options of each subcommand, as clap reads them. [`super::Plan`] turns them into the
//! domain's options before anything runs.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Subcommand};

use crate::duration::{parse_duration, parse_timeout};
use crate::probe::processlist::SortBy;
use crate::workflow::report::Lang;

/// Shells `completions` writes for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CompletionShell {
    Bash,
    Zsh,
    Fish,
}

/// Many hosts at once, for `status`, `check`, `replication`, `history` and `locks`. Global.
#[derive(Debug, Clone, Default, Args)]
pub struct FleetArgs {
    /// Run on these hosts concurrently: host, host:port, mysql:// URL or [option-file group].
    #[arg(
        long,
        global = true,
        value_delimiter = ',',
        help_heading = "Many hosts"
    )]
    pub hosts: Vec<String>,

    /// Run on the hosts of this file, one a line (# comments).
    #[arg(long, global = true, help_heading = "Many hosts")]
    pub hosts_file: Option<PathBuf>,

    /// Add the hosts the first host's replication names: its source, its replicas.
    #[arg(long, global = true, help_heading = "Many hosts")]
    pub cluster: bool,

    /// Read at most this many hosts at a time.
    #[arg(long, global = true, default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..), help_heading = "Many hosts")]
    pub parallel: u16,
}

/// Options for `explain`.
#[derive(Debug, Clone, Args)]
pub struct ExplainArgs {
    /// The session's processlist id.
    pub pid: String,
    /// The plan as JSON (FORMAT=JSON) rather than the tree or table.
    #[arg(long)]
    pub json: bool,
}

/// Options for `replication`.
#[derive(Debug, Clone, Default, Args)]
pub struct ReplicationArgs {
    /// A pt-heartbeat table (db.table) to read the lag from as well.
    #[arg(long, value_name = "DB.TABLE")]
    pub heartbeat_table: Option<String>,
    /// Append what this replica's channels show to the evidence log, so the incident report
    /// names a broken channel or a blocked applier in its Cause.
    #[arg(long)]
    pub record: bool,
    /// The evidence log --record appends to (default: $XDG_STATE_HOME/mytriage/evidence.jsonl).
    #[arg(long, requires = "record")]
    pub evidence: Option<std::path::PathBuf>,
}

/// Options for `top`.
#[derive(Debug, Clone, Args)]
pub struct TopArgs {
    /// Time between samples.
    #[arg(long, value_parser = parse_timeout, default_value = "1s")]
    pub interval: Duration,
    /// The rolling window the load is averaged over.
    #[arg(long, value_parser = parse_timeout, default_value = "5m")]
    pub window: Duration,
    /// Sample for this long, then print one aggregate (table or one JSON object).
    #[arg(long, value_parser = parse_timeout)]
    pub duration: Option<Duration>,
    /// Also write every sample (NDJSON) to this file.
    #[arg(long, value_name = "FILE", conflicts_with = "replay")]
    pub record: Option<std::path::PathBuf>,
    /// Show the view of a recording instead of sampling (no server needed).
    #[arg(long, value_name = "FILE")]
    pub replay: Option<std::path::PathBuf>,
    /// The server's CPU count, drawn as a reference line (the server cannot tell it).
    #[arg(long)]
    pub cpus: Option<u32>,
}

/// Options for `exporter`.
#[derive(Debug, Clone, Args)]
pub struct ExporterArgs {
    /// Where to serve HTTP (loopback by default).
    #[arg(long, default_value = "127.0.0.1:9104", value_name = "ADDR:PORT")]
    pub listen: String,
    /// The targets /probe?target=NAME may read: one `NAME = HOST` a line (HOST as in --hosts).
    #[arg(long, value_name = "FILE")]
    pub targets: Option<PathBuf>,
    /// The longest a scrape may take (Prometheus's own scrape timeout lowers it).
    #[arg(long, value_parser = parse_timeout, default_value = "10s")]
    pub scrape_timeout: Duration,
    /// The rolling window the load (mytriage_aas) is averaged over.
    #[arg(long, value_parser = parse_timeout, default_value = "1m")]
    pub window: Duration,
    /// Time between the load sampler's samples.
    #[arg(long, value_parser = parse_timeout, default_value = "1s")]
    pub sample_interval: Duration,
    /// Run no load sampler (no mytriage_aas, and no connection between scrapes).
    #[arg(long)]
    pub no_aas: bool,
    #[command(flatten)]
    pub thresholds: ThresholdArgs,
}

/// Options for `watch`.
#[derive(Debug, Clone, Args)]
pub struct WatchArgs {
    /// Time between samples.
    #[arg(long, value_parser = parse_timeout, default_value = "2s")]
    pub interval: Duration,
    /// How far back "what changed" looks.
    #[arg(long, value_parser = parse_timeout, default_value = "5m")]
    pub window: Duration,
    /// Stop after this long (default: until Ctrl-C).
    #[arg(long, value_parser = parse_timeout)]
    pub duration: Option<Duration>,
    /// Stop after this many samples.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub samples: Option<u64>,
    #[command(flatten)]
    pub thresholds: ThresholdArgs,
    #[command(flatten)]
    pub notify: NotifyArgs,
}

/// Chat notifications on a change of verdict, for `watch` and `check`.
#[derive(Debug, Clone, Default, Args)]
pub struct NotifyArgs {
    /// Post to a webhook when the verdict changes (the URL: MYTRIAGE_NOTIFY_URL, notify-url in
    /// the [mytriage] group of an option file, or --notify-url).
    #[arg(long, help_heading = "Notifications")]
    pub notify: bool,
    /// The webhook URL; a secret, so prefer MYTRIAGE_NOTIFY_URL.
    #[arg(
        long,
        value_name = "URL",
        requires = "notify",
        help_heading = "Notifications"
    )]
    pub notify_url: Option<String>,
    /// The payload: Slack's incoming-webhook JSON, or plain JSON for any webhook.
    #[arg(
        long,
        value_enum,
        default_value = "slack",
        requires = "notify",
        help_heading = "Notifications"
    )]
    pub notify_format: crate::notify::Style,
}

/// Options for `console`.
#[derive(Debug, Clone, Args)]
pub struct ConsoleArgs {
    /// Time between samples.
    #[arg(long, value_parser = parse_timeout, default_value = "2s")]
    pub interval: Duration,
    /// How far back the load pane looks.
    #[arg(long, value_parser = parse_timeout, default_value = "5m")]
    pub window: Duration,
    /// Recorded in the evidence log with each kill made from the console.
    #[arg(long, default_value = "chosen in mytriage console")]
    pub reason: String,
    /// The evidence log kills and notes go to (default: $XDG_STATE_HOME/mytriage/evidence.jsonl).
    #[arg(long, value_name = "PATH")]
    pub evidence: Option<std::path::PathBuf>,
    #[command(flatten)]
    pub thresholds: ThresholdArgs,
}

/// Options for `deadlocks`.
#[derive(Debug, Clone, Default, Args)]
pub struct DeadlocksArgs {
    /// Keep polling and append each new deadlock, once, to the evidence log.
    #[arg(long, conflicts_with = "history")]
    pub watch: bool,
    /// With --watch: time between polls.
    #[arg(long, value_parser = parse_timeout, default_value = "1s")]
    pub interval: Duration,
    /// With --watch: stop after this long (default: until Ctrl-C).
    #[arg(long, value_parser = parse_timeout)]
    pub duration: Option<Duration>,
    /// List the deadlocks recorded in the evidence log instead of asking the server.
    #[arg(long)]
    pub history: bool,
    /// The evidence log (default: $XDG_STATE_HOME/mytriage/evidence.jsonl).
    #[arg(long, value_name = "PATH")]
    pub evidence: Option<std::path::PathBuf>,
}

/// Options for `incident`.
#[derive(Debug, Clone, Args)]
pub struct IncidentArgs {
    #[command(subcommand)]
    pub action: IncidentAction,
    /// The evidence log (default: $XDG_STATE_HOME/mytriage/evidence.jsonl).
    #[arg(long, value_name = "PATH", global = true)]
    pub evidence: Option<std::path::PathBuf>,
}

/// What to record about the incident.
#[derive(Debug, Clone, Subcommand)]
pub enum IncidentAction {
    /// Open an incident.
    #[command(disable_help_flag = true)]
    Start {
        /// A short title, e.g. "checkout API slow".
        #[arg(long)]
        title: Option<String>,
    },
    /// Add a timestamped note to the open incident.
    #[command(disable_help_flag = true)]
    Note {
        /// The note.
        text: String,
    },
    /// Close the open incident.
    #[command(disable_help_flag = true)]
    End,
    /// Post the current status as the first "we know, we're on it" message to a chat webhook
    /// (MYTRIAGE_NOTIFY_URL, notify-url in the [mytriage] group of an option file, or --notify-url).
    #[command(disable_help_flag = true)]
    Notice {
        /// Language: ko or en (default: ko when LANG says Korean, else en).
        #[arg(long, value_enum)]
        lang: Option<Lang>,
        /// The webhook URL; a secret, so prefer MYTRIAGE_NOTIFY_URL.
        #[arg(long, value_name = "URL")]
        notify_url: Option<String>,
        /// The payload: Slack's incoming-webhook JSON, or plain JSON for any webhook.
        #[arg(long, value_enum, default_value = "slack")]
        notify_format: crate::notify::Style,
    },
}

/// Options for `report`.
#[derive(Debug, Clone, Args)]
pub struct ReportArgs {
    /// The evidence log (default: $XDG_STATE_HOME/mytriage/evidence.jsonl).
    #[arg(long, value_name = "PATH")]
    pub evidence: Option<std::path::PathBuf>,
    /// The incident to report (its id); default: the latest one.
    #[arg(long)]
    pub incident: Option<String>,
    /// Report this time range instead (RFC 3339, or an age such as 2h).
    #[arg(long, conflicts_with = "incident")]
    pub since: Option<String>,
    /// End of the time range.
    #[arg(long, conflicts_with = "incident")]
    pub until: Option<String>,
    /// Language: ko or en (default: ko when LANG says Korean, else en).
    #[arg(long, value_enum)]
    pub lang: Option<Lang>,
    /// Keep the statements' literals (the internal version). By default they are masked
    /// (`WHERE email = ?`) so the report can be shared; credentials are masked always.
    #[arg(long)]
    pub no_redact: bool,
    /// Write the report as one self-contained HTML file with pictures (a timeline of the
    /// incident, the blocker graph of each kill) instead of Markdown on stdout.
    #[arg(long, value_name = "FILE")]
    pub html: Option<std::path::PathBuf>,
    /// With --html: a `top --record` recording of the incident; the timeline then shows the
    /// database load (average active sessions by wait class) under the events.
    #[arg(long, value_name = "FILE")]
    pub recording: Option<std::path::PathBuf>,
}

/// Thresholds shared by `status` and `check`. Flags override `--config`, which overrides the
/// defaults (README: "Thresholds").
#[derive(Debug, Clone, Default, Args)]
pub struct ThresholdArgs {
    /// A file with a `[check]` group of `name = value` lines (the flag names without `--`).
    #[arg(long, value_name = "FILE")]
    pub config: Option<std::path::PathBuf>,
    /// Longest row/metadata lock wait before WARN.
    #[arg(long, value_parser = parse_duration)]
    pub lock_wait_warn: Option<Duration>,
    /// Longest lock wait before CRIT.
    #[arg(long, value_parser = parse_duration)]
    pub lock_wait_crit: Option<Duration>,
    /// Blocked sessions before WARN.
    #[arg(long)]
    pub blocked_warn: Option<u64>,
    /// Blocked sessions before CRIT.
    #[arg(long)]
    pub blocked_crit: Option<u64>,
    /// Oldest transaction age before WARN.
    #[arg(long, value_parser = parse_duration)]
    pub trx_age_warn: Option<Duration>,
    /// Oldest transaction age before CRIT.
    #[arg(long, value_parser = parse_duration)]
    pub trx_age_crit: Option<Duration>,
    /// Oldest idle-in-transaction age before WARN.
    #[arg(long, value_parser = parse_duration)]
    pub idle_trx_warn: Option<Duration>,
    /// Oldest idle-in-transaction age before CRIT.
    #[arg(long, value_parser = parse_duration)]
    pub idle_trx_crit: Option<Duration>,
    /// History list length before WARN.
    #[arg(long)]
    pub hll_warn: Option<u64>,
    /// History list length before CRIT.
    #[arg(long)]
    pub hll_crit: Option<u64>,
    /// Connections used, percent of max_connections, before WARN.
    #[arg(long)]
    pub conn_pct_warn: Option<f64>,
    /// Connections used, percent, before CRIT.
    #[arg(long)]
    pub conn_pct_crit: Option<f64>,
    /// A deadlock younger than this is a WARN in `status`.
    #[arg(long, value_parser = parse_duration)]
    pub deadlock_window: Option<Duration>,
    /// Replication lag (the worst of the three measures) before WARN.
    #[arg(long, value_parser = parse_duration)]
    pub repl_lag_warn: Option<Duration>,
    /// Replication lag before CRIT.
    #[arg(long, value_parser = parse_duration)]
    pub repl_lag_crit: Option<Duration>,
}

/// Options for `check`.
#[derive(Debug, Clone, Default, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub thresholds: ThresholdArgs,
    /// Remember the last deadlock seen here, so each run reports deadlocks since the last one
    /// (and, with --notify, the last verdict posted).
    #[arg(long, value_name = "FILE")]
    pub state: Option<std::path::PathBuf>,
    #[command(flatten)]
    pub notify: NotifyArgs,
}

/// Options for `kill`. Either one pid, or a batch selection (dry run unless `--execute`).
#[derive(Debug, Clone, Args)]
pub struct KillArgs {
    /// The session (processlist id) to kill.
    #[arg(value_name = "PID")]
    pub pid: Option<String>,
    /// Kill only the running statement (KILL QUERY), keep the connection.
    #[arg(long)]
    pub query: bool,
    /// Why: recorded in the evidence log (asked for on a terminal when missing).
    #[arg(long)]
    pub reason: Option<String>,
    /// Do not ask for confirmation.
    #[arg(long)]
    pub yes: bool,
    /// Do everything (snapshot, evidence, re-verify) except the kill.
    #[arg(long)]
    pub dry_run: bool,
    /// After the kill, follow the rollback until the session is gone.
    #[arg(long)]
    pub wait: bool,
    /// The evidence log (default: $XDG_STATE_HOME/mytriage/evidence.jsonl).
    #[arg(long, value_name = "PATH")]
    pub evidence: Option<std::path::PathBuf>,
    /// Batch: the root blockers of the lock tree (only those the server names exactly).
    #[arg(long, conflicts_with = "pid")]
    pub blockers: bool,
    /// With --blockers: also roots known only by inference (thread states and times).
    #[arg(long, requires = "blockers")]
    pub include_inferred: bool,
    /// Batch: sessions idle inside a transaction at least this old (e.g. 5m).
    #[arg(long, value_parser = parse_duration, value_name = "AGE", conflicts_with = "pid")]
    pub idle_in_trx_older_than: Option<Duration>,
    /// Batch filters, as in `processlist`; all given filters must match (AND).
    #[command(flatten)]
    pub filter: KillFilter,
    /// Batch: act. Without it a batch kill is a dry run.
    #[arg(long)]
    pub execute: bool,
    /// Batch: kill at most this many sessions.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub max: u32,
}

/// The `processlist` filters a batch kill accepts.
#[derive(Debug, Clone, Default, Args)]
pub struct KillFilter {
    /// Only sessions of this user.
    #[arg(long, value_name = "USER", conflicts_with = "pid")]
    pub match_user: Option<String>,
    /// Only sessions from this client host.
    #[arg(long, value_name = "HOST", conflicts_with = "pid")]
    pub match_host: Option<String>,
    /// Only sessions using this database.
    #[arg(long, value_name = "DB", conflicts_with = "pid")]
    pub match_db: Option<String>,
    /// Only sessions in this command (Query, Sleep, ...).
    #[arg(long, value_name = "COMMAND", conflicts_with = "pid")]
    pub match_command: Option<String>,
    /// Only sessions whose statement matches this regular expression.
    #[arg(long = "match", value_name = "REGEX", conflicts_with = "pid")]
    pub pattern: Option<String>,
    /// Only sessions whose TIME (or transaction age) is at least this long.
    #[arg(long, value_parser = parse_duration, conflicts_with = "pid")]
    pub min_time: Option<Duration>,
}

/// Options for `evidence`.
#[derive(Debug, Clone, Args)]
pub struct EvidenceArgs {
    /// The evidence log (default: $XDG_STATE_HOME/mytriage/evidence.jsonl).
    #[arg(long, value_name = "PATH")]
    pub evidence: Option<std::path::PathBuf>,
    /// Only records at or after this time (RFC 3339, or an age such as 2h).
    #[arg(long)]
    pub since: Option<String>,
    /// Only records before this time (RFC 3339, or an age such as 30m).
    #[arg(long)]
    pub until: Option<String>,
    /// Only records about this session.
    #[arg(long)]
    pub pid: Option<u64>,
}

/// Options for `history`. Exit code 1 when the length reaches `--warn`.
#[derive(Debug, Clone, Args)]
pub struct HistoryArgs {
    /// Take this many samples, to measure the growth rate.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=3600))]
    pub sample: u32,
    /// Time between samples.
    #[arg(long, value_parser = parse_timeout, default_value = "1s")]
    pub interval: Duration,
    /// Warning threshold.
    #[arg(long, default_value_t = 100_000)]
    pub warn: u64,
    /// Critical threshold.
    #[arg(long, default_value_t = 1_000_000)]
    pub crit: u64,
}

/// Filters and sorting for `processlist`. The filters are named as pt-kill's (`--match-user`, ...)
/// because `--user` and `--host` already say where to connect.
#[derive(Debug, Clone, Default, Args)]
pub struct ProcesslistArgs {
    /// Only threads of this user.
    #[arg(long, value_name = "USER")]
    pub match_user: Option<String>,
    /// Only threads from this client host (without the port).
    #[arg(long, value_name = "HOST")]
    pub match_host: Option<String>,
    /// Only threads using this database.
    #[arg(long, value_name = "DB")]
    pub match_db: Option<String>,
    /// Only threads in this command (Query, Sleep, ...), case-insensitive.
    #[arg(long, value_name = "COMMAND")]
    pub match_command: Option<String>,
    /// Only threads whose processlist TIME (or transaction age) is at least this long (e.g. 5s).
    #[arg(long, value_parser = parse_duration)]
    pub min_time: Option<Duration>,
    /// Only threads whose statement matches this regular expression.
    #[arg(long = "match", value_name = "REGEX")]
    pub pattern: Option<String>,
    /// Hide sleeping threads that have no open transaction.
    #[arg(long)]
    pub active: bool,
    /// Sort order.
    #[arg(long, value_enum, default_value_t = SortBy::TrxAge)]
    pub sort: SortBy,
    /// Show statements whole in the table (JSON always has them whole).
    #[arg(long)]
    pub full: bool,
}

/// Options for `locks`.
#[derive(Debug, Clone, Default, Args)]
pub struct LocksArgs {
    /// Show statements whole in the table (JSON always has them whole).
    #[arg(long)]
    pub full: bool,
}

/// Options for `trx`.
#[derive(Debug, Clone, Args)]
pub struct TrxArgs {
    /// Only transactions at least this old.
    #[arg(long, value_parser = parse_duration, default_value = "10s")]
    pub min_age: Duration,
    /// Show statements whole in the table (JSON always has them whole).
    #[arg(long)]
    pub full: bool,
}
