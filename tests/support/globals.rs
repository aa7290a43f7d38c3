//! Server globals a test or benchmark changes for a moment, put back as they were found.
//!
//! The test servers are shared, so a setting left changed (a lowered `max_connections`, deadlock
//! logging left on) would change what every later test sees. [`GlobalGuard`] reads the values
//! before the first change and restores them in [`GlobalGuard::restore`], or when dropped if a
//! panic came first.

use anyhow::{Context, Result};
use mysql_async::Conn;
use mysql_async::prelude::*;

use super::TestServer;

/// Globals as found, to put back: `SET GLOBAL name = value` for each, in the order saved.
#[must_use = "the globals are restored when the guard is dropped"]
pub struct GlobalGuard {
    server: TestServer,
    /// `(name, value as found)`; empty once restored.
    saved: Vec<(String, String)>,
}

impl TestServer {
    /// A guard that restores nothing yet: [`GlobalGuard::set`] saves each global it changes.
    pub fn globals(&self) -> GlobalGuard {
        GlobalGuard {
            server: self.clone(),
            saved: Vec::new(),
        }
    }
}

impl GlobalGuard {
    /// `SET GLOBAL name = value`, saving the value found first (only the first time for a name).
    pub async fn set(&mut self, conn: &mut Conn, name: &str, value: impl ToString) -> Result<()> {
        if !self.saved.iter().any(|(saved, _)| saved == name) {
            let found: String = conn
                .query_first(format!("SELECT @@GLOBAL.{name}"))
                .await
                .with_context(|| format!("reading @@GLOBAL.{name}"))?
                .with_context(|| format!("no @@GLOBAL.{name}"))?;
            self.saved.push((name.to_owned(), found));
        }
        let statement = format!("SET GLOBAL {name} = {}", literal(&value.to_string()));
        conn.query_drop(&statement)
            .await
            .with_context(|| statement.clone())
    }

    /// The value saved for `name`, if [`GlobalGuard::set`] changed it.
    pub fn original(&self, name: &str) -> Option<&str> {
        self.saved
            .iter()
            .find(|(saved, _)| saved == name)
            .map(|(_, value)| value.as_str())
    }

    /// Puts every saved global back, on a connection of its own.
    pub async fn restore(mut self) -> Result<()> {
        let saved = std::mem::take(&mut self.saved);
        restore(&self.server, &saved).await
    }
}

async fn restore(server: &TestServer, saved: &[(String, String)]) -> Result<()> {
    if saved.is_empty() {
        return Ok(());
    }
    let mut conn = server.try_conn().await?;
    // Last change first, so a global saved twice over ends as it was first found.
    for (name, value) in saved.iter().rev() {
        let statement = format!("SET GLOBAL {name} = {}", literal(value));
        conn.query_drop(&statement)
            .await
            .with_context(|| format!("restoring on {}: {statement}", server.name))?;
    }
    let _ = conn.disconnect().await;
    Ok(())
}

/// Numbers as they are (MySQL refuses a quoted value for an integer global), anything else quoted.
fn literal(value: &str) -> String {
    if !value.is_empty() && value.parse::<f64>().is_ok() {
        value.to_owned()
    } else {
        format!("'{}'", value.replace('\\', "\\\\").replace('\'', "''"))
    }
}

impl Drop for GlobalGuard {
    /// After a panic (or a forgotten `restore`): a drop cannot await, so a thread with a runtime
    /// of its own restores the globals before the test process goes on.
    fn drop(&mut self) {
        let saved = std::mem::take(&mut self.saved);
        if saved.is_empty() {
            return;
        }
        let server = self.server.clone();
        let restored = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .context("a runtime to restore globals")?
                .block_on(restore(&server, &saved))
        })
        .join();
        match restored {
            Ok(Ok(())) => {}
            Ok(Err(e)) => eprintln!("WARNING: globals not restored: {e:#}"),
            Err(_) => eprintln!("WARNING: globals not restored: the restoring thread panicked"),
        }
    }
}
