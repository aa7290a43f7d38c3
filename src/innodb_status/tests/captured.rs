//! The parser on status texts captured live from MySQL 9.7 and MariaDB 10.11.

use super::*;

// ---------------------------------------------------------------------------------------------
// MySQL 9.7, captured live

#[test]
fn mysql_9_7_two_trx() {
    let d = deadlock(&fixture("mysql-9.7-two-trx.txt"));
    assert_eq!(d.format, DeadlockFormat::MySql8);
    assert_eq!(d.detected_at.as_deref(), Some("2026-11-22 02:11:39"));
    assert_eq!(d.transactions.len(), 2);
    let [(q1, h1, w1), (q2, h2, w2)] = pk_pair(
        "UPDATE t SET v=v+1 WHERE id=2",
        "UPDATE t SET v=v+1 WHERE id=1",
    );
    check(
        &d.transactions[0],
        Want {
            number: 1,
            trx_id: 274465,
            thread_id: 12523,
            query_id: 195640,
            user: "root",
            host: "localhost",
            query: &q1,
            holds: h1,
            waits_for: w1,
        },
    );
    check(
        &d.transactions[1],
        Want {
            number: 2,
            trx_id: 276724,
            thread_id: 12522,
            query_id: 197805,
            user: "root",
            host: "localhost",
            query: &q2,
            holds: h2,
            waits_for: w2,
        },
    );
    let t1 = &d.transactions[0];
    assert_eq!(
        (
            t1.active_secs,
            t1.lock_structs,
            t1.row_locks,
            t1.undo_entries
        ),
        (Some(2), Some(3), Some(2), Some(1))
    );
    assert_eq!((d.victim, d.victim_reported), (Some(2), Some(2)));
}

#[test]
fn mysql_9_7_multiline_and_long_statements() {
    let d = deadlock(&fixture("mysql-9.7-multiline-long.txt"));
    assert_eq!(d.format, DeadlockFormat::MySql8);
    let t1 = &d.transactions[0];
    let t2 = &d.transactions[1];
    let [(_, h1, w1), _] = pk_pair("", "");
    check(
        t1,
        Want {
            number: 1,
            trx_id: 189383,
            thread_id: 8347,
            query_id: 131756,
            user: "root",
            host: "localhost",
            // The statement keeps its line breaks and its comment.
            query: "UPDATE t\n   SET v = v + 1 /* bump\n   the counter */\n WHERE id = 20",
            holds: h1,
            waits_for: w1,
        },
    );
    assert_eq!(
        (t2.trx_id, t2.thread_id, t2.query_id),
        (Some(189384), Some(8346), Some(131757))
    );
    // The 4,050-byte statement was cut by MySQL at exactly 3,000 bytes, with no marker.
    assert_eq!(t2.query.as_deref(), Some(&long_statement()[..3000]));
    assert_eq!(
        t2.holds,
        vec![t_lock("PRIMARY", "X locks rec but not gap", false)]
    );
    assert_eq!(
        t2.waits_for,
        vec![t_lock("PRIMARY", "X locks rec but not gap", true)]
    );
    assert_eq!((d.victim, d.victim_reported), (Some(2), Some(2)));
}

#[test]
fn mysql_9_7_secondary_index() {
    let d = deadlock(&fixture("mysql-9.7-secondary-index.txt"));
    assert_eq!(d.format, DeadlockFormat::MySql8);
    for (trx, (number, trx_id, thread_id, query_id, query)) in d.transactions.iter().zip([
        (1, 189680, 8847, 134822, "UPDATE t SET v=v+1 WHERE k=20"),
        (2, 189803, 8846, 136838, "UPDATE t SET v=v+1 WHERE k=10"),
    ]) {
        check(
            trx,
            Want {
                number,
                trx_id,
                thread_id,
                query_id,
                user: "root",
                host: "localhost",
                query,
                // Next-key locks on the secondary index: printed as a bare "X".
                holds: vec![t_lock("k_idx", "X", false)],
                waits_for: vec![t_lock("k_idx", "X", true)],
            },
        );
        assert_eq!((trx.lock_structs, trx.row_locks), (Some(5), Some(4)));
    }
    assert_eq!((d.victim, d.victim_reported), (Some(2), Some(2)));
}

#[test]
fn mysql_9_7_insert_intention() {
    let d = deadlock(&fixture("mysql-9.7-insert-intention.txt"));
    assert_eq!(d.format, DeadlockFormat::MySql8);
    for (trx, (number, trx_id, thread_id, query_id, query)) in d.transactions.iter().zip([
        (1, 217719, 10030, 156305, "INSERT INTO t VALUES (5,0,50)"),
        (2, 220254, 10029, 158270, "INSERT INTO t VALUES (6,0,60)"),
    ]) {
        check(
            trx,
            Want {
                number,
                trx_id,
                thread_id,
                query_id,
                user: "root",
                host: "localhost",
                query,
                holds: vec![t_lock("PRIMARY", "X locks gap before rec", false)],
                waits_for: vec![t_lock(
                    "PRIMARY",
                    "X locks gap before rec insert intention",
                    true,
                )],
            },
        );
        // Nothing written yet: no "undo log entries" at all.
        assert_eq!(trx.undo_entries, None);
    }
    assert_eq!((d.victim, d.victim_reported), (Some(2), Some(2)));
}

