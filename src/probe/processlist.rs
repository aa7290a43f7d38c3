//! `mytriage processlist`: every client thread with its InnoDB transaction, flagging sessions that
//! sit idle inside an open transaction. Also the thread snapshot other probes build on.

use std::collections::HashMap;
use std::time::Duration;

use anyhow::{Context, Result};
use regex::Regex;
use serde::Serialize;

use crate::connect::Session;
use crate::connect::row::Columns;
use crate::queries;
use crate::render::{Block, Report, View, ViewOptions, clip};
use crate::server::{ProcesslistSource, ServerInfo};

/// One client thread and its transaction.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Thread {
    pub pid: u64,
    pub user: Option<String>,
    pub host: Option<String>,
    pub db: Option<String>,
    pub command: Option<String>,
    pub time_s: Option<u64>,
    pub state: Option<String>,
    /// The statement running now, whole.
    pub statement: Option<String>,
    /// Command Sleep with an open transaction: holding locks and a read view while doing nothing.
    pub idle_in_trx: bool,
    pub trx: Option<Trx>,
}

/// The InnoDB transaction of a thread.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Trx {
    pub id: String,
    /// RUNNING, LOCK WAIT, ROLLING BACK or COMMITTING.
    pub state: String,
    pub age_s: u64,
    pub rows_locked: u64,
    pub rows_modified: u64,
    pub isolation: Option<String>,
    /// Seconds waiting for a row lock, when in LOCK WAIT.
    pub lock_wait_s: Option<u64>,
    /// When it began, in picoseconds since the server started
    /// (`events_transactions_current.TIMER_START`): orders transactions within one second.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timer_start: Option<u64>,
}

impl Thread {
    fn from_row(row: &mysql_async::Row) -> Option<Thread> {
        let col = Columns(row);
        let names = [
            "id", "user", "host", "db", "command", "time_s", "state", "info",
        ];
        Thread::from_columns(&col, names, Trx::from_columns(&col))
    }

    /// A row of `SHOW FULL PROCESSLIST`, whose column names differ; its transaction comes later.
    fn from_show_row(row: &mysql_async::Row) -> Option<Thread> {
        let names = [
            "Id", "User", "Host", "db", "Command", "Time", "State", "Info",
        ];
        Thread::from_columns(&Columns(row), names, None)
    }

    fn from_columns(col: &Columns<'_>, names: [&str; 8], trx: Option<Trx>) -> Option<Thread> {
        let [id, user, host, db, command, time, state, info] = names;
        let command = col.text(command);
        Some(Thread {
            pid: col.u64(id)?,
            user: col.text(user),
            host: col.text(host),
            db: col.text(db),
            idle_in_trx: Thread::idle_in(command.as_deref(), trx.as_ref()),
            command,
            time_s: col.u64(time),
            state: col.text(state).filter(|s| !s.is_empty()),
            statement: crate::redact::credentials_in(col.text(info)),
            trx,
        })
    }

    /// Sleeping with an open transaction. A transaction ROLLING BACK is not idle: InnoDB is
    /// undoing it, and killing the session again would change nothing.
    fn idle_in(command: Option<&str>, trx: Option<&Trx>) -> bool {
        command == Some("Sleep") && trx.is_some_and(|t| t.state != "ROLLING BACK")
    }

    /// The transaction is being rolled back.
    pub(crate) fn rolling_back(&self) -> bool {
        self.trx.as_ref().is_some_and(|t| t.state == "ROLLING BACK")
    }

    /// The client host without its port (`10.0.0.5:51234` → `10.0.0.5`).
    pub(crate) fn host_name(&self) -> Option<&str> {
        self.host.as_deref().map(crate::render::strip_port)
    }

    /// Transaction age, or 0 without a transaction.
    pub(crate) fn trx_age(&self) -> u64 {
        self.trx.as_ref().map_or(0, |t| t.age_s)
    }
}

#[cfg(test)]
impl Thread {
    /// A thread for unit tests: from 10.0.0.5, database shop, idle-in-trx derived as the server does.
    pub(crate) fn sample(pid: u64, user: &str, command: &str, trx: Option<Trx>) -> Thread {
        Thread {
            pid,
            user: Some(user.into()),
            host: Some("10.0.0.5:51234".into()),
            db: Some("shop".into()),
            command: Some(command.into()),
            time_s: Some(1),
            state: None,
            statement: None,
            idle_in_trx: command == "Sleep" && trx.is_some(),
            trx,
        }
    }
}

