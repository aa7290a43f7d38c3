//! Real incident conditions, created on a live MySQL or MariaDB server.
//!
//! Each scenario creates its own uniquely named table in [`DB`] (so parallel test
//! processes never collide), builds the condition with real sessions, and returns
//! only once the server itself shows it, polled for up to [`ESTABLISH_TIMEOUT`];
//! a scenario that silently did nothing is an error. Blocking statements run in
//! spawned tokio tasks that own their connection.
//!
//! Lock waits are confirmed from `SHOW ENGINE INNODB STATUS`, not `INNODB_TRX`:
//! the latter is a snapshot InnoDB refreshes only after 100 ms without readers,
//! so polling it (especially from many parallel tests) can pin a stale view for
//! seconds. Code asserting on `INNODB_TRX` should retry; see [`trx_cache_pause`].
//!
//! Every scenario's `cleanup()` releases what it made: long-running statements
//! that block others are stopped (`KILL QUERY`) and server-level locks (`FLUSH
//! TABLES WITH READ LOCK`, `LOCK TABLES`) released first, then idle holders are
//! rolled back (that is what lets the waiters finish), then the waiter tasks are
//! awaited and their sessions closed, stragglers are killed, and the table is
//! dropped. It tolerates sessions the test killed itself. If a scenario fails
//! half-way it cleans up before returning the error.
//!
//! Most scenarios start with a *decoy* (see `Scope::decoy`): an older, unrelated
//! transaction idle on a table of its own, so that "the oldest transaction" is
//! never the culprit by accident.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, anyhow, bail, ensure};
use mysql_async::prelude::*;
use mysql_async::{Conn, Opts, Row};
use tokio::task::JoinHandle;
use tokio::time::{sleep, timeout};

use super::TestServer;

/// Database holding every scenario table.
pub const DB: &str = "mytriage_test";
/// Non-root user owning the connections of [`fill_connections`].
pub const FILLER_USER: &str = "mytriage_filler";
/// How long a scenario may take to show up on the server before it counts as failed.
pub const ESTABLISH_TIMEOUT: Duration = Duration::from_secs(15);
/// Session lock timeouts (s): waiters must not give up while a test looks at them.
const LOCK_TIMEOUT_SECS: u32 = 300;
/// Connection slots [`fill_connections`] always leaves for tests running in parallel.
const FREE_SLOTS: u64 = 40;
/// How much older the decoy's transaction is made than the scenario's own: more
/// than one tick of the one-second `trx_started` clock.
const DECOY_LEAD: Duration = Duration::from_millis(1100);
/// Committed updates [`history_growth`] and [`purge_holders`] make before they return.
pub const HISTORY_CHURN: u64 = 2000;
/// The rows the waiting statements target.
const ROW_1: u32 = 1;
const ROW_2: u32 = 2;

/// What a waiter task hands back: its connection (even if the statement failed,
/// so cleanup can close it) and the statement's result.
type Outcome = (Conn, std::result::Result<(), mysql_async::Error>);

struct Waiter {
    id: u64,
    task: JoinHandle<Outcome>,
}

/// Everything a scenario created, so one cleanup path serves all scenarios.
struct Scope {
    server: TestServer,
    /// Root session used for polling, named locks, KILL and DROP; never part of a scenario.
    admin: Conn,
    /// Idle sessions (holders, fillers); rolled back first at cleanup.
    sessions: Vec<Conn>,
    waiters: Vec<Waiter>,
    /// Every scenario connection id, to find stragglers at cleanup.
    ids: Vec<u64>,
    tables: Vec<String>,
    /// Connections whose running statement cleanup stops first (`KILL QUERY`).
    kill_queries: Vec<u64>,
    /// Connections (idle or waiting) holding a server-level lock; released right
    /// after `kill_queries`, before anything else.
    unlock_first: Vec<u64>,
}

impl Scope {
    async fn new(server: &TestServer) -> Result<Self> {
        let (admin, _) = open(&server.opts()).await?;
        Ok(Scope {
            server: server.clone(),
            admin,
            sessions: Vec::new(),
            waiters: Vec::new(),
            ids: Vec::new(),
            tables: Vec::new(),
            kill_queries: Vec::new(),
            unlock_first: Vec::new(),
        })
    }

    /// Whether the server is MariaDB (asked on the admin session).
    async fn is_mariadb(&mut self) -> Result<bool> {
        let version: String = self
            .admin
            .query_first("SELECT VERSION()")
            .await?
            .context("no VERSION()")?;
        Ok(version.to_ascii_lowercase().contains("mariadb"))
    }

    /// The decoy: an older, unrelated transaction, `BEGIN; UPDATE <own table> SET
    /// v = v + 1 WHERE id = 1`, left idle (command Sleep) until cleanup. Created
    /// first, and followed by a pause of [`DECOY_LEAD`], so its `trx_started` is
    /// strictly earlier than that of any transaction the scenario opens after it.
    /// Returns its connection id.
    async fn decoy(&mut self) -> Result<u64> {
        let table = self.table("decoy", 1).await?;
        let id = self.hold(&["BEGIN", &update(&table, ROW_1, 1)]).await?;
        sleep(DECOY_LEAD).await;
        Ok(id)
    }

    /// Creates `DB.<kind>_<unique>` with rows `1..=rows` (`v = 0`), returning its qualified name.
    async fn table(&mut self, kind: &str, rows: u32) -> Result<String> {
        let table = format!("{DB}.{}", unique_name(kind));
        let create = format!(
            "CREATE TABLE {table} (id INT PRIMARY KEY, v INT NOT NULL DEFAULT 0) ENGINE=InnoDB"
        );
        let values: Vec<String> = (1..=rows).map(|i| format!("({i})")).collect();
        self.admin
            .query_drop(format!("CREATE DATABASE IF NOT EXISTS {DB}"))
            .await?;
        self.admin.query_drop(create).await?;
        self.tables.push(table.clone());
        let insert = format!("INSERT INTO {table} (id) VALUES {}", values.join(","));
        self.admin.query_drop(insert).await?;
        Ok(table)
    }

    /// Opens a scenario session and runs `stmts` on it (synchronously, nothing may block).
    async fn prepare(&mut self, stmts: &[&str]) -> Result<(Conn, u64)> {
        let (mut conn, id) = open(&self.server.opts()).await?;
        self.ids.push(id);
        for stmt in stmts {
            conn.query_drop(*stmt)
                .await
                .with_context(|| format!("connection {id}: {stmt}"))?;
        }
        Ok((conn, id))
    }

    /// A session that runs `stmts` and then sits idle (command Sleep) until cleanup.
    async fn hold(&mut self, stmts: &[&str]) -> Result<u64> {
        let (conn, id) = self.prepare(stmts).await?;
        self.sessions.push(conn);
        Ok(id)
    }

    /// Runs `sql` on `conn` in a spawned task; it may block for as long as it likes.
    fn spawn(&mut self, mut conn: Conn, id: u64, sql: String) {
        let task = tokio::spawn(async move {
            let result = conn.query_drop(sql).await;
            (conn, result)
        });
        self.waiters.push(Waiter { id, task });
    }

    /// A new session that runs `setup`, then `sql` in a task (the waiting statement).
    async fn wait_on(&mut self, setup: &[&str], sql: String) -> Result<u64> {
        let (conn, id) = self.prepare(setup).await?;
        self.spawn(conn, id, sql);
        Ok(id)
    }

