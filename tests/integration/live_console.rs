//! `mytriage console` in a real terminal, on every test server: each test starts it in a tmux pane
//! (`support::tmux`) against a real incident, presses keys with `send-keys` and reads the screen
//! with `capture-pane`. The blocker tree with the idle root (and not the older decoy), the kill
//! from the tree with its snapshot on disk before the session dies (the drill hook holds the kill
//! between the two), the plan of a running statement, the keys while the server hangs, the
//! layout after a resize, and the terminal given back on quit.
//!
//! The servers run at once, each in its own terminal; every test cleans up its incident and its
//! terminal however it ends, and the hang is made by freezing the console's own connection in a
//! proxy, so the shared servers never stop and the tests run beside the others.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use futures_util::FutureExt;
use mysql_async::prelude::*;
use serde_json::Value;

use crate::support::proxy::Proxy;
use crate::support::tmux::{self, Terminal};
use crate::support::{self, Mytriage, TestServer, scenarios};

const PAUSE_ENV: &str = "MYTRIAGE_PAUSE_BEFORE_KILL";

/// How long the screen may take to show what a step expects: a few samples at `--interval 1s`.
const SCREEN: Duration = Duration::from_secs(15);

/// Wide enough for the blocker tree's statement column to hold the scenario's table name, and tall
/// enough that the incidents of tests running beside (a 50-session pile-up or two, ordered before
/// ours as they hold up more) leave ours on the screen.
const TALL: (u16, u16) = (160, 150);
/// The smallest terminal the console is made for.
const SMALL: (u16, u16) = (80, 24);

/// What the pane shows once the console has exited: its status, then the terminal's modes, then
/// the shell waits, so the test reads the terminal as the console left it (a pane whose program
/// has ended no longer shows its cursor).
const AFTER_EXIT: &str =
    "echo \"console exited with $status\"; stty -a; echo \"$AFTER_MARK\"; sleep 60";

/// The line [`AFTER_EXIT`] ends with.
const AFTER_MARK: &str = "(the terminal after the console)";

/// The console in a terminal of its own, with its evidence log and drill pause file in a
/// temporary directory (dropped last, after the terminal).
struct Console {
    terminal: Terminal,
    evidence: PathBuf,
    pause: PathBuf,
    _dir: tempfile::TempDir,
}

impl Console {
    /// `mytriage --url URL console --interval 1s --evidence DIR/evidence.jsonl` in a `size` pane,
    /// without colour, with its state under DIR and the drill hook armed.
    async fn start(url: &str, size: (u16, u16)) -> Result<Console> {
        let dir = tempfile::tempdir().context("temporary directory")?;
        let evidence = dir.path().join("evidence.jsonl");
        let pause = dir.path().join("paused-before-kill");
        let mut terminal = Mytriage::new(url)
            .args(["console", "--interval", "1s", "--evidence"])
            .arg(&evidence)
            .env("NO_COLOR", "1")
            .env("XDG_STATE_HOME", dir.path())
            .env(PAUSE_ENV, &pause)
            .env("AFTER_MARK", AFTER_MARK)
            .terminal(dir.path(), size, AFTER_EXIT)
            .await?;
        terminal.remove_on_drop(&pause);
        let console = Console {
            terminal,
            evidence,
            pause,
            _dir: dir,
        };
        // The first sample is drawn: the header names the server.
        console
            .terminal
            .wait_for("the first sample", SCREEN, |screen| {
                screen.contains(" on ") && screen.contains(" 1 Blockers ")
            })
            .await?;
        Ok(console)
    }

    async fn press(&self, keys: &[&str]) -> Result<()> {
        self.terminal.press(keys).await
    }

    async fn wait_for(&self, what: &str, ready: impl FnMut(&str) -> bool) -> Result<String> {
        self.terminal.wait_for(what, SCREEN, ready).await
    }

    async fn wait_for_text(&self, text: &str) -> Result<String> {
        self.terminal.wait_for_text(text, SCREEN).await
    }

