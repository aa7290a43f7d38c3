//! The right culprit in every configuration: each classic incident, created for real on every
//! test server (and on MariaDB without performance_schema, once with the `metadata_lock_info`
//! plugin and once without), with an older, unrelated idle transaction as a decoy. Each test
//! checks that the root (or purge blocker) is the real one, that the decoy is neither a root
//! nor chosen by `kill --blockers`, and the verdict.
//!
//! In the module `exclusive`: they install and remove a server-wide plugin, or freeze every writer
//! (FLUSH TABLES WITH READ LOCK), so nextest runs each alone.

use std::future::Future;
use std::time::Duration;

use serde_json::Value;

use crate::support::{self, Mytriage, TestServer, scenarios};

/// Where MariaDB without performance_schema has no holder list unless the plugin is installed.
async fn plugin_states(server: &TestServer) -> Vec<Option<bool>> {
    let info = Mytriage::new(&server.url)
        .args(["server"])
        .json_async()
        .await;
    let mariadb = info["flavor"]
        .as_str()
        .is_some_and(|f| f.starts_with("mariadb"));
    if mariadb && info["capabilities"]["performance_schema"] == false {
        vec![Some(false), Some(true)]
    } else {
        vec![None]
    }
}

/// Runs `check` on every server, and on MariaDB without performance_schema once with the
/// plugin removed and once installed (restored afterwards).
async fn on_every_server<F, Fut>(test: &str, check: F)
where
    F: Fn(TestServer, Option<bool>) -> Fut,
    Fut: Future<Output = ()>,
{
    for server in support::servers() {
        for plugin in plugin_states(&server).await {
            let label = match plugin {
                Some(true) => format!("{test} (metadata_lock_info installed)"),
                Some(false) => format!("{test} (no metadata_lock_info)"),
                None => test.to_owned(),
            };
            support::announce(&label, &server);
            let guard = match plugin {
                Some(installed) => Some(server.metadata_lock_info(installed).await),
                None => None,
            };
            check(server.clone(), plugin).await;
            if let Some(guard) = guard {
                guard.restore().await;
            }
        }
    }
}

async fn json(server: &TestServer, args: &[&str]) -> Value {
    Mytriage::new(&server.url).args(args).json_async().await
}

fn root_pids(report: &Value) -> Vec<u64> {
    report["roots"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["pid"].as_u64())
        .collect()
}

/// The node of `pid` anywhere under the root `root`.
fn under(report: &Value, root: u64, pid: u64) -> Option<&Value> {
    fn find(node: &Value, pid: u64) -> Option<&Value> {
        node["waiters"]
            .as_array()
            .into_iter()
            .flatten()
            .find_map(|w| {
                if w["pid"] == pid {
                    Some(w)
                } else {
                    find(w, pid)
                }
            })
    }
    let root = report["roots"]
        .as_array()?
        .iter()
        .find(|r| r["pid"] == root)?;
    find(root, pid)
}

fn unresolved(report: &Value, pid: u64) -> Option<&Value> {
    report["unresolved"]
        .as_array()?
        .iter()
        .find(|u| u["pid"] == pid)
}

/// Reads `locks` until `ready` holds (InnoDB's transaction cache can lag), up to 10 s.
async fn locks_until(server: &TestServer, ready: impl Fn(&Value) -> bool) -> Value {
    let mut report = Value::Null;
    for _ in 0..40 {
        report = json(server, &["locks"]).await;
        if ready(&report) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    report
}

/// The pids `kill --blockers` would choose (a dry run: batch kills act only with --execute).
async fn kill_blockers(server: &TestServer, extra: &[&str]) -> (Vec<u64>, Value) {
    let dir = tempfile::tempdir().unwrap();
    let evidence = dir.path().join("evidence.jsonl");
    let evidence = evidence.to_str().unwrap();
    let mut args = vec![
        "kill",
        "--blockers",
        "--reason",
        "test",
        "--evidence",
        evidence,
    ];
    args.extend_from_slice(extra);
    let report = json(server, &args).await;
    assert_eq!(report["dry_run"], true, "{report:#}");
    let chosen = report["victims"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v["outcome"]["pid"].as_u64())
        .collect();
    (chosen, report)
}

fn finding<'a>(status: &'a Value, check: &str) -> &'a Value {
    status["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["check"] == check)
        .unwrap_or_else(|| panic!("no {check} finding in {status:#}"))
}

