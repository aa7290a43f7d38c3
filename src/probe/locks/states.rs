//! Waits that no lock table explains on its own, resolved from thread states, statements and
//! whatever lists the holders on this server: metadata-lock waits on MariaDB without
//! performance_schema (its `metadata_lock_info` plugin lists the granted locks), "Waiting for
//! table flush" on every flavor (no lock is pending anywhere), and user locks. Pure: tested on
//! plain thread lists.
//!
//! The rule for every wait here: an edge is `exact` only when a server table names the holder
//! (METADATA_LOCK_INFO, table_handles, `IS_USED_LOCK()`); an edge derived from times and
//! statements is `inferred`; a waiter with neither is left unresolved, with its candidates, and
//! never hangs under a guessed root.

use std::sync::LazyLock;

use regex::Regex;

use super::mdl;
use super::tree::{Edge, How, WaitInfo, WaitKind};
use crate::probe::processlist::Thread;

/// Thread states of a session waiting for a metadata lock, on MySQL and MariaDB.
pub(crate) const MDL_WAIT_STATES: &[&str] = &[
    "Waiting for table metadata lock",
    "Waiting for schema metadata lock",
    "Waiting for global read lock",
    "Waiting for commit lock",
    "Waiting for backup lock",
    "Waiting for stored function metadata lock",
    "Waiting for stored procedure metadata lock",
    "Waiting for trigger metadata lock",
    "Waiting for event metadata lock",
    "Waiting for tablespace metadata lock",
    "User lock",
    "Waiting for user lock",
];

/// The thread state of a session that waits for a table to be flushed.
pub(crate) const TABLE_FLUSH_STATE: &str = "Waiting for table flush";

/// Where edges of this module come from, as `WaitInfo::source` says it.
pub(crate) const SOURCE_MDL_INFO: &str = "information_schema.METADATA_LOCK_INFO";
pub(crate) const SOURCE_QUEUE: &str = "thread states: an earlier request for the same lock";
pub(crate) const SOURCE_HANDLES: &str = "performance_schema.table_handles";
pub(crate) const SOURCE_OLDER_STATEMENT: &str =
    "thread states: a statement on the table running since before the flush";
pub(crate) const SOURCE_FLUSH: &str = "thread states: a FLUSH started before the wait";
pub(crate) const SOURCE_USED_LOCK: &str = "IS_USED_LOCK()";

/// The most candidates listed for a waiter whose blocker is unknown.
const MAX_CANDIDATES: usize = 10;

/// Whether the thread waits for a metadata lock (user locks included).
pub(crate) fn waits_for_mdl(thread: &Thread) -> bool {
    thread
        .state
        .as_deref()
        .is_some_and(|s| MDL_WAIT_STATES.contains(&s))
}

fn waits_for_flush(thread: &Thread) -> bool {
    thread.state.as_deref() == Some(TABLE_FLUSH_STATE)
}

fn waits_for_user_lock(thread: &Thread) -> bool {
    matches!(
        thread.state.as_deref(),
        Some("User lock" | "Waiting for user lock")
    )
}

/// Whether the thread waits for anything this module resolves.
pub(crate) fn waits(thread: &Thread) -> bool {
    waits_for_mdl(thread) || waits_for_flush(thread)
}

/// A granted metadata lock, as MariaDB's `information_schema.METADATA_LOCK_INFO` lists it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct GrantedLock {
    pub pid: u64,
    /// The namespace in performance_schema's words: `TABLE`, `BACKUP`, `USER LEVEL LOCK`, ...
    pub object_type: String,
    /// `MDL_SHARED_READ`, `MDL_BACKUP_FTWRL2`, ...
    pub lock_type: String,
    /// `schema.table`, the user lock's name, or none for global locks.
    pub object: Option<String>,
}