    /// The evidence log's records.
    fn records(&self) -> Result<Vec<Value>> {
        let text = match std::fs::read_to_string(&self.evidence) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(e).context("reading the evidence log"),
        };
        text.lines()
            .map(|line| serde_json::from_str(line).context("an evidence line that is not JSON"))
            .collect()
    }

    /// Moves the blocker tree's selection to `pid`. Sampling must be paused, so the rows hold
    /// still while the keys move down them.
    async fn select(&self, pid: u64) -> Result<()> {
        self.press(&["Home"]).await?;
        for _ in 0..40 {
            let styled = self.terminal.styled_screen().await?;
            let plain: Vec<String> = styled.lines().map(strip_styles).collect();
            let rows = tree_rows(&plain.join("\n"));
            let selected = rows
                .iter()
                .find(|row| styled.lines().nth(row.line).is_some_and(reversed));
            let target = rows.iter().find(|row| row.pid == pid);
            match (selected, target) {
                (Some(selected), _) if selected.pid == pid => return Ok(()),
                (Some(selected), Some(target)) => {
                    let key = if target.line > selected.line {
                        "Down"
                    } else {
                        "Up"
                    };
                    let steps = target.line.abs_diff(selected.line);
                    self.press(&vec![key; steps]).await?;
                }
                // Not on this page of the tree: the next one.
                (Some(_), None) => self.press(&["PageDown"]).await?,
                (None, _) => bail!("no row is selected:\n{}", plain.join("\n")),
            }
        }
        bail!("could not select session {pid} in the tree")
    }

    /// Quits with `key` and checks that the terminal is given back: the console exited with 0,
    /// the alternate screen is left, the cursor shows, and the line discipline is cooked again
    /// (echo and canonical input, as `stty -a` run after it in the same terminal prints).
    async fn quit_with(&self, key: &str) -> Result<()> {
        self.press(&[key]).await?;
        let started = Instant::now();
        // What the shell printed after the console may have scrolled the first line off.
        let screen = loop {
            let screen = self.terminal.screen_and_history().await?;
            if screen.contains(AFTER_MARK) {
                break screen;
            }
            if started.elapsed() > SCREEN {
                bail!("the console did not quit on {key}:\n{screen}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        ensure!(
            screen.contains("console exited with 0"),
            "the console's exit status, as the shell after it saw it:\n{screen}"
        );
        let modes: Vec<&str> = screen.split_whitespace().collect();
        for mode in ["icanon", "echo", "isig"] {
            ensure!(
                modes.contains(&mode) && !modes.contains(&format!("-{mode}").as_str()),
                "{mode} is not restored (raw mode left on):\n{screen}"
            );
        }
        ensure!(
            !screen.contains("mytriage console"),
            "the console's screen is still shown:\n{screen}"
        );
        let pane = self.terminal.pane("#{alternate_on} #{cursor_flag}").await?;
        ensure!(
            pane == "0 1",
            "alternate screen and cursor flags after quitting: {pane}"
        );
        Ok(())
    }
}

/// The text of `row` under the column `name` of the table `header`: from where the name starts
/// to where the next column's name starts (the columns are laid out as the header is).
fn cell(header: &str, row: &str, name: &str) -> String {
    let header: Vec<char> = header.chars().collect();
    let row: Vec<char> = row.chars().collect();
    let name: Vec<char> = name.chars().collect();
    let Some(start) = header
        .windows(name.len())
        .position(|w| w == name.as_slice())
    else {
        return String::new();
    };
    // The next column starts after the first run of blanks past this name.
    let mut end = start + name.len();
    while end < header.len() && header[end] != ' ' {
        end += 1;
    }
    while end < header.len() && header[end] == ' ' {
        end += 1;
    }
    let end = if end >= header.len() { row.len() } else { end };
    row.get(start.min(row.len())..end.min(row.len()))
        .map(|c| c.iter().collect::<String>().trim().to_owned())
        .unwrap_or_default()
}

/// One row of the blocker tree as the screen shows it.
#[derive(Debug)]
struct TreeRow {
    /// Which line of the screen.
    line: usize,
    depth: usize,
    pid: u64,
    text: String,
    /// The table's header line, to read the row's cells with [`TreeRow::cell`].
    header: String,
}

impl TreeRow {
    fn cell(&self, name: &str) -> String {
        cell(&self.header, &self.text, name)
    }
}

/// The rows of the blocker tree on the screen: the lines under its `PID` header whose first
/// cell (indent, a marker, the pid) is a session.
fn tree_rows(screen: &str) -> Vec<TreeRow> {
    let lines: Vec<&str> = screen.lines().collect();
    let Some(header) = lines
        .iter()
        .position(|l| l.starts_with("PID ") && l.contains("WAITS FOR"))
    else {
        return Vec::new();
    };
    let mut rows = Vec::new();
    for (line, text) in lines.iter().enumerate().skip(header + 1) {
        let indent = text.len() - text.trim_start().len();
        let rest = text.trim_start();
        let (depth, rest) = match rest.strip_prefix(['▾', '▸', '?']) {
            Some(rest) => (indent / 2, rest.trim_start()),
            // A session with no waiters has a blank marker: two more spaces.
            None => (indent.saturating_sub(2) / 2, rest),
        };
        let Some(pid) = rest
            .split_whitespace()
            .next()
            .and_then(|cell| cell.parse().ok())
        else {
            break; // below the rows: the footer
        };
        rows.push(TreeRow {
            line,
            depth,
            pid,
            text: text.to_string(),
            header: lines[header].to_owned(),
        });
    }
    rows
}

/// A line of `capture-pane -e` without its escape sequences.
fn strip_styles(line: &str) -> String {
    let mut plain = String::new();
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // CSI: ESC [ parameters, ended by a letter.
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            plain.push(c);
        }
    }
    plain
}

