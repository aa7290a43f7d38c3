//! Connection options, resolved from flags, environment, option files and defaults, and the one
//! gentle session built from them.
//!
//! Precedence, highest first: flags (`--url` parts, overridden by the individual flags), the
//! environment (`MYTRIAGE_URL` parts, overridden by `MYSQL_HOST`, `MYSQL_TCP_PORT`, `MYSQL_PWD`,
//! `MYSQL_UNIX_PORT`), option files (`[client]`, then `[mytriage]`; the login path file
//! `~/.mylogin.cnf` last, over the others, as the mysql client reads it), then defaults.
//! Resolution does no network I/O, so every mistake in the options is reported before anything
//! connects.

pub(crate) mod login_file;
pub(crate) mod option_file;
pub(crate) mod row;
mod session;
pub(crate) mod targets;
mod tls;
mod url;

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};

use option_file::{Defaults, OptionSet};
pub(crate) use session::{Session, SnapshotPlan, inline_numbers};

/// Option-file groups mytriage reads, in order (later wins).
const GROUPS: &[&str] = &["client", "mytriage"];

/// Defaults when no source sets a value.
pub(crate) const DEFAULT_PORT: u16 = 3306;
pub(crate) const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
pub(crate) const DEFAULT_QUERY_TIMEOUT: Duration = Duration::from_secs(10);

/// One source's worth of settings; every field optional so sources can be layered.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Layer {
    pub host: Option<String>,
    pub port: Option<u16>,
    pub user: Option<String>,
    pub password: Option<String>,
    pub database: Option<String>,
    pub socket: Option<String>,
    pub ssl_mode: Option<SslMode>,
    pub ssl_ca: Option<PathBuf>,
    pub connect_timeout: Option<Duration>,
    pub query_timeout: Option<Duration>,
}

impl Layer {
    /// Fills every unset field of `self` from `lower`.
    fn over(self, lower: Layer) -> Layer {
        Layer {
            host: self.host.or(lower.host),
            port: self.port.or(lower.port),
            user: self.user.or(lower.user),
            password: self.password.or(lower.password),
            database: self.database.or(lower.database),
            socket: self.socket.or(lower.socket),
            ssl_mode: self.ssl_mode.or(lower.ssl_mode),
            ssl_ca: self.ssl_ca.or(lower.ssl_ca),
            connect_timeout: self.connect_timeout.or(lower.connect_timeout),
            query_timeout: self.query_timeout.or(lower.query_timeout),
        }
    }
}

/// Everything needed to open the session, fully resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ConnectConfig {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub password: Option<String>,
    pub database: Option<String>,
    /// Set only when the connection goes through a Unix socket (host `localhost` and a socket known).
    pub socket: Option<String>,
    pub ssl_mode: SslMode,
    pub ssl_ca: Option<PathBuf>,
    pub connect_timeout: Duration,
    pub query_timeout: Duration,
}

impl ConnectConfig {
    /// Where we connect, for messages: `host:port` or the socket path.
    pub(crate) fn target(&self) -> String {
        match &self.socket {
            Some(socket) => format!("socket {socket}"),
            None if self.host.contains(':') => format!("[{}]:{}", self.host, self.port),
            None => format!("{}:{}", self.host, self.port),
        }
    }
}

/// TLS mode, as the `mysql` client's `--ssl-mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[value(rename_all = "SCREAMING_SNAKE_CASE")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SslMode {
    /// Plain TCP, no TLS.
    Disabled,
    /// TLS when the server offers it, without verifying the certificate (the default).
    Preferred,
    /// TLS or fail; the certificate is not verified.
    Required,
    /// TLS, and the certificate must chain to --ssl-ca (or the system roots).
    VerifyCa,
    /// As VERIFY_CA, and the certificate must name the host.
    VerifyIdentity,
}

impl std::str::FromStr for SslMode {
    type Err = String;

    /// Parses option-file and URL values, case-insensitively, as clap does for the flag.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        <SslMode as clap::ValueEnum>::from_str(text, true).map_err(|_| {
            format!("unknown ssl-mode '{text}' (use DISABLED, PREFERRED, REQUIRED, VERIFY_CA or VERIFY_IDENTITY)")
        })
    }
}

/// What the command line says about the connection: the highest-precedence source.
#[derive(Debug, Default, Clone)]
pub(crate) struct Flags {
    /// `--url`, overridden by the individual flags in `given`.
    pub url: Option<String>,
    /// The individual flags (`--host`, `-P`, `-pSECRET`, ...).
    pub given: Layer,
    /// A bare `-p`: ask for the password.
    pub ask_password: bool,
    /// Which option files to read.
    pub defaults: Defaults,
    /// `--login-path NAME`: also read `[NAME]` from the login path file, which must have it.
    pub login_path: Option<String>,
}

