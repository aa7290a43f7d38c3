//! Running a command as a child process: wall time, the child's CPU (user + sys from `wait4`),
//! interleaved rounds, and the watch for other clients that share the servers.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use mysql_async::Conn;
use mysql_async::prelude::*;

/// A command to run as a child process.
#[derive(Clone, Debug)]
pub(crate) struct Spec {
    pub(crate) label: String,
    pub(crate) program: String,
    pub(crate) args: Vec<String>,
    /// Exit codes that mean it worked.
    pub(crate) ok_codes: Vec<i32>,
}

/// One run of a command.
pub(crate) struct Run {
    pub(crate) wall: Duration,
    /// User + system CPU of the child, from wait4's rusage.
    pub(crate) cpu: Duration,
    pub(crate) code: i32,
    pub(crate) stdout: Vec<u8>,
    pub(crate) stderr: Vec<u8>,
}

/// Spawns the command, drains its output, reaps it with wait4.
fn run_once(spec: &Spec) -> Result<Run> {
    let started = Instant::now();
    let mut child = Command::new(&spec.program)
        .args(&spec.args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {}", spec.program))?;
    let pid = libc::pid_t::try_from(child.id()).context("pid")?;
    let mut stderr_pipe = child.stderr.take().context("stderr")?;
    let stderr_reader = std::thread::spawn(move || {
        let mut buffer = Vec::new();
        let _ = stderr_pipe.read_to_end(&mut buffer);
        buffer
    });
    let mut stdout = Vec::new();
    child
        .stdout
        .take()
        .context("stdout")?
        .read_to_end(&mut stdout)
        .context("reading stdout")?;
    let (status, usage) = wait4(pid)?;
    let wall = started.elapsed();
    let stderr = stderr_reader.join().unwrap_or_default();
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -libc::WTERMSIG(status)
    };
    Ok(Run {
        wall,
        cpu: timeval(usage.ru_utime) + timeval(usage.ru_stime),
        code,
        stdout,
        stderr,
    })
}

fn wait4(pid: libc::pid_t) -> Result<(libc::c_int, libc::rusage)> {
    let mut status: libc::c_int = 0;
    // SAFETY: rusage is plain old data, all zeroes is a valid value.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: pid is our own unreaped child; status and usage point to live locals.
        let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if reaped == pid {
            return Ok((status, usage));
        }
        let error = std::io::Error::last_os_error();
        if error.kind() != std::io::ErrorKind::Interrupted {
            return Err(error).context("wait4");
        }
    }
}

fn timeval(tv: libc::timeval) -> Duration {
    Duration::from_secs(u64::try_from(tv.tv_sec).unwrap_or(0))
        + Duration::from_micros(u64::try_from(tv.tv_usec).unwrap_or(0))
}

/// Runs a command off the async runtime, so the scenario's tasks keep running.
pub(crate) async fn run_blocking(spec: &Spec) -> Result<Run> {
    let spec = spec.clone();
    tokio::task::spawn_blocking(move || run_once(&spec))
        .await
        .context("measuring task")?
}

pub(crate) fn check_exit(spec: &Spec, run: &Run) -> Result<()> {
    ensure!(
        spec.ok_codes.contains(&run.code),
        "`{}` exited {} (expected {:?}): {}",
        spec.label,
        run.code,
        spec.ok_codes,
        String::from_utf8_lossy(&run.stderr).trim()
    );
    Ok(())
}

/// What one command measured.
pub(crate) struct Measured {
    pub(crate) spec: Spec,
    pub(crate) walls: Vec<Duration>,
    pub(crate) cpus: Vec<Duration>,
    /// stdout of the warm-up run.
    pub(crate) warm_stdout: Vec<u8>,
}

/// Watches for other clients' InnoDB transactions while measuring (the servers are shared).
pub(crate) struct Guard<'a> {
    admin: &'a mut Conn,
    /// Transactions of our own scenario.
    ours: u64,
    /// Threads_connected when measuring began.
    connected: u64,
}

/// Attempts at measuring without other clients' interference.
pub(crate) const ATTEMPTS: usize = 10;

/// More connections come and go than this while measuring: another client is busy (a test suite).
const CONNECTION_DRIFT: u64 = 10;

impl Guard<'_> {
    async fn new(admin: &mut Conn, ours: u64) -> Result<Guard<'_>> {
        let connected = status_value(admin, "Threads_connected").await?;
        Ok(Guard {
            admin,
            ours,
            connected,
        })
    }

    /// Transactions that are not ours, or connections that came or went.
    async fn foreign(&mut self) -> Result<u64> {
        let trx = open_trx(self.admin).await?.saturating_sub(self.ours);
        let connected = status_value(self.admin, "Threads_connected").await?;
        let drift = connected.abs_diff(self.connected);
        if drift > CONNECTION_DRIFT {
            eprintln!(
                "bench: Threads_connected moved from {} to {connected}",
                self.connected
            );
            return Ok(trx.max(drift));
        }
        Ok(trx)
    }
}

