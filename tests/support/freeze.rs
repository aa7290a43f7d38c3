//! Freezing a test server's process (SIGSTOP) as a hung server looks to its clients, with a guard
//! that thaws it (SIGCONT) whatever happens. Only for tests that run alone (`exclusive::`): every
//! other client of that server hangs too.

use std::path::PathBuf;
use std::process::Command;

/// Sends SIGCONT when dropped, so a failing assertion never leaves a server frozen.
pub struct Frozen(u32);

impl Frozen {
    pub fn freeze(pid: u32) -> Frozen {
        signal("-STOP", pid);
        Frozen(pid)
    }
}

impl Drop for Frozen {
    fn drop(&mut self) {
        signal("-CONT", self.0);
    }
}

fn signal(which: &str, pid: u32) {
    let status = Command::new("kill")
        .args([which, &pid.to_string()])
        .status()
        .expect("kill(1)");
    assert!(status.success(), "kill {which} {pid}");
}

/// The server's process id, from the pid file scripts/testdb keeps for it.
pub fn server_pid(name: &str) -> Option<u32> {
    let dir = std::env::var_os("MYTRIAGE_TESTDB_DIR")
        .map_or_else(|| PathBuf::from("/var/tmp/mytriage-testdb"), PathBuf::from);
    std::fs::read_to_string(dir.join(format!("{name}.pid")))
        .ok()?
        .trim()
        .parse()
        .ok()
}
