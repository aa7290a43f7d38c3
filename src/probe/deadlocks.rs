//! `mytriage deadlocks`: the latest deadlock InnoDB detected, parsed from SHOW ENGINE INNODB STATUS.

use anyhow::{Context, Result};
use serde::Serialize;

use crate::connect::Session;
use crate::evidence::Record;
use crate::evidence::record::DeadlockRecord;
use crate::innodb_status::{self, Deadlock, DeadlockTrx};
use crate::queries;
use crate::render::{Block, Report, View, ViewOptions, clip};

/// What `deadlocks` reports.
#[derive(Debug, Serialize)]
pub(crate) struct DeadlocksReport {
    /// The section InnoDB keeps: only the most recent deadlock since the server started.
    pub latest: Option<Deadlock>,
    /// Whether the server logs every deadlock (`innodb_print_all_deadlocks`).
    pub print_all_deadlocks: Option<bool>,
    /// Every deadlock performance_schema.error_log still holds (MySQL 8.0.22+, with
    /// innodb_print_all_deadlocks and log_error_verbosity 3): when, and the victim's number.
    /// `null` where the server has no such table or does not log deadlocks.
    pub logged: Option<Vec<LoggedDeadlock>>,
}

/// A deadlock the server logged.
#[derive(Debug, Serialize)]
pub(crate) struct LoggedDeadlock {
    pub logged: String,
    pub victim: Option<u32>,
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

/// What a deadlock poll reads, in one round trip: the InnoDB status, and the error log where
/// the server logs every deadlock.
pub(crate) fn snapshot(server: &crate::server::ServerInfo) -> Vec<&'static str> {
    let mut statements = vec![queries::INNODB_STATUS];
    if logs_deadlocks(server) {
        statements.push(queries::LOGGED_DEADLOCKS);
    }
    statements
}

fn logs_deadlocks(server: &crate::server::ServerInfo) -> bool {
    server.capabilities.error_log_table && server.print_all_deadlocks == Some(true)
}

/// Reads and parses the latest deadlock.
pub(crate) async fn collect(session: &mut Session) -> Result<DeadlocksReport> {
    let ahead = snapshot(&session.server);
    session.db.prefetch("reading deadlocks", &ahead).await?;
    let status = innodb_status(session).await?;
    let logged = logged_deadlocks(session).await?;
    Ok(DeadlocksReport {
        latest: innodb_status::parse_latest_deadlock(&status),
        print_all_deadlocks: session.server.print_all_deadlocks,
        logged,
    })
}

impl Report for DeadlocksReport {
    fn view(&self, _: &ViewOptions) -> View {
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
        if let Some(logged) = self.logged.as_ref().filter(|l| !l.is_empty()) {
            blocks.push(Block::Table {
                title: Some(
                    "Deadlocks in performance_schema.error_log (details in the error log file)"
                        .to_owned(),
                ),
                header: vec!["logged".to_owned(), "victim".to_owned()],
                rows: logged
                    .iter()
                    .map(|d| {
                        vec![
                            d.logged.clone(),
                            d.victim.map(|v| format!("({v})")).unwrap_or_default(),
                        ]
                    })
                    .collect(),
            });
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

pub(crate) fn victim_text(deadlock: &Deadlock) -> String {
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

/// The deadlocks performance_schema.error_log holds, where the server logs them at all.
pub(crate) async fn logged_deadlocks(session: &mut Session) -> Result<Option<Vec<LoggedDeadlock>>> {
    if !logs_deadlocks(&session.server) {
        return Ok(None);
    }
    let rows = session
        .db
        .query_if_permitted::<(String, String)>(
            "reading logged deadlocks",
            queries::LOGGED_DEADLOCKS,
        )
        .await?;
    Ok(rows.map(|rows| {
        rows.into_iter()
            .map(|(logged, data)| LoggedDeadlock {
                logged,
                victim: victim_number(&data),
            })
            .collect()
    }))
}

/// `*** WE ROLL BACK TRANSACTION (2)` → 2.
fn victim_number(line: &str) -> Option<u32> {
    let after = line.split("TRANSACTION (").nth(1)?;
    after.split(')').next()?.trim().parse().ok()
}

/// A deadlock's identity: when, and which transactions. Two deadlocks in the same second differ
/// by their transactions.
pub(crate) fn key(deadlock: &Deadlock) -> String {
    let mut trx: Vec<String> = deadlock
        .transactions
        .iter()
        .filter_map(|t| t.trx_id)
        .map(|id| id.to_string())
        .collect();
    trx.sort();
    format!(
        "{} {}",
        deadlock.detected_at.as_deref().unwrap_or("?"),
        trx.join(",")
    )
}

/// `deadlocks --history`: the deadlocks recorded in the evidence log.
#[derive(Debug, Serialize)]
pub(crate) struct DeadlockHistory {
    pub path: std::path::PathBuf,
    pub deadlocks: Vec<DeadlockRecord>,
}

/// Reads the recorded deadlocks; no server needed.
pub(crate) fn history(path: &std::path::Path) -> Result<DeadlockHistory> {
    let (records, _) = crate::evidence::read_all(path)?;
    Ok(DeadlockHistory {
        path: path.to_owned(),
        deadlocks: records
            .into_iter()
            .filter_map(|r| match r {
                Record::Deadlock(d) => Some(d),
                _ => None,
            })
            .collect(),
    })
}

impl Report for DeadlockHistory {
    fn view(&self, _: &ViewOptions) -> View {
        // `null` where a number is missing: the cells show what the JSON holds.
        let number = |n: Option<u64>| n.map_or_else(|| "null".to_owned(), |n| n.to_string());
        let rows = self
            .deadlocks
            .iter()
            .map(|r| {
                let d = r.deadlock.as_ref();
                let sides: Vec<String> = d
                    .into_iter()
                    .flat_map(|d| &d.transactions)
                    .map(|t| {
                        format!(
                            "{}: {}",
                            number(t.thread_id),
                            clip(t.query.as_deref().unwrap_or(""), false)
                        )
                    })
                    .collect();
                vec![
                    d.and_then(|d| d.detected_at.as_deref())
                        .or(r.logged.as_ref().map(|l| l.logged.as_str()))
                        .unwrap_or("?")
                        .to_owned(),
                    sides.join(" / "),
                    number(d.and_then(|d| d.victim).map(u64::from)),
                ]
            })
            .collect();
        View {
            blocks: vec![
                Block::Table {
                    title: None,
                    header: ["detected at", "transactions", "victim"]
                        .map(str::to_owned)
                        .to_vec(),
                    rows,
                },
                Block::Note(format!(
                    "{} deadlock(s) recorded in {}",
                    self.deadlocks.len(),
                    self.path.display()
                )),
            ],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn victim_number_from_the_logged_line() {
        assert_eq!(victim_number("*** WE ROLL BACK TRANSACTION (2)"), Some(2));
        assert_eq!(victim_number("*** WE ROLL BACK TRANSACTION (0) "), Some(0));
        assert_eq!(victim_number("something else"), None);
    }
}
