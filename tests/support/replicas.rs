//! The replicas of the test servers (`MYTRIAGE_TEST_REPLICAS=source-name=url,...`), and waiting
//! for one to catch up with its source.

use anyhow::{Context, Result};
use mysql_async::prelude::*;

use super::{Flavor, TestServer, servers};

/// Environment variable naming each test server's replica by the source's name.
pub const REPLICAS_ENV: &str = "MYTRIAGE_TEST_REPLICAS";

/// A source and its replica.
#[derive(Clone, Debug)]
pub struct Pair {
    pub source: TestServer,
    pub replica: TestServer,
}

/// Every source with a replica. Under CI a missing replica list fails, as a missing server does.
pub fn pairs() -> Vec<Pair> {
    let raw = std::env::var(REPLICAS_ENV).unwrap_or_default();
    if raw.trim().is_empty() {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("{REPLICAS_ENV} is not set but CI=true: run scripts/testdb up");
        }
        eprintln!("skipping replication test: {REPLICAS_ENV} is not set");
        return Vec::new();
    }
    let sources = servers();
    raw.split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|entry| {
            let (name, url) = entry
                .split_once('=')
                .unwrap_or_else(|| panic!("{REPLICAS_ENV}: expected name=url, got {entry:?}"));
            let source = sources
                .iter()
                .find(|s| s.name == name.trim())
                .unwrap_or_else(|| panic!("{REPLICAS_ENV}: no test server named {name}"))
                .clone();
            Pair {
                replica: TestServer {
                    name: format!("{}-replica", source.name),
                    url: url.trim().to_owned(),
                },
                source,
            }
        })
        .collect()
}

impl Pair {
    pub async fn flavor(&self) -> Flavor {
        let mut conn = self.source.conn().await;
        let flavor = Flavor::of(&mut conn).await.expect("flavor");
        let _ = conn.disconnect().await;
        flavor
    }

    /// Waits until the replica has applied everything the source has committed.
    pub async fn caught_up(&self) -> Result<()> {
        let mut source = self.source.try_conn().await?;
        let mut replica = self.replica.try_conn().await?;
        let done: Option<i64> = match Flavor::of(&mut source).await? {
            Flavor::MariaDb => {
                let pos: String = source
                    .query_first("SELECT @@GLOBAL.gtid_binlog_pos")
                    .await?
                    .unwrap_or_default();
                replica
                    .exec_first("SELECT MASTER_GTID_WAIT(?, 60)", (pos,))
                    .await?
            }
            Flavor::MySql => {
                let set: String = source
                    .query_first("SELECT @@GLOBAL.gtid_executed")
                    .await?
                    .unwrap_or_default();
                replica
                    .exec_first("SELECT WAIT_FOR_EXECUTED_GTID_SET(?, 60)", (set,))
                    .await?
            }
        };
        let _ = source.disconnect().await;
        let _ = replica.disconnect().await;
        anyhow::ensure!(done == Some(0), "{} did not catch up", self.replica.name);
        Ok(())
    }

    /// `STOP`/`START` of one replication thread, in the replica's spelling.
    pub async fn replica_thread(&self, start: bool, thread: &str) -> Result<()> {
        let mut replica = self.replica.try_conn().await?;
        let verb = if start { "START" } else { "STOP" };
        let sql = match Flavor::of(&mut replica).await? {
            Flavor::MariaDb => format!("{verb} SLAVE {thread}"),
            Flavor::MySql => format!("{verb} REPLICA {thread}"),
        };
        replica
            .query_drop(&sql)
            .await
            .with_context(|| sql.clone())?;
        let _ = replica.disconnect().await;
        Ok(())
    }
}
