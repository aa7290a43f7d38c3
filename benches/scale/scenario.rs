//! The data set-up and the pile-up: a big table, idle connections, and one transaction holding a
//! row lock on every row with many sessions waiting behind it.
//!
//! This is not `support::scenarios::pile_up`, nor its `fill_connections`, and should stay apart
//! from them: those make the smallest condition a test can assert on, this one the largest a
//! triage tool must survive, and what the bench measures lies in the differences.
//! - The holder locks all `--rows` (300,000) rows of one table (`SELECT ... FOR UPDATE`), so the
//!   lock tables hold that many rows: their scan is the cost measured. A test pile-up locks one
//!   row of a one-row table and would measure nothing.
//! - Waiters either spread over those rows or all wait on one ("hot row": N*(N+1)/2 queue edges);
//!   a test pile-up has only the hot row.
//! - Hundreds of waiters and thousands of idle connections open `conns::OPEN_CONCURRENCY` at a time, as
//!   root and by exact count; `fill_connections` opens a filler user up to a fraction of
//!   max_connections (never within 40 of it), and every support scenario must show up within
//!   15 s, which 5,000 connections on a small machine need not.
//! - LOCK WAIT is read from `INNODB_TRX` (polled at support's `trx_cache_pause` by `conns::all_waiting`), not from
//!   `SHOW ENGINE INNODB STATUS` as support does: InnoDB caps that text at 1 MB by cutting the
//!   transaction list, which hundreds of waiters and a thousand sessions can reach, and a waiter
//!   cut out would stall the set-up.
//! - One fixed database, `mytriage_bench`, dropped at the end, where support makes a uniquely named
//!   table per scenario in `mytriage_test`.
//!
//! What the two share comes from support: the server list, [`Flavor`], connections
//! (`TestServer::try_conn`), the max_connections guard and the `INNODB_TRX` polling pause.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use mysql_async::Conn;
use mysql_async::prelude::*;

use crate::args::{Args, Variant};
use crate::conns::{Waiter, all_waiting, blocked_update, open_many};
use crate::measure::wait_for_quiet;
use crate::server::Server;
use crate::support::Flavor;

/// Where the scenario's table lives; dropped and re-created on every run.
pub(crate) const DB: &str = "mytriage_bench";
pub(crate) const TABLE: &str = "mytriage_bench.t";
pub(crate) async fn create_table(admin: &mut Conn, flavor: Flavor, rows: u32) -> Result<()> {
    let fill = match flavor {
        Flavor::MySql => format!(
            "INSERT INTO {TABLE} (id, v) WITH RECURSIVE seq (n) AS \
             (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < {rows}) SELECT n, 0 FROM seq"
        ),
        Flavor::MariaDb => {
            format!("INSERT INTO {TABLE} (id, v) SELECT seq, 0 FROM {DB}.seq_1_to_{rows}")
        }
    };
    let mut statements = vec![
        format!("CREATE DATABASE IF NOT EXISTS {DB}"),
        format!("DROP TABLE IF EXISTS {TABLE}"),
        format!("CREATE TABLE {TABLE} (id INT NOT NULL PRIMARY KEY, v INT NOT NULL) ENGINE=InnoDB"),
    ];
    if flavor == Flavor::MySql {
        statements.push(format!(
            "SET SESSION cte_max_recursion_depth = {}",
            u64::from(rows) + 1
        ));
    }
    statements.push(fill);
    for statement in statements {
        admin
            .query_drop(&statement)
            .await
            .with_context(|| statement.clone())?;
    }
    let count: u64 = admin
        .query_first(format!("SELECT COUNT(*) FROM {TABLE}"))
        .await?
        .unwrap_or(0);
    ensure!(
        count == u64::from(rows),
        "{TABLE} has {count} rows, not {rows}"
    );
    Ok(())
}

/// The holder and its waiters.
pub(crate) struct LockScenario {
    pub(crate) holder: Conn,
    pub(crate) holder_id: u64,
    pub(crate) rows_locked: u64,
    pub(crate) waiter_ids: Vec<u64>,
    pub(crate) waiters: Vec<Waiter>,
    /// Rows in the server's lock-wait table while measuring.
    pub(crate) wait_edges: u64,
    /// InnoDB transactions of other clients while measuring.
    pub(crate) other_trx: u64,
}

