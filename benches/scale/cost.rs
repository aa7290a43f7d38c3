//! What a command cost the server: its own connection's top-level statements, read back from
//! `performance_schema.events_statements_history_long`.

use std::collections::BTreeSet;
use std::time::Duration;

use anyhow::{Context, Result};
use mysql_async::prelude::*;
use mysql_async::{Conn, Row};

use crate::measure::{ATTEMPTS, Spec, check_exit, open_trx, run_blocking, wait_for_quiet};
use crate::report::Report;
use crate::server::{Server, set_history_long};

/// One statement from events_statements_history_long.
pub(crate) struct Statement {
    pub(crate) thread_id: u64,
    /// SQL_TEXT: as sent, comments included, cut at performance_schema_max_sql_text_length.
    pub(crate) sql: String,
    /// DIGEST_TEXT: normalized, without comments.
    pub(crate) digest: String,
    pub(crate) rows_examined: u64,
    pub(crate) rows_sent: u64,
    pub(crate) timer_wait_ps: u64,
    pub(crate) errno: i64,
}

/// Where a cost measurement runs.
pub(crate) struct CostContext<'a> {
    pub(crate) scenario: &'a str,
    pub(crate) rows_locked: u64,
    /// The scenario's own InnoDB transactions.
    pub(crate) ours: u64,
    pub(crate) quiet_wait: Duration,
}

pub(crate) async fn measure_cost(
    server: &Server,
    admin: &mut Conn,
    context: &CostContext<'_>,
    commands: &[(Spec, String, String)],
    report: &mut Report,
) -> Result<()> {
    let enabled: String = admin
        .query_first(
            "SELECT ENABLED FROM performance_schema.setup_consumers \
             WHERE NAME = 'events_statements_history_long'",
        )
        .await?
        .context("no events_statements_history_long consumer")?;
    if enabled != "YES" {
        server
            .history_long_consumer
            .lock()
            .expect("not poisoned")
            .get_or_insert_with(|| enabled.clone());
        set_history_long(admin, "YES").await?;
    }
    let own_thread: u64 = admin
        .query_first(
            "SELECT THREAD_ID FROM performance_schema.threads WHERE PROCESSLIST_ID = CONNECTION_ID()",
        )
        .await?
        .context("own THREAD_ID")?;
    for (spec, label, marker) in commands {
        // Single runs vary (the server's caches, its other threads): keep the run with the median
        // server time of COST_RUNS.
        let mut runs = Vec::new();
        for _ in 0..COST_RUNS {
            runs.push(cost_run(admin, context, own_thread, spec, marker).await?);
        }
        runs.sort_by_key(|(statements, _)| server_ps(statements));
        let totals: Vec<f64> = runs
            .iter()
            .map(|(statements, _)| server_ps(statements) as f64 / 1e9)
            .collect();
        let (statements, wall) = runs.swap_remove(runs.len() / 2);
        let threads: BTreeSet<u64> = statements.iter().map(|s| s.thread_id).collect();
        if threads.len() > 1 {
            eprintln!(
                "bench: WARNING: {} threads match `{}`; all are counted",
                threads.len(),
                spec.label
            );
        }
        report.add_cost(server, context, label, statements, wall, &totals);
    }
    Ok(())
}

/// How many times each command's cost is measured.
pub(crate) const COST_RUNS: usize = 3;

/// Server time of a run's statements, in picoseconds.
pub(crate) fn server_ps(statements: &[Statement]) -> u64 {
    statements.iter().map(|s| s.timer_wait_ps).sum()
}

/// One cost run, repeated while other clients' transactions interfere.
async fn cost_run(
    admin: &mut Conn,
    context: &CostContext<'_>,
    own_thread: u64,
    spec: &Spec,
    marker: &str,
) -> Result<(Vec<Statement>, Duration)> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        wait_for_quiet(admin, context.quiet_wait, context.ours).await?;
        let (statements, wall) = statements_of(admin, own_thread, spec, marker).await?;
        let foreign = open_trx(admin).await?.saturating_sub(context.ours);
        if foreign == 0 || attempt == ATTEMPTS {
            if foreign > 0 {
                eprintln!(
                    "bench: WARNING: {foreign} transactions of other clients while measuring the cost of `{}`",
                    spec.label
                );
            }
            return Ok((statements, wall));
        }
        eprintln!("bench: {foreign} transactions of other clients appeared; measuring again");
    }
}

