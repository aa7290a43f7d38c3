//! The built binary as a user runs it: exit codes, one-line errors, JSON on stdout, `| head`.

use std::io::Read;
use std::net::TcpListener;
use std::time::{Duration, Instant};

use mysql_async::prelude::Queryable;
use predicates::prelude::*;

use crate::support::{self, Mytriage};

/// Asserts stderr is exactly one line and returns it.
fn one_error_line(output: &std::process::Output) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| !l.contains("[Warning]"))
        .collect();
    assert_eq!(lines.len(), 1, "expected one line on stderr, got: {stderr}");
    assert!(
        !stderr.contains("panicked") && !stderr.contains("backtrace"),
        "{stderr}"
    );
    lines[0].to_owned()
}

/// Host and port of a test server's URL, for the `-h`/`-P` flags.
fn host_port(url: &str) -> (String, u16) {
    let parsed = url::Url::parse(url).expect("test server URL");
    (
        parsed.host_str().expect("host").to_owned(),
        parsed.port().unwrap_or(3306),
    )
}

/// A port on loopback with nothing listening.
fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    drop(listener);
    port
}

#[test]
fn refused_connection_exits_2_with_one_line() {
    let port = closed_port().to_string();
    let started = Instant::now();
    let output = Mytriage::offline()
        .args(["-h", "127.0.0.1", "-P", &port, "server"])
        .output();
    assert_eq!(output.status.code(), Some(2));
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "within the default connect timeout"
    );
    let line = one_error_line(&output);
    assert!(
        line.contains(&format!("127.0.0.1:{port}"))
            && line.contains("Check -h/--host and -P/--port"),
        "{line}"
    );
    assert!(output.stdout.is_empty());
}

#[test]
fn silent_server_hits_the_connect_timeout() {
    // Accepts TCP (the kernel's backlog) but never sends the MySQL greeting: a hung server.
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().unwrap().port().to_string();
    let started = Instant::now();
    let output = Mytriage::offline()
        .args([
            "-h",
            "127.0.0.1",
            "-P",
            &port,
            "--connect-timeout",
            "1s",
            "server",
        ])
        .output();
    let elapsed = started.elapsed();
    assert_eq!(output.status.code(), Some(2));
    assert!(
        elapsed >= Duration::from_secs(1) && elapsed < Duration::from_secs(4),
        "{elapsed:?}"
    );
    let line = one_error_line(&output);
    assert!(line.contains("within 1s (--connect-timeout)"), "{line}");
    drop(listener);
}

#[test]
fn malformed_url_exits_2_without_echoing_the_password() {
    let output = Mytriage::offline()
        .args(["--url", "mysql://app:hunter2@db:port/x", "server"])
        .output();
    assert_eq!(output.status.code(), Some(2));
    let line = one_error_line(&output);
    assert!(
        line.contains("malformed URL") && !line.contains("hunter2"),
        "{line}"
    );
}

#[test]
fn unknown_ssl_mode_is_a_usage_error() {
    Mytriage::offline()
        .args(["--ssl-mode", "SOMETIMES", "server"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "possible values: DISABLED, PREFERRED, REQUIRED",
        ));
}

#[test]
fn bad_option_file_exits_2_naming_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.cnf");
    std::fs::write(&file, "host=db1\n").unwrap();
    let output = Mytriage::bare()
        .args(["--defaults-file", file.to_str().unwrap(), "server"])
        .output();
    assert_eq!(output.status.code(), Some(2));
    let line = one_error_line(&output);
    assert!(line.contains("bad.cnf:1"), "{line}");
}

#[test]
fn help_and_version_exit_0() {
    Mytriage::bare()
        .arg("--help")
        .assert()
        .code(0)
        .stdout(predicate::str::contains("--host"));
    Mytriage::bare().arg("--version").assert().code(0);
    Mytriage::bare().arg("no-such-command").assert().code(2);
}