/// What every metadata-lock scenario asserts: with a holder list the waiter hangs under the
/// real holder by an exact edge and `kill --blockers` picks the holder; without one the waiter
/// is "blocker unknown" with the holder among its candidates and nothing is picked. The decoy
/// is never a root and never picked.
async fn check_holder(server: &TestServer, holder: u64, waiter: u64, decoy: u64, held: &str) {
    let report = locks_until(server, |r| {
        under(r, holder, waiter).is_some() || unresolved(r, waiter).is_some()
    })
    .await;
    let roots = root_pids(&report);
    assert!(
        !roots.contains(&decoy),
        "decoy {decoy} is a root: {report:#}"
    );
    let (chosen, kill) = kill_blockers(server, &[]).await;
    assert!(!chosen.contains(&decoy), "decoy chosen: {kill:#}");
    if report["sources"]["metadata_locks"] == "thread states" {
        let unknown = unresolved(&report, waiter)
            .unwrap_or_else(|| panic!("{waiter} not unresolved: {report:#}"));
        assert_eq!(unknown["blocker"], Value::Null);
        let candidates: Vec<u64> = unknown["candidates"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|c| c["pid"].as_u64())
            .collect();
        assert!(
            candidates.contains(&holder),
            "holder {holder} not a candidate: {unknown:#}"
        );
        assert!(
            unknown["remedy"]
                .as_str()
                .unwrap()
                .contains("INSTALL SONAME 'metadata_lock_info'"),
            "{unknown:#}"
        );
        assert!(
            !roots.contains(&holder),
            "a guess shown as a root: {report:#}"
        );
        assert!(!chosen.contains(&holder), "kill acted on a guess: {kill:#}");
    } else {
        let node = under(&report, holder, waiter)
            .unwrap_or_else(|| panic!("{waiter} not under {holder}: {report:#}"));
        assert_eq!(node["waiting_for"]["how"], "exact", "{node:#}");
        let words = node["waiting_for"]["held"].as_str().unwrap_or_default();
        assert!(
            words.contains(held),
            "held {words:?}, wanted {held:?}: {node:#}"
        );
        assert!(
            chosen.contains(&holder),
            "holder {holder} not chosen: {kill:#}"
        );
    }
    let status = json(server, &["status"]).await;
    let blockers = finding(&status, "blockers");
    assert_ne!(blockers["verdict"], "OK", "{blockers:#}");
}

/// Tests that judge or change the whole server: nextest runs each alone
/// (`.config/nextest.toml`: threads-required = all).
mod exclusive {
    use super::*;

    #[tokio::test]
    async fn exclusive_alter_is_blamed_on_the_reader_not_the_older_decoy() {
        on_every_server("culprit: ALTER behind a reader", async |server, _| {
            let s = scenarios::metadata_lock_wait(&server)
                .await
                .expect("scenario");
            let (holder, waiter, decoy) = (s.holder_id, s.alter_id, s.decoy_id);
            check_holder(&server, holder, waiter, decoy, "a transaction that used it").await;
            s.cleanup().await.expect("cleanup");
        })
        .await;
    }

    #[tokio::test]
    async fn exclusive_global_read_lock_freezes_writes_and_names_its_holder() {
        on_every_server("culprit: FLUSH TABLES WITH READ LOCK", async |server, _| {
            let s = scenarios::global_read_lock(&server)
                .await
                .expect("scenario");
            let (holder, waiter, decoy) = (s.holder_id, s.writer_id, s.decoy_id);
            check_holder(&server, holder, waiter, decoy, "global read lock").await;
            let report = json(&server, &["locks"]).await;
            assert_eq!(report["writes_frozen"], true, "{report:#}");
            let status = json(&server, &["status"]).await;
            assert_eq!(
                finding(&status, "blockers")["verdict"],
                "CRIT",
                "{status:#}"
            );
            s.cleanup().await.expect("cleanup");
        })
        .await;
    }

    #[tokio::test]
    async fn exclusive_lock_tables_is_resolved_to_its_holder() {
        on_every_server("culprit: LOCK TABLES ... WRITE", async |server, _| {
            let s = scenarios::lock_tables(&server).await.expect("scenario");
            let (holder, waiter, decoy) = (s.holder_id, s.writer_id, s.decoy_id);
            check_holder(&server, holder, waiter, decoy, "LOCK TABLES").await;
            s.cleanup().await.expect("cleanup");
        })
        .await;
    }

