//! One snapshot of everything `status` and `check` judge, taken on the one connection with each
//! source read once: the threads feed the lock tree, the connection breakdown and the oldest
//! transactions.

use anyhow::Result;
use serde::Serialize;

use crate::connect::Session;
use crate::error::{Failure, one_line};
use crate::innodb_status::{self, Deadlock};
use crate::probe::connections::{self, ConnectionsReport};
use crate::probe::history::{self, OldestTrx};
use crate::probe::locks::{self, LocksReport};
use crate::probe::purge::{self, PurgeBlocker};
use crate::probe::replication::{self, AuroraInstance, Channel, ConnectedReplica};
use crate::probe::{deadlocks, processlist};
use crate::server::ServerInfo;

/// The server at one moment. A section that ran out of time is `None` (or empty) and listed in
/// `unavailable`; the other sections stand.
#[derive(Debug, Serialize)]
pub(crate) struct Triage {
    pub server: ServerInfo,
    pub connections: Option<ConnectionsReport>,
    pub locks: Option<LocksReport>,
    pub oldest_trx: Option<OldestTrx>,
    /// The idle-in-transaction session whose transaction is oldest.
    pub oldest_idle_in_trx: Option<OldestTrx>,
    pub idle_in_trx: usize,
    pub history_list_length: Option<u64>,
    /// The sessions holding purge back, oldest first.
    pub purge_blockers: Vec<PurgeBlocker>,
    pub latest_deadlock: Option<Deadlock>,
    /// The replication channels, when the server is a replica.
    pub replication: Vec<Channel>,
    /// The replicas connected to it, when it is a source.
    pub replicas: Vec<ConnectedReplica>,
    /// Aurora's instances, on Aurora.
    pub aurora: Vec<AuroraInstance>,
    /// The server's clock when the snapshot was taken (its own time zone).
    pub server_time: Option<String>,
    /// Sections that could not be read in time, and why.
    pub unavailable: Vec<Unavailable>,
}

#[cfg(test)]
impl Triage {
    /// A snapshot of `server` with only the lock tree: every other section empty, for tests of
    /// what is said about it.
    pub(crate) fn sample(server: ServerInfo, locks: Option<LocksReport>) -> Triage {
        Triage {
            server,
            connections: None,
            locks,
            oldest_trx: None,
            oldest_idle_in_trx: None,
            idle_in_trx: 0,
            history_list_length: None,
            purge_blockers: Vec::new(),
            latest_deadlock: None,
            replication: Vec::new(),
            replicas: Vec::new(),
            aurora: Vec::new(),
            server_time: None,
            unavailable: Vec::new(),
        }
    }
}

/// The sections of a snapshot that can be missing (the thread list cannot).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Section {
    LastStatements,
    Locks,
    Connections,
    InnodbStatus,
    History,
    Replication,
    ServerTime,
}

/// A section of the snapshot that was not read.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub(crate) struct Unavailable {
    pub section: Section,
    /// The one-line error: which statement ran out of time, and after how long.
    pub reason: String,
}

/// As `status` and `watch` print it: `locks not read: …`.
impl std::fmt::Display for Unavailable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let section = crate::render::serde_label(&self.section);
        write!(f, "{section} not read: {}", self.reason)
    }
}

impl Triage {
    /// Seconds between the latest deadlock and the snapshot, by the server's clock.
    pub(crate) fn deadlock_age_s(&self) -> Option<u64> {
        let parse = |text: &str| {
            let head: String = text.chars().take(19).collect();
            chrono::NaiveDateTime::parse_from_str(&head, "%Y-%m-%d %H:%M:%S").ok()
        };
        let detected = parse(self.latest_deadlock.as_ref()?.detected_at.as_deref()?)?;
        let now = parse(self.server_time.as_deref()?)?;
        u64::try_from((now - detected).num_seconds()).ok()
    }

    /// Why `section` is missing, if it is.
    pub(crate) fn unavailable(&self, section: Section) -> Option<&Unavailable> {
        self.unavailable.iter().find(|u| u.section == section)
    }
}

