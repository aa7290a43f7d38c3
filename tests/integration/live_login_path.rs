//! `--login-path` against a login path file written by the real `mysql_config_editor`: MySQL
//! 9.7's, from the Debian sid chroot `scripts/testdb` builds for the MySQL server. The tool types
//! the password at its own prompt (it reads it from the terminal only), mytriage reads the file
//! back and connects to the MySQL test server as the account the file names, and the chroot's
//! `mysql` client, given the same file, arrives as the same account.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use mysql_async::prelude::Queryable;

use crate::support::{self, Mytriage, TestServer};

const USER: &str = "mytriage_login_path";
/// A `#` (a comment outside quotes) and a `"` (which the tool escapes): both must survive.
const PASSWORD: &str = "lp#pa\"ss";

/// The MySQL chroot of `scripts/testdb`, if it has been built here.
fn mysql_chroot() -> Option<PathBuf> {
    let state =
        std::env::var("MYTRIAGE_TESTDB_DIR").unwrap_or_else(|_| "/var/tmp/mytriage-testdb".into());
    let root = Path::new(&state).join("sid-root");
    root.join("usr/bin/mysql_config_editor")
        .exists()
        .then_some(root)
}

/// The MySQL server of the test ground (the chroot's own server).
fn mysql_server() -> Option<TestServer> {
    support::servers()
        .into_iter()
        .find(|s| s.name.starts_with("mysql"))
}

