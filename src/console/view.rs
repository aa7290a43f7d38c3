//! Drawing the console: the header with one verdict line per check, the pane tabs, the pane, the
//! footer, and the overlays (help, a session's detail, the kill dialog). It reads the rows the
//! state built when the sample arrived, and draws only the rows that fit, so a frame costs the
//! same at 50 sessions as at 5,000.

use std::time::Instant;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span, Text};
use ratatui::widgets::{Block, Borders, Cell, Clear, Paragraph, Row, Table, TableState, Wrap};

use super::app::{App, KillStep, LoadSummary, Mode, Pane, TreeRow};
use super::sampler::{Detail, Snapshot};
use crate::evidence::record::KillSnapshot;
use crate::probe::deadlocks::victim_text;
use crate::probe::explain::ExplainReport;
use crate::probe::locks::LockSession;
use crate::probe::locks::tree::Node;
use crate::probe::locks::view::{describe_wait, trx_cell};
use crate::probe::processlist::Thread;
use crate::probe::top;
use crate::render::{account, clip, now_or_last, serde_label};
use crate::verdict::Verdict;
use crate::workflow::status::human_duration;

/// Colours, or none under `NO_COLOR`; the selection is reversed video either way.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Palette {
    pub color: bool,
}

impl Palette {
    fn verdict(self, verdict: Verdict) -> Style {
        if !self.color {
            return match verdict {
                Verdict::Crit => Style::new().add_modifier(Modifier::BOLD),
                _ => Style::new(),
            };
        }
        match verdict {
            Verdict::Ok => Style::new().fg(Color::Green),
            Verdict::Unknown => Style::new().fg(Color::Magenta),
            Verdict::Warn => Style::new().fg(Color::Yellow),
            Verdict::Crit => Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
        }
    }

    fn alert(self) -> Style {
        if self.color {
            Style::new().fg(Color::Red).add_modifier(Modifier::BOLD)
        } else {
            Style::new().add_modifier(Modifier::BOLD)
        }
    }

    fn dim(self) -> Style {
        if self.color {
            Style::new().fg(Color::DarkGray)
        } else {
            Style::new()
        }
    }

    fn heading(self) -> Style {
        Style::new().add_modifier(Modifier::BOLD)
    }

    fn selected(self) -> Style {
        Style::new().add_modifier(Modifier::REVERSED)
    }
}

/// Draws one frame.
pub(crate) fn draw(frame: &mut Frame, app: &mut App, now: Instant, palette: Palette) {
    let area = frame.area();
    let header = Paragraph::new(header(app, now, palette, area.height)).wrap(Wrap { trim: false });
    // The header wraps rather than cut a finding short, up to half the screen.
    let height = (header.line_count(area.width) as u16).min(area.height / 2);
    let [top, tabs, body, footer] = Layout::vertical([
        Constraint::Length(height),
        Constraint::Length(1),
        Constraint::Min(3),
        Constraint::Length(1),
    ])
    .areas(area);
    frame.render_widget(header, top);
    frame.render_widget(Paragraph::new(tab_line(app.pane, palette)), tabs);
    // Rows a page holds: the body less its table header.
    app.page = usize::from(body.height.saturating_sub(2)).max(1);
    match &app.mode {
        Mode::Detail {
            pid,
            detail,
            scroll,
        } => {
            let text = detail_text(app, *pid, detail.as_deref(), palette);
            let block = Block::new()
                .borders(Borders::TOP)
                .title(format!(" Session {pid} — Esc to close, k to kill "));
            frame.render_widget(
                Paragraph::new(text)
                    .block(block)
                    .wrap(Wrap { trim: false })
                    .scroll((*scroll, 0)),
                body,
            );
        }
        _ => draw_pane(frame, app, body, palette),
    }
    frame.render_widget(Paragraph::new(footer_line(app, palette)), footer);
    match &app.mode {
        Mode::Help => popup(frame, area, " Keys ", help_text(), 62),
        Mode::Kill(step) => {
            let (title, text) = kill_text(step, palette);
            popup(frame, area, &title, text, 76);
        }
        _ => {}
    }
}

