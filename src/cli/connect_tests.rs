//! The connection flags as typed (`-pSECRET`, `-h`, `--ssl-mode`), and the precedence of the
//! connection sources from the command line down: flags, then environment, then option files,
//! then defaults.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Result;
use clap::Parser;

use super::{Cli, mysql_style_args};
use crate::connect::*;

fn args(extra: &[&str]) -> Flags {
    let mut argv = vec!["mytriage"];
    argv.extend_from_slice(extra);
    argv.push("server");
    Cli::try_parse_from(mysql_style_args(argv))
        .expect("valid arguments")
        .connect
        .flags()
}

fn resolve_with(flags: &Flags, env: &[(&str, &str)], home: &Path) -> Result<Resolved> {
    let env: HashMap<String, String> = env
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let lookup = move |name: &str| env.get(name).cloned();
    let inputs = Inputs {
        flags,
        env: &lookup,
        home: Some(home.to_path_buf()),
        prompt: &|| Ok("typed".to_owned()),
    };
    resolve(&inputs)
}

/// A home directory whose ~/.my.cnf sets every option, plus an extra file.
fn home_with_my_cnf() -> tempfile::TempDir {
    let home = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        home.path().join(".my.cnf"),
        "[client]\nhost=file-host\nport=3310\nuser=file-user\npassword=file-pw\nssl-mode=REQUIRED\n\
         [mytriage]\nquery-timeout=20\n[mysqldump]\nuser=not-us\n",
    )
    .expect("write .my.cnf");
    home
}

fn extra_file(dir: &Path, text: &str) -> PathBuf {
    let path = dir.join("extra.cnf");
    std::fs::write(&path, text).expect("write extra file");
    path
}

#[test]
fn option_file_beats_defaults() {
    let home = home_with_my_cnf();
    // --defaults-extra-file keeps the standard files, so ~/.my.cnf in the temp HOME is read.
    let extra = extra_file(home.path(), "[client]\n");
    let args = args(&["--defaults-extra-file", extra.to_str().unwrap()]);
    let config = resolve_with(&args, &[], home.path()).unwrap().config;
    assert_eq!(config.host, "file-host");
    assert_eq!(config.port, 3310);
    assert_eq!(config.user, "file-user");
    assert_eq!(config.password.as_deref(), Some("file-pw"));
    assert_eq!(config.ssl_mode, SslMode::Required);
    assert_eq!(
        config.query_timeout,
        Duration::from_secs(20),
        "[mytriage] group is read"
    );
    assert_eq!(config.connect_timeout, DEFAULT_CONNECT_TIMEOUT);
}

#[test]
fn environment_beats_option_file() {
    let home = home_with_my_cnf();
    let env = [
        ("MYSQL_HOST", "env-host"),
        ("MYSQL_TCP_PORT", "3320"),
        ("MYSQL_PWD", "env-pw"),
    ];
    let config = resolve_with(&args(&[]), &env, home.path()).unwrap().config;
    assert_eq!((config.host.as_str(), config.port), ("env-host", 3320));
    assert_eq!(config.password.as_deref(), Some("env-pw"));
    assert_eq!(
        config.user, "file-user",
        "what the environment leaves unset still comes from the file"
    );
}

#[test]
fn flags_beat_environment_and_option_file() {
    let home = home_with_my_cnf();
    let env = [
        ("MYSQL_HOST", "env-host"),
        ("MYSQL_TCP_PORT", "3320"),
        ("MYSQL_PWD", "env-pw"),
    ];
    let resolved = resolve_with(
        &args(&["-h", "flag-host", "-P", "3330", "-pflag-pw"]),
        &env,
        home.path(),
    )
    .unwrap();
    let config = resolved.config;
    assert_eq!((config.host.as_str(), config.port), ("flag-host", 3330));
    assert_eq!(config.password.as_deref(), Some("flag-pw"));
    assert!(
        resolved
            .warnings
            .iter()
            .any(|w| w.contains("password on the command line"))
    );
}

