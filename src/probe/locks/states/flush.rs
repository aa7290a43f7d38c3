//! "Waiting for table flush": resolved through the FLUSH to the sessions that hold the table
//! open.

use std::sync::LazyLock;

use regex::Regex;

use super::*;

/// The tables a `FLUSH TABLES` names; `None` when it flushes every table (FLUSH TABLES, FLUSH
/// TABLES WITH READ LOCK).
pub(super) fn flushed_tables(statement: &str) -> Option<Vec<String>> {
    static FLUSH: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"(?is)^\s*FLUSH\s+(?:LOCAL\s+|NO_WRITE_TO_BINLOG\s+)?TABLES?\s*(.*?)\s*(?:WITH\s+READ\s+LOCK|FOR\s+EXPORT)?\s*;?\s*$")
            .unwrap()
    });
    let list = FLUSH.captures(statement)?.get(1)?.as_str().replace('`', "");
    let tables: Vec<String> = list
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect();
    (!tables.is_empty()).then_some(tables)
}

pub(super) fn is_flush(thread: &Thread) -> bool {
    thread
        .statement
        .as_deref()
        .is_some_and(|s| verb(s) == "FLUSH")
}

/// Whether `statement` touches one of the flushed tables (all of them when `None`).
pub(super) fn touches(statement: &str, tables: Option<&[String]>, db: Option<&str>) -> bool {
    match tables {
        None => true,
        Some(tables) => tables.iter().any(|t| {
            let qualified = if t.contains('.') {
                t.clone()
            } else {
                format!("{}.{t}", db.unwrap_or_default())
            };
            mentions(statement, &qualified, db)
        }),
    }
}

/// "Waiting for table flush": a FLUSH waits for the sessions that hold its tables open from
/// before it began, and every new user of those tables waits for the FLUSH. `handles` are
/// `(pid, schema.table)` from performance_schema.table_handles, when it is there: its holders
/// are exact; without it, statements running on the table since before the flush are inferred.
pub(crate) fn table_flush_edges(
    threads: &[Thread],
    handles: Option<&[(u64, String)]>,
) -> Vec<Edge> {
    let flushes: Vec<&Thread> = threads
        .iter()
        .filter(|t| waits_for_flush(t) && is_flush(t))
        .collect();
    let busy = |t: &Thread| waits_for_flush(t) || waits_for_mdl(t);
    let mut edges = Vec::new();
    for flush in &flushes {
        let statement = flush.statement.as_deref().unwrap_or_default();
        let tables = flushed_tables(statement);
        let db = flush.db.as_deref();
        let qualify = |t: &String| {
            if t.contains('.') {
                t.to_ascii_lowercase()
            } else {
                format!("{}.{t}", db.unwrap_or_default()).to_ascii_lowercase()
            }
        };
        let wanted: Option<Vec<String>> =
            tables.as_ref().map(|ts| ts.iter().map(qualify).collect());
        let mut push = |holder: &Thread, table: Option<&str>, how: How, source: &'static str| {
            let mut wait = wait_info(flush, WaitKind::TableFlush, None, table, None);
            wait.held = Some(match table {
                Some(table) => format!("{table} open since before the flush"),
                None => "tables open since before the flush".to_owned(),
            });
            wait.how = how;
            wait.source = source;
            edges.push(Edge {
                waiter: flush.pid,
                blocker: holder.pid,
                wait,
            });
        };
        match handles {
            Some(handles) => {
                for (pid, table) in handles {
                    let flushed = wanted
                        .as_ref()
                        .is_none_or(|w| w.contains(&table.to_ascii_lowercase()));
                    let Some(holder) = threads.iter().find(|t| t.pid == *pid) else {
                        continue;
                    };
                    if flushed && holder.pid != flush.pid && !busy(holder) {
                        push(holder, Some(table), How::Exact, SOURCE_HANDLES);
                    }
                }
            }
            None => {
                for holder in threads.iter().filter(|t| {
                    t.pid != flush.pid
                        && !busy(t)
                        && t.command.as_deref() != Some("Sleep")
                        && t.time_s >= flush.time_s
                        && t.statement
                            .as_deref()
                            .is_some_and(|s| touches(s, tables.as_deref(), t.db.as_deref()))
                }) {
                    let table = tables.as_ref().and_then(|t| t.first()).map(qualify);
                    push(
                        holder,
                        table.as_deref(),
                        How::Inferred,
                        SOURCE_OLDER_STATEMENT,
                    );
                }
            }
        }
    }
    for reader in threads
        .iter()
        .filter(|t| waits_for_flush(t) && !is_flush(t))
    {
        let statement = reader.statement.as_deref().unwrap_or_default();
        for flush in flushes.iter().filter(|f| {
            f.time_s >= reader.time_s
                && touches(
                    statement,
                    flushed_tables(f.statement.as_deref().unwrap_or_default()).as_deref(),
                    reader.db.as_deref(),
                )
        }) {
            let mut wait = wait_info(reader, WaitKind::TableFlush, None, None, None);
            wait.held = Some("table flush".to_owned());
            wait.source = SOURCE_FLUSH;
            edges.push(Edge {
                waiter: reader.pid,
                blocker: flush.pid,
                wait,
            });
        }
    }
    edges
}
