//! The terminal's alternate screen for live views (`watch`, `top`): entered only on a terminal,
//! and left, with the cursor shown again, however the view ends (Ctrl-C, an error, a panic).

use std::io::Write;

use crossterm::terminal::{Clear, ClearType, EnterAlternateScreen, LeaveAlternateScreen};
use crossterm::{cursor, execute, queue};

/// Holds the alternate screen while alive.
pub(crate) struct Screen {
    active: bool,
}

impl Screen {
    /// Enters the alternate screen when `active` (a table on a terminal); otherwise does nothing.
    pub(crate) fn enter(active: bool) -> Screen {
        if active {
            let _ = execute!(std::io::stdout(), EnterAlternateScreen, cursor::Hide);
        }
        Screen { active }
    }

    pub(crate) fn is_active(&self) -> bool {
        self.active
    }

    /// Clears the screen before the next frame, when the screen is ours.
    pub(crate) fn clear(&self, out: &mut impl Write) -> std::io::Result<()> {
        if self.active {
            queue!(out, cursor::MoveTo(0, 0), Clear(ClearType::All))?;
        }
        Ok(())
    }
}

impl Drop for Screen {
    fn drop(&mut self) {
        if self.active {
            let _ = execute!(std::io::stdout(), cursor::Show, LeaveAlternateScreen);
        }
    }
}