fn header(app: &App, now: Instant, palette: Palette, height: u16) -> Vec<Line<'static>> {
    let mut first = vec![Span::styled("mytriage console", palette.heading())];
    let Some(snapshot) = app.snapshot.as_deref() else {
        first.push(Span::raw("  connecting…"));
        let mut lines = vec![Line::from(first)];
        if let Some(failure) = &app.failure {
            lines.push(Line::styled(failure.clone(), palette.alert()));
        }
        return lines;
    };
    let triage = &snapshot.report.triage;
    let server = &triage.server;
    let uptime = triage
        .connections
        .as_ref()
        .and_then(|c| c.uptime_s)
        .map(human_duration)
        .unwrap_or_else(|| "?".into());
    if app.paused {
        first.push(Span::styled("  PAUSED", palette.alert()));
    } else if let Some(late) = app.late_by(now) {
        first.push(Span::styled(
            format!("  sample late {:.1}s", late.as_secs_f64()),
            palette.alert(),
        ));
    }
    first.push(Span::raw(format!(
        "  {} {} on {}, up {uptime}  {} ({:.2}s)",
        server.flavor_name,
        server.version,
        server.hostname.as_deref().unwrap_or("?"),
        snapshot.at,
        snapshot.took.as_secs_f64()
    )));
    let mut lines = vec![Line::from(first)];
    if let Some(failure) = &app.failure {
        lines.push(Line::styled(failure.clone(), palette.alert()));
    }
    let findings = &snapshot.report.findings;
    // On a short screen the checks that are OK share one line.
    let fold = height < 30;
    let mut ok = Vec::new();
    for finding in findings {
        if fold && finding.verdict == Verdict::Ok {
            ok.push(finding.check);
            continue;
        }
        lines.push(Line::from(vec![
            Span::styled(
                format!("{:<7} ", finding.verdict.label()),
                palette.verdict(finding.verdict),
            ),
            Span::raw(format!("{:<16}", finding.check)),
            Span::raw(finding.summary.clone()),
        ]));
    }
    if !ok.is_empty() {
        lines.push(Line::from(vec![
            Span::styled(format!("{:<7} ", "OK"), palette.verdict(Verdict::Ok)),
            Span::raw(ok.join(", ")),
        ]));
    }
    for gap in &triage.unavailable {
        lines.push(Line::styled(
            gap.to_string(),
            palette.verdict(Verdict::Unknown),
        ));
    }
    lines
}

fn tab_line(current: Pane, palette: Palette) -> Line<'static> {
    let mut spans = Vec::new();
    for (i, pane) in Pane::ALL.iter().enumerate() {
        let label = format!(" {} {} ", i + 1, pane.title());
        spans.push(if *pane == current {
            Span::styled(label, palette.selected())
        } else {
            Span::raw(label)
        });
    }
    Line::from(spans)
}

fn footer_line(app: &App, palette: Palette) -> Line<'static> {
    match &app.mode {
        Mode::Filter(text) => Line::from(format!(
            "filter sessions: {text}▏ (Enter keeps, Esc clears)"
        )),
        Mode::Note(text) => Line::from(format!("incident note: {text}▏ (Enter saves, Esc drops)")),
        _ => match &app.message {
            Some(message) => Line::styled(message.clone(), palette.heading()),
            None => Line::styled(
                "↑↓ Enter detail  k/K kill  / filter  s sort  p pause  i note  ? help  q quit",
                palette.dim(),
            ),
        },
    }
}

fn draw_pane(frame: &mut Frame, app: &App, area: Rect, palette: Palette) {
    let Some(snapshot) = app.snapshot.as_deref() else {
        frame.render_widget(Paragraph::new("Waiting for the first sample…"), area);
        return;
    };
    match app.pane {
        Pane::Blockers => blockers(frame, app, snapshot, area, palette),
        Pane::Sessions => sessions(frame, app, area, palette),
        Pane::Load => frame.render_widget(Paragraph::new(load_text(app, palette)), area),
        Pane::Transactions => transactions(frame, app, snapshot, area, palette),
        Pane::Deadlock => frame.render_widget(
            Paragraph::new(deadlock_text(snapshot, palette)).wrap(Wrap { trim: false }),
            area,
        ),
        Pane::Replication => frame.render_widget(
            Paragraph::new(replication_text(snapshot, palette)).wrap(Wrap { trim: false }),
            area,
        ),
    }
}

/// A table's columns, its row count and selected row.
struct Listing<'a> {
    columns: &'a [Column],
    count: usize,
    selected: usize,
}

