//! Self-test of `tests/support/scenarios.rs`: each scenario, on every live server,
//! is checked with plain SQL against `information_schema`/`performance_schema`
//! (never through the scenario's own polling), so a scenario that silently does
//! nothing fails here. Every test cleans up before reporting a failed check, then
//! checks that cleanup really removed the sessions.

mod support;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use mysql_async::Conn;
use mysql_async::prelude::*;
use support::scenarios::{self, FILLER_USER};
use support::{TestServer, announce, servers};
use tokio::time::sleep;

/// Waiters in the pile-up test; enough to look like an incident, few enough to run in parallel.
const PILE_UP: usize = 50;
/// The fraction of `max_connections` the fill test asks for.
const FILL: f64 = 0.7;

#[tokio::test]
async fn lock_wait_has_a_real_waiter() -> Result<()> {
    run(
        "lock_wait_has_a_real_waiter",
        scenarios::lock_wait,
        check_lock_wait,
    )
    .await
}

async fn check_lock_wait(conn: &mut Conn, s: &scenarios::LockWait) -> Result<()> {
    eventually(async || {
        let trx = trx_states(conn, &[s.holder_id, s.waiter_id]).await?;
        ensure!(state(&trx, s.waiter_id) == Some("LOCK WAIT"), "{trx:?}");
        ensure!(state(&trx, s.holder_id) == Some("RUNNING"), "{trx:?}");
        ensure!(blockers(conn, &[s.waiter_id]).await? == [(s.waiter_id, s.holder_id)]);
        Ok(())
    })
    .await?;
    ensure!(command(conn, s.holder_id).await?.as_deref() == Some("Sleep"));
    Ok(())
}

#[tokio::test]
async fn chain_blocks_c_behind_b_behind_idle_a() -> Result<()> {
    run(
        "chain_blocks_c_behind_b_behind_idle_a",
        scenarios::chain,
        check_chain,
    )
    .await
}

async fn check_chain(conn: &mut Conn, s: &scenarios::Chain) -> Result<()> {
    eventually(async || {
        let trx = trx_states(conn, &[s.a_id, s.b_id, s.c_id]).await?;
        ensure!(state(&trx, s.a_id) == Some("RUNNING"), "{trx:?}");
        ensure!(state(&trx, s.b_id) == Some("LOCK WAIT"), "{trx:?}");
        ensure!(state(&trx, s.c_id) == Some("LOCK WAIT"), "{trx:?}");
        let edges = blockers(conn, &[s.b_id, s.c_id]).await?;
        ensure!(edges == [(s.b_id, s.a_id), (s.c_id, s.b_id)], "{edges:?}");
        Ok(())
    })
    .await?;
    ensure!(command(conn, s.a_id).await?.as_deref() == Some("Sleep"));
    ensure!(s.a_last_statement.starts_with("UPDATE ") && s.a_last_statement.contains(&s.table));
    if Flavor::of(conn).await? == Flavor::MySql {
        // performance_schema keeps an idle session's last statement verbatim.
        let sql = "SELECT e.SQL_TEXT FROM performance_schema.events_statements_current e \
                   JOIN performance_schema.threads t USING (THREAD_ID) WHERE t.PROCESSLIST_ID = ?";
        let last: Option<String> = conn.exec_first(sql, (s.a_id,)).await?;
        ensure!(
            last.as_deref() == Some(s.a_last_statement.as_str()),
            "A's last: {last:?}"
        );
    }
    Ok(())
}

#[tokio::test]
async fn pile_up_queues_many_waiters_on_one_holder() -> Result<()> {
    let setup = async |server: &TestServer| scenarios::pile_up(server, PILE_UP).await;
    run(
        "pile_up_queues_many_waiters_on_one_holder",
        setup,
        check_pile_up,
    )
    .await
}

