//! The HTML report and its pictures, on logs and a recording captured live on MySQL 9.7. Each
//! picture is also rendered to PNG by `rsvg-convert` (`scripts/testdb tools` installs it) into
//! `target/pictures/`, for people to look at, and its size checked.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::*;
use crate::probe::locks::tree::{self, Edge, How, WaitInfo, WaitKind};
use crate::probe::locks::{LockSession, LockSources, LocksReport, UnknownBlocker};
use crate::render::Report;
use crate::server::{LockWaitSource, MdlSource};

/// A live incident on MySQL 9.7: an idle transaction holds row 1, three writers wait for it and
/// a fourth for the first of them (a chain), CPU work beside it; incident start, a note, the
/// kill of the root (its snapshot records the tree), incident end.
const LOG: &str = "fixtures/evidence/incident-load.mysql-9.7.jsonl";
/// `top --record` over the same incident, one sample a second (its digest counters dropped).
/// `scripts/capture-report-fixture` stages and records the incident again.
const RECORDING: &str = "fixtures/recordings/incident-load.mysql-9.7.ndjson";
/// The log of many kinds of record (dry run, deadlock, refused, failed, rolling back).
const V1_LOG: &str = "fixtures/evidence/evidence-v1.mysql-9.7.jsonl";

fn english(keep_literals: bool) -> Options {
    Options {
        lang: Some(Lang::En),
        keep_literals,
        ..Options::default()
    }
}

fn svgs(html: &str) -> Vec<String> {
    html.split("<svg ")
        .skip(1)
        .map(|rest| format!("<svg {}</svg>", rest.split("</svg>").next().unwrap()))
        .collect()
}

#[test]
fn the_html_page_holds_the_markdown_reports_content_and_needs_nothing_from_outside() {
    let markdown = build(Path::new(LOG), &english(false)).unwrap();
    let html = build_html(Path::new(LOG), &english(false), None).unwrap();
    // Every line of the Markdown, as text, is on the page.
    for line in markdown
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with("```"))
    {
        let text = line.trim_start_matches(['#', '-', ' ']).replace('`', "");
        let text = crate::render::graph::escape(&text);
        let page_text = html.replace("<code>", "").replace("</code>", "");
        assert!(page_text.contains(&text), "missing {text:?}");
    }
    for external in ["<script", "<link", "<img", "src=", "url(http", "@import"] {
        assert!(!html.contains(external), "{external} in the page");
    }
    // The only URL is the SVG namespace, which nothing fetches.
    assert_eq!(
        html.matches("http").count(),
        html.matches("http://www.w3.org/2000/svg").count()
    );
    // Masked by default, as the Markdown is; whole in the internal version.
    assert!(!html.contains("kim@example.com"), "literal leaked");
    assert!(
        html.contains("UPDATE i17.orders SET email=?, v=v+? WHERE id=?"),
        "{html}"
    );
    let internal = build_html(Path::new(LOG), &english(true), None).unwrap();
    assert!(internal.contains("kim@example.com"));
    // The timeline before the Symptom, the blocker graph under the Cause.
    let (symptom, cause) = (
        html.find("<h2>Symptom").unwrap(),
        html.find("<h2>Cause").unwrap(),
    );
    let pictures: Vec<usize> = html.match_indices("<svg ").map(|(i, _)| i).collect();
    assert_eq!(pictures.len(), 2, "timeline and one blocker graph");
    assert!(pictures[0] < symptom && pictures[1] > cause);
    let korean = Options {
        lang: Some(Lang::Ko),
        ..Options::default()
    };
    let ko = build_html(Path::new(LOG), &korean, None).unwrap();
    assert!(ko.contains("<html lang=\"ko\">") && ko.contains("<h2>원인 (Cause)</h2>"));
    assert!(
        ko.contains("타임라인") && ko.contains("세션 12637 종료됨"),
        "{ko}"
    );
}

