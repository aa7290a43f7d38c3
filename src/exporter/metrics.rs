//! The metrics of one scrape, in the Prometheus text format (OpenMetrics, through
//! `prometheus-client`). Pure: a [`Reading`] in, text out, so every metric's name, type and help
//! is tested without a server. Low cardinality by design: no pid, user or statement labels.

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::verdict::Verdict;
use crate::workflow::status::StatusReport;
use crate::workflow::thresholds;

/// The content type of [`encode_reading`]'s output.
pub(crate) const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// What one scrape found: always whether the server answered and how long it took; the rest
/// only when it answered (and each section only when it was read in time).
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct Reading {
    pub up: bool,
    pub duration_s: f64,
    pub server: Option<ServerReading>,
    /// Average active sessions by wait class over the sampler's window (`/metrics` only).
    pub aas_by_wait: Option<Vec<(String, f64)>>,
}

/// The numbers of one triage snapshot. `None`: that section was not read in time.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct ServerReading {
    pub verdict: Verdict,
    pub blocked_sessions: Option<u64>,
    pub root_blockers: Option<u64>,
    pub idle_root_blockers: Option<u64>,
    pub lock_wait_longest_s: Option<u64>,
    pub idle_in_trx_sessions: u64,
    /// 0 when no session is idle in a transaction.
    pub idle_in_trx_oldest_s: u64,
    /// 0 when no transaction is open.
    pub trx_oldest_s: u64,
    /// 0 when nothing holds purge back.
    pub purge_blocker_oldest_s: u64,
    pub history_list_length: Option<u64>,
    /// The server's own deadlock counter (`Innodb_deadlocks`, `lock_deadlocks`).
    pub deadlocks_total: Option<u64>,
    pub connections: Option<Connections>,
    pub replication: Vec<ChannelReading>,
}

#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct Connections {
    pub used: u64,
    pub max: u64,
    pub threads_running: u64,
    /// `Connection_errors_max_connections`: clients refused for want of a slot.
    pub refused_total: Option<u64>,
}

/// One replication channel: its name is the only label.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct ChannelReading {
    pub channel: String,
    pub lag_s: Option<f64>,
    /// An IO or SQL thread stopped or failing.
    pub broken: bool,
}

impl ServerReading {
    /// The numbers of a `status` report; `deadlocks_total` comes from its own statement.
    pub(crate) fn of(report: &StatusReport, deadlocks_total: Option<u64>) -> ServerReading {
        let triage = &report.triage;
        let locks = triage.locks.as_ref();
        ServerReading {
            verdict: report.verdict,
            blocked_sessions: locks.map(|l| l.forest.blocked_sessions as u64),
            root_blockers: locks.map(|l| l.forest.roots.len() as u64),
            idle_root_blockers: locks.map(|l| thresholds::idle_roots(l) as u64),
            lock_wait_longest_s: locks.map(thresholds::longest_wait_s),
            idle_in_trx_sessions: triage.idle_in_trx as u64,
            idle_in_trx_oldest_s: triage.oldest_idle_in_trx.as_ref().map_or(0, |t| t.age_s),
            trx_oldest_s: triage.oldest_trx.as_ref().map_or(0, |t| t.age_s),
            purge_blocker_oldest_s: triage
                .purge_blockers
                .iter()
                .map(|b| b.age_s)
                .max()
                .unwrap_or(0),
            history_list_length: triage.history_list_length,
            deadlocks_total,
            connections: triage.connections.as_ref().map(|c| Connections {
                used: c.threads_connected,
                max: c.max_connections,
                threads_running: c.threads_running,
                refused_total: c.connection_errors_max_connections,
            }),
            replication: triage
                .replication
                .iter()
                .map(|c| ChannelReading {
                    channel: c.name.clone(),
                    lag_s: c.lag_s(),
                    broken: c.broken().is_some(),
                })
                .collect(),
        }
    }
}

