//! A hung server: the test freezes the server process (SIGSTOP). `status` gives up within its
//! connect timeout, `top` within its query timeout, each with exit 2 and a clear line, and `watch`
//! shows the stall and recovers after SIGCONT. It freezes a shared server, so it runs alone (in its
//! module `exclusive`; nextest: threads-required = all), and a guard thaws the server whatever happens.

use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::support::freeze::{Frozen, server_pid};
use crate::support::{self, Mytriage};

/// Tests that judge or change the whole server: nextest runs each alone
/// (`.config/nextest.toml`: threads-required = all).
mod exclusive {
    use super::*;

    #[tokio::test]
    async fn exclusive_hung_server() {
        for server in support::servers() {
            let Some(pid) = server_pid(&server.name) else {
                assert!(
                    std::env::var("CI").is_err(),
                    "CI starts its servers with scripts/testdb, which keeps pid files"
                );
                eprintln!(
                    "skipping the hung-server test on {}: no pid file (not started by scripts/testdb)",
                    server.name
                );
                continue;
            };
            support::announce("hung server (SIGSTOP)", &server);
            let mut watch = Mytriage::new(&server.url)
                .args(["--query-timeout", "1s", "--connect-timeout", "1s"])
                .args([
                    "watch",
                    "--format",
                    "json",
                    "--interval",
                    "500ms",
                    "--samples",
                    "16",
                ])
                .spawn_async();
            let mut lines = BufReader::new(watch.stdout.take().unwrap()).lines();
            let first: Value =
                serde_json::from_str(&lines.next_line().await.unwrap().unwrap()).unwrap();
            assert_eq!(first["ok"], true);
            let top = Mytriage::new(&server.url)
                .args(["--query-timeout", "1s"])
                .args(["top", "--duration", "20s", "--interval", "300ms"])
                .spawn();
            tokio::time::sleep(Duration::from_millis(800)).await; // top is connected and sampling

            let frozen = Frozen::freeze(pid);
            let stopped = Instant::now();
            let status = tokio::task::spawn_blocking({
                let status = Mytriage::new(&server.url).args(["--connect-timeout", "2s", "status"]);
                move || {
                    let started = Instant::now();
                    let output = status.output();
                    (output, started.elapsed())
                }
            })
            .await
            .unwrap();
            let top = tokio::task::spawn_blocking(move || top.wait_with_output().unwrap())
                .await
                .unwrap();
            let top_after = stopped.elapsed();
            tokio::time::sleep(Duration::from_millis(500)).await;
            drop(frozen); // thaw

            let (output, took) = status;
            assert_eq!(output.status.code(), Some(2));
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert!(stderr.contains("within 2s (--connect-timeout)"), "{stderr}");
            assert!(took < Duration::from_secs(4), "status gave up in {took:?}");
            assert_eq!(
                top.status.code(),
                Some(2),
                "{}",
                String::from_utf8_lossy(&top.stderr)
            );
            let top_err = String::from_utf8_lossy(&top.stderr);
            assert!(
                top_err.contains("took longer than 1s (--query-timeout)"),
                "{top_err}"
            );
            assert!(
                top_after < Duration::from_secs(6),
                "top gave up {top_after:?} after the freeze"
            );

            let mut samples = vec![first];
            while let Some(line) = lines.next_line().await.unwrap() {
                samples.push(serde_json::from_str(&line).unwrap());
            }
            assert!(watch.wait().await.unwrap().success());
            let stalled = samples
                .iter()
                .position(|s| s["ok"] == false)
                .expect("watch shows the stall");
            assert!(samples[stalled]["error"].is_string());
            assert!(
                samples[stalled..].iter().any(|s| s["ok"] == true),
                "watch recovers after SIGCONT: {samples:#?}"
            );
        }
    }
}
