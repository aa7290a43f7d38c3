//! `mytriage replication`: on a replica, each channel's threads, its lag three ways (the
//! server's `Seconds_Behind_Source`, the applier's original commit timestamps, a pt-heartbeat
//! table), its last errors with the failing transaction, and the applier blocked by a local
//! session; on a source, the replicas connected and semi-sync; on Aurora, every instance with
//! its lag.

mod applier;
mod parse;
mod view;

use std::collections::BTreeMap;

use anyhow::Result;
use serde::Serialize;

use crate::connect::Session;
use crate::connect::row::Columns;
use crate::probe::locks::{self, LocksReport};
use crate::probe::processlist::{self, Thread};
use crate::queries;
use crate::server::ServerInfo;
use applier::blocked_applier;
pub(crate) use applier::is_applier;
use parse::channels;
pub(crate) use view::blocked_text;

/// What the server is in its replication topology.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Role {
    /// Replicas read its binary log; it replicates from nobody.
    Source,
    /// It replicates from a source.
    Replica,
    /// A replica that replicas read from in turn.
    Relay,
    /// Neither.
    Standalone,
    /// Aurora's writer instance.
    Writer,
    /// An Aurora reader instance.
    Reader,
}

impl Role {
    pub(crate) fn label(self) -> &'static str {
        match self {
            Role::Source => "source",
            Role::Replica => "replica",
            Role::Relay => "replica and source",
            Role::Standalone => "standalone",
            Role::Writer => "writer",
            Role::Reader => "reader",
        }
    }
}

/// A replication thread's last error.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct ReplicationError {
    pub errno: u64,
    pub message: String,
    /// When it happened, where the server says (MySQL).
    pub at: Option<String>,
}

/// One applier worker (MySQL 8.0+: `replication_applier_status_by_worker`; MariaDB: the
/// processlist's `Slave_worker` threads).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Worker {
    pub id: Option<u64>,
    pub pid: Option<u64>,
    pub state: Option<String>,
    /// The transaction (GTID) it applies now.
    pub applying: Option<String>,
    /// Now minus the original commit time of what it applies (seconds).
    pub applying_lag_s: Option<f64>,
    pub last_applied: Option<String>,
    /// How far behind the last transaction it applied was, when applied (seconds).
    pub last_applied_lag_s: Option<f64>,
    pub error: Option<ReplicationError>,
}

/// The session a channel's applier waits for, by the blocker tree.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct BlockedApplier {
    /// The applier thread that waits.
    pub applier_pid: u64,
    /// The root blocker above it: the session to act on.
    pub blocker_pid: u64,
    pub blocker_user: Option<String>,
    /// What the blocker runs now, or (idle) what it ran last.
    pub statement: Option<String>,
    pub last_statement: Option<String>,
    pub idle_in_trx: bool,
    /// Whether every edge from the applier up to the blocker is exact.
    pub exact: bool,
}

/// One replication channel of a replica (the default channel is named "").
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Channel {
    pub name: String,
    /// `host:port` of its source.
    pub source: Option<String>,
    /// Yes, No or Connecting.
    pub io_running: Option<String>,
    pub io_state: Option<String>,
    pub sql_running: Option<String>,
    pub sql_state: Option<String>,
    /// The server's own estimate; `null` when the applier is stopped.
    pub seconds_behind_source: Option<u64>,
    /// The true applier lag from the original commit timestamps (MySQL 8.0+): the oldest
    /// transaction being applied against now, else how late the last one was applied.
    pub applier_lag_s: Option<f64>,
    /// From the `--heartbeat-table` (pt-heartbeat), when given.
    pub heartbeat_lag_s: Option<f64>,
    pub io_error: Option<ReplicationError>,
    pub sql_error: Option<ReplicationError>,
    /// The GTID (or binary-log event) the applier failed on.
    pub failing_transaction: Option<String>,
    pub retrieved_gtid_set: Option<String>,
    pub executed_gtid_set: Option<String>,
    /// MariaDB: the GTID position the IO thread has received up to.
    pub gtid_io_pos: Option<String>,
    pub workers: Vec<Worker>,
    /// The local session the applier waits for, when it waits for one.
    pub blocked_by: Option<BlockedApplier>,
    /// Where the applier stands in the relay log (file, position): the start of the event group
    /// it applies, or failed on.
    #[serde(skip)]
    pub relay_log: Option<(String, u64)>,
}

