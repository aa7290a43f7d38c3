//! One snapshot of everything `status` and `check` judge, taken on the one connection with each
//! source read once: the threads feed the lock tree, the connection breakdown and the oldest
//! transactions.

use anyhow::Result;
use serde::Serialize;

use crate::cli::LocksArgs;
use crate::connect::Session;
use crate::innodb_status::{self, Deadlock};
use crate::probe::connections::{self, ConnectionsReport};
use crate::probe::history::{self, OldestTrx};
use crate::probe::locks::{self, LocksReport};
use crate::probe::{deadlocks, processlist};
use crate::server::ServerInfo;

/// The server at one moment.
#[derive(Debug, Serialize)]
pub(crate) struct Triage {
    pub server: ServerInfo,
    pub connections: ConnectionsReport,
    pub locks: LocksReport,
    pub oldest_trx: Option<OldestTrx>,
    /// The idle-in-transaction session whose transaction is oldest.
    pub oldest_idle_in_trx: Option<OldestTrx>,
    pub idle_in_trx: usize,
    pub history_list_length: u64,
    pub latest_deadlock: Option<Deadlock>,
    /// The server's clock when the snapshot was taken (its own time zone).
    pub server_time: String,
}

impl Triage {
    /// Seconds between the latest deadlock and the snapshot, by the server's clock.
    pub(crate) fn deadlock_age_s(&self) -> Option<u64> {
        let parse = |text: &str| {
            let head: String = text.chars().take(19).collect();
            chrono::NaiveDateTime::parse_from_str(&head, "%Y-%m-%d %H:%M:%S").ok()
        };
        let detected = parse(self.latest_deadlock.as_ref()?.detected_at.as_deref()?)?;
        let now = parse(&self.server_time)?;
        u64::try_from((now - detected).num_seconds()).ok()
    }
}

/// Takes the snapshot.
pub(crate) async fn collect(session: &mut Session) -> Result<Triage> {
    let threads = processlist::threads(session).await?;
    let last = processlist::last_statements(session).await?;
    let locks =
        locks::collect_with(session, &threads, last.as_ref(), &LocksArgs::default()).await?;
    let connections = connections::collect_with(session, &threads).await?;
    let idle: Vec<processlist::Thread> =
        threads.iter().filter(|t| t.idle_in_trx).cloned().collect();
    let idle_in_trx = idle.len();
    let oldest_idle_in_trx = history::oldest_trx_from(&idle, last.as_ref());
    let oldest_trx = history::oldest_trx_from(&threads, last.as_ref());
    let status = deadlocks::innodb_status(session).await?;
    let (history_list_length, _) =
        history::history_list_length_with(session, Some(&status)).await?;
    let now: Vec<String> = session
        .db
        .query("reading the server clock", crate::queries::SERVER_NOW)
        .await?;
    Ok(Triage {
        server: session.server.clone(),
        connections,
        locks,
        oldest_trx,
        oldest_idle_in_trx,
        idle_in_trx,
        history_list_length,
        latest_deadlock: innodb_status::parse_latest_deadlock(&status),
        server_time: now.into_iter().next().unwrap_or_default(),
    })
}
