//! The terminal's alternate screen for live views (`watch`, `top`): entered only on a terminal,
//! and left, with the cursor shown again, however the view ends (Ctrl-C, an error, a panic).

use std::io::Write;

/// Holds the alternate screen while alive.
pub(crate) struct Screen {
    active: bool,
}

impl Screen {
    /// Enters the alternate screen when `active` (a table on a terminal); otherwise does nothing.
    pub(crate) fn enter(active: bool) -> Screen {
        if active {
            print!("\x1b[?1049h\x1b[?25l");
            let _ = std::io::stdout().flush();
        }
        Screen { active }
    }

    pub(crate) fn is_active(&self) -> bool {
        self.active
    }

    /// Clears the screen before the next frame, when the screen is ours.
    pub(crate) fn clear(&self, out: &mut impl Write) -> std::io::Result<()> {
        if self.active {
            write!(out, "\x1b[H\x1b[2J")?;
        }
        Ok(())
    }
}

impl Drop for Screen {
    fn drop(&mut self) {
        if self.active {
            print!("\x1b[?25h\x1b[?1049l");
            let _ = std::io::stdout().flush();
        }
    }
}
