//! Failures the user needs a hint for, and the mapping of every error to a one-line message and
//! an exit code.

use std::fmt;
use std::time::Duration;

/// Exit codes, documented in the README.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Nothing to report.
    Ok = 0,
    /// A finding or breached threshold, where a command defines one.
    Findings = 1,
    /// Usage or runtime error (and CRITICAL for `check`).
    Error = 2,
    /// `check` could not tell (Nagios UNKNOWN): the server could not be read.
    Unknown = 3,
}

/// Failures with a distinct, actionable message.
#[derive(Debug)]
pub(crate) enum Failure {
    ConnectTimeout {
        target: String,
        after: Duration,
    },
    QueryTimeout {
        what: String,
        after: Duration,
    },
    Privilege {
        what: String,
        message: String,
    },
    MissingProcess {
        what: String,
        grantee: String,
    },
    /// A statement was attempted after an earlier one timed out on the client and the connection,
    /// left mid-result, was given up.
    Abandoned {
        what: String,
    },
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::ConnectTimeout { target, after } => write!(
                f,
                "no answer from {target} within {} (--connect-timeout); is the host reachable and the server not hung?",
                seconds(*after)
            ),
            Failure::QueryTimeout { what, after } => write!(
                f,
                "{what} took longer than {} (--query-timeout) and was stopped; the server may be overloaded, raise --query-timeout to wait longer",
                seconds(*after)
            ),
            Failure::MissingProcess { what, grantee } => write!(
                f,
                "{what} needs the PROCESS privilege, which {grantee} lacks: without it other sessions are invisible. Fix: GRANT PROCESS ON *.* TO {grantee}"
            ),
            Failure::Abandoned { what } => write!(
                f,
                "{what} was not tried: the connection was given up after an earlier statement timed out"
            ),
            Failure::Privilege { what, message } => write!(
                f,
                "{what}: {message}; grant what is missing, e.g. GRANT PROCESS, SELECT ON *.* TO <user>"
            ),
        }
    }
}

impl std::error::Error for Failure {}

impl Failure {
    /// The statement ran out of time, or was not tried because an earlier one did: a section of
    /// a snapshot can be marked and the rest still shown.
    pub(crate) fn is_timeout(&self) -> bool {
        matches!(
            self,
            Failure::QueryTimeout { .. } | Failure::Abandoned { .. }
        )
    }

    /// The account lacks a privilege for what was tried.
    pub(crate) fn is_privilege(&self) -> bool {
        matches!(
            self,
            Failure::Privilege { .. } | Failure::MissingProcess { .. }
        )
    }
}

fn seconds(duration: Duration) -> String {
    let ms = duration.as_millis();
    if ms % 1000 == 0 {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

/// One line for an error: the chain of contexts, then a hint for the causes we recognise.
pub fn one_line(error: &anyhow::Error) -> String {
    // Drivers repeat their cause inside their own message; say each thing once.
    let mut parts: Vec<String> = Vec::new();
    for cause in error.chain() {
        let text = said_once(&cause.to_string().replace('\n', " "));
        if !parts.iter().any(|part| part.contains(&text)) {
            parts.push(text);
        }
    }
    let mut line = parts.join(": ");
    if let Some(hint) = error.chain().find_map(hint) {
        line.push_str(". ");
        line.push_str(hint);
    }
    line
}

/// A message whose wrappers each repeat their own label: mysql_async's `Error::Io` writes
/// "Input/output error: Input/output error: Connection refused". Consecutive equal segments once.
fn said_once(text: &str) -> String {
    let mut segments: Vec<&str> = Vec::new();
    for segment in text.split(": ") {
        if segments.last() != Some(&segment) {
            segments.push(segment);
        }
    }
    segments.join(": ")
}

/// A broken pipe (`mytriage ... | head`) is the reader's choice, not an error.
pub fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error
        .chain()
        .filter_map(|cause| cause.downcast_ref::<std::io::Error>())
        .any(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
}

fn hint(cause: &(dyn std::error::Error + 'static)) -> Option<&'static str> {
    // rustls' verdicts arrive wrapped in I/O errors; their text is all there is to go by.
    let text = cause.to_string();
    if text.contains("invalid peer certificate") {
        return Some(if text.contains("not valid for name") {
            "The server's certificate does not name this host. mytriage's TLS library (mysql_async 0.37) cannot skip that check, even for VERIFY_CA: connect by a name the certificate lists, or use --ssl-mode REQUIRED"
        } else {
            "The server's certificate is not trusted: give its CA with --ssl-ca, or use --ssl-mode REQUIRED to encrypt without verifying"
        });
    }
    if let Some(io) = cause.downcast_ref::<std::io::Error>() {
        return match io.kind() {
            std::io::ErrorKind::ConnectionRefused => {
                Some("Is a server listening there? Check -h/--host and -P/--port")
            }
            std::io::ErrorKind::NotFound => Some("Check the socket path (-S) or use -h 127.0.0.1"),
            _ => None,
        };
    }
    match cause.downcast_ref::<mysql_async::Error>()? {
        mysql_async::Error::Server(server) => match server.code {
            1045 => Some("Check -u/--user and the password (-p, MYSQL_PWD or ~/.my.cnf)"),
            1040 => Some(
                "The server is full; connect as an account with CONNECTION_ADMIN or SUPER, or through the admin port (admin_port on MySQL, extra_port on MariaDB)",
            ),
            1049 => Some("Check the database name in --url or the option file"),
            1130 => Some(
                "The server does not accept this user from this host; check the account's host part",
            ),
            _ => None,
        },
        mysql_async::Error::Driver(mysql_async::DriverError::UnknownAuthPlugin { .. }) => Some(
            "MySQL answers an unknown user this way too: check -u/--user and the password; otherwise the account needs caching_sha2_password or mysql_native_password",
        ),
        mysql_async::Error::Driver(mysql_async::DriverError::NoClientSslFlagFromServer) => Some(
            "The server offers no TLS; use --ssl-mode PREFERRED or DISABLED, or enable TLS on the server",
        ),
        mysql_async::Error::Io(mysql_async::IoError::Tls(_)) => Some(
            "TLS failed; check --ssl-mode and --ssl-ca (VERIFY_CA needs the server's CA certificate)",
        ),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cause_that_repeats_its_label_is_said_once() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "Connection refused");
        let error = anyhow::Error::new(io)
            .context("Input/output error: Input/output error: Connection refused")
            .context("cannot connect to 127.0.0.1:1 as 'root'");
        assert_eq!(
            one_line(&error),
            "cannot connect to 127.0.0.1:1 as 'root': Input/output error: Connection refused. \
             Is a server listening there? Check -h/--host and -P/--port"
        );
    }
}
