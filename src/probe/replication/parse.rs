//! Pure: the replica status of every flavor read into channels, and the source side, the
//! workers and Aurora's instances. Tested on recorded rows.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use regex::Regex;

use super::{
    AuroraInstance, Channel, ConnectedReplica, MariaDbGtid, ReplicationError, Role, SemiSync,
    Worker,
};
use crate::probe::processlist::Thread;
use crate::server::ServerInfo;

/// A row as column name → text.
type Row = BTreeMap<String, String>;

/// One spelling for both: MySQL 8.0.22+ says Replica/Source, MySQL 5.7 and MariaDB say
/// Slave/Master. Keys are looked up in the new spelling.
fn normalized(row: &Row) -> Row {
    row.iter()
        .map(|(k, v)| {
            let k = k
                .replace("Slave", "Replica")
                .replace("slave", "replica")
                .replace("Master", "Source")
                .replace("master", "source");
            (k, v.clone())
        })
        .collect()
}

fn text(row: &Row, key: &str) -> Option<String> {
    row.get(key).filter(|v| !v.is_empty()).cloned()
}

fn number(row: &Row, key: &str) -> Option<u64> {
    row.get(key).and_then(|v| v.trim().parse().ok())
}

fn error(row: &Row, errno: &str, message: &str, at: &str) -> Option<ReplicationError> {
    let errno = number(row, errno).filter(|n| *n != 0)?;
    Some(ReplicationError {
        errno,
        // The applier's message quotes the statement it failed on.
        message: crate::redact::credentials(text(row, message).unwrap_or_default()),
        at: text(row, at),
    })
}

/// The channels of `SHOW REPLICA STATUS`, `SHOW SLAVE STATUS` or `SHOW ALL SLAVES STATUS`.
pub(crate) fn channels(rows: &[Row]) -> Vec<Channel> {
    rows.iter()
        .map(|raw| {
            let row = normalized(raw);
            let sql_error = error(
                &row,
                "Last_SQL_Errno",
                "Last_SQL_Error",
                "Last_SQL_Error_Timestamp",
            );
            let source = match (text(&row, "Source_Host"), number(&row, "Source_Port")) {
                (Some(host), Some(port)) => Some(format!("{host}:{port}")),
                (host, _) => host,
            };
            Channel {
                // MariaDB names connections, MySQL channels.
                name: text(&row, "Channel_Name")
                    .or_else(|| text(&row, "Connection_name"))
                    .unwrap_or_default(),
                source,
                io_running: text(&row, "Replica_IO_Running"),
                io_state: text(&row, "Replica_IO_State"),
                sql_running: text(&row, "Replica_SQL_Running"),
                sql_state: text(&row, "Replica_SQL_Running_State")
                    .or_else(|| text(&row, "Replica_SQL_State")),
                seconds_behind_source: number(&row, "Seconds_Behind_Source"),
                applier_lag_s: None,
                heartbeat_lag_s: None,
                io_error: error(
                    &row,
                    "Last_IO_Errno",
                    "Last_IO_Error",
                    "Last_IO_Error_Timestamp",
                ),
                failing_transaction: sql_error
                    .as_ref()
                    .and_then(|e| failing_transaction(&e.message)),
                sql_error,
                retrieved_gtid_set: text(&row, "Retrieved_Gtid_Set").map(|s| one_line(&s)),
                executed_gtid_set: text(&row, "Executed_Gtid_Set").map(|s| one_line(&s)),
                gtid_io_pos: text(&row, "Gtid_IO_Pos"),
                workers: Vec::new(),
                blocked_by: None,
                relay_log: text(&row, "Relay_Log_File").zip(number(&row, "Relay_Log_Pos")),
            }
        })
        .collect()
}

/// GTID sets come with a newline after every comma.
fn one_line(set: &str) -> String {
    set.split_whitespace().collect::<Vec<_>>().join("")
}

