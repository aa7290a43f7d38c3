//! Shared support for live-server tests: which servers to test against, how to
//! connect to them, and (in [`scenarios`]) real incident conditions to create on them.
//!
//! Included by the integration tests, by `examples/demo.rs` and by `benches/scale.rs` via
//! `#[path = "../tests/support/mod.rs"] mod support;`, so it depends only on mysql_async, tokio,
//! anyhow, serde_json, assert_cmd and std, never on the mytriage crate itself.
#![allow(dead_code)]

pub mod freeze;
pub mod globals;
pub mod mytriage;
pub mod proxy;
pub mod replicas;
pub mod scenarios;
pub mod tmux;

// Not every includer (the demo, the benchmarks) uses both.
#[allow(unused_imports)]
pub use globals::GlobalGuard;
#[allow(unused_imports)]
pub use mytriage::Mytriage;

use anyhow::{Context, Result};
use mysql_async::prelude::*;
use mysql_async::{Conn, Opts, OptsBuilder};

/// Environment variable listing live servers as `name=url,name=url`.
pub const SERVERS_ENV: &str = "MYTRIAGE_TEST_SERVERS";

/// One live server to run tests against.
#[derive(Clone, Debug)]
pub struct TestServer {
    pub name: String,
    pub url: String,
}

impl TestServer {
    /// Connection options from the URL; TCP always, because the URL names a port
    /// and a local socket could belong to a different server.
    pub fn opts(&self) -> Opts {
        let opts = Opts::from_url(&self.url)
            .unwrap_or_else(|e| panic!("bad URL for test server {}: {e}", self.name));
        OptsBuilder::from_opts(opts).prefer_socket(false).into()
    }

    /// Same server, but as another user (empty password).
    pub fn opts_as(&self, user: &str) -> Opts {
        OptsBuilder::from_opts(self.opts())
            .user(Some(user))
            .pass(None::<String>)
            .into()
    }

    /// A fresh connection; panics because a test cannot go on without one.
    pub async fn conn(&self) -> Conn {
        self.try_conn().await.unwrap_or_else(|e| panic!("{e:#}"))
    }

    /// A fresh connection, as a `Result` for code that must clean up on failure.
    pub async fn try_conn(&self) -> Result<Conn> {
        Conn::new(self.opts())
            .await
            .with_context(|| format!("connecting to test server {} ({})", self.name, self.url))
    }

    /// Runs `sql` on a session of its own in the background (it disconnects when the statement
    /// returns), and gives that session's id at once; the caller waits for what it needs to see.
    pub async fn in_background(&self, sql: String) -> (u64, tokio::task::JoinHandle<()>) {
        let mut conn = self.conn().await;
        let pid: u64 = conn
            .query_first("SELECT CONNECTION_ID()")
            .await
            .unwrap()
            .unwrap();
        let task = tokio::spawn(async move {
            let _ = conn.query_drop(sql).await;
            let _ = conn.disconnect().await;
        });
        (pid, task)
    }

    /// Whether the server is MariaDB (its `VERSION()` says so; MySQL's never does).
    pub async fn is_mariadb(&self) -> bool {
        let mut conn = self.conn().await;
        let version: String = conn
            .query_first("SELECT VERSION()")
            .await
            .ok()
            .flatten()
            .unwrap_or_default();
        let _ = conn.disconnect().await;
        Flavor::from_version(&version) == Flavor::MariaDb
    }
}

/// Which server family: the one difference the tests and benchmarks branch on.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Flavor {
    MySql,
    MariaDb,
}

impl Flavor {
    /// From `VERSION()`: MariaDB's always says so, MySQL's never does.
    pub fn from_version(version: &str) -> Flavor {
        if version.to_ascii_lowercase().contains("mariadb") {
            Flavor::MariaDb
        } else {
            Flavor::MySql
        }
    }

    /// The flavor of the server `conn` is connected to.
    pub async fn of(conn: &mut Conn) -> Result<Flavor> {
        let version: String = conn
            .query_first("SELECT VERSION()")
            .await?
            .context("no VERSION()")?;
        Ok(Flavor::from_version(&version))
    }
}

