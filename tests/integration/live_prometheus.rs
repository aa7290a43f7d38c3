//! A real Prometheus (Debian's, `scripts/prometheus install`) on loopback scrapes the exporter's
//! `/probe?target=NAME` for every test server, with the shipped rules and a test-only rule of
//! `for: 2s` (`fixtures/prometheus/fast.rules.yml`). An idle root blocker (after a decoy) on every
//! server must show in `/api/v1/query` and fire the alert in `/api/v1/alerts`; ended, it must
//! resolve. The alert judges the whole server, so the test runs alone (module `exclusive`).

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::live_exporter::{Exporter, get};
use crate::support::{self, Mytriage, scenarios};

/// A Prometheus started for the test; killed when dropped.
struct Prometheus {
    child: Child,
    base: String,
    _dir: tempfile::TempDir,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn on_path(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// A loopback port nobody listens on now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Prometheus {
    /// Scrapes `exporter`'s `/probe` for each name every second and evaluates rules every second.
    async fn start(exporter: &str, names: &[String]) -> Prometheus {
        let dir = tempfile::tempdir().unwrap();
        let root = env!("CARGO_MANIFEST_DIR");
        let targets: Vec<String> = names.iter().map(|n| format!("'{n}'")).collect();
        let config = format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
             rule_files:\n  - {root}/fixtures/prometheus/fast.rules.yml\n  - {root}/contrib/prometheus/mytriage.rules.yml\n\
             scrape_configs:\n  - job_name: mytriage\n    metrics_path: /probe\n    scrape_timeout: 1s\n\
             \x20   static_configs:\n      - targets: [{}]\n\
             \x20   relabel_configs:\n\
             \x20     - source_labels: [__address__]\n        target_label: __param_target\n\
             \x20     - source_labels: [__param_target]\n        target_label: instance\n\
             \x20     - target_label: __address__\n        replacement: {exporter}\n",
            targets.join(", ")
        );
        let file = dir.path().join("prometheus.yml");
        std::fs::write(&file, config).unwrap();
        let port = free_port();
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", file.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--log.level=warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start prometheus");
        let prometheus = Prometheus {
            child,
            base: format!("http://127.0.0.1:{port}"),
            _dir: dir,
        };
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(30) {
            let ready = reqwest::get(format!("{}/-/ready", prometheus.base)).await;
            if ready.is_ok_and(|r| r.status().is_success()) {
                return prometheus;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        panic!("prometheus was not ready within 30 s");
    }

    /// `/api/v1/query`: each series' instance and value.
    async fn query(&self, promql: &str) -> Vec<(String, f64)> {
        let encoded: String = url_encode(promql);
        let (status, body) = get(&format!("{}/api/v1/query?query={encoded}", self.base)).await;
        assert_eq!(status, 200, "{body}");
        let answer: Value = serde_json::from_str(&body).unwrap();
        answer["data"]["result"]
            .as_array()
            .unwrap()
            .iter()
            .map(|series| {
                let instance = series["metric"]["instance"]
                    .as_str()
                    .unwrap_or("")
                    .to_owned();
                let value = series["value"][1].as_str().unwrap().parse().unwrap();
                (instance, value)
            })
            .collect()
    }

    /// `/api/v1/alerts`: the instances for which `alert` is in `state` (firing, pending).
    async fn alerting(&self, alert: &str, state: &str) -> Vec<String> {
        let (status, body) = get(&format!("{}/api/v1/alerts", self.base)).await;
        assert_eq!(status, 200, "{body}");
        let answer: Value = serde_json::from_str(&body).unwrap();
        answer["data"]["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["labels"]["alertname"] == alert && a["state"] == state)
            .filter_map(|a| a["labels"]["instance"].as_str().map(str::to_owned))
            .collect()
    }

    /// Polls `done` every 250 ms for up to `limit`.
    async fn until(&self, what: &str, limit: Duration, mut done: impl AsyncFnMut() -> bool) {
        let started = Instant::now();
        while !done().await {
            assert!(
                started.elapsed() < limit,
                "never happened within {limit:?}: {what}"
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}

fn url_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' | b'-' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Tests that judge the whole server: nextest runs each alone.
mod exclusive {
    use super::*;

    const ALERT: &str = "MytriageTestIdleRootBlocker";

    #[tokio::test]
    async fn exclusive_prometheus_fires_and_resolves_the_idle_root_blocker_alert() {
        let servers = support::servers();
        if servers.is_empty() {
            return;
        }
        if !on_path("prometheus") {
            assert!(
                std::env::var("CI").is_err(),
                "CI installs prometheus (scripts/prometheus install)"
            );
            eprintln!("skipping the Prometheus test: no prometheus (scripts/prometheus install)");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let targets = dir.path().join("targets");
        let lines: Vec<String> = servers
            .iter()
            .map(|s| format!("{} = {}", s.name, s.url))
            .collect();
        std::fs::write(&targets, lines.join("\n")).unwrap();
        let exporter = Exporter::start(
            Mytriage::offline()
                .args(["exporter", "--no-aas", "--targets"])
                .arg(&targets),
        );
        let names: Vec<String> = servers.iter().map(|s| s.name.clone()).collect();
        let address = exporter.base.trim_start_matches("http://").to_owned();
        let prometheus = Prometheus::start(&address, &names).await;
        let limit = Duration::from_secs(30);

        prometheus
            .until("every server scraped and up", limit, async || {
                let up = prometheus.query("mytriage_up == 1").await;
                names.iter().all(|n| up.iter().any(|(i, _)| i == n))
            })
            .await;
        let quiet = prometheus.query("mytriage_idle_root_blockers > 0").await;
        assert!(
            quiet.is_empty(),
            "an idle root blocker before the test: {quiet:?}"
        );
        let rules = get(&format!("{}/api/v1/rules", prometheus.base)).await.1;
        assert!(
            rules.contains("\"MytriageIdleRootBlocker\""),
            "the shipped rules load"
        );

        let mut incidents = Vec::new();
        for server in &servers {
            support::announce("Prometheus alert on an idle root blocker", server);
            incidents.push(scenarios::idle_blocker(server).await.unwrap());
        }
        prometheus
            .until("the alert fires for every server", limit, async || {
                let firing = prometheus.alerting(ALERT, "firing").await;
                names.iter().all(|n| firing.contains(n))
            })
            .await;
        // Prometheus has the blocker counted; the exporter's /status names the holder as the
        // root, never the older, idle decoy (it blocks nobody).
        let roots = prometheus.query("mytriage_root_blockers >= 1").await;
        for (name, incident) in names.iter().zip(&incidents) {
            assert!(roots.iter().any(|(i, _)| i == name), "{name}: {roots:?}");
            let (_, status) = exporter.get(&format!("/status?target={name}")).await;
            let status: Value = serde_json::from_str(&status).unwrap();
            let pids: Vec<u64> = status["triage"]["locks"]["roots"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|r| r["pid"].as_u64())
                .collect();
            assert!(pids.contains(&incident.holder_id), "{name}: {pids:?}");
            assert!(
                !pids.contains(&incident.decoy_id),
                "{name}: the decoy is a root"
            );
        }

        for incident in incidents {
            incident.cleanup().await.unwrap();
        }
        prometheus
            .until("the alert resolves for every server", limit, async || {
                let firing = prometheus.alerting(ALERT, "firing").await;
                let pending = prometheus.alerting(ALERT, "pending").await;
                names
                    .iter()
                    .all(|n| !firing.contains(n) && !pending.contains(n))
            })
            .await;
        let after = prometheus.query("mytriage_idle_root_blockers").await;
        assert!(after.iter().all(|(_, v)| *v == 0.0), "{after:?}");
        drop(exporter);
    }
}