/// Every metric the exporter can report: name (as exposed), type, help (the encoder ends it
/// with a period). The README's table is checked against this list.
pub(crate) const METRICS: &[(&str, &str, &str)] = &[
    (
        "mytriage_up",
        "gauge",
        "1 when the server answered this scrape in time, else 0",
    ),
    (
        "mytriage_scrape_duration_seconds",
        "gauge",
        "How long this scrape took",
    ),
    (
        "mytriage_verdict",
        "gauge",
        "The status verdict: 0 OK, 1 UNKNOWN, 2 WARN, 3 CRIT",
    ),
    (
        "mytriage_blocked_sessions",
        "gauge",
        "Sessions waiting for a row, metadata or table-flush lock",
    ),
    (
        "mytriage_root_blockers",
        "gauge",
        "Sessions at the root of a blocker tree",
    ),
    (
        "mytriage_idle_root_blockers",
        "gauge",
        "Root blockers idle in their transaction while others wait",
    ),
    (
        "mytriage_lock_wait_longest_seconds",
        "gauge",
        "The longest current lock wait",
    ),
    (
        "mytriage_idle_in_trx_sessions",
        "gauge",
        "Sessions idle inside an open transaction",
    ),
    (
        "mytriage_idle_in_trx_oldest_seconds",
        "gauge",
        "Age of the oldest idle-in-transaction session's transaction (0: none)",
    ),
    (
        "mytriage_trx_oldest_seconds",
        "gauge",
        "Age of the oldest open transaction (0: none)",
    ),
    (
        "mytriage_purge_blocker_oldest_seconds",
        "gauge",
        "Age of the oldest read view or transaction holding purge back (0: none)",
    ),
    (
        "mytriage_history_list_length",
        "gauge",
        "InnoDB history list length (purge lag)",
    ),
    (
        "mytriage_deadlocks_total",
        "counter",
        "Deadlocks since the server started (Innodb_deadlocks, lock_deadlocks)",
    ),
    (
        "mytriage_connections",
        "gauge",
        "Connections in use (Threads_connected)",
    ),
    ("mytriage_max_connections", "gauge", "max_connections"),
    ("mytriage_threads_running", "gauge", "Threads_running"),
    (
        "mytriage_connections_refused_total",
        "counter",
        "Connections refused at max_connections (Connection_errors_max_connections)",
    ),
    (
        "mytriage_aas",
        "gauge",
        "Average active sessions over the sampler's window, by wait_class",
    ),
    (
        "mytriage_replication_lag_seconds",
        "gauge",
        "Replication lag per channel: the worst of Seconds_Behind_Source, the applier's and the heartbeat's",
    ),
    (
        "mytriage_replication_broken",
        "gauge",
        "1 when a channel's IO or SQL thread is stopped or failing",
    ),
];

/// The help text of a metric in [`METRICS`].
fn help(name: &str) -> &'static str {
    METRICS
        .iter()
        .find(|(n, _, _)| *n == name)
        .map_or("", |(_, _, help)| help)
}

/// Registers a gauge holding `value` under its full name.
fn gauge(registry: &mut Registry, name: &str, value: f64) {
    let metric = Gauge::<f64, std::sync::atomic::AtomicU64>::default();
    metric.set(value);
    registry.register(name, help(name), metric);
}

/// Registers a counter holding `value`; `name` is given without `_total`, which the encoder adds.
fn counter(registry: &mut Registry, name: &str, value: u64) {
    let metric = Counter::<u64>::default();
    metric.inc_by(value);
    registry.register(name, help(&format!("{name}_total")), metric);
}

/// Registers a family of gauges with one label.
fn labelled(registry: &mut Registry, name: &str, label: &str, values: &[(String, f64)]) {
    let family =
        Family::<Vec<(String, String)>, Gauge<f64, std::sync::atomic::AtomicU64>>::default();
    for (key, value) in values {
        family
            .get_or_create(&vec![(label.to_owned(), key.clone())])
            .set(*value);
    }
    registry.register(name, help(name), family);
}