impl GrantedLock {
    /// From a METADATA_LOCK_INFO row: `LOCK_TYPE` is prose ("Table metadata lock", "Backup
    /// lock", "User lock"); a user lock's name is in `TABLE_SCHEMA`.
    pub(crate) fn from_plugin(
        pid: u64,
        lock_mode: String,
        lock_type: &str,
        schema: Option<String>,
        table: Option<String>,
    ) -> GrantedLock {
        let kind = lock_type.to_ascii_lowercase();
        let object_type = if kind.starts_with("backup") {
            "BACKUP"
        } else if kind.starts_with("user") {
            "USER LEVEL LOCK"
        } else if kind.starts_with("table") {
            "TABLE"
        } else if kind.starts_with("schema") {
            "SCHEMA"
        } else if kind.starts_with("global") {
            "GLOBAL"
        } else {
            "OTHER"
        };
        let schema = schema.filter(|s| !s.is_empty());
        let table = table.filter(|t| !t.is_empty());
        let object = match (object_type, schema, table) {
            ("USER LEVEL LOCK", name, _) => name,
            (_, Some(schema), Some(table)) => Some(format!("{schema}.{table}")),
            (_, schema, None) => schema,
            (_, None, table) => table,
        };
        GrantedLock {
            pid,
            object_type: object_type.to_owned(),
            lock_type: lock_mode,
            object,
        }
    }
}

/// What a waiting thread asks for, inferred from its state and statement.
#[derive(Debug, Clone, PartialEq)]
struct Request {
    object_type: &'static str,
    object: Option<String>,
    lock_type: &'static str,
}

/// A waiter whose blocker the server cannot name: shown as "blocker unknown", never as a root.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct UnknownWait {
    pub waiter: u64,
    pub wait: WaitInfo,
    /// Sessions that could hold it, most likely first; candidates, not culprits.
    pub candidates: Vec<u64>,
}

/// The statement's first keyword, upper-case, after comments.
fn verb(statement: &str) -> String {
    static COMMENT: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"(?s)^\s*(/\*.*?\*/\s*|--[^\n]*\n\s*|#[^\n]*\n\s*)*").unwrap()
    });
    let rest = COMMENT.replace(statement, "");
    rest.split(|c: char| !c.is_ascii_alphabetic())
        .next()
        .unwrap_or_default()
        .to_ascii_uppercase()
}

fn is_ddl(statement: &str) -> bool {
    matches!(
        verb(statement).as_str(),
        "ALTER" | "CREATE" | "DROP" | "RENAME" | "TRUNCATE" | "OPTIMIZE" | "REPAIR" | "ANALYZE"
    )
}

/// The table lock a statement asks for, as MySQL's and MariaDB's SQL layer takes it.
fn table_lock_type(statement: &str) -> Option<&'static str> {
    let upper = statement.to_ascii_uppercase();
    Some(match verb(statement).as_str() {
        "SELECT" | "WITH" | "HANDLER" | "SHOW" | "DESC" | "DESCRIBE" => "SHARED_READ",
        "INSERT" | "UPDATE" | "DELETE" | "REPLACE" | "LOAD" => "SHARED_WRITE",
        "LOCK" if upper.contains("WRITE") => "SHARED_NO_READ_WRITE",
        "LOCK" => "SHARED_READ_ONLY",
        "FLUSH" => "EXCLUSIVE",
        _ if is_ddl(statement) => "EXCLUSIVE",
        _ => return None,
    })
}

/// The name in `GET_LOCK('name', …)`, when it is a literal.
pub(crate) fn user_lock_name(statement: &str) -> Option<String> {
    static GET_LOCK: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r#"(?i)GET_LOCK\s*\(\s*(?:'((?:[^'\\]|\\.|'')*)'|"((?:[^"\\]|\\.|"")*)")"#)
            .unwrap()
    });
    let captures = GET_LOCK.captures(statement)?;
    let name = captures.get(1).or_else(|| captures.get(2))?.as_str();
    Some(name.replace("''", "'").replace("\\'", "'"))
}

/// Whether `statement` names `schema.table` (or the bare table, when `db` is its schema).
fn mentions(statement: &str, object: &str, db: Option<&str>) -> bool {
    let text = statement.replace('`', "").to_ascii_lowercase();
    let object = object.to_ascii_lowercase();
    let (schema, table) = object.split_once('.').unwrap_or(("", &object));
    let word = |needle: &str| {
        text.match_indices(needle).any(|(at, _)| {
            let before = text[..at].chars().next_back();
            let after = text[at + needle.len()..].chars().next();
            let boundary = |c: Option<char>| c.is_none_or(|c| !c.is_alphanumeric() && c != '_');
            boundary(after) && (boundary(before) || before == Some('.') && needle == table)
        })
    };
    if word(&object) {
        return true;
    }
    // A bare name only counts when the session's default database is the table's schema.
    let qualified_elsewhere = text
        .match_indices(&format!(".{table}"))
        .any(|(at, _)| !text[..at].ends_with(schema));
    db.is_some_and(|d| d.eq_ignore_ascii_case(schema)) && word(table) && !qualified_elsewhere
}

