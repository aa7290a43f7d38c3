//! `mytriage top`: database load over a rolling window, the Performance Insights view rebuilt from
//! SQL. Every `--interval` one cheap sample lists the active sessions with a wait class, a
//! statement digest and an account; the load (average active sessions, AAS) is the number of
//! active sessions per sample, averaged over the window, and broken down by those keys.

pub(crate) mod normalize;
mod view;

use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::Path;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::connect::Session;
use crate::connect::row::Columns;
use crate::queries;
use crate::render::strip_port;

/// One active session in one sample.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(crate) struct Active {
    pub pid: u64,
    pub account: String,
    pub db: Option<String>,
    pub wait_class: String,
    /// The wait event (performance_schema) or thread state it was classified from.
    pub wait: Option<String>,
    /// The digest text (performance_schema) or the client-side normalised statement.
    pub digest: String,
}

/// One sample: what was active at one moment.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(crate) struct Sample {
    pub at: String,
    pub active: Vec<Active>,
    /// Statement counters per digest, in every [`COUNTERS_EVERY`]th sample and the last one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digests: Option<Vec<DigestCounters>>,
}

/// Take digest counters every this many samples (and in the last): enough for deltas over the
/// window without reading the summary table every second.
const COUNTERS_EVERY: u64 = 10;

/// One digest's cumulative counters.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(crate) struct DigestCounters {
    pub digest: String,
    pub text: String,
    pub calls: u64,
    pub timer_ps: u64,
    pub rows_examined: u64,
}

/// A statement's work over the window, from counter deltas (not totals since start-up).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub(crate) struct StatementStats {
    pub digest_text: String,
    pub calls: u64,
    pub calls_per_s: f64,
    pub avg_latency_ms: f64,
    pub rows_examined_per_call: f64,
}

/// A load breakdown line: average active sessions for one key.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub(crate) struct Load {
    pub key: String,
    pub aas: f64,
}

/// What `top` reports over a window.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub(crate) struct TopReport {
    pub samples: usize,
    pub from: Option<String>,
    pub to: Option<String>,
    /// Average active sessions over the window.
    pub aas: f64,
    /// AAS of each sample, oldest first (the sparkline).
    pub series: Vec<usize>,
    pub by_wait: Vec<Load>,
    pub by_sql: Vec<Load>,
    pub by_account: Vec<Load>,
    pub by_db: Vec<Load>,
    /// Reference lines, where known: the CPU count (`--cpus`) and max_connections.
    pub cpus: Option<u32>,
    pub max_connections: Option<u64>,
    /// Where digests and waits come from.
    pub source: TopSource,
    /// Statements by total latency over the window (performance_schema only; empty otherwise).
    pub statements: Vec<StatementStats>,
}

/// What the first sample reads, in one batch: the sample and the digest counters, or (without
/// performance_schema's statements) the threads.
pub(crate) fn first_sample(server: &crate::server::ServerInfo) -> Vec<&'static str> {
    if server.capabilities.statement_history {
        vec![queries::TOP_SAMPLE_P_S, queries::DIGEST_COUNTERS]
    } else {
        crate::probe::processlist::snapshot(server)
    }
}

/// One sample beside a snapshot that already read `threads`: performance_schema's wait events
/// where it has them (its statement rides in the snapshot's batch: [`first_sample`]), else the
/// threads themselves, with no statement of its own.
pub(crate) async fn sample_with(
    session: &mut Session,
    threads: &[crate::probe::processlist::Thread],
) -> Result<Sample> {
    let active = if session.server.capabilities.statement_history {
        sample_performance_schema(session).await?
    } else {
        active_threads(threads)
    };
    Ok(Sample {
        at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        active,
        digests: None,
    })
}

/// The statement [`sample_with`] reads, to ride in a snapshot's batch (none without
/// performance_schema's statements).
pub(crate) fn sample_statement(server: &crate::server::ServerInfo) -> Option<&'static str> {
    server
        .capabilities
        .statement_history
        .then_some(queries::TOP_SAMPLE_P_S)
}