/// What the outside world offers to resolution; injected so precedence is testable.
pub(crate) struct Inputs<'a> {
    pub flags: &'a Flags,
    pub env: &'a dyn Fn(&str) -> Option<String>,
    pub home: Option<PathBuf>,
    /// Asks for the password (bare `-p`); only called when needed.
    pub prompt: &'a dyn Fn() -> Result<String>,
}

/// The resolved configuration plus what the user should be told about it.
#[derive(Debug)]
pub(crate) struct Resolved {
    pub config: ConnectConfig,
    pub warnings: Vec<String>,
}

/// Resolves the connection settings from every source, highest precedence first.
pub(crate) fn resolve(inputs: &Inputs<'_>) -> Result<Resolved> {
    let mut warnings = Vec::new();
    let flags = flag_layer(inputs.flags)?;
    if flags.password.as_deref().is_some_and(|p| !p.is_empty()) {
        // The same words as the mysql client, so nobody has to learn a new warning.
        warnings.push(
            "[Warning] Using a password on the command line interface can be insecure.".into(),
        );
    }
    let env = env_layer(inputs.env)?;
    let mut options = option_file::load(&inputs.flags.defaults, inputs.home.as_deref(), GROUPS)?;
    warnings.extend(options.warnings().iter().cloned());
    warnings.extend(merge_login_file(&mut options, inputs)?);
    let files = file_layer(&options)?;
    let merged = flags.over(env).over(files);

    let password = match inputs.flags.ask_password {
        true => Some((inputs.prompt)().context("cannot read the password for -p")?),
        false => merged.password,
    };
    let host = merged.host.unwrap_or_else(|| "localhost".into());
    let socket = merged.socket.filter(|_| host == "localhost");
    let ssl_mode = merged.ssl_mode.unwrap_or(SslMode::Preferred);
    if merged.ssl_ca.is_some() && matches!(ssl_mode, SslMode::Disabled) {
        bail!(
            "--ssl-ca was given with --ssl-mode DISABLED; use VERIFY_CA or VERIFY_IDENTITY to check the server's certificate"
        );
    }
    let config = ConnectConfig {
        port: merged.port.unwrap_or(DEFAULT_PORT),
        user: merged
            .user
            .or_else(|| (inputs.env)("USER"))
            .unwrap_or_else(|| "root".into()),
        password,
        database: merged.database,
        socket,
        ssl_mode,
        ssl_ca: merged.ssl_ca,
        connect_timeout: merged.connect_timeout.unwrap_or(DEFAULT_CONNECT_TIMEOUT),
        query_timeout: merged.query_timeout.unwrap_or(DEFAULT_QUERY_TIMEOUT),
        host,
    };
    Ok(Resolved { config, warnings })
}

/// Lays the login path file over the option files, as the mysql client does: read after all of
/// them, even under `--no-defaults` or `--defaults-file`, with the same groups plus the
/// `--login-path` one. Without `--login-path` a missing file is fine and an unreadable one only a
/// warning (returned); with it, both are errors, and so is a file without that login path.
fn merge_login_file(options: &mut OptionSet, inputs: &Inputs<'_>) -> Result<Option<String>> {
    use login_file::LoginFile;
    let wanted = inputs.flags.login_path.as_deref();
    if let Some(name) = wanted {
        if name.trim().is_empty() || name.contains(['[', ']']) {
            bail!(
                "--login-path '{name}' is not a login path name; use the name given to mysql_config_editor set --login-path"
            );
        }
    }
    let Some(path) = login_file::path(inputs.env, inputs.home.as_deref()) else {
        return match wanted {
            Some(name) => bail!(
                "--login-path {name}: there is no home directory to find .mylogin.cnf in; set HOME or MYSQL_TEST_LOGIN_FILE"
            ),
            None => Ok(None),
        };
    };
    let shown = path.display();
    let text = match (login_file::read(&path), wanted) {
        (Ok(LoginFile::Text(text)), _) => text,
        (Ok(LoginFile::Missing), None) => return Ok(None),
        (Ok(LoginFile::Missing), Some(name)) => bail!(
            "--login-path {name}: the login path file {shown} does not exist; create it with mysql_config_editor set --login-path={name} --host=... --user=... --password"
        ),
        (Ok(LoginFile::Skipped(why)), None) => return Ok(Some(why)),
        (Ok(LoginFile::Skipped(why)), Some(name)) => bail!("--login-path {name}: {why}"),
        (Err(error), None) => return Ok(Some(format!("{error:#}"))),
        (Err(error), Some(name)) => return Err(error.context(format!("--login-path {name}"))),
    };
    let mut groups = GROUPS.to_vec();
    if let Some(name) = wanted {
        let found = login_file::groups(&text);
        if !found.iter().any(|g| *g == name.to_lowercase()) {
            let have = match found.is_empty() {
                true => "no login paths".to_owned(),
                false => format!("only {}", found.join(", ")),
            };
            bail!(
                "--login-path {name}: {shown} has {have}; add it with mysql_config_editor set --login-path={name} --host=... --user=... --password"
            );
        }
        groups.push(name);
    }
    match (options.merge_text(&path, &text, &groups), wanted) {
        (Ok(()), _) => Ok(None),
        (Err(error), None) => Ok(Some(format!("ignoring the login path file: {error:#}"))),
        (Err(error), Some(name)) => Err(error.context(format!("--login-path {name}"))),
    }
}