#[test]
fn live_server_json_reports_flavor_and_capabilities() {
    for server in support::servers() {
        support::announce("server --format json", &server);
        let output = Mytriage::new(&server.url)
            .args(["server", "--format", "json"])
            .output();
        assert_eq!(
            output.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let json: serde_json::Value =
            serde_json::from_slice(&output.stdout).expect("stdout is one JSON document");
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let (version, mariadb, performance_schema) = rt.block_on(async {
            let mut conn = server.conn().await;
            let version: String = conn.query_first("SELECT VERSION()").await.unwrap().unwrap();
            let ps: i64 = conn
                .query_first("SELECT @@performance_schema")
                .await
                .unwrap()
                .unwrap();
            let mariadb = server.is_mariadb().await;
            let _ = conn.disconnect().await;
            (version, mariadb, ps == 1)
        });
        assert_eq!(json["version"], version.as_str());
        let caps = &json["capabilities"];
        // The test ground runs MariaDB both ways: as shipped (off) and with it on.
        assert_eq!(caps["performance_schema"], performance_schema, "{json}");
        if mariadb {
            assert!(
                json["flavor"].as_str().unwrap().starts_with("mariadb-"),
                "{json}"
            );
            assert_eq!(
                json["sources"]["lock_waits"],
                "information_schema.INNODB_LOCK_WAITS"
            );
        } else {
            assert!(
                json["flavor"].as_str().unwrap().starts_with("mysql-"),
                "{json}"
            );
            assert_eq!(caps["data_lock_waits"], true);
            assert_eq!(
                json["sources"]["lock_waits"],
                "performance_schema.data_lock_waits"
            );
        }
        assert_eq!(caps["process_privilege"], true);
        assert!(json["connection_id"].as_u64().unwrap() > 0);
    }
}

#[test]
fn live_session_is_read_only_bounded_and_named() {
    for server in support::servers() {
        support::announce("session set-up read back", &server);
        // TLS off: mysql_async 0.37 drops connection attributes on TLS connections (see README).
        let output = Mytriage::new(&server.url)
            .args([
                "--ssl-mode",
                "DISABLED",
                "--query-timeout",
                "3s",
                "server",
                "--format",
                "json",
            ])
            .output();
        assert_eq!(
            output.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        let session = &json["session"];
        assert_eq!(session["read_only"], true, "{json}");
        let limit = session["statement_limit"].as_str().unwrap();
        assert!(
            limit == "max_execution_time=3000" || limit.starts_with("max_statement_time=3.000"),
            "server-side limit follows --query-timeout: {limit}"
        );
        if json["capabilities"]["performance_schema"] == true {
            assert_eq!(session["program_name"], "mytriage");
        }
    }
}

#[test]
fn live_wrong_password_exits_2_with_one_line() {
    for server in support::servers() {
        support::announce("wrong password", &server);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(server.create_user("mt_pw", Some("right-pw"), None));
        let (host, port) = host_port(&server.url);
        let output = Mytriage::offline()
            .args([
                "-h",
                &host,
                "-P",
                &port.to_string(),
                "-u",
                "mt_pw",
                "-pwrong-pw",
                "server",
            ])
            .output();
        assert_eq!(output.status.code(), Some(2));
        let line = one_error_line(&output);
        assert!(
            line.contains("Access denied") && line.contains("Check -u/--user and the password"),
            "{line}"
        );
        assert!(
            String::from_utf8_lossy(&output.stderr)
                .contains("[Warning] Using a password on the command line")
        );

        let output = Mytriage::offline()
            .env("MYSQL_PWD", "right-pw")
            .args([
                "-h",
                &host,
                "-P",
                &port.to_string(),
                "-u",
                "mt_pw",
                "server",
                "--format",
                "json",
            ])
            .output();
        assert_eq!(
            output.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(json["capabilities"]["process_privilege"], false);
        assert!(
            json["warnings"][0]
                .as_str()
                .unwrap()
                .contains("GRANT PROCESS ON *.*"),
            "{json}"
        );
    }
}

#[test]
fn live_output_into_a_closed_pipe_is_not_an_error() {
    for server in support::servers() {
        support::announce("| head", &server);
        let mut child = Mytriage::new(&server.url).args(["server"]).spawn();
        // Read one byte, then close the pipe like `head -c1` would.
        let mut stdout = child.stdout.take().unwrap();
        let mut first = [0u8; 1];
        stdout.read_exact(&mut first).unwrap();
        drop(stdout);
        let output = child.wait_with_output().unwrap();
        assert_eq!(
            output.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(
            output.stderr.is_empty(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

#[test]
fn live_tls_modes() {
    for server in support::servers() {
        support::announce("TLS modes", &server);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        // MySQL generates certificates at first start; MariaDB from Debian has none.
        let mariadb = rt.block_on(server.is_mariadb());
        let run = |mode: &str, ca: Option<&str>| {
            let mut run =
                Mytriage::new(&server.url).args(["--ssl-mode", mode, "server", "--format", "json"]);
            if let Some(ca) = ca {
                run = run.args(["--ssl-ca", ca]);
            }
            run.output()
        };
        let cipher = |output: &std::process::Output| -> serde_json::Value {
            let json: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
            json["session"]["tls_cipher"].clone()
        };
        let disabled = run("DISABLED", None);
        assert_eq!(disabled.status.code(), Some(0));
        assert!(cipher(&disabled).is_null(), "DISABLED means plain TCP");
        let preferred = run("PREFERRED", None);
        assert_eq!(
            preferred.status.code(),
            Some(0),
            "PREFERRED connects either way"
        );
        let has_tls = cipher(&preferred).is_string();
        assert!(has_tls || mariadb, "MySQL offers TLS out of the box");
        let required = run("REQUIRED", None);
        if has_tls {
            assert_eq!(required.status.code(), Some(0));
            assert!(cipher(&required).is_string());
        } else {
            assert_eq!(required.status.code(), Some(2));
            assert!(one_error_line(&required).contains("offers no TLS"));
        }
        // MySQL's auto-generated certificates chain to its own CA and name no host. mysql_async
        // 0.37 cannot skip the host-name check, so VERIFY_CA with the right CA still fails, with
        // a message that says why (README: known limitations). The CA is the MySQL server's; MariaDB
        // 11.4+ offers TLS with a self-signed certificate of its own.
        if let (true, false, Ok(ca)) = (has_tls, mariadb, std::env::var("MYTRIAGE_TEST_MYSQL_CA")) {
            let verified = run("VERIFY_CA", Some(&ca));
            assert_eq!(verified.status.code(), Some(2));
            assert!(one_error_line(&verified).contains("does not name this host"));
            let identity = run("VERIFY_IDENTITY", Some(&ca));
            assert_eq!(
                identity.status.code(),
                Some(2),
                "the certificate does not name 127.0.0.1"
            );
            assert!(
                one_error_line(&identity).contains("TLS"),
                "{}",
                String::from_utf8_lossy(&identity.stderr)
            );
            let system_roots = run("VERIFY_CA", None);
            assert_eq!(
                system_roots.status.code(),
                Some(2),
                "a private CA is not in the system roots"
            );
        }
    }
}

#[test]
fn bad_fleet_arguments_are_one_line_errors_before_any_connection() {
    // Port 1: a connection attempt would be refused; the plan must fail before it.
    for (args, says) in [
        (
            vec!["processlist", "--hosts", "db1"],
            "work with status, check",
        ),
        (vec!["status", "--hosts", "db1:port"], "is not a port"),
        (vec!["status", "--hosts", "a b"], "is not a host"),
        (
            vec!["status", "--hosts-file", "/nonexistent/hosts"],
            "cannot read --hosts-file",
        ),
        (
            vec!["replication", "--record", "--cluster"],
            "run it on each replica",
        ),
    ] {
        let output = Mytriage::offline()
            .args(["-h", "127.0.0.1", "-P", "1"])
            .args(&args)
            .output();
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        let line = one_error_line(&output);
        assert!(line.contains(says), "{args:?}: {line}");
        assert!(!line.contains("cannot connect"), "{args:?}: {line}");
    }
    // --evidence says where --record writes; alone it would silently do nothing.
    Mytriage::offline()
        .args(["replication", "--evidence", "/tmp/never-written.jsonl"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--record"));
    Mytriage::offline()
        .args(["status", "--hosts", "db1", "--parallel", "0"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--parallel"));
}

#[test]
fn version_names_the_commit_it_was_built_from() {
    let output = Mytriage::bare().arg("--version").expect_code(0);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let head = std::process::Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_else(|| "unknown".to_owned());
    assert_eq!(
        stdout.trim(),
        format!("mytriage {} (commit {head})", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn completions_and_the_man_page_need_no_server() {
    for shell in ["bash", "zsh", "fish"] {
        let output = Mytriage::bare().args(["completions", shell]).expect_code(0);
        assert!(
            String::from_utf8_lossy(&output.stdout).contains("mytriage"),
            "{shell}"
        );
    }
    let output = Mytriage::bare().arg("man").expect_code(0);
    assert!(String::from_utf8_lossy(&output.stdout).contains(".TH mytriage 1"));
    let output = Mytriage::bare()
        .args(["completions", "powershell"])
        .expect_code(2);
    assert!(String::from_utf8_lossy(&output.stderr).contains("bash"));
}