#[test]
fn url_layers_under_its_own_level() {
    let home = home_with_my_cnf();
    let env = [
        ("MYTRIAGE_URL", "mysql://url-user:url-pw@url-host:3340/shop"),
        ("MYSQL_HOST", "env-host"),
    ];
    let config = resolve_with(&args(&[]), &env, home.path()).unwrap().config;
    assert_eq!(
        config.host, "env-host",
        "MYSQL_HOST beats MYTRIAGE_URL's host"
    );
    assert_eq!((config.user.as_str(), config.port), ("url-user", 3340));
    assert_eq!(config.database.as_deref(), Some("shop"));

    let config = resolve_with(
        &args(&["--url", "mysql://flag-url@flag-url-host", "-P", "3350"]),
        &env,
        home.path(),
    )
    .unwrap()
    .config;
    assert_eq!(config.host, "flag-url-host", "--url beats the environment");
    assert_eq!(config.port, 3350, "-P beats --url");
    assert_eq!(config.user, "flag-url");
}

#[test]
fn no_defaults_ignores_option_files() {
    let home = home_with_my_cnf();
    let config = resolve_with(&args(&["--no-defaults"]), &[("USER", "login")], home.path())
        .unwrap()
        .config;
    assert_eq!(config.host, "localhost");
    assert_eq!(config.port, DEFAULT_PORT);
    assert_eq!(
        config.user, "login",
        "the login name is the default user, as in mysql"
    );
    assert_eq!(config.ssl_mode, SslMode::Preferred);
    assert_eq!(config.query_timeout, DEFAULT_QUERY_TIMEOUT);
}

#[test]
fn defaults_file_reads_only_that_file() {
    let home = home_with_my_cnf();
    let only = extra_file(home.path(), "[mytriage]\nhost=only-host\n");
    let config = resolve_with(
        &args(&["--defaults-file", only.to_str().unwrap()]),
        &[],
        home.path(),
    )
    .unwrap()
    .config;
    assert_eq!(config.host, "only-host");
    assert_eq!(config.user, "root", "~/.my.cnf was not read");
}

#[test]
fn extra_file_is_overridden_by_home_file() {
    let home = home_with_my_cnf();
    let extra = extra_file(
        home.path(),
        "[client]\nhost=extra-host\nsocket=/tmp/x.sock\n",
    );
    let config = resolve_with(
        &args(&["--defaults-extra-file", extra.to_str().unwrap()]),
        &[],
        home.path(),
    )
    .unwrap()
    .config;
    assert_eq!(
        config.host, "file-host",
        "~/.my.cnf is read after the extra file"
    );
    assert_eq!(config.socket, None, "a socket is only used for localhost");
}

#[test]
fn bare_p_prompts() {
    let home = tempfile::tempdir().unwrap();
    let config = resolve_with(
        &args(&["--no-defaults", "-p"]),
        &[("MYSQL_PWD", "env")],
        home.path(),
    )
    .unwrap()
    .config;
    assert_eq!(config.password.as_deref(), Some("typed"));
}

#[test]
fn bad_values_name_their_source() {
    let home = tempfile::tempdir().unwrap();
    let bad_port = extra_file(home.path(), "[client]\nport=eleven\n");
    let error = resolve_with(
        &args(&["--defaults-file", bad_port.to_str().unwrap()]),
        &[],
        home.path(),
    )
    .unwrap_err();
    let message = format!("{error:#}");
    assert!(
        message.contains("extra.cnf:2") && message.contains("port"),
        "{message}"
    );

    let bad_mode = extra_file(home.path(), "[mytriage]\nssl-mode=sometimes\n");
    let error = resolve_with(
        &args(&["--defaults-file", bad_mode.to_str().unwrap()]),
        &[],
        home.path(),
    )
    .unwrap_err();
    assert!(
        format!("{error:#}").contains("unknown ssl-mode 'sometimes'"),
        "{error:#}"
    );

    let error = resolve_with(
        &args(&["--no-defaults"]),
        &[("MYSQL_TCP_PORT", "0")],
        home.path(),
    )
    .unwrap_err();
    assert!(format!("{error:#}").contains("MYSQL_TCP_PORT"), "{error:#}");

    let missing = home.path().join("absent.cnf");
    let error = resolve_with(
        &args(&["--defaults-file", missing.to_str().unwrap()]),
        &[],
        home.path(),
    )
    .unwrap_err();
    assert!(format!("{error:#}").contains("absent.cnf"), "{error:#}");
}

