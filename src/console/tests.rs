//! The console's state machine and its frames, on a recorded server and a hand-built incident:
//! an idle root blocker (20) holding up 21 and 22, 23 waiting on 21, an older unrelated idle
//! transaction (10, the decoy) and one busy SELECT (30). Frames are drawn on ratatui's
//! TestBackend and compared with insta snapshots.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

use super::app::{App, Effect, KillStep, Mode, Pane, SortKey};
use super::sampler::{Detail, Request, Snapshot, Update};
use super::view::{self, Palette};
use crate::evidence::record::{
    BlastRadius, HeldLock, KillMethod, KillOutcome, KillResult, KillSnapshot, ServerStamp,
    SnapshotThread,
};
use crate::evidence::{Header, RecordKind};
use crate::probe::explain::{ExplainReport, PlanFormat};
use crate::probe::locks::tree::{self, Edge};
use crate::probe::locks::{self, LocksReport};
use crate::probe::processlist::{Thread, Trx};
use crate::probe::top;
use crate::server::ServerInfo;
use crate::workflow::status;
use crate::workflow::thresholds::Thresholds;
use crate::workflow::triage::Triage;

fn server() -> ServerInfo {
    crate::server::detect(&crate::server::fixture_facts("mysql-9.7"))
}

fn thread(pid: u64, command: &str, trx_age: Option<u64>, statement: Option<&str>) -> Thread {
    let mut trx = trx_age.map(|age| Trx::sample(&(1000 + pid).to_string(), age));
    let mut t = Thread::sample(pid, "app", command, None);
    if let (Some(trx), Some(_)) = (trx.as_mut(), statement) {
        trx.state = "LOCK WAIT".into();
    }
    t.idle_in_trx = command == "Sleep" && trx.is_some();
    t.trx = trx;
    t.statement = statement.map(str::to_owned);
    t.time_s = Some(trx_age.unwrap_or(3));
    t
}

fn edge(waiter: u64, blocker: u64) -> Edge {
    Edge::sample(waiter, blocker, "shop.orders")
}

const UPDATE: &str = "UPDATE orders SET status = 'paid' WHERE id = 42";

fn incident() -> Box<Snapshot> {
    let server = server();
    let threads = vec![
        thread(10, "Sleep", Some(300), None),
        thread(20, "Sleep", Some(60), None),
        thread(21, "Query", Some(12), Some(UPDATE)),
        thread(22, "Query", Some(11), Some(UPDATE)),
        thread(23, "Query", Some(5), Some(UPDATE)),
        thread(30, "Query", None, Some("SELECT COUNT(*) FROM orders")),
    ];
    let last: HashMap<u64, String> = [(20, UPDATE.to_owned())].into();
    let by_pid: HashMap<u64, &Thread> = threads.iter().map(|t| (t.pid, t)).collect();
    let forest = tree::build(&[edge(21, 20), edge(22, 20), edge(23, 21)], &|pid| {
        locks::describe(pid, by_pid.get(&pid).copied(), last.get(&pid))
    });
    let mut triage = Triage::sample(server.clone(), Some(LocksReport::sample(&server, forest)));
    triage.idle_in_trx = 2;
    triage.history_list_length = Some(1234);
    let load = top::Sample {
        at: "2026-12-02T02:00:00.000Z".into(),
        active: top::active_threads(&threads),
        digests: None,
    };
    Box::new(Snapshot {
        report: status::judge(triage, &Thresholds::default()),
        threads,
        load,
        at: "02:00:00".into(),
        took: Duration::from_millis(40),
    })
}

fn app() -> App {
    let mut app = App::new(Duration::from_secs(2), Duration::from_secs(300));
    app.update(Update::Sampled(incident()), Instant::now());
    app
}

fn press(app: &mut App, code: KeyCode) -> Option<Effect> {
    app.key(KeyEvent::new(code, KeyModifiers::NONE))
}

fn type_text(app: &mut App, text: &str) {
    for c in text.chars() {
        press(app, KeyCode::Char(c));
    }
}

fn tree_pids(app: &App) -> Vec<u64> {
    app.tree.iter().map(|r| r.session.pid).collect()
}

