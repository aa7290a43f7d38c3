//! Notifications on a change of verdict (OK → WARN → CRIT → OK), to a chat webhook: Slack's
//! incoming-webhook JSON or plain JSON for any other receiver.
//!
//! The webhook URL is a secret (it is the credential): it comes from `MYTRIAGE_NOTIFY_URL`, the
//! option files' `notify-url` (group `[mytriage]`) or `--notify-url` (with the warning a password
//! on the command line gets), and it is never printed: errors say "the webhook" instead.

mod message;
pub(crate) mod notice;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Result, bail};

pub(crate) use message::{Change, payload};

/// Delays before each retry of a delivery: four attempts in all, under two seconds of waiting.
const BACKOFF: [Duration; 3] = [
    Duration::from_millis(250),
    Duration::from_millis(500),
    Duration::from_secs(1),
];
/// How long one attempt may take.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(5);

/// The payload's shape.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Style {
    /// Slack's incoming-webhook JSON: `text` and `blocks`.
    #[default]
    Slack,
    /// One plain JSON object, for any webhook.
    Json,
}

/// What the command line asked for; the URL is resolved later, with the option files.
#[derive(Debug, Clone)]
pub(crate) struct Request {
    pub style: Style,
    /// `--notify-url`, when given there.
    pub url: Option<String>,
}

/// Where notifications go.
#[derive(Clone)]
pub(crate) struct Webhook {
    url: reqwest::Url,
    pub style: Style,
}

/// Never shows the URL.
impl std::fmt::Debug for Webhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Webhook({:?}, URL hidden)", self.style)
    }
}

impl Webhook {
    /// The webhook of `request`: `--notify-url`, else `MYTRIAGE_NOTIFY_URL`, else `option_file`'s
    /// `notify-url`. Warnings (a URL on the command line) are pushed to `warnings`.
    pub(crate) fn resolve(
        request: &Request,
        env: &dyn Fn(&str) -> Option<String>,
        option_file: Option<String>,
        warnings: &mut Vec<String>,
    ) -> Result<Webhook> {
        let set = |v: Option<String>| v.filter(|v| !v.trim().is_empty());
        let (text, from) = match (
            &request.url,
            set(env("MYTRIAGE_NOTIFY_URL")),
            set(option_file),
        ) {
            (Some(url), _, _) => {
                warnings.push(
                    "[Warning] Using a webhook URL on the command line interface can be insecure; prefer MYTRIAGE_NOTIFY_URL or notify-url in an option file."
                        .to_owned(),
                );
                (url.clone(), "--notify-url")
            }
            (None, Some(url), _) => (url, "MYTRIAGE_NOTIFY_URL"),
            (None, None, Some(url)) => (url, "the option file's notify-url"),
            (None, None, None) => bail!(
                "--notify needs a webhook URL: set MYTRIAGE_NOTIFY_URL, notify-url in the [mytriage] group of an option file, or --notify-url"
            ),
        };
        let url = match reqwest::Url::parse(text.trim()) {
            Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => url,
            // The text is not echoed: it may be a secret with a typo in it.
            _ => bail!("{from} is not an http:// or https:// URL (not shown: it is a secret)"),
        };
        Ok(Webhook {
            url,
            style: request.style,
        })
    }

    /// Posts `body`, retried with backoff; the error never contains the URL.
    pub(crate) async fn post(&self, body: &serde_json::Value) -> Result<()> {
        let client = reqwest::Client::builder()
            .timeout(ATTEMPT_TIMEOUT)
            .build()
            .map_err(|e| anyhow::anyhow!("cannot build the HTTP client: {}", e.without_url()))?;
        let body = serde_json::to_vec(body)?;
        let mut last = String::new();
        for attempt in 0..=BACKOFF.len() {
            if attempt > 0 {
                tokio::time::sleep(BACKOFF[attempt - 1]).await;
            }
            let sent = client
                .post(self.url.clone())
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.clone())
                .send()
                .await;
            match sent {
                Ok(response) if response.status().is_success() => return Ok(()),
                Ok(response) => last = format!("the webhook answered HTTP {}", response.status()),
                Err(error) => {
                    last = format!("the webhook could not be reached: {}", error.without_url())
                }
            }
        }
        bail!(
            "notification not delivered after {} attempts: {last}",
            BACKOFF.len() + 1
        )
    }
}

/// Deliveries in the background, in order, so that sampling never waits for the webhook.
pub(crate) struct Outbox {
    queue: tokio::sync::mpsc::UnboundedSender<serde_json::Value>,
    failed: Arc<AtomicU64>,
    worker: tokio::task::JoinHandle<()>,
}

