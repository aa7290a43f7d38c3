//! The report on stdout: Markdown tables of the scenarios, timings and ratios, the cost to the
//! server, and the goals met or missed. Other tooling and the README quote its lines: keep them.

use std::fmt::Write as _;
use std::time::Duration;

use crate::cost::{COST_RUNS, CostContext, Statement, server_ps};
use crate::measure::{Measured, median, ms};
use crate::server::Server;

#[derive(Clone, Copy)]
pub(crate) enum Goal {
    /// Wall-time median at most this multiple of the anchor's.
    Ratio(f64),
    /// Client CPU (user + sys) median at most this many ms.
    CpuMs(f64),
    /// Wall-time median at most this many ms.
    WallMs(f64),
}

struct Line {
    scenario: String,
    server: String,
    command: String,
    median_ms: f64,
    min_ms: f64,
    cpu_ms: f64,
    ratio: f64,
    out_bytes: usize,
    goal: Option<Goal>,
}

impl Line {
    /// Whether the goal was met, and the gap.
    fn verdict(&self) -> Option<(bool, String, String)> {
        let goal = self.goal?;
        Some(match goal {
            Goal::Ratio(max) => (
                self.ratio <= max,
                format!("≤ {max:.1}× anchor"),
                format!("{:.3}× (goal {max:.1}×)", self.ratio),
            ),
            Goal::CpuMs(max) => (
                self.cpu_ms <= max,
                format!("CPU ≤ {max:.0} ms"),
                format!("CPU {:.1} ms (goal {max:.0} ms)", self.cpu_ms),
            ),
            Goal::WallMs(max) => (
                self.median_ms <= max,
                format!("wall ≤ {max:.0} ms"),
                format!("{:.2} ms (goal {max:.0} ms)", self.median_ms),
            ),
        })
    }
}

struct CostLine {
    server: String,
    scenario: String,
    command: String,
    statements: Vec<Statement>,
    wall_ms: f64,
    rows_locked: u64,
    /// Server time of every run, ms, ascending.
    totals_ms: Vec<f64>,
}

#[derive(Default)]
pub(crate) struct Report {
    pub(crate) machine: String,
    pub(crate) servers: Vec<String>,
    pub(crate) scenarios: Vec<String>,
    lines: Vec<Line>,
    costs: Vec<CostLine>,
}

impl Report {
    /// Adds one interleaved group; the first command is the reference for the ratios.
    pub(crate) fn add_group(
        &mut self,
        scenario: &str,
        server: &str,
        measured: Vec<Measured>,
        goal: impl Fn(&str) -> Option<Goal>,
    ) {
        let anchor = measured
            .first()
            .map_or(Duration::ZERO, |m| median(&m.walls));
        for m in measured {
            let wall = median(&m.walls);
            let line = Line {
                scenario: scenario.into(),
                server: server.into(),
                command: m.spec.label.clone(),
                median_ms: ms(wall),
                min_ms: ms(m.walls.iter().copied().min().unwrap_or_default()),
                cpu_ms: ms(median(&m.cpus)),
                ratio: if anchor.is_zero() {
                    0.0
                } else {
                    wall.as_secs_f64() / anchor.as_secs_f64()
                },
                out_bytes: m.warm_stdout.len(),
                goal: goal(&m.spec.label),
            };
            eprintln!(
                "bench:   median {:>9.1} ms  min {:>9.1} ms  cpu {:>7.1} ms  {:>6.2}x  {}",
                line.median_ms, line.min_ms, line.cpu_ms, line.ratio, line.command
            );
            self.lines.push(line);
        }
    }

    pub(crate) fn add_cost(
        &mut self,
        server: &Server,
        context: &CostContext<'_>,
        label: &str,
        statements: Vec<Statement>,
        wall: Duration,
        totals_ms: &[f64],
    ) {
        let line = CostLine {
            server: server.name.clone(),
            scenario: context.scenario.into(),
            command: label.to_owned(),
            statements,
            wall_ms: ms(wall),
            rows_locked: context.rows_locked,
            totals_ms: totals_ms.to_vec(),
        };
        eprintln!(
            "bench:   cost: {} statements, {} rows examined, {:.1} ms server time  {}",
            line.statements.len(),
            line.statements.iter().map(|s| s.rows_examined).sum::<u64>(),
            line.statements.iter().map(|s| s.timer_wait_ps).sum::<u64>() as f64 / 1e9,
            line.command
        );
        self.costs.push(line);
    }

