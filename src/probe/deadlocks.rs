//! `mytriage deadlocks`: the latest deadlock InnoDB detected, parsed from SHOW ENGINE INNODB STATUS.

use anyhow::{Context, Result};
use serde::Serialize;

use crate::connect::Session;
use crate::innodb_status::{self, Deadlock, DeadlockTrx};
use crate::queries;
use crate::render::{Block, Report, View, clip};

/// What `deadlocks` reports.
#[derive(Debug, Serialize)]
pub(crate) struct DeadlocksReport {
    /// The section InnoDB keeps: only the most recent deadlock since the server started.
    pub latest: Option<Deadlock>,
    /// Whether the server logs every deadlock (`innodb_print_all_deadlocks`).
    pub print_all_deadlocks: Option<bool>,
}

/// Reads SHOW ENGINE INNODB STATUS; used by `deadlocks` and by `history` as a fallback.
pub(crate) async fn innodb_status(session: &mut Session) -> Result<String> {
    session.require_process("reading SHOW ENGINE INNODB STATUS")?;
    let rows: Vec<(String, String, String)> = session
        .db
        .query("reading SHOW ENGINE INNODB STATUS", queries::INNODB_STATUS)
        .await?;
    rows.into_iter()
        .next()
        .map(|(_, _, status)| status)
        .context("SHOW ENGINE INNODB STATUS returned no row")
}

/// Reads and parses the latest deadlock.
pub(crate) async fn collect(session: &mut Session) -> Result<DeadlocksReport> {
    let status = innodb_status(session).await?;
    Ok(DeadlocksReport {
        latest: innodb_status::parse_latest_deadlock(&status),
        print_all_deadlocks: session.server.print_all_deadlocks,
    })
}

impl Report for DeadlocksReport {
    fn view(&self) -> View {
        let Some(deadlock) = &self.latest else {
            return View {
                blocks: vec![Block::Note(
                    "No deadlock since the server started.".to_owned(),
                )],
            };
        };
        let header = [
            "#",
            "thread",
            "trx id",
            "user@host",
            "active",
            "rows locked",
            "holds",
            "waits for",
            "query",
            "",
        ];
        let rows = deadlock
            .transactions
            .iter()
            .map(|trx| row(trx, deadlock.victim))
            .collect();
        let mut blocks = vec![
            Block::Fields {
                title: Some("Latest deadlock".to_owned()),
                fields: vec![
                    (
                        "Detected at".to_owned(),
                        deadlock.detected_at.clone().unwrap_or_else(|| "?".into()),
                    ),
                    ("Victim".to_owned(), victim_text(deadlock)),
                ],
            },
            Block::Table {
                title: None,
                header: header.map(str::to_owned).to_vec(),
                rows,
            },
        ];
        if self.print_all_deadlocks != Some(true) {
            blocks.push(Block::Note(
                "InnoDB keeps only the latest deadlock; SET GLOBAL innodb_print_all_deadlocks = ON logs them all".to_owned(),
            ));
        }
        View { blocks }
    }
}

fn row(trx: &DeadlockTrx, victim: Option<u32>) -> Vec<String> {
    let locks = |locks: &[innodb_status::LockInfo]| {
        locks
            .iter()
            .map(|l| {
                format!(
                    "{} {} {}",
                    l.table.as_deref().unwrap_or("?"),
                    l.index.as_deref().unwrap_or(""),
                    l.mode
                )
            })
            .collect::<Vec<_>>()
            .join("; ")
    };
    let number = |n: Option<u64>| n.map(|v| v.to_string()).unwrap_or_default();
    vec![
        trx.number.to_string(),
        number(trx.thread_id),
        number(trx.trx_id),
        format!(
            "{}@{}",
            trx.user.as_deref().unwrap_or("?"),
            trx.host.as_deref().unwrap_or("?")
        ),
        trx.active_secs.map(|s| format!("{s}s")).unwrap_or_default(),
        number(trx.row_locks),
        locks(&trx.holds),
        locks(&trx.waits_for),
        clip(trx.query.as_deref().unwrap_or(""), false),
        if victim == Some(trx.number) {
            "ROLLED BACK".to_owned()
        } else {
            String::new()
        },
    ]
}

fn victim_text(deadlock: &Deadlock) -> String {
    match (deadlock.victim, deadlock.victim_reported) {
        (Some(v), Some(r)) if v == r => format!("transaction ({v})"),
        (Some(v), Some(r)) => {
            format!("transaction ({v}) (the server printed ({r}), which MariaDB misnumbers)")
        }
        (Some(v), None) => format!("transaction ({v})"),
        (None, Some(r)) => {
            format!("unknown (the server printed ({r}), which does not match a transaction)")
        }
        (None, None) => "unknown".to_owned(),
    }
}
