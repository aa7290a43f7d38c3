//! Victim validation: the printed victim checked against the transactions that survived.

use super::*;

// ---------------------------------------------------------------------------------------------
// Victim validation

/// Replaces the one `WE ROLL BACK TRANSACTION` line.
fn with_reported(text: &str, from: u32, to: &str) -> String {
    let old = format!("*** WE ROLL BACK TRANSACTION ({from})\n");
    assert!(text.contains(&old), "fixture prints ({from})");
    text.replace(&old, &format!("*** WE ROLL BACK TRANSACTION ({to})\n"))
}

/// Drops the list of running transactions, so only the printed number and the replay remain.
fn without_running_list(text: &str) -> String {
    let at = text
        .find("LIST OF TRANSACTIONS FOR EACH SESSION:")
        .expect("a TRANSACTIONS list");
    text[..at].to_string()
}

#[test]
fn mariadb_zero_victim_is_unknown_unless_survivors_show_it() {
    // MariaDB 10.6.0 up to MDEV-29187 printed "(0)" for every deadlock.
    let text = with_reported(&fixture("mariadb-10.11-two-trx-after-commit.txt"), 1, "0");
    let d = deadlock(&text);
    assert_eq!((d.victim, d.victim_reported), (None, Some(0)));

    // Here (2) is still listed as running, so (1) must be the one rolled back.
    let text = with_reported(&fixture("mariadb-10.11-two-trx.txt"), 1, "0");
    let d = deadlock(&text);
    assert_eq!((d.victim, d.victim_reported), (Some(1), Some(0)));
}

#[test]
fn mariadb_off_by_one_number_is_corrected() {
    // Releases between MDEV-29187 and MDEV-37977 print display position k as k + 1 and the last
    // one as 1: with two transactions, the numbers come out swapped.
    let text = with_reported(&fixture("mariadb-10.11-two-trx-after-commit.txt"), 1, "2");
    let d = deadlock(&text);
    assert_eq!((d.victim, d.victim_reported), (Some(1), Some(2)));

    let three = without_running_list(&fixture("mariadb-10.11-three-trx.txt"));
    assert_eq!(
        deadlock(&three).victim,
        Some(3),
        "the correct number is kept"
    );
    // (3) printed as "(1)" by the off-by-one code...
    let d = deadlock(&with_reported(&three, 3, "1"));
    assert_eq!((d.victim, d.victim_reported), (Some(3), Some(1)));
    // ... or as "(4)" when the loop re-chose the closing transaction.
    let d = deadlock(&with_reported(&three, 3, "4"));
    assert_eq!((d.victim, d.victim_reported), (Some(3), Some(4)));
    // "(2)" fits neither reading of MariaDB's choice: not trusted.
    let d = deadlock(&with_reported(&three, 3, "2"));
    assert_eq!((d.victim, d.victim_reported), (None, Some(2)));
}

#[test]
fn mariadb_number_must_agree_with_the_lightest_transaction() {
    // Make (1) the lightest (2 lock structs instead of 3): MariaDB would have rolled it back.
    let three = without_running_list(&fixture("mariadb-10.11-three-trx.txt"));
    let lighter = three.replacen(
        "LOCK WAIT 3 lock struct(s)",
        "LOCK WAIT 2 lock struct(s)",
        1,
    );
    assert_eq!(deadlock(&with_reported(&lighter, 3, "1")).victim, Some(1));
    assert_eq!(deadlock(&with_reported(&lighter, 3, "2")).victim, Some(1));
    assert_eq!(
        deadlock(&lighter).victim,
        None,
        "(3) contradicts the weights"
    );
}

#[test]
fn mysql_number_contradicted_by_a_running_transaction() {
    // (1) is still listed as running, so "(1)" cannot be right; (2) is the only one gone.
    let text = with_reported(&fixture("mysql-9.7-two-trx.txt"), 2, "1");
    let d = deadlock(&text);
    assert_eq!((d.victim, d.victim_reported), (Some(2), Some(1)));

    // Without the list, an out-of-range number names nobody.
    let text = with_reported(
        &without_running_list(&fixture("mysql-9.7-two-trx.txt")),
        2,
        "5",
    );
    let d = deadlock(&text);
    assert_eq!((d.victim, d.victim_reported), (None, Some(5)));
    // ... and an in-range one is MySQL's reliable numbering.
    let text = without_running_list(&fixture("mysql-9.7-two-trx.txt"));
    assert_eq!(deadlock(&text).victim, Some(2));
}

#[test]
fn victim_needs_the_roll_back_line() {
    let text = fixture("mysql-9.7-two-trx.txt");
    let at = text.find("*** WE ROLL BACK").expect("roll back line");
    let d = deadlock(&text[..at]);
    assert_eq!(d.transactions.len(), 2);
    assert_eq!((d.victim, d.victim_reported), (None, None));
}

#[test]
fn checker_position_follows_brents_algorithm() {
    // Matches the captures: the session that closed the cycle is (1) of two and (3) of three.
    assert_eq!(checker_position(2), Some(1));
    assert_eq!(checker_position(3), Some(3));
    for n in 1..200 {
        let p = checker_position(n).expect("terminates");
        assert!((1..=n).contains(&(p as usize)), "n={n} p={p}");
    }
    assert_eq!(checker_position(0), None);
}