/// The reading as Prometheus text.
pub(crate) fn encode_reading(reading: &Reading) -> String {
    let mut registry = Registry::default();
    let r = &mut registry;
    gauge(r, "mytriage_up", if reading.up { 1.0 } else { 0.0 });
    gauge(r, "mytriage_scrape_duration_seconds", reading.duration_s);
    if let Some(s) = &reading.server {
        let verdict = match s.verdict {
            Verdict::Ok => 0.0,
            Verdict::Unknown => 1.0,
            Verdict::Warn => 2.0,
            Verdict::Crit => 3.0,
        };
        gauge(r, "mytriage_verdict", verdict);
        let optional = [
            ("mytriage_blocked_sessions", s.blocked_sessions),
            ("mytriage_root_blockers", s.root_blockers),
            ("mytriage_idle_root_blockers", s.idle_root_blockers),
            ("mytriage_lock_wait_longest_seconds", s.lock_wait_longest_s),
            ("mytriage_history_list_length", s.history_list_length),
        ];
        for (name, value) in optional {
            if let Some(value) = value {
                gauge(r, name, value as f64);
            }
        }
        let always = [
            ("mytriage_idle_in_trx_sessions", s.idle_in_trx_sessions),
            (
                "mytriage_idle_in_trx_oldest_seconds",
                s.idle_in_trx_oldest_s,
            ),
            ("mytriage_trx_oldest_seconds", s.trx_oldest_s),
            (
                "mytriage_purge_blocker_oldest_seconds",
                s.purge_blocker_oldest_s,
            ),
        ];
        for (name, value) in always {
            gauge(r, name, value as f64);
        }
        if let Some(total) = s.deadlocks_total {
            counter(r, "mytriage_deadlocks", total);
        }
        if let Some(c) = &s.connections {
            gauge(r, "mytriage_connections", c.used as f64);
            gauge(r, "mytriage_max_connections", c.max as f64);
            gauge(r, "mytriage_threads_running", c.threads_running as f64);
            if let Some(refused) = c.refused_total {
                counter(r, "mytriage_connections_refused", refused);
            }
        }
        let lags: Vec<(String, f64)> = s
            .replication
            .iter()
            .filter_map(|c| Some((c.channel.clone(), c.lag_s?)))
            .collect();
        if !lags.is_empty() {
            labelled(r, "mytriage_replication_lag_seconds", "channel", &lags);
        }
        if !s.replication.is_empty() {
            let broken: Vec<(String, f64)> = s
                .replication
                .iter()
                .map(|c| (c.channel.clone(), if c.broken { 1.0 } else { 0.0 }))
                .collect();
            labelled(r, "mytriage_replication_broken", "channel", &broken);
        }
    }
    if let Some(aas) = &reading.aas_by_wait {
        labelled(r, "mytriage_aas", "wait_class", aas);
    }
    let mut text = String::new();
    // Writing into a String cannot fail.
    let _ = encode(&mut text, &registry);
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn busy() -> Reading {
        Reading {
            up: true,
            duration_s: 0.012,
            server: Some(ServerReading {
                verdict: Verdict::Crit,
                blocked_sessions: Some(3),
                root_blockers: Some(1),
                idle_root_blockers: Some(1),
                lock_wait_longest_s: Some(42),
                idle_in_trx_sessions: 2,
                idle_in_trx_oldest_s: 50,
                trx_oldest_s: 61,
                purge_blocker_oldest_s: 61,
                history_list_length: Some(1234),
                deadlocks_total: Some(7),
                connections: Some(Connections {
                    used: 12,
                    max: 151,
                    threads_running: 2,
                    refused_total: Some(0),
                }),
                replication: vec![ChannelReading {
                    channel: String::new(),
                    lag_s: Some(3.5),
                    broken: false,
                }],
            }),
            aas_by_wait: Some(vec![("cpu".into(), 0.5), ("row lock".into(), 3.0)]),
        }
    }

    /// `name value` lines, without comments.
    fn samples(text: &str) -> Vec<String> {
        text.lines()
            .filter(|l| !l.starts_with('#'))
            .map(str::to_owned)
            .collect()
    }

    #[test]
    fn a_busy_server_reports_every_metric_with_its_type_and_help() {
        let text = encode_reading(&busy());
        for (name, kind, help) in METRICS {
            let family = name.strip_suffix("_total").unwrap_or(name);
            assert!(
                text.contains(&format!("# TYPE {family} {kind}\n")),
                "{name} {kind}:\n{text}"
            );
            assert!(
                text.contains(&format!("# HELP {family} {help}.\n")),
                "{name} help:\n{text}"
            );
        }
        let lines = samples(&text);
        for expected in [
            "mytriage_up 1.0",
            "mytriage_verdict 3.0",
            "mytriage_idle_root_blockers 1.0",
            "mytriage_lock_wait_longest_seconds 42.0",
            "mytriage_deadlocks_total 7",
            "mytriage_connections_refused_total 0",
            "mytriage_aas{wait_class=\"row lock\"} 3.0",
            "mytriage_replication_lag_seconds{channel=\"\"} 3.5",
            "mytriage_replication_broken{channel=\"\"} 0.0",
        ] {
            assert!(lines.iter().any(|l| l == expected), "{expected}:\n{text}");
        }
        assert!(text.ends_with("# EOF\n"));
    }

    #[test]
    fn a_server_that_did_not_answer_reports_only_up_and_the_duration() {
        let text = encode_reading(&Reading {
            up: false,
            duration_s: 2.0,
            server: None,
            aas_by_wait: None,
        });
        assert_eq!(
            samples(&text),
            ["mytriage_up 0.0", "mytriage_scrape_duration_seconds 2.0"]
        );
    }

    #[test]
    fn a_section_not_read_in_time_is_absent_rather_than_zero() {
        let mut reading = busy();
        let server = reading.server.as_mut().unwrap();
        server.blocked_sessions = None;
        server.history_list_length = None;
        let text = encode_reading(&reading);
        assert!(!text.contains("mytriage_blocked_sessions "), "{text}");
        assert!(!text.contains("mytriage_history_list_length "), "{text}");
        assert!(text.contains("mytriage_trx_oldest_seconds 61.0"), "{text}");
    }
}