    pub(crate) fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "# mytriage scale benchmark\n");
        let _ = writeln!(
            out,
            "Finished {} UTC. {}",
            chrono::Utc::now().format("%Y-%m-%d %H:%M"),
            self.machine
        );
        let _ = writeln!(out, "\nServers:\n");
        for server in &self.servers {
            let _ = writeln!(out, "- {server}");
        }
        let _ = writeln!(out, "\n## Scenarios as measured\n");
        table_head(
            &mut out,
            "| server | scenario | holder's rows locked | waiters in LOCK WAIT | lock-wait rows | Threads_connected | other clients' trx while measuring | in mytriage's JSON |",
            "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |",
        );
        for line in &self.scenarios {
            let _ = writeln!(out, "{line}");
        }
        let _ = writeln!(out, "\n## Timings\n");
        let _ = writeln!(
            out,
            "Each group ran interleaved in one run (warm-up once, then rounds alternating the order). \
             Ratio = this median / the group's first command's median (the anchor or reference). \
             CPU = the child's user + sys (wait4)."
        );
        let _ = writeln!(out);
        table_head(
            &mut out,
            "| scenario | server | command | median ms | min ms | CPU ms | stdout bytes | ratio | goal | met? |",
            "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | --- | --- |",
        );
        for line in &self.lines {
            let (goal, met) = match line.verdict() {
                Some((met, goal, _)) => (goal, if met { "yes" } else { "**no**" }.to_owned()),
                None => (String::new(), String::new()),
            };
            let _ = writeln!(
                out,
                "| {} | {} | {} | {:.1} | {:.1} | {:.1} | {} | {:.3}× | {} | {} |",
                line.scenario,
                line.server,
                cell(&line.command),
                line.median_ms,
                line.min_ms,
                line.cpu_ms,
                line.out_bytes,
                line.ratio,
                goal,
                met
            );
        }

        if !self.costs.is_empty() {
            self.render_costs(&mut out);
        }

        let _ = writeln!(out, "\n## Goals\n");
        for line in &self.lines {
            if let Some((met, _, gap)) = line.verdict() {
                let _ = writeln!(
                    out,
                    "- {} — {} / {} / `{}`: {}",
                    if met { "met" } else { "**missed**" },
                    line.scenario,
                    line.server,
                    line.command,
                    gap
                );
            }
        }
        out
    }

    fn render_costs(&self, out: &mut String) {
        let _ = writeln!(out, "\n## Cost to the server\n");
        let _ = writeln!(
            out,
            "From performance_schema.events_statements_history_long: the top-level statements of the \
             command's own connection (TIMER_WAIT in ms), with the scenario in place. Each command ran \
             {COST_RUNS} times; shown is the run with the median server time. mytriage ran here with \
             `--query-timeout 10007ms`, whose `SET SESSION` marks its connection among other clients'."
        );
        let _ = writeln!(out);
        table_head(
            out,
            &format!(
                "| server | scenario | command | statements | rows examined | rows sent | server ms | server ms of the {COST_RUNS} runs | wall ms | worst statement by rows examined |"
            ),
            "| --- | --- | --- | ---: | ---: | ---: | ---: | --- | ---: | --- |",
        );
        for cost in &self.costs {
            let worst = cost
                .statements
                .iter()
                .max_by_key(|s| s.rows_examined)
                .map(|s| {
                    format!(
                        "{} rows, {:.1} ms: `{}`",
                        s.rows_examined,
                        s.timer_wait_ps as f64 / 1e9,
                        cell(&s.snippet(90))
                    )
                })
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {:.1} | {} | {:.1} | {} |",
                cost.server,
                cost.scenario,
                cell(&cost.command),
                cost.statements.len(),
                cost.statements.iter().map(|s| s.rows_examined).sum::<u64>(),
                cost.statements.iter().map(|s| s.rows_sent).sum::<u64>(),
                server_ps(&cost.statements) as f64 / 1e9,
                cost.totals_ms
                    .iter()
                    .map(|t| format!("{t:.1}"))
                    .collect::<Vec<_>>()
                    .join(" / "),
                cost.wall_ms,
                worst
            );
        }

        let _ = writeln!(out, "\n### Statements that read the lock tables\n");
        let _ = writeln!(
            out,
            "Every statement whose text mentions data_locks (MySQL) or INNODB_LOCKS (MariaDB), \
             with the row locks the holder has: a scan of data_locks would examine at least that many."
        );
        let _ = writeln!(out);
        table_head(
            out,
            "| server | scenario | command | rows examined | row locks held | server ms | statement |",
            "| --- | --- | --- | ---: | ---: | ---: | --- |",
        );
        for cost in &self.costs {
            for s in cost.statements.iter().filter(|s| s.reads_lock_table()) {
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {} | {} | {:.1} | `{}` |",
                    cost.server,
                    cost.scenario,
                    cell(&cost.command),
                    s.rows_examined,
                    cost.rows_locked,
                    s.timer_wait_ps as f64 / 1e9,
                    cell(&s.snippet(120))
                );
            }
        }

        let _ = writeln!(
            out,
            "\n### Costliest statements per command (top 5 by server time)\n"
        );
        table_head(
            out,
            "| server | scenario | command | server ms | rows examined | rows sent | error | statement |",
            "| --- | --- | --- | ---: | ---: | ---: | ---: | --- |",
        );
        for cost in &self.costs {
            let mut by_time: Vec<&Statement> = cost.statements.iter().collect();
            by_time.sort_by_key(|s| std::cmp::Reverse(s.timer_wait_ps));
            for s in by_time.into_iter().take(5) {
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {:.1} | {} | {} | {} | `{}` |",
                    cost.server,
                    cost.scenario,
                    cell(&cost.command),
                    s.timer_wait_ps as f64 / 1e9,
                    s.rows_examined,
                    s.rows_sent,
                    if s.errno == 0 {
                        String::new()
                    } else {
                        s.errno.to_string()
                    },
                    cell(&s.snippet(140))
                );
            }
        }
    }
}

/// A Markdown table's header row and its alignment row.
fn table_head(out: &mut String, header: &str, alignment: &str) {
    let _ = writeln!(out, "{header}\n{alignment}");
}

/// Escapes a Markdown table cell.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('`', "'")
}
