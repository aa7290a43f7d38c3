use super::flush::*;
use super::*;
use crate::probe::processlist::Trx;

fn thread(pid: u64, command: &str, time_s: u64, state: Option<&str>, sql: Option<&str>) -> Thread {
    let mut t = Thread::sample(pid, "app", command, None);
    t.time_s = Some(time_s);
    t.state = state.map(str::to_owned);
    t.statement = sql.map(str::to_owned);
    t
}

fn idle_trx(pid: u64, age: u64) -> Thread {
    let mut t = Thread::sample(pid, "app", "Sleep", Some(Trx::sample("1", age)));
    t.time_s = Some(age);
    t
}

fn granted(pid: u64, mode: &str, kind: &str, schema: &str, table: &str) -> GrantedLock {
    GrantedLock::from_plugin(
        pid,
        mode.into(),
        kind,
        Some(schema.into()),
        Some(table.into()),
    )
}

fn pairs(edges: &[Edge]) -> Vec<(u64, u64, How)> {
    let mut p: Vec<_> = edges
        .iter()
        .map(|e| (e.waiter, e.blocker, e.wait.how))
        .collect();
    p.sort_by_key(|(w, b, _)| (*w, *b));
    p
}

#[test]
fn the_plugin_names_the_reader_not_the_older_decoy() {
    // Decoy 1: an older idle transaction on shop.other. Holder 2 read shop.t in its
    // transaction. ALTER 3 waits; it holds SU on shop.t itself.
    let threads = [
        idle_trx(1, 60),
        idle_trx(2, 20),
        thread(
            3,
            "Query",
            10,
            Some("Waiting for table metadata lock"),
            Some("ALTER TABLE t ADD c INT"),
        ),
    ];
    let locks = [
        granted(
            1,
            "MDL_SHARED_WRITE",
            "Table metadata lock",
            "shop",
            "other",
        ),
        granted(2, "MDL_SHARED_READ", "Table metadata lock", "shop", "t"),
        granted(
            3,
            "MDL_SHARED_UPGRADABLE",
            "Table metadata lock",
            "shop",
            "t",
        ),
    ];
    let edges = plugin_edges(&threads, &locks);
    assert_eq!(pairs(&edges), [(3, 2, How::Exact)]);
    assert!(unexplained(&threads, &edges).is_empty());
    assert_eq!(edges[0].wait.source, SOURCE_MDL_INFO);
    assert!(edges[0].wait.held.as_deref().unwrap().contains("shop.t"));
}

#[test]
fn readers_queue_behind_a_waiting_alter() {
    let threads = [
        idle_trx(2, 20),
        thread(
            3,
            "Query",
            10,
            Some("Waiting for table metadata lock"),
            Some("ALTER TABLE shop.t ADD c INT"),
        ),
        thread(
            4,
            "Query",
            5,
            Some("Waiting for table metadata lock"),
            Some("SELECT * FROM shop.t"),
        ),
    ];
    let locks = [
        granted(2, "MDL_SHARED_READ", "Table metadata lock", "shop", "t"),
        granted(
            3,
            "MDL_SHARED_UPGRADABLE",
            "Table metadata lock",
            "shop",
            "t",
        ),
    ];
    let edges = plugin_edges(&threads, &locks);
    assert_eq!(pairs(&edges), [(3, 2, How::Exact), (4, 3, How::Inferred)]);
}

#[test]
fn ftwrl_and_user_locks_through_the_plugin() {
    let threads = [
        idle_trx(1, 60),
        thread(2, "Sleep", 30, None, None),
        thread(
            3,
            "Query",
            5,
            Some("Waiting for backup lock"),
            Some("UPDATE t SET v = 1"),
        ),
        thread(4, "Sleep", 30, None, None),
        thread(
            5,
            "Query",
            5,
            Some("User lock"),
            Some("SELECT GET_LOCK('job', 300)"),
        ),
    ];
    let locks = [
        granted(
            1,
            "MDL_SHARED_WRITE",
            "Table metadata lock",
            "shop",
            "other",
        ),
        GrantedLock::from_plugin(
            2,
            "MDL_BACKUP_FTWRL2".into(),
            "Backup lock",
            Some(String::new()),
            Some(String::new()),
        ),
        GrantedLock::from_plugin(
            4,
            "MDL_SHARED_NO_WRITE".into(),
            "User lock",
            Some("job".into()),
            Some(String::new()),
        ),
    ];
    let edges = plugin_edges(&threads, &locks);
    assert_eq!(pairs(&edges), [(3, 2, How::Exact), (5, 4, How::Exact)]);
    assert!(unexplained(&threads, &edges).is_empty());
    assert!(
        edges[0]
            .wait
            .held
            .as_deref()
            .unwrap()
            .starts_with("global read lock")
    );
    assert_eq!(edges[1].wait.held.as_deref(), Some("user lock 'job'"));
}

#[test]
fn every_waiter_for_a_user_lock_waits_for_its_holder_not_for_the_queue() {
    let threads = [
        thread(4, "Sleep", 30, None, None),
        thread(
            5,
            "Query",
            9,
            Some("User lock"),
            Some("SELECT GET_LOCK('job', 300)"),
        ),
        thread(
            6,
            "Query",
            3,
            Some("User lock"),
            Some("SELECT GET_LOCK('job', 300)"),
        ),
    ];
    let locks = [GrantedLock::from_plugin(
        4,
        "MDL_SHARED_NO_WRITE".into(),
        "User lock",
        Some("job".into()),
        Some(String::new()),
    )];
    let edges = plugin_edges(&threads, &locks);
    assert_eq!(pairs(&edges), [(5, 4, How::Exact), (6, 4, How::Exact)]);
}

