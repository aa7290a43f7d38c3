//! `watch --notify` and `check --notify` against a local HTTP receiver that records every
//! request: one post per change of verdict and none while it holds, Slack's payload shape,
//! retries against a receiver that fails twice, and a webhook URL that never shows in output.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

use crate::support::{self, Mytriage, scenarios};

/// A webhook receiver on loopback: records each request's path and JSON body, and answers the
/// next status of its script (200 once the script is used up).
struct Receiver {
    url: String,
    /// Every request, failed answers included.
    requests: Arc<Mutex<Vec<(String, Value)>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Receiver {
    /// The URL carries a token in its path, as Slack's do: it must never be printed.
    const TOKEN: &str = "T000-SECRET-TOKEN";

    async fn start(script: &[u16]) -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!(
            "http://127.0.0.1:{}/services/{}",
            listener.local_addr().unwrap().port(),
            Self::TOKEN
        );
        let requests = Arc::new(Mutex::new(Vec::new()));
        let script = Arc::new(Mutex::new(script.to_vec()));
        let seen = requests.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (seen, script) = (seen.clone(), script.clone());
                tokio::spawn(async move {
                    let mut stream = BufReader::new(stream);
                    let mut request_line = String::new();
                    if stream.read_line(&mut request_line).await.is_err() {
                        return;
                    }
                    let mut length = 0;
                    loop {
                        let mut header = String::new();
                        if stream.read_line(&mut header).await.unwrap_or(0) == 0 {
                            return;
                        }
                        if header == "\r\n" {
                            break;
                        }
                        if let Some((name, value)) = header.split_once(':')
                            && name.eq_ignore_ascii_case("content-length")
                        {
                            length = value.trim().parse().unwrap_or(0);
                        }
                    }
                    let mut body = vec![0u8; length];
                    if stream.read_exact(&mut body).await.is_err() {
                        return;
                    }
                    let path = request_line.split(' ').nth(1).unwrap_or("").to_owned();
                    let json = serde_json::from_slice(&body).unwrap_or(Value::Null);
                    seen.lock().unwrap().push((path, json));
                    let status = {
                        let mut script = script.lock().unwrap();
                        if script.is_empty() {
                            200
                        } else {
                            script.remove(0)
                        }
                    };
                    let answer = format!(
                        "HTTP/1.1 {status} X\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok"
                    );
                    let _ = stream.get_mut().write_all(answer.as_bytes()).await;
                });
            }
        });
        Receiver {
            url,
            requests,
            task,
        }
    }

    fn bodies(&self) -> Vec<Value> {
        self.requests
            .lock()
            .unwrap()
            .iter()
            .map(|(_, b)| b.clone())
            .collect()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The verdict a Slack payload announces: its `text` is `mytriage: CRIT on ...`.
fn announced(body: &Value) -> String {
    let text = body["text"].as_str().expect("Slack payloads have text");
    text.trim_start_matches("mytriage: ")
        .split(' ')
        .next()
        .unwrap()
        .to_owned()
}

fn assert_slack_shape(body: &Value) {
    let blocks = body["blocks"].as_array().expect("blocks");
    assert_eq!(blocks[0]["type"], "header", "{body:#}");
    assert_eq!(blocks[0]["text"]["type"], "plain_text");
    let sections: Vec<&Value> = blocks.iter().filter(|b| b["type"] == "section").collect();
    assert!(sections.len() >= 2, "{body:#}");
    let fields = sections[0]["fields"]
        .as_array()
        .expect("verdict and server fields");
    assert!(fields[0]["text"].as_str().unwrap().starts_with("*Verdict*"));
    assert!(fields[1]["text"].as_str().unwrap().starts_with("*Server*"));
    let next = sections.last().unwrap()["text"]["text"].as_str().unwrap();
    assert!(next.starts_with("*Next*\n`mytriage -h "), "{next}");
}

#[test]
fn notify_refuses_bad_input_before_connecting() {
    // Port 1 refuses: each error must come before any attempt to connect.
    let run = || Mytriage::new("mysql://root@127.0.0.1:1");
    let cases: [(Vec<&str>, &str); 3] = [
        (vec!["watch", "--notify"], "--notify needs a webhook URL"),
        (
            vec![
                "watch",
                "--notify",
                "--notify-url",
                "ftp://hooks/T000-SECRET",
            ],
            "--notify-url is not an http:// or https:// URL",
        ),
        (
            vec!["check", "--notify"],
            "check --notify needs --state FILE",
        ),
    ];
    for (args, says) in cases {
        let output = run().args(&args).env_remove_notify().output();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            output.status.code() == Some(2) || output.status.code() == Some(3),
            "{args:?}: {stderr}"
        );
        let all = format!("{stderr}{}", String::from_utf8_lossy(&output.stdout));
        assert!(all.contains(says), "{args:?}: {all}");
        assert!(!all.contains("cannot connect"), "{args:?} connected: {all}");
        assert!(
            !all.contains("T000-SECRET"),
            "{args:?} printed the URL: {all}"
        );
    }
}