async fn check_pile_up(conn: &mut Conn, s: &scenarios::PileUp) -> Result<()> {
    ensure!(s.waiter_ids.len() == PILE_UP);
    eventually(async || {
        let trx = trx_states(conn, &s.waiter_ids).await?;
        let waiting = trx.values().filter(|st| *st == "LOCK WAIT").count();
        ensure!(
            waiting == PILE_UP,
            "{waiting} of {PILE_UP} waiters in LOCK WAIT"
        );
        // Every waiter is blocked by the holder (and maybe by earlier waiters in the queue).
        let edges = blockers(conn, &s.waiter_ids).await?;
        let on_holder = edges.iter().filter(|(_, b)| *b == s.holder_id).count();
        ensure!(
            on_holder == PILE_UP,
            "{on_holder} of {PILE_UP} blocked by the holder"
        );
        Ok(())
    })
    .await?;
    ensure!(command(conn, s.holder_id).await?.as_deref() == Some("Sleep"));
    Ok(())
}

#[tokio::test]
async fn deadlock_is_detected_and_reported() -> Result<()> {
    run(
        "deadlock_is_detected_and_reported",
        scenarios::deadlock,
        check_deadlock,
    )
    .await
}

async fn check_deadlock(conn: &mut Conn, s: &scenarios::Deadlock) -> Result<()> {
    let errors = [s.t1_error, s.t2_error];
    ensure!(
        errors.contains(&Some(1213)) && errors.contains(&None),
        "{errors:?}"
    );
    let (victim, survivor) = if s.victim_id == s.t1_id {
        ("T1", s.t2_id)
    } else {
        ("T2", s.t1_id)
    };
    eprintln!("deadlock: victim {victim}");
    // The victim's transaction was rolled back; the survivor's is still open.
    eventually(async || {
        let trx = trx_states(conn, &[s.t1_id, s.t2_id]).await?;
        ensure!(trx.keys().eq([&survivor]), "{trx:?}");
        ensure!(state(&trx, survivor) == Some("RUNNING"), "{trx:?}");
        Ok(())
    })
    .await?;
    let status = scenarios::innodb_status(conn).await?;
    let section = status
        .split("LATEST DETECTED DEADLOCK")
        .nth(1)
        .context("no LATEST DETECTED DEADLOCK section")?;
    let section = section.split("TRANSACTIONS\n").next().unwrap_or(section);
    for last in [s.t1_statements.last(), s.t2_statements.last()] {
        let last = last.context("no statements")?;
        ensure!(
            section.contains(last.as_str()),
            "deadlock section lacks {last:?}:\n{section}"
        );
    }
    ensure!(section.contains("WE ROLL BACK TRANSACTION"));
    Ok(())
}

#[tokio::test]
async fn history_grows_behind_an_open_snapshot() -> Result<()> {
    run(
        "history_grows_behind_an_open_snapshot",
        scenarios::history_growth,
        check_history,
    )
    .await
}

/// Everything committed after the reader's snapshot must stay in the history
/// list, so its length is at least the total churned. (A difference from a
/// baseline would prove little: older history may be purged meanwhile, and MySQL
/// truncates the list lazily.)
async fn check_history(conn: &mut Conn, s: &scenarios::HistoryGrowth) -> Result<()> {
    check_reader(conn, s).await?;
    let first = status_history_length(conn).await?;
    ensure!(
        first >= s.initial_churn,
        "history list length {first} < {}",
        s.initial_churn
    );
    let more = 1000;
    s.churn(more).await?;
    let total = s.initial_churn + more;
    let after = status_history_length(conn).await?;
    ensure!(
        after >= total,
        "history list length {after} < {total} churned"
    );
    let metric = scenarios::history_list_length(conn).await;
    ensure!(metric >= total, "INNODB_METRICS says {metric} < {total}");
    Ok(())
}

