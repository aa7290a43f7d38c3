//! Human tables with comfy-table. The only module that knows about comfy-table.

use std::io::{self, Write};

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{ContentArrangement, Table};

use super::{Block, View};

pub(super) fn write(view: &View, out: &mut impl Write) -> io::Result<()> {
    for (index, block) in view.blocks.iter().enumerate() {
        if index > 0 {
            writeln!(out)?;
        }
        match block {
            Block::Fields { title, fields } => {
                write_title(title, out)?;
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
                write_title(title, out)?;
                let mut table = Table::new();
                table
                    .load_style(UTF8_FULL_CONDENSED)
                    .set_content_arrangement(ContentArrangement::Dynamic);
                table.set_header(header);
                for row in rows {
                    table.add_row(row);
                }
                writeln!(out, "{table}")?;
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
