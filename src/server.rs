//! The server's flavor and capabilities, detected once per connection and the one place where
//! flavor differences are decided. Probes ask [`ServerInfo`] which source to read; they never look
//! at version strings themselves.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

mod sources;

use sources::sources_of;
pub use sources::{LockWaitSource, MdlSource, ProcesslistSource, Sources};

/// What the detection statements returned: the input of the pure [`detect`].
/// Recorded sets for every flavor live in `fixtures/server/`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct ServerFacts {
    /// Global variables, lower-case names.
    pub variables: BTreeMap<String, String>,
    /// `(schema, table)` of the diagnostic tables that exist.
    pub tables: Vec<(String, String)>,
    /// `SHOW GRANTS` lines.
    pub grants: Vec<String>,
    /// `CURRENT_USER()`.
    pub current_user: String,
    /// Whether `wait/lock/metadata/sql/mdl` is enabled; unknown when performance_schema is off.
    pub mdl_instrument: Option<bool>,
    /// Enabled performance_schema statement consumers; unknown when performance_schema is off.
    #[serde(default)]
    pub statement_consumers: Option<Vec<String>>,
    /// Our own `CONNECTION_ID()`, left out of every listing.
    #[serde(default)]
    pub connection_id: u64,
}

impl ServerFacts {
    fn var(&self, name: &str) -> Option<&str> {
        self.variables.get(name).map(String::as_str)
    }

    fn on(&self, name: &str) -> bool {
        self.var(name)
            .is_some_and(|v| matches!(v.to_ascii_uppercase().as_str(), "ON" | "1" | "YES" | "TRUE"))
    }

    pub(crate) fn performance_schema_on(&self) -> bool {
        self.on("performance_schema")
    }

    fn has_table(&self, schema: &str, table: &str) -> bool {
        self.tables
            .iter()
            .any(|(s, t)| s.eq_ignore_ascii_case(schema) && t.eq_ignore_ascii_case(table))
    }
}

/// The server families mytriage tells apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Flavor {
    #[serde(rename = "mysql-5.7")]
    MySql57,
    #[serde(rename = "mysql-8.0")]
    MySql80,
    /// 8.1 to 8.4 (the 8.4 LTS line and the innovation releases before it).
    #[serde(rename = "mysql-8.4")]
    MySql84,
    #[serde(rename = "mysql-9")]
    MySql9,
    #[serde(rename = "mariadb-10")]
    MariaDb10,
    /// 11.x and later.
    #[serde(rename = "mariadb-11")]
    MariaDb11,
    /// Aurora MySQL 2 (MySQL 5.7 compatible).
    #[serde(rename = "aurora-mysql-2")]
    AuroraMySql2,
    /// Aurora MySQL 3 (MySQL 8.0 compatible).
    #[serde(rename = "aurora-mysql-3")]
    AuroraMySql3,
}

impl Flavor {
    /// The human name, as in the table output.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Flavor::MySql57 => "MySQL 5.7",
            Flavor::MySql80 => "MySQL 8.0",
            Flavor::MySql84 => "MySQL 8.4",
            Flavor::MySql9 => "MySQL 9.x",
            Flavor::MariaDb10 => "MariaDB 10.x",
            Flavor::MariaDb11 => "MariaDB 11+",
            Flavor::AuroraMySql2 => "Aurora MySQL 2",
            Flavor::AuroraMySql3 => "Aurora MySQL 3",
        }
    }

    pub(crate) fn is_mariadb(self) -> bool {
        matches!(self, Flavor::MariaDb10 | Flavor::MariaDb11)
    }
}

/// Who runs the server, when it is a managed service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Managed {
    /// Amazon RDS for MySQL or MariaDB (`@@basedir` under `rdsdb`).
    Rds,
    /// Amazon Aurora MySQL (`@@aurora_version` exists).
    Aurora,
}

/// A dotted version, as numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Version {
    pub major: u32,
    pub minor: u32,
    pub patch: u32,
}

