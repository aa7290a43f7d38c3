//! Scale benchmark: mytriage against the sys views on a server in the middle of a big lock pile-up.
//!
//! Run it with `scripts/bench` (it starts the test servers and finds their clients), or by hand:
//! `cargo bench --bench scale -- [--server NAME[,NAME]|all] [--rounds N] [--variant spread|hot-row|all]
//! [--skip-processlist] [--skip-cost]`.
//!
//! For each server it creates, in the database `mytriage_bench`: one transaction holding a row lock
//! on every row of a 300,000-row table, 200 sessions waiting behind it (each on its own row:
//! "spread"; or all on one row: "hot row", where InnoDB reports N*(N+1)/2 queue edges), and 1,000
//! idle connections. Then it runs each command as a child process, warm once, then interleaved
//! round by round (alternating the order), and reports medians, minimums, the child's CPU (user +
//! sys from `wait4`) and each median's ratio to the anchor: `select * from sys.innodb_lock_waits`
//! with the server's own command-line client. With `--threads` (5,000) connections open it measures
//! `processlist`. Where performance_schema is on, it reads what each command cost the server from
//! `events_statements_history_long`. The globals it changes (max_connections, that consumer) are put
//! back as they were found.

#[path = "../tests/support/mod.rs"]
mod support;

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail, ensure};
use mysql_async::prelude::*;
use mysql_async::{Conn, Opts, Row};
use support::{Flavor, GlobalGuard, TestServer};
use tokio::task::{JoinHandle, JoinSet};

/// What [`Server::mytriage_marked`]'s session set-up contains (`|` separates alternatives).
const MARKER: &str = "10007|10.007";
/// Where the scenario's table lives; dropped and re-created on every run.
const DB: &str = "mytriage_bench";
const TABLE: &str = "mytriage_bench.t";
/// Connections opened at once when building the scenario.
const OPEN_CONCURRENCY: usize = 50;
/// The explicit anchor join, for servers whose sys schema lacks `innodb_lock_waits`.
const ANCHOR_JOIN: &str = include_str!("anchor/innodb_lock_waits.i_s.sql");
/// Goals from the issue.
const LOCKS_GOAL_RATIO: f64 = 0.5;
const STATUS_GOAL_RATIO: f64 = 1.0;
const PROCESSLIST_GOAL_CPU_MS: f64 = 50.0;
const HELP_GOAL_WALL_MS: f64 = 5.0;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<()> {
    let args = Args::parse(std::env::args().skip(1))?;
    raise_open_files_limit();
    let mut report = Report {
        machine: format!("{} {}", machine(), revision()),
        ..Report::default()
    };
    eprintln!("bench: measuring `mytriage --help`");
    measure_help(&mut report, args.rounds).await?;
    let mut failures = Vec::new();
    for mut server in servers(&args)? {
        eprintln!("bench: === {} ({}) ===", server.name, server.url);
        let outcome = tokio::select! {
            outcome = bench_server(&mut server, &args, &mut report) => outcome,
            _ = tokio::signal::ctrl_c() => Err(anyhow!("interrupted")),
        };
        // Whatever happened, put the server's globals back.
        if let Err(e) = restore_globals(&server).await {
            eprintln!(
                "bench: WARNING: restoring globals on {}: {e:#}",
                server.name
            );
            failures.push(format!("{}: restoring globals: {e:#}", server.name));
        }
        if let Err(e) = outcome {
            eprintln!("bench: ERROR on {}: {e:#}", server.name);
            failures.push(format!("{}: {e:#}", server.name));
            if e.to_string() == "interrupted" {
                break;
            }
        }
    }
    print!("{}", report.render());
    if !failures.is_empty() {
        println!("\n## Failures\n");
        for failure in &failures {
            println!("- {failure}");
        }
        bail!("{} server(s) failed", failures.len());
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Arguments

/// Which lock scenario.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Variant {
    /// Each waiter waits on a different row the holder has locked.
    Spread,
    /// Every waiter waits on the same row.
    HotRow,
}

impl Variant {
    fn name(self) -> &'static str {
        match self {
            Variant::Spread => "spread",
            Variant::HotRow => "hot row",
        }
    }
}

struct Args {
    /// Server names from MYTRIAGE_TEST_SERVERS; empty means all.
    servers: Vec<String>,
    rounds: usize,
    variants: Vec<Variant>,
    rows: u32,
    waiters: usize,
    idle: usize,
    threads: usize,
    skip_processlist: bool,
    skip_cost: bool,
    /// How long to wait for other clients' transactions to end before building a scenario.
    quiet_wait: Duration,
    /// How long to keep the processlist scenario open after measuring it.
    hold: Duration,
}

impl Args {
    fn parse(mut raw: impl Iterator<Item = String>) -> Result<Self> {
        let mut args = Args {
            servers: Vec::new(),
            rounds: 15,
            variants: vec![Variant::Spread, Variant::HotRow],
            rows: 300_000,
            waiters: 200,
            idle: 1000,
            threads: 5000,
            skip_processlist: false,
            skip_cost: false,
            quiet_wait: Duration::from_secs(900),
            hold: Duration::ZERO,
        };
        while let Some(arg) = raw.next() {
            let (flag, inline) = match arg.split_once('=') {
                Some((flag, value)) => (flag.to_owned(), Some(value.to_owned())),
                None => (arg.clone(), None),
            };
            let mut value = || {
                inline
                    .clone()
                    .or_else(|| raw.next())
                    .with_context(|| format!("{flag} needs a value"))
            };
            match flag.as_str() {
                // cargo bench passes --bench to every harness-less bench.
                "--bench" => {}
                "--server" | "--servers" => {
                    let value = value()?;
                    args.servers = if value == "all" {
                        Vec::new()
                    } else {
                        value.split(',').map(|s| s.trim().to_owned()).collect()
                    };
                }
                "--rounds" => args.rounds = value()?.parse().context("--rounds")?,
                "--variant" => {
                    args.variants = match value()?.as_str() {
                        "spread" => vec![Variant::Spread],
                        "hot-row" => vec![Variant::HotRow],
                        "all" => vec![Variant::Spread, Variant::HotRow],
                        other => bail!("--variant: spread, hot-row or all, not {other:?}"),
                    }
                }
                "--rows" => args.rows = value()?.parse().context("--rows")?,
                "--waiters" => args.waiters = value()?.parse().context("--waiters")?,
                "--idle" => args.idle = value()?.parse().context("--idle")?,
                "--threads" => args.threads = value()?.parse().context("--threads")?,
                "--skip-processlist" => args.skip_processlist = true,
                "--skip-cost" => args.skip_cost = true,
                "--hold" => {
                    args.hold = Duration::from_secs(value()?.parse().context("--hold (seconds)")?)
                }
                "--quiet-wait" => {
                    args.quiet_wait =
                        Duration::from_secs(value()?.parse().context("--quiet-wait (seconds)")?)
                }
                "-h" | "--help" => {
                    println!(
                        "cargo bench --bench scale -- [--server NAME[,NAME]|all] [--rounds 15] \
                         [--variant spread|hot-row|all] [--rows 300000] [--waiters 200] [--idle 1000] \
                         [--threads 5000] [--skip-processlist] [--skip-cost] [--quiet-wait 900] [--hold 0]"
                    );
                    std::process::exit(0);
                }
                other => bail!("unknown argument {other:?} (try --help)"),
            }
        }
        ensure!(args.rounds >= 1, "--rounds must be at least 1");
        ensure!(args.waiters >= 1, "--waiters must be at least 1");
        ensure!(
            args.rows as usize >= args.waiters,
            "--rows must be at least --waiters"
        );
        Ok(args)
    }
}