/// What a metadata-lock waiter asks for. `objects` are the objects holders have locks on.
fn requests(thread: &Thread, objects: &[&str]) -> Vec<Request> {
    let statement = thread.statement.as_deref().unwrap_or_default();
    match thread.state.as_deref() {
        Some("Waiting for backup lock") => vec![Request {
            object_type: "BACKUP",
            object: None,
            lock_type: if is_ddl(statement) {
                "BACKUP_DDL"
            } else {
                "BACKUP_TRANS_DML"
            },
        }],
        Some("Waiting for global read lock") => vec![Request {
            object_type: "GLOBAL",
            object: None,
            lock_type: "INTENTION_EXCLUSIVE",
        }],
        Some("Waiting for commit lock") => vec![Request {
            object_type: "COMMIT",
            object: None,
            lock_type: "INTENTION_EXCLUSIVE",
        }],
        Some("User lock" | "Waiting for user lock") => user_lock_name(statement)
            .map(|name| Request {
                object_type: "USER LEVEL LOCK",
                object: Some(name),
                lock_type: "EXCLUSIVE",
            })
            .into_iter()
            .collect(),
        Some("Waiting for table metadata lock") => {
            let Some(lock_type) = table_lock_type(statement) else {
                return Vec::new();
            };
            let mut tables: Vec<&str> = objects
                .iter()
                .copied()
                .filter(|o| mentions(statement, o, thread.db.as_deref()))
                .collect();
            tables.sort_unstable();
            tables.dedup();
            tables
                .into_iter()
                .map(|table| Request {
                    object_type: "TABLE",
                    object: Some(table.to_owned()),
                    lock_type,
                })
                .collect()
        }
        _ => Vec::new(),
    }
}

fn same_object(a: Option<&str>, b: Option<&str>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
        _ => false,
    }
}

/// Whether `lock` (granted, or a request queued ahead) on the same object blocks `request`, by
/// the MDL matrices. A user-lock request is derived as `EXCLUSIVE`, which every granted user
/// lock blocks (MariaDB's plugin lists them as `MDL_SHARED_NO_WRITE`) and no queued one does:
/// every waiter for a user lock waits for its holder.
fn conflicts(request: &Request, lock: &GrantedLock, granted: bool) -> bool {
    if request.object_type != lock.object_type
        || !same_object(request.object.as_deref(), lock.object.as_deref())
    {
        return false;
    }
    mdl::blocks(
        request.object_type,
        request.lock_type,
        &lock.lock_type,
        granted,
    )
}

fn wait_info(
    thread: &Thread,
    kind: WaitKind,
    object_type: Option<&str>,
    object: Option<&str>,
    lock_type: Option<&str>,
) -> WaitInfo {
    WaitInfo {
        kind,
        object_type: object_type.map(str::to_owned),
        table: object.map(str::to_owned),
        index: None,
        lock_mode: lock_type
            .map(str::to_owned)
            .or_else(|| thread.state.clone()),
        blocking_lock_mode: None,
        wait_s: thread.time_s,
        held: None,
        how: How::Inferred,
        source: "thread states",
    }
}