/// Takes one sample.
pub(crate) async fn sample(session: &mut Session) -> Result<Sample> {
    let active = if session.server.capabilities.statement_history {
        sample_performance_schema(session).await?
    } else {
        sample_threads(session).await?
    };
    Ok(Sample {
        at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        active,
        digests: None,
    })
}

/// Commands that are not load: idle sessions, server daemons, replication senders.
const NOT_ACTIVE: &[&str] = &["Sleep", "Daemon", "Binlog Dump", "Binlog Dump GTID"];

/// Without performance_schema: the processlist probe's threads (with its fallbacks), classified
/// by thread state and InnoDB state, statements normalised in the client.
async fn sample_threads(session: &mut Session) -> Result<Vec<Active>> {
    let threads = crate::probe::processlist::threads(session).await?;
    Ok(active_threads(&threads))
}

/// The active sessions among `threads`, classified by thread state and InnoDB state: a sample
/// from a processlist already read (the console's snapshot).
pub(crate) fn active_threads(threads: &[crate::probe::processlist::Thread]) -> Vec<Active> {
    threads
        .iter()
        .filter(|t| {
            t.command
                .as_deref()
                .is_none_or(|c| !NOT_ACTIVE.contains(&c))
        })
        .map(|t| {
            let trx_state = t.trx.as_ref().map(|x| x.state.as_str());
            let (wait_class, wait) = classify(None, trx_state, t.state.as_deref());
            Active {
                account: format!(
                    "{}@{}",
                    t.user.as_deref().unwrap_or(""),
                    t.host_name().unwrap_or("")
                ),
                db: t.db.clone(),
                wait_class: wait_class.to_owned(),
                wait,
                digest: t
                    .statement
                    .as_deref()
                    .map(normalize::normalize)
                    .unwrap_or_else(|| format!("({})", t.command.as_deref().unwrap_or_default())),
                pid: t.pid,
            }
        })
        .collect()
}

/// With performance_schema: wait events and digests from its tables.
async fn sample_performance_schema(session: &mut Session) -> Result<Vec<Active>> {
    let rows: Vec<mysql_async::Row> = session
        .db
        .query("sampling active sessions", queries::TOP_SAMPLE_P_S)
        .await?;
    let own = session.server.connection_id;
    let active: Vec<Active> = rows
        .iter()
        .filter_map(|row| {
            let col = Columns(row);
            let pid = col.u64("pid")?;
            let state = col.text("state");
            let wait_event = col.text("wait_event");
            let (wait_class, wait) = classify(
                wait_event.as_deref(),
                col.text("trx_state").as_deref(),
                state.as_deref(),
            );
            let digest = col
                .text("digest_text")
                .or_else(|| col.text("info").map(|info| normalize::normalize(&info)))
                .unwrap_or_else(|| format!("({})", col.text("command").unwrap_or_default()));
            Some(Active {
                pid,
                account: format!(
                    "{}@{}",
                    col.text("user").unwrap_or_default(),
                    col.text("host").as_deref().map(strip_port).unwrap_or("")
                ),
                db: col.text("db"),
                wait_class: wait_class.to_owned(),
                wait,
                digest,
            })
        })
        .filter(|a| a.pid != own)
        .collect();
    Ok(active)
}

/// Reads the digest counters, where performance_schema keeps them.
async fn digest_counters(session: &mut Session) -> Result<Option<Vec<DigestCounters>>> {
    if !session.server.capabilities.statement_history {
        return Ok(None);
    }
    let rows = session
        .db
        .query_if_permitted::<mysql_async::Row>("reading digest counters", queries::DIGEST_COUNTERS)
        .await?;
    Ok(rows.map(|rows| {
        rows.iter()
            .filter_map(|row| {
                let col = Columns(row);
                Some(DigestCounters {
                    digest: col.text("digest")?,
                    text: col.text("digest_text").unwrap_or_default(),
                    calls: col.u64("calls").unwrap_or(0),
                    timer_ps: col.u64("timer_ps").unwrap_or(0),
                    rows_examined: col.u64("rows_examined").unwrap_or(0),
                })
            })
            .collect()
    }))
}