// ---------------------------------------------------------------------------------------------
// Servers

struct Server {
    name: String,
    url: String,
    opts: Opts,
    flavor: Flavor,
    version: String,
    performance_schema: bool,
    /// The command-line client, as argv words (`chroot ROOT mysql`, `mariadb`).
    client: Vec<String>,
    /// Whether `sys.innodb_lock_waits` exists.
    sys_lock_waits: bool,
    /// The globals the bench changed (max_connections), to put back.
    globals: std::sync::Mutex<Option<GlobalGuard>>,
    /// The history_long consumer as found, if the bench turned it on (not a global variable).
    history_long_consumer: std::sync::Mutex<Option<String>>,
    test: TestServer,
}

/// The servers named in MYTRIAGE_TEST_SERVERS (all, or those given with --server).
fn servers(args: &Args) -> Result<Vec<Server>> {
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
    async fn detect(&mut self, admin: &mut Conn) -> Result<()> {
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

    fn client_name(&self) -> &str {
        self.client
            .last()
            .map(String::as_str)
            .unwrap_or("mysql")
            .rsplit('/')
            .next()
            .unwrap_or("mysql")
    }

    /// The command-line client running one statement, with its defaults (TLS preferred).
    fn client_sql(&self, label: &str, sql: &str) -> Spec {
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
    fn mytriage(&self, args: &[&str], ok_codes: &[i32]) -> Spec {
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
    fn mytriage_marked(&self, args: &[&str], ok_codes: &[i32]) -> Spec {
        let mut spec = self.mytriage(args, ok_codes);
        spec.args
            .splice(3..3, ["--query-timeout".to_owned(), "10007ms".to_owned()]);
        spec
    }

    /// The anchor: the sys view where it exists, else the same join spelled out.
    fn anchor(&self) -> Spec {
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

    fn anchor_join(&self) -> Spec {
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
    fn floor(&self) -> Spec {
        let table = match self.flavor {
            Flavor::MySql => "performance_schema.data_lock_waits",
            Flavor::MariaDb => "information_schema.INNODB_LOCK_WAITS",
        };
        let sql = format!("select * from {table}");
        self.client_sql(&format!("floor: {} -e '{sql}'", self.client_name()), &sql)
    }

    fn lock_waits_table(&self) -> &'static str {
        match self.flavor {
            Flavor::MySql => "performance_schema.data_lock_waits",
            Flavor::MariaDb => "information_schema.INNODB_LOCK_WAITS",
        }
    }

    async fn conn(&self) -> Result<Conn> {
        Conn::new(self.opts.clone())
            .await
            .with_context(|| format!("connecting to {} ({})", self.name, self.url))
    }
}

/// Puts back max_connections and the history_long consumer, if the bench changed them.
async fn restore_globals(server: &Server) -> Result<()> {
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
        let mut admin = server.conn().await?;
        set_history_long(&mut admin, &enabled).await?;
        eprintln!("bench: events_statements_history_long consumer restored to {enabled}");
        let _ = admin.disconnect().await;
    }
    Ok(())
}

async fn set_history_long(admin: &mut Conn, enabled: &str) -> Result<()> {
    admin
        .query_drop(format!(
            "UPDATE performance_schema.setup_consumers SET ENABLED = '{enabled}' \
             WHERE NAME = 'events_statements_history_long'"
        ))
        .await
        .context("setting the events_statements_history_long consumer")
}

// ---------------------------------------------------------------------------------------------
// One server

async fn bench_server(server: &mut Server, args: &Args, report: &mut Report) -> Result<()> {
    let mut admin = server.conn().await?;
    server.detect(&mut admin).await?;
    let result = bench_detected(server, &mut admin, args, report).await;
    let _ = admin.disconnect().await;
    result
}

async fn bench_detected(
    server: &Server,
    admin: &mut Conn,
    args: &Args,
    report: &mut Report,
) -> Result<()> {
    report.servers.push(format!(
        "{}: {} at {} (performance_schema {}), anchor client `{}`",
        server.name,
        server.version,
        server.url,
        if server.performance_schema {
            "ON"
        } else {
            "OFF"
        },
        server.client.join(" ")
    ));
    eprintln!(
        "bench: {} {} performance_schema={} client={:?}",
        server.name, server.version, server.performance_schema, server.client
    );

    let max_connections: u64 = admin
        .query_first("SELECT @@GLOBAL.max_connections")
        .await?
        .context("max_connections")?;
    let needed = if args.skip_processlist {
        args.idle + args.waiters + 50
    } else {
        args.threads.max(args.idle + args.waiters) + 100
    } as u64;
    if max_connections < needed {
        let mut globals = server.test.globals();
        let set = globals.set(admin, "max_connections", needed).await;
        *server.globals.lock().expect("not poisoned") = Some(globals);
        set?;
        eprintln!("bench: max_connections {max_connections} -> {needed} for the run");
    }

    eprintln!("bench: creating {TABLE} with {} rows", args.rows);
    let started = Instant::now();
    create_table(admin, server.flavor, args.rows).await?;
    eprintln!(
        "bench: table ready in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    eprintln!("bench: opening {} idle connections", args.idle);
    let started = Instant::now();
    let mut idle = open_many(&server.opts, args.idle).await?;
    eprintln!(
        "bench: {} idle connections in {:.1} s",
        idle.len(),
        started.elapsed().as_secs_f64()
    );

    let mut outcome = Ok(());
    for &variant in &args.variants {
        let scenario = match LockScenario::start(server, admin, args, variant).await {
            Ok(scenario) => scenario,
            Err(e) => {
                outcome = Err(e);
                break;
            }
        };
        let measured = measure_scenario(server, admin, args, variant, &scenario, report).await;
        let processlist =
            if measured.is_ok() && variant == Variant::Spread && !args.skip_processlist {
                measure_processlist(
                    server,
                    admin,
                    args,
                    1 + scenario.waiter_ids.len() as u64,
                    scenario.rows_locked,
                    report,
                )
                .await
            } else {
                Ok(())
            };
        let cleaned = scenario.stop(admin).await;
        if let Err(e) = measured.and(processlist).and(cleaned) {
            outcome = Err(e);
            break;
        }
    }
    close_many(std::mem::take(&mut idle)).await;
    if let Err(e) = admin
        .query_drop(format!("DROP DATABASE IF EXISTS {DB}"))
        .await
    {
        eprintln!("bench: WARNING: dropping {DB}: {e}");
    }
    outcome
}

async fn create_table(admin: &mut Conn, flavor: Flavor, rows: u32) -> Result<()> {
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

/// Opens `n` connections, `OPEN_CONCURRENCY` at a time.
async fn open_many(opts: &Opts, n: usize) -> Result<Vec<Conn>> {
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
async fn close_many(conns: Vec<Conn>) {
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

/// Waits until no other client has an InnoDB transaction open and connections stop coming and
/// going (other tests and experiments share the servers; `ours` are the scenario's own
/// transactions), at most `limit`; then goes on with a warning.
async fn wait_for_quiet(admin: &mut Conn, limit: Duration, ours: u64) -> Result<()> {
    let started = Instant::now();
    let mut told = false;
    let mut connected = status_value(admin, "Threads_connected").await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    loop {
        let foreign = open_trx(admin).await?.saturating_sub(ours);
        let now_connected = status_value(admin, "Threads_connected").await?;
        let drift = now_connected.abs_diff(connected);
        connected = now_connected;
        if foreign == 0 && drift <= CONNECTION_DRIFT {
            if told {
                eprintln!(
                    "bench: quiet after {:.0} s",
                    started.elapsed().as_secs_f64()
                );
            }
            return Ok(());
        }
        if started.elapsed() >= limit {
            eprintln!(
                "bench: WARNING: {foreign} other InnoDB transactions, {drift} connections come or \
                 gone, after {} s; going on",
                limit.as_secs()
            );
            return Ok(());
        }
        if !told {
            eprintln!(
                "bench: waiting for other clients: {foreign} other InnoDB transactions, {drift} \
                 connections come or gone (--quiet-wait {} s)",
                limit.as_secs()
            );
            told = true;
        }
        tokio::time::sleep(Duration::from_secs(3)).await;
    }
}

/// The holder and its waiters.
struct LockScenario {
    holder: Conn,
    holder_id: u64,
    rows_locked: u64,
    waiter_ids: Vec<u64>,
    waiters: Vec<JoinHandle<(Conn, std::result::Result<(), mysql_async::Error>)>>,
    /// Rows in the server's lock-wait table while measuring.
    wait_edges: u64,
    /// InnoDB transactions of other clients while measuring.
    other_trx: u64,
}

impl LockScenario {
    async fn start(
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
        let mut holder = server.conn().await?;
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
        for (i, mut conn) in conns.into_iter().enumerate() {
            let row = match variant {
                Variant::Spread => 1 + i * step,
                Variant::HotRow => 1,
            };
            self.waiter_ids.push(u64::from(conn.id()));
            self.waiters.push(tokio::spawn(async move {
                let result = async {
                    conn.query_drop("SET SESSION innodb_lock_wait_timeout = 600")
                        .await?;
                    conn.query_drop(format!("UPDATE {TABLE} SET v = v + 1 WHERE id = {row}"))
                        .await
                }
                .await;
                (conn, result)
            }));
        }
        let ids = self
            .waiter_ids
            .iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join(",");
        let started = Instant::now();
        loop {
            if let Some(done) = self.waiters.iter().position(JoinHandle::is_finished) {
                bail!(
                    "waiter {} ended before the measurement (it should block)",
                    self.waiter_ids[done]
                );
            }
            let waiting: u64 = admin
                .query_first(format!(
                    "SELECT COUNT(*) FROM information_schema.INNODB_TRX \
                     WHERE trx_state = 'LOCK WAIT' AND trx_mysql_thread_id IN ({ids})"
                ))
                .await?
                .unwrap_or(0);
            if waiting as usize == self.waiter_ids.len() {
                break;
            }
            ensure!(
                started.elapsed() < Duration::from_secs(120),
                "only {waiting} of {} waiters in LOCK WAIT after 120 s",
                self.waiter_ids.len()
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
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
    async fn stop(self, admin: &mut Conn) -> Result<()> {
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

// ---------------------------------------------------------------------------------------------
// Measuring

/// A command to run as a child process.
#[derive(Clone, Debug)]
struct Spec {
    label: String,
    program: String,
    args: Vec<String>,
    /// Exit codes that mean it worked.
    ok_codes: Vec<i32>,
}

/// One run of a command.
struct Run {
    wall: Duration,
    /// User + system CPU of the child, from wait4's rusage.
    cpu: Duration,
    code: i32,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
}

/// Spawns the command, drains its output, reaps it with wait4.
fn run_once(spec: &Spec) -> Result<Run> {
    let started = Instant::now();
    let mut child = Command::new(&spec.program)
        .args(&spec.args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {}", spec.program))?;
    let pid = libc::pid_t::try_from(child.id()).context("pid")?;
    let mut stderr_pipe = child.stderr.take().context("stderr")?;
    let stderr_reader = std::thread::spawn(move || {
        let mut buffer = Vec::new();
        let _ = stderr_pipe.read_to_end(&mut buffer);
        buffer
    });
    let mut stdout = Vec::new();
    child
        .stdout
        .take()
        .context("stdout")?
        .read_to_end(&mut stdout)
        .context("reading stdout")?;
    let (status, usage) = wait4(pid)?;
    let wall = started.elapsed();
    let stderr = stderr_reader.join().unwrap_or_default();
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -libc::WTERMSIG(status)
    };
    Ok(Run {
        wall,
        cpu: timeval(usage.ru_utime) + timeval(usage.ru_stime),
        code,
        stdout,
        stderr,
    })
}

fn wait4(pid: libc::pid_t) -> Result<(libc::c_int, libc::rusage)> {
    let mut status: libc::c_int = 0;
    // SAFETY: rusage is plain old data, all zeroes is a valid value.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: pid is our own unreaped child; status and usage point to live locals.
        let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if reaped == pid {
            return Ok((status, usage));
        }
        let error = std::io::Error::last_os_error();
        if error.kind() != std::io::ErrorKind::Interrupted {
            return Err(error).context("wait4");
        }
    }
}

fn timeval(tv: libc::timeval) -> Duration {
    Duration::from_secs(u64::try_from(tv.tv_sec).unwrap_or(0))
        + Duration::from_micros(u64::try_from(tv.tv_usec).unwrap_or(0))
}

/// Runs a command off the async runtime, so the scenario's tasks keep running.
async fn run_blocking(spec: &Spec) -> Result<Run> {
    let spec = spec.clone();
    tokio::task::spawn_blocking(move || run_once(&spec))
        .await
        .context("measuring task")?
}

fn check_exit(spec: &Spec, run: &Run) -> Result<()> {
    ensure!(
        spec.ok_codes.contains(&run.code),
        "`{}` exited {} (expected {:?}): {}",
        spec.label,
        run.code,
        spec.ok_codes,
        String::from_utf8_lossy(&run.stderr).trim()
    );
    Ok(())
}

/// What one command measured.
struct Measured {
    spec: Spec,
    walls: Vec<Duration>,
    cpus: Vec<Duration>,
    /// stdout of the warm-up run.
    warm_stdout: Vec<u8>,
}

/// Watches for other clients' InnoDB transactions while measuring (the servers are shared).
struct Guard<'a> {
    admin: &'a mut Conn,
    /// Transactions of our own scenario.
    ours: u64,
    /// Threads_connected when measuring began.
    connected: u64,
}

/// Attempts at measuring without other clients' interference.
const ATTEMPTS: usize = 10;

/// More connections come and go than this while measuring: another client is busy (a test suite).
const CONNECTION_DRIFT: u64 = 10;

impl Guard<'_> {
    async fn new(admin: &mut Conn, ours: u64) -> Result<Guard<'_>> {
        let connected = status_value(admin, "Threads_connected").await?;
        Ok(Guard {
            admin,
            ours,
            connected,
        })
    }

    /// Transactions that are not ours, or connections that came or went.
    async fn foreign(&mut self) -> Result<u64> {
        let trx = open_trx(self.admin).await?.saturating_sub(self.ours);
        let connected = status_value(self.admin, "Threads_connected").await?;
        let drift = connected.abs_diff(self.connected);
        if drift > CONNECTION_DRIFT {
            eprintln!(
                "bench: Threads_connected moved from {} to {connected}",
                self.connected
            );
            return Ok(trx.max(drift));
        }
        Ok(trx)
    }
}

async fn open_trx(admin: &mut Conn) -> Result<u64> {
    Ok(admin
        .query_first("SELECT COUNT(*) FROM information_schema.INNODB_TRX")
        .await?
        .unwrap_or(0))
}

/// Warms each command once, then runs them `rounds` times interleaved, alternating the order.
/// With a guard, gives up (None) as soon as another client's transaction shows up.
async fn measure(
    specs: &[Spec],
    rounds: usize,
    mut guard: Option<&mut Guard<'_>>,
) -> Result<Option<Vec<Measured>>> {
    let mut measured = Vec::new();
    for spec in specs {
        let run = run_blocking(spec).await?;
        check_exit(spec, &run)?;
        eprintln!("bench:   warm-up {:>9.1} ms  {}", ms(run.wall), spec.label);
        measured.push(Measured {
            spec: spec.clone(),
            walls: Vec::new(),
            cpus: Vec::new(),
            warm_stdout: run.stdout,
        });
    }
    for round in 0..rounds {
        if let Some(guard) = guard.as_deref_mut() {
            let foreign = guard.foreign().await?;
            if foreign > 0 {
                eprintln!(
                    "bench: {foreign} transactions or connections of other clients appeared in round {round}"
                );
                return Ok(None);
            }
        }
        let order: Vec<usize> = if round % 2 == 0 {
            (0..specs.len()).collect()
        } else {
            (0..specs.len()).rev().collect()
        };
        for i in order {
            let run = run_blocking(&specs[i]).await?;
            check_exit(&specs[i], &run)?;
            measured[i].walls.push(run.wall);
            measured[i].cpus.push(run.cpu);
        }
    }
    if let Some(guard) = guard {
        let foreign = guard.foreign().await?;
        if foreign > 0 {
            eprintln!(
                "bench: {foreign} transactions or connections of other clients appeared in the last round"
            );
            return Ok(None);
        }
    }
    Ok(Some(measured))
}

/// Measures with a guard; when other clients interfere, waits for them and measures again
/// (`ATTEMPTS` times), then measures regardless and says so.
async fn measure_alone(
    admin: &mut Conn,
    ours: u64,
    quiet_wait: Duration,
    specs: &[Spec],
    rounds: usize,
) -> Result<(Vec<Measured>, bool)> {
    for _attempt in 0..ATTEMPTS {
        wait_for_quiet(admin, quiet_wait, ours).await?;
        let mut guard = Guard::new(&mut *admin, ours).await?;
        if let Some(measured) = measure(specs, rounds, Some(&mut guard)).await? {
            return Ok((measured, false));
        }
    }
    eprintln!("bench: WARNING: other clients kept interfering; measuring with them");
    let measured = measure(specs, rounds, None).await?.expect("no guard");
    Ok((measured, true))
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn median(values: &[Duration]) -> Duration {
    let mut sorted = values.to_vec();
    sorted.sort();
    let n = sorted.len();
    if n == 0 {
        Duration::ZERO
    } else if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2
    }
}

/// Every `"pid"` number anywhere in a JSON document.
fn pids(value: &serde_json::Value, into: &mut BTreeSet<u64>) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, v) in map {
                if key == "pid" {
                    if let Some(pid) = v.as_u64() {
                        into.insert(pid);
                    }
                }
                pids(v, into);
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| pids(v, into)),
        _ => {}
    }
}

async fn measure_help(report: &mut Report, rounds: usize) -> Result<()> {
    let specs = [
        Spec {
            label: "reference: true".into(),
            program: "true".into(),
            args: Vec::new(),
            ok_codes: vec![0],
        },
        Spec {
            label: "mytriage --help".into(),
            program: env!("CARGO_BIN_EXE_mytriage").into(),
            args: vec!["--help".into()],
            ok_codes: vec![0],
        },
    ];
    let measured = measure(&specs, (rounds * 4).max(40), None)
        .await?
        .expect("no guard");
    report.add_group("startup", "-", measured, |label| {
        (label == "mytriage --help").then_some(Goal::WallMs(HELP_GOAL_WALL_MS))
    });
    Ok(())
}

async fn measure_scenario(
    server: &Server,
    admin: &mut Conn,
    args: &Args,
    variant: Variant,
    scenario: &LockScenario,
    report: &mut Report,
) -> Result<()> {
    let mut specs = vec![server.anchor(), server.floor()];
    if server.sys_lock_waits && server.flavor == Flavor::MariaDb {
        specs.push(server.anchor_join());
    }
    let locks = server.mytriage(&["locks", "--format", "json"], &[0]);
    let status = server.mytriage(&["status", "--format", "json"], &[0, 1]);
    specs.push(locks.clone());
    specs.push(status.clone());
    eprintln!(
        "bench: {} / {}: {} rounds of {} commands",
        server.name,
        variant.name(),
        args.rounds,
        specs.len()
    );
    let ours = 1 + scenario.waiter_ids.len() as u64;
    let (measured, interfered) =
        measure_alone(admin, ours, args.quiet_wait, &specs, args.rounds).await?;

    // Sanity: the blocker tree holds every waiter and the holder.
    let locks_json = &measured
        .iter()
        .find(|m| m.spec.label == locks.label)
        .expect("measured")
        .warm_stdout;
    let found = match serde_json::from_slice::<serde_json::Value>(locks_json) {
        Ok(json) => {
            let mut seen = BTreeSet::new();
            pids(&json, &mut seen);
            let waiters = scenario
                .waiter_ids
                .iter()
                .filter(|id| seen.contains(id))
                .count();
            if waiters < scenario.waiter_ids.len() || !seen.contains(&scenario.holder_id) {
                eprintln!(
                    "bench: WARNING: mytriage locks shows {waiters} of {} waiters{}",
                    scenario.waiter_ids.len(),
                    if seen.contains(&scenario.holder_id) {
                        ""
                    } else {
                        " and not the holder"
                    }
                );
            }
            format!(
                "{waiters}/{}{}",
                scenario.waiter_ids.len(),
                if seen.contains(&scenario.holder_id) {
                    " + holder"
                } else {
                    ", holder MISSING"
                }
            )
        }
        Err(e) => {
            eprintln!("bench: WARNING: mytriage locks printed no JSON: {e}");
            "not JSON".into()
        }
    };
    let connected: u64 = status_value(admin, "Threads_connected").await?;
    let scenario_name = format!("locks, {}", variant.name());
    report.scenarios.push(format!(
        "| {} | {} | {} | {} | {} | {} | {} | {} |",
        server.name,
        variant.name(),
        scenario.rows_locked,
        scenario.waiter_ids.len(),
        scenario.wait_edges,
        connected,
        if interfered { "**yes**" } else { "no" },
        found
    ));
    let locks_label = locks.label.clone();
    let status_label = status.label.clone();
    report.add_group(&scenario_name, &server.name, measured, |label| {
        if label == locks_label {
            Some(Goal::Ratio(LOCKS_GOAL_RATIO))
        } else if label == status_label {
            Some(Goal::Ratio(STATUS_GOAL_RATIO))
        } else {
            None
        }
    });

    if server.performance_schema && !args.skip_cost {
        let anchor = server.anchor();
        let anchor_marker = if server.sys_lock_waits {
            "sys.innodb_lock_waits"
        } else {
            "sql_kill_blocking_connection"
        }
        .to_owned();
        let commands = [
            (
                server.mytriage_marked(&["locks", "--format", "json"], &[0]),
                locks.label.clone(),
                MARKER.to_owned(),
            ),
            (
                server.mytriage_marked(&["status", "--format", "json"], &[0, 1]),
                status.label.clone(),
                MARKER.to_owned(),
            ),
            (anchor.clone(), anchor.label.clone(), anchor_marker),
        ];
        let context = CostContext {
            scenario: &scenario_name,
            rows_locked: scenario.rows_locked,
            ours,
            quiet_wait: args.quiet_wait,
        };
        measure_cost(server, admin, &context, &commands, report).await?;
    }
    Ok(())
}

async fn status_value(admin: &mut Conn, name: &str) -> Result<u64> {
    let row: Option<(String, String)> = admin
        .query_first(format!("SHOW GLOBAL STATUS LIKE '{name}'"))
        .await?;
    row.and_then(|(_, value)| value.parse().ok())
        .with_context(|| format!("status {name}"))
}

async fn measure_processlist(
    server: &Server,
    admin: &mut Conn,
    args: &Args,
    ours: u64,
    rows_locked: u64,
    report: &mut Report,
) -> Result<()> {
    let connected = status_value(admin, "Threads_connected").await? as usize;
    let extra = args.threads.saturating_sub(connected);
    eprintln!(
        "bench: opening {extra} more connections for {} threads",
        args.threads
    );
    let started = Instant::now();
    let more = open_many(&server.opts, extra).await?;
    eprintln!(
        "bench: {} more connections in {:.1} s",
        more.len(),
        started.elapsed().as_secs_f64()
    );
    let result = async {
        let connected = status_value(admin, "Threads_connected").await?;
        let specs = [
            server.client_sql(
                &format!("reference: {} -e 'show full processlist'", server.client_name()),
                "show full processlist",
            ),
            server.mytriage(&["processlist", "--format", "json"], &[0]),
            server.mytriage(&["processlist"], &[0]),
        ];
        let (measured, interfered) =
            measure_alone(admin, ours, args.quiet_wait, &specs, args.rounds).await?;
        let shown = serde_json::from_slice::<serde_json::Value>(&measured[1].warm_stdout)
            .map(|json| {
                let mut seen = BTreeSet::new();
                pids(&json, &mut seen);
                seen.len()
            })
            .unwrap_or(0);
        report.scenarios.push(format!(
            "| {} | processlist | (spread scenario still in place) | | | {connected} | {} | {shown} threads in processlist JSON |",
            server.name,
            if interfered { "**yes**" } else { "no" }
        ));
        let scenario_name = format!("processlist, {connected} threads");
        if server.performance_schema && !args.skip_cost {
            let json = server.mytriage(&["processlist", "--format", "json"], &[0]);
            let commands = [(
                server.mytriage_marked(&["processlist", "--format", "json"], &[0]),
                json.label,
                MARKER.to_owned(),
            )];
            let context = CostContext {
                scenario: &scenario_name,
                rows_locked,
                ours,
                quiet_wait: args.quiet_wait,
            };
            measure_cost(server, admin, &context, &commands, report).await?;
        }
        report.add_group(
            &scenario_name,
            &server.name,
            measured,
            |label| label.starts_with("mytriage").then_some(Goal::CpuMs(PROCESSLIST_GOAL_CPU_MS)),
        );
        Ok(())
    }
    .await;
    if !args.hold.is_zero() {
        eprintln!(
            "bench: holding {} connections on {} for {} s (--hold), e.g. to profile by hand",
            args.threads,
            server.name,
            args.hold.as_secs()
        );
        tokio::time::sleep(args.hold).await;
    }
    close_many(more).await;
    result
}

// ---------------------------------------------------------------------------------------------
// Cost to the server

/// One statement from events_statements_history_long.
struct Statement {
    thread_id: u64,
    /// SQL_TEXT: as sent, comments included, cut at performance_schema_max_sql_text_length.
    sql: String,
    /// DIGEST_TEXT: normalized, without comments.
    digest: String,
    rows_examined: u64,
    rows_sent: u64,
    timer_wait_ps: u64,
    errno: i64,
}

/// Where a cost measurement runs.
struct CostContext<'a> {
    scenario: &'a str,
    rows_locked: u64,
    /// The scenario's own InnoDB transactions.
    ours: u64,
    quiet_wait: Duration,
}

async fn measure_cost(
    server: &Server,
    admin: &mut Conn,
    context: &CostContext<'_>,
    commands: &[(Spec, String, String)],
    report: &mut Report,
) -> Result<()> {
    let enabled: String = admin
        .query_first(
            "SELECT ENABLED FROM performance_schema.setup_consumers \
             WHERE NAME = 'events_statements_history_long'",
        )
        .await?
        .context("no events_statements_history_long consumer")?;
    if enabled != "YES" {
        server
            .history_long_consumer
            .lock()
            .expect("not poisoned")
            .get_or_insert_with(|| enabled.clone());
        set_history_long(admin, "YES").await?;
    }
    let own_thread: u64 = admin
        .query_first(
            "SELECT THREAD_ID FROM performance_schema.threads WHERE PROCESSLIST_ID = CONNECTION_ID()",
        )
        .await?
        .context("own THREAD_ID")?;
    for (spec, label, marker) in commands {
        // Single runs vary (the server's caches, its other threads): keep the run with the median
        // server time of COST_RUNS.
        let mut runs = Vec::new();
        for _ in 0..COST_RUNS {
            runs.push(cost_run(admin, context, own_thread, spec, marker).await?);
        }
        runs.sort_by_key(|(statements, _)| server_ps(statements));
        let totals: Vec<f64> = runs
            .iter()
            .map(|(statements, _)| server_ps(statements) as f64 / 1e9)
            .collect();
        let (statements, wall) = runs.swap_remove(runs.len() / 2);
        let threads: BTreeSet<u64> = statements.iter().map(|s| s.thread_id).collect();
        if threads.len() > 1 {
            eprintln!(
                "bench: WARNING: {} threads match `{}`; all are counted",
                threads.len(),
                spec.label
            );
        }
        report.add_cost(server, context, label, statements, wall, &totals);
    }
    Ok(())
}

/// How many times each command's cost is measured.
const COST_RUNS: usize = 3;

/// Server time of a run's statements, in picoseconds.
fn server_ps(statements: &[Statement]) -> u64 {
    statements.iter().map(|s| s.timer_wait_ps).sum()
}

/// One cost run, repeated while other clients' transactions interfere.
async fn cost_run(
    admin: &mut Conn,
    context: &CostContext<'_>,
    own_thread: u64,
    spec: &Spec,
    marker: &str,
) -> Result<(Vec<Statement>, Duration)> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        wait_for_quiet(admin, context.quiet_wait, context.ours).await?;
        let (statements, wall) = statements_of(admin, own_thread, spec, marker).await?;
        let foreign = open_trx(admin).await?.saturating_sub(context.ours);
        if foreign == 0 || attempt == ATTEMPTS {
            if foreign > 0 {
                eprintln!(
                    "bench: WARNING: {foreign} transactions of other clients while measuring the cost of `{}`",
                    spec.label
                );
            }
            return Ok((statements, wall));
        }
        eprintln!("bench: {foreign} transactions of other clients appeared; measuring again");
    }
}

/// Runs the command once and reads back the top-level statements of every thread that started
/// meanwhile (the command's own connection), except ours.
async fn statements_of(
    admin: &mut Conn,
    own_thread: u64,
    spec: &Spec,
    marker: &str,
) -> Result<(Vec<Statement>, Duration)> {
    admin
        .query_drop("TRUNCATE TABLE performance_schema.events_statements_history_long")
        .await
        .context("truncating events_statements_history_long")?;
    let before: u64 = admin
        .query_first("SELECT IFNULL(MAX(THREAD_ID), 0) FROM performance_schema.threads")
        .await?
        .unwrap_or(0);
    let run = run_blocking(spec).await?;
    check_exit(spec, &run)?;
    let rows: Vec<Row> = admin
        .query(format!(
            "SELECT THREAD_ID, SQL_TEXT, ROWS_EXAMINED, ROWS_SENT, TIMER_WAIT, MYSQL_ERRNO, \
                    DIGEST_TEXT \
             FROM performance_schema.events_statements_history_long \
             WHERE THREAD_ID > {before} AND THREAD_ID <> {own_thread} \
               AND NESTING_EVENT_LEVEL = 0 \
             ORDER BY THREAD_ID, EVENT_ID"
        ))
        .await
        .context("reading events_statements_history_long")?;
    let text = |row: &mut Row, i: usize| {
        row.take_opt::<Option<String>, _>(i)
            .and_then(Result::ok)
            .flatten()
            .unwrap_or_default()
    };
    let statements: Vec<Statement> = rows
        .into_iter()
        .map(|mut row| Statement {
            thread_id: row.take_opt(0).and_then(Result::ok).unwrap_or(0),
            sql: text(&mut row, 1),
            digest: text(&mut row, 6),
            rows_examined: row.take_opt(2).and_then(Result::ok).unwrap_or(0),
            rows_sent: row.take_opt(3).and_then(Result::ok).unwrap_or(0),
            timer_wait_ps: row
                .take_opt::<Option<u64>, _>(4)
                .and_then(Result::ok)
                .flatten()
                .unwrap_or(0),
            errno: row
                .take_opt::<Option<i64>, _>(5)
                .and_then(Result::ok)
                .flatten()
                .unwrap_or(0),
        })
        .collect();
    // Keep the threads that ran the marker (one of `|`-separated texts): the command's own.
    let markers: Vec<String> = marker.split('|').map(str::to_ascii_lowercase).collect();
    let ours: BTreeSet<u64> = statements
        .iter()
        .filter(|s| {
            let sql = s.sql.to_ascii_lowercase();
            markers.iter().any(|m| sql.contains(m.as_str()))
        })
        .map(|s| s.thread_id)
        .collect();
    let all: BTreeSet<u64> = statements.iter().map(|s| s.thread_id).collect();
    if ours.is_empty() {
        eprintln!(
            "bench: WARNING: no thread ran {marker:?} for `{}`; counting all {} new threads",
            spec.label,
            all.len()
        );
        return Ok((statements, run.wall));
    }
    if all.len() > ours.len() {
        eprintln!(
            "bench: ({} other clients' threads left out of the cost of `{}`)",
            all.len() - ours.len(),
            spec.label
        );
    }
    let statements = statements
        .into_iter()
        .filter(|s| ours.contains(&s.thread_id))
        .collect();
    Ok((statements, run.wall))
}

// ---------------------------------------------------------------------------------------------
// Report

#[derive(Clone, Copy)]
enum Goal {
    /// Wall-time median at most this multiple of the anchor's.
    Ratio(f64),
    /// Client CPU (user + sys) median at most this many ms.
    CpuMs(f64),
    /// Wall-time median at most this many ms.
    WallMs(f64),
}

struct Line {
    scenario: String,
    server: String,
    command: String,
    median_ms: f64,
    min_ms: f64,
    cpu_ms: f64,
    ratio: f64,
    out_bytes: usize,
    goal: Option<Goal>,
}

impl Line {
    /// Whether the goal was met, and the gap.
    fn verdict(&self) -> Option<(bool, String, String)> {
        let goal = self.goal?;
        Some(match goal {
            Goal::Ratio(max) => (
                self.ratio <= max,
                format!("≤ {max:.1}× anchor"),
                format!("{:.3}× (goal {max:.1}×)", self.ratio),
            ),
            Goal::CpuMs(max) => (
                self.cpu_ms <= max,
                format!("CPU ≤ {max:.0} ms"),
                format!("CPU {:.1} ms (goal {max:.0} ms)", self.cpu_ms),
            ),
            Goal::WallMs(max) => (
                self.median_ms <= max,
                format!("wall ≤ {max:.0} ms"),
                format!("{:.2} ms (goal {max:.0} ms)", self.median_ms),
            ),
        })
    }
}

struct CostLine {
    server: String,
    scenario: String,
    command: String,
    statements: Vec<Statement>,
    wall_ms: f64,
    rows_locked: u64,
    /// Server time of every run, ms, ascending.
    totals_ms: Vec<f64>,
}

#[derive(Default)]
struct Report {
    machine: String,
    servers: Vec<String>,
    scenarios: Vec<String>,
    lines: Vec<Line>,
    costs: Vec<CostLine>,
}

impl Report {
    /// Adds one interleaved group; the first command is the reference for the ratios.
    fn add_group(
        &mut self,
        scenario: &str,
        server: &str,
        measured: Vec<Measured>,
        goal: impl Fn(&str) -> Option<Goal>,
    ) {
        let anchor = measured
            .first()
            .map_or(Duration::ZERO, |m| median(&m.walls));
        for m in measured {
            let wall = median(&m.walls);
            let line = Line {
                scenario: scenario.into(),
                server: server.into(),
                command: m.spec.label.clone(),
                median_ms: ms(wall),
                min_ms: ms(m.walls.iter().copied().min().unwrap_or_default()),
                cpu_ms: ms(median(&m.cpus)),
                ratio: if anchor.is_zero() {
                    0.0
                } else {
                    wall.as_secs_f64() / anchor.as_secs_f64()
                },
                out_bytes: m.warm_stdout.len(),
                goal: goal(&m.spec.label),
            };
            eprintln!(
                "bench:   median {:>9.1} ms  min {:>9.1} ms  cpu {:>7.1} ms  {:>6.2}x  {}",
                line.median_ms, line.min_ms, line.cpu_ms, line.ratio, line.command
            );
            self.lines.push(line);
        }
    }

    fn add_cost(
        &mut self,
        server: &Server,
        context: &CostContext<'_>,
        label: &str,
        statements: Vec<Statement>,
        wall: Duration,
        totals_ms: &[f64],
    ) {
        let line = CostLine {
            server: server.name.clone(),
            scenario: context.scenario.into(),
            command: label.to_owned(),
            statements,
            wall_ms: ms(wall),
            rows_locked: context.rows_locked,
            totals_ms: totals_ms.to_vec(),
        };
        eprintln!(
            "bench:   cost: {} statements, {} rows examined, {:.1} ms server time  {}",
            line.statements.len(),
            line.statements.iter().map(|s| s.rows_examined).sum::<u64>(),
            line.statements.iter().map(|s| s.timer_wait_ps).sum::<u64>() as f64 / 1e9,
            line.command
        );
        self.costs.push(line);
    }

    fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "# mytriage scale benchmark\n");
        let _ = writeln!(
            out,
            "Finished {} UTC. {}",
            chrono::Utc::now().format("%Y-%m-%d %H:%M"),
            self.machine
        );
        let _ = writeln!(out, "\nServers:\n");
        for server in &self.servers {
            let _ = writeln!(out, "- {server}");
        }
        let _ = writeln!(out, "\n## Scenarios as measured\n");
        let _ = writeln!(
            out,
            "| server | scenario | holder's rows locked | waiters in LOCK WAIT | lock-wait rows | Threads_connected | other clients' trx while measuring | in mytriage's JSON |"
        );
        let _ = writeln!(
            out,
            "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |"
        );
        for line in &self.scenarios {
            let _ = writeln!(out, "{line}");
        }
        let _ = writeln!(out, "\n## Timings\n");
        let _ = writeln!(
            out,
            "Each group ran interleaved in one run (warm-up once, then rounds alternating the order). \
             Ratio = this median / the group's first command's median (the anchor or reference). \
             CPU = the child's user + sys (wait4)."
        );
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "| scenario | server | command | median ms | min ms | CPU ms | stdout bytes | ratio | goal | met? |"
        );
        let _ = writeln!(
            out,
            "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | --- | --- |"
        );
        for line in &self.lines {
            let (goal, met) = match line.verdict() {
                Some((met, goal, _)) => (goal, if met { "yes" } else { "**no**" }.to_owned()),
                None => (String::new(), String::new()),
            };
            let _ = writeln!(
                out,
                "| {} | {} | {} | {:.1} | {:.1} | {:.1} | {} | {:.3}× | {} | {} |",
                line.scenario,
                line.server,
                cell(&line.command),
                line.median_ms,
                line.min_ms,
                line.cpu_ms,
                line.out_bytes,
                line.ratio,
                goal,
                met
            );
        }

        if !self.costs.is_empty() {
            self.render_costs(&mut out);
        }

        let _ = writeln!(out, "\n## Goals\n");
        for line in &self.lines {
            if let Some((met, _, gap)) = line.verdict() {
                let _ = writeln!(
                    out,
                    "- {} — {} / {} / `{}`: {}",
                    if met { "met" } else { "**missed**" },
                    line.scenario,
                    line.server,
                    line.command,
                    gap
                );
            }
        }
        out
    }

    fn render_costs(&self, out: &mut String) {
        let _ = writeln!(out, "\n## Cost to the server\n");
        let _ = writeln!(
            out,
            "From performance_schema.events_statements_history_long: the top-level statements of the \
             command's own connection (TIMER_WAIT in ms), with the scenario in place. Each command ran \
             {COST_RUNS} times; shown is the run with the median server time. mytriage ran here with \
             `--query-timeout 10007ms`, whose `SET SESSION` marks its connection among other clients'."
        );
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "| server | scenario | command | statements | rows examined | rows sent | server ms | server ms of the {COST_RUNS} runs | wall ms | worst statement by rows examined |"
        );
        let _ = writeln!(
            out,
            "| --- | --- | --- | ---: | ---: | ---: | ---: | --- | ---: | --- |"
        );
        for cost in &self.costs {
            let worst = cost
                .statements
                .iter()
                .max_by_key(|s| s.rows_examined)
                .map(|s| {
                    format!(
                        "{} rows, {:.1} ms: `{}`",
                        s.rows_examined,
                        s.timer_wait_ps as f64 / 1e9,
                        cell(&s.snippet(90))
                    )
                })
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {:.1} | {} | {:.1} | {} |",
                cost.server,
                cost.scenario,
                cell(&cost.command),
                cost.statements.len(),
                cost.statements.iter().map(|s| s.rows_examined).sum::<u64>(),
                cost.statements.iter().map(|s| s.rows_sent).sum::<u64>(),
                server_ps(&cost.statements) as f64 / 1e9,
                cost.totals_ms
                    .iter()
                    .map(|t| format!("{t:.1}"))
                    .collect::<Vec<_>>()
                    .join(" / "),
                cost.wall_ms,
                worst
            );
        }

        let _ = writeln!(out, "\n### Statements that read the lock tables\n");
        let _ = writeln!(
            out,
            "Every statement whose text mentions data_locks (MySQL) or INNODB_LOCKS (MariaDB), \
             with the row locks the holder has: a scan of data_locks would examine at least that many."
        );
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "| server | scenario | command | rows examined | row locks held | server ms | statement |"
        );
        let _ = writeln!(out, "| --- | --- | --- | ---: | ---: | ---: | --- |");
        for cost in &self.costs {
            for s in cost.statements.iter().filter(|s| s.reads_lock_table()) {
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {} | {} | {:.1} | `{}` |",
                    cost.server,
                    cost.scenario,
                    cell(&cost.command),
                    s.rows_examined,
                    cost.rows_locked,
                    s.timer_wait_ps as f64 / 1e9,
                    cell(&s.snippet(120))
                );
            }
        }

        let _ = writeln!(
            out,
            "\n### Costliest statements per command (top 5 by server time)\n"
        );
        let _ = writeln!(
            out,
            "| server | scenario | command | server ms | rows examined | rows sent | error | statement |"
        );
        let _ = writeln!(out, "| --- | --- | --- | ---: | ---: | ---: | ---: | --- |");
        for cost in &self.costs {
            let mut by_time: Vec<&Statement> = cost.statements.iter().collect();
            by_time.sort_by_key(|s| std::cmp::Reverse(s.timer_wait_ps));
            for s in by_time.into_iter().take(5) {
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {:.1} | {} | {} | {} | `{}` |",
                    cost.server,
                    cost.scenario,
                    cell(&cost.command),
                    s.timer_wait_ps as f64 / 1e9,
                    s.rows_examined,
                    s.rows_sent,
                    if s.errno == 0 {
                        String::new()
                    } else {
                        s.errno.to_string()
                    },
                    cell(&s.snippet(140))
                );
            }
        }
    }
}

