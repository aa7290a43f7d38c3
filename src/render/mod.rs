//! Renderers: a report is a plain serializable struct that also describes itself as a [`View`];
//! the table renderer draws the view, the JSON renderer serializes the struct. Both write to any
//! `impl Write`, so tests render into a buffer.

pub(crate) mod graph;
mod json;
pub(crate) mod junit;
pub(crate) mod screen;
mod table;
pub(crate) mod timeline;

use std::io::{self, Write};

use serde::Serialize;

/// How reports are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Human-readable tables.
    Table,
    /// One JSON document on stdout.
    Json,
    /// JUnit XML, one test case per check (`check` only).
    Junit,
    /// Graphviz DOT (`locks` only): `mytriage locks --format dot | dot -Tsvg > locks.svg`.
    Dot,
}

/// How a human view is drawn: chosen by the command line and the terminal, never part of the
/// report's data.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct ViewOptions {
    /// Statements whole rather than cut to one line (`--full`).
    pub full: bool,
    /// Colour verdicts (stdout is a terminal and `NO_COLOR` is unset).
    pub color: bool,
}

/// A report that can be rendered as a table or as JSON.
pub(crate) trait Report: Serialize {
    /// The human view of the report.
    fn view(&self, options: &ViewOptions) -> View;

    /// The report as a graph, for `--format dot`: only reports that are graphs have one.
    fn graph(&self) -> Option<graph::Graph> {
        None
    }
}

/// What a human table shows, as plain data: comfy-table only appears in the table renderer.
#[derive(Debug, Default)]
pub(crate) struct View {
    pub blocks: Vec<Block>,
}

/// One piece of a human view.
#[derive(Debug)]
pub(crate) enum Block {
    /// Name/value pairs, one per line.
    Fields {
        title: Option<String>,
        fields: Vec<(String, String)>,
    },
    /// A table with a header row.
    Table {
        title: Option<String>,
        header: Vec<String>,
        rows: Vec<Vec<String>>,
    },
    /// A line of text, such as a warning.
    Note(String),
}

/// Renders a report in the chosen format.
pub(crate) fn render(
    report: &impl Report,
    format: Format,
    options: &ViewOptions,
    out: &mut impl Write,
) -> io::Result<()> {
    match format {
        Format::Json => json::write(report, out),
        Format::Table => table::write(report.view(options), out),
        // The plan refuses it for every other command before anything connects.
        Format::Junit => Err(io::Error::other("--format junit is for check only")),
        // The command line refuses `--format dot` for other commands before anything runs.
        Format::Dot => match report.graph() {
            Some(graph) => out.write_all(graph.to_dot().as_bytes()),
            None => Err(io::Error::other(
                "--format dot draws the blocker tree: use it with `locks`",
            )),
        },
    }
}

/// `yes`/`no` for table cells.
pub(crate) fn yes_no(value: bool) -> String {
    if value { "yes" } else { "no" }.to_owned()
}

/// Width of a statement in a table cell unless `--full` is given.
const STATEMENT_WIDTH: usize = 60;

/// A statement for a table cell: whole with `--full`, otherwise one line cut to a readable width.
pub(crate) fn clip(statement: &str, full: bool) -> String {
    if full {
        return statement.to_owned();
    }
    let one_line: String = statement.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() <= STATEMENT_WIDTH {
        one_line
    } else {
        let cut: String = one_line.chars().take(STATEMENT_WIDTH - 1).collect();
        format!("{cut}…")
    }
}

/// What a session runs now, or `last: …` what it ran last when it runs nothing; empty when
/// neither is known.
pub(crate) fn now_or_last(statement: Option<&str>, last: Option<&str>, full: bool) -> String {
    match (statement, last) {
        (Some(now), _) => clip(now, full),
        (None, Some(last)) => format!("last: {}", clip(last, full)),
        (None, None) => String::new(),
    }
}

/// `user@host` as listings show an account: the host without its port, `?` for what is unknown.
pub(crate) fn account(user: Option<&str>, host: Option<&str>) -> String {
    format!(
        "{}@{}",
        user.unwrap_or("?"),
        host.map(strip_port).unwrap_or("?")
    )
}

/// `host:port` → `host`, as processlist hosts are shown in tables (IPv6 addresses are left whole).
pub(crate) fn strip_port(host: &str) -> &str {
    match host.rsplit_once(':') {
        Some((name, port))
            if !name.contains(':')
                && !port.is_empty()
                && port.chars().all(|c| c.is_ascii_digit()) =>
        {
            name
        }
        _ => host,
    }
}

/// The serde name of a unit enum value, so the table shows what the JSON shows.
pub(crate) fn serde_label(value: &impl Serialize) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(text)) => text,
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clip_shortens_and_flattens() {
        assert_eq!(clip("SELECT 1\n  FROM t", false), "SELECT 1 FROM t");
        let long = "x".repeat(100);
        assert_eq!(clip(&long, false).chars().count(), STATEMENT_WIDTH);
        assert_eq!(clip(&long, true), long);
    }
}