#[test]
fn without_a_holder_list_the_waiter_stays_unresolved_with_candidates() {
    let threads = [
        idle_trx(1, 60),
        thread(2, "Sleep", 30, None, None),
        thread(
            3,
            "Query",
            5,
            Some("Waiting for backup lock"),
            Some("UPDATE t SET v = 1"),
        ),
        thread(6, "Sleep", 1, None, None),
    ];
    let edges = plugin_edges(&threads, &[]);
    assert!(edges.is_empty());
    let unknown = unexplained(&threads, &edges);
    assert_eq!(unknown.len(), 1);
    assert_eq!(unknown[0].waiter, 3);
    assert_eq!(unknown[0].candidates, [1, 2], "6 came after the wait began");
    assert_eq!(unknown[0].wait.how, How::Inferred);
}

#[test]
fn row_lock_waiters_do_not_crowd_the_idle_holder_out_of_the_candidates() {
    let mut threads: Vec<Thread> = (100..130)
        .map(|pid| {
            let mut t = thread(
                pid,
                "Query",
                50,
                Some("updating"),
                Some("UPDATE other SET v = 1"),
            );
            let mut trx = Trx::sample(&pid.to_string(), 50);
            trx.state = "LOCK WAIT".into();
            t.trx = Some(trx);
            t
        })
        .collect();
    threads.push(idle_trx(7, 10));
    threads.push(thread(
        8,
        "Query",
        5,
        Some("Waiting for table metadata lock"),
        Some("ALTER TABLE t ADD c INT"),
    ));
    let found = candidates(&threads[31], &threads);
    assert_eq!(found.len(), MAX_CANDIDATES);
    assert_eq!(found[0], 7, "{found:?}");
}

#[test]
fn table_flush_chain_roots_at_the_long_select() {
    let threads = [
        idle_trx(1, 60),
        thread(
            2,
            "Query",
            30,
            Some("User sleep"),
            Some("SELECT v, SLEEP(300) FROM shop.f"),
        ),
        thread(
            3,
            "Query",
            20,
            Some(TABLE_FLUSH_STATE),
            Some("FLUSH TABLES shop.f"),
        ),
        thread(
            4,
            "Query",
            10,
            Some(TABLE_FLUSH_STATE),
            Some("SELECT * FROM shop.f"),
        ),
        thread(
            5,
            "Query",
            40,
            Some("User sleep"),
            Some("SELECT SLEEP(100) FROM shop.g"),
        ),
    ];
    let edges = table_flush_edges(&threads, None);
    assert_eq!(
        pairs(&edges),
        [(3, 2, How::Inferred), (4, 3, How::Inferred)]
    );
    assert!(unexplained(&threads, &edges).is_empty());
    let handles = [(2, "shop.f".to_owned()), (5, "shop.g".to_owned())];
    let edges = table_flush_edges(&threads, Some(&handles));
    assert_eq!(pairs(&edges), [(3, 2, How::Exact), (4, 3, How::Inferred)]);
    assert_eq!(edges[0].wait.source, SOURCE_HANDLES);
}

#[test]
fn ftwrl_waiting_for_a_flush_holds_up_writers_through_any_table() {
    let threads = [
        thread(
            2,
            "Query",
            30,
            Some("User sleep"),
            Some("SELECT v, SLEEP(300) FROM shop.f"),
        ),
        thread(
            3,
            "Query",
            20,
            Some(TABLE_FLUSH_STATE),
            Some("FLUSH TABLES WITH READ LOCK"),
        ),
    ];
    let edges = table_flush_edges(&threads, None);
    assert_eq!(pairs(&edges), [(3, 2, How::Inferred)]);
}

#[test]
fn flush_statements_and_lock_names_parse() {
    assert_eq!(flushed_tables("FLUSH TABLES WITH READ LOCK"), None);
    assert_eq!(flushed_tables("flush tables"), None);
    assert_eq!(
        flushed_tables("FLUSH TABLES `shop`.`f`, g FOR EXPORT"),
        Some(vec!["shop.f".to_owned(), "g".to_owned()])
    );
    assert_eq!(
        user_lock_name("SELECT GET_LOCK('job', 30)").as_deref(),
        Some("job")
    );
    assert_eq!(
        user_lock_name("select get_lock(\"a'b\", 1)").as_deref(),
        Some("a'b")
    );
    assert_eq!(user_lock_name("SELECT GET_LOCK(@name, 1)"), None);
    assert_eq!(
        table_lock_type("/* app */ UPDATE t SET v = 1"),
        Some("SHARED_WRITE")
    );
    assert_eq!(
        table_lock_type("LOCK TABLES t WRITE"),
        Some("SHARED_NO_READ_WRITE")
    );
    assert!(mentions("SELECT * FROM `shop`.`t` WHERE 1", "shop.t", None));
    assert!(mentions("SELECT * FROM t", "shop.t", Some("shop")));
    assert!(!mentions("SELECT * FROM t2", "shop.t", Some("shop")));
    assert!(!mentions("SELECT * FROM other.t", "shop.t", Some("shop")));
}
