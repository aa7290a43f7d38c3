//! Many connections for the benchmarks' pile-ups, opened and closed a bounded number at a time
//! (shared by `benches/scale` and `benches/console.rs` through `#[path]`).

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Opts};
use tokio::task::JoinSet;

/// Connections opened at once: enough to be quick, few enough not to trip the server's backlog.
pub(crate) const OPEN_CONCURRENCY: usize = 50;

/// Opens `n` connections, `OPEN_CONCURRENCY` at a time.
pub(crate) async fn open_many(opts: &Opts, n: usize) -> Result<Vec<Conn>> {
    let mut conns = Vec::with_capacity(n);
    let mut pending = JoinSet::new();
    let mut started = 0;
    while conns.len() < n {
        while started < n && pending.len() < OPEN_CONCURRENCY {
            let opts = opts.clone();
            pending.spawn(async move { Conn::new(opts).await });
            started += 1;
        }
        match pending.join_next().await {
            Some(joined) => match joined.context("connection task")? {
                Ok(conn) => conns.push(conn),
                Err(e) => {
                    pending.abort_all();
                    close_many(conns).await;
                    return Err(e).context("opening connections");
                }
            },
            None => break,
        }
    }
    Ok(conns)
}

/// Disconnects, 100 at a time; errors are ignored (the server drops them anyway).
pub(crate) async fn close_many(conns: Vec<Conn>) {
    let mut pending = JoinSet::new();
    for conn in conns {
        if pending.len() >= 100 {
            let _ = pending.join_next().await;
        }
        pending.spawn(async move {
            let _ = conn.disconnect().await;
        });
    }
    while pending.join_next().await.is_some() {}
}

/// A session's `UPDATE` that blocks on a held row, in a task that gives the connection (and the
/// statement's result) back once the row is freed or the wait times out.
pub(crate) type Waiter =
    tokio::task::JoinHandle<(Conn, std::result::Result<(), mysql_async::Error>)>;

/// Runs `update` on `conn` in a task, after a lock wait timeout long enough for any benchmark.
pub(crate) fn blocked_update(mut conn: Conn, update: String) -> Waiter {
    tokio::spawn(async move {
        let result = async {
            conn.query_drop("SET SESSION innodb_lock_wait_timeout = 600")
                .await?;
            conn.query_drop(update).await
        }
        .await;
        (conn, result)
    })
}

/// Waits until every waiter (by connection id) is in LOCK WAIT, as `INNODB_TRX` says, polled at
/// support's [`trx_cache_pause`](crate::support::scenarios::trx_cache_pause); fails when one
/// ends instead (it should block) or when `limit` passes.
pub(crate) async fn all_waiting(
    admin: &mut Conn,
    ids: &[u64],
    waiters: &[Waiter],
    limit: Duration,
) -> Result<()> {
    let list = ids.iter().map(u64::to_string).collect::<Vec<_>>().join(",");
    let started = Instant::now();
    loop {
        if let Some(done) = waiters.iter().position(Waiter::is_finished) {
            bail!("waiter {} ended (it should block)", ids[done]);
        }
        let waiting: u64 = admin
            .query_first(format!(
                "SELECT COUNT(*) FROM information_schema.INNODB_TRX \
                 WHERE trx_state = 'LOCK WAIT' AND trx_mysql_thread_id IN ({list})"
            ))
            .await?
            .unwrap_or(0);
        if waiting as usize == ids.len() {
            return Ok(());
        }
        ensure!(
            started.elapsed() < limit,
            "only {waiting} of {} waiters in LOCK WAIT after {} s",
            ids.len(),
            limit.as_secs()
        );
        tokio::time::sleep(crate::support::scenarios::trx_cache_pause()).await;
    }
}