/// A table with the selected row highlighted and scrolled into view; only the rows that fit
/// are built into cells.
fn selectable_table<'r>(
    frame: &mut Frame,
    area: Rect,
    listing: Listing,
    row: &dyn Fn(usize) -> Row<'r>,
    palette: Palette,
) {
    let Listing {
        columns,
        count,
        selected,
    } = listing;
    let (header, widths) = layout(columns, area.width < NARROW);
    let visible = usize::from(area.height.saturating_sub(1)).max(1);
    let offset = selected.saturating_sub(visible - 1);
    let rows: Vec<Row> = (offset..count.min(offset + visible)).map(row).collect();
    let table = Table::new(rows, widths)
        .header(Row::new(header).style(palette.heading()))
        .row_highlight_style(palette.selected())
        .column_spacing(1);
    let mut state = TableState::new().with_selected((count > 0).then_some(selected - offset));
    frame.render_stateful_widget(table, area, &mut state);
}

/// Below this width the tables leave out the account (the detail shows it).
const NARROW: u16 = 120;

fn blockers(frame: &mut Frame, app: &App, snapshot: &Snapshot, area: Rect, palette: Palette) {
    if app.tree.is_empty() {
        let mut lines = vec![Line::from("No session waits for a lock.")];
        if let Some(locks) = &snapshot.report.triage.locks {
            lines.extend(
                locks
                    .notes
                    .iter()
                    .map(|n| Line::styled(n.clone(), palette.dim())),
            );
        }
        frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), area);
        return;
    }
    let narrow = area.width < NARROW;
    let row = |i: usize| {
        let r: &TreeRow = &app.tree[i];
        let marker = match (r.unresolved, r.has_waiters, r.collapsed) {
            (true, _, _) => "? ",
            (_, true, true) => "▸ ",
            (_, true, false) => "▾ ",
            _ => "  ",
        };
        let s = &r.session;
        let waits = match (&r.waiting_for, r.unresolved) {
            (Some(w), true) => format!("{} — blocker unknown", describe_wait(w)),
            (Some(w), false) => describe_wait(w),
            (None, _) => String::new(),
        };
        let statement = if r.repeated {
            "(shown above)".to_owned()
        } else {
            now_or_last(s.statement.as_deref(), s.last_statement.as_deref(), false)
        };
        let trx = trx_cell(s);
        let trx_style = if s.idle_in_trx || s.rolling_back() {
            palette.verdict(Verdict::Warn)
        } else {
            Style::new()
        };
        let cells = vec![
            Cell::from(format!("{}{marker}{}", "  ".repeat(r.depth), s.pid)),
            Cell::from(account(s.user.as_deref(), s.host.as_deref())),
            Cell::from(trx).style(trx_style),
            Cell::from(waits),
            Cell::from(if r.waiters_total > 0 {
                r.waiters_total.to_string()
            } else {
                String::new()
            }),
            Cell::from(statement),
        ];
        Row::new(keep(&TREE_COLUMNS, narrow, cells))
    };
    selectable_table(
        frame,
        area,
        Listing {
            columns: &TREE_COLUMNS,
            count: app.tree.len(),
            selected: app.selected(Pane::Blockers),
        },
        &row,
        palette,
    );
}

/// A table's column: its heading (wide, and narrow), and its width in a narrow pane (`None`:
/// left out there) and a wide one; width 0 takes the rest of the line.
struct Column {
    name: &'static str,
    short: &'static str,
    narrow: Option<u16>,
    wide: u16,
}

const fn column(name: &'static str, narrow: Option<u16>, wide: u16) -> Column {
    Column {
        name,
        short: name,
        narrow,
        wide,
    }
}

const TREE_COLUMNS: [Column; 6] = [
    column("PID", Some(10), 10),
    column("ACCOUNT", None, 18),
    column("TRX", Some(9), 10),
    column("WAITS FOR", Some(24), 28),
    column("HOLDS", Some(5), 5),
    column("STATEMENT", Some(0), 0),
];

/// The sessions' columns; narrow, the account is the user alone.
const SESSION_COLUMNS: [Column; 7] = [
    column("PID", Some(7), 8),
    Column {
        name: "ACCOUNT",
        short: "USER",
        narrow: Some(10),
        wide: 22,
    },
    column("DB", None, 12),
    column("CMD", Some(7), 12),
    column("TIME", Some(6), 7),
    column("TRX", Some(9), 12),
    column("STATEMENT", Some(0), 0),
];

