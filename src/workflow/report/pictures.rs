//! The report's pictures, from the records it covers: the timeline (with the load of a `top
//! --record` recording when one is given) and, for each kill snapshot, the sessions its victim
//! held up.

use std::path::Path;

use anyhow::{Result, bail};
use chrono::{DateTime, Utc};

use super::scope::{Scope, parse_at};
use super::{Lang, outcome_label};
use crate::evidence::Record;
use crate::evidence::record::{KillResult, KillSnapshot};
use crate::probe::top::Sample;
use crate::render::graph::{Graph, GraphEdge, GraphNode, Role};
use crate::render::timeline::{Event, EventKind, LoadSeries, Timeline};

/// At most this many points of load: a day at 1 s would otherwise make a 5 MB picture.
const MAX_POINTS: usize = 400;

fn utc(text: &str) -> Option<DateTime<Utc>> {
    parse_at(text).map(|t| t.with_timezone(&Utc))
}

/// One line of a note or title as a label: cut, so that labels stay short.
fn short(text: &str, chars: usize) -> String {
    let line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if line.chars().count() <= chars {
        line
    } else {
        format!("{}…", line.chars().take(chars - 1).collect::<String>())
    }
}

/// The timeline of the scope; with `samples`, the load over it. Samples outside the incident
/// and a margin around it are left out; a recording with none inside is an error. `None` when
/// the scope holds nothing with a time (an empty range): there is nothing to draw.
pub(super) fn timeline(
    scope: &Scope,
    lang: Lang,
    samples: Option<(&Path, Vec<Sample>)>,
) -> Result<Option<Timeline>> {
    let ko = lang == Lang::Ko;
    let t = |en: &str, kr: &str| if ko { kr.to_owned() } else { en.to_owned() };
    let mut events = Vec::new();
    for record in &scope.records {
        let Some(at) = record.at().and_then(utc) else {
            continue;
        };
        let (kind, label) = match record {
            Record::IncidentStart(_) => (EventKind::Start, t("incident start", "장애 시작")),
            Record::IncidentEnd(_) => (EventKind::End, t("incident end", "장애 종료")),
            Record::IncidentNote(note) => (
                EventKind::Note,
                format!(
                    "{} {}",
                    t("note:", "메모:"),
                    short(note.text.as_deref().unwrap_or("?"), 28)
                ),
            ),
            Record::KillOutcome(outcome) => {
                let effect = matches!(outcome.result, KillResult::Killed);
                (
                    if effect {
                        EventKind::Kill
                    } else {
                        EventKind::KillWithoutEffect
                    },
                    outcome_label(outcome, ko),
                )
            }
            Record::KillSnapshot(snapshot)
                if !scope.records.iter().any(
                    |r| matches!(r, Record::KillOutcome(o) if o.snapshot_id == snapshot.header.id),
                ) =>
            {
                (
                    EventKind::KillWithoutEffect,
                    format!(
                        "{} {}",
                        t("kill, no outcome recorded:", "종료 결과 기록 없음:"),
                        snapshot.pid
                    ),
                )
            }
            Record::Deadlock(_) => (EventKind::Deadlock, t("deadlock", "교착 상태")),
            _ => continue,
        };
        events.push(Event { at, label, kind });
    }
    // Replication troubles, each once (the first record that showed it).
    for trouble in super::replication::troubles(&scope.records) {
        let Some(at) = utc(&trouble.record.header.at) else {
            continue;
        };
        let label = trouble.label(ko);
        events.push(Event {
            at,
            label,
            kind: EventKind::Replication,
        });
    }
    let first = events.iter().map(|e| e.at).min();
    let last = events.iter().map(|e| e.at).max();
    let from = scope.from.as_deref().and_then(utc).or(first);
    let to = scope.to.as_deref().and_then(utc).or(last);
    let (Some(mut from), Some(mut to)) = (from, to) else {
        if let Some((path, _)) = samples {
            bail!(
                "the report covers no record, so there is no incident to place the recording {} against",
                path.display()
            );
        }
        return Ok(None);
    };
    let mut load = None;
    if let Some((path, mut samples)) = samples {
        // Some load before and after the incident shows what normal looked like.
        let margin = ((to - from) / 4).max(chrono::Duration::seconds(60));
        let (lo, hi) = (from - margin, to + margin);
        let covered = samples.iter().filter_map(|s| utc(&s.at)).fold(
            None,
            |range: Option<(DateTime<Utc>, DateTime<Utc>)>, at| {
                Some(range.map_or((at, at), |(a, b)| (a.min(at), b.max(at))))
            },
        );
        samples.retain(|s| utc(&s.at).is_some_and(|at| at >= lo && at <= hi));
        if samples.is_empty() {
            let fmt = |t: DateTime<Utc>| t.format("%Y-%m-%d %H:%M:%S UTC").to_string();
            bail!(
                "the recording {} has no sample between {} and {} (it covers {}): record the incident with `mytriage top --record FILE`",
                path.display(),
                fmt(lo),
                fmt(hi),
                covered.map_or_else(
                    || "nothing".to_owned(),
                    |(a, b)| format!("{} – {}", fmt(a), fmt(b))
                )
            );
        }
        samples.sort_by(|a, b| a.at.cmp(&b.at));
        let series = load_series(&samples);
        if let (Some(a), Some(b)) = (series.at.first(), series.at.last()) {
            from = from.min(*a);
            to = to.max(*b);
        }
        load = Some(series);
    }
    Ok(Some(Timeline {
        title: t("Timeline", "타임라인"),
        from,
        to: to.max(from + chrono::Duration::seconds(1)),
        events,
        load,
        time_axis: t("time (UTC)", "시각 (UTC)"),
        load_axis: t("average active sessions (AAS)", "평균 활성 세션 (AAS)"),
    }))
}

