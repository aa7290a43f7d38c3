//! The safe kill on real servers: evidence on disk before the KILL, re-verification, refusals,
//! an evidence log that cannot be written, and the RDS procedure path.

use std::path::{Path, PathBuf};
use std::process::{Child, Output};
use std::time::{Duration, Instant};

use mysql_async::Conn;
use mysql_async::prelude::Queryable;
use serde_json::Value;

use crate::support::{self, Mytriage, TestServer, scenarios};

const PAUSE_ENV: &str = "MYTRIAGE_PAUSE_BEFORE_KILL";

fn records(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|line| serde_json::from_str(line).expect("every evidence line is JSON"))
        .collect()
}

/// Whether a session id is still connected, seen from a separate connection.
async fn alive(server: &TestServer, pid: u64) -> bool {
    // SHOW PROCESSLIST, not information_schema.PROCESSLIST: MySQL refuses the latter while any
    // session runs a statement with a 4-byte character (error 3854).
    let mut conn = server.conn().await;
    let rows: Vec<mysql_async::Row> = conn.query("SHOW PROCESSLIST").await.unwrap();
    let _ = conn.disconnect().await;
    rows.iter().any(|row| row.get::<u64, _>(0) == Some(pid))
}

/// A session sitting idle inside a transaction that changed one row of its own table.
async fn idle_in_trx(server: &TestServer, user: Option<&str>) -> (Conn, u64, String) {
    let table = server.scratch_table("kill").await;
    let opts = match user {
        Some(user) => server.opts_as(user),
        None => server.opts(),
    };
    let mut victim = Conn::new(opts).await.unwrap();
    victim.query_drop("BEGIN").await.unwrap();
    victim
        .query_drop(format!("UPDATE {table} SET v = v + 1 WHERE id = 1"))
        .await
        .unwrap();
    let pid = u64::from(victim.id());
    (victim, pid, table)
}

async fn drop_table(server: &TestServer, table: &str) {
    let mut conn = server.conn().await;
    let _ = conn
        .query_drop(format!("DROP TABLE IF EXISTS {table}"))
        .await;
    let _ = conn.disconnect().await;
}