impl LockScenario {
    pub(crate) async fn start(
        server: &Server,
        admin: &mut Conn,
        args: &Args,
        variant: Variant,
    ) -> Result<Self> {
        eprintln!(
            "bench: {} / {}: holder locks every row, {} waiters",
            server.name,
            variant.name(),
            args.waiters
        );
        wait_for_quiet(admin, args.quiet_wait, 0).await?;
        let mut holder = server.test.try_conn().await?;
        let holder_id = u64::from(holder.id());
        for statement in [
            "SET SESSION innodb_lock_wait_timeout = 600".to_owned(),
            "START TRANSACTION".to_owned(),
            format!("SELECT COUNT(*) FROM {TABLE} FOR UPDATE"),
        ] {
            holder
                .query_drop(&statement)
                .await
                .with_context(|| statement.clone())?;
        }
        let mut scenario = LockScenario {
            holder,
            holder_id,
            rows_locked: 0,
            waiter_ids: Vec::new(),
            waiters: Vec::new(),
            wait_edges: 0,
            other_trx: 0,
        };
        if let Err(e) = scenario.add_waiters(server, admin, args, variant).await {
            let _ = scenario.stop(admin).await;
            return Err(e);
        }
        Ok(scenario)
    }

    async fn add_waiters(
        &mut self,
        server: &Server,
        admin: &mut Conn,
        args: &Args,
        variant: Variant,
    ) -> Result<()> {
        let conns = open_many(&server.opts, args.waiters).await?;
        let step = args.rows as usize / args.waiters;
        for (i, conn) in conns.into_iter().enumerate() {
            let row = match variant {
                Variant::Spread => 1 + i * step,
                Variant::HotRow => 1,
            };
            self.waiter_ids.push(u64::from(conn.id()));
            let update = format!("UPDATE {TABLE} SET v = v + 1 WHERE id = {row}");
            self.waiters.push(blocked_update(conn, update));
        }
        let started = Instant::now();
        all_waiting(
            admin,
            &self.waiter_ids,
            &self.waiters,
            Duration::from_secs(120),
        )
        .await?;
        self.rows_locked = admin
            .query_first(format!(
                "SELECT trx_rows_locked FROM information_schema.INNODB_TRX \
                 WHERE trx_mysql_thread_id = {}",
                self.holder_id
            ))
            .await?
            .unwrap_or(0);
        self.wait_edges = admin
            .query_first(format!(
                "SELECT COUNT(*) FROM {}",
                server.lock_waits_table()
            ))
            .await?
            .unwrap_or(0);
        let all_trx: u64 = admin
            .query_first("SELECT COUNT(*) FROM information_schema.INNODB_TRX")
            .await?
            .unwrap_or(0);
        self.other_trx = all_trx.saturating_sub(1 + self.waiter_ids.len() as u64);
        if self.other_trx > 0 {
            eprintln!(
                "bench: WARNING: {} transactions of other clients on the server",
                self.other_trx
            );
        }
        eprintln!(
            "bench: holder pid {} has {} rows locked; {} waiters in LOCK WAIT; {} rows in {} \
             (after {:.1} s)",
            self.holder_id,
            self.rows_locked,
            self.waiter_ids.len(),
            self.wait_edges,
            server.lock_waits_table(),
            started.elapsed().as_secs_f64()
        );
        Ok(())
    }

    /// Rolls the holder back, lets the waiters finish, and closes their connections.
    pub(crate) async fn stop(self, admin: &mut Conn) -> Result<()> {
        let LockScenario {
            mut holder,
            waiter_ids,
            waiters,
            ..
        } = self;
        let _ = holder.query_drop("ROLLBACK").await;
        let _ = holder.disconnect().await;
        let mut failed = 0;
        let mut stuck = Vec::new();
        for (id, waiter) in waiter_ids.iter().zip(waiters) {
            match tokio::time::timeout(Duration::from_secs(60), waiter).await {
                Ok(Ok((conn, result))) => {
                    if result.is_err() {
                        failed += 1;
                    }
                    let _ = conn.disconnect().await;
                }
                Ok(Err(_)) => failed += 1,
                Err(_) => stuck.push(*id),
            }
        }
        for id in &stuck {
            let _ = admin.query_drop(format!("KILL {id}")).await;
        }
        ensure!(
            stuck.is_empty(),
            "{} waiters still blocked 60 s after the holder rolled back (killed)",
            stuck.len()
        );
        if failed > 0 {
            eprintln!("bench: WARNING: {failed} waiters ended with an error");
        }
        Ok(())
    }
}
