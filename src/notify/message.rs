//! What a notification says: the verdict and the one before it, the server, the root blocker
//! and its statement, and the command to run next. Pure, so both shapes are tested on a report.

use serde_json::{Value, json};

use super::Style;
use crate::probe::locks::{LockSession, LocksReport};
use crate::verdict::Verdict;
use crate::workflow::status::StatusReport;

/// Longest statement quoted in a message.
const STATEMENT_CHARS: usize = 400;
/// Slack refuses a header longer than 150 characters and a section text longer than 3,000.
const SLACK_HEADER_CHARS: usize = 150;
const SLACK_SECTION_CHARS: usize = 3000;

/// A change of verdict to tell people about.
pub(crate) struct Change<'a> {
    pub verdict: Verdict,
    /// The verdict posted before, if any.
    pub previous: Option<Verdict>,
    /// Where the server is, as connected to (`host:port`).
    pub server: String,
    /// How mytriage reaches it, for the suggested command (`mytriage -h db1 -P 3306`).
    pub command: String,
    /// Which command noticed (`watch`, `check`).
    pub by: &'static str,
    pub report: &'a StatusReport,
}

/// The root blocker people should look at first ([`LocksReport::first_root`]), how many it
/// holds up, and the rule it was inferred by when no edge to it is exact.
fn root(report: &StatusReport) -> Option<(&LockSession, usize, Option<&'static str>)> {
    let root = report.triage.locks.as_ref()?.first_root()?;
    Some((
        &root.info,
        root.waiters_total,
        LocksReport::inferred_by(root),
    ))
}

/// The command to run next, for the worst thing found.
fn next(change: &Change<'_>) -> String {
    let base = &change.command;
    if let Some((session, _, inferred)) = root(change.report) {
        // A kill is suggested only for a blocker known exactly; an inferred one is looked at.
        if session.idle_in_trx && inferred.is_none() {
            return format!(
                "{base} locks, then {base} kill {} --reason '...'",
                session.pid
            );
        }
        return format!("{base} locks");
    }
    let worst = change
        .report
        .findings
        .iter()
        .filter(|f| f.verdict == change.verdict && f.verdict != Verdict::Ok)
        .map(|f| f.check)
        .next();
    let command = match worst {
        Some("connections" | "threads_running") => "connections",
        Some("oldest_trx" | "idle_in_trx") => "trx",
        Some("history") => "history",
        Some("deadlock") => "deadlocks",
        Some("replication") => "replication",
        _ => "status",
    };
    format!("{base} {command}")
}

fn clip(text: &str) -> String {
    clip_to(text, STATEMENT_CHARS)
}

/// At most `limit` characters, the last one `…` when cut.
fn clip_to(text: &str, limit: usize) -> String {
    if text.chars().count() <= limit {
        return text.to_owned();
    }
    let mut clipped: String = text.chars().take(limit - 1).collect();
    clipped.push('…');
    clipped
}

/// Slack's mrkdwn needs `&`, `<` and `>` escaped; code blocks cannot hold three backticks.
pub(super) fn slack_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace("```", "'''")
}