fn snapshot_of(pid: u64) -> Box<KillSnapshot> {
    let mut header = Header::new(RecordKind::KillSnapshot);
    header.id = "snapshot-1".into();
    let thread = thread(20, "Sleep", Some(60), None);
    Box::new(KillSnapshot {
        header,
        pid,
        query_only: false,
        reason: "chosen in mytriage console".into(),
        dry_run: false,
        server: ServerStamp {
            flavor: "mysql-9".into(),
            version: "9.7.4".into(),
            hostname: Some("db1".into()),
            time: "2026-12-02 02:00:00".into(),
        },
        thread: SnapshotThread::from(&thread),
        trx_started: None,
        activity: None,
        last_statement: Some(UPDATE.into()),
        locks: vec![HeldLock {
            table: Some("shop.orders".into()),
            index: Some("PRIMARY".into()),
            lock_type: Some("RECORD".into()),
            lock_mode: Some("X,REC_NOT_GAP".into()),
            status: Some("GRANTED".into()),
            count: 1,
        }],
        metadata_locks: Vec::new(),
        blocks: BlastRadius {
            waiters_total: 3,
            waiter_pids: vec![21, 22, 23],
            appliers: Vec::new(),
            edges: Vec::new(),
        },
    })
}

/// The sampler's answer to `k`: the snapshot of 20 is on disk.
fn snapshot_arrives(app: &mut App, warnings: &[&str]) -> Option<Request> {
    app.update(
        Update::KillSnapshot {
            snapshot: snapshot_of(20),
            warnings: warnings.iter().map(|w| (*w).to_owned()).collect(),
        },
        Instant::now(),
    )
}

fn outcome(pid: u64) -> Box<KillOutcome> {
    Box::new(KillOutcome {
        header: Header::new(RecordKind::KillOutcome),
        snapshot_id: "snapshot-1".into(),
        pid,
        result: KillResult::Killed,
        method: Some(KillMethod::Kill),
        error: None,
        changed: Vec::new(),
        after: None,
    })
}

