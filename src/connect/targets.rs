//! The hosts of a fleet run (`--hosts`, `--hosts-file`, `--cluster`): each becomes the command
//! line's connection flags with its own host, URL or option-file group laid over them, so
//! credentials are shared unless a host says otherwise.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use super::option_file;
use super::{Flags, Layer, file_layer, url};

/// One host as the user named it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum HostEntry {
    /// `db1` or `db1:3307` (or `[::1]:3307`).
    Address { host: String, port: Option<u16> },
    /// `mysql://user:password@host:port/...`: its parts override the shared flags.
    Url(String),
    /// `[group]`: the connection options of that group of the option files.
    Group(String),
}

impl std::str::FromStr for HostEntry {
    type Err = anyhow::Error;

    fn from_str(text: &str) -> Result<HostEntry> {
        let text = text.trim();
        if text.is_empty() {
            bail!("an empty host");
        }
        if text.starts_with("mysql://") || text.starts_with("mariadb://") {
            url::parse(text).with_context(|| format!("host {}", redacted(text)))?;
            return Ok(HostEntry::Url(text.to_owned()));
        }
        if let Some(group) = text.strip_prefix('[').and_then(|g| g.strip_suffix(']')) {
            if !group.is_empty() && !group.contains(['[', ']', ':']) {
                return Ok(HostEntry::Group(group.to_owned()));
            }
        }
        let (host, port) = match text.rsplit_once(':') {
            // An IPv6 address in brackets, or a plain host with a port.
            Some((host, port)) if !host.contains(':') || host.ends_with(']') => {
                let port = port
                    .parse::<u16>()
                    .ok()
                    .filter(|p| *p > 0)
                    .with_context(|| format!("host '{text}': '{port}' is not a port"))?;
                (
                    host.trim_start_matches('[').trim_end_matches(']'),
                    Some(port),
                )
            }
            _ => (text, None),
        };
        if host.is_empty() || host.contains(|c: char| c.is_whitespace() || c == '/' || c == '@') {
            bail!("'{text}' is not a host, host:port, mysql:// URL or [option-file group]");
        }
        Ok(HostEntry::Address {
            host: host.to_owned(),
            port,
        })
    }
}

/// A URL with its password replaced, for messages and tables.
pub(crate) fn redacted(text: &str) -> String {
    match ::url::Url::parse(text) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => text.to_owned(),
    }
}

impl HostEntry {
    /// How the host is named in tables and JSON: never with a password.
    pub(crate) fn name(&self) -> String {
        match self {
            HostEntry::Address { host, port: None } => host.clone(),
            HostEntry::Address {
                host,
                port: Some(port),
            } if host.contains(':') => format!("[{host}]:{port}"),
            HostEntry::Address {
                host,
                port: Some(port),
            } => format!("{host}:{port}"),
            HostEntry::Url(url) => redacted(url),
            HostEntry::Group(group) => format!("[{group}]"),
        }
    }

    /// The command line's flags with this host laid over them.
    pub(crate) fn flags(&self, shared: &Flags, home: Option<&Path>) -> Result<Flags> {
        let mut flags = shared.clone();
        let own = match self {
            HostEntry::Address { host, port } => Layer {
                host: Some(host.clone()),
                port: *port,
                ..Layer::default()
            },
            HostEntry::Url(text) => url::parse(text)?,
            HostEntry::Group(group) => {
                let options = option_file::load(&shared.defaults, home, &[group.as_str()])?;
                let layer = file_layer(&options)?;
                if layer.host.is_none() && layer.socket.is_none() {
                    bail!("option-file group [{group}] sets no host");
                }
                layer
            }
        };
        // A URL or a group names the whole target, so the shared --url no longer applies; a
        // host named on its own keeps the shared port unless it gives one.
        if !matches!(self, HostEntry::Address { .. }) {
            flags.url = None;
        }
        flags.given = own.over(flags.given);
        Ok(flags)
    }
}

/// The hosts of `--hosts a,b` and `--hosts-file FILE` (one per line; `#` starts a comment).
pub(crate) fn read_hosts(list: &[String], file: Option<&PathBuf>) -> Result<Vec<HostEntry>> {
    let mut entries = Vec::new();
    for item in list {
        entries.push(item.parse().context("--hosts")?);
    }
    if let Some(path) = file {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read --hosts-file {}", path.display()))?;
        for (number, line) in text.lines().enumerate() {
            let line = line.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            entries.push(
                line.parse()
                    .with_context(|| format!("{}:{}", path.display(), number + 1))?,
            );
        }
    }
    let mut seen = std::collections::HashSet::new();
    entries.retain(|e: &HostEntry| seen.insert(e.clone()));
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_are_addresses_urls_or_groups() {
        assert_eq!(
            "db1:3307".parse::<HostEntry>().unwrap(),
            HostEntry::Address {
                host: "db1".into(),
                port: Some(3307)
            }
        );
        assert_eq!(
            "[::1]:3307".parse::<HostEntry>().unwrap(),
            HostEntry::Address {
                host: "::1".into(),
                port: Some(3307)
            }
        );
        assert_eq!(
            "[replicas]".parse::<HostEntry>().unwrap(),
            HostEntry::Group("replicas".into())
        );
        assert!(matches!(
            "mysql://u:secret@db2:3306".parse::<HostEntry>().unwrap(),
            HostEntry::Url(_)
        ));
        for bad in ["", "db1:port", "db1:0", "a b", "user@db"] {
            assert!(bad.parse::<HostEntry>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn no_password_is_ever_printed() {
        let entry: HostEntry = "mysql://u:secret@db2:3306".parse().unwrap();
        assert!(!entry.name().contains("secret"), "{}", entry.name());
        assert!(entry.name().contains("db2:3306"));
    }

    #[test]
    fn a_host_overrides_the_shared_host_and_keeps_the_credentials() {
        let shared = Flags {
            given: Layer {
                host: Some("seed".into()),
                port: Some(3307),
                user: Some("ops".into()),
                password: Some("pw".into()),
                ..Layer::default()
            },
            ..Flags::default()
        };
        let plain: HostEntry = "db1".parse().unwrap();
        let flags = plain.flags(&shared, None).unwrap();
        assert_eq!(flags.given.host.as_deref(), Some("db1"));
        assert_eq!(flags.given.port, Some(3307), "the shared port");
        assert_eq!(flags.given.user.as_deref(), Some("ops"));
        let own: HostEntry = "db2:3310".parse().unwrap();
        assert_eq!(own.flags(&shared, None).unwrap().given.port, Some(3310));
        let url: HostEntry = "mysql://admin:other@db3:3311".parse().unwrap();
        let flags = url.flags(&shared, None).unwrap();
        assert_eq!(flags.given.host.as_deref(), Some("db3"));
        assert_eq!(flags.given.port, Some(3311));
        assert_eq!(flags.given.user.as_deref(), Some("admin"));
        assert_eq!(flags.given.password.as_deref(), Some("other"));
    }

    #[test]
    fn a_hosts_file_has_one_host_a_line_and_comments() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hosts");
        std::fs::write(&path, "# fleet\ndb1\n\ndb2:3307  # replica\ndb1\n").unwrap();
        let hosts = read_hosts(&["db0".into()], Some(&path)).unwrap();
        let names: Vec<String> = hosts.iter().map(HostEntry::name).collect();
        assert_eq!(names, ["db0", "db1", "db2:3307"]);
        std::fs::write(&path, "db1\nnot a host\n").unwrap();
        let error = read_hosts(&[], Some(&path)).unwrap_err();
        assert!(format!("{error:#}").contains(":2"), "{error:#}");
    }
}