impl Statement {
    /// The statement on one line, cut to `max` characters: its text without `--` comment lines,
    /// or, where the comments filled the recorded text, its digest.
    fn snippet(&self, max: usize) -> String {
        let text = self
            .sql
            .lines()
            .filter(|line| !line.trim_start().starts_with("--"))
            .collect::<Vec<_>>()
            .join(" ");
        let mut text = text.split_whitespace().collect::<Vec<_>>().join(" ");
        // performance_schema keeps 1024 bytes of text by default; a long header comment leaves
        // little of the statement itself.
        if (text.len() < 80 || self.sql.len() >= 1000) && !self.digest.is_empty() {
            text = self
                .digest
                .replace('`', "")
                .replace(" . ", ".")
                .replace(" , ", ", ")
                .replace("( ", "(")
                .replace(" )", ")");
            text = text.split_whitespace().collect::<Vec<_>>().join(" ");
        }
        if text.chars().count() > max {
            format!("{}…", text.chars().take(max).collect::<String>())
        } else {
            text
        }
    }

    /// Whether it reads a lock table (by its text or its digest).
    fn reads_lock_table(&self) -> bool {
        [&self.sql, &self.digest].iter().any(|text| {
            let lower = text.to_ascii_lowercase();
            lower.contains("data_locks") || lower.contains("innodb_locks")
        })
    }
}