    /// Polls `count` (on the admin session) every `pause()` until it reaches `want`.
    /// Fails early if a waiting statement ended, since then the condition can never appear.
    async fn until(
        &mut self,
        what: &str,
        want: u64,
        pause: fn() -> Duration,
        mut count: impl AsyncFnMut(&mut Conn) -> Result<u64>,
    ) -> Result<()> {
        let start = Instant::now();
        loop {
            let seen = count(&mut self.admin).await?;
            if seen >= want {
                return Ok(());
            }
            self.fail_if_a_waiter_ended(what).await?;
            if start.elapsed() > ESTABLISH_TIMEOUT {
                let sessions = self.describe().await?;
                bail!(
                    "{what}: not established within {ESTABLISH_TIMEOUT:?} (saw {seen} of {want}); \
                     sessions: {sessions}"
                );
            }
            sleep(pause()).await;
        }
    }

    /// Polls the `SELECT COUNT(*)` in `sql` until it reaches `want`.
    async fn until_count(
        &mut self,
        what: &str,
        sql: &str,
        want: u64,
        pause: fn() -> Duration,
    ) -> Result<()> {
        self.until(what, want, pause, async |c| {
            Ok(c.query_first(sql).await?.unwrap_or(0))
        })
        .await
    }

    /// The scenario's sessions as the server sees them, for error messages.
    async fn describe(&mut self) -> Result<String> {
        let sql = format!(
            "SELECT p.ID, p.COMMAND, p.STATE, p.INFO, t.trx_state \
             FROM information_schema.PROCESSLIST p \
             LEFT JOIN information_schema.INNODB_TRX t ON t.trx_mysql_thread_id = p.ID \
             WHERE p.ID IN ({})",
            id_list(&self.ids)
        );
        type Line = (u64, String, Option<String>, Option<String>, Option<String>);
        let rows: Vec<Line> = self.admin.query(sql).await?;
        Ok(format!("{rows:?}"))
    }

    async fn fail_if_a_waiter_ended(&mut self, what: &str) -> Result<()> {
        let Some(pos) = self.waiters.iter().position(|w| w.task.is_finished()) else {
            return Ok(());
        };
        let waiter = self.waiters.remove(pos);
        let (conn, result) = waiter.task.await?;
        self.sessions.push(conn);
        bail!(
            "{what}: the statement of connection {} ended instead of waiting: {result:?}",
            waiter.id
        )
    }

    /// Waits until InnoDB reports all `ids` in `LOCK WAIT`, polling the live
    /// `SHOW ENGINE INNODB STATUS` rather than the cached `INNODB_TRX`, which
    /// frequent polling could pin (see [`trx_cache_pause`]).
    async fn until_lock_wait_live(&mut self, what: &str, ids: &[u64]) -> Result<()> {
        self.until(what, ids.len() as u64, live_pause, async |c| {
            let waiting = lock_waiting_ids(c).await?;
            Ok(ids.iter().filter(|id| waiting.contains(id)).count() as u64)
        })
        .await
    }

    /// [`Self::until_lock_wait_live`], then also until the `INNODB_TRX` snapshot
    /// shows it, so whoever reads that snapshot next (within its 100 ms reuse
    /// window, or after a refresh) sees the condition too.
    async fn until_lock_wait(&mut self, what: &str, ids: &[u64]) -> Result<()> {
        self.until_lock_wait_live(what, ids).await?;
        let sql = format!(
            "SELECT COUNT(*) FROM information_schema.INNODB_TRX \
             WHERE trx_state = 'LOCK WAIT' AND trx_mysql_thread_id IN ({})",
            id_list(ids)
        );
        let what = format!("{what} (INNODB_TRX)");
        self.until_count(&what, &sql, ids.len() as u64, trx_cache_pause)
            .await
    }

    /// Waits until all `ids` show `state` in the processlist.
    async fn until_state(&mut self, what: &str, ids: &[u64], state: &str) -> Result<()> {
        self.until_state_in(what, ids, &[state]).await
    }

    /// Waits until all `ids` show one of `states` in the processlist.
    async fn until_state_in(&mut self, what: &str, ids: &[u64], states: &[&str]) -> Result<()> {
        let states: Vec<String> = states.iter().map(|s| format!("'{s}'")).collect();
        let sql = format!(
            "SELECT COUNT(*) FROM information_schema.PROCESSLIST \
             WHERE STATE IN ({}) AND ID IN ({})",
            states.join(","),
            id_list(ids)
        );
        self.until_count(what, &sql, ids.len() as u64, live_pause)
            .await
    }

    /// Waits until the waiting statement of `id` either shows `state` (returns
    /// `true`) or has succeeded (returns `false`; its session is then kept idle).
    /// For statements that wait on one flavor and not on the other.
    async fn until_state_or_done(&mut self, what: &str, id: u64, state: &str) -> Result<bool> {
        let sql = format!(
            "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE STATE = '{state}' AND ID = {id}"
        );
        let start = Instant::now();
        loop {
            let seen: u64 = self.admin.query_first(&sql).await?.unwrap_or(0);
            if seen == 1 {
                return Ok(true);
            }
            if self
                .waiters
                .iter()
                .any(|w| w.id == id && w.task.is_finished())
            {
                let result = self.finish(id).await?;
                result.with_context(|| format!("{what}: the statement of connection {id}"))?;
                return Ok(false);
            }
            self.fail_if_a_waiter_ended(what).await?;
            if start.elapsed() > ESTABLISH_TIMEOUT {
                let sessions = self.describe().await?;
                bail!("{what}: not established within {ESTABLISH_TIMEOUT:?}; sessions: {sessions}");
            }
            sleep(live_pause()).await;
        }
    }

    /// Awaits the waiting statement of `id` and keeps its session; returns the statement's result.
    async fn finish(&mut self, id: u64) -> Result<std::result::Result<(), mysql_async::Error>> {
        let pos = self.waiters.iter().position(|w| w.id == id);
        let mut waiter = self.waiters.remove(pos.context("no such waiter")?);
        match timeout(ESTABLISH_TIMEOUT, &mut waiter.task).await {
            Ok(joined) => {
                let (conn, result) = joined?;
                self.sessions.push(conn);
                Ok(result)
            }
            Err(_) => {
                self.waiters.push(waiter);
                bail!("the statement of connection {id} still waits after {ESTABLISH_TIMEOUT:?}")
            }
        }
    }

    /// Takes a named lock held until cleanup, serialising scenarios whose effect is
    /// server-wide (the latest deadlock, the connection count) across test processes.
    async fn serialise(&mut self, name: &str) -> Result<()> {
        let sql = format!("SELECT GET_LOCK('{DB}.{name}', 120)");
        let got: Option<i64> = self.admin.query_first(sql).await?.flatten();
        ensure!(
            got == Some(1),
            "could not get named lock {DB}.{name} within 120 s"
        );
        Ok(())
    }

    async fn cleanup(mut self) -> Result<()> {
        // Long statements and server-level locks first: nothing else can finish before they do.
        for id in std::mem::take(&mut self.kill_queries) {
            let _ = self.admin.query_drop(format!("KILL QUERY {id}")).await;
        }
        for id in std::mem::take(&mut self.unlock_first) {
            if let Some(pos) = self.sessions.iter().position(|c| u64::from(c.id()) == id) {
                release(self.sessions.remove(pos)).await;
            } else if let Some(pos) = self.waiters.iter().position(|w| w.id == id) {
                let waiter = self.waiters.remove(pos);
                self.reap(waiter).await;
            }
        }
        // Then holders: their rollback is what lets the waiters finish.
        for conn in std::mem::take(&mut self.sessions) {
            release(conn).await;
        }
        for waiter in std::mem::take(&mut self.waiters) {
            self.reap(waiter).await;
        }
        self.kill_stragglers().await?;
        for table in std::mem::take(&mut self.tables) {
            self.admin
                .query_drop(format!("DROP TABLE IF EXISTS {table}"))
                .await
                .with_context(|| format!("dropping {table}"))?;
        }
        self.admin.disconnect().await?;
        Ok(())
    }