/// Takes the snapshot. The thread list is the base of every section, so without it there is no
/// snapshot; any later section that times out is marked unavailable and the rest goes on.
/// Every statement the snapshot always needs, read in one round trip; the lookups made only
/// for waits found (queued row locks, holders of user locks, table handles) follow when needed.
pub(crate) fn statements(server: &ServerInfo) -> Vec<&'static str> {
    let mut ahead = processlist::statements(server);
    ahead.extend(locks::statements(server));
    ahead.extend(connections::statements());
    if server.capabilities.process_privilege {
        ahead.push(crate::queries::INNODB_STATUS);
    }
    ahead.push(server.flavor.history_list_length_query());
    ahead.extend(replication::channel_statements(server));
    ahead.extend(server.replicas_query());
    if server.managed == Some(crate::server::Managed::Aurora) {
        ahead.push(crate::queries::AURORA_REPLICA_HOSTS);
    }
    ahead.push(crate::queries::SERVER_NOW);
    ahead
}

pub(crate) async fn collect(session: &mut Session) -> Result<Triage> {
    let ahead = statements(&session.server);
    session.db.prefetch("taking the snapshot", &ahead).await?;
    let triage = snapshot(session).await;
    session.db.forget_prefetched();
    triage
}

/// The snapshot, section by section, from the statements read ahead.
async fn snapshot(session: &mut Session) -> Result<Triage> {
    Ok(snapshot_with_threads(session).await?.0)
}

/// As [`snapshot`], with the sessions it read (the console lists them). The caller reads
/// [`statements`] ahead and forgets them after.
pub(crate) async fn snapshot_with_threads(
    session: &mut Session,
) -> Result<(Triage, Vec<processlist::Thread>)> {
    let mut gaps = Vec::new();
    let threads = processlist::threads(session).await?;
    let last = section(
        &mut gaps,
        Section::LastStatements,
        processlist::last_statements(session),
    )
    .await?
    .flatten();
    let locks = section(
        &mut gaps,
        Section::Locks,
        locks::collect_with(session, &threads, last.as_ref()),
    )
    .await?;
    let connections = section(
        &mut gaps,
        Section::Connections,
        connections::collect_with(session, &threads),
    )
    .await?;
    let idle: Vec<processlist::Thread> =
        threads.iter().filter(|t| t.idle_in_trx).cloned().collect();
    let idle_in_trx = idle.len();
    let oldest_idle_in_trx = history::oldest_trx_from(&idle, last.as_ref());
    let oldest_trx = history::oldest_trx_from(&threads, last.as_ref());
    let status = section(
        &mut gaps,
        Section::InnodbStatus,
        deadlocks::innodb_status(session),
    )
    .await?;
    let history_list_length = section(
        &mut gaps,
        Section::History,
        history::history_list_length_with(session, status.as_deref()),
    )
    .await?
    .map(|(length, _)| length);
    let mariadb = session.server.flavor.is_mariadb();
    let purge_blockers = purge::blockers(mariadb, &threads, last.as_ref(), status.as_deref());
    let mut notes = Vec::new();
    let channels = section(
        &mut gaps,
        Section::Replication,
        replication::read_channels(session, &threads, locks.as_ref(), &mut notes),
    )
    .await?
    .unwrap_or_default();
    let replicas = section(
        &mut gaps,
        Section::Replication,
        replication::read_replicas(session, &threads, &mut notes),
    )
    .await?
    .unwrap_or_default();
    let aurora = section(
        &mut gaps,
        Section::Replication,
        replication::read_aurora(session, &mut notes),
    )
    .await?
    .unwrap_or_default();
    let now: Option<Vec<String>> = section(
        &mut gaps,
        Section::ServerTime,
        session
            .db
            .query("reading the server clock", crate::queries::SERVER_NOW),
    )
    .await?;
    let triage = Triage {
        server: session.server.clone(),
        connections,
        locks,
        oldest_trx,
        oldest_idle_in_trx,
        idle_in_trx,
        history_list_length,
        purge_blockers,
        latest_deadlock: status
            .as_deref()
            .and_then(innodb_status::parse_latest_deadlock),
        replication: channels,
        replicas,
        aurora,
        server_time: now.and_then(|rows| rows.into_iter().next()),
        unavailable: gaps,
    };
    Ok((triage, threads))
}

/// Runs one section of the snapshot: a timeout (or a connection given up after one) becomes an
/// entry in `gaps` and `None`; any other error still fails the snapshot.
async fn section<T>(
    gaps: &mut Vec<Unavailable>,
    name: Section,
    work: impl Future<Output = Result<T>>,
) -> Result<Option<T>> {
    match work.await {
        Ok(value) => Ok(Some(value)),
        Err(error)
            if error
                .downcast_ref::<Failure>()
                .is_some_and(Failure::is_timeout) =>
        {
            gaps.push(Unavailable {
                section: name,
                reason: one_line(&error),
            });
            Ok(None)
        }
        Err(error) => Err(error),
    }
}