/// The headings and widths of the columns shown.
fn layout(columns: &[Column], narrow: bool) -> (Vec<&'static str>, Vec<Constraint>) {
    columns
        .iter()
        .filter_map(|c| {
            let width = if narrow { c.narrow? } else { c.wide };
            let constraint = match width {
                0 => Constraint::Fill(1),
                w => Constraint::Length(w),
            };
            Some((if narrow { c.short } else { c.name }, constraint))
        })
        .unzip()
}

/// A row's cells for the columns shown.
fn keep<T>(columns: &[Column], narrow: bool, cells: Vec<T>) -> Vec<T> {
    cells
        .into_iter()
        .zip(columns)
        .filter(|(_, c)| !narrow || c.narrow.is_some())
        .map(|(cell, _)| cell)
        .collect()
}

fn session_row<'a>(thread: &Thread, narrow: bool, palette: Palette) -> Row<'a> {
    let trx = match &thread.trx {
        Some(_) if thread.rolling_back() => "ROLLING BACK".to_owned(),
        Some(trx) if thread.idle_in_trx => format!("{}s IDLE", trx.age_s),
        Some(trx) => format!("{}s", trx.age_s),
        None => String::new(),
    };
    let trx_style = if thread.idle_in_trx {
        palette.verdict(Verdict::Warn)
    } else {
        Style::new()
    };
    let statement = match (&thread.statement, &thread.state) {
        (Some(statement), _) => clip(statement, false),
        (None, Some(state)) if !state.is_empty() => format!("({state})"),
        _ => String::new(),
    };
    let who = if narrow {
        thread.user.clone().unwrap_or_default()
    } else {
        account(thread.user.as_deref(), thread.host.as_deref())
    };
    let cells = vec![
        Cell::from(thread.pid.to_string()),
        Cell::from(who),
        Cell::from(thread.db.clone().unwrap_or_default()),
        Cell::from(thread.command.clone().unwrap_or_default()),
        Cell::from(thread.time_s.map(|t| format!("{t}s")).unwrap_or_default()),
        Cell::from(trx).style(trx_style),
        Cell::from(statement),
    ];
    Row::new(keep(&SESSION_COLUMNS, narrow, cells))
}

/// The sessions at `indices` of the latest sample's threads.
fn session_table(
    frame: &mut Frame,
    app: &App,
    area: Rect,
    indices: &[usize],
    selected: usize,
    palette: Palette,
) {
    let threads = app.threads();
    let narrow = area.width < NARROW;
    let row = |i: usize| session_row(&threads[indices[i]], narrow, palette);
    selectable_table(
        frame,
        area,
        Listing {
            columns: &SESSION_COLUMNS,
            count: indices.len(),
            selected,
        },
        &row,
        palette,
    );
}

fn sessions(frame: &mut Frame, app: &App, area: Rect, palette: Palette) {
    let mut title = format!(
        "{} of {} sessions, sorted by {}",
        app.sessions.len(),
        app.threads().len(),
        app.sort.label()
    );
    if !app.filter.is_empty() {
        title.push_str(&format!(", filter \"{}\"", app.filter));
    }
    let [caption, table] =
        Layout::vertical([Constraint::Length(1), Constraint::Min(1)]).areas(area);
    frame.render_widget(Paragraph::new(Line::styled(title, palette.dim())), caption);
    let selected = app.selected(Pane::Sessions);
    session_table(frame, app, table, &app.sessions, selected, palette);
}

fn transactions(frame: &mut Frame, app: &App, snapshot: &Snapshot, area: Rect, palette: Palette) {
    let triage = &snapshot.report.triage;
    let mut lines = vec![Line::from(format!(
        "History list length: {}",
        triage
            .history_list_length
            .map_or("not read".to_owned(), |h| h.to_string())
    ))];
    match triage.purge_blockers.first() {
        Some(blocker) => lines.push(Line::from(format!(
            "Purge held back by: {}",
            crate::probe::history::describe_blocker(blocker)
        ))),
        None => lines.push(Line::styled(
            "Purge held back by: no session",
            palette.dim(),
        )),
    }
    let caption = Paragraph::new(lines).wrap(Wrap { trim: false });
    let height = caption.line_count(area.width) as u16;
    let [top, table] =
        Layout::vertical([Constraint::Length(height), Constraint::Min(1)]).areas(area);
    frame.render_widget(caption, top);
    let selected = app.selected(Pane::Transactions);
    session_table(frame, app, table, &app.transactions, selected, palette);
}

