//! Every SQL statement mytriage runs, from `queries/`. Each file can be pasted into `mysql` as is.
//! Which one a source reads with is in [`sources`].

mod sources;

/// Server variables used to detect the flavor.
pub(crate) const SERVER_VARIABLES: &str = include_str!("../queries/server_variables.sql");
/// Which diagnostic tables exist.
pub(crate) const SERVER_TABLES: &str = include_str!("../queries/server_tables.sql");
/// The account's grants.
pub(crate) const SHOW_GRANTS: &str = include_str!("../queries/show_grants.sql");
/// The account the server matched.
pub(crate) const CURRENT_USER: &str = include_str!("../queries/current_user.sql");
/// Whether the MDL instrument and the statement consumers are enabled.
pub(crate) const PS_SETUP: &str = include_str!("../queries/ps_setup.sql");
/// Read back the session set-up on MySQL and Aurora.
pub(crate) const SESSION_CHECK_MYSQL: &str = include_str!("../queries/session_check.mysql.sql");
/// Read back the session set-up on MariaDB.
pub(crate) const SESSION_CHECK_MARIADB: &str = include_str!("../queries/session_check.mariadb.sql");
/// Our own program_name connection attribute.
pub(crate) const OWN_PROGRAM_NAME: &str = include_str!("../queries/own_program_name.sql");
/// Processlist with transactions, from performance_schema.processlist.
pub(crate) const PROCESSLIST_PS_PROCESSLIST: &str =
    include_str!("../queries/processlist.ps_processlist.sql");
/// Processlist with transactions, from performance_schema.threads.
pub(crate) const PROCESSLIST_PS_THREADS: &str =
    include_str!("../queries/processlist.ps_threads.sql");
/// Processlist with transactions, from information_schema.PROCESSLIST.
pub(crate) const PROCESSLIST_I_S: &str = include_str!("../queries/processlist.i_s.sql");
/// Row-lock waits from performance_schema.data_lock_waits.
pub(crate) const LOCK_WAITS_P_S: &str = include_str!("../queries/lock_waits.p_s.sql");
/// Queue edges of given waiters from performance_schema.data_lock_waits.
pub(crate) const LOCK_WAITS_QUEUED_P_S: &str = include_str!("../queries/lock_waits_queued.p_s.sql");
/// Row-lock waits from information_schema.INNODB_LOCK_WAITS.
pub(crate) const LOCK_WAITS_I_S: &str = include_str!("../queries/lock_waits.i_s.sql");
/// Queue edges of given waiters from information_schema.INNODB_LOCK_WAITS.
pub(crate) const LOCK_WAITS_QUEUED_I_S: &str = include_str!("../queries/lock_waits_queued.i_s.sql");
/// Metadata-lock wait candidates from performance_schema.metadata_locks.
pub(crate) const MDL_WAITS_P_S: &str = include_str!("../queries/mdl_waits.p_s.sql");
/// Granted metadata locks from MariaDB's metadata_lock_info plugin.
pub(crate) const METADATA_LOCK_INFO: &str = include_str!("../queries/metadata_lock_info.sql");
/// Sessions holding tables open, from performance_schema.table_handles.
pub(crate) const TABLE_HANDLES_P_S: &str = include_str!("../queries/table_handles.p_s.sql");
/// The holder of one user-level lock.
pub(crate) const USER_LOCK_HOLDER: &str = include_str!("../queries/user_lock_holder.sql");
/// When each active transaction began, sub-second.
pub(crate) const TRX_TIMER_START_P_S: &str = include_str!("../queries/trx_timer_start.p_s.sql");
/// Last statements of sessions in a transaction.
pub(crate) const LAST_STATEMENTS_P_S: &str = include_str!("../queries/last_statements.p_s.sql");
/// SHOW ENGINE INNODB STATUS.
pub(crate) const INNODB_STATUS: &str = include_str!("../queries/innodb_status.sql");
/// History list length from INNODB_METRICS on MySQL and Aurora.
pub(crate) const HISTORY_LIST_LENGTH_MYSQL: &str =
    include_str!("../queries/history_list_length.mysql.sql");
/// History list length from INNODB_METRICS on MariaDB.
pub(crate) const HISTORY_LIST_LENGTH_MARIADB: &str =
    include_str!("../queries/history_list_length.mariadb.sql");
/// Connection status counters.
pub(crate) const CONNECTION_STATUS: &str = include_str!("../queries/connection_status.sql");
/// Deadlocks since start-up on MySQL and Aurora (INNODB_METRICS `lock_deadlocks`), for the exporter.
pub(crate) const DEADLOCKS_TOTAL_MYSQL: &str = include_str!("../queries/deadlocks_total.mysql.sql");
/// Deadlocks since start-up on MariaDB (`Innodb_deadlocks`), for the exporter.
pub(crate) const DEADLOCKS_TOTAL_MARIADB: &str =
    include_str!("../queries/deadlocks_total.mariadb.sql");