impl Outbox {
    pub(crate) fn start(webhook: Webhook) -> Outbox {
        let (queue, mut pending) = tokio::sync::mpsc::unbounded_channel::<serde_json::Value>();
        let failed = Arc::new(AtomicU64::new(0));
        let count = failed.clone();
        let worker = tokio::spawn(async move {
            while let Some(body) = pending.recv().await {
                if let Err(error) = webhook.post(&body).await {
                    count.fetch_add(1, Ordering::Relaxed);
                    eprintln!("mytriage: {}", crate::error::one_line(&error));
                }
            }
        });
        Outbox {
            queue,
            failed,
            worker,
        }
    }

    /// Queues a notification; returns at once.
    pub(crate) fn send(&self, body: serde_json::Value) {
        let _ = self.queue.send(body);
    }

    /// Notifications that could not be delivered, retries included.
    pub(crate) fn failed(&self) -> u64 {
        self.failed.load(Ordering::Relaxed)
    }

    /// Waits (at most `limit`) for what is queued to be delivered or given up.
    pub(crate) async fn finish(self, limit: Duration) {
        drop(self.queue);
        let _ = tokio::time::timeout(limit, self.worker).await;
    }
}

/// How to reach the server again, for the command a notification suggests: the host and port
/// (or the socket), never the credentials.
pub(crate) fn command_for(config: &crate::connect::ConnectConfig) -> String {
    match &config.socket {
        Some(socket) => format!("mytriage -S {socket}"),
        None => format!("mytriage -h {} -P {}", config.host, config.port),
    }
}

/// Whether a verdict is worth a post: a change from the last one posted (the first one only
/// when it is not OK, so that starting to watch a healthy server says nothing).
pub(crate) fn changed(last: Option<crate::verdict::Verdict>, now: crate::verdict::Verdict) -> bool {
    match last {
        None => now != crate::verdict::Verdict::Ok,
        Some(last) => last != now,
    }
}

#[cfg(test)]
mod root_tests;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verdict::Verdict;

    #[test]
    fn only_changes_are_posted_and_a_healthy_start_is_silent() {
        assert!(!changed(None, Verdict::Ok));
        assert!(changed(None, Verdict::Warn));
        assert!(!changed(Some(Verdict::Crit), Verdict::Crit));
        assert!(changed(Some(Verdict::Crit), Verdict::Ok));
    }

    #[test]
    fn the_url_comes_from_the_flag_then_the_environment_then_the_option_file() {
        let request = |url: Option<&str>| Request {
            style: Style::Slack,
            url: url.map(str::to_owned),
        };
        let env = |_: &str| Some("https://hooks.example/env".to_owned());
        let none = |_: &str| None;
        let mut warnings = Vec::new();
        let flag = Webhook::resolve(
            &request(Some("http://127.0.0.1:1/f")),
            &env,
            None,
            &mut warnings,
        );
        assert_eq!(flag.unwrap().url.path(), "/f");
        assert!(warnings[0].contains("can be insecure"), "{warnings:?}");
        let from_env = Webhook::resolve(
            &request(None),
            &env,
            Some("https://x/file".into()),
            &mut warnings,
        );
        assert_eq!(from_env.unwrap().url.path(), "/env");
        let file = Webhook::resolve(
            &request(None),
            &none,
            Some("https://x/file".into()),
            &mut warnings,
        );
        assert_eq!(file.unwrap().url.path(), "/file");
        let missing = Webhook::resolve(&request(None), &none, None, &mut warnings).unwrap_err();
        assert!(
            missing.to_string().contains("MYTRIAGE_NOTIFY_URL"),
            "{missing}"
        );
    }

    #[test]
    fn a_bad_url_is_refused_without_being_shown() {
        let env = |_: &str| Some("ftp://secret-token@hooks".to_owned());
        let request = Request {
            style: Style::Json,
            url: None,
        };
        let error = Webhook::resolve(&request, &env, None, &mut Vec::new()).unwrap_err();
        let text = error.to_string();
        assert!(
            text.contains("MYTRIAGE_NOTIFY_URL is not an http"),
            "{text}"
        );
        assert!(!text.contains("secret-token"), "{text}");
        let shown = format!(
            "{:?}",
            Webhook::resolve(
                &Request {
                    url: Some("https://h/secret-token".into()),
                    ..request
                },
                &env,
                None,
                &mut Vec::new()
            )
            .unwrap()
        );
        assert!(!shown.contains("secret-token"), "{shown}");
    }
}
