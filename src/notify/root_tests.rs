//! What people are told about a root blocker: as a fact only when an edge to it was read
//! exactly; an inferred one says so, and no kill is suggested for it.

use std::collections::HashMap;

use super::notice;
use super::{Change, Style, payload};
use crate::probe::locks::tree::{self, Edge, How};
use crate::probe::locks::{self, LocksReport};
use crate::probe::processlist::{Thread, Trx};
use crate::verdict::Verdict;
use crate::workflow::report::Lang;
use crate::workflow::status::{self, StatusReport};
use crate::workflow::thresholds::Thresholds;
use crate::workflow::triage::Triage;

/// Session 20 idle in its transaction, holding up 21 and 22 by edges read `how`; session 10, an
/// older idle transaction that holds nothing up, is the decoy.
fn incident(how: How) -> StatusReport {
    let server = crate::server::detect(&crate::server::fixture_facts("mysql-9.7"));
    let idle = |pid: u64, age: u64| {
        let mut t = Thread::sample(
            pid,
            "app",
            "Sleep",
            Some(Trx::sample(&pid.to_string(), age)),
        );
        t.idle_in_trx = true;
        t
    };
    let threads = [
        idle(10, 900),
        idle(20, 60),
        Thread::sample(21, "app", "Query", None),
        Thread::sample(22, "app", "Query", None),
    ];
    let by_pid: HashMap<u64, &Thread> = threads.iter().map(|t| (t.pid, t)).collect();
    let edges: Vec<Edge> = [21, 22]
        .into_iter()
        .map(|waiter| {
            let mut edge = Edge::sample(waiter, 20, "shop.orders");
            edge.wait.how = how;
            edge.wait.source = "a rule for tests";
            edge
        })
        .collect();
    let forest = tree::build(&edges, &|pid| {
        locks::describe(pid, by_pid.get(&pid).copied(), None)
    });
    let triage = Triage::sample(server.clone(), Some(LocksReport::sample(&server, forest)));
    status::judge(triage, &Thresholds::default())
}

fn said(report: &StatusReport) -> (String, serde_json::Value, String, String) {
    let change = Change {
        verdict: report.verdict,
        previous: Some(Verdict::Ok),
        server: "db1:3306".into(),
        command: "mytriage -h db1".into(),
        by: "watch",
        report,
    };
    let summary = report
        .findings
        .iter()
        .find(|f| f.check == "blockers")
        .map(|f| f.summary.clone())
        .unwrap();
    (
        notice::text(report, "db1:3306", Lang::En),
        payload(&change, Style::Json),
        payload(&change, Style::Slack).to_string(),
        summary,
    )
}

#[test]
fn an_exact_root_is_named_as_a_fact_with_the_kill_to_run() {
    let report = incident(How::Exact);
    let (notice, json, slack, summary) = said(&report);
    assert!(notice.contains("Session 20 (app@"), "{notice}");
    assert!(
        notice.contains("holds locks that 2 session(s) wait for"),
        "{notice}"
    );
    assert_eq!(json["root_blocker"]["pid"], 20);
    assert_eq!(json["root_blocker"]["how"], "exact");
    assert_eq!(
        json["next"],
        "mytriage -h db1 locks, then mytriage -h db1 kill 20 --reason '...'"
    );
    assert!(!slack.contains("inferred"), "{slack}");
    assert!(
        summary.contains("root 20 ") && !summary.contains("inferred"),
        "{summary}"
    );
    assert!(
        !notice.contains("Session 10") && !summary.contains("root 10"),
        "the decoy"
    );
}

#[test]
fn an_inferred_root_says_so_everywhere_and_no_kill_is_suggested() {
    let report = incident(How::Inferred);
    let (notice, json, slack, summary) = said(&report);
    assert!(
        notice.contains(
            "appears to hold locks that 2 session(s) wait for (inferred from a rule for tests"
        ),
        "{notice}"
    );
    let ko = notice::text(&report, "db1:3306", Lang::Ko);
    assert!(ko.contains("추정"), "{ko}");
    assert_eq!(json["root_blocker"]["how"], "inferred");
    assert_eq!(json["root_blocker"]["source"], "a rule for tests");
    assert_eq!(json["next"], "mytriage -h db1 locks");
    assert!(slack.contains("inferred from a rule for tests"), "{slack}");
    assert!(
        summary.contains("holds up 2 (inferred from a rule for tests)"),
        "{summary}"
    );
    assert!(
        !notice.contains("Session 10") && !summary.contains("root 10"),
        "the decoy"
    );
}
