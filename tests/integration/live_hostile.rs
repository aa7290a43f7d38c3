//! Hostile input and poor privileges, on every server: odd statements render in tables and JSON,
//! filters cannot inject SQL, and accounts with USAGE only or PROCESS only get either a result
//! or the name of the missing privilege, never a panic and never an empty "all is well".
//!
//! The odd statement runs alone (nextest: threads-required = all): while it runs, MySQL refuses
//! information_schema.PROCESSLIST to every client, the other tests' helpers included.

use std::time::Duration;

use mysql_async::prelude::Queryable;
use serde_json::Value;

use crate::support::{self, Mytriage};

#[tokio::test]
async fn filters_never_reach_the_server_as_sql() {
    for server in support::servers() {
        support::announce("filter injection", &server);
        let conn = server.conn().await; // at least one other session to (not) match
        for hostile in [
            "x' OR '1'='1",
            "%",
            "root'; DROP TABLE mytriage_test.t; --",
            "\\",
        ] {
            let output = Mytriage::new(&server.url)
                .args([
                    "processlist",
                    "--format",
                    "json",
                    "--match-user",
                    hostile,
                    "--match-db",
                    hostile,
                ])
                .output();
            assert_eq!(
                output.status.code(),
                Some(0),
                "{hostile}: {}",
                String::from_utf8_lossy(&output.stderr)
            );
            let report: Value = serde_json::from_slice(&output.stdout).unwrap();
            assert!(
                report["threads"].as_array().unwrap().is_empty(),
                "{hostile} matched nothing: {report:#}"
            );
        }
        drop(conn);
    }
}

#[tokio::test]
async fn poor_accounts_get_results_or_the_missing_privilege() {
    for server in support::servers() {
        support::announce("USAGE-only and PROCESS-only accounts", &server);
        server.create_user("mt_usage", None, None).await;
        server
            .create_user("mt_process", None, Some("PROCESS"))
            .await;
        let dir = tempfile::tempdir().unwrap();
        let evidence = dir.path().join("evidence.jsonl");
        let commands: Vec<Vec<String>> = [
            "server",
            "processlist",
            "locks",
            "trx",
            "history",
            "connections",
            "deadlocks",
            "status",
            "top --duration 1s --interval 500ms",
        ]
        .iter()
        .map(|c| c.split_whitespace().map(str::to_owned).collect())
        .chain(std::iter::once(vec![
            "kill".into(),
            "1".into(),
            "--yes".into(),
            "--reason".into(),
            "x".into(),
            "--evidence".into(),
            evidence.to_str().unwrap().into(),
        ]))
        .collect();
        for user in ["mt_usage", "mt_process"] {
            let url = server.url_as(user, None);
            for command in &commands {
                let args: Vec<&str> = command.iter().map(String::as_str).collect();
                let output = Mytriage::new(&url).args(&args).output_async().await;
                let stderr = String::from_utf8_lossy(&output.stderr);
                assert!(!stderr.contains("panicked"), "{user} {args:?}: {stderr}");
                match output.status.code() {
                    Some(0 | 1) => {}
                    Some(2) => assert!(
                        stderr.contains("PROCESS privilege")
                            || stderr.contains("grant what is missing")
                            || stderr.contains("refusing to kill"),
                        "{user} {args:?} names what is missing: {stderr}"
                    ),
                    other => panic!("{user} {args:?} exited {other:?}: {stderr}"),
                }
                if user == "mt_usage" && args[0] != "server" {
                    assert_ne!(
                        output.status.code(),
                        Some(0),
                        "{args:?} cannot see anything without PROCESS"
                    );
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Tests that judge or change the whole server: nextest runs each alone
/// (`.config/nextest.toml`: threads-required = all).
mod exclusive {
    use super::*;

    #[tokio::test]
    async fn exclusive_odd_statements_render_in_tables_and_json() {
        for server in support::servers() {
            support::announce("odd statements", &server);
            let mut conn = server.conn().await;
            let pid = u64::from(conn.id());
            // A newline, a NUL, a 4-byte character and invalid UTF-8 (a binary literal), running.
            let statement =
                "SELECT SLEEP(3), 'line one\nline two', CHAR(0), '😀 데이터', x'ff00fe' /* end */";
            let running = tokio::spawn(async move {
                let _: Vec<mysql_async::Row> = conn.query(statement).await.unwrap_or_default();
                let _ = conn.disconnect().await;
            });
            support::eventually("the odd statement runs", async || {
                let report = Mytriage::new(&server.url)
                    .args(["processlist"])
                    .json_async()
                    .await;
                report["threads"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|t| t["pid"] == pid && t["statement"].is_string())
            })
            .await
            .unwrap();
            let json = Mytriage::new(&server.url)
                .args(["processlist", "--format", "json"])
                .output();
            let table = Mytriage::new(&server.url).args(["processlist"]).output();
            let full = Mytriage::new(&server.url)
                .args(["processlist", "--full"])
                .output();
            running.await.unwrap();

            let report: Value = serde_json::from_slice(&json.stdout)
                .expect("valid JSON whatever the statement holds");
            let shown = report["threads"]
                .as_array()
                .unwrap()
                .iter()
                .find(|t| t["pid"] == pid)
                .expect("listed");
            let text = shown["statement"].as_str().unwrap();
            // information_schema.PROCESSLIST is utf8mb3 on some servers: they send a 4-byte
            // character as '?'. Whatever arrives is shown whole.
            assert!(
                text.contains("line one\nline two") && text.contains("데이터"),
                "whole in JSON: {text:?}"
            );
            assert!(text.contains("😀") || text.contains("? 데이터"), "{text:?}");
            assert_eq!(table.status.code(), Some(0));
            let table = String::from_utf8(table.stdout).expect("the table is valid UTF-8");
            let row = table
                .lines()
                .find(|l| l.contains(&pid.to_string()))
                .expect("a row for the session");
            assert!(
                row.contains("SELECT SLEEP(?)") || row.contains("SELECT SLEEP(3)"),
                "{row}"
            );
            assert!(!table.contains('\0'), "no raw NUL reaches the terminal");
            assert_eq!(full.status.code(), Some(0));
            String::from_utf8(full.stdout).expect("--full is valid UTF-8 too");
        }
    }
}
