//! The bench's options: clap reads them (the doc comments are the `--help` text), [`Args::parse`]
//! checks them and turns them into plain values before anything connects.

use std::time::Duration;

use anyhow::{Result, ensure};
use clap::{ArgAction, Parser, ValueEnum};

/// The usage line `--help` has always printed; scripts/bench passes its arguments through.
const USAGE: &str = "cargo bench --bench scale -- [--server NAME[,NAME]|all] [--rounds 15] \
                     [--variant spread|hot-row|all] [--rows 300000] [--waiters 200] [--idle 1000] \
                     [--threads 5000] [--skip-processlist] [--skip-cost] [--quiet-wait 900] [--hold 0]";

/// mytriage against the sys views on servers in the middle of a big lock pile-up.
#[derive(Parser)]
#[command(override_usage = USAGE, disable_version_flag = true)]
struct Flags {
    /// Servers from MYTRIAGE_TEST_SERVERS, by name, or all of them.
    #[arg(
        long,
        visible_alias = "servers",
        value_name = "NAME[,NAME]|all",
        default_value = "all"
    )]
    server: String,
    /// Interleaved rounds per group of commands.
    #[arg(long, default_value_t = 15)]
    rounds: usize,
    /// Which pile-up: each waiter on its own row, all on one row, or both.
    #[arg(long, value_enum, default_value = "all")]
    variant: Variants,
    /// Rows in the table the holder locks, every one of them.
    #[arg(long, default_value_t = 300_000)]
    rows: u32,
    /// Sessions waiting behind the holder.
    #[arg(long, default_value_t = 200)]
    waiters: usize,
    /// Idle connections open during the lock scenarios.
    #[arg(long, default_value_t = 1000)]
    idle: usize,
    /// Threads_connected while `processlist` is measured.
    #[arg(long, default_value_t = 5000)]
    threads: usize,
    /// Leave out the processlist group (and its thousands of connections).
    #[arg(long)]
    skip_processlist: bool,
    /// Leave out the cost to the server (events_statements_history_long).
    #[arg(long)]
    skip_cost: bool,
    /// Seconds to wait for other clients' transactions to end before building a scenario.
    #[arg(long, value_name = "SECONDS", default_value_t = 900)]
    quiet_wait: u64,
    /// Seconds to keep the processlist scenario open after measuring it (to profile by hand).
    #[arg(long, value_name = "SECONDS", default_value_t = 0)]
    hold: u64,
    /// `cargo bench` passes --bench to every harness-less bench.
    #[arg(long = "bench", hide = true, action = ArgAction::Count)]
    _bench: u8,
}

/// `--variant`.
#[derive(Clone, Copy, ValueEnum)]
enum Variants {
    Spread,
    HotRow,
    All,
}

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

/// The options, checked.
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
    /// The command line's options; `--help` and clap's usage errors exit here.
    pub(crate) fn parse() -> Result<Self> {
        let flags = Flags::parse();
        ensure!(flags.rounds >= 1, "--rounds must be at least 1");
        ensure!(flags.waiters >= 1, "--waiters must be at least 1");
        ensure!(
            flags.rows as usize >= flags.waiters,
            "--rows must be at least --waiters"
        );
        Ok(Args {
            servers: if flags.server == "all" {
                Vec::new()
            } else {
                flags
                    .server
                    .split(',')
                    .map(|s| s.trim().to_owned())
                    .collect()
            },
            rounds: flags.rounds,
            variants: match flags.variant {
                Variants::Spread => vec![Variant::Spread],
                Variants::HotRow => vec![Variant::HotRow],
                Variants::All => vec![Variant::Spread, Variant::HotRow],
            },
            rows: flags.rows,
            waiters: flags.waiters,
            idle: flags.idle,
            threads: flags.threads,
            skip_processlist: flags.skip_processlist,
            skip_cost: flags.skip_cost,
            quiet_wait: Duration::from_secs(flags.quiet_wait),
            hold: Duration::from_secs(flags.hold),
        })
    }
}
