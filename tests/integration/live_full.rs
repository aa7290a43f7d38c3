//! A server whose max_connections is reached: an account with CONNECTION_ADMIN/SUPER still gets
//! in and sees the saturation; one without is told the server is full and what to do. The test
//! lowers max_connections for a moment, so it runs alone (module `exclusive`; nextest:
//! threads-required = all) and restores the setting before asserting.

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, OptsBuilder};

use crate::support::{self, Mytriage};

/// Tests that judge or change the whole server: nextest runs each alone
/// (`.config/nextest.toml`: threads-required = all).
mod exclusive {
    use super::*;

    #[tokio::test]
    async fn exclusive_full_server() {
        for server in support::servers() {
            support::announce("max_connections reached", &server);
            server.create_user("mt_full", None, Some("USAGE")).await;
            server
                .create_user("mt_plain", None, Some("PROCESS, SELECT"))
                .await;
            let mut root = server.conn().await;
            let mut globals = server.globals();
            let connected: u64 = root
                .query_first::<(String, u64), _>("SHOW GLOBAL STATUS LIKE 'Threads_connected'")
                .await
                .unwrap()
                .unwrap()
                .1;
            globals
                .set(&mut root, "max_connections", connected + 3)
                .await
                .unwrap();
            // MariaDB raises values below its minimum (10): use what the server took.
            let limit: u64 = root
                .query_first("SELECT @@GLOBAL.max_connections")
                .await
                .unwrap()
                .unwrap();
            // Ordinary sessions until the server refuses (error 1040).
            let mut fillers: Vec<Conn> = Vec::new();
            let mut refused = false;
            for _ in 0..limit + 5 {
                match Conn::new(OptsBuilder::from_opts(server.opts_as("mt_full"))).await {
                    Ok(conn) => fillers.push(conn),
                    Err(mysql_async::Error::Server(e)) if e.code == 1040 => {
                        refused = true;
                        break;
                    }
                    Err(other) => panic!("unexpected error while filling: {other}"),
                }
            }
            let admin = Mytriage::new(&server.url)
                .args(["connections", "--format", "json"])
                .output_async()
                .await;
            let plain = Mytriage::new(&server.url_as("mt_plain", None))
                .args(["connections"])
                .output_async()
                .await;
            for filler in fillers {
                let _ = filler.disconnect().await;
            }
            let _ = root.disconnect().await;
            globals.restore().await.unwrap();

            assert!(refused, "the server was really full");
            assert_eq!(
                admin.status.code(),
                Some(0),
                "an admin account gets in: {}",
                String::from_utf8_lossy(&admin.stderr)
            );
            let report: serde_json::Value = serde_json::from_slice(&admin.stdout).unwrap();
            assert_eq!(report["max_connections"], limit);
            assert!(
                report["used_pct"].as_f64().unwrap() >= 100.0,
                "saturation reported: {report:#}"
            );
            assert_eq!(plain.status.code(), Some(2));
            let stderr = String::from_utf8_lossy(&plain.stderr);
            assert!(
                stderr.contains("Too many connections") && stderr.contains("The server is full"),
                "{stderr}"
            );
            assert!(
                stderr.contains("admin_port") && stderr.contains("extra_port"),
                "names the remedies: {stderr}"
            );
        }
    }
}
