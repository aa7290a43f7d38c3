//! `mytriage server`: the detected flavor, version, capabilities and the sources probes will use.

use anyhow::Result;
use serde::Serialize;

use crate::connect::Session;
use crate::queries;
use crate::render::{Block, Report, View, ViewOptions, serde_label, yes_no};
use crate::server::ServerInfo;

/// The detection result (it ran when the session opened) and our own session, read back.
#[derive(Debug, Serialize)]
pub(crate) struct ServerReport {
    #[serde(flatten)]
    pub server: ServerInfo,
    pub session: SessionCheck,
}

/// How the server sees mytriage's own session: proof that it is gentle.
#[derive(Debug, Serialize)]
pub(crate) struct SessionCheck {
    pub read_only: bool,
    /// The server-side statement limit as set, e.g. `max_execution_time=10000`.
    pub statement_limit: String,
    /// The `program_name` connection attribute, where performance_schema shows it.
    pub program_name: Option<String>,
    /// The TLS cipher in use; `null` when the connection is not encrypted.
    pub tls_cipher: Option<String>,
}

/// What `server` reads back, in one batch.
pub(crate) fn snapshot(server: &ServerInfo) -> Vec<&'static str> {
    let mut ahead = vec![server.flavor.session_check_query(), queries::SESSION_TLS];
    if server.capabilities.performance_schema {
        ahead.push(queries::OWN_PROGRAM_NAME);
    }
    ahead
}

/// Reads back the session's settings; detection itself already ran in [`Session::open`].
pub(crate) async fn collect(session: &mut Session) -> Result<ServerReport> {
    let server = session.server.clone();
    let ahead = snapshot(&server);
    session
        .db
        .prefetch("reading back the session", &ahead)
        .await?;
    let rows: Vec<(bool, String)> = session
        .db
        .query(
            "reading back the session",
            server.flavor.session_check_query(),
        )
        .await?;
    let (read_only, statement_limit) = rows.into_iter().next().unwrap_or_default();
    let program_name = if server.capabilities.performance_schema {
        let names = session.db.query_if_permitted::<String>(
            "reading connection attributes",
            queries::OWN_PROGRAM_NAME,
        );
        names.await?.and_then(|names| names.into_iter().next())
    } else {
        None
    };
    let tls: Vec<(String, String)> = session
        .db
        .query("reading the TLS cipher", queries::SESSION_TLS)
        .await?;
    let tls_cipher = tls
        .into_iter()
        .next()
        .map(|(_, cipher)| cipher)
        .filter(|c| !c.is_empty());
    Ok(ServerReport {
        server,
        session: SessionCheck {
            read_only,
            statement_limit,
            program_name,
            tls_cipher,
        },
    })
}

impl Report for ServerReport {
    fn view(&self, options: &ViewOptions) -> View {
        let mut view = self.server.view(options);
        let session = &self.session;
        view.blocks.insert(
            1,
            Block::Fields {
                title: Some("This session".to_owned()),
                fields: vec![
                    ("Read only".to_owned(), yes_no(session.read_only)),
                    (
                        "Statement limit".to_owned(),
                        session.statement_limit.clone(),
                    ),
                    (
                        "program_name".to_owned(),
                        session
                            .program_name
                            .clone()
                            .unwrap_or_else(|| "(not visible)".into()),
                    ),
                    (
                        "TLS".to_owned(),
                        session.tls_cipher.clone().unwrap_or_else(|| "no".into()),
                    ),
                ],
            },
        );
        view
    }
}

impl ServerInfo {
    fn view(&self, _: &ViewOptions) -> View {
        let managed = match self.managed {
            Some(crate::server::Managed::Aurora) => "Amazon Aurora",
            Some(crate::server::Managed::Rds) => "Amazon RDS",
            None => "no",
        };
        let mut fields = vec![
            ("Flavor".to_owned(), self.flavor_name.to_owned()),
            ("Version".to_owned(), self.version.clone()),
        ];
        let optional = [
            ("Comment", self.version_comment.clone()),
            ("Aurora version", self.aurora_version.clone()),
            ("Hostname", self.hostname.clone()),
            (
                "max_connections",
                self.max_connections.map(|m| m.to_string()),
            ),
        ];
        fields.extend(
            optional
                .into_iter()
                .filter_map(|(name, value)| Some((name.to_owned(), value?))),
        );
        fields.push(("Managed".to_owned(), managed.to_owned()));
        fields.push(("Connected as".to_owned(), self.current_user.clone()));
        fields.push((
            "Connection id".to_owned(),
            format!("{} (mytriage's own)", self.connection_id),
        ));
        fields.push(("Read only".to_owned(), yes_no(self.read_only)));

        let caps = &self.capabilities;
        let capability_rows = [
            (
                "performance_schema",
                caps.performance_schema,
                "wait events, statement history, non-blocking thread list",
            ),
            (
                "data_lock_waits",
                caps.data_lock_waits,
                "row-lock waits from performance_schema (8.0+)",
            ),
            (
                "INNODB_LOCK_WAITS",
                caps.innodb_lock_waits,
                "row-lock waits from information_schema (5.7, MariaDB)",
            ),
            (
                "performance_schema.processlist",
                caps.ps_processlist,
                "processlist without the global mutex",
            ),
            (
                "MDL instrument",
                caps.mdl_instrument,
                "metadata-lock holders and waiters",
            ),
            (
                "metadata_lock_info plugin",
                caps.metadata_lock_info,
                "metadata-lock holders without performance_schema (MariaDB)",
            ),
            (
                "statement consumer",
                caps.statement_history,
                "last statement of idle sessions",
            ),
            (
                "performance_schema.error_log",
                caps.error_log_table,
                "every deadlock, not just the latest",
            ),
            (
                "sys schema",
                caps.sys_schema,
                "sys views (mytriage does not need them)",
            ),
            (
                "PROCESS privilege",
                caps.process_privilege,
                "see other sessions and InnoDB transactions",
            ),
            (
                "CONNECTION_ADMIN or SUPER",
                caps.connection_admin,
                "reserved slot when full; kill any session",
            ),
        ];
        let rows = capability_rows
            .iter()
            .map(|(name, on, meaning)| vec![(*name).to_owned(), yes_no(*on), (*meaning).to_owned()])
            .collect();
        let sources = vec![
            vec![
                "lock waits".to_owned(),
                serde_label(&self.sources.lock_waits),
            ],
            vec![
                "processlist".to_owned(),
                serde_label(&self.sources.processlist),
            ],
            vec![
                "metadata locks".to_owned(),
                serde_label(&self.sources.metadata_locks),
            ],
        ];
        let mut blocks = vec![
            Block::Fields {
                title: None,
                fields,
            },
            Block::Table {
                title: Some("Capabilities".to_owned()),
                header: vec!["capability".into(), "available".into(), "gives".into()],
                rows,
            },
            Block::Table {
                title: Some("Sources".to_owned()),
                header: vec!["probe".into(), "reads from".into()],
                rows: sources,
            },
        ];
        blocks.extend(
            self.warnings
                .iter()
                .map(|w| Block::Note(format!("warning: {w}"))),
        );
        View { blocks }
    }
}
