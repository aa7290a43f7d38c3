//! The replication report as tables: the role, one row per channel, the workers, the replicas.

use super::{BlockedApplier, Channel, ReplicationReport};
use crate::render::{Block, Report, View, ViewOptions, clip, now_or_last};

/// "applier blocked by session N (user): statement": what to act on, in one line.
pub(crate) fn blocked_text(blocked: &BlockedApplier, full: bool) -> String {
    let what = now_or_last(
        blocked.statement.as_deref(),
        blocked.last_statement.as_deref(),
        full,
    );
    let idle = if blocked.idle_in_trx {
        ", idle in transaction"
    } else {
        ""
    };
    let how = if blocked.exact { "" } else { " (inferred)" };
    format!(
        "applier {} blocked by session {}{}{idle}{how}{}",
        blocked.applier_pid,
        blocked.blocker_pid,
        blocked
            .blocker_user
            .as_deref()
            .map(|u| format!(" ({u})"))
            .unwrap_or_default(),
        if what.is_empty() {
            String::new()
        } else {
            format!(": {what}")
        }
    )
}

fn seconds(value: Option<f64>) -> String {
    value.map_or_else(|| "-".to_owned(), |s| format!("{s:.1}s"))
}

fn channel_row(channel: &Channel) -> Vec<String> {
    let name = if channel.name.is_empty() {
        "(default)".to_owned()
    } else {
        channel.name.clone()
    };
    let error = [&channel.sql_error, &channel.io_error]
        .into_iter()
        .flatten()
        .map(|e| format!("{} {}", e.errno, clip(&e.message, false)))
        .collect::<Vec<_>>()
        .join("; ");
    vec![
        name,
        channel.source.clone().unwrap_or_default(),
        channel.io_running.clone().unwrap_or_default(),
        channel.sql_running.clone().unwrap_or_default(),
        channel
            .seconds_behind_source
            .map_or_else(|| "-".to_owned(), |s| format!("{s}s")),
        seconds(channel.applier_lag_s),
        seconds(channel.heartbeat_lag_s),
        error,
    ]
}

impl Report for ReplicationReport {
    fn view(&self, options: &ViewOptions) -> View {
        let mut blocks = vec![Block::Fields {
            title: None,
            fields: vec![("Role".to_owned(), self.role.label().to_owned())],
        }];
        if !self.channels.is_empty() {
            blocks.push(Block::Table {
                title: Some("Channels".to_owned()),
                header: [
                    "CHANNEL",
                    "SOURCE",
                    "IO",
                    "SQL",
                    "BEHIND",
                    "APPLIER",
                    "HEARTBEAT",
                    "ERROR",
                ]
                .map(str::to_owned)
                .to_vec(),
                rows: self.channels.iter().map(channel_row).collect(),
            });
        }
        for channel in &self.channels {
            if let Some(blocked) = &channel.blocked_by {
                blocks.push(Block::Note(blocked_text(blocked, options.full)));
            }
            if let Some(failing) = &channel.failing_transaction {
                blocks.push(Block::Note(format!("failing transaction: {failing}")));
            }
            let gtids = [
                ("retrieved", &channel.retrieved_gtid_set),
                ("executed", &channel.executed_gtid_set),
                ("received (gtid_io_pos)", &channel.gtid_io_pos),
            ];
            let fields: Vec<(String, String)> = gtids
                .into_iter()
                .filter_map(|(k, v)| Some((k.to_owned(), v.clone()?)))
                .collect();
            if !fields.is_empty() {
                blocks.push(Block::Fields {
                    title: Some(format!("GTIDs of {}", display_name(channel))),
                    fields,
                });
            }
        }
        let workers: Vec<Vec<String>> = self
            .channels
            .iter()
            .flat_map(|c| {
                c.workers.iter().map(move |w| {
                    vec![
                        display_name(c),
                        w.id.map(|i| i.to_string()).unwrap_or_default(),
                        w.pid.map(|p| p.to_string()).unwrap_or_default(),
                        w.state.clone().unwrap_or_default(),
                        w.applying.clone().unwrap_or_default(),
                        seconds(w.applying_lag_s.or(w.last_applied_lag_s)),
                    ]
                })
            })
            .collect();
        if !workers.is_empty() {
            blocks.push(Block::Table {
                title: Some("Applier workers".to_owned()),
                header: ["CHANNEL", "WORKER", "PID", "STATE", "APPLYING", "LAG"]
                    .map(str::to_owned)
                    .to_vec(),
                rows: workers,
            });
        }
        if !self.replicas.is_empty() {
            blocks.push(Block::Table {
                title: Some("Replicas".to_owned()),
                header: ["SERVER ID", "HOST", "PORT", "DUMP THREAD", "CLIENT"]
                    .map(str::to_owned)
                    .to_vec(),
                rows: self
                    .replicas
                    .iter()
                    .map(|r| {
                        vec![
                            r.server_id.map(|i| i.to_string()).unwrap_or_default(),
                            r.host.clone().unwrap_or_default(),
                            r.port.map(|p| p.to_string()).unwrap_or_default(),
                            r.pid.map(|p| p.to_string()).unwrap_or_default(),
                            r.client.clone().unwrap_or_default(),
                        ]
                    })
                    .collect(),
            });
        }
        if let Some(on) = self.semi_sync.source_on {
            blocks.push(Block::Note(format!(
                "semi-sync on the source: {} ({} clients)",
                if on { "ON" } else { "OFF" },
                self.semi_sync.source_clients.unwrap_or(0)
            )));
        }
        if let Some(gtid) = &self.mariadb_gtid {
            let mut fields = Vec::new();
            for (k, v) in [
                ("gtid_slave_pos", &gtid.gtid_slave_pos),
                ("gtid_binlog_pos", &gtid.gtid_binlog_pos),
                ("parallel mode", &gtid.parallel_mode),
            ] {
                if let Some(v) = v {
                    fields.push((k.to_owned(), v.clone()));
                }
            }
            if let Some(n) = gtid.parallel_threads {
                fields.push(("parallel threads".to_owned(), n.to_string()));
            }
            blocks.push(Block::Fields {
                title: Some("MariaDB GTID".to_owned()),
                fields,
            });
        }
        if !self.aurora.is_empty() {
            blocks.push(Block::Table {
                title: Some("Aurora instances".to_owned()),
                header: ["SERVER ID", "ROLE", "LAG", "UPDATED"]
                    .map(str::to_owned)
                    .to_vec(),
                rows: self
                    .aurora
                    .iter()
                    .map(|i| {
                        vec![
                            i.server_id.clone(),
                            i.role.label().to_owned(),
                            i.lag_ms
                                .map_or_else(|| "-".to_owned(), |l| format!("{l:.0} ms")),
                            i.last_update.clone().unwrap_or_default(),
                        ]
                    })
                    .collect(),
            });
        }
        if self.channels.is_empty() && self.replicas.is_empty() && self.aurora.is_empty() {
            blocks.push(Block::Note(
                "no replication: this server is not a replica and no replica is connected"
                    .to_owned(),
            ));
        }
        blocks.extend(self.notes.iter().cloned().map(Block::Note));
        View { blocks }
    }
}

fn display_name(channel: &Channel) -> String {
    if channel.name.is_empty() {
        "(default)".to_owned()
    } else {
        channel.name.clone()
    }
}
