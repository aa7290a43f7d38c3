//! Round trips per command, counted by a proxy between the binary and each live server: the
//! client's turns, handshake included. Counts, not times, so they cannot flake. Each command is
//! held to the count it reaches today (the table below), so a change that adds a round trip to
//! a command fails here and has to say so; the `mariadb -e 'select 1'` anchor is printed beside.
//! Conditional statements (a tie among the oldest transactions, a lock wait to explain) add
//! round trips only when their condition holds, so the test runs alone (`exclusive_`), on a
//! server where nothing else happens.

mod support;

use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;

use support::proxy::Proxy;
use support::{TestServer, servers};

/// The most client turns each command may take on any test server, TLS off (plain TCP).
/// Handshake 2, detection 1, then the command's statements; the session set-up rides with the
/// first of them.
/// Measured on MySQL 9.7 and MariaDB 10.11 (both P_S settings) on an idle server; before the
/// detection batch they were 9–11 for `server`, 8–9 for `processlist` and 14–17 for `status`.
const BOUNDS: &[(&str, u64)] = &[
    ("server", 6),
    ("processlist", 4),
    ("trx", 5),
    ("history", 7),
    ("connections", 6),
    ("deadlocks", 4),
    ("locks", 7),
    ("status", 12),
];

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
    output.status.success().then(|| proxy.turns())
}

// Clients run in spawn_blocking: the proxy's tasks share this runtime and must keep running.
#[tokio::test]
async fn exclusive_every_command_keeps_its_round_trips() {
    let mut over = Vec::new();
    for server in servers() {
        support::announce("round trips per command", &server);
        let proxy = Proxy::start(upstream(&server), Duration::ZERO)
            .await
            .expect("proxy");
        let user = url::Url::parse(&server.url).unwrap().username().to_owned();
        let url = format!(
            "mysql://{user}@127.0.0.1:{}/?ssl-mode=DISABLED",
            proxy.addr.port()
        );
        let select_1 = anchor(&proxy, &user).await;
        let mut seen = Vec::new();
        for (command, bound) in BOUNDS {
            proxy.reset();
            let url = url.clone();
            let command_owned = (*command).to_owned();
            let output = tokio::task::spawn_blocking(move || {
                support::mytriage_output(&url, &[&command_owned, "--format", "json"])
            })
            .await
            .unwrap();
            assert!(
                output.status.code().is_some_and(|c| c <= 1),
                "{command}: {}",
                String::from_utf8_lossy(&output.stderr)
            );
            let turns = proxy.turns();
            seen.push(format!("{command} {turns}"));
            if turns > *bound {
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