/// Average active sessions over the window: the total and each wait class as a sparkline, then
/// the statements carrying the load.
fn load_text(app: &App, palette: Palette) -> Text<'static> {
    let Some(LoadSummary { report, by_wait }) = &app.load else {
        return Text::from("No load sample yet.");
    };
    let mut lines = vec![Line::styled(
        format!(
            "Average active sessions over the last {} sample(s): {:.2}",
            report.samples, report.aas
        ),
        palette.heading(),
    )];
    lines.push(Line::from(format!(
        "{:<14} {:>6}  {}",
        "all",
        format!("{:.2}", report.aas),
        top::sparkline(&report.series, None)
    )));
    let reference = report.series.iter().copied().max().map(|m| m as f64);
    for (class, series) in report.by_wait.iter().zip(by_wait) {
        lines.push(Line::from(format!(
            "{:<14} {:>6}  {}",
            class.key,
            format!("{:.2}", class.aas),
            top::sparkline(series, reference)
        )));
    }
    lines.push(Line::from(""));
    lines.push(Line::styled("Top SQL by load (AAS)", palette.heading()));
    if report.by_sql.is_empty() {
        lines.push(Line::styled("  nothing active", palette.dim()));
    }
    for sql in report.by_sql.iter().take(8) {
        lines.push(Line::from(format!(
            "{:>6}  {}",
            format!("{:.2}", sql.aas),
            clip(&sql.key, false)
        )));
    }
    Text::from(lines)
}

fn deadlock_text(snapshot: &Snapshot, palette: Palette) -> Text<'static> {
    let Some(deadlock) = &snapshot.report.triage.latest_deadlock else {
        return Text::from("No deadlock since the server started (InnoDB keeps only the latest).");
    };
    let mut lines = vec![
        Line::styled(
            format!(
                "Latest deadlock, detected at {}",
                deadlock.detected_at.as_deref().unwrap_or("?")
            ),
            palette.heading(),
        ),
        Line::from(format!("Rolled back: {}", victim_text(deadlock))),
    ];
    for trx in &deadlock.transactions {
        let victim = deadlock.victim == Some(trx.number);
        lines.push(Line::from(""));
        lines.push(Line::styled(
            format!(
                "({}) thread {}  trx {}  {}@{}  active {}s{}",
                trx.number,
                trx.thread_id.map_or("?".into(), |t| t.to_string()),
                trx.trx_id.map_or("?".into(), |t| t.to_string()),
                trx.user.as_deref().unwrap_or("?"),
                trx.host.as_deref().unwrap_or("?"),
                trx.active_secs.unwrap_or(0),
                if victim { "  ← rolled back" } else { "" }
            ),
            if victim {
                palette.verdict(Verdict::Warn)
            } else {
                Style::new()
            },
        ));
        if let Some(query) = &trx.query {
            lines.push(Line::from(format!("    {}", clip(query, false))));
        }
        let holds = trx.holds.iter().map(|lock| ("holds", lock));
        let waits = trx.waits_for.iter().map(|lock| ("waits for", lock));
        for (what, lock) in holds.chain(waits) {
            lines.push(Line::from(format!(
                "    {what} {} {} {}",
                lock.table.as_deref().unwrap_or("?"),
                lock.index.as_deref().unwrap_or(""),
                lock.mode
            )));
        }
    }
    Text::from(lines)
}

fn replication_text(snapshot: &Snapshot, palette: Palette) -> Text<'static> {
    let triage = &snapshot.report.triage;
    let mut lines = Vec::new();
    for channel in &triage.replication {
        let name = if channel.name.is_empty() {
            "(default)"
        } else {
            &channel.name
        };
        let lag = channel
            .lag_s()
            .map_or("lag unknown".to_owned(), |l| format!("lag {l:.0}s"));
        lines.push(Line::styled(
            format!(
                "Channel {name} from {}: IO {}, SQL {}, {lag}",
                channel.source.as_deref().unwrap_or("?"),
                channel.io_running.as_deref().unwrap_or("?"),
                channel.sql_running.as_deref().unwrap_or("?"),
            ),
            palette.heading(),
        ));
        if let Some(broken) = channel.broken() {
            lines.push(Line::styled(format!("  {broken}"), palette.alert()));
        }
        if let Some(blocked) = &channel.blocked_by {
            lines.push(Line::styled(
                format!("  applier blocked by session {}", blocked.blocker_pid),
                palette.alert(),
            ));
        }
        if let Some(failing) = &channel.failing_transaction {
            lines.push(Line::from(format!("  failing transaction: {failing}")));
        }
    }
    for replica in &triage.replicas {
        lines.push(Line::from(format!(
            "Replica {}:{} (server id {}) read by session {}",
            replica.host.as_deref().unwrap_or("?"),
            replica.port.map_or("?".into(), |p| p.to_string()),
            replica.server_id.map_or("?".into(), |s| s.to_string()),
            replica.pid.map_or("?".into(), |p| p.to_string()),
        )));
    }
    for instance in &triage.aurora {
        lines.push(Line::from(format!("Aurora instance {instance:?}")));
    }
    if lines.is_empty() {
        lines.push(Line::from(
            "This server neither replicates from a source nor has replicas connected.",
        ));
    }
    Text::from(lines)
}

