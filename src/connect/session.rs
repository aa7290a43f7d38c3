//! The one gentle session: a single read-only connection whose every statement is bounded twice,
//! by the client (tokio) and by the server (`MAX_EXECUTION_TIME` / `max_statement_time`).

use std::collections::HashMap;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use mysql_async::prelude::{FromRow, Queryable};
use mysql_async::{Conn, OptsBuilder, Params};

use super::ConnectConfig;
use super::tls;
use crate::error::Failure;
use crate::queries;
use crate::server::{self, ServerInfo};

/// Extra time the client waits beyond the server-side limit, so the server's own, clearer,
/// "maximum statement execution time exceeded" error usually arrives first.
const CLIENT_GRACE: Duration = Duration::from_secs(1);

/// The connection and what it can run: probes query through `db` and choose queries by `server`.
pub(crate) struct Session {
    pub db: Db,
    pub server: ServerInfo,
}

/// A connection with bounded statements.
pub(crate) struct Db {
    conn: Option<Conn>,
    query_timeout: Duration,
    /// The session set-up, sent in front of the first statement so it costs no round trip of
    /// its own. No statement runs without it: the server stops a batch whose set-up fails.
    setup: Option<String>,
    /// Answers read ahead by [`Db::prefetch`], by statement text, each handed out once.
    prefetched: HashMap<String, Answer>,
    /// The answers in `prefetched` came with the detection, in the first round trip: the
    /// command's first [`Db::prefetch`] takes them instead of asking again.
    read_with_detection: bool,
}

/// The statements a command's first snapshot needs, on a given server.
pub(crate) type SnapshotPlan<'a> = &'a dyn Fn(&ServerInfo) -> Vec<&'static str>;

impl Session {
    /// Connects, detects the flavor once, and makes the session gentle (read only, bounded).
    ///
    /// All in one round trip after the log-in: the detection statements, then the session
    /// set-up and the command's first snapshot (`plan`) as they would be on the server the
    /// handshake's version suggests, with the defaults of its flavor. The set-up gates what
    /// follows it: if it fails, nothing after it runs. When detection confirms the guess, the
    /// snapshot's answers are kept for the command's first [`Db::prefetch`]; a statement the
    /// real server needs and the guess did not include is simply asked for then, so a wrong
    /// guess costs the round trip it would have cost anyway, never a wrong answer (an answer is
    /// only used for the identical statement, read on this connection a moment before).
    pub(crate) async fn open(config: &ConnectConfig, plan: SnapshotPlan<'_>) -> Result<Session> {
        let conn = connect(config).await?;
        let own_id = u64::from(conn.id());
        let guess = server::assume(conn.server_version(), own_id);
        let mut db = Db {
            conn: Some(conn),
            query_timeout: config.query_timeout,
            setup: None,
            prefetched: HashMap::new(),
            read_with_detection: false,
        };
        let guessed_setup = guess.session_setup(config.query_timeout);
        let planned = plan(&guess);
        let mut statements: Vec<&str> = DETECTION.to_vec();
        statements.push(&guessed_setup);
        statements.extend(planned.iter().copied());
        let mut answers = db.run_batch(&statements, Some(DETECTION.len())).await;
        let ahead = answers.split_off(DETECTION.len() + 1);
        let setup_answer = answers.pop().context("the set-up went unanswered")?;
        let facts = facts_from(answers, own_id)?;
        let server = server::detect(&facts);
        let setup = server.session_setup(config.query_timeout);
        if setup_answer.is_ok() && setup == guessed_setup {
            db.prefetched = planned.iter().map(|s| (*s).to_owned()).zip(ahead).collect();
            db.read_with_detection = true;
        } else {
            db.setup = Some(setup);
        }
        Ok(Session { db, server })
    }

    /// Fails with the exact grant to run when the account lacks PROCESS: without it the server
    /// silently hides other sessions, and an empty table would look like all is well.
    pub(crate) fn require_process(&self, what: &str) -> Result<()> {
        if self.server.capabilities.process_privilege {
            return Ok(());
        }
        Err(anyhow!(Failure::MissingProcess {
            what: what.to_owned(),
            grantee: self.server.grantee()
        }))
    }

