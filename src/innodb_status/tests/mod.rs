//! The deadlock parser on recorded status texts (`fixtures/innodb_status/`, see its README for
//! where each came from), on edited copies of them that reproduce MariaDB's misnumbered victims,
//! and on truncated and garbage input.

use super::*;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/innodb_status");

fn fixture(name: &str) -> String {
    let path = format!("{FIXTURES}/{name}");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn deadlock(text: &str) -> Deadlock {
    parse_latest_deadlock(text).expect("a deadlock section")
}

/// Every `.txt` fixture, sorted.
fn all_fixtures() -> Vec<(String, String)> {
    let mut names: Vec<String> = std::fs::read_dir(FIXTURES)
        .expect("fixtures folder")
        .map(|e| {
            e.expect("dir entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|n| n.ends_with(".txt"))
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|n| (fixture(&n), n))
        .map(|(t, n)| (n, t))
        .collect()
}

fn lock(lock_type: &str, table: &str, index: Option<&str>, mode: &str, waiting: bool) -> LockInfo {
    LockInfo {
        lock_type: lock_type.to_string(),
        table: Some(table.to_string()),
        index: index.map(str::to_string),
        mode: mode.to_string(),
        waiting,
    }
}

/// A record lock on the scratch table the live fixtures were made with.
fn t_lock(index: &str, mode: &str, waiting: bool) -> LockInfo {
    lock("RECORD", "mytriage_fixture.t", Some(index), mode, waiting)
}

/// What one transaction must look like.
struct Want<'a> {
    number: u32,
    trx_id: u64,
    thread_id: u64,
    query_id: u64,
    user: &'a str,
    host: &'a str,
    query: &'a str,
    holds: Vec<LockInfo>,
    waits_for: Vec<LockInfo>,
}

fn check(trx: &DeadlockTrx, want: Want<'_>) {
    let n = want.number;
    assert_eq!(trx.number, n);
    assert_eq!(trx.trx_id, Some(want.trx_id), "({n}) trx id");
    assert_eq!(trx.thread_id, Some(want.thread_id), "({n}) thread id");
    assert_eq!(trx.query_id, Some(want.query_id), "({n}) query id");
    assert_eq!(trx.user.as_deref(), Some(want.user), "({n}) user");
    assert_eq!(trx.host.as_deref(), Some(want.host), "({n}) host");
    assert_eq!(trx.query.as_deref(), Some(want.query), "({n}) query");
    assert_eq!(trx.holds, want.holds, "({n}) holds");
    assert_eq!(trx.waits_for, want.waits_for, "({n}) waits for");
}

/// Two sessions crossing `UPDATE`s on the primary key: the shape of every two-trx fixture.
fn pk_pair(first_query: &str, second_query: &str) -> [(String, Vec<LockInfo>, Vec<LockInfo>); 2] {
    let held = || vec![t_lock("PRIMARY", "X locks rec but not gap", false)];
    let wanted = || vec![t_lock("PRIMARY", "X locks rec but not gap", true)];
    [
        (first_query.to_string(), held(), wanted()),
        (second_query.to_string(), held(), wanted()),
    ]
}

/// The 4,050-byte statement the multiline-long captures sent.
fn long_statement() -> String {
    format!(
        "UPDATE t SET v = v + 1 WHERE id = 10 AND '{}' <> ''",
        "abcdefghij".repeat(400)
    )
}

mod captured;
mod mysql_5_7;
mod victims;

// ---------------------------------------------------------------------------------------------
// Pieces

#[test]
fn conflicting_lock_of_an_outside_transaction_is_dropped() {
    // Credit the lock (1) waits behind to a transaction that is not printed.
    let text = fixture("mariadb-10.11-two-trx-after-commit.txt").replacen(
        "trx id 18645 lock_mode X locks rec but not gap\n",
        "trx id 999 lock_mode X locks rec but not gap\n",
        1,
    );
    let d = deadlock(&text);
    assert_eq!(d.transactions[1].holds, vec![]);
    assert_eq!(d.transactions[0].holds.len(), 1);
}

#[test]
fn lock_lines() {
    let table = parse_lock("TABLE LOCK table `we``ird`.`t` trx id 5 lock mode IX").expect("lock");
    assert_eq!(table.owner_trx_id, Some(5));
    assert_eq!(table.info, lock("TABLE", "we`ird.t", None, "IX", false));

    // MySQL 5.6 quoted the index name.
    let old = parse_lock(
        "RECORD LOCKS space id 0 page no 3 n bits 72 index `PRIMARY` of table `test`.`t` trx id 1286 lock_mode X locks rec but not gap waiting",
    )
    .expect("lock");
    assert_eq!(
        old.info,
        lock(
            "RECORD",
            "test.t",
            Some("PRIMARY"),
            "X locks rec but not gap",
            true
        )
    );
    assert_eq!(old.owner_trx_id, Some(1286));

    for junk in [
        "Record lock, heap no 2 PHYSICAL RECORD: n_fields 5; compact format; info bits 0",
        " 0: len 4; hex 80000001; asc     ;;",
        "RECORD LOCKS space id 10 page no 4 n bits 72 index PRIMARY of table `db`.`t` trx id 7 lock_mode ",
        "RECORD LOCKS space id 10 page no 4 n bi",
        "TABLE LOCK table ",
        "",
    ] {
        assert!(parse_lock(junk).is_none(), "{junk:?}");
    }
}

#[test]
fn thread_lines() {
    let parse = |rest: &str| {
        let mut trx = Draft::new(1).trx;
        parse_thread_line(rest, &mut trx);
        (trx.thread_id, trx.query_id, trx.host, trx.user)
    };
    let s = |v: &str| Some(v.to_string());
    assert_eq!(
        parse("5, OS thread handle 1, query id 7 localhost root updating"),
        (Some(5), Some(7), s("localhost"), s("root"))
    );
    assert_eq!(
        parse("5, OS thread handle 1, query id 7 10.0.0.5 app updating"),
        (Some(5), Some(7), s("10.0.0.5"), s("app"))
    );
    assert_eq!(
        parse("5, OS thread handle 1, query id 7 ::1 app init"),
        (Some(5), Some(7), s("::1"), s("app"))
    );
    assert_eq!(
        parse("5, OS thread handle 1, query id 7 db1 10.0.0.5 app Searching rows for update"),
        (Some(5), Some(7), s("db1"), s("app"))
    );
    // No state, trailing space (seen live for an idle session).
    assert_eq!(
        parse("5, OS thread handle 1, query id 7 localhost 127.0.0.1 root "),
        (Some(5), Some(7), s("localhost"), s("root"))
    );
    // MySQL 5.6 printed the handle in hex.
    assert_eq!(
        parse("4, OS thread handle 0x7f47bcd64700, query id 32 localhost root updating"),
        (Some(4), Some(32), s("localhost"), s("root"))
    );
    assert_eq!(
        parse("9, OS thread handle 1, query id 7 system user Applying batch of row changes"),
        (Some(9), Some(7), None, s("system user"))
    );
    assert_eq!(
        parse("9, OS thread handle 1, query id 7 Waiting for prior transaction to commit"),
        (Some(9), Some(7), None, None)
    );
    assert_eq!(parse("x, y"), (None, None, None, None));
}

#[test]
fn format_names_in_json() {
    let names: Vec<serde_json::Value> = [
        DeadlockFormat::MySql57,
        DeadlockFormat::MySql8,
        DeadlockFormat::MariaDb,
    ]
    .iter()
    .map(|f| serde_json::to_value(f).expect("json"))
    .collect();
    assert_eq!(names, ["mysql-5.7", "mysql-8", "mariadb"]);
}

#[test]
fn history_list_length_on_every_fixture() {
    let want = [
        ("mariadb-10.11-insert-intention.txt", 3277),
        ("mariadb-10.11-multiline-long.txt", 0),
        ("mariadb-10.11-no-deadlock.txt", 3033),
        ("mariadb-10.11-read-views.txt", 0),
        ("mariadb-10.11-secondary-index.txt", 0),
        ("mariadb-10.11-three-trx.txt", 24643),
        ("mariadb-10.11-two-trx-after-commit.txt", 1),
        ("mariadb-10.11-two-trx.txt", 24637),
        ("mysql-5.7-secondary-index.txt", 1873),
        ("mysql-5.7-shared-then-delete.txt", 12),
        ("mysql-5.7-too-deep.txt", 41),
        ("mysql-9.7-insert-intention.txt", 5544),
        ("mysql-9.7-multiline-long.txt", 148),
        ("mysql-9.7-no-deadlock.txt", 55),
        ("mysql-9.7-read-views.txt", 0),
        ("mysql-9.7-secondary-index.txt", 3005),
        ("mysql-9.7-three-trx.txt", 5477),
        ("mysql-9.7-two-trx.txt", 3),
    ];
    let all = all_fixtures();
    assert_eq!(all.len(), want.len(), "a fixture without an expected value");
    for ((name, text), (want_name, want_len)) in all.iter().zip(want) {
        assert_eq!(name, want_name);
        assert_eq!(history_list_length(text), Some(want_len), "{name}");
    }
}

#[test]
fn history_list_length_edges() {
    assert_eq!(history_list_length("History list length 42"), Some(42));
    assert_eq!(history_list_length("History list length 9\r\n"), Some(9));
    assert_eq!(history_list_length("History list length x\n"), None);
    assert_eq!(
        history_list_length("History list length 99999999999999999999999\n"),
        None
    );
    assert_eq!(history_list_length(""), None);
    // A statement quoted before the TRANSACTIONS section does not count.
    let text = "*** (1) TRANSACTION:\nSELECT 1\nHistory list length 7\n------------\nTRANSACTIONS\n------------\nHistory list length 8\n";
    assert_eq!(history_list_length(text), Some(8));
}

// ---------------------------------------------------------------------------------------------
// Robustness

#[test]
fn crlf_and_client_wrapping_change_nothing() {
    for (name, text) in all_fixtures() {
        let lf = parse_latest_deadlock(&text);
        let crlf = text.replace('\n', "\r\n");
        assert_eq!(parse_latest_deadlock(&crlf), lf, "{name} with CRLF");
        assert_eq!(
            history_list_length(&crlf),
            history_list_length(&text),
            "{name}"
        );
        // What `mysql ... \G` prints around the column.
        let wrapped = format!(
            "*************************** 1. row ***************************\n  Type: InnoDB\n  Name: \nStatus: {text}\n1 row in set (0.00 sec)\n"
        );
        assert_eq!(parse_latest_deadlock(&wrapped), lf, "{name} wrapped");
    }
}

/// Every field a truncated text yields must agree with the whole text: a cut never invents.
fn assert_prefix_of(cut: &Deadlock, full: &Deadlock, context: &str) {
    assert!(
        cut.transactions.len() <= full.transactions.len(),
        "{context}"
    );
    for (c, f) in cut.transactions.iter().zip(&full.transactions) {
        assert_eq!(c.number, f.number, "{context}");
        for (got, want) in [
            (c.trx_id, f.trx_id),
            (c.thread_id, f.thread_id),
            (c.query_id, f.query_id),
            (c.active_secs, f.active_secs),
            (c.lock_structs, f.lock_structs),
            (c.row_locks, f.row_locks),
            (c.undo_entries, f.undo_entries),
        ] {
            assert!(
                got.is_none() || got == want,
                "{context}: {got:?} vs {want:?}"
            );
        }
        assert!(c.user.is_none() || c.user == f.user, "{context}");
        assert!(c.host.is_none() || c.host == f.host, "{context}");
        if let Some(q) = &c.query {
            let whole = f.query.as_deref().unwrap_or("");
            assert!(whole.starts_with(q.as_str()), "{context}: {q:?}");
        }
        assert!(f.waits_for.starts_with(&c.waits_for), "{context}");
        assert!(c.holds.iter().all(|l| f.holds.contains(l)), "{context}");
    }
    assert!(
        cut.detected_at.is_none() || cut.detected_at == full.detected_at,
        "{context}"
    );
    assert!(
        cut.victim.is_none() || cut.victim == full.victim,
        "{context}"
    );
}

#[test]
fn truncation_at_every_97th_byte_never_panics_or_invents() {
    for (name, text) in all_fixtures() {
        let bytes = text.as_bytes();
        let full = parse_latest_deadlock(&text);
        // Once the whole section (through the roll back line) is in, the result is final.
        let complete_from = text
            .find("*** WE ROLL BACK TRANSACTION")
            .and_then(|at| text[at..].find('\n').map(|nl| at + nl + 1));
        for n in (0..=bytes.len()).step_by(97).chain([bytes.len()]) {
            let cut = String::from_utf8_lossy(&bytes[..n]);
            let got = parse_latest_deadlock(&cut);
            let _ = history_list_length(&cut);
            let context = format!("{name} cut at {n}");
            match (&got, &full) {
                (Some(g), Some(f)) => {
                    assert_prefix_of(g, f, &context);
                    if complete_from.is_some_and(|end| n >= end) {
                        assert_eq!(g, f, "{context}");
                    }
                }
                (Some(_), None) => panic!("{context}: a deadlock out of nothing"),
                (None, _) => {}
            }
        }
    }
}

/// A small deterministic generator, so the garbage is the same on every run.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
}

#[test]
fn garbage_never_panics() {
    let crafted = [
        "",
        "\n",
        "\r\n\r\n",
        "LATEST DETECTED DEADLOCK",
        "LATEST DETECTED DEADLOCK\n",
        "------------------------\nLATEST DETECTED DEADLOCK\n------------------------\n",
        "LATEST DETECTED DEADLOCK\n*** (1) TRANSACTION:",
        "LATEST DETECTED DEADLOCK\n*** (4294967296) TRANSACTION:\n*** (0) TRANSACTION:\n",
        "LATEST DETECTED DEADLOCK\n*** (1) TRANSACTION:\nTRANSACTION 99999999999999999999999, ACTIVE 99999999999999999999 sec\n",
        "LATEST DETECTED DEADLOCK\n*** (1) TRANSACTION:\nMySQL thread id , OS thread handle , query id \n",
        "LATEST DETECTED DEADLOCK\n*** (1) TRANSACTION:\nMariaDB thread id 1, query id 12é localhost\n",
        "LATEST DETECTED DEADLOCK\n2026-11-22 02:10:1é\n*** WE ROLL BACK TRANSACTION (\n",
        "LATEST DETECTED DEADLOCK\n*** WE ROLL BACK TRANSACTION (1)\n*** (1) TRANSACTION:\n",
        "LATEST DETECTED DEADLOCK\n*** (1) HOLDS THE LOCK(S):\nRECORD LOCKS  of table  trx id \n",
        "LATEST DETECTED DEADLOCK\n*** CONFLICTING WITH:\nTABLE LOCK table `a trx id 1 lock mode X\n",
        "LATEST DETECTED DEADLOCK\n*** (1) TRANSACTION:\n*** WAITING FOR THIS LOCK TO BE GRANTED:\nTABLE LOCK table ` trx id 18446744073709551616 lock mode waiting\n*** WE ROLL BACK TRANSACTION (2)\n",
        "LATEST DETECTED DEADLOCK\n*** (1) TRANSACTION:\nLOCK WAIT 18446744073709551615 lock struct(s), undo log entries 18446744073709551615\n*** (2) TRANSACTION:\n*** WE ROLL BACK TRANSACTION (3)\n",
        "***\n*** \n*** (\n*** ()\n*** (1\n*** (1)\nLATEST DETECTED DEADLOCK\n***\n*** (\n*** (x)\n*** (1)",
        "---TRANSACTION \n---TRANSACTION 1\n---TRANSACTION 1, ACTIVE\n",
        "💥\n🦀 LATEST DETECTED DEADLOCK 🦀\nLATEST DETECTED DEADLOCK\n💥💥💥\n*** (1) TRANSACTION:\n💥",
    ];
    for text in crafted {
        let _ = parse_latest_deadlock(text);
        let _ = history_list_length(text);
    }

    let mut rng = Lcg(0x5eed);
    // Random bytes, and random bytes salted with the words the parser looks for.
    let words = [
        "LATEST DETECTED DEADLOCK\n",
        "------------\n",
        "TRANSACTIONS\n",
        "*** (1) TRANSACTION:\n",
        "*** (2) HOLDS THE LOCK(S):\n",
        "*** WAITING FOR THIS LOCK TO BE GRANTED:\n",
        "*** CONFLICTING WITH:\n",
        "*** WE ROLL BACK TRANSACTION (1)\n",
        "TRANSACTION 5, ACTIVE 1 sec\n",
        "MySQL thread id 3, OS thread handle 4, query id 5 h u s\n",
        "RECORD LOCKS space id 1 page no 2 n bits 3 index i of table `d`.`t` trx id 5 lock_mode X\n",
        "---TRANSACTION 5, ACTIVE 1 sec\n",
        "History list length 3\n",
        "\r\n",
    ];
    for _ in 0..2000 {
        let len = (rng.next() % 400) as usize;
        let bytes: Vec<u8> = (0..len).map(|_| (rng.next() % 256) as u8).collect();
        let mut text = String::from_utf8_lossy(&bytes).into_owned();
        for _ in 0..(rng.next() % 12) {
            let word = words[(rng.next() as usize) % words.len()];
            let mut at = (rng.next() as usize) % (text.len() + 1);
            while !text.is_char_boundary(at) {
                at -= 1;
            }
            text.insert_str(at, word);
        }
        let _ = parse_latest_deadlock(&text);
        let _ = history_list_length(&text);
    }

    // Real lines in a random order.
    for (_, text) in all_fixtures() {
        let mut lines: Vec<&str> = text.lines().collect();
        for _ in 0..20 {
            for i in (1..lines.len()).rev() {
                lines.swap(i, (rng.next() as usize) % (i + 1));
            }
            let shuffled = lines.join("\n");
            let _ = parse_latest_deadlock(&shuffled);
            let _ = history_list_length(&shuffled);
        }
    }
}

#[test]
fn mariadb_prints_each_read_view_beside_its_session() {
    let status = fixture("mariadb-10.11-read-views.txt");
    let sessions = session_transactions(&status);
    let by_thread = |id: u64| sessions.iter().find(|s| s.thread_id == id).cloned();
    // The READ COMMITTED writer: a transaction id and undo, but no read view.
    let writer = by_thread(76).expect("the RC writer");
    assert_eq!(writer.trx_id, Some(97));
    assert_eq!(writer.undo_entries, 1);
    assert_eq!(writer.read_view_low_limit, None);
    assert_eq!(writer.active_s, Some(2));
    // The consistent snapshot and the autocommit SELECT: read-only, printed by address, each
    // with a view.
    for reader in [77, 78] {
        let reader = by_thread(reader).expect("a reader");
        assert_eq!(reader.trx_id, None);
        assert_eq!(reader.read_view_low_limit, Some(97));
        assert_eq!(reader.undo_entries, 0);
    }
    assert_eq!(sessions.len(), 3);
    assert_eq!(purge_done_below(&status), Some(93));
}

#[test]
fn mysql_prints_no_read_views() {
    let status = fixture("mysql-9.7-read-views.txt");
    let sessions = session_transactions(&status);
    assert_eq!(
        sessions.len(),
        1,
        "only the writer has a thread line: {sessions:?}"
    );
    assert_eq!(sessions[0].thread_id, 67);
    assert_eq!(sessions[0].read_view_low_limit, None);
    assert_eq!(purge_done_below(&status), Some(1706));
}