impl Version {
    /// Parses the leading `X.Y.Z` of a version string such as `9.7.4-2` or `10.11.19-MariaDB-0+deb12u1`.
    pub(crate) fn parse(text: &str) -> Option<Version> {
        // MariaDB 10 once prefixed "5.5.5-" for old clients; the server variable has no prefix, but be safe.
        let text = text.strip_prefix("5.5.5-").unwrap_or(text);
        let mut numbers = text
            .split(|c: char| !c.is_ascii_digit())
            .take_while(|part| !part.is_empty())
            .map(|part| part.parse::<u32>().ok());
        Some(Version {
            major: numbers.next()??,
            minor: numbers.next().flatten().unwrap_or(0),
            patch: numbers.next().flatten().unwrap_or(0),
        })
    }
}

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// What the server lets mytriage read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Capabilities {
    /// `@@performance_schema` is ON.
    pub performance_schema: bool,
    /// `performance_schema.data_lock_waits` (MySQL 8.0+) exists and performance_schema is on.
    pub data_lock_waits: bool,
    /// `information_schema.INNODB_LOCK_WAITS` (MySQL 5.7, Aurora 2, MariaDB) exists.
    pub innodb_lock_waits: bool,
    /// `performance_schema.processlist` (MySQL 8.0.22+) exists and performance_schema is on.
    pub ps_processlist: bool,
    /// `performance_schema.metadata_locks` is filled: performance_schema on and the MDL instrument enabled.
    pub mdl_instrument: bool,
    /// `events_statements_current` is kept: idle sessions' last statements are known.
    pub statement_history: bool,
    /// `performance_schema.error_log` (MySQL 8.0.22+) exists and performance_schema is on.
    pub error_log_table: bool,
    /// MariaDB's `metadata_lock_info` plugin is installed: `information_schema.METADATA_LOCK_INFO`
    /// names every granted metadata lock, even with performance_schema off.
    pub metadata_lock_info: bool,
    /// `performance_schema.table_handles`: which sessions hold a table open (for "Waiting for
    /// table flush").
    pub table_handles: bool,
    /// The `sys` schema is installed.
    pub sys_schema: bool,
    /// The PROCESS privilege: without it, other sessions and InnoDB's tables are invisible.
    pub process_privilege: bool,
    /// CONNECTION_ADMIN or SUPER: may use the reserved connection slot and kill any session.
    pub connection_admin: bool,
}

/// The detected server: flavor, version, capabilities, and the sources probes will use.
#[derive(Debug, Clone, Serialize)]
pub struct ServerInfo {
    pub flavor: Flavor,
    pub flavor_name: &'static str,
    pub version: String,
    pub version_number: Version,
    pub version_comment: Option<String>,
    pub managed: Option<Managed>,
    pub aurora_version: Option<String>,
    pub hostname: Option<String>,
    pub current_user: String,
    /// mytriage's own connection id, never shown in its listings.
    pub connection_id: u64,
    pub read_only: bool,
    pub max_connections: Option<u64>,
    /// `innodb_print_all_deadlocks`: every deadlock goes to the error log.
    pub print_all_deadlocks: Option<bool>,
    pub capabilities: Capabilities,
    pub sources: Sources,
    /// Things the user should know, e.g. a missing privilege.
    pub warnings: Vec<String>,
}

/// Decides flavor and capabilities from recorded facts. Pure, so every flavor is unit-tested.
pub(crate) fn detect(facts: &ServerFacts) -> ServerInfo {
    let version = facts.var("version").unwrap_or_default().to_owned();
    let version_number = Version::parse(&version).unwrap_or(Version {
        major: 0,
        minor: 0,
        patch: 0,
    });
    let comment = facts.var("version_comment").map(str::to_owned);
    let aurora_version = facts.var("aurora_version").map(str::to_owned);
    let mariadb = version.to_ascii_lowercase().contains("mariadb")
        || comment
            .as_deref()
            .is_some_and(|c| c.to_ascii_lowercase().contains("mariadb"));
    let flavor = flavor_of(version_number, mariadb, aurora_version.as_deref());
    let managed = if aurora_version.is_some() {
        Some(Managed::Aurora)
    } else if facts.var("basedir").is_some_and(|b| b.contains("rdsdb")) {
        Some(Managed::Rds)
    } else {
        None
    };
    let capabilities = capabilities_of(facts);
    let mut warnings = Vec::new();
    if !capabilities.process_privilege {
        warnings.push(format!(
            "{} lacks the PROCESS privilege: other sessions and InnoDB transactions are invisible; GRANT PROCESS ON *.* TO {}",
            facts.current_user,
            grantee(&facts.current_user)
        ));
    }
    if version_number
        < (Version {
            major: 5,
            minor: 7,
            patch: 0,
        })
        && !mariadb
    {
        warnings.push(format!(
            "MySQL {version} is older than 5.7, which mytriage does not support"
        ));
    }
    ServerInfo {
        flavor,
        flavor_name: flavor.label(),
        version,
        version_number,
        version_comment: comment,
        managed,
        aurora_version,
        hostname: facts.var("hostname").map(str::to_owned),
        current_user: facts.current_user.clone(),
        connection_id: facts.connection_id,
        read_only: facts.on("read_only"),
        max_connections: facts.var("max_connections").and_then(|v| v.parse().ok()),
        print_all_deadlocks: facts
            .var("innodb_print_all_deadlocks")
            .map(|_| facts.on("innodb_print_all_deadlocks")),
        sources: sources_of(&capabilities),
        capabilities,
        warnings,
    }
}