/// Whether a line of `capture-pane -e` turns on reverse video (the selected row).
fn reversed(line: &str) -> bool {
    line.split("\u{1b}[").skip(1).any(|sequence| {
        sequence
            .split_once('m')
            .is_some_and(|(parameters, _)| parameters.split(';').any(|p| p == "7"))
    })
}

/// Whether a session id is still connected, seen from a separate connection.
async fn alive(server: &TestServer, pid: u64) -> Result<bool> {
    // SHOW PROCESSLIST: MySQL refuses information_schema.PROCESSLIST while any session runs a
    // statement with a 4-byte character (error 3854).
    let mut conn = server.try_conn().await?;
    let rows: Vec<mysql_async::Row> = conn.query("SHOW PROCESSLIST").await?;
    let _ = conn.disconnect().await;
    Ok(rows.iter().any(|row| row.get::<u64, _>(0) == Some(pid)))
}

/// Whether the server keeps idle sessions' last statements (a performance_schema consumer).
async fn keeps_last_statements(server: &TestServer) -> bool {
    let info = Mytriage::new(&server.url)
        .args(["server"])
        .json_async()
        .await;
    info["capabilities"]["statement_history"] == true
}

/// Runs `check` on every test server at once, each in its own terminal, and fails with every
/// server's failure. Skipped (outside CI) where tmux is missing.
async fn on_every_server<F, Fut>(what: &str, check: F)
where
    F: Fn(TestServer) -> Fut,
    Fut: Future<Output = Result<()>>,
{
    if !tmux::available() {
        return;
    }
    let runs = support::servers().into_iter().map(|server| {
        support::announce(what, &server);
        let name = server.name.clone();
        let run = AssertUnwindSafe(check(server)).catch_unwind();
        async move { (name, run.await) }
    });
    let failures: Vec<String> = futures_util::future::join_all(runs)
        .await
        .into_iter()
        .filter_map(|(name, outcome)| match outcome {
            Ok(Ok(())) => None,
            Ok(Err(error)) => Some(format!("on {name}: {error:#}")),
            Err(panic) => Some(format!("on {name}: panicked: {}", panic_text(&*panic))),
        })
        .collect();
    assert!(failures.is_empty(), "{what}:\n{}", failures.join("\n\n"));
}