/// The payload of `change` in `style`.
pub(crate) fn payload(change: &Change<'_>, style: Style) -> Value {
    let report = change.report;
    let server = &report.triage.server;
    let flavor = format!("{} {}", server.flavor_name, server.version);
    let host = server.hostname.as_deref().unwrap_or("?");
    let was = change.previous.map_or("none", Verdict::label);
    let findings: Vec<&crate::workflow::thresholds::Finding> = report
        .findings
        .iter()
        .filter(|f| f.verdict != Verdict::Ok)
        .collect();
    let blocker = root(report);
    let next = next(change);
    let at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    match style {
        Style::Json => json!({
            "source": "mytriage",
            "by": change.by,
            "at": at,
            "verdict": change.verdict,
            "previous": change.previous,
            "server": change.server,
            "hostname": server.hostname,
            "flavor": flavor,
            "findings": findings.iter().map(|f| json!({
                "check": f.check, "verdict": f.verdict, "summary": f.summary,
            })).collect::<Vec<_>>(),
            "root_blocker": blocker.map(|(s, waiters, inferred)| json!({
                "pid": s.pid, "user": s.user, "host": s.host, "idle_in_trx": s.idle_in_trx,
                "trx_age_s": s.trx_age_s, "statement": s.statement,
                "last_statement": s.last_statement, "waiters_total": waiters,
                "how": if inferred.is_some() { "inferred" } else { "exact" },
                "source": inferred,
            })),
            "next": next,
        }),
        Style::Slack => {
            let headline = format!(
                "{} on {} ({host}), was {was}",
                change.verdict.label(),
                change.server
            );
            let mut blocks = vec![
                json!({"type": "header", "text": {"type": "plain_text",
                    "text": clip_to(&format!("mytriage: {headline}"), SLACK_HEADER_CHARS)}}),
                json!({"type": "section", "fields": [
                    {"type": "mrkdwn", "text": format!("*Verdict*\n{} (was {was})", change.verdict.label())},
                    {"type": "mrkdwn", "text": format!("*Server*\n{} ({})", slack_escape(&change.server), slack_escape(&flavor))},
                ]}),
            ];
            if !findings.is_empty() {
                let lines: Vec<String> = findings
                    .iter()
                    .map(|f| {
                        format!(
                            "• *{}* {}: {}",
                            f.verdict.label(),
                            f.check,
                            slack_escape(&clip(&f.summary))
                        )
                    })
                    .collect();
                blocks.push(json!({"type": "section", "text": {"type": "mrkdwn",
                    "text": clip_to(&format!("*Findings*\n{}", lines.join("\n")), SLACK_SECTION_CHARS)}}));
            }
            if let Some((session, waiters, inferred)) = blocker {
                let state = match (session.idle_in_trx, session.trx_age_s) {
                    (true, Some(age)) => format!("idle in its transaction for {age}s"),
                    (true, None) => "idle in its transaction".to_owned(),
                    (false, _) => "running".to_owned(),
                };
                let (label, sql) = match (&session.statement, &session.last_statement) {
                    (Some(now), _) => ("Statement", now.as_str()),
                    (None, Some(last)) => ("Last statement", last.as_str()),
                    (None, None) => ("Statement", "(not recorded by this server)"),
                };
                let how = inferred
                    .map(|source| {
                        format!(
                            " (inferred from {}, not read exactly)",
                            slack_escape(source)
                        )
                    })
                    .unwrap_or_default();
                blocks.push(json!({"type": "section", "text": {"type": "mrkdwn", "text": format!(
                    "*Root blocker*: pid {} ({}), {state}, holding up {waiters}{how}\n*{label}*\n```{}```",
                    session.pid,
                    slack_escape(&crate::render::account(session.user.as_deref(), session.host.as_deref())),
                    slack_escape(&clip(sql)),
                )}}));
            }
            blocks.push(json!({"type": "section", "text": {"type": "mrkdwn",
                "text": format!("*Next*\n`{}`", slack_escape(&next))}}));
            blocks.push(json!({"type": "context", "elements": [
                {"type": "mrkdwn", "text": format!("mytriage {} · {at}", change.by)}]}));
            json!({"text": format!("mytriage: {headline}"), "blocks": blocks})
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_cut_to_slacks_limits_with_an_ellipsis() {
        let long = "x".repeat(200);
        let header = clip_to(&format!("mytriage: {long}"), SLACK_HEADER_CHARS);
        assert_eq!(header.chars().count(), SLACK_HEADER_CHARS);
        assert!(header.ends_with('…'));
        assert_eq!(clip_to("short", SLACK_HEADER_CHARS), "short");
        assert_eq!(slack_escape("a<b>&```"), "a&lt;b&gt;&amp;\'\'\'");
    }
}
