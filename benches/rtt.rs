//! The link benchmark: each command over a simulated round-trip time, against
//! `mysql -e 'select 1'` (the floor any client pays: connect, one statement, quit) and, for
//! `locks`, against `mysql -e 'select * from sys.innodb_lock_waits'`.
//!
//!   scripts/bench --rtt 20ms [--rounds 9] [--server NAME]
//!
//! `MYTRIAGE_BENCH_BIN=PATH` runs another build of mytriage instead (a "before" binary, say).
//! Each server is reached through a loopback proxy (`tests/support/proxy.rs`) that delays every
//! chunk by half the RTT in each direction. The runs alternate (anchor, command, sys view, anchor,
//! ...) so drift in the machine's load hits all alike; medians and their ratios go to stdout as
//! Markdown. TLS is off for every client, so the handshake costs the same for all.

#[path = "../tests/support/proxy.rs"]
mod proxy;

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use proxy::Proxy;

const COMMANDS: &[&str] = &[
    "server",
    "processlist",
    "trx",
    "history",
    "connections",
    "deadlocks",
    "locks",
    "status",
];

struct Args {
    rtt: Duration,
    rounds: usize,
    server: Option<String>,
}

fn parse_args() -> Result<Args> {
    let mut args = Args {
        rtt: Duration::from_millis(20),
        rounds: 9,
        server: None,
    };
    let mut words = std::env::args().skip(1);
    while let Some(word) = words.next() {
        match word.as_str() {
            "--rtt" => {
                let text = words.next().context("--rtt needs a value, e.g. 20ms")?;
                let ms = text
                    .strip_suffix("ms")
                    .context("--rtt takes milliseconds, e.g. 20ms")?;
                args.rtt = Duration::from_millis(ms.parse().context("--rtt: not a number")?);
            }
            "--rounds" => {
                args.rounds = words
                    .next()
                    .context("--rounds needs a number")?
                    .parse()
                    .context("--rounds: not a number")?;
                ensure!(args.rounds > 0, "--rounds must be at least 1");
            }
            "--server" => args.server = Some(words.next().context("--server needs a name")?),
            "--bench" => {} // added by `cargo bench`
            other => bail!("unknown argument {other:?} (see benches/rtt.rs)"),
        }
    }
    Ok(args)
}

/// One server under test: where it is, and which command-line client speaks to it.
struct Target {
    name: String,
    user: String,
    upstream: std::net::SocketAddr,
    client: Vec<String>,
    mariadb: bool,
}

fn targets(only: Option<&str>) -> Result<Vec<Target>> {
    let raw = std::env::var("MYTRIAGE_TEST_SERVERS").context("MYTRIAGE_TEST_SERVERS is not set")?;
    let mut found = Vec::new();
    for entry in raw.split(',').filter(|e| !e.trim().is_empty()) {
        let (name, url) = entry.split_once('=').context("name=url")?;
        if only.is_some_and(|o| o != name) {
            continue;
        }
        let url = url::Url::parse(url.trim())?;
        let host = url.host_str().context("host")?;
        let upstream = format!("{host}:{}", url.port().unwrap_or(3306)).parse()?;
        let mariadb = name.contains("mariadb");
        let variable = if mariadb {
            "MYTRIAGE_BENCH_MARIADB"
        } else {
            "MYTRIAGE_BENCH_MYSQL"
        };
        let client = std::env::var(variable)
            .unwrap_or_else(|_| if mariadb { "mariadb" } else { "mysql" }.to_owned());
        found.push(Target {
            name: name.to_owned(),
            user: url.username().to_owned(),
            upstream,
            client: client.split_whitespace().map(str::to_owned).collect(),
            mariadb,
        });
    }
    Ok(found)
}

/// How long one run of `program args` takes; it must succeed (`history` may exit 1).
async fn time(program: &str, args: &[String]) -> Result<Duration> {
    let started = Instant::now();
    let output = tokio::process::Command::new(program)
        .args(args)
        .output()
        .await
        .with_context(|| format!("running {program}"))?;
    let elapsed = started.elapsed();
    ensure!(
        output.status.code().is_some_and(|c| c <= 1),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(elapsed)
}

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    values[values.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1000.0)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<()> {
    let args = parse_args()?;
    println!(
        "## Commands at {} ms RTT ({} alternating rounds, medians, TLS off)\n",
        args.rtt.as_millis(),
        args.rounds
    );
    for target in targets(args.server.as_deref())? {
        let proxy = Proxy::start(target.upstream, args.rtt).await?;
        let port = proxy.addr.port().to_string();
        let tls_off = if target.mariadb {
            "--skip-ssl"
        } else {
            "--ssl-mode=DISABLED"
        };
        let client = |sql: &str| -> Vec<String> {
            let mut argv: Vec<String> = target.client[1..].to_vec();
            argv.extend(
                [
                    "--no-defaults",
                    tls_off,
                    "--host=127.0.0.1",
                    &format!("--port={port}"),
                    &format!("--user={}", target.user),
                    "-e",
                    sql,
                ]
                .map(str::to_owned),
            );
            argv
        };
        let url = format!(
            "mysql://{}@127.0.0.1:{port}/?ssl-mode=DISABLED",
            target.user
        );
        let select_1 = client("select 1");
        let sys_view = client("select * from sys.innodb_lock_waits");
        let has_sys = time(&target.client[0], &sys_view).await.is_ok();
        println!("### {}\n", target.name);
        proxy.reset();
        time(&target.client[0], &select_1).await?;
        let anchor_turns = proxy.turns().await;
        println!("`select 1` takes {anchor_turns} client turns through the proxy.\n");
        println!(
            "| command | turns | median ms | `select 1` ms | × `select 1` | sys view ms | × sys view |"
        );
        println!("| --- | --- | --- | --- | --- | --- | --- |");
        for command in COMMANDS {
            let binary = std::env::var("MYTRIAGE_BENCH_BIN")
                .unwrap_or_else(|_| env!("CARGO_BIN_EXE_mytriage").to_owned());
            let mine = vec![
                "--no-defaults".to_owned(),
                "--url".to_owned(),
                url.clone(),
                (*command).to_owned(),
            ];
            let (mut anchor, mut ours, mut view) = (Vec::new(), Vec::new(), Vec::new());
            for _ in 0..args.rounds {
                anchor.push(time(&target.client[0], &select_1).await?);
                ours.push(time(&binary, &mine).await?);
                if *command == "locks" && has_sys {
                    view.push(time(&target.client[0], &sys_view).await?);
                }
            }
            proxy.reset();
            time(&binary, &mine).await?;
            let turns = proxy.turns().await;
            let (anchor, ours) = (median(anchor), median(ours));
            let ratio = ours.as_secs_f64() / anchor.as_secs_f64();
            let (view_ms, view_ratio) = if view.is_empty() {
                (String::new(), String::new())
            } else {
                let view = median(view);
                (
                    ms(view),
                    format!("{:.2}×", ours.as_secs_f64() / view.as_secs_f64()),
                )
            };
            println!(
                "| `{command}` | {turns} | {} | {} | {ratio:.2}× | {view_ms} | {view_ratio} |",
                ms(ours),
                ms(anchor)
            );
            eprintln!("rtt bench: {} {command} done", target.name);
        }
        println!();
    }
    Ok(())
}