/// Deltas between the first and the last counter snapshots in the window, heaviest first.
fn statement_stats(samples: &[Sample]) -> Vec<StatementStats> {
    let mut with = samples
        .iter()
        .filter_map(|s| Some((s.at.as_str(), s.digests.as_ref()?)));
    let (Some((first_at, first)), Some((last_at, last))) = (with.next(), with.next_back()) else {
        return Vec::new();
    };
    let seconds = match (
        chrono::DateTime::parse_from_rfc3339(first_at),
        chrono::DateTime::parse_from_rfc3339(last_at),
    ) {
        (Ok(a), Ok(b)) => (b - a).num_milliseconds() as f64 / 1000.0,
        _ => 0.0,
    };
    let before: BTreeMap<&str, &DigestCounters> =
        first.iter().map(|d| (d.digest.as_str(), d)).collect();
    let mut stats: Vec<(u64, StatementStats)> = last
        .iter()
        .filter_map(|now| {
            let (calls0, timer0, rows0) = before
                .get(now.digest.as_str())
                .map_or((0, 0, 0), |b| (b.calls, b.timer_ps, b.rows_examined));
            let calls = now.calls.checked_sub(calls0).filter(|c| *c > 0)?;
            let timer = now.timer_ps.saturating_sub(timer0);
            Some((
                timer,
                StatementStats {
                    digest_text: now.text.clone(),
                    calls,
                    calls_per_s: if seconds > 0.0 {
                        round2(calls as f64 / seconds)
                    } else {
                        0.0
                    },
                    avg_latency_ms: round2(timer as f64 / calls as f64 / 1e9),
                    rows_examined_per_call: round2(
                        now.rows_examined.saturating_sub(rows0) as f64 / calls as f64,
                    ),
                },
            ))
        })
        .collect();
    stats.sort_by_key(|(timer, _)| std::cmp::Reverse(*timer));
    stats.into_iter().take(10).map(|(_, s)| s).collect()
}

/// Every class [`classify`] returns, so a series per class can be reported even at zero.
pub(crate) const WAIT_CLASSES: [&str; 7] = [
    "cpu",
    "row lock",
    "metadata lock",
    "io",
    "commit",
    "network",
    "other",
];

/// The wait class of an active session: a row-lock wait first (InnoDB says so), then the
/// performance_schema wait event, then the thread state. Returns the class and what it came from.
pub(crate) fn classify(
    wait_event: Option<&str>,
    trx_state: Option<&str>,
    state: Option<&str>,
) -> (&'static str, Option<String>) {
    if trx_state == Some("LOCK WAIT") {
        return ("row lock", Some("LOCK WAIT".to_owned()));
    }
    if let Some(event) = wait_event {
        let class = match event {
            e if e.starts_with("wait/lock/metadata") || e.starts_with("wait/lock/table") => {
                "metadata lock"
            }
            e if e.starts_with("wait/io/socket") => "network",
            e if e.contains("log") || e.contains("commit") => "commit",
            e if e.starts_with("wait/io") => "io",
            e if e.starts_with("idle") => "network",
            _ => "other",
        };
        return (class, Some(event.to_owned()));
    }
    let Some(state) = state.filter(|s| !s.is_empty()) else {
        return ("cpu", None);
    };
    let lower = state.to_ascii_lowercase();
    let class = if lower.contains("metadata lock")
        || lower.contains("table lock")
        || lower.contains("global read lock")
    {
        "metadata lock"
    } else if lower.contains("commit") || lower.contains("binlog") || lower.contains("flush") {
        "commit"
    } else if lower.contains("reading from net")
        || lower.contains("writing to net")
        || lower.contains("sending to client")
    {
        "network"
    } else if lower.contains("sleep") || lower.contains("waiting") {
        "other"
    } else if lower.contains("opening")
        || lower.contains("tmp")
        || lower.contains("read") && lower.contains("disk")
    {
        "io"
    } else {
        // executing, Sending data, Sorting result, updating, statistics...: on CPU or ready for it.
        "cpu"
    };
    (class, Some(state.to_owned()))
}

