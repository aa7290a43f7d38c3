//! Thresholds and the findings they turn a [`Triage`] into. Pure: tested without a server.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result};
use serde::Serialize;

use crate::connect::option_file::{self, Defaults};

mod findings;

pub(crate) use findings::{Finding, evaluate, idle_roots, longest_wait_s, worst};

/// Resolved thresholds: flags, then the `[check]` group of `--config`, then these defaults.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Thresholds {
    pub lock_wait_warn_s: u64,
    pub lock_wait_crit_s: u64,
    pub blocked_warn: u64,
    pub blocked_crit: u64,
    pub trx_age_warn_s: u64,
    pub trx_age_crit_s: u64,
    pub idle_trx_warn_s: u64,
    pub idle_trx_crit_s: u64,
    pub hll_warn: u64,
    pub hll_crit: u64,
    pub conn_pct_warn: f64,
    pub conn_pct_crit: f64,
    pub deadlock_window_s: u64,
    pub repl_lag_warn_s: u64,
    pub repl_lag_crit_s: u64,
}

impl Default for Thresholds {
    fn default() -> Thresholds {
        Thresholds {
            lock_wait_warn_s: 10,
            lock_wait_crit_s: 60,
            blocked_warn: 1,
            blocked_crit: 10,
            trx_age_warn_s: 60,
            trx_age_crit_s: 600,
            idle_trx_warn_s: 30,
            idle_trx_crit_s: 300,
            hll_warn: 100_000,
            hll_crit: 1_000_000,
            conn_pct_warn: 80.0,
            conn_pct_crit: 95.0,
            deadlock_window_s: 600,
            repl_lag_warn_s: 30,
            repl_lag_crit_s: 300,
        }
    }
}

/// Thresholds given on the command line; each overrides the config file's.
#[derive(Debug, Clone, Default)]
pub(crate) struct Overrides {
    pub lock_wait_warn: Option<Duration>,
    pub lock_wait_crit: Option<Duration>,
    pub blocked_warn: Option<u64>,
    pub blocked_crit: Option<u64>,
    pub trx_age_warn: Option<Duration>,
    pub trx_age_crit: Option<Duration>,
    pub idle_trx_warn: Option<Duration>,
    pub idle_trx_crit: Option<Duration>,
    pub hll_warn: Option<u64>,
    pub hll_crit: Option<u64>,
    pub conn_pct_warn: Option<f64>,
    pub conn_pct_crit: Option<f64>,
    pub deadlock_window: Option<Duration>,
    pub repl_lag_warn: Option<Duration>,
    pub repl_lag_crit: Option<Duration>,
}

impl Thresholds {
    /// Resolves the thresholds before anything connects: `args` over the `[check]` group of
    /// `config` over the defaults. A bad config file or value is an error.
    pub(crate) fn resolve(config: Option<&Path>, args: &Overrides) -> Result<Thresholds> {
        let file = match config {
            Some(path) => Some(option_file::load(
                &Defaults::Only(path.to_path_buf()),
                None,
                &["check"],
            )?),
            None => None,
        };
        let from_file = |key: &str| -> Option<(String, String)> {
            let value = file.as_ref()?.get(key)?;
            Some((
                format!("{}:{}: {key}", value.file.display(), value.line),
                value.value.clone().unwrap_or_default(),
            ))
        };
        let seconds = |flag: Option<Duration>, key: &str, default: u64| -> Result<u64> {
            match (flag, from_file(key)) {
                (Some(d), _) => Ok(d.as_secs()),
                (None, Some((at, text))) => crate::duration::parse_duration(&text)
                    .map(|d| d.as_secs())
                    .map_err(anyhow::Error::msg)
                    .with_context(|| at),
                (None, None) => Ok(default),
            }
        };
        let number =
            |flag: Option<u64>, key: &str, default: u64| parsed(flag, from_file(key), default);
        let percent =
            |flag: Option<f64>, key: &str, default: f64| parsed(flag, from_file(key), default);
        let d = Thresholds::default();
        let t = Thresholds {
            lock_wait_warn_s: seconds(args.lock_wait_warn, "lock-wait-warn", d.lock_wait_warn_s)?,
            lock_wait_crit_s: seconds(args.lock_wait_crit, "lock-wait-crit", d.lock_wait_crit_s)?,
            blocked_warn: number(args.blocked_warn, "blocked-warn", d.blocked_warn)?,
            blocked_crit: number(args.blocked_crit, "blocked-crit", d.blocked_crit)?,
            trx_age_warn_s: seconds(args.trx_age_warn, "trx-age-warn", d.trx_age_warn_s)?,
            trx_age_crit_s: seconds(args.trx_age_crit, "trx-age-crit", d.trx_age_crit_s)?,
            idle_trx_warn_s: seconds(args.idle_trx_warn, "idle-trx-warn", d.idle_trx_warn_s)?,
            idle_trx_crit_s: seconds(args.idle_trx_crit, "idle-trx-crit", d.idle_trx_crit_s)?,
            hll_warn: number(args.hll_warn, "hll-warn", d.hll_warn)?,
            hll_crit: number(args.hll_crit, "hll-crit", d.hll_crit)?,
            conn_pct_warn: percent(args.conn_pct_warn, "conn-pct-warn", d.conn_pct_warn)?,
            conn_pct_crit: percent(args.conn_pct_crit, "conn-pct-crit", d.conn_pct_crit)?,
            deadlock_window_s: seconds(
                args.deadlock_window,
                "deadlock-window",
                d.deadlock_window_s,
            )?,
            repl_lag_warn_s: seconds(args.repl_lag_warn, "repl-lag-warn", d.repl_lag_warn_s)?,
            repl_lag_crit_s: seconds(args.repl_lag_crit, "repl-lag-crit", d.repl_lag_crit_s)?,
        };
        t.validate()?;
        Ok(t)
    }

    fn validate(&self) -> Result<()> {
        let pairs = [
            ("lock-wait", self.lock_wait_warn_s, self.lock_wait_crit_s),
            ("blocked", self.blocked_warn, self.blocked_crit),
            ("trx-age", self.trx_age_warn_s, self.trx_age_crit_s),
            ("idle-trx", self.idle_trx_warn_s, self.idle_trx_crit_s),
            ("hll", self.hll_warn, self.hll_crit),
            ("repl-lag", self.repl_lag_warn_s, self.repl_lag_crit_s),
        ];
        for (name, warn, crit) in pairs {
            anyhow::ensure!(
                warn <= crit,
                "--{name}-warn ({warn}) is above --{name}-crit ({crit})"
            );
        }
        anyhow::ensure!(
            self.conn_pct_warn <= self.conn_pct_crit,
            "--conn-pct-warn ({}) is above --conn-pct-crit ({})",
            self.conn_pct_warn,
            self.conn_pct_crit
        );
        Ok(())
    }
}

/// A number from its flag, else from the config file (`at` names the file and line), else the default.
fn parsed<T>(flag: Option<T>, from_file: Option<(String, String)>, default: T) -> Result<T>
where
    T: std::str::FromStr,
    T::Err: std::error::Error + Send + Sync + 'static,
{
    match (flag, from_file) {
        (Some(value), _) => Ok(value),
        (None, Some((at, text))) => text
            .trim()
            .parse()
            .with_context(|| format!("{at}: '{text}' is not a number")),
        (None, None) => Ok(default),
    }
}