/// The transaction an applier error names: MySQL's `transaction 'UUID:N'`, MariaDB's
/// `Gtid D-S-N`, else the binary-log position of the event.
pub(crate) fn failing_transaction(message: &str) -> Option<String> {
    static MYSQL: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"transaction '([0-9a-fA-F-]{36}(?::[^:']+)?:\d+)'").expect("valid regex")
    });
    static MARIADB: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"\bGtid (\d+-\d+-\d+)").expect("valid regex"));
    static EVENT: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"(?:source|master) log ([^\s,]+), end_log_pos (\d+)").expect("valid regex")
    });
    if let Some(m) = MYSQL
        .captures(message)
        .or_else(|| MARIADB.captures(message))
    {
        return Some(m[1].to_owned());
    }
    EVENT
        .captures(message)
        .map(|m| format!("{} end_log_pos {}", &m[1], &m[2]))
}

/// A MariaDB GTID, `domain-server-sequence`.
pub(crate) fn is_mariadb_gtid(text: &str) -> bool {
    let parts: Vec<&str> = text.split('-').collect();
    parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

/// The GTID of a relay-log event's `Info`: `BEGIN GTID 0-1-17` (MariaDB).
pub(crate) fn gtid_of_event(info: &str) -> Option<String> {
    info.split_whitespace()
        .skip_while(|w| *w != "GTID")
        .nth(1)
        .filter(|g| is_mariadb_gtid(g))
        .map(str::to_owned)
}

/// MySQL 8.0+'s workers, with the applier lag they give each channel.
pub(crate) fn attach_workers(channels: &mut [Channel], rows: &[Row]) {
    for row in rows {
        let name = text(row, "channel").unwrap_or_default();
        let Some(channel) = channels.iter_mut().find(|c| c.name == name) else {
            continue;
        };
        let seconds = |key: &str| {
            row.get(key)
                .and_then(|v| v.parse::<f64>().ok())
                .map(|us| us / 1e6)
        };
        let worker = Worker {
            id: number(row, "worker_id"),
            pid: number(row, "pid"),
            state: text(row, "state").or_else(|| text(row, "service_state")),
            applying: text(row, "applying"),
            applying_lag_s: seconds("applying_lag_us"),
            last_applied: text(row, "last_applied"),
            last_applied_lag_s: seconds("last_applied_lag_us"),
            error: error(row, "error_number", "error_message", "error_at"),
        };
        channel.workers.push(worker);
    }
    for channel in channels.iter_mut() {
        // With parallel workers the coordinator's error names only the most recent failure,
        // often a worker stopped because an earlier one failed (3030): the first worker error
        // is the cause.
        let first = channel
            .workers
            .iter()
            .filter_map(|w| Some((w.error.as_ref()?, w)))
            .min_by(|(a, _), (b, _)| a.at.cmp(&b.at));
        if let Some((error, worker)) = first
            && channel.sql_error.is_some()
        {
            channel.failing_transaction = worker
                .applying
                .clone()
                .or_else(|| failing_transaction(&error.message));
            channel.sql_error = Some(error.clone());
        }
        // What is being applied now is the lag; with nothing in flight, how late the last one was.
        let applying = channel
            .workers
            .iter()
            .filter_map(|w| w.applying_lag_s)
            .reduce(f64::max);
        let last = channel
            .workers
            .iter()
            .filter_map(|w| w.last_applied_lag_s)
            .reduce(f64::max);
        channel.applier_lag_s = applying.or(last).map(|s| s.max(0.0));
    }
}

/// MariaDB's applier threads, from the processlist (it has no worker table with timestamps).
pub(crate) fn attach_mariadb_workers(channels: &mut [Channel], threads: &[Thread]) {
    // MariaDB does not say which connection a thread serves; with one channel it is that one.
    let [channel] = channels else {
        return;
    };
    channel.workers = threads
        .iter()
        .filter(|t| matches!(t.command.as_deref(), Some("Slave_SQL" | "Slave_worker")))
        .map(|t| Worker {
            id: None,
            pid: Some(t.pid),
            state: t.state.clone(),
            applying: None,
            applying_lag_s: None,
            last_applied: None,
            last_applied_lag_s: None,
            error: None,
        })
        .collect();
}

/// `SHOW GLOBAL STATUS` rows of semi-sync, in either spelling.
pub(crate) fn semi_sync(rows: &[Row]) -> SemiSync {
    let mut semi = SemiSync::default();
    for row in rows {
        let (Some(name), Some(value)) = (text(row, "Variable_name"), text(row, "Value")) else {
            continue;
        };
        let name = name.replace("master", "source").replace("slave", "replica");
        match name.as_str() {
            "Rpl_semi_sync_source_status" => semi.source_on = Some(value == "ON"),
            "Rpl_semi_sync_source_clients" => semi.source_clients = value.parse().ok(),
            "Rpl_semi_sync_replica_status" => semi.replica_on = Some(value == "ON"),
            _ => {}
        }
    }
    semi
}

/// The replicas of `SHOW REPLICAS` / `SHOW SLAVE HOSTS`, matched to the Binlog Dump threads
/// that serve them; a dump thread with no registered replica is listed on its own.
pub(crate) fn replicas(rows: &[Row], threads: &[Thread]) -> Vec<ConnectedReplica> {
    let dumps: Vec<&Thread> = threads
        .iter()
        .filter(|t| {
            t.command
                .as_deref()
                .is_some_and(|c| c.starts_with("Binlog Dump"))
        })
        .collect();
    let mut listed: Vec<ConnectedReplica> = rows
        .iter()
        .map(|raw| {
            let row = normalized(raw);
            ConnectedReplica {
                server_id: number(&row, "Server_id").or_else(|| number(&row, "Server_Id")),
                host: text(&row, "Host"),
                port: number(&row, "Port"),
                pid: None,
                client: None,
            }
        })
        .collect();
    for dump in dumps {
        let client = dump.host.clone();
        let host = dump.host_name().map(str::to_owned);
        // By the host it reported; a replica that reported none (no report_host) takes the
        // next dump thread's client address, in order.
        let matched = match listed
            .iter()
            .position(|r| r.pid.is_none() && host.is_some() && r.host == host)
        {
            Some(at) => Some(at),
            None => listed
                .iter()
                .position(|r| r.pid.is_none() && r.host.is_none()),
        };
        match matched.map(|at| &mut listed[at]) {
            Some(replica) => {
                replica.pid = Some(dump.pid);
                replica.host = replica.host.take().or(host);
                replica.client = client;
            }
            None => listed.push(ConnectedReplica {
                server_id: None,
                host,
                port: None,
                pid: Some(dump.pid),
                client,
            }),
        }
    }
    listed
}

pub(crate) fn mariadb_gtid(row: &Row) -> MariaDbGtid {
    MariaDbGtid {
        gtid_slave_pos: text(row, "gtid_slave_pos"),
        gtid_binlog_pos: text(row, "gtid_binlog_pos"),
        parallel_mode: text(row, "parallel_mode"),
        parallel_threads: number(row, "parallel_threads"),
    }
}

/// Aurora's instances: the writer's session is `MASTER_SESSION_ID`.
pub(crate) fn aurora(rows: &[Row]) -> Vec<AuroraInstance> {
    rows.iter()
        .filter_map(|row| {
            Some(AuroraInstance {
                server_id: text(row, "server_id")?,
                role: match text(row, "session_id").as_deref() {
                    Some("MASTER_SESSION_ID") => Role::Writer,
                    _ => Role::Reader,
                },
                lag_ms: row.get("lag_ms").and_then(|v| v.parse().ok()),
                last_update: text(row, "last_update"),
            })
        })
        .collect()
}

/// The server's role from what it showed.
pub(crate) fn role(
    channels: &[Channel],
    replicas: &[ConnectedReplica],
    aurora: &[AuroraInstance],
    server: &ServerInfo,
) -> Role {
    if !aurora.is_empty() {
        // The instance this session is on is the one whose id is the server's hostname.
        let me = server.hostname.as_deref();
        return match aurora.iter().find(|i| Some(i.server_id.as_str()) == me) {
            Some(instance) => instance.role,
            None if server.read_only => Role::Reader,
            None => Role::Writer,
        };
    }
    match (!channels.is_empty(), !replicas.is_empty()) {
        (true, true) => Role::Relay,
        (true, false) => Role::Replica,
        (false, true) => Role::Source,
        (false, false) => Role::Standalone,
    }
}
