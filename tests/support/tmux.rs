//! A real terminal for a test: a program started in a detached `tmux` session of a given size,
//! driven with `send-keys` and read with `capture-pane`, for what only a terminal can show (the
//! console's keys, its screen, the terminal given back on quit).
//!
//! Every [`Terminal`] has a tmux server of its own, on a socket in a directory the caller owns,
//! so parallel tests never share a server, and a user's `~/.tmux.conf` is never read. Dropped, it
//! kills its server, and with it the program, however the test ended.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};

/// The one session (and window, and pane) of a terminal's server.
const SESSION: &str = "test";

/// How long after each key the next one waits. An Esc followed at once by another key would be
/// read as Alt+key; one key at a time also lets the program draw between keys.
const KEY_PAUSE: Duration = Duration::from_millis(60);

/// How often [`Terminal::wait_for`] looks at the screen again.
const POLL: Duration = Duration::from_millis(100);

/// Whether tmux can be run here. Under CI (`CI=true`) its absence is a failure, not a skip: the
/// project's scripts install it (`scripts/testdb tools`).
pub fn available() -> bool {
    let found = std::process::Command::new("tmux")
        .arg("-V")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "tmux is not installed but CI=true: scripts/test installs it with scripts/testdb tools"
        );
        eprintln!("skipping terminal test: tmux is not installed (scripts/testdb tools)");
    }
    found
}

/// A program running in a tmux pane of `width` × `height`.
pub struct Terminal {
    socket: PathBuf,
    /// Extra files to remove when the terminal goes, such as a drill pause file the program waits
    /// on: a test that failed must not leave it behind.
    remove_on_drop: Vec<PathBuf>,
}