/// Where `pid` sits in the blocker tree: its node, and the sessions it waits for.
fn place(roots: &[Node<LockSession>], pid: u64) -> (Option<&Node<LockSession>>, Vec<u64>) {
    fn walk<'a>(
        nodes: &'a [Node<LockSession>],
        parent: Option<u64>,
        pid: u64,
        found: &mut Option<&'a Node<LockSession>>,
        blockers: &mut Vec<u64>,
    ) {
        for node in nodes {
            if node.info.pid == pid {
                found.get_or_insert(node);
                blockers.extend(parent.filter(|p| !blockers.contains(p)));
            }
            walk(&node.waiters, Some(node.info.pid), pid, found, blockers);
        }
    }
    let (mut found, mut blockers) = (None, Vec::new());
    walk(roots, None, pid, &mut found, &mut blockers);
    (found, blockers)
}

fn detail_text(app: &App, pid: u64, detail: Option<&Detail>, palette: Palette) -> Text<'static> {
    let mut lines = Vec::new();
    let Some(thread) = app.threads().iter().find(|t| t.pid == pid) else {
        return Text::from(format!("Session {pid} is no longer on the server."));
    };
    lines.push(Line::styled(
        format!(
            "{}  db {}  {} for {}s  {}",
            account(thread.user.as_deref(), thread.host.as_deref()),
            thread.db.as_deref().unwrap_or("(none)"),
            thread.command.as_deref().unwrap_or("?"),
            thread.time_s.unwrap_or(0),
            thread.state.as_deref().unwrap_or("")
        ),
        palette.heading(),
    ));
    match &thread.trx {
        Some(trx) => lines.push(Line::from(format!(
            "Transaction {} {} for {}s{}, {} rows locked, {} modified{}",
            trx.id,
            trx.state,
            trx.age_s,
            trx.isolation
                .as_deref()
                .map(|i| format!(" ({i})"))
                .unwrap_or_default(),
            trx.rows_locked,
            trx.rows_modified,
            if thread.idle_in_trx {
                "; IDLE IN TRX"
            } else {
                ""
            }
        ))),
        None => lines.push(Line::from("No transaction.")),
    }
    let locks = app
        .snapshot
        .as_deref()
        .and_then(|s| s.report.triage.locks.as_ref());
    let (node, blockers) = locks.map_or((None, Vec::new()), |l| place(&l.forest.roots, pid));
    let last = node.and_then(|n| n.info.last_statement.clone());
    lines.push(Line::from(""));
    match (&thread.statement, last) {
        (Some(statement), _) => {
            lines.push(Line::styled("Statement", palette.heading()));
            lines.push(Line::from(statement.clone()));
        }
        (None, Some(last)) => {
            lines.push(Line::styled(
                "Last statement (it runs nothing now)",
                palette.heading(),
            ));
            lines.push(Line::from(last));
        }
        (None, None) => lines.push(Line::from("It runs nothing now.")),
    }
    lines.push(Line::from(""));
    if blockers.is_empty() {
        lines.push(Line::from("Blocked by: nobody"));
    } else {
        let wait = node
            .and_then(|n| n.waiting_for.as_deref())
            .map(|w| {
                format!(
                    " ({}, {} from {})",
                    describe_wait(w),
                    serde_label(&w.how),
                    w.source
                )
            })
            .unwrap_or_default();
        let pids: Vec<String> = blockers.iter().map(u64::to_string).collect();
        lines.push(Line::styled(
            format!("Blocked by: {}{wait}", pids.join(", ")),
            palette.verdict(Verdict::Warn),
        ));
    }
    match node.filter(|n| n.waiters_total > 0) {
        Some(n) => {
            let direct: Vec<String> = n.waiters.iter().map(|w| w.info.pid.to_string()).collect();
            lines.push(Line::styled(
                format!(
                    "Blocks: {} session(s); directly {}",
                    n.waiters_total,
                    direct.join(", ")
                ),
                palette.verdict(Verdict::Crit),
            ));
        }
        None => lines.push(Line::from("Blocks: nobody")),
    }
    let Some(detail) = detail else {
        lines.push(Line::from(""));
        lines.push(Line::styled(
            "Reading the plan and the locks…",
            palette.dim(),
        ));
        return Text::from(lines);
    };
    lines.push(Line::from(""));
    lines.push(Line::styled("Locks held", palette.heading()));
    match &detail.locks {
        Ok(held) if held.is_empty() => lines.push(Line::from("  no row locks")),
        Ok(held) => lines.extend(held.iter().map(|l| {
            Line::from(format!(
                "  {} {} {} {} {} ×{}",
                l.table.as_deref().unwrap_or("?"),
                l.index.as_deref().unwrap_or(""),
                l.lock_type.as_deref().unwrap_or(""),
                l.lock_mode.as_deref().unwrap_or(""),
                l.status.as_deref().unwrap_or(""),
                l.count
            ))
        })),
        Err(error) => lines.push(Line::styled(format!("  not read: {error}"), palette.dim())),
    }
    match &detail.metadata_locks {
        Ok(held) => lines.extend(held.iter().map(|l| {
            Line::from(format!(
                "  metadata {} {} {} {}",
                l.object_type.as_deref().unwrap_or(""),
                l.object.as_deref().unwrap_or(""),
                l.lock_type.as_deref().unwrap_or(""),
                l.duration.as_deref().unwrap_or("")
            ))
        })),
        Err(error) => lines.push(Line::styled(
            format!("  metadata locks not read: {error}"),
            palette.dim(),
        )),
    }
    lines.push(Line::from(""));
    match &detail.explain {
        Ok(report) => {
            lines.push(Line::styled(
                format!("Plan ({})", report.source),
                palette.heading(),
            ));
            lines.extend(plan_lines(report, palette));
        }
        Err(error) => lines.push(Line::styled(
            format!("Plan not read: {error}"),
            palette.dim(),
        )),
    }
    Text::from(lines)
}

