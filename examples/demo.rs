//! The demo: creates a live incident on a real server and runs mytriage against it.
//!
//! Run it with `scripts/demo`, which starts the servers and builds everything first. It uses the
//! same incident scenarios as the live tests: a chain A←B←C whose root is idle inside an open
//! transaction, a pile-up behind one row lock, and an ALTER TABLE waiting for a metadata lock.

#[path = "../tests/support/mod.rs"]
mod support;

use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, Result};
use support::scenarios;

/// The mytriage commands the demo shows, in order.
const COMMANDS: &[&[&str]] = &[
    &["server"],
    &["status"],
    &["locks"],
    &["processlist", "--active"],
    &["trx", "--min-age", "0s"],
    &["connections"],
    &["history"],
    &["deadlocks"],
];

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<()> {
    let servers = support::servers();
    anyhow::ensure!(
        !servers.is_empty(),
        "no servers: run scripts/demo (it starts them)"
    );
    for server in &servers {
        println!("\n=== {} ({}) ===", server.name, server.url);
        println!(
            "creating an incident: chain A<-B<-C with A idle in its transaction, 20 sessions piled up, an ALTER waiting"
        );
        let chain = scenarios::chain(server).await?;
        let pile = scenarios::pile_up(server, 20).await?;
        let mdl = scenarios::metadata_lock_wait(server).await?;
        println!(
            "root blockers: pid {} (chain root, idle in trx), pid {} (pile-up holder), pid {} (holds the MDL)\n",
            chain.a_id, pile.holder_id, mdl.holder_id
        );
        let shown = show(server);
        mdl.cleanup().await?;
        pile.cleanup().await?;
        chain.cleanup().await?;
        shown?;
    }
    Ok(())
}

/// Runs each demo command against the server and prints what a user would see.
fn show(server: &support::TestServer) -> Result<()> {
    let binary = mytriage_binary()?;
    for args in COMMANDS {
        println!("$ mytriage --url {} {}", server.url, args.join(" "));
        let status = Command::new(&binary)
            .args(["--no-defaults", "--url", &server.url])
            .args(*args)
            .status()
            .with_context(|| format!("running {}", binary.display()))?;
        println!("(exit code {})\n", status.code().unwrap_or(-1));
    }
    Ok(())
}

/// target/<profile>/mytriage, next to target/<profile>/examples/demo.
fn mytriage_binary() -> Result<PathBuf> {
    let me = std::env::current_exe().context("locating the demo binary")?;
    let profile_dir = me
        .parent()
        .and_then(|examples| examples.parent())
        .context("unexpected layout")?;
    let binary = profile_dir.join("mytriage");
    anyhow::ensure!(
        binary.exists(),
        "{} is missing: run `cargo build` first",
        binary.display()
    );
    Ok(binary)
}