    /// Awaits a waiter; one still blocked (by something outside the scenario) is killed.
    async fn reap(&mut self, mut waiter: Waiter) {
        let reap_timeout = Duration::from_secs(30);
        let joined = match timeout(reap_timeout, &mut waiter.task).await {
            Ok(joined) => joined,
            Err(_) => {
                let _ = self.admin.query_drop(format!("KILL {}", waiter.id)).await;
                match timeout(reap_timeout, waiter.task).await {
                    Ok(joined) => joined,
                    Err(_) => return,
                }
            }
        };
        if let Ok((conn, _)) = joined {
            release(conn).await;
        }
    }

    /// Closing a connection is asynchronous on the server; anything of ours still
    /// there after a grace period (say, a lost COM_QUIT) would keep the table's
    /// metadata lock and hang DROP TABLE, so it is killed.
    async fn kill_stragglers(&mut self) -> Result<()> {
        let ids = std::mem::take(&mut self.ids);
        if wait_gone(&mut self.admin, &ids, Duration::from_secs(5)).await? {
            return Ok(());
        }
        for id in present(&mut self.admin, &ids).await? {
            let _ = self.admin.query_drop(format!("KILL {id}")).await;
        }
        let gone = wait_gone(&mut self.admin, &ids, Duration::from_secs(10)).await?;
        ensure!(gone, "scenario sessions still present after KILL: {ids:?}");
        Ok(())
    }
}

/// Runs `build` on a fresh scope and hands the scope to the constructor it returns;
/// on failure, cleans the scope up before returning the error.
async fn establish<T, F: FnOnce(Scope) -> T>(
    server: &TestServer,
    build: impl AsyncFnOnce(&mut Scope) -> Result<F>,
) -> Result<T> {
    let mut scope = Scope::new(server).await?;
    match build(&mut scope).await {
        Ok(make) => Ok(make(scope)),
        Err(err) => {
            if let Err(cleanup_err) = scope.cleanup().await {
                eprintln!("cleanup after failed scenario also failed: {cleanup_err:#}");
            }
            Err(err.context(format!("scenario on {}", server.name)))
        }
    }
}

/// Opens a session with lock timeouts high enough for a test, returning it and its `CONNECTION_ID()`.
async fn open(opts: &Opts) -> Result<(Conn, u64)> {
    let mut conn = Conn::new(opts.clone()).await.context("connecting")?;
    let set = format!(
        "SET SESSION innodb_lock_wait_timeout = {LOCK_TIMEOUT_SECS}, \
         SESSION lock_wait_timeout = {LOCK_TIMEOUT_SECS}"
    );
    conn.query_drop(set).await?;
    let id: u64 = conn
        .query_first("SELECT CONNECTION_ID()")
        .await?
        .context("no CONNECTION_ID()")?;
    Ok((conn, id))
}

/// Ends a session politely (its transaction rolled back, then `LOCK TABLES` or
/// `FLUSH TABLES WITH READ LOCK` released); errors are expected when the test killed it.
async fn release(mut conn: Conn) {
    let _ = conn.query_drop("ROLLBACK").await;
    let _ = conn.query_drop("UNLOCK TABLES").await;
    let _ = conn.disconnect().await;
}

/// `kind_<pid>_<counter>_<micros>`: unique across threads, processes and reruns.
fn unique_name(kind: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let micros = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() % 1_000_000_000);
    format!("{kind}_{}_{n}_{micros}", std::process::id())
}

/// Pause between polls of sources generated afresh on each read.
fn live_pause() -> Duration {
    Duration::from_millis(50)
}

/// A pause for code that re-reads `INNODB_TRX`, `INNODB_LOCKS` or
/// `INNODB_LOCK_WAITS`. InnoDB serves those from a snapshot it refreshes only
/// when nobody has read it for 100 ms (`can_cache_be_updated` in trx0i_s.cc, both
/// flavors), so reading faster, or many readers together, can keep a stale
/// snapshot frozen indefinitely. Well over 100 ms and jittered, so parallel
/// readers leave the gaps a refresh needs.
pub fn trx_cache_pause() -> Duration {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    Duration::from_millis(200 + u64::from(nanos % 250))
}

/// Connection ids whose transaction InnoDB reports in `LOCK WAIT`, read from the
/// transaction list of `SHOW ENGINE INNODB STATUS`, which (unlike `INNODB_TRX`)
/// is generated afresh on every call.
pub async fn lock_waiting_ids(conn: &mut Conn) -> Result<Vec<u64>> {
    Ok(parse_lock_waiting_ids(&innodb_status(conn).await?))
}

/// Each transaction block starts with `---TRANSACTION`; a waiting one has a line
/// `LOCK WAIT ...` and then `MySQL thread id N,` (MariaDB: `MariaDB thread id N,`).
fn parse_lock_waiting_ids(status: &str) -> Vec<u64> {
    let list = status
        .split_once("LIST OF TRANSACTIONS FOR EACH SESSION:")
        .map_or("", |(_, list)| list);
    list.split("\n---TRANSACTION ")
        .filter(|block| block.lines().any(|l| l.starts_with("LOCK WAIT ")))
        .filter_map(|block| {
            let (_, rest) = block.split_once(" thread id ")?;
            rest.split(',').next()?.trim().parse().ok()
        })
        .collect()
}

fn id_list(ids: &[u64]) -> String {
    let ids: Vec<String> = ids.iter().map(u64::to_string).collect();
    if ids.is_empty() {
        "NULL".to_string()
    } else {
        ids.join(",")
    }
}

/// `UPDATE <table> SET v = v + <by> WHERE id = <row>`; `by` keeps statements of
/// different sessions textually distinct.
fn update(table: &str, row: u32, by: u32) -> String {
    format!("UPDATE {table} SET v = v + {by} WHERE id = {row}")
}

/// Which of `ids` still appear in the processlist.
pub async fn present(conn: &mut Conn, ids: &[u64]) -> Result<Vec<u64>> {
    let sql = format!(
        "SELECT ID FROM information_schema.PROCESSLIST WHERE ID IN ({})",
        id_list(ids)
    );
    Ok(conn.query(sql).await?)
}

/// Polls until none of `ids` is in the processlist; `false` if some still are after `limit`.
pub async fn wait_gone(conn: &mut Conn, ids: &[u64], limit: Duration) -> Result<bool> {
    let start = Instant::now();
    loop {
        if present(conn, ids).await?.is_empty() {
            return Ok(true);
        }
        if start.elapsed() > limit {
            return Ok(false);
        }
        sleep(Duration::from_millis(50)).await;
    }
}

/// The text of `SHOW ENGINE INNODB STATUS`.
pub async fn innodb_status(conn: &mut Conn) -> Result<String> {
    let row: Option<(String, String, String)> =
        conn.query_first("SHOW ENGINE INNODB STATUS").await?;
    Ok(row.context("SHOW ENGINE INNODB STATUS returned nothing")?.2)
}

/// The undo history list length; panics if the server reports none (see
/// [`try_history_list_length`]).
pub async fn history_list_length(conn: &mut Conn) -> u64 {
    try_history_list_length(conn)
        .await
        .unwrap_or_else(|e| panic!("reading the history list length: {e:#}"))
}

/// The undo history list length from `INNODB_METRICS` when that counter is enabled,
/// else from the `History list length` line of `SHOW ENGINE INNODB STATUS`.
pub async fn try_history_list_length(conn: &mut Conn) -> Result<u64> {
    match metrics_history_length(conn).await? {
        Some(n) => Ok(n),
        None => status_history_length(conn).await,
    }
}

