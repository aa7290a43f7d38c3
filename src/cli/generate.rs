//! Shell completions and the manual page, generated from the clap definitions in this module's
//! parent, so neither can drift from the flags the binary really takes.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};
use clap::CommandFactory;

use super::{Cli, CompletionShell};

/// Writes the completion script for `shell`.
pub(crate) fn write_completions(shell: CompletionShell, out: &mut dyn Write) -> Result<()> {
    let shell = match shell {
        CompletionShell::Bash => clap_complete::Shell::Bash,
        CompletionShell::Zsh => clap_complete::Shell::Zsh,
        CompletionShell::Fish => clap_complete::Shell::Fish,
    };
    // clap_complete panics on a failed write; into memory it cannot fail, and a closed pipe
    // afterwards is an error like any other.
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "mytriage", &mut script);
    out.write_all(&script)
        .and_then(|()| out.flush())
        .context("writing the completion script")
}

/// Writes the manual page, mytriage(1), in roff.
pub(crate) fn write_man_page(out: &mut dyn Write) -> Result<()> {
    let mut page = Vec::new();
    clap_mangen::Man::new(Cli::command())
        .render(&mut page)
        .context("rendering the manual page")?;
    out.write_all(&page)
        .and_then(|()| out.flush())
        .context("writing the manual page")
}

/// Writes mytriage.1 and one page per subcommand (mytriage-locks.1, mytriage-incident-start.1)
/// into `dir`, which is created if needed: the pages the main page's SUBCOMMANDS section names.
pub(crate) fn write_man_pages(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create the directory {}", dir.display()))?;
    clap_mangen::generate_to(Cli::command(), dir)
        .with_context(|| format!("writing the manual pages into {}", dir.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every subcommand's name, from the same definitions the binary parses with.
    fn subcommands() -> Vec<String> {
        let names: Vec<String> = Cli::command()
            .get_subcommands()
            .map(|c| c.get_name().to_owned())
            .collect();
        assert!(names.len() > 15, "{names:?}");
        names
    }

    fn completion(shell: CompletionShell) -> String {
        let mut out = Vec::new();
        write_completions(shell, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn every_subcommand_is_in_each_completion_script() {
        for shell in [
            CompletionShell::Bash,
            CompletionShell::Zsh,
            CompletionShell::Fish,
        ] {
            let script = completion(shell);
            for name in subcommands() {
                // As a word of its own: `trx` must not pass for being inside another name.
                let word = regex::Regex::new(&format!(r"(^|[^a-z-]){name}([^a-z-]|$)")).unwrap();
                assert!(word.is_match(&script), "{shell:?} completion lacks {name}");
            }
            assert!(script.contains("login-path"), "{shell:?}");
        }
    }

    #[test]
    fn every_subcommand_is_in_the_man_page() {
        let mut out = Vec::new();
        write_man_page(&mut out).unwrap();
        let page = String::from_utf8(out).unwrap();
        assert!(page.contains(".TH mytriage 1"), "{page}");
        let subcommands_section = page
            .split(".SH SUBCOMMANDS")
            .nth(1)
            .expect("a SUBCOMMANDS section");
        for name in subcommands() {
            // Each is listed as a reference to its own page, roff-escaped: mytriage\-server(1).
            let reference = format!("mytriage\\-{}(1)", name.replace('-', "\\-"));
            assert!(
                subcommands_section.contains(&reference),
                "the man page lacks {name}"
            );
        }
        assert!(
            page.contains("login\\-path"),
            "connection flags are documented"
        );
    }

    #[test]
    fn every_subcommand_gets_a_man_page_of_its_own() {
        let dir = tempfile::tempdir().unwrap();
        write_man_pages(dir.path()).unwrap();
        for name in subcommands()
            .iter()
            .map(|n| format!("mytriage-{n}.1"))
            .chain(["mytriage.1".into()])
        {
            let page = std::fs::read_to_string(dir.path().join(&name))
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(page.contains(".TH mytriage"), "{name}");
        }
        let kill = std::fs::read_to_string(dir.path().join("mytriage-kill.1")).unwrap();
        assert!(
            kill.contains("\\-\\-dry\\-run"),
            "a subcommand's page has its own flags"
        );
    }
}