    /// Closes the connection politely (COM_QUIT), so the server does not log an aborted client.
    pub(crate) async fn close(mut self) {
        if let Some(conn) = self.db.conn.take() {
            let _ = tokio::time::timeout(Duration::from_secs(1), conn.disconnect()).await;
        }
    }
}

impl Db {
    /// Runs a text-protocol query and maps its rows. `what` names the step for the error message.
    pub(crate) async fn query<T>(&mut self, what: &str, sql: &str) -> Result<Vec<T>>
    where
        T: FromRow + Send + 'static,
    {
        self.exec(what, sql, Params::Empty).await
    }

    /// Runs a statement with parameters and maps its rows.
    pub(crate) async fn exec<T, P>(&mut self, what: &str, sql: &str, params: P) -> Result<Vec<T>>
    where
        T: FromRow + Send + 'static,
        P: Into<Params> + Send,
    {
        let params = params.into();
        if matches!(params, Params::Empty)
            && let Some(answer) = self.prefetched.remove(sql)
        {
            return answer
                .map(rows)
                .map_err(|u| u.into_error(what, self.query_timeout));
        }
        if self.setup.is_some() {
            if matches!(params, Params::Empty) {
                let mut answers = self.batch(what, &[sql]).await?;
                return Ok(rows(answers.remove(0)?));
            }
            self.batch(what, &[]).await?;
        }
        let limit = self.query_timeout + CLIENT_GRACE;
        let conn = self.conn.as_mut().ok_or_else(|| {
            anyhow!(Failure::Abandoned {
                what: what.to_owned()
            })
        })?;
        let outcome = match params {
            Params::Empty => tokio::time::timeout(limit, conn.query(sql)).await,
            params => tokio::time::timeout(limit, conn.exec(sql, params)).await,
        };
        match outcome {
            Ok(rows) => rows.map_err(|e| statement_error(e, what, self.query_timeout)),
            Err(_) => {
                // The protocol is mid-result; the connection cannot be reused safely.
                self.conn = None;
                Err(anyhow!(Failure::QueryTimeout {
                    what: what.to_owned(),
                    after: self.query_timeout
                }))
            }
        }
    }

    /// As [`Db::query`], always from the server: nothing read ahead may answer it. For the
    /// re-verification that gates a kill.
    pub(crate) async fn query_live<T>(&mut self, what: &str, sql: &str) -> Result<Vec<T>>
    where
        T: FromRow + Send + 'static,
    {
        self.prefetched.remove(sql);
        self.query(what, sql).await
    }

    /// As [`Db::query`], but `None` when the account lacks the privilege: for optional facts.
    pub(crate) async fn query_if_permitted<T>(
        &mut self,
        what: &str,
        sql: &str,
    ) -> Result<Option<Vec<T>>>
    where
        T: FromRow + Send + 'static,
    {
        match self.query(what, sql).await {
            Ok(rows) => Ok(Some(rows)),
            Err(error)
                if error
                    .downcast_ref::<Failure>()
                    .is_some_and(Failure::is_privilege) =>
            {
                Ok(None)
            }
            Err(error) => Err(error),
        }
    }

    /// Runs a statement that returns no rows.
    pub(crate) async fn run(&mut self, what: &str, sql: &str) -> Result<()> {
        self.query::<mysql_async::Row>(what, sql).await.map(drop)
    }

    /// Reads a snapshot's statements ahead, in one round trip: each later [`Db::query`] of one
    /// of them takes its answer (rows or error) from here, once, instead of asking the server.
    /// So a snapshot costs one round trip while every probe keeps reading the statements it
    /// chose, and a statement that fails or times out still fails only its own section, named
    /// by the probe that reads it. Statements a probe runs with parameters, or only on a
    /// condition, are not read ahead.
    pub(crate) async fn prefetch(&mut self, what: &str, statements: &[&str]) -> Result<()> {
        if std::mem::take(&mut self.read_with_detection)
            && statements.iter().all(|s| self.prefetched.contains_key(*s))
        {
            return Ok(()); // read in the first round trip, with the detection
        }
        self.prefetched.clear();
        let answers = self.answers(what, statements).await?;
        self.prefetched = statements
            .iter()
            .map(|s| (*s).to_owned())
            .zip(answers)
            .collect();
        Ok(())
    }

