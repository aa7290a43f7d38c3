//! The GitHub Action (`action.yml`), run here as a runner would: its steps are read from the file,
//! `${{ inputs.* }}` filled from the inputs and their defaults, and each `run:` executed by bash
//! with the runner's variables faked (`GITHUB_ACTION_PATH`, `RUNNER_TEMP`,
//! `GITHUB_STEP_SUMMARY`, ...). No GitHub here. `MYTRIAGE_ACTION_BIN` points the action at the
//! binary under test instead of `cargo install`.
//!
//! On every server: `start` early in the "job", an idle root blocker with two waiters (and an
//! older idle decoy) while it runs, then `finish`: the job fails on CRITICAL, the summary names
//! the blocker the watch saw appear (not the decoy) and carries the incident report, and the
//! JUnit XML has the failing check.

use std::collections::HashMap;
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use yaml_rust2::{Yaml, YamlLoader};

use crate::support::{self, Mytriage, scenarios};

/// One step of a composite action.
struct Step {
    name: String,
    env: Vec<(String, String)>,
    run: String,
}

/// The action's steps with the inputs filled in, defaults for those not given.
fn steps(inputs: &[(&str, &str)]) -> Vec<Step> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("action.yml");
    let text = std::fs::read_to_string(&path).expect("action.yml");
    let doc = YamlLoader::load_from_str(&text).expect("action.yml is YAML");
    let action = &doc[0];
    assert_eq!(action["runs"]["using"].as_str(), Some("composite"));
    let mut values: HashMap<String, String> = HashMap::new();
    for (name, spec) in action["inputs"].as_hash().expect("inputs") {
        let name = name.as_str().unwrap().to_owned();
        let default = spec["default"].as_str().unwrap_or_default().to_owned();
        values.insert(name, default);
    }
    for (name, value) in inputs {
        assert!(values.contains_key(*name), "action.yml has no input {name}");
        values.insert((*name).to_owned(), (*value).to_owned());
    }
    for (name, spec) in action["inputs"].as_hash().unwrap() {
        if spec["required"].as_bool() == Some(true) {
            assert!(
                !values[name.as_str().unwrap()].is_empty(),
                "the required input {name:?} is missing"
            );
        }
    }
    let fill = |text: &str| {
        let mut text = text.to_owned();
        for (name, value) in &values {
            text = text.replace(&format!("${{{{ inputs.{name} }}}}"), value);
        }
        assert!(
            !text.contains("${{"),
            "an expression the runner would fill: {text}"
        );
        text
    };
    action["runs"]["steps"]
        .as_vec()
        .expect("steps")
        .iter()
        .map(|step| {
            assert_eq!(step["shell"].as_str(), Some("bash"));
            let env = match &step["env"] {
                Yaml::Hash(env) => env
                    .iter()
                    .map(|(k, v)| (k.as_str().unwrap().to_owned(), fill(v.as_str().unwrap())))
                    .collect(),
                _ => Vec::new(),
            };
            Step {
                name: fill(step["name"].as_str().unwrap_or("step")),
                env,
                run: fill(step["run"].as_str().expect("a run step")),
            }
        })
        .collect()
}