#[test]
fn mysql_9_7_three_trx() {
    let d = deadlock(&fixture("mysql-9.7-three-trx.txt"));
    assert_eq!(d.format, DeadlockFormat::MySql8);
    assert_eq!(d.transactions.len(), 3);
    for (trx, (number, trx_id, thread_id, query_id, query)) in d.transactions.iter().zip([
        (1, 285125, 13171, 203532, "UPDATE t SET v=v+1 WHERE id=3"),
        (2, 285806, 13170, 205450, "UPDATE t SET v=v+1 WHERE id=1"),
        (3, 284714, 13172, 202576, "UPDATE t SET v=v+1 WHERE id=2"),
    ]) {
        check(
            trx,
            Want {
                number,
                trx_id,
                thread_id,
                query_id,
                user: "root",
                host: "localhost",
                query,
                holds: vec![t_lock("PRIMARY", "X locks rec but not gap", false)],
                waits_for: vec![t_lock("PRIMARY", "X locks rec but not gap", true)],
            },
        );
    }
    assert_eq!((d.victim, d.victim_reported), (Some(2), Some(2)));
}

#[test]
fn mysql_9_7_no_deadlock() {
    let text = fixture("mysql-9.7-no-deadlock.txt");
    assert_eq!(parse_latest_deadlock(&text), None);
    assert_eq!(history_list_length(&text), Some(55));
}

// ---------------------------------------------------------------------------------------------
// MariaDB 10.11, captured live

#[test]
fn mariadb_10_11_two_trx() {
    let d = deadlock(&fixture("mariadb-10.11-two-trx.txt"));
    assert_eq!(d.format, DeadlockFormat::MariaDb);
    assert_eq!(d.detected_at.as_deref(), Some("2026-11-22 02:11:27"));
    // MariaDB prints no HOLDS block: each "held" lock is one listed under the *other*
    // transaction's CONFLICTING WITH, credited back by its trx id.
    let [(q1, h1, w1), (q2, h2, w2)] = pk_pair(
        "UPDATE t SET v=v+1 WHERE id=1",
        "UPDATE t SET v=v+1 WHERE id=2",
    );
    check(
        &d.transactions[0],
        Want {
            number: 1,
            trx_id: 249127,
            thread_id: 11397,
            query_id: 189266,
            user: "root",
            host: "localhost",
            query: &q1,
            holds: h1,
            waits_for: w1,
        },
    );
    check(
        &d.transactions[1],
        Want {
            number: 2,
            trx_id: 247502,
            thread_id: 11398,
            query_id: 185730,
            user: "root",
            host: "localhost",
            query: &q2,
            holds: h2,
            waits_for: w2,
        },
    );
    assert_eq!((d.victim, d.victim_reported), (Some(1), Some(1)));
}

#[test]
fn mariadb_10_11_two_trx_after_commit() {
    let d = deadlock(&fixture("mariadb-10.11-two-trx-after-commit.txt"));
    assert_eq!(d.format, DeadlockFormat::MariaDb);
    assert_eq!(d.detected_at.as_deref(), Some("2026-11-22 02:08:01"));
    let [(q1, h1, w1), (q2, h2, w2)] = pk_pair(
        "UPDATE t SET v=v+1 WHERE id=1",
        "UPDATE t SET v=v+1 WHERE id=2",
    );
    check(
        &d.transactions[0],
        Want {
            number: 1,
            trx_id: 18646,
            thread_id: 910,
            query_id: 18158,
            user: "root",
            host: "localhost",
            query: &q1,
            holds: h1,
            waits_for: w1,
        },
    );
    check(
        &d.transactions[1],
        Want {
            number: 2,
            trx_id: 18645,
            thread_id: 909,
            query_id: 18157,
            user: "root",
            host: "localhost",
            query: &q2,
            holds: h2,
            waits_for: w2,
        },
    );
    // Session 910 is the one that got ERROR 1213. Nothing is left in the TRANSACTIONS list, so
    // this rests on the printed number agreeing with the replay of MariaDB's choice.
    assert_eq!((d.victim, d.victim_reported), (Some(1), Some(1)));
}