impl Channel {
    /// The lag the verdict is judged on: the worst of the three that are known.
    pub(crate) fn lag_s(&self) -> Option<f64> {
        [
            self.seconds_behind_source.map(|s| s as f64),
            self.applier_lag_s,
            self.heartbeat_lag_s,
        ]
        .into_iter()
        .flatten()
        .reduce(f64::max)
    }

    /// What is wrong with the threads, in a few words; `None` when both run without error.
    pub(crate) fn broken(&self) -> Option<String> {
        let stopped = |name: &str, running: &Option<String>, error: &Option<ReplicationError>| {
            let state = running.as_deref().unwrap_or("unknown");
            match (state, error) {
                (_, Some(e)) => Some(format!("{name} thread error {}: {}", e.errno, e.message)),
                ("Yes", None) => None,
                ("Connecting", None) => Some(format!("{name} thread connecting")),
                (state, None) => Some(format!("{name} thread {}", state.to_lowercase())),
            }
        };
        let problems: Vec<String> = [
            stopped("SQL", &self.sql_running, &self.sql_error),
            stopped("IO", &self.io_running, &self.io_error),
        ]
        .into_iter()
        .flatten()
        .collect();
        (!problems.is_empty()).then(|| problems.join("; "))
    }
}

/// A replica connected to this source.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct ConnectedReplica {
    pub server_id: Option<u64>,
    /// As the replica reported itself (`report_host`), when it did.
    pub host: Option<String>,
    pub port: Option<u64>,
    /// The Binlog Dump thread serving it, by its client address.
    pub pid: Option<u64>,
    pub client: Option<String>,
}

/// Semi-synchronous replication.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub(crate) struct SemiSync {
    /// On the source: waiting for replicas' acknowledgements.
    pub source_on: Option<bool>,
    pub source_clients: Option<u64>,
    /// On a replica: acknowledging.
    pub replica_on: Option<bool>,
}

/// MariaDB's GTID positions.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct MariaDbGtid {
    pub gtid_slave_pos: Option<String>,
    pub gtid_binlog_pos: Option<String>,
    pub parallel_mode: Option<String>,
    pub parallel_threads: Option<u64>,
}

/// One Aurora instance, from `information_schema.replica_host_status`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct AuroraInstance {
    pub server_id: String,
    pub role: Role,
    pub lag_ms: Option<f64>,
    pub last_update: Option<String>,
}

/// What `replication` reports.
#[derive(Debug, Serialize)]
pub(crate) struct ReplicationReport {
    pub role: Role,
    pub channels: Vec<Channel>,
    pub replicas: Vec<ConnectedReplica>,
    pub semi_sync: SemiSync,
    pub mariadb_gtid: Option<MariaDbGtid>,
    pub aurora: Vec<AuroraInstance>,
    pub notes: Vec<String>,
}

/// What `replication` was asked for.
#[derive(Debug, Clone, Default)]
pub(crate) struct Options {
    /// A pt-heartbeat table, `db.table`, validated.
    pub heartbeat_table: Option<HeartbeatTable>,
}

/// A pt-heartbeat table, as a quoted identifier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HeartbeatTable {
    pub db: String,
    pub table: String,
}

impl std::str::FromStr for HeartbeatTable {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let plain = |s: &str| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
        };
        match text.split_once('.') {
            Some((db, table)) if plain(db) && plain(table) => Ok(HeartbeatTable {
                db: db.to_owned(),
                table: table.to_owned(),
            }),
            _ => Err(format!(
                "--heartbeat-table '{text}' must be db.table (letters, digits, _ and $)"
            )),
        }
    }
}

impl HeartbeatTable {
    /// The age of the newest heartbeat written by the source (pt-heartbeat writes `ts` with the
    /// source's clock; without `--utc` it is the server's local time, as `NOW(6)` reads it).
    fn query(&self) -> String {
        format!(
            "SELECT TIMESTAMPDIFF(MICROSECOND, MAX(ts), NOW(6)) AS lag_us FROM `{}`.`{}`",
            self.db, self.table
        )
    }
}

