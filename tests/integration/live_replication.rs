//! Replication on real replicas (`MYTRIAGE_TEST_REPLICAS`): an applier blocked by a session on
//! the replica, an applier stopped while the source writes, a replica broken by a duplicate key,
//! a stopped IO thread, and the fleet view over each pair. Every scenario first opens an older,
//! unrelated idle transaction on the replica, as a decoy that must not be blamed.
//!
//! The replicas are shared, so these tests run one at a time (module `replica`).

pub mod replica {
    use mysql_async::Conn;
    use mysql_async::prelude::*;
    use serde_json::Value;

    use crate::support::replicas::{Pair, pairs};
    use crate::support::{self, Flavor, Mytriage};

    /// A table on the source, replicated; the replica has applied it when this returns.
    async fn replicated_table(pair: &Pair, prefix: &str) -> String {
        let table = pair.source.scratch_table(prefix).await;
        pair.caught_up().await.expect("replica caught up");
        table
    }

    /// An older, unrelated transaction left idle on the replica: it must never be the culprit.
    async fn decoy(pair: &Pair) -> (Conn, u64) {
        let mut conn = pair.replica.conn().await;
        // Replica-local, outside the binary log: no errant transaction.
        conn.query_drop("SET SESSION sql_log_bin = 0")
            .await
            .unwrap();
        conn.query_drop("CREATE DATABASE IF NOT EXISTS mytriage_decoy")
            .await
            .unwrap();
        conn.query_drop(
            "CREATE TABLE IF NOT EXISTS mytriage_decoy.d (id INT PRIMARY KEY) ENGINE=InnoDB",
        )
        .await
        .unwrap();
        conn.query_drop("START TRANSACTION").await.unwrap();
        conn.query_drop("SELECT COUNT(*) FROM mytriage_decoy.d")
            .await
            .unwrap();
        let pid: u64 = conn
            .query_first("SELECT CONNECTION_ID()")
            .await
            .unwrap()
            .unwrap();
        (conn, pid)
    }