/// The plan as the server gave it: the tree or JSON text, the classic rows one per line, or
/// the one-line reason there is none.
fn plan_lines(report: &ExplainReport, palette: Palette) -> Vec<Line<'static>> {
    if let Some(reason) = &report.reason {
        return vec![Line::styled(format!("No plan: {reason}"), palette.dim())];
    }
    if let Some(plan) = &report.plan {
        return plan.lines().map(|l| Line::from(l.to_owned())).collect();
    }
    report
        .rows
        .iter()
        .map(|row| {
            let cells: Vec<String> = row
                .iter()
                .filter(|(_, value)| !value.is_empty() && value != "NULL")
                .map(|(name, value)| format!("{name}={value}"))
                .collect();
            Line::from(format!("  {}", cells.join("  ")))
        })
        .collect()
}

fn help_text() -> Text<'static> {
    let keys = [
        ("1-6, Tab", "switch pane"),
        ("↑ ↓ PgUp PgDn", "select a row"),
        ("Home End", "first, last row"),
        ("← → Space", "collapse, expand a blocker"),
        ("Enter", "the session's detail, with its plan"),
        ("k", "kill the session (evidence first)"),
        ("K", "kill its query only"),
        ("/", "filter the sessions"),
        ("s", "sort the sessions"),
        ("p", "pause sampling"),
        ("i", "add an incident note"),
        ("q Esc", "quit (Esc closes a dialog first)"),
        ("?", "this help"),
    ];
    let mut lines: Vec<Line> = keys
        .iter()
        .map(|(key, what)| Line::from(format!("  {key:<15} {what}")))
        .collect();
    lines.push(Line::from(""));
    lines.push(Line::from("  any key closes this"));
    Text::from(lines)
}