#[test]
fn the_timeline_marks_each_record_and_the_load_falls_at_the_kill() {
    let (records, _) = evidence::read_all(Path::new(LOG)).unwrap();
    let scope = select(records, &english(false)).unwrap();
    let samples = crate::probe::top::read_recording(Path::new(RECORDING)).unwrap();
    let timeline = pictures::timeline(&scope, Lang::En, Some((Path::new(RECORDING), samples)))
        .unwrap()
        .expect("a timeline");
    let labels: Vec<&str> = timeline.events.iter().map(|e| e.label.as_str()).collect();
    assert_eq!(
        labels,
        [
            "incident start",
            "note: paged: checkout p99 over 5 …",
            "kill 12637: ended",
            "incident end"
        ]
    );
    let kill = timeline.events[2].at;
    let start = timeline.events[0].at;
    let load = timeline.load.as_ref().expect("load");
    assert_eq!(load.classes[0].0, "row lock", "the heaviest class first");
    let total = |i: usize| load.classes.iter().map(|(_, v)| v[i]).sum::<f64>();
    let mean = |keep: &dyn Fn(chrono::DateTime<chrono::Utc>) -> bool| {
        let picked: Vec<f64> = (0..load.at.len())
            .filter(|&i| keep(load.at[i]))
            .map(total)
            .collect();
        picked.iter().sum::<f64>() / picked.len() as f64
    };
    let before = mean(&|at| at > start + chrono::Duration::seconds(2) && at < kill);
    let after = mean(&|at| at > kill + chrono::Duration::seconds(2));
    assert!(
        before >= 4.0 && after <= 1.0,
        "before {before}, after {after}"
    );
    // The window reaches back to the recording's first sample, ahead of the incident.
    assert!(timeline.from < start);
}

#[test]
fn a_recording_that_misses_the_incident_or_is_a_watch_stream_is_refused_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let elsewhere = dir.path().join("old.ndjson");
    std::fs::write(
        &elsewhere,
        "{\"at\":\"2026-01-01T00:00:00.000Z\",\"active\":[]}\n",
    )
    .unwrap();
    let error = build_html(Path::new(LOG), &english(false), Some(&elsewhere))
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("has no sample between 2026-12-02 03:03:41 UTC and 2026-12-02 03:06:08 UTC")
            && error.contains("it covers 2026-01-01 00:00:00 UTC"),
        "{error}"
    );
    let watch = dir.path().join("watch.ndjson");
    std::fs::write(
        &watch,
        "{\"at\": \"2026-12-02T02:54:30.000Z\", \"ok\": true, \"error\": null, \"connection_id\": 9, \"verdict\": \"WARN\", \"root_blockers\": [12162], \"blocked_sessions\": 4, \"history_list_length\": 3, \"threads_connected\": 12, \"latest_deadlock\": null, \"events\": []}\n",
    )
    .unwrap();
    let error = build_html(Path::new(LOG), &english(false), Some(&watch))
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("is a `watch --format json` stream"),
        "{error}"
    );
    assert!(!error.contains('\n'));
    // A range with no record: the page has no timeline, unless a recording asks for one.
    let empty = Options {
        since: Some("2020-01-01T00:00:00Z".into()),
        until: Some("2020-01-02T00:00:00Z".into()),
        ..english(false)
    };
    let page = build_html(Path::new(LOG), &empty, None).unwrap();
    assert!(!page.contains("<svg ") && page.contains("No blocking session"));
    let error = build_html(Path::new(LOG), &empty, Some(Path::new(RECORDING)))
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("no incident to place the recording"),
        "{error}"
    );
}