async fn metrics_history_length(conn: &mut Conn) -> Result<Option<u64>> {
    let sql = "SELECT * FROM information_schema.INNODB_METRICS WHERE NAME = 'trx_rseg_history_len'";
    let Some(row) = conn.query_first::<Row, _>(sql).await? else {
        return Ok(None);
    };
    // MySQL has STATUS = 'enabled', MariaDB has ENABLED = 1; a disabled counter is stale.
    let status = text(&row, "STATUS").or_else(|| text(&row, "ENABLED"));
    if !matches!(status.as_deref(), Some("enabled" | "1")) {
        return Ok(None);
    }
    let count = text(&row, "COUNT").context("INNODB_METRICS row without COUNT")?;
    Ok(Some(count.parse()?))
}

async fn status_history_length(conn: &mut Conn) -> Result<u64> {
    let status = innodb_status(conn).await?;
    let line = status
        .lines()
        .find_map(|l| l.strip_prefix("History list length "))
        .context("no 'History list length' in SHOW ENGINE INNODB STATUS")?;
    Ok(line.trim().parse()?)
}

fn text(row: &Row, column: &str) -> Option<String> {
    row.get_opt::<String, _>(column)?.ok()
}

/// Defines the public `cleanup` of a scenario struct holding a `scope`.
macro_rules! cleanup_via_scope {
    ($($name:ident),*) => {$(
        impl $name {
            /// Rolls back and closes every session of the scenario (unblocking any
            /// waiters first) and drops its table.
            pub async fn cleanup(self) -> Result<()> {
                self.scope.cleanup().await
            }
        }
    )*};
}
cleanup_via_scope!(
    LockWait,
    Chain,
    QueuedBehind,
    PileUp,
    IdleRoot,
    Deadlock,
    HistoryGrowth,
    MetadataLockWait,
    FillConnections,
    GlobalReadLock,
    TableFlush,
    FtwrlBehindSelect,
    UserLock,
    LockTables,
    PurgeHolders,
    RollingBack,
    IdleBlocker
);

/// An idle root blocker with a waiter, after a decoy: the alert an on-call gets most.
pub struct IdleBlocker {
    /// An older, unrelated idle transaction on a table of its own (see `Scope::decoy`).
    pub decoy_id: u64,
    pub holder_id: u64,
    pub waiter_id: u64,
    pub table: String,
    scope: Scope,
}

/// Decoy, then a holder that updates row 1 and idles in its transaction, then a waiter on row 1.
pub async fn idle_blocker(server: &TestServer) -> Result<IdleBlocker> {
    establish(server, async |s| {
        let decoy_id = s.decoy().await?;
        let table = s.table("idle_blocker", 2).await?;
        let holder_id = s.hold(&["BEGIN", &update(&table, ROW_1, 1)]).await?;
        let waiter_id = s.wait_on(&[], update(&table, ROW_1, 2)).await?;
        s.until_lock_wait("idle_blocker", &[waiter_id]).await?;
        Ok(move |scope| IdleBlocker {
            decoy_id,
            holder_id,
            waiter_id,
            table,
            scope,
        })
    })
    .await
}

/// One session waits for a row lock another holds, idle, in an open transaction.
pub struct LockWait {
    pub holder_id: u64,
    pub waiter_id: u64,
    /// Qualified name, `mytriage_test.<name>`.
    pub table: String,
    scope: Scope,
}

/// Holder updates row 1 and idles in its transaction; the waiter's update of row 1 waits.
pub async fn lock_wait(server: &TestServer) -> Result<LockWait> {
    establish(server, async |s| {
        let table = s.table("lock_wait", 2).await?;
        let holder_id = s.hold(&["BEGIN", &update(&table, ROW_1, 1)]).await?;
        let waiter_id = s.wait_on(&[], update(&table, ROW_1, 2)).await?;
        s.until_lock_wait("lock_wait", &[waiter_id]).await?;
        Ok(move |scope| LockWait {
            holder_id,
            waiter_id,
            table,
            scope,
        })
    })
    .await
}

/// A blocking chain A ← B ← C: A idles in its transaction holding row 1, B holds
/// row 2 and waits for row 1, C waits for row 2.
pub struct Chain {
    pub a_id: u64,
    pub b_id: u64,
    pub c_id: u64,
    /// The exact SQL A ran last (before going idle); it still holds that lock.
    pub a_last_statement: String,
    pub table: String,
    scope: Scope,
}

pub async fn chain(server: &TestServer) -> Result<Chain> {
    establish(server, async |s| {
        let table = s.table("chain", 2).await?;
        let a_sql = update(&table, ROW_1, 1);
        let a_id = s.hold(&["BEGIN", &a_sql]).await?;
        let b_id = s
            .wait_on(
                &["BEGIN", &update(&table, ROW_2, 2)],
                update(&table, ROW_1, 2),
            )
            .await?;
        // C must queue on row 2 only after B holds it and waits, or the chain could form differently.
        s.until_lock_wait_live("chain: B waits for A", &[b_id])
            .await?;
        let c_id = s.wait_on(&[], update(&table, ROW_2, 3)).await?;
        s.until_lock_wait("chain: C waits for B", &[b_id, c_id])
            .await?;
        Ok(move |scope| Chain {
            a_id,
            b_id,
            c_id,
            a_last_statement: a_sql,
            table,
            scope,
        })
    })
    .await
}

/// A shared request queued behind an exclusive one: A holds a shared lock on row 1 and idles,
/// B waits for an exclusive lock on it, and C's shared request, compatible with A's, must still
/// queue behind B's. C's only blocker is B's pending request.
pub struct QueuedBehind {
    pub a_id: u64,
    pub b_id: u64,
    pub c_id: u64,
    pub table: String,
    scope: Scope,
}

pub async fn shared_behind_exclusive(server: &TestServer) -> Result<QueuedBehind> {
    establish(server, async |s| {
        let table = s.table("queued", 3).await?;
        let share = format!("SELECT v FROM {table} WHERE id = {ROW_1} LOCK IN SHARE MODE");
        // A and C write a row of their own first: MariaDB gives a transaction that has only
        // read (even with shared locks) the id 0, and two of them could not be told apart.
        let a_id = s
            .hold(&["BEGIN", &update(&table, ROW_2, 1), &share])
            .await?;
        let b_id = s.wait_on(&[], update(&table, ROW_1, 1)).await?;
        s.until_lock_wait_live("queued: B waits for A", &[b_id])
            .await?;
        let c_id = s.wait_on(&["BEGIN", &update(&table, 3, 1)], share).await?;
        s.until_lock_wait("queued: C waits behind B", &[b_id, c_id])
            .await?;
        Ok(move |scope| QueuedBehind {
            a_id,
            b_id,
            c_id,
            table,
            scope,
        })
    })
    .await
}

/// Many sessions waiting on one row held by one idle transaction.
pub struct PileUp {
    pub holder_id: u64,
    pub waiter_ids: Vec<u64>,
    pub table: String,
    scope: Scope,
}

/// One holder locks row 1 and idles; `n` waiters on `n` connections each try to update it.
pub async fn pile_up(server: &TestServer, n: usize) -> Result<PileUp> {
    establish(server, async |s| {
        let table = s.table("pile_up", 1).await?;
        let holder_id = s.hold(&["BEGIN", &update(&table, ROW_1, 1)]).await?;
        let mut waiter_ids = Vec::with_capacity(n);
        for _ in 0..n {
            waiter_ids.push(s.wait_on(&[], update(&table, ROW_1, 2)).await?);
        }
        s.until_lock_wait("pile_up", &waiter_ids).await?;
        Ok(move |scope| PileUp {
            holder_id,
            waiter_ids,
            table,
            scope,
        })
    })
    .await
}

/// The incident the console is for: a root blocker idle in its transaction, holding row 1 that
/// plain (autocommit) updates wait for, after an older unrelated idle transaction, the decoy.
/// Once the root is gone the waiters finish and nobody waits.
pub struct IdleRoot {
    /// An older, unrelated idle transaction on a table of its own (see `Scope::decoy`).
    pub decoy_id: u64,
    pub root_id: u64,
    pub waiter_ids: Vec<u64>,
    /// The exact SQL the root ran last (before going idle); it still holds that lock.
    pub root_last_statement: String,
    pub table: String,
    scope: Scope,
}

