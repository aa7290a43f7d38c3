//! Flavor detection on recorded variable sets, one test per flavor (fixtures/server/*.json).

use super::*;

fn facts(name: &str) -> ServerFacts {
    fixture_facts(name)
}

fn info(name: &str) -> ServerInfo {
    detect(&facts(name))
}

#[test]
fn mysql_9_7_captured() {
    let info = info("mysql-9.7");
    assert_eq!(info.flavor, Flavor::MySql9);
    assert_eq!(
        info.version_number,
        Version {
            major: 9,
            minor: 7,
            patch: 4
        }
    );
    assert_eq!(info.managed, None);
    let caps = info.capabilities;
    assert!(
        caps.performance_schema
            && caps.data_lock_waits
            && caps.ps_processlist
            && caps.mdl_instrument
    );
    assert!(
        caps.error_log_table && caps.sys_schema && caps.process_privilege && caps.connection_admin
    );
    assert!(!caps.innodb_lock_waits);
    assert_eq!(info.sources.lock_waits, LockWaitSource::DataLockWaits);
    assert_eq!(info.sources.processlist, ProcesslistSource::PsProcesslist);
    assert!(info.warnings.is_empty());
}

#[test]
fn mariadb_10_11_captured() {
    let info = info("mariadb-10.11");
    assert_eq!(info.flavor, Flavor::MariaDb10);
    assert_eq!(
        info.version_number,
        Version {
            major: 10,
            minor: 11,
            patch: 19
        }
    );
    let caps = info.capabilities;
    assert!(
        !caps.performance_schema
            && !caps.data_lock_waits
            && !caps.mdl_instrument
            && !caps.ps_processlist
    );
    assert!(caps.innodb_lock_waits && caps.process_privilege && caps.connection_admin);
    assert_eq!(info.sources.lock_waits, LockWaitSource::InnodbLockWaits);
    assert_eq!(
        info.sources.processlist,
        ProcesslistSource::InformationSchema
    );
    assert_eq!(
        info.session_setup(Duration::from_millis(2500)),
        "SET SESSION tx_read_only = 1, max_statement_time = 2.500, lock_wait_timeout = 2"
    );
}

#[test]
fn mariadb_11_with_performance_schema() {
    let info = info("mariadb-11.4");
    assert_eq!(info.flavor, Flavor::MariaDb11);
    let caps = info.capabilities;
    assert!(caps.performance_schema && caps.innodb_lock_waits && !caps.data_lock_waits);
    // MariaDB has no performance_schema.processlist: threads is the non-blocking source.
    assert_eq!(info.sources.processlist, ProcesslistSource::PsThreads);
    assert!(caps.connection_admin, "MariaDB spells it CONNECTION ADMIN");
    assert!(
        !caps.statement_history,
        "MariaDB ships with the statement consumers off"
    );
}

#[test]
fn mysql_5_7() {
    let info = info("mysql-5.7");
    assert_eq!(info.flavor, Flavor::MySql57);
    assert_eq!(info.sources.lock_waits, LockWaitSource::InnodbLockWaits);
    assert_eq!(info.sources.processlist, ProcesslistSource::PsThreads);
    assert!(
        info.capabilities.connection_admin,
        "ALL PRIVILEGES includes SUPER"
    );
    assert_eq!(
        info.session_setup(Duration::from_secs(10)),
        "SET SESSION tx_read_only = 1, max_execution_time = 10000, lock_wait_timeout = 10"
    );
}

#[test]
fn mysql_8_0_and_8_4() {
    assert_eq!(info("mysql-8.0").flavor, Flavor::MySql80);
    let lts = info("mysql-8.4");
    assert_eq!(
        lts.session_setup(Duration::from_millis(1500)),
        "SET SESSION transaction_read_only = 1, max_execution_time = 1500, lock_wait_timeout = 1"
    );
    assert_eq!(lts.flavor, Flavor::MySql84);
    assert!(lts.capabilities.process_privilege);
    assert!(!lts.capabilities.connection_admin, "PROCESS, SELECT only");
}

#[test]
fn aurora_2_without_performance_schema() {
    let info = info("aurora-mysql-2");
    assert_eq!(info.flavor, Flavor::AuroraMySql2);
    assert_eq!(info.managed, Some(Managed::Aurora));
    assert_eq!(info.aurora_version.as_deref(), Some("2.11.2"));
    assert_eq!(info.sources.lock_waits, LockWaitSource::InnodbLockWaits);
    assert!(
        !info.capabilities.connection_admin,
        "the Aurora master user has no SUPER"
    );
}

