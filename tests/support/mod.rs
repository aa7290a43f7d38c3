//! Shared support for live-server tests: which servers to test against, how to
//! connect to them, and (in [`scenarios`]) real incident conditions to create on them.
//!
//! Included by several integration tests and by `examples/demo.rs` via
//! `#[path = "../tests/support/mod.rs"] mod support;`, so it depends only on
//! mysql_async, tokio, anyhow and std, never on the mytriage crate itself.
#![allow(dead_code)]

pub mod scenarios;

use anyhow::{Context, Result};
use mysql_async::prelude::*;
use mysql_async::{Conn, Opts, OptsBuilder};

/// Environment variable listing live servers as `name=url,name=url`.
pub const SERVERS_ENV: &str = "MYTRIAGE_TEST_SERVERS";

/// One live server to run tests against.
#[derive(Clone, Debug)]
pub struct TestServer {
    pub name: String,
    pub url: String,
}

impl TestServer {
    /// Connection options from the URL; TCP always, because the URL names a port
    /// and a local socket could belong to a different server.
    pub fn opts(&self) -> Opts {
        let opts = Opts::from_url(&self.url)
            .unwrap_or_else(|e| panic!("bad URL for test server {}: {e}", self.name));
        OptsBuilder::from_opts(opts).prefer_socket(false).into()
    }

    /// Same server, but as another user (empty password).
    pub fn opts_as(&self, user: &str) -> Opts {
        OptsBuilder::from_opts(self.opts())
            .user(Some(user))
            .pass(None::<String>)
            .into()
    }

    /// A fresh connection; panics because a test cannot go on without one.
    pub async fn conn(&self) -> Conn {
        self.try_conn().await.unwrap_or_else(|e| panic!("{e:#}"))
    }

    /// A fresh connection, as a `Result` for code that must clean up on failure.
    pub async fn try_conn(&self) -> Result<Conn> {
        Conn::new(self.opts())
            .await
            .with_context(|| format!("connecting to test server {} ({})", self.name, self.url))
    }

    /// Whether the server is MariaDB (its `VERSION()` says so; MySQL's never does).
    pub async fn is_mariadb(&self) -> bool {
        let mut conn = self.conn().await;
        let version: String = conn
            .query_first("SELECT VERSION()")
            .await
            .ok()
            .flatten()
            .unwrap_or_default();
        let _ = conn.disconnect().await;
        version.to_ascii_lowercase().contains("mariadb")
    }
}

/// The servers named in `MYTRIAGE_TEST_SERVERS`.
///
/// Unset or empty means "skip" on a developer machine, but under CI (`CI=true`) a
/// missing server is a failure, so it panics rather than letting live tests pass vacuously.
pub fn servers() -> Vec<TestServer> {
    let raw = std::env::var(SERVERS_ENV).unwrap_or_default();
    if raw.trim().is_empty() {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!(
                "{SERVERS_ENV} is not set but CI=true: live tests need servers (run scripts/testdb up)"
            );
        }
        eprintln!("skipping live test: {SERVERS_ENV} is not set (run scripts/testdb up)");
        return Vec::new();
    }
    raw.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(parse_server)
        .collect()
}

fn parse_server(entry: &str) -> TestServer {
    let (name, url) = entry
        .split_once('=')
        .unwrap_or_else(|| panic!("{SERVERS_ENV}: expected name=url, got {entry:?}"));
    TestServer {
        name: name.trim().to_string(),
        url: url.trim().to_string(),
    }
}

/// Prints the line CI logs are searched for, so it is visible that a live test ran
/// on each server rather than being skipped.
pub fn announce(test: &str, server: &TestServer) {
    eprintln!("live: {test} on {}", server.name);
}
