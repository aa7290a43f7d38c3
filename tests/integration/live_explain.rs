//! `mytriage explain PID` on every server: the plan of a running statement (tree on MySQL 8+,
//! rows on MariaDB, JSON on request), and a one-line reason for an idle session, a statement
//! the server cannot explain and an account without PROCESS.

use std::time::Duration;

use mysql_async::prelude::*;

use crate::support::{self, Mytriage, TestServer, scenarios};

/// Starts `sql` on a session of its own and returns that session's id once it runs.
async fn running(server: &TestServer, sql: String) -> (u64, tokio::task::JoinHandle<()>) {
    let (pid, task) = server.in_background(sql).await;
    let mut probe = server.conn().await;
    for _ in 0..50 {
        let info: Option<Option<String>> = probe
            .exec_first(
                "SELECT INFO FROM information_schema.PROCESSLIST WHERE ID = ?",
                (pid,),
            )
            .await
            .unwrap();
        if info.flatten().is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = probe.disconnect().await;
    (pid, task)
}

fn explain(server: &TestServer, pid: u64, extra: &[&str]) -> serde_json::Value {
    Mytriage::new(&server.url)
        .args(["explain", &pid.to_string(), "--format", "json"])
        .args(extra)
        .json()
}

#[tokio::test]
async fn explain_shows_the_plan_of_a_running_statement_and_says_why_when_there_is_none() {
    for server in support::servers() {
        support::announce("explain PID", &server);
        let mariadb = server.is_mariadb().await;
        let table = server.scratch_table("explain").await;

        let (pid, task) = running(
            &server,
            format!("SELECT COUNT(*) FROM {table} WHERE SLEEP(1.5) = 0"),
        )
        .await;
        let plan = explain(&server, pid, &[]);
        let json = explain(&server, pid, &["--json"]);
        task.await.unwrap();
        assert_eq!(plan["reason"], serde_json::Value::Null, "{plan:#}");
        if mariadb {
            assert_eq!(plan["format"], "table", "{plan:#}");
            let first = &plan["rows"][0];
            assert!(
                first
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|pair| pair[0] == "table" && pair[1] == table.rsplit('.').next().unwrap()),
                "{plan:#}"
            );
        } else {
            assert_eq!(plan["format"], "tree", "{plan:#}");
            assert!(
                plan["plan"].as_str().unwrap().contains("sleep(1.5)"),
                "{plan:#}"
            );
        }
        let text: serde_json::Value =
            serde_json::from_str(json["plan"].as_str().expect("JSON plan")).expect("valid JSON");
        assert!(text.is_object(), "{json:#}");

        // Nothing running: a reason, not an empty screen.
        let mut idle = server.conn().await;
        let idle_pid: u64 = idle
            .query_first("SELECT CONNECTION_ID()")
            .await
            .unwrap()
            .unwrap();
        let report = explain(&server, idle_pid, &[]);
        assert!(
            report["reason"]
                .as_str()
                .unwrap()
                .contains("runs nothing now"),
            "{report:#}"
        );
        let text = Mytriage::new(&server.url)
            .args(["explain", &idle_pid.to_string()])
            .expect_code(0);
        assert!(String::from_utf8_lossy(&text.stdout).contains("runs nothing now"));
        let _ = idle.disconnect().await;

        // A statement with no plan.
        let (pid, task) = running(&server, "DO SLEEP(1.5)".to_owned()).await;
        let report = explain(&server, pid, &[]);
        task.await.unwrap();
        assert!(
            report["reason"]
                .as_str()
                .unwrap()
                .contains("the server cannot explain"),
            "{report:#}"
        );

        // An account that cannot see other sessions: one line with the grant that fixes it.
        server.create_user("mt_explain", None, None).await;
        let output = Mytriage::new(&server.url_as("mt_explain", None))
            .args(["explain", &pid.to_string()])
            .output();
        assert_eq!(output.status.code(), Some(2));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.contains("PROCESS"), "{stderr}");
    }
}

/// A statement waiting for a row lock: MySQL explains it; MariaDB's SHOW EXPLAIN would wait for
/// the waiter to answer until the query timeout, so the reason says why there is no plan, at once.
#[tokio::test]
async fn a_statement_in_a_row_lock_wait_is_explained_or_says_why_at_once() {
    for server in support::servers() {
        support::announce("explain a lock waiter", &server);
        let mariadb = server.is_mariadb().await;
        let wait = scenarios::lock_wait(&server).await.expect("lock wait");
        let started = std::time::Instant::now();
        let report = explain(&server, wait.waiter_id, &[]);
        let took = started.elapsed();
        wait.cleanup().await.expect("cleanup");
        assert!(
            report["statement"].as_str().unwrap().starts_with("UPDATE"),
            "{report:#}"
        );
        if mariadb {
            let reason = report["reason"].as_str().expect("a reason");
            assert!(reason.contains("waits for a row lock"), "{report:#}");
            assert!(took < Duration::from_secs(5), "took {took:?}");
        } else {
            assert_eq!(report["reason"], serde_json::Value::Null, "{report:#}");
            // An UPDATE's tree is one line ("<not executable by iterator executor>"), but a plan.
            assert!(
                report["plan"].as_str().unwrap().starts_with("->"),
                "{report:#}"
            );
        }
    }
}
