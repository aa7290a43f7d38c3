//! `mytriage connections`: saturation against max_connections, and who holds the connections,
//! by user, host and db, each split into sleeping and active.

use std::collections::BTreeMap;

use anyhow::Result;
use serde::Serialize;

use crate::connect::Session;
use crate::probe::processlist::{self, Thread};
use crate::queries;
use crate::render::{Block, Report, View, ViewOptions};

/// Connections of one user, host or db.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub(crate) struct Group {
    pub name: String,
    pub total: u64,
    pub sleeping: u64,
    pub active: u64,
}

/// An account with its own connection limit.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct AccountLimit {
    pub user: String,
    pub host: String,
    pub max_user_connections: u64,
    /// Connections it holds now (matched by user name).
    pub current: u64,
}

/// What `connections` reports.
#[derive(Debug, Serialize)]
pub(crate) struct ConnectionsReport {
    pub threads_connected: u64,
    pub threads_running: u64,
    /// Seconds since the server started.
    pub uptime_s: Option<u64>,
    pub max_connections: u64,
    pub used_pct: f64,
    pub max_used_connections: Option<u64>,
    /// When the peak happened (MySQL 8.0+).
    pub max_used_connections_time: Option<String>,
    pub connection_errors_max_connections: Option<u64>,
    pub aborted_connects: Option<u64>,
    pub by_user: Vec<Group>,
    pub by_host: Vec<Group>,
    pub by_db: Vec<Group>,
    /// Per-account limits; `null` when the account may not read mysql.user.
    pub account_limits: Option<Vec<AccountLimit>>,
}

/// Reads the counters and groups the threads.
/// What `connections` reads, in one batch.
pub(crate) fn snapshot(server: &crate::server::ServerInfo) -> Vec<&'static str> {
    let mut ahead = processlist::statements(server);
    ahead.extend(statements());
    ahead
}

pub(crate) async fn collect(session: &mut Session) -> Result<ConnectionsReport> {
    let ahead = snapshot(&session.server);
    session.db.prefetch("reading connections", &ahead).await?;
    let threads = processlist::threads(session).await?;
    collect_with(session, &threads).await
}

/// What [`collect_with`] runs, for a snapshot to read ahead.
pub(crate) fn statements() -> [&'static str; 2] {
    [queries::CONNECTION_STATUS, queries::ACCOUNT_LIMITS]
}

/// As [`collect`], on a thread snapshot already taken (by `status`, say).
pub(crate) async fn collect_with(
    session: &mut Session,
    threads: &[Thread],
) -> Result<ConnectionsReport> {
    let status: BTreeMap<String, String> = session
        .db
        .query::<(String, String)>("reading connection counters", queries::CONNECTION_STATUS)
        .await?
        .into_iter()
        .map(|(name, value)| (name.to_ascii_lowercase(), value))
        .collect();
    let number = |name: &str| status.get(name).and_then(|v| v.parse::<u64>().ok());
    let limits = session
        .db
        .query_if_permitted::<(String, String, u64)>(
            "reading account limits",
            queries::ACCOUNT_LIMITS,
        )
        .await?;
    let max_connections = session.server.max_connections.unwrap_or(0);
    // Threads_connected counts mytriage's own connection; the listings do not.
    let threads_connected = number("threads_connected").unwrap_or(threads.len() as u64 + 1);
    Ok(ConnectionsReport {
        threads_connected,
        threads_running: number("threads_running").unwrap_or(0),
        uptime_s: number("uptime"),
        max_connections,
        used_pct: percent(threads_connected, max_connections),
        max_used_connections: number("max_used_connections"),
        max_used_connections_time: status
            .get("max_used_connections_time")
            .cloned()
            .filter(|t| !t.is_empty()),
        connection_errors_max_connections: number("connection_errors_max_connections"),
        aborted_connects: number("aborted_connects"),
        by_user: group(threads, |t| t.user.clone()),
        by_host: group(threads, |t| t.host_name().map(str::to_owned)),
        by_db: group(threads, |t| t.db.clone()),
        account_limits: limits.map(|rows| {
            rows.into_iter()
                .map(|(user, host, max_user_connections)| AccountLimit {
                    current: threads
                        .iter()
                        .filter(|t| t.user.as_deref() == Some(user.as_str()))
                        .count() as u64,
                    user,
                    host,
                    max_user_connections,
                })
                .collect()
        }),
    })
}

fn percent(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        (part as f64 * 1000.0 / whole as f64).round() / 10.0
    }
}

