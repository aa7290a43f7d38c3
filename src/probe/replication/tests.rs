//! The replica status of each flavor read into channels, on rows in each server's spelling.

use std::collections::BTreeMap;

use super::parse::{self, channels, failing_transaction};
use super::*;

fn row(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

const MYSQL_1062: &str = "Coordinator stopped because there were error(s) in the worker(s). The most \
    recent failure being: Worker 1 failed executing transaction \
    '3e11fa47-71ca-11e1-9e33-c80aa9429562:23' at source log binlog.000002, end_log_pos 3456. See \
    error log and/or performance_schema.replication_applier_status_by_worker table for more \
    details about this failure or others, if any.";

const MARIADB_1062: &str = "Could not execute Write_rows_v1 event on table shop.t; Duplicate entry \
    '7' for key 'PRIMARY', Error_code: 1062; handler error HA_ERR_FOUND_DUPP_KEY; the event's \
    master log mysql-bin.000001, end_log_pos 1234, Gtid 0-1-17, Internal MariaDB error code: 1062";

#[test]
fn mysql_replica_status_reads_into_a_channel() {
    let status = row(&[
        ("Replica_IO_State", "Waiting for source to send event"),
        ("Source_Host", "127.0.0.1"),
        ("Source_Port", "13307"),
        ("Replica_IO_Running", "Yes"),
        ("Replica_SQL_Running", "No"),
        ("Seconds_Behind_Source", ""),
        ("Last_SQL_Errno", "1062"),
        ("Last_SQL_Error", MYSQL_1062),
        ("Last_SQL_Error_Timestamp", "261201 23:10:01"),
        ("Last_IO_Errno", "0"),
        ("Last_IO_Error", ""),
        (
            "Retrieved_Gtid_Set",
            "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-23,\n5e11fa47-71ca-11e1-9e33-c80aa9429562:1",
        ),
        (
            "Executed_Gtid_Set",
            "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-22",
        ),
        ("Channel_Name", ""),
    ]);
    let [channel] = channels(&[status]).try_into().unwrap();
    assert_eq!(channel.name, "");
    assert_eq!(channel.source.as_deref(), Some("127.0.0.1:13307"));
    assert_eq!(channel.seconds_behind_source, None);
    assert_eq!(channel.sql_error.as_ref().map(|e| e.errno), Some(1062));
    assert_eq!(
        channel.sql_error.as_ref().and_then(|e| e.at.as_deref()),
        Some("261201 23:10:01")
    );
    assert_eq!(channel.io_error, None);
    assert_eq!(
        channel.failing_transaction.as_deref(),
        Some("3e11fa47-71ca-11e1-9e33-c80aa9429562:23")
    );
    assert_eq!(
        channel.retrieved_gtid_set.as_deref(),
        Some("3e11fa47-71ca-11e1-9e33-c80aa9429562:1-23,5e11fa47-71ca-11e1-9e33-c80aa9429562:1")
    );
    assert!(
        channel
            .broken()
            .is_some_and(|b| b.starts_with("SQL thread error 1062"))
    );
}

#[test]
fn mariadb_all_slaves_status_reads_into_a_channel_with_its_gtid() {
    let status = row(&[
        ("Connection_name", ""),
        ("Slave_IO_State", "Waiting for master to send event"),
        ("Master_Host", "127.0.0.1"),
        ("Master_Port", "13306"),
        ("Slave_IO_Running", "Yes"),
        ("Slave_SQL_Running", "No"),
        ("Seconds_Behind_Master", ""),
        ("Last_SQL_Errno", "1062"),
        ("Last_SQL_Error", MARIADB_1062),
        ("Last_IO_Errno", "0"),
        ("Gtid_IO_Pos", "0-1-17"),
        ("Using_Gtid", "Slave_Pos"),
    ]);
    let [channel] = channels(&[status]).try_into().unwrap();
    assert_eq!(channel.source.as_deref(), Some("127.0.0.1:13306"));
    assert_eq!(channel.io_running.as_deref(), Some("Yes"));
    assert_eq!(channel.sql_running.as_deref(), Some("No"));
    assert_eq!(channel.failing_transaction.as_deref(), Some("0-1-17"));
    assert_eq!(channel.gtid_io_pos.as_deref(), Some("0-1-17"));
}

#[test]
fn a_failing_event_without_a_gtid_is_named_by_its_position() {
    assert_eq!(
        failing_transaction(
            "Error 'x' on query. the event's master log mysql-bin.000003, end_log_pos 99"
        ),
        Some("mysql-bin.000003 end_log_pos 99".to_owned())
    );
    assert_eq!(failing_transaction("no position here"), None);
}

#[test]
fn a_stopped_or_connecting_io_thread_is_broken() {
    let status = row(&[
        ("Replica_IO_Running", "No"),
        ("Replica_SQL_Running", "Yes"),
        ("Seconds_Behind_Source", ""),
    ]);
    let [channel] = channels(&[status]).try_into().unwrap();
    assert_eq!(channel.broken().as_deref(), Some("IO thread no"));
    let status = row(&[
        ("Replica_IO_Running", "Connecting"),
        ("Replica_SQL_Running", "Yes"),
        ("Last_IO_Errno", "2003"),
        ("Last_IO_Error", "error connecting to source"),
    ]);
    let [channel] = channels(&[status]).try_into().unwrap();
    assert_eq!(
        channel.broken().as_deref(),
        Some("IO thread error 2003: error connecting to source")
    );
    let healthy = row(&[
        ("Replica_IO_Running", "Yes"),
        ("Replica_SQL_Running", "Yes"),
        ("Seconds_Behind_Source", "3"),
    ]);
    let [channel] = channels(&[healthy]).try_into().unwrap();
    assert_eq!(channel.broken(), None);
    assert_eq!(channel.lag_s(), Some(3.0));
}

#[test]
fn the_applier_lag_is_what_is_applied_now_else_how_late_the_last_one_was() {
    let mut chans = channels(&[row(&[("Channel_Name", ""), ("Seconds_Behind_Source", "0")])]);
    let worker = |id: &str, applying: Option<(&str, &str)>, last_us: &str| {
        let mut r = row(&[
            ("channel", ""),
            ("worker_id", id),
            ("pid", "40"),
            ("last_applied", "u:5"),
            ("last_applied_lag_us", last_us),
        ]);
        if let Some((gtid, us)) = applying {
            r.insert("applying".into(), gtid.into());
            r.insert("applying_lag_us".into(), us.into());
        }
        r
    };
    parse::attach_workers(
        &mut chans,
        &[
            worker("1", Some(("u:6", "12500000")), "1000"),
            worker("2", None, "2000"),
        ],
    );
    assert_eq!(chans[0].applier_lag_s, Some(12.5));
    assert_eq!(chans[0].lag_s(), Some(12.5), "the worst of the three");
    let mut idle = channels(&[row(&[("Channel_Name", "")])]);
    parse::attach_workers(&mut idle, &[worker("1", None, "250000")]);
    assert_eq!(idle[0].applier_lag_s, Some(0.25));
}

#[test]
fn replicas_are_matched_to_their_dump_threads() {
    let mut dump = Thread::sample(12, "repl", "Binlog Dump GTID", None);
    dump.host = Some("10.0.0.9:40112".into());
    let mut other = Thread::sample(13, "repl", "Binlog Dump", None);
    other.host = Some("10.0.0.10:40113".into());
    let listed = parse::replicas(
        &[row(&[
            ("Server_Id", "2"),
            ("Host", "10.0.0.9"),
            ("Port", "3306"),
        ])],
        &[dump, other, Thread::sample(14, "app", "Sleep", None)],
    );
    assert_eq!(listed.len(), 2);
    assert_eq!((listed[0].server_id, listed[0].pid), (Some(2), Some(12)));
    assert_eq!(
        (
            listed[1].server_id,
            listed[1].pid,
            listed[1].host.as_deref()
        ),
        (None, Some(13), Some("10.0.0.10"))
    );
}

#[test]
fn semi_sync_reads_both_spellings() {
    let semi = parse::semi_sync(&[
        row(&[
            ("Variable_name", "Rpl_semi_sync_master_status"),
            ("Value", "ON"),
        ]),
        row(&[
            ("Variable_name", "Rpl_semi_sync_master_clients"),
            ("Value", "2"),
        ]),
        row(&[
            ("Variable_name", "Rpl_semi_sync_replica_status"),
            ("Value", "OFF"),
        ]),
    ]);
    assert_eq!(semi.source_on, Some(true));
    assert_eq!(semi.source_clients, Some(2));
    assert_eq!(semi.replica_on, Some(false));
}

/// Rows as `information_schema.replica_host_status` returns them (recorded from the AWS
/// documentation's example; Aurora cannot run here).
#[test]
fn aurora_instances_name_the_writer_by_its_session() {
    let instances = parse::aurora(&[
        row(&[
            ("server_id", "db-writer"),
            ("session_id", "MASTER_SESSION_ID"),
            ("lag_ms", "0"),
            ("last_update", "2026-12-01 23:00:00"),
        ]),
        row(&[
            ("server_id", "db-reader-1"),
            ("session_id", "b4aa6ee2-ae1b-4f5c-8f1c-3a6d5e2d8c11"),
            ("lag_ms", "17.2"),
        ]),
    ]);
    assert_eq!(instances[0].role, Role::Writer);
    assert_eq!(instances[1].role, Role::Reader);
    assert_eq!(instances[1].lag_ms, Some(17.2));
}

#[test]
fn heartbeat_tables_are_plain_identifiers() {
    assert_eq!(
        "percona.heartbeat".parse::<HeartbeatTable>(),
        Ok(HeartbeatTable {
            db: "percona".into(),
            table: "heartbeat".into()
        })
    );
    for bad in ["heartbeat", "a.b;DROP", "a.`b`", ".t", "db."] {
        assert!(bad.parse::<HeartbeatTable>().is_err(), "{bad}");
    }
}

#[test]
fn a_blocked_applier_is_named_under_its_root_blocker() {
    let blocked = BlockedApplier {
        applier_pid: 40,
        blocker_pid: 7,
        blocker_user: Some("report".into()),
        statement: None,
        last_statement: Some("SELECT * FROM shop.t FOR UPDATE".into()),
        idle_in_trx: true,
        exact: true,
    };
    assert_eq!(
        view::blocked_text(&blocked, false),
        "applier 40 blocked by session 7 (report), idle in transaction: last: SELECT * FROM shop.t FOR UPDATE"
    );
}

/// MySQL's SHOW REPLICAS leaves Host empty without report_host: the dump thread's client
/// address names the replica.
#[test]
fn a_replica_without_report_host_is_named_by_its_dump_thread() {
    let mut dump = Thread::sample(21, "repl", "Binlog Dump GTID", None);
    dump.host = Some("127.0.0.1:51000".into());
    let listed = parse::replicas(
        &[row(&[("Server_Id", "2"), ("Host", ""), ("Port", "13310")])],
        &[dump],
    );
    assert_eq!(listed.len(), 1);
    assert_eq!(
        (listed[0].host.as_deref(), listed[0].port, listed[0].pid),
        (Some("127.0.0.1"), Some(13310), Some(21))
    );
}

/// MariaDB 10.11's applier error names the event's position only; the relay log's event group
/// starts with the GTID (recorded from a real 1062 on the test replica).
#[test]
fn a_mariadb_failing_event_is_named_by_the_gtid_of_its_group() {
    let message = "Could not execute Write_rows_v1 event on table mytriage_test.t; Duplicate entry \
        '7' for key 'PRIMARY', Error_code: 1062; handler error HA_ERR_FOUND_DUPP_KEY; the event's \
        master log mariadb-bin.000002, end_log_pos 4276001";
    assert_eq!(
        failing_transaction(message).as_deref(),
        Some("mariadb-bin.000002 end_log_pos 4276001")
    );
    assert_eq!(
        parse::gtid_of_event("BEGIN GTID 0-1-26817").as_deref(),
        Some("0-1-26817")
    );
    assert_eq!(parse::gtid_of_event("use `db`; INSERT ..."), None);
    let status = row(&[
        ("Slave_SQL_Running", "No"),
        ("Last_SQL_Errno", "1062"),
        ("Last_SQL_Error", message),
        ("Relay_Log_File", "relay-bin.000002"),
        ("Relay_Log_Pos", "2924016"),
    ]);
    let [channel] = channels(&[status]).try_into().unwrap();
    assert_eq!(
        channel.relay_log,
        Some(("relay-bin.000002".to_owned(), 2924016))
    );
}

/// Recorded on the MySQL 9.7 replica under load: worker 1 failed on a duplicate key, worker 2
/// then stopped on 3030, and the coordinator's error named worker 2's transaction.
#[test]
fn the_first_failing_worker_is_the_cause_not_the_coordinators_latest() {
    let mut chans = channels(&[row(&[
        ("Channel_Name", ""),
        ("Replica_SQL_Running", "No"),
        ("Last_SQL_Errno", "3030"),
        (
            "Last_SQL_Error",
            "Coordinator stopped because there were error(s) in the worker(s). The most recent \
             failure being: Worker 2 failed executing transaction 'u:248301' at source log \
             binlog.000003, end_log_pos 22567815.",
        ),
    ])]);
    let worker = |id: &str, gtid: &str, errno: &str, at: &str| {
        row(&[
            ("channel", ""),
            ("worker_id", id),
            ("applying", gtid),
            ("error_number", errno),
            ("error_message", "..."),
            ("error_at", at),
        ])
    };
    parse::attach_workers(
        &mut chans,
        &[
            worker("1", "u:248300", "1062", "2026-12-02 00:44:45.738001"),
            worker("2", "u:248301", "3030", "2026-12-02 00:44:45.738581"),
        ],
    );
    assert_eq!(chans[0].sql_error.as_ref().map(|e| e.errno), Some(1062));
    assert_eq!(chans[0].failing_transaction.as_deref(), Some("u:248300"));
}

#[test]
fn aurora_instance_endpoints_come_from_the_cluster_endpoint() {
    let domain = "c9akciq32.us-east-1.rds.amazonaws.com";
    for connected in [
        format!("shop.cluster-{domain}"),
        format!("shop.cluster-ro-{domain}"),
        format!("shop-writer.{domain}"),
    ] {
        assert_eq!(
            aurora_endpoint("shop-reader-1", &connected).as_deref(),
            Some(format!("shop-reader-1.{domain}").as_str()),
            "{connected}"
        );
    }
    assert_eq!(aurora_endpoint("r1", "db1.example.com"), None);
    assert_eq!(aurora_endpoint("r1", "localhost"), None);
}