    /// Polls `check` until it returns a value, for up to 60 s (a replica's applier waits, an
    /// error appears); panics with its last complaint otherwise.
    async fn poll<T>(what: &str, check: impl FnMut() -> Result<T, String>) -> T {
        try_poll(what, check)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// [`poll`] that returns its failure, for a test that must repair the replica first.
    async fn try_poll<T>(
        what: &str,
        mut check: impl FnMut() -> Result<T, String>,
    ) -> Result<T, String> {
        let started = std::time::Instant::now();
        loop {
            match check() {
                Ok(value) => return Ok(value),
                Err(last) if started.elapsed() > std::time::Duration::from_secs(60) => {
                    return Err(format!("never happened: {what}: {last}"));
                }
                Err(_) => tokio::time::sleep(std::time::Duration::from_millis(500)).await,
            }
        }
    }

    /// Ends a scenario: the decoy rolls back, the table goes on the source and on the replica.
    async fn end(pair: &Pair, mut decoy: Conn, mut source: Conn, table: &str) {
        let _ = decoy.query_drop("ROLLBACK").await;
        let _ = decoy.disconnect().await;
        source
            .query_drop(format!("DROP TABLE {table}"))
            .await
            .unwrap();
        let _ = source.disconnect().await;
        pair.caught_up().await.unwrap();
    }

    fn replication(pair: &Pair) -> Value {
        Mytriage::new(&pair.replica.url)
            .args(["replication", "--format", "json"])
            .json()
    }

    fn channel(report: &Value) -> Value {
        let channels = report["channels"].as_array().expect("channels");
        assert_eq!(channels.len(), 1, "{report:#}");
        channels[0].clone()
    }

    fn finding(status: &Value, check: &str) -> Value {
        status["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .find(|f| f["check"] == check)
            .cloned()
            .unwrap_or_else(|| panic!("no {check} finding: {status:#}"))
    }

    #[tokio::test]
    async fn an_applier_blocked_by_a_replica_session_is_named_with_its_blocker() {
        for pair in pairs() {
            support::announce("applier blocked on the replica", &pair.replica);
            let table = replicated_table(&pair, "repl_block").await;
            let (decoy, decoy_pid) = decoy(&pair).await;
            let mut holder = pair.replica.conn().await;
            let holder_pid: u64 = holder
                .query_first("SELECT CONNECTION_ID()")
                .await
                .unwrap()
                .unwrap();
            holder.query_drop("START TRANSACTION").await.unwrap();
            holder
                .query_drop(format!("SELECT * FROM {table} WHERE id = 1 FOR UPDATE"))
                .await
                .unwrap();
            let mut source = pair.source.conn().await;
            source
                .query_drop(format!("UPDATE {table} SET v = v + 1 WHERE id = 1"))
                .await
                .unwrap();

            let blocked = poll("the applier waits for the holder", || {
                let report = replication(&pair);
                let c = channel(&report);
                let lag = c["seconds_behind_source"]
                    .as_f64()
                    .into_iter()
                    .chain(c["applier_lag_s"].as_f64())
                    .fold(0.0, f64::max);
                (c["blocked_by"]["blocker_pid"] == holder_pid && lag >= 3.0)
                    .then_some(c)
                    .ok_or_else(|| format!("{report:#}"))
            })
            .await;
            assert_eq!(blocked["blocked_by"]["exact"], true, "{blocked:#}");
            assert_ne!(blocked["blocked_by"]["blocker_pid"], decoy_pid);
            assert!(
                blocked["blocked_by"]["last_statement"]
                    .as_str()
                    .is_none_or(|s| s.contains("FOR UPDATE")),
                "{blocked:#}"
            );
            let applier = blocked["blocked_by"]["applier_pid"].as_u64().unwrap();
            let text = Mytriage::new(&pair.replica.url)
                .args(["replication"])
                .expect_code(0);
            let text = String::from_utf8_lossy(&text.stdout);
            assert!(
                text.contains(&format!("blocked by session {holder_pid}")),
                "{text}"
            );

            // locks on the replica: the applier waits under the replica's own session.
            let locks = Mytriage::new(&pair.replica.url)
                .args(["locks", "--format", "json"])
                .json();
            let root = locks["roots"]
                .as_array()
                .unwrap()
                .iter()
                .find(|r| r["pid"] == holder_pid)
                .unwrap_or_else(|| panic!("holder is not a root: {locks:#}"));
            assert!(
                root["waiters"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|w| w["pid"] == applier),
                "{locks:#}"
            );

            // status judges the lag and names the session.
            let status = Mytriage::new(&pair.replica.url)
                .args(["status", "--format", "json", "--repl-lag-warn", "2s"])
                .json();
            let repl = finding(&status, "replication");
            assert_ne!(repl["verdict"], "OK", "{repl:#}");
            assert!(
                repl["summary"]
                    .as_str()
                    .unwrap()
                    .contains(&format!("blocked by session {holder_pid}")),
                "{repl:#}"
            );

            // kill refuses the applier, as every replication thread.
            let dir = tempfile::tempdir().unwrap();
            let evidence = dir.path().join("e.jsonl");
            // Recorded for the report: its Cause names the holder, not the decoy.
            Mytriage::new(&pair.replica.url)
                .args(["replication", "--record", "--evidence"])
                .arg(&evidence)
                .expect_code(0);
            let report = Mytriage::offline()
                .args(["report", "--lang", "en", "--since", "1h", "--evidence"])
                .arg(&evidence)
                .expect_code(0);
            let report = String::from_utf8_lossy(&report.stdout);
            assert!(
                report.contains(&format!("held up by session {holder_pid}")),
                "{report}"
            );
            assert!(
                !report.contains(&format!("session {decoy_pid}")),
                "{report}"
            );
            let refused = Mytriage::new(&pair.replica.url)
                .args(["kill", &applier.to_string(), "--yes", "--reason", "x"])
                .arg("--evidence")
                .arg(&evidence)
                .output();
            assert_eq!(refused.status.code(), Some(2));
            assert!(
                String::from_utf8_lossy(&refused.stderr).contains("refusing to kill"),
                "{}",
                String::from_utf8_lossy(&refused.stderr)
            );

            // The kill snapshot of the holder records that it held up the applier, for the report.
            let dry = Mytriage::new(&pair.replica.url)
                .args([
                    "kill",
                    &holder_pid.to_string(),
                    "--dry-run",
                    "--reason",
                    "applier",
                ])
                .args(["--format", "json"])
                .arg("--evidence")
                .arg(&evidence)
                .json();
            assert_eq!(
                dry["victims"][0]["snapshot"]["blocks"]["appliers"],
                serde_json::json!([applier]),
                "{dry:#}"
            );
            holder.query_drop("ROLLBACK").await.unwrap();
            pair.caught_up()
                .await
                .expect("applied after the holder let go");
            let _ = holder.disconnect().await;
            end(&pair, decoy, source, &table).await;
        }
    }

    #[tokio::test]
    async fn a_stopped_applier_falls_behind_and_is_critical() {
        for pair in pairs() {
            support::announce("applier stopped while the source writes", &pair.replica);
            let table = replicated_table(&pair, "repl_stop").await;
            let (decoy, decoy_pid) = decoy(&pair).await;
            pair.replica_thread(false, "SQL_THREAD").await.unwrap();
            let mut source = pair.source.conn().await;
            for id in 10..20 {
                source
                    .query_drop(format!("INSERT INTO {table} VALUES ({id}, 0)"))
                    .await
                    .unwrap();
            }
            let observed = try_poll("the writes are received and not applied", || {
                let report = replication(&pair);
                let c = channel(&report);
                // Received but not applied: MySQL's retrieved set is ahead of the executed one,
                // MariaDB's gtid_io_pos ahead of gtid_slave_pos.
                let behind = match c["gtid_io_pos"].as_str() {
                    Some(received) => report["mariadb_gtid"]["gtid_slave_pos"] != received,
                    None => c["retrieved_gtid_set"] != c["executed_gtid_set"],
                };
                (c["sql_running"] == "No" && behind)
                    .then_some(c)
                    .ok_or_else(|| format!("{report:#}"))
            })
            .await;
            let status = Mytriage::new(&pair.replica.url)
                .args(["status", "--format", "json"])
                .json();
            let check = Mytriage::new(&pair.replica.url).args(["check"]).output();
            // Started again before judging, so a failed assertion never leaves it stopped.
            pair.replica_thread(true, "SQL_THREAD").await.unwrap();
            pair.caught_up().await.expect("caught up after START");

            let c = observed.unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(c["io_running"], "Yes", "{c:#}");
            let repl = finding(&status, "replication");
            assert_eq!(repl["verdict"], "CRIT", "{repl:#}");
            assert!(
                repl["summary"].as_str().unwrap().contains("SQL thread"),
                "{repl:#}"
            );
            assert!(
                !repl["summary"]
                    .as_str()
                    .unwrap()
                    .contains(&decoy_pid.to_string()),
                "{repl:#}"
            );
            assert_eq!(check.status.code(), Some(2), "CRITICAL");
            let status = Mytriage::new(&pair.replica.url)
                .args(["status", "--format", "json"])
                .json();
            assert_eq!(finding(&status, "replication")["verdict"], "OK");
            end(&pair, decoy, source, &table).await;
        }
    }

    /// Runs `sql` (one autocommitted statement) on the source and returns its GTID. Other tests
    /// commit on the same source meanwhile, so MySQL's transaction is given a GTID of its own
    /// (a UUID no server has); MariaDB says the session's own in `@@last_gtid`.
    async fn commit_with_gtid(conn: &mut Conn, flavor: Flavor, sql: &str) -> String {
        match flavor {
            Flavor::MariaDb => {
                conn.query_drop(sql).await.unwrap();
                conn.query_first("SELECT @@last_gtid")
                    .await
                    .unwrap()
                    .unwrap()
            }
            Flavor::MySql => {
                let nanos = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_nanos();
                let gtid = format!("7e570000-0000-4000-8000-{:012x}:1", nanos % (1 << 48));
                conn.query_drop(format!("SET SESSION gtid_next = '{gtid}'"))
                    .await
                    .unwrap();
                conn.query_drop(sql).await.unwrap();
                conn.query_drop("SET SESSION gtid_next = 'AUTOMATIC'")
                    .await
                    .unwrap();
                gtid
            }
        }
    }

    #[tokio::test]
    async fn a_duplicate_key_breaks_the_replica_and_names_the_gtid() {
        for pair in pairs() {
            support::announce("replica broken by a duplicate key", &pair.replica);
            let flavor = pair.flavor().await;
            let table = replicated_table(&pair, "repl_dup").await;
            let (decoy, decoy_pid) = decoy(&pair).await;
            let dir = tempfile::tempdir().unwrap();
            let evidence = dir.path().join("e.jsonl");
            let incident = |action: &[&str]| {
                Mytriage::offline()
                    .arg("incident")
                    .args(action)
                    .arg("--evidence")
                    .arg(&evidence)
                    .expect_code(0);
            };
            incident(&["start", "--title", "replica broken"]);
            let mut local = pair.replica.conn().await;
            local
                .query_drop("SET SESSION sql_log_bin = 0")
                .await
                .unwrap();
            local
                .query_drop(format!("INSERT INTO {table} VALUES (7, 1)"))
                .await
                .unwrap();
            let mut source = pair.source.conn().await;
            let insert = format!("INSERT INTO {table} VALUES (7, 2)");
            let gtid = commit_with_gtid(&mut source, flavor, &insert).await;
            // Observed first and judged after the repair, so a failed assertion never leaves
            // the shared replica broken.
            let observed = try_poll("the applier stops with an error", || {
                let report = replication(&pair);
                let c = channel(&report);
                (c["sql_running"] == "No" && c["sql_error"].is_object())
                    .then_some(c)
                    .ok_or_else(|| format!("{report:#}"))
            })
            .await;
            let status = Mytriage::new(&pair.replica.url)
                .args(["status", "--format", "json"])
                .json();
            // Recorded while broken, for the report.
            let recorded = Mytriage::new(&pair.replica.url)
                .args(["replication", "--record", "--evidence"])
                .arg(&evidence)
                .output();

            // Repair: the replica's own row goes, the source's row applies.
            local
                .query_drop(format!("DELETE FROM {table} WHERE id = 7"))
                .await
                .unwrap();
            pair.replica_thread(true, "SQL_THREAD").await.unwrap();
            pair.caught_up().await.expect("repaired");

            let c = observed.unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(c["sql_error"]["errno"], 1062, "{c:#}");
            assert_eq!(c["failing_transaction"], gtid.as_str(), "{c:#}");
            let repl = finding(&status, "replication");
            assert_eq!(repl["verdict"], "CRIT", "{repl:#}");
            assert!(
                repl["summary"].as_str().unwrap().contains("1062")
                    && repl["summary"].as_str().unwrap().contains(&gtid),
                "{repl:#}"
            );

            // The report names the broken replica and the transaction, and not the decoy.
            assert_eq!(recorded.status.code(), Some(0), "{recorded:?}");
            incident(&["end"]);
            let report = Mytriage::offline()
                .args(["report", "--lang", "en", "--evidence"])
                .arg(&evidence)
                .expect_code(0);
            let report = String::from_utf8_lossy(&report.stdout);
            let cause = report
                .split("\n## ")
                .find(|s| s.starts_with("Cause"))
                .unwrap_or_else(|| panic!("no Cause: {report}"));
            assert!(
                cause.contains("broke")
                    && cause.contains("error 1062")
                    && cause.contains(&format!("could not apply transaction {gtid}")),
                "{report}"
            );
            assert!(report.contains("had stopped taking changes"), "{report}");
            assert!(
                !report.contains(&format!("session {decoy_pid}")),
                "{report}"
            );
            let _ = local.disconnect().await;
            end(&pair, decoy, source, &table).await;
        }
    }

    #[tokio::test]
    async fn a_stopped_io_thread_is_critical() {
        for pair in pairs() {
            support::announce("IO thread stopped", &pair.replica);
            let (mut decoy, _) = decoy(&pair).await;
            pair.replica_thread(false, "IO_THREAD").await.unwrap();
            let report = replication(&pair);
            let status = Mytriage::new(&pair.replica.url)
                .args(["status", "--format", "json"])
                .json();
            pair.replica_thread(true, "IO_THREAD").await.unwrap();
            let c = channel(&report);
            assert_eq!(c["io_running"], "No", "{c:#}");
            let repl = finding(&status, "replication");
            assert_eq!(repl["verdict"], "CRIT", "{repl:#}");
            assert!(
                repl["summary"].as_str().unwrap().contains("IO thread"),
                "{repl:#}"
            );
            pair.caught_up().await.expect("caught up after START");
            let _ = decoy.query_drop("ROLLBACK").await;
            let _ = decoy.disconnect().await;
        }
    }

    /// A table as pt-heartbeat creates and fills it (`ts` as ISO text, one row per server id),
    /// written on the source five seconds in the past: the replica reads that age.
    #[tokio::test]
    async fn a_heartbeat_table_gives_the_lag_it_records() {
        for pair in pairs() {
            support::announce("pt-heartbeat table", &pair.replica);
            let (decoy, _) = decoy(&pair).await;
            let table = format!("mytriage_test.heartbeat_{}", std::process::id());
            let mut source = pair.source.conn().await;
            for sql in [
                "CREATE DATABASE IF NOT EXISTS mytriage_test".to_owned(),
                format!(
                    "CREATE TABLE {table} (ts VARCHAR(26) NOT NULL, server_id INT UNSIGNED NOT NULL PRIMARY KEY)"
                ),
                format!(
                    "INSERT INTO {table} VALUES (DATE_FORMAT(NOW(6) - INTERVAL 5 SECOND, '%Y-%m-%dT%H:%i:%s.%f'), 1)"
                ),
            ] {
                source
                    .query_drop(&sql)
                    .await
                    .unwrap_or_else(|e| panic!("{sql}: {e}"));
            }
            pair.caught_up().await.unwrap();
            let report = Mytriage::new(&pair.replica.url)
                .args([
                    "replication",
                    "--format",
                    "json",
                    "--heartbeat-table",
                    &table,
                ])
                .json();
            let lag = channel(&report)["heartbeat_lag_s"].as_f64();
            end(&pair, decoy, source, &table).await;
            let lag = lag.unwrap_or_else(|| panic!("no heartbeat lag: {report:#}"));
            assert!((4.5..60.0).contains(&lag), "heartbeat lag {lag}");
        }
    }

    #[tokio::test]
    async fn the_fleet_view_reads_every_host_and_survives_one_down() {
        for pair in pairs() {
            support::announce("status --hosts and --cluster", &pair.source);
            // An idle transaction on the replica that holds nothing up: never a root blocker.
            let (mut decoy, decoy_pid) = decoy(&pair).await;
            let host_of = |url: &str| {
                url.rsplit('@')
                    .next()
                    .unwrap()
                    .trim_end_matches('/')
                    .to_owned()
            };
            let (source, replica) = (host_of(&pair.source.url), host_of(&pair.replica.url));
            // Port 1: nothing listens there.
            let hosts = format!("{source},{replica},127.0.0.1:1");
            let output = Mytriage::offline()
                .args(["-u", "root", "status", "--format", "json"])
                .args(["--hosts", &hosts, "--connect-timeout", "2s"])
                .output();
            let report: Value = serde_json::from_slice(&output.stdout).expect("fleet JSON");
            let rows = report["hosts"].as_array().unwrap();
            assert_eq!(rows.len(), 3, "{report:#}");
            assert_eq!(rows[0]["role"], "source", "{report:#}");
            assert_eq!(rows[1]["role"], "replica", "{report:#}");
            assert_eq!(rows[0]["ok"], true);
            assert_eq!(rows[1]["ok"], true);
            assert_eq!(rows[2]["ok"], false);
            let error = rows[2]["error"].as_str().unwrap();
            assert!(
                !error.contains('\n') && error.contains("127.0.0.1:1"),
                "{error}"
            );
            assert_eq!(rows[2]["verdict"], "UNKNOWN");
            assert!(
                !rows[1]["root_blockers"]
                    .as_array()
                    .unwrap()
                    .contains(&serde_json::json!(decoy_pid)),
                "{report:#}"
            );
            assert_eq!(
                rows[1]["oldest_trx"]["pid"], decoy_pid,
                "the decoy is only the oldest transaction: {report:#}"
            );
            // The worst verdict: UNKNOWN (3) unless a host that was read is WARN or CRIT.
            let expected = match report["verdict"].as_str().unwrap() {
                "CRIT" => 2,
                "WARN" => 1,
                _ => 3,
            };
            assert_eq!(output.status.code(), Some(expected), "{report:#}");
            // The table keeps the down host's error short; the whole line, with its hint,
            // follows the table.
            let table = Mytriage::offline()
                .args(["-u", "root", "status"])
                .args(["--hosts", &hosts, "--connect-timeout", "2s"])
                .output();
            let text = String::from_utf8_lossy(&table.stdout);
            let row = text
                .lines()
                .find(|l| l.contains("127.0.0.1:1 ") && l.contains("UNKNOWN"))
                .unwrap_or_else(|| panic!("no row for the down host: {text}"));
            assert!(
                row.contains('…') && !row.contains("Is a server listening"),
                "{text}"
            );
            assert!(
                text.lines()
                    .any(|l| l.starts_with("127.0.0.1:1: cannot connect")
                        && l.contains("Is a server listening there?")),
                "{text}"
            );

            // --cluster from the replica finds its source, and from the source its replica.
            for (seed, other) in [(&replica, &source), (&source, &replica)] {
                let (host, port) = seed.rsplit_once(':').unwrap();
                let report = Mytriage::offline()
                    .args(["-u", "root", "-h", host, "-P", port])
                    .args(["replication", "--cluster", "--format", "json"])
                    .output();
                // The exit code is the worst verdict's; the shape is what is judged here.
                let report: Value = serde_json::from_slice(&report.stdout).expect("fleet JSON");
                let names: Vec<&str> = report["hosts"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter_map(|h| h["host"].as_str())
                    .collect();
                let other_port = other.rsplit(':').next().unwrap();
                assert!(
                    names.len() == 2 && names[1].ends_with(&format!(":{other_port}")),
                    "from {seed}: {report:#}"
                );
                assert!(
                    report["hosts"][1]["found"]
                        .as_str()
                        .unwrap()
                        .contains(seed.as_str())
                );
            }
            let _ = decoy.query_drop("ROLLBACK").await;
            let _ = decoy.disconnect().await;
        }
    }
}