/// The reader is idle inside its snapshot transaction. MariaDB also lists the
/// read view in `SHOW ENGINE INNODB STATUS` (MySQL 9 omits read-only transactions there).
async fn check_reader(conn: &mut Conn, s: &scenarios::HistoryGrowth) -> Result<()> {
    eventually(async || {
        let trx = trx_states(conn, &[s.reader_id]).await?;
        ensure!(state(&trx, s.reader_id) == Some("RUNNING"), "{trx:?}");
        Ok(())
    })
    .await?;
    ensure!(command(conn, s.reader_id).await?.as_deref() == Some("Sleep"));
    if Flavor::of(conn).await? == Flavor::MariaDb {
        let status = scenarios::innodb_status(conn).await?;
        let thread = format!("thread id {},", s.reader_id);
        let block = status.split("---TRANSACTION").find(|b| b.contains(&thread));
        let block = block.context("reader missing from SHOW ENGINE INNODB STATUS")?;
        ensure!(
            block.contains("Trx read view"),
            "reader has no read view: {block}"
        );
    }
    Ok(())
}

#[tokio::test]
async fn alter_waits_for_metadata_lock() -> Result<()> {
    run(
        "alter_waits_for_metadata_lock",
        scenarios::metadata_lock_wait,
        check_mdl,
    )
    .await
}

async fn check_mdl(conn: &mut Conn, s: &scenarios::MetadataLockWait) -> Result<()> {
    let sql = "SELECT STATE, INFO FROM information_schema.PROCESSLIST WHERE ID = ?";
    let row: Option<(Option<String>, Option<String>)> = conn.exec_first(sql, (s.alter_id,)).await?;
    let (state, info) = row.context("ALTER session gone")?;
    ensure!(
        state.as_deref() == Some("Waiting for table metadata lock"),
        "{state:?}"
    );
    ensure!(
        info.as_deref() == Some(s.alter_statement.as_str()),
        "{info:?}"
    );
    ensure!(command(conn, s.holder_id).await?.as_deref() == Some("Sleep"));
    if Flavor::of(conn).await? == Flavor::MySql {
        let (_, table) = s.table.split_once('.').context("unqualified table")?;
        ensure!(mdl_status(conn, s.alter_id, table, "PENDING").await? >= 1);
        ensure!(mdl_status(conn, s.holder_id, table, "GRANTED").await? >= 1);
    }
    Ok(())
}

/// Metadata locks on `table` of one session with the given status (MySQL only).
async fn mdl_status(conn: &mut Conn, id: u64, table: &str, status: &str) -> Result<u64> {
    let sql = "SELECT COUNT(*) FROM performance_schema.metadata_locks m \
               JOIN performance_schema.threads t ON t.THREAD_ID = m.OWNER_THREAD_ID \
               WHERE t.PROCESSLIST_ID = ? AND m.OBJECT_NAME = ? AND m.LOCK_STATUS = ?";
    let n: Option<u64> = conn.exec_first(sql, (id, table, status)).await?;
    Ok(n.unwrap_or(0))
}

#[tokio::test]
async fn fill_connections_reaches_the_fraction() -> Result<()> {
    let setup = async |server: &TestServer| scenarios::fill_connections(server, FILL).await;
    run("fill_connections_reaches_the_fraction", setup, check_fill).await
}

async fn check_fill(conn: &mut Conn, s: &scenarios::FillConnections) -> Result<()> {
    let max: u64 = conn
        .query_first("SELECT @@max_connections")
        .await?
        .context("max")?;
    ensure!(s.max_connections == max);
    let target = ((max as f64 * FILL).ceil() as u64).min(max - 40);
    let after = s.threads_connected_after;
    ensure!(after >= target, "Threads_connected {after} < {target}");
    ensure!(
        after <= max - 40 + 1,
        "Threads_connected {after}: too few free slots"
    );
    ensure!(!s.ids.is_empty());
    let sql = format!(
        "SELECT COUNT(*) FROM information_schema.PROCESSLIST \
         WHERE USER = '{FILLER_USER}' AND COMMAND = 'Sleep' AND ID IN ({})",
        ids_sql(&s.ids)
    );
    let idle: Option<u64> = conn.query_first(sql).await?;
    ensure!(
        idle == Some(s.ids.len() as u64),
        "{idle:?} of {} fillers idle",
        s.ids.len()
    );
    Ok(())
}