/// A blocker tree as `locks` builds it: a chain with an idle root, a waiter under it by an
/// inferred edge, and a waiter whose blocker the server does not name.
fn locks_report() -> LocksReport {
    let session = |pid: u64| LockSession {
        pid,
        user: Some("app".into()),
        host: Some("10.0.0.5:35452".into()),
        db: Some("shop".into()),
        command: Some(if pid == 93119 { "Sleep" } else { "Query" }.into()),
        state: None,
        idle_in_trx: pid == 93119,
        trx_id: Some(format!("{}", pid * 10)),
        trx_state: Some("RUNNING".into()),
        trx_age_s: Some(if pid == 93119 { 42 } else { 7 }),
        trx_rows_locked: Some(1),
        trx_rows_modified: Some(1),
        statement: (pid != 93119).then(|| "UPDATE shop.orders SET v=v+1 WHERE id=1".into()),
        last_statement: (pid == 93119)
            .then(|| "UPDATE shop.orders SET v=v+1 WHERE email='kim@example.com'".into()),
    };
    let mut inferred = Edge::sample(93123, 93120, "shop.orders");
    inferred.wait = WaitInfo {
        kind: WaitKind::TableFlush,
        held: Some("shop.orders open since before the flush".into()),
        how: How::Inferred,
        ..inferred.wait
    };
    let edges = vec![
        Edge::sample(93120, 93119, "shop.orders"),
        Edge::sample(93121, 93119, "shop.orders"),
        Edge::sample(93122, 93120, "shop.orders"),
        inferred,
    ];
    let forest = tree::build(&edges, &session);
    LocksReport {
        sources: LockSources {
            row_locks: LockWaitSource::DataLockWaits,
            metadata_locks: MdlSource::ThreadStates,
            last_statements: None,
        },
        forest,
        unresolved: vec![UnknownBlocker {
            session: session(93130),
            waiting_for: WaitInfo {
                kind: WaitKind::Metadata,
                object_type: Some("TABLE".into()),
                table: Some("shop.audit".into()),
                index: None,
                lock_mode: Some("SHARED_WRITE".into()),
                blocking_lock_mode: None,
                wait_s: Some(5),
                held: None,
                how: How::Inferred,
                source: "thread states",
            },
            blocker: None,
            candidates: vec![session(93119)],
            remedy: None,
        }],
        writes_frozen: false,
        notes: Vec::new(),
    }
}

#[test]
fn locks_as_dot_labels_each_edge_with_its_lock_and_how_it_is_known() {
    let dot = crate::render::graph::Graph::to_dot(&locks_report().graph().unwrap());
    assert!(dot.contains("\"p93119\" [label=\"session 93119\\napp@10.0.0.5\\ntrx 42s IDLE\\nholds up 4\\nlast: UPDATE shop.orders SET v=v+1 WHER…\", fillcolor=\"#f8d7da\", penwidth=2];"), "{dot}");
    assert!(
        dot.contains("\"p93119\" -> \"p93120\" [label=\"row shop.orders PRIMARY X (exact)\"];"),
        "{dot}"
    );
    assert!(
        dot.contains("\"p93120\" -> \"p93123\" [label=\"flush: shop.orders open since before the flush (inferred)\", style=dashed];"),
        "{dot}"
    );
    assert!(
        dot.contains(
            "\"unknown1\" [label=\"blocker unknown\\ncandidates: 93119\", style=\"rounded,dashed\""
        ),
        "{dot}"
    );
    assert!(
        dot.contains("\"unknown1\" -> \"p93130\" [label=\"MDL shop.audit SHARED_WRITE (inferred)\", style=dashed];"),
        "{dot}"
    );
    // Each session once, however many edges reach it.
    assert_eq!(dot.matches("[label=\"session 93120").count(), 1);
}

/// `rsvg-convert`, or `None` (skip) outside CI when it is not installed.
fn rsvg_convert() -> Option<&'static str> {
    let found = Command::new("rsvg-convert")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "rsvg-convert is missing under CI=true: scripts/testdb tools installs it"
        );
        eprintln!("skipping the PNG renderings: no rsvg-convert (scripts/testdb tools)");
        return None;
    }
    Some("rsvg-convert")
}