trait NoNotifyEnv {
    fn env_remove_notify(self) -> Self;
}

impl NoNotifyEnv for Mytriage {
    /// The developer's own webhook must not leak into a test.
    fn env_remove_notify(self) -> Self {
        self.env("MYTRIAGE_NOTIFY_URL", "")
    }
}

/// The verdict is the whole server's: these tests need it below CRIT before they start (nextest
/// runs them alone; a session left open by hand elsewhere would make them meaningless).
async fn assert_quiet(server: &support::TestServer) {
    let status = Mytriage::new(&server.url)
        .args(["status"])
        .json_async()
        .await;
    assert_ne!(
        status["verdict"], "CRIT",
        "{} is already CRIT before the test: {:#}",
        server.name, status["findings"]
    );
}

/// These judge the whole server's verdict: nextest runs each alone.
mod exclusive {
    use super::*;

    #[tokio::test]
    async fn exclusive_notify_watch_posts_once_per_verdict_change() {
        for server in support::servers() {
            support::announce("watch --notify: one post per verdict change", &server);
            assert_quiet(&server).await;
            let receiver = Receiver::start(&[]).await;
            let mut child = Mytriage::new(&server.url)
                .env("MYTRIAGE_NOTIFY_URL", &receiver.url)
                .args([
                    "watch",
                    "--format",
                    "json",
                    "--interval",
                    "250ms",
                    "--samples",
                    "400",
                ])
                .args(["--notify", "--deadlock-window", "1s"])
                .spawn_async();
            let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
            let mut verdicts: Vec<String> = Vec::new();
            let mut incident = None;
            let mut holder = 0;
            let mut phase = 0; // 0: before, 1: incident on, 2: ended
            let mut in_phase = 0;
            while let Some(line) = lines.next_line().await.unwrap() {
                let sample: Value = serde_json::from_str(&line).unwrap();
                assert_eq!(sample["notifications_failed"], 0, "{sample}");
                let Some(verdict) = sample["verdict"].as_str() else {
                    continue;
                };
                verdicts.push(verdict.to_owned());
                in_phase += 1;
                match phase {
                    0 if in_phase == 4 => {
                        let created = scenarios::idle_blocker(&server).await.unwrap();
                        holder = created.holder_id;
                        incident = Some(created);
                        (phase, in_phase) = (1, 0);
                    }
                    1 if verdict == "CRIT" && in_phase >= 4 => {
                        incident.take().unwrap().cleanup().await.unwrap();
                        (phase, in_phase) = (2, 0);
                    }
                    2 if verdict != "CRIT" && in_phase >= 4 => break,
                    _ => {}
                }
                assert!(
                    verdicts.len() < 200,
                    "the incident never showed: {verdicts:?}"
                );
            }
            // Stop watching; let a last post in flight land first.
            tokio::time::sleep(Duration::from_millis(500)).await;
            let _ = child.kill().await;
            if let Some(incident) = incident {
                incident.cleanup().await.unwrap();
            }
            // Expected: the first verdict unless OK, then each change.
            let mut expected: Vec<String> = Vec::new();
            let mut last: Option<&str> = None;
            for verdict in &verdicts {
                if last.map_or(verdict != "OK", |l| l != verdict) {
                    expected.push(verdict.clone());
                }
                last = Some(verdict);
            }
            let bodies = receiver.bodies();
            let posted: Vec<String> = bodies.iter().map(announced).collect();
            assert_eq!(posted, expected, "samples: {verdicts:?}");
            assert!(posted.contains(&"CRIT".to_owned()), "{posted:?}");
            assert!(
                posted.len() < verdicts.len() / 3,
                "posted on every sample: {posted:?}"
            );
            for body in &bodies {
                assert_slack_shape(body);
            }
            let crit = bodies.iter().find(|b| announced(b) == "CRIT").unwrap();
            let text = crit.to_string();
            assert!(
                text.contains(&format!("*Root blocker*: pid {holder} ")),
                "{crit:#}"
            );
            assert!(
                text.contains(&format!("kill {holder} --reason")),
                "{crit:#}"
            );
            // Idle: its last statement, where the server records one (not MariaDB without P_S).
            assert!(
                text.contains("*Last statement*") || text.contains("not recorded"),
                "{crit:#}"
            );
        }
    }

