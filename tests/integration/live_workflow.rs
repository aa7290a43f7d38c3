//! `status` and `check` judge the whole server, so these tests run alone (nextest:
//! threads-required = all, for the tests in the module `exclusive`): another test's lock
//! waits would otherwise change the verdict.

use serde_json::Value;

use crate::support::{self, Mytriage, scenarios};

fn check(url: &str, state: &std::path::Path) -> (i32, String) {
    let output = Mytriage::new(url)
        .args(["check", "--state"])
        .arg(state)
        .output();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
    )
}

#[test]
fn check_reports_unknown_when_the_server_is_unreachable() {
    let output = Mytriage::new("mysql://root@127.0.0.1:1")
        .args(["check"])
        .output();
    assert_eq!(output.status.code(), Some(3), "Nagios UNKNOWN");
    assert!(
        String::from_utf8_lossy(&output.stdout).starts_with("MYTRIAGE UNKNOWN - cannot connect")
    );
}

#[test]
fn thresholds_come_from_flags_then_the_config_file() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("check.cnf");
    std::fs::write(&config, "[check]\nhll-warn = 5\nhll-crit = 3\n").unwrap();
    // warn above crit in the file is refused before connecting (port 1 would refuse anyway).
    let output = Mytriage::new("mysql://root@127.0.0.1:1")
        .args(["status", "--config"])
        .arg(&config)
        .output();
    assert_eq!(output.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("--hll-warn (5) is above --hll-crit (3)")
    );
}

#[tokio::test]
async fn watch_streams_samples_and_survives_a_cut_connection() {
    use mysql_async::prelude::Queryable;
    use tokio::io::{AsyncBufReadExt, BufReader};
    for server in support::servers() {
        support::announce("watch NDJSON with a cut connection", &server);
        server
            .create_user("mt_watch", None, Some("PROCESS, SELECT"))
            .await;
        let mut child = Mytriage::new(&server.url_as("mt_watch", None))
            .args(["watch", "--format", "json"])
            .args(["--interval", "300ms", "--samples", "14"])
            .spawn_async();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut samples: Vec<Value> = Vec::new();
        while let Some(line) = lines.next_line().await.unwrap() {
            let sample: Value = serde_json::from_str(&line).expect("each line is one JSON sample");
            if samples.len() == 2 {
                // Cut mytriage's connection from the outside, as a failover or a DBA would.
                let id = sample["connection_id"].as_u64().expect("connected");
                let mut root = server.conn().await;
                root.query_drop(format!("KILL {id}")).await.unwrap();
                let _ = root.disconnect().await;
            }
            samples.push(sample);
        }
        let status = child.wait().await.unwrap();
        assert!(status.success(), "watch ends by itself after --samples");
        assert_eq!(samples.len(), 14);
        let first_id = samples[0]["connection_id"].clone();
        let failed = samples
            .iter()
            .position(|s| s["ok"] == false)
            .expect("a sample shows the cut");
        assert!(samples[failed]["error"].is_string());
        let back = samples[failed..]
            .iter()
            .position(|s| s["ok"] == true)
            .map(|i| i + failed)
            .expect("it reconnects");
        assert_ne!(
            samples[back]["connection_id"], first_id,
            "a new connection after the cut"
        );
        assert!(
            samples[back]["events"]
                .to_string()
                .contains("connection restored"),
            "{:#}",
            samples[back]
        );
    }
}

/// Tests that judge or change the whole server: nextest runs each alone
/// (`.config/nextest.toml`: threads-required = all).
mod exclusive {
    use super::*;

    #[tokio::test]
    async fn exclusive_status_and_check_on_the_chain() {
        for server in support::servers() {
            support::announce("status and check on the chain", &server);
            let dir = tempfile::tempdir().unwrap();
            let state = dir.path().join("check.state");
            // The first run sets the deadlock baseline; whatever earlier tests left is not "new".
            let (baseline, line) = check(&server.url, &state);
            assert!(baseline <= 1, "quiet server before the scenario: {line}");

            let chain = scenarios::chain(&server).await.expect("chain");
            let a = chain.a_id;
            let status: Value = Mytriage::new(&server.url)
                .args(["status"])
                .json_async()
                .await;
            let (code, line) = {
                let (url, state) = (server.url.clone(), state.clone());
                tokio::task::spawn_blocking(move || check(&url, &state))
                    .await
                    .unwrap()
            };
            let keeps_last =
                status["triage"]["server"]["capabilities"]["statement_history"] == true;
            let a_last = chain.a_last_statement.clone();
            chain.cleanup().await.expect("cleanup");

            let blockers = status["findings"]
                .as_array()
                .unwrap()
                .iter()
                .find(|f| f["check"] == "blockers")
                .unwrap();
            assert_eq!(blockers["verdict"], "CRIT", "{blockers:#}");
            let summary = blockers["summary"].as_str().unwrap();
            assert!(
                summary.contains(&format!("root {a} ")) && summary.contains("idle in transaction"),
                "{summary}"
            );
            if keeps_last {
                let shown = a_last.chars().take(20).collect::<String>();
                assert!(
                    summary.contains(&shown),
                    "names the last statement: {summary}"
                );
            }
            assert_eq!(status["verdict"], "CRIT");
            assert_eq!(code, 2, "check is CRITICAL with the scenario up: {line}");
            assert!(line.starts_with("MYTRIAGE CRITICAL - blockers:"), "{line}");

            let (code, line) = check(&server.url, &state);
            assert_eq!(code, 0, "check is OK after cleanup: {line}");
            assert!(line.starts_with("MYTRIAGE OK"), "{line}");
        }
    }