/// Active sessions by wait class, one point per sample, or per bucket of samples when there
/// are more than [`MAX_POINTS`] (each the average of its samples).
fn load_series(samples: &[Sample]) -> LoadSeries {
    let per_point = samples.len().div_ceil(MAX_POINTS).max(1);
    let mut classes: Vec<String> = Vec::new();
    let mut totals: std::collections::HashMap<String, usize> = Default::default();
    for sample in samples {
        for active in &sample.active {
            if !classes.contains(&active.wait_class) {
                classes.push(active.wait_class.clone());
            }
            *totals.entry(active.wait_class.clone()).or_default() += 1;
        }
    }
    // The heaviest class at the bottom of the stack; ties by name, so the picture is stable.
    classes.sort_by(|a, b| totals[b].cmp(&totals[a]).then_with(|| a.cmp(b)));
    let mut series = LoadSeries {
        at: Vec::new(),
        classes: classes.iter().map(|c| (c.clone(), Vec::new())).collect(),
    };
    for chunk in samples.chunks(per_point) {
        let Some(at) = utc(&chunk[chunk.len() / 2].at) else {
            continue;
        };
        series.at.push(at);
        for (class, values) in &mut series.classes {
            let active: usize = chunk
                .iter()
                .map(|s| s.active.iter().filter(|a| &a.wait_class == class).count())
                .sum();
            values.push(active as f64 / chunk.len() as f64);
        }
    }
    series
}

/// For each kill snapshot that held others up: the victim and the sessions it held up.
///
/// The snapshot records the tree under the victim (`blocks.edges`: who waited for whom, for
/// which lock, exact or inferred); a log written before it has only who waited
/// (`blocks.waiter_pids`), and then every waiter hangs from the victim.
pub(super) fn blocker_graphs(
    scope: &Scope,
    lang: Lang,
    keep_literals: bool,
) -> Vec<(String, Graph)> {
    let ko = lang == Lang::Ko;
    scope
        .records
        .iter()
        .filter_map(|r| match r {
            Record::KillSnapshot(s) if !s.blocks.waiter_pids.is_empty() => Some(s.as_ref()),
            _ => None,
        })
        .map(|s| {
            let caption = if ko {
                format!(
                    "{}: 세션 {}이 다른 세션 {}개를 기다리게 함",
                    super::when(Some(&s.header.at)),
                    s.pid,
                    s.blocks.waiters_total
                )
            } else {
                format!(
                    "{}: session {} held up {} session(s)",
                    super::when(Some(&s.header.at)),
                    s.pid,
                    s.blocks.waiters_total
                )
            };
            (caption, snapshot_graph(s, ko, keep_literals))
        })
        .collect()
}