fn panic_text(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_else(|| "(no message)".to_owned())
}

/// `check`, with a panic caught, so that what the test made is cleaned up before the failure
/// goes on (see [`first_failure`]).
async fn caught(check: impl Future<Output = Result<()>>) -> std::thread::Result<Result<()>> {
    AssertUnwindSafe(check).catch_unwind().await
}

/// The check's failure (a panic resumed), else the cleanup's.
fn first_failure(checked: std::thread::Result<Result<()>>, cleaned: Result<()>) -> Result<()> {
    match checked {
        Err(panic) => std::panic::resume_unwind(panic),
        Ok(checked) => checked.and(cleaned.context("cleaning up")),
    }
}

#[tokio::test]
async fn console_tree_shows_the_idle_root_with_its_last_statement_and_not_the_decoy() {
    on_every_server("console: the blocker tree", async |server| {
        let keeps_last = keeps_last_statements(&server).await;
        let s = scenarios::idle_root(&server, 2).await?;
        let checked = caught(tree_shows_the_root(&server, &s, keeps_last)).await;
        first_failure(checked, s.cleanup().await)
    })
    .await;
}

async fn tree_shows_the_root(
    server: &TestServer,
    s: &scenarios::IdleRoot,
    keeps_last: bool,
) -> Result<()> {
    let console = Console::start(&server.url, TALL).await?;
    let (root, waiters) = (s.root_id, &s.waiter_ids);
    let screen = console
        .wait_for("the root with both waiters under it", |screen| {
            let rows = tree_rows(screen);
            let Some(at) = rows.iter().position(|r| r.pid == root && r.depth == 0) else {
                return false;
            };
            let under: Vec<u64> = rows[at + 1..]
                .iter()
                .take_while(|r| r.depth > 0)
                .map(|r| r.pid)
                .collect();
            waiters.iter().all(|w| under.contains(w))
        })
        .await?;
    let rows = tree_rows(&screen);
    let row = rows.iter().find(|r| r.pid == root).unwrap();
    ensure!(
        row.cell("TRX").ends_with("s IDLE") && row.cell("HOLDS") == "2",
        "the root is idle in its transaction and holds up 2:\n{screen}"
    );
    // What the server records of an idle session's last statement: MariaDB without
    // performance_schema records nothing, and the row then shows no statement at all.
    let statement_start = format!("last: UPDATE {}", s.table);
    if keeps_last {
        ensure!(
            row.cell("STATEMENT").starts_with(&statement_start),
            "the root's last statement {statement_start:?}:\n{screen}"
        );
    } else {
        ensure!(
            row.cell("STATEMENT").is_empty(),
            "a last statement this server cannot know:\n{screen}"
        );
    }
    // The waiters wait for a row, running their update of the table.
    for waiter in rows.iter().filter(|r| waiters.contains(&r.pid)) {
        ensure!(
            waiter.cell("WAITS FOR").starts_with("row ")
                && waiter
                    .cell("STATEMENT")
                    .starts_with(&format!("UPDATE {} ", s.table)),
            "waiter {}:\n{screen}",
            waiter.pid
        );
    }
    ensure!(
        !rows.iter().any(|r| r.pid == s.decoy_id),
        "the decoy {} is in the tree:\n{screen}",
        s.decoy_id
    );
    ensure!(
        alive(server, s.decoy_id).await?,
        "the decoy is still there, only not blamed"
    );

    // Its detail: the last statement in full, whom it blocks, and no plan for an idle session.
    console.press(&["p"]).await?;
    console.wait_for_text("PAUSED").await?;
    console.select(root).await?;
    console.press(&["Enter"]).await?;
    let detail = console
        .wait_for("the root's detail with its plan read", |screen| {
            screen.contains(&format!("Session {root} ")) && screen.contains("No plan:")
        })
        .await?;
    let blocks = detail
        .lines()
        .find(|l| l.starts_with("Blocks: "))
        .unwrap_or_default();
    ensure!(
        blocks.starts_with("Blocks: 2 session(s); directly ")
            && s.waiter_ids.iter().all(|w| blocks.contains(&w.to_string())),
        "whom the root blocks:\n{detail}"
    );
    if keeps_last {
        ensure!(
            detail.contains("Last statement (it runs nothing now)")
                && detail.contains(&s.root_last_statement),
            "the full last statement:\n{detail}"
        );
    } else {
        ensure!(detail.contains("It runs nothing now."), "{detail}");
    }
    ensure!(detail.contains("runs nothing now"), "{detail}");
    console.press(&["Escape"]).await?;
    console.wait_for_text(" HOLDS ").await?;
    console.quit_with("q").await
}