#[cfg(test)]
impl Trx {
    /// A running transaction for unit tests.
    pub(crate) fn sample(id: &str, age_s: u64) -> Trx {
        Trx {
            id: id.into(),
            state: "RUNNING".into(),
            age_s,
            rows_locked: 1,
            rows_modified: 1,
            isolation: None,
            lock_wait_s: None,
            timer_start: None,
        }
    }
}

/// All client threads but our own, each with its transaction, from the flavor's cheapest source.
pub(crate) async fn threads(session: &mut Session) -> Result<Vec<Thread>> {
    session.require_process("listing sessions")?;
    let sql = session.server.sources.processlist.threads();
    let own = session.server.connection_id;
    let threads = match session
        .db
        .query::<mysql_async::Row>("reading the processlist", sql)
        .await
    {
        Ok(rows) => rows.iter().filter_map(Thread::from_row).collect(),
        Err(error) if is_cannot_convert(&error) => threads_from_show(session).await?,
        Err(error) => return Err(error),
    };
    let mut threads: Vec<Thread> = threads
        .into_iter()
        .filter(|t: &Thread| t.pid != own)
        .collect();
    order_ties(session, &mut threads).await?;
    Ok(threads)
}

/// The one order of transactions every command uses, oldest first: by age in seconds, then by
/// when performance_schema saw it begin (sub-second, where recorded), then by transaction id
/// (read-write transactions' ids grow with their start; read-only ones' large ids sort last),
/// then by pid. Threads without a transaction sort last.
pub(crate) fn oldest_first(a: &Thread, b: &Thread) -> std::cmp::Ordering {
    fn key(t: &Thread) -> (bool, std::cmp::Reverse<u64>, u64, u128, u64) {
        match &t.trx {
            Some(trx) => (
                false,
                std::cmp::Reverse(trx.age_s),
                trx.timer_start.unwrap_or(u64::MAX),
                trx.id.parse().unwrap_or(u128::MAX),
                t.pid,
            ),
            None => (true, std::cmp::Reverse(0), u64::MAX, u128::MAX, t.pid),
        }
    }
    key(a).cmp(&key(b))
}

/// When the oldest transactions tie at one-second resolution and the snapshot has no sub-second
/// start, reads events_transactions_current (read ahead with the snapshot, where there is one).
async fn order_ties(session: &mut Session, threads: &mut [Thread]) -> Result<()> {
    let oldest = threads
        .iter()
        .filter_map(|t| t.trx.as_ref())
        .map(|x| x.age_s)
        .max();
    let tied = threads
        .iter()
        .filter_map(|t| t.trx.as_ref())
        .filter(|x| Some(x.age_s) == oldest && x.timer_start.is_none())
        .count();
    // performance_schema.threads already carries the start (NULL where its consumer is off);
    // only performance_schema.processlist, which needs no SELECT on performance_schema, lacks it.
    if tied < 2 || session.server.sources.processlist != ProcesslistSource::PsProcesslist {
        return Ok(());
    }
    let Some(rows) = session
        .db
        .query_if_permitted::<(u64, Option<u64>)>(
            "reading when transactions began",
            queries::TRX_TIMER_START_P_S,
        )
        .await?
    else {
        return Ok(());
    };
    let started: HashMap<u64, u64> = rows
        .into_iter()
        .filter_map(|(pid, timer)| Some((pid, timer?)))
        .collect();
    for thread in threads.iter_mut() {
        if let Some(trx) = thread.trx.as_mut() {
            trx.timer_start = trx.timer_start.or(started.get(&thread.pid).copied());
        }
    }
    Ok(())
}

/// What [`threads`] and [`last_statements`] run, for a snapshot to read ahead.
pub(crate) fn statements(server: &ServerInfo) -> Vec<&'static str> {
    let mut statements = vec![server.sources.processlist.threads()];
    if server.capabilities.statement_history {
        statements.push(queries::LAST_STATEMENTS_P_S);
    }
    // Read ahead whether or not the oldest transactions tie: in the batch it costs no round
    // trip, asked for afterwards it would cost one.
    if server.sources.processlist == ProcesslistSource::PsProcesslist {
        statements.push(queries::TRX_TIMER_START_P_S);
    }
    statements
}