    #[tokio::test]
    async fn exclusive_incident_report_end_to_end() {
        for server in support::servers() {
            support::announce("incident, kill, report", &server);
            let dir = tempfile::tempdir().unwrap();
            let evidence = dir.path().join("evidence.jsonl");
            let log = evidence.to_str().unwrap().to_owned();
            let offline = |args: &[&str]| {
                let output = Mytriage::bare()
                    .args(args)
                    .args(["--evidence", &log])
                    .output();
                assert_eq!(
                    output.status.code(),
                    Some(0),
                    "{args:?}: {}",
                    String::from_utf8_lossy(&output.stderr)
                );
                String::from_utf8_lossy(&output.stdout).into_owned()
            };
            offline(&["incident", "start", "--title", "checkout slow"]);
            let chain = scenarios::chain(&server).await.expect("chain");
            let (a, a_last) = (chain.a_id, chain.a_last_statement.clone());
            let table = chain.table.clone();
            offline(&["incident", "note", "locks shows an idle root"]);
            let killed = Mytriage::new(&server.url)
                .args([
                    "kill",
                    &a.to_string(),
                    "--yes",
                    "--reason",
                    "idle root blocker",
                ])
                .args(["--evidence", &log])
                .output_async()
                .await;
            assert_eq!(
                killed.status.code(),
                Some(0),
                "{}",
                String::from_utf8_lossy(&killed.stderr)
            );
            chain.cleanup().await.expect("cleanup");
            offline(&["incident", "end"]);

            let keeps_last = Mytriage::new(&server.url).args(["server"]).json()["capabilities"]["statement_history"]
                == true;
            for lang in ["ko", "en"] {
                let report = offline(&["report", "--lang", lang]);
                assert!(
                    report.contains(&a.to_string()),
                    "{lang} names the blocker: {report}"
                );
                assert!(
                    report.contains("idle root blocker"),
                    "{lang} names the reason"
                );
                if keeps_last {
                    // Shared by default with its literals masked; whole in the internal version.
                    let masked = format!("UPDATE {table} SET v = v + ? WHERE id = ?");
                    assert!(
                        report.contains(&masked) && !report.contains(&a_last),
                        "{lang} shows the statement, masked: {report}"
                    );
                    let internal = offline(&["report", "--lang", lang, "--no-redact"]);
                    assert!(
                        internal.contains(&a_last),
                        "{lang} --no-redact shows the statement: {internal}"
                    );
                }
            }
            let en = offline(&["report", "--lang", "en"]);
            assert!(
                en.contains(&format!("ended session {a}")) && en.contains("locks were released"),
                "{en}"
            );
            let ko = offline(&["report", "--lang", "ko"]);
            assert!(
                ko.contains(&format!("세션 {a}을(를) 종료했습니다"))
                    && ko.contains("잠금이 풀렸습니다"),
                "{ko}"
            );
        }
    }
}

/// Tests that create deadlocks: InnoDB keeps only the latest, so nextest runs them one at a
/// time (`.config/nextest.toml`: the `deadlocks` group).
mod deadlock {
    use super::*;

    #[tokio::test]
    async fn deadlock_watch_records_each_deadlock_once() {
        for server in support::servers() {
            support::announce("deadlocks --watch", &server);
            let dir = tempfile::tempdir().unwrap();
            let evidence = dir.path().join("evidence.jsonl");
            let child = Mytriage::new(&server.url)
                .args(["deadlocks", "--watch", "--interval", "200ms"])
                .args(["--duration", "8s", "--format", "json", "--evidence"])
                .arg(&evidence)
                .spawn();
            // Let the watcher record whatever deadlock was already the latest.
            tokio::time::sleep(std::time::Duration::from_millis(800)).await;
            let mut ours = Vec::new();
            for _ in 0..3 {
                let deadlock = scenarios::deadlock(&server).await.expect("deadlock");
                ours.push((deadlock.t1_id, deadlock.t2_id));
                deadlock.cleanup().await.expect("cleanup");
                tokio::time::sleep(std::time::Duration::from_millis(700)).await;
            }
            let output = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
                .await
                .unwrap();
            assert_eq!(
                output.status.code(),
                Some(0),
                "{}",
                String::from_utf8_lossy(&output.stderr)
            );

            let text = std::fs::read_to_string(&evidence).unwrap();
            let records: Vec<Value> = text
                .lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect();
            // A deadlock known only from the error log (another test may have turned that on) has
            // no transactions to match.
            let threads_of = |r: &Value| -> Vec<u64> {
                r["deadlock"]["transactions"]
                    .as_array()
                    .map(|t| t.iter().filter_map(|x| x["thread_id"].as_u64()).collect())
                    .unwrap_or_default()
            };
            for (t1, t2) in &ours {
                let matching = records.iter().filter(|r| {
                    let threads = threads_of(r);
                    threads.contains(t1) && threads.contains(t2)
                });
                assert_eq!(
                    matching.count(),
                    1,
                    "deadlock of {t1} and {t2} recorded exactly once: {text}"
                );
            }
            let keys: std::collections::HashSet<&str> =
                records.iter().filter_map(|r| r["key"].as_str()).collect();
            assert_eq!(keys.len(), records.len(), "no deadlock recorded twice");
            // NDJSON on stdout: one line per recorded deadlock.
            assert_eq!(
                String::from_utf8_lossy(&output.stdout).lines().count(),
                records.len()
            );

            let history = Mytriage::new(&server.url)
                .args([
                    "deadlocks",
                    "--history",
                    "--evidence",
                    evidence.to_str().unwrap(),
                ])
                .json();
            assert_eq!(
                history["deadlocks"].as_array().unwrap().len(),
                records.len()
            );
        }
    }