/// The server the handshake's version suggests, with the defaults of its flavor: MariaDB (10 and
/// later) with performance_schema off, MySQL with it on and, from 8.0, its MDL instrument and
/// data_lock_waits, and from 8.0.22 performance_schema.processlist. Only a guess, to choose the
/// statements of the first round trip before detection has answered; [`detect`] decides.
pub(crate) fn assume(version: (u16, u16, u16), connection_id: u64) -> ServerInfo {
    let (major, minor, patch) = version;
    let mariadb = major >= 10;
    let at_least = |m: u16, n: u16, p: u16| (major, minor, patch) >= (m, n, p);
    let mut tables: Vec<(&str, &str)> = vec![
        ("information_schema", "INNODB_TRX"),
        ("information_schema", "INNODB_METRICS"),
        ("information_schema", "PROCESSLIST"),
    ];
    if mariadb || !at_least(8, 0, 0) {
        tables.extend([
            ("information_schema", "INNODB_LOCK_WAITS"),
            ("information_schema", "INNODB_LOCKS"),
        ]);
    }
    if !mariadb {
        tables.extend([
            ("performance_schema", "threads"),
            ("performance_schema", "metadata_locks"),
            ("performance_schema", "events_statements_current"),
            ("performance_schema", "events_statements_history"),
            ("performance_schema", "table_handles"),
            ("performance_schema", "events_transactions_current"),
        ]);
        if at_least(8, 0, 0) {
            tables.extend([
                ("performance_schema", "data_lock_waits"),
                ("performance_schema", "data_locks"),
            ]);
        }
        if at_least(8, 0, 22) {
            tables.extend([
                ("performance_schema", "processlist"),
                ("performance_schema", "error_log"),
            ]);
        }
    }
    let suffix = if mariadb { "-MariaDB" } else { "" };
    let facts = ServerFacts {
        variables: BTreeMap::from([
            (
                "version".to_owned(),
                format!("{major}.{minor}.{patch}{suffix}"),
            ),
            (
                "performance_schema".to_owned(),
                if mariadb { "OFF" } else { "ON" }.to_owned(),
            ),
        ]),
        tables: tables
            .into_iter()
            .map(|(s, t)| (s.to_owned(), t.to_owned()))
            .collect(),
        grants: vec!["GRANT PROCESS ON *.* TO 'mytriage'@'%'".to_owned()],
        current_user: String::new(),
        mdl_instrument: (!mariadb).then_some(at_least(8, 0, 0)),
        statement_consumers: (!mariadb).then(|| {
            vec![
                "events_statements_current".to_owned(),
                "events_statements_history".to_owned(),
            ]
        }),
        connection_id,
    };
    detect(&facts)
}

fn flavor_of(version: Version, mariadb: bool, aurora_version: Option<&str>) -> Flavor {
    if mariadb {
        return if version.major >= 11 {
            Flavor::MariaDb11
        } else {
            Flavor::MariaDb10
        };
    }
    if let Some(aurora) = aurora_version {
        // aurora_version is "2.11.2" or "3.05.2"; the MySQL version decides when it is odd.
        let major = Version::parse(aurora).map(|v| v.major);
        return match major {
            Some(2) => Flavor::AuroraMySql2,
            Some(3) => Flavor::AuroraMySql3,
            _ if version.major >= 8 => Flavor::AuroraMySql3,
            _ => Flavor::AuroraMySql2,
        };
    }
    match (version.major, version.minor) {
        (0..=7, _) => Flavor::MySql57,
        (8, 0) => Flavor::MySql80,
        (8, _) => Flavor::MySql84,
        _ => Flavor::MySql9,
    }
}