/// The frame as text, one line per row, trailing blanks cut.
fn frame(app: &mut App, width: u16, height: u16, palette: Palette) -> String {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    let now = app.last_sampled.unwrap_or_else(Instant::now);
    terminal.draw(|f| view::draw(f, app, now, palette)).unwrap();
    let buffer = terminal.backend().buffer();
    (0..height)
        .map(|y| {
            let line: String = (0..width)
                .map(|x| buffer[(x, y)].symbol().to_owned())
                .collect();
            line.trim_end().to_owned()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

const PLAIN: Palette = Palette { color: false };

#[test]
fn the_tree_puts_the_root_first_and_the_decoy_nowhere() {
    let app = app();
    assert_eq!(tree_pids(&app), [20, 21, 23, 22]);
    assert_eq!(app.tree[0].waiters_total, 3);
    assert!(app.tree[0].session.idle_in_trx);
    assert_eq!(app.selected_pid(), Some(20));
}

#[test]
fn selection_moves_and_stays_inside_the_rows() {
    let mut app = app();
    press(&mut app, KeyCode::Up);
    assert_eq!(app.selected_pid(), Some(20));
    press(&mut app, KeyCode::Down);
    press(&mut app, KeyCode::Down);
    assert_eq!(app.selected_pid(), Some(23));
    press(&mut app, KeyCode::End);
    assert_eq!(app.selected_pid(), Some(22));
    press(&mut app, KeyCode::PageDown);
    assert_eq!(app.selected_pid(), Some(22));
    press(&mut app, KeyCode::Home);
    assert_eq!(app.selected_pid(), Some(20));
    press(&mut app, KeyCode::Char('2'));
    assert_eq!(app.pane, Pane::Sessions);
    press(&mut app, KeyCode::End);
    assert_eq!(app.selected(Pane::Sessions), 5);
    // Each pane keeps its own selection.
    press(&mut app, KeyCode::Char('1'));
    assert_eq!(app.selected_pid(), Some(20));
}

#[test]
fn a_node_collapses_and_expands() {
    let mut app = app();
    press(&mut app, KeyCode::Left);
    assert_eq!(tree_pids(&app), [20]);
    assert!(app.tree[0].collapsed);
    press(&mut app, KeyCode::Right);
    assert_eq!(tree_pids(&app), [20, 21, 23, 22]);
    press(&mut app, KeyCode::Down);
    press(&mut app, KeyCode::Char(' '));
    assert_eq!(tree_pids(&app), [20, 21, 22]);
    // A leaf has nothing to fold.
    press(&mut app, KeyCode::End);
    press(&mut app, KeyCode::Left);
    assert_eq!(tree_pids(&app), [20, 21, 22]);
    // The collapse survives the next sample.
    app.update(Update::Sampled(incident()), Instant::now());
    assert_eq!(tree_pids(&app), [20, 21, 22]);
}

#[test]
fn the_filter_narrows_the_sessions_and_esc_clears_it() {
    let mut app = app();
    press(&mut app, KeyCode::Char('/'));
    assert_eq!(app.pane, Pane::Sessions);
    type_text(&mut app, "count");
    assert_eq!(app.mode, Mode::Filter("count".into()));
    assert_eq!(app.sessions.len(), 1);
    press(&mut app, KeyCode::Enter);
    assert_eq!(app.mode, Mode::Normal);
    assert_eq!(app.selected_pid(), Some(30));
    // Keys typed into the filter are text, not commands.
    press(&mut app, KeyCode::Char('/'));
    type_text(&mut app, "q");
    assert_eq!(app.filter, "countq");
    press(&mut app, KeyCode::Esc);
    assert_eq!(app.filter, "");
    assert_eq!(app.sessions.len(), 6);
}

#[test]
fn sorting_by_transaction_age_puts_the_oldest_first() {
    let mut app = app();
    press(&mut app, KeyCode::Char('2'));
    press(&mut app, KeyCode::Char('s'));
    assert_eq!(app.sort, SortKey::TrxAge);
    let pids: Vec<u64> = app.sessions.iter().map(|&i| app.threads()[i].pid).collect();
    assert_eq!(pids, [10, 20, 21, 22, 23, 30]);
    press(&mut app, KeyCode::Char('s'));
    assert_eq!(app.sort, SortKey::Pid);
}

#[test]
fn the_kill_dialog_asks_only_after_the_snapshot_is_written() {
    let mut app = app();
    let effect = press(&mut app, KeyCode::Char('k'));
    assert_eq!(
        effect,
        Some(Effect::Send(Request::KillBegin {
            pid: 20,
            query_only: false
        }))
    );
    // Nothing to confirm until the snapshot is on disk: y does nothing yet.
    assert_eq!(press(&mut app, KeyCode::Char('y')), None);
    assert!(matches!(
        app.mode,
        Mode::Kill(KillStep::Snapshotting { pid: 20, .. })
    ));
    let answer = snapshot_arrives(&mut app, &[]);
    assert_eq!(answer, None);
    assert!(matches!(app.mode, Mode::Kill(KillStep::Confirm { .. })));
    assert_eq!(
        press(&mut app, KeyCode::Char('y')),
        Some(Effect::Send(Request::KillConclude { confirmed: true }))
    );
    assert!(matches!(
        app.mode,
        Mode::Kill(KillStep::Killing { pid: 20 })
    ));
    // Re-verifying and killing cannot be cancelled half-way.
    assert_eq!(press(&mut app, KeyCode::Esc), None);
    app.update(Update::KillOutcome(outcome(20)), Instant::now());
    assert!(matches!(
        app.mode,
        Mode::Kill(KillStep::Done { pid: 20, .. })
    ));
    assert_eq!(app.message.as_deref(), Some("session 20: killed by KILL"));
    press(&mut app, KeyCode::Char('x'));
    assert_eq!(app.mode, Mode::Normal);
}

#[test]
fn saying_no_is_recorded_and_a_late_snapshot_is_answered_no() {
    let mut app = app();
    press(&mut app, KeyCode::Char('K'));
    snapshot_arrives(&mut app, &["20 is a blocker only by inference"]);
    assert_eq!(
        press(&mut app, KeyCode::Char('n')),
        Some(Effect::Send(Request::KillConclude { confirmed: false }))
    );
    assert_eq!(app.mode, Mode::Normal);
    // Closed while the snapshot was being written: when it arrives, the answer is no.
    press(&mut app, KeyCode::Char('k'));
    press(&mut app, KeyCode::Esc);
    assert_eq!(app.mode, Mode::Normal);
    let answer = snapshot_arrives(&mut app, &[]);
    assert_eq!(answer, Some(Request::KillConclude { confirmed: false }));
    assert_eq!(app.mode, Mode::Normal);
}

#[test]
fn a_refused_kill_says_why() {
    let mut app = app();
    press(&mut app, KeyCode::Char('k'));
    app.update(
        Update::KillRefused {
            pid: 20,
            reason: "session 20 is a replication thread; mytriage never kills it".into(),
        },
        Instant::now(),
    );
    let text = frame(&mut app, 80, 24, PLAIN);
    assert!(text.contains("never kills it"), "{text}");
    press(&mut app, KeyCode::Enter);
    assert_eq!(app.mode, Mode::Normal);
}

#[test]
fn enter_asks_for_the_detail_with_the_transaction_and_q_quits() {
    let mut app = app();
    assert_eq!(
        press(&mut app, KeyCode::Enter),
        Some(Effect::Send(Request::Detail {
            pid: 20,
            trx_id: Some("1020".into())
        }))
    );
    assert_eq!(press(&mut app, KeyCode::Esc), None);
    assert_eq!(app.mode, Mode::Normal);
    // Outside a pane of sessions there is nothing to open.
    press(&mut app, KeyCode::Char('3'));
    assert_eq!(press(&mut app, KeyCode::Enter), None);
    assert_eq!(press(&mut app, KeyCode::Char('q')), Some(Effect::Quit));
    let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
    app.mode = Mode::Note("half typed".into());
    assert_eq!(app.key(ctrl_c), Some(Effect::Quit));
}

#[test]
fn a_note_is_typed_then_saved() {
    let mut app = app();
    press(&mut app, KeyCode::Char('i'));
    type_text(&mut app, "killed 20 at 02:01");
    press(&mut app, KeyCode::Backspace);
    assert_eq!(
        press(&mut app, KeyCode::Enter),
        Some(Effect::Note("killed 20 at 02:0".into()))
    );
    press(&mut app, KeyCode::Char('i'));
    assert_eq!(
        press(&mut app, KeyCode::Enter),
        None,
        "an empty note is not saved"
    );
}

#[test]
fn a_sample_in_flight_longer_than_the_interval_is_late() {
    let mut app = app();
    let start = Instant::now();
    app.update(Update::Sampling, start);
    assert_eq!(app.late_by(start + Duration::from_secs(1)), None);
    assert_eq!(
        app.late_by(start + Duration::from_secs(5)),
        Some(Duration::from_secs(5))
    );
    let text = frame_at(&mut app, start + Duration::from_secs(5));
    assert!(text.contains("sample late 5.0s"), "{text}");
    // Paused, nothing is late.
    assert_eq!(
        press(&mut app, KeyCode::Char('p')),
        Some(Effect::Pause(true))
    );
    assert_eq!(app.late_by(start + Duration::from_secs(5)), None);
    app.update(Update::Sampled(incident()), start + Duration::from_secs(6));
    press(&mut app, KeyCode::Char('p'));
    assert_eq!(app.late_by(start + Duration::from_secs(7)), None);
}

fn frame_at(app: &mut App, now: Instant) -> String {
    let mut terminal = Terminal::new(TestBackend::new(80, 24)).unwrap();
    terminal.draw(|f| view::draw(f, app, now, PLAIN)).unwrap();
    let buffer = terminal.backend().buffer();
    buffer
        .content()
        .chunks(80)
        .map(|row| row.iter().map(|c| c.symbol()).collect::<String>())
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn no_color_draws_no_colour() {
    let mut app = app();
    let mut terminal = Terminal::new(TestBackend::new(80, 24)).unwrap();
    terminal
        .draw(|f| view::draw(f, &mut app, Instant::now(), PLAIN))
        .unwrap();
    let plain = terminal.backend().buffer().clone();
    assert!(
        plain
            .content()
            .iter()
            .all(|c| c.fg == ratatui::style::Color::Reset && c.bg == ratatui::style::Color::Reset)
    );
    terminal
        .draw(|f| view::draw(f, &mut app, Instant::now(), Palette { color: true }))
        .unwrap();
    assert!(
        terminal
            .backend()
            .buffer()
            .content()
            .iter()
            .any(|c| c.fg == ratatui::style::Color::Red)
    );
}

#[test]
fn frame_blocker_tree_80x24() {
    insta::assert_snapshot!(frame(&mut app(), 80, 24, PLAIN));
}

#[test]
fn frame_blocker_tree_reflows_at_140x40() {
    insta::assert_snapshot!(frame(&mut app(), 140, 40, PLAIN));
}

#[test]
fn frame_sessions_80x24() {
    let mut app = app();
    press(&mut app, KeyCode::Char('2'));
    insta::assert_snapshot!(frame(&mut app, 80, 24, PLAIN));
}

#[test]
fn the_load_is_summed_when_a_sample_arrives_and_a_frame_only_reads_it() {
    let mut app = app();
    app.update(Update::Sampled(incident()), Instant::now());
    assert_eq!(app.load.as_ref().map(|l| l.report.samples), Some(2));
    // A window changed behind the state's back shows only once the next sample arrives: the
    // frame does not walk the window (at 5,000 sessions that walk was most of a frame).
    let load = app.loads.iter().next().cloned().unwrap();
    app.loads.push(load);
    press(&mut app, KeyCode::Char('3'));
    assert!(frame(&mut app, 80, 24, PLAIN).contains("over the last 2 sample(s)"));
    app.update(Update::Sampled(incident()), Instant::now());
    assert!(frame(&mut app, 80, 24, PLAIN).contains("over the last 4 sample(s)"));
}

#[test]
fn frame_transactions_and_load_80x24() {
    let mut app = app();
    press(&mut app, KeyCode::Char('4'));
    let transactions = frame(&mut app, 80, 24, PLAIN);
    press(&mut app, KeyCode::Char('3'));
    let load = frame(&mut app, 80, 24, PLAIN);
    insta::assert_snapshot!(format!("{transactions}\n{}\n{load}", "=".repeat(80)));
}

#[test]
fn frame_kill_dialog_80x24() {
    let mut app = app();
    press(&mut app, KeyCode::Char('k'));
    snapshot_arrives(&mut app, &[]);
    insta::assert_snapshot!(frame(&mut app, 80, 24, PLAIN));
}

#[test]
fn frame_detail_with_plan_80x24() {
    let mut app = app();
    press(&mut app, KeyCode::Down);
    press(&mut app, KeyCode::Enter);
    app.update(
        Update::Detail(Box::new(Detail {
            pid: 21,
            explain: Ok(ExplainReport {
                pid: 21,
                statement: Some(UPDATE.into()),
                format: PlanFormat::Tree,
                source: "EXPLAIN FORMAT=TREE FOR CONNECTION 21".into(),
                plan: Some(
                    "-> Update orders using PRIMARY over (id = 42)  (cost=1.1 rows=1)".into(),
                ),
                rows: Vec::new(),
                reason: None,
            }),
            locks: Ok(Vec::new()),
            metadata_locks: Ok(Vec::new()),
        })),
        Instant::now(),
    );
    insta::assert_snapshot!(frame(&mut app, 80, 36, PLAIN));
}

#[test]
fn frame_help_80x24() {
    let mut app = app();
    press(&mut app, KeyCode::Char('?'));
    insta::assert_snapshot!(frame(&mut app, 80, 24, PLAIN));
}

/// The replication pane: a broken channel with its failing transaction, and Aurora's instances
/// in words (role, id, lag), never as debug output.
#[test]
fn the_replication_pane_names_a_broken_channel_and_auroras_instances() {
    use crate::probe::replication::{AuroraInstance, Channel, ReplicationError, Role};
    let mut snapshot = incident();
    let triage = &mut snapshot.report.triage;
    triage.replication.push(Channel {
        name: String::new(),
        source: Some("db1:3306".into()),
        io_running: Some("Yes".into()),
        io_state: None,
        sql_running: Some("No".into()),
        sql_state: None,
        seconds_behind_source: None,
        applier_lag_s: None,
        heartbeat_lag_s: None,
        io_error: None,
        sql_error: Some(ReplicationError {
            errno: 1062,
            message: "Duplicate entry".into(),
            at: None,
        }),
        failing_transaction: Some("3e11fa47-71ca-11e1-9e33-c80aa9429562:23".into()),
        retrieved_gtid_set: None,
        executed_gtid_set: None,
        gtid_io_pos: None,
        workers: Vec::new(),
        blocked_by: None,
        relay_log: None,
    });
    triage.aurora.push(AuroraInstance {
        server_id: "db-reader-1".into(),
        role: Role::Reader,
        lag_ms: Some(1250.0),
        last_update: Some("2026-12-02 02:00:00".into()),
    });
    let mut app = App::new(Duration::from_secs(2), Duration::from_secs(300));
    app.update(Update::Sampled(snapshot), Instant::now());
    press(&mut app, KeyCode::Char('6'));
    let screen = frame(&mut app, 100, 30, PLAIN);
    assert!(
        screen.contains("Channel (default) from db1:3306: IO Yes, SQL No"),
        "{screen}"
    );
    assert!(
        screen.contains("SQL thread error 1062: Duplicate entry"),
        "{screen}"
    );
    assert!(
        screen.contains("failing transaction: 3e11fa47-71ca-11e1-9e33-c80aa9429562:23"),
        "{screen}"
    );
    assert!(
        screen.contains("Aurora reader db-reader-1: lag 1250 ms, updated 2026-12-02 02:00:00"),
        "{screen}"
    );
    assert!(!screen.contains("AuroraInstance"), "{screen}");
}