/// The decoy, then the root updates row 1 and idles; `n` waiters each try to update row 1.
pub async fn idle_root(server: &TestServer, n: usize) -> Result<IdleRoot> {
    establish(server, async |s| {
        let decoy_id = s.decoy().await?;
        let table = s.table("idle_root", 1).await?;
        let root_sql = update(&table, ROW_1, 1);
        let root_id = s.hold(&["BEGIN", &root_sql]).await?;
        let mut waiter_ids = Vec::with_capacity(n);
        for _ in 0..n {
            waiter_ids.push(s.wait_on(&[], update(&table, ROW_1, 2)).await?);
        }
        s.until_lock_wait("idle_root", &waiter_ids).await?;
        Ok(move |scope| IdleRoot {
            decoy_id,
            root_id,
            waiter_ids,
            root_last_statement: root_sql,
            table,
            scope,
        })
    })
    .await
}

/// A real InnoDB deadlock between T1 and T2, already resolved by the server.
///
/// Until cleanup the scenario holds a named lock so no other process's deadlock
/// replaces this one as `LATEST DETECTED DEADLOCK`. The survivor keeps its
/// transaction (rows 1 and 2 locked) open until cleanup.
pub struct Deadlock {
    pub t1_id: u64,
    pub t2_id: u64,
    /// Whichever of `t1_id`/`t2_id` got error 1213 and was rolled back.
    pub victim_id: u64,
    /// Server error code each got from its last statement (`None`: it succeeded).
    pub t1_error: Option<u16>,
    pub t2_error: Option<u16>,
    /// Everything each ran, in order; the last one is the statement that deadlocked,
    /// which `SHOW ENGINE INNODB STATUS` prints for that transaction.
    pub t1_statements: Vec<String>,
    pub t2_statements: Vec<String>,
    pub table: String,
    scope: Scope,
}

const DEADLOCK: u16 = 1213;

/// T1 locks row 1, T2 locks row 2, T1 asks for row 2 (waits), then T2 asks for row 1.
pub async fn deadlock(server: &TestServer) -> Result<Deadlock> {
    establish(server, async |s| {
        s.serialise("deadlock").await?;
        let table = s.table("deadlock", 2).await?;
        let t1 = [
            "BEGIN".to_string(),
            update(&table, ROW_1, 1),
            update(&table, ROW_2, 1),
        ];
        let t2 = [
            "BEGIN".to_string(),
            update(&table, ROW_2, 2),
            update(&table, ROW_1, 2),
        ];
        let (t1_conn, t1_id) = s.prepare(&[&t1[0], &t1[1]]).await?;
        let (t2_conn, t2_id) = s.prepare(&[&t2[0], &t2[1]]).await?;
        s.spawn(t1_conn, t1_id, t1[2].clone());
        // T2 closes the cycle only once T1 really waits, so the deadlock is certain.
        s.until_lock_wait_live("deadlock: T1 waits for T2", &[t1_id])
            .await?;
        s.spawn(t2_conn, t2_id, t2[2].clone());
        let t1_error = error_code(s.finish(t1_id).await?)?;
        let t2_error = error_code(s.finish(t2_id).await?)?;
        let victim_id = match (t1_error, t2_error) {
            (Some(DEADLOCK), None) => t1_id,
            (None, Some(DEADLOCK)) => t2_id,
            other => bail!("deadlock: expected exactly one error {DEADLOCK}, got {other:?}"),
        };
        Ok(move |scope| Deadlock {
            t1_id,
            t2_id,
            victim_id,
            t1_error,
            t2_error,
            t1_statements: t1.to_vec(),
            t2_statements: t2.to_vec(),
            table,
            scope,
        })
    })
    .await
}

/// The server error code of a failed statement; other failures are real errors.
fn error_code(result: std::result::Result<(), mysql_async::Error>) -> Result<Option<u16>> {
    match result {
        Ok(()) => Ok(None),
        Err(mysql_async::Error::Server(e)) => Ok(Some(e.code)),
        Err(e) => Err(anyhow!(e)),
    }
}

/// A consistent-snapshot reader idles while committed updates pile up undo history.
///
/// Every update committed after the reader's snapshot stays in the history list
/// until cleanup, so the history list length is at least the total churned so far.
/// Growth is stated that way, not as a difference from `baseline`: history older
/// than the snapshot may still be purged at any moment, and MySQL in particular
/// truncates the list lazily (it can report thousands of already-purged entries
/// that then vanish in one step once commits wake purge up).
pub struct HistoryGrowth {
    pub reader_id: u64,
    pub table: String,
    /// History list length right after the snapshot was opened (may include old,
    /// purgeable history, so it is informative only).
    pub baseline: u64,
    /// Committed updates made before returning ([`HISTORY_CHURN`]).
    pub initial_churn: u64,
    scope: Scope,
}

/// Opens the reader, churns [`HISTORY_CHURN`] updates and confirms the history
/// list length is at least that.
pub async fn history_growth(server: &TestServer) -> Result<HistoryGrowth> {
    establish(server, async |s| {
        enable_history_metric(&mut s.admin).await?;
        let table = s.table("history", 100).await?;
        let read = format!("SELECT SUM(v) FROM {table}");
        let reader_id = s
            .hold(&["START TRANSACTION WITH CONSISTENT SNAPSHOT", &read])
            .await?;
        let baseline = try_history_list_length(&mut s.admin).await?;
        churn(&s.server, &table, HISTORY_CHURN).await?;
        let now = try_history_list_length(&mut s.admin).await?;
        ensure!(
            now >= HISTORY_CHURN,
            "history_growth: history list length is {now} (from {baseline}) after {HISTORY_CHURN} updates"
        );
        Ok(move |scope| HistoryGrowth {
            reader_id,
            table,
            baseline,
            initial_churn: HISTORY_CHURN,
            scope,
        })
    })
    .await
}

impl HistoryGrowth {
    /// Commits `n` more single-row autocommit updates (on a connection of its own).
    pub async fn churn(&self, n: u64) -> Result<()> {
        churn(&self.scope.server, &self.table, n).await
    }
}

/// `n` autocommit updates sent 100 to a round trip as multi-statements; each is its
/// own transaction, so each adds one entry to the history list.
async fn churn(server: &TestServer, table: &str, n: u64) -> Result<()> {
    let mut conn = server.try_conn().await?;
    let mut done = 0;
    while done < n {
        let batch: Vec<String> = (done..n.min(done + 100))
            .map(|i| update(table, (i % 100) as u32 + 1, 1))
            .collect();
        conn.query_drop(batch.join(";")).await?;
        done += batch.len() as u64;
    }
    conn.disconnect().await?;
    Ok(())
}

/// Enabled by default on both flavors, but a server configured otherwise would
/// make the counter (and the test) meaningless.
async fn enable_history_metric(admin: &mut Conn) -> Result<()> {
    if metrics_history_length(admin).await?.is_none() {
        admin
            .query_drop("SET GLOBAL innodb_monitor_enable = 'trx_rseg_history_len'")
            .await?;
    }
    Ok(())
}

/// An `ALTER TABLE` stuck behind the shared metadata lock of an idle transaction.
pub struct MetadataLockWait {
    /// An older, unrelated idle transaction on a table of its own (see `Scope::decoy`).
    pub decoy_id: u64,
    pub holder_id: u64,
    pub alter_id: u64,
    /// The exact ALTER statement that waits.
    pub alter_statement: String,
    pub table: String,
    scope: Scope,
}