fn capabilities_of(facts: &ServerFacts) -> Capabilities {
    let ps = facts.performance_schema_on();
    let privileges = global_privileges(&facts.grants);
    let has = |name: &str| {
        privileges
            .iter()
            .any(|p| p == name || p == "ALL PRIVILEGES" || p == "ALL")
    };
    Capabilities {
        performance_schema: ps,
        data_lock_waits: ps && facts.has_table("performance_schema", "data_lock_waits"),
        innodb_lock_waits: facts.has_table("information_schema", "INNODB_LOCK_WAITS"),
        // information_schema.TABLES hides performance_schema tables from an account without
        // SELECT on them, yet processlist needs only PROCESS: on MySQL 8.0.22+ it is there.
        ps_processlist: ps
            && (facts.has_table("performance_schema", "processlist")
                || mysql_8_0_22_or_later(facts)),
        mdl_instrument: ps && facts.mdl_instrument == Some(true),
        statement_history: ps
            && facts.has_table("performance_schema", "events_statements_current")
            && facts
                .statement_consumers
                .as_ref()
                .is_some_and(|c| c.iter().any(|n| n == "events_statements_current")),
        error_log_table: ps && facts.has_table("performance_schema", "error_log"),
        metadata_lock_info: facts.has_table("information_schema", "METADATA_LOCK_INFO"),
        table_handles: ps && facts.has_table("performance_schema", "table_handles"),
        sys_schema: facts.has_table("sys", "sys_config"),
        process_privilege: has("PROCESS"),
        connection_admin: has("SUPER") || has("CONNECTION_ADMIN") || has("CONNECTION ADMIN"),
    }
}

fn mysql_8_0_22_or_later(facts: &ServerFacts) -> bool {
    let version = facts.var("version").unwrap_or_default();
    let mariadb = version.to_ascii_lowercase().contains("mariadb")
        || facts
            .var("version_comment")
            .is_some_and(|c| c.to_ascii_lowercase().contains("mariadb"));
    !mariadb
        && Version::parse(version).is_some_and(|v| {
            v >= Version {
                major: 8,
                minor: 0,
                patch: 22,
            }
        })
}

/// Privileges granted `ON *.*`, upper-case, from `SHOW GRANTS` lines of MySQL and MariaDB.
pub(crate) fn global_privileges(grants: &[String]) -> Vec<String> {
    grants
        .iter()
        .filter_map(|line| {
            let rest = line.trim().strip_prefix("GRANT ")?;
            let on = rest.find(" ON *.* TO ")?;
            Some(
                rest[..on]
                    .split(',')
                    .map(|p| p.trim().to_ascii_uppercase())
                    .collect::<Vec<_>>(),
            )
        })
        .flatten()
        .collect()
}

impl ServerInfo {
    /// The connected account as a quoted grantee, for GRANT hints.
    pub(crate) fn grantee(&self) -> String {
        grantee(&self.current_user)
    }
}

/// `user@host` as a quoted grantee for GRANT hints.
fn grantee(current_user: &str) -> String {
    match current_user.rsplit_once('@') {
        Some((user, host)) => format!("'{user}'@'{host}'"),
        None => format!("'{current_user}'"),
    }
}

impl ServerInfo {
    /// The one statement that makes the session gentle on this flavor: read only, every statement
    /// bounded on the server side too, and no queueing behind a metadata lock for longer than we
    /// would wait anyway.
    pub(crate) fn session_setup(&self, query_timeout: Duration) -> String {
        let seconds = query_timeout.as_secs_f64();
        let lock_wait = query_timeout.as_secs().max(1);
        if self.flavor.is_mariadb() {
            // MariaDB 10 knows only tx_read_only (transaction_read_only came in 11.1).
            return format!(
                "SET SESSION tx_read_only = 1, max_statement_time = {seconds:.3}, \
                 lock_wait_timeout = {lock_wait}"
            );
        }
        // MySQL 8.0 removed tx_read_only; 5.7 (and Aurora 2, 5.7.12 at heart) may lack its successor.
        let read_only = match self.flavor {
            Flavor::MySql57 | Flavor::AuroraMySql2 => "tx_read_only",
            _ => "transaction_read_only",
        };
        format!(
            "SET SESSION {read_only} = 1, max_execution_time = {}, lock_wait_timeout = {lock_wait}",
            query_timeout.as_millis().max(1)
        )
    }
}

/// The recorded facts of `fixtures/server/NAME.json`, for tests.
#[cfg(test)]
pub(crate) fn fixture_facts(name: &str) -> ServerFacts {
    let path = format!("{}/fixtures/server/{name}.json", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[cfg(test)]
mod tests;