/// Per-account connection limits.
pub(crate) const ACCOUNT_LIMITS: &str = include_str!("../queries/account_limits.sql");
/// This session's TLS cipher.
pub(crate) const SESSION_TLS: &str = include_str!("../queries/session_tls.sql");
/// One session's identity for re-verification from performance_schema.processlist (MySQL
/// 8.0.22+), with the statement event id.
pub(crate) const THREAD_IDENTITY_P_S: &str = include_str!("../queries/thread_identity.p_s.sql");
/// One session's identity for re-verification, with MariaDB's QUERY_ID.
pub(crate) const THREAD_IDENTITY_MARIADB: &str =
    include_str!("../queries/thread_identity.mariadb.sql");
/// One session's identity for re-verification, without an activity marker.
pub(crate) const THREAD_IDENTITY_I_S: &str = include_str!("../queries/thread_identity.i_s.sql");
/// Locks of one transaction, from performance_schema.data_locks.
pub(crate) const LOCKS_HELD_P_S: &str = include_str!("../queries/locks_held.p_s.sql");
/// Locks of one transaction, from information_schema.INNODB_LOCKS.
pub(crate) const LOCKS_HELD_I_S: &str = include_str!("../queries/locks_held.i_s.sql");
/// Metadata locks one session holds.
pub(crate) const METADATA_LOCKS_HELD_P_S: &str =
    include_str!("../queries/metadata_locks_held.p_s.sql");
/// The RDS kill procedures this account can run.
pub(crate) const RDS_KILL_PROCEDURES: &str = include_str!("../queries/rds_kill_procedures.sql");
/// The server's clock.
pub(crate) const SERVER_NOW: &str = include_str!("../queries/server_now.sql");
/// One `top` sample from performance_schema.
pub(crate) const TOP_SAMPLE_P_S: &str = include_str!("../queries/top_sample.p_s.sql");
/// Deadlocks recorded in performance_schema.error_log.
pub(crate) const LOGGED_DEADLOCKS: &str = include_str!("../queries/logged_deadlocks.sql");
/// Statement counters per digest.
pub(crate) const DIGEST_COUNTERS: &str = include_str!("../queries/digest_counters.sql");
/// SHOW FULL PROCESSLIST, the fallback when information_schema.PROCESSLIST refuses.
pub(crate) const SHOW_FULL_PROCESSLIST: &str = include_str!("../queries/show_full_processlist.sql");
/// Open InnoDB transactions, for joining to SHOW FULL PROCESSLIST.
pub(crate) const INNODB_TRX: &str = include_str!("../queries/innodb_trx.sql");

/// The replica status, MySQL 8.0.22+ spelling.
pub(crate) const REPLICA_STATUS_MYSQL: &str = include_str!("../queries/replica_status.mysql.sql");
/// The replica status, MySQL 5.7 and 8.0 before 8.0.22.
pub(crate) const REPLICA_STATUS_LEGACY: &str = include_str!("../queries/replica_status.legacy.sql");
/// Every replication connection of a MariaDB replica.
pub(crate) const REPLICA_STATUS_MARIADB: &str =
    include_str!("../queries/replica_status.mariadb.sql");
/// The replicas registered with this source, MySQL 8.0.22+.
pub(crate) const REPLICAS_MYSQL: &str = include_str!("../queries/replicas.mysql.sql");
/// The replicas registered with this source, older spelling (and MariaDB).
pub(crate) const REPLICAS_LEGACY: &str = include_str!("../queries/replicas.legacy.sql");
/// Each applier worker with its original commit timestamps (MySQL 8.0+).
pub(crate) const APPLIER_WORKERS_P_S: &str = include_str!("../queries/applier_workers.p_s.sql");
/// Semi-synchronous replication status.
pub(crate) const SEMI_SYNC: &str = include_str!("../queries/semi_sync.sql");
/// MariaDB's GTID positions and parallel mode.
pub(crate) const MARIADB_GTID: &str = include_str!("../queries/mariadb_gtid.sql");
/// Aurora's instances with their lag.
pub(crate) const AURORA_REPLICA_HOSTS: &str = include_str!("../queries/aurora_replica_hosts.sql");

#[cfg(test)]
mod tests {
    /// The `AS name` columns of a statement's outer select list, in order: what the parser reads.
    fn columns(sql: &str) -> Vec<String> {
        let code: String = sql
            .lines()
            .filter(|line| !line.trim_start().starts_with("--"))
            .collect::<Vec<_>>()
            .join("\n");
        let upper = code.to_ascii_uppercase();
        let start = upper.find("SELECT").expect("a SELECT");
        let end = upper[start..].find("\nFROM").expect("a FROM") + start;
        let list = &code[start..end];
        let mut found = Vec::new();
        let words: Vec<&str> = list.split_whitespace().collect();
        for pair in words.windows(2) {
            if pair[0].eq_ignore_ascii_case("AS") {
                found.push(pair[1].trim_end_matches(',').to_owned());
            }
        }
        found
    }

    /// The queue-edge statements are read by the same row parser as the lock-wait statements:
    /// the twins must name the same columns in the same order, on each source.
    #[test]
    fn lock_wait_twins_name_the_same_columns() {
        for (granted, queued) in [
            (super::LOCK_WAITS_P_S, super::LOCK_WAITS_QUEUED_P_S),
            (super::LOCK_WAITS_I_S, super::LOCK_WAITS_QUEUED_I_S),
        ] {
            let (a, b) = (columns(granted), columns(queued));
            assert!(a.contains(&"waiting_pid".to_owned()), "{a:?}");
            assert_eq!(a, b);
        }
    }
}
