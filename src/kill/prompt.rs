//! The terminal side of a kill: describing the victim, asking for a reason and a confirmation,
//! and the drill pause before the kill.

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};

use super::plan::KillPlan;
use crate::evidence::record::KillSnapshot;
use crate::render::clip;

/// Set to a file path, mytriage creates that file once the snapshot is on disk and waits, before
/// re-verifying and killing, until the file is removed. For tests and incident drills: it makes
/// "evidence first" observable from outside.
pub(crate) const PAUSE_ENV: &str = "MYTRIAGE_PAUSE_BEFORE_KILL";

pub(super) fn describe_victim(snapshot: &KillSnapshot) {
    let thread = &snapshot.thread;
    let trx = thread
        .trx
        .as_ref()
        .map(|t| {
            format!(
                "transaction {} open {}s, {} rows to roll back",
                t.id, t.age_s, t.rows_modified
            )
        })
        .unwrap_or_else(|| "no transaction".to_owned());
    let statement = thread
        .statement
        .as_deref()
        .or(snapshot.last_statement.as_deref())
        .unwrap_or("");
    eprintln!(
        "mytriage: session {} {}@{} ({}); {trx}; blocks {} session(s); {}",
        snapshot.pid,
        thread.user.as_deref().unwrap_or("?"),
        thread.host.as_deref().unwrap_or("?"),
        thread.command.as_deref().unwrap_or("?"),
        snapshot.blocks.waiters_total,
        clip(statement, false)
    );
}

pub(super) fn confirmed(plan: &KillPlan, pid: u64) -> Result<bool> {
    if plan.yes {
        return Ok(true);
    }
    if !std::io::stdin().is_terminal() {
        eprintln!(
            "mytriage: not killing {pid}: no terminal to confirm on; pass --yes to kill without asking"
        );
        return Ok(false);
    }
    let answer = ask(&format!("Kill session {pid}? [y/N] "))?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes" | "YES"))
}

pub(super) fn ask(prompt: &str) -> Result<String> {
    eprint!("{prompt}");
    std::io::stderr().flush().ok();
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("reading the answer")?;
    Ok(line.trim().to_owned())
}

/// The drill hook ([`PAUSE_ENV`]): announce the pause with a file, wait for its removal.
pub(super) async fn pause_for_drill() -> Result<()> {
    let Some(path) = std::env::var_os(PAUSE_ENV).map(PathBuf::from) else {
        return Ok(());
    };
    std::fs::write(&path, b"paused before the kill\n")
        .with_context(|| format!("{PAUSE_ENV}: writing {}", path.display()))?;
    while path.exists() {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}