    /// Drops answers read ahead that no probe took, so a later snapshot asks the server again.
    pub(crate) fn forget_prefetched(&mut self) {
        self.prefetched.clear();
    }

    /// Runs `statements` as one multi-statement query, one round trip for all of them, and
    /// returns each statement's own rows or error. The server stops a batch at its first error
    /// (a statement past its server-side limit, a missing privilege): the statements after it
    /// are sent again as a new batch, so no later result is lost. The client deadline guards each
    /// round trip; past it the connection is given up and every statement not answered fails.
    pub(crate) async fn batch(
        &mut self,
        what: &str,
        statements: &[&str],
    ) -> Result<Vec<Result<Vec<mysql_async::Row>>>> {
        let timeout = self.query_timeout;
        Ok(self
            .answers(what, statements)
            .await?
            .into_iter()
            .map(|answer| answer.map_err(|u| u.into_error(what, timeout)))
            .collect())
    }

    /// [`Db::batch`] with the session set-up in front when it is still pending, and the
    /// failures kept raw, so whoever reads an answer names it.
    async fn answers(&mut self, what: &str, statements: &[&str]) -> Result<Vec<Answer>> {
        if let Some(setup) = self.setup.take() {
            let mut with_setup = vec![setup.as_str()];
            with_setup.extend_from_slice(statements);
            let mut answers = self.run_batch(&with_setup, Some(0)).await;
            let timeout = self.query_timeout;
            answers.remove(0).map_err(|u| {
                u.into_error(what, timeout)
                    .context("setting up the session (read only, statement limits)")
            })?;
            return Ok(answers);
        }
        Ok(self.run_batch(statements, None).await)
    }

    /// The batch itself. The statement at `gate` (the session set-up) must succeed for the
    /// statements after it to run: when it fails, they are not sent again.
    async fn run_batch(&mut self, statements: &[&str], gate: Option<usize>) -> Vec<Answer> {
        let mut results: Vec<Answer> = Vec::with_capacity(statements.len());
        while results.len() < statements.len() {
            if let Some(gate) = gate
                && results.len() > gate
                && results[gate].is_err()
            {
                results.push(Err(Unanswered::NotRun));
                continue;
            }
            let rest = &statements[results.len()..];
            let limit = self.query_timeout + CLIENT_GRACE;
            let Some(conn) = self.conn.as_mut() else {
                results.push(Err(Unanswered::Abandoned));
                continue;
            };
            let mut answered = Vec::new();
            let round = async {
                let mut result = match conn.query_iter(rest.join(";\n")).await {
                    Ok(result) => result,
                    Err(error) => {
                        answered.push(Err(Unanswered::Failed(error)));
                        return;
                    }
                };
                while answered.len() < rest.len() {
                    match result.collect::<mysql_async::Row>().await {
                        Ok(rows) => answered.push(Ok(rows)),
                        Err(error) => {
                            answered.push(Err(Unanswered::Failed(error)));
                            return;
                        }
                    }
                }
            };
            if tokio::time::timeout(limit, round).await.is_err() {
                // The protocol is mid-result; the connection cannot be reused safely.
                self.conn = None;
                answered.push(Err(Unanswered::TimedOut));
            }
            results.extend(answered);
        }
        results
    }
}

/// `sql` with each `?` replaced by the next of `numbers`, for statements that ride in a batch
/// (a multi-statement query takes no parameters). Only digits are inlined; `None` otherwise.
pub(crate) fn inline_numbers(sql: &str, numbers: &[&str]) -> Option<String> {
    if numbers
        .iter()
        .any(|n| n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()))
    {
        return None;
    }
    let mut values = numbers.iter();
    let mut out = String::with_capacity(sql.len() + 16);
    for part in sql.split_inclusive('?') {
        match part.strip_suffix('?') {
            Some(head) => {
                out.push_str(head);
                out.push_str(values.next()?);
            }
            None => out.push_str(part),
        }
    }
    values.next().is_none().then_some(out)
}

