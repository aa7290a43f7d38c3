//! Confirm, re-verify and kill: KILL or KILL QUERY, the RDS procedures where plain KILL is not
//! allowed, and the session's state afterwards.

use std::time::Duration;

use anyhow::Result;

use super::plan::KillPlan;
use super::prompt::pause_for_drill;
use super::verify::{changes, identity};
use crate::connect::Session;
use crate::evidence::record::{
    After, AfterState, KillMethod, KillOutcome, KillResult, KillSnapshot,
};
use crate::evidence::{Header, RecordKind};
use crate::queries;
use crate::render::serde_label;
use crate::server::Managed;

/// Re-verify, kill, and look at the session afterwards; `confirmed` is the operator's answer,
/// asked on the terminal or in the console's dialog once the snapshot was on disk.
pub(super) async fn act(
    session: &mut Session,
    plan: &KillPlan,
    snapshot: &KillSnapshot,
    dry_run: bool,
    confirmed: bool,
) -> Result<KillOutcome> {
    let outcome = |result| KillOutcome {
        header: Header::new(RecordKind::KillOutcome),
        snapshot_id: snapshot.header.id.clone(),
        pid: snapshot.pid,
        result,
        method: None,
        error: None,
        changed: Vec::new(),
        after: None,
    };
    if !dry_run && !confirmed {
        return Ok(outcome(KillResult::NotConfirmed));
    }
    pause_for_drill().await?;
    let now = identity(session, snapshot.pid).await?;
    let changed = changes(snapshot, now.as_ref());
    if !changed.is_empty() {
        return Ok(KillOutcome {
            changed,
            ..outcome(KillResult::Changed)
        });
    }
    if dry_run {
        return Ok(outcome(KillResult::DryRun));
    }
    Ok(match kill(session, snapshot.pid, plan.query_only).await {
        Ok(method) => KillOutcome {
            method: Some(method),
            after: Some(after(session, snapshot.pid, plan.wait, plan.query_only).await?),
            ..outcome(KillResult::Killed)
        },
        Err(error) => KillOutcome {
            error: Some(crate::error::one_line(&error)),
            ..outcome(KillResult::Failed)
        },
    })
}

/// Sends the kill: plain KILL, or the RDS procedures on RDS/Aurora or when KILL is not allowed.
async fn kill(session: &mut Session, pid: u64, query_only: bool) -> Result<KillMethod> {
    let (plain, procedure) = if query_only {
        (KillMethod::KillQuery, KillMethod::RdsKillQuery)
    } else {
        (KillMethod::Kill, KillMethod::RdsKill)
    };
    // A method's name is the statement (or the procedure) that kills.
    let (statement, procedure_name) = (serde_label(&plain), serde_label(&procedure));
    let managed = matches!(session.server.managed, Some(Managed::Rds | Managed::Aurora));
    if !managed {
        // The pid is a validated number, so formatting it into the statement is safe.
        match session
            .db
            .run("killing the session", &format!("{statement} {pid}"))
            .await
        {
            Ok(()) => return Ok(plain),
            Err(error) if !is_kill_denied(&error) => return Err(error),
            Err(error) => {
                let available: Vec<String> = session
                    .db
                    .query("looking for mysql.rds_kill", queries::RDS_KILL_PROCEDURES)
                    .await?;
                if !available
                    .iter()
                    .any(|name| procedure_name.ends_with(name.as_str()))
                {
                    return Err(error.context(
                        "this account may not kill other users' sessions: it needs CONNECTION_ADMIN (or SUPER)",
                    ));
                }
            }
        }
    }
    session
        .db
        .run(
            "killing the session",
            &format!("CALL {procedure_name}({pid})"),
        )
        .await?;
    Ok(procedure)
}

fn is_kill_denied(error: &anyhow::Error) -> bool {
    let denied_codes = [1095, 1227];
    error.chain().any(|cause| {
        matches!(cause.downcast_ref::<mysql_async::Error>(), Some(mysql_async::Error::Server(s)) if denied_codes.contains(&s.code))
    }) || error.downcast_ref::<crate::error::Failure>().is_some_and(crate::error::Failure::is_privilege)
}

/// The session after the kill; with `--wait`, once it is gone or done rolling back.
async fn after(session: &mut Session, pid: u64, wait: bool, query_only: bool) -> Result<After> {
    let mut waited = Duration::ZERO;
    loop {
        // KILL returns at once; the session notices it at its next check.
        tokio::time::sleep(Duration::from_millis(200)).await;
        waited += Duration::from_millis(200);
        let now = identity(session, pid).await?;
        let after = match &now {
            None => After {
                state: AfterState::Gone,
                command: None,
                trx_state: None,
                rows_left: None,
            },
            Some(id) => After {
                state: match (id.trx_state.as_deref(), id.command.as_deref()) {
                    (Some("ROLLING BACK"), _) => AfterState::RollingBack,
                    (_, Some("Killed")) => AfterState::Killed,
                    _ => AfterState::Running,
                },
                command: id.command.clone(),
                trx_state: id.trx_state.clone(),
                rows_left: id.trx_rows_modified,
            },
        };
        // A killed connection goes away; after KILL QUERY the connection stays by design.
        let settling =
            !query_only && after.state != AfterState::Gone && waited < Duration::from_secs(2);
        let rolling = wait && matches!(after.state, AfterState::RollingBack | AfterState::Killed);
        if !(settling || rolling) {
            return Ok(after);
        }
        if rolling && waited.as_secs() % 5 == 0 {
            eprintln!(
                "mytriage: session {pid} is {} ({} rows left)",
                serde_label(&after.state),
                after.rows_left.unwrap_or(0)
            );
        }
    }
}