/// MySQL 8+ error 3854: information_schema.PROCESSLIST cannot hold a 4-byte character.
fn is_cannot_convert(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        matches!(cause.downcast_ref::<mysql_async::Error>(), Some(mysql_async::Error::Server(s)) if s.code == 3854)
    })
}

/// The fallback: SHOW FULL PROCESSLIST, with INNODB_TRX joined in the client.
async fn threads_from_show(session: &mut Session) -> Result<Vec<Thread>> {
    let rows: Vec<mysql_async::Row> = session
        .db
        .query(
            "reading SHOW FULL PROCESSLIST",
            queries::SHOW_FULL_PROCESSLIST,
        )
        .await?;
    let trx_rows: Vec<mysql_async::Row> = session
        .db
        .query("reading InnoDB transactions", queries::INNODB_TRX)
        .await?;
    let mut trx: HashMap<u64, Trx> = trx_rows
        .iter()
        .filter_map(|row| {
            let col = Columns(row);
            Some((col.u64("id")?, Trx::from_columns(&col)?))
        })
        .collect();
    Ok(rows
        .iter()
        .filter_map(Thread::from_show_row)
        .map(|mut thread| {
            thread.trx = trx.remove(&thread.pid);
            thread.idle_in_trx = Thread::idle_in(thread.command.as_deref(), thread.trx.as_ref());
            thread
        })
        .collect())
}

impl Trx {
    /// The `trx_*` columns of a row, when it has a transaction.
    fn from_columns(col: &Columns<'_>) -> Option<Trx> {
        Some(Trx {
            id: col.text("trx_id")?,
            state: col.text("trx_state").unwrap_or_default(),
            age_s: col.u64("trx_age_s").unwrap_or(0),
            rows_locked: col.u64("trx_rows_locked").unwrap_or(0),
            rows_modified: col.u64("trx_rows_modified").unwrap_or(0),
            isolation: col.text("trx_isolation_level"),
            lock_wait_s: col.u64("lock_wait_s"),
            timer_start: col.u64("trx_timer_start"),
        })
    }
}

/// pid → last statement of sessions in a transaction, where performance_schema has them.
pub(crate) async fn last_statements(session: &mut Session) -> Result<Option<HashMap<u64, String>>> {
    if !session.server.capabilities.statement_history {
        return Ok(None);
    }
    let rows = session
        .db
        .query_if_permitted::<(u64, String)>(
            "reading last statements",
            queries::LAST_STATEMENTS_P_S,
        )
        .await?;
    Ok(rows.map(|rows| {
        rows.into_iter()
            .map(|(pid, sql)| (pid, crate::redact::credentials(sql)))
            .collect()
    }))
}

/// What `processlist` reports.
#[derive(Debug, Serialize)]
pub(crate) struct ProcesslistReport {
    pub source: ProcesslistSource,
    /// Threads before filtering (our own excluded).
    pub total: usize,
    pub idle_in_trx: usize,
    pub threads: Vec<Thread>,
}

/// Sort order for thread listings.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum SortBy {
    /// Oldest transaction first, then longest TIME.
    #[default]
    TrxAge,
    /// Longest processlist TIME first.
    Time,
}

/// Which sessions a listing keeps, and in what order (`processlist`, and `kill`'s `--match-*`).
#[derive(Debug, Clone, Default)]
pub(crate) struct Criteria {
    pub user: Option<String>,
    pub host: Option<String>,
    pub db: Option<String>,
    pub command: Option<String>,
    /// At least this long in its statement or its transaction.
    pub min_time: Option<Duration>,
    /// A regular expression the statement must match (`--match`).
    pub pattern: Option<String>,
    /// Leave out sessions that sleep outside a transaction.
    pub active: bool,
    pub sort: SortBy,
}

/// The validated filters, built before any I/O so a bad regex changes nothing.
pub(crate) struct Filter {
    criteria: Criteria,
    pattern: Option<Regex>,
}

impl Filter {
    pub(crate) fn new(criteria: Criteria) -> Result<Filter> {
        let pattern = criteria
            .pattern
            .as_deref()
            .map(|p| {
                Regex::new(p)
                    .with_context(|| format!("--match '{p}' is not a valid regular expression"))
            })
            .transpose()?;
        Ok(Filter { criteria, pattern })
    }

