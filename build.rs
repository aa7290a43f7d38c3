//! Stamps the git commit into the binary, for `mytriage --version`.
//!
//! `MYTRIAGE_GIT_COMMIT` is set to `git rev-parse --short HEAD` at build time, or to "unknown"
//! outside a git checkout (a source tarball, `cargo install` from a registry). A packager may set
//! `MYTRIAGE_GIT_COMMIT` in the environment to override it.

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=MYTRIAGE_GIT_COMMIT");
    let commit = std::env::var("MYTRIAGE_GIT_COMMIT")
        .ok()
        .filter(|c| !c.trim().is_empty())
        .or_else(|| git(&["rev-parse", "--short", "HEAD"]))
        .unwrap_or_else(|| "unknown".to_owned());
    println!("cargo:rustc-env=MYTRIAGE_GIT_COMMIT={commit}");
    // Rebuild when HEAD moves: HEAD itself (a checkout), the branch it names (a commit), and
    // packed-refs (a branch packed by git gc). Paths come from git, so worktrees work too.
    for path in [
        git(&["rev-parse", "--git-path", "HEAD"]),
        git(&["rev-parse", "--symbolic-full-name", "HEAD"])
            .filter(|name| name.starts_with("refs/"))
            .and_then(|name| git(&["rev-parse", "--git-path", &name])),
        git(&["rev-parse", "--git-path", "packed-refs"]),
    ]
    .into_iter()
    .flatten()
    // A path that does not exist would make cargo rerun this script, and rebuild, every time.
    .filter(|path| std::path::Path::new(path).exists())
    {
        println!("cargo:rerun-if-changed={path}");
    }
}

/// One line of git's output, or None when git is missing or this is not a checkout.
fn git(args: &[&str]) -> Option<String> {
    let output = Command::new("git").args(args).output().ok()?;
    let text = String::from_utf8(output.stdout).ok()?;
    let line = text.trim();
    (output.status.success() && !line.is_empty()).then(|| line.to_owned())
}