/// After the decoy, the holder reads the table in an open transaction and idles;
/// the ALTER waits for `Waiting for table metadata lock`.
pub async fn metadata_lock_wait(server: &TestServer) -> Result<MetadataLockWait> {
    establish(server, async |s| {
        let decoy_id = s.decoy().await?;
        let table = s.table("mdl", 2).await?;
        let read = format!("SELECT * FROM {table}");
        // The default isolation (REPEATABLE READ), as most applications run: the open
        // transaction is then visible in INNODB_TRX, which is all MariaDB without
        // performance_schema has to infer the metadata-lock holder from.
        let holder_id = s.hold(&["BEGIN", &read]).await?;
        let alter_statement = format!("ALTER TABLE {table} ADD COLUMN extra INT");
        let alter_id = s.wait_on(&[], alter_statement.clone()).await?;
        let state = "Waiting for table metadata lock";
        s.until_state("metadata_lock_wait", &[alter_id], state)
            .await?;
        Ok(move |scope| MetadataLockWait {
            decoy_id,
            holder_id,
            alter_id,
            alter_statement,
            table,
            scope,
        })
    })
    .await
}

/// The processlist state of a statement waiting for `FLUSH TABLES WITH READ LOCK`
/// to be released: MySQL names the global read lock, MariaDB (which implements
/// FTWRL with its backup lock) the backup lock.
pub const GLOBAL_READ_LOCK_STATES: [&str; 2] =
    ["Waiting for global read lock", "Waiting for backup lock"];
/// The processlist state of a statement waiting for a metadata lock on a table.
pub const TABLE_MDL_STATE: &str = "Waiting for table metadata lock";
/// The processlist state of a statement waiting for a table to be flushed (MySQL).
pub const TABLE_FLUSH_STATE: &str = "Waiting for table flush";

/// `SELECT v, SLEEP(<LOCK_TIMEOUT_SECS>) FROM <table>`: on a one-row table, a
/// query that runs (state `User sleep`) and keeps the table open until cleanup
/// stops it with `KILL QUERY`.
async fn long_select(s: &mut Scope, table: &str) -> Result<u64> {
    let sql = format!("SELECT v, SLEEP({LOCK_TIMEOUT_SECS}) FROM {table}");
    let id = s.wait_on(&[], sql).await?;
    s.kill_queries.push(id);
    s.until_state("long select runs", &[id], "User sleep")
        .await?;
    Ok(id)
}

/// Every writer on the server frozen by `FLUSH TABLES WITH READ LOCK` that an idle
/// session holds (a backup tool that took the lock and hung, a forgotten console).
///
/// The writer's `UPDATE` waits in `Waiting for global read lock` (MySQL) or
/// `Waiting for backup lock` (MariaDB), see [`GLOBAL_READ_LOCK_STATES`]; the
/// holder is idle (command Sleep) without an InnoDB transaction. Since FTWRL
/// stops writes server-wide, the scenario holds the named lock `server_wide`
/// until cleanup (tests using it must run alone), and cleanup unlocks the holder
/// before anything else.
pub struct GlobalReadLock {
    /// An older, unrelated idle transaction on a table of its own (see `Scope::decoy`).
    pub decoy_id: u64,
    pub holder_id: u64,
    pub writer_id: u64,
    /// The table the writer updates.
    pub table: String,
    scope: Scope,
}

/// Decoy, then the holder's FTWRL, then the writer's update of row 1 of its table.
pub async fn global_read_lock(server: &TestServer) -> Result<GlobalReadLock> {
    establish(server, async |s| {
        s.serialise("server_wide").await?;
        // Everything that writes comes before the lock, which would block it: the
        // decoy's UPDATE and the CREATE TABLE.
        let decoy_id = s.decoy().await?;
        let table = s.table("global_read_lock", 1).await?;
        let holder_id = s.hold(&["FLUSH TABLES WITH READ LOCK"]).await?;
        s.unlock_first.push(holder_id);
        let writer_id = s.wait_on(&[], update(&table, ROW_1, 1)).await?;
        s.until_state_in("global_read_lock", &[writer_id], &GLOBAL_READ_LOCK_STATES)
            .await?;
        Ok(move |scope| GlobalReadLock {
            decoy_id,
            holder_id,
            writer_id,
            table,
            scope,
        })
    })
    .await
}

/// A `FLUSH TABLES <table>` stuck behind a long `SELECT` that keeps the table
/// open, and a plain reader of the table stuck behind the flush.
///
/// On MySQL both the flush and the reader wait in `Waiting for table flush`
/// ([`TABLE_FLUSH_STATE`]); performance_schema shows no metadata lock for the
/// flush and a granted `SHARED_READ` for the reader (its wait is on the table
/// definition, not on a lock). MariaDB 10.11 implements `FLUSH TABLES <table>`
/// with an exclusive metadata lock instead, so there both wait in `Waiting for
/// table metadata lock` ([`TABLE_MDL_STATE`]): the flush's `EXCLUSIVE` request is
/// pending behind the select's `SHARED_READ`, the reader's `SHARED_READ` request
/// is pending behind the flush. [`TableFlush::waiting_state`] says which.
/// Only the named table is affected, so the scenario is not serialised.
pub struct TableFlush {
    /// An older, unrelated idle transaction on a table of its own (see `Scope::decoy`).
    pub decoy_id: u64,
    /// Runs `SELECT v, SLEEP(300) FROM <table>` (state `User sleep`).
    pub select_id: u64,
    /// Runs `FLUSH TABLES <table>`, waiting.
    pub flush_id: u64,
    /// Runs `SELECT * FROM <table>`, waiting.
    pub reader_id: u64,
    pub table: String,
    /// The state both `flush_id` and `reader_id` show: [`TABLE_FLUSH_STATE`] on
    /// MySQL, [`TABLE_MDL_STATE`] on MariaDB.
    pub waiting_state: &'static str,
    scope: Scope,
}

/// Decoy, then the long select, then the flush (once the select runs), then the
/// reader (once the flush waits). Cleanup stops the select first (`KILL QUERY`).
pub async fn table_flush(server: &TestServer) -> Result<TableFlush> {
    establish(server, async |s| {
        let decoy_id = s.decoy().await?;
        let table = s.table("table_flush", 1).await?;
        let waiting_state = if s.is_mariadb().await? {
            TABLE_MDL_STATE
        } else {
            TABLE_FLUSH_STATE
        };
        let select_id = long_select(s, &table).await?;
        let flush_id = s.wait_on(&[], format!("FLUSH TABLES {table}")).await?;
        s.until_state("table_flush: FLUSH waits", &[flush_id], waiting_state)
            .await?;
        let reader_id = s.wait_on(&[], format!("SELECT * FROM {table}")).await?;
        s.until_state("table_flush", &[flush_id, reader_id], waiting_state)
            .await?;
        Ok(move |scope| TableFlush {
            decoy_id,
            select_id,
            flush_id,
            reader_id,
            table,
            waiting_state,
            scope,
        })
    })
    .await
}

