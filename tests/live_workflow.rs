//! `status` and `check` judge the whole server, so these tests run alone (nextest:
//! threads-required = all; `cargo test` runs each test binary by itself): another test's lock
//! waits would otherwise change the verdict.

mod support;

use std::process::Command;

use serde_json::Value;
use support::scenarios;

fn check(url: &str, state: &std::path::Path) -> (i32, String) {
    let output = Command::new(assert_cmd::cargo::cargo_bin("mytriage"))
        .args(["--no-defaults", "--url", url, "check", "--state"])
        .arg(state)
        .output()
        .unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
    )
}

#[tokio::test]
async fn exclusive_status_and_check_on_the_chain() {
    for server in support::servers() {
        support::announce("status and check on the chain", &server);
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("check.state");
        // The first run sets the deadlock baseline; whatever earlier tests left is not "new".
        let (baseline, line) = check(&server.url, &state);
        assert!(baseline <= 1, "quiet server before the scenario: {line}");

        let chain = scenarios::chain(&server).await.expect("chain");
        let a = chain.a_id;
        let status: Value = support::mytriage_json_async(&server.url, &["status"]).await;
        let (code, line) = {
            let (url, state) = (server.url.clone(), state.clone());
            tokio::task::spawn_blocking(move || check(&url, &state))
                .await
                .unwrap()
        };
        let keeps_last = status["triage"]["server"]["capabilities"]["statement_history"] == true;
        let a_last = chain.a_last_statement.clone();
        chain.cleanup().await.expect("cleanup");

        let blockers = status["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["check"] == "blockers")
            .unwrap();
        assert_eq!(blockers["verdict"], "CRIT", "{blockers:#}");
        let summary = blockers["summary"].as_str().unwrap();
        assert!(
            summary.contains(&format!("root {a} ")) && summary.contains("idle in transaction"),
            "{summary}"
        );
        if keeps_last {
            let shown = a_last.chars().take(20).collect::<String>();
            assert!(
                summary.contains(&shown),
                "names the last statement: {summary}"
            );
        }
        assert_eq!(status["verdict"], "CRIT");
        assert_eq!(code, 2, "check is CRITICAL with the scenario up: {line}");
        assert!(line.starts_with("MYTRIAGE CRITICAL - blockers:"), "{line}");

        let (code, line) = check(&server.url, &state);
        assert_eq!(code, 0, "check is OK after cleanup: {line}");
        assert!(line.starts_with("MYTRIAGE OK"), "{line}");
    }
}

#[test]
fn check_reports_unknown_when_the_server_is_unreachable() {
    let output = Command::new(assert_cmd::cargo::cargo_bin("mytriage"))
        .args([
            "--no-defaults",
            "--url",
            "mysql://root@127.0.0.1:1",
            "check",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3), "Nagios UNKNOWN");
    assert!(
        String::from_utf8_lossy(&output.stdout).starts_with("MYTRIAGE UNKNOWN - cannot connect")
    );
}

#[test]
fn thresholds_come_from_flags_then_the_config_file() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("check.cnf");
    std::fs::write(&config, "[check]\nhll-warn = 5\nhll-crit = 3\n").unwrap();
    // warn above crit in the file is refused before connecting (port 1 would refuse anyway).
    let output = Command::new(assert_cmd::cargo::cargo_bin("mytriage"))
        .args([
            "--no-defaults",
            "--url",
            "mysql://root@127.0.0.1:1",
            "status",
            "--config",
        ])
        .arg(&config)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("--hll-warn (5) is above --hll-crit (3)")
    );
}
