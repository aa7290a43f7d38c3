//! Self-test of `tests/support/scenarios.rs`: each scenario, on every live server,
//! is checked with plain SQL against `information_schema`/`performance_schema`
//! (never through the scenario's own polling), so a scenario that silently does
//! nothing fails here. Every test cleans up before reporting a failed check, then
//! checks that cleanup really removed the sessions.

mod support;

use std::time::Duration;

use anyhow::{Context, Result, ensure};
use mysql_async::Conn;
use mysql_async::prelude::*;
use support::scenarios::{self, FILLER_USER};
use support::{TestServer, announce, servers};

/// Waiters in the pile-up test; enough to look like an incident, few enough to run in parallel.
const PILE_UP: usize = 50;

#[tokio::test]
async fn lock_wait_has_a_real_waiter() -> Result<()> {
    for server in servers() {
        announce("lock_wait_has_a_real_waiter", &server);
        let s = scenarios::lock_wait(&server).await?;
        let ids = [s.holder_id, s.waiter_id];
        let checked = check_lock_wait(&server, &s).await;
        s.cleanup().await?;
        checked?;
        assert_gone(&server, &ids).await?;
    }
    Ok(())
}

async fn check_lock_wait(server: &TestServer, s: &scenarios::LockWait) -> Result<()> {
    let mut conn = server.try_conn().await?;
    let flavor = Flavor::of(&mut conn).await?;
    ensure!(trx_state(&mut conn, s.waiter_id).await?.as_deref() == Some("LOCK WAIT"));
    ensure!(trx_state(&mut conn, s.holder_id).await?.as_deref() == Some("RUNNING"));
    ensure!(command(&mut conn, s.holder_id).await?.as_deref() == Some("Sleep"));
    ensure!(blockers(&mut conn, flavor, s.waiter_id).await? == [s.holder_id]);
    Ok(())
}

#[tokio::test]
async fn chain_blocks_c_behind_b_behind_idle_a() -> Result<()> {
    for server in servers() {
        announce("chain_blocks_c_behind_b_behind_idle_a", &server);
        let s = scenarios::chain(&server).await?;
        let ids = [s.a_id, s.b_id, s.c_id];
        let checked = check_chain(&server, &s).await;
        s.cleanup().await?;
        checked?;
        assert_gone(&server, &ids).await?;
    }
    Ok(())
}

