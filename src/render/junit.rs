//! `check --format junit`: one JUnit XML test case per check, for CI systems that read JUnit
//! (GitLab, Jenkins, GitHub test reporters). CRIT is a `<failure>`; UNKNOWN (the section could not
//! be read) is `<skipped>` with the reason; WARN passes, with the finding in `<system-out>`, as a
//! warning does not fail a build; OK passes.

use std::io::{self, Write};

use crate::verdict::Verdict;
use crate::workflow::thresholds::Finding;

/// Writes the findings as one `<testsuite>` inside `<testsuites>`.
pub(crate) fn write(
    suite: &str,
    timestamp: &str,
    findings: &[Finding],
    out: &mut impl Write,
) -> io::Result<()> {
    let count = |v: Verdict| findings.iter().filter(|f| f.verdict == v).count();
    let counts = Counts {
        tests: findings.len(),
        failures: count(Verdict::Crit),
        errors: 0,
        skipped: count(Verdict::Unknown),
    };
    envelope(suite, timestamp, &counts, out, |out| {
        for finding in findings {
            let name = escape(finding.check);
            let summary = escape(&finding.summary);
            write!(
                out,
                r#"    <testcase classname="mytriage.check" name="{name}" time="0""#
            )?;
            match finding.verdict {
                Verdict::Ok => writeln!(out, " />")?,
                Verdict::Warn => writeln!(
                    out,
                    ">\n      <system-out>WARN {name}: {summary}</system-out>\n    </testcase>"
                )?,
                Verdict::Crit => writeln!(
                    out,
                    ">\n      <failure message=\"{summary}\" type=\"CRIT\">CRIT {name}: {summary}</failure>\n    </testcase>"
                )?,
                Verdict::Unknown => writeln!(
                    out,
                    ">\n      <skipped message=\"{summary}\" />\n    </testcase>"
                )?,
            }
        }
        Ok(())
    })
}

/// The document for a check that could not run at all (no connection): one test case, `server`,
/// in error, so a CI system still reads valid XML.
pub(crate) fn write_error(
    suite: &str,
    timestamp: &str,
    message: &str,
    out: &mut impl Write,
) -> io::Result<()> {
    let counts = Counts {
        tests: 1,
        failures: 0,
        errors: 1,
        skipped: 0,
    };
    let message = escape(message);
    envelope(suite, timestamp, &counts, out, |out| {
        writeln!(
            out,
            "    <testcase classname=\"mytriage.check\" name=\"server\" time=\"0\">\n      <error message=\"{message}\" type=\"UNKNOWN\">{message}</error>\n    </testcase>"
        )
    })
}

/// A suite's totals, as both `<testsuites>` and `<testsuite>` carry them.
struct Counts {
    tests: usize,
    failures: usize,
    errors: usize,
    skipped: usize,
}

/// The XML declaration, `<testsuites>` and its one `<testsuite>` around the test cases.
fn envelope<W: Write>(
    suite: &str,
    timestamp: &str,
    counts: &Counts,
    out: &mut W,
    cases: impl FnOnce(&mut W) -> io::Result<()>,
) -> io::Result<()> {
    let suite = escape(suite);
    let Counts {
        tests,
        failures,
        errors,
        skipped,
    } = counts;
    let totals =
        format!(r#"tests="{tests}" failures="{failures}" errors="{errors}" skipped="{skipped}""#);
    writeln!(out, r#"<?xml version="1.0" encoding="UTF-8"?>"#)?;
    writeln!(out, r#"<testsuites name="{suite}" {totals}>"#)?;
    writeln!(
        out,
        r#"  <testsuite name="{suite}" {totals} timestamp="{}">"#,
        escape(timestamp)
    )?;
    cases(out)?;
    writeln!(out, "  </testsuite>")?;
    writeln!(out, "</testsuites>")
}

/// Text for an XML attribute or element: the five markup characters escaped, and control
/// characters XML 1.0 cannot carry dropped.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(check: &'static str, verdict: Verdict, summary: &str) -> Finding {
        Finding {
            check,
            verdict,
            value: 1.0,
            summary: summary.to_owned(),
        }
    }

    /// The elements and attributes the JUnit schema (Jenkins' junit-10.xsd, which GitLab and
    /// the GitHub reporters read) requires, checked on the parsed document.
    #[test]
    fn the_xml_has_what_the_schema_requires() {
        let findings = [
            finding("connections", Verdict::Ok, "2 of 300"),
            finding("idle_in_trx", Verdict::Warn, "pid 7 open 31s"),
            finding(
                "blockers",
                Verdict::Crit,
                "root 20 app@10.0.0.5 holds up 3: last: UPDATE t SET a = 'x' WHERE b < 2 & c > 1",
            ),
            finding(
                "history",
                Verdict::Unknown,
                "not checked: reading took longer than 1s",
            ),
        ];
        let mut out = Vec::new();
        write(
            "mytriage check",
            "2026-12-02T03:00:00Z",
            &findings,
            &mut out,
        )
        .unwrap();
        let text = String::from_utf8(out).unwrap();
        let doc = roxmltree::Document::parse(&text).expect("well-formed XML");
        let root = doc.root_element();
        assert_eq!(root.tag_name().name(), "testsuites");
        let suites: Vec<_> = root
            .children()
            .filter(|n| n.has_tag_name("testsuite"))
            .collect();
        assert_eq!(suites.len(), 1);
        let suite = suites[0];
        for attribute in [
            "name",
            "tests",
            "failures",
            "errors",
            "skipped",
            "timestamp",
        ] {
            assert!(
                suite.attribute(attribute).is_some(),
                "testsuite@{attribute}"
            );
        }
        assert_eq!(suite.attribute("tests"), Some("4"));
        assert_eq!(suite.attribute("failures"), Some("1"));
        assert_eq!(suite.attribute("skipped"), Some("1"));
        let cases: Vec<_> = suite
            .children()
            .filter(|n| n.has_tag_name("testcase"))
            .collect();
        assert_eq!(cases.len(), 4);
        for case in &cases {
            assert!(case.attribute("name").is_some() && case.attribute("classname").is_some());
        }
        let failure = cases[2]
            .children()
            .find(|n| n.has_tag_name("failure"))
            .expect("CRIT is a failure");
        assert_eq!(
            failure.attribute("message"),
            Some("root 20 app@10.0.0.5 holds up 3: last: UPDATE t SET a = 'x' WHERE b < 2 & c > 1")
        );
        assert!(cases[0].children().all(|n| !n.is_element()), "OK passes");
        assert!(cases[1].children().any(|n| n.has_tag_name("system-out")));
        assert!(cases[3].children().any(|n| n.has_tag_name("skipped")));
    }

    #[test]
    fn a_check_that_could_not_connect_is_one_error() {
        let mut out = Vec::new();
        write_error(
            "mytriage check",
            "t",
            "cannot connect to 127.0.0.1:1 <refused>",
            &mut out,
        )
        .unwrap();
        let text = String::from_utf8(out).unwrap();
        let doc = roxmltree::Document::parse(&text).expect("well-formed XML");
        let error = doc
            .descendants()
            .find(|n| n.has_tag_name("error"))
            .expect("an error element");
        assert_eq!(
            error.attribute("message"),
            Some("cannot connect to 127.0.0.1:1 <refused>")
        );
        let suite = doc
            .descendants()
            .find(|n| n.has_tag_name("testsuite"))
            .unwrap();
        assert_eq!(suite.attribute("errors"), Some("1"));
    }
}
