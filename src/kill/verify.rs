//! Re-verification: the session's identity as the server sees it now, and what differs from the
//! snapshot. An empty difference is what allows the kill.

use anyhow::{Context, Result};

use crate::connect::row::Columns;
use crate::connect::{Session, inline_numbers};
use crate::evidence::record::KillSnapshot;
use crate::render::strip_port;

/// A session's identity as the server sees it now.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Identity {
    pub user: Option<String>,
    pub host: Option<String>,
    pub command: Option<String>,
    pub statement: Option<String>,
    pub trx_id: Option<String>,
    pub trx_started: Option<String>,
    pub trx_state: Option<String>,
    pub trx_rows_modified: Option<u64>,
    pub activity: Option<u64>,
}

/// The session as the server sees it now: the re-verification that gates the kill, always
/// read from the server (one round trip; a prepared statement would take two).
pub(super) async fn identity(session: &mut Session, pid: u64) -> Result<Option<Identity>> {
    read_identity(session, pid, true).await
}

/// A session's identity: `live` from the server, or else as read ahead with the snapshots.
pub(super) async fn read_identity(
    session: &mut Session,
    pid: u64,
    live: bool,
) -> Result<Option<Identity>> {
    let sql = session.server.thread_identity_query();
    let inlined = inline_numbers(sql, &[&pid.to_string()]).context("a pid is a number")?;
    let rows: Vec<mysql_async::Row> = if live {
        session
            .db
            .query_live("re-reading the session", &inlined)
            .await?
    } else {
        session.db.query("reading the session", &inlined).await?
    };
    Ok(rows.first().map(|row| {
        let col = Columns(row);
        Identity {
            user: col.text("user"),
            host: col.text("host"),
            command: col.text("command"),
            // Masked as the snapshot was, so a credential statement compares equal to itself.
            statement: crate::redact::credentials_in(col.text("info")),
            trx_id: col.text("trx_id"),
            trx_started: col.text("trx_started"),
            trx_state: col.text("trx_state"),
            trx_rows_modified: col.u64("trx_rows_modified"),
            activity: col.u64("activity"),
        }
    }))
}

/// What differs between the snapshot and the session now; empty means "the same session".
pub(crate) fn changes(snapshot: &KillSnapshot, now: Option<&Identity>) -> Vec<String> {
    let Some(now) = now else {
        return vec!["the session has ended".to_owned()];
    };
    let thread = &snapshot.thread;
    let mut changed = Vec::new();
    let mut differ = |what: &str, before: Option<&str>, after: Option<&str>| {
        if before != after {
            changed.push(format!(
                "{what}: {} → {}",
                before.unwrap_or("none"),
                after.unwrap_or("none")
            ));
        }
    };
    differ("user", thread.user.as_deref(), now.user.as_deref());
    // Sources disagree on whether the host carries the client port; the name is what identifies.
    differ(
        "host",
        thread.host.as_deref().map(strip_port),
        now.host.as_deref().map(strip_port),
    );
    match &thread.trx {
        Some(trx) => {
            differ("transaction", Some(trx.id.as_str()), now.trx_id.as_deref());
            differ(
                "transaction start",
                snapshot.trx_started.as_deref(),
                now.trx_started.as_deref(),
            );
        }
        None => {
            differ("transaction", None, now.trx_id.as_deref());
            differ(
                "statement",
                thread.statement.as_deref(),
                now.statement.as_deref(),
            );
        }
    }
    if let (Some(before), Some(after)) = (snapshot.activity, now.activity)
        && before != after
    {
        changed.push(format!(
            "it ran another statement since the snapshot (activity {before} → {after})"
        ));
    }
    changed
}
