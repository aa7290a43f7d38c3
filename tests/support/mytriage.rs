//! The built `mytriage` binary as a test runs it: one builder for every way a test starts it.
//!
//! Every run is hermetic: option files are off (`--no-defaults`, unless [`Mytriage::bare`]), the
//! caller's connection variables (`MYTRIAGE_URL`, `MYSQL_PWD`, `MYSQL_HOST`) are removed, the login
//! path file (read even under `--no-defaults`, as by mysql) is one that does not exist unless the
//! test sets `MYSQL_TEST_LOGIN_FILE`, and stdin is empty unless [`Mytriage::stdin`] gives it
//! something.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use super::tmux::Terminal;

/// Environment variables a developer's shell may hold that would change what a run connects to.
const CONNECTION_ENV: [&str; 3] = ["MYTRIAGE_URL", "MYSQL_PWD", "MYSQL_HOST"];

/// One run of the built binary: `Mytriage::new(url).args(["locks"]).json()`.
#[derive(Clone, Debug)]
pub struct Mytriage {
    /// Arguments before the command's own: `--no-defaults`, `--url URL`.
    global: Vec<OsString>,
    args: Vec<OsString>,
    envs: Vec<(OsString, OsString)>,
    stdin: Option<Vec<u8>>,
}

impl Mytriage {
    /// Against a server: `mytriage --no-defaults --url URL ...`.
    pub fn new(url: &str) -> Self {
        Self::offline().global(["--url", url])
    }

    /// No server named: for usage errors, connection flags given by the test, and the commands
    /// that read only the evidence log (`incident`, `report`, `top --replay`).
    pub fn offline() -> Self {
        Self::bare().global(["--no-defaults"])
    }

    /// No arguments at all, so option files are read as in a user's own run (`--help`,
    /// `--defaults-file`).
    pub fn bare() -> Self {
        Mytriage {
            global: Vec::new(),
            args: Vec::new(),
            envs: Vec::new(),
            stdin: None,
        }
    }

    /// The path of the built binary.
    pub fn program() -> PathBuf {
        assert_cmd::cargo::cargo_bin("mytriage")
    }

    fn global<S: AsRef<OsStr>>(mut self, args: impl IntoIterator<Item = S>) -> Self {
        self.global
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    pub fn args<S: AsRef<OsStr>>(mut self, args: impl IntoIterator<Item = S>) -> Self {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Self {
        self.envs
            .push((key.as_ref().to_owned(), value.as_ref().to_owned()));
        self
    }

    /// What the run reads on stdin (empty without this).
    pub fn stdin(mut self, input: impl Into<Vec<u8>>) -> Self {
        self.stdin = Some(input.into());
        self
    }

    /// The process to start, stdin empty; for [`Mytriage::stdin`], use [`Mytriage::output`].
    pub fn command(&self) -> Command {
        let mut command = Command::new(Self::program());
        command
            .args(&self.global)
            .args(&self.args)
            .stdin(Stdio::null());
        for key in CONNECTION_ENV {
            command.env_remove(key);
        }
        command.env(
            "MYSQL_TEST_LOGIN_FILE",
            "/nonexistent/mytriage-tests/.mylogin.cnf",
        );
        command.envs(self.envs.iter().map(|(k, v)| (k, v)));
        command
    }

    /// [`Mytriage::command`] for tokio, to read a streaming command's lines as they come.
    pub fn tokio_command(&self) -> tokio::process::Command {
        self.command().into()
    }

    /// Started with stdout and stderr piped, for a test that acts while it runs.
    pub fn spawn(&self) -> Child {
        self.command()
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start mytriage")
    }

    /// [`Mytriage::spawn`] for tokio.
    pub fn spawn_async(&self) -> tokio::process::Child {
        self.tokio_command()
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start mytriage")
    }

    /// Runs to the end and returns what it did, whatever the exit code.
    pub fn output(&self) -> Output {
        let Some(input) = &self.stdin else {
            return self.command().output().expect("run mytriage");
        };
        let mut child = self
            .command()
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start mytriage");
        let mut stdin = child.stdin.take().expect("piped stdin");
        let input = input.clone();
        // A thread of its own, so a child that writes before it reads cannot block on us.
        let writer = std::thread::spawn(move || std::io::Write::write_all(&mut stdin, &input));
        let output = child.wait_with_output().expect("run mytriage");
        let _ = writer.join();
        output
    }

    /// Runs to the end, asserting the exit code (stderr in the message), and returns the output.
    pub fn expect_code(&self, code: i32) -> Output {
        let output = self.output();
        assert_eq!(
            output.status.code(),
            Some(code),
            "mytriage {:?}: {}",
            self.args,
            String::from_utf8_lossy(&output.stderr)
        );
        output
    }

    /// The run as an `assert_cmd` assertion, for chains such as `.assert().code(2).stderr(...)`.
    pub fn assert(&self) -> assert_cmd::assert::Assert {
        assert_cmd::Command::from_std(self.command()).assert()
    }

    /// Runs with `--format json` and parses stdout. Exit codes 0 and 1 (findings) are success;
    /// anything else panics with stderr.
    pub fn json(&self) -> serde_json::Value {
        let mut run = self.clone();
        run.global.extend(["--format".into(), "json".into()]);
        let output = run.output();
        assert!(
            output.status.code().is_some_and(|code| code <= 1),
            "mytriage {:?}: {}",
            self.args,
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_slice(&output.stdout).expect("stdout is JSON")
    }

    /// [`Mytriage::output`] off the async runtime, so the test's own tasks (scenario sessions,
    /// a proxy) keep running meanwhile.
    pub async fn output_async(self) -> Output {
        tokio::task::spawn_blocking(move || self.output())
            .await
            .expect("mytriage task")
    }

    /// Started in a real terminal of `size` (columns, rows): a tmux pane running the same program,
    /// arguments and environment as [`Mytriage::command`], then, in the same terminal, the shell
    /// snippet `after` (`$status` holds mytriage's exit status, which the pane then exits with).
    /// `dir` holds the terminal's socket.
    pub async fn terminal(
        &self,
        dir: &Path,
        size: (u16, u16),
        after: &str,
    ) -> anyhow::Result<Terminal> {
        let command = self.command();
        let script = format!("\"$0\" \"$@\"; status=$?; {after}; exit $status");
        let mut args: Vec<OsString> = vec!["-c".into(), script.into(), Self::program().into()];
        args.extend(command.get_args().map(OsStr::to_owned));
        let (mut set, mut removed) = (Vec::new(), Vec::new());
        for (key, value) in command.get_envs() {
            match value {
                Some(value) => set.push((key.to_owned(), value.to_owned())),
                None => removed.push(key.to_owned()),
            }
        }
        Terminal::start(dir, size, OsStr::new("sh"), &args, &set, &removed).await
    }

    /// [`Mytriage::json`] off the async runtime.
    pub async fn json_async(self) -> serde_json::Value {
        tokio::task::spawn_blocking(move || self.json())
            .await
            .expect("mytriage task")
    }
}
