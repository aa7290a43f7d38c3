//! The measured groups: startup (`--help`), the lock scenario (anchor, floor, `locks`, `status`)
//! and the processlist with thousands of threads; each checks what mytriage printed and adds its
//! lines, with their goals, to the report.

use std::collections::BTreeSet;
use std::time::Instant;

use anyhow::Result;
use mysql_async::Conn;

use crate::args::{Args, Variant};
use crate::conns::{close_many, open_many};
use crate::cost::{CostContext, measure_cost};
use crate::measure::{Spec, measure, measure_alone, status_value};
use crate::report::{Goal, Report};
use crate::scenario::LockScenario;
use crate::server::{MARKER, Server};
use crate::support::Flavor;

/// Goals from the issue.
const LOCKS_GOAL_RATIO: f64 = 0.5;
const STATUS_GOAL_RATIO: f64 = 1.0;
const PROCESSLIST_GOAL_CPU_MS: f64 = 50.0;
const HELP_GOAL_WALL_MS: f64 = 5.0;

/// Every `"pid"` number anywhere in a JSON document.
fn pids(value: &serde_json::Value, into: &mut BTreeSet<u64>) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, v) in map {
                if key == "pid" {
                    if let Some(pid) = v.as_u64() {
                        into.insert(pid);
                    }
                }
                pids(v, into);
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| pids(v, into)),
        _ => {}
    }
}

pub(crate) async fn measure_help(report: &mut Report, rounds: usize) -> Result<()> {
    let specs = [
        Spec {
            label: "reference: true".into(),
            program: "true".into(),
            args: Vec::new(),
            ok_codes: vec![0],
        },
        Spec {
            label: "mytriage --help".into(),
            program: env!("CARGO_BIN_EXE_mytriage").into(),
            args: vec!["--help".into()],
            ok_codes: vec![0],
        },
    ];
    let measured = measure(&specs, (rounds * 4).max(40), None)
        .await?
        .expect("no guard");
    report.add_group("startup", "-", measured, |label| {
        (label == "mytriage --help").then_some(Goal::WallMs(HELP_GOAL_WALL_MS))
    });
    Ok(())
}

pub(crate) async fn measure_scenario(
    server: &Server,
    admin: &mut Conn,
    args: &Args,
    variant: Variant,
    scenario: &LockScenario,
    report: &mut Report,
) -> Result<()> {
    let mut specs = vec![server.anchor(), server.floor()];
    if server.sys_lock_waits && server.flavor == Flavor::MariaDb {
        specs.push(server.anchor_join());
    }
    let locks = server.mytriage(&["locks", "--format", "json"], &[0]);
    let status = server.mytriage(&["status", "--format", "json"], &[0, 1]);
    specs.push(locks.clone());
    specs.push(status.clone());
    eprintln!(
        "bench: {} / {}: {} rounds of {} commands",
        server.name,
        variant.name(),
        args.rounds,
        specs.len()
    );
    let ours = 1 + scenario.waiter_ids.len() as u64;
    let (measured, interfered) =
        measure_alone(admin, ours, args.quiet_wait, &specs, args.rounds).await?;

    // Sanity: the blocker tree holds every waiter and the holder.
    let locks_json = &measured
        .iter()
        .find(|m| m.spec.label == locks.label)
        .expect("measured")
        .warm_stdout;
    let found = match serde_json::from_slice::<serde_json::Value>(locks_json) {
        Ok(json) => {
            let mut seen = BTreeSet::new();
            pids(&json, &mut seen);
            let waiters = scenario
                .waiter_ids
                .iter()
                .filter(|id| seen.contains(id))
                .count();
            if waiters < scenario.waiter_ids.len() || !seen.contains(&scenario.holder_id) {
                eprintln!(
                    "bench: WARNING: mytriage locks shows {waiters} of {} waiters{}",
                    scenario.waiter_ids.len(),
                    if seen.contains(&scenario.holder_id) {
                        ""
                    } else {
                        " and not the holder"
                    }
                );
            }
            format!(
                "{waiters}/{}{}",
                scenario.waiter_ids.len(),
                if seen.contains(&scenario.holder_id) {
                    " + holder"
                } else {
                    ", holder MISSING"
                }
            )
        }
        Err(e) => {
            eprintln!("bench: WARNING: mytriage locks printed no JSON: {e}");
            "not JSON".into()
        }
    };
    let connected: u64 = status_value(admin, "Threads_connected").await?;
    let scenario_name = format!("locks, {}", variant.name());
    report.scenarios.push(format!(
        "| {} | {} | {} | {} | {} | {} | {} | {} |",
        server.name,
        variant.name(),
        scenario.rows_locked,
        scenario.waiter_ids.len(),
        scenario.wait_edges,
        connected,
        if interfered { "**yes**" } else { "no" },
        found
    ));
    let locks_label = locks.label.clone();
    let status_label = status.label.clone();
    report.add_group(&scenario_name, &server.name, measured, |label| {
        if label == locks_label {
            Some(Goal::Ratio(LOCKS_GOAL_RATIO))
        } else if label == status_label {
            Some(Goal::Ratio(STATUS_GOAL_RATIO))
        } else {
            None
        }
    });

    if server.performance_schema && !args.skip_cost {
        let anchor = server.anchor();
        let anchor_marker = if server.sys_lock_waits {
            "sys.innodb_lock_waits"
        } else {
            "sql_kill_blocking_connection"
        }
        .to_owned();
        let commands = [
            (
                server.mytriage_marked(&["locks", "--format", "json"], &[0]),
                locks.label.clone(),
                MARKER.to_owned(),
            ),
            (
                server.mytriage_marked(&["status", "--format", "json"], &[0, 1]),
                status.label.clone(),
                MARKER.to_owned(),
            ),
            (anchor.clone(), anchor.label.clone(), anchor_marker),
        ];
        let context = CostContext {
            scenario: &scenario_name,
            rows_locked: scenario.rows_locked,
            ours,
            quiet_wait: args.quiet_wait,
        };
        measure_cost(server, admin, &context, &commands, report).await?;
    }
    Ok(())
}