/// Runs the action's steps as the runner does (`bash --noprofile --norc -eo pipefail`), stopping
/// at the first that fails; its output is the last step's.
fn run_action(temp: &Path, inputs: &[(&str, &str)]) -> Output {
    let mut last = None;
    for step in steps(inputs) {
        let output = Command::new("bash")
            .args(["--noprofile", "--norc", "-eo", "pipefail", "-c", &step.run])
            .env("GITHUB_ACTION_PATH", env!("CARGO_MANIFEST_DIR"))
            .env("RUNNER_TEMP", temp)
            .env("GITHUB_STEP_SUMMARY", temp.join("summary.md"))
            .env("GITHUB_PATH", temp.join("path"))
            .env("GITHUB_JOB", "integration")
            .env("GITHUB_RUN_ID", "1")
            .env("MYTRIAGE_ACTION_BIN", Mytriage::program())
            .envs(step.env.iter().map(|(k, v)| (k, v)))
            .output()
            .expect("bash");
        eprintln!(
            "step {:?}: {:?}\n{}{}",
            step.name,
            output.status.code(),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        let failed = !output.status.success();
        last = Some(output);
        if failed {
            break;
        }
    }
    last.expect("at least one step")
}

/// Running, and not a zombie (an orphan nobody has reaped yet has ended).
fn alive(pid: &str) -> bool {
    std::fs::read_to_string(format!("/proc/{}/stat", pid.trim()))
        .ok()
        .and_then(|stat| stat.rsplit(')').next().map(|rest| rest.trim().to_owned()))
        .is_some_and(|rest| !rest.starts_with('Z'))
}

#[tokio::test]
async fn the_action_watches_the_job_summarises_it_and_fails_on_critical() {
    for server in support::servers() {
        support::announce("GitHub Action, runner faked", &server);
        let temp = tempfile::tempdir().unwrap();
        let started = run_action(temp.path(), &[("url", &server.url), ("mode", "start")]);
        assert!(started.status.success());
        let state = temp.path().join("mytriage");
        let watchers: Vec<String> = ["deadlocks.pid", "watch.pid"]
            .iter()
            .map(|f| std::fs::read_to_string(state.join(f)).expect("a watcher's pid"))
            .collect();
        assert!(watchers.iter().all(|pid| alive(pid)), "the watchers run");

        let incident = scenarios::idle_root(&server, 2).await.expect("idle root");
        // The background watch samples every 2 s: wait until it saw the blocker appear.
        let seen = format!("new blocker {}", incident.root_id);
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline
            && !std::fs::read_to_string(state.join("watch.ndjson"))
                .unwrap_or_default()
                .contains(&seen)
        {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let junit = temp.path().join("junit.xml");
        let finished = run_action(
            temp.path(),
            &[
                ("url", &server.url),
                ("mode", "finish"),
                ("junit", junit.to_str().unwrap()),
            ],
        );
        let (root, decoy) = (incident.root_id, incident.decoy_id);
        incident.cleanup().await.expect("cleanup");

        assert_eq!(finished.status.code(), Some(1), "the job fails on CRITICAL");
        let stdout = String::from_utf8_lossy(&finished.stdout);
        assert!(
            stdout.contains("::error title=mytriage::MYTRIAGE CRITICAL"),
            "{stdout}"
        );
        let summary = std::fs::read_to_string(temp.path().join("summary.md")).unwrap();
        assert!(summary.contains("MYTRIAGE CRITICAL"), "{summary}");
        assert!(summary.contains(&seen), "{summary}");
        assert!(
            !summary.contains(&format!("new blocker {decoy}")),
            "the decoy blocks nobody: {summary}"
        );
        assert!(summary.contains("### Incident report"), "{summary}");
        assert!(summary.contains(&format!("root {root}")), "{summary}");
        assert!(
            watchers.iter().all(|pid| !alive(pid)),
            "the watchers are stopped"
        );
        let xml = std::fs::read_to_string(&junit).expect("the JUnit file");
        let doc = roxmltree::Document::parse(&xml).expect("well-formed JUnit XML");
        let blockers = doc
            .descendants()
            .find(|n| n.has_tag_name("testcase") && n.attribute("name") == Some("blockers"))
            .expect("a blockers test case");
        assert!(
            blockers.children().any(|n| n.has_tag_name("failure")),
            "{xml}"
        );
    }
}

#[test]
fn an_unknown_mode_is_one_clear_error() {
    let temp = tempfile::tempdir().unwrap();
    let output = run_action(
        temp.path(),
        &[("url", "mysql://root@127.0.0.1:1"), ("mode", "begin")],
    );
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        stderr.trim(),
        "scripts/action: unknown mode 'begin' (start, finish or check)"
    );
}
