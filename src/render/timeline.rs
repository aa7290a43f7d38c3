//! The incident's timeline as SVG, drawn with plotters' SVG backend: what was done and seen
//! (start, notes, kills, deadlocks, end) as markers over time and, when a recording covers the
//! window, the database load under them as average active sessions stacked by wait class, the
//! picture Performance Insights draws.

use anyhow::{Result, anyhow};
use chrono::{DateTime, Utc};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// What the timeline shows.
#[derive(Debug, Clone)]
pub(crate) struct Timeline {
    pub title: String,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub events: Vec<Event>,
    pub load: Option<LoadSeries>,
    /// The axis titles, in the report's language.
    pub time_axis: String,
    pub load_axis: String,
}

/// One marker.
#[derive(Debug, Clone)]
pub(crate) struct Event {
    pub at: DateTime<Utc>,
    pub label: String,
    pub kind: EventKind,
}

/// How a marker is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EventKind {
    Start,
    End,
    Note,
    /// A kill that ended (or is ending) the session.
    Kill,
    /// A kill that did nothing: dry run, refused, not confirmed, failed.
    KillWithoutEffect,
    Deadlock,
    /// A replica that stopped, or whose applier was blocked.
    Replication,
}

/// Average active sessions per point in time, by wait class.
#[derive(Debug, Clone, Default)]
pub(crate) struct LoadSeries {
    pub at: Vec<DateTime<Utc>>,
    /// Each class with one value per point of `at`, the heaviest class first.
    pub classes: Vec<(String, Vec<f64>)>,
}

const WIDTH: u32 = 1000;
const PLOT_LEFT: u32 = 60;
const PLOT_RIGHT_MARGIN: u32 = 20;
const LABEL_FONT: u32 = 12;
/// The height of one row of labels.
const ROW_PX: u32 = 18;
/// The plot's width in pixels, for laying labels out before plotters draws.
const PLOT_WIDTH: f64 = (WIDTH - PLOT_LEFT - PLOT_RIGHT_MARGIN - 10) as f64;

/// Where a marker's label goes: its row from the top, and whether it reads leftwards from the
/// marker (near the right edge).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Placed {
    row: usize,
    right: bool,
}

/// Rows for the labels, left to right: each takes the first row where it does not run into the
/// label before it, so no two labels overlap however close their markers are.
fn place_labels(events: &[&Event], from: DateTime<Utc>, span: f64) -> Vec<Placed> {
    let mut row_end: Vec<f64> = Vec::new();
    events
        .iter()
        .map(|event| {
            let px = offset(from, event.at).clamp(0.0, span) / span * PLOT_WIDTH;
            let text_width = event.label.chars().count() as f64 * 7.0 + 10.0;
            let right = px + text_width > PLOT_WIDTH;
            let (start, end) = if right {
                (px - text_width, px)
            } else {
                (px, px + text_width)
            };
            let row = match row_end.iter().position(|&e| e + 4.0 < start) {
                Some(row) => row,
                None => {
                    row_end.push(f64::NEG_INFINITY);
                    row_end.len() - 1
                }
            };
            row_end[row] = end;
            Placed { row, right }
        })
        .collect()
}

/// The colour Performance Insights-like pictures give a wait class.
fn class_colour(class: &str, n: usize) -> RGBColor {
    match class {
        "cpu" => RGBColor(76, 175, 80),
        "io" => RGBColor(33, 120, 220),
        "row lock" => RGBColor(220, 50, 47),
        "metadata lock" => RGBColor(245, 140, 0),
        "commit" => RGBColor(150, 60, 180),
        "network" => RGBColor(0, 150, 136),
        "other" => RGBColor(150, 150, 150),
        _ => [
            RGBColor(121, 85, 72),
            RGBColor(233, 30, 99),
            RGBColor(96, 125, 139),
            RGBColor(205, 220, 57),
        ][n % 4],
    }
}

fn marker_style(kind: EventKind) -> (RGBColor, u32) {
    match kind {
        EventKind::Start | EventKind::End => (RGBColor(60, 60, 60), 2),
        EventKind::Note => (RGBColor(30, 100, 200), 1),
        EventKind::Kill => (RGBColor(200, 0, 0), 3),
        EventKind::KillWithoutEffect => (RGBColor(230, 130, 0), 2),
        EventKind::Deadlock => (RGBColor(140, 40, 170), 2),
        EventKind::Replication => (RGBColor(0, 130, 130), 2),
    }
}

