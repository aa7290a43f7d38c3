//! What really holds purge back: the sessions whose read view (or, on MariaDB, whose open
//! read-write transaction) keeps InnoDB from purging the undo history. Not the oldest
//! transaction: an idle READ COMMITTED transaction on MySQL holds no view at all, and killing it
//! frees nothing. Pure: the rules are tested on thread lists and captured status texts.
//!
//! - MariaDB prints each session's read view in `SHOW ENGINE INNODB STATUS` ("Trx read view will
//!   not see trx with id >= X"), read-only snapshots included; an open read-write transaction
//!   holds purge back too, whatever its isolation (measured on 10.11). Both are `exact`.
//! - MySQL 8+ prints no read views, so they are `inferred` from INNODB_TRX: an idle READ
//!   COMMITTED or READ UNCOMMITTED transaction holds none; a running statement holds one for as
//!   long as it runs; a REPEATABLE READ or SERIALIZABLE transaction holds one from its first
//!   consistent read until it ends (its age is the transaction's, an upper bound).

use std::collections::HashMap;

use serde::Serialize;

use crate::innodb_status::{self, SessionTrx};
use crate::probe::locks::tree::How;
use crate::probe::processlist::{self, Thread};

/// What a purge blocker holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Holds {
    ReadView,
    /// An open read-write transaction (MariaDB), or a view whose age cannot be known.
    Transaction,
}

/// One session holding purge back.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct PurgeBlocker {
    pub pid: u64,
    pub user: Option<String>,
    pub host: Option<String>,
    pub holds: Holds,
    /// Seconds: the age of what it holds (its read view, or its transaction when the view's
    /// own age cannot be known).
    pub age_s: u64,
    pub isolation: Option<String>,
    pub idle_in_trx: bool,
    pub statement: Option<String>,
    pub last_statement: Option<String>,
    pub how: How,
    pub source: PurgeSource,
    pub reason: String,
}

/// Where a purge blocker is known from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub(crate) enum PurgeSource {
    /// MariaDB's per-session read views: exact.
    #[serde(rename = "SHOW ENGINE INNODB STATUS")]
    InnodbStatus,
    /// The transactions' ages and isolation levels: inferred.
    #[serde(rename = "information_schema.INNODB_TRX")]
    InnodbTrx,
}

/// The sessions holding purge back, oldest first: all of them, since killing one of two frees
/// nothing. `status` is the InnoDB status text when it was read (MariaDB's source).
pub(crate) fn blockers(
    mariadb: bool,
    threads: &[Thread],
    last: Option<&HashMap<u64, String>>,
    status: Option<&str>,
) -> Vec<PurgeBlocker> {
    let by_pid: HashMap<u64, &Thread> = threads.iter().map(|t| (t.pid, t)).collect();
    let mut found: Vec<(PurgeBlocker, Option<&Thread>)> = match (mariadb, status) {
        (true, Some(text)) => innodb_status::session_transactions(text)
            .into_iter()
            .filter_map(|s| {
                let thread = by_pid.get(&s.thread_id).copied();
                // Our own connection is not in `threads`; neither is a thread gone since.
                let entry = from_status(&s, thread?, last)?;
                Some((entry, thread))
            })
            .collect(),
        _ => threads
            .iter()
            .filter_map(|t| Some((inferred(mariadb, t, last)?, Some(t))))
            .collect(),
    };
    found.sort_by(|(a, ta), (b, tb)| {
        b.age_s.cmp(&a.age_s).then_with(|| match (ta, tb) {
            (Some(x), Some(y)) => processlist::oldest_first(x, y),
            _ => a.pid.cmp(&b.pid),
        })
    });
    found.into_iter().map(|(entry, _)| entry).collect()
}

fn entry(
    thread: &Thread,
    last: Option<&HashMap<u64, String>>,
    holds: Holds,
    age_s: u64,
    how: How,
    reason: String,
) -> PurgeBlocker {
    PurgeBlocker {
        pid: thread.pid,
        user: thread.user.clone(),
        host: thread.host.clone(),
        holds,
        age_s,
        isolation: thread.trx.as_ref().and_then(|t| t.isolation.clone()),
        idle_in_trx: thread.idle_in_trx,
        statement: thread.statement.clone(),
        last_statement: match thread.statement {
            Some(_) => None,
            None => last.and_then(|m| m.get(&thread.pid).cloned()),
        },
        how,
        source: if how == How::Exact {
            PurgeSource::InnodbStatus
        } else {
            PurgeSource::InnodbTrx
        },
        reason,
    }
}