/// One statement's answer in a batch.
type Answer = std::result::Result<Vec<mysql_async::Row>, Unanswered>;

/// Why a statement of a batch has no rows, kept raw until someone names the statement.
enum Unanswered {
    /// The server's error for this statement (which also ended the server's batch).
    Failed(mysql_async::Error),
    /// The round trip ran past the client deadline; the connection was given up.
    TimedOut,
    /// The connection had been given up before this statement could be sent.
    Abandoned,
    /// Not sent: the session set-up before it in the batch failed.
    NotRun,
}

impl Unanswered {
    fn into_error(self, what: &str, timeout: Duration) -> anyhow::Error {
        match self {
            Unanswered::Failed(error) => statement_error(error, what, timeout),
            Unanswered::TimedOut => anyhow!(Failure::QueryTimeout {
                what: what.to_owned(),
                after: timeout
            }),
            Unanswered::Abandoned => anyhow!(Failure::Abandoned {
                what: what.to_owned()
            }),
            Unanswered::NotRun => anyhow!("{what}: not run, because the session set-up failed"),
        }
    }
}

/// Server errors that mean "the statement took too long" become the same timeout failure the
/// client produces, so the user sees one message for one cause.
fn statement_error(error: mysql_async::Error, what: &str, timeout: Duration) -> anyhow::Error {
    if let mysql_async::Error::Server(server) = &error {
        // 3024: MySQL MAX_EXECUTION_TIME exceeded; 1969: MariaDB max_statement_time exceeded.
        if matches!(server.code, 3024 | 1969) {
            return anyhow!(Failure::QueryTimeout {
                what: what.to_owned(),
                after: timeout
            });
        }
        if matches!(server.code, 1227 | 1142 | 1143 | 1044) {
            return anyhow!(Failure::Privilege {
                what: what.to_owned(),
                message: server.message.clone()
            });
        }
    }
    anyhow::Error::new(error).context(format!("{what} failed"))
}

/// Opens the one connection, bounded by the connect timeout, honouring the TLS mode.
async fn connect(config: &ConnectConfig) -> Result<Conn> {
    let ssl = tls::ssl_opts(config.ssl_mode, config.ssl_ca.as_deref())?;
    let preferred = matches!(config.ssl_mode, super::SslMode::Preferred);
    match connect_once(config, ssl).await {
        // PREFERRED means "TLS if the server has it": retry in the clear when it has not.
        Err(error) if preferred && is_no_tls(&error) => match connect_once(config, None).await {
            // A full server keeps one slot for CONNECTION_ADMIN/SUPER. The TLS attempt just used
            // it, and the server may not have released it yet: give it a moment, once.
            Err(error) if is_server_error(&error, 1040) => {
                tokio::time::sleep(Duration::from_millis(300)).await;
                connect_once(config, None).await
            }
            other => other,
        },
        other => other,
    }
}

fn is_server_error(error: &anyhow::Error, code: u16) -> bool {
    error.chain().any(|cause| {
        matches!(cause.downcast_ref::<mysql_async::Error>(), Some(mysql_async::Error::Server(s)) if s.code == code)
    })
}

fn is_no_tls(error: &anyhow::Error) -> bool {
    matches!(
        error.downcast_ref::<mysql_async::Error>(),
        Some(mysql_async::Error::Driver(
            mysql_async::DriverError::NoClientSslFlagFromServer
        ))
    )
}

