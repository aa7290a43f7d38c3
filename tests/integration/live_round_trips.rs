//! Round trips per command, counted by a proxy between the binary and each live server: the
//! client's turns, handshake included. Counts, not times, so they cannot flake. Every one-shot
//! command may take at most one more than `mariadb -e 'select 1'` through the same proxy.
//! Conditional statements (a tie among the oldest transactions, a lock wait to explain) add
//! round trips only when their condition holds, so the test runs alone (module `exclusive`), on a
//! server where nothing else happens.

use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;

use crate::support::proxy::Proxy;

use crate::support::{self, Mytriage, TestServer, servers};

/// The one-shot commands: each may take at most one round trip more than `mariadb -e 'select 1'`
/// (the handshake, one batch with the session set-up and every statement the snapshot always
/// needs, the quit). Before the batches they took 8 to 17 (BENCHMARKS.md).
const COMMANDS: &[&str] = &[
    "server",
    "processlist",
    "trx",
    "history",
    "connections",
    "deadlocks",
    "locks",
    "status",
];

/// The anchor's count where no `mariadb` client is installed (3, measured with it everywhere).
const SELECT_1: u64 = 3;

/// A proxy in front of `server` (no delay), the account, and a URL through the proxy, TLS off
/// so every client's handshake takes the same turns.
async fn proxied(server: &TestServer) -> (Proxy, String, String) {
    let proxy = Proxy::start(upstream(server), Duration::ZERO)
        .await
        .expect("proxy");
    let user = url::Url::parse(&server.url).unwrap().username().to_owned();
    let url = format!(
        "mysql://{user}@127.0.0.1:{}/?ssl-mode=DISABLED",
        proxy.addr.port()
    );
    (proxy, user, url)
}

fn upstream(server: &TestServer) -> SocketAddr {
    let url = url::Url::parse(&server.url).expect("server URL");
    let host = url.host_str().expect("host");
    let port = url.port().unwrap_or(3306);
    format!("{host}:{port}").parse().expect("a numeric address")
}

/// Turns the `mariadb` client takes for `-e 'select 1'`, when it is installed.
async fn anchor(proxy: &Proxy, user: &str) -> Option<u64> {
    proxy.reset();
    let mut client = Command::new("mariadb");
    client
        .args(["--no-defaults", "--skip-ssl", "-h127.0.0.1", "-u", user])
        .arg(format!("-P{}", proxy.addr.port()))
        .args(["-e", "select 1"]);
    let output = tokio::task::spawn_blocking(move || client.output())
        .await
        .ok()?
        .ok()?;
    if !output.status.success() {
        return None;
    }
    Some(proxy.turns().await)
}

