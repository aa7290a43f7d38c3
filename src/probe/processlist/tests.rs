use super::*;

fn thread(
    pid: u64,
    user: &str,
    command: &str,
    time: u64,
    trx_age: Option<u64>,
    statement: Option<&str>,
) -> Thread {
    let trx = trx_age.map(|age| Trx::sample(&pid.to_string(), age));
    Thread {
        time_s: Some(time),
        statement: statement.map(str::to_owned),
        ..Thread::sample(pid, user, command, trx)
    }
}

fn sample() -> Vec<Thread> {
    vec![
        thread(1, "app", "Sleep", 3, None, None),
        thread(2, "app", "Sleep", 2, Some(300), None),
        thread(
            3,
            "batch",
            "Query",
            40,
            Some(40),
            Some("UPDATE orders SET x = 1"),
        ),
        thread(4, "app", "Query", 1, None, Some("SELECT * FROM items")),
    ]
}

fn pids(args: Criteria) -> Vec<u64> {
    let report = Filter::new(args)
        .unwrap()
        .apply(ProcesslistSource::InformationSchema, sample());
    report.threads.iter().map(|t| t.pid).collect()
}

#[test]
fn default_sort_puts_the_oldest_transaction_first() {
    assert_eq!(pids(Criteria::default()), [2, 3, 1, 4]);
    assert_eq!(
        pids(Criteria {
            sort: SortBy::Time,
            ..Default::default()
        }),
        [3, 1, 2, 4]
    );
}

#[test]
fn active_hides_only_sleep_without_transaction() {
    assert_eq!(
        pids(Criteria {
            active: true,
            ..Default::default()
        }),
        [2, 3, 4]
    );
}

#[test]
fn min_time_counts_transaction_age_too() {
    let args = Criteria {
        min_time: Some(std::time::Duration::from_secs(30)),
        ..Default::default()
    };
    assert_eq!(pids(args), [2, 3]);
}

#[test]
fn filters_by_user_host_command_and_regex() {
    assert_eq!(
        pids(Criteria {
            user: Some("BATCH".into()),
            ..Default::default()
        }),
        [3]
    );
    assert_eq!(
        pids(Criteria {
            host: Some("10.0.0.5".into()),
            ..Default::default()
        })
        .len(),
        4
    );
    assert_eq!(
        pids(Criteria {
            command: Some("query".into()),
            ..Default::default()
        }),
        [3, 4]
    );
    assert_eq!(
        pids(Criteria {
            pattern: Some("(?i)^update".into()),
            ..Default::default()
        }),
        [3]
    );
}

#[test]
fn bad_regex_is_an_error() {
    let error = Filter::new(Criteria {
        pattern: Some("(".into()),
        ..Default::default()
    })
    .err()
    .unwrap();
    assert!(error.to_string().contains("--match '('"));
}

#[test]
fn idle_in_trx_is_counted() {
    let report = Filter::new(Criteria::default())
        .unwrap()
        .apply(ProcesslistSource::PsThreads, sample());
    assert_eq!(report.idle_in_trx, 1);
    assert_eq!(report.total, 4);
}

#[test]
fn host_name_drops_the_port() {
    let t = thread(1, "a", "Sleep", 0, None, None);
    assert_eq!(t.host_name(), Some("10.0.0.5"));
    let local = Thread {
        host: Some("localhost".into()),
        ..t.clone()
    };
    assert_eq!(local.host_name(), Some("localhost"));
}
