//! Drawing the console: the header with one verdict line per check, the pane tabs, the pane, the
//! footer, and the overlays (help, a session's detail, the kill dialog). It reads the rows the
//! state built when the sample arrived, and draws only the rows that fit, so a frame costs the
//! same at 50 sessions as at 5,000.

mod detail;
mod dialog;
mod panes;
mod tables;

use std::time::Instant;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span, Text};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};

use super::app::{App, Mode, Pane};
use crate::verdict::Verdict;
use crate::workflow::status::human_duration;
use detail::detail_text;
use dialog::kill_text;
use panes::{deadlock_text, load_text, replication_text};
use tables::{blockers, sessions, transactions};

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