async fn check_chain(server: &TestServer, s: &scenarios::Chain) -> Result<()> {
    let mut conn = server.try_conn().await?;
    let flavor = Flavor::of(&mut conn).await?;
    ensure!(trx_state(&mut conn, s.b_id).await?.as_deref() == Some("LOCK WAIT"));
    ensure!(trx_state(&mut conn, s.c_id).await?.as_deref() == Some("LOCK WAIT"));
    ensure!(trx_state(&mut conn, s.a_id).await?.as_deref() == Some("RUNNING"));
    ensure!(command(&mut conn, s.a_id).await?.as_deref() == Some("Sleep"));
    ensure!(blockers(&mut conn, flavor, s.b_id).await? == [s.a_id]);
    ensure!(blockers(&mut conn, flavor, s.c_id).await? == [s.b_id]);
    ensure!(s.a_last_statement.starts_with("UPDATE ") && s.a_last_statement.contains(&s.table));
    if flavor == Flavor::MySql {
        // performance_schema remembers an idle session's last statement verbatim.
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
    for server in servers() {
        announce("pile_up_queues_many_waiters_on_one_holder", &server);
        let s = scenarios::pile_up(&server, PILE_UP).await?;
        let mut ids = s.waiter_ids.clone();
        ids.push(s.holder_id);
        let checked = check_pile_up(&server, &s).await;
        s.cleanup().await?;
        checked?;
        assert_gone(&server, &ids).await?;
    }
    Ok(())
}

async fn check_pile_up(server: &TestServer, s: &scenarios::PileUp) -> Result<()> {
    let mut conn = server.try_conn().await?;
    let flavor = Flavor::of(&mut conn).await?;
    ensure!(s.waiter_ids.len() == PILE_UP);
    let sql = format!(
        "SELECT COUNT(*) FROM information_schema.INNODB_TRX \
         WHERE trx_state = 'LOCK WAIT' AND trx_mysql_thread_id IN ({})",
        ids_sql(&s.waiter_ids)
    );
    ensure!(
        count(&mut conn, &sql).await? == PILE_UP as u64,
        "not all waiters wait"
    );
    ensure!(command(&mut conn, s.holder_id).await?.as_deref() == Some("Sleep"));
    // Every waiter is blocked by the holder (and maybe by earlier waiters in the queue).
    for &waiter in &s.waiter_ids {
        let blocked_by = blockers(&mut conn, flavor, waiter).await?;
        ensure!(
            blocked_by.contains(&s.holder_id),
            "{waiter} blocked by {blocked_by:?}"
        );
    }
    Ok(())
}

#[tokio::test]
async fn deadlock_is_detected_and_reported() -> Result<()> {
    for server in servers() {
        announce("deadlock_is_detected_and_reported", &server);
        let s = scenarios::deadlock(&server).await?;
        let ids = [s.t1_id, s.t2_id];
        let checked = check_deadlock(&server, &s).await;
        s.cleanup().await?;
        checked?;
        assert_gone(&server, &ids).await?;
    }
    Ok(())
}

async fn check_deadlock(server: &TestServer, s: &scenarios::Deadlock) -> Result<()> {
    let mut conn = server.try_conn().await?;
    let errors = [s.t1_error, s.t2_error];
    ensure!(
        errors.iter().filter(|e| **e == Some(1213)).count() == 1,
        "{errors:?}"
    );
    ensure!(
        errors.iter().filter(|e| e.is_none()).count() == 1,
        "{errors:?}"
    );
    let survivor = if s.victim_id == s.t1_id {
        s.t2_id
    } else {
        s.t1_id
    };
    // The victim's transaction was rolled back; the survivor's is still open.
    ensure!(trx_state(&mut conn, s.victim_id).await?.is_none());
    ensure!(trx_state(&mut conn, survivor).await?.as_deref() == Some("RUNNING"));
    let status = scenarios::innodb_status(&mut conn).await?;
    let section = status
        .split("LATEST DETECTED DEADLOCK")
        .nth(1)
        .context("no LATEST DETECTED DEADLOCK section")?;
    let section = section.split("TRANSACTIONS\n").next().unwrap_or(section);
    for last in [s.t1_statements.last(), s.t2_statements.last()] {
        let last = last.context("no statements")?;
        ensure!(
            section.contains(last.as_str()),
            "deadlock section lacks {last:?}"
        );
    }
    ensure!(section.contains("WE ROLL BACK TRANSACTION"));
    Ok(())
}

#[tokio::test]
async fn history_grows_behind_an_open_snapshot() -> Result<()> {
    for server in servers() {
        announce("history_grows_behind_an_open_snapshot", &server);
        let s = scenarios::history_growth(&server).await?;
        let ids = [s.reader_id];
        let checked = check_history(&server, &s).await;
        s.cleanup().await?;
        checked?;
        assert_gone(&server, &ids).await?;
    }
    Ok(())
}

/// Purge may meanwhile remove history older than the reader's snapshot (say, from
/// another test), so each churn must show up as at least half its size.
async fn check_history(server: &TestServer, s: &scenarios::HistoryGrowth) -> Result<()> {
    let mut conn = server.try_conn().await?;
    ensure!(trx_state(&mut conn, s.reader_id).await?.as_deref() == Some("RUNNING"));
    ensure!(command(&mut conn, s.reader_id).await?.as_deref() == Some("Sleep"));
    let before = status_history_length(&mut conn).await?;
    ensure!(
        before >= s.baseline + s.initial_churn / 2,
        "{before} vs {}",
        s.baseline
    );
    let more = 1000;
    s.churn(more).await?;
    let after = status_history_length(&mut conn).await?;
    ensure!(
        after >= before + more / 2,
        "history {before} -> {after} after {more} updates"
    );
    let metric = scenarios::history_list_length(&mut conn).await;
    ensure!(metric >= before + more / 2, "INNODB_METRICS says {metric}");
    Ok(())
}

#[tokio::test]
async fn alter_waits_for_metadata_lock() -> Result<()> {
    for server in servers() {
        announce("alter_waits_for_metadata_lock", &server);
        let s = scenarios::metadata_lock_wait(&server).await?;
        let ids = [s.holder_id, s.alter_id];
        let checked = check_mdl(&server, &s).await;
        s.cleanup().await?;
        checked?;
        assert_gone(&server, &ids).await?;
    }
    Ok(())
}

async fn check_mdl(server: &TestServer, s: &scenarios::MetadataLockWait) -> Result<()> {
    let mut conn = server.try_conn().await?;
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
    ensure!(command(&mut conn, s.holder_id).await?.as_deref() == Some("Sleep"));
    if Flavor::of(&mut conn).await? == Flavor::MySql {
        let (_, table) = s.table.split_once('.').context("unqualified table")?;
        ensure!(mdl_status(&mut conn, s.alter_id, table, "PENDING").await? >= 1);
        ensure!(mdl_status(&mut conn, s.holder_id, table, "GRANTED").await? >= 1);
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
    for server in servers() {
        announce("fill_connections_reaches_the_fraction", &server);
        let s = scenarios::fill_connections(&server, 0.7).await?;
        let ids = s.ids.clone();
        let checked = check_fill(&server, &s).await;
        s.cleanup().await?;
        checked?;
        assert_gone(&server, &ids).await?;
    }
    Ok(())
}

async fn check_fill(server: &TestServer, s: &scenarios::FillConnections) -> Result<()> {
    let mut conn = server.try_conn().await?;
    let max: u64 = conn
        .query_first("SELECT @@max_connections")
        .await?
        .context("max")?;
    ensure!(s.max_connections == max);
    let target = ((max as f64 * 0.7).ceil() as u64).min(max - 40);
    ensure!(
        s.threads_connected_after >= target,
        "{}",
        s.threads_connected_after
    );
    ensure!(
        s.threads_connected_after <= max - 40 + 1,
        "left too few free slots"
    );
    ensure!(!s.ids.is_empty());
    let sql = format!(
        "SELECT COUNT(*) FROM information_schema.PROCESSLIST \
         WHERE USER = '{FILLER_USER}' AND COMMAND = 'Sleep' AND ID IN ({})",
        ids_sql(&s.ids)
    );
    ensure!(
        count(&mut conn, &sql).await? == s.ids.len() as u64,
        "fillers not all idle"
    );
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

/// The sessions blocking `waiter`'s lock request: MariaDB keeps the wait graph in
/// `information_schema.INNODB_LOCK_WAITS`, MySQL 8+ in `performance_schema.data_lock_waits`.
async fn blockers(conn: &mut Conn, flavor: Flavor, waiter: u64) -> Result<Vec<u64>> {
    let sql = match flavor {
        Flavor::MariaDb => {
            "SELECT DISTINCT b.trx_mysql_thread_id FROM information_schema.INNODB_LOCK_WAITS w \
             JOIN information_schema.INNODB_TRX r ON r.trx_id = w.requesting_trx_id \
             JOIN information_schema.INNODB_TRX b ON b.trx_id = w.blocking_trx_id \
             WHERE r.trx_mysql_thread_id = ? ORDER BY 1"
        }
        Flavor::MySql => {
            "SELECT DISTINCT bt.PROCESSLIST_ID FROM performance_schema.data_lock_waits w \
             JOIN performance_schema.threads rt ON rt.THREAD_ID = w.REQUESTING_THREAD_ID \
             JOIN performance_schema.threads bt ON bt.THREAD_ID = w.BLOCKING_THREAD_ID \
             WHERE rt.PROCESSLIST_ID = ? ORDER BY 1"
        }
    };
    Ok(conn.exec(sql, (waiter,)).await?)
}

/// `trx_state` of the session's InnoDB transaction, `None` without one.
async fn trx_state(conn: &mut Conn, id: u64) -> Result<Option<String>> {
    let sql = "SELECT trx_state FROM information_schema.INNODB_TRX WHERE trx_mysql_thread_id = ?";
    Ok(conn.exec_first(sql, (id,)).await?)
}

/// The session's processlist `COMMAND`, `None` if it is gone.
async fn command(conn: &mut Conn, id: u64) -> Result<Option<String>> {
    let sql = "SELECT COMMAND FROM information_schema.PROCESSLIST WHERE ID = ?";
    Ok(conn.exec_first(sql, (id,)).await?)
}

async fn count(conn: &mut Conn, sql: &str) -> Result<u64> {
    Ok(conn.query_first(sql).await?.unwrap_or(0))
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

/// Cleanup must have closed every session of the scenario (the server may take a moment).
async fn assert_gone(server: &TestServer, ids: &[u64]) -> Result<()> {
    let mut conn = server.try_conn().await?;
    let gone = scenarios::wait_gone(&mut conn, ids, Duration::from_secs(5)).await?;
    let left = scenarios::present(&mut conn, ids).await?;
    ensure!(gone, "sessions left after cleanup: {left:?}");
    conn.disconnect().await?;
    Ok(())
}
