//! Human tables with comfy-table. The only module that knows about comfy-table.

use std::io::{self, Write};

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{ContentArrangement, Table};

use super::{Block, View};

pub(super) fn write(view: View, out: &mut impl Write) -> io::Result<()> {
    for (index, block) in view.blocks.into_iter().enumerate() {
        if index > 0 {
            writeln!(out)?;
        }
        match block {
            Block::Fields { title, fields } => {
                write_title(&title, out)?;
                let width = fields
                    .iter()
                    .map(|(name, _)| name.chars().count())
                    .max()
                    .unwrap_or(0);
                for (name, value) in fields {
                    writeln!(out, "{name:<width$}  {value}")?;
                }
            }
            Block::Table {
                title,
                header,
                rows,
            } => {
                write_title(&title, out)?;
                let mut table = Table::new();
                table
                    .load_style(UTF8_FULL_CONDENSED)
                    .set_content_arrangement(ContentArrangement::Dynamic);
                table.set_header(header);
                // Moved in, and written line by line: 5,000 processlist rows are 60,000 cells.
                table.add_rows(rows);
                for line in table.lines() {
                    writeln!(out, "{line}")?;
                }
            }
            Block::Note(text) => writeln!(out, "{text}")?,
        }
    }
    Ok(())
}

fn write_title(title: &Option<String>, out: &mut impl Write) -> io::Result<()> {
    match title {
        Some(title) => writeln!(out, "{title}"),
        None => Ok(()),
    }
}
