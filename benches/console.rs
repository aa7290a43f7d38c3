//! The console benchmark: what `mytriage console` costs the client per sample and per frame, on
//! a real sample of a server with 5,000 client threads, against the same measurement on a real
//! sample of the same incident at 50 sessions (the anchor, measured in the same process).
//!
//!   scripts/bench --console [--server NAME[,NAME]] [--rounds 7] [--frames 200]
//!                           [--threads 5000] [--waiters 500] [--small 50] [--small-waiters 20]
//!
//! For each server, in a throwaway database `mytriage_console_bench`: one session updates row 1
//! and sits idle in its transaction (the root blocker); `--small-waiters` sessions block updating
//! the same row and more sit idle, `--small` of ours in all; a console sample is taken
//! (`mytriage::console_bench::sample`, the sampler's own `take`). Then the waiters grow to
//! `--waiters` and idle connections until the server has `--threads` client threads
//! (max_connections raised for the run if it must be), and a second sample is taken. The incident
//! is torn down at once (the holder rolls back, every connection closes, the globals are put
//! back, the database dropped), and only then is anything measured: in rounds, alternating the
//! two samples, the CPU of taking each in (`App::update`, with the 5-minute load window full) and
//! of drawing frames of each pane into ratatui's TestBackend at 200x50 and 80x24. Medians, and
//! the ratio of 5,000 threads to 50, go to stdout as Markdown; progress to stderr.
//!
//! While the incident stands the bench holds the named lock that `fill_connections` scenarios
//! take, so tests that fill a fraction of max_connections wait rather than fill the raised one.

#[path = "common/conns.rs"]
mod conns;
#[path = "common/machine.rs"]
mod machine;
#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use conns::{Waiter, all_waiting, blocked_update, close_many, open_many};
use mysql_async::prelude::*;
use mysql_async::{Conn, Opts};
use mytriage::console_bench::{self, Costs, FULL_WINDOW, Plan, Sample};
use support::{GlobalGuard, TestServer};

const DB: &str = "mytriage_console_bench";
const TABLE: &str = "mytriage_console_bench.t";
/// Connections opened at once.
/// Spare connections above the incident when max_connections must be raised (the sampler,
/// the admin connection, other clients of a shared server).
const HEADROOM: u64 = 200;
/// Terminal sizes measured: a roomy terminal and the smallest the console supports.
const SIZES: [(u16, u16); 2] = [(200, 50), (80, 24)];

struct Args {
    servers: Vec<String>,
    rounds: usize,
    frames: usize,
    threads: usize,
    waiters: usize,
    small: usize,
    small_waiters: usize,
}