async fn connect_once(config: &ConnectConfig, ssl: Option<mysql_async::SslOpts>) -> Result<Conn> {
    let opts = OptsBuilder::default()
        .ip_or_hostname(config.host.clone())
        .tcp_port(config.port)
        .user(Some(config.user.clone()))
        .pass(config.password.clone())
        .db_name(config.database.clone())
        .socket(config.socket.clone())
        // Otherwise mysql_async jumps from TCP to the server's socket behind our back.
        .prefer_socket(false)
        .ssl_opts(ssl)
        .stmt_cache_size(0)
        // Given, so the driver does not ask the server for them (one statement fewer). Results
        // are bounded by the server's own max_allowed_packet; 1 GiB is the protocol's ceiling.
        .max_allowed_packet(Some(1 << 30))
        .wait_timeout(Some(28_800))
        .connect_attribute("program_name", "mytriage");
    match tokio::time::timeout(config.connect_timeout, Conn::new(opts)).await {
        Ok(Ok(conn)) => Ok(conn),
        Ok(Err(error)) => Err(anyhow::Error::new(error)),
        Err(_) => bail!(Failure::ConnectTimeout {
            target: config.target(),
            after: config.connect_timeout
        }),
    }
    .with_context(|| format!("cannot connect to {} as '{}'", config.target(), config.user))
}

/// The instrument that fills performance_schema.metadata_locks.
const MDL_INSTRUMENT: &str = "wait/lock/metadata/sql/mdl";
/// The consumers that keep each session's current and recent statements.
const STATEMENT_CONSUMERS: [&str; 2] = ["events_statements_current", "events_statements_history"];

/// The detection statements, in the order of their answers. The performance_schema set-up goes
/// last: an account without SELECT on performance_schema fails only that statement, which is a
/// finding, not a failure.
const DETECTION: [&str; 5] = [
    queries::SERVER_VARIABLES,
    queries::SERVER_TABLES,
    queries::SHOW_GRANTS,
    queries::CURRENT_USER,
    queries::PS_SETUP,
];

/// The detection's answers as facts, judged by the pure [`server::detect`].
fn facts_from(answers: Vec<Answer>, own_id: u64) -> Result<server::ServerFacts> {
    let timeout = Duration::ZERO; // only for wording: detection has no section of its own
    let what = "detecting the server";
    let mut answers = answers
        .into_iter()
        .map(|a| a.map_err(|u| u.into_error(what, timeout)));
    let mut next = || {
        answers
            .next()
            .context("a detection statement went unanswered")
    };
    let variables: Vec<(String, String)> = rows(next()?.context("reading server variables")?);
    let tables: Vec<(String, String)> = rows(next()?.context("listing diagnostic tables")?);
    let grants: Vec<String> = rows(next()?.context("reading own grants")?);
    let (current_user,): (String,) = rows(next()?.context("reading current user")?)
        .into_iter()
        .next()
        .context("CURRENT_USER() returned no row")?;
    let setup = match next()? {
        Ok(rows_) => Some(rows::<(String, String)>(rows_)),
        Err(error)
            if error
                .downcast_ref::<Failure>()
                .is_some_and(Failure::is_privilege) =>
        {
            None
        }
        Err(error) => return Err(error.context("reading the performance_schema set-up")),
    };
    let mut facts = server::ServerFacts {
        variables: variables
            .into_iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v))
            .collect(),
        tables,
        grants,
        current_user,
        mdl_instrument: None,
        statement_consumers: None,
        connection_id: own_id,
    };
    // With performance_schema off the set-up tables say nothing: leave the facts unknown.
    if let Some(rows) = setup.filter(|_| facts.performance_schema_on()) {
        let enabled = |name: &str| {
            rows.iter()
                .any(|(n, e)| n == name && e.eq_ignore_ascii_case("YES"))
        };
        facts.mdl_instrument = Some(enabled(MDL_INSTRUMENT));
        facts.statement_consumers = Some(
            STATEMENT_CONSUMERS
                .iter()
                .filter(|name| enabled(name))
                .map(|name| (*name).to_owned())
                .collect(),
        );
    }
    Ok(facts)
}

/// Rows of a batch answer as `T`.
fn rows<T: FromRow>(rows: Vec<mysql_async::Row>) -> Vec<T> {
    rows.into_iter().map(FromRow::from_row).collect()
}

#[cfg(test)]
mod tests;
