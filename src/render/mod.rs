//! Renderers: a report is a plain serializable struct that also describes itself as a [`View`];
//! the table renderer draws the view, the JSON renderer serializes the struct. Both write to any
//! `impl Write`, so tests render into a buffer.

mod json;
mod table;

use std::io::{self, Write};

use serde::Serialize;

use crate::cli::Format;

/// A report that can be rendered as a table or as JSON.
pub(crate) trait Report: Serialize {
    /// The human view of the report.
    fn view(&self) -> View;
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
pub(crate) fn render(report: &impl Report, format: Format, out: &mut impl Write) -> io::Result<()> {
    match format {
        Format::Json => json::write(report, out),
        Format::Table => table::write(&report.view(), out),
    }
}

/// `yes`/`no` for table cells.
pub(crate) fn yes_no(value: bool) -> String {
    if value { "yes" } else { "no" }.to_owned()
}
