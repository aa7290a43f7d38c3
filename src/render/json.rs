//! JSON: the report struct itself, pretty-printed, one document followed by a newline.

use std::io::{self, Write};

use serde::Serialize;

pub(super) fn write(report: &impl Serialize, out: &mut impl Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, report).map_err(io::Error::from)?;
    out.write_all(b"\n")
}