/// Escapes a Markdown table cell.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('`', "'")
}

// ---------------------------------------------------------------------------------------------
// The machine

fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|line| line.strip_prefix("model name"))
        .and_then(|rest| rest.split_once(':'))
        .map_or("unknown CPU".to_owned(), |(_, model)| {
            model.trim().to_owned()
        });
    let cpus = std::thread::available_parallelism().map_or(0, usize::from);
    let memory_gib = std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .find_map(|line| line.strip_prefix("MemTotal:"))
        .and_then(|rest| {
            rest.trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<f64>()
                .ok()
        })
        .map_or(0.0, |kb| kb / 1024.0 / 1024.0);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!(
        "Machine: {cpus} CPUs ({model}), {memory_gib:.0} GiB, Linux {}.",
        kernel.trim()
    )
}

/// Which mytriage was measured: the commit, and whether src/ or queries/ had uncommitted changes.
fn revision() -> String {
    let dir = env!("CARGO_MANIFEST_DIR");
    let git = |args: &[&str]| {
        Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(args)
            .stderr(Stdio::null())
            .output()
            .ok()
            .filter(|out| out.status.success())
            .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_owned())
    };
    let Some(head) = git(&["rev-parse", "--short", "HEAD"]) else {
        return "mytriage built from a tree outside git.".to_owned();
    };
    let changed = git(&["status", "--porcelain", "--", "src", "queries"])
        .map_or(0, |out| out.lines().count());
    if changed == 0 {
        format!("mytriage built from commit {head}.")
    } else {
        format!(
            "mytriage built from commit {head} plus uncommitted changes to {changed} files in src/ and queries/."
        )
    }
}

/// Thousands of connections need thousands of descriptors: soft limit up to the hard one.
fn raise_open_files_limit() {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: limit points to a live rlimit.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 && limit.rlim_cur < limit.rlim_max
        {
            limit.rlim_cur = limit.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
}