/// Aggregates samples into the load view. Pure: a replay of recorded samples gives the same
/// numbers as the live run that recorded them.
pub(crate) fn aggregate(
    samples: &[Sample],
    cpus: Option<u32>,
    max_connections: Option<u64>,
    source: TopSource,
) -> TopReport {
    let count = samples.len().max(1) as f64;
    let breakdown = |key: &dyn Fn(&Active) -> String| -> Vec<Load> {
        let mut totals: BTreeMap<String, usize> = BTreeMap::new();
        for active in samples.iter().flat_map(|s| &s.active) {
            *totals.entry(key(active)).or_default() += 1;
        }
        let mut loads: Vec<Load> = totals
            .into_iter()
            .map(|(key, n)| Load {
                key,
                aas: round2(n as f64 / count),
            })
            .collect();
        loads.sort_by(|a, b| b.aas.total_cmp(&a.aas).then_with(|| a.key.cmp(&b.key)));
        loads
    };
    let series: Vec<usize> = samples.iter().map(|s| s.active.len()).collect();
    TopReport {
        samples: samples.len(),
        from: samples.first().map(|s| s.at.clone()),
        to: samples.last().map(|s| s.at.clone()),
        aas: round2(series.iter().sum::<usize>() as f64 / count),
        by_wait: breakdown(&|a| a.wait_class.clone()),
        by_sql: breakdown(&|a| a.digest.clone()),
        by_account: breakdown(&|a| a.account.clone()),
        by_db: breakdown(&|a| a.db.clone().unwrap_or_else(|| "(none)".to_owned())),
        statements: statement_stats(samples),
        series,
        cpus,
        max_connections,
        source,
    }
}

fn round2(value: f64) -> f64 {
    (value * 100.0).round() / 100.0
}

/// `▁▂▃▄▅▆▇█` scaled to the largest of the series and the reference lines.
pub(crate) fn sparkline(series: &[usize], reference: Option<f64>) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let top = series.iter().copied().max().unwrap_or(0) as f64;
    let scale = top.max(reference.unwrap_or(0.0)).max(1.0);
    series
        .iter()
        .map(|&n| BARS[((n as f64 / scale) * 7.0).round().clamp(0.0, 7.0) as usize])
        .collect()
}

/// Takes one sample in one round trip, with the digest counters when `counters` (every
/// [`COUNTERS_EVERY`]th sample and the last one).
pub(crate) async fn take(session: &mut Session, index: u64, last: bool) -> Result<Sample> {
    let counters = index % COUNTERS_EVERY == 0 || last;
    if counters && session.server.capabilities.statement_history {
        // A sample is one round trip, with the digest counters or without.
        let ahead = first_sample(&session.server);
        session.db.prefetch("sampling", &ahead).await?;
    }
    let mut taken = sample(session).await?;
    if counters {
        taken.digests = digest_counters(session).await?;
    }
    Ok(taken)
}

/// Where a load's samples came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TopSource {
    /// Statement digests and wait events.
    PerformanceSchema,
    /// Thread states, and statements normalised on the client.
    Processlist,
    /// A `top --record` file, replayed.
    Recording(std::path::PathBuf),
}

impl TopSource {
    /// Where the samples on this server come from.
    pub(crate) fn of(server: &crate::server::ServerInfo) -> TopSource {
        match server.capabilities.statement_history {
            true => TopSource::PerformanceSchema,
            false => TopSource::Processlist,
        }
    }
}

impl std::fmt::Display for TopSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TopSource::PerformanceSchema => {
                f.write_str("performance_schema (digests, wait events)")
            }
            TopSource::Processlist => f.write_str(
                "information_schema.PROCESSLIST (thread states, client-side normalisation)",
            ),
            TopSource::Recording(path) => write!(f, "recording {}", path.display()),
        }
    }
}

/// As the table shows it: one string.
impl Serialize for TopSource {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// The samples of a `top --record` file, for `top --replay`.
pub(crate) fn read_recording(path: &Path) -> Result<Vec<Sample>> {
    let file = std::fs::File::open(path)
        .with_context(|| format!("cannot read the recording {}", path.display()))?;
    let mut samples = Vec::new();
    for (number, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        samples.push(
            serde_json::from_str::<Sample>(&line)
                .with_context(|| format!("{}:{}: not a top sample", path.display(), number + 1))?,
        );
    }
    Ok(samples)
}

#[cfg(test)]
mod tests;