/// Metadata-lock edges from the granted locks MariaDB's plugin lists, with the waiters' requests
/// read from their states and statements. A holder of a conflicting granted lock is exact; a
/// request queued ahead (an older waiter for the same lock) is inferred, and only drawn when
/// that older waiter's own blocker is known.
pub(crate) fn plugin_edges(threads: &[Thread], granted: &[GrantedLock]) -> Vec<Edge> {
    let objects: Vec<&str> = granted.iter().filter_map(|g| g.object.as_deref()).collect();
    let waiters: Vec<(&Thread, Vec<Request>)> = threads
        .iter()
        .filter(|t| waits_for_mdl(t))
        .map(|t| (t, requests(t, &objects)))
        .collect();
    let mut edges = Vec::new();
    for (waiter, asks) in &waiters {
        for ask in asks {
            for lock in granted
                .iter()
                .filter(|g| g.pid != waiter.pid && conflicts(ask, g, true))
            {
                let mut wait = wait_info(
                    waiter,
                    WaitKind::Metadata,
                    Some(ask.object_type),
                    ask.object.as_deref(),
                    Some(ask.lock_type),
                );
                wait.blocking_lock_mode = Some(lock.lock_type.clone());
                wait.held = Some(mdl::held(
                    &lock.object_type,
                    lock.object.as_deref(),
                    &lock.lock_type,
                    true,
                ));
                wait.how = How::Exact;
                wait.source = SOURCE_MDL_INFO;
                edges.push(Edge {
                    waiter: waiter.pid,
                    blocker: lock.pid,
                    wait,
                });
            }
        }
    }
    let resolved: Vec<u64> = edges.iter().map(|e| e.waiter).collect();
    for (waiter, asks) in &waiters {
        for ask in asks {
            for (earlier, their_asks) in &waiters {
                // Earlier: waiting longer; within the same second, the older connection.
                let queued_ahead = earlier.pid != waiter.pid
                    && (earlier.time_s, std::cmp::Reverse(earlier.pid))
                        > (waiter.time_s, std::cmp::Reverse(waiter.pid))
                    && resolved.contains(&earlier.pid);
                if !queued_ahead {
                    continue;
                }
                for theirs in their_asks {
                    let pending = GrantedLock {
                        pid: earlier.pid,
                        object_type: theirs.object_type.to_owned(),
                        lock_type: theirs.lock_type.to_owned(),
                        object: theirs.object.clone(),
                    };
                    if !conflicts(ask, &pending, false) {
                        continue;
                    }
                    let mut wait = wait_info(
                        waiter,
                        WaitKind::Metadata,
                        Some(ask.object_type),
                        ask.object.as_deref(),
                        Some(ask.lock_type),
                    );
                    wait.blocking_lock_mode = Some(format!("{} (queued)", theirs.lock_type));
                    wait.held = Some(mdl::held(
                        theirs.object_type,
                        theirs.object.as_deref(),
                        theirs.lock_type,
                        false,
                    ));
                    wait.source = SOURCE_QUEUE;
                    edges.push(Edge {
                        waiter: waiter.pid,
                        blocker: earlier.pid,
                        wait,
                    });
                }
            }
        }
    }
    edges
}