    #[tokio::test]
    async fn deadlocks_lists_every_deadlock_the_error_log_holds() {
        for server in support::servers() {
            let info = Mytriage::new(&server.url).args(["server"]).json();
            if info["capabilities"]["error_log_table"] != true {
                continue; // MariaDB and MySQL before 8.0.22 have no performance_schema.error_log
            }
            support::announce("deadlocks from performance_schema.error_log", &server);
            let logging = server.log_deadlocks().await;
            let before = Mytriage::new(&server.url).args(["deadlocks"]).json()["logged"]
                .as_array()
                .map_or(0, Vec::len);
            for _ in 0..2 {
                let deadlock = scenarios::deadlock(&server).await.expect("deadlock");
                deadlock.cleanup().await.expect("cleanup");
            }
            let report = Mytriage::new(&server.url).args(["deadlocks"]).json();
            // Restore the server's settings before asserting: tests share the server.
            logging.restore().await.unwrap();
            let logged = report["logged"]
                .as_array()
                .expect("logged deadlocks listed");
            assert!(
                logged.len() >= before + 2,
                "both new deadlocks are listed: {report:#}"
            );
            assert!(
                logged.iter().rev().take(2).all(|d| d["victim"].is_u64()),
                "{report:#}"
            );
        }
    }

    #[tokio::test]
    async fn deadlock_watch_recovers_a_deadlock_missed_between_polls() {
        for server in support::servers() {
            let info = Mytriage::new(&server.url).args(["server"]).json();
            if info["capabilities"]["error_log_table"] != true {
                continue; // only MySQL 8.0.22+ keeps deadlocks in performance_schema.error_log
            }
            support::announce("deadlocks --watch with the error log", &server);
            let logging = server.log_deadlocks().await;
            let dir = tempfile::tempdir().unwrap();
            let evidence = dir.path().join("evidence.jsonl");
            let child = Mytriage::new(&server.url)
                .args(["deadlocks", "--watch", "--interval", "4s"])
                .args(["--duration", "6s", "--format", "json", "--evidence"])
                .arg(&evidence)
                .spawn();
            tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
            // Two deadlocks within one poll interval: the status will only show the second.
            let first = scenarios::deadlock(&server).await.expect("deadlock");
            let first_threads = (first.t1_id, first.t2_id);
            first.cleanup().await.expect("cleanup");
            tokio::time::sleep(std::time::Duration::from_millis(1100)).await; // a later second
            let second = scenarios::deadlock(&server).await.expect("deadlock");
            let second_threads = (second.t1_id, second.t2_id);
            second.cleanup().await.expect("cleanup");
            let output = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
                .await
                .unwrap();
            logging.restore().await.unwrap();
            assert_eq!(
                output.status.code(),
                Some(0),
                "{}",
                String::from_utf8_lossy(&output.stderr)
            );

            let text = std::fs::read_to_string(&evidence).unwrap();
            let records: Vec<Value> = text
                .lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect();
            let has_threads = |r: &Value, (a, b): (u64, u64)| {
                let threads: Vec<u64> = r["deadlock"]["transactions"]
                    .as_array()
                    .map(|t| t.iter().filter_map(|x| x["thread_id"].as_u64()).collect())
                    .unwrap_or_default();
                threads.contains(&a) && threads.contains(&b)
            };
            assert!(
                records.iter().any(|r| has_threads(r, second_threads)),
                "the latest is recorded in full: {text}"
            );
            assert!(
                !records.iter().any(|r| has_threads(r, first_threads)),
                "the first was replaced before a poll: {text}"
            );
            let missed: Vec<&Value> = records.iter().filter(|r| r["deadlock"].is_null()).collect();
            assert!(
                !missed.is_empty(),
                "the missed one is recovered from the error log: {text}"
            );
            assert!(missed.iter().all(|r| r["logged"]["logged"].is_string()));
        }
    }
}
