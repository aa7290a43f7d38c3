//! MariaDB's `metadata_lock_info` plugin: the granted locks it lists, and the requests of the
//! waiters read from their states and statements.

use std::sync::LazyLock;

use regex::Regex;

use super::*;

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
pub(super) struct Request {
    object_type: &'static str,
    object: Option<String>,
    lock_type: &'static str,
}

/// The statement's first keyword, upper-case, after comments.
pub(super) fn verb(statement: &str) -> String {
    static COMMENT: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"(?s)^\s*(/\*.*?\*/\s*|--[^\n]*\n\s*|#[^\n]*\n\s*)*").unwrap()
    });
    let rest = COMMENT.replace(statement, "");
    rest.split(|c: char| !c.is_ascii_alphabetic())
        .next()
        .unwrap_or_default()
        .to_ascii_uppercase()
}

pub(super) fn is_ddl(statement: &str) -> bool {
    matches!(
        verb(statement).as_str(),
        "ALTER" | "CREATE" | "DROP" | "RENAME" | "TRUNCATE" | "OPTIMIZE" | "REPAIR" | "ANALYZE"
    )
}

/// The table lock a statement asks for, as MySQL's and MariaDB's SQL layer takes it.
pub(super) fn table_lock_type(statement: &str) -> Option<&'static str> {
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
pub(super) fn mentions(statement: &str, object: &str, db: Option<&str>) -> bool {
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
pub(super) fn requests(thread: &Thread, objects: &[&str]) -> Vec<Request> {
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

pub(super) fn same_object(a: Option<&str>, b: Option<&str>) -> bool {
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
pub(super) fn conflicts(request: &Request, lock: &GrantedLock, granted: bool) -> bool {
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
