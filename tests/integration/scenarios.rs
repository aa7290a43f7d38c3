//! Self-test of `tests/support/scenarios.rs`: each scenario, on every live server,
//! is checked with plain SQL against `information_schema`/`performance_schema`
//! (never through the scenario's own polling), so a scenario that silently does
//! nothing fails here. Every test cleans up before reporting a failed check, then
//! checks that cleanup really removed the sessions.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use mysql_async::Conn;
use mysql_async::prelude::*;

use crate::support::scenarios::{self, FILLER_USER};
use crate::support::{self, Flavor, TestServer, announce, metadata_lock_info_installed, servers};

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
    support::eventually("the waiter waits for the holder", async || {
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
    support::eventually("C waits behind B behind A", async || {
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
    support::eventually("every waiter waits for the holder", async || {
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
    support::eventually("only the survivor's transaction is left", async || {
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
    support::eventually("the reader holds its read view", async || {
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
    check_decoy(conn, s.decoy_id, &[s.holder_id, s.alter_id]).await?;
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

async fn check_global_read_lock(conn: &mut Conn, s: &scenarios::GlobalReadLock) -> Result<()> {
    let flavor = Flavor::of(conn).await?;
    let waiting = match flavor {
        Flavor::MySql => "Waiting for global read lock",
        Flavor::MariaDb => "Waiting for backup lock",
    };
    ensure_activity(conn, s.writer_id, "Query", waiting).await?;
    ensure_activity(conn, s.holder_id, "Sleep", "").await?;
    check_decoy(conn, s.decoy_id, &[s.holder_id, s.writer_id]).await?;
    ensure_no_trx(conn, &[s.holder_id, s.writer_id]).await?;
    if let Some(locks) = mdl_locks(conn, &[s.holder_id, s.writer_id]).await? {
        let scope = match flavor {
            Flavor::MySql => "GLOBAL",
            Flavor::MariaDb => "BACKUP",
        };
        ensure_lock(&locks, s.holder_id, scope, "GRANTED")?;
        ensure_lock(&locks, s.writer_id, scope, "PENDING")?;
    }
    Ok(())
}

#[tokio::test]
async fn table_flush_waits_behind_a_long_select() -> Result<()> {
    run(
        "table_flush_waits_behind_a_long_select",
        scenarios::table_flush,
        check_table_flush,
    )
    .await
}

async fn check_table_flush(conn: &mut Conn, s: &scenarios::TableFlush) -> Result<()> {
    let flavor = Flavor::of(conn).await?;
    let waiting = match flavor {
        Flavor::MySql => "Waiting for table flush",
        Flavor::MariaDb => "Waiting for table metadata lock",
    };
    ensure!(s.waiting_state == waiting, "{}", s.waiting_state);
    ensure_activity(conn, s.select_id, "Query", "User sleep").await?;
    ensure_activity(conn, s.flush_id, "Query", waiting).await?;
    ensure_activity(conn, s.reader_id, "Query", waiting).await?;
    check_decoy(conn, s.decoy_id, &[s.select_id, s.flush_id, s.reader_id]).await?;
    if let Some(locks) = mdl_locks(conn, &[s.select_id, s.flush_id, s.reader_id]).await? {
        ensure_lock(&locks, s.select_id, "TABLE", "GRANTED")?;
        match flavor {
            // MySQL's wait is on the table definition: the flush holds no metadata lock.
            Flavor::MySql => {
                ensure!(!locks.iter().any(|l| l.0 == s.flush_id), "{locks:?}");
                ensure_lock(&locks, s.reader_id, "TABLE", "GRANTED")?;
            }
            Flavor::MariaDb => {
                ensure_lock(&locks, s.flush_id, "TABLE", "PENDING")?;
                ensure_lock(&locks, s.reader_id, "TABLE", "PENDING")?;
            }
        }
    }
    // Only the named table is affected.
    other_tables_writable(conn).await
}

async fn check_ftwrl_behind_select(
    conn: &mut Conn,
    s: &scenarios::FtwrlBehindSelect,
) -> Result<()> {
    let flavor = Flavor::of(conn).await?;
    ensure_activity(conn, s.select_id, "Query", "User sleep").await?;
    match flavor {
        Flavor::MySql => {
            ensure!(s.ftwrl_waits);
            ensure_activity(conn, s.ftwrl_id, "Query", "Waiting for table flush").await?;
            ensure_activity(conn, s.writer_id, "Query", "Waiting for global read lock").await?;
        }
        Flavor::MariaDb => {
            ensure!(!s.ftwrl_waits);
            ensure_activity(conn, s.ftwrl_id, "Sleep", "").await?;
            ensure_activity(conn, s.writer_id, "Query", "Waiting for backup lock").await?;
        }
    }
    check_decoy(conn, s.decoy_id, &[s.select_id, s.ftwrl_id, s.writer_id]).await?;
    ensure_no_trx(conn, &[s.ftwrl_id, s.writer_id]).await?;
    if let Some(locks) = mdl_locks(conn, &[s.select_id, s.ftwrl_id, s.writer_id]).await? {
        let scope = match flavor {
            Flavor::MySql => "GLOBAL",
            Flavor::MariaDb => "BACKUP",
        };
        ensure_lock(&locks, s.select_id, "TABLE", "GRANTED")?;
        ensure_lock(&locks, s.ftwrl_id, scope, "GRANTED")?;
        ensure_lock(&locks, s.writer_id, scope, "PENDING")?;
    }
    Ok(())
}

#[tokio::test]
async fn get_lock_waits_for_an_idle_holder() -> Result<()> {
    run(
        "get_lock_waits_for_an_idle_holder",
        scenarios::user_lock,
        check_user_lock,
    )
    .await
}

async fn check_user_lock(conn: &mut Conn, s: &scenarios::UserLock) -> Result<()> {
    ensure_activity(conn, s.waiter_id, "Query", "User lock").await?;
    ensure_activity(conn, s.holder_id, "Sleep", "").await?;
    let owner: Option<Option<u64>> = conn
        .exec_first("SELECT IS_USED_LOCK(?)", (&s.lock_name,))
        .await?;
    ensure!(owner.flatten() == Some(s.holder_id), "{owner:?}");
    check_decoy(conn, s.decoy_id, &[s.holder_id, s.waiter_id]).await?;
    ensure_no_trx(conn, &[s.holder_id, s.waiter_id]).await?;
    if let Some(locks) = mdl_locks(conn, &[s.holder_id, s.waiter_id]).await? {
        ensure_lock(&locks, s.holder_id, "USER LEVEL LOCK", "GRANTED")?;
        ensure_lock(&locks, s.waiter_id, "USER LEVEL LOCK", "PENDING")?;
    }
    Ok(())
}

#[tokio::test]
async fn lock_tables_write_blocks_a_writer() -> Result<()> {
    run(
        "lock_tables_write_blocks_a_writer",
        scenarios::lock_tables,
        check_lock_tables,
    )
    .await
}

async fn check_lock_tables(conn: &mut Conn, s: &scenarios::LockTables) -> Result<()> {
    let waiting = "Waiting for table metadata lock";
    ensure_activity(conn, s.writer_id, "Query", waiting).await?;
    ensure_activity(conn, s.holder_id, "Sleep", "").await?;
    check_decoy(conn, s.decoy_id, &[s.holder_id, s.writer_id]).await?;
    ensure_no_trx(conn, &[s.holder_id, s.writer_id]).await?;
    if let Some(locks) = mdl_locks(conn, &[s.holder_id, s.writer_id]).await? {
        let held = ("TABLE", "SHARED_NO_READ_WRITE", "GRANTED");
        let wanted = ("TABLE", "SHARED_WRITE", "PENDING");
        for (id, (kind, mode, status)) in [(s.holder_id, held), (s.writer_id, wanted)] {
            ensure!(
                locks.contains(&(id, kind.into(), mode.into(), status.into())),
                "{id}: no {kind} {mode} {status} in {locks:?}"
            );
        }
    }
    Ok(())
}

#[tokio::test]
async fn purge_is_held_by_the_snapshot_not_the_older_writer() -> Result<()> {
    run(
        "purge_is_held_by_the_snapshot_not_the_older_writer",
        scenarios::purge_holders,
        check_purge_holders,
    )
    .await
}

async fn check_purge_holders(conn: &mut Conn, s: &scenarios::PurgeHolders) -> Result<()> {
    for id in [s.rc_writer_id, s.rr_snapshot_id] {
        ensure_activity(conn, id, "Sleep", "").await?;
    }
    // The RC writer is the older transaction, as a decoy would be.
    check_decoy(conn, s.rc_writer_id, &[s.rr_snapshot_id]).await?;
    let sql = format!(
        "SELECT trx_mysql_thread_id, trx_isolation_level FROM information_schema.INNODB_TRX \
         WHERE trx_mysql_thread_id IN ({})",
        ids_sql(&[s.rc_writer_id, s.rr_snapshot_id])
    );
    support::eventually("the purge holders are seen", async || {
        let levels: HashMap<u64, String> = conn.query(&sql).await?.into_iter().collect();
        ensure!(
            state(&levels, s.rc_writer_id) == Some("READ COMMITTED"),
            "{levels:?}"
        );
        ensure!(
            state(&levels, s.rr_snapshot_id) == Some("REPEATABLE READ"),
            "{levels:?}"
        );
        Ok(())
    })
    .await?;
    let length = status_history_length(conn).await?;
    ensure!(
        length >= scenarios::HISTORY_CHURN,
        "history list length {length}"
    );
    let status = scenarios::innodb_status(conn).await?;
    let rc = transaction_block(&status, s.rc_writer_id);
    let rr = transaction_block(&status, s.rr_snapshot_id);
    let rc = rc.context("RC writer missing from SHOW ENGINE INNODB STATUS")?;
    ensure!(
        !rc.contains("Trx read view"),
        "RC writer has a read view: {rc}"
    );
    match Flavor::of(conn).await? {
        Flavor::MariaDb => {
            let rr = rr.context("snapshot missing from SHOW ENGINE INNODB STATUS")?;
            ensure!(
                rr.contains("Trx read view will not see trx with id >= "),
                "snapshot has no read view: {rr}"
            );
        }
        // MySQL lists no read-only transaction there, so not the snapshot.
        Flavor::MySql => ensure!(rr.is_none(), "{rr:?}"),
    }
    Ok(())
}

#[tokio::test]
async fn killed_transaction_is_rolling_back() -> Result<()> {
    run(
        "killed_transaction_is_rolling_back",
        scenarios::rolling_back,
        check_rolling_back,
    )
    .await
}

async fn check_rolling_back(conn: &mut Conn, s: &scenarios::RollingBack) -> Result<()> {
    let sql = "SELECT trx_state, trx_rows_modified FROM information_schema.INNODB_TRX \
               WHERE trx_mysql_thread_id = ?";
    support::eventually("the killed transaction rolls back", async || {
        let row: Option<(String, u64)> = conn.exec_first(sql, (s.id,)).await?;
        let (trx_state, rows) = row.context("no transaction")?;
        ensure!(
            trx_state == "ROLLING BACK" && rows > 0,
            "{trx_state} {rows}"
        );
        Ok(())
    })
    .await?;
    match Flavor::of(conn).await? {
        Flavor::MariaDb => ensure_activity(conn, s.id, "Killed", "Rollback").await?,
        // MySQL drops a killed connection from the processlist at once.
        Flavor::MySql => ensure!(activity(conn, s.id).await?.is_none()),
    }
    check_decoy(conn, s.decoy_id, &[s.id]).await
}

/// The plugin's table really lists this session's locks.
async fn lists_own_user_lock(conn: &mut Conn) -> Result<()> {
    let name = format!("mytriage_test.plugin_probe_{}", std::process::id());
    conn.exec_drop("SELECT GET_LOCK(?, 0)", (&name,)).await?;
    let sql = "SELECT COUNT(*) FROM information_schema.METADATA_LOCK_INFO \
               WHERE THREAD_ID = CONNECTION_ID() AND LOCK_TYPE = 'User lock' AND TABLE_SCHEMA = ?";
    let n: Option<u64> = conn.exec_first(sql, (&name,)).await?;
    conn.exec_drop("SELECT RELEASE_LOCK(?)", (&name,)).await?;
    ensure!(n == Some(1), "{n:?} rows for the user lock {name}");
    Ok(())
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
    |s| vec![s.decoy_id, s.holder_id, s.alter_id],
    Some(&s.table)
);
scenario!(FillConnections, |s| s.ids.clone(), None);
scenario!(
    GlobalReadLock,
    |s| vec![s.decoy_id, s.holder_id, s.writer_id],
    Some(&s.table)
);
scenario!(
    TableFlush,
    |s| vec![s.decoy_id, s.select_id, s.flush_id, s.reader_id],
    Some(&s.table)
);
scenario!(
    FtwrlBehindSelect,
    |s| vec![s.decoy_id, s.select_id, s.ftwrl_id, s.writer_id],
    Some(&s.table)
);
scenario!(
    UserLock,
    |s| vec![s.decoy_id, s.holder_id, s.waiter_id],
    None
);
scenario!(
    LockTables,
    |s| vec![s.decoy_id, s.holder_id, s.writer_id],
    Some(&s.table)
);
scenario!(
    PurgeHolders,
    |s| vec![s.rc_writer_id, s.rr_snapshot_id],
    Some(&s.table)
);
scenario!(RollingBack, |s| vec![s.decoy_id, s.id], Some(&s.table));

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

/// The session's processlist `COMMAND` and `STATE` (`""` for none), `None` if it is gone.
async fn activity(conn: &mut Conn, id: u64) -> Result<Option<(String, String)>> {
    let sql =
        "SELECT COMMAND, COALESCE(STATE, '') FROM information_schema.PROCESSLIST WHERE ID = ?";
    Ok(conn.exec_first(sql, (id,)).await?)
}

async fn ensure_activity(conn: &mut Conn, id: u64, command: &str, state: &str) -> Result<()> {
    let seen = activity(conn, id).await?;
    let want = (command.to_string(), state.to_string());
    ensure!(
        seen.as_ref() == Some(&want),
        "connection {id}: {seen:?}, expected {want:?}"
    );
    Ok(())
}

/// The decoy sits idle in the oldest transaction: `RUNNING`, started strictly
/// earlier (by the one-second `trx_started` clock) than every transaction of `others`.
async fn check_decoy(conn: &mut Conn, decoy: u64, others: &[u64]) -> Result<()> {
    ensure!(command(conn, decoy).await?.as_deref() == Some("Sleep"));
    let ids = [&[decoy][..], others].concat();
    let sql = format!(
        "SELECT trx_mysql_thread_id, trx_state, CAST(trx_started AS CHAR) \
         FROM information_schema.INNODB_TRX WHERE trx_mysql_thread_id IN ({})",
        ids_sql(&ids)
    );
    support::eventually("the decoy is the oldest transaction", async || {
        let trx: Vec<(u64, String, String)> = conn.query(&sql).await?;
        let started = trx.iter().find(|t| t.0 == decoy && t.1 == "RUNNING");
        let (_, _, started) = started.with_context(|| format!("decoy not RUNNING: {trx:?}"))?;
        let younger = trx.iter().filter(|t| t.0 != decoy).all(|t| t.2 > *started);
        ensure!(younger, "decoy is not the oldest: {trx:?}");
        Ok(())
    })
    .await
}

/// None of `ids` has an InnoDB transaction.
async fn ensure_no_trx(conn: &mut Conn, ids: &[u64]) -> Result<()> {
    support::eventually("no transactions left", async || {
        let trx = trx_states(conn, ids).await?;
        ensure!(trx.is_empty(), "unexpected transactions: {trx:?}");
        Ok(())
    })
    .await
}

/// `(connection id, OBJECT_TYPE, LOCK_TYPE, LOCK_STATUS)` of the metadata locks of
/// `ids` in performance_schema, or `None` where it does not instrument them
/// (MariaDB without performance_schema or without the MDL instrument).
async fn mdl_locks(
    conn: &mut Conn,
    ids: &[u64],
) -> Result<Option<Vec<(u64, String, String, String)>>> {
    let sql = "SELECT COUNT(*) FROM performance_schema.setup_instruments \
               WHERE NAME = 'wait/lock/metadata/sql/mdl' AND ENABLED = 'YES'";
    let on: Option<u64> = conn.query_first(sql).await?;
    if on != Some(1) {
        return Ok(None);
    }
    let sql = format!(
        "SELECT t.PROCESSLIST_ID, m.OBJECT_TYPE, m.LOCK_TYPE, m.LOCK_STATUS \
         FROM performance_schema.metadata_locks m \
         JOIN performance_schema.threads t ON t.THREAD_ID = m.OWNER_THREAD_ID \
         WHERE t.PROCESSLIST_ID IN ({})",
        ids_sql(ids)
    );
    Ok(Some(conn.query(sql).await?))
}

fn ensure_lock(
    locks: &[(u64, String, String, String)],
    id: u64,
    kind: &str,
    status: &str,
) -> Result<()> {
    let found = locks
        .iter()
        .any(|l| l.0 == id && l.1 == kind && l.3 == status);
    ensure!(found, "{id}: no {status} {kind} lock in {locks:?}");
    Ok(())
}

/// The `---TRANSACTION` block of `SHOW ENGINE INNODB STATUS` for connection `id`.
fn transaction_block(status: &str, id: u64) -> Option<&str> {
    let thread = format!(" thread id {id},");
    status.split("---TRANSACTION").find(|b| b.contains(&thread))
}

/// A table of the test's own can still be created, written and dropped at once.
async fn other_tables_writable(conn: &mut Conn) -> Result<()> {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .subsec_nanos();
    let table = format!("mytriage_test.probe_{}_{nanos}", std::process::id());
    let statements = [
        format!("CREATE TABLE {table} (id INT PRIMARY KEY) ENGINE=InnoDB"),
        format!("INSERT INTO {table} VALUES (1)"),
        format!("DROP TABLE {table}"),
    ];
    for statement in statements {
        tokio::time::timeout(Duration::from_secs(5), conn.query_drop(&statement))
            .await
            .with_context(|| format!("blocked: {statement}"))??;
    }
    Ok(())
}

/// Tests that judge or change the whole server: nextest runs each alone
/// (`.config/nextest.toml`: threads-required = all).
mod exclusive {
    use super::*;

    #[tokio::test]
    async fn exclusive_global_read_lock_freezes_writers() -> Result<()> {
        run(
            "exclusive_global_read_lock_freezes_writers",
            scenarios::global_read_lock,
            check_global_read_lock,
        )
        .await
    }

    #[tokio::test]
    async fn exclusive_ftwrl_waits_behind_a_long_select() -> Result<()> {
        run(
            "exclusive_ftwrl_waits_behind_a_long_select",
            scenarios::ftwrl_behind_select,
            check_ftwrl_behind_select,
        )
        .await
    }

    #[tokio::test]
    async fn exclusive_metadata_lock_info_guard_installs_and_restores() -> Result<()> {
        for server in servers() {
            announce(
                "exclusive_metadata_lock_info_guard_installs_and_restores",
                &server,
            );
            let mut conn = server.try_conn().await?;
            let mariadb = Flavor::of(&mut conn).await? == Flavor::MariaDb;
            let before = metadata_lock_info_installed(&mut conn).await;
            for wanted in [!before, before, true, false] {
                let guard = server.metadata_lock_info(wanted).await;
                let now = metadata_lock_info_installed(&mut conn).await;
                let lists = if now {
                    lists_own_user_lock(&mut conn).await
                } else {
                    Ok(())
                };
                guard.restore().await;
                let after = metadata_lock_info_installed(&mut conn).await;
                let name = &server.name;
                ensure!(after == before, "{name}: {before} -> {after} after restore");
                ensure!(
                    now == (wanted && mariadb),
                    "{name}: wanted {wanted}, got {now}"
                );
                lists.with_context(|| format!("{name}: METADATA_LOCK_INFO"))?;
            }
        }
        Ok(())
    }
}

/// Tests that create deadlocks: InnoDB keeps only the latest, so nextest runs them one at a
/// time (`.config/nextest.toml`: the `deadlocks` group).
mod deadlock {
    use super::*;

    #[tokio::test]
    async fn deadlock_is_detected_and_reported() -> Result<()> {
        run(
            "deadlock_is_detected_and_reported",
            scenarios::deadlock,
            check_deadlock,
        )
        .await
    }
}
