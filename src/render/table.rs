//! Human tables with comfy-table. The only module that knows about comfy-table.

use std::io::{self, Write};

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{ColumnConstraint, ContentArrangement, LineStyle, Table, Width};
use unicode_width::UnicodeWidthStr;

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
                    .map(|(name, _)| visible_width(name))
                    .max()
                    .unwrap_or(0);
                for (name, value) in fields {
                    let pad = width - visible_width(&name);
                    writeln!(out, "{name}{:pad$}  {value}", "")?;
                }
            }
            Block::Table {
                title,
                header,
                rows,
            } => {
                write_title(&title, out)?;
                write_table(header, rows, out)?;
            }
            Block::Note(text) => writeln!(out, "{text}")?,
        }
    }
    Ok(())
}

/// Rows per part when a long table is written in parts.
const PART_ROWS: usize = 256;

/// One comfy-table. A long table bound for a pipe or file (no terminal width to fit) is written in
/// parts of [`PART_ROWS`] with the columns fixed to their widths over all rows, so the output is
/// the same but only one part is formatted in memory at a time: 5,000 processlist rows are 60,000
/// cells, and formatting them at once spent about half of its CPU time on page faults.
fn write_table(
    header: Vec<String>,
    rows: Vec<Vec<String>>,
    out: &mut impl Write,
) -> io::Result<()> {
    let mut table = new_table(UTF8_FULL_CONDENSED);
    if rows.len() <= PART_ROWS || table.width().is_some() {
        table.set_header(header);
        table.add_rows(rows);
        return write_lines(&table, out);
    }
    let widths = content_widths(&header, &rows);
    let parts = rows.len().div_ceil(PART_ROWS);
    let mut rows = rows.into_iter();
    for part in 0..parts {
        let mut style = UTF8_FULL_CONDENSED;
        if part > 0 {
            style = style.top_border(LineStyle::none());
        }
        if part + 1 < parts {
            style = style.bottom_border(LineStyle::none());
        }
        let mut table = new_table(style);
        if part == 0 {
            table.set_header(header.clone());
        }
        table.add_rows(rows.by_ref().take(PART_ROWS));
        for (column, width) in table.column_iter_mut().zip(&widths) {
            // Fixed widths count the padding of one space on each side.
            column.set_constraint(ColumnConstraint::Absolute(Width::Fixed(width + 2)));
        }
        write_lines(&table, out)?;
    }
    Ok(())
}

fn new_table(style: comfy_table::TableStyle) -> Table {
    let mut table = Table::new();
    table
        .load_style(style)
        .set_content_arrangement(ContentArrangement::Dynamic);
    table
}

fn write_lines(table: &Table, out: &mut impl Write) -> io::Result<()> {
    for line in table.lines() {
        writeln!(out, "{line}")?;
    }
    Ok(())
}

/// Each column's widest line, measured as comfy-table measures it.
fn content_widths(header: &[String], rows: &[Vec<String>]) -> Vec<u16> {
    let mut widths = vec![0u16; header.len()];
    for row in std::iter::once(header).chain(rows.iter().map(Vec::as_slice)) {
        if widths.len() < row.len() {
            widths.resize(row.len(), 0);
        }
        for (width, cell) in widths.iter_mut().zip(row) {
            let widest = cell
                .split('\n')
                .map(UnicodeWidthStr::width)
                .max()
                .unwrap_or(0);
            *width = (*width).max(u16::try_from(widest).unwrap_or(u16::MAX));
        }
    }
    widths
}

fn write_title(title: &Option<String>, out: &mut impl Write) -> io::Result<()> {
    match title {
        Some(title) => writeln!(out, "{title}"),
        None => Ok(()),
    }
}

/// Columns a name takes on the terminal: its characters, less the colour codes (`ESC [ … m`)
/// a verdict is painted with.
fn visible_width(text: &str) -> usize {
    let mut width = 0;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            chars.by_ref().find(|c| c.is_ascii_alphabetic());
        } else {
            width += 1;
        }
    }
    width
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_codes_take_no_width() {
        let painted = crate::workflow::status::paint(crate::verdict::Verdict::Crit, true);
        assert_eq!(visible_width(&format!("{painted} blockers")), 13);
        assert_eq!(visible_width("OK    connections"), 17);
    }

    fn sample(rows: usize) -> (Vec<String>, Vec<Vec<String>>) {
        let header = ["pid", "user", "statement"].map(str::to_owned).to_vec();
        let rows = (0..rows)
            .map(|i| {
                vec![
                    i.to_string(),
                    // Wide and combining characters, a line break, and an empty cell.
                    ["app", "한국어 사용자", "e\u{301}te", ""][i % 4].to_owned(),
                    if i == 700 {
                        "SELECT 1\nFROM dual".to_owned()
                    } else {
                        "x".repeat(i % 37)
                    },
                ]
            })
            .collect();
        (header, rows)
    }

    #[test]
    fn a_table_written_in_parts_is_the_same_table() {
        let (header, rows) = sample(PART_ROWS * 3 + 17);
        let mut whole = new_table(UTF8_FULL_CONDENSED);
        whole.set_header(header.clone());
        whole.add_rows(rows.clone());
        assert!(whole.width().is_none(), "tests do not run on a terminal");
        let mut expected = Vec::new();
        write_lines(&whole, &mut expected).unwrap();

        let mut parts = Vec::new();
        write_table(header, rows, &mut parts).unwrap();
        assert_eq!(
            String::from_utf8(parts).unwrap(),
            String::from_utf8(expected).unwrap()
        );
    }
}