/// Flags: the parts of `--url`, overridden by the individual flags.
fn flag_layer(flags: &Flags) -> Result<Layer> {
    let from_url = match &flags.url {
        Some(text) => url::parse(text).context("--url")?,
        None => Layer::default(),
    };
    Ok(flags.given.clone().over(from_url))
}

/// Environment: the parts of `MYTRIAGE_URL`, overridden by the `mysql` client's variables.
fn env_layer(env: &dyn Fn(&str) -> Option<String>) -> Result<Layer> {
    let from_url = match env("MYTRIAGE_URL").filter(|u| !u.is_empty()) {
        Some(text) => url::parse(&text).context("MYTRIAGE_URL")?,
        None => Layer::default(),
    };
    let port = env("MYSQL_TCP_PORT")
        .filter(|p| !p.is_empty())
        .map(|p| parse_port(&p).context("MYSQL_TCP_PORT"))
        .transpose()?;
    let vars = Layer {
        host: env("MYSQL_HOST").filter(|h| !h.is_empty()),
        port,
        password: env("MYSQL_PWD"),
        socket: env("MYSQL_UNIX_PORT").filter(|s| !s.is_empty()),
        ..Layer::default()
    };
    Ok(vars.over(from_url))
}

/// Option files: `[client]` then `[mytriage]`, merged by the loader.
fn file_layer(options: &OptionSet) -> Result<Layer> {
    let text = |key: &str| options.get(key).and_then(|v| v.value.clone());
    Ok(Layer {
        host: text("host"),
        port: parsed(options, "port", parse_port)?,
        user: text("user"),
        password: text("password"),
        database: text("database"),
        socket: text("socket"),
        ssl_mode: parsed(options, "ssl-mode", |v| {
            v.parse::<SslMode>().map_err(anyhow::Error::msg)
        })?,
        ssl_ca: text("ssl-ca").map(PathBuf::from),
        connect_timeout: parsed(options, "connect-timeout", option_seconds)?,
        query_timeout: parsed(options, "query-timeout", option_seconds)?,
    })
}

/// An option-file value parsed, with its file and line in the error.
fn parsed<T>(
    options: &OptionSet,
    key: &str,
    parse: impl Fn(&str) -> Result<T>,
) -> Result<Option<T>> {
    options
        .get(key)
        .map(|v| {
            parse(v.value.as_deref().unwrap_or(""))
                .with_context(|| format!("{}:{}: option '{key}'", v.file.display(), v.line))
        })
        .transpose()
}

fn parse_port(text: &str) -> Result<u16> {
    match text.trim().parse::<u16>() {
        Ok(port) if port > 0 => Ok(port),
        _ => bail!("port '{text}' is not a number from 1 to 65535"),
    }
}

/// Option files give timeouts in seconds, as the mysql client's `connect-timeout`; units are allowed too.
fn option_seconds(text: &str) -> Result<Duration> {
    crate::duration::parse_timeout(text).map_err(anyhow::Error::msg)
}

/// The user's home directory, for `~/.my.cnf`.
pub(crate) fn home_dir() -> Option<PathBuf> {
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
}

/// Reads a password from the terminal without echo.
pub(crate) fn prompt_password() -> Result<String> {
    use std::io::IsTerminal;
    if !std::io::stdin().is_terminal() && !Path::new("/dev/tty").exists() {
        bail!(
            "-p asks for the password on a terminal, and there is none; use MYSQL_PWD or an option file"
        );
    }
    rpassword::prompt_password("Enter password: ").context(
        "-p asks for the password on a terminal; without one, use MYSQL_PWD or an option file",
    )
}
