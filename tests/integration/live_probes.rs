//! The probes against real incidents on every test server: each test creates the condition with
//! `support::scenarios`, runs the built binary, and checks what it reports.

use serde_json::Value;

use crate::support::{self, Mytriage, TestServer, scenarios};

/// Runs mytriage against a server and parses its JSON.
async fn run_json(server: &TestServer, args: &[&str]) -> Value {
    Mytriage::new(&server.url).args(args).json_async().await
}

/// Every node of the lock forest, depth first.
fn nodes(report: &Value) -> Vec<&Value> {
    fn walk<'a>(node: &'a Value, out: &mut Vec<&'a Value>) {
        out.push(node);
        for child in node["waiters"].as_array().into_iter().flatten() {
            walk(child, out);
        }
    }
    let mut out = Vec::new();
    for root in report["roots"].as_array().expect("roots array") {
        walk(root, &mut out);
    }
    out
}

fn root_with_pid(report: &Value, pid: u64) -> &Value {
    report["roots"]
        .as_array()
        .expect("roots")
        .iter()
        .find(|r| r["pid"] == pid)
        .unwrap_or_else(|| panic!("no root {pid} in {report:#}"))
}

/// Whether the server keeps idle sessions' last statements (performance_schema consumer on).
async fn keeps_last_statements(server: &TestServer) -> bool {
    let info = run_json(server, &["server"]).await;
    info["capabilities"]["statement_history"] == true
}

#[tokio::test]
async fn chain_root_is_idle_in_trx_with_last_statement() {
    for server in support::servers() {
        support::announce("locks: chain A<-B<-C", &server);
        let chain = scenarios::chain(&server).await.expect("chain scenario");
        let report = run_json(&server, &["locks"]).await;
        let keeps_last = keeps_last_statements(&server).await;
        let (a_id, b_id, c_id) = (chain.a_id, chain.b_id, chain.c_id);
        let (a_last, table) = (chain.a_last_statement.clone(), chain.table.clone());
        chain.cleanup().await.expect("cleanup");

        let root = root_with_pid(&report, a_id);
        assert_eq!(root["idle_in_trx"], true, "{root:#}");
        assert_eq!(root["statement"], Value::Null);
        assert_eq!(root["waiters_total"], 2, "{root:#}");
        let b = &root["waiters"][0];
        assert_eq!(b["pid"], b_id);
        assert_eq!(b["waiting_for"]["kind"], "row");
        assert!(
            b["waiting_for"]["table"]
                .as_str()
                .unwrap()
                .ends_with(&table),
            "{b:#}"
        );
        assert_eq!(b["waiters"][0]["pid"], c_id);
        if keeps_last {
            assert_eq!(root["last_statement"], a_last.as_str(), "{root:#}");
        } else {
            // MariaDB without performance_schema records no statement history at all: the note
            // says so, and suggests a consumer only where performance_schema is on.
            assert_eq!(root["last_statement"], Value::Null);
            let notes = report["notes"].to_string();
            assert!(
                notes.contains("events_statements_current")
                    || notes.contains("performance_schema is off"),
                "{report:#}"
            );
        }
    }
}

#[tokio::test]
async fn shared_request_queued_behind_an_exclusive_one_hangs_under_it() {
    for server in support::servers() {
        support::announce("locks: S queued behind a waiting X", &server);
        let q = scenarios::shared_behind_exclusive(&server)
            .await
            .expect("queued scenario");
        let report = run_json(&server, &["locks"]).await;
        let (a_id, b_id, c_id) = (q.a_id, q.b_id, q.c_id);
        q.cleanup().await.expect("cleanup");

        // C's shared request is compatible with A's granted one; what holds it is B's pending
        // exclusive request ahead of it. The server reports only that queue edge for C, which
        // must be asked for separately: without it C would be missing from the tree.
        let root = root_with_pid(&report, a_id);
        assert_eq!(root["waiters_total"], 2, "{report:#}");
        let b = &root["waiters"][0];
        assert_eq!(b["pid"], b_id, "{report:#}");
        let c = &b["waiters"][0];
        assert_eq!(c["pid"], c_id, "{report:#}");
        let mode = c["waiting_for"]["blocking_lock_mode"]
            .as_str()
            .unwrap_or("");
        assert!(mode.ends_with("(queued)"), "{c:#}");
    }
}