fn kill_text(step: &KillStep, palette: Palette) -> (String, Text<'static>) {
    match step {
        KillStep::Snapshotting { pid, query_only } => (
            format!(
                " Kill {} {pid} ",
                if *query_only {
                    "the query of"
                } else {
                    "session"
                }
            ),
            Text::from(format!(
                "Writing the snapshot of session {pid} to the evidence log…"
            )),
        ),
        KillStep::Confirm { snapshot, warnings } => {
            let title = if snapshot.query_only {
                format!(" Kill the query of session {}? ", snapshot.pid)
            } else {
                format!(" Kill session {}? ", snapshot.pid)
            };
            (title, confirm_text(snapshot, warnings, palette))
        }
        KillStep::Killing { pid } => (
            format!(" Killing {pid} "),
            Text::from(format!(
                "Re-verifying that {pid} is the session snapshotted, then killing it…"
            )),
        ),
        KillStep::Done { pid, outcome } => (
            format!(" Session {pid} "),
            Text::from(vec![
                Line::styled(super::app::describe_outcome(outcome), palette.heading()),
                Line::from(""),
                Line::from("The outcome is in the evidence log. Any key closes this."),
            ]),
        ),
        KillStep::Refused { pid, reason } => (
            format!(" Session {pid} not killed "),
            Text::from(vec![
                Line::styled(reason.clone(), palette.alert()),
                Line::from(""),
                Line::from("Any key closes this."),
            ]),
        ),
    }
}

/// The blast radius, as the snapshot on disk recorded it.
fn confirm_text(snapshot: &KillSnapshot, warnings: &[String], palette: Palette) -> Text<'static> {
    let thread = &snapshot.thread;
    let mut lines = vec![Line::from(format!(
        "{} ({}, {}s)",
        account(thread.user.as_deref(), thread.host.as_deref()),
        thread.command.as_deref().unwrap_or("?"),
        thread.time_s.unwrap_or(0)
    ))];
    lines.push(Line::from(match &thread.trx {
        Some(trx) => format!(
            "Transaction {} open {}s ({}), {} rows to roll back",
            trx.id, trx.age_s, trx.state, trx.rows_modified
        ),
        None => "No transaction".to_owned(),
    }));
    let blocks = &snapshot.blocks;
    let mut pids: Vec<String> = blocks
        .waiter_pids
        .iter()
        .take(12)
        .map(u64::to_string)
        .collect();
    if blocks.waiter_pids.len() > 12 {
        pids.push("…".into());
    }
    lines.push(Line::styled(
        format!(
            "Blocks {} session(s){}{}",
            blocks.waiters_total,
            if pids.is_empty() { "" } else { ": " },
            pids.join(", ")
        ),
        palette.verdict(if blocks.waiters_total > 0 {
            Verdict::Crit
        } else {
            Verdict::Ok
        }),
    ));
    if !blocks.appliers.is_empty() {
        lines.push(Line::from(format!(
            "Replication appliers among them: {:?}",
            blocks.appliers
        )));
    }
    lines.push(Line::from(format!(
        "Holds {} row-lock group(s), {} metadata lock(s)",
        snapshot.locks.len(),
        snapshot.metadata_locks.len()
    )));
    let statement = now_or_last(
        thread.statement.as_deref(),
        snapshot.last_statement.as_deref(),
        false,
    );
    if !statement.is_empty() {
        lines.push(Line::from(statement));
    }
    for warning in warnings {
        lines.push(Line::styled(
            format!("Warning: {warning}"),
            palette.verdict(Verdict::Warn),
        ));
    }
    lines.push(Line::from(""));
    lines.push(Line::styled(
        format!("Snapshot {} is in the evidence log.", snapshot.header.id),
        palette.dim(),
    ));
    lines.push(Line::styled(
        "y kill (after re-verifying it is the same session)   n cancel",
        palette.heading(),
    ));
    Text::from(lines)
}

/// A box in the middle of `area`, `width` wide at most and as tall as its text.
fn popup(frame: &mut Frame, area: Rect, title: &str, text: Text<'static>, width: u16) {
    let width = width.min(area.width);
    let paragraph = Paragraph::new(text)
        .wrap(Wrap { trim: false })
        .block(Block::bordered().title(title.to_owned()));
    // Wrapped at the inner width; the count includes the borders.
    let height = (paragraph.line_count(width.saturating_sub(2)) as u16).min(area.height);
    let rect = Rect {
        x: area.x + (area.width - width) / 2,
        y: area.y + (area.height - height) / 2,
        width,
        height,
    };
    frame.render_widget(Clear, rect);
    frame.render_widget(paragraph, rect);
}