/// `FLUSH TABLES WITH READ LOCK` (as `mysqldump --master-data` or a backup tool
/// issues it) behind a long `SELECT`, and a writer of another table behind the FTWRL.
///
/// On MySQL the FTWRL has taken the global read lock but waits in `Waiting for
/// table flush` for the select's table to close, so writes anywhere on the server
/// wait in `Waiting for global read lock` behind a statement that itself waits.
/// MariaDB 10.11's FTWRL does not wait for running selects: it returns at once
/// and its session idles (command Sleep) holding the backup lock, and the writer
/// waits in `Waiting for backup lock`. [`FtwrlBehindSelect::ftwrl_waits`] says
/// which. Server-wide, so serialised on `server_wide` like [`global_read_lock`].
/// Cleanup stops the select (`KILL QUERY`), then unlocks the FTWRL session.
pub struct FtwrlBehindSelect {
    /// An older, unrelated idle transaction on a table of its own (see `Scope::decoy`).
    pub decoy_id: u64,
    /// Runs `SELECT v, SLEEP(300) FROM <table>` (state `User sleep`).
    pub select_id: u64,
    /// Ran `FLUSH TABLES WITH READ LOCK`: still running on MySQL, done and idle on MariaDB.
    pub ftwrl_id: u64,
    /// Updates row 1 of `other_table`, waiting (one of [`GLOBAL_READ_LOCK_STATES`]).
    pub writer_id: u64,
    /// The table the select reads.
    pub table: String,
    /// The table the writer updates.
    pub other_table: String,
    /// Whether the FTWRL statement itself still waits (`Waiting for table flush`):
    /// `true` on MySQL, `false` on MariaDB.
    pub ftwrl_waits: bool,
    scope: Scope,
}

/// Decoy, then the long select, then FTWRL, then the writer.
pub async fn ftwrl_behind_select(server: &TestServer) -> Result<FtwrlBehindSelect> {
    establish(server, async |s| {
        s.serialise("server_wide").await?;
        let decoy_id = s.decoy().await?;
        let table = s.table("ftwrl_select", 1).await?;
        let other_table = s.table("ftwrl_other", 1).await?;
        let select_id = long_select(s, &table).await?;
        let ftwrl_id = s
            .wait_on(&[], "FLUSH TABLES WITH READ LOCK".to_string())
            .await?;
        s.unlock_first.push(ftwrl_id);
        let ftwrl_waits = s
            .until_state_or_done("ftwrl_behind_select: FTWRL", ftwrl_id, TABLE_FLUSH_STATE)
            .await?;
        let writer_id = s.wait_on(&[], update(&other_table, ROW_1, 1)).await?;
        s.until_state_in(
            "ftwrl_behind_select: writer",
            &[writer_id],
            &GLOBAL_READ_LOCK_STATES,
        )
        .await?;
        if ftwrl_waits {
            s.until_state("ftwrl_behind_select: FTWRL", &[ftwrl_id], TABLE_FLUSH_STATE)
                .await?;
        }
        Ok(move |scope| FtwrlBehindSelect {
            decoy_id,
            select_id,
            ftwrl_id,
            writer_id,
            table,
            other_table,
            ftwrl_waits,
            scope,
        })
    })
    .await
}

/// A session waiting in `GET_LOCK()` for a user-level lock an idle session holds
/// (application-level mutexes, cron jobs guarding against overlap).
///
/// The waiter's state is `User lock` on both flavors. No table is involved
/// besides the decoy's; the lock name is unique per scenario.
pub struct UserLock {
    /// An older, unrelated idle transaction on a table of its own (see `Scope::decoy`).
    pub decoy_id: u64,
    /// Got the lock with `SELECT GET_LOCK('<lock_name>', 0)` and idles.
    pub holder_id: u64,
    /// Runs `SELECT GET_LOCK('<lock_name>', 300)`, waiting.
    pub waiter_id: u64,
    /// `mytriage_test.user_lock_<unique>`.
    pub lock_name: String,
    scope: Scope,
}

/// Decoy, then the holder takes the lock, then the waiter asks for it.
/// Cleanup closes the holder, which frees the lock.
pub async fn user_lock(server: &TestServer) -> Result<UserLock> {
    establish(server, async |s| {
        let decoy_id = s.decoy().await?;
        let lock_name = format!("{DB}.{}", unique_name("user_lock"));
        let (mut holder, holder_id) = s.prepare(&[]).await?;
        let got: Result<Option<Option<i64>>, _> = holder
            .query_first(format!("SELECT GET_LOCK('{lock_name}', 0)"))
            .await;
        s.sessions.push(holder);
        ensure!(
            got?.flatten() == Some(1),
            "user_lock: the holder did not get {lock_name}"
        );
        let wait = format!("SELECT GET_LOCK('{lock_name}', {LOCK_TIMEOUT_SECS})");
        let waiter_id = s.wait_on(&[], wait).await?;
        s.until_state("user_lock", &[waiter_id], "User lock")
            .await?;
        Ok(move |scope| UserLock {
            decoy_id,
            holder_id,
            waiter_id,
            lock_name,
            scope,
        })
    })
    .await
}

/// A writer stuck behind `LOCK TABLES <table> WRITE` that an idle session holds.
///
/// The writer waits in `Waiting for table metadata lock` on both flavors (the
/// holder's `SHARED_NO_READ_WRITE` metadata lock). Cleanup unlocks the holder first.
pub struct LockTables {
    /// An older, unrelated idle transaction on a table of its own (see `Scope::decoy`).
    pub decoy_id: u64,
    /// Ran `LOCK TABLES <table> WRITE` and idles.
    pub holder_id: u64,
    /// Updates row 1 of `table`, waiting.
    pub writer_id: u64,
    pub table: String,
    scope: Scope,
}

/// Decoy, then the holder's `LOCK TABLES`, then the writer.
pub async fn lock_tables(server: &TestServer) -> Result<LockTables> {
    establish(server, async |s| {
        let decoy_id = s.decoy().await?;
        let table = s.table("lock_tables", 1).await?;
        let holder_id = s.hold(&[&format!("LOCK TABLES {table} WRITE")]).await?;
        s.unlock_first.push(holder_id);
        let writer_id = s.wait_on(&[], update(&table, ROW_1, 1)).await?;
        s.until_state("lock_tables", &[writer_id], TABLE_MDL_STATE)
            .await?;
        Ok(move |scope| LockTables {
            decoy_id,
            holder_id,
            writer_id,
            table,
            scope,
        })
    })
    .await
}

/// Two idle transactions, only one of which holds back purge: the older one is a
/// READ COMMITTED writer (no read view while idle), the younger one a REPEATABLE
/// READ consistent snapshot (its read view pins all history committed after it).
/// There is no decoy: the RC writer plays that part.
///
/// [`HISTORY_CHURN`] committed updates of `table` follow the snapshot, so the
/// history list length is at least that. In `SHOW ENGINE INNODB STATUS` MariaDB
/// prints a `Trx read view will not see trx with id >= N, sees < M` line in the
/// snapshot's transaction block (`... MariaDB thread id <rr_snapshot_id>, ...`)
/// and none in the RC writer's. MySQL 9 prints a block (`MySQL thread id N, ...`)
/// for the RC writer only: a read-only transaction is not listed, so the snapshot
/// and its read view do not appear there at all; `Trx read view` lines appear
/// nowhere.
pub struct PurgeHolders {
    /// `READ COMMITTED`; `BEGIN; UPDATE <rc_table> SET v = v + 1 WHERE id = 1`, then idle.
    pub rc_writer_id: u64,
    /// `START TRANSACTION WITH CONSISTENT SNAPSHOT; SELECT SUM(v) FROM <table>`,
    /// then idle; opened 1.1 s after the RC writer.
    pub rr_snapshot_id: u64,
    /// The table read by the snapshot and churned (100 rows).
    pub table: String,
    /// The RC writer's own table (1 row).
    pub rc_table: String,
    scope: Scope,
}