/// The tables a `FLUSH TABLES` names; `None` when it flushes every table (FLUSH TABLES, FLUSH
/// TABLES WITH READ LOCK).
fn flushed_tables(statement: &str) -> Option<Vec<String>> {
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

fn is_flush(thread: &Thread) -> bool {
    thread
        .statement
        .as_deref()
        .is_some_and(|s| verb(s) == "FLUSH")
}

/// Whether `statement` touches one of the flushed tables (all of them when `None`).
fn touches(statement: &str, tables: Option<&[String]>, db: Option<&str>) -> bool {
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

/// The user-lock waiters and the lock names to ask `IS_USED_LOCK()` about.
pub(crate) fn user_lock_waits(threads: &[Thread]) -> Vec<(u64, String)> {
    threads
        .iter()
        .filter(|t| waits_for_user_lock(t))
        .filter_map(|t| Some((t.pid, user_lock_name(t.statement.as_deref()?)?)))
        .collect()
}

/// Exact edges from `IS_USED_LOCK(name)` answers: `(name, holder pid)`.
pub(crate) fn user_lock_edges(threads: &[Thread], holders: &[(String, u64)]) -> Vec<Edge> {
    let mut edges = Vec::new();
    for (pid, name) in user_lock_waits(threads) {
        let Some(waiter) = threads.iter().find(|t| t.pid == pid) else {
            continue;
        };
        for (_, holder) in holders
            .iter()
            .filter(|(held, holder)| *held == name && *holder != pid)
        {
            let mut wait = wait_info(
                waiter,
                WaitKind::Metadata,
                Some("USER LEVEL LOCK"),
                Some(&name),
                Some("EXCLUSIVE"),
            );
            wait.held = Some(format!("user lock '{name}'"));
            wait.how = How::Exact;
            wait.source = SOURCE_USED_LOCK;
            edges.push(Edge {
                waiter: pid,
                blocker: *holder,
                wait,
            });
        }
    }
    edges
}

/// Every thread waiting for a metadata lock or a flush that no edge explains: blocker unknown.
pub(crate) fn unexplained(threads: &[Thread], edges: &[Edge]) -> Vec<UnknownWait> {
    threads
        .iter()
        .filter(|t| waits(t) && !edges.iter().any(|e| e.waiter == t.pid))
        .map(|t| UnknownWait {
            waiter: t.pid,
            wait: wait_info(
                t,
                if waits_for_flush(t) {
                    WaitKind::TableFlush
                } else {
                    WaitKind::Metadata
                },
                None,
                None,
                None,
            ),
            candidates: candidates(t, threads),
        })
        .collect()
}

/// Sessions that may hold what `waiter` waits for: not waiting for a metadata lock themselves,
/// not system threads, and there before the wait began (an open transaction at least as old, or
/// a command running or idle at least as long). Idle sessions first (an idle transaction, LOCK
/// TABLES, FLUSH TABLES WITH READ LOCK and GET_LOCK holders all sit in Sleep), then running
/// statements, then sessions waiting for a row lock; longest-standing first within each.
pub(crate) fn candidates(waiter: &Thread, threads: &[Thread]) -> Vec<u64> {
    let waited = waiter.time_s.unwrap_or(0);
    let mut found: Vec<&Thread> = threads
        .iter()
        .filter(|t| t.pid != waiter.pid && !waits(t))
        .filter(|t| {
            !matches!(
                t.user.as_deref(),
                Some("system user" | "event_scheduler" | "rdsadmin")
            ) && t.command.as_deref() != Some("Daemon")
        })
        .filter(|t| t.trx_age() >= waited || t.time_s.unwrap_or(0) >= waited)
        .collect();
    let rank = |t: &Thread| {
        if t.command.as_deref() == Some("Sleep") {
            0
        } else if t.trx.as_ref().is_some_and(|x| x.state == "LOCK WAIT") {
            2
        } else {
            1
        }
    };
    found.sort_by_key(|t| {
        (
            rank(t),
            std::cmp::Reverse(t.trx_age().max(t.time_s.unwrap_or(0))),
            t.pid,
        )
    });
    found
        .into_iter()
        .take(MAX_CANDIDATES)
        .map(|t| t.pid)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::processlist::Trx;

    fn thread(
        pid: u64,
        command: &str,
        time_s: u64,
        state: Option<&str>,
        sql: Option<&str>,
    ) -> Thread {
        let mut t = Thread::sample(pid, "app", command, None);
        t.time_s = Some(time_s);
        t.state = state.map(str::to_owned);
        t.statement = sql.map(str::to_owned);
        t
    }

    fn idle_trx(pid: u64, age: u64) -> Thread {
        let mut t = Thread::sample(pid, "app", "Sleep", Some(Trx::sample("1", age)));
        t.time_s = Some(age);
        t
    }

    fn granted(pid: u64, mode: &str, kind: &str, schema: &str, table: &str) -> GrantedLock {
        GrantedLock::from_plugin(
            pid,
            mode.into(),
            kind,
            Some(schema.into()),
            Some(table.into()),
        )
    }

    fn pairs(edges: &[Edge]) -> Vec<(u64, u64, How)> {
        let mut p: Vec<_> = edges
            .iter()
            .map(|e| (e.waiter, e.blocker, e.wait.how))
            .collect();
        p.sort_by_key(|(w, b, _)| (*w, *b));
        p
    }

    #[test]
    fn the_plugin_names_the_reader_not_the_older_decoy() {
        // Decoy 1: an older idle transaction on shop.other. Holder 2 read shop.t in its
        // transaction. ALTER 3 waits; it holds SU on shop.t itself.
        let threads = [
            idle_trx(1, 60),
            idle_trx(2, 20),
            thread(
                3,
                "Query",
                10,
                Some("Waiting for table metadata lock"),
                Some("ALTER TABLE t ADD c INT"),
            ),
        ];
        let locks = [
            granted(
                1,
                "MDL_SHARED_WRITE",
                "Table metadata lock",
                "shop",
                "other",
            ),
            granted(2, "MDL_SHARED_READ", "Table metadata lock", "shop", "t"),
            granted(
                3,
                "MDL_SHARED_UPGRADABLE",
                "Table metadata lock",
                "shop",
                "t",
            ),
        ];
        let edges = plugin_edges(&threads, &locks);
        assert_eq!(pairs(&edges), [(3, 2, How::Exact)]);
        assert!(unexplained(&threads, &edges).is_empty());
        assert_eq!(edges[0].wait.source, SOURCE_MDL_INFO);
        assert!(edges[0].wait.held.as_deref().unwrap().contains("shop.t"));
    }

    #[test]
    fn readers_queue_behind_a_waiting_alter() {
        let threads = [
            idle_trx(2, 20),
            thread(
                3,
                "Query",
                10,
                Some("Waiting for table metadata lock"),
                Some("ALTER TABLE shop.t ADD c INT"),
            ),
            thread(
                4,
                "Query",
                5,
                Some("Waiting for table metadata lock"),
                Some("SELECT * FROM shop.t"),
            ),
        ];
        let locks = [
            granted(2, "MDL_SHARED_READ", "Table metadata lock", "shop", "t"),
            granted(
                3,
                "MDL_SHARED_UPGRADABLE",
                "Table metadata lock",
                "shop",
                "t",
            ),
        ];
        let edges = plugin_edges(&threads, &locks);
        assert_eq!(pairs(&edges), [(3, 2, How::Exact), (4, 3, How::Inferred)]);
    }

    #[test]
    fn ftwrl_and_user_locks_through_the_plugin() {
        let threads = [
            idle_trx(1, 60),
            thread(2, "Sleep", 30, None, None),
            thread(
                3,
                "Query",
                5,
                Some("Waiting for backup lock"),
                Some("UPDATE t SET v = 1"),
            ),
            thread(4, "Sleep", 30, None, None),
            thread(
                5,
                "Query",
                5,
                Some("User lock"),
                Some("SELECT GET_LOCK('job', 300)"),
            ),
        ];
        let locks = [
            granted(
                1,
                "MDL_SHARED_WRITE",
                "Table metadata lock",
                "shop",
                "other",
            ),
            GrantedLock::from_plugin(
                2,
                "MDL_BACKUP_FTWRL2".into(),
                "Backup lock",
                Some(String::new()),
                Some(String::new()),
            ),
            GrantedLock::from_plugin(
                4,
                "MDL_SHARED_NO_WRITE".into(),
                "User lock",
                Some("job".into()),
                Some(String::new()),
            ),
        ];
        let edges = plugin_edges(&threads, &locks);
        assert_eq!(pairs(&edges), [(3, 2, How::Exact), (5, 4, How::Exact)]);
        assert!(unexplained(&threads, &edges).is_empty());
        assert!(
            edges[0]
                .wait
                .held
                .as_deref()
                .unwrap()
                .starts_with("global read lock")
        );
        assert_eq!(edges[1].wait.held.as_deref(), Some("user lock 'job'"));
    }

    #[test]
    fn every_waiter_for_a_user_lock_waits_for_its_holder_not_for_the_queue() {
        let threads = [
            thread(4, "Sleep", 30, None, None),
            thread(
                5,
                "Query",
                9,
                Some("User lock"),
                Some("SELECT GET_LOCK('job', 300)"),
            ),
            thread(
                6,
                "Query",
                3,
                Some("User lock"),
                Some("SELECT GET_LOCK('job', 300)"),
            ),
        ];
        let locks = [GrantedLock::from_plugin(
            4,
            "MDL_SHARED_NO_WRITE".into(),
            "User lock",
            Some("job".into()),
            Some(String::new()),
        )];
        let edges = plugin_edges(&threads, &locks);
        assert_eq!(pairs(&edges), [(5, 4, How::Exact), (6, 4, How::Exact)]);
    }

    #[test]
    fn without_a_holder_list_the_waiter_stays_unresolved_with_candidates() {
        let threads = [
            idle_trx(1, 60),
            thread(2, "Sleep", 30, None, None),
            thread(
                3,
                "Query",
                5,
                Some("Waiting for backup lock"),
                Some("UPDATE t SET v = 1"),
            ),
            thread(6, "Sleep", 1, None, None),
        ];
        let edges = plugin_edges(&threads, &[]);
        assert!(edges.is_empty());
        let unknown = unexplained(&threads, &edges);
        assert_eq!(unknown.len(), 1);
        assert_eq!(unknown[0].waiter, 3);
        assert_eq!(unknown[0].candidates, [1, 2], "6 came after the wait began");
        assert_eq!(unknown[0].wait.how, How::Inferred);
    }

    #[test]
    fn row_lock_waiters_do_not_crowd_the_idle_holder_out_of_the_candidates() {
        let mut threads: Vec<Thread> = (100..130)
            .map(|pid| {
                let mut t = thread(
                    pid,
                    "Query",
                    50,
                    Some("updating"),
                    Some("UPDATE other SET v = 1"),
                );
                let mut trx = Trx::sample(&pid.to_string(), 50);
                trx.state = "LOCK WAIT".into();
                t.trx = Some(trx);
                t
            })
            .collect();
        threads.push(idle_trx(7, 10));
        threads.push(thread(
            8,
            "Query",
            5,
            Some("Waiting for table metadata lock"),
            Some("ALTER TABLE t ADD c INT"),
        ));
        let found = candidates(&threads[31], &threads);
        assert_eq!(found.len(), MAX_CANDIDATES);
        assert_eq!(found[0], 7, "{found:?}");
    }

    #[test]
    fn table_flush_chain_roots_at_the_long_select() {
        let threads = [
            idle_trx(1, 60),
            thread(
                2,
                "Query",
                30,
                Some("User sleep"),
                Some("SELECT v, SLEEP(300) FROM shop.f"),
            ),
            thread(
                3,
                "Query",
                20,
                Some(TABLE_FLUSH_STATE),
                Some("FLUSH TABLES shop.f"),
            ),
            thread(
                4,
                "Query",
                10,
                Some(TABLE_FLUSH_STATE),
                Some("SELECT * FROM shop.f"),
            ),
            thread(
                5,
                "Query",
                40,
                Some("User sleep"),
                Some("SELECT SLEEP(100) FROM shop.g"),
            ),
        ];
        let edges = table_flush_edges(&threads, None);
        assert_eq!(
            pairs(&edges),
            [(3, 2, How::Inferred), (4, 3, How::Inferred)]
        );
        assert!(unexplained(&threads, &edges).is_empty());
        let handles = [(2, "shop.f".to_owned()), (5, "shop.g".to_owned())];
        let edges = table_flush_edges(&threads, Some(&handles));
        assert_eq!(pairs(&edges), [(3, 2, How::Exact), (4, 3, How::Inferred)]);
        assert_eq!(edges[0].wait.source, SOURCE_HANDLES);
    }

    #[test]
    fn ftwrl_waiting_for_a_flush_holds_up_writers_through_any_table() {
        let threads = [
            thread(
                2,
                "Query",
                30,
                Some("User sleep"),
                Some("SELECT v, SLEEP(300) FROM shop.f"),
            ),
            thread(
                3,
                "Query",
                20,
                Some(TABLE_FLUSH_STATE),
                Some("FLUSH TABLES WITH READ LOCK"),
            ),
        ];
        let edges = table_flush_edges(&threads, None);
        assert_eq!(pairs(&edges), [(3, 2, How::Inferred)]);
    }

    #[test]
    fn flush_statements_and_lock_names_parse() {
        assert_eq!(flushed_tables("FLUSH TABLES WITH READ LOCK"), None);
        assert_eq!(flushed_tables("flush tables"), None);
        assert_eq!(
            flushed_tables("FLUSH TABLES `shop`.`f`, g FOR EXPORT"),
            Some(vec!["shop.f".to_owned(), "g".to_owned()])
        );
        assert_eq!(
            user_lock_name("SELECT GET_LOCK('job', 30)").as_deref(),
            Some("job")
        );
        assert_eq!(
            user_lock_name("select get_lock(\"a'b\", 1)").as_deref(),
            Some("a'b")
        );
        assert_eq!(user_lock_name("SELECT GET_LOCK(@name, 1)"), None);
        assert_eq!(
            table_lock_type("/* app */ UPDATE t SET v = 1"),
            Some("SHARED_WRITE")
        );
        assert_eq!(
            table_lock_type("LOCK TABLES t WRITE"),
            Some("SHARED_NO_READ_WRITE")
        );
        assert!(mentions("SELECT * FROM `shop`.`t` WHERE 1", "shop.t", None));
        assert!(mentions("SELECT * FROM t", "shop.t", Some("shop")));
        assert!(!mentions("SELECT * FROM t2", "shop.t", Some("shop")));
        assert!(!mentions("SELECT * FROM other.t", "shop.t", Some("shop")));
    }
}