/// The statements of one look, in one batch: the replica status, the workers, the source side,
/// and the threads the blocker tree is built from.
pub(crate) fn snapshot(server: &ServerInfo) -> Vec<&'static str> {
    let mut ahead = statements(server);
    ahead.extend(locks::snapshot(server));
    ahead
}

/// The replication statements this server answers.
fn statements(server: &ServerInfo) -> Vec<&'static str> {
    let mut ahead = channel_statements(server);
    ahead.push(queries::SEMI_SYNC);
    ahead.extend(server.replicas_query());
    if server.flavor.is_mariadb() {
        ahead.push(queries::MARIADB_GTID);
    }
    if server.managed == Some(crate::server::Managed::Aurora) {
        ahead.push(queries::AURORA_REPLICA_HOSTS);
    }
    ahead
}

/// What the channels are read from: the replica status, and the workers' commit timestamps
/// where performance_schema has them (MySQL 8.0+).
pub(crate) fn channel_statements(server: &ServerInfo) -> Vec<&'static str> {
    let mut ahead = vec![server.replica_status_query()];
    if has_worker_table(server) {
        ahead.push(queries::APPLIER_WORKERS_P_S);
    }
    ahead
}

fn has_worker_table(server: &ServerInfo) -> bool {
    !server.flavor.is_mariadb()
        && server.capabilities.performance_schema
        && server.version_number.major >= 8
}

/// The channels of a replica, with their workers and the local session their applier waits
/// for (from `locks`, when read); empty on a server that replicates from nobody.
pub(crate) async fn read_channels(
    session: &mut Session,
    threads: &[Thread],
    locks: Option<&LocksReport>,
    notes: &mut Vec<String>,
) -> Result<Vec<Channel>> {
    let sql = session.server.replica_status_query();
    let status = read_rows(session, "reading the replica status", sql, notes).await?;
    let mut channels = channels(&status);
    if channels.is_empty() {
        return Ok(channels);
    }
    if has_worker_table(&session.server) {
        let sql = queries::APPLIER_WORKERS_P_S;
        let workers = read_rows(session, "reading the applier workers", sql, notes).await?;
        parse::attach_workers(&mut channels, &workers);
    } else {
        parse::attach_mariadb_workers(&mut channels, threads);
    }
    if let Some(locks) = locks {
        for channel in &mut channels {
            channel.blocked_by = blocked_applier(channel, threads, locks);
        }
    }
    if session.server.flavor.is_mariadb() {
        for channel in &mut channels {
            failing_gtid_from_relay_log(session, channel, notes).await?;
        }
    }
    Ok(channels)
}

/// Reads replication on this server.
pub(crate) async fn collect(session: &mut Session, options: &Options) -> Result<ReplicationReport> {
    let ahead = snapshot(&session.server);
    session.db.prefetch("reading replication", &ahead).await?;
    let mut notes = Vec::new();
    let threads = processlist::threads(session).await?;
    let last = processlist::last_statements(session).await?;
    let locks = locks::collect_with(session, &threads, last.as_ref()).await?;
    let mut channels = read_channels(session, &threads, Some(&locks), &mut notes).await?;
    if let Some(table) = &options.heartbeat_table {
        let lag = heartbeat_lag(session, table).await?;
        for channel in &mut channels {
            channel.heartbeat_lag_s = lag;
        }
    }
    let semi_sync = parse::semi_sync(
        &read_rows(
            session,
            "reading semi-sync status",
            queries::SEMI_SYNC,
            &mut notes,
        )
        .await?,
    );
    let replicas = read_replicas(session, &threads, &mut notes).await?;
    let mariadb_gtid = match session.server.flavor.is_mariadb() {
        true => read_rows(
            session,
            "reading the GTID positions",
            queries::MARIADB_GTID,
            &mut notes,
        )
        .await?
        .first()
        .map(parse::mariadb_gtid),
        false => None,
    };
    let aurora = read_aurora(session, &mut notes).await?;
    Ok(ReplicationReport {
        role: parse::role(&channels, &replicas, &aurora, &session.server),
        channels,
        replicas,
        semi_sync,
        mariadb_gtid,
        aurora,
        notes,
    })
}

