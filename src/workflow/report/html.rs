//! `report --html FILE`: the Markdown report as one self-contained HTML page (inline CSS, the
//! pictures as inline SVG, nothing fetched), with the timeline above the Symptom and each kill's
//! blocker graph under the Cause.

use std::collections::BTreeMap;
use std::fmt::Write;

use crate::render::graph::escape;

const STYLE: &str = "body{font-family:-apple-system,'Segoe UI','Noto Sans KR','Malgun Gothic',sans-serif;max-width:1040px;margin:2em auto;padding:0 1em;color:#1f2328;line-height:1.55}\
h1{font-size:1.7em;border-bottom:1px solid #d0d7de;padding-bottom:.3em}\
h2{font-size:1.3em;margin-top:1.6em;border-bottom:1px solid #d8dee4;padding-bottom:.2em}\
code{background:#f2f4f6;padding:.1em .3em;border-radius:4px;font-size:.92em}\
pre{background:#f6f8fa;padding:.8em 1em;border-radius:6px;overflow-x:auto}\
pre code{background:none;padding:0}\
figure{margin:1em 0;overflow-x:auto}figure svg{max-width:100%;height:auto;border:1px solid #e5e7eb;border-radius:6px}\
figcaption{color:#57606a;font-size:.9em;margin-top:.3em}";

/// Pictures to place around the second-level headings, by the heading's number (0: Symptom).
#[derive(Debug, Default)]
pub(super) struct Figures {
    pub before_section: BTreeMap<usize, Vec<String>>,
    pub after_heading: BTreeMap<usize, Vec<String>>,
}

/// `<figure>` around an SVG, with a caption.
pub(super) fn figure(svg: &str, caption: &str) -> String {
    format!(
        "<figure>{svg}<figcaption>{}</figcaption></figure>\n",
        escape(caption)
    )
}

/// `text` with `code` spans, escaped.
fn inline(text: &str) -> String {
    let mut html = String::new();
    for (n, part) in text.split('`').enumerate() {
        if n % 2 == 1 {
            let _ = write!(html, "<code>{}</code>", escape(part));
        } else {
            html.push_str(&escape(part));
        }
    }
    html
}

/// The page: the report's Markdown (the subset it writes: headings, lists, paragraphs, code
/// blocks, code spans) as HTML, with the figures.
pub(super) fn page(markdown: &str, title: &str, lang: &str, figures: &Figures) -> String {
    let mut body = String::new();
    let mut in_list = false;
    let mut in_code = false;
    let mut section = 0;
    let close_list = |body: &mut String, in_list: &mut bool| {
        if *in_list {
            body.push_str("</ul>\n");
            *in_list = false;
        }
    };
    for line in markdown.lines() {
        if in_code {
            if line.starts_with("```") {
                body.push_str("</code></pre>\n");
                in_code = false;
            } else {
                body.push_str(&escape(line));
                body.push('\n');
            }
            continue;
        }
        if let Some(heading) = line.strip_prefix("## ") {
            close_list(&mut body, &mut in_list);
            for figure in figures.before_section.get(&section).into_iter().flatten() {
                body.push_str(figure);
            }
            let _ = writeln!(body, "<h2>{}</h2>", inline(heading));
            for figure in figures.after_heading.get(&section).into_iter().flatten() {
                body.push_str(figure);
            }
            section += 1;
        } else if let Some(heading) = line.strip_prefix("# ") {
            close_list(&mut body, &mut in_list);
            let _ = writeln!(body, "<h1>{}</h1>", inline(heading));
        } else if let Some(item) = line.strip_prefix("- ") {
            if !in_list {
                body.push_str("<ul>\n");
                in_list = true;
            }
            let _ = writeln!(body, "<li>{}</li>", inline(item));
        } else if let Some(language) = line.strip_prefix("```") {
            close_list(&mut body, &mut in_list);
            let _ = write!(body, "<pre><code class=\"language-{}\">", escape(language));
            in_code = true;
        } else if line.trim().is_empty() {
            close_list(&mut body, &mut in_list);
        } else {
            close_list(&mut body, &mut in_list);
            let _ = writeln!(body, "<p>{}</p>", inline(line));
        }
    }
    close_list(&mut body, &mut in_list);
    if in_code {
        body.push_str("</code></pre>\n");
    }
    format!(
        "<!DOCTYPE html>\n<html lang=\"{lang}\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n{body}</body>\n</html>\n",
        escape(title)
    )
}