/// Tests may kill scenario sessions (that is what a triage tool suggests); cleanup
/// must still release the rest and drop the table.
#[tokio::test]
async fn cleanup_survives_killed_sessions() -> Result<()> {
    run(
        "cleanup_survives_killed_sessions",
        scenarios::chain,
        kill_a_and_b,
    )
    .await
}

/// Killing the idle head and the waiting middle of the chain lets C through.
async fn kill_a_and_b(conn: &mut Conn, s: &scenarios::Chain) -> Result<()> {
    for id in [s.a_id, s.b_id] {
        conn.query_drop(format!("KILL {id}")).await?;
    }
    Ok(())
}

/// What the runner needs of a scenario.
trait Scenario {
    fn ids(&self) -> Vec<u64>;
    fn table(&self) -> Option<&str>;
    async fn cleanup(self) -> Result<()>;
}

macro_rules! scenario {
    ($ty:ident, |$s:ident| $ids:expr, $table:expr) => {
        impl Scenario for scenarios::$ty {
            fn ids(&self) -> Vec<u64> {
                let $s = self;
                $ids
            }
            #[allow(unused_variables)] // FillConnections has no table
            fn table(&self) -> Option<&str> {
                let $s = self;
                $table
            }
            async fn cleanup(self) -> Result<()> {
                scenarios::$ty::cleanup(self).await
            }
        }
    };
}
scenario!(LockWait, |s| vec![s.holder_id, s.waiter_id], Some(&s.table));
scenario!(Chain, |s| vec![s.a_id, s.b_id, s.c_id], Some(&s.table));
scenario!(
    PileUp,
    |s| [&[s.holder_id][..], &s.waiter_ids].concat(),
    Some(&s.table)
);
scenario!(Deadlock, |s| vec![s.t1_id, s.t2_id], Some(&s.table));
scenario!(HistoryGrowth, |s| vec![s.reader_id], Some(&s.table));
scenario!(
    MetadataLockWait,
    |s| vec![s.holder_id, s.alter_id],
    Some(&s.table)
);
scenario!(FillConnections, |s| s.ids.clone(), None);