#[test]
fn aurora_3() {
    let info = info("aurora-mysql-3");
    assert_eq!(info.flavor, Flavor::AuroraMySql3);
    assert_eq!(info.managed, Some(Managed::Aurora));
    assert_eq!(info.sources.lock_waits, LockWaitSource::DataLockWaits);
    assert!(info.capabilities.connection_admin);
}

#[test]
fn rds_mysql_with_performance_schema_off() {
    let info = info("rds-mysql-8.0");
    assert_eq!(info.flavor, Flavor::MySql80);
    assert_eq!(info.managed, Some(Managed::Rds));
    // The table exists, but performance_schema is off: fall back to the always-there sources.
    assert!(!info.capabilities.data_lock_waits);
    assert_eq!(info.sources.lock_waits, LockWaitSource::None);
    assert_eq!(
        info.sources.processlist,
        ProcesslistSource::InformationSchema
    );
}

#[test]
fn missing_process_privilege_is_a_warning_with_the_grant() {
    let info = info("mysql-8.0-no-process");
    assert!(!info.capabilities.process_privilege);
    assert_eq!(info.warnings.len(), 1);
    assert!(
        info.warnings[0].contains("GRANT PROCESS ON *.* TO 'app'@'%'"),
        "{}",
        info.warnings[0]
    );
}

#[test]
fn versions() {
    assert_eq!(
        Version::parse("10.11.19-MariaDB-0+deb12u1"),
        Some(Version {
            major: 10,
            minor: 11,
            patch: 19
        })
    );
    assert_eq!(
        Version::parse("5.5.5-10.6.12-MariaDB"),
        Some(Version {
            major: 10,
            minor: 6,
            patch: 12
        })
    );
    assert_eq!(
        Version::parse("9.7.4-2"),
        Some(Version {
            major: 9,
            minor: 7,
            patch: 4
        })
    );
    assert_eq!(
        Version::parse("8.0"),
        Some(Version {
            major: 8,
            minor: 0,
            patch: 0
        })
    );
    assert_eq!(Version::parse("garbage"), None);
    assert_eq!(Version::parse(""), None);
}

#[test]
fn empty_facts_do_not_panic() {
    let info = detect(&ServerFacts::default());
    assert_eq!(info.sources.lock_waits, LockWaitSource::None);
    assert!(!info.capabilities.process_privilege);
}

#[test]
fn processlist_table_counts_even_when_information_schema_hides_it() {
    // An account with PROCESS but no SELECT on performance_schema: I_S.TABLES lists none of its
    // tables, yet MySQL 8.0.22+ lets it read performance_schema.processlist.
    let mut facts = facts("mysql-9.7");
    facts
        .tables
        .retain(|(schema, _)| schema != "performance_schema");
    assert_eq!(
        detect(&facts).sources.processlist,
        ProcesslistSource::PsProcesslist
    );
    let mut old = facts.clone();
    old.variables.insert("version".into(), "8.0.21".into());
    assert_eq!(
        detect(&old).sources.processlist,
        ProcesslistSource::PsThreads
    );
}

#[test]
fn the_handshake_guess_takes_each_flavors_defaults() {
    let mysql = assume((9, 7, 4), 7);
    assert_eq!(mysql.flavor, Flavor::MySql9);
    assert_eq!(mysql.sources.lock_waits, LockWaitSource::DataLockWaits);
    assert_eq!(mysql.sources.processlist, ProcesslistSource::PsProcesslist);
    assert_eq!(mysql.sources.metadata_locks, MdlSource::PerformanceSchema);
    assert!(mysql.capabilities.statement_history && mysql.capabilities.process_privilege);
    assert_eq!(mysql.connection_id, 7);

    let older = assume((8, 0, 21), 7);
    assert_eq!(older.sources.processlist, ProcesslistSource::PsThreads);
    let five_seven = assume((5, 7, 44), 7);
    assert_eq!(
        five_seven.sources.lock_waits,
        LockWaitSource::InnodbLockWaits
    );
    assert_eq!(five_seven.sources.metadata_locks, MdlSource::ThreadStates);

    let mariadb = assume((10, 11, 19), 7);
    assert_eq!(mariadb.flavor, Flavor::MariaDb10);
    assert!(!mariadb.capabilities.performance_schema);
    assert_eq!(mariadb.sources.lock_waits, LockWaitSource::InnodbLockWaits);
    assert_eq!(
        mariadb.sources.processlist,
        ProcesslistSource::InformationSchema
    );
    assert_eq!(assume((11, 8, 2), 7).flavor, Flavor::MariaDb11);
    // The session set-up is each flavor's own.
    let timeout = std::time::Duration::from_secs(10);
    assert!(
        mariadb
            .session_setup(timeout)
            .contains("max_statement_time")
    );
    assert!(
        mysql
            .session_setup(timeout)
            .contains("transaction_read_only")
    );
}
