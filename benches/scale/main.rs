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
//!
//! The modules follow one run: [`args`] (the options), [`server`] (each server, its client and the
//! commands to time), [`scenario`] (the table and the pile-up), [`measure`] (running commands as
//! children: wall time, CPU, interference from other clients), [`groups`] (what each group runs and
//! checks), [`cost`] (what a command cost the server) and [`report`] (the Markdown on stdout).

#[path = "../common/conns.rs"]
mod conns;
#[path = "../common/machine.rs"]
mod machine;
#[path = "../../tests/support/mod.rs"]
mod support;

mod args;
mod cost;
mod groups;
mod measure;
mod report;
mod scenario;
mod server;

use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, Result, anyhow, bail};
use mysql_async::Conn;
use mysql_async::prelude::*;

use args::{Args, Variant};
use conns::{close_many, open_many};
use groups::{measure_help, measure_processlist, measure_scenario};
use report::Report;
use scenario::{DB, LockScenario, TABLE, create_table};
use server::{Server, restore_globals, servers};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<()> {
    let args = Args::parse()?;
    machine::raise_open_files_limit();
    let mut report = Report::default();
    report.machine = format!("{} {}", machine(), revision());
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
// One server

async fn bench_server(server: &mut Server, args: &Args, report: &mut Report) -> Result<()> {
    let mut admin = server.test.try_conn().await?;
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

// ---------------------------------------------------------------------------------------------
// The machine

fn machine() -> String {
    let (cpus, model) = machine::cpus();
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
    format!(
        "Machine: {cpus} CPUs ({model}), {memory_gib:.0} GiB, Linux {}.",
        machine::kernel()
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
