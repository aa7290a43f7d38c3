//! One slow probe degrades only its own section of `status`.
//!
//! A pile-up of 600 sessions on one row makes InnoDB report n(n+1)/2 = 180,300 lock-wait edges,
//! and reading them takes about 0.3 s on this machine's servers, whatever the query does with
//! them afterwards. Under `--query-timeout 100ms` the server stops that one statement (MySQL
//! error 3024, MariaDB 1969) and the connection stays usable: `status` must mark the locks
//! section as not read and still print the connections, transactions and history.
//!
//! The test raises max_connections for the pile-up, so it runs alone (module `exclusive`).

use mysql_async::prelude::Queryable;
use serde_json::Value;

use crate::support::{self, Mytriage, scenarios};

const WAITERS: usize = 600;

fn finding<'a>(report: &'a Value, check: &str) -> &'a Value {
    report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .find(|f| f["check"] == check)
        .unwrap_or_else(|| panic!("no {check} finding in {report:#}"))
}

/// Tests that judge or change the whole server: nextest runs each alone
/// (`.config/nextest.toml`: threads-required = all).
mod exclusive {
    use super::*;

    #[tokio::test]
    async fn exclusive_slow_lock_probe_degrades_only_its_section() {
        for server in support::servers() {
            support::announce("slow probe: 600 waiters on one row", &server);
            let mut root = server.conn().await;
            let original: u64 = root
                .query_first("SELECT @@GLOBAL.max_connections")
                .await
                .unwrap()
                .unwrap();
            let needed = original.max(WAITERS as u64 + 200);
            let mut globals = server.globals();
            globals
                .set(&mut root, "max_connections", needed)
                .await
                .unwrap();
            let pile = scenarios::pile_up(&server, WAITERS).await;
            let output = pile.as_ref().ok().map(|_| {
                Mytriage::new(&server.url)
                    .args(["--query-timeout", "100ms", "status", "--format", "json"])
                    .output()
            });
            let table = pile.as_ref().ok().map(|_| {
                Mytriage::new(&server.url)
                    .args(["--query-timeout", "100ms", "status"])
                    .output()
            });
            if let Ok(pile) = pile {
                pile.cleanup().await.expect("cleanup");
            }
            let _ = root.disconnect().await;
            globals.restore().await.unwrap();
            let (output, table) = (output.unwrap(), table.unwrap());

            let stderr = String::from_utf8_lossy(&output.stderr);
            assert_eq!(output.status.code(), Some(0), "stderr: {stderr}");
            let report: Value = serde_json::from_slice(&output.stdout).expect("status JSON");
            let triage = &report["triage"];
            // The one slow section is marked, with the statement and the limit that stopped it.
            assert_eq!(triage["locks"], Value::Null, "{triage:#}");
            let gaps = triage["unavailable"].as_array().expect("unavailable");
            assert_eq!(
                gaps.len(),
                1,
                "only the locks section is missing: {gaps:#?}"
            );
            assert_eq!(gaps[0]["section"], "locks");
            let reason = gaps[0]["reason"].as_str().unwrap_or_default();
            assert!(
                reason.contains("row-lock waits") && reason.contains("100ms"),
                "{reason}"
            );
            let blockers = finding(&report, "blockers");
            assert_eq!(blockers["verdict"], "UNKNOWN", "{blockers:#}");
            // Everything else was read on the same connection after the timeout.
            let connected = triage["connections"]["threads_connected"].as_u64().unwrap();
            assert!(connected > WAITERS as u64, "{connected} connected");
            // (The holder's transaction, unless something else on the server is older.)
            assert!(triage["oldest_trx"]["pid"].is_u64(), "{triage:#}");
            assert!(triage["oldest_trx"]["age_s"].is_u64(), "{triage:#}");
            assert!(triage["history_list_length"].is_u64(), "{triage:#}");
            assert_eq!(finding(&report, "connections")["verdict"], "OK");
            // A snapshot with a hole in it is not OK: the overall verdict is UNKNOWN, unless a
            // breach that was seen (WARN, CRIT) outranks it.
            let seen: Vec<&str> = report["findings"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|f| f["verdict"].as_str())
                .collect();
            let expected = ["CRIT", "WARN"]
                .into_iter()
                .find(|v| seen.contains(v))
                .unwrap_or("UNKNOWN");
            assert_eq!(report["verdict"], expected, "{report:#}");

            let text = String::from_utf8_lossy(&table.stdout);
            assert_eq!(table.status.code(), Some(0));
            assert!(text.contains("locks not read"), "{text}");
            assert!(text.contains("UNKNOWN blockers"), "{text}");
            assert!(text.contains("connections"), "{text}");
        }
    }
}