#[tokio::test]
async fn pile_up_has_one_root_holding_fifty() {
    for server in support::servers() {
        support::announce("locks: pile-up of 50", &server);
        let pile = scenarios::pile_up(&server, 50)
            .await
            .expect("pile-up scenario");
        let report = run_json(&server, &["blockers"]).await;
        let (holder_id, mut expected) = (pile.holder_id, pile.waiter_ids.clone());
        pile.cleanup().await.expect("cleanup");

        let root = root_with_pid(&report, holder_id);
        assert_eq!(root["waiters_total"], 50, "{root:#}");
        let mut waiters: Vec<u64> = root["waiters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| w["pid"].as_u64().unwrap())
            .collect();
        waiters.sort_unstable();
        expected.sort_unstable();
        assert_eq!(waiters, expected);
    }
}

#[tokio::test]
async fn processlist_flags_idle_in_trx_and_hides_itself() {
    for server in support::servers() {
        support::announce("processlist", &server);
        let wait = scenarios::lock_wait(&server)
            .await
            .expect("lock-wait scenario");
        let report = run_json(&server, &["processlist", "--active"]).await;
        let trx = run_json(&server, &["trx", "--min-age", "0s"]).await;
        let (holder_id, waiter_id) = (wait.holder_id, wait.waiter_id);
        wait.cleanup().await.expect("cleanup");

        let threads = report["threads"].as_array().unwrap();
        let holder = threads
            .iter()
            .find(|t| t["pid"] == holder_id)
            .expect("holder listed");
        assert_eq!(holder["idle_in_trx"], true, "{holder:#}");
        assert_eq!(holder["command"], "Sleep");
        let waiter = threads
            .iter()
            .find(|t| t["pid"] == waiter_id)
            .expect("waiter listed");
        assert_eq!(waiter["trx"]["state"], "LOCK WAIT");
        assert!(waiter["trx"]["lock_wait_s"].is_u64());
        let listed = trx["transactions"].as_array().unwrap();
        let first_pids: Vec<&Value> = listed.iter().map(|t| &t["pid"]).collect();
        assert!(first_pids.contains(&&Value::from(holder_id)), "{trx:#}");
        let ages: Vec<u64> = listed
            .iter()
            .map(|t| t["age_s"].as_u64().unwrap())
            .collect();
        assert!(
            ages.windows(2).all(|w| w[0] >= w[1]),
            "oldest first: {ages:?}"
        );
    }
}

#[tokio::test]
async fn probes_without_process_privilege_say_which_grant_fixes_it() {
    for server in support::servers() {
        support::announce("no PROCESS privilege", &server);
        server.create_user("mt_noproc", None, None).await;
        let url = server.url_as("mt_noproc", None);
        for probe in ["processlist", "locks", "trx"] {
            let output = Mytriage::new(&url).args([probe]).output();
            assert_eq!(output.status.code(), Some(2), "{probe} on {}", server.name);
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert!(
                stderr.contains("needs the PROCESS privilege")
                    && stderr.contains("GRANT PROCESS ON *.* TO"),
                "{stderr}"
            );
            assert!(
                output.stdout.is_empty(),
                "no table that looks like all is well"
            );
        }
    }
}

#[tokio::test]
async fn every_node_has_the_documented_shape() {
    for server in support::servers() {
        support::announce("locks JSON shape", &server);
        let wait = scenarios::lock_wait(&server)
            .await
            .expect("lock-wait scenario");
        let report = run_json(&server, &["locks"]).await;
        wait.cleanup().await.expect("cleanup");
        assert!(report["cycles"].is_array() && report["roots"].is_array());
        for node in nodes(&report) {
            for key in [
                "pid",
                "user",
                "host",
                "idle_in_trx",
                "trx_age_s",
                "statement",
                "last_statement",
                "waiters_total",
                "waiters",
            ] {
                assert!(node.get(key).is_some(), "node lacks {key}: {node:#}");
            }
        }
    }
}

#[tokio::test]
async fn processlist_never_lists_its_own_connection() {
    for server in support::servers() {
        support::announce("processlist hides itself", &server);
        // A user only this test uses: any thread of it in the listing is mytriage's own.
        server
            .create_user("mt_self", None, Some("PROCESS, SELECT"))
            .await;
        let conn = server.conn().await;
        // `conn` stays open: it must be listed, while mytriage's own connection must not.
        let witness = conn.id();
        let as_self = TestServer {
            name: server.name.clone(),
            url: server.url_as("mt_self", None),
        };
        for probe in [
            &["processlist"][..],
            &["locks"],
            &["trx", "--min-age", "0s"],
        ] {
            let report = run_json(&as_self, probe).await;
            let text = report.to_string();
            assert!(
                !text.contains("\"mt_self\""),
                "{probe:?} listed its own connection: {report:#}"
            );
        }
        let all = run_json(&as_self, &["processlist"]).await;
        let _ = conn.disconnect().await;
        let listed = all["threads"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["pid"] == witness);
        assert!(
            listed,
            "another session ({witness}) is visible with PROCESS: {all:#}"
        );
    }
}

#[tokio::test]
async fn history_grows_behind_an_open_snapshot() {
    for server in support::servers() {
        support::announce("history", &server);
        let history = scenarios::history_growth(&server)
            .await
            .expect("history scenario");
        let (reader, churned) = (history.reader_id, history.initial_churn);
        let before = run_json(&server, &["history"]).await;
        history.churn(2000).await.expect("churn");
        let after = run_json(
            &server,
            &["history", "--sample", "2", "--interval", "200ms"],
        )
        .await;
        history.cleanup().await.expect("cleanup");

        let (hll_before, hll_after) = (
            before["history_list_length"].as_u64().unwrap(),
            after["history_list_length"].as_u64().unwrap(),
        );
        // Everything committed since the snapshot opened cannot be purged while it stays open;
        // older history may be purged meanwhile (MySQL does so lazily), so compare with the churn.
        assert!(
            hll_before >= churned,
            "{churned} updates behind a snapshot, length {hll_before}"
        );
        assert!(
            hll_after >= churned + 2000,
            "{} updates behind a snapshot: {hll_before} -> {hll_after}",
            churned + 2000
        );
        assert_eq!(after["samples"].as_array().unwrap().len(), 2);
        assert!(after["growth_per_s"].is_number());
        // The reader's snapshot is what holds purge back, unless a parallel test has an older one.
        let oldest = &after["oldest_trx"];
        assert!(oldest["age_s"].is_u64(), "{after:#}");
        if oldest["pid"] == reader {
            assert_eq!(oldest["idle_in_trx"], true);
        }
    }
}

#[tokio::test]
async fn history_thresholds_set_the_exit_code() {
    for server in support::servers() {
        support::announce("history thresholds", &server);
        let output = Mytriage::new(&server.url)
            .args(["history", "--warn", "0", "--crit", "1000000000"])
            .output();
        assert_eq!(
            output.status.code(),
            Some(1),
            "at or above --warn is a finding"
        );
        assert!(String::from_utf8_lossy(&output.stdout).contains("WARN"));
    }
}

#[tokio::test]
async fn connections_count_the_fillers() {
    for server in support::servers() {
        support::announce("connections", &server);
        let fill = scenarios::fill_connections(&server, 0.6)
            .await
            .expect("fill scenario");
        let (fillers, max_connections) = (fill.ids.len() as u64, fill.max_connections);
        let report = run_json(&server, &["connections"]).await;
        fill.cleanup().await.expect("cleanup");

        assert_eq!(report["max_connections"], max_connections);
        let used = report["threads_connected"].as_u64().unwrap();
        assert!(used >= fillers, "{report:#}");
        assert!(
            report["used_pct"].as_f64().unwrap()
                >= 100.0 * fillers as f64 / max_connections as f64 - 0.1
        );
        let by_user = report["by_user"].as_array().unwrap();
        let filler = by_user
            .iter()
            .find(|g| g["name"] == scenarios::FILLER_USER)
            .expect("filler user group");
        assert_eq!(filler["total"], fillers);
        assert_eq!(filler["sleeping"], fillers);
        assert!(
            report["by_host"]
                .as_array()
                .unwrap()
                .iter()
                .all(|g| !g["name"].as_str().unwrap().contains(':'))
        );
    }
}

/// Tests that create deadlocks: InnoDB keeps only the latest, so nextest runs them one at a
/// time (`.config/nextest.toml`: the `deadlocks` group).
mod deadlock {
    use super::*;

    #[tokio::test]
    async fn deadlock_shows_both_statements_and_the_victim() {
        for server in support::servers() {
            support::announce("deadlocks", &server);
            // Other tests deadlock too, and InnoDB keeps only the latest: retry until ours is latest.
            let mut checked = false;
            for _attempt in 0..5 {
                let deadlock = scenarios::deadlock(&server)
                    .await
                    .expect("deadlock scenario");
                let report = run_json(&server, &["deadlocks"]).await;
                let (t1, t2, victim) = (deadlock.t1_id, deadlock.t2_id, deadlock.victim_id);
                let t1_last = deadlock.t1_statements.last().cloned().unwrap();
                let t2_last = deadlock.t2_statements.last().cloned().unwrap();
                deadlock.cleanup().await.expect("cleanup");
                let latest = &report["latest"];
                let transactions = latest["transactions"]
                    .as_array()
                    .expect("a parsed deadlock");
                let thread = |pid: u64| transactions.iter().find(|t| t["thread_id"] == pid);
                let (Some(first), Some(second)) = (thread(t1), thread(t2)) else {
                    continue;
                };
                assert_eq!(first["query"], t1_last.as_str(), "{latest:#}");
                assert_eq!(second["query"], t2_last.as_str(), "{latest:#}");
                let victim_number = latest["victim"].as_u64().expect("victim identified");
                let victim_trx = transactions
                    .iter()
                    .find(|t| t["number"] == victim_number)
                    .unwrap();
                assert_eq!(victim_trx["thread_id"], victim, "{latest:#}");
                assert!(
                    !first["holds"].as_array().unwrap().is_empty()
                        || !second["holds"].as_array().unwrap().is_empty()
                );
                checked = true;
                break;
            }
            assert!(
                checked,
                "our deadlock never was the latest one on {}",
                server.name
            );
        }
    }
}
