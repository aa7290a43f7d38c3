//! The bench's options, parsed into plain values before anything connects.

use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};

/// Which lock scenario.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Variant {
    /// Each waiter waits on a different row the holder has locked.
    Spread,
    /// Every waiter waits on the same row.
    HotRow,
}

impl Variant {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Variant::Spread => "spread",
            Variant::HotRow => "hot row",
        }
    }
}

pub(crate) struct Args {
    /// Server names from MYTRIAGE_TEST_SERVERS; empty means all.
    pub(crate) servers: Vec<String>,
    pub(crate) rounds: usize,
    pub(crate) variants: Vec<Variant>,
    pub(crate) rows: u32,
    pub(crate) waiters: usize,
    pub(crate) idle: usize,
    pub(crate) threads: usize,
    pub(crate) skip_processlist: bool,
    pub(crate) skip_cost: bool,
    /// How long to wait for other clients' transactions to end before building a scenario.
    pub(crate) quiet_wait: Duration,
    /// How long to keep the processlist scenario open after measuring it.
    pub(crate) hold: Duration,
}

impl Args {
    pub(crate) fn parse(mut raw: impl Iterator<Item = String>) -> Result<Self> {
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