#[test]
fn socket_only_for_localhost() {
    let home = tempfile::tempdir().unwrap();
    let config = resolve_with(
        &args(&["--no-defaults", "-S", "/run/m.sock"]),
        &[],
        home.path(),
    )
    .unwrap()
    .config;
    assert_eq!(config.socket.as_deref(), Some("/run/m.sock"));
    assert_eq!(config.target(), "socket /run/m.sock");
    let config = resolve_with(
        &args(&["--no-defaults", "-S", "/run/m.sock", "-h", "db"]),
        &[],
        home.path(),
    )
    .unwrap()
    .config;
    assert_eq!(config.socket, None);
}

#[test]
fn password_forms() {
    let parse = |args: &[&str]| {
        Cli::try_parse_from(mysql_style_args(args.iter().copied())).map(|cli| cli.connect.password)
    };
    assert_eq!(parse(&["mytriage", "server"]).unwrap(), None);
    assert_eq!(parse(&["mytriage", "-p", "server"]).unwrap(), Some(None));
    assert_eq!(
        parse(&["mytriage", "-psecret", "server"]).unwrap(),
        Some(Some("secret".into()))
    );
    assert_eq!(
        parse(&["mytriage", "--password=secret", "server"]).unwrap(),
        Some(Some("secret".into()))
    );
    assert_eq!(parse(&["mytriage", "server", "-p"]).unwrap(), Some(None));
    assert_eq!(
        parse(&["mytriage", "-p=", "server"]).unwrap(),
        Some(Some(String::new()))
    );
}

#[test]
fn host_is_dash_h_and_flags_are_global() {
    let cli = Cli::try_parse_from(["mytriage", "server", "-h", "db1", "-P", "3307"]).unwrap();
    assert_eq!(cli.connect.host.as_deref(), Some("db1"));
    assert_eq!(cli.connect.port, Some(3307));
}

#[test]
fn ssl_mode_is_case_insensitive_and_strict() {
    let cli = Cli::try_parse_from(["mytriage", "--ssl-mode", "verify_ca", "server"]).unwrap();
    assert_eq!(cli.connect.ssl_mode, Some(SslMode::VerifyCa));
    assert!(Cli::try_parse_from(["mytriage", "--ssl-mode", "SOMETIMES", "server"]).is_err());
    assert_eq!("required".parse::<SslMode>(), Ok(SslMode::Required));
}

/// The login path file written by the real mysql_config_editor 9.7 (see connect/login_file.rs):
/// `[client]` user=fallback-user; `[ci]` 127.0.0.1:13307 as root; `[pw]` app@db.example with
/// socket /tmp/x.sock and the password `s3cr#t "q`. Copied into `dir` as 0600, as the tool
/// leaves it (git keeps no modes).
fn login_file_in(dir: &Path) -> PathBuf {
    let fixture = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/login_files/mysql-9.7.mylogin.cnf"
    );
    let path = dir.join(".mylogin.cnf");
    std::fs::copy(fixture, &path).expect("copy the login file");
    set_mode(&path, 0o600);
    path
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

#[test]
fn login_path_values_beat_option_files_and_lose_to_flags() {
    let home = home_with_my_cnf();
    login_file_in(home.path());
    let config = resolve_with(&args(&["--login-path", "ci"]), &[], home.path())
        .unwrap()
        .config;
    assert_eq!(config.host, "127.0.0.1", "[ci] over ~/.my.cnf");
    assert_eq!(config.port, 13307);
    assert_eq!(config.user, "root");
    assert_eq!(
        config.password.as_deref(),
        Some("file-pw"),
        "what the login path leaves unset still comes from ~/.my.cnf"
    );
    let flags = args(&["--login-path", "ci", "-u", "flag-user", "-P", "3399"]);
    let config = resolve_with(&flags, &[], home.path()).unwrap().config;
    assert_eq!(config.user, "flag-user", "flags over the login path");
    assert_eq!(config.port, 3399);
    assert_eq!(config.host, "127.0.0.1");
}