pub(crate) async fn open_trx(admin: &mut Conn) -> Result<u64> {
    Ok(admin
        .query_first("SELECT COUNT(*) FROM information_schema.INNODB_TRX")
        .await?
        .unwrap_or(0))
}

/// Warms each command once, then runs them `rounds` times interleaved, alternating the order.
/// With a guard, gives up (None) as soon as another client's transaction shows up.
pub(crate) async fn measure(
    specs: &[Spec],
    rounds: usize,
    mut guard: Option<&mut Guard<'_>>,
) -> Result<Option<Vec<Measured>>> {
    let mut measured = Vec::new();
    for spec in specs {
        let run = run_blocking(spec).await?;
        check_exit(spec, &run)?;
        eprintln!("bench:   warm-up {:>9.1} ms  {}", ms(run.wall), spec.label);
        measured.push(Measured {
            spec: spec.clone(),
            walls: Vec::new(),
            cpus: Vec::new(),
            warm_stdout: run.stdout,
        });
    }
    for round in 0..rounds {
        if let Some(guard) = guard.as_deref_mut() {
            let foreign = guard.foreign().await?;
            if foreign > 0 {
                eprintln!(
                    "bench: {foreign} transactions or connections of other clients appeared in round {round}"
                );
                return Ok(None);
            }
        }
        let order: Vec<usize> = if round % 2 == 0 {
            (0..specs.len()).collect()
        } else {
            (0..specs.len()).rev().collect()
        };
        for i in order {
            let run = run_blocking(&specs[i]).await?;
            check_exit(&specs[i], &run)?;
            measured[i].walls.push(run.wall);
            measured[i].cpus.push(run.cpu);
        }
    }
    if let Some(guard) = guard {
        let foreign = guard.foreign().await?;
        if foreign > 0 {
            eprintln!(
                "bench: {foreign} transactions or connections of other clients appeared in the last round"
            );
            return Ok(None);
        }
    }
    Ok(Some(measured))
}

/// Measures with a guard; when other clients interfere, waits for them and measures again
/// (`ATTEMPTS` times), then measures regardless and says so.
pub(crate) async fn measure_alone(
    admin: &mut Conn,
    ours: u64,
    quiet_wait: Duration,
    specs: &[Spec],
    rounds: usize,
) -> Result<(Vec<Measured>, bool)> {
    for _attempt in 0..ATTEMPTS {
        wait_for_quiet(admin, quiet_wait, ours).await?;
        let mut guard = Guard::new(&mut *admin, ours).await?;
        if let Some(measured) = measure(specs, rounds, Some(&mut guard)).await? {
            return Ok((measured, false));
        }
    }
    eprintln!("bench: WARNING: other clients kept interfering; measuring with them");
    let measured = measure(specs, rounds, None).await?.expect("no guard");
    Ok((measured, true))
}

pub(crate) fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

pub(crate) fn median(values: &[Duration]) -> Duration {
    let mut sorted = values.to_vec();
    sorted.sort();
    let n = sorted.len();
    if n == 0 {
        Duration::ZERO
    } else if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2
    }
}

/// Waits until no other client has an InnoDB transaction open and connections stop coming and
/// going (other tests and experiments share the servers; `ours` are the scenario's own
/// transactions), at most `limit`; then goes on with a warning.
pub(crate) async fn wait_for_quiet(admin: &mut Conn, limit: Duration, ours: u64) -> Result<()> {
    let started = Instant::now();
    let mut told = false;
    let mut connected = status_value(admin, "Threads_connected").await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    loop {
        let foreign = open_trx(admin).await?.saturating_sub(ours);
        let now_connected = status_value(admin, "Threads_connected").await?;
        let drift = now_connected.abs_diff(connected);
        connected = now_connected;
        if foreign == 0 && drift <= CONNECTION_DRIFT {
            if told {
                eprintln!(
                    "bench: quiet after {:.0} s",
                    started.elapsed().as_secs_f64()
                );
            }
            return Ok(());
        }
        if started.elapsed() >= limit {
            eprintln!(
                "bench: WARNING: {foreign} other InnoDB transactions, {drift} connections come or \
                 gone, after {} s; going on",
                limit.as_secs()
            );
            return Ok(());
        }
        if !told {
            eprintln!(
                "bench: waiting for other clients: {foreign} other InnoDB transactions, {drift} \
                 connections come or gone (--quiet-wait {} s)",
                limit.as_secs()
            );
            told = true;
        }
        tokio::time::sleep(Duration::from_secs(3)).await;
    }
}

pub(crate) async fn status_value(admin: &mut Conn, name: &str) -> Result<u64> {
    let row: Option<(String, String)> = admin
        .query_first(format!("SHOW GLOBAL STATUS LIKE '{name}'"))
        .await?;
    row.and_then(|(_, value)| value.parse().ok())
        .with_context(|| format!("status {name}"))
}