/// The servers named in `MYTRIAGE_TEST_SERVERS`.
///
/// Unset or empty means "skip" on a developer machine, but under CI (`CI=true`) a
/// missing server is a failure, so it panics rather than letting live tests pass vacuously.
pub fn servers() -> Vec<TestServer> {
    let raw = std::env::var(SERVERS_ENV).unwrap_or_default();
    if raw.trim().is_empty() {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!(
                "{SERVERS_ENV} is not set but CI=true: live tests need servers (run scripts/testdb up)"
            );
        }
        eprintln!("skipping live test: {SERVERS_ENV} is not set (run scripts/testdb up)");
        return Vec::new();
    }
    raw.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(parse_server)
        .collect()
}

fn parse_server(entry: &str) -> TestServer {
    let (name, url) = entry
        .split_once('=')
        .unwrap_or_else(|| panic!("{SERVERS_ENV}: expected name=url, got {entry:?}"));
    TestServer {
        name: name.trim().to_string(),
        url: url.trim().to_string(),
    }
}

/// Prints the line CI logs are searched for, so it is visible that a live test ran
/// on each server rather than being skipped.
pub fn announce(test: &str, server: &TestServer) {
    eprintln!("live: {test} on {}", server.name);
}

impl TestServer {
    /// The same server as another account, for `--url`.
    pub fn url_as(&self, user: &str, password: Option<&str>) -> String {
        let credentials = match password {
            Some(password) => format!("{user}:{password}@"),
            None => format!("{user}@"),
        };
        self.url.replacen("root@", &credentials, 1)
    }

    /// Creates an account for every name a loopback client may arrive as (`%`, `localhost`,
    /// `127.0.0.1`), with an optional password and global privileges (`"PROCESS, SELECT"`).
    pub async fn create_user(&self, user: &str, password: Option<&str>, privileges: Option<&str>) {
        let mut conn = self.conn().await;
        for host in ["%", "localhost", "127.0.0.1"] {
            let identified = password
                .map(|p| format!(" IDENTIFIED BY '{p}'"))
                .unwrap_or_default();
            conn.query_drop(format!(
                "CREATE USER IF NOT EXISTS '{user}'@'{host}'{identified}"
            ))
            .await
            .unwrap_or_else(|e| panic!("creating {user}@{host}: {e}"));
            if let Some(privileges) = privileges {
                conn.query_drop(format!("GRANT {privileges} ON *.* TO '{user}'@'{host}'"))
                    .await
                    .unwrap_or_else(|e| panic!("granting to {user}@{host}: {e}"));
            }
        }
        let _ = conn.disconnect().await;
    }
}

/// Retries `check` until it passes, for up to 20 s, and returns its last failure otherwise.
///
/// For facts read through InnoDB's information_schema cache (`INNODB_TRX`, `INNODB_LOCK_WAITS`):
/// InnoDB refreshes it only after 100 ms without readers, which parallel tests can delay, so the
/// jittered pause between tries leaves it the gaps it needs (see [`scenarios::trx_cache_pause`]).
pub async fn eventually<C: Check>(what: &str, mut check: impl AsyncFnMut() -> C) -> Result<()> {
    let started = std::time::Instant::now();
    loop {
        match check().await.passed() {
            Ok(()) => return Ok(()),
            Err(e) if started.elapsed() > std::time::Duration::from_secs(20) => {
                return Err(e.context(format!("never happened: {what}")));
            }
            Err(_) => tokio::time::sleep(scenarios::trx_cache_pause()).await,
        }
    }
}

/// What an [`eventually`] check returns: whether it holds, or a `Result` whose error says
/// what is still wrong.
pub trait Check {
    fn passed(self) -> Result<()>;
}

impl Check for bool {
    fn passed(self) -> Result<()> {
        anyhow::ensure!(self, "not yet");
        Ok(())
    }
}

impl Check for Result<()> {
    fn passed(self) -> Result<()> {
        self
    }
}

/// The keys of a JSON object (empty for anything else), to compare documented and live shapes.
pub fn json_keys(value: &serde_json::Value) -> std::collections::BTreeSet<String> {
    value
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default()
}