fn snapshot_graph(snapshot: &KillSnapshot, ko: bool, keep_literals: bool) -> Graph {
    let thread = &snapshot.thread;
    let mut lines = vec![crate::render::account(
        thread.user.as_deref(),
        thread.host.as_deref(),
    )];
    if let Some(trx) = &thread.trx {
        let idle = if thread.idle_in_trx {
            if ko { " 유휴" } else { " IDLE" }
        } else {
            ""
        };
        lines.push(if ko {
            format!(
                "트랜잭션 {}초{idle}, 행 {}개 잠금",
                trx.age_s, trx.rows_locked
            )
        } else {
            format!(
                "trx {}s{idle}, {} row(s) locked",
                trx.age_s, trx.rows_locked
            )
        });
    }
    let tables = super::tables(snapshot);
    if !tables.is_empty() {
        lines.push(tables.clone());
    }
    if let Some(sql) = super::statement(snapshot) {
        let sql = if keep_literals {
            sql.to_owned()
        } else {
            crate::redact::for_sharing(sql)
        };
        let prefix = if thread.statement.is_none() {
            if ko { "마지막: " } else { "last: " }
        } else {
            ""
        };
        lines.push(format!("{prefix}{sql}"));
    }
    let root = format!("p{}", snapshot.pid);
    let mut graph = Graph {
        nodes: vec![GraphNode {
            id: root.clone(),
            title: format!("{} {}", if ko { "세션" } else { "session" }, snapshot.pid),
            lines,
            role: Role::Root,
        }],
        edges: Vec::new(),
    };
    let blocks = &snapshot.blocks;
    let session = |pid: u64| format!("{} {pid}", if ko { "세션" } else { "session" });
    // The tree as recorded; older logs have only who waited, so each waiter hangs from the
    // victim, said so on its box.
    let mut order: Vec<u64> = Vec::new();
    for edge in &blocks.edges {
        for pid in [edge.blocker, edge.waiter] {
            if pid != snapshot.pid && !order.contains(&pid) {
                order.push(pid);
            }
        }
    }
    for &pid in &blocks.waiter_pids {
        if !order.contains(&pid) {
            order.push(pid);
        }
    }
    let star = blocks.edges.is_empty();
    for pid in order {
        let mut lines = Vec::new();
        if blocks.appliers.contains(&pid) {
            lines.push(
                (if ko {
                    "복제 적용 스레드"
                } else {
                    "replication applier"
                })
                .to_owned(),
            );
        }
        if star {
            lines.push(
                (if ko {
                    "기다림 (직접 또는 다른 세션을 거쳐)"
                } else {
                    "waiting (directly or through another)"
                })
                .to_owned(),
            );
        }
        graph.nodes.push(GraphNode {
            id: format!("p{pid}"),
            title: session(pid),
            lines,
            role: Role::Waiter,
        });
    }
    if star {
        let label = if tables.is_empty() {
            (if ko { "대기" } else { "held up" }).to_owned()
        } else if ko {
            format!("{tables} 대기")
        } else {
            format!("waits on {tables}")
        };
        for &pid in &blocks.waiter_pids {
            graph.edges.push(GraphEdge {
                from: root.clone(),
                to: format!("p{pid}"),
                label: label.clone(),
                inferred: false,
            });
        }
    }
    for edge in &blocks.edges {
        graph.edges.push(GraphEdge {
            from: format!("p{}", edge.blocker),
            to: format!("p{}", edge.waiter),
            label: format!("{} ({})", edge.lock, edge.how),
            inferred: edge.how == "inferred",
        });
    }
    graph
}