/// Aurora's instances, on Aurora; empty elsewhere.
pub(crate) async fn read_aurora(
    session: &mut Session,
    notes: &mut Vec<String>,
) -> Result<Vec<AuroraInstance>> {
    if session.server.managed != Some(crate::server::Managed::Aurora) {
        return Ok(Vec::new());
    }
    let sql = queries::AURORA_REPLICA_HOSTS;
    Ok(parse::aurora(
        &read_rows(session, "reading replica_host_status", sql, notes).await?,
    ))
}

/// An Aurora instance's endpoint, from its id and the endpoint this run connected to (cluster,
/// reader or instance endpoint: `NAME.[cluster-[ro-]]ID.REGION.rds.amazonaws.com`).
pub(crate) fn aurora_endpoint(server_id: &str, connected: &str) -> Option<String> {
    let (_, rest) = connected.split_once('.')?;
    if !rest.ends_with(".rds.amazonaws.com") {
        return None;
    }
    let rest = rest
        .strip_prefix("cluster-ro-")
        .or_else(|| rest.strip_prefix("cluster-"))
        .unwrap_or(rest);
    Some(format!("{server_id}.{rest}"))
}

/// The replicas registered with this source, matched to the Binlog Dump threads serving them.
pub(crate) async fn read_replicas(
    session: &mut Session,
    threads: &[Thread],
    notes: &mut Vec<String>,
) -> Result<Vec<ConnectedReplica>> {
    Ok(match session.server.replicas_query() {
        Some(sql) => parse::replicas(
            &read_rows(session, "listing the replicas", sql, notes).await?,
            threads,
        ),
        None => Vec::new(),
    })
}

/// Rows of a statement as maps of column name to text, or a note when the account may not read
/// them.
async fn read_rows(
    session: &mut Session,
    what: &str,
    sql: &str,
    notes: &mut Vec<String>,
) -> Result<Vec<BTreeMap<String, String>>> {
    let rows: Option<Vec<mysql_async::Row>> = session.db.query_if_permitted(what, sql).await?;
    let Some(rows) = rows else {
        notes.push(format!(
            "{what}: not permitted (GRANT REPLICATION CLIENT, REPLICATION SLAVE ON *.* to see it)"
        ));
        return Ok(Vec::new());
    };
    Ok(rows.iter().map(row_map).collect())
}

/// A row as column name → text, NULL columns left out.
fn row_map(row: &mysql_async::Row) -> BTreeMap<String, String> {
    Columns(row)
        .all()
        .into_iter()
        .filter_map(|(name, value)| Some((name, value?)))
        .collect()
}

/// MariaDB's applier error names the event's position, not its GTID: the event group it failed on
/// starts at the applier's relay-log position with a `BEGIN GTID d-s-n` event.
async fn failing_gtid_from_relay_log(
    session: &mut Session,
    channel: &mut Channel,
    notes: &mut Vec<String>,
) -> Result<()> {
    let is_gtid = |t: &str| parse::is_mariadb_gtid(t);
    let (Some(_), Some((file, pos))) = (&channel.sql_error, &channel.relay_log) else {
        return Ok(());
    };
    if channel.failing_transaction.as_deref().is_some_and(is_gtid) {
        return Ok(());
    }
    let plain = |s: &str| {
        s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
    };
    if !plain(file) || !plain(&channel.name) {
        return Ok(());
    }
    let connection = match channel.name.as_str() {
        "" => String::new(),
        name => format!("'{name}' "),
    };
    let sql = format!("SHOW RELAYLOG {connection}EVENTS IN '{file}' FROM {pos} LIMIT 3");
    let rows = read_rows(session, "reading the failing event", &sql, notes).await?;
    if let Some(gtid) = rows
        .iter()
        .find_map(|r| parse::gtid_of_event(r.get("Info")?))
    {
        channel.failing_transaction = Some(gtid);
    }
    Ok(())
}

async fn heartbeat_lag(session: &mut Session, table: &HeartbeatTable) -> Result<Option<f64>> {
    let rows: Vec<Option<i64>> = session
        .db
        .query("reading the heartbeat table", &table.query())
        .await?;
    Ok(rows.into_iter().flatten().next().map(|us| us as f64 / 1e6))
}

#[cfg(test)]
mod tests;
