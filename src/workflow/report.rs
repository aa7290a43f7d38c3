//! `mytriage report`: the incident document, in Markdown, from the evidence log alone. The
//! structure is the one on-call teams share with non-engineers: Symptom (현상), Cause (원인),
//! Response (대응), Prevention (대책). Sentences use plain words; raw statements go to an appendix.

use std::path::Path;

use anyhow::Result;

use crate::evidence::{self};

mod html;
mod markdown;
mod pictures;
mod replication;
mod scope;

use markdown::{outcome_label, render, statement, tables, when};
use scope::select;

/// Report languages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Lang {
    /// 한국어
    Ko,
    /// English
    En,
}

/// Which records a report covers, and in which language.
#[derive(Debug, Clone, Default)]
pub(crate) struct Options {
    /// An incident id; the latest incident when neither it nor a time range is given.
    pub incident: Option<String>,
    pub since: Option<String>,
    pub until: Option<String>,
    /// From the locale when not given.
    pub lang: Option<Lang>,
    /// Keep the statements' literals (`--no-redact`, the internal version); by default they are
    /// masked as `top` normalises them, so the report is safe to send outside the team.
    pub keep_literals: bool,
}

/// `report --html`: the file to write and the recording to draw the load from.
#[derive(Debug, Clone)]
pub(crate) struct HtmlOut {
    pub file: std::path::PathBuf,
    pub recording: Option<std::path::PathBuf>,
}

/// Builds the report for the incident or time range the arguments name.
pub(crate) fn build(path: &Path, args: &Options) -> Result<String> {
    let (records, _) = evidence::read_all(path)?;
    let scope = select(records, args)?;
    let lang = args.lang.unwrap_or_else(default_lang);
    Ok(render(&scope, lang, path, args.keep_literals))
}

/// The report as one self-contained HTML page with its pictures: the timeline (with the load of
/// `recording`, a `top --record` file, when given) and the kill snapshots' blocker graphs.
/// Everything is read and drawn before anything is written, so bad input writes nothing.
pub(crate) fn build_html(path: &Path, args: &Options, recording: Option<&Path>) -> Result<String> {
    let (records, _) = evidence::read_all(path)?;
    let scope = select(records, args)?;
    let lang = args.lang.unwrap_or_else(default_lang);
    let samples = recording
        .map(|file| read_recording(file).map(|samples| (file, samples)))
        .transpose()?;
    let timeline = pictures::timeline(&scope, lang, samples)?;
    let markdown = render(&scope, lang, path, args.keep_literals);
    let ko = lang == Lang::Ko;
    let mut figures = html::Figures::default();
    if let Some(timeline) = &timeline {
        let caption = match (&timeline.load, ko) {
            (Some(_), false) => {
                "What happened, over the database load (average active sessions by wait class, from the recording)."
            }
            (Some(_), true) => {
                "일어난 일과 데이터베이스 부하 (대기 유형별 평균 활성 세션, 기록에서)."
            }
            (None, false) => "What happened, in order.",
            (None, true) => "일어난 일의 순서.",
        };
        figures
            .before_section
            .entry(0)
            .or_default()
            .push(html::figure(&timeline.to_svg()?, caption));
    }
    for (caption, graph) in pictures::blocker_graphs(&scope, lang, args.keep_literals) {
        figures
            .after_heading
            .entry(1)
            .or_default()
            .push(html::figure(&graph.to_svg(&caption), &caption));
    }
    let title = scope.title.clone().unwrap_or_else(|| {
        (if ko {
            "데이터베이스 장애"
        } else {
            "database incident"
        })
        .to_owned()
    });
    Ok(html::page(
        &markdown,
        &title,
        if ko { "ko" } else { "en" },
        &figures,
    ))
}

/// A `top --record` file; a `watch --format json` stream is refused by name, since its samples
/// count blocked sessions but not the active ones the load is made of.
fn read_recording(file: &Path) -> Result<Vec<crate::probe::top::Sample>> {
    let first: Option<serde_json::Value> = std::fs::read_to_string(file).ok().and_then(|text| {
        text.lines()
            .find(|l| !l.trim().is_empty())
            .and_then(|l| serde_json::from_str(l).ok())
    });
    if first
        .is_some_and(|line| line.get("active").is_none() && line.get("blocked_sessions").is_some())
    {
        anyhow::bail!(
            "{} is a `watch --format json` stream: it counts blocked sessions, not the active sessions the load is drawn from; record the load with `mytriage top --record FILE`",
            file.display()
        );
    }
    crate::probe::top::read_recording(file)
}

/// Korean when the locale says so.
pub(crate) fn default_lang() -> Lang {
    let locale = ["LC_ALL", "LC_MESSAGES", "LANG"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|s| !s.is_empty()));
    if locale.is_some_and(|l| l.starts_with("ko")) {
        Lang::Ko
    } else {
        Lang::En
    }
}

#[cfg(test)]
mod picture_tests;
#[cfg(test)]
mod tests;
