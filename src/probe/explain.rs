//! `mytriage explain PID`: the plan of the statement another session runs now, read from the
//! server (`EXPLAIN FOR CONNECTION` on MySQL, `SHOW EXPLAIN FOR` on MariaDB): read-only, and the
//! statement itself is never run again. An idle session, a statement the server cannot explain
//! and a missing privilege each get a one-line reason.

use anyhow::Result;
use serde::Serialize;

use crate::connect::Session;
use crate::connect::row::Columns;
use crate::probe::processlist;
use crate::render::{Block, Report, View, ViewOptions, clip};
use crate::server::{Flavor, ServerInfo, Version};

/// How the plan is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum PlanFormat {
    /// MySQL 8.0.16+'s `FORMAT=TREE`.
    Tree,
    /// `FORMAT=JSON` (`--json`).
    Json,
    /// The classic rows (MySQL 5.7, MariaDB).
    Table,
}

/// What `explain` reports.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct ExplainReport {
    pub pid: u64,
    /// What the session ran when it was looked at.
    pub statement: Option<String>,
    pub format: PlanFormat,
    /// The server's statement that read the plan.
    pub source: String,
    /// Tree or JSON text.
    pub plan: Option<String>,
    /// The classic rows, column name to value.
    pub rows: Vec<Vec<(String, String)>>,
    /// Why there is no plan, in one line.
    pub reason: Option<String>,
}

/// The statement that reads `pid`'s plan on this server.
fn plan_query(server: &ServerInfo, pid: u64, json: bool) -> (String, PlanFormat) {
    const TREE: Version = Version {
        major: 8,
        minor: 0,
        patch: 16,
    };
    match server.flavor {
        Flavor::MariaDb10 | Flavor::MariaDb11 if json => (
            format!("SHOW EXPLAIN FORMAT=JSON FOR {pid}"),
            PlanFormat::Json,
        ),
        Flavor::MariaDb10 | Flavor::MariaDb11 => {
            (format!("SHOW EXPLAIN FOR {pid}"), PlanFormat::Table)
        }
        _ if json => (
            format!("EXPLAIN FORMAT=JSON FOR CONNECTION {pid}"),
            PlanFormat::Json,
        ),
        _ if server.version_number >= TREE => (
            format!("EXPLAIN FORMAT=TREE FOR CONNECTION {pid}"),
            PlanFormat::Tree,
        ),
        _ => (format!("EXPLAIN FOR CONNECTION {pid}"), PlanFormat::Table),
    }
}

/// Reads the session, then its plan.
pub(crate) async fn collect(session: &mut Session, pid: u64, json: bool) -> Result<ExplainReport> {
    let threads = processlist::threads(session).await?;
    let thread = threads
        .iter()
        .find(|t| t.pid == pid)
        .ok_or_else(|| anyhow::anyhow!("there is no session {pid} on this server"))?;
    let (sql, format) = plan_query(&session.server, pid, json);
    let mut report = ExplainReport {
        pid,
        statement: thread.statement.clone(),
        format,
        source: sql.clone(),
        plan: None,
        rows: Vec::new(),
        reason: None,
    };
    if thread.statement.is_none() {
        let command = thread.command.as_deref().unwrap_or("idle");
        report.reason = Some(format!(
            "session {pid} runs nothing now ({command}): there is no plan to show"
        ));
        return Ok(report);
    }
    // MariaDB answers SHOW EXPLAIN from the target thread itself, which does not answer while
    // InnoDB holds it in a row-lock wait: asking would hang until --query-timeout.
    let in_lock_wait = thread.trx.as_ref().is_some_and(|t| t.state == "LOCK WAIT");
    if session.server.flavor.is_mariadb() && in_lock_wait {
        report.reason = Some(format!(
            "session {pid} waits for a row lock, and MariaDB answers SHOW EXPLAIN only while the \
             session runs; its statement is shown, the plan is not"
        ));
        return Ok(report);
    }
    let rows: Result<Vec<mysql_async::Row>> = session.db.query("reading the plan", &sql).await;
    match rows {
        Ok(rows) if rows.is_empty() => {
            report.reason = Some(format!(
                "session {pid}'s statement finished before its plan could be read"
            ));
        }
        Ok(rows) if format == PlanFormat::Table => {
            report.rows = rows.iter().map(row_pairs).collect();
        }
        Ok(rows) => {
            report.plan = rows
                .first()
                .and_then(|row| Columns(row).all().into_iter().next()?.1);
        }
        Err(error) => report.reason = Some(reason(&error, pid)?),
    }
    Ok(report)
}