/// Renders an SVG to `target/pictures/NAME.png` and returns the PNG's width, height and bytes.
fn render_png(tool: &str, svg: &str, name: &str) -> (u32, u32, usize) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/pictures");
    std::fs::create_dir_all(&dir).unwrap();
    let (svg_path, png_path) = (
        dir.join(format!("{name}.svg")),
        dir.join(format!("{name}.png")),
    );
    std::fs::write(&svg_path, svg).unwrap();
    let run = Command::new(tool)
        .arg("-o")
        .arg(&png_path)
        .arg(&svg_path)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{name}: {}",
        String::from_utf8_lossy(&run.stderr)
    );
    let png = std::fs::read(&png_path).unwrap();
    assert_eq!(&png[1..4], b"PNG", "{name}");
    let word = |at: usize| u32::from_be_bytes(png[at..at + 4].try_into().unwrap());
    (word(16), word(20), png.len())
}

/// The width and height an `<svg>` says it has.
fn svg_size(svg: &str) -> (u32, u32) {
    let attribute = |name: &str| -> u32 {
        let rest = &svg[svg.find(&format!("{name}=\"")).unwrap() + name.len() + 2..];
        rest[..rest.find('"').unwrap()].parse().unwrap()
    };
    (attribute("width"), attribute("height"))
}

#[test]
fn the_pictures_render_to_png_at_their_size_and_are_not_blank() {
    let Some(tool) = rsvg_convert() else {
        return;
    };
    let with_load =
        build_html(Path::new(LOG), &english(false), Some(Path::new(RECORDING))).unwrap();
    let without = build_html(Path::new(V1_LOG), &english(false), None).unwrap();
    let locks = locks_report()
        .graph()
        .unwrap()
        .to_svg("locks: the blocker tree");
    let pictures = [
        ("timeline-with-load", svgs(&with_load)[0].clone()),
        (
            "blocker-graph-from-kill-snapshot",
            svgs(&with_load)[1].clone(),
        ),
        ("timeline-without-load", svgs(&without)[0].clone()),
        ("blocker-graph-from-locks", locks),
    ];
    for (name, svg) in &pictures {
        let (width, height) = svg_size(svg);
        let blank = format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\"><rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/></svg>"
        );
        let (_, _, blank_bytes) = render_png(tool, &blank, &format!("{name}-blank"));
        let (png_width, png_height, bytes) = render_png(tool, svg, name);
        assert_eq!((png_width, png_height), (width, height), "{name}");
        assert!(width >= 600 && height >= 150, "{name}: {width}x{height}");
        // Lines, areas and text make a PNG many times the size of a blank one.
        assert!(
            bytes > 8 * blank_bytes,
            "{name}: {bytes} bytes, blank {blank_bytes}"
        );
    }
    // The load makes the timeline taller than the markers alone.
    assert!(svg_size(&pictures[0].1).1 > svg_size(&pictures[2].1).1 + 200);
}

#[test]
fn the_blocker_graph_follows_the_tree_the_snapshot_recorded_or_hangs_old_waiters_from_the_victim() {
    let graph_of = |log: &str| {
        let (records, _) = evidence::read_all(Path::new(log)).unwrap();
        let scope = select(records, &english(false)).unwrap();
        let mut graphs = pictures::blocker_graphs(&scope, Lang::En, false);
        assert_eq!(graphs.len(), 1, "{log}");
        graphs.remove(0).1
    };
    let edges = |graph: &crate::render::graph::Graph| -> Vec<(String, String, String)> {
        graph
            .edges
            .iter()
            .map(|e| (e.from.clone(), e.to.clone(), e.label.clone()))
            .collect()
    };
    let row = "row i17.orders PRIMARY X,REC_NOT_GAP (exact)".to_owned();
    assert_eq!(
        edges(&graph_of(LOG)),
        [
            ("p12637".into(), "p12640".into(), row.clone()),
            ("p12640".into(), "p12642".into(), row.clone()),
            ("p12637".into(), "p12643".into(), row.clone()),
            ("p12637".into(), "p12644".into(), row),
        ]
    );
    // Written before the tree was recorded: only who waited.
    let old = graph_of("fixtures/evidence/incident-chain.mysql-9.7.jsonl");
    assert!(
        old.edges
            .iter()
            .all(|e| e.from == "p96498" && e.label == "waits on demo.t2")
    );
    assert_eq!(old.edges.len(), 4);
    assert!(old.nodes[1].lines[0].contains("directly or through another"));
}
