//! Who ran mytriage, as every record's header names them: the OS user and host.

use super::record::Operator;

impl Operator {
    /// The operator of this process: `$USER` (or `$LOGNAME`, or the name `/etc/passwd` gives the
    /// process's uid) on this host.
    pub(crate) fn current() -> Operator {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .or_else(|_| std::fs::read_to_string("/etc/hostname"))
            .ok()
            .map(|h| h.trim().to_owned())
            .filter(|h| !h.is_empty());
        let os_user = std::env::var("USER")
            .or_else(|_| std::env::var("LOGNAME"))
            .ok()
            .or_else(login_from_passwd);
        Operator { os_user, host }
    }
}

/// The name of this process's user, from /etc/passwd, when the environment does not say.
fn login_from_passwd() -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let uid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))?
        .split_whitespace()
        .next()?
        .to_owned();
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|line| {
        let mut fields = line.split(':');
        let name = fields.next()?;
        (fields.nth(1)? == uid).then(|| name.to_owned())
    })
}
