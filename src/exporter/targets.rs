//! The exporter's targets file: the only servers `/probe?target=NAME` will ever connect to.
//!
//! One `NAME = HOST` a line, `#` comments; HOST is anything `--hosts` takes (`host`,
//! `host:port`, a `mysql://` URL, an `[option-file group]`). A multi-target exporter that
//! connected to a host named in the URL would carry its stored credentials wherever a request
//! pointed it (server-side request forgery), so a request can only choose among these names.

use std::path::Path;

use anyhow::{Context, Result, bail};

use crate::connect::targets::HostEntry;

/// One named target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NamedTarget {
    pub name: String,
    pub host: HostEntry,
}

/// Reads and checks the targets file; any mistake is an error naming its line.
pub(crate) fn read(path: &Path) -> Result<Vec<NamedTarget>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read --targets {}", path.display()))?;
    parse(&text).with_context(|| format!("--targets {}", path.display()))
}

fn parse(text: &str) -> Result<Vec<NamedTarget>> {
    let mut targets: Vec<NamedTarget> = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let at = number + 1;
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let Some((name, host)) = line.split_once('=') else {
            bail!("line {at}: expected NAME = HOST, got '{line}'");
        };
        let name = name.trim();
        if !valid_name(name) {
            bail!("line {at}: '{name}' is not a target name (letters, digits, '_', '-', '.')");
        }
        if targets.iter().any(|t| t.name == name) {
            bail!("line {at}: target '{name}' is named twice");
        }
        let host: HostEntry = host.trim().parse().with_context(|| format!("line {at}"))?;
        targets.push(NamedTarget {
            name: name.to_owned(),
            host,
        });
    }
    Ok(targets)
}

/// Names are plain words, so a name can never be mistaken for a host or a URL.
pub(crate) fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_targets_file_names_hosts_urls_and_groups() {
        let targets = parse(
            "# fleet\ndb1 = db1.internal:3307\nreport = mysql://ro:secret@db2/  # replica\n\nold = [legacy]\n",
        )
        .unwrap();
        let names: Vec<&str> = targets.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["db1", "report", "old"]);
        assert_eq!(targets[2].host, HostEntry::Group("legacy".into()));
    }

    #[test]
    fn mistakes_name_their_line() {
        for (text, says) in [
            ("db1\n", "line 1: expected NAME = HOST"),
            (
                "ok = db1\nbad/name = db2\n",
                "line 2: 'bad/name' is not a target name",
            ),
            ("a = db1\na = db2\n", "line 2: target 'a' is named twice"),
            ("a = not a host\n", "line 1"),
        ] {
            let error = format!("{:#}", parse(text).unwrap_err());
            assert!(error.contains(says), "{text:?}: {error}");
        }
    }

    #[test]
    fn names_cannot_look_like_hosts_or_urls() {
        for bad in ["", "db1:3306", "mysql://db1", "a b", "user@db1", "[group]"] {
            assert!(!valid_name(bad), "{bad:?}");
        }
        assert!(valid_name("db1.eu-west-1"));
    }
}