/// Waits until the paused kill has created its marker file.
async fn wait_for_pause(marker: &Path, child: &mut Child) {
    let started = Instant::now();
    while !marker.exists() {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("mytriage exited ({status}) before pausing");
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "mytriage never paused"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn finish(child: Child) -> Output {
    tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap()
}

#[tokio::test]
async fn killing_the_idle_root_writes_evidence_first_and_frees_the_chain() {
    for server in support::servers() {
        support::announce("kill the idle root of A<-B<-C", &server);
        let dir = tempfile::tempdir().unwrap();
        let (evidence, marker) = (dir.path().join("evidence.jsonl"), dir.path().join("paused"));
        let chain = scenarios::chain(&server).await.expect("chain");
        let (a, b, c) = (chain.a_id, chain.b_id, chain.c_id);
        let mut child = Mytriage::new(&server.url)
            .args([
                "kill",
                &a.to_string(),
                "--yes",
                "--reason",
                "root blocker of the chain",
                "--format",
                "json",
            ])
            .arg("--evidence")
            .arg(&evidence)
            .env(PAUSE_ENV, &marker)
            .spawn();
        wait_for_pause(&marker, &mut child).await;

        // Between the two steps: the snapshot is on disk and A has not been killed yet.
        let before = records(&evidence);
        assert_eq!(
            before.len(),
            1,
            "one snapshot line before the kill: {before:#?}"
        );
        let snapshot = &before[0];
        assert_eq!(snapshot["kind"], "kill.snapshot");
        assert_eq!(snapshot["pid"], a);
        assert_eq!(snapshot["thread"]["idle_in_trx"], true);
        assert_eq!(snapshot["blocks"]["waiters_total"], 2);
        let mut waiters: Vec<u64> = snapshot["blocks"]["waiter_pids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p.as_u64().unwrap())
            .collect();
        waiters.sort_unstable();
        assert_eq!(waiters, {
            let mut expected = vec![b, c];
            expected.sort_unstable();
            expected
        });
        assert!(
            alive(&server, a).await,
            "A must still be alive while only the evidence is written"
        );

        std::fs::remove_file(&marker).unwrap();
        let output = finish(child).await;
        assert_eq!(
            output.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let after = records(&evidence);
        assert_eq!(after.len(), 2);
        let outcome = &after[1];
        assert_eq!(outcome["kind"], "kill.outcome");
        assert_eq!(outcome["snapshot_id"], snapshot["id"]);
        assert_eq!(outcome["result"], "killed");
        assert_eq!(outcome["method"], "KILL");
        assert_eq!(outcome["after"]["state"], "gone");
        assert!(!alive(&server, a).await);

        // The waiters proceed: B gets A's row, so B no longer waits (C still waits for B).
        let started = Instant::now();
        loop {
            let report = Mytriage::new(&server.url)
                .args(["processlist"])
                .json_async()
                .await;
            let threads = report["threads"].as_array().unwrap();
            let b_state = threads
                .iter()
                .find(|t| t["pid"] == b)
                .map(|t| t["trx"]["state"].clone());
            if b_state.as_ref().is_some_and(|s| s != "LOCK WAIT") {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "B still waits: {b_state:?}"
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        chain.cleanup().await.expect("cleanup");
    }
}

#[tokio::test]
async fn a_session_that_changed_after_the_snapshot_is_not_killed() {
    for server in support::servers() {
        support::announce("kill re-verify refuses", &server);
        let dir = tempfile::tempdir().unwrap();
        let (evidence, marker) = (dir.path().join("evidence.jsonl"), dir.path().join("paused"));
        let (mut victim, pid, table) = idle_in_trx(&server, None).await;
        let mut child = Mytriage::new(&server.url)
            .args(["kill", &pid.to_string(), "--yes", "--reason", "drill"])
            .arg("--evidence")
            .arg(&evidence)
            .env(PAUSE_ENV, &marker)
            .spawn();
        wait_for_pause(&marker, &mut child).await;
        // The victim finishes its transaction and starts another one.
        victim.query_drop("COMMIT").await.unwrap();
        victim.query_drop("BEGIN").await.unwrap();
        victim
            .query_drop(format!("UPDATE {table} SET v = v + 1 WHERE id = 2"))
            .await
            .unwrap();
        std::fs::remove_file(&marker).unwrap();
        let output = finish(child).await;

        assert_eq!(
            output.status.code(),
            Some(1),
            "a changed target is a finding, not a kill"
        );
        assert!(alive(&server, pid).await, "nothing was killed");
        let lines = records(&evidence);
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[1]["result"], "changed");
        // Either the new transaction (INNODB_TRX, a 100 ms cache) or the live activity marker
        // shows the change, whichever the server refreshed first; both name what changed.
        let changed = lines[1]["changed"].to_string();
        assert!(
            changed.contains("transaction") || changed.contains("ran another statement"),
            "says what changed: {changed}"
        );
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("not killing") && stderr.contains("not the session snapshotted"),
            "{stderr}"
        );
        victim.query_drop("ROLLBACK").await.unwrap();
        let _ = victim.disconnect().await;
        drop_table(&server, &table).await;
    }
}

#[tokio::test]
async fn an_evidence_log_that_cannot_be_written_kills_nothing() {
    for server in support::servers() {
        support::announce("kill with unwritable evidence", &server);
        let dir = tempfile::tempdir().unwrap();
        let not_a_dir = dir.path().join("file");
        std::fs::write(&not_a_dir, "").unwrap();
        let (mut victim, pid, table) = idle_in_trx(&server, None).await;
        // /dev/full: the write fails with ENOSPC, a full disk. A file as the directory: cannot open.
        for path in [PathBuf::from("/dev/full"), not_a_dir.join("evidence.jsonl")] {
            let output = Mytriage::new(&server.url)
                .args(["kill", &pid.to_string(), "--yes", "--reason", "drill"])
                .arg("--evidence")
                .arg(&path)
                .output();
            assert_eq!(output.status.code(), Some(2), "{}", path.display());
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert!(stderr.contains("evidence"), "{stderr}");
            assert!(
                alive(&server, pid).await,
                "nothing may be killed without evidence ({})",
                path.display()
            );
        }
        victim.query_drop("ROLLBACK").await.unwrap();
        let _ = victim.disconnect().await;
        drop_table(&server, &table).await;
    }
}

#[test]
fn garbage_pids_are_rejected_before_connecting() {
    // Port 1 refuses connections: a pid error proves the pid was checked first.
    for pid in ["abc", "0", "-3", "1.5", "99999999999999999999"] {
        let output = Mytriage::new("mysql://root@127.0.0.1:1")
            .args(["kill", "--yes", "--reason", "x", "--", pid])
            .output();
        assert_eq!(output.status.code(), Some(2), "{pid}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("is not a processlist id") && !stderr.contains("connect"),
            "{pid}: {stderr}"
        );
    }
}

#[tokio::test]
async fn refusals_missing_and_server_threads() {
    for server in support::servers() {
        support::announce("kill refusals", &server);
        let dir = tempfile::tempdir().unwrap();
        let evidence = dir.path().join("evidence.jsonl");
        let output = Mytriage::new(&server.url)
            .args(["kill", "4000000000", "--yes", "--reason", "x"])
            .arg("--evidence")
            .arg(&evidence)
            .output();
        assert_eq!(output.status.code(), Some(2));
        assert!(String::from_utf8_lossy(&output.stderr).contains("there is no session 4000000000"));

        // A server thread, where this server has one (MySQL's event scheduler and 'system user').
        let mut conn = server.conn().await;
        let system: Vec<u64> = conn
            .query(
                "SELECT ID FROM information_schema.PROCESSLIST \
                 WHERE USER IN ('event_scheduler', 'system user') OR COMMAND IN ('Daemon', 'Binlog Dump', 'Binlog Dump GTID')",
            )
            .await
            .unwrap();
        let _ = conn.disconnect().await;
        for pid in system {
            let output = Mytriage::new(&server.url)
                .args(["kill", &pid.to_string(), "--yes", "--reason", "x"])
                .arg("--evidence")
                .arg(&evidence)
                .output();
            assert_eq!(output.status.code(), Some(2), "server thread {pid}");
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert!(
                stderr.contains("refusing to kill") && stderr.contains("never kills"),
                "{stderr}"
            );
            assert!(alive(&server, pid).await);
        }
        assert!(
            records(&evidence).is_empty(),
            "refusals happen before any snapshot"
        );
    }
}

#[tokio::test]
async fn a_restricted_account_kills_through_mysql_rds_kill() {
    for server in support::servers() {
        support::announce("kill via mysql.rds_kill", &server);
        let mut root = server.conn().await;
        root.query_drop(
            "CREATE PROCEDURE IF NOT EXISTS mysql.rds_kill(IN thread BIGINT) \
             SQL SECURITY DEFINER BEGIN KILL thread; END",
        )
        .await
        .unwrap();
        let _ = root.disconnect().await;
        server
            .create_user("mt_rds", None, Some("PROCESS, SELECT"))
            .await;
        let mut root = server.conn().await;
        for host in ["%", "localhost", "127.0.0.1"] {
            root.query_drop(format!(
                "GRANT EXECUTE ON PROCEDURE mysql.rds_kill TO 'mt_rds'@'{host}'"
            ))
            .await
            .unwrap();
        }
        let _ = root.disconnect().await;

        let dir = tempfile::tempdir().unwrap();
        let evidence = dir.path().join("evidence.jsonl");
        // An application account: on MySQL 8+ a SYSTEM_USER session (root) cannot be killed
        // through a procedure, on RDS or here.
        server
            .create_user("mt_app", None, Some("SELECT, UPDATE"))
            .await;
        let (victim, pid, table) = idle_in_trx(&server, Some("mt_app")).await;
        let output = Mytriage::new(&server.url_as("mt_rds", None))
            .args(["kill", &pid.to_string(), "--yes", "--reason", "rds drill"])
            .arg("--evidence")
            .arg(&evidence)
            .output();
        assert_eq!(
            output.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let lines = records(&evidence);
        assert_eq!(lines[1]["method"], "mysql.rds_kill", "{:#}", lines[1]);
        assert!(!alive(&server, pid).await);
        drop(victim);
        drop_table(&server, &table).await;
    }
}

#[tokio::test]
async fn evidence_file_is_private_and_every_line_has_the_schema() {
    use std::os::unix::fs::PermissionsExt;
    for server in support::servers() {
        support::announce("evidence file mode and schema", &server);
        let dir = tempfile::tempdir().unwrap();
        let evidence = dir.path().join("new/evidence.jsonl");
        server
            .create_user("mt_batch", None, Some("SELECT, UPDATE"))
            .await;
        let (mut victim, pid, table) = idle_in_trx(&server, Some("mt_batch")).await;
        // Selection reads INNODB_TRX, a cache InnoDB refreshes only after 100 ms without readers:
        // wait until the victim shows as idle in a transaction, as an operator would see it.
        support::eventually("victim listed idle in trx", async || {
            let report = Mytriage::new(&server.url)
                .args(["processlist", "--match-user", "mt_batch"])
                .json_async()
                .await;
            report["threads"]
                .as_array()
                .unwrap()
                .iter()
                .any(|t| t["pid"] == pid && t["idle_in_trx"] == true)
        })
        .await
        .unwrap();
        // Batch: dry run by default; only --execute acts.
        let dry = Mytriage::new(&server.url)
            .args([
                "kill",
                "--match-user",
                "mt_batch",
                "--idle-in-trx-older-than",
                "0s",
                "--reason",
                "batch drill",
            ])
            .arg("--evidence")
            .arg(&evidence)
            .output();
        assert_eq!(
            dry.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&dry.stderr)
        );
        assert!(
            alive(&server, pid).await,
            "a batch without --execute kills nothing"
        );
        let executed = Mytriage::new(&server.url)
            .args([
                "kill",
                "--match-user",
                "mt_batch",
                "--idle-in-trx-older-than",
                "0s",
                "--reason",
                "batch drill",
            ])
            .args(["--execute", "--yes"])
            .arg("--evidence")
            .arg(&evidence)
            .output();
        assert_eq!(
            executed.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&executed.stderr)
        );
        assert!(!alive(&server, pid).await);

        let mode = std::fs::metadata(&evidence).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let lines = records(&evidence);
        assert_eq!(lines.len(), 4, "two snapshots and two outcomes");
        assert_eq!(lines[1]["result"], "dry-run");
        assert_eq!(lines[3]["result"], "killed");
        for line in &lines {
            for key in ["schema", "id", "kind", "at", "pid"] {
                assert!(line.get(key).is_some(), "{key} missing: {line:#}");
            }
            assert_eq!(line["schema"], 1);
        }
        let listed = Mytriage::new(&server.url)
            .args([
                "evidence",
                "--evidence",
                evidence.to_str().unwrap(),
                "--pid",
                &pid.to_string(),
            ])
            .json();
        assert_eq!(listed["records"].as_array().unwrap().len(), 4);
        let _ = victim.query_drop("ROLLBACK").await;
        drop_table(&server, &table).await;
    }
}

/// The two records documented under "Evidence log records" in README.md, comments removed.
fn documented_records() -> Vec<Value> {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let section = readme
        .split("### Evidence log records")
        .nth(1)
        .expect("README documents the records");
    let block = section
        .split("```json")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .expect("a JSON block");
    let text: String = block
        .lines()
        .map(|line| line.find(" //").map_or(line, |at| &line[..at]))
        .collect::<Vec<_>>()
        .join("\n");
    serde_json::Deserializer::from_str(&text)
        .into_iter::<Value>()
        .map(|v| v.expect("README record is JSON"))
        .collect()
}

#[tokio::test]
async fn evidence_records_have_the_documented_keys() {
    let documented = documented_records();
    assert_eq!(documented.len(), 2);
    for server in support::servers() {
        support::announce("evidence records match README", &server);
        let dir = tempfile::tempdir().unwrap();
        let evidence = dir.path().join("evidence.jsonl");
        let (mut victim, pid, table) = idle_in_trx(&server, None).await;
        let output = Mytriage::new(&server.url)
            .args([
                "kill",
                &pid.to_string(),
                "--dry-run",
                "--reason",
                "shape check",
            ])
            .arg("--evidence")
            .arg(&evidence)
            .output();
        assert_eq!(
            output.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let lines = records(&evidence);
        for (doc, live) in documented.iter().zip(&lines) {
            assert_eq!(
                support::json_keys(doc),
                support::json_keys(live),
                "record {}",
                live["kind"]
            );
            for nested in ["operator", "server", "thread", "blocks", "after"] {
                if live[nested].is_object() && doc[nested].is_object() {
                    assert_eq!(
                        support::json_keys(&doc[nested]),
                        support::json_keys(&live[nested]),
                        "{nested} of {}",
                        live["kind"]
                    );
                }
            }
        }
        victim.query_drop("ROLLBACK").await.unwrap();
        drop_table(&server, &table).await;
    }
}

#[tokio::test]
async fn kill_query_stops_the_statement_and_keeps_the_connection() {
    for server in support::servers() {
        support::announce("kill --query", &server);
        let dir = tempfile::tempdir().unwrap();
        let evidence = dir.path().join("evidence.jsonl");
        let mut victim = server.conn().await;
        let pid = u64::from(victim.id());
        let running = tokio::spawn(async move {
            let result: Result<Option<i64>, _> = victim.query_first("SELECT SLEEP(30)").await;
            (victim, result)
        });
        support::eventually("the victim runs its statement", async || {
            let report = Mytriage::new(&server.url)
                .args(["processlist"])
                .json_async()
                .await;
            report["threads"].as_array().unwrap().iter().any(|t| {
                t["pid"] == pid
                    && t["statement"]
                        .as_str()
                        .is_some_and(|s| s.contains("SLEEP(30)"))
            })
        })
        .await
        .unwrap();
        let output = Mytriage::new(&server.url)
            .args([
                "kill",
                &pid.to_string(),
                "--query",
                "--yes",
                "--reason",
                "runaway query",
            ])
            .arg("--evidence")
            .arg(&evidence)
            .output();
        assert_eq!(
            output.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let (mut victim, result) = tokio::time::timeout(Duration::from_secs(10), running)
            .await
            .unwrap()
            .unwrap();
        // MySQL ends SLEEP() early with 1 when its query is killed; MariaDB reports an error.
        assert!(
            matches!(result, Ok(Some(1)) | Err(_)),
            "the statement was interrupted: {result:?}"
        );
        let still: Option<i64> = victim.query_first("SELECT 1").await.unwrap();
        assert_eq!(still, Some(1), "the connection survives KILL QUERY");
        assert_eq!(records(&evidence)[1]["method"], "KILL QUERY");
        let _ = victim.disconnect().await;
    }
}
