//! `top` under a known load, on every server: N sessions sleeping in a loop, M stuck behind a row
//! lock, K doing short updates. It measures the whole server, so it runs alone (module
//! `exclusive`; nextest: threads-required = all).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use mysql_async::Conn;
use mysql_async::prelude::Queryable;
use serde_json::Value;

use crate::support::{self, Mytriage, TestServer};

const SLEEPERS: usize = 4;
const WAITERS: usize = 3;
const UPDATERS: usize = 2;

/// The load, running until `stop` is set (and at most 40 s, whatever happens).
struct Load {
    stop: Arc<AtomicBool>,
    holder: Conn,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    table: String,
}

async fn start_load(server: &TestServer) -> Load {
    let table = server.scratch_table("top").await;

    let stop = Arc::new(AtomicBool::new(false));
    let mut holder = server.conn().await;
    holder.query_drop("BEGIN").await.unwrap();
    holder
        .query_drop(format!("UPDATE {table} SET v = v + 1 WHERE id = 1"))
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for _ in 0..SLEEPERS {
        let (mut conn, stop) = (server.conn().await, stop.clone());
        tasks.push(tokio::spawn(async move {
            for _ in 0..80 {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let _: Option<i64> = conn.query_first("SELECT SLEEP(0.5)").await.unwrap_or(None);
            }
            let _ = conn.disconnect().await;
        }));
    }
    for _ in 0..WAITERS {
        let (mut conn, table) = (server.conn().await, table.clone());
        conn.query_drop("SET SESSION innodb_lock_wait_timeout = 40")
            .await
            .unwrap();
        tasks.push(tokio::spawn(async move {
            // Waits until the holder rolls back.
            let _ = conn
                .query_drop(format!("UPDATE {table} SET v = v + 1 WHERE id = 1"))
                .await;
            let _ = conn.disconnect().await;
        }));
    }
    for _ in 0..UPDATERS {
        let (mut conn, stop, table) = (server.conn().await, stop.clone(), table.clone());
        tasks.push(tokio::spawn(async move {
            for _ in 0..400 {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let _ = conn
                    .query_drop(format!("UPDATE {table} SET v = v + 1 WHERE id = 2"))
                    .await;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            let _ = conn.disconnect().await;
        }));
    }
    Load {
        stop,
        holder,
        tasks,
        table,
    }
}

impl Load {
    async fn stop(mut self, server: &TestServer) {
        self.stop.store(true, Ordering::Relaxed);
        self.holder.query_drop("ROLLBACK").await.unwrap();
        for task in self.tasks {
            let _ = tokio::time::timeout(Duration::from_secs(10), task).await;
        }
        let _ = self.holder.disconnect().await;
        let mut admin = server.conn().await;
        let _ = admin
            .query_drop(format!("DROP TABLE IF EXISTS {}", self.table))
            .await;
        let _ = admin.disconnect().await;
    }
}

fn load_of(report: &Value, section: &str, key_contains: &str) -> f64 {
    report[section]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| {
            l["key"]
                .as_str()
                .unwrap()
                .to_ascii_uppercase()
                .contains(key_contains)
        })
        .map_or(0.0, |l| l["aas"].as_f64().unwrap())
}

fn server_has_digests(server: &TestServer) -> bool {
    Mytriage::new(&server.url).args(["server"]).json()["capabilities"]["statement_history"] == true
}

/// Tests that judge or change the whole server: nextest runs each alone
/// (`.config/nextest.toml`: threads-required = all).
mod exclusive {
    use super::*;

    #[tokio::test]
    async fn exclusive_top_measures_a_known_load() {
        for server in support::servers() {
            support::announce("top under load", &server);
            let load = start_load(&server).await;
            tokio::time::sleep(Duration::from_millis(700)).await;
            let dir = tempfile::tempdir().unwrap();
            let recording = dir.path().join("top.ndjson");
            let live = Mytriage::new(&server.url)
                .args(["top", "--duration", "6s", "--interval", "500ms"])
                .args(["--format", "json", "--record"])
                .arg(&recording)
                .output_async()
                .await;
            load.stop(&server).await;
            assert_eq!(
                live.status.code(),
                Some(0),
                "{}",
                String::from_utf8_lossy(&live.stderr)
            );
            let report: Value = serde_json::from_slice(&live.stdout).expect("one JSON object");

            // The sleep digest carries the most load (N sessions all the time).
            let top_sql = report["by_sql"][0]["key"]
                .as_str()
                .unwrap()
                .to_ascii_uppercase();
            assert!(top_sql.contains("SLEEP"), "sleep digest first: {report:#}");
            let expected = (SLEEPERS + WAITERS) as f64;
            let aas = report["aas"].as_f64().unwrap();
            // Tolerance: the short updates add a little, a sleeper between two SLEEPs a little less.
            assert!(
                (aas - expected).abs() <= 1.5,
                "AAS {aas} ≈ N + M = {expected}: {report:#}"
            );
            let row_lock = load_of(&report, "by_wait", "ROW LOCK");
            assert!(
                (row_lock - WAITERS as f64).abs() <= 0.75,
                "row lock ≈ M = {WAITERS}: {row_lock} {report:#}"
            );
            let p_s = server_has_digests(&server);
            let source = report["source"].as_str().unwrap();
            assert_eq!(source.starts_with("performance_schema"), p_s, "{source}");

            // The recording replays to the same aggregates.
            let replayed = Mytriage::new("mysql://unused@127.0.0.1:1")
                .args(["top", "--replay", recording.to_str().unwrap()])
                .json();
            if p_s {
                // Statement statistics are counter deltas over the window: the sleepers' SLEEP(0.5)
                // calls run at about N / 0.5 s.
                let statements = report["statements"].as_array().unwrap();
                let sleep = statements
                    .iter()
                    .find(|s| {
                        s["digest_text"]
                            .as_str()
                            .unwrap()
                            .to_ascii_uppercase()
                            .contains("SLEEP")
                    })
                    .unwrap_or_else(|| panic!("the SLEEP digest has statistics: {report:#}"));
                let rate = sleep["calls_per_s"].as_f64().unwrap();
                assert!(
                    rate > 2.0 && rate < 12.0,
                    "about {} calls/s: {rate}",
                    SLEEPERS * 2
                );
                assert!(
                    sleep["avg_latency_ms"].as_f64().unwrap() >= 450.0,
                    "{sleep:#}"
                );
            }
            for key in [
                "samples",
                "aas",
                "series",
                "by_wait",
                "by_sql",
                "by_account",
                "by_db",
                "statements",
                "from",
                "to",
            ] {
                assert_eq!(
                    replayed[key], report[key],
                    "{key} differs between live and replay"
                );
            }
        }
    }
}