impl Terminal {
    /// Starts `program` with `args` in a pane of `width` × `height`, its environment the test's
    /// less `remove_env`, plus `env`. The pane stays (dead) after the program exits, so a test can
    /// read its last screen and exit status. `dir` holds the socket and the configuration.
    pub async fn start(
        dir: &Path,
        (width, height): (u16, u16),
        program: &OsStr,
        args: &[OsString],
        env: &[(OsString, OsString)],
        remove_env: &[OsString],
    ) -> Result<Terminal> {
        let socket = dir.join("tmux.sock");
        let config = dir.join("tmux.conf");
        // No status line (the pane is the whole window), and the pane kept once its program ends.
        std::fs::write(&config, "set -g status off\nset -g remain-on-exit on\n")
            .context("writing the tmux configuration")?;
        let terminal = Terminal {
            socket,
            remove_on_drop: Vec::new(),
        };
        let mut command = terminal.command();
        command.arg("-f").arg(&config);
        command.args(["new-session", "-d", "-s", SESSION]).args([
            "-x",
            &width.to_string(),
            "-y",
            &height.to_string(),
        ]);
        for (key, value) in env {
            let mut pair = key.clone();
            pair.push("=");
            pair.push(value);
            command.arg("-e").arg(pair);
        }
        // The server copies the environment of the client that starts it.
        for key in remove_env {
            command.env_remove(key);
        }
        // More than one argument: tmux runs the program itself, with no shell to quote for.
        command.arg("--").arg(program).args(args);
        let output = command.output().await.context("running tmux new-session")?;
        ensure!(
            output.status.success(),
            "tmux new-session: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        Ok(terminal)
    }

    /// `tmux -S SOCKET`, for one command of this terminal's server.
    fn command(&self) -> tokio::process::Command {
        let mut command = tokio::process::Command::new("tmux");
        command
            .arg("-S")
            .arg(&self.socket)
            .stdin(Stdio::null())
            .kill_on_drop(true);
        command
    }

    /// Runs one tmux command and returns its stdout.
    async fn tmux<S: AsRef<OsStr>>(&self, args: impl IntoIterator<Item = S>) -> Result<String> {
        let mut command = self.command();
        command.args(args);
        let output = command.output().await.context("running tmux")?;
        if !output.status.success() {
            bail!("tmux: {}", String::from_utf8_lossy(&output.stderr).trim());
        }
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }

    /// Removes `path` when the terminal is dropped (if it is still there).
    pub fn remove_on_drop(&mut self, path: &Path) {
        self.remove_on_drop.push(path.to_owned());
    }

    /// Presses keys, one at a time: tmux key names (`Enter`, `Escape`, `Up`, `Down`, `PageDown`,
    /// `Home`, `End`, `C-c`) or single characters (`k`, `?`, `2`).
    pub async fn press(&self, keys: &[&str]) -> Result<()> {
        for key in keys {
            self.tmux(["send-keys", "-t", SESSION, key]).await?;
            tokio::time::sleep(KEY_PAUSE).await;
        }
        Ok(())
    }

    /// Types text literally, one character at a time.
    pub async fn type_text(&self, text: &str) -> Result<()> {
        for c in text.chars() {
            self.tmux(["send-keys", "-t", SESSION, "-l", &c.to_string()])
                .await?;
            tokio::time::sleep(KEY_PAUSE).await;
        }
        Ok(())
    }

    /// The screen as text, one line per row, trailing blanks trimmed.
    pub async fn screen(&self) -> Result<String> {
        self.tmux(["capture-pane", "-p", "-t", SESSION]).await
    }

    /// The screen with the lines scrolled off above it, oldest first.
    pub async fn screen_and_history(&self) -> Result<String> {
        self.tmux(["capture-pane", "-p", "-S", "-", "-t", SESSION])
            .await
    }

    /// The screen with its attributes as escape sequences (`-e`), to see which row is selected
    /// (reverse video).
    pub async fn styled_screen(&self) -> Result<String> {
        self.tmux(["capture-pane", "-p", "-e", "-t", SESSION]).await
    }

    /// A tmux format of the pane, e.g. `#{pane_dead}` or `#{alternate_on}`.
    pub async fn pane(&self, format: &str) -> Result<String> {
        Ok(self
            .tmux(["display-message", "-p", "-t", SESSION, format])
            .await?
            .trim()
            .to_owned())
    }

    /// The exit status of the pane's program once it has ended, `None` while it runs.
    pub async fn exit_status(&self) -> Result<Option<i32>> {
        let state = self.pane("#{pane_dead} #{pane_dead_status}").await?;
        match state.split_once(' ') {
            Some(("1", status)) => Ok(Some(status.parse().unwrap_or(-1))),
            _ => Ok(None),
        }
    }

    /// Resizes the window (and its one pane).
    pub async fn resize(&self, (width, height): (u16, u16)) -> Result<()> {
        self.tmux([
            "resize-window",
            "-t",
            SESSION,
            "-x",
            &width.to_string(),
            "-y",
            &height.to_string(),
        ])
        .await?;
        Ok(())
    }

    /// Waits until `ready` holds for the screen, for up to `limit`, and returns that screen. On
    /// a timeout the error holds the last screen, so a failure shows what the terminal showed.
    pub async fn wait_for(
        &self,
        what: &str,
        limit: Duration,
        mut ready: impl FnMut(&str) -> bool,
    ) -> Result<String> {
        let started = Instant::now();
        loop {
            let screen = self.screen().await?;
            if ready(&screen) {
                return Ok(screen);
            }
            if started.elapsed() > limit {
                let exited = match self.exit_status().await {
                    Ok(Some(status)) => format!(" (the program exited with {status})"),
                    _ => String::new(),
                };
                let screen = screen.trim_end();
                bail!(
                    "never on the screen within {limit:?}: {what}{exited}; last screen:\n{screen}"
                );
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// [`Terminal::wait_for`] some text.
    pub async fn wait_for_text(&self, text: &str, limit: Duration) -> Result<String> {
        self.wait_for(&format!("{text:?}"), limit, |screen| screen.contains(text))
            .await
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        for path in &self.remove_on_drop {
            let _ = std::fs::remove_file(path);
        }
        // Synchronous: a drop cannot wait. Killing the server hangs up the pane's program.
        let _ = std::process::Command::new("tmux")
            .arg("-S")
            .arg(&self.socket)
            .arg("kill-server")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}