    #[tokio::test]
    async fn exclusive_user_lock_is_resolved_on_every_server() {
        on_every_server("culprit: GET_LOCK", async |server, _| {
            let s = scenarios::user_lock(&server).await.expect("scenario");
            let (holder, waiter, decoy) = (s.holder_id, s.waiter_id, s.decoy_id);
            // IS_USED_LOCK() names the holder everywhere: never unknown.
            let report = locks_until(&server, |r| under(r, holder, waiter).is_some()).await;
            let node = under(&report, holder, waiter)
                .unwrap_or_else(|| panic!("{waiter} not under {holder}: {report:#}"));
            assert_eq!(node["waiting_for"]["how"], "exact");
            let words = node["waiting_for"]["held"].as_str().unwrap();
            assert!(
                words.contains(&format!("user lock '{}'", s.lock_name)),
                "{node:#}"
            );
            assert!(!root_pids(&report).contains(&decoy), "{report:#}");
            let (chosen, kill) = kill_blockers(&server, &[]).await;
            assert!(
                chosen.contains(&holder) && !chosen.contains(&decoy),
                "{kill:#}"
            );
            let status = json(&server, &["status"]).await;
            assert_ne!(finding(&status, "blockers")["verdict"], "OK", "{status:#}");
            s.cleanup().await.expect("cleanup");
        })
        .await;
    }

    #[tokio::test]
    async fn exclusive_table_flush_roots_at_the_long_select() {
        on_every_server("culprit: waiting for table flush", async |server, _| {
            let s = scenarios::table_flush(&server).await.expect("scenario");
            let report = locks_until(&server, |r| {
                under(r, s.select_id, s.flush_id).is_some() || unresolved(r, s.flush_id).is_some()
            })
            .await;
            let roots = root_pids(&report);
            assert!(!roots.contains(&s.decoy_id), "decoy is a root: {report:#}");
            assert!(
                !roots.contains(&s.flush_id),
                "the FLUSH is not the cause: {report:#}"
            );
            if let Some(unknown) = unresolved(&report, s.flush_id) {
                let candidates = unknown["candidates"].to_string();
                assert!(candidates.contains(&s.select_id.to_string()), "{unknown:#}");
            } else {
                assert!(roots.contains(&s.select_id), "{report:#}");
                assert!(
                    under(&report, s.select_id, s.reader_id).is_some(),
                    "{report:#}"
                );
            }
            let (chosen, kill) = kill_blockers(&server, &[]).await;
            assert!(
                !chosen.contains(&s.decoy_id) && !chosen.contains(&s.flush_id),
                "{kill:#}"
            );
            let status = json(&server, &["status"]).await;
            assert_ne!(finding(&status, "blockers")["verdict"], "OK", "{status:#}");
            s.cleanup().await.expect("cleanup");
        })
        .await;
    }

    #[tokio::test]
    async fn exclusive_ftwrl_waiting_for_a_flush_is_not_the_root() {
        on_every_server("culprit: FTWRL behind a long SELECT", async |server, _| {
            let s = scenarios::ftwrl_behind_select(&server)
                .await
                .expect("scenario");
            if !s.ftwrl_waits {
                // MariaDB 10.11: FTWRL returns at once beside a running SELECT and then really
                // holds the backup lock, so it is the writer's blocker (or unknown without a
                // holder list), and the SELECT blocks nothing.
                let (holder, writer, decoy) = (s.ftwrl_id, s.writer_id, s.decoy_id);
                check_holder(&server, holder, writer, decoy, "global read lock").await;
                let report = json(&server, &["locks"]).await;
                assert!(!root_pids(&report).contains(&s.select_id), "{report:#}");
                s.cleanup().await.expect("cleanup");
                return;
            }
            let report = locks_until(&server, |r| {
                under(r, s.select_id, s.ftwrl_id).is_some() || unresolved(r, s.ftwrl_id).is_some()
            })
            .await;
            let roots = root_pids(&report);
            assert!(!roots.contains(&s.decoy_id), "decoy is a root: {report:#}");
            assert!(
                !roots.contains(&s.ftwrl_id),
                "FTWRL is the backup, not the cause: {report:#}"
            );
            if unresolved(&report, s.ftwrl_id).is_none() {
                assert!(roots.contains(&s.select_id), "{report:#}");
                assert!(
                    under(&report, s.select_id, s.writer_id).is_some(),
                    "{report:#}"
                );
            }
            assert_eq!(report["writes_frozen"], true, "{report:#}");
            let (chosen, kill) = kill_blockers(&server, &[]).await;
            assert!(
                !chosen.contains(&s.decoy_id) && !chosen.contains(&s.ftwrl_id),
                "{kill:#}"
            );
            s.cleanup().await.expect("cleanup");
        })
        .await;
    }

