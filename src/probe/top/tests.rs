use super::*;

/// The wait classes, as documented in the README.
const CLASSES: &[&str] = &[
    "cpu",
    "row lock",
    "metadata lock",
    "io",
    "commit",
    "network",
    "other",
];

fn active(pid: u64, class: &str, digest: &str) -> Active {
    Active {
        pid,
        account: "app@10.0.0.5".into(),
        db: Some("shop".into()),
        wait_class: class.into(),
        wait: None,
        digest: digest.into(),
    }
}

#[test]
fn aas_is_active_sessions_per_sample() {
    let samples = vec![
        Sample {
            at: "t1".into(),
            active: vec![
                active(1, "cpu", "SELECT ?"),
                active(2, "row lock", "UPDATE t"),
            ],
            digests: None,
        },
        Sample {
            at: "t2".into(),
            active: vec![active(1, "cpu", "SELECT ?")],
            digests: None,
        },
        Sample {
            at: "t3".into(),
            active: vec![],
            digests: None,
        },
        Sample {
            at: "t4".into(),
            active: vec![
                active(3, "row lock", "UPDATE t"),
                active(4, "row lock", "UPDATE t"),
            ],
            digests: None,
        },
    ];
    let report = aggregate(&samples, Some(2), None, TopSource::Processlist);
    assert_eq!(report.aas, 1.25);
    assert_eq!(report.series, [2, 1, 0, 2]);
    assert_eq!(
        report.by_wait[0],
        Load {
            key: "row lock".into(),
            aas: 0.75
        }
    );
    assert_eq!(
        report.by_sql[0],
        Load {
            key: "UPDATE t".into(),
            aas: 0.75
        }
    );
    assert_eq!(report.by_account[0].aas, 1.25);
}

#[test]
fn classification() {
    assert_eq!(
        classify(None, Some("LOCK WAIT"), Some("updating")).0,
        "row lock"
    );
    assert_eq!(
        classify(Some("wait/lock/metadata/sql/mdl"), None, None).0,
        "metadata lock"
    );
    assert_eq!(
        classify(Some("wait/io/file/innodb/innodb_data_file"), None, None).0,
        "io"
    );
    assert_eq!(
        classify(Some("wait/io/socket/sql/client_connection"), None, None).0,
        "network"
    );
    assert_eq!(
        classify(None, None, Some("Waiting for table metadata lock")).0,
        "metadata lock"
    );
    assert_eq!(classify(None, None, Some("User sleep")).0, "other");
    assert_eq!(classify(None, None, Some("Sending data")).0, "cpu");
    assert_eq!(
        classify(None, None, Some("waiting for handler commit")).0,
        "commit"
    );
    assert_eq!(classify(None, None, None).0, "cpu");
    for class in [
        "cpu",
        "row lock",
        "metadata lock",
        "io",
        "commit",
        "network",
        "other",
    ] {
        assert!(CLASSES.contains(&class));
    }
}

fn counters(digest: &str, calls: u64, timer_ps: u64, rows_examined: u64) -> DigestCounters {
    DigestCounters {
        digest: digest.into(),
        text: format!("text of {digest}"),
        calls,
        timer_ps,
        rows_examined,
    }
}

#[test]
fn statement_statistics_are_deltas_over_the_window() {
    let at = |s: u32| format!("2026-11-22T03:00:{s:02}.000Z");
    let samples = vec![
        Sample {
            at: at(0),
            active: vec![],
            digests: Some(vec![counters("a", 100, 1_000_000_000_000, 5_000)]),
        },
        Sample {
            at: at(5),
            active: vec![],
            digests: None,
        },
        Sample {
            at: at(10),
            active: vec![],
            digests: Some(vec![
                counters("a", 120, 1_040_000_000_000, 5_400),
                counters("b", 5, 10_000_000_000, 0),
            ]),
        },
    ];
    let stats = statement_stats(&samples);
    assert_eq!(stats.len(), 2);
    // a: 20 calls in 10 s, 40 ms of latency in total (picoseconds) → 2 ms each, 20 rows per call.
    assert_eq!(
        stats[0],
        StatementStats {
            digest_text: "text of a".into(),
            calls: 20,
            calls_per_s: 2.0,
            avg_latency_ms: 2.0,
            rows_examined_per_call: 20.0
        }
    );
    // b appeared during the window: its whole count is the delta.
    assert_eq!(stats[1].calls, 5);
    assert!(
        statement_stats(&samples[1..2]).is_empty(),
        "no counters, no statistics"
    );
}

#[test]
fn sparkline_scales_to_the_peak_or_the_reference() {
    assert_eq!(sparkline(&[0, 4, 8], None), "▁▅█");
    assert_eq!(sparkline(&[1, 1], Some(8.0)), "▂▂");
    assert_eq!(sparkline(&[], None), "");
}

#[test]
fn samples_round_trip_through_a_recording() {
    let sample = Sample {
        at: "t".into(),
        active: vec![active(1, "cpu", "SELECT ?")],
        digests: Some(vec![counters("d1", 10, 5_000_000_000, 100)]),
    };
    let line = serde_json::to_string(&sample).unwrap();
    assert_eq!(serde_json::from_str::<Sample>(&line).unwrap(), sample);
}