#[test]
fn mariadb_10_11_multiline_and_long_statements() {
    let d = deadlock(&fixture("mariadb-10.11-multiline-long.txt"));
    assert_eq!(d.format, DeadlockFormat::MariaDb);
    let t1 = &d.transactions[0];
    let t2 = &d.transactions[1];
    assert_eq!(
        (t1.trx_id, t1.thread_id, t1.query_id),
        (Some(185553), Some(8352), Some(136455))
    );
    // MariaDB cut the 4,050-byte statement shorter than MySQL does, also silently.
    assert_eq!(t1.query.as_deref(), Some(&long_statement()[..2963]));
    assert_eq!(
        t1.holds,
        vec![t_lock("PRIMARY", "X locks rec but not gap", false)]
    );
    assert_eq!(
        t1.waits_for,
        vec![t_lock("PRIMARY", "X locks rec but not gap", true)]
    );
    check(
        t2,
        Want {
            number: 2,
            trx_id: 185552,
            thread_id: 8351,
            query_id: 136454,
            user: "root",
            host: "localhost",
            query: "UPDATE t\n   SET v = v + 1 /* bump\n   the counter */\n WHERE id = 20",
            holds: vec![t_lock("PRIMARY", "X locks rec but not gap", false)],
            waits_for: vec![t_lock("PRIMARY", "X locks rec but not gap", true)],
        },
    );
    assert_eq!((d.victim, d.victim_reported), (Some(1), Some(1)));
}

#[test]
fn mariadb_10_11_secondary_index() {
    let d = deadlock(&fixture("mariadb-10.11-secondary-index.txt"));
    assert_eq!(d.format, DeadlockFormat::MariaDb);
    check(
        &d.transactions[0],
        Want {
            number: 1,
            trx_id: 185567,
            thread_id: 8355,
            query_id: 136473,
            user: "root",
            host: "localhost",
            query: "UPDATE t SET v=v+1 WHERE k=10",
            holds: vec![t_lock("k_idx", "X", false)],
            waits_for: vec![t_lock("k_idx", "X", true)],
        },
    );
    check(
        &d.transactions[1],
        Want {
            number: 2,
            trx_id: 185566,
            thread_id: 8356,
            query_id: 136472,
            user: "root",
            host: "localhost",
            query: "UPDATE t SET v=v+1 WHERE k=20",
            // The second lock is (2)'s own gap lock, listed in its own CONFLICTING WITH.
            holds: vec![
                t_lock("k_idx", "X", false),
                t_lock("k_idx", "X locks gap before rec", false),
            ],
            waits_for: vec![t_lock("k_idx", "X", true)],
        },
    );
    assert_eq!((d.victim, d.victim_reported), (Some(1), Some(1)));
}

#[test]
fn mariadb_10_11_insert_intention() {
    let d = deadlock(&fixture("mariadb-10.11-insert-intention.txt"));
    assert_eq!(d.format, DeadlockFormat::MariaDb);
    for (trx, (number, trx_id, thread_id, query_id, query)) in d.transactions.iter().zip([
        (1, 198006, 8916, 148986, "INSERT INTO t VALUES (6,0,60)"),
        (2, 197940, 8917, 145487, "INSERT INTO t VALUES (5,0,50)"),
    ]) {
        check(
            trx,
            Want {
                number,
                trx_id,
                thread_id,
                query_id,
                user: "root",
                host: "localhost",
                query,
                // Both gap locks are printed under both CONFLICTING WITH blocks; each is one
                // lock, credited once.
                holds: vec![t_lock("PRIMARY", "X locks gap before rec", false)],
                waits_for: vec![t_lock(
                    "PRIMARY",
                    "X locks gap before rec insert intention",
                    true,
                )],
            },
        );
    }
    assert_eq!((d.victim, d.victim_reported), (Some(1), Some(1)));
}

#[test]
fn mariadb_10_11_three_trx() {
    let d = deadlock(&fixture("mariadb-10.11-three-trx.txt"));
    assert_eq!(d.format, DeadlockFormat::MariaDb);
    assert_eq!(d.transactions.len(), 3);
    for (trx, (number, trx_id, thread_id, query_id, query)) in d.transactions.iter().zip([
        (1, 259774, 11726, 189285, "UPDATE t SET v=v+1 WHERE id=2"),
        (2, 259775, 11724, 189286, "UPDATE t SET v=v+1 WHERE id=3"),
        (3, 259776, 11725, 189287, "UPDATE t SET v=v+1 WHERE id=1"),
    ]) {
        check(
            trx,
            Want {
                number,
                trx_id,
                thread_id,
                query_id,
                user: "root",
                host: "localhost",
                query,
                holds: vec![t_lock("PRIMARY", "X locks rec but not gap", false)],
                waits_for: vec![t_lock("PRIMARY", "X locks rec but not gap", true)],
            },
        );
    }
    // (3) ran the check (it closed the cycle), all weigh the same, so MariaDB took (3); the
    // other two are still listed as running.
    assert_eq!((d.victim, d.victim_reported), (Some(3), Some(3)));
}

#[test]
fn mariadb_10_11_no_deadlock() {
    let text = fixture("mariadb-10.11-no-deadlock.txt");
    assert_eq!(parse_latest_deadlock(&text), None);
    assert_eq!(history_list_length(&text), Some(3033));
}
