//! The connection flags, spelled as the `mysql` client spells them.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use crate::connect::SslMode;
use crate::duration::parse_timeout;

/// Where and how to connect. Global: valid before or after the subcommand.
///
/// Precedence, highest first: these flags, then the environment (`MYSQL_HOST`, `MYSQL_TCP_PORT`,
/// `MYSQL_PWD`, `MYSQL_UNIX_PORT`, `MYTRIAGE_URL`), then option files (`[client]` and `[mytriage]`
/// groups, then the login path file), then defaults.
#[derive(Debug, Default, Clone, Args)]
pub struct ConnectArgs {
    /// Server host name or IP address.
    #[arg(short = 'h', long, global = true, help_heading = "Connection")]
    pub host: Option<String>,

    /// TCP port.
    #[arg(short = 'P', long, global = true, help_heading = "Connection")]
    pub port: Option<u16>,

    /// User name.
    #[arg(short = 'u', long, global = true, help_heading = "Connection")]
    pub user: Option<String>,

    /// Password: `-pSECRET` or `--password=SECRET`; a bare `-p` asks for it without echo.
    #[arg(
        short = 'p',
        long,
        global = true,
        num_args = 0..=1,
        require_equals = true,
        help_heading = "Connection"
    )]
    pub password: Option<Option<String>>,

    /// Unix socket file (used when the host is localhost).
    #[arg(short = 'S', long, global = true, help_heading = "Connection")]
    pub socket: Option<String>,

    /// All of the above at once: mysql://user:password@host:port/database?ssl-mode=REQUIRED
    #[arg(long, global = true, help_heading = "Connection")]
    pub url: Option<String>,

    /// TLS mode.
    #[arg(
        long,
        global = true,
        value_enum,
        ignore_case = true,
        help_heading = "Connection"
    )]
    pub ssl_mode: Option<SslMode>,

    /// CA certificate (PEM) for VERIFY_CA and VERIFY_IDENTITY.
    #[arg(long, global = true, help_heading = "Connection")]
    pub ssl_ca: Option<PathBuf>,

    /// Give up connecting after this long (e.g. 5s, 500ms).
    #[arg(long, global = true, value_parser = parse_timeout, help_heading = "Connection")]
    pub connect_timeout: Option<Duration>,

    /// Bound every statement: the client gives up, and the server stops it, after this long.
    #[arg(long, global = true, value_parser = parse_timeout, help_heading = "Connection")]
    pub query_timeout: Option<Duration>,

    /// Read only this option file.
    #[arg(
        long,
        global = true,
        conflicts_with = "no_defaults",
        help_heading = "Option files"
    )]
    pub defaults_file: Option<PathBuf>,

    /// Read this option file after the global ones and before ~/.my.cnf.
    #[arg(
        long,
        global = true,
        conflicts_with = "no_defaults",
        help_heading = "Option files"
    )]
    pub defaults_extra_file: Option<PathBuf>,

    /// Read no option files (the login path file, ~/.mylogin.cnf, is still read, as by mysql).
    #[arg(long, global = true, help_heading = "Option files")]
    pub no_defaults: bool,

    /// Read this login path from ~/.mylogin.cnf (written by mysql_config_editor), over the option
    /// files; MYSQL_TEST_LOGIN_FILE names another file.
    #[arg(
        long,
        global = true,
        value_name = "NAME",
        help_heading = "Option files"
    )]
    pub login_path: Option<String>,
}

/// Rewrites `-pSECRET` to `--password=SECRET`, the one `mysql` spelling clap cannot express: the
/// value of `-p` must be attached, so that a bare `-p` (prompt) never swallows the next word.
pub fn mysql_style_args<I>(args: I) -> Vec<std::ffi::OsString>
where
    I: IntoIterator,
    I::Item: Into<std::ffi::OsString>,
{
    let mut out = Vec::new();
    let mut after_double_dash = false;
    for arg in args {
        let arg: std::ffi::OsString = arg.into();
        match arg.to_str() {
            Some("--") => after_double_dash = true,
            Some(text) if !after_double_dash && text.starts_with("-p") && text.len() > 2 => {
                let value = text[2..].strip_prefix('=').unwrap_or(&text[2..]);
                out.push(format!("--password={value}").into());
                continue;
            }
            _ => {}
        }
        out.push(arg);
    }
    out
}
