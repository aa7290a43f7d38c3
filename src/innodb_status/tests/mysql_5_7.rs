//! The MySQL 5.7 layout, written by hand from the manual and the 5.7 source.

use super::*;

// ---------------------------------------------------------------------------------------------
// MySQL 5.7 layout, written by hand from the manual and the 5.7 source

#[test]
fn mysql_5_7_shared_then_delete() {
    let d = deadlock(&fixture("mysql-5.7-shared-then-delete.txt"));
    assert_eq!(d.format, DeadlockFormat::MySql57);
    assert_eq!(d.detected_at.as_deref(), Some("2024-03-05 14:20:51"));
    let gen_clust =
        |mode: &str, waiting| lock("RECORD", "test.t", Some("GEN_CLUST_INDEX"), mode, waiting);
    check(
        &d.transactions[0],
        Want {
            number: 1,
            trx_id: 2417,
            thread_id: 8,
            query_id: 112,
            user: "root",
            host: "localhost",
            query: "DELETE FROM t WHERE i = 1",
            // 5.7 never prints what (1) holds.
            holds: vec![],
            waits_for: vec![gen_clust("X", true)],
        },
    );
    check(
        &d.transactions[1],
        Want {
            number: 2,
            trx_id: 2416,
            thread_id: 7,
            query_id: 113,
            user: "root",
            host: "localhost",
            query: "DELETE FROM t WHERE i = 1",
            // Printed "lock mode S" (space), unlike "lock_mode X".
            holds: vec![gen_clust("S", false)],
            waits_for: vec![gen_clust("X", true)],
        },
    );
    assert_eq!((d.victim, d.victim_reported), (Some(1), Some(1)));
}

#[test]
fn mysql_5_7_secondary_index_remote_clients() {
    let d = deadlock(&fixture("mysql-5.7-secondary-index.txt"));
    assert_eq!(d.format, DeadlockFormat::MySql57);
    let orders = "shop.orders /* Partition p2024 */";
    check(
        &d.transactions[0],
        Want {
            number: 1,
            trx_id: 88123457,
            thread_id: 40211,
            query_id: 99120452,
            user: "shop",
            // "app01.example.com 10.0.3.17 shop ...": the name is kept, the IP skipped.
            host: "app01.example.com",
            query: "UPDATE orders\n   SET status = 'cancelled'\n WHERE customer_id IN (41, 42)\n   AND status = 'new'",
            holds: vec![],
            waits_for: vec![lock("RECORD", orders, Some("idx_customer"), "X", true)],
        },
    );
    check(
        &d.transactions[1],
        Want {
            number: 2,
            trx_id: 88123460,
            thread_id: 40219,
            query_id: 99120460,
            user: "shop",
            host: "10.0.3.18",
            query: "UPDATE orders SET status = 'shipped' WHERE customer_id = 42 AND id = 1111",
            holds: vec![lock("RECORD", orders, Some("idx_customer"), "X", false)],
            waits_for: vec![lock(
                "RECORD",
                orders,
                Some("PRIMARY"),
                "X locks rec but not gap",
                true,
            )],
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
        (Some(4), Some(5), Some(4), Some(3))
    );
    assert_eq!((d.victim, d.victim_reported), (Some(2), Some(2)));
}

#[test]
fn mysql_5_7_too_deep_search() {
    let d = deadlock(&fixture("mysql-5.7-too-deep.txt"));
    assert_eq!(d.format, DeadlockFormat::MySql57);
    // The prose is glued to the timestamp line; the time is still read.
    assert_eq!(d.detected_at.as_deref(), Some("2024-07-02 22:05:31"));
    check(
        &d.transactions[0],
        Want {
            number: 1,
            trx_id: 3120577,
            thread_id: 77,
            query_id: 20443,
            user: "batch",
            host: "10.0.3.21",
            query: "INSERT INTO queue (topic, payload) VALUES ('mail', 'welcome-42')",
            holds: vec![],
            waits_for: vec![LockInfo {
                lock_type: "TABLE".to_string(),
                table: Some("jobs.queue".to_string()),
                index: None,
                mode: "AUTO-INC".to_string(),
                waiting: true,
            }],
        },
    );
    // 5.7 prints "(2)" although only one, unnumbered, transaction is shown; the prose names it.
    assert_eq!((d.victim, d.victim_reported), (Some(1), Some(2)));
}