/// Runs the binary through the proxy and returns its stdout and the client turns it took.
async fn turns_of(proxy: &Proxy, url: &str, args: &[&str]) -> (String, u64) {
    proxy.reset();
    let output = Mytriage::new(url).args(args).output_async().await;
    assert!(
        output.status.code().is_some_and(|c| c <= 1),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let turns = proxy.turns().await;
    (String::from_utf8_lossy(&output.stdout).into_owned(), turns)
}

/// Tests that judge or change the whole server: nextest runs each alone
/// (`.config/nextest.toml`: threads-required = all).
mod exclusive {
    use super::*;

    // Clients run in spawn_blocking: the proxy's tasks share this runtime and must keep running.
    #[tokio::test]
    async fn exclusive_every_command_keeps_its_round_trips() {
        let mut over = Vec::new();
        for server in servers() {
            support::announce("round trips per command", &server);
            let (proxy, user, url) = proxied(&server).await;
            let select_1 = anchor(&proxy, &user).await;
            let mut seen = Vec::new();
            let bound = select_1.unwrap_or(SELECT_1) + 1;
            for command in COMMANDS {
                let (_, turns) = turns_of(&proxy, &url, &[command, "--format", "json"]).await;
                seen.push(format!("{command} {turns}"));
                if turns > bound {
                    over.push(format!(
                        "{command} took {turns} on {}, more than {bound}",
                        server.name
                    ));
                }
            }
            eprintln!(
                "round trips on {} (mariadb -e 'select 1': {}): {}",
                server.name,
                select_1.map_or("n/a".to_owned(), |n| n.to_string()),
                seen.join(", ")
            );
        }
        assert!(over.is_empty(), "{}", over.join("; "));
    }

    /// A `watch` or `top` sample is one round trip: the handshake, the detection and (where the run
    /// closes politely) the quit are the other turns of the run.
    #[tokio::test]
    async fn exclusive_each_watch_and_top_sample_is_one_round_trip() {
        for server in servers() {
            support::announce("round trips per sample", &server);
            let (proxy, _, url) = proxied(&server).await;
            let watch = [
                "watch",
                "--samples",
                "3",
                "--interval",
                "200ms",
                "--format",
                "json",
            ];
            let (stdout, watch_turns) = turns_of(&proxy, &url, &watch).await;
            let samples = stdout.lines().filter(|l| l.starts_with('{')).count() as u64;
            let turns = watch_turns;
            assert_eq!(samples, 3, "{stdout}");
            assert!(
                turns <= samples + 3,
                "watch on {}: {turns} turns",
                server.name
            );

            let top = [
                "top",
                "--duration",
                "2s",
                "--interval",
                "500ms",
                "--format",
                "json",
            ];
            let (stdout, turns) = turns_of(&proxy, &url, &top).await;
            let report: serde_json::Value = serde_json::from_str(&stdout).expect("top JSON");
            let samples = report["samples"].as_u64().expect("samples");
            assert!(samples >= 2, "{report:#}");
            assert!(
                turns <= samples + 3,
                "top on {}: {turns} turns",
                server.name
            );
            eprintln!(
                "round trips on {}: watch 3 samples in {watch_turns} turns, top {samples} samples in \
                 {turns} turns",
                server.name
            );
        }
    }

    /// A batch kill snapshots every victim in one round trip; only the re-verification, which must
    /// gate each kill, is one round trip per victim. A dry run of three idle-in-transaction victims
    /// takes the handshake, the detection, the selection, the snapshots, three re-verifications and
    /// the quit.
    #[tokio::test]
    async fn exclusive_a_batch_kill_snapshots_every_victim_in_one_round_trip() {
        use mysql_async::prelude::Queryable;
        for server in servers() {
            support::announce("round trips of a batch kill", &server);
            let table = server.scratch_table("rt_kill").await;
            let mut idle = Vec::new();
            for row in 10..13 {
                let mut conn = server.conn().await;
                conn.query_drop("BEGIN").await.unwrap();
                conn.query_drop(format!("INSERT INTO {table} VALUES ({row}, 0)"))
                    .await
                    .unwrap();
                idle.push(conn);
            }
            let (proxy, _, url) = proxied(&server).await;
            let dir = tempfile::tempdir().unwrap();
            let evidence = dir.path().join("e.jsonl");
            let evidence = evidence.to_str().unwrap();
            let kill = [
                "kill",
                "--idle-in-trx-older-than",
                "0s",
                "--reason",
                "round trips",
                "--evidence",
                evidence,
                "--format",
                "json",
            ];
            let (stdout, turns) = turns_of(&proxy, &url, &kill).await;
            for mut conn in idle {
                let _ = conn.query_drop("ROLLBACK").await;
                let _ = conn.disconnect().await;
            }
            let report: serde_json::Value = serde_json::from_str(&stdout).expect("kill JSON");
            let victims = report["victims"].as_array().expect("victims").len() as u64;
            assert_eq!(victims, 3, "{report:#}");
            assert_eq!(report["dry_run"], true);
            assert!(
                turns <= victims + 5,
                "kill of {victims} on {}: {turns} turns",
                server.name
            );
            eprintln!(
                "round trips on {}: a dry-run kill of {victims} victims in {turns} turns",
                server.name
            );
        }
    }
}