/// RC writer, 1.1 s pause, RR snapshot, [`HISTORY_CHURN`] updates; confirms the
/// history list length is at least that.
pub async fn purge_holders(server: &TestServer) -> Result<PurgeHolders> {
    establish(server, async |s| {
        enable_history_metric(&mut s.admin).await?;
        let rc_table = s.table("purge_rc", 1).await?;
        let table = s.table("purge", 100).await?;
        let rc_writer_id = s
            .hold(&[
                "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED",
                "BEGIN",
                &update(&rc_table, ROW_1, 1),
            ])
            .await?;
        sleep(DECOY_LEAD).await;
        let read = format!("SELECT SUM(v) FROM {table}");
        let rr_snapshot_id = s
            .hold(&["START TRANSACTION WITH CONSISTENT SNAPSHOT", &read])
            .await?;
        churn(&s.server, &table, HISTORY_CHURN).await?;
        let now = try_history_list_length(&mut s.admin).await?;
        ensure!(
            now >= HISTORY_CHURN,
            "purge_holders: history list length is {now} after {HISTORY_CHURN} updates"
        );
        Ok(move |scope| PurgeHolders {
            rc_writer_id,
            rr_snapshot_id,
            table,
            rc_table,
            scope,
        })
    })
    .await
}

/// Rows the rolling-back transaction inserts, in thousands. InnoDB rolls back
/// faster on MariaDB, so it gets more to keep the rollback going for ≥ 3 s on
/// the test servers (128M buffer pool); the insert takes a few seconds.
const ROLLBACK_KROWS_MYSQL: u32 = 500;
const ROLLBACK_KROWS_MARIADB: u32 = 1000;

/// A large transaction rolling back after its connection was killed (what
/// follows killing a long batch job: the rollback can take longer than the work).
///
/// The transaction inserted 500k (MySQL) or 1M (MariaDB) rows into a table with
/// two secondary indexes, then `KILL <id>` hit its idle connection. The scenario
/// returns once `INNODB_TRX` shows `trx_state = 'ROLLING BACK'` for `id`, which
/// on these servers lasts several seconds more. While it lasts, MariaDB's
/// processlist shows the connection as command `Killed`, state `Rollback`;
/// MySQL 9 removes it from the processlist at once, so only `INNODB_TRX` (with
/// `trx_mysql_thread_id = id`) still shows it. Cleanup waits for the rollback
/// (the `DROP TABLE` waits for it).
pub struct RollingBack {
    /// An older, unrelated idle transaction on a table of its own (see `Scope::decoy`).
    pub decoy_id: u64,
    /// The killed connection whose transaction rolls back.
    pub id: u64,
    pub table: String,
    scope: Scope,
}

/// Decoy, then the big insert in an open transaction, then `KILL`.
pub async fn rolling_back(server: &TestServer) -> Result<RollingBack> {
    establish(server, async |s| {
        let decoy_id = s.decoy().await?;
        let table = format!("{DB}.{}", unique_name("rolling_back"));
        s.admin
            .query_drop(format!(
                "CREATE TABLE {table} (id INT PRIMARY KEY, v INT NOT NULL DEFAULT 0, \
                 k1 INT NOT NULL, k2 INT NOT NULL, KEY (k1), KEY (k2)) ENGINE=InnoDB"
            ))
            .await?;
        s.tables.push(table.clone());
        let krows = if s.is_mariadb().await? {
            ROLLBACK_KROWS_MARIADB
        } else {
            ROLLBACK_KROWS_MYSQL
        };
        let insert = format!(
            "INSERT INTO {table} (id, k1, k2) \
             WITH RECURSIVE seq (n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < 1000) \
             SELECT a.n * 1000 + b.n, a.n * 1000 + b.n, a.n * 1000 + b.n \
             FROM seq a, seq b WHERE a.n <= {krows}"
        );
        let id = s.hold(&["BEGIN", &insert]).await?;
        s.admin.query_drop(format!("KILL {id}")).await?;
        let sql = format!(
            "SELECT COUNT(*) FROM information_schema.INNODB_TRX \
             WHERE trx_state = 'ROLLING BACK' AND trx_mysql_thread_id = {id}"
        );
        s.until_count("rolling_back", &sql, 1, trx_cache_pause)
            .await?;
        Ok(move |scope| RollingBack {
            decoy_id,
            id,
            table,
            scope,
        })
    })
    .await
}

/// Idle connections of [`FILLER_USER`] filling the server towards `max_connections`.
pub struct FillConnections {
    /// Connection ids of the fillers (all user [`FILLER_USER`]).
    pub ids: Vec<u64>,
    pub max_connections: u64,
    /// Server-wide `Threads_connected` once the fillers were open.
    pub threads_connected_after: u64,
    scope: Scope,
}

/// Opens idle [`FILLER_USER`] connections until `Threads_connected` reaches
/// `fraction` of `@@max_connections`, but never past `max_connections - 40`.
/// Fills are serialised across processes; global settings are left alone.
pub async fn fill_connections(server: &TestServer, fraction: f64) -> Result<FillConnections> {
    establish(server, async |s| {
        s.serialise("fill_connections").await?;
        create_filler_user(&mut s.admin).await?;
        let max_connections: u64 = s
            .admin
            .query_first("SELECT @@max_connections")
            .await?
            .context("no @@max_connections")?;
        let cap = max_connections.saturating_sub(FREE_SLOTS);
        let target = ((max_connections as f64 * fraction).ceil() as u64).min(cap);
        let threads_connected_after = fill_to(s, target).await?;
        let ids = s.ids.clone();
        let sql = format!(
            "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = '{FILLER_USER}' AND ID IN ({})",
            id_list(&ids)
        );
        s.until_count("fill_connections", &sql, ids.len() as u64, live_pause)
            .await?;
        Ok(move |scope| FillConnections {
            ids,
            max_connections,
            threads_connected_after,
            scope,
        })
    })
    .await
}

/// Opens fillers in batches until `Threads_connected >= target`; returns the final count.
async fn fill_to(s: &mut Scope, target: u64) -> Result<u64> {
    let start = Instant::now();
    loop {
        let connected = threads_connected(&mut s.admin).await?;
        if connected >= target {
            ensure!(
                !s.sessions.is_empty(),
                "fill_connections: Threads_connected is already {connected} >= target {target}"
            );
            return Ok(connected);
        }
        if start.elapsed() > ESTABLISH_TIMEOUT {
            bail!(
                "fill_connections: only {connected} of {target} connections after {ESTABLISH_TIMEOUT:?}"
            );
        }
        open_fillers(s, (target - connected).min(32)).await?;
    }
}

/// Opens `n` filler connections concurrently; all that opened are kept for cleanup.
async fn open_fillers(s: &mut Scope, n: u64) -> Result<()> {
    let opts = s.server.opts_as(FILLER_USER);
    let tasks: Vec<_> = (0..n)
        .map(|_| tokio::spawn(open_plain(opts.clone())))
        .collect();
    let mut first_err = None;
    for task in tasks {
        match task.await? {
            Ok((conn, id)) => {
                s.ids.push(id);
                s.sessions.push(conn);
            }
            Err(e) => {
                first_err.get_or_insert(e);
            }
        }
    }
    first_err.map_or(Ok(()), Err)
}

async fn open_plain(opts: Opts) -> Result<(Conn, u64)> {
    let mut conn = Conn::new(opts).await.context("connecting as filler")?;
    let id: Option<u64> = conn.query_first("SELECT CONNECTION_ID()").await?;
    Ok((conn, id.context("no CONNECTION_ID()")?))
}

async fn threads_connected(conn: &mut Conn) -> Result<u64> {
    let row: Option<(String, u64)> = conn
        .query_first("SHOW GLOBAL STATUS LIKE 'Threads_connected'")
        .await?;
    Ok(row.context("no Threads_connected")?.1)
}

/// A passwordless, privilege-less user for every way a test client may arrive
/// (TCP to 127.0.0.1 may be seen as host `localhost` or `127.0.0.1`).
async fn create_filler_user(admin: &mut Conn) -> Result<()> {
    let sql = format!(
        "CREATE USER IF NOT EXISTS '{FILLER_USER}'@'localhost', \
         '{FILLER_USER}'@'127.0.0.1', '{FILLER_USER}'@'%'"
    );
    admin.query_drop(sql).await?;
    Ok(())
}