#[tokio::test]
async fn console_kill_writes_the_snapshot_before_the_session_dies_and_the_waiters_clear() {
    on_every_server("console: k, y on the idle root", async |server| {
        let s = scenarios::idle_root(&server, 2).await?;
        let checked = caught(kill_from_the_tree(&server, &s)).await;
        first_failure(checked, s.cleanup().await)
    })
    .await;
}

async fn kill_from_the_tree(server: &TestServer, s: &scenarios::IdleRoot) -> Result<()> {
    let console = Console::start(&server.url, TALL).await?;
    let (root, waiters) = (s.root_id, &s.waiter_ids);
    console
        .wait_for("the root with its waiters", |screen| {
            let rows = tree_rows(screen);
            rows.iter().any(|r| r.pid == root && r.depth == 0)
                && waiters
                    .iter()
                    .all(|w| rows.iter().any(|r| r.pid == *w && r.depth > 0))
        })
        .await?;
    console.press(&["p"]).await?;
    console.wait_for_text("PAUSED").await?;
    console.select(root).await?;

    // k: the snapshot is written, then the dialog asks.
    console.press(&["k"]).await?;
    let dialog = console
        .wait_for_text(&format!("Kill session {root}?"))
        .await?;
    let records = console.records()?;
    ensure!(
        records.len() == 1 && records[0]["kind"] == "kill.snapshot",
        "one snapshot in the log while the dialog asks: {records:#?}"
    );
    let snapshot = &records[0];
    ensure!(snapshot["pid"] == root, "{snapshot:#}");
    ensure!(snapshot["thread"]["idle_in_trx"] == true, "{snapshot:#}");
    let mut blocked: Vec<u64> = snapshot["blocks"]["waiter_pids"]
        .as_array()
        .context("waiter_pids")?
        .iter()
        .filter_map(Value::as_u64)
        .collect();
    blocked.sort_unstable();
    let mut expected = waiters.clone();
    expected.sort_unstable();
    ensure!(blocked == expected, "{snapshot:#}");
    let id = snapshot["id"].as_str().context("snapshot id")?;
    ensure!(
        dialog.contains(&format!("Snapshot {id} is in the evidence log."))
            && dialog.contains("Blocks 2 session(s): ")
            && waiters.iter().all(|w| dialog.contains(&w.to_string())),
        "the dialog shows the blast radius from the snapshot on disk:\n{dialog}"
    );
    ensure!(
        alive(server, root).await?,
        "the root is alive while the dialog asks"
    );

    // y: re-verify and kill, held by the drill hook between the two.
    console.press(&["y"]).await?;
    let started = Instant::now();
    while !console.pause.exists() {
        ensure!(
            started.elapsed() < SCREEN,
            "the kill never reached the drill pause:\n{}",
            console.terminal.screen().await?
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    console
        .wait_for_text(&format!(
            "Re-verifying that {root} is the session snapshotted"
        ))
        .await?;
    let records = console.records()?;
    ensure!(
        records.len() == 1,
        "nothing but the snapshot before the kill: {records:#?}"
    );
    ensure!(
        alive(server, root).await?,
        "the root is alive while its kill waits"
    );
    std::fs::remove_file(&console.pause).context("removing the pause file")?;

    let outcome_line = format!("session {root}: killed by KILL, now gone");
    console.wait_for_text(&outcome_line).await?;
    let records = console.records()?;
    ensure!(records.len() == 2, "{records:#?}");
    let outcome = &records[1];
    ensure!(
        outcome["kind"] == "kill.outcome"
            && outcome["snapshot_id"] == id
            && outcome["result"] == "killed"
            && outcome["after"]["state"] == "gone",
        "{outcome:#}"
    );
    ensure!(!alive(server, root).await?, "the root is gone");
    ensure!(
        alive(server, s.decoy_id).await?,
        "the older decoy is untouched"
    );

    // Close the outcome, sample again: the waiters got the row and finished.
    console.press(&["Enter", "p"]).await?;
    let ours = |pid: u64| pid == root || waiters.contains(&pid);
    let cleared = console
        .wait_for("the waiters cleared", |screen| {
            !screen.contains("PAUSED")
                && (screen.contains("No session waits for a lock.")
                    || (screen.contains(" HOLDS ")
                        && !tree_rows(screen).iter().any(|r| ours(r.pid))))
        })
        .await?;
    // Other tests share the server; when nobody else waits, the pane says so.
    if tree_rows(&cleared).is_empty() {
        ensure!(
            cleared.contains("No session waits for a lock."),
            "{cleared}"
        );
    }
    ensure!(
        cleared.contains(&outcome_line),
        "the footer keeps the outcome:\n{cleared}"
    );
    console.quit_with("q").await
}

#[tokio::test]
async fn console_enter_on_a_running_statement_shows_its_plan() {
    on_every_server("console: Enter shows the plan", async |server| {
        let mariadb = server.is_mariadb().await;
        let table = server.scratch_table("console_plan").await;
        let started = start_plan_statement(&server, &table).await;
        let checked = match &started {
            Ok((pid, _)) => {
                let check = async {
                    until_running(&server, *pid).await?;
                    plan_of_a_running_statement(&server, *pid, &table, mariadb).await
                };
                caught(check).await
            }
            Err(error) => Ok(Err(anyhow::anyhow!("starting the statement: {error:#}"))),
        };
        let cleaned = async {
            let mut admin = server.try_conn().await?;
            if let Ok((pid, task)) = started {
                let _ = admin.query_drop(format!("KILL QUERY {pid}")).await;
                let _ = task.await;
            }
            admin
                .query_drop(format!("DROP TABLE IF EXISTS {table}"))
                .await?;
            admin.disconnect().await?;
            anyhow::Ok(())
        };
        first_failure(checked, cleaned.await)
    })
    .await;
}

/// Fills `table` to 30 rows and starts a SELECT sleeping 0.5 s on each, on a session of its
/// own; returns that session's id and its task. MariaDB answers SHOW EXPLAIN between rows: many
/// short sleeps, not one long one.
async fn start_plan_statement(
    server: &TestServer,
    table: &str,
) -> Result<(u64, tokio::task::JoinHandle<()>)> {
    let mut conn = server.try_conn().await?;
    let more: Vec<String> = (3..=30).map(|id| format!("({id}, 0)")).collect();
    conn.query_drop(format!("INSERT INTO {table} VALUES {}", more.join(",")))
        .await?;
    let pid: u64 = conn
        .query_first("SELECT CONNECTION_ID()")
        .await?
        .context("CONNECTION_ID()")?;
    let sql = format!("SELECT COUNT(*) FROM {table} WHERE SLEEP(0.5) = 0");
    let task = tokio::spawn(async move {
        let _ = conn.query_drop(sql).await;
        let _ = conn.disconnect().await;
    });
    Ok((pid, task))
}

/// Waits until session `pid` runs a statement.
async fn until_running(server: &TestServer, pid: u64) -> Result<()> {
    let mut probe = server.try_conn().await?;
    let started = Instant::now();
    loop {
        // SHOW PROCESSLIST: MySQL refuses information_schema.PROCESSLIST while any session (of
        // another test) runs a statement with a 4-byte character (error 3854).
        let rows: Vec<mysql_async::Row> = probe.query("SHOW FULL PROCESSLIST").await?;
        let runs = rows.iter().any(|row| {
            row.get::<u64, _>("Id") == Some(pid)
                && row.get::<Option<String>, _>("Info").flatten().is_some()
        });
        if runs {
            break;
        }
        ensure!(started.elapsed() < SCREEN, "session {pid} never ran");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = probe.disconnect().await;
    Ok(())
}

async fn plan_of_a_running_statement(
    server: &TestServer,
    pid: u64,
    table: &str,
    mariadb: bool,
) -> Result<()> {
    let console = Console::start(&server.url, SMALL).await?;
    let name = table.rsplit('.').next().unwrap_or(table);
    // The filter keeps the one session whose statement names the table.
    console.press(&["/"]).await?;
    console.terminal.type_text(name).await?;
    console.press(&["Enter"]).await?;
    let pid_cell = format!("{pid} ");
    console
        .wait_for("the running session, alone under the filter", |screen| {
            screen.contains(&format!("filter \"{name}\""))
                && screen.lines().any(|l| l.starts_with(&pid_cell))
        })
        .await?;
    console.press(&["Enter"]).await?;
    console.wait_for_text(&format!("Session {pid} ")).await?;
    // On MySQL the tree names the filter; on MariaDB SHOW EXPLAIN's row names the table.
    let plan_line = if mariadb {
        format!("table={name}")
    } else {
        "sleep(0.5)".to_owned()
    };
    console
        .wait_for("the plan read", |screen| {
            !screen.contains("Reading the plan")
        })
        .await?;
    // 80×24 holds only part of the detail: scroll down until the plan shows.
    let mut screen = String::new();
    for _ in 0..10 {
        screen = console.terminal.screen().await?;
        if screen.contains("Plan (") && screen.contains(&plan_line) {
            break;
        }
        ensure!(
            !screen.contains("Plan not read") && !screen.contains("No plan:"),
            "no plan for a running SELECT:\n{screen}"
        );
        console.press(&["Down", "Down", "Down"]).await?;
    }
    ensure!(
        screen.contains("Plan (") && screen.contains(&plan_line),
        "the plan heading and {plan_line:?}:\n{screen}"
    );
    console.press(&["Escape"]).await?;
    console.wait_for_text(" of ").await?;
    console.quit_with("q").await
}

#[tokio::test]
async fn console_reflows_on_resize_and_esc_gives_the_terminal_back() {
    on_every_server("console: resize, Esc", async |server| {
        let console = Console::start(&server.url, (120, 30)).await?;
        console.press(&["2"]).await?;
        console
            .wait_for("the sessions with the account column", |screen| {
                screen
                    .lines()
                    .any(|l| l.starts_with("PID ") && l.contains(" ACCOUNT ") && l.contains(" DB "))
            })
            .await?;
        console.terminal.resize(SMALL).await?;
        console
            .wait_for("the narrow sessions table at 80×24", |screen| {
                let header = screen.lines().find(|l| l.starts_with("PID "));
                screen.lines().count() == 24
                    && header.is_some_and(|l| l.contains(" USER ") && !l.contains(" ACCOUNT "))
                    && screen.lines().all(|l| l.chars().count() <= 80)
            })
            .await?;
        console.quit_with("Escape").await
    })
    .await;
}

#[tokio::test]
async fn console_keys_stay_live_while_the_server_hangs_and_the_late_sample_recovers() {
    on_every_server("console: a hung server", async |server| {
        let url = url::Url::parse(&server.url)?;
        let upstream = format!(
            "{}:{}",
            url.host_str().context("host")?,
            url.port().unwrap_or(3306)
        )
        .parse()?;
        let proxy = Proxy::start(upstream, Duration::ZERO).await?;
        let through = format!(
            "mysql://{}@127.0.0.1:{}/?ssl-mode=DISABLED",
            url.username(),
            proxy.addr.port()
        );
        hung_server(|| proxy.freeze(), &through).await
    })
    .await;
}

/// Tests that freeze a shared server: nextest runs each alone (`.config/nextest.toml`).
mod exclusive {
    use super::*;
    use crate::support::freeze::{Frozen, server_pid};

    /// As the proxy's freeze above, with the server process itself stopped (SIGSTOP) and
    /// continued (SIGCONT), as issue 15 asks.
    #[tokio::test]
    async fn exclusive_console_keys_stay_live_while_the_server_is_stopped() {
        on_every_server("console: SIGSTOP on the server", async |server| {
            let Some(pid) = server_pid(&server.name) else {
                ensure!(
                    std::env::var("CI").is_err(),
                    "CI starts its servers with scripts/testdb, which keeps pid files"
                );
                eprintln!(
                    "skipping on {}: no pid file (not started by scripts/testdb)",
                    server.name
                );
                return Ok(());
            };
            hung_server(|| Frozen::freeze(pid), &server.url).await
        })
        .await;
    }
}

/// The `HH:MM:SS` the header says the shown sample was taken at (its first line may wrap).
fn sample_time(screen: &str) -> Option<String> {
    let header = screen.lines().take(2).collect::<Vec<_>>().join(" ");
    let words: Vec<&str> = header.split_whitespace().collect();
    words
        .windows(2)
        .find(|pair| pair[1].starts_with('(') && is_clock(pair[0]))
        .map(|pair| pair[0].to_owned())
}

fn is_clock(word: &str) -> bool {
    let parts: Vec<&str> = word.split(':').collect();
    parts.len() == 3
        && parts
            .iter()
            .all(|p| p.len() == 2 && p.bytes().all(|b| b.is_ascii_digit()))
}

/// The console while `freeze` holds the server still: the keys answer, the header says the
/// sample is late, and when the guard is dropped the same connection goes on.
async fn hung_server<G>(freeze: impl FnOnce() -> G, url: &str) -> Result<()> {
    let console = Console::start(url, (100, 30)).await?;
    let frozen = freeze();
    let late = console.wait_for_text("sample late").await?;
    let taken = sample_time(&late).context("the sample time in the header")?;

    // The keys answer while the sample hangs: help, and a pane switch.
    console.press(&["?"]).await?;
    console
        .wait_for("the help", |screen| {
            screen.contains(" Keys ") && screen.contains("any key closes this")
        })
        .await?;
    console.press(&["Escape", "2"]).await?;
    console
        .wait_for("the sessions pane, still frozen", |screen| {
            !screen.contains("any key closes this")
                && screen.contains(" sessions, sorted by ")
                && screen.contains("sample late")
        })
        .await?;
    console.press(&["4"]).await?;
    let still = console
        .wait_for("the transactions pane, still frozen", |screen| {
            !screen.contains(" sessions, sorted by ") && screen.contains("sample late")
        })
        .await?;
    ensure!(
        sample_time(&still).as_deref() == Some(taken.as_str()),
        "no sample arrived while frozen:\n{still}"
    );

    drop(frozen);
    let recovered = console
        .wait_for("a fresh sample, on time", |screen| {
            !screen.contains("sample late") && sample_time(screen).is_some_and(|at| at != taken)
        })
        .await?;
    ensure!(
        !recovered.contains("sample failed") && !recovered.contains("reconnect"),
        "the hang was shorter than the query timeout: the same connection goes on:\n{recovered}"
    );
    console.quit_with("q").await
}