/// Seconds from `from`.
fn offset(from: DateTime<Utc>, at: DateTime<Utc>) -> f64 {
    (at - from).num_milliseconds() as f64 / 1000.0
}

impl Timeline {
    /// The picture, as one `<svg>` element.
    pub(crate) fn to_svg(&self) -> Result<String> {
        let span = offset(self.from, self.to).max(1.0);
        let mut events: Vec<&Event> = self.events.iter().collect();
        events.sort_by_key(|e| e.at);
        let placed = place_labels(&events, self.from, span);
        let rows = placed.iter().map(|p| p.row + 1).max().unwrap_or(1);
        let band_px = f64::from(ROW_PX) * rows as f64 + 6.0;
        let load_top = self.load.as_ref().map(|load| {
            (0..load.at.len())
                .map(|i| load.classes.iter().map(|(_, v)| v[i]).sum::<f64>())
                .fold(0.0_f64, f64::max)
                .max(1.0)
        });
        let head_px = if load_top.is_some() { 56 } else { 30 };
        // Below the plot: the time axis (40) and the margin (10).
        let plot_px = match load_top {
            Some(_) => 330.0 + band_px,
            None => band_px + 12.0,
        };
        let height = head_px + 50 + plot_px.ceil() as u32;
        // The plot's upper band, above the load, holds the labels.
        let load_max = load_top.unwrap_or(0.0);
        let y_max = match load_top {
            Some(top) => top * plot_px / (plot_px - band_px),
            None => 1.0,
        };
        let row_height = (y_max - load_max) * f64::from(ROW_PX) / band_px;
        let mut svg = String::new();
        {
            let root = SVGBackend::with_string(&mut svg, (WIDTH, height)).into_drawing_area();
            root.fill(&WHITE).map_err(draw_error)?;
            // The caption and, with load, the legend of the wait classes: above the plot, so
            // they never cover a marker's label.
            let (head, body) = root.split_vertically(head_px);
            head.draw(&Text::new(
                self.title.clone(),
                (i32::try_from(WIDTH / 2).unwrap_or(0), 8),
                TextStyle::from(("sans-serif", 16).into_font())
                    .pos(Pos::new(HPos::Center, VPos::Top)),
            ))
            .map_err(draw_error)?;
            if let Some(load) = &self.load {
                let mut x = i32::try_from(PLOT_LEFT).unwrap_or(0);
                for (n, (class, values)) in load.classes.iter().enumerate() {
                    let colour = class_colour(class, n);
                    let average = values.iter().sum::<f64>() / values.len().max(1) as f64;
                    let text = format!("{class} ({average:.2} AAS)");
                    head.draw(&Rectangle::new([(x, 34), (x + 12, 46)], colour.filled()))
                        .map_err(draw_error)?;
                    head.draw(&Text::new(
                        text.clone(),
                        (x + 17, 34),
                        TextStyle::from(("sans-serif", 12).into_font())
                            .pos(Pos::new(HPos::Left, VPos::Top)),
                    ))
                    .map_err(draw_error)?;
                    x += 30 + i32::try_from(text.chars().count() * 7).unwrap_or(0);
                }
            }
            let mut chart = ChartBuilder::on(&body)
                .margin(10)
                .margin_top(0)
                .margin_right(PLOT_RIGHT_MARGIN)
                .x_label_area_size(40)
                .y_label_area_size(PLOT_LEFT - 10)
                .build_cartesian_2d(0.0..span, 0.0..y_max)
                .map_err(draw_error)?;
            let from = self.from;
            let time_label = move |s: &f64| {
                let at = from + chrono::Duration::milliseconds((s * 1000.0).round() as i64);
                at.format("%H:%M:%S").to_string()
            };
            let limit = load_max;
            let load_label = move |v: &f64| {
                // The band above the load holds the event labels: no ticks there.
                if *v <= limit * 1.001 {
                    format!("{v:.1}")
                } else {
                    String::new()
                }
            };
            let mut mesh = chart.configure_mesh();
            // No more time labels than whole seconds, so none repeats.
            mesh.x_labels((span as usize + 1).clamp(2, 8))
                .x_label_formatter(&time_label)
                .x_desc(self.time_axis.as_str())
                .disable_x_mesh()
                .light_line_style(WHITE)
                .label_style(("sans-serif", 11).into_font());
            if load_top.is_some() {
                mesh.y_desc(self.load_axis.as_str())
                    .y_labels(8)
                    .y_label_formatter(&load_label);
            } else {
                mesh.y_labels(0).disable_y_mesh();
            }
            mesh.draw().map_err(draw_error)?;

            if let Some(load) = &self.load {
                // Stacked: each class drawn as the sum of it and every class under it, the
                // top sum first, so each lower one paints over the one above.
                let mut sums: Vec<Vec<f64>> = Vec::new();
                for (_, values) in &load.classes {
                    let below = sums
                        .last()
                        .cloned()
                        .unwrap_or_else(|| vec![0.0; values.len()]);
                    sums.push(below.iter().zip(values).map(|(b, v)| b + v).collect());
                }
                for (n, ((class, _), sum)) in load.classes.iter().zip(&sums).enumerate().rev() {
                    let colour = class_colour(class, n);
                    let points = steps(self.from, &load.at, sum, span);
                    chart
                        .draw_series(
                            AreaSeries::new(points, 0.0, colour.filled()).border_style(colour),
                        )
                        .map_err(draw_error)?;
                }
            }

            for event in &events {
                let x = offset(self.from, event.at).clamp(0.0, span);
                let (colour, width) = marker_style(event.kind);
                chart
                    .draw_series(LineSeries::new(
                        [(x, 0.0), (x, y_max)],
                        colour.stroke_width(width),
                    ))
                    .map_err(draw_error)?;
            }
            // Labels over every marker line, each on a white ground, so a line that crosses
            // another marker's label does not strike it through.
            let px = span / PLOT_WIDTH;
            for (event, place) in events.iter().zip(&placed) {
                let x = offset(self.from, event.at).clamp(0.0, span);
                let (colour, _) = marker_style(event.kind);
                let y = y_max - row_height * (place.row as f64 + 0.2);
                let text_px = event.label.chars().count() as f64 * 6.9 + 4.0;
                let (label_x, ground) = if place.right {
                    (x - 4.0 * px, (x - (text_px + 6.0) * px, x - 2.0 * px))
                } else {
                    (x + 4.0 * px, (x + 2.0 * px, x + (text_px + 6.0) * px))
                };
                chart
                    .draw_series(std::iter::once(Rectangle::new(
                        [
                            (ground.0, y + row_height * 0.1),
                            (ground.1, y - row_height * 0.85),
                        ],
                        WHITE.mix(0.9).filled(),
                    )))
                    .map_err(draw_error)?;
                let anchor = if place.right { HPos::Right } else { HPos::Left };
                let style = TextStyle::from(("sans-serif", LABEL_FONT).into_font())
                    .color(&colour)
                    .pos(Pos::new(anchor, VPos::Top));
                chart
                    .draw_series(std::iter::once(Text::new(
                        event.label.clone(),
                        (label_x, y),
                        style,
                    )))
                    .map_err(draw_error)?;
            }
            root.present().map_err(draw_error)?;
        }
        Ok(svg)
    }
}

/// A sampled value holds until the next sample: steps, not slopes between samples (a slope would
/// draw load that no sample saw). The last sample holds for the usual interval.
fn steps(from: DateTime<Utc>, at: &[DateTime<Utc>], values: &[f64], span: f64) -> Vec<(f64, f64)> {
    let xs: Vec<f64> = at.iter().map(|t| offset(from, *t)).collect();
    let mut gaps: Vec<f64> = xs.windows(2).map(|w| w[1] - w[0]).collect();
    gaps.sort_by(f64::total_cmp);
    let usual = gaps.get(gaps.len() / 2).copied().unwrap_or(1.0);
    let mut points = Vec::with_capacity(xs.len() * 2);
    for (n, (&x, &v)) in xs.iter().zip(values).enumerate() {
        let until = xs.get(n + 1).copied().unwrap_or(x + usual).min(span);
        points.push((x, v));
        points.push((until, v));
    }
    points
}

fn draw_error(error: impl std::fmt::Display) -> anyhow::Error {
    anyhow!("drawing the timeline: {error}")
}