#[test]
fn login_path_password_with_quotes_and_hash_survives_decoding() {
    let home = tempfile::tempdir().unwrap();
    login_file_in(home.path());
    let config = resolve_with(&args(&["--login-path", "pw"]), &[], home.path())
        .unwrap()
        .config;
    assert_eq!(config.password.as_deref(), Some("s3cr#t \"q"));
    assert_eq!(config.user, "app");
    assert_eq!(config.host, "db.example");
}

#[test]
fn the_login_files_client_group_is_read_without_login_path_even_under_no_defaults() {
    let home = home_with_my_cnf();
    login_file_in(home.path());
    let config = resolve_with(&args(&[]), &[], home.path()).unwrap().config;
    assert_eq!(
        config.user, "fallback-user",
        "[client] of .mylogin.cnf over ~/.my.cnf"
    );
    assert_eq!(config.host, "file-host", "[ci] is read only when asked for");
    let config = resolve_with(
        &args(&["--no-defaults", "--login-path", "ci"]),
        &[],
        home.path(),
    )
    .unwrap()
    .config;
    assert_eq!(
        config.host, "127.0.0.1",
        "as mysql, --no-defaults keeps the login file"
    );
    assert_eq!(config.password, None, "but ~/.my.cnf is not read");
}

#[test]
fn mysql_test_login_file_names_the_login_file() {
    let home = tempfile::tempdir().unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let path = login_file_in(elsewhere.path());
    let env = [("MYSQL_TEST_LOGIN_FILE", path.to_str().unwrap())];
    let config = resolve_with(&args(&["--login-path", "ci"]), &env, home.path())
        .unwrap()
        .config;
    assert_eq!(config.port, 13307);
    let error = resolve_with(&args(&["--login-path", "ci"]), &[], home.path()).unwrap_err();
    assert!(format!("{error:#}").contains("does not exist"), "{error:#}");
}

/// The one-line message of a failed resolution.
fn login_error(flags: &[&str], home: &Path) -> String {
    let error = resolve_with(&args(flags), &[], home).expect_err("resolution fails");
    let message = crate::error::one_line(&error);
    assert!(!message.contains('\n'), "{message}");
    message
}

#[test]
fn bad_login_files_and_unknown_login_paths_get_one_clear_line() {
    let home = tempfile::tempdir().unwrap();
    let message = login_error(&["--login-path", "ci"], home.path());
    assert!(
        message.contains(".mylogin.cnf does not exist") && message.contains("mysql_config_editor"),
        "{message}"
    );

    let path = login_file_in(home.path());
    let message = login_error(&["--login-path", "prod"], home.path());
    assert!(
        message.contains("--login-path prod") && message.contains("only client, ci, pw"),
        "{message}"
    );

    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() - 3]).unwrap();
    let message = login_error(&["--login-path", "ci"], home.path());
    assert!(
        message.contains("not one mysql_config_editor wrote") && message.contains("cut short"),
        "{message}"
    );
    let warned = resolve_with(&args(&[]), &[], home.path()).unwrap();
    assert!(
        warned.warnings.iter().any(|w| w.contains("cut short")),
        "without --login-path a corrupt file is only a warning: {:?}",
        warned.warnings
    );

    std::fs::write(&path, &bytes).unwrap();
    set_mode(&path, 0o644);
    let message = login_error(&["--login-path", "ci"], home.path());
    assert!(message.contains("chmod 600"), "{message}");
}

#[test]
fn a_login_file_that_is_not_option_text_is_an_error_only_when_asked_for() {
    let home = tempfile::tempdir().unwrap();
    let path = home.path().join(".mylogin.cnf");
    let bytes = crate::connect::login_file::encode("user = nobody\n[ci]\nport = 1\n", [7; 20]);
    std::fs::write(&path, bytes).unwrap();
    set_mode(&path, 0o600);
    let message = login_error(&["--login-path", "ci"], home.path());
    assert!(
        message.contains("--login-path ci") && message.contains("without a preceding [group]"),
        "{message}"
    );
    let resolved = resolve_with(&args(&[]), &[], home.path()).unwrap();
    assert!(
        resolved
            .warnings
            .iter()
            .any(|w| w.contains("ignoring the login path file")),
        "{:?}",
        resolved.warnings
    );
    assert_ne!(resolved.config.user, "nobody");
}