/// The shipped alert rules, dashboard and README speak of the metrics the exporter has.
#[cfg(test)]
mod shipped {
    use super::METRICS;

    /// Every `mytriage_*` name in `text`, with `_total` kept (counters are queried by it).
    fn names(text: &str) -> std::collections::BTreeSet<String> {
        regex::Regex::new(r"mytriage_[a-z_]+")
            .unwrap()
            .find_iter(text)
            .map(|m| m.as_str().to_owned())
            .collect()
    }

    fn known(name: &str) -> bool {
        METRICS.iter().any(|(n, _, _)| *n == name)
    }

    #[test]
    fn the_grafana_dashboard_is_json_and_queries_only_exported_metrics() {
        let text = include_str!("../../contrib/grafana/mytriage.json");
        let dashboard: serde_json::Value =
            serde_json::from_str(text).expect("contrib/grafana/mytriage.json is JSON");
        let panels = dashboard["panels"].as_array().expect("panels");
        assert!(!panels.is_empty());
        for panel in panels {
            let targets = panel["targets"].as_array().expect("each panel queries");
            for target in targets {
                let expr = target["expr"].as_str().expect("a PromQL expression");
                let used = names(expr);
                assert!(!used.is_empty(), "{expr}");
                for name in used {
                    assert!(
                        known(&name),
                        "the dashboard queries {name}, which is not exported"
                    );
                }
            }
        }
    }

    #[test]
    fn the_alert_rules_use_only_exported_metrics() {
        let text = include_str!("../../contrib/prometheus/mytriage.rules.yml");
        let expressions: String = text
            .lines()
            .filter_map(|l| l.trim().strip_prefix("expr:"))
            .collect::<Vec<_>>()
            .join("\n");
        let used = names(&expressions);
        assert!(used.len() >= 10, "{used:?}");
        for name in used {
            assert!(known(&name), "a rule uses {name}, which is not exported");
        }
    }

    #[test]
    fn the_readme_documents_every_metric_with_its_type_and_help() {
        let readme = include_str!("../../README.md");
        for (name, kind, help) in METRICS {
            let row = format!("| `{name}` | {kind} | {help} |");
            assert!(readme.contains(&row), "README lacks the row\n{row}");
        }
    }
}