/// Why the server gave no plan, from its error; any other failure stays an error.
fn reason(error: &anyhow::Error, pid: u64) -> Result<String> {
    use crate::error::Failure;
    let server = error
        .chain()
        .find_map(|e| match e.downcast_ref::<mysql_async::Error>() {
            Some(mysql_async::Error::Server(s)) => Some(s),
            _ => None,
        });
    // The session turns 1227/1142/1143/1044 into a privilege failure; 1095 (not your thread)
    // stays a server error.
    let denied = error
        .chain()
        .find_map(|e| match e.downcast_ref::<Failure>() {
            Some(Failure::Privilege { message, .. }) => Some(message.clone()),
            _ => None,
        })
        .or_else(|| server.filter(|s| s.code == 1095).map(|s| s.message.clone()));
    Ok(match (denied, server) {
        (Some(message), _) => format!(
            "not permitted to read session {pid}'s plan: {message} (GRANT PROCESS, and SELECT on its tables)"
        ),
        (None, Some(s)) => format!(
            "the server cannot explain session {pid}'s statement: {}",
            s.message
        ),
        (None, None) => return Err(anyhow::anyhow!("{error:#}")),
    })
}

fn row_pairs(row: &mysql_async::Row) -> Vec<(String, String)> {
    Columns(row)
        .all()
        .into_iter()
        .map(|(name, value)| (name, value.unwrap_or_default()))
        .collect()
}

impl Report for ExplainReport {
    fn view(&self, options: &ViewOptions) -> View {
        let mut blocks = vec![Block::Fields {
            title: None,
            fields: vec![
                ("Session".to_owned(), self.pid.to_string()),
                (
                    "Statement".to_owned(),
                    clip(self.statement.as_deref().unwrap_or(""), options.full),
                ),
                ("Read with".to_owned(), self.source.clone()),
            ],
        }];
        if let Some(plan) = &self.plan {
            blocks.push(Block::Note(plan.clone()));
        }
        if let Some(first) = self.rows.first() {
            blocks.push(Block::Table {
                title: None,
                header: first.iter().map(|(k, _)| k.clone()).collect(),
                rows: self
                    .rows
                    .iter()
                    .map(|r| r.iter().map(|(_, v)| v.clone()).collect())
                    .collect(),
            });
        }
        if let Some(reason) = &self.reason {
            blocks.push(Block::Note(reason.clone()));
        }
        View { blocks }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_server_reads_the_plan_its_own_way() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/server");
        let facts = |name: &str| {
            let text = std::fs::read_to_string(format!("{dir}/{name}.json")).unwrap();
            crate::server::detect(&serde_json::from_str(&text).unwrap())
        };
        let names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .filter_map(|e| {
                let name = e.ok()?.file_name().into_string().ok()?;
                name.strip_suffix(".json").map(str::to_owned)
            })
            .collect();
        for name in names {
            let server = facts(&name);
            let (sql, format) = plan_query(&server, 7, false);
            let (json_sql, json_format) = plan_query(&server, 7, true);
            assert_eq!(json_format, PlanFormat::Json, "{name}");
            if server.flavor.is_mariadb() {
                assert_eq!(
                    (sql.as_str(), format),
                    ("SHOW EXPLAIN FOR 7", PlanFormat::Table),
                    "{name}"
                );
                assert_eq!(json_sql, "SHOW EXPLAIN FORMAT=JSON FOR 7");
            } else if server.version_number
                >= (Version {
                    major: 8,
                    minor: 0,
                    patch: 16,
                })
            {
                assert_eq!(sql, "EXPLAIN FORMAT=TREE FOR CONNECTION 7", "{name}");
            } else {
                assert_eq!(sql, "EXPLAIN FOR CONNECTION 7", "{name}");
            }
        }
    }
}