/// MariaDB: a session with a printed read view, or an open read-write transaction.
fn from_status(
    session: &SessionTrx,
    thread: &Thread,
    last: Option<&HashMap<u64, String>>,
) -> Option<PurgeBlocker> {
    let age = session.active_s.unwrap_or_else(|| thread.trx_age());
    if let Some(low_limit) = session.read_view_low_limit {
        return Some(entry(
            thread,
            last,
            Holds::ReadView,
            age,
            How::Exact,
            format!("read view: it does not see transactions from id {low_limit} on"),
        ));
    }
    let id = session.trx_id.filter(|_| session.undo_entries > 0)?;
    Some(entry(
        thread,
        last,
        Holds::Transaction,
        age,
        How::Exact,
        format!(
            "open read-write transaction {id} ({} undo entries): MariaDB purges nothing \
             committed after it began until it ends",
            session.undo_entries
        ),
    ))
}

fn repeatable(isolation: Option<&str>) -> bool {
    !matches!(isolation, Some("READ COMMITTED" | "READ UNCOMMITTED"))
}

/// The rules where no read view is printed (MySQL; MariaDB without a status text).
fn inferred(
    mariadb: bool,
    thread: &Thread,
    last: Option<&HashMap<u64, String>>,
) -> Option<PurgeBlocker> {
    let trx = thread.trx.as_ref()?;
    if thread.rolling_back() {
        return None;
    }
    let isolation = trx.isolation.as_deref();
    let running = thread.command.as_deref() != Some("Sleep") && thread.statement.is_some();
    let writer = trx.rows_modified > 0;
    let level = isolation.unwrap_or("isolation unknown");
    let (holds, age, reason) = if repeatable(isolation) {
        (
            Holds::ReadView,
            trx.age_s,
            format!(
                "{level}: holds the read view of its first consistent read until it ends \
                 (at most {}s old)",
                trx.age_s
            ),
        )
    } else if mariadb && writer {
        (
            Holds::Transaction,
            trx.age_s,
            format!(
                "{level} read-write transaction: MariaDB purges nothing committed after it began"
            ),
        )
    } else if running {
        (
            Holds::ReadView,
            thread.time_s.unwrap_or(0),
            format!("{level}: a read view for the statement it runs now"),
        )
    } else {
        return None; // idle READ COMMITTED: no read view
    };
    Some(entry(thread, last, holds, age, How::Inferred, reason))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::processlist::Trx;

    fn trx_thread(pid: u64, command: &str, isolation: &str, age: u64, modified: u64) -> Thread {
        let mut trx = Trx::sample(&pid.to_string(), age);
        trx.isolation = Some(isolation.into());
        trx.rows_modified = modified;
        let mut thread = Thread::sample(pid, "app", command, Some(trx));
        if command != "Sleep" {
            thread.statement = Some("SELECT SLEEP(60) FROM t".into());
            thread.time_s = Some(5);
        }
        thread
    }

    fn pids(list: &[PurgeBlocker]) -> Vec<u64> {
        list.iter().map(|b| b.pid).collect()
    }

    #[test]
    fn mysql_skips_the_idle_read_committed_writer() {
        // The RC writer is older, but takes a fresh view per statement and holds none idle.
        let threads = [
            trx_thread(1, "Sleep", "READ COMMITTED", 60, 1),
            trx_thread(2, "Sleep", "REPEATABLE READ", 30, 0),
            trx_thread(3, "Query", "READ COMMITTED", 10, 0),
            trx_thread(4, "Sleep", "READ UNCOMMITTED", 90, 0),
        ];
        let found = blockers(false, &threads, None, None);
        assert_eq!(pids(&found), [2, 3]);
        assert!(
            found
                .iter()
                .all(|b| b.how == How::Inferred && b.source == PurgeSource::InnodbTrx)
        );
        assert_eq!(
            found[1].age_s, 5,
            "a statement's view is as old as the statement"
        );
        assert_eq!(found[1].holds, Holds::ReadView);
    }

    #[test]
    fn mariadb_status_names_views_and_open_writers_exactly() {
        let status = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/fixtures/innodb_status/mariadb-10.11-read-views.txt"
        ))
        .unwrap();
        let threads = [
            trx_thread(76, "Sleep", "READ COMMITTED", 2, 1),
            trx_thread(77, "Sleep", "REPEATABLE READ", 1, 0),
            trx_thread(78, "Query", "REPEATABLE READ", 1, 0),
        ];
        let found = blockers(true, &threads, None, Some(&status));
        assert_eq!(pids(&found), [76, 77, 78], "both kinds, oldest first");
        assert_eq!(found[0].holds, Holds::Transaction);
        assert_eq!(found[1].holds, Holds::ReadView);
        assert!(
            found
                .iter()
                .all(|b| b.how == How::Exact && b.source == PurgeSource::InnodbStatus)
        );
    }

    #[test]
    fn mariadb_without_a_status_text_counts_open_writers() {
        let threads = [trx_thread(1, "Sleep", "READ COMMITTED", 60, 1)];
        assert_eq!(pids(&blockers(true, &threads, None, None)), [1]);
        assert!(blockers(false, &threads, None, None).is_empty());
    }
}
