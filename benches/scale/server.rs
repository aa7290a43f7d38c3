//! The servers to measure: each one's flavor and capabilities, its command-line client, and the
//! commands timed against it (mytriage, the anchor, the floor) as [`Spec`]s.

use anyhow::{Context, Result, ensure};
use mysql_async::prelude::*;
use mysql_async::{Conn, Opts};

use crate::args::Args;
use crate::measure::Spec;
use crate::support::{self, Flavor, GlobalGuard, TestServer};

/// What [`Server::mytriage_marked`]'s session set-up contains (`|` separates alternatives).
pub(crate) const MARKER: &str = "10007|10.007";
/// The explicit anchor join, for servers whose sys schema lacks `innodb_lock_waits`.
const ANCHOR_JOIN: &str = include_str!("../anchor/innodb_lock_waits.i_s.sql");

pub(crate) struct Server {
    pub(crate) name: String,
    pub(crate) url: String,
    pub(crate) opts: Opts,
    pub(crate) flavor: Flavor,
    pub(crate) version: String,
    pub(crate) performance_schema: bool,
    /// The command-line client, as argv words (`chroot ROOT mysql`, `mariadb`).
    pub(crate) client: Vec<String>,
    /// Whether `sys.innodb_lock_waits` exists.
    pub(crate) sys_lock_waits: bool,
    /// The globals the bench changed (max_connections), to put back.
    pub(crate) globals: std::sync::Mutex<Option<GlobalGuard>>,
    /// The history_long consumer as found, if the bench turned it on (not a global variable).
    pub(crate) history_long_consumer: std::sync::Mutex<Option<String>>,
    pub(crate) test: TestServer,
}

/// The servers named in MYTRIAGE_TEST_SERVERS (all, or those given with --server).
pub(crate) fn servers(args: &Args) -> Result<Vec<Server>> {
    let listed = support::servers();
    ensure!(
        !listed.is_empty(),
        "{} is not set: run scripts/bench (it starts the servers)",
        support::SERVERS_ENV
    );
    for wanted in &args.servers {
        ensure!(
            listed.iter().any(|server| &server.name == wanted),
            "--server {wanted}: not in {} ({})",
            support::SERVERS_ENV,
            listed
                .iter()
                .map(|server| server.name.as_str())
                .collect::<Vec<_>>()
                .join(",")
        );
    }
    Ok(listed
        .into_iter()
        .filter(|server| args.servers.is_empty() || args.servers.contains(&server.name))
        .map(|test| Server {
            name: test.name.clone(),
            url: test.url.clone(),
            opts: test.opts(),
            flavor: Flavor::MySql,
            version: String::new(),
            performance_schema: false,
            client: Vec::new(),
            sys_lock_waits: false,
            globals: Default::default(),
            history_long_consumer: Default::default(),
            test,
        })
        .collect())
}

impl Server {
    /// Reads flavor, version and capabilities, and picks the client.
    pub(crate) async fn detect(&mut self, admin: &mut Conn) -> Result<()> {
        let (version, ps): (String, String) = admin
            .query_first("SELECT VERSION(), @@GLOBAL.performance_schema")
            .await?
            .context("no version")?;
        self.version = version;
        self.performance_schema = ps == "1" || ps.eq_ignore_ascii_case("ON");
        self.flavor = Flavor::from_version(&self.version);
        let (variable, default) = match self.flavor {
            Flavor::MySql => ("MYTRIAGE_BENCH_MYSQL", "mysql"),
            Flavor::MariaDb => ("MYTRIAGE_BENCH_MARIADB", "mariadb"),
        };
        let client = std::env::var(variable).unwrap_or_else(|_| default.to_owned());
        self.client = client.split_whitespace().map(str::to_owned).collect();
        ensure!(!self.client.is_empty(), "{variable} is empty");
        let views: u64 = admin
            .query_first(
                "SELECT COUNT(*) FROM information_schema.VIEWS \
                 WHERE TABLE_SCHEMA = 'sys' AND TABLE_NAME = 'innodb_lock_waits'",
            )
            .await?
            .unwrap_or(0);
        self.sys_lock_waits = views > 0;
        Ok(())
    }

    pub(crate) fn client_name(&self) -> &str {
        self.client
            .last()
            .map(String::as_str)
            .unwrap_or("mysql")
            .rsplit('/')
            .next()
            .unwrap_or("mysql")
    }