pub(crate) async fn measure_processlist(
    server: &Server,
    admin: &mut Conn,
    args: &Args,
    ours: u64,
    rows_locked: u64,
    report: &mut Report,
) -> Result<()> {
    let connected = status_value(admin, "Threads_connected").await? as usize;
    let extra = args.threads.saturating_sub(connected);
    eprintln!(
        "bench: opening {extra} more connections for {} threads",
        args.threads
    );
    let started = Instant::now();
    let more = open_many(&server.opts, extra).await?;
    eprintln!(
        "bench: {} more connections in {:.1} s",
        more.len(),
        started.elapsed().as_secs_f64()
    );
    let result = async {
        let connected = status_value(admin, "Threads_connected").await?;
        let specs = [
            server.client_sql(
                &format!("reference: {} -e 'show full processlist'", server.client_name()),
                "show full processlist",
            ),
            server.mytriage(&["processlist", "--format", "json"], &[0]),
            server.mytriage(&["processlist"], &[0]),
        ];
        let (measured, interfered) =
            measure_alone(admin, ours, args.quiet_wait, &specs, args.rounds).await?;
        let shown = serde_json::from_slice::<serde_json::Value>(&measured[1].warm_stdout)
            .map(|json| {
                let mut seen = BTreeSet::new();
                pids(&json, &mut seen);
                seen.len()
            })
            .unwrap_or(0);
        report.scenarios.push(format!(
            "| {} | processlist | (spread scenario still in place) | | | {connected} | {} | {shown} threads in processlist JSON |",
            server.name,
            if interfered { "**yes**" } else { "no" }
        ));
        let scenario_name = format!("processlist, {connected} threads");
        if server.performance_schema && !args.skip_cost {
            let json = server.mytriage(&["processlist", "--format", "json"], &[0]);
            let commands = [(
                server.mytriage_marked(&["processlist", "--format", "json"], &[0]),
                json.label,
                MARKER.to_owned(),
            )];
            let context = CostContext {
                scenario: &scenario_name,
                rows_locked,
                ours,
                quiet_wait: args.quiet_wait,
            };
            measure_cost(server, admin, &context, &commands, report).await?;
        }
        report.add_group(
            &scenario_name,
            &server.name,
            measured,
            |label| label.starts_with("mytriage").then_some(Goal::CpuMs(PROCESSLIST_GOAL_CPU_MS)),
        );
        Ok(())
    }
    .await;
    if !args.hold.is_zero() {
        eprintln!(
            "bench: holding {} connections on {} for {} s (--hold), e.g. to profile by hand",
            args.threads,
            server.name,
            args.hold.as_secs()
        );
        tokio::time::sleep(args.hold).await;
    }
    close_many(more).await;
    result
}