    fn keeps(&self, thread: &Thread) -> bool {
        let wanted = &self.criteria;
        let same = |wanted: &Option<String>, actual: Option<&str>| {
            wanted
                .as_deref()
                .is_none_or(|w| actual.is_some_and(|a| a.eq_ignore_ascii_case(w)))
        };
        let long_enough = wanted
            .min_time
            .is_none_or(|min| thread.time_s.unwrap_or(0).max(thread.trx_age()) >= min.as_secs());
        let active =
            !wanted.active || thread.command.as_deref() != Some("Sleep") || thread.trx.is_some();
        let matches = self
            .pattern
            .as_ref()
            .is_none_or(|re| thread.statement.as_deref().is_some_and(|s| re.is_match(s)));
        same(&wanted.user, thread.user.as_deref())
            && same(&wanted.host, thread.host_name())
            && same(&wanted.db, thread.db.as_deref())
            && same(&wanted.command, thread.command.as_deref())
            && long_enough
            && active
            && matches
    }

    /// Filters and sorts a snapshot into the report.
    pub(crate) fn apply(&self, source: ProcesslistSource, all: Vec<Thread>) -> ProcesslistReport {
        let total = all.len();
        let mut threads: Vec<Thread> = all.into_iter().filter(|t| self.keeps(t)).collect();
        match self.criteria.sort {
            SortBy::TrxAge => {
                threads.sort_by(|a, b| oldest_first(a, b).then_with(|| b.time_s.cmp(&a.time_s)))
            }
            SortBy::Time => threads
                .sort_by_key(|t| (std::cmp::Reverse(t.time_s), std::cmp::Reverse(t.trx_age()))),
        }
        let idle_in_trx = threads.iter().filter(|t| t.idle_in_trx).count();
        ProcesslistReport {
            source,
            total,
            idle_in_trx,
            threads,
        }
    }
}

/// Reads the threads and applies the filters.
/// What `processlist` reads, in one batch.
pub(crate) fn snapshot(server: &ServerInfo) -> Vec<&'static str> {
    let mut ahead = statements(server);
    ahead.retain(|sql| *sql != queries::LAST_STATEMENTS_P_S);
    ahead
}

pub(crate) async fn collect(session: &mut Session, filter: &Filter) -> Result<ProcesslistReport> {
    let ahead = snapshot(&session.server);
    session.db.prefetch("listing sessions", &ahead).await?;
    let all = threads(session).await?;
    Ok(filter.apply(session.server.sources.processlist, all))
}

impl Report for ProcesslistReport {
    fn view(&self, options: &ViewOptions) -> View {
        let header = [
            "pid",
            "user",
            "host",
            "db",
            "command",
            "time",
            "state",
            "trx age",
            "rows locked",
            "flag",
            "statement",
        ];
        let rows = self
            .threads
            .iter()
            .map(|t| {
                let trx = t.trx.as_ref();
                vec![
                    t.pid.to_string(),
                    t.user.clone().unwrap_or_default(),
                    t.host_name().unwrap_or_default().to_owned(),
                    t.db.clone().unwrap_or_default(),
                    t.command.clone().unwrap_or_default(),
                    t.time_s.map(|s| format!("{s}s")).unwrap_or_default(),
                    t.state.clone().unwrap_or_default(),
                    trx.map(|x| format!("{}s {}", x.age_s, x.state))
                        .unwrap_or_default(),
                    trx.map(|x| x.rows_locked.to_string()).unwrap_or_default(),
                    if t.idle_in_trx {
                        "IDLE IN TRX".to_owned()
                    } else {
                        String::new()
                    },
                    clip(t.statement.as_deref().unwrap_or(""), options.full),
                ]
            })
            .collect();
        View {
            blocks: vec![
                Block::Table {
                    title: None,
                    header: header.map(str::to_owned).to_vec(),
                    rows,
                },
                Block::Note(format!(
                    "{} of {} threads shown, {} idle in a transaction (source: {})",
                    self.threads.len(),
                    self.total,
                    self.idle_in_trx,
                    crate::render::serde_label(&self.source)
                )),
            ],
        }
    }
}

#[cfg(test)]
mod tests;
