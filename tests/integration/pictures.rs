//! `report --html` and `locks --format dot` as a user runs them: the file written (and not
//! written on bad input), one-line errors, and the DOT of a live blocker tree.

use crate::support::{self, Mytriage, scenarios};

const LOG: &str = "fixtures/evidence/incident-load.mysql-9.7.jsonl";
const RECORDING: &str = "fixtures/recordings/incident-load.mysql-9.7.ndjson";

fn stderr_line(output: &std::process::Output) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(stderr.lines().count(), 1, "one line expected: {stderr}");
    stderr.trim_end().to_owned()
}

#[test]
fn report_html_writes_one_page_with_its_pictures_and_nothing_on_stdout() {
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("incident.html");
    let output = Mytriage::offline()
        .args([
            "report",
            "--lang",
            "en",
            "--evidence",
            LOG,
            "--recording",
            RECORDING,
            "--html",
        ])
        .arg(&page)
        .expect_code(0);
    assert!(output.stdout.is_empty());
    assert!(stderr_line(&output).contains("wrote the report to"));
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert_eq!(
        html.matches("<svg ").count(),
        2,
        "timeline and blocker graph"
    );
    assert!(html.contains("row lock (1.33 AAS)"), "the load's legend");
    // The internal version, with literals, is for its owner only.
    use std::os::unix::fs::PermissionsExt;
    let internal = dir.path().join("internal.html");
    std::fs::write(&internal, "").unwrap();
    std::fs::set_permissions(&internal, std::fs::Permissions::from_mode(0o644)).unwrap();
    Mytriage::offline()
        .args(["report", "--no-redact", "--evidence", LOG, "--html"])
        .arg(&internal)
        .expect_code(0);
    let mode = std::fs::metadata(&internal).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    assert!(
        std::fs::read_to_string(&internal)
            .unwrap()
            .contains("kim@example.com")
    );
}

#[test]
fn bad_pictures_input_fails_in_one_line_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("incident.html");
    let watch = dir.path().join("watch.ndjson");
    std::fs::write(
        &watch,
        "{\"at\": \"2026-12-02T02:54:30.000Z\", \"ok\": true, \"verdict\": \"WARN\", \"root_blockers\": [1], \"blocked_sessions\": 4, \"events\": []}\n",
    )
    .unwrap();
    let run = |extra: &[&str]| {
        Mytriage::offline()
            .args(["report", "--evidence", LOG])
            .args(extra)
            .expect_code(2)
    };
    let line = stderr_line(&run(&["--recording", RECORDING]));
    assert!(line.contains("add --html FILE"), "{line}");
    let line = stderr_line(&run(&[
        "--html",
        page.to_str().unwrap(),
        "--recording",
        watch.to_str().unwrap(),
    ]));
    assert!(line.contains("is a `watch --format json` stream"), "{line}");
    let line = stderr_line(&run(&[
        "--html",
        page.to_str().unwrap(),
        "--recording",
        "/nonexistent/top.ndjson",
    ]));
    assert!(line.contains("cannot read the recording"), "{line}");
    assert!(!page.exists(), "nothing written on bad input");
}

#[test]
fn format_dot_is_refused_for_commands_that_are_not_the_blocker_tree() {
    for args in [
        &["status"][..],
        &["processlist"],
        &["report"],
        &["locks", "--hosts", "db1,db2"],
    ] {
        // Refused before connecting: the port named has nothing listening.
        let output = Mytriage::offline()
            .args(["-h", "127.0.0.1", "-P", "1", "--format", "dot"])
            .args(args)
            .expect_code(2);
        let line = stderr_line(&output);
        assert!(
            line.contains("--format dot draws the blocker tree"),
            "{args:?}: {line}"
        );
        assert!(output.stdout.is_empty());
    }
}

#[tokio::test]
async fn locks_format_dot_draws_the_live_tree_with_exact_edges_and_not_the_decoy() {
    for server in support::servers() {
        support::announce("locks --format dot: idle root with 3 waiters", &server);
        let incident = scenarios::idle_root(&server, 3).await.expect("idle root");
        let output = Mytriage::new(&server.url)
            .args(["--format", "dot", "locks"])
            .output_async()
            .await;
        let (root, waiters, decoy) = (
            incident.root_id,
            incident.waiter_ids.clone(),
            incident.decoy_id,
        );
        incident.cleanup().await.expect("cleanup");
        assert!(output.status.success(), "{output:?}");
        let dot = String::from_utf8(output.stdout).unwrap();
        assert!(dot.starts_with("digraph blockers {") && dot.trim_end().ends_with('}'));
        assert!(
            dot.contains(&format!("\"p{root}\" [label=\"session {root}\\n")),
            "{dot}"
        );
        assert!(dot.contains("penwidth=2"), "the root is marked: {dot}");
        for waiter in waiters {
            let edge = dot
                .lines()
                .find(|l| l.contains(&format!("\"p{root}\" -> \"p{waiter}\"")))
                .unwrap_or_else(|| panic!("no edge to {waiter}: {dot}"));
            assert!(edge.contains("row ") && edge.contains("(exact)"), "{edge}");
        }
        assert!(
            !dot.contains(&format!("\"p{decoy}\"")),
            "decoy drawn: {dot}"
        );
    }
}