/// Runs `mysql_config_editor` inside the chroot on a pseudo-terminal, the way a person does, and
/// types `password` once it asks: it reads passwords from the terminal only, and discards what
/// was typed before its prompt. Returns what it printed.
fn config_editor_on_a_terminal(
    root: &Path,
    login_file: &str,
    args: &[&str],
    password: &str,
) -> String {
    let (mut master, terminal) = open_pty();
    let mut command = Command::new("chroot");
    command
        .arg(root)
        .args(["env", &format!("MYSQL_TEST_LOGIN_FILE={login_file}")])
        .arg("mysql_config_editor")
        .args(args)
        .stdin(Stdio::from(terminal.try_clone().unwrap()))
        .stdout(Stdio::from(terminal.try_clone().unwrap()))
        .stderr(Stdio::from(terminal));
    // SAFETY: setsid and ioctl are async-signal-safe; they make the pty the child's controlling
    // terminal, which is where the tool's password prompt reads from (/dev/tty).
    unsafe {
        command.pre_exec(|| {
            if libc::setsid() < 0 || libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = command
        .spawn()
        .expect("start mysql_config_editor in the chroot");
    drop(command); // the parent's copies of the terminal end
    let pid = child.id() as libc::pid_t;
    let (done, watchdog) = mpsc::channel::<()>();
    std::thread::spawn(move || {
        if watchdog.recv_timeout(Duration::from_secs(30)).is_err() {
            // SAFETY: signalling our own child, which has not been waited for yet.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    });
    let mut seen = Vec::new();
    let mut chunk = [0u8; 256];
    while !String::from_utf8_lossy(&seen).contains("password:") {
        match master.read(&mut chunk) {
            Ok(n) if n > 0 => seen.extend_from_slice(&chunk[..n]),
            _ => break,
        }
    }
    if String::from_utf8_lossy(&seen).contains("password:") {
        master
            .write_all(format!("{password}\n").as_bytes())
            .expect("type the password");
    }
    // Until the tool closes the terminal (EIO on Linux).
    while let Ok(n) = master.read(&mut chunk) {
        if n == 0 {
            break;
        }
        seen.extend_from_slice(&chunk[..n]);
    }
    let status = child.wait().expect("wait for mysql_config_editor");
    let _ = done.send(());
    let printed = String::from_utf8_lossy(&seen).into_owned();
    assert!(
        status.success(),
        "mysql_config_editor {args:?}: {status}: {printed}"
    );
    printed
}

/// A pseudo-terminal: the master end to type into and read from, and the terminal end.
fn open_pty() -> (File, OwnedFd) {
    let (mut master, mut terminal) = (0, 0);
    // SAFETY: openpty writes two new descriptors into the pointers; null name, termios and size.
    let rc = unsafe {
        libc::openpty(
            &mut master,
            &mut terminal,
            std::ptr::null_mut(),
            std::ptr::null(),
            std::ptr::null(),
        )
    };
    assert_eq!(rc, 0, "openpty: {}", std::io::Error::last_os_error());
    // SAFETY: both descriptors are fresh and owned by nobody else.
    unsafe { (File::from_raw_fd(master), OwnedFd::from_raw_fd(terminal)) }
}

#[tokio::test]
async fn login_path_from_the_real_mysql_config_editor_connects_as_its_account() {
    let Some(root) = mysql_chroot() else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true but the MySQL chroot with mysql_config_editor is missing (scripts/testdb up builds it)"
        );
        eprintln!(
            "skipping: no MySQL chroot with mysql_config_editor (scripts/testdb up builds it)"
        );
        return;
    };
    let Some(server) = mysql_server() else {
        eprintln!("skipping: no MySQL server in MYTRIAGE_TEST_SERVERS");
        return;
    };
    support::announce("login_path_from_the_real_mysql_config_editor", &server);
    let url = url::Url::parse(&server.url).unwrap();
    let (host, port) = (
        url.host_str().unwrap().to_owned(),
        url.port().unwrap_or(3306),
    );
    server.create_user(USER, Some(PASSWORD), None).await;

    // Inside the chroot's /tmp, so the tool (in the chroot) and mytriage (outside) see one file.
    let dir = tempfile::Builder::new()
        .prefix("mytriage-login-path-")
        .tempdir_in(root.join("tmp"))
        .unwrap();
    let inside = format!(
        "/tmp/{}/login.cnf",
        dir.path().file_name().unwrap().to_str().unwrap()
    );
    let outside = dir.path().join("login.cnf");
    config_editor_on_a_terminal(
        &root,
        &inside,
        &[
            "set",
            "--login-path=triage",
            &format!("--host={host}"),
            &format!("--port={port}"),
            &format!("--user={USER}"),
            "--password",
        ],
        PASSWORD,
    );
    let printed = config_editor_on_a_terminal(&root, &inside, &["print", "--all"], "");
    assert!(printed.contains("[triage]"), "{printed}");

    let report = Mytriage::offline()
        .env("MYSQL_TEST_LOGIN_FILE", &outside)
        .args(["--login-path", "triage", "server"])
        .json();
    let current_user = report["current_user"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        current_user.starts_with(&format!("{USER}@")),
        "connected as {current_user}: {report}"
    );
    assert_eq!(report["flavor"], "mysql-9", "{report}");

    // The mysql client itself agrees on what the file says.
    let mysql = Command::new("chroot")
        .arg(&root)
        .args(["env", &format!("MYSQL_TEST_LOGIN_FILE={inside}")])
        .args([
            "mysql",
            "--login-path=triage",
            "-N",
            "-B",
            "-e",
            "SELECT CURRENT_USER()",
        ])
        .output()
        .expect("run mysql in the chroot");
    assert!(
        String::from_utf8_lossy(&mysql.stdout)
            .trim()
            .starts_with(&format!("{USER}@")),
        "mysql: {}{}",
        String::from_utf8_lossy(&mysql.stdout),
        String::from_utf8_lossy(&mysql.stderr)
    );

    // A login path the file does not have is one line naming the ones it has.
    let output = Mytriage::offline()
        .env("MYSQL_TEST_LOGIN_FILE", &outside)
        .args(["--login-path", "prod", "server"])
        .expect_code(2);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("only triage"), "{stderr}");

    let mut conn = server.conn().await;
    for account in ["%", "localhost", "127.0.0.1"] {
        let _ = conn
            .query_drop(format!("DROP USER IF EXISTS '{USER}'@'{account}'"))
            .await;
    }
    let _ = conn.disconnect().await;
}