/// Runs the command once and reads back the top-level statements of every thread that started
/// meanwhile (the command's own connection), except ours.
async fn statements_of(
    admin: &mut Conn,
    own_thread: u64,
    spec: &Spec,
    marker: &str,
) -> Result<(Vec<Statement>, Duration)> {
    admin
        .query_drop("TRUNCATE TABLE performance_schema.events_statements_history_long")
        .await
        .context("truncating events_statements_history_long")?;
    let before: u64 = admin
        .query_first("SELECT IFNULL(MAX(THREAD_ID), 0) FROM performance_schema.threads")
        .await?
        .unwrap_or(0);
    let run = run_blocking(spec).await?;
    check_exit(spec, &run)?;
    let rows: Vec<Row> = admin
        .query(format!(
            "SELECT THREAD_ID, SQL_TEXT, ROWS_EXAMINED, ROWS_SENT, TIMER_WAIT, MYSQL_ERRNO, \
                    DIGEST_TEXT \
             FROM performance_schema.events_statements_history_long \
             WHERE THREAD_ID > {before} AND THREAD_ID <> {own_thread} \
               AND NESTING_EVENT_LEVEL = 0 \
             ORDER BY THREAD_ID, EVENT_ID"
        ))
        .await
        .context("reading events_statements_history_long")?;
    let text = |row: &mut Row, i: usize| {
        row.take_opt::<Option<String>, _>(i)
            .and_then(Result::ok)
            .flatten()
            .unwrap_or_default()
    };
    let statements: Vec<Statement> = rows
        .into_iter()
        .map(|mut row| Statement {
            thread_id: row.take_opt(0).and_then(Result::ok).unwrap_or(0),
            sql: text(&mut row, 1),
            digest: text(&mut row, 6),
            rows_examined: row.take_opt(2).and_then(Result::ok).unwrap_or(0),
            rows_sent: row.take_opt(3).and_then(Result::ok).unwrap_or(0),
            timer_wait_ps: row
                .take_opt::<Option<u64>, _>(4)
                .and_then(Result::ok)
                .flatten()
                .unwrap_or(0),
            errno: row
                .take_opt::<Option<i64>, _>(5)
                .and_then(Result::ok)
                .flatten()
                .unwrap_or(0),
        })
        .collect();
    // Keep the threads that ran the marker (one of `|`-separated texts): the command's own.
    let markers: Vec<String> = marker.split('|').map(str::to_ascii_lowercase).collect();
    let ours: BTreeSet<u64> = statements
        .iter()
        .filter(|s| {
            let sql = s.sql.to_ascii_lowercase();
            markers.iter().any(|m| sql.contains(m.as_str()))
        })
        .map(|s| s.thread_id)
        .collect();
    let all: BTreeSet<u64> = statements.iter().map(|s| s.thread_id).collect();
    if ours.is_empty() {
        eprintln!(
            "bench: WARNING: no thread ran {marker:?} for `{}`; counting all {} new threads",
            spec.label,
            all.len()
        );
        return Ok((statements, run.wall));
    }
    if all.len() > ours.len() {
        eprintln!(
            "bench: ({} other clients' threads left out of the cost of `{}`)",
            all.len() - ours.len(),
            spec.label
        );
    }
    let statements = statements
        .into_iter()
        .filter(|s| ours.contains(&s.thread_id))
        .collect();
    Ok((statements, run.wall))
}

impl Statement {
    /// The statement on one line, cut to `max` characters: its text without `--` comment lines,
    /// or, where the comments filled the recorded text, its digest.
    pub(crate) fn snippet(&self, max: usize) -> String {
        let text = self
            .sql
            .lines()
            .filter(|line| !line.trim_start().starts_with("--"))
            .collect::<Vec<_>>()
            .join(" ");
        let mut text = text.split_whitespace().collect::<Vec<_>>().join(" ");
        // performance_schema keeps 1024 bytes of text by default; a long header comment leaves
        // little of the statement itself.
        if (text.len() < 80 || self.sql.len() >= 1000) && !self.digest.is_empty() {
            text = self
                .digest
                .replace('`', "")
                .replace(" . ", ".")
                .replace(" , ", ", ")
                .replace("( ", "(")
                .replace(" )", ")");
            text = text.split_whitespace().collect::<Vec<_>>().join(" ");
        }
        if text.chars().count() > max {
            format!("{}…", text.chars().take(max).collect::<String>())
        } else {
            text
        }
    }

    /// Whether it reads a lock table (by its text or its digest).
    pub(crate) fn reads_lock_table(&self) -> bool {
        [&self.sql, &self.digest].iter().any(|text| {
            let lower = text.to_ascii_lowercase();
            lower.contains("data_locks") || lower.contains("innodb_locks")
        })
    }
}