    #[tokio::test]
    async fn exclusive_purge_is_blamed_on_what_holds_a_read_view() {
        on_every_server("culprit: purge blockers", async |server, plugin| {
            if plugin == Some(true) {
                return; // the plugin changes nothing here: one run suffices
            }
            let s = scenarios::purge_holders(&server).await.expect("scenario");
            let history = json(&server, &["history"]).await;
            let blockers: Vec<&Value> = history["purge_blockers"]
                .as_array()
                .unwrap()
                .iter()
                .collect();
            let listed = |pid: u64| blockers.iter().find(|b| b["pid"] == pid).copied();
            let snapshot = listed(s.rr_snapshot_id)
                .unwrap_or_else(|| panic!("the snapshot is not a purge blocker: {history:#}"));
            assert_eq!(snapshot["holds"], "read_view", "{snapshot:#}");
            if server.is_mariadb().await {
                // Measured: an open read-write transaction holds purge back on MariaDB, whatever
                // its isolation. Both are listed, from the read views MariaDB prints: exact.
                let writer = listed(s.rc_writer_id)
                    .unwrap_or_else(|| panic!("MariaDB's open writer not listed: {history:#}"));
                assert_eq!(writer["how"], "exact");
                assert_eq!(snapshot["how"], "exact");
                assert_eq!(
                    blockers[0]["pid"], s.rc_writer_id,
                    "oldest first: {history:#}"
                );
            } else {
                assert!(
                    listed(s.rc_writer_id).is_none(),
                    "an idle READ COMMITTED transaction holds no read view: {history:#}"
                );
                assert_eq!(snapshot["how"], "inferred");
                // The oldest transaction is still the RC writer: a different question.
                assert_eq!(history["oldest_trx"]["pid"], s.rc_writer_id, "{history:#}");
            }
            let status = json(&server, &["status"]).await;
            let summary = finding(&status, "history")["summary"]
                .as_str()
                .unwrap()
                .to_owned();
            assert!(summary.contains("held back by"), "{summary}");
            s.cleanup().await.expect("cleanup");
        })
        .await;
    }

    #[tokio::test]
    async fn exclusive_a_transaction_rolling_back_is_not_idle_and_never_chosen() {
        on_every_server("culprit: ROLLING BACK", async |server, plugin| {
            if plugin == Some(true) {
                return;
            }
            let s = scenarios::rolling_back(&server).await.expect("scenario");
            let ps = json(&server, &["processlist"]).await;
            let thread = ps["threads"]
                .as_array()
                .unwrap()
                .iter()
                .find(|t| t["pid"] == s.id)
                .cloned()
                .unwrap_or_else(|| panic!("the rollback ended before it was looked at: {ps:#}"));
            assert_eq!(thread["trx"]["state"], "ROLLING BACK", "{thread:#}");
            assert_eq!(thread["idle_in_trx"], false, "{thread:#}");
            let dir = tempfile::tempdir().unwrap();
            let evidence = dir.path().join("e.jsonl");
            let command = thread["command"].as_str().unwrap().to_owned();
            let kill = json(
                &server,
                &[
                    "kill",
                    "--match-command",
                    &command,
                    "--reason",
                    "test",
                    "--evidence",
                    evidence.to_str().unwrap(),
                ],
            )
            .await;
            let chosen: Vec<u64> = kill["victims"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|v| v["outcome"]["pid"].as_u64())
                .collect();
            assert!(!chosen.contains(&s.id), "{kill:#}");
            let skipped = kill["skipped"].as_array().unwrap();
            assert!(
                skipped
                    .iter()
                    .any(|k| k["pid"] == s.id
                        && k["reason"].as_str().unwrap().contains("ROLLING BACK")),
                "{kill:#}"
            );
            let (blockers, kill) = kill_blockers(&server, &[]).await;
            assert!(!blockers.contains(&s.decoy_id), "{kill:#}");
            s.cleanup().await.expect("cleanup");
        })
        .await;
    }
}
