//! The JSON shapes documented in README.md are the ones the binary prints: for each documented
//! command, the keys of the README example equal the keys of a live run (top level and the first
//! element of each listed array), on every test server, with an incident in progress.

use serde_json::Value;

use crate::support::{self, Mytriage, TestServer, scenarios};

/// `### \`mytriage CMD --format json\`` headings and the JSON block under each, comments removed.
fn documented() -> Vec<(String, Value)> {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let mut found = Vec::new();
    let mut lines = readme.lines();
    while let Some(line) = lines.next() {
        let Some(command) = line
            .strip_prefix("### `mytriage ")
            .and_then(|l| l.strip_suffix(" --format json`"))
        else {
            continue;
        };
        let block: Vec<&str> = lines
            .by_ref()
            .skip_while(|l| !l.starts_with("```json"))
            .skip(1)
            .take_while(|l| !l.starts_with("```"))
            .collect();
        let text: String = block
            .iter()
            .map(|l| strip_comment(l))
            .collect::<Vec<_>>()
            .join("\n");
        let json = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("README JSON for {command}: {e}\n{text}"));
        found.push((command.to_owned(), json));
    }
    found
}

/// Removes a `// comment` that follows whitespace (never the `//` inside a URL).
fn strip_comment(line: &str) -> &str {
    match line.find(" //") {
        Some(at) => &line[..at],
        None => line,
    }
}

/// Compares keys at the top level, of nested objects, and of the first element of every array of
/// objects.
fn assert_same_shape(command: &str, documented: &Value, live: &Value) {
    assert_eq!(
        support::json_keys(documented),
        support::json_keys(live),
        "top-level keys of `{command}`"
    );
    for (field, doc_value) in documented.as_object().into_iter().flatten() {
        if doc_value.is_object() && live[field].is_object() {
            assert_eq!(
                support::json_keys(doc_value),
                support::json_keys(&live[field]),
                "keys of `{command}` {field}"
            );
        }
        let (Some(doc_first), Some(live_first)) = (doc_value.get(0), live[field].get(0)) else {
            continue;
        };
        if doc_first.is_object() && live_first.is_object() {
            assert_eq!(
                support::json_keys(doc_first),
                support::json_keys(live_first),
                "keys of `{command}` {field}[0]"
            );
        }
    }
}

fn run(server: &TestServer, command: &str) -> Value {
    let args: Vec<&str> = command.split_whitespace().collect();
    Mytriage::new(&server.url).args(args).json()
}

#[test]
fn readme_documents_every_probe() {
    let commands: Vec<String> = documented().into_iter().map(|(c, _)| c).collect();
    for probe in [
        "server",
        "processlist",
        "locks",
        "trx",
        "history",
        "connections",
        "deadlocks",
        "replication",
    ] {
        assert!(
            commands.iter().any(|c| c == probe),
            "README has no JSON shape for {probe}: {commands:?}"
        );
    }
}

#[tokio::test]
async fn readme_shapes_match_live_output() {
    for server in support::servers() {
        support::announce("README JSON shapes", &server);
        // A lock wait, so lists have elements whose keys can be compared.
        let wait = scenarios::lock_wait(&server)
            .await
            .expect("lock-wait scenario");
        let docs = documented();
        let live: Vec<(String, Value)> = tokio::task::spawn_blocking({
            let server = server.clone();
            let commands: Vec<String> = docs.iter().map(|(c, _)| c.clone()).collect();
            move || {
                commands
                    .iter()
                    .map(|c| (c.clone(), run(&server, &format!("{c} {}", extra_args(c)))))
                    .collect()
            }
        })
        .await
        .unwrap();
        wait.cleanup().await.expect("cleanup");
        for ((command, documented), (_, live)) in docs.iter().zip(&live) {
            assert_same_shape(command, documented, live);
        }
        unresolved_shape_matches(&server, &docs).await;
    }
}

/// Where no source names metadata-lock holders (MariaDB without performance_schema or the
/// plugin), an ALTER behind a reader is "blocker unknown": its entry has the documented keys.
async fn unresolved_shape_matches(server: &TestServer, docs: &[(String, Value)]) {
    let info = Mytriage::new(&server.url)
        .args(["server"])
        .json_async()
        .await;
    if info["sources"]["metadata_locks"] != "thread states" {
        return;
    }
    let mdl = scenarios::metadata_lock_wait(server)
        .await
        .expect("mdl scenario");
    let locks = Mytriage::new(&server.url)
        .args(["locks"])
        .json_async()
        .await;
    mdl.cleanup().await.expect("cleanup");
    let documented = &docs
        .iter()
        .find(|(c, _)| c == "locks")
        .expect("locks shape")
        .1;
    let (doc, live) = (&documented["unresolved"][0], &locks["unresolved"][0]);
    assert!(live.is_object(), "no unresolved waiter: {locks:#}");
    assert_eq!(
        support::json_keys(doc),
        support::json_keys(live),
        "keys of locks unresolved[0]"
    );
    assert_eq!(
        support::json_keys(&doc["waiting_for"]),
        support::json_keys(&live["waiting_for"]),
        "keys of locks unresolved[0].waiting_for"
    );
}

/// Arguments that make a command list what the scenario created.
fn extra_args(command: &str) -> &'static str {
    match command {
        "trx" => "--min-age 0s",
        _ => "",
    }
}

/// On a replica, the documented channel (and its blocked applier and workers) has the keys a
/// live replica prints.
#[test]
fn readme_replication_shape_matches_a_replica() {
    let docs = documented();
    let documented = &docs
        .iter()
        .find(|(c, _)| c == "replication")
        .expect("replication shape")
        .1;
    for pair in support::replicas::pairs() {
        support::announce("README replication shape", &pair.replica);
        let live = run(&pair.replica, "replication");
        assert_same_shape("replication", documented, &live);
        let (doc, channel) = (&documented["channels"][0], &live["channels"][0]);
        if let Some(worker) = channel["workers"].get(0) {
            let doc_worker = &doc["workers"][0];
            assert_eq!(
                support::json_keys(doc_worker),
                support::json_keys(worker),
                "keys of replication channels[0].workers[0]"
            );
        }
    }
}

/// The `replication` evidence record the README shows has the keys of one the binary wrote
/// (the broken-replica record of the checked-in fixture, recorded live on MySQL 9.7).
#[test]
fn readme_replication_record_matches_a_recorded_one() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let block = readme
        .split("```json\n")
        .skip(1)
        .map(|b| b.split("\n```").next().unwrap())
        .find(|b| b.contains(r#""kind": "replication""#))
        .expect("README shows a replication record");
    let text: Vec<&str> = block.lines().map(strip_comment).collect();
    let documented: Value = serde_json::from_str(&text.join("\n")).expect("README record parses");
    let fixture = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/evidence/replication.mysql-9.7.jsonl"
    ))
    .unwrap();
    let recorded: Value = fixture
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|r| r["kind"] == "replication" && r["channels"][0]["sql_error"].is_object())
        .expect("the fixture has a broken replica");
    assert_same_shape("replication record", &documented, &recorded);
    assert_same_shape(
        "replication record channel",
        &documented["channels"][0],
        &recorded["channels"][0],
    );
}