    #[tokio::test]
    async fn exclusive_notify_check_retries_and_posts_only_changes() {
        let Some(server) = support::servers().into_iter().next() else {
            return;
        };
        support::announce("check --notify: retries, state, no repeat", &server);
        assert_quiet(&server).await;
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("check.state");
        let check = |receiver: &Receiver, forced_crit: bool| {
            let mut run = Mytriage::new(&server.url)
                .env("MYTRIAGE_NOTIFY_URL", &receiver.url)
                .args(["check", "--notify", "--notify-format", "json", "--state"])
                .arg(&state);
            if forced_crit {
                // Every server uses at least 0% of its connections: CRIT without an incident.
                run = run.args(["--conn-pct-warn", "0", "--conn-pct-crit", "0"]);
            }
            run.output_async()
        };
        // Fails twice, then takes it: one delivery after three attempts.
        let flaky = Receiver::start(&[500, 503]).await;
        let first = check(&flaky, true).await;
        assert_eq!(first.status.code(), Some(2), "CRITICAL");
        assert_eq!(
            flaky.bodies().len(),
            3,
            "two failures and the retry that worked"
        );
        let body = &flaky.bodies()[2];
        assert_eq!(body["verdict"], "CRIT", "{body:#}");
        assert_eq!(body["previous"], Value::Null);
        assert_eq!(body["by"], "check");
        assert!(
            body["findings"]
                .as_array()
                .unwrap()
                .iter()
                .any(|f| f["check"] == "connections")
        );
        // Unchanged: nothing posted.
        let again = check(&flaky, true).await;
        assert_eq!(again.status.code(), Some(2));
        assert_eq!(flaky.bodies().len(), 3, "posted an unchanged verdict");
        // Back to normal thresholds: the change is posted, with what it was before.
        let back = check(&flaky, false).await;
        assert_ne!(
            back.status.code(),
            Some(2),
            "{}",
            String::from_utf8_lossy(&back.stdout)
        );
        let bodies = flaky.bodies();
        assert_eq!(bodies.len(), 4);
        assert_eq!(bodies[3]["previous"], "CRIT");
        assert_ne!(bodies[3]["verdict"], "CRIT");
        // A webhook that never takes it: said on stderr, without the URL; the exit code is the
        // verdict's; the change is tried again at the next run.
        let broken = Receiver::start(&[500; 8]).await;
        let failed = check(&broken, true).await;
        assert_eq!(failed.status.code(), Some(2));
        let stderr = String::from_utf8_lossy(&failed.stderr);
        assert!(
            stderr.contains("notification not delivered after 4 attempts"),
            "{stderr}"
        );
        assert!(stderr.contains("HTTP 500"), "{stderr}");
        assert!(
            !stderr.contains(Receiver::TOKEN),
            "the URL leaked: {stderr}"
        );
        assert_eq!(broken.bodies().len(), 4);
        let retried = check(&flaky, true).await;
        assert_eq!(retried.status.code(), Some(2));
        assert_eq!(
            flaky.bodies().len(),
            5,
            "the undelivered change is posted at the next run"
        );
    }

    #[tokio::test]
    async fn exclusive_notify_incident_notice_names_the_idle_blocker_in_korean_and_english() {
        let Some(server) = support::servers().into_iter().next() else {
            return;
        };
        support::announce("incident notice (ko, en)", &server);
        assert_quiet(&server).await;
        let incident = scenarios::idle_blocker(&server).await.unwrap();
        let receiver = Receiver::start(&[]).await;
        let notice = |lang: &'static str, format: &'static str| {
            Mytriage::new(&server.url)
                .env("MYTRIAGE_NOTIFY_URL", &receiver.url)
                .args([
                    "incident",
                    "notice",
                    "--lang",
                    lang,
                    "--notify-format",
                    format,
                ])
                .output_async()
        };
        let korean = notice("ko", "json").await;
        let english = notice("en", "slack").await;
        let holder = incident.holder_id;
        incident.cleanup().await.unwrap();
        for output in [&korean, &english] {
            assert_eq!(
                output.status.code(),
                Some(0),
                "{}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        let bodies = receiver.bodies();
        assert_eq!(bodies.len(), 2);
        let ko = bodies[0]["text"].as_str().unwrap();
        assert_eq!(bodies[0]["lang"], "ko");
        assert!(ko.starts_with("인지했습니다: "), "{ko}");
        assert!(ko.contains(&format!("세션 {holder} ")), "{ko}");
        assert!(ko.contains("대응 중"), "{ko}");
        let en = bodies[1]["text"].as_str().unwrap();
        assert!(en.starts_with("We know: "), "{en}");
        assert!(en.contains(&format!("Session {holder} ")), "{en}");
        assert_eq!(bodies[1]["blocks"][0]["type"], "section");
        // What was posted is printed too.
        assert!(String::from_utf8_lossy(&english.stdout).contains("We know: "));
    }
}