impl TestServer {
    /// A fresh table `mytriage_test.<prefix>_<pid>_<nanos>` with rows (1, 0) and (2, 0).
    pub async fn scratch_table(&self, prefix: &str) -> String {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let table = format!(
            "mytriage_test.{prefix}_{}_{}",
            std::process::id(),
            nanos % 1_000_000_000
        );
        let mut admin = self.conn().await;
        for statement in [
            "CREATE DATABASE IF NOT EXISTS mytriage_test".to_owned(),
            format!("CREATE TABLE {table} (id INT PRIMARY KEY, v INT) ENGINE=InnoDB"),
            format!("INSERT INTO {table} VALUES (1, 0), (2, 0)"),
        ] {
            admin
                .query_drop(&statement)
                .await
                .unwrap_or_else(|e| panic!("{statement}: {e}"));
        }
        let _ = admin.disconnect().await;
        table
    }

    /// Turns on `innodb_print_all_deadlocks` and `log_error_verbosity = 3`, so MySQL keeps each
    /// deadlock in performance_schema.error_log; the guard puts them back.
    pub async fn log_deadlocks(&self) -> GlobalGuard {
        let mut root = self.conn().await;
        let mut globals = self.globals();
        globals
            .set(&mut root, "log_error_verbosity", 3)
            .await
            .unwrap();
        globals
            .set(&mut root, "innodb_print_all_deadlocks", "ON")
            .await
            .unwrap();
        let _ = root.disconnect().await;
        globals
    }
}

impl TestServer {
    /// Brings MariaDB's `metadata_lock_info` plugin (`information_schema.METADATA_LOCK_INFO`)
    /// to the wanted state, installing (`INSTALL SONAME`) or uninstalling (`UNINSTALL
    /// SONAME`) it as needed; [`PluginGuard::restore`] puts back the state it found.
    /// A no-op on MySQL, which has no such plugin. The plugin is server-wide: tests
    /// using this must run alone (in a module `exclusive`).
    pub async fn metadata_lock_info(&self, installed: bool) -> PluginGuard {
        let mut root = self.conn().await;
        let version: String = root
            .query_first("SELECT VERSION()")
            .await
            .unwrap()
            .unwrap_or_default();
        let original = if version.to_ascii_lowercase().contains("mariadb") {
            let original = metadata_lock_info_installed(&mut root).await;
            set_metadata_lock_info(&mut root, installed).await;
            Some(original)
        } else {
            None
        };
        PluginGuard { root, original }
    }
}

/// Whether `information_schema.METADATA_LOCK_INFO` exists.
pub async fn metadata_lock_info_installed(conn: &mut Conn) -> bool {
    let sql = "SELECT COUNT(*) FROM information_schema.TABLES \
               WHERE TABLE_SCHEMA = 'information_schema' AND TABLE_NAME = 'METADATA_LOCK_INFO'";
    let n: Option<u64> = conn.query_first(sql).await.unwrap();
    n.unwrap_or(0) > 0
}

/// Installs or uninstalls the plugin unless it is already so. A failed statement
/// is accepted if the plugin ended up as wanted anyway (another client did it).
async fn set_metadata_lock_info(conn: &mut Conn, installed: bool) {
    if metadata_lock_info_installed(conn).await == installed {
        return;
    }
    let statement = if installed {
        "INSTALL SONAME 'metadata_lock_info'"
    } else {
        "UNINSTALL SONAME 'metadata_lock_info'"
    };
    let result = conn.query_drop(statement).await;
    if let Err(e) = result {
        assert!(
            metadata_lock_info_installed(conn).await == installed,
            "{statement}: {e}"
        );
    }
}

/// The `metadata_lock_info` plugin state to restore; tests share the server.
pub struct PluginGuard {
    root: Conn,
    /// Whether the plugin was installed before; `None` on MySQL.
    original: Option<bool>,
}

impl PluginGuard {
    pub async fn restore(mut self) {
        if let Some(installed) = self.original {
            set_metadata_lock_info(&mut self.root, installed).await;
        }
        let _ = self.root.disconnect().await;
    }
}