fn parse_args() -> Result<Args> {
    let mut args = Args {
        servers: Vec::new(),
        rounds: 7,
        frames: 200,
        threads: 5000,
        waiters: 500,
        small: 50,
        small_waiters: 20,
    };
    let mut words = std::env::args().skip(1);
    let number = |word: &str, value: Option<String>| -> Result<usize> {
        let value = value.with_context(|| format!("{word} needs a number"))?;
        value
            .parse()
            .with_context(|| format!("{word}: {value:?} is not a number"))
    };
    while let Some(word) = words.next() {
        match word.as_str() {
            "--server" => {
                let names = words.next().context("--server needs a name")?;
                args.servers = names.split(',').map(str::to_owned).collect();
            }
            "--rounds" => args.rounds = number(&word, words.next())?,
            "--frames" => args.frames = number(&word, words.next())?,
            "--threads" => args.threads = number(&word, words.next())?,
            "--waiters" => args.waiters = number(&word, words.next())?,
            "--small" => args.small = number(&word, words.next())?,
            "--small-waiters" => args.small_waiters = number(&word, words.next())?,
            "--console" | "--bench" => {} // from scripts/bench, from `cargo bench`
            other => bail!("unknown argument {other:?} (see benches/console.rs)"),
        }
    }
    ensure!(
        args.rounds > 0 && args.frames > 0,
        "--rounds and --frames must be at least 1"
    );
    ensure!(
        args.small_waiters + 1 < args.small
            && args.small < args.threads
            && args.small_waiters <= args.waiters
            && args.waiters < args.threads,
        "need --small-waiters < --small < --threads and --small-waiters <= --waiters < --threads"
    );
    Ok(args)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<()> {
    let args = parse_args()?;
    machine::raise_open_files_limit();
    let listed = support::servers();
    ensure!(
        !listed.is_empty(),
        "{} is not set: run scripts/bench --console",
        support::SERVERS_ENV
    );
    let chosen: Vec<TestServer> = listed
        .into_iter()
        .filter(|s| args.servers.is_empty() || args.servers.contains(&s.name))
        .collect();
    ensure!(
        !chosen.is_empty(),
        "--server: none of {:?} is listed",
        args.servers
    );
    let plan = Plan {
        frames: args.frames,
        updates: 10,
        window_samples: FULL_WINDOW,
        sizes: SIZES.to_vec(),
    };
    let mut out = String::new();
    out.push_str(&format!(
        "## Console: client CPU per sample and per frame\n\n{}\n{} rounds; per round each \
         sample taken in 10 times and {} frames drawn per pane and size; medians of the rounds, \
         in µs of this thread's CPU. The load window holds {FULL_WINDOW} samples (the default \
         5 minutes at 2 s) when the sample arrives.\n",
        machine(),
        args.rounds,
        args.frames
    ));
    let mut failures = Vec::new();
    for server in &chosen {
        eprintln!("console bench: === {} ===", server.name);
        let samples = tokio::select! {
            samples = incident_samples(server, &args) => samples,
            _ = tokio::signal::ctrl_c() => Err(anyhow::anyhow!("interrupted")),
        };
        match samples {
            Ok((mut small, mut big)) => {
                eprintln!("console bench: {}: measuring in-process", server.name);
                match measure_rounds(&mut small, &mut big, &plan, args.rounds) {
                    Ok(table) => out.push_str(&report(server, &small, &big, &table)),
                    Err(e) => failures.push(format!("{}: {e:#}", server.name)),
                }
            }
            Err(e) => {
                eprintln!("console bench: ERROR on {}: {e:#}", server.name);
                failures.push(format!("{}: {e:#}", server.name));
            }
        }
    }
    print!("{out}");
    if !failures.is_empty() {
        println!("\n### Failures\n");
        for failure in &failures {
            println!("- {failure}");
        }
        bail!("{} server(s) failed", failures.len());
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The incident

/// The root blocker, its waiters and the idle sessions.
#[derive(Default)]
struct Incident {
    holder: Option<Conn>,
    waiter_ids: Vec<u64>,
    waiters: Vec<Waiter>,
    idle: Vec<Conn>,
}

/// Builds the incident at 50 sessions, samples it, grows it to 5,000 threads, samples it, and
/// tears it down, whatever happened.
async fn incident_samples(server: &TestServer, args: &Args) -> Result<(Sample, Sample)> {
    let mut admin = server.try_conn().await?;
    let serialised: Option<i64> = admin
        .query_first("SELECT GET_LOCK('mytriage_test.fill_connections', 120)")
        .await?
        .flatten();
    ensure!(
        serialised == Some(1),
        "the fill_connections named lock stayed taken for 120 s"
    );
    let mut globals = server.globals();
    let mut incident = Incident::default();
    let started = Instant::now();
    let samples = build_and_sample(server, &mut admin, &mut globals, &mut incident, args).await;
    let stood = started.elapsed();
    let stopped = incident.stop(&mut admin).await;
    let restored = globals.restore().await;
    let _ = admin
        .query_drop(format!("DROP DATABASE IF EXISTS {DB}"))
        .await;
    let _ = admin
        .query_drop("SELECT RELEASE_LOCK('mytriage_test.fill_connections')")
        .await;
    let _ = admin.disconnect().await;
    eprintln!(
        "console bench: {}: incident stood {:.1} s, torn down in {:.1} s",
        server.name,
        stood.as_secs_f64(),
        (started.elapsed() - stood).as_secs_f64()
    );
    restored.context("restoring max_connections")?;
    stopped?;
    samples
}

async fn build_and_sample(
    server: &TestServer,
    admin: &mut Conn,
    globals: &mut GlobalGuard,
    incident: &mut Incident,
    args: &Args,
) -> Result<(Sample, Sample)> {
    for statement in [
        format!("CREATE DATABASE IF NOT EXISTS {DB}"),
        format!("DROP TABLE IF EXISTS {TABLE}"),
        format!("CREATE TABLE {TABLE} (id INT PRIMARY KEY, v INT NOT NULL) ENGINE=InnoDB"),
        format!("INSERT INTO {TABLE} VALUES (1, 0), (2, 0)"),
    ] {
        admin
            .query_drop(&statement)
            .await
            .with_context(|| statement.clone())?;
    }
    let opts = server.opts();
    let mut holder = Conn::new(opts.clone()).await?;
    for statement in [
        "BEGIN".to_owned(),
        format!("UPDATE {TABLE} SET v = v + 1 WHERE id = 1"),
    ] {
        holder
            .query_drop(&statement)
            .await
            .with_context(|| statement.clone())?;
    }
    incident.holder = Some(holder);

    // 50 sessions of ours: the holder, its waiters, the rest idle.
    incident.add_waiters(&opts, args.small_waiters).await?;
    incident
        .add_idle(&opts, args.small - 1 - args.small_waiters)
        .await?;
    incident.until_waiting(admin).await?;
    let small = console_bench::sample(&server.url)
        .await
        .context("sampling at 50 sessions")?;
    eprintln!(
        "console bench: {}: sampled {} sessions ({} tree rows) in {:.0} ms",
        server.name,
        small.threads,
        small.tree_rows,
        small.took.as_secs_f64() * 1e3
    );

    // 5,000 client threads on the server.
    let max_connections: u64 = admin
        .query_first("SELECT @@GLOBAL.max_connections")
        .await?
        .context("no max_connections")?;
    let needed = args.threads as u64 + HEADROOM;
    if max_connections < needed {
        globals.set(admin, "max_connections", needed).await?;
        eprintln!("console bench: max_connections {max_connections} -> {needed} for the run");
    }
    incident
        .add_waiters(&opts, args.waiters - args.small_waiters)
        .await?;
    incident.until_waiting(admin).await?;
    // The sampler's own connection is one of the threads it sees; other clients of a shared
    // server come and go, so the count is checked again once.
    for _ in 0..2 {
        let connected = threads_connected(admin).await?;
        let extra = (args.threads as u64).saturating_sub(connected + 1);
        incident.add_idle(&opts, extra as usize).await?;
    }
    let big = console_bench::sample(&server.url)
        .await
        .context("sampling at 5,000 threads")?;
    eprintln!(
        "console bench: {}: sampled {} sessions ({} tree rows) in {:.0} ms",
        server.name,
        big.threads,
        big.tree_rows,
        big.took.as_secs_f64() * 1e3
    );
    Ok((small, big))
}

async fn threads_connected(admin: &mut Conn) -> Result<u64> {
    let row: Option<(String, String)> = admin
        .query_first("SHOW GLOBAL STATUS LIKE 'Threads_connected'")
        .await?;
    row.context("no Threads_connected")?
        .1
        .parse()
        .context("Threads_connected is not a number")
}

impl Incident {
    /// `n` more sessions blocked updating row 1.
    async fn add_waiters(&mut self, opts: &Opts, n: usize) -> Result<()> {
        for conn in open_many(opts, n).await? {
            self.waiter_ids.push(u64::from(conn.id()));
            let update = format!("UPDATE {TABLE} SET v = v + 1 WHERE id = 1");
            self.waiters.push(blocked_update(conn, update));
        }
        Ok(())
    }

    async fn add_idle(&mut self, opts: &Opts, n: usize) -> Result<()> {
        let more = open_many(opts, n).await?;
        self.idle.extend(more);
        Ok(())
    }

    /// Until every waiter is in LOCK WAIT.
    async fn until_waiting(&self, admin: &mut Conn) -> Result<()> {
        all_waiting(
            admin,
            &self.waiter_ids,
            &self.waiters,
            Duration::from_secs(60),
        )
        .await
    }

    /// Rolls the holder back, lets the waiters finish, closes every connection.
    async fn stop(&mut self, admin: &mut Conn) -> Result<()> {
        if let Some(mut holder) = self.holder.take() {
            let _ = holder.query_drop("ROLLBACK").await;
            let _ = holder.disconnect().await;
        }
        let mut stuck = Vec::new();
        let mut finished = Vec::new();
        for (id, waiter) in self.waiter_ids.drain(..).zip(self.waiters.drain(..)) {
            match tokio::time::timeout(Duration::from_secs(30), waiter).await {
                Ok(Ok((conn, _))) => finished.push(conn),
                Ok(Err(_)) => {}
                Err(_) => stuck.push(id),
            }
        }
        for id in &stuck {
            let _ = admin.query_drop(format!("KILL {id}")).await;
        }
        finished.append(&mut self.idle);
        close_many(finished).await;
        ensure!(
            stuck.is_empty(),
            "{} waiters still blocked 30 s after the holder rolled back (killed)",
            stuck.len()
        );
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Measuring and reporting

/// Each measured line's median over the rounds: `(label, at 50, at 5,000)`.
type Table = Vec<(String, Duration, Duration)>;

/// Rounds alternating which sample goes first, so drift in the machine hits both alike.
fn measure_rounds(
    small: &mut Sample,
    big: &mut Sample,
    plan: &Plan,
    rounds: usize,
) -> Result<Table> {
    let mut smalls: Vec<Costs> = Vec::new();
    let mut bigs: Vec<Costs> = Vec::new();
    // One unrecorded round warms the caches and the allocator.
    console_bench::measure(small, plan)?;
    console_bench::measure(big, plan)?;
    for round in 0..rounds {
        if round % 2 == 0 {
            smalls.push(console_bench::measure(small, plan)?);
            bigs.push(console_bench::measure(big, plan)?);
        } else {
            bigs.push(console_bench::measure(big, plan)?);
            smalls.push(console_bench::measure(small, plan)?);
        }
    }
    let lines = |costs: &Costs| -> Vec<(String, Duration)> {
        let mut lines = vec![(
            "sample taken in (`App::update`: rows rebuilt), once per sample".to_owned(),
            costs.update,
        )];
        for frame in &costs.frames {
            lines.push((
                format!(
                    "frame, {} pane, {}x{}",
                    frame.pane, frame.width, frame.height
                ),
                frame.per_frame,
            ));
        }
        lines.push((
            "for scale: `status` table for the same snapshot, rendered once".to_owned(),
            costs.status_table,
        ));
        lines
    };
    let small_lines: Vec<Vec<(String, Duration)>> = smalls.iter().map(lines).collect();
    let big_lines: Vec<Vec<(String, Duration)>> = bigs.iter().map(lines).collect();
    let mut table = Vec::new();
    for (i, (label, _)) in small_lines[0].iter().enumerate() {
        let median = |runs: &[Vec<(String, Duration)>]| {
            let mut values: Vec<Duration> = runs.iter().map(|r| r[i].1).collect();
            values.sort();
            values[values.len() / 2]
        };
        table.push((label.clone(), median(&small_lines), median(&big_lines)));
    }
    Ok(table)
}

fn report(server: &TestServer, small: &Sample, big: &Sample, table: &Table) -> String {
    let describe = |s: &Sample| {
        format!(
            "{} sessions, {} blocker-tree rows, {} transactions, {} active (connected and sampled in {:.0} ms)",
            s.threads,
            s.tree_rows,
            s.transactions,
            s.active,
            s.took.as_secs_f64() * 1e3
        )
    };
    let micros = |d: &Duration| format!("{:.1}", d.as_secs_f64() * 1e6);
    let mut out = format!(
        "\n### {} ({})\n\n- small: {}\n- big: {}\n\n| what | {} sessions, µs | {} sessions, µs | ratio |\n| --- | ---: | ---: | ---: |\n",
        server.name,
        big.server,
        describe(small),
        describe(big),
        small.threads,
        big.threads
    );
    for (label, at_small, at_big) in table {
        let ratio = at_big.as_secs_f64() / at_small.as_secs_f64().max(1e-9);
        out.push_str(&format!(
            "| {label} | {} | {} | {ratio:.2}× |\n",
            micros(at_small),
            micros(at_big)
        ));
    }
    out
}

fn machine() -> String {
    let (cpus, model) = machine::cpus();
    let commit = std::process::Command::new("git")
        .args([
            "-C",
            env!("CARGO_MANIFEST_DIR"),
            "rev-parse",
            "--short",
            "HEAD",
        ])
        .output()
        .ok()
        .filter(|out| out.status.success())
        .map_or("?".to_owned(), |out| {
            String::from_utf8_lossy(&out.stdout).trim().to_owned()
        });
    format!(
        "Machine: {cpus} CPUs ({model}), Linux {}; mytriage at commit {commit}; {} UTC.",
        machine::kernel(),
        chrono::Utc::now().format("%Y-%m-%d %H:%M")
    )
}
