//! The console's tables: the blocker tree, the sessions and the transactions, each drawing only
//! the rows that fit, with the selection scrolled into view.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::Line;
use ratatui::widgets::{Cell, Paragraph, Row, Table, TableState, Wrap};

use super::Palette;
use crate::console::app::{App, Pane, TreeRow};
use crate::console::sampler::Snapshot;
use crate::probe::locks::view::{describe_wait, trx_cell};
use crate::probe::processlist::Thread;
use crate::render::{account, clip, now_or_last};
use crate::verdict::Verdict;

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

pub(super) fn blockers(
    frame: &mut Frame,
    app: &App,
    snapshot: &Snapshot,
    area: Rect,
    palette: Palette,
) {
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

pub(super) fn sessions(frame: &mut Frame, app: &App, area: Rect, palette: Palette) {
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

pub(super) fn transactions(
    frame: &mut Frame,
    app: &App,
    snapshot: &Snapshot,
    area: Rect,
    palette: Palette,
) {
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