/// Runs `setup` on every server, then `check`, then cleanup (also when the check
/// failed, so a failure leaks nothing), then verifies cleanup closed every session
/// and dropped the table.
async fn run<S: Scenario>(
    test: &str,
    setup: impl AsyncFn(&TestServer) -> Result<S>,
    check: impl AsyncFn(&mut Conn, &S) -> Result<()>,
) -> Result<()> {
    for server in servers() {
        announce(test, &server);
        let mut probe = server.try_conn().await?;
        let start = Instant::now();
        let s = setup(&server).await?;
        eprintln!(
            "timing: {test} set up on {} in {:?}",
            server.name,
            start.elapsed()
        );
        let (ids, table) = (s.ids(), s.table().map(str::to_string));
        let checked = check(&mut probe, &s).await;
        s.cleanup().await?;
        checked.with_context(|| format!("{test} on {}", server.name))?;
        assert_gone(&mut probe, &ids, table.as_deref()).await?;
    }
    Ok(())
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Flavor {
    MariaDb,
    MySql,
}

impl Flavor {
    async fn of(conn: &mut Conn) -> Result<Flavor> {
        let version: String = conn
            .query_first("SELECT VERSION()")
            .await?
            .context("version")?;
        Ok(if version.to_ascii_lowercase().contains("mariadb") {
            Flavor::MariaDb
        } else {
            Flavor::MySql
        })
    }
}

/// `(waiter, blocker)` connection id pairs for the lock requests of `waiters`,
/// sorted: MariaDB keeps the wait graph in `information_schema.INNODB_LOCK_WAITS`,
/// MySQL 8+ in `performance_schema.data_lock_waits`.
async fn blockers(conn: &mut Conn, waiters: &[u64]) -> Result<Vec<(u64, u64)>> {
    let sql = match Flavor::of(conn).await? {
        Flavor::MariaDb => {
            "SELECT DISTINCT r.trx_mysql_thread_id, b.trx_mysql_thread_id \
             FROM information_schema.INNODB_LOCK_WAITS w \
             JOIN information_schema.INNODB_TRX r ON r.trx_id = w.requesting_trx_id \
             JOIN information_schema.INNODB_TRX b ON b.trx_id = w.blocking_trx_id \
             WHERE r.trx_mysql_thread_id IN ({}) ORDER BY 1, 2"
        }
        Flavor::MySql => {
            "SELECT DISTINCT rt.PROCESSLIST_ID, bt.PROCESSLIST_ID \
             FROM performance_schema.data_lock_waits w \
             JOIN performance_schema.threads rt ON rt.THREAD_ID = w.REQUESTING_THREAD_ID \
             JOIN performance_schema.threads bt ON bt.THREAD_ID = w.BLOCKING_THREAD_ID \
             WHERE rt.PROCESSLIST_ID IN ({}) ORDER BY 1, 2"
        }
    };
    Ok(conn.query(sql.replace("{}", &ids_sql(waiters))).await?)
}

/// `trx_state` by connection id for those of `ids` with an InnoDB transaction, in
/// one read of `INNODB_TRX` (each read can pin its snapshot, so read it sparingly).
async fn trx_states(conn: &mut Conn, ids: &[u64]) -> Result<HashMap<u64, String>> {
    let sql = format!(
        "SELECT trx_mysql_thread_id, trx_state FROM information_schema.INNODB_TRX \
         WHERE trx_mysql_thread_id IN ({})",
        ids_sql(ids)
    );
    Ok(conn.query(sql).await?.into_iter().collect())
}

fn state(trx: &HashMap<u64, String>, id: u64) -> Option<&str> {
    trx.get(&id).map(String::as_str)
}

/// The session's processlist `COMMAND`, `None` if it is gone.
async fn command(conn: &mut Conn, id: u64) -> Result<Option<String>> {
    let sql = "SELECT COMMAND FROM information_schema.PROCESSLIST WHERE ID = ?";
    Ok(conn.exec_first(sql, (id,)).await?)
}

/// The history list length as `SHOW ENGINE INNODB STATUS` prints it, independently
/// of the `INNODB_METRICS` reading the support code prefers.
async fn status_history_length(conn: &mut Conn) -> Result<u64> {
    let status = scenarios::innodb_status(conn).await?;
    let n = status
        .lines()
        .find_map(|l| l.strip_prefix("History list length "))
        .context("no History list length")?;
    Ok(n.trim().parse()?)
}

fn ids_sql(ids: &[u64]) -> String {
    ids.iter().map(u64::to_string).collect::<Vec<_>>().join(",")
}

/// Cleanup must have closed every session of the scenario (the server may take a
/// moment) and dropped its table.
async fn assert_gone(conn: &mut Conn, ids: &[u64], table: Option<&str>) -> Result<()> {
    let gone = scenarios::wait_gone(conn, ids, Duration::from_secs(5)).await?;
    let left = scenarios::present(conn, ids).await?;
    ensure!(gone, "sessions left after cleanup: {left:?}");
    let Some(table) = table else {
        return Ok(());
    };
    let (db, name) = table.split_once('.').context("unqualified table")?;
    let sql = "SELECT COUNT(*) FROM information_schema.TABLES \
               WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?";
    let tables: Option<u64> = conn.exec_first(sql, (db, name)).await?;
    ensure!(tables == Some(0), "table {table} left after cleanup");
    Ok(())
}

/// Retries `check` for up to 20 s. `INNODB_TRX` and `INNODB_LOCK_WAITS` come from
/// a snapshot that parallel tests may keep pinned by reading it; the jittered
/// pause leaves the gaps InnoDB needs to refresh it (see `scenarios::trx_cache_pause`).
async fn eventually(mut check: impl AsyncFnMut() -> Result<()>) -> Result<()> {
    let start = Instant::now();
    loop {
        match check().await {
            Ok(()) => return Ok(()),
            Err(e) if start.elapsed() > Duration::from_secs(20) => return Err(e),
            Err(_) => sleep(scenarios::trx_cache_pause()).await,
        }
    }
}