/// Groups threads by a key, largest group first; threads without the key count as "(none)".
pub(crate) fn group(threads: &[Thread], key: impl Fn(&Thread) -> Option<String>) -> Vec<Group> {
    let mut groups: BTreeMap<String, Group> = BTreeMap::new();
    for thread in threads {
        let name = key(thread)
            .filter(|k| !k.is_empty())
            .unwrap_or_else(|| "(none)".to_owned());
        let entry = groups.entry(name.clone()).or_insert_with(|| Group {
            name,
            ..Group::default()
        });
        entry.total += 1;
        if thread.command.as_deref() == Some("Sleep") {
            entry.sleeping += 1;
        } else {
            entry.active += 1;
        }
    }
    let mut groups: Vec<Group> = groups.into_values().collect();
    groups.sort_by(|a, b| b.total.cmp(&a.total).then_with(|| a.name.cmp(&b.name)));
    groups
}

impl Report for ConnectionsReport {
    fn view(&self, _: &ViewOptions) -> View {
        let optional = |v: Option<u64>| v.map(|n| n.to_string()).unwrap_or_else(|| "-".into());
        let peak = match (&self.max_used_connections, &self.max_used_connections_time) {
            (Some(n), Some(at)) => format!("{n} at {at}"),
            (n, _) => optional(*n),
        };
        let fields = vec![
            (
                "Connections".to_owned(),
                format!(
                    "{} of {} ({}%)",
                    self.threads_connected, self.max_connections, self.used_pct
                ),
            ),
            (
                "Threads_running".to_owned(),
                self.threads_running.to_string(),
            ),
            ("Peak".to_owned(), peak),
            (
                "Refused (max_connections)".to_owned(),
                optional(self.connection_errors_max_connections),
            ),
            (
                "Aborted_connects".to_owned(),
                optional(self.aborted_connects),
            ),
        ];
        let mut blocks = vec![Block::Fields {
            title: None,
            fields,
        }];
        for (title, groups) in [
            ("By user", &self.by_user),
            ("By host", &self.by_host),
            ("By db", &self.by_db),
        ] {
            blocks.push(Block::Table {
                title: Some(title.to_owned()),
                header: ["name", "total", "sleeping", "active"]
                    .map(str::to_owned)
                    .to_vec(),
                rows: groups
                    .iter()
                    .take(10)
                    .map(|g| {
                        vec![
                            g.name.clone(),
                            g.total.to_string(),
                            g.sleeping.to_string(),
                            g.active.to_string(),
                        ]
                    })
                    .collect(),
            });
        }
        if let Some(limits) = self.account_limits.as_ref().filter(|l| !l.is_empty()) {
            blocks.push(Block::Table {
                title: Some("Account limits".to_owned()),
                header: ["account", "max_user_connections", "now"]
                    .map(str::to_owned)
                    .to_vec(),
                rows: limits
                    .iter()
                    .map(|l| {
                        vec![
                            format!("{}@{}", l.user, l.host),
                            l.max_user_connections.to_string(),
                            l.current.to_string(),
                        ]
                    })
                    .collect(),
            });
        }
        View { blocks }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn thread(user: &str, command: &str) -> Thread {
        Thread {
            host: Some("10.1.1.1:4000".into()),
            db: None,
            ..Thread::sample(1, user, command, None)
        }
    }

    #[test]
    fn groups_split_sleeping_and_active() {
        let threads = [
            thread("app", "Sleep"),
            thread("app", "Query"),
            thread("app", "Sleep"),
            thread("etl", "Query"),
        ];
        let by_user = group(&threads, |t| t.user.clone());
        assert_eq!(
            by_user[0],
            Group {
                name: "app".into(),
                total: 3,
                sleeping: 2,
                active: 1
            }
        );
        assert_eq!(
            by_user[1],
            Group {
                name: "etl".into(),
                total: 1,
                sleeping: 0,
                active: 1
            }
        );
        let by_host = group(&threads, |t| t.host_name().map(str::to_owned));
        assert_eq!(by_host[0].name, "10.1.1.1", "ports are dropped");
        let by_db = group(&threads, |t| t.db.clone());
        assert_eq!(by_db[0].name, "(none)");
    }

    #[test]
    fn percent_rounds_to_one_decimal() {
        assert_eq!(percent(1, 3), 33.3);
        assert_eq!(percent(5, 0), 0.0);
        assert_eq!(percent(300, 300), 100.0);
    }
}
