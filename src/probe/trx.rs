//! `mytriage trx`: transactions older than `--min-age`, oldest first, with what they ran last.

use std::time::Duration;

use anyhow::Result;
use serde::Serialize;

use crate::connect::Session;
use crate::probe::processlist;
use crate::render::{Block, Report, View, ViewOptions, now_or_last};

/// One long-running transaction.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct LongTrx {
    pub pid: u64,
    pub user: Option<String>,
    pub host: Option<String>,
    pub db: Option<String>,
    pub trx_id: String,
    /// RUNNING, LOCK WAIT, ROLLING BACK or COMMITTING.
    pub state: String,
    pub age_s: u64,
    pub rows_locked: u64,
    /// While ROLLING BACK, this counts down: the rows still to undo.
    pub rows_modified: u64,
    pub isolation: Option<String>,
    pub idle_in_trx: bool,
    pub lock_wait_s: Option<u64>,
    pub statement: Option<String>,
    pub last_statement: Option<String>,
}

/// What `trx` reports.
#[derive(Debug, Serialize)]
pub(crate) struct TrxReport {
    pub min_age_s: u64,
    pub transactions: Vec<LongTrx>,
}

/// What `trx` reads, in one batch.
pub(crate) fn snapshot(server: &crate::server::ServerInfo) -> Vec<&'static str> {
    processlist::statements(server)
}

/// Reads transactions and keeps those open at least `min_age` (`--min-age`).
pub(crate) async fn collect(session: &mut Session, min_age: Duration) -> Result<TrxReport> {
    let min_age_s = min_age.as_secs();
    let ahead = snapshot(&session.server);
    session.db.prefetch("reading transactions", &ahead).await?;
    let threads = processlist::threads(session).await?;
    let last = processlist::last_statements(session)
        .await?
        .unwrap_or_default();
    let mut threads = threads;
    threads.sort_by(processlist::oldest_first);
    let transactions: Vec<LongTrx> = threads
        .into_iter()
        .filter_map(|t| {
            let trx = t.trx?;
            (trx.age_s >= min_age_s).then(|| LongTrx {
                pid: t.pid,
                user: t.user,
                host: t.host,
                db: t.db,
                trx_id: trx.id,
                state: trx.state,
                age_s: trx.age_s,
                rows_locked: trx.rows_locked,
                rows_modified: trx.rows_modified,
                isolation: trx.isolation,
                idle_in_trx: t.idle_in_trx,
                lock_wait_s: trx.lock_wait_s,
                last_statement: if t.statement.is_none() {
                    last.get(&t.pid).cloned()
                } else {
                    None
                },
                statement: t.statement,
            })
        })
        .collect();
    Ok(TrxReport {
        min_age_s,
        transactions,
    })
}

impl Report for TrxReport {
    fn view(&self, options: &ViewOptions) -> View {
        if self.transactions.is_empty() {
            return View {
                blocks: vec![Block::Note(format!(
                    "No transaction is older than {}s.",
                    self.min_age_s
                ))],
            };
        }
        let header = [
            "pid",
            "user@host",
            "age",
            "state",
            "rows locked",
            "rows modified",
            "isolation",
            "flag",
            "statement",
        ];
        let rows = self
            .transactions
            .iter()
            .map(|t| {
                let flag = match (t.idle_in_trx, t.state.as_str()) {
                    (_, "ROLLING BACK") => format!("ROLLING BACK: {} rows left", t.rows_modified),
                    (true, _) => "IDLE IN TRX".to_owned(),
                    _ => String::new(),
                };
                let statement = now_or_last(
                    t.statement.as_deref(),
                    t.last_statement.as_deref(),
                    options.full,
                );
                vec![
                    t.pid.to_string(),
                    format!(
                        "{}@{}",
                        t.user.as_deref().unwrap_or("?"),
                        t.host.as_deref().unwrap_or("?")
                    ),
                    format!("{}s", t.age_s),
                    t.state.clone(),
                    t.rows_locked.to_string(),
                    t.rows_modified.to_string(),
                    t.isolation.clone().unwrap_or_default(),
                    flag,
                    statement,
                ]
            })
            .collect();
        View {
            blocks: vec![Block::Table {
                title: None,
                header: header.map(str::to_owned).to_vec(),
                rows,
            }],
        }
    }
}