    /// The command-line client running one statement, with its defaults (TLS preferred).
    pub(crate) fn client_sql(&self, label: &str, sql: &str) -> Spec {
        let mut args: Vec<String> = self.client[1..].to_vec();
        args.push("--no-defaults".into());
        args.push(format!("--host={}", self.opts.ip_or_hostname()));
        args.push(format!("--port={}", self.opts.tcp_port()));
        args.push(format!("--user={}", self.opts.user().unwrap_or("root")));
        if let Some(pass) = self.opts.pass() {
            args.push(format!("--password={pass}"));
        }
        args.push("-e".into());
        args.push(sql.into());
        Spec {
            label: label.into(),
            program: self.client[0].clone(),
            args,
            ok_codes: vec![0],
        }
    }

    /// `mytriage --no-defaults --url URL ARGS...`.
    pub(crate) fn mytriage(&self, args: &[&str], ok_codes: &[i32]) -> Spec {
        let mut argv = vec!["--no-defaults".to_owned(), "--url".into(), self.url.clone()];
        argv.extend(args.iter().map(|a| (*a).to_owned()));
        Spec {
            label: format!("mytriage {}", args.join(" ")),
            program: env!("CARGO_BIN_EXE_mytriage").into(),
            args: argv,
            ok_codes: ok_codes.to_vec(),
        }
    }

    /// mytriage with a distinct `--query-timeout`, which shows up in its session set-up (`SET
    /// SESSION max_execution_time = 10007` / `max_statement_time = 10.007`): it tells its
    /// connection from those of other clients (tests) that run mytriage meanwhile.
    pub(crate) fn mytriage_marked(&self, args: &[&str], ok_codes: &[i32]) -> Spec {
        let mut spec = self.mytriage(args, ok_codes);
        spec.args
            .splice(3..3, ["--query-timeout".to_owned(), "10007ms".to_owned()]);
        spec
    }

    /// The anchor: the sys view where it exists, else the same join spelled out.
    pub(crate) fn anchor(&self) -> Spec {
        if self.sys_lock_waits {
            self.client_sql(
                &format!(
                    "anchor: {} -e 'select * from sys.innodb_lock_waits'",
                    self.client_name()
                ),
                "select * from sys.innodb_lock_waits",
            )
        } else {
            self.anchor_join()
        }
    }

    pub(crate) fn anchor_join(&self) -> Spec {
        self.client_sql(
            &format!(
                "{}: {} -e \"$(cat benches/anchor/innodb_lock_waits.i_s.sql)\"",
                if self.sys_lock_waits {
                    "same join"
                } else {
                    "anchor"
                },
                self.client_name()
            ),
            ANCHOR_JOIN,
        )
    }

    /// Connect plus one read of the raw waits table, with the same client.
    pub(crate) fn floor(&self) -> Spec {
        let sql = format!("select * from {}", self.lock_waits_table());
        self.client_sql(&format!("floor: {} -e '{sql}'", self.client_name()), &sql)
    }

    pub(crate) fn lock_waits_table(&self) -> &'static str {
        match self.flavor {
            Flavor::MySql => "performance_schema.data_lock_waits",
            Flavor::MariaDb => "information_schema.INNODB_LOCK_WAITS",
        }
    }
}

/// Puts back max_connections and the history_long consumer, if the bench changed them.
pub(crate) async fn restore_globals(server: &Server) -> Result<()> {
    let globals = server.globals.lock().expect("not poisoned").take();
    if let Some(globals) = globals {
        let max = globals.original("max_connections").map(str::to_owned);
        globals.restore().await?;
        if let Some(max) = max {
            eprintln!("bench: max_connections restored to {max}");
        }
    }
    let consumer = server
        .history_long_consumer
        .lock()
        .expect("not poisoned")
        .take();
    if let Some(enabled) = consumer {
        let mut admin = server.test.try_conn().await?;
        set_history_long(&mut admin, &enabled).await?;
        eprintln!("bench: events_statements_history_long consumer restored to {enabled}");
        let _ = admin.disconnect().await;
    }
    Ok(())
}

pub(crate) async fn set_history_long(admin: &mut Conn, enabled: &str) -> Result<()> {
    admin
        .query_drop(format!(
            "UPDATE performance_schema.setup_consumers SET ENABLED = '{enabled}' \
             WHERE NAME = 'events_statements_history_long'"
        ))
        .await
        .context("setting the events_statements_history_long consumer")
}
